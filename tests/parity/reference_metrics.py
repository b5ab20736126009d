"""Plainly written numpy references of the pose metrics (slow, obvious, per frame).

Used only by tests and benchmarks. Everything is computed in float64 with
the comparisons written exactly as each definition states them, and with the
non-finite policy of ``csipose.metrics``: a frame whose counted ground-truth
joints are not all finite is unscoreable; a non-finite predicted joint is a
miss (PCK, OKS) or an infinite error (MPJPE).
"""

from __future__ import annotations

import numpy as np

from csipose.skeletons import Skeleton

LEGACY_PAIRS = {"metafi": (5, 12), "wiflow": (2, 12)}


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum((a - b) ** 2, axis=-1))


def frame_normaliser(
    g: np.ndarray, vis: np.ndarray, norm: str | float, skel: Skeleton, convention: str
) -> tuple[float | None, bool]:
    """(normaliser or None when undefined, used the hip fallback) of one GT frame g[J, D]."""
    if convention in LEGACY_PAIRS:
        a, b = LEGACY_PAIRS[convention]
        return float(_dist(g[a], g[b])), False
    if not isinstance(norm, str):
        return float(norm), False
    if norm == "absolute":
        return 1.0, False
    if norm in ("torso", "head"):
        a, b = skel.torso if norm == "torso" else skel.head  # type: ignore[misc]
        scale = 1.0 if norm == "torso" else skel.head_factor
        if vis[a] and vis[b]:
            return float(_dist(g[a], g[b])) * scale, False
        if norm == "torso" and convention == "canonical":
            c, d = skel.hips
            if vis[c] and vis[d]:
                return float(_dist(g[c], g[d])), True
        return None, False
    # bbox
    pts = g[vis]
    if np.isnan(pts).any():
        return float("nan"), False
    extent = pts.max(axis=0) - pts.min(axis=0)
    if convention == "canonical":
        return float(np.sqrt(np.sum(extent**2))), False
    return float(extent.max()), False


