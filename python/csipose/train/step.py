"""One optimisation step: the optimizer, the loss terms the config weights, forward/backward/update."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from csipose.config import TrainingConfig
from csipose.errors import TrainingError
from csipose.losses import (
    MultiTaskLoss,
    bone_length_loss,
    densepose_part_loss,
    densepose_uv_loss,
    domain_loss,
    gaussian_heatmaps,
    heatmap_loss,
    keypoint_loss,
    oks_loss,
    set_prediction_losses,
)
from csipose.skeletons import get_skeleton
from csipose.train.distributed import DistContext

__all__ = [
    "UNIFORM_OKS_SIGMA",
    "autocast",
    "build_optimizer",
    "forward",
    "grad_scaler",
    "loss_terms",
    "non_finite_loss",
    "train_step",
    "untrained_heads",
]

#: OKS constant used for every joint of layouts without COCO sigmas (H36M-17).
UNIFORM_OKS_SIGMA = 0.07


def build_optimizer(model: nn.Module, config: TrainingConfig) -> torch.optim.AdamW:
    """AdamW; matrices and convolution kernels decay, biases/norms/embeddings do not."""
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embedding" not in n and "queries" not in n]
    keep = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embedding" not in n and "queries" not in n)]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": keep, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(config.betas[0], config.betas[1]), foreach=False)


def grad_scaler(config: TrainingConfig, ctx: DistContext) -> torch.amp.GradScaler:
    """fp16 loss scaling, enabled only for fp16 autocast on CUDA."""
    return torch.amp.GradScaler("cuda", enabled=ctx.device.type == "cuda" and config.amp == "fp16")


def autocast(config: TrainingConfig, ctx: DistContext) -> Any:
    """The config's mixed precision on CUDA; a no-op elsewhere."""
    enabled = ctx.device.type == "cuda" and config.amp != "off"
    dtype = torch.bfloat16 if config.amp == "bf16" else torch.float16
    return torch.autocast(device_type=ctx.device.type, dtype=dtype, enabled=enabled)


def untrained_heads(config: TrainingConfig) -> list[str]:
    """The enabled optional heads (or head outputs) no weighted loss term reaches.

    Their parameters get no gradient; data-parallel training must be told so.
    """
    w = config.effective_loss_weights()
    heads = []
    if config.heatmap and w.get("heatmap", 0.0) <= 0:
        heads.append("heatmap")
    if config.densepose:
        heads += [term for term in ("densepose_parts", "densepose_uv") if w.get(term, 0.0) <= 0]
    return heads


def loss_terms(out: dict[str, Tensor], batch: dict[str, Tensor], config: TrainingConfig) -> dict[str, Tensor]:
    """The loss terms the config weights, from model outputs and a batch."""
    d = config.keypoint_dims
    if config.persons:
        return set_prediction_losses(
            out["persons"].float(), out["presence"], batch["keypoints"][..., :d], batch["visibility"],
            batch["person_mask"], kind=config.keypoint_loss, bones=get_skeleton(config.skeleton).bones,
        )  # fmt: skip
    gt = batch["keypoints"][..., :d]
    vis = batch["visibility"]
    pred = out["keypoints"].float()
    w = config.effective_loss_weights()
    terms: dict[str, Tensor] = {}
    if w.get("keypoints", 0.0) > 0:
        terms["keypoints"] = keypoint_loss(pred, gt, vis, kind=config.keypoint_loss)
    if w.get("bone", 0.0) > 0:
        terms["bone"] = bone_length_loss(pred, gt, vis, bones=get_skeleton(config.skeleton).bones)
    if w.get("oks", 0.0) > 0:
        sigmas = [UNIFORM_OKS_SIGMA] * pred.shape[1]
        terms["oks"] = oks_loss(pred, gt, vis, sigmas=sigmas)
    if w.get("heatmap", 0.0) > 0:
        target = gaussian_heatmaps(
            batch["keypoints"][..., :2], size=config.heatmap_size, extent=config.heatmap_extent, sigma=config.heatmap_sigma
        )
        terms["heatmap"] = heatmap_loss(out["heatmap"].float(), target, vis)
    if config.densepose:  # the IUV label: part index, then U and V
        parts = batch["densepose"][:, 0].round().long()
        if w.get("densepose_parts", 0.0) > 0:
            terms["densepose_parts"] = densepose_part_loss(out["dp_parts"].float(), parts)
        if w.get("densepose_uv", 0.0) > 0:
            terms["densepose_uv"] = densepose_uv_loss(out["dp_uv"].float(), batch["densepose"][:, 1:3], parts)
    if config.domain_adversarial > 0:
        terms["domain"] = domain_loss(out["domain"], batch["room_class"])
    return terms


