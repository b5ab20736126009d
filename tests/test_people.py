"""Several people per frame: scenes, the person axis and its collate, the set-prediction loss, the report."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from csipose.data.synthetic import SyntheticConfig, SyntheticCsiDataset, render_sequence
from csipose.errors import ConfigError, DatasetError
from csipose.metrics import evaluate_people

SMALL = dict(subjects=4, subjects_per_environment=4, val_subjects=(4,), frames=6)


def test_scenes_label_every_person_with_a_stable_identity() -> None:
    config = SyntheticConfig(people=(0, 1, 2, 3), **SMALL)
    ds = SyntheticCsiDataset(config)
    counts = {int(c) for c in ds.counts}
    assert counts <= {0, 1, 2, 3} and len(counts) >= 3
    for start in range(0, len(ds), config.frames):  # one sequence: the same people, moving a little
        first, last = ds[start], ds[start + config.frames - 1]
        assert np.array_equal(first["person_ids"], last["person_ids"])
        if len(first["person_ids"]):
            assert np.abs(first["keypoints"][:, 0] - last["keypoints"][:, 0]).max() < 0.5
    ids = np.concatenate([ds[i]["person_ids"] for i in range(0, len(ds), config.frames)])
    assert len(ids) == len(set(ids.tolist()))  # unique in the dataset


def test_the_single_person_path_is_untouched() -> None:
    plain = render_sequence(SyntheticConfig(**SMALL), 1, "squat")
    assert plain.labelled == 1 and plain.keypoints.shape[1] == 1
    sample = SyntheticCsiDataset(SyntheticConfig(**SMALL))[0]
    assert "person_ids" not in sample and sample["keypoints"].shape == (17, 3)
    with pytest.raises(ConfigError, match="leave persons at 1"):
        SyntheticConfig(people=(1, 2), persons=2)
    with pytest.raises(ConfigError, match="people: expected an integer in 0..4"):
        SyntheticConfig(people=(5,))


def test_an_empty_room_is_a_scene() -> None:
    seq = render_sequence(SyntheticConfig(people=(0,), **SMALL), 1, "squat")
    assert seq.keypoints.shape == (6, 0, 17, 3) and np.isfinite(seq.amplitude).all()
    from csipose.errors import DatasetError

    with pytest.raises(DatasetError, match="people: every scene would be empty"):
        SyntheticCsiDataset(SyntheticConfig(people=(0,), **SMALL))  # but a data set of empty rooms alone is none


def test_collate_pads_mixed_person_counts() -> None:
    torch = pytest.importorskip("torch")
    from csipose.data import collate

    ds = SyntheticCsiDataset(SyntheticConfig(people=(0, 1, 3), **SMALL))
    picks = [next(i for i in range(len(ds)) if ds.counts[i] == c) for c in (0, 1, 3)]
    batch = collate([ds[i] for i in picks])
    assert batch["keypoints"].shape == (3, 3, 17, 3) and batch["visibility"].shape == (3, 3, 17)
    assert batch["person_mask"].tolist() == [[False] * 3, [True, False, False], [True] * 3]
    assert batch["person_ids"][0].tolist() == [-1, -1, -1]
    assert torch.equal(batch["keypoints"][2], torch.from_numpy(ds[picks[2]]["keypoints"]))
    assert float(batch["visibility"][1, 1:].abs().sum()) == 0.0


def _brute_force(persons, presence, gt, vis, mask):  # type: ignore[no-untyped-def]
    """The least-cost injective map of each sample's people to slots, by trying every one."""
    import torch

    pairs = []
    for b in range(len(persons)):
        people = [m for m in range(gt.shape[1]) if mask[b, m]]
        best, choice = np.inf, ()
        for slots in itertools.permutations(range(persons.shape[1]), len(people)):
            cost = 0.0
            for s, m in zip(slots, people):
                d = (persons[b, s] - gt[b, m]).norm(dim=-1)
                cost += float((d * vis[b, m]).sum() / vis[b, m].sum().clamp_min(1)) + 1 - float(torch.sigmoid(presence[b, s]))
            if cost < best:
                best, choice = cost, tuple(zip(slots, people))
        pairs += [(b, s, m) for s, m in choice]
    return sorted(pairs)


