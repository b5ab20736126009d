"""Training throughput on CPU: samples/s of one optimizer step, and time spent waiting for data.

Runs the default model, input shape and batch size of ``TrainingConfig`` on
random batches of the contract's shape. Two numbers:

* compute: ``train_step`` on batches already in memory (forward, losses,
  backward, clipping, AdamW, schedule), in samples/s;
* loader: the same steps fed by the default DataLoader settings
  (``workers = 0``, the contract collate) from an in-memory dataset; the
  share of step time spent waiting for the next batch is printed, with the
  ratio of fed to compute-only throughput.

``--quick`` runs a few steps only (the test suite uses it).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch


class _Frames:
    """In-memory contract-shaped samples ``csi: float32[W, C, S, P]`` (S = 114, P = 10)."""

    def __init__(self, n: int, window: int, channels: int) -> None:
        rng = np.random.default_rng(0)
        self.csi = rng.random((n, window, channels, 114, 10), dtype=np.float32)
        self.kp = rng.normal(size=(n, 17, 3)).astype(np.float32)

    def __len__(self) -> int:
        return len(self.kp)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {
            "csi": self.csi[i], "keypoints": self.kp[i], "visibility": np.ones(17, np.float32),
            "subject": np.int64(1), "action": np.int64(1), "environment": np.int64(1), "frame": np.int64(i + 1),
        }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few steps only")
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    steps = 4 if args.quick else args.steps

    from csipose import TrainingConfig
    from csipose.losses import MultiTaskLoss
    from csipose.models import build_model, count_parameters
    from csipose.train import loop
    from csipose.train.distributed import DistContext
    from csipose.train.schedule import build_scheduler

    config = TrainingConfig(progress=False)
    ctx = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    channels = 6 if config.features == "both" else 3
    data = _Frames(config.batch_size * (steps + 2), config.window, channels)
    torch.manual_seed(0)
    model = build_model(**loop.model_settings(config, data))
    optimizer = loop.build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config, steps_per_epoch=steps + 2)
    scaler = loop.grad_scaler(config, ctx)
    losses = MultiTaskLoss(config.loss_weights)

    def step(batch: dict[str, torch.Tensor]) -> None:
        loop.train_step(model, batch, optimizer, scheduler, scaler, losses, config, ctx)

    batches = list(loop.train_loader(data, config, ctx, epoch=0))
    step(batches[0])  # warm-up
    start = time.perf_counter()
    for b in batches[1 : steps + 1]:
        step(b)
    compute = time.perf_counter() - start

    waited = 0.0
    it = iter(loop.train_loader(data, config, ctx, epoch=1))
    step(next(it))
    start = time.perf_counter()
    for _ in range(steps):
        t0 = time.perf_counter()
        b = next(it)
        waited += time.perf_counter() - t0
        step(b)
    fed = time.perf_counter() - start

    n = steps * config.batch_size
    print(f"default model: {count_parameters(model):,} params, batch {config.batch_size} of "
          f"[W={config.window}, C={channels}, S=114, P=10], {torch.get_num_threads()} threads, {steps} steps")
    print(f"  train step, batches in memory : {n / compute:8.0f} samples/s  ({1000 * compute / steps:.1f} ms/step)")
    print(f"  train step, default loader    : {n / fed:8.0f} samples/s  ({1000 * fed / steps:.1f} ms/step)")
    print(f"  waiting for data              : {100 * waited / fed:8.1f} % of step time")
    print(f"  loader-fed / in-memory speed  : {compute / fed:8.2f} x")


if __name__ == "__main__":
    main()
