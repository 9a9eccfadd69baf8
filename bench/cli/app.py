"""The `bench` Typer application: every command, loaded from its command-group module only
when it runs.

`bench --help` lists the commands with the first line of each command function's docstring,
read from the module's source (`ast`), so listing them imports neither torch nor the models;
`bench run ...` imports `bench.cli.run` alone.
"""

from __future__ import annotations

import ast
import importlib
from functools import cache
from pathlib import Path
from typing import Any

import typer
from typer import _click as click  # the click that typer runs on (it ships its own)
from typer.core import TyperCommand, TyperGroup

from bench.contract.config import CODE_VERSION

EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}
# name -> (module of bench.cli, its function or sub-app, context settings); in `--help` order
COMMANDS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "run": ("run", "run", EXTRA),
    "methods": ("listings", "methods", {}),
    "protocols": ("listings", "protocols", {}),
    "datasets": ("listings", "datasets", {}),
    "perf": ("perf", "perf", {}),
    "sweep": ("run", "sweep", {}),
    "compare": ("compare", "compare", EXTRA),
    "data": ("data", "data_app", {}),
    "table": ("tables", "table", {}),
    "calibrate": ("tables", "calibrate", {}),
    "claims": ("claims", "claims", {}),
    "figure": ("figures", "figure", {}),
    "report": ("figures", "report", {}),
    "leaderboard": ("figures", "leaderboard", {}),
    "fits": ("anonymizers", "fits", EXTRA),
    "anonymize": ("anonymizers", "anonymize", EXTRA),
    "export": ("anonymizers", "export", EXTRA),
    "weights": ("weights", "weights_app", {}),
    "records": ("records", "records_app", {}),
}
EPILOGS = {"run": ("run", "RUN_EPILOG")}  # command -> (module, constant) of its --help epilog


@cache
def _load(name: str) -> click.Command:
    """The real click command `name` (its module imported now)."""
    module_name, attribute, settings = COMMANDS[name]
    module = importlib.import_module(f"bench.cli.{module_name}")
    target = getattr(module, attribute)
    if isinstance(target, typer.Typer):
        return typer.main.get_command(target)
    single = typer.Typer(add_completion=False)
    epilog = None
    if name in EPILOGS:
        source, constant = EPILOGS[name]
        epilog = getattr(importlib.import_module(f"bench.cli.{source}"), constant)
    single.command(name=name, context_settings=settings, epilog=epilog)(target)
    command = typer.main.get_command(single)
    command.name = name
    return command


@cache
def _short_help(name: str) -> str:
    """The first line of the command's docstring (or its sub-app's help), without importing."""
    module_name, attribute, _ = COMMANDS[name]
    path = Path(__file__).with_name(f"{module_name}.py")
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == attribute:
            return (ast.get_docstring(node) or "").split("\n\n")[0].replace("\n", " ")
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == attribute for t in node.targets
        ):  # data_app = typer.Typer(help="...")
            for keyword in getattr(node.value, "keywords", []):
                if keyword.arg == "help" and isinstance(keyword.value, ast.Constant):
                    return str(keyword.value.value)
    return ""


class LazyCommands(TyperGroup):
    """A group whose commands are imported when one runs; listing them imports nothing."""

    listing = False  # True while the group's own help is written

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command, in `COMMANDS` order."""
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The real command; while listing, a stand-in that carries its name and help."""
        if cmd_name not in COMMANDS:
            return None
        if self.listing:
            return TyperCommand(cmd_name, help=_short_help(cmd_name))
        return _load(cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The group's help, listing stand-ins."""
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


app = typer.Typer(
    cls=LazyCommands,
    help="privbench: privacy-preserving action recognition benchmark.",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"privbench {CODE_VERSION}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """privbench: privacy-preserving action recognition benchmark."""
