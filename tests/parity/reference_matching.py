"""Plainly written numpy references for person matching and its cost matrices."""

from __future__ import annotations

import itertools

import numpy as np


def best_matching_brute_force(cost: np.ndarray) -> tuple[int, float]:
    """(size, total cost) of the largest matching of least cost, by enumeration.

    ``+inf`` entries are forbidden pairs. Only for tiny matrices.
    """
    n, m = cost.shape
    best = (0, 0.0)
    for k in range(min(n, m), 0, -1):
        totals = [
            sum(cost[i, j] for i, j in zip(rows, cols))
            for rows in itertools.combinations(range(n), k)
            for cols in itertools.permutations(range(m), k)
            if all(np.isfinite(cost[i, j]) for i, j in zip(rows, cols))
        ]
        if totals:
            return k, float(min(totals))
    return best


def oks(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, area: float, sigmas: np.ndarray) -> float:
    """COCO object keypoint similarity of one pose pair over all ``D`` coordinates (``nan``
    without visible joints or with a non-finite visible GT joint; a non-finite predicted
    joint scores 0)."""
    if not visible.any() or not np.isfinite(gt[visible]).all():
        return float("nan")
    with np.errstate(invalid="ignore"):
        d2 = ((pred - gt) ** 2).sum(axis=1)
        k2 = (2 * sigmas) ** 2
        e = d2 / k2 / (area + np.spacing(1)) / 2
        similarity = np.nan_to_num(np.exp(-e), nan=0.0)
    return float(similarity[visible].mean())


def oks_cost_matrix(
    pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, areas: np.ndarray, sigmas: np.ndarray
) -> np.ndarray:
    """``1 - OKS`` for every pair, ``+inf`` for a GT without visible joints."""
    out = np.empty((len(pred), len(gt)))
    for p in range(len(pred)):
        for g in range(len(gt)):
            s = oks(pred[p], gt[g], visible[g], areas[g], sigmas)
            out[p, g] = np.inf if np.isnan(s) else 1.0 - s
    return out


def joint_distance_cost_matrix(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Mean Euclidean distance over GT-visible joints, ``+inf`` without any or with a
    non-finite one (in either pose)."""
    out = np.empty((len(pred), len(gt)))
    for p in range(len(pred)):
        for g in range(len(gt)):
            with np.errstate(invalid="ignore"):
                d = np.linalg.norm(pred[p] - gt[g], axis=-1)[visible[g]]
            out[p, g] = d.mean() if len(d) and np.isfinite(d).all() else np.inf
    return out
