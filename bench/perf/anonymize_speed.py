"""Frames per second of `bench anonymize` (decode, fA*, encode) for the tiny and the paper's
UNet++, at 320x240 and 1280x720, in torch and through onnxruntime, against real time.

Speed does not depend on the weights, so the anonymizers are freshly initialised ones of
each preset's architecture (a stored fA* of that preset runs the same operations). The
inputs are MPEG-4 AVIs (UCF101's kind of file) of rendered frames; outputs are written as
`bench anonymize` writes them.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.contract.config import PRESETS
from bench.contract.method import METHODS
from bench.data.sample_trees import synthetic_frames, write_avi
from bench.deployment.anonymizers import (
    FrameTransform,
    PaddedAnonymizer,
    fixed_transform,
    learned_transform,
)
from bench.deployment.export import export_onnx, onnx_runner, require_onnx
from bench.deployment.video_files import anonymize_file
from bench.training.identity import build_anonymizer

SIZES = ((320, 240), (1280, 720))
MODELS = ("tiny", "paper")  # the presets whose UNet++ is timed
RESOLUTIONS = ("trained", "native")
REAL_TIME_FPS = 25.0
FRAMES = 48  # per timed video; the heaviest cases take SHORT_FRAMES
SHORT_FRAMES = 8
HEAVY_PIXELS = 640 * 480  # fA at native size beyond this: paper UNet++ takes seconds a frame


@dataclass(frozen=True)
class Speed:
    """One timed `bench anonymize` of one file."""

    model: str
    size: tuple[int, int]
    resolution: str
    backend: str
    frames: int
    seconds: float

    @property
    def fps(self) -> float:
        """Frames per second, decode and encode included."""
        return self.frames / self.seconds


def measure_anonymize(
    device: torch.device,
    frames: int = FRAMES,
    backends: tuple[str, ...] = ("torch", "onnxruntime"),
    progress: Callable[[str], None] = lambda _: None,
    models: tuple[str, ...] = MODELS,
    sizes: tuple[tuple[int, int], ...] = SIZES,
) -> list[Speed]:
    """Time every model x size x resolution x backend, and each size without a model;
    onnxruntime runs on the CPU."""
    if "onnxruntime" in backends:
        require_onnx()
    out: list[Speed] = []
    with tempfile.TemporaryDirectory(prefix="bench-anonymize-perf-") as folder:
        root = Path(folder)
        videos = {}
        for w, h in sizes:
            for n in (frames, SHORT_FRAMES):
                path = root / f"in-{w}x{h}-{n}.avi"
                videos[(w, h, n)] = write_avi(path, synthetic_frames(0, n, w, h))
        raw = fixed_transform(METHODS.get("raw")(), None, root, PRESETS["tiny"], device)
        for w, h in sizes:  # the floor: decode and encode alone (the identity in between)
            progress(f"no model (decode + encode), {w}x{h} ...")
            out.append(_timed(raw, videos[(w, h, frames)], (w, h), "none", "native", "torch"))
        for name in models:
            preset = PRESETS[name]
            fa = build_anonymizer(preset).eval()
            runs: dict[str, FrameTransform] = {}
            if "torch" in backends:
                runs["torch"] = learned_transform(name, fa, preset, device)
            if "onnxruntime" in backends:
                progress(f"exporting the {name} UNet++ to ONNX ...")
                model_file = root / f"{name}.onnx"
                export_onnx(PaddedAnonymizer(fa).eval(), preset.frame_size, model_file)
                cpu = torch.device("cpu")
                runs["onnxruntime"] = FrameTransform(
                    name, onnx_runner(model_file), preset.frame_size, cpu, "fp32"
                )
            for w, h in sizes:
                for resolution in RESOLUTIONS:
                    heavy = resolution == "native" and name == "paper" and w * h > HEAVY_PIXELS
                    n = SHORT_FRAMES if heavy else frames
                    for backend, transform in runs.items():
                        progress(f"{name} UNet++, {w}x{h}, {resolution}, {backend} ...")
                        out.append(
                            _timed(transform, videos[(w, h, n)], (w, h), name, resolution, backend)
                        )
    return out


def _timed(
    transform: FrameTransform,
    video: Path,
    size: tuple[int, int],
    model: str,
    resolution: str,
    backend: str,
) -> Speed:
    target = video.with_name(f"out-{video.stem}-{model}-{resolution}-{backend}.mp4")
    started = time.perf_counter()
    result = anonymize_file(video, target, lambda f: transform(f, resolution), batch=8)
    seconds = time.perf_counter() - started
    if result.skipped:
        raise RuntimeError(f"timing input {video} was skipped: {result.skipped}")
    target.unlink()
    return Speed(model, size, resolution, backend, result.frames, seconds)
