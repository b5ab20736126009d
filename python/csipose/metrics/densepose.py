"""DensePose scores of IUV images: GPS, GPSm, body-mask IoU, part IoU and dpAP.

Predictions and ground truth are IUV images as the dataset gives them,
``float32`` or ``float64 [N, 3, H, W]``: channel 0 the part index (0 background,
1-24, stored as a float), channels 1 and 2 the chart coordinates ``U``, ``V`` in
``[0, 1]`` of :mod:`csipose.densepose.surface`. A prediction is a model's argmax
part with its ``U``, ``V``. Geodesics are measured on the canonical body of
:func:`csipose.densepose.surface.canonical_arrays` (infinite across parts), and
every figure is computed in the Rust core.

- GPS of a true body pixel: ``exp(-g^2 / (2 kappa^2))``, ``kappa = 0.255`` m
  (DensePose's), ``g`` the geodesic between the predicted and the true ``(U, V)``;
  0 where the predicted part differs or is background.
- Per frame: GPS (mean over its true body pixels), mask IoU (predicted
  foreground ``part > 0`` against the true one) and GPSm ``= sqrt(GPS * mask IoU)``,
  DensePose's masked GPS. A frame without a true body pixel has no GPS or GPSm
  (NaN) and is left out of their means; its mask IoU is 0 if anything is
  predicted there, NaN if not.
- Pooled over all frames: per-part IoU (summed intersections over summed unions
  of parts 1-24; NaN for a part absent from both), part mIoU (the mean of the
  defined part IoUs, background excluded as in DensePose), mask IoU.
- dpAP: COCO's AP (:mod:`csipose.metrics.oks_ap`'s protocol, the same Rust code)
  with GPSm in place of OKS: each frame is an image with one true person when
  it has a body pixel and one predicted person when its predicted foreground is
  not empty, scored by ``scores`` (default: the predicted-foreground fraction of
  the frame; ties keep frame order). Thresholds 0.50:0.05:0.95, greedy matching
  best score first, 101-point interpolated precision; AP50 and AP75 at 0.50 and 0.75.

``pred`` and ``true`` are read in place when they share a float dtype (any memory
layout; copied only when not C-contiguous); a float32 / float64 pair is scored in
float64. Bad values are errors naming the argument: a part index that is not an integer
0-24 (NaN included), or a true ``U``, ``V`` that is not finite or outside
``[0, 1]`` (beyond float rounding) on a body pixel. A predicted ``U``, ``V`` is
clamped to ``[0, 1]``; a non-finite one scores GPS 0 on its pixel.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from csipose import _core
from csipose.densepose.surface import PART_NAMES, canonical_arrays
from csipose.errors import ShapeError
from csipose.metrics._result import MetricResult
from csipose.metrics.oks_ap import IOU_THRESHOLDS, RECALL_THRESHOLDS

__all__ = ["DEFINITIONS", "KAPPA", "DensePoseReport", "densepose_gps", "evaluate_densepose"]

#: DensePose's GPS constant, in metres (the Rust core's).
KAPPA: float = _core.DENSEPOSE_KAPPA

#: One line per figure of :class:`DensePoseReport`.
DEFINITIONS: dict[str, str] = {
    "gps": (
        f"GPS: exp(-g^2 / (2 * {KAPPA}^2)) per true body pixel, g the geodesic on the canonical body "
        "(0 for a wrong or background part), averaged per frame, then over frames with a true body"
    ),
    "gpsm": "GPSm: sqrt(GPS * body-mask IoU) per frame, averaged over frames with a true body",
    "mask_iou": "mask IoU: predicted vs true foreground (part > 0), intersections and unions summed over frames",
    "part_iou": "part IoU: per part 1-24, pixels of that part in both images over pixels in either, summed over frames",
    "part_miou": "part mIoU: mean of the part IoUs of parts present in either image (background excluded)",
    "dp_ap": (
        "dpAP: COCO AP with GPSm as the similarity, thresholds .50:.05:.95, one true and at most one "
        "predicted person per frame, greedy matching by score, 101-point interpolated precision"
    ),
    "dp_ap50": "dpAP50: dpAP at the GPSm threshold 0.50",
    "dp_ap75": "dpAP75: dpAP at the GPSm threshold 0.75",
}


@dataclass(frozen=True, eq=False)
class DensePoseReport(MetricResult):
    """DensePose scores of a batch (definitions in :data:`DEFINITIONS`).

    Attributes:
        dp_ap, dp_ap50, dp_ap75: dpAP over GPSm thresholds .50:.05:.95, at .50 and at .75;
            NaN when no frame has a true body.
        gpsm: mean GPSm over frames with a true body; NaN if none.
        gps: mean GPS over the same frames.
        part_miou: mean of the defined ``part_iou``; NaN if none.
        mask_iou: pooled body-mask IoU.
        part_iou: float64[24] pooled IoU of parts 1-24 (index 0 is part 1); NaN for a
            part in neither image.
        frames: frames scored; body_frames: those with a true body pixel.
    """

    dp_ap: float
    dp_ap50: float
    dp_ap75: float
    gpsm: float
    gps: float
    part_miou: float
    mask_iou: float
    part_iou: np.ndarray
    frames: int
    body_frames: int

    @property
    def definition(self) -> str:
        return "\n".join(DEFINITIONS.values())

    def _dict_items(self) -> Iterable[tuple[str, Any]]:
        yield from super()._dict_items()
        yield "part_names", PART_NAMES[1:]

    def summary(self) -> str:
        lines = [f"DensePose: {self.frames:,} frames, {self.body_frames:,} with a body"]
        for name in ("dp_ap", "dp_ap50", "dp_ap75", "gpsm", "gps", "part_miou", "mask_iou"):
            value = getattr(self, name)
            lines.append(f"  {name:<9} {100 * value:6.2f}" if np.isfinite(value) else f"  {name:<9}    n/a")
        return "\n".join(lines)


def _as_pair(pred: Any, true: Any) -> tuple[np.ndarray, np.ndarray]:
    """``pred``, ``true`` as arrays of one float dtype (float64 when their float dtypes
    differ); other dtypes and shapes are left for the core to refuse by name."""
    p, t = np.asarray(pred), np.asarray(true)
    floats = (np.dtype(np.float32), np.dtype(np.float64))
    if p.dtype != t.dtype and p.dtype in floats and t.dtype in floats:
        p, t = p.astype(np.float64), t.astype(np.float64)
    return p, t


def densepose_gps(pred: Any, true: Any) -> np.ndarray:
    """Per-pixel GPS of ``pred`` against ``true``.

    Args:
        pred: float[N, 3, H, W] predicted IUV images (part, U, V).
        true: float[N, 3, H, W] true IUV images.

    Returns:
        float[N, H, W] of the inputs' dtype: GPS on true body pixels (0 where the
        predicted part differs), NaN elsewhere.
    """
    p, t = _as_pair(pred, true)
    return _core.densepose_gps(p, t, *canonical_arrays())


def _mean_defined(x: np.ndarray) -> float:
    return float(np.mean(x)) if x.size and (x > -1).all() else float("nan")


def evaluate_densepose(pred: Any, true: Any, scores: Any = None) -> DensePoseReport:
    """Every DensePose figure of ``pred`` against ``true``.

    Args:
        pred: float[N, 3, H, W] predicted IUV images (part, U, V).
        true: float[N, 3, H, W] true IUV images.
        scores: float[N] confidence of each frame's predicted person (e.g. the
            model's mean foreground probability), finite; default the predicted
            foreground fraction of each frame. Only frames with a predicted
            foreground hold a predicted person.
    """
    p, t = _as_pair(pred, true)
    s = None
    if scores is not None:
        s = np.ascontiguousarray(scores, dtype=np.float64)
        if s.ndim != 1:
            raise ShapeError(f"scores: expected one score per frame, shape (N,), got {s.shape}")
    out = _core.densepose_eval(p, t, *canonical_arrays(), s, IOU_THRESHOLDS, RECALL_THRESHOLDS)
    precision = out["precision"]
    t50 = int(np.flatnonzero(np.isclose(IOU_THRESHOLDS, 0.5))[0])
    t75 = int(np.flatnonzero(np.isclose(IOU_THRESHOLDS, 0.75))[0])
    body = ~np.isnan(out["gpsm"])
    return DensePoseReport(
        dp_ap=_mean_defined(precision),
        dp_ap50=_mean_defined(precision[t50]),
        dp_ap75=_mean_defined(precision[t75]),
        gpsm=float(np.mean(out["gpsm"][body])) if body.any() else float("nan"),
        gps=float(np.mean(out["gps"][body])) if body.any() else float("nan"),
        part_miou=float(out["part_miou"]),
        mask_iou=float(out["mask_iou_pooled"]),
        part_iou=out["part_iou"],
        frames=len(body),
        body_frames=int(body.sum()),
    )
