"""The `bench` command line."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.table import Table

from bench.cache import default_cache_dir, ensure_cache_dir
from bench.catalog import LAYOUTS, ScanOptions
from bench.config import PRESET_KEYS, PRESETS
from bench.data import DATASETS
from bench.datacheck import check_tree
from bench.errors import BenchError
from bench.figure_kit import save_figure
from bench.figures import figure_stem, make_figure
from bench.loading import measure_loading
from bench.method import METHODS
from bench.models.action import ACTION_ARCHS
from bench.models.privacy import PRIVACY_ARCHS
from bench.perf import FIXED_BASELINES, baseline_checks, issue_checks, timed_cold_run
from bench.plugins import load_plugin
from bench.prepare import pack_path, prepare_split
from bench.protocol import PROTOCOLS
from bench.realdata import progress_report_for
from bench.records import RecordSet
from bench.report import report_figures, write_report
from bench.runner import Outcome, build_config, execute, reference_config
from bench.runtime import make_progress
from bench.store import ResultsStore, default_results_dir
from bench.sweep import (
    PlannedCell,
    find_sweep,
    parse_shard,
    parse_sweep,
    shipped_sweeps,
    sweep_plan,
)
from bench.tables import build_table, check_format, render, table_spec

app = typer.Typer(
    help="privbench: privacy-preserving action recognition benchmark.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
warnings = Console(stderr=True)  # notes that must not mix into a table printed to stdout
F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """BenchError -> one red line and exit 2; Ctrl-C -> one line and exit 130 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BenchError as exc:
            console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/]: finished records are kept; this run wrote none")
            raise typer.Exit(130) from None

    wrapper.__signature__ = inspect.signature(func, eval_str=True)  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def parse_pairs(pairs: list[str], option: str) -> dict[str, str]:
    """['k=v', ...] -> {'k': 'v'}; malformed entries are user errors."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BenchError(f"{option} '{pair}': expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def method_options(args: list[str]) -> dict[str, str]:
    """Leftover `--NAME VALUE` / `--NAME=VALUE` tokens of `bench run` as method parameters."""
    out: dict[str, str] = {}
    tokens = list(args)
    while tokens:
        token = tokens.pop(0)
        if not token.startswith("--") or len(token) == 2:
            raise BenchError(f"unexpected argument '{token}'; see `bench run --help`")
        name, sep, value = token[2:].partition("=")
        name = name.replace("-", "_")  # --n-budget and --n_budget are the same parameter
        if not sep:
            if not tokens or tokens[0].startswith("--"):
                raise BenchError(f"--{name}: expected a value (--{name} VALUE)")
            value = tokens.pop(0)
        out[name] = value
    return out


def load_plugins(paths: list[Path] | None) -> None:
    """Import every `--plugin` file."""
    for path in paths or []:
        load_plugin(path)


PLUGIN_HELP = "A .py file that registers extra methods (or protocols / datasets); repeatable."


def _fmt(value: float) -> str:
    return f"{value:.3f}"


METRIC_LABELS = {
    "action_top1": "action top-1 ↑",
    "privacy_cmap": "privacy cMAP ↓",
    "privacy_f1": "privacy F1 ↓",
    "raw_privacy_cmap": "cMAP on raw images",
    "raw_privacy_f1": "F1 on raw images",
}


def summary_table(outcome: Outcome, reference: Outcome | None) -> Table:
    """The protocol's metrics of the run next to the raw reference."""
    columns = PROTOCOLS.get(outcome.record["protocol"]).metrics
    table = Table(title="Result (test split)")
    table.add_column("method")
    table.add_column("params", overflow="fold")
    for column in columns:
        table.add_column(METRIC_LABELS.get(column, column), justify="right")
    for row in [outcome] + ([reference] if reference else []):
        rec, m = row.record, row.record["metrics"]
        params = " ".join(f"{k}={v}" for k, v in rec["params"].items()) or "-"
        table.add_row(rec["method"], params, *(_fmt(m[c]) if c in m else "–" for c in columns))
    return table


