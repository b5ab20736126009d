"""OKS-AP on hand-built scenes whose answers follow from the COCO protocol on paper."""

from __future__ import annotations

import numpy as np
import pytest

import csipose
from csipose.metrics import oks, oks_ap, oks_ap_arrays
from csipose.metrics.oks_ap import IOU_THRESHOLDS, MatchingMode
from csipose.errors import ArgumentError, ShapeError
from csipose.metrics._inputs import REQUIRED
from hypothesis import given
from hypothesis import strategies as st

from csipose import _core
from tests.parity.test_metrics_oks_ap_parity import random_scene

J = 17
RNG = np.random.default_rng(0)
POSE = RNG.uniform(100, 300, (J, 2))


def gt_ann(ann_id: int, image_id: int, xy: np.ndarray, area: float, visible: int = J) -> dict:
    v = np.array([2] * visible + [0] * (J - visible))
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "keypoints": np.concatenate([xy, v[:, None]], axis=1).reshape(-1).tolist(),
        "num_keypoints": int((v > 0).sum()),
        "area": area,
        "bbox": [100.0, 100.0, 200.0, 200.0],
        "iscrowd": 0,
    }


def det(image_id: int, xy: np.ndarray, score: float) -> dict:
    return {
        "image_id": image_id,
        "category_id": 1,
        "keypoints": np.concatenate([xy, np.ones((J, 1))], axis=1).reshape(-1).tolist(),
        "score": score,
    }


def dataset(anns: list[dict], n_images: int = 1) -> dict:
    return {
        "images": [{"id": i + 1} for i in range(n_images)],
        "annotations": anns,
        "categories": [{"id": 1, "name": "person"}],
    }


def test_perfect_detections_score_one() -> None:
    gt = dataset([gt_ann(1, 1, POSE, 20000.0), gt_ann(2, 1, POSE + 400, 20000.0)])
    res = oks_ap(gt, [det(1, POSE, 0.9), det(1, POSE + 400, 0.8)])
    # COCO divides by tp + fp + eps, so "1" is 1 - 2e-16.
    assert res.ap == pytest.approx(1.0) and res.ap50 == res.ap75 == res.ap_l == pytest.approx(1.0)
    assert res.ar == res.ar_l == 1.0
    assert res.ap_m == -1.0 and res.ar_m == -1.0  # no medium-sized person to score


def test_a_false_positive_ranked_first_halves_early_precision() -> None:
    gt = dataset([gt_ann(1, 1, POSE, 20000.0)])
    res = oks_ap(gt, [det(1, POSE + 500, 0.9), det(1, POSE, 0.5)])
    # One positive found at rank 2: precision 1/2 at every recall point; recall 1.
    assert res.ap == pytest.approx(0.5, abs=1e-12)
    assert res.ar == 1.0


def test_duplicate_detection_is_a_false_positive() -> None:
    gt = dataset([gt_ann(1, 1, POSE, 20000.0)])
    res = oks_ap(gt, [det(1, POSE, 0.9), det(1, POSE, 0.5)])
    assert res.ap == pytest.approx(1.0)  # the duplicate ranks after the true positive
    res = oks_ap(gt, [det(1, POSE, 0.5), det(1, POSE + 1e-3, 0.9)])
    assert res.ap == pytest.approx(1.0)


def test_gt_without_keypoints_is_ignored_and_absorbs_its_detection() -> None:
    gt = dataset([gt_ann(1, 1, POSE, 20000.0), gt_ann(2, 1, POSE + 50, 20000.0, visible=0)])
    res = oks_ap(gt, [det(1, POSE, 0.9), det(1, POSE + 50, 0.95)])
    # The best-scored detection lies inside the unlabelled person's (expanded) box: it
    # matches that ignored GT and is neither a true nor a false positive.
    assert res.ap == pytest.approx(1.0) and res.ar == 1.0


def test_area_ranges_split_medium_and_large() -> None:
    gt = dataset([gt_ann(1, 1, POSE, 2000.0), gt_ann(2, 1, POSE + 400, 20000.0)])
    res = oks_ap(gt, [det(1, POSE + 400, 0.9)])
    assert res.ap_l == pytest.approx(1.0) and res.ar_l == 1.0
    assert res.ap_m == 0.0 and res.ar_m == 0.0
    assert res.ar == pytest.approx(0.5)


