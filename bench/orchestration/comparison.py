"""`bench compare`: the cells a method author's new method needs to stand beside every stored
one (the known and novel protocols and the inversion attack, three seeds each, with raw's
reference cells), and how long the missing ones should take."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from bench.contract.method import METHODS
from bench.orchestration.cell import Cell
from bench.store.reading import RecordSet

COMPARE_PROTOCOLS = ("known", "novel", "inversion")
COMPARE_SEEDS = (0, 1, 2)


def comparison_cells(
    method: str,
    params: Mapping[str, Any],
    *,
    dataset: str = Cell.dataset,
    preset: str = Cell.preset,
    overrides: Mapping[str, str] | None = None,
    data_roots: Mapping[str, str] | None = None,
    protocols: tuple[str, ...] = COMPARE_PROTOCOLS,
    seeds: tuple[int, ...] = COMPARE_SEEDS,
) -> tuple[Cell, ...]:
    """The method's cells and raw's, per protocol and seed (raw first: the reference)."""
    cells = []
    for protocol in protocols:
        for seed in seeds:
            for name, values in (("raw", {}), (method, dict(params))):
                cells.append(
                    Cell(
                        method=name,
                        params=values,
                        protocol=protocol,
                        dataset=dataset,
                        preset=preset,
                        overrides=dict(overrides or {}),
                        seed=seed,
                        data_roots=dict(data_roots or {}),
                    )
                )
    return tuple(cells)


def estimated_seconds(cell: Cell, records: RecordSet) -> float | None:
    """A cell's expected wall time: the median `time.total` of stored runs of the same method
    and protocol; else of runs under that protocol whose methods are learned (or fixed) as
    this one is; else the same two under any protocol; None when no record compares."""
    trains = METHODS.get(cell.method).trainable
    tiers: list[list[float]] = [[], [], [], []]
    for record, view in zip(records.records, records.views, strict=True):
        timings = record.get("timings") or {}
        total = timings.get("total")
        if not isinstance(total, int | float):
            continue
        reused = any(k.startswith("reused_") for k in timings)  # a reused fit's run took less
        same_protocol = view.protocol == cell.protocol
        if view.method == cell.method:
            tiers[0 if same_protocol else 2].append(float(total))
        elif view.trains == trains and not reused:
            tiers[1 if same_protocol else 3].append(float(total))
    found = next((t for t in tiers if t), None)
    return statistics.median(found) if found else None
