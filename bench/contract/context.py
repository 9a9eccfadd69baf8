"""Per-run context: device, mixed precision, seeding, progress bars, stage timings and logs."""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text
from torch import nn

from bench.contract.config import EvalModels, Preset
from bench.contract.distributed import is_main, world, wrap
from bench.contract.errors import BenchError

if TYPE_CHECKING:
    from bench.contract.frames import PersonFinder


DEVICES = "auto, cpu, cuda or cuda:N"


def select_device(requested: str = "auto") -> torch.device:
    """'auto' picks CUDA when available, else CPU; 'cpu' / 'cuda' / 'cuda:N' are checked (the
    GPU present). Anything else is a BenchError saying which devices privbench runs on (torch
    knows more, e.g. mps and meta, where a command would fail half-way with a traceback)."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    kind, sep, index = requested.partition(":")
    if kind not in ("cpu", "cuda") or (sep and not (kind == "cuda" and index.isdigit())):
        try:
            torch.device(requested)
        except (RuntimeError, ValueError):
            raise BenchError(f"unknown device '{requested}'; use {DEVICES}") from None
        if kind == "mps" and not torch.backends.mps.is_built():
            raise BenchError(
                f"device '{requested}' is not available: this PyTorch build has no MPS "
                f"support; privbench runs on {DEVICES}"
            )
        raise BenchError(f"device '{requested}' is not supported; privbench runs on {DEVICES}")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BenchError(
            f"device '{requested}' requested but CUDA is not available; use --device cpu"
        )
    if device.type == "cuda":
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise BenchError(
                f"device '{requested}' requested but this machine has {count} GPU(s) "
                f"(cuda:0 to cuda:{count - 1}); use --device cuda or one of those"
            )
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick its kernels
    return device


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    """The preset's `precision` on `device`: bf16 autocast ('bf16'; 'auto' on CUDA only) or
    none (fp32)."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 natively (CUDA; a CPU with AVX512-BF16 or AMX), so
    that bf16 autocast is faster there than fp32, not an emulation."""
    if device.type != "cpu":
        return True
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class EpochEta(ProgressColumn):
    """Time left, from the mean time of the finished steps (epochs): an estimate from the
    first finished epoch on, where rich's own column waits for two updates within 30 s and
    so shows -:--:-- for slow epochs."""

    def render(self, task: Task) -> Text:
        """'eta H:MM:SS', '?' before the first step ends, nothing once finished."""
        if task.finished or task.total is None:
            return Text("")
        if not task.completed or not task.elapsed:
            return Text("eta ?", style="progress.remaining")
        left = task.elapsed / task.completed * (task.total - task.completed)
        minutes, seconds = divmod(round(left), 60)
        hours, minutes = divmod(minutes, 60)
        return Text(f"eta {hours}:{minutes:02d}:{seconds:02d}", style="progress.remaining")


class StageColumn(ProgressColumn):
    """'stage k/n' (dim) and the bar's description; bars that are not run stages (files of
    `bench anonymize`, pack builds) have no stage."""

    def render(self, task: Task) -> Text:
        """The stage counter, then the description padded to 28 characters."""
        stage = task.fields.get("stage", "")
        text = Text(f"{stage} " if stage else "", style="dim")
        text.append(f"{task.description:<28}", style="bold")
        return text


_flop_counters: list[Any] = []  # the FlopCounterMode `counting_flops` has active, if any


@contextlib.contextmanager
def counting_flops(counter: Any) -> Iterator[Any]:
    """Within: `counter` (a torch.utils.flop_counter.FlopCounterMode) counts every operation,
    and each `RunContext.stage` adds its GFLOP to the record's `details['gflop']`
    (`bench perf --profile`; counting slows a run, so its timings mean little)."""
    _flop_counters.append(counter)
    try:
        with counter:
            yield counter
    finally:
        _flop_counters.remove(counter)


def make_progress(console: Console) -> Progress:
    """The rich progress display used for every long stage."""
    return Progress(
        StageColumn(),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        EpochEta(),
        console=console,
        transient=False,
    )


class Diverged(BenchError):
    """A training loss or statistic became NaN or infinite."""


# The settings most likely to blow up each training stage, named when it diverges (stages
# not listed: the fresh fT' / fB').
DIVERGENCE_SUSPECTS: dict[str, tuple[str, ...]] = {
    "identity": ("lr_anon",),
    "budget_pretraining": ("lr_budget", "temperature"),
    "warmup": ("lr_utility", "lr_budget", "temperature"),
    "minimax": ("lr_anon", "lr_budget", "lr_utility", "temperature"),
    "budget_restart": ("lr_budget",),
}


@dataclass
class RunContext:
    """What every method and protocol needs to run one cell."""

    preset: Preset
    device: torch.device
    seed: int
    cache_dir: Path
    run_dir: Path
    console: Console
    progress: Progress
    timings: dict[str, float] = field(default_factory=dict)
    history: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    details: dict[str, dict[str, float]] = field(default_factory=dict)
    evaluation: EvalModels | None = None  # fT' / fB' choices; None: the preset's, from scratch
    fit_dir: Path | None = None  # where a learned fA* of this config is stored for reuse
    # where an attack protocol stores what it trains against fA* (the inversion network)
    attack_dir: Path | None = None
    fit_config: dict[str, Any] | None = None  # what its key hashes; stored in its log
    # finds people for a region baseline on data without person masks; None otherwise
    persons: PersonFinder | None = None
    loops: int = 0  # checkpointing training loops started so far (`next_loop`)
    # experiment loggers fed every row `log` records (`bench.orchestration.loggers`)
    sinks: list[Callable[[str, dict[str, float]], None]] = field(default_factory=list)
    compile: bool = False  # --compile: trained models go through torch.compile
    # progress bars the run expects to open (`plan_stages`) and has opened: 'stage k/n'
    planned_stages: int = 0
    bars: list[TaskID] = field(default_factory=list)

    @property
    def eval_models(self) -> EvalModels:
        """The fresh evaluation models' architectures and initialisations."""
        return self.evaluation or EvalModels.resolve(self.preset)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The preset's arithmetic on the run's device (`autocast`)."""
        return autocast(self.device, self.preset.precision)

    def train_module(self, model: nn.Module) -> nn.Module:
        """What a training loop calls to train `model` (already on the device): in
        channels-last memory (channels_last_3d for 3D convolutions), under torchrun in
        DistributedDataParallel, with --compile through torch.compile. `model` itself keeps
        the weights (for evaluation and checkpoints)."""
        conv3d = any(isinstance(m, nn.Conv3d) for m in model.modules())
        model.to(memory_format=torch.channels_last_3d if conv3d else torch.channels_last)
        trained = wrap(model)
        return torch.compile(trained) if self.compile else trained  # type: ignore[return-value]

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage; its wall seconds land in the record's `timings`."""
        start = time.perf_counter()
        counted = _flop_counters[-1].get_total_flops() if _flop_counters else None
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - start, 3)
            if counted is not None:
                gflop = (_flop_counters[-1].get_total_flops() - counted) / 1e9
                self.details.setdefault("gflop", {})[name] = round(gflop, 3)

    def plan_stages(self, count: int) -> None:
        """Announce `count` more progress bars (training stages) this run will open; the
        bars read 'stage k/n'. A protocol plans its evaluation stages, a learned method its
        training stages before the first of them starts."""
        self.planned_stages += count
        self._number_bars()

    def task(self, description: str, total: int) -> TaskID:
        """A new progress bar, numbered 'stage k/n'."""
        bar = self.progress.add_task(description, total=total, info="", stage="")
        self.bars.append(bar)
        self._number_bars()
        return bar

    def _number_bars(self) -> None:
        total = max(self.planned_stages, len(self.bars))
        for k, bar in enumerate(self.bars, start=1):
            self.progress.update(bar, stage=f"stage {k}/{total}")

    @property
    def scratch_dir(self) -> Path:
        """Run-local space for large intermediates (anonymized copies); removed after the run.
        Each of torchrun's processes has its own."""
        rank = world()
        return self.run_dir / ("scratch" if rank.size == 1 else f"scratch-{rank.rank}")

    def next_loop(self) -> int:
        """The number of the next checkpointing training loop of this run (0, 1, ...)."""
        self.loops += 1
        return self.loops - 1

    def note(self, key: str, text: str) -> None:
        """A fact about how the run went (e.g. a fallback taken); lands in the record's `notes`."""
        self.notes[key] = text

    def warn(self, text: str) -> None:
        """Print one warning line (a fallback taken, a file regenerated, a wait)."""
        self.console.print(f"[yellow]{escape(text)}", soft_wrap=True)

    def detail(self, key: str, values: dict[str, float]) -> None:
        """Named numbers beyond the metrics (e.g. AP per attribute); the record's `details`."""
        self.details[key] = {k: round(float(v), 6) for k, v in values.items()}

    def log(self, stage: str, **values: float) -> None:
        """Append one row of per-epoch values to the stage's history and the run log.

        A non-finite value (a diverged loss) stops the run with a `Diverged` error naming
        the stage, the epoch and the settings that likely caused it; nothing is stored.
        """
        bad = sorted(k for k, v in values.items() if not math.isfinite(float(v)))
        if bad:
            suspects = DIVERGENCE_SUSPECTS.get(stage, ("lr_action", "lr_privacy", "weight_decay"))
            settings = ", ".join(f"{k}={getattr(self.preset, k)}" for k in suspects)
            raise Diverged(
                f"training diverged in stage '{stage}' at epoch {values.get('epoch', '?')}: "
                f"{', '.join(f'{k}={values[k]}' for k in bad)}. Likely cause: a learning rate "
                f"too high or a bad setting ({settings}; or the method's parameters); "
                "change it with --set or the method's options. No fit and no record were stored."
            )
        row = {k: round(float(v), 5) for k, v in values.items()}
        self.history.setdefault(stage, []).append(row)
        if not is_main():  # under torchrun rank 0 alone writes the log
            return
        for sink in self.sinks:
            sink(stage, row)
        try:
            with (self.run_dir / "log.jsonl").open("a") as fh:
                fh.write(json.dumps({"stage": stage, **row}) + "\n")
        except OSError as exc:  # the record keeps the history anyway
            if "log" not in self.notes:
                self.note("log", f"run log not written ({exc.strerror})")
                self.warn(f"run log {self.run_dir / 'log.jsonl'} not written ({exc.strerror})")


def quiet_cpu_context(preset: Preset, cache_dir: Path, run_dir: Path, seed: int = 0) -> RunContext:
    """A RunContext for work outside `bench run` (figures, calibration, chance levels): on
    the CPU, at `seed` (0 unless given), printing nothing."""
    console = Console(quiet=True)
    device = torch.device("cpu")
    return RunContext(preset, device, seed, cache_dir, run_dir, console, make_progress(console))
