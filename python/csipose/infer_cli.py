"""``csipose predict``, ``csipose export`` and ``csipose eval``: a trained model outside the training loop.

``predict`` and ``eval`` run a ``.pt`` checkpoint (torch) or an exported ``.onnx`` model
(onnxruntime alone) through :class:`csipose.infer.Predictor`; ``export`` writes the ONNX file.

``predict --out`` writes a ``.npz`` of ``keypoints float32[N, J, D]`` (metres, one pose per window)
and the ``environment``, ``subject``, ``action`` and ``frame`` of each pose's label frame (``time``,
seconds, for a capture); a person-slot model's (``persons`` >= 1) ``keypoints`` is its most present
slot, and it adds every slot, ``persons float32[N, S, J, D]``, their presence probabilities,
``presence float32[N, S]``, and their identities through each sequence (one environment, subject
and action), ``track_ids int64[N, S]`` (:func:`csipose.track.track_slots`, offline, with the tracker's defaults;
-1 where no confirmed person). ``eval`` of a person-slot model on frames that carry identities (the
recorded synthetic split, or an input with ``person_ids``) also scores that tracking, beside the
slots' own order as the identities; so does ``predict``'s report of such an input.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from csipose.errors import ArgumentError, ConfigError, DatasetError, ShapeError
from csipose.train.scoring import score

__all__ = ["read_batches", "recorded_split", "register"]

_BY = ("environment", "subject", "action")  # the order of Predictions.ids


GEOMETRY_HELP = ("the room geometry a geometry_film or anchored model needs: a .json with tx [x, y, z], rx "
                 "[[x, y, z], ...] and (anchored) floor, the floor's y: camera frame, metres")
NEW_ROOM_FLOOR_HELP = ("where a person of a room the .pt model was not trained in stands: anchor, on the link "
                       "anchor's floor position (the default of a model on the link anchor with 3-D joints); model, "
                       "where the model places them (default: as the checkpoint was trained)")


def read_geometry(path: str | None, predictor: Any) -> tuple[np.ndarray, ...] | None:
    """The ``--geometry`` file's ``(tx float32[3], rx float32[R, 3][, floor float32])``, checked
    against what ``predictor`` takes (None when it takes none and none is given)."""
    wanted = predictor.geometry_inputs
    if path is None:
        if wanted:
            raise ArgumentError(f"--geometry: {predictor.path} needs the room geometry ({', '.join(wanted)}); "
                                "give --geometry room.json")
        return None
    if not wanted:
        raise ArgumentError(f"--geometry: {predictor.path} takes no room geometry; drop --geometry")
    try:
        table = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ArgumentError(f"--geometry {path}: not a readable JSON file ({err})") from None
    if not isinstance(table, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(table), "a number")
        raise ArgumentError(f"--geometry {path}: expected a JSON object with {', '.join(wanted)}, got {kind}")
    shapes = {"tx": (3,), "rx": None, "floor": ()}
    parts = []
    for key in wanted:
        if key not in table:
            raise ArgumentError(f"--geometry {path}: no {key!r} (expected {', '.join(wanted)})")
        expected = {"tx": "[x, y, z]", "rx": "[[x, y, z], ...]", "floor": "one number"}[key]
        bad = ArgumentError(f"--geometry {path}: {key} must be {expected} of finite numbers, got {table[key]!r}")
        if not _numbers(table[key]):  # strings, booleans, nulls
            raise bad
        try:  # checked in float64, before the cast to float32
            value = np.asarray(table[key], dtype=np.float64)
        except (ValueError, OverflowError):  # ragged lists, integers past float64
            raise bad from None
        ok = value.ndim == 2 and value.shape[1] == 3 and len(value) >= 1 if key == "rx" else value.shape == shapes[key]
        if not ok or not np.all(np.abs(value) <= np.finfo(np.float32).max):  # finite, and finite as float32
            raise bad
        if key == "rx" and len(value) != predictor.preprocess.antennas:  # recorded with the model's preprocessing
            raise ArgumentError(f"--geometry {path}: rx lists {len(value)} receive antenna(s), but {predictor.path} "
                                f"was trained with {predictor.preprocess.antennas} (its preprocessing's antennas); "
                                "give one [x, y, z] per receive antenna")
        parts.append(value.astype(np.float32))
    return tuple(parts)


def _numbers(value: Any) -> bool:
    """True for a JSON number, or (nested) lists of them; booleans, strings and nulls are not numbers."""
    if isinstance(value, list):
        return all(_numbers(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def register(subparsers: Any) -> None:
    """Adds the predict, export and eval subcommands to the ``csipose`` parser."""
    pr = subparsers.add_parser(
        "predict", help="run a trained model on raw CSI and write its keypoints",
        description="Predict 3-D keypoints (metres) from raw CSI with a .pt checkpoint or an exported .onnx model.",
    )  # fmt: skip
    pr.add_argument("--model", metavar="PATH", required=True, help="a .pt checkpoint or an .onnx model from csipose export")
    pr.add_argument("--input", metavar="PATH", required=True,
                    help="an MM-Fi tree, one sequence folder, a prepared cache, a .npy of complex CSI [F, A, S, P], "
                         "a .npz with amplitude and phase (and optionally keypoints), or a real capture "
                         "(Intel 5300 / Atheros .dat, ESP32 .csv)")
    pr.add_argument("--out", metavar="FILE", required=True,
                    help=".npz to write: keypoints [N, J, D] and environment, subject, action, frame of each "
                         "(and time, for a capture); a person-slot model's keypoints are its most present slot, "
                         "and it adds persons [N, S, J, D], presence [N, S] (probabilities) and track_ids [N, S] "
                         "(csipose.track's ids through each sequence, -1: no confirmed person)")
    pr.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the model runs")
    pr.add_argument("--format", choices=("intel5300", "atheros", "esp32", "nexmon", "picoscenes"),
                    help="a capture's format (default: told from the content)")
    pr.add_argument("--chip", help="a nexmon_csi capture's chip (4339, 43455c0, 4358, 4366c0)")
    pr.add_argument("--bandwidth", type=int, help="a nexmon_csi capture's bandwidth in MHz (20, 40, 80)")
    pr.add_argument("--geometry", metavar="FILE", help=GEOMETRY_HELP)
    pr.add_argument("--new-room-floor", choices=("anchor", "model"), help=NEW_ROOM_FLOOR_HELP)
    pr.add_argument("--json", action="store_true", help="print what was done (and the report) as JSON")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")
    pr.set_defaults(handler=_predict)

    ex = subparsers.add_parser(
        "export", help="export a checkpoint to ONNX (fp32, fp16 or int8)",
        description="Write a checkpoint's model as ONNX with a dynamic batch axis and its preprocessing, "
                    "skeleton and config in the metadata.",
    )  # fmt: skip
    ex.add_argument("--checkpoint", metavar="CKPT", required=True, help="a .pt file written by csipose train")
    ex.add_argument("--out", metavar="FILE", required=True, help="the .onnx file to write")
    ex.add_argument("--precision", choices=("fp32", "fp16", "int8", "int8-static", "int8-dynamic"), default="fp32",
                    help="fp32 (default); fp16; int8 (= int8-dynamic, the more accurate on the default model); "
                         "int8-static (QDQ, calibrated on --calibration training samples)")
    ex.add_argument("--calibration", metavar="N", type=int,
                    help="training samples that calibrate int8-static (default 512; only with int8-static)")
    ex.add_argument("--json", action="store_true", help="print what was written as JSON")
    ex.set_defaults(handler=_export)

    ev = subparsers.add_parser(
        "eval", help="evaluate a checkpoint or ONNX model with the locked metrics",
        description="Score a .pt checkpoint or an exported .onnx model on the validation split recorded with it, "
                    "or on any input csipose predict reads (--input, with ground truth).",
    )  # fmt: skip
    ev.add_argument("--checkpoint", metavar="PATH", required=True, help="a .pt checkpoint or an exported .onnx model")
    ev.add_argument("--input", metavar="PATH",
                    help="evaluate on this input instead (as csipose predict reads it, with ground truth; a .npz with "
                         "several people's keypoints [F, M, J, 3] and person_mask [F, M] scores a person-slot model's "
                         "people)")
    ev.add_argument("--data", choices=("synthetic", "mmfi"), help="data source of the split (default: the recorded one)")
    ev.add_argument("--root", metavar="DIR", help="MM-Fi root (with --data mmfi)")
    ev.add_argument("--cache", metavar="DIR", help="prepared MM-Fi cache folder")
    ev.add_argument("--by", choices=(*_BY, "people"),
                    help="also one report per environment, subject or action, each beside the constant-root "
                         "baseline (the training mean pose placed on the true root, on every true person's for "
                         "a person-slot model); a person-slot model's also per true count of people in the "
                         "frame (people)")
    ev.add_argument("--geometry", metavar="FILE", help=GEOMETRY_HELP + " (with --input)")
    ev.add_argument("--json", action="store_true", help="print the report as JSON")
    ev.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                    help="where the model runs (default: cuda when available, else cpu); a .pt uses its amp setting on cuda")
    ev.add_argument("--adapter", metavar="FILE",
                    help="apply this adapter of the .pt checkpoint (csipose adapt); the frames it was fitted on are "
                         "left out of the report")
    ev.add_argument("--new-room-floor", choices=("anchor", "model"), help=NEW_ROOM_FLOOR_HELP)
    ev.set_defaults(handler=_eval)


def _predict(args: argparse.Namespace) -> int:
    from csipose.data.sources import open_frames
    from csipose.infer import Predictor, predict_source

    out = Path(args.out)
    if out.suffix.lower() != ".npz":
        raise ArgumentError(f"--out: expected a .npz file name, got {out}")
    if out.parent.exists() and not out.parent.is_dir():
        raise ArgumentError(f"--out: {out.parent} is a file, not a folder")
    predictor = Predictor.load(args.model, device=args.device, new_room_floor=args.new_room_floor)
    options = {k: v for k, v in (("format", args.format), ("chip", args.chip), ("bandwidth", args.bandwidth))
               if v is not None}
    geometry = read_geometry(args.geometry, predictor)
    source = open_frames(args.input, packets=predictor.preprocess.packets, **options)
    found = predict_source(predictor, source, progress=not (args.quiet or args.json), geometry=geometry)
    out.parent.mkdir(parents=True, exist_ok=True)
    environment, subject, action, frame = found.ids.T
    extra: dict[str, Any] = {} if found.times is None else {"time": found.times}
    if found.persons is not None:  # a person-slot model's every slot, their presences and their track ids
        from csipose.track import track_slots

        extra.update(persons=found.persons, presence=found.presence,
                     track_ids=track_slots(found.persons, found.presence, _sequences(found.ids), frame,
                                           skeleton=predictor.skeleton, backfill=True))
    np.savez(out, keypoints=found.keypoints, environment=environment, subject=subject, action=action, frame=frame,
             **extra)  # fmt: skip
    report, unscored = _predictions_report(predictor, found)
    tracking = None
    if report is not None and found.persons is not None and found.person_ids is not None:
        tracking = _tracking(predictor, _input_people(found, slice(None), None), tracked=extra["track_ids"])
    if args.json:
        print(json.dumps({
            "model": os.fspath(predictor.path), "runtime": predictor.runtime, "precision": predictor.precision,
            "input": os.fspath(source.path), "kind": source.kind, "frames": found.frames,
            "poses": len(found.keypoints), "out": os.fspath(out),
            "report": None if report is None else report.to_dict(),
            **({} if tracking is None else {"tracking": tracking}),
            **({} if unscored is None else {"unscored": unscored}),
        }, indent=2))  # fmt: skip
        return 0
    print(f"{len(found.keypoints):,} poses from {found.frames:,} frames ({source.kind}) written to {out}")
    if report is not None:
        print(report.summary())
        _print_tracking(tracking)
    if unscored is not None:
        print(unscored)
    return 0


def _predictions_report(predictor: Any, found: Any) -> tuple[Any, str | None]:
    """``(report, None)`` of the predictions ``found`` of an input with ground truth (the
    multi-person report of a person-slot model where the input holds several people's), or
    ``(None, why not)`` where a one-person model meets several people's; ``(None, None)``
    without ground truth."""
    if found.ground_truth is None:
        return None, None
    if found.person_mask is None:
        return score(found.keypoints, found.ground_truth, skeleton=predictor.skeleton), None
    if not predictor.persons:
        return None, ("not scored: the input holds several people's ground truth and the model predicts one "
                      "person (csipose eval --input scores a person-slot model)")
    from csipose.metrics import evaluate_people

    return evaluate_people(found.persons, found.presence, found.ground_truth, gt_mask=found.person_mask,
                           skeleton=predictor.skeleton), None


def _export(args: argparse.Namespace) -> int:
    from csipose.export import export_onnx

    options = {}
    if args.calibration is not None:
        if args.precision != "int8-static":
            raise ArgumentError(f"--calibration: calibrates int8-static alone; {args.precision} needs no calibration "
                                f"samples (drop --calibration, or add --precision int8-static)")
        options["calibration"] = args.calibration
    info = export_onnx(args.checkpoint, args.out, precision=args.precision, **options)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    line = f"{info['path']}: {info['precision']}, {info['bytes'] / 1e6:.2f} MB; fp32 graph within {info['fp32_max_error']:.1e} m of torch"
    if "calibration_samples" in info:
        line += f"; calibrated on {info['calibration_samples']} training samples"
    print(line)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from csipose.infer import Predictor

    device = _device(args.device)
    predictor = Predictor.load(args.checkpoint, device=device, adapter=args.adapter,
                               new_room_floor=args.new_room_floor)
    if args.by == "people" and not predictor.persons:
        raise ArgumentError(f"--by people: groups a person-slot model's frames by their count of people; "
                            f"{predictor.path} predicts one person")
    if args.geometry and not args.input:
        raise ArgumentError("--geometry: goes with --input; the recorded split carries its rooms' geometry")
    if args.input:
        for flag in ("data", "root", "cache"):
            if getattr(args, flag):
                raise ArgumentError(f"--{flag}: chooses the recorded split; with --input drop --{flag}")
        from csipose.data.sources import open_frames
        from csipose.infer import predict_source

        geometry = read_geometry(args.geometry, predictor)
        found = predict_source(predictor, open_frames(args.input, packets=predictor.preprocess.packets), geometry=geometry)
        if found.ground_truth is None:
            raise DatasetError(f"{args.input}: no ground-truth keypoints to score against")
        if found.person_mask is not None:  # several people's ground truth
            return _print_people(predictor, args, _people_of_input(predictor, args, found))
        if args.by == "people":
            raise ArgumentError(f"--by people: {args.input} holds one person's ground truth per frame; "
                                "give several people's keypoints [F, M, J, 3] (and person_mask [F, M])")
        keep = _unseen_by_adapter(predictor, found.ids, args)
        found.keypoints, found.ground_truth, found.ids = found.keypoints[keep], found.ground_truth[keep], found.ids[keep]
        report = score(found.keypoints, found.ground_truth, skeleton=predictor.skeleton)
        if args.by:
            groups = found.ids[:, _BY.index(args.by)]
            return _print_by(predictor, args, report, (found.keypoints, found.ground_truth, None, groups))
    elif predictor.persons:
        return _print_people(predictor, args, _people_of_split(predictor, args))
    else:
        report = _score_split(predictor, args)
        if args.by:
            return _print_by(predictor, args, *report)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary())
    return 0


def _print_by(predictor: Any, args: argparse.Namespace, report: Any, arrays: tuple[Any, ...]) -> int:
    """Prints the pooled report, one report per ``args.by`` group and the constant-root baseline."""
    from csipose.metrics import evaluate_by, root_placed

    pred, gt, vis, groups = arrays
    d = pred.shape[-1]
    truth = np.asarray(gt, dtype=np.float64)[..., :d]
    visible = None if vis is None else np.asarray(vis) > 0.5
    skeleton = predictor.skeleton
    by = evaluate_by(pred.astype(np.float64), truth, groups, visible=visible, skeleton=skeleton)
    mean, source = _mean_pose(predictor)
    base = base_by = None
    if mean is not None:
        placed = root_placed(mean[:, :d], truth, skeleton=skeleton)
        base = score(placed, truth, vis, skeleton)
        base_by = evaluate_by(placed, truth, groups, visible=visible, skeleton=skeleton)
    columns = (("frames", 7, lambda r: str(r.frames)), ("PCK@20", 7, _pck20), ("MPJPE", 8, lambda r: _fig(r.mpjpe)),
               ("root err", 8, lambda r: _fig(r.root_error)), ("root-al.", 8, lambda r: _fig(r.mpjpe_root)),
               ("PA-MPJPE", 8, lambda r: _fig(r.pa_mpjpe)))  # fmt: skip
    return _print_groups(args, (report, by), (base, base_by), _BASELINE, source, columns,
                         (columns[1], columns[2], columns[5]))


def _print_groups(args: argparse.Namespace, reports: tuple[Any, dict[int, Any]], baselines: tuple[Any, Any],
                  definition: str, source: str, columns: Any, base_columns: Any, *, extra: Any = None,
                  after: Any = None) -> int:
    """Prints ``reports = (pooled, {group: report})`` by ``args.by`` beside ``baselines`` (the same
    pair, or ``(None, None)``: none, for the reason ``source``), as JSON (with the ``extra`` keys)
    or as a table of ``columns`` (``(title, width, cell(report) -> str)``) and the baseline's
    ``base_columns``, after the pooled summary and what ``after()`` prints."""
    (pooled, by), (base, base_by) = reports, baselines
    if args.json:
        out = {**pooled.to_dict(), **(extra or {})}
        out["by"] = {args.by: {str(k): r.to_dict() for k, r in by.items()}}
        baseline: dict[str, Any] = {"definition": definition, "mean_pose": source}
        if base is not None and base_by is not None:
            baseline["report"] = base.to_dict()
            baseline["by"] = {args.by: {str(k): r.to_dict() for k, r in base_by.items()}}
        out["baseline"] = baseline
        print(json.dumps(out, indent=2))
        return 0
    print(pooled.summary())
    if after is not None:
        after()
    print()
    print(f"by {args.by} (input units; baseline: {definition})")
    titles = lambda cols: " ".join(f"{title:>{width}}" for title, width, _ in cols)  # noqa: E731
    cells = lambda cols, r: " ".join(f"{cell(r):>{width}}" for _, width, cell in cols)  # noqa: E731
    print(f"{args.by:>12} {titles(columns)}" + ("" if base is None else f"  | baseline {titles(base_columns)}"))
    rows = [(str(k), r, None if base_by is None else base_by[k]) for k, r in by.items()] + [("all", pooled, base)]
    for name, r, b in rows:
        print(f"{name:>12} {cells(columns, r)}" + ("" if b is None else f"  | {'':>8} {cells(base_columns, b)}"))
    if base is None:
        print(f"no baseline: {source}")
    return 0


_BASELINE = "the training mean pose translated onto each frame's true root; its MPJPE is pure shape error"


def _pck20(report: Any) -> str:
    p = report.pck
    if 20 not in p.thresholds:
        return "n/a"
    value = p.pck[p.thresholds.index(20)]
    return "n/a" if value is None or not np.isfinite(value) else f"{100 * value:.1f}%"


def _fig(x: float) -> str:
    return f"{x:.4g}" if x is not None and np.isfinite(x) else "n/a"


def _mean_pose(predictor: Any) -> tuple[Any, str]:
    """The training mean pose ``[J, D]`` of the model and where it came from; ``(None, why)`` without one."""
    from csipose.errors import CsiposeError

    pose = getattr(getattr(getattr(predictor, "_backend", None), "model", None), "mean_pose", None)
    if pose is not None:  # a .pt model's buffer
        return pose.detach().float().cpu().numpy().astype(np.float64), "the checkpoint's"
    if predictor.config is None:
        return None, f"{predictor.path} records neither a mean pose nor a training config"
    from csipose.config import TrainingConfig
    from csipose.train.data import load_split, mean_pose

    try:
        config = TrainingConfig.from_dict(predictor.config, source=f"{predictor.path} config", recorded=True)
        return mean_pose(load_split(config, "train")).astype(np.float64), "the recorded training split's"
    except CsiposeError as err:
        return None, f"the training split of {predictor.path} cannot be read ({str(err).splitlines()[0]})"


def _device(choice: str) -> str:
    if choice == "cpu":
        return "cpu"
    available = _cuda_available()
    if choice == "cuda" and not available:
        raise ArgumentError("--device cuda: no CUDA device is available here; use --device cpu")
    return "cuda" if available else "cpu"


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        try:
            import onnxruntime as ort
        except ImportError:
            return False
        return "CUDAExecutionProvider" in ort.get_available_providers()
    return bool(torch.cuda.is_available())


def recorded_split(predictor: Any, data: str | None = None, root: str | None = None, cache: str | None = None) -> Any:
    """The validation split recorded with ``predictor``'s model (``data``, MM-Fi ``root`` and ``cache``
    override the recorded data source), checked to be preprocessed as the model expects."""
    from csipose.config import TrainingConfig
    from csipose.train.data import load_split

    if predictor.config is None:
        raise ArgumentError(f"{predictor.path}: no training config recorded, so no split to evaluate on; give --input")
    # the recorded run on the source asked for: another source drops the recorded generator settings
    asked = {k: v for k, v in (("data", data), ("mmfi_root", root), ("mmfi_cache", cache)) if v}
    if (data or predictor.config.get("data", "synthetic")) == "synthetic":
        for flag, value in (("cache", cache), ("root", root)):
            if value:
                raise ArgumentError(
                    f"--{flag}: MM-Fi data only, but {predictor.path} is evaluated on synthetic data; "
                    f"add --data mmfi or drop --{flag}"
                )
    # standardised by room exactly when the model is, and cleaned as it was trained (not by the
    # "auto" of another data source)
    asked["test_time_norm"] = predictor.room_normalised
    if predictor.preprocess is not None:
        asked["cleaning"] = predictor.preprocess.cleaning
    config = TrainingConfig.from_dict({**predictor.config, **asked}, source=f"{predictor.path} config", recorded=True)
    if config.data == "mmfi" and config.mmfi_root and not Path(config.mmfi_root).is_dir():
        raise ConfigError(f"mmfi_root: {config.mmfi_root!r} is not a folder (give --root)")
    val = load_split(config, "val", rooms=predictor.room_statistics)  # a test_time_norm model's training rooms
    made = getattr(val, "preprocess", None)
    if made is not None and made != predictor.preprocess:
        raise ArgumentError(
            f"{predictor.path}: the split's preprocessing ({made.describe()}) is not the model's "
            f"({predictor.preprocess.describe()})"
        )
    return val


def _score_split(predictor: Any, args: argparse.Namespace) -> Any:
    """The locked report of ``predictor`` on the validation split recorded with it (or the one the flags choose);
    with ``args.by``, the report and ``(pred, gt, visible, groups)``."""
    val = recorded_split(predictor, args.data, args.root, args.cache)
    index = None
    if predictor.adapter is not None:  # the adapter's own rooms, less the frames it was fitted on
        from csipose.domain.adapt_cli import sample_ids

        ids = sample_ids(val)
        rooms = predictor.adapter.info.get("environments")
        keep = _unseen_by_adapter(predictor, ids, args)
        if rooms:
            keep &= np.isin(ids[:, 0], rooms)
            if not args.json:
                print(f"adapter {args.adapter}: scored in its room(s) {', '.join(map(str, rooms))} only")
        index = np.flatnonzero(keep)
        if len(index) == 0:
            raise DatasetError(f"{args.adapter}: no frame of its room(s) is left to evaluate on")
    preds, truth, visible, groups = [], [], [], []
    room = predictor.geometry_inputs  # the room geometry each window's prediction needs (FiLM, anchored models)
    surface = bool(predictor.densepose_size) and not args.by
    iuv: list[list[np.ndarray]] = [[], [], []]  # predicted IUV, its confidence, the labels
    keys = ("csi", "keypoints", "visibility") + ((args.by,) if args.by else ()) + room
    for batch in read_batches(val, 256, keys + (("densepose",) if surface else ()), index):
        geometry = tuple(batch[k] for k in room) if room else None
        if surface:  # the joints and the surface of one pass
            keypoints, *dense = predictor.predict_pose_and_densepose_windows(batch["csi"], geometry=geometry)
            preds.append(keypoints)
            for part, got in zip(iuv, (*dense, batch["densepose"])):
                part.append(np.asarray(got, dtype=np.float32))
        else:
            preds.append(predictor.predict_windows(batch["csi"], geometry=geometry))
        truth.append(np.asarray(batch["keypoints"], dtype=np.float32))
        visible.append(np.asarray(batch["visibility"], dtype=np.float32))
        if args.by:
            groups.append(np.asarray(batch[args.by], dtype=np.int64).reshape(-1))
    pred, gt, vis = np.concatenate(preds), np.concatenate(truth), np.concatenate(visible)
    report = score(pred, gt, vis, predictor.skeleton)
    if surface:
        from csipose.metrics.densepose import evaluate_densepose

        predicted, confidence, truth = (np.concatenate(p) for p in iuv)
        report = dataclasses.replace(report, densepose=evaluate_densepose(predicted, truth, scores=confidence))
    return (report, (pred, gt, vis, np.concatenate(groups))) if args.by else report


def _unseen_by_adapter(predictor: Any, ids: np.ndarray, args: argparse.Namespace) -> np.ndarray:
    """``bool[N]``: the frames of ``ids: int[N, 4]`` (environment, subject, action, frame) the
    predictor's adapter was not fitted on (all, without an adapter); says how many were left out."""
    if predictor.adapter is None:
        return np.ones(len(ids), dtype=bool)
    from csipose.domain.adapt_cli import unseen

    keep = unseen(ids, predictor.adapter.info.get("shots"))
    if not args.json:
        print(f"adapter {args.adapter}: {int((~keep).sum())} frames it was fitted on are left out")
    if not keep.any():
        raise DatasetError(f"{args.adapter}: every frame to evaluate was used to fit the adapter")
    return keep


