"""VP-UCF and VP-HMDB (STPrivacy, Li et al. 2023): video-level privacy labels on UCF101 / HMDB51.

The videos are UCF101's or HMDB51's, in their own layouts (see `datasets.ucf101`,
`datasets.hmdb51`); train / val / test follow their official split (1 by default). The
labels come from the annotation file published with STPrivacy, looked for in the dataset
root under its published name (`ucf101_privacy_attribute_label.pickle`,
`hmdb51_privacy_attribute_label.pickle`) or given with `--annotations FILE`. Accepted forms:

* the published pickle: a dict keyed `Class/name.mp4` (the releases' files are `.avi`;
  videos are matched by name) of int64 numpy arrays of shape (1, 5). Pickles are read by a
  restricted unpickler that builds numpy arrays and builtin containers only, so a crafted
  file cannot run code;
* a JSON dict `{video: [v1, ..., v5]}`, the video named by path or file name;
* a text / CSV file of lines `video v1 v2 v3 v4 v5` (spaces or commas).

Attribute order: skin_color, face, gender, nudity, relationship. STPrivacy's repository
(README, code) and the paper text we could read do not name the columns, so the order comes
from the published files themselves (docs/real-datasets.md): on both pickles column 1
implies columns 0 and 2 (P = 0.98-0.99 / 0.97-0.98) but not the reverse (0.65-0.67), as a
visible face implies visible skin and gender; column 0 is set in 95 % of UCF101 Typing,
Knitting or Mixing clips (hands only) where column 2 is not (35-43 %), so 0 is skin colour and 2
gender; columns 3 and 4 peak on nudity and relationship classes (SumoWrestling, kiss). Override
it with `--attribute-order face,skin_color,...` if your file differs. A value > 0 means present. Each
video gives `frames_per_video` evenly spaced frames labelled with its video-level vector.
Videos with no label are reported and left out.

`vphmdb-vispr1` is the paper's Table 1 "VPHMDB" setting: fA, fT' learn on HMDB51 split 1
train and fB' on VISPR1; action is scored on HMDB51 split 1 test and privacy on VP-HMDB test
frames, through `datasets.vispr.PRIVACY_GROUPS`.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from bench.contract.dataset import DATASETS, PrivacyData, Splits
from bench.contract.errors import BenchError
from bench.data.catalog import LAYOUTS, Catalog, ImageItem, Layout, ScanOptions
from bench.data.real_benchmark import RealBenchmark, Source, scan
from bench.datasets.vispr import PRIVACY_GROUPS, vispr1_groups

VP_ATTRIBUTES = ("skin_color", "face", "gender", "nudity", "relationship")  # see above


# What an annotation pickle may build: numpy arrays and scalars, builtin containers. Anything
# else (os.system, eval, any class) is refused before it is called, so a crafted file cannot
# run code; the published files need only these.
SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),  # protocol 5
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how protocol-2 pickles store an array's bytes
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("collections", "OrderedDict"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and builtin containers only."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in SAFE_GLOBALS:
            raise pickle.UnpicklingError(
                f"it asks to build {module}.{name}, which a label file never needs "
                "(refused: a pickle can run code; only numpy arrays and builtin containers load)"
            )
        return super().find_class(module, name)


def load_label_pickle(path: Path) -> Any:
    """The object in a label pickle, built by the restricted unpickler (never `pickle.load`)."""
    with path.open("rb") as fh:
        return _ArrayUnpickler(fh).load()


def _vector(values: Any) -> list[float]:
    """A label vector from a list, tuple, string list or numpy array of any shape (1, 5)."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.isfinite(flat).all():
        raise ValueError("a value is not a finite number")
    return [float(v) for v in flat]


def read_annotations(path: Path, width: int) -> dict[str, tuple[float, ...]]:
    """Video file stem -> binary labels, from a pickle, JSON or text annotation file.

    Keys may name the video by path or file name and with any extension (STPrivacy's say
    `Class/name.mp4` for the `.avi` files of the releases); values may be lists or numpy
    arrays of any shape holding `width` numbers (the published ones are int64 (1, 5)).
    """
    try:
        if path.suffix in (".pickle", ".pkl"):
            raw: Any = load_label_pickle(path)
        elif path.suffix == ".json":
            raw = json.loads(path.read_text())
        else:
            raw = {}
            for line in path.read_text().splitlines():
                parts = line.replace(",", " ").split()
                if parts:
                    raw[parts[0]] = parts[1:]
    except (OSError, ValueError, pickle.UnpicklingError, EOFError, UnicodeDecodeError) as e:
        raise BenchError(f"VP annotations '{path}' are unreadable ({e})") from None
    except Exception as e:  # a damaged pickle can fail inside numpy in many ways
        raise BenchError(
            f"VP annotations '{path}' are unreadable ({type(e).__name__}: {e})"
        ) from None
    if not isinstance(raw, dict):
        raise BenchError(
            f"VP annotations '{path}': expected a mapping video -> labels, got a "
            f"{type(raw).__name__}"
        )
    out: dict[str, tuple[float, ...]] = {}
    for video, values in raw.items():
        try:
            vector = _vector(values)
        except (TypeError, ValueError) as e:
            raise BenchError(
                f"VP annotations '{path}': the labels of '{video}' are not numbers ({e})"
            ) from None
        if len(vector) != width:
            raise BenchError(
                f"VP annotations '{path}': '{video}' has {len(vector)} values, expected {width} "
                "(one per attribute of --attribute-order)"
            )
        stem = Path(str(video)).stem
        labels = tuple(float(v > 0) for v in vector)
        if out.get(stem, labels) != labels:
            raise BenchError(
                f"VP annotations '{path}': two entries name video '{stem}' with different "
                "labels; keep one"
            )
        out[stem] = labels
    return out


