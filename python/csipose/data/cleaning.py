"""The official MM-Fi amplitude cleaning and the phase feature, over whole windows.

Official cleaning of ``CSIamp`` (``mmfi_lib``), per frame: inf -> NaN; for each
packet, NaNs of its (rx, subcarrier) slice become the mean of that slice's finite
values (:func:`fill_packet_mean`, the one implementation of MM-Fi's fill, a Rust
kernel); then the frame is min-max normalised to [0, 1]. Two cases the official code leaves to numpy
warnings are defined here: a slice with no finite value is filled with 0, and a
constant frame becomes zeros (no division by zero).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from csipose import _core
from csipose.errors import ShapeError
from csipose.subcarrier import HT40_TONES, Resampler, sanitize_phase

__all__ = ["LOG_FLOOR", "clean_amplitude", "fill_packet_mean", "log_amplitude", "phase_feature"]

#: :func:`log_amplitude`'s floor, relative to each frame's largest amplitude (-120 dB).
LOG_FLOOR = 1e-6


def _frames_in_place(x: np.ndarray, kernel: Callable[[np.ndarray], None]) -> None:
    """Runs an in-place frame kernel on ``x: float32[F, R, S, P]``, through a contiguous copy when needed."""
    if x.size == 0:
        return
    if x.strides[1:] == (x.shape[2] * x.shape[3] * 4, x.shape[3] * 4, 4):
        kernel(x)  # frames in C order, any stride between them (e.g. channels of a larger buffer)
    else:
        tmp = np.ascontiguousarray(x)
        kernel(tmp)
        np.copyto(x, tmp)


def _writeable_float32(x: Any, arg: str) -> np.ndarray:
    if not isinstance(x, np.ndarray) or x.dtype != np.float32 or not x.flags.writeable:
        raise TypeError(f"{arg}: cleaning in place needs a writeable float32 ndarray")
    if x.ndim != 4:
        raise ShapeError(f"{arg}: expected float32[F, R, S, P] (frames, rx, subcarriers, packets), got shape {x.shape}")
    return x


def _amplitude(amp: Any, copy: bool) -> np.ndarray:
    """``amp`` as the ``float32[W, R, S, P]`` array a cleaning works on: a float32 copy, or with
    ``copy`` False ``amp`` itself (a writeable float32 ndarray)."""
    if not copy:
        return _writeable_float32(amp, "amp")
    x = np.array(amp, dtype=np.float32)
    if x.ndim != 4:
        raise ShapeError(f"amp: expected float32[W, R, S, P] (frames, rx, subcarriers, packets), got shape {x.shape}")
    return x


def fill_packet_mean(x: np.ndarray) -> np.ndarray:
    """MM-Fi's official non-finite fill, in place: per packet, over all antennas and subcarriers.

    For every frame ``f`` and packet ``p``, each NaN or +-inf of the slice
    ``x[f, :, :, p]`` (3 rx antennas x 114 subcarriers in MM-Fi) becomes the mean of
    that slice's finite values, summed in float64; a slice with no finite value
    becomes zeros. Finite values are untouched.

    This is not the resampler's ``nan="fill"``, which averages one row along the
    subcarrier axis only (one antenna of one packet).

    Args:
        x: ``float32[F, R, S, P]`` (frames, rx, subcarriers, packets), writeable.

    Returns:
        ``x``, filled.
    """
    _frames_in_place(_writeable_float32(x, "x"), _core.fill_packet_mean)
    return x


def clean_amplitude(amp: np.ndarray, *, copy: bool = True) -> np.ndarray:
    """Officially cleaned amplitude: :func:`fill_packet_mean` on frames holding NaN/inf,
    then each frame min-max normalised to [0, 1] as ``(v - min) / (max - min)`` in float32.

    Args:
        amp: ``float32[W, R, S, P]`` raw amplitude (frames, rx, subcarriers, packets).
        copy: False cleans ``amp`` in place; it must then be a writeable float32 array
            (any strides, e.g. the amplitude channels of a larger buffer).

    Returns:
        ``float32[W, R, S, P]`` in [0, 1], finite (``amp`` itself when ``copy`` is False).
    """
    x = _amplitude(amp, copy)
    # one pass per frame while it sits in cache: the fill (only where needed), min, max, normalise
    _frames_in_place(x, _core.clean_mmfi_amplitude)
    return x


def log_amplitude(amp: np.ndarray, *, copy: bool = True) -> np.ndarray:
    """Log amplitude: :func:`fill_packet_mean` on non-finite values (as officially), then the
    natural log of each value, floored at :data:`LOG_FLOOR` times its frame's largest.

    A receiver's gain multiplies every amplitude of a room alike: in the log it is an offset,
    which standardising each room by its own statistics removes exactly, and each subcarrier
    keeps its own value (the official per-frame min-max ties every value to the frame's
    extremes, which the room's static paths set). The floor is relative, so it scales with the
    gain too; a frame of zeros stays finite (ln of the smallest positive float32).

    Args:
        amp: ``float32[W, R, S, P]`` raw amplitude (frames, rx, subcarriers, packets).
        copy: False takes the log of ``amp`` in place (a writeable float32 array, any strides).

    Returns:
        ``float32[W, R, S, P]``, finite (``amp`` itself when ``copy`` is False).
    """
    x = _amplitude(amp, copy)
    if x.size == 0:
        return x
    if not np.isfinite(x).all():
        fill_packet_mean(x)
    peak = np.abs(x).max(axis=(1, 2, 3), keepdims=True)
    floor = np.maximum(peak * np.float32(LOG_FLOOR), np.finfo(np.float32).tiny)
    np.log(np.maximum(x, floor), out=x)
    return x


def phase_feature(phase: np.ndarray, tones: np.ndarray | None = None) -> np.ndarray:
    """Sanitised phase: unwrapped along subcarriers, the per-packet linear trend removed.

    The abscissa is ``tones``, the signed subcarrier index of each of the ``S`` tones, so gaps
    (DC, grouping) are respected; without it, the HT40 tone indices (-58..-2, 2..58) when
    there are 114 subcarriers, else evenly spaced tones. Non-finite raw phase values become
    the finite mean of their row before unwrapping (one antenna of one packet along
    the subcarriers; 0 for a row with none): the resampler's ``nan="fill"``, not
    MM-Fi's per-packet amplitude fill, since phase is unwrapped row by row.

    Args:
        phase: ``float32[W, R, S, P]`` wrapped phase in radians.
        tones: ``int[S]`` signed subcarrier indices, or None.

    Returns:
        ``float32[W, R, S, P]``.
    """
    x = np.asarray(phase, dtype=np.float32)
    if x.size and not np.isfinite(x).all():
        # the identity resampler only copies; its row fill is the one kernel for it
        n = x.shape[2]
        x = Resampler(n, n, "subband").apply(x, axis=2, nan="fill")
    if tones is None and x.shape[2] == len(HT40_TONES):
        tones = HT40_TONES
    return sanitize_phase(x, axis=2, tones=tones)
