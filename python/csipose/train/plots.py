"""PNG plots of a run (matplotlib with the Agg backend, imported lazily)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from csipose.skeletons import get_skeleton

__all__ = ["write_plots"]


def write_plots(
    run_dir: Path,
    records: list[dict[str, Any]],
    best: dict[str, Any],
    baseline: dict[str, Any],
    overlay: dict[str, np.ndarray],
    skeleton: str = "h36m17",
) -> list[Path]:
    """Writes loss.png, pck.png, pck_threshold.png, overlays.png (and densepose.png); returns the paths.

    Args:
        records: metrics.jsonl records (per epoch).
        best / baseline: PoseReport dicts of the best epoch and the mean-pose baseline.
        overlay: ``{"pred": float[K, J, D], "gt": float[K, J, 3]}`` validation samples (with the
            DensePose head also ``"iuv_pred"``, ``"iuv_gt"``: ``float[K, 3, H, W]``).
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    written: list[Path] = []

    def save(fig: Any, name: str) -> None:
        path = run_dir / name
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)

    epochs = [r["epoch"] for r in records]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(epochs, [r["train_loss"] for r in records], marker="o", label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend()
    save(fig, "loss.png")

    val = [r for r in records if "val" in r]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for key in sorted({k for r in val for k in r["val"]["pck"]}, key=float):
        ax.plot([r["epoch"] for r in val], [r["val"]["pck"][key] for r in val], marker="o", label=f"PCK@{key}")
    if "20" in baseline.get("pck", {}):
        ax.axhline(baseline["pck"]["20"], color="grey", linestyle="--", label="mean pose PCK@20")
    ax.set_xlabel("epoch")
    ax.set_ylabel("val PCK (torso, fraction)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    save(fig, "pck.png")

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, report in (("model (best epoch)", best), ("mean-pose baseline", baseline)):
        if report.get("pck"):
            ks = sorted(report["pck"], key=float)
            ax.plot([float(k) for k in ks], [report["pck"][k] for k in ks], marker="o", label=name)
    ax.set_xlabel("threshold (% of torso)")
    ax.set_ylabel("PCK")
    ax.set_ylim(0, 1)
    ax.legend()
    save(fig, "pck_threshold.png")

    if overlay.get("pred") is not None and len(overlay["pred"]):
        pred, gt = overlay["pred"], overlay["gt"]
        k = len(pred)
        fig, axes = plt.subplots(1, k, figsize=(2.6 * k, 3.2), squeeze=False)
        for i, ax in enumerate(axes[0]):
            for pose, color, label in ((gt[i], "tab:green", "ground truth"), (pred[i], "tab:red", "prediction")):
                for a, b in get_skeleton(skeleton).bones:
                    ax.plot([pose[a, 0], pose[b, 0]], [pose[a, 1], pose[b, 1]], color=color, linewidth=1.5)
                ax.scatter(pose[:, 0], pose[:, 1], s=6, color=color, label=label)
            ax.set_aspect("equal")
            ax.invert_yaxis()  # MM-Fi's camera frame has y pointing down
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"val sample {i}", fontsize=8)
        axes[0][0].legend(fontsize=6, loc="lower left")
        save(fig, "overlays.png")
    if overlay.get("iuv_pred") is not None and len(overlay["iuv_pred"]):
        save(_densepose_figure(plt, overlay["iuv_pred"], overlay["iuv_gt"]), "densepose.png")
    return written


def _densepose_figure(plt: Any, pred: np.ndarray, truth: np.ndarray) -> Any:
    """Predicted and true IUV images ``float[K, 3, H, W]`` side by side: a row per sample, the
    part index, U and V of the truth then of the prediction."""
    k = len(pred)
    fig, axes = plt.subplots(k, 6, figsize=(9, 1.6 * k), squeeze=False)
    for i in range(k):
        for j, (iuv, who) in enumerate(((truth[i], "true"), (pred[i], "predicted"))):
            for c, (name, cmap, top) in enumerate((("part", "tab20b", 24), ("U", "viridis", 1), ("V", "viridis", 1))):
                ax = axes[i][3 * j + c]
                shown = np.ma.masked_where(iuv[0] < 0.5, iuv[c])  # background left blank
                ax.imshow(shown, cmap=cmap, vmin=0, vmax=top, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if i == 0:
                    ax.set_title(f"{who} {name}", fontsize=7)
    return fig
