"""`csipose verify`: the committed hash reproduces here; exit codes 0 / 1 / 2."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from csipose.train import proof
from csipose.train.proof import ProofResult


def test_verify_passes_on_this_platform() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "csipose", "verify"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS" in done.stdout
    recorded = json.loads(proof.HASHES.read_text())[proof.platform_key()]
    assert recorded in done.stdout


def _fake(monkeypatch: pytest.MonkeyPatch, sha: str, final: float) -> None:
    result = ProofResult(sha256=sha, initial_loss=1.0, final_loss=final, steps=3, seconds=0.1)
    monkeypatch.setattr(proof, "run_proof", lambda steps=proof.STEPS: result)


def test_exit_codes_and_generate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashes = tmp_path / "hashes.json"
    out = io.StringIO()
    _fake(monkeypatch, "aa", 0.5)
    assert proof.verify(path=hashes, out=out) == 2  # nothing recorded yet
    assert "no hash recorded" in out.getvalue()
    assert proof.verify(generate=True, path=hashes, out=out) == 0
    assert json.loads(hashes.read_text()) == {proof.platform_key(): "aa"}
    assert proof.verify(path=hashes, out=out) == 0
    _fake(monkeypatch, "bb", 0.5)
    assert proof.verify(path=hashes, out=out) == 1  # hash mismatch
    _fake(monkeypatch, "aa", 0.9)
    assert proof.verify(path=hashes, out=out) == 1  # same bits, but the loss did not fall enough
    assert proof.verify(generate=True, path=hashes, out=out) == 1  # and such a run is not recorded
    assert json.loads(hashes.read_text()) == {proof.platform_key(): "aa"}
