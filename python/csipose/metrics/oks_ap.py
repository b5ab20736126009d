"""COCO keypoint AP (OKS-AP), equal to pycocotools' ``COCOeval(iouType="keypoints")``.

The protocol, as COCO defines it: per image, detections (best score first,
at most ``max_dets``) are matched greedily to ground-truth people at each OKS
threshold 0.50:0.05:0.95; a GT counts unless it is a crowd, has
``num_keypoints == 0`` or lies outside the area range being scored (all,
medium 32^2-96^2, large > 96^2 px^2); a detection matched to an ignored GT, or
unmatched and outside the area range, is ignored. Precision is read at 101
recall points after making it monotone; AP and AR average over thresholds
(and categories). The ten numbers are COCO's keypoint ``stats``.

``matching="optimal"`` replaces the greedy pass by a least-cost assignment on
``1 - OKS`` over the pairs above the threshold (the most true positives, then
the highest total OKS); remaining detections may still fall on ignored GTs as
in COCO. Scores still order the precision-recall curve.

OKS is the kernel of :func:`csipose.metrics.oks` (same sigmas, same
``areas`` / ``visible`` convention: coordinates only in the last axis). A
labelled ground-truth person with a non-finite labelled coordinate cannot be
scored: it is ignored like a crowd (never a positive, never matched) and
counted in ``unscoreable``. A non-finite detected joint is a miss.

:func:`oks_ap_arrays` also takes 3-D keypoints (``x, y, z``): OKS uses the
Euclidean distance in 3-D with the same formula ``exp(-d^2 / (2 s^2 k^2))`` and
the caller's ``areas`` as ``s^2`` (in the units of the coordinates, squared).
COCO's branch for ground truth without labelled keypoints (the distance to a
box 3x the GT box) is 2-D only: in 3-D such people are ignored and never
matched. The area ranges (medium, large) are 2-D notions: a detection's area
is that of the box of its ``x, y`` as in 2-D, so in 3-D only ``"all"``
(``ap``, ``ap50``, ``ap75``, ``ar``, ...) is meaningful.

The OKS computation, matching and accumulation run in Rust; this module turns
COCO-format dicts or arrays into flat arrays.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from csipose import _core
from csipose.errors import ArgumentError, ShapeError
from csipose.metrics._inputs import KEYPOINT_CONVENTION, REQUIRED, as_areas, as_sigmas, as_visible
from csipose.metrics._result import MetricResult

__all__ = ["OksAPResult", "oks_ap", "oks_ap_arrays"]

#: OKS thresholds .50:.05:.95 and recall points 0:.01:1, built as cocoapi does.
IOU_THRESHOLDS: np.ndarray = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS: np.ndarray = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
AREA_RANGES: dict[str, tuple[float, float]] = {
    "all": (0.0, 1e5**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 1e5**2),
}
MatchingMode = Literal["greedy", "optimal"]

_STAT_NAMES = ("AP", "AP50", "AP75", "AP_M", "AP_L", "AR", "AR50", "AR75", "AR_M", "AR_L")


@dataclass(frozen=True, eq=False)
class OksAPResult(MetricResult):
    """COCO keypoint metrics; ``-1`` where COCO reports -1 (nothing to score).

    Attributes:
        ap, ap50, ap75, ap_m, ap_l, ar, ar50, ar75, ar_m, ar_l: the ten COCO keypoint stats.
        precision: float64[T, R, K, A] interpolated precision (T thresholds, R = 101
            recall points, K categories, A area ranges all/medium/large).
        recall: float64[T, K, A].
        matching: ``"greedy"`` (COCO) or ``"optimal"``.
        unscoreable: labelled ground-truth people ignored for a non-finite coordinate.
    """

    ap: float
    ap50: float
    ap75: float
    ap_m: float
    ap_l: float
    ar: float
    ar50: float
    ar75: float
    ar_m: float
    ar_l: float
    precision: np.ndarray
    recall: np.ndarray
    matching: str
    unscoreable: int = 0

    @property
    def stats(self) -> np.ndarray:
        """float64[10] in COCO's order (``COCOeval.stats``)."""
        return np.array([getattr(self, name.lower()) for name in _STAT_NAMES])

    @property
    def definition(self) -> str:
        return (
            f"COCO keypoint OKS-AP ({self.matching} matching): OKS thresholds .50:.05:.95, "
            "101-point interpolated precision, maxDets 20, area ranges all/medium/large"
        )

    def _dict_items(self) -> Iterable[tuple[str, Any]]:
        yield from zip(_STAT_NAMES, self.stats)
        yield from (("unscoreable", self.unscoreable), ("matching", self.matching), ("definition", self.definition))

    def summary(self) -> str:
        lines = [self.definition]
        lines += [f"  {name:<5} {100 * v:6.2f}" if v >= 0 else f"  {name:<5}    n/a" for name, v in zip(_STAT_NAMES, self.stats)]
        return "\n".join(lines)


