"""Multi-object tracking metrics speed: csipose.metrics.mot vs py-motmetrics, in one run.

A synthetic sequence: 5-10 people walk at once (people leave and new ones
enter), a tracker sees each with position noise, misses 5 % of detections,
adds false positives, sometimes swaps the ids of two people and sometimes
gives a person a fresh id. Distances are Euclidean, NaN beyond 1 m. Both
implementations read the same frames; their metrics are checked equal
before timing. py-motmetrics is timed from a new ``MOTAccumulator`` through
``update`` per frame to ``compute`` of the same metrics; csipose from the same
frames to its result.

    python benches/bench_mot.py            # 10,000 frames
    python benches/bench_mot.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import motmetrics as mm  # type: ignore[import-untyped]
import numpy as np

from csipose.metrics import mot
from _timing import best_time

METRICS = [
    "mota",
    "motp",
    "idf1",
    "num_switches",
    "num_fragmentations",
    "num_misses",
    "num_false_positives",
    "num_matches",
    "num_objects",
    "num_frames",
]

Frame = tuple[np.ndarray, np.ndarray, np.ndarray]


def sequence(n_frames: int, seed: int = 0) -> list[Frame]:
    rng = np.random.default_rng(seed)
    next_gt, next_hyp = 0, 1000
    people: dict[int, dict[str, Any]] = {}  # gt id -> position, velocity, tracker id
    frames: list[Frame] = []
    for _ in range(n_frames):
        while len(people) < 5 or (len(people) < 10 and rng.random() < 0.02):
            people[next_gt] = {"p": rng.uniform(0, 10, 2), "v": rng.normal(0, 0.05, 2), "h": next_hyp}
            next_gt, next_hyp = next_gt + 1, next_hyp + 1
        if len(people) > 5 and rng.random() < 0.02:
            del people[int(rng.choice(list(people)))]
        ids = list(people)
        if len(ids) >= 2 and rng.random() < 0.01:  # the tracker swaps two people
            a, b = rng.choice(ids, 2, replace=False)
            people[a]["h"], people[b]["h"] = people[b]["h"], people[a]["h"]
        if rng.random() < 0.01:  # the tracker loses one and starts a new track
            people[int(rng.choice(ids))]["h"] = next_hyp
            next_hyp += 1
        for person in people.values():
            person["v"] = 0.9 * person["v"] + rng.normal(0, 0.01, 2)
            person["p"] = np.clip(person["p"] + person["v"], 0, 10)
        gt_ids = np.array(ids, dtype=np.int64)
        gt_pos = np.array([people[i]["p"] for i in ids])
        seen = rng.random(len(ids)) > 0.05
        hyp_ids = [people[i]["h"] for i, s in zip(ids, seen) if s]
        hyp_pos = [people[i]["p"] + rng.normal(0, 0.15, 2) for i, s in zip(ids, seen) if s]
        for _ in range(rng.poisson(0.3)):  # false positives
            hyp_ids.append(next_hyp)
            hyp_pos.append(rng.uniform(0, 10, 2))
            next_hyp += 1
        hyp = np.array(hyp_pos).reshape(-1, 2)
        d = np.linalg.norm(gt_pos[:, None, :] - hyp[None, :, :], axis=-1)
        d[d > 1.0] = np.nan
        frames.append((gt_ids, np.array(hyp_ids, dtype=np.int64), d))
    return frames


def motmetrics_compute(frames: list[Frame]) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        acc = mm.MOTAccumulator(auto_id=True)
        for g, h, d in frames:
            acc.update(g, h, d)
        return dict(mm.metrics.create().compute(acc, metrics=METRICS, return_dataframe=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="csipose runs (best taken); py-motmetrics runs once")
    parser.add_argument("--quick", action="store_true", help="300 frames, one repeat")
    args = parser.parse_args()
    n_frames, repeats = (300, 1) if args.quick else (args.frames, args.repeats)
    frames = sequence(n_frames)

    start = time.perf_counter()
    theirs = motmetrics_compute(frames)
    t_mm = time.perf_counter() - start
    ours = mot(frames)
    for name in METRICS:
        a, b = float(getattr(ours, name)), float(theirs[name])
        if not (math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15) or (math.isnan(a) and not math.isfinite(b))):
            raise SystemExit(f"{name}: csipose {a} != py-motmetrics {b}")
    t_ours = best_time(lambda: mot(frames), repeats, warmup=False)

    print(
        f"{n_frames:,} frames, {ours.num_objects:,} GT appearances ({ours.num_unique_objects:,} ids), "
        f"{ours.num_predictions:,} predictions; py-motmetrics LAP solver: {mm.lap.default_solver}"
    )
    print(
        f"MOTA {ours.mota:.4f}  MOTP {ours.motp:.4f}  IDF1 {ours.idf1:.4f}  switches {ours.num_switches:,}  "
        f"fragmentations {ours.num_fragmentations:,} (both)"
    )
    print(f"{'implementation':<22}{'time (s)':>10}{'frames/s':>12}{'py-motmetrics / this':>23}")
    for name, seconds in (("py-motmetrics", t_mm), ("csipose mot", t_ours)):
        print(f"{name:<22}{seconds:>10.3f}{n_frames / seconds:>12,.0f}{t_mm / seconds:>22.2f}x")
    ratio = t_mm / t_ours
    print(
        f"csipose mot on {n_frames:,} frames = {ratio:.1f}x py-motmetrics (goal 20x): "
        f"{'met' if ratio >= 20 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
