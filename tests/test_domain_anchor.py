"""The link anchor: the point of a room's link in front of the camera, on the floor, and the
models that regress the joints relative to it (``anchor``)."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from csipose.config import TrainingConfig
from csipose.data.synthetic import SyntheticConfig, SyntheticCsiDataset
from csipose.data.synthetic.scenes import make_varied_scene, world_to_camera
from csipose.domain.anchor import SEEN_TOLERANCE, geometry_rows, link_anchor, link_anchor_numpy, on_anchor_floor, seen
from csipose.errors import ArgumentError, ConfigError, ShapeError
from csipose.infer import Predictor
from csipose.infer_cli import read_geometry
from csipose.models import build_model
from csipose.train.data import load_split, mean_pose, sample_anchors
from csipose.train.loop import _train
from csipose.train.scoring import score
from csipose.train.state import load_model
from tests.test_cli_errors import csipose, one_line_error
from tests.test_domain_methods import ROOMS
from tests.test_domain_methods import tiny as rooms_run


def tiny(run_dir: Path, *overrides: str) -> TrainingConfig:
    """The domain methods' tiny leave-room-out run (rooms 1-3 trained, room 4 held out), two epochs."""
    return rooms_run(run_dir, "epochs=2", *overrides)


# ----------------------------------------------------------------------------- the point
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_the_anchor_of_a_varied_room_is_its_stage_on_the_floor(seed: int) -> None:
    # the stage lies on the link and the camera faces it, so the geometry alone finds it in any room
    scene = make_varied_scene(np.random.default_rng(seed))
    anchor = link_anchor_numpy(world_to_camera(scene.tx, scene)[None], world_to_camera(scene.rx, scene)[None],
                               [scene.camera[2]])  # fmt: skip
    stage = world_to_camera(np.array([*scene.stage, 0.0]), scene)
    assert np.allclose(anchor[0], stage, atol=1e-9)


def test_the_anchor_ignores_the_order_of_receive_antennas_and_stays_on_the_link() -> None:
    tx = torch.tensor([[-2.0, -0.2, 2.0], [1.0, 0.0, 3.0], [0.3, 0.1, 2.0]], dtype=torch.float64)
    rx = torch.tensor([[[2.0, 0.5, 4.0], [2.0, -0.5, 4.2], [2.0, -1.0, 3.8]],
                       [[3.0, 0.5, 5.0], [3.0, 0.0, 5.0], [3.0, -0.5, 5.0]],   # the crossing is behind tx
                       [[0.3, 0.5, 5.0], [0.3, 0.0, 5.0], [0.3, -0.5, 5.0]]],  # a link along the view
                      dtype=torch.float64)  # fmt: skip
    floor = torch.tensor([1.2, 1.0, 1.4], dtype=torch.float64)
    a = link_anchor(tx, rx, floor)
    assert torch.allclose(a[0], torch.tensor([0.0, 1.2, 3.0], dtype=torch.float64))  # halfway along x, depth 2 -> 4
    assert torch.allclose(a[1], torch.tensor([1.0, 1.0, 3.0], dtype=torch.float64))  # clipped to the transmitter
    assert torch.allclose(a[2], torch.tensor([0.3, 1.4, 3.5], dtype=torch.float64))  # parallel: the middle
    assert torch.equal(link_anchor(tx, rx.flip(1), floor), a)
    with pytest.raises(ShapeError, match="geometry rx: expected"):
        link_anchor(tx, rx[:, :, :2], floor)
    with pytest.raises(ShapeError, match="geometry floor: expected"):
        link_anchor(tx, rx, floor[:2])


# ------------------------------------------------------------------------------ the model
def test_an_anchored_model_moves_with_the_anchor_and_needs_the_floor() -> None:
    torch.manual_seed(0)
    model = build_model(model="tcn", shape=(10, 6, 56, 3), groups=2, joints=17, dims=3, width=16, heads=2,
                        anchor=True).eval()  # fmt: skip
    x = torch.randn(4, 10, 6, 56, 3)
    tx = torch.tensor([[-2.0, -0.2, 2.0]]).repeat(4, 1)
    rx = torch.tensor([[2.0, 0.5, 4.0], [2.0, -0.5, 4.0], [2.0, -1.0, 4.0]]).repeat(4, 1, 1)
    floor = torch.full((4,), 1.2)
    with torch.no_grad():
        base = model(x, geometry=(tx, rx, floor))["keypoints"]
        step = torch.tensor([0.0, 0.3, 0.5])  # a room half a metre deeper whose camera hangs 0.3 m higher
        moved = model(x, geometry=(tx + step * torch.tensor([0, 0, 1.0]), rx + step * torch.tensor([0, 0, 1.0]),
                                   floor + 0.3))["keypoints"]  # fmt: skip
    assert torch.allclose(moved - base, step.expand_as(base), atol=1e-6)
    for geometry, needle in ((None, "none"), ((tx, rx), "2 arrays")):
        with pytest.raises(ArgumentError, match=rf"geometry: .*anchor = link.*floor.*got {needle}"):
            model(x, geometry=geometry)


