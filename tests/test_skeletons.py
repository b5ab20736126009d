from __future__ import annotations

import pytest

from csipose.errors import ArgumentError
from csipose.skeletons import COCO17, H36M17, Skeleton, get_skeleton


def test_h36m17_is_mmfi_order() -> None:
    assert H36M17.num_joints == 17
    assert H36M17.joint_names[0] == "pelvis"
    assert H36M17.joint_names[9] == "neck" and H36M17.joint_names[10] == "head"
    assert (H36M17.joint_names[14], H36M17.joint_names[4]) == ("right_shoulder", "left_hip")
    assert H36M17.torso == (14, 4) and H36M17.head == (9, 10)


def test_coco17_pairs_and_sigmas() -> None:
    assert COCO17.torso == (6, 11)
    assert (COCO17.joint_names[3], COCO17.joint_names[4]) == ("left_ear", "right_ear")
    assert COCO17.sigmas is not None and len(COCO17.sigmas) == 17
    assert COCO17.sigmas[0] == pytest.approx(0.26 / 10)
    # the skeleton is a tree: 17 joints, connected, COCO's 19 limbs include face loops
    assert len(COCO17.bones) == 19 and len(H36M17.bones) == 16


def test_lookup_and_validation() -> None:
    assert get_skeleton("H36M17") is H36M17
    assert get_skeleton(COCO17) is COCO17
    with pytest.raises(ArgumentError, match="skeleton"):
        get_skeleton("mpii")
    with pytest.raises(ArgumentError, match="torso"):
        Skeleton(name="bad", joint_names=("a", "b"), bones=(), torso=(0, 2), hips=(0, 1))
    with pytest.raises(ArgumentError, match="sigmas"):
        Skeleton(name="bad", joint_names=("a", "b"), bones=(), torso=(0, 1), hips=(0, 1), sigmas=(0.1,))
    assert H36M17.index("head") == 10
