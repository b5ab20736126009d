"""Golden vectors, API behaviour, bad input and threading of the subcarrier kernels."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse

import csipose
from csipose.errors import ArgumentError, DTypeError, NonFiniteError, ShapeError


def test_linear_114_to_56_golden_weights() -> None:
    w = csipose.Resampler(114, 56).matrix()
    assert isinstance(w, scipy.sparse.csr_matrix) and w.shape == (56, 114)
    dense = w.toarray()
    positions = {0: 0.0, 1: 113 / 55, 54: 54 * 113 / 55, 55: 113.0}
    assert positions[1] == pytest.approx(2.0545454545)
    assert positions[54] == pytest.approx(110.9454545454)
    for k, p in positions.items():
        row = dense[k]
        lo = int(np.floor(p))
        # the row's centre of mass is the output's position on the input grid
        assert row @ np.arange(114) == pytest.approx(p, abs=1e-12)
        assert row.sum() == pytest.approx(1.0, abs=1e-15)
        assert set(np.flatnonzero(row)) <= {lo, lo + 1}
    assert dense[0, 0] == 1.0 and dense[55, 113] == 1.0
    assert dense[1, 2] == pytest.approx(3 - 113 / 55) and dense[1, 3] == pytest.approx(113 / 55 - 2)


def test_area_and_subband_operators() -> None:
    area = csipose.Resampler(114, 56, "area").matrix().toarray()
    np.testing.assert_allclose(area.sum(axis=1), 1.0)
    np.testing.assert_allclose(area[0, :3], 1 / 3)  # bin [0, ceil(114/56)) = [0, 3)
    sub = csipose.Resampler(114, 56, "subband")
    assert sub.start == 0 and repr(sub) == "Resampler(n_in=114, n_out=56, mode='subband', start=0)"
    upper = csipose.Resampler(114, 56, "subband", start=58).matrix().toarray()
    np.testing.assert_array_equal(upper[:, 58:], np.eye(56))
    # the default block is HT40 tones -58..-3: one HT20-sized run at native spacing
    np.testing.assert_array_equal(
        csipose.HT40_TONES[sub.matrix().indices], np.arange(-58, -2)
    )


def test_resampler_is_reusable_and_keeps_dtypes() -> None:
    op = csipose.Resampler(114, 56, "linear")
    rng = np.random.default_rng(0)
    w = op.matrix().toarray()
    for dtype in (np.float32, np.float64, np.complex64, np.complex128):
        x = rng.standard_normal((2, 3, 114, 10)).astype(dtype)
        out = op.apply(x, axis=2)
        assert out.dtype == dtype and out.shape == (2, 3, 56, 10)
        np.testing.assert_allclose(out, np.einsum("ks,abst->abkt", w, x), rtol=1e-5, atol=1e-5)


def test_complex_is_resampled_on_real_and_imaginary_parts() -> None:
    rng = np.random.default_rng(3)
    re, im = rng.standard_normal((2, 5, 114))
    z = csipose.interpolate_subcarriers(re + 1j * im, 56)
    np.testing.assert_allclose(z.real, csipose.interpolate_subcarriers(re, 56), rtol=1e-14)
    np.testing.assert_allclose(z.imag, csipose.interpolate_subcarriers(im, 56), rtol=1e-14)


def test_integer_input_becomes_float64() -> None:
    out = csipose.interpolate_subcarriers(np.arange(12).reshape(2, 6), 3)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [[0, 2.5, 5], [6, 8.5, 11]])


def test_fill_uses_the_row_mean() -> None:
    x = np.array([[1.0, np.nan, 3.0, np.inf, 5.0], [np.nan] * 5])
    out = csipose.interpolate_subcarriers(x, 5, nan="fill")
    np.testing.assert_array_equal(out, [[1, 3, 3, 3, 5], [0, 0, 0, 0, 0]])


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_out_receives_the_result(axis: int) -> None:
    rng = np.random.default_rng(4)
    shape = [3, 5, 114]
    shape[axis] = 114
    shape[-1 if axis != -1 else 0] = 4
    x = rng.standard_normal(shape).astype(np.float32)
    r = csipose.Resampler(114, 56)
    want = r.apply(x, axis=axis)
    out = np.full(want.shape, 7.0, dtype=np.float32)
    assert r.apply(x, axis=axis, out=out) is out
    np.testing.assert_array_equal(out, want)
    # a strided out is written through
    wide = np.zeros(want.shape[:-1] + (2 * want.shape[-1],), dtype=np.float32)
    r.apply(x, axis=axis, out=wide[..., ::2])
    np.testing.assert_array_equal(wide[..., ::2], want)
    assert not wide[..., 1::2].any()


def test_out_is_checked() -> None:
    r = csipose.Resampler(114, 56)
    x = np.ones((2, 114), np.float32)
    with pytest.raises(DTypeError, match=r"out: expected a numpy array of x's dtype \(float32\), got dtype float64"):
        r.apply(x, out=np.empty((2, 56)))
    with pytest.raises(DTypeError, match="out: expected a numpy array.*list"):
        r.apply(x, out=[0.0] * 112)  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match=r"out: expected \(2, 56\), got \(2, 55\)"):
        r.apply(x, out=np.empty((2, 55), np.float32))
    ro = np.empty((2, 56), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ArgumentError, match="out: expected a writeable array"):
        r.apply(x, out=ro)
    same = np.ones((2, 114), np.float32)
    with pytest.raises(ArgumentError, match="shares no memory with x"):
        csipose.Resampler(114, 114).apply(same, out=same)
    bad = np.ones((2, 114), np.float32)
    bad[1, 3] = np.nan
    out = np.zeros((2, 56), np.float32)
    with pytest.raises(NonFiniteError, match=r"\[1, 3\]"):
        r.apply(bad, nan="raise", out=out)
    assert not out.any()


def test_fill_rows_run_along_axis_only() -> None:
    # [antenna, subcarrier, packet] with axis=1: each (antenna, packet) row is filled from itself alone
    x = np.array([[[1.0, 100.0], [np.nan, 200.0], [3.0, np.nan]], [[-np.inf, 7.0], [10.0, 9.0], [20.0, 8.0]]],
                 dtype=np.float32)  # fmt: skip
    out = csipose.Resampler(3, 3, "subband").apply(x, axis=1, nan="fill")
    np.testing.assert_array_equal(out[0], [[1, 100], [2, 200], [3, 150]])
    np.testing.assert_array_equal(out[1], [[15, 7], [10, 9], [20, 8]])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: csipose.interpolate_subcarriers(np.ones((2, 114)), 0), ArgumentError, "n_out: .*>= 1"),
        (lambda: csipose.interpolate_subcarriers(np.ones((2, 114)), -3), ArgumentError, "n_out"),
        (lambda: csipose.interpolate_subcarriers(np.ones((2, 114)), 2.5), ArgumentError, "n_out: expected an integer"),
        (lambda: csipose.interpolate_subcarriers(np.ones((2, 0)), 5), ArgumentError, "n_in"),
        (lambda: csipose.interpolate_subcarriers(np.float64(1.0), 5), ArgumentError, "x: .*scalar"),
        (lambda: csipose.interpolate_subcarriers(np.ones((2, 4)), 2, axis=2), ArgumentError, "axis: 2 is out of range"),
        (lambda: csipose.interpolate_subcarriers(np.array(["a", "b"]), 1), DTypeError, "x: .*dtype <U1"),
        (lambda: csipose.interpolate_subcarriers(np.array([None, 1.0]), 1), DTypeError, "x: .*dtype object"),
        (lambda: csipose.interpolate_subcarriers(np.ones(4), 2, mode="cubic"), ArgumentError, "mode: expected one of"),
        (lambda: csipose.interpolate_subcarriers(np.ones(4), 2, nan="zero"), ArgumentError, "nan: expected one of"),
        (lambda: csipose.interpolate_subcarriers(np.ones(4), 2, start=1), ArgumentError, "start: only mode='subband'"),
        (lambda: csipose.interpolate_subcarriers(np.ones(4), 3, mode="subband", start=2), ArgumentError, "start"),
        (lambda: csipose.interpolate_subcarriers(np.ones(4), 5, mode="subband"), ArgumentError, "start"),
        (lambda: csipose.Resampler(114, 56).apply(np.ones((3, 56))), ShapeError, "x: expected 114 subcarriers along axis 1, got 56"),
        (lambda: csipose.Resampler(4, 2).apply(np.array([[0, 1, 2, 3], [0, 1, np.nan, 3.0]]), nan="raise"),
         NonFiniteError, r"x: found a non-finite value at index \[1, 2\]"),
        (lambda: csipose.select_subcarriers_by_variance(np.ones((3, 4)), 0), ArgumentError, "k: expected an integer >= 1"),
        (lambda: csipose.select_subcarriers_by_variance(np.ones((3, 4)), 5), ArgumentError, r"k: expected 1 <= k <= 4"),
        (lambda: csipose.select_subcarriers_by_variance(np.ones((0, 4)), 2), ShapeError, "x: expected at least one value"),
        (lambda: csipose.select_subcarriers_by_variance(np.array([[1.0, np.nan]]), 1), NonFiniteError, "x: found a non-finite"),
        (lambda: csipose.unwrap_phase(np.ones(3, dtype=np.complex64)), DTypeError, "phase: expected a numeric array of float32 or float64"),
        (lambda: csipose.sanitize_phase(np.ones((2, 3)), tones=[1, 2]), ShapeError, r"tones: expected one position per subcarrier \(3\)"),
        (lambda: csipose.sanitize_phase(np.ones((2, 3)), tones=[1, 1, 1]), ArgumentError, "tones: positions must not all be equal"),
    ],
)
def test_bad_input_names_the_argument(call, error: type, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        call()


def test_core_rejects_bad_input_without_the_python_front() -> None:
    with pytest.raises(ShapeError, match="x: expected an array with at least 1 dimension"):
        csipose._core.Resampler(1, 1).apply(np.array(1.0, dtype=np.float32))
    with pytest.raises(ArgumentError, match="n_out: need at least 1"):
        csipose._core.Resampler(3, 0)
    with pytest.raises(OverflowError):
        csipose._core.Resampler(3, -1)


def test_results_are_identical_for_any_thread_count() -> None:
    rng = np.random.default_rng(11)
    x = rng.standard_normal((20000, 114)).astype(np.float32)
    results = []
    try:
        for threads in (1, 2, 7):
            csipose.set_num_threads(threads)
            assert csipose.get_num_threads() == threads
            results.append((
                csipose.interpolate_subcarriers(x, 56, mode="area"),
                csipose.subcarrier_variance(x),
                csipose.sanitize_phase(x[:3000].astype(np.float64)),
            ))
    finally:
        csipose.set_num_threads(0)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)


def test_kernels_work_in_a_forked_child() -> None:
    """A DataLoader worker is a fork of a process whose pool already ran; it must not hang."""
    script = textwrap.dedent(
        """
        import os, sys
        import numpy as np
        import csipose
        x = np.random.default_rng(0).standard_normal((50000, 114)).astype(np.float32)
        parent = csipose.interpolate_subcarriers(x, 56)
        pid = os.fork()
        if pid == 0:
            child = csipose.interpolate_subcarriers(x, 56)
            os._exit(0 if np.array_equal(child, parent) else 3)
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], timeout=120, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_gil_is_released_during_kernels() -> None:
    """Two Python threads resampling at once both finish and agree with a serial run."""
    import threading

    x = np.random.default_rng(5).standard_normal((100000, 114)).astype(np.float32)
    want = csipose.interpolate_subcarriers(x, 56)
    out: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: out.append(csipose.interpolate_subcarriers(x, 56))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(out) == 2 and all(np.array_equal(o, want) for o in out)
