"""Reading one MM-Fi WiFi frame (``frameNNN.mat``) and one ``ground_truth.npy``.

Frames are parsed by a small MATLAB v5 reader that handles exactly what CSI frames
hold: real numeric matrices, plain or zlib-compressed (``miCOMPRESSED``, MATLAB's
default). It is several times faster than ``scipy.io.loadmat`` on such small files;
anything else (complex, sparse, cells, structs, big-endian, a damaged file) goes
to ``scipy.io.loadmat``, whose reading is the reference. Every failure becomes a
:class:`~csipose.errors.DatasetError` naming the file and what was expected.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from collections.abc import Collection

import numpy as np

from csipose.errors import DatasetError

__all__ = ["FRAME_SHAPE", "GT_JOINTS", "read_csi_frame", "read_ground_truth"]

#: (rx antennas, subcarriers, packets) of one MM-Fi WiFi frame.
FRAME_SHAPE: tuple[int, int, int] = (3, 114, 10)
#: Human3.6M-17 joints with (x, y, z) in metres.
GT_JOINTS: tuple[int, int] = (17, 3)


_MI_COMPRESSED, _MI_MATRIX, _MI_INT8, _MI_INT32, _MI_UINT32 = 15, 14, 1, 5, 6
#: miTYPE of stored data -> little-endian numpy dtype.
_MI_DTYPES = {
    1: "<i1", 2: "<u1", 3: "<i2", 4: "<u2", 5: "<i4", 6: "<u4", 7: "<f4", 9: "<f8", 12: "<i8", 13: "<u8",
}
#: mxCLASS codes of numeric arrays: double, single, int8, uint8 .. int64, uint64.
_MX_NUMERIC = frozenset(range(6, 16))
_MX_COMPLEX = 0x0800


class _NotFastPath(Exception):
    """The file needs the full reader (or is damaged): let scipy decide."""


def _element(buf: bytes | memoryview, pos: int) -> tuple[int, memoryview, int]:
    """The data element at ``pos``: (miTYPE, its payload, the position after it, 8-byte aligned)."""
    if pos + 8 > len(buf):
        raise _NotFastPath("truncated tag")
    first, second = struct.unpack_from("<II", buf, pos)
    view = memoryview(buf)
    if first >> 16:  # small data element: type and size share 4 bytes, payload in the next 4
        size = first >> 16
        if size > 4:
            raise _NotFastPath("bad small element")
        return first & 0xFFFF, view[pos + 4 : pos + 4 + size], pos + 8
    end = pos + 8 + second
    if end > len(buf):
        raise _NotFastPath("truncated element")
    return first, view[pos + 8 : end], end if first == _MI_COMPRESSED else pos + 8 + ((second + 7) // 8) * 8


def _matrix(payload: memoryview, wanted: Collection[str]) -> tuple[str, np.ndarray | None]:
    """(name, array or None when not wanted) of one miMATRIX payload."""
    typ, flags, pos = _element(payload, 0)
    if typ != _MI_UINT32 or len(flags) != 8:
        raise _NotFastPath("array flags")
    word = struct.unpack_from("<I", flags)[0]
    mx_class = word & 0xFF
    typ, dims, pos = _element(payload, pos)
    if typ != _MI_INT32:
        raise _NotFastPath("dimensions")
    typ, name_bytes, pos = _element(payload, pos)
    if typ != _MI_INT8:
        raise _NotFastPath("name")
    name = bytes(name_bytes).decode("ascii", "replace")
    if name not in wanted:
        return name, None
    if mx_class not in _MX_NUMERIC or word & _MX_COMPLEX:
        raise _NotFastPath("not a real numeric matrix")
    typ, data, pos = _element(payload, pos)
    if typ not in _MI_DTYPES:
        raise _NotFastPath("data type")
    shape = struct.unpack(f"<{len(dims) // 4}i", dims)
    values = np.frombuffer(data, _MI_DTYPES[typ])
    if values.size != math.prod(shape):
        raise _NotFastPath("size")
    # Like loadmat's default (mat_dtype=False): the stored type, which MATLAB may narrow
    # (integral doubles saved as uint8); callers cast to what they need.
    return name, values.reshape(shape, order="F")


def _read_mat_fast(path: str, wanted: Collection[str]) -> dict[str, np.ndarray]:
    """The wanted variables of a little-endian MATLAB v5 file of real numeric matrices."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 128 or buf[126:128] != b"IM" or buf[124:126] != b"\x00\x01":
        raise _NotFastPath("not a little-endian MATLAB v5 file")
    out: dict[str, np.ndarray] = {}
    pos = 128
    while pos < len(buf) and len(out) < len(wanted):
        typ, payload, pos = _element(buf, pos)
        if typ == _MI_COMPRESSED:
            try:
                inner = zlib.decompress(payload)
            except zlib.error as err:
                raise _NotFastPath("bad zlib stream") from err
            typ, payload, _ = _element(inner, 0)
        if typ != _MI_MATRIX:
            raise _NotFastPath("not a matrix")
        name, array = _matrix(payload, wanted)
        if array is not None:
            out[name] = array
    return out


