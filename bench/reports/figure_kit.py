"""What every figure shares: axis names, row and record selection, the empty-figure error,
and saving as PNG / PDF."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from bench.contract.atomic import atomic_write
from bench.contract.errors import BenchError
from bench.orchestration.cell import Cell
from bench.reports.table_specs import Row

TOP1_AXIS = "action top-1 (%)"
CMAP_AXIS = "privacy cMAP (%)"
FALLBACK_PRESET = Cell.preset  # the preset to draw where records were run at several


def budget_rows(*budgets: float) -> tuple[Row, ...]:
    """The penalty method at each budget B (other parameters at their defaults), 'B = 0.3'."""
    return tuple(Row(f"B = {b:g}", "penalty", {"B": b}) for b in budgets)


def fitted_title(fig: Figure, title: str) -> str:
    """`title` broken into lines that fit `fig`'s width (a long preset label with `--set`
    changes would otherwise be clipped at the edges)."""
    chars = max(20, int(fig.get_figwidth() * 9))  # ~9 characters an inch at title size
    return textwrap.fill(title, chars, break_on_hyphens=False)


def save_figure(
    fig: Figure, path_stem: Path | str, formats: Sequence[str] = ("png",)
) -> list[Path]:
    """Write `fig` as `<path_stem>.<format>` for each format (png, pdf); the paths written."""
    supported = fig.canvas.get_supported_filetypes()
    unknown = [f for f in formats if f not in supported]
    if unknown:
        raise BenchError(f"figure format '{unknown[0]}' is not supported; use png or pdf")
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.parent / f"{stem.name}.{fmt}" for fmt in formats]
    for path, fmt in zip(paths, formats, strict=True):

        def write(tmp: Path, fmt: str = fmt) -> None:
            fig.savefig(tmp, format=fmt, dpi=150)

        atomic_write(path, write)
    return paths


def nothing_to_draw(
    what: str, dataset: str, protocol: str, preset: str, *sweeps: str
) -> BenchError:
    """The error for a figure with nothing to draw, naming the sweeps that fill it."""
    suffix = "-paper" if preset.startswith("paper") else ""
    names = " and ".join(f"`bench sweep {s}{suffix}`" for s in sweeps or ("table1",))
    return BenchError(f"{what} ({dataset}, {protocol}, {preset}); run {names} first")
