"""csipose.track: scripted scenes whose ids can be read off on paper, a property test, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from csipose.errors import ArgumentError, DTypeError, NonFiniteError, ShapeError
from csipose.matching import joint_distance_cost_matrix
from csipose.track import Tracker, evaluate_tracking, mot_frames, pose_distances, track, track_slots

# One body (17 joints, metres, pelvis at the origin) that every test person wears: the
# mean-joint distance between two translated copies is the length of the translation.
BODY = np.random.default_rng(7).normal(scale=0.3, size=(17, 3))
BODY -= BODY[0]


def people(*positions: tuple[float, ...]) -> np.ndarray:
    """float64[M, 17, 3]: one body per position ``(x, y)`` or ``(x, y, z)``."""
    out = np.empty((len(positions), 17, 3))
    for m, pos in enumerate(positions):
        out[m] = BODY + np.resize(np.asarray(pos, dtype=float), 3) * (np.arange(3) < len(pos))
    return out


NOBODY = np.empty((0, 17, 3))


def ids_of(frames: list[np.ndarray]) -> list[list[int]]:
    return [f.tolist() for f in frames]


# --- birth ---------------------------------------------------------------------------------


@pytest.mark.parametrize("birth", [1, 2, 3, 5])
def test_a_track_is_confirmed_in_its_birth_th_frame(birth: int) -> None:
    frames = [people((0.05 * t, 0.0)) for t in range(7)]
    assert ids_of(track(frames, birth=birth)) == [[-1]] * (birth - 1) + [[0]] * (8 - birth)


def test_a_spurious_single_frame_detection_never_gets_an_id() -> None:
    frames = [people((0.0, 0.0)) for _ in range(6)]
    frames[3] = people((0.0, 0.0), (3.0, 3.0))
    out = track(frames, birth=2)
    assert ids_of(out) == [[-1], [0], [0], [0, -1], [0], [0]]


def test_a_tentative_track_that_misses_one_frame_dies() -> None:
    far = (3.0, 0.0)
    frames = [people(far), NOBODY, people(far), people(far), people(far)]
    assert ids_of(track(frames, birth=3)) == [[-1], [], [-1], [-1], [0]]


def test_ids_are_consecutive_in_order_of_confirmation() -> None:
    # B is seen first but A is confirmed first (B's first tentative track dies).
    a, b = (0.0, 0.0), (3.0, 0.0)
    frames = [people(b), people(a), people(a, b), people(a, b), people(a, b)]
    assert ids_of(track(frames, birth=2)) == [[-1], [-1], [0, -1], [0, 1], [0, 1]]


# --- death ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("absent", "returned_ids"),
    [
        (1, [[0], [0]]),
        (3, [[0], [0]]),  # death - 1 frames away: the track is still alive
        (4, [[-1], [1]]),  # unmatched in `death` consecutive frames: the track ended
        (9, [[-1], [1]]),
    ],
)
def test_a_person_who_returns_keeps_the_id_only_within_death_frames(
    absent: int, returned_ids: list[list[int]]
) -> None:
    here = (0.5, 1.0)
    frames = [people(here)] * 3 + [NOBODY] * absent + [people(here)] * 2
    out = ids_of(track(frames, birth=2, death=4))
    assert out[:3] == [[-1], [0], [0]]
    assert out[3:-2] == [[]] * absent
    assert out[-2:] == returned_ids


def test_an_id_is_never_reused() -> None:
    here = (0.0, 0.0)
    scene = ([people(here)] * 3 + [NOBODY] * 2) * 3
    out = [i for frame in track(scene, birth=1, death=2) for i in frame.tolist()]
    assert out == [0, 0, 0, 1, 1, 1, 2, 2, 2]


# --- gate and assignment -------------------------------------------------------------------


def crossing(step: float, lateral: float, frames: int = 11) -> list[np.ndarray]:
    """A walks +x, B walks -x, ``lateral`` apart in y; they draw level at frame 5. Rows are
    listed in alternating order so that ids cannot follow row order."""
    out = []
    for t in range(frames):
        a = (-5 * step + step * t, lateral / 2, 0.0)
        b = (5 * step - step * t, -lateral / 2, 0.0)
        out.append(people(a, b) if t % 2 else people(b, a))
    return out


@pytest.mark.parametrize("distance", ["mean_joint", "root"])
@pytest.mark.parametrize(
    "gate",
    [
        0.25,  # only the right continuation is within the gate (wrong pairs are >= 0.36 apart)
        2.0,  # both continuations allowed: the least total distance picks the right one
    ],
)
def test_two_people_walking_past_each_other_keep_their_ids(gate: float, distance: str) -> None:
    frames = crossing(step=0.2, lateral=0.3)
    out = track(frames, gate=gate, birth=2, death=3, distance=distance)
    a_ids = [ids[1 - t % 2] for t, ids in enumerate(out)]
    b_ids = [ids[t % 2] for t, ids in enumerate(out)]
    assert a_ids[1:] == [a_ids[1]] * 10
    assert b_ids[1:] == [b_ids[1]] * 10
    assert {a_ids[1], b_ids[1]} == {0, 1}
    assert a_ids[0] == b_ids[0] == -1


def test_the_gate_forbids_a_jump() -> None:
    frames = [people((0.0, 0.0))] * 3 + [people((1.0, 0.0))] * 2
    assert ids_of(track(frames, gate=0.5, birth=2)) == [[-1], [0], [0], [-1], [1]]
    assert ids_of(track(frames, gate=1.5, birth=2)) == [[-1], [0], [0], [0], [0]]


def test_the_gate_is_inclusive() -> None:
    exact = np.zeros((1, 17, 3))
    frames = [exact, exact, exact + [0.5, 0.0, 0.0]]
    assert ids_of(track(frames, gate=0.5)) == [[-1], [0], [0]]
    assert ids_of(track(frames, gate=0.4999)) == [[-1], [0], [-1]]


def test_root_distance_ignores_the_limbs() -> None:
    waving = people((0.0, 0.0))
    waving[0, 1:] += 2.0  # every joint but the pelvis moves 2 m
    frames = [people((0.0, 0.0)), people((0.0, 0.0)), waving]
    assert ids_of(track(frames, gate=0.5, distance="root")) == [[-1], [0], [0]]
    assert ids_of(track(frames, gate=0.5, distance="mean_joint")) == [[-1], [0], [-1]]


def test_a_confirmed_track_that_misses_keeps_its_last_pose() -> None:
    frames = [people((0.0, 0.0)), people((0.3, 0.0)), NOBODY, people((0.6, 0.0))]
    assert ids_of(track(frames, gate=0.4))[-1] == [0]
    assert ids_of(track(frames, gate=0.2))[-1] == [-1]


# --- empty frames, presence, reset ---------------------------------------------------------


def test_empty_frames() -> None:
    frames = [NOBODY, people((0.0, 0.0)), people((0.0, 0.0)), NOBODY, people((0.0, 0.0)), NOBODY]
    out = track(frames, birth=2, death=5)
    assert ids_of(out) == [[], [-1], [0], [], [0], []]
    assert all(ids.dtype == np.int64 for ids in out)
    only_empty = track([NOBODY] * 3)
    assert [ids.shape for ids in only_empty] == [(0,)] * 3
    assert all(ids.dtype == np.int64 for ids in only_empty)
    assert track([]) == []


def test_detections_below_min_presence_are_ignored() -> None:
    frames = [people((0.0, 0.0), (3.0, 0.0))] * 3
    presence = [np.array([0.9, 0.2])] * 3
    assert ids_of(track(frames, presence, birth=1)) == [[0, -1]] * 3
    assert ids_of(track(frames, presence, birth=1, min_presence=0.1)) == [[0, 1]] * 3


def test_a_detection_without_a_finite_joint_is_ignored() -> None:
    blank = people((0.0, 0.0))
    blank[:] = np.nan
    frames = [people((0.0, 0.0)), np.concatenate([people((0.0, 0.0)), blank])]
    assert ids_of(track(frames, birth=1)) == [[0], [0, -1]]


def test_reset_starts_ids_from_zero() -> None:
    tracker = Tracker(birth=1)
    assert tracker.update(people((0.0, 0.0), (3.0, 0.0))).tolist() == [0, 1]
    assert tracker.num_ids == 2
    tracker.reset()
    assert tracker.num_ids == 0
    assert tracker.update(people((9.0, 0.0))).tolist() == [0]


def test_two_identical_detections_get_two_ids() -> None:
    # A tie: either pairing of the two rows with the two tracks is optimal; each person still
    # keeps one id per track and the two ids differ.
    frames = [people((0.0, 0.0), (0.0, 0.0))] * 3
    out = track(frames, birth=1)
    assert all(sorted(ids.tolist()) == [0, 1] for ids in out)


# --- property ------------------------------------------------------------------------------


@st.composite
def separated_walks(draw: st.DrawFn) -> tuple[list[np.ndarray], list[np.ndarray], float, int, int]:
    """People on a grid spacing 4 * gate apart, each confined to a box of half-width
    gate / 2 around its start and stepping less than gate / 2 per frame, in shuffled rows."""
    gate = draw(st.floats(0.1, 1.0))
    n_people = draw(st.integers(1, 5))
    n_frames = draw(st.integers(1, 12))
    birth = draw(st.integers(1, 4))
    death = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    start = np.stack([np.array([m % 3, m // 3, 0.0]) * 4 * gate for m in range(n_people)])
    pos = start.copy()
    frames, order = [], []
    for _ in range(n_frames):
        step = rng.normal(size=(n_people, 3))
        length = rng.uniform(0, 0.49, size=(n_people, 1)) * gate
        step *= length / np.linalg.norm(step, axis=1, keepdims=True)
        # Clipping to a box holding the current position never lengthens a step.
        pos = np.clip(pos + step, start - gate / 2, start + gate / 2)
        perm = rng.permutation(n_people)
        frames.append(people(*pos[perm]))
        order.append(perm)
    return frames, order, gate, birth, death


@given(separated_walks())
def test_well_separated_slow_people_keep_one_id_each(
    walk: tuple[list[np.ndarray], list[np.ndarray], float, int, int],
) -> None:
    frames, order, gate, birth, death = walk
    out = track(frames, gate=gate, birth=birth, death=death)
    n_people = len(order[0])
    by_person = np.empty((len(frames), n_people), dtype=np.int64)
    for t, (ids, perm) in enumerate(zip(out, order)):
        by_person[t, perm] = ids
    assert (by_person[: birth - 1] == -1).all()
    confirmed = by_person[birth - 1 :]
    if len(confirmed):
        assert (confirmed == confirmed[0]).all()  # never a switch
        assert sorted(confirmed[0].tolist()) == list(range(n_people))  # one id each, all distinct


# --- pose_distances ------------------------------------------------------------------------


def test_mean_joint_distance_equals_the_core_cost_matrix() -> None:
    rng = np.random.default_rng(3)
    pred, ref = rng.normal(size=(4, 17, 3)), rng.normal(size=(5, 17, 3))
    pred[0, 2] = np.nan
    ref[1, 4, 0] = np.inf
    ref[2] = np.nan
    expected = joint_distance_cost_matrix(pred, ref, visible=np.isfinite(ref).all(axis=2))
    np.testing.assert_allclose(pose_distances(pred, ref), expected, rtol=1e-12)


def test_root_distance_on_paper() -> None:
    a, b = people((0.0, 0.0)), people((3.0, 4.0), (0.0, 0.0, 1.0))
    np.testing.assert_allclose(pose_distances(a, b, distance="root"), [[5.0, 1.0]])
    # coco17 has no pelvis: its root is the hip midpoint (joints 11 and 12).
    c = people((0.0, 0.0))
    c[0, 11] += [1.0, 0.0, 0.0]
    d = pose_distances(c, people((0.0, 0.0)), distance="root", skeleton="coco17")
    np.testing.assert_allclose(d, [[0.5]])


# --- mot_frames ----------------------------------------------------------------------------


def test_mot_frames_shapes_and_nan_beyond_the_threshold() -> None:
    gt_ids = [np.array([10, 20]), np.array([], dtype=np.int64), np.array([10])]
    gt_kp = [people((0.0, 0.0), (1.0, 0.0)), NOBODY, people((0.0, 0.0))]
    pred_ids = [np.array([0, -1, 1]), np.array([0, 1]), np.array([], dtype=np.int64)]
    pred_kp = [people((0.1, 0.0), (5.0, 0.0), (1.6, 0.0)), people((0.0, 0.0), (1.0, 0.0)), NOBODY]
    out = mot_frames(gt_ids, gt_kp, pred_ids, pred_kp, threshold=0.5)
    assert [tuple(d.shape) for _, _, d in out] == [(2, 2), (0, 2), (1, 0)]
    (g0, p0, d0), (g1, p1, _), (g2, p2, _) = out
    assert g0.tolist() == [10, 20] and p0.tolist() == [0, 1]  # the -1 detection is not reported
    assert g1.tolist() == [] and p1.tolist() == [0, 1] and g2.tolist() == [10] and p2.tolist() == []
    assert all(g.dtype == p.dtype == np.int64 for g, p, _ in out)
    np.testing.assert_allclose(d0, [[0.1, np.nan], [np.nan, np.nan]])
    wider = mot_frames(gt_ids, gt_kp, pred_ids, pred_kp, threshold=0.7)[0][2]
    np.testing.assert_allclose(wider, [[0.1, np.nan], [np.nan, 0.6]])
    widest = mot_frames(gt_ids, gt_kp, pred_ids, pred_kp, threshold=2.0)[0][2]
    np.testing.assert_allclose(widest, [[0.1, 1.6], [0.9, 0.6]])


def test_mot_frames_threshold_is_inclusive() -> None:
    exact = np.zeros((1, 17, 3))
    d = mot_frames([[0]], [exact], [[0]], [exact + [0.5, 0.0, 0.0]], threshold=0.5)[0][2]
    np.testing.assert_array_equal(d, [[0.5]])


def test_mot_frames_of_tracked_predictions() -> None:
    frames = crossing(step=0.2, lateral=0.3)
    pred_ids = track(frames, gate=0.25)
    gt_ids = [np.array([7, 8]) if t % 2 else np.array([8, 7]) for t in range(len(frames))]
    out = mot_frames(gt_ids, frames, pred_ids, frames, threshold=0.01)
    assert len(out) == len(frames)
    assert out[0][2].shape == (2, 0)  # nothing confirmed yet
    for t, (gid, pid, d) in enumerate(out[1:], start=1):
        pairs = {(int(gid[i]), int(pid[j])) for i, j in zip(*np.nonzero(np.isfinite(d)))}
        assert len(pairs) == 2 and pairs == {(7, pred_ids[1][0]), (8, pred_ids[1][1])}, t


def test_mot_frames_errors_name_the_argument() -> None:
    kp, ids = [people((0.0, 0.0))], [np.array([0])]
    with pytest.raises(ShapeError, match="pred_keypoints"):
        mot_frames(ids, kp, ids, kp + kp)
    with pytest.raises(ShapeError, match=r"gt_ids\[0\]"):
        mot_frames([np.array([0, 1])], kp, ids, kp)
    with pytest.raises(DTypeError, match=r"pred_ids\[0\]"):
        mot_frames(ids, kp, [np.array([0.5])], kp)
    with pytest.raises(ArgumentError, match=r"gt_ids\[0\]"):
        mot_frames([np.array([3, 3])], [people((0.0, 0.0), (1.0, 0.0))], ids, kp)
    with pytest.raises(ArgumentError, match="threshold"):
        mot_frames(ids, kp, ids, kp, threshold=-1.0)
    with pytest.raises(ShapeError, match=r"pred_keypoints\[0\]"):
        mot_frames(ids, kp, ids, [np.zeros((1, 16, 3))])


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "arg"),
    [
        ({"gate": -0.1}, "gate"),
        ({"gate": float("nan")}, "gate"),
        ({"gate": float("inf")}, "gate"),
        ({"gate": "wide"}, "gate"),
        ({"birth": 0}, "birth"),
        ({"birth": 1.5}, "birth"),
        ({"birth": True}, "birth"),
        ({"death": 0}, "death"),
        ({"distance": "pelvis"}, "distance"),
        ({"min_presence": float("nan")}, "min_presence"),
        ({"skeleton": "smpl24"}, "skeleton"),
    ],
)
def test_bad_settings_name_the_argument(settings: dict[str, object], arg: str) -> None:
    with pytest.raises(ArgumentError, match=arg):
        Tracker(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "keypoints",
    [np.zeros((17, 3)), np.zeros((1, 17, 4)), np.zeros((1, 0, 3)), np.zeros((2, 1, 17, 3))],
)
def test_bad_keypoint_shapes_name_the_argument(keypoints: np.ndarray) -> None:
    with pytest.raises(ShapeError, match="keypoints"):
        Tracker().update(keypoints)


def test_update_errors_name_the_argument() -> None:
    tracker = Tracker()
    tracker.update(people((0.0, 0.0)))
    with pytest.raises(ShapeError, match="keypoints.*like earlier frames"):
        tracker.update(np.zeros((1, 15, 3)))
    with pytest.raises(ShapeError, match="presence"):
        tracker.update(people((0.0, 0.0)), presence=np.ones(2))
    with pytest.raises(NonFiniteError, match="presence"):
        tracker.update(people((0.0, 0.0)), presence=np.array([np.nan]))
    with pytest.raises(DTypeError, match="keypoints"):
        tracker.update(np.array([[["a"] * 3] * 17]))
    with pytest.raises(ShapeError, match="keypoints"):
        Tracker(distance="root", skeleton="coco17").update(np.zeros((1, 5, 3)))
    fresh = Tracker(birth=1)
    with pytest.raises(ShapeError, match="presence"):
        fresh.update(np.zeros((1, 15, 3)), presence=np.ones(3))
    assert fresh.update(people((0.0, 0.0))).tolist() == [0]  # a refused frame changes nothing
    with pytest.raises(ShapeError, match=r"frames\[1\]"):
        track([people((0.0, 0.0)), np.zeros((1, 17))])
    with pytest.raises(ShapeError, match="presence"):
        track([people((0.0, 0.0))], presence=[])


# --- a person-slot model's sequences -----------------------------------------------------------


def swapping_slots(frames: int = 10, swap: int = 5) -> np.ndarray:
    """float64[frames, 2, 17, 3]: two people 2 m apart standing still, whom the two slots
    hold in one order until frame ``swap`` and in the other after it."""
    slots = np.stack([people((0.0, 0.0), (2.0, 0.0))] * frames)
    slots[swap:] = slots[swap:, ::-1]
    return slots


def test_track_slots_follows_people_whatever_slot_holds_them() -> None:
    ids = track_slots(swapping_slots(), np.ones((10, 2)), np.zeros(10, dtype=np.int64))
    assert ids.dtype == np.int64 and ids.shape == (10, 2)
    assert ids[0].tolist() == [-1, -1]  # tentative in their first frame (birth 2)
    assert (ids[1:5] == [0, 1]).all() and (ids[5:] == [1, 0]).all()


def test_track_slots_sequences_apart_and_in_frame_order() -> None:
    slots = np.concatenate([swapping_slots(), swapping_slots()])  # two sequences of 10 frames
    presence = np.ones((20, 2))
    presence[12, 1] = 0.2  # below min_presence: no detection
    sequence = np.repeat([7, 3], 10)  # keys in any order: sequence 3 is tracked first
    frame = np.tile(np.arange(10), 2)
    ids = track_slots(slots, presence, sequence, frame)
    # sequence 3 (rows 10-19) from id 0; its track 1 lives through the miss in row 12
    assert ids[10:].tolist() == [[-1, -1], [0, 1], [0, -1], [0, 1], [0, 1]] + [[1, 0]] * 5
    assert ids[:10].tolist() == [[-1, -1]] + [[2, 3]] * 4 + [[3, 2]] * 5  # sequence 7's ids follow sequence 3's
    shuffled = np.random.default_rng(0).permutation(20)
    again = track_slots(slots[shuffled], presence[shuffled], sequence[shuffled], frame[shuffled])
    assert (again == ids[shuffled]).all()  # rows in any order: each sequence is tracked by its frame numbers


def test_evaluate_tracking_against_the_slot_order() -> None:
    """Slots that swap their people halfway: two switches if slot order were identity, none for
    the tracker, which misses both people in its first frame (birth 2) instead."""
    slots = swapping_slots()
    truth = np.stack([people((0.0, 0.0), (2.0, 0.0))] * 10)
    found = evaluate_tracking(slots, np.ones((10, 2)), truth, np.ones((10, 2), bool), np.tile([4, 9], (10, 1)),
                              np.zeros(10, dtype=np.int64))
    tracker, order = found["tracker"], found["slot_order"]
    assert tracker.num_objects == order.num_objects == 20
    assert (tracker.num_switches, tracker.num_misses, tracker.num_false_positives) == (0, 2, 0)
    assert (order.num_switches, order.num_misses, order.num_false_positives) == (2, 0, 0)
    assert tracker.mota == pytest.approx(0.9) and order.mota == pytest.approx(0.9)
    assert tracker.idf1 == pytest.approx(2 * 18 / (20 + 18)) and order.idf1 == pytest.approx(0.5)
    given = track_slots(slots, np.ones((10, 2)), np.zeros(10, dtype=np.int64))
    again = evaluate_tracking(slots, np.ones((10, 2)), truth, np.ones((10, 2), bool), np.tile([4, 9], (10, 1)),
                              np.zeros(10, dtype=np.int64), tracked=given)  # ids tracked before, taken as they are
    assert again["tracker"] == tracker
    swapped = evaluate_tracking(slots, np.ones((10, 2)), truth, np.ones((10, 2), bool), np.tile([4, 9], (10, 1)),
                                np.zeros(10, dtype=np.int64), tracked=np.tile([0, 1], (10, 1)))
    assert swapped["tracker"] == order  # the slot order given as track ids scores as the slot order


def test_evaluate_tracking_errors_name_the_argument() -> None:
    slots, one = swapping_slots(), np.ones((10, 2))
    zeros = np.zeros(10, dtype=np.int64)
    with pytest.raises(ShapeError, match=r"presence: expected shape \(10, 2\)"):
        track_slots(slots, np.ones(10), zeros)
    with pytest.raises(ShapeError, match=r"sequence: expected int\[10\]"):
        track_slots(slots, one, np.zeros(10))
    with pytest.raises(ShapeError, match=r"frame: expected int\[10\]"):
        track_slots(slots, one, zeros, np.arange(9))
    with pytest.raises(ShapeError, match=r"persons: expected \[N, S, J, D\]"):
        track_slots(slots[0], one, zeros)
    with pytest.raises(NonFiniteError, match=r"presence: expected finite scores, got nan at frame 3, slot 1"):
        track_slots(slots, np.where(np.arange(20).reshape(10, 2) == 7, np.nan, one), zeros)
    with pytest.raises(ShapeError, match=r"gt, gt_mask, gt_ids: expected \[N = 10, M, J, D\]"):
        evaluate_tracking(slots, one, slots, np.ones((10, 3), bool), np.ones((10, 2), np.int64), zeros)
    with pytest.raises(ShapeError, match=r"tracked: expected int\[10, 2\]"):
        evaluate_tracking(slots, one, slots, np.ones((10, 2), bool), np.ones((10, 2), np.int64), zeros,
                          tracked=np.zeros((10, 3), np.int64))


def test_backfill_labels_a_confirmed_track_s_first_frames() -> None:
    """Offline, a track's tentative frames take the id it is confirmed with; a detection that
    never makes a track stays -1."""
    frames = [people((0.05 * t, 0.0)) for t in range(6)]
    frames[1] = people((0.05, 0.0), (3.0, 3.0))  # a spurious second detection in one frame
    online = track(frames, birth=3)
    offline = track(frames, birth=3, backfill=True)
    assert ids_of(online) == [[-1], [-1, -1], [0], [0], [0], [0]]
    assert ids_of(offline) == [[0], [0, -1], [0], [0], [0], [0]]
    slots = track_slots(swapping_slots(), np.ones((10, 2)), np.zeros(10, dtype=np.int64), backfill=True)
    assert slots[0].tolist() == [0, 1] and (slots[5:] == [1, 0]).all()
