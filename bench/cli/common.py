"""What every command shares: the consoles, user-error handling, option parsing and the
options spelled the same on every command (results dir, cache dir, plug-ins, data roots)."""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.contract import distributed
from bench.contract.config import PRESET_KEYS
from bench.contract.errors import BenchError
from bench.contract.plugins import load_plugin
from bench.store.results import resolve_results_dir

console = Console()
warnings = Console(stderr=True)  # notes that must not mix into a table printed to stdout
F = TypeVar("F", bound=Callable[..., Any])


def warn(text: str) -> None:
    """One warning line on stderr (a file regenerated, a lock waited for)."""
    warnings.print(f"[yellow]warning:[/] {escape(text)}", soft_wrap=True)


def user_errors(func: F) -> F:
    """BenchError -> one red line and exit 2 (or the error's `exit_code`: 75 for a preempted
    run, which resumes when run again); Ctrl-C -> one line and exit 130 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BenchError as exc:
            console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(getattr(exc, "exit_code", 2)) from None
        except KeyboardInterrupt:
            console.print(f"[yellow]interrupted[/]: {escape(interrupted_text())}")
            raise typer.Exit(130) from None

    wrapper.__signature__ = inspect.signature(func, eval_str=True)  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def interrupted_text() -> str:
    """What Ctrl-C leaves: finished records and videos, and a training checkpoint to resume."""
    from bench.training.checkpointing import (
        last_checkpoint,  # imported here: keeps the CLI start light
    )

    kept = "what was finished (records, videos) is kept"
    saved = last_checkpoint()
    if saved is None:
        return f"{kept}; what was in progress was not written"
    return (
        f"{kept}, and training was checkpointed after {saved}: run the same command again to "
        "resume from there"
    )


@contextlib.contextmanager
def processes(device: str) -> Iterator[str]:
    """Under torchrun: join its process group for the command (rank 0 alone prints); the
    device this process uses. Without torchrun: `device` itself."""
    device = distributed.start(check_device(device))
    if not distributed.is_main():
        console.quiet = warnings.quiet = True
    try:
        yield device
    finally:
        distributed.stop()


def check_device(name: str) -> str:
    """`name` if it is a device privbench runs on (`select_device`), else a BenchError."""
    from bench.contract.context import select_device

    select_device(name)
    return name


STORE_FOLDERS = ("records", "runs", "fits", "locks")  # a results dir's store, as ResultsStore
STORE_TEXT = "where bench keeps its records, runs and fits"


def results_root(results_dir: Path | None) -> Path:
    """The results dir a command reads (`--results-dir`, else $BENCH_RESULTS_DIR, else
    ./results); a BenchError when it, or one of its store folders, exists and is no folder
    (its records would otherwise read as none, silently)."""
    root = resolve_results_dir(results_dir)
    if root.exists() and not root.is_dir():
        raise BenchError(
            f"results dir '{root}' is a file, not a folder; pass --results-dir (or set "
            "BENCH_RESULTS_DIR to) the folder that holds records/, runs/ and fits/"
        )
    for name in STORE_FOLDERS:
        folder = root / name
        if folder.exists() and not folder.is_dir():
            raise BenchError(
                f"results dir '{root}' is damaged: '{folder}' is a file, not a folder; "
                f"move it away (or pass another --results-dir)"
            )
    return root


def resolved(path: Path) -> Path:
    """`path` absolute with its symlinks resolved (as far as it can be: a loop stays)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return path.absolute()


def store_folder_of(path: Path, root: Path) -> Path | None:
    """The results store folder (records/, runs/, fits/, locks/ of `root`) that `path` is
    in, symlinks resolved on both sides; None when it is outside them."""
    where = resolved(path)
    for name in STORE_FOLDERS:
        folder = resolved(root / name)
        if where == folder or where.is_relative_to(folder):
            return root / name
    return None


