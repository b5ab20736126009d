"""The DensePose head trained on the synthetic body-surface labels: its inference rule, the mean
IUV baseline, the run's report and plots, and the config checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from csipose.config import TrainingConfig  # noqa: E402
from csipose.errors import ConfigError  # noqa: E402
from csipose.models.densepose_head import DensePoseHead, iuv_from_outputs  # noqa: E402
from csipose.train.baselines import mean_iuv  # noqa: E402


def test_a_pixel_is_body_when_the_parts_together_outweigh_the_background() -> None:
    # background 0.4 beats every single part (0.3, 0.2, 0.1) but not the three together: body, part 1
    logits = torch.log(torch.tensor([0.4, 0.3, 0.2, 0.1]))[None, :, None, None].expand(1, 4, 1, 2).clone()
    logits[0, :, 0, 1] = torch.log(torch.tensor([0.6, 0.1, 0.1, 0.2]))  # background wins outright
    uv = torch.tensor([0.25, 0.75, 0.5, 0.5, 0.9, 0.1])[None, :, None, None].expand(1, 6, 1, 2)
    iuv, score = iuv_from_outputs(logits, uv)
    assert iuv[0, :, 0, 0].tolist() == pytest.approx([1.0, 0.25, 0.75])
    assert iuv[0, :, 0, 1].tolist() == [0.0, 0.0, 0.0]
    assert score.tolist() == pytest.approx([0.6])  # mean body probability over the one body pixel
    nothing = iuv_from_outputs(logits[:, :, :, 1:], uv[:, :, :, 1:])[1]
    assert nothing.tolist() == [0.0]


def test_the_head_draws_maps_of_its_size_from_features_and_joints() -> None:
    head = DensePoseHead(features=8, joints=17 * 3, parts=24, size=24)
    with torch.no_grad():
        logits, uv = head(torch.randn(2, 8), torch.randn(2, 17, 3))
    assert logits.shape == (2, 25, 24, 24) and uv.shape == (2, 48, 24, 24)
    assert float(uv.min()) >= 0 and float(uv.max()) <= 1
    with pytest.raises(ConfigError, match="densepose_size: must be a positive multiple of 8, got 20"):
        DensePoseHead(features=8, joints=51, parts=24, size=20)


def test_mean_iuv_is_the_most_frequent_part_and_its_mean_uv_per_pixel() -> None:
    labels = np.zeros((3, 3, 1, 2), np.float32)
    labels[:, 0, 0, 0] = [2, 2, 0]  # part 2 twice, background once
    labels[:, 1, 0, 0] = [0.2, 0.4, 0.9]
    labels[:, 2, 0, 0] = [0.1, 0.3, 0.9]
    labels[:, 0, 0, 1] = [0, 5, 0]  # background twice
    labels[:, 1, 0, 1] = [0.0, 0.7, 0.0]
    got = mean_iuv(labels)
    assert got[:, 0, 0].tolist() == pytest.approx([2.0, 0.3, 0.2])
    assert got[:, 0, 1].tolist() == [0.0, 0.0, 0.0]


def test_config_checks_the_densepose_settings() -> None:
    with pytest.raises(ConfigError, match="densepose_size: must be a positive multiple of 8, got 50"):
        TrainingConfig(densepose=True, densepose_size=50).validate()
    with pytest.raises(ConfigError, match="densepose_parts: the body surface has DensePose's 24 parts, got 4"):
        TrainingConfig(densepose=True, densepose_parts=4).validate()
    weights = TrainingConfig(densepose=True).validate().effective_loss_weights()
    assert weights["densepose_parts"] == 1.0 and weights["densepose_uv"] == 1.0
    assert "densepose_parts" not in TrainingConfig().validate().effective_loss_weights()


def test_mmfi_has_no_densepose_labels_and_says_so(tmp_path: Path) -> None:
    from csipose.train.data import check_head_targets

    class Unlabelled:
        def __getitem__(self, i: int) -> dict:
            return {"csi": np.zeros((1, 6, 114, 10), np.float32), "keypoints": np.zeros((17, 3), np.float32)}

    config = TrainingConfig(densepose=True, data="mmfi", mmfi_cache=str(tmp_path)).validate()
    with pytest.raises(ConfigError, match=r"^densepose: true needs DensePose labels \('densepose'\) in the samples, "
                                          r"but the mmfi training data has none"):
        check_head_targets(config, Unlabelled())


def test_a_densepose_run_reports_its_surface_beside_the_mean_iuv_and_beats_it(tmp_path: Path) -> None:
    from csipose.train.loop import train

    synthetic = {"subjects": 8, "subjects_per_environment": 8, "val_subjects": [4, 8], "frames": 12}
    config = TrainingConfig(densepose=True, densepose_size=24, epochs=8, width=32, synthetic=synthetic, seed=1,
                            run_dir=str(tmp_path / "run"), progress=False, overlays=2)  # fmt: skip
    summary = train(config)
    model, mean = summary["model"]["densepose"], summary["mean_pose_baseline"]["densepose"]
    for report in (model, mean):
        assert set(report) >= {"dp_ap", "dp_ap50", "dp_ap75", "gpsm", "part_miou", "mask_iou", "definition"}
    assert model["gpsm"] > mean["gpsm"] and model["mask_iou"] > mean["mask_iou"]
    assert model["dp_ap50"] > mean["dp_ap50"]
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert set(record["val"]["densepose"]) == {"dp_ap", "gpsm", "part_miou", "mask_iou"}
    assert (tmp_path / "run" / "densepose.png").stat().st_size > 0


def test_the_densepose_head_leaves_the_pose_model_exactly_as_it_is_without_it(tmp_path: Path) -> None:
    from csipose.train import checkpoint as ckpt
    from csipose.train.loop import train

    synthetic = {"subjects": 4, "subjects_per_environment": 4, "val_subjects": [4], "frames": 6}
    states = []
    for densepose in (False, True):
        run = tmp_path / str(densepose)
        train(TrainingConfig(densepose=densepose, densepose_size=16, epochs=2, width=16, synthetic=synthetic,
                             run_dir=str(run), progress=False, plots=False, threads=1))  # fmt: skip
        states.append(ckpt.load_checkpoint(run / "last.pt")["model"])
    plain, with_head = states
    assert any(k.startswith("densepose_head.") for k in with_head)
    assert set(plain) == {k for k in with_head if not k.startswith("densepose_head.")}
    for key, value in plain.items():
        assert torch.equal(value, with_head[key]), key


def test_eval_and_the_predictor_score_the_densepose_head(tmp_path: Path) -> None:
    import subprocess
    import sys

    from csipose.infer import Predictor
    from csipose.train.loop import train

    synthetic = {"subjects": 4, "subjects_per_environment": 4, "val_subjects": [4], "frames": 6}
    summary = train(TrainingConfig(densepose=True, densepose_size=16, epochs=1, width=16, synthetic=synthetic,
                                   run_dir=str(tmp_path / "run"), progress=False, plots=False))  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "csipose", "eval", "--checkpoint", str(tmp_path / "run" / "best.pt"),
                           "--json"], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    by_eval = json.loads(done.stdout)["densepose"]
    for key in ("dp_ap", "gpsm", "part_miou", "mask_iou"):
        assert by_eval[key] == pytest.approx(summary["model"]["densepose"][key], abs=1e-6), key
    predictor = Predictor.load(tmp_path / "run" / "best.pt")
    windows = np.random.default_rng(0).normal(size=(2, *predictor.preprocess.input_shape)).astype(np.float32)
    iuv, score = predictor.predict_densepose_windows(windows)
    assert iuv.shape == (2, 3, 16, 16) and score.shape == (2,)
    keypoints, iuv_once, score_once = predictor.predict_pose_and_densepose_windows(windows)  # one pass, the same
    assert np.array_equal(keypoints, predictor.predict_windows(windows))
    assert np.array_equal(iuv_once, iuv) and np.array_equal(score_once, score)
    from csipose.train.state import load_model

    model, _ = load_model(tmp_path / "run" / "best.pt")
    with torch.no_grad():
        out = model(torch.from_numpy(windows))
        direct = iuv_from_outputs(out["dp_parts"], out["dp_uv"])
    # and the same as the model's own outputs through the inference rule
    assert np.allclose(iuv_once, direct[0].numpy(), atol=1e-6) and np.allclose(score_once, direct[1].numpy(), atol=1e-6)
    from csipose.errors import ArgumentError

    plain = TrainingConfig(epochs=1, width=16, synthetic=synthetic, run_dir=str(tmp_path / "plain"), progress=False,
                           plots=False)  # fmt: skip
    train(plain)
    with pytest.raises(ArgumentError, match="no DensePose head here"):
        Predictor.load(tmp_path / "plain" / "best.pt").predict_densepose_windows(np.zeros((1, 1, 6, 114, 10)))
