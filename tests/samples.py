"""In-memory datasets of contract-shaped samples for training tests."""

from __future__ import annotations

from typing import Any

import numpy as np


class ArraySamples:
    """Samples of the dataset contract from arrays: ``csi: float32[N, W, C, S, P]``,
    ``keypoints: float32[N, 17, 3]`` (all visible, one subject/action/environment), and any
    further per-sample arrays (e.g. ``dp_parts``) under their own keys."""

    def __init__(self, csi: np.ndarray, keypoints: np.ndarray, **extra: np.ndarray) -> None:
        self.csi, self.kp, self.extra = csi, keypoints, extra

    def __len__(self) -> int:
        return len(self.kp)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {
            "csi": self.csi[i], "keypoints": self.kp[i], "visibility": np.ones(17, np.float32),
            "subject": np.int64(1), "action": np.int64(1), "environment": np.int64(1), "frame": np.int64(i + 1),
            **{key: values[i] for key, values in self.extra.items()},
        }  # fmt: skip
