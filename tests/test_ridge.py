"""Closed-form ridge regression: equal to a numpy least-squares reference; held-out choices."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csipose.errors import ArgumentError, ShapeError
from csipose.ridge import RidgeRegression, group_weightings


def reference_ridge(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """``argmin ||(x - mean) w + b - y||^2 + lam ||w||^2`` by least squares on the augmented system."""
    xc = x - x.mean(axis=0)
    aug_x = np.vstack([xc, np.sqrt(lam) * np.eye(x.shape[1])])
    aug_y = np.vstack([y - y.mean(axis=0), np.zeros((x.shape[1], y.shape[1]))])
    w = np.linalg.lstsq(aug_x, aug_y, rcond=None)[0]
    return w, y.mean(axis=0) - x.mean(axis=0) @ w


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(3, 40),
    d=st.integers(1, 40),
    k=st.integers(1, 4),
    alpha=st.sampled_from([1e-3, 0.1, 1.0, 10.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_equals_numpy_least_squares_in_primal_and_dual_form(n: int, d: int, k: int, alpha: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 10, size=d)
    y = rng.normal(size=(n, k))
    fit = RidgeRegression.fit(x, y, alphas=[alpha])
    assert fit.alpha == alpha
    xs = (x - fit.mean) / fit.scale
    lam = alpha * float(np.sum((xs - xs.mean(axis=0)) ** 2)) / n  # alpha times the mean squared row norm
    w, b = reference_ridge(xs, y, lam)
    np.testing.assert_allclose(fit.weight, w, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fit.predict(x), xs @ w + b, rtol=1e-6, atol=1e-8)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(6, 40),
    d=st.integers(2, 40),
    weights=st.tuples(st.sampled_from([0.0, 0.1, 1.0, 3.0]), st.sampled_from([0.1, 1.0, 3.0])),
    alpha=st.sampled_from([1e-3, 0.1, 1.0, 10.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_weighted_groups_equal_least_squares_on_the_weighted_columns(
    n: int, d: int, weights: tuple[float, float], alpha: float, seed: int
) -> None:
    """Each column group's Gram matrix formed once, and weighted afterwards, is the fit on the
    columns scaled by the square root of their group's weight (a zero-weight group left out), in
    the dual (n <= d) and the primal form, on the held-out choice's fitting rows and on all rows."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = rng.normal(size=(n, 2))
    columns = rng.integers(0, 2, size=d)
    columns[:2] = [0, 1]
    fit = RidgeRegression.fit(x, y, column_groups=columns, weightings=[weights], alphas=[alpha], standardize=False)
    col_w = np.sqrt(np.asarray(weights)[columns])
    keep = col_w > 0
    xw = x[:, keep] * col_w[keep]
    lam = alpha * float(np.sum((xw - xw.mean(axis=0)) ** 2)) / n
    w, b = reference_ridge(xw, y, lam)
    np.testing.assert_allclose(fit.weight[keep], w * col_w[keep, None], rtol=1e-6, atol=1e-8)
    assert not fit.weight[~keep].any()
    np.testing.assert_allclose(fit.predict(x), xw @ w + b, rtol=1e-6, atol=1e-8)


