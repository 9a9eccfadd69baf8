"""`bench run` (one cell) and `bench sweep` (every cell of a sweep file)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
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
    listing,
    load_plugins,
    method_options,
    parse_pairs,
    processes,
    user_errors,
)
from bench.contract.architectures import ACTION_ARCHS, PRIVACY_ARCHS
from bench.contract.config import PRESETS, RunConfig
from bench.contract.errors import BenchError
from bench.contract.method import params_text
from bench.contract.protocol import PROTOCOLS
from bench.data.cache import resolve_cache_dir
from bench.orchestration.cell import Cell
from bench.orchestration.cluster import (
    CellJob,
    cell_status,
    launcher_settings,
    submit,
    sweep_folder,
)
from bench.orchestration.loggers import check_loggers
from bench.orchestration.runner import (
    Record,
    check_local_files,
    execute,
    reference_config,
    settle_aux_inits,
)
from bench.orchestration.sweep import (
    LARGE_SWEEP,
    PlannedCell,
    Sweep,
    find_sweep,
    parse_shard,
    parse_sweep,
    shipped_sweeps,
    sweep_plan,
)
from bench.store.reading import preset_label
from bench.store.results import ResultsStore, open_store
from bench.training.checkpointing import Preempted


def cell_header(cfg: RunConfig, count: str = "") -> str:
    """'penalty (B=0.3, ...) / known / synthetic / tiny[anon_epochs=2]': the cell about to run,
    its preset labelled as tables and `bench fits` label it."""
    label = params_text(cfg.params, ", ")
    where = f"{cfg.protocol} / {cfg.dataset} / {preset_label(cfg.canonical()['preset'])}"
    prefix = f"[dim]cell {count}[/] " if count else ""
    return f"{prefix}[bold]{cfg.method}[/] ({escape(label or 'no parameters')}) / {escape(where)}"


def _fmt(value: float) -> str:
    return f"{value:.3f}"


METRIC_LABELS = {
    "action_top1": "action top-1 ↑",
    "privacy_cmap": "privacy cMAP ↓",
    "privacy_f1": "privacy F1 ↓",
    "raw_privacy_cmap": "cMAP on raw images",
    "raw_privacy_f1": "F1 on raw images",
    "anonymized_privacy_cmap": "cMAP on fA*(test)",
    "anonymized_privacy_f1": "F1 on fA*(test)",
    "reconstruction_psnr": "PSNR of g(fA*(test)), dB",
    "reconstruction_ssim": "SSIM of g(fA*(test))",
    "anonymized_psnr": "PSNR of fA*(test), dB",
    "anonymized_ssim": "SSIM of fA*(test)",
}
WIDE = 4  # a protocol with more metrics than this prints one metric per line
# what the attack's own metrics mean under the inversion protocols
INVERSION_LABELS = {"privacy_cmap": "cMAP on g(fA*(test)) ↓", "privacy_f1": "F1 on g(fA*(test)) ↓"}


def summary_table(outcome: Record, reference: Record | None) -> Table:
    """The protocol's metrics of the run next to the raw reference."""
    columns = PROTOCOLS.get(outcome.data["protocol"]).metrics
    runs = [outcome] + ([reference] if reference else [])
    if len(columns) > WIDE:  # e.g. the inversion attack's ten metrics: one per line
        table = Table(title="Result (test split)")
        table.add_column("metric")
        for run in runs:
            params = params_text(run.data["params"])
            table.add_column(f"{run.data['method']}\n{params}" if params else run.data["method"],
                             justify="right", overflow="fold")  # fmt: skip
        labels = {**METRIC_LABELS, **(INVERSION_LABELS if "reconstruction_psnr" in columns else {})}
        for c in columns:
            values = [_fmt(r.metrics[c]) if c in r.metrics else "–" for r in runs]
            table.add_row(labels.get(c, c), *values)
        return table
    table = Table(title="Result (test split)")
    table.add_column("method")
    table.add_column("params", overflow="fold")
    for column in columns:
        table.add_column(METRIC_LABELS.get(column, column), justify="right")
    for row in runs:
        rec, m = row.data, row.metrics
        params = params_text(rec["params"]) or "-"
        table.add_row(rec["method"], params, *(_fmt(m[c]) if c in m else "–" for c in columns))
    return table


# Prose, not the registry: listing every method's options would import every method (and
# their networks) on each start of the CLI; `bench methods NAME` reads the registry.
RUN_EPILOG = (
    "Any other --NAME VALUE is a parameter of the method, declared by it: e.g. --B 0.3 and "
    "--lam 1.0 for penalty, --factor 4 for downsample, --strength weak for blur. "
    "`bench methods` lists every method's parameters; `bench methods NAME` their defaults "
    "and ranges."
)


