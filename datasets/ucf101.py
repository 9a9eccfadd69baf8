"""UCF101 (Soomro et al. 2012) in its official layout, and the UCF101 + VISPR1 benchmark.

Tree (ROOT is what `--root` / `--data-root ucf101=` points at):

    ROOT/UCF-101/<Class>/v_<Class>_gXX_cYY.avi
    ROOT/ucfTrainTestlist/classInd.txt          "1 ApplyEyeMakeup" (1-based)
    ROOT/ucfTrainTestlist/trainlist0{1,2,3}.txt "ApplyEyeMakeup/v_..._g08_c01.avi 1"
    ROOT/ucfTrainTestlist/testlist0{1,2,3}.txt  "ApplyEyeMakeup/v_..._g01_c01.avi" (no label)

Test labels come from the class folder. Val is carved from train by whole groups (`gXX`:
the clips of one group are cut from one long video of one actor), about 10 % of each class's
training videos, seed 0 (`bench.data.catalog.carve_val`). The `ucf101-vispr1` benchmark is the
paper's Table 1 "UCF101 / VISPR1" setting: split 1 with the VISPR1 attributes.
"""

from __future__ import annotations

from pathlib import Path

from bench.contract.dataset import DATASETS
from bench.contract.errors import BenchError
from bench.data.catalog import (
    LAYOUTS,
    Catalog,
    Layout,
    ScanOptions,
    VideoItem,
    carve_val,
    existing,
    read_lines,
    require_dir,
)
from bench.data.real_benchmark import RealBenchmark, Source

EXPECTED = "UCF-101/<Class>/*.avi and ucfTrainTestlist/{classInd,trainlist01,testlist01}.txt"


@LAYOUTS.register("ucf101")
class UCF101(Layout):
    """UCF101 action videos with the official train/test lists."""

    description = "UCF101: 101 actions, official splits 1-3 (val carved from train)"
    expected = EXPECTED

    def scan(self, root: Path, options: ScanOptions) -> Catalog:
        """Classes from classInd.txt, train/test from the split lists, val carved from train."""
        require_dir(root, "UCF101", EXPECTED)
        lists = root / "ucfTrainTestlist"
        videos = root / "UCF-101"
        for needed in (lists / "classInd.txt", videos):
            if not needed.exists():
                raise BenchError(f"UCF101 root '{root}' has no {needed.name}; expected {EXPECTED}")
        if options.split not in (1, 2, 3):
            raise BenchError(f"UCF101 split {options.split}: must be 1, 2 or 3")
        classes = _read_classes(lists / "classInd.txt")
        index = {name: i for i, name in enumerate(classes)}
        problems: list[str] = []
        splits = {}
        for split, name in (("train", "trainlist"), ("test", "testlist")):
            path = lists / f"{name}0{options.split}.txt"
            if not path.is_file():
                raise BenchError(f"UCF101 split file {path} is missing; expected {EXPECTED}")
            items = []
            for n, line in enumerate(read_lines(path), 1):
                rel = line.split()[0]
                cls = rel.split("/")[0]
                if cls not in index:
                    problems.append(f"{path.name}:{n}: class '{cls}' is not in classInd.txt")
                    continue
                items.append(VideoItem(videos / rel, index[cls]))
            splits[split] = existing(items, problems, path.name)
        splits["train"], splits["val"] = carve_val(
            splits["train"], options.val_fraction, ucf101_group
        )
        return Catalog("ucf101", "action", classes, splits, root, problems)


def ucf101_group(path: Path) -> str:
    """`v_ApplyEyeMakeup_g08_c01` -> `g08` (with its class: groups are numbered per class)."""
    parts = path.stem.split("_")
    groups = [p for p in parts if len(p) == 3 and p[0] == "g" and p[1:].isdigit()]
    return f"{path.parent.name}/{groups[-1]}" if groups else path.stem


def _read_classes(path: Path) -> tuple[str, ...]:
    """Class names ordered by their 1-based id in classInd.txt."""
    pairs = []
    for n, line in enumerate(read_lines(path), 1):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise BenchError(f"{path}:{n}: expected '<id> <ClassName>', got '{line}'")
        pairs.append((int(parts[0]), parts[1]))
    ids = sorted(i for i, _ in pairs)
    if ids != list(range(1, len(pairs) + 1)):
        raise BenchError(f"{path}: class ids must run 1..{len(pairs)} without gaps")
    return tuple(name for _, name in sorted(pairs))


@DATASETS.register("ucf101-vispr1")
class UCF101Vispr1(RealBenchmark):
    """Table 1, UCF101 / VISPR1: UCF101 split 1 actions with VISPR1 private attributes.

    Its novel setting is Table 2's UCF101 -> HMDB51 and VISPR1 -> VISPR2 columns: fA* learned
    on UCF101 + VISPR1, fT' / fB' trained and scored on HMDB51 split 1 and VISPR2.
    """

    description = (
        "UCF101 split 1 + VISPR1 (--data-root ucf101=DIR vispr=DIR); novel: HMDB51 split 1 + "
        "VISPR2 (also --data-root hmdb51=DIR)"
    )
    required_roots = ("ucf101", "vispr")
    action_source = Source("ucf101", "ucf101")
    privacy_source = Source("vispr1", "vispr")
    roles = ("known", "novel")
    novel_sources = (Source("hmdb51", "hmdb51"), Source("vispr2", "vispr"))
