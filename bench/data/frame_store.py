"""Frame storage: N videos of uint8 (T, H, W, C) frames, read by frame index.

Two stores share one interface (`bench.contract.dataset.FrameSource`):

* `TensorFrames`: one (N, T, H, W, C) tensor in memory (the synthetic benchmark).
* `PackedFrames`: every video's frames back to back in one flat uint8 array with offsets,
  either in memory or as a memory-mapped file (`bench data prepare`'s cache and the
  anonymized copies of real datasets). Videos may differ in length. A pack may keep only
  every `stride`-th frame; reads then map a frame index `i` to stored frame `i // stride`.

Images are one-frame videos, so image sets use the same stores.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.contract.atomic import atomic_write_text, commit, temp_path
from bench.contract.errors import BenchError
from bench.contract.frames import FrameSource

CROP_FRACTION = 0.8  # paper section 4.2: crop to 0.8 of the frame, then resize


class TensorFrames:
    """Equal-length videos held as one uint8 (N, T, H, W, C) tensor."""

    def __init__(self, frames: torch.Tensor) -> None:
        if frames.dtype != torch.uint8 or frames.ndim != 5:
            raise ValueError("TensorFrames needs a uint8 (N, T, H, W, C) tensor")
        self.frames = frames

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def length(self, i: int) -> int:
        """Every video has the tensor's T frames."""
        return int(self.frames.shape[1])

    def read(self, i: int, indices: torch.Tensor | None = None) -> torch.Tensor:
        """Frames of video `i`."""
        video = self.frames[i]
        return video if indices is None else video[indices]


