//! PCK: the fraction of joints whose error is within a fraction of a
//! per-frame normaliser, as exact integer counts per threshold and joint.
//!
//! Four conventions share one pass over the frames; they differ only in the
//! normaliser, the comparison and whether the visibility mask applies:
//!
//! | convention  | correct iff                      | mask | zero normaliser          |
//! |-------------|----------------------------------|------|--------------------------|
//! | `Canonical` | `d <= t * n`                     | yes  | frame unscoreable        |
//! | `Mmpose`    | `norm((p - g) / n_axis) < t`     | yes  | frame unscoreable        |
//! | `Metafi`    | `d / n <= t`                     | no   | joints scored, incorrect |
//! | `Wiflow`    | `d / max(n, 0.01) <= t`          | no   | cannot happen (clamp)    |
//!
//! In every convention a frame with a non-finite ground-truth coordinate in a
//! joint that counts is unscoreable (and excluded), and a non-finite
//! prediction fails every comparison: a miss.
//!
//! `t` is a threshold as a fraction (PCK@20 -> 0.2). Thresholds arrive sorted
//! ascending; each comparison is monotone in `t`, so one binary search per
//! joint finds the first threshold it passes and a cumulative sum turns that
//! histogram into counts — exactly the per-threshold comparisons, cheaper.

// Negated comparisons are deliberate: NaN must fail every test ("not within"),
// and small fixed-size matrix code reads best with explicit indices.
#![allow(clippy::neg_cmp_op_on_partial_ord, clippy::needless_range_loop)]

use rayon::prelude::*;

use super::poses::{distance, frame_distances, joint_distance, wide, Frame, PosePair};
#[cfg(target_arch = "x86_64")]
use crate::element::as_f32;
use crate::element::Real;
use crate::error::{CoreError, CoreResult};

/// How the per-frame normaliser is measured on the ground truth.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Normaliser {
    /// `scale * |gt[a] - gt[b]|`; with `fallback`, that pair is used instead
    /// when `a` or `b` is not visible.
    Pair {
        a: usize,
        b: usize,
        fallback: Option<(usize, usize)>,
        scale: f64,
    },
    /// Diagonal of the box around the visible ground-truth joints.
    BboxDiagonal,
    /// Longest side of that box (mmpose's `bbox_size`).
    BboxLongestSide,
    /// A constant (`absolute` PCK: thresholds in input units).
    Fixed(f64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Convention {
    Canonical,
    Mmpose,
    Metafi,
    Wiflow,
}

impl Convention {
    pub fn parse(name: &str) -> CoreResult<Self> {
        match name {
            "canonical" => Ok(Convention::Canonical),
            "mmpose" => Ok(Convention::Mmpose),
            "metafi" => Ok(Convention::Metafi),
            "wiflow" => Ok(Convention::Wiflow),
            other => Err(CoreError::argument(
                "convention",
                format!("expected 'canonical', 'mmpose', 'metafi' or 'wiflow', got {other:?}"),
            )),
        }
    }

    /// Whether the visibility mask selects the joints that count.
    pub fn masked(self) -> bool {
        matches!(self, Convention::Canonical | Convention::Mmpose)
    }
}

/// Normaliser clamp of the WiFlow convention, in input units.
pub const WIFLOW_MIN_NORM: f64 = 0.01;

/// Counts of one PCK evaluation; sums of two batches are the counts of both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PckCounts {
    pub thresholds: usize,
    pub joints: usize,
    /// `[T, J]`: joints within threshold `t` (cumulative over thresholds).
    pub correct: Vec<u64>,
    /// `[J]`: joints that count (the denominators); filled by the final reduction.
    pub scored: Vec<u64>,
    pub scored_frames: u64,
    /// Frames with visible joints whose normaliser is zero, undefined or not finite.
    pub unscoreable_frames: u64,
    /// Visible joints of unscoreable frames (excluded unless the convention counts them).
    pub unscoreable_joints: u64,
    /// Frames without any visible joint (never scored).
    pub empty_frames: u64,
    /// Frames whose torso pair was replaced by the fallback pair.
    pub fallback_frames: u64,
}

impl PckCounts {
    fn zeros(thresholds: usize, joints: usize) -> Self {
        PckCounts {
            thresholds,
            joints,
            // one extra row: joints that pass no threshold
            correct: vec![0; (thresholds + 1) * joints],
            scored: vec![0; joints],
            scored_frames: 0,
            unscoreable_frames: 0,
            unscoreable_joints: 0,
            empty_frames: 0,
            fallback_frames: 0,
        }
    }