@dataclasses.dataclass
class _People:
    """A person-slot model's predictions of frames with several people's ground truth.

    Attributes:
        persons: ``float32[N, S, J, D]`` slots; presence: ``float32[N, S]`` probabilities.
        gt: ``float[N, M, J, 3]`` true people; mask: ``bool[N, M]`` the real ones;
            visible: ``[N, M, J]`` or None (all).
        groups: ``int64[N]`` each frame's ``--by`` group, or None.
        identities: ``(person_ids int64[N, M], sequence int64[N], frame int64[N])`` where the
            frames carry who is who through their sequences, else None.
    """

    persons: np.ndarray
    presence: np.ndarray
    gt: np.ndarray
    mask: np.ndarray
    visible: np.ndarray | None
    groups: np.ndarray | None
    identities: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def _people_of_input(predictor: Any, args: argparse.Namespace, found: Any) -> _People:
    """A person-slot model's :class:`_People` of an input with several people's ground truth
    (``found``: its :class:`~csipose.infer.Predictions`); ``groups`` by ``args.by``."""
    if not predictor.persons:
        raise ArgumentError(f"{args.input}: ground truth of several people per frame (keypoints [F, M, J, 3]); "
                            f"{predictor.path} predicts one person: score a person-slot model (persons >= 1)")
    return _input_people(found, _unseen_by_adapter(predictor, found.ids, args), args.by)


