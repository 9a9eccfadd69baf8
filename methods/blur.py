"""Gaussian blur baselines (paper Table 1 rows Obf-StrongBlur and Obf-WeakBlur).

Frames are blurred with kornia's separable Gaussian (reflect border). As with blackening,
the paper's Obf-* rows obfuscate the person region; `region=person` (default) blurs inside
it, grown by `margin` px: the renderer's person masks on the synthetic benchmark, a person
detector's boxes on real data (`detector`, `min_score`; noted in the record).
`region=frame` blurs the whole frame.

Strength presets. We could not confirm the kernel and sigma of the source papers' presets
(VITA, SPAct: their released code only reads pre-blurred videos), so the presets are ours,
set relative to the frame side so they mean the same at every preset: strong sigma = side/16, weak sigma =
side/32 (2 and 1 px at the tiny preset's 32 px; 14 and 7 px at 224 px). The kernel spans
+-3 sigma (size 2*ceil(3 sigma)+1). Explicit `sigma` (px) and `kernel` override the preset.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import kornia
import torch

from bench.contract.config import Preset
from bench.contract.context import RunContext
from bench.contract.dataset import Benchmark, map_frames
from bench.contract.errors import BenchError
from bench.contract.frames import PersonRegions
from bench.contract.method import METHODS, Method, Param
from bench.training.person_region import (
    DETECTION_PARAMS,
    MAX_MARGIN,
    log_region,
    person_region,
    regions_from,
)

SIGMA_PER_SIDE = {"strong": 1 / 16, "weak": 1 / 32}
# The range accepted: a kernel must stay inside the frame (reflect padding) and no video is
# 8k px on its short side; past these a number only overflows (1e308 did). Below MIN_SIGMA
# a blur changes nothing, and a sigma that is 0 in float32 (1e-320) is kornia's traceback.
MIN_SIGMA = 0.01  # px, exclusive
MAX_SIGMA = 1000.0  # px; its derived kernel is MAX_KERNEL
MAX_KERNEL = 6001


def sigma_kernel(values: dict[str, Any], side: int) -> tuple[float, int]:
    """Sigma (px) and kernel size the parameter values give for frames `side` pixels wide."""
    sigma = values["sigma"] or SIGMA_PER_SIDE[values["strength"]] * side
    kernel = values["kernel"] or 2 * math.ceil(3 * sigma) + 1
    return sigma, kernel


@METHODS.register("blur")
class Blur(Method):
    """Gaussian blur of the person region (or the whole frame); strong and weak presets."""

    description = "Gaussian blur (kornia), strong / weak presets, person region or whole frame"
    paper = "the blurring baselines of VITA (TPAMI 2020) and SPAct (CVPR 2022)"
    params: ClassVar[dict[str, Param]] = {
        "strength": Param("strong", "preset sigma: strong = side/16, weak = side/32",
                          choices=("strong", "weak")),
        "sigma": Param(None, "explicit sigma in pixels (overrides strength)", minimum=MIN_SIGMA,
                       maximum=MAX_SIGMA, exclusive_minimum=True, kind=float),
        "kernel": Param(None, "odd kernel size (default 2*ceil(3*sigma)+1)", minimum=3,
                        maximum=MAX_KERNEL, kind=int),
        "region": Param("person", "what is blurred", choices=("person", "frame")),
        "margin": Param(1, "pixels the person region is grown by (region=person)", minimum=0,
                        maximum=MAX_MARGIN),
        **DETECTION_PARAMS,
    }  # fmt: skip

    @classmethod
    def person_regions(cls, values: dict[str, Any]) -> PersonRegions | None:
        """With region=person, people are found by the detector on data without masks."""
        return regions_from(values) if values["region"] == "person" else None

    @classmethod
    def validate(cls, values: dict[str, Any]) -> None:
        """The kernel must be odd."""
        if values["kernel"] is not None and values["kernel"] % 2 == 0:
            raise BenchError(
                f"--kernel={values['kernel']}: must be odd (e.g. {values['kernel'] + 1})"
            )

    @classmethod
    def check_preset(cls, values: dict[str, Any], preset: Preset) -> None:
        """The kernel must fit the frame (reflect padding needs kernel // 2 < side)."""
        side = preset.frame_size
        sigma, kernel = sigma_kernel(values, side)
        if kernel // 2 >= side:
            raise BenchError(
                f"blur kernel {kernel} (sigma {sigma:g}px) is too large for {side}px frames; "
                f"use --kernel <= {2 * side - 1} or a smaller --sigma"
            )

    def sigma_kernel(self, side: int) -> tuple[float, int]:
        """Sigma (px) and kernel size used for frames `side` pixels wide."""
        return sigma_kernel(self.values, side)

    def fit(self, data: Benchmark, ctx: RunContext) -> None:
        """Nothing to learn; records the effective sigma / kernel and the region used."""
        sigma, kernel = self.sigma_kernel(ctx.preset.frame_size)
        ctx.note("blur", f"sigma={sigma:g}px kernel={kernel}")
        if self.values["region"] == "person":
            log_region(data, ctx, self.name)

    def anonymize(self, clips: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """Blurred clips (inside the person region, or everywhere)."""
        sigma, kernel = self.sigma_kernel(clips.shape[-1])
        blurred = map_frames(
            lambda f: kornia.filters.gaussian_blur2d(f, kernel, (sigma, sigma), "reflect"), clips
        )
        if self.values["region"] == "frame":
            return blurred
        region = person_region(clips, masks, self.values["margin"])
        return clips + region * (blurred - clips)
