"""Applying a method's fA to whole splits: every frame of every video or image through
`Method.anonymize`, stored as uint8 like a released stream (memory-mapped when large)."""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.nn.functional as F

from bench.contract.context import RunContext
from bench.contract.dataset import ImageArray, Splits, VideoArray, to_float_clip, to_uint8
from bench.contract.errors import BenchError
from bench.contract.frames import FrameSource, PersonMasks
from bench.contract.method import Method
from bench.data.frame_store import PackedFrames


def mask_clips(masks: torch.Tensor, size: int) -> torch.Tensor:
    """Person masks (N, T, H, W) -> float (N, 1, T, size, size), region labels kept (nearest)."""
    m = masks.float().unsqueeze(1)
    if m.shape[-2:] != (size, size):
        m = F.interpolate(m, size=(m.shape[2], size, size), mode="nearest")
    return m


OUTPUT_TOLERANCE = 1e-3  # bf16 rounding of a [0, 1] output


def checked_anonymize(
    method: Method, clips: torch.Tensor, masks: torch.Tensor | None = None
) -> torch.Tensor:
    """`method.anonymize(clips, masks)` as float, checked: a tensor of the clips' shape with
    finite values in [0, 1]; anything else is a BenchError naming the method (plug-ins too),
    never clamped into numbers."""
    anon = method.anonymize(clips, masks)
    name = f"method '{getattr(method, 'name', type(method).__name__)}': anonymize()"
    if not isinstance(anon, torch.Tensor):
        raise BenchError(f"{name} returned a {type(anon).__name__}; it must return a tensor")
    if anon.shape != clips.shape:
        raise BenchError(
            f"{name} returned shape {tuple(anon.shape)} for clips of shape "
            f"{tuple(clips.shape)}; it must return clips of the input's shape (N, C, T, H, W)"
        )
    anon = anon.float()
    if not bool(torch.isfinite(anon).all()):
        raise BenchError(
            f"{name} returned NaN or infinite values; a learned fA has diverged or the "
            "method divides by zero"
        )
    low, high = float(anon.min()), float(anon.max())
    if low < -OUTPUT_TOLERANCE or high > 1 + OUTPUT_TOLERANCE:
        raise BenchError(
            f"{name} returned values in [{low:.4g}, {high:.4g}]; it must return values in "
            "[0, 1] (clamp them in anonymize())"
        )
    return anon


def arithmetic(method: Method, ctx: RunContext) -> contextlib.AbstractContextManager[Any]:
    """What `method.anonymize` runs in: a learned fA in the preset's `precision`; a fixed
    method in fp32 (an obfuscation, not a network: bf16 would only round it, and on CPU
    PyTorch's bf16 depthwise convolution of a reflect-padded channels-last tensor, what
    kornia's blur makes of a decoded frame, never returns)."""
    return ctx.autocast() if method.trainable else contextlib.nullcontext()


IN_MEMORY_BYTES = 1 << 30  # anonymized sets larger than this are memory-mapped under scratch/


def _equal_length_groups(source: FrameSource, batch: int) -> list[list[int]]:
    """Consecutive videos of equal length, at most `batch` per group."""
    groups: list[list[int]] = []
    for i in range(len(source)):
        last = groups[-1] if groups else None
        if last and len(last) < batch and source.length(last[0]) == source.length(i):
            last.append(i)
        else:
            groups.append([i])
    return groups


def masks_of(masks: PersonMasks, group: list[int]) -> torch.Tensor:
    """(N, T, H, W) person masks of the videos in `group`: rows of a mask tensor, or the
    mask videos of a FrameSource (detected people on real data)."""
    if isinstance(masks, torch.Tensor):
        return masks[group]
    return torch.stack([masks.read(i)[..., 0] for i in group])


@torch.no_grad()
def _anonymize_source(
    method: Method,
    source: FrameSource,
    masks: PersonMasks | None,
    ctx: RunContext,
    batch: int,
    name: str,
) -> PackedFrames:
    """Every stored frame of every video through the method, kept as uint8 at the preset's size.

    Methods are frame-wise, so a long video is passed in pieces of at most `max_frames`.
    """
    size = ctx.preset.frame_size
    lengths = [source.length(i) for i in range(len(source))]
    stride = getattr(source, "stride", 1)
    frame_bytes = size * size * 3
    stored = sum(PackedFrames.stored_count(n, stride) for n in lengths)
    path = ctx.scratch_dir / name if stored * frame_bytes > IN_MEMORY_BYTES else None
    out = PackedFrames.allocate(lengths, (size, size, 3), stride, path)
    max_frames = batch * 16
    for group in _equal_length_groups(source, batch):
        clips = torch.stack([to_float_clip(source.read(i), size) for i in group])
        m = None if masks is None else mask_clips(masks_of(masks, group), size)
        pieces = []
        for t0 in range(0, clips.shape[2], max(1, max_frames // len(group))):
            t1 = t0 + max(1, max_frames // len(group))
            piece_masks = None if m is None else m[:, :, t0:t1].to(ctx.device)
            with arithmetic(method, ctx):
                anon = checked_anonymize(method, clips[:, :, t0:t1].to(ctx.device), piece_masks)
            pieces.append(to_uint8(anon).cpu())
        for i, video in zip(group, torch.cat(pieces, dim=2).permute(0, 2, 3, 4, 1), strict=True):
            out.write(i, video)
    return out.finish()


def anonymize_videos(
    method: Method, data: VideoArray, ctx: RunContext, batch: int = 16, name: str = "videos"
) -> VideoArray:
    """Every video passed through the method, stored as uint8 like a released stream."""
    anon = _anonymize_source(method, data.videos, data.person_masks, ctx, batch, name)
    return VideoArray(anon, data.labels)


def anonymize_images(
    method: Method, data: ImageArray, ctx: RunContext, batch: int = 64, name: str = "images"
) -> ImageArray:
    """Every image passed through the method as a one-frame clip, stored as uint8."""
    masks = data.person_masks
    if isinstance(masks, torch.Tensor):
        masks = masks.unsqueeze(1)  # (N, H, W) -> one-frame videos (N, 1, H, W)
    return ImageArray(_anonymize_source(method, data.images, masks, ctx, batch, name), data.targets)


def anonymized_splits(method: Method, splits: Splits, ctx: RunContext, videos: bool) -> Splits:
    """train / val / test passed through the method."""
    apply = anonymize_videos if videos else anonymize_images
    kind = "videos" if videos else "images"
    return Splits(
        *(
            apply(method, getattr(splits, name), ctx, name=f"{kind}-{name}")
            for name in ("train", "val", "test")
        )
    )
