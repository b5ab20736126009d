//! The binding layer: validate, convert, release the GIL, call a kernel.

/// Calls `$f::<T>(pred_array, ...)` for the float type (f32 or f64) of the argument `pred`;
/// any other dtype is a `DTypeError` naming `pred`.
macro_rules! dispatch_pred {
    ($x:expr, $f:ident ( $($rest:expr),* )) => {{
        if let Ok(a) = $x.cast::<::numpy::PyArrayDyn<f32>>() {
            $f(a, $($rest),*)
        } else if let Ok(a) = $x.cast::<::numpy::PyArrayDyn<f64>>() {
            $f(a, $($rest),*)
        } else {
            Err($crate::py::dtype_error($x, "pred", $crate::py::REAL_FLOAT))
        }
    }};
}

pub mod cocoeval;
pub mod densepose;
pub mod errors;
pub mod matching;
pub mod metrics;
pub mod mot;
pub mod subcarrier;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use numpy::{PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyKeyboardInterrupt;
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

/// `other` (the argument `arg`) as an array of `pred`'s dtype `T`, or a `DTypeError` naming `arg`
/// and the dtype it must share with `pred`.
pub fn like_pred<'a, 'py, T: numpy::Element>(
    pred: &Bound<'py, numpy::PyArrayDyn<T>>,
    other: &'a Bound<'py, PyAny>,
    arg: &str,
) -> PyResult<&'a Bound<'py, numpy::PyArrayDyn<T>>> {
    other.cast::<numpy::PyArrayDyn<T>>().map_err(|_| {
        CoreError::dtype(
            arg,
            format!("the dtype of pred ({})", dtype_name(pred.as_any())),
            dtype_name(other),
        )
        .into()
    })
}

/// A `ShapeError` unless a 1-d argument `arg` has `expected` elements.
pub fn check_len(len: usize, expected: usize, arg: &str) -> PyResult<()> {
    if len != expected {
        return Err(CoreError::shape(arg, format!("({expected},)"), format!("({len},)")).into());
    }
    Ok(())
}

/// How often a thread waiting for a kernel looks for Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Runs a kernel without the GIL on the csipose pool and maps its error.
///
/// The calling thread waits beside the pool and, every [`SIGNAL_POLL`], takes
/// the GIL just long enough to run Python's signal handlers: Ctrl-C raises
/// `KeyboardInterrupt` here within a fraction of a second, after the kernel
/// has seen [`parallel::interrupted`] and stopped at its next piece of work.
pub fn detached<T: Send>(py: Python<'_>, f: impl FnOnce() -> CoreResult<T> + Send) -> PyResult<T> {
    let call = parallel::Call::start();
    let mut signal: Option<PyErr> = None;
    let out = py.detach(|| {
        let done = AtomicBool::new(false);
        let waiter = std::thread::current();
        let mut out = None;
        parallel::pool().in_place_scope(|scope| {
            scope.spawn(|_| {
                out = Some(f());
                done.store(true, Ordering::Release);
                waiter.unpark();
            });
            while !done.load(Ordering::Acquire) {
                std::thread::park_timeout(SIGNAL_POLL);
                if signal.is_none() && !done.load(Ordering::Acquire) {
                    if let Err(err) = Python::attach(|py| py.check_signals()) {
                        signal = Some(err);
                        parallel::interrupt();
                    }
                }
            }
        });
        out
    });
    let interrupted = call.finish();
    if let Some(err) = signal {
        return Err(err);
    }
    if interrupted {
        return Err(PyKeyboardInterrupt::new_err(
            "a csipose kernel was stopped by Ctrl-C",
        ));
    }
    // The scope waits for its kernel, so `out` is always set; no panic either way.
    out.unwrap_or_else(|| Err(CoreError::argument("kernel", "finished without a result")))
        .map_err(PyErr::from)
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
