"""What a dataset family yields: video / image sets, their splits, the benchmark bundle a
protocol consumes, the `DatasetFamily` plug-in base, and clip / frame conversions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F

from bench.contract.errors import BenchError
from bench.contract.frames import FrameSource, PersonMasks
from bench.contract.registry import Registry

if TYPE_CHECKING:
    from bench.contract.config import Preset
    from bench.contract.context import RunContext


@dataclass(frozen=True)
class VideoArray:
    """Videos (uint8 frames) with int labels (N,); masks mark people (N, T, H, W) where known."""

    videos: FrameSource
    labels: torch.Tensor
    person_masks: PersonMasks | None = None

    def __len__(self) -> int:
        return len(self.videos)


@dataclass(frozen=True)
class ImageArray:
    """Images (one-frame videos of uint8 frames) with multi-hot float targets (N, A)."""

    images: FrameSource
    targets: torch.Tensor
    person_masks: PersonMasks | None = None  # (N, H, W) tensor, or one-frame mask videos

    def __len__(self) -> int:
        return len(self.images)

    def image(self, i: int) -> torch.Tensor:
        """uint8 (H, W, C) image `i`."""
        return self.images.read(i)[0]


@dataclass(frozen=True)
class Splits:
    """train / val / test of one set; model selection only ever looks at val."""

    train: Any
    val: Any
    test: Any


@dataclass(frozen=True)
class ActionData:
    """An action-recognition set (UCF101 role)."""

    name: str
    classes: tuple[str, ...]
    splits: Splits


@dataclass(frozen=True)
class PrivacyData:
    """A multi-label private-attribute set (VISPR role)."""

    name: str
    attributes: tuple[str, ...]
    splits: Splits
    # Where test uses other labels (PA-HMDB scored by a VISPR1 classifier): the test
    # attributes and, for each, the indices of `attributes` whose max predicts it.
    test_attributes: tuple[str, ...] | None = None
    test_groups: tuple[tuple[int, ...], ...] | None = None


@dataclass(frozen=True)
class Benchmark:
    """What a protocol trains and scores on: one action set and one private set."""

    action: ActionData
    privacy: PrivacyData


class DatasetFamily:
    """Plug-in base: a dataset family that yields benchmarks for the protocols' roles."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    roles: ClassVar[tuple[str, ...]] = ("known",)  # 'known'; 'novel' where a second set exists
    # whether the region baselines find people with a detector here (`RunContext.persons`,
    # real footage without person masks); otherwise `load` gives whatever masks it has
    detects_people: ClassVar[bool] = False
    # what a procedurally generated family's data is made by (its generator's version): part
    # of every record key, so records of other data are never reused; "" for data on disk
    version: ClassVar[str] = ""

    def __init__(self, roots: Mapping[str, Path] | None = None) -> None:
        if roots:
            raise BenchError(f"dataset '{self.name}' reads no --data-root; drop the option")

    def check_roles(self, roles: tuple[str, ...], protocol: str) -> None:
        """Fail before any work when `protocol` needs a setting this dataset lacks."""
        missing = [r for r in roles if r not in self.roles]
        if missing:
            raise BenchError(
                f"dataset '{self.name}' has no '{missing[0]}' setting, which protocol "
                f"'{protocol}' needs; its settings: {', '.join(self.roles)}"
            )

    def identity(self, roles: tuple[str, ...]) -> dict[str, dict[str, str]]:
        """What the data of each of `roles` is, independent of where it is mounted: per role,
        each set's fingerprint (part of every record key). Empty for generated data, which
        `version` and the seed identify."""
        return {}

    @classmethod
    def check_preset(cls, preset: Preset) -> None:
        """Fail before any work when the preset does not fit this data (e.g. clips longer
        than its videos); BenchError naming the setting."""

    def load(self, role: str, ctx: RunContext) -> Benchmark:
        """The benchmark for `role` ('known' or 'novel'); `ctx` gives cache dir, preset, notes."""
        raise NotImplementedError


DATASETS: Registry[DatasetFamily] = Registry("dataset", "bench.datasets")


def as_float(pixels: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N, T, H, W, C) clips or (N, H, W, C) images -> float (N, C, T, size, size) or
    (N, C, size, size) in [0, 1], each frame resized (bilinear) to size x size when it is not
    already, on the batch's device."""
    channels_first = (0, 4, 1, 2, 3) if pixels.dim() == 5 else (0, 3, 1, 2)
    # contiguous, as a stack of per-item conversions was: the same kernels, the same numbers
    x = pixels.permute(*channels_first).contiguous().float().div_(255.0)
    h, w = x.shape[-2:]
    if (h, w) == (size, size):
        return x
    planes = x.reshape(x.shape[0], -1, h, w)  # bilinear works plane by plane
    out = F.interpolate(planes, size=(size, size), mode="bilinear", align_corners=False)
    return out.reshape(*x.shape[:-2], size, size)


def to_float_clip(frames_thwc: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (T, H, W, C) -> float (C, T, size, size) in [0, 1] (`as_float` of one clip)."""
    return as_float(frames_thwc[None], size)[0]


def map_frames(fn: Callable[[torch.Tensor], torch.Tensor], clips: torch.Tensor) -> torch.Tensor:
    """Apply an image function (N, C, H, W) -> (N, C', H, W) to every frame of (N, C, T, H, W)."""
    n, c, t, h, w = clips.shape
    out = fn(clips.transpose(1, 2).reshape(n * t, c, h, w))
    return out.reshape(n, t, out.shape[1], h, w).transpose(1, 2)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Float in [0, 1] -> uint8, rounding (how an anonymized stream is stored)."""
    return x.clamp(0, 1).mul(255.0).round().to(torch.uint8)
