"""`bench report`: every table and figure the records can feed, in one Markdown file, with
the cells still missing and the command that fills them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.contract.atomic import atomic_write_text
from bench.contract.config import ANONYMIZER_TRAINING_KEYS, resolve_preset
from bench.contract.errors import BenchError
from bench.contract.method import METHODS
from bench.orchestration.sweep import find_sweep, parse_sweep
from bench.reports.figure_kit import save_figure
from bench.reports.figure_specs import FIGURES, FigureRequest, FigureSpec
from bench.reports.published import PAPER_DIR
from bench.reports.table_specs import TABLES, Group, Row
from bench.reports.tables import (
    BuiltTable,
    Slot,
    build_table,
    render_latex,
    render_markdown,
    selector,
)
from bench.store.reading import RecordSet, RunView


@dataclass(frozen=True)
class MissingCell:
    """A (row, column group) of a table with no record, and what fills it."""

    row: Row
    group: Group
    fix: str


@functools.cache
def sweep_views(name: str) -> tuple[RunView, ...]:
    """The runs a shipped sweep file plans (without checking data roots)."""
    views = []
    for cell in parse_sweep(find_sweep(name)).cells:
        method = METHODS.get(cell.method)
        preset = dataclasses.asdict(resolve_preset(cell.preset, cell.overrides))
        if not method.trainable:  # as RunConfig.canonical stores it
            preset = {k: v for k, v in preset.items() if k not in ANONYMIZER_TRAINING_KEYS}
        params = method.cell_params(dict(cell.params), cell.dataset)
        views.append(
            RunView.of(
                cell.method, params, cell.protocol, cell.dataset, preset, cell.seed, cell.evaluation
            )
        )
    return tuple(views)


def run_command(row: Row, slot: Slot) -> str:
    """The `bench run` line that records (row, slot)."""
    options = [f"--{key} {value}" for key, value in row.params.items()]
    for key, value in slot.column.evaluation.items():
        options.append(f"--{key.replace('_', '-')} {value}")
    options += [f"--protocol {slot.column.protocol}", f"--dataset {slot.group.dataset}"]
    name, _, changes = slot.preset.partition("[")
    options.append(f"--preset {name}")
    options += [f"--set {change}" for change in changes.rstrip("]").split()]
    if slot.group.dataset != "synthetic":
        options.append("--data-root NAME=DIR ...")
    return f"bench run --method {row.method} " + " ".join(options)


def fill_command(row: Row, slot: Slot) -> str:
    """The group's sweep when it plans this cell, else the `bench run` line."""
    wanted = selector(row, slot.group, slot.column)
    if any(wanted.matches(view, slot.preset) for view in sweep_views(slot.group.sweep)):
        data = " --data-root NAME=DIR ..." if slot.group.dataset != "synthetic" else ""
        return f"bench sweep {slot.group.sweep}{data}"
    return run_command(row, slot)


def missing_cells(table: BuiltTable) -> list[MissingCell]:
    """The shown (row, group) pairs of methods privbench has where a column has no record."""
    missing: dict[tuple[int, str], MissingCell] = {}
    for (i, j), cell in sorted(table.cells.items()):
        row, slot = table.rows[i], table.slots[j]
        if cell.ours is None and slot.group.dataset and row.method in METHODS.names():
            missing.setdefault(
                (i, slot.group.title), MissingCell(row, slot.group, fill_command(row, slot))
            )
    return list(missing.values())


def missing_section(table: BuiltTable) -> list[str]:
    """Markdown lines: what is missing from `table` and the commands that fill it."""
    fed = any(c.ours for c in table.cells.values())
    by_fix: dict[tuple[str, str], list[str]] = {}
    for m in missing_cells(table) if fed else []:
        by_fix.setdefault((m.group.title, m.fix), []).append(m.row.label)
    lines = [
        f"- {group}: no record for {', '.join(rows)}: `{fix}`"
        for (group, fix), rows in by_fix.items()
    ]
    shown = {slot.group.title for slot in table.slots} if fed else set()
    unfed: dict[str, list[str]] = {}
    for group in table.spec.groups:
        if group.title in shown:
            continue
        if not group.dataset:
            how = "no privbench setting yet (published numbers only)"
        elif group.dataset == "synthetic":
            how = f"no records: `bench sweep {group.sweep}`"
        else:
            how = f"no records: `bench sweep {group.sweep} --data-root NAME=DIR ...` (real data)"
        unfed.setdefault(how, []).append(group.title)
    lines += [f"- {', '.join(titles)}: {how}" for how, titles in unfed.items()]
    return lines