    fn add(mut self, other: PckCounts) -> Self {
        for (a, b) in self.correct.iter_mut().zip(other.correct) {
            *a += b;
        }
        for (a, b) in self.scored.iter_mut().zip(other.scored) {
            *a += b;
        }
        self.scored_frames += other.scored_frames;
        self.unscoreable_frames += other.unscoreable_frames;
        self.unscoreable_joints += other.unscoreable_joints;
        self.empty_frames += other.empty_frames;
        self.fallback_frames += other.fallback_frames;
        self
    }

    /// Turns the first-passed-threshold histogram (one extra row: passed
    /// none) into cumulative counts, and its column sums into `scored`.
    fn cumulate(mut self) -> Self {
        let j = self.joints;
        for t in 0..=self.thresholds {
            for k in 0..j {
                self.scored[k] += self.correct[t * j + k];
            }
        }
        for t in 1..self.thresholds {
            for k in 0..j {
                self.correct[t * j + k] += self.correct[(t - 1) * j + k];
            }
        }
        self.correct.truncate(self.thresholds * j);
        self
    }
}

/// Checks thresholds: finite, non-negative, ascending.
fn check_thresholds(thresholds: &[f64]) -> CoreResult<()> {
    for (i, &t) in thresholds.iter().enumerate() {
        if !t.is_finite() || t < 0.0 {
            return Err(CoreError::argument(
                "thresholds",
                format!("expected finite values >= 0, got {t} at position {i}"),
            ));
        }
        if i > 0 && t < thresholds[i - 1] {
            return Err(CoreError::argument(
                "thresholds",
                "expected ascending values".to_string(),
            ));
        }
    }
    Ok(())
}

fn check_normaliser(norm: Normaliser, joints: usize) -> CoreResult<()> {
    match norm {
        Normaliser::Pair {
            a,
            b,
            fallback,
            scale,
        } => {
            let pairs = std::iter::once((a, b)).chain(fallback);
            for (a, b) in pairs {
                if a >= joints || b >= joints {
                    return Err(CoreError::argument(
                        "norm",
                        format!("joint pair ({a}, {b}) is out of range for {joints} joints"),
                    ));
                }
            }
            if !(scale.is_finite() && scale > 0.0) {
                return Err(CoreError::argument(
                    "norm",
                    format!("pair scale must be finite and > 0, got {scale}"),
                ));
            }
        }
        Normaliser::Fixed(v) if !(v.is_finite() && v > 0.0) => {
            return Err(CoreError::argument(
                "norm",
                format!("a fixed normaliser must be finite and > 0, got {v}"),
            ));
        }
        _ => {}
    }
    Ok(())
}

/// The normaliser of one frame and whether the fallback pair gave it;
/// `None` when it is undefined (a needed joint is not visible).
fn frame_normaliser<T: Real>(
    f: &Frame<'_, T>,
    joints: usize,
    norm: Normaliser,
) -> (Option<f64>, bool) {
    let pair = |a: usize, b: usize| distance(&f.gt_at(a), &f.gt_at(b), f.dims);
    match norm {
        Normaliser::Pair {
            a,
            b,
            fallback,
            scale,
        } => {
            if f.is_visible(a) && f.is_visible(b) {
                (Some(pair(a, b) * scale), false)
            } else {
                match fallback {
                    Some((c, d)) if f.is_visible(c) && f.is_visible(d) => {
                        (Some(pair(c, d) * scale), true)
                    }
                    _ => (None, false),
                }
            }
        }
        Normaliser::BboxDiagonal | Normaliser::BboxLongestSide => {
            let mut lo = [f64::INFINITY; 3];
            let mut hi = [f64::NEG_INFINITY; 3];
            for k in (0..joints).filter(|&k| f.is_visible(k)) {
                let g = f.gt_at(k);
                for c in 0..f.dims {
                    // NaN must poison the box, which min/max would skip
                    if g[c].is_nan() {
                        return (Some(f64::NAN), false);
                    }
                    lo[c] = lo[c].min(g[c]);
                    hi[c] = hi[c].max(g[c]);
                }
            }
            let value = if norm == Normaliser::BboxDiagonal {
                let mut s = 0.0;
                for c in 0..f.dims {
                    let e = hi[c] - lo[c];
                    s += e * e;
                }
                s.sqrt()
            } else {
                (0..f.dims)
                    .map(|c| hi[c] - lo[c])
                    .fold(f64::NEG_INFINITY, f64::max)
            };
            (Some(value), false)
        }
        Normaliser::Fixed(v) => (Some(v), false),
    }
}

/// Index of the first threshold whose test passes (`len` when none does);
/// the tests are monotone in the threshold. A short list is counted without
/// branches, which beats a binary search's mispredicted jumps.
#[inline(always)]
fn first_passed<F: Copy>(thresholds: &[F], passes: impl Fn(F) -> bool) -> usize {
    if thresholds.len() <= 16 {
        thresholds.iter().map(|&t| usize::from(!passes(t))).sum()
    } else {
        thresholds.partition_point(|&t| !passes(t))
    }
}

