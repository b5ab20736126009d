"""Rooms: walls, one transmitter, a three-antenna receiver, furniture and a camera.

The world frame has ``z`` up and the origin in a floor corner; the room spans
``[0, Lx] x [0, Ly] x [0, Lz]``. The transmitter and the three receive antennas
face each other across the room; people stand between them, near the middle,
facing a camera on the ``y = 0`` wall. Furniture and other clutter are point
scatterers drawn per environment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Scene", "make_scene", "world_to_camera"]


@dataclass(frozen=True, eq=False)
class Scene:
    """One environment.

    Attributes:
        size: ``[3]`` room extent (x, y, z) in metres.
        tx: ``[3]`` transmit antenna position.
        rx: ``[R, 3]`` receive antenna positions (R = 3).
        wall_reflectivity: ``[6]`` amplitude reflection coefficients of the walls
            x = 0, x = Lx, y = 0, y = Ly, floor, ceiling.
        scatterers: ``[N, 3]`` positions of static point scatterers.
        scatterer_rcs: ``[N]`` their radar cross-sections in m^2.
        stage: ``[2]`` floor point (x, y) people stand around.
        camera: ``[3]`` camera centre; it looks along +y with image y pointing down.
    """

    size: np.ndarray
    tx: np.ndarray
    rx: np.ndarray
    wall_reflectivity: np.ndarray
    scatterers: np.ndarray
    scatterer_rcs: np.ndarray
    stage: np.ndarray
    camera: np.ndarray


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


def world_to_camera(points: np.ndarray, scene: Scene) -> np.ndarray:
    """World points ``[..., 3]`` (z up) to the camera frame ``[..., 3]``.

    Camera frame: x right, y down, z forward (depth), metres, origin at the
    camera centre; MM-Fi's ground truth uses the same convention.
    """
    d = points - scene.camera
    return np.stack([d[..., 0], -d[..., 2], d[..., 1]], axis=-1)
