"""Resampler.from_indices against a plainly written numpy reference of its stated rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import csipose
from csipose.errors import ArgumentError, NonFiniteError, ShapeError
from tests.parity import reference_subcarrier as ref

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]


def tolerance(dtype: np.dtype) -> dict[str, float]:
    single = np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.complex64))
    return {"rtol": 2e-5, "atol": 2e-4} if single else {"rtol": 1e-12, "atol": 1e-9}


def linear_taps(src: np.ndarray, t: float) -> list[tuple[int, float]]:
    """The two neighbours by distance, one tap on an exact hit, the nearer end tone outside."""
    if t <= src[0]:
        return [(0, 1.0)]
    if t >= src[-1]:
        return [(len(src) - 1, 1.0)]
    for i in range(len(src) - 1):
        if src[i] == t:
            return [(i, 1.0)]
        if src[i] < t < src[i + 1]:
            f = (t - src[i]) / (src[i + 1] - src[i])
            return [(i, 1.0 - f), (i + 1, f)]
    raise AssertionError("unreachable")


def area_taps(src: np.ndarray, t: float, targets: np.ndarray) -> list[tuple[int, float]]:
    """The mean of the source tones in t's bin between midpoints of the distinct sorted targets."""
    u = sorted(set(float(v) for v in targets))
    j = u.index(float(t))
    if len(u) == 1:
        lo, hi, closed = src[0], src[-1], True
    else:
        lo = u[0] - (u[1] - u[0]) / 2.0 if j == 0 else (u[j - 1] + u[j]) / 2.0
        hi = u[-1] + (u[-1] - u[-2]) / 2.0 if j == len(u) - 1 else (u[j] + u[j + 1]) / 2.0
        closed = j == len(u) - 1
    inside = [i for i, s in enumerate(src) if lo <= s and (s <= hi if closed else s < hi)]
    if not inside:
        return linear_taps(src, t)
    return [(i, 1.0 / len(inside)) for i in inside]


