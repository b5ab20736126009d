"""Batching and seeding for ``torch.utils.data.DataLoader`` (torch imported lazily).

``collate`` gives what ``torch.utils.data.default_collate`` gives, faster, and checks
that the batch keeps the dataset contract, so a bad sample fails with its index and
key instead of a stack error deep in torch.

This is the one data-loading stack of csipose: the trainer builds its loaders with
:func:`make_loader` too. The order comes from :class:`EpochSampler` (a permutation per
epoch, sharded over ranks like ``DistributedSampler``, resumable mid-epoch) and the
workers are seeded from ``SeedSequence([loader seed, worker_id, rank])``, the loader
seed itself drawn from ``(seed, epoch, rank)``: every (epoch, rank, worker) draws its
own reproducible stream.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from csipose.errors import ArgumentError, ShapeError

__all__ = ["EpochSampler", "collate", "make_loader", "pad_people", "pad_slots", "seed_worker"]

_SCALARS = ("subject", "action", "environment", "frame")


def _first_mismatch(values: Sequence[Any], key: str, what: Callable[[np.ndarray], object]) -> ShapeError:
    """The error naming the first sample whose ``what`` (shape or dtype) differs from sample 0's."""
    want = what(np.asarray(values[0]))
    for i, v in enumerate(values):
        got = what(np.asarray(v))
        if got != want:
            return ShapeError(f"samples[{i}][{key!r}]: {got} differs from samples[0]'s {want}")
    return ShapeError(f"samples[*][{key!r}]: values do not stack")


def _stack(values: Sequence[Any], key: str) -> np.ndarray | None:
    """The values stacked along a new first axis, or None (default_collate's turn) when they are not numpy numbers."""
    v0 = values[0]
    if not isinstance(v0, (np.ndarray, np.generic)) or v0.dtype.kind not in "biufc":
        return None
    if isinstance(v0, np.generic):
        stacked = np.array(values)  # far cheaper than np.stack for scalars
        if stacked.ndim == 1 and stacked.dtype == v0.dtype:
            return stacked
    try:
        stacked = np.stack(values)
    except ValueError:
        raise _first_mismatch(values, key, np.shape) from None
    if stacked.dtype != np.asarray(values[0]).dtype:
        raise _first_mismatch(values, key, lambda a: a.dtype)
    return stacked


#: The keys of a sample with a person axis (the first), which :func:`collate` pads.
PERSON_KEYS = ("keypoints", "visibility", "person_ids")