@pytest.mark.parametrize("seed", range(6))
def test_the_set_loss_is_the_brute_force_permutation_loss(seed: int) -> None:
    torch = pytest.importorskip("torch")
    from csipose.losses import bone_length_loss, keypoint_loss, match_slots, set_prediction_losses

    g = torch.Generator().manual_seed(seed)
    b, s, m = 5, 4, 3
    persons = torch.randn(b, s, 17, 3, generator=g)
    presence = torch.randn(b, s, generator=g)
    gt = torch.randn(b, m, 17, 3, generator=g)
    vis = (torch.rand(b, m, 17, generator=g) > 0.2).float()
    mask = torch.rand(b, m, generator=g) > 0.3
    batch, slot, person = match_slots(persons, presence, gt, vis, mask)
    expected = _brute_force(persons, presence, gt, vis, mask)
    assert sorted(zip(batch.tolist(), slot.tolist(), person.tolist())) == expected
    bb, ss, mm = (torch.tensor(c) for c in zip(*expected))
    losses = set_prediction_losses(persons, presence, gt, vis, mask)
    assert torch.allclose(losses["keypoints"], keypoint_loss(persons[bb, ss], gt[bb, mm], vis[bb, mm], kind="smooth_l1"))
    assert torch.allclose(losses["bone"], bone_length_loss(persons[bb, ss], gt[bb, mm], vis[bb, mm]))
    target = torch.zeros(b, s)
    target[bb, ss] = 1
    assert torch.allclose(losses["presence"], torch.nn.functional.binary_cross_entropy_with_logits(presence, target))


def test_the_set_loss_trains_slots_and_presence() -> None:
    torch = pytest.importorskip("torch")
    from csipose.losses import set_prediction_losses

    torch.manual_seed(0)
    gt = torch.randn(8, 2, 17, 3)
    mask = torch.tensor([[True, True]] * 4 + [[True, False]] * 4)
    persons = torch.zeros(8, 3, 17, 3, requires_grad=True)
    presence = torch.zeros(8, 3, requires_grad=True)
    opt = torch.optim.Adam([persons, presence], lr=0.05)
    for _ in range(300):
        terms = set_prediction_losses(persons, presence, gt, torch.ones(8, 2, 17), mask)
        opt.zero_grad()
        sum(terms.values()).backward()  # type: ignore[union-attr]
        opt.step()
    assert terms["keypoints"] < 0.01 and ((torch.sigmoid(presence) > 0.5).sum(1) == mask.sum(1)).all()


def test_each_slot_readout_is_fitted_on_the_samples_where_its_person_is() -> None:
    pytest.importorskip("torch")
    from csipose.ridge import RidgeRegression
    from csipose.train.baselines import _fit_slots

    rng = np.random.default_rng(0)
    x, subjects = rng.normal(size=(120, 12)), np.arange(120) % 8
    present = np.stack([np.ones(120, bool), rng.random(120) > 0.4, np.zeros(120, bool)], axis=1)
    maps = rng.normal(size=(3, 12, 6))
    joints = [np.where(present[:, [k]], x @ maps[k], 0.0) for k in range(3)]
    y = np.concatenate([*joints, present.astype(np.float64)], axis=1)
    columns = np.zeros(12, dtype=np.int64)
    ridge = _fit_slots(x, y, 3, holdout_groups=subjects, column_groups=columns)
    rows = present[:, 1]
    alone = RidgeRegression.fit(x[rows], joints[1][rows], holdout_groups=subjects[rows], column_groups=columns,
                                standardize=False)  # fmt: skip
    assert np.allclose(ridge.weight[:, 6:12], alone.weight) and np.allclose(ridge.bias[6:12], alone.bias)
    assert not ridge.weight[:, 12:18].any() and not ridge.bias[12:18].any()  # a slot never filled stays at the mean
    together = RidgeRegression.fit(x, y, holdout_groups=subjects, column_groups=columns, standardize=False)
    by_slot = np.abs(ridge.predict(x)[rows, 6:12] - joints[1][rows]).mean()
    assert by_slot < 0.05 < np.abs(together.predict(x)[rows, 6:12] - joints[1][rows]).mean()
    presence = RidgeRegression.fit(x, y[:, 18:], holdout_groups=subjects, column_groups=columns, standardize=False)
    assert np.allclose(ridge.weight[:, 18:], presence.weight) and np.allclose(ridge.bias[18:], presence.bias)


