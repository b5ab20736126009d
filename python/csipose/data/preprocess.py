"""The one path from raw CSI frames to a model's input: :class:`Preprocess`.

Every dataset (MM-Fi, synthetic) and every predictor (:mod:`csipose.infer`) turns raw
frames into model input with a :class:`Preprocess`, and a trained model records its own
(in checkpoints and in exported ONNX files), so it always receives its inputs the way it was
trained. The steps, in order:

1. **features**: amplitude channels first, then phase channels, one per receive antenna; or
   ``("conjugate",)``: the amplitude then the phase of the conjugate product
   ``H_a * conj(H_b)`` of every antenna pair ``a < b`` (:func:`conjugate_products`), in which a
   per-packet phase offset and timing slope common to the antennas cancel exactly (so its phase
   is not sanitised; non-finite products become 0);
2. **phase sanitising** (:func:`~csipose.data.cleaning.phase_feature`): unwrapped along the
   subcarriers and the per-packet line removed, on the source's own tones (never resampled
   while wrapped);
3. **amplitude cleaning** (``"official"``): MM-Fi's per-packet NaN/inf fill and per-frame
   min-max to [0, 1] (:func:`~csipose.data.cleaning.clean_amplitude`); ``"raw"`` keeps it;
   ``"log"``: the same fill, then the log (:func:`~csipose.data.cleaning.log_amplitude`);
4. **subcarrier resampling** to ``subcarriers`` with ``subcarrier_mode`` (:class:`~csipose.Resampler`),
   when the source count differs;
5. **windows**: ``window`` consecutive frames per sample, labelled by the last.

Raw input contract: ``amplitude, phase: float[F, A, S, P]`` (frames, receive antennas,
subcarriers, packets) or complex CSI of that shape; ``A`` and ``P`` as trained, and ``S`` the
trained source count unless the preprocessing resamples (then any count is resampled).

No torch here: a predictor of an exported model needs only numpy and onnxruntime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import numpy as np

from csipose._checks import positive_int
from csipose.data.cleaning import clean_amplitude, log_amplitude, phase_feature
from csipose.errors import ArgumentError, ShapeError
from csipose.subcarrier import RESAMPLE_MODES, ResampleMode, Resampler

__all__ = ["CONJUGATE", "FEATURES", "Preprocess", "antenna_pairs", "conjugate_products", "split_complex"]

#: The feature groups, in channel order.
FEATURES = ("amplitude", "phase")
#: The feature of conjugate antenna products: their amplitude channels, then their phase channels.
CONJUGATE = "conjugate"
_CLEANING = ("official", "raw", "log")


@lru_cache(maxsize=16)
def _resampler(n_in: int, n_out: int, mode: str) -> Resampler:
    return Resampler(n_in, n_out, cast(ResampleMode, mode))


def split_complex(csi: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(|csi|, angle(csi))`` as float32 of complex CSI ``[F, A, S, P]``: the amplitude a NIC
    reports (linear magnitude, as the synthetic generator writes it) and the wrapped phase."""
    x = np.asarray(csi)
    if not np.iscomplexobj(x):
        raise ArgumentError(f"csi: expected complex CSI, got {x.dtype}")
    return np.abs(x).astype(np.float32), np.angle(x).astype(np.float32)


def antenna_pairs(antennas: int) -> tuple[tuple[int, int], ...]:
    """The antenna pairs ``(a, b)``, ``a < b``, of the conjugate products, in channel order."""
    return tuple((a, b) for a in range(antennas) for b in range(a + 1, antennas))


