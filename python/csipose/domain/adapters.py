"""Low-rank adapters (LoRA) for a trained :class:`~csipose.models.PoseModel`: few-shot adaptation to a new room.

Each adapted linear layer ``y = W x + b`` (an ``nn.Linear``, or the model's closed-form ridge
readout from the flattened input window to the joints) gains a low-rank update and a bias shift,

    y = W x + b + (alpha / r) * B (A x) + db,   A: float[r, in], B: float[out, r], db: float[out],

and the normalised input gains a gain and an offset per channel (antenna x feature), where a
room's receiver gains and antenna phase offsets show, ``x_c (1 + g_c) + o_c``. ``B``, ``db``,
``g`` and ``o`` start at zero, so a fresh adapter leaves the base model's outputs bit-identical;
once fitted or loaded it marks the model ``adapted``, and a model on the link anchor then places
the person in the adapter's room itself, not on the anchor's floor position. The update runs in
a forward hook: the base model's modules, parameter names and weights stay as they are (its
:func:`base_sha256` does not change), and only the adapter's own parameters train while every
base weight is frozen. An adapter file holds those parameters,
the rank, alpha, the adapted layer names and the SHA-256 of the base model's weights, so it is
refused on any other checkpoint.

Fits from different seeds on the same frames differ by a few points of PCK@20 in a new room;
:class:`AdapterEnsemble` holds several of them (``csipose adapt --fits N``) and averages their
predictions, one forward pass each. Its file holds every member (:data:`ENSEMBLE_FORMAT`).

    >>> adapters = attach_adapters(model, rank=4, targets="all")      # doctest: +SKIP
    >>> fit_adapters(model, adapters, csi, keypoints)                 # doctest: +SKIP
    >>> save_adapters("adapter.pt", adapters)                         # doctest: +SKIP
    >>> load_adapters("adapter.pt", fresh_model)                      # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from csipose._checks import is_real
from csipose.domain import ADAPTER_AVERAGE, ADAPTER_BATCH, ADAPTER_EPOCHS, ADAPTER_LR, ADAPTER_RANK, ADAPTER_TARGETS, adapter_steps
from csipose.errors import ArgumentError, CheckpointError, TrainingError
from csipose.models.base import InputNorm, LinearReadout, PoseModel
from csipose.train import checkpoint as ckpt

__all__ = [
    "ADAPTER_FORMAT",
    "TARGETS",
    "ENSEMBLE_FORMAT",
    "AdapterEnsemble",
    "Adapters",
    "ChannelAffine",
    "LowRankUpdate",
    "adapter_layers",
    "attach_adapters",
    "averaged_steps",
    "base_sha256",
    "check_average",
    "check_rank",
    "fit_adapters",
    "fit_ensemble",
    "freeze_base",
    "load_adapters",
    "read_adapter_file",
    "save_adapters",
]

#: Layout version of an adapter file.
ADAPTER_FORMAT = 1
#: Layout version of an adapter file of several fits (:class:`AdapterEnsemble`): ``members``, a
#: list of the weights that format 1 holds once; one fit is still written as format 1.
ENSEMBLE_FORMAT = 2
#: Which layers an adapter targets: every ``nn.Linear`` layer the model calls (``linear``), those
#: of the joint regressors after the last attention (``head``: ``backbone.head``, ``slot_head``),
#: the closed-form ridge readout from the input window to the joints (``readout``), the per-channel
#: gain and offset of the normalised input (``input``), or all three of ``linear``, ``readout`` and
#: ``input`` (``all``).
TARGETS = ADAPTER_TARGETS
_KIND = "csipose.adapter"
_HEADS = ("backbone.head", "slot_head")


class LowRankUpdate(nn.Module):
    """``x: float[..., in]`` -> ``(alpha / r) * x A^T B^T + db: float[..., out]``; zero until trained."""

    def __init__(self, features_in: int, features_out: int, *, rank: int, alpha: float, generator: torch.Generator) -> None:
        super().__init__()
        self.rank, self.alpha = rank, alpha
        self.scale = alpha / rank
        a = torch.empty(rank, features_in)
        bound = 1.0 / math.sqrt(features_in)  # kaiming_uniform(a=sqrt(5)), as nn.Linear and LoRA initialise
        a.uniform_(-bound, bound, generator=generator)
        self.down = nn.Parameter(a)  # A
        self.up = nn.Parameter(torch.zeros(features_out, rank))  # B
        self.shift = nn.Parameter(torch.zeros(features_out))  # db

    def forward(self, x: Tensor) -> Tensor:
        return (x @ self.down.T) @ self.up.T * self.scale + self.shift


class ChannelAffine(nn.Module):
    """``x: float[B, W, C, S, P]`` -> ``x (1 + gain) + offset``, ``gain, offset: float[C, 1, 1]``; the identity until trained."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.zeros(channels, 1, 1))
        self.offset = nn.Parameter(torch.zeros(channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return x * (1 + self.gain) + self.offset


class Adapters(nn.Module):
    """The low-rank updates of one model, by the adapted layer's name, and the hooks that apply them.

    Attributes:
        rank, alpha: of every update; ``targets``: the adapted layer names (``model.named_modules`` names);
        base: the SHA-256 of the base model's weights (:func:`base_sha256`);
        info: what the adapter file records besides the weights (e.g. the frames it was fitted on);
        active: the hooks apply the updates (an :class:`AdapterEnsemble` turns its members on in turn).
    """

    def __init__(self, model: nn.Module, targets: Sequence[str], *, rank: int, alpha: float, base: str, seed: int = 0) -> None:
        super().__init__()
        self.rank, self.alpha, self.targets, self.base = rank, alpha, list(targets), base
        self.info: dict[str, Any] = {}
        self.active = True
        modules = dict(model.named_modules())
        generator = torch.Generator().manual_seed(seed)
        self.updates = nn.ModuleDict()
        for name in self.targets:
            layer = modules[name]
            if isinstance(layer, InputNorm):
                self.updates[_key(name)] = ChannelAffine(int(layer.mean.shape[0]))
                continue
            features_in, features_out = _sizes(layer)
            self.updates[_key(name)] = LowRankUpdate(features_in, features_out, rank=rank, alpha=alpha,
                                                     generator=generator)  # fmt: skip
        weight = next(iter(model.parameters()))
        self.to(device=weight.device, dtype=weight.dtype)
        self._hooks = [modules[name].register_forward_hook(self._hook(name)) for name in self.targets]
        self._model = [model]  # in a list: not a submodule of the adapter

    def _hook(self, name: str) -> Any:
        update = self.updates[_key(name)]

        def add_update(module: nn.Module, args: tuple[Tensor, ...], output: Tensor) -> Tensor:
            if not self.active:
                return output
            if isinstance(module, InputNorm):
                return update(output)
            if isinstance(module, LinearReadout):  # [B, ...] flattened in, [B, J, D] out
                return output + update(args[0].flatten(1).float()).reshape(output.shape)
            return output + update(args[0])

        return add_update

    def remove(self) -> None:
        """Takes the updates off the model (it predicts as the base model again)."""
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
        self._mark(False)

    def _mark(self, fitted: bool) -> None:
        """Sets the :class:`PoseModel`'s ``adapted``: an adapter fitted to (or loaded for) a room is on
        it, so it places the person there itself, where it would stand a person of a room it was not
        trained in on the link anchor's floor position (``new_room_floor``)."""
        model = self._model[0]
        if isinstance(model, PoseModel):
            model.adapted = fitted

    def weights(self) -> dict[str, Tensor]:
        """The adapter's tensors by ``LAYER/PART`` (``down``, ``up``, ``shift``; ``gain``, ``offset``), CPU copies."""
        return {f"{name}/{part}": value.detach().cpu().clone()
                for name in self.targets for part, value in self.updates[_key(name)].state_dict().items()}  # fmt: skip

    def trainable(self) -> int:
        """Number of adapter parameters."""
        return sum(p.numel() for p in self.parameters())


class AdapterEnsemble:
    """Adapters of one model fitted on the same frames from different seeds, whose predictions are
    averaged (:meth:`average`): each fit alone lands a few points of PCK@20 apart in a new room, and
    their mean is ahead of each. Every member stays on the model; between averages the first one
    alone is active, so a plain call of the model is the first fit's.

    Attributes:
        members: the :class:`Adapters`, two or more, of the same layers, rank, alpha and base;
        info: what the adapter file records besides the weights (as :attr:`Adapters.info`).

    Every output is averaged as the model gives it (logits, e.g. the DensePose parts, before
    their argmax); a person-slot model's slots are in no common order, so it takes no ensemble.

    Raises:
        ArgumentError: fewer than two members, members that differ in model, layers, rank,
            alpha or base, or a person-slot model.
    """

    def __init__(self, members: Sequence[Adapters]) -> None:
        self.members = list(members)
        if len(self.members) < 2:
            raise ArgumentError(f"members: an ensemble averages two or more adapters, got {len(self.members)}")
        first = self.members[0]
        for m in self.members[1:]:
            if m._model[0] is not first._model[0] or (m.targets, m.rank, m.alpha, m.base) != (
                    first.targets, first.rank, first.alpha, first.base):
                raise ArgumentError("members: expected adapters of one model with the same layers, rank and alpha")
        if getattr(first._model[0], "persons", 0):
            raise ArgumentError("members: a person-slot model's slots are in no common order between fits; "
                                "adapt it with one fit")
        self.info: dict[str, Any] = {}
        self._use(0)

    @property
    def rank(self) -> int:
        return self.members[0].rank

    @property
    def alpha(self) -> float:
        return self.members[0].alpha

    @property
    def targets(self) -> list[str]:
        return self.members[0].targets

    @property
    def base(self) -> str:
        return self.members[0].base

    def trainable(self) -> int:
        """Number of adapter parameters, over every member."""
        return sum(m.trainable() for m in self.members)

    def remove(self) -> None:
        """Takes every member off the model (it predicts as the base model again)."""
        for m in self.members:
            m.remove()

    def _use(self, index: int) -> None:
        for i, m in enumerate(self.members):
            m.active = i == index

    def average(self, forward: Any) -> dict[str, Tensor]:
        """The mean over the members of ``forward()``'s outputs (a dict of tensors, e.g. the model
        called on one batch), each member alone active for its pass; in float32 at least."""
        outputs = []
        try:
            for i in range(len(self.members)):
                self._use(i)
                outputs.append(forward())
        finally:
            self._use(0)
        return {key: torch.stack([out[key] for out in outputs]).float().mean(dim=0) for key in outputs[0]}


def _sizes(layer: nn.Module) -> tuple[int, int]:
    """(in, out) features of an adaptable layer: ``nn.Linear`` or the model's :class:`LinearReadout`."""
    if isinstance(layer, nn.Linear):
        return layer.in_features, layer.out_features
    if isinstance(layer, LinearReadout):
        return int(layer.weight.shape[0]), int(layer.weight.shape[1])
    raise ArgumentError(f"targets: expected an nn.Linear layer or the readout, got {type(layer).__name__}")


def _key(name: str) -> str:
    return name.replace(".", "__")  # ModuleDict keys may not hold dots


def base_sha256(model: nn.Module) -> str:
    """SHA-256 of a model's weights and buffers (:func:`csipose.train.checkpoint.weights_sha256`);
    adapters do not change it."""
    return ckpt.weights_sha256(model.state_dict())


def adapter_layers(model: nn.Module, targets: str = "all") -> list[str]:
    """The names of the layers ``targets`` (one of :data:`TARGETS`) selects.

    The projections inside ``nn.MultiheadAttention`` are left out: it uses their weights
    directly, never calling the layer, so a hook there would not run.
    """
    if targets not in TARGETS:
        raise ArgumentError(f"targets: expected one of {', '.join(TARGETS)}, got {targets!r}")
    inside = {f"{name}.{child}" for name, m in model.named_modules() if isinstance(m, nn.MultiheadAttention)
              for child, _ in m.named_modules() if child}  # fmt: skip
    linear = [name for name, m in model.named_modules() if isinstance(m, nn.Linear) and name not in inside]
    readout = [name for name, m in model.named_modules() if isinstance(m, LinearReadout)]
    inputs = [name for name, m in model.named_modules() if isinstance(m, InputNorm)]
    names = {
        "all": linear + readout + inputs, "linear": linear, "readout": readout, "input": inputs,
        "head": [n for n in linear if any(n == h or n.startswith(h + ".") for h in _HEADS)],
    }[targets]  # fmt: skip
    if not names:
        why = " (it has no readout: readout = auto leaves it out on the link anchor)" if targets == "readout" else ""
        raise ArgumentError(f"targets: {targets!r} selects no layer of this model{why}; use 'all'")
    return names


def check_rank(model: nn.Module, targets: str | Sequence[str], rank: int, *, name: str = "rank") -> None:
    """Refuses a ``rank`` above the largest ``min(in, out)`` of the ``targets`` layers' low-rank
    updates (the ``nn.Linear`` layers and readout): a higher rank is no more expressive in any of
    them, only larger. ``name``: the argument the error names."""
    names = adapter_layers(model, targets) if isinstance(targets, str) else list(targets)
    modules = dict(model.named_modules())
    sizes = [(min(_sizes(modules[n])), _sizes(modules[n]), n) for n in names
             if isinstance(modules.get(n), (nn.Linear, LinearReadout))]  # fmt: skip
    if sizes and rank > max(sizes)[0]:
        limit, (features_in, features_out), layer = max(sizes)
        raise ArgumentError(
            f"{name}: expected at most {limit}, the largest min(in, out) of the adapted layers ({layer}: "
            f"{features_in} -> {features_out}; a higher rank adds nothing), got {rank}"
        )


def freeze_base(model: nn.Module) -> None:
    """Stops gradients to every base weight and keeps the model in eval mode (batch-norm
    statistics and dropout as trained), so fitting adapters leaves the base model bitwise unchanged."""
    for p in model.parameters():
        p.requires_grad_(False)
    model.eval()


def attach_adapters(
    model: nn.Module, *, rank: int = ADAPTER_RANK, alpha: float | None = None, targets: str | Sequence[str] = "all",
    seed: int = 0,
) -> Adapters:
    """Freezes ``model`` and adds fresh (zero) low-rank updates to its ``targets`` layers.

    Args:
        rank: r >= 1, at most the largest ``min(in, out)`` of the layers (:func:`check_rank`).
        alpha: the update's scale numerator (default: ``rank``, a scale of 1).
        targets: one of :data:`TARGETS`, or a list of ``nn.Linear``, readout or input-norm layer names.
        seed: draws the ``A`` matrices.
    """
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ArgumentError(f"rank: expected an integer >= 1, got {rank!r}")
    alpha = float(rank if alpha is None else alpha)
    if not math.isfinite(alpha) or alpha <= 0:
        raise ArgumentError(f"alpha: expected a finite number > 0, got {alpha!r}")
    names = adapter_layers(model, targets) if isinstance(targets, str) else list(targets)
    modules = dict(model.named_modules())
    wrong = [n for n in names if not isinstance(modules.get(n), (nn.Linear, LinearReadout, InputNorm))]
    if wrong or len(set(names)) != len(names):
        raise ArgumentError(
            f"targets: expected distinct names of the model's nn.Linear layers, readout or input norm, got {wrong or names}"
        )
    check_rank(model, names, rank)
    base = base_sha256(model)
    freeze_base(model)
    return Adapters(model, names, rank=rank, alpha=alpha, base=base, seed=seed)


def fit_adapters(
    model: nn.Module,
    adapters: Adapters,
    csi: np.ndarray,
    keypoints: np.ndarray,
    visibility: np.ndarray | None = None,
    *,
    steps: int | None = None,
    epochs: int = ADAPTER_EPOCHS,
    lr: float = ADAPTER_LR,
    weight_decay: float = 0.0,
    batch_size: int = ADAPTER_BATCH,
    average: float = ADAPTER_AVERAGE,
    loss: str = "smooth_l1",
    seed: int = 0,
    geometry: tuple[np.ndarray, ...] | None = None,
) -> list[float]:
    """Trains only ``adapters`` on labelled windows of the new room.

    Returns ``steps + 1`` losses: each step's, on its batch before its update, then the fitted
    adapters' on all K windows (the last is the loss of the adapters as they are now).

    Args:
        csi: ``float32[K, W, C, S, P]`` model input windows; keypoints: ``float[K, J, >= D]`` metres;
        visibility: ``float[K, J]`` (None: all visible).
        geometry: the windows' room geometry, ``(tx [K, 3], rx [K, R, 3][, floor [K]])``, for a model
            that takes it (geometry FiLM, the link anchor).
        steps: AdamW steps of ``batch_size`` windows (the whole set when it is smaller), each drawn
            afresh by ``seed``; None: those that pass ``epochs`` times over the K windows on average
            (:func:`~csipose.domain.adapter_steps`). Given, it wins over ``epochs``.
        lr: the AdamW learning rate, finite and > 0.
        average: the share of the last steps (from 0 to under 1) whose weights are averaged into the
            fitted adapters: the mean of the weights after each of the last ``steps - int((1 -
            average) * steps)`` steps (at least the last), by :func:`averaged_steps`; 0: the last
            step's weights.
        loss: the keypoint loss kind (:func:`csipose.losses.keypoint_loss`).

    Raises:
        TrainingError: the loss became NaN or infinite (the message names the step).
    """
    from csipose.losses import keypoint_loss

    counts = {"epochs": epochs, "batch_size": batch_size, **({} if steps is None else {"steps": steps})}
    for name, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ArgumentError(f"{name}: expected an integer >= 1, got {count!r}")
    if not (is_real(lr) and math.isfinite(lr) and lr > 0):
        raise ArgumentError(f"lr: expected a finite number > 0, got {lr!r}")
    check_average(average)
    x = np.asarray(csi, dtype=np.float32)
    k = len(x)
    if k == 0 or len(keypoints) != k or (visibility is not None and len(visibility) != k):
        raise ArgumentError(f"csi, keypoints, visibility: expected the same K >= 1 windows, got {k} and {len(keypoints)}")
    steps = adapter_steps(k, epochs, batch_size) if steps is None else steps
    device = next(adapters.parameters()).device
    d = model.dims if isinstance(model, PoseModel) else int(np.asarray(keypoints).shape[-1])
    gt_all = torch.as_tensor(np.asarray(keypoints, dtype=np.float32)[..., :d])
    vis_all = torch.ones(gt_all.shape[:2]) if visibility is None else torch.as_tensor(np.asarray(visibility, np.float32))
    x_all = torch.from_numpy(x)
    room = None if geometry is None else tuple(torch.as_tensor(np.asarray(g, dtype=np.float32)) for g in geometry)
    if room is not None and any(len(g) != k for g in room):
        raise ArgumentError(f"geometry: expected one entry per window ({k}), got {[len(g) for g in room]}")
    freeze_base(model)
    adapters._mark(True)  # fitted to this room: the model places the person here itself
    optimizer = torch.optim.AdamW(adapters.parameters(), lr=lr, weight_decay=weight_decay, foreach=False)
    generator = torch.Generator().manual_seed(seed)

    def predict(rows: Any) -> Tensor:  # [len(rows), J, D]
        extra = {} if room is None else {"geometry": tuple(g[rows].to(device) for g in room)}
        return model(x_all[rows].to(device), **extra)["keypoints"].float()

    weights = list(adapters.parameters())
    first = steps - averaged_steps(steps, average) + 1  # the first step whose weights are averaged
    mean: list[Tensor] = []
    losses: list[float] = []
    for step in range(1, steps + 1):
        rows = torch.randperm(k, generator=generator)[:batch_size]
        value = keypoint_loss(predict(rows), gt_all[rows].to(device), vis_all[rows].to(device), kind=loss)
        current = float(value.detach())
        _check_loss(current, f"step {step}", losses, lr)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        losses.append(current)
        if step >= first:  # the running mean of the weights after steps first..step
            with torch.no_grad():
                if not mean:
                    mean = [w.detach().clone() for w in weights]
                for m, w in zip(mean, weights):
                    m.add_(w.detach() - m, alpha=1.0 / (step - first + 1))
    with torch.no_grad():
        for w, m in zip(weights, mean):
            w.copy_(m)
        out = torch.cat([predict(slice(i, i + batch_size)) for i in range(0, k, batch_size)])
        value = keypoint_loss(out, gt_all.to(device), vis_all.to(device), kind=loss)
    _check_loss(float(value), f"after step {steps}, on all {k} windows", losses, lr)
    return [*losses, float(value)]


def averaged_steps(steps: int, average: float) -> int:
    """How many of a fit's ``steps`` last steps :func:`fit_adapters` averages the weights of for the
    share ``average``: ``steps - int((1 - average) * steps)``, at least 1 (the last)."""
    return max(1, steps - int((1.0 - average) * steps))


def check_average(average: Any, name: str = "average") -> None:
    """Raises ArgumentError (naming ``name``) unless ``average`` is a number from 0 to under 1."""
    if not (is_real(average) and 0 <= average < 1):
        raise ArgumentError(f"{name}: expected a share of the steps from 0 to under 1, got {average!r}")


def fit_ensemble(
    model: nn.Module,
    csi: np.ndarray,
    keypoints: np.ndarray,
    visibility: np.ndarray | None = None,
    *,
    fits: int = 1,
    seed: int = 0,
    rank: int = ADAPTER_RANK,
    alpha: float | None = None,
    targets: str | Sequence[str] = "all",
    **fit: Any,
) -> tuple[Adapters | AdapterEnsemble, list[list[float]]]:
    """Attaches and fits ``fits`` adapters on the same windows, from seeds ``seed``, ``seed + 1``,
    ... (mod 2**32), each alone active while it trains (:func:`attach_adapters`,
    :func:`fit_adapters` with the ``fit`` options); returns the one fit, or their
    :class:`AdapterEnsemble`, and each fit's losses.

    Raises:
        TrainingError: a fit's loss became NaN or infinite (the message names the fit of several).
    """
    members: list[Adapters] = []
    losses: list[list[float]] = []
    for each in ((seed + i) % 2**32 for i in range(fits)):
        for member in members:
            member.active = False
        members.append(attach_adapters(model, rank=rank, alpha=alpha, targets=targets, seed=each))
        try:
            losses.append(fit_adapters(model, members[-1], csi, keypoints, visibility, seed=each, **fit))
        except TrainingError as err:
            raise TrainingError(f"{err}{f' (fit {len(members)} of {fits})' if fits > 1 else ''}") from None
    return (members[0] if fits == 1 else AdapterEnsemble(members)), losses


def _check_loss(value: float, when: str, losses: list[float], lr: float) -> None:
    """Raises TrainingError when the adapter loss ``value`` (at ``when``) is NaN or infinite;
    ``losses``: the finite ones before it."""
    if math.isfinite(value):
        return
    before = f"the last finite loss was {losses[-1]:.6g} at step {len(losses)}" if losses else "no finite loss before it"
    raise TrainingError(
        f"{when}: the adapter loss became {value}; {before}. Lower lr (now {lr:g}) or check the frames for NaN/inf"
    )


def save_adapters(path: str | os.PathLike[str], adapters: Adapters | AdapterEnsemble) -> int:
    """Writes the adapter (weights, rank, alpha, layer names, base SHA-256, ``adapters.info``)
    atomically with a checksum; returns the file's size in bytes. An :class:`AdapterEnsemble`'s
    file (:data:`ENSEMBLE_FORMAT`) holds each member's weights, in order."""
    weights: dict[str, Any] = (
        {"format": ENSEMBLE_FORMAT, "members": [m.weights() for m in adapters.members]}
        if isinstance(adapters, AdapterEnsemble) else {"format": ADAPTER_FORMAT, "weights": adapters.weights()}
    )  # fmt: skip
    state = {
        "kind": _KIND, **weights, "base_sha256": adapters.base, "rank": adapters.rank, "alpha": adapters.alpha,
        "targets": list(adapters.targets), "info": dict(adapters.info), "versions": ckpt.versions(),
    }  # fmt: skip
    ckpt.save_checkpoint(Path(path), state)
    return Path(path).stat().st_size


def read_adapter_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checked contents of an adapter file (see :func:`save_adapters`).

    Raises:
        CheckpointError: missing, unreadable, corrupt (checksum), or not an adapter file.
    """
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"{file}: adapter file not found")
    state = ckpt.read_torch_file(file, "adapter file")
    if not isinstance(state, dict) or state.get("kind") != _KIND:
        raise CheckpointError(f"{file}: not a csipose adapter file (csipose adapt writes them)")
    if state.get("format") not in (ADAPTER_FORMAT, ENSEMBLE_FORMAT):
        raise CheckpointError(f"{file}: adapter format {state.get('format')!r}; this csipose reads "
                              f"{ADAPTER_FORMAT} and {ENSEMBLE_FORMAT}")
    stored = state.pop("checksum", None)
    if not isinstance(stored, str) or ckpt.tensors_sha256(state) != stored:
        raise CheckpointError(f"{file}: corrupt adapter file: its tensors do not match the sha256 checksum written with them")
    return state


def load_adapters(path: str | os.PathLike[str], model: nn.Module) -> Adapters | AdapterEnsemble:
    """Attaches the adapter saved at ``path`` to ``model``, its base model: an :class:`Adapters`,
    or an :class:`AdapterEnsemble` for a file of several fits.

    Raises:
        CheckpointError: a bad file (:func:`read_adapter_file`), or a model other than the base
            the adapter was fitted on (its weights' SHA-256 differs).
    """
    state = read_adapter_file(path)
    file = Path(path)
    found = base_sha256(model)
    if found != state["base_sha256"]:
        raise CheckpointError(
            f"{file}: adapter for another base model (its weights' sha256 {state['base_sha256'][:12]}..., "
            f"this checkpoint's {found[:12]}...); adapt this checkpoint with csipose adapt"
        )
    ensemble = state["format"] == ENSEMBLE_FORMAT
    members = state.get("members") if ensemble else [state.get("weights")]
    if (not isinstance(members, list) or len(members) < (2 if ensemble else 1)
            or not all(isinstance(m, dict) for m in members)):
        raise CheckpointError(f"{file}: adapter format {state['format']} without its weights "
                              f"({'members: a list of two or more' if ensemble else 'weights'} by layer and part)")
    loaded: list[Adapters] = []
    try:
        for weights in members:
            try:
                adapters = Adapters(model, state["targets"], rank=int(state["rank"]), alpha=float(state["alpha"]),
                                    base=found)  # fmt: skip
            except (KeyError, AttributeError, TypeError) as err:
                raise CheckpointError(f"{file}: adapter layers do not fit the model ({ckpt.error_reason(err)})") from None
            loaded.append(adapters)
            try:
                with torch.no_grad():
                    for name in adapters.targets:
                        for part, value in adapters.updates[_key(name)].state_dict(keep_vars=True).items():
                            value.copy_(weights[f"{name}/{part}"])
            except (KeyError, RuntimeError, TypeError) as err:
                raise CheckpointError(f"{file}: adapter weights do not fit the model ({ckpt.error_reason(err)})") from None
    except Exception:
        for adapters in loaded:
            adapters.remove()
        raise
    result: Adapters | AdapterEnsemble = loaded[0] if len(loaded) == 1 else AdapterEnsemble(loaded)
    result.info = dict(state.get("info", {}))
    freeze_base(model)
    loaded[0]._mark(True)
    return result
