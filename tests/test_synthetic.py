"""The synthetic generator: sample contract, determinism, configuration errors."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

import csipose
from csipose.data.synthetic import ACTIONS, SyntheticConfig, SyntheticCsiDataset
from csipose.errors import ArgumentError, ConfigError, DatasetError

SMALL = SyntheticConfig(subjects=3, val_subjects=(3,), actions=("squat", "wave"), frames=6)


def _digest(ds: SyntheticCsiDataset) -> str:
    h = hashlib.sha256()
    for a in (ds.csi, ds.keypoints, ds.subject, ds.action, ds.environment, ds.frame):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def small_train() -> SyntheticCsiDataset:
    return SyntheticCsiDataset(SMALL, split="train")


def test_sample_follows_the_contract(small_train: SyntheticCsiDataset) -> None:
    assert len(small_train) == 2 * 2 * 6
    s = small_train[0]
    assert set(s) == {"csi", "keypoints", "visibility", "subject", "action", "environment", "frame"}
    assert s["csi"].dtype == np.float32 and s["csi"].shape == (1, 6, 114, 10)
    assert s["keypoints"].dtype == np.float32 and s["keypoints"].shape == (17, 3)
    assert s["visibility"].dtype == np.float32 and np.array_equal(s["visibility"], np.ones(17))
    for key in ("subject", "action", "environment", "frame"):
        assert isinstance(s[key], np.int64)
    assert s["subject"] == 1 and s["environment"] == 1 and s["frame"] == 1
    assert s["action"] == list(ACTIONS).index("squat") + 1
    amp, phase = small_train.csi[:, :3], small_train.csi[:, 3:]
    assert np.all(np.isfinite(small_train.csi))
    assert amp.min(axis=(1, 2, 3)) == pytest.approx(0.0) and amp.max(axis=(1, 2, 3)) == pytest.approx(1.0)
    # Sanitised phase: zero mean along tones in every row.
    assert np.abs(phase.mean(axis=2)).max() < 1e-4


def test_default_collate_accepts_samples(small_train: SyntheticCsiDataset) -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate

    batch = default_collate([small_train[i] for i in range(4)])
    assert tuple(batch["csi"].shape) == (4, 1, 6, 114, 10)
    assert batch["subject"].dtype == torch.int64


def test_same_seed_same_bytes_other_seed_differs(small_train: SyntheticCsiDataset) -> None:
    again = SyntheticCsiDataset(SMALL, split="train")
    assert _digest(again) == _digest(small_train)
    other = SyntheticCsiDataset(SyntheticConfig(**{**SMALL.__dict__, "seed": 1}), split="train")
    assert _digest(other) != _digest(small_train)


def test_val_split_holds_the_held_out_subjects() -> None:
    val = SyntheticCsiDataset(SMALL, split="val")
    assert set(val.subject.tolist()) == {3}
    assert len(val) == 2 * 6


def test_window_and_features_and_subcarriers() -> None:
    cfg = SyntheticConfig(subjects=2, val_subjects=(2,), actions=("turn",), frames=5, window=3,
                          features=("amplitude",), subcarriers=56)
    ds = SyntheticCsiDataset(cfg)
    assert len(ds) == 3
    s = ds[0]
    assert s["csi"].shape == (3, 3, 56, 10)
    assert s["frame"] == 3
    np.testing.assert_array_equal(s["csi"], ds.csi[0:3])
    np.testing.assert_array_equal(ds[-1]["keypoints"], ds.keypoints[-1])


def test_indexing_behaves_like_a_sequence() -> None:
    cfg = SyntheticConfig(subjects=2, val_subjects=(2,), actions=("turn",), frames=5, window=3,
                          features=("amplitude",))
    ds = SyntheticCsiDataset(cfg)
    assert len(ds) == 3
    # negative indices count from the end
    for i in range(-3, 0):
        np.testing.assert_array_equal(ds[i]["csi"], ds[i + 3]["csi"])
        assert ds[i]["frame"] == ds[i + 3]["frame"]
    np.testing.assert_array_equal(ds[np.int64(1)]["csi"], ds[1]["csi"])
    for bad in (3, 4, -4, 10**9):
        with pytest.raises(IndexError, match=f"index {bad} is out of range"):
            ds[bad]
    with pytest.raises(ArgumentError, match="index: expected an integer"):
        ds[1.0]  # type: ignore[index]
    # the legacy iteration protocol stops at the first IndexError
    frames = [s["frame"] for s in ds]
    assert frames == [3, 4, 5]
    assert len(list(iter(ds))) == len(ds)


def test_persons_key_for_multi_person_scenes() -> None:
    cfg = SyntheticConfig(subjects=2, val_subjects=(2,), actions=("wave",), frames=2, persons=2)
    s = SyntheticCsiDataset(cfg)[0]
    assert s["persons"].shape == (2, 17, 3) and s["persons"].dtype == np.float32
    np.testing.assert_array_equal(s["persons"][0], s["keypoints"])
    assert np.linalg.norm(s["persons"][1, 0] - s["persons"][0, 0]) > 0.5


def test_the_label_can_follow_a_bystander() -> None:
    cfg = SyntheticConfig(subjects=2, val_subjects=(2,), actions=("wave",), frames=2, persons=2)
    subject, bystander = SyntheticCsiDataset(cfg), SyntheticCsiDataset(dataclasses.replace(cfg, labelled_person=1))
    np.testing.assert_array_equal(bystander.csi, subject.csi)  # the same room, only the label moves
    np.testing.assert_array_equal(bystander.label_keypoints(), subject.persons[subject.label_index, 1])
    assert bystander[0]["subject"] == subject[0]["subject"]
    # and they are the rooms of two labelled people, so one-person models score the same scenes
    both = SyntheticCsiDataset(dataclasses.replace(cfg, persons=1, people=(2,)))
    np.testing.assert_array_equal(both.csi, subject.csi)
    np.testing.assert_array_equal(both.persons, subject.persons)
    with pytest.raises(ConfigError, match=r"labelled_person: a room of persons = 2 has people 0\.\.1, got 2"):
        dataclasses.replace(cfg, labelled_person=2)
    with pytest.raises(ConfigError, match="labelled_person: expected an integer >= 0, got -1"):
        dataclasses.replace(cfg, labelled_person=-1)


def test_subjects_share_rooms_as_configured() -> None:
    mmfi = SyntheticConfig(subjects=40)
    assert [mmfi.environment_of(s) for s in (1, 10, 11, 20, 21, 40)] == [1, 1, 2, 2, 3, 4]
    one_room = SyntheticConfig(subjects=40, subjects_per_environment=40)
    assert {one_room.environment_of(s) for s in range(1, 41)} == {1}
    cfg = SyntheticConfig(subjects=2, val_subjects=(2,), actions=("wave",), frames=2, subjects_per_environment=1)
    assert set(SyntheticCsiDataset(cfg, split="val").environment.tolist()) == {2}


def test_drift_is_slow_bounded_and_seeded() -> None:
    from csipose.data.synthetic.generate import drift

    times = np.arange(0.0, 20.0, 0.01)
    path = drift(times, 0.05, np.random.default_rng(3))
    assert path.shape == (2000, 2)
    assert np.abs(path).max() <= 0.05 + 1e-12
    assert np.ptp(path, axis=0).min() > 0.02  # it does move, on both axes
    # Periods of 4 s or more: under 0.05 * 2 pi / 4 m/s, i.e. < 1 mm between 10 ms packets.
    assert np.abs(np.diff(path, axis=0)).max() < 0.05 * 2 * np.pi / 4.0 * 0.01 + 1e-12
    np.testing.assert_array_equal(path, drift(times, 0.05, np.random.default_rng(3)))


def test_sway_moves_the_subject_within_a_sequence() -> None:
    still = SyntheticCsiDataset(SyntheticConfig(**{**SMALL.__dict__, "actions": ("squat",)}))
    swaying = SyntheticCsiDataset(SyntheticConfig(**{**SMALL.__dict__, "actions": ("squat",), "sway": 0.08}))
    # Pelvis floor position (camera x and depth) per frame of the first sequence.
    pelvis = lambda ds: ds.keypoints[:6, 0][:, [0, 2]]  # noqa: E731
    assert np.ptp(pelvis(still), axis=0).max() < 1e-6
    assert np.ptp(pelvis(swaying), axis=0).max() > 1e-3
    assert np.abs(pelvis(swaying) - pelvis(still)).max() <= 0.08 + 1e-6


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subjects", 1), ("subjects", 2.5), ("val_subjects", (11,)), ("val_subjects", (1, 1)),
        ("val_subjects", [2]), ("actions", ("fly",)), ("actions", ()), ("frames", 0), ("window", 100),
        ("features", ("phase", "amplitude")), ("subcarriers", 1), ("snr_db", float("nan")),
        ("persons", 0), ("packet_rate_hz", 50.0), ("seed", -1), ("position_jitter", -0.1),
        ("sway", -0.01), ("sway", float("inf")), ("subjects_per_environment", 0),
        ("subcarrier_mode", "cubic"), ("subcarrier_mode", None),
    ],
)  # fmt: skip
def test_config_errors_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        SyntheticConfig(**{field: value})  # type: ignore[arg-type]


def test_subcarrier_mode_is_validated_like_mmfi() -> None:
    for mode in ("linear", "area", "subband"):
        assert SyntheticConfig(subcarriers=56, subcarrier_mode=mode).subcarrier_mode == mode
    with pytest.raises(ConfigError, match="subcarrier_mode: 'subband'.*<= 114, got 120"):
        SyntheticConfig(subcarriers=120, subcarrier_mode="subband")
    # area and linear may upsample
    assert SyntheticConfig(subcarriers=120, subcarrier_mode="area").subcarriers == 120


def test_subcarrier_mode_reaches_the_features() -> None:
    """Each mode resamples the cleaned 114-tone features exactly as ``MMFiDataset`` (a Resampler on axis 2)."""
    base = dict(subjects=2, val_subjects=(2,), actions=("wave",), frames=3)
    native = SyntheticCsiDataset(SyntheticConfig(**base))
    assert native.csi.shape[2] == 114
    default = SyntheticCsiDataset(SyntheticConfig(**base, subcarriers=56))
    by_mode = {m: SyntheticCsiDataset(SyntheticConfig(**base, subcarriers=56, subcarrier_mode=m))
               for m in ("linear", "area", "subband")}  # fmt: skip
    # "linear" is the default: the same bytes as not naming a mode
    assert _digest(by_mode["linear"]) == _digest(default)
    for mode, ds in by_mode.items():
        assert ds.csi.shape == (len(native.csi), 6, 56, 10) and ds.csi.dtype == np.float32
        expected = csipose.Resampler(114, 56, mode).apply(native.csi, axis=2)
        np.testing.assert_array_equal(ds.csi, expected, err_msg=mode)
        np.testing.assert_array_equal(ds.keypoints, native.keypoints)
    # the modes give different features: area averages bins, subband keeps tones 0..55
    assert not np.array_equal(by_mode["area"].csi, by_mode["linear"].csi)
    assert not np.array_equal(by_mode["subband"].csi, by_mode["linear"].csi)
    np.testing.assert_array_equal(by_mode["subband"].csi, native.csi[:, :, :56])


def test_bad_split() -> None:
    with pytest.raises(ArgumentError, match="split"):
        SyntheticCsiDataset(SMALL, split="test")
    with pytest.raises(ConfigError, match="val_subjects"):
        SyntheticConfig(subjects=2, val_subjects=(1, 2))
    with pytest.raises(DatasetError, match="no subjects"):
        SyntheticCsiDataset(SyntheticConfig(subjects=2, val_subjects=()), split="val")
