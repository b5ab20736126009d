"""`csipose verify`: the committed record reproduces here; a moved training fails; exit codes 0 / 1 / 2."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from csipose.errors import ConfigError
from csipose.train import proof
from csipose.train.proof import ProofResult

_VERIFY = "import sys; from pathlib import Path; from csipose.train.proof import verify; sys.exit(verify(path=Path(sys.argv[1])))"


def _records() -> dict:
    return json.loads(proof.HASHES.read_text())


def test_verify_passes_on_this_platform() -> None:
    key = proof.platform_key()
    if key not in _records():
        pytest.skip(f"proof_hashes.json has no record for {key}; `csipose verify --generate` records one")
    done = subprocess.run(
        [sys.executable, "-m", "csipose", "verify"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS" in done.stdout
    recorded = _records()[key]["sha256"].get(proof.cpu_capability())
    if recorded is not None:
        assert recorded in done.stdout and "bit-exact" in done.stdout
    else:
        assert "within tolerance" in done.stdout


@pytest.fixture(scope="module")
def record_here(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A record file made from this machine's own proof run (so these tests need no committed record)."""
    path = tmp_path_factory.mktemp("proof") / "hashes.json"
    assert proof.verify(generate=True, path=path, out=io.StringIO()) == 0
    return path


def test_a_moved_training_fails(record_here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = proof.run_proof
    monkeypatch.setattr(proof, "run_proof", lambda steps=proof.STEPS: run(steps, lr=3e-3 * 1.01))
    out = io.StringIO()
    assert proof.verify(path=record_here, out=out) == 1, out.getvalue()
    assert "FAIL: " in out.getvalue() and "loss" in out.getvalue() and "moved by" in out.getvalue()
    assert "PASS" not in out.getvalue()


@pytest.mark.parametrize("quantity", ["final_loss", "losses", "projection"])
def test_a_moved_record_fails_naming_what_moved(record_here: Path, tmp_path: Path, quantity: str) -> None:
    records = json.loads(record_here.read_text())
    record = records[proof.platform_key()]
    record["sha256"] = {}
    ref = record["reference"]
    if quantity == "final_loss":
        ref["final_loss"] *= 1 + 2 * proof.LOSS_RTOL
        expected = "final loss moved by"
    elif quantity == "losses":
        ref["losses"][4] *= 1 - 2 * proof.LOSS_RTOL
        expected = "loss of step 5 moved by"
    else:
        rms = (sum(v * v for v in ref["projection"]) / len(ref["projection"])) ** 0.5
        ref["projection"][3] += 2 * proof.PROJECTION_RTOL * rms
        expected = "weight projection 3 moved by"
    path = tmp_path / "moved.json"
    path.write_text(json.dumps(records))
    out = io.StringIO()
    assert proof.verify(path=path, out=out) == 1, out.getvalue()
    fails = [line for line in out.getvalue().splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1 and expected in fails[0], out.getvalue()


def test_another_cpu_capability_passes_within_tolerance(record_here: Path) -> None:
    """The record holds only this machine's native capability; the portable kernels must still pass."""
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    done = subprocess.run([sys.executable, "-c", _VERIFY, str(record_here)], capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    capabilities = json.loads(record_here.read_text())[proof.platform_key()]["sha256"]
    if "DEFAULT" in capabilities:
        pytest.skip(f"this machine's native CPU capability is the portable one ({sorted(capabilities)})")
    assert "PASS: within tolerance, no bit-exact record for this CPU capability (DEFAULT)" in done.stdout


def _fake(monkeypatch: pytest.MonkeyPatch, sha: str, final: float, projection: float = 1.0) -> None:
    result = ProofResult(sha256=sha, initial_loss=1.0, final_loss=final, steps=3, seconds=0.1,
                         losses=(1.0, 0.8, 0.6), projection=(projection, -1.0), capability="AVX2")
    monkeypatch.setattr(proof, "run_proof", lambda steps=proof.STEPS: result)


def test_exit_codes_and_generate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashes = tmp_path / "hashes.json"
    key = proof.platform_key()
    out = io.StringIO()
    _fake(monkeypatch, "aa", 0.5)
    assert proof.verify(path=hashes, out=out) == 2  # nothing recorded yet
    assert "nothing recorded" in out.getvalue()
    assert proof.verify(generate=True, path=hashes, out=out) == 0
    assert json.loads(hashes.read_text())[key]["sha256"] == {"AVX2": "aa"}
    assert proof.verify(path=hashes, out=out) == 0
    assert out.getvalue().endswith("PASS: bit-exact (AVX2) and learning\n")
    _fake(monkeypatch, "bb", 0.5, projection=1.001)  # other bits, within tolerance
    out = io.StringIO()
    assert proof.verify(path=hashes, out=out) == 0
    assert "PASS: within tolerance, but not bit-exact" in out.getvalue()
    _fake(monkeypatch, "aa", 0.9)
    out = io.StringIO()
    assert proof.verify(path=hashes, out=out) == 1  # the loss did not fall enough (and moved)
    assert "FAIL: the loss did not fall" in out.getvalue()
    assert proof.verify(generate=True, path=hashes, out=out) == 1  # and such a run is not recorded
    assert json.loads(hashes.read_text())[key]["sha256"] == {"AVX2": "aa"}


def test_generate_adds_a_capability_or_replaces_a_moved_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashes = tmp_path / "hashes.json"
    key = proof.platform_key()
    _fake(monkeypatch, "aa", 0.5)
    assert proof.verify(generate=True, path=hashes, out=io.StringIO()) == 0
    result = dataclasses.replace(proof.run_proof(), sha256="cc", capability="AVX512", projection=(1.001, -1.0))
    monkeypatch.setattr(proof, "run_proof", lambda steps=proof.STEPS: result)
    assert proof.verify(generate=True, path=hashes, out=io.StringIO()) == 0
    record = json.loads(hashes.read_text())[key]
    assert record["sha256"] == {"AVX2": "aa", "AVX512": "cc"}
    assert record["reference"]["projection"] == [1.0, -1.0]  # the first reference stays
    _fake(monkeypatch, "dd", 0.5, projection=2.0)  # the training changed: a new reference
    out = io.StringIO()
    assert proof.verify(generate=True, path=hashes, out=out) == 0
    assert "dropping hashes of AVX2, AVX512" in out.getvalue()
    record = json.loads(hashes.read_text())[key]
    assert record["sha256"] == {"AVX2": "dd"} and record["reference"]["projection"] == [2.0, -1.0]


def test_a_malformed_record_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "hashes.json"
    path.write_text(json.dumps({proof.platform_key(): "f52c0254"}))  # the old one-hash-per-platform layout
    with pytest.raises(ConfigError, match="hashes.json: not a proof record file"):
        proof.verify(path=path, out=io.StringIO())
