"""The user cache dir (datasets, pretrained anonymizers) and array files written in it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from bench.contract.atomic import atomic_write
from bench.contract.errors import BenchError

CACHE_ENV = "BENCH_CACHE_DIR"


def default_cache_dir() -> Path:
    """`$BENCH_CACHE_DIR`, else `$XDG_CACHE_HOME/privbench`, else `~/.cache/privbench`."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "privbench"


def resolve_cache_dir(cache_dir: str | Path | None) -> Path:
    """The cache dir a command or API call names (`--cache-dir`, `cache_dir=`), else
    `default_cache_dir()`: the one place the default is applied."""
    return Path(cache_dir) if cache_dir else default_cache_dir()


def ensure_cache_dir(path: Path) -> Path:
    """Create the cache dir or fail with a message naming the fix."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchError(
            f"cache dir '{path}' cannot be created ({exc.strerror}); "
            "pass --cache-dir or set BENCH_CACHE_DIR to a writable folder"
        ) from None
    return path


def atomic_save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Save arrays as an uncompressed .npz through the one atomic writer."""

    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]  # stubs type **kwds as allow_pickle

    atomic_write(path, write)