# ------------------------------------------------------------------------- rooms it has not seen
def test_on_anchor_floor_moves_the_root_on_the_floor_and_keeps_height_and_shape() -> None:
    g = torch.Generator().manual_seed(0)
    keypoints = torch.randn(5, 17, 3, generator=g, dtype=torch.float64)
    anchor = torch.randn(5, 3, generator=g, dtype=torch.float64)
    mean = torch.randn(17, 3, generator=g, dtype=torch.float64)
    root = [0, 1, 4]
    moved = on_anchor_floor(keypoints, anchor, mean, root)
    target = anchor + mean[root].mean(dim=0)
    assert torch.allclose(moved[:, root].mean(dim=1)[:, [0, 2]], target[:, [0, 2]])  # on the anchor's floor spot
    assert torch.equal(moved[..., 1], keypoints[..., 1])  # its own height
    shape = lambda k: k - k[:, root].mean(dim=1, keepdim=True)  # noqa: E731
    assert torch.allclose(shape(moved), shape(keypoints))  # its own shape
    with pytest.raises(ShapeError, match=r"keypoints: expected \[B, J, 3\]"):
        on_anchor_floor(keypoints[..., :2], anchor, mean, root)


def test_a_room_is_seen_when_its_antennas_and_floor_are_within_the_tolerance() -> None:
    tx = torch.tensor([[-2.0, -0.2, 2.0]])
    rx = torch.tensor([[[2.0, 0.5, 4.0], [2.0, -0.5, 4.0]]])
    floor = torch.tensor([1.2])
    rooms = geometry_rows(tx, rx, floor)
    assert rooms.shape == (1, 3 + 6 + 1)
    near = torch.cat([rooms + 0.9 * SEEN_TOLERANCE, rooms - 0.9 * SEEN_TOLERANCE])
    far = rooms.repeat(rooms.shape[1], 1) + 1.1 * SEEN_TOLERANCE * torch.eye(rooms.shape[1])  # one coordinate off
    assert seen(near, rooms).all() and not seen(far, rooms).any()
    assert not seen(geometry_rows(tx, rx[:, :1], floor), rooms).any()  # another number of receive antennas
    assert not seen(rooms, rooms[:0]).any()  # no rooms known


def _room_geometry(batch: int, depth: float) -> tuple[Tensor, Tensor, Tensor]:
    tx = torch.tensor([[-2.0, -0.2, depth]]).repeat(batch, 1)
    rx = torch.tensor([[2.0, 0.5, depth + 2], [2.0, -0.5, depth + 2], [2.0, -1.0, depth + 2]]).repeat(batch, 1, 1)
    return tx, rx, torch.full((batch,), 1.2)


