"""DensePose labels by ray casting: part index and (U, V) of the first body surface each pixel sees.

The body is the surface of :mod:`csipose.densepose.surface` placed on H36M-17 joints
(camera frame: x right, y down, z forward, metres, the frame of the datasets' keypoints).
Per person it is 14 solids: 9 closed cylinders (torso and limbs; each one's front and back
halves are two parts), 4 spheres (hands, feet) and the head sphere (its right and left
halves are two parts). A pinhole camera casts one ray through each pixel centre; the first
solid a ray enters, over every part of every person, gives that pixel its part, ``U``,
``V``, person and depth, so people and parts hide what lies behind them.

Choices :mod:`~csipose.densepose.surface` leaves open, as made here:

- **Size.** Radii and sphere offsets are the canonical ones times the subject's scale;
  by default the scale comes from the joints (:func:`body_scale`: the summed length of the
  9 cylinder bones over the canonical sum, the height scale of
  :mod:`csipose.data.synthetic.body`), or it is given. Cylinder lengths are the actual
  bone lengths (``V`` runs from the proximal to the distal joint).
- **Body frame.** The torso's axis runs pelvis (0) -> neck (9); its *left* is
  ``(l_hip - r_hip) + (l_shoulder - r_shoulder)`` made perpendicular to the axis; its
  *front* is ``left x axis`` (a subject facing the camera has left = +x, front = -z).
- **Limb frames.** Each upper limb (thigh, upper arm) carries the torso's left/front by the
  smallest rotation taking the torso's downward axis onto the bone; each lower limb (shin,
  forearm) carries its upper limb's frame by the smallest rotation from the upper bone onto
  it. That rotation is ill-defined only for a bone pointing straight against its parent's
  direction; the synthetic body's arms rise at most 176 degrees from hanging, its elbows
  and knees bend at most 135 degrees. A limb's front half is the half facing its front; a half-cylinder point at
  ``U`` lies at angle ``pi U`` from the left edge, ``cos(pi U) left +- sin(pi U) front``
  (``+`` front half, ``-`` back half): ``U = 0`` on the body-left edge, 1 on the right.
- **End caps** belong to the half their hit point lies in and carry the rim's chart:
  ``V`` = 0 (proximal cap) or 1 (distal cap), ``U`` the angle of the point about the axis.
- **Hands** (spheres on the wrists 13, 16): centre one radius beyond the wrist along the
  forearm; pole (``V = 0``) towards the wrist; longitude zero at the forearm's front,
  increasing towards its left (``U = 1/4`` on the left side).
- **Feet** (spheres on the ankles 3, 6): centre one radius in front of the ankle (the
  shin's front); pole (``V = 0``) towards the ankle; longitude zero towards the knee
  (up the shin), increasing towards the shin's left.
- **Head** (sphere on the head joint 10, centred on it): top (``V = 0``) along neck (9) ->
  head (10); split by the plane through that axis and the head's front (the torso frame
  carried onto the neck -> head direction); ``head_right`` is the half on the body's right.
  Longitude ``pi U`` runs from the front (``U = 0``) through the side to the back (``U = 1``).

Besides part and (U, V), a render gives which person each pixel sees (``int8``, -1 on
background) and the depth of the hit. The synthetic dataset's camera is :func:`stage_camera`:
fixed per room (4 m in front of the stage, 1.1 m up, 40 degrees), never fitted to the person.

Speed: rays and solids are tested all at once against each solid's bounding sphere; only
the surviving (pixel, solid) pairs are intersected exactly, and a sort by (pixel, depth)
keeps each pixel's nearest hit. The default synthetic dataset's 6,000 label frames take
a few CPU seconds (``benches/bench_densepose_render.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from csipose.densepose.surface import PARTS
from csipose.errors import ArgumentError, NonFiniteError, ShapeError

__all__ = [
    "DensePoseImage",
    "PinholeCamera",
    "STAGE_DISTANCE",
    "STAGE_FOV_DEG",
    "STAGE_HEIGHT",
    "body_scale",
    "chart_point",
    "render_iuv",
    "stage_camera",
]

#: The virtual camera of :func:`stage_camera`: metres in front of the stage, height above
#: its floor, and field of view (degrees, both axes of the square image).
STAGE_DISTANCE, STAGE_HEIGHT, STAGE_FOV_DEG = 4.0, 1.1, 40.0

_CYLINDER, _SPHERE, _HEMISPHERE = 0, 1, 2
# The 9 cylinders as (proximal, distal) joints, parents before children, and each one's
# parent cylinder (the torso, 0, for thighs and upper arms; -1 for the torso itself).
_BONES: tuple[tuple[int, int], ...] = ((0, 9), (1, 2), (4, 5), (11, 12), (14, 15), (2, 3), (5, 6), (12, 13), (15, 16))
_BONE_PARENT = (-1, 0, 0, 0, 0, 1, 2, 3, 4)
# Hands and feet: (joint, the cylinder whose frame the sphere uses); the head comes last.
_HANDS_FEET = ((16, 8), (13, 7), (6, 6), (3, 5))
_HEAD_JOINT, _NECK_JOINT = 10, 9


def _parts_by_solid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(first part, second part, canonical radius)`` of each of the 14 solids; for a cylinder
    the front and back parts, for a sphere its part twice, for the head its right and left."""
    first, second, radius = [], [], []
    for a, b in _BONES:
        halves = {p.side: p for p in PARTS if p.kind == "half_cylinder" and p.joints == (a, b)}
        first.append(halves["front"].index)
        second.append(halves["back"].index)
        radius.append(halves["front"].radius)
    for joint, _ in _HANDS_FEET:
        (ball,) = [p for p in PARTS if p.kind == "sphere" and p.joints[0] == joint]
        first.append(ball.index)
        second.append(ball.index)
        radius.append(ball.radius)
    head = {p.side: p for p in PARTS if p.kind == "hemisphere"}
    first.append(head["right"].index)
    second.append(head["left"].index)
    radius.append(head["right"].radius)
    return np.array(first, np.uint8), np.array(second, np.uint8), np.array(radius)