def _input_people(found: Any, keep: Any, by: str | None) -> _People:
    """The :class:`_People` of the ``keep`` frames of a person-slot model's predictions ``found``
    of an input with several people's ground truth; ``groups`` by ``by`` (None: none), and who is
    who through each sequence (environment, subject, action) where the input has ``person_ids``."""
    mask = found.person_mask[keep]
    groups = None
    if by:
        groups = mask.sum(axis=1) if by == "people" else found.ids[keep, _BY.index(by)]
    identities = None
    if found.person_ids is not None:
        identities = (found.person_ids[keep], _sequences(found.ids[keep]), found.ids[keep, 3])
    return _People(found.persons[keep], found.presence[keep], found.ground_truth[keep], mask, None, groups,
                   identities)


def _people_of_split(predictor: Any, args: argparse.Namespace) -> _People:
    """A person-slot model's :class:`_People` of the validation split recorded with it, which must
    label every person (a person axis), with their identities; ``groups`` by ``args.by``."""
    from csipose.data.collate import pad_people, pad_slots
    from csipose.domain.adapt_cli import sample_ids

    val = recorded_split(predictor, args.data, args.root, args.cache)
    if len(val) and "person_ids" not in val[0]:
        raise ArgumentError(f"{predictor.path}: a person-slot model is scored on scenes with every person labelled "
                            "(synthetic, with synthetic.people); this split has one person per window")
    s = predictor.persons
    keys = ("keypoints", "person_mask", "visibility", "person_ids")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("persons", "presence", *keys)}
    for start in range(0, len(val), 256):
        samples = pad_people([val[i] for i in range(start, min(start + 256, len(val)))])
        batch = {k: np.stack([np.asarray(x[k]) for x in samples]) for k in ("csi", *keys)}
        persons, presence = predictor.predict_people_windows(batch["csi"])
        parts["persons"].append(persons)
        parts["presence"].append(presence)
        for key in keys:  # to the slots' count (past a frame's people, person_mask is False)
            parts[key].append(pad_slots(batch[key], s))
    found = {k: np.concatenate(v) for k, v in parts.items()}
    ids = sample_ids(val)
    mask = found["person_mask"]
    groups = None
    if args.by:
        groups = mask.sum(axis=1) if args.by == "people" else ids[:, _BY.index(args.by)]
    return _People(found["persons"], found["presence"], found["keypoints"], mask, found["visibility"], groups,
                   (found["person_ids"], _sequences(ids), ids[:, 3]))


