"""The training run: data, model, optimisation, validation, checkpoints, summary.

:func:`train` reads top to bottom as the list of steps of a run; each step is a
small function below it. A run is fully described by its
:class:`~csipose.config.TrainingConfig` and writes into ``config.run_dir``::

    config.toml      the resolved config
    metrics.jsonl    one JSON record per epoch (train loss, lr, val figures, time)
    last.pt          full state after the latest epoch (or step checkpoint)
    best.pt          the best validation PCK@20 so far; plus top-k epoch files
    summary.json     best report, mean-pose and linear baselines, best epoch, params, time
    *.png            loss / PCK curves, PCK vs threshold, skeleton overlays
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from csipose.config import TrainingConfig
from csipose.errors import CheckpointError, ConfigError, DatasetError
from csipose.losses import (
    MultiTaskLoss,
    bone_length_loss,
    densepose_part_loss,
    densepose_uv_loss,
    gaussian_heatmaps,
    heatmap_loss,
    keypoint_loss,
    oks_loss,
)
from csipose.models import PoseModel, build_model, count_parameters
from csipose.train import checkpoint as ckpt
from csipose.train.baselines import baseline_reports, fit_model_inputs
from csipose.train.distributed import DistContext, EpochSampler, seed_everything, setup, teardown, worker_init
from csipose.train.progress import StepProgress
from csipose.train.schedule import build_scheduler

__all__ = ["train", "load_data", "load_split", "mean_pose", "predict", "evaluate_model", "RunState", "PCK_KEY"]

#: The report entry that selects the best epoch and drives early stopping.
PCK_KEY = "20"
#: OKS constant used for every joint of layouts without COCO sigmas (H36M-17).
UNIFORM_OKS_SIGMA = 0.07

Datasets = tuple[Any, Any]


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


# ---------------------------------------------------------------------------- run
def train(
    config: TrainingConfig,
    *,
    resume: str | Path | None = None,
    datasets: Datasets | None = None,
    stop_after_steps: int | None = None,
) -> dict[str, Any]:
    """Trains as ``config`` says (or continues the run in ``resume``) and returns the summary.

    Args:
        config: the run's settings (ignored when resuming: the run's own config is used).
        resume: a run folder (or a ``.pt`` file) to continue from its ``last.pt``.
        datasets: ``(train, val)`` datasets to use instead of the configured source.
        stop_after_steps: stop (without a final checkpoint) once this many optimizer
            steps have run in this process; used to simulate a killed run.
    """
    state_in: dict[str, Any] | None = None
    if resume is not None:
        state_in = ckpt.load_checkpoint(_resume_file(resume))
        config = TrainingConfig.from_dict(state_in["config"], source="checkpoint config")
    config.validate()
    if config.loss_weights.get("transfer", 0.0) > 0:
        raise ConfigError("loss_weights.transfer: needs a teacher model, which `csipose train` does not load")
    ctx = setup()
    try:
        return _run(config, ctx, state_in, datasets, stop_after_steps)
    finally:
        teardown(ctx)


def _run(
    config: TrainingConfig,
    ctx: DistContext,
    state_in: dict[str, Any] | None,
    datasets: Datasets | None,
    stop_after_steps: int | None,
) -> dict[str, Any]:
    configure_torch(config)
    seed_everything(config.seed, ctx.rank)
    run_dir = Path(config.run_dir)
    train_set, val_set = datasets if datasets is not None else load_data(config)
    model = build_model(**model_settings(config, train_set))
    model.set_mean_pose(torch.from_numpy(mean_pose(train_set)[:, : config.keypoint_dims]))
    baselines: dict[str, Any] = {}
    if state_in is None and ctx.is_main:
        baselines = fit_inputs_and_baselines(model, train_set, val_set, config)
    model.to(ctx.device)
    params = count_parameters(model)
    wrapped = _wrap_ddp(model, ctx)  # DDP copies rank 0's fitted buffers to every rank
    optimizer = build_optimizer(model, config)
    steps_per_epoch = math.ceil(EpochSampler(len(train_set), world_size=ctx.world_size).per_rank() / config.batch_size)
    scheduler = build_scheduler(optimizer, config, steps_per_epoch)
    scaler = _grad_scaler(config, ctx)
    losses = MultiTaskLoss(config.loss_weights)
    run = RunState(baselines=baselines)
    if state_in is not None:
        run = restore(state_in, model, optimizer, scheduler, scaler)
    if ctx.is_main:
        prepare_run_dir(run_dir, config, keep_epochs=run.epoch if state_in is not None else None)
    ctx.barrier()
    progress = StepProgress(
        total_steps=steps_per_epoch * config.epochs,
        done_steps=run.step,
        enabled=config.progress and ctx.is_main,
    )
    if ctx.is_main and baselines:
        progress.write(_baselines_line(baselines))
    steps_this_process = 0
    try:
        while run.epoch < config.epochs and not run.stopped_early:
            epoch = run.epoch
            started = time.perf_counter()
            loader = train_loader(train_set, config, ctx, epoch=epoch, start_batch=run.step_in_epoch)
            model.train()
            for batch in loader:
                loss = train_step(wrapped, batch, optimizer, scheduler, scaler, losses, config, ctx)
                run.step += 1
                run.step_in_epoch += 1
                run.loss_sum += loss
                steps_this_process += 1
                progress.update(epoch=epoch + 1, epochs=config.epochs, samples=_batch_size(batch) * ctx.world_size, loss=loss)
                if stop_after_steps is not None and steps_this_process >= stop_after_steps:
                    return {}
                every = config.checkpoint_every_steps
                if every and run.step % every == 0 and run.step_in_epoch < steps_per_epoch:
                    run.train_seconds += time.perf_counter() - started
                    started = time.perf_counter()
                    if ctx.is_main:
                        save_state(run_dir / "last.pt", run, model, optimizer, scheduler, scaler, config)
            train_loss = ctx.all_reduce_mean(run.loss_sum / max(run.step_in_epoch, 1))
            run.epoch, run.step_in_epoch, run.loss_sum = epoch + 1, 0, 0.0
            record: dict[str, Any] = {"epoch": run.epoch, "step": run.step, "train_loss": train_loss,
                                      "lr": scheduler.get_last_lr()[0]}
            if run.epoch % config.val_every == 0 or run.epoch == config.epochs:
                report, overlay = evaluate_model(model, val_set, config, ctx)
                if ctx.is_main:
                    record["val"] = _report_subset(report)
                    improve(run, report, overlay, model, optimizer, scheduler, scaler, config, run_dir)
                run = _sync_run(ctx, run)
            run.train_seconds += time.perf_counter() - started
            record["seconds"] = run.train_seconds
            if ctx.is_main:
                with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")
                save_state(run_dir / "last.pt", run, model, optimizer, scheduler, scaler, config)
                progress.write(_epoch_line(record))
        summary: dict[str, Any] = {}
        if ctx.is_main:
            summary = finish(run, config, ctx, params, run_dir)
        ctx.barrier()
        return summary
    finally:
        progress.close()


# ----------------------------------------------------------------------- set-up
def configure_torch(config: TrainingConfig) -> None:
    """Threads and determinism as the config asks."""
    if config.threads:
        torch.set_num_threads(config.threads)
    if config.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


_FEATURES = {"amplitude": ("amplitude",), "phase": ("phase",), "both": ("amplitude", "phase")}
_SCHEMES = {"S1": "random", "S2": "cross_subject", "S3": "cross_environment"}


def load_data(config: TrainingConfig) -> Datasets:
    """The configured ``(train, val)`` datasets."""
    return load_split(config, "train"), load_split(config, "val")


def load_split(config: TrainingConfig, split: str) -> Any:
    """The configured dataset of ``split`` (``"train"`` or ``"val"``); an empty one is an error."""
    ds = _synthetic(config, split) if config.data == "synthetic" else _mmfi(config, split)
    if len(ds) == 0:
        raise DatasetError(f"{config.data} {split} split: no samples")
    return ds


def _synthetic(config: TrainingConfig, split: str) -> Any:
    from csipose.data.synthetic import SyntheticConfig, SyntheticCsiDataset

    values: dict[str, Any] = {
        "features": _FEATURES[config.features], "window": config.window, "subcarriers": config.subcarriers,
    }  # fmt: skip
    values.update(config.synthetic)
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        synth = SyntheticConfig(**values)
    except TypeError as err:
        raise ConfigError(f"synthetic: {err}") from None
    except ConfigError as err:
        raise ConfigError(f"synthetic.{err}") from None
    return SyntheticCsiDataset(synth, split=split)


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
        features=_FEATURES[config.features],
        subcarriers=None if config.subcarriers == 114 else config.subcarriers,
        subcarrier_mode=config.subcarrier_mode,
        cache=config.mmfi_cache or None,
    )


def model_settings(config: TrainingConfig, dataset: Any) -> dict[str, Any]:
    """The :func:`~csipose.models.build_model` settings of ``config`` for ``dataset``'s samples.

    The window shape ``(W, C, S, P)`` and the joint count are read from the first sample and
    checked against the contract.
    """
    sample = dataset[0]
    csi, kp = np.asarray(sample["csi"]), np.asarray(sample["keypoints"])
    if csi.ndim != 4 or kp.ndim != 2 or kp.shape[1] < config.keypoint_dims:
        raise DatasetError(
            f"sample 0: expected csi [W, C, S, P] and keypoints [J, >= {config.keypoint_dims}], "
            f"got {list(csi.shape)} and {list(kp.shape)}"
        )
    groups = len(_FEATURES[config.features])
    if csi.shape[1] % groups:
        raise DatasetError(f"sample 0: csi has {csi.shape[1]} channels, not a multiple of the {groups} feature groups")
    return {
        "model": config.model, "shape": list(csi.shape), "groups": groups, "joints": int(kp.shape[0]),
        "dims": config.keypoint_dims, "width": config.width, "depth": config.depth, "heads": config.heads,
        "tokens": config.tokens, "dropout": config.dropout, "readout": config.readout,
        "heatmap_size": config.heatmap_size if config.heatmap else 0,
        "densepose_parts": config.densepose_parts if config.densepose else 0,
    }  # fmt: skip


def fit_inputs_and_baselines(model: PoseModel, train_set: Any, val_set: Any, config: TrainingConfig) -> dict[str, Any]:
    """Fits the model's normalisation and readout; returns the baselines' val reports (rank 0)."""
    fitted = fit_model_inputs(model, train_set, samples=config.baseline_samples,
                              fit_ridge=config.readout or config.linear_baseline)
    reports = baseline_reports(model, fitted["ridge"] if config.linear_baseline else None, val_set, score)
    if "linear_baseline" in reports:
        reports["linear_baseline"]["fit"].update(samples=fitted["samples"], seconds=fitted["seconds"])
    return reports


def mean_pose(dataset: Any) -> np.ndarray:
    """Train-set mean pose ``float32[J, 3]`` (visibility-weighted per joint).

    Datasets with ``label_keypoints()`` (synthetic, MM-Fi; every joint visible)
    give their label table without reading any CSI; others are read sample by sample.
    """
    if hasattr(dataset, "label_keypoints"):
        kp = np.asarray(dataset.label_keypoints(), dtype=np.float64)
        vis = np.ones(kp.shape[:2])
    else:
        items = [dataset[i] for i in range(len(dataset))]
        kp = np.stack([np.asarray(s["keypoints"], dtype=np.float64) for s in items])
        vis = np.stack([np.asarray(s["visibility"], dtype=np.float64) for s in items])
    weight = vis[..., None]
    return ((kp * weight).sum(axis=0) / np.maximum(weight.sum(axis=0), 1.0)).astype(np.float32)


def build_optimizer(model: nn.Module, config: TrainingConfig) -> torch.optim.AdamW:
    """AdamW; matrices and convolution kernels decay, biases/norms/embeddings do not."""
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embedding" not in n and "queries" not in n]
    keep = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embedding" not in n and "queries" not in n)]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": keep, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(config.betas[0], config.betas[1]), foreach=False)


def _wrap_ddp(model: PoseModel, ctx: DistContext) -> nn.Module:
    if not ctx.distributed:
        return model
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def _grad_scaler(config: TrainingConfig, ctx: DistContext) -> torch.amp.GradScaler:
    return torch.amp.GradScaler("cuda", enabled=ctx.device.type == "cuda" and config.amp == "fp16")


def _autocast(config: TrainingConfig, ctx: DistContext) -> Any:
    enabled = ctx.device.type == "cuda" and config.amp != "off"
    dtype = torch.bfloat16 if config.amp == "bf16" else torch.float16
    return torch.autocast(device_type=ctx.device.type, dtype=dtype, enabled=enabled)


def _collate(samples: list[dict[str, Any]]) -> dict[str, Tensor]:
    from csipose.data import collate

    return collate(samples)


def train_loader(
    dataset: Any, config: TrainingConfig, ctx: DistContext, *, epoch: int, start_batch: int = 0
) -> torch.utils.data.DataLoader:
    """This rank's loader for ``epoch``: order seeded by ``seed + epoch``, skipping ``start_batch`` batches."""
    sampler = EpochSampler(
        len(dataset), seed=config.seed, epoch=epoch, rank=ctx.rank, world_size=ctx.world_size,
        start=start_batch * config.batch_size,
    )
    return _loader(dataset, sampler, config, seed=config.seed * 1000003 + epoch)


