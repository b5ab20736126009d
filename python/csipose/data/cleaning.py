"""The official MM-Fi amplitude cleaning and the phase feature, over whole windows.

Official cleaning of ``CSIamp`` (``mmfi_lib``), per frame: inf -> NaN; for each
packet, NaNs of its (rx, subcarrier) slice become the mean of that slice's finite
values (:func:`fill_packet_mean`, the one implementation of MM-Fi's fill); then the
frame is min-max normalised to [0, 1]. Two cases the official code leaves to numpy
warnings are defined here: a slice with no finite value is filled with 0, and a
constant frame becomes zeros (no division by zero).
"""

from __future__ import annotations

import numpy as np

from csipose.subcarrier import HT40_TONES, Resampler, sanitize_phase

__all__ = ["clean_amplitude", "fill_packet_mean", "phase_feature"]


def fill_packet_mean(x: np.ndarray) -> np.ndarray:
    """MM-Fi's official non-finite fill, in place: per packet, over all antennas and subcarriers.

    For every frame ``f`` and packet ``p``, each NaN or +-inf of the slice
    ``x[f, :, :, p]`` (3 rx antennas x 114 subcarriers in MM-Fi) becomes the mean of
    that slice's finite values, computed in float64; a slice with no finite value
    becomes zeros. Finite values are untouched.

    This is not the resampler's ``nan="fill"``, which averages one row along the
    subcarrier axis only (one antenna of one packet).

    Args:
        x: ``float32[F, R, S, P]`` (frames, rx, subcarriers, packets), writeable.

    Returns:
        ``x``, filled.
    """
    finite = np.isfinite(x)
    count = finite.sum(axis=(1, 2), keepdims=True)
    total = np.where(finite, x, 0.0).sum(axis=(1, 2), keepdims=True, dtype=np.float64)
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0).astype(x.dtype)
    np.copyto(x, np.broadcast_to(mean, x.shape), where=~finite)
    return x


def clean_amplitude(amp: np.ndarray, *, copy: bool = True) -> np.ndarray:
    """Officially cleaned amplitude.

    Args:
        amp: ``float32[W, R, S, P]`` raw amplitude (frames, rx, subcarriers, packets).
        copy: False cleans ``amp`` in place; it must then be a writeable float32 array
            (any strides, e.g. the amplitude channels of a larger buffer).

    Returns:
        ``float32[W, R, S, P]`` in [0, 1], finite (``amp`` itself when ``copy`` is False).
    """
    if copy:
        x = np.array(amp, dtype=np.float32)
    else:
        x = amp
        if not isinstance(x, np.ndarray) or x.dtype != np.float32 or not x.flags.writeable:
            raise TypeError("amp: cleaning in place needs a writeable float32 ndarray")
    if x.size == 0:
        return x
    flat = x.reshape(len(x), -1)
    lo, hi = flat.min(axis=1), flat.max(axis=1)
    # min and max propagate NaN and reach +-inf, so finite extremes mean a clean frame:
    # the common case costs no extra pass.
    dirty = ~(np.isfinite(lo) & np.isfinite(hi))
    if dirty.any():
        frames = fill_packet_mean(x[dirty])
        x[dirty] = frames
        flat_dirty = frames.reshape(len(frames), -1)
        lo[dirty], hi[dirty] = flat_dirty.min(axis=1), flat_dirty.max(axis=1)
    lo = lo.reshape(-1, 1, 1, 1)
    span = hi.reshape(-1, 1, 1, 1) - lo
    x -= lo
    # A constant frame is all zeros after subtracting its minimum; dividing it by 1 keeps it so.
    x /= np.where(span > 0, span, np.float32(1))
    return x


def phase_feature(phase: np.ndarray) -> np.ndarray:
    """Sanitised phase: unwrapped along subcarriers, the per-packet linear trend removed.

    Uses the HT40 tone indices (-58..-2, 2..58) as abscissa when there are 114
    subcarriers, so the gap at DC is respected. Non-finite raw phase values become
    the finite mean of their row before unwrapping (one antenna of one packet along
    the subcarriers; 0 for a row with none): the resampler's ``nan="fill"``, not
    MM-Fi's per-packet amplitude fill, since phase is unwrapped row by row.

    Args:
        phase: ``float32[W, R, S, P]`` wrapped phase in radians.

    Returns:
        ``float32[W, R, S, P]``.
    """
    x = np.asarray(phase, dtype=np.float32)
    if x.size and not np.isfinite(x).all():
        # the identity resampler only copies; its row fill is the one kernel for it
        n = x.shape[2]
        x = Resampler(n, n, "subband").apply(x, axis=2, nan="fill")
    tones = HT40_TONES if x.shape[2] == len(HT40_TONES) else None
    return sanitize_phase(x, axis=2, tones=tones)
