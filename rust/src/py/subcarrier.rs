//! Python bindings of the subcarrier kernels.

use ndarray::{ArrayViewMutD, Axis};
use num_complex::Complex;
use numpy::{IntoPyArray, PyArray1, PyArrayDyn, PyArrayMethods};
use pyo3::prelude::*;
use rayon::prelude::*;

use std::mem::MaybeUninit;

use super::{detached, dtype_error, dtype_name, REAL_FLOAT};
use crate::element::{Element, Real};
use crate::error::{CoreError, CoreResult};
use crate::layout::{describe, normalize_axis, Rows};
use crate::subcarrier::{self as kernel, Mode, NanPolicy, Outside};

const FLOAT_OR_COMPLEX: &str = "a float32, float64, complex64 or complex128 numpy array";

/// Calls `$f::<T>(array, ...)` for the element type of `$x`.
macro_rules! dispatch_float_or_complex {
    ($x:expr, $arg:expr, $f:ident ( $($rest:expr),* )) => {{
        if let Ok(a) = $x.cast::<PyArrayDyn<f32>>() {
            $f(a, $($rest),*)
        } else if let Ok(a) = $x.cast::<PyArrayDyn<f64>>() {
            $f(a, $($rest),*)
        } else if let Ok(a) = $x.cast::<PyArrayDyn<Complex<f32>>>() {
            $f(a, $($rest),*)
        } else if let Ok(a) = $x.cast::<PyArrayDyn<Complex<f64>>>() {
            $f(a, $($rest),*)
        } else {
            Err(dtype_error($x, $arg, FLOAT_OR_COMPLEX))
        }
    }};
}

macro_rules! dispatch_real {
    ($x:expr, $arg:expr, $f:ident ( $($rest:expr),* )) => {{
        if let Ok(a) = $x.cast::<PyArrayDyn<f32>>() {
            $f(a, $($rest),*)
        } else if let Ok(a) = $x.cast::<PyArrayDyn<f64>>() {
            $f(a, $($rest),*)
        } else {
            Err(dtype_error($x, $arg, REAL_FLOAT))
        }
    }};
}

fn non_empty_axis(len: usize, axis: usize) -> CoreResult<()> {
    if len == 0 {
        return Err(CoreError::shape(
            "x",
            format!("at least 1 subcarrier along axis {axis}"),
            "0",
        ));
    }
    Ok(())
}

/// The resampling operator of one (n_in, n_out, mode), built once.
#[pyclass(module = "csipose._core", name = "Resampler", frozen)]
pub struct PyResampler {
    inner: kernel::Resampler,
}

/// Names the first non-finite value of `rows` in the caller's indices for nan='raise'.
fn name_non_finite<T: Element>(rows: &Rows<'_, T>, n: usize, e: CoreError) -> CoreError {
    match e {
        CoreError::NonFinite { .. } => {
            let pos = rows
                .as_slice()
                .iter()
                .position(|v| !v.is_finite())
                .unwrap_or(0);
            CoreError::non_finite(
                "x",
                format!(
                    "found a non-finite value at index {:?} with nan='raise'",
                    rows.original_index(pos / n, pos % n)
                ),
            )
        }
        other => other,
    }
}

/// Runs `work` without the GIL: on this thread for up to one block of rows
/// (waking the pool would cost more than the work), else on the pool.
fn run_resampling<R: Send>(
    py: Python<'_>,
    single_block: bool,
    work: impl FnOnce() -> CoreResult<R> + Send,
) -> PyResult<R> {
    if single_block {
        Ok(py.detach(work)?)
    } else {
        detached(py, work)
    }
}

