"""Subcarrier resampling throughput: csipose vs torch vs a numpy gather, in one run.

Resamples a (rows, 114) float32 batch to 56 subcarriers (linear, align-corners)
and reports rows/s for each implementation, csipose's speed-up over each, and
csipose's achieved memory traffic as a fraction of a same-size ``np.copyto``.

    python benches/bench_subcarrier.py            # 200,000 rows
    python benches/bench_subcarrier.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

import csipose

N_IN, N_OUT = 114, 56


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Fastest of ``repeats`` timed calls after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def numpy_gather(x: np.ndarray, i0: np.ndarray, i1: np.ndarray, w1: np.ndarray) -> np.ndarray:
    """Linear interpolation as a user would write it in numpy: two gathers and a lerp."""
    a = x[:, i0]
    return a + (x[:, i1] - a) * w1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat")
    args = parser.parse_args()
    rows, repeats = (2_000, 1) if args.quick else (args.rows, args.repeats)

    x = np.random.default_rng(0).standard_normal((rows, N_IN)).astype(np.float32)
    resampler = csipose.Resampler(N_IN, N_OUT, "linear")
    xt = torch.from_numpy(x)[:, None, :]
    positions = np.arange(N_OUT) * (N_IN - 1) / (N_OUT - 1)
    i0 = np.minimum(np.floor(positions).astype(np.int64), N_IN - 2)
    w1 = (positions - i0).astype(np.float32)
    copy_dst = np.empty_like(x)

    ours = resampler.apply(x)
    np.testing.assert_allclose(ours, F.interpolate(xt, size=N_OUT, mode="linear", align_corners=True)[:, 0].numpy(), atol=1e-4)
    np.testing.assert_allclose(ours, numpy_gather(x, i0, i0 + 1, w1), atol=1e-5)

    timings = {
        "csipose": best_time(lambda: resampler.apply(x), repeats),
        "torch.interpolate": best_time(
            lambda: F.interpolate(xt, size=N_OUT, mode="linear", align_corners=True), repeats
        ),
        "numpy gather": best_time(lambda: numpy_gather(x, i0, i0 + 1, w1), repeats),
    }
    copy_time = best_time(lambda: np.copyto(copy_dst, x), repeats)

    print(f"resample {rows:,} x {N_IN} float32 -> {N_OUT} (linear); best of {repeats}")
    print(f"threads: csipose {csipose.get_num_threads()}, torch {torch.get_num_threads()}")
    print(f"{'implementation':<20}{'rows/s':>16}{'csipose speed-up':>20}")
    for name, seconds in timings.items():
        ratio = seconds / timings["csipose"]
        print(f"{name:<20}{rows / seconds:>16,.0f}{ratio:>19.2f}x")
    moved = x.nbytes + ours.nbytes
    achieved = moved / timings["csipose"]
    copy_rate = 2 * x.nbytes / copy_time
    print(f"csipose memory traffic {achieved / 1e9:.2f} GB/s = {achieved / copy_rate:.0%} of np.copyto "
          f"({copy_rate / 1e9:.2f} GB/s)")
    # No resampler can beat reading its input and writing its output once at copy speed.
    ceiling = rows * copy_rate / moved
    torch_rate = rows / timings["torch.interpolate"]
    print(f"memory-bound ceiling at np.copyto speed: {ceiling:,.0f} rows/s = {ceiling / torch_rate:.2f}x torch")


if __name__ == "__main__":
    main()
