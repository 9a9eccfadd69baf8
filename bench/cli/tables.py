"""`bench table`: read records, never train; what every reader of records shares (the
figures are in `bench.cli.figures`, so a table never imports matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from bench.cli.common import (
    CacheDirOption,
    PluginOption,
    ResultsDirOption,
    console,
    load_plugins,
    results_root,
    user_errors,
    warn,
    warnings,
)
from bench.contract.atomic import atomic_write_text
from bench.orchestration.cell import Cell
from bench.reports.tables import build_table, check_format, render, table_spec
from bench.store.reading import RecordSet

PresetOption = Annotated[
    str | None,
    typer.Option(
        help="Read records of this preset (e.g. tiny); needed only when a dataset's records "
        "come from several."
    ),
]
FramesCacheOption = Annotated[
    Path | None,
    typer.Option(help="frames: where the dataset is cached; default $BENCH_CACHE_DIR."),
]


def load_records(folder: Path | None, preset: str | None) -> RecordSet:
    """The records of a results dir, warning about unreadable ones and about records of
    methods that are not registered (a plug-in given without `--plugin`); `--preset` checked.
    A results dir whose records/ is a file is an error, not an empty table."""
    loaded = RecordSet.load(results_root(folder))
    for reason in loaded.skipped:
        warnings.print(f"[yellow]skipped:[/] {escape(reason)}", soft_wrap=True)
    unknown = loaded.unregistered()
    if unknown:
        listed = ", ".join(f"{name} ({n})" for name, n in unknown.items())
        n = sum(unknown.values())
        warn(
            f"{n} record{'s' if n > 1 else ''} of methods not registered here left out: "
            f"{listed}; pass --plugin FILE for a plug-in's records"
        )
    loaded.check_preset(preset)
    return loaded


def print_notes(records: RecordSet) -> None:
    """What a reader chose for the user (e.g. which preset's records it shows)."""
    for note in records.notes:
        warn(note)


def write_text(text: str, out: Path | None) -> None:
    """`text` to the file `out` (folders created), or to stdout as is (no rich markup)."""
    if out is None:
        typer.echo(text, nl=False)
        return
    atomic_write_text(out, text)
    console.print(f"wrote {out}")


@user_errors
def table(
    number: Annotated[
        int,
        typer.Argument(
            help="The table: 1, 2, 3, 5, 6, 7 or 8 (the paper's), or 9 (the inversion attack, privbench's own)."
        ),
    ],
    format_: Annotated[
        str, typer.Option("--format", "-f", help="md, latex (booktabs) or csv (long form).")
    ] = "md",
    results_dir: ResultsDirOption = None,
    paper: Annotated[
        bool, typer.Option("--paper", help="Put the published numbers beside ours.")
    ] = False,
    preset: PresetOption = None,
    fragment: Annotated[
        bool, typer.Option("--fragment", help="LaTeX: only the table, not a whole document.")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
    plugin: PluginOption = None,
    chance: Annotated[
        bool,
        typer.Option(
            "--chance",
            help="Beside each cMAP, its chance-normalised value [c x]: (cMAP - chance) / (raw - "
            "chance) in %, chance read from each seed's private test split (synthetic data is "
            "rendered or read from the cache).",
        ),
    ] = False,
    cache_dir: CacheDirOption = None,
    cost: Annotated[
        bool,
        typer.Option(
            "--cost",
            help="Add the practicality columns: the anonymizer's parameters, GFLOP per frame and "
            "frames/s at the working size and at 320x240, from the records' measured cost.",
        ),
    ] = False,
) -> None:
    """Rebuild one of the paper's tables from the records, in the paper's layout (a method
    the paper lacks gets its own rows)."""
    check_format(format_)
    load_plugins(plugin)
    loaded = load_records(results_dir, preset)
    levels = None
    if chance:
        from bench.contract.config import PRESETS
        from bench.data.cache import ensure_cache_dir, resolve_cache_dir
        from bench.reports.chance import ChanceLevels

        cache = ensure_cache_dir(resolve_cache_dir(cache_dir))
        name = (preset or Cell.preset).split("[")[0]
        levels = ChanceLevels(PRESETS.get(name, PRESETS[Cell.preset]), cache)
    built = build_table(table_spec(number), loaded, paper, preset, levels, cost)
    print_notes(loaded)
    write_text(render(built, format_, fragment), out)


@user_errors
def calibrate(
    results_dir: ResultsDirOption = None,
    preset: PresetOption = None,
    cache_dir: CacheDirOption = None,
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
) -> None:
    """Measure the synthetic benchmark against its calibration targets (C1-C7): raw and the
    five fixed rows of Table 1 from the records, and the mean-colour reader on the data."""
    import tempfile

    from bench.contract.config import PRESETS
    from bench.contract.context import quiet_cpu_context
    from bench.contract.dataset import DATASETS
    from bench.data.cache import ensure_cache_dir, resolve_cache_dir
    from bench.reports.calibration import (
        calibration_checks,
        colour_giveaways,
        render_calibration,
    )
    from bench.reports.chance import chance_ap

    loaded = load_records(results_dir, preset)
    chosen = loaded.preset_for("synthetic", preset, Cell.preset, ("known",))
    print_notes(loaded)
    cache = ensure_cache_dir(resolve_cache_dir(cache_dir))
    with tempfile.TemporaryDirectory() as run_dir:
        ctx = quiet_cpu_context(
            PRESETS.get(chosen.split("[")[0], PRESETS[Cell.preset]), cache, Path(run_dir)
        )
        data = DATASETS.get("synthetic")().load("known", ctx)
        colours = colour_giveaways(data, ctx)
    checks, stats = calibration_checks(loaded, chosen, chance_ap(data), colours)
    write_text(render_calibration(checks, stats, chosen), out)
