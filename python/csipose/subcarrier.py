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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from csipose import _core
from csipose._arrays import as_kernel_array
from csipose.errors import ArgumentError, ShapeError

if TYPE_CHECKING:
    import scipy.sparse

__all__ = [
    "HT20_TONES",
    "HT40_TONES",
    "PLANS",
    "RESAMPLE_MODES",
    "Resampler",
    "SubcarrierPlan",
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
OutsideRule = Literal["nearest", "refuse"]


@dataclass(frozen=True)
class SubcarrierPlan:
    """The signed subcarrier (tone) indices a radio reports, in ascending order.

    Attributes:
        name: the key in :data:`PLANS`.
        indices: ``int64[S]``, strictly increasing, read-only; CSI columns must be in
            this order (reorder raw buffers that come in another, e.g. ESP32's).
        source: where the indices come from.
    """

    name: str
    indices: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.indices)


def _plan(name: str, indices: Any, source: str) -> SubcarrierPlan:
    a = np.array(indices, dtype=np.int64)
    assert a.ndim == 1 and np.all(np.diff(a) > 0), name
    a.flags.writeable = False
    return SubcarrierPlan(name, a, source)


def _tones(hi: int, gap: int) -> np.ndarray:
    """-hi..-gap and gap..hi, each end included."""
    return np.concatenate([np.arange(-hi, -gap + 1), np.arange(gap, hi + 1)])


