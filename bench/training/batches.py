"""Batches for training: seeded shuffling loaders split over processes, batches moved to the
run's device, endless resumable batches of a loader, and the private images' loader."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from bench.contract.context import RunContext
from bench.contract.dataset import Benchmark, as_float
from bench.contract.distributed import per_process_batch, train_sampler
from bench.contract.errors import BenchError
from bench.training.clips import Images


def train_loader(
    ds: Dataset[Any],
    batch: int,
    seed: int,
    what: str,
    drop_last: bool = False,
) -> DataLoader[Any]:
    """Shuffled batches of `ds` for training: each epoch a permutation seeded by seed + epoch
    (`distributed.train_sampler`; call `shuffled(loader, epoch)` before each pass), split
    over the processes when there are several (`batch`, the preset's `what`, is global)."""
    share = per_process_batch(batch, what)
    return DataLoader(
        ds,
        batch_size=share,
        sampler=train_sampler(ds, seed, drop_last=False),  # type: ignore[arg-type]
        generator=torch.Generator().manual_seed(seed),  # the loader's own draws: not global
        drop_last=drop_last,
        pin_memory=torch.cuda.is_available(),
    )


def to_device(batch: torch.Tensor, ctx: RunContext) -> torch.Tensor:
    """A batch on the run's device (a non-blocking copy from pinned memory on a GPU)."""
    return batch.to(ctx.device, non_blocking=True)


def pixels_to_device(batch: torch.Tensor, ctx: RunContext) -> torch.Tensor:
    """A loader's uint8 clips or images as model input: copied to the run's device, then
    float in [0, 1] at the preset's frame size there (`bench.contract.dataset.as_float`)."""
    return as_float(to_device(batch, ctx), ctx.preset.frame_size)


def shuffled(loader: DataLoader[Any], epoch: int) -> DataLoader[Any]:
    """`loader` set to epoch `epoch`'s shuffle."""
    sampler = loader.sampler
    if isinstance(sampler, DistributedSampler):
        sampler.set_epoch(epoch)
    return loader


class EndlessBatches:
    """Batches of a shuffling loader, pass after pass, resumable mid-pass.

    `state()` is the loader generator's state at the start of the current pass, the batches
    taken from it and the generator's state now; `restore` replays the pass up to there
    (the skipped batches are read again, not trained on), so a resumed run draws the same
    batches as one that never stopped.
    """

    def __init__(self, loader: DataLoader[Any]) -> None:
        self.loader = loader
        self._it: Iterator[Any] | None = None
        self._start: torch.Tensor | None = None
        self._taken = 0
        self._passes = 0  # passes begun (each its own shuffle)

    def __iter__(self) -> EndlessBatches:
        return self

    def __next__(self) -> Any:
        while True:
            if self._it is None:
                self._start = self._generator_state()
                self._it, self._taken = iter(shuffled(self.loader, self._passes)), 0
                self._passes += 1
            try:
                batch = next(self._it)
            except StopIteration:
                self._it = None
                continue
            self._taken += 1
            return batch

    def _generator_state(self) -> torch.Tensor | None:
        gen = self.loader.generator
        return None if gen is None else gen.get_state()

    def state(self) -> dict[str, Any]:
        """Where the batches stand (see the class)."""
        return {
            "open": self._it is not None,
            "start": self._start,
            "taken": self._taken,
            "passes": self._passes,
            "now": self._generator_state(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue where `state()` was taken."""
        gen = self.loader.generator
        self._it, self._passes = None, state["passes"]
        if not state["open"]:
            if gen is not None and state["now"] is not None:
                gen.set_state(state["now"])
            return
        if gen is not None and state["start"] is not None:
            gen.set_state(state["start"])
        replayed = shuffled(self.loader, self._passes - 1)
        self._start, self._it, self._taken = state["start"], iter(replayed), 0
        for _ in range(state["taken"]):
            next(self._it)
        self._taken = state["taken"]


def private_loader(
    ctx: RunContext, data: Benchmark
) -> DataLoader[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled batches of the private train images and their labels (seeded)."""
    images = Images(data.privacy.splits.train)
    loader = train_loader(images, ctx.preset.privacy_batch, ctx.seed + 1, "privacy_batch", True)
    if len(loader) == 0:
        raise BenchError(
            f"privacy_batch={ctx.preset.privacy_batch} exceeds the "
            f"{len(data.privacy.splits.train)} private training images; lower --set privacy_batch"
        )
    return loader
