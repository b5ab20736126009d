//! The one pose-pair type of the metric kernels: predicted and ground-truth
//! poses, either paired frame by frame (PCK, MPJPE, OKS) or every prediction
//! against every ground truth (the cost matrices of person matching).

use rayon::prelude::*;

use crate::element::Real;
use crate::error::{fmt_shape, CoreError, CoreResult};

/// Frames per parallel work item: large enough to amortise scheduling,
/// small enough to balance a few million frames over many threads.
pub const FRAMES_PER_TASK: usize = 2048;

/// `pred` (`[P, J, D]`) and `gt` (`[N, J, D]`) as C-order slices, with an
/// optional `[N, J]` mask of the ground-truth joints that count.
///
/// Paired ([`PosePair::new`]): `P == N` and frame `i` pairs `pred[i]` with
/// `gt[i]`. Crossed ([`PosePair::cross`]): every `pred[p]` meets every `gt[g]`.
#[derive(Clone, Copy, Debug)]
pub struct PosePair<'a, T> {
    pub pred: &'a [T],
    pub gt: &'a [T],
    pub visible: Option<&'a [bool]>,
    /// Ground-truth poses `N` (the frames of a paired batch).
    pub frames: usize,
    /// Predicted poses `P` (equal to `frames` when paired).
    pub pred_frames: usize,
    pub joints: usize,
    pub dims: usize,
}

/// One frame of a [`PosePair`].
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a, T> {
    pub pred: &'a [T],
    pub gt: &'a [T],
    pub visible: Option<&'a [bool]>,
    pub dims: usize,
}

impl<'a, T: Real> PosePair<'a, T> {
    /// Paired poses: checks that the slice lengths agree with `[frames, joints, dims]`.
    pub fn new(
        pred: &'a [T],
        gt: &'a [T],
        visible: Option<&'a [bool]>,
        frames: usize,
        joints: usize,
        dims: usize,
    ) -> CoreResult<Self> {
        Self::cross(pred, frames, gt, visible, frames, joints, dims)
    }

    /// Every one of `pred_frames` predictions against every one of `frames`
    /// ground truths: checks the slice lengths.
    pub fn cross(
        pred: &'a [T],
        pred_frames: usize,
        gt: &'a [T],
        visible: Option<&'a [bool]>,
        frames: usize,
        joints: usize,
        dims: usize,
    ) -> CoreResult<Self> {
        if !(2..=3).contains(&dims) {
            return Err(CoreError::shape(
                "pred",
                "2 or 3 coordinates per joint (last axis)",
                dims.to_string(),
            ));
        }
        if joints == 0 {
            return Err(CoreError::shape("pred", "at least 1 joint", "0 joints"));
        }
        let size = frames * joints * dims;
        let shape = fmt_shape(&[frames, joints, dims]);
        let pred_size = pred_frames * joints * dims;
        if pred.len() != pred_size {
            return Err(CoreError::shape(
                "pred",
                format!(
                    "{pred_size} values for shape {}",
                    fmt_shape(&[pred_frames, joints, dims])
                ),
                pred.len().to_string(),
            ));
        }
        if gt.len() != size {
            return Err(CoreError::shape(
                "gt",
                format!("{size} values for shape {shape}"),
                gt.len().to_string(),
            ));
        }
        if let Some(v) = visible {
            if v.len() != frames * joints {
                return Err(CoreError::shape(
                    "visible",
                    format!(
                        "{} flags for shape {}",
                        frames * joints,
                        fmt_shape(&[frames, joints])
                    ),
                    v.len().to_string(),
                ));
            }
        }
        Ok(PosePair {
            pred,
            gt,
            visible,
            frames,
            pred_frames,
            joints,
            dims,
        })
    }

    /// The paired frames `start..end` as a smaller pair.
    pub fn slice(&self, start: usize, end: usize) -> PosePair<'a, T> {
        let per = self.joints * self.dims;
        PosePair {
            pred: &self.pred[start * per..end * per],
            gt: &self.gt[start * per..end * per],
            visible: self
                .visible
                .map(|v| &v[start * self.joints..end * self.joints]),
            frames: end - start,
            pred_frames: end - start,
            joints: self.joints,
            dims: self.dims,
        }
    }

    /// Paired frame `i`.
    pub fn frame(&self, i: usize) -> Frame<'a, T> {
        self.pair(i, i)
    }

    /// Prediction `p` against ground truth `g`.
    pub fn pair(&self, p: usize, g: usize) -> Frame<'a, T> {
        let per = self.joints * self.dims;
        Frame {
            pred: &self.pred[p * per..(p + 1) * per],
            gt: &self.gt[g * per..(g + 1) * per],
            visible: self
                .visible
                .map(|v| &v[g * self.joints..(g + 1) * self.joints]),
            dims: self.dims,
        }
    }

    /// Number of parallel work items of [`FRAMES_PER_TASK`] frames.
    pub fn tasks(&self) -> usize {
        self.frames.div_ceil(FRAMES_PER_TASK)
    }

    /// The frames of work item `t`.
    pub fn task(&self, t: usize) -> PosePair<'a, T> {
        let start = t * FRAMES_PER_TASK;
        self.slice(start, (start + FRAMES_PER_TASK).min(self.frames))
    }
}

