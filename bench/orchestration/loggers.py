"""Experiment logs people already read, fed from `RunContext.log` (the one place every stage
logs its per-epoch values; the run's `log.jsonl` stays).

`tensorboard` writes event files to `<run dir>/tensorboard/` (scalars `<stage>/<value>`
against the epoch); view them with `tensorboard --logdir results/runs`. `wandb` logs the
same scalars offline (no account, no network) to `<run dir>/wandb/`; upload them later with
`wandb sync <run dir>/wandb/offline-run-*`. Each needs the optional extra:
`pip install 'privbench[logs]'`. A logger never changes a result, so it is not part of a
cell's key. Under torchrun only rank 0 logs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.contract.errors import BenchError

Sink = Callable[[str, dict[str, float]], None]  # (stage, row of one epoch)
LOGGERS = ("tensorboard", "wandb")


def check_loggers(names: tuple[str, ...]) -> None:
    """Unknown loggers, or one whose package is missing, stop the run before any work."""
    for name in names:
        if name not in LOGGERS:
            raise BenchError(f"--logger {name}: unknown; known loggers: {', '.join(LOGGERS)}")
        if importlib.util.find_spec(name) is None:
            raise BenchError(
                f"--logger {name} needs the '{name}' package: pip install 'privbench[logs]'"
            )


@contextlib.contextmanager
def open_loggers(names: tuple[str, ...], run_dir: Path) -> Iterator[list[Sink]]:
    """The sinks of `names` for one run, closed (flushed) when the block ends."""
    check_loggers(names)
    sinks: list[Sink] = []
    closers: list[Callable[[], None]] = []
    if "tensorboard" in names:
        from torch.utils.tensorboard import SummaryWriter

        folder = run_dir / "tensorboard"
        shutil.rmtree(folder, ignore_errors=True)  # a resumed run logs its history again
        writer = SummaryWriter(log_dir=str(folder))

        def to_tensorboard(stage: str, row: dict[str, float]) -> None:
            step = int(row.get("epoch", 0))
            for key, value in row.items():
                if key != "epoch":
                    writer.add_scalar(f"{stage}/{key}", value, global_step=step)

        sinks.append(to_tensorboard)
        closers.append(writer.close)
    if "wandb" in names:
        import wandb

        folder = run_dir / "wandb"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        run = wandb.init(
            dir=str(run_dir), mode="offline", project="privbench", name=run_dir.name,
            settings=wandb.Settings(console="off", silent=True),
        )  # fmt: skip

        def to_wandb(stage: str, row: dict[str, float]) -> None:
            values = {f"{stage}/{k}": v for k, v in row.items() if k != "epoch"}
            run.log({**values, f"{stage}/epoch": row.get("epoch", 0)})

        sinks.append(to_wandb)
        closers.append(run.finish)
    try:
        yield sinks
    finally:
        for close in closers:
            close()
