"""DensePose from WiFi on held-out synthetic subjects: the trained head beside its baselines and its limit.

For a run trained with ``--set densepose=true`` (and, optionally, the same run without the
DensePose head) this rebuilds the validation split and prints, on the locked DensePose metrics
(:func:`csipose.metrics.evaluate_densepose`) and torso PCK@20:

- ``mean IUV``: the per-pixel average label of the training set, for every frame (the baseline
  of the run's summary);
- ``body on mean pose`` and ``body on linear baseline``: the body surface drawn
  (as below) on the run's joint baselines, the training mean pose and the model's fixed ridge
  readout alone;
- ``DensePose head``: the trained model's part and UV maps;
- ``body on predicted joints``: the body surface drawn through the room's camera on the model's
  own predicted joints (:func:`csipose.densepose.render.render_iuv`): what the keypoint accuracy
  alone allows a surface model that knows the body shape exactly;
- ``body on true joints``: the same drawing on the true joints (the labels up to their 8-bit UV),
  and on the true joints each moved by an independent random 3-D offset of mean length 25, 50
  and 100 mm: how accurate joints must be for a given body-mask IoU.

Then the goal lines: dpAP at least twice the mean IUV's, body-mask IoU at least 0.7, and PCK@20
no worse than the run without the head.

    csipose train --run-dir runs/densepose --set densepose=true
    csipose train --run-dir runs/default
    python benches/bench_densepose.py runs/densepose/best.pt runs/default/best.pt
    python benches/bench_densepose.py --quick     # trains a tiny run first (a smoke run)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from csipose.densepose.render import render_iuv
from csipose.metrics.densepose import evaluate_densepose
from csipose.train.baselines import baseline_poses, densepose_baseline
from csipose.train.data import load_data
from csipose.train.distributed import DistContext
from csipose.train.evaluate import PCK_KEY, predict, predict_all
from csipose.train.loop import train
from csipose.train.scoring import score
from csipose.train.state import load_model
from csipose.config import TrainingConfig


def drawn_on(joints: np.ndarray, val_set: Any) -> np.ndarray:
    """``float32[N, 3, H, W]``: the body surface on ``joints [N, 17, 3]`` through each sample's room camera."""
    out = np.zeros((len(joints), 3, val_set.config.densepose_size, val_set.config.densepose_size), np.float32)
    rooms = val_set.environment[val_set.label_index]
    for room, camera in val_set.densepose_cameras.items():
        rows = np.flatnonzero(rooms == room)
        image = render_iuv(joints[rows][:, None].astype(np.float64), camera)
        out[rows] = np.stack([image.parts.astype(np.float32), image.u, image.v], axis=1)
    return out


def rows(checkpoint: Path) -> tuple[list[tuple[str, Any, float | None]], Any]:
    model, config = load_model(checkpoint)
    if not config.densepose:
        raise SystemExit(f"{checkpoint}: trained without the DensePose head (--set densepose=true)")
    train_set, val_set = load_data(config)
    ctx = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    _, pred, gt, vis, iuv, confidence, truth = predict_all(model, val_set, config, ctx)
    ones = np.ones(len(truth))
    pck = score(pred, gt, vis, config.skeleton).to_dict()["pck"][PCK_KEY]
    table = [("mean IUV", densepose_baseline(train_set, val_set, samples=config.baseline_samples), None)]
    mean, linear = baseline_poses(model, val_set)
    baselines = [("mean pose", mean)] + ([("linear baseline", linear)] if linear is not None else [])
    for name, joints in baselines:
        joint_pck = score(joints, gt, vis, config.skeleton).to_dict()["pck"][PCK_KEY]
        table.append((f"body on {name}", evaluate_densepose(drawn_on(joints, val_set), truth, scores=ones),
                      joint_pck))
    table += [
        ("DensePose head", evaluate_densepose(iuv, truth, scores=confidence), pck),
        ("body on predicted joints", evaluate_densepose(drawn_on(pred, val_set), truth, scores=ones), pck),
        ("body on true joints", evaluate_densepose(drawn_on(gt, val_set), truth, scores=ones), 1.0),
    ]
    rng = np.random.default_rng(0)
    for mm in (25, 50, 100):  # the mean length of a 3-D Gaussian offset is sigma * sqrt(8 / pi)
        moved = gt + rng.normal(scale=mm / 1000 / np.sqrt(8 / np.pi), size=gt.shape)
        moved_pck = score(moved, gt, vis, config.skeleton).to_dict()["pck"][PCK_KEY]
        table.append((f"  true joints +{mm} mm", evaluate_densepose(drawn_on(moved, val_set), truth, scores=ones),
                      moved_pck))
    return table, config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", nargs="?", default="runs/densepose/best.pt", help="a run trained with densepose=true")
    parser.add_argument("without", nargs="?", default=None, help="the same run without the DensePose head (PCK goal)")
    parser.add_argument("--quick", action="store_true", help="train a tiny run first and score it (a smoke run)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(args.checkpoint)
        if args.quick:
            synthetic = {"subjects": 6, "subjects_per_environment": 6, "val_subjects": [3, 6], "frames": 8}
            config = TrainingConfig(densepose=True, densepose_size=16, epochs=1, width=16, synthetic=synthetic,
                                    run_dir=str(Path(tmp) / "run"), plots=False, progress=False)  # fmt: skip
            train(config)
            checkpoint = Path(tmp) / "run" / "best.pt"
        table, config = rows(checkpoint)
    print(f"{checkpoint}: {config.densepose_size} x {config.densepose_size} DensePose labels of held-out subjects")
    print(f"{'':<26}{'dpAP':>7}{'AP50':>7}{'AP75':>7}{'GPSm':>7}{'part mIoU':>11}{'mask IoU':>10}{'PCK@20':>8}")
    for name, r, pck in table:
        shown = f"{100 * pck:7.1f}" if pck is not None else f"{'':>7}"
        print(f"{name:<26}{100 * r.dp_ap:7.1f}{100 * r.dp_ap50:7.1f}{100 * r.dp_ap75:7.1f}{r.gpsm:7.3f}"
              f"{100 * r.part_miou:11.1f}{r.mask_iou:10.3f}{shown}")
    base = table[0][1]
    head = next(r for name, r, _ in table if name == "DensePose head")
    drawn = next(r for name, r, _ in table if name == "body on predicted joints")
    ratio = head.dp_ap / base.dp_ap if base.dp_ap > 0 else float("inf")
    print(f"goal dpAP >= 2x the mean IUV's: {100 * head.dp_ap:.1f}% vs {100 * base.dp_ap:.1f}% = {ratio:.1f}x: "
          f"{'met' if ratio >= 2 else 'NOT met'}")
    print(f"goal body-mask IoU >= 0.7: {head.mask_iou:.3f}: {'met' if head.mask_iou >= 0.7 else 'NOT met'} "
          f"(the body drawn on the predicted joints: {drawn.mask_iou:.3f})")
    if args.without:
        plain, plain_config = load_model(Path(args.without))
        _, val_set = load_data(plain_config)
        ctx = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
        _, pred, gt, vis = predict(plain, val_set, plain_config, ctx)
        without = score(pred, gt, vis, plain_config.skeleton).to_dict()["pck"][PCK_KEY]
        with_head = next(p for name, _, p in table if name == "DensePose head") or 0.0
        print(f"goal PCK@20 no worse than without the head: {100 * with_head:.1f}% vs {100 * without:.1f}%: "
              f"{'met' if with_head >= without else 'NOT met'}")


if __name__ == "__main__":
    main()
