"""Validation: predictions of every rank gathered and scored once with the locked harness.

With test-time normalisation the validation split's windows come standardised by their own room's
statistics: a training room's from its training frames, any other room's re-estimated on that
room's validation frames (see :func:`csipose.train.data.load_split`)."""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from csipose.config import TrainingConfig
from csipose.data.collate import pad_slots
from csipose.train.data import eval_loader
from csipose.train.distributed import DistContext
from csipose.train.scoring import millimetres, percent, score
from csipose.train.step import autocast, forward

if TYPE_CHECKING:
    from csipose.train.domains import DomainSplit

__all__ = ["PCK_KEY", "evaluate_model", "predict", "predict_all", "predict_people", "report_subset", "score_people"]

#: The report entry that selects the best epoch and drives early stopping.
PCK_KEY = "20"
#: The batch entries a model may take: the window, and the room geometry (geometry-FiLM, anchored models).
_INPUTS = ("csi", "tx", "rx", "floor")


@torch.no_grad()
def predict(
    model: nn.Module, dataset: Any, config: TrainingConfig, ctx: DistContext
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """This rank's share of ``dataset``: ``(index[N], pred[N, J, D], gt[N, J, 3], visible[N, J])``."""
    return predict_all(model, dataset, config, ctx)[:4]  # type: ignore[return-value]


@torch.no_grad()
def predict_all(model: nn.Module, dataset: Any, config: TrainingConfig, ctx: DistContext) -> tuple[np.ndarray, ...]:
    """:func:`predict`, and with the DensePose head also ``(iuv_pred[N, 3, H, W], score[N],
    iuv_true[N, 3, H, W])`` (:func:`~csipose.models.densepose_head.iuv_from_outputs`)."""
    from csipose.models.densepose_head import iuv_from_outputs

    loader = eval_loader(dataset, config, ctx)
    was_training = model.training
    model.eval()
    parts: list[list[np.ndarray]] = [[] for _ in range(6 if config.densepose else 3)]
    for batch in loader:
        with autocast(config, ctx):
            out = forward(model, {k: v.to(ctx.device) for k, v in batch.items() if k in _INPUTS}, config)
        parts[0].append(out["keypoints"].float().cpu().numpy())
        parts[1].append(batch["keypoints"].numpy())
        parts[2].append(batch["visibility"].numpy())
        if config.densepose:
            iuv, confidence = iuv_from_outputs(out["dp_parts"], out["dp_uv"])
            parts[3].append(iuv.cpu().numpy())
            parts[4].append(confidence.cpu().numpy())
            parts[5].append(batch["densepose"].numpy())
    model.train(was_training)
    index = np.asarray(list(iter(loader.sampler)), dtype=np.int64)
    return (index, *(np.concatenate(p) for p in parts))


@torch.no_grad()
def predict_people(
    model: nn.Module, dataset: Any, config: TrainingConfig, ctx: DistContext
) -> tuple[np.ndarray, ...]:
    """This rank's share of ``dataset`` for a model with ``S`` person slots: ``(index[N],
    persons[N, S, J, D], presence[N, S] probabilities, gt[N, S, J, 3], visible[N, S, J],
    mask[N, S])``, the true people padded to ``S``."""
    loader = eval_loader(dataset, config, ctx)
    was_training = model.training
    model.eval()
    s = config.persons
    parts: list[list[np.ndarray]] = [[] for _ in range(5)]
    for batch in loader:
        with autocast(config, ctx):
            out = model(batch["csi"].to(ctx.device))
        parts[0].append(out["persons"].float().cpu().numpy())
        parts[1].append(torch.sigmoid(out["presence"].float()).cpu().numpy())
        for k, key in enumerate(("keypoints", "visibility", "person_mask"), start=2):
            parts[k].append(pad_slots(batch[key].numpy(), s))
    model.train(was_training)
    index = np.asarray(list(iter(loader.sampler)), dtype=np.int64)
    return (index, *(np.concatenate(p) for p in parts))


def score_people(persons: np.ndarray, presence: np.ndarray, gt: np.ndarray, vis: np.ndarray, mask: np.ndarray,
                 config: TrainingConfig) -> Any:
    """The multi-person :class:`~csipose.metrics.PoseReport` (:func:`csipose.metrics.evaluate_people`)."""
    from csipose.metrics import evaluate_people

    return evaluate_people(persons, presence, gt, gt_mask=mask, visible=vis, skeleton=config.skeleton)


def evaluate_model(
    model: nn.Module, dataset: Any, config: TrainingConfig, ctx: DistContext, *, domains: DomainSplit | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Val report dict and a few samples for overlays (rank 0 only; ``({}, {})`` elsewhere).

    Predictions of all ranks are gathered and scored once, on rank 0, with
    :func:`csipose.metrics.evaluate` (:func:`csipose.metrics.evaluate_people` with person slots).
    With ``domains`` (rank 0's :func:`~csipose.train.domains.domain_split` of ``dataset``; single
    person only) the report also carries ``"domains"``: the in-domain and cross-domain reports
    beside the rooms of each side.
    """
    if config.persons:
        gathered = ctx.all_gather_objects(predict_people(model, dataset, config, ctx))
        if not ctx.is_main:
            return {}, {}
        index = np.concatenate([p[0] for p in gathered])
        order = np.argsort(index, kind="stable")
        arrays = [np.concatenate([p[i] for p in gathered])[order] for i in range(1, 6)]
        best = arrays[1].argmax(axis=1)
        rows = np.arange(len(best))
        overlay = {"pred": arrays[0][rows, best][: config.overlays], "gt": arrays[2][:, 0][: config.overlays]}
        return dict(score_people(*arrays, config).to_dict()), overlay
    parts = ctx.all_gather_objects(predict_all(model, dataset, config, ctx))
    if not ctx.is_main:
        return {}, {}
    index = np.concatenate([p[0] for p in parts])
    order = np.argsort(index, kind="stable")
    arrays = [np.concatenate([p[i] for p in parts])[order] for i in range(1, len(parts[0]))]
    pred, gt, vis = arrays[:3]
    k = config.overlays
    overlay = {"pred": pred[:k], "gt": gt[:k]}
    report = score(pred, gt, vis, config.skeleton)
    if config.densepose:
        from csipose.metrics.densepose import evaluate_densepose

        iuv, confidence, truth = arrays[3:]
        report = dataclasses.replace(report, densepose=evaluate_densepose(iuv, truth, scores=confidence))
        overlay.update(iuv_pred=iuv[:k], iuv_gt=truth[:k])
    result = dict(report.to_dict())
    if domains is not None:
        by_room = domains.reports(pred, gt, vis, index[order], partial(score, skeleton=config.skeleton))
        result["domains"] = {**by_room, **domains.describe()}
    return result, overlay


def report_subset(report: dict[str, Any]) -> dict[str, Any]:
    """The figures of a report logged per epoch in ``metrics.jsonl``."""
    subset = {k: report[k] for k in ("pck", "auc", "mpjpe", "pa_mpjpe", "frames", "count_accuracy", "oks_ap")
              if k in report}
    if report.get("densepose"):
        subset["densepose"] = {k: report["densepose"][k] for k in ("dp_ap", "gpsm", "part_miou", "mask_iou")}
    return subset
