"""How the embedded benchmark's fixed obfuscations compare with the paper's on real data:
the calibration targets C1-C7, measured from the records of raw and the five fixed
baselines of Table 1 (known protocol), and, for C5, from the data itself.

Only raw and the fixed rows are read: a benchmark is never tuned by a learned method's
result. Drops are relative to raw, in percent of raw's value; the paper's are UCF101 top-1
and VISPR1 cMAP from Table 1 (`results/paper/table1.csv`).

* C1: raw top-1 in [75, 88] %, raw cMAP <= 90 % (room above and below raw).
* C2: relative privacy drop per fixed row, in the target band (the paper's VISPR1 drop).
* C3: relative action drop per fixed row, in the band; 4x's drop exceeds weak blur's by at
  least 15 points.
* C4: Spearman rank correlation with the paper over raw + the five fixed rows, >= 0.8 for
  top-1 and for cMAP.
* C5: no attribute read with AP >= 0.95 by a logistic regression on the frame's mean colour
  after any fixed baseline (`mean_colour_ap`).
* C6: after 2x downsampling and after strong blur, at least 3 attributes with a fresh fB'
  AP strictly between chance + 0.1 and 0.95 (`details.privacy_ap`; chance: the attribute's
  prevalence in the test set).
* C7: the std over seeds of every calibrated cell at most 2 points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bench.contract.context import RunContext
from bench.contract.dataset import Benchmark, ImageArray
from bench.contract.method import METHODS
from bench.reports.published import PaperKey, paper_table, params_key
from bench.reports.table_specs import FIXED, RAW, Row
from bench.store.reading import RecordSet, Stat
from bench.training.anonymize_splits import anonymize_images

TOP1, CMAP = "action_top1", "privacy_cmap"
ROWS: tuple[Row, ...] = (RAW, *FIXED)
# relative drop bands (percent of raw) per fixed row: privacy (C2) and action (C3)
PRIVACY_BANDS: dict[str, tuple[float, float]] = {
    "Obf-WeakBlur": (0, 5),
    "Downsample-2x": (6, 16),
    "Obf-Blackening": (7, 18),
    "Obf-StrongBlur": (8, 18),
    "Downsample-4x": (16, 28),
}
ACTION_BANDS: dict[str, tuple[float, float]] = {
    "Obf-WeakBlur": (15, 28),
    "Downsample-2x": (25, 38),
    "Obf-Blackening": (25, 38),
    "Obf-StrongBlur": (25, 38),
    "Downsample-4x": (42, 56),
}
RAW_TOP1_BAND = (75.0, 88.0)
RAW_CMAP_MAX = 90.0
SPREAD_MIN = 15.0  # points between 4x's and weak blur's action drops
SPEARMAN_MIN = 0.8
COLOUR_AP_MAX = 0.95
GRADED_MIN = 3  # attributes in the graded AP band after 2x and strong blur
GRADED_ROWS = ("Downsample-2x", "Obf-StrongBlur")
STD_MAX = 2.0
PAPER_DATASETS = {TOP1: "UCF101", CMAP: "VISPR1"}


@dataclass(frozen=True)
class Check:
    """One calibration target: what it asks, what was measured, and whether it holds (None:
    not measurable from these records)."""

    target: str
    asks: str
    measured: str
    holds: bool | None


def relative_drop(raw: float, value: float) -> float:
    """The drop from raw in percent of raw."""
    return 100.0 * (raw - value) / raw


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (ties get their average rank)."""

    def ranks(values: Sequence[float]) -> np.ndarray:
        x = np.asarray(values, dtype=float)
        order = np.argsort(x, kind="stable")
        r = np.empty(len(x))
        r[order] = np.arange(len(x), dtype=float)
        for v in np.unique(x):  # average the ranks of ties
            r[x == v] = r[x == v].mean()
        return r

    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def paper_value(row: Row, metric: str) -> float:
    """The paper's Table 1 number of `row` for `metric` (UCF101 top-1, VISPR1 cMAP), percent."""
    key = PaperKey(row.method, params_key(row.params), PAPER_DATASETS[metric], metric)
    return float(paper_table(1)[key].printed)


def _band(value: float, band: tuple[float, float]) -> bool:
    return band[0] <= value <= band[1]


