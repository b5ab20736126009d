//! Python bindings of person matching (its cost matrices live with the metrics).

use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArray3, PyArrayMethods, PyReadonlyArray2, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::PyList;

use super::{detached, dtype_error, REAL_FLOAT};
use crate::error::{fmt_shape, CoreError};
use crate::matching::{self as kernel, Assignment, FlatMatchings, Frame};

fn shape_error(x: &Bound<'_, PyAny>, arg: &str, expected: &str) -> PyErr {
    let actual = x
        .cast::<PyUntypedArray>()
        .map(|a| fmt_shape(a.shape()))
        .unwrap_or_else(|_| "not an array".into());
    CoreError::shape(arg, expected, actual).into()
}

fn check_gate(max_cost: Option<f64>) -> PyResult<()> {
    match max_cost {
        Some(g) if g.is_nan() => {
            Err(CoreError::argument("max_cost", "expected a number or None, got NaN").into())
        }
        _ => Ok(()),
    }
}

type Single<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    f64,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
);

fn as_i64(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&i| i as i64).collect()
}

fn single_out(py: Python<'_>, a: Assignment) -> Single<'_> {
    (
        as_i64(&a.rows).into_pyarray(py),
        as_i64(&a.cols).into_pyarray(py),
        a.total,
        a.u.into_pyarray(py),
        a.v.into_pyarray(py),
    )
}

fn solve_typed<'py, T: kernel::Cost + numpy::Element>(
    cost: &Bound<'py, PyArray2<T>>,
    max_cost: Option<f64>,
) -> PyResult<Single<'py>> {
    let py = cost.py();
    let readonly = cost.readonly();
    let view = readonly.as_array();
    let (n, m) = view.dim();
    let standard = view.as_standard_layout();
    let data = standard.as_slice().expect("standard layout is contiguous");
    let a = detached(py, || kernel::solve(data, n, m, max_cost))?;
    Ok(single_out(py, a))
}

/// Optimal matching of one `n x m` cost matrix:
/// `(rows, cols, total, u, v)`.
#[pyfunction]
#[pyo3(signature = (cost, max_cost = None))]
fn match_persons<'py>(cost: &Bound<'py, PyAny>, max_cost: Option<f64>) -> PyResult<Single<'py>> {
    check_gate(max_cost)?;
    if let Ok(a) = cost.cast::<PyArray2<f64>>() {
        solve_typed(a, max_cost)
    } else if let Ok(a) = cost.cast::<PyArray2<f32>>() {
        solve_typed(a, max_cost)
    } else if cost.cast::<numpy::PyArrayDyn<f64>>().is_ok()
        || cost.cast::<numpy::PyArrayDyn<f32>>().is_ok()
    {
        Err(shape_error(cost, "cost", "a 2-d (n, m) matrix"))
    } else {
        Err(dtype_error(cost, "cost", REAL_FLOAT))
    }
}

type Batch<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<i64>>,
);

/// Per-frame results as flat arrays with `F + 1` offsets each.
fn batch_out<'py>(py: Python<'py>, flat: FlatMatchings, frames: &[Frame]) -> Batch<'py> {
    let cumulative = |counts: &mut dyn Iterator<Item = usize>| {
        let mut offsets = vec![0i64];
        let mut acc = 0i64;
        for c in counts {
            acc += c as i64;
            offsets.push(acc);
        }
        offsets
    };
    let pair_offsets = cumulative(&mut flat.pair_counts.iter().copied());
    let u_offsets = cumulative(&mut frames.iter().map(|f| f.n));
    let v_offsets = cumulative(&mut frames.iter().map(|f| f.m));
    (
        as_i64(&flat.rows).into_pyarray(py),
        as_i64(&flat.cols).into_pyarray(py),
        pair_offsets.into_pyarray(py),
        flat.totals.into_pyarray(py),
        flat.u.into_pyarray(py),
        u_offsets.into_pyarray(py),
        flat.v.into_pyarray(py),
        v_offsets.into_pyarray(py),
    )
}

