"""VITA-style adversarial anonymizer (Wu, Wang, Wang, Wang & Jin, TPAMI 2020).

The shared minimax loop of `bench.training.game` with a *supervised* budget branch: an ensemble of
M attribute classifiers f_b^1..f_b^M (the preset's fB architecture, multi-label heads),
trained with multi-label BCE on fA(private training images) and their privacy labels.
* fA minimises  L_T(fT(fA(X))) + gamma * mean_n max_i L_adv(f_b^i(fA(x_n)))
  - the worst case is taken per sample, then averaged (VITA's ensemble: each sample is
    judged by the budget model most confident about it);
  - L_adv (`adversary_loss`) is 'entropy', VITA's negative entropy (for multi-label heads the
    negative binary entropy of each attribute's sigmoid, averaged; lowest, -log 2, when the
    model is maximally unsure; the default recipe's), 'ones', what VITA's released
    multi-label code minimises (`max_centpy`, adv_training.py L58-81: sigmoid cross-entropy
    to all-ones labels on the logits averaged over a clip's frames, the worst model per
    clip; the released recipe's), or 'uniform', the cross-entropy to p = 0.5 (a variant of
    ours, in no released code: non-saturating, its gradient does not vanish at confident
    logits);
  - x_n are frames of the action clips X, as in VITA's released code (`adversary_on=action`;
    the first and the middle frame of each clip, to keep the tiny run affordable), or the
    private images (`adversary_on=private`).
* fT minimises L_T; the budget models take `budget_steps` BCE steps per fA step (VITA: 5).
* The ensemble is pretrained on fA0's output before the game (the preset's
  `budget_pretrain_epochs`), and model restarting (`restart_every` epochs) re-initialises it
  and retrains it for as many epochs against the current fA, so fA cannot overfit to a stale
  adversary.

Defaults follow VITA's released code (VITA-Group/Privacy-AdversarialLearning @939ca4a,
PA-HMDB51-VISPR-exp/adversarial_training/adv_training/adv_training.py and adv_flags.py) where
the tiny budget allows: gamma = 0.5, an ensemble of M = 4 (adv_flags.py's own default is
M = 1), restarting off, and 2 budget steps per fA step rather than 5 (each step trains every
model of the ensemble; 5 would triple the run). `recipe=released` adds the released
optimisers (Adam, no weight decay; fA 1e-4, fT 1e-5, fB 1e-4) and the 'ones' loss; under it,
restarts restore the pretrained budget models instead of re-initialising them. Not
reproduced, with the reasons in `bench.training.recipes`: fT trained until 0.70 validation
accuracy after each fA step, gradients accumulated over ~40 mini-batches per budget step,
and the released fd (a residual net) in place of the UNet++.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from bench.contract.context import RunContext
from bench.contract.dataset import Benchmark
from bench.contract.method import METHODS, Param
from bench.models.anonymizer import FrameAnonymizer
from bench.models.privacy import AttributeClassifier
from bench.training.adversarial import LR_PARAM, AdversarialMethod
from bench.training.batches import EndlessBatches, pixels_to_device, private_loader, to_device
from bench.training.budget import BudgetBranch, aux_budget_init
from bench.training.recipes import RECIPE_PARAM


def adversary_per_sample(logits: torch.Tensor, kind: str) -> torch.Tensor:
    """(N,) budget loss that fA minimises, per sample, from multi-label logits (N, A).

    'entropy': mean negative binary entropy over attributes (-log 2 when every p is 0.5, up
    to 0); 'uniform': mean BCE to p = 0.5 (log 2 at p = 0.5, growing without bound);
    'ones': mean BCE to all-ones labels, VITA's released `max_centpy` (fA drives every
    attribute's score up, so the budget model cannot tell them apart).
    """
    logits = logits.float()
    if kind == "uniform":
        return (F.softplus(logits) - 0.5 * logits).mean(1)
    if kind == "ones":
        return F.softplus(-logits).mean(1)
    p = torch.sigmoid(logits)
    return (p * F.logsigmoid(logits) + (1 - p) * F.logsigmoid(-logits)).mean(1)


class SupervisedEnsembleBudget(BudgetBranch):
    """M attribute classifiers trained on fA(private images) with labels; fA fights the worst."""

    def __init__(self, n_models: int, restart_every: int, steps: int, loss: str, on: str) -> None:
        self.n_models = n_models
        self.restart_every = restart_every
        self.steps = steps
        self.kind = loss
        self.on = on

    def setup(self, ctx: RunContext, data: Benchmark) -> None:
        """Build the ensemble and an endless loader over the private train images."""
        self.ctx = ctx
        self.n_attributes = len(data.privacy.attributes)
        self.loader = private_loader(ctx, data)
        self.batches = EndlessBatches(self.loader)
        self.init = aux_budget_init(ctx)
        self._build()

    def _build(self) -> None:
        p = self.ctx.preset
        self.models = [
            AttributeClassifier(p.aux_fb_arch, self.n_attributes, self.init, self.ctx.cache_dir).to(
                self.ctx.device
            )
            for _ in range(self.n_models)
        ]
        self.opts = [self.recipe.budget_optimizer(m, p) for m in self.models]
        self.trained = [
            self.ctx.train_module(m) for m in self.models
        ]  # DDP under torchrun, else themselves

    def steps_per_epoch(self) -> int:
        """One pass over the private train images (each step reads `budget_steps` batches)."""
        return max(1, len(self.loader) // self.steps)

    def sample(self, clips: torch.Tensor) -> Any:
        """The next `budget_steps` batches of private images and labels."""
        return [self._private_batch() for _ in range(self.steps)]

    def _private_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        images, targets = next(self.batches)
        return pixels_to_device(images, self.ctx), to_device(targets, self.ctx)

    def adversary(self, fa: FrameAnonymizer, batch: Any, anon: torch.Tensor) -> torch.Tensor:
        """mean_n max_i L_adv(f_b^i(x_n)) over fA's frames (action clips or private images)."""
        if self.on == "action":  # the first and the middle frame of every clip
            t = anon.shape[2]
            frames = anon[:, :, [0, t // 2]].transpose(1, 2).flatten(0, 1)  # (2N, C, H, W)
        else:
            frames = fa.forward_frames(batch[0][0])
        losses = torch.stack([self._per_sample(m(frames)) for m in self.models])
        return losses.max(0).values.mean()

    def _per_sample(self, logits: torch.Tensor) -> torch.Tensor:
        """The loss of each sample (each clip's frames averaged first under 'ones', as the
        released code averages logits over a video's frames)."""
        if self.kind == "ones" and self.on == "action":
            return adversary_per_sample(logits.unflatten(0, (-1, 2)).mean(1), self.kind)
        return adversary_per_sample(logits, self.kind)

    def update(self, fa: FrameAnonymizer, batch: Any, anon: torch.Tensor) -> float:
        """Each budget model takes one BCE step per batch on (fA(Z), labels); mean loss."""
        losses = []
        for images, targets in batch:
            with torch.no_grad(), self.ctx.autocast():
                private = fa.forward_frames(images)
            for model, opt in zip(self.trained, self.opts, strict=True):
                with self.ctx.autocast():
                    loss = F.binary_cross_entropy_with_logits(model(private).float(), targets)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(loss.item())
        return sum(losses) / len(losses)

    def modules(self) -> list[nn.Module]:
        """The ensemble."""
        return list(self.models)

    def optimizers(self) -> list[torch.optim.Optimizer]:
        """One optimizer per ensemble member."""
        return list(self.opts)

    snapshot: list[dict[str, torch.Tensor]] | None = None  # the pretrained models (released)

    def begin_game(self) -> None:
        """Under the released recipe, keep the pretrained ensemble: restarts restore it."""
        if self.recipe.name == "released":
            self.snapshot = [copy.deepcopy(m.state_dict()) for m in self.models]

    def state_dict(self) -> dict[str, Any]:
        """The branch's checkpoint, with the pretrained ensemble restarts restore."""
        return {**super().state_dict(), "snapshot": self.snapshot}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` kept."""
        super().load_state_dict(state)
        self.snapshot = state.get("snapshot")

    def end_epoch(self, fa: FrameAnonymizer, epoch: int) -> None:
        """Model restarting: the budget models start again (re-initialised; under the released
        recipe restored to their pretrained state, as adv_training.py L370 restores the
        pretrained checkpoint), then retrain against the current fA for the preset's
        budget_pretrain_epochs (at least one) passes over the private images."""
        if not self.restart_every or (epoch + 1) % self.restart_every:
            return
        self._build()
        if self.snapshot is not None:
            for model, saved in zip(self.models, self.snapshot, strict=True):
                model.load_state_dict(saved)
        epochs = max(1, self.ctx.preset.budget_pretrain_epochs)
        losses = self.pretrain(fa, epochs, None)
        self.ctx.log("budget_restart", epoch=epoch, loss_b=losses[-1])


@METHODS.register("vita")
class Vita(AdversarialMethod):
    """Adversarial anonymizer against an ensemble of supervised privacy classifiers (VITA)."""

    description = "VITA-style anonymizer: minimax against an ensemble of supervised fB models"
    paper = "Wu et al., Privacy-Preserving Deep Action Recognition: An Adversarial Learning Framework and A New Dataset (VITA), TPAMI 2020"
    params: ClassVar[dict[str, Param]] = {
        "lr": LR_PARAM,
        "budget_weight": Param(0.5, "weight gamma of the budget term (VITA: 0.5)", minimum=0.0),
        "n_budget": Param(4, "number M of budget models in the ensemble", minimum=1, maximum=16),
        "budget_steps": Param(2, "budget-model steps per fA step (VITA: 5)", minimum=1, maximum=10),
        "restart_every": Param(0, "restart the budget models every N epochs (0: never)", minimum=0),
        "adversary_loss": Param(
            None,
            "fA's budget loss: 'entropy' (negative entropy; the default recipe's), 'ones' (CE to "
            "all-ones labels on frame-averaged logits: the released recipe's) or 'uniform' "
            "(CE to p=0.5)",
            choices=("entropy", "ones", "uniform"),
            kind=str,
        ),
        "adversary_on": Param(
            "action",
            "frames fA is judged on: 'action' clips (released code) or 'private' images",
            choices=("action", "private"),
        ),
        "recipe": RECIPE_PARAM,
    }

    @staticmethod
    def loss_of(values: dict[str, Any]) -> str:
        """The loss fA trains with: `adversary_loss`, or derived from the recipe ('ones'
        under the released one, else 'entropy')."""
        released = values["recipe"] == "released"
        return values["adversary_loss"] or ("ones" if released else "entropy")

    @classmethod
    def cell_params(cls, raw: dict[str, Any], dataset: str) -> dict[str, Any]:
        """The cell's parameters with the derived loss made concrete, so records name the
        loss they trained with."""
        values = super().cell_params(raw, dataset)
        return {**values, "adversary_loss": cls.loss_of(values)}

    def budget_branch(self, ctx: RunContext) -> BudgetBranch:
        """The supervised budget-model ensemble."""
        v = self.values
        return SupervisedEnsembleBudget(
            v["n_budget"], v["restart_every"], v["budget_steps"], self.loss_of(v),
            v["adversary_on"],
        )  # fmt: skip
