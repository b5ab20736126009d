"""The DensePose head: a pose model's features to body-part logits and (U, V) maps.

The CSI window has no image axes, so the head draws the image itself: a linear map from the
backbone's feature vector and the predicted joints to a coarse ``64 x s x s`` grid (``s = size / 8``),
three stride-2 transposed convolutions up to ``size x size``, then two 1x1 convolutions: part
logits (background + K parts) and, per part, a (U, V) pair squashed into [0, 1]. The joints go in
because the labels are the body seen by a fixed camera: where the joints are decides where the
parts are; the features add what the joints do not say. Both come in detached: the head learns
from the pose model without changing it, so a model's joints are those it has without the head
(its gradients are also clipped apart, :func:`csipose.train.step.clip_groups`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from csipose.errors import ConfigError

__all__ = ["DensePoseHead", "iuv_from_outputs"]


class DensePoseHead(nn.Module):
    """``features [B, F]`` and ``joints [B, J, D]`` -> part logits ``[B, K+1, H, H]`` and UV ``[B, 2K, H, H]``.

    ``H = size`` (a multiple of 8). UV channel ``2(k-1)`` is part ``k``'s U, ``2(k-1)+1`` its V.
    """

    def __init__(self, features: int, joints: int, parts: int, size: int) -> None:
        super().__init__()
        if size < 8 or size % 8:
            raise ConfigError(f"densepose_size: must be a positive multiple of 8, got {size}")
        self.size = size
        self.grid = size // 8
        self.seed = nn.Linear(features + joints, 64 * self.grid * self.grid)
        self.up = nn.Sequential(
            nn.ConvTranspose2d(64, 48, 4, stride=2, padding=1), nn.GELU(),
            nn.ConvTranspose2d(48, 32, 4, stride=2, padding=1), nn.GELU(),
            nn.ConvTranspose2d(32, 32, 4, stride=2, padding=1), nn.GELU(),
        )  # fmt: skip
        self.part_logits = nn.Conv2d(32, parts + 1, 1)
        self.uv = nn.Conv2d(32, 2 * parts, 1)

    def forward(self, features: Tensor, joints: Tensor) -> tuple[Tensor, Tensor]:
        x = torch.cat([features.detach().float(), joints.detach().flatten(1).float()], dim=1)
        x = self.up(self.seed(x).reshape(-1, 64, self.grid, self.grid))
        return self.part_logits(x), torch.sigmoid(self.uv(x))


@torch.no_grad()
def iuv_from_outputs(part_logits: Tensor, uv: Tensor) -> tuple[Tensor, Tensor]:
    """The predicted IUV image and its confidence.

    Args:
        part_logits: ``float[B, K+1, H, W]``; uv: ``float[B, 2K, H, W]``.

    Returns:
        ``iuv: float32[B, 3, H, W]``: a pixel is body where the parts' total probability exceeds
        the background's (``p(background) < 0.5``), and there carries its most likely part 1-K
        (channel 0, else 0) and that part's U and V (0 on background) and ``score: float32[B]``, the mean foreground probability
        ``1 - p(background)`` over the predicted body pixels (0 when none).
    """
    prob = torch.softmax(part_logits.float(), dim=1)
    body = prob[:, 0] < 0.5  # the body's total probability wins, then its most likely part
    part = torch.where(body, prob[:, 1:].argmax(dim=1) + 1, 0)  # [B, H, W]
    channel = ((part - 1).clamp_min(0) * 2).unsqueeze(1)
    u = uv.float().gather(1, channel).squeeze(1)
    v = uv.float().gather(1, channel + 1).squeeze(1)
    iuv = torch.stack([part.float(), torch.where(body, u, 0.0), torch.where(body, v, 0.0)], dim=1)
    foreground = (1.0 - prob[:, 0]) * body
    count = body.flatten(1).sum(1)
    score = torch.where(count > 0, foreground.flatten(1).sum(1) / count.clamp_min(1), 0.0)
    return iuv, score
