"""DensePose kernels of the Rust core against the plainly written numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import csipose
from csipose import _core
from csipose.densepose.surface import canonical_arrays
from csipose.errors import ArgumentError, DTypeError, ShapeError
from csipose.metrics import densepose_gps, evaluate_densepose
from tests.parity import reference_densepose as R


def iuv_pair(seed: int, n: int, h: int, w: int, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """Random true and predicted IUV images: background and all 24 parts, predictions with
    the right part 60 % of the time, U, V near the truth, some outside [0, 1] or NaN."""
    rng = np.random.default_rng(seed)
    true = np.zeros((n, 3, h, w))
    true[:, 0] = np.where(rng.random((n, h, w)) < 0.3, 0, rng.integers(1, 25, (n, h, w)))
    true[:, 1:] = rng.random((n, 2, h, w))
    pred = true.copy()
    wrong = rng.random((n, h, w)) < 0.4
    pred[:, 0] = np.where(wrong, rng.integers(0, 25, (n, h, w)), true[:, 0])
    pred[:, 1:] += rng.normal(0, rng.uniform(0.01, 0.5), (n, 2, h, w))
    pred[:, 1:][rng.random((n, 2, h, w)) < 0.05] = np.nan
    return pred.astype(dtype), true.astype(dtype)


def layouts(x: np.ndarray, kind: str) -> np.ndarray:
    """The same values in another memory layout."""
    if kind == "fortran":
        return np.asfortranarray(x)
    if kind == "strided":
        wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), x.dtype)
        wide[..., ::2] = x
        return wide[..., ::2]
    return x


shapes = st.tuples(st.integers(0, 4), st.integers(0, 5), st.integers(0, 5))
dtypes = st.sampled_from([np.float32, np.float64])


@given(st.integers(0, 2**32 - 1), shapes, dtypes, st.sampled_from(["c", "fortran", "strided"]))
def test_pixel_gps_equals_reference(seed: int, shape: tuple[int, int, int], dtype: type, layout: str) -> None:
    pred, true = iuv_pair(seed, *shape, dtype)
    ours = densepose_gps(layouts(pred, layout), layouts(true, layout))
    assert ours.dtype == dtype and ours.shape == (shape[0], shape[1], shape[2])
    expected = R.gps(pred, true)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(expected))
    tol = 1e-6 if dtype is np.float32 else 1e-9
    np.testing.assert_allclose(ours, expected, rtol=0, atol=tol, equal_nan=True)


@given(st.integers(0, 2**32 - 1), shapes, dtypes, st.booleans())
def test_frame_and_pooled_scores_equal_reference(
    seed: int, shape: tuple[int, int, int], dtype: type, given_scores: bool
) -> None:
    pred, true = iuv_pair(seed, *shape, dtype)
    n = shape[0]
    rng = np.random.default_rng(seed + 1)
    scores = np.round(rng.random(n), 1) if given_scores else None  # ties included
    out = _core.densepose_eval(pred, true, *canonical_arrays(), scores, R.THRESHOLDS, R.RECALLS)
    gps, iou, gpsm = R.frame_scores(pred, true)
    np.testing.assert_allclose(out["gps"], gps, rtol=0, atol=1e-9, equal_nan=True)
    np.testing.assert_array_equal(out["mask_iou"], iou)
    np.testing.assert_allclose(out["gpsm"], gpsm, rtol=0, atol=1e-9, equal_nan=True)
    part_iou, miou, mask = R.pooled_ious(pred, true)
    np.testing.assert_array_equal(out["part_iou"], part_iou)
    assert out["mask_iou_pooled"] == mask or (np.isnan(mask) and np.isnan(out["mask_iou_pooled"]))
    np.testing.assert_allclose(out["part_miou"], miou, rtol=1e-14, equal_nan=True)  # summation order

    has_true = R.per_frame(true[:, 0] > 0).any(axis=1)
    has_pred = R.per_frame(pred[:, 0] > 0).any(axis=1)
    pixels = shape[1] * shape[2]
    expected_scores = scores if scores is not None else R.per_frame(pred[:, 0] > 0).sum(axis=1) / max(pixels, 1)
    np.testing.assert_array_equal(out["scores"][has_pred], np.asarray(expected_scores, np.float64)[has_pred])
    precision = R.dp_ap_precision(gpsm, has_true, has_pred, np.asarray(expected_scores, np.float64))
    np.testing.assert_allclose(out["precision"], precision, rtol=0, atol=1e-12)

    report = evaluate_densepose(pred, true, scores)
    ap = float(precision.mean()) if has_true.any() else float("nan")
    np.testing.assert_allclose([report.dp_ap, report.dp_ap50, report.dp_ap75], [ap, *(
        float(precision[t].mean()) if has_true.any() else float("nan") for t in (0, 5)
    )], rtol=0, atol=1e-12, equal_nan=True)
    assert report.frames == n and report.body_frames == int(has_true.sum())


@given(
    st.integers(0, 2**32 - 1),
    st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)),
    dtypes,
    st.sampled_from([2.5, -1.0, 25.0, np.nan, np.inf, 0.999]),
    st.sampled_from(["pred", "true"]),
)
def test_bad_part_values_are_errors_naming_the_image(
    seed: int, shape: tuple[int, int, int], dtype: type, bad: float, arg: str
) -> None:
    pred, true = iuv_pair(seed, *shape, dtype)
    rng = np.random.default_rng(seed)
    target = pred if arg == "pred" else true
    target[rng.integers(shape[0]), 0, rng.integers(shape[1]), rng.integers(shape[2])] = bad
    with pytest.raises(ArgumentError, match=rf"^{arg}: expected part indices"):
        densepose_gps(pred, true)
    with pytest.raises(ArgumentError, match=rf"^{arg}: expected part indices"):
        evaluate_densepose(pred, true)
    with pytest.raises(ArgumentError):
        R.gps(pred, true)


def test_true_uv_outside_the_chart_is_an_error() -> None:
    pred, true = iuv_pair(0, 2, 3, 3, np.float64)
    true[:, 0] = 1
    true[1, 1, 2, 0] = 255.0  # DensePose's 8-bit PNG scale
    with pytest.raises(ArgumentError, match=r"^true: expected U, V .* frame 1, pixel \(2, 0\)"):
        densepose_gps(pred, true)
    true[1, 1, 2, 0] = np.nan
    with pytest.raises(ArgumentError, match=r"^true: expected U, V"):
        evaluate_densepose(pred, true)


def test_shapes_and_dtypes_are_checked_by_name() -> None:
    pred, true = iuv_pair(0, 2, 3, 3, np.float64)
    with pytest.raises(ShapeError, match=r"^pred: expected IUV images of shape \(N, 3, H, W\).*got \(2, 2, 3, 3\)"):
        densepose_gps(pred[:, :2], true)
    with pytest.raises(ShapeError, match=r"^true: expected \(2, 3, 3, 3\) to match pred, got \(1, 3, 3, 3\)"):
        densepose_gps(pred, true[:1])
    with pytest.raises(DTypeError, match=r"^pred: expected a float32 or float64"):
        densepose_gps(np.nan_to_num(pred).astype(np.int32), true)
    with pytest.raises(ShapeError, match=r"^scores: expected \(2,\), got \(3,\)"):
        evaluate_densepose(pred, true, scores=[0.1, 0.2, 0.3])
    with pytest.raises(csipose.errors.NonFiniteError, match=r"^scores: expected finite scores, got NaN at frame 1"):
        evaluate_densepose(pred, true, scores=[0.1, np.nan])
    # Mixed float widths are scored in float64.
    assert densepose_gps(pred.astype(np.float32), true).dtype == np.float64


@pytest.mark.parametrize("threads", [2, 3])  # against one thread
def test_results_do_not_depend_on_the_thread_count(threads: int) -> None:
    pred, true = iuv_pair(7, 300, 12, 10, np.float32)
    before = csipose.get_num_threads()
    try:
        csipose.set_num_threads(1)
        one = (densepose_gps(pred, true), evaluate_densepose(pred, true).to_dict())
        csipose.set_num_threads(threads)
        many = (densepose_gps(pred, true), evaluate_densepose(pred, true).to_dict())
    finally:
        csipose.set_num_threads(before)
    np.testing.assert_array_equal(one[0], many[0])
    assert one[1] == many[1]
