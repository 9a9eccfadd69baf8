"""The paper's claims, tested on the records (`bench claims`).

Each claim is stated as the paper states it, then decided from the records of the synthetic
benchmark's known protocol at one preset, with the mean +- std over seeds of every cell it
reads and a paired comparison over the seeds both cells share (a seed fixes the data and the
models, so the pairs are the same draw): the mean difference, its std and Student's t with
n - 1 degrees of freedom, significant at the two-sided 5 % level. A claim with too few
records to decide is "not measured", never held.

Numbers are in percent (top-1 and cMAP); "balance" is top-1 minus cMAP, in points (higher:
more action kept and less privacy leaked), the single number the paper's "best balance"
compares.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.reports.calibration import SPEARMAN_MIN, paper_value, spearman
from bench.reports.table_specs import FIXED, OURS, RAW, SPACT, VITA, Row
from bench.store.reading import METRIC_SCALE, RecordSet, Stat

TOP1, CMAP = "action_top1", "privacy_cmap"
BALANCE = "balance"
B_ROWS = OURS  # B = 0.3, 0.5, 0.7, 0.9
LAMBDA_0 = Row("Ours (B = 0.3, λ = 0)", "penalty", {"B": 0.3, "lam": 0.0})
DETACHED = Row("Ours (B = 0.3, detached)", "penalty", {"B": 0.3, "penalty_grad": "detached"})
LEARNED = (VITA, SPACT, *OURS)
# privacy "about constant" across B: the means of the B rows lie within this many points
CONSTANT_RANGE = 2.0
# lambda = 0 "equals" SPAct: both paired mean differences at most this many points
EQUAL_WITHIN = 2.0
# Student's t, two-sided 5 %, by degrees of freedom (1-10)
T_CRITICAL = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)


@dataclass(frozen=True)
class Paired:
    """`a - b` over the seeds both have: mean, sample std, Student's t, seeds."""

    mean: float
    std: float
    t: float
    seeds: tuple[int, ...]

    @property
    def significant(self) -> bool:
        """Whether the difference is significant at the two-sided 5 % level."""
        n = len(self.seeds)
        return 1 < n <= len(T_CRITICAL) + 1 and abs(self.t) > T_CRITICAL[n - 2]

    def text(self, unit: str = "") -> str:
        """'+3.2 +- 1.1 (t = 5.0, 3 seeds, significant)'."""
        verdict = "significant" if self.significant else "not significant"
        t = "inf" if math.isinf(self.t) else f"{self.t:.1f}"
        return (
            f"{self.mean:+.1f} +- {self.std:.1f}{unit} (t = {t}, {len(self.seeds)} seeds, "
            f"{verdict} at 5 %)"
        )


@dataclass(frozen=True)
class Claim:
    """One claim: what the paper says, how it is decided here, the evidence and the verdict
    (None: not measured, the records it needs are missing)."""

    claim: str
    rule: str
    evidence: str
    holds: bool | None


class Cells:
    """Per-seed values of the claims' cells, in percent, from the records at one preset."""

    def __init__(self, records: RecordSet, preset: str) -> None:
        self.records = records
        self.preset = preset

    def values(self, row: Row, metric: str) -> dict[int, float]:
        """Seed -> value of `metric` (or `balance`) for `row`'s known-protocol runs."""
        if metric == BALANCE:
            top1, cmap = self.values(row, TOP1), self.values(row, CMAP)
            return {s: top1[s] - cmap[s] for s in top1 if s in cmap}
        selected = self.records.select(row.selector("known", "synthetic"), self.preset)
        scale = METRIC_SCALE[metric]
        return {int(r["seed"]): float(r["metrics"][metric]) * scale for r in selected}

    def stat(self, row: Row, metric: str) -> Stat | None:
        """Mean and std over seeds; None without runs."""
        return Stat.of(self.values(row, metric))

    def paired(self, a: Row, b: Row, metric: str) -> Paired | None:
        """`a - b` over their shared seeds; None with fewer than two."""
        va, vb = self.values(a, metric), self.values(b, metric)
        seeds = tuple(sorted(set(va) & set(vb)))
        if len(seeds) < 2:
            return None
        diffs = [va[s] - vb[s] for s in seeds]
        mean, std = statistics.fmean(diffs), statistics.stdev(diffs)
        t = mean / (std / math.sqrt(len(diffs))) if std > 0 else math.copysign(math.inf, mean)
        return Paired(mean, std, t if mean else 0.0, seeds)


def _stat_text(stat: Stat | None) -> str:
    return "-" if stat is None else f"{stat.mean:.1f} +- {stat.std:.1f} (n={stat.n})"


def _means(cells: Cells, rows: Sequence[Row], metric: str) -> dict[str, Stat] | None:
    stats = {row.label: cells.stat(row, metric) for row in rows}
    if any(s is None for s in stats.values()):
        return None
    return {k: s for k, s in stats.items() if s is not None}


