"""Low-rank adapters and ``csipose adapt``: few-shot fitting to a room the model has not seen."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from csipose.domain.adapt_cli import choose_shots, sample_ids, unseen  # noqa: E402
from csipose.domain.adapters import (  # noqa: E402
    ENSEMBLE_FORMAT,
    AdapterEnsemble,
    adapter_layers,
    attach_adapters,
    base_sha256,
    fit_adapters,
    load_adapters,
    save_adapters,
)
from csipose.errors import ArgumentError, CheckpointError, TrainingError  # noqa: E402
from tests.test_cli_errors import csipose, one_line_error  # noqa: E402

# two rooms of two subjects; room 2 is held out, subject 1 of room 1 too
ROOMS = ["synthetic.room_variation=true", "synthetic.subjects=4", "synthetic.environments=2",
         "synthetic.val_environments=[2]", "synthetic.val_subjects=[1]", "synthetic.frames=6",
         "synthetic.actions=[squat, wave]", "width=16", "heads=2", "batch_size=8", "epochs=2", "top_k=2",
         "plots=false", "progress=false", "linear_baseline=false", "features=amplitude", "threads=1",
         "anchor=none"]  # fmt: skip  (the adapters alone; tests/test_domain_anchor.py adapts an anchored model)
ROOM_FRAMES = 2 * 2 * 6  # room 2: subjects 3 and 4, two actions, six frames


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from csipose.config import TrainingConfig
    from csipose.train import train

    folder = tmp_path_factory.mktemp("rooms")
    train(TrainingConfig().with_overrides([*ROOMS, f"run_dir={folder}"]))
    return folder


def room_windows(checkpoint: Path) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """The model, its validation split, room 2's sample indices and their keypoints."""
    from csipose.train.data import load_split
    from csipose.train.state import load_model

    model, config = load_model(checkpoint)
    val = load_split(config, "val")
    room = np.flatnonzero(sample_ids(val)[:, 0] == 2)
    return model, val, room, val.keypoints[val.label_index[room]]


def windows(val: Any, index: np.ndarray) -> np.ndarray:
    return np.stack([val[int(i)]["csi"] for i in index])


def predict(model: Any, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x))["keypoints"].numpy()


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    return float(np.linalg.norm(pred - gt, axis=-1).mean())


def fitted(run: Path, shots: int = 8, steps: int = 60) -> tuple[Any, Any, np.ndarray, np.ndarray, np.ndarray]:
    """A model with adapters fitted on ``shots`` room-2 windows: (model, adapters, x_shots, gt_shots, x_room)."""
    model, val, room, gt = room_windows(run / "last.pt")
    x = windows(val, room)
    adapters = attach_adapters(model, rank=2, seed=1)
    fit_adapters(model, adapters, x[:shots], gt[:shots], steps=steps, lr=1e-2)
    return model, adapters, x[:shots], gt[:shots], x


# ------------------------------------------------------------------------- adapters
def test_a_fresh_adapter_leaves_predictions_bit_identical(run: Path) -> None:
    model, val, room, _ = room_windows(run / "last.pt")
    x = windows(val, room)
    before = predict(model, x)
    adapters = attach_adapters(model, rank=4, seed=3)
    assert adapters.trainable() > 0
    np.testing.assert_array_equal(predict(model, x), before)


def test_targets_skip_attention_projections_and_name_the_layers_that_decide_the_joints(run: Path) -> None:
    model, *_ = room_windows(run / "last.pt")
    linear = adapter_layers(model, "linear")
    assert linear and not any(".attn." in name for name in linear)
    assert adapter_layers(model, "head") == ["backbone.head.1", "backbone.head.4"]
    assert set(adapter_layers(model, "head")) < set(linear)
    assert adapter_layers(model, "readout") == ["readout"]
    assert adapter_layers(model, "input") == ["norm"]
    assert adapter_layers(model, "all") == linear + ["readout", "norm"]
    with pytest.raises(ArgumentError, match="targets"):
        adapter_layers(model, "convs")


