"""Results store: one JSON record per run, written atomically, keyed by the config hash."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from bench.contract.atomic import atomic_write_text, clean_stale_temps, probe_writable
from bench.contract.config import METRIC_RANGES, config_keys
from bench.contract.errors import BenchError
from bench.contract.locks import Notify, exclusive, holder

RESULTS_ENV = "BENCH_RESULTS_DIR"


def default_results_dir() -> Path:
    """`$BENCH_RESULTS_DIR` if set, else `./results`; set but empty is a user error (it would
    make the current folder the store)."""
    value = os.environ.get(RESULTS_ENV)
    if value is None:
        return Path("results")
    if not value.strip():
        raise BenchError(
            f"{RESULTS_ENV} is set but empty; unset it (for ./results) or name a folder"
        )
    return Path(value)


def resolve_results_dir(results_dir: str | Path | None) -> Path:
    """The results dir a command or API call names (`--results-dir`, `results_dir=`), else
    `$BENCH_RESULTS_DIR`, else `./results`: the one place the default is applied."""
    return Path(results_dir) if results_dir else default_results_dir()


def open_store(results_dir: str | Path | None) -> ResultsStore:
    """The results store of `resolve_results_dir(results_dir)`."""
    return ResultsStore(resolve_results_dir(results_dir))


RECORD_FIELDS: dict[str, type | tuple[type, ...]] = {
    "key": str,
    "method": str,
    "params": dict,
    "protocol": str,
    "dataset": str,
    "preset": str,
    "seed": int,
    "evaluation": dict,
    "config": dict,
    "metrics": dict,
}


class CorruptRecord(BenchError):
    """A stored record that cannot be read or is not a record."""


def read_record(path: Path) -> dict[str, Any]:
    """The record stored at `path`; `CorruptRecord` (naming the file and why) if it is not
    readable JSON with every field a record has and metrics that are fractions in [0, 1]."""

    def corrupt(why: str) -> CorruptRecord:
        return CorruptRecord(f"record '{path}' is unreadable ({why})")

    try:
        record = json.loads(path.read_text())
    except IsADirectoryError:
        raise corrupt("a folder, not a file") from None
    except OSError as exc:
        raise corrupt(exc.strerror or str(exc)) from None
    except UnicodeDecodeError:
        raise corrupt("not text") from None
    except json.JSONDecodeError as exc:
        raise corrupt(f"not JSON: {exc.msg}") from None
    if not isinstance(record, dict):
        raise corrupt(f"a JSON {type(record).__name__}, not an object")
    for name, kind in RECORD_FIELDS.items():
        if name not in record:
            raise corrupt(f"no '{name}'")
        if not isinstance(record[name], kind) or isinstance(record[name], bool):
            raise corrupt(f"'{name}' is not a {getattr(kind, '__name__', kind)}")
    if not isinstance(record["config"].get("preset"), dict):
        raise corrupt("its config has no preset")
    problem = metric_problem(record["metrics"])
    if problem:
        raise corrupt(problem)
    if record["key"] != path.stem:
        raise corrupt(f"it holds the record of {record['key']}, not of {path.stem}")
    if record["key"] not in config_keys(record["config"]):
        raise corrupt(
            f"its key {record['key']} is not its config's ({config_keys(record['config'])[0]}): "
            "the config was edited"
        )
    return record


def metric_problem(metrics: dict[str, Any]) -> str:
    """What is wrong with a record's metrics ('' if nothing): each must be a finite number
    in its range: [0, 1] (a fraction) unless `METRIC_RANGES` gives another."""
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"metric '{name}' is {value!r}, not a number"
        low, high = METRIC_RANGES.get(name, (0.0, 1.0))
        if not math.isfinite(value) or not low <= value <= high:
            what = (
                "a fraction in [0, 1]" if (low, high) == (0.0, 1.0) else f"in [{low:g}, {high:g}]"
            )
            return f"metric '{name}' is {value}, not {what}"
    return ""


class ResultsStore:
    """Records under `<root>/records/<key>.json`; run artifacts under `<root>/runs/<key>/`;
    learned anonymizers under `<root>/fits/<fit key>/` (locked by `fits/<fit key>.lock`),
    shared by every protocol; the locks of cells under `<root>/locks/`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.records_dir = self.root / "records"
        self.runs_dir = self.root / "runs"
        self.fits_dir = self.root / "fits"
        self.locks_dir = self.root / "locks"

    def ensure_writable(self) -> None:
        """Create the folders and prove we can write there, before any training starts."""
        try:
            for folder in (self.records_dir, self.runs_dir, self.fits_dir, self.locks_dir):
                probe_writable(folder)
        except OSError as exc:
            raise BenchError(
                f"results dir '{self.root}' is not writable ('{folder}': {exc.strerror}); "
                "pass --results-dir to a writable folder or set BENCH_RESULTS_DIR"
            ) from None

    def record_path(self, key: str) -> Path:
        """Where the record of `key` lives."""
        return self.records_dir / f"{key}.json"

    def run_dir(self, key: str) -> Path:
        """Folder for a run's artifacts (checkpoints, logs); created on demand."""
        path = self.runs_dir / key
        path.mkdir(parents=True, exist_ok=True)
        return path

    def fit_dir(self, fit_key: str) -> Path:
        """Folder of the learned fA* of `fit_key` (checkpoint and training log)."""
        return self.fits_dir / fit_key

    def attack_dir(self, attack_key: str) -> Path:
        """Folder of what an attack protocol trained against one cell's fA* (the inversion
        network g), shared by every evaluation model of that cell."""
        return self.root / "attacks" / attack_key

    def exists(self, key: str, legacy: Sequence[str] = ()) -> bool:
        """Whether a readable record for `key` is stored (a corrupt one does not count), or
        under one of its `legacy` keys (see `adopt_legacy`)."""
        for name in (key, *legacy):
            try:
                self.load(name)
            except BenchError:
                continue
            return True
        return False

    def adopt_legacy(self, key: str, legacy: Sequence[str], updates: Mapping[str, Any]) -> bool:
        """Serve a record stored under an older key of the same cell (before the results
        schema: the package version and data paths were hashed) under `key`: rewrite it with
        `updates` (its new key, config, fit key) and the old key as `legacy_key`, then remove
        the old file. Nothing is recomputed. True when one was adopted."""
        if self.record_path(key).exists():
            return False
        for old in legacy:
            try:
                record = self.load(old)
            except BenchError:
                continue
            self.save({**record, **updates, "key": key, "legacy_key": old})
            self.record_path(old).unlink(missing_ok=True)
            return True
        return False

    def adopt_legacy_fit(self, fit_key: str, legacy: Sequence[str]) -> None:
        """Rename a stored fA* of an older key of the same fit to `fit_key` (see `adopt_legacy`)."""
        target = self.fit_dir(fit_key)
        if target.exists():
            return
        for old in legacy:
            source = self.fit_dir(old)
            if source.is_dir():
                try:
                    source.rename(target)  # atomic; a worker that lost the race finds it moved
                except OSError:
                    continue
                return

    def load(self, key: str) -> dict[str, Any]:
        """The stored record of `key`; `CorruptRecord` if it is unreadable."""
        return read_record(self.record_path(key))

    def save(self, record: dict[str, Any]) -> Path:
        """Write `record` atomically; returns its path. A failed write (full disk) is a
        `WriteError` and leaves the old record, if any, in place."""
        problem = metric_problem(record["metrics"])
        if problem:  # what read_record would reject is never stored
            raise BenchError(f"run {record['key']} produced no valid result: {problem}")
        path = self.record_path(record["key"])
        atomic_write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
        return path

    def cell_lock(self, key: str, notify: Notify | None = None) -> AbstractContextManager[None]:
        """Held while one worker computes the cell `key`: a second one waits, then reuses."""
        self.locks_dir.mkdir(parents=True, exist_ok=True)
        return exclusive(self.locks_dir / f"cell-{key}", f"cell {key}", notify)

    def cell_holder(self, key: str) -> str | None:
        """Who is computing the cell `key` now ("pid N on HOST since T"), or None."""
        return holder(self.locks_dir / f"cell-{key}")

    def clean_stale_temps(self, *folders: Path) -> list[Path]:
        """Remove dead writers' temp files from records/ and the given folders."""
        return [p for f in (self.records_dir, *folders) for p in clean_stale_temps(f)]
