"""The ridge fit behind every run's linear baseline and readout: csipose against the direct algorithm.

Every training run fits :class:`csipose.ridge.RidgeRegression` on the flattened, normalised
training windows, choosing the regularisation (13 strengths) and the weight of the channel groups
(5 weightings of amplitude and phase) on held-out subjects. The direct algorithm, written out
here as the reference, forms the weighted input and its Gram matrix anew for every weighting
and solves on every row; csipose forms each group's Gram matrix once
(:class:`csipose.ridge._Grams`) and, for person slots, fits the blocks that share their samples
together (:meth:`csipose.ridge.RidgeRegression.fit_blocks`). Both run in this process on the same
data, of a default run's size: 5,120 windows of 6 channels x 114 subcarriers x 10 packets
(``--receivers 3``: 18 channels), 17 x 3 joint targets per block, subjects as held-out groups.

    python benches/bench_ridge.py                 # one block (a one-person run), then three (slots)
    python benches/bench_ridge.py --receivers 3   # three receivers' 20,520 columns
    python benches/bench_ridge.py --quick         # small: a smoke run
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np
import scipy.linalg

from csipose.ridge import ALPHAS, RidgeRegression, group_weightings


def direct_fit(x: np.ndarray, y: np.ndarray, groups: np.ndarray, subjects: np.ndarray,
               alphas: Sequence[float] = ALPHAS) -> tuple[np.ndarray, np.ndarray, float, tuple[float, ...]]:
    """The reference: ``(weight, bias, alpha, weights)`` of the ridge fit with the held-out choice,
    every weighting's Gram matrix formed from its weighted columns (``x`` already standardised)."""
    distinct = np.unique(subjects)
    held = np.isin(subjects, distinct[4::5])
    best = (np.inf, 0.0, (1.0,))
    for weights in group_weightings(int(groups.max()) + 1):
        col_w = np.sqrt(np.asarray(weights)[groups])
        keep = col_w > 0
        xw = x[:, keep] * col_w[keep]
        xf, xh = xw[~held], xw[held]
        mean = xf.mean(axis=0)
        xf, xh = xf - mean, xh - mean
        yf = y[~held] - y[~held].mean(axis=0)
        s, u = np.linalg.eigh(xf @ xf.T)
        s = np.clip(s, 0.0, None)
        left, right = (xh @ xf.T) @ u, u.T @ yf
        for alpha in alphas:
            pred = left @ (right / (s + alpha * s.sum() / len(xf))[:, None]) + y[~held].mean(axis=0)
            mse = float(np.mean((pred - y[held]) ** 2))
            if mse < best[0]:
                best = (mse, alpha, tuple(weights))
    _, alpha, weights = best
    col_w = np.sqrt(np.asarray(weights)[groups])
    keep = col_w > 0
    xw = (x[:, keep] - x[:, keep].mean(axis=0)) * col_w[keep]
    gram = xw @ xw.T
    lam = alpha * np.trace(gram) / len(xw)
    coef = xw.T @ scipy.linalg.solve(gram + lam * np.eye(len(xw)), y - y.mean(axis=0), assume_a="pos")
    weight = np.zeros((x.shape[1], y.shape[1]))
    weight[keep] = coef * col_w[keep, None]
    return weight, y.mean(axis=0) - x.mean(axis=0) @ weight, alpha, weights


def eigendecompositions(x: np.ndarray, subjects: np.ndarray, count: int) -> tuple[int, float]:
    """``(fitting rows, seconds)`` of ``count`` eigendecompositions of the fitting rows' Gram matrix
    (``numpy.linalg.eigh``): what every weighting of a fit costs at least, in either algorithm."""
    xf = x[~np.isin(subjects, np.unique(subjects)[4::5])]
    gram = xf @ xf.T
    start = time.perf_counter()
    for _ in range(count):
        np.linalg.eigh(gram)
    return len(xf), time.perf_counter() - start


def problem(rows: int, channels: int, blocks: int, seed: int = 0) -> tuple[np.ndarray, list[np.ndarray], np.ndarray, np.ndarray]:
    """``(x [rows, channels * 1140] standardised, [y [rows, 51]] * blocks, column groups, subjects)``:
    the joints a noisy linear map of the input (the amplitude half carrying more than the phase)."""
    rng = np.random.default_rng(seed)
    d = channels * 114 * 10
    x = rng.standard_normal((rows, d))
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    groups = np.repeat(np.arange(2), d // 2)
    maps = rng.standard_normal((blocks, d, 51)) * np.where(groups == 0, 1.0, 0.2)[None, :, None] / np.sqrt(d)
    ys = [x @ m + rng.standard_normal((rows, 51)) for m in maps]
    return x, ys, groups, np.arange(rows) % 32


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--receivers", type=int, default=1, choices=(1, 2, 3))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows = 600 if args.quick else 5120
    channels = 6 * args.receivers
    print(f"ridge fit of {rows:,} windows x {channels * 1140:,} columns (2 channel groups, 5 weightings, "
          f"{len(ALPHAS)} strengths); seconds on this machine")
    print(f"{'targets':<34} {'csipose':>9} {'direct':>9} {'ratio':>7}  max |weight difference|")
    for blocks in (1, 3):
        x, ys, groups, subjects = problem(rows, channels, blocks)
        start = time.perf_counter()
        ours = RidgeRegression.fit_blocks(x, ys, holdout_groups=subjects, column_groups=groups, standardize=False)
        mine = time.perf_counter() - start
        start = time.perf_counter()
        theirs = [direct_fit(x, y, groups, subjects) for y in ys]
        direct = time.perf_counter() - start
        same = all(o.alpha == t[2] and o.group_weights == t[3] for o, t in zip(ours, theirs))
        diff = max(float(np.abs(o.weight - t[0]).max()) for o, t in zip(ours, theirs))
        label = "one block (a one-person run)" if blocks == 1 else "three blocks (two slots + presence)"
        print(f"{label:<34} {mine:>8.1f}s {direct:>8.1f}s {direct / mine:>6.1f}x  {diff:.1e}"
              + ("" if same else "  (a different choice of alpha or weights)"))
        if not same:
            return 1
    rows_fit, seconds = eigendecompositions(x, subjects, len(group_weightings(2)))
    print(f"limit: {len(group_weightings(2))} eigendecompositions of the {rows_fit:,} fitting rows' Gram matrix "
          f"{seconds:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
