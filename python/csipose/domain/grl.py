"""Domain-adversarial training (DANN, Ganin et al. 2016): a gradient reversal layer and the
domain classifier behind it.

The classifier learns to tell the training rooms apart from the model's pooled features; the
reversal layer passes the features forward unchanged and sends the classifier's gradient back
multiplied by ``-coefficient``, so the backbone learns features from which the room cannot be
told. The coefficient follows Ganin's schedule ``2 / (1 + exp(-10 p)) - 1`` over training
progress ``p`` (:func:`reversal_schedule`), so the adversary is weak while the features form.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from csipose.errors import ArgumentError, ConfigError

__all__ = ["DomainClassifier", "reversal_schedule", "reverse_gradient"]


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, coefficient: float) -> Tensor:
        ctx.coefficient = coefficient
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return -ctx.coefficient * grad, None


def reverse_gradient(x: Tensor, coefficient: float = 1.0) -> Tensor:
    """``x`` unchanged in the forward pass; the incoming gradient times ``-coefficient`` backwards."""
    return _ReverseGradient.apply(x, float(coefficient))


def reversal_schedule(progress: float) -> float:
    """Ganin's annealed reversal strength ``lambda_p = 2 / (1 + exp(-10 p)) - 1`` at training
    progress ``p`` in [0, 1] (0 at the start, 0.987 at half way, -> 1)."""
    if not 0.0 <= progress <= 1.0:
        raise ArgumentError(f"progress: expected a fraction in [0, 1], got {progress!r}")
    return 2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0


class DomainClassifier(nn.Module):
    """Pooled features ``float[B, F]`` -> logits ``float[B, K]`` over the ``K`` training rooms,
    behind a gradient reversal layer.

    Args:
        features: F, the backbone's pooled feature width.
        environments: the K training rooms' environment ids, in the order of the logits.
    """

    environments: Tensor  # buffer int64[K]

    def __init__(self, features: int, environments: Sequence[int]) -> None:
        super().__init__()
        ids = sorted({int(e) for e in environments})
        if len(ids) < 2:
            raise ConfigError(
                f"domain_adversarial: needs at least two training rooms to tell apart, got environments {ids}"
            )
        self.register_buffer("environments", torch.tensor(ids, dtype=torch.int64))
        self.net = nn.Sequential(nn.Linear(features, features), nn.GELU(), nn.Linear(features, len(ids)))

    def forward(self, features: Tensor, coefficient: float) -> Tensor:
        return self.net(reverse_gradient(features, coefficient))

    def labels(self, environment: Tensor) -> Tensor:
        """Class indices ``int64[B]`` of environment ids ``int[B]``; a room the classifier was not
        built over is an error."""
        env = environment.reshape(-1).to(self.environments.device, torch.int64)
        index = torch.searchsorted(self.environments, env).clamp_max(len(self.environments) - 1)
        known = self.environments[index] == env
        if not bool(known.all()):
            unknown = sorted({int(e) for e in env[~known].tolist()})
            raise ArgumentError(
                f"environment: rooms {unknown} are not among the domain classifier's training rooms "
                f"{self.environments.tolist()}"
            )
        return index
