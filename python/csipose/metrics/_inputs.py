"""Argument checking shared by the metric functions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from csipose._arrays import as_kernel_array
from csipose.errors import ArgumentError, DTypeError, ShapeError
from csipose.skeletons import Skeleton

def as_poses(
    pred: Any, gt: Any, visible: Any, *, skeleton: Skeleton | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Checks and converts a batch of poses.

    Args:
        pred: float[N, J, D] predicted joints, ``D`` = 2 or 3.
        gt: float[N, J, D] ground-truth joints.
        visible: bool or numeric [N, J] (``> 0`` is visible), or ``None`` (all visible).
        skeleton: when given, ``J`` must be its number of joints.

    Returns:
        ``(pred, gt, visible)`` with pred and gt of one float dtype and visible bool or None.
    """
    p = as_kernel_array(pred, "pred", real_only=True)
    g = as_kernel_array(gt, "gt", real_only=True)
    if p.ndim != 3:
        raise ShapeError(f"pred: expected an array of shape (N, J, D), got shape {p.shape}")
    if g.shape != p.shape:
        raise ShapeError(f"gt: expected shape {p.shape} (the shape of pred), got {g.shape}")
    if p.shape[2] not in (2, 3):
        raise ShapeError(
            f"pred: expected D = 2 or 3 coordinates per joint (last axis), got shape {p.shape}"
        )
    if skeleton is not None and p.shape[1] != skeleton.num_joints:
        raise ShapeError(
            f"pred: expected {skeleton.num_joints} joints (skeleton {skeleton.name}), "
            f"got shape {p.shape}"
        )
    if p.shape[1] == 0:
        raise ShapeError(f"pred: expected at least one joint, got shape {p.shape}")
    if p.dtype != g.dtype:
        p, g = p.astype(np.float64), g.astype(np.float64)
    vis = None
    if visible is not None:
        v = np.asarray(visible)
        if v.shape != p.shape[:2]:
            raise ShapeError(f"visible: expected shape {p.shape[:2]} (N, J of pred), got {v.shape}")
        if v.dtype == np.bool_:
            vis = v
        elif v.dtype.kind in "biuf":
            vis = v > 0
        else:
            raise DTypeError(f"visible: expected a bool or numeric array, got dtype {v.dtype}")
    return p, g, vis


def as_thresholds(thresholds: Any) -> tuple[float, ...]:
    """Checks PCK thresholds: a non-empty sequence of finite numbers >= 0."""
    if isinstance(thresholds, (int, float)):
        thresholds = (thresholds,)
    if not isinstance(thresholds, (Sequence, np.ndarray)) or isinstance(thresholds, str):
        raise ArgumentError(
            f"thresholds: expected a sequence of numbers, got {type(thresholds).__name__}"
        )
    out = []
    for k in thresholds:
        try:
            value = float(k)
        except (TypeError, ValueError):
            raise ArgumentError(f"thresholds: expected numbers, got {k!r}") from None
        if not math.isfinite(value) or value < 0:
            raise ArgumentError(f"thresholds: expected finite values >= 0, got {k!r}")
        out.append(value)
    if not out:
        raise ArgumentError("thresholds: expected at least one threshold, got none")
    return tuple(out)


def threshold_key(k: float) -> str:
    """The JSON key of a threshold: ``20.0 -> "20"``, ``2.5 -> "2.5"``."""
    return str(int(k)) if float(k).is_integer() else repr(float(k))
