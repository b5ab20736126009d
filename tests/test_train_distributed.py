"""Two-process CPU data parallelism through torchrun (gloo): the CLI run, optional heads, equal weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.test_cli_train import TINY_SYNTHETIC

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def test_torchrun_two_processes(tmp_path: Path) -> None:
    cmd = [*TORCHRUN, "-m", "csipose", "train", *TINY_SYNTHETIC, "--run-dir", "ddp"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=_env())
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["world_size"] == 2
    # rank 0 scored the whole val split, gathered from both ranks (each holds half)
    from csipose.data.synthetic import SyntheticConfig, SyntheticCsiDataset

    val = SyntheticCsiDataset(SyntheticConfig(subjects=3, val_subjects=(3,), frames=6, features=("amplitude",)), "val")
    assert summary["model"]["frames"] == summary["mean_pose_baseline"]["frames"] == len(val)
    # one process wrote: one line per epoch, one summary line on stdout
    lines = (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(ln)["epoch"] for ln in lines] == [1, 2]
    assert done.stdout.count("best epoch") == 1
    assert "terminate called" not in done.stderr


@pytest.mark.parametrize("mode", ["heatmap", "densepose", "heads-trained"])
def test_optional_heads_train_data_parallel_and_ranks_agree(tmp_path: Path, mode: str) -> None:
    """An enabled head, trained or not, runs under DDP; afterwards both ranks hold the checkpoint's weights."""
    script = Path(__file__).with_name("ddp_run.py")
    root = str(Path(__file__).resolve().parents[1])
    env = {**_env(), "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
    done = subprocess.run([*TORCHRUN, str(script), str(tmp_path), mode], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    from csipose.train import checkpoint as ckpt

    ranks = [(tmp_path / f"weights-rank{r}.txt").read_text() for r in (0, 1)]
    saved = ckpt.weights_sha256(ckpt.load_checkpoint(tmp_path / "run" / "last.pt")["model"])
    assert ranks[0] == ranks[1] == saved
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 2 * 3  # 40 samples: 20 per rank, batches of 8
    # the process group is gone when training returns: no gloo thread lives on into interpreter shutdown
    for r in (0, 1):
        threads = (tmp_path / f"threads-rank{r}.txt").read_text().split()
        assert not [t for t in threads if "gloo" in t], threads


def test_a_killed_data_parallel_run_resumes_to_identical_weights(tmp_path: Path) -> None:
    """Each rank draws its own dropout masks; the checkpoint keeps every rank's RNG state, so the
    resumed run ends on the uninterrupted one's weights."""
    script = Path(__file__).with_name("ddp_resume.py")
    root = str(Path(__file__).resolve().parents[1])
    env = {**_env(), "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
    for phase in ("whole", "cut", "resume"):
        done = subprocess.run([*TORCHRUN, str(script), str(tmp_path), phase], capture_output=True, text=True,
                              timeout=300, cwd=tmp_path, env=env)
        assert done.returncode == 0, phase + done.stdout[-2000:] + done.stderr[-4000:]
        if phase == "cut":
            from csipose.train import checkpoint as ckpt

            cut = ckpt.load_checkpoint(tmp_path / "cut" / "last.pt")
            assert cut["step"] == 4  # 2 ranks, 16 samples each, batches of 8: checkpoints at steps 2 and 4
            ranks = cut["rng_ranks"]
            assert len(ranks) == 2 and not torch.equal(ranks[0]["torch"], ranks[1]["torch"])
    from csipose.train import checkpoint as ckpt

    weights = [ckpt.weights_sha256(ckpt.load_checkpoint(tmp_path / run / "last.pt")["model"]) for run in ("whole", "cut")]
    assert weights[0] == weights[1]
