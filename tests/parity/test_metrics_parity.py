"""Rust metric kernels against the plain numpy references and against peers
(the classic Procrustes of MM-Fi's evaluation, pycocotools' computeOks)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import csipose.metrics as M
from csipose.skeletons import COCO17, H36M17, Skeleton
from tests.parity.reference_metrics import (
    batched_pa_mpjpe,
    classic_pa_mpjpe,
    reference_mpjpe_frames,
    reference_oks,
    reference_pck,
)

TINY = Skeleton(
    name="tiny3", joint_names=("a", "b", "c"), bones=((0, 1),), torso=(0, 1), hips=(1, 2), head=(0, 2),
    head_factor=0.6, root=None,
)  # fmt: skip
SKELETONS = {"h36m17": H36M17, "coco17": COCO17, "tiny3": TINY}

# quarter-unit grid values make exact ties at thresholds and zero normalisers common
GRID = st.integers(-8, 8).map(lambda v: v / 4)
REAL = st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def pose_batch(
    draw: st.DrawFn,
    skeletons: tuple[str, ...] = ("h36m17", "coco17", "tiny3"),
    masks: bool = True,
    non_finite: bool = True,
):
    skel = SKELETONS[draw(st.sampled_from(skeletons))]
    n = draw(st.integers(0, 6))
    d = draw(st.sampled_from([2, 3]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    elements = draw(st.sampled_from([GRID, REAL]))
    shape = (n, skel.num_joints, d)
    gt = draw(hnp.arrays(dtype, shape, elements=elements))
    noise = draw(hnp.arrays(dtype, shape, elements=elements))
    pred = (gt + draw(st.sampled_from([0.0, 0.25, 1.0])) * noise).astype(dtype)
    if non_finite and n > 0 and draw(st.integers(0, 4)) == 0:
        # a few NaN / inf coordinates in either array
        for _ in range(draw(st.integers(1, 3))):
            target = draw(st.sampled_from([pred, gt]))
            frame, joint = draw(st.integers(0, n - 1)), draw(st.integers(0, skel.num_joints - 1))
            index = (frame, joint, draw(st.integers(0, d - 1)))
            target[index] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    visible = None
    if masks and draw(st.booleans()):
        visible = draw(hnp.arrays(np.bool_, shape[:2]))
    return skel, pred, gt, visible


STATS = ("scored_frames", "unscoreable_frames", "unscoreable_joints", "empty_frames", "fallback_frames")


def _check_pck(skel: Skeleton, pred, gt, visible, norm, convention, thresholds) -> None:
    ours = M.pck(pred, gt, visible=visible, thresholds=thresholds, norm=norm, skeleton=skel, convention=convention)
    with np.errstate(all="ignore"):  # inf - inf in the reference is the NaN it should be
        ref = reference_pck(pred, gt, visible, list(thresholds), norm, skel, convention)
    np.testing.assert_array_equal(ours.scored_joints, ref["scored"])
    np.testing.assert_array_equal(ours.correct_joints, ref["correct"])
    np.testing.assert_allclose(ours.per_joint, ref["per_joint"], rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(ours.pck, ref["pck"], rtol=1e-12, equal_nan=True)
    assert tuple(getattr(ours, k) for k in STATS) == tuple(ref[k] for k in STATS)
    assert ours.thresholds == tuple(float(k) for k in thresholds)


THRESHOLDS = st.lists(st.sampled_from([0, 5, 10, 12.5, 20, 25, 50, 100, 200]), min_size=1, max_size=5)


@given(pose_batch(), st.sampled_from(["torso", "bbox", "head", "absolute", 0.5]), THRESHOLDS)
def test_canonical_pck_matches_reference(batch, norm, thresholds) -> None:
    skel, pred, gt, visible = batch
    _check_pck(skel, pred, gt, visible, norm, "canonical", thresholds)


@given(pose_batch(), st.sampled_from(["torso", "bbox", "head", "absolute"]), THRESHOLDS)
def test_mmpose_pck_matches_reference(batch, norm, thresholds) -> None:
    skel, pred, gt, visible = batch
    _check_pck(skel, pred, gt, visible, norm, "mmpose", thresholds)


@given(pose_batch(skeletons=("h36m17", "coco17"), masks=False), st.sampled_from(["metafi", "wiflow"]), THRESHOLDS)
def test_fixed_pair_pck_matches_reference(batch, convention, thresholds) -> None:
    skel, pred, gt, _ = batch
    _check_pck(skel, pred, gt, None, "torso", convention, thresholds)


@given(pose_batch(non_finite=False), st.sampled_from(["none", "root", "scale", "procrustes"]))
def test_mpjpe_frames_match_reference(batch, align) -> None:
    skel, pred, gt, visible = batch
    root = M.root_joints(skel)
    ours = M.mpjpe_per_frame(pred, gt, visible=visible, align=align, root=root)
    sums, counts = reference_mpjpe_frames(pred, gt, visible, align, list(root))
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-9, equal_nan=True)
    _check_pooled(pred, gt, visible, align, root, sums, counts)


@given(pose_batch(), st.sampled_from(["none", "root", "scale", "procrustes"]))
def test_mpjpe_non_finite_policy_matches_the_reference(batch, align) -> None:
    skel, pred, gt, visible = batch
    root = M.root_joints(skel)
    ours = M.mpjpe_per_frame(pred, gt, visible=visible, align=align, root=root)
    with np.errstate(all="ignore"):
        sums, counts = reference_mpjpe_frames(pred, gt, visible, align, list(root))
        expected = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-9, equal_nan=True)
    _check_pooled(pred, gt, visible, align, root, sums, counts)


def _check_pooled(pred, gt, visible, align, root, sums, counts) -> None:
    pooled = M.mpjpe(pred, gt, visible=visible, align=align, root=root)
    if counts.sum() == 0:
        assert np.isnan(pooled)
    elif np.isinf(sums).any():
        assert pooled == np.inf
    else:
        np.testing.assert_allclose(pooled, sums.sum() / counts.sum(), rtol=1e-9, atol=1e-12)


@given(
    st.integers(1, 8),
    st.integers(3, 17),
    st.sampled_from([2, 3]),
    st.integers(0, 2**32 - 1),
)
def test_pa_mpjpe_matches_the_classic_procrustes_to_1e9(n, j, d, seed) -> None:
    rng = np.random.default_rng(seed)
    gt = rng.standard_normal((n, j, d))
    pred = rng.uniform(0.2, 3.0) * gt @ np.linalg.qr(rng.standard_normal((d, d)))[0] + rng.normal(0, 0.3, (n, j, d))
    classic = classic_pa_mpjpe(pred, gt)
    assert abs(M.mpjpe(pred, gt, align="procrustes") - classic) <= 1e-9
    if d == 3:
        assert abs(batched_pa_mpjpe(pred, gt) - classic) <= 1e-9


def test_pa_mpjpe_on_mirrored_poses_keeps_the_reflection_penalty() -> None:
    rng = np.random.default_rng(7)
    gt = rng.standard_normal((20, 17, 3))
    pred = gt * np.array([-1.0, 1.0, 1.0])  # a mirror image: no rotation undoes it
    ours = M.mpjpe(pred, gt, align="procrustes")
    assert ours > 0.1
    assert abs(ours - classic_pa_mpjpe(pred, gt)) <= 1e-9


@given(pose_batch(skeletons=("coco17",)), st.floats(0, 1e4, allow_nan=False))
def test_oks_matches_reference(batch, area) -> None:
    skel, pred, gt, visible = batch
    areas = np.full(len(gt), area)
    ours = M.oks(pred, gt, visible=visible, areas=areas, sigmas=skel.sigmas)
    with np.errstate(all="ignore"):
        expected = reference_oks(pred, gt, visible, areas, np.asarray(skel.sigmas))
    np.testing.assert_allclose(ours, expected, rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("seed", range(5))
def test_oks_matches_pycocotools_compute_oks(seed: int) -> None:
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(seed)
    n = 6
    gt = rng.uniform(0, 200, (n, 17, 2))
    pred = gt + rng.normal(0, rng.uniform(1, 15), gt.shape)
    vis = rng.random((n, 17)) < 0.8
    vis[:, 0] = True
    areas = rng.uniform(500, 20000, n)
    sigmas = np.asarray(COCO17.sigmas)
    ours = M.oks(pred, gt, visible=vis, areas=areas, sigmas="coco17")
    for i in range(n):
        ev = COCOeval(iouType="keypoints")
        ev.params.kpt_oks_sigmas = sigmas
        kg = np.concatenate([gt[i], np.where(vis[i], 2, 0)[:, None]], axis=1).ravel().tolist()
        kd = np.concatenate([pred[i], np.ones((17, 1))], axis=1).ravel().tolist()
        ev._gts[1, 1] = [{"keypoints": kg, "area": float(areas[i]), "bbox": [0, 0, 200, 200]}]
        ev._dts[1, 1] = [{"keypoints": kd, "score": 1.0}]
        assert abs(float(ev.computeOks(1, 1)[0, 0]) - ours[i]) <= 1e-12


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_results_do_not_depend_on_the_thread_count(threads: int) -> None:
    import csipose

    rng = np.random.default_rng(3)
    gt = rng.standard_normal((5000, 17, 3))
    pred = gt + 0.2 * rng.standard_normal(gt.shape)
    vis = rng.random((5000, 17)) < 0.9
    before = csipose.get_num_threads()
    try:
        csipose.set_num_threads(1)
        one = M.evaluate(pred, gt, visible=vis).to_dict()
        csipose.set_num_threads(threads)
        many = M.evaluate(pred, gt, visible=vis).to_dict()
    finally:
        csipose.set_num_threads(before)
    assert one == many


@given(
    st.integers(0, 4),
    st.integers(1, 24),
    st.sampled_from([2, 3]),
    st.sampled_from([np.float32, np.float64]),
    st.sampled_from(["none", "root", "scale", "procrustes"]),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_mpjpe_any_joint_count(n, j, d, dtype, align, masked, seed) -> None:
    rng = np.random.default_rng(seed)
    gt = rng.standard_normal((n, j, d)).astype(dtype)
    pred = (gt + rng.standard_normal((n, j, d))).astype(dtype)
    visible = rng.random((n, j)) < 0.7 if masked else None
    ours = M.mpjpe_per_frame(pred, gt, visible=visible, align=align, root=0)
    sums, counts = reference_mpjpe_frames(pred, gt, visible, align, [0])
    expected = np.full(n, np.nan)
    np.divide(sums, counts, out=expected, where=counts > 0)
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-9, equal_nan=True)


@given(
    pose_batch(skeletons=("h36m17", "tiny3"), non_finite=False),
    st.sampled_from([1e-170, 1e-30, 1.0, 1e30, 1e170]),
    THRESHOLDS,
)
def test_canonical_pck_at_extreme_scales(batch, scale, thresholds) -> None:
    # squared normalisers that under- or overflow take the exact comparison: same counts
    skel, pred, gt, visible = batch
    pred, gt = pred.astype(np.float64) * scale, gt.astype(np.float64) * scale
    _check_pck(skel, pred, gt, visible, "torso", "canonical", thresholds)


@pytest.mark.parametrize("scale", [1e-30, 1e-15, 1e-5, 1.0, 3e5, 1e15, 1e30])
@pytest.mark.parametrize("thresholds", [(5, 10, 12.5, 25, 50, 100), (0, 10, 20, 30, 40, 50), (10, 20, 30, 40, 50), (25,)])
def test_canonical_pck_long_float32_batches(scale, thresholds) -> None:
    # unmasked float32 3D poses take the vectorised f32 kernel: batches longer than
    # its flush interval and a work item, ties on a quarter grid, exact zeros
    # (pred == gt) and one-ulp errors, NaN / inf, and scales near both ends of
    # float32 keep exact counts
    rng = np.random.default_rng(len(thresholds))
    n = 2100
    gt = rng.standard_normal((n, 17, 3))
    grid = rng.random(n) < 0.5
    gt[grid] = rng.integers(-8, 9, (grid.sum(), 17, 3)) / 4
    pred = gt + rng.choice([0.0, 0.25, 1.0], (n, 1, 1)) * rng.integers(-8, 9, gt.shape) / 4
    real = ~grid & (rng.random(n) < 0.5)
    pred[real] = gt[real] + 0.2 * rng.standard_normal((real.sum(), 17, 3))
    pred[:, 0] = gt[:, 0]
    gt, pred = (gt * scale).astype(np.float32), (pred * scale).astype(np.float32)
    pred[:, 1] = np.nextafter(gt[:, 1], np.float32(np.inf))
    for _ in range(6):
        target = pred if rng.random() < 0.5 else gt
        target[rng.integers(n), rng.integers(17), rng.integers(3)] = rng.choice([np.nan, np.inf, -np.inf])
    _check_pck(H36M17, pred, gt, None, "torso", "canonical", thresholds)