fn apply_typed<'py, T: Element + numpy::Element>(
    x: &Bound<'py, PyArrayDyn<T>>,
    op: &kernel::Resampler,
    axis: isize,
    nan: NanPolicy,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = x.py();
    let readonly = x.readonly();
    let view = readonly.as_array();
    let axis = normalize_axis(axis, view.ndim(), "x")?;
    let n = view.shape()[axis];
    non_empty_axis(n, axis)?;
    if n != op.n_in {
        return Err(CoreError::shape(
            "x",
            format!("{} subcarriers along axis {axis}", op.n_in),
            n.to_string(),
        )
        .into());
    }
    let single_block = op.is_single_block(view.len());
    let Some(out_any) = out else {
        let values = run_resampling(py, single_block, || {
            let rows = Rows::new(view, axis);
            let values = op
                .apply(rows.as_slice(), nan)
                .map_err(|e| name_non_finite(&rows, n, e))?;
            rows.restore(values, op.n_out)
        })?;
        return Ok(values.into_pyarray(py).into_any());
    };
    let target = out_any.cast::<PyArrayDyn<T>>().map_err(|_| {
        dtype_error(
            out_any,
            "out",
            &format!("a numpy array of x's dtype ({})", dtype_name(x.as_any())),
        )
    })?;
    let mut expected = view.shape().to_vec();
    expected[axis] = op.n_out;
    let mut guard = target.try_readwrite().map_err(|_| {
        CoreError::argument(
            "out",
            "expected a writeable array that shares no memory with x",
        )
    })?;
    let mut dst = guard.as_array_mut();
    if dst.shape() != expected.as_slice() {
        return Err(CoreError::shape("out", describe(&expected), describe(dst.shape())).into());
    }
    // Rows come out in C order of `out` when nothing but size-1 axes follow `axis`.
    let direct = dst.is_standard_layout() && view.shape()[axis + 1..].iter().all(|&d| d == 1);
    run_resampling(py, single_block, || {
        let rows = Rows::new(view, axis);
        match dst.as_slice_mut() {
            Some(slice) if direct => {
                // SAFETY: an initialised T is a valid MaybeUninit<T>, and
                // apply_into only writes T values into the slots.
                let slots = unsafe { &mut *(slice as *mut [T] as *mut [MaybeUninit<T>]) };
                op.apply_into(rows.as_slice(), slots, nan)
                    .map_err(|e| name_non_finite(&rows, n, e))
            }
            _ => {
                let values = op
                    .apply(rows.as_slice(), nan)
                    .map_err(|e| name_non_finite(&rows, n, e))?;
                dst.assign(&rows.restore(values, op.n_out)?);
                Ok(())
            }
        }
    })?;
    Ok(out_any.clone())
}

#[pymethods]
impl PyResampler {
    #[new]
    #[pyo3(signature = (n_in, n_out, mode = "linear", start = None))]
    fn new(n_in: usize, n_out: usize, mode: &str, start: Option<usize>) -> PyResult<Self> {
        let mode = Mode::parse(mode, start)?;
        Ok(PyResampler {
            inner: kernel::Resampler::new(n_in, n_out, mode)?,
        })
    }

    /// The operator from tones at `source` positions to tones at `target`
    /// positions (see `Resampler::from_positions` in the Rust core for the rules).
    #[staticmethod]
    #[pyo3(signature = (source, target, mode = "linear", outside = "nearest"))]
    fn from_positions(
        source: Vec<f64>,
        target: Vec<f64>,
        mode: &str,
        outside: &str,
    ) -> PyResult<Self> {
        let mode = Mode::parse(mode, None)?;
        let outside = Outside::parse(outside)?;
        Ok(PyResampler {
            inner: kernel::Resampler::from_positions(&source, &target, mode, outside)?,
        })
    }

    /// Source positions of an operator built from positions, else None.
    #[getter]
    fn source_positions<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArray1<f64>>> {
        self.inner
            .positions
            .as_ref()
            .map(|p| p.source.clone().into_pyarray(py))
    }

    /// Target positions of an operator built from positions, else None.
    #[getter]
    fn target_positions<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArray1<f64>>> {
        self.inner
            .positions
            .as_ref()
            .map(|p| p.target.clone().into_pyarray(py))
    }

