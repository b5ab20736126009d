"""The Rust subcarrier kernels against the numpy reference, torch and numpy's own functions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import csipose
from tests.parity import reference_subcarrier as ref

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]


def tolerance(dtype: np.dtype) -> dict[str, float]:
    single = np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.complex64))
    return {"rtol": 2e-5, "atol": 2e-4} if single else {"rtol": 1e-12, "atol": 1e-9}


def parts(a: np.ndarray) -> np.ndarray:
    """Real and imaginary parts side by side, so non-finite complex values compare part-wise."""
    return np.stack([a.real, a.imag]) if np.iscomplexobj(a) else a


@st.composite
def csi_arrays(draw: st.DrawFn, min_sub: int = 1, allow_nonfinite: bool = False) -> tuple[np.ndarray, int]:
    """An array of any float/complex dtype with 1-4 axes (leading axes may be 0 or 1 long),
    a chosen subcarrier axis, and possibly a non-contiguous (strided or transposed) layout."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    ndim = draw(st.integers(1, 4))
    axis = draw(st.integers(-ndim, ndim - 1))
    shape = list(draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim)))
    shape[axis] = draw(st.integers(min_sub, 40))
    step = draw(st.sampled_from([1, 2]))
    full = list(shape)
    full[axis] = shape[axis] * step
    real = draw(hnp.arrays(np.float64, full, elements=st.floats(-1e3, 1e3)))
    x = real.astype(dtype)
    if dtype.kind == "c":
        x = x + 1j * draw(hnp.arrays(np.float64, full, elements=st.floats(-1e3, 1e3))).astype(dtype)
    if allow_nonfinite and x.size:
        n_bad = draw(st.integers(0, min(4, x.size)))
        flat = x.reshape(-1)
        for _ in range(n_bad):
            i = draw(st.integers(0, x.size - 1))
            flat[i] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    sl = [slice(None)] * ndim
    sl[axis] = slice(None, None, step)
    x = x[tuple(sl)]
    if draw(st.booleans()) and ndim > 1:
        x = np.swapaxes(x, 0, -1)
        a = axis % ndim
        axis = {0: ndim - 1, ndim - 1: 0}.get(a, a)
    return x, axis


@given(csi_arrays(), st.integers(1, 40), st.sampled_from(["linear", "area"]))
def test_linear_and_area_match_reference(xa: tuple[np.ndarray, int], n_out: int, mode: str) -> None:
    x, axis = xa
    got = csipose.interpolate_subcarriers(x, n_out, mode=mode, axis=axis)
    want = ref.resample(x, n_out, mode, axis)
    assert got.dtype == x.dtype and got.shape == want.shape
    assert got.flags.c_contiguous
    np.testing.assert_allclose(got, want, **tolerance(x.dtype))


@given(csi_arrays(), st.data())
def test_subband_matches_reference(xa: tuple[np.ndarray, int], data: st.DataObject) -> None:
    x, axis = xa
    n_in = x.shape[axis]
    n_out = data.draw(st.integers(1, n_in))
    start = data.draw(st.integers(0, n_in - n_out))
    got = csipose.interpolate_subcarriers(x, n_out, mode="subband", axis=axis, start=start)
    np.testing.assert_array_equal(got, ref.resample(x, n_out, "subband", axis, start=start))


@given(csi_arrays(allow_nonfinite=True), st.integers(1, 40), st.sampled_from(["linear", "area"]))
def test_nonfinite_propagate_and_fill_match_reference(xa: tuple[np.ndarray, int], n_out: int, mode: str) -> None:
    x, axis = xa
    with np.errstate(invalid="ignore", over="ignore"):
        want = ref.resample(x, n_out, mode, axis)
        got = csipose.interpolate_subcarriers(x, n_out, mode=mode, axis=axis, nan="propagate")
        np.testing.assert_array_equal(np.isnan(parts(got)), np.isnan(parts(want)))
        np.testing.assert_allclose(parts(got), parts(want), equal_nan=True, **tolerance(x.dtype))
        filled = csipose.interpolate_subcarriers(x, n_out, mode=mode, axis=axis, nan="fill")
        want_filled = ref.resample(x, n_out, mode, axis, nan="fill")
    assert np.isfinite(filled).all()
    np.testing.assert_allclose(filled, want_filled, **tolerance(x.dtype))


