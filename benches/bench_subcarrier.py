"""Subcarrier resampling throughput: csipose vs torch vs a numpy gather, in one run.

Resamples a (rows, 114) float32 batch to 56 subcarriers (linear, align-corners)
and reports rows/s for each implementation and csipose's speed-up over each:
csipose into a new array (what ``apply(x)`` returns: its pages are faulted in
fresh) and into a reused buffer (``apply(x, out=buf)``). The limits are memory
copies of the input measured in the same run: ``np.copyto`` into a reused buffer
(the limit of ``out=``) and ``x.copy()`` into a new array (the limit of a call
that returns a new array: the kernel must fault in and zero its fresh pages).
csipose reads the input and writes an output half its size once, so its
fraction of a limit is (input + output bytes) / time over the copy's
(2 x input bytes) / time.

Then per-row throughput of operators built from subcarrier plans
(``Resampler.from_indices``: IWL5300_30 -> HT40, ESP32_HT20 -> HT40, HT40 -> 56
by tone positions) beside the 114 -> 56 kernel, with the goal that each runs
at least as many rows/s; for a plan that misses it, its shape (input and output
row lengths, taps per row, which kernel runs) is printed beside it, with its
limit measured in the same run: the bytes it writes per row against np.copyto
of as many bytes.

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
from _timing import best_time

N_IN, N_OUT = 114, 56


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

    out = np.empty_like(ours)
    resampler.apply(x, out=out)
    np.testing.assert_array_equal(out, ours)
    timings = {
        "csipose": best_time(lambda: resampler.apply(x), repeats),
        "csipose, out=": best_time(lambda: resampler.apply(x, out=out), repeats),
        "torch.interpolate": best_time(
            lambda: F.interpolate(xt, size=N_OUT, mode="linear", align_corners=True), repeats
        ),
        "numpy gather": best_time(lambda: numpy_gather(x, i0, i0 + 1, w1), repeats),
    }
    copy_time = best_time(lambda: np.copyto(copy_dst, x), repeats)
    fresh_copy_time = best_time(lambda: x.copy(), repeats)

    print(f"resample {rows:,} x {N_IN} float32 -> {N_OUT} (linear); best of {repeats}")
    print(f"threads: csipose {csipose.get_num_threads()}, torch {torch.get_num_threads()}")
    print(f"{'implementation':<20}{'rows/s':>16}{'csipose speed-up':>20}")
    for name, seconds in timings.items():
        ratio = seconds / timings["csipose"]
        print(f"{name:<20}{rows / seconds:>16,.0f}{ratio:>19.2f}x")
    moved = x.nbytes + ours.nbytes
    copy_rate = 2 * x.nbytes / copy_time
    fresh_rate = 2 * x.nbytes / fresh_copy_time
    print(f"limit for out=: np.copyto of the input ({x.nbytes / 1e6:.0f} MB) into a reused buffer in "
          f"{copy_time * 1e3:.2f} ms = {copy_rate / 1e9:.2f} GB/s read + written")
    print(f"limit for a new array: x.copy() in {fresh_copy_time * 1e3:.2f} ms = {fresh_rate / 1e9:.2f} GB/s")
    for name, limit, limit_name in (
        ("csipose, out=", copy_rate, "np.copyto"),
        ("csipose", fresh_rate, "x.copy()"),
    ):
        achieved = moved / timings[name]
        also = "" if limit is copy_rate else f", {achieved / copy_rate:.2f} of np.copyto"
        print(f"{name:<14} moves {achieved / 1e9:.2f} GB/s in {timings[name] * 1e3:.2f} ms = "
              f"{achieved / limit:.2f} of {limit_name}{also}")
    # No resampler can beat reading its input and writing its output once at copy speed.
    ceiling = rows * copy_rate / moved
    torch_rate = rows / timings["torch.interpolate"]
    print(f"memory-bound ceiling at np.copyto speed: {ceiling:,.0f} rows/s = {ceiling / torch_rate:.2f}x torch")
    plan_throughput(rows, repeats, lambda: resampler.apply(x, out=out))


def plan_throughput(rows: int, repeats: int, kernel: Callable[[], object]) -> None:
    """Rows/s of from_indices operators into a reused buffer vs the 114 -> 56 kernel's,
    timed again here, just before them, under the same conditions."""
    rng = np.random.default_rng(1)
    kernel_time = best_time(kernel, repeats)
    kernel_rate = rows / kernel_time
    print(f"\nfrom_indices plans, {rows:,} float32 rows into a reused buffer; the 114 -> 56 kernel: "
          f"{kernel_rate:,.0f} rows/s")
    print(f"{'plan':<28}{'in':>5}{'out':>5}{'taps/row':>10}{'rows/s':>14}{'vs 114 -> 56':>14}")
    cases = [
        ("IWL5300_30 -> HT40", csipose.Resampler.from_indices("IWL5300_30", "HT40")),
        ("ESP32_HT20 -> HT40", csipose.Resampler.from_indices("ESP32_HT20", "HT40")),
        ("HT40 -> 56 by indices", csipose.Resampler.from_indices("HT40", n_out=56)),
    ]
    results = []
    for name, op in cases:
        x = rng.standard_normal((rows, op.n_in)).astype(np.float32)
        out = np.empty((rows, op.n_out), dtype=np.float32)
        seconds = best_time(lambda op=op, x=x, out=out: op.apply(x, out=out), repeats)
        m = op.matrix()
        taps = m.nnz / op.n_out
        rate = rows / seconds
        results.append((name, op, rate / kernel_rate, taps, seconds))
        print(f"{name:<28}{op.n_in:>5}{op.n_out:>5}{taps:>10.2f}{rate:>14,.0f}{rate / kernel_rate:>13.2f}x")
    for name, op, ratio, taps, seconds in results:
        verdict = "met" if ratio >= 1 else "NOT met"
        print(f"{name}: rows/s per row = {ratio:.2f}x the 114 -> 56 kernel (goal >= 1): {verdict}")
        if ratio < 1:
            # Why: bytes moved per row and copies (one-tap rows) vs blended outputs, against the kernel's.
            m = op.matrix()
            one_tap = int(np.sum(np.diff(m.indptr) == 1))
            moved = 4 * (op.n_in + op.n_out)
            print(f"  why: {op.n_in} in + {op.n_out} out = {moved} bytes/row vs {4 * (N_IN + N_OUT)} for "
                  f"114 -> 56; {one_tap} of {op.n_out} outputs are one-tap copies (outside the source span "
                  f"or on a source tone), {taps:.2f} taps/row; {moved * rows / seconds / 1e9:.2f} GB/s; "
                  f"{seconds / op.n_out / rows * 1e9:.2f} ns per output vs "
                  f"{kernel_time / N_OUT / rows * 1e9:.2f} for 114 -> 56: a row has {op.n_out / N_OUT:.2f}x "
                  f"the outputs, each {kernel_time / N_OUT / (seconds / op.n_out):.2f}x as fast")
            # The limit, measured now: the bytes the plan writes per row against np.copyto of as many.
            dst = np.empty((rows, op.n_out), dtype=np.float32)
            src = np.ones_like(dst)
            copy_time = best_time(lambda dst=dst, src=src: np.copyto(dst, src), repeats)
            written = 4 * op.n_out
            print(f"  limit: writes {written} bytes/row (the kernel {4 * N_OUT}), {written * rows / seconds / 1e9:.2f} "
                  f"GB/s written + {4 * op.n_in * rows / seconds / 1e9:.2f} GB/s read; np.copyto of the same "
                  f"{written * rows / 1e6:.0f} MB now: {2 * written * rows / copy_time / 1e9:.2f} GB/s read + "
                  f"written = {rows / copy_time:,.0f} rows/s, {rows / copy_time / kernel_rate:.2f}x the kernel's")
            if (op.n_in, op.n_out) == (N_IN, N_OUT) and abs(taps - 2 * (N_OUT - 1) / N_OUT) < 1e-9:
                print(f"  same shape as the kernel ({N_IN} in, {N_OUT} out, {taps:.2f} taps/row: the same 7 "
                      f"8-output groups, the same per-row work): the gap is in the timing (run order, load), not the operator")


if __name__ == "__main__":
    main()
