"""`bench figure` and `bench report`: read records, never train."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.cli.common import (
    CacheDirOption,
    PluginOption,
    ResultsDirOption,
    console,
    load_plugins,
    refuse_store_folder,
    user_errors,
)
from bench.cli.tables import FramesCacheOption, PresetOption, load_records, print_notes
from bench.contract.dataset import DATASETS
from bench.contract.errors import BenchError
from bench.orchestration.cell import Cell
from bench.reports.figure_kit import save_figure
from bench.reports.figure_specs import FIGURES, FigureRequest, figure_spec
from bench.reports.report import check_folder, report_figures, write_report
from bench.store.reading import RecordSet


def output_folder(out: Path | None, loaded: RecordSet, what: str) -> Path:
    """Where `what` goes: `--out`, else the results dir; a BenchError when that is a file
    or inside the results store (records/, runs/, fits/, locks/)."""
    root = loaded.root or Path("results")
    folder = out if out is not None else root
    refuse_store_folder(folder, root)
    check_folder(folder, what)
    return folder


FIGURE_HELP = "; ".join(f"{name}: {spec.help}" for name, spec in FIGURES.items())


@user_errors
def figure(
    name: Annotated[str, typer.Argument(metavar="NAME", help=f"The figure. {FIGURE_HELP}.")],
    results_dir: ResultsDirOption = None,
    dataset: Annotated[str, typer.Option(help="Whose records to draw.")] = Cell.dataset,
    protocol: Annotated[
        str,
        typer.Option(
            help="pareto / curves / ablation: which protocol's records (inversion: "
            "inversion, the default, or inversion-novel)."
        ),
    ] = Cell.protocol,
    preset: PresetOption = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the files; default <results dir>/figures.")
    ] = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also write a PDF.")] = False,
    cache_dir: FramesCacheOption = None,
    plugin: PluginOption = None,
    cost: Annotated[
        bool,
        typer.Option("--cost", help="pareto: size each point by its anonymizer's FLOPs per frame."),
    ] = False,
) -> None:
    """Draw one of the paper's figures from the records (PNG, and PDF with --pdf)."""
    spec = figure_spec(name)
    load_plugins(plugin)
    DATASETS.get(dataset)  # an unknown name is an error, not an empty figure
    loaded = load_records(results_dir, preset)
    folder = output_folder(out, loaded, "the figure")
    if out is None:
        folder = folder / "figures"
        check_folder(folder, "the figure")
    protocol = spec.protocol_for(protocol)
    drawn = spec.draw(loaded, FigureRequest(dataset, protocol, preset, cache_dir, cost))
    print_notes(loaded)
    formats = ("png", "pdf") if pdf else ("png",)
    for path in save_figure(drawn, folder / spec.stem(protocol, dataset), formats):
        console.print(f"wrote {path}")


@user_errors
def report(
    results_dir: ResultsDirOption = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for report.md, tables/ and figures/; default the results dir."),
    ] = None,
    preset: PresetOption = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also write each figure as PDF.")] = False,
    cache_dir: FramesCacheOption = None,
    plugin: PluginOption = None,
) -> None:
    """One Markdown report: every table and figure the records feed, and what is missing."""
    load_plugins(plugin)
    loaded = load_records(results_dir, preset)
    formats = ("png", "pdf") if pdf else ("png",)
    makers = report_figures(loaded, preset, cache_dir, formats)
    path = write_report(loaded, output_folder(out, loaded, "the report"), makers, preset)
    print_notes(loaded)
    console.print(f"wrote {path}")


@user_errors
def leaderboard(
    out: Annotated[Path, typer.Option(help="Folder for the site (index.html and its pages).")],
    results_dir: ResultsDirOption = None,
    chance: Annotated[
        bool,
        typer.Option(
            "--chance/--no-chance",
            help="Chance-normalised cMAP beside cMAP (synthetic data is rendered or read from "
            "the cache to find each seed's chance level).",
        ),
    ] = True,
    cache_dir: CacheDirOption = None,
    plugin: PluginOption = None,
) -> None:
    """Write a static leaderboard site from the records: a page per (dataset, protocol,
    preset) with a sortable table, the action-privacy plane and AP per attribute; offline."""
    from bench.contract.config import PRESETS
    from bench.data.cache import ensure_cache_dir, resolve_cache_dir
    from bench.reports.chance import ChanceLevels
    from bench.reports.leaderboard import write_site

    load_plugins(plugin)
    loaded = RecordSet.load(results_dir)
    for reason in loaded.skipped:
        console.print(f"[yellow]skipped:[/] {reason}", soft_wrap=True)
    if not loaded.records:
        raise BenchError(
            f"no records in {loaded.root}; run `bench run` or `bench sweep` first, or pass "
            "--results-dir"
        )
    refuse_store_folder(out, loaded.root or Path("results"))
    check_folder(out, "the leaderboard")
    levels = None
    if chance:
        cache = ensure_cache_dir(resolve_cache_dir(cache_dir))
        levels = ChanceLevels(PRESETS[Cell.preset], cache)
    written = write_site(loaded, out, levels)
    pages = [p for p in written if p.suffix == ".html"]
    console.print(f"wrote {len(pages)} pages and {len(written) - len(pages)} records under {out}")
    console.print(f"open {out / 'index.html'}")
