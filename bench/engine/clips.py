"""Clip sampling for training and scoring: random-start training clips, evenly spaced
evaluation clips, and single images, each as float tensors in [0, 1]."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from bench.contract.dataset import ImageArray, VideoArray, to_float_clip
from bench.contract.errors import BenchError


def _check_span(data: VideoArray, frames: int, skip: int) -> int:
    """The frames a clip spans; a BenchError when no video is that long. A video shorter
    than the span (real datasets have a few) repeats its last frame, as the published loaders
    do; a set where every video is shorter is a setting mistake, not data."""
    span = (frames - 1) * skip + 1
    longest = max((data.videos.length(i) for i in range(len(data))), default=0)
    if len(data) and longest < span:
        raise BenchError(
            f"clips of frames={frames} x skip={skip} span {span} frames, but the longest "
            f"video has {longest}; lower --set frames or --set skip"
        )
    return span


class TrainClips(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """One clip per video per epoch, from a random start (frames x skip)."""

    def __init__(self, data: VideoArray, frames: int, skip: int, size: int) -> None:
        self.data, self.frames, self.skip, self.size = data, frames, skip, size
        self.span = _check_span(data, frames, skip)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        length = self.data.videos.length(i)
        last_start = max(0, length - self.span)
        start = int(torch.randint(0, last_start + 1, ()).item())
        idx = _frame_indices(start, self.frames, self.skip, length)
        return to_float_clip(self.data.videos.read(i, idx), self.size), self.data.labels[i]


class EvalClips(Dataset[tuple[torch.Tensor, torch.Tensor, int]]):
    """`n_clips` evenly spaced clips per video; items carry the video index for averaging."""

    def __init__(self, data: VideoArray, frames: int, skip: int, size: int, n_clips: int) -> None:
        self.data, self.frames, self.skip, self.size = data, frames, skip, size
        self.n_clips = n_clips
        self.span = _check_span(data, frames, skip)

    def __len__(self) -> int:
        return len(self.data) * self.n_clips

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        v, c = divmod(item, self.n_clips)
        length = self.data.videos.length(v)
        last_start = max(0, length - self.span)
        start = round(c * last_start / max(1, self.n_clips - 1))
        idx = _frame_indices(start, self.frames, self.skip, length)
        return to_float_clip(self.data.videos.read(v, idx), self.size), self.data.labels[v], v


class Images(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Float (C, H, W) images with their multi-hot targets."""

    def __init__(self, data: ImageArray, size: int) -> None:
        self.data, self.size = data, size

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = to_float_clip(self.data.image(i).unsqueeze(0), self.size)[:, 0]
        return image, self.data.targets[i]


def _frame_indices(start: int, frames: int, skip: int, length: int) -> torch.Tensor:
    """Frame indices of a clip; clamped to the last frame when the video is too short."""
    return torch.arange(start, start + frames * skip, skip).clamp_(max=length - 1)
