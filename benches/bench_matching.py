"""Person matching speed: csipose vs scipy's linear_sum_assignment and lap.lapjv, in one run.

1. Many small frames (1-5 people on each side, uniform costs): one
   ``match_persons_batch`` call (list input and padded-array input) against a
   Python loop of ``linear_sum_assignment`` calls.
2. One 1000 x 1000 matrix, uniform floats and integers 0..99: ``match_persons``
   against ``linear_sum_assignment`` and ``lap.lapjv``.

Every optimum is checked against scipy's total cost before timing.

    python benches/bench_matching.py            # 20,000 frames, 1000 x 1000
    python benches/bench_matching.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import lap
import numpy as np
from scipy.optimize import linear_sum_assignment

import csipose
from _timing import best_time, best_times


def scipy_loop(frames: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [linear_sum_assignment(c) for c in frames]


def bench_batch(n_frames: int, repeats: int) -> None:
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 6, (n_frames, 2))
    padded = rng.random((n_frames, 5, 5))
    frames = [padded[k, :n, :m].copy() for k, (n, m) in enumerate(sizes)]

    batch = csipose.match_persons_batch(frames)
    expected = np.array([c[r, k].sum() for c, (r, k) in zip(frames, scipy_loop(frames))])
    np.testing.assert_allclose(batch.total_costs, expected, rtol=1e-12)
    np.testing.assert_allclose(csipose.match_persons_batch(padded, sizes=sizes).total_costs, expected, rtol=1e-12)

    timings = {
        "csipose batch (list)": best_times(lambda: csipose.match_persons_batch(frames), repeats),
        "csipose batch (padded)": best_times(lambda: csipose.match_persons_batch(padded, sizes=sizes), repeats),
        "scipy loop": best_times(lambda: scipy_loop(frames), repeats),
    }
    print(f"{n_frames:,} frames of 1-5 x 1-5 people; best of {repeats}")
    print(
        f"{'implementation':<26}{'frames/s':>14}{'time (ms)':>12}{'scipy time / this':>20}"
        f"{'cpu (ms)':>10}{'scipy cpu / this':>18}"
    )
    scipy_wall, scipy_cpu = timings["scipy loop"]
    for name, (seconds, cpu) in timings.items():
        print(
            f"{name:<26}{n_frames / seconds:>14,.0f}{1e3 * seconds:>12.2f}"
            f"{scipy_wall / seconds:>19.2f}x{1e3 * cpu:>10.2f}{scipy_cpu / cpu:>17.2f}x"
        )


def bench_large(n: int, repeats: int) -> None:
    rng = np.random.default_rng(1)
    cases = {
        "uniform [0, 1)": rng.random((n, n)),
        "integers 0..99": rng.integers(0, 100, (n, n)).astype(np.float64),
    }
    print(f"\none {n} x {n} matrix; best of {repeats}")
    print(f"{'costs':<18}{'csipose ms':>12}{'scipy ms':>10}{'lap ms':>9}{'scipy/csipose':>15}{'lap/csipose':>13}")
    for name, cost in cases.items():
        rows, cols = linear_sum_assignment(cost)
        optimum = cost[rows, cols].sum()
        ours = csipose.match_persons(cost)
        assert abs(ours.total_cost - optimum) <= 1e-9 * max(1.0, abs(optimum))
        assert abs(lap.lapjv(cost)[0] - optimum) <= 1e-9 * max(1.0, abs(optimum))
        t_ours = best_time(lambda: csipose.match_persons(cost), repeats)
        t_scipy = best_time(lambda: linear_sum_assignment(cost), repeats)
        t_lap = best_time(lambda: lap.lapjv(cost), repeats)
        print(
            f"{name:<18}{1e3 * t_ours:>12.1f}{1e3 * t_scipy:>10.1f}{1e3 * t_lap:>9.1f}"
            f"{t_scipy / t_ours:>14.2f}x{t_lap / t_ours:>12.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat")
    args = parser.parse_args()
    frames, size, repeats = (500, 100, 1) if args.quick else (args.frames, args.size, args.repeats)
    print(f"threads: csipose {csipose.get_num_threads()}")
    bench_batch(frames, repeats)
    bench_large(size, repeats)


if __name__ == "__main__":
    main()
