//! MPJPE: per-frame sums of joint position errors (Euclidean, in input
//! units) over the joints that count, after an optional alignment.
//!
//! Per-frame `(sum, count)` pairs rather than a mean let the caller reduce a
//! whole split in one fixed order, so a streaming accumulator and a one-shot
//! call agree bit for bit.
//!
//! Non-finite values (the policy of `csipose.metrics`): a frame with a
//! non-finite ground-truth coordinate in a joint that counts is not scored
//! (count 0) and counted as unscoreable; a frame whose prediction has a
//! non-finite coordinate in a joint that counts has an infinite error sum,
//! so no mean over it can look accurate.

use rayon::prelude::*;

use super::poses::{cross_matrix, distance, frame_distances, Frame, PosePair, FRAMES_PER_TASK};
use super::procrustes::align_similarity;
use crate::element::Real;
use crate::error::{CoreError, CoreResult};

/// What is removed from the prediction before errors are measured.
#[derive(Clone, Debug, PartialEq)]
pub enum Align {
    /// Raw coordinates.
    None,
    /// Both poses translated so their roots (the mean of these joints) meet.
    Root(Vec<usize>),
    /// Root-aligned, then the prediction scaled by the least-squares factor
    /// `s = <p, g> / <p, p>` over the counted joints.
    Scale(Vec<usize>),
    /// Similarity Procrustes (rotation, uniform scale, translation) fitted
    /// on the counted joints.
    Procrustes,
}

impl Align {
    pub fn parse(name: &str, root: Vec<usize>) -> CoreResult<Self> {
        match name {
            "none" => Ok(Align::None),
            "root" => Ok(Align::Root(root)),
            "scale" => Ok(Align::Scale(root)),
            "procrustes" => Ok(Align::Procrustes),
            other => Err(CoreError::argument(
                "align",
                format!("expected 'none', 'root', 'scale' or 'procrustes', got {other:?}"),
            )),
        }
    }

    fn root(&self) -> Option<&[usize]> {
        match self {
            Align::Root(r) | Align::Scale(r) => Some(r),
            _ => None,
        }
    }
}

/// Error sums and joint counts, one pair per frame. A frame counts no joint
/// when none is visible, (root and scale alignment) a root joint is not, or
/// its ground truth cannot be scored.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameErrors {
    pub sums: Vec<f64>,
    pub counts: Vec<u32>,
    /// Frames with a non-finite ground-truth coordinate in a joint that counts.
    pub unscoreable_frames: u64,
}

/// Mean of the root joints' positions.
fn centre(root: &[usize], at: impl Fn(usize) -> [f64; 3]) -> [f64; 3] {
    let mut c = [0.0; 3];
    for &r in root {
        let x = at(r);
        for k in 0..3 {
            c[k] += x[k];
        }
    }
    c.map(|v| v / root.len() as f64)
}

/// Per-task buffers, so that no frame allocates or zeroes memory.
struct Scratch {
    pred: Vec<[f64; 3]>,
    gt: Vec<[f64; 3]>,
    squares: Vec<f64>,
    distances: Vec<f64>,
}

impl Scratch {
    fn new(joints: usize, dims: usize) -> Self {
        Scratch {
            pred: Vec::with_capacity(joints),
            gt: Vec::with_capacity(joints),
            squares: vec![0.0; joints * dims],
            distances: vec![0.0; joints],
        }
    }
}

/// Error sum and count over visible joints, after subtracting the
/// `(pred, gt)` root centres when given: the same arithmetic as the copying
/// path, without the copy.
fn direct_sum<T: Real>(
    f: &Frame<'_, T>,
    centres: Option<([f64; 3], [f64; 3])>,
    scratch: &mut Scratch,
) -> (f64, u32) {
    match (f.dims, centres) {
        (3, None) => direct_sum_raw::<T, 3>(f, scratch),
        (_, None) => direct_sum_raw::<T, 2>(f, scratch),
        (_, Some((cp, cg))) => {
            let (mut sum, mut count) = (0.0, 0u32);
            for k in (0..f.pred.len() / f.dims).filter(|&k| f.is_visible(k)) {
                let (mut p, mut g) = (f.pred_at(k), f.gt_at(k));
                for c in 0..f.dims {
                    p[c] -= cp[c];
                    g[c] -= cg[c];
                }
                sum += distance(&p, &g, f.dims);
                count += 1;
            }
            (sum, count)
        }
    }
}