def refuse_store_folder(folder: Path, root: Path) -> None:
    """A BenchError when the `--out` folder is inside the results store of `root`."""
    inside = store_folder_of(folder, root)
    if inside is not None:
        raise BenchError(
            f"--out {folder} is inside the results store ({inside}), {STORE_TEXT}; choose "
            "another --out folder"
        )


def same_file(a: Path, b: Path) -> bool:
    """Whether `a` and `b` name one file: the same path once symlinks are resolved, or
    (both existing) the same inode (a hard link, a case-insensitive file system)."""
    if resolved(a) == resolved(b):
        return True
    try:
        sa, sb = a.stat(), b.stat()
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def check_outputs(
    outputs: Sequence[tuple[str, Path]],
    inputs: Sequence[tuple[str, Path]],
    root: Path,
    overwrite: bool,
    other: str,
) -> None:
    """Refuse (BenchError, one line) what a command would write, before anything is: any
    output inside the results store of `root`, equal to an input or to another output, or a
    folder; and, without `overwrite`, one that exists. `outputs` and `inputs` are
    (what it is, path) pairs, e.g. ("the preview of a.mp4", a-preview.png), ("an input",
    a.mp4); `other` is what to choose instead (e.g. "another --out folder")."""
    seen: list[tuple[str, Path]] = []
    for what, path in outputs:
        folder = store_folder_of(path, root)
        if folder is not None:
            raise BenchError(
                f"{what} would be written to {path}, inside the results store ({folder}), "
                f"{STORE_TEXT}; choose {other}"
            )
        for kind, source in inputs:
            if same_file(path, source):
                raise BenchError(
                    f"{what} would be written to {path}, which is {kind}; choose {other}"
                )
        for earlier, at in seen:
            if same_file(path, at):
                raise BenchError(
                    f"{earlier} and {what} would both be written to {path}; choose {other}"
                )
        seen.append((what, path))
        if path.is_dir():
            raise BenchError(
                f"{what} would be written to {path}, which is a folder; choose {other}"
            )
        if os.path.lexists(path) and not overwrite:
            raise BenchError(
                f"{what} would replace the existing file {path}; pass --overwrite to replace "
                f"it, or choose {other}"
            )


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
    """The `--NAME VALUE` / `--NAME=VALUE` tokens left over by `bench run`: method parameters."""
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


def listing(title: str, columns: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> Table:
    """A table of registered plug-ins (or shipped files), one row each."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


PluginOption = Annotated[
    list[Path] | None,
    typer.Option(
        help="A .py file that registers extra methods (or protocols / datasets); repeatable."
    ),
]
ResultsDirOption = Annotated[
    Path | None,
    typer.Option(
        "--results-dir",
        help="Results root (records/, runs/, fits/); default $BENCH_RESULTS_DIR or ./results.",
    ),
]
CacheDirOption = Annotated[
    Path | None,
    typer.Option(
        help="Dataset / pretrained cache; default $BENCH_CACHE_DIR or ~/.cache/privbench."
    ),
]
DataRootOption = Annotated[
    list[str] | None,
    typer.Option(help="Folder of a real dataset, NAME=DIR (repeatable), e.g. ucf101=/data/UCF101."),
]
DeviceOption = Annotated[str, typer.Option(help="auto (CUDA if available), cpu, cuda, cuda:N.")]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a preset value, KEY=VALUE (repeatable). Keys: " + ", ".join(PRESET_KEYS),
    ),
]


def split_arguments(tokens: list[str]) -> tuple[list[str], list[str]]:
    """Positional arguments and `--NAME VALUE` method options, mixed in any order on a
    command that takes both (Click hands unknown options over as positional ones)."""
    positional: list[str] = []
    options: list[str] = []
    rest = list(tokens)
    while rest:
        token = rest.pop(0)
        if token.startswith("--") and len(token) > 2:
            options.append(token)
            if "=" not in token and rest and not rest[0].startswith("--"):
                options.append(rest.pop(0))
        else:
            positional.append(token)
    return positional, options