_FIRST_PART, _SECOND_PART, _RADIUS = _parts_by_solid()
_KIND = np.array([_CYLINDER] * len(_BONES) + [_SPHERE] * len(_HANDS_FEET) + [_HEMISPHERE], np.int8)
_SOLIDS = len(_KIND)
_CANONICAL_BONE_SUM = sum(p.length for p in PARTS if p.kind == "half_cylinder" and p.side == "front")
# part index -> (solid, which of the solid's two parts: 0 first, 1 second)
_SOLID_OF_PART = {int(p): (s, 0) for s, p in enumerate(_FIRST_PART)} | {
    int(p): (s, 1) for s, p in enumerate(_SECOND_PART) if p != _FIRST_PART[s]
}


@dataclass(frozen=True, eq=False)
class PinholeCamera:
    """A pinhole camera whose axes are those of the joints' frame (x right, y down, z forward).

    Attributes:
        centre: ``float64[3]`` the optical centre, in the joints' frame (metres).
        fov_deg: field of view in degrees, the same across and down the square image.
        size: image side in pixels (H = W = size).

    Pixel ``(row, col)`` looks along ``((col + 0.5 - size/2) / f, (row + 0.5 - size/2) / f, 1)``
    with ``f = (size / 2) / tan(fov / 2)`` pixels: the optical axis passes through the
    image centre.
    """

    centre: np.ndarray
    fov_deg: float = STAGE_FOV_DEG
    size: int = 56

    def __post_init__(self) -> None:
        centre = np.asarray(self.centre, dtype=np.float64)
        if centre.shape != (3,):
            raise ShapeError(f"centre: expected float[3], got shape {list(centre.shape)}")
        if not np.all(np.isfinite(centre)):
            raise NonFiniteError(f"centre: expected finite coordinates, got {centre.tolist()}")
        object.__setattr__(self, "centre", centre)
        if isinstance(self.fov_deg, bool) or not isinstance(self.fov_deg, int | float) or not 0 < self.fov_deg < 180:
            raise ArgumentError(f"fov_deg: expected a number in (0, 180) degrees, got {self.fov_deg!r}")
        if isinstance(self.size, bool) or not isinstance(self.size, int | np.integer) or self.size < 1:
            raise ArgumentError(f"size: expected an integer >= 1 pixels, got {self.size!r}")

    @property
    def focal(self) -> float:
        """Focal length in pixels."""
        return float(self.size / 2 / np.tan(np.deg2rad(self.fov_deg) / 2))

    def rays(self) -> np.ndarray:
        """``float64[H * W, 3]``: each pixel centre's ray direction (row-major), scaled to ``z = 1``."""
        s = (np.arange(self.size) + 0.5 - self.size / 2) / self.focal
        rows, cols = np.meshgrid(s, s, indexing="ij")
        return np.stack([cols.ravel(), rows.ravel(), np.ones(self.size * self.size)], axis=1)

    def project(self, points: np.ndarray) -> np.ndarray:
        """``points: float[..., 3]`` (joints' frame) -> ``float64[..., 2]`` continuous ``(row, col)``;
        pixel ``(i, j)`` spans ``[i, i + 1) x [j, j + 1)``."""
        q = np.asarray(points, dtype=np.float64) - self.centre
        f, c = self.focal, self.size / 2
        return np.stack([f * q[..., 1] / q[..., 2] + c, f * q[..., 0] / q[..., 2] + c], axis=-1)


