"""``csipose train`` and ``csipose verify`` (``csipose eval`` lives in :mod:`csipose.infer_cli`).

torch is imported only when one of these subcommands runs.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from csipose.config import TrainingConfig
from csipose.errors import ArgumentError, ConfigError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Adds the train and verify subcommands to the ``csipose`` parser."""
    train = subparsers.add_parser(
        "train",
        help="train a pose model (default: the built-in synthetic data)",
        description="Train a CSI pose model. Under torchrun it runs data-parallel (gloo on CPU, nccl on GPU).",
    )
    train.add_argument("--config", metavar="FILE", help="TOML or JSON config file")
    train.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
                       help="override a config field (repeatable), e.g. --set epochs=5 --set loss_weights.bone=0.2")
    train.add_argument("--run-dir", metavar="DIR", help="output folder (same as --set run_dir=DIR)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue the run in the folder RUN_DIR from its last.pt")
    train.add_argument("--overwrite", action="store_true",
                       help="start afresh in a run folder that already holds a run, deleting its checkpoints, "
                            "logs and plots (without it, training into such a folder is refused)")
    train.add_argument("--quiet", action="store_true", help="no progress bar and no per-epoch lines")
    train.add_argument("--settings", action="store_true",
                       help="print every setting with its default and meaning, then exit")
    train.set_defaults(handler=_train)

    verify = subparsers.add_parser(
        "verify", help="deterministic training proof: a falling loss, the loss curve and weights within tolerance, "
        "bit-exact where this CPU has a record"
    )
    verify.add_argument("--generate", action="store_true", help="record this platform's hash")
    verify.set_defaults(handler=_verify)


def _resolve_config(args: argparse.Namespace) -> TrainingConfig:
    config = TrainingConfig.load(args.config) if args.config else TrainingConfig()
    overrides = list(args.overrides)
    if args.run_dir:
        overrides.append(f"run_dir={args.run_dir}")
    if args.quiet:
        overrides.append("progress=false")
    return config.with_overrides(overrides).validate()


def _train(args: argparse.Namespace) -> int:
    if args.settings:
        return _print_settings()
    if args.resume:
        _check_resume(args)
    config = None if args.resume else _resolve_config(args)
    if config is not None and config.data == "mmfi" and config.mmfi_root and not Path(config.mmfi_root).is_dir():
        raise ConfigError(f"mmfi_root: {config.mmfi_root!r} is not a folder")
    from csipose.train.loop import train

    summary = train(config if config is not None else TrainingConfig(), resume=args.resume, overwrite=args.overwrite)
    if summary and int(os.environ.get("RANK", "0")) == 0:
        print(summary_line(summary))
        if "domains" in summary:
            from csipose.train.domains import domains_line

            print(domains_line(summary["domains"]))
        print(f"run written to {args.resume if args.resume else config.run_dir}")  # type: ignore[union-attr]
    return 0


def _check_resume(args: argparse.Namespace) -> None:
    if args.config or args.overrides or args.run_dir:
        raise ArgumentError("--resume continues a run with its own config; drop --config/--set/--run-dir")
    if args.overwrite:
        raise ArgumentError("--resume continues a run in its own folder; drop --overwrite")
    path = Path(args.resume)
    if path.is_file():
        raise ArgumentError(f"--resume: expected a run folder (RUN_DIR), got the file {path}; pass {path.parent}")


def _print_settings() -> int:
    from csipose.config import describe_settings

    print(describe_settings())
    return 0


def summary_line(summary: dict[str, Any]) -> str:
    """The run's last line: the model's val PCK@20 and MPJPE beside each baseline's, and the verdict."""
    from csipose.train.scoring import millimetres, percent

    model = summary["model"]
    named = [("mean pose", summary["mean_pose_baseline"])]
    if "linear_baseline" in summary:
        named.append(("linear", summary["linear_baseline"]))
    beside = ", ".join(f"{n} {percent(r['pck']['20'])} / {millimetres(r['mpjpe'])}" for n, r in named)
    line = (
        f"best epoch {summary['best_epoch']}: val PCK@20 {percent(model['pck']['20'])}, MPJPE "
        f"{millimetres(model['mpjpe'])} (baselines: {beside}); {summary['params']:,} params, "
        f"{summary['train_seconds']:.0f} s"
    )
    beaten = [n for n, r in named if model["pck"]["20"] <= r["pck"]["20"]]
    if beaten:
        line += f"; the model does NOT beat the {' and '.join(beaten)} baseline"
    dp, mean_dp = model.get("densepose"), summary["mean_pose_baseline"].get("densepose")
    if dp and mean_dp:
        line += (f"; DensePose dpAP {percent(dp['dp_ap'])} (mean IUV {percent(mean_dp['dp_ap'])}), "
                 f"body-mask IoU {dp['mask_iou']:.3f} (mean IUV {mean_dp['mask_iou']:.3f})")
    return line


def _verify(args: argparse.Namespace) -> int:
    from csipose.train.proof import verify

    return verify(generate=args.generate)
