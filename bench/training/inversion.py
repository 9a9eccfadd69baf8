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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kornia
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from bench.contract.atomic import WriteError
from bench.contract.context import RunContext, seed_everything
from bench.contract.dataset import ImageArray, PrivacyData, to_float_clip
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
def image_quality(
    images: torch.Tensor, reference: torch.Tensor, batch: int = 64
) -> tuple[float, float]:
    """(mean PSNR in dB, mean SSIM) of images (N, 3, H, W) against `reference`, per image."""
    psnrs, ssims = [], []
    for start in range(0, len(images), batch):
        x = images[start : start + batch].float()
        y = reference[start : start + batch].float()
        mse = (x - y).pow(2).flatten(1).mean(1)
        for i in range(len(x)):  # kornia's PSNR is over the whole batch: one image at a time
            value = PSNR_CAP if mse[i] == 0 else float(kornia.metrics.psnr(x[i], y[i], 1.0))
            psnrs.append(min(value, PSNR_CAP))
        ssim = kornia.metrics.ssim(x, y, min(SSIM_WINDOW, _odd(min(x.shape[-2:]))), 1.0)
        ssims.extend(ssim.flatten(1).mean(1).tolist())
    return sum(psnrs) / len(psnrs), sum(ssims) / len(ssims)


def _odd(n: int) -> int:
    return n if n % 2 else n - 1


@torch.no_grad()
def reconstruct(g: nn.Module, pairs: Pairs, ctx: RunContext) -> tuple[torch.Tensor, torch.Tensor]:
    """(g(fA*(x)), x) over a split, float (N, 3, S, S) on the CPU."""
    g.eval()
    outs, raws = [], []
    for anon, raw in _batches(pairs, ctx.preset.inversion_batch):
        with ctx.autocast():
            outs.append(g(to_device(anon, ctx)).float().clamp(0, 1).cpu())
        raws.append(raw)
    return torch.cat(outs), torch.cat(raws)


def as_images(frames: torch.Tensor, targets: torch.Tensor) -> ImageArray:
    """Float (N, 3, S, S) images in [0, 1] stored as uint8, like every anonymized set."""
    pixels = frames.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1)
    return ImageArray(TensorFrames(pixels[:, None].contiguous()), targets)


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
        out, raw = reconstruct(model, val, ctx)
        return image_quality(out, raw)[0]

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
        test = Pairs(anon.test, splits.test, size)
        rebuilt, raw = reconstruct(g, test, ctx)
        anonymized = torch.stack([test[i][0] for i in range(len(test))])
    groups = privacy.test_groups
    scores = {
        "": privacy_scores(fb, as_images(rebuilt, splits.test.targets), ctx, groups),
        "anonymized_": privacy_scores(fb, anon.test, ctx, groups),
        "raw_": privacy_scores(fb, splits.test, ctx, groups),
    }
    for prefix, found in scores.items():
        record_ap(ctx, f"{prefix}privacy_ap", privacy, found["ap"])
    psnr, ssim = image_quality(rebuilt, raw)
    floor_psnr, floor_ssim = image_quality(anonymized, raw)
    metrics = {f"{p}privacy_{m}": float(s[m]) for p, s in scores.items() for m in ("cmap", "f1")}
    return {
        **metrics,
        "reconstruction_psnr": psnr,
        "reconstruction_ssim": max(0.0, ssim),
        "anonymized_psnr": floor_psnr,
        "anonymized_ssim": max(0.0, floor_ssim),
    }
