"""csipose.metrics.mot against py-motmetrics (MOTAccumulator + metrics.compute).

Distances are continuous random draws, so the per-frame least-cost assignment
has no ties and every solver finds the same one.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csipose.errors import ArgumentError, DTypeError, ShapeError
from csipose.metrics import MOTResult, mot

mm = pytest.importorskip("motmetrics")

Frame = tuple[Any, Any, Any]  # ids and distances as arrays or lists

COUNTS = [
    "num_frames",
    "num_objects",
    "num_predictions",
    "num_matches",
    "num_switches",
    "num_detections",
    "num_misses",
    "num_false_positives",
    "num_fragmentations",
    "num_unique_objects",
    "mostly_tracked",
    "partially_tracked",
    "mostly_lost",
    "idtp",
    "idfp",
    "idfn",
]
RATIOS = ["mota", "motp", "idf1", "idp", "idr", "precision", "recall"]


def reference(frames: list[Frame]) -> dict[str, Any]:
    with warnings.catch_warnings():
        # pandas deprecations raised inside motmetrics, not csipose's concern
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        acc = mm.MOTAccumulator(auto_id=True)
        for g, h, d in frames:
            acc.update(g, h, d)
        return dict(mm.metrics.create().compute(acc, metrics=COUNTS + RATIOS, return_dataframe=False))


def assert_matches_reference(frames: list[Frame]) -> MOTResult:
    ours = mot(frames)
    ref = reference(frames)
    for name in COUNTS:
        assert getattr(ours, name) == ref[name], (name, getattr(ours, name), ref[name])
    for name in RATIOS:
        a, b = getattr(ours, name), float(ref[name])
        if math.isfinite(b):
            assert a == pytest.approx(b, rel=1e-12, abs=1e-15), (name, a, b)
        else:  # motmetrics: NaN or -inf where nothing is there to divide by
            assert math.isnan(a), (name, a, b)
    return ours


def random_frames(seed: int, n_frames: int, n_gt: int, n_hyp: int, p_forbid: float, p_inf: float) -> list[Frame]:
    """Tracks from small id pools (so they persist, vanish and come back) with
    random continuous distances and random forbidden pairs (NaN, sometimes inf)."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n_frames):
        g = rng.permutation(n_gt)[: rng.integers(0, min(n_gt, 6) + 1)].astype(np.int64) * 7 - 3
        h = 100 + rng.permutation(n_hyp)[: rng.integers(0, min(n_hyp, 6) + 1)].astype(np.int32)
        d = rng.uniform(0.0, 2.0, (g.size, h.size))
        d[rng.random(d.shape) < p_forbid] = np.nan
        d[rng.random(d.shape) < p_inf] = np.inf
        frames.append((g, h, d))
    return frames


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_frames=st.integers(1, 60),
    n_gt=st.integers(1, 8),
    n_hyp=st.integers(1, 8),
    p_forbid=st.sampled_from([0.0, 0.2, 0.5, 0.9, 1.0]),
    p_inf=st.sampled_from([0.0, 0.1]),
)
def test_random_sequences_match_motmetrics(
    seed: int, n_frames: int, n_gt: int, n_hyp: int, p_forbid: float, p_inf: float
) -> None:
    assert_matches_reference(random_frames(seed, n_frames, n_gt, n_hyp, p_forbid, p_inf))


NAN = np.nan


def test_identity_switch() -> None:
    frames = [
        (np.array([1, 2]), np.array([10, 20]), np.array([[0.1, NAN], [NAN, 0.2]])),
        (np.array([1, 2]), np.array([10, 20]), np.array([[NAN, 0.3], [0.4, NAN]])),
    ]
    r = assert_matches_reference(frames)
    assert (r.num_matches, r.num_switches, r.num_misses, r.num_false_positives) == (2, 2, 0, 0)
    assert r.mota == pytest.approx(0.5)
    assert r.motp == pytest.approx(0.25)


def test_previous_match_is_kept_over_a_cheaper_one() -> None:
    frames = [
        (np.array([1]), np.array([10, 20]), np.array([[0.1, 0.9]])),
        (np.array([1]), np.array([10, 20]), np.array([[0.9, 0.1]])),
    ]
    r = assert_matches_reference(frames)
    assert (r.num_matches, r.num_switches, r.num_false_positives) == (2, 0, 2)