def _loader(dataset: Any, sampler: EpochSampler, config: TrainingConfig, *, seed: int) -> torch.utils.data.DataLoader:
    generator = torch.Generator()
    generator.manual_seed(seed)  # worker seeds come from here, not from the global RNG
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=config.workers,
        collate_fn=_collate,
        worker_init_fn=worker_init if config.workers else None,
        generator=generator,
        persistent_workers=False,
        pin_memory=False,
    )


def _batch_size(batch: dict[str, Tensor]) -> int:
    return int(batch["csi"].shape[0])


# ------------------------------------------------------------------------ steps
def loss_terms(out: dict[str, Tensor], batch: dict[str, Tensor], config: TrainingConfig) -> dict[str, Tensor]:
    """The loss terms the config weights, from model outputs and a batch."""
    d = config.keypoint_dims
    gt = batch["keypoints"][..., :d]
    vis = batch["visibility"]
    pred = out["keypoints"].float()
    w = config.loss_weights
    terms: dict[str, Tensor] = {}
    if w.get("keypoints", 0.0) > 0:
        terms["keypoints"] = keypoint_loss(pred, gt, vis, kind=config.keypoint_loss)
    if w.get("bone", 0.0) > 0:
        terms["bone"] = bone_length_loss(pred, gt, vis)
    if w.get("oks", 0.0) > 0:
        sigmas = [UNIFORM_OKS_SIGMA] * pred.shape[1]
        terms["oks"] = oks_loss(pred, gt, vis, sigmas=sigmas)
    if w.get("heatmap", 0.0) > 0:
        target = gaussian_heatmaps(
            batch["keypoints"][..., :2], size=config.heatmap_size, extent=config.heatmap_extent, sigma=config.heatmap_sigma
        )
        terms["heatmap"] = heatmap_loss(out["heatmap"].float(), target, vis)
    if w.get("densepose_parts", 0.0) > 0 or w.get("densepose_uv", 0.0) > 0:
        if "dp_parts" not in batch or "dp_uv" not in batch:
            raise DatasetError("densepose loss: the data carries no 'dp_parts' / 'dp_uv' targets")
        terms["densepose_parts"] = densepose_part_loss(out["dp_parts"].float(), batch["dp_parts"])
        terms["densepose_uv"] = densepose_uv_loss(out["dp_uv"].float(), batch["dp_uv"], batch["dp_parts"])
    return terms


