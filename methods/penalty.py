"""Penalty-driven anonymizer (Aslam & Nasrollahi): the paper's Algorithm 1.

fA (UNet++) minimises  L_T - L_B + lambda * max(0, RMS(X - fA(X)) - B)   (paper eqs. 3-4)
with fT, fB frozen (step 1), then fT (cross-entropy) and fB (NT-Xent, eq. 6, temperature
0.1) are updated with fA frozen (step 2); see `bench.training.game`. It is SPAct's loop
(`methods/spact.py`) plus the penalty, reaching fA's gradient.
* `rms=clip` (default) hinges each clip's RMS and averages; `rms=batch` hinges one RMS over
  the whole batch, as the released code does.
* `penalty_grad=detached` makes the penalty a constant, as in the released code, where it
  is a Python float and so never changes fA (an ablation, labelled in the record). With
  `rms=batch` and `ssl_pairs=views` (the default) that is the released code's objective.
Each minimax epoch logs the fraction of clips whose RMS exceeds B (`hinge_active`).
"""

from __future__ import annotations

from typing import ClassVar

import torch

from bench.contract.method import METHODS, Param
from bench.methods.spact import SPAct
from bench.training.game import ExtraLoss
from bench.training.losses import budget_penalty, rms_per_sample


@METHODS.register("penalty")
class Penalty(SPAct):
    """Penalty-driven minimax anonymizer; B bounds how far fA may move action clips."""

    description = "penalty-driven UNet++ anonymizer (the paper's method)"
    paper = "Aslam & Nasrollahi, Balancing Privacy and Action Performance: A Penalty-Driven Approach to Image Anonymization"
    params: ClassVar[dict[str, Param]] = {
        "B": Param(
            0.3, "RMS budget: degradation of action clips beyond B is penalised", minimum=0.0
        ),
        "lam": Param(1.0, "weight lambda of the penalty term", minimum=0.0),
        **SPAct.params,
        "penalty_grad": Param(
            "full",
            "'full': penalty reaches fA's gradient; 'detached': official-code ablation",
            choices=("full", "detached"),
        ),
        "rms": Param(
            "clip",
            "hinge each clip's RMS ('clip') or one RMS of the batch ('batch', released code)",
            choices=("clip", "batch"),
        ),
    }

    def penalty(
        self, clips: torch.Tensor, anonymized: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """lambda * max(0, RMS(X - fA(X)) - B), detached in the official-code ablation, and
        the fraction of clips over the budget."""
        budget = self.values["B"]
        term = self.values["lam"] * budget_penalty(clips, anonymized, budget, self.values["rms"])
        active = (rms_per_sample(clips, anonymized.detach()) > budget).float().mean().item()
        term = term.detach() if self.values["penalty_grad"] == "detached" else term
        return term, {"hinge_active": active}

    def extra_loss(self) -> ExtraLoss:
        """The budget penalty."""
        return self.penalty
