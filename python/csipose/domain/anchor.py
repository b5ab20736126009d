"""The link anchor: where the room's geometry says the person stands, in the camera frame.

Labels live in each room's camera frame, but the radio sees a person only relative to its
antennas. WiFi sensing puts the person on the link, between the transmitter and the receiver,
and the labelling camera looks at them. So the room geometry alone (the antennas' positions and
the floor in the camera frame) fixes a point of the camera frame near the person, in any room:

- on the floor plan, the point of the link (from the transmit antenna to the mean of the receive
  antennas) that lies in the camera's vertical plane of view (camera ``x = 0``), kept between
  the antennas (a link parallel to the view, ``|dx| < 1 mm``, takes its middle);
- at the height of the floor (camera ``y`` points down: the floor is at ``y = floor``, the
  camera's height above it).

A model with the anchor (``anchor = "link"``; by default on when the samples carry the geometry)
regresses the joints relative to it and adds it back: its mean pose (and its fixed readout,
off by default on the anchor: ``readout``) are fitted on ``keypoints - anchor``, so in a new room
the person is placed by the geometry, and the CSI has only the person's place relative to the
link and their shape left to tell. The
anchor is a translation: figures of the locked harness (PCK, MPJPE, root error) do not change
when it moves predictions and labels alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from csipose.errors import ArgumentError, ShapeError

__all__ = ["link_anchor", "link_anchor_numpy", "split_geometry"]

_PARALLEL = 1e-3  # metres: a link whose ends are closer than this across the view has no crossing


def link_anchor(tx: Tensor, rx: Tensor, floor: Tensor) -> Tensor:
    """``tx: float[B, 3]``, ``rx: float[B, R, 3]``, ``floor: float[B]`` (camera frame, metres)
    -> the anchor ``float[B, 3]`` (camera frame, metres; see the module docstring)."""
    if tx.dim() != 2 or tx.shape[1] != 3:
        raise ShapeError(f"geometry tx: expected [B, 3], got {list(tx.shape)}")
    if rx.dim() != 3 or rx.shape[2] != 3 or rx.shape[0] != tx.shape[0] or rx.shape[1] < 1:
        raise ShapeError(f"geometry rx: expected [B = {tx.shape[0]}, R >= 1, 3], got {list(rx.shape)}")
    if floor.reshape(-1).shape[0] != tx.shape[0]:
        raise ShapeError(f"geometry floor: expected [B = {tx.shape[0]}], got {list(floor.shape)}")
    receiver = rx.mean(dim=1)
    dx = receiver[:, 0] - tx[:, 0]
    crossing = -tx[:, 0] / torch.where(dx.abs() < _PARALLEL, torch.ones_like(dx), dx)
    t = torch.where(dx.abs() < _PARALLEL, torch.full_like(dx, 0.5), crossing.clamp(0.0, 1.0))
    x = tx[:, 0] + t * dx
    depth = tx[:, 2] + t * (receiver[:, 2] - tx[:, 2])
    return torch.stack([x, floor.reshape(-1).to(x), depth], dim=1)


def link_anchor_numpy(tx: Any, rx: Any, floor: Any) -> np.ndarray:
    """:func:`link_anchor` of numpy arrays, ``float64[B, 3]``."""
    as_tensor = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64))  # noqa: E731
    return link_anchor(as_tensor(tx), as_tensor(rx), as_tensor(floor)).numpy()


def split_geometry(geometry: Any, *, need_floor: bool, why: str) -> tuple[Any, Any, Any]:
    """``geometry = (tx, rx)`` or ``(tx, rx, floor)`` -> ``(tx, rx, floor or None)``.

    Raises:
        ArgumentError: no geometry, or no floor where ``need_floor`` (``why`` names the model's setting).
    """
    parts = tuple(geometry) if geometry is not None else ()
    if len(parts) not in (2, 3) or (need_floor and len(parts) != 3):
        wanted = "(tx float[B, 3], rx float[B, R, 3], floor float[B])" if need_floor else "(tx float[B, 3], rx float[B, R, 3])"
        raise ArgumentError(
            f"geometry: this model takes the room's geometry ({why}); give geometry={wanted}, the antennas' "
            "positions in the camera frame" + (" and the floor's camera-frame y (the camera's height)" if need_floor else "")
            + f", got {'none' if geometry is None else f'{len(parts)} arrays'}"
        )
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None
