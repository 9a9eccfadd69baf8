"""The learned anonymizers fA* a results folder holds (`fits/<fit key>/`): listed with the
config that trained them and the records that used them, found by key prefix or by the
options of the `bench run` that trained them, and loaded as modules.

A fit's config is the one its key hashes (`RunConfig.fit_config`). Fits stored since this
module keep it in their log; for older ones it is read from a record that used the fit.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.contract.config import Preset, RunConfig, stored_preset
from bench.contract.errors import BenchError
from bench.contract.method import METHODS, Method, params_text
from bench.models.anonymizer import FrameAnonymizer
from bench.orchestration.cell import Cell
from bench.store.reading import RecordSet
from bench.store.results import ResultsStore
from bench.training.adversarial import AdversarialMethod
from bench.training.fits import CHECKPOINT, FIT_LOG, load_state, read_fit_log
from bench.training.identity import restored_anonymizer

KEY_CHARS = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class StoredFit:
    """One stored fA*: its key and folder, the config that trained it (None when neither
    its log nor any record says), its training log, and the records that used it."""

    key: str
    folder: Path
    config: dict[str, Any] | None
    log: dict[str, Any]
    created: str
    records: tuple[dict[str, Any], ...] = ()
    problem: str = ""  # what is wrong with its training log ('' when it reads)

    @property
    def method(self) -> str:
        """The learned method, or '?' when the config is unknown."""
        return str(self.config["method"]) if self.config else "?"

    @property
    def params(self) -> dict[str, Any]:
        """Its method parameters."""
        return dict(self.config["params"]) if self.config else {}

    def describe(self) -> str:
        """e.g. 'penalty B=0.3 lam=1.0 ...' (the method and its parameters)."""
        values = params_text(self.params)
        return f"{self.method} {values}".strip()

    @property
    def preset(self) -> Preset:
        """The preset it was trained at (its anonymizer architecture and frame size)."""
        if self.config is None:
            why = (
                f"its {self.problem}"
                if self.problem
                else "it was trained before fits kept their config"
            )
            raise BenchError(
                f"fit {self.key} has no readable config ({why}, and no record names it); "
                "address it with the `bench run` options that trained it"
            )
        return stored_preset(self.config["preset"])

    def anonymizer(self) -> FrameAnonymizer:
        """fA* rebuilt from its checkpoint, on the CPU, in eval mode. Only the UNet++ of the
        minimax methods (`AdversarialMethod`, applied frame by frame) is known outside a run."""
        cls = METHODS.get(self.method) if self.config else None
        if cls is not None and (
            not issubclass(cls, AdversarialMethod)
            or cls.anonymize is not AdversarialMethod.anonymize
        ):
            raise BenchError(
                f"fit {self.key}: method '{self.method}' keeps its own kind of fA*; only the "
                "UNet++ of the minimax methods (penalty, spact, vita and their subclasses that "
                "keep anonymize()) can be used outside `bench run`"
            )
        state, why = load_state(self.folder / CHECKPOINT)
        if not isinstance(state, dict):
            raise BenchError(f"fit {self.key}: {CHECKPOINT} is unreadable ({why or 'not weights'})")
        try:
            return restored_anonymizer(self.preset, state)
        except (RuntimeError, KeyError) as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            raise BenchError(
                f"fit {self.key}: weights do not fit its preset's fA ({first})"
            ) from None

    def history_summary(self) -> list[tuple[str, int, dict[str, tuple[float, float]]]]:
        """Per training stage: (stage, rows logged, {value: (first, last)})."""
        out = []
        for stage, rows in self.log.get("history", {}).items():
            if not isinstance(rows, list) or not rows:
                continue
            names = [k for k, v in rows[0].items() if k != "epoch" and _number(v)]
            values = {
                k: (float(rows[0][k]), float(rows[-1][k]))
                for k in names
                if _number(rows[-1].get(k))
            }
            out.append((stage, len(rows), values))
        return out


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def stored_fits(store: ResultsStore, warn: Callable[[str], None]) -> list[StoredFit]:
    """Every complete fit under the store (both files present), oldest first. A fit whose
    training log is unreadable is kept (its checkpoint is what counts), with a warning and
    its config from the records that name it."""
    if not store.fits_dir.is_dir():
        return []
    records = RecordSet.load(store.root).records if store.records_dir.is_dir() else []
    used: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if isinstance(record.get("fit_key"), str):
            used.setdefault(record["fit_key"], []).append(dict(record))
    fits = []
    for folder in sorted(p for p in store.fits_dir.iterdir() if p.is_dir()):
        if not ((folder / CHECKPOINT).is_file() and (folder / FIT_LOG).is_file()):
            continue  # being trained, or a fit that could not be stored
        try:
            log, problem = read_fit_log(folder), ""
        except ValueError as exc:
            log, problem = {"history": {}, "timings": {}}, f"training log is damaged ({exc})"
            warn(f"fit {folder.name}: {problem}; its checkpoint is still used")
        fits.append(_fit(folder, log, used.get(folder.name, []), problem))
    return sorted(fits, key=lambda f: (f.created, f.key))


def _fit(
    folder: Path, log: dict[str, Any], records: list[dict[str, Any]], problem: str = ""
) -> StoredFit:
    config = log.get("config") if isinstance(log.get("config"), dict) else None
    if config is None and records:
        config = fit_config_of_record(records[0])
    created = log.get("created")
    if not isinstance(created, str):
        mtime = (folder / CHECKPOINT).stat().st_mtime
        created = dt.datetime.fromtimestamp(mtime, dt.timezone.utc).isoformat(timespec="seconds")
    ordered = sorted(records, key=lambda r: (str(r.get("protocol")), str(r.get("created"))))
    return StoredFit(folder.name, folder, config, log, created, tuple(ordered), problem)


def fit_config_of_record(record: dict[str, Any]) -> dict[str, Any]:
    """The fit config inside a record's config: what `RunConfig.fit_config` keeps."""
    config = dict(record["config"])
    config.pop("protocol", None)
    config.pop("evaluation", None)
    config["preset"] = RunConfig.fit_preset(config["preset"])
    return config