DataRootOption = Annotated[
    list[str] | None,
    typer.Option(help="Folder of a real dataset, NAME=DIR (repeatable), e.g. ucf101=/data/UCF101."),
]
FtArchOption = Annotated[
    str | None,
    typer.Option(
        help=f"fT' (action eval) architecture: {', '.join(ACTION_ARCHS)}; default: the preset's."
    ),
]
FbArchOption = Annotated[
    str | None,
    typer.Option(
        help=f"fB' (privacy eval) architecture: {', '.join(PRIVACY_ARCHS)}; default: the preset's."
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
SET_HELP = "Override a preset value, KEY=VALUE (repeatable). Keys: " + ", ".join(PRESET_KEYS)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog="Any other --NAME VALUE is a parameter of the method, e.g. --factor 4 for "
    "downsample or --strength weak for blur; `bench methods NAME` lists them.",
)
@user_errors
def run(
    ctx: typer.Context,
    method: Annotated[
        str, typer.Option(help="Anonymization method (see `bench methods`).")
    ] = "penalty",
    protocol: Annotated[
        str, typer.Option(help="Evaluation protocol (see `bench protocols`).")
    ] = "known",
    dataset: Annotated[str, typer.Option(help="Dataset family.")] = "synthetic",
    preset: Annotated[str, typer.Option(help=f"Scale preset: {', '.join(PRESETS)}.")] = "tiny",
    B: Annotated[
        float | None,
        typer.Option("--B", help="Penalty budget B >= 0 (penalty method; default 0.3)."),
    ] = None,
    lam: Annotated[
        float | None, typer.Option("--lam", help="Penalty weight lambda >= 0 (default 1.0).")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Method parameter NAME=VALUE (repeatable)."),
    ] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help=SET_HELP)] = None,
    seed: Annotated[int, typer.Option(help="Seed for every random choice of the run.")] = 0,
    device: Annotated[
        str, typer.Option(help="auto (CUDA if available), cpu, cuda, cuda:N.")
    ] = "auto",
    results_dir: Annotated[
        Path | None,
        typer.Option(
            help="Results root (records/ and runs/); default $BENCH_RESULTS_DIR or ./results."
        ),
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            help="Dataset / pretrained cache; default $BENCH_CACHE_DIR or ~/.cache/privbench."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Recompute even if the record exists.")
    ] = False,
    reference: Annotated[
        bool, typer.Option(help="Also show (and if needed compute) the raw-data reference.")
    ] = True,
    plugin: Annotated[list[Path] | None, typer.Option(help=PLUGIN_HELP)] = None,
    data_root: DataRootOption = None,
    ft_arch: FtArchOption = None,
    fb_arch: FbArchOption = None,
    ft_init: FtInitOption = "scratch",
    fb_init: FbInitOption = "scratch",
) -> None:
    """Train and evaluate one method under one protocol; store and print the record."""
    load_plugins(plugin)
    params: dict[str, Any] = parse_pairs(param or [], "--param") | method_options(ctx.args)
    if B is not None:
        params["B"] = B
    if lam is not None:
        params["lam"] = lam
    cfg = build_config(
        method,
        params,
        protocol,
        dataset,
        preset,
        parse_pairs(set_ or [], "--set"),
        seed,
        parse_pairs(data_root or [], "--data-root"),
        {"ft_arch": ft_arch, "fb_arch": fb_arch, "ft_init": ft_init, "fb_init": fb_init},
    )
    store = ResultsStore(results_dir or default_results_dir())
    cache = cache_dir or default_cache_dir()
    ref_cfg = reference_config(cfg) if reference and method != "raw" else None
    if ref_cfg is not None and not store.exists(ref_cfg.key()):
        console.print("[dim]computing the raw-data reference first (stored for reuse)[/]")
        execute(ref_cfg, store, cache, device, console=console)
    label = ", ".join(f"{k}={v}" for k, v in cfg.params)
    console.print(
        f"[bold]{method}[/] ({label or 'no parameters'}) / {protocol} / {dataset} / {preset}"
    )
    outcome = execute(cfg, store, cache, device, force=force, console=console)
    if outcome.reused:
        console.print("[dim]record exists: showing the stored result (use --force to rerun)[/]")
    ref = execute(ref_cfg, store, cache, device, console=console) if ref_cfg else None
    console.print(summary_table(outcome, ref))
    console.print(f"record {'(stored)' if outcome.reused else 'written to'}: {outcome.path}")
    if ref is not None:
        console.print(f"raw reference record: {ref.path}")