def reference(x: np.ndarray, src: np.ndarray, dst: np.ndarray, mode: str, nan: str = "propagate") -> np.ndarray:
    """Resamples the last axis of ``x`` tap by tap in float64 (complex: part by part), leaving out a
    tap whose weight is zero in ``x``'s precision (a target within it of a tone: the kernel
    computes in that precision, and a non-finite neighbour must not leak in through ``0 * inf``)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if nan == "fill":
        x = ref.fill_rows(x.astype(np.complex128 if np.iscomplexobj(x) else np.float64)).astype(x.dtype)
    if np.iscomplexobj(x):  # real weights act on each part: no inf * 0j cross terms
        re = reference(x.real.copy(), src, dst, mode).astype(np.float64)
        im = reference(x.imag.copy(), src, dst, mode).astype(np.float64)
        return (re + 1j * im).astype(x.dtype)
    precision = np.float32 if x.dtype == np.float32 else np.float64
    wide = x.astype(np.float64)
    out = np.zeros(x.shape[:-1] + (len(dst),), dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is NaN here, as in the kernel
        for k, t in enumerate(dst):
            taps = linear_taps(src, t) if mode == "linear" else area_taps(src, t, dst)
            taps = [(i, w) for i, w in taps if precision(w) != 0]
            acc = wide[..., taps[0][0]] * taps[0][1]
            for i, w in taps[1:]:
                acc = acc + wide[..., i] * w
            out[..., k] = acc
        return out.astype(x.dtype)


def parts(a: np.ndarray) -> np.ndarray:
    return np.stack([a.real, a.imag]) if np.iscomplexobj(a) else a


@st.composite
def index_sets(draw: st.DrawFn) -> np.ndarray:
    """Strictly increasing signed integers, 1..200 of them, with random gaps (DC, pilots, guards)."""
    n = draw(st.integers(1, 200))
    start = draw(st.integers(-300, 100))
    gaps = draw(st.lists(st.sampled_from([1, 1, 1, 2, 3, 4, 7]), min_size=n - 1, max_size=n - 1))
    return np.array(np.cumsum([start, *gaps]), dtype=np.int64)


@st.composite
def targets_for(draw: st.DrawFn, src: np.ndarray) -> np.ndarray:
    """Integer or float targets, sorted or not, inside and outside the source span, repeats allowed."""
    lo, hi = int(src[0]), int(src[-1])
    pad = draw(st.integers(0, 20))
    n = draw(st.integers(1, 120))
    if draw(st.booleans()):
        t = draw(st.lists(st.integers(lo - pad, hi + pad), min_size=n, max_size=n))
        return np.array(t, dtype=np.int64)
    t = draw(st.lists(st.floats(lo - pad, hi + pad, allow_nan=False), min_size=n, max_size=n))
    return np.array(t, dtype=np.float64)


@st.composite
def rows_of(draw: st.DrawFn, n: int, allow_nonfinite: bool = True) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    rows = draw(st.integers(0, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.uniform(-1e3, 1e3, (rows, n)).astype(dtype)
    if dtype.kind == "c":
        x = x + 1j * rng.uniform(-1e3, 1e3, (rows, n)).astype(dtype)
    if allow_nonfinite and x.size and draw(st.booleans()):
        flat = x.reshape(-1)
        for _ in range(draw(st.integers(1, 3))):
            flat[draw(st.integers(0, x.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return x


def assert_same(got: np.ndarray, want: np.ndarray, dtype: np.dtype) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(parts(got), parts(want), **tolerance(dtype))


TINY = 2.2250738585e-311  # a float64 subnormal: zero in float32
ACROSS = [0.5, 1.5, -TINY, TINY, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5]  # 10 outputs: the AVX2 plan's 8-wide pieces too


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("mode", "tones", "dst"), [
    ("linear", 6, [-TINY, TINY, 0.5]),  # the scalar kernel
    ("linear", 40, ACROSS),             # 17 tones or more: the AVX2 plan, where the CPU has it
    ("area", 6, [-1.0, -TINY / 2, TINY, 0.5]),  # empty bins take the linear value: the sparse kernel
])  # fmt: skip
def test_a_neighbour_weighted_below_the_precision_does_not_leak_in(dtype: type, mode: str, tones: int,
                                                                    dst: list[float]) -> None:
    # targets a subnormal step either side of tone 0 (index 3), whose neighbours (tones -1 and 1) hold inf:
    # at -TINY the weight of tone -1 is 1 - (1 - TINY), exactly 0 even in float64; at +TINY tone 1's is
    # TINY, zero in float32 and a subnormal in float64
    src = np.arange(-3, tones - 3)
    x = np.arange(1.0, 1.0 + 2 * tones).reshape(2, tones).astype(dtype)
    x[1, 2] = x[1, 4] = np.inf
    op = csipose.Resampler.from_indices(src, np.array(dst), mode=mode)
    got = op.apply(x)
    below, above = dst.index(-TINY) if -TINY in dst else None, dst.index(TINY)
    single = np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.complex64))
    assert got[0, above] == x[0, 3] and got[1, above] == x[1, 3] if single else np.isinf(got[1, above].real)
    if below is not None:
        assert got[0, below] == x[0, 3] and got[1, below] == x[1, 3]  # every precision
    assert np.isinf(got[1, dst.index(0.5)].real)  # a real neighbour still carries its inf
    assert_same(got, reference(x, src, np.array(dst), mode), x.dtype)


@settings(max_examples=150, deadline=None)
@given(st.data(), st.sampled_from(["linear", "area"]))
def test_from_indices_matches_reference(data: st.DataObject, mode: str) -> None:
    src = data.draw(index_sets())
    dst = data.draw(targets_for(src))
    x = data.draw(rows_of(len(src)))
    op = csipose.Resampler.from_indices(src, dst, mode=mode)
    assert (op.n_in, op.n_out, op.mode, op.outside) == (len(src), len(dst), mode, "nearest")
    assert np.array_equal(op.source_indices, src) and np.array_equal(op.target_indices, dst)
    assert_same(op.apply(x), reference(x, src, dst, mode), x.dtype)
    if x.size:
        assert_same(op.apply(x, nan="fill"), reference(x, src, dst, mode, nan="fill"), x.dtype)
        if not np.isfinite(x).all():
            with pytest.raises(NonFiniteError):
                op.apply(x, nan="raise")


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_linear_is_np_interp(data: st.DataObject) -> None:
    """np.interp holds the end values flat outside the span: outside='nearest'."""
    src = data.draw(index_sets())
    dst = data.draw(targets_for(src))
    x = data.draw(rows_of(len(src), allow_nonfinite=False)).real.astype(np.float64)
    got = csipose.Resampler.from_indices(src, dst).apply(x)
    want = np.array([np.interp(dst, src, row) for row in x]).reshape(len(x), len(dst))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.data(), st.sampled_from(["linear", "area"]))
def test_refuse_names_the_first_target_outside(data: st.DataObject, mode: str) -> None:
    src = data.draw(index_sets())
    dst = data.draw(targets_for(src))
    outside = (dst < src[0]) | (dst > src[-1])
    if not outside.any():
        op = csipose.Resampler.from_indices(src, dst, mode=mode, outside="refuse")
        x = data.draw(rows_of(len(src)))
        assert_same(op.apply(x), reference(x, src, dst, mode), x.dtype)
        return
    i = int(np.flatnonzero(outside)[0])
    with pytest.raises(ArgumentError, match=rf"target_indices: target \S+ \(index {i}\) is outside the source span"):
        csipose.Resampler.from_indices(src, dst, mode=mode, outside="refuse")


@settings(max_examples=60, deadline=None)
@given(st.data(), st.sampled_from(["linear", "area"]), st.integers(1, 150))
def test_count_targets_are_linspace_over_the_span(data: st.DataObject, mode: str, n_out: int) -> None:
    src = data.draw(index_sets())
    x = data.draw(rows_of(len(src)))
    op = csipose.Resampler.from_indices(src, n_out=n_out, mode=mode)
    assert op.target_indices is None and "target_indices=None" in repr(op)
    dst = np.linspace(float(src[0]), float(src[-1]), n_out)
    assert_same(op.apply(x), reference(x, src, dst, mode), x.dtype)


REAL_PLANS = [("IWL5300_30", "HT40"), ("ESP32_HT20", "HT40"), ("HT40", "HT20"), ("IWL5300_40_30", "HT40"),
              ("ATHEROS_HT20", "IWL5300_30"), ("HT20", "ESP32_HT20")]


@pytest.mark.parametrize("mode", ["linear", "area"])
@pytest.mark.parametrize(("source", "target"), REAL_PLANS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_real_plans_match_reference(source: str, target: str, mode: str, dtype: type) -> None:
    src, dst = csipose.PLANS[source].indices, csipose.PLANS[target].indices
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 50, len(src))).astype(dtype)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(x.shape).astype(dtype)
    x[0, 0, 3] = np.nan
    op = csipose.Resampler.from_indices(source, target, mode=mode)
    assert op.n_out == len(dst) and repr(op).startswith(f"Resampler.from_indices({source!r}, {target!r}")
    assert_same(op.apply(x), reference(x, src, dst, mode), x.dtype)
    # along another axis, into out=
    xt = np.moveaxis(x, -1, 1)
    out = np.empty((3, len(dst), 50), dtype=x.dtype)
    op.apply(xt, axis=1, out=out)
    assert_same(np.moveaxis(out, 1, -1), reference(x, src, dst, mode), x.dtype)


def test_ht40_to_56_by_count_uses_tone_positions() -> None:
    """n_out=56 over HT40 places 56 targets evenly on -58..58 across the DC gap; the old
    Resampler(114, 56) places them evenly on the column numbers 0..113 and differs."""
    x = np.random.default_rng(3).standard_normal((20, 114))
    by_tones = csipose.Resampler.from_indices("HT40", n_out=56)
    want = reference(x, csipose.HT40_TONES, np.linspace(-58.0, 58.0, 56), "linear")
    np.testing.assert_allclose(by_tones(x), want, rtol=1e-12, atol=1e-12)
    assert not np.allclose(by_tones(x), csipose.Resampler(114, 56)(x))


def test_plans_table() -> None:
    from csiread.utils import scidx  # the authority for the 802.11n grouped plans

    plans = csipose.PLANS
    assert set(plans) >= {"HT20", "HT40", "IWL5300_30", "IWL5300_40_30", "ESP32_HT20", "ATHEROS_HT20", "ATHEROS_HT40"}
    for name, plan in plans.items():
        assert isinstance(plan, csipose.SubcarrierPlan) and plan.name == name and plan.source
        assert plan.indices.dtype == np.int64 and np.all(np.diff(plan.indices) > 0)
        assert not plan.indices.flags.writeable
    for name, (bw, ng) in {"HT20": (20, 1), "HT40": (40, 1), "IWL5300_30": (20, 2), "IWL5300_40_30": (40, 4),
                           "ATHEROS_HT20": (20, 1), "ATHEROS_HT40": (40, 1)}.items():
        np.testing.assert_array_equal(plans[name].indices, scidx(bw, ng))
    assert len(plans["IWL5300_30"]) == 30 and len(plans["HT40"]) == 114 and len(plans["ESP32_HT20"]) == 52
    np.testing.assert_array_equal(plans["HT40"].indices, csipose.HT40_TONES)
    np.testing.assert_array_equal(plans["HT20"].indices, csipose.HT20_TONES)
    assert "csiread.utils.scidx(20, 2)" in plans["IWL5300_30"].source


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"source_indices": [0, 2, 2], "target_indices": [1]}, ArgumentError,
         r"source_indices: positions must be strictly increasing, got 2 after 2 at index 2"),
        ({"source_indices": [0.0, np.nan], "target_indices": [1]}, ArgumentError, "source_indices: .*finite"),
        ({"source_indices": [0, 1], "target_indices": [np.inf]}, ArgumentError, "target_indices: .*finite"),
        ({"source_indices": [], "target_indices": [1]}, ShapeError, "source_indices: expected at least 1"),
        ({"source_indices": [0, 1], "target_indices": []}, ShapeError, "target_indices: expected at least 1"),
        ({"source_indices": [[0, 1]], "target_indices": [1]}, ShapeError, "source_indices: expected a 1-d"),
        ({"source_indices": ["a"], "target_indices": [1]}, ArgumentError, "source_indices: expected integer"),
        ({"source_indices": "HT80", "target_indices": [1]}, ArgumentError, "source_indices: unknown plan 'HT80'"),
        ({"source_indices": "HT40"}, ArgumentError, "give exactly one"),
        ({"source_indices": "HT40", "target_indices": "HT20", "n_out": 3}, ArgumentError, "give exactly one"),
        ({"source_indices": "HT40", "n_out": 0}, ArgumentError, "n_out: expected an integer >= 1"),
        ({"source_indices": "HT40", "n_out": 5, "mode": "subband"}, ArgumentError, "mode: expected one of"),
        ({"source_indices": "HT40", "n_out": 5, "outside": "clip"}, ArgumentError, "outside: expected one of"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        csipose.Resampler.from_indices(**kwargs)


def test_core_constructor_rejects_bad_input_without_the_python_front() -> None:
    from csipose import _core

    with pytest.raises(ArgumentError, match="source_indices"):
        _core.Resampler.from_positions([1.0, 0.0], [0.5])
    with pytest.raises(ArgumentError, match="subband"):
        _core.Resampler.from_positions([0.0, 1.0], [0.5], "subband")
    op = _core.Resampler.from_positions([0.0, 1.0], [0.5], "area", "refuse")
    assert op.outside == "refuse" and list(op.target_positions) == [0.5] and "from positions" in repr(op)
    assert _core.Resampler(4, 2).source_positions is None
