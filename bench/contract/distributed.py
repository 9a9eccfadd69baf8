"""Several processes on one run (`torchrun --nproc-per-node N -m bench.cli run ...`).

torchrun starts N copies of the command and gives each RANK, WORLD_SIZE and LOCAL_RANK;
`start` joins them into one process group (NCCL on GPUs, gloo on CPUs) and gives each its
device (`cuda:<LOCAL_RANK>`). Every process then runs the same run, with:

* training on its share of every batch: the preset's batch is the global batch, each of
  the N processes takes batch / N of it (`train_sampler`), and DistributedDataParallel
  averages the gradients (`wrap`); every epoch's shuffle is seeded by seed + epoch, so one
  process sees exactly the batches N processes see together;
* evaluation split over the processes and gathered (`gather_in_order`), so every process
  scores the same full set of predictions;
* decisions taken once, by rank 0 (`agree`: is the record there, the fit, the cached fA0),
  and rank 0 alone holding the locks of work that needs all processes (`main_lock`);
* only rank 0 writing records, fits, checkpoints and logs (`is_main`); the others print
  nothing.

Without torchrun (WORLD_SIZE unset or 1) every helper is the single-process identity.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator, Sized
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DistributedSampler

from bench.contract.errors import BenchError

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """This process's place among the run's processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0


def world() -> World:
    """The process group's rank and size; (0, 1) without one."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def is_main() -> bool:
    """Whether this process writes (rank 0, or the only process)."""
    return world().rank == 0


def start(device: str) -> str:
    """Join torchrun's process group when WORLD_SIZE > 1; the device this process uses.

    `device` is the user's choice; with several processes 'auto' / 'cuda' become
    `cuda:<LOCAL_RANK>` (one GPU each), and 'cpu' trains on CPUs with gloo.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1 or (dist.is_available() and dist.is_initialized()):
        return device
    if not dist.is_available():
        raise BenchError("WORLD_SIZE is set but this torch has no torch.distributed")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    on_gpu = device != "cpu" and torch.cuda.is_available()
    if on_gpu:
        if local >= torch.cuda.device_count():
            raise BenchError(
                f"process {local} of {size} has no GPU: this machine has "
                f"{torch.cuda.device_count()}; use --nproc-per-node {torch.cuda.device_count()}"
            )
        torch.cuda.set_device(local)
    dist.init_process_group(
        backend="nccl" if on_gpu else "gloo", timeout=dt.timedelta(hours=2)
    )  # a process waits on rank 0 while it, e.g., prepares a dataset
    return f"cuda:{local}" if on_gpu else "cpu"


def stop() -> None:
    """Leave the process group (at the end of the command)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def agree(value: T) -> T:
    """Rank 0's `value`, on every process (a decision all of them must take alike)."""
    if world().size == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]  # type: ignore[no-any-return]


def barrier() -> None:
    """Wait until every process is here."""
    if world().size > 1:
        dist.barrier()


@contextlib.contextmanager
def main_lock(lock: contextlib.AbstractContextManager[Any]) -> Iterator[None]:
    """`lock` held by rank 0 alone around work that needs every process (training); the
    others wait here for it, so no process trains while another waits for a lock."""
    if world().size == 1:
        with lock:
            yield
        return
    with lock if is_main() else contextlib.nullcontext():
        barrier()
        yield


def gather_in_order(parts: list[torch.Tensor], n: int) -> list[torch.Tensor]:
    """Every process's `parts` (its items `rank::size` of `n`, as tensors of equal rank)
    put back in item order, on every process."""
    w = world()
    if w.size == 1:
        return parts
    gathered: list[Any] = [None] * w.size
    dist.all_gather_object(gathered, [p.cpu() for p in parts])
    out = []
    for i, first in enumerate(gathered[0]):
        whole = first.new_empty((n, *first.shape[1:]))
        for rank, rank_parts in enumerate(gathered):
            whole[rank :: w.size] = rank_parts[i]
        out.append(whole)
    return out


def my_share(n: int) -> list[int]:
    """The items `rank::size` of `n` this process evaluates."""
    w = world()
    return list(range(w.rank, n, w.size))


def per_process_batch(batch: int, what: str) -> int:
    """This process's share of a global batch; a batch that does not split is a user error."""
    size = world().size
    if batch % size:
        raise BenchError(
            f"{what}={batch} does not split over {size} processes; set it to a multiple of "
            f"{size} (--set {what}=...)"
        )
    return batch // size


def train_sampler(data: Sized, seed: int, drop_last: bool) -> DistributedSampler[Any]:
    """The shuffling of every training loader: a permutation seeded by seed + epoch
    (`set_epoch`), of which this process takes items rank::size."""
    w = world()
    return DistributedSampler(
        data,  # type: ignore[arg-type]
        num_replicas=w.size,
        rank=w.rank,
        shuffle=True,
        seed=seed,
        drop_last=drop_last,
    )


def wrap(model: nn.Module) -> nn.Module:
    """`model` in DistributedDataParallel when there are several processes; else itself."""
    if world().size == 1:
        return model
    device = next(model.parameters()).device
    if device.type != "cuda":  # gloo on CPUs: BatchNorm statistics stay per process
        return nn.parallel.DistributedDataParallel(model)
    # on GPUs BatchNorm computes its statistics over the global batch, as one process would
    # (the BatchNorm layers are replaced in place, keeping their parameters and buffers)
    synced = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return nn.parallel.DistributedDataParallel(synced, device_ids=[device.index])
