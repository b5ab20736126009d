"""Type stubs of the Rust extension ``csipose._core`` (checked by ``mypy.stubtest``)."""

from collections.abc import Sequence
from typing import Any, Literal, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "COCO17_SIGMAS",
    "DENSEPOSE_KAPPA",
    "__version__",
    "Resampler",
    "clean_mmfi_amplitude",
    "coco_keypoint_eval",
    "densepose_eval",
    "densepose_gps",
    "fill_packet_mean",
    "get_num_threads",
    "mot_counts",
    "mpjpe_frames",
    "oks",
    "pck_counts",
    "joint_distance_cost_matrix",
    "match_persons",
    "match_persons_batch",
    "match_persons_padded",
    "oks_cost_matrix",
    "sanitize_phase",
    "select_subcarriers_by_variance",
    "set_num_threads",
    "subcarrier_variance",
    "unwrap_phase",
]

__version__: str
COCO17_SIGMAS: list[float]
DENSEPOSE_KAPPA: float

def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...

@final
class Resampler:
    def __new__(
        cls,
        n_in: int,
        n_out: int,
        mode: Literal["linear", "area", "subband"] | str = "linear",
        start: int | None = ...,
    ) -> Resampler: ...
    @staticmethod
    def from_positions(
        source: Sequence[float],
        target: Sequence[float],
        mode: Literal["linear", "area"] | str = "linear",
        outside: Literal["nearest", "refuse"] | str = "nearest",
    ) -> Resampler:
        """The operator from tones at ``source`` positions (finite, strictly increasing)
        to tones at ``target`` positions (finite, any order)."""
    @property
    def source_positions(self) -> npt.NDArray[np.float64] | None: ...
    @property
    def target_positions(self) -> npt.NDArray[np.float64] | None: ...
    @property
    def outside(self) -> str | None: ...
    @property
    def n_in(self) -> int: ...
    @property
    def n_out(self) -> int: ...
    @property
    def mode(self) -> str: ...
    @property
    def start(self) -> int | None: ...
    def apply(
        self,
        x: npt.NDArray[np.generic],
        axis: int = ...,
        nan: Literal["propagate", "raise", "fill"] | str = ...,
        out: npt.NDArray[np.generic] | None = ...,
    ) -> npt.NDArray[np.generic]:
        """Applies the operator along ``axis``: ``[..., n_in, ...] -> [..., n_out, ...]``.

        ``nan="fill"`` is a row-mean fill: each non-finite value becomes the mean of the
        finite values of its row along ``axis`` (all other indices fixed; zeros for a row
        with none). It is not MM-Fi's per-packet fill over (antennas, subcarriers), which
        is ``csipose.data.cleaning.fill_packet_mean``. ``out``: an array of ``x``'s dtype and
        the result's shape to write into; it is returned.
        """
    def csr(
        self,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]: ...

def clean_mmfi_amplitude(x: npt.NDArray[np.float32]) -> None:
    """MM-Fi's official amplitude cleaning of ``x: float32[F, R, S, P]`` in place (frames in C order)."""

def fill_packet_mean(x: npt.NDArray[np.float32]) -> None:
    """MM-Fi's per-packet fill of ``x: float32[F, R, S, P]`` in place: NaN/inf of each ``x[f, :, :, p]`` := its finite mean (0 if none)."""

def subcarrier_variance(x: npt.NDArray[np.generic], axis: int = ...) -> npt.NDArray[np.float64]: ...
def select_subcarriers_by_variance(
    x: npt.NDArray[np.generic], k: int, axis: int = ...
) -> npt.NDArray[np.int64]: ...
def unwrap_phase(phase: npt.NDArray[np.floating], axis: int = ...) -> npt.NDArray[np.floating]: ...
def sanitize_phase(
    phase: npt.NDArray[np.floating], tones: list[float], axis: int = ...
) -> npt.NDArray[np.floating]: ...