fn direct_sum_raw<T: Real, const D: usize>(f: &Frame<'_, T>, scratch: &mut Scratch) -> (f64, u32) {
    let dist = &mut scratch.distances;
    frame_distances::<T, D>(f.pred, f.gt, &mut scratch.squares, dist);
    if f.visible.is_none() {
        return (dist.iter().fold(0.0, |s, d| s + d), dist.len() as u32);
    }
    let (mut sum, mut count) = (0.0, 0u32);
    for (k, d) in dist.iter().enumerate() {
        if f.is_visible(k) {
            sum += d;
            count += 1;
        }
    }
    (sum, count)
}

fn frame_error<T: Real>(
    poses: &PosePair<'_, T>,
    i: usize,
    align: &Align,
    scratch: &mut Scratch,
) -> (f64, u32) {
    let f = poses.frame(i);
    let dims = f.dims;
    if let Some(root) = align.root() {
        if root.iter().any(|&r| !f.is_visible(r)) {
            return (0.0, 0);
        }
    }
    // The common cases need no copy of the frame, and look for a non-finite
    // coordinate only when the error sum is not finite.
    let direct = match align {
        Align::None => Some(direct_sum(&f, None, scratch)),
        Align::Root(root) => {
            let centres = (centre(root, |r| f.pred_at(r)), centre(root, |r| f.gt_at(r)));
            Some(direct_sum(&f, Some(centres), scratch))
        }
        _ => None,
    };
    if let Some((sum, count)) = direct {
        if sum.is_finite() {
            return (sum, count);
        }
    }
    if !f.gt_finite() {
        return (f64::NAN, 0);
    }
    if !f.pred_finite() {
        let counted = f.visible_count();
        let sum = if counted > 0 { f64::INFINITY } else { 0.0 };
        return (sum, counted as u32);
    }
    if let Some(finite_inputs_overflowed) = direct {
        return finite_inputs_overflowed;
    }
    let Scratch { pred, gt, .. } = scratch;
    pred.clear();
    gt.clear();
    for k in (0..poses.joints).filter(|&k| f.is_visible(k)) {
        pred.push(f.pred_at(k));
        gt.push(f.gt_at(k));
    }
    if pred.is_empty() {
        return (0.0, 0);
    }
    match align {
        Align::None => {}
        Align::Root(root) | Align::Scale(root) => {
            let (cp, cg) = (centre(root, |r| f.pred_at(r)), centre(root, |r| f.gt_at(r)));
            for (p, g) in pred.iter_mut().zip(gt.iter_mut()) {
                for k in 0..dims {
                    p[k] -= cp[k];
                    g[k] -= cg[k];
                }
            }
            if matches!(align, Align::Scale(_)) {
                let (mut pg, mut pp) = (0.0, 0.0);
                for (p, g) in pred.iter().zip(gt.iter()) {
                    for k in 0..dims {
                        pg += p[k] * g[k];
                        pp += p[k] * p[k];
                    }
                }
                // a prediction collapsed onto its root stays there whatever the factor
                let s = if pp > 0.0 { pg / pp } else { 0.0 };
                for p in pred.iter_mut() {
                    for v in p.iter_mut().take(dims) {
                        *v *= s;
                    }
                }
            }
        }
        Align::Procrustes => align_similarity(pred, gt, dims),
    }
    let sum = pred
        .iter()
        .zip(gt.iter())
        .map(|(p, g)| distance(p, g, dims))
        .sum();
    (sum, pred.len() as u32)
}

