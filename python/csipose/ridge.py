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

The Gram matrices are formed once per column group (``O(N^2 D)``, or ``O(N D^2)`` with fewer columns
than rows), and every candidate weighting adds one ``O(min(N, D)^3)`` eigendecomposition;
:meth:`RidgeRegression.fit_blocks` fits several target blocks on one input for the cost of one fit.
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
        return cls.fit_blocks(x, [y], holdout_groups=holdout_groups, column_groups=column_groups,
                              weightings=weightings, alphas=alphas, standardize=standardize)[0]

    @classmethod
    def fit_blocks(
        cls,
        x: np.ndarray,
        ys: Sequence[np.ndarray],
        *,
        holdout_groups: np.ndarray | None = None,
        column_groups: np.ndarray | None = None,
        weightings: Sequence[tuple[float, ...]] | None = None,
        alphas: Sequence[float] = ALPHAS,
        standardize: bool = True,
    ) -> list[RidgeRegression]:
        """:meth:`fit` of every target block ``ys[i]: [N, K_i]`` on the same ``x[N, D]``, each with
        its own choice of regularisation and weighting, for about the cost of one fit: the Gram
        matrices (:class:`_Grams`) are computed once for every block and every weighting."""
        x = np.asarray(x, dtype=np.float64)
        ys = [np.asarray(y, dtype=np.float64) for y in ys]
        if x.ndim != 2 or not ys or any(y.ndim != 2 or x.shape[0] != y.shape[0] for y in ys):
            shapes = " and ".join(str(list(y.shape)) for y in ys)
            raise ShapeError(f"x, y: expected [N, D] and [N, K], got {list(x.shape)} and {shapes or 'no y'}")
        n, d = x.shape
        if n < 2:
            raise ArgumentError(f"x: ridge regression needs at least 2 rows, got {n}")
        if not (np.isfinite(x).all() and all(np.isfinite(y).all() for y in ys)):
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
        grams = _Grams(xs, column_groups, held)
        best = [(np.inf, 0.0, candidates[0]) for _ in ys]
        for weights in candidates:
            for i, scores in enumerate(grams.holdout_scores(weights, ys, alphas)):
                for alpha, mse in scores:
                    if mse < best[i][0]:
                        best[i] = (mse, alpha, tuple(weights))
        fits = []
        for y, (mse, alpha, weights) in zip(ys, best):
            weight, bias = grams.solve(weights, alpha, y)
            fits.append(cls(mean=mean, scale=scale, weight=weight, bias=bias, alpha=alpha, group_weights=weights,
                            holdout_mse=float(mse)))
        return fits


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


