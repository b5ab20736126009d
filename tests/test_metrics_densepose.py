"""DensePose scores on tiny hand-built IUV images whose answers can be worked out on paper."""

from __future__ import annotations

import math

import numpy as np
import pytest

from csipose.densepose.surface import PARTS
from csipose.metrics import DensePoseReport, densepose_gps, evaluate_densepose
from csipose.metrics.densepose import DEFINITIONS, KAPPA

TORSO_FRONT = 2  # half-cylinder, r = 0.15 m, L = 0.61 m


def iuv(parts, u=0.5, v=0.5) -> np.ndarray:
    """One frame ``[1, 3, H, W]`` from a part grid and U, V (scalars or grids)."""
    parts = np.asarray(parts, dtype=np.float64)
    out = np.empty((1, 3, *parts.shape))
    out[0, 0], out[0, 1], out[0, 2] = parts, u, v
    return out


def test_kappa_and_torso_are_the_canonical_ones() -> None:
    assert KAPPA == 0.255
    torso = PARTS[TORSO_FRONT - 1]
    assert (torso.kind, torso.radius, torso.length) == ("half_cylinder", 0.15, 0.61)


def test_perfect_prediction_scores_one() -> None:
    rng = np.random.default_rng(0)
    true = np.concatenate([iuv(rng.integers(0, 25, (6, 5)), rng.random((6, 5)), rng.random((6, 5))) for _ in range(4)])
    r = evaluate_densepose(true, true)
    assert (r.gpsm, r.gps, r.mask_iou, r.part_miou) == (1, 1, 1, 1)
    # COCO's precision tp / (tp + fp + eps) is 1 - 2e-16 at best.
    assert (r.dp_ap, r.dp_ap50, r.dp_ap75) == pytest.approx((1, 1, 1), abs=1e-12)
    present = np.isin(np.arange(1, 25), true[:, 0])
    np.testing.assert_array_equal(r.part_iou[present], 1.0)
    assert np.isnan(r.part_iou[~present]).all()
    assert (r.frames, r.body_frames) == (4, 4)


def test_all_wrong_parts_score_zero_gps() -> None:
    true = iuv([[1, 2], [3, 4]])
    pred = iuv([[2, 1], [4, 3]])  # foreground right, every part wrong
    np.testing.assert_array_equal(densepose_gps(pred, true), [[[0.0, 0.0], [0.0, 0.0]]])
    r = evaluate_densepose(pred, true)
    assert (r.gps, r.gpsm, r.mask_iou, r.part_miou, r.dp_ap) == (0, 0, 1, 0, 0)


def test_half_right_frame_by_hand() -> None:
    # Truth: 2 x 2 pixels of torso_front at U = V = 0.5. Prediction: two pixels exact, one
    # with U = 0 (half the half-circumference away: g = pi * 0.15 * 0.5 = 0.2356 m), one background.
    true = iuv([[TORSO_FRONT, TORSO_FRONT], [TORSO_FRONT, TORSO_FRONT]])
    pred = iuv([[TORSO_FRONT, TORSO_FRONT], [TORSO_FRONT, 0]], u=[[0.5, 0.5], [0.0, 0.5]])
    g = math.pi * 0.15 * 0.5
    off = math.exp(-(g**2) / (2 * 0.255**2))  # = 0.6526
    np.testing.assert_allclose(densepose_gps(pred, true), [[[1.0, 1.0], [off, 0.0]]], rtol=1e-12)
    r = evaluate_densepose(pred, true)
    gps = (1 + 1 + off + 0) / 4  # 0.6632
    mask_iou = 3 / 4  # 3 predicted body pixels, 4 true, all 3 inside
    assert r.gps == pytest.approx(gps, rel=1e-12)
    assert r.mask_iou == 0.75
    assert r.gpsm == pytest.approx(math.sqrt(gps * mask_iou), rel=1e-12)  # 0.7053
    # Part 2 is predicted on 3 of its 4 pixels and nowhere else: IoU 3/4, the only part.
    assert r.part_iou[TORSO_FRONT - 1] == 0.75 and r.part_miou == 0.75
    # One true and one predicted person with GPSm 0.705: a hit at thresholds .50-.70 (5 of 10).
    assert (r.dp_ap50, r.dp_ap75, r.dp_ap) == pytest.approx((1.0, 0.0, 0.5), abs=1e-12)


