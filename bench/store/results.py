"""Results store: one JSON record per run, written atomically, keyed by the config hash."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from bench.contract.errors import BenchError

RESULTS_ENV = "BENCH_RESULTS_DIR"


def default_results_dir() -> Path:
    """`$BENCH_RESULTS_DIR` if set, else `./results`."""
    return Path(os.environ.get(RESULTS_ENV, "results"))


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` via a temp file in the same folder and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ResultsStore:
    """Records under `<root>/records/<key>.json`; run artifacts under `<root>/runs/<key>/`;
    learned anonymizers under `<root>/fits/<fit key>/`, shared by every protocol."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.records_dir = self.root / "records"
        self.runs_dir = self.root / "runs"
        self.fits_dir = self.root / "fits"

    def ensure_writable(self) -> None:
        """Create the folders and prove we can write there, before any training starts."""
        try:
            self.records_dir.mkdir(parents=True, exist_ok=True)
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.records_dir, prefix=".probe"):
                pass
        except OSError as exc:
            raise BenchError(
                f"results dir '{self.root}' is not writable ({exc.strerror}); "
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

    def exists(self, key: str) -> bool:
        """Whether a finished record for `key` is stored."""
        return self.record_path(key).is_file()

    def load(self, key: str) -> dict[str, Any]:
        """The stored record of `key`."""
        path = self.record_path(key)
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise BenchError(
                f"record '{path}' is corrupt ({exc.msg}); delete it and rerun with --force"
            ) from None

    def save(self, record: dict[str, Any]) -> Path:
        """Write `record` atomically; returns its path."""
        self.records_dir.mkdir(parents=True, exist_ok=True)
        path = self.record_path(record["key"])
        atomic_write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
        return path

    def all_records(self) -> list[dict[str, Any]]:
        """Every stored record (for tables and reports)."""
        if not self.records_dir.is_dir():
            return []
        return [json.loads(p.read_text()) for p in sorted(self.records_dir.glob("*.json"))]
