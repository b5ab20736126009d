"""The training run, top to bottom: data, model, optimisation, validation, checkpoints, summary.

:func:`train` is the list of steps of a run; each step is a small function of
:mod:`~csipose.train.data` (what to train on), :mod:`~csipose.train.step` (one optimizer
step), :mod:`~csipose.train.evaluate` (validation), :mod:`~csipose.train.state`
(checkpoints, best / top-k, resume) or :mod:`~csipose.train.run_dir` (the run folder).
A run is fully described by its :class:`~csipose.config.TrainingConfig` and writes into
``config.run_dir`` (see :mod:`csipose.train.run_dir`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from functools import partial
from pathlib import Path
from typing import Any

import torch

from csipose.config import TrainingConfig
from csipose.domain.normalisation import RoomNormalised
from csipose.errors import ArgumentError, ConfigError
from csipose.losses import MultiTaskLoss
from csipose.models import PoseModel, build_model, count_parameters
from csipose.train import checkpoint as ckpt
from csipose.train.baselines import baseline_reports, densepose_baseline, fit_model_inputs, people_baseline_reports
from csipose.train.data import (
    Datasets,
    check_head_targets,
    load_data,
    mean_pose,
    model_settings,
    presence_rates,
    recorded_preprocess,
    seen_rooms,
    train_loader,
)
from csipose.train.distributed import DistContext, seed_everything, setup, sync_buffers, teardown, wrap_ddp
from csipose.train.domains import DomainSplit, compact, domain_split
from csipose.train.evaluate import evaluate_model, report_subset, score_people
from csipose.train.progress import StepProgress
from csipose.train.run_dir import append_metrics, baselines_line, check_run_dir, epoch_line, finish, prepare_run_dir
from csipose.train.schedule import build_scheduler
from csipose.train.scoring import score
from csipose.train.state import (
    Learner,
    RunState,
    build_stored_model,
    improve,
    restore,
    resume_file,
    save_state,
    sync_run,
)
from csipose.train.step import build_optimizer, grad_scaler, non_finite_loss, train_step, untrained_heads

__all__ = ["train", "train_one_epoch"]


def train(config: TrainingConfig, *, resume: str | Path | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Trains as ``config`` says (or continues the run in the folder ``resume``) and returns the summary.

    Args:
        config: the run's settings (ignored when resuming: the run's own config is used).
        resume: a run folder to continue from its ``last.pt``.
        overwrite: start a new run in ``config.run_dir`` even when it holds one (whose
            checkpoints, logs and plots are deleted); without it that is an error.

    Raises:
        ConfigError: an invalid config, a head without targets in the data, or a run folder
            that already holds a run.
        TrainingError: the loss became NaN or infinite (the message names the step).
    """
    return _train(config, resume=resume, overwrite=overwrite)


def _train(
    config: TrainingConfig,
    *,
    resume: str | Path | None = None,
    overwrite: bool = False,
    datasets: Datasets | None = None,
    stop_after_steps: int | None = None,
) -> dict[str, Any]:
    """:func:`train` with two hooks for tests: ``datasets`` ``(train, val)`` replace the configured
    data; ``stop_after_steps`` stops (without a final checkpoint, returning ``{}``) once this many
    optimizer steps have run in this process, as a killed run would."""
    state_in: dict[str, Any] | None = None
    if resume is not None:
        if overwrite:
            raise ArgumentError("overwrite: a resumed run continues in its own folder; drop overwrite")
        resume = resume_file(resume)
        state_in = ckpt.load_checkpoint(resume)
        config = TrainingConfig.from_dict(state_in["config"], source=f"{resume} config", recorded=True)
        config = dataclasses.replace(config, run_dir=str(resume.parent))  # the folder may have moved since
    config.validate()
    if config.loss_weights.get("transfer", 0.0) > 0:
        raise ConfigError("loss_weights.transfer: needs a teacher model, which `csipose train` does not load")
    if state_in is None:
        check_run_dir(Path(config.run_dir), overwrite=overwrite)  # every rank, before any rank writes
    ctx = setup()
    ended = False
    try:
        summary = _run(config, ctx, state_in, datasets, stop_after_steps, overwrite)
        ended = True
        return summary
    finally:
        teardown(ctx, synchronise=ended)


