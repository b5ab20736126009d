"""What a capture holds, for people: ``csipose data inspect CAPTURE [--plot PNG]``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from csipose.io.capture import FORMATS, CsiRecording

__all__ = ["describe_capture", "plot_capture"]


def describe_capture(rec: CsiRecording) -> str:
    """Packets, duration and rate, gaps, antennas, subcarrier plan, empty packets and metadata."""
    t = rec.timestamps
    gaps = np.diff(t)
    step = float(np.median(gaps)) if len(gaps) else float("nan")
    big = gaps > 2 * step if len(gaps) else np.zeros(0, bool)
    values = rec.csi.reshape(rec.packets, -1)
    bad = ~np.isfinite(values).all(axis=1)
    zero = (values == 0).all(axis=1)
    tones = rec.subcarriers
    lines = [
        f"{os.fspath(rec.path)}: {FORMATS[rec.format]}",
        f"  packets      {rec.packets:,} over {t[-1] - t[0]:.3f} s"
        + (f", {1 / step:,.1f} packets/s (median interval {1e3 * step:.3f} ms)" if step > 0 else ""),
        f"  gaps         {int(big.sum())} interval(s) over twice the median"
        + (f", longest {1e3 * float(gaps.max()):.1f} ms at {t[int(gaps.argmax())] - t[0]:.3f} s" if big.any() else ""),
        f"  antennas     tx {rec.tx}, rx {rec.rx}",
        f"  subcarriers  {len(tones)} tones, {int(tones.min())}..{int(tones.max())}"
        + (f" (plan {rec.plan})" if rec.plan else " (no named plan)"),
        f"  empty        {int(bad.sum())} packet(s) with NaN/inf, {int(zero.sum())} all-zero packet(s)",
    ]
    scalars = {k: v for k, v in rec.metadata.items() if np.isscalar(v)}
    if scalars:
        lines.append("  metadata     " + ", ".join(f"{k} {v}" for k, v in scalars.items()))
    arrays = [k for k, v in rec.metadata.items() if not np.isscalar(v)]
    if arrays:
        lines.append("  per packet   " + ", ".join(arrays))
    return "\n".join(lines)


def plot_capture(rec: CsiRecording, out: str | os.PathLike[str]) -> Path:
    """A PNG of amplitude (every tone, receive antenna 0, stream 0) and sanitised phase over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from csipose.subcarrier import sanitize_phase

    t = rec.timestamps - rec.timestamps[0]
    csi = rec.csi[:, 0, 0]  # [T, S]
    phase = sanitize_phase(np.angle(csi).astype(np.float64), axis=1, tones=rec.subcarriers)
    fig, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for ax, values, title in ((axes[0], np.abs(csi), "amplitude"), (axes[1], phase, "sanitised phase (rad)")):
        # packets at their own times and tones at their own indices (gaps and grouping show as such)
        image = ax.pcolormesh(t, rec.subcarriers, values.T, shading="nearest")
        ax.set_ylabel("subcarrier index")
        ax.set_title(f"{title}, tx 0 rx 0")
        fig.colorbar(image, ax=ax)
    axes[1].set_xlabel("time (s)")
    fig.suptitle(f"{Path(rec.path).name}: {rec.format}, {rec.packets} packets")
    fig.tight_layout()
    path = Path(out)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