def _sequences(ids: np.ndarray) -> np.ndarray:
    """``int64[N]``: the sequence of each frame of ``ids: int[N, 4]`` (environment, subject, action,
    frame), numbered from 0: a sequence is one environment, subject and action."""
    _, sequence = np.unique(np.asarray(ids)[:, :3], axis=0, return_inverse=True)
    return sequence.reshape(-1).astype(np.int64)


def _print_people(predictor: Any, args: argparse.Namespace, people: _People) -> int:
    """Prints the multi-person report of ``people`` with its tracking figures (where the frames
    carry identities) and, with ``args.by``, one report per group beside the slot baseline
    (:data:`_PEOPLE_BASELINE`)."""
    from csipose.metrics import evaluate_people, root_placed

    persons, presence, gt, mask, vis, groups = (people.persons, people.presence, people.gt, people.mask,
                                                people.visible, people.groups)  # fmt: skip
    where = args.input or predictor.path

    def report(pred: Any, present: Any, rows: Any) -> Any:
        try:
            return evaluate_people(pred[rows], present[rows], gt[rows], gt_mask=mask[rows],
                                   visible=None if vis is None else vis[rows], skeleton=predictor.skeleton)
        except ShapeError as err:
            raise DatasetError(f"{where}: {err}") from None

    def reports(pred: Any, present: Any) -> tuple[Any, dict[int, Any]]:
        by = {} if groups is None else {int(g): report(pred, present, groups == g) for g in np.unique(groups)}
        return report(pred, present, slice(None)), by

    pooled, by = reports(persons, presence)
    tracking = _tracking(predictor, people)
    if not args.by:
        if args.json:
            print(json.dumps({**pooled.to_dict(), **({} if tracking is None else {"tracking": tracking})}, indent=2))
        else:
            print(pooled.summary())
            _print_tracking(tracking)
        return 0
    base = base_by = None
    mean, source = _mean_pose(predictor)
    if mean is not None:  # every true person, and no other, as the mean pose on their true root
        n, m = mask.shape
        truth = np.asarray(gt, dtype=np.float64)
        placed = root_placed(mean[:, : persons.shape[-1]], truth.reshape(n * m, *truth.shape[2:]),
                             skeleton=predictor.skeleton)
        base, base_by = reports(placed.reshape(n, m, *placed.shape[1:]), np.asarray(mask, dtype=np.float64))
    columns = (("frames", 7, lambda r: str(r.people["frames"])), ("people", 7, lambda r: str(r.people["people"])),
               ("count", 7, lambda r: f"{100 * r.count_accuracy:.1f}%"), ("PCK@20", 7, _pck20),
               ("MPJPE", 8, lambda r: _fig(r.mpjpe)), ("OKS-AP", 7, _oks_ap))  # fmt: skip
    return _print_groups(args, (pooled, by), (base, base_by), _PEOPLE_BASELINE, source, columns, columns[3:5],
                         extra={} if tracking is None else {"tracking": tracking},
                         after=lambda: _print_tracking(tracking))


