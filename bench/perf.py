"""`bench perf`: time cold `bench run` invocations and check the issue's figures."""

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
