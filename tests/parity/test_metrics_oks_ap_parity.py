"""OKS-AP against pycocotools' COCOeval (iouType="keypoints") on random multi-person scenes."""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from csipose.metrics import oks_ap, oks_ap_arrays

J = 17


def random_scene(seed: int, n_images: int, n_categories: int = 1) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """COCO ground truth and results: 0-4 people per image with small, medium and large
    areas, missing keypoints (some people with none), and 0-6 detections per image,
    near a person or anywhere, with scores that sometimes tie."""
    rng = np.random.default_rng(seed)
    image_ids = rng.choice(np.arange(1, 10 * n_images + 1), n_images, replace=False)
    images = [{"id": int(i), "width": 640, "height": 480} for i in image_ids]
    categories = [{"id": k + 1, "name": f"person{k}"} for k in range(n_categories)]
    annotations: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for img in image_ids:
        people = []
        for _ in range(rng.integers(0, 5)):
            band = rng.integers(0, 3)
            area = float(rng.uniform(*[(50, 1024), (1024, 9216), (9216, 60000)][band]))
            centre = rng.uniform(50, 600, 2)
            xy = centre + rng.normal(0, np.sqrt(area) / 3, (J, 2))
            v = rng.choice([0, 1, 2], J, p=[0.25, 0.25, 0.5])
            if rng.random() < 0.1:
                v[:] = 0
            lo, hi = xy.min(axis=0), xy.max(axis=0)
            kpts = np.concatenate([xy * (v > 0)[:, None], v[:, None]], axis=1)
            ann = {
                "id": len(annotations) + 1,
                "image_id": int(img),
                "category_id": int(rng.integers(1, n_categories + 1)),
                "keypoints": kpts.reshape(-1).tolist(),
                "num_keypoints": int((v > 0).sum()),
                "area": area,
                "bbox": [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])],
                "iscrowd": 0,
            }
            annotations.append(ann)
            people.append((xy, area, ann["category_id"]))
        for _ in range(rng.integers(0, 7)):
            if people and rng.random() < 0.75:
                xy, area, cat = people[rng.integers(len(people))]
                det = xy + rng.normal(0, np.sqrt(area) * rng.uniform(0.01, 0.15), (J, 2))
            else:
                cat = int(rng.integers(1, n_categories + 1))
                det = rng.uniform(0, 640, 2) + rng.normal(0, 30, (J, 2))
            score = float(np.round(rng.random(), 1) if rng.random() < 0.3 else rng.random())
            kp = np.concatenate([det, np.ones((J, 1))], axis=1)
            results.append({"image_id": int(img), "category_id": cat, "keypoints": kp.reshape(-1).tolist(), "score": score})
    if not results:  # COCO.loadRes cannot take an empty list
        results.append({"image_id": int(image_ids[0]), "category_id": 1, "keypoints": [10.0, 10.0, 1.0] * J, "score": 0.5})
    return {"images": images, "annotations": annotations, "categories": categories}, results


def coco_stats(gt: dict[str, Any], results: list[dict[str, Any]]) -> np.ndarray:
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(results))
        ev = COCOeval(coco_gt, coco_dt, iouType="keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats)


@given(st.integers(0, 2**32 - 1), st.integers(1, 8), st.sampled_from([1, 1, 2]))
def test_stats_equal_pycocotools(seed: int, n_images: int, n_categories: int) -> None:
    gt, results = random_scene(seed, n_images, n_categories)
    ours = oks_ap(gt, results)
    np.testing.assert_allclose(ours.stats, coco_stats(gt, results), rtol=0, atol=1e-6)


@given(st.integers(0, 2**32 - 1), st.integers(1, 8))
def test_array_form_equals_dict_form(seed: int, n_images: int) -> None:
    gt, results = random_scene(seed, n_images)
    anns = gt["annotations"]
    gt_kp = np.array([a["keypoints"] for a in anns]).reshape(-1, J, 3)
    ours = oks_ap_arrays(
        gt_kp[..., :2],
        [a["image_id"] for a in anns],
        np.array([r["keypoints"] for r in results]).reshape(-1, J, 3)[..., :2],
        [r["score"] for r in results],
        [r["image_id"] for r in results],
        visible=gt_kp[..., 2] > 0,
        areas=[a["area"] for a in anns],
        gt_bboxes=np.array([a["bbox"] for a in anns]).reshape(-1, 4),
        image_ids=[img["id"] for img in gt["images"]],
    )
    np.testing.assert_array_equal(ours.stats, oks_ap(gt, results).stats)


@given(st.integers(0, 2**32 - 1), st.integers(1, 8))
def test_optimal_matching_finds_at_least_as_many_true_positives(seed: int, n_images: int) -> None:
    gt, results = random_scene(seed, n_images)
    greedy = oks_ap(gt, results)
    optimal = oks_ap(gt, results, matching="optimal")
    # Final recall at each threshold = true positives / positives; max-cardinality matching cannot lose any.
    defined = greedy.recall > -1
    assert np.all(optimal.recall[defined] >= greedy.recall[defined] - 1e-12)
    np.testing.assert_array_equal(optimal.recall > -1, defined)
