"""``csipose adapt``: few-shot adaptation of a trained model to a new room with low-rank adapters.

K labelled frames of the room (by default the checkpoint's recorded validation rooms, the
unseen ones) are picked deterministically by the seed and spread over the room's sequences;
only the adapters (:mod:`csipose.domain.adapters`) are fitted on them. The adapter is saved
as ``OUT/adapter.pt`` and the locked report on the room's other frames is printed before and
after, beside the mean pose placed on the true root. ``csipose eval --adapter`` and
``Predictor.load(..., adapter=...)`` apply it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from csipose.errors import ArgumentError, DatasetError, TrainingError

__all__ = ["choose_shots", "register", "sample_ids", "unseen"]

_IDS = ("environment", "subject", "action", "frame")
_SEEDS = 2**32  # --seed: 0 .. 2**32 - 1


def register(subparsers: Any) -> None:
    """Adds the adapt subcommand to the ``csipose`` parser."""
    from csipose.domain import (
        ADAPTER_AVERAGE, ADAPTER_BATCH, ADAPTER_EPOCHS, ADAPTER_FEW_RANK, ADAPTER_FEW_SHOTS, ADAPTER_FITS, ADAPTER_LR,
        ADAPTER_ONE_FIT_SHOTS, ADAPTER_RANK, ADAPTER_TARGETS,
    )  # fmt: skip

    ad = subparsers.add_parser(
        "adapt", help="fit low-rank adapters of a checkpoint to a new room from a few labelled frames",
        description="Fit low-rank adapters (LoRA) of a .pt checkpoint on K labelled frames of a room it has not seen "
                    "(default: its recorded validation rooms), save them, and score the room's other frames "
                    "before and after.",
    )  # fmt: skip
    ad.add_argument("--checkpoint", metavar="CKPT", required=True, help="a .pt checkpoint written by csipose train")
    ad.add_argument("--shots", metavar="K", type=int, required=True, help="labelled frames of the room to adapt on")
    ad.add_argument("--out", metavar="DIR", required=True, help="folder to write adapter.pt into")
    ad.add_argument("--environment", metavar="E", type=int, action="append",
                    help="the room to adapt to (repeatable; default: the rooms the run held out, "
                         "synthetic.val_environments, else every room of its validation split)")
    ad.add_argument("--epochs", metavar="P", type=int, default=ADAPTER_EPOCHS,
                    help=f"passes over the K frames, on average (default {ADAPTER_EPOCHS}): ceil(P K / min(B, K)) "
                         "optimizer steps")
    ad.add_argument("--steps", metavar="N", type=int, help="optimizer steps (default: from --epochs; given, it wins)")
    ad.add_argument("--average", metavar="F", type=float, default=ADAPTER_AVERAGE,
                    help=f"the share of the last steps whose weights are averaged into the adapter (default "
                         f"{ADAPTER_AVERAGE:g}: the second half; 0: the last step's weights)")
    ad.add_argument("--batch-size", metavar="B", type=int, default=ADAPTER_BATCH,
                    help=f"frames per step, drawn afresh each step (default {ADAPTER_BATCH}; all K when K is smaller)")
    ad.add_argument("--rank", metavar="R", type=int,
                    help=f"rank of every update (default {ADAPTER_RANK}, or {ADAPTER_FEW_RANK} with fewer than "
                         f"{ADAPTER_FEW_SHOTS} frames)")
    ad.add_argument("--alpha", metavar="A", type=float, help="scale numerator of the updates (default: the rank)")
    ad.add_argument("--lr", metavar="LR", type=float, default=ADAPTER_LR,
                    help=f"AdamW learning rate (default {ADAPTER_LR:g})")
    ad.add_argument("--targets", choices=ADAPTER_TARGETS, default="all",
                    help="all (default): every nn.Linear layer the model calls, the ridge readout and a gain and offset "
                         "per input channel; linear: the nn.Linear layers; head: the joint regressor's; readout: the "
                         "ridge readout, where the model has one; input: the input channels' gains and offsets")
    ad.add_argument("--seed", metavar="S", type=int, default=0,
                    help=f"picks the frames and draws the adapters (0 to {_SEEDS - 1}; default 0)")
    ad.add_argument("--fits", metavar="N", type=int,
                    help="fit N adapters on the same frames from seeds S, S + 1, ... and average their predictions "
                         f"(default {ADAPTER_FITS}, or 1 from {ADAPTER_ONE_FIT_SHOTS} frames; N forward passes per "
                         "prediction, and the file holds all N)")
    ad.add_argument("--data", choices=("synthetic", "mmfi"), help="data source of the split (default: the recorded one)")
    ad.add_argument("--root", metavar="DIR", help="MM-Fi root (with --data mmfi)")
    ad.add_argument("--cache", metavar="DIR", help="prepared MM-Fi cache folder")
    ad.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the model runs")
    ad.add_argument("--json", action="store_true", help="print what was done and the reports as JSON")
    ad.set_defaults(handler=_adapt)


def sample_ids(dataset: Any) -> np.ndarray:
    """``int64[N, 4]``: environment, subject, action and frame number of every sample's label frame.

    Datasets with whole-split id arrays and ``label_index`` (synthetic) are read without their
    CSI; others batch by batch.
    """
    if hasattr(dataset, "label_index") and all(isinstance(getattr(dataset, k, None), np.ndarray) for k in _IDS):
        rows = dataset.label_index
        return np.stack([getattr(dataset, k)[rows] for k in _IDS], axis=1).astype(np.int64)
    from csipose.infer_cli import read_batches

    parts = [np.stack([np.asarray(b[k]).reshape(-1) for k in _IDS], axis=1) for b in read_batches(dataset, 256, _IDS)]
    return np.concatenate(parts).astype(np.int64)


def choose_shots(ids: np.ndarray, shots: int, seed: int) -> np.ndarray:
    """Indices into ``ids: int[N, 4]`` of ``shots`` frames spread over the sequences (environment,
    subject, action): the sequences in an order drawn by ``seed``, each frame list shuffled by it,
    then one frame of each sequence in turn. A larger ``shots`` extends a smaller one's choice."""
    rng = np.random.default_rng(seed)
    _, sequence = np.unique(ids[:, :3], axis=0, return_inverse=True)
    sequence = sequence.reshape(-1)
    queues = [rng.permutation(np.flatnonzero(sequence == s)) for s in rng.permutation(int(sequence.max()) + 1)]
    depth = max(len(q) for q in queues)
    order = [q[i] for i in range(depth) for q in queues if i < len(q)]
    return np.asarray(order[:shots], dtype=np.int64)