def claims(records: RecordSet, preset: str) -> list[Claim]:
    """Every claim, decided from `records` at `preset` (see the module's docstring)."""
    cells = Cells(records, preset)
    return [
        _action_rises(cells),
        _privacy_constant(cells),
        _lambda_zero(cells),
        _best_balance(cells),
        _penalty_beats_learned(cells),
        _differentiable(cells),
        _against_fixed(cells),
        _ranks_as_the_paper(cells),
    ]


def _missing(cells: Cells, claim: str, rule: str, rows: Sequence[Row]) -> Claim:
    """A claim that cannot be decided: which of its rows lack records (fewer than two
    seeds), or, when each has some, that they share fewer than two seeds."""
    lacking = [r.label for r in rows if len(cells.values(r, TOP1) or cells.values(r, CMAP)) < 2]
    why = (
        "missing records (fewer than two seeds) of " + ", ".join(lacking)
        if lacking
        else "fewer than two seeds shared by " + ", ".join(r.label for r in rows)
    )
    return Claim(claim, rule, why, None)


def _action_rises(cells: Cells) -> Claim:
    claim = "Action rises as B falls (B = 0.9 -> 0.3)"
    rule = "top-1 means non-increasing in B, and B = 0.3 above B = 0.9 (paired, significant)"
    means = _means(cells, B_ROWS, TOP1)
    pair = cells.paired(B_ROWS[0], B_ROWS[-1], TOP1)
    if means is None or pair is None:
        return _missing(cells, claim, rule, B_ROWS)
    values = [s.mean for s in means.values()]
    monotone = all(a >= b for a, b in zip(values, values[1:], strict=False))
    evidence = "; ".join(f"{k}: {_stat_text(s)}" for k, s in means.items())
    evidence += f". B = 0.3 - B = 0.9: {pair.text(' pt')}"
    return Claim(claim, rule, evidence, monotone and pair.mean > 0 and pair.significant)


def _privacy_constant(cells: Cells) -> Claim:
    claim = "Privacy leakage about constant across B"
    rule = f"cMAP means of the four B rows within {CONSTANT_RANGE:g} points"
    means = _means(cells, B_ROWS, CMAP)
    if means is None:
        return _missing(cells, claim, rule, B_ROWS)
    span = max(s.mean for s in means.values()) - min(s.mean for s in means.values())
    evidence = "; ".join(f"{k}: {_stat_text(s)}" for k, s in means.items())
    evidence += f". Range {span:.1f} points"
    return Claim(claim, rule, evidence, span <= CONSTANT_RANGE)


def _lambda_zero(cells: Cells) -> Claim:
    claim = "lambda = 0 (no penalty) falls to SPAct's level"
    rule = f"paired |difference| from SPAct <= {EQUAL_WITHIN:g} points on top-1 and on cMAP"
    top1, cmap = cells.paired(LAMBDA_0, SPACT, TOP1), cells.paired(LAMBDA_0, SPACT, CMAP)
    if top1 is None or cmap is None:
        return _missing(cells, claim, rule, (LAMBDA_0, SPACT))
    evidence = (
        f"top-1 {_stat_text(cells.stat(LAMBDA_0, TOP1))} vs {_stat_text(cells.stat(SPACT, TOP1))}"
        f", difference {top1.text(' pt')}; cMAP {_stat_text(cells.stat(LAMBDA_0, CMAP))} vs "
        f"{_stat_text(cells.stat(SPACT, CMAP))}, difference {cmap.text(' pt')}"
    )
    holds = abs(top1.mean) <= EQUAL_WITHIN and abs(cmap.mean) <= EQUAL_WITHIN
    return Claim(claim, rule, evidence, holds)


def _best_balance(cells: Cells) -> Claim:
    claim = "B = 0.3 strikes the best balance among B = 0.3-0.9"
    rule = "B = 0.3 has the highest mean balance (top-1 - cMAP) of the four B rows"
    means = _means(cells, B_ROWS, BALANCE)
    if means is None:
        return _missing(cells, claim, rule, B_ROWS)
    best = max(means, key=lambda k: means[k].mean)
    evidence = "; ".join(f"{k}: {_stat_text(s)}" for k, s in means.items())
    runner_up = max((r for r in B_ROWS[1:]), key=lambda r: means[r.label].mean)
    pair = cells.paired(B_ROWS[0], runner_up, BALANCE)
    if pair is not None:
        evidence += f". B = 0.3 - {runner_up.label}: {pair.text(' pt')}"
    return Claim(claim, rule, evidence, best == B_ROWS[0].label)


