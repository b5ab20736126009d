"""Pose metrics: one locked harness, every number with its definition.

Canonical PCK (:func:`pck`, :func:`pck_curve`, :func:`auc`), MPJPE with
root / scale / Procrustes alignment (:func:`mpjpe`, :func:`mpjpe_per_frame`),
COCO OKS (:func:`oks`) and the COCO keypoint AP protocol (:func:`oks_ap`,
:func:`oks_ap_arrays`), multi-object tracking (CLEAR-MOT and IDF1, :func:`mot`), DensePose's GPS,
GPSm, part IoU and dpAP of IUV images (:func:`densepose_gps`,
:func:`evaluate_densepose`, :class:`DensePoseReport`),
and the canonical report of a split (:func:`evaluate`, :class:`PoseReport`,
:class:`PoseAccumulator`), per group (:func:`evaluate_by`) and of the
constant-root baseline (:func:`root_placed`). PCK values are fractions in ``[0, 1]`` everywhere
except human-readable summaries. Every result has ``to_dict()`` (JSON-safe)
and a ``definition``.

Non-finite values, one policy for every metric:

- A ground-truth frame (person) with a NaN or infinite coordinate in a joint
  that counts (a visible joint; every joint where no mask applies) cannot be
  scored. It is excluded from every metric (PCK, MPJPE in every alignment, OKS,
  OKS-AP) and counted as unscoreable (``unscoreable_frames``; OKS returns NaN
  for it, the OKS cost matrix ``+inf``, OKS-AP ignores it and counts it in
  ``unscoreable``). It never poisons the rest of the batch.
- A prediction with a NaN or infinite coordinate in a joint that counts is a
  failed prediction of that joint: never correct in PCK, similarity 0 in OKS,
  and an infinite error in MPJPE, so the MPJPE of its frame and of any batch
  holding it is ``+inf`` (``failed_frames`` counts such frames in a report; a
  diverged model is never reported as accurate).
- Configuration (thresholds, sigmas, areas, costs for matching) must be finite:
  a non-finite value there is an error naming the argument.
"""

from __future__ import annotations

from csipose.metrics.densepose import DensePoseReport, densepose_gps, evaluate_densepose
from csipose.metrics.groups import evaluate_by, root_placed
from csipose.metrics.mot import MOTResult, mot
from csipose.metrics.oks_ap import OksAPResult, oks_ap, oks_ap_arrays
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
from csipose.metrics.people import evaluate_people
from csipose.metrics.report import PoseAccumulator, PoseReport, evaluate

__all__ = [
    "ALIGNS",
    "CONVENTIONS",
    "CURVE_THRESHOLDS",
    "DEFAULT_THRESHOLDS",
    "DensePoseReport",
    "NORMS",
    "MOTResult",
    "OksAPResult",
    "PCKResult",
    "PoseAccumulator",
    "PoseReport",
    "auc",
    "densepose_gps",
    "evaluate",
    "evaluate_densepose",
    "evaluate_by",
    "evaluate_people",
    "mot",
    "mpjpe",
    "mpjpe_per_frame",
    "oks",
    "oks_ap",
    "oks_ap_arrays",
    "pck",
    "pck_curve",
    "root_joints",
    "root_placed",
]
