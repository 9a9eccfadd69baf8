"""Run configuration: scale presets and the frozen, validated config of one benchmark cell."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from bench.contract.architectures import ACTION_ARCHS, ACTION_INITS, PRIVACY_ARCHS, PRIVACY_INITS
from bench.contract.errors import BenchError, did_you_mean

CODE_VERSION = "0.1.0"  # `bench.__version__`; not part of any key (see RESULTS_SCHEMA)
# The meaning of a record: bumped only when what a stored record or fit stands for changes
# (never for a release), so a new package version reuses every record and fit.
RESULTS_SCHEMA = 1
# Metrics that are not fractions, with their ranges; every other metric of a record is a
# fraction in [0, 1] (`bench.store.results.metric_problem`). PSNR in dB, capped where the
# images are equal (`bench.training.inversion.PSNR_CAP`).
METRIC_RANGES: dict[str, tuple[float, float]] = {
    "reconstruction_psnr": (0.0, 100.0),
    "anonymized_psnr": (0.0, 100.0),
}
# Records and fits made before RESULTS_SCHEMA hashed the package version, then "0.1.0", and
# the --data-root paths; their keys are recomputed from their stored configs (`legacy_digest`)
# and served under the new key, never recomputed.
LEGACY_VERSION = "0.1.0"
# Config fields kept in a record as provenance, left out of its key: where the data was
# mounted says nothing about what it is (`data_identity` does).
PROVENANCE_FIELDS = ("data_roots",)
ANON_OUTPUTS = ("sigmoid", "none")  # fA's output activation (`anon_output`)
# The arithmetic of every training and evaluation loop (`precision`): bf16 autocast on any
# device, none (fp32), or `auto`: bf16 on CUDA and fp32 elsewhere (every record made before
# the setting existed).
PRECISIONS = ("bf16", "fp32", "auto")


# Which part of a cell's keys a preset setting belongs to: read by fA's training and the
# evaluation alike ("shared"), only by a learned method's anonymizer training ("anonymizer":
# left out of a fixed method's key, so `--set anon_epochs=24` does not recompute raw or blur
# records), or only by the fresh evaluation models fT' / fB' ("evaluation": left out of a
# learned fA*'s key, so every protocol and evaluation setting reuses one fitted anonymizer).
SettingPart = Literal["shared", "anonymizer", "evaluation", "attack"]


@dataclass(frozen=True)
class PresetSetting:
    """One preset setting, declared once on its `Preset` field (as a method parameter is
    with `Param`): the part of the key it belongs to and, for a number, its valid range.

    The bounds catch typos (1e30), not taste; a number must also be finite, and a `positive`
    one (a learning rate, the temperature) > 0.
    """

    part: SettingPart = "shared"
    low: float | None = None
    high: float | None = None
    positive: bool = False

    def parse(self, key: str, raw: str, current: Any) -> Any:
        """A `--set KEY=VALUE` text as a value of the type of the preset's `current` value."""
        try:
            if isinstance(current, bool):
                return parse_bool(raw)
            if isinstance(current, int):
                return int(raw)
            if isinstance(current, float):
                return float(raw)
            if isinstance(current, tuple):
                return tuple(int(v) for v in raw.split(","))
        except ValueError:
            kind = {bool: BOOL_TEXT, tuple: "comma-separated integers"}.get(
                type(current), type(current).__name__
            )
            raise BenchError(f"--set {key}={raw}: expected {kind}") from None
        return raw

    def check(self, key: str, value: Any) -> None:
        """A BenchError when a numeric setting's value is not finite or out of its range."""
        if self.low is None or self.high is None:
            return
        if not math.isfinite(value):
            raise BenchError(f"--set {key}={value}: must be a finite number")
        if self.positive and value <= 0:
            raise BenchError(f"--set {key}={value}: must be > 0 (and <= {self.high:g})")
        if not self.low <= value <= self.high:
            raise BenchError(f"--set {key}={value}: must be between {self.low:g} and {self.high:g}")


def setting(
    part: SettingPart = "shared",
    low: float | None = None,
    high: float | None = None,
    *,
    positive: bool = False,
) -> Any:
    """A `Preset` field declared with its `PresetSetting` (read back by `PRESET_SETTINGS`)."""
    return field(metadata={"setting": PresetSetting(part, low, high, positive)})


