"""Datasets for WiFi-CSI pose: MM-Fi (NeurIPS 2023) from its official layout or a packed cache,
and the physics-based synthetic generator in :mod:`csipose.data.synthetic`.

    csipose data prepare /data/MMFi --out /data/mmfi-cache      # once: pack all .mat files

    >>> from csipose.data import MMFiDataset, make_loader
    >>> ds = MMFiDataset("/data/MMFi", protocol="p1", scheme="random", split="train",
    ...                  window=4, cache="/data/mmfi-cache")            # doctest: +SKIP
    >>> loader = make_loader(ds, batch_size=64, shuffle=True, workers=4, seed=0, epoch=0)  # doctest: +SKIP

``import csipose.data`` does not import torch; only :func:`collate`,
:func:`seed_worker` and :func:`make_loader` do, when called.
"""

from __future__ import annotations

from csipose.data.cache import open_cache, prepare_mmfi
from csipose.data.collate import EpochSampler, collate, make_loader, seed_worker
from csipose.data.mmfi import MMFiDataset
from csipose.data.preprocess import Preprocess, split_complex
from csipose.data.splits import mmfi_split

__all__ = [
    "EpochSampler",
    "MMFiDataset",
    "Preprocess",
    "collate",
    "make_loader",
    "mmfi_split",
    "open_cache",
    "prepare_mmfi",
    "seed_worker",
    "split_complex",
]
