"""Training (PyTorch): the run loop, schedules, checkpoints, DDP and the deterministic proof.

The run is split by job: :mod:`~csipose.train.loop` (the steps of a run),
:mod:`~csipose.train.data` (datasets, model settings, loaders), :mod:`~csipose.train.step`
(loss and optimizer step), :mod:`~csipose.train.evaluate` (validation),
:mod:`~csipose.train.state` (checkpointed state, best / top-k, resume, model loading) and
:mod:`~csipose.train.run_dir` (the run folder). Submodules import torch; this package itself
stays light so the ``csipose`` command can register its subcommands without loading torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["train", "load_model"]

_HOMES = {"train": "csipose.train.loop", "load_model": "csipose.train.state"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'csipose.train' has no attribute {name!r}")