def test_a_model_stands_the_person_on_the_anchor_floor_only_in_rooms_it_has_not_seen(tmp_path: Path) -> None:
    from csipose.domain.adapters import attach_adapters, fit_adapters, load_adapters, save_adapters

    settings = dict(model="tcn", shape=(10, 6, 56, 3), groups=2, joints=17, dims=3, width=16, heads=2, anchor=True)
    torch.manual_seed(0)
    own = build_model(**settings).eval()
    with torch.no_grad():  # a model that moves the person about (a fresh one predicts its mean pose)
        for value in own.parameters():
            value.normal_(0.0, 0.1)
        own.mean_pose.normal_()
    model = build_model(**settings, new_room_root=[0]).eval()
    model.load_state_dict(own.state_dict())
    assert model.settings["new_room_root"] == [0] and "new_room_root" not in own.settings
    x = torch.randn(4, 10, 6, 56, 3)
    trained, new = _room_geometry(4, 2.0), _room_geometry(4, 2.5)  # the new room: half a metre deeper
    model.seen_rooms = geometry_rows(*trained)[:1]
    with torch.no_grad():
        assert torch.equal(model(x, geometry=trained)["keypoints"], own(x, geometry=trained)["keypoints"])
        placed = model(x, geometry=new)["keypoints"]
        theirs = own(x, geometry=new)["keypoints"]
        anchor = link_anchor(*new)
    assert torch.allclose(placed, on_anchor_floor(theirs, anchor, model.mean_pose, [0]))
    assert torch.allclose(placed[:, 0, [0, 2]], (anchor + model.mean_pose[0])[:, [0, 2]], atol=1e-6)
    assert not torch.allclose(placed, theirs, atol=1e-3)
    mixed = tuple(torch.cat([a[:2], b[2:]]) for a, b in zip(trained, new))  # a batch of both rooms
    with torch.no_grad():
        both = model(x, geometry=mixed)["keypoints"]
        alone = own(x[:2], geometry=tuple(a[:2] for a in trained))["keypoints"]
    assert torch.allclose(both[:2], alone, atol=1e-6)
    assert torch.allclose(both[2:], placed[2:], atol=1e-6)
    # a fresh adapter changes nothing; one fitted to (or loaded for) the new room makes the model place
    # the person there itself, until it is removed
    adapters = attach_adapters(model, rank=2, targets="head")
    with torch.no_grad():
        assert not model.adapted and torch.equal(model(x, geometry=new)["keypoints"], placed)
    save_adapters(tmp_path / "adapter.pt", adapters)  # zero updates: the base model's outputs
    adapters.remove()
    adapters = load_adapters(tmp_path / "adapter.pt", model)
    with torch.no_grad():
        assert model.adapted and torch.equal(model(x, geometry=new)["keypoints"], theirs)
    adapters.remove()
    assert not model.adapted
    adapters = attach_adapters(model, rank=2, targets="head")
    fit_adapters(model, adapters, x.numpy(), (placed + 0.1).numpy(), steps=2, geometry=tuple(g.numpy() for g in new))
    assert model.adapted
    adapters.remove()
    with torch.no_grad():
        assert not model.adapted and torch.equal(model.eval()(x, geometry=new)["keypoints"], placed)
    training = [copy.deepcopy(m).train() for m in (model, own)]  # copies: a training step moves batch norms
    with torch.no_grad():  # training batches come from the rooms it is trained in: nothing is moved
        assert torch.equal(*(m(x, geometry=new)["keypoints"] for m in training))
    model.seen_rooms = None  # no rooms recorded (a checkpoint of an older csipose): the model places everyone
    with torch.no_grad():
        assert torch.equal(model(x, geometry=new)["keypoints"], theirs)
    own.seen_rooms = geometry_rows(*trained)[:1]  # rooms without new_room_root change nothing either
    with torch.no_grad():
        assert torch.equal(own(x, geometry=new)["keypoints"], theirs)
    for wrong, needle in (({"anchor": False}, "anchor = False"), ({"new_room_root": [17]}, r"got \[17\]"),
                          ({"dims": 2}, "dims = 2")):
        with pytest.raises(ConfigError, match=f"new_room_root: .*{needle}"):
            build_model(**{**settings, "new_room_root": [0], **wrong})