class _VP(Layout):
    videos: str  # the action layout whose videos and splits it labels
    default_file: str

    def scan(self, root: Path, options: ScanOptions) -> Catalog:
        """The official split's videos with their video-level privacy labels."""
        order = options.attribute_order or VP_ATTRIBUTES
        unknown = [a for a in order if a not in PRIVACY_GROUPS]
        if unknown or len(set(order)) != len(order):
            raise BenchError(
                f"--attribute-order {','.join(order)}: give each of {', '.join(VP_ATTRIBUTES)} once"
            )
        action = LAYOUTS.get(self.videos)().scan(root, options)
        path = options.annotations or root / self.default_file
        if not path.is_file():
            raise BenchError(
                f"no {self.name} annotations at '{path}'; put STPrivacy's {self.default_file} "
                "in the dataset root or pass --annotations FILE"
            )
        labels = read_annotations(path, len(order))
        problems = list(action.problems)
        splits: dict[str, list[ImageItem]] = {}
        count = options.frames_per_video
        for split, items in action.splits.items():
            splits[split] = []
            for it in items:
                vector = labels.get(it.path.stem)
                if vector is None:
                    problems.append(f"{it.path.name} has no label in {path.name}")
                    continue
                positions = [k / max(1, count - 1) for k in range(count)]
                splits[split] += [ImageItem(it.path, vector, position=p) for p in positions]
        return Catalog(self.name, "privacy", tuple(order), splits, root, problems)


@LAYOUTS.register("vpucf")
class VPUCF(_VP):
    """UCF101 videos with STPrivacy's five video-level privacy labels."""

    description = "VP-UCF: UCF101 videos, 5 video-level privacy attributes (STPrivacy)"
    expected = "a UCF101 tree plus ucf101_privacy_attribute_label.pickle"
    videos = "ucf101"
    default_file = "ucf101_privacy_attribute_label.pickle"


@LAYOUTS.register("vphmdb")
class VPHMDB(_VP):
    """HMDB51 videos with STPrivacy's five video-level privacy labels."""

    description = "VP-HMDB: HMDB51 videos, 5 video-level privacy attributes (STPrivacy)"
    expected = "an HMDB51 tree plus hmdb51_privacy_attribute_label.pickle"
    videos = "hmdb51"
    default_file = "hmdb51_privacy_attribute_label.pickle"


@DATASETS.register("vphmdb-vispr1")
class VPHMDBVispr1(RealBenchmark):
    """Table 1, VPHMDB: learn on HMDB51 split 1 + VISPR1; privacy scored on VP-HMDB test."""

    description = "HMDB51 split 1 + VISPR1, privacy on VP-HMDB (--data-root hmdb51=DIR vispr=DIR)"
    required_roots = ("hmdb51", "vispr")
    action_source = Source("hmdb51", "hmdb51")
    privacy_source = Source("vispr1", "vispr")

    def catalogs(self, role: str = "known") -> tuple[Catalog, Catalog]:
        """HMDB51 actions; VISPR1 train / val with VP-HMDB test frames."""
        hmdb, vispr = super().catalogs()
        vp = scan(Source("vphmdb", "hmdb51"), self.roots, self.options)
        self.test_attributes = vp.labels
        privacy = Catalog(
            "vispr1-vphmdb", "privacy", vispr.labels,
            {"train": vispr.splits["train"], "val": vispr.splits["val"], "test": vp.splits["test"]},
            vispr.root, vispr.problems + vp.problems,
        )  # fmt: skip
        return hmdb, privacy

    def privacy_data(self, catalog: Catalog, splits: Splits) -> PrivacyData:
        """VISPR1 for training and val; VP-HMDB's five attributes, grouped, for test."""
        attrs = self.test_attributes
        return PrivacyData(catalog.name, catalog.labels, splits, attrs, vispr1_groups(attrs))
