"""The practicality columns (`bench table --cost`): what a row's anonymizer costs, from the
`cost` its records store (`bench.training.cost`): parameters, GFLOPs per frame at the working
size, and the median frames/s of `anonymize` at the working size and at 320x240 over the
records (each measured on its run's device, which the footnote names)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

HEADERS = ("Params", "GFLOP/frame", "frames/s (working size)", "frames/s (320x240)")


@dataclass(frozen=True)
class RowCost:
    """A row's cost over the records that measured it."""

    parameters: int
    gflops_per_frame: float
    fps: float  # median over the records
    fps_320x240: float
    devices: tuple[str, ...]
    n: int  # records that measured it

    def cells(self) -> tuple[str, str, str, str]:
        """The four column texts."""
        return (
            parameters_text(self.parameters),
            f"{self.gflops_per_frame:.3g}",
            fps_text(self.fps),
            fps_text(self.fps_320x240),
        )


def parameters_text(count: int) -> str:
    """'15.97M', '91.3k', '0'."""
    if count >= 1_000_000:
        return f"{count / 1e6:.2f}M"
    if count >= 1_000:
        return f"{count / 1e3:.1f}k"
    return str(count)


def fps_text(fps: float) -> str:
    """Frames per second, three significant digits; '> 1e6' for what costs nothing (raw)."""
    return "> 1e6" if fps > 1e6 else f"{fps:.3g}"


def measured(record: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A record's `cost`, None where it has none (records made before costs were measured,
    or a plug-in whose cost could not be measured)."""
    cost = record.get("cost")
    return cost if isinstance(cost, Mapping) and "parameters" in cost else None


def row_cost(records: Iterable[Mapping[str, Any]]) -> RowCost | None:
    """The cost of a row over its records; None when none measured it."""
    costs = [c for r in records if (c := measured(r)) is not None]
    if not costs:
        return None
    return RowCost(
        parameters=max(int(c["parameters"]) for c in costs),
        gflops_per_frame=statistics.median(float(c["flops_per_frame"]) for c in costs) / 1e9,
        fps=statistics.median(float(c["fps"]) for c in costs),
        fps_320x240=statistics.median(float(c["fps_320x240"]) for c in costs),
        devices=tuple(sorted({str(c["device"]) for c in costs})),
        n=len(costs),
    )


FOOTNOTE = (
    "Cost: learnable parameters of the anonymizer, GFLOP per frame at the working size "
    "(matrix products and convolutions, torch.utils.flop_counter; elementwise work counts 0), "
    "and the median frames/s of anonymize() over the row's records at the working size and at "
    "320x240 (one clip of the preset's length), measured by each run on {devices}; "
    "{missing} marks a row whose records hold no cost."
)
