"""User mistakes at the `csipose` command line end in one clear line and exit status 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TINY_RUN = [
    "--quiet", "--set", "width=16", "--set", "depth=1", "--set", "heads=2", "--set", "tokens=4",
    "--set", "batch_size=16", "--set", "plots=false", "--set", "features=amplitude", "--set", "linear_baseline=false",
    "--set", "synthetic.subjects=3", "--set", "synthetic.val_subjects=[3]", "--set", "synthetic.frames=4",
    "--set", "synthetic.actions=[squat, wave]",
]  # fmt: skip


def csipose(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "csipose", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env=env)


def one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip() and not ln.startswith("usage:")]
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture()
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("a regular file\n")
    return path


@pytest.mark.parametrize("command", [["data", "synth", "--subjects", "2", "--frames", "2"], ["data", "prepare", "."]])
def test_an_out_folder_under_a_file_is_one_line(tmp_path: Path, a_file: Path, command: list[str]) -> None:
    out = a_file / "deeper" / "out"
    line = one_line_error(csipose(*command, "--out", str(out), cwd=tmp_path), f"--out {out}",
                          f"{a_file} is a file, not a folder")
    assert line.startswith("csipose data: error: ")
    assert not (tmp_path / "deeper").exists()


@pytest.mark.parametrize("command", [["data", "synth", "--subjects", "2", "--frames", "2"], ["data", "prepare", "."]])
def test_an_out_that_is_a_file_is_one_line(tmp_path: Path, a_file: Path, command: list[str]) -> None:
    one_line_error(csipose(*command, "--out", str(a_file), cwd=tmp_path), f"--out {a_file}: exists and is not a folder")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere")
def test_an_out_folder_in_a_read_only_parent_is_one_line(tmp_path: Path) -> None:
    parent = tmp_path / "locked"
    parent.mkdir(mode=0o500)
    try:
        one_line_error(csipose("data", "synth", "--out", str(parent / "tree"), cwd=tmp_path), f"{parent} is not writable")
    finally:
        parent.chmod(0o700)


def test_a_good_out_folder_is_made(tmp_path: Path) -> None:
    out = tmp_path / "new" / "tree"
    done = csipose("data", "synth", "--out", str(out), "--subjects", "2", "--frames", "2", "--actions", "squat",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["E01"]


@pytest.mark.parametrize(("args", "needles"), [
    (["demo", "--frames", "-1"], ["argument --frames: expected an integer >= 1, got -1"]),
    (["demo", "--frames", "0"], ["argument --frames: expected an integer >= 1, got 0"]),
    (["demo", "--seed", "-3"], ["argument --seed: expected an integer >= 0, got -3"]),
    (["train", "--set", "synthetic.foo=1"], ["synthetic.foo: unknown setting; valid synthetic.* keys: seed,", "sway"]),
    (["train", "--set", "epochs=1", "--set", "warmup_epochs=1"], ["warmup_epochs: must be an integer in [0, epochs = 1)"]),
])  # fmt: skip
def test_bad_arguments_and_settings_are_one_line(tmp_path: Path, args: list[str], needles: list[str]) -> None:
    one_line_error(csipose(*args, cwd=tmp_path), *needles)


def test_a_broken_config_file_names_file_format_and_line(tmp_path: Path) -> None:
    (tmp_path / "run.toml").write_text("epochs = 3\nlr: 0.1\n")
    one_line_error(csipose("train", "--config", "run.toml", cwd=tmp_path), "run.toml, line 2: not valid TOML: ")
    (tmp_path / "run.yaml").write_text("epochs: 3\n")
    one_line_error(csipose("train", "--config", "run.yaml", cwd=tmp_path), "run.yaml: YAML is not read")


def test_a_run_dir_under_a_file_is_one_line(tmp_path: Path, a_file: Path) -> None:
    run = a_file / "run"
    one_line_error(csipose("train", *TINY_RUN, "--set", "epochs=2", "--run-dir", str(run), cwd=tmp_path), str(run))


def test_one_epoch_is_trained_without_warmup_and_said_once(tmp_path: Path) -> None:
    done = csipose("train", *TINY_RUN, "--set", "epochs=1", "--run-dir", "run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    notes = [ln for ln in done.stderr.splitlines() if "warm-up" in ln]
    assert notes == ["csipose train: note: no learning-rate warm-up, since epochs = 1 (the default warm-up of one "
                     "epoch must be shorter than the run)"], done.stderr
    assert (tmp_path / "run" / "summary.json").is_file()
    assert "warmup_epochs" not in (tmp_path / "run" / "config.toml").read_text()  # unset stays unset


def test_a_negative_worker_count_names_the_flag(tmp_path: Path) -> None:
    one_line_error(csipose("data", "prepare", ".", "--out", "c", "--workers", "-1", cwd=tmp_path),
                   "--workers: expected an integer >= 0 (0 or 1: read in this process), got -1")