def test_max_dets_keeps_the_best_scores() -> None:
    gt = dataset([gt_ann(1, 1, POSE, 20000.0)])
    noise = [det(1, POSE + 600 + k, 0.9) for k in range(3)]
    assert oks_ap(gt, [*noise, det(1, POSE, 0.1)], max_dets=3).ar == 0.0
    assert oks_ap(gt, [*noise, det(1, POSE, 0.1)], max_dets=4).ar == 1.0


def test_optimal_matching_recovers_a_pair_greedy_loses() -> None:
    # Two people close together; the best-scored detection sits between them and greedily
    # takes the person the second detection needs, so greedy finds 1 TP at a high threshold.
    # OKS (area 2000): first detection .87 to a, .75 to b; second .87 to a, .39 to b.
    a, b = POSE, POSE + 4.0
    gt = dataset([gt_ann(1, 1, a, 2000.0), gt_ann(2, 1, b, 2000.0)])
    results = [det(1, a + 1.6, 0.9), det(1, a - 1.6, 0.8)]
    greedy, optimal = oks_ap(gt, results), oks_ap(gt, results, matching="optimal")
    # Thresholds .50-.75: greedy 1 of 2 people, optimal both; .80-.85: one each; .90-.95: none.
    np.testing.assert_allclose(greedy.recall[:, 0, 0], [0.5] * 8 + [0.0] * 2)
    np.testing.assert_allclose(optimal.recall[:, 0, 0], [1.0] * 6 + [0.5] * 2 + [0.0] * 2)
    assert (optimal.recall >= greedy.recall).all()


def test_array_form_and_errors() -> None:
    gt = POSE[None]
    vis = np.ones((1, J), bool)

    def run(gt_xy=gt, dt_xy=POSE[None], dt_images=(1,), **kw):  # type: ignore[no-untyped-def]
        kw.setdefault("visible", vis[:, : gt_xy.shape[1]])
        return oks_ap_arrays(gt_xy, [1], dt_xy, [0.9], list(dt_images), areas=[20000.0], **kw)

    res = run()
    assert res.ap == pytest.approx(1.0) and res.stats.shape == (10,)
    assert set(res.to_dict()) >= {"AP", "AP50", "AR_L", "definition", "unscoreable", "matching"}
    assert "AP50" in res.summary()
    with pytest.raises(ArgumentError, match="matching"):
        run(matching="hungarian")
    with pytest.raises(ArgumentError, match="dt_image_ids"):
        run(dt_images=(7,))
    with pytest.raises(ShapeError, match="dt_keypoints"):
        run(dt_xy=POSE[None, :5])
    with pytest.raises(ShapeError, match="sigmas"):
        run(gt_xy=gt[:, :5], dt_xy=POSE[None, :5])
    # neither 2 nor 3 coordinates is refused with the convention in the message (COCO's
    # [x, y, v] triples have the shape of 3-D keypoints: only the convention tells them apart)
    with pytest.raises(ShapeError, match=r"gt_keypoints: expected \(G, J, 2\).*\(G, J, 3\).*visible="):
        run(gt_xy=np.concatenate([gt, np.full((1, J, 2), 2.0)], axis=2))
    with pytest.raises(ArgumentError, match="visible: required"):
        run(visible=REQUIRED)
    with pytest.raises(ArgumentError, match="image_id"):
        oks_ap(dataset([]), [det(3, POSE, 0.5)])


def test_unscoreable_gt_is_ignored_and_counted() -> None:
    # Two people; the second has a NaN labelled joint: it is neither a positive nor matched,
    # so the one detection of the first person gives AP 1, and the count says why.
    gt = np.stack([POSE, POSE + 400])
    gt[1, 3, 0] = np.nan
    res = oks_ap_arrays(gt, [1, 1], POSE[None], [0.9], [1], visible=None, areas=[20000.0, 20000.0])
    assert res.unscoreable == 1 and res.ap == pytest.approx(1.0) and res.ar == 1.0
    # the same NaN on a joint that is not labelled changes nothing
    vis = np.ones((2, J), bool)
    vis[1, 3] = False
    res = oks_ap_arrays(gt, [1, 1], POSE[None], [0.9], [1], visible=vis, areas=[20000.0, 20000.0])
    assert res.unscoreable == 0 and res.ar == 0.5
    # a NaN detected joint is a miss: with 16 of 17 joints exact the detection still matches
    dt = POSE.copy()[None]
    dt[0, 0, 1] = np.nan
    res = oks_ap_arrays(gt[:1], [1], dt, [0.9], [1], visible=None, areas=[20000.0])
    assert res.ap50 == pytest.approx(1.0) and res.ar < 1.0


