"""Methods for rooms a model was not trained in: gradient reversal and the domain classifier,
geometry FiLM, randomised training rooms, conjugate antenna products, per-room test-time
standardisation; each switch trains, round-trips through its checkpoint and refuses misuse."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from csipose.config import TrainingConfig
from csipose.data.preprocess import Preprocess, antenna_pairs
from csipose.data.synthetic import SyntheticConfig, SyntheticCsiDataset
from csipose.domain import (
    DomainClassifier,
    GeometryFiLM,
    RoomNormalised,
    fourier_features,
    reversal_schedule,
    reverse_gradient,
    room_statistics,
    rotate_static,
)
from csipose.errors import ArgumentError, ConfigError, ShapeError
from csipose.infer import Predictor
from csipose.models import build_model
from csipose.train.loop import _train
from csipose.train.state import load_model

ROOMS = dict(subjects=8, environments=4, val_subjects=(), val_environments=(4,), room_variation=True,
             actions=("wave", "squat"), frames=4)  # fmt: skip
TINY = [
    "epochs=1", "synthetic.room_variation=true", "synthetic.environments=4", "synthetic.val_environments=[4]",
    "synthetic.subjects=8", "synthetic.frames=4", "synthetic.actions=['wave','squat']", "synthetic.val_subjects=[]",
    "threads=1", "progress=false", "plots=false", "baseline_samples=200", "width=16", "heads=2",
]  # fmt: skip


def tiny(run_dir: Path, *overrides: str) -> TrainingConfig:
    return TrainingConfig().with_overrides([*TINY, f"run_dir={run_dir}", *overrides])


# ----------------------------------------------------------------------- gradient reversal
def test_gradient_reversal_is_identity_forward_and_negated_backward() -> None:
    torch.manual_seed(0)
    x = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    incoming = torch.randn(5, 7, dtype=torch.float64)
    y = reverse_gradient(x, 0.37)
    assert torch.equal(y, x)
    y.backward(incoming)
    assert torch.allclose(x.grad, -0.37 * incoming, rtol=0, atol=1e-15)
    # the reversal is the negated Jacobian of the identity: a reversed map's gradient is minus its own
    w = torch.randn(7, 3, dtype=torch.float64)
    a = x.detach().clone().requires_grad_(True)
    b = x.detach().clone().requires_grad_(True)
    (torch.tanh(reverse_gradient(a, 2.0) @ w).sum()).backward()
    (torch.tanh(b @ w).sum()).backward()
    assert torch.allclose(a.grad, -2.0 * b.grad, rtol=1e-12, atol=1e-12)


def test_reversal_schedule_follows_ganin() -> None:
    assert reversal_schedule(0.0) == 0.0
    assert reversal_schedule(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert reversal_schedule(1.0) == pytest.approx(0.9999092, abs=1e-7)
    values = [reversal_schedule(p) for p in np.linspace(0, 1, 11)]
    assert all(b > a for a, b in zip(values, values[1:]))
    with pytest.raises(ArgumentError, match="progress"):
        reversal_schedule(1.5)


def test_domain_classifier_labels_rooms_and_trains_against_the_features() -> None:
    torch.manual_seed(0)
    head = DomainClassifier(4, [7, 2, 5])
    assert head.labels(torch.tensor([5, 2, 7, 7])).tolist() == [1, 0, 2, 2]
    with pytest.raises(ArgumentError, match=r"rooms \[3\] are not among .* \[2, 5, 7\]"):
        head.labels(torch.tensor([2, 3]))
    with pytest.raises(ConfigError, match="domain_adversarial: needs at least two training rooms"):
        DomainClassifier(4, [1, 1])
    # the classifier's own weights descend the cross-entropy; the features receive its ascent
    features = torch.randn(6, 4, requires_grad=True)
    logits = head(features, 0.5)
    loss = torch.nn.functional.cross_entropy(logits, head.labels(torch.tensor([2, 5, 7, 2, 5, 7])))
    loss.backward()
    plain = features.detach().clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(head.net(plain), head.labels(torch.tensor([2, 5, 7, 2, 5, 7]))).backward()
    assert torch.allclose(features.grad, -0.5 * plain.grad, atol=1e-7)


# ----------------------------------------------------------------------------- geometry FiLM
def test_film_of_a_zero_code_is_the_identity() -> None:
    torch.manual_seed(0)
    film = GeometryFiLM(8, width=16)
    torch.nn.init.normal_(film.to_film.weight)  # trained-looking weights
    torch.nn.init.normal_(film.to_shift.weight)
    features = torch.randn(3, 8)
    assert torch.equal(film.modulate(features, torch.zeros(3, 16)), features)
    assert torch.equal(film.to_shift(torch.zeros(3, 16)), torch.zeros(3, 3))
    assert not torch.allclose(film.modulate(features, torch.ones(3, 16)), features)


def test_fresh_film_is_the_identity_and_ignores_the_order_of_receive_antennas() -> None:
    torch.manual_seed(0)
    film = GeometryFiLM(8, width=16)
    features = torch.randn(2, 8)
    tx, rx = torch.randn(2, 3), torch.randn(2, 4, 3)
    modulated, shift = film(features, (tx, rx))  # zero-initialised last layers
    assert torch.equal(modulated, features) and torch.equal(shift, torch.zeros(2, 3))
    torch.nn.init.normal_(film.to_film.weight)
    torch.nn.init.normal_(film.to_shift.weight)
    out, shift = film(features, (tx, rx))
    again, shift_again = film(features, (tx, rx[:, [2, 0, 3, 1]]))
    assert torch.allclose(again, out, atol=1e-6) and torch.allclose(shift_again, shift, atol=1e-6)
    assert not torch.allclose(film(features, (tx + 0.5, rx))[0], out)
    with pytest.raises(ArgumentError, match=r"geometry: this model takes the room.s geometry \(geometry_film\); give geometry=\(tx"):
        film(features, None)
    with pytest.raises(ShapeError, match=r"geometry rx: expected \[B = 2, R >= 1, 3\]"):
        film(features, (tx, rx[:, :, :2]))


def test_fourier_features_hold_the_position_and_its_waves() -> None:
    p = torch.tensor([[1.0, -2.0, 0.5]])
    f = fourier_features(p)
    assert f.shape == (1, 33)
    assert torch.equal(f[0, :3], p[0])
    assert f[0, 3].item() == pytest.approx(math.sin(2 * math.pi * 1.0 / 16.0), abs=1e-6)  # x at 16 m


def test_film_model_needs_geometry_and_a_head() -> None:
    model = build_model(model="mlp", shape=(1, 6, 8, 2), groups=2, joints=17, dims=3, width=8, geometry_film=True)
    csi = torch.randn(2, 1, 6, 8, 2)
    with pytest.raises(ArgumentError, match="geometry"):
        model(csi)
    out = model(csi, geometry=(torch.zeros(2, 3), torch.zeros(2, 3, 3)))
    assert out["keypoints"].shape == (2, 17, 3)
    with pytest.raises(ConfigError, match="geometry_film: needs a backbone .* CsiNet has none"):
        build_model(model="csinet", shape=(1, 6, 8, 2), groups=2, width=8, heads=2, geometry_film=True)


# ------------------------------------------------------------------ leave-room-out splits
@settings(max_examples=40, deadline=None)
@given(rooms=st.integers(2, 6), held=st.data(), random_rooms=st.integers(0, 9), subjects=st.integers(6, 12))
def test_leave_room_out_never_leaks_a_room(rooms: int, held: Any, random_rooms: int, subjects: int) -> None:
    val = held.draw(st.lists(st.integers(1, rooms), min_size=1, max_size=rooms - 1, unique=True))
    config = SyntheticConfig(subjects=subjects, environments=rooms, val_subjects=(), val_environments=tuple(val),
                             room_variation=True, random_rooms=random_rooms, actions=("wave", "squat", "turn"))
    train = {config.room_of(s, a) for s in config.train_subjects for a in config.actions}
    tested = {config.room_of(s, a) for s in config.held_out_subjects for a in config.actions}
    assert tested == set(val)
    assert not train & tested
    if random_rooms:
        assert train == set(range(rooms + 1, rooms + 1 + min(random_rooms, len(config.train_subjects) * 3)))
    else:
        assert train == set(range(1, rooms + 1)) - set(val)


def test_random_rooms_spread_training_over_new_rooms_and_keep_validation() -> None:
    config = SyntheticConfig(**ROOMS, random_rooms=5)
    train, val = SyntheticCsiDataset(config, "train"), SyntheticCsiDataset(config, "val")
    assert set(np.unique(train.environment)) == {5, 6, 7, 8, 9}
    assert set(np.unique(val.environment)) == {4}
    plain_val = SyntheticCsiDataset(SyntheticConfig(**ROOMS), "val")
    assert np.array_equal(val.csi, plain_val.csi) and np.array_equal(val.keypoints, plain_val.keypoints)
    tx = np.stack([train.geometry[e][0] for e in range(5, 10)])
    assert len({tuple(np.round(t, 4)) for t in tx}) == 5  # every virtual room has its own link
    assert 4 not in train.geometry
    with pytest.raises(ConfigError, match="random_rooms: .* set room_variation = true"):
        SyntheticConfig(subjects=4, val_subjects=(4,), random_rooms=3)


@pytest.mark.parametrize("share", [0.25, 0.5, 0.6])
def test_a_share_of_the_training_sequences_moves_to_random_rooms(share: float) -> None:
    config = SyntheticConfig(**ROOMS, random_rooms=5, random_room_share=share)
    pairs = [(s, a) for s in config.train_subjects for a in config.actions]
    rooms = np.array([config.room_of(s, a) for s, a in pairs])
    own = np.array([config.environment_of(s) for s, _ in pairs])
    moved = rooms > config.environment_count
    assert moved.sum() == int(len(pairs) * share) and (rooms[~moved] == own[~moved]).all()
    assert np.abs(np.cumsum(moved) - share * np.arange(1, len(pairs) + 1)).max() < 1  # spread evenly
    assert set(rooms[moved]) == set(range(5, 5 + min(5, int(moved.sum()))))
    train = SyntheticCsiDataset(config, "train")
    assert set(np.unique(train.environment)) == set(rooms)
    every = SyntheticConfig(**ROOMS, random_rooms=5)
    assert [every.room_of(s, a) for s, a in pairs] == [5 + k % 5 for k in range(len(pairs))]  # share 1: as before
    for bad in (0, 1.5, "half"):
        with pytest.raises(ConfigError, match="random_room_share: expected"):
            SyntheticConfig(**ROOMS, random_rooms=5, random_room_share=bad)


# ------------------------------------------------------------------ conjugate products
def _csi(rng: np.random.Generator, f: int, a: int, s: int, p: int) -> np.ndarray:
    return (rng.normal(size=(f, a, s, p)) + 1j * rng.normal(size=(f, a, s, p))) * rng.uniform(0.5, 2.0)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), antennas=st.integers(2, 4), tones=st.integers(2, 30), packets=st.integers(1, 5))
def test_conjugate_products_cancel_a_common_phase_offset_and_timing_slope(
    seed: int, antennas: int, tones: int, packets: int
) -> None:
    rng = np.random.default_rng(seed)
    h = _csi(rng, 2, antennas, tones, packets)
    offset = rng.uniform(-np.pi, np.pi, size=(2, 1, 1, packets))  # per packet, common to all antennas
    slope = rng.uniform(-0.5, 0.5, size=(2, 1, 1, packets))  # timing offset: linear in the tone index
    k = np.arange(tones)[None, None, :, None] - tones / 2
    shifted = h * np.exp(1j * (offset + slope * k))
    pre = Preprocess(features=("conjugate",), cleaning="raw", antennas=antennas, packets=packets,
                     source_subcarriers=tones, subcarriers=tones)  # fmt: skip
    a = pre.frames(np.abs(h), np.angle(h))
    b = pre.frames(np.abs(shifted), np.angle(shifted))
    pairs = antenna_pairs(antennas)
    q = len(pairs)
    assert a.shape == (2, 2 * q, tones, packets) and pre.channels == 2 * q
    assert np.allclose(a[:, :q], b[:, :q], rtol=1e-5, atol=1e-6)
    wrapped = np.angle(np.exp(1j * (a[:, q:].astype(np.float64) - b[:, q:])))  # equal up to the +-pi seam
    assert np.allclose(wrapped, 0.0, atol=1e-4)
    # the plain reference: amplitude |H_a||H_b| and phase angle(H_a) - angle(H_b), wrapped
    i, j = pairs[-1]
    assert np.allclose(a[:, q - 1], np.abs(h[:, i]) * np.abs(h[:, j]), rtol=1e-5)
    diff = np.angle(np.exp(1j * (np.angle(h[:, i]) - np.angle(h[:, j]))))
    assert np.allclose(np.angle(np.exp(1j * (a[:, -1] - diff))), 0.0, atol=1e-4)
    # the raw phase of one antenna is not invariant: the test can tell
    assert not np.allclose(np.angle(h[:, 0]), np.angle(shifted[:, 0]), atol=1e-3)


def test_conjugate_features_on_mmfi_shaped_input_and_in_the_record() -> None:
    rng = np.random.default_rng(1)
    amp = rng.uniform(0.1, 1.0, size=(2, 3, 114, 10)).astype(np.float32)
    amp[0, 1, 5, 2] = np.inf  # MM-Fi's amplitude holds inf and NaN
    amp[1, 0, 7, 0] = np.nan
    phase = rng.uniform(-np.pi, np.pi, size=(2, 3, 114, 10)).astype(np.float32)
    pre = Preprocess(features="conjugate")
    x = pre.frames(amp, phase)
    assert x.shape == (2, 6, 114, 10) and np.isfinite(x).all()
    assert x[:, :3].min() >= 0.0 and x[:, :3].max() <= 1.0  # official cleaning of the amplitude channels
    assert Preprocess.from_dict(pre.to_dict()) == pre and pre.to_dict()["features"] == ["conjugate"]
    with pytest.raises(ArgumentError, match="phase: this model uses conjugate"):
        pre.frames(amp)
    with pytest.raises(ArgumentError, match="conjugate products need the raw phase"):
        pre.frames(amp, phase, phase_sanitised=True)
    with pytest.raises(ArgumentError, match="conjugate products need at least 2 receive antennas"):
        Preprocess(features="conjugate", antennas=1)
    with pytest.raises(ArgumentError, match="features: expected a non-empty subset"):
        Preprocess(features=("conjugate", "phase"))


def test_conjugate_of_complex_input_equals_amplitude_and_phase() -> None:
    rng = np.random.default_rng(2)
    h = _csi(rng, 3, 3, 114, 10).astype(np.complex64)
    pre = Preprocess(features="conjugate")
    assert np.allclose(pre.frames(h), pre.frames(np.abs(h), np.angle(h)), atol=1e-5)


# -------------------------------------------------------------- test-time normalisation
def test_room_statistics_standardise_each_room_on_its_own_frames() -> None:
    train = SyntheticCsiDataset(SyntheticConfig(**ROOMS), "train")
    wrapped = RoomNormalised(train)
    assert sorted(wrapped.statistics) == [1, 2, 3]
    for room in (1, 2, 3):
        idx = [i for i in range(len(wrapped)) if int(wrapped[i]["environment"]) == room]
        x = np.stack([wrapped[i]["csi"][0] for i in idx]).astype(np.float64)
        assert np.allclose(x.mean(axis=0), 0.0, atol=1e-4)
        std = x.std(axis=0)
        assert np.allclose(std[std > 0.5], 1.0, atol=1e-3) and (std > 0.5).mean() > 0.9
    assert wrapped.preprocess == train.preprocess and np.array_equal(wrapped.label_keypoints(), train.label_keypoints())
    mean, std = room_statistics(train.csi, train.environment)[2]
    rows = train.environment == 2
    assert np.allclose(mean, train.csi[rows].mean(axis=0), atol=1e-5)
    assert np.allclose(std, train.csi[rows].std(axis=0), rtol=1e-3, atol=1e-6)


def test_known_rooms_keep_their_statistics_and_are_not_read() -> None:
    class Labelled(_OneRoom):
        """Two rooms with their ids known without the CSI; records the rows it reads."""

        def __init__(self) -> None:
            super().__init__(8)
            self.rooms, self.read = np.array([1, 1, 1, 1, 2, 2, 2, 2]), []

        def label_environments(self) -> np.ndarray:
            return self.rooms

        def __getitem__(self, i: int) -> dict[str, Any]:
            self.read.append(i)
            return {**super().__getitem__(i), "environment": np.int64(self.rooms[i])}

    data = Labelled()
    known = {1: (np.zeros((6, 8, 2), np.float32), np.ones((6, 8, 2), np.float32))}
    wrapped = RoomNormalised(data, known)
    assert sorted(wrapped.statistics) == [1, 2] and wrapped.statistics[1] is known[1]
    assert set(data.read) <= {0, 4, 5, 6, 7}  # the first sample (checked for ids) and room 2 only
    own = room_statistics(data.csi[4:, 0], data.rooms[4:])[2]
    assert np.allclose(wrapped.statistics[2][0], own[0]) and np.allclose(wrapped.statistics[2][1], own[1])
    synthetic = SyntheticCsiDataset(SyntheticConfig(**ROOMS), "train")
    whole = RoomNormalised(synthetic)
    partly = RoomNormalised(synthetic, {2: whole.statistics[2]})
    for room in (1, 3):
        assert np.array_equal(partly.statistics[room][0], whole.statistics[room][0])


def test_test_time_norm_needs_rooms() -> None:
    with pytest.raises(ConfigError, match="test_time_norm: the samples carry no 'environment'"):
        RoomNormalised(_OneRoom(4, environment=False))


def test_training_rooms_keep_their_statistics_in_the_checkpoint_and_at_evaluation(tmp_path: Path) -> None:
    from csipose.infer_cli import recorded_split
    from csipose.train.data import load_split

    config = tiny(tmp_path / "run", "test_time_norm=true", "synthetic.val_subjects=[1]")
    _train(config)
    raw = TrainingConfig.from_dict(config.to_dict()).with_overrides(["test_time_norm=false", "cleaning=log"])  # as trained
    train, val = RoomNormalised(load_split(raw, "train")), RoomNormalised(load_split(raw, "val"))
    predictor = Predictor.load(tmp_path / "run" / "best.pt")
    stored = predictor.room_statistics
    assert sorted(stored) == [1, 2, 3]
    for room, (mean, std) in train.statistics.items():
        assert np.array_equal(stored[room][0], mean) and np.array_equal(stored[room][1], std)
    split = recorded_split(predictor)
    # room 1's held-out subject is standardised by the training frames' statistics, room 4 by its own
    assert np.array_equal(split.statistics[1][0], train.statistics[1][0])
    assert not np.allclose(val.statistics[1][0], train.statistics[1][0])
    assert np.array_equal(split.statistics[4][0], val.statistics[4][0])
    summary = __import__("json").loads((tmp_path / "run" / "summary.json").read_text())
    pred = predictor.predict_windows(np.stack([split[i]["csi"] for i in range(len(split))]),
                                     geometry=tuple(np.stack([split[i][k] for i in range(len(split))])
                                                    for k in predictor.geometry_inputs))  # fmt: skip
    gt = np.stack([split[i]["keypoints"] for i in range(len(split))])
    from csipose.train.scoring import score

    assert score(pred, gt).to_dict()["pck"] == pytest.approx(summary["model"]["pck"], abs=1e-6)


def test_an_exported_test_time_norm_model_keeps_its_training_rooms(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from csipose.export import export_onnx
    from csipose.infer_cli import recorded_split

    _train(tiny(tmp_path / "run", "test_time_norm=true", "anchor=none", "synthetic.val_subjects=[1]"))
    export_onnx(tmp_path / "run" / "best.pt", tmp_path / "ttn.onnx")
    by_torch, by_onnx = Predictor.load(tmp_path / "run" / "best.pt"), Predictor.load(tmp_path / "ttn.onnx")
    stored, exported = by_torch.room_statistics, by_onnx.room_statistics
    assert sorted(exported) == sorted(stored) == [1, 2, 3]
    for room, (mean, std) in stored.items():
        assert np.array_equal(exported[room][0], mean) and np.array_equal(exported[room][1], std)
    # so the exported model's recorded split standardises a training room as the checkpoint does
    assert np.array_equal(recorded_split(by_onnx).statistics[1][0], recorded_split(by_torch).statistics[1][0])


# ------------------------------------------------------------------ static-channel rotation
def _pairs(x: torch.Tensor) -> torch.Tensor:
    """``[B, W, C, S, P]`` -> the complex (amplitude + i phase) pairs ``[B, W, C / 2, S, P]``."""
    half = x.shape[2] // 2
    return torch.complex(x[:, :, :half].double(), x[:, :, half:].double())


def test_static_rotation_turns_each_pair_by_one_angle_per_antenna_and_subcarrier() -> None:
    x = torch.randn(5, 2, 6, 7, 4)
    y = rotate_static(x, 1.0, torch.Generator().manual_seed(0))
    zx, zy = _pairs(x), _pairs(y)
    assert torch.allclose(zx.abs(), zy.abs(), atol=1e-5)  # each pair keeps its magnitude
    turn = zy / zx  # e^{i angle}: the same over the window's frames and packets
    assert torch.allclose(turn, turn[:, :1, :, :, :1].expand_as(turn), atol=1e-4)
    angle = turn[:, 0, :, :, 0].angle()  # [B, pairs, S]: drawn afresh per window, antenna, subcarrier
    assert angle.flatten().unique().numel() == angle.numel()
    assert angle.std() > 1.0  # uniform over the circle: sd pi / sqrt(3) = 1.81
    again = rotate_static(x, 1.0, torch.Generator().manual_seed(0))
    assert torch.equal(again, y)


@settings(max_examples=20, deadline=None)
@given(share=st.floats(0.0, 1.0), seed=st.integers(0, 2**31 - 1))
def test_static_rotation_turns_a_share_of_the_windows_whole_and_leaves_the_rest(share: float, seed: int) -> None:
    n = 4000
    x = torch.randn(n, 1, 4, 3, 2, generator=torch.Generator().manual_seed(seed))
    y = rotate_static(x, share, torch.Generator().manual_seed(seed))
    # the same generator draws the same angles first, whatever the share: every window turned
    every = rotate_static(x, 1.0, torch.Generator().manual_seed(seed))
    same = (y == x).flatten(1).all(dim=1)  # as they were, bit for bit
    whole = (y == every).flatten(1).all(dim=1)  # every pair of every subcarrier turned by its angle
    turned = whole & ~same
    assert bool((same | whole).all())  # a window is rotated whole or not at all
    assert not bool((every == x).flatten(1).all(dim=1).any())  # a window turned whole differs from itself
    assert abs(float(turned.float().mean()) - share) <= 5 * math.sqrt(share * (1 - share) / n) + 1e-9


def test_static_rotation_refuses_odd_channels_and_shares_outside_0_1() -> None:
    with pytest.raises(ShapeError, match=r"static_rotation: expected windows \[B, W, C, S, P\] with an even C"):
        rotate_static(torch.zeros(2, 1, 3, 4, 1), 1.0)
    for share in (-0.1, 1.5, float("nan"), True):
        with pytest.raises(ArgumentError, match=r"static_rotation: expected a share, a number in \[0, 1\]"):
            rotate_static(torch.zeros(2, 1, 4, 4, 1), share)
    with pytest.raises(ConfigError, match="static_rotation: rotates .amplitude, phase. channel pairs; needs features"):
        build_model(model="mlp", shape=(1, 3, 8, 2), groups=1, joints=4, dims=3, width=8, static_rotation=1.0)


def test_static_rotation_turns_the_normalised_window_in_training_only() -> None:
    torch.manual_seed(0)
    model = build_model(model="mlp", shape=(1, 6, 8, 2), groups=2, joints=4, dims=3, width=8, readout=False,
                        static_rotation=1.0)
    plain = build_model(model="mlp", shape=(1, 6, 8, 2), groups=2, joints=4, dims=3, width=8, readout=False)
    windows = np.random.default_rng(0).normal(3.0, 2.0, size=(50, 1, 6, 8, 2))
    model.norm.fit(windows)  # a norm far from the identity: the rotation must come after it
    plain.load_state_dict(model.state_dict())
    x = torch.from_numpy(windows[:3]).float()
    model.eval(), plain.eval()
    assert torch.equal(model(x)["features"], plain(x)["features"])
    model.train()  # (the head starts at zero: the features show the input)
    torch.manual_seed(7)
    trained = model(x)["features"]
    torch.manual_seed(7)
    expected = model.backbone(rotate_static(model.norm(x), 1.0))[1]
    assert torch.allclose(trained, expected, atol=1e-6)
    assert not torch.allclose(trained, plain.train()(x)["features"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [(["static_rotation=1.5"], r"static_rotation: expected a share, a number in \[0, 1\], got 1.5"),
     (["static_rotation=1", "features=amplitude"], "static_rotation: rotates .amplitude, phase. pairs; needs features"),
     (["static_rotation=1", "test_time_norm=false"], "static_rotation: .* needs test_time_norm = true or auto"),
     (["static_rotation=1", "cleaning=official"], "static_rotation: reads the amplitude as log|H|; needs cleaning = log"),
     (["static_rotation=1", "readout=true"], "static_rotation: the fixed readout .* set readout = false or auto")],
)  # fmt: skip
def test_static_rotation_config_errors_name_the_field(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainingConfig().with_overrides(overrides).validate()


def test_static_rotation_needs_windows_standardised_by_room_and_turns_the_readout_off(tmp_path: Path) -> None:
    from csipose.train.data import model_settings

    config = tiny(tmp_path / "run", "static_rotation=1", "anchor=none")  # auto test-time norm: off without the anchor
    with pytest.raises(ConfigError, match="static_rotation: .* the windows are not standardised by room"):
        _train(config)
    train = SyntheticCsiDataset(SyntheticConfig(**ROOMS), "train")
    for rotation, readout in (("0", True), ("0.5", False)):  # auto: on without the anchor, off with the rotation
        config = tiny(tmp_path / "run", f"static_rotation={rotation}", "anchor=none", "test_time_norm=true")
        assert model_settings(config, train)["readout"] is readout


# ------------------------------------------------------------- every switch trains and reloads
@pytest.mark.parametrize(
    "switch",
    ["geometry_film=true", "domain_adversarial=0.5", "test_time_norm=true", "features=conjugate",
     "synthetic.random_rooms=4", "static_rotation=1"],
)  # fmt: skip
def test_each_switch_trains_and_its_config_round_trips(tmp_path: Path, switch: str) -> None:
    torch.manual_seed(0)
    config = tiny(tmp_path / "run", switch)
    summary = _train(config)
    assert summary["epochs_run"] == 1 and summary["steps"] >= 1 and math.isfinite(summary["model"]["mpjpe"])
    model, stored = load_model(tmp_path / "run" / "best.pt", "cpu")
    key, value = switch.split("=")
    assert stored.to_dict() == config.to_dict()
    if key == "domain_adversarial":
        assert model.domain_head is not None and model.domain_head.environments.tolist() == [1, 2, 3]
        assert stored.effective_loss_weights()["domain"] == 0.5
    if key == "geometry_film":
        assert model.film is not None
    if key == "features":
        assert model.preprocess["features"] == ["conjugate"] and model.shape[1] == 6
    if key == "static_rotation":
        assert model.static_rotation == 1.0 and model.settings["static_rotation"] == 1.0


def test_domain_term_trains_the_classifier(tmp_path: Path) -> None:
    """The ``domain`` term is in the loss: the classifier's weights leave their initial values."""
    torch.manual_seed(0)
    config = tiny(tmp_path / "run", "domain_adversarial=1.0", "epochs=2")
    _train(config)
    model, _ = load_model(tmp_path / "run" / "last.pt", "cpu")
    torch.manual_seed(0)
    fresh = build_model(**model.settings)
    moved = (model.domain_head.net[0].weight - fresh.domain_head.net[0].weight).abs().max()
    assert moved > 1e-3


