"""COCO object keypoint similarity (OKS) of paired poses.

For each pair, exactly as pycocotools' ``COCOeval.computeOks``:
``e_i = d_i^2 / (2 sigma_i)^2 / (area + eps) / 2`` with ``d_i`` the distance of
joint ``i``, ``area`` the ground-truth segment area (``s^2``) and ``eps`` =
``np.spacing(1)``; OKS is the mean of ``exp(-e_i)`` over the joints visible in
the ground truth. 3D poses use the 3D distance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from csipose import _core
from csipose.errors import ArgumentError, ShapeError
from csipose.metrics._inputs import as_poses
from csipose.skeletons import Skeleton, get_skeleton

__all__ = ["oks"]


def oks(
    pred: Any,
    gt: Any,
    *,
    visible: Any,
    area: Any,
    sigmas: Any = "coco17",
) -> np.ndarray:
    """OKS of each (prediction, ground truth) pair.

    Args:
        pred: float[N, J, D] predicted keypoints.
        gt: float[N, J, D] ground-truth keypoints.
        visible: [N, J] ground-truth visibility (COCO ``v > 0``) or ``None`` for all.
        area: float[N] ground-truth areas (``s^2``), or one number for every frame.
        sigmas: float[J] per-keypoint constants, or a skeleton (name) that defines them.

    Returns:
        float64[N] OKS in ``[0, 1]``; NaN for a pair without visible GT joints
        (COCO then compares against the GT box, which this function does not take).
    """
    p, g, v = as_poses(pred, gt, visible, skeleton=None)
    if isinstance(sigmas, (str, Skeleton)):
        skel = get_skeleton(sigmas)
        if skel.sigmas is None:
            raise ArgumentError(f"sigmas: skeleton {skel.name} defines no OKS sigmas")
        sig = np.asarray(skel.sigmas, dtype=np.float64)
    else:
        sig = np.asarray(sigmas, dtype=np.float64)
    if sig.shape != (p.shape[1],):
        raise ShapeError(f"sigmas: expected shape ({p.shape[1]},) (one per joint), got {sig.shape}")
    a = np.asarray(area, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(p.shape[0], float(a))
    if a.shape != (p.shape[0],):
        raise ShapeError(f"area: expected shape ({p.shape[0]},) (one per frame), got {a.shape}")
    if not np.all(np.isfinite(a) & (a >= 0)):
        raise ArgumentError("area: expected finite values >= 0")
    return _core.oks(p, g, v, np.ascontiguousarray(a), sig.tolist())