def calibration_checks(
    records: RecordSet,
    preset: str,
    chance: Mapping[str, float],
    colour_ap: Mapping[str, Mapping[str, float]] | None = None,
) -> tuple[list[Check], dict[str, dict[str, Stat]]]:
    """Every target C1-C7 from the records of raw and the fixed rows at `preset` (C6's
    chance: each attribute's, `chance_ap`; C5 from `colour_ap`, `colour_giveaways`' result,
    None leaves it unmeasured), and the statistics they came from, by row label."""
    stats: dict[str, dict[str, Stat]] = {}
    for row in ROWS:
        selector = row.selector("known", "synthetic")
        found = {m: records.stat(selector, m, preset) for m in (TOP1, CMAP)}
        stats[row.label] = {m: s for m, s in found.items() if s is not None}
    checks: list[Check] = []
    raw = stats.get(RAW.label, {})

    def need(row: str, metric: str) -> Stat | None:
        return stats.get(row, {}).get(metric)

    if TOP1 in raw and CMAP in raw:
        top1, cmap = raw[TOP1].mean, raw[CMAP].mean
        ok = _band(top1, RAW_TOP1_BAND) and cmap <= RAW_CMAP_MAX
        checks.append(
            Check("C1", "raw top-1 in [75, 88], cMAP <= 90", f"{top1:.1f} / {cmap:.1f}", ok)
        )
    else:
        checks.append(Check("C1", "raw top-1 in [75, 88], cMAP <= 90", "no raw records", None))
    for target, metric, bands in (("C2", CMAP, PRIVACY_BANDS), ("C3", TOP1, ACTION_BANDS)):
        for label, band in bands.items():
            asks = f"{label} {'privacy' if metric == CMAP else 'action'} drop in [{band[0]}, {band[1]}]"
            s, r = need(label, metric), raw.get(metric)
            if s is None or r is None:
                checks.append(Check(target, asks, "no records", None))
                continue
            drop = relative_drop(r.mean, s.mean)
            checks.append(Check(target, asks, f"{drop:.1f} %", _band(drop, band)))
    weak, x4, r_top1 = need("Obf-WeakBlur", TOP1), need("Downsample-4x", TOP1), raw.get(TOP1)
    asks = f"4x action drop - weak blur's >= {SPREAD_MIN:g} points"
    if weak and x4 and r_top1:
        spread = relative_drop(r_top1.mean, x4.mean) - relative_drop(r_top1.mean, weak.mean)
        checks.append(Check("C3", asks, f"{spread:.1f}", spread >= SPREAD_MIN))
    else:
        checks.append(Check("C3", asks, "no records", None))
    for metric in (TOP1, CMAP):
        asks = f"Spearman with the paper's Table 1 ({metric}) >= {SPEARMAN_MIN:g}"
        rows = [row for row in ROWS if need(row.label, metric) is not None]
        if len(rows) < len(ROWS):
            checks.append(Check("C4", asks, f"{len(rows)} of {len(ROWS)} rows", None))
            continue
        ours = [need(row.label, metric).mean for row in rows]  # type: ignore[union-attr]
        rho = spearman(ours, [paper_value(row, metric) for row in rows])
        checks.append(Check("C4", asks, f"{rho:+.2f}", rho >= SPEARMAN_MIN))
    asks = f"mean-colour reader AP < {COLOUR_AP_MAX:g} for every attribute and fixed row"
    if colour_ap is None:
        checks.append(Check("C5", asks, "not measured", None))
    else:
        ap, label, name = max(
            (ap, label, name)
            for label, aps in colour_ap.items()
            if label != RAW.label
            for name, ap in aps.items()
            if np.isfinite(ap)
        )
        checks.append(Check("C5", asks, f"max {ap:.2f} ({name}, {label})", ap < COLOUR_AP_MAX))
    for label in GRADED_ROWS:
        row = next(r for r in FIXED if r.label == label)
        asks = f"{label}: >= {GRADED_MIN} attributes with chance + 0.1 < AP < 0.95"
        graded = _graded(records, row, preset, chance)
        measured = "no records" if graded is None else f"{graded}"
        checks.append(Check("C6", asks, measured, None if graded is None else graded >= 3))
    spreads = [s.std for row in stats.values() for s in row.values() if s.n > 1]
    asks = f"std over seeds of every cell <= {STD_MAX:g} points"
    if spreads:
        checks.append(Check("C7", asks, f"max {max(spreads):.2f}", max(spreads) <= STD_MAX))
    else:
        checks.append(Check("C7", asks, "one seed per cell", None))
    return checks, stats


