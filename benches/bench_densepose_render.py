"""DensePose label rendering: the default synthetic dataset's label frames, ray cast on one core.

Renders, through each room's fixed stage camera (56 x 56), the IUV label of every label
frame of the default ``SyntheticConfig`` (train + val, 6,000 frames) and prints frames/s
and the total seconds (wall and CPU). There is no peer to compare with: no library a user
would otherwise pick renders this body surface, so the bench reports its own speed against
the goal (the whole default dataset well under a minute). Only the rendering is timed; the joints come from the
generator with the ``dense_map`` family (its people, rooms and stages are the physics
family's, its CSI far cheaper to make).

    python benches/bench_densepose_render.py            # the default dataset
    python benches/bench_densepose_render.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from csipose.data.synthetic import SyntheticConfig, generate
from csipose.densepose import render_iuv, stage_camera


def label_frames(config: SyntheticConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(stage float64[3], joints float64[L, K, 17, 3])`` of every sequence of both splits."""
    subjects = config.train_subjects + config.held_out_subjects
    return [(seq.stage, seq.keypoints[config.window - 1 :]) for seq in generate.render(config, subjects)]


def render_all(sequences: list[tuple[np.ndarray, np.ndarray]], size: int) -> int:
    """Renders every label frame; returns the foreground pixels (so nothing is optimised away)."""
    foreground = 0
    for stage, joints in sequences:
        foreground += int(np.count_nonzero(render_iuv(joints, stage_camera(stage, size)).parts))
    return foreground


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes")
    parser.add_argument("--size", type=int, default=56, help="image side in pixels")
    args = parser.parse_args()

    config = SyntheticConfig(frames=4, actions=("squat", "wave")) if args.quick else SyntheticConfig()
    sequences = label_frames(SyntheticConfig(**{**config.__dict__, "family": "dense_map"}))
    frames = sum(len(j) for _, j in sequences)
    wall, cpu = time.perf_counter(), time.process_time()
    foreground = render_all(sequences, args.size)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    name = "tiny" if args.quick else "default"
    print(f"{name} dataset: {frames:,} label frames, {args.size} x {args.size} pixels, "
          f"{foreground / (frames * args.size**2) * 100:.1f}% foreground")
    print(f"rendered in {wall:.2f} s wall, {cpu:.2f} s CPU: {frames / wall:,.0f} frames/s "
          f"({frames / cpu:,.0f} per CPU second)")
    print(f"{name} dataset rendered in {wall / 60 * 100:.1f}% of a minute (goal: well under a minute)")


if __name__ == "__main__":
    main()
