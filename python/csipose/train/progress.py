"""A tqdm progress bar for training steps (rank 0 only; tqdm imported lazily)."""

from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["StepProgress"]


class StepProgress:
    """Shows epoch, step, loss, samples/s and the ETA of the whole run.

    Args:
        total_steps: optimizer steps of the whole run.
        done_steps: steps already done (a resumed run starts part-way).
        enabled: ``False`` makes every method a no-op.
    """

    def __init__(self, *, total_steps: int, done_steps: int = 0, enabled: bool = True) -> None:
        self._bar: Any = None
        self._samples = 0
        self._start = time.perf_counter()
        if enabled:
            from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]

            self._bar = tqdm(
                total=total_steps,
                initial=done_steps,
                unit="step",
                dynamic_ncols=True,
                file=sys.stderr,
                leave=True,
            )

    def update(self, *, epoch: int, epochs: int, samples: int, loss: float) -> None:
        """Records one optimizer step of ``samples`` samples."""
        if self._bar is None:
            return
        self._samples += samples
        rate = self._samples / max(time.perf_counter() - self._start, 1e-9)
        self._bar.set_postfix_str(f"epoch {epoch}/{epochs} loss {loss:.4f} {rate:,.0f} samples/s", refresh=False)
        self._bar.update(1)

    def write(self, line: str) -> None:
        """Prints a line without breaking the bar."""
        if self._bar is None:
            return
        self._bar.write(line, file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
