"""Selecting stored records for tables and figures, and averaging them over seeds.

Tables and figures never train: they read records (see `bench.store.results`) and pick the ones a cell
asks for with a `Selector`. A selector names a method with some of its parameters, a protocol,
a dataset and some evaluation-model choices; everything it leaves out must be at its default
(the method's defaults, the preset's fT' / fB' from scratch), so Table 1's "B = 0.3" row never
picks up the lambda ablation or the ResNet-152 column.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import statistics
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.contract.config import (
    ANONYMIZER_TRAINING_KEYS,
    PRESETS,
    EvalModels,
    Preset,
    config_digest,
    upgrade_preset_values,
)
from bench.contract.dataset import DATASETS
from bench.contract.errors import BenchError
from bench.contract.method import METHODS
from bench.store.index import read_indexed
from bench.store.results import ResultsStore, read_record, resolve_results_dir

# How the paper prints each metric: percent for top-1 and cMAP, a fraction for F1.
METRIC_SCALE = {"action_top1": 100.0, "privacy_cmap": 100.0, "privacy_f1": 1.0}
METRIC_DECIMALS = {"action_top1": 2, "privacy_cmap": 2, "privacy_f1": 3}
# the inversion attack's (Table 9): cMAP of fB' on fA*(test) in percent, PSNR in dB, SSIM
for _prefix in ("anonymized_", "raw_"):
    METRIC_SCALE.update({f"{_prefix}privacy_cmap": 100.0, f"{_prefix}privacy_f1": 1.0})
    METRIC_DECIMALS.update({f"{_prefix}privacy_cmap": 2, f"{_prefix}privacy_f1": 3})
for _prefix in ("reconstruction_", "anonymized_"):
    METRIC_SCALE.update({f"{_prefix}psnr": 1.0, f"{_prefix}ssim": 1.0})
    METRIC_DECIMALS.update({f"{_prefix}psnr": 2, f"{_prefix}ssim": 3})


@dataclass(frozen=True)
class RunView:
    """The fields of a run that selectors look at (from a record or a planned sweep cell)."""

    method: str
    params: Mapping[str, Any]
    protocol: str
    dataset: str
    preset: str  # see `preset_label`
    shared_preset: str  # the label without the anonymizer-training settings
    trains: bool  # whether the run trains an anonymizer (its preset has those settings)
    seed: int
    evaluation: Mapping[str, str]
    default_evaluation: Mapping[str, str]  # what `evaluation` is when no model is chosen

    @classmethod
    def of(
        cls,
        method: str,
        params: Mapping[str, Any],
        protocol: str,
        dataset: str,
        preset: Mapping[str, Any],
        seed: int,
        evaluation: Mapping[str, str | None],
    ) -> RunView:
        """A view from a run's parts; `preset` holds the values its config stores."""
        if method in METHODS.names():
            params = METHODS.get(method).upgrade_params(dict(params))
        label, shared, trains, default = _preset_view(json.dumps(preset, sort_keys=True))
        return cls(
            method,
            params,
            protocol,
            dataset,
            label,
            shared,
            trains,
            seed,
            {k: evaluation.get(k) or v for k, v in default.items()},
            dict(default),
        )

    @classmethod
    def of_record(cls, record: Mapping[str, Any]) -> RunView:
        """The view of a stored record."""
        return cls.of(
            record["method"],
            record["params"],
            record["protocol"],
            record["dataset"],
            record["config"]["preset"],
            record["seed"],
            record["evaluation"],
        )


@functools.lru_cache(maxsize=1024)
def _preset_view(stored: str) -> tuple[str, str, bool, dict[str, str]]:
    """What a view takes from a stored preset (as JSON; the same for all runs at it, so
    computed once): its label, the label without the anonymizer-training settings, whether
    it has those, and the default evaluation models."""
    preset = upgrade_preset_values(json.loads(stored))
    default = dataclasses.asdict(EvalModels(preset["aux_ft_arch"], preset["aux_fb_arch"]))
    shared = {k: v for k, v in preset.items() if k not in ANONYMIZER_TRAINING_KEYS}
    return preset_label(preset), preset_label(shared), len(shared) < len(preset), default


def preset_label(values: Mapping[str, Any]) -> str:
    """'tiny' for the named preset as shipped, 'tiny[anon_epochs=1 frames=16]' with `--set`
    changes (written as `--set` takes them).

    Runs with changed settings are other experiments; tables keep them apart. A fixed method's
    config leaves out the anonymizer-training settings, so its label never lists them.
    """
    name = values["name"]
    shipped = _shipped_texts(PRESETS[name]) if name in PRESETS else {}
    texts = {k: setting_text(v) for k, v in values.items() if k != "name"}
    changed = [f"{k}={text}" for k, text in sorted(texts.items()) if shipped.get(k) != text]
    return f"{name}[{' '.join(changed)}]" if changed else name


