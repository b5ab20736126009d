"""Rooms it has not seen: the ablation table of the domain methods on leave-room-out synthetic data.

Synthetic rooms differ physically (``synthetic.room_variation``); room 4 of 4 is held out
(``synthetic.val_environments = [4]``; ``--room`` holds out another) and one subject of each training room too
(``synthetic.val_subjects``). Every row is scored twice: in-room (the held-out subjects of the
training rooms) and unseen-room (the held-out room, less the frames the largest few-shot row adapts on,
so every row is scored on the same frames). Rows:

- the training mean pose as it is (constant: the training rooms' mean shape at their mean root);
- the constant-root baseline: the same mean pose placed on each frame's *true* root (an oracle
  for where the person is; its errors are pure shape error);
- the plain model on the true root: its predictions moved onto each frame's true root (an
  oracle for where the person is; its errors are the model's shape error);
- the mean pose on the link anchor: the training poses' mean relative to their rooms' link
  anchors, placed on each frame's anchor (:mod:`csipose.domain.anchor`; what the room geometry
  alone says, without any CSI);
- the linear baseline: the plain run's ridge regression alone (the mean pose plus a ridge
  regression of the normalised window, on the anchor), as the run's own linear baseline fits it;
- the plain model (the defaults: the link anchor on, and with it test-time normalisation and
  no fixed ridge readout), each domain method alone, all of them
  together (less :data:`ABLATIONS`, which turn a default off), and the combinations of
  :data:`RECIPES`: one training run each, the config overrides of :data:`METHODS`; a row whose
  keys this csipose's config does not know is printed as not available and skipped; ``--row``
  adds rows of your own overrides, each after its own linear baseline (its ridge fitted on its own
  training split and input, which its overrides may change);
- the plain model placing the person itself in the unseen room too (:data:`OWN_FLOOR`,
  ``new_room_floor = model``; by default a model on the link anchor stands people of a room it has
  not seen on the anchor's floor position): the plain run re-predicted, since the setting changes
  nothing in the training rooms;
- the plain model with the unseen room's own batch-norm statistics (:data:`NEW_ROOM_NORM`; AdaBN,
  Li et al. 2016): its batch-norm layers' means and variances re-estimated on every frame of the
  unseen room, unlabelled (the shot pool's too), beside the per-room input statistics that
  test-time normalisation already re-estimates; its in-room figures are the model's own;
- few-shot adaptation of the plain model, of :data:`ADAPTED` and of ``--row`` rows (:mod:`csipose.domain.adapters`,
  the ``csipose adapt`` defaults) on K = 0, 10, 50, 200 frames of the unseen room; its in-room
  figures are the model's own (an adapter is applied in its own room only).

After the table, for the plain model (anchored): per camera axis, the correlation of its own root
offset from the link anchor (as it would place the person) with the true one, in-room and in the
unseen room: which part of where the person stands the CSI tells in a new room; and how near the
person must be placed for the K = 0 goal: the root error at which the training mean shape, moved
from the link anchor towards the true root, scores the unseen PCK@20 the goal asks of the plain
model; the same of the plain model's predictions, moved from their root; and what the pose is
worth on the geometry's place: the training mean pose of each frame's own action on its link
anchor (what telling the action, and nothing more of the pose, gives), in-room and unseen, and
the true pose on the anchor's floor position at its true height (what a perfect pose gives there);
and how often a ridge classifier of the plain model's pooled features, fitted on its training
frames, tells the frame's action, in-room and unseen (what of the action its features carry).

Trained models are scored from their last checkpoint (``best.pt`` is chosen on a validation
split that holds the unseen room). Columns: torso PCK@20, root error and PA-MPJPE in each
setting, and two gap ratios: the unseen room's PCK@20 gain over the mean pose divided by the
in-room gain, and the same over the mean pose on the link anchor (n/a when the in-room gain is
under 5 points: a ratio of two near-zero gains says nothing; rows trained in random rooms have
no training room among the scored ones). Goals: >= 60 % at K = 0 (printed for the default model, the plain
one, and for the best row without shots that beats the mean pose on the link anchor in-room by 5
points, whose pick among several rows of one seed flatters it),
>= 90 % at K = 50; K = 0's is printed over either baseline, K = 50's over the mean pose.

    python benches/bench_domains.py              # the table (under 20 minutes on 2 CPU cores)
    python benches/bench_domains.py --room 3     # room 3 unseen instead (rooms 1, 2 and 4 train)
    python benches/bench_domains.py --quick      # tiny: a smoke run
    python benches/bench_domains.py --seed 1 --only "half the sequences in randomised rooms"   # one row, another seed
    python benches/bench_domains.py --row "synthetic.random_rooms=200 epochs=36"   # a row of your own overrides
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

#: The domain methods, each a row of TrainingConfig overrides.
METHODS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("adversarial domain head", ("domain_adversarial=0.1",)),
    ("geometry FiLM", ("geometry_film=true",)),
    ("randomised rooms", ("synthetic.random_rooms=60",)),
    ("conjugate products", ("features=conjugate",)),
    ("static-channel rotation", ("static_rotation=1",)),
    ("no test-time normalisation", ("test_time_norm=false",)),
    ("min-max amplitude (cleaning=official)", ("cleaning=official",)),
    ("fixed ridge readout", ("readout=true",)),
    ("readout, no test-time norm (defaults before)", ("readout=true", "test_time_norm=false")),
    ("no link anchor", ("anchor=none",)),
)
#: Rows of :data:`METHODS` that undo a default (on the link anchor test-time normalisation and the
#: log amplitude are on and the readout off; without the anchor the reverse); "all methods" leaves them out.
ABLATIONS = ("no test-time normalisation", "min-max amplitude (cleaning=official)", "fixed ridge readout",
             "readout, no test-time norm (defaults before)", "no link anchor")
#: Every other training sequence in one of 60 randomised rooms, the rest in their own rooms.
HALF_RANDOM = ("synthetic.random_rooms=60", "synthetic.random_room_share=0.5")
#: Combinations measured beside each method alone and all of them together.
RECIPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("FiLM + randomised rooms", ("geometry_film=true", "synthetic.random_rooms=60")),
    ("half the sequences in randomised rooms", HALF_RANDOM),
    ("half random rooms, no test-time normalisation", (*HALF_RANDOM, "test_time_norm=false")),
)
#: Rows that also get few-shot adapter rows (beside the plain model's).
ADAPTED = ("no link anchor", "no test-time normalisation", "min-max amplitude (cleaning=official)",
           "half the sequences in randomised rooms")
#: The mean pose placed on each frame's link anchor (:mod:`csipose.domain.anchor`).
ANCHORED = "mean pose on the link anchor"
#: The plain run's ridge regression of the window alone: the run's linear baseline.
LINEAR = "linear baseline (ridge regression alone)"
#: The name of a ``--row`` run's own linear baseline: this, then the row's name.
LINEAR_OF = "linear baseline of "
#: The plain model's predictions moved onto each frame's true root: its shape alone.
ORACLE = "plain model on the true root (oracle root)"
#: The plain model placing the person itself in the unseen room too (``new_room_floor = model``):
#: its own run re-predicted, since the setting changes nothing in the training rooms.
OWN_FLOOR = "plain model, own floor position in new rooms"
#: The plain model with its batch-norm statistics re-estimated on the unseen room's unlabelled frames
#: (:func:`room_batch_norm`); in the training rooms it is the model as trained.
NEW_ROOM_NORM = "plain model, new room's batch-norm (AdaBN)"
ROOMS = ("synthetic.room_variation=true", "synthetic.environments=4", "synthetic.frames=10", "plots=false", "progress=false",
         "linear_baseline=false", "top_k=0", "patience=1000")  # fmt: skip
FULL = ("epochs=12",)
QUICK = ("epochs=2", "width=16", "synthetic.subjects=8", "synthetic.actions=[squat, wave]")
#: Subjects per room (40 or 8 subjects in 4 rooms) and which of a training room's subjects is held out.
HELD_OUT = {False: (10, 5), True: (2, 1)}
SHOTS = (10, 50, 200)
QUICK_SHOTS = (2, 5, 10)
GOALS = {0: 0.60, 50: 0.90}


@dataclasses.dataclass
class Row:
    """One line of the table: in-room and unseen-room scores (None: not applicable)."""

    name: str
    inroom: Any
    unseen: Any
    note: str = ""


def held_out(room: int, quick: bool) -> tuple[str, str]:
    """The settings that hold ``room`` out whole and one subject of each other room."""
    per_room, which = HELD_OUT[quick]
    subjects = [(r - 1) * per_room + which for r in range(1, 5) if r != room]
    return f"synthetic.val_environments=[{room}]", f"synthetic.val_subjects=[{','.join(map(str, subjects))}]"


def available(base: list[str], overrides: tuple[str, ...]) -> str | None:
    """None when this csipose's config takes ``overrides``, else why not (one line)."""
    from csipose.config import TrainingConfig
    from csipose.errors import ConfigError
    from csipose.train.checkpoint import error_reason

    try:
        TrainingConfig().with_overrides([*base, *overrides]).validate()
    except ConfigError as err:
        return error_reason(err, 100)
    return None


