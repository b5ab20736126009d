"""Rooms: walls, one transmitter, a three-antenna receiver (or up to three), furniture and a camera.

The world frame has ``z`` up and the origin in a floor corner; the room spans
``[0, Lx] x [0, Ly] x [0, Lz]``. The transmitter and the three receive antennas
face each other across the room; people stand between them, near the middle,
facing a camera on the ``y = 0`` wall. Furniture and other clutter are point
scatterers drawn per environment.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = ["MATERIALS", "Scene", "make_scene", "make_varied_scene", "with_receivers", "world_to_camera"]

#: Amplitude reflection coefficients at 5 GHz (ranges drawn uniformly) of the wall materials
#: of :func:`make_varied_scene`, with the odds of a side wall being made of each.
MATERIALS: dict[str, tuple[float, float]] = {"drywall": (0.2, 0.4), "glass": (0.35, 0.6), "concrete": (0.5, 0.75)}
_SIDE_WALL_ODDS = (0.5, 0.2, 0.3)


@dataclass(frozen=True, eq=False)
class Scene:
    """One environment.

    Attributes:
        size: ``[3]`` room extent (x, y, z) in metres.
        tx: ``[3]`` transmit antenna position.
        rx: ``[R, 3]`` receive antenna positions (R = 3, or 3 per receiver), receiver by receiver.
        wall_reflectivity: ``[6]`` amplitude reflection coefficients of the walls
            x = 0, x = Lx, y = 0, y = Ly, floor, ceiling.
        scatterers: ``[N, 3]`` positions of static point scatterers.
        scatterer_rcs: ``[N]`` their radar cross-sections in m^2.
        stage: ``[2]`` floor point (x, y) people stand around.
        camera: ``[3]`` camera centre; it looks along +y with image y pointing down.
        materials: the material (a :data:`MATERIALS` key) of each wall, in ``wall_reflectivity``'s
            order; empty for the fixed room of :func:`make_scene`.
        rx_gain_db: the receiver's gain (dB) on every antenna.
        rx_phase: ``[R]`` fixed phase offset (radians) of each receive antenna, or None (none).
    """

    size: np.ndarray
    tx: np.ndarray
    rx: np.ndarray
    wall_reflectivity: np.ndarray
    scatterers: np.ndarray
    scatterer_rcs: np.ndarray
    stage: np.ndarray
    camera: np.ndarray
    materials: tuple[str, ...] = ()
    rx_gain_db: float = 0.0
    rx_phase: np.ndarray | None = None


def make_scene(rng: np.random.Generator, *, n_scatterers: int = 40) -> Scene:
    """Draws an environment: a 6 x 5 x 3 m room, reflectivities and clutter.

    The transmitter sits at (0.7, 2.5, 1.3) m; the three receive antennas are
    spread on the opposite wall (x = 5.3 m) at heights 0.4, 1.3 and 2.3 m, so
    their direct paths cross the stage at shin, waist and head height; the
    stage is at (3.0, 2.5) m. Scatterers are
    placed uniformly in the room, at least 0.9 m (on the floor plan) from the
    stage, at heights 0.2-2.7 m, with cross-sections 0.2-1.5 m^2.
    """
    size = np.array([6.0, 5.0, 3.0])
    tx = np.array([0.7, 2.5, 1.3])
    rx = np.array([[5.3, 2.2, 0.4], [5.3, 2.5, 1.3], [5.3, 2.8, 2.3]])
    stage = np.array([3.0, 2.5])
    reflectivity = np.concatenate([rng.uniform(0.25, 0.5, size=4), [rng.uniform(0.4, 0.6)],
                                   [rng.uniform(0.25, 0.45)]])
    points = np.empty((0, 3))
    while points.shape[0] < n_scatterers:
        p = rng.uniform([0.3, 0.3, 0.2], [size[0] - 0.3, size[1] - 0.3, 2.7], size=(2 * n_scatterers, 3))
        p = p[np.hypot(p[:, 0] - stage[0], p[:, 1] - stage[1]) >= 0.9]
        points = np.concatenate([points, p])
    scatterers = points[:n_scatterers]
    rcs = rng.uniform(0.2, 1.5, size=n_scatterers)
    camera = np.array([3.0, 0.2, 1.2])
    return Scene(size, tx, rx, reflectivity, scatterers, rcs, stage, camera)


def make_varied_scene(rng: np.random.Generator, *, n_scatterers: int = 40, receivers: int = 1) -> Scene:
    """Draws a room that differs physically from others (``SyntheticConfig.room_variation``).

    - size: x 5-8 m, y 4-7 m, height 2.6-3.4 m;
    - walls: each side wall drywall, glass or concrete (odds 0.5, 0.2, 0.3), the floor
      concrete, the ceiling drywall or concrete (even odds); reflectivities from
      :data:`MATERIALS`;
    - the link: its middle within 0.4 m (per floor axis) of the room's centre, rotated in the
      floor plane by -30..30 degrees from the x axis, 3.5-6 m long (as the room allows, with
      0.3 m to every wall); the transmitter at 1.0-1.6 m; the three receive antennas spread
      across the link, 0.2-0.4 m apart, at 0.3-0.6, 1.1-1.5 and 1.9-2.5 m (at most 0.3 m
      below the ceiling), so their direct paths still cross shins, waist and head;
    - the stage on the link, 40-60 % of the way from the transmitter;
    - furniture: 0.5-1.5 times ``n_scatterers`` point scatterers, as in :func:`make_scene`
      (at least 0.9 m from the stage and 0.5 m from every antenna on the floor plan, from
      0.2 m up to 0.3 m below the ceiling, cross-sections 0.2-1.5 m^2);
    - the camera on the y = 0 wall in front of the stage (x of the stage, 0.2 m from the wall,
      1.0-1.4 m high), looking along +y as in :func:`make_scene`;
    - hardware: a receive gain of -6..6 dB and a phase offset (0..2 pi) per receive antenna;
    - with ``receivers`` 3: receivers 2 and 3 on either side of the link, across it from the
      stage (:func:`_side_receivers`), their antennas' phase offsets drawn after the first
      receiver's; everything else, and so the first receiver's CSI, is the one-receiver room's.
      The furniture keeps its clearance from the transmitter and the first receiver only, so a
      piece may stand near receivers 2 and 3 (as furniture does in real rooms). ``receivers`` 2
      places receiver 2 alone, on the ``+across`` side (``SyntheticConfig`` refuses it: the
      antennas' mean, and with it the link anchor, would leave the link).
    """
    if not 1 <= receivers <= 3:
        raise ValueError(f"receivers: expected 1 to 3, got {receivers}")
    size = rng.uniform([5.0, 4.0, 2.6], [8.0, 7.0, 3.4])
    names = tuple(MATERIALS)
    side = [names[int(i)] for i in rng.choice(len(names), size=4, p=_SIDE_WALL_ODDS)]
    materials = (*side, "concrete", names[int(rng.choice([0, 2]))])
    reflectivity = np.array([rng.uniform(*MATERIALS[m]) for m in materials])

    centre = size[:2] / 2 + rng.uniform(-0.4, 0.4, size=2)
    angle = np.deg2rad(rng.uniform(-30.0, 30.0))
    u = np.array([np.cos(angle), np.sin(angle)])
    across = np.array([-u[1], u[0]])
    spacing = rng.uniform(0.2, 0.4)
    margin = 0.3 + spacing * np.abs(across)  # every antenna at least 0.3 m from the walls
    room = np.array([margin, size[:2] - margin])
    # the farthest the link may reach from its middle along +-u without leaving the room
    with np.errstate(divide="ignore"):
        reach = np.min(np.where(np.abs(u) > 1e-12, np.minimum(np.abs(room[1] - centre), np.abs(centre - room[0]))
                                / np.abs(u), np.inf))
    length = rng.uniform(3.5, min(6.0, 2.0 * reach))
    tx_xy, rx_xy = centre - u * length / 2, centre + u * length / 2
    tx = np.array([*tx_xy, rng.uniform(1.0, 1.6)])
    heights = np.array([rng.uniform(0.3, 0.6), rng.uniform(1.1, 1.5), rng.uniform(1.9, min(2.5, size[2] - 0.3))])
    rx = np.array([[*(rx_xy + k * spacing * across), h] for k, h in zip((-1, 0, 1), heights)])
    stage = tx_xy + rng.uniform(0.4, 0.6) * (rx_xy - tx_xy)

    count = int(rng.integers(round(0.5 * n_scatterers), round(1.5 * n_scatterers) + 1))
    points = np.empty((0, 3))
    while points.shape[0] < count:
        p = rng.uniform([0.3, 0.3, 0.2], [size[0] - 0.3, size[1] - 0.3, size[2] - 0.3], size=(2 * count, 3))
        p = p[np.hypot(p[:, 0] - stage[0], p[:, 1] - stage[1]) >= 0.9]
        near = np.min(np.hypot(*(p[:, None, :2] - np.vstack([tx, rx])[None, :, :2]).transpose(2, 0, 1)), axis=1)
        points = np.concatenate([points, p[near >= 0.5]])
    scatterers = points[:count]
    rcs = rng.uniform(0.2, 1.5, size=count)
    camera = np.array([stage[0], 0.2, rng.uniform(1.0, 1.4)])
    gain_db = float(rng.uniform(-6.0, 6.0))
    phase = rng.uniform(0.0, 2 * np.pi, size=len(rx))
    if receivers > 1:
        rx = np.vstack([rx, _side_receivers(size, u, stage, heights)[: 3 * (receivers - 1)]])
        phase = np.concatenate([phase, rng.uniform(0.0, 2 * np.pi, size=len(rx) - len(phase))])
    return Scene(size, tx, rx, reflectivity, scatterers, rcs, stage, camera, materials, gain_db, phase)


def _side_receivers(size: np.ndarray, u: np.ndarray, stage: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """``[6, 3]``: receivers 2 and 3 of a varied room whose link runs along the floor unit
    vector ``u`` through ``stage``: on the line across the link through the stage, one each
    side, as far out as the nearer wall allows on both (0.3 m from every wall), each with three
    antennas 0.3 m apart along the link at ``heights`` (the first receiver's). The rule of
    :func:`with_receivers` in the fixed room, turned with the link; the two stand symmetric
    about the link, so the mean of all the antennas stays on it."""
    across = np.array([-u[1], u[0]])
    margin = 0.3 + 0.3 * np.abs(u)  # the antennas spread 0.3 m along the link each way
    low, high = margin, size[:2] - margin
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = [np.min(np.where(np.abs(d) > 1e-12, np.where(d > 0, high - stage, low - stage) / d, np.inf))
                 for d in (across, -across)]  # fmt: skip
    out = min(reach)
    return np.array([[*(stage + side * out * across + k * 0.3 * u), h]
                     for side in (1.0, -1.0) for k, h in zip((-1, 0, 1), heights)])  # fmt: skip


def with_receivers(scene: Scene, receivers: int) -> Scene:
    """``scene`` (:func:`make_scene`'s room) with ``receivers`` three-antenna receivers sharing its
    transmitter, as in multi-receiver set-ups (Person-in-WiFi-3D: one transmitter, three receivers).

    Receiver 1 is the room's own, at the link's far end. Receivers 2 and 3 face the stage from the
    middle of the side walls, 0.3 m from the ``y = Ly`` and ``y = 0`` walls, their antennas 0.3 m
    apart along the link (x) at the first receiver's heights, so the body is seen from three sides.
    ``rx`` grows to ``[3 * receivers, 3]``, receiver by receiver; nothing is drawn.
    """
    if not 1 <= receivers <= 3:
        raise ValueError(f"receivers: expected 1 to 3, got {receivers}")
    if scene.materials:
        raise ValueError("receivers: a varied room places its receivers itself (make_varied_scene(receivers=...))")
    walls = (scene.size[1] - 0.3, 0.3)[: receivers - 1]
    extra = [[scene.stage[0] + dx, y, z] for y in walls for dx, z in zip((-0.3, 0.0, 0.3), scene.rx[:3, 2])]
    return replace(scene, rx=np.vstack([scene.rx[:3], np.array(extra).reshape(-1, 3)]))


def world_to_camera(points: np.ndarray, scene: Scene) -> np.ndarray:
    """World points ``[..., 3]`` (z up) to the camera frame ``[..., 3]``.

    Camera frame: x right, y down, z forward (depth), metres, origin at the
    camera centre; MM-Fi's ground truth uses the same convention.
    """
    d = points - scene.camera
    return np.stack([d[..., 0], -d[..., 2], d[..., 1]], axis=-1)
