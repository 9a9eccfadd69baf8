"""The adversarial anonymizer training loop shared by the learned methods (Algorithm 1).

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

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from bench.contract.atomic import WriteError
from bench.contract.config import Preset
from bench.contract.context import RunContext, seed_everything
from bench.contract.dataset import Benchmark, VideoArray
from bench.contract.distributed import agree, is_main, main_lock
from bench.contract.errors import BenchError
from bench.contract.locks import exclusive
from bench.contract.method import Method, Param
from bench.engine.augment import clip_augmentation, view_augmentation
from bench.engine.clips import Images, TrainClips
from bench.engine.fits import load_state, save_state
from bench.engine.fresh_models import (
    make_optimizer,
    pixels_to_device,
    shuffled,
    to_device,
    train_loader,
)
from bench.engine.losses import nt_xent, rms_per_sample
from bench.engine.probe import PrivacyProbe, plateaued
from bench.engine.recipes import PAPER, Recipe, recipe_of
from bench.engine.resume import (
    Checkpointed,
    Stateful,
    checkpoint_path,
    checkpointing_loop,
    stop_if_asked,
)
from bench.models.action import build_action_model
from bench.models.anonymizer import FrameAnonymizer
from bench.models.privacy import BudgetModel

# extra(X, fA(X)) -> (loss term, statistics to log per epoch)
ExtraLoss = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict[str, float]]]


def build_anonymizer(p: Preset) -> FrameAnonymizer:
    """A UNet++ anonymizer sized by the preset."""
    return FrameAnonymizer(
        p.anon_encoder, p.anon_depth, p.anon_decoder, p.anon_residual, p.anon_output
    )


def restored_anonymizer(p: Preset, state: dict[str, torch.Tensor]) -> FrameAnonymizer:
    """The preset's fA with stored weights, on the CPU, in eval mode."""
    fa = build_anonymizer(p)
    fa.load_state_dict(state)
    return fa.eval()


def _clip_loader(
    ctx: RunContext, train: VideoArray
) -> DataLoader[tuple[torch.Tensor, torch.Tensor]]:
    p = ctx.preset
    ds = TrainClips(train, p.frames, p.skip)
    loader = train_loader(ds, p.anon_batch, ctx.seed, "anon_batch", drop_last=True)
    if len(loader) == 0:
        raise BenchError(
            f"anon_batch={p.anon_batch} exceeds the {len(train)} training videos; "
            "lower --set anon_batch"
        )
    return loader


def anonymizer_input(ctx: RunContext) -> Callable[[torch.Tensor], torch.Tensor]:
    """The action clips of `_clip_loader` as fA trains on them: on the run's device, float,
    and augmented there when the preset says so (paper section 4.2; `augment.clip_augmentation`)."""
    p = ctx.preset
    augment = clip_augmentation(p.frame_size).to(ctx.device) if p.anon_augment else None

    def prepare(clips: torch.Tensor) -> torch.Tensor:
        x = pixels_to_device(clips, ctx)
        if augment is None:
            return x
        with torch.no_grad():
            return augment(x).clamp_(0, 1)

    return prepare


def identity_pretrained(ctx: RunContext, data: Benchmark) -> FrameAnonymizer:
    """fA0: the anonymizer trained to reproduce its input (L1), loaded from cache when present.

    The cache entry holds fA0's weights and its training history, which a run that loads it
    logs as its own (its record is the same whether fA0 was trained now or earlier).
    """
    p = ctx.preset
    if p.identity_epochs == 0:  # nothing to learn or cache (e.g. the residual tiny fA)
        return build_anonymizer(ctx.preset).to(ctx.device)
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
    # one worker trains, the others load it; under torchrun rank 0 holds the lock
    with main_lock(exclusive(path, "the identity-pretrained fA0", ctx.warn)):
        fa = build_anonymizer(ctx.preset)
        if agree(path.is_file()):
            cached, why = load_state(path)
            try:
                fa.load_state_dict(cached["fa"])
                for row in cached["history"]:  # the record shows fA0's training either way
                    ctx.log("identity", **row)
                ctx.plan_stages(-1)  # its progress bar is not needed
                return fa.to(ctx.device)
            except Exception as exc:  # not an fA0 entry, or one of other shapes
                why = why or f"{type(exc).__name__}"
            ctx.warn(f"cached fA0 {path} is unreadable ({why}); pretraining it again")
        first = len(ctx.history.get("identity", []))
        _pretrain_identity(fa.to(ctx.device), ctx, data, path)
        try:
            if is_main():
                history = ctx.history["identity"][first:]
                save_state(path, {"fa": fa.state_dict(), "history": history})
        except WriteError as exc:
            ctx.warn(f"fA0 not cached ({exc}); this run goes on with it")
        path.with_name(path.stem + ".partial.pt").unlink(missing_ok=True)
    return fa


