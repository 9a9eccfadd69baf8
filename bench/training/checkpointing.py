"""Resuming training after a kill or a preemption: per-epoch checkpoints and stop signals.

Every training loop (fA's identity pretraining, the game, the fresh fT' and fB') runs its
epochs through `Checkpointed.epochs`, which saves, at the end of every epoch, its model, optimizer, scheduler, best-so-far weights, the
loader's shuffling generator and every RNG state, atomically, to
`<run dir>/checkpoints/<n>-<stage>.pt` (`n`: the loop's place in the run, so two loops of one
stage name never share a file). The same command run again finds it and continues after
the last finished epoch; on CPU the record equals an uninterrupted run's. A finished loop's
checkpoint lets a rerun skip it. Checkpoints are read with `weights_only=True`; a damaged
one is dropped with a warning and its stage starts over. They are removed once the record
is stored.

SIGTERM and SIGUSR1 (what SLURM sends before preempting a job) make a checkpointing loop
stop after the epoch it is in, once that epoch is saved; outside such a loop they stop the
run at once. Either way the run ends with `Preempted` (exit code `REQUEUE_EXIT`): run the
same command again, or let the scheduler requeue it, and it resumes.
"""

from __future__ import annotations

import contextlib
import random
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from bench.contract.atomic import WriteError
from bench.contract.context import RunContext
from bench.contract.distributed import is_main
from bench.contract.errors import BenchError
from bench.training.batches import shuffled
from bench.training.fits import load_state, save_state

if TYPE_CHECKING:
    from torch.utils.data import DataLoader

REQUEUE_EXIT = 75  # EX_TEMPFAIL: stopped on purpose, resumable; run it again
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class Stateful(Protocol):
    """A model, optimizer or scheduler: what a checkpoint keeps of a training loop."""

    def state_dict(self) -> dict[str, Any]: ...  # noqa: D102

    def load_state_dict(self, state: dict[str, Any], /) -> Any: ...  # noqa: D102


class Preempted(BenchError):
    """The run was asked to stop (SIGTERM / SIGUSR1); what it finished is kept."""

    exit_code = REQUEUE_EXIT


_loops = [0]  # checkpointing loops running now (they stop at their epoch's end)
_pending: list[int] = []  # stop signals received while one ran
_saved: list[str] = []  # the label of the newest checkpoint of the running cell, if any


def last_checkpoint() -> str | None:
    """What the newest training checkpoint of the cell running now holds ('fT' (action eval)
    epoch 12/30', epochs counted as its progress bar counts them); None when there is none
    (nothing trained yet, or the cell's record is stored and its checkpoints removed)."""
    return _saved[-1] if _saved else None


def forget_checkpoints() -> None:
    """The cell's checkpoints are gone (its record is stored): `last_checkpoint` is None."""
    _saved.clear()


def _on_stop(signum: int, frame: Any) -> None:
    name = signal.Signals(signum).name
    if _loops[0] > 0:
        _pending.append(signum)
        return
    raise Preempted(
        f"stopped by {name}; nothing of the running stage was checkpointed yet. Run the "
        "same command again to resume from the last checkpoint (finished fits are kept)"
    )


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """Within: SIGTERM / SIGUSR1 stop the run resumably instead of killing it."""
    if not _main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _on_stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        _pending.clear()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def checkpointing_loop() -> Iterator[None]:
    """Mark a loop that checkpoints each epoch: a stop signal waits for the epoch's end."""
    _loops[0] += 1
    try:
        yield
    finally:
        _loops[0] -= 1


def stop_if_asked(stage: str, epoch: int) -> None:
    """After epoch `epoch` of `stage` is checkpointed: end the run if a stop signal came."""
    if _pending:
        name = signal.Signals(_pending[0]).name
        raise Preempted(
            f"stopped by {name} after epoch {epoch + 1} of {stage}, which is checkpointed; run the "
            "same command again to resume there"
        )