#: How far (metres, mean joint distance) a tracked person of ``csipose eval`` may be from a true one.
#: ``csipose predict`` and ``eval`` track offline (each sequence whole, ``backfill``) with
#: :class:`csipose.track.Tracker`'s defaults.
TRACK_THRESHOLD = 0.5


def _tracking(predictor: Any, people: _People, tracked: np.ndarray | None = None) -> dict[str, Any] | None:
    """``{"settings", "tracker", "slot_order"}`` (:func:`csipose.track.evaluate_tracking`, as
    dicts) of frames that carry identities, with the track ids ``tracked`` where the frames
    were tracked already; None for frames that do not carry identities."""
    if people.identities is None:
        return None
    from csipose.track import Tracker, evaluate_tracking

    ids, sequence, frame = people.identities
    found = evaluate_tracking(people.persons, people.presence, people.gt, people.mask, ids, sequence, frame,
                              threshold=TRACK_THRESHOLD, skeleton=predictor.skeleton, backfill=True, tracked=tracked)
    t = Tracker()
    settings = {"gate": t.gate, "birth": t.birth, "death": t.death, "backfill": True, "threshold": TRACK_THRESHOLD}
    return {"settings": settings, **{k: r.to_dict() for k, r in found.items()}}


def _print_tracking(tracking: dict[str, Any] | None) -> None:
    if tracking is None:
        return
    t = tracking["settings"]
    print(f"  tracking (each sequence, offline; gate {t['gate']} m, birth {t['birth']}, death {t['death']} frames; "
          f"a true person within {t['threshold']} m mean joint distance):")
    for name, label in (("tracker", "csipose.track"), ("slot_order", "slot order as identity")):
        r = tracking[name]
        pct = lambda v: "n/a" if v is None else f"{100 * v:.1f}%"  # noqa: E731
        print(f"    {label:<22} MOTA {pct(r['mota'])}, IDF1 {pct(r['idf1'])}, MOTP {_fig(r['motp'])}; switches "
              f"{r['num_switches']}, fragmentations {r['num_fragmentations']}, misses {r['num_misses']}, false "
              f"positives {r['num_false_positives']}, of {r['num_objects']} true people")


