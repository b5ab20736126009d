//! Subcarrier resampling, variance selection and phase sanitising.
//!
//! A resampling from `n_in` to `n_out` subcarriers is a fixed sparse linear
//! operator `W` (`n_out x n_in`, CSR) built once and applied to every row of
//! CSI along the subcarrier axis. Rows are processed in fixed-size blocks on
//! the csipose pool; every output value depends on its own row only, so the
//! result is bit-identical for any thread count.

#[cfg(target_arch = "x86_64")]
use std::any::TypeId;
use std::f64::consts::PI;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

use num_complex::Complex;
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use crate::element::as_f32;
use crate::element::{Element, Real};
use crate::error::{CoreError, CoreResult};

/// Rows per parallel task: large enough to amortise scheduling, small enough
/// to balance two to a few dozen threads.
const ROWS_PER_TASK: usize = 2048;

/// How a resampler places output subcarriers on the input grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Align-corners linear interpolation: output `k` sits at
    /// `k (n_in - 1) / (n_out - 1)`.
    Linear,
    /// Bin averaging over `[floor(k n_in / n_out), ceil((k + 1) n_in / n_out))`.
    Area,
    /// A contiguous block of `n_out` native tones starting at `start`.
    Subband { start: usize },
}

impl Mode {
    /// Parses the Python-facing mode name; `start` only applies to `subband`.
    pub fn parse(name: &str, start: Option<usize>) -> CoreResult<Mode> {
        match (name, start) {
            ("linear", None) => Ok(Mode::Linear),
            ("area", None) => Ok(Mode::Area),
            ("subband", s) => Ok(Mode::Subband {
                start: s.unwrap_or(0),
            }),
            ("linear" | "area", Some(_)) => Err(CoreError::argument(
                "start",
                format!("only mode='subband' takes a start tone, not mode={name:?}"),
            )),
            _ => Err(CoreError::argument(
                "mode",
                format!("expected one of 'linear', 'area', 'subband', got {name:?}"),
            )),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Mode::Linear => "linear",
            Mode::Area => "area",
            Mode::Subband { .. } => "subband",
        }
    }
}

/// What to do with NaN and +-inf in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NanPolicy {
    /// IEEE arithmetic: a non-finite input tap makes its outputs non-finite.
    Propagate,
    /// Refuse input holding any non-finite value.
    Raise,
    /// Python's `nan="fill"`, a row-mean fill: each non-finite value becomes
    /// the mean (in f64) of the finite values of its own row, i.e. the values
    /// along the subcarrier axis that share every other index (for MM-Fi
    /// frames: one antenna in one packet); a row with none becomes zeros.
    /// This is not MM-Fi's official cleaning fill, which averages a packet's
    /// whole (antenna, subcarrier) slice (`csipose.data.cleaning`).
    RowMeanFill,
}

impl NanPolicy {
    pub fn parse(name: &str) -> CoreResult<NanPolicy> {
        match name {
            "propagate" => Ok(NanPolicy::Propagate),
            "raise" => Ok(NanPolicy::Raise),
            "fill" => Ok(NanPolicy::RowMeanFill),
            _ => Err(CoreError::argument(
                "nan",
                format!("expected one of 'propagate', 'raise', 'fill', got {name:?}"),
            )),
        }
    }
}

/// Where a target position outside the source span `[source[0], source[last]]`
/// goes, for resamplers built from positions ([`Resampler::from_positions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outside {
    /// One tap, weight 1, on the nearer end tone (the value is held flat).
    Nearest,
    /// An argument error naming `target_indices`, the first target outside and the span.
    Refuse,
}

impl Outside {
    pub fn parse(name: &str) -> CoreResult<Outside> {
        match name {
            "nearest" => Ok(Outside::Nearest),
            "refuse" => Ok(Outside::Refuse),
            _ => Err(CoreError::argument(
                "outside",
                format!("expected one of 'nearest', 'refuse', got {name:?}"),
            )),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Outside::Nearest => "nearest",
            Outside::Refuse => "refuse",
        }
    }
}

/// The positions a resampler built by [`Resampler::from_positions`] maps between.
#[derive(Debug, Clone, PartialEq)]
pub struct Positions {
    pub source: Vec<f64>,
    pub target: Vec<f64>,
    pub outside: Outside,
}

/// The sparse resampling operator `W` (`n_out x n_in`) in CSR form.
#[derive(Debug, Clone, PartialEq)]
pub struct Resampler {
    pub n_in: usize,
    pub n_out: usize,
    pub mode: Mode,
    /// Row `k` of `W` holds taps `indptr[k]..indptr[k + 1]`.
    pub indptr: Vec<usize>,
    pub indices: Vec<usize>,
    pub weights: Vec<f64>,
    /// The source and target positions, for an operator built by
    /// [`Resampler::from_positions`]; None for one built by [`Resampler::new`].
    pub positions: Option<Positions>,
}

impl Resampler {
    pub fn new(n_in: usize, n_out: usize, mode: Mode) -> CoreResult<Resampler> {
        if n_in < 1 {
            return Err(CoreError::argument(
                "n_in",
                format!("need at least 1 input subcarrier, got {n_in}"),
            ));
        }
        if n_out < 1 {
            return Err(CoreError::argument(
                "n_out",
                format!("need at least 1 output subcarrier, got {n_out}"),
            ));
        }
        let mut taps: Vec<Vec<(usize, f64)>> = Vec::with_capacity(n_out);
        match mode {
            Mode::Linear => {
                for k in 0..n_out {
                    let p = if n_out == 1 {
                        0.0
                    } else {
                        k as f64 * (n_in - 1) as f64 / (n_out - 1) as f64
                    };
                    let i0 = (p.floor() as usize).min(n_in - 1);
                    let frac = p - i0 as f64;
                    if i0 == n_in - 1 || frac == 0.0 {
                        taps.push(vec![(i0, 1.0)]);
                    } else {
                        taps.push(vec![(i0, 1.0 - frac), (i0 + 1, frac)]);
                    }
                }
            }
            Mode::Area => {
                for k in 0..n_out {
                    let lo = k * n_in / n_out;
                    let hi = ((k + 1) * n_in).div_ceil(n_out);
                    let w = 1.0 / (hi - lo) as f64;
                    taps.push((lo..hi).map(|i| (i, w)).collect());
                }
            }
            Mode::Subband { start } => {
                if n_out > n_in || start > n_in - n_out {
                    return Err(CoreError::argument(
                        "start",
                        format!(
                            "a block of {n_out} tones starting at tone {start} does not fit in {n_in} subcarriers (start must be in 0..={})",
                            n_in.saturating_sub(n_out)
                        ),
                    ));
                }
                for k in 0..n_out {
                    taps.push(vec![(start + k, 1.0)]);
                }
            }
        }
        Ok(Resampler::from_taps(n_in, mode, taps, None))
    }

    /// The CSR operator of `taps` (one list of `(input, weight)` per output).
    fn from_taps(
        n_in: usize,
        mode: Mode,
        taps: Vec<Vec<(usize, f64)>>,
        positions: Option<Positions>,
    ) -> Resampler {
        let n_out = taps.len();
        let mut indptr = Vec::with_capacity(n_out + 1);
        let mut indices = Vec::new();
        let mut weights = Vec::new();
        indptr.push(0);
        for row in taps {
            for (i, w) in row {
                indices.push(i);
                weights.push(w);
            }
            indptr.push(indices.len());
        }
        Resampler {
            n_in,
            n_out,
            mode,
            indptr,
            indices,
            weights,
            positions,
        }
    }

