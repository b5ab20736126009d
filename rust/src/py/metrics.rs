//! Python bindings of the pose-scoring kernels (`csipose.metrics` wraps them)
//! and of the cost matrices person matching builds from them.

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayDyn, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;

use super::{detached, dtype_name, like_pred};
use crate::element::Real;
use crate::error::{fmt_shape, CoreError, CoreResult};
use crate::metrics::mpjpe::{self, Align};
use crate::metrics::oks as oks_kernel;
use crate::metrics::pck::{self, Convention, Normaliser};
use crate::metrics::PosePair;

/// Views `pred`, `gt` (same dtype) and `visible` (bool) as a paired [`PosePair`] and runs
/// `kernel` on it without the GIL.
fn with_poses<'py, T, R>(
    pred: &Bound<'py, PyArrayDyn<T>>,
    gt: &Bound<'py, PyAny>,
    visible: Option<&Bound<'py, PyAny>>,
    kernel: impl FnOnce(&PosePair<'_, T>) -> CoreResult<R> + Send,
) -> PyResult<R>
where
    T: Real + numpy::Element,
    R: Send,
{
    view_poses(pred, gt, visible, false, kernel)
}

/// Views `pred` against `gt` and runs `kernel` without the GIL: paired poses
/// (`pred`, `gt` `[N, J, D]`) or, `crossed`, every `pred [P, J, D]` against every `gt [G, J, D]`.
fn view_poses<'py, T, R>(
    pred: &Bound<'py, PyArrayDyn<T>>,
    gt: &Bound<'py, PyAny>,
    visible: Option<&Bound<'py, PyAny>>,
    crossed: bool,
    kernel: impl FnOnce(&PosePair<'_, T>) -> CoreResult<R> + Send,
) -> PyResult<R>
where
    T: Real + numpy::Element,
    R: Send,
{
    let py = pred.py();
    let gt = like_pred(pred, gt, "gt")?;
    let (pred_ro, gt_ro) = (pred.readonly(), gt.readonly());
    let (p, g) = (pred_ro.as_array(), gt_ro.as_array());
    if p.ndim() != 3 {
        return Err(
            CoreError::shape("pred", "an array of shape (N, J, D)", fmt_shape(p.shape())).into(),
        );
    }
    if crossed {
        if g.ndim() != 3 || g.shape()[1..] != p.shape()[1..] {
            let expected = format!("(G, {}, {}) to match pred", p.shape()[1], p.shape()[2]);
            return Err(CoreError::shape("gt", expected, fmt_shape(g.shape())).into());
        }
    } else if g.shape() != p.shape() {
        return Err(CoreError::shape("gt", fmt_shape(p.shape()), fmt_shape(g.shape())).into());
    }
    let (n_pred, n, j, d) = (p.shape()[0], g.shape()[0], p.shape()[1], p.shape()[2]);
    let vis_arr = match visible {
        None => None,
        Some(v) => Some(
            v.cast::<PyArrayDyn<bool>>()
                .map_err(|_| CoreError::dtype("visible", "a bool numpy array", dtype_name(v)))?
                .readonly(),
        ),
    };
    let vis_view = vis_arr.as_ref().map(|v| v.as_array());
    if let Some(v) = &vis_view {
        if v.shape() != [n, j] {
            return Err(
                CoreError::shape("visible", fmt_shape(&[n, j]), fmt_shape(v.shape())).into(),
            );
        }
    }
    detached(py, || {
        let (p, g) = (p.as_standard_layout(), g.as_standard_layout());
        let v = vis_view.as_ref().map(|v| v.as_standard_layout());
        let contiguous = || CoreError::argument("pred", "internal: array is not contiguous");
        let vis = match &v {
            Some(v) => Some(v.as_slice().ok_or_else(contiguous)?),
            None => None,
        };
        let poses = PosePair::cross(
            p.as_slice().ok_or_else(contiguous)?,
            n_pred,
            g.as_slice().ok_or_else(contiguous)?,
            vis,
            n,
            j,
            d,
        )?;
        kernel(&poses)
    })
}

