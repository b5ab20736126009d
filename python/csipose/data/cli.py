"""``csipose data ...``: dataset preparation commands."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from csipose.data.synthetic.cli import add_synth_parser
from csipose.errors import ArgumentError

__all__ = ["register", "check_out_dir"]


def check_out_dir(path: str | os.PathLike[str]) -> None:
    """Raises ArgumentError naming ``--out`` and the reason when the folder cannot be made.

    Checked in the main process before any work starts, so a bad ``--out`` is one line, not a
    traceback from every worker; nothing is created here.
    """
    out = Path(path)
    if out.exists():
        if not out.is_dir():
            raise ArgumentError(f"--out {path}: exists and is not a folder")
        if not os.access(out, os.W_OK | os.X_OK):
            raise ArgumentError(f"--out {path}: the folder is not writable")
        return
    ancestor = out.absolute().parent
    while not ancestor.exists() and not ancestor.is_symlink():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        what = "a file" if ancestor.is_file() else "a broken link" if ancestor.is_symlink() else "not a folder"
        raise ArgumentError(f"--out {path}: cannot create the folder: {ancestor} is {what}, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ArgumentError(f"--out {path}: cannot create the folder: {ancestor} is not writable")


def _checking_out(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        check_out_dir(args.out)
        return handler(args)

    return run


def _prepare(args: argparse.Namespace) -> int:
    from csipose.data.cache import prepare_mmfi

    if args.workers is not None and args.workers < 0:
        raise ArgumentError(f"--workers: expected an integer >= 0 (0 or 1: read in this process), got {args.workers}")
    manifest = prepare_mmfi(args.root, args.out, workers=args.workers, progress=not args.quiet)
    sequences = manifest["sequences"]
    print(
        f"csipose data prepare: packed {manifest['frames']} frames of {len(sequences)} sequences into {args.out} "
        f"in {manifest['seconds']:.1f} s; skipped {len(manifest['skipped'])} empty frame file(s)"
    )
    for path in manifest["skipped"][:10]:
        print(f"  skipped (0 bytes): {path}")
    if len(manifest["skipped"]) > 10:
        print(f"  ... and {len(manifest['skipped']) - 10} more, listed in {args.out}/manifest.json")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from csipose.io.capture import read_capture
    from csipose.io.inspect import describe_capture, plot_capture

    if args.plot and Path(args.plot).suffix.lower() != ".png":
        raise ArgumentError(f"--plot: expected a .png file name, got {args.plot}")
    recording = read_capture(args.capture, args.format, chip=args.chip, bandwidth=args.bandwidth)
    print(describe_capture(recording))
    if args.plot:
        print(f"  plot         {plot_capture(recording, args.plot)}")
    return 0


def register(subparsers: Any) -> None:
    """Adds ``data prepare``, ``data synth`` and ``data inspect`` to the ``csipose`` command."""
    data = subparsers.add_parser("data", help="prepare MM-Fi caches, write synthetic MM-Fi trees, inspect captures")
    sub = data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    prepare = sub.add_parser(
        "prepare",
        help="pack an MM-Fi tree's WiFi CSI into a memory-mapped cache",
        description="Reads every E??/S??/A??/wifi-csi/frame*.mat once and packs it into CACHE "
        "(amplitude, phase, keypoints, index arrays and manifest.json) for MMFiDataset(..., cache=CACHE).",
    )
    prepare.add_argument("root", help="MM-Fi root holding E01..E04")
    prepare.add_argument("--out", required=True, metavar="CACHE", help="cache folder to write")
    prepare.add_argument("--workers", type=int, default=None, help="reader processes (default: one per CPU, at most 8)")
    prepare.add_argument("--quiet", action="store_true", help="no progress bar")
    prepare.set_defaults(handler=_checking_out(_prepare))
    inspect = sub.add_parser(
        "inspect", help="print what a real CSI capture holds (and plot it)",
        description="Reads a capture (Intel 5300 or Atheros .dat, ESP32-CSI-Tool .csv, nexmon_csi .pcap) with csiread "
                    "and prints its "
                    "packets, rate, gaps, antennas, subcarrier plan and empty packets.",
    )  # fmt: skip
    inspect.add_argument("capture", help="the capture file")
    inspect.add_argument("--format", choices=("intel5300", "atheros", "esp32", "nexmon", "picoscenes"),
                         help="the capture format (default: told from the content)")
    inspect.add_argument("--chip", help="nexmon only: the chip (4339, 43455c0, 4358, 4366c0)")
    inspect.add_argument("--bandwidth", type=int, help="nexmon only: the channel bandwidth in MHz (20, 40, 80)")
    inspect.add_argument("--plot", metavar="PNG", help="also plot amplitude and phase over time to this PNG")
    inspect.set_defaults(handler=_inspect)
    synth = add_synth_parser(sub)
    synth.set_defaults(handler=_checking_out(synth.get_default("handler")))
