"""ONNX export: what each precision costs in accuracy and buys in size and speed, beside torch.

A checkpoint is exported (:func:`csipose.export.export_onnx`) at fp32, fp16, int8-static
(activation ranges calibrated on ``--calibration`` evenly spaced training windows) and
int8-dynamic, and each file runs through :meth:`csipose.infer.Predictor.predict_windows`, the
code path every runtime shares, beside the ``.pt`` in torch eager: the held-out (val) split
recorded in the checkpoint's config scored with the locked harness (torso PCK@20/50, MPJPE,
PA-MPJPE), batch-1 latency (p50/p99 over single-window calls after a warm-up) and batch-256
throughput. Every runtime gets the same intra-op thread count (``--threads``; by default
torch's own default, the physical cores). The mean-pose and ridge baselines of the run's
``summary.json`` are printed beside the table, then the goals (int8 within 1 point of PCK@20 of
fp32 in a file at least 3x smaller; ORT fp32 batch-1 p50 under 1 ms) and whether
``csipose.export.INT8_DEFAULT`` is the better int8 on these figures.

    python benches/bench_export.py runs/default/best.pt
    python benches/bench_export.py runs/default/best.pt --calibration 256 --calls 5000
    python benches/bench_export.py --quick      # tiny: trains a 2-epoch model first (the test suite)

Latencies are wall-clock on a machine that may be running other work: read them as a floor on
this hardware, not a specification.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

PRECISIONS = ("fp32", "fp16", "int8-static", "int8-dynamic")
PCK_GOAL_POINTS = 1.0  # int8: PCK@20 within this many points of fp32
SIZE_GOAL = 3.0  # int8: a file at least this many times smaller than fp32
LATENCY_GOAL_MS = 1.0  # ORT fp32 batch-1 p50
QUICK_TRAIN = ["epochs=2", "synthetic.subjects=8", "synthetic.subjects_per_environment=8",
               "synthetic.val_subjects=[4,8]", "synthetic.frames=10", "plots=false"]  # fmt: skip


def train_tiny(run_dir: Path) -> Path:
    """A 2-epoch checkpoint on tiny synthetic data (about 5 s of training)."""
    command = [sys.executable, "-m", "csipose", "train", "--run-dir", os.fspath(run_dir), "--quiet"]
    for setting in QUICK_TRAIN:
        command += ["--set", setting]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return run_dir / "best.pt"


def val_split(config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(windows[N, W, C, S, P], keypoints[N, 17, 3], visibility[N, 17])`` of the recorded val split."""
    from csipose.config import TrainingConfig
    from csipose.train.data import load_split

    ds = load_split(TrainingConfig.from_dict(config, recorded=True), "val")
    if hasattr(ds, "read_batch"):  # MM-Fi: one vectorised read
        batch = ds.read_batch(np.arange(len(ds)))
        return (np.asarray(batch["csi"], dtype=np.float32), np.asarray(batch["keypoints"], dtype=np.float32),
                np.asarray(batch["visibility"], dtype=np.float32))  # fmt: skip
    samples = [ds[i] for i in range(len(ds))]
    windows = np.stack([np.asarray(s["csi"], dtype=np.float32) for s in samples])
    keypoints = np.stack([np.asarray(s["keypoints"], dtype=np.float32) for s in samples])
    visibility = np.stack([np.asarray(s["visibility"], dtype=np.float32) for s in samples])
    return windows, keypoints, visibility


def weights_bytes(checkpoint: Path) -> int:
    """Bytes of the checkpoint's model ``state_dict`` saved alone with ``torch.save`` (the ``.pt``
    also holds optimiser and scheduler state, which inference never reads)."""
    import torch

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    buffer = io.BytesIO()
    torch.save(state["model"], buffer)
    return buffer.getbuffer().nbytes


def latency_ms(predictor: Any, window: np.ndarray, calls: int, warmup: int) -> tuple[float, float]:
    """p50 and p99 in ms of ``predict_windows`` on one window."""
    for _ in range(warmup):
        predictor.predict_windows(window)
    times = np.empty(calls)
    clock = time.perf_counter_ns
    for i in range(calls):
        start = clock()
        predictor.predict_windows(window)
        times[i] = clock() - start
    return float(np.percentile(times, 50)) / 1e6, float(np.percentile(times, 99)) / 1e6


