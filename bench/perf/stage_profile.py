"""`bench perf --profile`: where one cell's time goes, stage by stage, against the machine.

A cell is run twice in a fresh results dir with a shared, warm data cache (data generation
is not profiled): once timed (each stage's wall seconds, from the record's `timings`), once
under `torch.utils.flop_counter.FlopCounterMode`, which counts every stage's floating-point
operations (forward and backward) but slows the run, so its own times are not used. The
machine's peak is measured in the same process and on the same threads: a large matrix
product in the preset's arithmetic (`precision`: bf16 autocast, or fp32). A stage's
efficiency is its achieved GFLOP/s over that peak.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console
from torch.utils.flop_counter import FlopCounterMode

from bench.contract.config import RunConfig
from bench.contract.context import autocast, counting_flops
from bench.orchestration.runner import execute, reference_config
from bench.store.results import ResultsStore

PEAK_SIZE = 2048  # side of the square matrices of the peak measurement
PEAK_REPEATS = 8


@dataclass(frozen=True)
class StageProfile:
    """One stage of a cell: wall seconds, GFLOP, achieved GFLOP/s and its share of peak."""

    stage: str
    seconds: float
    gflop: float
    peak_gflops: float

    @property
    def gflops(self) -> float:
        """Achieved GFLOP/s."""
        return self.gflop / self.seconds if self.seconds > 0 else 0.0

    @property
    def of_peak(self) -> float:
        """Achieved over peak, a fraction."""
        return self.gflops / self.peak_gflops if self.peak_gflops else 0.0


def matmul_peak(device: torch.device, precision: str) -> float:
    """GFLOP/s of a PEAK_SIZE^2 matrix product on `device` in `precision` (the preset's
    arithmetic, `autocast`; best of PEAK_REPEATS)."""
    a = torch.randn(PEAK_SIZE, PEAK_SIZE, device=device)
    b = torch.randn(PEAK_SIZE, PEAK_SIZE, device=device)
    with autocast(device, precision):
        torch.matmul(a, b)  # warm-up
    best = float("inf")
    for _ in range(PEAK_REPEATS):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with autocast(device, precision):
            torch.matmul(a, b)
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * PEAK_SIZE**3 / best / 1e9


def profile_cell(
    cfg: RunConfig, cache_dir: Path, device: str, console: Console
) -> list[StageProfile]:
    """Every stage of `cfg`'s cell (see the module), in the order the record lists them."""
    quiet = Console(quiet=True)
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        # a one-epoch raw run renders (or reads) the data first: its stage times only the load
        short = dataclasses.replace(cfg.preset, action_epochs=1, privacy_epochs=1)
        warm = dataclasses.replace(reference_config(cfg), preset=short)
        execute(warm, ResultsStore(Path(tmp, "warm")), cache_dir, device, console=quiet)
        console.print(f"timing {cfg.method} ...")
        timed = execute(cfg, ResultsStore(Path(tmp, "timed")), cache_dir, device, console=quiet)
        console.print(f"counting the FLOPs of {cfg.method} (a slower run) ...")
        with counting_flops(FlopCounterMode(display=False)) as counter:
            counted = execute(
                cfg, ResultsStore(Path(tmp, "counted")), cache_dir, device, console=quiet
            )
            total = counter.get_total_flops() / 1e9
    flops = {**counted.data["details"].get("gflop", {}), "total": total}
    ran_on = torch.device(timed.data["provenance"].get("device", "cpu"))
    peak = matmul_peak(ran_on, cfg.preset.precision)
    return [
        StageProfile(stage, float(seconds), float(flops.get(stage, 0.0)), peak)
        for stage, seconds in timed.data["timings"].items()
    ]
