"""Data families whose CSI carries the pose without the simulator's physics.

The physics family (the default) renders CSI from a room's radio channel, so its pose
information has the spatial structure of shadowed paths across neighbouring tones. A
model can learn to exploit that structure and still fail on a card, a room or a
preprocessing whose CSI holds the pose differently. The other families keep the
generator's people, actions, splits and labels, but map the pose of every packet to
raw amplitude by a fixed random function with no order across tones; their raw phase is
pure noise, as sanitised phase mostly is on real cards. A model that learns these as
well as a closed-form ridge regression does learns what the data holds.

Families (``SyntheticConfig.family``):

- ``"physics"``: the radio channel of the room (:mod:`~csipose.data.synthetic.radio`).
- ``"dense_map"``: every (antenna, tone) amplitude is a saturating function of a dense
  random mix of all 51 joint coordinates: ``1 + 0.5 tanh(1.5 (M z + b))``.
- ``"subcarrier_mix"``: every (antenna, tone) amplitude is a softplus of a sparse random
  mix of three joint coordinates, times a gain per antenna drawn for each sequence
  (0.7-1.4, as uncalibrated receive chains give), with the tones in random order.

``z`` is the pose code: joint positions relative to the stage's floor point and 0.9 m up,
in units of 0.4 m, ``float[..., 51]``. Noise is white Gaussian at ``snr_db`` below the
frame's mean amplitude power, the same rule as the physics family's.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FAMILIES", "family_map", "pose_code", "render_family"]

#: The data families the generator knows; ``"physics"`` is the default.
FAMILIES = ("physics", "dense_map", "subcarrier_mix")

_CODE_CENTRE = np.array([0.0, 0.0, 0.9])
_CODE_SCALE = 0.4
_MIX_TERMS = 3
_GAIN_RANGE = (0.5, 2.0)
_SNR_DB = 10.0


def pose_code(joints: np.ndarray, stage: np.ndarray) -> np.ndarray:
    """``float64[..., 51]``: world joints ``[..., 17, 3]`` relative to the stage, in 0.4 m units."""
    origin = np.array([stage[0], stage[1], 0.0]) + _CODE_CENTRE
    rel = (np.asarray(joints, dtype=np.float64) - origin) / _CODE_SCALE
    return rel.reshape(*rel.shape[:-2], -1)


def family_map(family: str, rng: np.random.Generator, *, antennas: int = 3, tones: int = 114) -> dict[str, np.ndarray]:
    """The fixed random map of ``family`` (one per seed), as named arrays.

    ``dense_map``: ``matrix [51, A*K]``, ``offset [A*K]``.
    ``subcarrier_mix``: ``terms int[A*K, 3]`` (joint coordinates mixed), ``weights [A*K, 3]``,
    ``offset [A*K]``.
    """
    width = antennas * tones
    if family == "dense_map":
        return {"matrix": rng.standard_normal((51, width)) / np.sqrt(51.0), "offset": rng.normal(0.0, 0.5, width)}
    if family == "subcarrier_mix":
        terms = np.stack([rng.choice(51, size=_MIX_TERMS, replace=False) for _ in range(width)])
        return {"terms": terms, "weights": rng.standard_normal((width, _MIX_TERMS)), "offset": rng.normal(0.0, 0.5, width)}
    raise ValueError(f"family: no random map for {family!r}")


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def render_family(family: str, mapping: dict[str, np.ndarray], joints: np.ndarray, stage: np.ndarray,
                  rng: np.random.Generator, *, antennas: int = 3,
                  tones: int = 114) -> tuple[np.ndarray, np.ndarray]:
    """Raw amplitude and phase of one sequence.

    Args:
        family: ``"dense_map"`` or ``"subcarrier_mix"``.
        mapping: :func:`family_map` of the family.
        joints: ``float[T, P, 17, 3]`` world joints of the labelled person at every packet.
        stage: ``[2]`` the room's stage point.
        rng: the sequence's own generator (gains, noise, phase).

    Returns:
        ``float32[T, A, K, P]`` amplitude and ``float32[T, A, K, P]`` phase in ``[-pi, pi)``,
        laid out as MM-Fi stores a frame.
    """
    z = pose_code(joints, stage)  # [T, P, 51]
    t, p = z.shape[:2]
    if family == "dense_map":
        amp = 1.0 + 0.5 * np.tanh(3.0 * (z @ mapping["matrix"] + mapping["offset"]))
    elif family == "subcarrier_mix":
        mix = np.einsum("tpkm,km->tpk", z[..., mapping["terms"]], mapping["weights"])
        gains = np.repeat(rng.uniform(*_GAIN_RANGE, size=antennas), tones)
        amp = gains * _softplus(3.0 * (mix + mapping["offset"]))
    else:
        raise ValueError(f"family: no random map for {family!r}")
    power = np.mean(amp**2, axis=(1, 2), keepdims=True)
    amp = amp + rng.standard_normal(amp.shape) * np.sqrt(power * 10.0 ** (-_SNR_DB / 10.0))
    amp = np.abs(amp).reshape(t, p, antennas, tones).transpose(0, 2, 3, 1)
    phase = rng.uniform(-np.pi, np.pi, size=amp.shape)
    return amp.astype(np.float32), phase.astype(np.float32)