def _mean_defined(x: np.ndarray) -> float:
    defined = x[x > -1]
    return float(np.mean(defined)) if defined.size else -1.0


def _summarize(precision: np.ndarray, recall: np.ndarray, matching: str, unscoreable: int) -> OksAPResult:
    t50 = np.where(IOU_THRESHOLDS == 0.5)[0]
    t75 = np.where(IOU_THRESHOLDS == 0.75)[0]
    areas = list(AREA_RANGES)
    a_all, a_m, a_l = (areas.index(n) for n in ("all", "medium", "large"))
    return OksAPResult(
        ap=_mean_defined(precision[..., a_all]),
        ap50=_mean_defined(precision[t50][..., a_all]),
        ap75=_mean_defined(precision[t75][..., a_all]),
        ap_m=_mean_defined(precision[..., a_m]),
        ap_l=_mean_defined(precision[..., a_l]),
        ar=_mean_defined(recall[..., a_all]),
        ar50=_mean_defined(recall[t50][..., a_all]),
        ar75=_mean_defined(recall[t75][..., a_all]),
        ar_m=_mean_defined(recall[..., a_m]),
        ar_l=_mean_defined(recall[..., a_l]),
        precision=precision,
        recall=recall,
        matching=matching,
        unscoreable=unscoreable,
    )


def _check_matching(matching: str) -> None:
    if matching not in ("greedy", "optimal"):
        raise ArgumentError(f"matching: expected 'greedy' or 'optimal', got {matching!r}")


def _offsets(unit: np.ndarray, n_units: int) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.bincount(unit, minlength=n_units))]).astype(np.int64)


def _run(
    *,
    gt_kpts: np.ndarray,
    gt_visible: np.ndarray,
    gt_areas: np.ndarray,
    gt_bboxes: np.ndarray,
    gt_ignore: np.ndarray,
    gt_iscrowd: np.ndarray,
    gt_unit: np.ndarray,
    dt_kpts: np.ndarray,
    dt_scores: np.ndarray,
    dt_unit: np.ndarray,
    n_categories: int,
    n_images: int,
    sigmas: np.ndarray,
    max_dets: int,
    matching: str,
) -> OksAPResult:
    n_units = n_categories * n_images
    with np.errstate(invalid="ignore"):
        unscoreable = gt_visible.any(axis=1) & ~np.where(gt_visible[..., None], np.isfinite(gt_kpts), True).all(axis=(1, 2))
    gt_ignore = gt_ignore | unscoreable
    g_order = np.argsort(gt_unit, kind="stable")
    d_order = np.argsort(dt_unit, kind="stable")
    dt_kpts = np.ascontiguousarray(dt_kpts[d_order], dtype=np.float64)
    precision, recall = _core.coco_keypoint_eval(
        np.ascontiguousarray(gt_kpts[g_order], dtype=np.float64),
        np.ascontiguousarray(gt_visible[g_order], dtype=bool),
        np.ascontiguousarray(gt_areas[g_order], dtype=np.float64),
        np.ascontiguousarray(gt_bboxes[g_order], dtype=np.float64),
        np.ascontiguousarray(gt_ignore[g_order], dtype=bool),
        np.ascontiguousarray(gt_iscrowd[g_order], dtype=bool),
        _offsets(gt_unit, n_units),
        dt_kpts,
        np.ascontiguousarray(dt_scores[d_order], dtype=np.float64),
        _offsets(dt_unit, n_units),
        sigmas,
        IOU_THRESHOLDS,
        RECALL_THRESHOLDS,
        np.array(list(AREA_RANGES.values()), dtype=np.float64),
        max_dets,
        n_categories,
        n_images,
        matching,
    )
    return _summarize(precision, recall, matching, int(unscoreable.sum()))


