"""Training configuration: one dataclass, validated, stored as TOML or JSON.

:class:`TrainingConfig` is plain data (no torch): it is loaded from a file,
overridden from the command line with ``key=value`` strings, saved into every
run directory and every checkpoint as a dict, and validated by
:meth:`TrainingConfig.validate`, which raises :class:`~csipose.errors.ConfigError`
naming the field and the rule it breaks.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import inspect
import json
import math
import re
import sys
import textwrap
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csipose._checks import check_share
from csipose.errors import ConfigError
from csipose.subcarrier import RESAMPLE_MODES

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, published as tomli
    import tomli as tomllib

__all__ = ["TrainingConfig", "DEFAULT_LOSS_WEIGHTS", "DEFAULT_SYNTHETIC", "LOSS_TERMS", "describe_settings"]

#: The loss terms the trainer knows, in the order they are reported.
LOSS_TERMS = ("keypoints", "bone", "oks", "heatmap", "densepose_parts", "densepose_uv", "transfer", "presence",
              "domain")

#: Keypoint regression plus a little bone-length consistency.
DEFAULT_LOSS_WEIGHTS: dict[str, float] = {"keypoints": 1.0, "bone": 0.1}

#: The generator settings of the default run (overrides of ``SyntheticConfig``): 40 subjects sharing
#: one room, every fifth held out for validation (8 people the model never sees), 20 frames of each
#: of the 8 actions per subject, and a slow sway of up to 5 cm about each standing point.
DEFAULT_SYNTHETIC: dict[str, Any] = {
    "subjects": 40,
    "subjects_per_environment": 40,
    "val_subjects": list(range(5, 41, 5)),
    "frames": 20,
    "sway": 0.05,
}

_UNSET = object()

#: Generator settings that the trainer takes from the run's settings of the same name
#: (``features``, ``window``, ``subcarriers``, ``subcarrier_mode``) unless ``synthetic`` sets them.
SYNTHETIC_FROM_RUN = ("features", "window", "subcarriers", "subcarrier_mode")

#: Feature groups fed to the model, by ``features``.
FEATURES = {"amplitude": ("amplitude",), "phase": ("phase",), "both": ("amplitude", "phase"),
            "conjugate": ("conjugate",)}

_ENUMS: dict[str, tuple[str, ...]] = {
    "data": ("synthetic", "mmfi", "recording"),
    "model": ("tcn", "csinet", "mlp", "cnn"),
    "mmfi_protocol": ("P1", "P2", "P3"),
    "mmfi_scheme": ("S1", "S2", "S3"),
    "features": ("amplitude", "phase", "both", "conjugate"),
    "anchor": ("auto", "link", "none"),
    "new_room_floor": ("auto", "anchor", "model"),
    "cleaning": ("auto", "official", "raw", "log"),
    "slot_backbones": ("shared", "separate"),
    "subcarrier_mode": RESAMPLE_MODES,
    "schedule": ("cosine", "multistep"),
    "keypoint_loss": ("mse", "smooth_l1"),
    "amp": ("off", "bf16", "fp16"),
    "skeleton": ("h36m17", "coco17"),
}


@dataclass(kw_only=True)
class TrainingConfig:
    """Everything that defines a training run; the defaults train the synthetic demo."""

    # --- data -----------------------------------------------------------------
    data: str = "synthetic"
    """Data source: ``"synthetic"`` (the built-in physics generator), ``"mmfi"`` or ``"recording"``
    (your own captures with camera keypoints, :mod:`csipose.io.recording`)."""
    mmfi_root: str = ""
    """MM-Fi root folder holding ``E01..E04``; with ``data = "mmfi"`` it or ``mmfi_cache`` is required."""
    mmfi_cache: str = ""
    """Packed memory-mapped MM-Fi cache (``csipose data prepare``); empty = read the .mat files
    directly. Without ``mmfi_root`` the cache is read alone (no tree walk, no freshness check)."""
    mmfi_protocol: str = "P1"
    """MM-Fi action protocol: P1, P2 or P3 (all 27 actions)."""
    mmfi_scheme: str = "S1"
    """MM-Fi split: S1 random per action, S2 cross-subject, S3 cross-environment."""
    mmfi_ratio: float = 0.8
    """Train fraction of the subjects for the S1 random split, in (0, 1)."""
    mmfi_seed: int = 0
    """Seed of the S1 random split (the official split uses 0)."""
    recording_root: str = ""
    """A recording folder (captures + keypoints.npz), or a folder of them; required when
    ``data = "recording"``."""
    recording_val: list[str] = field(default_factory=list)
    """Recordings (folder names) held out for validation; empty holds out the last fifth of every
    recording's labelled windows instead."""
    recording_tolerance: float = 0.05
    """Seconds between a CSI frame and the keypoints that may label it."""
    synthetic: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULT_SYNTHETIC))
    """Overrides of :class:`csipose.data.synthetic.SyntheticConfig` fields; the default is
    :data:`DEFAULT_SYNTHETIC`. ``--set synthetic.KEY=VALUE`` changes one key; a ``synthetic`` table in
    a config file replaces the whole dict. With ``data`` other than ``"synthetic"`` a key that differs
    from the default is an error, not ignored."""
    features: str = "both"
    """CSI features fed to the model: amplitude (C = 3), phase (C = 3), both (C = 6), or conjugate:
    amplitude and phase of the conjugate products ``H_a conj(H_b)`` of the 3 antenna pairs (C = 6),
    free of every per-packet common phase offset and timing slope (synthetic data)."""
    cleaning: str = "auto"
    """Amplitude cleaning (:class:`~csipose.data.Preprocess`): ``"official"``, MM-Fi's per-frame
    min-max to [0, 1]; ``"log"``, the log amplitude; ``"raw"``, as received. ``"auto"``:
    ``"log"`` where the windows are standardised by room (``test_time_norm``), which then removes
    each room's receiver gain as an offset, else ``"official"``."""
    subcarriers: int = 114
    """Subcarriers the model sees; the data is resampled to this count when it differs."""
    subcarrier_mode: str = "linear"
    """Resampling mode when ``subcarriers`` differs from the native count: linear, area or subband."""
    window: int = 1
    """CSI frames per sample; the label is the pose of the window's last frame."""

    # --- model ----------------------------------------------------------------
    model: str = "tcn"
    """Backbone (:mod:`csipose.models`): tcn (WiFlow-style temporal convolutions with axial
    attention), csinet (attention over subcarrier tokens), mlp (flattened frame) or cnn
    (MetaFi-style). The default was chosen by ``python benches/bench_models.py``."""
    readout: bool | str = "auto"
    """Add the closed-form ridge readout: a linear map from the normalised window to the joints,
    fitted on the training set before training and kept fixed; the backbone learns the rest.
    ``"auto"``: on, except for a model on the link anchor (``anchor``), whose rooms differ: a
    linear map of one room's raw CSI places people wrongly in another (``benches/bench_domains.py``),
    and with ``static_rotation`` (fitted on the windows as they are, it would read rotated ones);
    ``true`` or ``false`` decides."""
    width: int = 64
    """Feature width of the model (tokens for csinet and tcn; half the hidden units of mlp,
    a quarter of cnn's)."""
    depth: int = 2
    """Self-attention blocks over the antenna/subcarrier tokens (csinet)."""
    heads: int = 4
    """Attention heads (csinet, tcn); must divide ``width``."""
    tokens: int = 8
    """Subcarrier tokens per antenna channel after the subcarrier convolutions (csinet)."""
    dropout: float = 0.0
    """Dropout probability inside the model (attention blocks, hidden layers), in [0, 1)."""
    keypoint_dims: int = 3
    """Coordinates per joint the head regresses: 3 (metres) or 2 (the first two axes)."""
    persons: int = 0
    """Person slots: the model predicts a set of up to this many people per window, each with a
    presence score, trained through the optimal assignment of slots to people (set prediction);
    0 predicts one person. On synthetic data it labels every person of scenes of 1 to ``persons``
    people unless ``synthetic.people`` says otherwise."""
    slot_backbones: str = "shared"
    """With person slots: ``"shared"``, one backbone whose pooled features feed every slot's
    head; ``"separate"``, a backbone of its own per slot (``persons`` times the backbone's
    parameters and compute), whose offsets are that slot's joints and whose features its
    presence: no slot's person competes with another's for the features."""
    skeleton: str = "h36m17"
    """The joints' skeleton: h36m17 (Human3.6M-17 3-D, MM-Fi and the synthetic data) or coco17
    (COCO-17 2-D from a camera, for recordings labelled so; needs keypoint_dims = 2). It sets the
    bones of the bone loss and the torso of the scores."""
    heatmap: bool = False
    """Add a 2D heatmap head (trained with the ``heatmap`` loss term)."""
    heatmap_size: int = 32
    """Side of the square heatmap grid, in cells."""
    heatmap_extent: float = 1.5
    """Half-width of the heatmap's x/y window in metres, centred on the origin."""
    heatmap_sigma: float = 1.5
    """Standard deviation of the target Gaussians, in heatmap cells."""
    densepose: bool = False
    """Add a DensePose head (body-part logits + UV) and train it on the synthetic data's rendered
    body-surface labels (MM-Fi has none); the keypoints are still trained."""
    densepose_parts: int = 24
    """DensePose body parts (the logits have one more channel, for background)."""
    densepose_size: int = 56
    """Side of the DensePose label and prediction maps in pixels (a multiple of 8)."""

    # --- rooms it was not trained in (csipose.domain) --------------------------
    domain_adversarial: float = 0.0
    """Weight of domain-adversarial training (DANN): a classifier of the training rooms on the
    pooled features behind a gradient reversal layer; its cross-entropy is the ``domain`` loss
    term with this weight, and the reversal's strength follows 2 / (1 + exp(-10 p)) - 1 over
    training progress p. Needs two or more training rooms with environment ids; 0 = off."""
    geometry_film: bool = False
    """Condition the model on the room's geometry (the samples' ``tx`` and ``rx`` antenna positions
    in the camera frame): Fourier features, a set encoder over the receive antennas, FiLM of the
    pooled features; the model then needs the geometry to predict. Needs room_variation data."""
    static_rotation: float = 0.0
    """Share of the training windows whose room-standardised (log amplitude, phase) deviation
    pairs are rotated by an angle drawn per antenna and subcarrier (:mod:`csipose.domain.rotation`):
    the phase that a room's static paths give the body's echo, randomised, so the model cannot learn
    its training rooms' angles. Needs features = both (or conjugate) and test-time normalisation; 0 = off."""
    anchor: str = "auto"
    """Where the joints are regressed from (:mod:`csipose.domain.anchor`): ``"link"`` places them
    relative to the point of the transmitter-receiver link in front of the camera, on the floor,
    read from the samples' ``tx``, ``rx`` and ``floor`` (camera frame), so a new room's geometry
    places the person; the model then needs the geometry to predict. ``"none"``: the camera frame's
    origin. ``"auto"``: ``"link"`` when the training samples carry that geometry (synthetic
    room_variation) and the model has no person slots, else ``"none"``."""
    new_room_floor: str = "auto"
    """Where a model on the link anchor stands the person in a room it was not trained in while no
    fitted adapter is on it: ``"anchor"`` on the anchored mean pose's floor position (camera x and
    z), keeping the height and shape the model predicts (the DensePose maps follow the moved joints;
    the auxiliary heatmap head does not), since the CSI's floor cues change from room to room;
    ``"model"`` where the model says. A room is one it was trained in when every coordinate of its
    geometry (``tx``, ``rx`` in the order given, ``floor``) is within 5 cm of a training room's.
    ``"auto"``: ``"anchor"`` for a model on the link anchor with 3-D joints."""
    test_time_norm: bool | str = "auto"
    """Standardise every window by its own room's per-feature mean and std, re-estimated on that
    room's frames of the split (training rooms in training, each evaluated room's unlabelled
    frames at evaluation); the samples need environment ids. The model then needs a room's
    frames together to predict there (:meth:`csipose.infer.Predictor.predict` on them, or a
    stream calibrated on them). ``"auto"``: on for a model on the link anchor (``anchor``) whose
    samples carry environment ids, else off; ``true`` or ``false`` decides."""

    # --- optimisation ---------------------------------------------------------
    batch_size: int = 32
    """Samples per optimizer step (per process under DDP)."""
    lr: float = 2e-3
    """Peak AdamW learning rate."""
    betas: tuple[float, float] = (0.9, 0.999)
    """AdamW betas, each in [0, 1)."""
    weight_decay: float = 0.01
    """AdamW decoupled weight decay, >= 0."""
    epochs: int = 24
    """Training epochs."""
    warmup_epochs: int | None = None
    """Epochs of linear learning-rate warm-up (per step); must be < epochs. Unset: one epoch, or
    none when training for a single epoch."""
    schedule: str = "cosine"
    """Learning-rate schedule after warm-up: cosine (to zero) or multistep."""
    milestones: list[int] = field(default_factory=list)
    """Epochs at which multistep multiplies the rate by ``gamma``; strictly increasing in [1, epochs)."""
    gamma: float = 0.1
    """Multistep decay factor, in (0, 1)."""
    grad_clip: float = 1.0
    """Clip the global gradient norm to this value; 0 disables clipping."""
    keypoint_loss: str = "smooth_l1"
    """Joint regression loss: mse or smooth_l1."""
    loss_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_LOSS_WEIGHTS))
    """Weights of the loss terms (keypoints, bone, oks, heatmap, densepose_parts, densepose_uv, transfer)."""
    amp: str = "off"
    """Mixed precision on CUDA: off, bf16 or fp16 (fp16 uses a GradScaler); ignored on CPU."""

    # --- validation, stopping, checkpoints -----------------------------------
    linear_baseline: bool = True
    """Fit and score the linear baseline (closed-form ridge on the flattened normalised input,
    regularisation chosen on held-out training subjects) beside the mean pose; in summary.json."""
    baseline_samples: int = 20000
    """At most this many evenly spaced training samples fit the input normalisation and the ridge."""
    val_every: int = 1
    """Validate every N epochs (and always after the last)."""
    patience: int = 10
    """Early stopping: validations without improvement of val PCK@20 before stopping (the in-domain
    part's when the val split also holds rooms never trained on; it picks ``best.pt`` too)."""
    min_delta: float = 0.0
    """Early stopping: the least PCK@20 gain (fraction) that counts as an improvement, >= 0."""
    top_k: int = 2
    """Best checkpoints kept besides ``best.pt`` and ``last.pt``; 0 keeps none."""
    checkpoint_every_steps: int = 0
    """Also write ``last.pt`` every N optimizer steps inside an epoch; 0 = only at epoch ends."""
    plots: bool = True
    """Write PNG plots (loss, PCK curves, skeleton overlays) into the run folder."""
    overlays: int = 4
    """Validation samples drawn as pred-vs-GT skeleton overlays."""

    # --- run ------------------------------------------------------------------
    seed: int = 0
    """Seed of every random number generator (data order, initialisation, workers)."""
    run_dir: str = "runs/default"
    """Folder receiving config, logs, checkpoints, plots and summary.json."""
    workers: int = 0
    """DataLoader worker processes; 0 loads in the training process."""
    deterministic: bool = False
    """Use deterministic algorithms only (required for bit-exact resume on GPU)."""
    threads: int = 0
    """Torch intra-op threads; 0 keeps torch's default."""
    progress: bool = True
    """Show a progress bar (rank 0 only)."""

    # ------------------------------------------------------------------------
    def validate(self) -> TrainingConfig:
        """Checks every rule; returns ``self`` or raises ConfigError naming field and rule."""
        for name, allowed in _ENUMS.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(f"{name}: must be one of {', '.join(allowed)}, got {value!r}")
        positive = (
            "subcarriers", "window", "width", "depth", "heads", "tokens", "heatmap_size",
            "densepose_parts", "densepose_size", "batch_size", "epochs", "val_every", "patience", "baseline_samples",
        )  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name}: must be a positive integer, got {value!r}")
        for name in ("top_k", "checkpoint_every_steps", "workers", "threads", "overlays"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}: must be >= 0, got {getattr(self, name)!r}")
        for name in ("seed", "mmfi_seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**32:
                raise ConfigError(f"{name}: must be an integer in 0..{2**32 - 1}, got {value!r}")
        if self.width % self.heads:
            raise ConfigError(f"heads: must divide width = {self.width}, got {self.heads}")
        if self.densepose_size % 8:
            raise ConfigError(f"densepose_size: must be a positive multiple of 8, got {self.densepose_size}")
        if self.densepose and self.densepose_parts != 24:
            raise ConfigError(f"densepose_parts: the body surface has DensePose's 24 parts, got {self.densepose_parts}")
        if self.keypoint_dims not in (2, 3):
            raise ConfigError(f"keypoint_dims: must be 2 or 3, got {self.keypoint_dims}")
        if not isinstance(self.persons, int) or isinstance(self.persons, bool) or not 0 <= self.persons <= 8:
            raise ConfigError(f"persons: must be an integer in 0..8, got {self.persons!r}")
        if self.persons:
            shared = [t for t in ("oks", "heatmap", "densepose_parts", "densepose_uv", "transfer") if self.loss_weights.get(t, 0.0) > 0]
            if shared or self.heatmap or self.densepose:
                raise ConfigError(
                    f"persons: set prediction trains keypoints, bone and presence; drop {', '.join(shared) or 'the heads'}"
                )
        elif self.loss_weights.get("presence", 0.0) > 0:
            raise ConfigError("loss_weights.presence: > 0 needs persons >= 1")
        for name in ("readout", "test_time_norm"):
            value = getattr(self, name)
            if not (isinstance(value, bool) or value == "auto"):
                raise ConfigError(f"{name}: must be true, false or auto, got {value!r}")
        if self.slot_backbones == "separate" and not self.persons:
            raise ConfigError("slot_backbones: separate gives each person slot a backbone; set persons >= 1")
        for name, kind in _field_types().items():  # what TOML writes and reads back: no bool or numpy scalar for a number
            _coerce(name, getattr(self, name), kind, strict=True)
        if not (math.isfinite(self.domain_adversarial) and self.domain_adversarial >= 0):
            raise ConfigError(f"domain_adversarial: must be a finite number >= 0, got {self.domain_adversarial!r}")
        check_share(self.static_rotation, "static_rotation", ConfigError)
        if self.static_rotation:
            self._check_rotation()
        if "domain" in self.loss_weights:
            raise ConfigError("loss_weights.domain: the domain term's weight is domain_adversarial; set that instead")
        if self.persons and (self.domain_adversarial or self.geometry_film or self.anchor == "link"):
            raise ConfigError("persons: person slots do not take domain_adversarial, geometry_film or anchor = link yet; "
                              "drop them")
        if self.skeleton == "coco17" and self.keypoint_dims != 2:
            raise ConfigError("skeleton: coco17 keypoints are 2-D image coordinates; set keypoint_dims = 2")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout: must be in [0, 1), got {self.dropout}")
        for name in ("lr", "heatmap_extent", "heatmap_sigma"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name}: must be a finite number > 0, got {value!r}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ConfigError(f"betas: must be two numbers in [0, 1), got {list(self.betas)}")
        for name in ("weight_decay", "grad_clip", "min_delta"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"{name}: must be a finite number >= 0, got {value!r}")
        if self.warmup_epochs is not None and not (
            isinstance(self.warmup_epochs, int) and 0 <= self.warmup_epochs < self.epochs
        ):
            raise ConfigError(
                f"warmup_epochs: must be an integer in [0, epochs = {self.epochs}) or unset "
                f"(one epoch, none when epochs = 1), got {self.warmup_epochs!r}"
            )
        if self.schedule == "multistep":
            m = list(self.milestones)
            if not m:
                raise ConfigError("milestones: multistep needs at least one milestone")
            if any(b <= a for a, b in zip(m, m[1:])):
                raise ConfigError(f"milestones: must be strictly increasing, got {m}")
            if m[0] < 1 or m[-1] >= self.epochs:
                raise ConfigError(f"milestones: must lie in [1, epochs = {self.epochs}), got {m}")
        if not 0.0 < self.gamma < 1.0:
            raise ConfigError(f"gamma: must be in (0, 1), got {self.gamma}")
        if not 0.0 < self.mmfi_ratio < 1.0:
            raise ConfigError(f"mmfi_ratio: must be in (0, 1), got {self.mmfi_ratio}")
        unknown = sorted(set(self.loss_weights) - set(LOSS_TERMS))
        if unknown:
            raise ConfigError(
                f"loss_weights: unknown term {unknown[0]!r}; known: {', '.join(LOSS_TERMS)}"
            )
        for term, w in self.loss_weights.items():
            if not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0):
                raise ConfigError(f"loss_weights.{term}: must be a finite number >= 0, got {w!r}")
        if sum(self.loss_weights.values()) <= 0:
            raise ConfigError("loss_weights: the weights must have a positive sum")
        if self.loss_weights.get("keypoints", 0.0) <= 0 and self.loss_weights.get("oks", 0.0) <= 0:
            raise ConfigError("loss_weights: keypoints or oks must be > 0 (the joints must be trained)")
        if self.loss_weights.get("heatmap", 0.0) > 0 and not self.heatmap:
            raise ConfigError("loss_weights.heatmap: > 0 needs heatmap = true")
        for term in ("densepose_parts", "densepose_uv"):
            if self.loss_weights.get(term, 0.0) > 0 and not self.densepose:
                raise ConfigError(f"loss_weights.{term}: > 0 needs densepose = true")
        if self.data == "recording" and not self.recording_root:
            raise ConfigError('recording_root: required when data = "recording"')
        if not (math.isfinite(self.recording_tolerance) and self.recording_tolerance > 0):
            raise ConfigError(f"recording_tolerance: must be a finite number > 0, got {self.recording_tolerance!r}")
        if self.data == "mmfi" and not (self.mmfi_root or self.mmfi_cache):
            raise ConfigError('mmfi_root: required when data = "mmfi" (or mmfi_cache, to read a cache alone)')
        unknown = sorted(set(self.synthetic) - set(_synthetic_fields()))
        if unknown:
            raise ConfigError(
                f"synthetic.{unknown[0]}: unknown setting; valid synthetic.* keys: {', '.join(_synthetic_fields())}"
            )
        changed = [k for k in self.synthetic if self.synthetic[k] != DEFAULT_SYNTHETIC.get(k, _UNSET)]
        if self.data != "synthetic" and changed:
            raise ConfigError(f"synthetic.{changed[0]}: a generator setting, but data = {self.data!r} reads no synthetic "
                              f"data; drop it or set data = \"synthetic\"")
        if self.data == "synthetic":
            people = self.synthetic_config().people
            if people and max(people) == 0:
                raise ConfigError("synthetic.people: every scene would be empty; at least one count must be >= 1")
            if self.persons and max(people, default=0) > self.persons:
                raise ConfigError(f"persons: {self.persons} slots cannot hold scenes of {max(people)} people (synthetic.people)")
        return self

    def synthetic_config(self) -> Any:
        """The :class:`~csipose.data.synthetic.SyntheticConfig` a synthetic run generates: this
        run's input settings (:data:`SYNTHETIC_FROM_RUN`), with person slots scenes of 1 to
        ``persons`` labelled people, with the DensePose head its labels at the head's size, then
        the ``synthetic`` table.

        Raises:
            ConfigError: naming the ``synthetic.`` setting at fault.
        """
        from csipose.data.synthetic.config import SyntheticConfig

        values: dict[str, Any] = {name: getattr(self, name) for name in SYNTHETIC_FROM_RUN}
        values["features"] = FEATURES[self.features]
        if self.persons:  # scenes of 1 to `persons` people, every one labelled
            slots = f"person slots (persons = {self.persons})"
            if self.synthetic.get("family", "physics") != "physics":
                raise ConfigError(f"synthetic.family: {slots} learn scenes of several people, which family 'physics' "
                                  f"alone renders; got {self.synthetic['family']!r}")
            for key, plain in (("persons", 1), ("labelled_person", 0)):
                if self.synthetic.get(key, plain) != plain:
                    raise ConfigError(f"synthetic.{key}: {slots} learn scenes where every person is labelled "
                                      f"(synthetic.people); {key} is for single-person models")
            values["people"] = tuple(range(1, self.persons + 1))
        if self.densepose:  # render the body-surface labels at the head's size
            values.update(densepose=True, densepose_size=self.densepose_size)
        values.update(self.synthetic)
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        try:
            return SyntheticConfig(**values)
        except TypeError as err:
            raise ConfigError(f"synthetic: {err}") from None
        except ConfigError as err:
            raise ConfigError(f"synthetic.{err}") from None

    def _check_rotation(self) -> None:
        """What ``static_rotation`` > 0 needs of the other fields (see :mod:`csipose.domain.rotation`)."""
        needs = (
            (self.features in ("both", "conjugate"),
             f"rotates (amplitude, phase) pairs; needs features = both or conjugate, got {self.features!r}"),
            (self.test_time_norm is not False,
             "rotates each window's deviation from its room's mean; needs test_time_norm = true or auto"),
            (self.cleaning in ("auto", "log"),
             f"reads the amplitude as log|H|; needs cleaning = log or auto, got {self.cleaning!r}"),
            (self.readout is not True,
             "the fixed readout is fitted on the windows as they are and would read rotated ones in training; "
             "set readout = false or auto"),
        )  # fmt: skip
        for met, why in needs:
            if not met:
                raise ConfigError(f"static_rotation: {why}")

    def effective_loss_weights(self) -> dict[str, float]:
        """The weights the run uses: ``loss_weights``, with ``presence`` at 1.0 unless set when
        the model has person slots, ``densepose_parts`` / ``densepose_uv`` at 1.0 unless set with
        the DensePose head, and ``domain`` at ``domain_adversarial`` when that is > 0."""
        weights = dict(self.loss_weights)
        if self.persons:
            weights.setdefault("presence", 1.0)
        if self.densepose:
            weights.setdefault("densepose_parts", 1.0)
            weights.setdefault("densepose_uv", 1.0)
        if self.domain_adversarial > 0:
            weights["domain"] = float(self.domain_adversarial)
        return weights

    def resolved_warmup_epochs(self) -> int:
        """The warm-up epochs the run uses: ``warmup_epochs``, or if unset one epoch (none when ``epochs`` is 1)."""
        if self.warmup_epochs is not None:
            return self.warmup_epochs
        return min(1, self.epochs - 1)

    # --- conversions ----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A plain dict of builtins (lists, dicts, numbers, strings), safe for JSON/TOML/checkpoints."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, dict):
                value = dict(value)
            elif isinstance(value, list):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, source: str = "config", recorded: bool = False) -> TrainingConfig:
        """Builds a validated config from a dict; unknown keys or wrong types raise ConfigError.

        ``recorded``: the dict is a config a run wrote (its checkpoint); generator settings beside
        data other than synthetic, which runs of older csipose recorded without using them, are then
        dropped instead of refused, a config without ``cleaning`` (older runs) cleaned as MM-Fi does,
        and one without ``new_room_floor`` placed the person itself in every room.
        """
        types = _field_types()
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key not in types:
                raise ConfigError(f"{source}: unknown key {key!r}")
            kwargs[key] = _coerce(key, value, types[key])
        if recorded and kwargs.get("data", "synthetic") != "synthetic":
            kwargs["synthetic"] = copy.deepcopy(DEFAULT_SYNTHETIC)
        if recorded and "cleaning" not in kwargs:  # runs before the key cleaned as MM-Fi does
            kwargs["cleaning"] = "official"
        if recorded and "new_room_floor" not in kwargs:  # runs before the key placed the person themselves
            kwargs["new_room_floor"] = "model"
        return cls(**kwargs).validate()

    @classmethod
    def load(cls, path: str | Path) -> TrainingConfig:
        """Reads a ``.toml`` or ``.json`` file."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as err:
            raise ConfigError(f"{path}: cannot read config file ({err.strerror})") from None
        suffix = path.suffix.lower()
        if suffix in (".yaml", ".yml"):
            raise ConfigError(f"{path}: YAML is not read; expected a TOML (.toml) or JSON (.json) config file")
        fmt = "JSON" if suffix == ".json" else "TOML"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            line = raw[: err.start].count(b"\n") + 1
            raise ConfigError(f"{path}, line {line}: not UTF-8 text, so not a {fmt} config file") from None
        try:
            values = json.loads(text) if fmt == "JSON" else tomllib.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}, line {err.lineno}: not valid JSON: {err.msg} (column {err.colno})") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}{_toml_error_line(err)}: not valid TOML: {_toml_error_message(err)}") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: the top level must be a table of settings")
        return cls.from_dict(values, source=str(path))

    def save(self, path: str | Path) -> None:
        """Writes ``.json`` or (any other suffix) TOML."""
        path = Path(path)
        text = (
            json.dumps(self.to_dict(), indent=2) + "\n"
            if path.suffix.lower() == ".json"
            else to_toml(self.to_dict())
        )
        path.write_text(text, encoding="utf-8")

    def with_overrides(self, assignments: Iterable[str]) -> TrainingConfig:
        """A validated copy with ``key=value`` assignments applied.

        Values are parsed by the field's type (``epochs=3``, ``amp=bf16``,
        ``milestones=[4,8]``, ``betas=0.9,0.99``, ``heatmap=true``); dict fields
        take dotted keys (``loss_weights.bone=0.2``, ``synthetic.subjects=6``).
        """
        values = self.to_dict()
        types = _field_types()
        for assignment in assignments:
            key, sep, text = assignment.partition("=")
            key = key.strip()
            if not sep or not key:
                raise ConfigError(f"override {assignment!r}: expected key=value")
            head, dot, sub = key.partition(".")
            if head not in types:
                raise ConfigError(f"override {assignment!r}: unknown key {head!r}")
            if dot:
                if typing.get_origin(types[head]) is not dict:
                    raise ConfigError(f"override {assignment!r}: {head} has no sub-keys")
                value_type = typing.get_args(types[head])[1]
                values[head] = dict(values[head])
                values[head][sub] = _parse_value(key, text.strip(), value_type)
            else:
                values[key] = _parse_value(key, text.strip(), types[head])
        return type(self).from_dict(values, source="override")


def _toml_error_line(err: Exception) -> str:
    """Where a TOML parse error is, as ``", line N"`` or ``", at the end"`` (tomllib names the
    line in the message before Python 3.14, and says "at end of document" at the end)."""
    lineno = getattr(err, "lineno", None)
    if isinstance(lineno, int):
        return f", line {lineno}"
    found = re.search(r"at line (\d+)", str(err))
    if found:
        return f", line {found.group(1)}"
    return ", at the end" if "end of document" in str(err) else ""


def _toml_error_message(err: Exception) -> str:
    """The parse error without its position (the caller names the line)."""
    message = str(getattr(err, "msg", None) or str(err))
    return re.sub(r" \((at line \d+, column \d+|at end of document)\)$", "", message)


def _synthetic_fields() -> tuple[str, ...]:
    """The keys a ``synthetic`` table may hold: the fields of ``SyntheticConfig``, in declaration order."""
    from csipose.data.synthetic.config import SyntheticConfig  # torch-free; imported late to keep config light

    return tuple(f.name for f in dataclasses.fields(SyntheticConfig))


def _field_types() -> dict[str, Any]:
    hints = typing.get_type_hints(TrainingConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(TrainingConfig)}


def _scalar(key: str, text: str) -> Any:
    """Parses one TOML-like scalar: bool, int, float, quoted or bare string."""
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _optional_of(kind: Any) -> Any:
    """``T`` for ``T | None``, else None."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(kind)) == 2:
            return args[0]
    return None


