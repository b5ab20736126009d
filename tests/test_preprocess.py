"""One preprocessing: the datasets' samples are exactly what :class:`Preprocess` makes of the raw frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from csipose.data import MMFiDataset, Preprocess, prepare_mmfi, split_complex
from csipose.data.sources import open_frames
from csipose.data.synthetic import SyntheticConfig, SyntheticCsiDataset, render
from csipose.errors import ArgumentError, DatasetError, ShapeError
from tests.mmfi_tree import write_sequence

SMALL = dict(subjects=2, subjects_per_environment=2, val_subjects=(2,), frames=12)


@pytest.mark.parametrize(
    "options",
    [{}, {"window": 3}, {"features": ("phase",)}, {"subcarriers": 56, "subcarrier_mode": "area"}],
    ids=["default", "window3", "phase", "area56"],
)
def test_synthetic_samples_are_the_preprocessed_raw_frames(options: dict) -> None:
    config = SyntheticConfig(**SMALL, **options)
    ds = SyntheticCsiDataset(config, split="train")
    seq = next(iter(render(config, config.train_subjects)))
    windows = ds.preprocess(seq.amplitude, seq.phase)  # the predictor's path
    assert windows.shape[1:] == ds.preprocess.input_shape
    for i in range(len(windows)):
        assert np.array_equal(ds[i]["csi"], windows[i]), i


@pytest.fixture(scope="module")
def mmfi_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("mmfi")
    amp = np.random.default_rng(3).uniform(1.0, 40.0, (9, 3, 114, 10))
    amp[2, 1, 5, 3] = np.inf
    amp[4, :, :, 7] = np.nan  # a packet with no finite value
    written = write_sequence(root, "S01", "A02", 9, amp=amp, empty=(6,))
    return root, written


@pytest.mark.parametrize("cached", [False, True], ids=["tree", "cache"])
def test_mmfi_samples_are_the_preprocessed_raw_frames(mmfi_tree, tmp_path: Path, cached: bool) -> None:
    root, written = mmfi_tree
    cache = None
    if cached:
        cache = tmp_path / "cache"
        prepare_mmfi(root, cache, workers=0, progress=False)
    ds = MMFiDataset(root, scheme="manual", train={"S01": ["A02"]}, val={"S01": ["A02"]}, window=2,
                     subcarriers=56, cache=cache)  # fmt: skip
    # frames 1-5 are consecutive (6 is empty): windows end at frames 2..5, then 8..9
    x = ds.preprocess(written.amp[:5], written.phase[:5])
    batch = ds.read_batch(np.arange(4))
    assert np.array_equal(batch["csi"], x)
    assert batch["frame"].tolist() == [2, 3, 4, 5]
    assert np.isfinite(x).all()


def test_every_input_kind_gives_the_dataset_frames(mmfi_tree, tmp_path: Path) -> None:
    root, written = mmfi_tree
    cache = tmp_path / "cache"
    prepare_mmfi(root, cache, workers=0, progress=False)
    pre = Preprocess(subcarriers=56)
    expected = pre.frames(written.amp[:5], written.phase[:5])
    sequence = root / "E01" / "S01" / "A02"
    for path in (root, sequence, sequence / "wifi-csi", cache):
        source = open_frames(path)
        runs = list(source.runs())
        assert [len(r) for r in runs] == [5, 3], path  # split at the empty frame 6
        got = pre.frames(runs[0].amplitude, runs[0].phase, phase_sanitised=runs[0].phase_sanitised)
        assert np.array_equal(got, expected), path
        assert runs[1].ids[:, 3].tolist() == [7, 8, 9]
        assert np.array_equal(runs[0].keypoints, written.gt[:5].astype(np.float32))


def test_complex_csi_is_amplitude_and_phase() -> None:
    rng = np.random.default_rng(0)
    csi = (rng.normal(size=(4, 3, 114, 10)) + 1j * rng.normal(size=(4, 3, 114, 10))).astype(np.complex64)
    amp, phase = split_complex(csi)
    pre = Preprocess()
    assert np.array_equal(pre.frames(csi), pre.frames(amp, phase))
    with pytest.raises(ArgumentError, match="complex CSI alone"):
        pre.frames(csi, phase)


def test_records_round_trip_and_bad_records_are_named() -> None:
    pre = Preprocess(features=("phase", "amplitude"), subcarriers=30, subcarrier_mode="area", window=4)
    assert pre.features == ("amplitude", "phase")
    assert Preprocess.from_dict(pre.to_dict()) == pre
    assert pre.input_shape == (4, 6, 30, 10) and pre.resamples
    bad = pre.to_dict() | {"colour": 1}
    with pytest.raises(ArgumentError, match="unknown setting 'colour'"):
        Preprocess.from_dict(bad, source="model.onnx preprocess")
    with pytest.raises(ArgumentError, match="model.onnx preprocess.window"):
        Preprocess.from_dict(pre.to_dict() | {"window": 0}, source="model.onnx preprocess")
    with pytest.raises(ArgumentError, match="missing setting 'window'"):
        Preprocess.from_dict({k: v for k, v in pre.to_dict().items() if k != "window"})


@pytest.mark.parametrize(
    "shape, message",
    [
        ((3, 114, 10), "rank 3"),
        ((2, 4, 114, 10), "expected 3 receive antennas"),
        ((2, 3, 114, 9), "expected 10 packets"),
        ((2, 3, 56, 10), "trained on 114 subcarriers without resampling, got 56"),
    ],
)
def test_frames_of_the_wrong_shape_are_refused(shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        Preprocess().frames(np.ones(shape, np.float32), np.zeros(shape, np.float32))


def test_a_resampling_preprocess_takes_any_subcarrier_count() -> None:
    pre = Preprocess(subcarriers=56)
    x = np.random.default_rng(1).uniform(1, 2, (2, 3, 30, 10)).astype(np.float32)
    assert pre.frames(x, x).shape == (2, 6, 56, 10)
    with pytest.raises(ShapeError, match="expected the amplitude's shape"):
        pre.frames(x, x[:, :, :20])
    with pytest.raises(ArgumentError, match="phase frames are required"):
        pre.frames(x)


def test_windows_are_consecutive_frames() -> None:
    pre = Preprocess(window=3)
    frames = np.arange(5 * 6 * 114 * 10, dtype=np.float32).reshape(5, 6, 114, 10)
    w = pre.windows(frames)
    assert w.shape == (3, 3, 6, 114, 10)
    assert np.array_equal(w[1], frames[1:4])
    assert pre.windows(frames[:2]).shape == (0, 3, 6, 114, 10)


def test_inputs_of_no_known_kind_are_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="input not found"):
        open_frames(tmp_path / "nope")
    with pytest.raises(DatasetError, match="not an input csipose reads"):
        open_frames(tmp_path)
    np.savez(tmp_path / "x.npz", colour=np.zeros(3))
    with pytest.raises(DatasetError, match="expected arrays 'amplitude' and 'phase'"):
        open_frames(tmp_path / "x.npz")
    np.save(tmp_path / "flat.npy", np.zeros((3, 114)))
    with pytest.raises(DatasetError, match=r"shape \[3, 114\]; expected \[F, A, S, P\]"):
        open_frames(tmp_path / "flat.npy")
    np.save(tmp_path / "empty.npy", np.zeros((0, 3, 114, 10), np.complex64))
    with pytest.raises(DatasetError, match="no frames"):
        open_frames(tmp_path / "empty.npy")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(DatasetError, match="expected a .npy or .npz"):
        open_frames(tmp_path / "x.txt")
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(DatasetError, match="unreadable .npy file"):
        open_frames(tmp_path / "bad.npy")


def test_a_tree_of_empty_frames_has_nothing_to_predict(tmp_path: Path) -> None:
    write_sequence(tmp_path, "S01", "A02", 3, empty=(1, 2, 3))
    with pytest.raises(DatasetError, match="no frames to predict from"):
        open_frames(tmp_path)
