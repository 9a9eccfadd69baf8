"""The paper's figures, drawn from stored run records; nothing here trains.

* `pareto_figure`: action top-1 against privacy cMAP, one point per method setting, with the
  Pareto front (Tables 1 and 2 as one picture);
* `frames_figure`: raw test frames and the same frames through each penalty setting's stored
  fA* (Figure 2);
* `curves_figure`: training losses of fA, fB and fT per minimax epoch (Figure 5);
* `ablation_figure`: top-1 and cMAP against B and against lambda (Figure 3, Table 3).

Each returns a matplotlib `Figure` built without pyplot (no global state, no display);
`save_figure` writes it as PNG and / or PDF.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from rich.console import Console

from bench.cache import default_cache_dir, ensure_cache_dir
from bench.config import PRESET_KEYS, PRESETS, Preset
from bench.data import DATASETS, Benchmark, to_float_clip, to_uint8
from bench.errors import BenchError
from bench.fits import CHECKPOINT
from bench.method import METHODS
from bench.protocol import PROTOCOLS
from bench.records import RecordSet, Selector, Stat
from bench.runtime import RunContext, make_progress
from bench.store import ResultsStore
from bench.table_specs import FIXED, OURS, RAW, SPACT, VITA, Row

TOP1_AXIS = "action top-1 (%)"
CMAP_AXIS = "privacy cMAP (%)"
FALLBACK_PRESET = "tiny"


def budget_rows(*budgets: float) -> tuple[Row, ...]:
    """The penalty method at each budget B (other parameters at their defaults), 'B = 0.3'."""
    return tuple(Row(f"B = {b:g}", "penalty", {"B": b}) for b in budgets)


PARETO_ROWS: tuple[Row, ...] = (RAW, *FIXED, VITA, SPACT, *OURS)
FRAME_ROWS = budget_rows(0.3, 0.5, 0.7, 0.9)
CURVE_ROWS = budget_rows(0.5, 0.7, 0.9)
SWEEP_OF_PROTOCOL = {"known": "table1", "novel": "table2"}


def _selector(row: Row, protocol: str, dataset: str) -> Selector:
    return Selector(row.method, dict(row.params), protocol, dataset)


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
        fig.savefig(path, format=fmt, dpi=150)
    return paths


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


def pareto_figure(
    records: RecordSet,
    dataset: str = "synthetic",
    protocol: str = "known",
    preset: str | None = None,
    rows: Sequence[Row] = PARETO_ROWS,
) -> Figure:
    """Action top-1 against privacy cMAP, one labelled point per setting, and the Pareto front."""
    if "action_top1" not in PROTOCOLS.get(protocol).metrics:
        raise BenchError(f"protocol '{protocol}' scores no action top-1; use known or novel")
    preset = records.preset_for(dataset, preset, FALLBACK_PRESET)
    points = []
    for row in rows:
        selector = _selector(row, protocol, dataset)
        cmap = records.stat(selector, "privacy_cmap", preset)
        top1 = records.stat(selector, "action_top1", preset)
        if cmap is not None and top1 is not None:
            points.append(_Point(row, cmap, top1))
    if not points:
        sweep = SWEEP_OF_PROTOCOL.get(protocol, "table1")
        raise _nothing("no records of the Pareto settings", dataset, protocol, preset, sweep)
    fig = Figure(figsize=(8, 6), layout="constrained")
    ax = fig.add_subplot()
    families: set[str] = set()
    for point in points:
        _draw_point(ax, point, families)
    xy = [(p.cmap.mean, p.top1.mean) for p in points]
    placed: list[tuple[float, float]] = []
    for anchor, names in _label_groups(xy, [p.row.label for p in points]):
        crowded = any(_near(anchor, other, xy, 0.05) for other in placed)
        ax.annotate(  # left of the point when a label is already printed close by
            ", ".join(names),
            anchor,
            xytext=(-5, 4) if crowded else (5, 4),
            textcoords="offset points",
            ha="right" if crowded else "left",
        )
        placed.append(anchor)
    front = [points[i] for i in pareto_front(xy)]
    xs, ys = [p.cmap.mean for p in front], [p.top1.mean for p in front]
    ax.step(
        xs, ys, where="post", color="tab:green", ls="--", marker="o", ms=14, mfc="none",
        label="Pareto front", zorder=1,
    )  # fmt: skip
    ax.set_xlabel(f"{CMAP_AXIS}, lower is better ←")
    ax.set_ylabel(f"{TOP1_AXIS}, higher is better ↑")
    ax.set_title(f"Action vs privacy trade-off ({dataset}, {protocol}, {preset})")
    ax.margins(0.1)  # room for the point labels
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
        ms=9 if marker == "*" else 6,
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
    rows: Sequence[Row] = CURVE_ROWS,
) -> Figure:
    """fA, fB and fT training loss per minimax epoch, one line per setting (mean over seeds)."""
    preset = records.preset_for(dataset, preset, FALLBACK_PRESET)
    runs = {}
    for row in rows:
        chosen = records.select(_selector(row, protocol, dataset), preset)
        histories = [r["history"]["minimax"] for r in chosen if r["history"].get("minimax")]
        if histories:
            runs[row.label] = histories
    if not runs:
        raise _nothing("no minimax training history of the settings", dataset, protocol, preset)
    fig = Figure(figsize=(14, 4.2), layout="constrained")
    for ax, (key, title) in zip(fig.subplots(1, len(_LOSS_PANELS)), _LOSS_PANELS, strict=True):
        for i, (label, histories) in enumerate(runs.items()):
            _draw_curve(ax, histories, key, label, _LINESTYLES[i % len(_LINESTYLES)])
        ax.set(title=title, xlabel="minimax epoch", ylabel="training loss")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    band = "; band: std over seeds" if any(len(h) > 1 for h in runs.values()) else ""
    fig.suptitle(f"Training losses (Figure 5; {dataset}, {protocol}, {preset}{band})")
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
    preset = records.preset_for(dataset, preset, FALLBACK_PRESET)
    penalty = Selector("penalty", {}, protocol, dataset)
    by_b = _swept(records, penalty, "B", {}, preset)
    by_lam = _swept(records, penalty, "lam", {"B": lam_budget}, preset)
    if not by_b and not by_lam:
        raise _nothing("no penalty records", dataset, protocol, preset, "figure3", "table3")
    raw = Selector("raw", {}, protocol, dataset)
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True)
    lam = METHODS.get("penalty").params["lam"].default
    _draw_ablation(left, records, by_b, raw, preset, f"budget B (λ = {lam:g})", "figure3")
    _draw_ablation(
        right, records, by_lam, raw, preset, f"penalty weight λ (B = {lam_budget:g})", "table3"
    )
    left.set_ylabel(f"{TOP1_AXIS} ↑ / {CMAP_AXIS} ↓")
    fig.suptitle(f"Penalty ablations (Figure 3, Table 3; {dataset}, {protocol}, {preset})")
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


def frames_figure(
    records: RecordSet,
    dataset: str = "synthetic",
    preset: str | None = None,
    rows: Sequence[Row] = FRAME_ROWS,
    clips: int = 4,
    cache_dir: Path | None = None,
) -> Figure:
    """Middle frames of test clips of `clips` classes: raw, then through each stored fA*.

    A row per setting whose learned fA* is stored under the results dir's fits/; runs on CPU.
    """
    if records.root is None:
        raise BenchError("frames need records read with RecordSet.load (its fits/ holds fA*)")
    preset = records.preset_for(dataset, preset, FALLBACK_PRESET)
    fitted = [
        (w, r) for w in rows if (r := _fitted_record(records, w, dataset, preset)) is not None
    ]
    if not fitted:
        raise _nothing(f"no stored anonymizer under {records.root}/fits", dataset, "any", preset)
    config = fitted[0][1]["config"]
    run_preset = _preset_of(config["preset"])
    with tempfile.TemporaryDirectory() as run_dir:
        ctx = _cpu_context(run_preset, ensure_cache_dir(cache_dir or default_cache_dir()), run_dir)
        roots = {name: Path(folder) for name, folder in config.get("data_roots", {}).items()}
        data = DATASETS.get(dataset)(roots).load("known", ctx)
        frames, classes = _middle_frames(data, clips, run_preset.frame_size)
        grid = [("raw", to_uint8(frames))]
        grid += [(w.label, _anonymized(records.root, r, frames, ctx)) for w, r in fitted]
    return _draw_grid(grid, classes, f"Anonymized test frames ({dataset}, {preset})")


def _fitted_record(
    records: RecordSet, row: Row, dataset: str, preset: str
) -> Mapping[str, Any] | None:
    """A record of `row` (any protocol, 'known' first) whose fA* checkpoint is stored."""
    assert records.root is not None
    protocols = sorted({v.protocol for v in records.views}, key=lambda p: (p != "known", p))
    for protocol in protocols:
        for record in records.select(_selector(row, protocol, dataset), preset):
            if record.get("fit_key") and _checkpoint(records.root, record).is_file():
                return record
    return None


def _checkpoint(root: Path, record: Mapping[str, Any]) -> Path:
    return ResultsStore(root).fit_dir(record["fit_key"]) / CHECKPOINT


def _preset_of(values: Mapping[str, Any]) -> Preset:
    """The preset a record ran at, rebuilt from its config (JSON lists back to tuples)."""
    changes: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in PRESET_KEYS
    }
    if values["name"] not in PRESETS:
        raise BenchError(
            f"record made at preset '{values['name']}', which this version does not have; "
            f"known presets: {', '.join(PRESETS)}"
        )
    return dataclasses.replace(PRESETS[values["name"]], **changes)


def _cpu_context(preset: Preset, cache_dir: Path, run_dir: str) -> RunContext:
    console = Console(quiet=True)
    device = torch.device("cpu")
    return RunContext(preset, device, 0, cache_dir, Path(run_dir), console, make_progress(console))


def _middle_frames(data: Benchmark, n: int, size: int) -> tuple[torch.Tensor, list[str]]:
    """Float (n, C, 1, size, size) middle frames of the first test video of n classes."""
    test = data.action.splits.test
    first: dict[int, int] = {}
    for i, label in enumerate(test.labels.tolist()):
        first.setdefault(int(label), i)
    chosen = [first[c] for c in sorted(first)[:n]]
    middle = [torch.tensor([test.videos.length(i) // 2]) for i in chosen]
    frames = [
        to_float_clip(test.videos.read(i, m), size) for i, m in zip(chosen, middle, strict=True)
    ]
    return torch.stack(frames), [data.action.classes[int(test.labels[i])] for i in chosen]


@torch.no_grad()
def _anonymized(
    root: Path, record: Mapping[str, Any], frames: torch.Tensor, ctx: RunContext
) -> torch.Tensor:
    """`frames` through the record's stored fA*, as uint8."""
    method = METHODS.get(record["method"])(**record["params"])
    path = _checkpoint(root, record)
    try:
        method.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), ctx)
    except (OSError, RuntimeError, EOFError) as exc:
        raise BenchError(
            f"stored anonymizer {path} is unreadable ({type(exc).__name__}); delete "
            f"{path.parent} and rerun its run with --force"
        ) from None
    return to_uint8(method.anonymize(frames))


