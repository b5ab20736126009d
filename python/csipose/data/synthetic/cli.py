"""``csipose data synth``: write a synthetic MM-Fi tree."""

from __future__ import annotations

import argparse
import time
from typing import Any

__all__ = ["add_synth_parser"]


def add_synth_parser(data_subparsers: Any) -> argparse.ArgumentParser:
    """Adds the ``synth`` subcommand to the ``csipose data`` subparsers."""
    p: argparse.ArgumentParser = data_subparsers.add_parser(
        "synth", help="write synthetic CSI + pose in MM-Fi's layout (E??/S??/A??/wifi-csi/frameNNN.mat)"
    )
    p.add_argument("--out", required=True, help="root folder of the tree")
    p.add_argument("--seed", type=int, default=0, help="the generator's seed (default 0)")
    p.add_argument("--subjects", type=int, default=10, help="subjects S01.. (default 10)")
    p.add_argument("--frames", type=int, default=75, help="frames per sequence (MM-Fi has 297)")
    p.add_argument("--actions", nargs="+", default=None, help="action names (default: all)")
    p.add_argument("--persons", type=int, default=1,
                   help="people in the room, 1-4: the labelled subject and unlabelled bystanders (default 1)")
    p.add_argument("--labelled-person", type=int, default=0,
                   help="which person of the room the keypoints follow: 0 the subject, k the k-th bystander")
    p.add_argument("--snr-db", type=float, default=None, help="signal-to-noise ratio in dB (default 40)")
    p.add_argument("--quirks", action="store_true", help="add MM-Fi's inf/NaN amplitudes and a 0-byte frame")
    p.set_defaults(handler=_synth)
    return p


def _synth(args: argparse.Namespace) -> int:
    from csipose.data.synthetic.config import SyntheticConfig
    from csipose.data.synthetic.tree import write_mmfi_tree
    from csipose.errors import ArgumentError, ConfigError

    fields: dict[str, Any] = {"seed": args.seed, "subjects": args.subjects, "frames": args.frames,
                              "persons": args.persons, "labelled_person": args.labelled_person, "val_subjects": ()}
    if args.actions is not None:
        fields["actions"] = tuple(args.actions)
    if args.snr_db is not None:
        fields["snr_db"] = args.snr_db
    try:
        config = SyntheticConfig(**fields)
    except ConfigError as err:  # name the flag: "snr_db: ..." -> "--snr-db: ..." (a setting with no flag as it is)
        name, _, rest = str(err).partition(":")
        raise ArgumentError(f"--{name.replace('_', '-')}:{rest}" if name in vars(args) else str(err)) from None
    start = time.perf_counter()
    folders = write_mmfi_tree(args.out, config, quirks=args.quirks)
    print(f"wrote {len(folders)} sequences x {config.frames} frames to {args.out} "
          f"in {time.perf_counter() - start:.1f} s")
    return 0