class _Grams:
    """The Gram matrices of a ridge fit, per column group, so that every weighting of the groups
    costs ``O(n^2)`` (or ``O(d^2)``) to assemble instead of another ``O(n^2 d)`` product.

    With the columns of group ``g`` scaled by ``sqrt(w_g)``, the dual Gram ``X X^T`` is
    ``sum_g w_g X_g X_g^T`` and the primal ``X^T X`` is ``G`` scaled by ``sqrt(w_i w_j)``. Both are
    kept for the fitting rows (the held-out choice; centred on their own mean) and for all rows
    (the final fit). The dual form is used where there are no more rows than columns.

    Args:
        xs: ``float64[N, D]`` the standardised input; groups: ``int64[D]`` column groups;
        held: ``bool[N]`` the held-out rows.
    """

    def __init__(self, xs: np.ndarray, groups: np.ndarray, held: np.ndarray) -> None:
        self.groups, self.held = groups, held
        self.columns = [groups == g for g in range(int(groups.max()) + 1)]
        self.xs, self.all_mean = xs, xs.mean(axis=0)
        fit = xs[~held]
        fit_mean = fit.mean(axis=0)
        xf, xh = fit - fit_mean, xs[held] - fit_mean
        self.fit_rows = len(xf)
        self.dual = xf.shape[0] <= xf.shape[1]
        if self.dual:  # [n, n] per group
            self.fit_g = [xf[:, c] @ xf[:, c].T for c in self.columns]
            self.cross_g = [xh[:, c] @ xf[:, c].T for c in self.columns]
            self._all_g: list[np.ndarray] | None = None  # on the first solve
        else:  # [d, d]
            self.xf, self.xh = xf, xh
            self.fit_gram = xf.T @ xf
            self._all_gram: np.ndarray | None = None

    def _col_weights(self, weights: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
        """``(sqrt of each column's weight, the columns kept: weight > 0)``."""
        col_w = np.sqrt(np.asarray(weights, dtype=np.float64)[self.groups])
        return col_w, col_w > 0

    def holdout_scores(self, weights: tuple[float, ...], ys: list[np.ndarray],
                       alphas: Sequence[float]) -> list[list[tuple[float, float]]]:
        """Per block of ``ys``: ``[(alpha, held-out MSE)]`` of the fit on the fitting rows with the
        columns weighted by ``weights``, from one eigendecomposition."""
        fit_rows = ~self.held
        targets = [_centre(y[fit_rows]) for y in ys]
        if self.dual:  # prediction = x_h X^T U diag(1/(s+lam)) U^T y
            gram = sum(w * g for w, g in zip(weights, self.fit_g) if w > 0)
            cross = sum(w * c for w, c in zip(weights, self.cross_g) if w > 0)
            s, u = np.linalg.eigh(gram)
            left = cross @ u
            rights = [u.T @ yc for yc, _ in targets]
        else:  # prediction = x_h V diag(1/(s+lam)) V^T X^T y
            col_w, keep = self._col_weights(weights)
            w = col_w[keep]
            s, u = np.linalg.eigh(self.fit_gram[np.ix_(keep, keep)] * np.outer(w, w))
            left = (self.xh[:, keep] * w) @ u
            xf_w = self.xf[:, keep] * w
            rights = [u.T @ (xf_w.T @ yc) for yc, _ in targets]
        s = np.clip(s, 0.0, None)
        scale = _lambda_unit(float(s.sum()), self.fit_rows)
        out = []
        for (_, y_mean), right, y in zip(targets, rights, ys):
            y_held = y[self.held]
            out.append([(float(alpha), float(np.mean((left @ (right / (s + alpha * scale)[:, None]) + y_mean - y_held) ** 2)))
                        for alpha in alphas])
        return out

    def solve(self, weights: tuple[float, ...], alpha: float, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weight ``[D, K]`` (group weights folded in) and bias ``[K]`` of the fit on every row."""
        col_w, keep = self._col_weights(weights)
        xw = (self.xs[:, keep] - self.all_mean[keep]) * col_w[keep]
        yc, y_mean = _centre(y)
        n = len(xw)
        if self.dual:
            if self._all_g is None:
                xa = self.xs - self.all_mean
                self._all_g = [xa[:, c] @ xa[:, c].T for c in self.columns]
            gram = sum(w * g for w, g in zip(weights, self._all_g) if w > 0)
            lam = alpha * _lambda_unit(float(np.trace(gram)), n)
            coef = xw.T @ scipy.linalg.solve(gram + lam * np.eye(n), yc, assume_a="pos")
        else:
            if self._all_gram is None:
                xa = self.xs - self.all_mean
                self._all_gram = xa.T @ xa
            w = col_w[keep]
            gram = self._all_gram[np.ix_(keep, keep)] * np.outer(w, w)
            lam = alpha * _lambda_unit(float(np.trace(gram)), n)
            coef = scipy.linalg.solve(gram + lam * np.eye(len(w)), xw.T @ yc, assume_a="pos")
        weight = np.zeros((self.xs.shape[1], y.shape[1]))
        weight[keep] = coef * col_w[keep, None]
        return weight, y_mean - self.all_mean @ weight
