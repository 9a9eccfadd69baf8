"""Sweeps as cluster jobs (submitit): a SLURM job array, or K local processes at a time.

`bench sweep NAME --launcher slurm` submits one job per cell that has no record, as one SLURM
job array (partition, GPUs per job, time limit, array parallelism and extra sbatch options
from flags or the sweep file's `[launcher]` table), and returns; `--launcher local --workers
K` runs K cells at a time on this machine, one GPU each (`CUDA_VISIBLE_DEVICES`), through
submitit's local executor, and waits for them. Each job runs its cell as `bench run` would
(`execute`): locks, resuming and records are the same. A job stopped by a preemption or its
time limit is requeued by submitit and resumes from its last checkpoint.

Jobs leave their logs under `<results>/sweeps/<sweep>/jobs/`. A failed cell also leaves
`<results>/sweeps/<sweep>/failed/<key>.json` (its error and log files), which its next
success removes; `bench sweep NAME --status` reads those, the records and the cells' locks.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.contract.atomic import atomic_write_text
from bench.contract.config import RunConfig
from bench.contract.errors import BenchError
from bench.store.results import ResultsStore
from bench.training.checkpointing import Preempted

LAUNCHERS = ("slurm", "local")
LAUNCHER_KEYS = {"partition", "gpus_per_job", "time", "array_parallelism", "sbatch", "workers"}


@dataclass(frozen=True)
class Launcher:
    """Where and how a sweep's jobs run (validated by `launcher_settings`)."""

    kind: str
    partition: str | None = None
    gpus_per_job: int = 1
    time_min: int = 60 * 24
    array_parallelism: int = 64
    sbatch: tuple[tuple[str, str], ...] = ()
    workers: int = 1