def rng_state() -> dict[str, Any]:
    """Every RNG state a training step reads (torch CPU and CUDA, numpy, Python)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()  # type: ignore[misc]
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss, gauss],
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` saved."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def checkpoint_path(ctx: RunContext, stage: str) -> Path:
    """The checkpoint file of the next checkpointing loop of this run."""
    return ctx.run_dir / "checkpoints" / checkpoint_name(ctx.next_loop(), stage)


def checkpoint_name(n: int, stage: str) -> str:
    """`<n>-<stage>.pt`, the stage name made safe for a file name."""
    safe = "".join(c if c.isalnum() else "-" for c in stage).strip("-")
    return f"{n:02d}-{safe}.pt"


def keep_checkpoint(ctx: RunContext, path: Path, state: dict[str, Any]) -> None:
    """Write a loop's state atomically. If it cannot be written (a full disk), the run goes
    on without it, saying so once and noting `checkpoint_not_stored` in the record. Under
    torchrun rank 0 writes it (every process has the same state)."""
    if not is_main():
        return
    try:
        save_state(path, state)
        _saved[:] = [str(state.get("label", path.name))]
    except WriteError as exc:
        if "checkpoint_not_stored" not in ctx.notes:
            ctx.note("checkpoint_not_stored", str(exc))
            ctx.warn(f"training checkpoint not stored ({exc}); the run goes on, unresumable")


def load_checkpoint(path: Path, ctx: RunContext, expected: dict[str, Any]) -> dict[str, Any] | None:
    """The loop's saved state, if there is one that matches `expected` (its stage, epochs
    and steps); a damaged or foreign one is dropped with a warning."""
    if not path.is_file():
        return None
    state, why = load_state(path)
    if state is None or not isinstance(state, dict):
        ctx.warn(
            f"checkpoint {path} is unreadable ({why or 'not a dict'}); starting the stage over"
        )
    elif any(state.get(k) != v for k, v in expected.items()):
        ctx.warn(f"checkpoint {path} is of another training setting; starting the stage over")
    else:
        return state
    path.unlink(missing_ok=True)
    return None


class Checkpointed:
    """The per-epoch checkpoint of one training loop, and the loop itself (`epochs`).

    `parts` are the loop's models, optimizers and schedulers, `loader` its shuffling loader,
    `extra_state` anything else with `state_dict` / `load_state_dict` (e.g. the game's budget
    branch). `resume()` restores all of that, every RNG state and the history rows the loop
    had logged, and returns how many epochs are done (0 without a checkpoint); `save(epoch,
    label)` writes it after an epoch. `identity` (the loop's epochs, steps, learning rate)
    must match, or the checkpoint is of another setting and is dropped. `extra` carries a
    loop's own values (e.g. the best weights so far); `info` is the progress bar's text for
    the epoch just run.
    """

    def __init__(
        self,
        ctx: RunContext,
        path: Path,
        stage: str,
        identity: dict[str, Any],
        parts: dict[str, Stateful],
        loader: DataLoader[Any],
        extra_state: Stateful | None = None,
    ) -> None:
        self.ctx, self.path, self.parts, self.loader = ctx, path, parts, loader
        self.extra_state = extra_state
        self.identity = {"stage": stage, **identity}
        self.first_rows = {name: len(rows) for name, rows in ctx.history.items()}
        self.base = 0  # epochs of the loop's earlier phases (a loop of several phases)
        self.extra: dict[str, Any] = {}
        self.info = ""

    def resume(self) -> int:
        """Restore the last checkpoint, if any; the number of epochs it had finished."""
        saved = load_checkpoint(self.path, self.ctx, self.identity)
        if saved is None:
            return 0
        for name, part in self.parts.items():
            part.load_state_dict(saved["parts"][name])
        if self.loader.generator is not None and saved["loader_rng"] is not None:
            self.loader.generator.set_state(saved["loader_rng"])
        if self.extra_state is not None:
            self.extra_state.load_state_dict(saved["extra_state"])
        set_rng_state(saved["rng"])
        for stage, rows in saved["history"].items():
            for row in rows:
                self.ctx.log(stage, **row)
        self.extra = saved["extra"]
        self.ctx.warn(f"resuming after {saved['label']} (checkpoint {self.path})")
        return int(saved["epoch"]) + 1

    def save(self, epoch: int, label: str) -> None:
        """Checkpoint the loop after `epoch` (counted over all its phases)."""
        history = {
            name: rows[self.first_rows.get(name, 0) :]
            for name, rows in self.ctx.history.items()
            if len(rows) > self.first_rows.get(name, 0)
        }
        keep_checkpoint(self.ctx, self.path, {
            **self.identity,
            "epoch": epoch,
            "label": label,
            "parts": {name: part.state_dict() for name, part in self.parts.items()},
            "loader_rng": None if self.loader.generator is None else self.loader.generator.get_state(),
            "extra_state": None if self.extra_state is None else self.extra_state.state_dict(),
            "rng": rng_state(),
            "history": history,
            "extra": self.extra,
        })  # fmt: skip

    def epochs(
        self, title: str, total: int, start: int = 0, until: Callable[[int], bool] | None = None
    ) -> Iterator[int]:
        """Epochs `start` .. `total` - 1 of one phase, each set to its own shuffle; after the
        body of each: a checkpoint, the progress bar's step (with `info`) and, if a stop
        signal came, `Preempted`. `until(epoch)`, asked before each epoch, ends the phase
        early (a stopping rule); the bar then shows the epochs that ran. The next phase of
        the same loop counts its epochs after this one's (`base`)."""
        bar = self.ctx.task(title, total)
        self.ctx.progress.update(bar, advance=start)
        finished = start
        with checkpointing_loop():
            for epoch in range(start, total):
                if until is not None and until(epoch):
                    break
                shuffled(self.loader, self.base + epoch)
                yield epoch
                self.save(self.base + epoch, f"{title} epoch {epoch + 1}/{total}")
                self.ctx.progress.update(bar, advance=1, info=self.info)
                stop_if_asked(title, epoch)
                finished = epoch + 1
        if finished < total:
            self.ctx.progress.update(bar, total=finished)
        self.base += total