def pad_people(samples: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Samples with ``m`` people each padded to the batch's most, ``M``: keypoints with zeros,
    visibility 0, person_ids -1, and ``person_mask: bool[M]`` (True for the real people)."""
    counts = []
    for i, s in enumerate(samples):
        ids = np.asarray(s["person_ids"])
        if ids.ndim != 1 or np.shape(s["keypoints"])[:1] != ids.shape or np.shape(s["visibility"])[:1] != ids.shape:
            raise ShapeError(
                f"samples[{i}]: person_ids {list(ids.shape)}, keypoints {list(np.shape(s['keypoints']))} and "
                f"visibility {list(np.shape(s['visibility']))} must share their first (person) axis"
            )
        counts.append(len(ids))
    most = max(counts)
    padded = []
    for s, m in zip(samples, counts):
        out = dict(s)
        fill = {"keypoints": 0.0, "visibility": 0.0, "person_ids": -1}
        for key in PERSON_KEYS:
            value = np.asarray(s[key])
            pad = np.full((most - m, *value.shape[1:]), fill[key], dtype=value.dtype)
            out[key] = np.concatenate([value, pad])
        out["person_mask"] = np.arange(most) < m
        padded.append(out)
    return padded


def pad_slots(people: Any, slots: int) -> np.ndarray:
    """``people: [B, M, ...]`` (a batch's person axis) padded with zeros (False) to ``[B, slots, ...]``."""
    x = np.asarray(people)
    return np.pad(x, [(0, 0), (0, slots - x.shape[1])] + [(0, 0)] * (x.ndim - 2))


def _check_contract(batch: Mapping[str, Any]) -> None:
    """Checks stacked ``csi: float32[B, W, C, S, P]``, ``keypoints: float32[B, J, 3]``, ``visibility: [B, J]``
    (with a person axis: ``keypoints: [B, M, J, 3]``, ``visibility: [B, M, J]``, ``person_mask: [B, M]``)."""
    csi, kp, vis = batch["csi"], batch["keypoints"], batch["visibility"]
    if csi.ndim != 5 or csi.dtype != _torch_float32():
        raise ShapeError(f"samples[*]['csi']: expected float32[W, C, S, P], got {csi.dtype}{list(csi.shape[1:])}")
    if "person_mask" in batch:
        if kp.ndim != 4 or kp.shape[3] != 3 or tuple(vis.shape) != tuple(kp.shape[:3]):
            raise ShapeError(
                f"samples[*]['keypoints']: expected float32[M, J, 3] and visibility [M, J], got "
                f"{list(kp.shape[1:])} and {list(vis.shape[1:])}"
            )
    elif kp.ndim != 3 or kp.shape[2] != 3 or kp.dtype != _torch_float32():
        raise ShapeError(f"samples[*]['keypoints']: expected float32[J, 3], got {kp.dtype}{list(kp.shape[1:])}")
    if "person_mask" not in batch and tuple(vis.shape) != tuple(kp.shape[:2]):
        raise ShapeError(f"samples[*]['visibility']: expected shape ({kp.shape[1]},), got {tuple(vis.shape[1:])}")
    for name in _SCALARS:
        if batch[name].ndim != 1:
            raise ShapeError(f"samples[*][{name!r}]: expected an integer scalar, got shape {tuple(batch[name].shape[1:])}")


def _torch_float32() -> Any:
    import torch

    return torch.float32


class StackedBatch(dict):  # type: ignore[type-arg]
    """A batch a dataset read already stacked (``read_batch``): :func:`collate` converts
    its arrays to tensors instead of stacking samples."""


class _BatchReader:
    """A dataset with ``read_batch`` seen by ``DataLoader``: ``__getitems__`` (what the
    DataLoader asks for a batch's indices) reads the batch stacked, with no per-sample dicts."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[index]

    def __getitems__(self, indices: Sequence[int]) -> StackedBatch:
        return StackedBatch(self.dataset.read_batch(indices))


def collate(samples: Sequence[Mapping[str, Any]] | StackedBatch) -> dict[str, Any]:
    """Stacks samples into a batch of tensors: ``csi: float32[B, W, C, S, P]``, ``keypoints: [B, J, 3]``...

    Samples with a person axis (``keypoints: [m, J, 3]``, ``visibility: [m, J]``,
    ``person_ids: [m]``, ``m`` varying) are padded to the batch's most people ``M`` and get
    ``person_mask: bool[B, M]``.

    The result equals ``torch.utils.data.default_collate(samples)``; numpy values are
    stacked by numpy first (one tensor per key instead of one per sample), which is
    about twice as fast for dataset samples. A :class:`StackedBatch` (what
    :func:`make_loader` reads from a dataset with ``read_batch``) is converted as it is.

    Raises:
        ShapeError: an empty batch, missing or differing keys, wrong dtypes or shapes
            (the message names the first offending sample).
    """
    import torch
    from torch.utils.data import default_collate

    if isinstance(samples, StackedBatch):
        # own, contiguous, writable memory for torch (a read may hand out views of the cache)
        batch = {key: torch.from_numpy(np.require(value, requirements=("C", "W"))) for key, value in samples.items()}
        _check_contract(batch)
        return batch
    if not samples:
        raise ShapeError("samples: expected at least one sample, got an empty batch")
    first = samples[0]
    if not isinstance(first, Mapping):
        raise ShapeError(f"samples[0]: expected a dict sample, got {type(first).__name__}")
    for name in ("csi", "keypoints", "visibility", *_SCALARS):
        if name not in first:
            raise ShapeError(f"samples[0]: missing key {name!r}; expected csi, keypoints, visibility and ids")
    keys = first.keys()
    for i, s in enumerate(samples):
        if s.keys() != keys:
            raise ShapeError(f"samples[{i}]: keys {sorted(s)} differ from samples[0]'s {sorted(keys)}")
    if "person_ids" in keys:  # a person axis: pad every sample to the batch's most people
        samples = pad_people(samples)
        keys = samples[0].keys()
    batch: dict[str, Any] = {}
    for key in keys:
        values = [s[key] for s in samples]
        stacked = _stack(values, key)
        batch[key] = default_collate(values) if stacked is None else torch.from_numpy(stacked)
    _check_contract(batch)
    return batch


class EpochSampler:
    """Per-epoch permutation seeded by ``seed + epoch``, sharded over ranks, resumable mid-epoch.

    Shuffled, the order is :class:`torch.utils.data.DistributedSampler`'s (the same
    permutation, padded with its own head to a multiple of ``world_size``, rank r taking
    the items r, r + world, ...). ``even=False`` pads nothing, so each item goes to exactly
    one rank (evaluation); ``drop_last`` trims the tail instead of padding. ``start`` skips
    this rank's first ``start`` items, so a run resumed after k batches continues with
    batch k + 1 of the same order. :meth:`set_epoch` reshuffles, as ``DistributedSampler``'s.
    """

    def __init__(
        self,
        size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        epoch: int = 0,
        rank: int = 0,
        world_size: int = 1,
        start: int = 0,
        even: bool = True,
        drop_last: bool = False,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ArgumentError(f"rank: expected an integer in [0, world_size = {world_size}), got {rank}")
        self.size, self.shuffle, self.seed, self.epoch = size, shuffle, seed, epoch
        self.rank, self.world_size, self.start = rank, world_size, start
        self.even, self.drop_last = even, drop_last

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _order(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.size))
        import torch

        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        return torch.randperm(self.size, generator=g).tolist()

    def _indices(self) -> list[int]:
        order = self._order()
        if not self.even:
            return order[self.rank :: self.world_size]
        total = self._total()
        if total > len(order):
            order += (order * math.ceil(total / max(len(order), 1)))[: total - len(order)]
        return order[self.rank : total : self.world_size]

    def _total(self) -> int:
        if self.drop_last:
            return self.size // self.world_size * self.world_size
        return math.ceil(self.size / self.world_size) * self.world_size

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices()[self.start :])

    def __len__(self) -> int:
        return max(0, self.per_rank() - self.start)

    def per_rank(self) -> int:
        """Items this rank sees in a full epoch (ignoring ``start``)."""
        if not self.even:
            return len(range(self.rank, self.size, self.world_size))
        return self._total() // self.world_size


def seed_worker(worker_id: int, rank: int = 0) -> None:
    """``worker_init_fn``: seeds ``random`` and numpy's global RNG in a DataLoader worker of ``rank``.

    The seed is ``SeedSequence([loader seed, worker_id, rank])`` (Lightning's recipe): the
    loader seed is the one torch draws anew from the loader's generator for every epoch
    (every new iterator), the same in all workers of that iterator; the worker id and the
    process's rank make every worker of every rank draw its own stream.
    """
    import torch

    loader_seed = (torch.initial_seed() - worker_id) % 2**64  # torch gives worker i the loader seed + i
    state = np.random.SeedSequence([loader_seed, worker_id, rank]).generate_state(2)
    np.random.seed(int(state[0]))
    random.seed(int(state[1]))


def make_loader(
    dataset: Any,
    *,
    batch_size: int,
    shuffle: bool,
    workers: int = 0,
    seed: int = 0,
    epoch: int = 0,
    distributed: bool = False,
    num_replicas: int | None = None,
    rank: int | None = None,
    start: int = 0,
    even: bool = True,
    drop_last: bool = False,
    pin_memory: bool = False,
) -> Any:
    """A ``torch.utils.data.DataLoader`` over ``dataset`` with reproducible order and seeding.

    The order (an :class:`EpochSampler`) and the worker seeds depend only on
    ``(seed, epoch, rank)``: build a loader per epoch (or call ``loader.sampler.set_epoch``)
    to reshuffle.

    Args:
        dataset: any map-style dataset, e.g. :class:`~csipose.data.MMFiDataset`; one with a
            ``read_batch(indices)`` method (returning the stacked batch) is read a batch at a time.
        batch_size: samples per batch.
        shuffle: reshuffle (per epoch).
        workers: DataLoader worker processes (0 = load in this process).
        seed, epoch: the reproducibility keys.
        distributed: shard over ranks; ``num_replicas`` and ``rank`` default to the
            process group's. Without it, ``rank`` only keys the worker seeds.
        start: skip this rank's first ``start`` samples of the epoch (a run resumed mid-epoch).
        even: give every rank the same number of samples, padding with repeats as
            ``DistributedSampler`` does (what data-parallel training needs); ``False``
            gives each sample to exactly one rank (evaluation).
        drop_last: trim the samples that do not fill every rank evenly, and drop a last,
            incomplete batch.
        pin_memory: page-locked batches for faster host-to-GPU copies.
    """
    import torch
    from torch.utils.data import DataLoader

    for name, value, low in (("batch_size", batch_size, 1), ("workers", workers, 0), ("seed", seed, 0),
                             ("epoch", epoch, 0), ("start", start, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            got = repr(value) if isinstance(value, int) else f"a {type(value).__name__}"
            raise ArgumentError(f"{name}: expected an integer >= {low}, got {got}")
    if distributed:
        import torch.distributed as dist

        if num_replicas is None or rank is None:
            if not dist.is_initialized():
                raise ArgumentError("distributed: give num_replicas and rank, or join a process group first")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        world, rank_key = num_replicas, rank
    else:
        world, rank_key = 1, 0 if rank is None else rank
    sampler = EpochSampler(
        len(dataset), shuffle=shuffle, seed=seed, epoch=epoch, rank=rank_key if distributed else 0,
        world_size=world, start=start, even=even, drop_last=drop_last,
    )  # fmt: skip
    generator = torch.Generator()
    generator.manual_seed(int(np.random.SeedSequence([seed, epoch, rank_key]).generate_state(1, np.uint64)[0]) >> 1)
    # A dataset that reads whole batches stacked (MMFiDataset.read_batch) skips per-sample dicts.
    source = _BatchReader(dataset) if callable(getattr(dataset, "read_batch", None)) else dataset
    return DataLoader(
        source,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        worker_init_fn=functools.partial(seed_worker, rank=rank_key) if workers > 0 else None,
        generator=generator,
        drop_last=drop_last,
        pin_memory=pin_memory,
    )
