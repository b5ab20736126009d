//! The binding layer: validate, convert, release the GIL, call a kernel.

pub mod cocoeval;
pub mod errors;
pub mod metrics;
pub mod matching;
pub mod subcarrier;

use pyo3::prelude::*;

use crate::error::CoreResult;
use crate::parallel;

/// Runs a kernel without the GIL on the csipose pool and maps its error.
pub fn detached<T: Send>(py: Python<'_>, f: impl FnOnce() -> CoreResult<T> + Send) -> PyResult<T> {
    py.detach(|| parallel::install(f)).map_err(PyErr::from)
}

/// Sets the number of threads kernels use (0 restores the default:
/// `CSIPOSE_NUM_THREADS` or all cores).
#[pyfunction]
pub fn set_num_threads(n: usize) {
    parallel::set_num_threads(n);
}

/// Number of threads the next kernel call will use.
#[pyfunction]
pub fn get_num_threads() -> usize {
    parallel::num_threads()
}
