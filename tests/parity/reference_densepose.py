"""Plainly written numpy references of the DensePose scores (float64, whole arrays at once).

Used only by tests and benchmarks; the definitions are those of
:mod:`csipose.metrics.densepose`, written out step by step.
"""

from __future__ import annotations

import numpy as np

from csipose.densepose.surface import canonical_arrays
from csipose.errors import ArgumentError

KAPPA = 0.255
UV_SLACK = 1e-6
THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALLS = np.linspace(0.0, 1.0, 101)


def geodesic(kind: np.ndarray, r: np.ndarray, length: np.ndarray, u1, v1, u2, v2) -> np.ndarray:
    """Geodesic on primitives of ``kind`` (0 half-cylinder, 1 sphere, 2 hemisphere), elementwise."""
    cylinder = np.sqrt((np.pi * r * (u1 - u2)) ** 2 + (length * (v1 - v2)) ** 2)
    turn = np.where(kind == 1, 2 * np.pi, np.pi)  # longitude per unit of U
    lon1, lon2, colat1, colat2 = turn * u1, turn * u2, np.pi * v1, np.pi * v2
    cos = np.sin(colat1) * np.sin(colat2) * np.cos(lon1 - lon2) + np.cos(colat1) * np.cos(colat2)
    sphere = r * np.arccos(np.clip(cos, -1.0, 1.0))
    return np.where(kind == 0, cylinder, sphere)


def parts(x: np.ndarray, arg: str) -> np.ndarray:
    """Channel 0 as int part indices; an ArgumentError naming ``arg`` unless all are integers 0-24."""
    with np.errstate(invalid="ignore"):
        ok = (x >= 0) & (x <= 24) & (np.floor(x) == x)
    if not ok.all():
        raise ArgumentError(f"{arg}: expected part indices (channel 0) that are integers 0-24")
    return x.astype(np.int64)


def gps(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """float64[N, H, W]: per-pixel GPS, NaN off the true body."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    p_part, t_part = parts(pred[:, 0], "pred"), parts(true[:, 0], "true")
    body = t_part > 0
    ut, vt = true[:, 1], true[:, 2]
    with np.errstate(invalid="ignore"):
        bad = body & ~((ut >= -UV_SLACK) & (ut <= 1 + UV_SLACK) & (vt >= -UV_SLACK) & (vt <= 1 + UV_SLACK))
    if bad.any():
        raise ArgumentError("true: expected U, V (channels 1, 2) in [0, 1] on body pixels")
    kind, radius, length = canonical_arrays()
    up, vp = pred[:, 1], pred[:, 2]
    finite = np.isfinite(up) & np.isfinite(vp)
    with np.errstate(invalid="ignore"):
        g = geodesic(
            kind[t_part],
            radius[t_part],
            length[t_part],
            np.clip(np.where(finite, up, 0), 0, 1),
            np.clip(np.where(finite, vp, 0), 0, 1),
            np.clip(ut, 0, 1),
            np.clip(vt, 0, 1),
        )
    value = np.where((p_part == t_part) & finite, np.exp(-(g**2) / (2 * KAPPA**2)), 0.0)
    return np.where(body, value, np.nan)


def per_frame(x: np.ndarray) -> np.ndarray:
    """``x[N, H, W]`` as ``[N, H * W]`` (also when a size is 0)."""
    return x.reshape(len(x), int(np.prod(x.shape[1:])))


def frame_scores(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame ``(gps, mask_iou, gpsm)`` float64[N]; NaN where undefined."""
    g = gps(pred, true)
    body = np.asarray(true)[:, 0] > 0
    fg = np.asarray(pred)[:, 0] > 0
    count = per_frame(body).sum(axis=1)
    inter = per_frame(body & fg).sum(axis=1)
    union = per_frame(body | fg).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame_gps = per_frame(np.where(body, g, 0.0)).sum(axis=1) / count
        iou = inter / union
    frame_gps = np.where(count > 0, frame_gps, np.nan)
    iou = np.where(union > 0, iou, np.nan)
    return frame_gps, iou, np.sqrt(frame_gps * iou)


def pooled_ious(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``(part_iou float64[24], part mIoU, mask IoU)`` pooled over all frames."""
    p, t = parts(np.asarray(pred, np.float64)[:, 0], "pred"), parts(np.asarray(true, np.float64)[:, 0], "true")
    iou = np.full(24, np.nan)
    for k in range(1, 25):
        union = np.sum((p == k) | (t == k))
        if union:
            iou[k - 1] = np.sum((p == k) & (t == k)) / union
    defined = iou[~np.isnan(iou)]
    miou = float(defined.mean()) if defined.size else float("nan")
    union = np.sum((p > 0) | (t > 0))
    mask = float(np.sum((p > 0) & (t > 0)) / union) if union else float("nan")
    return iou, miou, mask


def dp_ap_precision(gpsm: np.ndarray, has_true: np.ndarray, has_pred: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """float64[T, R] COCO interpolated precision, one true and at most one predicted person
    per frame; -1 everywhere when no frame has a true person."""
    precision = np.full((len(THRESHOLDS), len(RECALLS)), -1.0)
    positives = int(has_true.sum())
    if positives == 0:
        return precision
    frames = np.flatnonzero(has_pred)
    frames = frames[np.argsort(-scores[frames], kind="mergesort")]
    for t, thr in enumerate(THRESHOLDS):
        hit = has_true[frames] & (np.nan_to_num(gpsm[frames], nan=0.0) >= min(thr, 1 - 1e-10))
        tp, fp = np.cumsum(hit), np.cumsum(~hit)
        recall = tp / positives
        prec = tp / (fp + tp + np.spacing(1))
        prec = np.maximum.accumulate(prec[::-1])[::-1] if prec.size else prec
        at = np.searchsorted(recall, RECALLS, side="left")
        precision[t] = [prec[i] if i < len(prec) else 0.0 for i in at]
    return precision
