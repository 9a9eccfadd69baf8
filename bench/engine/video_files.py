"""Anonymizing video files: decode (PyAV: any container and codec FFmpeg reads), transform
in batches, encode, streaming in constant memory (`batch` frames at a time).

The output keeps the source's frame count, size and (average) frame rate. It is H.264
(libx264, yuv420p; yuv444p for odd sizes, which 4:2:0 cannot hold) in MP4 when FFmpeg has
that encoder, else MPEG-4 Part 2; `lossless` writes FFV1 (RGB, bit-exact) in Matroska.
Audio is dropped (and said so). Each output is written under a temp name and renamed when
complete, so a failed or interrupted file leaves nothing half-written. An input that cannot
be opened or decoded is reported as skipped, never raised mid-batch.
"""

from __future__ import annotations

import glob
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.progress import Progress

from bench.contract.atomic import atomic_path, atomic_write
from bench.contract.errors import BenchError
from bench.data.decoding import reformatter

VIDEO_SUFFIXES = frozenset(
    {".avi", ".mp4", ".m4v", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv",
     ".3gp", ".ts", ".mts"}
)  # fmt: skip
MPEG4_BITS_PER_PIXEL = 0.3  # bit rate of the MPEG-4 fallback: about 0.6 Mbit/s at 320x240, 25 fps
PREVIEW_FRAMES = 4  # rows of a --preview strip
PREVIEW_WIDTH = 480  # each panel's width at most, px

Transform = Callable[[torch.Tensor], torch.Tensor]  # uint8 (N, H, W, 3) -> the same


@dataclass(frozen=True)
class Encoding:
    """How an output is written: encoder, pixel format, container and file suffix."""

    codec: str
    pix_fmt: str
    container: str
    suffix: str
    options: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        """e.g. 'libx264 yuv420p in mp4'."""
        return f"{self.codec} {self.pix_fmt} in {self.container}"


def has_encoder(name: str) -> bool:
    """Whether this FFmpeg build has the encoder `name`."""
    import av

    try:
        av.codec.Codec(name, "w")
    except (av.error.FFmpegError, ValueError):  # UnknownCodecError is a ValueError
        return False
    return True


def choose_encoding(width: int, height: int, lossless: bool = False) -> Encoding:
    """H.264 when present, else MPEG-4; FFV1 (exact RGB) when `lossless`."""
    if lossless:
        return Encoding("ffv1", "bgr0", "matroska", ".mkv")
    if has_encoder("libx264"):
        odd = width % 2 or height % 2
        return Encoding("libx264", "yuv444p" if odd else "yuv420p", "mp4", ".mp4", (("crf", "18"),))
    return Encoding("mpeg4", "yuv420p", "mp4", ".mp4")


def find_inputs(items: list[str]) -> list[Path]:
    """The video files that INPUT arguments name: files, folders (their video files, not
    recursive) and glob patterns, in order, each once; BenchError if one names nothing."""
    found: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            matches = sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
            what = f"folder {item} holds no video file ({', '.join(sorted(VIDEO_SUFFIXES))})"
        elif path.exists():
            matches = [path]
            what = ""
        else:
            matches = sorted(Path(p) for p in glob.glob(str(path)) if Path(p).is_file())
            what = f"{item}: no such file, folder or matching pattern"
        if not matches:
            raise BenchError(what)
        found.extend(m for m in matches if m not in found)
    return found


def output_paths(inputs: list[Path], out_dir: Path, suffix: str) -> list[Path]:
    """`out_dir/<input stem><suffix>` for each input; BenchError when two would collide or
    one would overwrite its input."""
    outputs = [out_dir / f"{p.stem}{suffix}" for p in inputs]
    seen: dict[Path, Path] = {}
    for src, dst in zip(inputs, outputs, strict=True):
        if dst.resolve() == src.resolve():
            raise BenchError(f"{src}: the output would overwrite it; choose another --out folder")
        if dst in seen:
            raise BenchError(
                f"{seen[dst]} and {src} would both be written to {dst}; anonymize them into "
                "different --out folders"
            )
        seen[dst] = src
    return outputs


@dataclass
class Outcome:
    """What happened to one input: its output and frame count, or why it was skipped."""

    source: Path
    output: Path | None = None
    frames: int = 0
    seconds: float = 0.0
    skipped: str = ""
    notes: list[str] = field(default_factory=list)


class Unreadable(Exception):
    """The input cannot be opened or decoded (the file is skipped)."""


