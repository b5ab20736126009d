//! csipose's Rust core: pure kernels over slices plus a thin PyO3 layer.
//!
//! `subcarrier`, `layout`, `element`, `parallel` and `error` know nothing of
//! Python; `py` converts numpy arrays, releases the GIL and maps errors.

pub mod element;
pub mod error;
pub mod layout;
pub mod matching;
pub mod memory;
pub mod metrics;
pub mod parallel;
pub mod subcarrier;

mod py;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(py::set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(py::get_num_threads, m)?)?;
    py::subcarrier::register(m)?;
    py::metrics::register(m)?;
    py::matching::register(m)?;
    py::cocoeval::register(m)?;
    py::densepose::register(m)?;
    py::mot::register(m)?;
    Ok(())
}
