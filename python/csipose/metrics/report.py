"""The locked evaluation: one call (or one streaming accumulator) that scores a
split with the canonical definitions and reports every number with its definition.

A :class:`PoseReport` holds canonical torso PCK at the requested thresholds,
per-joint PCK, the AUC of the PCK curve over 0..50, MPJPE raw,
root-aligned and Procrustes-aligned, and the root position error (where the
person is, apart from their shape). :class:`PoseAccumulator` gives exactly the
report of :func:`evaluate` on the concatenation of its batches: PCK is kept as
integer counts and MPJPE as per-frame sums reduced once at the end.

Non-finite values follow the policy of :mod:`csipose.metrics`: a frame whose
ground truth cannot be scored is left out of every number and counted in
``unscoreable_frames``; a frame with a non-finite prediction is a miss for PCK,
makes the MPJPEs ``+inf`` (``None`` in :meth:`PoseReport.to_dict`) and is
counted in ``failed_frames``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from csipose.metrics._inputs import as_poses, as_thresholds, threshold_key
from csipose.metrics._result import MetricResult
from csipose.metrics.mpjpe import frame_errors, pooled, root_joints
from csipose.metrics.pck import (
    CURVE_THRESHOLDS,
    DEFAULT_THRESHOLDS,
    PCKResult,
    PckCounts,
    auc,
    compute_counts,
    resolve_spec,
    result_from_counts,
)
from csipose.skeletons import Skeleton, get_skeleton

__all__ = ["PoseAccumulator", "PoseReport", "evaluate"]

_ALIGNS = ("none", "root", "procrustes")


@dataclass(frozen=True, eq=False)
class PoseReport(MetricResult):
    """Canonical scores of a set of predicted poses.

    Attributes:
        skeleton: the layout name.
        joint_names: one name per joint.
        frames: frames evaluated.
        pck: canonical torso PCK at the requested thresholds.
        curve: the same PCK at 0, 1, ..., 50 (the curve behind :attr:`auc`).
        auc: normalised area under :attr:`curve`.
        mpjpe, mpjpe_root, pa_mpjpe: mean joint error raw, root-aligned and
            Procrustes-aligned, in input units; NaN when no joint counted, ``+inf``
            when a prediction of a counted joint is not finite.
        mpjpe_joints: joints counted by each MPJPE (``none``, ``root``, ``procrustes``).
        root_error: mean Euclidean distance between the predicted and the true root (H36M-17:
            the pelvis; COCO-17: the hip midpoint) over the frames whose root is visible, in
            input units; NaN when no such frame, ``+inf`` when a predicted root is not finite.
        root_frames: frames counted by :attr:`root_error` (those of the root-aligned MPJPE).
        failed_frames: frames whose prediction has a non-finite coordinate in a joint
            that counts (scored, as misses and infinite errors).
        definition: every definition used, one line each.
        count_accuracy, count_error, oks_ap, people: the multi-person figures of
            :func:`csipose.metrics.evaluate_people` (None for one person per frame).
        densepose: the body-surface figures of :func:`csipose.metrics.evaluate_densepose`
            (a :class:`~csipose.metrics.DensePoseReport`; None for a model without DensePose).
    """

    skeleton: str
    joint_names: tuple[str, ...]
    frames: int
    pck: PCKResult
    curve: PCKResult
    auc: float
    mpjpe: float
    mpjpe_root: float
    pa_mpjpe: float
    mpjpe_joints: tuple[int, int, int]
    failed_frames: int
    definition: str
    root_error: float = math.nan
    root_frames: int = 0
    count_accuracy: float | None = None
    count_error: float | None = None
    oks_ap: float | None = None
    people: dict[str, int] | None = None
    densepose: Any = None

    @property
    def unscoreable_frames(self) -> int:
        return self.pck.unscoreable_frames

    def _dict_items(self) -> Iterable[tuple[str, Any]]:
        p = self.pck
        yield from [
            ("definition", self.definition),
            ("skeleton", self.skeleton),
            ("frames", self.frames),
            ("unscoreable_frames", p.unscoreable_frames),
            ("failed_frames", self.failed_frames),
            ("pck", p.as_dict()),
            ("pck_per_joint", {threshold_key(k): row for k, row in zip(p.thresholds, p.per_joint)}),
            ("auc", self.auc),
            ("mpjpe", self.mpjpe),
            ("mpjpe_root", self.mpjpe_root),
            ("pa_mpjpe", self.pa_mpjpe),
            ("root_error", self.root_error),
            ("root_frames", self.root_frames),
            ("joint_names", self.joint_names),
            ("scored_joints", p.scored_joints.sum()),
            ("empty_frames", p.empty_frames),
            ("fallback_frames", p.fallback_frames),
        ]
        if self.people is not None:
            yield from [("count_accuracy", self.count_accuracy), ("count_error", self.count_error),
                        ("oks_ap", self.oks_ap), ("people", self.people)]  # fmt: skip
        if self.densepose is not None:
            yield ("densepose", self.densepose.to_dict())

    def summary(self) -> str:
        """Multi-line human-readable scores (PCK in percent)."""
        p = self.pck
        pcks = "  ".join(f"@{threshold_key(k)} {_pct(v)}" for k, v in zip(p.thresholds, p.pck))
        lines = []
        if self.people is not None:
            n = self.people
            lines.append(
                f"{n['frames']} frames of {n['people']} people: count accuracy {_pct(self.count_accuracy)}, "
                f"count error {_num(self.count_error)}; {n['matched']} matched, {n['missed']} missed, "
                f"{n['false_positives']} false positive(s); OKS-AP {_pct(self.oks_ap)}; per person:"
            )
        unit = "frames" if self.people is None else "people"  # the per-person scores count people
        lines += [
            f"{self.frames} {unit}, skeleton {self.skeleton}: {p.scored_frames} scored, "
            f"{p.unscoreable_frames} unscoreable, {p.empty_frames} without visible joints, "
            f"{p.fallback_frames} hip-width fallback, {self.failed_frames} with a non-finite prediction",
            f"PCK (torso)  {pcks}",
            f"AUC (PCK 0..50)  {_pct(self.auc)}",
            f"MPJPE {_num(self.mpjpe)}   root error {_num(self.root_error)}   root-aligned {_num(self.mpjpe_root)}   "
            f"PA-MPJPE {_num(self.pa_mpjpe)}   (input units)",
        ]
        if p.per_joint.size:
            mid = p.thresholds[len(p.thresholds) // 2]
            row = p.per_joint[p.thresholds.index(mid)]
            worst = [i for i in np.argsort(np.where(np.isnan(row), np.inf, row))[:3] if not np.isnan(row[i])]
            if worst:
                names = ", ".join(f"{self.joint_names[i]} {_pct(row[i])}" for i in worst)
                lines.append(f"hardest joints at PCK@{threshold_key(mid)}: {names}")
        dp = self.densepose
        if dp is not None:
            lines.append(
                f"DensePose  dpAP {_pct(dp.dp_ap)}  AP50 {_pct(dp.dp_ap50)}  AP75 {_pct(dp.dp_ap75)}  "
                f"GPSm {_num(dp.gpsm)}  part mIoU {_pct(dp.part_miou)}  body-mask IoU {_pct(dp.mask_iou)}"
            )
        lines.append("definitions:")
        lines += [f"  {d}" for d in self.definition.splitlines()]
        if dp is not None:
            lines += [f"  {d}" for d in dp.definition.splitlines()]
        return "\n".join(lines)


def _pct(x: float | None) -> str:
    return f"{100 * x:.1f}%" if x is not None and math.isfinite(x) else "n/a"


def _num(x: float | None) -> str:
    return f"{x:.4g}" if x is not None and math.isfinite(x) else "n/a"


class PoseAccumulator:
    """Streaming :func:`evaluate`: ``update`` per batch, ``compute`` at the end.

    The report equals ``evaluate`` on the concatenated batches exactly.
    """

    def __init__(self, skeleton: str | Skeleton = "h36m17", thresholds: Any = DEFAULT_THRESHOLDS) -> None:
        self._skeleton = get_skeleton(skeleton)
        self._thresholds = as_thresholds(thresholds)
        self._sorted = tuple(sorted(set(self._thresholds) | set(CURVE_THRESHOLDS)))
        self._spec = resolve_spec("torso", self._skeleton, "canonical")
        self._root = root_joints(self._skeleton)
        self.reset()

    def reset(self) -> None:
        """Forgets every batch seen."""
        self._frames = 0
        self._counts: PckCounts | None = None
        self._errors: dict[str, list[tuple[np.ndarray, np.ndarray, int]]] = {a: [] for a in _ALIGNS}
        self._root_errors: list[np.ndarray] = []

    def update(self, pred: Any, gt: Any, visible: Any = None) -> None:
        """Adds a batch: ``pred``, ``gt`` float[N, J, D], ``visible`` [N, J] or ``None``.

        Torch tensors are accepted (moved to CPU and detached)."""
        p, g, v = as_poses(_numpy(pred), _numpy(gt), _numpy(visible), skeleton=self._skeleton)
        counts = compute_counts(p, g, v, self._spec, self._sorted)
        errors = {a: frame_errors(p, g, v, a, self._root) for a in _ALIGNS}
        self._counts = counts if self._counts is None else self._counts + counts
        for a in _ALIGNS:
            self._errors[a].append(errors[a])
        # the frames of the root-aligned MPJPE (root visible, ground truth scoreable) count
        self._root_errors.append(root_errors(p, g, self._root)[errors["root"][1] > 0])
        self._frames += p.shape[0]

    def compute(self) -> PoseReport:
        """The report of every batch since the last :meth:`reset`."""
        skel = self._skeleton
        counts = self._counts
        if counts is None:
            j = skel.num_joints
            counts = PckCounts(
                np.zeros((len(self._sorted), j), np.uint64), np.zeros(j, np.uint64), np.zeros(5, np.uint64)
            )
        pck = result_from_counts(counts, self._sorted, self._thresholds, self._spec, skel.name)
        curve = result_from_counts(counts, self._sorted, CURVE_THRESHOLDS, self._spec, skel.name)
        mpjpes = []
        joints = []
        for a in _ALIGNS:
            parts = self._errors[a]
            sums = np.concatenate([s for s, _, _ in parts]) if parts else np.zeros(0)
            cnts = np.concatenate([c for _, c, _ in parts]) if parts else np.zeros(0, np.int64)
            mpjpes.append(pooled(sums, cnts))
            joints.append(int(cnts.sum()))
        # raw MPJPE sums are infinite exactly where a counted predicted joint is not finite
        failed = sum(int(np.isinf(s).sum()) for s, _, _ in self._errors["none"])
        roots = np.concatenate(self._root_errors) if self._root_errors else np.zeros(0)
        root_error = pooled(roots, np.ones(roots.shape, np.int64))
        root = "+".join(skel.joint_names[r] for r in self._root)
        definition = "\n".join(
            [
                pck.definition,
                "AUC: trapezoidal area under canonical torso PCK at k = 0..50, divided by 50",
                "MPJPE: mean |pred-gt| over visible joints of all frames, input units; frames with a "
                "non-finite GT joint unscoreable and excluded, a non-finite predicted joint an infinite error",
                f"root-aligned MPJPE: both poses translated to put {root} at the origin; frames whose "
                f"root is not visible skipped",
                f"root error: mean Euclidean |pred root - gt root| ({root}) over frames whose root is "
                f"visible, input units; a non-finite predicted root an infinite error",
                "PA-MPJPE: similarity Procrustes (rotation without reflection, scale, translation) fitted "
                "per frame on visible joints, as MM-Fi's compute_similarity_transform",
            ]
        )
        return PoseReport(
            skeleton=skel.name,
            joint_names=skel.joint_names,
            frames=self._frames,
            pck=pck,
            curve=curve,
            auc=auc(curve),
            mpjpe=mpjpes[0],
            mpjpe_root=mpjpes[1],
            pa_mpjpe=mpjpes[2],
            mpjpe_joints=(joints[0], joints[1], joints[2]),
            failed_frames=failed,
            definition=definition,
            root_error=root_error,
            root_frames=int(roots.size),
        )


def root_errors(pred: np.ndarray, gt: np.ndarray, root: tuple[int, ...]) -> np.ndarray:
    """float64[N]: each frame's Euclidean distance between the predicted and the true root (the
    mean of the ``root`` joints); ``+inf`` where the predicted root is not finite, NaN where the
    true one is not."""
    joints = list(root)
    with np.errstate(invalid="ignore", over="ignore"):
        p = pred[:, joints].astype(np.float64).mean(axis=1)
        g = gt[:, joints].astype(np.float64).mean(axis=1)
        dist = np.sqrt(((p - g) ** 2).sum(axis=-1))
    dist[~np.isfinite(p).all(axis=-1) & np.isfinite(g).all(axis=-1)] = np.inf
    return dist


def _numpy(x: Any) -> Any:
    """Torch tensors to numpy without importing torch."""
    if x is not None and hasattr(x, "detach") and hasattr(x, "cpu"):
        return x.detach().cpu().numpy()
    return x


def evaluate(
    pred: Any,
    gt: Any,
    *,
    visible: Any = None,
    skeleton: str | Skeleton = "h36m17",
    thresholds: Any = DEFAULT_THRESHOLDS,
) -> PoseReport:
    """Scores a set of poses with the canonical definitions.

    Args:
        pred: float[N, J, D] predicted joints (``D`` = 2 or 3).
        gt: float[N, J, D] ground truth in the same units.
        visible: bool[N, J] (or numeric, ``> 0`` = visible); ``None``: all visible.
        skeleton: ``"h36m17"``, ``"coco17"`` or a :class:`~csipose.skeletons.Skeleton`.
        thresholds: PCK thresholds ``k`` (percent of the torso).

    Returns:
        A :class:`PoseReport`; ``report.to_dict()`` for logs, ``report.summary()`` for people.
    """
    acc = PoseAccumulator(skeleton=skeleton, thresholds=thresholds)
    acc.update(pred, gt, visible)
    return acc.compute()