FigureMaker = Callable[[RecordSet, Path], list[Path]]


def report_figures(
    records: RecordSet, preset: str | None, cache_dir: Path | None, formats: tuple[str, ...]
) -> dict[str, FigureMaker]:
    """The report's figures (each `FIGURES` entry's sections) for each dataset that has
    records (synthetic first)."""
    datasets = sorted({v.dataset for v in records.views}, key=lambda d: (d != "synthetic", d))
    makers: dict[str, FigureMaker] = {}
    for dataset in datasets or ["synthetic"]:
        for spec in FIGURES.values():
            for title, protocol in spec.report:
                request = FigureRequest(dataset, protocol, preset, cache_dir)

                def make(
                    found: RecordSet,
                    folder: Path,
                    spec: FigureSpec = spec,
                    request: FigureRequest = request,
                ) -> list[Path]:
                    drawn = spec.draw(found, request)
                    stem = spec.stem(request.protocol, request.dataset)
                    return save_figure(drawn, folder / stem, formats)

                makers[title if dataset == "synthetic" else f"{title}, {dataset}"] = make
    return makers


def check_folder(folder: Path, what: str) -> None:
    """A BenchError naming the fix when `folder` (or a folder above it) is a file, so that
    `what` cannot be written into it; nothing is created."""
    for path in (folder, *folder.parents):
        if path.exists():
            if not path.is_dir():
                raise BenchError(
                    f"cannot write {what}: '{path}' is a file, not a folder; move it away or "
                    "pass --out to another folder"
                )
            return


def write_report(
    records: RecordSet,
    out_dir: Path,
    figures: dict[str, FigureMaker],
    preset: str | None = None,
) -> Path:
    """Write report.md, tables/ (md and LaTeX) and figures/ under `out_dir`; the report's path.
    A BenchError, before anything is written, when one of them cannot be (a file where a
    folder goes, or the reverse)."""
    tables_dir, figures_dir = out_dir / "tables", out_dir / "figures"
    for folder in (out_dir, tables_dir, figures_dir):
        check_folder(folder, "the report")
    if (out_dir / "report.md").is_dir():
        raise BenchError(
            f"cannot write the report: '{out_dir / 'report.md'}' is a folder; move it away "
            "or pass --out to another folder"
        )
    try:
        tables_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchError(
            f"cannot write the report into '{out_dir}' ({exc.strerror}); pass --out to a "
            "writable folder"
        ) from None
    root = records.root or Path(".")
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    lines = [
        "# privbench report",
        "",
        f"{len(records.records)} records from `{root}`, generated {now}.",
        "",
        "## Tables",
    ]
    for number, spec in TABLES.items():
        built = build_table(
            spec, records, with_paper=PAPER_DIR is not None and PAPER_DIR.is_dir(), preset=preset
        )
        has_ours = any(c.ours for c in built.cells.values())
        lines += ["", f"### Table {number}", ""]
        if has_ours:
            markdown = render_markdown(built)
            atomic_write_text(tables_dir / f"table{number}.md", markdown)
            atomic_write_text(tables_dir / f"table{number}.tex", render_latex(built))
            lines.append(markdown)
        else:
            lines.append(f"No records feed Table {number} ({spec.caption}).")
            lines.append("")
        lines += missing_section(built)
    lines += ["", "## Figures"]
    for name, make in figures.items():
        lines += ["", f"### {name}", ""]
        try:
            paths = make(records, figures_dir)
        except BenchError as exc:
            lines.append(f"Not drawn: {exc}")
            continue
        png = next(p for p in paths if p.suffix == ".png")
        lines.append(f"![{name}]({png.relative_to(out_dir).as_posix()})")
    path = out_dir / "report.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