fn parse_normaliser(
    norm: &str,
    pair: Option<(usize, usize)>,
    fallback: Option<(usize, usize)>,
    scale: f64,
) -> CoreResult<Normaliser> {
    match norm {
        "pair" => {
            let (a, b) =
                pair.ok_or_else(|| CoreError::argument("pair", "norm='pair' needs a joint pair"))?;
            Ok(Normaliser::Pair {
                a,
                b,
                fallback,
                scale,
            })
        }
        "bbox" => Ok(Normaliser::BboxDiagonal),
        "bbox_longest_side" => Ok(Normaliser::BboxLongestSide),
        "fixed" => Ok(Normaliser::Fixed(scale)),
        other => Err(CoreError::argument(
            "norm",
            format!("expected 'pair', 'bbox', 'bbox_longest_side' or 'fixed', got {other:?}"),
        )),
    }
}

type PckOut = (Vec<u64>, Vec<u64>, [u64; 5], usize, usize);

fn pck_typed<T: Real + numpy::Element>(
    pred: &Bound<'_, PyArrayDyn<T>>,
    gt: &Bound<'_, PyAny>,
    visible: Option<&Bound<'_, PyAny>>,
    thresholds: &[f64],
    norm: Normaliser,
    convention: Convention,
) -> PyResult<PckOut> {
    with_poses(pred, gt, visible, |poses| {
        let c = pck::pck_counts(poses, thresholds, norm, convention)?;
        let stats = [
            c.scored_frames,
            c.unscoreable_frames,
            c.unscoreable_joints,
            c.empty_frames,
            c.fallback_frames,
        ];
        Ok((c.correct, c.scored, stats, c.thresholds, c.joints))
    })
}

/// PCK counts: `(correct uint64[T, J], scored uint64[J], stats uint64[5])`,
/// stats = scored, unscoreable frames, unscoreable joints, empty frames, fallback frames.
#[pyfunction]
#[pyo3(signature = (pred, gt, visible, thresholds, convention, norm, pair = None, fallback = None, scale = 1.0))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn pck_counts<'py>(
    py: Python<'py>,
    pred: &Bound<'py, PyAny>,
    gt: &Bound<'py, PyAny>,
    visible: Option<&Bound<'py, PyAny>>,
    thresholds: Vec<f64>,
    convention: &str,
    norm: &str,
    pair: Option<(usize, usize)>,
    fallback: Option<(usize, usize)>,
    scale: f64,
) -> PyResult<(
    Bound<'py, PyArray2<u64>>,
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<u64>>,
)> {
    let convention = Convention::parse(convention)?;
    let norm = parse_normaliser(norm, pair, fallback, scale)?;
    let (correct, scored, stats, nt, j) =
        dispatch_pred!(pred, pck_typed(gt, visible, &thresholds, norm, convention))?;
    let correct = ndarray::Array2::from_shape_vec((nt, j), correct)
        .map_err(|e| CoreError::argument("thresholds", e.to_string()))?;
    Ok((
        correct.into_pyarray(py),
        scored.into_pyarray(py),
        stats.to_vec().into_pyarray(py),
    ))
}

fn mpjpe_typed<T: Real + numpy::Element>(
    pred: &Bound<'_, PyArrayDyn<T>>,
    gt: &Bound<'_, PyAny>,
    visible: Option<&Bound<'_, PyAny>>,
    align: &Align,
) -> PyResult<mpjpe::FrameErrors> {
    with_poses(pred, gt, visible, |poses| mpjpe::mpjpe_frames(poses, align))
}

/// Per-frame MPJPE parts: `(error sums float64[N], joint counts int64[N], unscoreable frames)`.
#[allow(clippy::type_complexity)]
#[pyfunction]
#[pyo3(signature = (pred, gt, visible, align, root))]
fn mpjpe_frames<'py>(
    py: Python<'py>,
    pred: &Bound<'py, PyAny>,
    gt: &Bound<'py, PyAny>,
    visible: Option<&Bound<'py, PyAny>>,
    align: &str,
    root: Vec<usize>,
) -> PyResult<(Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<i64>>, u64)> {
    let align = Align::parse(align, root)?;
    let e = dispatch_pred!(pred, mpjpe_typed(gt, visible, &align))?;
    let counts: Vec<i64> = e.counts.into_iter().map(i64::from).collect();
    Ok((
        e.sums.into_pyarray(py),
        counts.into_pyarray(py),
        e.unscoreable_frames,
    ))
}

