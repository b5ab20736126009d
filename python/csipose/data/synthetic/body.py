"""Subjects, parameterised actions and the H36M-17 skeleton they drive.

A pose is built by forward kinematics in a world frame with ``z`` up: the pelvis
sits above the floor, the spine leans, each limb is a two-bone chain whose upper
bone points along an *elevation* (0 = hanging down, pi/2 = horizontal, pi =
straight up) and *azimuth* (0 = forward, pi/2 = out to the side) and whose
lower bone bends by a hinge angle. Every action is a set of smooth periodic
joint-angle curves of time; each sequence draws its own period, amplitude and
phase, so no two sequences are identical. After the chain is built the body is
lifted so its lowest ankle rests at ankle height (a squat lowers the pelvis).

Joint order is Human3.6M-17 (:data:`csipose.skeletons.H36M17`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ACTIONS",
    "Subject",
    "action_angles",
    "body_points",
    "forward_kinematics",
    "make_subjects",
    "pose_sequence",
]

# Segment lengths (metres) of the 1.75 m reference body.
_REFERENCE_HEIGHT = 1.75
_THIGH, _SHIN, _ANKLE_HEIGHT = 0.45, 0.43, 0.08
_HIP_HALF_WIDTH, _SHOULDER_HALF_WIDTH = 0.13, 0.18
_PELVIS_TO_SPINE, _SPINE_TO_THORAX, _THORAX_TO_NECK, _NECK_TO_HEAD = 0.22, 0.25, 0.14, 0.13
_UPPER_ARM, _FOREARM = 0.29, 0.26


@dataclass(frozen=True)
class Subject:
    """Body proportions of one subject.

    Attributes:
        height_scale: lengths relative to the 1.75 m reference body.
        width_scale: hip and shoulder width relative to the reference body.
    """

    height_scale: float
    width_scale: float


def make_subjects(n: int, rng: np.random.Generator) -> list[Subject]:
    """``n`` subjects of heights 1.62-1.88 m and widths 0.9-1.1 of the reference."""
    heights = rng.uniform(1.62, 1.88, size=n)
    widths = rng.uniform(0.9, 1.1, size=n)
    return [Subject(float(h / _REFERENCE_HEIGHT), float(w)) for h, w in zip(heights, widths)]


Angles = dict[str, np.ndarray]

_NEUTRAL = {
    "yaw": 0.0, "lean": 0.0, "bend": 0.0,
    "r_arm_el": 0.12, "r_arm_az": np.pi / 2, "r_elbow": 0.15,
    "l_arm_el": 0.12, "l_arm_az": np.pi / 2, "l_elbow": 0.15,
    "r_leg_el": 0.0, "r_leg_az": 0.0, "r_knee": 0.05,
    "l_leg_el": 0.0, "l_leg_az": 0.0, "l_knee": 0.05,
}  # fmt: skip


def _up(x: np.ndarray) -> np.ndarray:
    """Smooth 0 -> 1 -> 0 rise over one cycle of phase ``x``."""
    return 0.5 * (1.0 - np.cos(x))


def _walk(x: np.ndarray, a: float) -> Angles:
    lift_r, lift_l = np.maximum(0.0, np.sin(x)), np.maximum(0.0, np.sin(x + np.pi))
    return {
        "r_leg_el": 1.0 * a * lift_r, "r_knee": 0.05 + 1.7 * a * lift_r,
        "l_leg_el": 1.0 * a * lift_l, "l_knee": 0.05 + 1.7 * a * lift_l,
        "r_arm_el": 0.6 * a * np.sin(x + np.pi), "r_arm_az": 0.15 + 0 * x,
        "l_arm_el": 0.6 * a * np.sin(x), "l_arm_az": 0.15 + 0 * x,
        "r_elbow": 0.4 + 0.5 * a * lift_l, "l_elbow": 0.4 + 0.5 * a * lift_r,
    }  # fmt: skip


def _arm_raise(x: np.ndarray, a: float) -> Angles:
    s = _up(x)
    el = 0.1 + 2.7 * a * s
    return {"r_arm_el": el, "l_arm_el": el, "r_arm_az": 0.25 + 0 * x, "l_arm_az": 0.25 + 0 * x,
            "r_elbow": 0.1 + 0 * x, "l_elbow": 0.1 + 0 * x}  # fmt: skip


def _squat(x: np.ndarray, a: float) -> Angles:
    s = a * _up(x)
    return {
        "r_leg_el": 1.35 * s, "l_leg_el": 1.35 * s, "r_leg_az": 0.25 + 0 * x, "l_leg_az": 0.25 + 0 * x,
        "r_knee": 0.05 + 2.1 * s, "l_knee": 0.05 + 2.1 * s, "lean": 0.55 * s,
        "r_arm_el": 0.1 + 1.45 * s, "l_arm_el": 0.1 + 1.45 * s,
        "r_arm_az": 0.1 + 0 * x, "l_arm_az": 0.1 + 0 * x,
    }  # fmt: skip


def _wave(x: np.ndarray, a: float) -> Angles:
    return {"r_arm_el": 1.9 + 0.2 * a * np.sin(0.5 * x), "r_arm_az": 1.2 + 0 * x,
            "r_elbow": 1.0 + 0.7 * a * np.sin(x), "bend": 0.08 * a * np.sin(0.5 * x)}  # fmt: skip


def _side_stretch(x: np.ndarray, a: float) -> Angles:
    s = _up(x)
    el = 0.12 + 2.6 * a * s
    return {"r_arm_el": el, "l_arm_el": el, "r_elbow": 0.1 + 0 * x, "l_elbow": 0.1 + 0 * x,
            "bend": 0.35 * a * np.sin(0.5 * x)}  # fmt: skip


def _turn(x: np.ndarray, a: float) -> Angles:
    return {"yaw": 0.9 * a * np.sin(x), "r_arm_el": 1.35 + 0 * x, "l_arm_el": 1.35 + 0 * x,
            "r_elbow": 0.3 + 0 * x, "l_elbow": 0.3 + 0 * x}  # fmt: skip


def _jumping_jack(x: np.ndarray, a: float) -> Angles:
    s = a * _up(x)
    return {"r_arm_el": 0.15 + 2.6 * s, "l_arm_el": 0.15 + 2.6 * s,
            "r_leg_el": 0.35 * s, "l_leg_el": 0.35 * s,
            "r_leg_az": np.pi / 2 + 0 * x, "l_leg_az": np.pi / 2 + 0 * x}  # fmt: skip


def _punch(x: np.ndarray, a: float) -> Angles:
    r, l = np.maximum(0.0, np.sin(x)), np.maximum(0.0, np.sin(x + np.pi))
    return {
        "r_arm_el": 1.1 + 0.4 * a * r, "l_arm_el": 1.1 + 0.4 * a * l,
        "r_arm_az": 0.15 + 0 * x, "l_arm_az": 0.15 + 0 * x,
        "r_elbow": 2.1 - 2.0 * a * r, "l_elbow": 2.1 - 2.0 * a * l, "yaw": 0.25 * a * np.sin(x),
    }  # fmt: skip


#: Action name -> (base period in seconds, joint-angle curves of (cycle phase, amplitude)).
ACTIONS: dict[str, tuple[float, Callable[[np.ndarray, float], Angles]]] = {
    "walk_in_place": (1.3, _walk),
    "arm_raise": (3.5, _arm_raise),
    "squat": (3.0, _squat),
    "wave": (1.1, _wave),
    "side_stretch": (4.0, _side_stretch),
    "turn": (3.2, _turn),
    "jumping_jack": (1.4, _jumping_jack),
    "punch": (1.0, _punch),
}


def action_angles(action: str, times: np.ndarray, rng: np.random.Generator) -> Angles:
    """Joint-angle curves of one sequence of ``action`` at ``times: float[T]`` seconds.

    The sequence draws its period (x0.85-1.15 of the action's), motion amplitude
    (x0.8-1.1) and starting phase from ``rng``. Returns every angle of the body
    model as ``float64[T]``, neutral where the action leaves a joint alone.
    """
    period, curves = ACTIONS[action]
    period *= rng.uniform(0.85, 1.15)
    amplitude = rng.uniform(0.8, 1.1)
    phase = rng.uniform(0.0, 2.0 * np.pi)
    x = 2.0 * np.pi * times / period + phase
    out = {k: np.full(times.shape, v, dtype=np.float64) for k, v in _NEUTRAL.items()}
    for k, v in curves(x, amplitude).items():
        out[k] = np.asarray(v, dtype=np.float64)
    return out


def _limb_direction(elevation: np.ndarray, azimuth: np.ndarray, fwd: np.ndarray, out: np.ndarray,
                    up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit bone direction and the unit hinge direction (the derivative in elevation).

    ``fwd``, ``out``, ``up``: ``[T, 3]`` orthonormal frame; angles ``[T]``.
    Returns two ``[T, 3]`` arrays.
    """
    e, a = elevation[:, None], azimuth[:, None]
    horizontal = np.cos(a) * fwd + np.sin(a) * out
    direction = np.sin(e) * horizontal - np.cos(e) * up
    hinge = np.cos(e) * horizontal + np.sin(e) * up
    return direction, hinge


def forward_kinematics(angles: Angles, subject: Subject, position: np.ndarray) -> np.ndarray:
    """World joints ``float64[T, 17, 3]`` (z up, metres) in H36M-17 order.

    Args:
        angles: joint-angle curves from :func:`action_angles` (each ``[T]``).
        subject: body proportions.
        position: ``[2]`` floor position (x, y) of the pelvis, or ``[T, 2]``.
    """
    h, w = subject.height_scale, subject.width_scale
    yaw = angles["yaw"]
    t = yaw.shape[0]
    z = np.zeros(t)
    up = np.broadcast_to(np.array([0.0, 0.0, 1.0]), (t, 3))
    fwd = np.stack([np.cos(yaw), np.sin(yaw), z], axis=1)
    left = np.stack([-np.sin(yaw), np.cos(yaw), z], axis=1)

    joints = np.zeros((t, 17, 3))
    pelvis = np.zeros((t, 3))
    pelvis[:, :2] = np.broadcast_to(position, (t, 2))
    pelvis[:, 2] = (_THIGH + _SHIN + _ANKLE_HEIGHT) * h
    joints[:, 0] = pelvis
    # Legs: right = 1..3, left = 4..6; the knee bends backwards.
    for side, hip_j, sign in (("r", 1, -1.0), ("l", 4, 1.0)):
        hip = pelvis + sign * _HIP_HALF_WIDTH * w * left
        thigh, hinge = _limb_direction(angles[f"{side}_leg_el"], angles[f"{side}_leg_az"], fwd,
                                       sign * left, up)
        k = angles[f"{side}_knee"][:, None]
        shin = np.cos(k) * thigh - np.sin(k) * hinge
        joints[:, hip_j] = hip
        joints[:, hip_j + 1] = hip + _THIGH * h * thigh
        joints[:, hip_j + 2] = joints[:, hip_j + 1] + _SHIN * h * shin
    # Spine leans forward by `lean` and sideways (to the left) by `bend`.
    lean, bend = angles["lean"][:, None], angles["bend"][:, None]
    spine_dir = np.cos(lean) * np.cos(bend) * up + np.sin(lean) * fwd + np.cos(lean) * np.sin(bend) * left
    torso_left = left - np.sum(left * spine_dir, axis=1, keepdims=True) * spine_dir
    torso_left /= np.linalg.norm(torso_left, axis=1, keepdims=True)
    torso_fwd = np.cross(torso_left, spine_dir)
    joints[:, 7] = pelvis + _PELVIS_TO_SPINE * h * spine_dir
    joints[:, 8] = joints[:, 7] + _SPINE_TO_THORAX * h * spine_dir
    joints[:, 9] = joints[:, 8] + _THORAX_TO_NECK * h * spine_dir + 0.03 * h * torso_fwd
    joints[:, 10] = joints[:, 9] + _NECK_TO_HEAD * h * spine_dir
    # Arms: left = 11..13, right = 14..16; the elbow bends towards the hinge direction.
    for side, shoulder_j, sign in (("l", 11, 1.0), ("r", 14, -1.0)):
        shoulder = joints[:, 8] + sign * _SHOULDER_HALF_WIDTH * w * torso_left - 0.03 * h * spine_dir
        upper, hinge = _limb_direction(angles[f"{side}_arm_el"], angles[f"{side}_arm_az"], torso_fwd,
                                       sign * torso_left, spine_dir)
        e = angles[f"{side}_elbow"][:, None]
        fore = np.cos(e) * upper + np.sin(e) * hinge
        joints[:, shoulder_j] = shoulder
        joints[:, shoulder_j + 1] = shoulder + _UPPER_ARM * h * upper
        joints[:, shoulder_j + 2] = joints[:, shoulder_j + 1] + _FOREARM * h * fore
    # Stand on the floor: the lower ankle rests at ankle height.
    lowest = np.minimum(joints[:, 3, 2], joints[:, 6, 2])
    joints[:, :, 2] += (_ANKLE_HEIGHT * h - lowest)[:, None]
    return joints


def pose_sequence(action: str, subject: Subject, times: np.ndarray, position: np.ndarray,
                  facing: float, rng: np.random.Generator) -> np.ndarray:
    """World joints ``float64[T, 17, 3]`` of ``subject`` doing ``action`` at ``times``.

    ``position``: ``[2]`` floor position; ``facing``: yaw in radians added to the
    action's own turning (0 faces +x).
    """
    angles = action_angles(action, times, rng)
    angles["yaw"] = angles["yaw"] + facing
    return forward_kinematics(angles, subject, position)


# Bones whose midpoints (and thirds, for long torso bones) add scattering/blocking points.
_LIMB_POINTS = ((1, 2), (2, 3), (4, 5), (5, 6), (11, 12), (12, 13), (14, 15), (15, 16), (0, 7),
                (7, 8), (1, 4), (11, 14), (8, 11), (8, 14))
#: Relative cross-section of each body point: joints 0..16 then limb midpoints.
_JOINT_WEIGHT = np.array([1.0, 0.7, 0.5, 0.35, 0.7, 0.5, 0.35, 1.0, 1.0, 0.6, 0.6, 0.6, 0.45, 0.3, 0.6,
                          0.45, 0.3])
_LIMB_WEIGHT = np.array([0.6, 0.45, 0.6, 0.45, 0.4, 0.35, 0.4, 0.35, 1.0, 1.0, 0.8, 0.8, 0.6, 0.6])
#: Weight per body point (``[Q]``, Q = 17 joints + 14 limb midpoints).
POINT_WEIGHTS: np.ndarray = np.concatenate([_JOINT_WEIGHT, _LIMB_WEIGHT])


def body_points(joints: np.ndarray) -> np.ndarray:
    """The body as points: joints then limb midpoints, ``[..., 17, 3] -> [..., 31, 3]``."""
    a = joints[..., [i for i, _ in _LIMB_POINTS], :]
    b = joints[..., [j for _, j in _LIMB_POINTS], :]
    return np.concatenate([joints, 0.5 * (a + b)], axis=-2)