def test_identical_for_any_thread_count() -> None:
    gt, results = random_scene(3, 40)
    before = csipose.get_num_threads()
    try:
        runs = []
        for threads in (1, 2, 3):
            csipose.set_num_threads(threads)
            runs.append(oks_ap(gt, results, matching="optimal"))
    finally:
        csipose.set_num_threads(before)
    for other in runs[1:]:
        np.testing.assert_array_equal(other.precision, runs[0].precision)
        np.testing.assert_array_equal(other.recall, runs[0].recall)


# ---------------------------------------------------------------- 3-D keypoints

POSE3 = np.concatenate([POSE, RNG.uniform(-50, 50, (J, 1))], axis=1)


def test_3d_perfect_detections_score_one() -> None:
    gt = np.stack([POSE3, POSE3 + [0.0, 0.0, 400.0]])  # same x, y: only z tells them apart
    res = oks_ap_arrays(gt, [1, 1], gt[::-1], [0.9, 0.8], [1, 1], visible=None, areas=[20000.0, 20000.0])
    assert res.ap == pytest.approx(1.0) and res.ap50 == res.ap75 == pytest.approx(1.0)
    assert res.ar == 1.0


def test_3d_oks_of_a_known_offset_sets_the_thresholds_it_passes() -> None:
    # Every joint off by (3, 4, 12): distance 13. With one sigma for all joints,
    # OKS = exp(-13^2 / (2 * area * (2 * sigma)^2)) = exp(-169 / 500) = 0.7132.
    sigma, area = 0.05, 25000.0
    expected = np.exp(-(13.0**2) / (2 * area * (2 * sigma) ** 2))
    assert 0.70 < expected < 0.75
    np.testing.assert_allclose(
        oks((POSE3 + [3.0, 4.0, 12.0])[None], POSE3[None], visible=None, areas=area, sigmas=[sigma] * J), [expected]
    )
    res = oks_ap_arrays(
        POSE3[None], [1], (POSE3 + [3.0, 4.0, 12.0])[None], [0.9], [1], visible=None, areas=[area], sigmas=[sigma] * J
    )
    hit = IOU_THRESHOLDS <= expected  # .50 ... .70 pass, .75 ... .95 do not
    assert hit.sum() == 5
    np.testing.assert_array_equal(res.recall[:, 0, 0], np.where(hit, 1.0, 0.0))
    # one detection, one person: AP 1 below the OKS, 0 above it
    np.testing.assert_allclose(res.precision[:, :, 0, 0].mean(axis=1), np.where(hit, 1.0, 0.0))
    assert res.ap50 == pytest.approx(1.0) and res.ap75 == 0.0
    assert res.ap == pytest.approx(0.5) and res.ar == 0.5
    # the same offset in x, y only (distance 5) is a hit at every threshold in 2-D
    res2 = oks_ap_arrays(POSE[None], [1], (POSE + [3.0, 4.0])[None], [0.9], [1], visible=None, areas=[area], sigmas=[sigma] * J)
    assert res2.ar == 1.0


def test_3d_gt_without_keypoints_is_ignored_and_never_matched() -> None:
    # In 2-D the best-scored detection falls on the unlabelled person (COCO's box 3x its
    # box) and is neither a true nor a false positive; in 3-D that person is never matched.
    gt = np.stack([POSE3, POSE3 + 50])
    vis = np.ones((2, J), bool)
    vis[1] = False
    dt = np.stack([POSE3, POSE3 + 50])
    args = ([1, 1], [0.9, 0.95], [1, 1])
    res2 = oks_ap_arrays(gt[..., :2], args[0], dt[..., :2], *args[1:], visible=vis, areas=[20000.0] * 2)
    res3 = oks_ap_arrays(gt, args[0], dt, *args[1:], visible=vis, areas=[20000.0] * 2)
    assert res2.ap == pytest.approx(1.0)
    assert res3.ap == pytest.approx(0.5, abs=1e-12) and res3.ar == 1.0  # a false positive first