    /// The operator from tones at `source` positions (signed subcarrier indices,
    /// any spacing, gaps allowed) to tones at `target` positions.
    ///
    /// `source` must be finite and strictly increasing (at least 1 position);
    /// `target` must be finite (at least 1), in any order: output `k` is the
    /// value at `target[k]`. The span is `[source[0], source[last]]`.
    ///
    /// - [`Mode::Linear`]: a target inside the span takes the two neighbouring
    ///   source tones `i, i + 1` (`source[i] < t < source[i + 1]`) with weights
    ///   `1 - f` and `f`, `f = (t - source[i]) / (source[i + 1] - source[i])`;
    ///   a target on a source tone takes that tone alone (weight 1). Applied to
    ///   data, a weight that is zero in the data's precision leaves its tap out,
    ///   so a non-finite neighbour cannot leak in through `0 * inf`.
    /// - [`Mode::Area`]: the distinct target positions, sorted, cut the line into
    ///   bins at the midpoints `(a + b) / 2` of neighbours; the first bin starts
    ///   half the first spacing below the first target (`t0 - (t1 - t0) / 2`), the
    ///   last ends half the last spacing above the last one, and a single distinct
    ///   target owns the whole span. Each bin is `[lo, hi)`, the last one `[lo, hi]`.
    ///   Output `k` is the mean of the source tones whose position lies in the bin
    ///   of `target[k]` (equal targets share one bin, so one value); a bin holding no
    ///   source tone takes the linear value at its target instead.
    ///
    /// `outside` applies to targets outside the span: [`Outside::Refuse`] refuses
    /// any, in either mode; [`Outside::Nearest`] gives a linear value outside the
    /// span one tap on the nearer end tone (area bins are unaffected).
    pub fn from_positions(
        source: &[f64],
        target: &[f64],
        mode: Mode,
        outside: Outside,
    ) -> CoreResult<Resampler> {
        if source.is_empty() {
            return Err(CoreError::argument(
                "source_indices",
                "need at least 1 source subcarrier, got none",
            ));
        }
        if target.is_empty() {
            return Err(CoreError::argument(
                "target_indices",
                "need at least 1 target subcarrier, got none",
            ));
        }
        if let Some(i) = source.iter().position(|v| !v.is_finite()) {
            return Err(CoreError::argument(
                "source_indices",
                format!("positions must be finite, got {} at index {i}", source[i]),
            ));
        }
        if let Some(i) = (1..source.len()).find(|&i| source[i] <= source[i - 1]) {
            return Err(CoreError::argument(
                "source_indices",
                format!(
                    "positions must be strictly increasing, got {} after {} at index {i}",
                    source[i],
                    source[i - 1]
                ),
            ));
        }
        if let Some(i) = target.iter().position(|v| !v.is_finite()) {
            return Err(CoreError::argument(
                "target_indices",
                format!("positions must be finite, got {} at index {i}", target[i]),
            ));
        }
        let (first, last) = (source[0], source[source.len() - 1]);
        if outside == Outside::Refuse {
            if let Some(i) = target.iter().position(|&t| t < first || t > last) {
                return Err(CoreError::argument(
                    "target_indices",
                    format!(
                        "target {} (index {i}) is outside the source span [{first}, {last}] with outside='refuse'",
                        target[i]
                    ),
                ));
            }
        }
        let taps: Vec<Vec<(usize, f64)>> = match mode {
            Mode::Linear => target.iter().map(|&t| linear_taps(source, t)).collect(),
            Mode::Area => area_taps(source, target),
            Mode::Subband { .. } => {
                return Err(CoreError::argument(
                    "mode",
                    "a resampler from positions takes 'linear' or 'area', not 'subband'",
                ))
            }
        };
        let positions = Positions {
            source: source.to_vec(),
            target: target.to_vec(),
            outside,
        };
        Ok(Resampler::from_taps(
            source.len(),
            mode,
            taps,
            Some(positions),
        ))
    }

    /// True when every row is one tap of weight 1 or two taps on neighbouring
    /// inputs `i, i + 1`: the shape the linear fast paths assume.
    fn is_adjacent(&self) -> bool {
        self.n_in >= 2
            && (0..self.n_out).all(|k| {
                let (lo, hi) = (self.indptr[k], self.indptr[k + 1]);
                match hi - lo {
                    1 => self.weights[lo] == 1.0,
                    2 => self.indices[lo + 1] == self.indices[lo] + 1,
                    _ => false,
                }
            })
    }

    /// Applies `W` to every row of `x` (rows of length `n_in`, back to back),
    /// returning rows of length `n_out`.
    pub fn apply<T: Element>(&self, x: &[T], nan: NanPolicy) -> CoreResult<Vec<T>> {
        let n_rows = self.check_rows(x, nan)?;
        let len = n_rows * self.n_out;
        let mut out: Vec<T> = Vec::with_capacity(len);
        crate::memory::advise_huge_pages(out.spare_capacity_mut());
        self.apply_into(x, &mut out.spare_capacity_mut()[..len], nan)?;
        // SAFETY: apply_into wrote every one of the `len` values.
        unsafe { out.set_len(len) };
        Ok(out)
    }

    /// Like [`Resampler::apply`], writing into `out` (`n_rows * n_out` values,
    /// possibly uninitialised). Every value of `out` is written on success.
    pub fn apply_into<T: Element>(
        &self,
        x: &[T],
        out: &mut [MaybeUninit<T>],
        nan: NanPolicy,
    ) -> CoreResult<()> {
        let n_rows = self.check_rows(x, nan)?;
        if out.len() != n_rows * self.n_out {
            return Err(CoreError::shape(
                "out",
                format!(
                    "{} values ({n_rows} rows of {})",
                    n_rows * self.n_out,
                    self.n_out
                ),
                format!("{} values", out.len()),
            ));
        }
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            if let (Some(xf), Some(of), Some(plan)) =
                (as_f32(x), as_f32_out(out), avx2::LinearPlan::new(self))
            {
                // SAFETY: the CPU supports AVX2, checked above; the plan was
                // built for this operator's n_in and n_out.
                self.for_each_block(xf, of, nan, |rows_in, rows_out| unsafe {
                    plan.run(rows_in, rows_out)
                });
                return Ok(());
            }
        }
        let kernel = RowKernel::new(self);
        self.for_each_block(x, out, nan, |rows_in, rows_out| {
            for (row_out, row_in) in rows_out
                .chunks_exact_mut(self.n_out)
                .zip(rows_in.chunks_exact(self.n_in))
            {
                kernel.run(row_in, row_out);
            }
        });
        Ok(())
    }

    /// Runs `rows(x_rows, out_rows)` over blocks of [`ROWS_PER_TASK`] rows,
    /// on the current pool when there is more than one block. With the row
    /// fill, a row holding a non-finite value goes alone, filled, instead.
    fn for_each_block<T: Element>(
        &self,
        x: &[T],
        out: &mut [MaybeUninit<T>],
        nan: NanPolicy,
        rows: impl Fn(&[T], &mut [MaybeUninit<T>]) + Sync,
    ) {
        let fill = nan == NanPolicy::RowMeanFill;
        let block = |out_block: &mut [MaybeUninit<T>], x_block: &[T]| {
            if crate::parallel::interrupted() {
                return;
            }
            if !fill {
                rows(x_block, out_block);
                return;
            }
            let mut scratch = vec![T::zero(); self.n_in];
            for (row_out, row_in) in out_block
                .chunks_exact_mut(self.n_out)
                .zip(x_block.chunks_exact(self.n_in))
            {
                if row_in.iter().all(|v| v.is_finite()) {
                    rows(row_in, row_out);
                } else {
                    fill_row(row_in, &mut scratch);
                    rows(&scratch, row_out);
                }
            }
        };
        if x.len() <= ROWS_PER_TASK * self.n_in {
            // one block: no thread hand-off (this is the DataLoader batch case)
            block(out, x);
        } else {
            out.par_chunks_mut(ROWS_PER_TASK * self.n_out)
                .zip(x.par_chunks(ROWS_PER_TASK * self.n_in))
                .for_each(|(out_block, x_block)| block(out_block, x_block));
        }
    }

    /// True when resampling `x` (rows of `n_in`) fits in one block, which
    /// [`Resampler::apply`] runs on the calling thread.
    pub fn is_single_block(&self, len: usize) -> bool {
        len <= ROWS_PER_TASK * self.n_in
    }

    /// Validates the input length and the `raise` policy; returns the row count.
    fn check_rows<T: Element>(&self, x: &[T], nan: NanPolicy) -> CoreResult<usize> {
        if x.len() % self.n_in != 0 {
            return Err(CoreError::shape(
                "x",
                format!("rows of {} subcarriers", self.n_in),
                format!("{} values", x.len()),
            ));
        }
        if nan == NanPolicy::Raise {
            if let Some(pos) = first_non_finite(x) {
                return Err(CoreError::non_finite(
                    "x",
                    format!(
                        "found a non-finite value at row {}, subcarrier {} with nan='raise'",
                        pos / self.n_in,
                        pos % self.n_in
                    ),
                ));
            }
        }
        Ok(x.len() / self.n_in)
    }
}

/// Linear taps at position `t` over strictly increasing `source`; outside the
/// span, one tap on the nearer end tone.
fn linear_taps(source: &[f64], t: f64) -> Vec<(usize, f64)> {
    let last = source.len() - 1;
    if t <= source[0] {
        return vec![(0, 1.0)];
    }
    if t >= source[last] {
        return vec![(last, 1.0)];
    }
    // source[0] < t < source[last]: 1 <= j <= last, source[j - 1] <= t < source[j]
    let i = source.partition_point(|&s| s <= t) - 1;
    if source[i] == t {
        return vec![(i, 1.0)];
    }
    let f = (t - source[i]) / (source[i + 1] - source[i]);
    vec![(i, 1.0 - f), (i + 1, f)]
}

