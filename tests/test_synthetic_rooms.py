"""Rooms that differ physically (``room_variation``), rooms by count (``environments``) and
leave-room-out splits (``val_environments``)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csipose.data.synthetic import SyntheticConfig, SyntheticCsiDataset, render_sequence
from csipose.data.synthetic.generate import make_environment
from csipose.data.synthetic.scenes import MATERIALS, make_scene, world_to_camera
from csipose.errors import ConfigError

ROOMS = dict(subjects=8, environments=4, val_subjects=(), val_environments=(4,), room_variation=True,
             actions=("wave",), frames=3)  # fmt: skip


def test_default_keeps_the_fixed_room() -> None:
    """Without ``room_variation`` every room is the fixed box of ``make_scene``, and with the
    new settings at their defaults nothing about the config changes (so neither do its bytes)."""
    config = SyntheticConfig(subjects=4, subjects_per_environment=2, val_subjects=(4,))
    assert (config.room_variation, config.environments, config.val_environments) == (False, None, ())
    assert config.environment_count == 2 and config.split_subjects("val") == (4,)
    assert config.train_subjects == (1, 2, 3)
    for env in (1, 2):
        scene, _ = make_environment(config, env)
        fixed = make_scene(np.random.default_rng(np.random.SeedSequence([0, 0, env])), n_scatterers=40)
        assert np.array_equal(scene.size, [6.0, 5.0, 3.0]) and np.array_equal(scene.tx, [0.7, 2.5, 1.3])
        assert scene.rx_gain_db == 0.0 and scene.rx_phase is None and scene.materials == ()
        for name in ("rx", "wall_reflectivity", "scatterers", "scatterer_rcs", "stage", "camera"):
            assert np.array_equal(getattr(scene, name), getattr(fixed, name)), name
    sample = SyntheticCsiDataset(SyntheticConfig(subjects=2, val_subjects=(2,), actions=("wave",), frames=2))[0]
    assert set(sample) == {"csi", "keypoints", "visibility", "subject", "action", "environment", "frame"}


def test_rooms_differ_and_are_deterministic_per_environment() -> None:
    config = SyntheticConfig(**ROOMS)
    scenes = [make_environment(config, env)[0] for env in range(1, 5)]
    for name in ("size", "tx", "rx", "stage", "camera", "wall_reflectivity", "rx_phase"):
        values = [getattr(s, name) for s in scenes]
        assert all(not np.allclose(values[0], v) for v in values[1:]), name
    assert len({s.rx_gain_db for s in scenes}) == 4
    # the same room whatever else the config asks (subjects, actions, frames, splits)
    other = SyntheticConfig(subjects=20, environments=10, val_subjects=(1,), actions=("squat", "wave"), frames=5,
                            room_variation=True)  # fmt: skip
    again = make_environment(other, 3)[0]
    for name in ("size", "tx", "rx", "stage", "camera", "wall_reflectivity", "scatterers", "rx_phase"):
        assert np.array_equal(getattr(again, name), getattr(scenes[2], name)), name
    assert again.rx_gain_db == scenes[2].rx_gain_db
    # another seed, other rooms
    assert not np.allclose(make_environment(SyntheticConfig(**{**ROOMS, "seed": 1}), 3)[0].size, scenes[2].size)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scatterers=st.integers(0, 60))
def test_rooms_stay_within_their_stated_ranges(seed: int, scatterers: int) -> None:
    config = SyntheticConfig(seed=seed, scatterers=scatterers, room_variation=True)
    scene, _ = make_environment(config, 1)
    size = scene.size
    assert 5.0 <= size[0] <= 8.0 and 4.0 <= size[1] <= 7.0 and 2.6 <= size[2] <= 3.4
    antennas = np.vstack([scene.tx, scene.rx])
    assert np.all(antennas >= 0.3 - 1e-9) and np.all(antennas <= size - 0.3 + 1e-9)
    link = scene.rx[1, :2] - scene.tx[:2]
    assert 3.5 - 1e-9 <= np.linalg.norm(link) <= 6.0 + 1e-9
    assert abs(np.degrees(np.arctan2(link[1], link[0]))) <= 30.0 + 1e-9
    assert 0.2 - 1e-9 <= np.linalg.norm(scene.rx[1, :2] - scene.rx[0, :2]) <= 0.4 + 1e-9
    assert scene.rx[0, 2] < 0.65 and 1.05 < scene.rx[1, 2] < 1.55 and scene.rx[2, 2] > 1.85
    along = np.dot(scene.stage - scene.tx[:2], link) / np.dot(link, link)
    assert 0.4 - 1e-9 <= along <= 0.6 + 1e-9
    assert np.allclose(scene.tx[:2] + along * link, scene.stage)
    assert 0.5 * scatterers - 0.5 <= len(scene.scatterers) <= 1.5 * scatterers + 0.5
    if len(scene.scatterers):
        assert np.all(np.hypot(*(scene.scatterers[:, :2] - scene.stage).T) >= 0.9)
        assert np.all(scene.scatterers <= size - 0.3 + 1e-9)
    for material, gamma in zip(scene.materials, scene.wall_reflectivity):
        low, high = MATERIALS[material]
        assert low <= gamma <= high
    assert -6.0 <= scene.rx_gain_db <= 6.0 and scene.rx_phase.shape == (3,)
    assert scene.camera[0] == scene.stage[0] and scene.camera[1] == 0.2


def test_hardware_effects_reach_the_measured_csi() -> None:
    """The room's gain and antenna phase offsets multiply what the NIC reports (and nothing else changes)."""
    from dataclasses import replace

    config = SyntheticConfig(**ROOMS)
    scene, paths = make_environment(config, 1)
    plain = replace(scene, rx_gain_db=0.0, rx_phase=None)
    with_effects = render_sequence(config, 1, "wave", (scene, paths))
    without = render_sequence(config, 1, "wave", (plain, paths))
    ratio = with_effects.amplitude / without.amplitude
    assert np.allclose(ratio, 10 ** (scene.rx_gain_db / 20), rtol=1e-4)
    turn = np.angle(np.exp(1j * (with_effects.phase - without.phase)))
    assert np.allclose(turn, np.angle(np.exp(1j * scene.rx_phase))[None, :, None, None], atol=1e-3)


