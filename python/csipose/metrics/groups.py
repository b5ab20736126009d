"""Reports by group (room, person, action) and the constant-root baseline.

:func:`evaluate_by` gives one locked :class:`~csipose.metrics.PoseReport` per value
of a per-frame id (``environment``, ``subject``, ``action``): each is :func:`evaluate`
on that group's frames, so the groups add up to the pooled report (frames, PCK
counts and MPJPE sums; every MPJPE and the root error of the pooled report is the
mean of the groups' weighted by the joints or frames each counted).

:func:`root_placed` is the constant-root baseline: one pose (the training mean pose)
translated onto each frame's true root. Its root error is 0 by construction, so its
MPJPE is the shape error of the mean pose alone: a model's MPJPE above it is what the
model gets wrong about the body beyond knowing where the person is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from csipose.errors import ShapeError
from csipose.metrics.mpjpe import root_joints
from csipose.metrics.pck import DEFAULT_THRESHOLDS
from csipose.metrics.report import PoseReport, _numpy, evaluate
from csipose.skeletons import Skeleton, get_skeleton

__all__ = ["evaluate_by", "root_placed"]


def evaluate_by(
    pred: Any,
    gt: Any,
    groups: Any,
    *,
    visible: Any = None,
    skeleton: str | Skeleton = "h36m17",
    thresholds: Any = DEFAULT_THRESHOLDS,
) -> dict[int, PoseReport]:
    """One locked report per group value, in ascending order of the values.

    Args:
        pred, gt, visible, skeleton, thresholds: as :func:`csipose.metrics.evaluate`.
        groups: int[N], the group of each frame (e.g. its environment id).

    Returns:
        ``{value: report}``; the pooled report is ``evaluate`` on every frame.
    """
    p, g, v = _numpy(pred), _numpy(gt), _numpy(visible)
    ids = np.asarray(_numpy(groups))
    n = np.shape(p)[0] if np.ndim(p) else -1
    if ids.ndim != 1 or ids.shape[0] != n or not (ids.size == 0 or np.issubdtype(ids.dtype, np.integer)):
        raise ShapeError(f"groups: expected one integer id per frame (shape ({n},)), got {ids.dtype} shape {ids.shape}")
    p, g = np.asarray(p), np.asarray(g)
    v = None if v is None else np.asarray(v)
    out: dict[int, PoseReport] = {}
    for value in np.unique(ids):
        rows = ids == value
        out[int(value)] = evaluate(
            p[rows], g[rows], visible=None if v is None else v[rows], skeleton=skeleton, thresholds=thresholds
        )
    return out


def root_placed(pose: Any, gt: Any, *, skeleton: str | Skeleton = "h36m17") -> np.ndarray:
    """``pose[J, D]`` (one pose for every frame) or ``pose[N, J, D]`` (a pose per frame)
    translated onto the root of each frame of ``gt[N, J, >= D]``: float64[N, J, D].

    Frames whose true root is not finite keep their pose where it is."""
    skel = get_skeleton(skeleton)
    base = np.asarray(_numpy(pose), dtype=np.float64)
    truth = np.asarray(_numpy(gt), dtype=np.float64)
    frames = base.ndim == 2 or (base.ndim == 3 and base.shape[0] == truth.shape[0])
    if not frames or truth.ndim != 3 or truth.shape[1] != base.shape[-2] or truth.shape[2] < base.shape[-1]:
        raise ShapeError(f"pose: expected [J, D] or [N, J, D] and gt [N, J, >= D], got {base.shape} and {truth.shape}")
    joints = list(root_joints(skel))
    base = np.broadcast_to(base, (truth.shape[0], *base.shape[-2:]))
    shift = truth[:, joints, : base.shape[-1]].mean(axis=1) - base[:, joints].mean(axis=1)
    shift[~np.isfinite(shift).all(axis=-1)] = 0.0
    return base + shift[:, None]