def throughput(predictor: Any, batch: np.ndarray, repeats: int) -> float:
    """Windows per second of ``predict_windows`` on one batch of 256 (the median of ``repeats`` calls)."""
    predictor.predict_windows(batch, batch_size=len(batch))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predictor.predict_windows(batch, batch_size=len(batch))
        times.append(time.perf_counter() - start)
    return len(batch) / float(np.median(times))


def ratio_cell(reference: int, size: int) -> str:
    if size == reference:
        return "1.00x"
    if size < reference:
        return f"{reference / size:.2f}x smaller"
    return f"{size / reference:.2f}x larger"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", type=Path, help="a .pt written by csipose train")
    parser.add_argument("--calibration", type=int, default=512, help="training windows that calibrate int8-static")
    parser.add_argument("--calls", type=int, default=None, help="batch-1 calls timed per row (2000; 200 with --quick)")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads of every runtime (0: torch's default)")
    parser.add_argument("--quick", action="store_true", help="tiny: trains a 2-epoch checkpoint when none is given")
    args = parser.parse_args()
    if args.checkpoint is None and not args.quick:
        parser.error("a checkpoint is required (e.g. runs/default/best.pt); only --quick trains its own")
    if args.checkpoint is not None and not args.checkpoint.is_file():
        parser.error(f"checkpoint {args.checkpoint}: no such file")
    if args.calibration < 1:
        parser.error("--calibration: expected an integer >= 1")
    calls = args.calls or (200 if args.quick else 2000)
    warmup = 20 if args.quick else 200
    repeats = 3 if args.quick else 20

    import torch

    from csipose.export import INT8_DEFAULT, export_onnx
    from csipose.infer import Predictor
    from csipose.train.evaluate import score

    threads = args.threads or torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        checkpoint = args.checkpoint
        if checkpoint is None:
            started = time.perf_counter()
            checkpoint = train_tiny(Path(tmp) / "run")
            took = time.perf_counter() - started
            print(f"trained a tiny 2-epoch checkpoint in {took:.0f} s ({' '.join(QUICK_TRAIN)})")
        print(f"checkpoint: {checkpoint}")

        files: dict[str, Path] = {}
        for precision in PRECISIONS:
            started = time.perf_counter()
            info = export_onnx(checkpoint, Path(tmp) / f"model-{precision}.onnx", precision=precision,
                               calibration=args.calibration)  # fmt: skip
            files[precision] = Path(info["path"])
            extra = f", fp32 graph vs torch max |error| {info['fp32_max_error']:.1e} m"
            if precision == "int8-static":
                extra += (f"; calibrated on {info['calibration_samples']:,} training windows "
                          f"({args.calibration:,} asked)")  # fmt: skip
            print(f"exported {precision:<12} in {time.perf_counter() - started:5.1f} s{extra}")

        rows: list[tuple[str, Any, int]] = []
        pt = Predictor.load(checkpoint, threads=threads)
        rows.append(("torch eager fp32 (.pt)", pt, weights_bytes(checkpoint)))
        for precision in PRECISIONS:
            predictor = Predictor.load(files[precision], threads=threads)
            assert predictor.runtime == "onnxruntime" and predictor.precision == precision
            rows.append((f"ORT {precision}", predictor, files[precision].stat().st_size))
        assert pt.config is not None
        windows, gt, vis = val_split(pt.config)
        print(f"intra-op threads: {threads} for every runtime (torch {torch.__version__}, "
              f"onnxruntime {_ort_version()}); val split recorded in the checkpoint: {len(windows):,} windows "
              f"of {list(windows.shape[1:])}; batch-1 latency over {calls:,} calls after {warmup} warm-up, "
              f"batch-256 throughput the median of {repeats} calls")  # fmt: skip
        single = np.ascontiguousarray(windows[:1])
        batch = np.ascontiguousarray(np.resize(windows, (256, *windows.shape[1:])))

        results: dict[str, dict[str, Any]] = {}
        for label, predictor, size in rows:
            report = score(predictor.predict_windows(windows), gt, vis).to_dict()
            p50, p99 = latency_ms(predictor, single, calls, warmup)
            results[label] = {"size": size, "report": report, "p50": p50, "p99": p99,
                              "rate": throughput(predictor, batch, repeats)}  # fmt: skip
        summary_file = Path(checkpoint).parent / "summary.json"  # read before a --quick run folder goes
        summary = json.loads(summary_file.read_text()) if summary_file.is_file() else None

    reference = results["ORT fp32"]
    ref_pck = 100 * reference["report"]["pck"]["20"]
    print()
    print("sizes: the .pt row is its model state_dict saved alone (the .pt file also holds optimiser state); "
          "ratios and PCK@20 changes are against ORT fp32")  # fmt: skip
    header = (f"{'runtime / precision':<24}{'size MB':>9}  {'vs ORT fp32':<14}{'PCK@20':>8}{'PCK@50':>8}"
              f"{'MPJPE':>10}{'PA-MPJPE':>10}{'dPCK@20':>9}{'p50 ms':>9}{'p99 ms':>9}{'b256 win/s':>12}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for label, r in results.items():
        rep = r["report"]
        pck20, pck50 = 100 * rep["pck"]["20"], 100 * rep["pck"]["50"]
        print(f"{label:<24}{r['size'] / 1e6:>9.2f}  {ratio_cell(reference['size'], r['size']):<14}"
              f"{pck20:>7.1f}%{pck50:>7.1f}%{1000 * rep['mpjpe']:>7.1f} mm{1000 * rep['pa_mpjpe']:>7.1f} mm"
              f"{pck20 - ref_pck:>+9.2f}{r['p50']:>9.3f}{r['p99']:>9.3f}{r['rate']:>12,.0f}")  # fmt: skip
    if summary is not None:
        for label, key in (("mean pose (baseline)", "mean_pose_baseline"), ("ridge (baseline)", "linear_baseline")):
            if key in summary:
                rep = summary[key]
                print(f"{label:<24}{'':>9}  {'':<14}{100 * rep['pck']['20']:>7.1f}%{'':>8}"
                      f"{1000 * rep['mpjpe']:>7.1f} mm")  # fmt: skip
        model = summary.get("model", {})
        if Path(checkpoint).name == "best.pt" and "pck" in model:
            print(f"(summary.json records PCK@20 {100 * model['pck']['20']:.1f}% and MPJPE "
                  f"{1000 * model['mpjpe']:.1f} mm for the best epoch, as trained)")  # fmt: skip
    else:
        print(f"(no {summary_file}: no baselines to print beside the table)")

    print()
    losses: dict[str, float] = {}
    for precision in ("int8-static", "int8-dynamic"):
        r = results[f"ORT {precision}"]
        change = 100 * r["report"]["pck"]["20"] - ref_pck
        losses[precision] = change
        smaller = reference["size"] / r["size"]
        met = abs(change) <= PCK_GOAL_POINTS and smaller >= SIZE_GOAL
        print(f"{precision}: PCK@20 {change:+.2f} points vs fp32 (goal within {PCK_GOAL_POINTS:g}), file "
              f"{smaller:.2f}x smaller (goal {SIZE_GOAL:g}x): {'met' if met else 'NOT met'}")  # fmt: skip
    p50 = reference["p50"]
    print(f"ORT fp32 batch-1 latency p50 {p50:.3f} ms (goal under {LATENCY_GOAL_MS:g} ms): "
          f"{'met' if p50 < LATENCY_GOAL_MS else 'NOT met'}")  # fmt: skip
    other = "int8-static" if INT8_DEFAULT == "int8-dynamic" else "int8-dynamic"
    better = max(losses, key=lambda p: (losses[p], -results[f"ORT {p}"]["size"]))
    print(f"--precision int8 maps to {INT8_DEFAULT} (csipose.export.INT8_DEFAULT): here it changes PCK@20 by "
          f"{losses[INT8_DEFAULT]:+.2f} points in {results[f'ORT {INT8_DEFAULT}']['size'] / 1e6:.2f} MB, "
          f"{other} by {losses[other]:+.2f} in {results[f'ORT {other}']['size'] / 1e6:.2f} MB: "
          f"{'agrees, it is the better one' if better == INT8_DEFAULT else f'DISAGREES, {better} is better'} "
          "(higher PCK@20 first, then the smaller file)")  # fmt: skip


def _ort_version() -> str:
    from importlib.metadata import version

    return version("onnxruntime")


if __name__ == "__main__":
    main()