@pytest.mark.parametrize("backbones", ["shared", "separate"])
def test_slots_start_with_the_presence_the_data_gives_them(backbones: str) -> None:
    torch = pytest.importorskip("torch")
    from csipose.errors import ShapeError
    from csipose.models import build_model
    from csipose.train.data import presence_rates

    config = SyntheticConfig(**SMALL, people=(1, 2, 2, 3))
    dataset = SyntheticCsiDataset(config, split="train")
    counts = dataset.label_people()[1]
    rates = presence_rates(dataset, 4)
    assert np.allclose(rates, [(counts > k).mean() for k in range(4)]) and rates[0] == 1 and rates[3] == 0
    model = build_model(shape=(1, 6, 114, 10), groups=2, width=16, heads=2, tokens=4, persons=4,
                        slot_backbones=backbones).eval()
    model.set_presence_prior(torch.from_numpy(rates))
    with torch.no_grad():
        presence = torch.sigmoid(model(torch.randn(5, 1, 6, 114, 10))["presence"])
    assert torch.allclose(presence, torch.from_numpy(rates).clamp(0.01, 0.99).expand(5, 4), atol=1e-6)
    with pytest.raises(ShapeError, match=r"rates: expected \[4\]"):
        model.set_presence_prior(torch.ones(3))
    one = build_model(shape=(1, 6, 114, 10), groups=2, width=16, heads=2, tokens=4)
    with pytest.raises(ConfigError, match="set_presence_prior: the model has no person slots"):
        one.set_presence_prior(torch.ones(1))


def test_separate_slot_backbones_give_each_slot_its_own() -> None:
    torch = pytest.importorskip("torch")
    from csipose.config import TrainingConfig
    from csipose.models import build_model

    torch.manual_seed(0)
    model = build_model(shape=(1, 6, 30, 5), groups=2, width=16, heads=2, persons=3, slot_backbones="separate")
    backbones = [model.backbone, *model.slot_backbones]
    assert model.slot_head is None and len(backbones) == 3 and model.settings["slot_backbones"] == "separate"
    for backbone in backbones:  # zero last layers start every slot on its readout: move them off it
        torch.nn.init.normal_(backbone.head[-1].weight, std=0.1)
    torch.nn.init.normal_(model.presence_weight, std=0.1)
    out = model(torch.randn(4, 1, 6, 30, 5))
    for k in range(3):  # slot k's joints and presence move with backbone k's weights alone
        grads = torch.autograd.grad(out["persons"][:, k].sum() + out["presence"][:, k].sum(),
                                    [b.head[-1].weight for b in backbones], retain_graph=True)
        assert [bool(g.abs().sum() > 0) for g in grads] == [i == k for i in range(3)]
    again = build_model(**model.settings)
    again.load_state_dict(model.state_dict())
    x = torch.randn(2, 1, 6, 30, 5)
    assert torch.equal(model.eval()(x)["persons"], again.eval()(x)["persons"])
    shared = build_model(shape=(1, 6, 30, 5), groups=2, width=16, heads=2, persons=3)
    assert "slot_backbones" not in shared.settings and shared.slot_backbones is None  # earlier checkpoints' keys
    with pytest.raises(ConfigError, match="slot_backbones: separate gives each person slot a backbone; set persons >= 1"):
        TrainingConfig(slot_backbones="separate").validate()
    with pytest.raises(ConfigError, match="slot_backbones: must be one of shared, separate, got 'own'"):
        TrainingConfig(persons=2, slot_backbones="own").validate()
    with pytest.raises(ConfigError, match="slot_backbones: expected 'shared', or 'separate' with persons >= 1 and"):
        build_model(shape=(1, 6, 30, 5), groups=2, width=16, heads=2, persons=2, slot_backbones="separate",
                    geometry_film=True)
    anchored = build_model(shape=(1, 6, 30, 5), groups=2, width=16, heads=2, persons=3, slot_backbones="separate",
                           anchor=True).eval()  # the anchor moves every slot of every window by its own
    anchored.load_state_dict(model.state_dict())
    from csipose.domain.anchor import link_anchor

    tx, rx = torch.tensor([[-2.0, 1.2, 3.0], [-1.5, 1.0, 2.0]]), torch.full((2, 3, 3), 2.0)
    floor = torch.tensor([1.3, 1.1])
    moved = anchored(x, geometry=(tx, rx, floor))["persons"] - model(x)["persons"]
    assert torch.allclose(moved, link_anchor(tx, rx, floor)[:, None, None, :].expand_as(moved), atol=1e-5)


