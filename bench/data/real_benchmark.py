"""Benchmarks built from real datasets on the user's disk: catalogs, prepared once, as splits.

A `RealBenchmark` names the layouts it combines (an action set and a private set) and which
`--data-root NAME=DIR` each reads. Loading scans the trees, prepares (decodes) any split not
yet in the cache at the preset's frame size and skip rate, and returns the `Benchmark` the
protocols consume. When a region baseline runs, each split also gets the person masks of
`RunContext.persons` (a detector run once per split, its boxes stored beside the pack). Skipped (corrupt) files are counted in the run record's notes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.progress import Progress

from bench.contract.context import RunContext
from bench.contract.dataset import (
    ActionData,
    Benchmark,
    DatasetFamily,
    ImageArray,
    PrivacyData,
    Splits,
    VideoArray,
)
from bench.contract.errors import BenchError
from bench.contract.frames import FrameSource, Report
from bench.data.catalog import LAYOUTS, SPLITS, Catalog, ScanOptions
from bench.data.prepare import PreparedSplit, prepare_split


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


def _coverage(masks: FrameSource | None) -> float:
    """Share of stored frames with a person (the finder's masks say it themselves)."""
    share = getattr(masks, "coverage", None)
    return float(share()) if callable(share) else 0.0


def _plain_privacy(catalog: Catalog, splits: Splits) -> PrivacyData:
    """A private set scored in its own attributes."""
    return PrivacyData(catalog.name, catalog.labels, splits)


class RealBenchmark(DatasetFamily):
    """Plug-in base for real-data benchmarks: an action layout plus a privacy layout."""

    required_roots: ClassVar[tuple[str, ...]] = ()
    detects_people = True  # real footage: the region baselines' people come from a detector
    action_source: ClassVar[Source]
    privacy_source: ClassVar[Source]
    # The 'novel' setting (paper Table 2): other action and private sets, scored with an fA*
    # learned on the known ones; `roles` must then include 'novel'.
    novel_sources: ClassVar[tuple[Source, Source] | None] = None

    def __init__(self, roots: Mapping[str, Path] | None = None) -> None:
        self.roots = dict(roots or {})
        self._require(self.required_roots, "")
        self.options = ScanOptions()

    def _require(self, names: tuple[str, ...], purpose: str) -> None:
        missing = [r for r in names if r not in self.roots]
        if missing:
            flags = " ".join(f"--data-root {r}=DIR" for r in missing)
            raise BenchError(
                f"dataset '{self.name}'{purpose} needs {flags} (the folders you downloaded)"
            )

    def check_roles(self, roles: tuple[str, ...], protocol: str) -> None:
        """Also require the folders of the novel sets when the protocol reads them."""
        super().check_roles(roles, protocol)
        if "novel" in roles and self.novel_sources is not None:
            needed = tuple(dict.fromkeys(s.root for s in self.novel_sources))
            self._require(needed, f" with --protocol {protocol}")

    def catalogs(self, role: str = "known") -> tuple[Catalog, Catalog]:
        """(action, privacy) catalogs of `role`; benchmarks that mix sets override this."""
        sources = (self.action_source, self.privacy_source)
        if role == "novel" and self.novel_sources is not None:
            sources = self.novel_sources
        return (
            scan(sources[0], self.roots, self.options),
            scan(sources[1], self.roots, self.options),
        )

    def identity(self, roles: tuple[str, ...]) -> dict[str, dict[str, str]]:
        """Each set's catalog fingerprint (layout and labels, split lists, every file's path
        under its root and size), per role: two mounts of one dataset give one identity."""
        return {role: {c.name: c.fingerprint() for c in self.catalogs(role)} for role in roles}

    def privacy_data(self, catalog: Catalog, splits: Splits) -> PrivacyData:
        """The private set as the protocols see it; overridden where test uses other labels.

        Only the known role's sets pass through here; novel sets are used as they are.
        """
        return _plain_privacy(catalog, splits)

    def load(self, role: str, ctx: RunContext) -> Benchmark:
        """Scan, prepare what is missing, and return the benchmark of `role`."""
        if role not in self.roles:
            raise BenchError(f"dataset '{self.name}' has no '{role}' setting")
        action_cat, privacy_cat = self.catalogs(role)
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
        masks = {
            (name, s): self._people(per[s], ctx, report)
            for name, per in prepared.items()
            for s in SPLITS
        }
        if ctx.persons is not None:
            ctx.note("person_regions", ctx.persons.description)
            found = [
                f"{100 * _coverage(masks[cat.name, 'test']):.0f} % of {cat.kind} test frames"
                for cat in (action_cat, privacy_cat)
            ]
            ctx.note("person_frames", "people found in " + " and ".join(found))
        return Benchmark(
            action=ActionData(
                action_cat.name,
                action_cat.labels,
                Splits(
                    *(
                        VideoArray(action[s].frames, action[s].labels, masks[action_cat.name, s])
                        for s in SPLITS
                    )
                ),
            ),
            privacy=(self.privacy_data if role == "known" else _plain_privacy)(
                privacy_cat,
                Splits(
                    *(
                        ImageArray(privacy[s].frames, privacy[s].labels, masks[privacy_cat.name, s])
                        for s in SPLITS
                    )
                ),
            ),
        )

    @staticmethod
    def _people(split: PreparedSplit, ctx: RunContext, report: Report) -> FrameSource | None:
        """Detected person masks of a split when a region baseline asked for them."""
        if ctx.persons is None:
            return None
        return ctx.persons.masks(split.frames, split.path, report)

    def _prepare(self, cat: Catalog, split: str, ctx: RunContext, report: Report) -> PreparedSplit:
        p = ctx.preset
        stride = p.skip if cat.kind == "action" else 1
        out = prepare_split(cat, split, p.frame_size, stride, ctx.cache_dir, report, warn=ctx.warn)
        if len(out.labels) == 0:
            raise BenchError(
                f"{cat.name} {split} split has no readable file; run `bench data check "
                f"{cat.name} --root DIR` to see what is wrong"
            )
        return out
