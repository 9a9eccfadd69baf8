"""The records index: what every record file of a results folder held when it was last read,
so readers (tables, figures, the report, `bench records`) re-read only the files that changed.

`<results>/index/records.json` maps each record file's name to its size, mtime, ctime and
inode when it was read, and to what `read_record` made of it: the record, or why it is
unreadable. A reader stats every file (cheap), takes the entries whose stat is unchanged,
reads the new and changed files, drops the vanished ones and, when anything differed, writes
the index again with the atomic helper. So concurrent readers never see half an index; the
last writer wins, and since every entry is checked against its file's stat, any whole index is
correct. Files changed in the last `RACY_S` seconds are read but left out of the index (a
rewrite within the file system's clock tick could keep size and mtime; git does the same).

The index is a cache: one that cannot be read is ignored with a warning and rebuilt, and one
written by other reading code (its fingerprint: the sources that judge a record) is rebuilt
silently. Nothing else reads it: deleting `<results>/index/` only costs one full read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bench.contract.config
import bench.store.results
from bench.contract.atomic import atomic_write_text
from bench.contract.errors import BenchError

INDEX_FORMAT = 1
RACY_S = 2.0  # files modified this recently are not trusted to the index


@dataclass(frozen=True)
class Entry:
    """One record file: its record, or why it could not be read."""

    path: Path
    record: dict[str, Any] | None
    problem: str | None = None


Stat = list[int]  # size, mtime_ns, ctime_ns, inode


def index_path(root: Path) -> Path:
    """Where the index of the results folder `root` is kept."""
    return root / "index" / "records.json"


def reader_fingerprint() -> str:
    """sha256 of what decides whether a file is a readable record (the record reader, the
    key computation) and of the index format: an index of other code is rebuilt."""
    digest = hashlib.sha256(f"records index {INDEX_FORMAT}".encode())
    for module in (bench.store.results, bench.contract.config):
        with contextlib.suppress(OSError, TypeError):
            digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:16]


def _stat(path: Path) -> Stat | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _valid_entry(value: Any) -> bool:
    if not isinstance(value, dict) or not isinstance(value.get("stat"), list):
        return False
    if len(value["stat"]) != 4 or not all(type(v) is int for v in value["stat"]):
        return False
    return isinstance(value.get("record"), dict) or isinstance(value.get("problem"), str)


def _load_index(path: Path, fingerprint: str) -> tuple[dict[str, Any], str | None]:
    """The entries of the index at `path` ({} when there is none or it is of other code), and
    a warning when it could not be read."""

    def corrupt(why: str) -> tuple[dict[str, Any], str]:
        return {}, f"records index '{path}' is corrupt ({why}); rebuilt from the records"

    try:
        index = json.loads(path.read_text())
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        return corrupt(exc.strerror or type(exc).__name__)
    except UnicodeDecodeError:
        return corrupt("not text")
    except json.JSONDecodeError as exc:
        return corrupt(f"not JSON: {exc.msg}")
    if not isinstance(index, dict) or not isinstance(index.get("records"), dict):
        return corrupt("not an index")
    if index.get("format") != INDEX_FORMAT or index.get("reader") != fingerprint:
        return {}, None  # written by other code: rebuilt without a word
    entries = index["records"]
    if not all(_valid_entry(v) for v in entries.values()):
        return corrupt("a malformed entry")
    return entries, None


def read_indexed(
    root: Path, records_dir: Path, read: Callable[[Path], dict[str, Any]]
) -> tuple[list[Entry], list[str]]:
    """Every `*.json` file of `records_dir` (sorted by name) as `read` makes it, through the
    index of the results folder `root`; and the warnings to show (a corrupt index)."""
    path = index_path(root)
    fingerprint = reader_fingerprint()
    cached, warning = _load_index(path, fingerprint)
    warnings = [warning] if warning else []
    try:
        names = sorted(e.name for e in os.scandir(records_dir) if e.name.endswith(".json"))
    except OSError:
        names = []
    now_ns = time.time_ns()
    entries: list[Entry] = []
    fresh: dict[str, Any] = {}
    changed = set(cached) != set(names)
    for name in names:
        file = records_dir / name
        stat = _stat(file)
        old = cached.get(name)
        if stat is not None and old is not None and old["stat"] == stat:
            entries.append(Entry(file, old.get("record"), old.get("problem")))
            fresh[name] = old
            continue
        changed = True
        try:
            value: dict[str, Any] = {"record": read(file)}
        except BenchError as exc:
            value = {"problem": str(exc)}
        entries.append(Entry(file, value.get("record"), value.get("problem")))
        if stat is not None and now_ns - stat[1] > RACY_S * 1e9:
            fresh[name] = {"stat": stat, **value}
    if changed or warning:
        payload = {"format": INDEX_FORMAT, "reader": fingerprint, "records": fresh}
        text = json.dumps(payload, separators=(",", ":"))
        with contextlib.suppress(BenchError):  # a read-only results folder: no index, no harm
            atomic_write_text(path, text)
    return entries, warnings
