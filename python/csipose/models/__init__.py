"""Pose models (PyTorch): a small zoo of backbones under one interface.

Every model is a :class:`PoseModel`: per-feature input normalisation fitted on the training set,
a backbone, the training-set mean pose, and (by default) a closed-form ridge readout fitted
before training (see :mod:`csipose.models.base`). The backbones, by ``model`` name:

========== ================================================================ ==========
name        idea                                                             parameters*
========== ================================================================ ==========
tcn         WiFlow-style grouped temporal convolutions over the packets,       453,939
            axial attention across channels and time (the default)
csinet      subcarrier convolutions per antenna and channel group, attention     177,619
            over subcarrier tokens, joint queries
mlp         two-layer MLP on the flattened frame (MM-Fi's baselines)           899,251
cnn         MetaFi-style conv-BN-ReLU stages over (subcarrier, packet)         633,363
========== ================================================================ ==========

The default was chosen by ``python benches/bench_models.py`` over four data families (see the
README's model table).

\\* trainable, at the defaults (width 64) for one 6 x 114 x 10 frame; the fixed ridge readout
adds W x C x S x P x J x D values (348,840 here) that are fitted, not trained.

    >>> from csipose.models import build_model
    >>> model = build_model(model="mlp", shape=(1, 6, 114, 10), groups=2, joints=17, dims=3)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from torch import nn

from csipose._checks import check_share
from csipose.errors import ConfigError
from csipose.models.base import InputNorm, LinearReadout, PoseModel
from csipose.models.cnn import Cnn
from csipose.models.csinet import CsiNet
from csipose.models.mlp import Mlp
from csipose.models.tcn import Tcn

__all__ = [
    "MODELS",
    "Cnn",
    "CsiNet",
    "InputNorm",
    "LinearReadout",
    "Mlp",
    "PoseModel",
    "Tcn",
    "build_model",
    "count_parameters",
    "parameter_table",
]

#: The backbones by name, and which of the size settings each takes.
MODELS: dict[str, tuple[type[nn.Module], tuple[str, ...]]] = {
    "tcn": (Tcn, ("width", "heads", "dropout")),
    "csinet": (CsiNet, ("width", "depth", "heads", "tokens", "dropout")),
    "mlp": (Mlp, ("width", "dropout")),
    "cnn": (Cnn, ("width", "dropout")),
}


def build_model(
    *,
    model: str = "tcn",
    shape: tuple[int, int, int, int] | list[int],
    groups: int = 1,
    joints: int = 17,
    dims: int = 3,
    width: int = 64,
    depth: int = 2,
    heads: int = 4,
    tokens: int = 8,
    dropout: float = 0.0,
    readout: bool = True,
    heatmap_size: int = 0,
    densepose_parts: int = 0,
    densepose_size: int = 56,
    persons: int = 0,
    slot_backbones: str = "shared",
    domains: tuple[int, ...] | list[int] = (),
    geometry_film: bool = False,
    anchor: bool = False,
    new_room_root: tuple[int, ...] | list[int] = (),
    static_rotation: float = 0.0,
) -> PoseModel:
    """The :class:`PoseModel` these settings describe (every argument is plain data, stored in checkpoints).

    Args:
        model: backbone name, one of :data:`MODELS`.
        shape: ``(W, C, S, P)`` of one input window.
        groups: channel groups (features per antenna: 2 for amplitude + phase), dividing C.
        joints, dims: J keypoints of D coordinates.
        width, depth, heads, tokens, dropout: size settings (each backbone takes those it uses).
        readout: add the closed-form ridge readout.
        heatmap_size, densepose_parts: optional heads (0 = none).
        densepose_size: side of the DensePose maps (a multiple of 8).
        persons: person slots for several people per window (0 = one person).
        slot_backbones: ``"shared"`` (one backbone for every slot) or ``"separate"`` (one per slot).
        domains: environment ids of the training rooms of a domain classifier behind gradient
            reversal (empty = none; see :mod:`csipose.domain`).
        geometry_film: condition the features on the room's antenna positions (FiLM).
        anchor: regress the joints relative to the room's link anchor (:mod:`csipose.domain.anchor`).
        new_room_root: with ``anchor``, the root joints the model stands on the anchored mean pose's
            floor position in rooms it has not seen (empty = it places the person everywhere).
        static_rotation: the share of training windows whose (amplitude, phase) pairs are rotated
            by random angles (:mod:`csipose.domain.rotation`; needs ``groups = 2``); 0 = none.
    """
    if model not in MODELS:
        raise ConfigError(f"model: must be one of {', '.join(MODELS)}, got {model!r}")
    shape = tuple(int(v) for v in shape)
    if len(shape) != 4 or min(shape) < 1 or groups < 1 or shape[1] % groups:
        raise ConfigError(f"model shape: expected (W, C, S, P) with C divisible by groups = {groups}, got {shape}")
    check_share(static_rotation, "static_rotation", ConfigError)
    if static_rotation and groups != 2:
        raise ConfigError(f"static_rotation: rotates (amplitude, phase) channel pairs; needs features = both or "
                          f"conjugate (2 channel groups), got {groups} group{'s' if groups != 1 else ''}")
    cls, takes = MODELS[model]
    sizes = {"width": width, "depth": depth, "heads": heads, "tokens": tokens, "dropout": dropout}
    backbone = cls(shape=shape, groups=groups, joints=joints, dims=dims, **{k: sizes[k] for k in takes})
    settings = {
        "model": model, "shape": list(shape), "groups": groups, "joints": joints, "dims": dims, **sizes,
        "readout": readout, "heatmap_size": heatmap_size, "densepose_parts": densepose_parts, "persons": persons,
    }  # fmt: skip
    if densepose_parts:
        settings["densepose_size"] = densepose_size
    if domains or geometry_film:  # earlier checkpoints' settings keep their keys
        settings.update(domains=[int(e) for e in domains], geometry_film=bool(geometry_film))
    if anchor:
        settings["anchor"] = True
    if new_room_root:  # earlier checkpoints' settings keep their keys
        settings["new_room_root"] = [int(j) for j in new_room_root]
    if slot_backbones != "shared":  # earlier checkpoints' settings keep their keys
        settings["slot_backbones"] = slot_backbones
    if static_rotation:  # earlier checkpoints' settings keep their keys
        settings["static_rotation"] = float(static_rotation)
    return PoseModel(backbone, shape=shape, joints=joints, dims=dims, readout=readout,  # type: ignore[arg-type]
                     heatmap_size=heatmap_size, densepose_parts=densepose_parts, densepose_size=densepose_size,
                     persons=persons, slot_backbones=slot_backbones, domains=tuple(int(e) for e in domains),
                     geometry_film=geometry_film, anchor=anchor, new_room_root=tuple(new_room_root),
                     static_rotation=static_rotation, settings=settings)


def count_parameters(model: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def parameter_table(model: nn.Module) -> str:
    """Per top-level module parameter counts and the total, as printable text."""
    root = model.backbone if isinstance(model, PoseModel) else model
    lines = [f"{name:<20} {count_parameters(child):>10,}" for name, child in root.named_children()]
    direct = sum(p.numel() for _, p in root.named_parameters(recurse=False))
    if direct:
        lines.append(f"{'(embeddings)':<20} {direct:>10,}")
    lines.append(f"{'total':<20} {count_parameters(model):>10,}")
    return "\n".join(lines)
