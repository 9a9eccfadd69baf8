"""The paper's published numbers, read from `results/paper/tableN.csv` (one row per cell),
which the package ships as `bench.reports.paper_numbers` (so a wheel install has them).

Values stay as printed (percent for top-1 and cMAP, fraction for F1); oddities of the paper
(swapped cells, drops that do not add up) are kept and explained in each row's `note`.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from bench.contract.errors import BenchError


def _paper_dir() -> Traversable | None:
    """The shipped CSV folder (results/paper/ in a checkout); None if the install lacks it."""
    try:
        return resources.files("bench.reports.paper_numbers")
    except ModuleNotFoundError:
        return None


PAPER_DIR = _paper_dir()
PAPER_TABLES = (1, 2, 3, 5, 6, 7, 8)


@dataclass(frozen=True)
class PaperCell:
    """One published number as printed, with its printed drop and any oddity."""

    printed: str
    printed_drop: str
    note: str


@dataclass(frozen=True)
class PaperKey:
    """Where a published number sits: row (method and parameters), column and metric."""

    method: str
    params: frozenset[tuple[str, Any]]
    dataset: str
    metric: str
    arch: str = ""
    init: str = "scratch"


def parse_params(text: str) -> frozenset[tuple[str, Any]]:
    """'B=0.3;lam=1.0' -> {('B', 0.3), ('lam', 1.0)}; numbers as floats, other values as text."""
    pairs = (item.split("=", 1) for item in text.split(";") if item)
    return frozenset((k, _number_or_text(v)) for k, v in pairs)


def params_key(params: Mapping[str, Any]) -> frozenset[tuple[str, Any]]:
    """A method's parameters in the form `parse_params` gives."""
    return frozenset((k, _number_or_text(v)) for k, v in params.items())


def _number_or_text(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


@functools.cache
def paper_table(number: int) -> dict[PaperKey, PaperCell]:
    """Every published cell of Table `number`."""
    path = None if PAPER_DIR is None else PAPER_DIR / f"table{number}.csv"
    if path is None or not path.is_file():
        raise BenchError(
            f"published numbers not found at {path}; the install lacks its package data: "
            "reinstall privbench (pip install .)"
        )
    cells: dict[PaperKey, PaperCell] = {}
    with io.StringIO(path.read_text(encoding="utf-8"), newline="") as fh:
        for row in csv.DictReader(fh):
            key = PaperKey(
                row["method"],
                parse_params(row["params"]),
                row["dataset"],
                row["metric"],
                row["arch"],
                row["init"],
            )
            cells[key] = PaperCell(row["value"], row["printed_drop"], row["note"])
    return cells
