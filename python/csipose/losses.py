"""Training losses (PyTorch) and their weighted multi-task sum.

Shapes: ``pred``/``gt`` keypoints are ``float[B, J, D]``; ``visible`` is
``float[B, J]`` (1 visible, 0 not; ``None`` = all visible). Every masked loss
averages over the visible items only and is 0 (with a gradient path) when
nothing is visible, so a batch of unlabelled frames never produces NaN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from csipose.errors import ArgumentError, ShapeError
from csipose.skeletons import H36M17

__all__ = [
    "keypoint_loss",
    "bone_length_loss",
    "heatmap_loss",
    "gaussian_heatmaps",
    "oks_loss",
    "densepose_part_loss",
    "densepose_uv_loss",
    "transfer_loss",
    "domain_loss",
    "match_slots",
    "set_prediction_losses",
    "MultiTaskLoss",
]


def _mask(visible: Tensor | None, like: Tensor) -> Tensor:
    """``float[B, J]`` visibility (all ones when ``None``) on ``like``'s device and dtype."""
    if visible is None:
        return torch.ones(like.shape[:2], dtype=like.dtype, device=like.device)
    if visible.shape != like.shape[:2]:
        raise ShapeError(f"visible: expected {list(like.shape[:2])}, got {list(visible.shape)}")
    return visible.to(like.dtype)


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` over ``mask > 0`` (weights = mask); 0 when the mask is empty."""
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


def _check_pair(pred: Tensor, gt: Tensor) -> None:
    if pred.shape != gt.shape or pred.dim() != 3:
        raise ShapeError(f"pred/gt: expected two equal [B, J, D] shapes, got {list(pred.shape)} and {list(gt.shape)}")


def keypoint_loss(
    pred: Tensor, gt: Tensor, visible: Tensor | None = None, *, kind: str = "mse", beta: float = 0.05
) -> Tensor:
    """Visibility-masked joint regression loss.

    Per joint, the elementwise loss (``mse``: squared error; ``smooth_l1``:
    Huber with transition ``beta`` metres) is summed over the D coordinates;
    the result is the mean over visible joints.
    """
    _check_pair(pred, gt)
    if kind == "mse":
        per = (pred - gt).square()
    elif kind == "smooth_l1":
        per = F.smooth_l1_loss(pred, gt, reduction="none", beta=beta)
    else:
        raise ArgumentError(f"kind: expected 'mse' or 'smooth_l1', got {kind!r}")
    return _masked_mean(per.sum(dim=-1), _mask(visible, pred))


def bone_length_loss(
    pred: Tensor,
    gt: Tensor,
    visible: Tensor | None = None,
    *,
    bones: Sequence[tuple[int, int]] = H36M17.bones,
) -> Tensor:
    """Mean absolute difference of bone lengths, over bones whose two joints are visible."""
    _check_pair(pred, gt)
    index = torch.tensor(bones, dtype=torch.long, device=pred.device)  # [K, 2]
    def lengths(x: Tensor) -> Tensor:
        return (x[:, index[:, 0]] - x[:, index[:, 1]]).norm(dim=-1)  # [B, K]
    mask = _mask(visible, pred)
    both = mask[:, index[:, 0]] * mask[:, index[:, 1]]
    return _masked_mean((lengths(pred) - lengths(gt)).abs(), both)


def gaussian_heatmaps(xy: Tensor, *, size: int, extent: float, sigma: float) -> Tensor:
    """Heatmap targets ``float[B, J, size, size]`` for ``xy: float[B, J, 2]`` in metres.

    The grid covers ``[-extent, extent]`` on both axes (row = y, column = x,
    cell centres); each map is an unnormalised Gaussian of ``sigma`` cells at
    the joint, peak 1.
    """
    cell = 2.0 * extent / size
    centres = -extent + cell * (torch.arange(size, dtype=xy.dtype, device=xy.device) + 0.5)
    px = (xy[..., 0:1] - centres) / cell  # [B, J, size] distance in cells along x
    py = (xy[..., 1:2] - centres) / cell
    gx = torch.exp(-0.5 * (px / sigma).square())
    gy = torch.exp(-0.5 * (py / sigma).square())
    return gy.unsqueeze(-1) * gx.unsqueeze(-2)


def heatmap_loss(pred: Tensor, target: Tensor, visible: Tensor | None = None) -> Tensor:
    """Mean squared error of ``[B, J, H, W]`` heatmaps, over the maps of visible joints."""
    if pred.shape != target.shape or pred.dim() != 4:
        raise ShapeError(f"heatmaps: expected two equal [B, J, H, W] shapes, got {list(pred.shape)} and {list(target.shape)}")
    per_map = (pred - target).square().mean(dim=(-2, -1))
    return _masked_mean(per_map, _mask(visible, pred))


def oks_loss(
    pred: Tensor,
    gt: Tensor,
    visible: Tensor | None = None,
    *,
    sigmas: Tensor | Sequence[float],
    areas: Tensor | None = None,
) -> Tensor:
    """``1 - OKS`` averaged over frames with at least one visible joint.

    OKS per frame is COCO's: ``mean_j exp(-d_j^2 / (2 s^2 k_j^2))`` over visible
    joints, ``k_j = 2 sigma_j`` and ``s^2`` = ``areas`` (``float[B]``, the name
    :func:`csipose.metrics.oks` uses); by default the area of the visible
    ground-truth box on the first two axes. The last axis of ``pred`` and ``gt``
    holds coordinates only, as in :mod:`csipose.metrics.oks`.
    """
    _check_pair(pred, gt)
    mask = _mask(visible, pred)
    k = 2.0 * torch.as_tensor(sigmas, dtype=pred.dtype, device=pred.device)
    if k.shape != (pred.shape[1],):
        raise ShapeError(f"sigmas: expected {pred.shape[1]} values, got {list(k.shape)}")
    if areas is None:
        big = torch.finfo(gt.dtype).max
        xy = gt[..., :2]
        m = mask.unsqueeze(-1) > 0
        lo = torch.where(m, xy, torch.full_like(xy, big)).amin(dim=1)
        hi = torch.where(m, xy, torch.full_like(xy, -big)).amax(dim=1)
        areas = ((hi - lo).clamp_min(0.0)).prod(dim=-1)
    area = areas.to(pred.dtype).clamp_min(torch.finfo(pred.dtype).eps)
    d2 = (pred - gt).square().sum(dim=-1)  # [B, J]
    e = torch.exp(-d2 / (2.0 * area.unsqueeze(-1) * k.square()))
    counts = mask.sum(dim=1)
    oks = (e * mask).sum(dim=1) / counts.clamp_min(1.0)
    scored = (counts > 0).to(pred.dtype)
    return _masked_mean(1.0 - oks, scored)


def densepose_part_loss(logits: Tensor, parts: Tensor) -> Tensor:
    """Cross-entropy of body-part logits ``[B, K+1, H, W]`` against labels ``int64[B, H, W]`` (0 = background)."""
    return F.cross_entropy(logits, parts.long())


def densepose_uv_loss(uv: Tensor, target: Tensor, parts: Tensor, *, beta: float = 0.1) -> Tensor:
    """SmoothL1 of UV on foreground pixels, read from the channels of each pixel's true part.

    ``uv: float[B, 2K, H, W]`` (U of part k at channel 2(k-1), V at 2(k-1)+1),
    ``target: float[B, 2, H, W]``, ``parts: int64[B, H, W]`` with 1..K on the body.
    """
    b, k2, h, w = uv.shape
    if target.shape != (b, 2, h, w) or parts.shape != (b, h, w):
        raise ShapeError(f"densepose: uv {list(uv.shape)}, target {list(target.shape)}, parts {list(parts.shape)} do not agree")
    fg = parts > 0
    idx = (parts.long() - 1).clamp_min(0) * 2  # [B, H, W]
    u = uv.gather(1, idx.unsqueeze(1)).squeeze(1)
    v = uv.gather(1, (idx + 1).unsqueeze(1)).squeeze(1)
    pred = torch.stack([u, v], dim=1)
    per = F.smooth_l1_loss(pred, target, reduction="none", beta=beta).sum(dim=1)
    return _masked_mean(per, fg.to(uv.dtype))


def transfer_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """Feature distillation: mean squared error to the (detached) teacher features."""
    if student.shape != teacher.shape:
        raise ShapeError(f"transfer: student {list(student.shape)} and teacher {list(teacher.shape)} differ")
    return F.mse_loss(student, teacher.detach())


def domain_loss(logits: Tensor, rooms: Tensor) -> Tensor:
    """Cross-entropy of the domain classifier's ``logits: float[B, K]`` against the true rooms'
    class indices ``rooms: int[B]`` (mean over the batch)."""
    if logits.dim() != 2 or rooms.shape != logits.shape[:1]:
        raise ShapeError(f"logits/rooms: expected [B, K] and [B], got {list(logits.shape)} and {list(rooms.shape)}")
    return F.cross_entropy(logits.float(), rooms.long())


def match_slots(
    persons: Tensor, presence: Tensor, gt: Tensor, visible: Tensor, mask: Tensor, *, presence_cost: float = 1.0
) -> tuple[Tensor, Tensor, Tensor]:
    """The optimal assignment of predicted slots to ground-truth people, per sample.

    The cost of slot ``s`` for person ``m`` is their mean visible-joint distance plus
    ``presence_cost * (1 - sigmoid(presence_s))``, on detached values; every sample is solved
    in one :func:`csipose.match_persons_batch` call (the Rust core), so each of the sample's
    people gets a slot (there are at least as many slots as people).

    Args:
        persons: ``[B, S, J, D]`` slot joints; presence: ``[B, S]`` logits.
        gt: ``[B, M, J, D]``; visible: ``[B, M, J]``; mask: ``bool[B, M]`` real people.

    Returns:
        ``(batch, slot, person)``: ``int64[K]`` indices of the ``K`` matched pairs.
    """
    from csipose.matching import match_persons_batch

    b, s = persons.shape[:2]
    m = gt.shape[1]
    if m == 0:
        empty = torch.zeros(0, dtype=torch.long, device=persons.device)
        return empty, empty, empty
    with torch.no_grad():
        vis = visible.to(persons.dtype)
        dist = (persons[:, :, None] - gt[:, None]).norm(dim=-1)  # [B, S, M, J]
        joint = (dist * vis[:, None]).sum(-1) / vis[:, None].sum(-1).clamp_min(1.0)
        cost = joint + presence_cost * (1.0 - torch.sigmoid(presence.float()))[:, :, None]
        counts = mask.sum(dim=1)
        # people first, then padding: the real ones of each sample are its first ``counts`` columns
        order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)
        cost = torch.gather(cost, 2, order[:, None].expand(-1, s, -1)).float().cpu().numpy().astype("float64")
        sizes = torch.stack([torch.full_like(counts, s), counts], dim=1).cpu().numpy()
    found = match_persons_batch(cost, sizes=sizes)
    pairs = torch.from_numpy(found.pair_offsets)
    batch = torch.repeat_interleave(torch.arange(b), pairs[1:] - pairs[:-1]).to(persons.device)
    slot = torch.from_numpy(found.rows).to(persons.device)
    person = order[batch, torch.from_numpy(found.cols).to(persons.device)]
    return batch, slot, person


def set_prediction_losses(
    persons: Tensor,
    presence: Tensor,
    gt: Tensor,
    visible: Tensor,
    mask: Tensor,
    *,
    kind: str = "smooth_l1",
    bones: Sequence[tuple[int, int]] = H36M17.bones,
    presence_cost: float = 1.0,
) -> dict[str, Tensor]:
    """Keypoint, bone and presence losses of a set prediction (shapes as :func:`match_slots`).

    Slots matched to people (:func:`match_slots`) learn their joints (:func:`keypoint_loss`,
    :func:`bone_length_loss` over the matched pairs) and presence 1; unmatched slots learn
    presence 0 (binary cross-entropy over every slot).

    Returns:
        ``{"keypoints": ..., "bone": ..., "presence": ...}``.
    """
    batch, slot, person = match_slots(persons, presence, gt, visible, mask, presence_cost=presence_cost)
    pred, true, vis = persons[batch, slot], gt[batch, person], visible[batch, person]
    target = torch.zeros_like(presence, dtype=torch.float32)
    target[batch, slot] = 1.0
    if len(batch):
        joints, bone = keypoint_loss(pred, true, vis, kind=kind), bone_length_loss(pred, true, vis, bones=bones)
    else:  # no person in the batch: nothing to regress, with a gradient path
        joints = bone = persons.sum() * 0.0
    return {
        "keypoints": joints,
        "bone": bone,
        "presence": F.binary_cross_entropy_with_logits(presence.float(), target),
    }


class MultiTaskLoss:
    """Weighted sum of named loss terms.

    ``weights`` maps term name -> weight (>= 0); terms with weight 0 are
    skipped. ``__call__(terms)`` returns the total and the unweighted value of
    every included term, detached (for logging).
    """

    def __init__(self, weights: Mapping[str, float]) -> None:
        bad = {k: w for k, w in weights.items() if not w >= 0}
        if bad:
            raise ArgumentError(f"weights: must be >= 0, got {bad}")
        self.weights = {k: float(w) for k, w in weights.items() if w > 0}
        if not self.weights:
            raise ArgumentError("weights: at least one term must have a positive weight")

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(self.weights)

    def __call__(self, terms: Mapping[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        missing = [k for k in self.weights if k not in terms]
        if missing:
            raise ArgumentError(f"terms: missing weighted term(s) {missing}")
        parts = [self.weights[k] * terms[k] for k in self.weights]
        total = torch.stack(parts).sum()
        # Detached tensors, not floats: converting here would sync the device every step.
        return total, {k: terms[k].detach() for k in self.weights}