    /// The outside rule of an operator built from positions, else None.
    #[getter]
    fn outside(&self) -> Option<&'static str> {
        self.inner.positions.as_ref().map(|p| p.outside.name())
    }

    #[getter]
    fn n_in(&self) -> usize {
        self.inner.n_in
    }

    #[getter]
    fn n_out(&self) -> usize {
        self.inner.n_out
    }

    #[getter]
    fn mode(&self) -> &'static str {
        self.inner.mode.name()
    }

    #[getter]
    fn start(&self) -> Option<usize> {
        match self.inner.mode {
            Mode::Subband { start } => Some(start),
            _ => None,
        }
    }

    /// Applies the operator along `axis` of `x`: `[..., n_in, ...] -> [..., n_out, ...]`.
    ///
    /// `nan`: "propagate" (IEEE), "raise" (NonFiniteError), or "fill": a row-mean
    /// fill, each non-finite value becomes the mean of the finite values of its row
    /// along `axis` (all other indices fixed; zeros for a row with none). Not
    /// MM-Fi's per-packet (antenna, subcarrier) fill: see csipose.data.cleaning.
    /// `out`: an array of x's dtype and the result's shape to write into (returned).
    #[pyo3(signature = (x, axis = -1, nan = "propagate", out = None))]
    fn apply<'py>(
        &self,
        x: &Bound<'py, PyAny>,
        axis: isize,
        nan: &str,
        out: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let nan = NanPolicy::parse(nan)?;
        dispatch_float_or_complex!(x, "x", apply_typed(&self.inner, axis, nan, out))
    }

    /// The CSR parts `(indptr, indices, weights)` of the `n_out x n_in` operator.
    #[allow(clippy::type_complexity)]
    fn csr<'py>(
        &self,
        py: Python<'py>,
    ) -> (
        Bound<'py, PyArray1<i64>>,
        Bound<'py, PyArray1<i64>>,
        Bound<'py, PyArray1<f64>>,
    ) {
        let as_i64 = |v: &[usize]| v.iter().map(|&i| i as i64).collect::<Vec<_>>();
        (
            as_i64(&self.inner.indptr).into_pyarray(py),
            as_i64(&self.inner.indices).into_pyarray(py),
            self.inner.weights.clone().into_pyarray(py),
        )
    }

    fn __repr__(&self) -> String {
        if let Some(p) = &self.inner.positions {
            return format!(
                "Resampler(n_in={}, n_out={}, mode='{}', from positions, outside='{}')",
                self.inner.n_in,
                self.inner.n_out,
                self.inner.mode.name(),
                p.outside.name()
            );
        }
        match self.inner.mode {
            Mode::Subband { start } => format!(
                "Resampler(n_in={}, n_out={}, mode='subband', start={start})",
                self.inner.n_in, self.inner.n_out
            ),
            m => format!(
                "Resampler(n_in={}, n_out={}, mode='{}')",
                self.inner.n_in,
                self.inner.n_out,
                m.name()
            ),
        }
    }
}

fn variance_typed<'py, T: Element + numpy::Element>(
    x: &Bound<'py, PyArrayDyn<T>>,
    axis: isize,
) -> PyResult<Vec<f64>> {
    let readonly = x.readonly();
    let view = readonly.as_array();
    let axis = normalize_axis(axis, view.ndim(), "x")?;
    let n = view.shape()[axis];
    non_empty_axis(n, axis)?;
    detached(x.py(), || {
        let rows = Rows::new(view, axis);
        kernel::subcarrier_variance(rows.as_slice(), n)
    })
}

/// Population variance of each subcarrier over all other axes: `x[..., n, ...] -> float64[n]`.
#[pyfunction]
#[pyo3(signature = (x, axis = -1))]
fn subcarrier_variance<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    axis: isize,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let var = dispatch_float_or_complex!(x, "x", variance_typed(axis))?;
    Ok(var.into_pyarray(py))
}

/// Indices of the `k` highest-variance subcarriers, ascending, ties to the lower index.
#[pyfunction]
#[pyo3(signature = (x, k, axis = -1))]
fn select_subcarriers_by_variance<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    k: usize,
    axis: isize,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let var = dispatch_float_or_complex!(x, "x", variance_typed(axis))?;
    let chosen = kernel::top_k_by_variance(&var, k)?;
    Ok(chosen
        .into_iter()
        .map(|i| i as i64)
        .collect::<Vec<_>>()
        .into_pyarray(py))
}

fn phase_typed<'py, R: Real + Element + numpy::Element>(
    x: &Bound<'py, PyArrayDyn<R>>,
    axis: isize,
    tones: Option<&[f64]>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = x.py();
    let readonly = x.readonly();
    let view = readonly.as_array();
    let axis = normalize_axis(axis, view.ndim(), "phase")?;
    let n = view.shape()[axis];
    let out = detached(py, || {
        let rows = Rows::new(view, axis);
        let values = match tones {
            None => kernel::unwrap_phase(rows.as_slice(), n),
            Some(t) => {
                kernel::check_tones(t, n)?;
                kernel::sanitize_phase(rows.as_slice(), t)?
            }
        };
        rows.restore(values, n)
    })?;
    Ok(out.into_pyarray(py).into_any())
}