def stage_camera(stage: np.ndarray, size: int = 56) -> PinholeCamera:
    """The fixed virtual DensePose camera of a room: it looks at the room's stage.

    ``stage: float[3]`` is the floor point under the stage centre in the camera frame (the
    scene camera's, x right, y down, z forward). The virtual camera keeps those axes and
    sits :data:`STAGE_DISTANCE` (4.0 m) in front of the stage, :data:`STAGE_HEIGHT` (1.1 m)
    above its floor, looking horizontally at it (the optical axis through the image centre)
    with a :data:`STAGE_FOV_DEG` (40 degree) field of view: at the stage the image spans
    1.46 m to either side and from 0.36 m below the floor to 2.56 m up, room for the tallest
    subject (1.88 m) with raised arms anywhere within the position jitter. Over the default
    dataset's 6,000 label frames (also with a sway of 5 cm) and 4,800 frames of arm raises,
    jumping jacks and squats in 40 rooms of ``room_variation``, the subject's pixels stay at
    least 5 pixels (of 56) from the image border. Bystanders beside the subject may
    leave the image. The same for every frame of a room: never fitted to the person.
    """
    stage = np.asarray(stage, dtype=np.float64)
    if stage.shape != (3,):
        raise ShapeError(f"stage: expected float[3], got shape {list(stage.shape)}")
    return PinholeCamera(stage + np.array([0.0, -STAGE_HEIGHT, -STAGE_DISTANCE]), STAGE_FOV_DEG, size)


class DensePoseImage(NamedTuple):
    """A rendered DensePose label (``...`` = the leading frame axes of the joints, if any).

    Attributes:
        parts: ``uint8[..., H, W]`` part index 1-24, 0 on background.
        u, v: ``float32[..., H, W]`` chart coordinates in [0, 1], 0 on background.
        person: ``int8[..., H, W]`` which person (index into the joints' person axis), -1 on background.
        depth: ``float32[..., H, W]`` depth (z in the camera's frame, metres) of the hit, inf on background.
    """

    parts: np.ndarray
    u: np.ndarray
    v: np.ndarray
    person: np.ndarray
    depth: np.ndarray


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...k,...k->...", a, b)


def _carry(vectors: tuple[np.ndarray, ...], src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, ...]:
    """``vectors`` rotated by the smallest rotation taking unit ``src`` onto unit ``dst`` (all ``[..., 3]``)."""
    c = _dot(src, dst)[..., None]
    w = np.cross(src, dst)
    k = 1.0 / np.maximum(1.0 + c, 1e-9)
    return tuple(c * x + np.cross(w, x) + _dot(w, x)[..., None] * w * k for x in vectors)


def _check_joints(joints: np.ndarray) -> np.ndarray:
    x = np.asarray(joints, dtype=np.float64)
    if x.ndim < 3 or x.shape[-2:] != (17, 3):
        raise ShapeError(f"joints: expected float[P, 17, 3] or float[F, P, 17, 3] (H36M-17, metres), "
                         f"got shape {list(x.shape)}")
    if not np.all(np.isfinite(x)):
        raise NonFiniteError("joints: expected finite coordinates (drop absent people), got NaN or inf")
    return x