def forward(model: nn.Module, batch: dict[str, Tensor], config: TrainingConfig, *, progress: float | None = None
            ) -> dict[str, Tensor]:
    """The model's outputs for ``batch``: with the room geometry (``tx``, ``rx``, ``floor``) when
    the batch has it, and in training (``progress`` in [0, 1] given) with the domain
    classifier's logits behind a gradient reversal of strength
    :func:`~csipose.domain.reversal_schedule` ``(progress)``."""
    kwargs: dict[str, Any] = {}
    if "tx" in batch:  # the room geometry, for a geometry-FiLM or anchored model (others ignore it)
        from csipose.train.data import geometry_of

        kwargs["geometry"] = geometry_of(batch)
    if config.domain_adversarial > 0 and progress is not None:
        from csipose.domain import reversal_schedule

        kwargs["reversal"] = reversal_schedule(progress)
    return model(batch["csi"], **kwargs)


def clip_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """The parameter groups whose gradient norms are clipped apart: the pose model's, and the
    DensePose head's (it learns on detached features and joints, so its gradients leave the pose
    model's steps exactly as they are without it)."""
    net = getattr(model, "module", model)  # the model inside a DDP wrapper
    head = getattr(net, "densepose_head", None)
    if head is None:
        return [list(model.parameters())]
    own = {id(p) for p in head.parameters()}
    return [[p for p in model.parameters() if id(p) not in own], list(head.parameters())]


def train_step(
    model: nn.Module,
    batch: dict[str, Tensor],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    losses: MultiTaskLoss,
    config: TrainingConfig,
    ctx: DistContext,
    *,
    progress: float = 0.0,
) -> float:
    """One optimizer step on ``batch`` at training ``progress`` (steps done / all steps, in [0, 1]:
    it sets the domain-adversarial reversal strength); returns the total loss.

    A non-finite loss is returned before any update (weights, optimizer and schedule stay
    as they were); the caller reports it (:func:`non_finite_loss`).
    """
    batch = {k: v.to(ctx.device, non_blocking=True) for k, v in batch.items() if isinstance(v, Tensor)}
    if config.domain_adversarial > 0:
        classifier: Any = getattr(model, "module", model).domain_head  # DDP wraps the model
        batch["room_class"] = classifier.labels(batch["environment"])
    with autocast(config, ctx):
        out = forward(model, batch, config, progress=progress)
    total, _ = losses(loss_terms(out, batch, config))
    value = float(total.detach())  # one device sync per step
    if not math.isfinite(value):
        return value
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(total).backward()
    if config.grad_clip > 0:
        scaler.unscale_(optimizer)
        for group in clip_groups(model):
            nn.utils.clip_grad_norm_(group, config.grad_clip, foreach=False)
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    return value


def non_finite_loss(value: float, *, step: int, epoch: int, last_finite: tuple[int, float] | None,
                    config: TrainingConfig) -> TrainingError:
    """The error of a loss that became ``value`` at optimizer step ``step`` (1-based) of ``epoch`` (1-based).

    ``last_finite`` is ``(step, loss)`` of the last finite loss this process saw, if any.
    """
    before = (f"the last finite loss was {last_finite[1]:.6g} at step {last_finite[0]}" if last_finite
              else "no finite loss came before it in this process")
    return TrainingError(
        f"step {step} (epoch {epoch}): the training loss became {value}; {before}. "
        f"Lower lr (now {config.lr:g}) or check the data for NaN/inf"
    )