class PackedFrames:
    """Variable-length videos packed into one flat (F, H, W, C) uint8 array plus offsets.

    On disk a pack is `<name>.frames` (raw uint8) beside `<name>.json` (shape, offsets,
    lengths, stride). The memory map is opened lazily, so a pack pickles cheaply into
    DataLoader workers.
    """

    def __init__(
        self,
        offsets: np.ndarray,
        lengths: np.ndarray,
        frame_shape: tuple[int, int, int],
        stride: int = 1,
        array: np.ndarray | None = None,
        path: Path | None = None,
    ) -> None:
        self.offsets = offsets.astype(np.int64)
        self.lengths = lengths.astype(np.int64)
        self.frame_shape = frame_shape
        self.stride = stride
        self.path = path
        self._array = array
        self._part: Path | None = None  # the temp file a pack being written goes to

    # --- reading -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.lengths)

    def length(self, i: int) -> int:
        """Frames of video `i` in the original frame rate."""
        return int(self.lengths[i])

    def read(self, i: int, indices: torch.Tensor | None = None) -> torch.Tensor:
        """Frames of video `i`; with a stride, index `k` reads stored frame `k // stride`."""
        start, stop = int(self.offsets[i]), int(self.offsets[i + 1])
        video = self.array[start:stop]
        if indices is None:
            return torch.from_numpy(np.array(video))
        stored = (indices.numpy() // self.stride).clip(0, stop - start - 1)
        return torch.from_numpy(video[stored].view(np.ndarray))  # indexing copied it already

    @property
    def array(self) -> np.ndarray:
        """The flat frame array (memory-mapped read-only when the pack lives on disk)."""
        if self._array is None:
            assert self.path is not None
            total = int(self.offsets[-1])
            self._array = np.memmap(
                self.path.with_suffix(".frames"),
                dtype=np.uint8,
                mode="r",
                shape=(total, *self.frame_shape),
            )
        return self._array

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if self.path is not None:
            state["_array"] = None  # workers reopen the map instead of copying it
        return state

    # --- building ------------------------------------------------------------------------
    @staticmethod
    def stored_count(length: int, stride: int) -> int:
        """Frames kept of a video of `length` frames at `stride`."""
        return (length + stride - 1) // stride

    @classmethod
    def allocate(
        cls,
        lengths: Sequence[int],
        frame_shape: tuple[int, int, int],
        stride: int = 1,
        path: Path | None = None,
    ) -> PackedFrames:
        """An empty pack for videos of `lengths`: in memory, or a writable map at `path`."""
        stored = np.array([cls.stored_count(n, stride) for n in lengths], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(stored)]).astype(np.int64)
        shape = (int(offsets[-1]), *frame_shape)
        if path is None:
            array: np.ndarray = np.zeros(shape, dtype=np.uint8)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            part = temp_path(path.with_suffix(".frames"))
            array = np.memmap(part, np.uint8, "w+", shape=shape)
        pack = cls(offsets, np.asarray(lengths), frame_shape, stride, array, path)
        pack._part = part if path is not None else None
        return pack

    def write(self, i: int, frames: torch.Tensor | np.ndarray) -> None:
        """Store the (stored-rate) frames of video `i`."""
        start, stop = int(self.offsets[i]), int(self.offsets[i + 1])
        data = frames.numpy() if isinstance(frames, torch.Tensor) else frames
        if data.shape != (stop - start, *self.frame_shape):
            raise ValueError(
                f"video {i}: got frames {tuple(data.shape)}, "
                f"expected {(stop - start, *self.frame_shape)}"
            )
        self.array[start:stop] = data

    def discard(self) -> None:
        """Drop a disk pack that will not be finished (its temp file is removed)."""
        self._array = None
        if self._part is not None:
            self._part.unlink(missing_ok=True)
            self._part = None

    def finish(self, meta: dict[str, Any] | None = None) -> PackedFrames:
        """Flush a disk pack and move it into place atomically; returns the readable pack."""
        if self.path is None:
            return self
        array = self._array
        assert isinstance(array, np.memmap)
        array.flush()
        del array
        self._array = None
        assert self._part is not None
        commit(self._part, self.path.with_suffix(".frames"))
        self._part = None
        index = {
            "offsets": self.offsets.tolist(),
            "lengths": self.lengths.tolist(),
            "frame_shape": list(self.frame_shape),
            "stride": self.stride,
            **(meta or {}),
        }
        atomic_write_text(self.path.with_suffix(".json"), json.dumps(index))
        return self

    @classmethod
    def open(cls, path: Path) -> PackedFrames:
        """A pack written by `finish`; a missing or damaged index is a BenchError."""
        index_path = path.with_suffix(".json")
        try:
            index = json.loads(index_path.read_text())
            pack = cls(
                np.asarray(index["offsets"]),
                np.asarray(index["lengths"]),
                tuple(index["frame_shape"]),  # type: ignore[arg-type]
                int(index["stride"]),
                path=path,
            )
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise BenchError(f"prepared data at {index_path} is unreadable ({e})") from None
        expected = int(pack.offsets[-1]) * int(np.prod(pack.frame_shape))
        frames_file = path.with_suffix(".frames")
        if not frames_file.is_file() or frames_file.stat().st_size != expected:
            raise BenchError(f"prepared frames {frames_file} are missing or truncated")
        return pack


def to_working_size(frames: np.ndarray | torch.Tensor, size: int) -> torch.Tensor:
    """RGB uint8 (T, H, W, 3) -> centre crop of 0.8 of each side, resized to uint8 (T, size, size, 3)."""
    x = torch.as_tensor(frames)
    h, w = x.shape[1], x.shape[2]
    ch, cw = max(1, round(h * CROP_FRACTION)), max(1, round(w * CROP_FRACTION))
    top, left = (h - ch) // 2, (w - cw) // 2
    x = x[:, top : top + ch, left : left + cw].permute(0, 3, 1, 2)
    # uint8 channels-last: torch's vectorised antialiased bilinear, about 10x the float path
    x = x.contiguous(memory_format=torch.channels_last)
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.permute(0, 2, 3, 1).contiguous()


class SubsetFrames:
    """Some videos of another source, renumbered 0..len(indices)-1."""

    def __init__(self, source: FrameSource, indices: Sequence[int]) -> None:
        self.source = source
        self.indices = list(indices)
        self.stride = getattr(source, "stride", 1)

    def __len__(self) -> int:
        return len(self.indices)

    def length(self, i: int) -> int:
        """Frames of the `i`-th kept video."""
        return self.source.length(self.indices[i])

    def read(self, i: int, indices: torch.Tensor | None = None) -> torch.Tensor:
        """Frames of the `i`-th kept video."""
        return self.source.read(self.indices[i], indices)
