"""The paper's figures, drawn from stored run records; nothing here trains.

* `pareto_figure`: action top-1 against privacy cMAP, one point per method setting, with the
  Pareto front (Tables 1 and 2 as one picture);
* `frames_figure` (in `bench.reports.frames_figure`): raw test frames and the same frames
  through each penalty setting's stored fA* (Figure 2);
* `curves_figure`: training losses of fA, fB and fT per minimax epoch (Figure 5);
* `ablation_figure`: top-1 and cMAP against B and against lambda (Figure 3, Table 3).

Each returns a matplotlib `Figure` built without pyplot (no global state, no display);
`bench.reports.figure_kit.save_figure` writes it as PNG and / or PDF. Which figures exist,
and how `bench figure` and `bench report` reach them, is declared in `figure_specs`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from bench.contract.errors import BenchError
from bench.contract.method import METHODS
from bench.contract.protocol import PROTOCOLS
from bench.reports.costs import RowCost, row_cost
from bench.reports.figure_kit import (
    CMAP_AXIS,
    FALLBACK_PRESET,
    TOP1_AXIS,
    budget_rows,
    fitted_title,
    nothing_to_draw,
)
from bench.reports.table_specs import FIXED, OURS, RAW, SPACT, TABLES, VITA, Row
from bench.reports.tables import extra_rows
from bench.store.reading import RecordSet, Selector, Stat

PARETO_ROWS: tuple[Row, ...] = (RAW, *FIXED, VITA, SPACT, *OURS)
CURVE_BUDGETS = (0.5, 0.7, 0.9)  # the paper's Figure 5 draws these B
SWEEP_OF_PROTOCOL = {"known": "table1", "novel": "table2"}


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the (privacy, utility) points that no other point dominates, by privacy.

    Lower privacy leakage and higher utility are better; equal points do not dominate each other.
    """

    def dominated(p: tuple[float, float]) -> bool:
        return any(q[0] <= p[0] and q[1] >= p[1] and q != p for q in points)

    front = [i for i, p in enumerate(points) if not dominated(p)]
    return sorted(front, key=lambda i: (points[i][0], -points[i][1]))


@dataclass(frozen=True)
class _Point:
    row: Row
    cmap: Stat
    top1: Stat
    size: float | None = None  # marker size by cost (`cost=True`), else the family's


def cost_marker_size(cost: RowCost | None) -> float | None:
    """A marker size that grows with the anonymizer's MFLOP per frame (log scale); None
    where its records hold no cost."""
    if cost is None:
        return None
    return 5 + 3 * math.log10(1 + cost.gflops_per_frame * 1000)


