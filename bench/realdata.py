"""Benchmarks built from real datasets on the user's disk: catalogs, prepared once, as splits.

A `RealBenchmark` names the layouts it combines (an action set and a private set) and which
`--data-root NAME=DIR` each reads. Loading scans the trees, prepares (decodes) any split not
yet in the cache at the preset's frame size and skip rate, and returns the `Benchmark` the
protocols consume. Skipped (corrupt) files are counted in the run record's notes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.progress import Progress

from bench.catalog import LAYOUTS, SPLITS, Catalog, ScanOptions
from bench.data import (
    ActionData,
    Benchmark,
    DatasetFamily,
    ImageArray,
    PrivacyData,
    Splits,
    VideoArray,
)
from bench.errors import BenchError
from bench.prepare import PreparedSplit, Report, prepare_split
from bench.runtime import RunContext


@dataclass(frozen=True)
class Source:
    """A layout and the `--data-root` name whose folder it reads."""

    layout: str
    root: str


def scan(source: Source, roots: Mapping[str, Path], options: ScanOptions) -> Catalog:
    """The catalog of `source` under its root."""
    return LAYOUTS.get(source.layout)().scan(roots[source.root], options)


def progress_report_for(progress: Progress) -> Report:
    """A Report that draws one rich progress bar per (description, total)."""

    def report(description: str, total: int) -> Callable[[], None]:
        bar = progress.add_task(description, total=total, info="")
        return lambda: progress.update(bar, advance=1)

    return report


class RealBenchmark(DatasetFamily):
    """Plug-in base for real-data benchmarks: an action layout plus a privacy layout."""

    required_roots: ClassVar[tuple[str, ...]] = ()
    action_source: ClassVar[Source]
    privacy_source: ClassVar[Source]

    def __init__(self, roots: Mapping[str, Path] | None = None) -> None:
        self.roots = dict(roots or {})
        missing = [r for r in self.required_roots if r not in self.roots]
        if missing:
            flags = " ".join(f"--data-root {r}=DIR" for r in missing)
            raise BenchError(f"dataset '{self.name}' needs {flags} (the folders you downloaded)")
        self.options = ScanOptions()

    def catalogs(self) -> tuple[Catalog, Catalog]:
        """(action, privacy) catalogs; benchmarks that mix sets override this."""
        return (
            scan(self.action_source, self.roots, self.options),
            scan(self.privacy_source, self.roots, self.options),
        )

    def privacy_data(self, catalog: Catalog, splits: Splits) -> PrivacyData:
        """The private set as the protocols see it; overridden where test uses other labels."""
        return PrivacyData(catalog.name, catalog.labels, splits)

    def load(self, role: str, ctx: RunContext) -> Benchmark:
        """Scan, prepare what is missing, and return the benchmark of `role` ('known')."""
        if role != "known":
            raise BenchError(
                f"dataset '{self.name}' has no '{role}' setting yet; use --protocol known"
            )
        action_cat, privacy_cat = self.catalogs()
        report = progress_report_for(ctx.progress)
        prepared = {
            cat.name: {split: self._prepare(cat, split, ctx, report) for split in SPLITS}
            for cat in (action_cat, privacy_cat)
        }
        skipped = [s for per in prepared.values() for p in per.values() for s in p.skipped]
        ctx.note("skipped_files", str(len(skipped)))
        if skipped:
            ctx.console.print(
                f"[yellow]skipped {len(skipped)} unreadable file(s), e.g. {skipped[0]}"
            )
        action = prepared[action_cat.name]
        privacy = prepared[privacy_cat.name]
        return Benchmark(
            action=ActionData(
                action_cat.name,
                action_cat.labels,
                Splits(*(VideoArray(action[s].frames, action[s].labels) for s in SPLITS)),
            ),
            privacy=self.privacy_data(
                privacy_cat,
                Splits(*(ImageArray(privacy[s].frames, privacy[s].labels) for s in SPLITS)),
            ),
        )

    def _prepare(self, cat: Catalog, split: str, ctx: RunContext, report: Report) -> PreparedSplit:
        p = ctx.preset
        stride = p.skip if cat.kind == "action" else 1
        out = prepare_split(cat, split, p.frame_size, stride, ctx.cache_dir, report)
        if len(out.labels) == 0:
            raise BenchError(
                f"{cat.name} {split} split has no readable file; run `bench data check "
                f"{cat.name} --root DIR` to see what is wrong"
            )
        return out
