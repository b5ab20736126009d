"""Rooms it has not seen: the ablation table of the domain methods on leave-room-out synthetic data.

Synthetic rooms differ physically (``synthetic.room_variation``); room 4 of 4 is held out
(``synthetic.val_environments = [4]``) and one subject of each training room too
(``synthetic.val_subjects``). Every row is scored twice: in-room (the held-out subjects of the
training rooms) and unseen-room (room 4, less the frames the largest few-shot row adapts on,
so every row is scored on the same frames). Rows:

- the training mean pose as it is (constant: the training rooms' mean shape at their mean root);
- the constant-root baseline: the same mean pose placed on each frame's *true* root (an oracle
  for where the person is; its errors are pure shape error);
- the plain model, each domain method alone, all of them together, and the combinations of
  :data:`RECIPES`: one training run each, the config overrides of :data:`METHODS`; a row whose
  keys this csipose's config does not know is printed as not available and skipped;
- few-shot adaptation of the plain model (:mod:`csipose.domain.adapters`, the ``csipose adapt``
  defaults) on K = 0, 10, 50, 200 frames of the unseen room; its in-room figures are the plain
  model's (an adapter is applied in its own room only).

Trained models are scored from their last checkpoint (``best.pt`` is chosen on a validation
split that holds the unseen room). Columns: torso PCK@20, root error and PA-MPJPE in each
setting, and the gap ratio: the unseen room's PCK@20 gain over the mean pose divided by the
in-room gain (n/a when the in-room gain is under 5 points: a ratio of two near-zero gains says
nothing; rows trained in random rooms have no training room among the scored ones). Goals: >= 60 % at K = 0 (the best row without shots), >= 90 % at K = 50.

    python benches/bench_domains.py              # the table (under 20 minutes on 2 CPU cores)
    python benches/bench_domains.py --quick      # tiny: a smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

#: The domain methods, each a row of TrainingConfig overrides.
METHODS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("adversarial domain head", ("domain_adversarial=0.1",)),
    ("geometry FiLM", ("geometry_film=true",)),
    ("randomised rooms", ("synthetic.random_rooms=60",)),
    ("conjugate products", ("features=conjugate",)),
    ("test-time normalisation", ("test_time_norm=true",)),
    ("no fixed ridge readout", ("readout=false",)),
    ("no link anchor", ("anchor=none",)),
)
#: Rows of :data:`METHODS` that turn a default off; "all methods" leaves them out.
ABLATIONS = ("no link anchor",)
#: Combinations measured beside each method alone and all of them together.
RECIPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("FiLM + randomised rooms, no readout", ("geometry_film=true", "synthetic.random_rooms=60", "readout=false")),
)
ROOMS = ("synthetic.room_variation=true", "synthetic.environments=4", "synthetic.val_environments=[4]",
         "synthetic.val_subjects=[5,15,25]", "synthetic.frames=10", "plots=false", "progress=false",
         "linear_baseline=false", "top_k=0", "patience=1000")  # fmt: skip
FULL = ("epochs=12",)
QUICK = ("epochs=2", "width=16", "synthetic.subjects=8", "synthetic.val_subjects=[1,3]",
         "synthetic.actions=[squat, wave]")  # fmt: skip
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


def predict(predictor: Any, dataset: Any, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(pred float32[N, J, D], gt float32[N, J, 3])`` of the samples ``index``."""
    from csipose.infer_cli import read_batches

    room = predictor.geometry_inputs  # a FiLM or anchored model needs each window's room geometry
    preds, gts = [], []
    for batch in read_batches(dataset, 256, ("csi", "keypoints", "visibility", *room), index):
        preds.append(predictor.predict_windows(batch["csi"], geometry=tuple(batch[k] for k in room) or None))
        gts.append(np.asarray(batch["keypoints"], dtype=np.float32))
    return np.concatenate(preds), np.concatenate(gts)


def scored(pred: np.ndarray, gt: np.ndarray) -> Any:
    from csipose.train.scoring import score

    return score(np.asarray(pred, dtype=np.float64), gt)


def model_rows(name: str, last: Path, shots: tuple[int, ...], seed: int, with_adapters: bool) -> list[Row]:
    """The row of a trained model, and (``with_adapters``) its K-shot rows and the baselines."""
    from csipose.domain.adapters import attach_adapters, fit_adapters
    from csipose.infer import Predictor
    from csipose.metrics import root_placed

    predictor = Predictor.load(last)
    val, inroom, unseen, pool = split_frames(predictor, max(shots), seed)
    pred_in, gt_in = predict(predictor, val, inroom)
    pred_un, gt_un = predict(predictor, val, unseen)
    plain = Row(name, scored(pred_in, gt_in), scored(pred_un, gt_un))
    if not with_adapters:
        return [plain]
    model = predictor._backend.model
    if model.anchor:  # the mean pose is relative to the link anchor: the camera frame's is the training labels' mean
        from csipose.config import TrainingConfig
        from csipose.train.data import load_split, mean_pose, sample_anchors

        train = load_split(TrainingConfig.from_dict(predictor.config), "train")
        mean = mean_pose(train).astype(np.float64)
        relative = model.mean_pose.numpy().astype(np.float64)
        anchors = sample_anchors(val)
    else:
        mean = model.mean_pose.numpy().astype(np.float64)
    rows = [
        Row("mean pose", scored(np.broadcast_to(mean, pred_in.shape), gt_in),
            scored(np.broadcast_to(mean, pred_un.shape), gt_un)),
        Row("mean pose on the true root (oracle root)", scored(root_placed(mean, gt_in), gt_in),
            scored(root_placed(mean, gt_un), gt_un)),
    ]  # fmt: skip
    if model.anchor:
        rows.append(Row("mean pose on the link anchor", scored(relative + anchors[inroom, None], gt_in),
                        scored(relative + anchors[unseen, None], gt_un)))
    rows += [plain, Row(f"{name}, K = 0", plain.inroom, plain.unseen)]
    for k in shots:
        adapted = Predictor.load(last)
        model = adapted._backend.model
        adapters = attach_adapters(model, seed=seed)
        room = adapted.geometry_inputs
        batch = next(iter(_batches(val, pool[:k], room)))
        fit_adapters(model, adapters, batch["csi"], batch["keypoints"], batch["visibility"], seed=seed,
                     geometry=tuple(batch[key] for key in room) or None)
        rows.append(Row(f"{name}, K = {k}", plain.inroom, scored(*predict(adapted, val, unseen))))
    return rows


