"""`bench perf --loading`: clip-loading throughput of our loader against pytorchvideo's.

Every loader reads the same UCF101-like AVIs (320x240, 25 fps, MPEG-4, written by
`bench.data.sample_trees`) and yields float (3, 16, 112, 112) training clips: 16 frames at skip 4
from a random start, centre crop 0.8, resized to 112. Loaders measured, each through a
DataLoader with the same batch size and worker count:

* `ours (decode)`: `TrainClips` over `VideoFiles` (PyAV / torchcodec, seek + decode the span);
* `pytorchvideo`: `LabeledVideoDataset` with a random clip sampler over the same 61-frame span
  (2.44 s), PyAV decoder, and the same frame selection, crop and resize as a transform
  (plain torch code; its transforms module is not imported);
* `ours (prepared)`: `TrainClips` over the memory-mapped pack of `bench data prepare`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from bench.contract.dataset import VideoArray
from bench.data.catalog import LAYOUTS, ScanOptions
from bench.data.decoding import VideoFiles
from bench.data.frame_store import CROP_FRACTION
from bench.data.prepare import pack_path, prepare_split
from bench.data.sample_trees import make_ucf101
from bench.engine.clips import TrainClips

FRAMES, SKIP, SIZE, FPS = 16, 4, 112, 25


@dataclass(frozen=True)
class Throughput:
    """Clips per second of one loader over `clips` clips (after one warm-up batch)."""

    loader: str
    clips: int
    seconds: float

    @property
    def clips_per_s(self) -> float:
        """Throughput."""
        return self.clips / self.seconds


def _time(name: str, loader: Iterable[Any], clips: int, batch: int) -> Throughput:
    it = iter(loader)
    first = next(it)  # warm-up: worker start, first decode
    assert first[0].shape[1:] == (3, FRAMES, SIZE, SIZE), first[0].shape
    seen, start = 0, time.perf_counter()
    while seen < clips:
        try:
            seen += next(it)[0].shape[0]
        except StopIteration:
            it = iter(loader)
    return Throughput(name, seen, time.perf_counter() - start)


def _pytorchvideo_loader(paths: list[Path], labels: list[int], batch: int, workers: int) -> Any:
    from pytorchvideo.data import LabeledVideoDataset, make_clip_sampler

    span = (FRAMES - 1) * SKIP + 1

    def transform(sample: dict[str, Any]) -> dict[str, Any]:
        video = sample["video"]  # float (C, T, H, W) in 0..255
        idx = torch.arange(0, span, SKIP).clamp_(max=video.shape[1] - 1)[:FRAMES]
        video = video[:, idx]
        h, w = video.shape[-2:]
        ch, cw = round(h * CROP_FRACTION), round(w * CROP_FRACTION)
        top, left = (h - ch) // 2, (w - cw) // 2
        video = video[..., top : top + ch, left : left + cw].transpose(0, 1)
        video = F.interpolate(video, size=(SIZE, SIZE), mode="bilinear", antialias=True)
        return {"video": video.transpose(0, 1) / 255.0, "label": sample["label"]}

    dataset = LabeledVideoDataset(
        [(str(p), {"label": y}) for p, y in zip(paths, labels, strict=True)],
        clip_sampler=make_clip_sampler("random", span / FPS),
        video_sampler=torch.utils.data.RandomSampler,
        transform=transform,
        decode_audio=False,
        decoder="pyav",
    )
    return (
        (b["video"], b["label"])
        for b in _repeat(lambda: DataLoader(dataset, batch_size=batch, num_workers=workers))
    )


def _repeat(make: Any) -> Iterable[Any]:
    while True:
        yield from make()


def measure_loading(
    clips: int = 256,
    batch: int = 8,
    workers: int = 2,
    videos: int = 24,
    work_dir: Path | None = None,
) -> list[Throughput]:
    """Throughput of each loader on freshly written 320x240 UCF101-like AVIs."""
    with tempfile.TemporaryDirectory(prefix="bench-loading-", dir=work_dir) as tmp:
        root = make_ucf101(
            Path(tmp) / "ucf101",
            classes=("ApplyEyeMakeup", "Archery", "Basketball"),
            groups=videos // 6,
            clips=2,
            size=(320, 240),
            frames=150,  # 6 s, near UCF101's 7 s mean
        )
        catalog = LAYOUTS.get("ucf101")().scan(root, ScanOptions(val_fraction=0.0))
        items = catalog.splits["train"] + catalog.splits["test"]
        paths = [it.path for it in items]
        labels = [it.label for it in items]
        results = []
        files = VideoArray(VideoFiles(paths, SIZE), torch.tensor(labels))
        ours = _train_clip_loader(files, batch, workers)
        results.append(_time("ours (decode)", ours, clips, batch))
        try:
            ptv = _pytorchvideo_loader(paths, labels, batch, workers)
            results.append(_time("pytorchvideo LabeledVideoDataset", ptv, clips, batch))
        except ImportError:
            pass  # reported by the caller as missing
        catalog.splits["all"] = items
        cache = Path(tmp) / "cache"
        start = time.perf_counter()
        prepared = prepare_split(catalog, "all", SIZE, SKIP, cache, _silent, workers)
        prepare_seconds = time.perf_counter() - start
        packed = VideoArray(prepared.frames, prepared.labels)
        fast = _train_clip_loader(packed, batch, workers)
        results.append(_time("ours (prepared memmap)", fast, clips, batch))
        size = pack_path(catalog, "all", SIZE, SKIP, cache).with_suffix(".frames").stat().st_size
        results.append(
            Throughput(f"bench data prepare ({size / 2**20:.0f} MiB)", len(items), prepare_seconds)
        )
        return results


def _train_clip_loader(data: VideoArray, batch: int, workers: int) -> DataLoader[Any]:
    """Training clips of `data` as the benchmark draws them, in shuffled batches."""
    return DataLoader(
        TrainClips(data, FRAMES, SKIP, SIZE),
        batch_size=batch,
        shuffle=True,
        num_workers=workers,
        persistent_workers=workers > 0,
    )


def _silent(description: str, total: int) -> Any:
    return lambda: None