@dataclass(frozen=True)
class Preset:
    """Sizes, schedules and architectures shared by every method and protocol at one scale.

    Each setting is declared once, on its field (`setting`): the part of the key it belongs
    to and its valid range; `PRESET_SETTINGS` reads the declarations back.
    """

    name: str
    # clips
    frame_size: int = setting("shared", 8, 1024)
    frames: int = setting("shared", 1, 512)
    skip: int = setting("shared", 1, 64)
    eval_clips: int = setting("evaluation", 1, 100)
    ssl_frame_gap: int = setting("anonymizer", 1, 511)
    # architectures of the auxiliary fT / fB that train fA in the minimax game (and, unless
    # --ft-arch / --fb-arch choose others, of the fresh evaluation models fT' / fB')
    aux_ft_arch: str = setting("shared")
    aux_fb_arch: str = setting("shared")
    # their initialisation (Algorithm 1: Kinetics-400 fT, pretrained fB); a checkpoint that is
    # not on disk falls back to scratch plus the warm-up below, noted in the record
    aux_ft_init: str = setting("anonymizer")
    aux_fb_init: str = setting("anonymizer")
    anon_encoder: str = setting("anonymizer")
    anon_depth: int = setting("anonymizer", 1, 5)
    anon_decoder: tuple[int, ...] = setting("anonymizer")
    anon_residual: bool = setting("anonymizer")
    anon_output: str = setting("anonymizer")  # sigmoid (bounded) or none (the released fA)
    # anonymizer training (Algorithm 1)
    identity_epochs: int = setting("anonymizer", 0, 10_000)
    budget_pretrain_epochs: int = setting("anonymizer", 0, 10_000)  # the budget model(s) alone
    warmup_epochs: int = setting("anonymizer", 0, 10_000)
    # the game's maximum epochs; it stops earlier once it has converged: the window of the
    # stopping rule (`bench.training.probe`; 0: run them all) and how little probe cMAP and
    # fT's loss may move over it
    anon_epochs: int = setting("anonymizer", 0, 10_000)
    anon_patience: int = setting("anonymizer", 0, 10_000)
    anon_tolerance: float = setting("anonymizer", 0, 1)
    anon_batch: int = setting("anonymizer", 1, 4096)
    anon_augment: bool = setting("anonymizer")  # random erase / crop / flip / colour jitter
    lr_anon: float = setting("anonymizer", 0, 10, positive=True)
    lr_budget: float = setting("anonymizer", 0, 10, positive=True)
    lr_utility: float = setting("anonymizer", 0, 10, positive=True)
    temperature: float = setting("anonymizer", 0, 100, positive=True)
    # evaluation: fresh fT' and fB'
    action_epochs: int = setting("evaluation", 1, 10_000)
    action_batch: int = setting("evaluation", 1, 4096)
    lr_action: float = setting("evaluation", 0, 10, positive=True)
    privacy_epochs: int = setting("evaluation", 1, 10_000)
    privacy_batch: int = setting("evaluation", 1, 4096)
    lr_privacy: float = setting("evaluation", 0, 10, positive=True)
    # fT' / fB' stop once validation has not improved for this many epochs (0: never; the
    # epochs above are the maximum); the best validation epoch is kept either way
    eval_patience: int = setting("evaluation", 0, 10_000)
    # the inversion attack's reconstruction network g (`--protocol inversion`): a small UNet of
    # `inversion_depth` levels, `inversion_width` channels at the top, trained with L1; only
    # the attack protocols read these, so only their keys hold them
    inversion_width: int = setting("attack", 1, 512)
    inversion_depth: int = setting("attack", 1, 6)
    inversion_epochs: int = setting("attack", 1, 10_000)
    inversion_batch: int = setting("attack", 1, 4096)
    lr_inversion: float = setting("attack", 0, 10, positive=True)
    weight_decay: float = setting("shared", 0, 1)
    # bf16 autocast everywhere (CPUs with AVX512-BF16 or AMX run it 1.4-2x faster than fp32),
    # fp32, or auto (bf16 on CUDA only); see PRECISIONS
    precision: str = setting("shared")


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        name="tiny",
        frame_size=32,
        frames=8,
        skip=1,
        eval_clips=3,
        ssl_frame_gap=4,
        aux_ft_arch="tiny",
        aux_fb_arch="tiny",
        aux_ft_init="scratch",  # no checkpoint exists at this size: warmed up instead
        aux_fb_init="scratch",
        anon_encoder="tu-regnetx_002",  # timm RegNetX-200MF: 3x faster than ResNet-18 at 32 px
        anon_depth=3,
        anon_decoder=(32, 16, 8),
        anon_residual=True,
        anon_output="sigmoid",
        identity_epochs=0,  # the residual fA starts as the exact identity
        budget_pretrain_epochs=5,  # SPAct: SSL pretraining; VITA: supervised pretraining
        warmup_epochs=10,  # fT from scratch to a trained model before the game (docs/runs.md, presets)
        anon_epochs=30,  # the maximum: the game stops once it has settled (below)
        anon_patience=3,
        anon_tolerance=0.02,
        anon_batch=16,
        anon_augment=False,  # the synthetic attributes are pixel patterns; see docs/runs.md, presets
        lr_anon=3e-3,
        lr_budget=1e-3,
        lr_utility=1e-3,
        temperature=0.1,
        action_epochs=30,
        action_batch=16,
        lr_action=2e-3,
        privacy_epochs=30,
        privacy_batch=32,
        lr_privacy=2e-3,
        eval_patience=0,  # 8 cut downsample-4x top-1 from 0.608 to 0.467 (docs/runs.md, presets)
        inversion_width=16,
        inversion_depth=3,
        inversion_epochs=30,
        inversion_batch=32,
        lr_inversion=5e-3,  # the permutation test of tests/test_inversion.py converges in 15 epochs
        weight_decay=1e-4,
        precision="bf16",
    ),
    "paper": Preset(
        name="paper",
        frame_size=224,
        frames=16,
        skip=4,
        eval_clips=10,
        ssl_frame_gap=4,
        aux_ft_arch="i3d_r50",  # the paper's and its code's fT (pytorchvideo: [models])
        aux_fb_arch="resnet50",
        aux_ft_init="kinetics400",
        aux_fb_init="imagenet",
        anon_encoder="resnet18",
        anon_depth=5,
        anon_decoder=(256, 128, 64, 32, 16),
        anon_residual=False,
        anon_output="none",  # the released fA: smp UnetPlusPlus(..., activation=None)
        identity_epochs=100,
        budget_pretrain_epochs=10,
        warmup_epochs=0,
        anon_epochs=100,
        anon_patience=0,
        anon_tolerance=0.01,
        anon_batch=8,
        anon_augment=True,
        lr_anon=1e-4,
        lr_budget=1e-3,
        lr_utility=1e-4,
        temperature=0.1,
        action_epochs=100,
        action_batch=16,
        lr_action=1e-4,
        privacy_epochs=100,
        privacy_batch=32,
        lr_privacy=1e-3,
        eval_patience=0,
        inversion_width=32,
        inversion_depth=5,
        inversion_epochs=50,
        inversion_batch=32,
        lr_inversion=1e-3,
        weight_decay=1e-4,
        precision="bf16",
    ),
}

