"""Training (PyTorch): the run loop, schedules, checkpoints, DDP and the deterministic proof.

Submodules import torch; this package itself stays light so the ``csipose``
command can register its subcommands without loading torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["train", "load_model"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from csipose.train import loop

        return getattr(loop, name)
    raise AttributeError(f"module 'csipose.train' has no attribute {name!r}")
