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
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.progress import Progress

from bench.contract.atomic import atomic_path, atomic_write, probe_writable
from bench.contract.errors import BenchError
from bench.data.decoding import reformatter

VIDEO_SUFFIXES = frozenset(
    {".avi", ".mp4", ".m4v", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv",
     ".3gp", ".ts", ".mts"}
)  # fmt: skip
MPEG4_BITS_PER_PIXEL = 0.3  # bit rate of the MPEG-4 fallback: about 0.6 Mbit/s at 320x240, 25 fps
RESCALED = "frames of another size were rescaled to the first frame's"
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
    recursive) and glob patterns, in order, each once; BenchError if one names nothing, is
    empty (it would name the current folder) or names something that is not a regular file
    (a FIFO or a device would block the decoder, or never end)."""
    found: list[Path] = []
    for item in items:
        if not item.strip():
            raise BenchError(
                "an input argument is empty; name video files, folders or patterns "
                "('.' for the current folder)"
            )
        path = Path(item).expanduser()
        if path.is_dir():
            matches = sorted(
                p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and not p.is_dir()
            )
            what = f"folder {item} holds no video file ({', '.join(sorted(VIDEO_SUFFIXES))})"
        elif path.exists():
            matches = [path]
            what = ""
        else:
            matches = sorted(
                Path(p) for p in glob.glob(str(path)) if Path(p).exists() and not Path(p).is_dir()
            )
            what = f"{item}: no such file, folder or matching pattern"
        if not matches:
            raise BenchError(what)
        for match in matches:
            check_regular_file(match, "input")
        found.extend(m for m in matches if m not in found)
    return found


def check_regular_file(path: Path, what: str) -> None:
    """A BenchError unless `path` is a regular file (after symlinks): a FIFO blocks the
    reader for ever, a device never ends, a folder is no video."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise BenchError(f"{what} {path} cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        kind = (
            "a folder" if stat.S_ISDIR(mode)
            else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode)
            else "not a regular file"
        )  # fmt: skip
        raise BenchError(f"{what} {path} is {kind}, not a video file; give a regular file")


def preview_path(out_dir: Path, source: Path) -> Path:
    """Where `--preview` writes the strip of `source`: `out_dir/<stem>-preview.png`."""
    return out_dir / f"{source.stem}-preview.png"


def is_output_name(name: str) -> bool:
    """Whether `bench anonymize` writes files of this name (a video or a preview strip)."""
    return name.endswith(("-preview.png", ".mp4", ".mkv"))


def check_output_folder(out: Path) -> None:
    """`out` made a folder if it is not one, and proven writable; BenchError otherwise."""
    if out.exists() and not out.is_dir():
        raise BenchError(f"--out {out} is a file; give the folder the anonymized videos go to")
    try:
        probe_writable(out)
    except OSError as exc:
        raise BenchError(
            f"--out {out} is not writable ({exc.strerror}); choose another folder"
        ) from None


def output_paths(inputs: list[Path], out_dir: Path, suffix: str) -> list[Path]:
    """`out_dir/<input stem><suffix>` for each input; BenchError when two would collide
    (what else they must not meet, the CLI checks: `bench.cli.common.check_outputs`)."""
    outputs = [out_dir / f"{p.stem}{suffix}" for p in inputs]
    seen: dict[Path, Path] = {}
    for src, dst in zip(inputs, outputs, strict=True):
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


class EncodeFailed(Exception):
    """FFmpeg refused to encode or mux the output (the file is skipped)."""


def _frames(container: Any, stream: Any, notes: list[str]) -> Iterator[np.ndarray]:
    """RGB uint8 (H, W, 3) frames in display order, all at the first frame's size (a frame
    of another size is rescaled to it, and RESCALED added to `notes`); decode errors become
    `Unreadable`."""
    import av

    rgb = reformatter()
    size: tuple[int, int] | None = None
    try:
        for frame in container.decode(stream):
            if size is None:
                size = (frame.width, frame.height)
            elif (frame.width, frame.height) != size and RESCALED not in notes:
                notes.append(RESCALED)
            yield rgb.reformat(frame, format="rgb24", width=size[0], height=size[1]).to_ndarray()
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise Unreadable(f"decoding failed ({type(exc).__name__}: {exc})") from None


class _Preview:
    """Frames for a preview strip spread over a video whose length is not trusted: every
    `step`-th frame is kept, the step doubling whenever more than twice the strip is held."""

    def __init__(self) -> None:
        self.step = 1
        self.kept: list[tuple[int, np.ndarray, np.ndarray]] = []

    def offer(self, index: int, raw: np.ndarray, anon: np.ndarray) -> None:
        if index % self.step:
            return
        self.kept.append((index, raw.copy(), anon.copy()))  # not views of the whole batch
        if len(self.kept) > 2 * PREVIEW_FRAMES:
            self.step *= 2
            self.kept = [k for k in self.kept if k[0] % self.step == 0]

    def pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        n = len(self.kept)
        picks = range(n) if n <= PREVIEW_FRAMES else (
            round(i * (n - 1) / (PREVIEW_FRAMES - 1)) for i in range(PREVIEW_FRAMES)
        )  # fmt: skip
        return [(self.kept[i][1], self.kept[i][2]) for i in picks]


