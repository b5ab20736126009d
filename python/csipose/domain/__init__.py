"""Methods that keep pose models working in rooms they were not trained in.

Each is a training-config switch, off by default unless said (see the README's rooms section);
on the link anchor test-time normalisation is on and the fixed ridge readout off by default:

- ``domain_adversarial``: a domain classifier over the training rooms behind a gradient
  reversal layer (:mod:`~csipose.domain.grl`);
- ``geometry_film``: FiLM of the pooled features by the room's antenna positions
  (:mod:`~csipose.domain.film`);
- ``synthetic.random_rooms``: training sequences spread over many randomised rooms, all of
  them or the share ``synthetic.random_room_share`` (:mod:`csipose.data.synthetic`);
- ``features = "conjugate"``: conjugate products of antenna pairs (:class:`csipose.data.Preprocess`);
- ``test_time_norm``: per-room input standardisation re-estimated on each room's frames
  (:mod:`~csipose.domain.normalisation`, torch-free); on by default on the link anchor;
- ``anchor``: the joints regressed relative to the point of the link in front of the camera
  (:mod:`~csipose.domain.anchor`); on by default where the samples carry the room geometry.

The torch modules are imported on first use, so the torch-free parts load without torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "ADAPTER_LR",
    "ADAPTER_STEPS",
    "ADAPTER_TARGETS",
    "GEOMETRY",
    "DomainClassifier",
    "GeometryEncoder",
    "GeometryFiLM",
    "RoomNormalised",
    "fourier_features",
    "link_anchor",
    "link_anchor_numpy",
    "reversal_schedule",
    "reverse_gradient",
    "room_statistics",
]

#: The sample entries of a room's geometry (camera frame, metres): the transmit antenna ``[3]``, the
#: receive antennas ``[R, 3]`` and the floor's ``y`` (the camera's height above it).
GEOMETRY = ("tx", "rx", "floor")

#: The layers ``csipose adapt --targets`` may adapt (:mod:`~csipose.domain.adapters`).
ADAPTER_TARGETS = ("all", "linear", "head", "readout", "input")

#: The default adapter fit (``csipose adapt``): AdamW steps and learning rate. Chosen on the
#: leave-room-out synthetic rooms (K = 50, three draws of the frames, each of the four rooms held
#: out in turn): ahead of 150 steps at 1e-2 in every room, and of 300 or 600 steps at 1e-2 and 300
#: steps at 3e-3 on the mean (``benches/bench_adapt.py``).
ADAPTER_STEPS, ADAPTER_LR = 150, 3e-2

_HOMES = {
    "DomainClassifier": "grl", "reversal_schedule": "grl", "reverse_gradient": "grl",
    "GeometryEncoder": "film", "GeometryFiLM": "film", "fourier_features": "film",
    "RoomNormalised": "normalisation", "room_statistics": "normalisation",
    "link_anchor": "anchor", "link_anchor_numpy": "anchor",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'csipose.domain' has no attribute {name!r}")
    return getattr(import_module(f"csipose.domain.{_HOMES[name]}"), name)