/// Per-frame error sums and counts of a batch.
pub fn mpjpe_frames<T: Real>(poses: &PosePair<'_, T>, align: &Align) -> CoreResult<FrameErrors> {
    if let Some(root) = align.root() {
        if root.is_empty() {
            return Err(CoreError::argument(
                "root",
                "expected at least one root joint",
            ));
        }
        if let Some(&r) = root.iter().find(|&&r| r >= poses.joints) {
            return Err(CoreError::argument(
                "root",
                format!("joint {r} is out of range for {} joints", poses.joints),
            ));
        }
    }
    let mut sums = vec![0.0; poses.frames];
    let mut counts = vec![0u32; poses.frames];
    sums.par_chunks_mut(FRAMES_PER_TASK)
        .zip(counts.par_chunks_mut(FRAMES_PER_TASK))
        .enumerate()
        .for_each(|(t, (s, c))| {
            if crate::parallel::interrupted() {
                return;
            }
            let task = poses.task(t);
            let mut scratch = Scratch::new(poses.joints, poses.dims);
            for i in 0..task.frames {
                (s[i], c[i]) = frame_error(&task, i, align, &mut scratch);
            }
        });
    // an unscoreable frame comes back as (NaN, 0): count it, then report (0, 0)
    let mut unscoreable_frames = 0;
    for (s, _) in sums
        .iter_mut()
        .zip(&counts)
        .filter(|(s, &c)| c == 0 && s.is_nan())
    {
        *s = 0.0;
        unscoreable_frames += 1;
    }
    Ok(FrameErrors {
        sums,
        counts,
        unscoreable_frames,
    })
}

/// Mean joint distance over ground-truth-visible joints of every
/// (prediction, ground truth) pair of crossed poses: row-major `[P, N]`,
/// `+inf` (a forbidden pair) where the ground truth cannot be scored (no
/// visible joint, a non-finite one) or the prediction has a non-finite joint.
pub fn joint_distance_cost<T: Real>(poses: &PosePair<'_, T>) -> Vec<f64> {
    cross_matrix(poses, |f, _, _| {
        // A non-finite visible coordinate (either side) makes `sum` non-finite: +inf below.
        let (mut sum, mut count) = (0.0, 0usize);
        for k in (0..poses.joints).filter(|&k| f.is_visible(k)) {
            sum += distance(&f.pred_at(k), &f.gt_at(k), f.dims);
            count += 1;
        }
        if count == 0 || !sum.is_finite() {
            f64::INFINITY
        } else {
            sum / count as f64
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_alignment_removes_a_translation() {
        let gt = [0.0, 0.0, 1.0, 0.0];
        let pred = [5.0, 5.0, 6.0, 5.0];
        let poses = PosePair::new(&pred[..], &gt[..], None, 1, 2, 2).unwrap();
        let e = mpjpe_frames(&poses, &Align::Root(vec![0])).unwrap();
        assert_eq!(e.sums, vec![0.0]);
        assert_eq!(e.counts, vec![2]);
        let e = mpjpe_frames(&poses, &Align::None).unwrap();
        assert!((e.sums[0] - 2.0 * 50f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn invisible_root_skips_the_frame() {
        let gt = [0.0; 4];
        let poses = PosePair::new(&gt[..], &gt[..], Some(&[false, true]), 1, 2, 2).unwrap();
        let e = mpjpe_frames(&poses, &Align::Root(vec![0])).unwrap();
        assert_eq!(e.counts, vec![0]);
        assert!(mpjpe_frames(&poses, &Align::Root(vec![2])).is_err());
    }

    #[test]
    fn non_finite_gt_is_unscoreable_and_prediction_fails() {
        let gt = [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, f64::NAN];
        let pred = [0.0, 0.0, 1.0, 0.0, 0.0, f64::INFINITY, 1.0, 0.0];
        let poses = PosePair::new(&pred[..], &gt[..], None, 2, 2, 2).unwrap();
        for align in [Align::None, Align::Root(vec![0]), Align::Procrustes] {
            let e = mpjpe_frames(&poses, &align).unwrap();
            assert_eq!(e.counts, vec![2, 0]);
            assert!(e.sums[0].abs() < 1e-12 && e.sums[1] == 0.0);
            assert_eq!(e.unscoreable_frames, 1);
        }
        let poses = PosePair::new(&pred[4..], &gt[..4], None, 1, 2, 2).unwrap();
        let e = mpjpe_frames(&poses, &Align::None).unwrap();
        assert_eq!((e.sums[0], e.counts[0]), (f64::INFINITY, 2));
    }
}
