"""Pixelation baseline: every frame is shown as a mosaic of `block` x `block` squares.

Each square takes the mean colour of the pixels it covers (area downsampling), then is
enlarged back with nearest-neighbour, so the mosaic's edges stay hard (unlike `downsample`,
which resizes back smoothly).
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from bench.contract.dataset import map_frames
from bench.contract.method import METHODS, Method, Param


@METHODS.register("pixelate")
class Pixelate(Method):
    """Mosaic of block x block squares, each the mean colour of its pixels."""

    description = "pixelation: mosaic of block x block mean-colour squares"
    params: ClassVar[dict[str, Param]] = {
        "block": Param(4, "side of a mosaic square in pixels", minimum=2, maximum=64),
    }

    def _frames(self, frames: torch.Tensor) -> torch.Tensor:
        small = F.avg_pool2d(frames, self.values["block"], ceil_mode=True)
        return F.interpolate(small, scale_factor=self.values["block"], mode="nearest")[
            ..., : frames.shape[-2], : frames.shape[-1]
        ]

    def anonymize(self, clips: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """(N, C, T, H, W) in [0, 1] -> the pixelated clips, same shape."""
        return map_frames(self._frames, clips)
