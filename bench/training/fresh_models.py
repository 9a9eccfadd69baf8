"""Fresh evaluation models: train fT' / fB' on (anonymized) data, select on val, score on test."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from bench.contract.context import RunContext
from bench.contract.dataset import ImageArray, VideoArray
from bench.contract.distributed import gather_in_order, my_share
from bench.training.batches import pixels_to_device, to_device, train_loader
from bench.training.checkpointing import Checkpointed, Stateful, checkpoint_path
from bench.training.clips import EvalClips, Images, TrainClips
from bench.training.metrics import attribute_ap, class_mean_ap, macro_f1, video_top1
from bench.training.recipes import make_optimizer


def supervised_loss(
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], ctx: RunContext
) -> Callable[[nn.Module, Any], torch.Tensor]:
    """Loss of a model on an (inputs, targets) batch under `criterion`."""

    def loss_fn(model: nn.Module, batch: Any) -> torch.Tensor:
        inputs, targets = batch
        return criterion(model(pixels_to_device(inputs, ctx)), to_device(targets, ctx))

    return loss_fn


def fit_and_select(
    ctx: RunContext,
    stage: str,
    model: nn.Module,
    loader: DataLoader[Any],
    loss_fn: Callable[[nn.Module, Any], torch.Tensor],
    validate: Callable[[nn.Module], float],
    epochs: int,
    lr: float,
    patience: int = 0,
) -> tuple[nn.Module, float]:
    """Train for at most `epochs`, keep the weights with the best validation score; returns
    (model, best). With `patience`, training stops once `patience` epochs in a row have not
    improved on the best score (noted in the record); the learning-rate schedule spans
    `epochs` either way, so a run that never stalls is the same as one without patience.

    Every epoch ends with a checkpoint (`bench.training.checkpointing`): the same run started again
    continues after the last finished epoch, with the same result.
    """
    model.to(ctx.device)
    trained = ctx.train_module(
        model
    )  # DistributedDataParallel under torchrun; else the model itself
    opt = make_optimizer(model, lr, ctx.preset.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=epochs * len(loader), pct_start=0.15
    )
    parts: dict[str, Stateful] = {"model": model, "optimizer": opt, "scheduler": sched}
    identity = {"epochs": epochs, "steps": len(loader), "lr": lr, "patience": patience}
    loop = Checkpointed(ctx, checkpoint_path(ctx, stage), stage, identity, parts, loader)
    start = loop.resume()
    best_score = loop.extra.get("best_score", -np.inf)
    best_epoch = int(loop.extra.get("best_epoch", -1))
    best_state = loop.extra.get("best_model") or copy.deepcopy(model.state_dict())

    def stalled(epoch: int) -> bool:  # `patience` epochs in a row before it without a better score
        return patience > 0 and epoch > 0 and epoch - 1 - best_epoch >= patience

    finished = start  # epochs done
    for epoch in loop.epochs(stage, epochs, start, until=stalled):
        model.train()
        losses = []
        for batch in loader:
            with ctx.autocast():
                loss = loss_fn(trained, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        score = validate(model)
        if score > best_score:
            best_score, best_epoch = score, epoch
            best_state = copy.deepcopy(model.state_dict())
        ctx.log(stage, epoch=epoch, loss=float(np.mean(losses)), val=score)
        loop.extra = {
            "best_score": float(best_score),
            "best_epoch": best_epoch,
            "best_model": best_state,
        }
        loop.info = f"loss {np.mean(losses):.3f} val {score:.3f}"
        finished = epoch + 1
    if finished < epochs:
        ctx.note(
            f"stopped_early:{stage}",
            f"stopped after {finished} of at most {epochs} epochs: no better validation score "
            f"in {patience} epochs (kept epoch {best_epoch + 1})",
        )
    model.load_state_dict(best_state)
    return model, float(best_score)


@torch.no_grad()
def _predict(model: nn.Module, ds: Dataset[Any], ctx: RunContext, batch: int) -> list[torch.Tensor]:
    """[float logits, *the rest of the items] of every item of `ds`, in order. With several
    processes each predicts its share and all of them get the whole, in order."""
    model.eval()
    mine = my_share(len(ds))  # type: ignore[arg-type]
    rows: list[list[torch.Tensor]] = []
    loader = DataLoader(Subset(ds, mine), batch_size=batch, generator=torch.Generator())
    for inputs, *rest in loader:  # (its own generator: evaluating draws no global number)
        with ctx.autocast():
            logits = model(pixels_to_device(inputs, ctx))
        rows.append([logits.float().cpu(), *rest])
    parts = [torch.cat(column) for column in zip(*rows, strict=True)]
    return gather_in_order(parts, len(ds))  # type: ignore[arg-type]


def predict_clips(model: nn.Module, data: VideoArray, ctx: RunContext) -> tuple[np.ndarray, ...]:
    """Softmax per evaluation clip, with each clip's video index."""
    p = ctx.preset
    ds = EvalClips(data, p.frames, p.skip, p.eval_clips)
    logits, _, videos = _predict(model, ds, ctx, p.action_batch * 2)
    return logits.softmax(1).numpy(), videos.numpy()


