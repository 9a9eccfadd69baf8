"""Penalty-driven anonymizer (Aslam & Nasrollahi): the paper's Algorithm 1.

fA (UNet++) minimises  L_T - L_B + lambda * max(0, RMS(X - fA(X)) - B)   (paper eqs. 3-4)
with fT, fB frozen (step 1), then fT (cross-entropy) and fB (NT-Xent, eq. 6, temperature
0.1) are updated with fA frozen (step 2); see `bench.engine.minimax`. It is SPAct's loop (methods/
spact.py) plus the penalty, computed per clip and reaching fA's gradient.
`penalty_grad=detached` reproduces the official code, where the penalty is a Python float
and so never changes fA (an ablation, labelled in the record).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from bench.methods.spact import SPAct

from bench.contract.method import METHODS, Param
from bench.engine.losses import budget_penalty
from bench.engine.minimax import ExtraLoss


@METHODS.register("penalty")
class Penalty(SPAct):
    """Penalty-driven minimax anonymizer; B bounds how far fA may move action clips."""

    description = "penalty-driven UNet++ anonymizer (the paper's method)"
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
    }

    def penalty(self, clips: torch.Tensor, anonymized: torch.Tensor) -> torch.Tensor:
        """lambda * max(0, RMS(X - fA(X)) - B), detached in the official-code ablation."""
        term = self.values["lam"] * budget_penalty(clips, anonymized, self.values["B"])
        return term.detach() if self.values["penalty_grad"] == "detached" else term

    def extra_loss(self) -> ExtraLoss:
        """The budget penalty."""
        return self.penalty