def _parse_value(key: str, text: str, kind: Any) -> Any:
    """Parses the text of an override by the target field's type."""
    inner = _optional_of(kind)
    if inner is not None:
        return _parse_value(key, text, inner)
    origin = typing.get_origin(kind)
    if origin in (list, tuple):
        body = text.strip()
        if body.startswith("[") and body.endswith("]"):
            body = body[1:-1]
        items = [p.strip() for p in body.split(",") if p.strip()]
        return [_scalar(key, p) for p in items]
    if kind is Any:
        if text.startswith("[") and text.endswith("]"):
            return [_scalar(key, p.strip()) for p in text[1:-1].split(",") if p.strip()]
        return _scalar(key, text)
    if kind is bool or kind == bool | str:  # bool | str: true, false or a word such as "auto"
        lowered = text.lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        if kind is bool:
            raise ConfigError(f"{key}: expected true or false, got {text!r}")
    if kind is str or kind == bool | str:  # a word, unquoted or quoted
        return _scalar(key, text) if text[:1] in "\"'" else text
    return _scalar(key, text)


def _coerce(key: str, value: Any, kind: Any, *, strict: bool = False) -> Any:
    """Checks (and gently converts) a loaded value against the field's type; ``strict`` (a value
    set in code, see :meth:`TrainingConfig.validate`): converts nothing and takes a number only as
    a plain ``int`` or ``float`` (and an integer as an ``int``), which TOML writes and reads back
    (a numpy float subclasses ``float`` but is written as ``np.float64(...)``)."""
    inner = _optional_of(kind)
    if inner is not None:
        return None if value is None else _coerce(key, value, inner, strict=strict)
    origin = typing.get_origin(kind)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table of key = value, got {value!r}")
        value_type = typing.get_args(kind)[1]
        return {str(k): _coerce(f"{key}.{k}", v, value_type, strict=strict) for k, v in value.items()}
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        item_type = typing.get_args(kind)[0]
        items = [_coerce(f"{key}[{i}]", v, item_type, strict=strict) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if kind is Any:
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if kind is int:
        whole = type(value) is int if strict else isinstance(value, int) and not isinstance(value, bool)
        if not whole:
            if not strict and isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if kind is float:
        if strict and type(value) not in (int, float):
            raise ConfigError(f"{key}: must be a number (int or float), got {value!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    return value


# --- the settings, described from the dataclasses' own field docstrings --------------
def describe_settings() -> str:
    """Every :class:`TrainingConfig` setting and every ``synthetic.*`` generator setting, each as a
    ``key = default`` line (TOML) followed by its meaning, taken from the field's docstring."""
    from csipose.data.synthetic.config import SyntheticConfig

    lines = ["Settings of csipose train: --set KEY=VALUE, or KEY = VALUE in a TOML config file (--config).", ""]
    defaults = TrainingConfig()
    docs = _field_docs(TrainingConfig)
    for f in dataclasses.fields(TrainingConfig):
        lines += _describe(f.name, getattr(defaults, f.name), docs[f.name])
    lines += [
        "",
        textwrap.fill(
            "synthetic.KEY: the synthetic generator's settings (--set synthetic.KEY=VALUE; a synthetic table "
            "in a config file replaces the whole set, the defaults below included).",
            width=100,
        ),
        "",
    ]
    docs = _field_docs(SyntheticConfig)
    generator_defaults = SyntheticConfig()
    for f in dataclasses.fields(SyntheticConfig):
        doc = docs[f.name]
        if f.name in defaults.synthetic:
            default = defaults.synthetic[f.name]
        elif f.name in SYNTHETIC_FROM_RUN:
            default, doc = None, f"{doc} Unset: follows the run's {f.name} setting."
        else:
            default = getattr(generator_defaults, f.name)
        lines += _describe(f"synthetic.{f.name}", default, doc)
    return "\n".join(lines) + "\n"


def _describe(name: str, default: Any, doc: str) -> list[str]:
    shown = "(unset)" if default is None else _toml_value(default)
    return [f"{name} = {shown}", textwrap.fill(doc, width=100, initial_indent="    ", subsequent_indent="    ")]


def _field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of the dataclass ``cls``, as one line of plain text."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, after in zip(body, body[1:]):
        if (
            isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):  # fmt: skip
            docs[node.target.id] = _plain(after.value.value)
    return docs


def _plain(doc: str) -> str:
    """Folds whitespace and drops reST markup: ``x`` -> x, :class:`~a.B` -> B, :mod:`a.b` -> a.b."""
    text = " ".join(doc.split())
    text = re.sub(r":[a-z]+:`~(?:[\w.]*\.)?([^`.]+)`", r"\1", text)
    text = re.sub(r":[a-z]+:`([^`]+)`", r"\1", text)
    return text.replace("``", "")


# --- a small TOML writer (tomllib only reads) ----------------------------------
def _toml_key(key: str) -> str:
    if key and all(c.isalnum() or c in "_-" for c in key):
        return key
    return json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic strings
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise ConfigError(f"cannot write {type(value).__name__} value {value!r} as TOML")


def to_toml(values: Mapping[str, Any]) -> str:
    """Serialises a flat mapping (dict values become inline tables) as TOML text; TOML has no null,
    so an unset (None) setting is left out and reads back as its default."""
    return "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in values.items() if v is not None)
