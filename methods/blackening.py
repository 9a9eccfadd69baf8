"""Blackening baseline (paper Table 1 row Obf-Blackening, from VITA / SPAct).

Obfuscation by removal: the person region of every frame is set to black. The original
baseline blackens the region found by an off-the-shelf person detector; here the region is
the dataset's person masks (exact on the synthetic benchmark, which renders them), grown by
`margin` pixels as a detector's region is looser than the silhouette. A dataset without
person masks falls back to the whole frame (every pixel black: the no-information lower
bound); the record's `notes.region` says which was used. See `bench.engine.person_region`.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from bench.contract.context import RunContext
from bench.contract.dataset import Benchmark
from bench.contract.method import METHODS, Method, Param
from bench.engine.person_region import log_region, person_region


@METHODS.register("blackening")
class Blackening(Method):
    """Black out the person region (dataset person masks; whole frame when there are none)."""

    description = "black out the person region (person masks, else the whole frame)"
    params: ClassVar[dict[str, Param]] = {
        "margin": Param(1, "pixels the person mask is grown by (detector-box slack)", minimum=0),
    }

    def fit(self, data: Benchmark, ctx: RunContext) -> None:
        """Nothing to learn; records whether person masks are available."""
        log_region(data, ctx, self.name)

    def anonymize(self, clips: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """Clips with the person region set to 0."""
        return clips * (1 - person_region(clips, masks, self.values["margin"]))
