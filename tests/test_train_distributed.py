"""Two-process CPU data parallelism through torchrun (gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.test_cli_train import TINY


def test_torchrun_two_processes(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "csipose", "train", *TINY, "--run-dir", "ddp",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
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
