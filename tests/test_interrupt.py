"""Ctrl-C reaches a long Rust call: it raises KeyboardInterrupt, and the next call works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

# A 3000 x 3000 assignment whose costs i * j defeat the solver's shortcuts: seconds of work.
CHILD = textwrap.dedent(
    """
    import signal
    import time
    import numpy as np
    import csipose

    # Python's own Ctrl-C handler even where the parent ignores SIGINT (a shell's background job)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    i = np.arange(3000.0)
    costs = np.outer(i, i)
    print("ready", flush=True)
    start = time.perf_counter()
    try:
        csipose.match_persons(costs)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print(f"interrupted after {time.perf_counter() - start:.3f} s", flush=True)
    small = csipose.match_persons(np.array([[1.0, 0.0], [0.0, 1.0]]))
    print("next call", small.total_cost, flush=True)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_stops_a_long_kernel_call() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    waited = time.monotonic() - sent
    assert child.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("interrupted after"), out
    assert lines[1] == "next call 0.0", out
    # The poll runs every 50 ms; generous for a loaded machine, far below the
    # seconds the uninterrupted call takes.
    assert waited < 3.0, f"the call took {waited:.1f} s to answer Ctrl-C"