@functools.cache
def _shipped_texts(preset: Preset) -> dict[str, str]:
    """A shipped preset's values as `--set` takes them (computed once per preset)."""
    return {k: setting_text(v) for k, v in dataclasses.asdict(preset).items()}


def setting_text(value: Any) -> str:
    """A preset value as `--set KEY=VALUE` takes it ('3,32' for a list)."""
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


def full_params(method: str, params: Mapping[str, Any], dataset: str) -> dict[str, Any] | None:
    """`params` completed with the method's defaults, as a run on `dataset` records them;
    None for a method that is not registered."""
    if method not in METHODS.names():
        return None
    return METHODS.get(method).cell_params(dict(params), dataset)


@dataclass(frozen=True)
class Selector:
    """Which runs feed one table cell or figure point (all seeds of them)."""

    method: str
    params: Mapping[str, Any] = field(default_factory=dict)
    protocol: str = "known"
    dataset: str = "synthetic"
    evaluation: Mapping[str, str] = field(default_factory=dict)

    def matches(self, run: RunView, preset: str, shared: str | None = None) -> bool:
        """Whether `run` is one of the runs this selector means at `preset`. A fixed method's
        run also matches when its preset is `shared`: `preset` without the anonymizer-training
        settings, which fixed methods never use."""
        return self._matches(run, preset, shared, None)

    def _matches(
        self, run: RunView, preset: str, shared: str | None, wanted: dict[str, Any] | None
    ) -> bool:
        """`matches`, given `full_params` of this selector when already computed."""
        at_preset = run.preset == preset or (not run.trains and run.preset == (shared or preset))
        if not at_preset or (run.method, run.protocol, run.dataset) != (
            self.method,
            self.protocol,
            self.dataset,
        ):
            return False
        if wanted is None:
            wanted = full_params(self.method, self.params, self.dataset)
        return dict(run.params) == wanted and dict(run.evaluation) == {
            **run.default_evaluation,
            **self.evaluation,
        }

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

    @classmethod
    def of(cls, values: Mapping[int, float]) -> Stat | None:
        """Mean and sample std (0 for one value) of seed -> value; None without values."""
        if not values:
            return None
        found = list(values.values())
        std = statistics.stdev(found) if len(found) > 1 else 0.0
        return cls(statistics.fmean(found), std, len(found), tuple(sorted(values)))


def stale_data(record: Mapping[str, Any]) -> tuple[str, str] | None:
    """(the record's data version, the dataset's now) when a generated dataset has changed
    since the record was run (its numbers are of other data); None otherwise."""
    dataset = record.get("dataset", "")
    if dataset not in DATASETS.names():
        return None
    now = DATASETS.get(dataset).version
    then = record.get("config", {}).get("data_version", "")
    return (then or "v?", now) if now and then != now else None