/// Appends a 2-d view (any layout, any byte order numpy accepts as `T`) to the flat buffer as f64.
fn extend_from<T: kernel::Cost + numpy::Element>(
    a: &Bound<'_, PyArray2<T>>,
    data: &mut Vec<f64>,
) -> (usize, usize) {
    // SAFETY: the GIL is held for the whole copy and no Rust reference to this
    // array exists, so nothing can mutate it meanwhile.
    let view = unsafe { a.as_array() };
    data.extend(view.iter().map(|&x| x.to_f64()));
    view.dim()
}

/// Appends the `n * m` values at `ptr` as f64.
///
/// # Safety
/// `ptr` must point at `n * m` initialised values of `T` that nothing mutates
/// during the call (a C-contiguous numpy array while the GIL is held).
unsafe fn extend_raw<T: kernel::Cost>(ptr: *const T, len: usize, data: &mut Vec<f64>) {
    let s = unsafe { std::slice::from_raw_parts(ptr, len) };
    data.extend(s.iter().map(|&x| x.to_f64()));
}

/// The shape and element type of `item` when it is exactly a numpy ndarray
/// (not a subclass) holding a native-endian, C-contiguous 2-d float64 or
/// float32 matrix, read straight from the array and its descriptor.
///
/// For tiny frames, the usual checks (a typed cast, a `dtype()` object)
/// cost more than copying the matrix.
fn plain_matrix(
    item: &Bound<'_, PyAny>,
    ndarray: *mut pyo3::ffi::PyTypeObject,
) -> Option<(usize, usize, bool)> {
    use numpy::npyffi::{self, NPY_TYPES};
    let ptr = item.as_ptr();
    // SAFETY: `ptr` is a live object (the GIL is held and `item` owns a
    // reference); once its type is exactly numpy's ndarray type it is a
    // `PyArrayObject` whose descriptor is live while the array is.
    unsafe {
        if pyo3::ffi::Py_TYPE(ptr) != ndarray {
            return None;
        }
        let a = &(*(ptr as *mut npyffi::PyArrayObject)).fields;
        let descr = &*npyffi::_PyDataType_GET_ITEM_DATA(a.descr);
        let native = match descr.byteorder as u8 {
            b'=' | b'|' => true,
            order => order == npyffi::NPY_BYTEORDER_CHAR::NPY_NATBYTE as u8,
        };
        let f64 = descr.type_num == NPY_TYPES::NPY_DOUBLE as i32;
        let f32 = descr.type_num == NPY_TYPES::NPY_FLOAT as i32;
        let contiguous = a.flags & npyffi::NPY_ARRAY_C_CONTIGUOUS != 0;
        if a.nd != 2 || !native || !(f64 || f32) || !contiguous {
            return None;
        }
        let (n, m) = (*a.dimensions, *a.dimensions.add(1));
        Some((n as usize, m as usize, f64))
    }
}

/// Copies one 2-d float matrix of a list into the flat buffer.
///
/// The common case (an ndarray holding a native-endian, C-contiguous float64
/// or float32 matrix, see [`plain_matrix`]) is read in place.
fn push_matrix(
    item: &Bound<'_, PyAny>,
    k: usize,
    ndarray: *mut pyo3::ffi::PyTypeObject,
    data: &mut Vec<f64>,
) -> PyResult<Frame> {
    let offset = data.len();
    if let Some((n, m, is_f64)) = plain_matrix(item, ndarray) {
        if n * m > 0 {
            // SAFETY: a C-contiguous, native-endian array of n * m values of
            // the checked type starts at `data`; the GIL is held for the whole
            // copy and no Rust reference to the array exists, so nothing can
            // mutate it meanwhile.
            unsafe {
                let ptr = (*item.as_ptr().cast::<numpy::npyffi::PyArrayObject>())
                    .fields
                    .data;
                if is_f64 {
                    extend_raw(ptr as *const f64, n * m, data);
                } else {
                    extend_raw(ptr as *const f32, n * m, data);
                }
            }
        }
        return Ok(Frame { offset, n, m });
    }
    let (n, m) = if let Ok(a) = item.cast::<PyArray2<f64>>() {
        extend_from(a, data)
    } else if let Ok(a) = item.cast::<PyArray2<f32>>() {
        extend_from(a, data)
    } else if item.cast::<numpy::PyArrayDyn<f64>>().is_ok()
        || item.cast::<numpy::PyArrayDyn<f32>>().is_ok()
    {
        return Err(shape_error(
            item,
            &format!("costs[{k}]"),
            "a 2-d (n, m) matrix",
        ));
    } else {
        return Err(dtype_error(item, &format!("costs[{k}]"), REAL_FLOAT));
    };
    Ok(Frame { offset, n, m })
}

