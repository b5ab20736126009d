"""Closed-form ridge regression with its regularisation chosen on held-out rows (numpy only).

Every training run fits one on the flattened preprocessed input as the linear baseline that a
model must beat, and the default models use one as a closed-form linear readout. The fit:

1. standardise every input column (mean 0, variance 1 over the training rows; constant columns
   are left at zero);
2. split the rows into a fitting part and a held-out part (by ``holdout_groups``, e.g. subjects,
   so the choice rewards generalising to new people, not to the next frame);
3. for each candidate weighting of the column groups (e.g. amplitude and phase, so a group that
   carries nothing can be turned down or off) and each regularisation ``lam = alpha * mean squared
   row norm``, score the held-out mean squared error through one eigendecomposition of the
   fitting part's Gram matrix (primal ``X^T X`` or dual ``X X^T``, whichever is smaller);
4. refit on all rows with the best pair.

Costs ``O(min(N, D)^3)`` per candidate weighting: a few seconds for 5,000 rows of 6,840 columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from csipose.errors import ArgumentError, ShapeError

__all__ = ["ALPHAS", "RidgeRegression", "group_weightings"]

#: Regularisation strengths tried, relative to the mean squared row norm of the standardised input.
ALPHAS = tuple(float(a) for a in np.logspace(-5, 1, 13))


def group_weightings(groups: int) -> list[tuple[float, ...]]:
    """Candidate column-group weights: all equal, each group alone, and each one turned down tenfold."""
    equal = (1.0,) * groups
    if groups == 1:
        return [equal]
    alone = [tuple(1.0 if g == k else 0.0 for g in range(groups)) for k in range(groups)]
    down = [tuple(0.1 if g == k else 1.0 for g in range(groups)) for k in range(groups)]
    return [equal, *alone, *down]


@dataclass(frozen=True)
class RidgeRegression:
    """A fitted ridge regression ``y = ((x - mean) / scale) @ weight + bias``.

    Attributes:
        mean, scale: ``float64[D]`` input standardisation.
        weight: ``float64[D, K]`` (column-group weights folded in).
        bias: ``float64[K]``.
        alpha: chosen regularisation, relative to the mean squared row norm.
        group_weights: chosen weight of each column group (1.0 for every group without groups).
        holdout_mse: held-out mean squared error of the chosen pair (per output).
    """

    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    alpha: float
    group_weights: tuple[float, ...]
    holdout_mse: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``float64[N, K]`` for ``x: float[N, D]``."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.mean.shape[0]:
            raise ShapeError(f"x: expected [N, {self.mean.shape[0]}], got {list(x.shape)}")
        return ((x - self.mean) / self.scale) @ self.weight + self.bias

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        *,
        holdout_groups: np.ndarray | None = None,
        column_groups: np.ndarray | None = None,
        weightings: Sequence[tuple[float, ...]] | None = None,
        alphas: Sequence[float] = ALPHAS,
        standardize: bool = True,
    ) -> RidgeRegression:
        """Fits ``y[N, K]`` on ``x[N, D]``.

        Args:
            holdout_groups: ``int[N]`` group of every row (e.g. subject); every fifth distinct
                group is held out for the choice. None, or a single group: the last fifth of the rows.
            column_groups: ``int[D]`` group of every column in ``0..G-1``; None = one group.
            weightings: candidate group weights (each a G-tuple); default :func:`group_weightings`.
            alphas: candidate regularisation strengths (relative, > 0).
            standardize: False takes ``x`` as already standardised (mean 0, scale 1 stored).
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
            raise ShapeError(f"x, y: expected [N, D] and [N, K], got {list(x.shape)} and {list(y.shape)}")
        n, d = x.shape
        if n < 2:
            raise ArgumentError(f"x: ridge regression needs at least 2 rows, got {n}")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ArgumentError("x, y: ridge regression needs finite values")
        if column_groups is None:
            column_groups = np.zeros(d, dtype=np.int64)
        column_groups = np.asarray(column_groups, dtype=np.int64)
        if column_groups.shape != (d,) or column_groups.min() < 0:
            raise ShapeError(f"column_groups: expected int[{d}] of groups >= 0, got {list(column_groups.shape)}")
        n_groups = int(column_groups.max()) + 1
        candidates = list(weightings) if weightings is not None else group_weightings(n_groups)
        if not candidates or any(len(w) != n_groups or max(w) <= 0 for w in candidates):
            raise ArgumentError(f"weightings: expected {n_groups}-tuples with a positive entry each")

        if standardize:
            mean, scale = x.mean(axis=0), x.std(axis=0)
            scale = np.where(scale > 1e-12 * max(float(scale.max()), 1e-300), scale, np.inf)
            xs = (x - mean) / scale
            scale = np.where(np.isinf(scale), 1.0, scale)
        else:
            mean, scale, xs = np.zeros(d), np.ones(d), x
        held = _holdout_rows(n, holdout_groups)
        fit_rows = ~held

        best: tuple[float, float, tuple[float, ...]] = (np.inf, 0.0, candidates[0])
        for weights in candidates:
            col_w = np.sqrt(np.asarray(weights)[column_groups])
            keep = col_w > 0
            xw = xs[:, keep] * col_w[keep]
            for alpha, mse in _holdout_scores(xw[fit_rows], y[fit_rows], xw[held], y[held], alphas):
                if mse < best[0]:
                    best = (mse, alpha, tuple(weights))
        mse, alpha, weights = best
        weight, bias = _solve(xs, y, column_groups, weights, alpha)
        return cls(mean=mean, scale=scale, weight=weight, bias=bias, alpha=alpha,
                   group_weights=weights, holdout_mse=float(mse))


