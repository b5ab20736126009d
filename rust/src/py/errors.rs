//! Maps [`CoreError`] onto the exception classes of `csipose.errors`.
//!
//! The classes live in Python so that one class can derive from both
//! `CsiposeError` and a builtin (`ShapeError` is also a `ValueError`); this is
//! the only place that knows their names.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::error::CoreError;

fn class_name(err: &CoreError) -> &'static str {
    match err {
        CoreError::Shape { .. } => "ShapeError",
        CoreError::Argument { .. } => "ArgumentError",
        CoreError::NonFinite { .. } => "NonFiniteError",
        CoreError::DType { .. } => "DTypeError",
    }
}

impl From<CoreError> for PyErr {
    fn from(err: CoreError) -> PyErr {
        let message = err.to_string();
        Python::attach(|py| {
            let class = py
                .import("csipose.errors")
                .and_then(|m| m.getattr(class_name(&err)))
                .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
            match class {
                Ok(class) => PyErr::from_type(class, message),
                Err(_) => PyValueError::new_err(message),
            }
        })
    }
}
