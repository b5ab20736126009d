"""MPJPE and OKS fixtures computed on paper, and their bad-input errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import csipose.metrics as M
from csipose.errors import ArgumentError, ShapeError
from csipose.skeletons import COCO17, H36M17


def test_raw_root_and_scale_alignment() -> None:
    gt = np.array([[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])
    # the prediction is the ground truth, doubled and shifted by (3, 4)
    pred = 2.0 * gt + np.array([3.0, 4.0])
    assert M.mpjpe(pred, gt) == pytest.approx((5.0 + math.hypot(4, 4) + math.hypot(3, 5)) / 3)
    # root-aligned: errors are |p - g| of the doubled pose: 0, 1, 1
    assert M.mpjpe(pred, gt, align="root") == pytest.approx(2 / 3)
    assert M.mpjpe(pred, gt, align="scale") == pytest.approx(0.0, abs=1e-15)
    assert M.mpjpe(pred, gt, align="procrustes") == pytest.approx(0.0, abs=1e-12)


def test_root_as_a_joint_pair_midpoint() -> None:
    gt = np.array([[[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [1.0, 1.0, 0.0]]])
    pred = gt + np.array([0.0, 0.0, 5.0])
    assert M.mpjpe(pred, gt, align="root", root=(0, 1)) == 0.0
    assert M.root_joints(COCO17) == (11, 12) and M.root_joints(H36M17) == (0,)


def test_visibility_selects_joints_and_frames() -> None:
    gt = np.zeros((2, 3, 3))
    pred = gt.copy()
    pred[0, 1, 0] = 3.0
    pred[1, 2, 0] = 1.0
    vis = np.array([[True, True, False], [False, True, True]])
    assert M.mpjpe(pred, gt, visible=vis) == pytest.approx(4.0 / 4)
    per_frame = M.mpjpe_per_frame(pred, gt, visible=vis, align="root")
    # frame 1 hides its root (joint 0): not counted
    assert per_frame[0] == pytest.approx(1.5) and np.isnan(per_frame[1])
    none = M.mpjpe(pred, gt, visible=np.zeros((2, 3), bool))
    assert math.isnan(none)
    assert math.isnan(M.mpjpe(np.zeros((0, 3, 3)), np.zeros((0, 3, 3))))


def test_procrustes_of_a_collapsed_prediction_is_the_spread_of_the_truth() -> None:
    gt = np.array([[[1.0, 0.0], [-1.0, 0.0], [0.0, 3.0], [0.0, -3.0]]])
    pred = np.full_like(gt, 7.0)
    assert M.mpjpe(pred, gt, align="procrustes") == pytest.approx((1 + 1 + 3 + 3) / 4)


def test_procrustes_undoes_rotation_but_not_a_mirror() -> None:
    rng = np.random.default_rng(1)
    gt = rng.standard_normal((4, 17, 3))
    angle = 0.7
    rot = np.array([[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0], [0, 0, 1]])
    assert M.mpjpe(1.5 * gt @ rot.T + 2.0, gt, align="procrustes") < 1e-12
    assert M.mpjpe(gt * np.array([1.0, 1.0, -1.0]), gt, align="procrustes") > 0.1


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        (dict(align="rigid"), ArgumentError, "align"),
        (dict(align="root", root=20), ArgumentError, "root"),
        (dict(align="root", root=()), ArgumentError, "root"),
        (dict(gt=np.zeros((2, 5, 3))), ShapeError, "gt"),
        (dict(visible=np.ones((5, 2))), ShapeError, "visible"),
    ],
)
def test_mpjpe_bad_input(kwargs: dict, error: type[Exception], name: str) -> None:
    args = dict(pred=np.zeros((2, 4, 3)), gt=np.zeros((2, 4, 3)))
    args.update(kwargs)
    with pytest.raises(error, match=name):
        M.mpjpe(args.pop("pred"), args.pop("gt"), **args)


def test_oks_on_paper() -> None:
    gt = np.zeros((1, 2, 2))
    pred = np.array([[[3.0, 4.0], [0.0, 0.0]]])
    sigmas = np.array([0.5, 0.5])  # k = 1, so e_0 = 25 / (2 * area)
    area = 12.5
    value = M.oks(pred, gt, visible=None, areas=area, sigmas=sigmas)
    assert value[0] == pytest.approx((math.exp(-25 / (2 * (area + np.spacing(1)))) + 1.0) / 2, rel=1e-14)
    hidden = M.oks(pred, gt, visible=np.array([[False, True]]), areas=area, sigmas=sigmas)
    assert hidden[0] == 1.0
    assert np.isnan(M.oks(pred, gt, visible=np.zeros((1, 2)), areas=area, sigmas=sigmas)[0])
    with pytest.raises(ShapeError, match="sigmas"):
        M.oks(pred, gt, visible=None, areas=area, sigmas=[0.1])
    with pytest.raises(ShapeError, match="area"):
        M.oks(pred, gt, visible=None, areas=[1.0, 2.0], sigmas=sigmas)
    with pytest.raises(ArgumentError, match="sigmas"):
        M.oks(pred, gt, visible=None, areas=1.0, sigmas="h36m17")
    with pytest.raises(ArgumentError, match=r"visible: required.*visible=kp\[..., 2\] > 0"):
        M.oks(pred, gt, areas=1.0, sigmas=sigmas)
    with pytest.raises(TypeError, match="area"):
        M.oks(pred, gt, visible=None, area=1.0, sigmas=sigmas)  # type: ignore[call-arg]


def test_non_finite_prediction_fails_its_frame_in_every_alignment() -> None:
    gt = np.random.default_rng(2).standard_normal((3, 17, 3))
    pred = gt.copy()
    pred[1, 5, 0] = np.nan
    for align in ("none", "root", "scale", "procrustes"):
        per_frame = M.mpjpe_per_frame(pred, gt, align=align)
        assert per_frame[0] < 1e-12 and per_frame[1] == np.inf and per_frame[2] < 1e-12
        assert M.mpjpe(pred, gt, align=align) == np.inf
    r = M.pck(pred, gt, thresholds=(50,))
    assert r.correct_joints.sum() == 3 * 17 - 1  # the NaN joint is never correct
