"""A tiny data-parallel run for tests, launched by torchrun: ``ddp_run.py OUT MODE``.

MODE picks the optional heads: ``heatmap`` / ``densepose`` (enabled, loss weight 0: their
parameters get no gradient) or ``heads-trained`` (both heads, each with a weighted loss).
Every rank writes ``OUT/weights-rank{RANK}.txt``, the SHA-256 of its model's weights after
the run, so the test can check that all ranks hold the same model, and
``OUT/threads-rank{RANK}.txt``, the names of its threads once training returned (the
process group destroyed: no gloo thread may be left to interpreter shutdown).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from csipose.config import TrainingConfig
from csipose.train import checkpoint as ckpt
from csipose.train import loop
from tests.samples import ArraySamples  # the test launching this script puts the repository on PYTHONPATH

MODES: dict[str, dict[str, Any]] = {
    "heatmap": {"heatmap": True},
    "densepose": {"densepose": True, "densepose_size": 16,
                  "loss_weights": {"keypoints": 1.0, "densepose_parts": 0.0, "densepose_uv": 0.0}},
    "heads-trained": {
        "heatmap": True, "densepose": True, "densepose_size": 16,
        "loss_weights": {"keypoints": 1.0, "heatmap": 0.5, "densepose_parts": 0.5, "densepose_uv": 0.5},
    },
}  # fmt: skip


def samples(n: int, seed: int) -> ArraySamples:
    """Contract samples with DensePose labels (``densepose: float32[3, 16, 16]``: part 0-24, U, V)."""
    rng = np.random.default_rng(seed)
    iuv = rng.random(size=(n, 3, 16, 16)).astype(np.float32)
    iuv[:, 0] = rng.integers(0, 25, size=(n, 16, 16))
    return ArraySamples(
        rng.normal(size=(n, 1, 3, 28, 10)).astype(np.float32),
        (rng.normal(size=(n, 17, 3)) * 0.2).astype(np.float32),
        densepose=iuv,
    )


def main(out: Path, mode: str) -> None:
    config = TrainingConfig(
        run_dir=str(out / "run"), width=16, depth=1, heads=2, tokens=4, batch_size=8, epochs=2, warmup_epochs=0,
        plots=False, progress=False, top_k=0, features="amplitude", baseline_samples=64, **MODES[mode],
    ).validate()  # fmt: skip
    models: list[Any] = []
    step = loop.train_step

    def remember_model(net: Any, *args: Any, **kwargs: Any) -> float:
        models[:] = [getattr(net, "module", net)]  # the model, not its DDP wrapper (which holds the group)
        return step(net, *args, **kwargs)

    loop.train_step = remember_model  # type: ignore[assignment]
    loop._train(config, datasets=(samples(40, 0), samples(12, 1)))
    model = models[0]
    rank = os.environ.get("RANK", "0")
    (out / f"weights-rank{rank}.txt").write_text(ckpt.weights_sha256(model.state_dict()))
    (out / f"threads-rank{rank}.txt").write_text("\n".join(_thread_names()))


def _thread_names() -> list[str]:
    """The kernel's names of this process's threads (C++ threads included)."""
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        return []
    return sorted((task / "comm").read_text().strip() for task in tasks.iterdir())


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
