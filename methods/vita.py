"""VITA-style adversarial anonymizer (Wu, Wang, Wang, Wang & Jin, TPAMI 2020).

The shared minimax loop of `bench.engine.minimax` with a *supervised* budget branch: an ensemble of
M attribute classifiers f_b^1..f_b^M (the preset's fB architecture, multi-label heads) that
sees fA's output on the private training images and their privacy labels.
* fA minimises  L_T(fT(fA(X))) + gamma * max_i -H(f_b^i(fA(Z)))
  where -H is VITA's negative-entropy budget loss (for multi-label heads, the negative
  binary entropy of each attribute's sigmoid, averaged; lowest, -log 2, when the model is
  maximally unsure), and the max over the ensemble is VITA's "model ensemble" worst case:
  fA must confuse the most confident budget model. (VITA's later code uses cross-entropy
  to uniform labels instead, which is unbounded; we keep the bounded negative entropy.)
* fT minimises L_T; every f_b^i minimises the multi-label BCE on (fA(Z), labels).
* Model restarting (optional, `restart_every` epochs): the budget models are re-initialised
  and retrained for one pass over the private train set against the current fA, so fA cannot
  overfit to a stale adversary.

Defaults follow VITA's released code (VITA-Group/Privacy-AdversarialLearning,
adv_training.py and adv_flags.py): gamma = 0.5, the ensemble of M = 4 budget models of
adv_training.py (adv_flags.py's own default is M = 1), restarting off. Differences, kept for one shared loop: one budget update per fA update
(VITA: 5), and fT is updated every step rather than until a validation threshold. Equation
numbers are not quoted because the paper text was not available to check them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from bench.contract.context import RunContext, autocast
from bench.contract.dataset import Benchmark
from bench.contract.errors import BenchError
from bench.contract.method import METHODS, Param
from bench.engine.clips import Images
from bench.engine.fresh_models import make_optimizer
from bench.engine.minimax import LR_PARAM, AdversarialMethod, BudgetBranch
from bench.models.anonymizer import FrameAnonymizer
from bench.models.privacy import AttributeClassifier


def negative_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Mean negative binary entropy of multi-label logits: -log 2 when every p is 0.5, up to 0."""
    logits = logits.float()
    p = torch.sigmoid(logits)
    return (p * F.logsigmoid(logits) + (1 - p) * F.logsigmoid(-logits)).mean()


class SupervisedEnsembleBudget(BudgetBranch):
    """M attribute classifiers trained on fA(private images) with labels; fA fights the worst."""

    def __init__(self, n_models: int, restart_every: int) -> None:
        self.n_models = n_models
        self.restart_every = restart_every

    def setup(self, ctx: RunContext, data: Benchmark) -> None:
        """Build the ensemble and an endless loader over the private train images."""
        self.ctx = ctx
        self.n_attributes = len(data.privacy.attributes)
        gen = torch.Generator().manual_seed(ctx.seed)
        self.loader = DataLoader(
            Images(data.privacy.splits.train, ctx.preset.frame_size),
            batch_size=ctx.preset.privacy_batch,
            shuffle=True,
            generator=gen,
            drop_last=True,
        )
        if len(self.loader) == 0:
            raise BenchError(
                f"privacy_batch={ctx.preset.privacy_batch} exceeds the "
                f"{len(data.privacy.splits.train)} private training images; lower --set privacy_batch"
            )
        self.batches = self._endless()
        self._build()

    def _build(self) -> None:
        p = self.ctx.preset
        self.models = [
            AttributeClassifier(p.aux_fb_arch, self.n_attributes).to(self.ctx.device)
            for _ in range(self.n_models)
        ]
        self.opts = [make_optimizer(m, p.lr_budget, p.weight_decay) for m in self.models]

    def _endless(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield from self.loader

    def sample(self, clips: torch.Tensor) -> Any:
        """The next batch of private images and labels."""
        images, targets = next(self.batches)
        return images.to(self.ctx.device), targets.to(self.ctx.device)

    def adversary(self, fa: FrameAnonymizer, batch: Any, anon: torch.Tensor) -> torch.Tensor:
        """max_i -H(f_b^i(fA(Z))): the negative entropy of the most confident budget model."""
        images = fa.forward_frames(batch[0])
        return torch.stack([negative_entropy(m(images)) for m in self.models]).max()

    def update(self, fa: FrameAnonymizer, batch: Any, anon: torch.Tensor) -> float:
        """Each budget model takes one BCE step on (fA(Z), labels); mean loss."""
        images, targets = batch
        with torch.no_grad(), autocast(self.ctx.device):
            private = fa.forward_frames(images)
        losses = []
        for model, opt in zip(self.models, self.opts, strict=True):
            with autocast(self.ctx.device):
                loss = F.binary_cross_entropy_with_logits(model(private).float(), targets)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return sum(losses) / len(losses)

    def modules(self) -> list[nn.Module]:
        """The ensemble."""
        return list(self.models)

    def end_epoch(self, fa: FrameAnonymizer, epoch: int) -> None:
        """Model restarting: fresh budget models, retrained for one pass against the current fA."""
        if not self.restart_every or (epoch + 1) % self.restart_every:
            return
        self._build()
        training = fa.training
        fa.eval()  # the retraining pass must not move fA's BatchNorm statistics
        for _ in range(len(self.loader)):
            self.update(fa, self.sample(torch.empty(0)), torch.empty(0))
        fa.train(training)


@METHODS.register("vita")
class Vita(AdversarialMethod):
    """Adversarial anonymizer against an ensemble of supervised privacy classifiers (VITA)."""

    description = "VITA-style anonymizer: minimax against an ensemble of supervised fB models"
    params: ClassVar[dict[str, Param]] = {
        "lr": LR_PARAM,
        "budget_weight": Param(0.5, "weight gamma of the budget term (VITA: 0.5)", minimum=0.0),
        "n_budget": Param(4, "number M of budget models in the ensemble", minimum=1, maximum=16),
        "restart_every": Param(0, "restart the budget models every N epochs (0: never)", minimum=0),
    }

    def budget_branch(self, ctx: RunContext) -> BudgetBranch:
        """The supervised budget-model ensemble."""
        return SupervisedEnsembleBudget(self.values["n_budget"], self.values["restart_every"])
