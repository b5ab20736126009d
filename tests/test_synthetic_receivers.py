"""Several receivers sharing one transmitter (``SyntheticConfig.receivers``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from csipose.data.synthetic import SyntheticConfig, SyntheticCsiDataset, render_sequence
from csipose.data.synthetic.generate import make_environment
from csipose.data.synthetic.scenes import world_to_camera
from csipose.errors import ConfigError, ShapeError

SMALL = dict(subjects=2, val_subjects=(2,), actions=("wave",), frames=3)  # fmt: skip


def test_receivers_face_the_stage_from_the_side_walls() -> None:
    """Receiver 1 is the room's own; 2 and 3 stand 0.3 m from the side walls across from the
    stage, antennas 0.3 m apart along the link at receiver 1's heights; nothing else moves."""
    one, _ = make_environment(SyntheticConfig(**SMALL), 1)
    three, _ = make_environment(SyntheticConfig(**SMALL, receivers=3), 1)
    assert three.rx.shape == (9, 3) and np.array_equal(three.rx[:3], one.rx)
    for k, y in ((1, one.size[1] - 0.3), (2, 0.3)):
        antennas = three.rx[3 * k : 3 * k + 3]
        np.testing.assert_allclose(antennas[:, 0], one.stage[0] + np.array([-0.3, 0.0, 0.3]))
        np.testing.assert_allclose(antennas[:, 1], y)
        np.testing.assert_array_equal(antennas[:, 2], one.rx[:, 2])
    for name in ("tx", "scatterers", "wall_reflectivity", "stage"):
        assert np.array_equal(getattr(three, name), getattr(one, name)), name


def test_the_first_receiver_keeps_its_bytes() -> None:
    """Adding receivers adds antennas: the first receiver's CSI is the one-receiver CSI, bit for bit."""
    one = render_sequence(SyntheticConfig(**SMALL), 1, "wave")
    two = render_sequence(SyntheticConfig(**SMALL, receivers=2), 1, "wave")
    assert one.amplitude.shape[1] == 3 and two.amplitude.shape[1] == 6
    np.testing.assert_array_equal(two.amplitude[:, :3], one.amplitude)
    np.testing.assert_array_equal(two.phase[:, :3], one.phase)
    np.testing.assert_array_equal(two.keypoints, one.keypoints)
    assert not np.allclose(two.amplitude[:, 3:], one.amplitude)


def test_a_varied_rooms_receivers_stand_across_the_link_from_the_stage() -> None:
    """With ``room_variation`` receivers 2 and 3 stand on the line across the link through the
    stage, one each side at the same distance (so the link anchor does not move), at least 0.3 m
    from the walls, antennas 0.3 m apart along the link at receiver 1's heights; the room is the
    one-receiver room, and receiver 1's CSI its CSI bit for bit."""
    from csipose.domain.anchor import link_anchor_numpy
    from csipose.data.synthetic.scenes import make_varied_scene

    for seed in range(20):
        one = make_varied_scene(np.random.default_rng(seed))
        three = make_varied_scene(np.random.default_rng(seed), receivers=3)
        assert three.rx.shape == (9, 3) and three.rx_phase.shape == (9,)
        for name in ("tx", "scatterers", "scatterer_rcs", "wall_reflectivity", "stage", "camera", "size", "materials",
                     "rx_gain_db"):
            assert np.array_equal(getattr(three, name), getattr(one, name)), name
        assert np.array_equal(three.rx[:3], one.rx) and np.array_equal(three.rx_phase[:3], one.rx_phase)
        link = one.rx[:, :2].mean(axis=0) - one.tx[:2]
        u = link / np.linalg.norm(link)
        sides = three.rx[3:, :2].reshape(2, 3, 2) - one.stage
        along, across = sides @ u, sides @ np.array([-u[1], u[0]])
        np.testing.assert_allclose(along, np.broadcast_to([-0.3, 0.0, 0.3], (2, 3)), atol=1e-12)
        assert np.ptp(across[0]) < 1e-12 and np.ptp(across[1]) < 1e-12
        np.testing.assert_allclose(across[0], -across[1], atol=1e-12)
        assert across[0, 0] > 1.0  # clear of the person on the stage
        assert np.all(three.rx[:, :2] >= 0.3 - 1e-9) and np.all(three.rx[:, :2] <= three.size[:2] - 0.3 + 1e-9)
        np.testing.assert_array_equal(three.rx[3:6, 2], one.rx[:, 2])
        camera = lambda p: world_to_camera(p, one)  # noqa: E731
        np.testing.assert_allclose(link_anchor_numpy(camera(one.tx)[None], camera(three.rx)[None], [1.0]),
                                   link_anchor_numpy(camera(one.tx)[None], camera(one.rx)[None], [1.0]), atol=1e-9)
    rooms = dict(SMALL, room_variation=True)
    one_seq = render_sequence(SyntheticConfig(**rooms), 1, "wave")
    three_seq = render_sequence(SyntheticConfig(**rooms, receivers=3), 1, "wave")
    np.testing.assert_array_equal(three_seq.amplitude[:, :3], one_seq.amplitude)
    np.testing.assert_array_equal(three_seq.phase[:, :3], one_seq.phase)
    assert three_seq.rx.shape == (9, 3) and not np.allclose(three_seq.amplitude[:, 3:6], three_seq.amplitude[:, 6:])


