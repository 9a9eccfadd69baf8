"""The paper's tables rebuilt from records (specs in `bench.reports.table_specs`), as Markdown, LaTeX
or long-form CSV, optionally beside the published numbers."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace

from tabulate import tabulate

from bench.contract.errors import BenchError
from bench.contract.method import METHODS, params_text
from bench.reports.chance import Chance, normalised_stat
from bench.reports.costs import FOOTNOTE as COST_FOOTNOTE
from bench.reports.costs import HEADERS as COST_HEADERS
from bench.reports.costs import RowCost, row_cost
from bench.reports.published import PaperCell, PaperKey, paper_table, params_key
from bench.reports.table_specs import NO_DROP_METRICS, TABLES, Column, Group, Row, TableSpec
from bench.store.reading import METRIC_DECIMALS, RecordSet, Selector, Stat, full_params

FORMATS = ("md", "latex", "csv")
MISSING = "–"


@dataclass(frozen=True)
class BuiltCell:
    """One cell: our runs' value over seeds, its drop from raw, and the published number."""

    ours: Stat | None
    drop: float | None  # raw mean minus ours (positive: lower than raw), as the paper prints
    paper: PaperCell | None
    paired: bool = True  # whether `drop` compares with raw over the same seeds
    normalised: Stat | None = (
        None  # chance-normalised cMAP (%), with `chance` (bench table --chance)
    )


@dataclass(frozen=True)
class Slot:
    """A column of the rendered table: a spec column within its group."""

    group: Group
    column: Column
    preset: str


@dataclass(frozen=True)
class BuiltTable:
    """A table ready to render: the rows and columns shown and every cell's content."""

    spec: TableSpec
    rows: tuple[Row, ...]
    slots: tuple[Slot, ...]
    cells: dict[tuple[int, int], BuiltCell]  # (row index, slot index)
    with_paper: bool
    # with `cost` (bench table --cost): each row's anonymizer cost, None where unmeasured
    costs: tuple[RowCost | None, ...] | None = None

    def groups(self) -> list[tuple[Group, int]]:
        """The shown groups in order, each with how many columns it spans."""
        spans: list[tuple[Group, int]] = []
        for slot in self.slots:
            if spans and spans[-1][0] is slot.group:
                spans[-1] = (slot.group, spans[-1][1] + 1)
            else:
                spans.append((slot.group, 1))
        return spans


def table_spec(number: int) -> TableSpec:
    """The spec of Table `number`; an error naming the tables that exist."""
    if number not in TABLES:
        known = ", ".join(map(str, TABLES))
        raise BenchError(f"no Table {number} to build; the paper's result tables are {known}")
    return TABLES[number]


def selector(row: Row, group: Group, column: Column) -> Selector:
    """The runs that feed (row, column of group)."""
    return row.selector(column.protocol, group.dataset, column.evaluation)


def extra_rows(spec: TableSpec, records: RecordSet) -> tuple[Row, ...]:
    """A row per (method, non-default parameters) of the methods no paper table has, among the
    records of `spec`'s datasets and protocols: how a new method joins the paper's tables."""
    in_spec = {row.method for table in TABLES.values() for row in table.rows}
    datasets = {g.dataset for g in spec.groups}
    protocols = {c.protocol for g in spec.groups for c in g.columns}
    found: dict[str, Row] = {}
    for view in records.views:
        if view.method in in_spec:
            continue
        defaults = full_params(view.method, {}, view.dataset)
        if defaults is None:
            continue
        if view.dataset in datasets and view.protocol in protocols:
            changed = {k: v for k, v in view.params.items() if defaults.get(k) != v}
            shown = params_text(changed, ", ")
            label = f"{view.method} ({shown})" if shown else view.method
            if METHODS.get(view.method).reference:
                label += " [reference, not a baseline]"
            found[label] = Row(label, view.method, changed)
    return tuple(found[label] for label in sorted(found))


