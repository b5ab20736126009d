"""Writes tiny MM-Fi trees with controlled values, for the data tests.

``write_sequence`` writes one ``E??/S??/A??`` folder: ``ground_truth.npy`` and
``wifi-csi/frameNNN.mat`` files (MATLAB v5 via ``scipy.io.savemat``) and returns
the arrays it wrote so tests can compare against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

from csipose.data.splits import ENVIRONMENT_OF_SUBJECT

FRAME = (3, 114, 10)


@dataclass
class WrittenSequence:
    """What was written: ``amp``/``phase`` float64[F, 3, 114, 10] for frames 1..F, ``gt`` [T, 17, 3]."""

    path: Path
    amp: np.ndarray
    phase: np.ndarray
    gt: np.ndarray


def write_sequence(
    root: Path,
    subject: str,
    action: str,
    frames: int,
    *,
    seed: int = 0,
    gt_frames: int = 297,
    amp: np.ndarray | None = None,
    empty: tuple[int, ...] = (),
    missing: tuple[int, ...] = (),
) -> WrittenSequence:
    """Writes frames ``1..frames`` of one sequence under its subject's environment.

    Args:
        amp: float64[frames, 3, 114, 10] amplitude to write (random positive when None).
        empty: 1-based frame numbers written as 0-byte files.
        missing: 1-based frame numbers not written at all.
    """
    rng = np.random.default_rng([seed, int(subject[1:]), int(action[1:])])
    seq = root / ENVIRONMENT_OF_SUBJECT[subject] / subject / action
    (seq / "wifi-csi").mkdir(parents=True, exist_ok=True)
    amps = rng.uniform(1.0, 40.0, (frames, *FRAME)) if amp is None else np.asarray(amp, dtype=np.float64)
    phases = rng.uniform(-np.pi, np.pi, (frames, *FRAME))
    gt = rng.normal(0.0, 0.5, (gt_frames, 17, 3)).astype(np.float64)
    np.save(seq / "ground_truth.npy", gt)
    for k in range(frames):
        number = k + 1
        path = seq / "wifi-csi" / f"frame{number:03d}.mat"
        if number in missing:
            continue
        if number in empty:
            path.write_bytes(b"")
            continue
        scipy.io.savemat(path, {"CSIamp": amps[k], "CSIphase": phases[k]})
    return WrittenSequence(seq, amps, phases, gt)


def write_tree(
    root: Path, subjects: tuple[str, ...], actions: tuple[str, ...], frames: int, *, seed: int = 0
) -> dict[tuple[str, str], WrittenSequence]:
    """Every subject x action sequence with ``frames`` frames, plus other modalities and stray files."""
    out = {}
    for s in subjects:
        for a in actions:
            seq = write_sequence(root, s, a, frames, seed=seed)
            (seq.path / "rgb").mkdir(exist_ok=True)
            (seq.path / "rgb" / "frame001.npy").write_bytes(b"not csi")
            out[(s, a)] = seq
    (root / "README.txt").write_text("stray file")
    (root / "E01" / "notes.md").parent.mkdir(parents=True, exist_ok=True)
    (root / "E01" / "notes.md").write_text("stray")
    return out
