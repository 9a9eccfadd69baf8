"""Anonymizers for footage outside the benchmark: a stored fA* or a fixed method, applied to
frames of any size (what `bench anonymize` runs and `bench export` writes out).

* `PaddedAnonymizer` is fA* for any frame size: (N, 3, H, W) RGB in [0, 1] is padded
  (replicating the border) to a multiple of the UNet++'s output stride (32 at the paper's
  depth 5), passed through fA*, and cropped back.
* `FrameTransform` is what is applied to each batch of decoded frames: fA* or a fixed method
  (blur, downsample, blackening; a region baseline finds people with its detector, whose
  weights must be on disk) and the side it runs at. By default (`auto`) a learned fA* runs
  at the preset's frame size, the side the benchmark trained and measured it at (`trained`):
  the frame's short side is resized to it (aspect kept) and the output resized back to the
  source size. Real datasets are trained on a 0.8 centre crop squeezed to a square, so there
  people appeared 1.25x larger than in a whole frame resized this way. A fixed method runs
  at the source size (`native`): `--factor 4` downsamples the video 4x, not the benchmark's
  32 px frames. `native` applies a learned fA* at the source size, which is off the
  distribution it was trained on; `trained` runs a fixed method at the benchmark's size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from bench.contract.config import Preset
from bench.contract.context import autocast
from bench.contract.dataset import to_uint8
from bench.contract.errors import BenchError
from bench.contract.frames import PersonRegions
from bench.contract.method import Method, params_text
from bench.deployment.fit_catalog import Anonymizer
from bench.models.anonymizer import FrameAnonymizer
from bench.models.person_detector import load_detector, person_boxes, require_detector_weights
from bench.training.anonymize_splits import checked_anonymize
from bench.training.person_region import DETECT_BATCH, fill_boxes

RESOLUTIONS = ("auto", "trained", "native")


class PaddedAnonymizer(nn.Module):
    """fA* on frames of any size: pad to its output stride (replicate), apply, crop back,
    clamp to [0, 1]."""

    def __init__(self, fa: FrameAnonymizer) -> None:
        super().__init__()
        self.fa = fa
        self.multiple = fa.output_stride

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) float RGB in [0, 1] -> the anonymized frames, same shape and range."""
        h, w = frames.shape[-2], frames.shape[-1]
        out = self.fa.forward_frames(pad_to(frames, self.multiple))[:, :, :h, :w]
        return out.clamp(0, 1)  # an unbounded fA (anon_output=none) gives frames in [0, 1]


def pad_to(frames: torch.Tensor, multiple: int) -> torch.Tensor:
    """(N, C, H, W) padded at the bottom and right (replicating the border) to sides that are
    multiples of `multiple` (TorchScript-compatible: the export uses it as it is)."""
    h, w = frames.shape[-2], frames.shape[-1]
    return F.pad(frames, [0, (-w) % multiple, 0, (-h) % multiple], mode="replicate")


class FramePeople:
    """A region baseline's person masks for frames outside the benchmark: its detector, run
    on every batch (boxes scoring at least `min_score`)."""

    def __init__(self, regions: PersonRegions, cache_dir: Path, device: torch.device) -> None:
        require_detector_weights(regions.detector, cache_dir)  # a BenchError naming the file
        self.model = load_detector(regions.detector, regions.size, cache_dir).to(device)
        self.min_score = regions.min_score

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) float frames -> (N, 1, 1, H, W) float masks, 1 inside person boxes;
        detected in fp32, DETECT_BATCH frames a call, as the benchmark's `DetectedPeople`."""
        n, _, h, w = frames.shape
        pixels = to_uint8(frames.float()).permute(0, 2, 3, 1)
        masks = torch.zeros(n, h, w, dtype=torch.uint8)
        with torch.autocast(frames.device.type, enabled=False):
            for start in range(0, n, DETECT_BATCH):
                found = person_boxes(self.model, pixels[start : start + DETECT_BATCH])
                for mask, boxes in zip(masks[start : start + DETECT_BATCH], found, strict=True):
                    fill_boxes(mask, boxes, self.min_score)
        return masks.to(frames.device, torch.float32)[:, None, None]