# Every preset setting's declaration, in field order, and the views read elsewhere
PRESET_SETTINGS: dict[str, PresetSetting] = {
    f.name: f.metadata["setting"] for f in fields(Preset) if f.name != "name"
}
PRESET_KEYS: tuple[str, ...] = tuple(PRESET_SETTINGS)
# read only by the learned methods: left out of a fixed method's key
ANONYMIZER_TRAINING_KEYS: tuple[str, ...] = tuple(
    k for k, s in PRESET_SETTINGS.items() if s.part == "anonymizer"
)
# read only by the attack protocols (the inversion network): in their keys only
ATTACK_KEYS: tuple[str, ...] = tuple(k for k, s in PRESET_SETTINGS.items() if s.part == "attack")
# read only by the fresh fT' / fB': left out of a learned fA*'s key
EVALUATION_KEYS: tuple[str, ...] = tuple(
    k for k, s in PRESET_SETTINGS.items() if s.part == "evaluation"
)
# (lowest, highest) of every numeric setting
PRESET_RANGES: dict[str, tuple[float, float]] = {
    k: (s.low, s.high)
    for k, s in PRESET_SETTINGS.items()
    if s.low is not None and s.high is not None
}

# Preset keys renamed so that the auxiliary models are not mistaken for the evaluation ones
# (--ft-arch / --fb-arch): old spelling -> new one. Records written before keep the old.
RENAMED_PRESET_KEYS: dict[str, str] = {"ft_arch": "aux_ft_arch", "fb_arch": "aux_fb_arch"}