def _scene_arrays(seed: int, n_images: int) -> dict:
    gt, results = random_scene(seed, n_images)
    # GTs without labelled keypoints are scored differently in 3-D (ignored, never matched)
    anns = [a for a in gt["annotations"] if a["num_keypoints"] > 0]
    gt_kp = np.array([a["keypoints"] for a in anns]).reshape(-1, J, 3)
    return dict(
        gt_keypoints=gt_kp[..., :2],
        gt_image_ids=[a["image_id"] for a in anns],
        dt_keypoints=np.array([r["keypoints"] for r in results]).reshape(-1, J, 3)[..., :2],
        dt_scores=[r["score"] for r in results],
        dt_image_ids=[r["image_id"] for r in results],
        visible=gt_kp[..., 2] > 0,
        areas=[a["area"] for a in anns],
        image_ids=[img["id"] for img in gt["images"]],
    )


def _lift(xy: np.ndarray) -> np.ndarray:
    return np.concatenate([xy, np.zeros((*xy.shape[:2], 1))], axis=2)


@given(st.integers(0, 2**32 - 1), st.integers(1, 8), st.sampled_from(["greedy", "optimal"]))
def test_3d_with_zero_z_equals_2d(seed: int, n_images: int, matching: MatchingMode) -> None:
    kw = _scene_arrays(seed, n_images)
    flat = oks_ap_arrays(**kw, matching=matching)
    kw.update(gt_keypoints=_lift(kw["gt_keypoints"]), dt_keypoints=_lift(kw["dt_keypoints"]))
    lifted = oks_ap_arrays(**kw, matching=matching)
    np.testing.assert_array_equal(lifted.stats, flat.stats)
    np.testing.assert_array_equal(lifted.precision, flat.precision)
    np.testing.assert_array_equal(lifted.recall, flat.recall)


def test_3d_shape_errors() -> None:
    gt = POSE3[None]

    def run(gt_kp: np.ndarray = gt, dt_kp: np.ndarray = gt) -> object:
        return oks_ap_arrays(gt_kp, [1], dt_kp, [0.9], [1], visible=None, areas=[20000.0])

    with pytest.raises(ShapeError, match=r"dt_keypoints: expected \(D, 17, 3\)"):
        run(dt_kp=POSE[None])
    with pytest.raises(ShapeError, match=r"dt_keypoints: expected \(D, 17, 2\)"):
        run(gt_kp=POSE[None])
    with pytest.raises(ShapeError, match="gt_keypoints"):
        run(gt_kp=np.zeros((1, J, 4)), dt_kp=np.zeros((1, J, 4)))
    with pytest.raises(ShapeError, match="gt_keypoints"):
        run(gt_kp=np.zeros((1, J, 1)), dt_kp=np.zeros((1, J, 1)))


def _core_eval(gt_kp: np.ndarray, dt_kp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g, d = len(gt_kp), len(dt_kp)
    return _core.coco_keypoint_eval(
        gt_kp,
        np.ones((g, J), bool),
        np.full(g, 20000.0),
        np.zeros((g, 4)),
        np.zeros(g, bool),
        np.zeros(g, bool),
        np.array([0, g], np.int64),
        dt_kp,
        np.full(d, 0.9),
        np.array([0, d], np.int64),
        np.array(_core.COCO17_SIGMAS),
        np.array([0.5, 0.75]),
        np.linspace(0, 1, 11),
        np.array([[0.0, 1e10]]),
        20,
        1,
        1,
        "greedy",
    )


def test_binding_checks_coordinates_by_name() -> None:
    precision, recall = _core_eval(np.ascontiguousarray(POSE3[None]), np.ascontiguousarray(POSE3[None]))
    assert precision.shape == (2, 11, 1, 1) and (recall == 1.0).all()
    with pytest.raises(ShapeError, match=r"dt_keypoints: expected \(D, 17, 3\)"):
        _core_eval(np.ascontiguousarray(POSE3[None]), np.ascontiguousarray(POSE[None]))
    with pytest.raises(ShapeError, match="gt_keypoints"):
        _core_eval(np.zeros((1, J, 4)), np.zeros((1, J, 4)))