@given(csi_arrays(allow_nonfinite=True), st.integers(1, 40))
def test_raise_policy_raises_exactly_when_nonfinite(xa: tuple[np.ndarray, int], n_out: int) -> None:
    x, axis = xa
    if np.isfinite(x).all():
        csipose.interpolate_subcarriers(x, n_out, axis=axis, nan="raise")
    else:
        with pytest.raises(csipose.errors.NonFiniteError, match="x: found a non-finite value at index"):
            csipose.interpolate_subcarriers(x, n_out, axis=axis, nan="raise")


@given(
    st.integers(0, 6),
    st.integers(1, 120),
    st.integers(1, 120),
    st.sampled_from([np.float32, np.float64]),
    st.integers(0, 2**31),
)
def test_linear_and_area_equal_torch(rows: int, n_in: int, n_out: int, dtype: type, seed: int) -> None:
    """`linear` is torch's align-corners interpolate (and np.interp); `area` is adaptive_avg_pool1d."""
    x = np.random.default_rng(seed).standard_normal((rows, n_in)).astype(dtype)
    xt = torch.from_numpy(x)[:, None, :]
    linear = csipose.interpolate_subcarriers(x, n_out)
    expected = F.interpolate(xt, size=n_out, mode="linear", align_corners=True)[:, 0].numpy()
    np.testing.assert_allclose(linear, expected, **tolerance(dtype))
    positions = np.zeros(1) if n_out == 1 else np.arange(n_out) * (n_in - 1) / (n_out - 1)
    for row_got, row in zip(linear, x):
        np.testing.assert_allclose(row_got, np.interp(positions, np.arange(n_in), row), **tolerance(dtype))
    area = csipose.interpolate_subcarriers(x, n_out, mode="area")
    np.testing.assert_allclose(area, F.adaptive_avg_pool1d(xt, n_out)[:, 0].numpy(), **tolerance(dtype))


@given(csi_arrays(), st.sampled_from(["linear", "area", "subband"]))
def test_same_size_is_an_equal_copy(xa: tuple[np.ndarray, int], mode: str) -> None:
    x, axis = xa
    got = csipose.interpolate_subcarriers(x, x.shape[axis], mode=mode, axis=axis)
    np.testing.assert_array_equal(got, x)
    assert not np.shares_memory(got, x)


@given(csi_arrays())
def test_variance_matches_reference(xa: tuple[np.ndarray, int]) -> None:
    x, axis = xa
    assume(x.size > 0)
    got = csipose.subcarrier_variance(x, axis=axis)
    want = ref.variance(x, axis)
    scale = np.abs(x.astype(np.complex128)).max() ** 2 + 1.0
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * scale)


@given(csi_arrays(), st.data())
def test_variance_selection_takes_the_top_k(xa: tuple[np.ndarray, int], data: st.DataObject) -> None:
    x, axis = xa
    assume(x.size > 0)
    n = x.shape[axis]
    k = data.draw(st.integers(1, n))
    chosen = csipose.select_subcarriers_by_variance(x, k, axis=axis)
    assert chosen.dtype == np.int64 and chosen.shape == (k,)
    assert np.all(np.diff(chosen) > 0)
    var = ref.variance(x, axis)
    rest = np.setdiff1d(np.arange(n), chosen)
    if rest.size:
        slack = 1e-9 * (var.max() + 1.0)
        assert var[chosen].min() >= var[rest].max() - slack


def test_variance_ties_go_to_the_lower_index() -> None:
    rng = np.random.default_rng(1)
    column = rng.standard_normal(50)
    x = np.stack([column * 0.5, column, column * 2, column, column * 2, column], axis=1)
    np.testing.assert_array_equal(csipose.select_subcarriers_by_variance(x, 1), [2])
    np.testing.assert_array_equal(csipose.select_subcarriers_by_variance(x, 3), [1, 2, 4])
    np.testing.assert_array_equal(csipose.select_subcarriers_by_variance(x, 4), [1, 2, 3, 4])


