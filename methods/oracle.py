"""Oracle reference (synthetic benchmark only; never a baseline of the paper's tables).

It reads the synthetic renderer's region labels (`bench.contract.dataset.REGION_*`), which
no real anonymizer has, and keeps exactly what carries the action:
* the action-carrying pixels (the hands and the shirt, whose checker flicker and ripple
  tell two of the pairs apart; the trousers in the novel set) as they are;
* the actor's body as a flat grey silhouette (coarse motion and the legs' articulation live
  in its shape);
* everything else, background, props, bystander, worn and carried items, flattened to one grey.
So a fresh fT' should score about raw's top-1, and a fresh fB' can read only what the
action pixels entangle (the hands' skin colour, the novel set's logo on the shirt) and the
silhouette's shape (long hair, a bag, a hat, height). It is the
headroom a learned frame-wise anonymizer could reach on this data.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from bench.contract.context import RunContext
from bench.contract.dataset import Benchmark
from bench.contract.errors import BenchError
from bench.contract.frames import REGION_ACTION, REGION_BODY
from bench.contract.method import METHODS, Method, Param

BACKGROUND, SILHOUETTE = 0.5, 0.25


@METHODS.register("oracle")
class Oracle(Method):
    """Keeps the renderer's action-carrying pixels and the body silhouette; flattens the rest."""

    description = "reference (synthetic only): keeps the action pixels, flattens everything else"
    params: ClassVar[dict[str, Param]] = {}
    reference: ClassVar[bool] = True

    def fit(self, data: Benchmark, ctx: RunContext) -> None:
        """Nothing to learn; the dataset must carry region labels (the synthetic one does)."""
        sets = (data.action.splits.train, data.privacy.splits.train)
        labelled = [
            isinstance(s.person_masks, torch.Tensor)
            and bool((s.person_masks == REGION_ACTION).any())
            for s in sets
        ]
        if not all(labelled):
            raise BenchError(
                f"method 'oracle' needs the synthetic renderer's region labels, which "
                f"'{data.action.name}' / '{data.privacy.name}' do not have; it is a reference "
                "for --dataset synthetic only"
            )

    def anonymize(self, clips: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """Action pixels kept, body silhouette flat grey, everything else one grey."""
        if masks is None:
            raise BenchError("method 'oracle': needs region masks (synthetic data only)")
        out = torch.full_like(clips, BACKGROUND)
        out = torch.where(masks == REGION_BODY, torch.full_like(clips, SILHOUETTE), out)
        return torch.where(masks == REGION_ACTION, clips, out)
