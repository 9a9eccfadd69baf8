"""The inversion attack (`--protocol inversion`): an attacker who can run fA* (white box) and
owns raw private training images learns to undo it, then attacks the reconstructions.

1. g, a small UNet (`bench.models.inversion`, sized by the preset's `inversion_*`
   settings), is trained with L1 on pairs (fA*(x), x) of the private train split and the
   epoch with the best PSNR on val is kept. g is stored under `attacks/<attack key>/` and
   reused by every evaluation model of the same cell.
2. fB', trained and selected on raw private images (the pretrained attacker of Table 6),
   scores the raw test images, fA*(test) and g(fA*(test)).
3. Reconstruction quality on test: PSNR (dB, per image, capped at `PSNR_CAP` where the
   images are equal) and SSIM (11x11 Gaussian window), both kornia's, averaged over images,
   for g(fA*(test)) and, as the floor, for fA*(test) itself.

Fixed baselines are attacked the same way: for them g learns deblurring, super-resolution or
inpainting.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kornia
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from bench.contract.atomic import WriteError
from bench.contract.context import RunContext, seed_everything
from bench.contract.dataset import ImageArray, PrivacyData, to_float_clip, to_uint8
from bench.contract.distributed import agree, is_main, main_lock
from bench.contract.locks import exclusive
from bench.contract.method import Method
from bench.data.frame_store import TensorFrames
from bench.models.inversion import InversionUNet
from bench.training.anonymize_splits import anonymized_splits
from bench.training.batches import to_device, train_loader
from bench.training.fits import load_state, save_state
from bench.training.fresh_models import fit_and_select, privacy_scores
from bench.training.scoring import fresh_privacy_model, record_ap, train_privacy_model

INVERTER = "inverter.pt"
STAGE = "g (inversion)"
PSNR_CAP = 100.0  # dB: what equal images score (their MSE is 0)
SSIM_WINDOW = 11


class Pairs(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """(fA*(x), x) as float (3, S, S) images in [0, 1] at the preset's frame size."""

    def __init__(self, anonymized: ImageArray, raw: ImageArray, size: int) -> None:
        self.anonymized, self.raw, self.size = anonymized, raw, size

    def __len__(self) -> int:
        return len(self.raw)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (
            to_float_clip(self.anonymized.images.read(i), self.size)[:, 0],
            to_float_clip(self.raw.images.read(i), self.size)[:, 0],
        )


def build_inverter(ctx: RunContext) -> InversionUNet:
    """An untrained g at the preset's size, drawn from the run's seed."""
    seed_everything(ctx.seed)
    return InversionUNet(ctx.preset.inversion_width, ctx.preset.inversion_depth)