def test_a_run_records_its_rooms_and_places_the_unseen_room_on_the_anchor_floor(tmp_path: Path) -> None:
    from csipose.metrics import root_joints
    from csipose.skeletons import get_skeleton
    from csipose.train.data import model_settings, seen_rooms

    torch.manual_seed(0)
    _train(tiny(tmp_path / "run", "epochs=1", "synthetic.val_subjects=[1]"))  # subject 1 of room 1 held out too
    model, config = load_model(tmp_path / "run" / "last.pt", "cpu")
    root = list(root_joints(get_skeleton(config.skeleton)))
    assert config.new_room_floor == "auto" and model.new_room_root == tuple(root)
    train, val = load_split(config, "train"), load_split(config, "val")
    assert model.seen_rooms is not None and torch.equal(model.seen_rooms, seen_rooms(train))
    assert model.seen_rooms.shape[0] == 3  # rooms 1-3; room 4 held out
    environment = np.array([int(val[i]["environment"]) for i in range(len(val))])
    assert set(environment) == {1, 4}
    windows = torch.from_numpy(np.stack([val[i]["csi"] for i in range(len(val))]))
    geometry = tuple(torch.from_numpy(np.stack([np.asarray(val[i][k]) for i in range(len(val))]))
                     for k in ("tx", "rx", "floor"))
    with torch.no_grad():
        placed = model(windows, geometry=geometry)["keypoints"]
        model.seen_rooms = None
        theirs = model(windows, geometry=geometry)["keypoints"]
    new = environment == 4
    assert torch.equal(placed[~new], theirs[~new])  # the training rooms' held-out subjects: as the model says
    anchor = torch.from_numpy(sample_anchors(val)).float()
    assert torch.allclose(placed[new], on_anchor_floor(theirs[new], anchor[new], model.mean_pose, root), atol=1e-5)
    assert not torch.allclose(placed[new], theirs[new], atol=1e-3)
    predictor = Predictor.load(tmp_path / "run" / "last.pt")  # predicts as the model it loads
    room = tuple(a.numpy() for a in geometry)
    assert predictor.new_room_floor == "anchor"
    assert np.allclose(predictor.predict_windows(windows.numpy(), geometry=room), placed.numpy(), atol=1e-5)
    # switched at prediction time, on loading or after: the same weights' own placement, and back
    own = Predictor.load(tmp_path / "run" / "last.pt", new_room_floor="model")
    assert own.new_room_floor == "model"
    assert np.allclose(own.predict_windows(windows.numpy(), geometry=room), theirs.numpy(), atol=1e-5)
    predictor.new_room_floor = "model"
    assert np.allclose(predictor.predict_windows(windows.numpy(), geometry=room), theirs.numpy(), atol=1e-5)
    predictor.new_room_floor = "anchor"
    assert np.allclose(predictor.predict_windows(windows.numpy(), geometry=room), placed.numpy(), atol=1e-5)
    with pytest.raises(ArgumentError, match="new_room_floor: expected 'anchor' or 'model', got 'camera'"):
        predictor.new_room_floor = "camera"
    # the checkpoint records the rooms; a bad record is one clear error
    from csipose.errors import CheckpointError
    from csipose.train import checkpoint as ckpt

    state = ckpt.load_checkpoint(tmp_path / "run" / "last.pt")
    for bad in ([[1.0, 2.0]], torch.zeros(1, 8), torch.full((1, 13), float("nan"))):  # not a tensor, a width, a NaN
        state["seen_rooms"] = bad
        ckpt.save_checkpoint(tmp_path / "bad.pt", state)
        with pytest.raises(CheckpointError, match=r"bad\.pt: seen_rooms is not a float\[K, 3 \+ 3 R \+ 1\] table"):
            load_model(tmp_path / "bad.pt", "cpu")
    del state["seen_rooms"]  # no rooms recorded: only the model's own placement
    ckpt.save_checkpoint(tmp_path / "roomless.pt", state)
    assert Predictor.load(tmp_path / "roomless.pt").new_room_floor == "model"
    with pytest.raises(ArgumentError, match=r"new_room_floor: .*roomless\.pt records no training rooms to tell a new"):
        Predictor.load(tmp_path / "roomless.pt", new_room_floor="anchor")
    # "model" keeps the model's own place; "anchor" needs a model on the link anchor
    assert "new_room_root" not in model_settings(tiny(tmp_path, "new_room_floor=model"), val)
    assert "new_room_root" not in model_settings(tiny(tmp_path, "anchor=none"), val)
    with pytest.raises(ConfigError, match=r"new_room_floor: anchor needs a model on the link anchor \(.*\); set new_"):
        model_settings(tiny(tmp_path, "anchor=none", "new_room_floor=anchor"), val)
    # 2-D joints stay on the anchor and keep their place ("auto"); "anchor" asks for 3-D ones
    flat = model_settings(tiny(tmp_path, "keypoint_dims=2"), val)
    assert flat["anchor"] is True and "new_room_root" not in flat
    build_model(**flat)
    with pytest.raises(ConfigError, match=r"new_room_floor: anchor needs 3-D joints \(keypoint_dims = 3, got 2\)"):
        model_settings(tiny(tmp_path, "keypoint_dims=2", "new_room_floor=anchor"), val)
    # a run recorded before the setting placed the person itself
    recorded = config.to_dict()
    del recorded["new_room_floor"]
    assert TrainingConfig.from_dict(recorded, recorded=True).new_room_floor == "model"
    with pytest.raises(ConfigError, match="new_room_floor: must be one of auto, anchor, model, got 'camera'"):
        TrainingConfig().with_overrides(["new_room_floor=camera"]).validate()


def test_anchor_auto_follows_the_samples_and_misuse_is_one_clear_error(tmp_path: Path) -> None:
    from csipose.train.data import model_settings

    val = SyntheticCsiDataset(SyntheticConfig(**ROOMS), "val")
    assert model_settings(tiny(tmp_path), val)["anchor"] is True
    assert "anchor" not in model_settings(tiny(tmp_path, "anchor=none"), val)
    plain = SyntheticCsiDataset(SyntheticConfig(subjects=2, val_subjects=(2,), frames=4, actions=("wave",)), "val")
    assert "anchor" not in model_settings(TrainingConfig(), plain)
    with pytest.raises(ConfigError, match="anchor: link needs the room geometry .*set anchor = none"):
        model_settings(TrainingConfig().with_overrides(["anchor=link"]), plain)
    with pytest.raises(ConfigError, match="anchor: must be one of auto, link, none, got 'camera'"):
        TrainingConfig().with_overrides(["anchor=camera"]).validate()
    with pytest.raises(ConfigError, match="persons: .*anchor = link"):
        TrainingConfig().with_overrides(["anchor=link", "persons=2"]).validate()


