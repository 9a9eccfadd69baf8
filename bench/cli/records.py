"""`bench records`: every stored record as one flat row (CSV, JSON lines or Parquet), for
pandas, spreadsheets or DuckDB."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from bench.cli.common import (
    DeviceOption,
    PluginOption,
    ResultsDirOption,
    console,
    load_plugins,
    user_errors,
)
from bench.cli.common import warnings as stderr
from bench.cli.tables import write_text
from bench.contract.atomic import atomic_write
from bench.contract.errors import BenchError
from bench.store.reading import FRAMES_MISSING, RecordSet, row_columns

FORMATS = ("csv", "jsonl", "parquet")


def csv_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """The rows as CSV with a header line; None is an empty cell."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def jsonl_text(rows: list[dict[str, Any]]) -> str:
    """One JSON object per line, columns in order."""
    return "".join(json.dumps(row) + "\n" for row in rows)


def write_parquet(found: RecordSet, out: Path) -> None:
    """The rows as a Parquet file (pandas with pyarrow); a column of mixed kinds (text in
    some rows, numbers in others) is stored as text."""
    try:
        import pyarrow  # noqa: F401  (pandas writes Parquet through it)
    except ImportError:
        raise BenchError(
            FRAMES_MISSING.format(what="--format parquet", package="pyarrow")
        ) from None
    frame = found.to_frame()
    for column in frame.columns:
        kinds = {type(v) for v in frame[column] if v is not None and v == v}  # v == v: not NaN
        if len(kinds - {int, float}) and len(kinds) > 1:
            frame[column] = [None if v is None else str(v) for v in frame[column]]
    atomic_write(out, lambda tmp: frame.to_parquet(tmp, index=False))


records_app = typer.Typer(
    help="Every record as one flat row (CSV, JSON lines, Parquet).",
    invoke_without_command=True,
    add_completion=False,
)


@records_app.callback(invoke_without_command=True)
@user_errors
def records(
    ctx: typer.Context,
    format_: Annotated[
        str, typer.Option("--format", "-f", help="csv, jsonl (JSON lines) or parquet.")
    ] = "csv",
    out: Annotated[
        Path | None, typer.Option(help="Write to this file (parquet: required), not stdout.")
    ] = None,
    results_dir: ResultsDirOption = None,
    plugin: PluginOption = None,
) -> None:
    """Every record as one flat row: key, method, param.NAME, protocol, dataset, preset, seed,
    evaluation models, metrics, ap.ATTRIBUTE, time.STAGE, fit key (a command given after
    `records` runs instead)."""
    if ctx.invoked_subcommand is not None:
        return
    if format_ not in FORMATS:
        raise BenchError(f"--format {format_}: must be one of {', '.join(FORMATS)}")
    if format_ == "parquet" and out is None:
        raise BenchError("--format parquet writes a binary file: give it with --out FILE")
    load_plugins(plugin)
    found = RecordSet.load(results_dir)
    for reason in found.skipped:
        stderr.print(f"[yellow]skipped:[/] {escape(reason)}", soft_wrap=True)
    if format_ == "parquet":
        assert out is not None
        write_parquet(found, out)
        console.print(f"wrote {escape(str(out))}")
        return
    rows = found.rows()
    columns = list(rows[0]) if rows else row_columns([])
    write_text(csv_text(rows, columns) if format_ == "csv" else jsonl_text(rows), out)


@records_app.command("merge")
@user_errors
def merge(
    other: Annotated[Path, typer.Argument(help="Another machine's results dir (records/, fits/).")],
    results_dir: ResultsDirOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would be merged; write nothing.")
    ] = False,
) -> None:
    """Bring another results dir's records and fits in; a key both hold with another result
    is a conflict: reported, never overwritten (exit 1)."""
    from bench.store.merge import merge_stores
    from bench.store.results import ResultsStore, open_store

    report = merge_stores(ResultsStore(other), open_store(results_dir), dry_run)
    for line in report.lines():
        console.print(escape(line), soft_wrap=True)
    if report.conflicts:
        raise typer.Exit(1)


@records_app.command("cost")
@user_errors
def cost(
    results_dir: ResultsDirOption = None,
    device: DeviceOption = "auto",
    plugin: PluginOption = None,
) -> None:
    """Measure and store the cost (parameters, FLOPs per frame, frames/s of anonymize()) of
    every record that has none, on this machine's device; a learned method's stored fA* is
    the network measured."""
    from bench.contract.context import select_device
    from bench.orchestration.costing import add_costs
    from bench.store.results import open_store

    load_plugins(plugin)
    store = open_store(results_dir)
    if not store.records_dir.is_dir():
        raise BenchError(
            f"no records in {store.root}: pass --results-dir with the results of your runs"
        )
    store.ensure_writable()
    report = add_costs(
        store, select_device(device), lambda what: console.print(f"measuring {what}")
    )
    for line in report.skipped:
        stderr.print(f"[yellow]skipped:[/] {escape(line)}", soft_wrap=True)
    console.print(
        f"cost added to {len(report.added)} record(s); {report.had} had one; "
        f"{len(report.skipped)} skipped"
    )
