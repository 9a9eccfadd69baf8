"""Raw data: no anonymization (the reference every table's relative drop is computed from)."""

from __future__ import annotations

import torch

from bench.contract.method import METHODS, Method


@METHODS.register("raw")
class Raw(Method):
    """Identity: clips pass through unchanged."""

    description = "no anonymization (reference row of every table)"

    def anonymize(self, clips: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """Return the clips as they are."""
        return clips
