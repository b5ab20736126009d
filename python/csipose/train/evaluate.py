"""Validation: predictions of every rank gathered and scored once with the locked harness."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from csipose.config import TrainingConfig
from csipose.train.data import eval_loader
from csipose.train.distributed import DistContext
from csipose.train.scoring import millimetres, percent, score
from csipose.train.step import autocast

__all__ = ["PCK_KEY", "evaluate_model", "predict", "report_subset"]

#: The report entry that selects the best epoch and drives early stopping.
PCK_KEY = "20"


@torch.no_grad()
def predict(
    model: nn.Module, dataset: Any, config: TrainingConfig, ctx: DistContext
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """This rank's share of ``dataset``: ``(index[N], pred[N, J, D], gt[N, J, 3], visible[N, J])``."""
    loader = eval_loader(dataset, config, ctx)
    was_training = model.training
    model.eval()
    preds, gts, vis = [], [], []
    for batch in loader:
        with autocast(config, ctx):
            out = model(batch["csi"].to(ctx.device))
        preds.append(out["keypoints"].float().cpu().numpy())
        gts.append(batch["keypoints"].numpy())
        vis.append(batch["visibility"].numpy())
    model.train(was_training)
    index = np.asarray(list(iter(loader.sampler)), dtype=np.int64)
    return index, np.concatenate(preds), np.concatenate(gts), np.concatenate(vis)


def evaluate_model(
    model: nn.Module, dataset: Any, config: TrainingConfig, ctx: DistContext
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Val report dict and a few samples for overlays (rank 0 only; ``({}, {})`` elsewhere).

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
    return dict(score(pred, gt, vis, config.skeleton).to_dict()), overlay


def report_subset(report: dict[str, Any]) -> dict[str, Any]:
    """The figures of a report logged per epoch in ``metrics.jsonl``."""
    return {k: report[k] for k in ("pck", "auc", "mpjpe", "pa_mpjpe", "frames") if k in report}
