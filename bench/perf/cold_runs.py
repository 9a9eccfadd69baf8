"""`bench perf`: time cold `bench run` invocations and check them against the benchmark's targets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Timed:
    """Wall seconds of one CLI invocation and the record it wrote."""

    args: tuple[str, ...]
    seconds: float
    record: dict[str, Any]


def timed_cold_run(args: list[str], extra: list[str]) -> Timed:
    """Run `bench run ARGS` in a fresh cache and results dir (data generation included)."""
    with tempfile.TemporaryDirectory(prefix="bench-perf-") as tmp:
        env = os.environ | {
            "BENCH_CACHE_DIR": f"{tmp}/cache",
            "BENCH_RESULTS_DIR": f"{tmp}/results",
        }
        cmd = [sys.executable, "-m", "bench.cli", "run", *args, *extra]
        start = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        method = args[args.index("--method") + 1]
        records = [
            json.loads(p.read_text()) for p in Path(tmp, "results", "records").glob("*.json")
        ]
        [record] = [r for r in records if r["method"] == method]
    return Timed(tuple(args), seconds, record)


def main_job_checks(raw: Timed, penalty: Timed) -> list[tuple[str, str, str, bool]]:
    """(figure, measured, target, met) for the main job's speed and quality targets (raw and penalty at B = 0.3, tiny preset)."""
    rm, pm = raw.record["metrics"], penalty.record["metrics"]
    drop = rm["privacy_cmap"] - pm["privacy_cmap"]
    ratio = pm["action_top1"] / rm["action_top1"]
    return [
        ("wall: bench run --method raw", f"{raw.seconds:.1f} s", "<= 60 s", raw.seconds <= 60),
        (  # the main job of the README's first set-up command: it computes its raw reference too
            "wall: bench run --method penalty --B 0.3",
            f"{penalty.seconds:.1f} s",
            "<= 300 s",
            penalty.seconds <= 300,
        ),
        ("raw action top-1", f"{rm['action_top1']:.3f}", ">= 0.90", rm["action_top1"] >= 0.9),
        ("raw privacy cMAP", f"{rm['privacy_cmap']:.3f}", ">= 0.90", rm["privacy_cmap"] >= 0.9),
        ("penalty action top-1 / raw", f"{ratio:.3f}", ">= 0.80", ratio >= 0.8),
        ("raw cMAP - penalty cMAP", f"{drop:.3f}", ">= 0.15", drop >= 0.15),
    ]


FIXED_BASELINES: tuple[tuple[str, ...], ...] = (
    ("--method", "downsample", "--factor", "2"),
    ("--method", "downsample", "--factor", "4"),
    ("--method", "blackening"),
    ("--method", "blur", "--strength", "strong"),
    ("--method", "blur", "--strength", "weak"),
)
BASELINE_BUDGET_S = 120.0


def baseline_checks(runs: list[Timed]) -> list[tuple[str, str, str, bool]]:
    """(figure, measured, target, met): each fixed baseline's cold run within its budget."""
    return [
        (
            "wall: bench run " + " ".join(run.args),
            f"{run.seconds:.1f} s",
            f"< {BASELINE_BUDGET_S:.0f} s",
            run.seconds < BASELINE_BUDGET_S,
        )
        for run in runs
    ]