/// Unwraps phase along `axis` exactly as `np.unwrap` does.
#[pyfunction]
#[pyo3(signature = (phase, axis = -1))]
fn unwrap_phase<'py>(phase: &Bound<'py, PyAny>, axis: isize) -> PyResult<Bound<'py, PyAny>> {
    dispatch_real!(phase, "phase", phase_typed(axis, None))
}

/// Unwraps phase along `axis` and removes the least-squares line over `tones`.
#[pyfunction]
#[pyo3(signature = (phase, tones, axis = -1))]
fn sanitize_phase<'py>(
    phase: &Bound<'py, PyAny>,
    tones: Vec<f64>,
    axis: isize,
) -> PyResult<Bound<'py, PyAny>> {
    dispatch_real!(phase, "phase", phase_typed(axis, Some(&tones)))
}

/// Values below which an in-place frame kernel runs on the calling thread
/// (without the GIL): handing a DataLoader batch of 64 MM-Fi frames (219k
/// values, ~50 us of work) to the pool would cost about as much again.
const INLINE_VALUES: usize = 1 << 20;

/// Frames per parallel task of the in-place frame kernels.
const FRAMES_PER_TASK: usize = 64;

/// Runs `kernel(frame, packets)` on every frame `x[f]` (`[R, S, P]`, C order) of a
/// writeable float32 array `x: [F, R, S, P]`, in place.
fn frames_in_place(
    x: &Bound<'_, PyAny>,
    kernel: impl Fn(&mut [f32], usize) + Copy + Send + Sync,
) -> PyResult<()> {
    let py = x.py();
    let a = x
        .cast::<PyArrayDyn<f32>>()
        .map_err(|_| dtype_error(x, "x", "a float32 numpy array"))?;
    let mut rw = a.try_readwrite().map_err(|_| {
        CoreError::argument(
            "x",
            "expected a writeable array that nothing else borrows (it is changed in place)",
        )
    })?;
    let mut view: ArrayViewMutD<'_, f32> = rw.as_array_mut();
    if view.ndim() != 4 {
        return Err(CoreError::shape(
            "x",
            "float32[F, R, S, P] (frames, rx, subcarriers, packets)",
            describe(view.shape()),
        )
        .into());
    }
    if view.is_empty() {
        return Ok(());
    }
    if !view.index_axis(Axis(0), 0).is_standard_layout() {
        return Err(CoreError::shape(
            "x",
            "frames [R, S, P] in C order (any stride between frames)",
            format!("strides {:?} (elements)", view.strides()),
        )
        .into());
    }
    let packets = view.shape()[3];
    let run = move |mut frames: ArrayViewMutD<'_, f32>| {
        let slices = frames.outer_iter_mut().map(|f| {
            f.into_slice()
                .expect("each frame was checked to be C-contiguous")
        });
        slices.for_each(|f| kernel(f, packets));
    };
    if view.len() <= INLINE_VALUES {
        py.detach(|| run(view));
        return Ok(());
    }
    detached(py, || {
        view.axis_chunks_iter_mut(Axis(0), FRAMES_PER_TASK)
            .into_par_iter()
            .for_each(|chunk| {
                if !crate::parallel::interrupted() {
                    run(chunk);
                }
            });
        Ok(())
    })
}

/// MM-Fi's official amplitude cleaning of `x: float32[F, R, S, P]`, in place.
#[pyfunction]
fn clean_mmfi_amplitude(x: &Bound<'_, PyAny>) -> PyResult<()> {
    frames_in_place(x, kernel::clean_amplitude)
}

/// MM-Fi's per-packet non-finite fill of `x: float32[F, R, S, P]`, in place.
#[pyfunction]
fn fill_packet_mean(x: &Bound<'_, PyAny>) -> PyResult<()> {
    frames_in_place(x, kernel::fill_packet_mean)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(clean_mmfi_amplitude, m)?)?;
    m.add_function(wrap_pyfunction!(fill_packet_mean, m)?)?;
    m.add_class::<PyResampler>()?;
    m.add_function(wrap_pyfunction!(subcarrier_variance, m)?)?;
    m.add_function(wrap_pyfunction!(select_subcarriers_by_variance, m)?)?;
    m.add_function(wrap_pyfunction!(unwrap_phase, m)?)?;
    m.add_function(wrap_pyfunction!(sanitize_phase, m)?)?;
    Ok(())
}
