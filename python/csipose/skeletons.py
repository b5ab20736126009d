"""Keypoint layouts: joint order, bones and the joint pairs metrics normalise by.

Two layouts ship: :data:`COCO17` (2D keypoints of COCO and of MM-Fi's rgb/infra
streams) and :data:`H36M17` (Human3.6M's 17 joints, the order of MM-Fi's 3D
``ground_truth.npy``). Define your own with :class:`Skeleton`.
"""

from __future__ import annotations

from dataclasses import dataclass

from csipose import _core
from csipose.errors import ArgumentError

__all__ = ["COCO17", "H36M17", "Skeleton", "get_skeleton"]


@dataclass(frozen=True, kw_only=True)
class Skeleton:
    """A keypoint layout.

    Attributes:
        name: short identifier used in metric definitions (``"coco17"``).
        joint_names: one name per joint, in array order (``J`` joints).
        bones: joint index pairs drawn as limbs and used by bone-length losses.
        torso: the joint pair whose distance is the ``torso`` PCK normaliser.
        hips: the pair used as the torso fallback (hip width) when a torso joint
            is not visible.
        head: the joint pair whose distance, times ``head_factor``, is the PCKh
            normaliser; ``None`` when the layout has no head segment.
        head_factor: scale applied to the head pair distance for PCKh.
        root: the joint subtracted by root-aligned MPJPE (pelvis, or the hip
            midpoint when ``root`` is ``None``).
        sigmas: COCO OKS per-keypoint constants (``J`` values), when defined.
    """

    name: str
    joint_names: tuple[str, ...]
    bones: tuple[tuple[int, int], ...]
    torso: tuple[int, int]
    hips: tuple[int, int]
    head: tuple[int, int] | None = None
    head_factor: float = 1.0
    root: int | None = None
    sigmas: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        j = len(self.joint_names)
        if j == 0:
            raise ArgumentError(f"Skeleton {self.name!r}: joint_names must not be empty")
        pairs: list[tuple[str, tuple[int, int]]] = [("torso", self.torso), ("hips", self.hips)]
        pairs += [(f"bones[{i}]", b) for i, b in enumerate(self.bones)]
        if self.head is not None:
            pairs.append(("head", self.head))
        for field, (a, b) in pairs:
            if not (0 <= a < j and 0 <= b < j) or a == b:
                raise ArgumentError(
                    f"Skeleton {self.name!r}: {field} = ({a}, {b}) must be two different joints in 0..{j - 1}"
                )
        if self.root is not None and not 0 <= self.root < j:
            raise ArgumentError(f"Skeleton {self.name!r}: root = {self.root} must be in 0..{j - 1}")
        if self.head_factor <= 0:
            raise ArgumentError(f"Skeleton {self.name!r}: head_factor must be > 0, got {self.head_factor}")
        if self.sigmas is not None and (
            len(self.sigmas) != j or any(not s > 0 for s in self.sigmas)
        ):
            raise ArgumentError(
                f"Skeleton {self.name!r}: sigmas must hold {j} positive values, got {self.sigmas}"
            )

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def index(self, joint: str) -> int:
        """Index of the joint called ``joint``."""
        try:
            return self.joint_names.index(joint)
        except ValueError:
            raise ArgumentError(
                f"joint: {joint!r} is not a joint of {self.name}; known: {', '.join(self.joint_names)}"
            ) from None


COCO17 = Skeleton(
    name="coco17",
    joint_names=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),  # fmt: skip
    bones=(
        (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12),
        (5, 6), (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2),
        (1, 3), (2, 4), (3, 5), (4, 6),
    ),  # fmt: skip
    torso=(6, 11),  # right shoulder - left hip
    hips=(11, 12),
    head=(3, 4),  # ear - ear
    root=None,  # hip midpoint
    # COCO's OKS constants exactly as pycocotools builds them (np.array([.26, .25, ...]) / 10.0);
    # the one table lives in the Rust core, which scores OKS with it.
    sigmas=tuple(_core.COCO17_SIGMAS),
)

H36M17 = Skeleton(
    name="h36m17",
    joint_names=(
        "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
        "left_ankle", "spine", "thorax", "neck", "head", "left_shoulder", "left_elbow",
        "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
    ),  # fmt: skip
    bones=(
        (0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8),
        (8, 9), (9, 10), (8, 11), (11, 12), (12, 13), (8, 14), (14, 15), (15, 16),
    ),  # fmt: skip
    torso=(14, 4),  # right shoulder - left hip
    hips=(1, 4),
    head=(9, 10),  # neck - head top
    root=0,
)

_BY_NAME = {s.name: s for s in (COCO17, H36M17)}


def get_skeleton(skeleton: str | Skeleton) -> Skeleton:
    """Resolves ``"coco17"`` / ``"h36m17"`` (or a :class:`Skeleton`) to a layout."""
    if isinstance(skeleton, Skeleton):
        return skeleton
    try:
        return _BY_NAME[str(skeleton).lower()]
    except KeyError:
        raise ArgumentError(
            f"skeleton: expected one of {sorted(_BY_NAME)} or a Skeleton, got {skeleton!r}"
        ) from None
