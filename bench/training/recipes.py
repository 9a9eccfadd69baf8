"""Training recipes of the learned methods: this benchmark's default (`paper`) and each
method's released code (`released`), chosen by the method parameter `recipe`.

| | `paper` (default) | `released` |
|---|---|---|
| optimisers of fA, fT, fB | AdamW; fT / fB with the preset's weight decay, fA without | Adam, no weight decay (SPAct `anonymization_training/train_ssl_minimax2.py` L430-432; penalty `anonymization_training/train_anonymizer_balance.py` L405-408; VITA `adv_training.py` L112-114) |
| learning rates | the preset's `lr_anon`, `lr_utility`, `lr_budget` | SPAct: 1e-4 for all three (`parameters_SSL.py`); penalty: fA 4e-5, fT 1e-4, fB 1e-4 (`params_anonymization.py` L46, L54-56); VITA: fA 1e-4, fT 1e-5, fB 1e-4 (`adv_training.py` L112-114) |
| update schedule | every batch: step 1 (fA), then step 2 (fT, fB) | SPAct and penalty alternate: batch i updates fA only, batch i+1 fT and fB only (`step` flag); VITA as the default |
| VITA's loss for fA | negative entropy (`adversary_loss=entropy`) | sigmoid cross-entropy to all-ones labels on frame-averaged logits, worst model per clip (`max_centpy`, `adv_training.py` L58-81): `adversary_loss=ones` |
| VITA's restarts (`restart_every`) | the budget models are re-initialised | restored to their pretrained state (`adv_training.py` L370 restores the pretrained checkpoint) |
| SPAct's fB pretraining (NT-Xent through fA0) | the preset's `budget_pretrain_epochs` (tiny 5, paper 10) | 160 epochs (the number an audit of SPAct's released code reports; the released tree we read, 7cf3770, has no script for this stage, so its other settings are ours) |

The released fA's unbounded output (smp `UnetPlusPlus(..., activation=None)`) is the preset
value `anon_output=none` (the `paper` preset's default), since it is part of the network.
A method's explicit `--lr` overrides either recipe's fA rate. Not reproduced, and why:
* VITA's gradient accumulation over ~40 mini-batches per budget step: at the tiny preset
  the private train set is 28 batches of 32, so one budget step would take more than a
  pass over it and the ensemble would step about once every two epochs;
* VITA's fT trained until 0.70 validation accuracy after each fA step: a validation pass
  after every step (at tiny 180 clips, 11 batches of 16) costs more than the step itself;
* VITA's fd (a small residual net with a grey output): every learned method here trains
  the same UNet++ fA, so that rows differ by their objective, not their network.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench.contract.config import Preset
from bench.contract.method import Param

RECIPES = ("paper", "released")
RECIPE_PARAM = Param(
    "paper",
    "training recipe: 'paper' (this benchmark's default) or 'released' (the method's released "
    "code: Adam without weight decay, its learning rates and update schedule)",
    choices=RECIPES,
    legacy=("paper",),  # records made before recipes existed trained as `paper` does
)


@dataclass(frozen=True)
class Recipe:
    """How the game's three models are optimised and scheduled."""

    name: str = "paper"
    adam: bool = False  # Adam without weight decay (else AdamW with the preset's)
    lr_anon: float | None = None  # None: the preset's
    lr_utility: float | None = None
    lr_budget: float | None = None
    alternate: bool = False  # batch i: step 1 only; batch i + 1: step 2 only
    budget_pretrain_epochs: int | None = None  # None: the preset's

    def optimizer(self, module: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
        """The recipe's optimiser for `module` at `lr` (`weight_decay` under AdamW)."""
        if self.adam:
            return torch.optim.Adam(module.parameters(), lr=lr)
        return make_optimizer(module, lr, weight_decay)

    def anonymizer_rate(self, lr: float | None, p: Preset) -> float:
        """fA's learning rate: the method's own `lr` if set, else the recipe's, else the
        preset's."""
        return lr if lr is not None else self.lr_anon if self.lr_anon is not None else p.lr_anon

    def anonymizer_optimizer(
        self, fa: nn.Module, lr: float | None, p: Preset
    ) -> torch.optim.Optimizer:
        """fA's optimiser (no weight decay in either recipe); `lr`: the method's own, if set."""
        return self.optimizer(fa, self.anonymizer_rate(lr, p), 0.0)

    def utility_optimizer(self, ft: nn.Module, p: Preset) -> torch.optim.Optimizer:
        """fT's optimiser."""
        return self.optimizer(ft, self.lr_utility or p.lr_utility, p.weight_decay)

    def budget_pretraining(self, p: Preset) -> int:
        """Epochs of the budget model's pretraining on fA0's output: the recipe's or the
        preset's."""
        own = self.budget_pretrain_epochs
        return p.budget_pretrain_epochs if own is None else own

    def budget_optimizer(self, fb: nn.Module, p: Preset) -> torch.optim.Optimizer:
        """Each budget model's optimiser."""
        return self.optimizer(fb, self.lr_budget or p.lr_budget, p.weight_decay)


PAPER = Recipe()
RELEASED: dict[str, Recipe] = {
    "spact": Recipe("released", True, 1e-4, 1e-4, 1e-4, True, budget_pretrain_epochs=160),
    "penalty": Recipe("released", True, 4e-5, 1e-4, 1e-4, alternate=True),
    "vita": Recipe("released", True, 1e-4, 1e-5, 1e-4, alternate=False),
}


def recipe_of(method: str, name: str) -> Recipe:
    """The recipe `name` of `method` (a method without a released recipe gets the default)."""
    return RELEASED.get(method, PAPER) if name == "released" else PAPER


def make_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW, as used by every loop of the benchmark."""
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