def _run(
    config: TrainingConfig,
    ctx: DistContext,
    state_in: dict[str, Any] | None,
    datasets: Datasets | None,
    stop_after_steps: int | None,
    overwrite: bool,
) -> dict[str, Any]:
    configure_torch(config)
    seed_everything(config.seed, ctx.rank)
    run_dir = Path(config.run_dir)
    train_set, val_set = datasets if datasets is not None else load_data(config)
    check_head_targets(config, train_set)
    domains = domain_split(train_set, val_set) if ctx.is_main and not config.persons else None
    if state_in is not None:
        model = build_stored_model(state_in, Path(config.run_dir) / "last.pt")
    else:
        model = build_model(**model_settings(config, train_set))
        model.preprocess = recorded_preprocess(train_set, model.shape)
        model.room_statistics = train_set.statistics if isinstance(train_set, RoomNormalised) else None
        model.seen_rooms = seen_rooms(train_set) if model.new_room_root else None
    baselines = fit_new_model(model, train_set, val_set, config, ctx, domains=domains) if state_in is None else {}
    model.to(ctx.device)
    learner = build_learner(model, config, ctx, steps_per_epoch(len(train_set), config, ctx))
    run = (restore(state_in, learner, rank=ctx.rank, world_size=ctx.world_size) if state_in is not None
           else RunState(baselines=baselines))
    if ctx.is_main:
        prepare_run_dir(run_dir, config, resumed_epochs=run.epoch if state_in is not None else None,
                        overwrite=overwrite)
    ctx.barrier()
    progress = StepProgress(
        total_steps=steps_per_epoch(len(train_set), config, ctx) * config.epochs,
        done_steps=run.step,
        enabled=config.progress and ctx.is_main,
    )
    if baselines:
        progress.write(baselines_line(baselines))
    stop_at = None if stop_after_steps is None else run.step + stop_after_steps
    try:
        while run.epoch < config.epochs and not run.stopped_early:
            clock = Stopwatch()
            if not train_one_epoch(run, learner, train_set, config, ctx, progress, clock, stop_at=stop_at):
                return {}
            record = close_epoch(run, learner, val_set, config, ctx, domains=domains)
            run.train_seconds += clock.lap()
            record["seconds"] = run.train_seconds
            rngs = rank_rngs(ctx)
            if ctx.is_main:
                append_metrics(run_dir, record)
                save_state(run_dir / "last.pt", run, learner, config, rng_ranks=rngs)
                progress.write(epoch_line(record))
        summary = finish(run, config, ctx, count_parameters(model), run_dir) if ctx.is_main else {}
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


def fit_new_model(
    model: PoseModel, train_set: Any, val_set: Any, config: TrainingConfig, ctx: DistContext, *,
    domains: DomainSplit | None = None,
) -> dict[str, Any]:
    """Sets a fresh model's mean pose; on rank 0 fits its input normalisation and readout, and
    returns the baselines' val reports (``{}`` on other ranks: DDP copies rank 0's fitted buffers),
    each with its in-domain and cross-domain reports when ``domains`` splits the val split."""
    model.set_mean_pose(torch.from_numpy(mean_pose(train_set, anchor=model.anchor)[:, : config.keypoint_dims]))
    if config.persons:
        model.set_presence_prior(torch.from_numpy(presence_rates(train_set, config.persons)))
    if not ctx.is_main:
        return {}
    fitted = fit_model_inputs(model, train_set, samples=config.baseline_samples,
                              fit_ridge=model.readout is not None or config.linear_baseline)
    ridge = fitted["ridge"] if config.linear_baseline else None
    if config.persons:
        reports = people_baseline_reports(model, ridge, train_set, val_set, partial(score_people, config=config))
    else:
        reports = baseline_reports(model, ridge, val_set, partial(score, skeleton=config.skeleton), domains=domains)
    if config.densepose:
        dp = densepose_baseline(train_set, val_set, samples=config.baseline_samples)
        reports["mean_pose_baseline"]["densepose"] = dict(dp.to_dict())
    if "linear_baseline" in reports:
        reports["linear_baseline"]["fit"].update(samples=fitted["samples"], seconds=fitted["seconds"])
    return reports


def steps_per_epoch(samples: int, config: TrainingConfig, ctx: DistContext) -> int:
    """Optimizer steps of one epoch on each rank."""
    return math.ceil(math.ceil(samples / ctx.world_size) / config.batch_size)


