"""Penalty-driven anonymizer (Aslam & Nasrollahi): the paper's Algorithm 1.

fA (UNet++) minimises  L_T - L_B + lambda * max(0, RMS(X - fA(X)) - B)   (paper eqs. 3-4)
with fT, fB frozen (step 1), then fT (cross-entropy) and fB (NT-Xent, eq. 6, temperature
0.1) are updated with fA frozen (step 2); see `bench.minimax`. The penalty is computed per
clip and reaches fA's gradient. `penalty_grad=detached` reproduces the official code, where
the penalty is a Python float and so never changes fA (an ablation, labelled in the record).
"""

from __future__ import annotations

import torch

from bench.data import Benchmark
from bench.losses import budget_penalty
from bench.method import METHODS, Method, Param
from bench.minimax import MinimaxTrainer
from bench.models.anonymizer import FrameAnonymizer
from bench.runtime import RunContext


@METHODS.register("penalty")
class Penalty(Method):
    """Penalty-driven minimax anonymizer; B bounds how far fA may move action clips."""

    description = "penalty-driven UNet++ anonymizer (the paper's method)"
    trainable = True
    params = {
        "B": Param(
            0.3, "RMS budget: degradation of action clips beyond B is penalised", minimum=0.0
        ),
        "lam": Param(1.0, "weight lambda of the penalty term", minimum=0.0),
        "budget_weight": Param(1.0, "weight of -L_B in the anonymizer loss", minimum=0.0),
        "penalty_grad": Param(
            "full",
            "'full': penalty reaches fA's gradient; 'detached': official-code ablation",
            choices=("full", "detached"),
        ),
    }

    def __init__(self, **values: object) -> None:
        super().__init__(**values)
        self.fa: FrameAnonymizer | None = None

    def penalty(self, clips: torch.Tensor, anonymized: torch.Tensor) -> torch.Tensor:
        """lambda * max(0, RMS(X - fA(X)) - B), detached in the official-code ablation."""
        term = self.values["lam"] * budget_penalty(clips, anonymized, self.values["B"])
        return term.detach() if self.values["penalty_grad"] == "detached" else term

    def fit(self, data: Benchmark, ctx: RunContext) -> None:
        """Learn fA* with the shared minimax loop plus the budget penalty; saves its checkpoint."""
        trainer = MinimaxTrainer(
            ctx, budget_weight=self.values["budget_weight"], extra=self.penalty
        )
        self.fa = trainer.train(data)
        torch.save(self.fa.state_dict(), ctx.run_dir / "anonymizer.pt")

    def anonymize(self, clips: torch.Tensor) -> torch.Tensor:
        """fA*(clips), frame-wise."""
        if self.fa is None:
            raise RuntimeError("Penalty.anonymize called before fit")
        return self.fa(clips)