@pytest.mark.parametrize(("targets", "shrink"), [("linear", 0.8), ("readout", 0.8), ("input", 0.95)])
def test_each_kind_of_target_starts_at_zero_and_learns(run: Path, targets: str, shrink: float) -> None:
    model, val, room, gt = room_windows(run / "last.pt")
    x = windows(val, room)[:8]
    before = predict(model, x)
    adapters = attach_adapters(model, rank=2, targets=targets, seed=1)
    np.testing.assert_array_equal(predict(model, x), before)
    fit_adapters(model, adapters, x, gt[:8], steps=40, lr=1e-2)
    assert mpjpe(predict(model, x), gt[:8]) < shrink * mpjpe(before, gt[:8])  # input: 2 x 3 numbers only


def test_adapting_changes_only_adapter_weights_and_lowers_the_error_on_the_shots(run: Path) -> None:
    model, val, room, gt = room_windows(run / "last.pt")
    x = windows(val, room)[:8]
    base = {k: v.clone() for k, v in model.state_dict().items()}
    error_before = mpjpe(predict(model, x), gt[:8])
    adapters = attach_adapters(model, rank=2, seed=1)
    losses = fit_adapters(model, adapters, x, gt[:8], steps=60, lr=1e-2)
    after = model.state_dict()
    assert after.keys() == base.keys()
    for name, value in base.items():
        assert torch.equal(after[name], value), name
    assert any(float(p.detach().abs().max()) > 0 for n, p in adapters.named_parameters() if n.endswith(".up"))
    assert losses[-1] < 0.5 * losses[0]
    assert mpjpe(predict(model, x), gt[:8]) < 0.7 * error_before


def test_the_last_loss_is_that_of_the_fitted_adapter(run: Path, tmp_path: Path) -> None:
    from csipose.losses import keypoint_loss

    model, val, room, gt = room_windows(run / "last.pt")
    x = windows(val, room)[:8]
    adapters = attach_adapters(model, rank=2, seed=1)
    losses = fit_adapters(model, adapters, x, gt[:8], steps=1, lr=1e-2)
    assert len(losses) == 2 and losses[1] != losses[0]  # one step's loss before its update, then the adapter's
    save_adapters(tmp_path / "adapter.pt", adapters)
    fresh, *_ = room_windows(run / "last.pt")
    load_adapters(tmp_path / "adapter.pt", fresh)
    pred = torch.from_numpy(predict(fresh, x))
    again = float(keypoint_loss(pred, torch.from_numpy(gt[:8, :, : pred.shape[-1]]).float(), kind="smooth_l1"))
    assert losses[1] == pytest.approx(again, rel=1e-6, abs=1e-9)


def test_the_default_fit_counts_passes_over_the_frames_and_ranks_by_their_number(run: Path) -> None:
    from csipose.domain import ADAPTER_BATCH, ADAPTER_EPOCHS, ADAPTER_FEW_SHOTS, adapter_fits, adapter_rank, adapter_steps

    assert (ADAPTER_EPOCHS, ADAPTER_BATCH) == (150, 32)
    assert [adapter_steps(k) for k in (1, 10, 32, 50, 200)] == [150, 150, 150, 235, 938]  # ceil(150 K / min(32, K))
    assert adapter_steps(6, epochs=2, batch_size=4) == 3
    assert adapter_rank(ADAPTER_FEW_SHOTS - 1) == 4 and adapter_rank(ADAPTER_FEW_SHOTS) == 8
    assert [adapter_fits(k) for k in (1, 50, 99, 100, 200)] == [3, 3, 3, 1, 1]
    model, val, room, gt = room_windows(run / "last.pt")
    x = windows(val, room)[:8]
    losses = fit_adapters(model, attach_adapters(model, rank=2, seed=1), x, gt[:8], epochs=3, batch_size=4, lr=1e-2)
    assert len(losses) == 6 + 1  # 3 passes over 8 windows in batches of 4, then the fitted adapters' loss
    with pytest.raises(ArgumentError, match="epochs: expected an integer >= 1, got 0"):
        fit_adapters(model, attach_adapters(model, rank=2, seed=1), x, gt[:8], epochs=0)


