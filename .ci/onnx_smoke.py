"""An exported model predicts in a venv holding only csipose[onnx] (numpy, onnxruntime; no torch).

    python .ci/onnx_smoke.py make DIR    # with torch: train a tiny model, export it, write raw frames
    python .ci/onnx_smoke.py check DIR   # without torch: predict from the raw frames, as torch did

Run by .ci/run after the test suite.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np


def make(folder: Path) -> None:
    from csipose.config import TrainingConfig
    from csipose.data.synthetic import SyntheticConfig, render
    from csipose.export import export_onnx
    from csipose.infer import Predictor
    from csipose.train.loop import train

    synthetic = {"subjects": 4, "subjects_per_environment": 4, "val_subjects": [4], "frames": 10}
    train(TrainingConfig(epochs=1, synthetic=synthetic, run_dir=str(folder / "run"), plots=False, progress=False,
                         width=16, baseline_samples=200))  # fmt: skip
    export_onnx(folder / "run" / "best.pt", folder / "tiny.onnx", precision="int8")
    seq = next(iter(render(SyntheticConfig(**{**synthetic, "val_subjects": (4,)}), (4,))))
    np.savez(folder / "raw.npz", amplitude=seq.amplitude, phase=seq.phase, keypoints=seq.keypoints[:, 0])
    np.save(folder / "expected.npy", Predictor.load(folder / "tiny.onnx").predict(seq.amplitude, seq.phase))


def check(folder: Path) -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("onnx smoke: torch is installed here; this check needs a venv without it")
    from csipose.infer import Predictor

    raw = np.load(folder / "raw.npz")
    poses = Predictor.load(folder / "tiny.onnx").predict(raw["amplitude"], raw["phase"])
    assert np.array_equal(poses, np.load(folder / "expected.npy")), "predictions differ from the exporting venv's"
    done = subprocess.run(
        [sys.executable, "-m", "csipose", "predict", "--model", str(folder / "tiny.onnx"), "--input",
         str(folder / "raw.npz"), "--out", str(folder / "poses.npz")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "PCK (torso)" in done.stdout, done.stdout
    assert "torch" not in sys.modules
    print(f"onnx smoke: {len(poses)} poses from {folder / 'tiny.onnx'} without torch: ok")


if __name__ == "__main__":
    mode, where = sys.argv[1], Path(sys.argv[2])
    make(where) if mode == "make" else check(where)
