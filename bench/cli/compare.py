"""`bench compare`: run what a new method needs to stand beside every stored one, then say
where it stands."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from bench.cli.common import (
    CacheDirOption,
    DataRootOption,
    DeviceOption,
    PluginOption,
    ResultsDirOption,
    SetOption,
    console,
    load_plugins,
    method_options,
    parse_pairs,
    user_errors,
)
from bench.cli.run import AllowScratchOption, run_cells, runnable
from bench.contract.config import PRESETS
from bench.contract.errors import BenchError
from bench.contract.method import METHODS, params_text
from bench.data.cache import resolve_cache_dir
from bench.orchestration.cell import Cell
from bench.orchestration.comparison import COMPARE_PROTOCOLS, comparison_cells, estimated_seconds
from bench.orchestration.sweep import sweep_plan
from bench.store.reading import RecordSet, full_params
from bench.store.results import open_store


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    minutes = seconds / 60
    return f"{seconds:.0f} s" if minutes < 2 else f"{minutes:.0f} min"


@user_errors
def compare(
    ctx: typer.Context,
    method: Annotated[str, typer.Option(help="The method to compare (see `bench methods`).")],
    plugin: PluginOption = None,
    dataset: Annotated[str, typer.Option(help="Dataset family.")] = Cell.dataset,
    preset: Annotated[str, typer.Option(help=f"Scale preset: {', '.join(PRESETS)}.")] = Cell.preset,
    set_: SetOption = None,
    data_root: DataRootOption = None,
    device: DeviceOption = "auto",
    results_dir: ResultsDirOption = None,
    cache_dir: CacheDirOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the cells and their estimated time; run none.")
    ] = False,
    allow_scratch: AllowScratchOption = False,
) -> None:
    """Run the cells a method needs for the standard comparison that have no record (known
    and novel protocols and the inversion attack, seeds 0-2, with raw's), then print where it
    stands: its row beside every stored method, what it dominates and what dominates it on the
    action-privacy plane, and each method's hypervolume against raw. Method parameters are
    given as for `bench run` (--B 0.3)."""
    load_plugins(plugin)
    params: dict[str, Any] = method_options(ctx.args)
    METHODS.get(method)  # an unknown name is a user error naming the known ones
    cells = comparison_cells(
        method, params, dataset=dataset, preset=preset,
        overrides=parse_pairs(set_ or [], "--set"),
        data_roots=parse_pairs(data_root or [], "--data-root"),
    )  # fmt: skip
    store = open_store(results_dir)
    planned = sweep_plan(cells, (1, 1), store)
    todo = [p for p in planned if not p.done]
    stored = RecordSet.load(store.root) if store.records_dir.is_dir() else RecordSet([])
    estimates = [estimated_seconds(p.cell, stored) for p in todo]
    table = Table(title=f"bench compare --method {method} {params_text(params)}".strip())
    for column in ("#", "cell", "status", "estimate"):
        table.add_column(column, overflow="fold")
    waits = iter(estimates)
    for i, p in enumerate(planned, 1):
        wait = "" if p.done else _duration(next(waits))
        table.add_row(str(i), escape(p.cell.label()), "done" if p.done else "to run", wait)
    known = [e for e in estimates if e is not None]
    unknown = len(estimates) - len(known)
    table.caption = f"{len(planned) - len(todo)} done, {len(todo)} to run" + (
        f", estimated {_duration(sum(known))}"
        + (f" plus {unknown} cell(s) with no comparable record" if unknown else "")
        + " (from the stored runs' time.total on their machines)"
        if todo
        else ""
    )
    console.print(table)
    if dry_run:
        return
    if todo:
        cache = resolve_cache_dir(cache_dir)
        failed = run_cells(runnable(todo, cache, allow_scratch), store, cache, device)
        if failed:
            raise BenchError(f"{failed} cell(s) failed; fix them and run the same command again")
    print_standing(RecordSet.load(store.root), method, params, dataset)


# the columns `bench compare` prints (the leaderboard site shows every metric)
SHOWN = ("action_top1", "privacy_cmap", "anonymized_privacy_cmap", "reconstruction_psnr")


def print_standing(records: RecordSet, method: str, params: dict[str, Any], dataset: str) -> None:
    """The method's place on each page of the comparison's protocols."""
    from bench.reports.leaderboard import METRIC_TITLES, build_pages
    from bench.reports.standing import hypervolumes, standing

    wanted = full_params(method, params, dataset) or {}
    defaults = full_params(method, {}, dataset) or {}
    changed = {k: v for k, v in wanted.items() if defaults.get(k) != v}
    for page in build_pages(records):
        if page.dataset != dataset or page.protocol not in COMPARE_PROTOCOLS:
            continue
        mine = next((e for e in page.entries if e.method == method and e.params == changed), None)
        if mine is None:
            continue
        table = Table(title=escape(f"{page.dataset} / {page.protocol} / {page.preset}"))
        table.add_column("method", overflow="fold")
        table.add_column("seeds", justify="right")
        shown = [m for m in page.metrics if m in SHOWN] or list(page.metrics)
        for metric in shown:
            table.add_column(METRIC_TITLES.get(metric, metric), justify="right")
        table.add_column("params", justify="right")
        table.add_column("frames/s 320x240", justify="right")
        for entry in page.entries:
            values = [
                f"{s.mean:.2f} ± {s.std:.2f}" if (s := entry.stats.get(m)) else "–" for m in shown
            ]
            cost = entry.cost
            label = f"[bold]{escape(entry.label)}[/]" if entry is mine else escape(entry.label)
            table.add_row(
                label, str(len(entry.records)), *values,
                str(cost.parameters) if cost else "–",
                f"{cost.fps_320x240:.3g}" if cost else "–",
            )  # fmt: skip
        console.print(table)
        if "action_top1" in mine.stats and "privacy_cmap" in mine.stats:
            place = standing(page, mine)
            console.print(
                f"{escape(mine.label)} dominates: {escape(', '.join(place.dominates) or 'none')}"
            )
            console.print(
                f"{escape(mine.label)} is dominated by: "
                f"{escape(', '.join(place.dominated_by) or 'none')}"
            )
            volumes = hypervolumes(page)
            if volumes:
                console.print("hypervolume against raw (%², share of raw's box), by method:")
                for h in volumes:
                    mark = " <-" if h.method == method else ""
                    console.print(
                        f"  {escape(h.method)}: {h.area:.1f} ({100 * h.share:.1f} %), "
                        f"{h.settings} setting(s){mark}"
                    )
        elif "reconstruction_psnr" in mine.stats:
            after = mine.stats.get("privacy_cmap")
            before = mine.stats.get("anonymized_privacy_cmap")
            if after and before:
                console.print(
                    f"{escape(mine.label)}: cMAP {before.mean:.2f} on fA*(test), "
                    f"{after.mean:.2f} after the inversion attack "
                    f"(PSNR {mine.stats['reconstruction_psnr'].mean:.2f} dB)"
                )
