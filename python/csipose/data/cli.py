"""``csipose data ...``: dataset preparation commands."""

from __future__ import annotations

import argparse
from typing import Any

from csipose.data.synthetic.cli import add_synth_parser

__all__ = ["register"]


def _prepare(args: argparse.Namespace) -> int:
    from csipose.data.cache import prepare_mmfi

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


def register(subparsers: Any) -> None:
    """Adds ``data prepare ROOT --out CACHE`` and ``data synth --out DIR`` to the ``csipose`` command."""
    data = subparsers.add_parser("data", help="prepare MM-Fi caches, write synthetic MM-Fi trees")
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
    prepare.set_defaults(handler=_prepare)
    add_synth_parser(sub)