/// The area taps of [`Resampler::from_positions`]: bins between the midpoints
/// of the distinct sorted targets; an empty bin takes the linear taps.
fn area_taps(source: &[f64], target: &[f64]) -> Vec<Vec<(usize, f64)>> {
    let mut sorted = target.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    let m = sorted.len();
    let (first, last) = (source[0], source[source.len() - 1]);
    let bin = |j: usize| -> (f64, f64, bool) {
        if m == 1 {
            return (first, last, true);
        }
        let lo = if j == 0 {
            sorted[0] - (sorted[1] - sorted[0]) / 2.0
        } else {
            (sorted[j - 1] + sorted[j]) / 2.0
        };
        let hi = if j == m - 1 {
            sorted[m - 1] + (sorted[m - 1] - sorted[m - 2]) / 2.0
        } else {
            (sorted[j] + sorted[j + 1]) / 2.0
        };
        (lo, hi, j == m - 1)
    };
    let per_bin: Vec<Vec<(usize, f64)>> = (0..m)
        .map(|j| {
            let (lo, hi, closed) = bin(j);
            let start = source.partition_point(|&s| s < lo);
            let end = if closed {
                source.partition_point(|&s| s <= hi)
            } else {
                source.partition_point(|&s| s < hi)
            };
            if end > start {
                let w = 1.0 / (end - start) as f64;
                (start..end).map(|i| (i, w)).collect()
            } else {
                linear_taps(source, sorted[j])
            }
        })
        .collect();
    target
        .iter()
        .map(|t| {
            let j = sorted.partition_point(|s| s < t);
            per_bin[j].clone()
        })
        .collect()
}

/// The per-row loop of one resampler, specialised by the shape of its taps.
enum RowKernel<'a, R> {
    /// A contiguous block of input tones: a copy.
    Block { start: usize },
    /// Linear interpolation: output `k` blends inputs `i0[k]` and `i0[k] + 1`.
    /// Outputs that sit exactly on an input tone are listed in `exact` and
    /// copied afterwards, so a lone non-finite input is never turned into NaN
    /// by a `0 * inf` tap.
    Adjacent {
        i0: Vec<usize>,
        w0: Vec<R>,
        w1: Vec<R>,
        exact: Vec<(usize, usize)>,
        n_in: usize,
    },
    /// Any sparse row: the CSR arrays, less the taps whose weight is zero in `R`.
    Sparse {
        indptr: Vec<usize>,
        indices: Vec<usize>,
        weights: Vec<R>,
        op: PhantomData<&'a Resampler>,
    },
}

impl<'a, R: Real> RowKernel<'a, R> {
    fn new(op: &'a Resampler) -> Self {
        let real = |w: f64| R::from_f64(w).unwrap_or_else(R::nan);
        match op.mode {
            Mode::Subband { start } => RowKernel::Block { start },
            Mode::Linear if op.is_adjacent() => {
                let (mut i0, mut w0, mut w1, mut exact) = (vec![], vec![], vec![], vec![]);
                for k in 0..op.n_out {
                    let (lo, hi) = (op.indptr[k], op.indptr[k + 1]);
                    let i = op.indices[lo];
                    // a weight that is zero in `R` (a target within R's
                    // precision of a tone) makes the row a copy of the other tap
                    let (a, b) = if hi - lo == 2 {
                        (real(op.weights[lo]), real(op.weights[lo + 1]))
                    } else {
                        (R::one(), R::zero())
                    };
                    if a != R::zero() && b != R::zero() {
                        i0.push(i);
                        w0.push(a);
                        w1.push(b);
                    } else {
                        let i = if b == R::zero() { i } else { i + 1 };
                        exact.push((k, i));
                        // any in-range pair; the output is overwritten from `exact`
                        i0.push(i.min(op.n_in - 2));
                        w0.push(R::zero());
                        w1.push(R::zero());
                    }
                }
                RowKernel::Adjacent {
                    i0,
                    w0,
                    w1,
                    exact,
                    n_in: op.n_in,
                }
            }
            Mode::Linear | Mode::Area => RowKernel::sparse(op),
        }
    }

    /// The CSR rows of `op`, less the taps whose weight is zero in `R`, so a
    /// non-finite tone cannot leak in through `0 * inf`; every row keeps one
    /// (its weights sum to 1).
    fn sparse(op: &'a Resampler) -> Self {
        let (mut indptr, mut indices, mut weights) = (vec![0], vec![], vec![]);
        for k in 0..op.n_out {
            for t in op.indptr[k]..op.indptr[k + 1] {
                let w = R::from_f64(op.weights[t]).unwrap_or_else(R::nan);
                if w != R::zero() {
                    indices.push(op.indices[t]);
                    weights.push(w);
                }
            }
            indptr.push(indices.len());
        }
        RowKernel::Sparse {
            indptr,
            indices,
            weights,
            op: PhantomData,
        }
    }

    #[inline]
    fn run<T: Element<Real = R>>(&self, row_in: &[T], row_out: &mut [MaybeUninit<T>]) {
        match self {
            RowKernel::Block { start } => {
                for (o, &v) in row_out.iter_mut().zip(&row_in[*start..]) {
                    o.write(v);
                }
            }
            RowKernel::Adjacent {
                i0,
                w0,
                w1,
                exact,
                n_in,
            } => {
                assert!(row_in.len() == *n_in && row_out.len() == i0.len());
                for k in 0..i0.len() {
                    // SAFETY: `new` built i0, w0 and w1 with one entry per
                    // output and every `i0[k] + 1 < n_in`; the assertion ties
                    // both rows to those lengths. This loop is the hot path,
                    // and bounds checks halve its speed.
                    unsafe {
                        let i = *i0.get_unchecked(k);
                        let v = *row_in.get_unchecked(i) * *w0.get_unchecked(k)
                            + *row_in.get_unchecked(i + 1) * *w1.get_unchecked(k);
                        row_out.get_unchecked_mut(k).write(v);
                    }
                }
                for &(k, i) in exact {
                    row_out[k].write(row_in[i]);
                }
            }
            RowKernel::Sparse {
                indptr,
                indices,
                weights,
                ..
            } => {
                for (k, o) in row_out.iter_mut().enumerate() {
                    let (lo, hi) = (indptr[k], indptr[k + 1]);
                    let mut acc = row_in[indices[lo]] * weights[lo];
                    for t in lo + 1..hi {
                        acc = acc + row_in[indices[t]] * weights[t];
                    }
                    o.write(acc);
                }
            }
        }
    }
}

/// Flat index of the first non-finite value, searched in parallel.
fn first_non_finite<T: Element>(x: &[T]) -> Option<usize> {
    const BLOCK: usize = 1 << 16;
    if x.len() <= BLOCK {
        return x.iter().position(|v| !v.is_finite());
    }
    x.par_chunks(BLOCK)
        .enumerate()
        .filter_map(|(b, chunk)| {
            chunk
                .iter()
                .position(|v| !v.is_finite())
                .map(|i| b * BLOCK + i)
        })
        .min()
}

/// The row-mean fill of [`NanPolicy::RowMeanFill`]: copies `row` into
/// `scratch` with non-finite values replaced by the mean of the row's finite
/// values (zeros when there are none).
fn fill_row<T: Element>(row: &[T], scratch: &mut [T]) {
    let mut sum = Complex::new(0.0f64, 0.0);
    let mut count = 0usize;
    for v in row.iter().filter(|v| v.is_finite()) {
        sum += v.to_c64();
        count += 1;
    }
    let mean = if count == 0 {
        T::zero()
    } else {
        T::from_c64(sum / count as f64)
    };
    for (s, &v) in scratch.iter_mut().zip(row) {
        *s = if v.is_finite() { v } else { mean };
    }
}

/// `v - v`: 0 for a finite `v`, NaN for NaN or +-inf; a sum of them is NaN
/// exactly when one value is not finite, without a branch.
#[inline(always)]
fn poison(v: f32) -> f32 {
    #[allow(clippy::eq_op)]
    let d = v - v;
    d
}