def _read_mat(path: str, wanted: Collection[str]) -> dict[str, np.ndarray]:
    try:
        return _read_mat_fast(path, wanted)
    except (_NotFastPath, struct.error, ValueError):
        pass
    import scipy.io

    try:
        return dict(scipy.io.loadmat(path, variable_names=tuple(wanted)))
    except Exception as err:  # scipy raises ValueError, TypeError, OSError, MatReadError...
        raise DatasetError(
            f"{path}: unreadable MATLAB file ({type(err).__name__}: {err}); "
            "expected a MATLAB v5 .mat holding CSIamp and CSIphase"
        ) from err


def read_csi_frame(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Reads ``CSIamp`` and ``CSIphase`` of one frame file.

    Returns:
        ``(amplitude, phase)``, each ``float32[3, 114, 10]`` (rx, subcarrier, packet),
        raw: amplitude may hold NaN and +-inf, phase is wrapped.

    Raises:
        DatasetError: the file is empty, truncated or not MATLAB v5, lacks a variable,
            or a variable is not (3, 114, 10).
    """
    mat = _read_mat(os.fspath(path), ("CSIamp", "CSIphase"))
    out = []
    for name in ("CSIamp", "CSIphase"):
        if name not in mat:
            raise DatasetError(f"{path}: no variable {name!r}; expected CSIamp and CSIphase of shape {FRAME_SHAPE}")
        a = np.asarray(mat[name])
        if a.shape != FRAME_SHAPE or a.dtype.kind not in "fiu":
            raise DatasetError(
                f"{path}: {name} has shape {a.shape} and dtype {a.dtype}; expected a real array of shape {FRAME_SHAPE}"
            )
        out.append(a.astype(np.float32))
    return out[0], out[1]


def read_ground_truth(path: str | os.PathLike[str]) -> np.ndarray:
    """Reads one sequence's 3D keypoints: ``float32[T, 17, 3]`` (T = 297 in MM-Fi), metres.

    Raises:
        DatasetError: unreadable, or not a real ``(T, 17, 3)`` array.
    """
    try:
        gt = np.load(os.fspath(path), allow_pickle=False)
    except Exception as err:  # ValueError, OSError, EOFError, UnpicklingError...
        raise DatasetError(
            f"{path}: unreadable ({type(err).__name__}: {err}); expected a .npy array of shape (297, 17, 3)"
        ) from err
    if not isinstance(gt, np.ndarray) or gt.ndim != 3 or gt.shape[1:] != GT_JOINTS or gt.dtype.kind not in "fiu":
        shape = getattr(gt, "shape", None)
        raise DatasetError(f"{path}: ground truth has shape {shape}; expected (297, 17, 3) keypoints in metres")
    return gt.astype(np.float32)
