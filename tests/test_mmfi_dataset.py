"""MMFiDataset read directly from a tiny MM-Fi tree: discovery, windows, labels, features, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import csipose
from csipose.data import MMFiDataset
from csipose.data.cleaning import clean_amplitude, log_amplitude, phase_feature
from csipose.data.layout import discover
from csipose.errors import ArgumentError, DatasetError

from tests.mmfi_tree import write_sequence, write_tree

SPLIT: dict[str, Any] = {"train": {"S01": ["A02", "A03"], "S12": ["A02"]}, "val": {"S12": ["A03"]}}


def manual(root: Path, split: str = "train", **kwargs: object) -> MMFiDataset:
    return MMFiDataset(root, scheme="manual", split=split, **SPLIT, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("mmfi")
    return root, write_tree(root, ("S01", "S12"), ("A02", "A03"), 6)


def test_discovery_ignores_strays_and_other_modalities(tree: tuple[Path, dict]) -> None:
    root, _ = tree
    (root / "E02" / "S12" / "A05" / "rgb").mkdir(parents=True)  # no wifi-csi: not a WiFi sequence
    (root / "E02" / "S12" / "A02" / "wifi-csi" / "notes.txt").write_text("x")
    seqs = discover(root)
    assert [s.key for s in seqs] == ["E01/S01/A02", "E01/S01/A03", "E02/S12/A02", "E02/S12/A03"]
    assert all([f.number for f in s.frames] == [1, 2, 3, 4, 5, 6] for s in seqs)
    assert seqs[2].gt_path == root / "E02" / "S12" / "A02" / "ground_truth.npy"


def test_sample_contract_and_values(tree: tuple[Path, dict]) -> None:
    root, written = tree
    ds = manual(root)
    assert len(ds) == 18 and ds.num_frames == 18 and ds.sample_shape == (1, 6, 114, 10)
    s = ds[7]  # rows: E01/S01/A02 frames 1-6, then E01/S01/A03 -> index 7 is its frame 2
    seq = written[("S01", "A03")]
    assert s["csi"].dtype == np.float32 and s["csi"].shape == (1, 6, 114, 10)
    assert (int(s["environment"]), int(s["subject"]), int(s["action"]), int(s["frame"])) == (1, 1, 3, 2)
    amp = seq.amp[1:2].astype(np.float32)
    np.testing.assert_array_equal(s["csi"][:, :3], clean_amplitude(amp))
    np.testing.assert_array_equal(s["csi"][:, 3:], phase_feature(seq.phase[1:2].astype(np.float32)))
    np.testing.assert_array_equal(s["keypoints"], seq.gt[1].astype(np.float32))
    assert s["keypoints"].dtype == np.float32 and s["keypoints"].shape == (17, 3)
    np.testing.assert_array_equal(s["visibility"], np.ones(17, np.float32))
    for key in ("subject", "action", "environment", "frame"):
        assert isinstance(s[key], np.int64)
    val = manual(root, "val")
    assert len(val) == 6 and {int(val[i]["subject"]) for i in range(6)} == {12}
    assert int(val[0]["environment"]) == 2


@pytest.mark.parametrize(
    ("window", "stride", "label", "starts", "offset"),
    [
        (1, 1, "last", [1, 2, 3, 4, 5, 6], 0),
        (3, 1, "last", [1, 2, 3, 4], 2),
        (3, 2, "center", [1, 3], 1),
        (4, 3, 0, [1], 0),
        (2, 2, -2, [1, 3, 5], 0),
        (6, 1, "center", [1], 3),
    ],
)
def test_windows_stride_label(tree: tuple[Path, dict], window: int, stride: int, label: object, starts: list, offset: int) -> None:
    root, written = tree
    ds = manual(root, "val", window=window, stride=stride, label=label)
    assert len(ds) == len(starts)
    seq = written[("S12", "A03")]
    for i, first in enumerate(starts):
        s = ds[i]
        assert s["csi"].shape == (window, 6, 114, 10)
        assert int(s["frame"]) == first + offset
        np.testing.assert_array_equal(s["keypoints"], seq.gt[first + offset - 1].astype(np.float32))
        raw = seq.amp[first - 1 : first - 1 + window].astype(np.float32)
        np.testing.assert_array_equal(s["csi"][:, :3], clean_amplitude(raw))


def test_windows_never_cross_sequences(tree: tuple[Path, dict]) -> None:
    root, _ = tree
    ds = manual(root, window=4, stride=1)
    assert len(ds) == 3 * 3
    for i in range(len(ds)):
        assert int(ds[i]["frame"]) in (4, 5, 6)


def test_features_subcarriers_and_raw(tree: tuple[Path, dict]) -> None:
    root, written = tree
    seq = written[("S12", "A03")]
    amp_only = manual(root, "val", features=("amplitude",), cleaning="raw")
    s = amp_only[0]
    assert s["csi"].shape == (1, 3, 114, 10)
    np.testing.assert_array_equal(s["csi"][0], seq.amp[0].astype(np.float32))
    logged = manual(root, "val", features=("amplitude",), cleaning="log")[0]["csi"]
    np.testing.assert_array_equal(logged, log_amplitude(seq.amp[:1].astype(np.float32)))
    phase_only = manual(root, "val", features="phase", subcarriers=56, subcarrier_mode="area")
    p = phase_only[0]["csi"]
    sanitized = phase_feature(seq.phase[:1].astype(np.float32))
    np.testing.assert_allclose(p, csipose.interpolate_subcarriers(sanitized, 56, mode="area", axis=2), rtol=1e-6)
    both = manual(root, "val", features=("phase", "amplitude"), subcarriers=56)
    assert both[0]["csi"].shape == (1, 6, 56, 10) and both.num_channels == 6
    # amplitude channels come first whatever order features are given in
    np.testing.assert_allclose(
        both[0]["csi"][:, :3], csipose.interpolate_subcarriers(clean_amplitude(seq.amp[:1].astype(np.float32)), 56, axis=2)
    )


def test_empty_and_missing_frames_are_skipped_and_counted(tmp_path: Path) -> None:
    write_sequence(tmp_path, "S01", "A02", 9, empty=(4,), missing=(7,))
    ds = MMFiDataset(tmp_path, scheme="manual", train={"S01": ["A02"]}, val={}, window=2)
    assert [p.name for p in ds.skipped] == ["frame004.mat"]
    assert ds.num_frames == 7
    # runs 1-3, 5-6, 8-9 -> windows (1,2) (2,3) (5,6) (8,9)
    assert [int(ds[i]["frame"]) for i in range(len(ds))] == [2, 3, 6, 9]


def test_batched_fetch_equals_single(tree: tuple[Path, dict]) -> None:
    root, _ = tree
    ds = manual(root, window=2, stride=1)
    batch = ds.__getitems__([4, 0, 9, 4])
    for i, s in zip([4, 0, 9, 4], batch):
        one = ds[i]
        for key in one:
            np.testing.assert_array_equal(s[key], one[key])
    assert int(ds[-1]["frame"]) == int(ds[len(ds) - 1]["frame"])
    with pytest.raises(IndexError):
        ds[len(ds)]


# -- bad input --------------------------------------------------------------------------


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="nowhere.*not found"):
        MMFiDataset(tmp_path / "nowhere")


def test_root_without_environments(tmp_path: Path) -> None:
    (tmp_path / "stray.txt").write_text("x")
    with pytest.raises(DatasetError, match="E01"):
        MMFiDataset(tmp_path)


def test_missing_ground_truth(tmp_path: Path) -> None:
    seq = write_sequence(tmp_path, "S01", "A02", 2)
    (seq.path / "ground_truth.npy").unlink()
    with pytest.raises(DatasetError, match=r"A02.ground_truth\.npy: missing"):
        MMFiDataset(tmp_path, scheme="manual", train={"S01": ["A02"]}, val={})


def test_empty_split(tree: tuple[Path, dict]) -> None:
    root, _ = tree
    with pytest.raises(DatasetError, match="no windows"):
        MMFiDataset(root, protocol="p2", scheme="cross_environment", split="val")
    with pytest.raises(DatasetError, match="no windows of 7 frame"):
        manual(root, window=7)


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"", None), (b"this is not a MATLAB file at all" * 10, "unreadable MATLAB")],
)
def test_corrupt_frame_files(tmp_path: Path, content: bytes, needle: str | None) -> None:
    seq = write_sequence(tmp_path, "S01", "A02", 3)
    (seq.path / "wifi-csi" / "frame002.mat").write_bytes(content)
    ds = MMFiDataset(tmp_path, scheme="manual", train={"S01": ["A02"]}, val={})
    if needle is None:  # a 0-byte file is skipped, not an error
        assert len(ds) == 2
        return
    ds[0]
    with pytest.raises(DatasetError, match=rf"frame002\.mat: {needle}"):
        ds[1]


def test_truncated_frame_file(tmp_path: Path) -> None:
    seq = write_sequence(tmp_path, "S01", "A02", 2)
    path = seq.path / "wifi-csi" / "frame001.mat"
    path.write_bytes(path.read_bytes()[:300])
    ds = MMFiDataset(tmp_path, scheme="manual", train={"S01": ["A02"]}, val={})
    with pytest.raises(DatasetError, match=r"frame001\.mat: unreadable MATLAB file"):
        ds[0]


@pytest.mark.parametrize(
    ("variables", "needle"),
    [
        ({"CSIamp": np.ones((3, 56, 10)), "CSIphase": np.ones((3, 114, 10))}, r"CSIamp has shape \(3, 56, 10\)"),
        ({"CSIamp": np.ones((3, 114, 10)), "CSIphase": np.ones((114, 10))}, r"CSIphase has shape \(114, 10\)"),
        ({"CSIamp": np.ones((3, 114, 10))}, "no variable 'CSIphase'"),
    ],
)
def test_wrong_frame_shapes(tmp_path: Path, variables: dict, needle: str) -> None:
    import scipy.io

    seq = write_sequence(tmp_path, "S01", "A02", 2)
    scipy.io.savemat(seq.path / "wifi-csi" / "frame002.mat", variables)
    ds = MMFiDataset(tmp_path, scheme="manual", train={"S01": ["A02"]}, val={})
    with pytest.raises(DatasetError, match=rf"frame002\.mat: {needle}.*expected"):
        ds[1]


@pytest.mark.parametrize(
    ("gt", "needle"),
    [
        (np.zeros((297, 17, 2)), r"shape \(297, 17, 2\); expected \(297, 17, 3\)"),
        (np.zeros((297, 51)), r"shape \(297, 51\)"),
        (np.zeros((3, 17, 3)), "holds 3 frames but E01/S01/A02/wifi-csi has frame004.mat"),
        (b"garbage", "unreadable"),
    ],
)
def test_bad_ground_truth(tmp_path: Path, gt: object, needle: str) -> None:
    seq = write_sequence(tmp_path, "S01", "A02", 4)
    if isinstance(gt, bytes):
        (seq.path / "ground_truth.npy").write_bytes(gt)
    else:
        np.save(seq.path / "ground_truth.npy", np.asarray(gt))
    with pytest.raises(DatasetError, match=needle):
        MMFiDataset(tmp_path, scheme="manual", train={"S01": ["A02"]}, val={})


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"window": 0}, "window"),
        ({"stride": 1.5}, "stride"),
        ({"label": 3, "window": 3}, "label"),
        ({"label": "first"}, "label"),
        ({"features": ("amplitude", "doppler")}, "features"),
        ({"features": ()}, "features"),
        ({"cleaning": "median"}, "cleaning"),
        ({"split": "test"}, "split"),
        ({"subcarriers": 0}, "subcarriers"),
    ],
)
def test_bad_options(tree: tuple[Path, dict], kwargs: dict, needle: str) -> None:
    root, _ = tree
    with pytest.raises(ArgumentError, match=needle):
        manual(root, **kwargs)


def test_frame_zero_is_refused(tmp_path: Path) -> None:
    seq = write_sequence(tmp_path, "S01", "A02", 2)
    (seq.path / "wifi-csi" / "frame001.mat").rename(seq.path / "wifi-csi" / "frame000.mat")
    with pytest.raises(DatasetError, match="frame000.mat; expected 1-based"):
        MMFiDataset(tmp_path, scheme="manual", train={"S01": ["A02"]}, val={})


@pytest.mark.parametrize(("protocol", "scheme"), [("p1", "random"), ("p3", "random"), ("p1", "cross_subject")])
def test_protocol_splits_select_their_sequences(tmp_path: Path, protocol: str, scheme: str) -> None:
    from csipose.data import mmfi_split

    subjects, actions = ("S01", "S04", "S05", "S10"), ("A01", "A02")
    for s in subjects:
        for a in actions:
            write_sequence(tmp_path, s, a, 2)
    train, val = mmfi_split(protocol, scheme, seed=0)
    seen = set()
    for split, form in (("train", train), ("val", val)):
        expected = {(s, a) for s in subjects for a in actions if a in form.get(s, [])}
        ds = MMFiDataset(tmp_path, protocol=protocol, scheme=scheme, split=split)  # type: ignore[arg-type]
        assert {(seq.subject, seq.action) for seq in ds.sequences} == expected
        assert len(ds) == 2 * len(expected)
        seen |= expected
    # each present sequence of the protocol's actions lands in exactly one part
    protocol_actions = {"p1": {"A02"}, "p3": {"A01", "A02"}}[protocol]
    assert seen == {(s, a) for s in subjects for a in actions if a in protocol_actions}