def _frames(container: Any, stream: Any) -> Iterator[np.ndarray]:
    """RGB uint8 (H, W, 3) frames in display order; decode errors become `Unreadable`."""
    import av

    rgb = reformatter()
    try:
        for frame in container.decode(stream):
            yield rgb.reformat(frame, format="rgb24").to_ndarray()
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise Unreadable(f"decoding failed ({type(exc).__name__}: {exc})") from None


def anonymize_file(
    source: Path,
    output: Path,
    transform: Transform,
    *,
    batch: int = 16,
    lossless: bool = False,
    progress: Progress | None = None,
    preview: Path | None = None,
) -> Outcome:
    """`source` decoded, transformed `batch` frames at a time and encoded to `output`."""
    import av

    started = time.perf_counter()
    outcome = Outcome(source)
    try:
        container = av.open(str(source))
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        outcome.skipped = f"cannot open ({type(exc).__name__}: {exc})"
        return outcome
    with container:
        if not container.streams.video:
            outcome.skipped = "no video stream"
            return outcome
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # one file at a time: FFmpeg's threads decode it
        width, height = stream.codec_context.width, stream.codec_context.height
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        if container.streams.audio:
            outcome.notes.append("audio dropped")
        total = stream.frames or None
        encoding = choose_encoding(width, height, lossless)
        picks = _preview_picks(total)
        shown: list[np.ndarray] = []
        task = None if progress is None else progress.add_task(source.name, total=total, info="")
        try:
            with (
                atomic_path(output) as tmp,
                av.open(str(tmp), "w", format=encoding.container) as out,
            ):
                video: Any = out.add_stream(
                    encoding.codec, rate=rate, options=dict(encoding.options)
                )
                video.width, video.height, video.pix_fmt = width, height, encoding.pix_fmt
                if encoding.codec == "mpeg4":  # its default (200 kbit/s) is far too coarse
                    video.bit_rate = int(MPEG4_BITS_PER_PIXEL * width * height * float(rate))
                pending: list[np.ndarray] = []

                def flush() -> None:
                    raw = torch.from_numpy(np.stack(pending))
                    anon = transform(raw).cpu().numpy()
                    for k, frame in enumerate(anon):
                        index = outcome.frames + k
                        if index in picks or (total is None and len(shown) < 2 * PREVIEW_FRAMES):
                            shown.extend([pending[k], frame])
                        packet = av.VideoFrame.from_ndarray(frame, format="rgb24")
                        out.mux(video.encode(packet))
                    outcome.frames += len(pending)
                    if progress is not None and task is not None:
                        progress.update(task, advance=len(pending))
                    pending.clear()

                for frame in _frames(container, stream):
                    if frame.shape[:2] != (height, width):
                        raise Unreadable(
                            f"frame size changes mid-stream to {frame.shape[1]}x{frame.shape[0]}"
                        )
                    pending.append(frame)
                    if len(pending) == batch:
                        flush()
                if pending:
                    flush()
                out.mux(video.encode(None))
                if outcome.frames == 0:
                    raise Unreadable("no frame could be decoded")
        except Unreadable as exc:
            outcome.skipped = str(exc)
            outcome.frames = 0
            return outcome
        finally:
            if progress is not None and task is not None:
                progress.remove_task(task)
    outcome.output = output
    outcome.notes.insert(0, encoding.describe())
    if preview is not None and shown:
        write_preview(preview, shown)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _preview_picks(total: int | None) -> set[int]:
    """Frame indices shown in a preview strip: PREVIEW_FRAMES spread over the video."""
    if total is None:
        return set()
    return {round(i * (total - 1) / max(1, PREVIEW_FRAMES - 1)) for i in range(PREVIEW_FRAMES)}


def write_preview(path: Path, pairs: list[np.ndarray]) -> None:
    """A PNG of (raw | anonymized) rows from alternating raw and anonymized frames."""
    from PIL import Image

    rows = []
    for raw, anon in zip(pairs[0::2], pairs[1::2], strict=True):
        gap = np.full((raw.shape[0], 4, 3), 255, np.uint8)
        rows.append(np.concatenate([raw, gap, anon], axis=1))
    strip = np.concatenate(
        [np.concatenate([r, np.full((4, r.shape[1], 3), 255, np.uint8)]) for r in rows]
    )[:-4]
    image = Image.fromarray(strip)
    limit = 2 * PREVIEW_WIDTH + 4
    if image.width > limit:
        image = image.resize((limit, max(1, round(image.height * limit / image.width))))
    atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))