def _one_cell_twice(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """A line per cell stored under two keys (a record of before the results schema beside
    its adopted copy, or one merged in from another machine): tables read the newest."""
    cells: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        cells.setdefault(config_digest(record["config"]), []).append(record)
    return [
        f"{len(found)} records of one cell ({found[0]['method']} {found[0]['protocol']} "
        f"{found[0]['dataset']} seed {found[0]['seed']}): "
        f"{', '.join(sorted(r['key'] for r in found))}; tables read the newest"
        for found in cells.values()
        if len(found) > 1
    ]


class RecordSet:
    """Every record of one results folder, with selection and seed averaging."""

    def __init__(
        self,
        records: Iterable[Mapping[str, Any]],
        root: Path | None = None,
        skipped: Iterable[str] = (),
        views: Iterable[RunView] | None = None,
    ) -> None:
        self.records = list(records)
        self.root = root
        self.skipped = list(skipped)  # records that could not be read, with why
        self.views = (
            list(views) if views is not None else [RunView.of_record(r) for r in self.records]
        )
        self._shared = {v.preset: v.shared_preset for v in self.views}
        self.notes: list[str] = []  # what a reader chose for the user (`preset_for`), to print
        self._cells: dict[tuple[str, str, str], list[int]] | None = None
        self._cells_of = 0

    @classmethod
    def load(cls, folder: str | Path | None) -> RecordSet:
        """The records under `folder` (a results dir holding records/, or the records dir);
        unreadable ones are skipped and listed in `skipped`."""
        root = resolve_results_dir(folder)
        if not root.is_dir():
            what = "is a file, not a folder" if root.exists() else "no such folder"
            raise BenchError(f"--results-dir {root}: {what}; pass the results dir of your runs")
        if not (root / "records").is_dir() and any(root.glob("*.json")):
            root = root.parent  # given the records folder itself
        store = ResultsStore(root)
        records, views = [], []
        entries, skipped = read_indexed(store.root, store.records_dir, read_record)
        stale: Counter[tuple[str, str, str]] = Counter()
        for entry in entries:
            record = entry.record
            if record is None:
                skipped.append(str(entry.problem))
                continue
            try:
                view = RunView.of_record(record)
            except BenchError as exc:
                skipped.append(str(exc))
            except (KeyError, TypeError):
                skipped.append(
                    f"record '{entry.path}' predates this version's format; rerun its run"
                )
            else:
                outdated = stale_data(record)
                if outdated:
                    stale[(record["dataset"], *outdated)] += 1
                    continue
                records.append(record)
                views.append(view)
        for (dataset, old, new), n in sorted(stale.items()):
            skipped.append(
                f"{n} record{'s' if n > 1 else ''} of {dataset} data {old} left out: the "
                f"data is {new} now; rerun them (a sweep reruns exactly those cells)"
            )
        skipped += _one_cell_twice(records)
        return cls(records, root, skipped, views)

    def _cell(self, method: str, protocol: str, dataset: str) -> list[int]:
        """The positions of the runs of `method` under `protocol` on `dataset` (grouped once,
        so selecting a cell does not look at every record)."""
        if self._cells is None or self._cells_of != len(self.views):
            cells: dict[tuple[str, str, str], list[int]] = {}
            for i, v in enumerate(self.views):
                cells.setdefault((v.method, v.protocol, v.dataset), []).append(i)
            self._cells, self._cells_of = cells, len(self.views)
        return self._cells.get((method, protocol, dataset), [])

    def shared_of(self, preset: str) -> str:
        """`preset`'s label without the anonymizer-training settings."""
        return self._shared.get(preset, preset)

    def unregistered(self) -> dict[str, int]:
        """Records per method that is not registered in this process (a plug-in loaded
        without its `--plugin` file): tables and figures cannot place them."""
        known = set(METHODS.names())
        return dict(sorted(Counter(v.method for v in self.views if v.method not in known).items()))

    def presets(self, dataset: str, protocols: Collection[str] | None = None) -> list[str]:
        """The presets that records of `dataset` (under `protocols`, default all) were run at
        (fixed methods' runs count under every preset they share all other settings with)."""
        views = [
            v
            for v in self.views
            if v.dataset == dataset and (protocols is None or v.protocol in protocols)
        ]
        trained = {v.preset for v in views if v.trains}
        covered = {self.shared_of(p) for p in trained}
        return sorted(trained | {v.preset for v in views if not v.trains} - covered)

    def check_preset(self, requested: str | None) -> None:
        """An error when `--preset` names a preset no record was run at."""
        found = sorted({p for d in {v.dataset for v in self.views} for p in self.presets(d)})
        if requested is not None and found and requested not in found:
            raise BenchError(
                f"--preset {requested}: no records at it; records were run at {', '.join(found)}"
            )

    def preset_for(
        self,
        dataset: str,
        requested: str | None,
        fallback: str,
        protocols: Collection[str] | None = None,
    ) -> str:
        """The one preset to read `dataset`'s records (under `protocols`, default all) at:
        `requested` where it has records, else the only one found. Among several, `fallback`
        (the default preset) where it has records, else the one with the most; the others
        are named in `notes`."""
        found = self.presets(dataset, protocols)
        if requested is not None and (requested in found or not found):
            return requested
        if len(found) <= 1:
            return found[0] if found else fallback
        counts = Counter(
            v.preset
            for v in self.views
            if v.dataset == dataset and (protocols is None or v.protocol in protocols)
        )
        chosen = fallback if fallback in found else max(found, key=lambda p: (counts[p], p))
        others = ", ".join(p for p in found if p != chosen)
        note = (
            f"records of '{dataset}' at {chosen} are shown; others were run at {others} "
            "(pass --preset to show those)"
        )
        if note not in self.notes:
            self.notes.append(note)
        return chosen

    def select(self, selector: Selector, preset: str) -> list[Mapping[str, Any]]:
        """The records `selector` means, one per seed (the newest if a seed ran twice)."""
        by_seed: dict[int, Mapping[str, Any]] = {}
        shared = self.shared_of(preset)
        wanted = full_params(selector.method, selector.params, selector.dataset)
        for i in self._cell(selector.method, selector.protocol, selector.dataset):
            view, record = self.views[i], self.records[i]
            if selector._matches(view, preset, shared, wanted):
                older = by_seed.get(view.seed)
                if older is None or record.get("created", "") > older.get("created", ""):
                    by_seed[view.seed] = record
        return [by_seed[s] for s in sorted(by_seed)]

    def stat(
        self,
        selector: Selector,
        metric: str,
        preset: str,
        seeds: Iterable[int] | None = None,
    ) -> Stat | None:
        """Mean and sample std over seeds (all, or only `seeds`) of `metric`, in the paper's
        units; None if no run."""
        wanted = None if seeds is None else set(seeds)
        chosen = [
            r
            for r in self.select(selector, preset)
            if metric in r["metrics"] and (wanted is None or r["seed"] in wanted)
        ]
        if not chosen:
            return None
        scale = METRIC_SCALE.get(metric, 1.0)
        values = [float(r["metrics"][metric]) * scale for r in chosen]
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        seeds_used = tuple(int(r["seed"]) for r in chosen)
        return Stat(
            statistics.fmean(values), std if math.isfinite(std) else 0.0, len(values), seeds_used
        )

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per record (see `record_row`), every row with the same columns in the
        same order (a value the record lacks is None)."""
        flat = [record_row(r, v) for r, v in zip(self.records, self.views, strict=True)]
        columns = row_columns(flat)
        return [{c: row.get(c) for c in columns} for row in flat]

    def to_frame(self) -> Any:
        """`rows()` as a pandas DataFrame; a BenchError naming the extra when pandas is not
        installed."""
        try:
            import pandas
        except ImportError:
            raise BenchError(FRAMES_MISSING.format(what="a DataFrame", package="pandas")) from None
        rows = self.rows()
        return pandas.DataFrame(rows, columns=list(rows[0]) if rows else row_columns([]))


FRAMES_MISSING = '{what} needs {package}, which is not installed: pip install "privbench[frames]"'
# the first columns of a record's row, in order; then param.*, the metrics, ap.*, time.*, TAIL
HEAD_COLUMNS = ("key", "method", "protocol", "dataset", "preset", "seed")
EVALUATION_COLUMNS = ("ft_arch", "fb_arch", "ft_init", "fb_init")
TAIL_COLUMNS = ("fit_key", "data_version", "created")


def _flat(value: Any) -> Any:
    """A cell: numbers, text, booleans and None as they are, anything else as JSON text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True)


