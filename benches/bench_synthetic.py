"""Synthetic CSI generation: the vectorised channel vs a per-packet loop, in one run.

The peer is the channel written as a user would first write it: one packet at a
time, the exact sum over every path and body point with no approximation. The
bench checks that both agree (the vectorised one takes the body echoes'
tone-dependent phase at each frame's middle packet and interpolates shadowing
between a frame's first and last packet) and reports packets/s and the ratio.
Then it times generating the default train + val splits and, with ``--ridge``,
prints how far a ridge regression on the CSI beats the mean pose on the
held-out subjects.

    python benches/bench_synthetic.py --ridge     # full run with learnability figures
    python benches/bench_synthetic.py --quick     # a smoke run
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from csipose.data.synthetic import SyntheticConfig, SyntheticCsiDataset, body, generate, radio
from csipose.data.synthetic.scenes import Scene
from csipose.metrics import mpjpe, pck


def per_packet_channel(points: np.ndarray, weights: np.ndarray, rcs: np.ndarray, scene: Scene,
                       paths: radio.StaticPaths, freqs: np.ndarray) -> np.ndarray:
    """The channel ``[T, P, R, K]`` packet by packet, path by path, exactly."""
    t_n, p_n, _, _ = points.shape
    lam = radio.SPEED_OF_LIGHT / radio.CARRIER_HZ
    out = np.zeros((t_n, p_n, len(scene.rx), freqs.shape[0]), dtype=np.complex128)
    for t in range(t_n):
        for p in range(p_n):
            x = points[t, p]
            depth = np.zeros(paths.seg_len.shape[0])
            for g in range(depth.shape[0]):
                a, u, length = paths.seg_start[g], paths.seg_dir[g], paths.seg_len[g]
                along = np.clip((x - a) @ u, 0.0, length)
                d = np.linalg.norm(x - (a + along[:, None] * u), axis=1)
                block = np.exp(-(d**2) / (2 * radio.BLOCKING_RADIUS**2))
                depth[g] = np.sum(radio.BLOCKING_DEPTH * weights * block)
            for r, rx in enumerate(scene.rx):
                atten = np.exp(-(paths.uses[r] @ depth))
                for n in range(atten.shape[0]):
                    out[t, p, r] += atten[n] * paths.gain[r, n] * np.exp(-2j * np.pi * freqs * paths.delay[r, n])
                d1 = np.linalg.norm(x - scene.tx, axis=1)
                d2 = np.linalg.norm(x - rx, axis=1)
                gain = lam * np.sqrt(rcs) / ((4 * np.pi) ** 1.5 * d1 * d2)
                tau = (d1 + d2) / radio.SPEED_OF_LIGHT
                out[t, p, r] += (gain[:, None] * np.exp(-2j * np.pi * tau[:, None] * freqs)).sum(axis=0)
    return out


def sequence_points(config: SyntheticConfig) -> np.ndarray:
    """Body points ``[T, P, Q, 3]`` of subject 1 squatting."""
    times = (np.arange(config.frames)[:, None] / config.frame_rate_hz
             + np.arange(config.packets) / config.packet_rate_hz).ravel()
    size = body.Subject(1.0, 1.0)
    joints = body.pose_sequence("squat", size, times, np.array([3.0, 2.5]), -np.pi / 2, np.random.default_rng(0))
    return body.body_points(joints).reshape(config.frames, config.packets, -1, 3)


def ridge_vs_mean(train: SyntheticCsiDataset, val: SyntheticCsiDataset) -> None:
    """Prints MPJPE and torso PCK@20 of the mean pose and of ridge regression on packet-mean CSI."""
    def feats(ds: SyntheticCsiDataset) -> np.ndarray:
        return ds.csi.mean(axis=-1).reshape(len(ds), -1).astype(np.float64)

    def scores(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
        return float(mpjpe(pred, gt)), float(pck(pred, gt, thresholds=(20,)).pck[0])

    x, xv = feats(train), feats(val)
    mu, sd = x.mean(0), x.std(0) + 1e-9
    x, xv = (x - mu) / sd, (xv - mu) / sd
    y = train.keypoints.reshape(len(train), -1).astype(np.float64)
    gt = val.keypoints.astype(np.float64)
    mean = y.mean(0)
    base = scores(np.broadcast_to(mean.reshape(17, 3), gt.shape), gt)
    print(f"held-out subjects {sorted(set(val.subject.tolist()))}, {len(train)} train / {len(val)} val frames")
    print(f"  mean pose        MPJPE {base[0] * 1000:6.1f} mm   PCK@20-torso {base[1] * 100:5.1f} %")
    for lam in (1.0, 10.0, 100.0):
        w = np.linalg.solve(x.T @ x + lam * np.eye(x.shape[1]), x.T @ (y - mean))
        m = scores((xv @ w + mean).reshape(gt.shape), gt)
        print(f"  ridge lam={lam:<5g}  MPJPE {m[0] * 1000:6.1f} mm   PCK@20-torso {m[1] * 100:5.1f} %   "
              f"MPJPE x{m[0] / base[0]:.2f} of mean pose")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes")
    parser.add_argument("--ridge", action="store_true", help="also print ridge vs mean-pose figures")
    args = parser.parse_args()

    peer_frames = 1 if args.quick else 6
    cfg = SyntheticConfig(frames=peer_frames)
    scene, paths = generate.make_environment(cfg, 1)
    points = sequence_points(cfg)
    weights = body.POINT_WEIGHTS
    rcs = radio.BODY_RCS * weights / weights.sum()
    freqs = radio.tone_frequencies()

    start = time.perf_counter()
    ours = radio.channel(points, weights, rcs, scene, paths, freqs)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    ref = per_packet_channel(points, weights, rcs, scene, paths, freqs)
    t_ref = time.perf_counter() - start
    rel = np.abs(ours - ref).max() / np.abs(ref).mean()
    assert rel < 0.05, rel
    packets = points.shape[0] * points.shape[1]
    print(f"channel of {packets} packets x 3 antennas x 114 tones, {paths.seg_len.shape[0]} segments, "
          f"{paths.delay.shape[1]} static paths/antenna, {points.shape[2]} body points")
    print(f"  vectorised {packets / t_ours:12,.0f} packets/s   per-packet loop {packets / t_ref:10,.0f} packets/s   "
          f"x{t_ref / t_ours:.0f} faster; max |difference| {rel:.1e} of mean |H|")

    full = SyntheticConfig(frames=4, actions=("squat", "wave")) if args.quick else SyntheticConfig()
    start, cpu = time.perf_counter(), time.process_time()
    train = SyntheticCsiDataset(full, "train")
    val = SyntheticCsiDataset(full, "val")
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    frames = len(train) + len(val)
    name = "tiny" if args.quick else "default"
    print(f"{name} splits: {len(train)} train + {len(val)} val frames in {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU ({frames / wall:,.0f} frames/s)")
    if args.ridge:
        ridge_vs_mean(train, val)


if __name__ == "__main__":
    main()
