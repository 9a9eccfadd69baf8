"""VISPR (Orekondy et al. 2017) in its released layout, as the VISPR1 and VISPR2 subsets.

Tree (ROOT is what `--root` / `--data-root vispr=` points at):

    ROOT/images/{train2017,val2017,test2017}/2017_<id>.{jpg,png,gif}
    ROOT/annotations/{train2017,val2017,test2017}/2017_<id>.json
        {"id": ..., "image_path": "images/train2017/2017_<id>.jpg", "labels": ["a17_color", ...]}

Most images are JPEG; 84 of the release's are PNG or GIF. Each is found through its
annotation's `image_path`, whatever its extension, and decoded by content (a GIF gives its
first frame). `bench data check` decodes every image.

The official val2017 split is the validation split. Subsets (paper, supplementary Table 4):
VISPR1 = gender, face complete / partial, semi-nudity, skin colour, personal / social
relationship; VISPR2 = hair colour, race, sports, age, weight, landmark, tattoo. An image
is a positive of every subset attribute in its `labels`; images with none are negatives.
`PRIVACY_GROUPS` maps the five video privacy attributes of PA-HMDB51 and VP-UCF / VP-HMDB
onto VISPR1 ids (VITA's `attributes_pa_hmdb51.csv`), for scoring a VISPR1 classifier there.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.contract.errors import BenchError
from bench.data.catalog import LAYOUTS, Catalog, ImageItem, Layout, ScanOptions, require_dir

VISPR1 = (
    "a4_gender",
    "a9_face_complete",
    "a10_face_partial",
    "a12_semi_nudity",
    "a17_color",
    "a64_rel_personal",
    "a65_rel_social",
)
VISPR2 = (
    "a6_hair_color",
    "a16_race",
    "a59_sports",
    "a1_age_approx",
    "a2_weight_approx",
    "a73_landmark",
    "a11_tattoo",
)
# video privacy attribute -> the VISPR1 ids it stands for (prediction = max over them)
PRIVACY_GROUPS = {
    "gender": ("a4_gender",),
    "face": ("a9_face_complete", "a10_face_partial"),
    "nudity": ("a12_semi_nudity",),
    "skin_color": ("a17_color",),
    "relationship": ("a64_rel_personal", "a65_rel_social"),
}
SPLIT_DIRS = {"train": "train2017", "val": "val2017", "test": "test2017"}
EXPECTED = (
    "images/{train2017,val2017,test2017}/*.jpg (or .png / .gif) and "
    "annotations/{train2017,val2017,test2017}/*.json"
)


def vispr1_groups(attributes: tuple[str, ...]) -> tuple[tuple[int, ...], ...]:
    """For each video privacy attribute, the indices of its VISPR1 ids."""
    return tuple(tuple(VISPR1.index(a) for a in PRIVACY_GROUPS[name]) for name in attributes)


class _Vispr(Layout):
    attributes: tuple[str, ...] = ()
    expected = EXPECTED

    def scan(self, root: Path, options: ScanOptions) -> Catalog:
        """Every annotated image of each official split, with the subset's multi-hot targets."""
        require_dir(root, "VISPR", EXPECTED)
        problems: list[str] = []
        splits = {}
        for split, folder in SPLIT_DIRS.items():
            annotations = root / "annotations" / folder
            if not annotations.is_dir():
                raise BenchError(
                    f"VISPR root '{root}' has no annotations/{folder}; expected {EXPECTED}"
                )
            items = []
            for path in sorted(annotations.glob("*.json")):
                try:
                    anno = json.loads(path.read_text())
                    labels = set(anno["labels"])
                except (ValueError, KeyError, TypeError) as e:
                    problems.append(f"{path}: malformed annotation ({e.__class__.__name__}: {e})")
                    continue
                image = root / anno.get("image_path", f"images/{folder}/{path.stem}.jpg")
                if not image.is_file():
                    problems.append(f"{path.name} names {image}, which does not exist")
                    continue
                items.append(ImageItem(image, tuple(float(a in labels) for a in self.attributes)))
            splits[split] = items
        return Catalog(self.name, "privacy", self.attributes, splits, root, problems)


@LAYOUTS.register("vispr1")
class Vispr1(_Vispr):
    """VISPR images with the VISPR1 attributes."""

    description = "VISPR1: 7 attributes (gender, face, nudity, skin colour, relationships)"
    attributes = VISPR1


@LAYOUTS.register("vispr2")
class Vispr2(_Vispr):
    """VISPR images with the VISPR2 attributes."""

    description = "VISPR2: 7 attributes (hair, race, sports, age, weight, landmark, tattoo)"
    attributes = VISPR2
