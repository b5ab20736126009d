"""Writes synthetic data in MM-Fi's official layout, so the real loader runs on it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from csipose.data.synthetic.config import SyntheticConfig
from csipose.data.synthetic.generate import render
from csipose.errors import ConfigError

__all__ = ["write_mmfi_tree"]


def write_mmfi_tree(out_dir: str | os.PathLike[str], config: SyntheticConfig | None = None, *,
                    quirks: bool = False) -> list[Path]:
    """Writes every subject and action of ``config`` as an MM-Fi tree.

    Layout: ``OUT/E??/S??/A??/ground_truth.npy`` (``float64[T, 17, 3]``, metres,
    camera frame, the labelled person) and ``OUT/E??/S??/A??/wifi-csi/frame001.mat``
    ... (MATLAB v5) with ``CSIamp`` and ``CSIphase``, ``float64[3, 114, 10]``: raw
    amplitude and raw wrapped phase, as MM-Fi stores them (not cleaned; the
    ``features``/``window``/``subcarriers`` settings do not apply). Environment
    ``E`` is the subject's room (``config.environment_of``); with the default
    10 subjects per room that is MM-Fi's layout: S01-S10 in E01, S11-S20 in E02, ...

    Args:
        out_dir: root folder; created if missing, existing files overwritten.
        config: what to generate (all subjects, train and val).
        quirks: also reproduce MM-Fi's defects: in every sequence of more than
            two frames, frame 2 gets ``+inf`` and ``-inf`` amplitudes on one packet
            and frame 3 a NaN row; and the last frame file of the first sequence
            is written with 0 bytes.

    Returns:
        The sequence folders written, in order.
    """
    from scipy.io import savemat

    cfg = config if config is not None else SyntheticConfig()
    if cfg.receivers != 1:
        raise ConfigError(f"receivers: an MM-Fi tree holds one receiver's three antennas per frame, got "
                          f"receivers = {cfg.receivers}")
    root = Path(out_dir)
    written: list[Path] = []
    for n, seq in enumerate(render(cfg, tuple(range(1, cfg.subjects + 1)))):
        folder = root / f"E{seq.environment:02d}" / f"S{seq.subject:02d}" / f"A{seq.action:02d}"
        (folder / "wifi-csi").mkdir(parents=True, exist_ok=True)
        np.save(folder / "ground_truth.npy", seq.keypoints[:, cfg.labelled_person].astype(np.float64))
        amplitude = seq.amplitude.astype(np.float64)
        if quirks and amplitude.shape[0] > 2:
            amplitude[1, 0, :5, 3] = np.inf
            amplitude[1, 2, 40:42, 3] = -np.inf
            amplitude[2, 1, :, 7] = np.nan
        for t in range(amplitude.shape[0]):
            path = folder / "wifi-csi" / f"frame{t + 1:03d}.mat"
            if quirks and n == 0 and t == amplitude.shape[0] - 1:
                path.write_bytes(b"")
                continue
            savemat(path, {"CSIamp": amplitude[t], "CSIphase": seq.phase[t].astype(np.float64)},
                    do_compression=False)
        written.append(folder)
    return written
