"""``mlp``: a two-hidden-layer perceptron on the flattened frame, as in MM-Fi's baselines.

Every frame ``[C, S, P]`` is flattened and mapped by the same MLP (``2 * width`` hidden units,
layer norm, GELU, dropout); the W frame features are averaged and a linear layer regresses the
J x D joints. Its parameters grow with C x S x P (899,251 for 6 x 114 x 10 at width 64).
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["Mlp"]


class Mlp(nn.Module):
    """Flattened-frame MLP; ``features`` = ``2 * width``."""

    def __init__(self, *, shape: tuple[int, int, int, int], groups: int, joints: int, dims: int,
                 width: int = 64, dropout: float = 0.1) -> None:
        super().__init__()
        del groups  # every input feature has its own weights already
        _, c, s, p = shape
        hidden = 2 * width
        self.joints, self.dims, self.features = joints, dims, hidden
        self.frame = nn.Sequential(
            nn.Linear(c * s * p, hidden), nn.LayerNorm(hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.LayerNorm(hidden), nn.GELU(), nn.Dropout(dropout),
        )
        self.head = nn.Linear(hidden, joints * dims)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x: float[B, W, C, S, P]`` -> offsets ``[B, J, D]``, features ``[B, 2 width]``."""
        features = self.encode(x)
        return self.head(features).reshape(-1, self.joints, self.dims), features

    def encode(self, x: Tensor) -> Tensor:
        """``x: float[B, W, C, S, P]`` -> the pooled features ``[B, 2 width]`` that ``head`` reads."""
        return self.frame(x.flatten(2)).mean(dim=1)
