//! The one error type of the Rust core.
//!
//! Kernels return [`CoreError`]; the binding layer turns it into the matching
//! exception class of `csipose.errors` (see `py::errors`). Every message names
//! the argument at fault and says what was expected.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum CoreError {
    /// An array has the wrong rank, length or size.
    #[error("{arg}: expected {expected}, got {actual}")]
    Shape {
        arg: String,
        expected: String,
        actual: String,
    },
    /// A scalar argument or option is outside its allowed set or range.
    #[error("{arg}: {message}")]
    Argument { arg: String, message: String },
    /// NaN or infinity where the caller asked for finite values only.
    #[error("{arg}: {message}")]
    NonFinite { arg: String, message: String },
    /// An array of a dtype the kernel does not accept.
    #[error("{arg}: expected {expected}, got dtype {actual}")]
    DType {
        arg: String,
        expected: String,
        actual: String,
    },
}

pub type CoreResult<T> = Result<T, CoreError>;

impl CoreError {
    pub fn shape(arg: &str, expected: impl Into<String>, actual: impl Into<String>) -> Self {
        CoreError::Shape {
            arg: arg.to_owned(),
            expected: expected.into(),
            actual: actual.into(),
        }
    }

    pub fn argument(arg: &str, message: impl Into<String>) -> Self {
        CoreError::Argument {
            arg: arg.to_owned(),
            message: message.into(),
        }
    }

    pub fn non_finite(arg: &str, message: impl Into<String>) -> Self {
        CoreError::NonFinite {
            arg: arg.to_owned(),
            message: message.into(),
        }
    }

    pub fn dtype(arg: &str, expected: impl Into<String>, actual: impl Into<String>) -> Self {
        CoreError::DType {
            arg: arg.to_owned(),
            expected: expected.into(),
            actual: actual.into(),
        }
    }
}

/// Formats a shape as `(a, b, c)` for error messages.
pub fn fmt_shape(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_argument() {
        let e = CoreError::shape("x", "at least 1 dimension", "(0,)");
        assert_eq!(e.to_string(), "x: expected at least 1 dimension, got (0,)");
        assert_eq!(fmt_shape(&[3, 114, 10]), "(3, 114, 10)");
        assert_eq!(fmt_shape(&[]), "()");
    }
}
