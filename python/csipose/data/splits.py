"""MM-Fi protocols and train/val splits, reproducing the official toolbox.

A split is a mapping ``subject -> actions`` (``{"S01": ["A02", "A03"], ...}``) for
the training part and one for the validation part, the form the official
``mmfi_lib.decode_config`` produces. Protocols choose actions; split schemes choose
subjects (per action for the random scheme).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from csipose.errors import ArgumentError

__all__ = [
    "ACTIONS",
    "ENVIRONMENT_OF_SUBJECT",
    "PROTOCOLS",
    "SUBJECTS",
    "Split",
    "mmfi_split",
]

Protocol = Literal["p1", "p2", "p3"]
Scheme = Literal["random", "cross_subject", "cross_environment", "manual"]
#: ``subject -> actions``, e.g. ``{"S01": ["A02", "A03"]}``.
Split = dict[str, list[str]]

SUBJECTS: tuple[str, ...] = tuple(f"S{i:02d}" for i in range(1, 41))
ACTIONS: tuple[str, ...] = tuple(f"A{i:02d}" for i in range(1, 28))
#: Each environment holds ten subjects: E01 = S01-S10, ..., E04 = S31-S40.
ENVIRONMENT_OF_SUBJECT: dict[str, str] = {s: f"E{(i // 10) + 1:02d}" for i, s in enumerate(SUBJECTS)}

#: P1 daily actions, P2 rehabilitation actions, P3 all 27, in the toolbox's order.
PROTOCOLS: dict[str, tuple[str, ...]] = {
    "p1": ("A02", "A03", "A04", "A05", "A13", "A14", "A17", "A18", "A19", "A20", "A21", "A22", "A23", "A27"),
    "p2": ("A01", "A06", "A07", "A08", "A09", "A10", "A11", "A12", "A15", "A16", "A24", "A25", "A26"),
    "p3": ACTIONS,
}

CROSS_SUBJECT_VAL: tuple[str, ...] = ("S05", "S10", "S15", "S20", "S25", "S30", "S35", "S40")
CROSS_ENVIRONMENT_VAL: tuple[str, ...] = SUBJECTS[30:]


def _protocol_actions(protocol: str) -> tuple[str, ...]:
    key = str(protocol).lower().removeprefix("protocol")
    key = key if key.startswith("p") else f"p{key}"
    if key not in PROTOCOLS:
        raise ArgumentError(f"protocol: expected 'p1', 'p2' or 'p3', got {protocol!r}")
    return PROTOCOLS[key]


def _all_of(subjects: Sequence[str], actions: Sequence[str]) -> Split:
    return {s: list(actions) for s in subjects}


def _check_manual(part: Mapping[str, Sequence[str]] | None, arg: str) -> Split:
    if part is None:
        raise ArgumentError(f"{arg}: the manual scheme needs a subject -> actions mapping, got None")
    if not isinstance(part, Mapping):
        raise ArgumentError(f"{arg}: expected a mapping of subject -> actions, got {type(part).__name__}")
    out: Split = {}
    for subject, actions in part.items():
        if subject not in ENVIRONMENT_OF_SUBJECT:
            raise ArgumentError(f"{arg}: unknown subject {subject!r}; expected one of S01..S40")
        if isinstance(actions, str):
            raise ArgumentError(f"{arg}[{subject!r}]: expected a list of actions, got the string {actions!r}")
        for action in actions:
            if action not in ACTIONS:
                raise ArgumentError(f"{arg}[{subject!r}]: unknown action {action!r}; expected one of A01..A27")
        out[subject] = list(actions)
    return out


def mmfi_split(
    protocol: Protocol | str = "p1",
    scheme: Scheme | str = "random",
    *,
    ratio: float = 0.8,
    seed: int = 0,
    train: Mapping[str, Sequence[str]] | None = None,
    val: Mapping[str, Sequence[str]] | None = None,
) -> tuple[Split, Split]:
    """The (train, val) subject -> actions mappings of an MM-Fi protocol and split scheme.

    Schemes (the official toolbox's S1-S3 and manual):

    - ``"random"``: for the k-th action of the protocol's list, numpy's legacy RNG is
      seeded with ``seed + k``, the 40 subjects are permuted and the first
      ``floor(ratio * 40)`` go to training, the rest to validation.
    - ``"cross_subject"``: val = S05 S10 ... S40, train = the other 32 subjects.
    - ``"cross_environment"``: train = S01-S30 (E01-E03), val = S31-S40 (E04).
    - ``"manual"``: ``train`` and ``val`` as given (the protocol is not applied).

    Example:
        >>> train, val = mmfi_split("p3", "random", seed=0)
        >>> sorted(s for s, acts in val.items() if "A01" in acts)
        ['S01', 'S04', 'S07', 'S10', 'S20', 'S22', 'S24', 'S39']
    """
    if scheme == "manual":
        return _check_manual(train, "train"), _check_manual(val, "val")
    if train is not None or val is not None:
        raise ArgumentError(f"train/val: only the 'manual' scheme takes explicit lists, got scheme {scheme!r}")
    actions = _protocol_actions(protocol)
    if scheme == "cross_subject":
        return _all_of([s for s in SUBJECTS if s not in CROSS_SUBJECT_VAL], actions), _all_of(
            CROSS_SUBJECT_VAL, actions
        )
    if scheme == "cross_environment":
        return _all_of(SUBJECTS[:30], actions), _all_of(CROSS_ENVIRONMENT_VAL, actions)
    if scheme != "random":
        raise ArgumentError(
            f"scheme: expected 'random', 'cross_subject', 'cross_environment' or 'manual', got {scheme!r}"
        )
    if not isinstance(ratio, (int, float)) or not 0.0 <= float(ratio) <= 1.0:
        raise ArgumentError(f"ratio: expected a number in [0, 1], got {ratio!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ArgumentError(f"seed: expected a non-negative integer, got {seed!r}")
    n_train = math.floor(float(ratio) * len(SUBJECTS))
    train_form: Split = {}
    val_form: Split = {}
    for k, action in enumerate(actions):
        # The toolbox reseeds the global legacy RNG before each action; a private
        # RandomState with the same seed yields the same permutation without
        # touching the caller's global state.
        order = np.random.RandomState(int(seed) + k).permutation(len(SUBJECTS))
        chosen_train = {SUBJECTS[i] for i in order[:n_train]}
        for subject in SUBJECTS:
            form = train_form if subject in chosen_train else val_form
            form.setdefault(subject, []).append(action)
    return train_form, val_form
