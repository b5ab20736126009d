"""DensePose metrics speed: the Rust kernels vs the vectorised numpy reference, in one run.

Random IUV images of 56 x 56 pixels (float32, as a model's head gives them):
about 60 % body pixels over all 24 parts; the prediction has the right part on
70 % of them, its U, V off by Gaussian noise. Both implementations are checked
equal on the first frames before timing. The numpy reference
(``tests/parity/reference_densepose.py``) runs on blocks of 500 frames so its
float64 temporaries fit in memory. The goal: per-pixel GPS of 10,000 frames in
under 1 s.

    python benches/bench_densepose_metrics.py            # 10,000 frames
    python benches/bench_densepose_metrics.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import csipose
from csipose.metrics import densepose_gps, evaluate_densepose

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _timing import best_time, best_times  # noqa: E402
from tests.parity import reference_densepose as R  # noqa: E402

SIZE = 56
BLOCK = 500
GOAL_FRAMES, GOAL_SECONDS = 10_000, 1.0


def iuv_pair(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true = np.zeros((n, 3, SIZE, SIZE), np.float32)
    true[:, 0] = np.where(rng.random((n, SIZE, SIZE)) < 0.4, 0, rng.integers(1, 25, (n, SIZE, SIZE)))
    true[:, 1:] = rng.random((n, 2, SIZE, SIZE))
    pred = true.copy()
    wrong = rng.random((n, SIZE, SIZE)) < 0.3
    pred[:, 0] = np.where(wrong, rng.integers(0, 25, (n, SIZE, SIZE)), true[:, 0])
    pred[:, 1:] = np.clip(pred[:, 1:] + rng.normal(0, 0.05, (n, 2, SIZE, SIZE)), 0, 1)
    return pred, true


def reference_gps(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    return np.concatenate([R.gps(pred[i : i + BLOCK], true[i : i + BLOCK]) for i in range(0, len(pred), BLOCK)])


def reference_all(pred: np.ndarray, true: np.ndarray) -> float:
    """Every figure of the report, by the reference; returns dpAP."""
    frames = [R.frame_scores(pred[i : i + BLOCK], true[i : i + BLOCK]) for i in range(0, len(pred), BLOCK)]
    gpsm = np.concatenate([f[2] for f in frames])
    R.pooled_ious(pred[:, :1], true[:, :1])  # channel 0 only: a quarter of the float64 copy
    fg = R.per_frame(pred[:, 0] > 0)
    scores = fg.sum(axis=1) / fg.shape[1]
    precision = R.dp_ap_precision(gpsm, R.per_frame(true[:, 0] > 0).any(axis=1), fg.any(axis=1), scores)
    return float(precision.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=GOAL_FRAMES)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 frames, one repeat")
    args = parser.parse_args()
    n, repeats = (200, 1) if args.quick else (args.frames, args.repeats)
    pred, true = iuv_pair(n)

    check = slice(0, min(n, 200))
    np.testing.assert_allclose(
        densepose_gps(pred[check], true[check]), R.gps(pred[check], true[check]), rtol=0, atol=1e-6, equal_nan=True
    )
    report = evaluate_densepose(pred, true)
    np.testing.assert_allclose(report.dp_ap, reference_all(pred, true), rtol=0, atol=1e-12)

    t_gps, cpu_gps = best_times(lambda: densepose_gps(pred, true), repeats)
    t_all, cpu_all = best_times(lambda: evaluate_densepose(pred, true), repeats)
    t_ref_gps = best_time(lambda: reference_gps(pred, true), 1, warmup=False)
    t_ref_all = best_time(lambda: reference_all(pred, true), 1, warmup=False)

    pixels = n * SIZE * SIZE
    print(f"threads: csipose {csipose.get_num_threads()}")
    print(
        f"{n:,} frames of {SIZE} x {SIZE} float32; best of {repeats} (reference: one run); "
        f"dpAP {report.dp_ap:.4f}, GPSm {report.gpsm:.4f}, part mIoU {report.part_miou:.4f} (both)"
    )
    print(f"{'implementation':<36}{'time (s)':>10}{'Mpixel/s':>10}{'reference / this':>18}{'CPU (s)':>10}")
    for name, seconds, ref, cpu in (
        ("numpy reference, per-pixel GPS", t_ref_gps, t_ref_gps, None),
        ("csipose densepose_gps", t_gps, t_ref_gps, cpu_gps),
        ("numpy reference, every figure", t_ref_all, t_ref_all, None),
        ("csipose evaluate_densepose", t_all, t_ref_all, cpu_all),
    ):
        cpu_text = "" if cpu is None else f"{cpu:>10.3f}"
        print(f"{name:<36}{seconds:>10.3f}{pixels / seconds / 1e6:>10.1f}{ref / seconds:>17.2f}x{cpu_text}")
    scale = GOAL_FRAMES / n
    # On a shared machine the wall time follows the load; CPU time (all threads) is the work done.
    print(
        f"csipose densepose_gps of {GOAL_FRAMES:,} frames of {SIZE} x {SIZE}: {t_gps * scale:.3f} s wall, "
        f"{cpu_gps * scale:.3f} s CPU{'' if n == GOAL_FRAMES else f' (scaled from {n:,})'} "
        f"(goal under {GOAL_SECONDS:.0f} s wall): {'met' if t_gps * scale < GOAL_SECONDS else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
