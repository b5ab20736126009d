"""Physics of the synthetic generator against closed-form free-space models."""

from __future__ import annotations

import numpy as np
import pytest

from csipose import HT40_TONES, sanitize_phase
from csipose.data.synthetic import body, generate, radio
from csipose.data.synthetic.config import SyntheticConfig
from csipose.data.synthetic.scenes import Scene, make_scene

C = radio.SPEED_OF_LIGHT
LAMBDA = C / radio.CARRIER_HZ
FREQS = radio.tone_frequencies()


@pytest.fixture(scope="module")
def scene() -> Scene:
    return make_scene(np.random.default_rng(3))


def test_tones_are_ht40_around_the_carrier() -> None:
    assert FREQS.shape == (114,)
    assert np.diff(FREQS).min() == pytest.approx(312_500.0)
    assert FREQS[57] - FREQS[56] == pytest.approx(4 * 312_500.0)  # the DC gap, tones -2 .. +2


def test_line_of_sight_amplitude_is_free_space_and_phase_slope_is_the_delay(scene: Scene) -> None:
    paths = radio.static_paths(scene, walls=False, scatterers=False)
    h = radio.static_channel(np.zeros((1, paths.seg_len.shape[0])), paths, FREQS)[0]  # [R, K]
    for r, rx in enumerate(scene.rx):
        d = np.linalg.norm(rx - scene.tx)
        np.testing.assert_allclose(np.abs(h[r]), LAMBDA / (4 * np.pi * d), rtol=1e-5)
        phase = np.unwrap(np.angle(h[r]).astype(np.float64))
        slope = np.polyfit(FREQS - radio.CARRIER_HZ, phase, 1)[0]
        assert slope == pytest.approx(-2 * np.pi * d / C, rel=1e-4)


def test_wall_reflection_has_the_image_source_length(scene: Scene) -> None:
    paths = radio.static_paths(scene, scatterers=False)
    floor = 1 + 4  # after line of sight: walls x0, x1, y0, y1, floor, ceiling
    image = scene.tx * np.array([1.0, 1.0, -1.0])
    d = np.linalg.norm(scene.rx[1] - image)
    assert paths.delay[1, floor] * C == pytest.approx(d)
    assert paths.gain[1, floor] == pytest.approx(scene.wall_reflectivity[4] * LAMBDA / (4 * np.pi * d))


def test_body_on_the_line_of_sight_shadows_it(scene: Scene) -> None:
    paths = radio.static_paths(scene, walls=False, scatterers=False)
    on_path = 0.5 * (scene.tx + scene.rx[0])
    far = on_path + np.array([0.0, 0.0, 5.0])
    w = np.array([1.0])
    depth_on = radio.shadowing_depth(on_path[None, None], w, paths)
    depth_far = radio.shadowing_depth(far[None, None], w, paths)
    assert depth_on[0, 0] == pytest.approx(radio.BLOCKING_DEPTH, rel=1e-5)
    assert depth_far[0, 0] < 1e-6
    clear = np.abs(radio.static_channel(depth_far, paths, FREQS))[0, 0]
    blocked = np.abs(radio.static_channel(depth_on, paths, FREQS))[0, 0]
    np.testing.assert_allclose(blocked / clear, np.exp(-radio.BLOCKING_DEPTH), rtol=1e-4)


def test_one_body_point_echo_is_the_bistatic_radar_return(scene: Scene) -> None:
    point = np.array([3.0, 2.3, 1.0])
    h = radio.body_channel(np.broadcast_to(point, (1, 1, 1, 3)), np.array([0.5]), scene, FREQS)[0, 0]
    for r, rx in enumerate(scene.rx):
        d1, d2 = np.linalg.norm(point - scene.tx), np.linalg.norm(rx - point)
        expected = LAMBDA * np.sqrt(0.5) / ((4 * np.pi) ** 1.5 * d1 * d2)
        np.testing.assert_allclose(np.abs(h[r]), expected, rtol=1e-5)
        slope = np.polyfit(FREQS - radio.CARRIER_HZ, np.unwrap(np.angle(h[r]).astype(np.float64)), 1)[0]
        assert slope == pytest.approx(-2 * np.pi * (d1 + d2) / C, rel=1e-3)


def test_impairments_leave_amplitude_and_sanitised_phase_alone(scene: Scene) -> None:
    paths = radio.static_paths(scene)
    h = radio.static_channel(np.zeros((4, paths.seg_len.shape[0])), paths, FREQS).reshape(2, 2, 3, 114)
    measured = radio.impair(h, np.random.default_rng(0), snr_db=200.0)
    np.testing.assert_allclose(np.abs(measured), np.abs(h), rtol=1e-5)
    raw = np.angle(measured)
    assert np.ptp(raw[:, :, 0, 0]) > 0.1  # the per-packet offsets are really there
    clean = sanitize_phase(np.angle(h).astype(np.float64), tones=HT40_TONES)
    np.testing.assert_allclose(sanitize_phase(raw.astype(np.float64), tones=HT40_TONES), clean, atol=1e-4)


@pytest.mark.parametrize("action", list(body.ACTIONS))
def test_actions_move_a_rigid_skeleton_standing_on_the_floor(action: str) -> None:
    size = body.Subject(height_scale=1.1, width_scale=1.0)
    times = np.linspace(0.0, 4.0, 81)
    joints = body.pose_sequence(action, size, times, np.array([3.0, 2.5]), 0.3, np.random.default_rng(1))
    assert joints.shape == (81, 17, 3)
    bones = np.array([np.linalg.norm(joints[:, a] - joints[:, b], axis=-1) for a, b in
                      ((1, 2), (2, 3), (4, 5), (5, 6), (11, 12), (12, 13), (14, 15), (15, 16))])
    np.testing.assert_allclose(bones, bones[:, :1].repeat(81, axis=1), rtol=1e-9)
    np.testing.assert_allclose(np.minimum(joints[:, 3, 2], joints[:, 6, 2]), 0.08 * 1.1)
    assert np.ptp(joints[..., :], axis=0).max() > 0.25  # large joint motion
    assert joints[:, 10, 2].max() < 2.3


def test_sequences_do_not_depend_on_what_else_is_generated() -> None:
    a = SyntheticConfig(subjects=3, val_subjects=(3,), actions=("squat",), frames=4)
    b = SyntheticConfig(subjects=12, val_subjects=(3,), actions=("wave", "squat"), frames=4)
    sa = generate.render_sequence(a, 2, "squat")
    sb = generate.render_sequence(b, 2, "squat")
    np.testing.assert_array_equal(sa.amplitude, sb.amplitude)
    np.testing.assert_array_equal(sa.keypoints, sb.keypoints)
