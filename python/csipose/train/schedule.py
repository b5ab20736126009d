"""Learning-rate schedules as a pure function of the optimizer step.

The factor multiplying the peak rate is computed from the global step alone,
so a resumed run continues on exactly the curve it left (the scheduler's state
is just its step counter).
"""

from __future__ import annotations

import bisect
import math
import os
import sys
from collections.abc import Sequence

import torch

from csipose.config import TrainingConfig

__all__ = ["LrSchedule", "build_scheduler"]


class LrSchedule:
    """``factor(step)``: linear warm-up, then cosine to zero or multistep decay.

    Args:
        steps_per_epoch: optimizer steps in one epoch (>= 1).
        epochs: training epochs.
        warmup_epochs: epochs of linear warm-up, from ``1/warmup_steps`` to 1.
        kind: ``"cosine"`` or ``"multistep"``.
        milestones: epochs where multistep multiplies by ``gamma``.
        gamma: multistep decay factor.
    """

    def __init__(
        self,
        *,
        steps_per_epoch: int,
        epochs: int,
        warmup_epochs: int,
        kind: str,
        milestones: Sequence[int] = (),
        gamma: float = 0.1,
    ) -> None:
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.total_steps = self.steps_per_epoch * int(epochs)
        self.warmup_steps = self.steps_per_epoch * int(warmup_epochs)
        self.kind = kind
        self.milestone_steps = [self.steps_per_epoch * int(m) for m in milestones]
        self.gamma = float(gamma)

    def __call__(self, step: int) -> float:
        """The rate factor for optimizer step ``step`` (0-based)."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.kind == "cosine":
            span = max(1, self.total_steps - self.warmup_steps)
            progress = min(1.0, (step - self.warmup_steps) / span)
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.gamma ** bisect.bisect_right(self.milestone_steps, step)


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainingConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step :class:`~torch.optim.lr_scheduler.LambdaLR` following :class:`LrSchedule`.

    An unset ``warmup_epochs`` warms up for one epoch, or not at all in a one-epoch run, which
    rank 0 says on stderr.
    """
    warmup_epochs = config.resolved_warmup_epochs()
    if config.warmup_epochs is None and warmup_epochs < 1 and int(os.environ.get("RANK", "0")) == 0:
        print(
            f"csipose train: note: no learning-rate warm-up, since epochs = {config.epochs} "
            "(the default warm-up of one epoch must be shorter than the run)",
            file=sys.stderr,
        )
    schedule = LrSchedule(
        steps_per_epoch=steps_per_epoch,
        epochs=config.epochs,
        warmup_epochs=warmup_epochs,
        kind=config.schedule,
        milestones=config.milestones,
        gamma=config.gamma,
    )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
