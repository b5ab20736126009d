"""The run folder: refusing to overwrite a run, the config and metrics log, the summary and plots.

A run writes into ``config.run_dir``::

    config.toml      the resolved config
    metrics.jsonl    one JSON record per epoch (train loss, lr, val figures, time)
    last.pt          full state after the latest epoch (or step checkpoint)
    best.pt          the best validation PCK@20 so far; plus top-k epoch files
    summary.json     best report, mean-pose and linear baselines, best epoch, params, time
    *.png            loss / PCK curves, PCK vs threshold, skeleton overlays

When the val split holds both frames of the training rooms (held-out subjects) and frames of
rooms never trained on, and the samples carry environment ids (single-person runs only; see
:mod:`csipose.train.domains`), summary.json also holds ``domains``:

- ``in_domain``, ``cross_domain``: the best model's reports on the frames of seen rooms and of
  unseen rooms (their ``frames`` add up to the model's);
- ``mean_pose_baseline``, ``linear_baseline``: the same two reports of each baseline;
- ``in_domain_gain``, ``cross_domain_gain``: the model's PCK@20 gain over the mean pose on each
  side (a fraction; None where it cannot be computed);
- ``gap_ratio``: cross-domain gain / in-domain gain, None when the in-domain gain is under 0.05;
- ``rooms`` (the val rooms of each side) and ``training_rooms``.

The per-epoch records of metrics.jsonl then carry each side's PCK@20, MPJPE and frames
(``val.domains``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from csipose.config import TrainingConfig
from csipose.errors import ConfigError
from csipose.train import checkpoint as ckpt
from csipose.train.distributed import DistContext
from csipose.train.domains import summary_block
from csipose.train.evaluate import PCK_KEY
from csipose.train.scoring import millimetres, percent
from csipose.train.state import RunState

__all__ = [
    "append_metrics",
    "baselines_line",
    "check_run_dir",
    "epoch_line",
    "finish",
    "prepare_run_dir",
    "read_metrics",
    "run_files",
]

_RUN_FILES = ("config.toml", "metrics.jsonl", "summary.json")
_RUN_PATTERNS = ("*.pt", "*.png", ".*.pt.*.tmp")


def run_files(run_dir: Path) -> list[Path]:
    """The files of a run in ``run_dir`` (config, logs, checkpoints, plots), sorted by name."""
    if not run_dir.is_dir():
        return []
    found = {run_dir / name for name in _RUN_FILES if (run_dir / name).is_file()}
    for pattern in _RUN_PATTERNS:
        found.update(p for p in run_dir.glob(pattern) if p.is_file())
    return sorted(found)


def check_run_dir(run_dir: Path, *, overwrite: bool) -> None:
    """Refuses to start a new run in a folder that already holds one, unless ``overwrite``."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"run_dir: {str(run_dir)!r} is a file, not a folder")
    if overwrite:
        return
    existing = run_files(run_dir)
    if existing:
        names = ", ".join(p.name for p in existing[:3]) + (", ..." if len(existing) > 3 else "")
        raise ConfigError(
            f"run_dir: {str(run_dir)!r} already holds a run ({names}); choose a new run_dir, "
            f"or overwrite it (csipose train --overwrite), which deletes its checkpoints and logs"
        )


def prepare_run_dir(run_dir: Path, config: TrainingConfig, *, resumed_epochs: int | None, overwrite: bool) -> None:
    """Creates the run folder and writes the config (rank 0).

    A new run starts an empty metrics log (``overwrite`` deletes the old run's files first);
    a resumed run trims the log past its checkpoint's ``resumed_epochs``.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    if resumed_epochs is None and overwrite:
        for path in run_files(run_dir):
            path.unlink()
    config.save(run_dir / "config.toml")
    log = run_dir / "metrics.jsonl"
    if resumed_epochs is None:
        log.write_text("", encoding="utf-8")
    elif log.exists():
        lines = [ln for ln in log.read_text(encoding="utf-8").splitlines() if ln.strip()]
        kept = [ln for ln in lines if json.loads(ln)["epoch"] <= resumed_epochs]
        log.write_text("".join(ln + "\n" for ln in kept), encoding="utf-8")


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    """Appends one epoch's record to ``metrics.jsonl``."""
    with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The records of ``metrics.jsonl``."""
    log = run_dir / "metrics.jsonl"
    return [json.loads(ln) for ln in log.read_text(encoding="utf-8").splitlines() if ln.strip()]


def finish(run: RunState, config: TrainingConfig, ctx: DistContext, params: int, run_dir: Path) -> dict[str, Any]:
    """Writes summary.json (best report beside the baselines) and the plots (rank 0); returns the summary."""
    baseline = _pooled(run.baselines["mean_pose_baseline"])
    summary = {
        "model": _pooled(run.best_report),
        "mean_pose_baseline": baseline,
        "pck20_gain": run.best_report["pck"][PCK_KEY] - baseline["pck"][PCK_KEY],
        "best_epoch": run.best_epoch,
        "epochs_run": run.epoch,
        "stopped_early": run.stopped_early,
        "steps": run.step,
        "params": params,
        "train_seconds": run.train_seconds,
        "world_size": ctx.world_size,
        "device": str(ctx.device),
        "data": config.data,
    }
    if "linear_baseline" in run.baselines:
        linear = _pooled(run.baselines["linear_baseline"])
        summary["linear_baseline"] = linear
        summary["pck20_gain_over_linear"] = run.best_report["pck"][PCK_KEY] - linear["pck"][PCK_KEY]
    domains = summary_block(run.best_report, run.baselines)
    if domains is not None:
        summary["domains"] = domains
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if config.plots:
        from csipose.train.plots import write_plots

        best = ckpt.load_checkpoint(run_dir / "best.pt")
        overlay = {k: v.numpy() for k, v in best.get("overlay", {}).items()}
        write_plots(run_dir, read_metrics(run_dir), run.best_report, baseline, overlay, config.skeleton)
    return summary


def _pooled(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` without its domain reports (which summary.json keeps in its ``domains`` block)."""
    return {k: v for k, v in report.items() if k != "domains"}


def baselines_line(baselines: dict[str, Any]) -> str:
    """One line with the baselines' val PCK@20."""
    line = f"baselines on the val split: mean pose PCK@20 {100 * baselines['mean_pose_baseline']['pck'][PCK_KEY]:.1f}%"
    if "linear_baseline" in baselines:
        linear = baselines["linear_baseline"]
        fit = linear["fit"]
        line += (f", linear (ridge) {100 * linear['pck'][PCK_KEY]:.1f}% "
                 f"(fitted on {fit['samples']} samples in {fit['seconds']:.0f} s)")
    if "densepose" in baselines["mean_pose_baseline"]:
        dp = baselines["mean_pose_baseline"]["densepose"]
        line += f"; mean IUV dpAP {percent(dp['dp_ap'])}, body-mask IoU {dp['mask_iou']:.3f}"
    return line


def epoch_line(record: dict[str, Any]) -> str:
    """One line with an epoch's metrics record."""
    line = f"epoch {record['epoch']}: train loss {record['train_loss']:.4f} lr {record['lr']:.2e}"
    if "val" in record:
        v = record["val"]
        line += f"  val PCK@20 {percent(v['pck'][PCK_KEY])}  MPJPE {millimetres(v['mpjpe'])}"
        if "densepose" in v:
            line += f"  dpAP {percent(v['densepose']['dp_ap'])}  mask IoU {v['densepose']['mask_iou']:.3f}"
    return line
