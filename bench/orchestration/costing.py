"""`bench records cost`: measure the cost of the anonymizer behind each stored record that has
none (records made before costs were measured), and store it in that record.

A fixed method is rebuilt from the record's parameters; a learned one gets its stored fA*
(`fits/<fit key>/`), so the figure is of the very network the record scored. Either is run
at the record's preset on this machine's device (`bench.training.cost`); the cost notes the
device. Records whose learned fit is not stored, or whose method is not registered (a
plug-in not passed with --plugin), are skipped with the reason.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from bench.contract.config import PRESETS, Preset
from bench.contract.context import RunContext, make_progress
from bench.contract.method import METHODS
from bench.store.results import CorruptRecord, ResultsStore, read_record
from bench.training.cost import measure_cost
from bench.training.fits import CHECKPOINT, load_state


@dataclass
class CostReport:
    """What `add_costs` did."""

    added: list[str] = field(default_factory=list)  # record keys
    had: int = 0  # records that already held a cost
    skipped: list[str] = field(default_factory=list)  # 'key: why'


def record_preset(record: dict[str, Any]) -> Preset:
    """The preset a record ran with: its named preset with the stored settings laid over it."""
    stored = record.get("config", {}).get("preset", {})
    name = str(stored.get("name") or str(record.get("preset", "tiny")).split("[")[0])
    base = PRESETS.get(name, PRESETS["tiny"])
    fields = {f.name for f in dataclasses.fields(base)}
    changes: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v
        for k, v in stored.items()
        if k in fields and k != "name"
    }
    return dataclasses.replace(base, **changes)


def add_costs(
    store: ResultsStore,
    device: torch.device,
    progress: Callable[[str], None] = lambda _: None,
) -> CostReport:
    """Measure and store the cost of every record of `store` that has none."""
    report = CostReport()
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as scratch:
        for path in sorted(store.records_dir.glob("*.json")):
            try:
                record = read_record(path)
            except CorruptRecord as exc:
                report.skipped.append(f"{path.stem}: {exc}")
                continue
            if isinstance(record.get("cost"), dict):
                report.had += 1
                continue
            key = str(record["key"])
            progress(f"{record['method']} {key}")
            why = _measure(record, store, device, Path(scratch))
            if why:
                report.skipped.append(f"{key}: {why}")
                continue
            store.save(record)
            report.added.append(key)
    return report


def _measure(
    record: dict[str, Any], store: ResultsStore, device: torch.device, scratch: Path
) -> str:
    """Put the cost into `record`; '' on success, else why it cannot be measured."""
    name = str(record["method"])
    if name not in METHODS.names():
        return f"method '{name}' is not registered (pass its plug-in file with --plugin)"
    cls = METHODS.get(name)
    try:
        method = cls(**cls.upgrade_params(dict(record.get("params", {}))))
    except Exception as exc:  # parameters of another version of the method
        return f"its parameters are not valid now ({exc})"
    console = Console(quiet=True)
    preset = record_preset(record)
    ctx = RunContext(
        preset, device, int(record.get("seed", 0)), scratch, scratch, console,
        make_progress(console),
    )  # fmt: skip
    if cls.trainable:
        checkpoint = store.fit_dir(str(record.get("fit_key"))) / CHECKPOINT
        state, why = load_state(checkpoint) if checkpoint.is_file() else (None, "not stored")
        if not isinstance(state, dict):
            return f"its fA* ({checkpoint}) cannot be read: {why or 'not a state dict'}"
        method.load_state_dict(state, ctx)
    record["cost"] = measure_cost(method, ctx).as_dict()
    return ""