def train_run(run_dir: Path, settings: list[str]) -> Path:
    """Trains one run and returns its last checkpoint."""
    from csipose.config import TrainingConfig
    from csipose.train import train

    config = TrainingConfig().with_overrides([*settings, f"run_dir={run_dir}"])
    train(config)
    return run_dir / "last.pt"


def split_frames(predictor: Any, pool: int, seed: int) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """The recorded validation split, its in-room samples, the unseen room's scored samples and
    its shot pool (``pool`` samples, whose first K are the K-shot row's frames)."""
    from csipose.domain.adapt_cli import choose_shots, sample_ids
    from csipose.infer_cli import recorded_split

    val = recorded_split(predictor)
    ids = sample_ids(val)
    held = np.isin(ids[:, 0], predictor.config["synthetic"]["val_environments"])
    room = np.flatnonzero(held)
    shots = room[choose_shots(ids[room], pool, seed)]
    return val, np.flatnonzero(~held), np.setdiff1d(room, shots), shots


def predict(predictor: Any, dataset: Any, index: np.ndarray, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """``(pred float32[N, J, D], gt float32[N, J, 3])`` of the samples ``index``, ``size`` at a time."""
    from csipose.infer_cli import predict_split

    return predict_split(predictor, dataset, index, size)[:2]


def scored(pred: np.ndarray, gt: np.ndarray) -> Any:
    from csipose.train.scoring import score

    return score(np.asarray(pred, dtype=np.float64), gt)


def model_rows(name: str, last: Path, shots: tuple[int, ...], seed: int, *, adapters: bool,
               baselines: bool, linear: bool = False) -> list[Row]:
    """The row of a trained model; with ``baselines`` first the mean-pose rows (of its training
    set), the linear baseline and the model on the true root (:data:`ORACLE`); with ``linear`` (and
    no ``baselines``) first its own linear baseline (:func:`linear_row`, fitted on its own training
    split and input, which its overrides may change); with ``adapters`` after it its K = 0 and K-shot rows;
    with ``baselines`` last the same weights placing people itself (:data:`OWN_FLOOR`) and with the
    unseen room's batch-norm statistics (:data:`NEW_ROOM_NORM`)."""
    from csipose.infer import Predictor

    predictor = Predictor.load(last)
    val, inroom, unseen, pool = split_frames(predictor, max(shots), seed)
    pred_in, gt_in = predict(predictor, val, inroom)
    pred_un, gt_un = predict(predictor, val, unseen)
    plain = Row(name, scored(pred_in, gt_in), scored(pred_un, gt_un))
    rows = baseline_rows(predictor, val, inroom, unseen, gt_in, gt_un) if baselines else []
    if baselines:  # the model's shape alone, on the true root: after the mean pose on it
        from csipose.metrics import root_placed

        skeleton = str(predictor.config.get("skeleton", "h36m17"))
        rows.insert(2, Row(ORACLE, *(scored(root_placed(p, g, skeleton=skeleton), g)
                                     for p, g in ((pred_in, gt_in), (pred_un, gt_un)))))
    elif linear:
        own = linear_row(f"{LINEAR_OF}{name}", predictor, val, (inroom, unseen), (gt_in, gt_un))
        rows += [own] if own is not None else []
    rows.append(plain)
    if adapters:
        rows.append(Row(f"{name}, K = 0", plain.inroom, plain.unseen))
        rows += [Row(f"{name}, K = {k}", plain.inroom, adapted(last, val, pool[:k], unseen, seed)) for k in shots]
    if baselines:
        with own_floor(predictor) as changed:
            if changed:  # the same weights: the setting changes no training room's prediction
                rows.append(Row(OWN_FLOOR, *(scored(*predict(predictor, val, index)) for index in (inroom, unseen))))
        room = np.union1d(unseen, pool)  # every frame of the unseen room, read without its labels, in one batch
        with room_batch_norm(predictor._backend.model, lambda: predict(predictor, val, room, len(room))) as has_any:
            if has_any:
                rows.append(Row(NEW_ROOM_NORM, plain.inroom, scored(*predict(predictor, val, unseen))))
    return rows


@contextlib.contextmanager
def room_batch_norm(model: Any, run: Any) -> Iterator[bool]:
    """Within it, ``model``'s batch-norm layers normalise with the statistics of the batches that
    ``run()`` forwards through it (AdaBN: each layer's running mean and unbiased variance become
    the equal-weight average over those batches; one batch gives that batch's own); everything is
    restored on leaving. Yields whether the model has a batch-norm layer."""
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    kept = [(m.training, m.momentum, {k: v.clone() for k, v in m.state_dict().items()}) for m in norms]
    try:
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the batches run() forwards
            m.train()
        if norms:
            run()
        for m in norms:
            m.eval()
        yield bool(norms)
    finally:
        for m, (training, momentum, state) in zip(norms, kept):
            m.load_state_dict(state)
            m.momentum = momentum
            m.train(training)


def baseline_rows(predictor: Any, val: Any, inroom: np.ndarray, unseen: np.ndarray, gt_in: np.ndarray,
                  gt_un: np.ndarray) -> list[Row]:
    """The training mean pose as it is (camera frame), on each frame's true root, (for an
    anchored model) on each frame's link anchor, and the run's linear baseline."""
    from csipose.metrics import root_placed
    from csipose.train.baselines import baseline_poses
    from csipose.train.data import mean_pose

    train_set = training_split(predictor)
    mean = mean_pose(train_set).astype(np.float64)
    rows = [
        Row("mean pose", scored(np.broadcast_to(mean, gt_in.shape), gt_in),
            scored(np.broadcast_to(mean, gt_un.shape), gt_un)),
        Row("mean pose on the true root (oracle root)", scored(root_placed(mean, gt_in), gt_in),
            scored(root_placed(mean, gt_un), gt_un)),
    ]  # fmt: skip
    model = predictor._backend.model
    if model.anchor:  # the model's mean pose is then about each window's link anchor
        mean_in, mean_un = (baseline_poses(model, val, index)[0] for index in (inroom, unseen))
        rows.append(Row(ANCHORED, scored(mean_in, gt_in), scored(mean_un, gt_un)))
    if (linear := linear_row(LINEAR, predictor, val, (inroom, unseen), (gt_in, gt_un), train_set)) is not None:
        rows.append(linear)
    return rows


def linear_row(name: str, predictor: Any, val: Any, index: tuple[np.ndarray, np.ndarray],
               gt: tuple[np.ndarray, np.ndarray], train_set: Any = None) -> Row | None:
    """Row ``name``: the run's linear baseline (:func:`linear_ridge`, placed as the model places its
    joints) on the in-room and unseen ``index`` frames, scored against ``gt``; None where the
    model has none."""
    from csipose.train.baselines import baseline_poses

    model = predictor._backend.model
    ridge = linear_ridge(predictor, train_set)
    inroom, unseen = (baseline_poses(model, val, frames, ridge=ridge)[1] for frames in index)
    if inroom is None or unseen is None:
        return None
    return Row(name, scored(inroom, gt[0]), scored(unseen, gt[1]))


def linear_ridge(predictor: Any, train_set: Any = None) -> Any:
    """The ridge regression of the run's linear baseline, fitted again on its training split
    (``train_set``, read when not given) for :func:`~csipose.train.baselines.baseline_poses`; None
    for a model with a fixed readout, which is that ridge."""
    from csipose.train.baselines import fit_linear_baseline

    model = predictor._backend.model
    if model.readout is not None:
        return None
    train_set = training_split(predictor) if train_set is None else train_set
    return fit_linear_baseline(model, train_set, samples=int(predictor.config.get("baseline_samples", 20000)))


#: Camera axes of :func:`where_the_person_is` (camera ``y`` points down).
AXES = ("x", "y (down)", "z")


#: How far a placement curve (:func:`placement_curve`) moves a pose from its root towards the true
#: root, in steps of 1% of the way.
TOWARDS = tuple(np.round(np.linspace(0.0, 1.0, 101), 2))


#: ``(root error in m, PCK@20)`` at each step of :data:`TOWARDS`.
Curve = list[tuple[float, float]]


@dataclasses.dataclass
class Placement:
    """What :func:`where_the_person_is` measures of the plain model (anchored) on the scored frames.

    Attributes:
        correlations: per camera axis (:data:`AXES`), the correlation over frames of the model's
            own root offset from the link anchor (:func:`own_floor`) with the true one,
            ``{"in-room": float64[3], "unseen": float64[3]}`` (NaN for a constant axis): what the
            CSI tells of where the person is.
        mean_shape: the unseen room's placement curve of the training mean shape: on the link
            anchor, moved each share of :data:`TOWARDS` of the way from each frame's anchor to
            its true root (the first point is the mean pose on the link anchor, the last the
            mean pose on the true root).
        plain_model: the same of the plain model's predictions (on the anchor's floor position in
            the unseen room: ``new_room_floor``), moved from where it put each frame's root towards
            the true one (the first point is the plain model, the last the plain model on the true root).
        action_mean: PCK@20 of the training mean pose of each frame's own action on its link
            anchor (:func:`action_means`), ``{"in-room": float, "unseen": float}``: what telling
            the action and nothing more of the pose gives, on the geometry's place.
        true_pose: the unseen room's PCK@20 of each frame's true pose moved onto the link anchor's
            floor position at its true height (:func:`csipose.domain.anchor.on_anchor_floor`, as
            ``new_room_floor`` places the model's): what a perfect pose gives
            on the geometry's floor position.
        action_read: the share of frames whose action a ridge classifier of the plain model's
            pooled features (:func:`read_actions`, fitted on its training frames) tells right,
            ``{"in-room": float, "unseen": float}``: what of the action its features carry.
        commonest: the share of the commonest action among the unseen room's scored frames (what
            always saying it scores).
    """

    correlations: dict[str, np.ndarray]
    mean_shape: Curve
    plain_model: Curve
    action_mean: dict[str, float]
    true_pose: float
    action_read: dict[str, float]
    commonest: float


def where_the_person_is(last: Path, pool: int, seed: int) -> Placement | None:
    """What the CSI tells of where the person is, and what placing them better is worth in the
    unseen room (:class:`Placement`), for an anchored model (None without the anchor)."""
    import torch

    from csipose.domain.adapt_cli import sample_ids
    from csipose.domain.anchor import on_anchor_floor
    from csipose.infer import Predictor
    from csipose.metrics import root_joints
    from csipose.skeletons import get_skeleton
    from csipose.train.baselines import baseline_poses
    from csipose.train.data import sample_anchors

    predictor = Predictor.load(last)
    model = predictor._backend.model
    if not model.anchor:
        return None
    skeleton = str(predictor.config.get("skeleton", "h36m17"))
    joints = list(root_joints(get_skeleton(skeleton)))
    val, inroom, unseen, _ = split_frames(predictor, pool, seed)
    train_set = training_split(predictor)
    actions, action_poses = action_means(train_set)
    val_actions = sample_ids(val)[:, 2]
    classify = read_actions(predictor, train_set)
    correlations, action_mean, action_read = {}, {}, {}
    for side, index in (("in-room", inroom), ("unseen", unseen)):  # the unseen room last
        with own_floor(predictor):
            own, gt = predict(predictor, val, index)
        prior = baseline_poses(model, val, index)[0]  # the mean pose on each frame's anchor
        said, true = ((a[:, joints, :3] - prior[:, joints, :3]).mean(axis=1) for a in (own, gt))
        with np.errstate(invalid="ignore", divide="ignore"):
            correlations[side] = np.array([np.corrcoef(said[:, a], true[:, a])[0, 1] for a in range(3)])
        own_action = of_labels(actions, action_poses, val_actions[index])
        action_mean[side] = pck20(scored(own_action + sample_anchors(val, index)[:, None, :], gt))
        action_read[side] = float(np.mean(classify(val, index) == val_actions[index]))
    # the loop's last side is the unseen room: its true poses and its mean pose on the anchor
    pred = predict(predictor, val, unseen)[0]  # as the model places them
    floor = on_anchor_floor(torch.from_numpy(np.asarray(gt, dtype=np.float64)),
                            torch.from_numpy(sample_anchors(val, unseen)), model.mean_pose.detach().double(), joints)
    true_pose = pck20(scored(floor.numpy(), gt))
    commonest = float(np.unique(val_actions[unseen], return_counts=True)[1].max() / len(unseen))
    return Placement(correlations, placement_curve(prior, gt, skeleton), placement_curve(pred, gt, skeleton),
                     action_mean, true_pose, action_read, commonest)


def read_actions(predictor: Any, train_set: Any, ridge: float = 10.0) -> Any:
    """A classifier ``(dataset, index) -> int64[n]`` of the action of the samples ``index`` from
    ``predictor``'s model's pooled features (``"features"``, eval mode): a ridge regression
    (weight ``ridge``) of each action's indicator on the features standardised over
    ``train_set``, fitted on every training frame; the largest output's action."""
    from csipose.domain.adapt_cli import sample_ids

    classify = ridge_classifier(pooled_features(predictor, train_set), sample_ids(train_set)[:, 2], ridge)
    return lambda dataset, index: classify(pooled_features(predictor, dataset, index))


def ridge_classifier(features: np.ndarray, labels: np.ndarray, ridge: float) -> Any:
    """A classifier ``float[n, F] -> labels[n]``: a ridge regression (weight ``ridge``, on the
    intercept too) of each label's indicator on ``features`` (``[N, F]``, standardised over them),
    fitted on ``labels`` (``[N]``); the largest output's label."""
    centre, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    design = lambda f: np.c_[(f - centre) / scale, np.ones(len(f))]  # noqa: E731
    distinct, which = np.unique(labels, return_inverse=True)
    x = design(features)
    weight = np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ np.eye(len(distinct))[which])
    return lambda f: distinct[(design(f) @ weight).argmax(axis=1)]


