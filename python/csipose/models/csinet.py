"""The compact default CSI-to-pose network.

Data flow for one batch ``csi: float[B, W, C, S, P]`` (W frames, C antenna
channels, S subcarriers, P packets):

1. per-antenna stem: every (frame, channel) slice ``[P, S]`` goes through three
   convolutions along the subcarriers (the P packets are the first one's input
   channels, so its kernels span all packets of the frame), then an adaptive
   pool to ``tokens`` subcarrier tokens. The stem's weights are shared by all
   antennas, so S = 114 or 56 and C = 3 or 6 work without shape changes.
2. learned antenna-channel and subcarrier-position embeddings are added;
3. a depthwise temporal convolution runs over the W frames of each token
   (residual), then the frames are averaged;
4. ``depth`` pre-norm multi-head self-attention blocks mix the C x tokens tokens;
5. J learned joint queries attend to the tokens (attention pooling), a
   self-attention block lets the joints see each other, and a linear layer
   per joint regresses its D coordinates as an offset from a stored mean pose.

Optional heads read the same features: per-joint 2D heatmaps and DensePose
body-part logits + UV maps. Everything stays on the input's device.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from csipose.errors import ShapeError

if TYPE_CHECKING:
    from csipose.config import TrainingConfig

__all__ = ["CsiPoseNet", "build_model", "count_parameters", "parameter_table"]


class _Block(nn.Module):
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


class CsiPoseNet(nn.Module):
    """CSI window -> joints (and optional heatmaps / DensePose maps).

    Args:
        channels: C, antenna channels of the input (3 amplitude, or 6 amplitude + phase).
        packets: P, packets per frame (the subcarrier convolution's input channels).
        joints: J keypoints regressed.
        dims: D coordinates per keypoint (2 or 3).
        width: token feature width.
        depth: self-attention blocks over the CSI tokens.
        heads: attention heads (divides ``width``).
        tokens: subcarrier tokens per antenna channel.
        dropout: dropout inside attention blocks.
        heatmap_size: side of the heatmap head's grid; 0 = no heatmap head.
        densepose_parts: body parts of the DensePose head; 0 = no DensePose head.
    """

    mean_pose: Tensor  # buffer float[J, D]

    def __init__(
        self,
        *,
        channels: int,
        packets: int = 10,
        joints: int = 17,
        dims: int = 3,
        width: int = 64,
        depth: int = 2,
        heads: int = 4,
        tokens: int = 8,
        dropout: float = 0.0,
        heatmap_size: int = 0,
        densepose_parts: int = 0,
    ) -> None:
        super().__init__()
        self.channels, self.packets, self.joints, self.dims = channels, packets, joints, dims
        stem = max(8, width // 4)
        # Batch normalisation in the stem removes what every frame shares (room, static paths) and
        # scales what varies between frames (the body) to unit size before attention sees it.
        self.stem_subcarriers = nn.Sequential(
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
        self.channel_embedding = nn.Parameter(torch.zeros(channels, 1, width))
        self.position_embedding = nn.Parameter(torch.zeros(1, tokens, width))
        self.temporal = nn.Conv1d(width, width, kernel_size=3, padding=1, groups=width)
        self.encoder = nn.ModuleList(_Block(width, heads, dropout) for _ in range(depth))
        self.norm_tokens = nn.LayerNorm(width)
        self.joint_queries = nn.Parameter(torch.zeros(joints, width))
        self.pool = _Block(width, heads, dropout)
        self.joint_mixer = _Block(width, heads, dropout)
        self.norm_joints = nn.LayerNorm(width)
        # one linear map per joint: the joints do not share a regressor
        self.regressor_weight = nn.Parameter(torch.zeros(joints, width, dims))
        self.regressor_bias = nn.Parameter(torch.zeros(joints, dims))
        self.register_buffer("mean_pose", torch.zeros(joints, dims))
        self.heatmap_size = heatmap_size
        self.heatmap_head = nn.Linear(width, heatmap_size * heatmap_size) if heatmap_size else None
        self.densepose_parts = densepose_parts
        self.densepose_head = _DensePoseHead(width, densepose_parts) if densepose_parts else None
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        nn.init.normal_(self.channel_embedding, std=0.02)
        nn.init.normal_(self.position_embedding, std=0.02)
        nn.init.normal_(self.joint_queries, std=1.0)  # distinct queries: each joint pools differently
        # Start at the mean pose: the regressor's first outputs are small offsets.
        nn.init.normal_(self.regressor_weight, std=1e-3)
        nn.init.zeros_(self.regressor_bias)

    @torch.no_grad()
    def set_mean_pose(self, pose: Tensor) -> None:
        """Stores the training-set mean pose ``float[J, D]`` the joints are regressed around."""
        self.mean_pose.copy_(pose.reshape(self.joints, self.dims).to(self.mean_pose))

    def forward(self, csi: Tensor) -> dict[str, Tensor]:
        """``csi: float[B, W, C, S, P]`` -> ``{"keypoints": [B, J, D], "features": [B, width], ...}``.

        With the optional heads: ``"heatmap": [B, J, H, H]``, ``"dp_parts": [B, K+1, 16, 16]``
        (logits) and ``"dp_uv": [B, 2K, 16, 16]`` (in [0, 1]).
        """
        if csi.dim() != 5 or csi.shape[2] != self.channels or csi.shape[4] != self.packets:
            raise ShapeError(
                f"csi: expected [B, W, {self.channels}, S, {self.packets}], got {list(csi.shape)}"
            )
        b, w, c, s, p = csi.shape
        x = csi.reshape(b * w * c, s, p).transpose(1, 2)  # [N, P, S]: packets as input channels
        x = self.stem_subcarriers(x)  # [N, width, L]
        width, tokens = x.shape[1], x.shape[2]
        x = x.transpose(1, 2).reshape(b, w, c, tokens, width)
        x = x + self.channel_embedding + self.position_embedding
        t = x.permute(0, 2, 3, 4, 1).reshape(b * c * tokens, width, w)
        t = t + self.temporal(t)
        x = t.mean(dim=2).reshape(b, c * tokens, width)
        for block in self.encoder:
            x = block(x)
        x = self.norm_tokens(x)
        q = self.joint_queries.expand(b, -1, -1)
        joints = self.pool(q, context=x)
        joints = self.norm_joints(self.joint_mixer(joints))
        out = {
            "keypoints": self.mean_pose + torch.einsum("bjw,jwd->bjd", joints, self.regressor_weight)
            + self.regressor_bias,
            "features": x.mean(dim=1),
        }
        if self.heatmap_head is not None:
            h = self.heatmap_size
            out["heatmap"] = self.heatmap_head(joints).reshape(b, self.joints, h, h)
        if self.densepose_head is not None:
            out["dp_parts"], out["dp_uv"] = self.densepose_head(out["features"])
        return out


class _DensePoseHead(nn.Module):
    """Global feature -> body-part logits ``[B, K+1, 16, 16]`` and UV ``[B, 2K, 16, 16]``."""

    def __init__(self, width: int, parts: int) -> None:
        super().__init__()
        self.width = width
        self.seed = nn.Linear(width, width * 16)
        self.up = nn.Sequential(
            nn.ConvTranspose2d(width, 32, 4, stride=2, padding=1),
            nn.GELU(),
            nn.ConvTranspose2d(32, 32, 4, stride=2, padding=1),
            nn.GELU(),
        )
        self.parts = nn.Conv2d(32, parts + 1, 1)
        self.uv = nn.Conv2d(32, 2 * parts, 1)

    def forward(self, feature: Tensor) -> tuple[Tensor, Tensor]:
        x = self.seed(feature).reshape(-1, self.width, 4, 4)
        x = self.up(x)
        return self.parts(x), torch.sigmoid(self.uv(x))


def build_model(config: TrainingConfig, *, channels: int, packets: int = 10, joints: int = 17) -> CsiPoseNet:
    """The model a :class:`~csipose.config.TrainingConfig` describes, for C = ``channels``, P = ``packets``."""
    return CsiPoseNet(
        channels=channels,
        packets=packets,
        joints=joints,
        dims=config.keypoint_dims,
        width=config.width,
        depth=config.depth,
        heads=config.heads,
        tokens=config.tokens,
        dropout=config.dropout,
        heatmap_size=config.heatmap_size if config.heatmap else 0,
        densepose_parts=config.densepose_parts if config.densepose else 0,
    )


def count_parameters(model: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def parameter_table(model: nn.Module) -> str:
    """Per top-level module parameter counts and the total, as printable text."""
    lines = []
    for name, child in model.named_children():
        lines.append(f"{name:<20} {count_parameters(child):>10,}")
    direct = sum(p.numel() for n, p in model.named_parameters(recurse=False))
    if direct:
        lines.append(f"{'(embeddings)':<20} {direct:>10,}")
    lines.append(f"{'total':<20} {count_parameters(model):>10,}")
    return "\n".join(lines)
