"""The locked score of predicted keypoints, and how its figures are printed (no torch here)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["millimetres", "percent", "score"]


def score(pred: np.ndarray, gt: np.ndarray, vis: np.ndarray | None = None, skeleton: str = "h36m17") -> Any:
    """The canonical :class:`csipose.metrics.PoseReport` of ``pred[N, J, D]`` against ``gt[N, J, >= D]``
    (``vis[N, J] > 0.5`` visible; None: all) on ``skeleton``."""
    from csipose.metrics import evaluate

    d = pred.shape[-1]
    visible = None if vis is None else np.asarray(vis) > 0.5
    return evaluate(pred.astype(np.float64), gt[..., :d].astype(np.float64), visible=visible, skeleton=skeleton)


def percent(fraction: float | None) -> str:
    """A PCK fraction for people (``"75.3%"``); ``"n/a"`` when nothing was scored (``None``)."""
    return "n/a" if fraction is None else f"{100 * fraction:.1f}%"


def millimetres(metres: float | None) -> str:
    """An MPJPE in metres for people (``"91 mm"``); ``"n/a"`` when it is ``None`` (nothing
    scored, or a non-finite prediction, which the report writes as ``None``)."""
    return "n/a" if metres is None else f"{1000 * metres:.0f} mm"
