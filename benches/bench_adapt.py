"""New rooms' goals room by room: how much of the in-room gain an unseen room keeps, without
labels and with adapters fitted on K of its frames: the default (under 100 frames three fits from
three seeds with their predictions averaged, each fit's weights averaged over the second half of
its steps), one such fit, one fit's last step's weights (the default before), rank 8 in the same
steps, the two default fits before those, and three fits where the default is one (``csipose
adapt --fits 3``).

For each held-out room (leave-room-out synthetic data, as ``bench_domains.py``; ``--rooms`` picks
which), the plain model is trained once on the other three rooms and scored on the unseen room
as it is (K = 0) and placing the person itself (``new_room_floor = model``, the same weights),
beside the mean pose on the link anchor (the room geometry alone) and the run's linear baseline
(its ridge regression of the window, fitted again); then the adapters of each
fit in :data:`FITS` (``csipose adapt``'s default first) are fitted on K frames of the unseen room
(``--shots``, default 50), for three draws of the frames. Every draw is scored on the room's
frames outside its 200-frame shot pool (as ``bench_domains.py`` scores), K = 0 too. Printed per
room and row: the unseen room's PCK@20 for each draw and their mean, and the gap ratio: the mean
over the draws of the unseen room's PCK@20 gain over the training mean pose (on the draw's own
frames) divided by the in-room gain (goals: >= 0.60 at K = 0, >= 0.90 at K = 50).

    python benches/bench_adapt.py                        # rooms 1-4, K = 50
    python benches/bench_adapt.py --shots 10 50 200      # the fits at every K of bench_domains.py
    python benches/bench_adapt.py --rooms 3              # one room
    python benches/bench_adapt.py --quick                # tiny: a smoke run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import bench_domains as domains
from csipose.domain import ADAPTER_AVERAGE, ADAPTER_BATCH, ADAPTER_EPOCHS, adapter_fits, adapter_rank, adapter_steps

#: ``(note, options of K)``: each fit's :func:`~csipose.domain.adapters.fit_adapters` options
#: (and ``rank``) for K frames, the default's where one is not given; ``{}`` is ``csipose adapt``'s
#: default, first. A fit that comes out the same as one before it at a K is not run again.
FITS = (
    ("default", lambda k: {}),
    ("one fit", lambda k: {"fits": 1}),
    ("one fit, last step's weights, before", lambda k: {"fits": 1, "average": 0.0}),
    ("rank 8, one fit", lambda k: {"rank": 8, "fits": 1}),
    ("fixed 300 steps, before", lambda k: {"rank": 8, "steps": 300, "batch_size": 32, "average": 0.0, "fits": 1}),
    ("first default", lambda k: {"rank": 4, "steps": 150, "batch_size": k, "average": 0.0, "fits": 1}),
    ("--fits 3", lambda k: {"fits": 3}),
)
DRAWS = (0, 1, 2)
#: What each baseline row is, printed beside its gap ratios.
BASELINES = {domains.ANCHORED: "the room geometry alone, no CSI",
             domains.LINEAR: "a ridge regression of the room-standardised window, no adapters"}
#: The row of the model without adapters.
UNADAPTED = "no adapters (K = 0)"
#: The same model placing the person itself in the unseen room too (``new_room_floor = model``).
OWN_FLOOR = "no adapters, own floor position (new_room_floor=model)"


def resolved(k: int, options: dict[str, Any]) -> dict[str, Any]:
    """A fit's rank, steps, frames per step and share of the steps averaged on ``k`` frames, the
    default's where ``options`` give none; the frames per step are at most ``k``
    (:func:`~csipose.domain.adapters.fit_adapters` takes all K when its batch is larger); and
    ``fits`` where more than one are averaged."""
    batch = min(options.get("batch_size", ADAPTER_BATCH), k)
    rank = options.get("rank", adapter_rank(k))
    steps = options.get("steps", adapter_steps(k, ADAPTER_EPOCHS, batch))
    average = options.get("average", ADAPTER_AVERAGE)
    fits = options.get("fits", adapter_fits(k))
    return {"rank": rank, "steps": steps, "batch_size": batch, "average": average, **({"fits": fits} if fits > 1 else {})}


def fit_rows(k: int) -> list[tuple[str, dict[str, int]]]:
    """``(row, fit)`` of each of :data:`FITS` on ``k`` frames that is not the same fit as one before it."""
    rows: list[tuple[str, dict[str, int]]] = []
    for note, options_of in FITS:
        fit = resolved(k, options_of(k))
        if all(fit != other for _, other in rows):
            frames = "all" if fit["batch_size"] == k else str(fit["batch_size"])
            each = f", {fit['fits']} fits" if "fits" in fit else ""
            rows.append((f"K = {k}, rank {fit['rank']}, {fit['steps']} x {frames}{each} ({note})", fit))
    return rows


def room_rows(last: Path, shots: list[int], pool: int) -> list[tuple[str, list[float], float]]:
    """``(row, PCK@20 of each draw, gap ratio)`` of the mean pose on the link anchor (an anchored
    model's: what the room geometry alone gives) and the run's linear baseline (each over its own
    in-room gain), the model without adapters (:data:`UNADAPTED`; and :data:`OWN_FLOOR` where the model
    stands people of new rooms on the link anchor's floor position) and with each fit's adapters on
    each K of ``shots``: the mean over the draws of each draw's unseen-room gain over the mean pose
    (on its own scored frames), over the in-room gain."""
    from csipose.infer import Predictor
    from csipose.train.baselines import baseline_poses

    predictor = Predictor.load(last)
    model = predictor._backend.model
    mean = domains.training_mean_pose(predictor)
    splits = {seed: domains.split_frames(predictor, pool, seed) for seed in DRAWS}  # (val, in-room, unseen, pool)
    val, inroom = splits[DRAWS[0]][:2]
    pred_in, gt_in = domains.predict(predictor, val, inroom)
    truth = {seed: np.asarray(next(iter(domains.batches(v, unseen)))["keypoints"], dtype=np.float32)
             for seed, (v, _, unseen, _) in splits.items()}  # each draw's scored frames' labels

    def pck(pred: np.ndarray, gt: np.ndarray) -> float:
        return domains.pck20(domains.scored(pred, gt))

    base_in = pck(np.broadcast_to(mean, gt_in.shape), gt_in)
    base = {seed: pck(np.broadcast_to(mean, gt.shape), gt) for seed, gt in truth.items()}

    def row(label: str, draws: list[float], in_room: float) -> tuple[str, list[float], float]:
        gain = float(np.mean([value - base[seed] for value, seed in zip(draws, splits)]))
        gain_in = in_room - base_in
        return label, draws, gain / gain_in if gain_in >= 0.05 else float("nan")

    ridge = domains.linear_ridge(predictor)
    poses = {seed: baseline_poses(model, v, unseen, ridge=ridge) for seed, (v, _, unseen, _) in splits.items()}
    poses_in = baseline_poses(model, val, inroom, ridge=ridge)
    rows = []
    for label, which, shown in ((domains.ANCHORED, 0, model.anchor), (domains.LINEAR, 1, poses_in[1] is not None)):
        if shown:  # the mean pose on the link anchor and the linear baseline, each over its own in-room gain
            rows.append(row(label, [pck(poses[seed][which], truth[seed]) for seed in splits],
                            pck(poses_in[which], gt_in)))
    in_room = pck(pred_in, gt_in)
    def unadapted() -> list[float]:  # each draw's unseen PCK@20 of the model as it is
        return [pck(*domains.predict(predictor, v, unseen)) for v, _, unseen, _ in splits.values()]

    rows.append(row(UNADAPTED, unadapted(), in_room))
    with domains.own_floor(predictor) as changed:
        if changed:  # the same weights, so the same in-room figure
            rows.append(row(OWN_FLOOR, unadapted(), in_room))
    for k in shots:
        for label, fit in fit_rows(k):
            draws = [domains.pck20(domains.adapted(last, v, frames[:k], unseen, seed, **fit))
                     for seed, (v, _, unseen, frames) in splits.items()]  # fmt: skip
            rows.append(row(label, draws, in_room))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, nargs="+", choices=(1, 2, 3, 4), default=[1, 2, 3, 4],
                        help="the rooms to hold out, one at a time (default 1 2 3 4)")
    parser.add_argument("--shots", type=int, nargs="+", metavar="K",
                        help="labelled frames of the unseen room to fit on (default 50; 5 with --quick)")
    parser.add_argument("--quick", action="store_true", help="tiny data and models: a smoke run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    goal_k = domains.QUICK_SHOTS[1] if args.quick else 50  # the K of the goal
    shots = sorted(set(args.shots or [goal_k]))
    pool = max(domains.QUICK_SHOTS if args.quick else domains.SHOTS)  # the frames bench_domains leaves out
    if not all(1 <= k <= pool for k in shots):
        parser.error(f"--shots: expected K from 1 to the {pool}-frame shot pool, got {shots}")
    print(f"K = 0 and K = {', '.join(map(str, shots))} frames of the unseen room, draws {', '.join(map(str, DRAWS))}; "
          "unseen PCK@20 per draw, their mean, and the gap ratio (their mean gain over the mean pose / the in-room "
          f"gain; goals >= 0.60 at K = 0, >= 0.90 at K = {goal_k})")
    print(f"{'room':<6}{'row':<54}{'draws':>22}{'mean':>8}{'gap ratio':>11}")
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-adapt-") as tmp:
        for room in args.rooms:
            base = [*domains.ROOMS, *domains.held_out(room, args.quick),
                    *(domains.QUICK if args.quick else domains.FULL), f"threads={args.threads}"]  # fmt: skip
            last = domains.train_run(Path(tmp) / f"room{room}", base)
            for label, draws, ratio in room_rows(last, shots, pool):
                results.setdefault(label, []).append(ratio)
                text = " ".join(f"{100 * d:.1f}%" for d in draws)
                print(f"{room:<6}{label:<54}{text:>22}{100 * np.mean(draws):>7.1f}%{_ratio(ratio):>11}")
    goals = {UNADAPTED: domains.GOALS[0], fit_rows(goal_k)[0][0]: domains.GOALS[50]}  # the default's goals
    for label, ratios in results.items():
        line = (f"{label}: gap ratio {' / '.join(_ratio(r) for r in ratios)} (rooms {' / '.join(map(str, args.rooms))}), "
                f"mean {_ratio(_mean(ratios))}")
        if domains.is_baseline(label):  # no goal
            print(f"{line}; {BASELINES[label]}")
            continue
        goal = goals.get(label)
        if goal is None:
            print(line)
            continue
        print(f"{line}; goal >= {goal:.2f} met in {sum(r >= goal for r in ratios)} of {len(ratios)} room(s)")
    print(f"wall time {time.perf_counter() - started:.0f} s on {args.threads} torch thread(s)")
    return 0


def _mean(ratios: list[float]) -> float:
    finite = [r for r in ratios if np.isfinite(r)]
    return float(np.mean(finite)) if finite else float("nan")


def _ratio(value: Any) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.2f}"


if __name__ == "__main__":
    sys.exit(main())
