//! Python bindings of the DensePose scores (`csipose.metrics.densepose` wraps them).

use numpy::ndarray::{Array2, Array3};
use numpy::{IntoPyArray, PyArrayDyn, PyArrayMethods, PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::{detached, like_pred};
use crate::element::Real;
use crate::error::{fmt_shape, CoreError, CoreResult};
use crate::metrics::densepose::{self as kernel, Iuv, Surface};

/// `(N, H, W)` of an IUV batch `[N, 3, H, W]`, or a `ShapeError` naming `arg`.
fn iuv_dims(shape: &[usize], arg: &str) -> PyResult<(usize, usize, usize)> {
    match *shape {
        [n, 3, h, w] => Ok((n, h, w)),
        _ => Err(CoreError::shape(
            arg,
            "IUV images of shape (N, 3, H, W) (part index, U, V)",
            fmt_shape(shape),
        )
        .into()),
    }
}

/// Views `pred` and `true` (same dtype and shape) as IUV batches and runs
/// `kernel` on them without the GIL (copying only arrays that are not C-contiguous).
fn with_images<'py, T, R>(
    pred: &Bound<'py, PyArrayDyn<T>>,
    truth: &Bound<'py, PyAny>,
    kernel: impl FnOnce(&Iuv<'_, T>, &Iuv<'_, T>) -> CoreResult<R> + Send,
) -> PyResult<R>
where
    T: Real + numpy::Element,
    R: Send,
{
    let py = pred.py();
    let truth = like_pred(pred, truth, "true")?;
    let (n, h, w) = iuv_dims(pred.shape(), "pred")?;
    iuv_dims(truth.shape(), "true")?;
    if truth.shape() != pred.shape() {
        return Err(CoreError::shape(
            "true",
            format!("{} to match pred", fmt_shape(pred.shape())),
            fmt_shape(truth.shape()),
        )
        .into());
    }
    let (p_ro, t_ro) = (pred.readonly(), truth.readonly());
    let (p, t) = (p_ro.as_array(), t_ro.as_array());
    detached(py, || {
        let (p, t) = (p.as_standard_layout(), t.as_standard_layout());
        let contiguous = || CoreError::argument("pred", "internal: array is not contiguous");
        let p = Iuv::new(p.as_slice().ok_or_else(contiguous)?, n, h, w, "pred")?;
        let t = Iuv::new(t.as_slice().ok_or_else(contiguous)?, n, h, w, "true")?;
        kernel(&p, &t)
    })
}

fn surface(
    kind: &PyReadonlyArray1<'_, i32>,
    radius: &PyReadonlyArray1<'_, f64>,
    length: &PyReadonlyArray1<'_, f64>,
) -> PyResult<Surface> {
    Ok(Surface::new(
        &kind.as_array().to_vec(),
        &radius.as_array().to_vec(),
        &length.as_array().to_vec(),
    )?)
}

fn gps_typed<'py, T: Real + numpy::Element>(
    pred: &Bound<'py, PyArrayDyn<T>>,
    truth: &Bound<'py, PyAny>,
    surface: &Surface,
) -> PyResult<Bound<'py, PyAny>> {
    let py = pred.py();
    let shape = pred.shape().to_vec();
    let out = with_images(pred, truth, |p, t| kernel::pixel_gps(p, t, surface))?;
    let (n, h, w) = iuv_dims(&shape, "pred")?;
    let out = Array3::from_shape_vec((n, h, w), out)
        .map_err(|e| CoreError::argument("output", e.to_string()))?;
    Ok(out.into_pyarray(py).into_any())
}

/// Per-pixel GPS of IUV batches `pred`, `true` `[N, 3, H, W]` on the surface
/// `kind, radius, length` (25 rows): `[N, H, W]` of the input dtype, NaN off the true body.
#[pyfunction]
#[pyo3(signature = (pred, r#true, kind, radius, length))]
fn densepose_gps<'py>(
    pred: &Bound<'py, PyAny>,
    r#true: &Bound<'py, PyAny>,
    kind: PyReadonlyArray1<'py, i32>,
    radius: PyReadonlyArray1<'py, f64>,
    length: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyAny>> {
    let surface = surface(&kind, &radius, &length)?;
    dispatch_pred!(pred, gps_typed(r#true, &surface))
}

fn eval_typed<T: Real + numpy::Element>(
    pred: &Bound<'_, PyArrayDyn<T>>,
    truth: &Bound<'_, PyAny>,
    surface: &Surface,
    scores: Option<&[f64]>,
    iou_thrs: &[f64],
    rec_thrs: &[f64],
) -> PyResult<kernel::Evaluation> {
    with_images(pred, truth, |p, t| {
        kernel::evaluate(p, t, surface, scores, iou_thrs, rec_thrs)
    })
}

/// Every DensePose figure of IUV batches `pred`, `true` `[N, 3, H, W]`, as a dict:
/// per frame `gps`, `mask_iou`, `gpsm`, `scores` (float64[N]); pooled `part_intersection`,
/// `part_union` (uint64[24]), `part_iou` (float64[24]), `part_miou`, `mask_iou_pooled`;
/// dpAP's `precision` (float64[T, R]) and `recall` (float64[T]), -1 where undefined.
#[pyfunction]
#[pyo3(signature = (pred, r#true, kind, radius, length, scores, iou_thrs, rec_thrs))]
#[allow(clippy::too_many_arguments)]
fn densepose_eval<'py>(
    py: Python<'py>,
    pred: &Bound<'py, PyAny>,
    r#true: &Bound<'py, PyAny>,
    kind: PyReadonlyArray1<'py, i32>,
    radius: PyReadonlyArray1<'py, f64>,
    length: PyReadonlyArray1<'py, f64>,
    scores: Option<PyReadonlyArray1<'py, f64>>,
    iou_thrs: PyReadonlyArray1<'py, f64>,
    rec_thrs: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let surface = surface(&kind, &radius, &length)?;
    let scores = scores.map(|s| s.as_array().to_vec());
    let iou = iou_thrs.as_array().to_vec();
    let rec = rec_thrs.as_array().to_vec();
    let e = dispatch_pred!(
        pred,
        eval_typed(r#true, &surface, scores.as_deref(), &iou, &rec)
    )?;
    let precision = Array2::from_shape_vec((iou.len(), rec.len()), e.ap.precision)
        .map_err(|err| CoreError::argument("output", err.to_string()))?;
    let out = PyDict::new(py);
    out.set_item("gps", e.gps.into_pyarray(py))?;
    out.set_item("mask_iou", e.mask_iou.into_pyarray(py))?;
    out.set_item("gpsm", e.gpsm.into_pyarray(py))?;
    out.set_item("scores", e.scores.into_pyarray(py))?;
    out.set_item("part_intersection", e.part_intersection.into_pyarray(py))?;
    out.set_item("part_union", e.part_union.into_pyarray(py))?;
    out.set_item("part_iou", e.part_iou.into_pyarray(py))?;
    out.set_item("part_miou", e.part_miou)?;
    out.set_item("mask_iou_pooled", e.pooled_mask_iou)?;
    out.set_item("precision", precision.into_pyarray(py))?;
    out.set_item("recall", e.ap.recall.into_pyarray(py))?;
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(densepose_gps, m)?)?;
    m.add_function(wrap_pyfunction!(densepose_eval, m)?)?;
    m.add("DENSEPOSE_KAPPA", kernel::KAPPA)?;
    Ok(())
}
