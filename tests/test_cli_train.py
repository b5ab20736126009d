"""`csipose train / eval` from the command line: errors are one line, a tiny run works end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TINY_MODEL = [
    "--quiet", "--set", "epochs=2", "--set", "warmup_epochs=0", "--set", "width=16", "--set", "depth=1",
    "--set", "heads=2", "--set", "tokens=4", "--set", "batch_size=16", "--set", "plots=false",
    "--set", "features=amplitude", "--set", "window=1",
]  # fmt: skip
#: A tiny synthetic run: three subjects (one held out), six frames per sequence.
TINY_SYNTHETIC = [*TINY_MODEL, "--set", "synthetic.subjects=3", "--set", "synthetic.val_subjects=[3]",
                  "--set", "synthetic.frames=6"]  # fmt: skip


def csipose(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "csipose", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], needle: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, done.stderr
    assert needle in lines[0], lines[0]


@pytest.mark.parametrize(("args", "needle"), [
    (["train", "--set", "epochs=0"], "epochs: must be a positive integer"),
    (["train", "--set", "nosuch=1"], "unknown key 'nosuch'"),
    (["train", "--config", "missing.toml"], "missing.toml: cannot read config file"),
    (["train", "--set", "data=mmfi", "--set", "mmfi_root=/no/such/mmfi"], "mmfi_root: '/no/such/mmfi' is not a folder"),
    (["train", "--set", "synthetic.subjects=20"], "synthetic.val_subjects: expected an integer in 1..20, got 25"),
    (["train", "--set", "synthetic.sway=-0.1"], "synthetic.sway: expected a number >= 0.0"),
    (["train", "--resume", "no_such_run"], "no checkpoint to resume from"),
    (["train", "--resume", "r", "--set", "epochs=2"], "--resume continues a run"),
    (["eval", "--checkpoint", "missing.pt"], "missing.pt: checkpoint file not found"),
    (["train", "--resume", "r", "--overwrite"], "--resume continues a run in its own folder; drop --overwrite"),
])  # fmt: skip
def test_errors_are_one_clear_line(tmp_path: Path, args: list[str], needle: str) -> None:
    assert_one_line_error(csipose(*args, cwd=tmp_path), needle)


def test_corrupt_checkpoint_and_bad_config_file(tmp_path: Path) -> None:
    (tmp_path / "bad.pt").write_bytes(b"\x00garbage")
    assert_one_line_error(csipose("eval", "--checkpoint", "bad.pt", cwd=tmp_path), "not a readable checkpoint")
    (tmp_path / "c.toml").write_text("epochs = 3\nwarmup_epochs = 9\n")
    assert_one_line_error(csipose("train", "--config", "c.toml", cwd=tmp_path), "warmup_epochs")


def test_resume_from_a_file_and_training_into_a_run_are_refused(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "best.pt").write_bytes(b"")
    assert_one_line_error(csipose("train", "--resume", "old/best.pt", cwd=tmp_path),
                          "--resume: expected a run folder (RUN_DIR), got the file old/best.pt; pass old")
    (tmp_path / "old" / "config.toml").write_text("epochs = 3\n")
    assert_one_line_error(csipose("train", "--run-dir", "old", cwd=tmp_path),
                          "run_dir: 'old' already holds a run (best.pt, config.toml); choose a new run_dir, "
                          "or overwrite it (csipose train --overwrite)")
    assert (tmp_path / "old" / "best.pt").exists()


def test_settings_lists_every_setting(tmp_path: Path) -> None:
    done = csipose("train", "--settings", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    from csipose.config import TrainingConfig

    for name in ("epochs", "run_dir", "loss_weights", "subcarrier_mode"):
        assert name in done.stdout
    assert len(done.stdout.splitlines()) >= len(TrainingConfig.__dataclass_fields__)
    assert not (tmp_path / "runs").exists()  # it trains nothing


def test_settings_prints_what_describe_settings_gives(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI side alone: ``--settings`` prints csipose.config.describe_settings() and trains nothing."""
    from csipose import config
    from csipose.cli import main

    monkeypatch.setattr(config, "describe_settings", lambda: "epochs = 24\n    Training epochs.")
    assert main(["train", "--settings", "--run-dir", "never"]) == 0
    assert capsys.readouterr().out == "epochs = 24\n    Training epochs.\n"