def _graded(records: RecordSet, row: Row, preset: str, chance: Mapping[str, float]) -> int | None:
    """Attributes whose mean fB' AP over seeds lies strictly between chance + 0.1 and 0.95
    for `row`; None without records holding per-attribute AP."""
    chosen = records.select(row.selector("known", "synthetic"), preset)
    aps = [r["details"]["privacy_ap"] for r in chosen if "privacy_ap" in r.get("details", {})]
    if not aps:
        return None
    mean = {a: float(np.nanmean([float(ap[a]) for ap in aps])) for a in aps[0]}
    return sum(1 for a, v in mean.items() if chance[a] + 0.1 < v < COLOUR_AP_MAX)


def mean_colours(images: ImageArray) -> np.ndarray:
    """(N, 3) mean colour of every image, in [0, 1]."""
    return np.stack(
        [images.image(i).float().mean((0, 1)).numpy() / 255.0 for i in range(len(images))]
    )


def mean_colour_ap(train: ImageArray, test: ImageArray) -> dict[str, float]:
    """AP per attribute (by index, as a string) of a logistic regression on each image's
    mean colour (3 numbers), fitted on `train`, scored on `test`: an attribute it reads is a
    global-colour giveaway (C5). NaN where a split lacks one of the two classes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    a, b = mean_colours(train), mean_colours(test)
    y_train, y_test = train.targets.numpy(), test.targets.numpy()
    out = {}
    for j in range(y_train.shape[1]):
        y, t = y_train[:, j], y_test[:, j]
        if y.min() == y.max() or not t.any():
            out[str(j)] = float("nan")
            continue
        model = LogisticRegression(max_iter=1000).fit(a, y)
        out[str(j)] = float(average_precision_score(t, model.decision_function(b)))
    return out


def colour_giveaways(data: Benchmark, ctx: RunContext) -> dict[str, dict[str, float]]:
    """`mean_colour_ap` on the private train / test images after raw and each fixed row (by
    row label; attributes by name)."""
    names = data.privacy.attributes
    out = {}
    for row in ROWS:
        method = METHODS.get(row.method)(**row.params)
        splits = data.privacy.splits
        train = anonymize_images(method, splits.train, ctx, name=f"{row.method}-train")
        test = anonymize_images(method, splits.test, ctx, name=f"{row.method}-test")
        aps = mean_colour_ap(train, test)
        out[row.label] = {names[int(j)]: ap for j, ap in aps.items()}
    return out


def render_calibration(
    checks: Sequence[Check], stats: Mapping[str, Mapping[str, Stat]], preset: str
) -> str:
    """The rows' metrics beside the paper's drops, then every target and whether it holds,
    as Markdown."""
    lines = [
        f"**Calibration of the synthetic benchmark against the paper's fixed rows "
        f"(known protocol, preset {preset})**",
        "",
        "| Row | top-1 (%) | drop (%) | paper's drop, UCF101 (%) | cMAP (%) | drop (%) "
        "| paper's drop, VISPR1 (%) | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    raw = stats.get(RAW.label, {})
    for row in ROWS:
        cells = [row.label]
        seeds: tuple[int, ...] = ()
        for metric in (TOP1, CMAP):
            s, r = stats.get(row.label, {}).get(metric), raw.get(metric)
            paper_raw, paper = paper_value(RAW, metric), paper_value(row, metric)
            paper_drop = "" if row is RAW else f"{relative_drop(paper_raw, paper):.1f}"
            if s is None:
                cells += ["-", "-", paper_drop]
                continue
            seeds = s.seeds
            drop = "" if row is RAW or r is None else f"{relative_drop(r.mean, s.mean):.1f}"
            cells += [f"{s.mean:.1f} ± {s.std:.1f}", drop, paper_drop]
        cells.append(", ".join(map(str, seeds)) or "-")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| Target | asks | measured | holds |", "|---|---|---|---|"]
    for c in checks:
        holds = "n/a" if c.holds is None else "yes" if c.holds else "**no**"
        lines.append(f"| {c.target} | {c.asks} | {c.measured} | {holds} |")
    return "\n".join(lines) + "\n"
