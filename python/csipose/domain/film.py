"""Geometry FiLM: the room's radio geometry conditions the pose features.

The labels live in each room's camera frame, and the transmitter-receiver link sits somewhere
else in every room; people stand near the link. The positions of the transmit antenna
``tx: float[B, 3]`` and the receive antennas ``rx: float[B, R, 3]`` (camera frame, metres) tell
the model where the link is relative to the camera. They are encoded as

- Fourier features of each position (the position itself plus sines and cosines at
  wavelengths of 16 m down to 1 m), so both the place and finer relations can be read;
- the transmitter through its own MLP, the receive antennas through a DeepSets encoder (one
  MLP shared by every antenna, then the mean over antennas): any number of receive antennas,
  in any order, gives the same code;

and the code sets a FiLM scale and shift of the backbone's pooled features,
``features * (1 + gamma) + beta``, and a translation ``float[B, D]`` of every joint: where
the person is in the camera frame follows from where the link is, a shift a multiplicative
modulation of features reaches only slowly. Both projections have no bias and start at zero,
so the model starts as the unconditioned one and a zero code is always the identity.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from csipose.errors import ArgumentError, ShapeError

__all__ = ["GeometryEncoder", "GeometryFiLM", "fourier_features"]

#: Wavelengths (metres) of the Fourier features: 16, 8, 4, 2, 1.
WAVELENGTHS = (16.0, 8.0, 4.0, 2.0, 1.0)


def fourier_features(points: Tensor) -> Tensor:
    """``points: float[..., 3]`` (metres) -> ``float[..., 3 + 6 * len(WAVELENGTHS)]``: the
    coordinates, then ``sin`` and ``cos`` of ``2 pi x / wavelength`` for every coordinate."""
    freq = torch.tensor([2.0 * math.pi / w for w in WAVELENGTHS], dtype=points.dtype, device=points.device)
    angles = (points[..., None] * freq).flatten(-2)  # [..., 3 * K]
    return torch.cat([points, torch.sin(angles), torch.cos(angles)], dim=-1)


def _mlp(inputs: int, width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, width), nn.GELU(), nn.Linear(width, width), nn.GELU())


class GeometryEncoder(nn.Module):
    """``tx: float[B, 3]``, ``rx: float[B, R, 3]`` -> code ``float[B, width]``, invariant to the
    order of the receive antennas."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        inputs = 3 + 6 * len(WAVELENGTHS)
        self.transmitter = _mlp(inputs, width)
        self.receiver = _mlp(inputs, width)  # shared by every receive antenna (DeepSets phi)
        self.combine = nn.Sequential(nn.Linear(2 * width, width), nn.GELU())  # DeepSets rho

    def forward(self, tx: Tensor, rx: Tensor) -> Tensor:
        if tx.dim() != 2 or tx.shape[1] != 3:
            raise ShapeError(f"geometry tx: expected [B, 3], got {list(tx.shape)}")
        if rx.dim() != 3 or rx.shape[2] != 3 or rx.shape[0] != tx.shape[0] or rx.shape[1] < 1:
            raise ShapeError(f"geometry rx: expected [B = {tx.shape[0]}, R >= 1, 3], got {list(rx.shape)}")
        t = self.transmitter(fourier_features(tx.float()))
        r = self.receiver(fourier_features(rx.float())).mean(dim=1)
        return self.combine(torch.cat([t, r], dim=-1))


class GeometryFiLM(nn.Module):
    """FiLM of pooled features ``float[B, F]`` by the room geometry.

    Args:
        features: F, the width of the modulated features.
        dims: D, the coordinates of the joints' translation.
        width: the geometry code's width.
    """

    def __init__(self, features: int, dims: int = 3, width: int = 64) -> None:
        super().__init__()
        self.encoder = GeometryEncoder(width)
        self.to_film = nn.Linear(width, 2 * features, bias=False)
        self.to_shift = nn.Linear(width, dims, bias=False)
        nn.init.zeros_(self.to_film.weight)  # starts as the identity
        nn.init.zeros_(self.to_shift.weight)

    def modulate(self, features: Tensor, code: Tensor) -> Tensor:
        """``features * (1 + gamma) + beta`` with ``(gamma, beta)`` projected from ``code: float[B, width]``."""
        gamma, beta = self.to_film(code).chunk(2, dim=-1)
        return features * (1.0 + gamma) + beta

    def forward(self, features: Tensor, geometry: tuple[Tensor, Tensor] | None) -> tuple[Tensor, Tensor]:
        """``features: float[B, F]`` modulated by ``geometry = (tx float[B, 3], rx float[B, R, 3])``
        (a third entry, the floor, is not read), and the joints' translation ``float[B, D]``."""
        from csipose.domain.anchor import split_geometry

        tx, rx, _ = split_geometry(geometry, need_floor=False, why="geometry_film")
        if tx.shape[0] != features.shape[0]:
            raise ShapeError(f"geometry tx: expected {features.shape[0]} rows (one per window), got {list(tx.shape)}")
        code = self.encoder(tx.to(features.device), rx.to(features.device))
        return self.modulate(features, code), self.to_shift(code)