/// Scores the visible joints of one scoreable frame whose normaliser is `n`
/// in a legacy convention (`squares` and `distances` are scratch of `J * D`
/// and `J` values).
#[inline(always)]
fn score_legacy_joints<T: Real, const D: usize>(
    f: &Frame<'_, T>,
    n: f64,
    thresholds: &[f64],
    convention: Convention,
    squares: &mut [f64],
    distances: &mut [f64],
    out: &mut PckCounts,
) {
    let j = out.joints;
    if convention == Convention::Mmpose {
        let joints = f.pred.chunks_exact(D).zip(f.gt.chunks_exact(D));
        for (k, (p, g)) in joints.enumerate().filter(|&(k, _)| f.is_visible(k)) {
            let mut s = 0.0;
            for c in 0..D {
                let e = (wide(p[c]) - wide(g[c])) / n;
                s += e * e;
            }
            let d = s.sqrt();
            let first = first_passed(thresholds, |t| d < t);
            out.correct[first * j + k] += 1;
        }
        return;
    }
    frame_distances::<T, D>(f.pred, f.gt, squares, distances);
    for (k, &d) in distances.iter().enumerate() {
        if f.is_visible(k) {
            let r = d / n;
            out.correct[first_passed(thresholds, |t| r <= t) * j + k] += 1;
        }
    }
}

/// Relative half-width of the band around `t^2` within which the ratio
/// `s / n^2` (`s` a squared joint distance) does not settle `sqrt(s) <= t * n`.
/// The ratio is compared in `f32`: each side is a few roundings (`6e-8` each
/// in `f32`, `1e-16` in `f64`) away from exact, far inside the band; a ratio
/// inside it is decided by the exact comparison.
const RATIO_BAND: f64 = 1e-5;

/// `f32` lanes of the widest vectors the canonical kernel is compiled for.
const PAD: usize = 8;

