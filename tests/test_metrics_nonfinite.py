"""The non-finite policy of csipose.metrics, one tiny hand-built case per metric.

A ground-truth frame with a non-finite coordinate in a joint that counts is excluded from
every metric and counted as unscoreable; a non-finite predicted joint is a miss (PCK, OKS)
or an infinite error (MPJPE).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import csipose.metrics as M
from csipose.matching import joint_distance_cost_matrix, oks_cost_matrix
from csipose.skeletons import Skeleton

# Three joints on a line; torso = joints 0-1 (length 1), hips = joints 1-2.
LINE = Skeleton(name="line3", joint_names=("a", "b", "c"), bones=((0, 1), (1, 2)), torso=(0, 1), hips=(1, 2), root=0)
GT = np.array([[[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]])


def frames(*offsets: tuple[float, float, float]) -> np.ndarray:
    """Predictions shifted along y by the given per-joint offsets, one frame each."""
    out = np.repeat(GT, len(offsets), axis=0)
    out[..., 1] = np.array(offsets)
    return out


def test_pck_nan_prediction_is_a_miss_nan_gt_frame_is_unscoreable() -> None:
    pred = frames((0.0, 0.0, 0.0), (0.0, np.nan, 0.0))
    gt = np.repeat(GT, 2, axis=0)
    r = M.pck(pred, gt, thresholds=(10,), skeleton=LINE)
    assert r.pck == (5 / 6,) and r.scored_frames == 2 and r.unscoreable_frames == 0
    gt[1, 2, 0] = np.inf  # frame 1 cannot be scored: its joints leave every denominator
    r = M.pck(pred, gt, thresholds=(10,), skeleton=LINE)
    assert r.pck == (1.0,) and r.scored_frames == 1 and r.unscoreable_frames == 1
    assert r.unscoreable_joints == 3
    # ... unless the bad joint is not visible
    vis = np.ones((2, 3), bool)
    vis[1, 2] = False
    r = M.pck(pred, gt, visible=vis, thresholds=(10,), skeleton=LINE)
    assert r.pck == (4 / 5,) and r.unscoreable_frames == 0  # frame 1: joint 0 right, joint 1 a miss


@pytest.mark.parametrize("convention", ["mmpose", "metafi", "wiflow"])
def test_legacy_pck_follows_the_same_policy(convention: str) -> None:
    skel = Skeleton(
        name="wide13", joint_names=tuple(f"j{i}" for i in range(13)), bones=(), torso=(5, 12), hips=(2, 12)
    )
    rng = np.random.default_rng(0)
    gt = rng.standard_normal((2, 13, 2))
    pred = gt.copy()
    pred[0, 3, 0] = np.nan
    gt[1, 7, 1] = np.nan
    r = M.pck(pred, gt, thresholds=(50,), skeleton=skel, convention=convention)  # type: ignore[arg-type]
    assert r.unscoreable_frames == 1 and r.scored_frames == 1
    assert r.correct_joints.sum() == 12 and r.scored_joints.sum() == 13


def test_mpjpe_nan_gt_frame_is_excluded_nan_prediction_is_infinite() -> None:
    gt = np.repeat(GT, 2, axis=0)
    pred = frames((0.0, 0.0, 0.0), (3.0, 3.0, 3.0))
    assert M.mpjpe(pred, gt) == 1.5
    gt[1, 0, 0] = np.nan  # frame 1 leaves the pool instead of turning it into NaN
    for align in ("none", "root", "procrustes"):
        assert M.mpjpe(pred, gt, align=align) == pytest.approx(0.0, abs=1e-12)
        assert np.isnan(M.mpjpe_per_frame(pred, gt, align=align)[1])
    pred[0, 2, 1] = np.nan  # now the only scored frame failed
    assert M.mpjpe(pred, gt) == math.inf
    assert M.mpjpe_per_frame(pred, gt).tolist()[0] == math.inf


def test_evaluate_counts_unscoreable_and_failed_frames_without_poisoning() -> None:
    rng = np.random.default_rng(1)
    gt = rng.standard_normal((4, 17, 3))
    pred = gt + 0.01
    clean = M.evaluate(pred[:3], gt[:3]).to_dict()
    gt[3, 9, 2] = np.nan
    report = M.evaluate(pred, gt).to_dict()
    assert report["unscoreable_frames"] == 1 and report["failed_frames"] == 0
    for key in ("pck", "auc", "mpjpe", "mpjpe_root", "pa_mpjpe"):
        assert report[key] == clean[key]
    pred[0, 0, 0] = np.inf
    failed = M.evaluate(pred, gt)
    assert failed.failed_frames == 1 and failed.mpjpe == math.inf and failed.pa_mpjpe == math.inf
    assert failed.to_dict()["mpjpe"] is None and failed.pck.at(50) < 1.0


def test_oks_nan_prediction_scores_zero_nan_gt_is_unscoreable() -> None:
    gt = np.zeros((2, 2, 2))
    pred = np.zeros((2, 2, 2))
    pred[0, 1, 0] = np.nan
    gt[1, 0, 1] = -np.inf
    value = M.oks(pred, gt, visible=None, areas=1.0, sigmas=[0.1, 0.1])
    assert value[0] == 0.5 and np.isnan(value[1])
    hidden = M.oks(pred, gt, visible=[[True, True], [False, True]], areas=1.0, sigmas=[0.1, 0.1])
    assert hidden.tolist() == [0.5, 1.0]


def test_cost_matrices_forbid_unscoreable_pairs() -> None:
    gt = np.zeros((2, 2, 2))
    gt[1, 0, 0] = np.nan
    pred = np.zeros((2, 2, 2))
    pred[1, 1, 1] = np.inf
    oks = oks_cost_matrix(pred, gt, visible=None, areas=[1.0, 1.0], sigmas=[0.1, 0.1])
    np.testing.assert_array_equal(oks, [[0.0, np.inf], [0.5, np.inf]])
    dist = joint_distance_cost_matrix(pred, gt)
    np.testing.assert_array_equal(dist, [[0.0, np.inf], [np.inf, np.inf]])
