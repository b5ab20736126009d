"""Where a trained model's error lies, and what the synthetic channel can tell apart.

For a checkpoint (default ``runs/default/best.pt``) this rebuilds the run's
validation split and prints the mean absolute error of the pose centroid on each
camera axis, for the model and for the train-set mean pose, and torso PCK@20 as
predicted and with the true centroid put back on camera x alone (the
transmitter-receiver axis of the synthetic room). Then, in the default room, it
prints how much one frame's cleaned amplitude changes when the body moves 5 cm
along the link and 5 cm across it, against the change receiver noise makes.

    python benches/bench_errors.py runs/default/best.pt
    python benches/bench_errors.py --quick      # trains a tiny run first (a smoke run)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from csipose.config import TrainingConfig
from csipose.data.synthetic import SyntheticConfig, body, radio
from csipose.data.cleaning import clean_amplitude
from csipose.data.synthetic.generate import make_environment
from csipose.train.distributed import DistContext
from csipose.train.data import load_data, mean_pose
from csipose.train.evaluate import PCK_KEY, predict
from csipose.train.scoring import score
from csipose.train.loop import train
from csipose.train.state import load_model

AXES = ("x (along the link)", "y (vertical)", "z (depth)")


def centroid_errors(checkpoint: Path) -> None:
    model, config = load_model(checkpoint)
    train_set, val_set = load_data(config)
    ctx = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    _, pred, gt, vis = predict(model, val_set, config, ctx)
    mean = np.broadcast_to(mean_pose(train_set)[:, : pred.shape[-1]], pred.shape)
    centre = gt.mean(axis=1)
    model_err = np.abs(pred.mean(axis=1) - centre).mean(axis=0)
    mean_err = np.abs(mean.mean(axis=1) - centre).mean(axis=0)
    print(f"{checkpoint}: {len(gt)} validation frames")
    print("centroid error per camera axis   model    mean pose")
    for axis, a, b in zip(AXES, model_err, mean_err):
        print(f"  {axis:<28} {1000 * a:6.1f} mm {1000 * b:6.1f} mm")
    fixed = pred.copy()
    fixed[..., 0] += (centre - pred.mean(axis=1))[:, None, 0]
    as_is, on_x = (score(p, gt, vis).to_dict()["pck"][PCK_KEY] for p in (pred, fixed))
    print(f"torso PCK@20: {100 * as_is:.1f}% as predicted, {100 * on_x:.1f}% with the true centre on x")


def amplitude_change(dx: float, dy: float, *, noise: bool = False) -> float:
    """Norm of the change in one frame's cleaned amplitude ``[3, 114, 10]`` (arm raise, reference body)."""
    cfg = SyntheticConfig()
    scene, paths = make_environment(cfg, 1)
    times = np.arange(cfg.packets) / cfg.packet_rate_hz
    angles = body.action_angles("arm_raise", times, np.random.default_rng(0))
    angles["yaw"] = angles["yaw"] - np.pi / 2  # facing the camera
    subject = body.Subject(1.0, 1.0)
    rcs = radio.BODY_RCS * body.POINT_WEIGHTS / body.POINT_WEIGHTS.sum()

    def frame(offset: np.ndarray, impaired: bool) -> np.ndarray:
        points = body.body_points(body.forward_kinematics(angles, subject, scene.stage + offset))[None]
        h = radio.channel(points, body.POINT_WEIGHTS, rcs, scene, paths, radio.tone_frequencies())
        if impaired:
            h = radio.impair(h, np.random.default_rng(1), snr_db=cfg.snr_db)
        return clean_amplitude(np.abs(h.transpose(0, 2, 3, 1)))

    still = frame(np.zeros(2), False)
    return float(np.linalg.norm(frame(np.array([dx, dy]), noise) - still))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", type=Path, default=Path("runs/default/best.pt"))
    parser.add_argument("--quick", action="store_true", help="train a tiny run first and analyse it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint
        if args.quick:
            tiny = TrainingConfig(
                run_dir=tmp, epochs=1, warmup_epochs=0, width=16, depth=1, heads=2, tokens=4, plots=False,
                progress=False, features="amplitude",
                synthetic={"subjects": 3, "val_subjects": [3], "frames": 6, "actions": ["wave", "squat"]},
            )  # fmt: skip
            train(tiny)
            checkpoint = Path(tmp) / "best.pt"
        centroid_errors(checkpoint)
    noise = amplitude_change(0.0, 0.0, noise=True)
    along, across = amplitude_change(0.05, 0.0), amplitude_change(0.0, 0.05)
    print(f"cleaned amplitude change, one frame: noise {noise:.2f}, 5 cm along the link {along:.2f}, "
          f"5 cm across {across:.2f} (along / across = {along / across:.2f}x)")


if __name__ == "__main__":
    main()
