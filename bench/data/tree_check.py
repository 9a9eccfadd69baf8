"""`bench data check`: what a dataset tree holds and what is wrong with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.contract.frames import Report
from bench.data.catalog import LAYOUTS, Catalog, ScanOptions
from bench.data.prepare import probe_items


def check_tree(
    layout: str, root: Path, options: ScanOptions, report: Report, probe: bool = True
) -> dict[str, Any]:
    """Counts per split and label, problems in the tree, and (with `probe`) the files that
    cannot be read: every video is probed and every image decoded."""
    catalog = LAYOUTS.get(layout)().scan(root, options)
    unreadable: list[str] = []
    if probe:
        for split, items in catalog.splits.items():
            if items:
                unreadable += probe_items(
                    items, report, f"{layout} {split}: probe", open_images=True
                )[1]
    return summarize(catalog, unreadable)


def summarize(catalog: Catalog, unreadable: list[str]) -> dict[str, Any]:
    """The JSON-ready report of a catalog."""
    files = {split: len({it.path for it in items}) for split, items in catalog.splits.items()}
    return {
        "dataset": catalog.name,
        "root": str(catalog.root),
        "kind": catalog.kind,
        "labels": list(catalog.labels),
        "items": {split: len(items) for split, items in catalog.splits.items()},
        "files": files,
        "per_label": catalog.counts(),
        "problems": catalog.problems,
        "unreadable": unreadable,
        "ok": not catalog.problems and not unreadable,
    }
