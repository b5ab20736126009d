"""The random-map data families: same people and labels as physics, pose decodable, phase pure noise."""

from __future__ import annotations

import numpy as np
import pytest

from csipose.data.synthetic import FAMILIES, SyntheticConfig, SyntheticCsiDataset
from csipose.data.synthetic.families import pose_code
from csipose.errors import ConfigError
from csipose.ridge import RidgeRegression

BASE = {"subjects": 5, "val_subjects": (5,), "actions": ("walk_in_place", "squat", "wave", "punch"), "frames": 10}


@pytest.fixture(scope="module", params=[f for f in FAMILIES if f != "physics"])
def family(request: pytest.FixtureRequest) -> tuple[SyntheticCsiDataset, SyntheticCsiDataset]:
    config = SyntheticConfig(family=request.param, **BASE)  # type: ignore[arg-type]
    return SyntheticCsiDataset(config, "train"), SyntheticCsiDataset(config, "val")


def test_same_people_actions_and_labels_as_the_physics_family(
    family: tuple[SyntheticCsiDataset, SyntheticCsiDataset],
) -> None:
    train, _ = family
    physics = SyntheticCsiDataset(SyntheticConfig(**BASE), "train")  # type: ignore[arg-type]
    assert train.csi.shape == physics.csi.shape == (4 * 4 * 10, 6, 114, 10)
    for key in ("keypoints", "subject", "action", "environment", "frame"):
        assert np.array_equal(getattr(train, key), getattr(physics, key)), key
    assert not np.allclose(train.csi, physics.csi)
    again = SyntheticCsiDataset(train.config, "train")
    assert np.array_equal(again.csi, train.csi)  # deterministic


def test_pose_is_in_the_amplitude_and_not_in_the_phase(family: tuple[SyntheticCsiDataset, SyntheticCsiDataset]) -> None:
    train, val = family
    y, yv = train.keypoints.reshape(len(train), -1), val.keypoints.reshape(len(val), -1)
    mean_error = np.abs(yv - y.mean(axis=0)).mean()
    for channels, decodable in ((slice(0, 3), True), (slice(3, 6), False)):
        x = train.csi[:, channels].reshape(len(train), -1)
        fit = RidgeRegression.fit(x, y, holdout_groups=train.action)
        error = np.abs(fit.predict(val.csi[:, channels].reshape(len(val), -1)) - yv).mean()
        if decodable:
            assert error < 0.5 * mean_error
        else:
            assert error > 0.95 * mean_error  # pure-noise phase predicts nothing better than the mean


def test_pose_code_is_relative_to_the_stage_in_fixed_units() -> None:
    joints = np.zeros((2, 17, 3))
    joints[1] += [3.4, 2.5, 0.9]
    code = pose_code(joints, np.array([3.0, 2.5]))
    assert code.shape == (2, 51)
    assert np.allclose(code[1].reshape(17, 3), [1.0, 0.0, 0.0])


def test_unknown_family_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="family: expected one of physics, dense_map, subcarrier_mix"):
        SyntheticConfig(family="random")


def test_mmfi_cleaning_keeps_what_carries_the_pose() -> None:
    """Per-frame min-max (MM-Fi's official cleaning) removes a frame's level and range, not the pose:
    ridge on the cleaned amplitude predicts held-out frames about as well as on the raw amplitude."""
    from csipose.data.cleaning import clean_amplitude
    from csipose.data.synthetic import render

    for family in ("dense_map", "subcarrier_mix"):
        config = SyntheticConfig(family=family, **BASE)  # type: ignore[arg-type]
        sequences = list(render(config, (1, 2, 3, 4, 5)))
        raw = np.concatenate([s.amplitude for s in sequences])
        y = np.concatenate([s.keypoints[:, 0] for s in sequences]).reshape(len(raw), -1)
        subject = np.concatenate([np.full(len(s.amplitude), s.subject) for s in sequences])
        held = subject == 5
        errors = {}
        for name, x in (("raw", raw), ("cleaned", clean_amplitude(raw))):
            x = x.reshape(len(x), -1)
            fit = RidgeRegression.fit(x[~held], y[~held], holdout_groups=subject[~held])
            errors[name] = np.abs(fit.predict(x[held]) - y[held]).mean()
        assert errors["cleaned"] < 1.15 * errors["raw"], (family, errors)