def test_scores_order_the_precision_recall_curve() -> None:
    true = np.concatenate([iuv([[1, 1]]), iuv([[3, 3]])])
    pred = np.concatenate([iuv([[1, 1]]), iuv([[4, 4]])])  # frame 0 right (GPSm 1), frame 1 wrong (GPSm 0)
    # Hit first: precision 1 up to recall 1/2 (51 of 101 recall points), 0 beyond.
    good_first = evaluate_densepose(pred, true, scores=[0.9, 0.1])
    assert good_first.dp_ap == pytest.approx(51 / 101, abs=1e-12)
    # Miss first: precision 1/2 at recall 1/2.
    bad_first = evaluate_densepose(pred, true, scores=[0.1, 0.9])
    assert bad_first.dp_ap == pytest.approx(0.5 * 51 / 101, abs=1e-12)
    # GPS and the IoUs do not depend on scores.
    assert good_first.gpsm == bad_first.gpsm == 0.5


def test_frames_without_a_body_or_a_prediction() -> None:
    body = iuv([[1, 1]])
    empty = iuv([[0, 0]])
    # A prediction where there is no body is a false positive; scored first it halves precision.
    r = evaluate_densepose(np.concatenate([body, body]), np.concatenate([body, empty]), scores=[0.1, 0.9])
    assert r.dp_ap == pytest.approx(0.5, abs=1e-12)
    assert (r.body_frames, r.gpsm, r.mask_iou) == (1, 1.0, 0.5)
    # A body without a prediction is a miss: recall stops at 1/2.
    r = evaluate_densepose(np.concatenate([body, empty]), np.concatenate([body, body]))
    assert r.dp_ap == pytest.approx(51 / 101, abs=1e-12)
    assert r.gpsm == 0.5  # GPSm 1 and 0 (no foreground: mask IoU 0)
    # Nothing anywhere: no figure is defined.
    r = evaluate_densepose(empty, empty)
    assert r.body_frames == 0
    assert all(math.isnan(getattr(r, k)) for k in ("dp_ap", "dp_ap50", "dp_ap75", "gpsm", "gps", "part_miou", "mask_iou"))
    gps = densepose_gps(empty, empty)
    assert gps.shape == (1, 1, 2) and np.isnan(gps).all()


@pytest.mark.parametrize("shape", [(0, 3, 4, 4), (2, 3, 0, 5), (1, 3, 1, 1)])
def test_empty_and_size_one_inputs(shape: tuple[int, ...]) -> None:
    x = np.zeros(shape, np.float32)
    assert densepose_gps(x, x).shape == (shape[0], shape[2], shape[3])
    r = evaluate_densepose(x, x)
    assert r.frames == shape[0] and r.body_frames == 0 and math.isnan(r.dp_ap)
    assert r.part_iou.shape == (24,) and np.isnan(r.part_iou).all()


def test_report_carries_its_definitions() -> None:
    r = evaluate_densepose(iuv([[1, 0]]), iuv([[1, 1]]))
    assert isinstance(r, DensePoseReport)
    d = r.to_dict()
    for name in ("dp_ap", "dp_ap50", "dp_ap75", "gpsm", "part_miou", "mask_iou", "part_iou"):
        assert name in DEFINITIONS and name in d
    assert d["mask_iou"] == 0.5 and d["part_iou"][0] == 0.5 and d["part_iou"][1] is None
    assert len(d["part_names"]) == 24 and d["part_names"][0] == "torso_back"
    assert d["definition"].splitlines() == list(DEFINITIONS.values())
    assert "dp_ap" in r.summary()
