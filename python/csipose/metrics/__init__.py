"""Pose metrics: one locked harness, every number with its definition.

Canonical PCK (:func:`pck`, :func:`pck_curve`, :func:`auc`), MPJPE with
root / scale / Procrustes alignment (:func:`mpjpe`, :func:`mpjpe_per_frame`),
COCO OKS (:func:`oks`), and the canonical report of a split
(:func:`evaluate`, :class:`PoseReport`, :class:`PoseAccumulator`). PCK values
are fractions in ``[0, 1]`` everywhere except human-readable summaries.
"""

from __future__ import annotations

from csipose.metrics.mpjpe import ALIGNS, mpjpe, mpjpe_per_frame, root_joints
from csipose.metrics.oks import oks
from csipose.metrics.pck import (
    CONVENTIONS,
    CURVE_THRESHOLDS,
    DEFAULT_THRESHOLDS,
    NORMS,
    PCKResult,
    auc,
    pck,
    pck_curve,
)
from csipose.metrics.report import PoseAccumulator, PoseReport, evaluate

__all__ = [
    "ALIGNS",
    "CONVENTIONS",
    "CURVE_THRESHOLDS",
    "DEFAULT_THRESHOLDS",
    "NORMS",
    "PCKResult",
    "PoseAccumulator",
    "PoseReport",
    "auc",
    "evaluate",
    "mpjpe",
    "mpjpe_per_frame",
    "oks",
    "pck",
    "pck_curve",
    "root_joints",
]