/// Canonical PCK of the frames of one work item, `D` coordinates per joint.
///
/// Joint `k` is correct at threshold `t` iff `sqrt(s_k) <= t * n` (`s_k` its
/// squared distance, summed in coordinate order as the reference does). Rather
/// than a square root and a per-frame threshold scaling per joint, the ratio
/// `r = s_k / n^2` is compared with `lo_t = t^2 (1 - RATIO_BAND)`, the same
/// for every frame: the `a` thresholds with `r >= lo_t` are a prefix (the
/// thresholds ascend), every later one is surely passed, and the prefix is
/// surely failed unless `r <= t^2 (1 + RATIO_BAND)` for its last threshold;
/// that rare joint takes the exact test. One pass over each frame gives the
/// squared distances and the finiteness of the ground truth together.
#[inline(always)]
fn count_canonical<T: Real, const D: usize>(
    poses: &PosePair<'_, T>,
    thresholds: &[f64],
    norm: Normaliser,
    out: &mut PckCounts,
) {
    let j = poses.joints;
    let nt = thresholds.len();
    let below: Vec<f32> = thresholds
        .iter()
        .map(|t| (t * t * (1.0 - RATIO_BAND)) as f32)
        .collect();
    let above_after: Vec<f32> = std::iter::once(f32::NEG_INFINITY)
        .chain(
            thresholds
                .iter()
                .map(|t| (t * t * (1.0 + RATIO_BAND)) as f32),
        )
        .collect();
    // The bands hold in f32 while every t^2 is 0 or well inside its normal range.
    let bands_hold = thresholds
        .iter()
        .all(|t| t * t == 0.0 || (1e-30..1e30).contains(&(t * t)));
    // Ratio rows padded to whole vectors; the padding ratio (+inf) fails every
    // threshold, settles at once and is never counted.
    let padded = j.next_multiple_of(PAD);
    let mut squares = vec![0.0; j];
    let mut gt_bits = vec![0u64; j];
    let mut ratios = vec![f32::INFINITY; padded];
    let mut failed = vec![0u32; padded];
    let mut scaled = vec![0.0; nt];
    // `above_after` at a fixed size, so the settling test needs no bounds check
    let mut above_fixed = [f32::INFINITY; 32];
    for (x, &a) in above_fixed.iter_mut().zip(&above_after) {
        *x = a;
    }
    for i in 0..poses.frames {
        let f = poses.frame(i);
        let n_visible = f.visible_count() as u64;
        if n_visible == 0 {
            out.empty_frames += 1;
            continue;
        }
        for (((s, z), p), g) in squares
            .iter_mut()
            .zip(gt_bits.iter_mut())
            .zip(f.pred.chunks_exact(D))
            .zip(f.gt.chunks_exact(D))
        {
            let (mut acc, mut check) = (0.0, 0u64);
            for c in 0..D {
                let gc = wide(g[c]);
                let e = wide(p[c]) - gc;
                acc += e * e;
                // g - g is +0.0 (all bits clear) for a finite g, NaN otherwise
                #[allow(clippy::eq_op)]
                let nan_unless_finite = gc - gc;
                check |= nan_unless_finite.to_bits();
            }
            *s = acc;
            *z = check;
        }
        let bad_gt = match f.visible {
            None => gt_bits.iter().fold(0, |a, z| a | z),
            Some(v) => v
                .iter()
                .zip(&gt_bits)
                .fold(0, |a, (&b, z)| a | (z & u64::from(b).wrapping_neg())),
        };
        let (value, fell_back) = match norm {
            _ if bad_gt != 0 => (None, false),
            // the torso or head pair, visible: the common case, kept inline
            Normaliser::Pair { a, b, scale, .. } if f.is_visible(a) && f.is_visible(b) => (
                Some(joint_distance::<T, D>(&f.gt[a * D..], &f.gt[b * D..]) * scale),
                false,
            ),
            _ => frame_normaliser(&f, j, norm),
        };
        let n = match value {
            Some(v) if v.is_finite() && v > 0.0 => v,
            _ => {
                out.unscoreable_frames += 1;
                out.unscoreable_joints += n_visible;
                continue;
            }
        };
        out.scored_frames += 1;
        out.fallback_frames += u64::from(fell_back);
        let n2 = n * n;
        let inv = 1.0 / n2;
        // with n^2 out of range every joint takes the exact test
        let ratios_hold = bands_hold && n2.is_normal() && inv.is_normal();
        for (r, s) in ratios.iter_mut().zip(&squares) {
            *r = (s * inv) as f32;
        }
        // failed[k]: the thresholds joint k does not surely pass (NaN: all of them)
        if nt <= 16 {
            failed.fill(0);
            for &lo in &below {
                for (a, &r) in failed.iter_mut().zip(&ratios) {
                    *a += u32::from(!(r < lo));
                }
            }
        } else {
            for (a, &r) in failed.iter_mut().zip(&ratios) {
                *a = first_passed(&below, |lo| r < lo) as u32;
            }
        }
        // A joint is settled unless its ratio lies in the band of the last
        // threshold it does not surely pass (`above_after[a] = t_{a-1}^2 (1 + band)`).
        let mut unsettled = !ratios_hold;
        if nt < above_fixed.len() {
            for (&a, &r) in failed.iter().zip(&ratios) {
                unsettled |= r <= above_fixed[a as usize & 31];
            }
        } else {
            for (&a, &r) in failed.iter().zip(&ratios) {
                unsettled |= r <= above_after[a as usize];
            }
        }
        if !unsettled {
            // branch-free: which threshold a joint first passes is data, not control flow
            match f.visible {
                None => {
                    for (k, &a) in failed[..j].iter().enumerate() {
                        out.correct[a as usize * j + k] += 1;
                    }
                }
                Some(v) => {
                    for (k, (&a, &b)) in failed.iter().zip(v).enumerate() {
                        out.correct[a as usize * j + k] += u64::from(b);
                    }
                }
            }
            continue;
        }
        for (s, &t) in scaled.iter_mut().zip(thresholds) {
            *s = t * n;
        }
        for k in (0..j).filter(|&k| f.is_visible(k)) {
            let a = failed[k] as usize;
            let first = if ratios_hold && !(ratios[k] <= above_after[a]) {
                a
            } else {
                let d = squares[k].sqrt();
                first_passed(&scaled, |tn| d <= tn)
            };
            out.correct[first * j + k] += 1;
        }
    }
}

/// [`count_canonical`] compiled for AVX2 (four `f64` lanes instead of two);
/// the same IEEE operations in the same order, so the same counts.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn count_canonical_avx2<T: Real, const D: usize>(
    poses: &PosePair<'_, T>,
    thresholds: &[f64],
    norm: Normaliser,
    out: &mut PckCounts,
) {
    count_canonical::<T, D>(poses, thresholds, norm, out)
}