def test_the_people_report_counts_matches_misses_and_false_positives() -> None:
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 0.3, (3, 2, 17, 3)) + [0, 0, 3]
    mask = np.array([[True, True], [True, False], [True, True]])
    pred = np.zeros((3, 3, 17, 3))
    presence = np.zeros((3, 3))
    pred[0, 2], pred[0, 0], presence[0, [0, 2]] = gt[0, 0], gt[0, 1], 0.9  # both, in other slots
    pred[1, 1], pred[1, 2], presence[1, [1, 2]] = gt[1, 0], 5.0, 0.8  # one person and a false positive
    pred[2, 0], presence[2, 0] = gt[2, 1] + 0.01, 0.7  # one of two found: the other is missed
    report = evaluate_people(pred, presence, gt, gt_mask=mask)
    assert report.people == {"frames": 3, "people": 5, "predicted": 5, "matched": 4, "missed": 1, "false_positives": 1}
    assert report.count_accuracy == pytest.approx(1 / 3) and report.count_error == pytest.approx(2 / 3)
    assert report.pck.pck[2] == pytest.approx(4 / 5)  # every joint of the four matched people, none of the missed
    # MPJPE over the matched four: three exact, one off by 0.01 m on every axis
    assert report.mpjpe == pytest.approx(np.mean([0, 0, 0, np.sqrt(3) * 0.01]), abs=1e-9)
    assert report.to_dict()["count_accuracy"] == pytest.approx(1 / 3)
    assert "count accuracy 33.3%" in report.summary()
    assert report.summary().splitlines()[1].startswith("5 people, skeleton h36m17: 5 scored")  # people, not frames