def pareto_figure(
    records: RecordSet,
    dataset: str = "synthetic",
    protocol: str = "known",
    preset: str | None = None,
    rows: Sequence[Row] = PARETO_ROWS,
    cost: bool = False,
) -> Figure:
    """Action top-1 against privacy cMAP, one labelled point per setting, and the Pareto front;
    with `cost`, each marker sized by its anonymizer's FLOPs per frame."""
    if "action_top1" not in PROTOCOLS.get(protocol).metrics:
        raise BenchError(f"protocol '{protocol}' scores no action top-1; use known or novel")
    preset = records.preset_for(dataset, preset, FALLBACK_PRESET, {protocol})
    if rows is PARETO_ROWS:  # every method with records shows, plug-ins included
        rows = (*rows, *extra_rows(TABLES[2 if protocol == "novel" else 1], records))
    points = []
    for row in rows:
        selector = row.selector(protocol, dataset)
        cmap = records.stat(selector, "privacy_cmap", preset)
        top1 = records.stat(selector, "action_top1", preset)
        if cmap is not None and top1 is not None:
            size = cost_marker_size(row_cost(records.select(selector, preset))) if cost else None
            points.append(_Point(row, cmap, top1, size))
    if not points:
        sweep = SWEEP_OF_PROTOCOL.get(protocol, "table1")
        raise nothing_to_draw("no records of the Pareto settings", dataset, protocol, preset, sweep)
    fig = Figure(figsize=(8, 6), layout="constrained")
    ax = fig.add_subplot()
    families: set[str] = set()
    for point in points:
        _draw_point(ax, point, families)
    xy = [(p.cmap.mean, p.top1.mean) for p in points]
    ax.margins(0.1)  # room for the point labels; limits settle before labels are measured
    ax.autoscale_view()
    _place_labels(fig, ax, _label_groups(xy, [p.row.label for p in points]))
    front = [points[i] for i in pareto_front(xy)]
    xs, ys = [p.cmap.mean for p in front], [p.top1.mean for p in front]
    ax.step(
        xs, ys, where="post", color="tab:green", ls="--", marker="o", ms=14, mfc="none",
        label="Pareto front", zorder=1,
    )  # fmt: skip
    ax.set_xlabel(f"{CMAP_AXIS}, lower is better ←")
    ax.set_ylabel(f"{TOP1_AXIS}, higher is better ↑")
    sized = " (marker size: MFLOP per frame, log)" if cost else ""
    ax.set_title(
        fitted_title(fig, f"Action vs privacy trade-off ({dataset}, {protocol}, {preset}){sized}")
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return fig


def _near(
    a: tuple[float, float], b: tuple[float, float], xy: Sequence[tuple[float, float]], share: float
) -> bool:
    """Whether a and b are closer than `share` of the span of `xy` on both axes."""
    span_x = (max(x for x, _ in xy) - min(x for x, _ in xy)) or 1.0
    span_y = (max(y for _, y in xy) - min(y for _, y in xy)) or 1.0
    return abs(a[0] - b[0]) <= share * span_x and abs(a[1] - b[1]) <= share * span_y


# where a point's label may go, in points from it, in order of preference
_LABEL_OFFSETS = ((5, 4, "left"), (5, -13, "left"), (-5, 4, "right"), (-5, -13, "right"))


def _place_labels(
    fig: Figure, ax: Axes, groups: Sequence[tuple[tuple[float, float], list[str]]]
) -> None:
    """Each label at the first offset where it overlaps no label placed before it."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    boxes: list[Bbox] = []
    for anchor, names in groups:
        for dx, dy, ha in _LABEL_OFFSETS:
            text = ax.annotate(
                ", ".join(names), anchor, xytext=(dx, dy), textcoords="offset points", ha=ha
            )
            box = text.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in boxes):
                break
            text.remove()
        else:  # crowded everywhere: the first choice
            dx, dy, ha = _LABEL_OFFSETS[0]
            text = ax.annotate(
                ", ".join(names), anchor, xytext=(dx, dy), textcoords="offset points", ha=ha
            )
            box = text.get_window_extent(renderer)
        boxes.append(box)


def _label_groups(
    xy: Sequence[tuple[float, float]], names: Sequence[str], share: float = 0.015
) -> list[tuple[tuple[float, float], list[str]]]:
    """Labels of points closer than `share` of the data span joined into one, so settings
    with (nearly) identical results do not print over each other."""
    groups: list[tuple[tuple[float, float], list[str]]] = []
    for point, name in zip(xy, names, strict=True):
        for anchor, members in groups:
            if _near(point, anchor, xy, share):
                members.append(name)
                break
        else:
            groups.append((point, [name]))
    return groups


# method family -> (legend label, colour, marker)
_FAMILIES = {
    "raw": ("raw (no anonymization)", "black", "*"),
    "fixed": ("fixed obfuscation", "tab:gray", "s"),
    "learned": ("learned baseline", "tab:blue", "^"),
    "penalty": ("penalty (ours)", "tab:red", "o"),
}


def _family(method: str) -> str:
    if method in ("raw", "penalty"):
        return method
    return "learned" if METHODS.get(method).trainable else "fixed"


def _draw_point(ax: Axes, point: _Point, families: set[str]) -> None:
    """One setting as a marker with (when it has several seeds) std error bars."""
    family = _family(point.row.method)
    label, color, marker = _FAMILIES[family]
    x, y = point.cmap, point.top1
    ax.errorbar(
        x.mean,
        y.mean,
        xerr=x.std if x.n > 1 else None,
        yerr=y.std if y.n > 1 else None,
        fmt=marker,
        color=color,
        ms=point.size or (9 if marker == "*" else 6),
        capsize=3,
        label=None if family in families else label,
        zorder=2,
    )
    families.add(family)


_LOSS_PANELS = (
    ("loss_a", "(a) anonymizer fA: L_A"),
    ("loss_b", "(b) budget fB: L_B (NT-Xent)"),
    ("loss_t", "(c) utility fT: L_T (cross-entropy)"),
)


def curves_figure(
    records: RecordSet,
    dataset: str = "synthetic",
    protocol: str = "known",
    preset: str | None = None,
    rows: Sequence[Row] | None = None,
) -> Figure:
    """fA, fB and fT training loss per minimax epoch, one line per setting (mean over seeds).

    By default one line per budget B of the penalty method that records have (the paper's
    Figure 5 draws B = 0.5, 0.7 and 0.9); the title names the B values drawn.
    """
    preset = records.preset_for(dataset, preset, FALLBACK_PRESET, {protocol})
    if rows is None:
        found = {
            float(v.params["B"])
            for v in records.views
            if v.method == "penalty" and (v.dataset, v.protocol) == (dataset, protocol)
        }
        rows = budget_rows(*sorted(found or CURVE_BUDGETS))
    runs = {}
    for row in rows:
        chosen = records.select(row.selector(protocol, dataset), preset)
        histories = [r["history"]["minimax"] for r in chosen if r["history"].get("minimax")]
        if histories:
            runs[row.label] = histories
    if not runs:
        raise nothing_to_draw(
            f"no minimax training history of {', '.join(r.label for r in rows)}",
            dataset,
            protocol,
            preset,
        )
    fig = Figure(figsize=(14, 4.2), layout="constrained")
    for ax, (key, title) in zip(fig.subplots(1, len(_LOSS_PANELS)), _LOSS_PANELS, strict=True):
        for i, (label, histories) in enumerate(runs.items()):
            _draw_curve(ax, histories, key, label, _LINESTYLES[i % len(_LINESTYLES)])
        ax.set(title=title, xlabel="minimax epoch", ylabel="training loss")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    band = "; band: std over seeds" if any(len(h) > 1 for h in runs.values()) else ""
    fig.suptitle(
        fitted_title(fig, f"Training losses (Figure 5; {dataset}, {protocol}, {preset}{band})")
    )
    return fig


_LINESTYLES = ("-", "--", ":", "-.")  # lines of identical runs stay visible on top of each other


def _draw_curve(
    ax: Axes,
    histories: Sequence[Sequence[Mapping[str, float]]],
    key: str,
    label: str,
    linestyle: str,
) -> None:
    """The mean over seeds of one loss per epoch, with a std band when there are several."""
    n = min(len(h) for h in histories)
    values = np.array([[row[key] for row in h[:n]] for h in histories])
    epochs = [int(row["epoch"]) for row in histories[0][:n]]
    mean = values.mean(axis=0)
    (line,) = ax.plot(epochs, mean, ls=linestyle, marker="o", ms=3, label=label)
    if len(histories) > 1:
        std = values.std(axis=0, ddof=1)
        ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2)


def ablation_figure(
    records: RecordSet,
    dataset: str = "synthetic",
    protocol: str = "known",
    preset: str | None = None,
    lam_budget: float = 0.3,
) -> Figure:
    """Top-1 and cMAP of the penalty against B (default lambda) and against lambda (at B)."""
    preset = records.preset_for(dataset, preset, FALLBACK_PRESET, {protocol})
    penalty = Selector("penalty", {}, protocol, dataset)
    by_b = _swept(records, penalty, "B", {}, preset)
    by_lam = _swept(records, penalty, "lam", {"B": lam_budget}, preset)
    if not by_b and not by_lam:
        raise nothing_to_draw("no penalty records", dataset, protocol, preset, "figure3", "table3")
    raw = Selector("raw", {}, protocol, dataset)
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True)
    lam = METHODS.get("penalty").params["lam"].default
    _draw_ablation(left, records, by_b, raw, preset, f"budget B (λ = {lam:g})", "figure3")
    _draw_ablation(
        right, records, by_lam, raw, preset, f"penalty weight λ (B = {lam_budget:g})", "table3"
    )
    left.set_ylabel(f"{TOP1_AXIS} ↑ / {CMAP_AXIS} ↓")
    fig.suptitle(
        fitted_title(fig, f"Penalty ablations (Figure 3, Table 3; {dataset}, {protocol}, {preset})")
    )
    return fig


def _swept(
    records: RecordSet, base: Selector, name: str, fixed: Mapping[str, Any], preset: str
) -> list[tuple[float, Selector]]:
    """(value, selector) for each value of `base`'s parameter `name` that has records, with
    the parameters in `fixed` set and every other one at its default."""
    values = {
        float(v.params[name]) for v in records.views if v.method == base.method and name in v.params
    }
    selectors = [(x, dataclasses.replace(base, params={**fixed, name: x})) for x in sorted(values)]
    return [(x, s) for x, s in selectors if records.select(s, preset)]


def _draw_ablation(
    ax: Axes,
    records: RecordSet,
    swept: Sequence[tuple[float, Selector]],
    raw: Selector,
    preset: str,
    xlabel: str,
    sweep: str,
) -> None:
    """Both metrics against the swept values, with raw's as dashed reference lines."""
    for metric, name, color in (("action_top1", "action top-1", "tab:blue"),
                                ("privacy_cmap", "privacy cMAP", "tab:red")):  # fmt: skip
        stats = [(x, s) for x, sel in swept if (s := records.stat(sel, metric, preset)) is not None]
        if stats:
            several = any(s.n > 1 for _, s in stats)
            ax.errorbar(
                [x for x, _ in stats],
                [s.mean for _, s in stats],
                yerr=[s.std for _, s in stats] if several else None,
                marker="o",
                capsize=3,
                color=color,
                label=f"{name} (%)",
            )
        reference = records.stat(raw, metric, preset)
        if reference is not None:
            ax.axhline(reference.mean, ls="--", color=color, alpha=0.7, label=f"raw {name}")
    if not swept:
        hint = f"no records: run `bench sweep {sweep}`"
        ax.text(0.5, 0.5, hint, transform=ax.transAxes, ha="center", va="center")
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