fn count_canonical_best<T: Real, const D: usize>(
    poses: &PosePair<'_, T>,
    thresholds: &[f64],
    norm: Normaliser,
    out: &mut PckCounts,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        if let (3, Some(pred), Some(gt)) = (D, as_f32(poses.pred), as_f32(poses.gt)) {
            let poses32 = PosePair {
                pred,
                gt,
                visible: poses.visible,
                frames: poses.frames,
                pred_frames: poses.pred_frames,
                joints: poses.joints,
                dims: poses.dims,
            };
            if let Some(plan) = fast::Plan::new(&poses32, thresholds, norm) {
                // SAFETY: the CPU supports AVX2, checked above.
                unsafe { fast::count(&poses32, &plan, thresholds, norm, out) };
                return;
            }
        }
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { count_canonical_avx2::<T, D>(poses, thresholds, norm, out) };
        return;
    }
    count_canonical::<T, D>(poses, thresholds, norm, out)
}

/// The unmasked `f32` 3D canonical PCK with a pair normaliser (the common
/// case) in AVX2 vectors of 8 joints, all arithmetic in `f32`.
///
/// Per frame: the squared distances of 8 joints come from three vectors of
/// squared coordinate differences (`xyz` interleaved) by blends and lane
/// rotations, in a fixed lane order (`LANE_JOINT`) rather than joint order.
/// The ratio `r = s / n^2` is compared, as in [`count_canonical`], with bands
/// around each `t^2`: `a`, the number of thresholds `r` does not surely pass,
/// indexes (one lane permute) the upper band edge that settles the joint and a
/// code whose bit fields count, per threshold, the joints that pass it. The
/// codes add up in `u32` lanes that are flushed before a field can overflow.
///
/// Exactness: `s` and `r` in `f32` are a few roundings (under `1e-6`
/// relative) from exact as long as no value under- or overflows; the frame
/// checks keep `1/n^2` within `2^-40..2^40` and every settled `r` below
/// `2^40`, so `s` stays far from both ends of the `f32` range (a tiny `s` can
/// only be wrong by far less than the smallest band edge, `2^-61`). Any joint
/// inside a band, any `r` out of range or NaN (a non-finite ground truth or
/// prediction), and any frame with an unusable normaliser goes to
/// [`count_canonical`] for that frame alone.
#[cfg(target_arch = "x86_64")]
mod fast {
    use std::arch::x86_64::*;

    use super::{count_canonical, Normaliser, PckCounts, PosePair, RATIO_BAND};

    /// Joint (within its group of 8) held by each lane after the deinterleave.
    const LANE_JOINT: [usize; 8] = [0, 3, 6, 1, 4, 7, 2, 5];
    /// Ratios at or above this (and NaN) are out of range: the sentinel threshold.
    const R_MAX: f32 = (1u64 << 40) as f32;
    /// Range of `1/n^2` for which the `f32` ratios are trusted.
    const INV_MIN: f64 = 1.0 / (1u64 << 40) as f64;
    const INV_MAX: f64 = (1u64 << 40) as f64;

    pub(super) struct Plan {
        pair: (usize, usize, f64),
        /// `t^2 (1 - band)` per threshold, then the sentinel `R_MAX`.
        lo: Vec<f32>,
        /// Indexed by `a`: the upper band edge of threshold `a - 1` (`-inf`
        /// for `a = 0`, `+inf` for the sentinel: never settled).
        hi_prev: [f32; 8],
        /// Indexed by `a`: one in the field of every threshold `>= a`.
        code: [u32; 8],
        /// Bits per threshold field, and settled frames between flushes.
        width: u32,
        flush_every: u32,
        /// Joint of each group's first lane, and its lanes that count
        /// (the last group overlaps the previous one when `J % 8 != 0`).
        groups: Vec<(usize, [i32; 8])>,
    }

    impl Plan {
        /// `None` when the fast path does not apply.
        pub(super) fn new(
            poses: &PosePair<'_, f32>,
            thresholds: &[f64],
            norm: Normaliser,
        ) -> Option<Plan> {
            let nt = thresholds.len();
            let j = poses.joints;
            let Normaliser::Pair { a, b, scale, .. } = norm else {
                return None;
            };
            // t^2 between 2^-60 and 2^36: the bands stay below the sentinel and
            // far above the error of a tiny ratio. A zero threshold is left to the
            // general path: every exact zero error (a root joint) would sit in its band.
            let in_range = |t: f64| (2f64.powi(-60)..=2f64.powi(36)).contains(&(t * t));
            if poses.visible.is_some()
                || poses.dims != 3
                || !(8..=32).contains(&j)
                || !(1..=6).contains(&nt)
                || !thresholds.iter().all(|&t| in_range(t))
            {
                return None;
            }
            let mut lo: Vec<f32> = thresholds
                .iter()
                .map(|t| (t * t * (1.0 - RATIO_BAND)) as f32)
                .collect();
            lo.push(R_MAX);
            let mut hi_prev = [f32::INFINITY; 8];
            hi_prev[0] = f32::NEG_INFINITY;
            for (i, t) in thresholds.iter().enumerate() {
                hi_prev[i + 1] = (t * t * (1.0 + RATIO_BAND)) as f32;
            }
            let width = (32 / nt as u32).min(16);
            let mut code = [0u32; 8];
            for (first, c) in code.iter_mut().enumerate().take(nt + 1) {
                *c = (first..nt).map(|t| 1u32 << (width * t as u32)).sum();
            }
            let mut groups: Vec<(usize, [i32; 8])> = (0..j / 8).map(|g| (8 * g, [-1; 8])).collect();
            if j % 8 != 0 {
                let start = j - 8;
                let mut mask = [0; 8];
                for (m, &k) in mask.iter_mut().zip(&LANE_JOINT) {
                    *m = -i32::from(start + k >= 8 * (j / 8));
                }
                groups.push((start, mask));
            }
            Some(Plan {
                pair: (a, b, scale),
                lo,
                hi_prev,
                code,
                width,
                flush_every: (1 << width) - 1,
                groups,
            })
        }
    }