/// Fills the row-major `[P, N]` matrix with `f(pair (p, g), g, scratch)` of
/// crossed poses, one prediction row per parallel work item.
pub fn cross_matrix<T: Real>(
    poses: &PosePair<'_, T>,
    f: impl Fn(&Frame<'_, T>, usize, &mut Vec<f64>) -> f64 + Sync,
) -> Vec<f64> {
    let n = poses.frames;
    let mut out = vec![0.0; poses.pred_frames * n];
    if n == 0 {
        return out;
    }
    out.par_chunks_mut(n).enumerate().for_each(|(p, row)| {
        if crate::parallel::interrupted() {
            return;
        }
        let mut scratch = Vec::with_capacity(poses.joints);
        for (g, cell) in row.iter_mut().enumerate() {
            *cell = f(&poses.pair(p, g), g, &mut scratch);
        }
    });
    out
}

impl<T: Real> Frame<'_, T> {
    pub fn is_visible(&self, joint: usize) -> bool {
        self.visible.is_none_or(|v| v[joint])
    }

    /// Number of joints that count (all of them without a mask).
    pub fn visible_count(&self) -> usize {
        self.visible.map_or(self.gt.len() / self.dims, |v| {
            v.iter().filter(|&&b| b).count()
        })
    }

    /// Joint `joint` of the ground truth, widened to `f64`.
    pub fn gt_at(&self, joint: usize) -> [f64; 3] {
        widen(&self.gt[joint * self.dims..(joint + 1) * self.dims])
    }

    pub fn pred_at(&self, joint: usize) -> [f64; 3] {
        widen(&self.pred[joint * self.dims..(joint + 1) * self.dims])
    }

    /// Whether every coordinate of the ground-truth joints that count is
    /// finite; a frame where one is not cannot be scored by any metric.
    pub fn gt_finite(&self) -> bool {
        let d = self.dims;
        self.gt
            .chunks_exact(d)
            .enumerate()
            .all(|(k, g)| !self.is_visible(k) || g.iter().all(|v| v.is_finite()))
    }

    /// Whether every coordinate of the predicted joints that count is finite.
    pub fn pred_finite(&self) -> bool {
        let d = self.dims;
        self.pred
            .chunks_exact(d)
            .enumerate()
            .all(|(k, p)| !self.is_visible(k) || p.iter().all(|v| v.is_finite()))
    }
}

/// A 2- or 3-vector in `f64`, zero-padded to 3.
fn widen<T: Real>(x: &[T]) -> [f64; 3] {
    let mut out = [0.0; 3];
    for (o, v) in out.iter_mut().zip(x) {
        *o = wide(*v);
    }
    out
}

/// `x` in `f64` (exact for both `f32` and `f64`).
#[inline(always)]
pub fn wide<T: Real>(x: T) -> f64 {
    x.to_f64().unwrap_or(f64::NAN)
}

/// Distance of two `D`-coordinate joints, summing the squared coordinate
/// differences in order, exactly as [`distance`] does.
#[inline(always)]
pub fn joint_distance<T: Real, const D: usize>(p: &[T], g: &[T]) -> f64 {
    let mut s = 0.0;
    for c in 0..D {
        let e = wide(p[c]) - wide(g[c]);
        s += e * e;
    }
    s.sqrt()
}

/// Per-joint distances of one frame (`pred`, `gt`: `J * D` values) into
/// `out` (`J` values), using `sq` (`J * D` values) as scratch.
///
/// Same arithmetic as [`joint_distance`] joint by joint, laid out as three
/// flat loops the compiler vectorises (widen-subtract-square, add, sqrt).
#[inline(always)]
pub fn frame_distances<T: Real, const D: usize>(
    pred: &[T],
    gt: &[T],
    sq: &mut [f64],
    out: &mut [f64],
) {
    for ((s, p), g) in sq.iter_mut().zip(pred).zip(gt) {
        let e = wide(*p) - wide(*g);
        *s = e * e;
    }
    for (o, c) in out.iter_mut().zip(sq.chunks_exact(D)) {
        let mut s = 0.0;
        for x in c {
            s += x;
        }
        *o = s;
    }
    for o in out.iter_mut() {
        *o = o.sqrt();
    }
}

/// Euclidean distance of two points over the first `dims` coordinates,
/// summed in coordinate order (what `np.sqrt(np.sum(d**2, -1))` does).
#[inline]
pub fn distance(a: &[f64; 3], b: &[f64; 3], dims: usize) -> f64 {
    let mut s = 0.0;
    for k in 0..dims {
        let d = a[k] - b[k];
        s += d * d;
    }
    s.sqrt()
}