def test_readout_and_test_time_norm_auto_follow_the_link_anchor_and_true_or_false_decides(tmp_path: Path) -> None:
    from csipose.domain import RoomNormalised
    from csipose.train.data import model_settings

    rooms = SyntheticCsiDataset(SyntheticConfig(**ROOMS), "val")
    plain = SyntheticCsiDataset(SyntheticConfig(subjects=2, val_subjects=(2,), frames=4, actions=("wave",)), "val")
    assert TrainingConfig().readout == "auto"
    assert model_settings(tiny(tmp_path), rooms)["readout"] is False  # anchored
    assert model_settings(tiny(tmp_path, "anchor=none"), rooms)["readout"] is True
    assert model_settings(tiny(tmp_path, "readout=true"), rooms)["readout"] is True
    assert model_settings(TrainingConfig(), plain)["readout"] is True  # no geometry: no anchor
    assert model_settings(TrainingConfig().with_overrides(["readout=false"]), plain)["readout"] is False
    # test-time normalisation: on the link anchor (with environment ids), else off
    assert TrainingConfig().test_time_norm == "auto"
    assert isinstance(load_split(tiny(tmp_path), "train"), RoomNormalised)
    assert not isinstance(load_split(tiny(tmp_path, "anchor=none"), "train"), RoomNormalised)
    assert not isinstance(load_split(tiny(tmp_path, "test_time_norm=false"), "train"), RoomNormalised)
    assert isinstance(load_split(tiny(tmp_path, "anchor=none", "test_time_norm=true"), "train"), RoomNormalised)
    assert not isinstance(load_split(TrainingConfig().with_overrides(["synthetic.subjects=2", "synthetic.val_subjects=[2]",
                                                                      "synthetic.frames=4"]), "val"), RoomNormalised)
    # as every other switch takes them: true or false words (and "auto")
    assert TrainingConfig().with_overrides(["readout=yes", "test_time_norm=off"]).test_time_norm is False
    assert TrainingConfig().with_overrides(["readout=on"]).readout is True
    assert TrainingConfig().with_overrides(["readout=false", "readout='auto'"]).readout == "auto"
    for wrong in ("readout=maybe", "readout=2", "test_time_norm=none"):
        with pytest.raises(ConfigError, match=f"{wrong.split('=')[0]}: must be true, false or auto, got"):
            TrainingConfig().with_overrides([wrong])


def test_cleaning_auto_takes_the_log_where_rooms_are_standardised_and_old_runs_keep_the_official(tmp_path: Path) -> None:
    from csipose.data.cleaning import log_amplitude
    from csipose.data.synthetic import render
    from csipose.domain import GEOMETRY
    from csipose.train.data import amplitude_cleaning, source_keys

    plain = TrainingConfig().with_overrides(["synthetic.subjects=2", "synthetic.val_subjects=[2]", "synthetic.frames=4"])
    assert TrainingConfig().cleaning == "auto"
    assert amplitude_cleaning(tiny(tmp_path)) == "log"  # anchored, so standardised by room
    assert amplitude_cleaning(tiny(tmp_path, "anchor=none")) == "official"
    assert amplitude_cleaning(tiny(tmp_path, "test_time_norm=false")) == "official"
    assert amplitude_cleaning(tiny(tmp_path, "anchor=none", "test_time_norm=true")) == "log"
    assert amplitude_cleaning(tiny(tmp_path, "cleaning=raw")) == "raw"
    assert amplitude_cleaning(plain) == "official"  # the default one-room data keeps its bytes
    assert amplitude_cleaning(plain.with_overrides(["cleaning=log"])) == "log"
    assert amplitude_cleaning(TrainingConfig().with_overrides(["data=mmfi", "mmfi_root=x"])) == "official"
    assert amplitude_cleaning(TrainingConfig().with_overrides(["data=mmfi", "mmfi_root=x", "test_time_norm=true"])) == "log"
    # the keys the resolution assumes are the keys the samples carry
    for config in (tiny(tmp_path), plain):
        sample = load_split(config, "val")[0]
        assert "environment" in sample and all((k in sample) == (k in source_keys(config)) for k in GEOMETRY)
    # the windows are the log amplitude (standardised by room), and the checkpoints record it
    val = load_split(tiny(tmp_path), "val").dataset  # the windows under the room standardisation
    assert val.preprocess.cleaning == "log" and load_split(plain, "val").preprocess.cleaning == "official"
    seq = next(iter(render(val.config, val.config.held_out_subjects[:1])))
    first = int(np.flatnonzero((val.subject == seq.subject) & (val.action == seq.action))[0])
    assert np.array_equal(val.csi[first : first + 4, :3], log_amplitude(seq.amplitude))
    # a run of csipose before the key cleaned as MM-Fi does; its recorded config says so
    recorded = tiny(tmp_path).to_dict()
    del recorded["cleaning"]
    assert TrainingConfig.from_dict(recorded, recorded=True).cleaning == "official"
    assert TrainingConfig.from_dict(recorded).cleaning == "auto"
    with pytest.raises(ConfigError, match="cleaning: must be one of auto, official, raw, log, got 'minmax'"):
        TrainingConfig().with_overrides(["cleaning=minmax"]).validate()


