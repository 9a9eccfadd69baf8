"""What every command shares: the consoles, user-error handling, option parsing and the
options spelled the same on every command (results dir, cache dir, plug-ins, data roots)."""

from __future__ import annotations

import contextlib
import functools
import inspect
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
    from bench.engine.resume import last_checkpoint  # imported here: keeps the CLI start light

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
    device = distributed.start(device)
    if not distributed.is_main():
        console.quiet = warnings.quiet = True
    try:
        yield device
    finally:
        distributed.stop()


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