def _penalty_beats_learned(cells: Cells) -> Claim:
    claim = "B = 0.3 keeps more action than SPAct and VITA at similar privacy"
    rule = (
        "top-1 above each (paired, significant) and cMAP no more than "
        f"{EQUAL_WITHIN:g} points above each"
    )
    parts, verdicts = [], []
    for other in (SPACT, VITA):
        top1 = cells.paired(B_ROWS[0], other, TOP1)
        cmap = cells.paired(B_ROWS[0], other, CMAP)
        if top1 is None or cmap is None:
            return _missing(cells, claim, rule, (B_ROWS[0], other))
        parts.append(f"vs {other.label}: top-1 {top1.text(' pt')}, cMAP {cmap.text(' pt')}")
        verdicts.append(top1.mean > 0 and top1.significant and cmap.mean <= EQUAL_WITHIN)
    return Claim(claim, rule, "; ".join(parts), all(verdicts))


def _differentiable(cells: Cells) -> Claim:
    claim = (
        "The differentiable penalty (ours) balances better than the detached one (official code)"
    )
    rule = "paired balance difference > 0"
    pairs = {m: cells.paired(B_ROWS[0], DETACHED, m) for m in (TOP1, CMAP, BALANCE)}
    if any(p is None for p in pairs.values()):
        return _missing(cells, claim, rule, (B_ROWS[0], DETACHED))
    evidence = "; ".join(
        f"{name}: {p.text(' pt')}"
        for name, p in zip(("top-1", "cMAP", "balance"), pairs.values(), strict=True)
        if p is not None
    )
    balance = pairs[BALANCE]
    assert balance is not None
    return Claim(claim, rule, evidence, balance.mean > 0)


def dominates(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    """Whether `a` is at least as good as `b` on both axes (top-1 up, cMAP down) and better
    on one."""
    return a[TOP1] >= b[TOP1] and a[CMAP] <= b[CMAP] and (a[TOP1] > b[TOP1] or a[CMAP] < b[CMAP])


def _against_fixed(cells: Cells) -> Claim:
    claim = "The learned methods beat the fixed obfuscations on the (top-1, cMAP) plane"
    rule = (
        "no fixed row dominates B = 0.3 (means over >= 2 seeds); what each learned row "
        "dominates is listed"
    )
    points: dict[str, dict[str, float]] = {}
    for row in (RAW, *FIXED, *LEARNED):
        top1, cmap = cells.stat(row, TOP1), cells.stat(row, CMAP)
        if top1 is not None and cmap is not None:
            points[row.label] = {TOP1: top1.mean, CMAP: cmap.mean}
    ours_stat = cells.stat(B_ROWS[0], TOP1)
    if ours_stat is None or ours_stat.n < 2 or not any(r.label in points for r in FIXED):
        return _missing(cells, claim, rule, (B_ROWS[0], *FIXED))
    lines = []
    for row in LEARNED:
        if row.label not in points:
            continue
        mine = points[row.label]
        beats = [f.label for f in FIXED if f.label in points and dominates(mine, points[f.label])]
        beaten = [f.label for f in FIXED if f.label in points and dominates(points[f.label], mine)]
        lines.append(
            f"{row.label} ({mine[TOP1]:.1f}, {mine[CMAP]:.1f}) dominates "
            f"{', '.join(beats) or 'none'}; dominated by {', '.join(beaten) or 'none'}"
        )
    ours = points[B_ROWS[0].label]
    held = not any(dominates(points[f.label], ours) for f in FIXED if f.label in points)
    return Claim(claim, rule, "; ".join(lines), held)


def _ranks_as_the_paper(cells: Cells) -> Claim:
    claim = "Table 1 ranks its rows as the paper's does (not a claim of the paper: the benchmark's)"
    rule = (
        f"Spearman rank correlation of the row means with the paper's Table 1 (UCF101 top-1, "
        f"VISPR1 cMAP), every row, >= {SPEARMAN_MIN:g} on both axes"
    )
    rows = (RAW, *FIXED, VITA, SPACT, *OURS)
    found, held = [], True
    for metric in (TOP1, CMAP):
        stats = _means(cells, rows, metric)
        if stats is None:
            return _missing(cells, claim, rule, rows)
        rho = spearman([stats[r.label].mean for r in rows], [paper_value(r, metric) for r in rows])
        found.append(f"{metric}: {rho:+.2f} over {len(rows)} rows")
        held = held and rho >= SPEARMAN_MIN
    return Claim(claim, rule, "; ".join(found), held)


def render_claims(found: Sequence[Claim], preset: str, fmt: str = "markdown") -> str:
    """The claims as a Markdown table (or plain lines with fmt='text')."""
    verdict = {True: "held", False: "not held", None: "not measured"}
    if fmt == "text":
        return "\n".join(
            f"[{verdict[c.holds]}] {c.claim}\n    rule: {c.rule}\n    {c.evidence}" for c in found
        )
    lines = [
        f"Claims on the synthetic benchmark, known protocol, preset {preset}",
        "",
        "| Claim | Rule | Evidence (mean +- std over seeds; paired differences) | Verdict |",
        "|---|---|---|---|",
    ]
    lines += [f"| {c.claim} | {c.rule} | {c.evidence} | {verdict[c.holds]} |" for c in found]
    return "\n".join(lines)