def test_an_anchored_run_fits_relative_to_the_anchor_and_predicts_the_same_reloaded(tmp_path: Path) -> None:
    torch.manual_seed(0)
    _train(tiny(tmp_path / "run"))
    model, config = load_model(tmp_path / "run" / "best.pt", "cpu")
    assert model.anchor and model.settings["anchor"] is True
    assert model.readout is None and model.settings["readout"] is False  # readout = auto
    train, val = load_split(config, "train"), load_split(config, "val")
    relative = train.label_keypoints() - sample_anchors(train)[:, None, :]
    assert np.allclose(model.mean_pose.numpy(), relative.mean(axis=0), atol=1e-5)
    assert np.allclose(mean_pose(train, anchor=True), model.mean_pose.numpy(), atol=1e-6)
    # the run's mean-pose baseline is the mean pose on each val sample's anchor
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    placed = model.mean_pose.numpy().astype(np.float64) + sample_anchors(val)[:, None, :]
    expected = score(placed, val.label_keypoints(), np.ones(placed.shape[:2], np.float32)).to_dict()
    assert summary["mean_pose_baseline"]["pck"] == pytest.approx(expected["pck"])
    assert summary["mean_pose_baseline"]["mpjpe"] == pytest.approx(expected["mpjpe"])
    assert "pck" in summary["linear_baseline"]  # fitted for the baseline alone
    # the predictor takes (tx, rx, floor) per room or per window, and says what it needs
    predictor = Predictor.load(tmp_path / "run" / "best.pt")
    assert predictor.geometry_inputs == ("tx", "rx", "floor")
    windows = np.stack([val[i]["csi"] for i in range(6)])
    tx, rx, floor = val.geometry[4]
    with torch.no_grad():
        direct = model(torch.from_numpy(windows), geometry=(torch.from_numpy(np.tile(tx, (6, 1))),
                       torch.from_numpy(np.tile(rx, (6, 1, 1))), torch.full((6,), float(floor))))["keypoints"]  # fmt: skip
    assert np.allclose(predictor.predict_windows(windows, geometry=(tx, rx, floor)), direct.numpy(), atol=1e-6)
    per_window = (np.tile(tx, (6, 1)), np.tile(rx, (6, 1, 1)), np.full(6, floor, np.float32))
    assert np.allclose(predictor.predict_windows(windows, geometry=per_window), direct.numpy(), atol=1e-6)
    with pytest.raises(ArgumentError, match="geometry: .*floor"):
        predictor.predict_windows(windows, geometry=(tx, rx))
    # a stream in the room predicts as predict does on the same frames
    from csipose.data.synthetic import render

    seq = next(iter(render(val.config, val.config.held_out_subjects[:1])))
    assert predictor.room_normalised and sorted(predictor.room_statistics) == [1, 2, 3]  # test_time_norm = auto
    stream = predictor.stream(geometry=(tx, rx, floor), room=(seq.amplitude[:8], seq.phase[:8]))
    pushed = [stream.push(a, p) for a, p in zip(seq.amplitude[:8], seq.phase[:8])]
    whole = predictor.predict(seq.amplitude[:8], seq.phase[:8], geometry=(tx, rx, floor))
    assert np.allclose(np.stack([p for p in pushed if p is not None]), whole, atol=1e-5)
    with pytest.raises(ShapeError, match="geometry: expected tx"):
        predictor.predict_windows(windows, geometry=(tx, rx, np.zeros(2, np.float32)))
    with pytest.raises(ArgumentError, match="geometry: floor holds a NaN"):
        predictor.predict_windows(windows, geometry=(tx, rx, np.float32("nan")))
    pytest.importorskip("onnxruntime")
    from csipose.export import export_onnx

    with pytest.raises(ArgumentError, match="anchored model .* predict with the .pt checkpoint"):
        export_onnx(tmp_path / "run" / "best.pt", tmp_path / "m.onnx")


