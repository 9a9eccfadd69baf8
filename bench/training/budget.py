"""The privacy side of the game (`BudgetBranch`): its models, batches and both of its losses;
SPAct's self-supervised branch (`SelfSupervisedBudget`), which the penalty method shares."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.contract.context import RunContext
from bench.contract.dataset import Benchmark
from bench.contract.errors import BenchError
from bench.models.anonymizer import FrameAnonymizer
from bench.models.privacy import BudgetModel
from bench.training.augment import view_augmentation
from bench.training.batches import EndlessBatches, pixels_to_device, private_loader
from bench.training.losses import nt_xent
from bench.training.recipes import PAPER, Recipe


class BudgetBranch:
    """The privacy side of the game: its models, its batches and both of its losses."""

    recipe: Recipe = PAPER  # how its models are optimised (set by the trainer before setup)
    ctx: RunContext  # the run (set by `setup`)

    def setup(self, ctx: RunContext, data: Benchmark) -> None:
        """Build models and optimizers on ctx.device."""
        raise NotImplementedError

    def sample(self, clips: torch.Tensor) -> Any:
        """The branch's batch for this step (the action clips themselves, or its own data)."""
        return clips

    def steps_per_epoch(self) -> int:
        """Steps in one pass over the branch's own data (when `own_data`)."""
        raise NotImplementedError

    def adversary(self, fa: FrameAnonymizer, batch: Any, anon: torch.Tensor) -> torch.Tensor:
        """What fA minimises for privacy (fB frozen, gradient flows into fA).

        `anon` is fA(X) of this step's action clips, already computed by the loop; a branch
        with its own data passes `batch` through `fa` instead.
        """
        raise NotImplementedError

    def update(self, fa: FrameAnonymizer, batch: Any, anon: torch.Tensor) -> float:
        """The budget model(s)' optimizer step(s) on fA's frozen output; its loss.

        `anon` is fA(X) of the action clips, computed without gradient.
        """
        raise NotImplementedError

    def modules(self) -> list[nn.Module]:
        """Every budget model (frozen during step 1)."""
        raise NotImplementedError

    def optimizers(self) -> list[torch.optim.Optimizer]:
        """Every budget model's optimizer (checkpointed with the models)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps of the branch: models, optimizers, where its batches are."""
        batches = getattr(self, "batches", None)
        return {
            "models": [m.state_dict() for m in self.modules()],
            "optimizers": [o.state_dict() for o in self.optimizers()],
            "batches": batches.state() if isinstance(batches, EndlessBatches) else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` kept."""
        for module, saved in zip(self.modules(), state["models"], strict=True):
            module.load_state_dict(saved)
        for opt, saved in zip(self.optimizers(), state["optimizers"], strict=True):
            opt.load_state_dict(saved)
        batches = getattr(self, "batches", None)
        if isinstance(batches, EndlessBatches) and state["batches"] is not None:
            batches.restore(state["batches"])

    def begin_game(self) -> None:
        """Hook once the game starts, after pretraining and warm-up (not on a resume)."""

    def end_epoch(self, fa: FrameAnonymizer, epoch: int) -> None:
        """Hook after each minimax epoch (e.g. model restarting)."""

    own_data: bool = True  # the branch samples its own batches (else: the action clips)

    def pretrain(
        self,
        fa: FrameAnonymizer,
        epochs: int,
        clips: Callable[[], Iterable[torch.Tensor]] | None,
    ) -> list[float]:
        """`epochs` passes of `update` over the branch's data against a frozen fA (its own
        data, or the action clips that `clips()` yields, as fA trains on them); the mean loss
        of each pass. Used for pretraining and for VITA's restarts."""
        training = fa.training
        fa.eval()  # fA's BatchNorm statistics must not move while only the branch learns
        means = []
        for _ in range(epochs):
            losses = []
            if self.own_data:
                empty = torch.empty(0)
                for _ in range(self.steps_per_epoch()):
                    losses.append(self.update(fa, self.sample(empty), empty))
            else:
                if clips is None:
                    raise BenchError("this budget branch pretrains on action clips; none given")
                for x in clips():
                    with torch.no_grad(), self.ctx.autocast():
                        anon = fa(x)
                    losses.append(self.update(fa, self.sample(x), anon))
            means.append(float(np.mean(losses)))
        fa.train(training)
        return means


def _frame_pair(clips: torch.Tensor, gap: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two frames `gap` apart from every clip (same random offset for the batch)."""
    start = int(torch.randint(0, clips.shape[2] - gap, ()).item())
    return clips[:, :, start], clips[:, :, start + gap]


def aux_budget_init(ctx: RunContext) -> str:
    """The auxiliary fB's initialisation: the preset's. A missing checkpoint stopped the run
    before it started, or `--allow-scratch` set it to scratch in the preset (and the key)."""
    return ctx.preset.aux_fb_init


class SelfSupervisedBudget(BudgetBranch):
    """SPAct's fB: a projection network trained with NT-Xent on positive pairs.

    fB minimises NT-Xent (SPAct eq. 2, paper eq. 6); fA maximises it, so adversary = -L_B.
    Pairs (`pairs`): 'views', two augmented views of one private image, the batch's other
    images the negatives (the released code); 'frames', two frames of one action clip
    (paper supp. B).
    """

    def __init__(self, temperature: float, pairs: str = "views") -> None:
        self.temperature = temperature
        self.pairs = pairs

    def setup(self, ctx: RunContext, data: Benchmark) -> None:
        """One BudgetModel of the preset's fB architecture and its AdamW optimizer."""
        self.ctx = ctx
        p = ctx.preset
        init = aux_budget_init(ctx)
        self.fb = BudgetModel(p.aux_fb_arch, init=init, cache_dir=ctx.cache_dir).to(ctx.device)
        self.trained = ctx.train_module(self.fb)  # what its own step trains (DDP under torchrun)
        self.opt = self.recipe.budget_optimizer(self.fb, p)
        self.own_data = self.pairs == "views"
        if self.own_data:
            self.loader = private_loader(ctx, data)
            self.batches = EndlessBatches(self.loader)
            self.augment = view_augmentation(p.frame_size).to(ctx.device)

    def steps_per_epoch(self) -> int:
        """A pass over the private images ('views')."""
        return len(self.loader)

    def sample(self, clips: torch.Tensor) -> Any:
        """'views': two augmented views of the next private images; 'frames': the clips."""
        if self.pairs == "frames":
            return None
        images = pixels_to_device(next(self.batches)[0], self.ctx)
        with torch.no_grad():
            return self.augment(images).clamp_(0, 1), self.augment(images).clamp_(0, 1)

    def _views(
        self, fa: FrameAnonymizer, batch: Any, anon: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.pairs == "frames":
            return _frame_pair(anon, self.ctx.preset.ssl_frame_gap)
        return fa.forward_frames(batch[0]), fa.forward_frames(batch[1])

    def loss(self, f1: torch.Tensor, f2: torch.Tensor, fb: nn.Module) -> torch.Tensor:
        """NT-Xent between fb's projections of the two views."""
        return nt_xent(fb(f1), fb(f2), self.temperature)

    def adversary(self, fa: FrameAnonymizer, batch: Any, anon: torch.Tensor) -> torch.Tensor:
        """-L_B(fB(fA(pair))) (fB frozen)."""
        return -self.loss(*self._views(fa, batch, anon), self.fb)

    def update(self, fa: FrameAnonymizer, batch: Any, anon: torch.Tensor) -> float:
        """fB minimises L_B on fA's output."""
        with torch.no_grad(), self.ctx.autocast():
            f1, f2 = self._views(fa, batch, anon)
        with self.ctx.autocast():
            lb = self.loss(f1, f2, self.trained)
        self.opt.zero_grad(set_to_none=True)
        lb.backward()
        self.opt.step()
        return lb.item()

    def modules(self) -> list[nn.Module]:
        """[fB]."""
        return [self.fb]

    def optimizers(self) -> list[torch.optim.Optimizer]:
        """[fB's optimizer]."""
        return [self.opt]