/// Optimal matchings of a list of cost matrices, solved in parallel.
#[pyfunction]
#[pyo3(signature = (costs, max_cost = None))]
fn match_persons_batch<'py>(
    costs: &Bound<'py, PyList>,
    max_cost: Option<f64>,
) -> PyResult<Batch<'py>> {
    check_gate(max_cost)?;
    let py = costs.py();
    let mut data = Vec::new();
    let mut frames = Vec::with_capacity(costs.len());
    // SAFETY: numpy's API table is loaded with the GIL held.
    let ndarray =
        unsafe { numpy::npyffi::get_type_object(py, numpy::npyffi::NpyTypes::PyArray_Type) };
    for (k, item) in costs.iter().enumerate() {
        frames.push(push_matrix(&item, k, ndarray, &mut data)?);
    }
    let results = detached(py, || kernel::solve_batch(&data, &frames, max_cost))?;
    Ok(batch_out(py, results, &frames))
}

fn padded_typed<'py, T: kernel::Cost + numpy::Element>(
    costs: &Bound<'py, PyArray3<T>>,
    sizes: PyReadonlyArray2<'py, i64>,
    max_cost: Option<f64>,
) -> PyResult<Batch<'py>> {
    let py = costs.py();
    let readonly = costs.readonly();
    let view = readonly.as_array();
    let (f, big_n, big_m) = view.dim();
    let sizes = sizes.as_array();
    if sizes.dim() != (f, 2) {
        return Err(CoreError::shape(
            "sizes",
            format!("({f}, 2) to match costs"),
            fmt_shape(sizes.shape()),
        )
        .into());
    }
    let mut frames = Vec::with_capacity(f);
    for k in 0..f {
        let (n, m) = (sizes[[k, 0]], sizes[[k, 1]]);
        if n < 0 || m < 0 || n as usize > big_n || m as usize > big_m {
            return Err(CoreError::argument(
                "sizes",
                format!(
                    "sizes[{k}] = ({n}, {m}) does not fit in a padded ({big_n}, {big_m}) frame"
                ),
            )
            .into());
        }
        frames.push((n as usize, m as usize));
    }
    let (results, flat) = detached(py, || {
        let mut data = Vec::with_capacity(frames.iter().map(|&(n, m)| n * m).sum());
        let mut flat = Vec::with_capacity(f);
        let contiguous = view.as_slice();
        for (k, &(n, m)) in frames.iter().enumerate() {
            let offset = data.len();
            if let Some(all) = contiguous {
                // Row by row from the C-contiguous array, without building views.
                for i in 0..n {
                    let start = (k * big_n + i) * big_m;
                    data.extend_from_slice(&all[start..start + m]);
                }
            } else {
                let block = view.slice(numpy::ndarray::s![k, ..n, ..m]);
                data.extend(block.iter().copied());
            }
            flat.push(Frame { offset, n, m });
        }
        Ok((kernel::solve_batch(&data, &flat, max_cost)?, flat))
    })?;
    Ok(batch_out(py, results, &flat))
}

/// Optimal matchings of the top-left `sizes[k]` blocks of a padded `[F, N, M]` array.
#[pyfunction]
#[pyo3(signature = (costs, sizes, max_cost = None))]
fn match_persons_padded<'py>(
    costs: &Bound<'py, PyAny>,
    sizes: PyReadonlyArray2<'py, i64>,
    max_cost: Option<f64>,
) -> PyResult<Batch<'py>> {
    check_gate(max_cost)?;
    if let Ok(a) = costs.cast::<PyArray3<f64>>() {
        padded_typed(a, sizes, max_cost)
    } else if let Ok(a) = costs.cast::<PyArray3<f32>>() {
        padded_typed(a, sizes, max_cost)
    } else {
        Err(dtype_error(costs, "costs", REAL_FLOAT))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(match_persons, m)?)?;
    m.add_function(wrap_pyfunction!(match_persons_batch, m)?)?;
    m.add_function(wrap_pyfunction!(match_persons_padded, m)?)?;
    Ok(())
}