@app.command()
@user_errors
def methods(
    name: Annotated[str | None, typer.Argument(help="Show one method in detail.")] = None,
    plugin: Annotated[list[Path] | None, typer.Option(help=PLUGIN_HELP)] = None,
) -> None:
    """List the registered anonymization methods and their parameters."""
    load_plugins(plugin)
    if name is not None:
        cls = METHODS.get(name)
        console.print(method_details(name))
        doc = inspect.getdoc(inspect.getmodule(cls)) or inspect.getdoc(cls) or ""
        console.print(Markdown(doc))
        return
    rows = [
        (
            mname,
            "yes" if cls.trainable else "no",
            ", ".join(f"{k}={p.describe_default()}" for k, p in cls.params.items()) or "-",
            cls.description,
        )
        for mname, cls in METHODS.items()
    ]
    console.print(
        listing(
            "Methods (bench run --method NAME [--PARAM VALUE ...])",
            ("name", "learned", "parameters (defaults)", "description"),
            rows,
        )
    )


def listing(title: str, columns: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> Table:
    """A table of registered plug-ins (or shipped files), one row each."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


@app.command()
@user_errors
def protocols(plugin: Annotated[list[Path] | None, typer.Option(help=PLUGIN_HELP)] = None) -> None:
    """List the evaluation protocols, the dataset settings they read and what they report."""
    load_plugins(plugin)
    rows = [
        (name, ", ".join(cls.roles), ", ".join(cls.metrics), cls.description)
        for name, cls in PROTOCOLS.items()
    ]
    console.print(
        listing(
            "Protocols (bench run --protocol NAME)",
            ("name", "reads", "reports", "description"),
            rows,
        )
    )


@app.command()
@user_errors
def datasets(plugin: Annotated[list[Path] | None, typer.Option(help=PLUGIN_HELP)] = None) -> None:
    """List the dataset families and their settings (known; novel where there is one)."""
    load_plugins(plugin)
    rows = [(name, ", ".join(cls.roles), cls.description) for name, cls in DATASETS.items()]
    console.print(
        listing("Datasets (bench run --dataset NAME)", ("name", "settings", "description"), rows)
    )


def method_details(name: str) -> Table:
    """One method's parameters: type, default, allowed values and help."""
    cls = METHODS.get(name)
    table = Table(title=f"{name}: {cls.description}")
    for column in ("parameter", "type", "default", "allowed", "help"):
        table.add_column(column, overflow="fold")
    for pname, p in cls.params.items():
        table.add_row(
            f"--{pname}", p.type.__name__, p.describe_default(), p.describe_range(), p.help
        )
    if not cls.params:
        table.add_row("(none)", "", "", "", "")
    return table


@app.command()
@user_errors
def perf(
    set_: Annotated[list[str] | None, typer.Option("--set", help=SET_HELP)] = None,
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


@app.command()
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
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N.")] = "auto",
    results_dir: Annotated[
        Path | None, typer.Option(help="Results root; default $BENCH_RESULTS_DIR or ./results.")
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Default $BENCH_CACHE_DIR or ~/.cache/privbench.")
    ] = None,
    data_root: DataRootOption = None,
    plugin: Annotated[list[Path] | None, typer.Option(help=PLUGIN_HELP)] = None,
) -> None:
    """Run every cell of a sweep file that has no record yet (resumable, shardable)."""
    if list_ or file is None:
        list_sweeps()
        return
    load_plugins(plugin)
    plan = parse_sweep(find_sweep(file), parse_pairs(data_root or [], "--data-root"))
    store = ResultsStore(results_dir or default_results_dir())
    cells = sweep_plan(plan.cells, parse_shard(shard), store)
    mine = [c for c in cells if c.mine]
    todo = [c for c in mine if not c.done]
    console.print(
        f"[bold]{plan.path.name}[/]: {plan.description}\n{len(cells)} cells; this shard "
        f"{len(mine)}; done {len(mine) - len(todo)}; to run {len(todo)}"
    )
    if dry_run:
        console.print(sweep_table(cells))
        return
    failed = 0
    cache = cache_dir or default_cache_dir()
    for n, planned in enumerate(todo, 1):
        console.rule(f"[{n}/{len(todo)}] {planned.cell.label()}")
        try:
            outcome = execute(planned.config, store, cache, device, console=console)
        except BenchError as exc:
            failed += 1
            console.print(f"[bold red]cell failed:[/] {escape(str(exc))}", soft_wrap=True)
            continue
        console.print(summary_table(outcome, None))
    console.print(
        f"sweep {plan.path.name}: ran {len(todo) - failed}, skipped {len(mine) - len(todo)} "
        f"(done), failed {failed}"
    )
    if failed:
        raise typer.Exit(1)


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
        table.add_row(str(i), planned.cell.label(), planned.config.key(), status)
    return table


data_app = typer.Typer(help="Real datasets on your disk: check their trees, pre-decode them.")
app.add_typer(data_app, name="data")

RootOption = Annotated[Path, typer.Option(help="The dataset folder, in its standard layout.")]
SplitOption = Annotated[int, typer.Option(help="Official split number (UCF101 / HMDB51).")]
AnnotationsOption = Annotated[
    Path | None,
    typer.Option(help="Annotation file or folder where it is not under the root (PA-HMDB, VP)."),
]
OrderOption = Annotated[
    str | None,
    typer.Option(
        help="VP-UCF / VP-HMDB label order, e.g. face,skin_color,gender,nudity,relationship."
    ),
]


def scan_options(split: int, annotations: Path | None, attribute_order: str | None) -> ScanOptions:
    """ScanOptions from the CLI's flags."""
    order = tuple(a.strip() for a in attribute_order.split(",")) if attribute_order else None
    return ScanOptions(split=split, annotations=annotations, attribute_order=order)


def layout_help() -> str:
    """Known layout names, for help texts."""
    return ", ".join(LAYOUTS.names())


@data_app.command("check")
@user_errors
def data_check(
    name: Annotated[
        str,
        typer.Argument(
            help="Dataset layout: ucf101, hmdb51, pahmdb51, vispr1, vispr2, vpucf, vphmdb."
        ),
    ],
    root: RootOption,
    split: SplitOption = 1,
    annotations: AnnotationsOption = None,
    attribute_order: OrderOption = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    probe: Annotated[bool, typer.Option(help="Open every video to find corrupt ones.")] = True,
) -> None:
    """Counts per split and class, and every problem found in a dataset tree."""
    options = scan_options(split, annotations, attribute_order)
    quiet = Console(quiet=json_, stderr=True)
    with make_progress(quiet) as progress:
        report = check_tree(name, root, options, progress_report_for(progress), probe)
    if json_:
        print(json.dumps(report, indent=2))
    else:
        console.print(check_table(report))
        for problem in report["problems"] + report["unreadable"]:
            console.print(f"[yellow]problem:[/] {problem}", soft_wrap=True)
        verdict = "[green]ok[/]" if report["ok"] else "[red]problems found[/]"
        console.print(f"{name} at {root}: {verdict}")
    if not report["ok"]:
        raise typer.Exit(1)


def check_table(report: dict[str, Any]) -> Table:
    """Items per split and label (videos per class, or positives per attribute)."""
    unit = "videos" if report["kind"] == "action" else "positives"
    table = Table(title=f"{report['dataset']}: {unit} per split")
    splits = list(report["items"])
    table.add_column("label")
    for split in splits:
        table.add_column(split, justify="right")
    for label in report["labels"]:
        table.add_row(label, *(str(report["per_label"][s][label]) for s in splits))
    table.add_row("[bold]items[/]", *(str(report["items"][s]) for s in splits))
    table.add_row("[bold]files[/]", *(str(report["files"][s]) for s in splits))
    return table


@data_app.command("prepare")
@user_errors
def data_prepare(
    name: Annotated[str, typer.Argument(help="Dataset layout (see `bench data check --help`).")],
    root: RootOption,
    size: Annotated[int, typer.Option(help="Working frame size (the preset's frame_size).")] = 112,
    stride: Annotated[
        int, typer.Option(help="Keep every N-th video frame (the preset's skip rate).")
    ] = 4,
    split: SplitOption = 1,
    annotations: AnnotationsOption = None,
    attribute_order: OrderOption = None,
    workers: Annotated[int, typer.Option(help="Decoding processes.")] = 2,
    decoder: Annotated[str, typer.Option(help="auto, pyav or torchcodec.")] = "auto",
    cache_dir: Annotated[
        Path | None, typer.Option(help="Default $BENCH_CACHE_DIR or ~/.cache/privbench.")
    ] = None,
) -> None:
    """Decode every split once into a uint8 memory-mapped cache that `bench run` reads."""
    if size <= 0 or stride <= 0 or workers < 0:
        raise BenchError("--size and --stride must be > 0 and --workers >= 0")
    catalog = LAYOUTS.get(name)().scan(root, scan_options(split, annotations, attribute_order))
    cache = ensure_cache_dir(cache_dir or default_cache_dir())
    with make_progress(console) as progress:
        for split_name, items in catalog.splits.items():
            if not items:
                continue
            k = stride if catalog.kind == "action" else 1
            out = prepare_split(
                catalog, split_name, size, k, cache, progress_report_for(progress), workers, decoder
            )
            path = pack_path(catalog, split_name, size, k, cache)
            mib = path.with_suffix(".frames").stat().st_size / 2**20
            console.print(
                f"{split_name}: {len(out.labels)} items, {len(out.skipped)} skipped, "
                f"{mib:.1f} MiB at {path}"
            )


RecordsOption = Annotated[
    Path | None,
    typer.Option(
        "--records",
        help="Results dir of the runs (or its records/ folder); default $BENCH_RESULTS_DIR "
        "or ./results.",
    ),
]
PresetOption = Annotated[
    str | None,
    typer.Option(
        help="Read records of this preset (e.g. tiny); needed only when a dataset's records "
        "come from several."
    ),
]


def load_records(folder: Path | None, preset: str | None) -> RecordSet:
    """The records of a results dir, warning about unreadable ones; `--preset` checked."""
    loaded = RecordSet.load(folder)
    for reason in loaded.skipped:
        warnings.print(f"[yellow]skipped:[/] {escape(reason)}", soft_wrap=True)
    loaded.check_preset(preset)
    return loaded


def write_text(text: str, out: Path | None) -> None:
    """`text` to the file `out` (folders created), or to stdout as is (no rich markup)."""
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    console.print(f"wrote {out}")


@app.command()
@user_errors
def table(
    number: Annotated[int, typer.Argument(help="The paper's table: 1, 2, 3, 5, 6, 7 or 8.")],
    format_: Annotated[
        str, typer.Option("--format", "-f", help="md, latex (booktabs) or csv (long form).")
    ] = "md",
    records: RecordsOption = None,
    paper: Annotated[
        bool, typer.Option("--paper", help="Put the published numbers beside ours.")
    ] = False,
    preset: PresetOption = None,
    fragment: Annotated[
        bool, typer.Option("--fragment", help="LaTeX: only the table, not a whole document.")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
    plugin: Annotated[list[Path] | None, typer.Option(help=PLUGIN_HELP)] = None,
) -> None:
    """Rebuild one of the paper's tables from the records, in the paper's layout (a method
    the paper lacks gets its own rows)."""
    check_format(format_)
    load_plugins(plugin)
    built = build_table(table_spec(number), load_records(records, preset), paper, preset)
    write_text(render(built, format_, fragment), out)


@app.command()
@user_errors
def figure(
    kind: Annotated[str, typer.Argument(help="pareto, frames, curves or ablation.")],
    records: RecordsOption = None,
    dataset: Annotated[str, typer.Option(help="Whose records to draw.")] = "synthetic",
    protocol: Annotated[
        str, typer.Option(help="pareto / curves / ablation: which protocol's records.")
    ] = "known",
    preset: PresetOption = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the files; default <results dir>/figures.")
    ] = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also write a PDF.")] = False,
    cache_dir: Annotated[
        Path | None,
        typer.Option(help="frames: where the dataset is cached; default $BENCH_CACHE_DIR."),
    ] = None,
) -> None:
    """Draw one of the paper's figures from the records (PNG, and PDF with --pdf)."""
    DATASETS.get(dataset)  # an unknown name is an error, not an empty figure
    loaded = load_records(records, preset)
    drawn = make_figure(kind, loaded, dataset, protocol, preset, cache_dir)
    folder = out or (loaded.root or Path("results")) / "figures"
    stem = figure_stem(kind, protocol, dataset)
    for path in save_figure(drawn, folder / stem, ("png", "pdf") if pdf else ("png",)):
        console.print(f"wrote {path}")


@app.command()
@user_errors
def report(
    records: RecordsOption = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for report.md, tables/ and figures/; default the results dir."),
    ] = None,
    preset: PresetOption = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also write each figure as PDF.")] = False,
    cache_dir: Annotated[
        Path | None,
        typer.Option(help="frames: where the dataset is cached; default $BENCH_CACHE_DIR."),
    ] = None,
    plugin: Annotated[list[Path] | None, typer.Option(help=PLUGIN_HELP)] = None,
) -> None:
    """One Markdown report: every table and figure the records feed, and what is missing."""
    load_plugins(plugin)
    loaded = load_records(records, preset)
    formats = ("png", "pdf") if pdf else ("png",)
    makers = report_figures(loaded, preset, cache_dir, formats)
    path = write_report(loaded, out or loaded.root or Path("results"), makers, preset)
    console.print(f"wrote {path}")


if __name__ == "__main__":
    app()
