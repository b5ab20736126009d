//! Moving one axis of an n-d array to the end so kernels see contiguous rows.

use ndarray::{ArrayD, ArrayViewD, CowArray, IxDyn};

use crate::error::{fmt_shape, CoreError, CoreResult};

/// Resolves a possibly negative `axis` against `ndim`, naming `arg` on error.
pub fn normalize_axis(axis: isize, ndim: usize, arg: &str) -> CoreResult<usize> {
    let n = ndim as isize;
    if ndim == 0 {
        return Err(CoreError::shape(
            arg,
            "an array with at least 1 dimension",
            "a 0-d array",
        ));
    }
    let a = if axis < 0 { axis + n } else { axis };
    if a < 0 || a >= n {
        return Err(CoreError::argument(
            "axis",
            format!("axis {axis} is out of range for an array with {ndim} dimensions"),
        ));
    }
    Ok(a as usize)
}

/// An n-d array seen as C-contiguous rows along one axis.
pub struct Rows<'a, T> {
    data: CowArray<'a, T, IxDyn>,
    /// Permutation that moved `axis` last.
    perm: Vec<usize>,
    /// Length of the moved axis (the row length).
    pub len: usize,
}

impl<'a, T: Copy> Rows<'a, T> {
    /// Views `x` with `axis` last; copies only when that view is not C-contiguous.
    pub fn new(x: ArrayViewD<'a, T>, axis: usize) -> Self {
        let ndim = x.ndim();
        let mut perm: Vec<usize> = (0..ndim).filter(|&a| a != axis).collect();
        perm.push(axis);
        let len = x.shape()[axis];
        let moved = x.permuted_axes(IxDyn(&perm));
        let data = if moved.is_standard_layout() {
            CowArray::from(moved)
        } else {
            CowArray::from(moved.as_standard_layout().into_owned())
        };
        Rows { data, perm, len }
    }

    /// All rows back to back (`n_rows * len` values).
    pub fn as_slice(&self) -> &[T] {
        self.data
            .as_slice()
            .expect("as_standard_layout always yields a C-contiguous array")
    }

    pub fn n_rows(&self) -> usize {
        self.data.shape()[..self.data.ndim() - 1].iter().product()
    }

    /// Shape of the rows array with the row length replaced by `new_len`.
    pub fn moved_shape(&self, new_len: usize) -> Vec<usize> {
        let mut s = self.data.shape().to_vec();
        *s.last_mut().expect("at least one axis") = new_len;
        s
    }

    /// Index in the caller's array of element `col` of row `row`.
    pub fn original_index(&self, row: usize, col: usize) -> Vec<usize> {
        let shape = self.data.shape();
        let mut moved = vec![0; shape.len()];
        moved[shape.len() - 1] = col;
        let mut r = row;
        for d in (0..shape.len() - 1).rev() {
            moved[d] = r % shape[d];
            r /= shape[d];
        }
        let mut orig = vec![0; shape.len()];
        for (i, &p) in self.perm.iter().enumerate() {
            orig[p] = moved[i];
        }
        orig
    }

    /// Builds a C-contiguous output in the caller's axis order from row-major
    /// `values` laid out as rows of length `new_len`.
    pub fn restore(&self, values: Vec<T>, new_len: usize) -> CoreResult<ArrayD<T>> {
        let moved = ArrayD::from_shape_vec(IxDyn(&self.moved_shape(new_len)), values)
            .map_err(|e| CoreError::shape("output", "a consistent row layout", e.to_string()))?;
        let mut inverse = vec![0; self.perm.len()];
        for (i, &p) in self.perm.iter().enumerate() {
            inverse[p] = i;
        }
        let out = moved.permuted_axes(IxDyn(&inverse));
        if out.is_standard_layout() {
            Ok(out)
        } else {
            Ok(out.as_standard_layout().into_owned())
        }
    }
}

/// Describes a shape for messages.
pub fn describe(x: &[usize]) -> String {
    fmt_shape(x)
}
