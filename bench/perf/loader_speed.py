"""`bench perf --loading`: clip-loading throughput of our loader against pytorchvideo's.

Every loader reads the same UCF101-like AVIs (320x240, 25 fps, MPEG-4, written by
`bench.data.sample_trees`) and yields training clips: 16 frames at skip 4 from a random start,
centre crop 0.8, resized to 112. Each is timed over one long pass of `clips` random draws (no
epoch boundary drains the workers' queue), after one warm-up batch. Loaders measured:

* `ours (decode)`: `TrainClips` over `VideoFiles` (PyAV / torchcodec: seek to the keyframe,
  decode the span, convert only the frames the clip uses), `workers` DataLoader workers;
* `pytorchvideo`: `LabeledVideoDataset` with a random clip sampler over the same 61-frame span
  (2.44 s), PyAV decoder, and the same frame selection, crop and resize as a transform
  (plain torch code; its transforms module is not imported), `workers` workers;
* `ours (prepared pack)`: `TrainClips` over the memory-mapped pack of `bench data prepare`,
  read in the training process as the training loaders read it, and through `workers`
  workers for comparison.

Ours yields uint8 (T, H, W, C) batches (float conversion happens on the device,
`bench.contract.dataset.as_float`); pytorchvideo's decoder yields float, and its batches are float.
"""

from __future__ import annotations

import gc
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, RandomSampler

from bench.contract.dataset import VideoArray
from bench.data.catalog import LAYOUTS, ScanOptions
from bench.data.decoding import VideoFiles
from bench.data.frame_store import CROP_FRACTION
from bench.data.prepare import pack_path, prepare_split
from bench.data.sample_trees import make_ucf101
from bench.training.clips import TrainClips

FRAMES, SKIP, SIZE, FPS = 16, 4, 112, 25


DECODE_TARGET, PACK_TARGET = 100.0, 1500.0  # clips/s on 2 cores: the clip loader's targets
PACK_CLIPS = 8  # prepared-pack loaders time this many times `clips`


@dataclass(frozen=True)
class Throughput:
    """Clips per second of one loader over `clips` clips (after one warm-up batch)."""

    loader: str
    clips: int
    seconds: float
    target: float | None = None  # clips/s it should reach, when it has a target
    baseline: bool = False  # the loader ours is compared with

    @property
    def clips_per_s(self) -> float:
        """Throughput."""
        return self.clips / self.seconds


def _time(name: str, loader: Iterable[Any], clips: int, target: float | None = None) -> Throughput:
    it = iter(loader)
    first = next(it)  # warm-up: worker start, first decode
    clip = first[0].shape[1:]  # ours: uint8 (T, H, W, C); pytorchvideo: float (C, T, H, W)
    assert clip in ((FRAMES, SIZE, SIZE, 3), (3, FRAMES, SIZE, SIZE)), clip
    seen, start = 0, time.perf_counter()
    for batch in it:
        seen += batch[0].shape[0]
        if seen >= clips:
            break
    seconds = time.perf_counter() - start
    del it, first, batch
    gc.collect()  # the loader's workers end here, before the next loader is timed
    return Throughput(name, seen, seconds, target)


def _draws(clips: int, batch: int, workers: int) -> int:
    """Random draws a timed pass needs: the warm-up batch, the clips, and what workers prefetch."""
    return clips + batch * (2 + 2 * workers)


def _pytorchvideo_loader(
    paths: list[Path], labels: list[int], clips: int, batch: int, workers: int
) -> Any:
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

    draws = _draws(clips, batch, workers)  # the sampler is split over the workers
    dataset = LabeledVideoDataset(
        [(str(p), {"label": y}) for p, y in zip(paths, labels, strict=True)],
        clip_sampler=make_clip_sampler("random", span / FPS),
        video_sampler=lambda videos: RandomSampler(videos, num_samples=draws),
        transform=transform,
        decode_audio=False,
        decoder="pyav",
    )
    loader = DataLoader(dataset, batch_size=batch, num_workers=workers)
    return ((b["video"], b["label"]) for b in loader)


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
        ours = _train_clip_loader(files, clips, batch, workers)
        results.append(_time(f"ours (decode, {workers} workers)", ours, clips, DECODE_TARGET))
        try:
            ptv = _pytorchvideo_loader(paths, labels, clips, batch, workers)
            name = f"pytorchvideo LabeledVideoDataset ({workers} workers)"
            results.append(replace(_time(name, ptv, clips), baseline=True))
        except ImportError:
            pass  # reported by the caller as missing
        catalog.splits["all"] = items
        cache = Path(tmp) / "cache"
        start = time.perf_counter()
        prepared = prepare_split(catalog, "all", SIZE, SKIP, cache, _silent, workers)
        prepare_seconds = time.perf_counter() - start
        packed = VideoArray(prepared.frames, prepared.labels)
        many = clips * PACK_CLIPS  # packs are fast: time long enough to mean something
        name = "ours (prepared pack, in the training process, as training reads it)"
        results.append(_time(name, _train_clip_loader(packed, many, batch, 0), many, PACK_TARGET))
        name = f"ours (prepared pack, {workers} workers)"
        results.append(_time(name, _train_clip_loader(packed, many, batch, workers), many))
        size = pack_path(catalog, "all", SIZE, SKIP, cache).with_suffix(".frames").stat().st_size
        results.append(
            Throughput(f"bench data prepare ({size / 2**20:.0f} MiB)", len(items), prepare_seconds)
        )
        return results


def _train_clip_loader(data: VideoArray, clips: int, batch: int, workers: int) -> DataLoader[Any]:
    """Training clips of `data` as the benchmark draws them, in random batches, one long pass."""
    ds = TrainClips(data, FRAMES, SKIP)
    sampler = RandomSampler(ds, num_samples=_draws(clips, batch, workers))
    return DataLoader(ds, batch_size=batch, sampler=sampler, num_workers=workers)


def _silent(description: str, total: int) -> Any:
    return lambda: None