FtArchOption = Annotated[
    str | None,
    typer.Option(
        help=f"fT' (fresh action eval model) architecture: {', '.join(ACTION_ARCHS)}; "
        "default: the preset's aux_ft_arch."
    ),
]
FbArchOption = Annotated[
    str | None,
    typer.Option(
        help=f"fB' (fresh privacy eval model) architecture: {', '.join(PRIVACY_ARCHS)}; "
        "default: the preset's aux_fb_arch."
    ),
]
FtInitOption = Annotated[
    str,
    typer.Option(help="fT' initialisation: scratch, or kinetics400 (a local checkpoint file)."),
]
FbInitOption = Annotated[
    str,
    typer.Option(help="fB' initialisation: scratch, or imagenet (a local checkpoint file)."),
]


AllowScratchOption = Annotated[
    bool,
    typer.Option(
        "--allow-scratch",
        help="Train a learned method's auxiliary fT / fB from scratch when its pretrained "
        "checkpoint is not on disk; the key and the table label say so "
        "(e.g. paper[aux_ft_init=scratch]). Without it a missing checkpoint stops the run.",
    ),
]
LoggerOption = Annotated[
    list[str] | None,
    typer.Option(
        help="Also log every epoch to: tensorboard (<run dir>/tensorboard/) or wandb (offline, "
        "<run dir>/wandb/); each needs pip install 'privbench\\[logs]'. Repeatable; never part "
        "of the cell's key."
    ),
]


@user_errors
def run(
    ctx: typer.Context,
    method: Annotated[
        str, typer.Option(help="Anonymization method (see `bench methods`).")
    ] = Cell.method,
    protocol: Annotated[
        str, typer.Option(help="Evaluation protocol (see `bench protocols`).")
    ] = Cell.protocol,
    dataset: Annotated[str, typer.Option(help="Dataset family.")] = Cell.dataset,
    preset: Annotated[str, typer.Option(help=f"Scale preset: {', '.join(PRESETS)}.")] = Cell.preset,
    set_: SetOption = None,
    seed: Annotated[int, typer.Option(help="Seed for every random choice of the run.")] = Cell.seed,
    device: DeviceOption = "auto",
    results_dir: ResultsDirOption = None,
    cache_dir: CacheDirOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Recompute even if the record exists.")
    ] = False,
    reference: Annotated[
        bool, typer.Option(help="Also show (and if needed compute) the raw-data reference.")
    ] = True,
    plugin: PluginOption = None,
    data_root: DataRootOption = None,
    ft_arch: FtArchOption = None,
    fb_arch: FbArchOption = None,
    ft_init: FtInitOption = Cell.ft_init,
    fb_init: FbInitOption = Cell.fb_init,
    logger: LoggerOption = None,
    compile_models: Annotated[
        bool,
        typer.Option("--compile", help="Train through torch.compile (GPU runs; not in the key)."),
    ] = False,
    allow_scratch: AllowScratchOption = False,
) -> None:
    """Train and evaluate one method under one protocol; store and print the record.

    `torchrun --nproc-per-node N -m bench.cli run ...` trains on N processes (one GPU each).
    """
    with processes(device) as device:
        _run(ctx, method, protocol, dataset, preset, set_, seed, device, results_dir, cache_dir,
             force, reference, plugin, data_root, ft_arch, fb_arch, ft_init, fb_init, logger,
             compile_models, allow_scratch)  # fmt: skip


def _run(
    ctx: typer.Context,
    method: str,
    protocol: str,
    dataset: str,
    preset: str,
    set_: list[str] | None,
    seed: int,
    device: str,
    results_dir: Path | None,
    cache_dir: Path | None,
    force: bool,
    reference: bool,
    plugin: list[Path] | None,
    data_root: list[str] | None,
    ft_arch: str | None,
    fb_arch: str | None,
    ft_init: str,
    fb_init: str,
    logger: list[str] | None,
    compile_models: bool,
    allow_scratch: bool,
) -> None:
    load_plugins(plugin)
    params: dict[str, Any] = method_options(ctx.args)
    cfg = Cell(
        method=method,
        params=params,
        protocol=protocol,
        dataset=dataset,
        preset=preset,
        overrides=parse_pairs(set_ or [], "--set"),
        seed=seed,
        data_roots=parse_pairs(data_root or [], "--data-root"),
        ft_arch=ft_arch,
        fb_arch=fb_arch,
        ft_init=ft_init,
        fb_init=fb_init,
    ).config()
    store = open_store(results_dir)
    cache = resolve_cache_dir(cache_dir)
    cfg = settle_aux_inits(cfg, cache, allow_scratch)
    ref_cfg = reference_config(cfg) if reference and method != "raw" else None
    if not store.exists(cfg.key(), cfg.legacy_keys()):
        check_local_files(cfg, cache)  # before the reference runs: nothing done in vain
    check_loggers(tuple(logger or ()))
    if ref_cfg is not None and not store.exists(ref_cfg.key(), ref_cfg.legacy_keys()):
        console.print("[dim]computing the raw-data reference first (stored for reuse)[/]")
        console.print(cell_header(ref_cfg, "1/2"))
        execute(ref_cfg, store, cache, device, console=console)
        console.print(cell_header(cfg, "2/2"))
    else:
        console.print(cell_header(cfg))
    outcome = execute(
        cfg,
        store,
        cache,
        device,
        force=force,
        console=console,
        loggers=tuple(logger or ()),
        compile_models=compile_models,
    )
    if outcome.reused:
        console.print("[dim]record exists: showing the stored result (use --force to rerun)[/]")
    ref = execute(ref_cfg, store, cache, device, console=console) if ref_cfg else None
    console.print(summary_table(outcome, ref))
    console.print(f"record {'(stored)' if outcome.reused else 'written to'}: {outcome.path}")
    if ref is not None:
        console.print(f"raw reference record: {ref.path}")


