"""Shared fixtures: one rendered synthetic cache per test session, fast CLI settings."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

# pytest-xdist starts its workers with COLUMNS=80, which rich would fix as the width of the
# CLI's consoles at import; without it each invoke's env (COLUMNS=200) sets the width
os.environ.pop("COLUMNS", None)

import bench  # noqa: E402
from bench.orchestration.runner import new_record  # noqa: E402
from bench.store.reading import RecordSet  # noqa: E402
from bench.store.results import ResultsStore  # noqa: E402

# Short schedules at 16 px so an end-to-end run takes seconds; the pipeline is the real one.
FAST = [
    "--set", "frame_size=16",
    "--set", "identity_epochs=1",
    "--set", "budget_pretrain_epochs=1",
    "--set", "warmup_epochs=1",
    "--set", "anon_epochs=1",
    "--set", "anon_batch=32",
    "--set", "action_epochs=1",
    "--set", "privacy_epochs=1",
]  # fmt: skip


# the shared penalty run: FAST with a second minimax epoch (a run can be killed after one)
PENALTY_RUN = [*FAST, "--set", "anon_epochs=2"]


@pytest.fixture(autouse=True)
def _two_threads() -> None:
    """Two threads (the CI machine's cores), or fewer when OMP_NUM_THREADS says so; one
    where pytest-xdist runs two test processes side by side."""
    threads = 1 if os.environ.get("PYTEST_XDIST_WORKER") else 2
    torch.set_num_threads(min(threads, int(os.environ.get("OMP_NUM_THREADS", "2"))))


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache dir shared by the session so the synthetic data is rendered once."""
    return tmp_path_factory.mktemp("cache")


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """torch on one thread inside the block, as the tests' subprocesses compute (same sums)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def penalty_run(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> tuple[Path, str]:
    """The results dir and printed output of one `bench run --method penalty --B 0.3`
    (PENALTY_RUN, with its raw reference), on one thread as the tests' subprocesses compute:
    a stored fA* and two records, shared by the tests that only read them (and the one that
    kills the same run)."""
    from typer.testing import CliRunner

    from bench.cli import app

    results = tmp_path_factory.mktemp("penalty") / "results"
    args = ["run", "--method", "penalty", "--B", "0.3", "--protocol", "known",
            "--results-dir", str(results), "--cache-dir", str(cache_dir), *PENALTY_RUN]  # fmt: skip
    with one_torch_thread():
        result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return results, result.output


def make_record(
    method: str,
    params: dict[str, Any] | None = None,
    *,
    top1: float = 0.9,
    cmap: float = 0.8,
    f1: float | None = None,
    seed: int = 0,
    protocol: str = "known",
    evaluation: dict[str, str | None] | None = None,
    overrides: dict[str, str] | None = None,
    minimax: list[dict[str, float]] | None = None,
) -> dict[str, Any]:
    """A record as `bench run` stores it (real config, keys and fit key) with chosen metrics."""
    cfg = bench.config(
        method,
        protocol=protocol,
        seed=seed,
        settings=overrides,
        **(evaluation or {}),
        **(params or {}),
    )
    metrics = {
        "action_top1": top1,
        "privacy_cmap": cmap,
        "privacy_f1": cmap - 0.1 if f1 is None else f1,
    }
    history = {"minimax": minimax} if minimax else {}
    return new_record(
        cfg, metrics, history=history, created=f"2026-01-{seed + 1:02d}T00:00:00+00:00"
    )


def stored(root: Path, *records: dict[str, Any]) -> RecordSet:
    """`records` saved by the real store under `root`, read back."""
    store = ResultsStore(root)
    for record in records:
        store.save(record)
    return RecordSet.load(root)
