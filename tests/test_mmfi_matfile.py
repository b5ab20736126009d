"""The MATLAB v5 frame reader against scipy.io.loadmat, the reference it must agree with."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from csipose.data.matfile import _NotFastPath, _read_mat, _read_mat_fast, read_csi_frame
from csipose.errors import DatasetError

_DTYPES = [np.float64, np.float32, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]


def _same_as_loadmat(path: Path, names: tuple[str, ...]) -> None:
    fast = _read_mat_fast(str(path), names)
    ref = scipy.io.loadmat(path, variable_names=names)
    assert sorted(fast) == sorted(n for n in names if n in ref)
    for name in fast:
        assert fast[name].dtype == ref[name].dtype, name
        assert fast[name].shape == ref[name].shape, name
        np.testing.assert_array_equal(fast[name], ref[name])


@settings(max_examples=60)
@given(
    arrays=st.lists(
        st.sampled_from(_DTYPES).flatmap(
            lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
        ),
        min_size=1,
        max_size=3,
    ),
    compress=st.booleans(),
    long_names=st.booleans(),
)
def test_matches_loadmat(tmp_path_factory: pytest.TempPathFactory, arrays: list[np.ndarray], compress: bool, long_names: bool) -> None:
    path = tmp_path_factory.mktemp("mat") / "f.mat"
    names = tuple((f"variable_{i}" if long_names else f"v{i}") for i in range(len(arrays)))
    scipy.io.savemat(path, dict(zip(names, arrays)), do_compression=compress)
    _same_as_loadmat(path, names)
    _same_as_loadmat(path, names[-1:])  # one variable, others skipped


def test_csi_frame_with_nan_and_inf(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    amp = rng.uniform(0, 30, (3, 114, 10))
    amp[0, 1, 2], amp[2, 3, 4], amp[1, 0, 0] = np.nan, np.inf, -np.inf
    phase = rng.uniform(-np.pi, np.pi, (3, 114, 10))
    for compress in (False, True):
        scipy.io.savemat(tmp_path / "f.mat", {"CSIamp": amp, "CSIphase": phase, "extra": np.ones(3)}, do_compression=compress)
        a, p = read_csi_frame(tmp_path / "f.mat")
        np.testing.assert_array_equal(a, amp.astype(np.float32))
        np.testing.assert_array_equal(p, phase.astype(np.float32))


def _hand_written_mat(values: bytes, mi_type: int, mx_class: int, dims: tuple[int, ...], name: bytes, compress: bool) -> bytes:
    """A MATLAB v5 file whose one matrix stores its data in ``mi_type`` (as MATLAB does for integral doubles)."""

    def element(typ: int, payload: bytes) -> bytes:
        return struct.pack("<II", typ, len(payload)) + payload + b"\0" * (-len(payload) % 8)

    body = (
        element(6, struct.pack("<II", mx_class, 0))
        + element(5, struct.pack(f"<{len(dims)}i", *dims))
        + element(1, name)
        + element(mi_type, values)
    )
    matrix = element(14, body)
    if compress:
        matrix = element(15, zlib.compress(matrix))
    header = b"MATLAB 5.0 MAT-file, hand written".ljust(116, b" ") + b"\0" * 8 + b"\x00\x01" + b"IM"
    return header + matrix


@pytest.mark.parametrize("compress", [False, True])
def test_integral_doubles_stored_as_uint8(tmp_path: Path, compress: bool) -> None:
    values = np.arange(6, dtype=np.uint8)
    path = tmp_path / "m.mat"
    path.write_bytes(_hand_written_mat(values.tobytes(), 2, 6, (2, 3), b"CSIamp", compress))
    _same_as_loadmat(path, ("CSIamp",))
    got = _read_mat_fast(str(path), ("CSIamp",))["CSIamp"]
    assert got.dtype == np.uint8 and got.tolist() == [[0, 2, 4], [1, 3, 5]]


@pytest.mark.parametrize(
    "content",
    [
        {"x": np.ones((2, 2)) + 1j},
        {"x": {"a": 1.0}},
        {"x": np.array([[1.0, 2.0]], dtype=object)},
    ],
)
def test_other_contents_fall_back_to_loadmat(tmp_path: Path, content: dict) -> None:
    scipy.io.savemat(tmp_path / "f.mat", content)
    with pytest.raises(_NotFastPath):
        _read_mat_fast(str(tmp_path / "f.mat"), ("x",))
    ref = scipy.io.loadmat(tmp_path / "f.mat")["x"]
    got = _read_mat(str(tmp_path / "f.mat"), ("x",))["x"]
    assert got.dtype == ref.dtype and got.shape == ref.shape


def test_damaged_files_fall_back_and_fail_cleanly(tmp_path: Path) -> None:
    scipy.io.savemat(tmp_path / "f.mat", {"CSIamp": np.ones((3, 114, 10)), "CSIphase": np.ones((3, 114, 10))}, do_compression=True)
    data = (tmp_path / "f.mat").read_bytes()
    for i, damaged in enumerate([data[:-40], data[:150], data[:128] + b"\xff" * 64, b"MATLAB 7.3 MAT-file" + b"\0" * 200]):
        path = tmp_path / f"d{i}.mat"
        path.write_bytes(damaged)
        with pytest.raises(DatasetError, match=rf"d{i}\.mat: unreadable MATLAB file"):
            read_csi_frame(path)
