"""Batching and seeding for ``torch.utils.data.DataLoader`` (torch imported lazily).

``collate`` is ``torch.utils.data.default_collate`` after checks that every sample
keeps the dataset contract, so a bad sample fails with its index and the key
instead of a stack error deep in torch. Worker seeding follows
``SeedSequence([seed, epoch, rank])`` so every (epoch, rank, worker) draws its own
reproducible stream.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from csipose.errors import ArgumentError, ShapeError

__all__ = ["collate", "make_loader", "seed_worker"]

_SCALARS = ("subject", "action", "environment", "frame")


def _check(samples: Sequence[Mapping[str, Any]]) -> None:
    if not samples:
        raise ShapeError("samples: expected at least one sample, got an empty batch")
    first = samples[0]
    keys = set(first)
    for name in ("csi", "keypoints", "visibility", *_SCALARS):
        if name not in keys:
            raise ShapeError(f"samples[0]: missing key {name!r}; expected csi, keypoints, visibility and ids")
    for i, s in enumerate(samples):
        if set(s) != keys:
            raise ShapeError(f"samples[{i}]: keys {sorted(s)} differ from samples[0]'s {sorted(keys)}")
        csi, kp, vis = np.asarray(s["csi"]), np.asarray(s["keypoints"]), np.asarray(s["visibility"])
        if csi.ndim != 4 or csi.dtype != np.float32:
            raise ShapeError(f"samples[{i}]['csi']: expected float32[W, C, S, P], got {csi.dtype}{list(csi.shape)}")
        if kp.ndim != 2 or kp.shape[1] != 3 or kp.dtype != np.float32:
            raise ShapeError(f"samples[{i}]['keypoints']: expected float32[J, 3], got {kp.dtype}{list(kp.shape)}")
        if vis.shape != kp.shape[:1]:
            raise ShapeError(f"samples[{i}]['visibility']: expected shape ({kp.shape[0]},), got {vis.shape}")
        for name in ("csi", "keypoints"):
            want = np.shape(first[name])
            if np.shape(s[name]) != want:
                raise ShapeError(f"samples[{i}][{name!r}]: shape {np.shape(s[name])} differs from samples[0]'s {want}")
        for name in _SCALARS:
            if np.ndim(s[name]) != 0:
                raise ShapeError(f"samples[{i}][{name!r}]: expected an integer scalar, got shape {np.shape(s[name])}")


def collate(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Stacks samples into a batch of tensors: ``csi: float32[B, W, C, S, P]``, ``keypoints: [B, J, 3]``...

    Raises:
        ShapeError: an empty batch, missing keys, wrong dtypes or shapes that differ.
    """
    from torch.utils.data import default_collate

    _check(samples)
    return dict(default_collate(list(samples)))


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seeds ``random`` and numpy's global RNG in a DataLoader worker.

    The seed derives from torch's per-worker seed, which the DataLoader draws anew from
    its generator for every epoch (every new iterator) and offsets by ``worker_id``.
    """
    import torch

    state = np.random.SeedSequence([torch.initial_seed() % 2**63, worker_id]).generate_state(2)
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
    drop_last: bool = False,
    pin_memory: bool = False,
) -> Any:
    """A ``torch.utils.data.DataLoader`` over ``dataset`` with reproducible order and seeding.

    The shuffle order and worker seeds depend only on ``(seed, epoch, rank)``: build a
    loader per epoch (or call ``loader.sampler.set_epoch``) to reshuffle.

    Args:
        dataset: any map-style dataset, e.g. :class:`~csipose.data.MMFiDataset`.
        batch_size: samples per batch.
        shuffle: reshuffle (per epoch).
        workers: DataLoader worker processes (0 = load in this process).
        seed, epoch: the reproducibility keys.
        distributed: shard with ``DistributedSampler``; ``num_replicas`` and ``rank``
            default to the process group's.
        drop_last: drop a last, incomplete batch (in distributed mode also pads no samples).
        pin_memory: page-locked batches for faster host-to-GPU copies.
    """
    import torch
    from torch.utils.data import DataLoader, DistributedSampler

    for name, value, low in (("batch_size", batch_size, 1), ("workers", workers, 0), ("seed", seed, 0), ("epoch", epoch, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ArgumentError(f"{name}: expected an integer >= {low}, got {value!r}")
    sampler = None
    if distributed:
        sampler = DistributedSampler(
            dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last
        )
        sampler.set_epoch(epoch)
        rank_key = sampler.rank
    else:
        rank_key = 0 if rank is None else rank
    generator = torch.Generator()
    generator.manual_seed(int(np.random.SeedSequence([seed, epoch, rank_key]).generate_state(1, np.uint64)[0]) >> 1)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle if sampler is None else False,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        worker_init_fn=seed_worker if workers > 0 else None,
        generator=generator,
        drop_last=drop_last,
        pin_memory=pin_memory,
    )
