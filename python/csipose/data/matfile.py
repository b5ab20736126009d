"""Reading one MM-Fi WiFi frame (``frameNNN.mat``) and one ``ground_truth.npy``.

Every failure becomes a :class:`~csipose.errors.DatasetError` naming the file and
what was expected, whatever scipy or numpy raised underneath.
"""

from __future__ import annotations

import os

import numpy as np

from csipose.errors import DatasetError

__all__ = ["FRAME_SHAPE", "GT_JOINTS", "read_csi_frame", "read_ground_truth"]

#: (rx antennas, subcarriers, packets) of one MM-Fi WiFi frame.
FRAME_SHAPE: tuple[int, int, int] = (3, 114, 10)
#: Human3.6M-17 joints with (x, y, z) in metres.
GT_JOINTS: tuple[int, int] = (17, 3)


def read_csi_frame(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Reads ``CSIamp`` and ``CSIphase`` of one frame file.

    Returns:
        ``(amplitude, phase)``, each ``float32[3, 114, 10]`` (rx, subcarrier, packet),
        raw: amplitude may hold NaN and +-inf, phase is wrapped.

    Raises:
        DatasetError: the file is empty, truncated or not MATLAB v5, lacks a variable,
            or a variable is not (3, 114, 10).
    """
    import scipy.io

    try:
        mat = scipy.io.loadmat(os.fspath(path), variable_names=("CSIamp", "CSIphase"))
    except Exception as err:  # scipy raises ValueError, TypeError, OSError, MatReadError...
        raise DatasetError(
            f"{path}: unreadable MATLAB file ({type(err).__name__}: {err}); "
            "expected a MATLAB v5 .mat holding CSIamp and CSIphase"
        ) from err
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
