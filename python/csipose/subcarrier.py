"""Subcarrier resampling, variance selection and phase sanitising.

The work is done by the Rust core (``csipose._core``); this module checks
arguments, converts inputs to a supported dtype and documents the contracts.

Array shapes use named dims: ``x: float[..., S, ...]`` has ``S`` subcarriers
along ``axis``. Real (float32/float64) and complex (complex64/complex128) CSI
are accepted; integer input is converted to float64, float16 to float32.
Complex CSI is resampled on its real and imaginary parts. Never resample
wrapped phase: unwrap or sanitise it first (:func:`sanitize_phase`).
"""

from __future__ import annotations

import operator
import typing
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from csipose import _core
from csipose._arrays import as_kernel_array
from csipose.errors import ArgumentError

if TYPE_CHECKING:
    import scipy.sparse

__all__ = [
    "HT20_TONES",
    "HT40_TONES",
    "RESAMPLE_MODES",
    "Resampler",
    "interpolate_subcarriers",
    "sanitize_phase",
    "select_subcarriers_by_variance",
    "subcarrier_variance",
    "unwrap_phase",
]

ResampleMode = Literal["linear", "area", "subband"]
#: The :class:`Resampler` modes, as the settings that choose one list them.
RESAMPLE_MODES: tuple[str, ...] = typing.get_args(ResampleMode)
NanPolicy = Literal["propagate", "raise", "fill"]

#: Tone indices an HT40 (40 MHz) 802.11n radio reports: -58..-2, +2..+58 (114 tones).
HT40_TONES: np.ndarray = np.concatenate([np.arange(-58, -1), np.arange(2, 59)])
#: Tone indices of an HT20 (20 MHz) channel: -28..-1, +1..+28 (56 tones).
HT20_TONES: np.ndarray = np.concatenate([np.arange(-28, 0), np.arange(1, 29)])

def _count(value: Any, arg: str, minimum: int = 1) -> int:
    """Checks that ``value`` is an integer >= ``minimum``."""
    try:
        n = operator.index(value)
    except TypeError:
        raise ArgumentError(f"{arg}: expected an integer, got {type(value).__name__}") from None
    if n < minimum:
        raise ArgumentError(f"{arg}: expected an integer >= {minimum}, got {n}")
    return n


class Resampler:
    """The sparse operator ``W`` (``n_out x n_in``) that resamples subcarriers.

    Build it once, apply it to any number of arrays. Modes:

    - ``"linear"``: align-corners interpolation; output ``k`` sits at input position
      ``k (n_in - 1) / (n_out - 1)``. Equals ``torch.nn.functional.interpolate(...,
      mode="linear", align_corners=True)`` and ``np.interp`` at those positions.
    - ``"area"``: the mean over bin ``[floor(k n_in / n_out), ceil((k + 1) n_in / n_out))``;
      equals ``torch.nn.functional.adaptive_avg_pool1d``. Better under noise.
    - ``"subband"``: the contiguous block of ``n_out`` native tones starting at ``start``
      (default 0). For 114 -> 56 this keeps one HT20-sized half of an HT40 channel at
      native tone spacing, which is what a 20 MHz radio would see; ``start=58`` takes
      the upper half.

    Args:
        n_in: subcarriers in the input (e.g. 114 for MM-Fi's HT40 CSI).
        n_out: subcarriers wanted (e.g. 56).
        mode: ``"linear"``, ``"area"`` or ``"subband"``.
        start: first native tone of the block; ``"subband"`` only.
    """

    def __init__(
        self, n_in: int, n_out: int, mode: ResampleMode = "linear", *, start: int | None = None
    ) -> None:
        n_in = _count(n_in, "n_in")
        n_out = _count(n_out, "n_out")
        if start is not None:
            start = _count(start, "start", minimum=0)
        self._op = _core.Resampler(n_in, n_out, mode, start)

    @property
    def n_in(self) -> int:
        return int(self._op.n_in)

    @property
    def n_out(self) -> int:
        return int(self._op.n_out)

    @property
    def mode(self) -> str:
        return str(self._op.mode)

    @property
    def start(self) -> int | None:
        return self._op.start

    def apply(
        self, x: Any, axis: int = -1, *, nan: NanPolicy = "propagate", out: np.ndarray | None = None
    ) -> np.ndarray:
        """Resamples ``x: [..., n_in, ...]`` along ``axis`` to ``[..., n_out, ...]``.

        Args:
            x: real or complex CSI; any number of axes, any strides.
            axis: the subcarrier axis.
            nan: ``"propagate"`` (IEEE arithmetic), ``"raise"`` (:class:`~csipose.errors.
                NonFiniteError` on any NaN/inf) or ``"fill"``, a row-mean fill: each
                non-finite value is replaced by the mean of the finite values of its own
                row, the values along ``axis`` that share every other index (for an MM-Fi
                frame ``[antenna, subcarrier, packet]`` with ``axis=1``: one antenna in one
                packet); a row with none becomes zeros. This is not MM-Fi's official fill,
                which averages each packet's whole (antenna, subcarrier) slice: clean MM-Fi
                amplitude with :func:`csipose.data.cleaning.clean_amplitude` (or
                :func:`~csipose.data.cleaning.fill_packet_mean`) before resampling.

            out: an array to write the result into instead of a new one: ``x``'s dtype
                (after the integer -> float64 conversion), the result's shape, writeable,
                sharing no memory with ``x``. Reusing one buffer for a stream of batches
                saves the page faults of a fresh output; fastest when C-contiguous with
                ``axis`` last.

        Returns:
            A new C-contiguous array of ``x``'s dtype, or ``out``.
        """
        a = as_kernel_array(x, "x")
        return self._op.apply(a, _axis(axis), nan, out)

    __call__ = apply

    def matrix(self) -> scipy.sparse.csr_matrix:
        """The operator as a ``scipy.sparse.csr_matrix`` of shape ``(n_out, n_in)``."""
        import scipy.sparse

        indptr, indices, weights = self._op.csr()
        return scipy.sparse.csr_matrix((weights, indices, indptr), shape=(self.n_out, self.n_in))

    def __repr__(self) -> str:
        return repr(self._op)