def conjugate_products(amplitude: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """``float32[F, 2 * Q, S, P]``: amplitude ``|H_a H_b^*|`` then phase ``angle(H_a H_b^*)`` of the
    ``Q`` antenna pairs (:func:`antenna_pairs`) of CSI ``H = amplitude * exp(j phase)``, both
    ``float[F, A, S, P]``. A phase term common to every antenna (a packet's phase offset, its
    timing slope across the tones) cancels exactly. Non-finite products are left for the
    amplitude cleaning; a non-finite product phase becomes 0."""
    pairs = antenna_pairs(np.shape(amplitude)[1])
    a, b = (np.array([p[k] for p in pairs], dtype=np.intp) for k in (0, 1))
    with np.errstate(invalid="ignore", over="ignore"):  # MM-Fi's inf/NaN amplitudes stay non-finite
        h = np.asarray(amplitude, np.float64) * np.exp(1j * np.asarray(phase, np.float64))
        product = h[:, a] * np.conj(h[:, b])  # [F, Q, S, P]
        angle = np.nan_to_num(np.angle(product), nan=0.0, posinf=0.0, neginf=0.0)
    return np.concatenate([np.abs(product), angle], axis=1).astype(np.float32)


@dataclass(frozen=True)
class Preprocess:
    """Raw CSI frames ``[F, A, S_in, P]`` -> model input windows ``float32[N, W, C, S, P]``.

    Attributes:
        features: ``("amplitude",)``, ``("phase",)`` or both, in that channel order; or
            ``("conjugate",)``, the antenna pairs' conjugate products (amplitude, then phase).
        cleaning: ``"official"`` (MM-Fi's fill and per-frame min-max), ``"raw"`` or ``"log"``
            (the fill, then the log amplitude).
        antennas: A, receive antennas per frame.
        packets: P, packets per frame.
        source_subcarriers: S_in, the subcarrier count of the frames the model was trained from.
        subcarriers: S, the count the model sees (resampled when it differs from the input's).
        subcarrier_mode: the :class:`~csipose.Resampler` mode of that resampling.
        window: W, frames per sample; a sample's label is its last frame.
    """

    features: tuple[str, ...] = FEATURES
    cleaning: str = "official"
    antennas: int = 3
    packets: int = 10
    source_subcarriers: int = 114
    subcarriers: int = 114
    subcarrier_mode: str = "linear"
    window: int = 1

    def __post_init__(self) -> None:
        features = (self.features,) if isinstance(self.features, str) else tuple(self.features)
        if features != (CONJUGATE,):
            if not features or any(f not in FEATURES for f in features) or len(set(features)) != len(features):
                raise ArgumentError(
                    f"features: expected a non-empty subset of {FEATURES} or ({CONJUGATE!r},), got {features!r}"
                )
            features = tuple(f for f in FEATURES if f in features)
        object.__setattr__(self, "features", features)
        if self.cleaning not in _CLEANING:
            raise ArgumentError(f"cleaning: expected 'official', 'raw' or 'log', got {self.cleaning!r}")
        if self.subcarrier_mode not in RESAMPLE_MODES:
            raise ArgumentError(
                f"subcarrier_mode: expected one of {', '.join(RESAMPLE_MODES)}, got {self.subcarrier_mode!r}"
            )
        for name in ("antennas", "packets", "source_subcarriers", "subcarriers", "window"):
            object.__setattr__(self, name, positive_int(getattr(self, name), name))
        if self.conjugate and self.antennas < 2:
            raise ArgumentError(
                f"features: conjugate products need at least 2 receive antennas, got antennas = {self.antennas}"
            )

    # -- shapes --------------------------------------------------------------------------

    @property
    def conjugate(self) -> bool:
        """True for the conjugate-product features."""
        return self.features == (CONJUGATE,)

    @property
    def amplitude_channels(self) -> int:
        """The leading channels that are amplitudes (cleaned): one per antenna, or per antenna pair."""
        if self.conjugate:
            return len(antenna_pairs(self.antennas))
        return self.antennas if "amplitude" in self.features else 0

    @property
    def channels(self) -> int:
        """C: ``antennas`` channels per feature (two per antenna pair for conjugate products)."""
        if self.conjugate:
            return 2 * len(antenna_pairs(self.antennas))
        return self.antennas * len(self.features)

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """``(C, S, P)`` of one preprocessed frame."""
        return (self.channels, self.subcarriers, self.packets)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """``(W, C, S, P)``: one model input window."""
        return (self.window, *self.frame_shape)

    @property
    def resamples(self) -> bool:
        """True when the model sees a different subcarrier count than its training source had."""
        return self.subcarriers != self.source_subcarriers

    # -- the steps -----------------------------------------------------------------------

    @property
    def source_tones(self) -> np.ndarray | None:
        """``int64[S_in]``: the signed subcarrier indices of the training source's tones (HT40's
        114 for MM-Fi and the synthetic generator, HT20's 56), None for another count."""
        from csipose.subcarrier import PLANS

        named = {len(PLANS[n].indices): PLANS[n].indices for n in ("HT20", "HT40")}
        return named.get(self.source_subcarriers)

    def frames(
        self, amplitude: Any, phase: Any = None, *, phase_sanitised: bool = False, tones: Any = None
    ) -> np.ndarray:
        """Preprocessed frames ``float32[F, C, S, P]`` of raw frames.

        Args:
            amplitude: ``float[F, A, S_in, P]`` raw amplitude, or complex CSI of that shape
                (then ``phase`` must be None; amplitude and phase are its magnitude and angle).
            phase: ``float[F, A, S_in, P]`` wrapped phase in radians; needed when the model
                uses phase.
            phase_sanitised: ``phase`` is already sanitised (a prepared MM-Fi cache stores it so).
            tones: ``int[S]``, the signed subcarrier index of each input tone (any card's plan,
                e.g. :data:`csipose.PLANS` ``IWL5300_30``): the phase is sanitised on these
                tones, then amplitude and phase are resampled by index
                (:meth:`csipose.Resampler.from_indices`, linear, or area when the
                preprocessing's mode is area; outside the input's span the end tone) onto the
                training source's tones (:attr:`source_tones`) before the steps above. None:
                the input is on the training source's tones already.

        Raises:
            ShapeError: a rank, antenna, packet or subcarrier count the model was not trained
                on (see the module docstring), or amplitude and phase of different shapes.
        """
        if np.iscomplexobj(amplitude):
            if phase is not None:
                raise ArgumentError("phase: give complex CSI alone, or real amplitude and phase")
            amplitude, phase = split_complex(amplitude)
        if self.conjugate:
            return self._conjugate_frames(amplitude, phase, phase_sanitised, tones)
        if tones is not None:
            amplitude, phase = self._onto_source_tones(amplitude, phase, tones, phase_sanitised)
            phase_sanitised = True
        amp = self._checked(amplitude, "amplitude") if "amplitude" in self.features else None
        pha = self._checked(phase, "phase") if "phase" in self.features else None
        if amp is not None and pha is not None and amp.shape != pha.shape:
            raise ShapeError(f"phase: expected the amplitude's shape {list(amp.shape)}, got {list(pha.shape)}")
        first = amp if amp is not None else pha
        assert first is not None
        x = np.empty((first.shape[0], self.channels, *first.shape[2:]), dtype=np.float32)
        a = self.antennas
        if amp is not None:
            x[:, :a] = amp
        if pha is not None:
            at = a if amp is not None else 0
            x[:, at:] = pha if phase_sanitised else phase_feature(pha)
        return self.finish(x)

    def _conjugate_frames(self, amplitude: Any, phase: Any, sanitised: bool, tones: Any) -> np.ndarray:
        """:meth:`frames` of the conjugate-product features."""
        if sanitised or tones is not None:
            raise ArgumentError(
                "phase: conjugate products need the raw phase on the training source's tones "
                "(phase_sanitised and tones are not taken)"
            )
        amp = self._checked(amplitude, "amplitude")
        pha = self._checked(phase, "phase")
        if amp.shape != pha.shape:
            raise ShapeError(f"phase: expected the amplitude's shape {list(amp.shape)}, got {list(pha.shape)}")
        return self.finish(conjugate_products(amp, pha))

    def finish(self, x: np.ndarray) -> np.ndarray:
        """Cleaning and resampling of assembled frames: ``x: float32[F, C, S_in, P]`` holding raw
        amplitude channels then sanitised phase channels (or conjugate products); the amplitude
        is cleaned in place.

        Returns:
            ``float32[F, C, S, P]`` (``x`` itself when no resampling is needed).
        """
        if self.amplitude_channels and self.cleaning == "official":
            clean_amplitude(x[:, : self.amplitude_channels], copy=False)
        elif self.amplitude_channels and self.cleaning == "log":
            log_amplitude(x[:, : self.amplitude_channels], copy=False)
        n_in = x.shape[2]
        if n_in != self.subcarriers:
            x = _resampler(n_in, self.subcarriers, self.subcarrier_mode).apply(x, axis=2)
        return x

    def windows(self, frames: np.ndarray) -> np.ndarray:
        """``float32[F - W + 1, W, C, S, P]``: every window of ``window`` consecutive frames of
        ``frames: [F, C, S, P]`` (none when ``F < W``), window ``i`` ending at frame ``i + W - 1``."""
        w = self.window
        if frames.ndim != 4:
            raise ShapeError(f"frames: expected [F, C, S, P], got shape {list(frames.shape)}")
        if w == 1:
            return frames[:, None]
        n = max(frames.shape[0] - w + 1, 0)
        if n == 0:
            return np.zeros((0, w, *frames.shape[1:]), dtype=frames.dtype)
        view = np.lib.stride_tricks.sliding_window_view(frames, w, axis=0)  # [n, C, S, P, W]
        return np.ascontiguousarray(np.moveaxis(view, -1, 1))

    def __call__(self, amplitude: Any, phase: Any = None) -> np.ndarray:
        """Model input ``float32[F - W + 1, W, C, S, P]`` of ``F`` consecutive raw frames:
        :meth:`frames`, then :meth:`windows`."""
        return self.windows(self.frames(amplitude, phase))

    def _onto_source_tones(
        self, amplitude: Any, phase: Any, tones: Any, sanitised: bool
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Amplitude and sanitised phase of frames on ``tones``, resampled onto :attr:`source_tones`."""
        from csipose.subcarrier import Resampler

        target = self.source_tones
        if target is None:
            raise ArgumentError(
                f"tones: the model's source has {self.source_subcarriers} subcarriers of no named plan, "
                "so frames of other tones cannot be placed on it"
            )
        index = np.asarray(tones)
        arrays = [None if v is None else np.asarray(v, dtype=np.float32) for v in (amplitude, phase)]
        for name, x in zip(("amplitude", "phase"), arrays):
            if x is not None and (x.ndim != 4 or x.shape[2] != len(index)):
                raise ShapeError(
                    f"{name}: expected [F, A, {len(index)}, P] (one subcarrier per entry of tones), "
                    f"got shape {list(x.shape)}"
                )
        amp, pha = arrays
        if pha is not None and not sanitised:
            pha = phase_feature(pha, tones=index)
        if np.array_equal(index, target):
            return amp, pha
        mode = "area" if self.subcarrier_mode == "area" else "linear"
        op = Resampler.from_indices(index, target, mode=mode, outside="nearest")
        return tuple(None if x is None else op.apply(x, axis=2) for x in (amp, pha))  # type: ignore[return-value]

    def _checked(self, value: Any, arg: str) -> np.ndarray:
        if value is None:
            raise ArgumentError(f"{arg}: this model uses {' and '.join(self.features)}; {arg} frames are required")
        x = np.asarray(value)
        if x.dtype.kind not in "fiu":
            raise ArgumentError(f"{arg}: expected real numbers, got {x.dtype}")
        expected = f"[F, {self.antennas}, S, {self.packets}] (frames, antennas, subcarriers, packets)"
        if x.ndim != 4:
            raise ShapeError(f"{arg}: expected {expected}, got rank {x.ndim} shape {list(x.shape)}")
        _, a, s, p = x.shape
        if a != self.antennas:
            raise ShapeError(f"{arg}: expected {self.antennas} receive antennas (axis 1 of {expected}), got {a}")
        if p != self.packets:
            raise ShapeError(f"{arg}: expected {self.packets} packets (axis 3 of {expected}), got {p}")
        if s != self.source_subcarriers and not self.resamples:
            raise ShapeError(
                f"{arg}: the model was trained on {self.source_subcarriers} subcarriers without resampling, "
                f"got {s} (axis 2); its preprocessing cannot map {s} onto {self.subcarriers}"
            )
        return x.astype(np.float32, copy=False)

    # -- records -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, ints, strings) for checkpoints and ONNX metadata."""
        return {
            "features": list(self.features), "cleaning": self.cleaning, "antennas": self.antennas,
            "packets": self.packets, "source_subcarriers": self.source_subcarriers,
            "subcarriers": self.subcarriers, "subcarrier_mode": self.subcarrier_mode, "window": self.window,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, source: str = "preprocess") -> Preprocess:
        """The inverse of :meth:`to_dict`; a missing or unknown key raises ArgumentError naming ``source``."""
        known = set(cls.__dataclass_fields__)
        if not isinstance(values, Mapping):
            raise ArgumentError(f"{source}: expected a table of preprocessing settings, got {type(values).__name__}")
        unknown = sorted(set(values) - known)
        missing = sorted(known - set(values))
        if unknown or missing:
            raise ArgumentError(
                f"{source}: " + (f"unknown setting {unknown[0]!r}" if unknown else f"missing setting {missing[0]!r}")
            )
        try:
            settings: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
            return cls(**settings)
        except ArgumentError as err:
            raise ArgumentError(f"{source}.{err}") from None

    def describe(self) -> str:
        """One line for people: ``"amplitude + phase, official cleaning, 114 -> 56 linear, window 1"``."""
        tones = (
            f"{self.source_subcarriers} -> {self.subcarriers} subcarriers ({self.subcarrier_mode})"
            if self.resamples else f"{self.subcarriers} subcarriers"
        )  # fmt: skip
        return (f"{' + '.join(self.features)} of {self.antennas} antennas x {self.packets} packets, "
                f"{self.cleaning} cleaning, {tones}, window {self.window}")