    /// Adds the codes of `acc` to the per-threshold pass counts `passed` (`[T, J]`).
    #[target_feature(enable = "avx2")]
    fn flush(plan: &Plan, acc: &mut [__m256i], passed: &mut [u64], j: usize) {
        let nt = plan.lo.len() - 1;
        let field = (1u32 << plan.width) - 1;
        for (a, &(start, mask)) in acc.iter_mut().zip(&plan.groups) {
            let mut lanes = [0u32; 8];
            // SAFETY: `lanes` holds 8 u32, one unaligned 256-bit store.
            unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), *a) };
            for l in 0..8 {
                if mask[l] == 0 {
                    continue;
                }
                let k = start + LANE_JOINT[l];
                for t in 0..nt {
                    passed[t * j + k] += u64::from((lanes[l] >> (plan.width * t as u32)) & field);
                }
            }
            *a = _mm256_setzero_si256();
        }
    }

    /// [`count_with`] for the plan's threshold count.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    pub(super) unsafe fn count(
        poses: &PosePair<'_, f32>,
        plan: &Plan,
        thresholds: &[f64],
        norm: Normaliser,
        out: &mut PckCounts,
    ) {
        macro_rules! by_groups {
            ($nt:literal) => {
                match plan.groups.len() {
                    1 => count_with::<$nt, 1>(poses, plan, thresholds, norm, out),
                    2 => count_with::<$nt, 2>(poses, plan, thresholds, norm, out),
                    3 => count_with::<$nt, 3>(poses, plan, thresholds, norm, out),
                    _ => count_with::<$nt, 4>(poses, plan, thresholds, norm, out),
                }
            };
        }
        // SAFETY: the caller checked AVX2.
        unsafe {
            match plan.lo.len() - 1 {
                1 => by_groups!(1),
                2 => by_groups!(2),
                3 => by_groups!(3),
                4 => by_groups!(4),
                5 => by_groups!(5),
                _ => by_groups!(6),
            }
        }
    }

    /// The kernel for `NT` thresholds and `G` groups of 8 joints: constant
    /// counts keep the threshold vectors and the accumulators in registers and
    /// unroll the loops over them.
    #[target_feature(enable = "avx2")]
    fn count_with<const NT: usize, const G: usize>(
        poses: &PosePair<'_, f32>,
        plan: &Plan,
        thresholds: &[f64],
        norm: Normaliser,
        out: &mut PckCounts,
    ) {
        let j = poses.joints;
        let nt = NT;
        debug_assert_eq!(plan.lo.len(), NT + 1);
        let mut lo = [_mm256_setzero_ps(); 7];
        for (v, &l) in lo.iter_mut().zip(&plan.lo) {
            *v = _mm256_set1_ps(l);
        }
        let per = 3 * j;
        let (a, b, scale) = plan.pair;
        let scale2 = scale * scale;
        debug_assert_eq!(plan.groups.len(), G);
        let mut starts = [0; G];
        let mut masks = [_mm256_setzero_si256(); G];
        for ((s, m), (start, mask)) in starts.iter_mut().zip(&mut masks).zip(&plan.groups) {
            *s = *start;
            // SAFETY: reads the 8 values of `mask`.
            *m = unsafe { _mm256_loadu_si256(mask.as_ptr().cast()) };
        }
        // SAFETY (loads below): each reads 8 values inside an array of 8.
        let hi_prev = unsafe { _mm256_loadu_ps(plan.hi_prev.as_ptr()) };
        let code = unsafe { _mm256_loadu_si256(plan.code.as_ptr().cast()) };
        let rot1 = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0);
        let rot2 = _mm256_setr_epi32(2, 3, 4, 5, 6, 7, 0, 1);
        let mut acc = [_mm256_setzero_si256(); G];
        let mut codes = [_mm256_setzero_si256(); G];
        let mut passed = vec![0u64; nt * j];
        let (mut settled, mut pending, mut fallbacks) = (0u64, 0u32, 0usize);
        for i in 0..poses.frames {
            let p = &poses.pred[i * per..(i + 1) * per];
            let g = &poses.gt[i * per..(i + 1) * per];
            // 1/n^2 from the squared pair distance, no square root: within 1e-15
            // of the general path's value; in range, n is surely finite and > 0
            let mut pair = 0.0;
            for c in 0..3 {
                let e = f64::from(g[a * 3 + c]) - f64::from(g[b * 3 + c]);
                pair += e * e;
            }
            let inv = 1.0 / (pair * scale2);
            let mut unsettled = !(INV_MIN..=INV_MAX).contains(&inv);
            if !unsettled {
                let vinv = _mm256_set1_ps(inv as f32);
                let mut bad = _mm256_setzero_ps();
                for (gi, &start) in starts.iter().enumerate() {
                    let o = 3 * start;
                    // SAFETY: start + 8 <= J, so the 24 values lie inside the frame.
                    let q = |k: usize| unsafe {
                        let d = _mm256_sub_ps(
                            _mm256_loadu_ps(p.as_ptr().add(o + 8 * k)),
                            _mm256_loadu_ps(g.as_ptr().add(o + 8 * k)),
                        );
                        _mm256_mul_ps(d, d)
                    };
                    let (qa, qb, qc) = (q(0), q(1), q(2));
                    // x of joints 0 3 6 1 4 7 2 5 (lanes 0..8), and y, z rotated into place
                    let x = _mm256_blend_ps(_mm256_blend_ps(qa, qb, 0b1001_0010), qc, 0b0010_0100);
                    let y = _mm256_blend_ps(_mm256_blend_ps(qa, qb, 0b0010_0100), qc, 0b0100_1001);
                    let z = _mm256_blend_ps(_mm256_blend_ps(qa, qb, 0b0100_1001), qc, 0b1001_0010);
                    let y = _mm256_permutevar8x32_ps(y, rot1);
                    let z = _mm256_permutevar8x32_ps(z, rot2);
                    let r = _mm256_mul_ps(_mm256_add_ps(_mm256_add_ps(x, y), z), vinv);
                    // a: thresholds (and the sentinel) not surely passed; NaN fails all
                    let mut failed = _mm256_setzero_si256();
                    for &l in &lo[..=NT] {
                        let m = _mm256_cmp_ps::<_CMP_NLT_UQ>(r, l);
                        failed = _mm256_sub_epi32(failed, _mm256_castps_si256(m));
                    }
                    let edge = _mm256_permutevar8x32_ps(hi_prev, failed);
                    bad = _mm256_or_ps(bad, _mm256_cmp_ps::<_CMP_NGT_UQ>(r, edge));
                    codes[gi] =
                        _mm256_and_si256(_mm256_permutevar8x32_epi32(code, failed), masks[gi]);
                }
                unsettled = _mm256_testz_ps(bad, bad) == 0;
            }
            if unsettled {
                fallbacks += 1;
                if fallbacks >= 32 && fallbacks * 8 > i {
                    // frequent (quantised data on the band edges, say): the rest
                    // of the work item is cheaper on the general path in one go
                    count_canonical::<f32, 3>(&poses.slice(i, poses.frames), thresholds, norm, out);
                    break;
                }
                count_canonical::<f32, 3>(&poses.slice(i, i + 1), thresholds, norm, out);
                continue;
            }
            for (s, &c) in acc.iter_mut().zip(&codes) {
                *s = _mm256_add_epi32(*s, c);
            }
            settled += 1;
            pending += 1;
            if pending == plan.flush_every {
                flush(plan, &mut acc, &mut passed, j);
                pending = 0;
            }
        }
        flush(plan, &mut acc, &mut passed, j);
        // passes per threshold -> first threshold passed (the extra row: none)
        out.scored_frames += settled;
        for k in 0..j {
            let mut prev = 0;
            for t in 0..nt {
                out.correct[t * j + k] += passed[t * j + k] - prev;
                prev = passed[t * j + k];
            }
            out.correct[nt * j + k] += settled - prev;
        }
    }
}

