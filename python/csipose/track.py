"""Linking per-frame pose predictions into identities across frames.

A pose model predicts, per frame, the people it sees: ``keypoints: float[M_t, J, D]``
(metres; ``M_t`` may be 0), optionally with a presence score each. :class:`Tracker`
gives every detection the id of the person it continues, frame after frame:

1. Distance. Each detection is compared with the last matched pose of every live
   track, by :func:`pose_distances` (``"mean_joint"``: mean Euclidean distance over
   the joints the track's pose has; ``"root"``: distance between root points).
2. Gate. A pair farther apart than ``gate`` metres is forbidden (``+inf`` in the cost
   matrix): a person cannot jump.
3. Assignment. :func:`csipose.match_persons` solves detections x live tracks
   optimally: as many pairs as the gate allows and, among those, the least total
   distance. Ties (several assignments with that same count and total) are
   resolved by the solver: deterministic for the same input, with no preference
   for older or confirmed tracks.
4. Birth. An unmatched detection starts a *tentative* track. A tentative track is
   *confirmed*, and gets the next id, in the ``birth``-th consecutive frame it is
   matched; a tentative track that misses one frame dies. Detections of tentative
   tracks get id ``-1``, so a spurious detection seen in fewer than ``birth``
   consecutive frames never gets an id.
5. Death. A confirmed track unmatched in ``death`` consecutive frames ends; its id
   is never used again. Until then it keeps its last pose (no motion model) and a
   detection within ``gate`` of that pose continues it.
6. Offline. A tracker that has the whole sequence (:func:`track` and :func:`track_slots`
   with ``backfill=True``) gives a confirmed track's tentative detections its id too;
   online (:meth:`Tracker.update`), a person's first ``birth - 1`` frames stay ``-1``.

Ids are consecutive ints from 0 in the order tracks are confirmed. :func:`track`
runs a tracker over a whole sequence; :func:`mot_frames` turns tracked predictions
and ground truth into the per-frame ``(gt_ids, pred_ids, distances)`` a MOT metric
(py-motmetrics' ``MOTAccumulator.update``) takes. :func:`track_slots` tracks a
person-slot model's predictions of many sequences at once, and :func:`evaluate_tracking`
scores them with :func:`csipose.metrics.mot`, beside the slots' own order taken as the
identities.

Non-finite coordinates mark a missing joint, by the rule of
:func:`csipose.matching.joint_distance_cost_matrix`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np

from csipose._arrays import as_kernel_array
from csipose._checks import positive_int
from csipose.errors import ArgumentError, DTypeError, NonFiniteError, ShapeError
from csipose.matching import match_persons
from csipose.metrics.mpjpe import root_joints
from csipose.skeletons import Skeleton, get_skeleton

__all__ = ["DISTANCES", "Tracker", "evaluate_tracking", "mot_frames", "pose_distances", "track", "track_slots"]

Distance = Literal["mean_joint", "root"]
DISTANCES: tuple[str, ...] = ("mean_joint", "root")


def _distance_name(distance: Any) -> Distance:
    if distance not in DISTANCES:
        raise ArgumentError(f"distance: expected one of {', '.join(DISTANCES)}, got {distance!r}")
    return cast(Distance, distance)


def _finite(value: Any, arg: str, *, nonnegative: bool) -> float:
    """``value`` as a finite float (``>= 0`` when ``nonnegative``); else ArgumentError naming ``arg``."""
    expected = "a finite number >= 0" if nonnegative else "a finite number"
    if isinstance(value, bool):
        raise ArgumentError(f"{arg}: expected {expected}, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ArgumentError(f"{arg}: expected {expected}, got {value!r}") from None
    if not math.isfinite(x) or (nonnegative and x < 0):
        raise ArgumentError(f"{arg}: expected {expected}, got {value!r}")
    return x


def _as_people(x: Any, arg: str, shape: tuple[int, int] | None = None) -> np.ndarray:
    """``x`` as float64[M, J, D] (``D`` = 2 or 3, ``J`` >= 1; ``(J, D)`` = ``shape`` when given)."""
    a = as_kernel_array(x, arg, real_only=True)
    if a.ndim != 3 or a.shape[2] not in (2, 3) or a.shape[1] == 0:
        raise ShapeError(
            f"{arg}: expected shape (M, J, D) with J >= 1 and D = 2 or 3, got {a.shape}"
        )
    if shape is not None and a.shape[1:] != shape:
        raise ShapeError(
            f"{arg}: expected shape (M, {shape[0]}, {shape[1]}) like earlier frames, got {a.shape}"
        )
    return a.astype(np.float64, copy=False)


def _root_points(poses: np.ndarray, root: tuple[int, ...]) -> np.ndarray:
    """float64[M, D]: the mean of the root joints; non-finite where one of them is."""
    pts = poses[:, list(root)]
    ok = np.isfinite(pts).all(axis=(1, 2))
    return np.where(ok[:, None], np.where(ok[:, None, None], pts, 0.0).mean(axis=1), np.inf)


def _check_root(skeleton: Skeleton, joints: int, arg: str) -> tuple[int, ...]:
    root = root_joints(skeleton)
    if max(root) >= joints:
        raise ShapeError(
            f"{arg}: distance 'root' uses joints {root} of skeleton {skeleton.name}, "
            f"but the poses have {joints} joints"
        )
    return root


def pose_distances(
    pred: Any,
    ref: Any,
    *,
    distance: Distance = "mean_joint",
    skeleton: str | Skeleton = "h36m17",
) -> np.ndarray:
    """Distance of every (prediction, reference) pair of poses.

    Args:
        pred: float[P, J, D] poses (D = 2 or 3, any unit).
        ref: float[R, J, D] reference poses (ground truth, or a track's last pose).
        distance: ``"mean_joint"``: mean Euclidean distance over the joints ``ref``
            has (finite coordinates); equal to
            :func:`csipose.matching.joint_distance_cost_matrix` with ``visible`` =
            the finite joints of ``ref``. ``"root"``: Euclidean distance between root
            points, the mean of the skeleton's root joints
            (:func:`csipose.metrics.root_joints`: the pelvis of ``h36m17``, the hip
            midpoint of ``coco17``).
        skeleton: the layout that defines the root joints; used by ``"root"`` only.

    Returns:
        float64[P, R] in the input's unit. ``+inf`` for a reference without a finite
        joint (root), and for a prediction non-finite where the reference counts.
    """
    name = _distance_name(distance)
    p = _as_people(pred, "pred")
    r = _as_people(ref, "ref", p.shape[1:])
    if name == "root":
        root = _check_root(get_skeleton(skeleton), p.shape[1], "pred")
        a, b = _root_points(p, root), _root_points(r, root)
        a_ok, b_ok = np.isfinite(a).all(axis=1), np.isfinite(b).all(axis=1)
        diff = np.where(a_ok[:, None], a, 0.0)[:, None] - np.where(b_ok[:, None], b, 0.0)[None]
        return np.where(a_ok[:, None] & b_ok[None], np.linalg.norm(diff, axis=-1), np.inf)
    counted = np.isfinite(r).all(axis=2)  # [R, J]
    pred_ok = np.isfinite(p).all(axis=2)  # [P, J]
    # Zero the non-finite coordinates first: inf - inf would warn; such pairs end as +inf below.
    diff = np.where(pred_ok[..., None], p, 0.0)[:, None] - np.where(counted[..., None], r, 0.0)[None]
    per_joint = np.where(counted[None], np.linalg.norm(diff, axis=-1), 0.0)  # [P, R, J]
    n = counted.sum(axis=1)  # [R]
    failed = (counted[None] & ~pred_ok[:, None]).any(axis=2) | (n == 0)[None]
    return np.where(failed, np.inf, per_joint.sum(axis=2) / np.maximum(n, 1)[None])


@dataclass(eq=False)
class _Track:
    pose: np.ndarray  # float64[J, D]: the last matched pose
    hits: int  # consecutive matched frames while tentative
    misses: int = 0  # consecutive unmatched frames since the last match
    id: int = -1  # -1 while tentative
    tentative: list[tuple[int, int]] = field(default_factory=list)  # (frame, detection) before its id


class Tracker:
    """Links per-frame detections into identities; see the module docstring for the rules.

    Args:
        gate: metres; a detection continues a track only when its distance to the
            track's last pose is ``<= gate``. Finite, ``>= 0``.
        birth: consecutive matched frames that confirm a new track (``>= 1``; 1
            confirms at once).
        death: consecutive unmatched frames that end a confirmed track (``>= 1``).
        distance: ``"mean_joint"`` or ``"root"`` (see :func:`pose_distances`).
        skeleton: the layout whose root joints ``"root"`` uses.
        min_presence: detections whose presence score is below this are ignored
            (id ``-1``, they neither start nor continue tracks). Finite.

    Example::

        tracker = Tracker(gate=0.5, birth=2, death=5)
        for keypoints in frames:  # float[M_t, 17, 3]
            ids = tracker.update(keypoints)  # int64[M_t], -1 = not (yet) a confirmed person
    """

    def __init__(
        self,
        gate: float = 0.5,
        birth: int = 2,
        death: int = 5,
        distance: Distance = "mean_joint",
        *,
        skeleton: str | Skeleton = "h36m17",
        min_presence: float = 0.5,
    ) -> None:
        self.gate = _finite(gate, "gate", nonnegative=True)
        self.birth = positive_int(birth, "birth")
        self.death = positive_int(death, "death")
        self.distance = _distance_name(distance)
        self.skeleton = get_skeleton(skeleton)
        self.min_presence = _finite(min_presence, "min_presence", nonnegative=False)
        self._late: list[tuple[int, int, int]] | None = None
        self.reset()

    def reset(self) -> None:
        """Forgets every track and starts ids from 0 again (a new sequence)."""
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._shape: tuple[int, int] | None = None
        self._frame = 0  # frames updated since the reset
        # (frame, detection, id) of every detection a track made before it was confirmed, frame
        # counting updates from 0: what an offline pass labels afterwards (track's backfill);
        # recorded only when it is a list (an online tracker keeps nothing of the past)
        self._late = [] if self._late is not None else None

    @property
    def num_ids(self) -> int:
        """How many ids have been given so far (ids are ``0 .. num_ids - 1``)."""
        return self._next_id

    def update(self, keypoints: Any, presence: Any = None) -> np.ndarray:
        """Takes one frame's detections and returns their ids.

        Args:
            keypoints: float[M, J, D] the people detected in this frame (``M`` may be
                0); ``J`` and ``D`` stay those of the first frame.
            presence: float[M] presence score per detection, or ``None`` (all present).

        Returns:
            int64[M]: the id of each detection's confirmed track; ``-1`` for a detection
            of a tentative track, below ``min_presence``, or without a usable joint.
        """
        return self._update(keypoints, presence, "keypoints", "presence")

    def _update(self, keypoints: Any, presence: Any, kp_arg: str, presence_arg: str) -> np.ndarray:
        poses = _as_people(keypoints, kp_arg, self._shape)
        if self.distance == "root":
            _check_root(self.skeleton, poses.shape[1], kp_arg)
        det = np.flatnonzero(self._usable(poses, presence, presence_arg))
        self._shape = (poses.shape[1], poses.shape[2])
        ids = np.full(len(poses), -1, dtype=np.int64)
        cost = np.full((len(det), len(self._tracks)), np.inf)
        if cost.size:
            ref = np.stack([t.pose for t in self._tracks])
            cost = pose_distances(poses[det], ref, distance=self.distance, skeleton=self.skeleton)
            cost[cost > self.gate] = np.inf
        matching = match_persons(cost)
        matched = np.zeros(len(self._tracks), dtype=bool)
        for row, col in zip(matching.rows.tolist(), matching.cols.tolist()):
            matched[col] = True
            ids[det[row]] = self._hit(self._tracks[col], poses[det[row]], int(det[row]))
        survivors = []
        for t, hit in zip(self._tracks, matched.tolist()):
            if not hit:
                t.misses += 1
            if hit or (t.id >= 0 and t.misses < self.death):
                survivors.append(t)
        taken = set(matching.rows.tolist())
        for row in range(len(det)):
            if row not in taken:
                t = _Track(pose=poses[det[row]], hits=0)
                ids[det[row]] = self._hit(t, poses[det[row]], int(det[row]))
                survivors.append(t)
        self._tracks = survivors
        self._frame += 1
        return ids

    def _hit(self, t: _Track, pose: np.ndarray, detection: int) -> int:
        """Continues ``t`` with ``pose`` (this frame's ``detection``), confirming it in its
        ``birth``-th frame; returns its id."""
        t.pose, t.misses = pose.copy(), 0
        if t.id < 0:
            t.hits += 1
            if t.hits >= self.birth:
                t.id, self._next_id = self._next_id, self._next_id + 1
                if self._late is not None:
                    self._late += [(frame, det, t.id) for frame, det in t.tentative]
                t.tentative = []
            elif self._late is not None:
                t.tentative.append((self._frame, detection))
        return t.id

    def _usable(self, poses: np.ndarray, presence: Any, arg: str) -> np.ndarray:
        """bool[M]: detections present enough and with a joint (root) to measure from."""
        if self.distance == "root":
            usable = np.isfinite(_root_points(poses, root_joints(self.skeleton))).all(axis=1)
        else:
            usable = np.isfinite(poses).all(axis=2).any(axis=1)
        if presence is None:
            return usable
        s = as_kernel_array(presence, arg, real_only=True)
        if s.shape != (len(poses),):
            raise ShapeError(
                f"{arg}: expected shape ({len(poses)},), one score per detection, got {s.shape}"
            )
        if not np.isfinite(s).all():
            raise NonFiniteError(f"{arg}: expected finite scores, got {s[~np.isfinite(s)][0]}")
        return usable & (s >= self.min_presence)


def track(
    frames: Iterable[Any],
    presence: Iterable[Any] | None = None,
    *,
    backfill: bool = False,
    **settings: Any,
) -> list[np.ndarray]:
    """Tracks a whole sequence with a fresh :class:`Tracker`.

    Args:
        frames: per frame, float[M_t, J, D] detections (``M_t`` may be 0).
        presence: per frame, float[M_t] presence scores, or ``None``.
        backfill: offline: the detections a track made before it was confirmed (its first
            ``birth - 1`` frames) take its id too, which an online tracker cannot know yet.
        **settings: :class:`Tracker` arguments (``gate``, ``birth``, ``death``, ...).

    Returns:
        per frame, int64[M_t] ids (``-1``: not a confirmed person; see :meth:`Tracker.update`).
    """
    tracker = Tracker(**settings)
    if backfill:
        tracker._late = []
    frames = list(frames)
    scores = [None] * len(frames) if presence is None else list(presence)
    if len(scores) != len(frames):
        raise ShapeError(f"presence: expected {len(frames)} frames (as in frames), got {len(scores)}")
    ids = [
        tracker._update(kp, s, f"frames[{k}]", f"presence[{k}]")
        for k, (kp, s) in enumerate(zip(frames, scores))
    ]
    for frame, detection, found in tracker._late or ():
        ids[frame][detection] = found
    return ids


def _as_ids(x: Any, arg: str, n: int) -> np.ndarray:
    a = np.asarray(x)
    if a.size == 0:
        a = a.astype(np.int64)
    if a.dtype.kind not in "iu":
        raise DTypeError(f"{arg}: expected integer ids, got dtype {a.dtype}")
    if a.shape != (n,):
        raise ShapeError(f"{arg}: expected shape ({n},), one id per person, got {a.shape}")
    return a.astype(np.int64)


def mot_frames(
    gt_ids: Sequence[Any],
    gt_keypoints: Sequence[Any],
    pred_ids: Sequence[Any],
    pred_keypoints: Sequence[Any],
    *,
    threshold: float = 0.5,
    distance: Distance = "mean_joint",
    skeleton: str | Skeleton = "h36m17",
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per-frame inputs of a MOT metric from tracked predictions and ground truth.

    Args:
        gt_ids: per frame, int[G_t] ground-truth person ids (unique within a frame).
        gt_keypoints: per frame, float[G_t, J, D] ground-truth poses.
        pred_ids: per frame, int[P_t] tracker ids; negative ids (``-1``: not a confirmed
            person) are left out, as a tracker does not report them.
        pred_keypoints: per frame, float[P_t, J, D] predicted poses.
        threshold: distances above it (in the keypoints' unit) cannot pair. Finite, ``>= 0``.
        distance: ``"mean_joint"`` or ``"root"``, by :func:`pose_distances` with the
            ground truth as reference.
        skeleton: the layout whose root joints ``"root"`` uses.

    Returns:
        per frame, ``(gt_ids int64[G_t], pred_ids int64[P'_t], distances float64[G_t, P'_t])``
        with ``P'_t`` the reported predictions; ``distances`` is NaN where a pair cannot
        match (above ``threshold``, or not measurable), py-motmetrics' convention for
        ``MOTAccumulator.update(gt_ids, pred_ids, distances)``.
    """
    limit = _finite(threshold, "threshold", nonnegative=True)
    name = _distance_name(distance)
    n = len(gt_ids)
    others = {"gt_keypoints": gt_keypoints, "pred_ids": pred_ids, "pred_keypoints": pred_keypoints}
    for arg, seq in others.items():
        if len(seq) != n:
            raise ShapeError(f"{arg}: expected {n} frames (as in gt_ids), got {len(seq)}")
    out = []
    for k in range(n):
        g = _as_people(gt_keypoints[k], f"gt_keypoints[{k}]")
        p = _as_people(pred_keypoints[k], f"pred_keypoints[{k}]", g.shape[1:])
        gid = _as_ids(gt_ids[k], f"gt_ids[{k}]", len(g))
        pid = _as_ids(pred_ids[k], f"pred_ids[{k}]", len(p))
        for arg, ids in ((f"gt_ids[{k}]", gid), (f"pred_ids[{k}]", pid[pid >= 0])):
            if len(np.unique(ids)) != len(ids):
                raise ArgumentError(f"{arg}: ids must be unique within a frame, got {ids.tolist()}")
        reported = pid >= 0
        d = pose_distances(p[reported], g, distance=name, skeleton=skeleton).T
        out.append((gid, pid[reported], np.where(d <= limit, d, np.nan)))
    return out


def _slot_arrays(persons: Any, presence: Any, sequence: Any, frame: Any) -> tuple[np.ndarray, ...]:
    """Checked ``(persons float64[N, S, J, D], presence float64[N, S], sequence int64[N], order int64[N])``;
    ``order``: the rows sequence by sequence (ascending keys), each in frame order."""
    p = np.asarray(persons, dtype=np.float64)
    if p.ndim != 4:
        raise ShapeError(f"persons: expected [N, S, J, D] (frames, slots, joints, dims), got shape {p.shape}")
    s = np.asarray(presence, dtype=np.float64)
    if s.shape != p.shape[:2]:
        raise ShapeError(f"presence: expected shape {p.shape[:2]} (frames, slots, as persons), got {s.shape}")
    if not np.isfinite(s).all():
        row, slot = np.argwhere(~np.isfinite(s))[0]
        raise NonFiniteError(f"presence: expected finite scores, got {s[row, slot]} at frame {row}, slot {slot}")
    keys = np.asarray(sequence)
    frames = np.arange(len(p)) if frame is None else np.asarray(frame)
    for arg, a in (("sequence", keys), ("frame", frames)):
        if a.dtype.kind not in "iu" or a.shape != (len(p),):
            raise ShapeError(f"{arg}: expected int[{len(p)}], one per frame of persons, got {a.dtype}{list(a.shape)}")
    order = np.lexsort((frames, keys))  # by sequence, then by frame
    return p, s, keys.astype(np.int64), order


def track_slots(persons: Any, presence: Any, sequence: Any, frame: Any = None, *, backfill: bool = False,
                **settings: Any) -> np.ndarray:
    """Tracks a person-slot model's predictions of many frames, each sequence with :func:`track`.

    Args:
        persons: ``float[N, S, J, D]`` every frame's slots.
        presence: ``float[N, S]`` their presence probabilities (a slot below the tracker's
            ``min_presence`` is no detection).
        sequence: ``int[N]`` the sequence of each frame (any keys).
        frame: ``int[N]`` the frames' order within their sequence; None: the order given.
        backfill: as :func:`track` (offline: a track's first frames take its id too).
        **settings: :class:`Tracker` arguments (``gate``, ``birth``, ``death``, ...).

    Returns:
        ``int64[N, S]``: each slot's track id (``-1``: not a confirmed person, see
        :meth:`Tracker.update`); the ids of each sequence follow those of the sequence before
        it (ascending keys), so no two sequences share an id.
    """
    p, s, keys, order = _slot_arrays(persons, presence, sequence, frame)
    ids = np.full(s.shape, -1, dtype=np.int64)
    Tracker(**settings)  # the settings are checked once, before any sequence
    offset = 0
    for rows in np.split(order, np.flatnonzero(np.diff(keys[order])) + 1):  # one sequence each, in frame order
        if not len(rows):
            continue
        found = np.stack(track(p[rows], s[rows], backfill=backfill, **settings))
        ids[rows] = np.where(found >= 0, found + offset, -1)
        offset += int(found.max(initial=-1)) + 1
    return ids


def evaluate_tracking(
    persons: Any,
    presence: Any,
    gt: Any,
    gt_mask: Any,
    gt_ids: Any,
    sequence: Any,
    frame: Any = None,
    *,
    threshold: float = 0.5,
    backfill: bool = False,
    tracked: Any = None,
    **settings: Any,
) -> dict[str, Any]:
    """Tracking figures of a person-slot model's predictions of whole sequences.

    Args:
        persons, presence, sequence, frame: as :func:`track_slots`.
        gt: ``float[N, M, J, >= D]`` the true people; ``gt_mask: bool[N, M]`` the real ones;
            ``gt_ids: int[N, M]`` their identities (stable through a sequence, distinct
            between sequences).
        threshold: metres (mean joint distance, or root distance with ``distance="root"``)
            beyond which a prediction cannot be a true person (:func:`mot_frames`).
        backfill: as :func:`track` (offline: a track's first frames take its id too).
        tracked: ``int[N, S]`` the ids :func:`track_slots` already gave these frames with the
            same ``backfill`` and ``settings`` (e.g. those ``csipose predict`` writes), taken as
            they are; None: tracked here.
        **settings: :class:`Tracker` arguments.

    Returns:
        ``{"tracker": MOTResult, "slot_order": MOTResult}``: :func:`csipose.metrics.mot` of the
        ids :func:`track_slots` gives, and of the slots' own order taken as the ids (slot ``k``
        of a sequence is one identity throughout it; a slot counts where its presence reaches
        the tracker's ``min_presence``).
    """
    from csipose.metrics.mot import mot

    p, s, keys, order = _slot_arrays(persons, presence, sequence, frame)
    truth = np.asarray(gt, dtype=np.float64)
    mask = np.asarray(gt_mask, dtype=bool)
    who = np.asarray(gt_ids)
    if truth.ndim != 4 or mask.shape != truth.shape[:2] or who.shape != mask.shape or len(truth) != len(p):
        raise ShapeError(f"gt, gt_mask, gt_ids: expected [N = {len(p)}, M, J, D], [N, M] and [N, M], got "
                         f"{list(truth.shape)}, {list(mask.shape)} and {list(who.shape)}")
    if tracked is None:
        tracked = track_slots(p, s, keys, frame, backfill=backfill, **settings)
    else:
        tracked = np.asarray(tracked)
        if tracked.shape != s.shape:
            raise ShapeError(f"tracked: expected int[{len(s)}, {s.shape[1]}] (a track id per slot), "
                             f"got {list(tracked.shape)}")
    tracker = Tracker(**settings)  # its checked settings
    _, seq_index = np.unique(keys, return_inverse=True)
    slot = seq_index[:, None] * p.shape[1] + np.arange(p.shape[1])[None]
    by_order = np.where(s >= tracker.min_presence, slot, -1)
    rows = order.tolist()
    gt_people = [truth[r][mask[r]][..., : p.shape[-1]] for r in rows]
    gt_who = [who[r][mask[r]] for r in rows]
    found = {}
    for name, ids in (("tracker", tracked), ("slot_order", by_order)):
        frames = mot_frames(gt_who, gt_people, [ids[r] for r in rows], [p[r] for r in rows], threshold=threshold,
                            distance=cast(Distance, tracker.distance), skeleton=tracker.skeleton)
        found[name] = mot(frames)
    return found