def test_film_model_reloads_and_predicts_the_same(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = tiny(tmp_path / "run", "geometry_film=true", "epochs=2", "anchor=none")  # FiLM alone
    _train(config)
    val = SyntheticCsiDataset(SyntheticConfig(**ROOMS), "val")
    windows = np.stack([val[i]["csi"] for i in range(6)])
    tx, rx, _ = val.geometry[4]
    model, _ = load_model(tmp_path / "run" / "best.pt", "cpu")
    with torch.no_grad():
        direct = model(torch.from_numpy(windows), geometry=(torch.from_numpy(np.tile(tx, (6, 1))),
                                                             torch.from_numpy(np.tile(rx, (6, 1, 1)))))["keypoints"]
    predictor = Predictor.load(tmp_path / "run" / "best.pt")
    assert np.allclose(predictor.predict_windows(windows, geometry=(tx, rx)), direct.numpy(), atol=1e-6)
    # the geometry reaches the prediction once trained (the FiLM left its zero start)
    moved = predictor.predict_windows(windows, geometry=(tx + np.float32(0.5), rx))
    assert np.abs(moved - direct.numpy()).max() > 1e-6
    assert model.film.to_film.weight.abs().max() > 0 and model.film.to_shift.weight.abs().max() > 0
    with pytest.raises(ArgumentError, match=r"geometry: this model takes the room's geometry \(geometry_film\)"):
        predictor.predict_windows(windows)
    with pytest.raises(ShapeError, match="geometry: expected tx"):
        predictor.predict_windows(windows, geometry=(tx[:2], rx))
    seq_amp = np.abs(np.ones((1, 3, 114, 10)))
    assert predictor.predict(seq_amp, np.zeros((1, 3, 114, 10)), geometry=(tx, rx)).shape == (1, 17, 3)
    pytest.importorskip("onnxruntime")
    from csipose.export import export_onnx

    with pytest.raises(ArgumentError, match="geometry-FiLM model .* predict with the .pt checkpoint"):
        export_onnx(tmp_path / "run" / "best.pt", tmp_path / "m.onnx")


def test_test_time_norm_predictor_standardises_a_rooms_frames(tmp_path: Path) -> None:
    from csipose.data.synthetic import render

    _train(tiny(tmp_path / "run", "test_time_norm=true", "anchor=none"))  # the standardisation alone
    config = SyntheticConfig(**ROOMS)
    seq = next(iter(render(config, config.held_out_subjects[:1])))  # room 4, unseen
    predictor = Predictor.load(tmp_path / "run" / "best.pt")
    assert predictor.room_normalised
    frames = predictor.preprocess.frames(seq.amplitude, seq.phase)
    mean, std = frames.mean(axis=0), frames.std(axis=0)
    standardised = (frames - mean) / np.where(std > 1e-6 * std.max(), std, 1.0)
    model, _ = load_model(tmp_path / "run" / "best.pt", "cpu")
    with torch.no_grad():
        direct = model(torch.from_numpy(standardised[:, None].astype(np.float32)))["keypoints"].numpy()
    assert np.allclose(predictor.predict(seq.amplitude, seq.phase), direct, atol=1e-4)
    assert not np.allclose(predictor.predict_windows(frames[:, None]), direct, atol=1e-3)
    # a stream takes the room's statistics from calibration frames (or a training room's id)
    with pytest.raises(ArgumentError, match=r"room: .* give stream\(room=...\) raw frames of the room"):
        predictor.stream()
    stream = predictor.stream(room=(seq.amplitude, seq.phase))
    pushed = np.stack([stream.push(a, p) for a, p in zip(seq.amplitude, seq.phase)])
    assert np.allclose(pushed, direct, atol=1e-4)
    in_room_1 = predictor.stream(room=1).push(seq.amplitude[0], seq.phase[0])
    mean1, std1 = predictor.room_statistics[1]
    with torch.no_grad():
        expected = model(torch.from_numpy(((frames[:1] - mean1) / std1)[:, None]))["keypoints"].numpy()[0]
    assert np.allclose(in_room_1, expected, atol=1e-4) and not np.allclose(in_room_1, direct[0], atol=1e-3)
    with pytest.raises(ArgumentError, match=r"room: environment 9 is not one of .* training rooms \[1, 2, 3\]"):
        predictor.stream(room=9)
    with pytest.raises(ArgumentError, match="room: expected at least 2 frames"):
        predictor.stream(room=(seq.amplitude[:1], seq.phase[:1]))
    # csipose predict standardises each run of the input by its own statistics, as predict does
    from tests.test_cli_errors import csipose

    np.savez(tmp_path / "rec.npz", amplitude=seq.amplitude, phase=seq.phase)
    done = csipose("predict", "--model", str(tmp_path / "run" / "best.pt"), "--input", str(tmp_path / "rec.npz"),
                   "--out", str(tmp_path / "p.npz"), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert np.allclose(np.load(tmp_path / "p.npz")["keypoints"], direct, atol=1e-4)


# ----------------------------------------------------------------------------- misuse
class _OneRoom:
    """Windows of one room, without geometry (or without environment ids)."""

    def __init__(self, n: int, environment: bool = True) -> None:
        rng = np.random.default_rng(0)
        self.csi = rng.normal(size=(n, 1, 6, 8, 2)).astype(np.float32)
        self.kp = rng.normal(size=(n, 17, 3)).astype(np.float32)
        self.with_environment = environment

    def __len__(self) -> int:
        return len(self.csi)

    def __getitem__(self, i: int) -> dict[str, Any]:
        sample = {"csi": self.csi[i], "keypoints": self.kp[i], "visibility": np.ones(17, np.float32),
                  "subject": np.int64(i % 4 + 1)}
        if self.with_environment:
            sample["environment"] = np.int64(1)
        return sample


@pytest.mark.parametrize(
    ("overrides", "datasets", "message"),
    [
        (["domain_adversarial=0.5"], (_OneRoom(12), _OneRoom(4)), "domain_adversarial: the training data has a single room"),
        (["domain_adversarial=0.5"], (_OneRoom(12, False), _OneRoom(4, False)), "domain_adversarial: the .* samples carry no 'environment'"),
        (["geometry_film=true"], (_OneRoom(12), _OneRoom(4)), r"geometry_film: the .* samples carry no room geometry \('tx', 'rx'\)"),
        (["geometry_film=true", "synthetic.room_variation=false"], None, "geometry_film: .*synthetic.room_variation = true"),
        (["domain_adversarial=-1"], None, "domain_adversarial: must be a finite number >= 0"),
        (["loss_weights.domain=1"], None, "loss_weights.domain: the domain term's weight is domain_adversarial"),
    ],
)  # fmt: skip
def test_misuse_is_one_clear_error(tmp_path: Path, overrides: list[str], datasets: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _train(tiny(tmp_path / "run", *overrides), datasets=datasets)


def test_a_domain_weight_or_share_set_in_code_must_be_a_number_a_run_can_write_back(tmp_path: Path) -> None:
    for name in ("domain_adversarial", "static_rotation", "lr", "dropout"):  # every number field, by its type
        for value in (True, np.float32(0.1), np.float64(0.1), "0.1"):  # a bool, numpy scalars, a string
            config = TrainingConfig()
            setattr(config, name, value)  # set in code, not parsed from --set
            with pytest.raises(ConfigError, match=f"{name}: must be a number \\(int or float\\)"):
                config.validate()
    for value in (float("inf"), -0.5):
        config = TrainingConfig()
        config.domain_adversarial = value
        with pytest.raises(ConfigError, match="domain_adversarial: must be a finite number >= 0"):
            config.validate()
    for name, value in (("top_k", np.int64(2)), ("top_k", True), ("threads", 2.0), ("warmup_epochs", np.int64(1)),
                        ("milestones", [4, np.int64(8)])):
        config = TrainingConfig()
        setattr(config, name, value)  # an integer field (or list of them): plain ints only
        with pytest.raises(ConfigError, match=rf"{name}(\[1\])?: expected an integer, got"):
            config.validate()
    for name, value in (("betas", (0.9, np.float64(0.99))), ("loss_weights", {"bone": np.float64(0.2)})):
        config = TrainingConfig()
        setattr(config, name, value)  # numbers inside a list or a table too
        with pytest.raises(ConfigError, match=rf"{name}(\[1\]|\.bone): must be a number \(int or float\), got"):
            config.validate()
    config = TrainingConfig()
    config.domain_adversarial = 0.1
    config.warmup_epochs = None  # an optional field may stay unset
    config.validate().save(tmp_path / "config.toml")  # what validates, a run can write back
    assert TrainingConfig.load(tmp_path / "config.toml").domain_adversarial == 0.1


def test_conjugate_products_of_mmfi_are_one_clear_error(tmp_path: Path) -> None:
    """MM-Fi's cleaned phase has lost the per-packet offsets that conjugate products cancel."""
    config = TrainingConfig().with_overrides(["features=conjugate", "data=mmfi", "mmfi_root=/nonexistent",
                                              f"run_dir={tmp_path / 'run'}"])  # fmt: skip
    with pytest.raises(ConfigError, match="features: conjugate products need the raw phase"):
        _train(config)
