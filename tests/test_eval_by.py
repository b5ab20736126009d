"""Reports by group (evaluate_by), the root position error, the constant-root baseline and `csipose eval --by`."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import csipose.metrics as M
from csipose.errors import ShapeError


def _adds_up(pred: np.ndarray, gt: np.ndarray, groups: np.ndarray, vis: np.ndarray | None, skeleton: str) -> None:
    pooled = M.evaluate(pred, gt, visible=vis, skeleton=skeleton)
    by = M.evaluate_by(pred, gt, groups, visible=vis, skeleton=skeleton)
    assert list(by) == sorted(int(g) for g in set(groups.tolist()))
    reports = list(by.values())
    assert sum(r.frames for r in reports) == pooled.frames
    assert sum(r.root_frames for r in reports) == pooled.root_frames
    for field in ("scored_frames", "unscoreable_frames", "empty_frames", "fallback_frames"):
        assert sum(getattr(r.pck, field) for r in reports) == getattr(pooled.pck, field), field
    np.testing.assert_array_equal(sum(r.pck.correct_joints for r in reports), pooled.pck.correct_joints)
    np.testing.assert_array_equal(sum(r.pck.scored_joints for r in reports), pooled.pck.scored_joints)
    for i, name in enumerate(("mpjpe", "mpjpe_root", "pa_mpjpe")):
        joints = [r.mpjpe_joints[i] for r in reports]
        assert sum(joints) == pooled.mpjpe_joints[i]
        counted = [(getattr(r, name), n) for r, n in zip(reports, joints) if n]
        if counted:
            mean = sum(v * n for v, n in counted) / sum(n for _, n in counted)
            assert math.isclose(mean, getattr(pooled, name), rel_tol=1e-9, abs_tol=1e-12), name
        else:
            assert math.isnan(getattr(pooled, name))
    counted = [(r.root_error, r.root_frames) for r in reports if r.root_frames]
    if counted:
        mean = sum(v * n for v, n in counted) / pooled.root_frames
        assert math.isclose(mean, pooled.root_error, rel_tol=1e-9, abs_tol=1e-12)
    else:
        assert math.isnan(pooled.root_error)


def test_groups_add_up_to_the_pooled_report() -> None:
    rng = np.random.default_rng(3)
    gt = rng.standard_normal((30, 17, 3))
    pred = gt + 0.3 * rng.standard_normal(gt.shape)
    vis = rng.random((30, 17)) < 0.85
    groups = np.array([1, 2, 2, 5, 1] * 6)
    _adds_up(pred, gt, groups, vis, "h36m17")
    _adds_up(pred, gt, groups, None, "coco17")
    by = M.evaluate_by(pred, gt, groups)
    assert [r.frames for r in by.values()] == [12, 12, 6]
    assert by[5].to_dict() == M.evaluate(pred[groups == 5], gt[groups == 5]).to_dict()


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 24),
    seed=st.integers(0, 2**31 - 1),
    k=st.integers(1, 4),
    p_vis=st.sampled_from([0.0, 0.5, 0.9, 1.0]),
    skeleton=st.sampled_from(["h36m17", "coco17"]),
)
def test_groups_add_up_for_any_split(n: int, seed: int, k: int, p_vis: float, skeleton: str) -> None:
    rng = np.random.default_rng(seed)
    gt = rng.standard_normal((n, 17, 3))
    pred = gt + rng.standard_normal(gt.shape) * rng.uniform(0, 1)
    vis = rng.random((n, 17)) < p_vis
    _adds_up(pred, gt, rng.integers(0, k, n), vis, skeleton)


def test_root_error_is_the_distance_between_roots() -> None:
    rng = np.random.default_rng(0)
    gt = rng.standard_normal((4, 17, 3))
    pred = gt + np.array([0.3, 0.4, 0.0])  # translated by 0.5: the shape is exact
    r = M.evaluate(pred, gt)
    assert math.isclose(r.root_error, 0.5) and r.root_frames == 4
    assert r.mpjpe_root < 1e-12 and math.isclose(r.mpjpe, 0.5)
    d = r.to_dict()
    assert d["root_error"] == r.root_error and d["root_frames"] == 4
    assert "root error 0.5   root-aligned" in r.summary() and "root error: mean Euclidean" in r.definition
    # only the root moves: the root error is its shift, over the frames whose root is visible
    pred = gt.copy()
    pred[:, 0] += [[0.0, 0.0, 1.0], [0.0, 2.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 4.0]]
    vis = np.ones((4, 17), bool)
    vis[3, 0] = False
    r = M.evaluate(pred, gt, visible=vis)
    assert math.isclose(r.root_error, 2.0) and r.root_frames == 3
    # COCO-17: the hip midpoint (11, 12); one hip shifted by 2 moves the root by 1
    pred = gt.copy()
    pred[:, 11, 0] += 2.0
    r = M.evaluate(pred, gt, skeleton="coco17")
    assert math.isclose(r.root_error, 1.0) and r.root_frames == 4
    vis = np.ones((4, 17), bool)
    vis[:2, 12] = False
    assert M.evaluate(pred, gt, visible=vis, skeleton="coco17").root_frames == 2


def test_root_error_follows_the_non_finite_policy() -> None:
    rng = np.random.default_rng(1)
    gt = rng.standard_normal((3, 17, 3))
    pred = gt + [1.0, 0.0, 0.0]
    bad_gt = gt.copy()
    bad_gt[1, 5, 2] = np.nan  # unscoreable frame: left out
    r = M.evaluate(pred, bad_gt)
    assert r.root_frames == 2 and math.isclose(r.root_error, 1.0)
    bad_pred = pred.copy()
    bad_pred[2, 0, 0] = np.inf  # a failed root prediction: an infinite error, None in the dict
    r = M.evaluate(bad_pred, gt)
    assert r.root_error == math.inf and r.to_dict()["root_error"] is None
    bad_pred = pred.copy()
    bad_pred[2, 5, 0] = np.nan  # a failed other joint leaves the root error finite
    assert math.isclose(M.evaluate(bad_pred, gt).root_error, 1.0)
    empty = M.PoseAccumulator().compute()
    assert math.isnan(empty.root_error) and empty.root_frames == 0


def test_accumulator_root_error_equals_evaluate() -> None:
    rng = np.random.default_rng(2)
    gt = rng.standard_normal((50, 17, 3))
    pred = gt + 0.2 * rng.standard_normal(gt.shape)
    vis = rng.random((50, 17)) < 0.8
    acc = M.PoseAccumulator()
    for lo, hi in [(0, 7), (7, 7), (7, 50)]:
        acc.update(pred[lo:hi], gt[lo:hi], vis[lo:hi])
    assert acc.compute().to_dict() == M.evaluate(pred, gt, visible=vis).to_dict()


def test_root_placed_baseline_has_no_root_error() -> None:
    rng = np.random.default_rng(4)
    gt = rng.standard_normal((6, 17, 3))
    mean = gt.mean(axis=0)
    placed = M.root_placed(mean, gt)
    np.testing.assert_allclose(placed[:, 0], gt[:, 0])
    np.testing.assert_allclose(placed - placed[:, :1], np.broadcast_to(mean - mean[:1], gt.shape))
    r = M.evaluate(placed, gt)
    assert r.root_error < 1e-12 and math.isclose(r.mpjpe, r.mpjpe_root, rel_tol=1e-12)
    coco = M.root_placed(mean, gt, skeleton="coco17")
    np.testing.assert_allclose(coco[:, [11, 12]].mean(axis=1), gt[:, [11, 12]].mean(axis=1))
    gt[2, 0] = np.nan
    assert np.isfinite(M.root_placed(mean, gt)).all()
    with pytest.raises(ShapeError):
        M.root_placed(mean[:5], gt)
    with pytest.raises(ShapeError, match="groups"):
        M.evaluate_by(gt, gt, np.zeros(5, int))


def test_root_placed_moves_each_frame_onto_its_root_and_keeps_its_shape() -> None:
    """A pose per frame (``bench_domains``' oracle row and placement curve) moves onto each true root."""
    from csipose.skeletons import get_skeleton

    rng = np.random.default_rng(0)
    pred, gt = rng.normal(size=(2, 6, 17, 3))
    gt[3] = np.nan  # a frame without a true root stays where it is
    moved = M.root_placed(pred, gt, skeleton="h36m17")
    joints = list(M.root_joints(get_skeleton("h36m17")))
    rows = [0, 1, 2, 4, 5]
    np.testing.assert_allclose(moved[rows][:, joints].mean(axis=1), gt[rows][:, joints].mean(axis=1), atol=1e-12)
    np.testing.assert_allclose(moved - moved[:, :1], pred - pred[:, :1], atol=1e-12)  # the shape is kept
    np.testing.assert_array_equal(moved[3], pred[3])
    mean = pred[0]  # one pose for every frame gives what a pose per frame does
    np.testing.assert_allclose(M.root_placed(np.broadcast_to(mean, gt.shape), gt), M.root_placed(mean, gt), atol=1e-12)
    with pytest.raises(ShapeError, match=r"expected \[J, D\] or \[N, J, D\]"):
        M.root_placed(pred[:5], gt)  # a pose per frame, but not as many frames


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from csipose.config import TrainingConfig
    from csipose.train.loop import train

    run_dir = tmp_path_factory.mktemp("by") / "run"
    synthetic = {"subjects": 8, "subjects_per_environment": 4, "val_subjects": [4, 8], "frames": 6}
    train(TrainingConfig(epochs=1, width=16, synthetic=synthetic, run_dir=str(run_dir), plots=False, progress=False))
    return run_dir


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "csipose", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env=env)  # fmt: skip