@user_errors
def sweep(
    file: Annotated[
        str | None,
        typer.Argument(help="A sweep .toml file, or the name of a shipped one (see --list)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the cells and which are done; run nothing.")
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option(help="Run only every N-th cell, starting at the I-th: I/N (e.g. 2/4)."),
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the shipped sweep files.")] = False,
    device: DeviceOption = "auto",
    results_dir: ResultsDirOption = None,
    cache_dir: CacheDirOption = None,
    data_root: DataRootOption = None,
    plugin: PluginOption = None,
    yes: Annotated[
        bool, typer.Option("--yes", help=f"Plan a sweep of more than {LARGE_SWEEP} cells.")
    ] = False,
    status: Annotated[
        bool,
        typer.Option("--status", help="Show each cell: done / running / failed / to run."),
    ] = False,
    launcher: Annotated[
        str | None,
        typer.Option(
            help="Run the cells as jobs: 'slurm' (a job array) or 'local' (--workers at a "
            "time, one GPU each). Needs submitit."
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="--launcher local: cells run at once.")
    ] = None,
    partition: Annotated[str | None, typer.Option(help="--launcher slurm: partition.")] = None,
    gpus_per_job: Annotated[
        int | None, typer.Option(help="--launcher slurm: GPUs per job (default 1).")
    ] = None,
    time_min: Annotated[
        int | None,
        typer.Option("--time", help="Minutes per job (default 1440); a job out of time requeues."),
    ] = None,
    array_parallelism: Annotated[
        int | None, typer.Option(help="--launcher slurm: jobs of the array running at once.")
    ] = None,
    sbatch: Annotated[
        list[str] | None,
        typer.Option(help="--launcher slurm: another sbatch option KEY=VALUE (repeatable)."),
    ] = None,
    allow_scratch: AllowScratchOption = False,
) -> None:
    """Run every cell of a sweep file that has no record yet (resumable, shardable).

    With --launcher the cells become cluster jobs (SLURM via submitit, or local processes);
    --status shows where every cell stands, with each failure's last log lines.
    """
    if list_ or file is None:
        list_sweeps()
        return
    if launcher is not None or status:
        flags = {"workers": workers, "partition": partition, "gpus_per_job": gpus_per_job,
                 "time": time_min, "array_parallelism": array_parallelism, "sbatch": sbatch}  # fmt: skip
        _cluster_sweep(file, launcher, flags, status, shard, device, results_dir, cache_dir,
                       data_root, plugin, yes, allow_scratch)  # fmt: skip
        return
    with processes(device) as device:  # under torchrun: every cell on N processes
        plan, store, cells = _plan(file, plugin, data_root, yes, results_dir, shard)
        mine = [c for c in cells if c.mine]
        todo = [c for c in mine if not c.done]
        console.print(
            f"[bold]{plan.path.name}[/]: {plan.description}\n{len(cells)} cells; this shard "
            f"{len(mine)}; done {len(mine) - len(todo)}; to run {len(todo)}"
        )
        if dry_run:
            console.print(sweep_table(cells))
            return
        cache = resolve_cache_dir(cache_dir)
        todo = runnable(todo, cache, allow_scratch)
        failed = run_cells(todo, store, cache, device)
        console.print(
            f"sweep {plan.path.name}: ran {len(todo) - failed}, skipped {len(mine) - len(todo)} "
            f"(done), failed {failed}"
        )
        if failed:
            raise typer.Exit(1)


def _plan(
    file: str,
    plugin: list[Path] | None,
    data_root: list[str] | None,
    yes: bool,
    results_dir: Path | None,
    shard: str | None,
) -> tuple[Sweep, ResultsStore, list[PlannedCell]]:
    """The sweep file's cells, validated, with whether each is done and in this shard."""
    load_plugins(plugin)
    plan = parse_sweep(
        find_sweep(file),
        parse_pairs(data_root or [], "--data-root"),
        max_cells=None if yes else LARGE_SWEEP,
    )
    store = open_store(results_dir)
    return plan, store, sweep_plan(plan.cells, parse_shard(shard), store)


def _cluster_sweep(
    file: str,
    launcher: str | None,
    flags: dict[str, Any],
    status: bool,
    shard: str | None,
    device: str,
    results_dir: Path | None,
    cache_dir: Path | None,
    data_root: list[str] | None,
    plugin: list[Path] | None,
    yes: bool,
    allow_scratch: bool,
) -> None:
    """`--status`, or the cells without a record as submitit jobs."""
    plan, store, cells = _plan(file, plugin, data_root, yes, results_dir, shard)
    folder = sweep_folder(store, plan.name)
    if status:
        console.print(status_table(plan.name, cells, store, folder))
        return
    settings = launcher_settings(launcher or "local", plan.launcher, flags)
    cache = resolve_cache_dir(cache_dir)
    todo = runnable([c for c in cells if c.mine and not c.done], cache, allow_scratch)
    store.ensure_writable()
    jobs = [
        CellJob(c.config, store.root, cache, device, folder / "failed", tuple(plugin or ()))
        for c in todo
    ]
    console.print(
        f"[bold]{plan.path.name}[/]: {len(cells)} cells; {len(todo)} to run as {settings.kind} jobs"
    )
    failed = submit(jobs, settings, folder, console.print) if jobs else 0
    if settings.kind == "local":
        console.print(
            f"sweep {plan.path.name}: ran {len(todo) - failed}, failed {failed}; "
            f"bench sweep {file} --status for details"
        )
    if failed:
        raise typer.Exit(1)


def runnable(todo: list[PlannedCell], cache: Path, allow_scratch: bool) -> list[PlannedCell]:
    """The cells as they can run here (see `settle_aux_inits`); a missing checkpoint stops the
    sweep before its first cell or job."""
    settled = [
        dataclasses.replace(c, config=settle_aux_inits(c.config, cache, allow_scratch))
        for c in todo
    ]
    for planned in settled:
        check_local_files(planned.config, cache)
    return settled


def status_table(name: str, cells: list[PlannedCell], store: ResultsStore, folder: Path) -> Table:
    """Every cell: done / running / failed (with its error and last log lines) / to run."""
    table = Table(title=f"Sweep {name}")
    for column in ("#", "cell", "status", "detail"):
        table.add_column(column, overflow="fold")
    counts: dict[str, int] = {}
    styles = {"done": "green", "running": "cyan", "failed": "red", "to run": "default"}
    for i, planned in enumerate(cells, 1):
        state = cell_status(
            store, folder, planned.config.key(), legacy=planned.config.legacy_keys()
        )
        counts[state.state] = counts.get(state.state, 0) + 1
        table.add_row(
            str(i), escape(planned.cell.label()), f"[{styles[state.state]}]{state.state}[/]",
            escape(state.detail),
        )  # fmt: skip
    table.caption = ", ".join(f"{k} {counts.get(k, 0)}" for k in styles)
    return table


def run_cells(todo: list[PlannedCell], store: ResultsStore, cache: Path, device: str) -> int:
    """Run the cells one after the other; how many failed (a preemption stops them all)."""
    failed = 0
    for n, planned in enumerate(todo, 1):
        console.rule(f"[{n}/{len(todo)}] {escape(planned.cell.label())}")
        try:
            outcome = execute(planned.config, store, cache, device, console=console)
        except Preempted:
            raise  # the whole sweep stops; run it again to resume
        except BenchError as exc:
            failed += 1
            console.print(f"[bold red]cell failed:[/] {escape(str(exc))}", soft_wrap=True)
            continue
        console.print(summary_table(outcome, None))
    return failed


def list_sweeps() -> None:
    """The shipped sweep files and what each reproduces."""
    rows = []
    for name, path in sorted(shipped_sweeps().items()):
        parsed = parse_sweep(path)
        rows.append((name, str(len(parsed.cells)), parsed.description))
    console.print(
        listing("Shipped sweeps (bench sweep NAME)", ("name", "cells", "description"), rows)
    )


def sweep_table(cells: list[PlannedCell]) -> Table:
    """Every cell with its key and status."""
    table = Table(title="Cells")
    for column in ("#", "cell", "key", "status"):
        table.add_column(column, overflow="fold")
    for i, planned in enumerate(cells, 1):
        status = (
            "[green]done[/]"
            if planned.done
            else "to run"
            if planned.mine
            else "[dim]other shard[/]"
        )
        table.add_row(str(i), escape(planned.cell.label()), planned.config.key(), status)
    return table
