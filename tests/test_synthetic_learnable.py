"""CSI is a function of pose here: a linear model beats the mean pose on held-out subjects."""

from __future__ import annotations

import numpy as np

from csipose.data.synthetic import SyntheticConfig, SyntheticCsiDataset
from csipose.metrics import mpjpe, pck

# All eight actions, ten subjects (val = 5 and 10), 24 frames per sequence: 1536 train / 384 val.
CONFIG = SyntheticConfig(frames=24)


def _features(ds: SyntheticCsiDataset) -> np.ndarray:
    """Packet-mean amplitude and phase: ``[N, 6 * 114]``."""
    return ds.csi.mean(axis=-1).reshape(len(ds), -1).astype(np.float64)


def _mpjpe_and_pck20(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """MPJPE (m) and canonical torso PCK@20, from the locked metric harness."""
    return float(mpjpe(pred, gt)), float(pck(pred, gt, thresholds=(20,)).pck[0])


def _ridge(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    return np.linalg.solve(x.T @ x + lam * np.eye(x.shape[1]), x.T @ y)


def test_ridge_on_csi_beats_the_mean_pose_on_held_out_subjects() -> None:
    train, val = SyntheticCsiDataset(CONFIG, "train"), SyntheticCsiDataset(CONFIG, "val")
    assert not set(train.subject.tolist()) & set(val.subject.tolist())
    x, xv = _features(train), _features(val)
    mu, sd = x.mean(0), x.std(0) + 1e-9
    x, xv = (x - mu) / sd, (xv - mu) / sd
    y = train.keypoints.reshape(len(train), -1).astype(np.float64)
    gt = val.keypoints.astype(np.float64)
    mean_pose = y.mean(0)

    base_mpjpe, base_pck = _mpjpe_and_pck20(np.broadcast_to(mean_pose.reshape(17, 3), gt.shape), gt)
    pred = (xv @ _ridge(x, y - mean_pose, 10.0) + mean_pose).reshape(gt.shape)
    mpjpe, pck = _mpjpe_and_pck20(pred, gt)
    assert mpjpe <= 0.8 * base_mpjpe, (mpjpe, base_mpjpe)
    assert pck >= base_pck + 0.10, (pck, base_pck)

    # Control: the same model fitted to shuffled labels learns nothing that transfers.
    shuffled = y[np.random.default_rng(0).permutation(len(y))]
    pred = (xv @ _ridge(x, shuffled - mean_pose, 10.0) + mean_pose).reshape(gt.shape)
    assert _mpjpe_and_pck20(pred, gt)[0] >= 0.95 * base_mpjpe
