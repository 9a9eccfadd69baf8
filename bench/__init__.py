"""privbench: a benchmark suite for privacy-preserving action recognition.

The Python API (`bench.run`, `bench.config`, `bench.records`, `bench.table`, `bench.figure`,
`bench.fits`, `bench.load_anonymizer`) lives in `bench.api` and is imported on first use, so `import bench` stays light.
"""

from __future__ import annotations

from typing import Any

from bench.contract.config import CODE_VERSION as __version__

__all__ = ["__version__"]
_API = ("BenchError", "Record", "RecordSet", "StoredFit", "config", "figure", "fits",
        "load_anonymizer", "records", "run", "table")  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _API:
        from bench import api

        return getattr(api, name)
    raise AttributeError(f"module 'bench' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
