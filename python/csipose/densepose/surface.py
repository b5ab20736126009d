"""The body surface DensePose labels live on: 24 parts, each a primitive with a (U, V) chart.

DensePose (Güler et al., 2018) splits the body into 24 parts and gives every
point of a part two chart coordinates ``(U, V)`` in ``[0, 1]``. Here each part is
a simple closed-form surface around the bones of the H36M-17 skeleton, so the
geodesic distance between two points of one part has an exact formula:

- ``half_cylinder`` (torso and limb halves): the front or back half of a circular
  cylinder of radius ``r`` around a bone of length ``L``. ``U`` runs across the
  half (angle ``pi * U`` from the body-left edge), ``V`` along the bone (0 at the
  proximal joint). Unrolled, the half is a flat ``pi r x L`` rectangle, so
  ``g = sqrt((pi r dU)^2 + (L dV)^2)``.
- ``sphere`` (hands, feet): longitude ``2 pi U`` about the sphere's axis, colatitude
  ``pi V`` from its pole; ``g`` is the great-circle distance.
- ``hemisphere`` (the head's right and left halves): longitude ``pi U`` within the
  half, colatitude ``pi V`` from the top; the great circle between two points of a
  closed hemisphere stays inside it, so ``g`` is the great-circle distance too.

Between different parts the geodesic is infinite (GPS 0), as the metrics state.
End caps of a cylinder carry the chart coordinates of their rim (``V`` 0 or 1).

Geodesics for scoring are measured on the canonical body (the 1.75 m reference
subject of :mod:`csipose.data.synthetic.body`), whatever the size of the subject,
as DensePose measures them on its one template body.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "CANONICAL",
    "KINDS",
    "PART_NAMES",
    "PARTS",
    "Part",
    "canonical_arrays",
]

#: Primitive kinds, by code (the code is what the Rust core receives).
KINDS: tuple[str, ...] = ("half_cylinder", "sphere", "hemisphere")


@dataclass(frozen=True)
class Part:
    """One DensePose body part (index 1..24; 0 is background).

    Attributes:
        index: DensePose part index, 1-24.
        name: DensePose's name for the part.
        kind: one of :data:`KINDS`.
        joints: H36M-17 joints ``(proximal, distal)`` of the primitive's axis;
            for spheres the joint the sphere is attached to, twice.
        side: ``"front"`` / ``"back"`` for cylinder halves, ``"right"`` / ``"left"``
            for head halves, ``""`` for whole spheres.
        radius: canonical radius in metres.
        length: canonical axis length in metres (0 for spheres).
    """

    index: int
    name: str
    kind: str
    joints: tuple[int, int]
    side: str
    radius: float
    length: float


# Canonical dimensions (metres) of the 1.75 m reference body: bone lengths are those of
# csipose.data.synthetic.body; radii are typical adult limb and trunk half-widths.
_TORSO = (0.15, 0.61)  # pelvis -> neck (0.22 + 0.25 + 0.14)
_UPPER_LEG, _LOWER_LEG = (0.075, 0.45), (0.055, 0.43)
_UPPER_ARM, _LOWER_ARM = (0.05, 0.29), (0.04, 0.26)
_HAND, _FOOT, _HEAD = 0.05, 0.06, 0.11


def _half(index: int, name: str, joints: tuple[int, int], side: str, dims: tuple[float, float]) -> Part:
    return Part(index, name, "half_cylinder", joints, side, dims[0], dims[1])


def _ball(index: int, name: str, joint: int, radius: float, kind: str = "sphere", side: str = "") -> Part:
    return Part(index, name, kind, (joint, joint), side, radius, 0.0)


# Placed on the joints by csipose.densepose.render: a limb's front is the torso's front carried
# along the skeleton; hands centre one radius past the wrist, feet one radius in front of the
# ankle, poles (V = 0) towards the joint; the head is centred on joint 10, its top towards it from
# the neck, its longitude from the front.
#: The 24 parts in DensePose's order (``PARTS[k - 1].index == k``).
PARTS: tuple[Part, ...] = (
    _half(1, "torso_back", (0, 9), "back", _TORSO),
    _half(2, "torso_front", (0, 9), "front", _TORSO),
    _ball(3, "right_hand", 16, _HAND),
    _ball(4, "left_hand", 13, _HAND),
    _ball(5, "left_foot", 6, _FOOT),
    _ball(6, "right_foot", 3, _FOOT),
    _half(7, "upper_leg_right_back", (1, 2), "back", _UPPER_LEG),
    _half(8, "upper_leg_left_back", (4, 5), "back", _UPPER_LEG),
    _half(9, "upper_leg_right_front", (1, 2), "front", _UPPER_LEG),
    _half(10, "upper_leg_left_front", (4, 5), "front", _UPPER_LEG),
    _half(11, "lower_leg_right_back", (2, 3), "back", _LOWER_LEG),
    _half(12, "lower_leg_left_back", (5, 6), "back", _LOWER_LEG),
    _half(13, "lower_leg_right_front", (2, 3), "front", _LOWER_LEG),
    _half(14, "lower_leg_left_front", (5, 6), "front", _LOWER_LEG),
    _half(15, "upper_arm_left_front", (11, 12), "front", _UPPER_ARM),
    _half(16, "upper_arm_right_front", (14, 15), "front", _UPPER_ARM),
    _half(17, "upper_arm_left_back", (11, 12), "back", _UPPER_ARM),
    _half(18, "upper_arm_right_back", (14, 15), "back", _UPPER_ARM),
    _half(19, "lower_arm_left_front", (12, 13), "front", _LOWER_ARM),
    _half(20, "lower_arm_right_front", (15, 16), "front", _LOWER_ARM),
    _half(21, "lower_arm_left_back", (12, 13), "back", _LOWER_ARM),
    _half(22, "lower_arm_right_back", (15, 16), "back", _LOWER_ARM),
    _ball(23, "head_right", 10, _HEAD, "hemisphere", "right"),
    _ball(24, "head_left", 10, _HEAD, "hemisphere", "left"),
)

#: Part names by index; ``PART_NAMES[0]`` is ``"background"``.
PART_NAMES: tuple[str, ...] = ("background",) + tuple(p.name for p in PARTS)

#: The canonical body (the reference subject) the scoring geodesics are measured on.
CANONICAL: tuple[Part, ...] = PARTS


def canonical_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The canonical surface as arrays indexed by part ``0..24`` (row 0 = background).

    Returns ``kind: int32[25]`` (code into :data:`KINDS`, -1 for background),
    ``radius: float64[25]`` and ``length: float64[25]``: all a geodesic needs.
    """
    kind = np.full(25, -1, dtype=np.int32)
    radius = np.zeros(25)
    length = np.zeros(25)
    for p in CANONICAL:
        kind[p.index] = KINDS.index(p.kind)
        radius[p.index] = p.radius
        length[p.index] = p.length
    return kind, radius, length