def test_bad_arguments_exit_nonzero_without_traceback(tmp_path: Path) -> None:
    done = csipose("eval", cwd=tmp_path)  # --checkpoint is required
    assert done.returncode == 2 and "Traceback" not in done.stderr and "--checkpoint" in done.stderr


def test_train_eval_and_resume_end_to_end(tmp_path: Path) -> None:
    done = csipose("train", *TINY_SYNTHETIC, "--run-dir", "run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "best epoch" in done.stdout and "baselines: mean pose" in done.stdout and "linear" in done.stdout
    assert done.stdout.splitlines()[-1] == "run written to run"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["epochs_run"] == 2 and summary["data"] == "synthetic"

    ev = csipose("eval", "--checkpoint", "run/best.pt", "--json", cwd=tmp_path)
    assert ev.returncode == 0, ev.stderr
    report = json.loads(ev.stdout)
    assert report["pck"] == summary["model"]["pck"]  # the best checkpoint reproduces its score
    text = csipose("eval", "--checkpoint", "run/best.pt", cwd=tmp_path)
    assert text.returncode == 0 and "PCK" in text.stdout
    assert_one_line_error(csipose("eval", "--checkpoint", "run/best.pt", "--cache", "c", cwd=tmp_path),
                          "--cache: MM-Fi data only, but run/best.pt is evaluated on synthetic data")

    again = csipose("train", "--resume", "run", "--quiet", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == summary["steps"]


def test_train_on_an_mmfi_tree(tmp_path: Path) -> None:
    """The MM-Fi path end to end: a synthetic MM-Fi tree, protocol P3, cross-subject split."""
    from csipose.data.synthetic import SyntheticConfig, write_mmfi_tree
    from csipose.data.synthetic.body import ACTIONS

    synth = SyntheticConfig(subjects=5, val_subjects=(5,), frames=4, actions=tuple(ACTIONS)[:2])
    write_mmfi_tree(tmp_path / "mmfi", synth)
    done = csipose(
        "train", *TINY_MODEL, "--set", "data=mmfi", "--set", "mmfi_root=mmfi", "--set", "mmfi_protocol=P3",
        "--set", "mmfi_scheme=S2", "--set", "epochs=1", "--run-dir", "run", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["data"] == "mmfi" and summary["model"]["frames"] == 2 * 4  # subject 5: 2 actions x 4 frames
    # The packed cache alone, with the tree moved away: the same split, the same frames.
    assert csipose("data", "prepare", "mmfi", "--out", "cache", cwd=tmp_path).returncode == 0
    (tmp_path / "mmfi").rename(tmp_path / "moved")
    done = csipose(
        "train", *TINY_MODEL, "--set", "data=mmfi", "--set", "mmfi_cache=cache", "--set", "mmfi_protocol=P3",
        "--set", "mmfi_scheme=S2", "--set", "epochs=1", "--run-dir", "run2", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "run2" / "summary.json").read_text())["model"]["frames"] == 2 * 4


def test_overwrite_replaces_a_run_and_a_log_gets_one_line_per_epoch(tmp_path: Path) -> None:
    """Without a terminal (here: a pipe) there is no progress bar, only the baselines and one line per epoch."""
    args = [a for a in TINY_SYNTHETIC if a != "--quiet"]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "epoch0009.pt").write_bytes(b"stale")
    (tmp_path / "run" / "config.toml").write_text("epochs = 9\n")
    done = csipose("train", *args, "--set", "top_k=0", "--run-dir", "run", "--overwrite", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "run" / "epoch0009.pt").exists()  # the stale checkpoint went with the old run
    assert "\r" not in done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 3 and lines[0].startswith("baselines on the val split")
    assert lines[1].startswith("epoch 1: train loss") and lines[2].startswith("epoch 2: train loss")


def test_eval_on_cuda_without_cuda_is_one_clear_line(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: eval --device cuda is a valid request here")
    done = csipose("eval", "--checkpoint", "missing.pt", "--device", "cuda", cwd=tmp_path)
    assert_one_line_error(done, "--device cuda: no CUDA device is available here")
