"""COCO keypoint OKS-AP speed: csipose.metrics.oks_ap vs pycocotools' COCOeval, in one run.

A random COCO-format scene (0-6 people per image with small, medium and large
areas, missing keypoints; 0-8 detections per image) is scored by both; the ten
stats are checked equal to 1e-6 before timing. pycocotools is timed from its
COCO index to ``summarize()`` (its prints suppressed); csipose from the same
dicts to the same stats.

    python benches/bench_oks_ap.py            # 5,000 images
    python benches/bench_oks_ap.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import csipose
from csipose.metrics import oks_ap
from _timing import best_time

J = 17


def scene(n_images: int, seed: int = 0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    annotations: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for img in range(1, n_images + 1):
        people = []
        for _ in range(rng.integers(0, 7)):
            area = float(rng.choice([rng.uniform(100, 1024), rng.uniform(1024, 9216), rng.uniform(9216, 80000)]))
            xy = rng.uniform(50, 600, 2) + rng.normal(0, np.sqrt(area) / 3, (J, 2))
            v = rng.choice([0, 1, 2], J, p=[0.2, 0.2, 0.6])
            lo, hi = xy.min(axis=0), xy.max(axis=0)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": img,
                    "category_id": 1,
                    "keypoints": np.concatenate([xy * (v > 0)[:, None], v[:, None]], axis=1).reshape(-1).tolist(),
                    "num_keypoints": int((v > 0).sum()),
                    "area": area,
                    "bbox": [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])],
                    "iscrowd": 0,
                }
            )
            people.append((xy, area))
        for _ in range(rng.integers(0, 9)):
            if people and rng.random() < 0.7:
                xy, area = people[rng.integers(len(people))]
                det = xy + rng.normal(0, np.sqrt(area) * rng.uniform(0.01, 0.15), (J, 2))
            else:
                det = rng.uniform(0, 640, 2) + rng.normal(0, 30, (J, 2))
            kp = np.concatenate([det, np.ones((J, 1))], axis=1).reshape(-1).tolist()
            results.append({"image_id": img, "category_id": 1, "keypoints": kp, "score": float(rng.random())})
    images = [{"id": i} for i in range(1, n_images + 1)]
    return {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "person"}]}, results


def pycocotools_stats(gt: dict[str, Any], results: list[dict[str, Any]]) -> np.ndarray:
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, coco_dt, iouType="keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny scene, one repeat")
    args = parser.parse_args()
    n_images, repeats = (100, 1) if args.quick else (args.images, args.repeats)
    gt, results = scene(n_images)

    theirs = pycocotools_stats(copy.deepcopy(gt), copy.deepcopy(results))
    for matching in ("greedy", "optimal"):
        ours = oks_ap(gt, results, matching=matching).stats  # type: ignore[arg-type]
        if matching == "greedy":
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    # pycocotools mutates its inputs (loadRes adds fields): give each run fresh copies.
    copies = [(copy.deepcopy(gt), copy.deepcopy(results)) for _ in range(repeats)]
    t_coco = best_time(lambda: pycocotools_stats(*copies.pop()), repeats, warmup=False)
    t_ours = best_time(lambda: oks_ap(gt, results), repeats, warmup=False)
    t_optimal = best_time(lambda: oks_ap(gt, results, matching="optimal"), repeats, warmup=False)

    print(f"threads: csipose {csipose.get_num_threads()}")
    print(
        f"{n_images:,} images, {len(gt['annotations']):,} GT people, {len(results):,} detections; "
        f"best of {repeats}; AP {theirs[0]:.4f} (both)"
    )
    print(f"{'implementation':<28}{'time (s)':>10}{'images/s':>12}{'pycocotools / this':>21}")
    for name, seconds in (
        ("pycocotools COCOeval", t_coco),
        ("csipose oks_ap (greedy)", t_ours),
        ("csipose oks_ap (optimal)", t_optimal),
    ):
        print(f"{name:<28}{seconds:>10.3f}{n_images / seconds:>12,.0f}{t_coco / seconds:>20.2f}x")


if __name__ == "__main__":
    main()