def find_fit(fits: list[StoredFit], prefix: str) -> StoredFit:
    """The one fit whose key starts with `prefix`; BenchError when none or several do."""
    prefix = prefix.strip().lower()
    if not prefix or not set(prefix) <= KEY_CHARS:
        raise BenchError(f"--fit {prefix!r}: a fit key is hexadecimal; `bench fits` lists them")
    matches = [f for f in fits if f.key.startswith(prefix)]
    if not matches:
        raise BenchError(f"--fit {prefix}: no stored fit has this key; `bench fits` lists them")
    if len(matches) > 1:
        keys = ", ".join(f.key for f in matches[:5])
        raise BenchError(f"--fit {prefix}: {len(matches)} fits match ({keys}); give more digits")
    return matches[0]


def fit_of_config(fits: list[StoredFit], cfg: RunConfig) -> StoredFit:
    """The stored fit `cfg` (the options of `bench run`) trains; BenchError if not trained yet."""
    key = cfg.fit_key()
    for fit in fits:
        if fit.key == key or fit.key in cfg.legacy_fit_keys():
            if fit.config is None:  # an old fit no record names: the options say what it is
                return StoredFit(fit.key, fit.folder, cfg.fit_config(), fit.log, fit.created)
            return fit
    raise BenchError(
        f"no stored fA* for these options (fit {key}); train it first with `bench run` and "
        "the same options (--method, its parameters, --dataset, --preset, --set, --seed)"
    )


@dataclass(frozen=True)
class Anonymizer:
    """What a command outside `bench run` applies: a stored fit (a learned method) or a
    fixed method's instance, with the config its options resolve to (None for `--fit`)."""

    fit: StoredFit | None
    method: Method | None
    config: RunConfig | None

    @property
    def preset(self) -> Preset:
        """The preset the benchmark trained and measured it at."""
        if self.fit is not None:
            return self.fit.preset
        assert self.config is not None
        return self.config.preset

    @property
    def side(self) -> int:
        """The frame size (short side) the benchmark trained and measured it at."""
        return self.preset.frame_size


def address_anonymizer(
    fits: list[StoredFit], key: str | None, method: str | None, trained: Cell
) -> Anonymizer:
    """The anonymizer `--fit KEY` names, or else the one `bench run --method METHOD` with the
    other options of `trained` (parameters, dataset, preset, settings, seed, data roots)
    trained; `trained.method` is replaced by `method`."""
    if key is not None and (method is not None or trained.params):
        raise BenchError("name the anonymizer once: --fit KEY, or --method and its parameters")
    if key is not None:
        return Anonymizer(find_fit(fits, key), None, None)
    if method is None:
        raise BenchError("which anonymizer? give --fit KEY (see `bench fits`) or --method NAME")
    cfg = replace(trained, method=method).config()
    if cfg.trains_anonymizer:
        return Anonymizer(fit_of_config(fits, cfg), None, cfg)
    # the options as given: a region baseline's detector settings count on footage
    return Anonymizer(None, METHODS.get(method)(**trained.params), cfg)