def build_table(
    spec: TableSpec,
    records: RecordSet,
    with_paper: bool = False,
    preset: str | None = None,
    chance: Chance | None = None,
    cost: bool = False,
) -> BuiltTable:
    """Fill `spec` from `records`. Shown: the groups that records feed (when none is fed, the
    real-data groups under `with_paper`, else the synthetic ones); the rows of methods
    privbench has, plus published-only rows under `with_paper`; and a row per setting of any
    other method (a new baseline, a plug-in) with records under the table's protocols. With
    `chance`, every cMAP cell also gets its chance-normalised value (`reports.chance`); with
    `cost`, every row its anonymizer's cost (`reports.costs`)."""
    with_paper = with_paper and spec.published  # privbench's own tables have no paper column
    published = paper_table(spec.number) if with_paper else {}
    rows = (*spec.rows, *extra_rows(spec, records))
    protocols = {c.protocol for g in spec.groups for c in g.columns}
    presets = {
        g.dataset: records.preset_for(g.dataset, preset, g.preset, protocols)
        for g in spec.groups
        if g.dataset
    }
    all_slots = [
        Slot(g, c, presets.get(g.dataset, g.preset)) for g in spec.groups for c in g.columns
    ]
    cells = {
        (r, s): _cell(rows[r], slot, records, published)
        for r in range(len(rows))
        for s, slot in enumerate(all_slots)
    }
    if chance is not None:
        for (r, s), cell in cells.items():
            if cell.ours is not None and all_slots[s].column.metric == "privacy_cmap":
                found = _normalised(rows[r], all_slots[s], records, chance)
                cells[r, s] = replace(cell, normalised=found)
    fed = {slot.group.title for (_, s), c in cells.items() if c.ours for slot in [all_slots[s]]}
    if not fed:  # nothing recorded: the paper's own datasets with --paper, else the synthetic
        fed = {g.title for g in spec.groups if (g.dataset != "synthetic") == with_paper}
    shown_slots = [s for s, slot in enumerate(all_slots) if slot.group.title in fed]
    shown_rows = [
        r
        for r, row in enumerate(rows)
        if row.method in METHODS.names() or any(cells[r, s].paper for s in shown_slots)
    ]
    slots = [all_slots[s] for s in shown_slots]
    costs = tuple(_row_cost(rows[r], slots, records) for r in shown_rows) if cost else None
    return BuiltTable(
        spec,
        tuple(rows[r] for r in shown_rows),
        tuple(all_slots[s] for s in shown_slots),
        {(i, j): cells[r, s] for i, r in enumerate(shown_rows) for j, s in enumerate(shown_slots)},
        with_paper,
        costs,
    )


def _cell(
    row: Row, slot: Slot, records: RecordSet, published: dict[PaperKey, PaperCell]
) -> BuiltCell:
    column = slot.column
    key = PaperKey(
        row.method,
        params_key(row.params),
        column.paper_dataset,
        column.metric,
        column.paper_arch,
        column.paper_init,
    )
    paper = published.get(key)
    if not slot.group.dataset:
        return BuiltCell(None, None, paper)
    chosen = selector(row, slot.group, column)
    ours = records.stat(chosen, column.metric, slot.preset)
    if ours is None or row.method == "raw" or column.metric in NO_DROP_METRICS:
        return BuiltCell(ours, None, paper)
    reference = chosen.with_method("raw", {})
    raw = records.stat(reference, column.metric, slot.preset, ours.seeds)
    paired = raw is not None and raw.n == ours.n
    if not paired:  # raw lacks some of these seeds: compare with what it has
        raw = records.stat(reference, column.metric, slot.preset)
    drop = None if raw is None else raw.mean - ours.mean
    return BuiltCell(ours, drop, paper, paired or raw is None)


def _row_cost(row: Row, slots: list[Slot], records: RecordSet) -> RowCost | None:
    """The cost of `row`'s anonymizer over its records in the shown columns."""
    return row_cost(
        record
        for slot in slots
        if slot.group.dataset
        for record in records.select(selector(row, slot.group, slot.column), slot.preset)
    )


def _normalised(row: Row, slot: Slot, records: RecordSet, chance: Chance) -> Stat | None:
    """Chance-normalised cMAP (%) of the cell, per seed against raw's run of that seed."""
    return normalised_stat(records, selector(row, slot.group, slot.column), slot.preset, chance)


def format_ours(cell: BuiltCell, metric: str) -> str:
    """'97.50 ± 1.20 (↓ 1.67)': mean, std over seeds when several, drop from raw."""
    if cell.ours is None:
        return MISSING
    digits = METRIC_DECIMALS[metric]
    text = f"{cell.ours.mean:.{digits}f}"
    if cell.ours.n > 1:
        text += f" ± {cell.ours.std:.{digits}f}"
    if cell.drop is not None:
        arrow = "↑" if round(cell.drop, digits) < 0 else "↓"  # 0.00 prints as a drop
        text += f" ({arrow} {abs(cell.drop):.{digits}f}{'' if cell.paired else '*'})"
    if cell.normalised is not None:
        norm = cell.normalised
        text += f" [c {norm.mean:.1f}" + (f" ± {norm.std:.1f}]" if norm.n > 1 else "]")
    return text


def format_paper(cell: BuiltCell) -> str:
    """The published number and its drop, as printed; '†' marks a cell with a noted oddity."""
    if cell.paper is None:
        return MISSING
    text = cell.paper.printed
    if cell.paper.printed_drop:
        text += f" (↓ {cell.paper.printed_drop})"
    return text + (" †" if cell.paper.note else "")


