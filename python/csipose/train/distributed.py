"""torchrun-native data parallelism and reproducible, resumable data order.

Under ``torchrun`` the environment carries ``RANK``, ``LOCAL_RANK`` and
``WORLD_SIZE``; :func:`setup` then joins the process group (gloo on CPU, nccl
on CUDA). A plain ``python`` run is a world of one and never touches
``torch.distributed``.

Leaving is as deliberate as joining: :func:`teardown` meets the other ranks at a final
barrier and destroys the group, on every rank, before the interpreter starts to exit.
Destroying must really free the group: a gloo group whose worker threads outlive
``destroy_process_group`` is torn down during interpreter shutdown, where a rank can
abort ("terminate called without an active exception") after its work is done.
:func:`setup` makes sure nothing keeps such a reference (see there).
The data order and worker seeding live in :mod:`csipose.data.collate`.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

__all__ = ["DistContext", "setup", "teardown", "seed_everything", "sync_buffers", "wrap_ddp"]


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
        # DistributedDataParallel imports torch._dynamo, which imports torch.distributed.nn.functional,
        # whose functions take ``group=group.WORLD`` as a default argument. Imported after joining,
        # those ten defaults hold the live default group, so destroy_process_group() cannot free it
        # and gloo's threads run on into interpreter shutdown. Imported first, they hold None.
        importlib.import_module("torch.distributed.nn.functional")
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return DistContext(rank=rank, world_size=world, local_rank=local, device=device)


def teardown(ctx: DistContext, *, synchronise: bool = True) -> None:
    """Leaves the process group (every rank, before interpreter exit).

    ``synchronise`` (a run that ended normally on every rank) meets the other ranks at a
    final barrier first, so no rank destroys the group while a peer still talks to it; a
    failing rank leaves without waiting for peers that may never come.
    """
    if not (ctx.distributed and dist.is_initialized()):
        return
    if synchronise:
        dist.barrier()
    dist.destroy_process_group()


def wrap_ddp(model: nn.Module, ctx: DistContext, *, find_unused_parameters: bool = False) -> nn.Module:
    """``model`` in DistributedDataParallel when the world is larger than one, else ``model`` itself.

    ``find_unused_parameters`` is for models with parameters no loss reaches (an untrained
    optional head); it costs a graph traversal per step, so it is set only then. DDP may still
    warn that it found no unused parameter: it looks from the forward outputs, which include the
    untrained head's; that head's parameters get no gradient all the same, and without the flag
    the second step fails ("Expected to have finished reduction in the prior iteration").
    """
    if not ctx.distributed:
        return model
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(
        model, device_ids=device_ids, find_unused_parameters=find_unused_parameters
    )


def sync_buffers(model: nn.Module, ctx: DistContext) -> None:
    """Copies rank 0's buffers (e.g. BatchNorm running statistics) to every rank.

    DDP broadcasts them at the start of each forward, so after an epoch's last step every
    rank holds the statistics of its own last batch; validation (each rank scores its share)
    and the saved model must all use rank 0's. The next forward would copy the same values,
    so training itself is unchanged.
    """
    if ctx.distributed:
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)


def seed_everything(seed: int, rank: int = 0) -> None:
    """Seeds python, numpy's legacy RNG and torch (all devices) with ``seed + rank``."""
    import random

    s = int(seed) + int(rank)
    random.seed(s)
    np.random.seed(s % 2**32)
    torch.manual_seed(s)