fn oks_typed<T: Real + numpy::Element>(
    pred: &Bound<'_, PyArrayDyn<T>>,
    gt: &Bound<'_, PyAny>,
    visible: Option<&Bound<'_, PyAny>>,
    areas: &[f64],
    sigmas: &[f64],
) -> PyResult<Vec<f64>> {
    with_poses(pred, gt, visible, |poses| {
        oks_kernel::oks(poses, areas, sigmas)
    })
}

/// COCO OKS of paired poses: `float64[N]`, NaN where the ground truth cannot be scored.
#[pyfunction]
#[pyo3(signature = (pred, gt, visible, areas, sigmas))]
fn oks<'py>(
    py: Python<'py>,
    pred: &Bound<'py, PyAny>,
    gt: &Bound<'py, PyAny>,
    visible: Option<&Bound<'py, PyAny>>,
    areas: PyReadonlyArray1<'py, f64>,
    sigmas: Vec<f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let areas = areas.as_array().to_vec();
    let v = dispatch_pred!(pred, oks_typed(gt, visible, &areas, &sigmas))?;
    Ok(v.into_pyarray(py))
}

fn matrix_out(
    py: Python<'_>,
    rows: usize,
    cols: usize,
    values: Vec<f64>,
) -> PyResult<Bound<'_, PyArray2<f64>>> {
    let m = ndarray::Array2::from_shape_vec((rows, cols), values)
        .map_err(|e| CoreError::argument("output", e.to_string()))?;
    Ok(m.into_pyarray(py))
}

fn oks_cost_typed<T: Real + numpy::Element>(
    pred: &Bound<'_, PyArrayDyn<T>>,
    gt: &Bound<'_, PyAny>,
    visible: Option<&Bound<'_, PyAny>>,
    areas: &[f64],
    sigmas: &[f64],
) -> PyResult<(usize, usize, Vec<f64>)> {
    view_poses(pred, gt, visible, true, |poses| {
        let c = oks_kernel::oks_cost(poses, areas, sigmas)?;
        Ok((poses.pred_frames, poses.frames, c))
    })
}

/// `1 - OKS` of every (prediction, ground truth) pair: `[P, J, D] x [G, J, D] -> float64[P, G]`.
#[pyfunction]
#[pyo3(signature = (pred, gt, visible, areas, sigmas))]
fn oks_cost_matrix<'py>(
    py: Python<'py>,
    pred: &Bound<'py, PyAny>,
    gt: &Bound<'py, PyAny>,
    visible: Option<&Bound<'py, PyAny>>,
    areas: PyReadonlyArray1<'py, f64>,
    sigmas: Vec<f64>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let areas = areas.as_array().to_vec();
    let (p, g, c) = dispatch_pred!(pred, oks_cost_typed(gt, visible, &areas, &sigmas))?;
    matrix_out(py, p, g, c)
}

fn distance_cost_typed<T: Real + numpy::Element>(
    pred: &Bound<'_, PyArrayDyn<T>>,
    gt: &Bound<'_, PyAny>,
    visible: Option<&Bound<'_, PyAny>>,
) -> PyResult<(usize, usize, Vec<f64>)> {
    view_poses(pred, gt, visible, true, |poses| {
        Ok((
            poses.pred_frames,
            poses.frames,
            mpjpe::joint_distance_cost(poses),
        ))
    })
}

/// Mean visible-joint distance of every pair: `[P, J, D] x [G, J, D] -> float64[P, G]`.
#[pyfunction]
#[pyo3(signature = (pred, gt, visible))]
fn joint_distance_cost_matrix<'py>(
    py: Python<'py>,
    pred: &Bound<'py, PyAny>,
    gt: &Bound<'py, PyAny>,
    visible: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let (p, g, c) = dispatch_pred!(pred, distance_cost_typed(gt, visible))?;
    matrix_out(py, p, g, c)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(pck_counts, m)?)?;
    m.add_function(wrap_pyfunction!(mpjpe_frames, m)?)?;
    m.add_function(wrap_pyfunction!(oks, m)?)?;
    m.add_function(wrap_pyfunction!(oks_cost_matrix, m)?)?;
    m.add_function(wrap_pyfunction!(joint_distance_cost_matrix, m)?)?;
    m.add("COCO17_SIGMAS", oks_kernel::COCO17_SIGMAS.to_vec())?;
    Ok(())
}
