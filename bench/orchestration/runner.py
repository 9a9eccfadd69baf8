"""Run one benchmark cell: reuse its record, or train, evaluate and store a new one."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.markup import escape

from bench.contract.config import RunConfig
from bench.contract.context import (
    RunContext,
    make_progress,
    native_bf16,
    seed_everything,
    select_device,
)
from bench.contract.dataset import DATASETS
from bench.contract.distributed import agree, is_main, main_lock
from bench.contract.errors import BenchError
from bench.contract.method import METHODS, Method
from bench.contract.protocol import PROTOCOLS
from bench.data.cache import ensure_cache_dir
from bench.models.action import action_checkpoint
from bench.models.privacy import privacy_checkpoint
from bench.models.weights import find_weights, require_weights
from bench.orchestration.loggers import check_loggers, open_loggers
from bench.store.provenance import provenance
from bench.store.results import ResultsStore
from bench.training.checkpointing import forget_checkpoints, stop_signals
from bench.training.cost import measure_cost
from bench.training.person_region import DetectedPeople
from bench.training.probe import game_convergence
from bench.training.scoring import check_checkpoints


@dataclass(frozen=True)
class Record:
    """A run's stored record (`data`, as JSON), its file, and whether it was read from the
    store rather than computed now."""

    data: dict[str, Any]
    path: Path
    reused: bool

    @property
    def key(self) -> str:
        """The record's key (hash of the resolved config and the code version)."""
        return str(self.data["key"])

    @property
    def metrics(self) -> dict[str, float]:
        """The protocol's metrics, as fractions in [0, 1]."""
        return dict(self.data["metrics"])


def reference_config(cfg: RunConfig) -> RunConfig:
    """The raw-data reference of a cell: the same protocol, data, preset and seed."""
    return cfg.with_method("raw", {}, trains_anonymizer=METHODS.get("raw").trainable)


def execute(
    cfg: RunConfig,
    store: ResultsStore,
    cache_dir: Path,
    device: str = "auto",
    force: bool = False,
    console: Console | None = None,
    loggers: tuple[str, ...] = (),
    compile_models: bool = False,
) -> Record:
    """The record of `cfg`: stored one unless `force`, else computed and written atomically.

    Everything is checked before any folder is made. Workers on one cell take turns (its
    lock): the second waits, then reuses the first one's record. A run that fails stores
    no record and leaves no empty run folder. Training checkpoints each epoch; a killed or
    preempted (SIGTERM / SIGUSR1: `Preempted`) run resumes when run again.
    """
    console = console or Console()
    key = cfg.key()
    if is_main() and store.records_dir.is_dir():
        adopt_legacy(store, cfg)
    if not force and (stored := _stored(store, cfg, console)) is not None:
        return stored
    # under torchrun every process runs the cell, rank 0 decides, holds the lock and writes
    torch_device = select_device(device)
    check_local_files(cfg, cache_dir)
    check_loggers(loggers)
    persons = person_finder(cfg, cache_dir, torch_device)
    store.ensure_writable()
    ensure_cache_dir(cache_dir)
    warn = lambda text: console.print(f"[yellow]{escape(text)}", soft_wrap=True)  # noqa: E731
    with stop_signals(), main_lock(store.cell_lock(key, warn)):
        if not force and (stored := _stored(store, cfg, console, quiet=True)) is not None:
            return stored  # a worker that held the lock computed it meanwhile
        if is_main():
            store.clean_stale_temps(cache_dir)
        run_dir = store.run_dir(key)
        try:
            record = _compute(
                cfg,
                store,
                cache_dir,
                torch_device,
                console,
                run_dir,
                persons,
                loggers,
                compile_models,
            )
            if not is_main():
                return Record(record, store.record_path(key), reused=False)
            path = store.save(record)
            shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)  # the record has it all
            forget_checkpoints()
        except BaseException:
            if is_main():
                _drop_if_empty(run_dir)
            raise
    return Record(record, path, reused=False)


