"""`bench weights`: every pretrained checkpoint a run can load, where it is looked for, whether
it is on this machine and intact, and the lines that fetch the missing ones (nothing is ever
downloaded by privbench itself)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from bench.cli.common import (
    CacheDirOption,
    PluginOption,
    console,
    listing,
    load_plugins,
    user_errors,
)
from bench.models.checkpoint_catalog import (
    Check,
    Checkpoint,
    check_checkpoint,
    checkpoints,
    expected_sizes,
)
from bench.models.weights import weight_dirs

weights_app = typer.Typer(
    help="Pretrained checkpoints: where each is looked for, whether it is there and intact.",
    invoke_without_command=True,
    add_completion=False,
)

WgetOption = Annotated[
    bool, typer.Option("--wget", help="Print wget lines to fetch the missing files, not curl.")
]


def _cache(cache_dir: Path | None) -> Path:
    from bench.data.cache import resolve_cache_dir  # imported here: keeps `--help` light

    return resolve_cache_dir(cache_dir)


def _size(size: int | None) -> str:
    return "?" if size is None else f"{size / 2**20:.1f} MiB"


def _file_size(check: Check) -> int | None:
    """The size of the file found, where torchvision does not tell the expected one."""
    try:
        return check.path.stat().st_size if check.path is not None else None
    except OSError:
        return None


def _on_disk(check: Check) -> str:
    where = f"\n{check.path}" if check.path is not None else ""
    if check.state == "corrupt":
        return f"CORRUPT (sha256 {str(check.sha256)[:8]}...){where}"
    if check.state == "unchecked":
        return f"present (no sha256 in its name){where}"
    return f"{check.state}{where}"


def _looked_in(cache: Path) -> str:
    return ", then ".join(str(d) for d in weight_dirs(cache))


def fetch_lines(found: list[tuple[Checkpoint, Check]], cache: Path, wget: bool) -> list[str]:
    """Shell lines that fetch every missing or damaged checkpoint into the folder it is looked
    for in first (a damaged one over itself)."""
    lines: list[str] = []
    first = weight_dirs(cache)[0]
    for entry, check in found:
        if check.usable:
            continue
        dest = check.path or first / entry.weights.filename
        url = shlex.quote(entry.weights.url)
        if wget:
            lines.append(f"wget -O {shlex.quote(str(dest))} {url}")
        else:
            lines.append(f"curl -L -o {shlex.quote(str(dest))} {url}")
    if any(c.path is None for _, c in found if not c.usable):
        lines.insert(0, f"mkdir -p {shlex.quote(str(first))}")
    return lines


@weights_app.callback(invoke_without_command=True)
@user_errors
def weights(
    ctx: typer.Context,
    cache_dir: CacheDirOption = None,
    plugin: PluginOption = None,
    wget: WgetOption = False,
) -> None:
    """List every checkpoint a preset, fT', fB' or the person detector can load: its URL,
    sha256 prefix, size, and whether it is on this machine and verified."""
    if ctx.invoked_subcommand is not None:
        return
    load_plugins(plugin)
    cache = _cache(cache_dir)
    sizes = expected_sizes()
    found = [(entry, check_checkpoint(entry.weights, cache)) for entry in checkpoints()]
    rows = [
        (
            entry.weights.url,
            "\n".join(entry.uses),
            entry.weights.sha256_prefix or "none published",
            _size(sizes.get(entry.weights.url, _file_size(check))),
            _on_disk(check),
        )
        for entry, check in found
    ]
    columns = ("checkpoint (its URL)", "used by", "sha256 prefix", "size", "on this machine")
    console.print(listing("Pretrained checkpoints", columns, rows))
    console.print(f"Looked for in {escape(_looked_in(cache))} (--cache-dir, $TORCH_HOME).")
    states = [check.state for _, check in found]
    counts = ", ".join(
        f"{states.count(s)} {s}"
        for s in ("verified", "unchecked", "corrupt", "unreadable", "missing")
        if s in states
    )
    console.print(f"{len(found)} checkpoints: {counts}.")
    lines = fetch_lines(found, cache, wget)
    if lines:
        console.print(
            "Nothing is downloaded at run time; with internet access, fetch the missing or "
            "damaged ones with:"
        )
        for line in lines:
            typer.echo(line)


@weights_app.command("verify")
@user_errors
def verify(cache_dir: CacheDirOption = None, plugin: PluginOption = None) -> None:
    """Check every checkpoint on this machine against the sha256 prefix in its name; exit 1
    if any is damaged."""
    load_plugins(plugin)
    cache = _cache(cache_dir)
    bad = present = 0
    missing = 0
    for entry in checkpoints():
        check = check_checkpoint(entry.weights, cache)
        if check.path is None:
            missing += 1
            continue
        present += 1
        path = escape(str(check.path))
        if check.state == "verified":
            console.print(f"[green]verified[/]   {path}")
        elif check.state == "unchecked":
            console.print(f"unchecked  {path}: its name carries no sha256 to check")
        else:
            bad += 1
            why = (
                f"its sha256 starts {str(check.sha256)[:8]}, its name says "
                f"{entry.weights.sha256_prefix}"
                if check.state == "corrupt"
                else "it cannot be read"
            )
            console.print(
                f"[bold red]{check.state}[/]  {path}: {why}; download "
                f"{escape(entry.weights.url)} again",
                soft_wrap=True,
            )
    if present == 0:
        console.print(f"no checkpoint is on this machine (looked in {escape(_looked_in(cache))})")
    else:
        console.print(
            f"{present} present, {bad} damaged; {missing} missing "
            "(`bench weights` prints the lines that fetch them)"
        )
    if bad:
        raise typer.Exit(1)
