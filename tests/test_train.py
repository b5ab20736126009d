"""The training loop on a tiny in-test dataset: smoke run, exact resume, early stopping, data order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from csipose import TrainingConfig
from csipose.train import checkpoint as ckpt
from csipose.data.collate import EpochSampler
from csipose.train.loop import _train
from csipose.train.schedule import LrSchedule
from tests.samples import ArraySamples


class PoseCsi(ArraySamples):
    """Contract-shaped samples whose CSI is smooth across subcarriers and linear in the pose (learnable).

    Each antenna channel and packet is a sum of 6 low-frequency cosines over the subcarriers
    whose amplitudes are a fixed random linear function of the joints' offsets from a base pose.
    """

    def __init__(self, n: int, seed: int, channels: int = 3, subcarriers: int = 56) -> None:
        rng = np.random.default_rng(seed)
        base = np.random.default_rng(7).normal(size=(17, 3)) * 0.3 + np.array([0.0, 0.0, 3.0])
        kp = (base + rng.normal(size=(n, 17, 3)) * 0.1).astype(np.float32)
        mix = np.random.default_rng(11).normal(size=(51, channels, 10, 6))
        coef = np.einsum("nf,fcpk->ncpk", kp.reshape(n, 51) - base.reshape(1, 51), mix)
        waves = np.cos(np.pi * np.outer(np.arange(6), np.arange(subcarriers)) / subcarriers)  # [6, S]
        csi = np.einsum("ncpk,ks->ncsp", coef, waves)[:, None]  # [n, 1, C, S, P]
        super().__init__(csi.astype(np.float32), kp)


DATA = (PoseCsi(48, 0), PoseCsi(16, 1))


def tiny(run_dir: Path, **changes: Any) -> TrainingConfig:
    values: dict[str, Any] = dict(
        run_dir=str(run_dir), width=16, depth=1, heads=2, tokens=4, batch_size=8, epochs=3,
        warmup_epochs=1, plots=False, progress=False, top_k=1, seed=3, dropout=0.1, features="amplitude",
    )  # fmt: skip
    values.update(changes)
    return TrainingConfig(**values).validate()


def final_hash(run_dir: Path) -> str:
    return ckpt.weights_sha256(ckpt.load_checkpoint(run_dir / "last.pt")["model"])


def test_smoke_run_writes_every_artefact(tmp_path: Path) -> None:
    cfg = tiny(tmp_path / "run", epochs=1, warmup_epochs=0, plots=True, overlays=2)
    summary = _train(cfg, datasets=(PoseCsi(16, 0), PoseCsi(8, 1)))
    run = tmp_path / "run"
    names = {p.name for p in run.iterdir()}
    assert {"config.toml", "metrics.jsonl", "summary.json", "last.pt", "best.pt", "epoch0001.pt"} <= names
    assert {"loss.png", "pck.png", "pck_threshold.png", "overlays.png"} <= names
    assert TrainingConfig.load(run / "config.toml") == cfg
    on_disk = json.loads((run / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    assert summary["steps"] == 2 and summary["epochs_run"] == 1 and summary["best_epoch"] == 1
    assert summary["params"] > 0 and summary["train_seconds"] > 0
    for report in (summary["model"], summary["mean_pose_baseline"]):
        assert report["frames"] == 8
        assert all(0.0 <= v <= 1.0 for v in report["pck"].values())
    records = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1]
    assert {"train_loss", "lr", "val", "seconds"} <= set(records[0])
    # the checkpoint is weights-only loadable and carries the full state
    state = torch.load(run / "last.pt", weights_only=True)
    assert {"model", "optimizer", "scheduler", "scaler", "rng", "config", "versions", "run"} <= set(state)
    assert state["step"] == 2 and state["config"] == cfg.to_dict()


@pytest.mark.parametrize(("stop_after", "every", "workers"), [(7, 0, 0), (9, 2, 0), (9, 2, 2)],
                         ids=["epoch-checkpoints", "step-checkpoints", "step-checkpoints-2-workers"])
def test_killed_run_resumes_to_identical_weights(tmp_path: Path, stop_after: int, every: int, workers: int) -> None:
    whole = tmp_path / "whole"
    _train(tiny(whole, checkpoint_every_steps=every, workers=workers), datasets=DATA)
    cut = tmp_path / "cut"
    _train(tiny(cut, checkpoint_every_steps=every, workers=workers), datasets=DATA, stop_after_steps=stop_after)
    partial = ckpt.load_checkpoint(cut / "last.pt")
    assert 0 < partial["step"] < stop_after  # the kill lost the steps after the last checkpoint
    summary = _train(TrainingConfig(), resume=cut, datasets=DATA)
    assert final_hash(cut) == final_hash(whole)
    assert summary["steps"] == 18
    lines = (cut / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(ln)["epoch"] for ln in lines] == [1, 2, 3]  # nothing repeated or lost
    a = [json.loads(ln)["train_loss"] for ln in (whole / "metrics.jsonl").read_text().splitlines()]
    b = [json.loads(ln)["train_loss"] for ln in lines]
    assert a == b


def test_resuming_a_finished_run_changes_nothing(tmp_path: Path) -> None:
    run = tmp_path / "run"
    first = _train(tiny(run, epochs=1, warmup_epochs=0), datasets=DATA)
    before = final_hash(run)
    again = _train(TrainingConfig(), resume=run, datasets=DATA)
    assert final_hash(run) == before and again["steps"] == first["steps"]


def test_early_stopping_stops_after_patience_validations(tmp_path: Path) -> None:
    # min_delta > 1 makes every validation after the first a non-improvement
    summary = _train(tiny(tmp_path / "run", epochs=6, patience=2, min_delta=1.5), datasets=DATA)
    assert summary["stopped_early"] is True
    assert summary["epochs_run"] == 3 and summary["best_epoch"] >= 1


def test_same_seed_same_weights_other_seed_differs(tmp_path: Path) -> None:
    _train(tiny(tmp_path / "a", epochs=1, warmup_epochs=0), datasets=DATA)
    _train(tiny(tmp_path / "b", epochs=1, warmup_epochs=0), datasets=DATA)
    _train(tiny(tmp_path / "c", epochs=1, warmup_epochs=0, seed=4), datasets=DATA)
    assert final_hash(tmp_path / "a") == final_hash(tmp_path / "b") != final_hash(tmp_path / "c")


def test_schedule_warmup_cosine_and_multistep() -> None:
    cos = LrSchedule(steps_per_epoch=2, epochs=4, warmup_epochs=1, kind="cosine")
    assert [cos(s) for s in range(2)] == [0.5, 1.0]
    # after warm-up: 6 steps of cosine from 1 to 0
    assert cos(2) == pytest.approx(1.0)
    assert cos(5) == pytest.approx(0.5 * (1 + np.cos(np.pi * 3 / 6)))
    assert cos(8) == pytest.approx(0.0)
    step = LrSchedule(steps_per_epoch=3, epochs=5, warmup_epochs=0, kind="multistep", milestones=[2, 4], gamma=0.5)
    assert [step(s) for s in (0, 5, 6, 11, 12, 14)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_epoch_sampler_order_shards_and_resume_offset() -> None:
    a = list(EpochSampler(10, seed=1, epoch=0))
    assert sorted(a) == list(range(10))
    assert a == list(EpochSampler(10, seed=1, epoch=0)) != list(EpochSampler(10, seed=1, epoch=1))
    shards = [list(EpochSampler(10, seed=1, epoch=0, rank=r, world_size=3)) for r in range(3)]
    assert [len(s) for s in shards] == [4, 4, 4]  # padded to a multiple of the world size
    assert set().union(*shards) == set(range(10))
    assert list(EpochSampler(10, seed=1, epoch=0, start=4)) == a[4:]
    val = [list(EpochSampler(10, shuffle=False, rank=r, world_size=3, even=False)) for r in range(3)]
    assert sorted(sum(val, [])) == list(range(10))  # evaluation: each item exactly once


def test_linear_baseline_equals_a_least_squares_reference(tmp_path: Path) -> None:
    """summary.json's linear baseline is ridge on the normalised window, checked with numpy's lstsq."""
    from csipose.metrics import evaluate
    from tests.test_ridge import reference_ridge

    train_set, val_set = PoseCsi(48, 0, channels=6), PoseCsi(16, 1, channels=6)
    summary = _train(tiny(tmp_path / "run", epochs=1, warmup_epochs=0, features="both"), datasets=(train_set, val_set))
    linear = summary["linear_baseline"]
    fit = linear["fit"]
    assert linear["frames"] == 16 and fit["samples"] == 48
    frames = train_set.csi.reshape(-1, 6, 56, 10).astype(np.float64)
    mean, std = frames.mean(axis=0), frames.std(axis=0)
    x = ((train_set.csi - mean) / std).reshape(48, -1)
    xv = ((val_set.csi - mean) / std).reshape(16, -1)
    weights = np.repeat(np.sqrt(fit["group_weights"]), 3 * 56 * 10)  # amplitude channels, then phase
    xw, xvw = x * weights, xv * weights
    keep = weights > 0
    lam = fit["alpha"] * float(np.sum((xw - xw.mean(axis=0)) ** 2)) / 48
    y = train_set.kp.reshape(48, -1).astype(np.float64)
    w, b = reference_ridge(xw[:, keep], y, lam)
    pred = (xvw[:, keep] @ w + b).reshape(16, 17, 3)
    expected = evaluate(pred, val_set.kp.astype(np.float64), skeleton="h36m17").to_dict()
    assert linear["pck"] == pytest.approx(expected["pck"], abs=1e-12)
    assert linear["mpjpe"] == pytest.approx(expected["mpjpe"], rel=1e-5)
    assert summary["pck20_gain_over_linear"] == pytest.approx(summary["model"]["pck"]["20"] - linear["pck"]["20"])


def test_the_last_line_says_when_the_model_does_not_beat_a_baseline() -> None:
    from csipose.train.cli import summary_line

    def report(pck: float, mpjpe: float) -> dict[str, Any]:
        return {"pck": {"20": pck}, "mpjpe": mpjpe}

    summary = {"model": report(0.7, 0.1), "mean_pose_baseline": report(0.4, 0.18), "linear_baseline": report(0.6, 0.12),
               "best_epoch": 3, "params": 1000, "train_seconds": 5.0}
    line = summary_line(summary)
    assert "70.0%" in line and "mean pose 40.1%" not in line and "linear 60.0% / 120 mm" in line
    assert "NOT" not in line
    summary["model"] = report(0.5, 0.15)
    assert summary_line(summary).endswith("the model does NOT beat the linear baseline")


def test_a_head_without_targets_in_the_data_is_refused_before_training(tmp_path: Path) -> None:
    from csipose.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^densepose: true needs DensePose labels \('densepose'\) in the samples, but the synthetic"):
        _train(tiny(tmp_path / "run", densepose=True), datasets=DATA)
    assert not (tmp_path / "run").exists()  # refused before the run folder was made


def test_untrained_heads_are_the_enabled_heads_without_loss_weight(tmp_path: Path) -> None:
    from csipose.train.step import untrained_heads

    assert untrained_heads(tiny(tmp_path)) == []
    assert untrained_heads(tiny(tmp_path, heatmap=True)) == ["heatmap"]
    assert untrained_heads(tiny(tmp_path, heatmap=True, loss_weights={"keypoints": 1.0, "heatmap": 0.1})) == []
    both = tiny(tmp_path, densepose=True, loss_weights={"keypoints": 1.0, "densepose_parts": 0.1, "densepose_uv": 0.0})
    assert untrained_heads(both) == ["densepose_uv"]
    assert untrained_heads(tiny(tmp_path, densepose=True)) == []  # both DensePose terms weigh 1.0 unless set


def test_a_non_finite_loss_is_a_training_error_naming_step_epoch_and_last_loss(tmp_path: Path) -> None:
    from csipose.errors import TrainingError

    with pytest.raises(TrainingError) as info:
        _train(tiny(tmp_path / "run", lr=1e30, grad_clip=0.0, warmup_epochs=0), datasets=DATA)
    message = str(info.value)
    step = int(message.split()[1])
    assert step >= 2 and message.startswith(f"step {step} (epoch {(step - 1) // 6 + 1}): the training loss became")
    assert "the last finite loss was " in message and f"at step {step - 1}" in message and "lr (now 1e+30)" in message


def test_a_non_finite_first_loss_says_none_came_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from csipose.errors import TrainingError
    from csipose.train import step

    monkeypatch.setattr(step, "keypoint_loss", lambda *a, **k: torch.tensor(float("nan"), requires_grad=True))
    with pytest.raises(TrainingError, match=r"^step 1 \(epoch 1\): the training loss became nan; no finite loss"):
        _train(tiny(tmp_path / "run"), datasets=DATA)


def test_a_new_run_refuses_a_folder_holding_a_run_and_overwrite_clears_it(tmp_path: Path) -> None:
    from csipose.errors import ConfigError

    run = tmp_path / "run"
    _train(tiny(run, epochs=2, top_k=2, warmup_epochs=0), datasets=DATA)
    assert (run / "epoch0002.pt").exists()
    before = (run / "last.pt").read_bytes()
    with pytest.raises(ConfigError, match=r"run_dir: '.*run' already holds a run \(best.pt, config.toml, epoch0001.pt, \.\.\.\); choose a new run_dir"):
        _train(tiny(run, epochs=1, top_k=2, warmup_epochs=0), datasets=DATA)
    assert (run / "last.pt").read_bytes() == before  # untouched
    (run / "notes.txt").write_text("mine")
    _train(tiny(run, epochs=1, top_k=1, warmup_epochs=0), datasets=DATA, overwrite=True)
    names = sorted(p.name for p in run.iterdir())
    assert names == ["best.pt", "config.toml", "epoch0001.pt", "last.pt", "metrics.jsonl", "notes.txt", "summary.json"]
    assert ckpt.load_checkpoint(run / "last.pt")["epoch"] == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    _train(tiny(empty, epochs=1, warmup_epochs=0), datasets=DATA)  # an empty folder is no run


def test_resume_takes_a_run_folder_not_a_file(tmp_path: Path) -> None:
    from csipose.errors import ArgumentError

    run = tmp_path / "run"
    _train(tiny(run, epochs=1, warmup_epochs=0), datasets=DATA)
    with pytest.raises(ArgumentError, match=r"resume: expected a run folder .* got the file .*best.pt; pass .*run$"):
        _train(TrainingConfig(), resume=run / "best.pt", datasets=DATA)


def test_a_moved_run_folder_resumes_in_place(tmp_path: Path) -> None:
    _train(tiny(tmp_path / "old", epochs=2, warmup_epochs=0), datasets=DATA, stop_after_steps=7)
    (tmp_path / "old").rename(tmp_path / "new")
    summary = _train(TrainingConfig(), resume=tmp_path / "new", datasets=DATA)
    assert summary["epochs_run"] == 2 and not (tmp_path / "old").exists()
    assert TrainingConfig.load(tmp_path / "new" / "config.toml").run_dir == str(tmp_path / "new")


def test_synthetic_data_takes_the_runs_subcarrier_mode(tmp_path: Path) -> None:
    from csipose.train.data import load_split

    cfg = tiny(tmp_path, subcarriers=56, subcarrier_mode="area",
               synthetic={"subjects": 3, "val_subjects": [3], "frames": 2})
    assert load_split(cfg, "val").config.subcarrier_mode == "area"
