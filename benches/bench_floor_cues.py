"""Where the person stands on the floor, from the CSI: told within a room, not carried to another.

In each of the four leave-room-out synthetic rooms (``bench_domains.py``'s data: the default run's
generator settings with ``synthetic.room_variation``, 4 rooms and 10 frames per sequence; 10
subjects x 8 actions per room; ``--rooms`` more rooms), every sequence puts its person at its own
spot within 10 cm of the stage's centre (``synthetic.position_jitter``), swaying up to 5 cm about
it. Per sequence, averaged over its frames and packets, six simple features of the raw CSI:

- the mean log amplitude of each receive antenna, less the mean over the three (which removes the
  receiver's gain);
- the phase of the product of each pair of antennas (``h_a * conj(h_b)``, mean over tones and
  packets), which cancels each packet's phase offset and timing slope, as its angle from the room's
  mean product (in (-pi, pi]: a sequence farther round than pi wraps);

each standardised over its room's sequences, as test-time normalisation does with a room's frames.
The target is the person's floor offset from the link anchor (:mod:`csipose.domain.anchor`; the
skeleton's root, mean over the sequence), along and across the link (:func:`floor_offset`).

Printed: each feature's correlation with each offset in each room, then a ridge regression of the
offset on the six features scored two ways, by the correlation of its prediction with the truth over
a room's sequences: within the room (fitted on the room's other subjects, five folds) and in a new
room (fitted on the other rooms). The first says what the CSI tells of the floor position in
a room it has labels in; the second what of it carries to a room it has none in (below zero: the
other rooms' fit points the other way).

    python benches/bench_floor_cues.py              # four rooms, a few seconds
    python benches/bench_floor_cues.py --rooms 12   # twelve rooms (8 subjects each), each fitted on the other eleven
    python benches/bench_floor_cues.py --quick      # two subjects and four actions per room: a smoke run
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from csipose.config import DEFAULT_SYNTHETIC
from csipose.data.synthetic.config import SyntheticConfig
from csipose.data.synthetic.generate import render
from csipose.domain.anchor import link_anchor_numpy
from csipose.metrics import root_joints
from csipose.skeletons import get_skeleton

ROOMS = 4
PAIRS = ((0, 1), (1, 2), (0, 2))
FEATURES = (*(f"log amplitude, antenna {a + 1}" for a in range(3)),
            *(f"phase of antennas {a + 1} x {b + 1}" for a, b in PAIRS))
AXES = ("along", "across")
RIDGE = 1.0  # on standardised features
MAX_SUBJECTS = 99  # SyntheticConfig's limit
ROOT = list(root_joints(get_skeleton("h36m17")))


def floor_offset(keypoints: np.ndarray, tx: np.ndarray, rx: np.ndarray, stage: np.ndarray) -> np.ndarray:
    """``float64[2]``: the root of ``keypoints: [T, J, 3]`` (mean over frames) less the link anchor of
    ``tx: [3]``, ``rx: [R, 3]`` and the floor under ``stage: [3]`` (camera frame, metres, y down),
    along the link (from the transmitter towards the receive antennas' mean) and across it (the
    floor direction 90 degrees from along, towards ``+x`` for a link along ``+z``)."""
    anchor = link_anchor_numpy(tx[None], rx[None], stage[None, 1])[0]
    root = keypoints[:, ROOT].mean(axis=(0, 1)) - anchor
    along = rx.mean(axis=0) - tx
    along[1] = 0.0
    along /= np.linalg.norm(along)
    across = np.array([along[2], 0.0, -along[0]])
    return np.array([root @ along, root @ across])


def room_sequences(config: SyntheticConfig, room: int, per_room: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(features float64[S, 6], offsets float64[S, 2], subjects int[S])`` of room ``room``'s sequences,
    features standardised over the room (see the module docstring), offsets (m) along and across the
    link (:func:`floor_offset`)."""
    amplitude, products, offsets, subjects = [], [], [], []
    for seq in render(config, tuple(range((room - 1) * per_room + 1, room * per_room + 1))):
        if seq.environment != room:
            raise RuntimeError(f"subject {seq.subject} is in room {seq.environment}, not {room}")
        h = seq.amplitude.astype(np.float64) * np.exp(1j * seq.phase)  # [T, 3, 114, P]
        level = np.log(seq.amplitude.astype(np.float64) + 1e-9).mean(axis=(0, 2, 3))  # [3]
        amplitude.append(level - level.mean())
        products.append([np.mean(h[:, a] * np.conj(h[:, b])) for a, b in PAIRS])
        offsets.append(floor_offset(seq.keypoints[:, 0], seq.tx, seq.rx, seq.stage))
        subjects.append(seq.subject)
    products_ = np.asarray(products)
    phases = np.angle(products_ * np.conj(products_.mean(axis=0)))
    x = np.column_stack([np.asarray(amplitude), phases])
    x = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
    return x, np.asarray(offsets), np.asarray(subjects)


