"""Every benchmark script runs once, tiny, so none can rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHES = sorted((Path(__file__).resolve().parents[1] / "benches").glob("bench_*.py"))


@pytest.mark.parametrize("script", BENCHES, ids=lambda p: p.stem)
def test_bench_runs_quick(script: Path) -> None:
    done = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "x" in done.stdout and done.stdout.strip()
