"""One learned fA* per fit key, shared by every protocol and evaluation model that needs it.

The paper trains fA on the 'known' sets once, then evaluates that fA* under several protocols
(Tables 1, 2, 6) and with several fT' / fB' architectures (Tables 5, 7, 8). The first run to
need an fA* trains it and stores it under the store's `fits/<fit key>/`; later runs load it.
Every run reseeds after this step, so its evaluation is the same whether fA* was trained now
or loaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import torch

from bench.contract.context import RunContext, seed_everything
from bench.contract.dataset import Benchmark
from bench.contract.method import Method
from bench.store.results import atomic_write_text

CHECKPOINT = "anonymizer.pt"
FIT_LOG = "fit.json"


def fit_or_reuse(
    method: Method,
    ctx: RunContext,
    known_data: Callable[[], Benchmark],
    evaluated: Benchmark,
) -> None:
    """Leave `method` ready to anonymize `evaluated`.

    A learned method gets its fA* from the known sets: loaded from ctx.fit_dir, or trained
    on `known_data()` and saved. A fixed one has nothing to learn; its fit() sees the
    evaluated data (to note, e.g., whether person masks exist there).
    """
    if not method.trainable:
        with ctx.stage("fit"):
            method.fit(evaluated, ctx)
    elif ctx.fit_dir is None or not _load(method, ctx):
        with ctx.stage("fit"):
            method.fit(known_data(), ctx)
        if ctx.fit_dir is not None:
            _save(method, ctx)
    seed_everything(ctx.seed)


def _save(method: Method, ctx: RunContext) -> None:
    """Checkpoint, then the log naming it (written last: a fit is complete once it exists)."""
    assert ctx.fit_dir is not None
    state = method.state_dict()
    if state is None:  # a plug-in that does not expose its fit: it is refitted every run
        return
    ctx.fit_dir.mkdir(parents=True, exist_ok=True)
    tmp = ctx.fit_dir / f".{CHECKPOINT}.tmp"
    torch.save(state, tmp)
    tmp.replace(ctx.fit_dir / CHECKPOINT)
    log = {
        "run": ctx.run_dir.name,
        "history": ctx.history,
        "timings": dict(ctx.timings),
    }
    atomic_write_text(ctx.fit_dir / FIT_LOG, json.dumps(log, indent=2) + "\n")


def _load(method: Method, ctx: RunContext) -> bool:
    """Restore a stored fit into `method` and the run's history; False when there is none."""
    assert ctx.fit_dir is not None
    checkpoint, log_path = ctx.fit_dir / CHECKPOINT, ctx.fit_dir / FIT_LOG
    if not (checkpoint.is_file() and log_path.is_file()):
        return False
    try:
        log = json.loads(log_path.read_text())
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        method.load_state_dict(state, ctx)
    except (OSError, RuntimeError, EOFError, json.JSONDecodeError, KeyError):
        ctx.console.print(f"[yellow]stored anonymizer in {ctx.fit_dir} is unreadable; retraining")
        return False
    ctx.history.update(log["history"])
    ctx.timings.update({f"reused_{k}": v for k, v in log["timings"].items()})
    ctx.note("anonymizer", f"fA* reused from {ctx.fit_dir.name} (trained by run {log['run']})")
    return True