def ridge(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(weight [F, A], bias [A])`` of ridge regression of ``y: [S, A]`` on ``x: [S, F]``."""
    mean_x, mean_y = x.mean(axis=0), y.mean(axis=0)
    xc = x - mean_x
    weight = np.linalg.solve(xc.T @ xc + RIDGE * np.eye(x.shape[1]), xc.T @ (y - mean_y))
    return weight, mean_y - mean_x @ weight


def within_room(x: np.ndarray, y: np.ndarray, subjects: np.ndarray, folds: int = 5) -> np.ndarray:
    """Each sequence's offset ``[S, 2]`` predicted by the ridge fitted on the room's other subjects."""
    pred = np.empty_like(y)
    groups = np.array_split(np.unique(subjects), min(folds, len(np.unique(subjects))))
    for held in groups:
        test = np.isin(subjects, held)
        weight, bias = ridge(x[~test], y[~test])
        pred[test] = x[test] @ weight + bias
    return pred


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's correlation of ``a: [S]`` and ``b: [S]`` (NaN for a constant one)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.corrcoef(a, b)[0, 1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="two subjects per room and four actions: a smoke run")
    parser.add_argument("--rooms", type=int, default=ROOMS, help=f"rooms (default {ROOMS}; 10 subjects each, fewer above 9 rooms), each held out in turn")
    args = parser.parse_args()
    if not 2 <= args.rooms <= MAX_SUBJECTS // 2:
        parser.error(f"--rooms: expected 2 to {MAX_SUBJECTS // 2} (two subjects each at least), got {args.rooms}")
    started = time.perf_counter()
    per_room = 2 if args.quick else min(10, MAX_SUBJECTS // args.rooms)
    settings = {**DEFAULT_SYNTHETIC, "room_variation": True, "environments": args.rooms,
                "subjects": args.rooms * per_room, "val_subjects": (), "frames": 4 if args.quick else 10}
    if args.quick:
        settings["actions"] = SyntheticConfig().actions[:4]
    config = SyntheticConfig(**settings)
    rooms = [room_sequences(config, room, per_room) for room in range(1, args.rooms + 1)]
    print(f"{len(rooms[0][0])} sequences per room; correlation over a room's sequences of each feature with the "
          f"person's floor offset from the link anchor, along / across the link")
    print(f"{'feature':<30}" + "".join(f"{f'room {r}':>14}" for r in range(1, args.rooms + 1)))
    for f, name in enumerate(FEATURES):
        cells = [" / ".join(f"{correlation(x[:, f], y[:, a]):+.2f}" for a in range(2)) for x, y, _ in rooms]
        print(f"{name:<30}" + "".join(f"{c:>14}" for c in cells))
    for a, axis in enumerate(AXES):
        inside, new = [], []
        for r, (x, y, subjects) in enumerate(rooms):
            inside.append(correlation(within_room(x, y, subjects)[:, a], y[:, a]))
            others = [rooms[o] for o in range(args.rooms) if o != r]
            weight, bias = ridge(np.vstack([o[0] for o in others]), np.vstack([o[1] for o in others]))
            new.append(correlation((x @ weight + bias)[:, a], y[:, a]))
        print(f"ridge on the six features, offset {axis} the link: correlation with the truth within the room "
              f"{' / '.join(f'{c:+.2f}' for c in inside)} (mean {np.mean(inside):+.2f}), in a new room "
              f"{' / '.join(f'{c:+.2f}' for c in new)} (mean {np.mean(new):+.2f}), rooms 1-{args.rooms}")
    print(f"wall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
