//! Python binding of the COCO keypoint evaluation.

use numpy::ndarray::{Array3, Array4};
use numpy::{
    IntoPyArray, PyArray3, PyArray4, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3,
};
use pyo3::prelude::*;

use super::{check_len, detached};
use crate::error::{fmt_shape, CoreError};
use crate::metrics::cocoeval::{self as kernel, Detections, GroundTruth, Matching, Params};

fn offsets(x: &[i64], n_units: usize, total: usize, arg: &str) -> PyResult<Vec<usize>> {
    check_len(x.len(), n_units + 1, arg)?;
    let ok = x.first() == Some(&0)
        && x.last() == Some(&(total as i64))
        && x.windows(2).all(|w| w[0] <= w[1]);
    if !ok {
        return Err(CoreError::argument(
            arg,
            format!("expected non-decreasing offsets from 0 to {total}"),
        )
        .into());
    }
    Ok(x.iter().map(|&o| o as usize).collect())
}

/// OKS-AP accumulation: `(precision [T, R, K, A], recall [T, K, A])`.
///
/// `gt_keypoints` `[G, J, C]` and `dt_keypoints` `[D, J, C]` hold C = 2
/// (`x, y`) or C = 3 (`x, y, z`) coordinates per joint.
#[pyfunction]
#[pyo3(signature = (
    gt_keypoints, gt_visible, gt_areas, gt_bboxes, gt_ignore, gt_iscrowd, gt_offsets,
    dt_keypoints, dt_scores, dt_offsets,
    sigmas, iou_thrs, rec_thrs, area_rngs, max_det, n_categories, n_images, matching
))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn coco_keypoint_eval<'py>(
    py: Python<'py>,
    gt_keypoints: PyReadonlyArray3<'py, f64>,
    gt_visible: PyReadonlyArray2<'py, bool>,
    gt_areas: PyReadonlyArray1<'py, f64>,
    gt_bboxes: PyReadonlyArray2<'py, f64>,
    gt_ignore: PyReadonlyArray1<'py, bool>,
    gt_iscrowd: PyReadonlyArray1<'py, bool>,
    gt_offsets: PyReadonlyArray1<'py, i64>,
    dt_keypoints: PyReadonlyArray3<'py, f64>,
    dt_scores: PyReadonlyArray1<'py, f64>,
    dt_offsets: PyReadonlyArray1<'py, i64>,
    sigmas: PyReadonlyArray1<'py, f64>,
    iou_thrs: PyReadonlyArray1<'py, f64>,
    rec_thrs: PyReadonlyArray1<'py, f64>,
    area_rngs: PyReadonlyArray2<'py, f64>,
    max_det: usize,
    n_categories: usize,
    n_images: usize,
    matching: &str,
) -> PyResult<(Bound<'py, PyArray4<f64>>, Bound<'py, PyArray3<f64>>)> {
    let matching = Matching::parse(matching)?;
    let j = sigmas.as_array().len();
    let (g, gj, gc) = gt_keypoints.as_array().dim();
    let (d, dj, dc) = dt_keypoints.as_array().dim();
    if gj != j || !matches!(gc, 2 | 3) {
        return Err(CoreError::shape(
            "gt_keypoints",
            format!("(G, {j}, 2) or (G, {j}, 3)"),
            fmt_shape(&[g, gj, gc]),
        )
        .into());
    }
    if gt_visible.as_array().dim() != (g, j) {
        return Err(CoreError::shape(
            "gt_visible",
            format!("({g}, {j})"),
            fmt_shape(gt_visible.as_array().shape()),
        )
        .into());
    }
    if (dj, dc) != (j, gc) {
        return Err(CoreError::shape(
            "dt_keypoints",
            format!("(D, {j}, {gc}) (the coordinates of gt_keypoints)"),
            fmt_shape(&[d, dj, dc]),
        )
        .into());
    }
    check_len(gt_areas.as_array().len(), g, "gt_areas")?;
    check_len(gt_ignore.as_array().len(), g, "gt_ignore")?;
    check_len(gt_iscrowd.as_array().len(), g, "gt_iscrowd")?;
    if gt_bboxes.as_array().dim() != (g, 4) {
        return Err(CoreError::shape(
            "gt_bboxes",
            format!("({g}, 4)"),
            fmt_shape(gt_bboxes.as_array().shape()),
        )
        .into());
    }
    check_len(dt_scores.as_array().len(), d, "dt_scores")?;
    if area_rngs.as_array().dim().1 != 2 {
        return Err(CoreError::shape(
            "area_rngs",
            "(A, 2)",
            fmt_shape(area_rngs.as_array().shape()),
        )
        .into());
    }
    let n_units = n_categories * n_images;
    let gt_off = offsets(gt_offsets.as_slice()?, n_units, g, "gt_offsets")?;
    let dt_off = offsets(dt_offsets.as_slice()?, n_units, d, "dt_offsets")?;
    let gt = GroundTruth {
        keypoints: gt_keypoints.as_slice()?,
        visible: gt_visible.as_slice()?,
        areas: gt_areas.as_slice()?,
        bboxes: gt_bboxes.as_slice()?,
        ignore: gt_ignore.as_slice()?,
        iscrowd: gt_iscrowd.as_slice()?,
        offsets: &gt_off,
    };
    let dt = Detections {
        keypoints: dt_keypoints.as_slice()?,
        scores: dt_scores.as_slice()?,
        offsets: &dt_off,
    };
    let params = Params {
        dims: gc,
        sigmas: sigmas.as_slice()?,
        iou_thrs: iou_thrs.as_slice()?,
        rec_thrs: rec_thrs.as_slice()?,
        area_rngs: area_rngs.as_slice()?,
        max_det,
        n_categories,
        n_images,
        matching,
    };
    let (t, r, a) = (
        params.iou_thrs.len(),
        params.rec_thrs.len(),
        params.area_rngs.len() / 2,
    );
    let out = detached(py, || kernel::evaluate(&gt, &dt, &params))?;
    let precision = Array4::from_shape_vec((t, r, n_categories, a), out.precision)
        .expect("kernel output has T x R x K x A values");
    let recall = Array3::from_shape_vec((t, n_categories, a), out.recall)
        .expect("kernel output has T x K x A values");
    Ok((precision.into_pyarray(py), recall.into_pyarray(py)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(coco_keypoint_eval, m)?)?;
    Ok(())
}
