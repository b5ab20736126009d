"""Person matching against brute force, scipy's linear_sum_assignment and lap.lapjv;
cost matrices against the numpy reference."""

from __future__ import annotations

import lap
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

import csipose
from csipose.matching import joint_distance_cost_matrix, oks_cost_matrix
from csipose.skeletons import COCO17
from tests.parity import reference_matching as ref


@st.composite
def small_costs(draw: st.DrawFn) -> np.ndarray:
    n = draw(st.integers(0, 4))
    m = draw(st.integers(0, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    c = rng.integers(-5, 6, (n, m)).astype(np.float64) if draw(st.booleans()) else rng.random((n, m))
    c[rng.random((n, m)) < draw(st.sampled_from([0.0, 0.4, 0.8]))] = np.inf
    return c


@given(small_costs())
def test_equals_brute_force_including_infeasible(cost: np.ndarray) -> None:
    size, total = ref.best_matching_brute_force(cost)
    m = csipose.match_persons(cost)
    assert len(m) == size
    assert m.total_cost == pytest.approx(total, rel=1e-12, abs=1e-12)


@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 30),
    st.integers(1, 30),
    st.sampled_from([np.float32, np.float64]),
    st.sampled_from(["uniform", "integer"]),
)
def test_total_cost_equals_scipy(seed: int, n: int, m: int, dtype: type, kind: str) -> None:
    rng = np.random.default_rng(seed)
    cost: np.ndarray = (rng.random((n, m)) if kind == "uniform" else rng.integers(0, 10, (n, m))).astype(dtype)
    # A forbidden pair only where scipy still finds every row of the smaller side a partner.
    cost[rng.random((n, m)) < 0.1] = np.inf
    try:
        rows, cols = linear_sum_assignment(cost)
    except ValueError:  # scipy finds the forbidden pairs infeasible: a case for brute force
        assume(False)
    ours = csipose.match_persons(cost)
    assert len(ours) == min(n, m)
    expected = float(cost[rows, cols].astype(np.float64).sum())
    assert ours.total_cost == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert ours.check(cost) == []


@given(st.integers(0, 2**32 - 1), st.integers(1, 25))
def test_total_cost_equals_lapjv(seed: int, n: int) -> None:
    cost = np.random.default_rng(seed).random((n, n))
    total, _, _ = lap.lapjv(cost)
    assert csipose.match_persons(cost).total_cost == pytest.approx(total, rel=1e-9)


@st.composite
def pose_sets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    p, g, j = draw(st.integers(0, 4)), draw(st.integers(0, 4)), draw(st.integers(1, 17))
    d = draw(st.sampled_from([2, 3]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    gt = rng.uniform(0, 200, (g, j, d))
    pred = gt[rng.integers(0, g, p)] + rng.normal(0, 10, (p, j, d)) if g else rng.uniform(0, 200, (p, j, d))
    for target in (pred, gt):  # now and then a NaN or infinite coordinate
        if target.size and draw(st.integers(0, 3)) == 0:
            target.flat[rng.integers(0, target.size)] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    visible = rng.random((g, j)) < 0.7
    areas = rng.uniform(0, 5000, g)
    return pred.astype(dtype), gt.astype(dtype), visible, areas


@given(pose_sets())
def test_oks_cost_matrix_equals_reference(poses: tuple[np.ndarray, ...]) -> None:
    pred, gt, visible, areas = poses
    sigmas = np.random.default_rng(1).uniform(0.02, 0.1, (pred.shape[1],))
    ours = oks_cost_matrix(pred, gt, areas=areas, visible=visible, sigmas=sigmas)
    expected = ref.oks_cost_matrix(pred.astype(np.float64), gt.astype(np.float64), visible, areas, sigmas)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-14)


@given(pose_sets())
def test_joint_distance_equals_reference(poses: tuple[np.ndarray, ...]) -> None:
    pred, gt, visible, _ = poses
    ours = joint_distance_cost_matrix(pred, gt, visible=visible)
    expected = ref.joint_distance_cost_matrix(pred.astype(np.float64), gt.astype(np.float64), visible)
    np.testing.assert_allclose(ours, expected, rtol=1e-12)


def test_oks_cost_matrix_of_coco_keypoints_defaults_to_coco17() -> None:
    rng = np.random.default_rng(0)
    gt = np.concatenate([rng.uniform(0, 100, (3, 17, 2)), rng.integers(0, 3, (3, 17, 1))], axis=2)
    pred = gt[:, :, :2] + rng.normal(0, 3, (3, 17, 2))
    areas = np.array([900.0, 4000.0, 12000.0])
    expected = ref.oks_cost_matrix(pred, gt[..., :2], gt[..., 2] > 0, areas, np.array(COCO17.sigmas))
    ours = oks_cost_matrix(pred, gt[..., :2], visible=gt[..., 2] > 0, areas=areas)
    np.testing.assert_allclose(ours, expected, rtol=1e-12)