def build_learner(model: PoseModel, config: TrainingConfig, ctx: DistContext, steps: int) -> Learner:
    """The model (wrapped for DDP), AdamW, the learning-rate schedule over ``steps`` per epoch, the grad scaler."""
    net = wrap_ddp(model, ctx, find_unused_parameters=bool(untrained_heads(config)))
    optimizer = build_optimizer(model, config)
    return Learner(model=model, net=net, optimizer=optimizer, scheduler=build_scheduler(optimizer, config, steps),
                   scaler=grad_scaler(config, ctx))


# ------------------------------------------------------------------------ epoch
class Stopwatch:
    """Seconds between laps."""

    def __init__(self) -> None:
        self._last = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        seconds, self._last = now - self._last, now
        return seconds


def train_one_epoch(
    run: RunState,
    learner: Learner,
    train_set: Any,
    config: TrainingConfig,
    ctx: DistContext,
    progress: StepProgress,
    clock: Stopwatch,
    *,
    stop_at: int | None = None,
) -> bool:
    """Runs the (rest of the) epoch ``run.epoch`` from batch ``run.step_in_epoch``; writes step checkpoints.

    Returns False when it stopped at optimizer step ``stop_at`` before the epoch's end.

    Raises:
        TrainingError: the loss became NaN or infinite.
    """
    epoch = run.epoch
    losses = MultiTaskLoss(config.effective_loss_weights())
    per_epoch = steps_per_epoch(len(train_set), config, ctx)
    last_finite: tuple[int, float] | None = None
    learner.net.train()
    all_steps = per_epoch * config.epochs
    for batch in train_loader(train_set, config, ctx, epoch=epoch, start_batch=run.step_in_epoch):
        loss = train_step(learner.net, batch, learner.optimizer, learner.scheduler, learner.scaler, losses, config, ctx,
                          progress=min(run.step / all_steps, 1.0))
        if not math.isfinite(loss):
            raise non_finite_loss(loss, step=run.step + 1, epoch=epoch + 1, last_finite=last_finite, config=config)
        last_finite = (run.step + 1, loss)
        run.step += 1
        run.step_in_epoch += 1
        run.loss_sum += loss
        progress.update(epoch=epoch + 1, epochs=config.epochs, samples=int(batch["csi"].shape[0]) * ctx.world_size,
                        loss=loss)
        if stop_at is not None and run.step >= stop_at:
            return False
        every = config.checkpoint_every_steps
        if every and run.step % every == 0 and run.step_in_epoch < per_epoch:
            run.train_seconds += clock.lap()
            rngs = rank_rngs(ctx)
            if ctx.is_main:
                save_state(Path(config.run_dir) / "last.pt", run, learner, config, rng_ranks=rngs)
    return True


def rank_rngs(ctx: DistContext) -> list[dict[str, Any]] | None:
    """Every rank's RNG state in rank order for ``last.pt`` (None in a world of one); a collective
    in a data-parallel run: every rank calls it."""
    return ctx.all_gather_objects(ckpt.capture_rng()) if ctx.distributed else None


def close_epoch(run: RunState, learner: Learner, val_set: Any, config: TrainingConfig, ctx: DistContext, *,
                domains: DomainSplit | None = None) -> dict[str, Any]:
    """Ends epoch ``run.epoch``: the mean train loss over ranks, rank 0's buffers on every rank,
    validation when due with best / top-k checkpoints and early stopping (rank 0's bookkeeping on
    every rank); returns its record. ``domains`` (rank 0's split of the val split into training
    and unseen rooms) adds each side's PCK@20, MPJPE and frames to the record."""
    train_loss = ctx.all_reduce_mean(run.loss_sum / max(run.step_in_epoch, 1))
    sync_buffers(learner.model, ctx)
    run.epoch, run.step_in_epoch, run.loss_sum = run.epoch + 1, 0, 0.0
    record: dict[str, Any] = {"epoch": run.epoch, "step": run.step, "train_loss": train_loss,
                              "lr": learner.scheduler.get_last_lr()[0]}
    if run.epoch % config.val_every == 0 or run.epoch == config.epochs:
        report, overlay = evaluate_model(learner.model, val_set, config, ctx, domains=domains)
        if ctx.is_main:
            record["val"] = report_subset(report)
            if "domains" in report:
                record["val"]["domains"] = compact(report["domains"])
            improve(run, report, overlay, learner, config, Path(config.run_dir))
        sync_run(ctx, run)
    return record
