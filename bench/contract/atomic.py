"""The one way to write a file that must survive a crash: a unique temp name, then a rename.

Every stored file (records, fits, caches, prepared packs) is written to a temp file beside
its final path and renamed into place, so a reader sees the old file or the new one, never
half of one. The temp name holds the writer's host and pid (`.NAME.HOST.PID.RANDOM.tmp`), so
two writers never share one, and `clean_stale_temps` can tell a dead writer's leftovers
from a live writer's file in progress.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.contract.errors import BenchError


def _host() -> str:
    """This host's name plus its pid namespace, where Linux tells it: containers that share
    a hostname but not their pids must not take each other's live writers for dead ones."""
    name = socket.gethostname().replace(".", "_").replace("-", "_") or "host"
    try:
        return f"{name}_ns{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return name


HOST = _host()
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<host>[^.]+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")
# temp names of writers before this module (fixed `.part` / `.tmp` names, mkstemp names):
# nobody can tell whether their writer lives, so they are removed once they are old enough
_LEGACY = re.compile(
    r"(^\..+\.tmp$|\.part$|^\..+\.[a-z0-9_]{8}\.npz$|^anonymizer-identity-[0-9a-f]+\.tmp$)"
)
OTHER_HOST_STALE_S = 24 * 3600.0  # a temp of another host's writer this old is abandoned
LEGACY_STALE_S = 3600.0


class WriteError(BenchError):
    """A stored file could not be written (full disk, no permission); nothing was replaced."""


def temp_path(path: Path) -> Path:
    """A temp name beside `path`, unique to this writer (host, pid and a random part)."""
    return path.parent / f".{path.name}.{HOST}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def commit(tmp: Path, path: Path) -> None:
    """Flush `tmp` to disk and rename it to `path` (atomic on one file system)."""
    with contextlib.suppress(OSError), open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _write_error(path: Path, exc: OSError) -> WriteError:
    why = exc.strerror or str(exc)
    fix = (
        "free some space"
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
        else "check the folder's permissions"
    )
    return WriteError(f"could not write '{path}' ({why}); {fix} and rerun (nothing was replaced)")


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temp path to write `path`'s new content to; renamed into place when the block ends
    without error, removed otherwise. An OSError becomes a `WriteError` naming the file."""
    tmp = temp_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        commit(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _write_error(path, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """`write(tmp)` then the rename: `atomic_write(p, lambda t: torch.save(state, t))`."""
    with atomic_path(path) as tmp:
        write(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text))


def probe_writable(folder: Path) -> None:
    """Create `folder` if needed and write (and remove) a temp file in it; OSError if it
    cannot be written."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe"):
        pass


def pid_alive(pid: int) -> bool:
    """Whether a process of this pid runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale_temp(path: Path, now: float | None = None) -> bool:
    """Whether `path` is a temp file whose writer is gone (see the module docstring)."""
    match = _TEMP.match(path.name)
    try:
        age = (now or time.time()) - path.stat().st_mtime
    except OSError:
        return False
    if match:
        if match["host"] == HOST:
            return not pid_alive(int(match["pid"]))
        return age > OTHER_HOST_STALE_S
    return bool(_LEGACY.search(path.name)) and age > LEGACY_STALE_S


def clean_stale_temps(folder: Path, owned: Callable[[str], bool] | None = None) -> list[Path]:
    """Remove the temp files of dead writers directly in `folder`; the paths removed.

    With `owned` (a folder the user owns, like `bench anonymize --out`), only this module's
    temp names of files `owned(name)` says the caller writes: a user's own `*.part` or
    `.*.tmp` is never touched.
    """
    removed = []
    try:
        candidates = [p for p in folder.iterdir() if p.name.endswith((".tmp", ".part", ".npz"))]
    except OSError:
        return []
    if owned is not None:
        candidates = [
            p for p in candidates if (m := _TEMP.match(p.name)) is not None and owned(m["name"])
        ]
    now = time.time()
    for path in candidates:
        if path.is_file() and is_stale_temp(path, now):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed
