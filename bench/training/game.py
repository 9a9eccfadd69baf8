"""The minimax game shared by the learned methods (Algorithm 1).

1. Identity pretraining of fA with L1 reconstruction (paper eq. 5); cached per preset, data
   and seed, since every learned method and every B starts from the same fA0.
2. The auxiliary fT and fB: initialised as the preset says (`aux_ft_init`, `aux_fb_init`;
   a checkpoint that is not on disk stops the run before it starts, or `--allow-scratch`
   writes scratch into the preset and so into the key and the label), then the
   budget model(s) are pretrained alone on fA0's output and their own data for
   `budget_pretrain_epochs` (SPAct's self-supervised pretraining, VITA's supervised one),
   and fT and the budget branch are warmed up together for `warmup_epochs`.
3. Minimax, per batch of action clips X (and the budget branch's own batch Z):
   step 1 updates fA on  L_T(fT(fA(X))) + w * adversary(fA, Z) + extra(X, fA(X)),
          fT and fB frozen and in eval mode (their BatchNorm statistics do not move);
   step 2 updates fT on L_T and the budget branch on its own loss, fA frozen.
What differs between methods is only the budget branch (`BudgetBranch`), the weight w, the
`extra` term and fA's learning rate:
* SPAct / penalty: `SelfSupervisedBudget`, adversary = -NT-Xent. By default, as in SPAct's
  and the penalty paper's released code, the pair is two augmented views of one private
  image and the other private images of the batch are the negatives (`ssl_pairs=views`);
  `ssl_pairs=frames` uses two frames of one action clip, `ssl_frame_gap` apart (paper
  supp. B). The penalty adds the RMS hinge as `extra`.
* VITA: a supervised ensemble on the private images (methods/vita.py).
Every minimax epoch logs the in-loop adversary's loss (`loss_b`), fA's privacy term
(`adversary`), the mean RMS(X - fA(X)) and, through `extra`, the penalty's statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from bench.contract.context import RunContext, seed_everything
from bench.contract.dataset import Benchmark
from bench.models.action import build_action_model
from bench.models.anonymizer import FrameAnonymizer
from bench.training.batches import to_device
from bench.training.budget import BudgetBranch
from bench.training.checkpointing import Checkpointed, Stateful, checkpoint_path
from bench.training.identity import anonymizer_input, clip_loader, identity_pretrained
from bench.training.losses import rms_per_sample
from bench.training.probe import PrivacyProbe, plateaued
from bench.training.recipes import PAPER, Recipe

# extra(X, fA(X)) -> (loss term, statistics to log per epoch)
ExtraLoss = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict[str, float]]]


def _freeze(modules: list[nn.Module], frozen: bool) -> None:
    """Step 1's frozen models: no gradient and eval mode (fixed BatchNorm statistics)."""
    for module in modules:
        module.train(not frozen)
        for param in module.parameters():
            param.requires_grad_(not frozen)


@dataclass
class Utility:
    """fT, what trains it (itself, or its DistributedDataParallel under torchrun), and its
    optimizer."""

    ft: nn.Module
    trained: nn.Module
    opt: torch.optim.Optimizer


def build_aux_action_model(ctx: RunContext, n_classes: int) -> nn.Module:
    """The auxiliary fT at the preset's init (see `aux_budget_init`)."""
    p = ctx.preset
    return build_action_model(p.aux_ft_arch, n_classes, p.aux_ft_init, ctx.cache_dir)