def _body(table: BuiltTable) -> list[list[str]]:
    rows = []
    for i, row in enumerate(table.rows):
        line = [row.label]
        for j, slot in enumerate(table.slots):
            line.append(format_ours(table.cells[i, j], slot.column.metric))
            if table.with_paper:
                line.append(format_paper(table.cells[i, j]))
        if table.costs is not None:
            found = table.costs[i]
            line.extend(found.cells() if found is not None else [MISSING] * len(COST_HEADERS))
        rows.append(line)
    return rows


def _caption(table: BuiltTable) -> str:
    return f"Table {table.spec.number}: {table.spec.caption}"


def footnotes(table: BuiltTable) -> list[str]:
    """What a reader needs beside the numbers: units, sources, presets and seeds, oddities."""
    notes = [
        "Top-1 and cMAP in %, F1 as a fraction; (↓ x) is the drop from raw data over the same "
        "seeds (raw minus value, as the paper prints it); "
        f"{MISSING} marks a cell with no record.",
    ]
    if not table.spec.published:
        notes.append(
            "privbench's own table: the paper has none like it, so there are no published "
            "numbers beside ours (see docs/records-and-tables.md)."
        )
    if any(c.normalised is not None for c in table.cells.values()):
        notes.append(
            "[c x]: chance-normalised cMAP, (cMAP - chance) / (raw cMAP - chance) in %, per seed "
            "against raw's run of that seed (100: raw, 0: chance); chance is the mean "
            "prevalence of the attributes in that seed's private test split."
        )
    if table.costs is not None:
        devices = sorted({d for c in table.costs if c is not None for d in c.devices})
        notes.append(
            COST_FOOTNOTE.format(devices=", ".join(devices) or "no device", missing=MISSING)
        )
    if any(not c.paired for c in table.cells.values()):
        notes.append(
            "A starred drop (x*): raw has no run of some of the cell's seeds, so the drop is "
            "from raw's mean over the seeds it has."
        )
    seeds = sorted({s for c in table.cells.values() if c.ours for s in c.ours.seeds})
    if seeds:
        read = sorted({f"{s.group.dataset} at preset {s.preset}" for s in table.slots})
        notes.append(
            f"Ours: records of {'; '.join(read)}; seeds {', '.join(map(str, seeds))} "
            "(mean ± sample std where a cell has several)."
        )
    if table.with_paper:
        notes.append(
            "Paper: the published numbers beside ours (results/paper/); synthetic groups are "
            "compared with the paper's corresponding real-data columns."
        )
        seen = set()
        for (i, j), cell in sorted(table.cells.items()):
            if cell.paper and cell.paper.note and cell.paper.note not in seen:
                seen.add(cell.paper.note)
                slot = table.slots[j]
                where = f"{table.rows[i].label}, {slot.column.paper_dataset} {slot.column.label}"
                notes.append(f"† {where}: {cell.paper.note}")
    return notes


def render_markdown(table: BuiltTable) -> str:
    """A GitHub-flavoured Markdown table with its caption and footnotes."""
    headers = ["Method"]
    for slot in table.slots:
        headers.append(f"{slot.group.title} · {slot.column.label}")
        if table.with_paper:
            headers.append(f"paper {slot.column.paper_dataset} · {slot.column.label}")
    if table.costs is not None:
        headers.extend(COST_HEADERS)
    body = tabulate(_body(table), headers, tablefmt="github", disable_numparse=True)
    notes = "\n".join(f"- {n}" for n in footnotes(table))
    return f"**{_caption(table)}**\n\n{body}\n\n{notes}\n"


LATEX_REPLACEMENTS = (
    ("\\", r"\textbackslash{}"),
    ("&", r"\&"),
    ("%", r"\%"),
    ("_", r"\_"),
    ("#", r"\#"),
    ("↑", r"$\uparrow$"),
    ("↓", r"$\downarrow$"),
    ("±", r"$\pm$"),
    ("→", r"$\rightarrow$"),
    ("λ", r"$\lambda$"),
    ("†", r"$^\dagger$"),
    ("·", r"\textperiodcentered{}"),
    (MISSING, "--"),
)


def latex_text(text: str) -> str:
    """Plain text made safe for LaTeX; the tables' symbols become math-mode commands."""
    for plain, latex in LATEX_REPLACEMENTS:
        text = text.replace(plain, latex)
    return text


