"""The ``csipose`` command.

Each subcommand lives beside the code it drives and registers itself here; a
:class:`~csipose.errors.CsiposeError`, or an OSError about a path the user gave,
becomes one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from csipose import __version__
from csipose.data.cli import register as register_data
from csipose.domain.adapt_cli import register as register_adapt
from csipose.errors import CsiposeError
from csipose.infer_cli import register as register_infer
from csipose.train import cli as train_cli

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    """Resamples a batch of MM-Fi-shaped CSI and prints what happened."""
    import csipose

    rng = np.random.default_rng(args.seed)
    frames = args.frames
    # MM-Fi frame: 3 rx antennas x 114 subcarriers x 10 packets.
    csi = rng.standard_normal((frames, 3, 114, 10)).astype(np.float32)
    resampler = csipose.Resampler(114, 56, "linear")
    start = time.perf_counter()
    out = resampler.apply(csi, axis=2)
    seconds = time.perf_counter() - start
    rows = frames * 3 * 10
    print(f"csipose {__version__}: {resampler!r} on {csi.shape} float32 -> {out.shape}")
    print(f"  {rows / seconds:,.0f} subcarrier rows/s on {csipose.get_num_threads()} threads")
    w = resampler.matrix()
    print(f"  operator: {w.shape[0]}x{w.shape[1]} sparse, {w.nnz} weights; row 1 taps "
          f"{dict(zip(w[1].indices.tolist(), np.round(w[1].data, 6).tolist()))}")
    chosen = csipose.select_subcarriers_by_variance(out, 8, axis=2)
    print(f"  8 highest-variance subcarriers of the output: {chosen.tolist()}")
    return 0


def _at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum`` (argparse reports anything else in one line)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csipose", description="Human pose from WiFi CSI: data, training and evaluation."
    )
    parser.add_argument("--version", action="version", version=f"csipose {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser("demo", help="resample a batch of MM-Fi-shaped CSI and print figures")
    demo.add_argument("--frames", type=_at_least(1), default=20000, help="frames of (3, 114, 10) CSI")
    demo.add_argument("--seed", type=_at_least(0), default=0)
    demo.set_defaults(handler=_demo)
    register_data(sub)
    train_cli.register(sub)
    register_infer(sub)
    register_adapt(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except CsiposeError as err:
        print(f"csipose {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a path the user named: missing, a file where a folder belongs, no permission
        where = f"{err.filename}: " if err.filename else ""
        print(f"csipose {args.command}: error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"csipose {args.command}: error: out of memory (a smaller size or batch may fit)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"csipose {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