def upgrade_preset_values(values: dict[str, Any]) -> dict[str, Any]:
    """A stored preset dict with renamed keys under their current names, and the settings
    older records ran without at the value that means so (`eval_patience` 0: never stopped
    early), so an older record keeps its meaning (and its label says how it differs)."""
    upgraded = {RENAMED_PRESET_KEYS.get(k, k): v for k, v in values.items()}
    if "weight_decay" in upgraded:  # a whole preset: bf16 on CUDA only, before `precision`
        upgraded.setdefault("precision", "auto")
    if "privacy_epochs" in upgraded:  # a preset with the evaluation settings
        upgraded.setdefault("eval_patience", 0)
    if "anon_epochs" in upgraded:  # with the anonymizer-training ones: the game ran them all
        upgraded.setdefault("anon_patience", 0)
        upgraded.setdefault("anon_output", "sigmoid")  # every fA was bounded before
        shipped = PRESETS.get(str(upgraded.get("name")))
        if shipped is not None:  # the tolerance means nothing without a window
            upgraded.setdefault("anon_tolerance", shipped.anon_tolerance)
    return upgraded


def stored_preset(values: Mapping[str, Any]) -> Preset:
    """The Preset a stored preset dict (a record's or a fit's, maybe without the fields
    only the evaluation reads) describes: its named preset with the stored values over it
    (JSON lists back to tuples); BenchError for a preset this version does not have."""
    values = upgrade_preset_values(dict(values))
    if values.get("name") not in PRESETS:
        raise BenchError(
            f"made at preset '{values.get('name')}', which this version does not have; "
            f"known presets: {', '.join(PRESETS)}"
        )
    stored: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in PRESET_KEYS
    }
    return replace(PRESETS[str(values["name"])], **stored)


TRUE_WORDS = frozenset({"true", "1", "yes"})
FALSE_WORDS = frozenset({"false", "0", "no"})
BOOL_TEXT = "true / false, 1 / 0 or yes / no"


def parse_bool(raw: str) -> bool:
    """true / 1 / yes -> True, false / 0 / no -> False (any case); ValueError otherwise."""
    word = str(raw).strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise ValueError(raw)


def resolve_preset(name: str, overrides: Mapping[str, str]) -> Preset:
    """The named preset with `--set KEY=VALUE` overrides applied and validated."""
    if name not in PRESETS:
        raise BenchError(
            f"unknown preset '{name}'{did_you_mean(name, PRESETS)}; "
            f"known presets: {', '.join(sorted(PRESETS))}"
        )
    preset = PRESETS[name]
    changes: dict[str, Any] = {}
    for key, raw in overrides.items():
        if key in RENAMED_PRESET_KEYS:
            model = "fT" if key == "ft_arch" else "fB"
            raise BenchError(
                f"--set {key}: renamed --set {RENAMED_PRESET_KEYS[key]} (the auxiliary {model} "
                f"that trains the anonymizer); the fresh {model}' is --{key.replace('_', '-')}"
            )
        if key not in PRESET_KEYS:
            raise BenchError(
                f"--set {key}: unknown setting{did_you_mean(key, PRESET_KEYS)}; "
                f"known settings: {', '.join(PRESET_KEYS)}"
            )
        changes[key] = PRESET_SETTINGS[key].parse(key, raw, getattr(preset, key))
    preset = replace(preset, **changes)
    _validate_preset(preset)
    return preset