@dataclass(frozen=True)
class FrameTransform:
    """What `bench anonymize` applies: `frames` maps float (N, 3, h, w) RGB in [0, 1] on
    `device` to the same shape; `side` is the short side the benchmark ran it at and
    `precision` the arithmetic it ran in (the preset's, `autocast`)."""

    name: str
    frames: Callable[[torch.Tensor], torch.Tensor]
    side: int
    device: torch.device
    precision: str
    learned: bool = True  # a learned fA* (else a fixed method)

    def resolution(self, requested: str = "auto") -> str:
        """'trained' or 'native': `requested`, with 'auto' resolved (a learned fA* at its
        trained size, a fixed method at the source size)."""
        if requested != "auto":
            return requested
        return "trained" if self.learned else "native"

    @torch.no_grad()
    def __call__(self, pixels: torch.Tensor, resolution: str = "auto") -> torch.Tensor:
        """uint8 (N, H, W, 3) RGB frames -> anonymized uint8 (N, H, W, 3), on `device`."""
        x = pixels.to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
        h, w = x.shape[-2:]
        native = self.resolution(resolution) == "native"
        size = (h, w) if native else working_size(h, w, self.side)
        if size != (h, w):
            x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
        with autocast(self.device, self.precision):
            y = self.frames(x).float()
        if size != (h, w):
            y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)
        return to_uint8(y).permute(0, 2, 3, 1)


def working_size(height: int, width: int, side: int) -> tuple[int, int]:
    """(height, width) with the short side resized to `side`, the aspect ratio kept."""
    scale = side / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def check_resolution(resolution: str) -> str:
    """`resolution` if it is one of RESOLUTIONS, else a BenchError naming them."""
    if resolution not in RESOLUTIONS:
        raise BenchError(f"--resolution {resolution}: must be one of {', '.join(RESOLUTIONS)}")
    return resolution


def learned_transform(
    name: str, fa: FrameAnonymizer, preset: Preset, device: torch.device
) -> FrameTransform:
    """fA* (in eval mode, on `device`) for frames of any size, as `preset` ran it."""
    padded = PaddedAnonymizer(fa).to(device).eval()
    return FrameTransform(name, padded, preset.frame_size, device, preset.precision)


def fixed_transform(
    method: Method,
    regions: PersonRegions | None,
    cache_dir: Path,
    preset: Preset,
    device: torch.device,
) -> FrameTransform:
    """A fixed method on frames, each as a one-frame clip (with its detector's person masks
    when it is a region baseline)."""
    if method.reference:
        raise BenchError(
            f"method '{method.name}' is a reference that reads the synthetic renderer's labels; "
            "it cannot anonymize footage"
        )
    try:
        people = None if regions is None else FramePeople(regions, cache_dir, device)
    except BenchError as exc:
        if "region" not in method.values:
            raise
        raise BenchError(
            f"{exc}. Or anonymize whole frames, which needs no detector: --region frame"
        ) from None

    def frames(x: torch.Tensor) -> torch.Tensor:
        masks = None if people is None else people(x)
        return checked_anonymize(method, x.unsqueeze(2), masks).squeeze(2)

    values = params_text(method.values)
    name = f"{method.name} {values}".strip()
    return FrameTransform(name, frames, preset.frame_size, device, "fp32", False)  # `arithmetic`


def transform_of(chosen: Anonymizer, cache_dir: Path, device: torch.device) -> FrameTransform:
    """The frame transform of a stored fit or a fixed method, on `device`."""
    if chosen.fit is not None:
        name = f"fA* of fit {chosen.fit.key} ({chosen.fit.describe()})"
        return learned_transform(name, chosen.fit.anonymizer(), chosen.preset, device)
    assert chosen.method is not None
    method = chosen.method
    regions = type(method).person_regions(method.values)
    return fixed_transform(method, regions, cache_dir, chosen.preset, device)
