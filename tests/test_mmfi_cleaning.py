"""Official MM-Fi amplitude cleaning and the phase feature."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import csipose
from csipose.data.cleaning import clean_amplitude, fill_packet_mean, phase_feature
from csipose.errors import ShapeError


def official_clean(frame: np.ndarray) -> np.ndarray:
    """The toolbox's per-frame loop (mmfi_lib read_frame, wifi-csi), plus the two guards."""
    data = np.array(frame, dtype=np.float64)
    data[np.isinf(data)] = np.nan
    for i in range(data.shape[2]):
        col = data[:, :, i]
        if np.count_nonzero(col != col):
            finite = col[col == col]
            col[np.isnan(col)] = finite.mean() if finite.size else 0.0
    lo, hi = np.min(data), np.max(data)
    return np.zeros_like(data) if hi == lo else (data - lo) / (hi - lo)


def numpy_clean(amp: np.ndarray) -> np.ndarray:
    """The vectorised numpy cleaning the kernel replaced: it must give the same bits."""
    x = np.array(amp, dtype=np.float32)
    finite = np.isfinite(x)
    count = finite.sum(axis=(1, 2), keepdims=True)
    total = np.where(finite, x, 0.0).sum(axis=(1, 2), keepdims=True, dtype=np.float64)
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0).astype(np.float32)
    np.copyto(x, np.broadcast_to(mean, x.shape), where=~finite)
    flat = x.reshape(len(x), -1)
    lo = flat.min(axis=1).reshape(-1, 1, 1, 1)
    span = flat.max(axis=1).reshape(-1, 1, 1, 1) - lo
    x -= lo
    x /= np.where(span > 0, span, np.float32(1))
    return x


def test_hand_computed_frame() -> None:
    # one rx, two subcarriers, two packets: packet 0 = [1, NaN] -> NaN := 1; packet 1 = [inf, 5] -> 5
    x = np.array([[[[1.0, np.inf], [np.nan, 5.0]]]], dtype=np.float32)
    out = clean_amplitude(x)
    np.testing.assert_allclose(out, [[[[0.0, 1.0], [0.0, 1.0]]]])


def test_fill_averages_the_whole_packet_slice_not_the_row() -> None:
    # one frame, 2 rx x 3 subcarriers x 2 packets, hand-computed
    x = np.zeros((1, 2, 3, 2), dtype=np.float32)
    x[0, :, :, 0] = [[1.0, np.nan, 2.0], [6.0, 7.0, np.inf]]  # finite: 1 2 6 7 -> mean 4
    x[0, :, :, 1] = [[-np.inf, 10.0, 20.0], [np.nan, 30.0, 40.0]]  # finite: 10 20 30 40 -> mean 25
    out = fill_packet_mean(x.copy())
    np.testing.assert_array_equal(out[0, :, :, 0], [[1, 4, 2], [6, 7, 4]])
    np.testing.assert_array_equal(out[0, :, :, 1], [[25, 10, 20], [25, 30, 40]])
    # a row-mean fill would have given antenna 0 of packet 0 (1 + 2) / 2 = 1.5: the resampler's nan="fill"
    row_filled = csipose.Resampler(3, 3, "subband").apply(x[0], axis=1, nan="fill")
    assert row_filled[0, 1, 0] == 1.5 and row_filled[1, 2, 0] == 6.5
    # clean_amplitude = this fill, then min-max over the frame (min 1, max 40)
    np.testing.assert_allclose(clean_amplitude(x), (out - 1.0) / 39.0, rtol=1e-6)


def test_fill_guards_an_all_non_finite_packet_and_leaves_others() -> None:
    x = np.array([[[[np.nan, 3.0], [np.inf, np.nan]]]], dtype=np.float32)  # 1 rx, 2 subcarriers, 2 packets
    out = fill_packet_mean(x)
    assert out is x
    np.testing.assert_array_equal(out[0, 0], [[0.0, 3.0], [0.0, 3.0]])
    clean = np.array([[[[1.0, 2.0]]]], dtype=np.float32)
    np.testing.assert_array_equal(fill_packet_mean(clean.copy()), clean)


def test_all_nan_slice_is_filled_with_zero() -> None:
    x = np.full((1, 3, 4, 2), 2.0, dtype=np.float32)
    x[0, :, :, 1] = 4.0
    x[0, :, :, 0] = np.nan
    x[0, 0, 0, 0] = -np.inf
    out = clean_amplitude(x)
    # packet 0 -> 0, packet 1 stays 4: after min-max 0 and 1
    np.testing.assert_array_equal(out[0, :, :, 0], 0.0)
    np.testing.assert_array_equal(out[0, :, :, 1], 1.0)


