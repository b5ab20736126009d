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

Where the person stands on the floor, relative to the anchor, the CSI tells in the rooms a model
was trained in, but the cues flip from room to room (``benches/bench_floor_cues.py``). So an
anchored model records its training rooms' geometry (:func:`geometry_rows`, ``seen_rooms``) and,
in a room it has not seen (:func:`seen`), stands the person on the anchored mean pose's floor
position (:func:`on_anchor_floor`; ``new_room_floor``), keeping the height and the shape it
predicts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from csipose.errors import ArgumentError, ShapeError

__all__ = ["SEEN_TOLERANCE", "geometry_rows", "link_anchor", "link_anchor_numpy", "on_anchor_floor", "seen", "split_geometry"]

_PARALLEL = 1e-3  # metres: a link whose ends are closer than this across the view has no crossing
#: Metres: a room is one a model has seen when every coordinate of its geometry (:func:`geometry_rows`)
#: is within this of a training room's (antennas measured again in the same room stay within it).
SEEN_TOLERANCE = 0.05


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


def geometry_rows(tx: Tensor, rx: Tensor, floor: Tensor) -> Tensor:
    """``tx: float[B, 3]``, ``rx: float[B, R, 3]``, ``floor: float[B]`` -> one row per sample
    ``float32[B, 3 + 3 R + 1]``: the transmit antenna, the receive antennas, the floor."""
    b = tx.shape[0]
    return torch.cat([tx.reshape(b, -1), rx.reshape(b, -1), floor.reshape(b, 1)], dim=1).float()


def seen(rows: Tensor, rooms: Tensor) -> Tensor:
    """``rows: float[B, G]`` (:func:`geometry_rows`) of rooms ``rooms: float[K, G]`` -> ``bool[B]``:
    whether each sample's room is one of ``rooms`` (every coordinate within :data:`SEEN_TOLERANCE`;
    the receive antennas in the order given). Rows of another width (another number of receive
    antennas) match no room, nor does any row when ``rooms`` is empty."""
    if rows.shape[1] != rooms.shape[1] or rooms.shape[0] == 0:
        return torch.zeros(rows.shape[0], dtype=torch.bool, device=rows.device)
    apart = (rows[:, None, :] - rooms.to(rows)[None, :, :]).abs().amax(dim=2)  # [B, K]
    return (apart <= SEEN_TOLERANCE).any(dim=1)


def on_anchor_floor(keypoints: Tensor, anchor: Tensor, mean_pose: Tensor, root: list[int] | tuple[int, ...]) -> Tensor:
    """``keypoints: float[B, J, D]`` (D = 3, camera frame; ``y`` points down) moved on the floor,
    along camera ``x`` and ``z``, so that their root (the mean of the ``root`` joints) stands where
    the mean pose on the anchor (``anchor: float[B, 3]`` + ``mean_pose: float[J, D]``, relative to
    it) has its root; their height and shape are kept. Returns ``float[B, J, D]``."""
    if keypoints.dim() != 3 or keypoints.shape[2] != 3:
        raise ShapeError(f"keypoints: expected [B, J, 3] to move on the floor, got {list(keypoints.shape)}")
    joints = list(root)
    target = anchor.to(keypoints) + mean_pose[joints].mean(dim=0).to(keypoints)  # [B, 3]
    shift = target - keypoints[:, joints].mean(dim=1)
    shift = torch.stack([shift[:, 0], torch.zeros_like(shift[:, 1]), shift[:, 2]], dim=1)  # the height stays
    return keypoints + shift[:, None, :]
