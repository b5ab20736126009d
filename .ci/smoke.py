"""Import-and-score smoke test of an installed csipose, without torch.

Run by .ci/run in a fresh venv of each Python it finds (3.10-3.13).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

import csipose
from csipose.config import TrainingConfig
from csipose.metrics import evaluate

assert "torch" not in sys.modules, "import csipose must not import torch"
assert Path(csipose._core.__file__).name == "_core.abi3.so", csipose._core.__file__

rng = np.random.default_rng(0)
gt = rng.normal(size=(8, 17, 3))
pred = gt + rng.normal(scale=0.01, size=gt.shape)
report = evaluate(pred, gt).to_dict()
assert report["frames"] == 8 and 0.0 < report["mpjpe"] < 0.05, report

costs = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
assert csipose.match_persons(costs).total_cost == 5.0

x = rng.normal(size=(2, 3, 114, 10)).astype(np.float32)
y = csipose.interpolate_subcarriers(x, 56, axis=2)
assert y.shape == (2, 3, 56, 10) and y.dtype == np.float32

with tempfile.TemporaryDirectory() as tmp:  # TOML read with tomllib or, on 3.10, tomli
    path = Path(tmp) / "run.toml"
    path.write_text("epochs = 3\nmodel = 'mlp'\n")
    config = TrainingConfig.load(path)
    assert (config.epochs, config.model) == (3, "mlp")

print(f"smoke: csipose {csipose.__version__} on Python {sys.version.split()[0]}: ok")