class MinimaxTrainer:
    """Runs Algorithm 1 for any budget branch; methods differ in branch, weight, extra and lr."""

    def __init__(
        self,
        ctx: RunContext,
        budget: BudgetBranch,
        budget_weight: float = 1.0,
        extra: ExtraLoss | None = None,
        lr: float | None = None,
        recipe: Recipe = PAPER,
    ) -> None:
        self.ctx = ctx
        self.budget = budget
        self.budget_weight = budget_weight
        self.extra = extra
        self.recipe = recipe
        self.method_lr = lr
        self.lr = recipe.anonymizer_rate(lr, ctx.preset)
        self.trained_fa: nn.Module | None = None  # fA as step 1 trains it (set by `train`)
        self.prepare = anonymizer_input(ctx)  # loader clips -> fA's input on the device

    def _update_utility(self, u: Utility, anon: torch.Tensor, labels: torch.Tensor) -> float:
        """Step 2 for fT: minimise L_T on the frozen fA(X)."""
        with self.ctx.autocast():
            lt = F.cross_entropy(u.trained(anon), labels)
        u.opt.zero_grad(set_to_none=True)
        lt.backward()
        u.opt.step()
        return lt.item()

    def _update_anonymizer(
        self,
        fa: FrameAnonymizer,
        opt_a: torch.optim.Optimizer,
        u: Utility,
        clips: torch.Tensor,
        labels: torch.Tensor,
        batch: Any,
    ) -> dict[str, float]:
        """Step 1: fT and fB frozen (eval mode); fA minimises L_T + w * adversary + extra.

        Under torchrun only fA's DistributedDataParallel (`self.trained_fa`) runs; the frozen
        fT and fB are called as plain modules, so no process waits on their gradients.
        """
        frozen = [u.ft, *self.budget.modules()]
        _freeze(frozen, True)
        stats: dict[str, float] = {}
        with self.ctx.autocast():
            anon = (self.trained_fa or fa)(clips)
            lt = F.cross_entropy(u.ft(anon), labels)
            adversary = self.budget.adversary(fa, batch, anon)
            extra = torch.zeros((), device=clips.device)
            if self.extra:
                extra, stats = self.extra(clips, anon)
            loss = lt + self.budget_weight * adversary + extra
        opt_a.zero_grad(set_to_none=True)
        loss.backward()
        opt_a.step()
        _freeze(frozen, False)
        rms = rms_per_sample(clips, anon.detach()).mean().item()
        return {
            "loss_a": loss.item(),
            "adversary": float(adversary.item()),
            "extra": float(extra.item()),
            "rms": rms,
            **stats,
        }

    def _update_branches(
        self, u: Utility, fa: FrameAnonymizer, clips: torch.Tensor, labels: torch.Tensor, batch: Any
    ) -> tuple[float, float]:
        """Step 2: fT on L_T and the budget branch on its own loss, fA frozen."""
        with torch.no_grad(), self.ctx.autocast():
            anon = fa(clips)
        return self._update_utility(u, anon, labels), self.budget.update(fa, batch, anon)

    def train(self, data: Benchmark) -> FrameAnonymizer:
        """Pretrain, warm up and run the minimax game; returns the learned fA*.

        Every epoch of the budget pretraining, the warm-up and the game ends with one
        checkpoint of all of it (`<run dir>/checkpoints/NN-anonymizer.pt`: fA, fT, the budget
        branch, their optimizers, the loaders and RNG states); the same run started again
        continues after the last finished epoch.
        """
        ctx, p = self.ctx, self.ctx.preset
        pretraining = self.recipe.budget_pretraining(p)
        stages = (p.identity_epochs, pretraining, p.warmup_epochs, p.anon_epochs)
        ctx.plan_stages(sum(1 for n in stages if n))
        with ctx.stage("identity_pretraining"):
            fa = identity_pretrained(ctx, data)
        if p.identity_epochs:
            # fA0 is trained now or read from the cache, which draws fewer random numbers:
            # reseed so what follows does not depend on the cache's state.
            seed_everything(ctx.seed)
        ft = build_aux_action_model(ctx, len(data.action.classes)).to(ctx.device)
        u = Utility(ft, ctx.train_module(ft), self.recipe.utility_optimizer(ft, p))
        self.trained_fa = ctx.train_module(fa)
        self.budget.recipe = self.recipe
        self.budget.setup(ctx, data)
        opt_a = self.recipe.anonymizer_optimizer(fa, self.method_lr, p)
        loader = clip_loader(ctx, data.action.splits.train)
        private = data.privacy.splits
        self.probe = PrivacyProbe(private.train, private.val, p.frame_size, ctx.device)
        if not ctx.history.get("probe"):  # (a resumed run has it from its checkpoint)
            ctx.log("probe", raw_cmap=self.probe.cmap(None))
        phases: list[tuple[str, str, int, Callable[[int], None]]] = [
            ("budget_pretraining", "budget model pretraining", pretraining,
             lambda epoch: self._pretrain_epoch(fa, loader, epoch)),
            ("warmup", "fT / fB warm-up", p.warmup_epochs,
             lambda epoch: self._warmup_epoch(fa, u, loader, epoch)),
            ("minimax", "anonymizer minimax", p.anon_epochs,
             lambda epoch: self._minimax_epoch(fa, opt_a, u, loader, epoch)),
        ]  # fmt: skip
        parts: dict[str, Stateful] = {
            "fa": fa,
            "optimizer_a": opt_a,
            "ft": ft,
            "optimizer_t": u.opt,
        }
        loop = Checkpointed(
            ctx,
            checkpoint_path(ctx, "anonymizer"),
            "anonymizer",
            {"epochs": [n for _, _, n, _ in phases], "steps": len(loader), "lr": self.lr},
            parts,
            loader,
            extra_state=self.budget,
        )
        done = loop.resume()  # epochs finished, over all phases
        rows = ctx.history.get("minimax", [])
        self.converged = bool(rows) and rows[-1].get("plateau") == 1.0  # resumed after it
        for name, title, epochs, run_epoch in phases:
            if not epochs:
                continue
            game = name == "minimax"
            with ctx.stage(name):
                until = (lambda epoch: self.converged) if game else None
                for epoch in loop.epochs(title, epochs, min(done, epochs), until):
                    if game and epoch == 0:
                        self.budget.begin_game()
                    run_epoch(epoch)
                    loop.info = self.info
            done = max(0, done - epochs)
        # as a stored fit is restored (`restored_anonymizer`): the same memory layout gives
        # the same kernels, so a reused fit anonymizes bit for bit as the run that trained it
        fa.to(memory_format=torch.contiguous_format)
        fa.eval()
        return fa

    info = ""  # the progress bar's text for the epoch just run
    converged = False  # the game's stopping rule held after the last epoch (`probe.plateaued`)

    def _pretrain_epoch(self, fa: FrameAnonymizer, loader: DataLoader[Any], epoch: int) -> None:
        (lb,) = self.budget.pretrain(fa, 1, lambda: (self.prepare(c) for c, _ in loader))
        self.ctx.log("budget_pretraining", epoch=epoch, loss_b=lb)
        self.info = f"L_B {lb:.3f}"

    def _warmup_epoch(
        self, fa: FrameAnonymizer, u: Utility, loader: DataLoader[Any], epoch: int
    ) -> None:
        fa.eval()
        rows = []
        for clips, labels in loader:
            clips, labels = self.prepare(clips), to_device(labels, self.ctx)
            rows.append(self._update_branches(u, fa, clips, labels, self.budget.sample(clips)))
        lt, lb = np.mean(rows, axis=0)
        self.ctx.log("warmup", epoch=epoch, loss_t=lt, loss_b=lb)
        self.info = f"L_T {lt:.3f} L_B {lb:.3f}"

    def _minimax_epoch(
        self,
        fa: FrameAnonymizer,
        opt_a: torch.optim.Optimizer,
        u: Utility,
        loader: DataLoader[Any],
        epoch: int,
    ) -> None:
        fa.train()
        steps, branches = [], []
        alternate = self.recipe.alternate and len(loader) > 1  # one batch: both steps on it
        for i, (clips, labels) in enumerate(loader):
            clips, labels = self.prepare(clips), to_device(labels, self.ctx)
            batch = self.budget.sample(clips)
            if not alternate or i % 2 == 0:  # step 1
                steps.append(self._update_anonymizer(fa, opt_a, u, clips, labels, batch))
            if not alternate or i % 2 == 1:  # step 2
                branches.append(self._update_branches(u, fa, clips, labels, batch))
        mean = {k: float(np.mean([s[k] for s in steps])) for k in steps[0]}
        if branches:
            mean["loss_t"], mean["loss_b"] = map(float, np.mean(branches, axis=0))
        if not all(np.isfinite(list(mean.values()))):
            self.ctx.log("minimax", epoch=epoch, **mean)  # raises Diverged, naming the stage
        fa.eval()  # the probe reads fA as it will be applied
        mean["probe_cmap"] = self.probe.cmap(fa.forward_frames)
        fa.train()
        p = self.ctx.preset
        rows = [*self.ctx.history.get("minimax", []), mean]
        self.converged = plateaued(
            [r["probe_cmap"] for r in rows], [r["loss_t"] for r in rows],
            [r["rms"] for r in rows], self.ctx.history["probe"][0]["raw_cmap"],
            p.anon_patience, p.anon_tolerance,
        )  # fmt: skip
        self.ctx.log("minimax", epoch=epoch, **mean, plateau=float(self.converged))
        self.info = (
            f"L_T {mean['loss_t']:.2f} L_B {mean['loss_b']:.2f} RMS {mean['rms']:.3f} "
            f"probe {mean['probe_cmap']:.3f}"
        )
        if epoch < p.anon_epochs - 1 and not self.converged:  # between epochs, not after the last
            self.budget.end_epoch(fa, epoch)
