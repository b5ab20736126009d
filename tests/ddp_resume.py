"""A tiny data-parallel run with dropout for the resume test, launched by torchrun: ``ddp_resume.py OUT PHASE``.

PHASE ``whole`` trains 3 epochs in ``OUT/whole``; ``cut`` the same in ``OUT/cut`` but stops after 5
steps (a kill: the steps after its last checkpoint are lost); ``resume`` continues ``OUT/cut``.
Checkpoints every 2 steps. Dropout draws from each rank's own RNG, so only a resume that gives each
rank back its own RNG state ends on the uninterrupted run's weights.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from csipose.config import TrainingConfig
from csipose.train import loop
from tests.samples import ArraySamples  # the test launching this script puts the repository on PYTHONPATH


def samples(n: int, seed: int) -> ArraySamples:
    rng = np.random.default_rng(seed)
    return ArraySamples(rng.normal(size=(n, 1, 3, 28, 10)).astype(np.float32),
                        (rng.normal(size=(n, 17, 3)) * 0.2).astype(np.float32))


def main(out: Path, phase: str) -> None:
    data = (samples(32, 0), samples(8, 1))
    if phase == "resume":
        loop._train(TrainingConfig(), resume=out / "cut", datasets=data)
        return
    config = TrainingConfig(
        run_dir=str(out / phase), model="mlp", width=16, dropout=0.3, batch_size=8, epochs=3, warmup_epochs=0,
        checkpoint_every_steps=2, plots=False, progress=False, top_k=0, features="amplitude", baseline_samples=32,
    ).validate()  # fmt: skip
    loop._train(config, datasets=data, stop_after_steps=5 if phase == "cut" else None)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
