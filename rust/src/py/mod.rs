//! The binding layer: validate, convert, release the GIL, call a kernel.

pub mod cocoeval;
pub mod errors;
pub mod matching;
pub mod metrics;
pub mod subcarrier;

use numpy::{PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::error::{CoreError, CoreResult};
use crate::parallel;

/// What a real-valued array argument must be.
pub const REAL_FLOAT: &str = "a float32 or float64 numpy array";

/// The dtype of an array argument (`"<f8"`), or the Python type name of anything else.
pub fn dtype_name(x: &Bound<'_, PyAny>) -> String {
    match x.cast::<PyUntypedArray>() {
        Ok(a) => a
            .dtype()
            .str()
            .map(|s| s.to_string())
            .unwrap_or_else(|_| "unknown".into()),
        Err(_) => x
            .get_type()
            .name()
            .map(|s| s.to_string())
            .unwrap_or_else(|_| "unknown".into()),
    }
}

/// A `DTypeError` for `arg`: expected `expected`, got the dtype (or type) of `x`.
pub fn dtype_error(x: &Bound<'_, PyAny>, arg: &str, expected: &str) -> PyErr {
    CoreError::dtype(arg, expected, dtype_name(x)).into()
}

/// A `ShapeError` unless a 1-d argument `arg` has `expected` elements.
pub fn check_len(len: usize, expected: usize, arg: &str) -> PyResult<()> {
    if len != expected {
        return Err(CoreError::shape(arg, format!("({expected},)"), format!("({len},)")).into());
    }
    Ok(())
}

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
