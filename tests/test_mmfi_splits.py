"""MM-Fi protocols and splits against the official toolbox's rules and golden values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from csipose.data import mmfi_split
from csipose.data.splits import ACTIONS, PROTOCOLS, SUBJECTS
from csipose.errors import ArgumentError


def _subjects_with(form: dict[str, list[str]], action: str) -> list[str]:
    return sorted(s for s, acts in form.items() if action in acts)


def test_golden_p3_random_seed0_action_a01() -> None:
    train, val = mmfi_split("p3", "random", ratio=0.8, seed=0)
    assert _subjects_with(val, "A01") == ["S01", "S04", "S07", "S10", "S20", "S22", "S24", "S39"]
    assert len(_subjects_with(train, "A01")) == 32


def _toolbox_random(actions: tuple[str, ...], ratio: float, seed: int) -> tuple[dict, dict]:
    """The official decode_config loop, written as the toolbox writes it (global RNG, rs += 1)."""
    train_form: dict[str, list[str]] = {}
    val_form: dict[str, list[str]] = {}
    rs = seed
    saved = np.random.get_state()
    try:
        for action in actions:
            np.random.seed(rs)
            idx = np.random.permutation(len(SUBJECTS))
            cut = int(np.floor(ratio * len(SUBJECTS)))
            subjects_train = np.array(SUBJECTS)[idx[:cut]].tolist()
            subjects_val = np.array(SUBJECTS)[idx[cut:]].tolist()
            for subject in SUBJECTS:
                if subject in subjects_train:
                    train_form.setdefault(subject, []).append(action)
                if subject in subjects_val:
                    val_form.setdefault(subject, []).append(action)
            rs += 1
    finally:
        np.random.set_state(saved)
    return train_form, val_form


@pytest.mark.parametrize("protocol", ["p1", "p2", "p3"])
@pytest.mark.parametrize(("ratio", "seed"), [(0.8, 0), (0.5, 3), (0.75, 41), (1.0, 7), (0.0, 2)])
def test_random_matches_toolbox_loop(protocol: str, ratio: float, seed: int) -> None:
    assert mmfi_split(protocol, "random", ratio=ratio, seed=seed) == _toolbox_random(PROTOCOLS[protocol], ratio, seed)


def test_random_reseeds_per_action_position() -> None:
    # P1's second action is A03: its permutation is the one of seed + 1, not of seed.
    _, val = mmfi_split("p1", "random", seed=5)
    perm = np.random.RandomState(6).permutation(40)
    assert _subjects_with(val, "A03") == sorted(SUBJECTS[i] for i in perm[32:])
    # every action of the protocol appears for exactly 40 subjects across the two parts
    train, _ = mmfi_split("p1", "random", seed=5)
    for action in PROTOCOLS["p1"]:
        assert len(_subjects_with(train, action)) + len(_subjects_with(val, action)) == 40


def test_random_leaves_global_rng_alone() -> None:
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    mmfi_split("p3", "random", seed=9)
    assert np.random.random() == expected


def test_protocol_action_sets() -> None:
    p1, p2 = set(PROTOCOLS["p1"]), set(PROTOCOLS["p2"])
    assert len(p1) == 14 and len(p2) == 13 and not p1 & p2
    assert p1 | p2 == set(ACTIONS) == set(PROTOCOLS["p3"])
    assert "A02" in p1 and "A27" in p1 and "A01" in p2 and "A26" in p2


@pytest.mark.parametrize("protocol", ["p1", "p2", "p3"])
def test_cross_subject(protocol: str) -> None:
    train, val = mmfi_split(protocol, "cross_subject")
    assert sorted(val) == ["S05", "S10", "S15", "S20", "S25", "S30", "S35", "S40"]
    assert len(train) == 32 and not set(train) & set(val)
    assert all(acts == list(PROTOCOLS[protocol]) for acts in [*train.values(), *val.values()])


@pytest.mark.parametrize("protocol", ["p1", "p2", "p3"])
def test_cross_environment(protocol: str) -> None:
    train, val = mmfi_split(protocol, "cross_environment")
    assert sorted(train) == [f"S{i:02d}" for i in range(1, 31)]
    assert sorted(val) == [f"S{i:02d}" for i in range(31, 41)]
    assert all(acts == list(PROTOCOLS[protocol]) for acts in [*train.values(), *val.values()])


def test_manual_split_as_given() -> None:
    train, val = mmfi_split("p1", "manual", train={"S01": ["A01", "A27"]}, val={"S02": ["A05"]})
    assert train == {"S01": ["A01", "A27"]} and val == {"S02": ["A05"]}


def test_ratio_floor() -> None:
    train, _ = mmfi_split("p2", "random", ratio=0.79)
    assert len(_subjects_with(train, "A01")) == math.floor(0.79 * 40) == 31


@pytest.mark.parametrize(
    ("args", "kwargs", "needle"),
    [
        (("p4", "random"), {}, "protocol"),
        (("p1", "loso"), {}, "scheme"),
        (("p1", "random"), {"ratio": 1.5}, "ratio"),
        (("p1", "random"), {"seed": -1}, "seed"),
        (("p1", "manual"), {"train": {"S01": ["A01"]}}, "val"),
        (("p1", "manual"), {"train": {"S41": ["A01"]}, "val": {}}, "S41"),
        (("p1", "manual"), {"train": {"S01": ["A28"]}, "val": {}}, "A28"),
        (("p1", "manual"), {"train": {"S01": "A01"}, "val": {}}, "string"),
        (("p1", "random"), {"train": {"S01": ["A01"]}}, "manual"),
    ],
)
def test_bad_arguments(args: tuple, kwargs: dict, needle: str) -> None:
    with pytest.raises(ArgumentError, match=needle):
        mmfi_split(*args, **kwargs)
