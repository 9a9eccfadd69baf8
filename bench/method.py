"""Method plug-in base: declarative parameters, fit(), anonymize(), and applying it to data."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from bench.config import Preset
from bench.data import Benchmark, ImageArray, VideoArray, to_float_clip, to_uint8
from bench.errors import BenchError
from bench.frames import FrameSource, PackedFrames
from bench.registry import Registry
from bench.runtime import RunContext, autocast

NONE_WORDS = frozenset({"none", "null", "auto", "preset", ""})


@dataclass(frozen=True)
class Param:
    """One method parameter: default, help text, type and validity range.

    A default of None means "derived" (e.g. from the preset or another parameter); such a
    parameter names its `kind`, and the words none / auto / preset select the default again.
    """

    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    kind: type | None = None
    exclusive_minimum: bool = False

    def __post_init__(self) -> None:
        if self.default is None and self.kind is None:
            raise TypeError("Param(None, ...) needs kind=<type> (e.g. kind=float)")

    @property
    def type(self) -> type:
        """The Python type values are coerced to."""
        return self.kind or type(self.default)

    def describe_default(self) -> str:
        """The default as shown to users."""
        return "derived" if self.default is None else str(self.default)

    def describe_range(self) -> str:
        """Allowed values in words, e.g. '> 0' or 'one of 2, 4'."""
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        bounds = []
        if self.minimum is not None:
            bounds.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum:g}")
        return " and ".join(bounds) or "any"

    def parse(self, name: str, raw: Any) -> Any:
        """Coerce `raw` to the parameter's type and validate it (BenchError on a bad value)."""
        if raw is None or (
            self.default is None and isinstance(raw, str) and raw.lower() in NONE_WORDS
        ):
            if self.default is None:
                return None
            raise BenchError(f"--{name}: a value is required")
        try:
            value = _coerce(self.type, raw)
        except (TypeError, ValueError, KeyError):
            raise BenchError(f"--{name}={raw}: expected {self.type.__name__}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise BenchError(f"--{name}={raw}: must be a finite number")
        if self.choices is not None and value not in self.choices:
            raise BenchError(f"--{name}={raw}: must be {self.describe_range()}")
        too_small = self.minimum is not None and (
            value <= self.minimum if self.exclusive_minimum else value < self.minimum
        )
        if too_small or (self.maximum is not None and value > self.maximum):
            raise BenchError(f"--{name}={raw}: must be {self.describe_range()}")
        return value


def _coerce(kind: type, raw: Any) -> Any:
    """`raw` (often a CLI string) as a value of `kind`; 2.0 is an int, 2.5 is not."""
    if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
        return raw
    if kind is bool:
        return {"true": True, "1": True, "false": False, "0": False}[str(raw).lower()]
    if kind is int:
        number = float(raw)
        if not number.is_integer():
            raise ValueError(raw)
        return int(number)
    return kind(raw)


class Method:
    """An anonymization method: learns (or not) fA*, then maps clips to anonymized clips."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}
    trainable: ClassVar[bool] = False

    def __init__(self, **values: Any) -> None:
        self.values = self.resolve_params(values)

    @classmethod
    def resolve_params(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with `raw`, every value validated; unknown names are errors."""
        unknown = sorted(set(raw) - set(cls.params))
        if unknown:
            known = ", ".join(cls.params) or "none"
            raise BenchError(
                f"method '{cls.name}' has no parameter '{unknown[0]}' (and --{unknown[0]} is "
                f"not a `bench run` option); its parameters: {known}"
            )
        values = {k: p.parse(k, raw.get(k, p.default)) for k, p in cls.params.items()}
        cls.validate(values)
        return values

    @classmethod
    def validate(cls, values: dict[str, Any]) -> None:
        """Checks that involve several parameters; raise BenchError naming the fix."""

    @classmethod
    def check_preset(cls, values: dict[str, Any], preset: Preset) -> None:
        """Checks of the parameters against the preset (e.g. frame size); BenchError if bad."""

    def fit(self, data: Benchmark, ctx: RunContext) -> None:
        """Learn fA* from the benchmark's training splits (no-op for fixed transforms)."""

    def state_dict(self) -> dict[str, torch.Tensor] | None:
        """What fit() learned, so other protocols can reuse it; None: refit in every run."""
        return None

    def load_state_dict(self, state: dict[str, torch.Tensor], ctx: RunContext) -> None:
        """Restore what fit() learned (the inverse of `state_dict`)."""

    def anonymize(self, clips: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """(N, C, T, H, W) in [0, 1] -> anonymized clips of the same shape.

        `masks` (N, 1, T, H, W) in {0, 1} marks people where the dataset knows them, else None.
        """
        raise NotImplementedError


METHODS: Registry[Method] = Registry("method", "bench.methods")


def mask_clips(masks: torch.Tensor, size: int) -> torch.Tensor:
    """Person masks (N, T, H, W) -> float (N, 1, T, size, size) in {0, 1} (nearest resize)."""
    m = masks.float().unsqueeze(1)
    if m.shape[-2:] != (size, size):
        m = F.interpolate(m, size=(m.shape[2], size, size), mode="nearest")
    return m


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


@torch.no_grad()
def _anonymize_source(
    method: Method,
    source: FrameSource,
    masks: torch.Tensor | None,
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
        m = None if masks is None else mask_clips(masks[group], size)
        pieces = []
        for t0 in range(0, clips.shape[2], max(1, max_frames // len(group))):
            t1 = t0 + max(1, max_frames // len(group))
            piece_masks = None if m is None else m[:, :, t0:t1].to(ctx.device)
            with autocast(ctx.device):
                anon = method.anonymize(clips[:, :, t0:t1].to(ctx.device), piece_masks).float()
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
    masks = None if data.person_masks is None else data.person_masks.unsqueeze(1)
    return ImageArray(_anonymize_source(method, data.images, masks, ctx, batch, name), data.targets)
