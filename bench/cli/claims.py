"""`bench claims`: the paper's claims, held or not, from the records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.cli.common import ResultsDirOption, user_errors
from bench.cli.tables import PresetOption, load_records, print_notes, write_text
from bench.contract.errors import BenchError
from bench.orchestration.cell import Cell
from bench.reports.claims import claims as decide_claims
from bench.reports.claims import render_claims


@user_errors
def claims(
    results_dir: ResultsDirOption = None,
    preset: PresetOption = None,
    format_: Annotated[
        str, typer.Option("--format", help="markdown (a table) or text (one claim a block).")
    ] = "markdown",
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
) -> None:
    """Test the paper's claims on the synthetic records (B, lambda, SPAct, detached penalty,
    fixed baselines): held / not held, with mean +- std and paired differences over seeds."""
    if format_ not in ("markdown", "text"):
        raise BenchError(f"--format {format_}: must be markdown or text")
    loaded = load_records(results_dir, preset)
    chosen = loaded.preset_for("synthetic", preset, Cell.preset, ("known",))
    print_notes(loaded)
    write_text(render_claims(decide_claims(loaded, chosen), chosen, format_), out)