def _draw_grid(
    rows: Sequence[tuple[str, torch.Tensor]], classes: Sequence[str], title: str
) -> Figure:
    """An image grid: one labelled row per (label, uint8 (N, C, 1, H, W)) pair."""
    n = len(classes)
    fig = Figure(figsize=(1.6 * n + 1.0, 1.6 * len(rows) + 0.8), layout="constrained")
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, (label, frames) in enumerate(rows):
        for c in range(n):
            ax = axes[r][c]
            ax.imshow(frames[c, :, 0].permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(classes[c], fontsize=9)
        axes[r][0].set_ylabel(label)
    fig.suptitle(title)
    return fig


def _nothing(what: str, dataset: str, protocol: str, preset: str, *sweeps: str) -> BenchError:
    """The error for a figure with nothing to draw, naming the sweeps that fill it."""
    suffix = "-paper" if preset.startswith("paper") else ""
    names = " and ".join(f"`bench sweep {s}{suffix}`" for s in sweeps or ("table1",))
    return BenchError(f"{what} ({dataset}, {protocol}, {preset}); run {names} first")


FIGURE_KINDS = ("pareto", "frames", "curves", "ablation")


def figure_stem(kind: str, protocol: str, dataset: str) -> str:
    """The file name (no suffix) of a figure: 'pareto-novel', 'frames', 'curves-known-ucf101-vispr1'."""
    parts = [kind] if kind == "frames" else [kind, protocol]
    return "-".join(parts if dataset == "synthetic" else [*parts, dataset])


def make_figure(
    kind: str,
    records: RecordSet,
    dataset: str = "synthetic",
    protocol: str = "known",
    preset: str | None = None,
    cache_dir: Path | None = None,
) -> Figure:
    """The figure `kind` (one of FIGURE_KINDS) of `records`."""
    if kind == "pareto":
        return pareto_figure(records, dataset, protocol, preset)
    if kind == "frames":
        return frames_figure(records, dataset, preset, cache_dir=cache_dir)
    if kind == "curves":
        return curves_figure(records, dataset, protocol, preset)
    if kind == "ablation":
        return ablation_figure(records, dataset, protocol, preset)
    raise BenchError(f"no figure '{kind}'; figures: {', '.join(FIGURE_KINDS)}")