def pooled_features(predictor: Any, dataset: Any, index: np.ndarray | None = None) -> np.ndarray:
    """``float64[n, F]``: the pooled features (``"features"``) of ``predictor``'s model on the samples
    ``index`` of ``dataset`` (all by default), each with the room geometry the model takes, run as
    its predictions are (:meth:`~csipose.infer.Predictor.predict_windows`' backend)."""
    from csipose.infer_cli import read_batches

    room = predictor.geometry_inputs
    parts = [predictor._backend.run(np.ascontiguousarray(batch["csi"], dtype=np.float32), ("features",),
                                    tuple(np.asarray(batch[k], dtype=np.float32) for k in room) or None)[0]
             for batch in read_batches(dataset, 256, ("csi", *room), index)]  # fmt: skip
    return np.concatenate(parts).astype(np.float64)


def action_means(train_set: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(actions int64[A], poses float64[A, J, 3])``: the training split's mean pose of each action,
    its joints about each sample's link anchor, as the anchored mean pose's are (every joint of
    the synthetic labels is visible)."""
    from csipose.domain.adapt_cli import sample_ids
    from csipose.train.data import sample_anchors

    about = np.asarray(train_set.label_keypoints(), dtype=np.float64) - sample_anchors(train_set)[:, None, :]
    return means_by(about, sample_ids(train_set)[:, 2])


def of_labels(distinct: np.ndarray, values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``values[i]`` of each of ``labels`` (``[n]``), where ``distinct[i]`` (sorted, ``[A]``) is
    that label (``values: [A, ...]``, as :func:`means_by` returns them); raises ValueError naming
    the labels ``distinct`` lacks."""
    at = np.minimum(np.searchsorted(distinct, labels), len(distinct) - 1)
    missing = labels[distinct[at] != labels]
    if missing.size:
        raise ValueError(f"labels: {sorted(set(missing.tolist()))} not among the fitted {distinct.tolist()}")
    return values[at]


def means_by(values: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(labels int64[A], means float64[A, ...])``: the distinct ``labels`` (``[N]``, sorted) and
    the mean of ``values`` (``[N, ...]``) over each one's rows."""
    distinct = np.unique(labels)
    return distinct, np.stack([values[labels == label].mean(axis=0) for label in distinct])


@contextlib.contextmanager
def own_floor(predictor: Any) -> Iterator[bool]:
    """Within it, ``predictor``'s model places the person itself in every room, as with
    ``new_room_floor = model`` (:attr:`~csipose.infer.Predictor.new_room_floor`); yields whether
    that changes anything (the model stands people of new rooms on the link anchor's floor position)."""
    placed = predictor.new_room_floor == "anchor"
    if placed:
        predictor.new_room_floor = "model"
    try:
        yield placed
    finally:
        if placed:
            predictor.new_room_floor = "anchor"


def placement_curve(pose: np.ndarray, gt: np.ndarray, skeleton: str) -> Curve:
    """``(root error, PCK@20)`` of ``pose: [N, J, D]`` moved each share of :data:`TOWARDS` of the way
    from its root to ``gt``'s (``[N, J, D]``), frame by frame."""
    from csipose.metrics import root_placed

    shift = root_placed(pose, gt, skeleton=skeleton) - pose  # each frame's root -> its true root
    curve = []
    for share in TOWARDS:
        report = scored(pose + share * shift, gt)
        curve.append((float(report.root_error), pck20(report)))
    return curve


def placement_needed(curve: Curve, goal: float) -> tuple[float, float] | None:
    """The ``(root error, PCK@20)`` of a placement curve (:func:`placement_curve`) nearest its start (the
    pose as it was placed) that reaches PCK@20 ``goal`` (to within its 1% steps); None when even the
    true root does not. The steps shrink every frame's root error, height included, by the same share."""
    return next(((error, value) for error, value in curve if value >= goal), None)


def training_split(predictor: Any) -> Any:
    """The training split recorded with ``predictor``'s model."""
    from csipose.config import TrainingConfig
    from csipose.train.data import load_split

    return load_split(TrainingConfig.from_dict(predictor.config, recorded=True), "train")


def training_mean_pose(predictor: Any) -> np.ndarray:
    """``float64[J, 3]``: the mean pose of the training split recorded with ``predictor``'s model."""
    from csipose.train.data import mean_pose

    return mean_pose(training_split(predictor)).astype(np.float64)


def own_rows(specs: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """``--row`` specs (overrides separated by spaces) as rows ``(name, overrides)``, each named by its
    overrides; a spec given twice trains once."""
    rows = {" ".join(spec.split()): tuple(spec.split()) for spec in specs if spec.split()}
    return list(rows.items())


def all_in_random_rooms(overrides: tuple[str, ...]) -> bool:
    """Whether these overrides move every training sequence to randomised rooms."""
    return any(o.startswith("synthetic.random_rooms=") for o in overrides) and not any(
        o.startswith("synthetic.random_room_share=") and float(o.split("=", 1)[1]) < 1 for o in overrides
    )


def print_placement(placement: Placement, rows: list[Row]) -> None:
    """Prints how near the person must be placed in the unseen room for the K = 0 goal: the
    unseen PCK@20 the goal asks of the plain model (the mean pose's and the goal's share of the
    in-room gain), and the root error at which the mean shape reaches it (:class:`Placement`),
    beside the link anchor's and the plain model's; then the same of the plain model's own shape."""
    by_name = {r.name: r for r in rows}
    mean, plain = by_name["mean pose"], by_name["plain model"]
    goal = pck20(mean.unseen) + GOALS[0] * (pck20(plain.inroom) - pck20(mean.inroom))  # the gap ratio's goal
    curve = placement.mean_shape
    print(f"the K = 0 goal asks {100 * goal:.1f}% of the unseen room; the training mean shape reaches it "
          f"{reached(curve, goal)}; on the link anchor it is {1000 * curve[0][0]:.0f} mm off "
          f"({100 * curve[0][1]:.1f}%), the plain model's root {1000 * plain.unseen.root_error:.0f} mm")
    print(f"the plain model reaches it {reached(placement.plain_model, goal)}")
    print(f"what the pose is worth: the training mean pose of each frame's own action on its link anchor (the action "
          f"known, nothing more of the pose) scores {100 * placement.action_mean['in-room']:.1f}% in-room and "
          f"{100 * placement.action_mean['unseen']:.1f}% unseen; the true pose on the anchor's floor position at its "
          f"true height {100 * placement.true_pose:.1f}% unseen")
    print(f"the action from the plain model's pooled features (a ridge classifier fitted on its training frames): "
          f"{100 * placement.action_read['in-room']:.1f}% right in-room, {100 * placement.action_read['unseen']:.1f}% "
          f"unseen (the commonest action: {100 * placement.commonest:.1f}%)")


def reached(curve: Curve, goal: float) -> str:
    """Where a placement curve reaches PCK@20 ``goal``, in words."""
    needed = placement_needed(curve, goal)
    if needed is None:
        return "not even on the true root"
    return f"within {1000 * needed[0]:.0f} mm of the true root ({100 * needed[1]:.1f}%)"


def print_kept(ratio: float, over: str, which: str, goal: float, k: int = 0) -> None:
    """Prints how much of the in-room gain (``over`` what) row ``which`` keeps with ``k`` shots, and the verdict."""
    shown = f"{100 * ratio:.0f}%" if np.isfinite(ratio) else "n/a"
    print(f"K = {k}: unseen room keeps {shown} of the in-room {over} ({which}; goal >= {100 * goal:.0f}%): "
          f"{'met' if ratio >= goal else 'NOT met'}")


def is_baseline(name: str) -> bool:
    """A baseline row (the mean poses, the linear baselines and the plain model on the true root),
    not a trained model's."""
    return name.startswith(("mean pose", LINEAR_OF)) or name in (LINEAR, ORACLE)


def adapted(last: Path, val: Any, shots: np.ndarray, unseen: np.ndarray, seed: int, *, rank: int | None = None,
            fits: int | None = None, **fit: Any) -> Any:
    """The unseen room's report of ``last`` with adapters fitted on ``shots`` (the ``csipose adapt``
    defaults, or adapters of ``rank`` and the ``fit`` options of
    :func:`~csipose.domain.adapters.fit_adapters`: steps, epochs, lr, batch_size, average); ``fits`` > 1:
    that many fits from seeds ``seed``, ``seed + 1``, ..., their predictions averaged (``csipose
    adapt --fits``; None: its default for K frames)."""
    from csipose.domain import adapter_fits, adapter_rank
    from csipose.domain.adapters import fit_ensemble
    from csipose.infer import Predictor

    predictor = Predictor.load(last)
    room = predictor.geometry_inputs
    batch = next(iter(batches(val, shots, room)))
    predictor.adapter = fit_ensemble(predictor._backend.model, batch["csi"], batch["keypoints"], batch["visibility"],
                                     fits=adapter_fits(len(shots)) if fits is None else fits, seed=seed,
                                     rank=adapter_rank(len(shots)) if rank is None else rank,
                                     geometry=tuple(batch[key] for key in room) or None, **fit)[0]
    return scored(*predict(predictor, val, unseen))


def batches(dataset: Any, index: np.ndarray, room: tuple[str, ...] = ()) -> Any:
    """The ``index`` samples of ``dataset`` as one batch (``csi``, ``keypoints``, ``visibility`` and
    the ``room`` geometry keys), in an iterator; ``bench_adapt.py`` reads its ground truth so too."""
    from csipose.infer_cli import read_batches

    return read_batches(dataset, len(index), ("csi", "keypoints", "visibility", *room), index)


def pck20(report: Any) -> float:
    return float(report.pck.pck[report.pck.thresholds.index(20)])


def gap(row: Row, mean: Row) -> float:
    """Unseen-room PCK@20 gain over the mean pose / in-room gain, as a run's summary computes it
    (:func:`csipose.train.domains.domain_gains`; NaN when the in-room gain is under 5 points: a
    ratio of two near-zero gains)."""
    from csipose.train.domains import domain_gains

    sides = lambda r: {"in_domain": r.inroom.to_dict(), "cross_domain": r.unseen.to_dict()}  # noqa: E731
    ratio = domain_gains(sides(row), sides(mean))["gap_ratio"]
    return float("nan") if ratio is None else ratio


def print_table(rows: list[Row], skipped: list[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """Prints the table; returns each row's gap ratios over the mean pose and over the mean pose on
    the link anchor (NaN where not defined)."""
    mean = rows[0]
    anchored = next((r for r in rows if r.name == ANCHORED), None)
    name_width = max([46, *(len(r.name) + 1 for r in rows), *(len(name) + 1 for name, _ in skipped)])
    print(f"{'row':<{name_width}}{'in-room':>9}{'root':>7}{'PA':>6}{'unseen':>9}{'root':>7}{'PA':>6}{'gap':>7}{'gap':>8}")
    print(f"{'':<{name_width}}{'PCK@20':>9}{'mm':>7}{'mm':>6}{'PCK@20':>9}{'mm':>7}{'mm':>6}{'ratio':>7}{'anchor':>8}")
    ratios = {}
    for row in rows:
        ratio = gap(row, mean) if row is not mean else float("nan")
        baseline = is_baseline(row.name)
        over = gap(row, anchored) if anchored is not None and not baseline else float("nan")
        ratios[row.name] = (ratio, over)
        cells = []
        for r in (row.inroom, row.unseen):
            cells.append(f"{100 * pck20(r):>8.1f}%{1000 * r.root_error:>7.0f}{1000 * r.pa_mpjpe:>6.0f}")
        text = "".join(f"{'n/a' if not np.isfinite(v) else f'{v:.2f}':>{w}}" for v, w in ((ratio, 7), (over, 8)))
        print(f"{row.name:<{name_width}}{cells[0]}{cells[1]}{text}" + (f"  {row.note}" if row.note else ""))
    for name, why in skipped:
        print(f"{name:<{name_width}}not available ({why})")
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny data and models: a smoke run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds every training run, picks the few-shot frames and draws the adapters")
    parser.add_argument("--only", action="append", metavar="ROW",
                        help="train only this row (repeat for more) beside the plain model, e.g. --only "
                             "'half the sequences in randomised rooms'")
    parser.add_argument("--room", type=int, choices=(1, 2, 3, 4), default=4,
                        help="the room held out whole (default 4); rooms 1-4 less it train")
    parser.add_argument("--row", action="append", default=[], metavar="OVERRIDES",
                        help="a row of your own: config overrides separated by spaces, e.g. --row 'synthetic.random_rooms=200 "
                             "epochs=36'; it is named by them and gets few-shot rows; with --row and no --only, only the plain "
                             "model trains beside it")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    held = held_out(args.room, args.quick)
    base = [*ROOMS, *held, *(QUICK if args.quick else FULL), f"threads={args.threads}", f"seed={args.seed}"]
    shots = QUICK_SHOTS if args.quick else SHOTS
    known = [(name, o) for name, o in METHODS if available(base, o) is None]
    skipped = [(name, available(base, o) or "") for name, o in METHODS if available(base, o) is not None]
    runs: list[tuple[str, tuple[str, ...]]] = [("plain model", ()), *known]
    together = [(name, o) for name, o in known if name not in ABLATIONS]
    if len(together) > 1:
        runs.append(("all methods", tuple(s for _, o in together for s in o)))
    else:
        skipped.append(("all methods", "no method is available" if not known else f"only {known[0][0]} is available"))
    runs += [(name, o) for name, o in RECIPES if available(base, o) is None]
    if args.only:
        unknown = sorted(set(args.only) - {name for name, _ in runs})
        if unknown:
            parser.error(f"--only: no row {', '.join(map(repr, unknown))}; rows: {'; '.join(n for n, _ in runs[1:])}")
        runs = [run for run in runs if run[0] == "plain model" or run[0] in args.only]
        skipped = []
    own = own_rows(args.row)
    for name, overrides in own:
        if (why := available(base, overrides)) is not None:
            parser.error(f"--row {name!r}: {why}")
    if own:
        runs, skipped = [*(runs if args.only else runs[:1]), *own], []
    own_names = [name for name, _ in own]  # each gets its own linear baseline: its data may differ
    adapted_rows = (*ADAPTED, *own_names)
    rows: list[Row] = []
    person: Placement | None = None  # the plain model's
    with tempfile.TemporaryDirectory(prefix="bench-domains-") as tmp:
        for i, (name, overrides) in enumerate(runs):
            last = train_run(Path(tmp) / f"run{i}", [*base, *overrides])
            if i == 0:
                person = where_the_person_is(last, max(shots), args.seed)
            with_shots = i == 0 or name in adapted_rows
            rows += model_rows(name, last, shots, args.seed, adapters=with_shots, baselines=i == 0,
                               linear=name in own_names)
            if all_in_random_rooms(overrides):  # no training room is scored
                rows[-1].note = "(trained in random rooms: no scored room is one it trained in)"
    print(f"leave-room-out synthetic rooms: {', '.join([*ROOMS[:2], held[0]])}; in-room = held-out subjects of the training "
          f"rooms ({rows[0].inroom.frames} frames), unseen = room {args.room} less the {max(shots)}-frame shot pool "
          f"({rows[0].unseen.frames} frames); root and PA-MPJPE in mm; gap ratio: the unseen room's PCK@20 gain "
          f"over the mean pose / the in-room gain; gap anchor: the same over the mean pose on the link anchor")  # fmt: skip
    ratios = print_table(rows, skipped)
    if person is not None:
        cells = {side: " / ".join("n/a" if not np.isfinite(c) else f"{c:.2f}" for c in values)
                 for side, values in person.correlations.items()}
        print(f"where the person is, from the CSI: correlation of the plain model's own root offset from the link anchor "
              f"with the true one (camera {' / '.join(AXES)}): in-room {cells['in-room']}, unseen {cells['unseen']}")
        print_placement(person, rows)
    noted = {r.name for r in rows if r.note}  # trained in random rooms: no training room is scored
    zero = [r.name for r in rows if "K =" not in r.name and not is_baseline(r.name) and r.name not in noted]
    k50 = 50 if not args.quick else shots[1]
    print_kept(ratios["plain model"][0], "PCK@20 gain over the mean pose", "the default model: plain model", GOALS[0])
    # A row within 5 points of the mean pose on the link anchor in-room learned nothing from the CSI
    # that the geometry does not give: its unseen room keeps that mean pose's figure, not a model's.
    anchor = ANCHORED in ratios  # (the plain model is anchored; were it not, every row counts)
    learned = [n for n in zero if not anchor or np.isfinite(ratios[n][1])]
    beat = f" that beat the {ANCHORED} in-room" if anchor else ""
    for label, pick in (("mean pose", 0), (ANCHORED, 1)):
        defined = [n for n in learned if np.isfinite(ratios[n][pick])]
        if not defined:
            print(f"K = 0 over the {label}: no row with an in-room gain of 5 points or more over the "
                  f"{ANCHORED if anchor else label}")
            continue
        best = max(defined, key=lambda n: ratios[n][pick])  # picked among rows of one seed: flattered
        which = f"the best of {len(defined)} rows{beat}, one seed: {best}"
        print_kept(ratios[best][pick], f"PCK@20 gain over the {label}", which, GOALS[0])
    for name in (n for n in ("plain model", *adapted_rows) if f"{n}, K = {k50}" in ratios):  # (--only: those trained)
        print_kept(ratios[f"{name}, K = {k50}"][0], "gain over the mean pose with adapters", name, GOALS[50], k50)
    print(f"wall time {time.perf_counter() - started:.0f} s on {args.threads} torch thread(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