def pck_counts(
    pred: npt.NDArray[np.floating],
    gt: npt.NDArray[np.floating],
    visible: npt.NDArray[np.bool_] | None,
    thresholds: list[float],
    convention: str,
    norm: str,
    pair: tuple[int, int] | None = None,
    fallback: tuple[int, int] | None = None,
    scale: float = 1.0,
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.uint64]]: ...
def mpjpe_frames(
    pred: npt.NDArray[np.floating],
    gt: npt.NDArray[np.floating],
    visible: npt.NDArray[np.bool_] | None,
    align: str,
    root: list[int],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], int]: ...
def oks(
    pred: npt.NDArray[np.floating],
    gt: npt.NDArray[np.floating],
    visible: npt.NDArray[np.bool_] | None,
    areas: npt.NDArray[np.float64],
    sigmas: list[float],
) -> npt.NDArray[np.float64]: ...
def oks_cost_matrix(
    pred: npt.NDArray[np.floating],
    gt: npt.NDArray[np.floating],
    visible: npt.NDArray[np.bool_] | None,
    areas: npt.NDArray[np.float64],
    sigmas: list[float],
) -> npt.NDArray[np.float64]: ...
def joint_distance_cost_matrix(
    pred: npt.NDArray[np.floating], gt: npt.NDArray[np.floating], visible: npt.NDArray[np.bool_] | None
) -> npt.NDArray[np.float64]: ...
_Batch = tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
]

def match_persons(
    cost: npt.NDArray[np.floating], max_cost: float | None = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], float, npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def match_persons_batch(costs: list[npt.NDArray[np.floating]], max_cost: float | None = None) -> _Batch: ...
def match_persons_padded(
    costs: npt.NDArray[np.floating], sizes: npt.NDArray[np.int64], max_cost: float | None = None
) -> _Batch: ...
def coco_keypoint_eval(
    gt_keypoints: npt.NDArray[np.float64],  # [G, J, C], C = 2 (x, y) or 3 (x, y, z)
    gt_visible: npt.NDArray[np.bool_],
    gt_areas: npt.NDArray[np.float64],
    gt_bboxes: npt.NDArray[np.float64],
    gt_ignore: npt.NDArray[np.bool_],
    gt_iscrowd: npt.NDArray[np.bool_],
    gt_offsets: npt.NDArray[np.int64],
    dt_keypoints: npt.NDArray[np.float64],  # [D, J, C], C as in gt_keypoints
    dt_scores: npt.NDArray[np.float64],
    dt_offsets: npt.NDArray[np.int64],
    sigmas: npt.NDArray[np.float64],
    iou_thrs: npt.NDArray[np.float64],
    rec_thrs: npt.NDArray[np.float64],
    area_rngs: npt.NDArray[np.float64],
    max_det: int,
    n_categories: int,
    n_images: int,
    matching: str,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def densepose_gps(
    pred: npt.NDArray[np.floating],  # [N, 3, H, W]: part index, U, V
    true: npt.NDArray[np.floating],  # [N, 3, H, W], the dtype of pred
    kind: npt.NDArray[np.int32],  # [25], surface.canonical_arrays()
    radius: npt.NDArray[np.float64],  # [25]
    length: npt.NDArray[np.float64],  # [25]
) -> npt.NDArray[np.floating]: ...  # [N, H, W], NaN off the true body
def densepose_eval(
    pred: npt.NDArray[np.floating],
    true: npt.NDArray[np.floating],
    kind: npt.NDArray[np.int32],
    radius: npt.NDArray[np.float64],
    length: npt.NDArray[np.float64],
    scores: npt.NDArray[np.float64] | None,  # [N]
    iou_thrs: npt.NDArray[np.float64],  # [T] GPSm thresholds
    rec_thrs: npt.NDArray[np.float64],  # [R] recall points
) -> dict[str, Any]: ...  # arrays per frame and per part, pooled floats, precision and recall
def mot_counts(
    gt_ids: npt.NDArray[np.int64],
    gt_offsets: npt.NDArray[np.int64],
    pred_ids: npt.NDArray[np.int64],
    pred_offsets: npt.NDArray[np.int64],
    distances: npt.NDArray[np.float64],
) -> dict[str, int | float]: ...
