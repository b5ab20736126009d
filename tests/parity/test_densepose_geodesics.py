"""The geodesics behind GPS: closed forms per primitive, and shortest paths on fine meshes.

The kernel's geodesic is read back from its GPS: ``g = kappa * sqrt(-2 ln GPS)``.
The mesh reference knows only each primitive's embedding in 3-D (from the
docstring of :mod:`csipose.densepose.surface`): vertices on a chart grid, edges
to every grid neighbour within a stencil, each weighted by the length of the
surface curve under the straight chart segment (a fine polyline on the
surface). A mesh path is a curve on the surface, so it is never shorter than
the geodesic (up to the polyline's chord deficit, below 1e-5 here) and
approaches it as the grid and the stencil refine.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from csipose.densepose.surface import KINDS, PARTS
from csipose.metrics import densepose_gps
from tests.parity.reference_densepose import KAPPA

HALF_CYLINDER, SPHERE, HEMISPHERE = (KINDS.index(k) for k in ("half_cylinder", "sphere", "hemisphere"))


def kernel_geodesic(part: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Geodesics ``float64[M]`` between chart points ``a[M, 2]`` and ``b[M, 2]`` of one part,
    as the Rust kernel measures them (true pixel at ``a``, predicted at ``b``)."""
    m = len(a)
    true = np.zeros((1, 3, 1, m))
    pred = np.zeros((1, 3, 1, m))
    true[0, 0], pred[0, 0] = part, part
    true[0, 1:, 0], pred[0, 1:, 0] = a.T, b.T
    gps = densepose_gps(pred, true)[0, 0]
    return KAPPA * np.sqrt(-2 * np.log(gps))


def part_of(kind: str) -> tuple[int, float, float]:
    p = next(p for p in PARTS if p.kind == kind)
    return p.index, p.radius, p.length


@pytest.mark.parametrize("part", PARTS, ids=lambda p: p.name)
def test_closed_forms(part) -> None:
    r, length = part.radius, part.length
    if part.kind == "half_cylinder":
        cases = [
            ((0.0, 0.4), (1.0, 0.4), np.pi * r),  # across the half at equal V: half the circumference
            ((0.3, 0.0), (0.3, 1.0), length),  # along the bone
            ((0.0, 0.0), (1.0, 1.0), np.hypot(np.pi * r, length)),  # the unrolled rectangle's diagonal
            ((0.5, 0.5), (0.5, 0.5), 0.0),
        ]
    elif part.kind == "sphere":
        cases = [
            ((0.1, 0.0), (0.6, 1.0), np.pi * r),  # pole to pole
            ((0.0, 0.5), (0.5, 0.5), np.pi * r),  # antipodes on the equator
            ((0.9, 0.5), (0.1, 0.5), 0.2 * 2 * np.pi * r),  # across the seam U = 0 = 1
            ((0.25, 0.5), (0.7, 0.0), np.pi * r / 2),  # equator to pole
        ]
    else:
        cases = [
            ((0.0, 0.5), (1.0, 0.5), np.pi * r),  # the half's two edges at the equator are antipodes
            ((0.5, 0.5), (0.2, 0.0), np.pi * r / 2),  # equator to the top
            ((0.0, 0.25), (1.0, 0.25), np.pi * r / 2),  # over the top: 45 degrees either side of it
            ((0.3, 0.0), (0.8, 1.0), np.pi * r),  # top to bottom
        ]
    a = np.array([c[0] for c in cases])
    b = np.array([c[1] for c in cases])
    expected = np.array([c[2] for c in cases])
    np.testing.assert_allclose(kernel_geodesic(part.index, a, b), expected, rtol=1e-9, atol=1e-9)


