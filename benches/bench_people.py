"""Several people: a set-prediction model on two-person scenes beside the single-person model.

Two trained runs are compared on the same held-out subjects:

- the single-person model (``csipose train``) on its validation split: one person per scene;
- the person-slot model (``csipose train --set persons=3``: scenes of 1 to 3 labelled people)
  on two-person scenes of the same subjects (its config with ``synthetic.people = [2]``),
  scored with :func:`csipose.metrics.evaluate_people`: count accuracy, per-person torso PCK
  and MPJPE after optimal matching, OKS-AP.

Beside them, the mean-pose baseline on those two-person scenes (the training mean pose in two
slots) and the baselines of the person-slot run's own ``summary.json`` (its 1-3 person val mix).
Each person of the two-person scenes is also scored apart, the subject (person 0, on the link's
axis) and the bystander (person 1, 1 m to its side), for the model and for its closed-form ridge
readout alone (slot ``k`` fitted on the training scenes' ``k``-th person): how much of the gap to
the single-person model each holds, and how much a linear map keeps of its own accuracy alone.
With ``--subject-only`` and ``--bystander-only``, two more single-person models trained on the
same two-person scenes, each with one person labelled and the other not (``--set
synthetic.persons=2``, and ``--set synthetic.labelled_person=1`` for the bystander): all of a
model spent on one person. They bound what the scenes give each person, beside the slot model.
Then the goals (count accuracy >= 95 %, per-person PCK@20 >= 90 % of the single-person model's,
MPJPE two-person / one-person <= 1.10), and how much of a training step the optimal matching
takes (goal under 2 %): one batch of 32, the step timed with and without the matching.

    python benches/bench_people.py --single runs/default --people runs/people \
        --subject-only runs/subject-only --bystander-only runs/bystander-only
    python benches/bench_people.py --quick        # tiny: trains the four models first (the test suite)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

PCK_RATIO_GOAL = 0.90
MPJPE_RATIO_GOAL = 1.10
COUNT_GOAL = 0.95
MATCHING_SHARE_GOAL = 0.02
QUICK = ["epochs=2", "synthetic.subjects=8", "synthetic.subjects_per_environment=8",
         "synthetic.val_subjects=[4,8]", "synthetic.frames=10", "plots=false", "width=16"]  # fmt: skip


def train(run_dir: Path, extra: list[str]) -> None:
    command = [sys.executable, "-m", "csipose", "train", "--run-dir", os.fspath(run_dir), "--quiet"]
    for setting in QUICK + extra:
        command += ["--set", setting]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def batches(dataset: Any, size: int = 256) -> Any:
    from csipose.data import collate

    for start in range(0, len(dataset), size):
        yield collate([dataset[i] for i in range(start, min(start + size, len(dataset)))])


def single_report(run: Path) -> Any:
    """The single-person model's locked report on its validation split."""
    import torch

    from csipose.train.data import load_split
    from csipose.train.scoring import score
    from csipose.train.state import load_model

    model, config = load_model(run / "best.pt")
    val = load_split(config, "val")
    preds, gts = [], []
    with torch.no_grad():
        for batch in batches(val):
            preds.append(model(batch["csi"])["keypoints"].numpy())
            gts.append(batch["keypoints"].numpy())
    return score(np.concatenate(preds), np.concatenate(gts), skeleton=config.skeleton)


def two_person_reports(run: Path) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
    """The person-slot model and the mean-pose baseline on two-person scenes of its val subjects,
    and each person apart (``{"model" | "ridge": [subject report, bystander report]}``)."""
    import torch

    from csipose.data.collate import pad_slots
    from csipose.metrics import evaluate_people
    from csipose.train.data import load_split
    from csipose.train.state import load_model

    model, config = load_model(run / "best.pt")
    config = config.with_overrides(["synthetic.people=[2]"])
    val = load_split(config, "val")
    s = model.persons
    parts: list[list[np.ndarray]] = [[] for _ in range(5)]
    with torch.no_grad():
        for batch in batches(val):
            out = model(batch["csi"])
            parts[0].append(out["persons"].numpy())
            parts[1].append(torch.sigmoid(out["presence"]).numpy())
            parts[2].append(pad_slots(batch["keypoints"].numpy(), s))
            parts[3].append(pad_slots(batch["person_mask"].numpy(), s))
            parts[4].append(ridge_slots(model, batch["csi"]) if model.readout is not None else out["persons"].numpy())
    persons, presence, gt, mask, ridge = (np.concatenate(p) for p in parts)
    report = evaluate_people(persons, presence, gt, gt_mask=mask, skeleton=config.skeleton)
    # person 0 of a scene is the subject on the link's axis, person 1 the bystander 1 m to its side
    apart = {
        name: [evaluate_people(pred, presence, gt[:, k : k + 1], gt_mask=mask[:, k : k + 1], skeleton=config.skeleton)
               for k in (0, 1)]
        for name, pred in (("model", persons), ("ridge", ridge)) if name == "model" or model.readout is not None
    }  # fmt: skip
    mean = model.mean_pose.numpy().astype(np.float64)
    constant = np.broadcast_to(mean, persons.shape)
    two = np.broadcast_to((np.arange(s) < 2).astype(np.float64), presence.shape)
    baseline = evaluate_people(constant, two, gt, gt_mask=mask, skeleton=config.skeleton)
    return report, baseline, model, config, apart


