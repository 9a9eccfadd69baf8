"""Bringing another machine's records and fits into a results store (`bench records merge`).

Keys travel: a record's key hashes what its cell is (method, parameters, protocol, preset,
seed, evaluation models, the data's identity), never the package version or where the data
was mounted, so a record made on one cluster is the same cell on another. A record or fit
that the target already holds under its key is left alone when it is the same result, and
reported as a conflict (never overwritten) when it differs.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.contract.errors import BenchError
from bench.store.results import CorruptRecord, ResultsStore, read_record


@dataclass
class MergeReport:
    """What a merge did, per kind: added, already there (the same), conflicts, skipped."""

    records_added: list[str] = field(default_factory=list)
    records_same: list[str] = field(default_factory=list)
    fits_added: list[str] = field(default_factory=list)
    fits_same: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # "record K: why" / "fit K: why"
    skipped: list[str] = field(default_factory=list)  # unreadable records of the source

    def lines(self) -> list[str]:
        """The report, one line per count, then every conflict and skipped file."""
        out = [
            f"records: {len(self.records_added)} added, {len(self.records_same)} already here",
            f"fits: {len(self.fits_added)} added, {len(self.fits_same)} already here",
        ]
        out += [f"conflict: {c}" for c in self.conflicts]
        out += [f"skipped: {s}" for s in self.skipped]
        return out


def merge_stores(source: ResultsStore, target: ResultsStore, dry_run: bool = False) -> MergeReport:
    """Copy every readable record and fit of `source` that `target` lacks into `target`.

    A key both hold with another result is a conflict: reported, never overwritten. Nothing
    is written with `dry_run`.
    """
    if not source.records_dir.is_dir() and not source.fits_dir.is_dir():
        raise BenchError(
            f"'{source.root}' is not a results dir (it has no records/ or fits/ folder)"
        )
    if source.root.resolve() == target.root.resolve():
        raise BenchError(f"'{source.root}' is the results dir itself; name another one")
    if not dry_run:
        target.ensure_writable()
    report = MergeReport()
    for path in sorted(source.records_dir.glob("*.json")):
        _merge_record(path, target, report, dry_run)
    if source.fits_dir.is_dir():
        for folder in sorted(p for p in source.fits_dir.iterdir() if p.is_dir()):
            _merge_fit(folder, target, report, dry_run)
    return report


def _merge_record(path: Path, target: ResultsStore, report: MergeReport, dry_run: bool) -> None:
    try:
        record = read_record(path)
    except CorruptRecord as exc:
        report.skipped.append(str(exc))
        return
    key = record["key"]
    there = target.record_path(key)
    if there.exists():
        try:
            mine = read_record(there)
        except CorruptRecord:
            mine = None
        if mine is not None and mine["metrics"] == record["metrics"]:
            report.records_same.append(key)
            return
        why = "unreadable here" if mine is None else "other metrics here"
        report.conflicts.append(f"record {key}: {why} ({there} vs {path})")
        return
    if not dry_run:
        target.save(record)
    report.records_added.append(key)


def _merge_fit(folder: Path, target: ResultsStore, report: MergeReport, dry_run: bool) -> None:
    key = folder.name
    there = target.fit_dir(key)
    if there.exists():
        if _tree_digest(there) == _tree_digest(folder):
            report.fits_same.append(key)
        else:
            report.conflicts.append(f"fit {key}: other files here ({there} vs {folder})")
        return
    if not dry_run:
        target.fits_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}.merge-", dir=target.fits_dir))
        try:
            shutil.copytree(folder, staging, dirs_exist_ok=True)
            staging.rename(there)  # whole or not at all: a reader never sees half a fit
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if there.exists():  # another merge put it there meanwhile
                report.conflicts.append(f"fit {key}: appeared here during the merge")
                return
            raise BenchError(f"cannot copy fit {key} into {target.fits_dir}: {exc}") from None
    report.fits_added.append(key)


def _tree_digest(folder: Path) -> str:
    """sha256 over a folder's files (relative names and contents)."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode() + b"\0")
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()