def _batches(pairs: Pairs, batch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    for start in range(0, len(pairs), batch):
        items = [pairs[i] for i in range(start, min(start + batch, len(pairs)))]
        yield torch.stack([a for a, _ in items]), torch.stack([r for _, r in items])


@torch.no_grad()
def image_scores(images: torch.Tensor, reference: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per image of (N, 3, H, W) against `reference`: PSNR in dB (kornia's, capped at
    `PSNR_CAP` where equal) and SSIM (kornia's, mean over the image's SSIM map)."""
    x, y = images.float(), reference.float()
    mse = (x - y).pow(2).flatten(1).mean(1)
    psnr = [  # kornia's PSNR is over the whole batch: one image at a time
        PSNR_CAP if mse[i] == 0 else min(PSNR_CAP, float(kornia.metrics.psnr(x[i], y[i], 1.0)))
        for i in range(len(x))
    ]
    window = min(SSIM_WINDOW, _odd(min(x.shape[-2:])))
    ssim = kornia.metrics.ssim(x, y, window, 1.0).flatten(1).mean(1).tolist()
    return psnr, ssim


def _odd(n: int) -> int:
    return n if n % 2 else n - 1


@dataclass
class Reconstruction:
    """g over a split: the reconstructions as uint8 (N, 1, S, S, 3), and the mean PSNR / SSIM
    against the raw images of the reconstructions (`after`) and of fA*(x) (`before`)."""

    frames: torch.Tensor
    after: tuple[float, float]
    before: tuple[float, float]

    def images(self, targets: torch.Tensor) -> ImageArray:
        """The reconstructions as an image set (stored as uint8, like every anonymized set)."""
        return ImageArray(TensorFrames(self.frames), targets)


@torch.no_grad()
def reconstruct(g: nn.Module, pairs: Pairs, ctx: RunContext) -> Reconstruction:
    """g(fA*(x)) over a split, batch by batch (nothing held as float but one batch)."""
    g.eval()
    frames: list[torch.Tensor] = []
    scores: dict[str, tuple[list[float], list[float]]] = {"after": ([], []), "before": ([], [])}
    for anon, raw in _batches(pairs, ctx.preset.inversion_batch):
        with ctx.autocast():
            out = g(to_device(anon, ctx)).float().clamp(0, 1).cpu()
        frames.append(to_uint8(out).permute(0, 2, 3, 1)[:, None])
        for name, images in (("after", out), ("before", anon)):
            psnr, ssim = image_scores(images, raw)
            scores[name][0].extend(psnr)
            scores[name][1].extend(ssim)
    means = {k: (statistics.fmean(p), statistics.fmean(q)) for k, (p, q) in scores.items()}
    return Reconstruction(torch.cat(frames).contiguous(), means["after"], means["before"])


def trained_inverter(train: Pairs, val: Pairs, ctx: RunContext, folder: Path | None) -> nn.Module:
    """g trained on `train`, selected on `val` PSNR; loaded from `folder` when stored there,
    else trained and stored (one worker trains, others wait and load it)."""
    if folder is None:
        return _train(train, val, ctx)
    path = folder / INVERTER
    with main_lock(exclusive(folder, f"the inversion network of {folder.name}", ctx.warn)):
        if agree(path.is_file()):
            stored, why = load_state(path)
            built = build_inverter(ctx)
            try:
                built.load_state_dict(stored["g"])
                for row in stored["history"]:
                    ctx.log(STAGE, **row)
                ctx.note("inverter", f"g reused from attacks/{folder.name}")
                ctx.plan_stages(-1)
                return built.to(ctx.device)
            except Exception as exc:  # not an inverter file, or one of other shapes
                ctx.warn(
                    f"stored inversion network {path} is unreadable ({why or exc}); retraining"
                )
        first = len(ctx.history.get(STAGE, []))
        g = _train(train, val, ctx)
        if is_main():
            state: dict[str, Any] = {
                "g": g.state_dict(),
                "history": ctx.history.get(STAGE, [])[first:],
                "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            }
            try:
                save_state(path, state)
            except WriteError as exc:
                ctx.warn(f"inversion network not stored ({exc}); this run goes on with it")
    return g


def _train(train: Pairs, val: Pairs, ctx: RunContext) -> nn.Module:
    p = ctx.preset
    loader = train_loader(train, p.inversion_batch, ctx.seed, "inversion_batch")

    def l1(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        anon, raw = (to_device(x, ctx) for x in batch)
        return F.l1_loss(model(anon).float(), raw)

    def val_psnr(model: nn.Module) -> float:
        return reconstruct(model, val, ctx).after[0]

    model, _ = fit_and_select(
        ctx, STAGE, build_inverter(ctx), loader, l1, val_psnr, p.inversion_epochs, p.lr_inversion
    )
    return model


def inversion_attack(
    method: Method, privacy: PrivacyData, ctx: RunContext, folder: Path | None
) -> dict[str, float]:
    """The attack on the fitted `method` over `privacy` (see the module docstring); its
    metrics. `folder`: where g is stored for reuse (None: not stored)."""
    splits, size = privacy.splits, ctx.preset.frame_size
    fb = train_privacy_model(
        ctx, fresh_privacy_model(privacy, ctx), splits.train, splits.val, "fB' (raw, attacker)"
    )
    with ctx.stage("anonymize"):
        anon = anonymized_splits(method, splits, ctx, videos=False)
    with ctx.stage("inversion"):
        g = trained_inverter(
            Pairs(anon.train, splits.train, size), Pairs(anon.val, splits.val, size), ctx, folder
        )
        rebuilt = reconstruct(g, Pairs(anon.test, splits.test, size), ctx)
    groups = privacy.test_groups
    scores = {
        "": privacy_scores(fb, rebuilt.images(splits.test.targets), ctx, groups),
        "anonymized_": privacy_scores(fb, anon.test, ctx, groups),
        "raw_": privacy_scores(fb, splits.test, ctx, groups),
    }
    for prefix, found in scores.items():
        record_ap(ctx, f"{prefix}privacy_ap", privacy, found["ap"])
    metrics = {f"{p}privacy_{m}": float(s[m]) for p, s in scores.items() for m in ("cmap", "f1")}
    return {
        **metrics,
        "reconstruction_psnr": rebuilt.after[0],
        "reconstruction_ssim": max(0.0, rebuilt.after[1]),  # a negative mean SSIM counts as 0
        "anonymized_psnr": rebuilt.before[0],
        "anonymized_ssim": max(0.0, rebuilt.before[1]),
    }