def oks_ap(
    ground_truth: Mapping[str, Any],
    detections: Sequence[Mapping[str, Any]],
    *,
    sigmas: Any = "coco17",
    matching: MatchingMode = "greedy",
    max_dets: int = 20,
) -> OksAPResult:
    """COCO keypoint AP of ``detections`` against ``ground_truth`` (COCO-format).

    Args:
        ground_truth: a COCO dataset dict with ``"images"`` (each with ``"id"``),
            ``"annotations"`` (``image_id``, ``category_id``, ``keypoints`` as
            ``[x1, y1, v1, ...]``, ``area``, ``bbox``; ``iscrowd`` and
            ``num_keypoints`` default to 0 and the count of ``v > 0``) and
            ``"categories"`` (default: those the annotations use).
        detections: COCO results: ``image_id``, ``category_id``, ``keypoints``, ``score``.
            Detections of categories absent from the ground truth are dropped;
            an unknown ``image_id`` is an error (as in ``COCO.loadRes``).
        sigmas: float[J] OKS constants, or a skeleton (name) that defines them; default COCO-17's.
        matching: ``"greedy"`` (COCO) or ``"optimal"``.
        max_dets: detections kept per image, best score first.

    COCO's flat ``[x1, y1, v1, ...]`` lists are split here into coordinates and the
    visibility ``v > 0``; :func:`oks_ap_arrays` takes them apart already.
    """
    _check_matching(matching)
    images = sorted({int(img["id"]) for img in ground_truth.get("images", [])})
    anns = list(ground_truth.get("annotations", []))
    if "categories" in ground_truth:
        categories = sorted({int(c["id"]) for c in ground_truth["categories"]})
    else:
        categories = sorted({int(a["category_id"]) for a in anns})
    img_index = {img: i for i, img in enumerate(images)}
    cat_index = {c: k for k, c in enumerate(categories)}
    n_img = len(images)
    anns = [a for a in anns if a["category_id"] in cat_index and a["image_id"] in img_index]
    unknown = {d["image_id"] for d in detections} - img_index.keys()
    if unknown:
        raise ArgumentError(f"detections: image_id {sorted(unknown)[:5]} not among ground_truth['images']")
    dets = [d for d in detections if d["category_id"] in cat_index]
    joints = len(anns[0]["keypoints"]) // 3 if anns else (len(dets[0]["keypoints"]) // 3 if dets else 17)

    def keypoints(items: Sequence[Mapping[str, Any]], arg: str) -> np.ndarray:
        lists = [it["keypoints"] for it in items]
        if any(len(k) != 3 * joints for k in lists):
            raise ShapeError(f"{arg}: every 'keypoints' must hold {3 * joints} numbers")
        # fromiter over one flat stream is far quicker than np.array on nested lists.
        flat = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.float64, count=3 * joints * len(lists))
        return flat.reshape(len(items), joints, 3)

    gt_kpts = keypoints(anns, "ground_truth['annotations']")
    num_kpts = np.array([a.get("num_keypoints", -1) for a in anns], dtype=np.int64)
    labelled = (gt_kpts[..., 2] > 0).sum(axis=1)
    num_kpts = np.where(num_kpts < 0, labelled, num_kpts)
    iscrowd = np.array([bool(a.get("iscrowd", 0)) for a in anns], dtype=bool)
    dt_kpts = keypoints(dets, "detections")
    return _run(
        gt_kpts=gt_kpts[..., :2],
        gt_visible=gt_kpts[..., 2] > 0,
        gt_areas=np.array([a["area"] for a in anns], dtype=np.float64),
        gt_bboxes=np.array([a.get("bbox", (0, 0, 0, 0)) for a in anns], dtype=np.float64).reshape(len(anns), 4),
        gt_ignore=iscrowd | (num_kpts == 0),
        gt_iscrowd=iscrowd,
        gt_unit=np.array([cat_index[a["category_id"]] * n_img + img_index[a["image_id"]] for a in anns], dtype=np.int64),
        dt_kpts=dt_kpts[..., :2],
        dt_scores=np.array([d["score"] for d in dets], dtype=np.float64),
        dt_unit=np.array([cat_index[d["category_id"]] * n_img + img_index[d["image_id"]] for d in dets], dtype=np.int64),
        n_categories=len(categories),
        n_images=n_img,
        sigmas=np.array(as_sigmas(sigmas, joints)),
        max_dets=max_dets,
        matching=matching,
    )