def test_an_anchored_run_without_test_time_norm_streams_uncalibrated(tmp_path: Path) -> None:
    from csipose.data.synthetic import render
    from csipose.domain import RoomNormalised
    from csipose.infer_cli import recorded_split
    from csipose.train import checkpoint as ckpt

    torch.manual_seed(0)
    _train(tiny(tmp_path / "run", "test_time_norm=false"))
    best = tmp_path / "run" / "best.pt"
    predictor = Predictor.load(best)
    assert not predictor.room_normalised and predictor.room_statistics is None
    assert not isinstance(recorded_split(predictor), RoomNormalised)
    val = SyntheticCsiDataset(SyntheticConfig(**ROOMS), "val")
    seq = next(iter(render(val.config, val.config.held_out_subjects[:1])))
    room = val.geometry[4]
    stream = predictor.stream(geometry=room)
    pushed = np.stack([stream.push(a, p) for a, p in zip(seq.amplitude[:6], seq.phase[:6])])
    assert np.allclose(pushed, predictor.predict(seq.amplitude[:6], seq.phase[:6], geometry=room), atol=1e-5)
    with pytest.raises(ArgumentError, match="room: .* was not trained with test_time_norm; it takes no room calibration"):
        predictor.stream(geometry=room, room=1)
    # a checkpoint of a csipose that recorded test_time_norm = true without storing the rooms' statistics
    state = ckpt.load_checkpoint(best)
    state["config"]["test_time_norm"] = True
    ckpt.save_checkpoint(tmp_path / "older.pt", state)
    older = Predictor.load(tmp_path / "older.pt")
    assert older.room_normalised and isinstance(recorded_split(older), RoomNormalised)
    with pytest.raises(ShapeError, match=r"room: the calibration frames: amplitude: expected \[F, 3, S, 10\]"):
        older.stream(geometry=room, room=np.zeros((4, 2)))


