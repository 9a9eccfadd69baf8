"""The base of the learned methods (`AdversarialMethod`): `fit` plays the minimax game of
`bench.training.game` with the method's budget branch, weight, extra term and learning rate;
`anonymize` applies fA*. Plug-ins subclass it (methods/spact.py, penalty.py, vita.py)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from bench.contract.context import RunContext
from bench.contract.dataset import Benchmark
from bench.contract.errors import BenchError
from bench.contract.method import Method, Param
from bench.models.anonymizer import FrameAnonymizer
from bench.training.budget import BudgetBranch
from bench.training.game import ExtraLoss, MinimaxTrainer
from bench.training.identity import restored_anonymizer
from bench.training.recipes import recipe_of

LR_PARAM = Param(
    None,
    "fA learning rate (default: the preset's lr_anon)",
    minimum=0.0,
    exclusive_minimum=True,
    kind=float,
)
BUDGET_WEIGHT_PARAM = Param(1.0, "weight w of the budget (privacy) term in fA's loss", minimum=0.0)


class AdversarialMethod(Method):
    """Base of the learned methods: fit() runs the shared minimax loop, anonymize() applies fA*.

    Subclasses supply `budget_branch()` and optionally `extra_loss()`; their params must
    include `lr` and `budget_weight` (use LR_PARAM / BUDGET_WEIGHT_PARAM).
    """

    trainable: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        missing = {"lr", "budget_weight"} - set(cls.params)
        if missing:
            raise TypeError(f"{cls.__name__}.params must declare {sorted(missing)}")

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        self.fa: FrameAnonymizer | None = None

    def budget_branch(self, ctx: RunContext) -> BudgetBranch:
        """The privacy side of the game for this method."""
        raise NotImplementedError

    def extra_loss(self) -> ExtraLoss | None:
        """An extra term of fA's loss, extra(X, fA(X)), or None."""
        return None

    def fit(self, data: Benchmark, ctx: RunContext) -> None:
        """Learn fA* with the shared minimax loop."""
        trainer = MinimaxTrainer(
            ctx,
            self.budget_branch(ctx),
            budget_weight=self.values["budget_weight"],
            extra=self.extra_loss(),
            lr=self.values["lr"],
            recipe=recipe_of(self.name, self.values.get("recipe", "paper")),
        )
        self.fa = trainer.train(data)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """fA*'s weights."""
        if self.fa is None:
            raise BenchError(f"method '{self.name}': state_dict() called before fit()")
        return self.fa.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor], ctx: RunContext) -> None:
        """fA* rebuilt at the preset's size from saved weights, on ctx.device, in eval mode."""
        self.fa = restored_anonymizer(ctx.preset, state).to(ctx.device)

    def anonymize(self, clips: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """fA*(clips), frame-wise."""
        if self.fa is None:
            raise BenchError(f"method '{self.name}': anonymize() called before fit()")
        return self.fa(clips).clamp(0, 1)  # an unbounded fA (anon_output=none) is stored 8-bit