def body_scale(joints: np.ndarray) -> np.ndarray:
    """``joints: float[..., 17, 3]`` -> ``float64[...]``: each subject's size relative to the canonical body.

    The summed length of the 9 cylinder bones (torso pelvis -> neck and the 8 limb bones)
    over the canonical sum (3.29 m): the height scale of :mod:`csipose.data.synthetic.body`.
    """
    x = np.asarray(joints, dtype=np.float64)
    a = x[..., [i for i, _ in _BONES], :]
    b = x[..., [j for _, j in _BONES], :]
    return np.linalg.norm(b - a, axis=-1).sum(axis=-1) / _CANONICAL_BONE_SUM


class _Solids(NamedTuple):
    """The 14 solids of each person, ``[..., 14]`` (``...`` = the joints' leading axes)."""

    origin: np.ndarray  # [..., 14, 3] cylinder: proximal joint; sphere: centre
    axis: np.ndarray  # [..., 14, 3] cylinder: along the bone; sphere: pole (V = 0); head: top
    zero: np.ndarray  # [..., 14, 3] cylinder: left; sphere: longitude zero; head: front
    side: np.ndarray  # [..., 14, 3] cylinder: front; sphere: longitude 1/4; head: left
    radius: np.ndarray  # [..., 14]
    length: np.ndarray  # [..., 14] (0 for spheres)


def _solids(joints: np.ndarray, scale: np.ndarray) -> _Solids:
    """Places the 14 solids on ``joints: float64[..., 17, 3]`` with ``scale: float64[...]``."""
    prox = joints[..., [i for i, _ in _BONES], :]
    dist = joints[..., [j for _, j in _BONES], :]
    bone = dist - prox
    length = np.linalg.norm(bone, axis=-1)
    direction = _unit(bone)  # [..., 9, 3]
    up = direction[..., 0, :]
    left = (joints[..., 4, :] - joints[..., 1, :]) + (joints[..., 11, :] - joints[..., 14, :])
    left = _unit(left - _dot(left, up)[..., None] * up)
    front = np.cross(left, up)
    lefts, fronts = [left], [front]
    for k in range(1, len(_BONES)):
        parent = _BONE_PARENT[k]
        src = -up if parent == 0 else direction[..., parent, :]
        l_k, f_k = _carry((lefts[parent], fronts[parent]), src, direction[..., k, :])
        lefts.append(l_k)
        fronts.append(f_k)
    lefts_a, fronts_a = np.stack(lefts, axis=-2), np.stack(fronts, axis=-2)
    radius = _RADIUS * scale[..., None]

    origin, axis, zero, side = [prox], [direction], [lefts_a], [fronts_a]
    for s, (joint, limb) in enumerate(_HANDS_FEET, start=len(_BONES)):
        b, l_k, f_k = direction[..., limb, :], lefts_a[..., limb, :], fronts_a[..., limb, :]
        hand = limb in (7, 8)
        out = b if hand else f_k  # from the joint to the sphere's centre
        origin.append((joints[..., joint, :] + radius[..., s, None] * out)[..., None, :])
        axis.append(-out[..., None, :])
        zero.append((f_k if hand else -b)[..., None, :])
        side.append(l_k[..., None, :])
    top = _unit(joints[..., _HEAD_JOINT, :] - joints[..., _NECK_JOINT, :])
    head_left, head_front = _carry((left, front), up, top)
    origin.append(joints[..., None, _HEAD_JOINT, :])
    axis.append(top[..., None, :])
    zero.append(head_front[..., None, :])
    side.append(head_left[..., None, :])
    lengths = np.concatenate([length, np.zeros(length.shape[:-1] + (_SOLIDS - len(_BONES),))], axis=-1)
    cat = lambda xs: np.concatenate(xs, axis=-2)  # noqa: E731
    return _Solids(cat(origin), cat(axis), cat(zero), cat(side), radius, lengths)


def _scale_of(joints: np.ndarray, scale: np.ndarray | float | None) -> np.ndarray:
    if scale is None:
        return body_scale(joints)
    s = np.asarray(scale, dtype=np.float64)
    try:
        s = np.broadcast_to(s, joints.shape[:-2])
    except ValueError:
        raise ShapeError(f"scale: expected a number or an array broadcastable to the joints' people "
                         f"{list(joints.shape[:-2])}, got shape {list(s.shape)}") from None
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ArgumentError("scale: expected finite sizes > 0 (relative to the canonical body)")
    return s


