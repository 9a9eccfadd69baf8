"""A stored fA* written out for deployment stacks: ONNX or TorchScript, verified, with a
model card beside it.

The exported model is `PaddedAnonymizer`: float32 (N, 3, H, W) RGB in [0, 1] -> the same,
any batch and frame size (padded inside to the UNet++'s output stride and cropped back).
Before the export is reported done, its output is compared with the torch model's on real
frames at several sizes and batch sizes (onnxruntime for ONNX); a difference beyond
`TOLERANCE` is an error and the file is not kept.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import io
import json
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench.contract.atomic import atomic_path, atomic_write_text
from bench.contract.errors import BenchError
from bench.data.decoding import CorruptVideo, PyAVDecoder
from bench.data.sample_trees import synthetic_frames
from bench.deployment.anonymizers import PaddedAnonymizer, pad_to, working_size
from bench.deployment.fit_catalog import StoredFit
from bench.models.anonymizer import frame_output

FORMATS = ("onnx", "torchscript")
TOLERANCE = 1e-4  # max |exported - torch| on outputs in [0, 1], float32
ONNX_OPSET = 18
VERIFY_FRAMES = 4
PAPER = {
    "title": "Balancing Privacy and Action Performance: A Penalty-Driven Approach to Image "
    "Anonymization",
    "authors": "Nazia Aslam, Kamal Nasrollahi",
    "venue": "CVPR Workshops 2024",
}


@dataclass(frozen=True)
class Verification:
    """How the exported model compared with the torch model."""

    max_abs_diff: float
    shapes: tuple[tuple[int, ...], ...]
    runtime: str


def check_format(name: str) -> str:
    """`name` if it is an export format, else a BenchError naming them."""
    if name not in FORMATS:
        raise BenchError(f"--format {name}: must be one of {', '.join(FORMATS)}")
    return name


def require_onnx() -> None:
    """A BenchError unless the ONNX exporter's and runtime's packages are installed."""
    missing = [
        m for m in ("onnx", "onnxscript", "onnxruntime") if importlib.util.find_spec(m) is None
    ]
    if missing:
        raise BenchError(
            f"ONNX export and inference need {', '.join(missing)}: pip install 'privbench[export]'"
        )


def onnx_session(path: Path) -> Any:
    """An onnxruntime CPU session of the model at `path`; BenchError if onnxruntime is missing."""
    require_onnx()
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # no warnings about unused initialisers
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_runner(path: Path) -> Callable[[torch.Tensor], torch.Tensor]:
    """The ONNX model at `path` as a function of float (N, 3, H, W) CPU tensors."""
    session = onnx_session(path)
    name = session.get_inputs()[0].name
    return lambda x: torch.from_numpy(session.run(None, {name: x.float().cpu().numpy()})[0])


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporters' deprecation and tracer warnings and progress prints, hidden."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


class _ScriptedAnonymizer(nn.Module):
    """`PaddedAnonymizer` in TorchScript: the UNet++ traced (sizes stay dynamic), the padding,
    output activation and crop scripted around it."""

    def __init__(self, net: nn.Module, multiple: int, residual: bool, bounded: bool) -> None:
        super().__init__()
        self.net, self.multiple = net, multiple
        self.residual, self.bounded = residual, bounded

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        h, w = frames.shape[-2], frames.shape[-1]
        x = pad_to(frames, self.multiple)
        out = frame_output(x, self.net(x), self.residual, self.bounded)[:, :, :h, :w]
        return out.clamp(0, 1)


def _example(model: PaddedAnonymizer, side: int) -> torch.Tensor:
    """What the exporters trace: 2 frames whose height and width differ and are not the
    training size, so that neither is taken for a constant."""
    return torch.rand(2, 3, side + model.multiple, side + 2 * model.multiple)


def export_onnx(model: PaddedAnonymizer, side: int, path: Path) -> None:
    """`model` as ONNX at `path`, dynamic batch, height and width. torch's TorchScript-based
    exporter (`dynamo=False`): about 2 s for the tiny fA here, where the dynamo exporter took
    25 s (and needs onnxscript); both matched the torch model within 2e-7."""
    axes = {0: "batch", 2: "height", 3: "width"}
    with _quiet():
        torch.onnx.export(
            model,
            (_example(model, side),),
            str(path),
            input_names=["frames"],
            output_names=["anonymized"],
            dynamic_axes={"frames": axes, "anonymized": axes},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )


def export_torchscript(model: PaddedAnonymizer, side: int, path: Path) -> None:
    """`model` as TorchScript at `path` (the UNet++ traced, the padding scripted)."""
    fa = model.fa
    with _quiet():
        traced = torch.jit.trace(fa.net, _example(model, side))
        scripted = torch.jit.script(
            _ScriptedAnonymizer(traced, model.multiple, fa.residual, fa.bounded)
        )
        scripted.save(str(path))


def _runner(fmt: str, path: Path) -> Callable[[torch.Tensor], torch.Tensor]:
    if fmt == "onnx":
        return onnx_runner(path)
    with _quiet():
        module = torch.jit.load(str(path), map_location="cpu").eval()
    return lambda x: module(x)


def verify(
    model: nn.Module,
    run: Callable[[torch.Tensor], torch.Tensor],
    frames: torch.Tensor,
    runtime: str,
) -> Verification:
    """max |run(x) - model(x)| over `frames` (N, 3, H, W) in [0, 1], whole, cropped to an
    odd size, and as one frame."""
    h, w = frames.shape[-2:]
    tests = [frames, frames[:1, :, : max(1, h - 3) | 1, : max(1, w - 5) | 1], frames[-1:]]
    worst = 0.0
    with torch.no_grad():
        for x in tests:
            expected = model(x)
            got = run(x)
            if got.shape != expected.shape:
                raise BenchError(
                    f"exported model gave shape {tuple(got.shape)} for input {tuple(x.shape)}"
                )
            worst = max(worst, float((got - expected).abs().max()))
    return Verification(worst, tuple(tuple(x.shape) for x in tests), runtime)


def verification_frames(video: Path | None, side: int) -> tuple[torch.Tensor, str]:
    """Float (VERIFY_FRAMES, 3, H, W) frames to verify an export on, and what they are: the
    first frames of `video` (short side resized to `side`, as `bench anonymize` applies fA*),
    or rendered test frames (a square moving over stripes, `side` x 4/3 side)."""
    if video is None:
        pixels = torch.from_numpy(synthetic_frames(0, VERIFY_FRAMES, side * 4 // 3, side))
        where = f"{VERIFY_FRAMES} rendered {side * 4 // 3}x{side} test frames"
    else:
        try:
            pixels = torch.from_numpy(PyAVDecoder().read(video, list(range(VERIFY_FRAMES))))
        except CorruptVideo as exc:
            raise BenchError(f"--frames {exc}") from None
        where = f"the first frames of {video.name}"
    x = pixels.permute(0, 3, 1, 2).float().div(255.0)
    size = working_size(x.shape[2], x.shape[3], side)
    if size != tuple(x.shape[2:]):
        x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    return x, where


def export_fit(
    fit: StoredFit, fmt: str, out: Path, frames: torch.Tensor, where: str = "frames"
) -> tuple[Verification, Path]:
    """fA* of `fit` exported to `out` and verified on `frames` (float (N, 3, H, W) in [0, 1];
    `where` says what they are); the model card is written beside it. Returns the
    verification and the card's path."""
    check_format(fmt)
    if fmt == "onnx":
        require_onnx()
    if out.is_dir():
        raise BenchError(f"--out {out} is a folder; name the file to write, e.g. {out / 'fa.onnx'}")
    model = PaddedAnonymizer(fit.anonymizer()).eval()
    side = fit.preset.frame_size
    write = export_onnx if fmt == "onnx" else export_torchscript
    runtime = "onnxruntime" if fmt == "onnx" else f"torch {torch.__version__} (torch.jit.load)"
    with atomic_path(out) as tmp:
        try:
            write(model, side, tmp)
        except BenchError:
            raise
        except Exception as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
            raise BenchError(f"exporting fit {fit.key} to {fmt} failed: {first}") from None
        try:
            check = verify(model, _runner(fmt, tmp), frames, f"{runtime}, on {where}")
        except BenchError:
            raise
        except Exception as exc:  # onnxruntime / TorchScript errors at one of the shapes
            first = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
            raise BenchError(
                f"the {fmt} export of fit {fit.key} fails when run ({first}); nothing was written"
            ) from None
        if not check.max_abs_diff <= TOLERANCE:
            raise BenchError(
                f"the {fmt} export differs from the torch model by {check.max_abs_diff:.3g} "
                f"(tolerance {TOLERANCE:g}); nothing was written"
            )
    card = card_path(out)
    text = json.dumps(model_card(fit, fmt, out, check, model.multiple), indent=2)
    atomic_write_text(card, text + "\n")
    return check, card