def _oks_ap(report: Any) -> str:
    ap = report.oks_ap
    return "n/a" if ap is None or not np.isfinite(ap) else f"{100 * ap:.1f}%"


_PEOPLE_BASELINE = ("the training mean pose translated onto each true person's root, every true person and no other; "
                    "its MPJPE is pure shape error")


def predict_split(predictor: Any, dataset: Any, index: Any = None, size: int = 256
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(pred float32[N, J, D], gt float32[N, J, 3], visible float32[N, J])`` of the samples
    ``index`` (default: all) of ``dataset``, each window with the room geometry the model takes."""
    room = predictor.geometry_inputs
    preds, gts, vis = [], [], []
    for batch in read_batches(dataset, size, ("csi", "keypoints", "visibility", *room), index):
        preds.append(predictor.predict_windows(batch["csi"], geometry=tuple(batch[k] for k in room) or None))
        gts.append(np.asarray(batch["keypoints"], dtype=np.float32))
        vis.append(np.asarray(batch["visibility"], dtype=np.float32))
    return np.concatenate(preds), np.concatenate(gts), np.concatenate(vis)


def read_batches(
    dataset: Any, size: int, keys: tuple[str, ...] = ("csi", "keypoints", "visibility"), index: Any = None
) -> Any:
    """Stacked batches of ``keys`` (default ``csi``, ``keypoints`` and ``visibility``) of the samples
    ``index`` (default: all), in order."""
    rows = np.arange(len(dataset)) if index is None else np.asarray(index, dtype=np.int64)
    for start in range(0, len(rows), size):
        part = rows[start : start + size]
        if hasattr(dataset, "read_batch"):
            yield dataset.read_batch(part)
        else:
            samples = [dataset[int(i)] for i in part]
            yield {k: np.stack([np.asarray(s[k]) for s in samples]) for k in keys}