def launcher_settings(kind: str, table: dict[str, Any], flags: dict[str, Any]) -> Launcher:
    """The launcher of `kind` from the sweep file's [launcher] table, flags overriding it;
    a bad value is a BenchError naming it."""
    if kind not in LAUNCHERS:
        raise BenchError(f"--launcher {kind}: must be one of {', '.join(LAUNCHERS)}")
    unknown = sorted(set(table) - LAUNCHER_KEYS)
    if unknown:
        raise BenchError(
            f"[launcher] key '{unknown[0]}' is not one of {', '.join(sorted(LAUNCHER_KEYS))}"
        )
    merged = table | {k: v for k, v in flags.items() if v is not None and v != []}
    sbatch = merged.get("sbatch", {})
    if isinstance(sbatch, list):  # --sbatch KEY=VALUE, repeated
        pairs = [str(item).partition("=") for item in sbatch]
        if any(not sep or not key for key, sep, _ in pairs):
            raise BenchError("--sbatch: expected KEY=VALUE, e.g. --sbatch constraint=h100")
        sbatch = {key: value for key, _, value in pairs}
    if not isinstance(sbatch, dict):
        raise BenchError("[launcher] sbatch must be a table of KEY = VALUE")
    numbers = {}
    for name, low in (("gpus_per_job", 0), ("time", 1), ("array_parallelism", 1), ("workers", 1)):
        if name in merged:
            value = merged[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise BenchError(f"launcher {name}={value!r}: must be an integer >= {low}")
            numbers[name] = value
    partition = merged.get("partition")
    return Launcher(
        kind=kind,
        partition=None if partition is None else str(partition),
        gpus_per_job=numbers.get("gpus_per_job", 1),
        time_min=numbers.get("time", 60 * 24),
        array_parallelism=numbers.get("array_parallelism", 64),
        sbatch=tuple(sorted((str(k), str(v)) for k, v in sbatch.items())),
        workers=numbers.get("workers", 1),
    )


def sweep_folder(store: ResultsStore, sweep: str) -> Path:
    """Where a sweep's job logs and failure notes go."""
    return store.root / "sweeps" / sweep


@dataclass
class CellJob:
    """One cell as a submitit job (pickled to the job's process)."""

    config: RunConfig
    results: Path
    cache: Path
    device: str
    failures: Path
    plugins: tuple[Path, ...] = ()
    log_paths: list[str] = field(default_factory=list)

    def __call__(self) -> dict[str, float]:
        """Run the cell; its metrics. A failure leaves a note for `--status`, then fails the job."""
        from bench.contract.plugins import load_plugin
        from bench.orchestration.runner import execute  # the job's process imports what it runs

        for plugin in self.plugins:
            load_plugin(plugin)
        note = self.failures / f"{self.config.key()}.json"
        try:
            record = execute(self.config, ResultsStore(self.results), self.cache, self.device)
        except Preempted:
            raise  # stopped to be requeued, its epoch saved: not a failure
        except Exception as exc:
            atomic_write_text(note, json.dumps({
                "error": f"{type(exc).__name__}: {exc}",
                "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "logs": _job_logs(),
            }) + "\n")  # fmt: skip
            raise
        note.unlink(missing_ok=True)
        return record.metrics

    def checkpoint(self) -> Any:
        """Preempted or out of time: submitit requeues the same job, which resumes."""
        import submitit

        return submitit.helpers.DelayedSubmission(self)


def _job_logs() -> list[str]:
    """This submitit job's stdout and stderr files."""
    try:
        import submitit

        env = submitit.JobEnvironment()
        return [str(env.paths.stdout), str(env.paths.stderr)]
    except RuntimeError:  # not inside a submitit job
        return []


def submit(
    jobs: list[CellJob],
    launcher: Launcher,
    folder: Path,
    say: Callable[[str], None],
    poll_s: float = 1.0,
) -> int:
    """Run (local) or submit (slurm) the jobs; the number that failed (local; 0 for slurm)."""
    try:
        import submitit
    except ImportError:
        raise BenchError(
            "--launcher needs submitit: pip install 'privbench[cluster]' (or pip install submitit)"
        ) from None
    logs = folder / "jobs"
    if launcher.kind == "slurm":
        executor: Any = submitit.SlurmExecutor(folder=logs)
        executor.update_parameters(
            partition=launcher.partition,
            gpus_per_node=launcher.gpus_per_job,
            time=launcher.time_min,
            array_parallelism=launcher.array_parallelism,
            additional_parameters=dict(launcher.sbatch),
        )
        with executor.batch():
            submitted = [executor.submit(job) for job in jobs]
        ids = ", ".join(str(j.job_id) for j in submitted)
        say(f"submitted {len(submitted)} jobs ({ids}); logs in {logs}; follow with --status")
        return 0
    return _run_locally(submitit, jobs, launcher, logs, say, poll_s)


def _run_locally(
    submitit: Any,
    jobs: list[CellJob],
    launcher: Launcher,
    logs: Path,
    say: Callable[[str], None],
    poll_s: float,
) -> int:
    """K jobs at a time through submitit's local executor, one GPU each where there are GPUs."""
    import torch

    gpus = list(range(torch.cuda.device_count()))
    if gpus and launcher.workers > len(gpus):
        raise BenchError(
            f"--workers {launcher.workers}: this machine has {len(gpus)} GPUs (one per worker)"
        )
    executor = submitit.LocalExecutor(folder=logs)
    waiting = list(jobs)
    running: dict[Any, tuple[CellJob, int | None]] = {}
    failed = 0
    while waiting or running:
        free = [g for g in gpus if g not in {gpu for _, gpu in running.values()}]
        while waiting and len(running) < launcher.workers:
            job = waiting.pop(0)
            gpu = free.pop(0) if gpus else None
            executor.update_parameters(
                timeout_min=launcher.time_min,
                gpus_per_node=0 if gpu is None else 1,
                visible_gpus=() if gpu is None else (gpu,),
            )
            running[executor.submit(job)] = (job, gpu)
            say(
                f"started {job.config.method} ({job.config.key()})"
                + (f" on GPU {gpu}" if gpu is not None else "")
            )
        time.sleep(poll_s)
        for handle in [h for h in running if h.done()]:
            job, _ = running.pop(handle)
            try:
                handle.result()
                say(f"done {job.config.key()}")
            except Exception:  # noqa: BLE001  # the job's error is in its failure note
                failed += 1
                say(f"failed {job.config.key()}: see --status")
    return failed


@dataclass(frozen=True)
class CellStatus:
    """Where one cell of a sweep stands."""

    state: str  # done / running / failed / to run
    detail: str = ""  # who runs it, or the error and the log's last lines


def cell_status(
    store: ResultsStore, folder: Path, key: str, tail: int = 5, legacy: Sequence[str] = ()
) -> CellStatus:
    """done (its record exists, under `key` or an older key of the cell), running (someone
    holds its lock), failed (its last job failed: the error and its log's last lines) or to
    run."""
    if store.exists(key, legacy):
        return CellStatus("done")
    holder = store.cell_holder(key)
    if holder:
        return CellStatus("running", holder)
    note = folder / "failed" / f"{key}.json"
    if note.is_file():
        try:
            info = json.loads(note.read_text())
            lines = []
            for log in info.get("logs", []):
                try:
                    lines += Path(log).read_text(errors="replace").splitlines()[-tail:]
                except OSError:
                    continue
            return CellStatus("failed", "\n".join([str(info.get("error", "?")), *lines]))
        except (OSError, ValueError):
            return CellStatus("failed", f"(its failure note {note} is unreadable)")
    return CellStatus("to run")
