"""Every benchmark script runs once, tiny, so none can rot; each prints what it exists to print."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHES = sorted((Path(__file__).resolve().parents[1] / "benches").glob("bench_*.py"))
# A ratio against a peer ("7.2x", "0.98 x", "x78"), or for the model table one row per (family, model).
EXPECTED = {"bench_models": r"\| dense_map \| mlp \| [\d,]+ \| \d+\.\d% \| \d+ mm \| [+-]\d+\.\d \|"}
RATIO = r"\d(\.\d+)? ?x\b|\bx\d"


@pytest.mark.parametrize("script", BENCHES, ids=lambda p: p.stem)
def test_bench_runs_quick(script: Path) -> None:
    done = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert re.search(EXPECTED.get(script.stem, RATIO), done.stdout), done.stdout