/// Smallest and largest value of `x`, and whether every value is finite.
/// Sixteen independent lanes let the compiler keep the loop in vector registers.
#[inline(always)]
fn min_max_finite(x: &[f32]) -> (f32, f32, bool) {
    const LANES: usize = 16;
    let mut lo = [f32::INFINITY; LANES];
    let mut hi = [f32::NEG_INFINITY; LANES];
    // v - v is 0 for a finite v and NaN for NaN or +-inf: one NaN poisons its lane.
    let mut poison = [0.0f32; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for chunk in &mut chunks {
        for j in 0..LANES {
            let v = chunk[j];
            lo[j] = if v < lo[j] { v } else { lo[j] };
            hi[j] = if v > hi[j] { v } else { hi[j] };
            poison[j] += self::poison(v);
        }
    }
    let (mut l, mut h, mut p) = tail_min_max(chunks.remainder());
    for j in 0..LANES {
        l = if lo[j] < l { lo[j] } else { l };
        h = if hi[j] > h { hi[j] } else { h };
        p += poison[j];
    }
    (l, h, !p.is_nan() && l.is_finite() && h.is_finite())
}

/// Smallest and largest value of a few values, and the sum of their `v - v`
/// (NaN when one is not finite); `(inf, -inf, 0)` for none.
#[inline(always)]
fn tail_min_max(x: &[f32]) -> (f32, f32, f32) {
    let (mut l, mut h, mut p) = (f32::INFINITY, f32::NEG_INFINITY, 0.0f32);
    for &v in x {
        l = if v < l { v } else { l };
        h = if v > h { v } else { h };
        p += poison(v);
    }
    (l, h, p)
}

/// MM-Fi's official non-finite fill on one frame `[R, S, P]` (C order), in place:
/// for each packet `p`, every NaN or +-inf of the slice `[:, :, p]` (all antennas,
/// all subcarriers) becomes the mean of that slice's finite values, summed in f64;
/// a slice with none becomes zeros.
pub fn fill_packet_mean(frame: &mut [f32], packets: usize) {
    if packets == 0 {
        return;
    }
    let mut sum = vec![0.0f64; packets];
    let mut count = vec![0usize; packets];
    for row in frame.chunks_exact(packets) {
        for ((s, c), &v) in sum.iter_mut().zip(count.iter_mut()).zip(row) {
            if v.is_finite() {
                *s += f64::from(v);
                *c += 1;
            }
        }
    }
    let mean: Vec<f32> = sum
        .iter()
        .zip(&count)
        .map(|(&s, &c)| if c == 0 { 0.0 } else { (s / c as f64) as f32 })
        .collect();
    for row in frame.chunks_exact_mut(packets) {
        for (v, &m) in row.iter_mut().zip(&mean) {
            if !v.is_finite() {
                *v = m;
            }
        }
    }
}

/// MM-Fi's official amplitude cleaning of one frame `[R, S, P]`, in place:
/// [`fill_packet_mean`] when the frame holds a non-finite value, then min-max
/// normalisation to [0, 1] as `(v - min) / (max - min)` in f32; a constant
/// frame becomes zeros. The same f32 operations as the numpy original, so the
/// same bits.
#[inline(always)]
pub fn clean_amplitude_frame(frame: &mut [f32], packets: usize) {
    let (mut lo, mut hi, finite) = min_max_finite(frame);
    if !finite {
        fill_packet_mean(frame, packets);
        (lo, hi, _) = min_max_finite(frame);
    }
    // numpy's `x -= lo; x /= where(span > 0, span, 1)`: dividing by 1 is exact
    let span = hi - lo;
    let divisor = if span > 0.0 { span } else { 1.0 };
    for v in frame.iter_mut() {
        *v = (*v - lo) / divisor;
    }
}

/// True when the CPU runs AVX2 code (checked once, then a cached load).
#[inline]
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// [`clean_amplitude_frame`] in AVX2 when the CPU has it: the same f32
/// operations lane by lane, so the same bits.
pub fn clean_amplitude(frame: &mut [f32], packets: usize) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { avx2::clean_amplitude_frame(frame, packets) };
        return;
    }
    clean_amplitude_frame(frame, packets)
}

