"""Multi-object tracking metrics (CLEAR-MOT and ID measures), equal to py-motmetrics.

Each frame is ``(gt_ids, pred_ids, distances)`` as in py-motmetrics'
``MOTAccumulator.update``: ``distances[i, j]`` is the distance between ground
truth ``gt_ids[i]`` and prediction ``pred_ids[j]``, and a non-finite entry
(NaN, or an infinity) means the pair may not be matched. Frames are read in
order, as py-motmetrics does:

1. a ground truth keeps the prediction it was last matched to when that
   prediction is present and their distance is finite (a match);
2. the remaining ground truths and predictions are paired by a least-cost
   assignment over finite distances (the most pairs, then the least total
   distance); a ground truth paired with another prediction than its last one
   is an identity switch, otherwise a match;
3. unpaired ground truths are misses, unpaired predictions false positives.

``mota = 1 - (misses + false positives + switches) / objects``; ``motp`` is
the mean distance of matches and switches (in the units of ``distances``,
lower is better, as py-motmetrics reports it). A fragmentation is a run of
misses of one ground truth between two frames in which it is tracked. The ID
measures (Ristani et al. 2016) pair whole ground-truth and predicted
trajectories one-to-one so that the number of frames in which paired ids are
both present at a finite distance (``idtp``) is largest;
``idf1 = 2 idtp / (objects + predictions)``.

A ratio with nothing to divide (no ground truth for ``mota`` and ``idr``, no
match for ``motp``) is NaN (``None`` in ``to_dict()``); py-motmetrics reports
NaN or ``-inf`` there. Ties in step 2 (two assignments of the same total
distance) may be broken differently from py-motmetrics' solver. Everything
after reading the frames runs in the Rust core.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from csipose import _core
from csipose.errors import ArgumentError, DTypeError, ShapeError
from csipose.metrics._result import MetricResult

__all__ = ["MOTResult", "mot"]


@dataclass(frozen=True)
class MOTResult(MetricResult):
    """CLEAR-MOT and ID measures of a sequence, named as py-motmetrics names them.

    Attributes:
        mota: multiple object tracking accuracy; NaN without ground truth.
        motp: mean distance of matched pairs (matches and switches); NaN without any.
        idf1, idp, idr: identity F1, precision and recall.
        precision, recall: detections over predictions, detections over objects.
        num_frames: frames read (empty ones included).
        num_objects: ground-truth appearances; num_predictions: prediction appearances.
        num_matches: MATCH events (switches not included); num_switches: identity switches;
            num_detections: matches + switches.
        num_misses, num_false_positives, num_fragmentations: as above.
        num_unique_objects: distinct ground-truth ids.
        mostly_tracked, partially_tracked, mostly_lost: ground truths tracked in
            >= 80 %, [20 %, 80 %) and < 20 % of their frames.
        idtp, idfp, idfn: identity true positives, false positives, false negatives.
    """

    mota: float
    motp: float
    idf1: float
    idp: float
    idr: float
    precision: float
    recall: float
    num_frames: int
    num_objects: int
    num_predictions: int
    num_matches: int
    num_switches: int
    num_detections: int
    num_misses: int
    num_false_positives: int
    num_fragmentations: int
    num_unique_objects: int
    mostly_tracked: int
    partially_tracked: int
    mostly_lost: int
    idtp: int
    idfp: int
    idfn: int

    @property
    def definition(self) -> str:
        return (
            "CLEAR-MOT (py-motmetrics MOTAccumulator: previous matches kept while their distance is finite, "
            "then a least-cost assignment; MOTP = mean matched distance) and ID measures (global trajectory matching)"
        )


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else float("nan")


def _ids(x: Any, frame: int, arg: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise ShapeError(f"frames[{frame}].{arg}: expected a 1-d array of ids, got shape {a.shape}")
    if a.size == 0:
        return np.empty(0, dtype=np.int64)
    if a.dtype.kind == "u":
        if a.max() > np.iinfo(np.int64).max:
            raise ArgumentError(f"frames[{frame}].{arg}: ids must fit in int64, got {a.max()}")
    elif a.dtype.kind != "i":
        raise DTypeError(f"frames[{frame}].{arg}: expected an integer array, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


def _distances(x: Any, g: int, h: int, frame: int) -> np.ndarray:
    a = np.asarray(x)
    if g * h == 0 and a.size == 0:
        return np.empty(0, dtype=np.float64)
    if a.dtype.kind not in "fiu":
        raise DTypeError(f"frames[{frame}].distances: expected a real-valued array, got dtype {a.dtype}")
    if a.shape != (g, h):
        raise ShapeError(f"frames[{frame}].distances: expected shape ({g}, {h}) (gt_ids x pred_ids), got {a.shape}")
    return a.astype(np.float64, copy=False).ravel()


def mot(frames: Iterable[tuple[Any, Any, Any]]) -> MOTResult:
    """CLEAR-MOT and ID measures of a sequence of ``(gt_ids, pred_ids, distances)`` frames.

    ``gt_ids`` and ``pred_ids`` are 1-d integer arrays (any int dtype, values that
    fit in int64, each id at most once per frame); ``distances`` is ``[G, H]``
    (an empty array is accepted for a frame with no ground truth or no
    prediction), non-finite where a pair may not match. Equal to py-motmetrics'
    ``MOTAccumulator`` + ``compute`` (see the module docstring).
    """
    gts: list[np.ndarray] = []
    preds: list[np.ndarray] = []
    dists: list[np.ndarray] = []
    for f, frame in enumerate(frames):
        try:
            gt_ids, pred_ids, distances = frame
        except (TypeError, ValueError):
            raise ArgumentError(f"frames[{f}]: expected a (gt_ids, pred_ids, distances) triple") from None
        g = _ids(gt_ids, f, "gt_ids")
        p = _ids(pred_ids, f, "pred_ids")
        gts.append(g)
        preds.append(p)
        dists.append(_distances(distances, g.size, p.size, f))

    def flat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype=dtype)

    def offsets(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([[0], np.cumsum([p.size for p in parts], dtype=np.int64)]).astype(np.int64)

    c = _core.mot_counts(
        flat(gts, np.int64), offsets(gts), flat(preds, np.int64), offsets(preds), flat(dists, np.float64)
    )
    n_obj, n_pred = int(c["num_objects"]), int(c["num_predictions"])
    matches, switches = int(c["num_matches"]), int(c["num_switches"])
    misses, fps = int(c["num_misses"]), int(c["num_false_positives"])
    detections = matches + switches
    idtp = int(c["idtp"])
    return MOTResult(
        mota=1.0 - (misses + switches + fps) / n_obj if n_obj > 0 else float("nan"),
        motp=_ratio(float(c["total_distance"]), detections),
        idf1=_ratio(2 * idtp, n_obj + n_pred),
        idp=_ratio(idtp, n_pred),
        idr=_ratio(idtp, n_obj),
        precision=_ratio(detections, fps + detections),
        recall=_ratio(detections, n_obj),
        num_frames=int(c["num_frames"]),
        num_objects=n_obj,
        num_predictions=n_pred,
        num_matches=matches,
        num_switches=switches,
        num_detections=detections,
        num_misses=misses,
        num_false_positives=fps,
        num_fragmentations=int(c["num_fragmentations"]),
        num_unique_objects=int(c["num_unique_objects"]),
        mostly_tracked=int(c["mostly_tracked"]),
        partially_tracked=int(c["partially_tracked"]),
        mostly_lost=int(c["mostly_lost"]),
        idtp=idtp,
        idfp=n_pred - idtp,
        idfn=n_obj - idtp,
    )
