"""Static-channel rotation: domain randomisation of the phase that a room's static paths give the body's echo.

On one antenna and subcarrier the CSI is ``H = S + B``: the static paths ``S`` (the direct path,
walls, furniture) and the body's echo ``B``, weaker than them. To first order in ``B / S``

    log|H| = log|S| + Re(B / S),        arg H = arg S + Im(B / S),

so once each room's mean is taken off its windows (test-time normalisation,
:mod:`~csipose.domain.normalisation`), the (log amplitude, phase) deviation pair of an antenna and
subcarrier is the body's echo seen through ``1 / S``: scaled by the room's static gain, which the
room's standard deviation divides out, and **rotated by** ``-arg S``, an angle that the room sets
anew for every antenna and subcarrier. A model trained in three rooms learns their angles (the cues
of where the person stands change sign from room to room: ``benches/bench_floor_cues.py``).

``static_rotation = share`` draws that angle afresh, uniform in ``[0, 2 pi)``, for every
(antenna, subcarrier) of a ``share`` of the training windows, the same over the window's frames and
packets (the static paths do not move within a window), and rotates the pair by it: each training
window looks as if it came from a room of its own. Only the magnitude of the deviation, and how it
changes within the window, is left the same from room to room. Pairs are channel ``c`` (amplitude)
and ``c + C / 2`` (phase): the "both" features of one antenna, where the reading above holds, or of
one conjugate product of two antennas ``H_a conj(H_b)``, whose pair is ``B_a / S_a + conj(B_b / S_b)``
to first order, not one rotated number, so there the rotation randomises it only in part.
Training-time only: evaluation sees the windows as they are.

The reading is first order and the pair is only roughly a turned ``B / S``: the phase channel is
sanitised (each packet's linear fit across the subcarriers taken off, which the amplitude channel
does not get), and each channel is divided by its own standard deviation over the room.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from csipose._checks import check_share
from csipose.errors import ShapeError

__all__ = ["rotate_static"]


def rotate_static(x: Tensor, share: float, generator: torch.Generator | None = None) -> Tensor:
    """``x: float[B, W, C, S, P]`` (room-standardised windows; channels: C / 2 amplitude, then
    the C / 2 phase channels of the same antennas) -> ``float[B, W, C, S, P]``: in each window
    drawn with probability ``share``, every (amplitude, phase) pair of channels ``(c, c + C / 2)``
    rotated, per subcarrier, by its own angle uniform in ``[0, 2 pi)``, the same over ``W`` and ``P``;
    the other windows as they are, bit for bit. Keeps each pair's magnitude. ``generator``: on
    ``x``'s device (None: torch's global generator)."""
    if x.dim() != 5 or x.shape[2] % 2:
        raise ShapeError(f"static_rotation: expected windows [B, W, C, S, P] with an even C (amplitude, phase), "
                         f"got {list(x.shape)}")
    check_share(share, "static_rotation")
    b, _, c, s, _ = x.shape
    pairs = c // 2
    angle = (torch.rand(b, 1, pairs, s, 1, generator=generator, device=x.device) * (2 * math.pi)).to(x.dtype)
    drawn = torch.rand(b, 1, 1, 1, 1, generator=generator, device=x.device) < share
    cos, sin = torch.cos(angle), torch.sin(angle)
    amplitude, phase = x[:, :, :pairs], x[:, :, pairs:]
    rotated = torch.cat([cos * amplitude - sin * phase, sin * amplitude + cos * phase], dim=2)
    return torch.where(drawn, rotated, x)
