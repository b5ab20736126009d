"""Where a run stands and its checkpoints: save, restore, best / top-k, resume, model loading."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from csipose.config import TrainingConfig
from csipose.errors import ArgumentError, CheckpointError, ConfigError
from csipose.models import PoseModel, build_model
from csipose.train import checkpoint as ckpt
from csipose.train.distributed import DistContext
from csipose.train.evaluate import PCK_KEY

__all__ = [
    "Learner",
    "RunState",
    "build_stored_model",
    "improve",
    "load_model",
    "restore",
    "resume_file",
    "save_state",
    "stored_model_settings",
    "sync_run",
]


@dataclass
class RunState:
    """Where a run stands; saved in every checkpoint."""

    epoch: int = 0  # completed epochs
    step: int = 0  # optimizer steps so far
    step_in_epoch: int = 0  # steps of the unfinished epoch ``epoch`` (step checkpoints)
    loss_sum: float = 0.0  # train-loss sum over the unfinished epoch's steps
    best_metric: float = -math.inf
    best_epoch: int = 0
    bad_validations: int = 0
    stopped_early: bool = False
    best_report: dict[str, Any] = field(default_factory=dict)
    top_k: list[list[Any]] = field(default_factory=list)  # [[metric, file name], ...]
    train_seconds: float = 0.0
    baselines: dict[str, Any] = field(default_factory=dict)  # val reports of the baselines (rank 0)

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunState:
        return cls(**values)


@dataclass
class Learner:
    """The model and what updates it: everything a checkpoint captures besides the run position.

    ``net`` is what the steps call: ``model`` itself, or its DistributedDataParallel wrapper.
    """

    model: PoseModel
    net: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler


def save_state(
    path: Path, run: RunState, learner: Learner, config: TrainingConfig, extra: dict[str, Any] | None = None, *,
    rng_ranks: list[dict[str, Any]] | None = None,
) -> None:
    """Writes the full training state to ``path`` (atomically). ``rng_ranks``: every rank's RNG
    state (:func:`~csipose.train.checkpoint.capture_rng`, in rank order) of a data-parallel run,
    saved beside this process's so that each rank resumes its own draws (dropout, augmentation)."""
    state = {
        "format": ckpt.FORMAT,
        "model": learner.model.state_dict(),
        "model_settings": dict(learner.model.settings),
        "preprocess": learner.model.preprocess,
        **pack_rooms(learner.model.room_statistics),
        **({"seen_rooms": learner.model.seen_rooms.detach().cpu()} if learner.model.seen_rooms is not None else {}),
        "optimizer": learner.optimizer.state_dict(),
        "scheduler": learner.scheduler.state_dict(),
        "scaler": learner.scaler.state_dict() if learner.scaler.is_enabled() else {},
        "config": config.to_dict(),
        "rng": ckpt.capture_rng(),
        "versions": ckpt.versions(),
        "epoch": run.epoch,
        "step": run.step,
        "run": run.to_dict(),
    }
    if rng_ranks is not None and len(rng_ranks) > 1:
        state["rng_ranks"] = list(rng_ranks)
    if extra:
        state.update(extra)
    ckpt.save_checkpoint(path, state)


def restore(state: dict[str, Any], learner: Learner, *, rank: int = 0, world_size: int = 1) -> RunState:
    """Loads a checkpoint's full state into the live objects; returns the run position. Rank
    ``rank`` of ``world_size`` takes its own RNG state where the checkpoint holds one per rank
    of a run of that size, else the saving process's."""
    try:
        learner.model.load_state_dict(state["model"])
        learner.optimizer.load_state_dict(state["optimizer"])
        learner.scheduler.load_state_dict(state["scheduler"])
        if learner.scaler.is_enabled() and state.get("scaler"):
            learner.scaler.load_state_dict(state["scaler"])
        ranks = state.get("rng_ranks")
        ckpt.restore_rng(ranks[rank] if ranks is not None and len(ranks) == world_size else state["rng"])
        return RunState.from_dict(state["run"])
    except (KeyError, RuntimeError, ValueError, TypeError) as err:
        raise CheckpointError(f"checkpoint does not match this model/config: {ckpt.error_reason(err)}") from None


def improve(
    run: RunState,
    report: dict[str, Any],
    overlay: dict[str, np.ndarray],
    learner: Learner,
    config: TrainingConfig,
    run_dir: Path,
) -> None:
    """Best/top-k checkpoints and early-stopping bookkeeping after a validation (rank 0), on
    :func:`selection_metric`."""
    metric = selection_metric(report)
    extra = {"overlay": {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in overlay.items()}}
    if metric > run.best_metric + config.min_delta:
        run.bad_validations = 0
    else:
        run.bad_validations += 1
        if run.bad_validations >= config.patience:
            run.stopped_early = True
    if metric > run.best_metric:
        run.best_metric, run.best_epoch, run.best_report = metric, run.epoch, dict(report)
        save_state(run_dir / "best.pt", run, learner, config, extra)
    if config.top_k:
        name = f"epoch{run.epoch:04d}.pt"
        entries = sorted([*run.top_k, [metric, name]], key=lambda e: (-e[0], e[1]))
        keep, drop = entries[: config.top_k], entries[config.top_k :]
        if any(e[1] == name for e in keep):
            save_state(run_dir / name, run, learner, config, extra)
        for _, old in drop:
            (run_dir / old).unlink(missing_ok=True)
        run.top_k = keep


