"""PCK (percentage of correct keypoints), its curve over thresholds and AUC.

Canonical definition (``convention="canonical"``): a joint is correct iff
``||pred - gt|| <= (k / 100) * norm``, counting visible joints only, pooled
(micro-averaged) over every visible joint of every scoreable frame. Values are
fractions in ``[0, 1]``. Normalisers (``norm``), measured on the ground truth:

- ``"torso"``: ``|gt[a] - gt[b]|`` for the skeleton's torso pair (H36M-17:
  right shoulder 14 - left hip 4; COCO-17: right shoulder 6 - left hip 11).
  When a torso joint is not visible, the hip width (the skeleton's ``hips``
  pair, unscaled) stands in; such frames are counted in ``fallback_frames``.
- ``"bbox"``: the diagonal of the box around the frame's visible GT joints.
- ``"head"``: PCKh, ``head_factor * |gt[a] - gt[b]|`` for the skeleton's head
  pair (H36M-17: neck 9 - head 10, COCO-17: ear 3 - ear 4; factor 1.0).
- ``"absolute"``: a normaliser of 1 input unit, so threshold ``k`` means a
  distance of ``k / 100`` input units (``k`` centimetres for joints in metres).
  A positive float ``norm`` is a fixed normaliser in input units
  (``norm=100.0`` with pixels: threshold ``k`` means ``k`` pixels).

A frame whose normaliser is zero, undefined (a needed joint is not visible)
or not finite, or whose ground truth has a non-finite coordinate in a joint that
counts, is *unscoreable*: counted in ``unscoreable_frames``, its joints in no
denominator and never correct. A non-finite predicted joint is a miss (the
policy of :mod:`csipose.metrics`, in every convention). A frame without visible joints is not
scored (``empty_frames``); with nothing scored at all, PCK is NaN, never 1.

Legacy conventions, for comparison with published numbers only:

- ``"mmpose"``: mmpose's ``keypoint_pck_accuracy``: correct iff
  ``||(pred - gt) / n|| < k / 100`` (strict, normalised per axis), visible
  joints, frames with a zero normaliser masked, then the *macro* mean over
  keypoints that have any valid sample. ``norm="bbox"`` is the longest side of
  the visible-GT box (mmpose's ``bbox_size``); torso has no hip fallback.
- ``"metafi"``: MetaFi++ / MM-Fi's ``compute_pck_pckh``: correct iff
  ``||pred - gt|| / |gt[5] - gt[12]| <= k / 100``, all joints (no mask), pooled.
  A zero normaliser keeps the frame, every joint incorrect.
- ``"wiflow"``: WiFlow's ``calculate_pck``: ratio to ``max(|gt[2] - gt[12]|, 0.01)``,
  ``<=``, all joints, pooled.

Both fixed-pair conventions ignore the skeleton's torso and take no mask:
pass ``norm="torso"`` and ``visible=None``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np

from csipose import _core
from csipose.errors import ArgumentError
from csipose.metrics._inputs import as_poses, as_thresholds, threshold_key
from csipose.metrics._result import MetricResult
from csipose.skeletons import Skeleton, get_skeleton

__all__ = [
    "CONVENTIONS",
    "CURVE_THRESHOLDS",
    "DEFAULT_THRESHOLDS",
    "NORMS",
    "PCKResult",
    "auc",
    "pck",
    "pck_curve",
]

Norm = Literal["torso", "bbox", "head", "absolute"]
Convention = Literal["canonical", "mmpose", "metafi", "wiflow"]

#: PCK@10..50 (percent of the normaliser), the thresholds reported by default.
DEFAULT_THRESHOLDS: tuple[float, ...] = (10, 20, 30, 40, 50)
#: The PCK-vs-threshold curve: 0, 1, ..., 50 percent of the normaliser.
CURVE_THRESHOLDS: tuple[float, ...] = tuple(range(51))
NORMS: tuple[str, ...] = ("torso", "bbox", "head", "absolute")
CONVENTIONS: tuple[str, ...] = ("canonical", "mmpose", "metafi", "wiflow")

_LEGACY_PAIRS = {"metafi": (5, 12), "wiflow": (2, 12)}


@dataclass(frozen=True, eq=False)
class PCKResult(MetricResult):
    """PCK at several thresholds, with the counts behind it.

    Attributes:
        thresholds: the thresholds ``k`` (percent of the normaliser), as requested.
        pck: fraction of correct joints per threshold, in ``[0, 1]``; NaN when
            no joint was scored.
        per_joint: float64[T, J] fraction correct per threshold and joint; NaN
            for a joint never scored.
        correct_joints: int64[T, J] how many times each joint was correct.
        scored_joints: int64[J] how many times each joint was scored.
        scored_frames: frames that contributed joints.
        unscoreable_frames: frames with visible joints but a zero, undefined or
            non-finite normaliser.
        unscoreable_joints: visible joints of those frames.
        empty_frames: frames without a visible joint.
        fallback_frames: frames normalised by the hip-width fallback.
        convention, norm, skeleton: what was computed.
        definition: the definition in one line.
    """

    thresholds: tuple[float, ...]
    pck: tuple[float, ...]
    per_joint: np.ndarray
    correct_joints: np.ndarray
    scored_joints: np.ndarray
    scored_frames: int
    unscoreable_frames: int
    unscoreable_joints: int
    empty_frames: int
    fallback_frames: int
    convention: str
    norm: str
    skeleton: str
    definition: str

    def at(self, threshold: float) -> float:
        """PCK at ``threshold`` (one of :attr:`thresholds`)."""
        for k, v in zip(self.thresholds, self.pck):
            if k == threshold:
                return v
        raise ArgumentError(f"threshold: {threshold!r} is not one of {self.thresholds}")

    def as_dict(self) -> dict[str, float]:
        """``{"20": 0.81, ...}``: PCK per threshold key."""
        return {threshold_key(k): v for k, v in zip(self.thresholds, self.pck)}

    def _dict_items(self) -> Iterable[tuple[str, Any]]:
        yield "pck", self.as_dict()
        yield "per_joint", {threshold_key(k): row for k, row in zip(self.thresholds, self.per_joint)}
        for name in ("scored_joints", "scored_frames", "unscoreable_frames", "unscoreable_joints",
                     "empty_frames", "fallback_frames", "convention", "norm", "skeleton", "definition"):
            yield name, getattr(self, name)


class PckSpec(NamedTuple):
    """A resolved PCK definition: what the Rust kernel is asked to compute."""

    convention: str
    norm_label: str
    kernel_norm: str
    pair: tuple[int, int] | None
    fallback: tuple[int, int] | None
    scale: float
    masked: bool
    macro: bool
    definition: str


class PckCounts(NamedTuple):
    """Raw integer counts of one evaluation; counts of two batches add up."""

    correct: np.ndarray  # uint64[T, J], thresholds ascending and unique
    scored: np.ndarray  # uint64[J]
    stats: np.ndarray  # uint64[5]: scored, unscoreable, unscoreable joints, empty, fallback frames

    def __add__(self, other: object) -> PckCounts:
        if not isinstance(other, PckCounts):
            return NotImplemented
        return PckCounts(self.correct + other.correct, self.scored + other.scored, self.stats + other.stats)


def _joint(skel: Skeleton, i: int) -> str:
    return skel.joint_names[i] if i < skel.num_joints else f"joint {i}"


def resolve_spec(norm: Any, skel: Skeleton, convention: str) -> PckSpec:
    """Turns (``norm``, skeleton, ``convention``) into a kernel request and its definition."""
    if convention not in CONVENTIONS:
        raise ArgumentError(f"convention: expected one of {', '.join(CONVENTIONS)}, got {convention!r}")
    fixed: float | None = None
    if isinstance(norm, (int, float)) and not isinstance(norm, bool):
        fixed = float(norm)
        if not (np.isfinite(fixed) and fixed > 0):
            raise ArgumentError(f"norm: a fixed normaliser must be finite and > 0, got {norm!r}")
    elif norm not in NORMS:
        raise ArgumentError(f"norm: expected one of {', '.join(NORMS)} or a positive number, got {norm!r}")
    units = "distances in input units"
    if convention in _LEGACY_PAIRS:
        if norm != "torso":
            raise ArgumentError(
                f"norm: convention {convention!r} fixes its normaliser pair; pass norm='torso', got {norm!r}"
            )
        a, b = _LEGACY_PAIRS[convention]
        clamp = ", clamped to >= 0.01" if convention == "wiflow" else ""
        definition = (
            f"PCK@k ({convention} legacy): correct iff |pred-gt| / |gt[{a}]-gt[{b}]|{clamp} <= k/100; "
            f"all joints (no visibility mask); pooled over joints and frames; skeleton {skel.name}; {units}"
        )
        return PckSpec(convention, f"pair({a},{b})", "pair", (a, b), None, 1.0, False, False, definition)

    canonical = convention == "canonical"
    request: tuple[str, tuple[int, int] | None, tuple[int, int] | None, float]
    if fixed is not None or norm == "absolute":
        value = 1.0 if fixed is None else fixed
        label = "absolute" if fixed is None else f"fixed({value:g})"
        norm_text = f"a fixed normaliser of {value:g} input units"
        request = ("fixed", None, None, value)
    elif norm == "torso":
        ta, tb = skel.torso
        ha, hb = skel.hips
        label = "torso"
        norm_text = f"torso |gt[{_joint(skel, ta)}]-gt[{_joint(skel, tb)}]|"
        if canonical:
            hips = f"|gt[{_joint(skel, ha)}]-gt[{_joint(skel, hb)}]|"
            norm_text += f" (hip width {hips} when a torso joint is not visible)"
        request = ("pair", skel.torso, skel.hips if canonical else None, 1.0)
    elif norm == "head":
        if skel.head is None:
            raise ArgumentError(f"norm: skeleton {skel.name} defines no head segment for norm='head'")
        ha, hb = skel.head
        label = "head"
        norm_text = f"head {skel.head_factor:g} * |gt[{_joint(skel, ha)}]-gt[{_joint(skel, hb)}]|"
        request = ("pair", skel.head, None, skel.head_factor)
    else:
        label = "bbox"
        if canonical:
            norm_text = "the diagonal of the visible-GT box"
            request = ("bbox", None, None, 1.0)
        else:
            norm_text = "the longest side of the visible-GT box"
            request = ("bbox_longest_side", None, None, 1.0)
    kernel_norm, pair, fallback, scale = request
    if canonical:
        definition = (
            f"PCK@k (canonical): correct iff |pred-gt| <= k/100 * {norm_text}; visible joints only; "
            f"pooled over all scored joints of all frames; frames with a zero or undefined normaliser "
            f"unscoreable and excluded; skeleton {skel.name}; {units}"
        )
    else:
        definition = (
            f"PCK@k (mmpose legacy): correct iff |(pred-gt)/n| < k/100 per-axis normalised, n = {norm_text}; "
            f"visible joints only; frames with a zero normaliser masked; macro mean over keypoints; "
            f"skeleton {skel.name}; {units}"
        )
    return PckSpec(convention, label, kernel_norm, pair, fallback, scale, True, not canonical, definition)


def compute_counts(
    pred: np.ndarray,
    gt: np.ndarray,
    visible: np.ndarray | None,
    spec: PckSpec,
    sorted_thresholds: tuple[float, ...],
) -> PckCounts:
    """Kernel counts for checked arrays at ascending, unique thresholds (percent)."""
    if visible is not None and not spec.masked:
        raise ArgumentError(
            f"visible: convention {spec.convention!r} scores every joint (no mask); pass visible=None"
        )
    correct, scored, stats = _core.pck_counts(
        pred,
        gt,
        visible,
        [k / 100.0 for k in sorted_thresholds],
        spec.convention,
        spec.kernel_norm,
        spec.pair,
        spec.fallback,
        spec.scale,
    )
    return PckCounts(correct, scored, stats)


def result_from_counts(
    counts: PckCounts,
    sorted_thresholds: tuple[float, ...],
    thresholds: tuple[float, ...],
    spec: PckSpec,
    skeleton: str,
) -> PCKResult:
    """Builds a :class:`PCKResult` for ``thresholds`` (any order) from counts at ``sorted_thresholds``."""
    rows = [sorted_thresholds.index(k) for k in thresholds]
    correct_joints = counts.correct[rows].astype(np.int64)
    correct = correct_joints.astype(np.float64)
    scored = counts.scored.astype(np.int64)
    per_joint = np.where(scored > 0, correct / np.maximum(scored, 1), np.nan)
    if spec.macro:
        valid = scored > 0
        values = per_joint[:, valid].mean(axis=1) if valid.any() else np.full(len(rows), np.nan)
    else:
        total = int(scored.sum())
        values = correct.sum(axis=1) / total if total > 0 else np.full(len(rows), np.nan)
    s = [int(x) for x in counts.stats]
    return PCKResult(
        thresholds=thresholds,
        pck=tuple(float(v) for v in values),
        per_joint=per_joint,
        correct_joints=correct_joints,
        scored_joints=scored,
        scored_frames=s[0],
        unscoreable_frames=s[1],
        unscoreable_joints=s[2],
        empty_frames=s[3],
        fallback_frames=s[4],
        convention=spec.convention,
        norm=spec.norm_label,
        skeleton=skeleton,
        definition=spec.definition,
    )


def pck(
    pred: Any,
    gt: Any,
    *,
    visible: Any = None,
    thresholds: Any = DEFAULT_THRESHOLDS,
    norm: Norm | float = "torso",
    skeleton: str | Skeleton = "h36m17",
    convention: Convention = "canonical",
) -> PCKResult:
    """PCK of a batch of poses (see the module docstring for every definition).

    Args:
        pred: float[N, J, D] predicted joints (``D`` = 2 or 3; float32 or float64).
        gt: float[N, J, D] ground-truth joints, same units.
        visible: bool[N, J] (or numeric, ``> 0`` = visible); ``None``: all visible.
        thresholds: ``k`` values, percent of the normaliser (PCK@20 -> 20).
        norm: ``"torso"``, ``"bbox"``, ``"head"``, ``"absolute"`` or a positive number.
        skeleton: ``"h36m17"``, ``"coco17"`` or a :class:`~csipose.skeletons.Skeleton`;
            ``J`` must match it.
        convention: ``"canonical"`` or a legacy ``"mmpose"``, ``"metafi"``, ``"wiflow"``.

    Returns:
        A :class:`PCKResult`; ``result.pck[i]`` is PCK at ``thresholds[i]`` as a fraction.
    """
    skel = get_skeleton(skeleton)
    spec = resolve_spec(norm, skel, convention)
    ks = as_thresholds(thresholds)
    p, g, v = as_poses(pred, gt, visible, skeleton=skel)
    sorted_ks = tuple(sorted(set(ks)))
    counts = compute_counts(p, g, v, spec, sorted_ks)
    return result_from_counts(counts, sorted_ks, ks, spec, skel.name)


def pck_curve(
    pred: Any,
    gt: Any,
    *,
    visible: Any = None,
    thresholds: Any = CURVE_THRESHOLDS,
    norm: Norm | float = "torso",
    skeleton: str | Skeleton = "h36m17",
    convention: Convention = "canonical",
) -> PCKResult:
    """PCK at every threshold of a curve (default 0, 1, ..., 50); feed it to :func:`auc`."""
    return pck(
        pred, gt, visible=visible, thresholds=thresholds, norm=norm, skeleton=skeleton, convention=convention
    )


def auc(curve: PCKResult) -> float:
    """Normalised area under a PCK curve: trapezoidal area over the threshold range divided by
    its width, so a perfect predictor scores 1.0. Needs at least two distinct thresholds."""
    ks = np.asarray(curve.thresholds, dtype=np.float64)
    order = np.argsort(ks, kind="stable")
    x = ks[order]
    y = np.asarray(curve.pck, dtype=np.float64)[order]
    width = float(x[-1] - x[0]) if x.size else 0.0
    if width <= 0:
        raise ArgumentError(
            f"curve: expected a curve over at least two distinct thresholds, got {curve.thresholds}"
        )
    area = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))
    return area / width
