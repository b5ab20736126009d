"""Optimal person matching: min-cost assignment with a certificate of optimality.

:func:`match_persons` pairs the rows of an ``n x m`` cost matrix (say, predicted
people) with its columns (ground-truth people) so that the total cost is least.
``+inf`` forbids a pair; ``max_cost`` forbids every pair costing more (a gate).
When the allowed pairs cannot match every row of the smaller side, the result
is the matching with the most pairs and, among those, the least total cost
(scipy's ``linear_sum_assignment`` raises instead).

The solver (Rust) is a shortest-augmenting-path method of the Jonker-Volgenant
family in Crouse's rectangular form, the one scipy uses. Next to the pairs it
returns dual potentials ``u`` (rows) and ``v`` (columns) that prove the result
optimal (LP duality):

- ``cost[i, j] - u[i] - v[j] >= 0`` for every allowed pair,
- ``cost[i, j] - u[i] - v[j] == 0`` for every matched pair,
- every unmatched row has the largest ``u`` and every unmatched column the largest ``v``.

:meth:`Matching.check` tests these conditions independently of the solver.
:func:`match_persons_batch` solves many small frames in one parallel call.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from csipose import _core
from csipose._arrays import as_kernel_array
from csipose.errors import ArgumentError, DTypeError, ShapeError
from csipose.metrics._inputs import REQUIRED, as_areas, as_crossed_poses, as_sigmas, as_visible

__all__ = [
    "Matching",
    "MatchingBatch",
    "joint_distance_cost_matrix",
    "match_persons",
    "match_persons_batch",
    "oks_cost_matrix",
]

def _as_cost(x: Any, arg: str, ndim: int) -> np.ndarray:
    """``x`` as a float32/float64 array of rank ``ndim`` (integers and bools become float64)."""
    a = as_kernel_array(x, arg, real_only=True)
    if a.ndim != ndim:
        raise ShapeError(f"{arg}: expected a {ndim}-d array, got shape {a.shape}")
    return a


def _gate(max_cost: float | None) -> float | None:
    if max_cost is None:
        return None
    try:
        return float(max_cost)
    except (TypeError, ValueError):
        raise ArgumentError(f"max_cost: expected a number or None, got {max_cost!r}") from None


@dataclass(frozen=True, eq=False)
class Matching:
    """An optimal matching of one ``n x m`` cost matrix.

    Attributes:
        rows: int64[K] matched row indices, ascending.
        cols: int64[K] the column matched to each row.
        total_cost: sum of ``cost[rows, cols]``.
        u: float64[n] row potentials.
        v: float64[m] column potentials.
    """

    rows: np.ndarray
    cols: np.ndarray
    total_cost: float
    u: np.ndarray
    v: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def pairs(self) -> np.ndarray:
        """int64[K, 2]: ``(row, col)`` per matched pair."""
        return np.stack([self.rows, self.cols], axis=1)

    def check(self, cost: Any, *, max_cost: float | None = None, tol: float = 1e-9) -> list[str]:
        """Checks this matching and its certificate against ``cost``; returns the failures.

        An empty list proves the matching has the least total cost among all
        matchings with as many pairs. ``tol`` is relative to the largest
        finite ``|cost|`` (at least 1).
        """
        c = np.asarray(cost, dtype=np.float64)
        if c.ndim != 2 or self.u.shape != (c.shape[0],) or self.v.shape != (c.shape[1],):
            return [f"shape: cost {c.shape} does not fit u {self.u.shape}, v {self.v.shape}"]
        allowed = np.isfinite(c)
        if max_cost is not None:
            allowed &= c <= max_cost
        scale = max(1.0, float(np.abs(c[allowed]).max(initial=0.0)))
        eps = tol * scale
        failures = []
        if len(np.unique(self.rows)) != len(self.rows) or len(np.unique(self.cols)) != len(self.cols):
            failures.append("pairs: a row or column is used twice")
        if not allowed[self.rows, self.cols].all():
            failures.append("pairs: a forbidden pair is matched")
            return failures
        if abs(c[self.rows, self.cols].sum() - self.total_cost) > eps * max(1, len(self.rows)):
            failures.append(f"total_cost: {self.total_cost} != sum of matched costs")
        reduced = np.where(allowed, c - self.u[:, None] - self.v[None, :], np.inf)
        if reduced.size and reduced.min() < -eps:
            failures.append(f"dual feasibility: min reduced cost {reduced.min():.3g} < 0")
        if len(self.rows) and np.abs(reduced[self.rows, self.cols]).max() > eps:
            failures.append("complementary slackness: a matched pair has nonzero reduced cost")
        free_rows = np.setdiff1d(np.arange(c.shape[0]), self.rows)
        free_cols = np.setdiff1d(np.arange(c.shape[1]), self.cols)
        if len(free_rows) and (self.u.max() - self.u[free_rows]).max() > eps:
            failures.append("complementary slackness: an unmatched row has less than the largest u")
        if len(free_cols) and (self.v.max() - self.v[free_cols]).max() > eps:
            failures.append("complementary slackness: an unmatched column has less than the largest v")
        return failures

    def verify(self, cost: Any, *, max_cost: float | None = None, tol: float = 1e-9) -> bool:
        """True when :meth:`check` finds nothing wrong."""
        return not self.check(cost, max_cost=max_cost, tol=tol)


def match_persons(cost: Any, *, max_cost: float | None = None) -> Matching:
    """Least-cost matching of rows to columns of ``cost: float[n, m]``.

    ``+inf`` forbids a pair; pairs costing more than ``max_cost`` are forbidden
    too. NaN (or ``-inf``) raises :class:`~csipose.errors.NonFiniteError`.
    If not every row of the smaller side can be matched, returns the matching
    with the most pairs and the least cost among those.
    """
    c = _as_cost(cost, "cost", 2)
    rows, cols, total, u, v = _core.match_persons(c, _gate(max_cost))
    return Matching(rows, cols, total, u, v)


@dataclass(frozen=True, eq=False)
class MatchingBatch:
    """Matchings of ``F`` frames, stored flat; ``batch[k]`` is frame ``k``'s :class:`Matching`.

    Attributes:
        rows, cols: int64[K] matched pairs of all frames, frame after frame.
        pair_offsets: int64[F + 1]; frame ``k`` owns pairs ``pair_offsets[k]:pair_offsets[k + 1]``.
        total_costs: float64[F].
        u, u_offsets: row potentials of all frames and their int64[F + 1] offsets.
        v, v_offsets: column potentials and offsets.
    """

    rows: np.ndarray
    cols: np.ndarray
    pair_offsets: np.ndarray
    total_costs: np.ndarray
    u: np.ndarray
    u_offsets: np.ndarray
    v: np.ndarray
    v_offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.total_costs)

    def __getitem__(self, k: int) -> Matching:
        n = len(self)
        k = operator.index(k)
        if not -n <= k < n:
            raise IndexError(f"frame {k} out of range for a batch of {n}")
        k %= n
        p0, p1 = self.pair_offsets[k], self.pair_offsets[k + 1]
        return Matching(
            self.rows[p0:p1],
            self.cols[p0:p1],
            float(self.total_costs[k]),
            self.u[self.u_offsets[k] : self.u_offsets[k + 1]],
            self.v[self.v_offsets[k] : self.v_offsets[k + 1]],
        )

    def __iter__(self) -> Iterator[Matching]:
        return (self[k] for k in range(len(self)))

    @property
    def frames(self) -> np.ndarray:
        """int64[K]: the frame of each matched pair."""
        return np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.pair_offsets))


def match_persons_batch(
    costs: Sequence[Any] | np.ndarray,
    *,
    sizes: Any = None,
    max_cost: float | None = None,
) -> MatchingBatch:
    """Least-cost matchings of many frames in one parallel call.

    Args:
        costs: a list of ``float[n_k, m_k]`` matrices, or a padded ``float[F, N, M]`` array.
        sizes: with a padded array, ``int[F, 2]`` holding each frame's ``(n_k, m_k)``
            (its top-left block is used); default: every frame is ``N x M``.
        max_cost: forbids pairs costing more, in every frame.
    """
    gate = _gate(max_cost)
    if isinstance(costs, np.ndarray):
        c = _as_cost(costs, "costs", 3)
        if sizes is None:
            s = np.tile(np.array(c.shape[1:], dtype=np.int64), (c.shape[0], 1))
        else:
            s = np.asarray(sizes)
            if s.dtype.kind not in "iu":
                raise DTypeError(f"sizes: expected an integer array, got dtype {s.dtype}")
            s = np.ascontiguousarray(s, dtype=np.int64)
            if s.ndim != 2:
                raise ShapeError(f"sizes: expected ({c.shape[0]}, 2), got {s.shape}")
        return MatchingBatch(*_core.match_persons_padded(c, s, gate))
    if sizes is not None:
        raise ArgumentError("sizes: only meaningful with a padded [F, N, M] array")
    if not isinstance(costs, list):
        costs = list(costs)
    try:
        return MatchingBatch(*_core.match_persons_batch(costs, gate))
    except (DTypeError, ShapeError):
        # Some frames are not float matrices yet: convert them all and retry.
        converted = [_as_cost(c, f"costs[{k}]", 2) for k, c in enumerate(costs)]
        return MatchingBatch(*_core.match_persons_batch(converted, gate))


def oks_cost_matrix(
    pred: Any,
    gt: Any,
    *,
    visible: Any = REQUIRED,
    areas: Any,
    sigmas: Any = "coco17",
) -> np.ndarray:
    """``1 - OKS`` (COCO's object keypoint similarity) of every (prediction, GT) pair.

    The convention of :mod:`csipose.metrics.oks`: coordinates only in the last axis,
    visibility in ``visible``, one area per GT person.

    Args:
        pred: float[P, J, D] keypoints, ``D`` = 2 (image ``x, y``) or 3 (``x, y, z``).
        gt: float[G, J, D] ground-truth keypoints.
        visible: [G, J] GT joints that count (COCO ``v > 0``); ``None`` for all. Required.
        areas: float[G] GT areas (COCO: the person's segment area, the ``s^2`` of OKS).
        sigmas: float[J] per-keypoint constants, or a skeleton (name) that defines them.

    Returns:
        float64[P, G]: ``1 - OKS`` in [0, 1]; ``+inf`` (a forbidden pair) for a GT that
        cannot be scored (no visible joint, or a non-finite visible coordinate).
        A non-finite predicted joint is a miss (similarity 0).
    """
    p, g = as_crossed_poses(pred, gt)
    vis = as_visible(visible, g.shape[:2])
    return _core.oks_cost_matrix(p, g, vis, as_areas(areas, g.shape[0]), as_sigmas(sigmas, p.shape[1]))


def joint_distance_cost_matrix(pred: Any, gt: Any, *, visible: Any = None) -> np.ndarray:
    """Mean Euclidean distance over GT-visible joints of every (prediction, GT) pair.

    Args:
        pred: float[P, J, D] joint coordinates (D = 2 or 3, any unit).
        gt: float[G, J, D].
        visible: [G, J] GT joints that count; default all.

    Returns:
        float64[P, G] in the input's unit; ``+inf`` (a forbidden pair) for a GT that
        cannot be scored (no visible joint, a non-finite visible coordinate) and for a
        prediction with a non-finite joint where the GT is visible.
    """
    p, g = as_crossed_poses(pred, gt)
    return _core.joint_distance_cost_matrix(p, g, as_visible(visible, g.shape[:2]))