def _batches(dataset: Any, index: np.ndarray, room: tuple[str, ...] = ()) -> Any:
    from csipose.infer_cli import read_batches

    return read_batches(dataset, len(index), ("csi", "keypoints", "visibility", *room), index)


def pck20(report: Any) -> float:
    return float(report.pck.pck[report.pck.thresholds.index(20)])


#: The in-room PCK@20 gain over the mean pose below which a gap ratio says nothing (NaN).
MIN_GAIN = 0.05


def gap(row: Row, mean: Row) -> float:
    """Unseen-room PCK@20 gain over the mean pose / in-room gain (NaN when the in-room gain is
    under :data:`MIN_GAIN`: a ratio of two near-zero gains)."""
    inroom = pck20(row.inroom) - pck20(mean.inroom)
    return (pck20(row.unseen) - pck20(mean.unseen)) / inroom if inroom >= MIN_GAIN else float("nan")


def print_table(rows: list[Row], skipped: list[tuple[str, str]]) -> dict[str, float]:
    mean = rows[0]
    print(f"{'row':<44}{'in-room':>9}{'root':>8}{'PA':>8}{'unseen':>9}{'root':>8}{'PA':>8}{'gap':>8}")
    print(f"{'':<44}{'PCK@20':>9}{'err mm':>8}{'mm':>8}{'PCK@20':>9}{'err mm':>8}{'mm':>8}{'ratio':>8}")
    ratios = {}
    for row in rows:
        ratio = gap(row, mean) if row is not mean else float("nan")
        ratios[row.name] = ratio
        cells = []
        for r in (row.inroom, row.unseen):
            cells.append(f"{100 * pck20(r):>8.1f}%{1000 * r.root_error:>8.0f}{1000 * r.pa_mpjpe:>8.0f}")
        text = "n/a" if not np.isfinite(ratio) else f"{ratio:.2f}"
        print(f"{row.name:<44}{cells[0]}{cells[1]}{text:>8}" + (f"  {row.note}" if row.note else ""))
    for name, why in skipped:
        print(f"{name:<44}not available ({why})")
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny data and models: a smoke run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)")
    parser.add_argument("--seed", type=int, default=0, help="picks the few-shot frames and draws the adapters")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    base = [*ROOMS, *(QUICK if args.quick else FULL), f"threads={args.threads}"]
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
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-domains-") as tmp:
        for i, (name, overrides) in enumerate(runs):
            last = train_run(Path(tmp) / f"run{i}", [*base, *overrides])
            rows += model_rows(name, last, shots, args.seed, with_adapters=i == 0)
            if any(o.startswith("synthetic.random_rooms") for o in overrides):  # no training room is scored
                rows[-1].note = "(trained in random rooms: rooms 1-3 are unseen too)"
    print(f"leave-room-out synthetic rooms: {', '.join(base[:3])}; in-room = held-out subjects of the training "
          f"rooms ({rows[0].inroom.frames} frames), unseen = room 4 less the {max(shots)}-frame shot pool "
          f"({rows[0].unseen.frames} frames); mm = millimetres")  # fmt: skip
    ratios = print_table(rows, skipped)
    trained = [r.name for r in rows if "K =" not in r.name and not r.name.startswith("mean pose")]
    noted = {r.name for r in rows if r.note}  # trained in random rooms: no training room is scored
    defined = [n for n in trained if np.isfinite(ratios[n]) and n not in noted]
    best = max(defined, key=lambda n: ratios[n]) if defined else trained[0]
    verdict = {True: "met", False: "NOT met"}
    k0 = ratios[best]
    shown = f"{100 * k0:.0f}%" if np.isfinite(k0) else "n/a"
    print(f"K = 0: unseen room keeps {shown} of the in-room PCK@20 gain over the mean pose "
          f"({best}; goal >= {100 * GOALS[0]:.0f}%): {verdict[bool(k0 >= GOALS[0])]}")
    k50 = ratios.get(f"plain model, K = {50 if not args.quick else shots[1]}", float("nan"))
    shown = f"{100 * k50:.0f}%" if np.isfinite(k50) else "n/a"
    print(f"K = {50 if not args.quick else shots[1]}: unseen room keeps {shown} of the in-room gain with "
          f"adapters (goal >= {100 * GOALS[50]:.0f}%): {verdict[bool(k50 >= GOALS[50])]}")
    print(f"wall time {time.perf_counter() - started:.0f} s on {args.threads} torch thread(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
