from __future__ import annotations

import numpy as np
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
    # exactly pycocotools' table, np.array([.26, .25, ...]) / 10.0, bit for bit
    coco = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10.0
    assert COCO17.sigmas == tuple(coco.tolist())


def _independent_loops(skeleton: Skeleton) -> int:
    """Bones minus joints plus connected components: 0 exactly for a tree (a forest)."""
    parent = list(range(skeleton.num_joints))

    def root(a: int) -> int:
        while parent[a] != a:
            a = parent[a]
        return a

    for a, b in skeleton.bones:
        parent[root(a)] = root(b)
    components = len({root(a) for a in range(skeleton.num_joints)})
    return len(skeleton.bones) - skeleton.num_joints + components


def test_bone_graphs() -> None:
    # H36M-17 is a tree: 16 bones join all 17 joints. COCO-17's 19 limbs are connected
    # but not a tree: 3 independent loops (the eye-nose triangle, the shoulder-hip
    # quadrilateral, and eyes-ears-shoulders closing over the head).
    assert len(H36M17.bones) == 16 and _independent_loops(H36M17) == 0
    assert len(COCO17.bones) == 19 and _independent_loops(COCO17) == 3


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