def test_fragmentation() -> None:
    one = (np.array([5]), np.array([7]))
    frames = [
        (*one, np.array([[0.1]])),
        (*one, np.array([[NAN]])),
        (*one, np.array([[NAN]])),
        (*one, np.array([[0.3]])),
        (np.array([5]), np.array([], dtype=np.int64), np.empty((1, 0))),
        (*one, np.array([[0.2]])),
        (*one, np.array([[NAN]])),
    ]
    r = assert_matches_reference(frames)
    assert (r.num_fragmentations, r.num_misses, r.num_matches) == (2, 4, 3)


def test_all_forbidden() -> None:
    frames = [(np.array([1, 2]), np.array([3, 4, 5]), np.full((2, 3), NAN)) for _ in range(4)]
    r = assert_matches_reference(frames)
    assert (r.num_misses, r.num_false_positives, r.idtp) == (8, 12, 0)
    assert r.mota == pytest.approx(1 - 20 / 8)
    assert math.isnan(r.motp)


def test_frames_without_gt_or_predictions() -> None:
    frames = [
        (np.array([], dtype=np.int64), np.array([4, 5]), np.empty((0, 2))),
        (np.array([1]), np.array([], dtype=np.int64), []),
        ([], [], []),
        (np.array([1]), np.array([4]), np.array([[0.5]])),
    ]
    r = assert_matches_reference(frames)
    assert r.num_frames == 4


def test_no_ground_truth_at_all() -> None:
    frames: list[Frame] = [([], np.array([4, 5]), np.empty((0, 2))), ([], [], [])]
    r = assert_matches_reference(frames)
    assert math.isnan(r.mota) and math.isnan(r.idr)
    assert r.to_dict()["mota"] is None


def test_empty_sequence() -> None:
    r = mot([])
    assert r.num_frames == 0 and r.num_objects == 0
    assert all(math.isnan(getattr(r, name)) for name in RATIOS)


def test_any_int_dtype_and_large_ids() -> None:
    frames = [
        (np.array([2**40, -(2**40)], dtype=np.int64), np.array([3], dtype=np.uint8), np.array([[0.5], [0.2]])),
        (np.array([-(2**40)], dtype=np.int64), np.array([9], dtype=np.int16), np.array([[0.1]])),
    ]
    r = mot(frames)
    assert (r.num_matches, r.num_switches, r.num_misses) == (1, 1, 1)


def test_generator_input() -> None:
    frames = random_frames(3, 20, 5, 5, 0.3, 0.0)
    assert mot(iter(frames)) == mot(frames)


@pytest.mark.parametrize(
    ("frames", "error", "message"),
    [
        ([([1], [2], np.zeros((2, 1)))], ShapeError, r"frames\[0\]\.distances: expected shape \(1, 1\)"),
        ([([1], [2], [[0.1]]), ([1], [2, 3], [[0.1]])], ShapeError, r"frames\[1\]\.distances"),
        ([([[1]], [2], [[0.1]])], ShapeError, r"frames\[0\]\.gt_ids"),
        ([([1.5], [2], [[0.1]])], DTypeError, r"frames\[0\]\.gt_ids: expected an integer array"),
        ([([1], ["a"], [[0.1]])], DTypeError, r"frames\[0\]\.pred_ids"),
        ([([1], [2], [["x"]])], DTypeError, r"frames\[0\]\.distances"),
        ([([1], [2], [[0.1]]), ([1, 1], [2], [[0.1], [0.2]])], ArgumentError, r"frame 1: id 1 appears more than once"),
        ([([1], [2, 2], [[0.1, 0.2]])], ArgumentError, r"pred_ids.*frame 0"),
        ([([1], [2])], ArgumentError, r"frames\[0\]: expected a \(gt_ids, pred_ids, distances\) triple"),
        ([([1], np.array([2**63], dtype=np.uint64), [[0.1]])], ArgumentError, r"frames\[0\]\.pred_ids: ids must fit"),
    ],
)
def test_bad_input(frames: list[Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        mot(frames)
