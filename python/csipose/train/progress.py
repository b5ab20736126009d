"""Progress of a run on stderr (rank 0 only): a tqdm bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["StepProgress"]


class StepProgress:
    """Shows epoch, step, loss, samples/s and the ETA of the whole run.

    On a terminal this is a tqdm bar (imported lazily). When the stream is not a terminal (a log
    file, a pipe) a bar would write a line per refresh, so there is no bar: only the lines given
    to :meth:`write` (one per epoch) appear.

    Args:
        total_steps: optimizer steps of the whole run.
        done_steps: steps already done (a resumed run starts part-way).
        enabled: ``False`` makes every method a no-op.
        stream: where to write (default ``sys.stderr``).
    """

    def __init__(
        self, *, total_steps: int, done_steps: int = 0, enabled: bool = True, stream: TextIO | None = None
    ) -> None:
        self._bar: Any = None
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = enabled
        self._samples = 0
        self._start = time.perf_counter()
        if enabled and _is_terminal(self._stream):
            from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]

            self._bar = tqdm(
                total=total_steps,
                initial=done_steps,
                unit="step",
                dynamic_ncols=True,
                file=self._stream,
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
        """Prints a line (without breaking the bar)."""
        if not self._enabled:
            return
        if self._bar is not None:
            self._bar.write(line, file=self._stream)
        else:
            print(line, file=self._stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
