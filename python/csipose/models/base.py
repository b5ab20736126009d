"""What every pose model shares: input normalisation, a closed-form linear readout, the heads.

A :class:`PoseModel` is ``norm -> backbone -> mean pose + backbone offsets + linear readout``:

- :class:`InputNorm` standardises every input feature (channel, subcarrier, packet) with the
  training set's mean and standard deviation, so amplitude and phase (and any other channel
  group) enter on the same footing whatever the cleaning left them at: per-frame min-max keeps
  a frame in [0, 1] but does not centre what varies with the body, and sanitised phase lives on
  another scale altogether.
- the backbone (:mod:`~csipose.models.zoo`) maps the normalised window to joint offsets
  ``[B, J, D]`` and a feature vector ``[B, F]``; its last layer starts at zero.
- :class:`LinearReadout` adds a ridge regression from the whole normalised window to the joints,
  fitted in closed form on the training set before training (:mod:`csipose.ridge`, with the
  regularisation and the weight of each channel group chosen on held-out training subjects) and
  then kept fixed. The model starts where the ridge baseline is and the backbone learns what a
  linear map cannot; a channel group that carries nothing is weighted down in the readout.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from csipose._checks import check_share
from csipose.errors import ConfigError, ShapeError
from csipose.models.densepose_head import DensePoseHead

__all__ = ["InputNorm", "LinearReadout", "PoseModel"]


class InputNorm(nn.Module):
    """``(csi - mean) / scale`` per feature; ``mean, scale: float[C, S, P]`` fitted on training data."""

    mean: Tensor
    scale: Tensor

    def __init__(self, channels: int, subcarriers: int, packets: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(channels, subcarriers, packets))
        self.register_buffer("scale", torch.ones(channels, subcarriers, packets))

    @torch.no_grad()
    def fit(self, csi: np.ndarray) -> None:
        """Sets the statistics from training windows ``csi: float[N, W, C, S, P]``."""
        frames = np.asarray(csi, dtype=np.float64).reshape(-1, *self.mean.shape)
        std = frames.std(axis=0)
        floor = 1e-6 * max(float(std.max()), 1e-12)
        self.mean.copy_(torch.from_numpy(frames.mean(axis=0)))
        self.scale.copy_(torch.from_numpy(np.where(std > floor, std, 1.0)))

    def forward(self, csi: Tensor) -> Tensor:
        return (csi - self.mean) / self.scale


class LinearReadout(nn.Module):
    """Fixed linear map from the flattened normalised window ``[B, F]`` to joints ``[B, J, D]``."""

    weight: Tensor
    bias: Tensor

    def __init__(self, features: int, joints: int, dims: int) -> None:
        super().__init__()
        self.joints, self.dims = joints, dims
        self.register_buffer("weight", torch.zeros(features, joints * dims))
        self.register_buffer("bias", torch.zeros(joints * dims))

    @torch.no_grad()
    def load(self, weight: np.ndarray, bias: np.ndarray) -> None:
        """Sets ``weight: [F, J*D]`` and ``bias: [J*D]`` (e.g. a fitted :class:`~csipose.ridge.RidgeRegression`)."""
        self.weight.copy_(torch.from_numpy(np.asarray(weight)).to(self.weight))
        self.bias.copy_(torch.from_numpy(np.asarray(bias)).to(self.bias))

    def forward(self, x: Tensor) -> Tensor:
        return (x.flatten(1).float() @ self.weight + self.bias).reshape(-1, self.joints, self.dims)


class PoseModel(nn.Module):
    """CSI window ``float[B, W, C, S, P]`` -> joints ``float[B, J, D]`` (and optional heads).

    Args:
        backbone: a zoo network (see :mod:`csipose.models.zoo`).
        shape: ``(W, C, S, P)`` of the input window.
        joints, dims: J keypoints of D coordinates.
        readout: add the closed-form :class:`LinearReadout`.
        heatmap_size: side of the 2D heatmap head's grid; 0 = none.
        densepose_parts: body parts of the DensePose head; 0 = none.
        densepose_size: side of the DensePose head's maps (a multiple of 8).
        persons: person slots (set prediction of several people); 0 = one person per window.
            Each slot has its joints (mean pose + its own linear readout + the backbone's shared
            offsets + its own offsets from the backbone's features) and a presence logit.
        slot_backbones: with person slots, ``"shared"`` (the above) or ``"separate"``: every slot
            has a backbone of its own (slot 0 ``backbone``, the others copies of it at the
            start), its joints the mean pose + its readout + its backbone's offsets, its presence
            logit a linear function of its backbone's features.
        domains: environment ids of the training rooms of a domain classifier behind gradient
            reversal (:class:`~csipose.domain.DomainClassifier`); empty = none.
        geometry_film: condition the pooled features on the room's antenna positions
            (:class:`~csipose.domain.GeometryFiLM`); the joints are then regressed from the
            modulated features by the backbone's ``head`` and translated by the geometry's shift.
        anchor: regress the joints relative to the room's link anchor
            (:func:`~csipose.domain.anchor.link_anchor`), read from the geometry
            ``(tx, rx, floor)`` that ``forward`` then needs; the mean pose and the readout are
            relative to it.
        new_room_root: with the anchor, the root joints (their mean is the root) that the model
            stands on the anchored mean pose's floor position (:func:`~csipose.domain.anchor.on_anchor_floor`)
            in a room it has not seen: one whose geometry matches none of :attr:`seen_rooms`, while
            no adapter is attached (:attr:`adapted`); empty = the model places the person everywhere.
        static_rotation: the share of training windows whose (amplitude, phase) channel pairs
            (``c``, ``c + C / 2``) are rotated by a random angle per subcarrier after the input
            norm (:func:`~csipose.domain.rotation.rotate_static`); in training mode only; 0 = none.
        settings: the keyword arguments that rebuild this model (:func:`~csipose.models.build_model`).

    Attributes:
        preprocess: the :class:`~csipose.data.Preprocess` (as :meth:`~csipose.data.Preprocess.to_dict`)
            from raw CSI to this model's input, recorded in its checkpoints; None when the training
            data had none.
        room_statistics: a ``test_time_norm`` model's training rooms' input statistics
            ``{environment: (mean float32[C, S, P], std float32[C, S, P])}``, recorded in its
            checkpoints (:mod:`csipose.domain.normalisation`); None for others.
        seen_rooms: buffer ``float32[K, G]``, the geometry rows (:func:`~csipose.domain.anchor.geometry_rows`)
            of the rooms the model was trained in, recorded in its checkpoints; None where no rooms
            are recorded (a model without ``new_room_root``, a checkpoint of an older csipose):
            the model then places the person itself everywhere.
        adapted: a fitted adapter is on the model (:mod:`csipose.domain.adapters`): it was fitted
            to the room it predicts in, so it places the person there itself.
    """

    mean_pose: Tensor  # buffer float[J, D]
    preprocess: dict[str, Any] | None
    room_statistics: dict[int, tuple[Any, Any]] | None
    seen_rooms: Tensor | None

    def __init__(
        self,
        backbone: nn.Module,
        *,
        shape: tuple[int, int, int, int],
        joints: int,
        dims: int,
        readout: bool,
        heatmap_size: int = 0,
        densepose_parts: int = 0,
        densepose_size: int = 56,
        persons: int = 0,
        slot_backbones: str = "shared",
        domains: tuple[int, ...] = (),
        geometry_film: bool = False,
        anchor: bool = False,
        new_room_root: tuple[int, ...] = (),
        static_rotation: float = 0.0,
        settings: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.shape, self.joints, self.dims = tuple(shape), joints, dims
        self.persons = persons
        self.settings = dict(settings or {})
        self.preprocess = None
        self.room_statistics = None
        w, c, s, p = self.shape
        self.norm = InputNorm(c, s, p)
        self.backbone = backbone
        slots = max(persons, 1)
        self.readout = LinearReadout(w * c * s * p, slots * joints, dims) if readout else None
        self.register_buffer("mean_pose", torch.zeros(joints, dims))
        features = int(backbone.features)
        if slot_backbones not in ("shared", "separate") or (
            slot_backbones == "separate" and (not persons or domains or geometry_film)
        ):  # the domain head and the FiLM read one backbone's features
            raise ConfigError(f"slot_backbones: expected 'shared', or 'separate' with persons >= 1 and neither domains "
                              f"nor geometry_film, got {slot_backbones!r} with persons = {persons}")
        separate = slot_backbones == "separate"
        self.slot_head = (
            nn.Sequential(nn.Linear(features, 4 * features), nn.GELU(), nn.Linear(4 * features, persons * (joints * dims + 1)))
            if persons and not separate else None
        )
        if self.slot_head is not None:
            nn.init.zeros_(self.slot_head[-1].weight)  # slots start on their readout
            nn.init.zeros_(self.slot_head[-1].bias)
        # slots 1.. of separate backbones (slot 0's is ``backbone``), and their presence: logit w_s . f_s + b_s
        self.slot_backbones = nn.ModuleList(copy.deepcopy(backbone) for _ in range(persons - 1)) if separate else None
        self.presence_weight = nn.Parameter(torch.zeros(persons, features)) if separate else None
        self.presence_bias = nn.Parameter(torch.zeros(persons)) if separate else None
        self.heatmap_size = heatmap_size
        self.heatmap_head = (
            nn.Sequential(nn.Linear(features, joints * 32), nn.Unflatten(1, (joints, 32)), nn.GELU(),
                          nn.Linear(32, heatmap_size * heatmap_size))
            if heatmap_size else None
        )
        self.densepose_head = (
            DensePoseHead(features, joints * dims, densepose_parts, densepose_size) if densepose_parts else None
        )
        self.domain_head, self.film = _domain_modules(backbone, features, dims, domains, geometry_film)
        self.anchor = bool(anchor)
        self.new_room_root = tuple(int(j) for j in new_room_root)
        if self.new_room_root and (not self.anchor or persons or dims != 3
                                   or not all(0 <= j < joints for j in self.new_room_root)):
            raise ConfigError(f"new_room_root: root joints in [0, {joints}) of a one-person model on the link anchor "
                              f"with 3-D joints, got {list(self.new_room_root)} (anchor = {self.anchor}, "
                              f"persons = {persons}, dims = {dims})")
        self.register_buffer("seen_rooms", None, persistent=False)  # saved by the checkpoint, beside the weights
        self.static_rotation = check_share(static_rotation, "static_rotation", ConfigError)
        if static_rotation and c % 2:
            raise ConfigError(f"static_rotation: rotates (amplitude, phase) channel pairs; needs an even C, got C = {c}")
        self.adapted = False

    @torch.no_grad()
    def set_mean_pose(self, pose: Tensor) -> None:
        """Stores the training-set mean pose ``float[J, D]`` the joints are regressed around."""
        self.mean_pose.copy_(pose.reshape(self.joints, self.dims).to(self.mean_pose))

    @torch.no_grad()
    def set_presence_prior(self, rates: Tensor) -> None:
        """Starts every slot's presence logit at ``logit(rates[k])``, ``rates: float[S]`` the training
        set's share of samples with more than ``k`` people (clipped to [0.01, 0.99]): the slots then
        start with the presence the data gives them, not at one half."""
        if not self.persons:
            raise ConfigError("set_presence_prior: the model has no person slots (persons = 0)")
        if rates.shape != (self.persons,):
            raise ShapeError(f"rates: expected [{self.persons}], got {list(rates.shape)}")
        logits = torch.logit(rates.clamp(0.01, 0.99))
        if self.presence_bias is not None:
            self.presence_bias.copy_(logits)
        else:
            bias = self.slot_head[-1].bias.view(self.persons, -1)  # type: ignore[index]
            bias[:, -1] = logits.to(bias)

    def forward(
        self, csi: Tensor, geometry: tuple[Tensor, Tensor] | None = None, reversal: float | None = None
    ) -> dict[str, Tensor]:
        """``csi: float[B, W, C, S, P]`` -> ``{"keypoints": [B, J, D], "features": [B, F], ...}``.

        With the optional heads: ``"heatmap": [B, J, H, H]``, ``"dp_parts": [B, K+1, H, H]``
        (logits) and ``"dp_uv": [B, 2K, H, H]`` (in [0, 1]; :class:`DensePoseHead`). A geometry-FiLM
        model needs ``geometry = (tx float[B, 3], rx float[B, R, 3])``, an anchored one
        ``(tx, rx, floor float[B])`` (camera frame, metres); a model with a domain
        classifier adds ``"domain": [B, K]`` (logits over its training rooms) when given the
        gradient ``reversal`` coefficient. In eval mode, a model with ``new_room_root`` and
        :attr:`seen_rooms`, with no fitted adapter on it (:attr:`adapted`), stands the person of a
        sample from a room it has not seen on the anchored mean pose's floor position (training
        batches come from the rooms it is trained in).
        """
        if csi.dim() != 5 or tuple(csi.shape[1:]) != self.shape:
            w, c, s, p = self.shape
            raise ShapeError(f"csi: expected [B, {w}, {c}, {s}, {p}], got {list(csi.shape)}")
        x = self.norm(csi)
        if self.static_rotation and self.training:
            from csipose.domain.rotation import rotate_static

            x = rotate_static(x, self.static_rotation)
        if self.film is not None:  # the backbone's head reads the modulated features
            features, shift = self.film(self.backbone.encode(x), geometry)  # type: ignore[operator]
            offsets = self.backbone.head(features).reshape(-1, self.joints, self.dims) + shift[:, None, :]  # type: ignore[operator]
        elif self.slot_backbones is not None:  # [B, S, J, D] and [B, S, F]: one per slot
            outputs = [self.backbone(x), *(backbone(x) for backbone in self.slot_backbones)]
            offsets = torch.stack([o for o, _ in outputs], dim=1)
            features = torch.stack([f for _, f in outputs], dim=1)
        else:
            offsets, features = self.backbone(x)
        place = None
        if self.anchor:
            from csipose.domain.anchor import geometry_rows, link_anchor, on_anchor_floor, seen, split_geometry

            tx, rx, floor = split_geometry(geometry, need_floor=True, why="anchor = link")
            d = offsets.device  # added in float32 at least: metres of anchor in bf16 would round to ~1 cm
            tx, rx, floor = tx.to(d).float(), rx.to(d).float(), floor.to(d).float()
            anchor = link_anchor(tx, rx, floor)
            offsets = offsets + anchor.view(-1, *(1,) * (offsets.dim() - 2), 3)[..., : self.dims]  # [B, (S,) J, D]
            if self.new_room_root and self.seen_rooms is not None and not self.adapted and not self.training:
                new_room = ~seen(geometry_rows(tx, rx, floor), self.seen_rooms)[:, None, None]  # [B, 1, 1]

                def place(keypoints: Tensor) -> Tensor:  # [B, J, 3]: new rooms' on the anchor's floor position
                    on_floor = on_anchor_floor(keypoints, anchor, self.mean_pose, self.new_room_root)
                    return torch.where(new_room, on_floor, keypoints)

        out = self._heads(x, offsets, features, place)
        if self.domain_head is not None and reversal is not None:
            out["domain"] = self.domain_head(features, reversal)
        return out

    def _heads(self, x: Tensor, offsets: Tensor, features: Tensor,
               place: Callable[[Tensor], Tensor] | None = None) -> dict[str, Tensor]:
        """The joints (and optional heads) from the normalised input, the backbone's offsets and
        features; ``place`` moves the joints (before the DensePose head reads them)."""
        if self.persons:
            return self._people(x, offsets, features)
        keypoints = self.mean_pose + offsets
        if self.readout is not None:
            keypoints = keypoints + self.readout(x)
        if place is not None:
            keypoints = place(keypoints)
        out = {"keypoints": keypoints, "features": features}
        if self.heatmap_head is not None:
            h = self.heatmap_size
            out["heatmap"] = self.heatmap_head(features).reshape(-1, self.joints, h, h)
        if self.densepose_head is not None:
            out["dp_parts"], out["dp_uv"] = self.densepose_head(features, keypoints)
        return out

    def _people(self, x: Tensor, offsets: Tensor, features: Tensor) -> dict[str, Tensor]:
        """The set prediction: ``"persons": [B, S, J, D]``, ``"presence": [B, S]`` (logits), and
        ``"keypoints"``, the joints of the most present slot. ``offsets, features``: the shared
        backbone's ``[B, J, D], [B, F]``, or the separate backbones' ``[B, S, J, D], [B, S, F]``
        (then ``"features"`` is their mean over the slots)."""
        s, j, d = self.persons, self.joints, self.dims
        if self.slot_head is not None:
            head = self.slot_head(features).reshape(-1, s, j * d + 1)
            offsets = offsets[:, None] + head[..., : j * d].reshape(-1, s, j, d)
            presence = head[..., j * d]
        else:
            presence = torch.einsum("bsf,sf->bs", features, self.presence_weight) + self.presence_bias
            features = features.mean(dim=1)
        persons = self.mean_pose + offsets
        if self.readout is not None:
            persons = persons + self.readout(x).reshape(-1, s, j, d)
        best = presence.argmax(dim=1)[:, None, None, None].expand(-1, 1, j, d)
        keypoints = persons.gather(1, best).squeeze(1)
        return {"persons": persons, "presence": presence, "keypoints": keypoints, "features": features}


def _domain_modules(backbone: nn.Module, features: int, dims: int, domains: tuple[int, ...],
                    geometry_film: bool) -> tuple[nn.Module | None, nn.Module | None]:
    """The domain classifier and the geometry FiLM a :class:`PoseModel` asks for (None when not)."""
    if not domains and not geometry_film:
        return None, None
    from csipose.domain import DomainClassifier, GeometryFiLM

    if geometry_film and not (isinstance(getattr(backbone, "head", None), nn.Module)
                              and callable(getattr(backbone, "encode", None))):
        raise ConfigError(
            f"geometry_film: needs a backbone that regresses the joints from its pooled features ('encode') with a "
            f"'head' (tcn, mlp, cnn); {type(backbone).__name__} has none"
        )
    return (DomainClassifier(features, domains) if domains else None,
            GeometryFiLM(features, dims) if geometry_film else None)

