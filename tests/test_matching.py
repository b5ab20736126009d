"""Person matching: certificate properties, edge cases, batch consistency and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

import csipose
from csipose.errors import ArgumentError, DTypeError, NonFiniteError, ShapeError
from csipose.matching import Matching, joint_distance_cost_matrix, oks_cost_matrix


@st.composite
def cost_matrices(draw: st.DrawFn, max_side: int = 7) -> np.ndarray:
    """Rectangular costs (sides 0..max_side) of either float width, with some
    forbidden (+inf) pairs, sometimes integer-valued so that ties abound."""
    n = draw(st.integers(0, max_side))
    m = draw(st.integers(0, max_side))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["uniform", "integer", "negative"]))
    if kind == "uniform":
        c = rng.random((n, m))
    elif kind == "integer":
        c = rng.integers(0, 4, (n, m)).astype(np.float64)
    else:
        c = rng.normal(0, 100, (n, m))
    forbidden = rng.random((n, m)) < draw(st.sampled_from([0.0, 0.3, 0.7, 1.0]))
    c[forbidden] = np.inf
    return c.astype(draw(st.sampled_from([np.float32, np.float64])))


def max_cardinality(cost: np.ndarray) -> int:
    allowed = np.isfinite(cost)
    if not allowed.any():
        return 0
    match = maximum_bipartite_matching(csr_matrix(allowed.astype(np.int8)), perm_type="column")
    return int((match >= 0).sum())


@given(cost_matrices())
def test_certificate_holds_and_matching_is_maximum(cost: np.ndarray) -> None:
    m = csipose.match_persons(cost)
    assert m.check(cost) == []
    assert len(m) == max_cardinality(cost)
    assert m.u.shape == (cost.shape[0],) and m.v.shape == (cost.shape[1],)
    assert np.all(np.diff(m.rows) > 0)
    assert m.rows.dtype == np.int64 and m.cols.dtype == np.int64


@given(cost_matrices(), st.floats(-1, 150))
def test_gate_equals_forbidding_expensive_pairs(cost: np.ndarray, gate: float) -> None:
    gated = csipose.match_persons(cost, max_cost=gate)
    by_hand = np.where(cost.astype(np.float64) > gate, np.inf, cost)
    reference = csipose.match_persons(by_hand)
    assert gated.check(cost, max_cost=gate) == []
    assert len(gated) == len(reference)
    assert gated.total_cost == pytest.approx(reference.total_cost, rel=1e-9, abs=1e-9)


def test_edge_shapes() -> None:
    for shape in [(0, 0), (0, 5), (5, 0)]:
        m = csipose.match_persons(np.zeros(shape))
        assert len(m) == 0 and m.total_cost == 0.0 and m.check(np.zeros(shape)) == []
    one = csipose.match_persons(np.array([[3.5]]))
    assert (one.rows.tolist(), one.cols.tolist(), one.total_cost) == ([0], [0], 3.5)
    assert one.u[0] + one.v[0] == 3.5
    none = csipose.match_persons(np.full((3, 2), np.inf))
    assert len(none) == 0 and none.check(np.full((3, 2), np.inf)) == []


def test_later_cheaper_row_displaces_earlier_one() -> None:
    # Rows 0 and 1 can only use column 0; the cheaper (row 1) must win it.
    inf = np.inf
    cost = np.array([[10.0, inf, inf], [1.0, inf, inf], [inf, 5.0, 6.0]])
    m = csipose.match_persons(cost)
    assert m.pairs.tolist() == [[1, 0], [2, 1]]
    assert m.total_cost == 6.0
    assert m.check(cost) == []


def test_check_fails_on_a_wrong_matching() -> None:
    cost = np.array([[1.0, 2.0], [2.0, 10.0]])
    right = csipose.match_persons(cost)
    assert right.pairs.tolist() == [[0, 1], [1, 0]]
    wrong = Matching(np.array([0, 1]), np.array([0, 1]), 11.0, right.u, right.v)
    assert any("slackness" in f for f in wrong.check(cost))
    bad_duals = Matching(right.rows, right.cols, right.total_cost, right.u + 1.0, right.v)
    assert not bad_duals.verify(cost)
    twice = Matching(np.array([0, 1]), np.array([1, 1]), 12.0, right.u, right.v)
    assert any("twice" in f for f in twice.check(cost))
    # A smaller matching with valid-looking duals cannot pass: the free row lacks the largest u.
    partial = Matching(np.array([1]), np.array([0]), 2.0, np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    assert not partial.verify(cost)


@given(st.lists(cost_matrices(max_side=5), min_size=0, max_size=12))
def test_batch_equals_per_frame(costs: list[np.ndarray]) -> None:
    batch = csipose.match_persons_batch(costs)
    assert len(batch) == len(costs)
    for k, cost in enumerate(costs):
        single = csipose.match_persons(cost)
        got = batch[k]
        np.testing.assert_array_equal(got.rows, single.rows)
        np.testing.assert_array_equal(got.cols, single.cols)
        np.testing.assert_array_equal(got.u, single.u)
        np.testing.assert_array_equal(got.v, single.v)
        assert got.total_cost == single.total_cost
    np.testing.assert_array_equal(batch.frames, np.repeat(np.arange(len(costs)), [len(m) for m in batch]))


@given(st.integers(0, 2**32 - 1), st.integers(0, 6), st.integers(1, 4), st.integers(1, 4))
def test_padded_batch_equals_list(seed: int, frames: int, big_n: int, big_m: int) -> None:
    rng = np.random.default_rng(seed)
    padded = rng.random((frames, big_n, big_m))
    sizes = np.stack([rng.integers(0, big_n + 1, frames), rng.integers(0, big_m + 1, frames)], axis=1)
    batch = csipose.match_persons_batch(padded, sizes=sizes, max_cost=0.8)
    listed = csipose.match_persons_batch([padded[k, :n, :m] for k, (n, m) in enumerate(sizes)], max_cost=0.8)
    for a, b in zip(batch, listed):
        np.testing.assert_array_equal(a.pairs, b.pairs)
        np.testing.assert_array_equal(a.u, b.u)
    full = csipose.match_persons_batch(padded)
    assert [len(m.u) for m in full] == [big_n] * frames


def test_batch_accepts_integers_and_transposed_views() -> None:
    ints = [np.array([[3, 1], [2, 5]]), np.arange(6).reshape(2, 3).T]
    batch = csipose.match_persons_batch(ints)
    assert [m.total_cost for m in batch] == [3.0, csipose.match_persons(ints[1]).total_cost]
    with pytest.raises(IndexError):
        batch[2]
    assert batch[-1].total_cost == batch[1].total_cost


def test_nan_and_bad_input_raise_typed_errors() -> None:
    with pytest.raises(NonFiniteError, match=r"cost: found NaN at index \(1, 0\)"):
        csipose.match_persons(np.array([[0.0, 1.0], [np.nan, 2.0]], dtype=np.float32))
    with pytest.raises(NonFiniteError, match="-inf"):
        csipose.match_persons(np.array([[-np.inf]]))
    with pytest.raises(NonFiniteError, match=r"costs\[1\]"):
        csipose.match_persons_batch([np.ones((2, 2)), np.full((1, 1), np.nan)])
    with pytest.raises(ShapeError, match="cost"):
        csipose.match_persons(np.ones(3))
    with pytest.raises(DTypeError, match="cost"):
        csipose.match_persons(np.ones((2, 2), dtype=complex))
    with pytest.raises(ShapeError, match=r"costs\[0\]"):
        csipose.match_persons_batch([np.ones((1, 1, 1))])
    with pytest.raises(ArgumentError, match="max_cost"):
        csipose.match_persons(np.ones((2, 2)), max_cost=float("nan"))
    with pytest.raises(ArgumentError, match="sizes"):
        csipose.match_persons_batch(np.ones((2, 2, 2)), sizes=[[3, 1], [1, 1]])
    with pytest.raises(ShapeError, match="sizes"):
        csipose.match_persons_batch(np.ones((2, 2, 2)), sizes=[[1, 1]])


def test_oks_cost_matrix_by_hand() -> None:
    # One joint, sigma 0.5 -> k^2 = 1; area 2 -> OKS = exp(-d^2 / 4).
    gt = np.array([[[0.0, 0.0]]])
    pred = np.array([[[2.0, 0.0]], [[0.0, 0.0]]])
    cost = oks_cost_matrix(pred, gt, visible=None, areas=[2.0], sigmas=[0.5])
    np.testing.assert_allclose(cost[:, 0], [1 - np.exp(-1.0), 0.0], rtol=1e-12, atol=1e-15)
    hidden = oks_cost_matrix(pred, gt, visible=[[0]], areas=[2.0], sigmas=[0.5])
    assert np.isinf(hidden).all()
    # a third coordinate is z, scored by the 3D distance (3^2 + 4^2 = 25)
    cost3 = oks_cost_matrix(np.array([[[3.0, 0.0, 4.0]]]), np.zeros((1, 1, 3)), visible=None, areas=[2.0], sigmas=[0.5])
    assert cost3[0, 0] == pytest.approx(1 - np.exp(-25 / 4), rel=1e-12)
    with pytest.raises(ShapeError, match="sigmas"):
        oks_cost_matrix(pred, gt, visible=None, areas=[2.0])  # COCO-17's sigmas are for 17 joints
    with pytest.raises(ArgumentError, match="visible: required"):
        oks_cost_matrix(pred, gt, areas=[2.0], sigmas=[0.5])
    with pytest.raises(ShapeError, match="areas"):
        oks_cost_matrix(pred, gt, visible=None, areas=[2.0, 1.0], sigmas=[0.5])


def test_joint_distance_cost_matrix_by_hand() -> None:
    gt = np.array([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]])
    pred = np.array([[[3.0, 4.0, 0.0], [1.0, 0.0, 0.0]]])
    assert joint_distance_cost_matrix(pred, gt)[0, 0] == 2.5
    assert joint_distance_cost_matrix(pred, gt, visible=[[True, False]])[0, 0] == 5.0
    # a non-finite prediction or GT joint forbids the pair (+inf), unless that joint is hidden
    assert joint_distance_cost_matrix(pred * np.nan, gt)[0, 0] == np.inf
    assert joint_distance_cost_matrix(pred, gt * [[[1.0], [np.nan]]])[0, 0] == np.inf
    assert joint_distance_cost_matrix(pred, gt * [[[1.0], [np.nan]]], visible=[[True, False]])[0, 0] == 5.0
    with pytest.raises(ShapeError, match="gt"):
        joint_distance_cost_matrix(pred, gt[:, :1])


def test_batch_is_identical_for_any_thread_count() -> None:
    rng = np.random.default_rng(7)
    costs = [rng.integers(0, 3, rng.integers(0, 6, 2)).astype(np.float64) for _ in range(2000)]
    before = csipose.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            csipose.set_num_threads(threads)
            results.append(csipose.match_persons_batch(costs, max_cost=1.5))
    finally:
        csipose.set_num_threads(before)
    for other in results[1:]:
        for field in ("rows", "cols", "pair_offsets", "total_costs", "u", "v"):
            np.testing.assert_array_equal(getattr(other, field), getattr(results[0], field))


class _NdarraySubclass(np.ndarray):
    pass


def test_batch_reads_any_layout_alike() -> None:
    rng = np.random.default_rng(11)
    base = [rng.random((n, m)) for n, m in rng.integers(0, 6, (200, 2))]
    expected = csipose.match_persons_batch(base)
    variants = [
        [np.asfortranarray(c) for c in base],  # column-major
        [np.repeat(c, 2, axis=1)[:, ::2] for c in base],  # strided views
        [c.view(_NdarraySubclass) for c in base],  # an ndarray subclass
        [np.asfortranarray(c) if k % 2 else c for k, c in enumerate(base)],  # mixed
    ]
    for frames in variants:
        got = csipose.match_persons_batch(frames)
        np.testing.assert_array_equal(got.total_costs, expected.total_costs)
        np.testing.assert_array_equal(got.cols, expected.cols)
    f32 = csipose.match_persons_batch([c.astype(np.float32) for c in base])
    np.testing.assert_allclose(f32.total_costs, expected.total_costs, rtol=1e-6)
