"""Sweep files: the cartesian product of runs a TOML file lists, run resumably and in shards.

    description = "Table 2 on the synthetic benchmark"
    protocol = "novel"                # a value or a list, for each of the keys below
    dataset = "synthetic"
    preset = "tiny"
    seed = [0]
    # ft_arch / fb_arch / ft_init / fb_init: the fresh fT' / fB' (default: the preset's)

    [set]                             # preset overrides for every cell (bench run --set)
    anon_epochs = 12

    [data_root]                       # real datasets (bench run --data-root)
    ucf101 = "/data/UCF101"

    [launcher]                        # bench sweep --launcher slurm / local (flags override)
    partition = "gpu"
    gpus_per_job = 1
    time = 1440                       # minutes per job
    array_parallelism = 32
    sbatch = { constraint = "h100" }  # any other sbatch option

    [[method]]
    name = "raw"

    [[method]]
    name = "penalty"
    B = [0.3, 0.5, 0.7, 0.9]          # every list multiplies the cells

    [[grid]]                          # optional: several products in one file; each grid
    ft_arch = "r2plus1d_18"           # overrides the top-level keys above (and may list
    ft_init = "kinetics400"           # its own [[grid.method]] tables)

Without [[grid]] the file is one grid. The cells are the union of every grid's product.

A cell is done when its record exists, so an interrupted sweep resumes where it stopped, and
`--shard i/n` runs every n-th cell: independent processes share a sweep without talking to each
other (records are one file per cell, written atomically).
"""

from __future__ import annotations

import itertools
import math
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from bench.contract.config import RunConfig
from bench.contract.errors import BenchError
from bench.orchestration.cell import CELL_DEFAULTS, Cell
from bench.store.results import ResultsStore

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# the `Cell` fields a sweep file (or one of its grids) may give, a value or a list each;
# an axis it leaves out is the Cell's default
AXES = ("protocol", "dataset", "preset", "seed", "ft_arch", "fb_arch", "ft_init", "fb_init")
TOP_KEYS = {"description", "method", "set", "data_root", "grid", "launcher", *AXES}
GRID_KEYS = {"method", *AXES}


@dataclass(frozen=True)
class Sweep:
    """A parsed sweep file."""

    path: Path
    description: str
    cells: tuple[Cell, ...]
    launcher: dict[str, Any] = field(default_factory=dict)  # the [launcher] table

    @property
    def name(self) -> str:
        """The file's name without .toml (where its cluster jobs keep their logs)."""
        return self.path.stem


def find_sweep(name: str) -> Path:
    """A sweep file path, or the name of a shipped one (`bench sweep --list`)."""
    path = Path(name).expanduser()
    if path.is_file():
        return path
    shipped = shipped_sweeps()
    stem = name.removesuffix(".toml")
    if stem in shipped:
        return shipped[stem]
    raise BenchError(
        f"no sweep file '{name}'; give a .toml path or one of: {', '.join(sorted(shipped))}"
    )


def shipped_sweeps() -> dict[str, Path]:
    """The sweep files that come with privbench, by name."""
    folder = resources.files("bench") / "sweeps"
    return {
        Path(entry.name).stem: Path(str(entry))
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    }


def _values(raw: Any) -> list[Any]:
    return list(raw) if isinstance(raw, list) else [raw]


def _product(options: dict[str, Any]) -> list[dict[str, Any]]:
    """Every combination of the listed values (scalars count as one-element lists)."""
    keys = list(options)
    return [
        dict(zip(keys, combo, strict=True))
        for combo in itertools.product(*(_values(options[k]) for k in keys))
    ]


LARGE_SWEEP = 2000  # cells above which `bench sweep` asks for --yes


class TooManyCells(BenchError):
    """A sweep file whose product is larger than the caller agreed to plan."""