def card_path(out: Path) -> Path:
    """Where the model card of an export to `out` is written: `<out>.card.json` beside it."""
    return out.with_name(out.name + ".card.json")


def model_card(
    fit: StoredFit, fmt: str, out: Path, check: Verification, multiple: int
) -> dict[str, Any]:
    """What the exported model is, how it was trained and measured, and how to feed it."""
    preset = fit.preset
    metrics = [
        {
            "protocol": r.get("protocol"),
            "evaluation": r.get("evaluation"),
            "metrics": r.get("metrics"),
            "record": r.get("key"),
        }
        for r in fit.records
    ]
    return {
        "model": f"fA* anonymizer ({fit.describe()}), a UNet++ applied frame by frame",
        "file": out.name,
        "format": fmt,
        "exported": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "fit_key": fit.key,
        "trained": fit.created,
        "config": fit.config,
        "architecture": {
            "encoder": preset.anon_encoder,
            "depth": preset.anon_depth,
            "decoder_channels": list(preset.anon_decoder),
            "residual": preset.anon_residual,
        },
        "input": {
            "name": "frames",
            "layout": "NCHW",
            "dtype": "float32",
            "channels": "RGB",
            "range": [0.0, 1.0],
            "size": f"any batch, height and width (padded inside to a multiple of {multiple})",
            "trained_at": f"{preset.frame_size} px frames (short side); other sizes are off "
            "the training distribution",
        },
        "output": {"name": "anonymized", "layout": "NCHW", "dtype": "float32", "range": [0.0, 1.0]},
        "metrics": metrics,
        "metrics_note": "fractions in [0, 1] on the test split of the dataset above; on the "
        "embedded synthetic benchmark they say nothing about privacy on real footage",
        "verification": {
            "runtime": check.runtime,
            "max_abs_diff": check.max_abs_diff,
            "tolerance": TOLERANCE,
            "input_shapes": [list(s) for s in check.shapes],
        },
        "paper": PAPER,
        "produced_by": "privbench `bench export`",
    }