def embed(kind: int, r: float, length: float, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """3-D points ``[..., 3]`` of chart coordinates on a primitive, as surface.py describes it."""
    if kind == HALF_CYLINDER:
        angle = np.pi * u
        return np.stack([r * np.cos(angle), r * np.sin(angle), length * v], axis=-1)
    lon = (2 * np.pi if kind == SPHERE else np.pi) * u
    colat = np.pi * v
    return np.stack([r * np.sin(colat) * np.cos(lon), r * np.sin(colat) * np.sin(lon), r * np.cos(colat)], axis=-1)


def mesh_graph(kind: int, r: float, length: float, n: int, stencil: int, steps: int = 32):
    """Vertices at ``(i / n, j / n)`` (U wraps on the sphere; each pole is one point),
    edges to neighbours within ``stencil`` grid steps, weighted by surface-curve length."""
    n_u = n if kind == SPHERE else n + 1
    iu, iv = (x.ravel() for x in np.meshgrid(np.arange(n_u), np.arange(n + 1), indexing="ij"))
    t = np.linspace(0.0, 1.0, steps + 1)
    rows, cols, weights = [], [], []
    for du in range(-stencil, stencil + 1):
        for dv in range(-stencil, stencil + 1):
            if (du, dv) <= (0, 0):
                continue  # each undirected edge once
            ju, jv = iu + du, iv + dv
            ok = (jv >= 0) & (jv <= n)
            if kind != SPHERE:
                ok &= (ju >= 0) & (ju < n_u)
            a, b = iu[ok], iv[ok]
            curve = embed(kind, r, length, (a[:, None] + t * du) / n, (b[:, None] + t * dv) / n)
            weights.append(np.linalg.norm(np.diff(curve, axis=1), axis=2).sum(axis=1))
            rows.append(a * (n + 1) + b)
            cols.append((ju[ok] % n_u) * (n + 1) + jv[ok])
    if kind != HALF_CYLINDER:
        for j in (0, n):  # the chart's pole rows are single points: join them (scipy drops 0 weights)
            pole = np.arange(n_u) * (n + 1) + j
            rows.append(np.full(n_u - 1, pole[0]))
            cols.append(pole[1:])
            weights.append(np.full(n_u - 1, 1e-300))
    rows, cols, weights = (np.concatenate(x) for x in (rows, cols, weights))
    size = n_u * (n + 1)
    return coo_matrix((weights, (rows, cols)), shape=(size, size)).tocsr(), n_u


@pytest.mark.parametrize("kind", ["half_cylinder", "sphere", "hemisphere"])
def test_chart_geodesic_is_the_limit_of_mesh_shortest_paths(kind: str) -> None:
    index, r, length = part_of(kind)
    code = KINDS.index(kind)
    rng = np.random.default_rng(code)
    # Query points on the 1/8 grid: vertices of every mesh below.
    a = rng.integers(0, 9, (16, 2)) / 8
    b = rng.integers(0, 9, (16, 2)) / 8
    if code == SPHERE:
        a[:, 0], b[:, 0] = rng.integers(0, 8, 16) / 8, rng.integers(0, 8, 16) / 8
    chart = kernel_geodesic(index, a, b)
    errors = []
    for n, stencil in [(8, 1), (16, 2), (32, 4), (64, 6)]:
        graph, n_u = mesh_graph(code, r, length, n, stencil)
        src, dst = (np.round(p[:, 0] * n).astype(int) % n_u * (n + 1) + np.round(p[:, 1] * n).astype(int) for p in (a, b))
        paths = dijkstra(graph, directed=False, indices=src)[np.arange(len(a)), dst]
        # A mesh path is a surface curve: never shorter than the geodesic (chord deficit < 1e-5).
        assert np.all(chart <= paths * (1 + 1e-5) + 1e-12)
        errors.append(np.max((paths - chart) / np.maximum(chart, 1e-12)))
    # ... and it converges to the chart formula as the mesh refines.
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    # Measured worst relative excess per mesh: half-cylinder 11 %, 4.2 %, 0.46 %, 0.15 %;
    # sphere 13 %, 5.1 %, 2.1 %, 1.0 %; hemisphere 7.7 %, 3.2 %, 0.63 %, 0.25 %.
    assert errors[-1] < 0.015 and errors[-1] < errors[0] / 8, errors