def action_top1(model: nn.Module, data: VideoArray, ctx: RunContext) -> float:
    """Video-level top-1 of `model` on `data`."""
    probs, vids = predict_clips(model, data, ctx)
    return video_top1(probs, vids, data.labels.numpy())


def train_action_model(
    ctx: RunContext, model: nn.Module, train: VideoArray, val: VideoArray, stage: str
) -> nn.Module:
    """Train fT' with cross-entropy on random clips; keep the epoch with the best val top-1."""
    p = ctx.preset
    loader = train_loader(
        TrainClips(train, p.frames, p.skip), p.action_batch, ctx.seed, "action_batch"
    )

    model, _ = fit_and_select(
        ctx,
        stage,
        model,
        loader,
        supervised_loss(F.cross_entropy, ctx),
        lambda m: action_top1(m, val, ctx),
        p.action_epochs,
        p.lr_action,
        p.eval_patience,
    )
    return model


def predict_attributes(model: nn.Module, data: ImageArray, ctx: RunContext) -> np.ndarray:
    """Logits (N, A) of an attribute classifier."""
    ds = Images(data)
    logits, _ = _predict(model, ds, ctx, ctx.preset.privacy_batch * 2)
    return logits.numpy()


def privacy_scores(
    model: nn.Module,
    data: ImageArray,
    ctx: RunContext,
    groups: tuple[tuple[int, ...], ...] | None = None,
) -> dict[str, Any]:
    """cMAP, macro F1 and AP per attribute (`ap`, NaN without positives) on `data`.

    With `groups`, `data` is labelled in another attribute space and attribute j is predicted
    by the max logit over the classifier's outputs `groups[j]`.
    """
    logits = predict_attributes(model, data, ctx)
    if groups is not None:
        logits = np.stack([logits[:, list(g)].max(1) for g in groups], axis=1)
    targets = data.targets.numpy()
    return {
        "cmap": class_mean_ap(logits, targets),
        "f1": macro_f1(logits, targets),
        "ap": attribute_ap(logits, targets),
    }


def train_privacy_model(
    ctx: RunContext, model: nn.Module, train: ImageArray, val: ImageArray, stage: str
) -> nn.Module:
    """Train fB' with multi-label BCE; keep the epoch with the best val cMAP."""
    p = ctx.preset
    loader = train_loader(Images(train), p.privacy_batch, ctx.seed, "privacy_batch")

    model, _ = fit_and_select(
        ctx,
        stage,
        model,
        loader,
        supervised_loss(F.binary_cross_entropy_with_logits, ctx),
        lambda m: privacy_scores(m, val, ctx)["cmap"],
        p.privacy_epochs,
        p.lr_privacy,
        p.eval_patience,
    )
    return model
