"""COCO object keypoint similarity (OKS) of paired poses.

For each pair, exactly as pycocotools' ``COCOeval.computeOks``:
``e_i = d_i^2 / (2 sigma_i)^2 / (area + eps) / 2`` with ``d_i`` the distance of
joint ``i``, ``area`` the ground-truth person's area (``s^2``) and ``eps`` =
``np.spacing(1)``; OKS is the mean of ``exp(-e_i)`` over the joints visible in
the ground truth. The same Rust kernel scores OKS here, the ``1 - OKS`` cost
matrix of :func:`csipose.matching.oks_cost_matrix` and OKS-AP
(:func:`csipose.metrics.oks_ap_arrays`), under one convention:

- keypoint arrays hold coordinates only: ``D = 2`` (image ``x, y``) or
  ``D = 3`` (``x, y, z``, scored by the 3D distance). A third column is never
  COCO's visibility flag;
- visibility is the separate argument ``visible`` (bool or numeric ``> 0``,
  one per ground-truth joint), which must be passed (``None``: all visible),
  so a COCO ``[x, y, v]`` array cannot be read as ``x, y, z`` by accident;
- ``areas`` holds one area per ground-truth person (a number applies to all).

Non-finite values follow the policy of :mod:`csipose.metrics`: a ground truth
with a non-finite visible coordinate cannot be scored (NaN, like one without
visible joints); a non-finite predicted joint is a miss (similarity 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from csipose import _core
from csipose.metrics._inputs import REQUIRED, as_areas, as_poses, as_sigmas

__all__ = ["oks"]


def oks(
    pred: Any,
    gt: Any,
    *,
    visible: Any = REQUIRED,
    areas: Any,
    sigmas: Any = "coco17",
) -> np.ndarray:
    """OKS of each (prediction, ground truth) pair.

    Args:
        pred: float[N, J, D] predicted keypoints (``D`` = 2 or 3 coordinates).
        gt: float[N, J, D] ground-truth keypoints (coordinates only, no visibility column).
        visible: [N, J] ground-truth joints that count (COCO ``v > 0``); ``None`` for all.
            Required.
        areas: float[N] ground-truth areas (``s^2``), or one number for every pair.
        sigmas: float[J] per-keypoint constants, or a skeleton (name) that defines them.

    Returns:
        float64[N] OKS in ``[0, 1]``; NaN for a pair whose ground truth cannot be scored
        (no visible joint, or a non-finite visible coordinate). COCO scores a GT without
        visible joints against its box instead, which this function does not take.
    """
    p, g, v = as_poses(pred, gt, visible, skeleton=None)
    return _core.oks(p, g, v, as_areas(areas, p.shape[0]), as_sigmas(sigmas, p.shape[1]))
