"""Clip sampling for training and scoring: random-start training clips, evenly spaced
evaluation clips, and single images.

Items are uint8 pixels as stored (clips (T, H, W, C), images (H, W, C)): a quarter of the
bytes of float, and a batch of them is one contiguous copy to collate, pin and send.
`bench.contract.dataset.as_float` turns such a batch into model input, float
(N, C, [T,] size, size) in [0, 1], wherever the batch is (on the GPU in training).
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from bench.contract.dataset import ImageArray, VideoArray
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
    """One uint8 clip per video per epoch, from a random start (frames x skip)."""

    def __init__(self, data: VideoArray, frames: int, skip: int) -> None:
        self.data, self.frames, self.skip = data, frames, skip
        self.span = _check_span(data, frames, skip)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        length = self.data.videos.length(i)
        last_start = max(0, length - self.span)
        start = int(torch.randint(0, last_start + 1, ()).item())
        idx = _frame_indices(start, self.frames, self.skip, length)
        return torch.as_tensor(self.data.videos.read(i, idx)), self.data.labels[i]


class EvalClips(Dataset[tuple[torch.Tensor, torch.Tensor, int]]):
    """`n_clips` evenly spaced uint8 clips per video; items carry the video index for averaging."""

    def __init__(self, data: VideoArray, frames: int, skip: int, n_clips: int) -> None:
        self.data, self.frames, self.skip = data, frames, skip
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
        return torch.as_tensor(self.data.videos.read(v, idx)), self.data.labels[v], v


class Images(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """uint8 (H, W, C) images with their multi-hot targets."""

    def __init__(self, data: ImageArray) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.as_tensor(self.data.image(i)), self.data.targets[i]


def _frame_indices(start: int, frames: int, skip: int, length: int) -> torch.Tensor:
    """Frame indices of a clip; clamped to the last frame when the video is too short."""
    return torch.arange(start, start + frames * skip, skip).clamp_(max=length - 1)