fn count_task<T: Real>(
    poses: &PosePair<'_, T>,
    thresholds: &[f64],
    norm: Normaliser,
    convention: Convention,
) -> PckCounts {
    let j = poses.joints;
    let nt = thresholds.len();
    let mut out = PckCounts::zeros(nt, j);
    if convention == Convention::Canonical {
        if poses.dims == 3 {
            count_canonical_best::<T, 3>(poses, thresholds, norm, &mut out);
        } else {
            count_canonical_best::<T, 2>(poses, thresholds, norm, &mut out);
        }
        return out;
    }
    let mut squares = vec![0.0; j * poses.dims];
    let mut distances = vec![0.0; j];
    for i in 0..poses.frames {
        let mut f = poses.frame(i);
        if !convention.masked() {
            f.visible = None;
        }
        let n_visible = f.visible_count() as u64;
        if n_visible == 0 {
            out.empty_frames += 1;
            continue;
        }
        if !f.gt_finite() {
            out.unscoreable_frames += 1;
            out.unscoreable_joints += n_visible;
            continue;
        }
        let (mut value, fell_back) = frame_normaliser(&f, j, norm);
        if convention == Convention::Wiflow {
            // torch.clamp semantics: NaN stays NaN
            value = value.map(|v| {
                if v.is_nan() {
                    v
                } else {
                    v.max(WIFLOW_MIN_NORM)
                }
            });
        }
        let usable = matches!(value, Some(v) if v.is_finite() && v > 0.0);
        if !usable {
            out.unscoreable_frames += 1;
            out.unscoreable_joints += n_visible;
            // MetaFi divides by the zero normaliser and keeps the frame:
            // its joints count, none of them correct.
            if convention == Convention::Metafi {
                for k in 0..j {
                    out.correct[nt * j + k] += 1;
                }
            }
            continue;
        }
        let n = value.unwrap_or(f64::NAN);
        out.scored_frames += 1;
        out.fallback_frames += u64::from(fell_back);
        if f.dims == 3 {
            score_legacy_joints::<T, 3>(
                &f,
                n,
                thresholds,
                convention,
                &mut squares,
                &mut distances,
                &mut out,
            );
        } else {
            score_legacy_joints::<T, 2>(
                &f,
                n,
                thresholds,
                convention,
                &mut squares,
                &mut distances,
                &mut out,
            );
        }
    }
    out
}

