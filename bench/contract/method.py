"""Method plug-in base: declarative parameters (`Param`), fit(), anonymize(), the registry."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from bench.contract.config import BOOL_TEXT, Preset, parse_bool
from bench.contract.context import RunContext
from bench.contract.dataset import DATASETS, Benchmark
from bench.contract.errors import BenchError, did_you_mean
from bench.contract.frames import PersonRegions
from bench.contract.registry import Registry

NONE_WORDS = frozenset({"none", "null", "auto", "preset", ""})


def value_text(value: Any) -> str:
    """A parameter value as shown to users: None (a derived default) reads 'derived'."""
    return "derived" if value is None else str(value)


def params_text(values: Mapping[str, Any] | Iterable[tuple[str, Any]], sep: str = " ") -> str:
    """'B=0.3 lam=1.0 lr=derived': parameters as every command shows them."""
    items = values.items() if isinstance(values, Mapping) else values
    return sep.join(f"{k}={value_text(v)}" for k, v in items)


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
    detection: bool = False  # a person-detector setting: in the key only where one runs
    # for a parameter added later: (the value records made before it existed ran with,)
    legacy: tuple[Any] | None = None

    def __post_init__(self) -> None:
        if self.default is None and self.kind is None:
            raise TypeError("Param(None, ...) needs kind=<type> (e.g. kind=float)")

    @property
    def type(self) -> type:
        """The Python type values are coerced to."""
        return self.kind or type(self.default)

    def describe_default(self) -> str:
        """The default as shown to users."""
        return value_text(self.default)

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
            kind = BOOL_TEXT if self.type is bool else self.type.__name__
            raise BenchError(f"--{name}={raw}: expected {kind}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise BenchError(f"--{name}={raw}: must be a finite number")
        if self.choices is not None and value not in self.choices:
            raise BenchError(
                f"--{name}={raw}: must be {self.describe_range()}{did_you_mean(raw, self.choices)}"
            )
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
        return parse_bool(raw)
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
    paper: ClassVar[str] = ""  # where the method comes from (authors, venue), as listings cite it
    params: ClassVar[dict[str, Param]] = {}
    trainable: ClassVar[bool] = False
    # a reference that needs what no real anonymizer has (e.g. the renderer's labels):
    # never a baseline; its table rows say so
    reference: ClassVar[bool] = False

    def __init__(self, **values: Any) -> None:
        self.values = self.resolve_params(values)

    @classmethod
    def resolve_params(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with `raw`, every value validated; unknown names are errors."""
        unknown = sorted(set(raw) - set(cls.params))
        if unknown:
            known = ", ".join(cls.params) or "none"
            raise BenchError(
                f"method '{cls.name}' has no parameter '{unknown[0]}'"
                f"{did_you_mean(unknown[0], cls.params)} (and --{unknown[0]} is not a `bench run` "
                f"option); its parameters: {known}"
            )
        values = {k: p.parse(k, raw.get(k, p.default)) for k, p in cls.params.items()}
        cls.validate(values)
        return values

    @classmethod
    def upgrade_params(cls, stored: dict[str, Any]) -> dict[str, Any]:
        """A stored record's parameters with those added since at the value it ran with
        (`Param.legacy`), so an older record keeps matching its table cell."""
        added = {k: p.legacy[0] for k, p in cls.params.items() if k not in stored and p.legacy}
        return {**stored, **added}

    @classmethod
    def cell_params(cls, raw: dict[str, Any], dataset: str) -> dict[str, Any]:
        """The resolved values a run on `dataset` is keyed and recorded by: the detector
        settings (`Param.detection`) only where a person detector runs (a region baseline on
        a dataset that `detects_people`), since elsewhere they change nothing."""
        values = cls.resolve_params(raw)
        family = DATASETS.get(dataset) if dataset in DATASETS.names() else None
        if family is not None and family.detects_people and cls.person_regions(values):
            return values
        return {k: v for k, v in values.items() if not cls.params[k].detection}

    @classmethod
    def validate(cls, values: dict[str, Any]) -> None:
        """Checks that involve several parameters; raise BenchError naming the fix."""

    @classmethod
    def check_preset(cls, values: dict[str, Any], preset: Preset) -> None:
        """Checks of the parameters against the preset (e.g. frame size); BenchError if bad."""

    @classmethod
    def person_regions(cls, values: dict[str, Any]) -> PersonRegions | None:
        """How this method, with these parameter values, wants people found on data without
        person masks (a region baseline); None (the default) when it reads no masks."""
        return None

    def fit(self, data: Benchmark, ctx: RunContext) -> None:
        """Learn fA* from the benchmark's training splits (no-op for fixed transforms)."""

    def state_dict(self) -> dict[str, torch.Tensor] | None:
        """What fit() learned, so other protocols can reuse it; None: refit in every run."""
        return None

    def load_state_dict(self, state: dict[str, torch.Tensor], ctx: RunContext) -> None:
        """Restore what fit() learned (the inverse of `state_dict`)."""

    def anonymize(self, clips: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """(N, C, T, H, W) in [0, 1] -> anonymized clips of the same shape.

        `masks` (N, 1, T, H, W) float, > 0 on people where the dataset knows them, else None
        (the synthetic renderer's values are the region labels of `bench.contract.dataset`).
        """
        raise NotImplementedError


METHODS: Registry[Method] = Registry("method", "bench.methods")