@given(
    hnp.arrays(
        st.sampled_from([np.float32, np.float64]),
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=30),
        elements=st.floats(-50, 50, width=32),
    ),
    st.data(),
)
def test_unwrap_equals_np_unwrap(phase: np.ndarray, data: st.DataObject) -> None:
    axis = data.draw(st.integers(-phase.ndim, phase.ndim - 1))
    got = csipose.unwrap_phase(phase, axis=axis)
    want = np.unwrap(phase, axis=axis)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@given(
    hnp.arrays(
        np.float64,
        st.integers(1, 40),
        elements=st.one_of(st.floats(-10, 10), st.sampled_from([np.nan, np.inf, -np.inf, np.pi, -np.pi])),
    )
)
def test_unwrap_spreads_non_finite_values_like_np_unwrap(phase: np.ndarray) -> None:
    with np.errstate(invalid="ignore"):
        want = np.unwrap(phase)
    np.testing.assert_array_equal(csipose.unwrap_phase(phase), want)


@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=30),
        elements=st.floats(-50, 50),
    ),
    st.data(),
)
def test_sanitize_matches_unwrap_then_polyfit(phase: np.ndarray, data: st.DataObject) -> None:
    axis = data.draw(st.integers(-phase.ndim, phase.ndim - 1))
    got = csipose.sanitize_phase(phase, axis=axis)
    np.testing.assert_allclose(got, ref.sanitize(phase, axis), rtol=1e-9, atol=1e-8)


def test_sanitize_with_ht40_tones_removes_a_timing_offset() -> None:
    tones = csipose.HT40_TONES
    rng = np.random.default_rng(7)
    body = 0.3 * np.sin(tones / 9.0)
    body -= np.polyval(np.polyfit(tones, body, 1), tones)
    # per-packet timing slope and carrier offset, wrapped into (-pi, pi]
    raw = body + rng.uniform(-0.2, 0.2, (10, 1)) * tones + rng.uniform(-np.pi, np.pi, (10, 1))
    wrapped = np.angle(np.exp(1j * raw))
    clean = csipose.sanitize_phase(wrapped, tones=tones)
    np.testing.assert_allclose(clean, np.broadcast_to(body, clean.shape), atol=1e-9)
    np.testing.assert_allclose(clean, ref.sanitize(wrapped, tones=tones), atol=1e-9)


def linear_in_float32(x: np.ndarray, n_out: int) -> np.ndarray:
    """The kernel's float32 formula, plainly: ``x[i] * w0 + x[i + 1] * w1`` rounded per operation, taps on a tone copied."""
    indptr, indices, weights = csipose.Resampler(x.shape[-1], n_out, "linear")._op.csr()
    out = np.empty(x.shape[:-1] + (n_out,), dtype=np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        for k in range(n_out):
            lo, hi = indptr[k], indptr[k + 1]
            if hi - lo == 1:
                out[..., k] = x[..., indices[lo]]
            else:
                w0, w1 = np.float32(weights[lo]), np.float32(weights[lo + 1])
                out[..., k] = x[..., indices[lo]] * w0 + x[..., indices[lo + 1]] * w1
    return out


@given(
    st.integers(0, 5),
    st.integers(17, 160),
    st.integers(1, 160),
    st.booleans(),
    st.data(),
)
def test_float32_linear_gives_the_bits_of_the_plain_formula(
    rows: int, n_in: int, n_out: int, nonfinite: bool, data: st.DataObject
) -> None:
    """float32 linear resampling (vectorised on AVX2 CPUs) equals the plain per-operation float32 formula bit for bit."""
    x = data.draw(hnp.arrays(np.float32, (rows, n_in), elements=st.floats(-1e3, 1e3, width=32)))
    if nonfinite and x.size:
        flat = x.reshape(-1)
        for i in data.draw(st.lists(st.integers(0, x.size - 1), max_size=4)):
            flat[i] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    got = csipose.Resampler(n_in, n_out, "linear").apply(x)
    np.testing.assert_array_equal(got, linear_in_float32(x, n_out))


@pytest.mark.parametrize("dtype", DTYPES)
def test_many_blocks_equal_one_block_at_a_time(dtype: type) -> None:
    """Above one block of rows the pool runs the blocks; the result is the same as row batches run alone."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5000, 114)).astype(dtype)
    x[1234, 7] = np.nan
    r = csipose.Resampler(114, 56)
    for nan in ("propagate", "fill"):
        whole = r.apply(x, nan=nan)
        pieces = np.concatenate([r.apply(x[i : i + 1000], nan=nan) for i in range(0, 5000, 1000)])
        np.testing.assert_array_equal(whole, pieces)
