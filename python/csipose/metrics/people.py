"""The locked report of several people per frame: counting, optimal matching, per-person scores.

:func:`evaluate_people` scores a set prediction (up to ``S`` predicted people per frame, each
with a presence probability) against up to ``M`` ground-truth people per frame:

- a predicted person counts when its presence is above ``threshold``; **count accuracy** is the
  fraction of frames whose predicted count equals the true count, **count error** the mean
  absolute difference;
- in every frame the counted predictions and the true people are matched by the least total
  mean joint distance (:func:`csipose.match_persons_batch`, the Rust core): every pair that can
  be formed is formed, so unmatched true people are **missed** and unmatched predictions are
  **false positives**;
- the per-person scores are the canonical :class:`~csipose.metrics.PoseReport` over every true
  person: a matched one is scored against its prediction, a missed one is a miss at every
  joint (PCK), and the MPJPEs average the matched people only;
- **OKS-AP**: COCO's keypoint AP (:func:`~csipose.metrics.oks_ap_arrays`, greedy matching by
  presence, OKS thresholds 0.50:0.05:0.95) on the keypoints' own coordinates (3-D distances for
  3-D keypoints), every joint's constant ``sigma`` and every person's area ``scale ** 2``
  (``scale``: 1 m, a person's height order, by default).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from csipose.errors import ShapeError
from csipose.metrics.pck import DEFAULT_THRESHOLDS
from csipose.metrics.report import PoseAccumulator, PoseReport

__all__ = ["evaluate_people"]

#: Per-joint OKS constant for skeletons without COCO's (as the training's OKS loss uses).
UNIFORM_SIGMA = 0.07


def evaluate_people(
    pred: Any,
    presence: Any,
    gt: Any,
    *,
    gt_mask: Any,
    visible: Any = None,
    skeleton: str = "h36m17",
    threshold: float = 0.5,
    thresholds: Any = DEFAULT_THRESHOLDS,
    scale: float = 1.0,
) -> PoseReport:
    """Scores several predicted people per frame (see the module docstring).

    Args:
        pred: ``float[N, S, J, D]`` predicted people (slots).
        presence: ``float[N, S]`` presence probabilities in [0, 1].
        gt: ``float[N, M, J, >= D]`` true people; gt_mask: ``bool[N, M]`` the real ones.
        visible: ``[N, M, J]`` visible true joints; None: all.
        skeleton: the joints' layout (its torso normalises PCK).
        threshold: presence above which a prediction counts.
        scale: every person's OKS scale ``s`` (area ``s ** 2``), in the keypoints' unit.

    Returns:
        A :class:`~csipose.metrics.PoseReport` with ``count_accuracy``, ``count_error``,
        ``oks_ap`` and ``people`` (``frames``, ``people``, ``predicted``, ``matched``,
        ``missed``, ``false_positives``).
    """
    from csipose.matching import match_persons_batch

    p = np.asarray(pred, dtype=np.float64)
    prob = np.asarray(presence, dtype=np.float64)
    d = p.shape[-1] if p.ndim == 4 else 0
    g = np.asarray(gt, dtype=np.float64)
    mask = np.asarray(gt_mask, dtype=bool)
    if p.ndim != 4 or prob.shape != p.shape[:2]:
        raise ShapeError(f"pred/presence: expected [N, S, J, D] and [N, S], got {list(p.shape)} and {list(prob.shape)}")
    if g.ndim != 4 or g.shape[0] != p.shape[0] or g.shape[2] != p.shape[2] or g.shape[3] < d:
        raise ShapeError(f"gt: expected [{p.shape[0]}, M, {p.shape[2]}, >= {d}], got {list(g.shape)}")
    if mask.shape != g.shape[:2]:
        raise ShapeError(f"gt_mask: expected {list(g.shape[:2])}, got {list(mask.shape)}")
    g = g[..., :d]
    vis = np.ones(g.shape[:3], bool) if visible is None else np.asarray(visible) > 0.5
    if vis.shape != g.shape[:3]:
        raise ShapeError(f"visible: expected {list(g.shape[:3])}, got {list(vis.shape)}")
    n, s, j = p.shape[:3]
    m = g.shape[1]
    counted = prob > threshold
    pred_count, true_count = counted.sum(axis=1), mask.sum(axis=1)

    # each frame's counted predictions and real people first, so the padded solver sees them as blocks
    p_order = np.argsort(~counted, axis=1, kind="stable")
    g_order = np.argsort(~mask, axis=1, kind="stable")
    ps = np.take_along_axis(p, p_order[:, :, None, None], axis=1)
    gs = np.take_along_axis(g, g_order[:, :, None, None], axis=1)
    vs = np.take_along_axis(vis, g_order[:, :, None], axis=1)
    dist = np.linalg.norm(ps[:, :, None] - gs[:, None], axis=-1)  # [N, S, M, J]
    weight = vs[:, None].astype(np.float64)
    with np.errstate(invalid="ignore"):
        cost = (np.where(weight > 0, dist, 0.0)).sum(-1) / np.maximum(weight.sum(-1), 1.0)
    cost = np.where(np.isfinite(cost), cost, 1e9)  # a non-finite prediction still pairs, as a miss
    found = match_persons_batch(np.ascontiguousarray(cost), sizes=np.stack([pred_count, true_count], axis=1))
    frame = np.repeat(np.arange(n), np.diff(found.pair_offsets))
    rows, cols = found.rows, found.cols
    matched_pred, matched_gt, matched_vis = ps[frame, rows], gs[frame, cols], vs[frame, cols]

    missed = np.ones((n, m), bool)
    missed[frame, cols] = False
    missed &= np.arange(m)[None] < true_count[:, None]
    missed_gt, missed_vis = gs[missed], vs[missed]
    scores = PoseAccumulator(skeleton, thresholds)
    scores.update(matched_pred, matched_gt, matched_vis)
    pairs = scores.compute()  # the MPJPEs: matched people only
    scores.update(np.full(missed_gt.shape, np.nan), missed_gt, missed_vis)
    everyone = scores.compute()  # PCK: every true person, a missed one missing every joint

    counts = {
        "frames": int(n), "people": int(true_count.sum()), "predicted": int(pred_count.sum()),
        "matched": int(len(rows)), "missed": int(missed.sum()), "false_positives": int(pred_count.sum() - len(rows)),
    }  # fmt: skip
    ap = _oks_ap(ps, prob, counted, p_order, gs, vs, true_count, pred_count, scale)
    definition = "\n".join([
        everyone.definition,
        f"people: a prediction counts when its presence > {threshold}; count accuracy: frames whose predicted "
        "count equals the true count; count error: mean |predicted - true| count",
        "per person: counted predictions and true people matched per frame by the least total mean joint distance "
        "(all pairs that can be formed); PCK over every true person (a missed one misses every joint); MPJPEs "
        "over matched people",
        f"OKS-AP: COCO keypoint AP (greedy by presence, OKS 0.50:0.05:0.95) on {d}-D distances, sigma "
        f"{UNIFORM_SIGMA} per joint, every person's area {scale:g}^2",
    ])  # fmt: skip
    return dataclasses.replace(
        everyone, mpjpe=pairs.mpjpe, mpjpe_root=pairs.mpjpe_root, pa_mpjpe=pairs.pa_mpjpe,
        mpjpe_joints=pairs.mpjpe_joints, failed_frames=pairs.failed_frames, definition=definition,
        count_accuracy=float(np.mean(pred_count == true_count)) if n else float("nan"),
        count_error=float(np.mean(np.abs(pred_count - true_count))) if n else float("nan"),
        oks_ap=ap, people=counts,
    )  # fmt: skip


def _oks_ap(ps: np.ndarray, prob: np.ndarray, counted: np.ndarray, p_order: np.ndarray, gs: np.ndarray,
            vs: np.ndarray, true_count: np.ndarray, pred_count: np.ndarray, scale: float) -> float | None:
    """COCO OKS-AP of the counted predictions (scored by presence) against the true people; None
    when the keypoint AP kernel does not take keypoints of this dimension."""
    from csipose.metrics.oks_ap import oks_ap_arrays

    n, s, j, d = ps.shape
    take_p = np.arange(s)[None] < pred_count[:, None]
    take_g = np.arange(gs.shape[1])[None] < true_count[:, None]
    scores = np.take_along_axis(prob, p_order, axis=1)[take_p]
    try:
        result = oks_ap_arrays(
            gs[take_g], np.nonzero(take_g)[0], ps[take_p], scores, np.nonzero(take_p)[0],
            visible=vs[take_g], areas=np.full(int(take_g.sum()), scale**2), image_ids=np.arange(n),
            sigmas=np.full(j, UNIFORM_SIGMA),
        )  # fmt: skip
    except ShapeError:
        return None  # a 2-D-only kernel and 3-D keypoints
    return float(result.ap)