def chart_point(joints: np.ndarray, part: int, u: np.ndarray, v: np.ndarray,
                scale: np.ndarray | float | None = None) -> np.ndarray:
    """The surface point of ``part`` at chart coordinates ``(u, v)``: the inverse of the rendered chart.

    Args:
        joints: ``float[..., 17, 3]`` one person per ``[17, 3]`` block.
        part: DensePose part index 1-24.
        u, v: chart coordinates in [0, 1], broadcastable against ``joints.shape[:-2]``.
        scale: subject size (default: :func:`body_scale` of the joints).

    Returns:
        ``float64[..., 3]`` points on the lateral surface (cylinders) or the sphere.
    """
    x = np.asarray(joints, dtype=np.float64)
    if x.ndim < 2 or x.shape[-2:] != (17, 3):
        raise ShapeError(f"joints: expected float[..., 17, 3] (H36M-17, metres), got shape {list(x.shape)}")
    if not np.all(np.isfinite(x)):
        raise NonFiniteError("joints: expected finite coordinates, got NaN or inf")
    if part not in _SOLID_OF_PART:
        raise ArgumentError(f"part: expected a DensePose part index 1-24, got {part!r}")
    solid, which = _SOLID_OF_PART[part]
    g = _solids(x, _scale_of(x, scale))
    o, a, z, s = (arr[..., solid, :] for arr in (g.origin, g.axis, g.zero, g.side))
    r, length = g.radius[..., solid, None], g.length[..., solid, None]
    u = np.asarray(u, dtype=np.float64)[..., None]
    v = np.asarray(v, dtype=np.float64)[..., None]
    sign = 1.0 if which == 0 else -1.0  # front / back half; head right / left
    if _KIND[solid] == _CYLINDER:
        return o + v * length * a + r * (np.cos(np.pi * u) * z + sign * np.sin(np.pi * u) * s)
    if _KIND[solid] == _SPHERE:
        lon = 2 * np.pi * u
        return o + r * (np.cos(np.pi * v) * a + np.sin(np.pi * v) * (np.cos(lon) * z + np.sin(lon) * s))
    lon = np.pi * u
    return o + r * (np.cos(np.pi * v) * a + np.sin(np.pi * v) * (np.cos(lon) * z - sign * np.sin(lon) * s))