def test_samples_carry_the_room_geometry() -> None:
    config = SyntheticConfig(**ROOMS)
    for split in ("train", "val"):
        ds = SyntheticCsiDataset(config, split)
        envs = set()
        for i in range(len(ds)):
            s = ds[i]
            env = int(s["environment"])
            envs.add(env)
            scene, _ = make_environment(config, env)
            assert s["tx"].dtype == np.float32 and s["tx"].shape == (3,) and s["rx"].shape == (3, 3)
            assert np.allclose(s["tx"], world_to_camera(scene.tx, scene), atol=1e-6)
            assert np.allclose(s["rx"], world_to_camera(scene.rx, scene), atol=1e-6)
            # the floor plane z = 0 at camera y = the camera's height (y points down)
            assert s["floor"].dtype == np.float32 and s["floor"].shape == ()
            assert np.isclose(s["floor"], world_to_camera(np.array([0.0, 0.0, 0.0]), scene)[1], atol=1e-6)
        assert envs == ({1, 2, 3} if split == "train" else {4})
    # labels and geometry share the camera frame: the stage is straight ahead of the camera
    scene, _ = make_environment(config, 1)
    seq = render_sequence(config, 1, "wave")
    root = seq.keypoints[:, 0, 0]
    stage = world_to_camera(np.array([*scene.stage, scene.camera[2]]), scene)
    assert np.all(np.abs(root[:, [0, 2]] - stage[[0, 2]]) < 0.3)
    from csipose.data import collate

    batch = collate([ds[0], ds[1]])
    assert tuple(batch["rx"].shape) == (2, 3, 3) and tuple(batch["floor"].shape) == (2,)


