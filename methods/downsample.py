"""Downsampling baseline (paper Table 1 rows Downsample-2x and Downsample-4x).

Each frame is area-averaged down by `factor` (every output pixel is the mean of a
factor x factor block), then resized back to the input size bilinearly, so every model sees
the usual input size. Source: the low-resolution baselines of SPAct (Dave et al., CVPR 2022)
and VITA (Wu et al., TPAMI 2020); SPAct's released loader shrinks the frame and resizes it
back up with bilinear interpolation. We use area averaging for the shrink (no aliasing).
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from bench.contract.dataset import map_frames
from bench.contract.method import METHODS, Method, Param


@METHODS.register("downsample")
class Downsample(Method):
    """Low resolution: area-downsample every frame by `factor`, then resize it back."""

    description = "area-downsample each frame by 2x or 4x, then resize back (bilinear)"
    paper = "the low-resolution baselines of VITA (TPAMI 2020) and SPAct (CVPR 2022)"
    params: ClassVar[dict[str, Param]] = {
        "factor": Param(2, "downsampling factor (Downsample-2x / -4x rows)", choices=(2, 4)),
    }

    def _frames(self, frames: torch.Tensor) -> torch.Tensor:
        f = self.values["factor"]
        small = F.avg_pool2d(frames, f, ceil_mode=True)
        return F.interpolate(small, size=frames.shape[-2:], mode="bilinear", align_corners=False)

    def anonymize(self, clips: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """Every frame at 1/factor resolution, shown at the original size."""
        return map_frames(self._frames, clips)