def record_row(record: Mapping[str, Any], view: RunView) -> dict[str, Any]:
    """A record as one flat row: key, method, `param.NAME` per parameter, protocol, dataset,
    preset (its label: `tiny[anon_epochs=1]` for `--set` changes), seed, the evaluation models
    (ft_arch, fb_arch, ft_init, fb_init), each metric under its name, `ap.ATTRIBUTE` per
    attribute's average precision (`details.privacy_ap`), `time.STAGE` per timing in seconds,
    `cost.NAME` per measured cost (`bench.training.cost`), fit_key, data_version and created."""
    details = record.get("details")
    aps = details.get("privacy_ap") if isinstance(details, Mapping) else None
    timings = record.get("timings")
    cost = record.get("cost") if isinstance(record.get("cost"), Mapping) else None
    row: dict[str, Any] = {
        "key": record["key"],
        "method": view.method,
        **{f"param.{k}": _flat(v) for k, v in sorted(view.params.items())},
        "protocol": view.protocol,
        "dataset": view.dataset,
        "preset": view.preset,
        "seed": view.seed,
        **{k: view.evaluation.get(k) for k in EVALUATION_COLUMNS},
        **{k: _flat(v) for k, v in sorted(record["metrics"].items())},
        **{f"ap.{k}": _flat(v) for k, v in sorted((aps or {}).items())},
        **{f"time.{k}": _flat(v) for k, v in sorted((timings or {}).items())},
        **{f"cost.{k}": _flat(v) for k, v in sorted((cost or {}).items())},
        "fit_key": record.get("fit_key"),
        "data_version": record.get("config", {}).get("data_version"),
        "created": record.get("created"),
    }
    return row


def row_columns(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The columns of `rows` together: the fixed ones in order, each group's sorted."""
    params: set[str] = set()
    metrics: set[str] = set()
    aps: set[str] = set()
    times: set[str] = set()
    costs: set[str] = set()
    fixed = {*HEAD_COLUMNS, *EVALUATION_COLUMNS, *TAIL_COLUMNS}
    for row in rows:
        for column in row:
            if column.startswith("param."):
                params.add(column)
            elif column.startswith("ap."):
                aps.add(column)
            elif column.startswith("time."):
                times.add(column)
            elif column.startswith("cost."):
                costs.add(column)
            elif column not in fixed:
                metrics.add(column)
    return [
        *HEAD_COLUMNS[:2],
        *sorted(params),
        *HEAD_COLUMNS[2:],
        *EVALUATION_COLUMNS,
        *sorted(metrics),
        *sorted(aps),
        *sorted(times),
        *sorted(costs),
        *TAIL_COLUMNS,
    ]
