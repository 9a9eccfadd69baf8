"""One learned fA* per fit key, shared by every protocol and evaluation model that needs it.

The paper trains fA on the 'known' sets once, then evaluates that fA* under several protocols
(Tables 1, 2, 6) and with several fT' / fB' architectures (Tables 5, 7, 8). The first run to
need an fA* trains it and stores it under the store's `fits/<fit key>/`; later runs load it.
Every run reseeds after this step, so its evaluation is the same whether fA* was trained now
or loaded.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bench.contract.atomic import WriteError, atomic_write, atomic_write_text, clean_stale_temps
from bench.contract.context import RunContext, seed_everything
from bench.contract.dataset import Benchmark, DatasetFamily
from bench.contract.distributed import agree, is_main, main_lock
from bench.contract.locks import exclusive
from bench.contract.method import Method

CHECKPOINT = "anonymizer.pt"
FIT_LOG = "fit.json"


def save_state(path: Path, state: Any) -> None:
    """`torch.save(state)` written atomically (serialised in memory first, so a failing
    disk raises `WriteError` and leaves neither a partial file nor a temp one)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, lambda tmp: tmp.write_bytes(buffer.getbuffer()))


def load_state(path: Path) -> tuple[Any, str]:
    """(what `save_state` stored, "") or (None, why it cannot be read)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True), ""
    except Exception as exc:  # random bytes raise any of a dozen unpickling errors
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def fit_or_reuse(
    method: Method,
    ctx: RunContext,
    known_data: Callable[[], Benchmark],
    evaluated: Benchmark,
) -> None:
    """Leave `method` ready to anonymize `evaluated`.

    A learned method gets its fA* from the known sets: loaded from ctx.fit_dir, or trained
    on `known_data()` and saved. A fixed one has nothing to learn; its fit() sees the
    evaluated data (to note, e.g., whether person masks exist there). Workers sharing a fit
    take turns (`fits/<fit key>.lock`): the second one waits, then loads the first one's.
    """
    if not method.trainable:
        with ctx.stage("fit"):
            method.fit(evaluated, ctx)
    elif ctx.fit_dir is None:
        with ctx.stage("fit"):
            method.fit(known_data(), ctx)
    else:
        lock = exclusive(ctx.fit_dir, f"the fA* of fit {ctx.fit_dir.name}", ctx.warn)
        with main_lock(lock):  # under torchrun: rank 0 holds it, rank 0 decides and writes
            if is_main():
                clean_stale_temps(ctx.fit_dir)
            if not agree(_load(method, ctx)):
                with ctx.stage("fit"):
                    method.fit(known_data(), ctx)
                if is_main():
                    _save(method, ctx)
    seed_everything(ctx.seed)


def fitted_for_attack(
    method: Method, dataset: DatasetFamily, role: str, ctx: RunContext
) -> Benchmark:
    """What an attack protocol scores: the dataset's `role` setting ('known' or 'novel'),
    with `method` fitted (or its fit reused) on the known sets."""
    with ctx.stage("data"):
        data = dataset.load(role, ctx)
    known = role == "known"
    fit_or_reuse(method, ctx, lambda: data if known else dataset.load("known", ctx), data)
    return data


def _save(method: Method, ctx: RunContext) -> None:
    """Checkpoint, then the log naming it (written last: a fit is complete once it exists).

    A fit that cannot be stored (full disk) is not lost for this run: it goes on with the
    fA* in memory, says so and notes it; later runs train it again.
    """
    assert ctx.fit_dir is not None
    state = method.state_dict()
    if state is None:  # a plug-in that does not expose its fit: it is refitted every run
        return
    log = {
        "run": ctx.run_dir.name,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "config": ctx.fit_config,  # what trained it (`bench fits`, `bench export`'s card)
        "history": ctx.history,
        "timings": dict(ctx.timings),
    }
    try:
        (ctx.fit_dir / FIT_LOG).unlink(missing_ok=True)  # the pair is replaced as one
        save_state(ctx.fit_dir / CHECKPOINT, state)
        atomic_write_text(ctx.fit_dir / FIT_LOG, json.dumps(log, indent=2) + "\n")
    except (WriteError, OSError) as exc:
        (ctx.fit_dir / CHECKPOINT).unlink(missing_ok=True)
        text = f"fA* not stored ({exc}); this run goes on with it, later runs retrain it"
        ctx.note("fit_not_stored", text)
        ctx.warn(text)


def read_fit_log(fit_dir: Path) -> dict[str, Any]:
    """The training log of a stored fit; ValueError saying why it is bad."""
    try:
        log = json.loads((fit_dir / FIT_LOG).read_text())
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise ValueError(f"{FIT_LOG}: {exc}") from None
    if not all(
        isinstance(log, dict) and isinstance(log.get(k), dict) for k in ("history", "timings")
    ):
        raise ValueError(f"{FIT_LOG} is not a fit log")
    return log


def _read_fit(fit_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(training log, checkpoint state) of a stored fit; ValueError saying why it is bad."""
    log = read_fit_log(fit_dir)
    state, why = load_state(fit_dir / CHECKPOINT)
    if not isinstance(state, dict):
        raise ValueError(f"{CHECKPOINT}: {why or 'not a state dict'}")
    return log, state


def _load(method: Method, ctx: RunContext) -> bool:
    """Restore a stored fit into `method` and the run's history; False when there is none,
    or (with a warning) when it is unreadable: then it is retrained and replaced."""
    assert ctx.fit_dir is not None
    if not ((ctx.fit_dir / CHECKPOINT).is_file() and (ctx.fit_dir / FIT_LOG).is_file()):
        return False
    try:
        log, state = _read_fit(ctx.fit_dir)
        method.load_state_dict(state, ctx)
    except Exception as exc:  # ValueError above, or a checkpoint of other shapes / keys
        why = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        ctx.warn(f"stored anonymizer in {ctx.fit_dir} is unreadable ({why}); retraining it")
        return False
    ctx.history.update(log["history"])
    ctx.timings.update({f"reused_{k}": v for k, v in log["timings"].items()})
    ctx.note("anonymizer", f"fA* reused from {ctx.fit_dir.name} (trained by run {log.get('run')})")
    return True
