"""In-domain and cross-domain validation: a run's val frames split by whether their room was trained on.

With leave-room-out data (e.g. ``synthetic.val_environments`` beside ``synthetic.val_subjects``)
the validation split holds held-out subjects of the training rooms (in-domain) and every frame of
the unseen rooms (cross-domain). :func:`domain_split` finds which val samples are which, once per
run; :meth:`DomainSplit.reports` scores each side with the locked harness, and
:func:`domain_gains` gives each side's PCK@20 gain over the mean pose and the gap ratio, the
cross-domain gain divided by the in-domain gain. A run whose val split has one side only (or
whose samples carry no ``"environment"`` id) has no split: ``None``.

No torch here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from csipose.errors import ShapeError
from csipose.train.scoring import percent

__all__ = [
    "MIN_GAIN",
    "SIDES",
    "DomainSplit",
    "compact",
    "domain_gains",
    "domain_reports",
    "domain_split",
    "domains_line",
    "sample_environments",
    "summary_block",
]

#: The two sides of a split: frames of rooms seen in training, frames of unseen rooms.
SIDES = ("in_domain", "cross_domain")
#: The in-domain PCK@20 gain over the mean pose (5 points) below which a gap ratio says nothing.
MIN_GAIN = 0.05
#: The report entry the gains are taken on (``csipose.train.evaluate.PCK_KEY``, PCK@20).
_PCK = "20"
_CHUNK = 512

Scorer = Callable[[np.ndarray, np.ndarray, "np.ndarray | None"], Any]


def sample_environments(dataset: Any) -> np.ndarray | None:
    """``int64[N]``: the environment (room) id of each of ``dataset``'s ``N`` samples; None when
    its samples carry none.

    Read without the CSI where the dataset allows: its ``label_environments()``, or its
    ``environment`` array (per row, picked by ``label_index``, or per sample); otherwise sample by
    sample.
    """
    n = len(dataset)
    reader = getattr(dataset, "label_environments", None)
    if callable(reader):
        return np.asarray(reader(), dtype=np.int64)
    rooms, rows = getattr(dataset, "environment", None), getattr(dataset, "label_index", None)
    if isinstance(rooms, np.ndarray) and isinstance(rows, np.ndarray) and len(rows) == n:
        return rooms[rows].astype(np.int64)
    if isinstance(rooms, np.ndarray) and rooms.ndim == 1 and len(rooms) == n:
        return rooms.astype(np.int64)
    if n == 0 or "environment" not in dataset[0]:
        return None
    out: list[int] = []
    for start in range(0, n, _CHUNK):
        part = list(range(start, min(start + _CHUNK, n)))
        samples = dataset.__getitems__(part) if hasattr(dataset, "__getitems__") else [dataset[i] for i in part]
        out.extend(int(s["environment"]) for s in samples)
    return np.asarray(out, dtype=np.int64)


@dataclass(frozen=True)
class DomainSplit:
    """The val samples' rooms and the rooms trained on.

    Attributes:
        environment: ``int64[N]``, the room of each val sample (by dataset index).
        training_rooms: the sorted environment ids of the training split.
    """

    environment: np.ndarray
    training_rooms: tuple[int, ...]

    def rooms(self) -> dict[str, list[int]]:
        """``{"in_domain": [ids], "cross_domain": [ids]}``: the val rooms on each side."""
        val = np.unique(self.environment)
        seen = np.isin(val, self.training_rooms)
        return {"in_domain": [int(e) for e in val[seen]], "cross_domain": [int(e) for e in val[~seen]]}

    def describe(self) -> dict[str, Any]:
        """``{"rooms": :meth:`rooms`, "training_rooms": [ids]}``, kept beside the reports."""
        return {"rooms": self.rooms(), "training_rooms": list(self.training_rooms)}

    def reports(self, pred: np.ndarray, gt: np.ndarray, visible: np.ndarray | None, index: np.ndarray,
                score: Scorer) -> dict[str, dict[str, Any]]:
        """:func:`domain_reports` of the val samples ``index: int[n]`` (the dataset index of each row)."""
        index = np.asarray(index, dtype=np.int64)
        if index.shape != (len(pred),):
            raise ShapeError(f"index: expected one val index per prediction (shape ({len(pred)},)), got {index.shape}")
        return domain_reports(pred, gt, visible, self.environment[index], self.training_rooms, score)


def domain_reports(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray | None, environment: np.ndarray,
                   training_rooms: Any, score: Scorer) -> dict[str, dict[str, Any]]:
    """``{"in_domain": report, "cross_domain": report}``: report dicts of the frames in a training
    room and of those in an unseen room (an empty side is left out).

    Args:
        pred: ``float[n, J, D]`` predictions.
        gt: ``float[n, J, >= D]`` their labels; ``visible``: ``[n, J]`` (``> 0.5`` visible) or None.
        environment: ``int[n]``, the room of each frame.
        training_rooms: the environment ids trained on (an iterable of ints).
        score: ``score(pred, gt, visible)``, the locked harness (a :class:`~csipose.metrics.PoseReport`).
    """
    n = len(pred)
    environment = np.asarray(environment)
    if environment.shape != (n,) or len(gt) != n or (visible is not None and len(visible) != n):
        raise ShapeError(f"environment: expected one room id per prediction (shape ({n},)), got shape "
                         f"{environment.shape} beside gt of {len(gt)} and visible of "
                         f"{None if visible is None else len(visible)} rows")  # fmt: skip
    seen = np.isin(environment, np.asarray(list(training_rooms), dtype=np.int64))
    out: dict[str, dict[str, Any]] = {}
    for side, rows in zip(SIDES, (seen, ~seen)):
        if rows.any():
            out[side] = dict(score(pred[rows], gt[rows], None if visible is None else visible[rows]).to_dict())
    return out


def domain_split(train_set: Any, val_set: Any) -> DomainSplit | None:
    """The split of ``val_set`` into training rooms and unseen rooms; None unless the samples carry
    environment ids and the val split holds both (one pass over each split's ids)."""
    val = sample_environments(val_set)
    if val is None or len(val) == 0:
        return None
    train = sample_environments(train_set)
    if train is None:
        return None
    split = DomainSplit(environment=val, training_rooms=tuple(int(e) for e in np.unique(train)))
    rooms = split.rooms()
    return split if rooms["in_domain"] and rooms["cross_domain"] else None


def _pck(report: dict[str, Any] | None) -> float | None:
    value = None if report is None else report.get("pck", {}).get(_PCK)
    return None if value is None else float(value)


def _gain(model: dict[str, Any] | None, mean: dict[str, Any] | None) -> float | None:
    a, b = _pck(model), _pck(mean)
    return None if a is None or b is None else a - b


def domain_gains(model: dict[str, Any], mean_pose: dict[str, Any]) -> dict[str, float | None]:
    """Each side's PCK@20 gain over the mean pose and the gap ratio.

    Args:
        model: the model's domain reports (``{"in_domain": report, "cross_domain": report}``).
        mean_pose: the mean pose's domain reports.

    Returns:
        ``{"in_domain_gain", "cross_domain_gain", "gap_ratio"}``: a gain is None where a side
        or its PCK is missing; the gap ratio (cross-domain gain / in-domain gain) is None when a
        gain is, or when the in-domain gain is under :data:`MIN_GAIN`.
    """
    inside = _gain(model.get("in_domain"), mean_pose.get("in_domain"))
    cross = _gain(model.get("cross_domain"), mean_pose.get("cross_domain"))
    ratio = None if inside is None or cross is None or inside < MIN_GAIN else cross / inside
    return {"in_domain_gain": inside, "cross_domain_gain": cross, "gap_ratio": ratio}


def compact(domains: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The figures of the domain reports logged per epoch: PCK@20, MPJPE and frames of each side."""
    return {side: {"pck": {_PCK: domains[side].get("pck", {}).get(_PCK)}, "mpjpe": domains[side].get("mpjpe"),
                   "frames": domains[side].get("frames")}
            for side in SIDES if side in domains}  # fmt: skip


def summary_block(model: dict[str, Any], baselines: dict[str, Any]) -> dict[str, Any] | None:
    """The ``domains`` block of ``summary.json``; None when the model's report has no domains.

    Args:
        model: the best val report (its ``"domains"``: :meth:`DomainSplit.reports` and
            :meth:`DomainSplit.describe`).
        baselines: the baselines' val reports, each with its own ``"domains"`` when scored.

    Returns:
        ``{"in_domain": model report, "cross_domain": model report, "mean_pose_baseline":
        {side: report}, "linear_baseline": {side: report}, "in_domain_gain",
        "cross_domain_gain", "gap_ratio", "rooms", "training_rooms"}`` (a baseline without
        domain reports is left out, and its gains are None).
    """
    domains = model.get("domains")
    if not domains:
        return None
    block: dict[str, Any] = {side: domains[side] for side in SIDES if side in domains}
    for name in ("mean_pose_baseline", "linear_baseline"):
        reports = baselines.get(name, {}).get("domains")
        if reports:
            block[name] = {side: reports[side] for side in SIDES if side in reports}
    block.update(domain_gains(block, block.get("mean_pose_baseline", {})))
    for key in ("rooms", "training_rooms"):
        if key in domains:
            block[key] = domains[key]
    return block


def _points(gain: float | None) -> str:
    return "n/a" if gain is None else f"{100 * gain:+.1f}"


def domains_line(block: dict[str, Any]) -> str:
    """One line of a run's ``domains`` block (:func:`summary_block`), e.g. ``domains: in-domain
    PCK@20 64.1% (+24.0 over mean pose), cross-domain 33.1% (-5.3), gap ratio -0.22``."""
    ratio = block.get("gap_ratio")
    said = f"{ratio:.2f}" if ratio is not None else f"n/a (in-domain gain under {100 * MIN_GAIN:.0f} points)"
    return (f"domains: in-domain PCK@20 {percent(_pck(block.get('in_domain')))} "
            f"({_points(block.get('in_domain_gain'))} over mean pose), cross-domain "
            f"{percent(_pck(block.get('cross_domain')))} ({_points(block.get('cross_domain_gain'))}), "
            f"gap ratio {said}")  # fmt: skip
