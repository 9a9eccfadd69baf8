"""The adversarial anonymizer training loop shared by the learned methods (Algorithm 1).

1. Identity pretraining of fA with L1 reconstruction (paper eq. 5); cached per preset, data
   and seed, since every learned method and every B starts from the same fA0.
2. Warm-up: fT (cross-entropy) and fB (NT-Xent) are trained on fA0(X) with fA frozen; the
   tiny stand-in for the paper's Kinetics-400 / SimCLR initialisations of fT and fB.
3. Minimax, per batch of action clips X:
   step 1 updates fA on  L_T(fT(fA(X))) - w * L_B(fB(fA(X))) + extra(X, fA(X)),
          fT and fB frozen (a method supplies `extra`, e.g. the budget penalty);
   step 2 updates fT on L_T and fB on L_B with fA frozen.
L_B is NT-Xent on two frames of the same clip, `ssl_frame_gap` frames apart (paper supp. B).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from bench.data import Benchmark, TrainClips, VideoArray
from bench.losses import nt_xent, rms_per_sample
from bench.models.action import build_action_model
from bench.models.anonymizer import FrameAnonymizer
from bench.models.privacy import BudgetModel
from bench.runtime import RunContext, autocast
from bench.training import make_optimizer

ExtraLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def build_anonymizer(ctx: RunContext) -> FrameAnonymizer:
    """A UNet++ anonymizer sized by the preset."""
    p = ctx.preset
    return FrameAnonymizer(p.anon_encoder, p.anon_depth, p.anon_decoder, p.anon_residual)


def _clip_loader(
    ctx: RunContext, train: VideoArray
) -> DataLoader[tuple[torch.Tensor, torch.Tensor]]:
    p = ctx.preset
    gen = torch.Generator().manual_seed(ctx.seed)
    ds = TrainClips(train, p.frames, p.skip, p.frame_size)
    return DataLoader(ds, batch_size=p.anon_batch, shuffle=True, generator=gen, drop_last=True)


def identity_pretrained(ctx: RunContext, data: Benchmark) -> FrameAnonymizer:
    """fA0: the anonymizer trained to reproduce its input (L1), loaded from cache when present."""
    p = ctx.preset
    if p.identity_epochs == 0:  # nothing to learn or cache (e.g. the residual tiny fA)
        return build_anonymizer(ctx).to(ctx.device)
    recipe = {
        "encoder": p.anon_encoder,
        "depth": p.anon_depth,
        "decoder": list(p.anon_decoder),
        "residual": p.anon_residual,
        "epochs": p.identity_epochs,
        "lr": p.lr_anon,
        "batch": p.anon_batch,
        "frames": p.frames,
        "size": p.frame_size,
        "data": data.action.name,
        "n_train": len(data.action.splits.train),
        "seed": ctx.seed,
    }
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    path = ctx.cache_dir / f"anonymizer-identity-{digest}.pt"
    fa = build_anonymizer(ctx)
    if path.is_file():
        try:
            fa.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return fa.to(ctx.device)
        except (RuntimeError, EOFError, OSError):
            path.unlink(missing_ok=True)  # corrupt cache entry: retrain below
    fa.to(ctx.device)
    opt = make_optimizer(fa, p.lr_anon * 3, 0.0)
    loader = _clip_loader(ctx, data.action.splits.train)
    bar = ctx.task("fA identity pretraining", p.identity_epochs)
    for epoch in range(p.identity_epochs):
        losses = []
        for clips, _ in loader:
            clips = clips.to(ctx.device)
            with autocast(ctx.device):
                loss = F.l1_loss(fa(clips), clips)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        ctx.log("identity", epoch=epoch, l1=float(np.mean(losses)))
        ctx.progress.update(bar, advance=1, info=f"L1 {np.mean(losses):.4f}")
    tmp = path.with_suffix(".tmp")
    torch.save(fa.state_dict(), tmp)
    tmp.replace(path)
    return fa


@dataclass
class Branches:
    """The three networks of the minimax game and their optimizers."""

    fa: FrameAnonymizer
    ft: nn.Module
    fb: BudgetModel
    opt_a: torch.optim.Optimizer
    opt_t: torch.optim.Optimizer
    opt_b: torch.optim.Optimizer


def _frame_pair(clips: torch.Tensor, gap: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two frames `gap` apart from every clip (same random offset for the batch)."""
    start = int(torch.randint(0, clips.shape[2] - gap, ()).item())
    return clips[:, :, start], clips[:, :, start + gap]


def _set_trainable(module: nn.Module, flag: bool) -> None:
    for param in module.parameters():
        param.requires_grad_(flag)