def render_latex(table: BuiltTable, fragment: bool = False) -> str:
    """A booktabs table; a complete document unless `fragment` (needs only booktabs)."""
    per = 2 if table.with_paper else 1
    extra = len(COST_HEADERS) if table.costs is not None else 0
    n_cols = len(table.slots) * per + extra
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        rf"\caption{{{latex_text(_caption(table))}}}",
        rf"\label{{tab:privbench-{table.spec.number}}}",
        r"\begin{tabular}{l" + "r" * n_cols + "}",
        r"\toprule",
    ]
    heads, rules, start = [""], [], 2
    for group, span in table.groups():
        width = span * per
        heads.append(rf"\multicolumn{{{width}}}{{c}}{{{latex_text(group.title)}}}")
        rules.append(rf"\cmidrule(lr){{{start}-{start + width - 1}}}")
        start += width
    if extra:
        heads.append(rf"\multicolumn{{{extra}}}{{c}}{{Cost}}")
        rules.append(rf"\cmidrule(lr){{{start}-{start + extra - 1}}}")
    lines += [" & ".join(heads) + r" \\", " ".join(rules)]
    labels = ["Method"]
    for slot in table.slots:
        label = latex_text(slot.column.label)
        labels.append(rf"\multicolumn{{2}}{{c}}{{{label}}}" if table.with_paper else label)
    if extra:
        labels.extend(latex_text(h) for h in COST_HEADERS)
    lines.append(" & ".join(labels) + r" \\")
    if table.with_paper:
        ours_paper = ["ours", "paper"] * len(table.slots)
        lines.append(" & ".join(["", *ours_paper, *[""] * extra]) + r" \\")
    lines.append(r"\midrule")
    for line in _body(table):
        lines.append(" & ".join(latex_text(x) for x in line) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\par\smallskip"]
    lines += [r"\footnotesize " + latex_text(n) + r"\par" for n in footnotes(table)]
    lines.append(r"\end{table}")
    body = "\n".join(lines) + "\n"
    if fragment:
        return f"% needs \\usepackage{{booktabs}}\n{body}"
    return (
        "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage{booktabs}\n"
        "\\usepackage[margin=1cm,landscape]{geometry}\n\\begin{document}\n"
        f"{body}\\end{{document}}\n"
    )


CSV_FIELDS = (
    "table", "row", "method", "params", "group", "dataset", "preset", "protocol", "column",
    "metric", "source", "mean", "std", "n", "drop", "chance_normalised", "note",
)  # fmt: skip
COST_FIELDS = ("parameters", "gflops_per_frame", "fps", "fps_320x240")  # with --cost


def render_csv(table: BuiltTable) -> str:
    """Long form: one line per (row, column, source), ours and (with --paper) the paper's."""
    out = io.StringIO()
    fields = (*CSV_FIELDS, *(COST_FIELDS if table.costs is not None else ()))
    writer = csv.DictWriter(out, fields, lineterminator="\n")
    writer.writeheader()
    for (i, j), cell in sorted(table.cells.items()):
        row, slot = table.rows[i], table.slots[j]
        base = {
            "table": table.spec.number,
            "row": row.label,
            "method": row.method,
            "params": ";".join(f"{k}={v}" for k, v in row.params.items()),
            "group": slot.group.title,
            "dataset": slot.group.dataset,
            "preset": slot.preset,
            "protocol": slot.column.protocol,
            "column": slot.column.label,
            "metric": slot.column.metric,
        }
        cost = table.costs[i] if table.costs is not None else None
        if cell.ours is not None:
            writer.writerow(
                {
                    **base,
                    **(_cost_fields(cost) if cost is not None else {}),
                    "source": "ours",
                    "mean": f"{cell.ours.mean:.6g}",
                    "std": f"{cell.ours.std:.6g}",
                    "n": cell.ours.n,
                    "drop": "" if cell.drop is None else f"{cell.drop:.6g}",
                    "chance_normalised": ""
                    if cell.normalised is None
                    else f"{cell.normalised.mean:.6g}",
                }
            )
        if table.with_paper and cell.paper is not None:
            writer.writerow(
                {
                    **base,
                    "dataset": slot.column.paper_dataset,
                    "preset": "",
                    "source": "paper",
                    "mean": cell.paper.printed,
                    "drop": cell.paper.printed_drop,
                    "note": cell.paper.note,
                }
            )
    return out.getvalue()


def _cost_fields(cost: RowCost) -> dict[str, str]:
    values = (
        str(cost.parameters),
        *(f"{v:.6g}" for v in (cost.gflops_per_frame, cost.fps, cost.fps_320x240)),
    )
    return dict(zip(COST_FIELDS, values, strict=True))


RENDERERS = {"md": render_markdown, "latex": render_latex, "csv": render_csv}


def check_format(fmt: str) -> None:
    """An error unless `fmt` is one of FORMATS."""
    if fmt not in FORMATS:
        raise BenchError(f"--format {fmt}: must be one of {', '.join(FORMATS)}")


def render(table: BuiltTable, fmt: str, fragment: bool = False) -> str:
    """`table` in one of FORMATS (`fragment`: LaTeX without the document around it)."""
    check_format(fmt)
    return render_latex(table, fragment) if fmt == "latex" else RENDERERS[fmt](table)
