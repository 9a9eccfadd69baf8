"""One benchmark cell as a user names it (`Cell`), each default written once, and the
validated `RunConfig` it stands for (`Cell.config`).

`bench run`, `bench fits` / `anonymize` / `export` (the cell that trained an fA*), `bench
perf`, the Python API (`bench.config`, `bench.run`, `bench.load_anonymizer`) and sweep files
all describe their cells this way, and their defaults read the fields below (`Cell.preset`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from bench.contract.config import EvalModels, RunConfig, resolve_preset
from bench.contract.dataset import DATASETS
from bench.contract.errors import BenchError
from bench.contract.method import METHODS, params_text
from bench.contract.plugins import plugin_digest
from bench.contract.protocol import PROTOCOLS
from bench.models.action import action_checkpoint, check_action_arch
from bench.models.anonymizer import check_encoder
from bench.models.privacy import privacy_checkpoint

SEEDS = 2**32  # a seed is in [0, SEEDS)


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One cell: method and parameters, protocol, dataset, preset with its `--set` overrides,
    seed, `--data-root` folders and the fresh evaluation models fT' / fB'.

    The field defaults are every entry point's defaults (read as `Cell.preset`, or by name in
    `CELL_DEFAULTS`); an unset method parameter is the method's declared default. The values
    are checked by `config`, which every run, sweep and fit lookup goes through.
    """

    method: str = "penalty"
    params: Mapping[str, Any] = field(default_factory=dict)  # the method's --NAME VALUE
    protocol: str = "known"
    dataset: str = "synthetic"
    preset: str = "tiny"
    overrides: Mapping[str, str] = field(default_factory=dict)  # --set KEY=VALUE, as text
    seed: int = 0
    data_roots: Mapping[str, str] = field(default_factory=dict)  # --data-root NAME=DIR
    ft_arch: str | None = None  # None: the preset's aux_ft_arch
    fb_arch: str | None = None  # None: the preset's aux_fb_arch
    ft_init: str = EvalModels.ft_init
    fb_init: str = EvalModels.fb_init

    @property
    def evaluation(self) -> dict[str, str | None]:
        """ft_arch / fb_arch / ft_init / fb_init of the fresh fT' and fB', as given."""
        return {
            "ft_arch": self.ft_arch,
            "fb_arch": self.fb_arch,
            "ft_init": self.ft_init,
            "fb_init": self.fb_init,
        }

    def config(self) -> RunConfig:
        """The validated RunConfig: names checked, parameters resolved to their full set of
        values, the preset with its overrides, the data roots and the evaluation models'
        checkpoints known (a BenchError names the problem)."""
        if not 0 <= self.seed < SEEDS:
            raise BenchError(f"--seed {self.seed}: must be between 0 and {SEEDS - 1}")
        cls = METHODS.get(self.method)
        values = cls.cell_params(dict(self.params), self.dataset)
        roots = resolve_roots(self.data_roots)
        protocol_cls = PROTOCOLS.get(self.protocol)
        parts = (cls, protocol_cls, DATASETS.get(self.dataset))
        # checks that the dataset gets the roots it reads, and no others, and has the settings
        parts[2](roots).check_roles(protocol_cls.roles, self.protocol)
        resolved = resolve_preset(self.preset, self.overrides)
        cls.check_preset(values, resolved)
        parts[2].check_preset(resolved)
        if cls.trainable:
            check_encoder(resolved.anon_encoder)
        models = EvalModels.resolve(resolved, **self.evaluation)
        check_action_arch(models.ft_arch)  # its package is installed
        if cls.trainable:
            check_action_arch(resolved.aux_ft_arch)
        action_checkpoint(models.ft_arch, models.ft_init)  # the pair has a published checkpoint
        privacy_checkpoint(models.fb_arch, models.fb_init)
        return RunConfig(
            method=self.method,
            protocol=self.protocol,
            dataset=self.dataset,
            preset=resolved,
            params=tuple(sorted(values.items())),
            seed=self.seed,
            trains_anonymizer=cls.trainable,
            reads_attack_settings=protocol_cls.reads_attack_settings,
            plugin_source=plugin_digest(parts),
            data_roots=tuple(sorted((k, str(v)) for k, v in roots.items())),
            evaluation=models,
            data_version=parts[2].version,
            data_identity=tuple(
                (role, tuple(sorted(sets.items())))
                for role, sets in sorted(parts[2](roots).identity(protocol_cls.roles).items())
            ),
        )

    def label(self) -> str:
        """A short human-readable name: 'penalty B=0.3 known synthetic tiny seed=0', with the
        `--set` overrides after the preset as tables show them: 'tiny[precision=fp32]'."""
        models = " ".join(f"{k}={v}" for k, v in self.evaluation.items() if v != CELL_DEFAULTS[k])
        overrides = " ".join(f"{k}={v}" for k, v in sorted(self.overrides.items()))
        parts = [
            self.method,
            params_text(self.params),
            self.protocol,
            self.dataset,
            f"{self.preset}[{overrides}]" if overrides else self.preset,
            f"seed={self.seed}",
        ]
        return " ".join(p for p in [*parts, models] if p)


# every field's default by name (where `Cell.preset` style reads are not at hand)
CELL_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in fields(Cell) if f.default is not MISSING
}


def resolve_roots(raw: Mapping[str, str]) -> dict[str, Path]:
    """`--data-root NAME=DIR` values as absolute folders; a missing folder is a user error."""
    roots = {}
    for name, folder in raw.items():
        path = Path(folder).expanduser().resolve()
        if not path.is_dir():
            raise BenchError(f"--data-root {name}={folder}: no such folder")
        roots[name] = path
    return roots
