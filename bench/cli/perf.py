"""`bench perf`: timed cold runs against their targets, and the clip-loading comparison."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from bench.cli.common import DeviceOption, SetOption, console, parse_pairs, user_errors
from bench.contract.config import Preset, resolve_preset
from bench.contract.context import select_device
from bench.perf.anonymize_speed import REAL_TIME_FPS, measure_anonymize
from bench.perf.cold_runs import FIXED_BASELINES, baseline_checks, main_job_checks, timed_cold_run
from bench.perf.gpu_steps import measure_steps
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
    gpu: Annotated[
        bool,
        typer.Option(
            "--gpu",
            help="Time one anonymizer, fT' and fB' training step (clips/s, images/s, TFLOP/s "
            "against the GPU's bf16 peak) instead.",
        ),
    ] = False,
    preset: Annotated[str, typer.Option(help="--gpu: the preset whose sizes are timed.")] = "paper",
    device: DeviceOption = "auto",
    steps: Annotated[int, typer.Option(min=1, help="--gpu: timed steps per model.")] = 10,
    compile_models: Annotated[
        bool, typer.Option("--compile", help="--gpu: through torch.compile.")
    ] = False,
    anonymize: Annotated[
        bool,
        typer.Option(
            "--anonymize",
            help="Frames/s of `bench anonymize` (decode + fA + encode) for the tiny and paper "
            "UNet++ at 320x240 and 1280x720, torch and onnxruntime, instead.",
        ),
    ] = False,
    frames: Annotated[int, typer.Option(min=8, help="--anonymize: frames per timed video.")] = 48,
    profile: Annotated[
        bool,
        typer.Option(
            "--profile",
            help="Profile a raw and a penalty B=0.3 cell stage by stage (wall s, GFLOP, GFLOP/s "
            "against this machine's fp32 matmul peak) instead.",
        ),
    ] = False,
) -> None:
    """Time cold `bench run`s (raw + penalty B=0.3, or the fixed baselines); check targets."""
    if profile:
        profile_report(parse_pairs(set_ or [], "--set"), device)
        return
    if anonymize:
        anonymize_report(device, frames)
        return
    if loading:
        loading_report(workers, clips)
        return
    if gpu:
        gpu_report(resolve_preset(preset, parse_pairs(set_ or [], "--set")), device, steps,
                   compile_models)  # fmt: skip
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
        checks = main_job_checks(raw, pen)
        title = "bench perf (tiny preset, synthetic, known protocol)"
        console.print(f"penalty run stage timings (s): {pen.record['timings']}")
    table = Table(title=title)
    for column in ("figure", "measured", "target", "ok"):
        table.add_column(column)
    for name, value, target, ok in checks:
        table.add_row(name, value, target, "[green]yes[/]" if ok else "[red]no[/]")
    console.print(table)


def profile_report(overrides: dict[str, str], device: str) -> None:
    """Print the stage profile of a default raw and penalty B = 0.3 cell."""
    import torch

    from bench.data.cache import default_cache_dir
    from bench.orchestration.cell import Cell
    from bench.perf.stage_profile import PEAK_SIZE, profile_cell

    cache = default_cache_dir()
    for method, params in (("raw", {}), ("penalty", {"B": 0.3})):
        cfg = Cell(method=method, params=params, overrides=overrides).config()
        stages = profile_cell(cfg, cache, device, console)
        where = f"{cfg.preset.name}, {cfg.dataset}, {cfg.protocol}"
        table = Table(title=f"bench perf --profile: {method} ({where})")
        for column in ("stage", "wall s", "GFLOP", "GFLOP/s", "% of peak"):
            table.add_column(column, justify="right")
        for s in stages:
            table.add_row(s.stage, f"{s.seconds:.1f}", f"{s.gflop:.1f}", f"{s.gflops:.2f}",
                          f"{100 * s.of_peak:.2f}")  # fmt: skip
        console.print(table)
    console.print(
        f"peak: {stages[0].peak_gflops:.1f} GFLOP/s ({cfg.preset.precision} "
        f"{PEAK_SIZE}x{PEAK_SIZE} matmul, {torch.get_num_threads()} threads)"
    )


ANONYMIZER_TARGET = 0.25  # share of the bf16 dense peak on an H100 / H200-class GPU


def gpu_report(preset: Preset, device: str, steps: int, compile_models: bool) -> None:
    """Print each training step's speed and achieved TFLOP/s; check the anonymizer's."""
    torch_device = select_device(device)
    console.print(
        f"timing {steps} training steps per model at the {preset.name} preset on "
        f"{torch_device} (after 3 warm-up steps) ..."
    )
    figures = measure_steps(preset, torch_device, steps=steps, compile_models=compile_models)
    table = Table(title=f"bench perf --gpu ({preset.name} preset, {torch_device})")
    for column in (
        "step",
        "batch",
        "s / step",
        "items / s",
        "TFLOP / step",
        "TFLOP/s",
        "% of peak",
    ):
        table.add_column(column, justify="right")
    for f in figures:
        of_peak = "n/a" if f.share_of_peak is None else f"{100 * f.share_of_peak:.1f}"
        table.add_row(
            f.name, f"{f.items} {f.unit}", f"{f.seconds:.4f}", f"{f.items_per_s:.1f}",
            f"{f.tflop:.3f}", f"{f.tflops:.2f}", of_peak,
        )  # fmt: skip
    console.print(table)
    share = figures[0].share_of_peak
    if share is None:
        console.print(
            "anonymizer step >= 25 % of the bf16 peak: [yellow]not checked[/] (no known GPU peak "
            f"for {torch_device}; see bench/perf/gpu_steps.py PEAK_BF16_TFLOPS)"
        )
    else:
        verdict = "[green]yes[/]" if share >= ANONYMIZER_TARGET else "[red]no[/]"
        console.print(f"anonymizer step >= 25 % of the bf16 peak: {verdict} ({100 * share:.1f} %)")


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
    baseline = next((r for r in results if r.baseline), None)
    if baseline is None:
        console.print(
            "[yellow]pytorchvideo is not installed: `pip install pytorchvideo` to compare"
        )
    for r in results:
        if r.target is not None:
            verdict = "[green]yes[/]" if r.clips_per_s >= r.target else "[red]no[/]"
            console.print(f"{r.loader} >= {r.target:.0f} clips/s: {verdict} ({r.clips_per_s:.1f})")
    if baseline is not None:
        ours = results[0]
        verdict = "[green]yes[/]" if ours.clips_per_s >= baseline.clips_per_s else "[red]no[/]"
        console.print(
            f"{ours.loader} >= pytorchvideo: {verdict} "
            f"({ours.clips_per_s:.1f} vs {baseline.clips_per_s:.1f} clips/s)"
        )


def anonymize_report(device: str, frames: int) -> None:
    """Print frames/s of `bench anonymize` per model, size, resolution and backend."""
    torch_device = select_device(device)
    console.print(
        f"timing bench anonymize on {torch_device} (onnxruntime on the CPU), {frames}-frame "
        "MPEG-4 AVIs; fresh fA of each preset's architecture (speed does not depend on weights)"
    )
    speeds = measure_anonymize(torch_device, frames, progress=console.print)
    table = Table(title="bench perf --anonymize (decode + fA + encode)")
    for column in ("UNet++", "video", "fA applied at", "backend", "frames", "seconds",
                   "frames / s", f">= real time ({REAL_TIME_FPS:g} fps)"):  # fmt: skip
        table.add_column(column, justify="right")
    for s in speeds:
        at = "source size" if s.resolution == "native" else "trained size (short side)"
        at = "(no model)" if s.model == "none" else at
        real_time = "[green]yes[/]" if s.fps >= REAL_TIME_FPS else "[red]no[/]"
        table.add_row(s.model, f"{s.size[0]}x{s.size[1]}", at, s.backend, str(s.frames),
                      f"{s.seconds:.2f}", f"{s.fps:.1f}", real_time)  # fmt: skip
    console.print(table)