def _candidates(camera: PinholeCamera, centre: np.ndarray, bound: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(pixel, solid)`` index pairs (``int64[M]`` each) whose pixel lies in the image box of the
    solid's bounding sphere (``centre: [N, 3]`` relative to the camera, radius ``bound: [N]``): a
    superset of the pairs whose ray can hit the solid. A sphere reaching behind the camera
    plane gets the whole image; one wholly behind it, nothing."""
    f, c, size = camera.focal, camera.size / 2 - 0.5, camera.size
    near, far = centre[:, 2] - bound, centre[:, 2] + bound
    with np.errstate(divide="ignore", invalid="ignore"):
        # x / z and y / z over the box around the sphere reach their extremes at its corners
        corners = [(centre[:, k, None] + sx * bound[:, None]) / (centre[:, 2, None] + sz * bound[:, None])
                   for k in (0, 1) for sx in (-1.0, 1.0) for sz in (-1.0, 1.0)]
    x, y = np.concatenate(corners[:4], axis=1), np.concatenate(corners[4:], axis=1)
    whole = near <= 0
    lo = np.where(whole[:, None], 0, np.floor(f * np.stack([y.min(axis=1), x.min(axis=1)], axis=1) + c))
    hi = np.where(whole[:, None], size - 1, np.ceil(f * np.stack([y.max(axis=1), x.max(axis=1)], axis=1) + c))
    lo = np.clip(lo, 0, size).astype(np.int64)
    hi = np.clip(hi, -1, size - 1).astype(np.int64)
    extent = np.where((far > 0)[:, None], np.maximum(hi - lo + 1, 0), 0)  # [N, 2] rows, cols
    count = extent[:, 0] * extent[:, 1]
    solid = np.repeat(np.arange(len(count)), count)
    local = np.arange(solid.shape[0]) - np.repeat(np.cumsum(count) - count, count)
    width = extent[solid, 1]
    rows, cols = lo[solid, 0] + local // np.maximum(width, 1), lo[solid, 1] + local % np.maximum(width, 1)
    return rows * size + cols, solid


def _hit_cylinders(d: np.ndarray, o: np.ndarray, a: np.ndarray, r: np.ndarray, length: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entry of rays from the origin along ``d: [N, 3]`` into closed cylinders (base ``o``, unit axis
    ``a``, radius ``r``, ``length``). Returns ``(t [N], hit bool[N], cap int8[N])`` with ``cap``
    0 on the side, 1 on the proximal cap, 2 on the distal cap."""
    da, wa = _dot(d, a), -_dot(o, a)
    # |w_perp + t d_perp|^2 = r^2 with w = -o and the parts across the axis
    qa = _dot(d, d) - da * da
    qb = -_dot(d, o) - da * wa
    qc = _dot(o, o) - wa * wa - r * r
    disc = qb * qb - qa * qc
    parallel = qa < 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.sqrt(np.maximum(disc, 0.0))
        t1 = np.where(parallel, -np.inf, (-qb - root) / qa)
        t2 = np.where(parallel, np.inf, (-qb + root) / qa)
        side_ok = np.where(parallel, qc <= 0, disc >= 0)
        flat = np.abs(da) < 1e-12
        ta, tb = -wa / da, (length - wa) / da
        s1 = np.where(flat, -np.inf, np.minimum(ta, tb))
        s2 = np.where(flat, np.inf, np.maximum(ta, tb))
    slab_ok = ~flat | ((wa >= 0) & (wa <= length))
    entry, leave = np.maximum(t1, s1), np.minimum(t2, s2)
    hit = side_ok & slab_ok & (entry <= leave) & (entry > 0)
    cap = np.where(t1 >= s1, 0, np.where(da > 0, 1, 2)).astype(np.int8)
    return entry, hit, cap


def _hit_spheres(d: np.ndarray, c: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entry ``(t [N], hit bool[N])`` of rays from the origin along ``d: [N, 3]`` into spheres
    (centre ``c``, radius ``r``)."""
    qa, qb, qc = _dot(d, d), -_dot(c, d), _dot(c, c) - r * r
    disc = qb * qb - qa * qc
    t = (-qb - np.sqrt(np.maximum(disc, 0.0))) / qa
    return t, (disc >= 0) & (t > 0)


def _charts(kind: np.ndarray, q: np.ndarray, a: np.ndarray, z: np.ndarray, s: np.ndarray, r: np.ndarray,
            length: np.ndarray, cap: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(u, v, second)`` at hit points ``q`` (relative to each solid's origin); ``second`` is True
    where the point lies in the solid's second part (back half, head's left half)."""
    along, zc, sc = _dot(q, a), _dot(q, z), _dot(q, s)
    cyl, sph = kind == _CYLINDER, kind == _SPHERE
    with np.errstate(divide="ignore", invalid="ignore"):
        v_cyl = np.where(cap == 1, 0.0, np.where(cap == 2, 1.0, np.where(length > 0, along / length, 0.0)))
        colat = np.arccos(np.clip(along / r, -1.0, 1.0)) / np.pi
    v = np.where(cyl, v_cyl, colat)
    u_cyl = np.abs(np.arctan2(sc, zc)) / np.pi  # angle from the left edge, either half
    u_sph = np.mod(np.arctan2(sc, zc), 2 * np.pi) / (2 * np.pi)
    u_head = np.arctan2(np.abs(sc), zc) / np.pi  # angle from the front, either half
    u = np.where(cyl, u_cyl, np.where(sph, u_sph, u_head))
    second = np.where(cyl, sc < 0, np.where(sph, False, sc > 0))
    return np.clip(u, 0.0, 1.0), np.clip(v, 0.0, 1.0), second


def render_iuv(joints: np.ndarray, camera: PinholeCamera, *,
               scale: np.ndarray | float | None = None) -> DensePoseImage:
    """Renders the DensePose label of people seen by ``camera``.

    Args:
        joints: ``float[P, 17, 3]`` (one image) or ``float[F, P, 17, 3]`` (``F`` images
            from the same camera), H36M-17 joints in the camera's frame (metres); P may be 0.
        camera: the pinhole camera (see :func:`stage_camera`).
        scale: each person's size relative to the canonical body, ``float[P]`` / ``float[F, P]``
            or a number; default :func:`body_scale` of the joints.

    Returns:
        A :class:`DensePoseImage` of ``[H, W]`` (or ``[F, H, W]``) arrays. The first surface a
        pixel's ray enters wins, across parts and people.

    Raises:
        ShapeError: ``joints`` is not ``[P, 17, 3]`` / ``[F, P, 17, 3]``, or ``scale`` does not fit it.
        NonFiniteError: NaN or inf in ``joints``.
        ArgumentError: a ``scale`` that is not > 0.
    """
    x = _check_joints(joints)
    if x.ndim > 4:
        raise ShapeError(f"joints: expected float[P, 17, 3] or float[F, P, 17, 3], got shape {list(x.shape)}")
    single = x.ndim == 3
    x = x[None] if single else x
    s = _scale_of(x, None if scale is None else (np.asarray(scale)[None] if single else scale))
    frames, people = x.shape[:2]
    if people > 127:
        raise ShapeError(f"joints: at most 127 people per image (the person map is int8), got {people}")
    n_pix = camera.size * camera.size
    out_shape = (frames, camera.size, camera.size)
    parts = np.zeros(frames * n_pix, np.uint8)
    u_img = np.zeros(frames * n_pix, np.float32)
    v_img = np.zeros(frames * n_pix, np.float32)
    person = np.full(frames * n_pix, -1, np.int8)
    depth = np.full(frames * n_pix, np.inf, np.float32)
    if frames and people:
        g = _solids(x - camera.centre, s)
        flat = [arr.reshape(-1, 3) for arr in (g.origin, g.axis, g.zero, g.side)]
        radius, length = g.radius.reshape(-1), g.length.reshape(-1)
        kind = np.tile(_KIND, frames * people)
        rays = camera.rays()
        centre = flat[0] + 0.5 * length[:, None] * flat[1]
        bound = np.sqrt(radius**2 + (0.5 * length) ** 2)
        pix, solid = _candidates(camera, centre, bound)
        # keep the pairs whose ray passes within the bounding sphere
        d, m = rays[pix], centre[solid]
        along = _dot(d, m)
        close = _dot(m, m) - along * along / _dot(d, d) <= bound[solid] ** 2
        pix, solid, d = pix[close], solid[close], d[close]
        o, a = flat[0][solid], flat[1][solid]
        r, ln, kd = radius[solid], length[solid], kind[solid]
        t = np.empty(len(pix))
        hit = np.zeros(len(pix), bool)
        cap = np.zeros(len(pix), np.int8)
        cyl = kd == _CYLINDER
        t[cyl], hit[cyl], cap[cyl] = _hit_cylinders(d[cyl], o[cyl], a[cyl], r[cyl], ln[cyl])
        t[~cyl], hit[~cyl] = _hit_spheres(d[~cyl], o[~cyl], r[~cyl])
        # z-buffer: per (frame, pixel) the hit of least depth
        hits = np.flatnonzero(hit)
        key = (solid[hits] // (people * _SOLIDS)) * n_pix + pix[hits]
        order = np.lexsort((t[hits], key))
        ks = key[order]
        nearest = order[np.r_[True, ks[1:] != ks[:-1]]] if len(ks) else order
        first, where = hits[nearest], key[nearest]
        q = t[first, None] * d[first] - o[first]
        z, sd = flat[2][solid[first]], flat[3][solid[first]]
        u, v, second = _charts(kd[first], q, a[first], z, sd, r[first], ln[first], cap[first])
        local = solid[first] % _SOLIDS
        parts[where] = np.where(second, _SECOND_PART[local], _FIRST_PART[local])
        u_img[where], v_img[where] = u, v
        person[where] = (solid[first] // _SOLIDS) % people
        depth[where] = t[first]
    image = DensePoseImage(*(img.reshape(out_shape) for img in (parts, u_img, v_img, person, depth)))
    return DensePoseImage(*(img[0] for img in image)) if single else image