def test_environments_assign_subjects_in_blocks() -> None:
    config = SyntheticConfig(subjects=40, environments=4, val_subjects=())
    assert [config.environment_of(s) for s in (1, 10, 11, 20, 21, 30, 31, 40)] == [1, 1, 2, 2, 3, 3, 4, 4]
    uneven = SyntheticConfig(subjects=10, environments=3, val_subjects=())
    rooms = [uneven.environment_of(s) for s in range(1, 11)]
    assert rooms == sorted(rooms) and set(rooms) == {1, 2, 3}
    assert max(rooms.count(e) for e in (1, 2, 3)) - min(rooms.count(e) for e in (1, 2, 3)) <= 1
    # environments overrides subjects_per_environment
    assert SyntheticConfig(subjects=8, environments=2, subjects_per_environment=1, val_subjects=()).environment_count == 2


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_leave_room_out_never_leaks_a_room(data: st.DataObject) -> None:
    subjects = data.draw(st.integers(2, 40))
    by_count = data.draw(st.booleans())
    if by_count:
        rooms_cfg = {"environments": data.draw(st.integers(2, subjects))}
    else:
        rooms_cfg = {"subjects_per_environment": data.draw(st.integers(1, subjects - 1))}
    probe = SyntheticConfig(subjects=subjects, val_subjects=(), **rooms_cfg)
    rooms = probe.environment_count
    held = tuple(data.draw(st.lists(st.integers(1, rooms), min_size=1, max_size=rooms - 1, unique=True)))
    val_subjects = tuple(data.draw(st.lists(st.integers(1, subjects), max_size=subjects, unique=True)))
    try:
        config = SyntheticConfig(subjects=subjects, val_subjects=val_subjects, val_environments=held, **rooms_cfg)
    except ConfigError as err:  # nobody left to train on
        assert "must remain for training" in str(err) or "no training subject remains" in str(err)
        return
    train, val = config.split_subjects("train"), config.split_subjects("val")
    assert train and not set(train) & set(val) and set(train) | set(val) == set(range(1, subjects + 1))
    assert all(config.environment_of(s) not in held for s in train)
    assert {s for s in range(1, subjects + 1) if config.environment_of(s) in held} <= set(val)
    assert set(val_subjects) <= set(val) and list(val) == sorted(val) and list(train) == sorted(train)


@pytest.mark.parametrize(("fields", "needle"), [
    ({"room_variation": 1}, "room_variation: expected true or false"),
    ({"environments": 0}, "environments: expected an integer in 1..8"),
    ({"environments": 9}, "environments: expected an integer in 1..8"),
    ({"environments": 2, "val_environments": (3,)}, "val_environments: expected an integer in 1..2"),
    ({"environments": 2, "val_environments": (1, 2)}, "at least one of the 2 rooms must remain"),
    ({"environments": 4, "val_environments": (2, 2)}, "rooms must not repeat"),
    ({"environments": 4, "val_environments": [2]}, "val_environments: expected a tuple"),
    ({"environments": 2, "val_environments": (2,), "val_subjects": (1, 2, 3, 4)}, "no training subject remains"),
])  # fmt: skip
def test_bad_room_settings_are_config_errors(fields: dict, needle: str) -> None:  # type: ignore[type-arg]
    values = {"subjects": 8, "val_subjects": (), **fields}
    with pytest.raises(ConfigError, match=needle):
        SyntheticConfig(**values)


def test_cli_trains_on_varied_rooms_leaving_one_out(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    args = [
        "--quiet", "--set", "epochs=1", "--set", "warmup_epochs=0", "--set", "width=16", "--set", "depth=1",
        "--set", "heads=2", "--set", "tokens=4", "--set", "batch_size=16", "--set", "plots=false",
        "--set", "synthetic.room_variation=true", "--set", "synthetic.environments=4",
        "--set", "synthetic.val_environments=[4]", "--set", "synthetic.subjects=4", "--set", "synthetic.val_subjects=[]",
        "--set", "synthetic.frames=4", "--set", f"run_dir={tmp_path / 'run'}",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "csipose", "train", *args], capture_output=True, text=True,
                          timeout=300, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "best.pt").exists()
