"""What an anonymizer costs to run: its parameters, its FLOPs per frame at the working size
(`torch.utils.flop_counter`: matrix products and convolutions; elementwise work such as
blackening counts 0), and the frames per second of `Method.anonymize` on the run's device, at
the working size and at 320x240 (UCF101's frame size). The same for fixed and learned
methods: speed and FLOPs do not depend on the weights, only on what `anonymize` computes.

Inputs are random clips with one person box (the mask labels of the synthetic renderer), so
region baselines do their work; timings repeat until `MIN_SECONDS` have passed, after one
untimed warm-up call.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from bench.contract.context import RunContext
from bench.contract.errors import BenchError
from bench.contract.frames import REGION_ACTION, REGION_BODY
from bench.contract.method import Method
from bench.training.anonymize_splits import arithmetic, checked_anonymize

DEPLOY_SIZE = (320, 240)  # width x height of the deployment measurement (UCF101's frames)
MIN_SECONDS = 0.5  # timed calls repeat until this much time has passed
MAX_CALLS = 50
PAD_MULTIPLE = 32  # a network that needs sides divisible by its stride gets padded frames


@dataclass(frozen=True)
class Cost:
    """An anonymizer's cost, as the record's `cost` stores it."""

    parameters: int  # learnable parameters of the networks `anonymize` runs
    flops_per_frame: float  # at the working size (frame_size x frame_size)
    fps: float  # frames per second of anonymize() at the working size
    fps_320x240: float  # frames per second at 320x240 (see `deploy_size`)
    frame_size: int
    deploy_size: str  # 'WxH' the 320x240 figure was measured at ('320x256': padded)
    batch_frames: int  # frames per timed anonymize() call at the working size
    device: str
    precision: str

    def as_dict(self) -> dict[str, Any]:
        """The record's `cost` entry."""
        return asdict(self)


def parameter_count(method: Method) -> int:
    """Learnable parameters of the networks a method holds (its attributes that are modules,
    or lists / dicts of them), each counted once; 0 for a fixed transform."""
    seen: dict[int, int] = {}
    for module in _modules(vars(method).values()):
        for p in module.parameters():
            seen[id(p)] = p.numel()
    return sum(seen.values())


def _modules(values: Any) -> Iterator[nn.Module]:
    for value in values:
        if isinstance(value, nn.Module):
            yield value
        elif isinstance(value, list | tuple):
            yield from _modules(value)
        elif isinstance(value, dict):
            yield from _modules(value.values())


def probe_clips(
    n: int, frames: int, height: int, width: int, device: torch.device, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random clips (N, 3, T, H, W) in [0, 1] and person masks (N, 1, T, H, W): a body box in
    the middle with an action region inside it."""
    generator = torch.Generator().manual_seed(seed)
    clips = torch.rand(n, 3, frames, height, width, generator=generator)
    masks = torch.zeros(n, 1, frames, height, width)
    top, bottom, left, right = height // 4, 3 * height // 4, width // 3, 2 * width // 3
    masks[..., top:bottom, left:right] = REGION_BODY
    masks[..., top : (top + bottom) // 2, left:right] = REGION_ACTION
    return clips.to(device), masks.to(device)


def _padded(clips: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    h, w = clips.shape[-2:]
    pad = [0, (-w) % PAD_MULTIPLE, 0, (-h) % PAD_MULTIPLE]
    return F.pad(clips, [*pad, 0, 0], mode="replicate"), F.pad(masks, [*pad, 0, 0])


@torch.no_grad()
def flops_per_frame(method: Method, clips: torch.Tensor, masks: torch.Tensor) -> float:
    """Floating-point operations of one anonymize() call, per frame (matrix products and
    convolutions, as `torch.utils.flop_counter` counts them)."""
    counter = FlopCounterMode(display=False)
    with counter:
        method.anonymize(clips, masks)
    return counter.get_total_flops() / (clips.shape[0] * clips.shape[2])


@torch.no_grad()
def frames_per_second(
    method: Method,
    clips: torch.Tensor,
    masks: torch.Tensor,
    ctx: RunContext,
    min_seconds: float = MIN_SECONDS,
) -> float:
    """Frames per second of anonymize() on `clips` in the run's arithmetic (after a warm-up)."""
    with arithmetic(method, ctx):
        checked_anonymize(method, clips, masks)  # warm-up, and the output checked once
        _synchronize(clips.device)
        calls, started = 0, time.perf_counter()
        while calls < MAX_CALLS and (calls == 0 or time.perf_counter() - started < min_seconds):
            method.anonymize(clips, masks)
            calls += 1
        _synchronize(clips.device)
        seconds = time.perf_counter() - started
    return calls * clips.shape[0] * clips.shape[2] / seconds


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_cost(
    method: Method, ctx: RunContext, batch: int = 4, min_seconds: float = MIN_SECONDS
) -> Cost:
    """The cost of the fitted `method` on the run's device: `batch` clips of the preset's
    length at the working size, and one clip at 320x240 (padded to multiples of 32 when the
    method's network needs it, which `deploy_size` then says)."""
    p, device = ctx.preset, ctx.device
    clips, masks = probe_clips(batch, p.frames, p.frame_size, p.frame_size, device)
    flops = flops_per_frame(method, clips[:1], masks[:1])
    fps = frames_per_second(method, clips, masks, ctx, min_seconds)
    width, height = DEPLOY_SIZE
    big, big_masks = probe_clips(1, p.frames, height, width, device)
    try:
        fps_big = frames_per_second(method, big, big_masks, ctx, min_seconds)
    except (RuntimeError, BenchError):  # e.g. a UNet whose encoder needs sides divisible by 32
        big, big_masks = _padded(big, big_masks)
        fps_big = frames_per_second(method, big, big_masks, ctx, min_seconds)
    return Cost(
        parameters=parameter_count(method),
        flops_per_frame=float(flops),
        fps=round(fps, 2),
        fps_320x240=round(fps_big, 2),
        frame_size=p.frame_size,
        deploy_size=f"{big.shape[-1]}x{big.shape[-2]}",
        batch_frames=batch * p.frames,
        device=str(device),
        precision=p.precision if method.trainable else "fp32",
    )