def test_training_with_person_slots(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    from csipose.config import TrainingConfig
    from csipose.train.loop import train

    synthetic = {"subjects": 6, "subjects_per_environment": 6, "val_subjects": [3, 6], "frames": 8}
    config = TrainingConfig(persons=2, epochs=2, width=16, synthetic=synthetic, run_dir=str(tmp_path / "run"),
                            plots=False, progress=False)  # fmt: skip
    summary = train(config)
    model, mean = summary["model"], summary["mean_pose_baseline"]
    assert model["people"]["frames"] == 2 * 8 * 8 and 0 <= model["count_accuracy"] <= 1
    assert "count_accuracy" in mean and "linear_baseline" in summary
    from csipose.export import export_onnx
    from csipose.infer import Predictor

    export_onnx(tmp_path / "run" / "best.pt", tmp_path / "people.onnx")
    windows = np.zeros((5, 1, 6, 114, 10), np.float32)
    by_torch = Predictor.load(tmp_path / "run" / "best.pt").predict_people_windows(windows)
    by_onnx = Predictor.load(tmp_path / "people.onnx").predict_people_windows(windows)
    assert by_torch[0].shape == (5, 2, 17, 3) and by_torch[1].shape == (5, 2)
    assert all(np.abs(a - b).max() < 1e-4 for a, b in zip(by_torch, by_onnx))
    done = subprocess.run([sys.executable, "-m", "csipose", "eval", "--checkpoint", str(tmp_path / "people.onnx")],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0 and "count accuracy" in done.stdout, done.stderr
    _eval_by_people_adds_up(tmp_path / "run" / "best.pt")
    _eval_input_scores_every_person(tmp_path)
    from tests.mmfi_tree import write_tree

    write_tree(tmp_path / "mmfi", ("S01", "S02"), ("A02",), 4)  # one person per window
    done = subprocess.run([sys.executable, "-m", "csipose", "eval", "--checkpoint", str(tmp_path / "run" / "best.pt"),
                           "--data", "mmfi", "--root", str(tmp_path / "mmfi")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f"csipose eval: error: {tmp_path / 'run' / 'best.pt'}: a person-slot model is scored on scenes with every "
        "person labelled (synthetic, with synthetic.people); this split has one person per window"
    ], done.stderr
    with pytest.raises(ConfigError, match="persons: 1 slots cannot hold scenes of 2 people"):
        TrainingConfig(persons=1, synthetic={**synthetic, "people": [1, 2]}).validate()
    with pytest.raises(ConfigError, match="persons >= 1 needs scenes of several labelled people"):
        train(TrainingConfig(persons=2, epochs=1, data="synthetic", synthetic={**synthetic, "people": []},
                             run_dir=str(tmp_path / "run2"), progress=False, plots=False))


def test_training_with_separate_slot_backbones(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    from csipose.config import TrainingConfig
    from csipose.export import export_onnx
    from csipose.infer import Predictor
    from csipose.train.loop import train

    synthetic = {"subjects": 4, "subjects_per_environment": 4, "val_subjects": [4], "frames": 6, "people": [2]}
    config = TrainingConfig(persons=2, slot_backbones="separate", epochs=1, width=16, synthetic=synthetic,
                            run_dir=str(tmp_path / "run"), plots=False, progress=False, linear_baseline=False)
    summary = train(config)
    assert summary["model"]["people"]["frames"] == 8 * 6
    export_onnx(tmp_path / "run" / "best.pt", tmp_path / "people.onnx")
    windows = np.random.default_rng(0).normal(size=(3, 1, 6, 114, 10)).astype(np.float32)
    predictor = Predictor.load(tmp_path / "run" / "best.pt")
    assert len(predictor._backend.model.slot_backbones) == 1  # slot 1's, beside slot 0's backbone
    by_torch = predictor.predict_people_windows(windows)
    by_onnx = Predictor.load(tmp_path / "people.onnx").predict_people_windows(windows)
    assert by_torch[0].shape == (3, 2, 17, 3) and all(np.abs(a - b).max() < 1e-4 for a, b in zip(by_torch, by_onnx))


def _eval_input_scores_every_person(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``csipose eval --input`` of a .npz with several people's keypoints scores the slots against
    them: the model's own present slots as the truth score perfectly; one of them moved 2 m is
    still matched but scored off; one of them left out of ``person_mask`` is a false positive."""
    rng = np.random.default_rng(0)
    frames = {"amplitude": rng.uniform(1, 30, (6, 3, 114, 10)).astype(np.float32),
              "phase": rng.uniform(-np.pi, np.pi, (6, 3, 114, 10)).astype(np.float32)}  # fmt: skip
    np.savez(tmp_path / "raw.npz", **frames)
    # the slots as csipose predict writes them: the same process settings as csipose eval's, so the same bits
    done = subprocess.run([sys.executable, "-m", "csipose", "predict", "--model", str(tmp_path / "run" / "best.pt"),
                           "--input", str(tmp_path / "raw.npz"), "--out", str(tmp_path / "slots.npz")],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with np.load(tmp_path / "slots.npz") as found:
        truth, present = found["persons"], found["presence"] > 0.5  # [N, 2, J, 3], [N, 2]; N = 6 (window 1)
        tracks = found["track_ids"]
    assert tracks.dtype == np.int64 and tracks.shape == present.shape and (tracks[~present] == -1).all()
    assert len(truth) == 6 and present.any(), found.presence
    first = np.flatnonzero(present.any(axis=1))[0]
    who = int(np.flatnonzero(present[first])[0])
    moved, dropped = truth.copy(), present.copy()
    moved[first, who] += 2.0
    dropped[first, who] = False
    cases = {"own": (truth, present), "moved": (moved, present), "dropped": (truth, dropped)}
    reports = {}
    for name, (keypoints, mask) in cases.items():
        np.savez(tmp_path / f"{name}.npz", **frames, keypoints=keypoints, person_mask=mask)
        done = subprocess.run([sys.executable, "-m", "csipose", "eval", "--checkpoint", str(tmp_path / "run" / "best.pt"),
                               "--input", str(tmp_path / f"{name}.npz"), "--json"], capture_output=True, text=True,
                              timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        reports[name] = json.loads(done.stdout)
    done = subprocess.run([sys.executable, "-m", "csipose", "predict", "--model", str(tmp_path / "run" / "best.pt"),
                           "--input", str(tmp_path / "own.npz"), "--out", str(tmp_path / "again.npz"), "--json"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["report"] == reports["own"]  # predict prints the report eval --input does
    people = int(present.sum())
    own, moved_report, dropped_report = reports["own"], reports["moved"], reports["dropped"]
    assert "tracking" not in own  # these people carry no identities to track against
    # named through the frames (here by their slot), they are tracked: the slots' order is then exactly right
    np.savez(tmp_path / "named.npz", **frames, keypoints=truth, person_mask=present,
             person_ids=np.tile(np.arange(2), (len(truth), 1)))
    done = subprocess.run([sys.executable, "-m", "csipose", "eval", "--checkpoint", str(tmp_path / "run" / "best.pt"),
                           "--input", str(tmp_path / "named.npz"), "--json"], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    named = json.loads(done.stdout)
    done = subprocess.run([sys.executable, "-m", "csipose", "predict", "--model", str(tmp_path / "run" / "best.pt"),
                           "--input", str(tmp_path / "named.npz"), "--out", str(tmp_path / "named-out.npz"), "--json"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    predicted = json.loads(done.stdout)  # predict's report of named people tracks them as eval's does
    assert predicted["tracking"] == named["tracking"] and "tracking" not in reports["own"]
    order = named["tracking"]["slot_order"]
    assert order["num_objects"] == named["tracking"]["tracker"]["num_objects"] == people
    assert order["mota"] == 1.0 and order["num_switches"] == order["num_misses"] == order["num_false_positives"] == 0
    assert own["count_accuracy"] == 1.0 and own["people"]["people"] == own["people"]["matched"] == people
    assert own["people"]["missed"] == own["people"]["false_positives"] == 0 and own["mpjpe"] < 1e-6
    assert moved_report["people"]["matched"] == people and moved_report["count_accuracy"] == 1.0
    assert moved_report["mpjpe"] == pytest.approx(2 * np.sqrt(3) / people, rel=1e-4)
    assert dropped_report["people"]["false_positives"] == 1 and dropped_report["count_accuracy"] == pytest.approx(5 / 6)


def _eval_by_people_adds_up(checkpoint) -> None:  # type: ignore[no-untyped-def]
    """``csipose eval --by people`` (and by action) of a person-slot model: one multi-person report per
    group, whose frames, people, matches and false positives add up to the pooled report's, beside
    the baseline of the mean pose on every true person's root, whose error is the shape error
    computed here from the split."""
    outs = {}
    for by in ("people", "action"):
        done = subprocess.run([sys.executable, "-m", "csipose", "eval", "--checkpoint", str(checkpoint), "--by", by,
                               "--json"], capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        out = outs[by] = json.loads(done.stdout)
        for report in (out, out["baseline"]["report"]):
            groups = report["by"][by] if report is out else out["baseline"]["by"][by]
            assert len(groups) >= 2, groups
            for key in ("frames", "people", "matched", "missed", "false_positives", "predicted"):
                assert sum(g["people"][key] for g in groups.values()) == report["people"][key], key
            if by == "people":  # each group holds frames of that many people
                assert all(g["people"]["people"] == int(k) * g["people"]["frames"] for k, g in groups.items())
    # each action's frames and true people, counted from the split itself: the groups follow their frames
    from csipose.infer import Predictor
    from csipose.infer_cli import recorded_split

    predictor = Predictor.load(checkpoint)
    val = recorded_split(predictor)
    truth: dict[str, list[int]] = {}
    people = []
    for i in range(len(val)):
        sample = val[i]
        counts = truth.setdefault(str(int(sample["action"])), [0, 0])
        counts[0] += 1
        counts[1] += len(sample["person_ids"])
        people.append(np.asarray(sample["keypoints"], dtype=np.float64))
    assert {k: [g["people"]["frames"], g["people"]["people"]] for k, g in outs["action"]["by"]["action"].items()} == truth
    # the baseline: every true person found (and no other), at the mean pose moved onto their pelvis
    mean = predictor._backend.model.mean_pose.numpy().astype(np.float64)
    gt = np.concatenate(people)  # [people, J, 3]
    shape_error = np.linalg.norm(mean[None] - mean[0] + gt[:, :1] - gt, axis=-1).mean()
    base = outs["people"]["baseline"]["report"]
    assert base["count_accuracy"] == 1.0 and base["people"]["matched"] == base["people"]["people"] == len(gt)
    assert base["people"]["false_positives"] == 0 and base["mpjpe"] == pytest.approx(shape_error, rel=1e-5)
    # tracking through each sequence: every true person is an object once; slot order reports what is present
    from csipose.infer_cli import TRACK_THRESHOLD
    from csipose.track import Tracker

    tracking = outs["people"]["tracking"]
    defaults = Tracker()
    assert tracking["settings"] == {"gate": defaults.gate, "birth": defaults.birth, "death": defaults.death,
                                    "backfill": True, "threshold": TRACK_THRESHOLD}
    for name in ("tracker", "slot_order"):
        t = tracking[name]
        assert t["num_objects"] == len(gt) and t["num_frames"] == len(val), name
        assert t["num_misses"] + t["num_detections"] == len(gt), name
    assert tracking["slot_order"]["num_predictions"] == outs["people"]["people"]["predicted"]
    done = subprocess.run([sys.executable, "-m", "csipose", "eval", "--checkpoint", str(checkpoint)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    at = lines.index(next(line for line in lines if line.strip().startswith("tracking (each sequence")))
    for line, (name, key) in zip(lines[at + 1 : at + 3], (("csipose.track", "tracker"), ("slot order", "slot_order"))):
        t = tracking[key]
        assert line.strip().startswith(name) and f"switches {t['num_switches']}," in line, line
        assert line.endswith(f"of {len(gt)} true people"), line


def test_person_ids_of_an_input_file_are_checked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An input's person_ids: one int per person slot of every frame, no one twice in a frame,
    and only beside several people's keypoints."""
    from csipose.data.sources import open_frames

    frames = np.ones((3, 3, 114, 10), np.float32)
    several = np.zeros((3, 2, 17, 3), np.float32)
    cases = {
        "float": ({"keypoints": several, "person_ids": np.zeros((3, 2))}, "person_ids is float64[3, 2]; expected int[3, 2]"),
        "shape": ({"keypoints": several, "person_ids": np.zeros((3, 3), int)}, "expected int[3, 2]"),
        "twice": ({"keypoints": several, "person_ids": np.array([[0, 1], [4, 4], [0, 1]])},
                  "person_ids of frame 1 name one person twice: [4, 4]"),
        "alone": ({"person_ids": np.zeros((3, 2), int)}, "person_ids without keypoints"),
        "one person": ({"keypoints": several[:, 0], "person_ids": np.zeros((3, 1), int)},
                       "person_ids goes with several people's keypoints"),
    }
    for name, (extra, message) in cases.items():
        np.savez(tmp_path / "in.npz", amplitude=frames, phase=frames, **extra)
        with pytest.raises(DatasetError, match=re.escape(message)):
            list(open_frames(tmp_path / "in.npz").runs())
    # an absent person may carry any id, even one a present person has
    mask = np.array([[True, False], [True, True], [True, True]])
    np.savez(tmp_path / "in.npz", amplitude=frames, phase=frames, keypoints=several, person_mask=mask,
             person_ids=np.array([[3, 3], [3, 5], [3, 5]], np.int32))
    (run,) = open_frames(tmp_path / "in.npz").runs()
    assert run.person_ids.dtype == np.int64 and run.person_ids.tolist() == [[3, 3], [3, 5], [3, 5]]
