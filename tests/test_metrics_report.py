"""evaluate / PoseReport / PoseAccumulator: the contract the training code relies on."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import csipose.metrics as M
from csipose.errors import ArgumentError, ShapeError


def batch(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gt = rng.standard_normal((n, 17, 3)).astype(np.float32)
    pred = (gt + 0.2 * rng.standard_normal(gt.shape)).astype(np.float32)
    vis = rng.random((n, 17)) < 0.9
    return pred, gt, vis


def test_to_dict_follows_the_contract() -> None:
    pred, gt, vis = batch()
    d = M.evaluate(pred, gt, visible=vis).to_dict()
    json.dumps(d, allow_nan=False)
    for key, kind in [
        ("definition", str), ("skeleton", str), ("frames", int), ("unscoreable_frames", int),
        ("pck", dict), ("pck_per_joint", dict), ("auc", float), ("mpjpe", float),
        ("mpjpe_root", float), ("pa_mpjpe", float),
    ]:  # fmt: skip
        assert isinstance(d[key], kind), key
    assert d["skeleton"] == "h36m17" and d["frames"] == 40
    assert list(d["pck"]) == ["10", "20", "30", "40", "50"]
    assert all(0.0 <= v <= 1.0 for v in d["pck"].values())
    assert len(d["pck_per_joint"]["20"]) == 17
    assert d["pck"]["20"] == M.pck(pred, gt, visible=vis, thresholds=(20,)).pck[0]
    assert d["mpjpe"] == M.mpjpe(pred, gt, visible=vis)
    assert d["pa_mpjpe"] == M.mpjpe(pred, gt, visible=vis, align="procrustes")
    assert d["mpjpe_root"] == M.mpjpe(pred, gt, visible=vis, align="root", root=0)
    assert d["auc"] == M.auc(M.pck_curve(pred, gt, visible=vis))
    assert d["pa_mpjpe"] < d["mpjpe"]


def test_accumulator_equals_one_shot_evaluate() -> None:
    pred, gt, vis = batch(101)
    whole = M.evaluate(pred, gt, visible=vis, thresholds=(5, 20, 50))
    acc = M.PoseAccumulator(skeleton="h36m17", thresholds=(5, 20, 50))
    for lo, hi in [(0, 1), (1, 37), (37, 37), (37, 101)]:
        acc.update(pred[lo:hi], gt[lo:hi], visible=vis[lo:hi])
    assert acc.compute().to_dict() == whole.to_dict()
    acc.reset()
    assert acc.compute().frames == 0
    acc.update(pred, gt, vis)
    assert acc.compute().to_dict() == whole.to_dict()


def test_accumulator_takes_torch_tensors() -> None:
    torch = pytest.importorskip("torch")
    pred, gt, vis = batch(8)
    acc = M.PoseAccumulator()
    acc.update(torch.from_numpy(pred).requires_grad_(), torch.from_numpy(gt), torch.from_numpy(vis))
    assert acc.compute().to_dict() == M.evaluate(pred, gt, visible=vis).to_dict()


def test_empty_report_is_json_safe_and_never_perfect() -> None:
    d = M.PoseAccumulator().compute().to_dict()
    json.dumps(d, allow_nan=False)
    assert d["frames"] == 0 and d["pck"]["20"] is None and d["mpjpe"] is None


def test_summary_is_readable() -> None:
    pred, gt, vis = batch()
    r = M.evaluate(pred, gt, visible=vis, skeleton="h36m17")
    text = r.summary()
    assert "PCK (torso)" in text and "PA-MPJPE" in text and "%" in text
    assert f"{100 * r.pck.at(20):.1f}%" in text
    assert len(text.splitlines()) >= 5


def test_coco_2d_report() -> None:
    rng = np.random.default_rng(4)
    gt = rng.uniform(0, 100, (10, 17, 2))
    r = M.evaluate(gt + rng.normal(0, 2, gt.shape), gt, skeleton="coco17")
    assert r.skeleton == "coco17" and r.to_dict()["pck"]["50"] > 0.5
    assert not math.isnan(r.mpjpe_root)


def test_evaluate_bad_input() -> None:
    pred, gt, vis = batch(4)
    with pytest.raises(ShapeError, match="17 joints"):
        M.evaluate(pred[:, :16], gt[:, :16])
    with pytest.raises(ArgumentError, match="thresholds"):
        M.evaluate(pred, gt, thresholds=(-1,))
    with pytest.raises(ShapeError, match="visible"):
        M.PoseAccumulator().update(pred, gt, vis[:, :3])


def test_import_does_not_pull_in_torch() -> None:
    import subprocess
    import sys

    code = "import sys, csipose, csipose.metrics; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