class MinimaxTrainer:
    """Runs Algorithm 1; learned methods differ only in `extra` and `budget_weight`."""

    def __init__(self, ctx: RunContext, budget_weight: float = 1.0, extra: ExtraLoss | None = None):
        self.ctx = ctx
        self.budget_weight = budget_weight
        self.extra = extra

    def _budget_loss(self, fb: nn.Module, anon: torch.Tensor) -> torch.Tensor:
        f1, f2 = _frame_pair(anon, self.ctx.preset.ssl_frame_gap)
        return nt_xent(fb(f1), fb(f2), self.ctx.preset.temperature)

    def _update_branches(
        self, b: Branches, clips: torch.Tensor, labels: torch.Tensor
    ) -> tuple[float, float]:
        """Step 2: fA frozen; fT minimises L_T and fB minimises L_B."""
        with torch.no_grad(), autocast(self.ctx.device):
            anon = b.fa(clips)
        with autocast(self.ctx.device):
            lt = F.cross_entropy(b.ft(anon), labels)
        b.opt_t.zero_grad(set_to_none=True)
        lt.backward()
        b.opt_t.step()
        with autocast(self.ctx.device):
            lb = self._budget_loss(b.fb, anon)
        b.opt_b.zero_grad(set_to_none=True)
        lb.backward()
        b.opt_b.step()
        return lt.item(), lb.item()

    def _update_anonymizer(
        self, b: Branches, clips: torch.Tensor, labels: torch.Tensor
    ) -> dict[str, float]:
        """Step 1: fT and fB frozen; fA minimises L_T - w L_B + extra."""
        _set_trainable(b.ft, False)
        _set_trainable(b.fb, False)
        with autocast(self.ctx.device):
            anon = b.fa(clips)
            lt = F.cross_entropy(b.ft(anon), labels)
            lb = self._budget_loss(b.fb, anon)
            extra = self.extra(clips, anon) if self.extra else torch.zeros((), device=clips.device)
            loss = lt - self.budget_weight * lb + extra
        b.opt_a.zero_grad(set_to_none=True)
        loss.backward()
        b.opt_a.step()
        _set_trainable(b.ft, True)
        _set_trainable(b.fb, True)
        rms = rms_per_sample(clips, anon.detach()).mean().item()
        return {"loss_a": loss.item(), "extra": float(extra.item()), "rms": rms}

    def train(self, data: Benchmark) -> FrameAnonymizer:
        """Pretrain, warm up and run the minimax game; returns the learned fA*."""
        ctx, p = self.ctx, self.ctx.preset
        with ctx.stage("identity_pretraining"):
            fa = identity_pretrained(ctx, data)
        ft = build_action_model(p.ft_arch, len(data.action.classes)).to(ctx.device)
        fb = BudgetModel(p.fb_arch).to(ctx.device)
        b = Branches(
            fa,
            ft,
            fb,
            make_optimizer(fa, p.lr_anon, 0.0),
            make_optimizer(ft, p.lr_utility, p.weight_decay),
            make_optimizer(fb, p.lr_budget, p.weight_decay),
        )
        loader = _clip_loader(ctx, data.action.splits.train)
        with ctx.stage("warmup"):
            bar = ctx.task("fT / fB warm-up", p.warmup_epochs)
            for epoch in range(p.warmup_epochs):
                fa.eval()
                rows = [
                    self._update_branches(b, c.to(ctx.device), y.to(ctx.device)) for c, y in loader
                ]
                lt, lb = np.mean(rows, axis=0)
                ctx.log("warmup", epoch=epoch, loss_t=lt, loss_b=lb)
                ctx.progress.update(bar, advance=1, info=f"L_T {lt:.3f} L_B {lb:.3f}")
        with ctx.stage("minimax"):
            bar = ctx.task("anonymizer minimax", p.anon_epochs)
            for epoch in range(p.anon_epochs):
                fa.train()
                steps = []
                for clips, labels in loader:
                    clips, labels = clips.to(ctx.device), labels.to(ctx.device)
                    row = self._update_anonymizer(b, clips, labels)
                    row["loss_t"], row["loss_b"] = self._update_branches(b, clips, labels)
                    steps.append(row)
                mean = {k: float(np.mean([s[k] for s in steps])) for k in steps[0]}
                ctx.log("minimax", epoch=epoch, **mean)
                info = f"L_T {mean['loss_t']:.2f} L_B {mean['loss_b']:.2f} RMS {mean['rms']:.3f}"
                ctx.progress.update(bar, advance=1, info=info)
        fa.eval()
        return fa