/// `out` as f32 slots when `T` is `f32`.
#[cfg(target_arch = "x86_64")]
fn as_f32_out<T: 'static>(out: &mut [MaybeUninit<T>]) -> Option<&mut [MaybeUninit<f32>]> {
    (TypeId::of::<T>() == TypeId::of::<f32>()).then(|| {
        // SAFETY: T is f32, so the slots already are f32 slots.
        unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast(), out.len()) }
    })
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    use super::{Mode, Resampler};

    /// Eight consecutive outputs of a linear resampler, all of whose taps lie in
    /// the 17 inputs `base..base + 17`: output `j` blends input `base + idx[j]`
    /// (lane `idx[j] & 7` of one of two 8-wide loads) with the input after it
    /// (the same lane of the two loads one further on), or copies one of the two.
    struct Group {
        out: usize,
        base: usize,
        lane: [i32; 8],
        /// -1 (all bits) where the tap is in the second load.
        high: [i32; 8],
        w0: [f32; 8],
        w1: [f32; 8],
        /// -1 where the output is a copy of the first (`copy0`) or second
        /// (`copy1`) tap: a one-tap row, never blended, so a non-finite
        /// neighbour cannot leak in through a zero weight.
        copy0: [i32; 8],
        copy1: [i32; 8],
    }

    /// How one output is made: blend `i, i + 1`, or copy `i` or `i + 1`.
    #[derive(Clone, Copy, PartialEq)]
    enum Tap {
        Blend,
        Copy0,
        Copy1,
    }

    /// Eight consecutive outputs of a linear resampler whose taps all lie in
    /// the 9 inputs `base..base + 9`: output `j` blends input `base + lane[j]`
    /// (of one 8-wide load) with the input after it (the same lane of the load
    /// one further on), or copies one of the two. The copy masks ride in sign
    /// bits that the rest ignores: `lane[j]` is negative (the permute reads only
    /// its low 3 bits) where the output copies the first tap, `w1[j]` is -0.0
    /// where it copies the second (a blend's weights are positive).
    struct Narrow {
        out: usize,
        base: usize,
        lane: [i32; 8],
        w0: [f32; 8],
        w1: [f32; 8],
    }

    /// The linear resampler in AVX2 for f32, as a list of 8-output pieces made
    /// once per operator, each as cheap as its outputs allow:
    ///
    /// - `fills`: 8 outputs that copy one input tone (a run of targets beyond
    ///   an end of the source span, with `outside='nearest'`): one broadcast
    ///   and one store;
    /// - `copies`: 8 outputs that copy 8 consecutive input tones: one load and
    ///   one store;
    /// - `narrow`: 8 outputs whose taps lie in 9 inputs: two loads, two lane
    ///   permutes, `x0 * w0 + x1 * w1` and two blends that put the copied
    ///   outputs in place;
    /// - `groups`: 8 outputs whose taps lie in 17 inputs: four loads, four lane
    ///   permutes, two blends, `x0 * w0 + x1 * w1` (two multiplies and an add,
    ///   as the scalar loop, so the same bits) and two blends for the copies.
    ///
    /// A run of 8 or more fills or copies is cut into pieces of 8, the last one
    /// ending with the run (it may overlap the one before it); other outputs go
    /// 8 at a time to a narrow piece or else a group, the last one ending at
    /// `n_out`. Pieces may overlap: every piece gives an output the same bits,
    /// so the order they run in does not matter. Outputs no piece covers run
    /// the scalar formula or are copied, as in the scalar kernel.
    pub struct LinearPlan {
        n_in: usize,
        n_out: usize,
        fills: Vec<(usize, usize)>,
        copies: Vec<(usize, usize)>,
        narrow: Vec<Narrow>,
        groups: Vec<Group>,
        scalar: Vec<(usize, usize, f32, f32)>,
        exact: Vec<(usize, usize)>,
    }

    /// Starts of the 8-output pieces covering a run of `len >= 8` outputs from `at`.
    fn pieces(at: usize, len: usize) -> impl Iterator<Item = usize> {
        (0..len / 8)
            .map(move |p| at + 8 * p)
            .chain((len % 8 != 0).then(|| at + len - 8))
    }

    impl LinearPlan {
        /// The plan of a linear resampler with at least 17 inputs whose rows
        /// are adjacent pairs or single copies; None otherwise.
        pub fn new(op: &Resampler) -> Option<LinearPlan> {
            const SPAN: usize = 17;
            if op.mode != Mode::Linear || op.n_in < SPAN || !op.is_adjacent() {
                return None;
            }
            let (n_in, n_out) = (op.n_in, op.n_out);
            let mut taps = Vec::with_capacity(n_out);
            for k in 0..n_out {
                let (lo, hi) = (op.indptr[k], op.indptr[k + 1]);
                let i = op.indices[lo];
                // a weight that is zero in f32 makes the row a copy of the other tap
                let (w0, w1) = if hi - lo == 2 {
                    (op.weights[lo] as f32, op.weights[lo + 1] as f32)
                } else {
                    (1.0, 0.0)
                };
                if w0 != 0.0 && w1 != 0.0 {
                    taps.push((i, w0, w1, Tap::Blend));
                } else if w0 == 0.0 {
                    taps.push((i, 0.0, 0.0, Tap::Copy1));
                } else if i + 1 < n_in {
                    taps.push((i, 0.0, 0.0, Tap::Copy0));
                } else {
                    taps.push((i - 1, 0.0, 0.0, Tap::Copy1));
                }
            }
            // the input tone a one-tap output copies
            let copied = |k: usize| match taps[k] {
                (_, _, _, Tap::Blend) => None,
                (i, _, _, Tap::Copy0) => Some(i),
                (i, _, _, Tap::Copy1) => Some(i + 1),
            };
            let run = |k: usize, step: usize| {
                let i = copied(k)?;
                Some(
                    (k..n_out)
                        .zip((0..).map(|j| i + step * j))
                        .take_while(|&(m, want)| copied(m) == Some(want))
                        .count(),
                )
            };
            let mut plan = LinearPlan {
                n_in,
                n_out,
                fills: Vec::new(),
                copies: Vec::new(),
                narrow: Vec::new(),
                groups: Vec::new(),
                scalar: Vec::new(),
                exact: Vec::new(),
            };
            let mut covered = vec![false; n_out];
            let mut k = 0;
            while k < n_out && n_out >= 8 {
                let (fill, copy) = (run(k, 0).unwrap_or(0), run(k, 1).unwrap_or(0));
                // (both runs are at least 1 long on a one-tap output, and at
                // most one of them is longer than 1)
                let i = copied(k).unwrap_or(0);
                if fill >= 8 {
                    plan.fills.extend(pieces(k, fill).map(|at| (at, i)));
                    covered[k..k + fill].fill(true);
                    k += fill;
                    continue;
                }
                if copy >= 8 {
                    plan.copies
                        .extend(pieces(k, copy).map(|at| (at, i + at - k)));
                    covered[k..k + copy].fill(true);
                    k += copy;
                    continue;
                }
                let out = k.min(n_out - 8);
                let chunk = &taps[out..out + 8];
                let low = chunk.iter().map(|t| t.0).min().unwrap_or(0);
                let base = low.min(n_in - 9);
                if chunk.iter().all(|t| (base..base + 8).contains(&t.0)) {
                    let mut piece = Narrow {
                        out,
                        base,
                        lane: [0; 8],
                        w0: [0.0; 8],
                        w1: [0.0; 8],
                    };
                    for (j, &(i, w0, w1, tap)) in chunk.iter().enumerate() {
                        let offset = (i - base) as i32;
                        piece.lane[j] = if tap == Tap::Copy0 {
                            offset | i32::MIN
                        } else {
                            offset
                        };
                        piece.w0[j] = w0;
                        piece.w1[j] = if tap == Tap::Copy1 { -0.0 } else { w1 };
                    }
                    plan.narrow.push(piece);
                    covered[out..out + 8].fill(true);
                    k = out + 8;
                    continue;
                }
                let base = low.min(n_in - SPAN);
                if chunk.iter().all(|t| (base..base + 16).contains(&t.0)) {
                    let mut group = Group {
                        out,
                        base,
                        lane: [0; 8],
                        high: [0; 8],
                        w0: [0.0; 8],
                        w1: [0.0; 8],
                        copy0: [0; 8],
                        copy1: [0; 8],
                    };
                    for (j, &(i, w0, w1, tap)) in chunk.iter().enumerate() {
                        let offset = (i - base) as i32;
                        group.lane[j] = offset & 7;
                        group.high[j] = if offset >= 8 { -1 } else { 0 };
                        group.w0[j] = w0;
                        group.w1[j] = w1;
                        group.copy0[j] = if tap == Tap::Copy0 { -1 } else { 0 };
                        group.copy1[j] = if tap == Tap::Copy1 { -1 } else { 0 };
                    }
                    plan.groups.push(group);
                    covered[out..out + 8].fill(true);
                }
                k = out + 8;
            }
            for (k, &(i, w0, w1, tap)) in taps.iter().enumerate() {
                match tap {
                    _ if covered[k] => {}
                    Tap::Blend => plan.scalar.push((k, i, w0, w1)),
                    Tap::Copy0 => plan.exact.push((k, i)),
                    Tap::Copy1 => plan.exact.push((k, i + 1)),
                }
            }
            Some(plan)
        }

        /// How many fills, copies, narrow pieces, groups, scalar blends and
        /// scalar copies the plan holds.
        #[cfg(test)]
        pub fn counts(&self) -> [usize; 6] {
            [
                self.fills.len(),
                self.copies.len(),
                self.narrow.len(),
                self.groups.len(),
                self.scalar.len(),
                self.exact.len(),
            ]
        }

        /// Resamples whole rows: `rows_in` holds rows of `n_in`, `rows_out` as
        /// many rows of `n_out`.
        ///
        /// # Safety
        /// The CPU must support AVX2.
        #[target_feature(enable = "avx2")]
        pub unsafe fn run(&self, rows_in: &[f32], rows_out: &mut [MaybeUninit<f32>]) {
            for (row_in, row_out) in rows_in
                .chunks_exact(self.n_in)
                .zip(rows_out.chunks_exact_mut(self.n_out))
            {
                let src = row_in.as_ptr();
                let dst = row_out.as_mut_ptr().cast::<f32>();
                // SAFETY (pieces): `new` keeps every piece's outputs in
                // `out..out + 8 <= n_out = row_out.len()` and its inputs below
                // n_in = row_in.len(): fills read `src`, copies `src..src + 8`,
                // narrow pieces `base..base + 9`, groups `base..base + 17`.
                // Unaligned loads and stores.
                for &(out, i) in &self.fills {
                    unsafe { _mm256_storeu_ps(dst.add(out), _mm256_set1_ps(*src.add(i))) };
                }
                for &(out, i) in &self.copies {
                    unsafe { _mm256_storeu_ps(dst.add(out), _mm256_loadu_ps(src.add(i))) };
                }
                for n in &self.narrow {
                    unsafe {
                        let p = src.add(n.base);
                        let lane = _mm256_loadu_si256(n.lane.as_ptr().cast());
                        let x0 = _mm256_permutevar8x32_ps(_mm256_loadu_ps(p), lane);
                        let x1 = _mm256_permutevar8x32_ps(_mm256_loadu_ps(p.add(1)), lane);
                        let w0 = _mm256_loadu_ps(n.w0.as_ptr());
                        let w1 = _mm256_loadu_ps(n.w1.as_ptr());
                        let v = _mm256_add_ps(_mm256_mul_ps(x0, w0), _mm256_mul_ps(x1, w1));
                        let v = _mm256_blendv_ps(v, x0, _mm256_castsi256_ps(lane));
                        let v = _mm256_blendv_ps(v, x1, w1);
                        _mm256_storeu_ps(dst.add(n.out), v);
                    }
                }
                for g in &self.groups {
                    unsafe {
                        let p = src.add(g.base);
                        let lane = _mm256_loadu_si256(g.lane.as_ptr().cast());
                        let high = _mm256_castsi256_ps(_mm256_loadu_si256(g.high.as_ptr().cast()));
                        let pick = |at: *const f32| {
                            let a = _mm256_permutevar8x32_ps(_mm256_loadu_ps(at), lane);
                            let b = _mm256_permutevar8x32_ps(_mm256_loadu_ps(at.add(8)), lane);
                            _mm256_blendv_ps(a, b, high)
                        };
                        let (x0, x1) = (pick(p), pick(p.add(1)));
                        let w0 = _mm256_loadu_ps(g.w0.as_ptr());
                        let w1 = _mm256_loadu_ps(g.w1.as_ptr());
                        let v = _mm256_add_ps(_mm256_mul_ps(x0, w0), _mm256_mul_ps(x1, w1));
                        let copy0 =
                            _mm256_castsi256_ps(_mm256_loadu_si256(g.copy0.as_ptr().cast()));
                        let copy1 =
                            _mm256_castsi256_ps(_mm256_loadu_si256(g.copy1.as_ptr().cast()));
                        let v = _mm256_blendv_ps(_mm256_blendv_ps(v, x0, copy0), x1, copy1);
                        _mm256_storeu_ps(dst.add(g.out), v);
                    }
                }
                for &(k, i, w0, w1) in &self.scalar {
                    row_out[k].write(row_in[i] * w0 + row_in[i + 1] * w1);
                }
                for &(k, i) in &self.exact {
                    row_out[k].write(row_in[i]);
                }
            }
        }
    }

    /// [`super::min_max_finite`] with two 8-lane accumulators.
    #[target_feature(enable = "avx2")]
    unsafe fn min_max_finite(x: &[f32]) -> (f32, f32, bool) {
        let mut lo = [_mm256_set1_ps(f32::INFINITY); 2];
        let mut hi = [_mm256_set1_ps(f32::NEG_INFINITY); 2];
        let mut poison = [_mm256_setzero_ps(); 2];
        let mut chunks = x.chunks_exact(16);
        for c in &mut chunks {
            for (j, half) in [0usize, 8].into_iter().enumerate() {
                // SAFETY: `c` holds 16 values; unaligned loads.
                let v = unsafe { _mm256_loadu_ps(c.as_ptr().add(half)) };
                // min_ps(v, lo) is `v < lo ? v : lo`, as the scalar loop
                lo[j] = _mm256_min_ps(v, lo[j]);
                hi[j] = _mm256_max_ps(v, hi[j]);
                poison[j] = _mm256_add_ps(poison[j], _mm256_sub_ps(v, v));
            }
        }
        let mut lanes = [[0.0f32; 8]; 6];
        for j in 0..2 {
            // SAFETY: each destination holds 8 values.
            unsafe {
                _mm256_storeu_ps(lanes[j].as_mut_ptr(), lo[j]);
                _mm256_storeu_ps(lanes[2 + j].as_mut_ptr(), hi[j]);
                _mm256_storeu_ps(lanes[4 + j].as_mut_ptr(), poison[j]);
            }
        }
        let (l, h, p) = super::tail_min_max(chunks.remainder());
        let l = lanes[..2]
            .iter()
            .flatten()
            .fold(l, |a, &v| if v < a { v } else { a });
        let h = lanes[2..4]
            .iter()
            .flatten()
            .fold(h, |a, &v| if v > a { v } else { a });
        let p = lanes[4..].iter().flatten().fold(p, |a, &v| a + v);
        (l, h, !p.is_nan() && l.is_finite() && h.is_finite())
    }

    /// [`super::clean_amplitude_frame`] in 8-lane vectors.
    #[target_feature(enable = "avx2")]
    pub unsafe fn clean_amplitude_frame(frame: &mut [f32], packets: usize) {
        // SAFETY (whole body): AVX2 is enabled; loads and stores stay inside `frame`.
        let (mut lo, mut hi, finite) = unsafe { min_max_finite(frame) };
        if !finite {
            super::fill_packet_mean(frame, packets);
            (lo, hi, _) = unsafe { min_max_finite(frame) };
        }
        let span = hi - lo;
        let divisor = if span > 0.0 { span } else { 1.0 };
        let (vlo, vdiv) = (_mm256_set1_ps(lo), _mm256_set1_ps(divisor));
        let mut chunks = frame.chunks_exact_mut(8);
        for c in &mut chunks {
            unsafe {
                let v = _mm256_loadu_ps(c.as_ptr());
                _mm256_storeu_ps(c.as_mut_ptr(), _mm256_div_ps(_mm256_sub_ps(v, vlo), vdiv));
            }
        }
        for v in chunks.into_remainder() {
            *v = (*v - lo) / divisor;
        }
    }
}