class _Output:
    """The encoder, opened at the first frame (its size decides the pixel format)."""

    def __init__(self, tmp: Path, rate: Fraction, lossless: bool) -> None:
        self.tmp, self.rate, self.lossless = tmp, rate, lossless
        self.container: Any = None
        self.stream: Any = None
        self.encoding: Encoding | None = None

    def write(self, frame: np.ndarray) -> None:
        import av

        try:
            if self.stream is None:
                self._open(frame.shape[1], frame.shape[0])
            packet = av.VideoFrame.from_ndarray(frame, format="rgb24")
            self.container.mux(self.stream.encode(packet))
        except av.error.FFmpegError as exc:
            raise EncodeFailed(f"encoding failed ({type(exc).__name__}: {exc})") from None

    def _open(self, width: int, height: int) -> None:
        import av

        self.encoding = encoding = choose_encoding(width, height, self.lossless)
        rate = self.rate
        if encoding.codec == "mpeg4":  # MPEG-4 Part 2 allows time bases up to 1/65535
            rate = rate.limit_denominator(1001)
        self.container = av.open(str(self.tmp), "w", format=encoding.container)
        self.stream = self.container.add_stream(
            encoding.codec, rate=rate, options=dict(encoding.options)
        )
        self.stream.width, self.stream.height = width, height
        self.stream.pix_fmt = encoding.pix_fmt
        if encoding.codec == "mpeg4":  # its default (200 kbit/s) is far too coarse
            self.stream.bit_rate = int(MPEG4_BITS_PER_PIXEL * width * height * float(rate))

    def finish(self) -> None:
        import av

        try:
            self.container.mux(self.stream.encode(None))
        except av.error.FFmpegError as exc:
            raise EncodeFailed(f"encoding failed ({type(exc).__name__}: {exc})") from None

    def close(self) -> None:
        if self.container is not None:
            self.container.close()


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
        rate = Fraction(stream.average_rate or stream.guessed_rate or 25)
        shown = _Preview()
        notes: list[str] = []
        task = None
        if progress is not None:
            task = progress.add_task(source.name, total=stream.frames or None, info="")
        try:
            with atomic_path(output) as tmp:
                out = _Output(tmp, rate, lossless)
                try:
                    pending: list[np.ndarray] = []

                    def flush() -> None:
                        anon = _apply(transform, pending)
                        for k, frame in enumerate(anon):
                            if preview is not None:
                                shown.offer(outcome.frames + k, pending[k], frame)
                            out.write(frame)
                        outcome.frames += len(pending)
                        if progress is not None and task is not None:
                            progress.update(task, advance=len(pending))
                        pending.clear()

                    for frame in _frames(container, stream, notes):
                        pending.append(frame)
                        if len(pending) == batch:
                            flush()
                    if pending:
                        flush()
                    if outcome.frames == 0:
                        raise Unreadable("no frame could be decoded")
                    out.finish()
                finally:
                    out.close()
        except (Unreadable, EncodeFailed) as exc:
            outcome.skipped = str(exc)
            outcome.frames = 0
            return outcome
        finally:
            if progress is not None and task is not None:
                progress.remove_task(task)
        assert out.encoding is not None
        outcome.notes.append(out.encoding.describe())
        if out.encoding.pix_fmt == "yuv444p":
            outcome.notes.append("odd frame size: H.264 4:4:4, which some players cannot play")
        outcome.notes.extend(notes)
        if container.streams.audio:
            outcome.notes.append("audio dropped")
    outcome.output = output
    if preview is not None:
        write_preview(preview, shown.pairs())
    outcome.seconds = time.perf_counter() - started
    return outcome


def _apply(transform: Transform, frames: list[np.ndarray]) -> np.ndarray:
    """The transform of a batch of frames, as uint8 (N, H, W, 3) on the CPU."""
    try:
        return transform(torch.from_numpy(np.stack(frames))).cpu().numpy()
    except torch.OutOfMemoryError:
        raise BenchError(
            f"out of device memory on {len(frames)} frames of "
            f"{frames[0].shape[1]}x{frames[0].shape[0]}; lower --batch (or use --resolution "
            "trained)"
        ) from None


def write_preview(path: Path, pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """A PNG with one (raw | anonymized) row per pair of frames."""
    from PIL import Image

    rows = []
    for raw, anon in pairs:
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
