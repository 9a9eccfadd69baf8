"""`bench fits` (the stored fA*), `bench anonymize` (video files through fA* or a fixed
method) and `bench export` (fA* to ONNX / TorchScript, verified, with a model card)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    check_device,
    check_outputs,
    console,
    load_plugins,
    method_options,
    parse_pairs,
    refuse_store_folder,
    results_root,
    split_arguments,
    user_errors,
    warn,
)
from bench.contract.atomic import clean_stale_temps
from bench.contract.config import PRESETS
from bench.contract.context import make_progress, select_device
from bench.contract.errors import BenchError
from bench.contract.method import params_text
from bench.data.cache import resolve_cache_dir
from bench.deployment.anonymizers import check_resolution, transform_of
from bench.deployment.export import (
    FORMATS,
    TOLERANCE,
    card_path,
    check_format,
    export_fit,
    verification_frames,
)
from bench.deployment.fit_catalog import Anonymizer, StoredFit, address_anonymizer, stored_fits
from bench.deployment.video_files import (
    anonymize_file,
    check_output_folder,
    check_regular_file,
    choose_encoding,
    find_inputs,
    is_output_name,
    output_paths,
    preview_path,
)
from bench.orchestration.cell import Cell
from bench.store.reading import preset_label
from bench.store.results import ResultsStore

FitOption = Annotated[
    str | None,
    typer.Option("--fit", help="A stored fA* by its key (or a unique prefix); see `bench fits`."),
]
MethodOption = Annotated[
    str | None,
    typer.Option(
        help="Instead of --fit: the method (and its --PARAM VALUE options) as given to `bench run`."
    ),
]
DatasetOption = Annotated[str, typer.Option(help="Dataset the fA* was trained on (with --method).")]
PresetOption = Annotated[str, typer.Option(help=f"Preset it was trained at: {', '.join(PRESETS)}.")]
SeedOption = Annotated[int, typer.Option(help="Seed it was trained with (with --method).")]
EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}


OverwriteOption = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Replace output files that exist (never an input, nor anything in the results store).",
    ),
]


def _store(results_dir: Path | None) -> ResultsStore:
    return ResultsStore(results_root(results_dir))


def _address(
    found: list[StoredFit],
    key: str | None,
    method: str | None,
    extra: list[str],
    dataset: str,
    preset: str,
    set_: list[str] | None,
    seed: int,
    data_root: list[str] | None,
) -> Anonymizer:
    """The anonymizer the command's options name (`--fit`, or `bench run`'s options)."""
    trained = Cell(
        params=method_options(extra),
        dataset=dataset,
        preset=preset,
        overrides=parse_pairs(set_ or [], "--set"),
        seed=seed,
        data_roots=parse_pairs(data_root or [], "--data-root"),
    )
    return address_anonymizer(found, key, method, trained)


def _metrics_text(fit: StoredFit) -> str:
    if not fit.records:
        return "-"
    lines = []
    for r in fit.records:
        m = r.get("metrics", {})
        shown = " ".join(f"{k}={v:.3f}" for k, v in m.items() if isinstance(v, int | float))
        lines.append(f"{r.get('protocol')}: {shown}")
    return "\n".join(lines)


def fits_table(fits: list[StoredFit]) -> Table:
    """One row per stored fA*."""
    table = Table(title="Stored anonymizers fA* (bench fits KEY for one)")
    for column in ("fit key", "method", "parameters", "dataset", "preset", "seed", "trained",
                   "records: metrics"):  # fmt: skip
        table.add_column(column, overflow="fold")
    for fit in fits:
        c = fit.config or {}
        params = params_text(fit.params) or "-"
        preset = preset_label(c["preset"]) if isinstance(c.get("preset"), dict) else "?"
        cells = (
            fit.key,
            fit.method,
            params,
            str(c.get("dataset", "?")),
            preset,
            str(c.get("seed", "?")),
            fit.created.replace("T", " ")[:16],
            _metrics_text(fit),
        )
        table.add_row(*map(escape, cells))  # a label like tiny[anon_epochs=2] is no markup
    return table


def fit_details(fit: StoredFit) -> Table:
    """One fit: where it is, what trained it, its training stages and its records."""
    table = Table(title=f"fit {fit.key}: {fit.describe()}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", overflow="fold")
    c = fit.config or {}
    table.add_row("folder", str(fit.folder))
    table.add_row("trained", f"{fit.created} (run {fit.log.get('run', '?')})")
    for name in ("dataset", "seed", "data_roots", "plugin_source"):
        if name in c:
            table.add_row(name, str(c[name]))
    if isinstance(c.get("preset"), dict):
        p = c["preset"]
        arch = f"UNet++ {p.get('anon_encoder')} depth {p.get('anon_depth')}"
        table.add_row(
            "preset", escape(f"{preset_label(p)}: {p.get('frame_size')} px frames, {arch}")
        )
    for stage, rows, values in fit.history_summary():
        shown = ", ".join(f"{k} {a:.4g} → {b:.4g}" for k, (a, b) in values.items())
        table.add_row(f"history: {stage}", f"epochs: {rows}; {shown}")
    seconds = {k: v for k, v in fit.log.get("timings", {}).items() if isinstance(v, int | float)}
    if seconds:
        table.add_row("timings (s)", ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))
    table.add_row("records", _metrics_text(fit))
    return table


@user_errors
def fits(
    ctx: typer.Context,
    key: Annotated[str | None, typer.Argument(help="Show one fit (its key or a prefix).")] = None,
    method: MethodOption = None,
    dataset: DatasetOption = Cell.dataset,
    preset: PresetOption = Cell.preset,
    set_: SetOption = None,
    seed: SeedOption = Cell.seed,
    data_root: DataRootOption = None,
    plugin: PluginOption = None,
    results_dir: ResultsDirOption = None,
) -> None:
    """List the stored anonymizers fA*, or show one (by key or by `bench run` options)."""
    load_plugins(plugin)
    positional, extra = split_arguments(([key] if key else []) + ctx.args)
    if len(positional) > 1:
        raise typer.BadParameter(f"one fit key at most, got {', '.join(positional)}")
    key = positional[0] if positional else None
    store = _store(results_dir)
    found = stored_fits(store, warn)
    if key is None and method is None:
        if extra:
            raise typer.BadParameter(f"unexpected {extra[0]}; method parameters need --method")
        if not found:
            console.print(
                f"no stored fA* under {store.fits_dir}; `bench run --method penalty` trains one"
            )
            return
        console.print(fits_table(found))
        return
    address = _address(found, key, method, extra, dataset, preset, set_, seed, data_root)
    if address.fit is None:
        console.print(f"method '{method}' is fixed: it has no stored fA* (it learns nothing)")
        return
    console.print(fit_details(address.fit))


@user_errors
def anonymize(
    ctx: typer.Context,
    inputs: Annotated[
        list[str],
        typer.Argument(help="Video files, folders of them, or glob patterns.", show_default=False),
    ],
    out: Annotated[
        str, typer.Option("--out", metavar="DIR", help="Folder the anonymized videos go to.")
    ],
    fit: FitOption = None,
    method: MethodOption = None,
    dataset: DatasetOption = Cell.dataset,
    preset: PresetOption = Cell.preset,
    set_: SetOption = None,
    seed: SeedOption = Cell.seed,
    data_root: DataRootOption = None,
    resolution: Annotated[
        str,
        typer.Option(
            help="auto: a learned fA* at its trained size, a fixed method at the source size; "
            "trained: at the short side the benchmark used (resize in, resize back); "
            "native: at the source size (off the training distribution for a learned fA*)."
        ),
    ] = "auto",
    batch: Annotated[int, typer.Option(min=1, max=4096, help="Frames per model call.")] = 16,
    preview: Annotated[
        bool, typer.Option("--preview", help="Also write <name>-preview.png: raw | anonymized.")
    ] = False,
    lossless: Annotated[
        bool, typer.Option("--lossless", help="Write FFV1 (exact RGB) in .mkv instead of H.264.")
    ] = False,
    overwrite: OverwriteOption = False,
    device: DeviceOption = "auto",
    plugin: PluginOption = None,
    results_dir: ResultsDirOption = None,
    cache_dir: CacheDirOption = None,
) -> None:
    """Anonymize video files with a stored fA* (--fit) or a method (--method ...).

    Each output has the source's frame count, size and frame rate (audio is dropped). An
    input that cannot be decoded is skipped and counted; the exit code is then 1. A file
    that exists is not replaced without --overwrite; nothing is written into the results
    store or over an input.
    """
    load_plugins(plugin)
    check_resolution(resolution)
    check_device(device)
    if not out.strip():
        raise BenchError("--out is empty; name the folder the anonymized videos go to")
    folder = Path(out).expanduser()
    files, extra = split_arguments(inputs + ctx.args)
    store = _store(results_dir)
    sources = find_inputs(files)
    suffix = choose_encoding(2, 2, lossless).suffix
    outputs = output_paths(sources, folder, suffix)
    planned = [(f"the output of {src}", dst) for src, dst in zip(sources, outputs, strict=True)]
    previews = {src: preview_path(folder, src) for src in sources} if preview else {}
    planned += [(f"the preview of {src}", png) for src, png in previews.items()]
    refuse_store_folder(folder, store.root)
    check_outputs(planned, [("an input", src) for src in sources], store.root, overwrite,
                  "another --out folder")  # fmt: skip
    chosen = _address(
        stored_fits(store, warn), fit, method, extra, dataset, preset, set_, seed, data_root
    )
    transform = transform_of(chosen, resolve_cache_dir(cache_dir), select_device(device))
    check_output_folder(folder)
    removed = clean_stale_temps(folder, is_output_name)
    if removed:
        console.print(
            f"removed {len(removed)} temp file(s) an interrupted `bench anonymize` left in "
            f"{escape(str(folder))}"
        )
    native = transform.resolution(resolution) == "native"
    console.print(
        f"anonymizing {len(sources)} file(s) with {escape(transform.name)} at "
        + ("the source size" if native else f"{transform.side} px (short side), the trained size")
        + (" (--resolution to change)" if resolution == "auto" else "")
    )
    done = skipped = 0
    with make_progress(console) as progress:
        for source, output in zip(sources, outputs, strict=True):
            strip = previews.get(source)
            result = anonymize_file(
                source,
                output,
                lambda frames: transform(frames, resolution),
                batch=batch,
                lossless=lossless,
                progress=progress,
                preview=strip,
            )
            if result.skipped:
                skipped += 1
                progress.console.print(
                    f"[yellow]skipped[/] {escape(str(source))}: {escape(result.skipped)}"
                )
                continue
            done += 1
            fps = result.frames / result.seconds if result.seconds else 0.0
            notes = "; ".join(result.notes)
            progress.console.print(
                f"[green]wrote[/] {escape(str(output))}: {result.frames} frames in "
                f"{result.seconds:.1f} s ({fps:.1f} frames/s; {escape(notes)})"
                + (f"; preview {escape(str(strip))}" if strip else "")
            )
    console.print(f"{done} anonymized, {skipped} skipped")
    if skipped:
        raise typer.Exit(1)


@user_errors
def export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="The file to write (e.g. fa.onnx).")],
    fmt: Annotated[str, typer.Option("--format", help=f"One of {', '.join(FORMATS)}.")] = "onnx",
    fit: FitOption = None,
    method: MethodOption = None,
    dataset: DatasetOption = Cell.dataset,
    preset: PresetOption = Cell.preset,
    set_: SetOption = None,
    seed: SeedOption = Cell.seed,
    data_root: DataRootOption = None,
    frames: Annotated[
        Path | None,
        typer.Option(
            help="Verify on the first frames of this video (default: rendered test frames)."
        ),
    ] = None,
    overwrite: OverwriteOption = False,
    plugin: PluginOption = None,
    results_dir: ResultsDirOption = None,
) -> None:
    """Export a stored fA* to ONNX or TorchScript (dynamic batch and frame size), verify it
    against the torch model and write a model card (<FILE>.card.json) beside it.

    A file that exists is not replaced without --overwrite; nothing is written into the
    results store or over the --frames video.
    """
    load_plugins(plugin)
    check_format(fmt)
    out = out.expanduser()
    if out.is_dir():
        raise BenchError(f"--out {out} is a folder; name the file to write, e.g. {out / 'fa.onnx'}")
    store = _store(results_dir)
    if frames is not None:
        check_regular_file(frames, "--frames")
    planned = [("the export", out), ("its model card", card_path(out))]
    given = [("the --frames video", frames)] if frames is not None else []
    check_outputs(planned, given, store.root, overwrite, "another --out file")
    chosen: Anonymizer = _address(
        stored_fits(store, warn), fit, method, ctx.args, dataset, preset, set_, seed, data_root
    )
    if chosen.fit is None:
        raise typer.BadParameter("only a learned fA* can be exported; name it with --fit KEY")
    fit_files = [("a file of the stored fit", p) for p in chosen.fit.folder.iterdir()]
    check_outputs(planned, given + fit_files, store.root, overwrite, "another --out file")
    clean_stale_temps(out.parent, {out.name, card_path(out).name}.__contains__)
    sample, where = verification_frames(frames, chosen.fit.preset.frame_size)
    with console.status(f"exporting fit {chosen.fit.key} to {fmt} and verifying it"):
        check, card = export_fit(chosen.fit, fmt, out, sample, where)
    console.print(
        f"[green]wrote[/] {escape(str(out))} ({fmt}; verified with {check.runtime}: "
        f"max |difference| {check.max_abs_diff:.2g} <= {TOLERANCE:g}) and {escape(str(card))}"
    )