def _validate_preset(p: Preset) -> None:
    if p.precision not in PRECISIONS:
        raise BenchError(
            f"--set precision={p.precision}: must be one of {', '.join(PRECISIONS)}"
            + did_you_mean(p.precision, PRECISIONS)
        )
    if p.anon_output not in ANON_OUTPUTS:
        raise BenchError(
            f"--set anon_output={p.anon_output}: must be one of {', '.join(ANON_OUTPUTS)}"
            + did_you_mean(p.anon_output, ANON_OUTPUTS)
        )
    for key, value, known in (
        ("aux_ft_arch", p.aux_ft_arch, ACTION_ARCHS),
        ("aux_fb_arch", p.aux_fb_arch, PRIVACY_ARCHS),
        ("aux_ft_init", p.aux_ft_init, ACTION_INITS),
        ("aux_fb_init", p.aux_fb_init, PRIVACY_INITS),
    ):
        if value not in known:
            raise BenchError(
                f"--set {key}={value}: unknown {'initialisation' if key.endswith('init') else 'architecture'}; "
                f"known: {', '.join(known)}"
            )
    for key, declared in PRESET_SETTINGS.items():
        declared.check(key, getattr(p, key))
    if any(width < 1 for width in p.anon_decoder):
        raise BenchError(f"--set anon_decoder={p.anon_decoder}: every width must be >= 1")
    if p.ssl_frame_gap >= p.frames:
        raise BenchError(
            f"--set ssl_frame_gap={p.ssl_frame_gap}: must be smaller than frames={p.frames}"
        )
    if p.frame_size % (2**p.anon_depth):
        raise BenchError(
            f"frame_size={p.frame_size} must be divisible by 2**anon_depth={2**p.anon_depth} "
            "(UNet++ downsamples that many times); change --set frame_size or anon_depth"
        )
    if len(p.anon_decoder) != p.anon_depth:
        raise BenchError(
            f"anon_decoder has {len(p.anon_decoder)} entries but anon_depth={p.anon_depth}; "
            "give one decoder width per level"
        )