/// Population variance of each of the `n` columns of `x` (rows back to back),
/// in float64, two-pass. Complex values use `|x - mean|^2`.
pub fn subcarrier_variance<T: Element>(x: &[T], n: usize) -> CoreResult<Vec<f64>> {
    if n == 0 || x.is_empty() {
        return Err(CoreError::shape(
            "x",
            "at least one value per subcarrier",
            "an empty array",
        ));
    }
    if let Some(pos) = first_non_finite(x) {
        return Err(CoreError::non_finite(
            "x",
            format!(
                "found a non-finite value at row {}, subcarrier {}; variance needs finite input",
                pos / n,
                pos % n
            ),
        ));
    }
    let n_rows = x.len() / n;
    let block = ROWS_PER_TASK * n;
    // Fixed blocks summed in block order: identical for any thread count.
    let partial_sums: Vec<Vec<Complex<f64>>> = x
        .par_chunks(block)
        .map(|chunk| {
            let mut s = vec![Complex::new(0.0, 0.0); n];
            for row in chunk.chunks_exact(n) {
                for (acc, v) in s.iter_mut().zip(row) {
                    *acc += v.to_c64();
                }
            }
            s
        })
        .collect();
    let mut mean = vec![Complex::new(0.0, 0.0); n];
    for s in &partial_sums {
        for (m, v) in mean.iter_mut().zip(s) {
            *m += v;
        }
    }
    for m in mean.iter_mut() {
        *m /= n_rows as f64;
    }
    let partial_sq: Vec<Vec<f64>> = x
        .par_chunks(block)
        .map(|chunk| {
            let mut s = vec![0.0; n];
            for row in chunk.chunks_exact(n) {
                for ((acc, v), m) in s.iter_mut().zip(row).zip(&mean) {
                    *acc += (v.to_c64() - m).norm_sqr();
                }
            }
            s
        })
        .collect();
    let mut var = vec![0.0; n];
    for s in &partial_sq {
        for (acc, v) in var.iter_mut().zip(s) {
            *acc += v;
        }
    }
    for v in var.iter_mut() {
        *v /= n_rows as f64;
    }
    Ok(var)
}

/// Indices of the `k` largest variances, ties to the lower index, returned ascending.
pub fn top_k_by_variance(variance: &[f64], k: usize) -> CoreResult<Vec<usize>> {
    let n = variance.len();
    if k < 1 || k > n {
        return Err(CoreError::argument(
            "k",
            format!("expected 1 <= k <= {n} (the number of subcarriers), got {k}"),
        ));
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| variance[b].total_cmp(&variance[a]).then(a.cmp(&b)));
    let mut chosen = order[..k].to_vec();
    chosen.sort_unstable();
    Ok(chosen)
}

/// Floor modulo with a positive divisor, as numpy's `np.mod` computes it.
#[inline]
fn floor_mod<R: Real>(a: R, b: R) -> R {
    let m = a % b;
    if m != R::zero() && m < R::zero() {
        m + b
    } else {
        m
    }
}

/// Unwraps one row of phase in place, exactly as `np.unwrap` with its defaults
/// (period 2 pi, discontinuity pi) does, in the row's own precision.
pub fn unwrap_row<R: Real>(row: &mut [R]) {
    let pi = R::from_f64(PI).expect("pi converts");
    let period = R::from_f64(2.0 * PI).expect("2 pi converts");
    let mut correction = R::zero();
    let mut prev = match row.first() {
        Some(&v) => v,
        None => return,
    };
    for v in row.iter_mut().skip(1) {
        let cur = *v;
        let dd = cur - prev;
        // np.unwrap corrects only jumps of at least pi (and lets NaN spread);
        // the modulo is the expensive part, so it runs only for those.
        if dd.is_nan() || dd.abs() >= pi {
            let mut ddmod = floor_mod(dd + pi, period) - pi;
            if ddmod == -pi && dd > R::zero() {
                ddmod = pi;
            }
            correction = correction + (ddmod - dd);
        }
        *v = cur + correction;
        prev = cur;
    }
}

/// Unwraps every row of `x` (rows of length `n`, back to back).
pub fn unwrap_phase<R: Real>(x: &[R], n: usize) -> Vec<R> {
    let mut out = x.to_vec();
    if n > 0 {
        out.par_chunks_mut(ROWS_PER_TASK * n).for_each(|block| {
            if crate::parallel::interrupted() {
                return;
            }
            for row in block.chunks_exact_mut(n) {
                unwrap_row(row);
            }
        });
    }
    out
}

/// Checks tone positions for the phase line fit: `n` finite values, not all equal.
pub fn check_tones(tones: &[f64], n: usize) -> CoreResult<()> {
    if tones.len() != n {
        return Err(CoreError::shape(
            "tones",
            format!("one position per subcarrier ({n})"),
            format!("{} positions", tones.len()),
        ));
    }
    if tones.iter().any(|t| !t.is_finite()) {
        return Err(CoreError::non_finite("tones", "positions must be finite"));
    }
    if n >= 2 && tones.iter().all(|&t| t == tones[0]) {
        return Err(CoreError::argument(
            "tones",
            "positions must not all be equal: a line cannot be fitted",
        ));
    }
    Ok(())
}

