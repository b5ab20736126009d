"""What a run trains on: the configured datasets, the model settings they imply, the loaders.

Building the datasets needs no torch (``csipose eval`` of an ONNX model uses them without it).

The datasets come from the config (the synthetic generator or MM-Fi); every sample follows the
dataset contract (``csi: float32[W, C, S, P]``, ``keypoints: float32[J, 3]``, ``visibility: [J]``
and integer ids), read once here to size the model. Loaders are the public
:func:`csipose.data.collate.make_loader`, keyed by ``(seed, epoch, rank)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from csipose.config import FEATURES, TrainingConfig
from csipose.data.collate import make_loader
from csipose.domain import GEOMETRY
from csipose.errors import ConfigError, DatasetError

if TYPE_CHECKING:
    from csipose.train.distributed import DistContext

__all__ = [
    "Datasets",
    "FEATURES",
    "amplitude_cleaning",
    "check_head_targets",
    "anchored",
    "geometry_of",
    "sample_anchors",
    "sample_geometry",
    "seen_rooms",
    "places_new_rooms",
    "root_joint_ids",
    "eval_loader",
    "load_data",
    "load_split",
    "mean_pose",
    "model_settings",
    "recorded_preprocess",
    "room_normalised",
    "train_loader",
]

Datasets = tuple[Any, Any]

_SCHEMES = {"S1": "random", "S2": "cross_subject", "S3": "cross_environment"}
#: The sample key the DensePose head trains on: ``float32[3, H, W]``, DensePose's IUV image.
DENSEPOSE_TARGET = "densepose"


def load_data(config: TrainingConfig) -> Datasets:
    """The configured ``(train, val)`` datasets (with ``test_time_norm``, the val split's training
    rooms keep their training statistics)."""
    train = load_split(config, "train")
    return train, load_split(config, "val", rooms=getattr(train, "statistics", None))


def load_split(config: TrainingConfig, split: str, *, rooms: dict[int, Any] | None = None) -> Any:
    """The configured dataset of ``split`` (``"train"`` or ``"val"``); an empty one is an error.

    With ``test_time_norm`` its windows are standardised by their room's statistics: those of
    ``rooms`` (``{environment: (mean, std)}``, the training rooms'), else estimated on this
    split's frames (:class:`~csipose.domain.RoomNormalised`).
    """
    if config.features == "conjugate" and config.data != "synthetic":
        raise ConfigError(
            f"features: conjugate products need the raw phase, which the {config.data} dataset does not "
            "keep (it sanitises the phase when reading); use amplitude, phase or both"
        )
    ds = {"synthetic": _synthetic, "mmfi": _mmfi, "recording": _recording}[config.data](config, split)
    if len(ds) == 0:
        raise DatasetError(f"{config.data} {split} split: no samples")
    if config.test_time_norm is not False and room_normalised(config, ds[0]):
        from csipose.domain.normalisation import RoomNormalised

        ds = RoomNormalised(ds, rooms)
    return ds


def source_keys(config: TrainingConfig) -> tuple[str, ...]:
    """The sample keys, of those that decide the anchor and room normalisation (the environment
    id and the room geometry), that ``config``'s data source gives, known before it is built:
    every source's samples carry ``environment``; the synthetic rooms of ``room_variation`` the
    geometry too."""
    geometry = config.data == "synthetic" and bool(config.synthetic_config().room_variation)
    return ("environment", *(GEOMETRY if geometry else ()))


def amplitude_cleaning(config: TrainingConfig) -> str:
    """The amplitude cleaning of ``config``'s windows: ``config.cleaning``; for ``"auto"``, ``"log"``
    where they are standardised by room (:func:`room_normalised`), else MM-Fi's ``"official"``.

    Per room, the log amplitude less its room's mean is free of that room's receiver gain, and
    every subcarrier keeps its own value; the official per-frame min-max ties each value to its
    frame's extremes, which each room's static paths set differently.
    """
    if config.cleaning != "auto":
        return config.cleaning
    return "log" if room_normalised(config, dict.fromkeys(source_keys(config))) else "official"


def _synthetic(config: TrainingConfig, split: str) -> Any:
    from csipose.data.synthetic import SyntheticCsiDataset

    return SyntheticCsiDataset(config.synthetic_config(), split=split, cleaning=amplitude_cleaning(config))


def _mmfi(config: TrainingConfig, split: str) -> Any:
    from csipose.data import MMFiDataset

    return MMFiDataset(
        config.mmfi_root or None,  # None: read the cache alone
        split=split,
        protocol=config.mmfi_protocol.lower(),
        scheme=_SCHEMES[config.mmfi_scheme],
        ratio=config.mmfi_ratio,
        seed=config.mmfi_seed,
        window=config.window,
        features=FEATURES[config.features],
        cleaning=amplitude_cleaning(config),
        subcarriers=None if config.subcarriers == 114 else config.subcarriers,
        subcarrier_mode=config.subcarrier_mode,
        cache=config.mmfi_cache or None,
    )


def _recording(config: TrainingConfig, split: str) -> Any:
    from csipose.io.recording import RecordingDataset

    ds = RecordingDataset(
        config.recording_root, split=split, val=list(config.recording_val) or None, window=config.window,
        features=FEATURES[config.features], subcarriers=config.subcarriers, subcarrier_mode=config.subcarrier_mode,
        tolerance=config.recording_tolerance, cleaning=amplitude_cleaning(config),
    )  # fmt: skip
    if ds.skeleton != config.skeleton:
        fix = "skeleton=coco17 and keypoint_dims=2" if ds.skeleton == "coco17" else "skeleton=h36m17"
        raise ConfigError(f"skeleton: {config.recording_root} is labelled with {ds.skeleton} keypoints; set {fix}")
    return ds


def check_head_targets(config: TrainingConfig, dataset: Any) -> None:
    """Refuses a head the data has no target for (read from sample 0), before any training.

    The heatmap head's targets are drawn from the keypoints, so every dataset has them; the
    DensePose head needs DensePose labels (``densepose: float32[3, H, W]``, the synthetic data's
    rendered body surface) of the head's size.
    """
    if not config.densepose:
        return
    sample = dataset[0]
    if DENSEPOSE_TARGET not in sample:
        raise ConfigError(
            f"densepose: true needs DensePose labels ('{DENSEPOSE_TARGET}') in the samples, but the {config.data} "
            "training data has none (only the synthetic data renders them); set densepose = false"
        )
    shape = tuple(np.shape(sample[DENSEPOSE_TARGET]))
    size = config.densepose_size
    if shape != (3, size, size):
        raise ConfigError(f"densepose_size: {size}, but the samples' DensePose labels are {list(shape)}, not [3, {size}, {size}]")


def model_settings(config: TrainingConfig, dataset: Any) -> dict[str, Any]:
    """The :func:`~csipose.models.build_model` settings of ``config`` for ``dataset``'s samples.

    The window shape ``(W, C, S, P)`` and the joint count are read from the first sample and
    checked against the contract.
    """
    sample = dataset[0]
    csi, kp = np.asarray(sample["csi"]), np.asarray(sample["keypoints"])
    people = "person_ids" in sample
    if people != bool(config.persons):
        raise ConfigError(
            f"persons: {config.persons}, but the {config.data} samples have "
            + ("a person axis (several labelled people); set persons to the most people of a scene"
               if people else "one person each; persons >= 1 needs scenes of several labelled people (synthetic)")
        )
    if people and kp.ndim == 3:  # [m, J, 3], m possibly 0: the shape of one person
        kp = np.zeros(kp.shape[1:])
    if csi.ndim != 4 or kp.ndim != 2 or kp.shape[1] < config.keypoint_dims:
        raise DatasetError(
            f"sample 0: expected csi [W, C, S, P] and keypoints [J, >= {config.keypoint_dims}], "
            f"got {list(csi.shape)} and {list(kp.shape)}"
        )
    on_anchor = anchored(config, sample)
    groups = 2 if config.features == "conjugate" else len(FEATURES[config.features])  # amplitude, phase
    if csi.shape[1] % groups:
        raise DatasetError(f"sample 0: csi has {csi.shape[1]} channels, not a multiple of the {groups} feature groups")
    return {
        "model": config.model, "shape": list(csi.shape), "groups": groups, "joints": int(kp.shape[0]),
        "dims": config.keypoint_dims, "width": config.width, "depth": config.depth, "heads": config.heads,
        "tokens": config.tokens, "dropout": config.dropout,
        "readout": config.readout if isinstance(config.readout, bool) else not (on_anchor or config.static_rotation),
        "heatmap_size": config.heatmap_size if config.heatmap else 0,
        "densepose_parts": config.densepose_parts if config.densepose else 0, "persons": config.persons,
        "slot_backbones": config.slot_backbones,
        **({"densepose_size": config.densepose_size} if config.densepose else {}),
        **_domain_settings(config, dataset, sample),
        **({"anchor": True} if on_anchor else {}),
        **({"new_room_root": root_joint_ids(config)} if places_new_rooms(config, on_anchor) else {}),
        **({"static_rotation": rotated_share(config, sample)} if config.static_rotation else {}),
    }  # fmt: skip


def places_new_rooms(config: TrainingConfig, on_anchor: bool) -> bool:
    """Whether ``config.new_room_floor`` stands the person on the anchor's floor position in rooms the
    model was not trained in (``on_anchor``: the model is on the link anchor, :func:`anchored`)."""
    if config.new_room_floor == "anchor" and not on_anchor:
        raise ConfigError("new_room_floor: anchor needs a model on the link anchor (anchor = link, or auto with the "
                          "room geometry in the samples); set new_room_floor = model")
    if config.new_room_floor == "anchor" and config.keypoint_dims != 3:
        raise ConfigError(f"new_room_floor: anchor needs 3-D joints (keypoint_dims = 3, got {config.keypoint_dims}); "
                          "set new_room_floor = model")
    return on_anchor and config.keypoint_dims == 3 and config.new_room_floor != "model"


def rotated_share(config: TrainingConfig, sample: dict[str, Any]) -> float:
    """``config.static_rotation``, checked: it rotates each window's deviation from its room's
    mean, so the windows must be standardised by room (:func:`room_normalised`)."""
    if not room_normalised(config, sample):
        raise ConfigError(
            "static_rotation: rotates each window's deviation from its room's mean; the windows are not standardised "
            "by room (test_time_norm = auto does so on the link anchor, with environment ids: set test_time_norm = true)"
        )
    return float(config.static_rotation)


def root_joint_ids(config: TrainingConfig) -> list[int]:
    """The joints whose mean is the root of ``config.skeleton`` (as the locked harness takes it)."""
    from csipose.metrics import root_joints
    from csipose.skeletons import get_skeleton

    return [int(j) for j in root_joints(get_skeleton(config.skeleton))]


def _domain_settings(config: TrainingConfig, dataset: Any, sample: dict[str, Any]) -> dict[str, Any]:
    """The model settings of ``domain_adversarial`` (the training rooms) and ``geometry_film``,
    checked against what the training ``dataset`` carries (read from ``sample``, its first)."""
    settings: dict[str, Any] = {}
    if config.domain_adversarial > 0:
        if "environment" not in sample:
            raise ConfigError(
                f"domain_adversarial: the {config.data} samples carry no 'environment' id to tell rooms apart"
            )
        from csipose.train.domains import sample_environments

        rooms = sample_environments(dataset)  # without the CSI where the dataset allows
        settings["domains"] = sorted(int(e) for e in np.unique(rooms))
        if len(settings["domains"]) < 2:
            raise ConfigError(
                f"domain_adversarial: the training data has a single room (environment {settings['domains'][0]}); "
                "it needs two or more (e.g. synthetic.environments with val_environments, or synthetic.random_rooms)"
            )
    if config.geometry_film:
        if "tx" not in sample or "rx" not in sample:
            raise ConfigError(
                f"geometry_film: the {config.data} samples carry no room geometry ('tx', 'rx'); "
                "synthetic data has it with synthetic.room_variation = true"
            )
        settings["geometry_film"] = True
    return settings


def anchored(config: TrainingConfig, sample: dict[str, Any]) -> bool:
    """Whether ``config.anchor`` places the joints on the link anchor for samples like ``sample``."""
    geometry = all(k in sample for k in GEOMETRY)
    if config.anchor == "link" and not geometry:
        raise ConfigError(
            f"anchor: link needs the room geometry ({', '.join(GEOMETRY)}) in every sample; the {config.data} "
            "samples carry none (synthetic data has it with synthetic.room_variation = true); set anchor = none"
        )
    return config.anchor == "link" or (config.anchor == "auto" and geometry and not config.persons)


def room_normalised(config: TrainingConfig, sample: dict[str, Any]) -> bool:
    """Whether ``config.test_time_norm`` standardises windows like ``sample`` by their room's statistics."""
    if isinstance(config.test_time_norm, bool):
        return config.test_time_norm
    return "environment" in sample and anchored(config, sample)


def geometry_of(batch: dict[str, Any]) -> tuple[Any, ...]:
    """A batch's room geometry ``(tx [B, 3], rx [B, R, 3])``, with ``floor [B]`` when it has one,
    for a geometry-FiLM or anchored model."""
    if "tx" not in batch or "rx" not in batch:
        raise DatasetError("geometry: the batch carries no room geometry ('tx', 'rx')")
    return (batch["tx"], batch["rx"]) + ((batch["floor"],) if "floor" in batch else ())


def sample_geometry(dataset: Any, index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The room geometry ``(tx [n, 3], rx [n, R, 3], floor [n])`` of the samples ``index`` (all by
    default); read from ``label_geometry()`` when the dataset has it, else sample by sample."""
    index = np.arange(len(dataset)) if index is None else np.asarray(index)
    if hasattr(dataset, "label_geometry"):
        tx, rx, floor = (a[index] for a in dataset.label_geometry())
        return tx, rx, floor
    samples = [dataset[int(i)] for i in index]
    missing = [k for k in GEOMETRY if samples and k not in samples[0]]
    if missing:
        raise DatasetError(f"anchor: the samples carry no {', '.join(missing)} (the room geometry)")
    tx, rx, floor = (np.stack([np.asarray(s[k]) for s in samples]) for k in GEOMETRY)
    return tx, rx, floor


def sample_anchors(dataset: Any, index: np.ndarray | None = None) -> np.ndarray:
    """``float64[n, 3]``: the link anchor (:func:`~csipose.domain.anchor.link_anchor`) of the
    samples ``index`` (all by default; :func:`sample_geometry`)."""
    from csipose.domain.anchor import link_anchor_numpy

    return link_anchor_numpy(*sample_geometry(dataset, index))


def seen_rooms(dataset: Any) -> Any:
    """``float32[K, G]``: the distinct geometry rows (:func:`~csipose.domain.anchor.geometry_rows`)
    of the rooms of ``dataset``'s samples, a model's ``seen_rooms``."""
    import torch

    from csipose.domain.anchor import geometry_rows

    tx, rx, floor = (torch.as_tensor(np.asarray(a, dtype=np.float32)) for a in sample_geometry(dataset))
    return torch.unique(geometry_rows(tx, rx, floor), dim=0)


def recorded_preprocess(dataset: Any, shape: tuple[int, ...]) -> dict[str, Any] | None:
    """The dataset's :class:`~csipose.data.Preprocess` as plain data, for the model's checkpoints
    (None for a dataset without one: its models predict only from preprocessed windows).

    Raises:
        DatasetError: the preprocessing does not make windows of the model's input ``shape``.
    """
    preprocess = getattr(dataset, "preprocess", None)
    if preprocess is None:
        return None
    if tuple(preprocess.input_shape) != tuple(shape):
        raise DatasetError(
            f"dataset preprocess makes windows of {list(preprocess.input_shape)}, but its samples are {list(shape)}"
        )
    return dict(preprocess.to_dict())


def slot_presence(counts: np.ndarray, slots: int) -> np.ndarray:
    """``bool[n, slots]``: whether slot ``k`` holds a person in each of ``n`` samples of
    ``counts[i]`` people (the ``k``-th person, ``k < counts[i]``)."""
    return np.arange(slots)[None] < np.asarray(counts)[:, None]


def presence_rates(dataset: Any, slots: int) -> np.ndarray:
    """``float32[slots]``: the share of the dataset's samples with more than ``k`` labelled people,
    for each slot ``k`` (a multi-person dataset's ``label_people()``)."""
    return slot_presence(dataset.label_people()[1], slots).mean(axis=0).astype(np.float32)


def mean_pose(dataset: Any, *, anchor: bool = False) -> np.ndarray:
    """Train-set mean pose ``float32[J, 3]`` (visibility-weighted per joint); with ``anchor``,
    of the joints relative to each sample's link anchor (:func:`sample_anchors`).

    Datasets with ``label_keypoints()`` (synthetic, MM-Fi; every joint visible)
    give their label table without reading any CSI; others are read sample by sample.
    """
    if getattr(dataset, "multi_person", False):  # every labelled person of every sample
        people, counts = dataset.label_people()
        real = np.arange(people.shape[1])[None] < counts[:, None]
        kp = np.asarray(people[real], dtype=np.float64)
        vis = np.ones(kp.shape[:2])
    elif hasattr(dataset, "label_keypoints"):
        kp = np.asarray(dataset.label_keypoints(), dtype=np.float64)
        vis = np.ones(kp.shape[:2])
    else:
        items = [dataset[i] for i in range(len(dataset))]
        kp = np.stack([np.asarray(s["keypoints"], dtype=np.float64) for s in items])
        vis = np.stack([np.asarray(s["visibility"], dtype=np.float64) for s in items])
    if anchor:
        kp = kp - sample_anchors(dataset)[:, None, :]
    weight = vis[..., None]
    return ((kp * weight).sum(axis=0) / np.maximum(weight.sum(axis=0), 1.0)).astype(np.float32)


def train_loader(dataset: Any, config: TrainingConfig, ctx: DistContext, *, epoch: int, start_batch: int = 0) -> Any:
    """This rank's training loader for ``epoch`` (order seeded by ``seed + epoch``), skipping ``start_batch`` batches."""
    return make_loader(
        dataset, batch_size=config.batch_size, shuffle=True, workers=config.workers, seed=config.seed, epoch=epoch,
        distributed=ctx.distributed, num_replicas=ctx.world_size, rank=ctx.rank,
        start=start_batch * config.batch_size,
    )  # fmt: skip


def eval_loader(dataset: Any, config: TrainingConfig, ctx: DistContext) -> Any:
    """This rank's share of ``dataset`` in order, each sample on exactly one rank."""
    return make_loader(
        dataset, batch_size=config.batch_size, shuffle=False, workers=config.workers, seed=config.seed,
        distributed=ctx.distributed, num_replicas=ctx.world_size, rank=ctx.rank, even=False,
    )  # fmt: skip
