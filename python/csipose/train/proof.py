"""The deterministic training proof behind ``csipose verify``.

A fixed, small run — seed 0, ``torch.use_deterministic_algorithms(True)``, one
thread, a small model trained for :data:`STEPS` AdamW steps on a small synthetic
set — must reproduce, bit for bit, the SHA-256 of its final weights recorded
for this platform in ``proof_hashes.json``, and its loss on the training set
must fall to at most :data:`LOSS_RATIO` of its initial value. The model starts
from a zero pose (no mean-pose prior), so the fall measures learning.

Exit status of ``csipose verify``: 0 pass, 1 fail (hash mismatch or the loss
did not fall), 2 no hash recorded for this platform (``--generate`` records it).
"""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import torch

__all__ = ["ProofResult", "run_proof", "platform_key", "verify", "HASHES", "STEPS", "LOSS_RATIO"]

#: Where the expected hashes live, one per platform key.
HASHES = Path(__file__).with_name("proof_hashes.json")
#: Optimizer steps of the proof run.
STEPS = 30
#: The final training-set loss must be at most this fraction of the initial one.
LOSS_RATIO = 0.7
_BATCH = 16


@dataclass(frozen=True)
class ProofResult:
    """What one proof run produced."""

    sha256: str
    initial_loss: float
    final_loss: float
    steps: int
    seconds: float

    @property
    def loss_fell(self) -> bool:
        return self.final_loss <= LOSS_RATIO * self.initial_loss


def platform_key() -> str:
    """``"{sys.platform}-{machine}-torch{major}.{minor}"``: bits are only comparable within one key."""
    major, minor = torch.__version__.split(".")[:2]
    return f"{sys.platform}-{platform.machine()}-torch{major}.{minor}"


def _proof_data() -> tuple[torch.Tensor, torch.Tensor]:
    """A small synthetic training set: ``csi float32[N, 1, 3, 114, 10]``, ``keypoints float32[N, 17, 3]``."""
    from csipose.data.synthetic import SyntheticConfig, SyntheticCsiDataset

    cfg = SyntheticConfig(seed=0, subjects=3, val_subjects=(3,), frames=16, features=("amplitude",))
    ds = SyntheticCsiDataset(cfg, split="train")
    rows = ds.label_index
    csi = torch.from_numpy(np.ascontiguousarray(ds.csi[rows][:, None]))
    kp = torch.from_numpy(np.ascontiguousarray(ds.keypoints[rows]))
    return csi, kp


def run_proof(steps: int = STEPS) -> ProofResult:
    """Runs the proof in this process (sets 1 thread and deterministic algorithms, then restores them)."""
    from csipose.losses import keypoint_loss
    from csipose.models import build_model
    from csipose.train.checkpoint import weights_sha256

    threads = torch.get_num_threads()
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    start = time.perf_counter()
    try:
        csi, kp = _proof_data()
        torch.manual_seed(0)
        model = build_model(model="csinet", shape=tuple(csi.shape[1:]), width=32, depth=1, heads=2, tokens=4,
                            readout=False)
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01, foreach=False)
        order = torch.randperm(len(csi), generator=torch.Generator().manual_seed(0))

        def full_loss() -> float:
            model.eval()
            with torch.no_grad():
                value = float(keypoint_loss(model(csi)["keypoints"], kp, kind="mse"))
            model.train()
            return value

        initial = full_loss()
        for step in range(steps):
            i = order[(step * _BATCH) % len(csi) :][:_BATCH]
            loss = keypoint_loss(model(csi[i])["keypoints"], kp[i], kind="mse")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        final = full_loss()
        return ProofResult(
            sha256=weights_sha256(model.state_dict()),
            initial_loss=initial,
            final_loss=final,
            steps=steps,
            seconds=time.perf_counter() - start,
        )
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(was_deterministic)


def _read_hashes(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")))


def verify(*, generate: bool = False, path: Path = HASHES, out: TextIO | None = None) -> int:
    """Runs the proof and compares; prints a short report. Returns the exit status (0, 1 or 2)."""
    stream = out if out is not None else sys.stdout
    key = platform_key()
    result = run_proof()
    fell = "fell" if result.loss_fell else "did NOT fall"
    print(
        f"proof: {result.steps} steps in {result.seconds:.1f} s; training loss {result.initial_loss:.4f} -> "
        f"{result.final_loss:.4f} ({fell} to <= {LOSS_RATIO:g} x initial)",
        file=stream,
    )
    print(f"weights sha256 {result.sha256}  [{key}]", file=stream)
    hashes = _read_hashes(path)
    if generate:
        if not result.loss_fell:
            print("not recording: the loss did not fall", file=stream)
            return 1
        hashes[key] = result.sha256
        path.write_text(json.dumps(dict(sorted(hashes.items())), indent=2) + "\n", encoding="utf-8")
        print(f"recorded the hash for {key} in {path}", file=stream)
        return 0
    if key not in hashes:
        print(f"no hash recorded for {key}; run `csipose verify --generate` to record one", file=stream)
        return 2
    if hashes[key] != result.sha256:
        print(f"FAIL: expected {hashes[key]}", file=stream)
        return 1
    if not result.loss_fell:
        print("FAIL: the loss did not fall enough", file=stream)
        return 1
    print("PASS: bit-exact and learning", file=stream)
    return 0
