"""Array arguments as the Rust core accepts them."""

from __future__ import annotations

from typing import Any

import numpy as np

from csipose.errors import DTypeError

_REAL = frozenset({np.dtype(np.float32), np.dtype(np.float64)})
_NUMERIC = _REAL | {np.dtype(np.complex64), np.dtype(np.complex128)}


def as_kernel_array(x: Any, arg: str, *, real_only: bool = False) -> np.ndarray:
    """``x`` as a numpy array of a dtype the core accepts (no copy if it already is one).

    Bools and integers become float64 and float16 becomes float32; then the dtype
    must be float32 or float64 (or, unless ``real_only``, complex64 or complex128),
    else :class:`~csipose.errors.DTypeError` names ``arg``.
    """
    a = np.asarray(x)
    if a.dtype.kind in "biu":
        a = a.astype(np.float64)
    elif a.dtype == np.float16:
        a = a.astype(np.float32)
    if a.dtype not in (_REAL if real_only else _NUMERIC):
        kinds = "float32 or float64" if real_only else "float32, float64, complex64 or complex128"
        raise DTypeError(f"{arg}: expected a numeric array of {kinds} values, got dtype {a.dtype}")
    return a
