"""Every figure, declared once: its name, what it shows, how it is drawn, and where
`bench report` puts it. `bench figure`, its help text and `bench report` all read `FIGURES`,
as tables are read from `table_specs.TABLES`; adding a figure is one entry here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from bench.contract.errors import BenchError, did_you_mean
from bench.reports.figures import ablation_figure, curves_figure, pareto_figure
from bench.reports.frames_figure import frames_figure
from bench.reports.inversion_figure import inversion_figure
from bench.store.reading import RecordSet


@dataclass(frozen=True)
class FigureRequest:
    """Whose records a figure draws: dataset, protocol, preset, and the dataset cache."""

    dataset: str = "synthetic"
    protocol: str = "known"
    preset: str | None = None
    cache_dir: Path | None = None
    cost: bool = False  # pareto: size each point by its anonymizer's cost


@dataclass(frozen=True)
class FigureSpec:
    """One figure: `draw` builds it from records; `report` lists its (title, protocol)
    sections in `bench report`; `per_protocol` says whether the protocol picks its records
    (and so names its file)."""

    name: str
    help: str
    draw: Callable[[RecordSet, FigureRequest], Figure]
    report: tuple[tuple[str, str], ...]
    per_protocol: bool = True
    protocols: tuple[str, ...] = ()  # those it draws, the first by default; (): any

    def protocol_for(self, requested: str) -> str:
        """The protocol drawn when `requested` is asked for: itself where the figure draws
        it, else the figure's first (`bench figure inversion` with the default --protocol)."""
        return requested if not self.protocols or requested in self.protocols else self.protocols[0]

    def stem(self, protocol: str, dataset: str) -> str:
        """The file name, no suffix: 'pareto-novel', 'frames', 'curves-known-ucf101-vispr1'."""
        parts = [self.name, protocol] if self.per_protocol else [self.name]
        return "-".join(parts if dataset == "synthetic" else [*parts, dataset])


FIGURES: dict[str, FigureSpec] = {
    spec.name: spec
    for spec in (
        FigureSpec(
            "pareto",
            "action top-1 against privacy cMAP, one point per method setting, Pareto front",
            lambda records, r: pareto_figure(records, r.dataset, r.protocol, r.preset, cost=r.cost),
            (
                ("Action against privacy, known protocol (Tables 1, 3)", "known"),
                ("Action against privacy, novel protocol (Table 2)", "novel"),
            ),
        ),
        FigureSpec(
            "frames",
            "Figure 2: raw test frames, then each B's stored fA* applied to them",
            lambda records, r: frames_figure(records, r.dataset, r.preset, cache_dir=r.cache_dir),
            (("Anonymized frames (Figure 2)", "known"),),
            per_protocol=False,
        ),
        FigureSpec(
            "curves",
            "Figure 5: fA / fB / fT training losses per minimax epoch",
            lambda records, r: curves_figure(records, r.dataset, r.protocol, r.preset),
            (("Training losses (Figure 5)", "known"),),
        ),
        FigureSpec(
            "ablation",
            "Figure 3 and Table 3: top-1 and cMAP against B and against lambda",
            lambda records, r: ablation_figure(records, r.dataset, r.protocol, r.preset),
            (("B and λ ablations (Figure 3, Table 3)", "known"),),
        ),
        FigureSpec(
            "inversion",
            "Table 9 as a picture: fB' cMAP on fA*(test) and after the inversion attack, and PSNR",
            lambda records, r: inversion_figure(records, r.dataset, r.protocol, r.preset),
            (("Inversion attack (Table 9)", "inversion"),),
            protocols=("inversion", "inversion-novel"),
        ),
    )
}


def figure_spec(name: str) -> FigureSpec:
    """The figure called `name`; an unknown name is a user error listing the known ones."""
    try:
        return FIGURES[name]
    except KeyError:
        raise BenchError(
            f"no figure '{name}'{did_you_mean(name, FIGURES)}; figures: {', '.join(FIGURES)}"
        ) from None


def make_figure(name: str, records: RecordSet, request: FigureRequest) -> Figure:
    """The figure `name` drawn from `records`."""
    spec = figure_spec(name)
    protocol = spec.protocol_for(request.protocol)
    return spec.draw(records, dataclasses.replace(request, protocol=protocol))