def ridge_slots(model: Any, csi: Any) -> np.ndarray:
    """``float[B, S, J, D]``: the slots of the model's closed-form ridge readout alone (fitted on
    the training set's ``k``-th person for slot ``k``), around the mean pose."""
    s, j, d = model.persons, model.joints, model.dims
    return (model.mean_pose + model.readout(model.norm(csi)).reshape(-1, s, j, d)).numpy()


def matching_share(model: Any, config: Any, repeats: int) -> tuple[float, float]:
    """``(step seconds, matching seconds)`` of one training step on a batch of 32 of the run's data."""
    import torch

    from csipose.losses import MultiTaskLoss, match_slots
    from csipose.train.data import load_split
    from csipose.train.distributed import DistContext
    from csipose.train.step import build_optimizer, train_step

    train_set = load_split(config, "train")
    from csipose.data import collate

    batch = collate([train_set[i] for i in range(32)])
    ctx = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    model.train()
    optimizer = build_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    losses = MultiTaskLoss(config.effective_loss_weights())
    for _ in range(3):
        train_step(model, batch, optimizer, scheduler, scaler, losses, config, ctx)
    steps = []
    for _ in range(repeats):
        started = time.perf_counter()
        train_step(model, batch, optimizer, scheduler, scaler, losses, config, ctx)
        steps.append(time.perf_counter() - started)
    with torch.no_grad():
        out = model(batch["csi"])
    d = config.keypoint_dims
    matches = []
    for _ in range(repeats):
        started = time.perf_counter()
        match_slots(out["persons"], out["presence"], batch["keypoints"][..., :d], batch["visibility"], batch["person_mask"])
        matches.append(time.perf_counter() - started)
    return float(np.median(steps)), float(np.median(matches))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--single", type=Path, help="run folder of the single-person model (csipose train)")
    parser.add_argument("--people", type=Path, help="run folder of the person-slot model (--set persons=3)")
    parser.add_argument("--subject-only", type=Path,
                        help="run folder of a single-person model of the subject beside an unlabelled bystander "
                             "(--set synthetic.persons=2)")
    parser.add_argument("--bystander-only", type=Path,
                        help="run folder of a single-person model of the bystander beside an unlabelled subject "
                             "(--set synthetic.persons=2 --set synthetic.labelled_person=1)")
    parser.add_argument("--repeats", type=int, default=30, help="timed training steps")
    parser.add_argument("--quick", action="store_true", help="train tiny runs first and time fewer steps")
    args = parser.parse_args()
    from csipose.config import TrainingConfig

    with tempfile.TemporaryDirectory(prefix="bench-people-") as tmp:
        if args.quick and not (args.single and args.people):
            args.single, args.people = Path(tmp) / "single", Path(tmp) / "people"
            train(args.single, [])
            train(args.people, ["persons=3"])
            args.subject_only, args.bystander_only = Path(tmp) / "subject", Path(tmp) / "bystander"
            train(args.subject_only, ["synthetic.persons=2"])
            train(args.bystander_only, ["synthetic.persons=2", "synthetic.labelled_person=1"])
            args.repeats = 5
        if not (args.single and args.people):
            parser.error("--single and --people run folders are required (or --quick)")
        # the scenes each run generated: its receivers, and the slot run's counts of people
        single_scenes, people_scenes = (TrainingConfig.load(run / "config.toml").synthetic_config()
                                        for run in (args.single, args.people))  # fmt: skip
        if single_scenes.receivers != people_scenes.receivers:
            parser.error("--single and --people must see the room through as many receivers (synthetic.receivers), "
                         f"got {single_scenes.receivers} and {people_scenes.receivers}")
        one = single_report(args.single)
        two, baseline, model, config, apart = two_person_reports(args.people)
        alone = [single_report(run) for run in (args.subject_only, args.bystander_only) if run is not None]
        summary = json.loads((args.people / "summary.json").read_text())
        single_summary = json.loads((args.single / "summary.json").read_text())
        step, match = matching_share(model, config, args.repeats)
    counts = sorted(set(people_scenes.people))
    mix = f"{counts[0]}-{counts[-1]}" if counts == list(range(counts[0], counts[-1] + 1)) and len(counts) > 1 \
        else ", ".join(map(str, counts))
    scenes = f"the run's {mix} person val scenes"

    def row(name: str, pck: float | None, mpjpe: float | None, count: float | None = None, ap: float | None = None) -> str:
        cells = [f"{100 * pck:.1f}%" if pck is not None else "n/a", f"{1000 * mpjpe:.0f} mm" if mpjpe is not None else "n/a",
                 f"{100 * count:.1f}%" if count is not None else "", f"{100 * ap:.1f}%" if ap is not None else ""]  # fmt: skip
        return f"{name:<46}{cells[0]:>9}{cells[1]:>10}{cells[2]:>10}{cells[3]:>9}".rstrip()

    print(f"single-person model: {args.single}; person-slot model ({model.persons} slots): {args.people}")
    print(f"held-out subjects: {list(single_scenes.val_subjects)}; receivers: {single_scenes.receivers}")
    print(f"{'model / scenes':<46}{'PCK@20':>9}{'MPJPE':>10}{'count':>10}{'OKS-AP':>9}")
    print(row("single-person model, one-person scenes", one.pck.pck[1], one.mpjpe))
    print(row("person slots, two-person scenes", two.pck.pck[1], two.mpjpe, two.count_accuracy, two.oks_ap))
    print(row("*mean pose in two slots*, two-person scenes", baseline.pck.pck[1], baseline.mpjpe,
              baseline.count_accuracy, baseline.oks_ap))  # fmt: skip
    for name in ("mean_pose_baseline", "linear_baseline"):
        if name in summary:
            b = summary[name]
            label = "*mean pose*" if name == "mean_pose_baseline" else "*ridge*"
            print(row(f"{label}, {scenes}", b["pck"]["20"], b["mpjpe"], b.get("count_accuracy")))
    for name, label in (("model", "person slots"), ("ridge", "*ridge readout*")):
        for k, who in enumerate(("subject", "bystander")):
            if name in apart:
                print(row(f"{label}, two-person: the {who}", apart[name][k].pck.pck[1], apart[name][k].mpjpe))
    for who, report in zip(("subject", "bystander"), alone):
        print(row(f"one-person model, two-person: the {who}", report.pck.pck[1], report.mpjpe))
    m = summary["model"]
    print(row(f"person slots, {scenes}", m["pck"]["20"], m["mpjpe"], m.get("count_accuracy"),
              m.get("oks_ap")))  # fmt: skip

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    ratio = two.pck.pck[1] / one.pck.pck[1]
    mpjpe_ratio = two.mpjpe / one.mpjpe
    print(f"count accuracy on two-person scenes {100 * two.count_accuracy:.1f}% (goal >= {100 * COUNT_GOAL:.0f}%): "
          f"{verdict(two.count_accuracy >= COUNT_GOAL)}")
    print(f"per-person PCK@20 two-person / one-person = {ratio:.3f} (goal >= {PCK_RATIO_GOAL:.2f}): "
          f"{verdict(ratio >= PCK_RATIO_GOAL)}")
    print(f"MPJPE two-person / one-person = {mpjpe_ratio:.3f} (goal <= {MPJPE_RATIO_GOAL:.2f}): "
          f"{verdict(mpjpe_ratio <= MPJPE_RATIO_GOAL)}")
    subject, bystander = (r.pck.pck[1] for r in apart["model"])
    gap = (one.pck.pck[1] - subject) + (one.pck.pck[1] - bystander)
    share = f"; the bystander holds {100 * (one.pck.pck[1] - bystander) / gap:.0f}% of the gap" if gap > 0 else ""
    print(f"per person on two-person scenes: the subject keeps {subject / one.pck.pck[1]:.3f} of the single-person "
          f"model's PCK@20, the bystander {bystander / one.pck.pck[1]:.3f}{share}")
    if len(alone) == 2:  # each person of the same scenes learned by a model of its own
        pck = sum(r.pck.pck[1] for r in alone) / 2
        mpjpe = sum(r.mpjpe for r in alone) / 2
        print(f"limit in the scenes: a single-person model per person, the other unlabelled, keeps "
              f"{pck / one.pck.pck[1]:.3f} of the single-person PCK@20 ({100 * pck:.1f}%) at an MPJPE ratio of "
              f"{mpjpe / one.mpjpe:.3f} (the person slots: {ratio:.3f}, {mpjpe_ratio:.3f})")
    if "ridge" in apart and "linear_baseline" in single_summary:
        alone = single_summary["linear_baseline"]["pck"]["20"]
        subject, bystander = (r.pck.pck[1] for r in apart["ridge"])
        print(f"the ridge readout on the same scenes: the subject keeps {subject / alone:.3f} of the ridge's PCK@20 "
              f"alone, the bystander {bystander / alone:.3f}")
    if "linear_baseline" in single_summary and "linear_baseline" in summary:
        alone, among = single_summary["linear_baseline"]["pck"]["20"], summary["linear_baseline"]["pck"]["20"]
        print(f"limit in the data: ridge PCK@20 per person {100 * among:.1f}% among 1-3 people against "
              f"{100 * alone:.1f}% alone = {among / alone:.3f} (the model: {m['pck']['20'] / one.pck.pck[1]:.3f})")
    print(f"matching: {1e3 * match:.3f} ms of a {1e3 * step:.1f} ms training step (batch 32) = "
          f"{100 * match / step:.2f}% (goal under {100 * MATCHING_SHARE_GOAL:.0f}%): {verdict(match / step < MATCHING_SHARE_GOAL)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
