"""SPAct-style self-supervised anonymizer (Dave, Chen & Shah, CVPR 2022).

The shared minimax loop of `bench.training.game` with the self-supervised budget branch:
* fA minimises  L_T(fT(fA(X))) - w * L_B(fB(fA(X)))          (SPAct eq. 3, w = omega)
* fT minimises the cross-entropy L_T; fB minimises NT-Xent L_B (SPAct eq. 2). As in SPAct's
  released code, the positive pair is two augmented views of one private image and the
  batch's other private images are the negatives (`ssl_pairs=views`); `ssl_pairs=frames`
  takes two frames of one action clip instead (the penalty paper's supp. B).
* fB is pretrained self-supervised on fA0's output before the game (the preset's
  `budget_pretrain_epochs`; SPAct starts from a self-supervised fB).
No privacy labels are used. This is the penalty method with lambda = 0 (the paper's own
ablation), so `bench run --method penalty --lam 0` gives the same result.
Defaults: temperature 0.1 and w = 1 as in SPAct; fA's learning rate comes from the preset
(SPAct used 1e-4 at 112-224 px; the tiny preset's 3e-3 plays that role at 32 px).
`recipe=released` trains as SPAct's released code does: Adam without weight decay at 1e-4
for fA, fT and fB, and batches that alternate between step 1 and step 2
(`bench.training.recipes` lists every difference with the file it comes from).
"""

from __future__ import annotations

from typing import ClassVar

from bench.contract.context import RunContext
from bench.contract.method import METHODS, Param
from bench.training.adversarial import BUDGET_WEIGHT_PARAM, LR_PARAM, AdversarialMethod
from bench.training.budget import BudgetBranch, SelfSupervisedBudget
from bench.training.recipes import RECIPE_PARAM


@METHODS.register("spact")
class SPAct(AdversarialMethod):
    """Self-supervised minimax anonymizer: fA fools an NT-Xent budget model, keeps fT's accuracy."""

    description = "SPAct-style anonymizer: minimax with a self-supervised NT-Xent budget branch"
    paper = "Dave, Chen & Shah, SPAct: Self-supervised Privacy Preservation for Action Recognition, CVPR 2022"
    params: ClassVar[dict[str, Param]] = {
        "lr": LR_PARAM,
        "temperature": Param(
            None,
            "NT-Xent temperature (default: the preset's, 0.1)",
            minimum=0.0,
            exclusive_minimum=True,
            kind=float,
        ),
        "budget_weight": BUDGET_WEIGHT_PARAM,
        "ssl_pairs": Param(
            "views",
            "fB's positive pairs: 'views' of a private image (released code) or 'frames' of a clip",
            choices=("views", "frames"),
        ),
        "recipe": RECIPE_PARAM,
    }

    def budget_branch(self, ctx: RunContext) -> BudgetBranch:
        """NT-Xent on positive pairs of anonymized images (or clip frames)."""
        temperature = self.values["temperature"]
        return SelfSupervisedBudget(
            ctx.preset.temperature if temperature is None else temperature,
            self.values["ssl_pairs"],
        )
