"""Method plug-in base: declarative parameters, fit(), anonymize(), and applying it to data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from bench.data import Benchmark, ImageArray, VideoArray, to_float_clip, to_uint8
from bench.errors import BenchError
from bench.registry import Registry
from bench.runtime import RunContext, autocast


@dataclass(frozen=True)
class Param:
    """One method parameter: default, help text and its validity range."""

    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None

    def parse(self, name: str, raw: Any) -> Any:
        """Coerce `raw` to the default's type and validate it (BenchError on a bad value)."""
        kind = type(self.default)
        try:
            value = kind(raw) if not isinstance(raw, kind) else raw
        except (TypeError, ValueError):
            raise BenchError(f"--{name}={raw}: expected a {kind.__name__}") from None
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(map(str, self.choices))
            raise BenchError(f"--{name}={raw}: must be one of {allowed}")
        if self.minimum is not None and value < self.minimum:
            raise BenchError(f"--{name}={raw}: must be >= {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise BenchError(f"--{name}={raw}: must be <= {self.maximum}")
        return value


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
                f"method '{cls.name}' has no parameter '{unknown[0]}'; its parameters: {known}"
            )
        return {k: p.parse(k, raw.get(k, p.default)) for k, p in cls.params.items()}

    def fit(self, data: Benchmark, ctx: RunContext) -> None:
        """Learn fA* from the benchmark's training splits (no-op for fixed transforms)."""

    def anonymize(self, clips: torch.Tensor) -> torch.Tensor:
        """(N, C, T, H, W) in [0, 1] -> anonymized clips of the same shape."""
        raise NotImplementedError


METHODS: Registry[Method] = Registry("method", "bench.methods")


@torch.no_grad()
def _anonymize_frames(
    method: Method, frames: torch.Tensor, ctx: RunContext, batch: int
) -> torch.Tensor:
    """uint8 (N, T, H, W, C) -> anonymized uint8 of the same layout, at the preset's size."""
    out = []
    for start in range(0, frames.shape[0], batch):
        clips = torch.stack(
            [to_float_clip(v, ctx.preset.frame_size) for v in frames[start : start + batch]]
        )
        with autocast(ctx.device):
            anon = method.anonymize(clips.to(ctx.device)).float()
        out.append(to_uint8(anon).permute(0, 2, 3, 4, 1).cpu())
    return torch.cat(out)


def anonymize_videos(
    method: Method, data: VideoArray, ctx: RunContext, batch: int = 16
) -> VideoArray:
    """Every video passed through the method, stored as uint8 like a released stream."""
    return VideoArray(_anonymize_frames(method, data.videos, ctx, batch), data.labels)


def anonymize_images(
    method: Method, data: ImageArray, ctx: RunContext, batch: int = 64
) -> ImageArray:
    """Every image passed through the method as a one-frame clip, stored as uint8."""
    frames = _anonymize_frames(method, data.images.unsqueeze(1), ctx, batch)
    return ImageArray(frames[:, 0], data.targets)
