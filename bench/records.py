"""Selecting stored records for tables and figures, and averaging them over seeds.

Tables and figures never train: they read records (see `bench.store`) and pick the ones a cell
asks for with a `Selector`. A selector names a method with some of its parameters, a protocol,
a dataset and some evaluation-model choices; everything it leaves out must be at its default
(the method's defaults, the preset's fT' / fB' from scratch), so Table 1's "B = 0.3" row never
picks up the lambda ablation or the ResNet-152 column.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import PRESETS, EvalModels
from bench.errors import BenchError
from bench.method import METHODS
from bench.store import ResultsStore, default_results_dir

# How the paper prints each metric: percent for top-1 and cMAP, a fraction for F1.
METRIC_SCALE = {"action_top1": 100.0, "privacy_cmap": 100.0, "privacy_f1": 1.0}
METRIC_DECIMALS = {"action_top1": 2, "privacy_cmap": 2, "privacy_f1": 3}


@dataclass(frozen=True)
class RunView:
    """The fields of a run that selectors look at (from a record or a planned sweep cell)."""

    method: str
    params: Mapping[str, Any]
    protocol: str
    dataset: str
    preset: str  # see `preset_label`
    seed: int
    evaluation: Mapping[str, str]
    default_evaluation: Mapping[str, str]  # what `evaluation` is when no model is chosen

    @classmethod
    def of_record(cls, record: Mapping[str, Any]) -> RunView:
        """The view of a stored record."""
        preset = record["config"]["preset"]
        return cls(
            record["method"],
            record["params"],
            record["protocol"],
            record["dataset"],
            preset_label(preset),
            record["seed"],
            record["evaluation"],
            dataclasses.asdict(EvalModels(preset["ft_arch"], preset["fb_arch"])),
        )


def preset_label(values: Mapping[str, Any]) -> str:
    """'tiny' for the named preset as shipped, 'tiny[anon_epochs=1]' with `--set` changes.

    Runs with changed settings are other experiments; tables keep them apart.
    """
    name = values["name"]
    shipped = dataclasses.asdict(PRESETS[name]) if name in PRESETS else {}
    changed = [
        f"{k}={_plain(v)}"
        for k, v in sorted(values.items())
        if k != "name" and _plain(v) != _plain(shipped.get(k))
    ]
    return f"{name}[{','.join(changed)}]" if changed else name


def _plain(value: Any) -> str:
    return json.dumps(value, default=list)


def full_params(method: str, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """`params` completed with the method's defaults; None for a method that is not registered."""
    if method not in METHODS.names():
        return None
    return METHODS.get(method).resolve_params(dict(params))


@dataclass(frozen=True)
class Selector:
    """Which runs feed one table cell or figure point (all seeds of them)."""

    method: str
    params: Mapping[str, Any] = field(default_factory=dict)
    protocol: str = "known"
    dataset: str = "synthetic"
    evaluation: Mapping[str, str] = field(default_factory=dict)

    def matches(self, run: RunView, preset: str) -> bool:
        """Whether `run` (at `preset`) is one of the runs this selector means."""
        if (run.method, run.protocol, run.dataset, run.preset) != (
            self.method,
            self.protocol,
            self.dataset,
            preset,
        ):
            return False
        return dict(run.params) == full_params(self.method, self.params) and dict(
            run.evaluation
        ) == {**run.default_evaluation, **self.evaluation}

    def with_method(self, method: str, params: Mapping[str, Any]) -> Selector:
        """The same protocol, data and models with another method (e.g. the raw reference)."""
        return dataclasses.replace(self, method=method, params=dict(params))


@dataclass(frozen=True)
class Stat:
    """A metric over seeds, in the paper's units (percent or fraction)."""

    mean: float
    std: float
    n: int
    seeds: tuple[int, ...]


class RecordSet:
    """Every record of one results folder, with selection and seed averaging."""

    def __init__(self, records: Iterable[Mapping[str, Any]], root: Path | None = None) -> None:
        self.records = list(records)
        self.root = root
        self.views = [RunView.of_record(r) for r in self.records]

    @classmethod
    def load(cls, folder: Path | None) -> RecordSet:
        """The records under `folder` (a results dir holding records/, or the records dir)."""
        root = Path(folder) if folder is not None else default_results_dir()
        if not root.exists():
            raise BenchError(f"--records {root}: no such folder; pass the results dir of your runs")
        if not (root / "records").is_dir() and any(root.glob("*.json")):
            root = root.parent  # given the records folder itself
        return cls(ResultsStore(root).all_records(), root)

    def presets(self, dataset: str) -> list[str]:
        """The presets that records of `dataset` were run at."""
        return sorted({v.preset for v in self.views if v.dataset == dataset})

    def preset_for(self, dataset: str, requested: str | None, fallback: str) -> str:
        """The one preset to read `dataset`'s records at; an error when that is ambiguous."""
        if requested is not None:
            return requested
        found = self.presets(dataset)
        if len(found) > 1:
            raise BenchError(
                f"records of '{dataset}' come from presets {', '.join(found)}; "
                "pass --preset to pick one"
            )
        return found[0] if found else fallback

    def select(self, selector: Selector, preset: str) -> list[Mapping[str, Any]]:
        """The records `selector` means, one per seed (the newest if a seed ran twice)."""
        by_seed: dict[int, Mapping[str, Any]] = {}
        for view, record in zip(self.views, self.records, strict=True):
            if selector.matches(view, preset):
                older = by_seed.get(view.seed)
                if older is None or record.get("created", "") > older.get("created", ""):
                    by_seed[view.seed] = record
        return [by_seed[s] for s in sorted(by_seed)]

    def stat(self, selector: Selector, metric: str, preset: str) -> Stat | None:
        """Mean and sample std over seeds of `metric`, in the paper's units; None if no run."""
        chosen = [r for r in self.select(selector, preset) if metric in r["metrics"]]
        if not chosen:
            return None
        scale = METRIC_SCALE.get(metric, 1.0)
        values = [float(r["metrics"][metric]) * scale for r in chosen]
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        seeds = tuple(int(r["seed"]) for r in chosen)
        return Stat(
            statistics.fmean(values), std if math.isfinite(std) else 0.0, len(values), seeds
        )
