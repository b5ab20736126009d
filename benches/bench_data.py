"""MM-Fi reading throughput: the official per-frame loadmat loop vs csipose's packed cache.

Writes a synthetic MM-Fi tree (MATLAB v5 frames of (3, 114, 10) CSI, as the
dataset ships them), packs it with ``prepare_mmfi`` and reports frames/s of:

- the official toolbox's way: ``scipy.io.loadmat`` per frame + its amplitude cleaning loop;
- ``MMFiDataset`` reading the tree directly (same per-frame loadmat);
- ``MMFiDataset`` on the cache, per item and batched (``read_batch``, what ``make_loader``'s
  DataLoader asks for a batch, and ``__getitems__``, the same as per-sample dicts),
  amplitude only (the official output) and amplitude + sanitised phase (the default);
- the limit: ``np.copyto`` of the same amplitude bytes out of the cache's map, batch by batch
  (a reader must at least copy every frame once);
- ``make_loader`` (DataLoader, batch 64, shuffled) with 0 and 2 workers over the cache: a
  whole epoch including worker start-up, and the steady rate after the first batch.

    python benches/bench_data.py            # 2 subjects x 3 actions x 297 frames
    python benches/bench_data.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from csipose.data import MMFiDataset, make_loader, prepare_mmfi

FRAME = (3, 114, 10)


def write_tree(root: Path, subjects: int, actions: int, frames: int) -> list[Path]:
    """MM-Fi-layout sequences of random CSI, 5% of frames with a few -inf; returns the frame paths."""
    rng = np.random.default_rng(0)
    paths = []
    for s in range(1, subjects + 1):
        for a in range(2, actions + 2):
            seq = root / f"E{(s - 1) // 10 + 1:02d}" / f"S{s:02d}" / f"A{a:02d}"
            (seq / "wifi-csi").mkdir(parents=True)
            np.save(seq / "ground_truth.npy", rng.normal(0, 0.5, (297, 17, 3)))
            for k in range(1, frames + 1):
                amp = rng.uniform(1, 40, FRAME)
                if rng.random() < 0.05:  # a few frames carry -inf (log of a zero amplitude)
                    amp[rng.random(FRAME) < 0.002] = -np.inf
                path = seq / "wifi-csi" / f"frame{k:03d}.mat"
                scipy.io.savemat(path, {"CSIamp": amp, "CSIphase": rng.uniform(-np.pi, np.pi, FRAME)})
                paths.append(path)
    return paths


def official_frame(path: Path) -> np.ndarray:
    """What the MM-Fi toolbox does per WiFi frame: loadmat, inf -> NaN, per-packet NaN fill, min-max."""
    data = scipy.io.loadmat(path)["CSIamp"]
    data[np.isinf(data)] = np.nan
    for i in range(10):
        col = data[:, :, i]
        if np.count_nonzero(col != col):
            col[np.isnan(col)] = col[col == col].mean()
    return (data - np.min(data)) / (np.max(data) - np.min(data))


def best_rate(fn: Callable[[], int], repeats: int) -> float:
    """Items/s of the fastest of ``repeats`` calls (after one warm-up); ``fn`` returns items done."""
    fn()
    best = float("inf")
    items = 0
    for _ in range(repeats):
        start = time.perf_counter()
        items = fn()
        best = min(best, time.perf_counter() - start)
    return items / best


def per_item(ds: MMFiDataset) -> Callable[[], int]:
    def run() -> int:
        for i in range(len(ds)):
            ds[i]
        return len(ds)

    return run


def batched(ds: MMFiDataset, size: int, shuffled: bool = False, samples: bool = False) -> Callable[[], int]:
    """Reads every window ``size`` at a time: ``read_batch`` (what ``make_loader`` asks), or
    with ``samples`` ``__getitems__`` (what a plain DataLoader asks: per-sample dicts)."""
    order = np.random.default_rng(0).permutation(len(ds)) if shuffled else np.arange(len(ds))
    read = ds.__getitems__ if samples else ds.read_batch

    def run() -> int:
        for i in range(0, len(ds), size):
            read(order[i : i + size])
        return len(ds)

    return run


def copy_limit(cache: Path, size: int) -> Callable[[], int]:
    """``np.copyto`` of every amplitude frame of the cache, ``size`` frames at a time, into one buffer."""
    amplitude = np.load(cache / "amplitude.npy", mmap_mode="r").view(np.ndarray)
    out = np.empty((size, *amplitude.shape[1:]), dtype=amplitude.dtype)

    def run() -> int:
        for i in range(0, len(amplitude), size):
            part = amplitude[i : i + size]
            np.copyto(out[: len(part)], part)
        return len(amplitude)

    return run


def loader_rate(ds: MMFiDataset, workers: int, repeats: int, batch: int) -> tuple[float, float]:
    """(frames/s over a whole epoch incl. worker start-up, frames/s after the first batch), best of ``repeats``."""
    whole, steady = 0.0, 0.0
    for epoch in range(repeats + 1):
        start = time.perf_counter()
        first_at, first_n, n = 0.0, 0, 0
        for out in make_loader(ds, batch_size=batch, shuffle=True, workers=workers, seed=0, epoch=epoch):
            n += len(out["csi"])
            if not first_at:
                first_at, first_n = time.perf_counter(), n
        end = time.perf_counter()
        if epoch:  # the first epoch warms caches
            whole = max(whole, n / (end - start))
            steady = max(steady, (n - first_n) / max(end - first_at, 1e-9))
    return whole, steady


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=2)
    parser.add_argument("--actions", type=int, default=3)
    parser.add_argument("--frames", type=int, default=297)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="1 subject x 1 action x 40 frames, one repeat")
    args = parser.parse_args()
    subjects, actions, frames, repeats, bs = (
        (1, 1, 40, 1, 8) if args.quick else (args.subjects, args.actions, args.frames, args.repeats, args.batch)
    )

    with tempfile.TemporaryDirectory() as tmp:
        root, cache = Path(tmp) / "mmfi", Path(tmp) / "cache"
        paths = write_tree(root, subjects, actions, frames)
        n = len(paths)
        split = {"train": {f"S{s:02d}": [f"A{a:02d}" for a in range(2, actions + 2)] for s in range(1, subjects + 1)}, "val": {}}
        print(f"MM-Fi tree: {subjects} subject(s) x {actions} action(s) x {frames} frames = {n} frame files (page-cached)")

        prep = {}
        for workers in (0, 2):
            start = time.perf_counter()
            prepare_mmfi(root, cache, workers=workers, progress=False)
            prep[workers] = n / (time.perf_counter() - start)
        print(f"prepare_mmfi (one-off): {prep[0]:,.0f} frames/s in-process, {prep[2]:,.0f} frames/s with 2 workers")

        def official() -> int:
            for p in paths:
                official_frame(p)
            return n

        amp: dict[str, Any] = {"scheme": "manual", **split, "features": ("amplitude",)}
        both: dict[str, Any] = {"scheme": "manual", **split}
        amp_ds = MMFiDataset(root, cache=cache, **amp)
        batch_name = f"MMFiDataset cache, amplitude, batch {bs}"
        limit_name = f"limit: np.copyto of the same amplitude bytes, {bs} frames at a time"
        rates = {
            "official loop: loadmat + cleaning per frame": best_rate(official, repeats),
            "MMFiDataset direct (no cache), amplitude": best_rate(per_item(MMFiDataset(root, **amp)), repeats),
            "MMFiDataset cache, amplitude, per item": best_rate(per_item(amp_ds), repeats),
            batch_name: best_rate(batched(amp_ds, bs), repeats),
            f"MMFiDataset cache, amplitude, batch {bs}, shuffled": best_rate(batched(amp_ds, bs, shuffled=True), repeats),
            f"MMFiDataset cache, amplitude, batch {bs}, as samples (__getitems__)": best_rate(
                batched(amp_ds, bs, samples=True), repeats
            ),
            limit_name: best_rate(copy_limit(cache, bs), repeats),
            "MMFiDataset cache, amp + phase, per item": best_rate(per_item(MMFiDataset(root, cache=cache, **both)), repeats),
            f"MMFiDataset cache, amp + phase, batch {bs}": best_rate(batched(MMFiDataset(root, cache=cache, **both), bs), repeats),
        }
        ds = MMFiDataset(root, cache=cache, **both)
        for workers in (0, 2):
            whole, steady = loader_rate(ds, workers, repeats, bs)
            rates[f"make_loader amp + phase, batch {bs}, {workers} workers, epoch"] = whole
            rates[f"make_loader amp + phase, batch {bs}, {workers} workers, steady"] = steady

    base = rates["official loop: loadmat + cleaning per frame"]
    width = max(map(len, rates))
    print(f"{'reader':<{width}}  {'frames/s':>10}  vs official")
    for name, rate in rates.items():
        print(f"{name:<{width}}  {rate:>10,.0f}  {rate / base:8.1f}x")
    ours, limit = rates[batch_name], rates[limit_name]
    print(
        f"batched amplitude reads (batch {bs}): {ours:,.0f} frames/s ({1e6 / ours:.2f} us a frame) = "
        f"{ours / base:.1f}x the official loop's {base:,.0f} (goal 50x); the copy limit is {limit:,.0f} frames/s "
        f"({1e6 / limit:.2f} us a frame), csipose reaches {ours / limit:.0%} of it"
    )


if __name__ == "__main__":
    main()
