"""`bench data check` and `bench data prepare`: real datasets on the user's disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bench.cli.common import CacheDirOption, console, user_errors, warn
from bench.contract.context import make_progress, select_device
from bench.contract.errors import BenchError
from bench.data.cache import ensure_cache_dir, resolve_cache_dir
from bench.data.catalog import LAYOUTS, ScanOptions
from bench.data.prepare import pack_path, prepare_split
from bench.data.real_benchmark import progress_report_for
from bench.data.tree_check import check_tree
from bench.models.person_detector import DEFAULT_DETECTOR, DETECTORS
from bench.training.person_region import DETECTION_PARAMS, DetectedPeople, regions_from

data_app = typer.Typer(help="Real datasets on your disk: check their trees, pre-decode them.")

RootOption = Annotated[Path, typer.Option(help="The dataset folder, in its standard layout.")]
SplitOption = Annotated[int, typer.Option(help="Official split number (UCF101 / HMDB51).")]
AnnotationsOption = Annotated[
    Path | None,
    typer.Option(help="Annotation file or folder where it is not under the root (PA-HMDB, VP)."),
]
OrderOption = Annotated[
    str | None,
    typer.Option(
        help="VP-UCF / VP-HMDB column order (default skin_color,face,gender,nudity,relationship)."
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
    cache_dir: CacheDirOption = None,
    detect_people: Annotated[
        bool,
        typer.Option(
            "--detect-people",
            help="Also run the person detector of the region baselines (blackening, blur) "
            "on every split and store its boxes (weights from a local file).",
        ),
    ] = False,
    detector: Annotated[
        str, typer.Option(help=f"Person detector: {', '.join(DETECTORS)}.")
    ] = DEFAULT_DETECTOR,
    detect_size: Annotated[
        int,
        typer.Option(help="Short side the detector resizes frames to (the methods' detect_size)."),
    ] = DETECTION_PARAMS["detect_size"].default,
    device: Annotated[
        str, typer.Option(help="Device for the detector: auto, cpu, cuda[:N].")
    ] = "auto",
) -> None:
    """Decode every split once into a uint8 memory-mapped cache that `bench run` reads."""
    if size <= 0 or stride <= 0 or workers < 0:
        raise BenchError("--size and --stride must be > 0 and --workers >= 0")
    catalog = LAYOUTS.get(name)().scan(root, scan_options(split, annotations, attribute_order))
    cache = ensure_cache_dir(resolve_cache_dir(cache_dir))
    persons = None
    if detect_people:
        values = {"detector": detector, "min_score": 0.5, "detect_size": detect_size}
        for key, param in DETECTION_PARAMS.items():
            param.parse(key.replace("_", "-"), values[key])  # the methods' own checks
        persons = DetectedPeople(regions_from(values), cache, select_device(device))
        persons.check()  # before any decoding
    with make_progress(console) as progress:
        for split_name, items in catalog.splits.items():
            if not items:
                continue
            k = stride if catalog.kind == "action" else 1
            report = progress_report_for(progress)
            out = prepare_split(catalog, split_name, size, k, cache, report, workers, decoder, warn)
            path = pack_path(catalog, split_name, size, k, cache)
            mib = path.with_suffix(".frames").stat().st_size / 2**20
            console.print(
                f"{split_name}: {len(out.labels)} items, {len(out.skipped)} skipped, "
                f"{mib:.1f} MiB at {path}"
            )
            if persons is not None:
                masks = persons.masks(out.frames, out.path, report)
                console.print(
                    f"{split_name}: people in {100 * masks.coverage():.0f} % of stored frames at "
                    f"score >= 0.5 ({persons.boxes_path(out.path).name})"
                )
