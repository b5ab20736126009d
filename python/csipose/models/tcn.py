"""``tcn``: a WiFlow-style temporal convolution model with axial attention.

The window's W x P packets form one time axis; every channel group (amplitude, phase) has its
own grouped convolutions, whose input at each time step is the group's A x S tones:

1. a grouped 1x1 embedding to ``C x width`` channels (``width`` per antenna channel) and three
   residual grouped temporal blocks (kernel 3, dilations 1, 2, 4, BN, GELU);
2. axial attention: the features of each time step are split into C channel tokens and attend
   across channels; then the time steps attend across time (one head each axis);
3. the average over time and channels feeds a two-layer regressor of the J x D joints.
"""

from __future__ import annotations

from torch import Tensor, nn

from csipose.models.csinet import AttentionBlock

__all__ = ["Tcn"]


class _TemporalBlock(nn.Module):
    def __init__(self, channels: int, groups: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation, groups=groups),
            nn.BatchNorm1d(channels), nn.GELU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x)


class Tcn(nn.Module):
    """WiFlow-style TCN; ``features`` = ``width``."""

    def __init__(self, *, shape: tuple[int, int, int, int], groups: int, joints: int, dims: int,
                 width: int = 64, heads: int = 4, dropout: float = 0.1) -> None:
        super().__init__()
        _, c, s, _ = shape
        self.joints, self.dims, self.features = joints, dims, width
        hidden = c * width
        self.embed = nn.Sequential(nn.Conv1d(c * s, hidden, 1, groups=groups), nn.BatchNorm1d(hidden), nn.GELU())
        self.temporal = nn.Sequential(*(_TemporalBlock(hidden, c, d) for d in (1, 2, 4)))
        self.across_channels = AttentionBlock(width, heads, dropout)
        self.across_time = AttentionBlock(width, heads, dropout)
        self.head = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 4 * width), nn.GELU(),
                                  nn.Dropout(dropout), nn.Linear(4 * width, joints * dims))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x: float[B, W, C, S, P]`` -> offsets ``[B, J, D]``, features ``[B, width]``."""
        features = self.encode(x)
        return self.head(features).reshape(-1, self.joints, self.dims), features

    def encode(self, x: Tensor) -> Tensor:
        """``x: float[B, W, C, S, P]`` -> the pooled features ``[B, width]`` that ``head`` reads."""
        b, w, c, s, p = x.shape
        seq = x.permute(0, 2, 3, 1, 4).reshape(b, c * s, w * p)  # time = frames x packets
        h = self.temporal(self.embed(seq))  # [B, C*width, T]
        t = h.shape[2]
        tokens = h.reshape(b, c, self.features, t).permute(0, 3, 1, 2).reshape(b * t, c, self.features)
        tokens = self.across_channels(tokens).reshape(b, t, c, self.features)
        steps = self.across_time(tokens.mean(dim=2))  # [B, T, width]
        return steps.mean(dim=1)