def reference_pck(
    pred: np.ndarray,
    gt: np.ndarray,
    visible: np.ndarray | None,
    thresholds: list[float],
    norm: str | float,
    skel: Skeleton,
    convention: str,
) -> dict[str, object]:
    """PCK per threshold, per-joint PCK and the frame counts, one frame at a time."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    n, j, _ = gt.shape
    masked = convention in ("canonical", "mmpose")
    vis_all = np.ones((n, j), bool) if visible is None or not masked else np.asarray(visible, bool)
    t = len(thresholds)
    correct = np.zeros((t, j), np.int64)
    scored = np.zeros(j, np.int64)
    stats = dict(scored_frames=0, unscoreable_frames=0, unscoreable_joints=0, empty_frames=0, fallback_frames=0)
    for i in range(n):
        vis = vis_all[i]
        if not vis.any():
            stats["empty_frames"] += 1
            continue
        if not np.isfinite(gt[i][vis]).all():
            stats["unscoreable_frames"] += 1
            stats["unscoreable_joints"] += int(vis.sum())
            continue
        value, fell_back = frame_normaliser(gt[i], vis, norm, skel, convention)
        if convention == "wiflow" and value is not None and not np.isnan(value):
            value = max(value, 0.01)
        if value is None or not np.isfinite(value) or value <= 0:
            stats["unscoreable_frames"] += 1
            stats["unscoreable_joints"] += int(vis.sum())
            if convention == "metafi":  # divides by zero, keeps the frame: all joints wrong
                scored += 1
            continue
        stats["scored_frames"] += 1
        stats["fallback_frames"] += int(fell_back)
        d = _dist(pred[i], gt[i])
        for ti, k in enumerate(thresholds):
            thr = k / 100.0
            if convention == "canonical":
                ok = d <= thr * value
            elif convention == "mmpose":
                ok = np.sqrt(np.sum(((pred[i] - gt[i]) / value) ** 2, axis=-1)) < thr
            elif convention == "metafi":
                ok = d / value <= thr
            else:
                ok = d / value <= thr
            correct[ti] += ok & vis
        scored += vis
    with np.errstate(invalid="ignore", divide="ignore"):
        per_joint = np.where(scored > 0, correct / np.maximum(scored, 1), np.nan)
    if convention == "mmpose":
        valid = scored > 0
        pck = per_joint[:, valid].mean(axis=1) if valid.any() else np.full(t, np.nan)
    else:
        pck = correct.sum(axis=1) / scored.sum() if scored.sum() > 0 else np.full(t, np.nan)
    return dict(pck=pck, per_joint=per_joint, scored=scored, correct=correct, **stats)


def classic_similarity_transform(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """The classic similarity Procrustes (MM-Fi's ``compute_similarity_transform`` with
    ``compute_optimal_scale=True``): returns ``(T, b, c)`` such that ``b * y @ T + c``
    best matches ``x`` (rotation without reflection)."""
    mu_x = x.mean(0)
    mu_y = y.mean(0)
    x0 = x - mu_x
    y0 = y - mu_y
    norm_x = np.sqrt((x0**2.0).sum())
    norm_y = np.sqrt((y0**2.0).sum())
    x0 = x0 / norm_x
    y0 = y0 / norm_y
    a = x0.T @ y0
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    v = vt.T
    t = v @ u.T
    sign = np.sign(np.linalg.det(t))
    v[:, -1] *= sign
    s[-1] *= sign
    t = v @ u.T
    b = s.sum() * norm_x / norm_y
    c = mu_x - b * (mu_y @ t)
    return t, b, c


def classic_pa_mpjpe(preds: np.ndarray, gts: np.ndarray) -> float:
    """PA-MPJPE as MM-Fi's ``calulate_error`` computes it: per-frame Procrustes, then the
    mean over all joints of all frames."""
    errors = np.zeros(preds.shape[:2])
    for i in range(preds.shape[0]):
        t, b, c = classic_similarity_transform(gts[i], preds[i])
        aligned = b * preds[i] @ t + c
        errors[i] = np.sqrt(np.sum((aligned - gts[i]) ** 2, axis=1))
    return float(errors.mean())


def reference_mpjpe_frames(
    pred: np.ndarray, gt: np.ndarray, visible: np.ndarray | None, align: str, root: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame (error sum, joint count) over visible joints after ``align``."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    n, j, _ = gt.shape
    vis_all = np.ones((n, j), bool) if visible is None else np.asarray(visible, bool)
    sums = np.zeros(n)
    counts = np.zeros(n, np.int64)
    for i in range(n):
        vis = vis_all[i]
        if align in ("root", "scale") and not vis[root].all():
            continue
        if not vis.any() or not np.isfinite(gt[i][vis]).all():
            continue
        if not np.isfinite(pred[i][vis]).all():
            sums[i], counts[i] = np.inf, vis.sum()
            continue
        p, g = pred[i][vis], gt[i][vis]
        if align in ("root", "scale"):
            p = p - pred[i][root].mean(0)
            g = g - gt[i][root].mean(0)
            if align == "scale":
                pp = np.sum(p * p)
                p = p * (np.sum(p * g) / pp if pp > 0 else 0.0)
        elif align == "procrustes":
            spread_p = np.sqrt(np.sum((p - p.mean(0)) ** 2))
            spread_g = np.sqrt(np.sum((g - g.mean(0)) ** 2))
            if spread_p > 0 and spread_g > 0:
                t, b, c = classic_similarity_transform(g, p)
                p = b * p @ t + c
            else:  # a collapsed set: the best similarity maps everything to the GT centroid
                p = np.broadcast_to(g.mean(0), p.shape)
        sums[i] = _dist(p, g).sum()
        counts[i] = vis.sum()
    return sums, counts


def batched_pa_mpjpe(preds: np.ndarray, gts: np.ndarray) -> float:
    """Vectorised similarity Procrustes over a batch (what a numpy user would write for speed)."""
    mu_x = gts.mean(1, keepdims=True)
    mu_y = preds.mean(1, keepdims=True)
    x0 = gts - mu_x
    y0 = preds - mu_y
    norm_x = np.sqrt((x0**2).sum(axis=(1, 2)))[:, None, None]
    norm_y = np.sqrt((y0**2).sum(axis=(1, 2)))[:, None, None]
    x0 = x0 / norm_x
    y0 = y0 / norm_y
    a = np.swapaxes(x0, 1, 2) @ y0
    u, s, vt = np.linalg.svd(a)
    v = np.swapaxes(vt, 1, 2)
    sign = np.sign(np.linalg.det(v @ np.swapaxes(u, 1, 2)))
    v[:, :, -1] *= sign[:, None]
    s[:, -1] *= sign
    t = v @ np.swapaxes(u, 1, 2)
    b = s.sum(1)[:, None, None] * norm_x / norm_y
    aligned = b * (y0 * norm_y) @ t + mu_x
    return float(np.sqrt(((aligned - gts) ** 2).sum(-1)).mean())


def reference_oks(
    pred: np.ndarray, gt: np.ndarray, visible: np.ndarray | None, area: np.ndarray, sigmas: np.ndarray
) -> np.ndarray:
    """COCO OKS of each pair, written like pycocotools' computeOks (NaN without visible joints
    or with a non-finite visible GT joint; a non-finite predicted joint scores 0)."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    n, j, _ = gt.shape
    vis_all = np.ones((n, j), bool) if visible is None else np.asarray(visible, bool)
    variances = (np.asarray(sigmas, dtype=np.float64) * 2) ** 2
    out = np.full(n, np.nan)
    for i in range(n):
        d2 = np.sum((pred[i] - gt[i]) ** 2, axis=-1)
        e = d2 / variances / (area[i] + np.spacing(1)) / 2
        e = e[vis_all[i]]
        if e.size and np.isfinite(gt[i][vis_all[i]]).all():
            similarity = np.nan_to_num(np.exp(-e), nan=0.0)
            out[i] = np.sum(similarity) / e.shape[0]
    return out