def parse_sweep(
    path: Path, data_roots: dict[str, str] | None = None, max_cells: int | None = None
) -> Sweep:
    """Read a sweep file into cells; structural mistakes are BenchErrors naming the key.
    More than `max_cells` cells is a `TooManyCells` error, raised before any is built."""
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"sweep file '{path}' cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise BenchError(f"sweep file '{path}' is not valid TOML: {exc}") from None
    except RecursionError:  # the parser recurses once per nested array or inline table
        raise BenchError(
            f"sweep file '{path}' is not valid TOML (arrays or tables nested too deeply)"
        ) from None
    unknown = sorted(set(doc) - TOP_KEYS)
    if unknown:
        raise BenchError(
            f"sweep file '{path}': unknown key '{unknown[0]}'; known keys: {', '.join(sorted(TOP_KEYS))}"
        )
    for table in ("set", "data_root", "launcher"):
        if not isinstance(doc.get(table, {}), dict):
            raise BenchError(f"sweep file '{path}': [{table}] must be a table of KEY = VALUE")
    overrides = {k: _setting(v) for k, v in doc.get("set", {}).items()}
    roots = {k: str(v) for k, v in doc.get("data_root", {}).items()} | (data_roots or {})
    grids = []
    for grid in doc.get("grid") or [{}]:
        unknown = sorted(set(grid) - GRID_KEYS)
        if unknown:
            raise BenchError(
                f"sweep file '{path}': [[grid]] key '{unknown[0]}' is not one of "
                f"{', '.join(sorted(GRID_KEYS))}"
            )
        methods = grid.get("method", doc.get("method"))
        if not isinstance(methods, list) or not methods:
            raise BenchError(f"sweep file '{path}' lists no [[method]] tables; add at least one")
        for entry in methods:
            if not isinstance(entry, dict) or "name" not in entry:
                raise BenchError(f"sweep file '{path}': every [[method]] needs a name = \"...\"")
        grids.append((methods, {k: grid.get(k, doc.get(k, CELL_DEFAULTS[k])) for k in AXES}))
    count = sum(_count(methods, axes) for methods, axes in grids)
    if max_cells is not None and count > max_cells:
        raise TooManyCells(
            f"sweep file '{path}' has {count:,} cells (more than {max_cells:,}); check its "
            "lists, or pass --yes to plan and run them all"
        )
    cells = [
        c for methods, axes in grids for c in _grid_cells(path, methods, axes, overrides, roots)
    ]
    return Sweep(path, str(doc.get("description", "")), tuple(cells), doc.get("launcher", {}))


def _count(methods: list[dict[str, Any]], axes: dict[str, Any]) -> int:
    """How many cells one grid has (without building them)."""
    per_method = [math.prod(len(_values(v)) for k, v in m.items() if k != "name") for m in methods]
    return sum(per_method) * math.prod(len(_values(v)) for v in axes.values())


def _grid_cells(
    path: Path,
    methods: list[Any],
    axes: dict[str, Any],
    overrides: dict[str, str],
    roots: dict[str, str],
) -> list[Cell]:
    """The product of one grid's methods (with their parameter lists) and axes."""
    cells = []
    for entry in methods:
        params = {k: v for k, v in entry.items() if k != "name"}
        for method_params in _product(params):
            for combo in _product(axes):
                cells.append(
                    Cell(
                        method=str(entry["name"]),
                        params=method_params,
                        overrides=overrides,
                        data_roots=roots,
                        **combo | {"seed": _seed(path, combo["seed"])},
                    )
                )
    return cells


def _seed(path: Path, value: Any) -> int:
    """A seed from the file; anything but an integer is a user error."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BenchError(f"sweep file '{path}': seed {value!r} must be an integer")
    return value


def _setting(value: Any) -> str:
    """A [set] value as `--set` would give it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def parse_shard(raw: str | None) -> tuple[int, int]:
    """'i/n' -> (i, n) with 1 <= i <= n; None -> (1, 1)."""
    if raw is None:
        return 1, 1
    index, sep, count = raw.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = 0, 0
    if not sep or n < 1 or not 1 <= i <= n:
        raise BenchError(f"--shard {raw}: expected I/N with 1 <= I <= N, e.g. --shard 1/4")
    return i, n


def in_shard(position: int, shard: tuple[int, int]) -> bool:
    """Whether the cell at 0-based `position` belongs to shard (i, n): every n-th from i."""
    i, n = shard
    return position % n == i - 1


@dataclass(frozen=True)
class PlannedCell:
    """A sweep cell with its validated config, and whether it is done and in this shard."""

    cell: Cell
    config: RunConfig
    done: bool
    mine: bool


def sweep_plan(
    cells: tuple[Cell, ...], shard: tuple[int, int], store: ResultsStore
) -> list[PlannedCell]:
    """Validate every cell before anything runs; drop repeats (same key) keeping the first."""
    planned: list[PlannedCell] = []
    seen: set[str] = set()
    for cell in cells:
        config = cell.config()
        key = config.key()
        if key in seen:
            continue
        seen.add(key)
        position = len(planned)
        done = store.exists(key, config.legacy_keys())  # older keys are adopted when it runs
        planned.append(PlannedCell(cell, config, done, in_shard(position, shard)))
    return planned