@pytest.mark.parametrize("value", [0.0, 3.5, np.nan, np.inf])
def test_constant_frame_becomes_zeros(value: float) -> None:
    x = np.full((2, 3, 5, 4), value, dtype=np.float32)
    x[1] = np.arange(60, dtype=np.float32).reshape(3, 5, 4)
    with np.errstate(divide="raise", invalid="raise"):
        out = clean_amplitude(x)
    np.testing.assert_array_equal(out[0], 0.0)
    assert out[1].min() == 0.0 and out[1].max() == 1.0


def test_frames_are_normalised_independently() -> None:
    x = np.stack([np.full((3, 4, 2), 1.0), np.full((3, 4, 2), 100.0)]).astype(np.float32)
    x[0, 0, 0, 0] = 3.0
    x[1, 0, 0, 0] = 50.0
    out = clean_amplitude(x)
    assert out[0, 0, 0, 0] == 1.0 and out[1, 0, 0, 0] == 0.0
    assert np.all(out[0].ravel()[1:] == 0.0) and np.all(out[1].ravel()[1:] == 1.0)


_special = st.sampled_from([np.nan, np.inf, -np.inf])
# Amplitudes as CSI tools report them; subnormals are left out because the float64
# reference can hold a mean of two subnormals that float32 cannot.
_value = st.one_of(st.just(0.0), st.floats(2.0**-10, 60.0, width=32), _special)


@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=4, max_dims=4, min_side=1, max_side=5), elements=_value))
def test_matches_official_loop(x: np.ndarray) -> None:
    with np.errstate(divide="raise", invalid="raise"):
        out = clean_amplitude(x)
    assert out.dtype == np.float32 and out.shape == x.shape
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
    ref = np.stack([official_clean(f) for f in x])
    np.testing.assert_allclose(out, ref, atol=2e-6)


@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=4, max_dims=4, min_side=1, max_side=7), elements=_value))
def test_kernel_gives_the_bits_of_the_numpy_cleaning(x: np.ndarray) -> None:
    np.testing.assert_array_equal(clean_amplitude(x), numpy_clean(x))


def test_large_batches_run_in_parallel_with_the_same_bits() -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(0.5, 40.0, (400, 3, 114, 10)).astype(np.float32)  # above the kernel's inline size
    x[rng.random(x.shape) < 1e-3] = -np.inf
    x[7, :, :, 3] = np.nan
    np.testing.assert_array_equal(clean_amplitude(x), numpy_clean(x))
    # a strided view (amplitude channels of a [F, 6, S, P] buffer), a reversed and a transposed one
    buf = np.concatenate([x, x], axis=1)
    clean_amplitude(buf[:, :3], copy=False)
    np.testing.assert_array_equal(buf[:, :3], numpy_clean(x))
    np.testing.assert_array_equal(buf[:, 3:], x)
    np.testing.assert_array_equal(clean_amplitude(x[::-1]), numpy_clean(x)[::-1])
    t = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    np.testing.assert_array_equal(clean_amplitude(t, copy=False), numpy_clean(x))


def test_bad_arguments_name_the_argument() -> None:
    with pytest.raises(csipose.errors.ShapeError, match=r"amp: expected float32\[W, R, S, P\].*\(3, 4\)"):
        clean_amplitude(np.ones((3, 4), np.float32))
    with pytest.raises(TypeError, match="x: cleaning in place needs a writeable float32"):
        fill_packet_mean(np.ones((1, 3, 4, 2)))
    ro = np.ones((1, 3, 4, 2), np.float32)
    ro.flags.writeable = False
    with pytest.raises(TypeError, match="amp: cleaning in place needs a writeable"):
        clean_amplitude(ro, copy=False)
    with pytest.raises(csipose.errors.DTypeError, match="x: expected a float32 numpy array"):
        csipose._core.clean_mmfi_amplitude(np.ones((1, 3, 4, 2)))
    with pytest.raises(csipose.errors.ShapeError, match="x: expected float32\\[F, R, S, P\\]"):
        csipose._core.fill_packet_mean(np.ones((3, 4, 2), np.float32))
    with pytest.raises(csipose.errors.ShapeError, match="frames \\[R, S, P\\] in C order"):
        csipose._core.clean_mmfi_amplitude(np.ones((1, 3, 4, 2), np.float32).transpose(0, 1, 3, 2))


def test_input_is_not_modified() -> None:
    x = np.array([[[[np.nan, 1.0, 2.0]]]], dtype=np.float32)
    clean_amplitude(x)
    assert np.isnan(x[0, 0, 0, 0])


def test_phase_feature_is_sanitized_along_subcarriers_with_ht40_tones() -> None:
    rng = np.random.default_rng(0)
    raw = rng.uniform(-np.pi, np.pi, (2, 3, 114, 10)).astype(np.float32)
    out = phase_feature(raw)
    expected = csipose.sanitize_phase(raw, axis=2, tones=csipose.HT40_TONES)
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.float32 and out.shape == raw.shape