def test_eval_and_adapt_of_an_anchored_run_read_the_geometry(tmp_path: Path) -> None:
    _train(tiny(tmp_path / "run", "epochs=1"))
    best = tmp_path / "run" / "best.pt"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    shown = csipose("eval", "--checkpoint", str(best), "--by", "environment", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["pck"] == pytest.approx(summary["model"]["pck"], abs=1e-6)
    # the same weights placing the person themselves: the unseen room's root moves, its shapes do not
    own = csipose("eval", "--checkpoint", str(best), "--by", "environment", "--json", "--new-room-floor", "model",
                  cwd=tmp_path)  # fmt: skip
    assert own.returncode == 0, own.stderr
    rooms, own_rooms = (json.loads(done.stdout)["by"]["environment"] for done in (shown, own))
    assert set(rooms) == {"4"}  # rooms 1-3 hold no held-out subject in this run
    assert own_rooms["4"]["root_error"] != pytest.approx(rooms["4"]["root_error"], abs=1e-4)
    assert own_rooms["4"]["pa_mpjpe"] == pytest.approx(rooms["4"]["pa_mpjpe"], abs=1e-6)  # the same shapes
    # predict from raw frames of room 4 with the room's geometry in a file
    from csipose.data.synthetic import render

    val = load_split(load_model(best, "cpu")[1], "val")
    seq = next(iter(render(val.config, val.config.held_out_subjects[:1])))  # room 4's first
    assert seq.environment == 4
    np.savez(tmp_path / "rec.npz", amplitude=seq.amplitude, phase=seq.phase)
    tx, rx, floor = val.geometry[4]
    (tmp_path / "room.json").write_text(json.dumps({"tx": tx.tolist(), "rx": rx.tolist(), "floor": float(floor)}))
    done = csipose("predict", "--model", str(best), "--input", str(tmp_path / "rec.npz"), "--geometry",
                   str(tmp_path / "room.json"), "--out", str(tmp_path / "p.npz"), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = Predictor.load(best).predict(seq.amplitude, seq.phase, geometry=(tx, rx, floor))
    assert np.allclose(np.load(tmp_path / "p.npz")["keypoints"], expected, atol=1e-5)
    missing = csipose("predict", "--model", str(best), "--input", str(tmp_path / "rec.npz"), "--out",
                      str(tmp_path / "q.npz"), cwd=tmp_path)  # fmt: skip
    one_line_error(missing, "--geometry:", "needs the room geometry (tx, rx, floor)")
    (tmp_path / "bad.json").write_text(json.dumps({"tx": [0, 0], "rx": rx.tolist(), "floor": 1.0}))
    bad = csipose("predict", "--model", str(best), "--input", str(tmp_path / "rec.npz"), "--geometry",
                  str(tmp_path / "bad.json"), "--out", str(tmp_path / "q.npz"), cwd=tmp_path)  # fmt: skip
    one_line_error(bad, "--geometry", "bad.json: tx must be [x, y, z]")
    for name, room, needle in (("one.json", {"tx": tx.tolist(), "rx": rx[:1].tolist(), "floor": 1.0},
                                "rx lists 1 receive antenna(s), but"),
                               ("far.json", {"tx": tx.tolist(), "rx": rx.tolist(), "floor": 1e300},
                                "floor must be one number of finite numbers")):  # no overflow warning line
        (tmp_path / name).write_text(json.dumps(room))
        bad = csipose("eval", "--checkpoint", str(best), "--input", str(tmp_path / "rec.npz"), "--geometry",
                      str(tmp_path / name), cwd=tmp_path)  # fmt: skip
        one_line_error(bad, f"--geometry {tmp_path / name}: {needle}")
    adapted = csipose("adapt", "--checkpoint", str(best), "--shots", "4", "--steps", "5", "--out", str(tmp_path / "a"),
                      cwd=tmp_path)
    assert adapted.returncode == 0, adapted.stderr
    assert "mean pose" in adapted.stdout and (tmp_path / "a" / "adapter.pt").is_file()
    clash = csipose("eval", "--checkpoint", str(best), "--adapter", str(tmp_path / "a" / "adapter.pt"),
                    "--new-room-floor", "anchor", cwd=tmp_path)  # fmt: skip
    one_line_error(clash, "new_room_floor: an adapter is on the model, which places the person in its own room")


# ------------------------------------------------------------------------ the geometry file
ROOM = {"tx": [-2.3, -0.1, 2.3], "rx": [[2.3, 0.8, 2.0], [2.3, -0.1, 2.3], [2.3, -1.1, 2.6]], "floor": 1.1}


@pytest.fixture(scope="module")
def room_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Predictor]:
    """Untrained anchored and geometry-FiLM predictors of CSI of 3 receive antennas, by their setting."""
    from csipose.data import Preprocess
    from csipose.train import checkpoint as ckpt

    pre, folder, models = Preprocess(subcarriers=30, window=1), tmp_path_factory.mktemp("rooms"), {}
    for setting in ("anchor", "geometry_film"):
        model = build_model(model="tcn", shape=pre.input_shape, groups=2, width=16, heads=2, **{setting: True})
        ckpt.save_checkpoint(folder / f"{setting}.pt", {
            "format": ckpt.FORMAT, "model": model.state_dict(), "model_settings": model.settings,
            "preprocess": pre.to_dict(), "config": TrainingConfig().to_dict(), "epoch": 0, "step": 0,
        })  # fmt: skip
        models[setting] = Predictor.load(folder / f"{setting}.pt")
    return models


@pytest.mark.parametrize(
    "room, message",
    [
        ({**ROOM, "floor": True}, "floor must be one number of finite numbers, got True"),
        ({**ROOM, "floor": "1.1"}, "floor must be one number of finite numbers, got '1.1'"),
        ({**ROOM, "tx": ["-2.3", "-0.1", "2.3"]}, "tx must be [x, y, z] of finite numbers, got ['-2.3'"),
        ({**ROOM, "tx": [0, False, 1]}, "tx must be [x, y, z] of finite numbers"),
        ({**ROOM, "rx": [[2.3, 0.8, "2.0"]] * 3}, "rx must be [[x, y, z], ...] of finite numbers"),
        ({**ROOM, "floor": 1e300}, "floor must be one number of finite numbers, got 1e+300"),
        ({**ROOM, "tx": [0, 0, 1e39]}, "tx must be [x, y, z] of finite numbers"),  # finite in float64 only
        ({**ROOM, "rx": ROOM["rx"][:1]}, "rx lists 1 receive antenna(s), but {model} was trained with 3"),
        ([ROOM], "expected a JSON object with tx, rx, floor, got an array"),
    ],
    ids=["floor-bool", "floor-string", "tx-strings", "tx-bool", "rx-string", "floor-overflow", "tx-float32-overflow",
         "rx-one-antenna", "array"],
)
def test_a_bad_geometry_file_is_one_clear_error_and_no_warning(room_models: dict[str, Predictor], tmp_path: Path,
                                                               room: object, message: str) -> None:
    predictor = room_models["anchor"]
    path = tmp_path / "room.json"
    path.write_text(json.dumps(room))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow in the float32 cast was printed before the error
        with pytest.raises(ArgumentError) as err:
            read_geometry(str(path), predictor)
    assert str(err.value).startswith(f"--geometry {path}: " + message.format(model=predictor.path))


def test_the_geometry_file_lists_the_receive_antennas_the_model_was_trained_with(
        room_models: dict[str, Predictor], tmp_path: Path) -> None:
    path = tmp_path / "room.json"
    for rx in (ROOM["rx"][:1], ROOM["rx"] + ROOM["rx"][:1]):
        path.write_text(json.dumps({**ROOM, "rx": rx}))
        for predictor in room_models.values():  # anchored and geometry-FiLM models alike
            with pytest.raises(ArgumentError, match=rf"rx lists {len(rx)} receive antenna\(s\), .* trained with 3 "):
                read_geometry(str(path), predictor)
    path.write_text(json.dumps(ROOM))
    tx, rx, floor = read_geometry(str(path), room_models["anchor"])
    assert tx.dtype == rx.dtype == floor.dtype == np.float32 and rx.shape == (3, 3) and floor == np.float32(1.1)
    assert len(read_geometry(str(path), room_models["geometry_film"])) == 2