def train_step(
    model: nn.Module,
    batch: dict[str, Tensor],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    losses: MultiTaskLoss,
    config: TrainingConfig,
    ctx: DistContext,
) -> float:
    """One optimizer step on ``batch``; returns the total loss."""
    batch = {k: v.to(ctx.device, non_blocking=True) for k, v in batch.items() if isinstance(v, Tensor)}
    with _autocast(config, ctx):
        out = model(batch["csi"])
    total, _ = losses(loss_terms(out, batch, config))
    value = float(total.detach())  # one device sync per step
    if not math.isfinite(value):
        raise ConfigError(f"lr: the loss became {value} at this learning rate ({config.lr}); lower it")
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(total).backward()
    if config.grad_clip > 0:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip, foreach=False)
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    return value


# ------------------------------------------------------------------- validation
@torch.no_grad()
def predict(
    model: nn.Module, dataset: Any, config: TrainingConfig, ctx: DistContext
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """This rank's share of ``dataset``: ``(index[N], pred[N, J, D], gt[N, J, 3], visible[N, J])``."""
    sampler = EpochSampler(len(dataset), shuffle=False, rank=ctx.rank, world_size=ctx.world_size)
    loader = _loader(dataset, sampler, config, seed=config.seed)
    was_training = model.training
    model.eval()
    preds, gts, vis = [], [], []
    for batch in loader:
        with _autocast(config, ctx):
            out = model(batch["csi"].to(ctx.device))
        preds.append(out["keypoints"].float().cpu().numpy())
        gts.append(batch["keypoints"].numpy())
        vis.append(batch["visibility"].numpy())
    model.train(was_training)
    index = np.asarray(list(iter(sampler)), dtype=np.int64)
    return index, np.concatenate(preds), np.concatenate(gts), np.concatenate(vis)


def score(pred: np.ndarray, gt: np.ndarray, vis: np.ndarray) -> Any:
    """The canonical :class:`csipose.metrics.PoseReport` of ``pred[N, J, D]`` against ``gt[N, J, >= D]``."""
    from csipose.metrics import evaluate

    d = pred.shape[-1]
    return evaluate(pred.astype(np.float64), gt[..., :d].astype(np.float64), visible=vis > 0.5, skeleton="h36m17")


def evaluate_model(
    model: nn.Module, dataset: Any, config: TrainingConfig, ctx: DistContext
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Val report dict and a few samples for overlays (rank 0 only).

    Predictions of all ranks are gathered and scored once, on rank 0, with
    :func:`csipose.metrics.evaluate`.
    """
    parts = ctx.all_gather_objects(predict(model, dataset, config, ctx))
    if not ctx.is_main:
        return {}, {}
    index = np.concatenate([p[0] for p in parts])
    order = np.argsort(index, kind="stable")
    pred, gt, vis = (np.concatenate([p[i] for p in parts])[order] for i in (1, 2, 3))
    overlay = {"pred": pred[: config.overlays], "gt": gt[: config.overlays]}
    return dict(score(pred, gt, vis).to_dict()), overlay


def _report_subset(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report[k] for k in ("pck", "auc", "mpjpe", "pa_mpjpe", "frames") if k in report}


def _baselines_line(baselines: dict[str, Any]) -> str:
    line = f"baselines on the val split: mean pose PCK@20 {100 * baselines['mean_pose_baseline']['pck'][PCK_KEY]:.1f}%"
    if "linear_baseline" in baselines:
        linear = baselines["linear_baseline"]
        fit = linear["fit"]
        line += (f", linear (ridge) {100 * linear['pck'][PCK_KEY]:.1f}% "
                 f"(fitted on {fit['samples']} samples in {fit['seconds']:.0f} s)")
    return line


def _epoch_line(record: dict[str, Any]) -> str:
    line = f"epoch {record['epoch']}: train loss {record['train_loss']:.4f} lr {record['lr']:.2e}"
    if "val" in record:
        v = record["val"]
        line += f"  val PCK@20 {100 * v['pck'][PCK_KEY]:.1f}%  MPJPE {1000 * v['mpjpe']:.0f} mm"
    return line


# ----------------------------------------------------------------- checkpoints
def _resume_file(resume: str | Path) -> Path:
    path = Path(resume)
    if path.is_dir():
        path = path / "last.pt"
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint to resume from")
    return path


def save_state(
    path: Path,
    run: RunState,
    model: PoseModel,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    config: TrainingConfig,
    extra: dict[str, Any] | None = None,
) -> None:
    """Writes the full training state to ``path`` (atomically)."""
    state = {
        "format": ckpt.FORMAT,
        "model": model.state_dict(),
        "model_settings": dict(model.settings),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict() if scaler.is_enabled() else {},
        "config": config.to_dict(),
        "rng": ckpt.capture_rng(),
        "versions": ckpt.versions(),
        "epoch": run.epoch,
        "step": run.step,
        "run": run.to_dict(),
    }
    if extra:
        state.update(extra)
    ckpt.save_checkpoint(path, state)


def restore(
    state: dict[str, Any],
    model: PoseModel,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
) -> RunState:
    """Loads a checkpoint's full state into the live objects; returns the run position."""
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler.is_enabled() and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        ckpt.restore_rng(state["rng"])
        return RunState.from_dict(state["run"])
    except (KeyError, RuntimeError, ValueError, TypeError) as err:
        raise CheckpointError(f"checkpoint does not match this model/config: {str(err).splitlines()[0][:200]}") from None


def improve(
    run: RunState,
    report: dict[str, Any],
    overlay: dict[str, np.ndarray],
    model: PoseModel,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    config: TrainingConfig,
    run_dir: Path,
) -> None:
    """Best/top-k checkpoints and early-stopping bookkeeping after a validation (rank 0)."""
    metric = float(report["pck"][PCK_KEY] or 0.0)  # None: no scoreable frame
    extra = {"overlay": {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in overlay.items()}}
    if metric > run.best_metric + config.min_delta:
        run.bad_validations = 0
    else:
        run.bad_validations += 1
        if run.bad_validations >= config.patience:
            run.stopped_early = True
    if metric > run.best_metric:
        run.best_metric, run.best_epoch, run.best_report = metric, run.epoch, dict(report)
        save_state(run_dir / "best.pt", run, model, optimizer, scheduler, scaler, config, extra)
    if config.top_k:
        name = f"epoch{run.epoch:04d}.pt"
        entries = sorted([*run.top_k, [metric, name]], key=lambda e: (-e[0], e[1]))
        keep, drop = entries[: config.top_k], entries[config.top_k :]
        if any(e[1] == name for e in keep):
            save_state(run_dir / name, run, model, optimizer, scheduler, scaler, config, extra)
        for _, old in drop:
            (run_dir / old).unlink(missing_ok=True)
        run.top_k = keep


def _sync_run(ctx: DistContext, run: RunState) -> RunState:
    """Rank 0's bookkeeping (best metric, early stop) on every rank."""
    return RunState.from_dict(ctx.broadcast_object(run.to_dict())) if ctx.distributed else run


def prepare_run_dir(run_dir: Path, config: TrainingConfig, *, keep_epochs: int | None) -> None:
    """Creates the run folder and writes the config; a resumed run trims metrics past its checkpoint."""
    run_dir.mkdir(parents=True, exist_ok=True)
    config.save(run_dir / "config.toml")
    log = run_dir / "metrics.jsonl"
    if keep_epochs is None:
        log.write_text("", encoding="utf-8")
    elif log.exists():
        lines = [ln for ln in log.read_text(encoding="utf-8").splitlines() if ln.strip()]
        kept = [ln for ln in lines if json.loads(ln)["epoch"] <= keep_epochs]
        log.write_text("".join(ln + "\n" for ln in kept), encoding="utf-8")


# ------------------------------------------------------------------------ finish
def finish(
    run: RunState,
    config: TrainingConfig,
    ctx: DistContext,
    params: int,
    run_dir: Path,
) -> dict[str, Any]:
    """Writes summary.json (best report beside the baselines) and the plots (rank 0)."""
    baseline = run.baselines["mean_pose_baseline"]
    summary = {
        "model": run.best_report,
        "mean_pose_baseline": baseline,
        "pck20_gain": run.best_report["pck"][PCK_KEY] - baseline["pck"][PCK_KEY],
        "best_epoch": run.best_epoch,
        "epochs_run": run.epoch,
        "stopped_early": run.stopped_early,
        "steps": run.step,
        "params": params,
        "train_seconds": run.train_seconds,
        "world_size": ctx.world_size,
        "device": str(ctx.device),
        "data": config.data,
    }
    if "linear_baseline" in run.baselines:
        linear = run.baselines["linear_baseline"]
        summary["linear_baseline"] = linear
        summary["pck20_gain_over_linear"] = run.best_report["pck"][PCK_KEY] - linear["pck"][PCK_KEY]
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if config.plots:
        from csipose.train.plots import write_plots

        best = ckpt.load_checkpoint(run_dir / "best.pt")
        overlay = {k: v.numpy() for k, v in best.get("overlay", {}).items()}
        write_plots(run_dir, _read_metrics(run_dir), run.best_report, baseline, overlay)
    return summary


def _read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    log = run_dir / "metrics.jsonl"
    return [json.loads(ln) for ln in log.read_text(encoding="utf-8").splitlines() if ln.strip()]


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[PoseModel, TrainingConfig]:
    """The model and config stored in a checkpoint, ready for inference."""
    state = ckpt.load_checkpoint(path)
    config = TrainingConfig.from_dict(state["config"], source=f"{path} config")
    settings = state.get("model_settings")
    if not isinstance(settings, dict) or "shape" not in settings:
        raise CheckpointError(f"{path}: no model_settings in the checkpoint (written by an older csipose?)")
    try:
        model = build_model(**settings)
    except (TypeError, ConfigError) as err:
        raise CheckpointError(f"{path}: model_settings do not describe a model ({err})") from None
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise CheckpointError(f"{path}: weights do not fit the stored config ({str(err).splitlines()[0][:200]})") from None
    return model.to(device).eval(), config

