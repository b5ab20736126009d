"""Tones, propagation paths and the CSI a receiver measures.

The channel of receive antenna ``r`` at tone frequency ``f`` is a sum over
propagation paths ``p`` of ``a_p g_p exp(-j 2 pi f tau_p)`` with delay
``tau_p = length_p / c``:

- line of sight: ``g = lambda / (4 pi d)`` (free-space amplitude, Friis);
- first-order wall reflections (image sources): ``g = Gamma lambda / (4 pi L)``
  with ``L`` the unfolded length and ``Gamma`` the wall's reflection coefficient;
- static point scatterers and the body's points (bistatic radar equation):
  ``g = lambda sqrt(sigma) / ((4 pi)^(3/2) d_tx d_rx)``.

Static paths are also *shadowed* by the body: each of a path's straight segments
loses ``exp(-sum_q w_q exp(-d_q^2 / (2 r^2)))`` where ``d_q`` is the distance
from body point ``q`` to the segment and ``r`` the blocking radius (about the
first Fresnel-zone radius at the body); this is the attenuation that
radio-tomographic imaging measures, and it is a smooth function of pose. The
body's own echoes are not shadowed.

Within one frame (0.1 s) the body moves by centimetres: the carrier phase of its
echoes is computed at every packet, while their tone-dependent part
``exp(-j 2 pi (f - f_c) tau)`` is taken at the frame's middle packet (the error
is below 0.02 rad); the shadowing depth, smooth on a 10 cm scale, is computed
at the frame's first and last packets and interpolated linearly in between.

Measured CSI adds receiver impairments: complex Gaussian noise at a given SNR, a
random carrier phase offset per packet and a random timing offset per packet (a
phase slope across tones), both common to the three antennas of one NIC (each receiver of
several has its own), and,
in rooms that vary (``SyntheticConfig.room_variation``), the receiver's fixed gain
and per-antenna phase offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from csipose.data.synthetic.scenes import Scene
from csipose.subcarrier import HT40_TONES

__all__ = [
    "BLOCKING_RADIUS",
    "BODY_RCS",
    "CARRIER_HZ",
    "SPEED_OF_LIGHT",
    "TONE_SPACING_HZ",
    "StaticPaths",
    "body_channel",
    "channel",
    "impair",
    "shadowing_depth",
    "static_channel",
    "static_paths",
    "tone_frequencies",
]

SPEED_OF_LIGHT = 299_792_458.0
#: Centre frequency of the HT40 channel (802.11n channels 60 + 64).
CARRIER_HZ = 5.31e9
#: OFDM tone spacing of 802.11n.
TONE_SPACING_HZ = 312_500.0
#: Radius (m) over which a body point blocks a path segment (about the first Fresnel
#: zone radius, sqrt(lambda d1 d2 / (d1 + d2)) ~ 0.25 m, at the body).
BLOCKING_RADIUS = 0.2
#: Optical depth a body point of weight 1 adds to a segment passing through it.
BLOCKING_DEPTH = 2.5
#: Radar cross-section of a whole body (m^2), shared among its points by weight; small
#: because tissue absorbs most of what it does not forward-scatter into its shadow.
BODY_RCS = 0.05


def tone_frequencies(tones: np.ndarray = HT40_TONES, carrier_hz: float = CARRIER_HZ) -> np.ndarray:
    """Frequencies ``float64[K]`` in Hz of tone indices ``tones`` around ``carrier_hz``."""
    return carrier_hz + np.asarray(tones, dtype=np.float64) * TONE_SPACING_HZ


@dataclass(frozen=True, eq=False)
class StaticPaths:
    """The static propagation paths of a scene, per receive antenna.

    Attributes:
        delay: ``[R, N]`` path delays in seconds.
        gain: ``[R, N]`` amplitude gains (before shadowing).
        uses: ``[R, N, G]`` 1.0 where path ``n`` runs along segment ``g``.
        seg_start: ``[G, 3]`` segment start points.
        seg_dir: ``[G, 3]`` unit directions.
        seg_len: ``[G]`` lengths in metres.
    """

    delay: np.ndarray
    gain: np.ndarray
    uses: np.ndarray
    seg_start: np.ndarray
    seg_dir: np.ndarray
    seg_len: np.ndarray


def static_paths(scene: Scene, *, walls: bool = True, scatterers: bool = True) -> StaticPaths:
    """Line of sight, first-order wall reflections and scatterer paths of ``scene``."""
    lam = SPEED_OF_LIGHT / CARRIER_HZ
    segments: dict[tuple[float, ...], int] = {}
    seg_points: list[tuple[np.ndarray, np.ndarray]] = []

    def segment(a: np.ndarray, b: np.ndarray) -> int:
        key = tuple(np.round(np.concatenate([a, b]), 9).tolist())
        if key not in segments:
            segments[key] = len(seg_points)
            seg_points.append((a, b))
        return segments[key]

    per_rx: list[list[tuple[float, float, list[int]]]] = []
    for rx in scene.rx:
        paths: list[tuple[float, float, list[int]]] = []
        d = float(np.linalg.norm(rx - scene.tx))
        paths.append((d, lam / (4 * np.pi * d), [segment(scene.tx, rx)]))
        if walls:
            for w, gamma in enumerate(scene.wall_reflectivity):
                axis, plane = w // 2, (0.0 if w % 2 == 0 else scene.size[w // 2])
                image = scene.tx.copy()
                image[axis] = 2 * plane - scene.tx[axis]
                t = (plane - image[axis]) / (rx[axis] - image[axis])
                bounce = image + t * (rx - image)
                length = float(np.linalg.norm(rx - image))
                paths.append((length, gamma * lam / (4 * np.pi * length),
                              [segment(scene.tx, bounce), segment(bounce, rx)]))
        if scatterers:
            for s, rcs in zip(scene.scatterers, scene.scatterer_rcs):
                d1, d2 = float(np.linalg.norm(s - scene.tx)), float(np.linalg.norm(rx - s))
                g = lam * np.sqrt(rcs) / ((4 * np.pi) ** 1.5 * d1 * d2)
                paths.append((d1 + d2, g, [segment(scene.tx, s), segment(s, rx)]))
        per_rx.append(paths)

    n_rx, n_paths, n_seg = len(per_rx), len(per_rx[0]), len(seg_points)
    uses = np.zeros((n_rx, n_paths, n_seg))
    for r, paths in enumerate(per_rx):
        for n, (_, _, segs) in enumerate(paths):
            uses[r, n, segs] = 1.0
    start = np.array([a for a, _ in seg_points])
    vec = np.array([b - a for a, b in seg_points])
    length = np.linalg.norm(vec, axis=1)
    return StaticPaths(
        delay=np.array([[p[0] for p in paths] for paths in per_rx]) / SPEED_OF_LIGHT,
        gain=np.array([[p[1] for p in paths] for paths in per_rx]),
        uses=uses, seg_start=start, seg_dir=vec / length[:, None], seg_len=length,
    )


def shadowing_depth(points: np.ndarray, weights: np.ndarray, paths: StaticPaths) -> np.ndarray:
    """Optical depth the body adds to every segment.

    Args:
        points: ``[M, Q, 3]`` body points of ``M`` packets.
        weights: ``[Q]`` blocking weight of each point.

    Returns:
        ``float32[M, G]``.
    """
    m, q, _ = points.shape
    # Point-major rows so the weighted sum over points is one matrix-vector product.
    x = points.transpose(1, 0, 2).reshape(q * m, 3).astype(np.float32)
    a = paths.seg_start.astype(np.float32)
    u = paths.seg_dir.astype(np.float32)
    # Distance^2 from point p to segment a + t u, t in [0, L]: |p - a|^2 - 2 t s + t^2, s = (p - a) . u.
    s = x @ u.T
    s -= np.sum(a * u, axis=1)
    t = np.minimum(np.maximum(s, 0.0), paths.seg_len.astype(np.float32))
    s *= 2.0
    s -= t
    s *= t
    d2 = x @ (-2.0 * a.T)
    d2 += np.sum(x * x, axis=1, keepdims=True)
    d2 += np.sum(a * a, axis=1)
    d2 -= s
    np.maximum(d2, 0.0, out=d2)  # rounding can leave tiny negatives for points on a segment
    d2 *= np.float32(-0.5 / BLOCKING_RADIUS**2)
    block = np.exp(d2, out=d2)
    w = (BLOCKING_DEPTH * weights).astype(np.float32)
    return (w @ block.reshape(q, -1)).reshape(m, -1)


def static_channel(depth: np.ndarray, paths: StaticPaths, freqs: np.ndarray) -> np.ndarray:
    """Shadowed static channel ``complex64[M, R, K]`` from segment depths ``[M, G]``."""
    atten = np.exp(-(depth.astype(np.float64) @ paths.uses.transpose(0, 2, 1)))  # [R, M, N]
    phase = -2.0 * np.pi * paths.delay[:, :, None] * freqs  # [R, N, K]
    gain = paths.gain[:, :, None]
    h = np.empty((atten.shape[1], atten.shape[0], freqs.shape[0]), dtype=np.complex64)
    h.real = (atten @ (gain * np.cos(phase))).transpose(1, 0, 2)
    h.imag = (atten @ (gain * np.sin(phase))).transpose(1, 0, 2)
    return h


def body_channel(points: np.ndarray, rcs: np.ndarray, scene: Scene, freqs: np.ndarray,
                 carrier_hz: float = CARRIER_HZ) -> np.ndarray:
    """Echoes of the body points.

    Args:
        points: ``[T, P, Q, 3]`` body points at each packet of ``T`` frames.
        rcs: ``[Q]`` radar cross-section of each point in m^2.
        freqs: ``[K]`` tone frequencies.

    Returns:
        ``complex64[T, P, R, K]``.
    """
    lam = SPEED_OF_LIGHT / carrier_hz
    d_tx = np.linalg.norm(points - scene.tx, axis=-1)  # [T, P, Q]
    d_rx = np.linalg.norm(points[:, :, None] - scene.rx[:, None], axis=-1)  # [T, P, R, Q]
    tau = (d_tx[:, :, None] + d_rx) / SPEED_OF_LIGHT
    gain = lam * np.sqrt(rcs) / ((4 * np.pi) ** 1.5 * d_tx[:, :, None] * d_rx)
    carrier = gain * np.exp(-2j * np.pi * carrier_hz * tau)  # [T, P, R, Q]
    mid = tau[:, tau.shape[1] // 2]  # [T, R, Q]
    # |angle| < 2.5 rad here, so single precision loses nothing the noise would not hide.
    baseband = _unit_phasor((-2.0 * np.pi * mid[..., None] * (freqs - carrier_hz)).astype(np.float32))
    echoes = np.matmul(carrier.transpose(0, 2, 1, 3).astype(np.complex64), baseband)  # [T, R, P, K]
    return echoes.transpose(0, 2, 1, 3)


def _unit_phasor(angle: np.ndarray) -> np.ndarray:
    """``exp(1j * angle)`` through cos and sin (faster than complex exp); complex64 for float32 input."""
    out = np.empty(angle.shape, dtype=np.result_type(angle.dtype, np.complex64))
    out.real = np.cos(angle)
    out.imag = np.sin(angle)
    return out


def channel(points: np.ndarray, weights: np.ndarray, rcs: np.ndarray, scene: Scene, paths: StaticPaths,
            freqs: np.ndarray) -> np.ndarray:
    """The true channel ``complex64[T, P, R, K]`` with the body at ``points``.

    Args:
        points: ``[T, P, Q, 3]`` body points at each packet of ``T`` frames.
        weights: ``[Q]`` blocking weight of each point.
        rcs: ``[Q]`` radar cross-section of each point (m^2).
        freqs: ``[K]`` tone frequencies.
    """
    t, p = points.shape[:2]
    if points.shape[2] == 0:  # an empty room: the static paths, unshadowed, and no echo
        depth = np.zeros((t * p, len(paths.seg_len)), dtype=np.float32)
        return static_channel(depth, paths, freqs).reshape(t, p, len(scene.rx), -1)
    # Shadowing at each frame's first and last packet, linear in between (see the module notes).
    ends = [0, p - 1] if p > 1 else [0]
    depth = shadowing_depth(points[:, ends].reshape(t * len(ends), -1, 3), weights, paths)
    depth = depth.reshape(t, len(ends), -1)
    frac = np.linspace(0.0, 1.0, p, dtype=np.float32)[None, :, None]
    depth = (depth[:, :1] * (1 - frac) + depth[:, -1:] * frac).reshape(t * p, -1)
    h = static_channel(depth, paths, freqs).reshape(t, p, len(scene.rx), -1)
    h += body_channel(points, rcs, scene, freqs)
    return h


def impair(h: np.ndarray, rng: np.random.Generator, *, snr_db: float,
           tones: np.ndarray = HT40_TONES, timing_slope: float = 0.3,
           gain_db: float = 0.0, antenna_phase: np.ndarray | None = None, receivers: int = 1) -> np.ndarray:
    """What a NIC reports for the true channel ``h: [T, P, R, K]``; with ``receivers`` NICs, each of
    ``R / receivers`` consecutive antennas, what each reports: its own noise level, packet phase
    offsets and timing slopes (drawn NIC after NIC from ``rng``), since separate radios share no clock.

    Adds complex Gaussian noise of power ``10^(-snr_db/10)`` times the frame's
    mean channel power, then rotates each packet by a random phase offset
    (uniform in [0, 2 pi)) and a random timing slope (uniform in
    ``[-timing_slope, timing_slope]`` radians per tone index). A receiver's fixed
    effects come last: every antenna's gain ``gain_db`` (dB) and antenna ``r``'s phase
    offset ``antenna_phase[r]`` (radians; ``[R]``), the same for every packet; with the
    defaults (0 dB, None) nothing is applied and no random number is drawn for them.

    Returns:
        ``complex64[T, P, R, K]``.
    """
    if receivers > 1:
        parts = np.split(h, receivers, axis=2)
        phases: list[np.ndarray | None] = [None] * receivers
        if antenna_phase is not None:
            phases = list(np.split(np.asarray(antenna_phase), receivers))
        return np.concatenate([impair(part, rng, snr_db=snr_db, tones=tones, timing_slope=timing_slope,
                                      gain_db=gain_db, antenna_phase=phase) for part, phase in zip(parts, phases)],
                              axis=2)
    t, p, _, _ = h.shape
    power = np.mean(h.real**2 + h.imag**2, axis=(1, 2, 3), keepdims=True)
    sigma = np.sqrt(power * 10.0 ** (-snr_db / 10.0) / 2.0).astype(np.float32)
    noise = rng.standard_normal((*h.shape, 2), dtype=np.float32).view(np.complex64)[..., 0]
    offset = rng.uniform(0.0, 2 * np.pi, size=(t, p, 1, 1))
    slope = rng.uniform(-timing_slope, timing_slope, size=(t, p, 1, 1))
    rotation = _unit_phasor((offset + slope * np.asarray(tones, dtype=np.float64)).astype(np.float32))
    noise *= sigma
    noise += h
    noise *= rotation
    if gain_db != 0.0 or antenna_phase is not None:
        fixed = np.full(h.shape[2], 10.0 ** (gain_db / 20.0), dtype=np.complex128)
        if antenna_phase is not None:
            fixed *= np.exp(1j * np.asarray(antenna_phase, dtype=np.float64))
        noise *= fixed.astype(np.complex64)[:, None]
    return noise
