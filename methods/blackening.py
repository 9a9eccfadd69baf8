"""Blackening baseline (paper Table 1 row Obf-Blackening, from VITA / SPAct).

Obfuscation by removal: the person region of every frame is set to black. As in the
original baseline, on real data the region is found by an off-the-shelf person detector
(`detector`, boxes scoring >= `min_score`, run once per split and stored); on the synthetic
benchmark it is the renderer's person masks. Either is grown by `margin` pixels. The
record's `notes.region` and `notes.person_regions` say which was used. See
`bench.training.person_region`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from bench.contract.context import RunContext
from bench.contract.dataset import Benchmark
from bench.contract.frames import PersonRegions
from bench.contract.method import METHODS, Method, Param
from bench.training.person_region import (
    DETECTION_PARAMS,
    MAX_MARGIN,
    log_region,
    person_region,
    regions_from,
)


@METHODS.register("blackening")
class Blackening(Method):
    """Black out the person region (rendered person masks, or detected people on real data)."""

    description = "black out the person region (rendered masks, or a person detector)"
    paper = "the blackening baseline of VITA (TPAMI 2020) and SPAct (CVPR 2022)"
    params: ClassVar[dict[str, Param]] = {
        "margin": Param(1, "pixels the person region is grown by", minimum=0, maximum=MAX_MARGIN),
        **DETECTION_PARAMS,
    }

    @classmethod
    def person_regions(cls, values: dict[str, Any]) -> PersonRegions:
        """People are found by the chosen detector on data without person masks."""
        return regions_from(values)

    def fit(self, data: Benchmark, ctx: RunContext) -> None:
        """Nothing to learn; records where the person region comes from."""
        log_region(data, ctx, self.name)

    def anonymize(self, clips: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """Clips with the person region set to 0."""
        return clips * (1 - person_region(clips, masks, self.values["margin"]))