def test_each_receiver_has_its_own_clock() -> None:
    """Within one receiver the packets' phase offset cancels in the conjugate product of two
    antennas (steady across packets); across receivers it does not."""
    seq = render_sequence(SyntheticConfig(**SMALL, receivers=3), 1, "wave")
    h = seq.amplitude * np.exp(1j * seq.phase)  # [T, 9, 114, P]

    def steadiness(a: int, b: int) -> float:
        product = h[:, a] * np.conj(h[:, b])
        return float(np.abs(np.mean(product / np.abs(product), axis=-1)).mean())  # 1: the same every packet

    for first in (0, 3, 6):
        assert steadiness(first, first + 1) > 0.95
    for a, b in ((0, 3), (1, 7), (4, 8)):
        assert steadiness(a, b) < 0.6


def test_samples_hold_every_receivers_antennas() -> None:
    sample = SyntheticCsiDataset(SyntheticConfig(**SMALL, receivers=3))[0]
    assert sample["csi"].shape == (1, 18, 114, 10)
    assert SyntheticConfig(receivers=2, features=("amplitude",)).channels == 6


@pytest.mark.parametrize(("fields", "needle"), [
    ({"receivers": 0}, "receivers: expected an integer in 1..3"),
    ({"receivers": 4}, "receivers: expected an integer in 1..3"),
    ({"receivers": 2, "family": "dense_map"}, "several receivers need family 'physics', got 'dense_map'"),
    ({"receivers": 2, "room_variation": True}, "2 receivers in a varied room stand on one side of the link"),
    ({"receivers": 3, "features": ("conjugate",)}, "conjugate products pair antennas of one receiver's clock"),
])  # fmt: skip
def test_bad_receiver_settings_are_config_errors(fields: dict, needle: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=needle):
        SyntheticConfig(**{**SMALL, **fields})


def test_an_mmfi_tree_refuses_several_receivers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from csipose.data.synthetic import write_mmfi_tree

    with pytest.raises(ConfigError, match="one receiver's three antennas"):
        write_mmfi_tree(tmp_path, SyntheticConfig(**SMALL, receivers=2))


def test_cli_trains_and_scores_with_two_receivers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A model of six antennas trains, is scored, and predicts only six-antenna frames."""
    pytest.importorskip("torch")
    run = tmp_path / "run"
    args = [
        "--quiet", "--set", "epochs=1", "--set", "width=16", "--set", "depth=1", "--set", "heads=2",
        "--set", "tokens=4", "--set", "batch_size=16", "--set", "plots=false", "--set", "synthetic.receivers=2",
        "--set", "synthetic.subjects=4", "--set", "synthetic.subjects_per_environment=4",
        "--set", "synthetic.val_subjects=[4]", "--set", "synthetic.frames=4", "--set", f"run_dir={run}",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "csipose", "train", *args], capture_output=True, text=True,
                          timeout=300, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-m", "csipose", "eval", "--checkpoint", str(run / "best.pt"), "--json"],
                          capture_output=True, text=True, timeout=300, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["frames"] == 32  # subject 4's 8 actions x 4 frames

    from csipose.infer import Predictor

    predictor = Predictor.load(run / "best.pt")
    assert predictor.preprocess.antennas == 6
    frames = np.ones((2, 6, 114, 10), np.float32)
    assert predictor.predict(frames, frames).shape == (2, 17, 3)
    with pytest.raises(ShapeError, match="expected 6 receive antennas"):
        predictor.predict(frames[:, :3], frames[:, :3])
