"""MPJPE: mean per-joint position error, in the units of the input.

``align`` says what is factored out of the prediction first:

- ``"none"``: raw coordinates.
- ``"root"``: both poses translated so their roots meet (``root`` joint, or the
  mean of several, e.g. the hip midpoint of COCO-17).
- ``"scale"``: root-aligned, then the prediction scaled by the least-squares
  factor ``<p, g> / <p, p>`` (N-MPJPE).
- ``"procrustes"``: PA-MPJPE, the similarity Procrustes fit (rotation without
  reflection, uniform scale, translation), identical to the classic
  ``compute_similarity_transform`` of MM-Fi's evaluation script.

With ``visible``, only visible joints count, and alignments are fitted on
them; a frame counts no joint when none is visible or (``root``, ``scale``)
a root joint is not. The batch value pools every counted joint of every
frame (equal to the mean of per-frame means when all joints are visible).

Non-finite values (the policy of :mod:`csipose.metrics`): a frame whose ground
truth has a non-finite coordinate in a joint that counts is excluded (no joint
counted); a frame whose prediction does has an infinite error, so the batch
MPJPE is ``+inf`` rather than silently NaN or silently better.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from csipose import _core
from csipose.errors import ArgumentError
from csipose.metrics._inputs import as_poses
from csipose.skeletons import Skeleton

__all__ = ["ALIGNS", "mpjpe", "mpjpe_per_frame", "root_joints"]

Align = Literal["none", "root", "scale", "procrustes"]
ALIGNS: tuple[str, ...] = ("none", "root", "scale", "procrustes")


def root_joints(skeleton: Skeleton) -> tuple[int, ...]:
    """The joints whose mean is the skeleton's root: its ``root``, or its hip pair."""
    return (skeleton.root,) if skeleton.root is not None else tuple(skeleton.hips)


def _root(root: int | Sequence[int]) -> list[int]:
    try:
        joints = [operator.index(root)] if not isinstance(root, Sequence) else [operator.index(r) for r in root]
    except TypeError:
        raise ArgumentError(f"root: expected a joint index or a sequence of them, got {root!r}") from None
    if not joints or any(r < 0 for r in joints):
        raise ArgumentError(f"root: expected one or more joint indices >= 0, got {root!r}")
    return joints


def frame_errors(
    pred: np.ndarray, gt: np.ndarray, visible: np.ndarray | None, align: str, root: int | Sequence[int]
) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-frame error sums float64[N] (``+inf`` for a failed prediction), counted joints
    int64[N] of checked arrays, and the number of frames whose ground truth cannot be scored."""
    if align not in ALIGNS:
        raise ArgumentError(f"align: expected one of {', '.join(ALIGNS)}, got {align!r}")
    return _core.mpjpe_frames(pred, gt, visible, align, _root(root))


def pooled(sums: np.ndarray, counts: np.ndarray) -> float:
    """Mean error over every counted joint; NaN when none counted, ``+inf`` after a failed prediction."""
    total = int(counts.sum())
    return float(np.sum(sums) / total) if total > 0 else float("nan")


def mpjpe(
    pred: Any,
    gt: Any,
    *,
    visible: Any = None,
    align: Align = "none",
    root: int | Sequence[int] = 0,
) -> float:
    """MPJPE of a batch, pooled over every counted joint.

    Args:
        pred: float[N, J, D] predicted joints (``D`` = 2 or 3).
        gt: float[N, J, D] ground truth, same units; the result is in these units.
        visible: bool[N, J] (or numeric, ``> 0`` = visible); ``None``: all visible.
        align: ``"none"``, ``"root"``, ``"scale"`` or ``"procrustes"``.
        root: root joint(s) for ``"root"`` and ``"scale"`` (H36M-17: 0, the pelvis).

    Returns:
        The mean error; NaN when no joint counted; ``+inf`` when a counted joint of a
        prediction is not finite.
    """
    p, g, v = as_poses(pred, gt, visible, skeleton=None)
    sums, counts, _ = frame_errors(p, g, v, align, root)
    return pooled(sums, counts)


def mpjpe_per_frame(
    pred: Any,
    gt: Any,
    *,
    visible: Any = None,
    align: Align = "none",
    root: int | Sequence[int] = 0,
) -> np.ndarray:
    """float64[N]: each frame's mean error over its counted joints (NaN where none counted or
    the ground truth cannot be scored, ``+inf`` for a prediction with a non-finite counted joint)."""
    p, g, v = as_poses(pred, gt, visible, skeleton=None)
    sums, counts, _ = frame_errors(p, g, v, align, root)
    out = np.full(sums.shape, np.nan)
    np.divide(sums, counts, out=out, where=counts > 0)
    return out