def unseen(ids: np.ndarray, shots: Any) -> np.ndarray:
    """``bool[N]``: the frames of ``ids: int[N, 4]`` not among ``shots: int[K, 4]`` (None: all)."""
    if shots is None or len(shots) == 0:
        return np.ones(len(ids), dtype=bool)
    used = {tuple(int(v) for v in row) for row in np.asarray(shots).reshape(-1, 4)}
    return np.array([tuple(int(v) for v in row) not in used for row in ids], dtype=bool)


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ArgumentError(f"--{name}: expected a finite number > 0, got {value}")


def _adapt(args: argparse.Namespace) -> int:
    from csipose.domain import adapter_fits, adapter_rank, adapter_steps
    from csipose.domain.adapters import check_average, check_rank, fit_ensemble, save_adapters
    from csipose.infer import Predictor
    from csipose.infer_cli import predict_split, read_batches, recorded_split
    from csipose.train.data import sample_anchors

    for name in ("shots", "epochs", "steps", "batch_size", "rank", "fits"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise ArgumentError(f"--{name.replace('_', '-')}: expected an integer >= 1, got {getattr(args, name)}")
    args.rank = adapter_rank(args.shots) if args.rank is None else args.rank
    args.fits = adapter_fits(args.shots) if args.fits is None else args.fits
    args.steps = adapter_steps(args.shots, args.epochs, args.batch_size) if args.steps is None else args.steps
    for name in ("lr", "alpha"):
        if getattr(args, name) is not None:
            _positive(name, getattr(args, name))
    check_average(args.average, "--average")
    if not 0 <= args.seed < _SEEDS:
        raise ArgumentError(f"--seed: expected an integer from 0 to {_SEEDS - 1}, got {args.seed}")
    checkpoint = Path(args.checkpoint)
    if checkpoint.suffix.lower() != ".pt":
        raise ArgumentError(f"--checkpoint: expected a .pt checkpoint (adapters fit in torch), got {checkpoint}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ArgumentError(f"--out {out}: exists and is not a folder")
    above = next((p for p in out.parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise ArgumentError(f"--out {out}: {above} is a file, not a folder")
    predictor = Predictor.load(checkpoint, device=args.device)
    if predictor.persons:
        raise ArgumentError(f"{checkpoint}: adapting a person-slot model is not available; adapt a one-person model")
    check_rank(predictor._backend.model, args.targets, args.rank, name="--rank")
    val = recorded_split(predictor, args.data, args.root, args.cache)
    ids = sample_ids(val)
    rooms = _rooms(predictor, ids, args.environment)
    room = np.flatnonzero(np.isin(ids[:, 0], rooms))
    if args.shots >= len(room):
        raise ArgumentError(
            f"--shots: {args.shots} frames, but room(s) {_names(rooms)} have {len(room)} labelled frames in the "
            f"validation split; give fewer than {len(room)} so some are left to evaluate on"
        )
    picked = room[choose_shots(ids[room], args.shots, args.seed)]
    rest = np.setdiff1d(room, picked)
    room_keys = predictor.geometry_inputs
    fit = _stack(read_batches(val, 256, ("csi", "keypoints", "visibility", *room_keys), picked))
    before = predict_split(predictor, val, rest)[0]
    model = predictor._backend.model
    try:
        adapters, losses = fit_ensemble(model, fit["csi"], fit["keypoints"], fit["visibility"], fits=args.fits,
                                        seed=args.seed, rank=args.rank, alpha=args.alpha, targets=args.targets,
                                        steps=args.steps, lr=args.lr, batch_size=args.batch_size, average=args.average,
                                        loss=_loss_kind(predictor), geometry=tuple(fit[k] for k in room_keys) or None)
    except TrainingError as err:
        raise TrainingError(f"{err}; nothing was saved") from None
    predictor.adapter = adapters
    finals = [float(loss[-1]) for loss in losses]
    adapters.info = {
        "checkpoint": os.fspath(checkpoint), "environments": [int(r) for r in rooms], "shots": _tensor(ids[picked]),
        "seed": args.seed, "steps": args.steps, "lr": args.lr, "batch_size": args.batch_size,
        "average": args.average, "final_loss": float(np.mean(finals)),
        **({"fits": args.fits, "final_losses": finals} if args.fits > 1 else {}),
    }  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    size = save_adapters(out / "adapter.pt", adapters)
    after, gt, vis = predict_split(predictor, val, rest)
    anchors = sample_anchors(val, rest) if "floor" in predictor.geometry_inputs else None
    reports = _reports(predictor, before, after, gt, vis, anchors)
    summary = {
        "adapter": os.fspath(out / "adapter.pt"), "bytes": size, "checkpoint_bytes": checkpoint.stat().st_size,
        "environments": [int(r) for r in rooms], "shots": int(len(picked)), "evaluated": int(len(rest)),
        "rank": args.rank, "alpha": adapters.alpha, "targets": adapters.targets, "parameters": adapters.trainable(),
        "fits": args.fits, "steps": args.steps, "average": args.average,
        "loss": [float(np.mean([loss[0] for loss in losses])), float(np.mean(finals))],
        "reports": {name: r.to_dict() for name, r in reports.items()},
    }  # fmt: skip
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    _print_summary(summary, reports)
    return 0


def _rooms(predictor: Any, ids: np.ndarray, asked: list[int] | None) -> list[int]:
    present = sorted(int(e) for e in np.unique(ids[:, 0]))
    if asked:
        missing = [e for e in asked if e not in present]
        if missing:
            raise ArgumentError(
                f"--environment: room(s) {_names(missing)} not in {predictor.path}'s validation split "
                f"(rooms {_names(present)})"
            )
        return sorted(set(asked))
    held = list((predictor.config or {}).get("synthetic", {}).get("val_environments", []) or [])
    held = [int(e) for e in held if int(e) in present]
    return held or present  # without held-out rooms: every room of the validation split


def _names(rooms: list[int]) -> str:
    return ", ".join(str(r) for r in rooms)


def _loss_kind(predictor: Any) -> str:
    return str((predictor.config or {}).get("keypoint_loss", "smooth_l1"))


def _tensor(values: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.int64))


def _stack(batches: Any) -> dict[str, np.ndarray]:
    parts = list(batches)
    return {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]} if parts else {}


def _reports(predictor: Any, before: np.ndarray, after: np.ndarray, gt: np.ndarray, vis: np.ndarray,
             anchors: np.ndarray | None = None) -> dict[str, Any]:
    """The locked reports of the training mean pose (as it is, or on each frame's link ``anchors``
    ``[N, 3]`` for an anchored model, and placed on each frame's true root), and of the model
    before and after adapting."""
    from csipose.infer_cli import _mean_pose
    from csipose.metrics import root_placed
    from csipose.train.scoring import score

    d = before.shape[-1]
    mean, _ = _mean_pose(predictor)
    if mean is None:
        raise DatasetError(f"{predictor.path}: no mean pose recorded to place beside the reports")
    placed = root_placed(mean[:, :d], gt.astype(np.float64), skeleton=predictor.skeleton)
    return {
        "mean_pose": score(np.broadcast_to(mean[:, :d], before.shape)
                           + (0.0 if anchors is None else anchors[:, None, :d]), gt, vis, predictor.skeleton),
        "mean_pose_on_true_root": score(placed, gt, vis, predictor.skeleton),
        "before": score(before, gt, vis, predictor.skeleton),
        "after": score(after, gt, vis, predictor.skeleton),
    }


def _print_summary(summary: dict[str, Any], reports: dict[str, Any]) -> None:
    from csipose.domain.adapters import averaged_steps
    from csipose.infer_cli import _fig, _pck20

    print(f"{summary['adapter']}: {summary['bytes'] / 1e3:.1f} kB ({summary['bytes'] / summary['checkpoint_bytes']:.2%} "
          f"of the {summary['checkpoint_bytes'] / 1e6:.2f} MB checkpoint); rank {summary['rank']}, "
          f"{summary['parameters']:,} parameters on {len(summary['targets'])} layers")  # fmt: skip
    fits = summary["fits"]
    steps = f"{summary['steps']} steps"
    if (averaged := averaged_steps(summary["steps"], summary["average"])) > 1:
        steps += f" (weights averaged over its last {averaged})"
    how = steps if fits == 1 else f"{fits} fits of {steps} from seeds in turn, their predictions averaged"
    each = "" if fits == 1 else "mean over the fits: "
    print(f"fitted on {summary['shots']} frames of room(s) {_names(summary['environments'])} in {how} "
          f"({each}loss {summary['loss'][0]:.4g} -> {summary['loss'][1]:.4g}); scored on the room's other "
          f"{summary['evaluated']} frames")  # fmt: skip
    print()
    print(reports["after"].summary())
    print()
    print(f"{'':<26} {'PCK@20':>7} {'MPJPE':>8} {'root err':>8} {'root-al.':>8} {'PA-MPJPE':>8}   (input units)")
    rows = (("mean pose", "mean_pose"), ("mean pose on the true root", "mean_pose_on_true_root"), ("before adapting", "before"),
            ("after adapting", "after"))  # fmt: skip
    for label, key in rows:
        r = reports[key]
        root = _fig(r.root_error) if key != "mean_pose_on_true_root" else "oracle"
        print(f"{label:<26} {_pck20(r):>7} {_fig(r.mpjpe):>8} {root:>8} {_fig(r.mpjpe_root):>8} {_fig(r.pa_mpjpe):>8}")
