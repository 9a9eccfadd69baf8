"""Person detectors for the region baselines on real data: torchvision's COCO detection models,
their published weights read from local files (`weights`; nothing is downloaded).

Only the person class is kept. A detector returns, per frame, every person box it scores at
or above `SCORE_FLOOR` as `(score, x0, y0, x1, y1)` in the frame's pixel coordinates, so
one detection pass serves every later score threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench.contract.errors import BenchError
from bench.models.weights import PretrainedWeights, load_into, require_weights

PERSON = 1  # the person label of torchvision's COCO detectors (and of Keypoint R-CNN's two)
SCORE_FLOOR = 0.05  # boxes kept (torchvision's own box_score_thresh); thresholds are >= this


@dataclass(frozen=True)
class Detector:
    """One torchvision detection model with its published COCO checkpoint."""

    title: str  # what the record says
    builder: str  # the torchvision.models.detection function
    weights: PretrainedWeights
    num_classes: int = 91


DETECTORS: dict[str, Detector] = {
    "fasterrcnn": Detector(
        "Faster R-CNN ResNet-50 FPN (torchvision, COCO)",
        "fasterrcnn_resnet50_fpn",
        PretrainedWeights(
            "coco", "https://download.pytorch.org/models/fasterrcnn_resnet50_fpn_coco-258fb6c6.pth"
        ),
    ),
    "fasterrcnn-v2": Detector(
        "Faster R-CNN ResNet-50 FPN v2 (torchvision, COCO)",
        "fasterrcnn_resnet50_fpn_v2",
        PretrainedWeights(
            "coco",
            "https://download.pytorch.org/models/fasterrcnn_resnet50_fpn_v2_coco-dd69338a.pth",
        ),
    ),
    "maskrcnn": Detector(
        "Mask R-CNN ResNet-50 FPN (torchvision, COCO; its boxes)",
        "maskrcnn_resnet50_fpn",
        PretrainedWeights(
            "coco", "https://download.pytorch.org/models/maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth"
        ),
    ),
    "keypointrcnn": Detector(
        "Keypoint R-CNN ResNet-50 FPN (torchvision, COCO persons; its boxes)",
        "keypointrcnn_resnet50_fpn",
        PretrainedWeights(
            "coco",
            "https://download.pytorch.org/models/keypointrcnn_resnet50_fpn_coco-fc266e95.pth",
        ),
        num_classes=2,
    ),
}
DEFAULT_DETECTOR = "fasterrcnn"


def detector_info(name: str) -> Detector:
    """The registered detector `name`; a user error listing the others."""
    if name not in DETECTORS:
        raise BenchError(f"unknown person detector '{name}'; known: {', '.join(DETECTORS)}")
    return DETECTORS[name]


def untrained_detector(name: str, size: int) -> torch.nn.Module:
    """The architecture of `name`, randomly initialised, resizing frames to `size` px (short
    side). Mask and keypoint heads are switched off: only boxes are used."""
    from torchvision.models import detection

    info = detector_info(name)
    model = getattr(detection, info.builder)(
        weights=None,
        weights_backbone=None,
        num_classes=info.num_classes,
        box_score_thresh=SCORE_FLOOR,
        min_size=size,
        max_size=max(size, round(size * 1333 / 800)),
    )
    heads: Any = model.roi_heads
    heads.mask_roi_pool = heads.keypoint_roi_pool = None  # torchvision's has_mask / has_keypoint
    return model


def require_detector_weights(name: str, cache_dir: Path) -> Path:
    """The detector's local checkpoint; missing, a user error naming file, URL and folders."""
    return require_weights(detector_info(name).weights, cache_dir, f"person detector '{name}'")


def load_detector(name: str, size: int, cache_dir: Path) -> torch.nn.Module:
    """The detector with its published weights, in eval mode."""
    model = untrained_detector(name, size)
    load_into(model, detector_info(name).weights, cache_dir, f"person detector '{name}'")
    return model.eval()


@torch.no_grad()
def person_boxes(model: torch.nn.Module, frames: torch.Tensor) -> list[torch.Tensor]:
    """Per frame of uint8 (N, H, W, 3): float (K, 5) person boxes `(score, x0, y0, x1, y1)`."""
    device = next(model.parameters()).device
    images = [f.permute(2, 0, 1).to(device, torch.float32).div_(255.0) for f in frames]
    out = []
    for found in model(images):
        person = found["labels"] == PERSON
        boxes = torch.cat([found["scores"][person, None], found["boxes"][person]], dim=1)
        out.append(boxes.float().cpu())
    return out