def test_phase_feature_removes_a_linear_phase_ramp() -> None:
    # a pure timing offset: phase = 0.3 * tone + 1.0 (wrapped) -> sanitised to ~0 everywhere
    tones = csipose.HT40_TONES.astype(np.float64)
    ramp = np.angle(np.exp(1j * (0.3 * tones + 1.0)))
    raw = np.broadcast_to(ramp[None, None, :, None], (1, 3, 114, 10)).astype(np.float32)
    np.testing.assert_allclose(phase_feature(raw), 0.0, atol=1e-4)


def test_phase_feature_fills_non_finite_with_row_mean() -> None:
    raw = np.zeros((1, 1, 4, 1), dtype=np.float32)
    raw[0, 0, :, 0] = [0.1, np.nan, 0.1, 0.1]
    out = phase_feature(raw)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, 0.0, atol=1e-6)


def test_in_place_on_a_strided_view_and_empty() -> None:
    rng = np.random.default_rng(2)
    buf = rng.uniform(0, 9, (4, 6, 5, 3)).astype(np.float32)
    buf[1, 0, 0, 0] = np.nan
    buf[2, 2, 4, 1] = np.inf
    expected = clean_amplitude(buf[:, :3])
    phase_part = buf[:, 3:].copy()
    out = clean_amplitude(buf[:, :3], copy=False)
    np.testing.assert_array_equal(buf[:, :3], expected)
    np.testing.assert_array_equal(buf[:, 3:], phase_part)
    assert np.shares_memory(out, buf)
    assert clean_amplitude(np.zeros((0, 3, 5, 2), np.float32)).shape == (0, 3, 5, 2)
    with pytest.raises(TypeError, match="float32"):
        clean_amplitude(np.zeros((1, 3, 5, 2)), copy=False)


# ----------------------------------------------------------------------------- log amplitude
def numpy_log(amp: np.ndarray) -> np.ndarray:
    """The log amplitude by definition: the official fill, then ln(max(v, 1e-6 * the frame's peak))."""
    x = fill_packet_mean(np.array(amp, dtype=np.float32))
    floor = np.maximum(np.abs(x).max(axis=(1, 2, 3), keepdims=True) * np.float32(1e-6), np.finfo(np.float32).tiny)
    return np.log(np.maximum(x, floor))


@given(
    amp=hnp.arrays(np.float32, st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 6), st.integers(1, 4)),
                   elements=st.floats(2.0**-10, 2.0**10, width=32)),
    holes=st.lists(st.tuples(st.integers(0, 2**16), st.sampled_from([np.nan, np.inf, -np.inf])), max_size=3),
    gain=st.floats(1e-2, 1e2),
)
def test_log_amplitude_fills_as_officially_and_turns_a_gain_into_an_offset(
    amp: np.ndarray, holes: list[tuple[int, float]], gain: float
) -> None:
    from csipose.data.cleaning import log_amplitude

    dirty = amp.copy()
    flat = dirty.reshape(-1)
    for at, bad in holes:  # a few non-finite values
        flat[at % flat.size] = bad
    before = dirty.copy()
    out = log_amplitude(dirty)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert np.array_equal(out, numpy_log(dirty))
    np.testing.assert_array_equal(dirty, before)  # the input is left as it was
    # a receiver gain multiplies every value: in the log it is one offset
    scaled = log_amplitude(amp * np.float32(gain))
    assert np.allclose(scaled - log_amplitude(amp), np.log(np.float32(gain)), atol=2e-5 * max(1.0, abs(np.log(gain))))


def test_log_amplitude_in_place_on_channels_of_a_larger_buffer_and_edge_cases() -> None:
    from csipose.data.cleaning import log_amplitude

    rng = np.random.default_rng(0)
    buffer = rng.uniform(0.5, 2.0, size=(4, 6, 114, 10)).astype(np.float32)
    expected = numpy_log(buffer[:, :3])
    phase = buffer[:, 3:].copy()
    channels = buffer[:, :3]
    assert log_amplitude(channels, copy=False) is channels  # in place: the view itself comes back
    assert np.array_equal(buffer[:, :3], expected) and np.array_equal(buffer[:, 3:], phase)  # the phase untouched
    zeros = log_amplitude(np.zeros((2, 3, 4, 5), np.float32))  # no frame is -inf
    assert np.isfinite(zeros).all() and np.all(zeros == np.log(np.finfo(np.float32).tiny))
    dead = np.ones((1, 3, 4, 5), np.float32)
    dead[0, 1, 2] = 0.0  # a dead tone sits 120 dB under the frame's peak, not at -inf
    assert log_amplitude(dead)[0, 1, 2, 0] == pytest.approx(np.log(1e-6), rel=1e-5)
    with pytest.raises(ShapeError, match=r"amp: expected float32\[W, R, S, P\]"):
        log_amplitude(np.ones((3, 4), np.float32))
    with pytest.raises(TypeError, match="amp: cleaning in place needs a writeable float32"):
        log_amplitude(np.ones((1, 3, 4, 5)), copy=False)
