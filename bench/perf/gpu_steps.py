"""`bench perf --gpu`: one training step of each model at a preset's sizes, timed and counted.

Three steps, each as the benchmark trains it (`RunContext.train_module`: channels-last,
DDP-ready, optionally compiled; bf16 autocast on CUDA; AdamW):

* anonymizer: the minimax game's step 1 (paper Algorithm 1): fA on a batch of `anon_batch`
  clips, through the frozen auxiliary fT (cross-entropy) and fB (NT-Xent on two views of
  `privacy_batch` private images, each through fA), then fA's optimizer step;
* fT': the evaluation action model on `action_batch` clips (cross-entropy);
* fB': the evaluation privacy model on `privacy_batch` images (multi-label BCE).

FLOPs are counted by torch's FlopCounterMode over one step (forward and backward: matrix
multiplies and convolutions, the work a GPU's tensor cores do); TFLOP/s is that over the
measured seconds per step, and the share of the device's bf16 dense peak (`PEAK_BF16_TFLOPS`;
unknown devices have none). Random weights and inputs: the cost of a step does not depend on
what the weights are.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from rich.console import Console
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from bench.contract.config import EvalModels, Preset
from bench.contract.context import RunContext, make_progress
from bench.models.action import build_action_model
from bench.models.privacy import AttributeClassifier, BudgetModel
from bench.training.identity import build_anonymizer
from bench.training.losses import nt_xent
from bench.training.recipes import make_optimizer

# bf16 dense tensor-core peaks (TFLOP/s, without sparsity) from the vendors' data sheets, by a
# part of the name torch.cuda.get_device_name gives
PEAK_BF16_TFLOPS = {
    "H200": 989.4,
    "H100 PCIe": 756.0,
    "H100": 989.4,  # SXM
    "GH200": 989.4,
    "A100": 312.0,
    "L40S": 362.1,
    "L40": 181.0,
    "L4": 121.0,
    "A10G": 70.0,
    "A10": 125.0,
    "RTX 4090": 165.2,
    "RTX 3090": 71.0,
}

N_CLASSES, N_ATTRIBUTES = 101, 7  # UCF101's classes, VISPR1's attributes


def device_peak(device: torch.device) -> float | None:
    """The bf16 dense peak of a CUDA device (TFLOP/s); None elsewhere or when unknown."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for part, peak in PEAK_BF16_TFLOPS.items():  # longer names first where they overlap
        if part in name:
            return peak
    return None


@dataclass(frozen=True)
class StepFigure:
    """The measured cost of one training step."""

    name: str
    items: int  # clips or images per step
    unit: str
    seconds: float  # per step (median of the timed steps)
    tflop: float  # per step, forward and backward
    peak: float | None  # the device's bf16 dense peak, TFLOP/s

    @property
    def items_per_s(self) -> float:
        """Clips or images per second."""
        return self.items / self.seconds

    @property
    def tflops(self) -> float:
        """Achieved TFLOP/s."""
        return self.tflop / self.seconds

    @property
    def share_of_peak(self) -> float | None:
        """Achieved / peak, where the peak is known."""
        return None if self.peak is None else self.tflops / self.peak


def _context(preset: Preset, device: torch.device, compile_models: bool) -> RunContext:
    """A context for the steps alone (they read and write no file)."""
    console, nowhere = Console(quiet=True), Path(tempfile.gettempdir())
    return RunContext(
        preset, device, 0, nowhere, nowhere, console, make_progress(console),
        compile=compile_models,
    )  # fmt: skip


def _time(step: Callable[[], None], device: torch.device, steps: int, warmup: int) -> float:
    """Median seconds of `steps` calls of `step` after `warmup` (compilation, cudnn tuning)."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def _flops(step: Callable[[], None]) -> float:
    """TFLOP of one call of `step` (forward and backward)."""
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return counter.get_total_flops() / 1e12


def _supervised_step(
    ctx: RunContext, model: nn.Module, inputs: torch.Tensor, loss: Callable[..., torch.Tensor],
    targets: torch.Tensor, lr: float,
) -> Callable[[], None]:  # fmt: skip
    trained = ctx.train_module(model.to(ctx.device))
    opt = make_optimizer(model, lr, ctx.preset.weight_decay)

    def step() -> None:
        with ctx.autocast():
            value = loss(trained(inputs).float(), targets)
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()

    return step


def _anonymizer_step(ctx: RunContext) -> Callable[[], None]:
    p, device = ctx.preset, ctx.device
    fa = build_anonymizer(ctx.preset).to(device)
    trained = ctx.train_module(fa)
    ft = build_action_model(p.aux_ft_arch, N_CLASSES, "scratch", None).to(device).eval()
    fb = BudgetModel(p.aux_fb_arch, init="scratch", cache_dir=None).to(device).eval()
    for frozen in (ft, fb):
        frozen.requires_grad_(False)
    opt = make_optimizer(fa, p.lr_anon, 0.0)
    clips = torch.rand(p.anon_batch, 3, p.frames, p.frame_size, p.frame_size, device=device)
    labels = torch.randint(0, N_CLASSES, (p.anon_batch,), device=device)
    views = torch.rand(2, p.privacy_batch, 3, p.frame_size, p.frame_size, device=device)

    def step() -> None:
        with ctx.autocast():
            anon = trained(clips)
            lt = F.cross_entropy(ft(anon).float(), labels)
            z1, z2 = (fb(fa.forward_frames(v)) for v in views)
            loss = lt - nt_xent(z1.float(), z2.float(), p.temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def measure_steps(
    preset: Preset, device: torch.device, steps: int = 10, warmup: int = 3, compile_models: bool = False
) -> list[StepFigure]:  # fmt: skip
    """The anonymizer, fT' and fB' training steps of `preset` on `device` (FLOPs counted on
    the eager models: the counter does not see inside compiled graphs)."""
    peak = device_peak(device)
    timed = _steps(_context(preset, device, compile_models))
    counted = _steps(_context(preset, device, False)) if compile_models else timed
    figures = []
    for (name, items, unit, step), (_, _, _, eager) in zip(timed, counted, strict=True):
        seconds = _time(step, device, steps, warmup)
        figures.append(StepFigure(name, items, unit, seconds, _flops(eager), peak))
    return figures


def _steps(ctx: RunContext) -> list[tuple[str, int, str, Callable[[], None]]]:
    p, device, models = ctx.preset, ctx.device, EvalModels.resolve(ctx.preset)
    clips = torch.rand(p.action_batch, 3, p.frames, p.frame_size, p.frame_size, device=device)
    images = torch.rand(p.privacy_batch, 3, p.frame_size, p.frame_size, device=device)
    return [
        ("anonymizer (minimax step 1)", p.anon_batch, "clips", _anonymizer_step(ctx)),
        (f"fT' {models.ft_arch}", p.action_batch, "clips", _supervised_step(
            ctx, build_action_model(models.ft_arch, N_CLASSES, "scratch", None), clips,
            F.cross_entropy, torch.randint(0, N_CLASSES, (p.action_batch,), device=device),
            p.lr_action)),
        (f"fB' {models.fb_arch}", p.privacy_batch, "images", _supervised_step(
            ctx, AttributeClassifier(models.fb_arch, N_ATTRIBUTES, "scratch", None), images,
            F.binary_cross_entropy_with_logits,
            torch.randint(0, 2, (p.privacy_batch, N_ATTRIBUTES), device=device).float(),
            p.lr_privacy)),
    ]  # fmt: skip
