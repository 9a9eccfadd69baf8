"""Locks that let workers share results: one per cell, per fit, per cache entry.

A second worker that wants what a first one is computing waits for it, then reuses the
result instead of computing it again. A lock is a file beside what it guards, locked with
`flock`, so the kernel (or the NFS server) releases it when its owner dies, even by kill -9.
While held, the file names the owner (host, pid, since when); an owner that exits cleanly
empties it. A new owner that finds a name inside took the lock over from a worker that died
holding it, and says so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from bench.contract.atomic import HOST

Notify = Callable[[str], None]


def lock_path(path: Path) -> Path:
    """The lock file of `path` (beside it)."""
    return path.with_name(f"{path.name}.lock")


def to_stderr(text: str) -> None:
    """The default `Notify`: one warning line on stderr."""
    print(f"warning: {text}", file=sys.stderr)


def _owner_text(info: dict[str, object]) -> str:
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')} since {info.get('since', '?')}"


def _read_owner(fh: IO[str]) -> dict[str, object] | None:
    fh.seek(0)
    text = fh.read().strip()
    if not text:
        return None
    try:
        info = json.loads(text)
    except ValueError:
        return {"pid": "?", "host": "?", "since": "?"}
    return info if isinstance(info, dict) else {}


@contextlib.contextmanager
def exclusive(path: Path, what: str, notify: Notify | None = None) -> Iterator[None]:
    """Hold the lock of `path` for the block: wait (saying for whom) while another worker
    holds it; take it over (saying so) from a worker that died holding it.

    Where the lock cannot be made (a file system without locks, a read-only folder), the
    block runs unlocked, with a warning.
    """
    say = notify or to_stderr
    lock = lock_path(path)
    while True:
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            fh = open(lock, "a+")  # noqa: SIM115  # closed by the `with` below
        except OSError as exc:  # e.g. a read-only shared cache: readers need no lock
            say(f"{what}: cannot create the lock {lock} ({exc.strerror}); running without one")
            yield
            return
        locked = _acquire(fh, what, say)
        if not locked or _still_named(fh, lock):
            break
        # the file was deleted (or replaced) while we waited for it: a worker that opens the
        # path now locks another inode, so lock what the path names now
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()
    guard = _Guard(lock, fh) if locked else None
    with fh:
        try:
            if locked:
                previous = _read_owner(fh)
                if previous is not None:
                    say(
                        f"{what}: taking over the lock of {_owner_text(previous)}, which "
                        "stopped without releasing it"
                    )
                info = {
                    "pid": os.getpid(),
                    "host": HOST,
                    "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                }
                fh.seek(0)
                fh.truncate()
                fh.write(json.dumps(info))
                fh.flush()
                assert guard is not None
                guard.start(json.dumps(info))
            yield
        finally:
            if guard is not None:
                guard.stop()
            if locked:
                fh.seek(0)
                fh.truncate()
                fh.flush()
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class _Guard:
    """While a lock is held, puts a locked file back at its path when a cleanup job deletes
    it (`rm results/locks/*.lock`), so a newcomer waits instead of locking a new file.

    A worker that opened the path in the second before the guard noticed can still get in;
    the cell's double check inside its lock and atomic writes keep even that from losing or
    mixing a result (the cell is computed twice at worst).
    """

    PERIOD_S = 1.0

    def __init__(self, lock: Path, fh: IO[str]) -> None:
        self.lock = lock
        self.held = [fh]  # the original and every replacement, released by `stop`
        self.done = threading.Event()
        self.thread: threading.Thread | None = None
        self.owner = ""

    def start(self, owner: str) -> None:
        self.owner = owner
        self.thread = threading.Thread(target=self._watch, name="lock-guard", daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.done.wait(self.PERIOD_S):
            if _still_named(self.held[-1], self.lock):
                continue
            with contextlib.suppress(OSError):
                self.lock.parent.mkdir(parents=True, exist_ok=True)
                fh = open(self.lock, "a+")  # noqa: SIM115  # closed by `stop`
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:  # a newcomer locked it first: it will find its file replaced
                    fh.close()
                    continue
                fh.seek(0)
                fh.truncate()
                fh.write(self.owner)
                fh.flush()
                self.held.append(fh)

    def stop(self) -> None:
        self.done.set()
        if self.thread is not None:
            self.thread.join()
        for fh in self.held[1:]:
            with contextlib.suppress(OSError):
                fh.seek(0)
                fh.truncate()
                fh.flush()
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()


def _still_named(fh: IO[str], lock: Path) -> bool:
    """Whether the path `lock` still names the open (locked) file `fh`."""
    try:
        named = os.stat(lock)
    except OSError:
        return False
    mine = os.fstat(fh.fileno())
    return (named.st_ino, named.st_dev) == (mine.st_ino, mine.st_dev)


def holder(path: Path) -> str | None:
    """Who holds the lock of `path` now ("pid N on HOST since T"), or None if nobody does."""
    lock = lock_path(path)
    try:
        fh = open(lock)  # noqa: SIM115  # closed by the `with` below
    except OSError:
        return None
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _owner_text(_read_owner(fh) or {})
        except OSError:
            return None
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return None


def _acquire(fh: IO[str], what: str, say: Notify) -> bool:
    """Lock `fh`, waiting if needed; False where the file system has no locks."""
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        pass
    except OSError as exc:
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
            say(f"{what}: this file system has no file locks; running without one")
            return False
        raise
    owner = _read_owner(fh)
    say(f"waiting for {what}: {_owner_text(owner or {})} is computing it")
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
    return True
