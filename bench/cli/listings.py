"""`bench methods`, `bench protocols`, `bench datasets`: what can be plugged in."""

from __future__ import annotations

import inspect
from typing import Annotated

import typer
from rich.markdown import Markdown
from rich.table import Table

from bench.cli.common import PluginOption, console, listing, load_plugins, user_errors
from bench.contract.dataset import DATASETS
from bench.contract.method import METHODS
from bench.contract.protocol import PROTOCOLS


@user_errors
def methods(
    name: Annotated[str | None, typer.Argument(help="Show one method in detail.")] = None,
    plugin: PluginOption = None,
) -> None:
    """List the registered anonymization methods and their parameters."""
    load_plugins(plugin)
    if name is not None:
        cls = METHODS.get(name)
        console.print(method_details(name))
        doc = inspect.getdoc(inspect.getmodule(cls)) or inspect.getdoc(cls) or ""
        console.print(Markdown(doc))
        if "recipe" in cls.params:  # a learned method: what each recipe does, and whence
            from bench.training import recipes

            console.print(Markdown(inspect.getdoc(recipes) or ""))
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


@user_errors
def protocols(plugin: PluginOption = None) -> None:
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


@user_errors
def datasets(plugin: PluginOption = None) -> None:
    """List the dataset families and their settings (known; novel where there is one)."""
    load_plugins(plugin)
    rows = [(name, ", ".join(cls.roles), cls.description) for name, cls in DATASETS.items()]
    console.print(
        listing("Datasets (bench run --dataset NAME)", ("name", "settings", "description"), rows)
    )
