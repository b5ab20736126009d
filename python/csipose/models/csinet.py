"""``csinet``: subcarrier convolutions per antenna, attention over tokens, joint queries.

Data flow for one normalised window ``x: float[B, W, C, S, P]`` (C channels in G groups of
A antennas, e.g. amplitude then phase):

1. per-group stem: every (frame, antenna) slice ``[P, S]`` of a group goes through that group's
   three convolutions along the subcarriers (the P packets are the first one's input channels),
   then an adaptive pool to ``tokens`` subcarrier tokens; amplitude and phase are embedded
   separately, so one cannot drown the other, and S = 114 or 56 work without shape changes;
2. learned channel and subcarrier-position embeddings are added;
3. a depthwise temporal convolution runs over the W frames of each token (residual), then the
   frames are averaged;
4. ``depth`` pre-norm multi-head self-attention blocks mix the C x tokens tokens;
5. J learned joint queries attend to the tokens, a self-attention block lets the joints see each
   other, and a linear map per joint regresses its D coordinates.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["CsiNet"]


class AttentionBlock(nn.Module):
    """Pre-norm attention block; ``context`` (if given) supplies keys/values (cross-attention)."""

    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm_q = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.norm_mlp = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 2 * width), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * width, width)
        )

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        q = self.norm_q(x)
        kv = q if context is None else context
        x = x + self.attn(q, kv, kv, need_weights=False)[0]
        return x + self.mlp(self.norm_mlp(x))


def _stem(packets: int, width: int, tokens: int) -> nn.Sequential:
    stem = max(8, width // 4)
    # Batch normalisation here removes what every frame shares (room, static paths) and scales
    # what varies between frames (the body) to unit size before attention sees it.
    return nn.Sequential(
        nn.Conv1d(packets, stem, kernel_size=7, stride=2, padding=3),
        nn.BatchNorm1d(stem),
        nn.GELU(),
        nn.Conv1d(stem, width, kernel_size=5, stride=2, padding=2),
        nn.BatchNorm1d(width),
        nn.GELU(),
        nn.Conv1d(width, width, kernel_size=3, padding=1),
        nn.BatchNorm1d(width),
        nn.GELU(),
        nn.AdaptiveAvgPool1d(tokens),
    )


class CsiNet(nn.Module):
    """The attention model (see the module docstring); ``features`` = ``width``."""

    def __init__(self, *, shape: tuple[int, int, int, int], groups: int, joints: int, dims: int,
                 width: int = 64, depth: int = 2, heads: int = 4, tokens: int = 8,
                 dropout: float = 0.0) -> None:
        super().__init__()
        _, channels, _, packets = shape
        self.groups, self.joints, self.dims, self.features = groups, joints, dims, width
        self.stems = nn.ModuleList(_stem(packets, width, tokens) for _ in range(groups))
        self.channel_embedding = nn.Parameter(torch.zeros(channels, 1, width))
        self.position_embedding = nn.Parameter(torch.zeros(1, tokens, width))
        self.temporal = nn.Conv1d(width, width, kernel_size=3, padding=1, groups=width)
        self.encoder = nn.ModuleList(AttentionBlock(width, heads, dropout) for _ in range(depth))
        self.norm_tokens = nn.LayerNorm(width)
        self.joint_queries = nn.Parameter(torch.zeros(joints, width))
        self.pool = AttentionBlock(width, heads, dropout)
        self.joint_mixer = AttentionBlock(width, heads, dropout)
        self.norm_joints = nn.LayerNorm(width)
        # one linear map per joint: the joints do not share a regressor
        self.regressor_weight = nn.Parameter(torch.zeros(joints, width, dims))
        self.regressor_bias = nn.Parameter(torch.zeros(joints, dims))
        nn.init.normal_(self.channel_embedding, std=0.02)
        nn.init.normal_(self.position_embedding, std=0.02)
        nn.init.normal_(self.joint_queries, std=1.0)  # distinct queries: each joint pools differently
        nn.init.normal_(self.regressor_weight, std=1e-3)  # first outputs: small offsets

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x: float[B, W, C, S, P]`` -> offsets ``[B, J, D]``, features ``[B, width]``."""
        b, w, c, s, p = x.shape
        per_group = c // self.groups
        parts = []
        for g, stem in enumerate(self.stems):
            xg = x[:, :, g * per_group : (g + 1) * per_group]
            y = stem(xg.reshape(b * w * per_group, s, p).transpose(1, 2))  # [B*W*A, width, L]
            parts.append(y.reshape(b, w, per_group, *y.shape[1:]))
        x = torch.cat(parts, dim=2).transpose(3, 4)  # [B, W, C, L, width]
        width, tokens = x.shape[4], x.shape[3]
        x = x + self.channel_embedding + self.position_embedding
        t = x.permute(0, 2, 3, 4, 1).reshape(b * c * tokens, width, w)
        t = t + self.temporal(t)
        x = t.mean(dim=2).reshape(b, c * tokens, width)
        for block in self.encoder:
            x = block(x)
        x = self.norm_tokens(x)
        joints = self.pool(self.joint_queries.expand(b, -1, -1), context=x)
        joints = self.norm_joints(self.joint_mixer(joints))
        offsets = torch.einsum("bjw,jwd->bjd", joints, self.regressor_weight) + self.regressor_bias
        return offsets, x.mean(dim=1)