def test_blocks_fitted_together_equal_blocks_fitted_alone() -> None:
    rng = np.random.default_rng(3)
    for n, d in ((80, 300), (300, 40)):  # the dual and the primal form
        x = rng.normal(size=(n, d))
        columns = np.repeat([0, 1], [d // 3, d - d // 3])
        ys = [x @ rng.normal(size=(d, 3)) * scale + rng.normal(size=(n, 3)) for scale in (0.01, 1.0, 10.0)]
        together = RidgeRegression.fit_blocks(x, ys, holdout_groups=np.arange(n) % 10, column_groups=columns)
        for y, fit in zip(ys, together):
            alone = RidgeRegression.fit(x, y, holdout_groups=np.arange(n) % 10, column_groups=columns)
            assert (fit.alpha, fit.group_weights) == (alone.alpha, alone.group_weights)
            np.testing.assert_allclose(fit.weight, alone.weight, rtol=1e-9, atol=1e-12)
            assert fit.holdout_mse == pytest.approx(alone.holdout_mse, rel=1e-9)
        assert len({fit.alpha for fit in together}) > 1  # each block chose its own regularisation


def test_standardisation_is_per_column_and_constant_columns_are_ignored() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)) * [1.0, 100.0, 0.01, 1.0]
    x[:, 3] = 5.0
    y = x[:, :3] @ np.array([[1.0], [0.01], [100.0]])
    fit = RidgeRegression.fit(x, y, alphas=[1e-8])
    np.testing.assert_allclose(fit.predict(x), y, atol=1e-5)
    assert fit.weight[3, 0] == 0.0 and fit.scale[3] == 1.0


def test_regularisation_is_chosen_on_held_out_groups() -> None:
    rng = np.random.default_rng(1)
    n, d = 200, 150
    truth = rng.normal(size=(d, 2))
    x = rng.normal(size=(n, d))
    clean = x @ truth
    noisy = clean + rng.normal(scale=30.0, size=clean.shape)
    groups = np.repeat(np.arange(10), n // 10)
    alphas = list(np.logspace(-6, 2, 9))
    exact = RidgeRegression.fit(x, clean, holdout_groups=groups, alphas=alphas)
    shrunk = RidgeRegression.fit(x, noisy, holdout_groups=groups, alphas=alphas)
    assert exact.alpha <= 1e-4  # noiseless targets: as little shrinkage as offered helps most
    assert shrunk.alpha >= 0.1  # noisy targets: strong shrinkage wins on held-out rows
    assert shrunk.holdout_mse > exact.holdout_mse


def test_a_group_that_carries_nothing_is_turned_down() -> None:
    rng = np.random.default_rng(2)
    n = 400
    signal = rng.normal(size=(n, 30))
    noise = rng.normal(size=(n, 300))
    y = np.tanh(signal @ rng.normal(size=(30, 3)) / 5)
    x = np.hstack([signal, noise])
    columns = np.repeat([0, 1], [30, 300])
    fit = RidgeRegression.fit(x, y, column_groups=columns, holdout_groups=np.arange(n) // 20)
    assert fit.group_weights[1] < fit.group_weights[0]
    plain = RidgeRegression.fit(x, y, column_groups=columns, holdout_groups=np.arange(n) // 20,
                                weightings=[(1.0, 1.0)])
    assert fit.holdout_mse < plain.holdout_mse
    assert np.abs(fit.weight[30:]).max() < 0.1 * np.abs(fit.weight[:30]).max()


def test_weightings_cover_equal_alone_and_turned_down() -> None:
    assert group_weightings(1) == [(1.0,)]
    assert group_weightings(2) == [(1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.1, 1.0), (1.0, 0.1)]


def test_bad_input_is_named() -> None:
    with pytest.raises(ShapeError, match="x, y"):
        RidgeRegression.fit(np.zeros((5, 2)), np.zeros((4, 1)))
    with pytest.raises(ShapeError, match=r"x, y: expected \[N, D\] and \[N, K\], got \[5, 2\] and no y"):
        RidgeRegression.fit_blocks(np.zeros((5, 2)), [])
    with pytest.raises(ArgumentError, match="at least 2 rows"):
        RidgeRegression.fit(np.zeros((1, 2)), np.zeros((1, 1)))
    with pytest.raises(ArgumentError, match="finite"):
        RidgeRegression.fit(np.full((5, 2), np.nan), np.zeros((5, 1)))
    fit = RidgeRegression.fit(np.random.default_rng(0).normal(size=(6, 3)), np.zeros((6, 1)))
    with pytest.raises(ShapeError, match=r"x: expected \[N, 3\]"):
        fit.predict(np.zeros((2, 4)))
