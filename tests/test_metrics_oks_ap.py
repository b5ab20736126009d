"""OKS-AP on hand-built scenes whose answers follow from the COCO protocol on paper."""

from __future__ import annotations

import numpy as np
import pytest

import csipose
from csipose.metrics import oks_ap, oks_ap_arrays
from csipose.errors import ArgumentError, ShapeError
from csipose.metrics._inputs import REQUIRED
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
    # COCO's [x, y, v] layout is refused with the convention in the message
    with pytest.raises(ShapeError, match=r"gt_keypoints: expected \(G, J, 2\).*visible="):
        run(gt_xy=np.concatenate([gt, np.full((1, J, 1), 2.0)], axis=2))
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
