"""Physics-based synthetic WiFi CSI with 3D pose labels.

A room with one transmitter and a three-antenna receiver (or up to three receivers,
``SyntheticConfig.receivers``); HT40 tones around
5.31 GHz; line of sight, wall reflections and furniture as static paths; people
(H36M-17 skeletons of different sizes performing parameterised actions) both
shadow those paths and scatter as moving points. The CSI of every packet is the
sum of path gains times ``exp(-j 2 pi f tau)`` plus noise, a random phase offset
and a timing slope per packet. Since CSI is a function of pose here, a model
must beat the mean pose on held-out subjects: on the default splits (subjects
5 and 10 held out) ridge regression on packet-mean CSI reaches an MPJPE of
0.67x the mean pose's (117 vs 174 mm) and torso PCK@20 of 63 % vs 46 %
(``python benches/bench_synthetic.py --ridge``).

What carries the pose is mostly shadowing: every static path segment loses
``exp(-depth)`` where the body's points come within the blocking radius (see
:mod:`~csipose.data.synthetic.radio`). The three receive antennas sit at
different heights so their direct paths cross the body at shin, waist and head
height. Labels are in a camera frame (x right, y down, z depth, metres).

Modules: ``body`` (subjects, actions, H36M-17 forward kinematics), ``scenes``
(rooms), ``radio`` (tones, paths, channel, impairments), ``generate``
(sequences), ``dataset`` (:class:`SyntheticCsiDataset`), ``tree``
(:func:`write_mmfi_tree`), ``cli`` (``csipose data synth``).

    >>> from csipose.data.synthetic import SyntheticConfig, SyntheticCsiDataset
    >>> train = SyntheticCsiDataset(SyntheticConfig(), split="train")
    >>> train[0]["csi"].shape
    (1, 6, 114, 10)
"""

from __future__ import annotations

from csipose.data.synthetic.body import ACTIONS
from csipose.data.synthetic.config import FEATURE_SETS, SyntheticConfig
from csipose.data.synthetic.dataset import SyntheticCsiDataset
from csipose.data.synthetic.families import FAMILIES
from csipose.data.synthetic.generate import Sequence, render, render_sequence
from csipose.data.synthetic.tree import write_mmfi_tree

__all__ = [
    "ACTIONS",
    "FAMILIES",
    "FEATURE_SETS",
    "Sequence",
    "SyntheticConfig",
    "SyntheticCsiDataset",
    "render",
    "render_sequence",
    "write_mmfi_tree",
]