/// PCK counts of a batch at `thresholds` (fractions of the normaliser,
/// ascending). Runs in parallel on the current rayon pool; the counts are
/// integers, so any thread count gives the same result.
pub fn pck_counts<T: Real>(
    poses: &PosePair<'_, T>,
    thresholds: &[f64],
    norm: Normaliser,
    convention: Convention,
) -> CoreResult<PckCounts> {
    check_thresholds(thresholds)?;
    check_normaliser(norm, poses.joints)?;
    let (nt, j) = (thresholds.len(), poses.joints);
    let counts = (0..poses.tasks())
        .into_par_iter()
        .map(|t| {
            if crate::parallel::interrupted() {
                return PckCounts::zeros(nt, j); // dropped by the caller
            }
            count_task(&poses.task(t), thresholds, norm, convention)
        })
        .reduce(|| PckCounts::zeros(nt, j), PckCounts::add);
    Ok(counts.cumulate())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(
        pred: &[f64],
        gt: &[f64],
        vis: Option<&[bool]>,
        n: usize,
        j: usize,
    ) -> CoreResult<PckCounts> {
        let poses = PosePair::new(pred, gt, vis, n, j, 2)?;
        pck_counts(
            &poses,
            &[0.5, 1.0],
            Normaliser::Fixed(1.0),
            Convention::Canonical,
        )
    }

    #[test]
    fn tie_at_threshold_counts_as_correct() {
        // joint 0 off by exactly 0.5, joint 1 by 1.0
        let gt = [0.0, 0.0, 0.0, 0.0];
        let pred = [0.5, 0.0, 0.0, 1.0];
        let c = pair(&pred, &gt, None, 1, 2).unwrap();
        assert_eq!(c.correct, vec![1, 0, 1, 1]);
        assert_eq!(c.scored, vec![1, 1]);
    }

    #[test]
    fn frames_without_visible_joints_are_not_scored() {
        let gt = [0.0; 4];
        let c = pair(&gt, &gt, Some(&[false, false]), 1, 2).unwrap();
        assert_eq!(c.empty_frames, 1);
        assert_eq!(c.scored, vec![0, 0]);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(pair(&[0.0; 3], &[0.0; 4], None, 1, 2).is_err());
        let gt = [0.0; 4];
        let poses = PosePair::new(&gt[..], &gt[..], None, 1, 2, 2).unwrap();
        assert!(pck_counts(
            &poses,
            &[-1.0],
            Normaliser::Fixed(1.0),
            Convention::Canonical
        )
        .is_err());
        let bad = Normaliser::Pair {
            a: 0,
            b: 5,
            fallback: None,
            scale: 1.0,
        };
        assert!(pck_counts(&poses, &[0.1], bad, Convention::Canonical).is_err());
    }
}
