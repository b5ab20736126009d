"""torchrun-native data parallelism and reproducible, resumable data order.

Under ``torchrun`` the environment carries ``RANK``, ``LOCAL_RANK`` and
``WORLD_SIZE``; :func:`setup` then joins the process group (gloo on CPU, nccl
on CUDA). A plain ``python`` run is a world of one and never touches
``torch.distributed``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

__all__ = ["DistContext", "setup", "teardown", "EpochSampler", "seed_everything", "worker_init"]


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: ``rank`` of ``world_size``, and its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def all_gather_objects(self, obj: Any) -> list[Any]:
        """Every rank's ``obj`` (picklable), in rank order; ``[obj]`` for a world of one."""
        if not self.distributed:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def all_reduce_mean(self, value: float) -> float:
        if not self.distributed:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t.item()) / self.world_size


def setup(prefer_cuda: bool = True) -> DistContext:
    """Reads the torchrun environment and joins the process group when ``WORLD_SIZE > 1``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = prefer_cuda and torch.cuda.is_available()
    if cuda:
        device = torch.device("cuda", local % torch.cuda.device_count())
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return DistContext(rank=rank, world_size=world, local_rank=local, device=device)


def teardown(ctx: DistContext) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def seed_everything(seed: int, rank: int = 0) -> None:
    """Seeds python, numpy's legacy RNG and torch (all devices) with ``seed + rank``."""
    import random

    s = int(seed) + int(rank)
    random.seed(s)
    np.random.seed(s % 2**32)
    torch.manual_seed(s)


def worker_init(worker_id: int) -> None:
    """DataLoader worker seeding from ``SeedSequence([torch seed, worker_id])``.

    torch gives each worker a distinct base seed drawn from the loader's
    (seeded) generator, so numpy and python draws in workers are reproducible.
    """
    import random

    base = torch.initial_seed() % 2**63
    ss = np.random.SeedSequence([base, worker_id])
    np.random.seed(ss.generate_state(1)[0])
    random.seed(int(ss.generate_state(2, dtype=np.uint64)[1]))


class EpochSampler(torch.utils.data.Sampler[int]):
    """Per-epoch permutation seeded by ``seed + epoch``, sharded over ranks, resumable mid-epoch.

    Like :class:`torch.utils.data.DistributedSampler` (pads the permutation to
    a multiple of ``world_size`` and gives rank r the items r, r + world, ...),
    plus ``start``: the number of this rank's leading items to skip, so a run
    resumed after k batches continues with batch k + 1 of the same order.
    Without ``shuffle`` the order is 0..n-1 and nothing is padded (evaluation
    covers each item exactly once over all ranks).
    """

    def __init__(
        self,
        size: int,
        *,
        seed: int = 0,
        epoch: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        start: int = 0,
    ) -> None:
        self.size, self.seed, self.epoch, self.shuffle = size, seed, epoch, shuffle
        self.rank, self.world_size, self.start = rank, world_size, start

    def _indices(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.rank, self.size, self.world_size))
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        order = torch.randperm(self.size, generator=g).tolist()
        total = math.ceil(self.size / self.world_size) * self.world_size
        order += order[: total - self.size]
        return order[self.rank : total : self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices()[self.start :])

    def __len__(self) -> int:
        return max(0, self.per_rank() - self.start)

    def per_rank(self) -> int:
        """Items this rank sees in a full epoch (ignoring ``start``)."""
        if not self.shuffle:
            return len(range(self.rank, self.size, self.world_size))
        return math.ceil(self.size / self.world_size)
