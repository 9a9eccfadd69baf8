"""fA0: the UNet++ anonymizer built at the preset's size and its identity pretraining (L1
reconstruction of the action clips, paper eq. 5), cached per preset, data and seed, since
every learned method and every B starts from the same fA0."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from bench.contract.atomic import WriteError
from bench.contract.config import Preset
from bench.contract.context import RunContext
from bench.contract.dataset import Benchmark, VideoArray
from bench.contract.distributed import agree, is_main, main_lock
from bench.contract.errors import BenchError
from bench.contract.locks import exclusive
from bench.models.anonymizer import FrameAnonymizer
from bench.training.augment import clip_augmentation
from bench.training.batches import pixels_to_device, train_loader
from bench.training.checkpointing import Checkpointed, Stateful
from bench.training.clips import TrainClips
from bench.training.fits import load_state, save_state
from bench.training.recipes import make_optimizer


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


def clip_loader(
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
    loader = clip_loader(ctx, data.action.splits.train)
    prepare = anonymizer_input(ctx)
    partial = cached.with_name(cached.stem + ".partial.pt")
    identity = {"epochs": p.identity_epochs, "steps": len(loader), "lr": p.lr_anon}
    parts: dict[str, Stateful] = {"fa": fa, "optimizer": opt}
    loop = Checkpointed(ctx, partial, "fA identity pretraining", identity, parts, loader)
    trained = ctx.train_module(fa)
    for epoch in loop.epochs("fA identity pretraining", p.identity_epochs, loop.resume()):
        losses = []
        for clips, _ in loader:
            clips = prepare(clips)
            with ctx.autocast():
                loss = F.l1_loss(trained(clips), clips)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        ctx.log("identity", epoch=epoch, l1=float(np.mean(losses)))
        loop.info = f"L1 {np.mean(losses):.4f}"