def _pretrain_identity(fa: FrameAnonymizer, ctx: RunContext, data: Benchmark, cached: Path) -> None:
    """L1 reconstruction of the action training clips (paper eq. 5).

    Each epoch is checkpointed beside the cache entry it makes (`<entry>.partial.pt`, under
    the entry's lock), so whichever run trains fA0 next resumes it; removed once fA0 is cached.
    """
    p = ctx.preset
    opt = make_optimizer(fa, p.lr_anon * 3, 0.0)
    loader = _clip_loader(ctx, data.action.splits.train)
    prepare = anonymizer_input(ctx)
    partial = cached.with_name(cached.stem + ".partial.pt")
    identity = {"epochs": p.identity_epochs, "steps": len(loader), "lr": p.lr_anon}
    loop = Checkpointed(ctx, partial, "fA identity pretraining", identity)
    start = loop.resume({"fa": fa, "optimizer": opt}, loader)
    bar = ctx.task("fA identity pretraining", p.identity_epochs)
    ctx.progress.update(bar, advance=start)
    trained = ctx.train_module(fa)
    with checkpointing_loop():
        for epoch in range(start, p.identity_epochs):
            losses = []
            for clips, _ in shuffled(loader, epoch):
                clips = prepare(clips)
                with ctx.autocast():
                    loss = F.l1_loss(trained(clips), clips)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(loss.item())
            ctx.log("identity", epoch=epoch, l1=float(np.mean(losses)))
            label = f"fA identity pretraining epoch {epoch + 1}/{p.identity_epochs}"
            loop.save(epoch, label, {"fa": fa, "optimizer": opt}, loader)
            ctx.progress.update(bar, advance=1, info=f"L1 {np.mean(losses):.4f}")
            stop_if_asked("fA identity pretraining", epoch)


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


class EndlessBatches:
    """Batches of a shuffling loader, pass after pass, resumable mid-pass.

    `state()` is the loader generator's state at the start of the current pass, the batches
    taken from it and the generator's state now; `restore` replays the pass up to there
    (the skipped batches are read again, not trained on), so a resumed run draws the same
    batches as one that never stopped.
    """

    def __init__(self, loader: DataLoader[Any]) -> None:
        self.loader = loader
        self._it: Iterator[Any] | None = None
        self._start: torch.Tensor | None = None
        self._taken = 0
        self._passes = 0  # passes begun (each its own shuffle)

    def __iter__(self) -> EndlessBatches:
        return self

    def __next__(self) -> Any:
        while True:
            if self._it is None:
                self._start = self._generator_state()
                self._it, self._taken = iter(shuffled(self.loader, self._passes)), 0
                self._passes += 1
            try:
                batch = next(self._it)
            except StopIteration:
                self._it = None
                continue
            self._taken += 1
            return batch

    def _generator_state(self) -> torch.Tensor | None:
        gen = self.loader.generator
        return None if gen is None else gen.get_state()

    def state(self) -> dict[str, Any]:
        """Where the batches stand (see the class)."""
        return {
            "open": self._it is not None,
            "start": self._start,
            "taken": self._taken,
            "passes": self._passes,
            "now": self._generator_state(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue where `state()` was taken."""
        gen = self.loader.generator
        self._it, self._passes = None, state["passes"]
        if not state["open"]:
            if gen is not None and state["now"] is not None:
                gen.set_state(state["now"])
            return
        if gen is not None and state["start"] is not None:
            gen.set_state(state["start"])
        replayed = shuffled(self.loader, self._passes - 1)
        self._start, self._it, self._taken = state["start"], iter(replayed), 0
        for _ in range(state["taken"]):
            next(self._it)
        self._taken = state["taken"]


def private_loader(
    ctx: RunContext, data: Benchmark
) -> DataLoader[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled batches of the private train images and their labels (seeded)."""
    images = Images(data.privacy.splits.train)
    loader = train_loader(images, ctx.preset.privacy_batch, ctx.seed + 1, "privacy_batch", True)
    if len(loader) == 0:
        raise BenchError(
            f"privacy_batch={ctx.preset.privacy_batch} exceeds the "
            f"{len(data.privacy.splits.train)} private training images; lower --set privacy_batch"
        )
    return loader


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
        loader = _clip_loader(ctx, data.action.splits.train)
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
            budget=self.budget,
        )
        done = loop.resume(parts, loader)  # epochs finished, over all phases
        rows = ctx.history.get("minimax", [])
        self.converged = bool(rows) and rows[-1].get("plateau") == 1.0  # resumed after it
        for name, title, epochs, run_epoch in phases:
            if not epochs:
                continue
            with ctx.stage(name), checkpointing_loop():
                bar = ctx.task(title, epochs)
                ctx.progress.update(bar, advance=min(done, epochs))
                for epoch in range(min(done, epochs), epochs):
                    if name == "minimax" and self.converged:
                        ctx.progress.update(bar, total=epoch)
                        break
                    shuffled(loader, loop.base + epoch)  # each epoch of the loop its own shuffle
                    if name == "minimax" and epoch == 0:
                        self.budget.begin_game()
                    run_epoch(epoch)
                    label = f"{title} epoch {epoch + 1}/{epochs}"
                    loop.save(loop.base + epoch, label, parts, loader)
                    ctx.progress.update(bar, advance=1, info=self.info)
                    stop_if_asked(title, epoch)
            done = max(0, done - epochs)
            loop.base += epochs
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
