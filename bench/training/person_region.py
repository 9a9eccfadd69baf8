"""Where the fixed obfuscation baselines act: the person region, or the whole frame.

The paper's Obf-* rows (from VITA / SPAct) obfuscate the region of a person detector. On
the synthetic benchmark the region is the dataset's person masks (the renderer knows them
exactly). On real data a person detector (`bench.models.person_detector`, weights from a
local file) runs once per prepared split, on the working-size frames the methods see; its
person boxes are stored beside the frame pack (`<pack>.persons-<detector>-<size>px.npz`)
with their scores, so every score threshold reuses one pass. A region baseline then fills
the boxes scoring at least `min_score`. Either region is grown by `margin` px. The record
says which region was used (`notes.region`, `notes.person_regions`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.contract.context import RunContext
from bench.contract.dataset import Benchmark
from bench.contract.errors import BenchError
from bench.contract.frames import FrameSource, PersonRegions, Report
from bench.contract.locks import Notify, exclusive, to_stderr
from bench.contract.method import Param
from bench.data.cache import atomic_save_npz
from bench.data.frame_store import PackedFrames
from bench.models.person_detector import (
    DEFAULT_DETECTOR,
    DETECTORS,
    SCORE_FLOOR,
    detector_info,
    load_detector,
    person_boxes,
    require_detector_weights,
)

MAX_MARGIN = 4096  # px: the largest `margin` a region baseline grows its people by
# The detection parameters of every region baseline (blackening, blur --region person).
DETECTION_PARAMS: dict[str, Param] = {
    "detector": Param(DEFAULT_DETECTOR, "person detector on real data (weights from a local file)",
                      choices=tuple(DETECTORS), detection=True),
    "min_score": Param(0.5, "detector score a person box must reach (real data)",
                       minimum=SCORE_FLOOR, maximum=1.0, kind=float, detection=True),
    "detect_size": Param(800, "short side the detector resizes frames to (its own default: 800)",
                         minimum=32, maximum=2048, detection=True),
}  # fmt: skip
DETECT_BATCH = 8  # frames per detector call


def regions_from(values: dict[str, Any]) -> PersonRegions:
    """The PersonRegions a region baseline's parameter values ask for."""
    return PersonRegions(values["detector"], float(values["min_score"]), int(values["detect_size"]))


def person_region(clips: torch.Tensor, masks: torch.Tensor | None, margin: int) -> torch.Tensor:
    """(N, 1, T, H, W) float in {0, 1}: masks grown by `margin` px, or all ones without masks."""
    if masks is None:
        n, _, t, h, w = clips.shape
        return clips.new_ones(n, 1, t, h, w)
    region = (masks > 0).to(clips.dtype)
    if margin > 0:
        k = 2 * margin + 1
        region = F.max_pool3d(region, (1, k, k), stride=1, padding=(0, margin, margin))
    return region


def log_region(data: Benchmark, ctx: RunContext, method: str) -> None:
    """Record (and warn, on fallback) whether person masks, detected people or whole frames
    are used."""
    sets = {"action": data.action.splits, "private": data.privacy.splits}
    missing = [
        name
        for name, splits in sets.items()
        if any(s.person_masks is None for s in (splits.train, splits.val, splits.test))
    ]
    found = "detected people" if ctx.persons is not None else "person masks"
    if not missing:
        ctx.note("region", found)
        return
    region = "; ".join(
        f"{name}: {'whole frame (no person masks)' if name in missing else found}" for name in sets
    )
    ctx.note("region", region)
    ctx.console.print(
        f"[yellow]{method}: no person masks in the {', '.join(missing)} set; "
        "using whole frames there"
    )


class DetectedPeople:
    """A `PersonFinder`: runs a detector over a split's stored frames once, keeps the person
    boxes, and serves them as masks at a score threshold."""

    def __init__(
        self,
        regions: PersonRegions,
        cache_dir: Path,
        device: torch.device,
        notify: Notify | None = None,
    ) -> None:
        self.regions, self.cache_dir, self.device = regions, cache_dir, device
        self.notify = notify or to_stderr
        self.description = (
            f"{detector_info(regions.detector).title}, person score >= {regions.min_score:g}, "
            f"frames resized to {regions.size} px for detection"
        )
        self._model: torch.nn.Module | None = None
        self._checkpoint: dict[str, Any] | None = None

    def check(self) -> None:
        """Fail before any work when the detector's checkpoint is not on this machine."""
        require_detector_weights(self.regions.detector, self.cache_dir)

    def provenance(self, store: Path) -> dict[str, Any]:
        """What the boxes of the pack at `store` depend on besides its frame counts: the
        detector, its input size and checkpoint (by content), the score floor, torchvision,
        and the pack file itself (rebuilt, e.g. by another decoder, it is detected again)."""
        if self._checkpoint is None:
            path = require_detector_weights(self.regions.detector, self.cache_dir)
            digest = hashlib.sha256()
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 24), b""):
                    digest.update(block)
            self._checkpoint = {"file": path.name, "sha256": digest.hexdigest()}
        frames_file = store.with_suffix(".frames")
        stat = frames_file.stat() if frames_file.is_file() else None
        return {
            "detector": self.regions.detector,
            "size": self.regions.size,
            "checkpoint": self._checkpoint,
            "score_floor": SCORE_FLOOR,
            "torchvision": importlib.metadata.version("torchvision"),
            "pack": None if stat is None else [stat.st_size, stat.st_mtime_ns],
        }

    def boxes_path(self, store: Path) -> Path:
        """Where the boxes of the split stored at `store` are kept."""
        return store.with_name(
            f"{store.name}.persons-{self.regions.detector}-{self.regions.size}px.npz"
        )

    def masks(self, frames: FrameSource, store: Path, report: Report) -> BoxMasks:
        """Person masks of every video of `frames` (boxes detected now or read back)."""
        path = self.boxes_path(store)
        with exclusive(path, f"person detection for {store.name}", self.notify):
            made_of = json.dumps(self.provenance(store), sort_keys=True)
            boxes, why = _read_boxes(path, frames, made_of)
            if why:
                self.notify(f"stored person boxes {path} {why}; detecting people again")
            if boxes is None:
                boxes = self._detect(frames, report, store.name)
                atomic_save_npz(path, {**boxes, "provenance": np.asarray(made_of)})
        return BoxMasks(frames, boxes["counts"], boxes["boxes"], self.regions.min_score)

    def _detect(self, frames: FrameSource, report: Report, name: str) -> dict[str, np.ndarray]:
        if self._model is None:
            self._model = load_detector(self.regions.detector, self.regions.size, self.cache_dir)
            self._model.to(self.device)
        counts: list[int] = []
        found: list[torch.Tensor] = []
        advance = report(f"{name}: find people", len(frames))
        for i in range(len(frames)):
            video = frames.read(i)
            for start in range(0, len(video), DETECT_BATCH):
                for boxes in person_boxes(self._model, video[start : start + DETECT_BATCH]):
                    counts.append(len(boxes))
                    found.append(boxes)
            advance()
        every = torch.cat(found) if found else torch.zeros(0, 5)
        return {
            "counts": np.asarray(counts, dtype=np.int64),
            "boxes": every.numpy().astype(np.float32),
            "videos": np.asarray([_stored(frames, i) for i in range(len(frames))], dtype=np.int64),
        }