def test_the_fit_averages_the_weights_of_its_last_steps(run: Path) -> None:
    """With ``average = 0.5`` of 6 steps the fitted weights are the mean of the weights after steps
    4, 5 and 6: each the last step's weights of a fit of that many steps (the same seed draws the
    same batches); ``average = 0`` is the last step's weights."""
    from csipose.domain.adapters import averaged_steps

    assert [averaged_steps(6, a) for a in (0.0, 0.5, 0.9)] == [1, 3, 6]
    assert [averaged_steps(n, 0.5) for n in (1, 150, 235, 938)] == [1, 75, 118, 469]
    _, val, room, gt = room_windows(run / "last.pt")
    x = windows(val, room)[:8]

    def weights(steps: int, average: float) -> dict[str, Any]:
        model, *_ = room_windows(run / "last.pt")
        adapters = attach_adapters(model, rank=2, seed=1)
        fit_adapters(model, adapters, x, gt[:8], steps=steps, lr=1e-2, batch_size=4, average=average)
        return {name: p.detach().clone() for name, p in adapters.named_parameters()}

    last = {steps: weights(steps, 0.0) for steps in (4, 5, 6)}
    averaged = weights(6, 0.5)
    assert averaged.keys() == last[6].keys()
    for name, value in averaged.items():
        mean = torch.stack([last[steps][name] for steps in (4, 5, 6)]).mean(dim=0)
        torch.testing.assert_close(value, mean, rtol=1e-5, atol=1e-7)
    assert max(float((averaged[n] - last[6][n]).abs().max()) for n in averaged) > 1e-4  # not the last step's


def test_a_fit_whose_loss_is_not_finite_stops_with_one_error(run: Path) -> None:
    model, val, room, gt = room_windows(run / "last.pt")
    x = windows(val, room)[:8]
    for lr in (float("inf"), float("nan"), 0.0, -1e-3):
        with pytest.raises(ArgumentError, match="lr: expected a finite number > 0"):
            fit_adapters(model, attach_adapters(model, rank=2), x, gt[:8], steps=1, lr=lr)
    model, *_ = room_windows(run / "last.pt")
    with pytest.raises(TrainingError, match=r"the adapter loss became (nan|inf).*Lower lr \(now 1e\+12\)"):
        fit_adapters(model, attach_adapters(model, rank=2, seed=1), x, gt[:8], steps=20, lr=1e12)


def test_a_saved_adapter_reloads_to_the_same_predictions_and_is_small(run: Path, tmp_path: Path) -> None:
    from csipose.infer import Predictor

    model, adapters, _, _, x = fitted(run)
    expected = predict(model, x)
    size = save_adapters(tmp_path / "adapter.pt", adapters)
    assert size == (tmp_path / "adapter.pt").stat().st_size
    assert size < (run / "last.pt").stat().st_size / 10
    predictor = Predictor.load(run / "last.pt", adapter=tmp_path / "adapter.pt")
    np.testing.assert_allclose(predictor.predict_windows(x), expected, rtol=0, atol=1e-6)
    plain = Predictor.load(run / "last.pt")
    assert np.abs(plain.predict_windows(x) - expected).max() > 1e-3  # the adapter does change the poses
    again, _ = room_windows(run / "last.pt")[:2]
    load_adapters(tmp_path / "adapter.pt", again)
    np.testing.assert_allclose(predict(again, x), expected, rtol=0, atol=1e-6)


def test_an_adapter_is_refused_on_another_base_and_a_bad_file_is_refused(run: Path, tmp_path: Path) -> None:
    from csipose.infer import Predictor

    _, adapters, *_ = fitted(run, steps=2)
    save_adapters(tmp_path / "adapter.pt", adapters)
    other, *_ = room_windows(run / "last.pt")
    with torch.no_grad():
        next(other.parameters()).view(-1)[0] += 1e-3
    assert base_sha256(other) != adapters.base
    with pytest.raises(CheckpointError, match="adapter for another base model"):
        load_adapters(tmp_path / "adapter.pt", other)
    (tmp_path / "garbage.pt").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="garbage.pt: not a readable adapter file \\(not the zip archive"):
        load_adapters(tmp_path / "garbage.pt", other)
    (tmp_path / "cut.pt").write_bytes((tmp_path / "adapter.pt").read_bytes()[:-30])
    with pytest.raises(CheckpointError, match="cut.pt: not a readable adapter file \\(truncated or damaged"):
        load_adapters(tmp_path / "cut.pt", other)
    with pytest.raises(CheckpointError, match="adapter file not found"):
        load_adapters(tmp_path / "missing.pt", other)
    with pytest.raises(CheckpointError, match="not a csipose adapter file"):
        load_adapters(run / "last.pt", other)
    raw = bytearray((tmp_path / "adapter.pt").read_bytes())
    state = torch.load(tmp_path / "adapter.pt", weights_only=True)
    state["weights"][next(iter(state["weights"]))].view(-1)[0] += 1.0  # a changed weight, old checksum
    torch.save(state, tmp_path / "tampered.pt")
    assert raw  # the original file stays readable
    with pytest.raises(CheckpointError, match="corrupt adapter file"):
        load_adapters(tmp_path / "tampered.pt", other)
    (tmp_path / "model.onnx").write_bytes(b"")
    with pytest.raises(ArgumentError, match="applies to a .pt checkpoint"):
        Predictor.load(tmp_path / "model.onnx", adapter=tmp_path / "adapter.pt")