def selection_metric(report: dict[str, Any]) -> float:
    """The figure that picks the best epoch and drives early stopping: the val report's PCK@20,
    or, when the val split also holds rooms never trained on (``report["domains"]``), its
    in-domain part's (held-out subjects of the training rooms): choosing a model never looks at
    the rooms it is to be judged new in. 0 when no frame is scoreable."""
    scored = (report.get("domains") or {}).get("in_domain", report)
    return float(scored["pck"][PCK_KEY] or 0.0)


def sync_run(ctx: DistContext, run: RunState) -> None:
    """Copies rank 0's bookkeeping (best metric, early stop) into ``run`` on every rank."""
    if ctx.distributed:
        vars(run).update(ctx.broadcast_object(run.to_dict()))


def resume_file(resume: str | Path) -> Path:
    """The ``last.pt`` of the run folder ``resume``; a file or a folder without one is refused."""
    path = Path(resume)
    if path.is_file():
        raise ArgumentError(
            f"resume: expected a run folder (RUN_DIR; the run continues from its last.pt), got the file {path}; "
            f"pass {path.parent}"
        )
    if not (path / "last.pt").is_file():
        raise CheckpointError(f"{path}: no checkpoint to resume from (expected a run folder holding last.pt)")
    return path / "last.pt"


def stored_model_settings(state: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The :func:`~csipose.models.build_model` settings a checkpoint (read from ``path``) was written with."""
    settings = state.get("model_settings")
    if not isinstance(settings, dict) or "shape" not in settings:
        raise CheckpointError(f"{path}: no model_settings in the checkpoint (written by an older csipose?)")
    return settings


def build_stored_model(state: dict[str, Any], path: str | Path) -> PoseModel:
    """A fresh model of a checkpoint's stored settings and preprocessing (weights not loaded)."""
    try:
        model = build_model(**stored_model_settings(state, path))
    except (TypeError, ConfigError) as err:
        raise CheckpointError(f"{path}: model_settings do not describe a model ({ckpt.error_reason(err)})") from None
    preprocess = state.get("preprocess")
    if preprocess is not None and not isinstance(preprocess, dict):
        raise CheckpointError(f"{path}: preprocess is not a table of settings")
    model.preprocess = preprocess
    model.room_statistics = unpack_rooms(state, path)
    model.seen_rooms = unpack_seen_rooms(state, path)
    return model


def unpack_seen_rooms(state: dict[str, Any], path: str | Path) -> torch.Tensor | None:
    """The training rooms' geometry rows ``float32[K, G]`` a checkpoint records (None without)."""
    rooms = state.get("seen_rooms")
    if rooms is None:
        return None
    if (not isinstance(rooms, torch.Tensor) or rooms.dim() != 2 or not rooms.is_floating_point()
            or rooms.shape[1] < 7 or (rooms.shape[1] - 4) % 3 or not bool(torch.isfinite(rooms).all())):
        raise CheckpointError(f"{path}: seen_rooms is not a float[K, 3 + 3 R + 1] table of finite numbers, the "
                              f"training rooms' geometry (tx, R receive antennas, floor)")
    return rooms.float()


def pack_rooms(rooms: dict[int, tuple[Any, Any]] | None) -> dict[str, Any]:
    """``{"room_statistics": {"environments": int64[K], "mean": float32[K, C, S, P], "std": ...}}``
    of a ``test_time_norm`` model's training rooms (``{}`` without them)."""
    if not rooms:
        return {}
    from csipose.domain.normalisation import stack_rooms

    ids, mean, std = stack_rooms(rooms)
    return {"room_statistics": {"environments": torch.tensor(ids, dtype=torch.int64),
                                "mean": torch.from_numpy(mean), "std": torch.from_numpy(std)}}


def unpack_rooms(state: dict[str, Any], path: str | Path) -> dict[int, tuple[np.ndarray, np.ndarray]] | None:
    """The training rooms' statistics :func:`pack_rooms` stored in a checkpoint (None without)."""
    from csipose.domain.normalisation import unstack_rooms

    packed = state.get("room_statistics")
    if packed is None:
        return None
    try:
        return unstack_rooms(packed["environments"].tolist(), packed["mean"].numpy(), packed["std"].numpy())
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise CheckpointError(f"{path}: room_statistics is not a table of rooms' statistics ({err})") from None


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[PoseModel, TrainingConfig]:
    """The model (built from its stored model settings) and config of a checkpoint, ready for inference."""
    state = ckpt.load_checkpoint(path)
    config = TrainingConfig.from_dict(state["config"], source=f"{path} config", recorded=True)
    model = build_stored_model(state, path)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise CheckpointError(f"{path}: weights do not fit the stored model settings ({ckpt.error_reason(err)})") from None
    return model.to(device).eval(), config