def _stored(frames: FrameSource, i: int) -> int:
    """How many frames video `i` of `frames` stores (every `stride`-th of its length)."""
    return PackedFrames.stored_count(frames.length(i), getattr(frames, "stride", 1))


def _read_boxes(
    path: Path, frames: FrameSource, made_of: str
) -> tuple[dict[str, np.ndarray] | None, str]:
    """(stored boxes that fit `frames` and were `made_of` the same things, "") or (None, why
    not); no file is (None, "")."""
    if not path.is_file():
        return None, ""
    try:
        with np.load(path) as npz:
            out = {k: npz[k] for k in ("counts", "boxes", "videos", "provenance")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        return None, f"are unreadable ({type(exc).__name__})"
    if str(out["provenance"]) != made_of:
        return None, "come from another detector checkpoint, setting or frame pack"
    expected = [_stored(frames, i) for i in range(len(frames))]
    if (
        out["videos"].tolist() != expected
        or out["counts"].ndim != 1
        or (out["counts"] < 0).any()
        or int(out["counts"].sum()) != len(out["boxes"])
        or len(out["counts"]) != sum(expected)
        or out["boxes"].ndim != 2
        or out["boxes"].shape[1] != 5
        or not np.isfinite(out["boxes"]).all()
    ):
        return None, "do not match the prepared frames"
    return out, ""


def fill_boxes(mask: torch.Tensor, boxes: np.ndarray | torch.Tensor, min_score: float) -> None:
    """Set `mask` (H, W) to 1 inside every `(score, x0, y0, x1, y1)` box scoring >= min_score."""
    for score, x0, y0, x1, y1 in boxes.tolist():
        if score >= min_score:
            top, left = max(0, math.floor(y0)), max(0, math.floor(x0))
            mask[top : math.ceil(y1), left : math.ceil(x1)] = 1


class BoxMasks:
    """A FrameSource of (T, H, W, 1) uint8 masks: 1 inside the person boxes of each stored
    frame of `frames` that score at least `min_score`, read with the frames' indices."""

    def __init__(
        self, frames: FrameSource, counts: np.ndarray, boxes: np.ndarray, min_score: float
    ) -> None:
        if min_score < SCORE_FLOOR:
            raise BenchError(f"min_score {min_score}: boxes are kept from {SCORE_FLOOR} on")
        self.frames = frames
        self.stride = getattr(frames, "stride", 1)
        self.min_score = min_score
        per_frame = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.box_start, self.boxes = per_frame, boxes
        stored = [_stored(frames, i) for i in range(len(frames))]
        self.frame_start = np.concatenate([[0], np.cumsum(stored)]).astype(np.int64)
        first = frames.read(0, torch.zeros(1, dtype=torch.long)) if len(frames) else None
        self.height, self.width = (0, 0) if first is None else tuple(first.shape[1:3])

    def __len__(self) -> int:
        return len(self.frames)

    def length(self, i: int) -> int:
        """Frames of video `i`, as its frames source says."""
        return self.frames.length(i)

    def read(self, i: int, indices: torch.Tensor | None = None) -> torch.Tensor:
        """uint8 (T, H, W, 1) masks of video `i` at `indices` (every stored frame if None)."""
        first, stop = int(self.frame_start[i]), int(self.frame_start[i + 1])
        if indices is None:
            stored = np.arange(stop - first)
        else:
            stored = (indices.numpy() // self.stride).clip(0, stop - first - 1)
        out = torch.zeros(len(stored), self.height, self.width, 1, dtype=torch.uint8)
        for t, k in enumerate(stored):
            frame = first + int(k)
            boxes = self.boxes[self.box_start[frame] : self.box_start[frame + 1]]
            fill_boxes(out[t, :, :, 0], boxes, self.min_score)
        return out

    def coverage(self) -> float:
        """Share of stored frames with at least one person box at the threshold."""
        keep = self.boxes[:, 0] >= self.min_score if len(self.boxes) else np.zeros(0, bool)
        frames = len(self.box_start) - 1
        if frames == 0:
            return 0.0
        owner = np.repeat(np.arange(frames), np.diff(self.box_start))
        return float(len(np.unique(owner[keep])) / frames)