def oks_ap_arrays(
    gt_keypoints: Any,
    gt_image_ids: Any,
    dt_keypoints: Any,
    dt_scores: Any,
    dt_image_ids: Any,
    *,
    visible: Any = REQUIRED,
    areas: Any,
    gt_bboxes: Any = None,
    gt_iscrowd: Any = None,
    image_ids: Any = None,
    sigmas: Any = "coco17",
    matching: MatchingMode = "greedy",
    max_dets: int = 20,
) -> OksAPResult:
    """COCO keypoint AP from arrays (one category), in the convention of :func:`csipose.metrics.oks`.

    Keypoints are 2-D image coordinates ``x, y`` (COCO's protocol, equal to
    pycocotools) or 3-D ``x, y, z``: then OKS takes the Euclidean distance in
    3-D, ``exp(-d^2 / (2 s^2 k^2))`` with ``s^2`` the stated ``areas``. In 3-D a
    GT without labelled keypoints is ignored and never matched (COCO's distance
    to a box 3x the GT box is 2-D only), and area ranges other than ``"all"``
    are 2-D notions (a GT's range is keyed by its ``areas``, a detection's by
    the box of its ``x, y``): read ``ap``/``ar``/``ap50``/``ap75``/``ar50``/``ar75``.

    Args:
        gt_keypoints: float[G, J, C] ground-truth coordinates, C = 2 (image ``x, y``)
            or C = 3 (``x, y, z``); no visibility column.
        gt_image_ids: int[G] image of each GT person.
        dt_keypoints: float[D, J, C] detected coordinates, C as in ``gt_keypoints``.
        dt_scores: float[D] detection confidences.
        dt_image_ids: int[D].
        visible: [G, J] labelled GT joints (COCO ``v > 0``), or ``None`` for all. Required.
            A GT without any is ignored (COCO's ``num_keypoints == 0``).
        areas: float[G] GT areas (the ``s^2`` of OKS and the area-range key). Required:
            in 3-D the per-person scale must be stated (e.g. in m^2 for metres).
        gt_bboxes: float[G, 4] ``x, y, w, h`` (only used for GTs without labelled
            keypoints, in 2-D); default: the box of the GT keypoints' ``x, y``.
        gt_iscrowd: bool[G]; default none.
        image_ids: all evaluated images; default those of the GTs (detections on
            other images are an error).
        sigmas: float[J] OKS constants, or a skeleton (name) that defines them; default COCO-17's.
    """
    _check_matching(matching)
    gk = np.asarray(gt_keypoints, dtype=np.float64)
    dk = np.asarray(dt_keypoints, dtype=np.float64)
    if gk.ndim != 3 or gk.shape[2] not in (2, 3):
        raise ShapeError(
            f"gt_keypoints: expected (G, J, 2) image coordinates x, y or (G, J, 3) coordinates x, y, z, "
            f"got {gk.shape}; {KEYPOINT_CONVENTION}"
        )
    if dk.ndim != 3 or dk.shape[1:] != gk.shape[1:]:
        raise ShapeError(
            f"dt_keypoints: expected (D, {gk.shape[1]}, {gk.shape[2]}) to match gt_keypoints, got {dk.shape}"
        )
    g, d = len(gk), len(dk)
    vis = as_visible(visible, gk.shape[:2])
    vis = np.ones(gk.shape[:2], bool) if vis is None else vis
    gi = np.asarray(gt_image_ids, dtype=np.int64).reshape(-1)
    di = np.asarray(dt_image_ids, dtype=np.int64).reshape(-1)
    scores = np.asarray(dt_scores, dtype=np.float64).reshape(-1)
    for arg, arr, n in (("gt_image_ids", gi, g), ("dt_image_ids", di, d), ("dt_scores", scores, d)):
        if arr.shape != (n,):
            raise ShapeError(f"{arg}: expected ({n},), got {arr.shape}")
    images = np.unique(gi if image_ids is None else np.asarray(image_ids, dtype=np.int64))
    if not np.isin(di, images).all():
        raise ArgumentError("dt_image_ids: detections on images that are not evaluated")
    if gt_bboxes is None:
        xy = gk[..., :2]
        lo, hi = (xy.min(axis=1), xy.max(axis=1)) if g else (np.zeros((0, 2)), np.zeros((0, 2)))
        boxes = np.concatenate([lo, hi - lo], axis=1)
    else:
        boxes = np.asarray(gt_bboxes, dtype=np.float64)
        if boxes.shape != (g, 4):
            raise ShapeError(f"gt_bboxes: expected ({g}, 4), got {boxes.shape}")
    crowd = np.zeros(g, bool) if gt_iscrowd is None else np.asarray(gt_iscrowd, dtype=bool).reshape(-1)
    if crowd.shape != (g,):
        raise ShapeError(f"gt_iscrowd: expected ({g},), got {crowd.shape}")
    return _run(
        gt_kpts=gk,
        gt_visible=vis,
        gt_areas=as_areas(areas, g),
        gt_bboxes=boxes,
        gt_ignore=crowd | ~vis.any(axis=1),
        gt_iscrowd=crowd,
        gt_unit=np.searchsorted(images, gi),
        dt_kpts=dk,
        dt_scores=scores,
        dt_unit=np.searchsorted(images, di),
        n_categories=1,
        n_images=len(images),
        sigmas=np.array(as_sigmas(sigmas, gk.shape[1])),
        max_dets=max_dets,
        matching=matching,
    )
