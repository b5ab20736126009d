"""Argument checking shared by the metric functions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from csipose._arrays import as_kernel_array
from csipose.errors import ArgumentError, DTypeError, ShapeError
from csipose.skeletons import Skeleton, get_skeleton

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
    return p, g, as_visible(visible, p.shape[:2])


def as_crossed_poses(pred: Any, gt: Any) -> tuple[np.ndarray, np.ndarray]:
    """Checks predictions float[P, J, D] against ground truths float[G, J, D] (``D`` = 2 or 3)
    for a ``[P, G]`` matrix; returns both in one float dtype."""
    p = as_kernel_array(pred, "pred", real_only=True)
    g = as_kernel_array(gt, "gt", real_only=True)
    if p.ndim != 3 or p.shape[2] not in (2, 3):
        raise ShapeError(f"pred: expected shape (P, J, D) with D = 2 or 3 coordinates, got {p.shape}")
    if g.ndim != 3 or g.shape[1:] != p.shape[1:]:
        raise ShapeError(f"gt: expected shape (G, {p.shape[1]}, {p.shape[2]}) to match pred, got {g.shape}")
    if p.shape[1] == 0:
        raise ShapeError(f"pred: expected at least one joint, got shape {p.shape}")
    if p.dtype != g.dtype:
        p, g = p.astype(np.float64), g.astype(np.float64)
    return p, g


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


class _Required:
    """The default of an argument that must be given explicitly."""

    def __repr__(self) -> str:
        return "<required>"


#: Default of the ``visible`` argument of the OKS functions: it must be given
#: (``None`` for "every joint visible"), so that a COCO ``[x, y, v]`` array is
#: never silently read as ``x, y, z``.
REQUIRED: Any = _Required()

#: The one keypoint convention of the OKS functions, quoted by their errors.
KEYPOINT_CONVENTION = (
    "the last axis of a keypoint array holds coordinates only (x, y or x, y, z); visibility is the "
    "separate bool argument `visible` (for COCO [x, y, v] keypoints pass kp[..., :2] and visible=kp[..., 2] > 0)"
)


def as_visible(visible: Any, shape: tuple[int, int], arg: str = "visible") -> np.ndarray | None:
    """``visible`` ([people, J], bool or numeric ``> 0``) as bool, or ``None`` for all visible."""
    if visible is REQUIRED:
        raise ArgumentError(f"{arg}: required (None means every joint is visible); {KEYPOINT_CONVENTION}")
    if visible is None:
        return None
    v = np.asarray(visible)
    if v.shape != shape:
        raise ShapeError(f"{arg}: expected shape {shape} (people, joints), got {v.shape}")
    if v.dtype == np.bool_:
        return np.ascontiguousarray(v)
    if v.dtype.kind in "biuf":
        return np.ascontiguousarray(v > 0)
    raise DTypeError(f"{arg}: expected a bool or numeric array, got dtype {v.dtype}")


def as_areas(areas: Any, people: int) -> np.ndarray:
    """``areas``: float64[people] ground-truth areas ``s^2`` (a number applies to every person)."""
    try:
        a = np.asarray(areas, dtype=np.float64)
    except (TypeError, ValueError):
        raise ArgumentError(f"areas: expected numbers, got {areas!r}") from None
    if a.ndim == 0:
        a = np.full(people, float(a))
    if a.shape != (people,):
        raise ShapeError(f"areas: expected shape ({people},) (one per ground-truth person), got {a.shape}")
    if not np.all(np.isfinite(a) & (a >= 0)):
        raise ArgumentError("areas: expected finite values >= 0")
    return np.ascontiguousarray(a)


def as_sigmas(sigmas: Any, joints: int) -> list[float]:
    """OKS constants: float[J], or a skeleton (name) that defines them (``"coco17"``)."""
    if isinstance(sigmas, (str, Skeleton)):
        skel = get_skeleton(sigmas)
        if skel.sigmas is None:
            raise ArgumentError(f"sigmas: skeleton {skel.name} defines no OKS sigmas")
        s = np.asarray(skel.sigmas, dtype=np.float64)
    else:
        s = np.asarray(sigmas, dtype=np.float64)
    if s.shape != (joints,):
        raise ShapeError(f"sigmas: expected shape ({joints},) (one per joint), got {s.shape}")
    if not np.all(np.isfinite(s) & (s > 0)):
        raise ArgumentError(f"sigmas: expected finite values > 0, got {s.tolist()}")
    return [float(x) for x in s]