def test_cli_eval_by_environment(run: Path, tmp_path: Path) -> None:
    done = _cli("eval", "--checkpoint", str(run / "best.pt"), "--by", "environment", "--device", "cpu", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "root error" in out and "by environment" in out and "baseline" in out
    rows = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.split() and ln.split()[0] in ("1", "2", "all")}
    assert set(rows) == {"1", "2", "all"}
    assert int(rows["1"][1]) + int(rows["2"][1]) == int(rows["all"][1]) > 0
    done = _cli("eval", "--checkpoint", str(run / "best.pt"), "--by", "environment", "--device", "cpu", "--json",
                cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    d = json.loads(done.stdout)
    groups = d["by"]["environment"]
    assert list(groups) == ["1", "2"]
    assert sum(g["frames"] for g in groups.values()) == d["frames"]
    joints = [g["scored_joints"] for g in groups.values()]
    mean = sum(g["mpjpe"] * n for g, n in zip(groups.values(), joints)) / sum(joints)
    assert math.isclose(mean, d["mpjpe"], rel_tol=1e-9)
    base = d["baseline"]
    assert base["mean_pose"] == "the checkpoint's" and base["report"]["root_error"] < 1e-6
    assert list(base["by"]["environment"]) == ["1", "2"]
    assert math.isclose(base["report"]["mpjpe"], base["report"]["mpjpe_root"], rel_tol=1e-6)


def test_cli_eval_by_a_bad_key_is_one_line(run: Path, tmp_path: Path) -> None:
    done = _cli("eval", "--checkpoint", str(run / "best.pt"), "--by", "room", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    errors = [ln for ln in done.stderr.splitlines() if "error:" in ln]
    assert len(errors) == 1 and "--by" in errors[0] and "environment" in errors[0]
    assert done.stderr.splitlines()[-1] == errors[0]