def _axis(axis: Any) -> int:
    try:
        return operator.index(axis)
    except TypeError:
        raise ArgumentError(f"axis: expected an integer, got {type(axis).__name__}") from None


def interpolate_subcarriers(
    x: Any,
    n_out: int,
    *,
    mode: ResampleMode = "linear",
    axis: int = -1,
    nan: NanPolicy = "propagate",
    start: int | None = None,
) -> np.ndarray:
    """Resamples CSI ``x: [..., S, ...]`` to ``[..., n_out, ...]`` along ``axis``.

    A one-off :class:`Resampler`; build the resampler yourself to reuse it.
    With ``n_out == S`` the result is an equal copy. ``nan`` is as in
    :meth:`Resampler.apply` (``"fill"`` is the row-mean fill along ``axis``, not
    MM-Fi's per-packet fill).

    Example:
        >>> csi = np.random.default_rng(0).random((3, 114, 10), dtype=np.float32)
        >>> interpolate_subcarriers(csi, 56, axis=1).shape
        (3, 56, 10)
    """
    a = as_kernel_array(x, "x")
    if a.ndim == 0:
        raise ArgumentError("x: expected an array with a subcarrier axis, got a scalar")
    ax = _axis(axis)
    if not -a.ndim <= ax < a.ndim:
        raise ArgumentError(f"axis: {ax} is out of range for an array with {a.ndim} dimensions")
    return Resampler(a.shape[ax], n_out, mode, start=start).apply(a, ax, nan=nan)


def subcarrier_variance(x: Any, axis: int = -1) -> np.ndarray:
    """Population variance of each subcarrier over all other axes.

    ``x: [..., S, ...] -> float64[S]``; complex values use ``|x - mean|^2``.
    Raises :class:`~csipose.errors.NonFiniteError` on NaN/inf.
    """
    return _core.subcarrier_variance(as_kernel_array(x, "x"), _axis(axis))


def select_subcarriers_by_variance(x: Any, k: int, axis: int = -1) -> np.ndarray:
    """Indices of the ``k`` subcarriers of highest variance, ascending.

    Variance is the population variance over all other axes; ties go to the lower
    index. Fit it once on training data and index every split with the result:
    ``x[..., idx]``.

    Returns:
        ``int64[k]``, sorted ascending.
    """
    return _core.select_subcarriers_by_variance(as_kernel_array(x, "x"), _count(k, "k"), _axis(axis))


def unwrap_phase(phase: Any, axis: int = -1) -> np.ndarray:
    """Unwraps phase along ``axis``; the same result as ``np.unwrap(phase, axis=axis)``."""
    return _core.unwrap_phase(as_kernel_array(phase, "phase", real_only=True), _axis(axis))


def sanitize_phase(phase: Any, axis: int = -1, *, tones: Any = None) -> np.ndarray:
    """Unwraps raw phase along ``axis`` and removes its least-squares line.

    Raw CSI phase carries a linear error across subcarriers (timing offset) plus a
    constant (carrier phase offset) that changes every packet; what remains after
    removing the fitted line ``a + b * tone`` is the part a body can change.

    Args:
        phase: ``float[..., S, ...]`` wrapped phase in radians.
        axis: the subcarrier axis.
        tones: ``S`` tone positions used as the line's abscissa (default ``0..S-1``);
            pass :data:`HT40_TONES` for MM-Fi's 114 subcarriers to respect the gap at DC.

    Returns:
        ``float[..., S, ...]`` of the input's dtype; each row has zero mean and zero slope.
    """
    a = as_kernel_array(phase, "phase", real_only=True)
    ax = _axis(axis)
    if a.ndim == 0 or not -a.ndim <= ax < a.ndim:
        raise ArgumentError(f"axis: {ax} is out of range for an array with {a.ndim} dimensions")
    n = a.shape[ax]
    positions = np.arange(n, dtype=np.float64) if tones is None else np.asarray(tones, dtype=np.float64)
    if positions.ndim != 1:
        raise ArgumentError(f"tones: expected a 1-d sequence of {n} positions, got shape {positions.shape}")
    return _core.sanitize_phase(a, positions.tolist(), ax)