def _holdout_rows(n: int, groups: np.ndarray | None) -> np.ndarray:
    """``bool[N]``: the rows held out for choosing the regularisation."""
    held = np.zeros(n, dtype=bool)
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (n,):
            raise ShapeError(f"holdout_groups: expected [{n}], got {list(groups.shape)}")
        distinct = np.unique(groups)
        if len(distinct) >= 2:
            chosen = distinct[4::5] if len(distinct) >= 5 else distinct[-1:]
            return np.isin(groups, chosen)
    held[n - max(1, n // 5):] = True
    return held


def _lambda_unit(trace: float, rows: int) -> float:
    """The unit of ``lam``: the mean squared row norm (about D for standardised columns), so a
    relative ``alpha`` means the same on the fitting part and on all rows."""
    return trace / rows if trace > 0 else 1.0


def _centre(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = y.mean(axis=0)
    return y - mean, mean


def _holdout_scores(
    x_fit: np.ndarray, y_fit: np.ndarray, x_held: np.ndarray, y_held: np.ndarray, alphas: Sequence[float]
) -> list[tuple[float, float]]:
    """``[(alpha, held-out MSE)]`` from one eigendecomposition of the fitting rows' Gram matrix."""
    yc, y_mean = _centre(y_fit)
    x_mean = x_fit.mean(axis=0)
    xf, xh = x_fit - x_mean, x_held - x_mean
    n, d = xf.shape
    if n <= d:  # dual: prediction = x_h X^T U diag(1/(s+lam)) U^T y
        s, u = np.linalg.eigh(xf @ xf.T)
        left, right = (xh @ xf.T) @ u, u.T @ yc
    else:  # primal: prediction = x_h V diag(1/(s+lam)) V^T X^T y
        s, u = np.linalg.eigh(xf.T @ xf)
        left, right = xh @ u, u.T @ (xf.T @ yc)
    s = np.clip(s, 0.0, None)
    scale = _lambda_unit(float(s.sum()), n)
    scores = []
    for alpha in alphas:
        pred = left @ (right / (s + alpha * scale)[:, None]) + y_mean
        scores.append((float(alpha), float(np.mean((pred - y_held) ** 2))))
    return scores


def _solve(
    xs: np.ndarray, y: np.ndarray, column_groups: np.ndarray, weights: tuple[float, ...], alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Weight ``[D, K]`` (group weights folded in) and bias ``[K]`` of the ridge fit on every row."""
    col_w = np.sqrt(np.asarray(weights)[column_groups])
    keep = col_w > 0
    x_mean = xs.mean(axis=0)
    xw = (xs[:, keep] - x_mean[keep]) * col_w[keep]
    yc, y_mean = _centre(y)
    n, d = xw.shape
    if n <= d:
        gram = xw @ xw.T
        lam = alpha * _lambda_unit(float(np.trace(gram)), n)
        coef = xw.T @ scipy.linalg.solve(gram + lam * np.eye(n), yc, assume_a="pos")
    else:
        gram = xw.T @ xw
        lam = alpha * _lambda_unit(float(np.trace(gram)), n)
        coef = scipy.linalg.solve(gram + lam * np.eye(d), xw.T @ yc, assume_a="pos")
    weight = np.zeros((xs.shape[1], y.shape[1]))
    weight[keep] = coef * col_w[keep, None]
    return weight, y_mean - x_mean @ weight
