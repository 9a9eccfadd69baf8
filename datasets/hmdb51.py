"""HMDB51 (Kuehne et al. 2011), PA-HMDB51 (Wu et al., VITA) and the HMDB51 -> PA-HMDB benchmark.

HMDB51 tree (ROOT is what `--root` / `--data-root hmdb51=` points at):

    ROOT/<action>/<name>.avi
    ROOT/testTrainMulti_7030_splits/<action>_test_split{1,2,3}.txt   (or directly in ROOT)
        "<name>.avi 1" -- 1 train, 2 test, 0 unused (lines may end in a space)

PA-HMDB51 adds per-action JSON annotations over the same videos:

    ROOT/PrivacyAttributes/<action>.json  (or --annotations DIR)
        {"<name>.avi": {"face": [[start, end, value], ...], "gender": ..., "nudity": ...,
                        "skin_color": ..., "relationship": ..., "review": ..., "note": ...}}

Frame ranges are 0-based and inclusive. An attribute is present in a frame when its value
is non-zero (a list value, e.g. gender [1, 2], counts as present), as in VITA's conversion.
Only annotated frames are scored: those inside a range of every attribute that has ranges
(`annotated_frames`; some annotations start after frame 0, e.g. `catch.json`'s
`Faith_Rewarded_catch_f_cm_np1_fr_med_10.avi` at frame 9). Each PA-HMDB video gives
`frames_per_video` evenly spaced frames of those. Its five attributes are scored against a VISPR1 classifier
through `datasets.vispr.PRIVACY_GROUPS`.

`hmdb51-pahmdb` is the paper's Table 1 "PA-HMDB" setting: fA and fT' learn on HMDB51 split 1
train, and fB' on VISPR1; action is scored on the PA-HMDB videos (by their HMDB51 class) and
privacy on their annotated frames. PA-HMDB videos, and every clip cut from the same source
video, are removed from HMDB51 train and val (the official code lets them overlap; we do not).

Validation is carved from train by whole source videos (`hmdb51_source`: the name without
its clip tags), about 10 % of each class, so no val clip has a sibling in train.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bench.contract.dataset import DATASETS, PrivacyData, Splits
from bench.contract.errors import BenchError
from bench.data.catalog import (
    LAYOUTS,
    Catalog,
    ImageItem,
    Layout,
    ScanOptions,
    VideoItem,
    carve_val,
    existing,
    read_lines,
    require_dir,
)
from bench.data.real_benchmark import RealBenchmark, Source, scan
from bench.datasets.vispr import vispr1_groups

EXPECTED = "<action>/<name>.avi and testTrainMulti_7030_splits/<action>_test_split1.txt"
PA_ATTRIBUTES = ("gender", "face", "nudity", "skin_color", "relationship")
SPLIT_IDS = {"1": "train", "2": "test"}


# `<source>_<body part>_<camera motion>_<people>_<viewpoint>_<quality>_<clip>`: the release's
# name tags. One source video's clips may differ in every tag but the first part.
CLIP_TAGS = re.compile(
    r"^(?P<source>.+)_[fhul]_(?:cm|nm)_np\d+_(?:fr|ba|le|ri)_(?:bad|med|goo)_\d+$"
)


def hmdb51_source(path: Path) -> str:
    """The source video a clip was cut from: its name without the clip tags, so
    `..._cartwheel_f_cm_np1_fr_bad_3` and `..._cartwheel_f_cm_np1_ba_bad_8` are one source
    (names without the tags lose only a trailing clip number)."""
    tagged = CLIP_TAGS.match(path.stem)
    if tagged:
        return f"{path.parent.name}/{tagged['source']}"
    stem, _, number = path.stem.rpartition("_")
    return f"{path.parent.name}/{stem}" if stem and number.isdigit() else path.stem


def _split_files(root: Path, split: int) -> list[Path]:
    for folder in (root / "testTrainMulti_7030_splits", root / "splits", root):
        files = sorted(folder.glob(f"*_test_split{split}.txt"))
        if files:
            return files
    raise BenchError(
        f"HMDB51 root '{root}' has no *_test_split{split}.txt files; expected {EXPECTED}"
    )


@LAYOUTS.register("hmdb51")
class HMDB51(Layout):
    """HMDB51 action videos with the official 70/30 split files."""

    description = "HMDB51: 51 actions, official splits 1-3 (val carved from train)"
    expected = EXPECTED

    def scan(self, root: Path, options: ScanOptions) -> Catalog:
        """Classes from the split file names, train/test from their ids, val carved from train."""
        require_dir(root, "HMDB51", EXPECTED)
        if options.split not in (1, 2, 3):
            raise BenchError(f"HMDB51 split {options.split}: must be 1, 2 or 3")
        files = _split_files(root, options.split)
        suffix = f"_test_split{options.split}.txt"
        classes = tuple(f.name[: -len(suffix)] for f in files)
        problems: list[str] = []
        splits: dict[str, list[VideoItem]] = {"train": [], "test": []}
        for label, path in enumerate(files):
            for n, line in enumerate(read_lines(path), 1):
                parts = line.split()
                if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                    problems.append(f"{path.name}:{n}: expected '<name>.avi 0|1|2', got '{line}'")
                    continue
                if parts[1] in SPLIT_IDS:
                    item = VideoItem(root / classes[label] / parts[0], label)
                    splits[SPLIT_IDS[parts[1]]].append(item)
        for split in ("train", "test"):
            splits[split] = existing(splits[split], problems, f"split {options.split} lists")
        splits["train"], splits["val"] = carve_val(
            splits["train"], options.val_fraction, hmdb51_source
        )
        return Catalog("hmdb51", "action", classes, splits, root, problems)


@LAYOUTS.register("pahmdb51")
class PAHMDB51(Layout):
    """PA-HMDB51: annotated frames of HMDB51 videos (test only), five privacy attributes."""

    description = "PA-HMDB51: frame-level face, gender, nudity, skin colour, relationship"
    expected = "<action>/<name>.avi and PrivacyAttributes/<action>.json"

    def scan(self, root: Path, options: ScanOptions) -> Catalog:
        """`frames_per_video` annotated frames of every annotated video, all in `test`."""
        require_dir(root, "PA-HMDB51", self.expected)
        folder = options.annotations or root / "PrivacyAttributes"
        files = sorted(folder.glob("*.json")) if folder.is_dir() else []
        if not files:
            raise BenchError(
                f"no PA-HMDB51 annotations in '{folder}'; put PrivacyAttributes/<action>.json "
                "under the HMDB51 root or pass --annotations DIR"
            )
        problems: list[str] = []
        items: list[ImageItem] = []
        for path in files:
            try:
                videos = json.loads(path.read_text())
            except ValueError as e:
                problems.append(f"{path}: malformed JSON ({e})")
                continue
            for name, attrs in sorted(videos.items()):
                video = root / path.stem / name
                if not video.is_file():
                    problems.append(f"{path.name} names {video}, which does not exist")
                    continue
                try:
                    items.extend(_frame_items(video, attrs, options.frames_per_video))
                except (TypeError, ValueError, KeyError) as e:
                    problems.append(f"{path.name}: {name}: malformed ranges ({e})")
        splits: dict[str, list[ImageItem]] = {"train": [], "val": [], "test": items}
        return Catalog("pahmdb51", "privacy", PA_ATTRIBUTES, splits, root, problems)


MAX_FRAME = 100_000  # an hour at 25 fps; a range beyond it is a typo, not a clip


def annotated_frames(ranges: dict[str, list[tuple[int, int, Any]]]) -> list[int]:
    """The frames every annotated attribute has a range over (attributes with no range at
    all are left out), in order. Frames before the first range or in a gap are not scored."""
    for rs in ranges.values():
        for start, end, _ in rs:
            if not 0 <= start <= end < MAX_FRAME:
                raise ValueError(f"range [{start}, {end}] is not within 0..{MAX_FRAME - 1}")
    covered = [
        {f for start, end, _ in rs for f in range(start, end + 1)} for rs in ranges.values() if rs
    ]
    if not covered:
        return []
    return sorted(set.intersection(*covered))


def _frame_items(video: Path, attrs: dict, count: int) -> list[ImageItem]:  # type: ignore[type-arg]
    ranges = {a: [(int(s), int(e), v) for s, e, v in attrs.get(a, [])] for a in PA_ATTRIBUTES}
    frames = annotated_frames(ranges)
    if not frames:
        raise ValueError("no frame is annotated for every attribute")
    picks = sorted({frames[round(k * (len(frames) - 1) / max(1, count - 1))] for k in range(count)})
    return [
        ImageItem(video, tuple(_present(ranges[a], f) for a in PA_ATTRIBUTES), frame=f)
        for f in picks
    ]


def _present(ranges: list[tuple[int, int, Any]], frame: int) -> float:
    for start, end, value in ranges:
        if start <= frame <= end:
            values = value if isinstance(value, list) else [value]
            return float(any(int(v) != 0 for v in values))
    return 0.0


def pahmdb_videos(pa: Catalog, hmdb: Catalog) -> list[VideoItem]:
    """The PA-HMDB videos as action items labelled with their HMDB51 class."""
    index = {name: i for i, name in enumerate(hmdb.labels)}
    paths = sorted({it.path for it in pa.splits["test"]})
    return [VideoItem(p, index[p.parent.name]) for p in paths if p.parent.name in index]


@DATASETS.register("hmdb51-pahmdb")
class HMDB51PAHMDB(RealBenchmark):
    """Table 1, PA-HMDB: learn on HMDB51 (minus PA-HMDB) + VISPR1, score on PA-HMDB."""

    description = "HMDB51 split 1 + VISPR1, scored on PA-HMDB51 (--data-root hmdb51=DIR vispr=DIR)"
    required_roots = ("hmdb51", "vispr")
    action_source = Source("hmdb51", "hmdb51")
    privacy_source = Source("vispr1", "vispr")

    def catalogs(self, role: str = "known") -> tuple[Catalog, Catalog]:
        """HMDB51 train/val without PA-HMDB videos, PA-HMDB as both test sets."""
        hmdb, vispr = super().catalogs()
        pa = scan(Source("pahmdb51", "hmdb51"), self.roots, self.options)
        test_videos = pahmdb_videos(pa, hmdb)
        held_out = {hmdb51_source(it.path) for it in test_videos}  # and their sibling clips
        train = [
            it
            for it in hmdb.splits["train"] + hmdb.splits["val"]
            if hmdb51_source(it.path) not in held_out
        ]
        train, val = carve_val(train, self.options.val_fraction, hmdb51_source)
        action = Catalog(
            "hmdb51-minus-pahmdb", "action", hmdb.labels,
            {"train": train, "val": val, "test": test_videos}, hmdb.root, hmdb.problems + pa.problems,
        )  # fmt: skip
        privacy = Catalog(
            "vispr1-pahmdb", "privacy", vispr.labels,
            {"train": vispr.splits["train"], "val": vispr.splits["val"], "test": pa.splits["test"]},
            vispr.root, vispr.problems,
        )  # fmt: skip
        return action, privacy

    def privacy_data(self, catalog: Catalog, splits: Splits) -> PrivacyData:
        """VISPR1 for training and val; PA-HMDB's five attributes, grouped, for test."""
        return PrivacyData(
            catalog.name, catalog.labels, splits, PA_ATTRIBUTES, vispr1_groups(PA_ATTRIBUTES)
        )
