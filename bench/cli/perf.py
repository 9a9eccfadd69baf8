"""`bench perf`: timed cold runs against their targets, and the clip-loading comparison."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from bench.cli.common import SetOption, console, user_errors
from bench.perf.cold_runs import FIXED_BASELINES, baseline_checks, issue_checks, timed_cold_run
from bench.perf.loader_speed import measure_loading


@user_errors
def perf(
    set_: SetOption = None,
    baselines: Annotated[
        bool,
        typer.Option(
            "--baselines", help="Time each fixed baseline instead (target: < 2 min each)."
        ),
    ] = False,
    loading: Annotated[
        bool,
        typer.Option(
            "--loading",
            help="Measure clip-loading throughput (ours vs pytorchvideo) on 320x240 AVIs instead.",
        ),
    ] = False,
    workers: Annotated[int, typer.Option(help="DataLoader workers for --loading.")] = 2,
    clips: Annotated[int, typer.Option(help="Clips timed per loader for --loading.")] = 256,
) -> None:
    """Time cold `bench run`s (raw + penalty B=0.3, or the fixed baselines); check targets."""
    if loading:
        loading_report(workers, clips)
        return
    extra = [arg for pair in set_ or [] for arg in ("--set", pair)]
    console.print("cold runs in fresh cache / results dirs (data generation included) ...")
    if baselines:
        runs = [timed_cold_run([*args, "--no-reference"], extra) for args in FIXED_BASELINES]
        checks = baseline_checks(runs)
        title = "bench perf --baselines (tiny preset, synthetic, known protocol)"
    else:
        raw = timed_cold_run(["--method", "raw"], extra)
        pen = timed_cold_run(["--method", "penalty", "--B", "0.3", "--protocol", "known"], extra)
        checks = issue_checks(raw, pen)
        title = "bench perf (tiny preset, synthetic, known protocol)"
        console.print(f"penalty run stage timings (s): {pen.record['timings']}")
    table = Table(title=title)
    for column in ("figure", "measured", "target", "ok"):
        table.add_column(column)
    for name, value, target, ok in checks:
        table.add_row(name, value, target, "[green]yes[/]" if ok else "[red]no[/]")
    console.print(table)


def loading_report(workers: int, clips: int) -> None:
    """Print clips/s of each loader and whether ours is at least as fast as pytorchvideo."""
    console.print(
        f"writing 320x240 AVIs, then timing {clips} clips of 16x112x112 (skip 4) per loader "
        f"with {workers} workers ..."
    )
    results = measure_loading(clips=clips, workers=workers)
    table = Table(title="bench perf --loading (clips of 16x112x112, skip 4, 320x240 AVI)")
    for column in ("loader", "items", "seconds", "per second"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(r.loader, str(r.clips), f"{r.seconds:.2f}", f"{r.clips_per_s:.1f}")
    console.print(table)
    by_name = {r.loader: r.clips_per_s for r in results}
    ptv = by_name.get("pytorchvideo LabeledVideoDataset")
    if ptv is None:
        console.print(
            "[yellow]pytorchvideo is not installed: `pip install pytorchvideo` to compare"
        )
    else:
        ours = by_name["ours (decode)"]
        verdict = "[green]yes[/]" if ours >= ptv else "[red]no[/]"
        console.print(f"ours (decode) >= pytorchvideo: {verdict} ({ours:.1f} vs {ptv:.1f} clips/s)")
