"""What a real dataset holds on disk: items per split, labels, and the problems found.

A `Layout` reads one dataset's standard on-disk tree (UCF101, HMDB51, VISPR, ...) into a
`Catalog` without decoding anything; `bench data check` reports it and `bench data prepare`
decodes it (see `bench.data.prepare`). Validation splits are carved from train (`carve_val`),
so the test split is only ever scored.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from bench.contract.errors import BenchError
from bench.contract.registry import Registry

VAL_FRACTION = 0.1  # share of each training class moved to val
VAL_SEED = 0  # fixed, so every run and method selects on the same val videos
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class VideoItem:
    """A labelled video file (action class index)."""

    path: Path
    label: int


@dataclass(frozen=True)
class ImageItem:
    """An image file, or frame `frame` of a video file, with multi-hot private attributes."""

    path: Path
    targets: tuple[float, ...]
    frame: int | None = None  # a frame index of a video file
    position: float | None = None  # or a relative position in [0, 1] of a video file

    @property
    def from_video(self) -> bool:
        """Whether the item is a frame of a video rather than an image file."""
        return self.frame is not None or self.position is not None


Item = VideoItem | ImageItem


@dataclass(frozen=True)
class ScanOptions:
    """How to read a tree: official split number, val share, annotation file, attribute order."""

    split: int = 1
    val_fraction: float = VAL_FRACTION
    annotations: Path | None = None
    attribute_order: tuple[str, ...] | None = None
    frames_per_video: int = 4  # private frames taken from each video of a video privacy set


@dataclass
class Catalog:
    """Items per split of one dataset, with its class / attribute names and any problems."""

    name: str
    kind: str  # "action" (VideoItem) or "privacy" (ImageItem)
    labels: tuple[str, ...]
    splits: dict[str, list[Any]]
    root: Path
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        order = [s for s in SPLITS if s in self.splits]
        self.splits = {s: self.splits[s] for s in order + sorted(set(self.splits) - set(order))}

    def counts(self) -> dict[str, dict[str, int]]:
        """Per split: items per class (action) or positives per attribute (privacy)."""
        out: dict[str, dict[str, int]] = {}
        for split, items in self.splits.items():
            if self.kind == "action":
                per = Counter(self.labels[it.label] for it in items)
            else:
                per = Counter(
                    self.labels[a] for it in items for a, v in enumerate(it.targets) if v > 0
                )
            out[split] = {label: per.get(label, 0) for label in self.labels}
        return out

    def fingerprint(self) -> str:
        """Hash of every item (path relative to the root, size, label): changes re-prepare data."""
        h = hashlib.sha256()
        h.update(json.dumps([self.name, self.labels]).encode())
        for split in sorted(self.splits):
            for it in self.splits[split]:
                size = it.path.stat().st_size if it.path.exists() else -1
                rel = (
                    it.path.relative_to(self.root) if it.path.is_relative_to(self.root) else it.path
                )
                label = (
                    it.label if isinstance(it, VideoItem) else (it.targets, it.frame, it.position)
                )
                h.update(f"{split}|{rel}|{size}|{label}\n".encode())
        return h.hexdigest()[:16]


class Layout:
    """Plug-in base: reads one dataset's standard tree into a Catalog."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    expected: ClassVar[str] = ""  # the tree, shown when the root is wrong

    def scan(self, root: Path, options: ScanOptions) -> Catalog:
        """Items per split; missing files become `problems`, a wrong root a BenchError."""
        raise NotImplementedError


LAYOUTS: Registry[Layout] = Registry("dataset layout", "bench.datasets")


def require_dir(root: Path, what: str, expected: str) -> Path:
    """`root` if it is a directory, else a BenchError showing the expected tree."""
    if not root.is_dir():
        raise BenchError(
            f"{what} root '{root}' does not exist or is not a directory; pass the folder that "
            f"holds {expected}"
        )
    return root


def read_lines(path: Path) -> list[str]:
    """Non-empty stripped lines of a text file (tolerates CRLF and trailing spaces)."""
    return [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]


def existing(items: Sequence[Any], problems: list[str], source: str) -> list[Any]:
    """Items whose file exists; each missing one becomes a problem naming `source`."""
    kept = []
    for it in items:
        if it.path.is_file():
            kept.append(it)
        else:
            problems.append(f"{source} names {it.path}, which does not exist")
    return kept


GroupKey = Callable[[Path], str]  # the source a clip was cut from: its near-duplicates share it


def own_group(path: Path) -> str:
    """Every file is its own group (sets whose names carry no source video)."""
    return path.stem


def carve_val(
    items: Sequence[VideoItem],
    fraction: float,
    group: GroupKey = own_group,
    seed: int = VAL_SEED,
) -> tuple[list[VideoItem], list[VideoItem]]:
    """(train, val): about `fraction` of each class's videos, as whole groups, go to val.

    Clips cut from one source video (UCF101's `_gXX_`, HMDB51's `_goo_0` / `_goo_1`) are
    near-duplicates, so val takes whole `group`s and train and val share no source, as the
    official train / test splits share none. Per class, val is the set of groups whose
    clip count is nearest to `fraction` of the class's videos (the first such set found in a
    seeded shuffle of the groups); a class with two or more groups gives val at least one
    group and keeps at least one for train.
    """
    if not 0 <= fraction < 1:
        raise BenchError(f"val fraction {fraction}: must be in [0, 1)")
    rng = random.Random(seed)
    train: list[VideoItem] = []
    val: list[VideoItem] = []
    by_class: dict[int, list[VideoItem]] = {}
    for it in items:
        by_class.setdefault(it.label, []).append(it)
    for label in sorted(by_class):
        group_of: dict[str, list[VideoItem]] = {}
        for it in by_class[label]:
            group_of.setdefault(group(it.path), []).append(it)
        groups = sorted(group_of)
        rng.shuffle(groups)
        taken = _nearest_subset(groups, {g: len(group_of[g]) for g in groups}, fraction)
        for g in groups:
            (val if g in taken else train).extend(group_of[g])
    return train, val


def _nearest_subset(groups: list[str], size: dict[str, int], fraction: float) -> set[str]:
    """The groups whose sizes sum nearest to `fraction` of the total, leaving at least one
    for train; the first such set found in `groups` order."""
    total = sum(size.values())
    if fraction == 0 or len(groups) < 2:
        return set()
    reach: dict[int, tuple[str, ...]] = {0: ()}
    for g in groups:
        for got, chosen in list(reach.items()):
            reach.setdefault(got + size[g], (*chosen, g))
    want = fraction * total
    best = min((s for s in reach if 0 < s < total), key=lambda s: (abs(s - want), s))
    return set(reach[best])