def check_local_files(cfg: RunConfig, cache_dir: Path) -> None:
    """Every checkpoint the cell reads (fT' / fB' initialisations, the auxiliary fT / fB of a
    learned method, the person detector of a region baseline on real data) is on this
    machine; else a BenchError naming file, URL and folders."""
    check_checkpoints(cfg.eval_models, cache_dir)
    settle_aux_inits(cfg, cache_dir, allow_scratch=False)
    persons = person_finder(cfg, cache_dir, torch.device("cpu"))
    if persons is not None:
        persons.check()


def settle_aux_inits(cfg: RunConfig, cache_dir: Path, allow_scratch: bool) -> RunConfig:
    """The cell as it can run here: a learned method's auxiliary fT / fB whose pretrained
    checkpoint is not on disk stops the run (naming file, URL and folders), or with
    `allow_scratch` starts from scratch, written into the preset (so into the key and the
    table label: `paper[aux_ft_init=scratch]`), never under the pretrained key."""
    if not cfg.trains_anonymizer:
        return cfg
    p = cfg.preset
    missing = {
        setting: checkpoint
        for setting, checkpoint in (
            ("aux_ft_init", action_checkpoint(p.aux_ft_arch, p.aux_ft_init)),
            ("aux_fb_init", privacy_checkpoint(p.aux_fb_arch, p.aux_fb_init)),
        )
        if checkpoint is not None and find_weights(checkpoint, cache_dir) is None
    }
    if not missing:
        return cfg
    if not allow_scratch:
        setting, checkpoint = next(iter(missing.items()))
        try:
            require_weights(checkpoint, cache_dir, f"--set {setting}={getattr(p, setting)}")
        except BenchError as exc:
            raise BenchError(
                f"{exc}; or pass --allow-scratch (or --set {setting}=scratch) to train the "
                "auxiliary model from scratch under its own key"
            ) from None
    preset = p
    for setting in missing:
        preset = dataclasses.replace(preset, **{setting: "scratch"})  # type: ignore[arg-type]
    return dataclasses.replace(cfg, preset=preset)


def person_finder(cfg: RunConfig, cache_dir: Path, device: torch.device) -> DetectedPeople | None:
    """The person detector a region baseline needs on data without person masks, else None."""
    if not DATASETS.get(cfg.dataset).detects_people:
        return None
    regions = METHODS.get(cfg.method).person_regions(cfg.param_dict)
    if regions is None:
        return None
    return DetectedPeople(regions, cache_dir, device)


def _stored(
    store: ResultsStore, cfg: RunConfig, console: Console, quiet: bool = False
) -> Record | None:
    """The stored record of `cfg`; None if there is none, or (with a warning) if it is
    corrupt. Under torchrun, rank 0's answer."""
    key = cfg.key()
    path = store.record_path(key)
    if not agree(path.exists()):
        return None
    try:
        return Record(store.load(key), path, reused=True)
    except BenchError as exc:
        if not quiet:
            console.print(f"[yellow]{escape(str(exc))}; computing it again", soft_wrap=True)
        return None


def adopt_legacy(store: ResultsStore, cfg: RunConfig) -> None:
    """Move the record and fA* of `cfg` stored under their keys of before the results schema
    (package version and data paths hashed) to their keys now; nothing is recomputed."""
    updates: dict[str, Any] = {"config": cfg.canonical()}
    if cfg.trains_anonymizer:
        updates["fit_key"] = cfg.fit_key()
        store.adopt_legacy_fit(cfg.fit_key(), cfg.legacy_fit_keys())
    store.adopt_legacy(cfg.key(), cfg.legacy_keys(), updates)


