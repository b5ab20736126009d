"""Plain numpy references for the subcarrier kernels.

Written for clarity, not speed: every function works on one axis moved last
and loops over output subcarriers.
"""

from __future__ import annotations

import math

import numpy as np


def resampling_taps(n_in: int, n_out: int, mode: str, start: int = 0) -> list[list[tuple[int, float]]]:
    """For each output subcarrier, the (input index, weight) pairs with non-zero weight."""
    taps: list[list[tuple[int, float]]] = []
    for k in range(n_out):
        if mode == "linear":
            p = 0.0 if n_out == 1 else k * (n_in - 1) / (n_out - 1)
            i0 = min(int(math.floor(p)), n_in - 1)
            frac = p - i0
            taps.append([(i0, 1.0)] if frac == 0.0 or i0 == n_in - 1 else [(i0, 1 - frac), (i0 + 1, frac)])
        elif mode == "area":
            lo = (k * n_in) // n_out
            hi = -((-(k + 1) * n_in) // n_out)
            taps.append([(i, 1.0 / (hi - lo)) for i in range(lo, hi)])
        elif mode == "subband":
            taps.append([(start + k, 1.0)])
        else:
            raise ValueError(mode)
    return taps


def fill_rows(x: np.ndarray) -> np.ndarray:
    """Row-mean fill (``nan="fill"``) along the last axis: non-finite -> mean of the row's finite values (0 if none).

    Not MM-Fi's per-packet fill over (antennas, subcarriers); that is ``csipose.data.cleaning.fill_packet_mean``.
    """
    out = x.copy()
    flat = out.reshape(-1, x.shape[-1])
    for row in flat:
        bad = ~np.isfinite(row)
        if bad.any():
            good = row[~bad]
            row[bad] = good.mean() if good.size else 0
    return out


def resample(x: np.ndarray, n_out: int, mode: str, axis: int = -1, start: int = 0, nan: str = "propagate") -> np.ndarray:
    """Reference resampling of ``x`` along ``axis``, computed in float64.

    Complex input is resampled on its real and imaginary parts, as real weights act.
    """
    if np.iscomplexobj(x):
        moved = np.moveaxis(x, axis, -1)
        if nan == "fill":
            moved = fill_rows(moved.astype(np.complex128))
        re = resample(moved.real.copy(), n_out, mode, -1, start)
        im = resample(moved.imag.copy(), n_out, mode, -1, start)
        return np.moveaxis(re + 1j * im, -1, axis).astype(x.dtype)
    wide = np.float64
    moved = np.moveaxis(np.asarray(x, dtype=wide), axis, -1)
    if nan == "fill":
        moved = fill_rows(moved)
    n_in = moved.shape[-1]
    out = np.empty(moved.shape[:-1] + (n_out,), dtype=wide)
    for k, row_taps in enumerate(resampling_taps(n_in, n_out, mode, start)):
        idx = [i for i, _ in row_taps]
        w = np.array([w for _, w in row_taps])
        out[..., k] = (moved[..., idx] * w).sum(axis=-1)
    return np.moveaxis(out, -1, axis).astype(x.dtype)


def variance(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Population variance per subcarrier over all other axes, float64."""
    moved = np.moveaxis(x, axis, -1).reshape(-1, x.shape[axis])
    wide = moved.astype(np.complex128 if np.iscomplexobj(x) else np.float64)
    centred = wide - wide.mean(axis=0)
    return (np.abs(centred) ** 2).mean(axis=0)


def sanitize(phase: np.ndarray, axis: int = -1, tones: np.ndarray | None = None) -> np.ndarray:
    """np.unwrap, then subtract each row's least-squares line (np.polyfit)."""
    un = np.unwrap(np.moveaxis(phase, axis, -1).astype(np.float64), axis=-1)
    n = un.shape[-1]
    t = np.arange(n, dtype=np.float64) if tones is None else np.asarray(tones, dtype=np.float64)
    flat = un.reshape(-1, n)
    out = np.empty_like(flat)
    for r, row in enumerate(flat):
        if n == 1:
            out[r] = 0.0
        else:
            slope, intercept = np.polyfit(t, row, 1)
            out[r] = row - (slope * t + intercept)
    return np.moveaxis(out.reshape(un.shape), -1, axis).astype(phase.dtype)
