//! Python binding of the CLEAR-MOT / ID-measure accumulator.

use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::detached;
use crate::error::CoreError;
use crate::metrics::mot::{self as kernel, Frames};

/// `i64` offsets as `usize`; the kernel checks their order and range.
fn offsets(x: &[i64], arg: &str) -> PyResult<Vec<usize>> {
    x.iter()
        .map(|&o| {
            usize::try_from(o).map_err(|_| {
                CoreError::argument(arg, format!("expected non-negative offsets, got {o}")).into()
            })
        })
        .collect()
}

/// MOT event counts of flat frames (see `csipose.metrics.mot`).
#[pyfunction]
#[pyo3(signature = (gt_ids, gt_offsets, pred_ids, pred_offsets, distances))]
fn mot_counts<'py>(
    py: Python<'py>,
    gt_ids: PyReadonlyArray1<'py, i64>,
    gt_offsets: PyReadonlyArray1<'py, i64>,
    pred_ids: PyReadonlyArray1<'py, i64>,
    pred_offsets: PyReadonlyArray1<'py, i64>,
    distances: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let gt_off = offsets(gt_offsets.as_slice()?, "gt_offsets")?;
    let pred_off = offsets(pred_offsets.as_slice()?, "pred_offsets")?;
    let frames = Frames {
        gt_ids: gt_ids.as_slice()?,
        gt_offsets: &gt_off,
        pred_ids: pred_ids.as_slice()?,
        pred_offsets: &pred_off,
        distances: distances.as_slice()?,
    };
    let c = detached(py, || kernel::evaluate(&frames))?;
    let out = PyDict::new(py);
    out.set_item("num_frames", c.num_frames)?;
    out.set_item("num_objects", c.num_objects)?;
    out.set_item("num_predictions", c.num_predictions)?;
    out.set_item("num_matches", c.num_matches)?;
    out.set_item("num_switches", c.num_switches)?;
    out.set_item("num_false_positives", c.num_false_positives)?;
    out.set_item("num_misses", c.num_misses)?;
    out.set_item("num_fragmentations", c.num_fragmentations)?;
    out.set_item("num_unique_objects", c.num_unique_objects)?;
    out.set_item("mostly_tracked", c.mostly_tracked)?;
    out.set_item("partially_tracked", c.partially_tracked)?;
    out.set_item("mostly_lost", c.mostly_lost)?;
    out.set_item("idtp", c.idtp)?;
    out.set_item("total_distance", c.total_distance)?;
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(mot_counts, m)?)?;
    Ok(())
}