def _compute(
    cfg: RunConfig,
    store: ResultsStore,
    cache_dir: Path,
    device: torch.device,
    console: Console,
    run_dir: Path,
    persons: DetectedPeople | None = None,
    loggers: tuple[str, ...] = (),
    compile_models: bool = False,
) -> dict[str, Any]:
    """Train and evaluate the cell; its new record (not yet stored)."""
    method = METHODS.get(cfg.method)(**cfg.param_dict)
    protocol = PROTOCOLS.get(cfg.protocol)()
    dataset = DATASETS.get(cfg.dataset)({k: Path(v) for k, v in cfg.data_roots})
    if is_main():
        (run_dir / "log.jsonl").unlink(missing_ok=True)
    seed_everything(cfg.seed)
    started = time.perf_counter()
    with (
        make_progress(console) as progress,
        open_loggers(loggers if is_main() else (), run_dir) as sinks,
    ):
        ctx = RunContext(
            cfg.preset,
            device,
            cfg.seed,
            cache_dir,
            run_dir,
            console,
            progress,
            evaluation=cfg.eval_models,
            fit_dir=store.fit_dir(cfg.fit_key()) if method.trainable else None,
            fit_config=cfg.fit_config() if method.trainable else None,
            attack_dir=store.attack_dir(cfg.attack_key()) if cfg.reads_attack_settings else None,
            persons=persons,
            sinks=sinks,
            compile=compile_models,
        )
        ctx.plan_stages(protocol.evaluation_stages)
        if cfg.preset.precision == "bf16" and not native_bf16(device):
            ctx.warn(
                f"precision=bf16 on a {device.type} without native bf16 (AVX512-BF16 or AMX) "
                "is emulated and slower than fp32; --set precision=fp32 runs faster (its "
                "records have their own key)"
            )
        if compile_models:  # not part of the key: the same computation, compiled
            ctx.note("compile", "trained models ran through torch.compile (--compile)")
        try:
            metrics = protocol.run(method, dataset, ctx)
        except SystemExit as exc:
            raise BenchError(
                f"plug-in code called sys.exit({exc.code}) during the run of method "
                f"'{cfg.method}' / protocol '{cfg.protocol}'; a plug-in must raise an "
                "exception instead (nothing was stored)"
            ) from None
        finally:
            shutil.rmtree(ctx.scratch_dir, ignore_errors=True)
        cost = _cost(method, ctx)
    ctx.timings["total"] = round(time.perf_counter() - started, 3)
    return new_record(
        cfg,
        metrics,
        timings=ctx.timings,
        history=ctx.history,
        notes=ctx.notes,
        details=ctx.details,
        environment=provenance(device),
        run_dir=str(run_dir),
        cost=cost,
    )


def _cost(method: Method, ctx: RunContext) -> dict[str, Any] | None:
    """The fitted method's cost (`bench.training.cost`); None, with a note, where it cannot be
    measured (a plug-in whose anonymize() fails on the probe clips): the run is not lost."""
    with ctx.stage("cost"):
        try:
            return measure_cost(method, ctx).as_dict()
        except Exception as exc:  # a plug-in's anonymize() may fail on any input
            ctx.note("cost", f"not measured: {type(exc).__name__}: {exc}")
            return None


def _drop_if_empty(run_dir: Path) -> None:
    """Remove a failed run's folder when it holds nothing (or only an empty log)."""
    log = run_dir / "log.jsonl"
    if log.is_file() and log.stat().st_size == 0:
        log.unlink()
    with contextlib.suppress(OSError):
        run_dir.rmdir()


def new_record(
    cfg: RunConfig,
    metrics: dict[str, float],
    *,
    timings: dict[str, float] | None = None,
    history: dict[str, list[dict[str, float]]] | None = None,
    notes: dict[str, str] | None = None,
    details: dict[str, dict[str, float]] | None = None,
    environment: dict[str, Any] | None = None,
    run_dir: str = "",
    created: str | None = None,
    cost: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The record of a finished run of `cfg`: what the store keeps and the tables read."""
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return {
        "key": cfg.key(),
        "method": cfg.method,
        "params": cfg.param_dict,
        "protocol": cfg.protocol,
        "dataset": cfg.dataset,
        "preset": cfg.preset.name,
        "seed": cfg.seed,
        "evaluation": dataclasses.asdict(cfg.eval_models),
        "fit_key": cfg.fit_key() if cfg.trains_anonymizer else None,
        "config": cfg.canonical(),
        "metrics": metrics,
        "timings": timings or {},
        "history": history or {},
        # whether the minimax game converged or hit its maximum (None for fixed methods)
        "convergence": game_convergence(
            history or {}, cfg.preset.anon_epochs, cfg.preset.anon_tolerance
        ),
        "notes": notes or {},
        "details": details or {},
        "provenance": environment or {},
        # parameters, FLOPs per frame, frames/s of anonymize() (`bench.training.cost`)
        "cost": cost,
        "run_dir": run_dir,
        "created": created or now,
    }