@dataclass(frozen=True)
class EvalModels:
    """Architectures and initialisations of the fresh evaluation models fT' and fB'.

    Independent of the auxiliary fT / fB that train a learned fA (the preset's aux_ft_arch /
    aux_fb_arch), as in the paper's Tables 5, 7 and 8: one fA*, several evaluation models.
    """

    ft_arch: str
    fb_arch: str
    ft_init: str = "scratch"
    fb_init: str = "scratch"

    @classmethod
    def resolve(
        cls,
        preset: Preset,
        ft_arch: str | None = None,
        fb_arch: str | None = None,
        ft_init: str | None = None,
        fb_init: str | None = None,
    ) -> EvalModels:
        """Validated choices; an unset architecture is the preset's, an unset init 'scratch'."""
        models = cls(
            ft_arch or preset.aux_ft_arch,
            fb_arch or preset.aux_fb_arch,
            ft_init or cls.ft_init,
            fb_init or cls.fb_init,
        )
        for option, value, known in (
            ("--ft-arch", models.ft_arch, ACTION_ARCHS),
            ("--fb-arch", models.fb_arch, PRIVACY_ARCHS),
            ("--ft-init", models.ft_init, ACTION_INITS),
            ("--fb-init", models.fb_init, PRIVACY_INITS),
        ):
            if value not in known:
                raise BenchError(
                    f"{option} {value}: must be one of {', '.join(known)}"
                    + did_you_mean(value, known)
                )
        return models


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one benchmark cell's result."""

    method: str
    protocol: str
    dataset: str
    preset: Preset
    params: tuple[tuple[str, Any], ...] = ()
    seed: int = 0
    trains_anonymizer: bool = True
    reads_attack_settings: bool = False  # the protocol trains an attack (`ATTACK_KEYS`)
    plugin_source: str = ""  # hash of the --plugin files defining its parts; "" if built in
    data_roots: tuple[tuple[str, str], ...] = ()  # --data-root NAME=DIR (provenance, not key)
    evaluation: EvalModels | None = None  # None: the preset's architectures, from scratch
    data_version: str = ""  # the dataset family's `version` (its generator's); "" if none
    # what the data on disk is, per role the protocol reads ('known', 'novel'): each set's
    # fingerprint (layout, split lists, files and sizes); empty for generated data
    data_identity: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    @property
    def eval_models(self) -> EvalModels:
        """The evaluation models, resolved."""
        return self.evaluation or EvalModels.resolve(self.preset)

    @property
    def param_dict(self) -> dict[str, Any]:
        """Method parameters as a plain dict."""
        return dict(self.params)

    def canonical(self) -> dict[str, Any]:
        """A JSON-ready dict that fully describes the run (the cache key is its hash)."""
        preset = dataclasses.asdict(self.preset)
        if not self.trains_anonymizer:
            preset = {k: v for k, v in preset.items() if k not in ANONYMIZER_TRAINING_KEYS}
        if not self.reads_attack_settings:
            preset = {k: v for k, v in preset.items() if k not in ATTACK_KEYS}
        out = {
            "method": self.method,
            "params": dict(sorted(self.params)),
            "protocol": self.protocol,
            "dataset": self.dataset,
            "seed": self.seed,
            "preset": preset,
            "evaluation": dataclasses.asdict(self.eval_models),
        }
        if self.plugin_source:
            out["plugin_source"] = self.plugin_source
        if self.data_roots:
            out["data_roots"] = dict(self.data_roots)
        if self.data_identity:
            out["data_identity"] = {role: dict(sets) for role, sets in self.data_identity}
        if self.data_version:  # new data, new key: a record never stands for other data
            out["data_version"] = self.data_version
        return out

    def key(self) -> str:
        """Stable identifier: hash of the canonical config (less provenance) and the schema."""
        return config_digest(self.canonical())

    def legacy_keys(self) -> tuple[str, ...]:
        """Keys this cell's record had before RESULTS_SCHEMA (see `legacy_digest`)."""
        return legacy_keys(self.canonical())

    def fit_config(self) -> dict[str, Any]:
        """What determines the learned fA* alone: the config minus protocol and evaluation
        (and the data of the novel role: an fA* is trained on the known sets only)."""
        config = self.canonical()
        del config["protocol"], config["evaluation"]
        config["preset"] = self.fit_preset(config["preset"])
        if "data_identity" in config:
            config["data_identity"] = {
                r: v for r, v in config["data_identity"].items() if r == "known"
            }
        return config

    @staticmethod
    def fit_preset(preset: dict[str, Any]) -> dict[str, Any]:
        """A stored preset dict without the fields only the evaluation models and the
        attacks read."""
        return {k: v for k, v in preset.items() if k not in (*EVALUATION_KEYS, *ATTACK_KEYS)}

    def attack_key(self) -> str:
        """Identifier of what an attack protocol trains against this cell's fA* (the
        inversion network g): the cell less its evaluation models, so every fB' reuses it."""
        config = self.canonical()
        del config["evaluation"]
        config["preset"] = {k: v for k, v in config["preset"].items() if k not in EVALUATION_KEYS}
        return config_digest(config)

    def fit_key(self) -> str:
        """Identifier of the learned fA* alone (hash of `fit_config` and the schema)."""
        return config_digest(self.fit_config())

    def legacy_fit_keys(self) -> tuple[str, ...]:
        """Keys this cell's fA* had before RESULTS_SCHEMA."""
        return legacy_keys(self.fit_config())

    def with_method(
        self, method: str, params: dict[str, Any], trains_anonymizer: bool
    ) -> RunConfig:
        """The same cell with another built-in method (see `runner.reference_config`)."""
        return replace(
            self,
            method=method,
            params=tuple(sorted(params.items())),
            trains_anonymizer=trains_anonymizer,
        )


def config_digest(config: Mapping[str, Any]) -> str:
    """The key of a record's or fit's config: 16 hex digits of sha256 over the config without
    its provenance fields, and the results schema."""
    keyed = {k: v for k, v in config.items() if k not in PROVENANCE_FIELDS}
    return _sha({"config": keyed, "schema": RESULTS_SCHEMA})


def legacy_digest(config: Mapping[str, Any]) -> str:
    """The key the same config had before RESULTS_SCHEMA: the package version and the
    --data-root paths were hashed, the data's identity was not."""
    keyed = {k: v for k, v in config.items() if k != "data_identity"}
    return _sha({"config": keyed, "version": LEGACY_VERSION})


def legacy_keys(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The older keys a config may be stored under (none when it differs from the current)."""
    old = legacy_digest(config)
    return () if old == config_digest(config) else (old,)


def config_keys(config: Mapping[str, Any]) -> tuple[str, ...]:
    """Every key a stored config may rightly carry: the current one, then the older ones."""
    return (config_digest(config), *legacy_keys(config))


def _sha(payload: Mapping[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