/// Unwraps each row and removes its least-squares line over `tones`
/// (the linear phase error of timing offset; a constant offset for one tone).
pub fn sanitize_phase<R: Real>(x: &[R], tones: &[f64]) -> CoreResult<Vec<R>> {
    let n = tones.len();
    check_tones(tones, n)?;
    let mut out = x.to_vec();
    if n == 0 {
        return Ok(out);
    }
    let t_mean = tones.iter().sum::<f64>() / n as f64;
    let centred: Vec<f64> = tones.iter().map(|t| t - t_mean).collect();
    let sxx: f64 = centred.iter().map(|c| c * c).sum();
    out.par_chunks_mut(ROWS_PER_TASK * n).for_each(|block| {
        if crate::parallel::interrupted() {
            return;
        }
        for row in block.chunks_exact_mut(n) {
            unwrap_row(row);
            let y: Vec<f64> = row.iter().map(|v| v.to_f64().unwrap_or(f64::NAN)).collect();
            let y_mean = y.iter().sum::<f64>() / n as f64;
            let slope = if sxx > 0.0 {
                centred
                    .iter()
                    .zip(&y)
                    .map(|(c, v)| c * (v - y_mean))
                    .sum::<f64>()
                    / sxx
            } else {
                0.0
            };
            for ((o, v), c) in row.iter_mut().zip(&y).zip(&centred) {
                let r = v - y_mean - slope * c;
                *o = R::from_f64(r).unwrap_or_else(R::nan);
            }
        }
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dense(r: &Resampler) -> Vec<Vec<f64>> {
        let mut m = vec![vec![0.0; r.n_in]; r.n_out];
        for (k, row) in m.iter_mut().enumerate() {
            for t in r.indptr[k]..r.indptr[k + 1] {
                row[r.indices[t]] += r.weights[t];
            }
        }
        m
    }

    #[test]
    fn linear_114_to_56_golden_positions() {
        let r = Resampler::new(114, 56, Mode::Linear).unwrap();
        let m = dense(&r);
        assert_eq!(m[0][0], 1.0);
        // k = 1 sits at 113 / 55 = 2.0545...
        let p1 = 113.0 / 55.0;
        assert!((m[1][2] - (3.0 - p1)).abs() < 1e-12);
        assert!((m[1][3] - (p1 - 2.0)).abs() < 1e-12);
        // k = 54 sits at 54 * 113 / 55 = 110.945...
        let p54 = 54.0 * 113.0 / 55.0;
        assert!((m[54][110] - (111.0 - p54)).abs() < 1e-12);
        assert!((m[54][111] - (p54 - 110.0)).abs() < 1e-12);
        assert_eq!(m[55][113], 1.0);
        for row in &m {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn area_rows_sum_to_one_and_cover_bins() {
        let r = Resampler::new(114, 56, Mode::Area).unwrap();
        let m = dense(&r);
        for row in &m {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        // bin 0 = [0, ceil(114/56)) = [0, 3)
        assert_eq!(r.indices[r.indptr[0]..r.indptr[1]], [0, 1, 2]);
    }

    #[test]
    fn subband_checks_bounds() {
        assert!(Resampler::new(114, 56, Mode::Subband { start: 58 }).is_ok());
        assert!(Resampler::new(114, 56, Mode::Subband { start: 59 }).is_err());
        assert!(Resampler::new(10, 11, Mode::Subband { start: 0 }).is_err());
        assert!(Resampler::new(0, 1, Mode::Linear).is_err());
        assert!(Resampler::new(1, 0, Mode::Area).is_err());
    }

    #[test]
    fn identity_when_sizes_match() {
        let x: Vec<f64> = (0..20).map(|v| v as f64 * 0.5).collect();
        for mode in [Mode::Linear, Mode::Area, Mode::Subband { start: 0 }] {
            let r = Resampler::new(10, 10, mode).unwrap();
            assert_eq!(r.apply(&x, NanPolicy::Propagate).unwrap(), x);
        }
    }

    #[test]
    fn nan_policies() {
        let r = Resampler::new(4, 2, Mode::Area).unwrap();
        let x = [1.0f32, f32::NAN, 3.0, 5.0];
        let p = r.apply(&x, NanPolicy::Propagate).unwrap();
        assert!(p[0].is_nan() && p[1] == 4.0);
        assert!(matches!(
            r.apply(&x, NanPolicy::Raise),
            Err(CoreError::NonFinite { .. })
        ));
        // NaN -> mean(1, 3, 5) = 3
        assert_eq!(r.apply(&x, NanPolicy::RowMeanFill).unwrap(), vec![2.0, 4.0]);
        let dead = [f32::NAN; 4];
        assert_eq!(
            r.apply(&dead, NanPolicy::RowMeanFill).unwrap(),
            vec![0.0, 0.0]
        );
    }

    #[test]
    fn packet_fill_and_cleaning_by_hand() {
        // [R=2, S=2, P=2]: packet 0 = 1, NaN, 3, inf -> mean 2; packet 1 = NaN x 4 -> 0
        let mut f = [
            1.0f32,
            f32::NAN,
            f32::NAN,
            f32::NAN,
            3.0,
            f32::NAN,
            f32::INFINITY,
            f32::NAN,
        ];
        fill_packet_mean(&mut f, 2);
        assert_eq!(f, [1.0, 0.0, 2.0, 0.0, 3.0, 0.0, 2.0, 0.0]);
        let mut f = [1.0f32, f32::NEG_INFINITY, 5.0, 3.0];
        // packets: [1, 5] and [-inf, 3] -> -inf := 3; min 1, max 5
        clean_amplitude(&mut f, 2);
        assert_eq!(f, [0.0, 0.5, 1.0, 0.5]);
        let mut constant = [7.0f32; 40];
        clean_amplitude(&mut constant, 4);
        assert!(constant.iter().all(|&v| v == 0.0));
        assert!(!min_max_finite(&[f32::NAN; 33]).2);
        for n in [1, 15, 16, 32, 37] {
            let mut x: Vec<f32> = (0..n).map(|v| v as f32).collect();
            assert_eq!(min_max_finite(&x), (0.0, (n - 1) as f32, true));
            // one frame of exactly 16 finite values, cleaned on both code paths
            let mut by_hand = x.clone();
            clean_amplitude_frame(&mut by_hand, 1);
            let mut dispatched = x.clone();
            clean_amplitude(&mut dispatched, 1);
            assert_eq!(by_hand, dispatched);
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                x[n - 1] = bad;
                assert!(!min_max_finite(&x).2);
                let mut a = x.clone();
                clean_amplitude_frame(&mut a, 1);
                let mut b = x.clone();
                clean_amplitude(&mut b, 1);
                assert_eq!(a, b);
                assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
            }
        }
    }

    #[test]
    fn vectorised_linear_gives_the_scalar_bits() {
        for (n_in, n_out) in [
            (114, 56),
            (114, 30),
            (17, 9),
            (17, 17),
            (40, 100),
            (200, 56),
            (56, 114),
        ] {
            let op = Resampler::new(n_in, n_out, Mode::Linear).unwrap();
            let rows = 5;
            let mut x: Vec<f32> = (0..rows * n_in)
                .map(|i| ((i * 7919) % 1009) as f32 * 0.37 - 150.0)
                .collect();
            x[3] = f32::NAN;
            x[n_in + 1] = f32::INFINITY;
            x[2 * n_in - 1] = f32::NEG_INFINITY;
            let kernel = RowKernel::<f32>::new(&op);
            let mut scalar = vec![MaybeUninit::new(0.0f32); rows * n_out];
            for (o, r) in scalar.chunks_exact_mut(n_out).zip(x.chunks_exact(n_in)) {
                kernel.run(r, o);
            }
            let scalar: Vec<u32> = scalar
                .iter()
                .map(|v| unsafe { v.assume_init() }.to_bits())
                .collect();
            let fast: Vec<u32> = op
                .apply(&x, NanPolicy::Propagate)
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect();
            assert_eq!(scalar, fast, "{n_in} -> {n_out}");
        }
    }

    fn iwl5300_30() -> Vec<f64> {
        let mut v: Vec<f64> = (-28..=-2).step_by(2).map(f64::from).collect();
        v.push(-1.0);
        v.extend((1..=27).step_by(2).map(f64::from));
        v.push(28.0);
        v
    }

    fn ht40() -> Vec<f64> {
        (-58..=-2).chain(2..=58).map(f64::from).collect()
    }

    #[test]
    fn from_positions_linear_taps() {
        let src = [-2.0, -1.0, 1.0, 4.0];
        let dst = [-3.0, -2.0, 0.0, 2.0, 4.0, 9.0, -1.5];
        let r = Resampler::from_positions(&src, &dst, Mode::Linear, Outside::Nearest).unwrap();
        let m = dense(&r);
        assert_eq!((r.n_in, r.n_out, r.mode), (4, 7, Mode::Linear));
        assert_eq!(m[0], [1.0, 0.0, 0.0, 0.0]); // outside: nearest end tone
        assert_eq!(m[1], [1.0, 0.0, 0.0, 0.0]); // exact hit
        assert_eq!(m[2], [0.0, 0.5, 0.5, 0.0]); // across the DC gap
        assert!((m[3][2] - 2.0 / 3.0).abs() < 1e-15 && (m[3][3] - 1.0 / 3.0).abs() < 1e-15);
        assert_eq!(m[4], [0.0, 0.0, 0.0, 1.0]);
        assert_eq!(m[5], [0.0, 0.0, 0.0, 1.0]);
        assert_eq!(m[6], [0.5, 0.5, 0.0, 0.0]); // any order
        let err = Resampler::from_positions(&src, &dst, Mode::Linear, Outside::Refuse).unwrap_err();
        let text = format!("{err:?}");
        assert!(text.contains("target_indices") && text.contains("-3") && text.contains("[-2, 4]"));
        let one =
            Resampler::from_positions(&[5.0], &[4.0, 5.0, 6.0], Mode::Linear, Outside::Nearest)
                .unwrap();
        assert_eq!(dense(&one), vec![vec![1.0]; 3]);
    }

    #[test]
    fn from_positions_area_bins() {
        // targets -2, 0, 2: bins [-3, -1), [-1, 1), [1, 3]
        let src = [-3.0, -2.0, -1.0, 1.0, 2.0, 3.0];
        let r = Resampler::from_positions(&src, &[2.0, -2.0, 0.0], Mode::Area, Outside::Nearest)
            .unwrap();
        let m = dense(&r);
        assert_eq!(m[0], [0.0, 0.0, 0.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]);
        assert_eq!(m[1], [0.5, 0.5, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(m[2], [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
        // an empty bin takes the linear value: targets -0.2, 0, 0.2 between -1 and 1
        let r = Resampler::from_positions(&src, &[-0.2, 0.0, 0.2], Mode::Area, Outside::Nearest)
            .unwrap();
        let m = dense(&r);
        assert!((m[1][2] - 0.5).abs() < 1e-15 && (m[1][3] - 0.5).abs() < 1e-15);
        // a single target owns the whole span, closed
        let r = Resampler::from_positions(&src, &[0.0], Mode::Area, Outside::Nearest).unwrap();
        assert_eq!(dense(&r)[0], [1.0 / 6.0; 6]);
        // equal targets share a bin
        let r = Resampler::from_positions(&src, &[0.0, 0.0, 3.0], Mode::Area, Outside::Nearest)
            .unwrap();
        let m = dense(&r);
        assert_eq!(m[0], m[1]);
        for row in &m {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn from_positions_checks_arguments() {
        let named = |r: CoreResult<Resampler>, arg: &str, what: &str| {
            let text = format!("{:?}", r.unwrap_err());
            assert!(text.contains(arg) && text.contains(what), "{text}");
        };
        let ok = [0.0, 1.0];
        named(
            Resampler::from_positions(&[0.0, 2.0, 2.0], &ok, Mode::Linear, Outside::Nearest),
            "source_indices",
            "strictly increasing, got 2 after 2 at index 2",
        );
        named(
            Resampler::from_positions(&[0.0, f64::NAN], &ok, Mode::Linear, Outside::Nearest),
            "source_indices",
            "finite",
        );
        named(
            Resampler::from_positions(&[], &ok, Mode::Linear, Outside::Nearest),
            "source_indices",
            "at least 1",
        );
        named(
            Resampler::from_positions(&ok, &[], Mode::Area, Outside::Nearest),
            "target_indices",
            "at least 1",
        );
        named(
            Resampler::from_positions(&ok, &[f64::INFINITY], Mode::Area, Outside::Nearest),
            "target_indices",
            "finite",
        );
        named(
            Resampler::from_positions(&ok, &[0.5, 1.5], Mode::Area, Outside::Refuse),
            "target_indices",
            "1.5 (index 1) is outside the source span [0, 1]",
        );
        named(
            Resampler::from_positions(&ok, &ok, Mode::Subband { start: 0 }, Outside::Nearest),
            "mode",
            "subband",
        );
        assert!(Outside::parse("nearest").is_ok() && Outside::parse("clip").is_err());
    }

    /// Every kernel `apply` may pick gives the bits of the generic CSR row loop.
    fn assert_fast_paths_match_csr<T: Element>(op: &Resampler, x: &[T]) {
        let sparse: RowKernel<'_, T::Real> = RowKernel::sparse(op);
        let mut want = vec![MaybeUninit::new(T::zero()); x.len() / op.n_in * op.n_out];
        for (o, r) in want.chunks_exact_mut(op.n_out).zip(x.chunks_exact(op.n_in)) {
            sparse.run(r, o);
        }
        let want: Vec<T> = want.iter().map(|v| unsafe { v.assume_init() }).collect();
        let got = op.apply(x, NanPolicy::Propagate).unwrap();
        let same = |a: &T, b: &T| format!("{a:?}") == format!("{b:?}");
        assert!(
            got.iter().zip(&want).all(|(a, b)| same(a, b)),
            "{} -> {} {:?}",
            op.n_in,
            op.n_out,
            op.mode
        );
    }

    #[test]
    fn from_positions_fast_paths_equal_the_csr_result() {
        let ht20: Vec<f64> = (-28..=-1).chain(1..=28).map(f64::from).collect();
        let esp32: Vec<f64> = (-26..=-1).chain(1..=26).map(f64::from).collect();
        let even: Vec<f64> = (0..56).map(|k| -58.0 + 116.0 * k as f64 / 55.0).collect();
        let mut shuffled = ht40();
        shuffled.reverse();
        shuffled.swap(3, 70);
        let plans = [
            (iwl5300_30(), ht40()),
            (esp32.clone(), ht40()),
            (ht40(), ht20.clone()),
            (ht40(), even),
            (ht20.clone(), shuffled),
            (iwl5300_30(), iwl5300_30()),
            (vec![3.0], ht20.clone()),
            // narrow pieces ending on the last tone (a copy of the second tap)
            (line(0.0, 20.0, 1.0), line(-3.0, 20.0, 0.5)),
            // short fill and copy runs (under 8), then long ones, in any order
            (line(0.0, 30.0, 1.0), {
                let mut t = line(-5.0, 2.0, 1.0);
                t.extend(line(10.0, 13.0, 1.0));
                t.extend(line(40.0, 52.0, 1.0));
                t.extend(line(3.0, 12.0, 1.0));
                t.extend(line(29.5, 27.0, -0.25));
                t
            }),
        ];
        for (src, dst) in &plans {
            for mode in [Mode::Linear, Mode::Area] {
                let op = Resampler::from_positions(src, dst, mode, Outside::Nearest).unwrap();
                let rows = 5;
                let mut x: Vec<f32> = (0..rows * op.n_in)
                    .map(|i| ((i * 7919) % 1009) as f32 * 0.37 - 150.0)
                    .collect();
                x[0] = f32::NAN;
                if x.len() > op.n_in + 1 {
                    x[op.n_in + 1] = f32::INFINITY;
                }
                // non-finite end tones and a middle one: filled, copied and
                // narrow outputs must not spread them to their neighbours
                if op.n_in > 2 {
                    x[2 * op.n_in - 1] = f32::NEG_INFINITY;
                    x[3 * op.n_in + op.n_in / 2] = f32::NAN;
                    x[4 * op.n_in] = f32::INFINITY;
                }
                let x64: Vec<f64> = x.iter().map(|&v| f64::from(v) * 1.001).collect();
                assert_fast_paths_match_csr(&op, &x);
                assert_fast_paths_match_csr(&op, &x64);
            }
        }
    }

    /// `from, from + step, ...` up to `to` (inclusive).
    fn line(from: f64, to: f64, step: f64) -> Vec<f64> {
        let n = ((to - from) / step).round() as usize + 1;
        (0..n).map(|k| from + step * k as f64).collect()
    }

    /// The card plans onto HT40 run on the cheap pieces (broadcast fills of the
    /// tones beyond the span, plain copies of on-tone runs, narrow blends), and
    /// the uniform 114 -> 56 kernel on its 7 groups as before.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn linear_plans_use_the_cheap_pieces() {
        let esp32: Vec<f64> = (-26..=-1).chain(1..=26).map(f64::from).collect();
        let plan = |src: &[f64], dst: &[f64]| {
            let op = Resampler::from_positions(src, dst, Mode::Linear, Outside::Nearest).unwrap();
            avx2::LinearPlan::new(&op).unwrap().counts()
        };
        // 31 + 31 fills, 52 blends and on-tone copies in 7 narrow pieces
        assert_eq!(plan(&iwl5300_30(), &ht40()), [8, 0, 7, 0, 0, 0]);
        // fills of 33 (tone -26 joins the run) and 32, copies of 24 and 25
        assert_eq!(plan(&esp32, &ht40()), [9, 7, 0, 0, 0, 0]);
        let uniform = Resampler::new(114, 56, Mode::Linear).unwrap();
        assert_eq!(
            avx2::LinearPlan::new(&uniform).unwrap().counts(),
            [0, 0, 0, 7, 0, 0]
        );
        // HT40 -> 56 evenly spaced: the same 7 groups as the uniform kernel
        let even: Vec<f64> = (0..56).map(|k| -58.0 + 116.0 * k as f64 / 55.0).collect();
        assert_eq!(plan(&ht40(), &even), [0, 0, 0, 7, 0, 0]);
        let wide = plan(&line(0.0, 20.0, 1.0), &line(-3.0, 20.0, 0.5));
        assert!(wide[2] > 0, "{wide:?}");
    }

    #[test]
    fn variance_ties_go_to_lower_index() {
        // columns: var 0, 1, 1, 0.25
        let x = [0.0, 0.0, 2.0, 0.0, 0.0, 2.0, 0.0, 1.0];
        let v = subcarrier_variance(&x, 4).unwrap();
        assert_eq!(v, vec![0.0, 1.0, 1.0, 0.25]);
        assert_eq!(top_k_by_variance(&v, 1).unwrap(), vec![1]);
        assert_eq!(top_k_by_variance(&v, 3).unwrap(), vec![1, 2, 3]);
        assert!(top_k_by_variance(&v, 0).is_err());
        assert!(top_k_by_variance(&v, 5).is_err());
    }

    #[test]
    fn unwrap_removes_jumps_and_sanitize_removes_lines() {
        let truth: Vec<f64> = (0..30).map(|i| 0.4 * i as f64 + 1.0).collect();
        let wrapped: Vec<f64> = truth
            .iter()
            .map(|v| floor_mod(v + PI, 2.0 * PI) - PI)
            .collect();
        let un = unwrap_phase(&wrapped, 30);
        for (a, b) in un.iter().zip(&truth) {
            let d = (a - b) / (2.0 * PI);
            assert!((d - d.round()).abs() < 1e-9 && (un[1] - un[0] - 0.4).abs() < 1e-9);
        }
        let tones: Vec<f64> = (0..30).map(|i| i as f64).collect();
        let s = sanitize_phase(&wrapped, &tones).unwrap();
        assert!(s.iter().all(|v| v.abs() < 1e-9));
    }
}