_IEEE_HT = "IEEE 802.11n-2009 HT-LTF tones; the same list as csiread.utils.scidx"
#: Standard subcarrier plans by name; :meth:`Resampler.from_indices` takes a name as well.
PLANS: dict[str, SubcarrierPlan] = {
    p.name: p
    for p in (
        _plan("HT20", _tones(28, 1), f"HT20 (20 MHz 802.11n): -28..-1, +1..+28, 56 tones; {_IEEE_HT}(20, 1)"),
        _plan(
            "HT40",
            _tones(58, 2),
            "HT40 (40 MHz 802.11n): -58..-2, +2..+58, 114 tones (DC -1..+1 missing); the 114 subcarriers "
            f"of MM-Fi's WiFi CSI (NeurIPS 2023); {_IEEE_HT}(40, 1)",
        ),
        _plan(
            "IWL5300_30",
            # csiread.utils.scidx(20, 2): np.r_[-28:-1:2, -1, 1:28:2, 28]
            np.r_[-28:-1:2, -1, 1:28:2, 28],
            "Intel 5300 (Linux 802.11n CSI Tool), 20 MHz: 30 subcarriers, grouping Ng=2 "
            "(IEEE 802.11n-2016 Table 9-54): -28,-26,..,-2,-1,+1,+3,..,+27,+28; csiread.utils.scidx(20, 2)",
        ),
        _plan(
            "IWL5300_40_30",
            np.r_[-58:-2:4, -2, 2:58:4, 58],
            "Intel 5300 (Linux 802.11n CSI Tool), 40 MHz: 30 subcarriers, grouping Ng=4: "
            "-58,-54,..,-6,-2,+2,+6,..,+54,+58; csiread.utils.scidx(40, 4)",
        ),
        _plan(
            "ESP32_HT20",
            _tones(26, 1),
            "ESP32 (ESP32-CSI-Tool, csiread.ESP32), 20 MHz LLTF, the default capture: 52 tones -26..-1, "
            "+1..+26. ESP-IDF's 'Wi-Fi Channel State Information' table lists the 64 LLTF entries in the "
            "order 0..31, -32..-1; DC (0) and the guards (-32..-27, +27..+31) carry no estimate: drop them "
            "and reorder ascending before resampling",
        ),
        _plan(
            "ATHEROS_HT20",
            _tones(28, 1),
            "Atheros CSI Tool (csiread.Atheros, tones=56), 20 MHz: 56 tones -28..-1, +1..+28",
        ),
        _plan(
            "ATHEROS_HT40",
            _tones(58, 2),
            "Atheros CSI Tool (csiread.Atheros, tones=114), 40 MHz: 114 tones -58..-2, +2..+58",
        ),
    )
}

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
        self._source_indices: np.ndarray | None = None
        self._target_indices: np.ndarray | None = None
        self._described: str | None = None

    @classmethod
    def from_indices(
        cls,
        source_indices: Any,
        target_indices: Any = None,
        *,
        n_out: int | None = None,
        mode: Literal["linear", "area"] = "linear",
        outside: OutsideRule = "nearest",
    ) -> Resampler:
        """The operator from CSI on the tones ``source_indices`` to the tones ``target_indices``.

        Indices are signed subcarrier positions (e.g. ``-28..-1, 1..28``); any spacing,
        gaps at DC, pilots or guards, and non-integer positions are allowed. Input
        columns must be in the order of ``source_indices`` (strictly increasing); output
        ``k`` is the value at ``target_indices[k]`` (any order). Give exactly one of
        ``target_indices`` and ``n_out``: ``n_out`` evenly spaced positions from the first
        to the last source tone (``np.linspace``; a single one sits on the first tone).
        Either index argument may be a plan name from :data:`PLANS` (``"HT40"``,
        ``"IWL5300_30"``, ...).

        Modes, with the span ``[source[0], source[-1]]``:

        - ``"linear"``: a target between two source tones blends those two neighbours by
          distance; a target on a source tone takes it alone, and so does one nearer to it than
          the data's precision resolves (the other neighbour's weight is zero in float32, and a
          non-finite value there does not leak in through ``0 * inf``). Equals
          ``np.interp(target, source, row)`` (which holds the end values flat outside the span).
        - ``"area"``: the distinct target positions, sorted, cut the line into bins at the
          midpoints of neighbours; the first bin starts half the first spacing below the
          first target, the last ends half the last spacing above the last target, and a
          single distinct target owns the whole span. Bins are ``[lo, hi)``, the last one
          ``[lo, hi]``. Output ``k`` is the mean of the source tones in the bin of
          ``target[k]`` (equal targets share a bin); a bin holding no source tone takes
          the linear value at its target.

        ``outside``: targets outside the span. ``"nearest"``: a linear value there is the
        nearer end tone's (area bins are unaffected). ``"refuse"``: any target outside the
        span raises :class:`~csipose.errors.ArgumentError`, in either mode.

        Raises:
            ArgumentError: an unknown plan name or mode, non-finite positions, source
                indices not strictly increasing, both or neither of ``target_indices``
                and ``n_out``, or a target outside the span with ``outside="refuse"``.
            ShapeError: index arguments that are not 1-d or are empty.

        Example:
            >>> Resampler.from_indices("IWL5300_30", "HT40").n_out
            114
        """
        src, src_name = _positions(source_indices, "source_indices")
        if (target_indices is None) == (n_out is None):
            raise ArgumentError("target_indices, n_out: give exactly one of them")
        if target_indices is not None:
            dst, dst_name = _positions(target_indices, "target_indices")
            dst_positions = dst.astype(np.float64)
        else:
            count = _count(n_out, "n_out")
            dst, dst_name = None, f"n_out={count}"
            dst_positions = np.linspace(float(src[0]), float(src[-1]), count)
        if mode not in ("linear", "area"):
            raise ArgumentError(f"mode: expected one of 'linear', 'area', got {mode!r}")
        op = cls.__new__(cls)
        op._op = _core.Resampler.from_positions(
            src.astype(np.float64).tolist(), dst_positions.tolist(), mode, outside
        )
        op._source_indices = src
        op._target_indices = dst
        target = dst_name if dst is not None else f"target_indices=None, {dst_name}"
        op._described = (
            f"Resampler.from_indices({src_name}, {target}, mode={mode!r}, outside={outside!r})"
            f": {op.n_in} -> {op.n_out} subcarriers"
        )
        return op

    @property
    def source_indices(self) -> np.ndarray | None:
        """The source tone indices of :meth:`from_indices` (read-only), else None."""
        return getattr(self, "_source_indices", None)

    @property
    def target_indices(self) -> np.ndarray | None:
        """The target tone indices of :meth:`from_indices` (read-only); None when built
        from a count (``n_out=``) or by the constructor."""
        return getattr(self, "_target_indices", None)

    @property
    def outside(self) -> str | None:
        """The outside rule of :meth:`from_indices`, else None."""
        return self._op.outside

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
        described = getattr(self, "_described", None)
        return described if described is not None else repr(self._op)


def _positions(value: Any, arg: str) -> tuple[np.ndarray, str]:
    """Plan name or 1-d real positions -> (read-only int64 or float64 array, a short description)."""
    if isinstance(value, str):
        plan = PLANS.get(value)
        if plan is None:
            raise ArgumentError(f"{arg}: unknown plan {value!r}; expected one of {', '.join(PLANS)}")
        return plan.indices, repr(value)
    if isinstance(value, SubcarrierPlan):
        return value.indices, repr(value.name)
    try:
        a = np.asarray(value)
    except Exception as e:  # ragged or odd objects
        raise ArgumentError(f"{arg}: expected a 1-d sequence of positions or a plan name, got {e}") from None
    if a.dtype.kind == "b" or a.dtype.kind not in "iuf":
        raise ArgumentError(
            f"{arg}: expected integer or real positions or a plan name, got dtype {a.dtype}"
        )
    if a.ndim != 1:
        raise ShapeError(f"{arg}: expected a 1-d sequence of positions, got shape {a.shape}")
    if a.size == 0:
        raise ShapeError(f"{arg}: expected at least 1 position, got none")
    a = a.astype(np.int64) if a.dtype.kind in "iu" else a.astype(np.float64)
    a.flags.writeable = False
    return a, f"<{a.size} {arg} {a[0]}..{a[-1]}>"


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
