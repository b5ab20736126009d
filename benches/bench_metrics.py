"""Pose-metric throughput: csipose vs vectorised numpy, in one run.

Scores N 17-joint 3D poses (float32, all joints visible, H36M-17 torso) with
PCK@10..50, MPJPE and PA-MPJPE, timing csipose's Rust kernels and the numpy
code a user would otherwise write (whole-array operations; a batched
``np.linalg.svd`` for Procrustes). Results are checked to agree first.

The limit row times one read of the same bytes (both arrays, split over as many
threads as csipose uses): no kernel that reads its input can beat it, so
numpy's time divided by it is the largest ratio memory allows on this machine.

    python benches/bench_metrics.py            # 1,000,000 poses
    python benches/bench_metrics.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import csipose
import csipose.metrics as M

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _timing import best_times
from csipose.skeletons import H36M17  # noqa: E402
from tests.parity.reference_metrics import (  # noqa: E402
    batched_pa_mpjpe,
    reference_mpjpe_frames,
    reference_pck,
)

THRESHOLDS = (10, 20, 30, 40, 50)
TORSO = (14, 4)


def read_once(arrays: list[np.ndarray], threads: int) -> Callable[[], object]:
    """A call that reads every byte of ``arrays`` once (an OR over 64-bit words), on
    ``threads`` threads: numpy releases the GIL inside the reduction."""
    words = [a.reshape(-1).view(np.uint64) if a.nbytes % 8 == 0 else a.reshape(-1).view(np.uint8) for a in arrays]
    parts = [p for w in words for p in np.array_split(w, threads)]
    pool = ThreadPoolExecutor(threads)
    return lambda: list(pool.map(np.bitwise_or.reduce, parts))


def numpy_pck(pred: np.ndarray, gt: np.ndarray) -> list[float]:
    """Canonical torso PCK (all joints visible) as whole-array numpy."""
    d = np.sqrt(np.sum((pred.astype(np.float64) - gt) ** 2, axis=-1))
    torso = np.sqrt(np.sum((gt[:, TORSO[0]].astype(np.float64) - gt[:, TORSO[1]]) ** 2, axis=-1))
    ok = torso > 0
    total = ok.sum() * gt.shape[1]
    return [float(((d <= (k / 100) * torso[:, None]) & ok[:, None]).sum() / total) for k in THRESHOLDS]


def numpy_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    return float(np.sqrt(np.sum((pred.astype(np.float64) - gt) ** 2, axis=-1)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--poses", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat")
    args = parser.parse_args()
    n, repeats = (5_000, 1) if args.quick else (args.poses, args.repeats)

    rng = np.random.default_rng(0)
    gt = rng.standard_normal((n, 17, 3)).astype(np.float32)
    pred = (gt + 0.15 * rng.standard_normal(gt.shape)).astype(np.float32)

    ours_pck = M.pck(pred, gt, thresholds=THRESHOLDS).pck
    np.testing.assert_allclose(ours_pck, numpy_pck(pred, gt), rtol=1e-12)
    np.testing.assert_allclose(M.mpjpe(pred, gt), numpy_mpjpe(pred, gt), rtol=1e-9)
    pa_n = min(n, 200_000)
    np.testing.assert_allclose(
        M.mpjpe(pred[:pa_n], gt[:pa_n], align="procrustes"),
        batched_pa_mpjpe(pred[:pa_n].astype(np.float64), gt[:pa_n].astype(np.float64)),
        rtol=1e-9,
    )

    rows = [
        ("PCK@10..50 (torso)", lambda: M.pck(pred, gt, thresholds=THRESHOLDS), lambda: numpy_pck(pred, gt), n),
        ("MPJPE", lambda: M.mpjpe(pred, gt), lambda: numpy_mpjpe(pred, gt), n),
        (
            "PA-MPJPE",
            lambda: M.mpjpe(pred[:pa_n], gt[:pa_n], align="procrustes"),
            lambda: batched_pa_mpjpe(pred[:pa_n].astype(np.float64), gt[:pa_n].astype(np.float64)),
            pa_n,
        ),
    ]
    print(f"{n:,} poses x 17 joints x 3D float32, {csipose.get_num_threads()} threads, best of {repeats}")
    print(
        f"{'metric':<20} {'frames':>10} {'csipose':>10} {'numpy':>10} {'wall x':>7}"
        f" {'cpu csipose':>12} {'cpu numpy':>10} {'cpu x':>6}"
    )
    walls = {}
    for name, ours, peer, frames in rows:
        (w_ours, c_ours), (w_peer, c_peer) = best_times(ours, repeats), best_times(peer, repeats)
        walls[name] = w_peer
        print(
            f"{name:<20} {frames:>10,} {w_ours * 1e3:>8.1f}ms {w_peer * 1e3:>8.1f}ms {w_peer / w_ours:>6.1f}x"
            f" {c_ours * 1e3:>10.1f}ms {c_peer * 1e3:>8.1f}ms {c_peer / c_ours:>5.1f}x"
        )
    threads = csipose.get_num_threads()
    w_read, _ = best_times(read_once([pred, gt], threads), repeats)
    pck_peer = walls["PCK@10..50 (torso)"]
    print(
        f"{'limit: read input':<20} {n:>10,} {w_read * 1e3:>8.1f}ms {pck_peer * 1e3:>8.1f}ms {pck_peer / w_read:>6.1f}x"
        f"  (one read of pred + gt, {(pred.nbytes + gt.nbytes) / 1e6:.0f} MB on {threads} threads: the most any"
        f" PCK kernel can gain on numpy here)"
    )
    # the plainly written per-frame reference of the parity tests, on a slice
    m = min(n, 20_000)
    print(f"\nvs the per-frame numpy reference of the parity tests ({m:,} poses, per-pose ratio):")
    plain = [
        (
            "PCK@10..50 (torso)",
            lambda: reference_pck(pred[:m], gt[:m], None, list(THRESHOLDS), "torso", H36M17, "canonical"),
            rows[0],
        ),
        ("PA-MPJPE", lambda: reference_mpjpe_frames(pred[:m], gt[:m], None, "procrustes", [0]), rows[2]),
    ]
    for name, ref, (_, ours, _, frames) in plain:
        w_ref, _ = best_times(ref, 1)
        w_ours, _ = best_times(ours, repeats)
        print(
            f"{name:<20} reference {w_ref / m * 1e6:8.2f} us/pose  csipose {w_ours / frames * 1e6:6.3f} us/pose"
            f"  {w_ref / m / (w_ours / frames):7.0f}x"
        )
    w_eval, _ = best_times(lambda: M.evaluate(pred, gt), repeats)
    print(f"evaluate (PCK@10..50 + 51-point curve + 3 MPJPEs): {w_eval * 1e3:.1f}ms, {n / w_eval / 1e6:.2f}M poses/s")


if __name__ == "__main__":
    main()
