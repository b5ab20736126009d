"""Hand-computed PCK fixtures, one per convention and edge case (answers worked out on paper)."""

from __future__ import annotations

import numpy as np
import pytest

import csipose.metrics as M
from csipose.errors import ArgumentError, DTypeError, ShapeError
from csipose.skeletons import COCO17, H36M17, Skeleton


def h36m_fixture() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two 3D H36M-17 frames with torso |gt[14] - gt[4]| = 1.

    Frame 0 (all visible): joint 0 off by 0.5 (a tie at PCK@50), joint 1 by 0.25,
    joint 2 by 0.75, the rest exact. Frame 1: only joints 0, 4, 14 visible;
    joint 0 off by 1.0.
    """
    gt = np.zeros((2, 17, 3))
    gt[:, 4] = (0.0, 1.0, 0.0)
    pred = gt.copy()
    pred[0, 0, 0] += 0.5
    pred[0, 1, 1] += 0.25
    pred[0, 2, 2] += 0.75
    pred[1, 0, 0] += 1.0
    vis = np.ones((2, 17), bool)
    vis[1] = False
    vis[1, [0, 4, 14]] = True
    return pred, gt, vis


def test_canonical_counts_a_tie_as_correct_and_pools_joints() -> None:
    pred, gt, vis = h36m_fixture()
    r = M.pck(pred, gt, visible=vis, thresholds=(0, 25, 50, 75))
    # correct of 20 scored joints: k=0 -> 14 + 2, k=25 -> 15 + 2, k=50 -> 16 + 2, k=75 -> 17 + 2
    assert r.pck == (16 / 20, 17 / 20, 18 / 20, 19 / 20)
    assert r.scored_frames == 2 and r.unscoreable_frames == 0
    assert r.scored_joints.sum() == 20
    assert r.per_joint[2, 0] == 0.5  # joint 0 correct in frame 0 only
    assert r.at(50) == 0.9
    assert r.as_dict() == {"0": 0.8, "25": 0.85, "50": 0.9, "75": 0.95}


def test_mmpose_is_strict_and_macro_averaged() -> None:
    pred, gt, vis = h36m_fixture()
    r = M.pck(pred, gt, visible=vis, thresholds=(50,), convention="mmpose")
    # per joint at k=50 (strict): joint 0 -> 0/2, joint 1 -> 1/1, joint 2 -> 0/1, every other -> 1
    assert r.pck[0] == pytest.approx(15 / 17, abs=1e-15)
    assert r.per_joint[0, 0] == 0.0 and r.per_joint[0, 1] == 1.0


def coco_fixture() -> tuple[np.ndarray, np.ndarray]:
    """Two 2D COCO-17 frames. Frame 0: gt[12] = (0, 2), so |gt[5] - gt[12]| =
    |gt[2] - gt[12]| = 2; joint 0 off by 1.0 (ratio 0.5, a tie at k=50) and
    joint 3 by 0.5 (ratio 0.25). Frame 1: every joint at the origin (a zero
    normaliser); joint 0 predicted 0.004 away."""
    gt = np.zeros((2, 17, 2))
    gt[0, 12] = (0.0, 2.0)
    pred = gt.copy()
    pred[0, 0, 0] += 1.0
    pred[0, 3, 1] += 0.5
    pred[1, 0, 0] += 0.004
    return pred, gt


def test_metafi_keeps_zero_normaliser_frames_as_wrong() -> None:
    pred, gt = coco_fixture()
    r = M.pck(pred, gt, thresholds=(20, 25, 50), skeleton="coco17", convention="metafi")
    # frame 0: 17 correct at k=50 (tie included), 16 at 25, 15 at 20; frame 1: 17 joints, all wrong
    assert r.pck == (15 / 34, 16 / 34, 17 / 34)
    assert r.unscoreable_frames == 1 and r.scored_joints.sum() == 34


def test_wiflow_clamps_the_normaliser() -> None:
    pred, gt = coco_fixture()
    r = M.pck(pred, gt, thresholds=(20, 25, 50), skeleton="coco17", convention="wiflow")
    # frame 1 is normalised by 0.01: joint 0 has ratio 0.4, correct at 50 only
    assert r.pck == (31 / 34, 32 / 34, 34 / 34)
    assert r.unscoreable_frames == 0


def test_canonical_zero_normaliser_frame_is_unscoreable_not_correct() -> None:
    pred, gt = coco_fixture()
    r = M.pck(pred, gt, thresholds=(50,), skeleton="coco17")
    # COCO torso = |gt[6] - gt[11]| = 0 in both frames: nothing is scoreable
    assert r.unscoreable_frames == 2 and r.unscoreable_joints == 34
    assert np.isnan(r.pck[0])
    assert r.scored_joints.sum() == 0


def test_hip_width_fallback_when_a_torso_joint_is_hidden() -> None:
    gt = np.zeros((1, 17, 3))
    gt[0, 4] = (0.5, 0.0, 0.0)  # hips |gt[1] - gt[4]| = 0.5
    pred = gt.copy()
    pred[0, 2, 0] += 0.25  # exactly 50% of the hip width
    vis = np.ones((1, 17), bool)
    vis[0, 14] = False
    r = M.pck(pred, gt, visible=vis, thresholds=(49, 50))
    assert r.fallback_frames == 1
    assert r.pck == (15 / 16, 16 / 16)


def test_frames_without_visible_joints_are_not_scored() -> None:
    pred, gt, _ = h36m_fixture()
    r = M.pck(pred, gt, visible=np.zeros((2, 17), bool))
    assert r.empty_frames == 2 and r.scored_frames == 0
    assert all(np.isnan(v) for v in r.pck)
    empty = M.pck(np.zeros((0, 17, 3)), np.zeros((0, 17, 3)))
    assert all(np.isnan(v) for v in empty.pck) and empty.scored_frames == 0


def test_one_visible_joint_frame() -> None:
    pred, gt, _ = h36m_fixture()
    vis = np.zeros((2, 17), bool)
    vis[0, 1] = True  # joint 1, off by 0.25
    torso = M.pck(pred, gt, visible=vis, thresholds=(50,))
    assert torso.unscoreable_frames == 1 and torso.empty_frames == 1
    bbox = M.pck(pred, gt, visible=vis, thresholds=(50,), norm="bbox")  # a one-point box has no size
    assert bbox.unscoreable_frames == 1
    absolute = M.pck(pred, gt, visible=vis, thresholds=(25, 24), norm="absolute")
    assert absolute.pck == (1.0, 0.0)  # 0.25 input units = 25 / 100


def test_bbox_and_head_normalisers_2d() -> None:
    gt = np.zeros((1, 17, 2))
    gt[0, 10] = (3.0, 4.0)  # box 3 x 4 -> diagonal 5; head |gt[9] - gt[10]| = 5
    pred = gt.copy()
    pred[0, 0, 0] += 2.5
    for norm in ("bbox", "head"):
        r = M.pck(pred, gt, thresholds=(49, 50), norm=norm)
        assert r.pck == (16 / 17, 1.0), norm
    longest = M.pck(pred, gt, thresholds=(62, 63), norm="bbox", convention="mmpose")
    # mmpose's bbox size is the longest side, 4: ratio 2.5 / 4 = 0.625
    assert longest.pck == pytest.approx((16 / 17, 1.0))
    fixed = M.pck(pred, gt, thresholds=(2.5, 2.4), norm=100.0)
    assert fixed.pck == (1.0, 16 / 17)


def test_curve_and_auc() -> None:
    pred, gt, vis = h36m_fixture()
    curve = M.pck_curve(pred, gt, visible=vis)
    assert curve.thresholds == M.CURVE_THRESHOLDS
    assert np.all(np.diff(curve.pck) >= 0)
    # 16/20 correct for k < 25, 17/20 for 25 <= k < 50, 18/20 at 50
    expected = (24 * 16 + 0.5 * (16 + 17) + 24 * 17 + 0.5 * (17 + 18)) / 20 / 50
    assert M.auc(curve) == pytest.approx(expected, abs=1e-12)
    perfect = M.pck_curve(gt, gt)
    assert M.auc(perfect) == 1.0
    with pytest.raises(ArgumentError, match="curve"):
        M.auc(M.pck(gt, gt, thresholds=(20,)))


def test_float32_and_float64_agree() -> None:
    rng = np.random.default_rng(0)
    gt = rng.standard_normal((50, 17, 3))
    pred = gt + 0.3 * rng.standard_normal(gt.shape)
    a = M.pck(pred.astype(np.float32), gt.astype(np.float32))
    b = M.pck(pred.astype(np.float32).astype(np.float64), gt.astype(np.float32).astype(np.float64))
    assert a.pck == b.pck


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        (dict(pred=np.zeros((2, 17, 3)), gt=np.zeros((2, 17, 2))), ShapeError, "gt"),
        (dict(pred=np.zeros((2, 16, 3)), gt=np.zeros((2, 16, 3))), ShapeError, "17 joints"),
        (dict(pred=np.zeros((2, 17, 4)), gt=np.zeros((2, 17, 4))), ShapeError, "D = 2 or 3"),
        (dict(pred=np.zeros((17, 3)), gt=np.zeros((17, 3))), ShapeError, "pred"),
        (dict(visible=np.ones((2, 16))), ShapeError, "visible"),
        (dict(norm="elbow"), ArgumentError, "norm"),
        (dict(norm=-1.0), ArgumentError, "norm"),
        (dict(convention="openpose"), ArgumentError, "convention"),
        (dict(thresholds=(10, -5)), ArgumentError, "thresholds"),
        (dict(thresholds=()), ArgumentError, "thresholds"),
        (dict(thresholds=(float("nan"),)), ArgumentError, "thresholds"),
        (dict(convention="metafi", visible=np.ones((2, 17))), ArgumentError, "visible"),
        (dict(convention="wiflow", norm="bbox"), ArgumentError, "norm"),
        (dict(skeleton="smpl24"), ArgumentError, "skeleton"),
        (dict(pred=np.zeros((2, 17, 3), dtype=complex)), DTypeError, "pred"),
    ],
)
def test_bad_input_names_the_argument(kwargs: dict, error: type[Exception], name: str) -> None:
    args = dict(pred=np.zeros((2, 17, 3)), gt=np.zeros((2, 17, 3)))
    args.update(kwargs)
    pred, gt = args.pop("pred"), args.pop("gt")
    with pytest.raises(error, match=name):
        M.pck(pred, gt, **args)


def test_head_norm_needs_a_head_segment() -> None:
    headless = Skeleton(name="two", joint_names=("a", "b"), bones=(), torso=(0, 1), hips=(0, 1))
    with pytest.raises(ArgumentError, match="head"):
        M.pck(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), norm="head", skeleton=headless)
    assert COCO17.head is not None and H36M17.head is not None