def test_an_ensemble_averages_its_fits_and_reloads_to_the_same_predictions(run: Path, tmp_path: Path) -> None:
    from csipose.infer import Predictor

    model, val, room, gt = room_windows(run / "last.pt")
    x = windows(val, room)
    members, alone = [], []
    for seed in (1, 2, 3):  # each fitted alone, as csipose adapt --fits does
        for member in members:
            member.active = False
        members.append(attach_adapters(model, rank=2, seed=seed))
        fit_adapters(model, members[-1], x[:8], gt[:8], steps=30, lr=1e-2, seed=seed)
        alone.append(predict(model, x))
    assert np.abs(alone[0] - alone[1]).max() > 1e-3  # the seeds fit different adapters
    ensemble = AdapterEnsemble(members)
    np.testing.assert_array_equal(predict(model, x), alone[0])  # a plain call is the first fit's
    with torch.no_grad():
        mean = ensemble.average(lambda: model(torch.from_numpy(x)))["keypoints"].numpy()
    np.testing.assert_allclose(mean, np.mean(alone, axis=0), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(predict(model, x), alone[0])  # the first fit is active again after
    ensemble.info = {"note": "three"}
    save_adapters(tmp_path / "three.pt", ensemble)
    state = torch.load(tmp_path / "three.pt", weights_only=True)
    assert state["format"] == ENSEMBLE_FORMAT and len(state["members"]) == 3 and "weights" not in state
    predictor = Predictor.load(run / "last.pt", adapter=tmp_path / "three.pt")
    assert isinstance(predictor.adapter, AdapterEnsemble) and predictor.adapter.info == {"note": "three"}
    np.testing.assert_allclose(predictor.predict_windows(x), mean, rtol=0, atol=1e-6)
    ensemble.remove()
    assert not model.adapted
    save_adapters(tmp_path / "one.pt", members[0])  # one fit keeps the first format
    assert torch.load(tmp_path / "one.pt", weights_only=True)["format"] == 1
    with pytest.raises(ArgumentError, match="members: an ensemble averages two or more adapters, got 1"):
        AdapterEnsemble(members[:1])
    other, *_ = room_windows(run / "last.pt")
    with pytest.raises(ArgumentError, match=r"adapter: expected adapters attached to this predictor's \.pt model"):
        predictor.adapter = attach_adapters(other, rank=2)  # another model's
    with pytest.raises(ArgumentError, match="members: expected adapters of one model"):
        AdapterEnsemble([attach_adapters(model, rank=2), attach_adapters(other, rank=2)])
    from csipose.train import checkpoint as ckpt

    for bad in ([], [state["members"][0]], [state["members"][0], torch.zeros(3)]):  # two or more fits, each by layer
        ckpt.save_checkpoint(tmp_path / "bad.pt", {k: v for k, v in {**state, "members": bad}.items() if k != "checksum"})
        with pytest.raises(CheckpointError, match=r"bad\.pt: adapter format 2 without its weights \(members: a list"):
            load_adapters(tmp_path / "bad.pt", other)


def test_bad_adapter_settings_are_refused(run: Path) -> None:
    model, *_ = room_windows(run / "last.pt")
    with pytest.raises(ArgumentError, match="rank"):
        attach_adapters(model, rank=0)
    with pytest.raises(ArgumentError, match="alpha"):
        attach_adapters(model, alpha=-1.0)
    with pytest.raises(ArgumentError, match="targets"):
        attach_adapters(model, targets=["backbone.embed.0"])  # a convolution, not nn.Linear
    modules = dict(model.named_modules())
    for targets in ("linear", "head", "all"):
        widest = max(min(m.in_features, m.out_features) if isinstance(m, torch.nn.Linear) else min(m.weight.shape)
                     for m in (modules[n] for n in adapter_layers(model, targets) if n != "norm"))  # fmt: skip
        attach_adapters(model, rank=widest, targets=targets).remove()
        with pytest.raises(ArgumentError, match=f"rank: expected at most {widest}, the largest min"):
            attach_adapters(model, rank=widest + 1, targets=targets)
    attach_adapters(model, rank=100000, targets="input").remove()  # no low-rank update to bound


# -------------------------------------------------------------------- frame choice
def test_shots_are_deterministic_nested_and_spread_over_sequences() -> None:
    # 3 sequences (environment, subject, action) of 5, 4 and 3 frames
    ids = np.array([(4, s, a, f) for s, a, n in ((31, 1, 5), (31, 2, 4), (32, 1, 3)) for f in range(1, n + 1)])
    three = choose_shots(ids, 3, seed=7)
    assert sorted({tuple(ids[i, :3]) for i in three}) == [(4, 31, 1), (4, 31, 2), (4, 32, 1)]
    every = choose_shots(ids, 12, seed=7)
    assert sorted(every.tolist()) == list(range(12))
    assert every[:3].tolist() == three.tolist()
    assert choose_shots(ids, 12, seed=7).tolist() == every.tolist()
    assert choose_shots(ids, 12, seed=8).tolist() != every.tolist()
    keep = unseen(ids, ids[three])
    assert keep.sum() == 9 and not keep[three].any()


# ----------------------------------------------------------------------- the CLI
def test_adapt_then_eval_scores_the_same_frames_without_the_shots(run: Path, tmp_path: Path) -> None:
    # rank 4 (the default under 32 frames, pinned): on this width-16 model the readout's update from
    # the 3,420-feature window is most of an adapter, and at rank 8 it is a tenth of so small a checkpoint
    done = csipose("adapt", "--checkpoint", str(run / "last.pt"), "--shots", "6", "--out", str(tmp_path / "ad"),
                   "--steps", "40", "--rank", "4", "--fits", "1", "--json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["environments"] == [2] and out["shots"] == 6 and out["evaluated"] == ROOM_FRAMES - 6
    assert out["rank"] == 4
    assert out["bytes"] == (tmp_path / "ad" / "adapter.pt").stat().st_size < out["checkpoint_bytes"] / 10
    after, before = out["reports"]["after"], out["reports"]["before"]
    assert after["frames"] == before["frames"] == ROOM_FRAMES - 6
    state = torch.load(tmp_path / "ad" / "adapter.pt", weights_only=True)
    shots = state["info"]["shots"].numpy()
    assert shots.shape == (6, 4) and (shots[:, 0] == 2).all()
    assert len({tuple(r) for r in shots[:, :3].tolist()}) == 4  # spread over room 2's four sequences
    ev = csipose("eval", "--checkpoint", str(run / "last.pt"), "--adapter", str(tmp_path / "ad" / "adapter.pt"),
                 "--json", "--device", "cpu", cwd=tmp_path)  # fmt: skip
    assert ev.returncode == 0, ev.stderr
    report = json.loads(ev.stdout)
    assert report["frames"] == ROOM_FRAMES - 6
    assert report["mpjpe"] == pytest.approx(after["mpjpe"], rel=1e-6)
    assert report["pck"]["20"] == pytest.approx(after["pck"]["20"], abs=1e-9)
    text = csipose("eval", "--checkpoint", str(run / "last.pt"), "--adapter", str(tmp_path / "ad" / "adapter.pt"),
                   "--device", "cpu", cwd=tmp_path)  # fmt: skip
    assert "6 frames it was fitted on are left out" in text.stdout


def test_adapt_prints_its_size_and_the_reports_beside_the_mean_pose(run: Path, tmp_path: Path) -> None:
    done = csipose("adapt", "--checkpoint", str(run / "last.pt"), "--shots", "4", "--out", str(tmp_path / "ad"),
                   "--steps", "5", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{tmp_path / 'ad' / 'adapter.pt'}: " in done.stdout and " kB (" in done.stdout
    for label in ("mean pose ", "mean pose on the true root", "before adapting", "after adapting"):
        assert any(line.startswith(label) and "%" in line for line in done.stdout.splitlines()), label


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--shots", "0"], ["--shots: expected an integer >= 1, got 0"]),
        (["--shots", "-3"], ["--shots: expected an integer >= 1, got -3"]),
        (["--shots", str(ROOM_FRAMES)], [f"--shots: {ROOM_FRAMES} frames, but room(s) 2 have {ROOM_FRAMES}"]),
        (["--shots", "2", "--environment", "7"], ["--environment: room(s) 7 not in"]),
        (["--shots", "2", "--rank", "0"], ["--rank: expected an integer >= 1"]),
        (["--shots", "2", "--batch-size", "0"], ["--batch-size: expected an integer >= 1, got 0"]),
        (["--shots", "2", "--epochs", "0"], ["--epochs: expected an integer >= 1, got 0"]),
        (["--shots", "2", "--steps", "-1"], ["--steps: expected an integer >= 1, got -1"]),
        (["--shots", "2", "--rank", "100000"], ["--rank: expected at most ", "min(in, out)", "got 100000"]),
        (["--shots", "2", "--seed", "-1"], ["--seed: expected an integer from 0 to 4294967295, got -1"]),
        (["--shots", "2", "--seed", str(2**64)], [f"--seed: expected an integer from 0 to 4294967295, got {2**64}"]),
        (["--shots", "2", "--lr", "inf"], ["--lr: expected a finite number > 0, got inf"]),
        (["--shots", "2", "--lr", "0"], ["--lr: expected a finite number > 0, got 0.0"]),
        (["--shots", "2", "--alpha", "inf"], ["--alpha: expected a finite number > 0, got inf"]),
        (["--shots", "2", "--average", "1"], ["--average: expected a share of the steps from 0 to under 1, got 1.0"]),
        (["--shots", "2", "--average", "-0.5"], ["--average: expected a share of the steps from 0 to under 1, got -0.5"]),
        (["--shots", "2", "--average", "nan"], ["--average: expected a share of the steps from 0 to under 1, got nan"]),
        (["--shots", "2", "--steps", "20", "--lr", "1e12"], ["the adapter loss became", "nothing was saved"]),
    ],
)
def test_bad_adapt_arguments_are_one_line(run: Path, tmp_path: Path, extra: list[str], needles: list[str]) -> None:
    done = csipose("adapt", "--checkpoint", str(run / "last.pt"), "--out", str(tmp_path / "ad"), *extra, cwd=tmp_path)
    line = one_line_error(done, *needles)
    assert line.startswith("csipose adapt: error: ")
    assert not (tmp_path / "ad").exists()


def test_adapt_fits_averages_fits_from_seeds_in_turn_and_eval_applies_them(run: Path, tmp_path: Path) -> None:
    done = csipose("adapt", "--checkpoint", str(run / "last.pt"), "--shots", "6", "--out", str(tmp_path / "ad"),
                   "--steps", "5", "--fits", "2", "--seed", "4", "--json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["fits"] == 2
    state = torch.load(tmp_path / "ad" / "adapter.pt", weights_only=True)
    assert len(state["members"]) == 2 and state["info"]["fits"] == 2
    finals = state["info"]["final_losses"]
    assert len(finals) == 2 and finals[0] != finals[1]  # two fits from two seeds
    assert state["info"]["final_loss"] == pytest.approx(np.mean(finals))
    first = csipose("adapt", "--checkpoint", str(run / "last.pt"), "--shots", "6", "--out", str(tmp_path / "one"),
                    "--steps", "5", "--seed", "4", "--fits", "1", cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    one = torch.load(tmp_path / "one" / "adapter.pt", weights_only=True)["weights"]
    for name, value in one.items():  # the first member is the one fit of the same seed
        assert torch.equal(state["members"][0][name], value), name
    ev = csipose("eval", "--checkpoint", str(run / "last.pt"), "--adapter", str(tmp_path / "ad" / "adapter.pt"),
                 "--json", "--device", "cpu", cwd=tmp_path)  # fmt: skip
    assert ev.returncode == 0, ev.stderr
    assert json.loads(ev.stdout)["mpjpe"] == pytest.approx(out["reports"]["after"]["mpjpe"], rel=1e-6)
    text = csipose("adapt", "--checkpoint", str(run / "last.pt"), "--shots", "6", "--out", str(tmp_path / "t"),
                   "--steps", "2", "--fits", "2", cwd=tmp_path)  # fmt: skip
    assert "in 2 fits of 2 steps from seeds in turn, their predictions averaged (mean over the fits: loss" in text.stdout
    one_line_error(csipose("adapt", "--checkpoint", str(run / "last.pt"), "--shots", "2", "--out", str(tmp_path / "z"),
                           "--fits", "0", cwd=tmp_path), "--fits: expected an integer >= 1, got 0")  # fmt: skip


def test_adapt_prints_and_records_the_loss_of_the_saved_adapter(run: Path, tmp_path: Path) -> None:
    done = csipose("adapt", "--checkpoint", str(run / "last.pt"), "--shots", "6", "--out", str(tmp_path / "ad"),
                   "--steps", "1", "--lr", "1e-2", "--json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    first, final = json.loads(done.stdout)["loss"]
    assert final != first  # the loss after the one update, not before it
    state = torch.load(tmp_path / "ad" / "adapter.pt", weights_only=True)
    assert state["info"]["final_loss"] == final


def test_batch_size_reaches_the_fit_and_is_recorded(run: Path, tmp_path: Path) -> None:
    """Steps of 2 of the 6 frames fit other adapters than steps of all 6 (the same seed)."""
    finals = {}
    for batch in (2, 6):
        done = csipose("adapt", "--checkpoint", str(run / "last.pt"), "--shots", "6", "--out", str(tmp_path / f"b{batch}"),
                       "--steps", "3", "--batch-size", str(batch), "--json", cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr
        info = torch.load(tmp_path / f"b{batch}" / "adapter.pt", weights_only=True)["info"]
        assert info["batch_size"] == batch
        finals[batch] = info["final_loss"]
    assert finals[2] != finals[6]


def test_the_default_steps_and_rank_follow_the_number_of_frames(run: Path, tmp_path: Path) -> None:
    """No --steps: --epochs passes over the K frames; no --rank: rank 4 under 32 frames; no --fits:
    three under 100 frames."""
    done = csipose("adapt", "--checkpoint", str(run / "last.pt"), "--shots", "7", "--out", str(tmp_path / "ad"),
                   "--epochs", "2", "--batch-size", "4", "--json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    # ceil(2 * 7 / 4) steps, the second half averaged, three fits under 100 frames
    assert (out["steps"], out["rank"], out["average"], out["fits"]) == (4, 4, 0.5, 3)
    state = torch.load(tmp_path / "ad" / "adapter.pt", weights_only=True)
    assert (state["info"]["steps"], state["info"]["average"], state["info"]["fits"]) == (4, 0.5, 3)
    assert len(state["members"]) == 3


def test_adapt_average_reaches_the_fit_and_is_printed(run: Path, tmp_path: Path) -> None:
    """--average 0 keeps the last step's weights, the default averages the second half's: other adapters."""
    finals = {}
    for average in ("0", "0.5"):
        done = csipose("adapt", "--checkpoint", str(run / "last.pt"), "--shots", "6", "--out", str(tmp_path / average),
                       "--steps", "8", "--average", average, "--fits", "1", cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr
        info = torch.load(tmp_path / average / "adapter.pt", weights_only=True)["info"]
        assert info["average"] == float(average)
        finals[average] = info["final_loss"]
        averaged = " (weights averaged over its last 4)" if average == "0.5" else ""
        assert f"in 8 steps{averaged} (loss " in done.stdout
    assert finals["0"] != finals["0.5"]


def test_missing_files_and_a_foreign_adapter_are_one_line(run: Path, tmp_path: Path) -> None:
    one_line_error(csipose("adapt", "--checkpoint", str(tmp_path / "none.pt"), "--shots", "2", "--out",
                           str(tmp_path / "ad"), cwd=tmp_path), "none.pt: checkpoint file not found")  # fmt: skip
    one_line_error(csipose("eval", "--checkpoint", str(run / "last.pt"), "--adapter", str(tmp_path / "none.pt"),
                           cwd=tmp_path), "none.pt: adapter file not found")  # fmt: skip
    done = csipose("adapt", "--checkpoint", str(run / "last.pt"), "--shots", "2", "--steps", "2", "--out",
                   str(tmp_path / "ad"), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    one_line_error(csipose("eval", "--checkpoint", str(run / "epoch0001.pt"), "--adapter",
                           str(tmp_path / "ad" / "adapter.pt"), cwd=tmp_path),
                   "adapter for another base model")  # fmt: skip
