//! COCO keypoint evaluation (OKS-AP), the protocol of pycocotools' `COCOeval`
//! with `iouType="keypoints"`, step for step:
//!
//! 1. per (category, image) unit: detections sorted by score (stable), cut to
//!    `max_det`; OKS of every (detection, GT) pair;
//! 2. per unit and area range: GTs outside the range (or crowd / without
//!    keypoints) are ignored and sorted last; at each OKS threshold every
//!    detection, best score first, takes the unmatched GT of highest OKS
//!    (>= threshold), preferring GTs that are not ignored; a detection matched
//!    to an ignored GT, or unmatched and outside the area range, is ignored;
//! 3. per (category, area range): all detections pooled and sorted by score
//!    (stable), precision made monotone and read at the recall thresholds.
//!
//! Keypoints have `Params::dims` coordinates: 2 (COCO's image `x, y`) or 3
//! (`x, y, z`, OKS on the 3-D Euclidean distance with the same formula). Two
//! parts of COCO are 2-D notions: a GT without labelled keypoints is scored
//! by the distance to a box 3x its box in 2-D only (in 3-D it is never
//! matched), and a detection's area (for the area ranges) is that of the box
//! of its `x, y` in both cases.
//!
//! The `Optimal` option replaces step 2's greedy pass by a least-cost
//! assignment on `1 - OKS` among pairs with OKS >= threshold (most true
//! positives first), then lets the remaining detections fall on ignored GTs as
//! COCO does.
//!
//! [`evaluate_similarity`] runs steps 2 and 3 on a similarity the caller
//! computed per (detection, GT) pair in place of OKS (DensePose's GPSm), so
//! every AP of the crate shares this one protocol.

use rayon::prelude::*;

use super::oks::{frame_oks, joint_similarity, numpy_sum};
use super::poses::Frame;
use crate::error::{CoreError, CoreResult};
use crate::matching::solve;

/// How detections are assigned to GTs at each threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    Greedy,
    Optimal,
}

impl Matching {
    pub fn parse(s: &str) -> CoreResult<Self> {
        match s {
            "greedy" => Ok(Matching::Greedy),
            "optimal" => Ok(Matching::Optimal),
            _ => Err(CoreError::argument(
                "matching",
                format!("expected 'greedy' or 'optimal', got {s:?}"),
            )),
        }
    }
}

/// Ground truth of all units, sorted by unit (CSR by `offsets`).
pub struct GroundTruth<'a> {
    /// `[G, J, dims]`: x, y (, z).
    pub keypoints: &'a [f64],
    /// `[G, J]`: labelled joints (COCO's `v > 0`).
    pub visible: &'a [bool],
    pub areas: &'a [f64],
    /// `[G, 4]`: x, y, w, h.
    pub bboxes: &'a [f64],
    /// Crowd, without labelled keypoints, or with a non-finite labelled one.
    pub ignore: &'a [bool],
    pub iscrowd: &'a [bool],
    pub offsets: &'a [usize],
}

/// Detections of all units, sorted by unit.
pub struct Detections<'a> {
    /// `[D, J, dims]`: x, y (, z).
    pub keypoints: &'a [f64],
    pub scores: &'a [f64],
    pub offsets: &'a [usize],
}

/// What steps 2 and 3 read of every unit, whatever the similarity: the GTs and
/// detections of unit `u` are `gt_offsets[u]..gt_offsets[u + 1]` and
/// `dt_offsets[u]..dt_offsets[u + 1]`.
pub struct Units<'a> {
    pub gt_areas: &'a [f64],
    /// Crowd, or a GT that cannot be scored: never a positive.
    pub gt_ignore: &'a [bool],
    pub gt_iscrowd: &'a [bool],
    pub gt_offsets: &'a [usize],
    pub dt_scores: &'a [f64],
    /// A detection's area, the key of the area ranges.
    pub dt_areas: &'a [f64],
    pub dt_offsets: &'a [usize],
}

/// COCO's `loadRes`: a detection's area is that of the box around all its
/// keypoints, in `x, y` (the area ranges are a 2-D notion; `z` is not used).
fn detection_areas(keypoints: &[f64], joints: usize, dims: usize) -> Vec<f64> {
    if joints == 0 {
        return Vec::new();
    }
    keypoints
        .chunks_exact(dims * joints)
        .map(|pose| {
            let (mut x0, mut x1, mut y0, mut y1) = (
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
            );
            for xy in pose.chunks_exact(dims) {
                x0 = x0.min(xy[0]);
                x1 = x1.max(xy[0]);
                y0 = y0.min(xy[1]);
                y1 = y1.max(xy[1]);
            }
            (x1 - x0) * (y1 - y0)
        })
        .collect()
}

pub struct Params<'a> {
    /// Coordinates per keypoint: 2 (`x, y`) or 3 (`x, y, z`).
    pub dims: usize,
    pub sigmas: &'a [f64],
    pub iou_thrs: &'a [f64],
    pub rec_thrs: &'a [f64],
    /// `[A, 2]`: lower and upper area bound.
    pub area_rngs: &'a [f64],
    pub max_det: usize,
    pub n_categories: usize,
    pub n_images: usize,
    pub matching: Matching,
}

/// Precision `[T, R, K, A]` and recall `[T, K, A]`, `-1` where undefined.
pub struct Accumulated {
    pub precision: Vec<f64>,
    pub recall: Vec<f64>,
}

/// Step-2 result of one unit and area range.
struct ImageEval {
    scores: Vec<f64>,
    /// `[T, D]`.
    matched: Vec<bool>,
    /// `[T, D]`.
    ignored: Vec<bool>,
    /// GTs that count (not ignored).
    n_positive: usize,
}

/// A unit's detections `d0..d1`, best score first (stable), cut to `max_det`.
fn score_order(scores: &[f64], d0: usize, d1: usize, max_det: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (d0..d1).collect();
    order.sort_by(|&a, &b| {
        scores[b]
            .partial_cmp(&scores[a])
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    order.truncate(max_det);
    order
}

/// Step 1: detection order and the `[D, G]` OKS matrix of one unit.
fn unit_oks(
    gt: &GroundTruth,
    dt: &Detections,
    p: &Params,
    vars: &[f64],
    unit: usize,
) -> (Vec<usize>, Vec<f64>) {
    let j = p.sigmas.len();
    let dims = p.dims;
    let (g0, g1) = (gt.offsets[unit], gt.offsets[unit + 1]);
    let (d0, d1) = (dt.offsets[unit], dt.offsets[unit + 1]);
    let order = score_order(dt.scores, d0, d1, p.max_det);
    let n_gt = g1 - g0;
    let mut oks = vec![0.0; order.len() * n_gt];
    let mut terms = Vec::with_capacity(j);
    for g in 0..n_gt {
        let target = &gt.keypoints[(g0 + g) * j * dims..(g0 + g + 1) * j * dims];
        let vis = &gt.visible[(g0 + g) * j..(g0 + g + 1) * j];
        let area = gt.areas[g0 + g];
        let b = &gt.bboxes[(g0 + g) * 4..(g0 + g + 1) * 4];
        let (x0, x1) = (b[0] - b[2], b[0] + b[2] * 2.0);
        let (y0, y1) = (b[1] - b[3], b[1] + b[3] * 2.0);
        let labelled = vis.iter().any(|&v| v);
        for (row, &d) in order.iter().enumerate() {
            let pose = &dt.keypoints[d * j * dims..(d + 1) * j * dims];
            let pair = Frame {
                pred: pose,
                gt: target,
                visible: Some(vis),
                dims,
            };
            oks[row * n_gt + g] = match frame_oks(&pair, vars, area, &mut terms) {
                Some(value) => value,
                // a labelled GT with a non-finite joint is ignored and never matched
                None if labelled => 0.0,
                // the 3x-box distance is a 2-D notion: in 3-D such a GT is never matched
                None if dims != 2 => 0.0,
                None => {
                    // COCO: without labelled joints, the distance to a box 3x the GT box.
                    terms.clear();
                    terms.extend((0..j).map(|k| {
                        let (xd, yd) = (pose[2 * k], pose[2 * k + 1]);
                        let dx = (x0 - xd).max(0.0) + (xd - x1).max(0.0);
                        let dy = (y0 - yd).max(0.0) + (yd - y1).max(0.0);
                        joint_similarity(dx * dx + dy * dy, vars[k], area)
                    }));
                    numpy_sum(&terms) / j as f64
                }
            };
        }
    }
    (order, oks)
}

/// COCO's greedy pass at one threshold: each detection of `dets` (best score
/// first) takes the best GT of `gt_sorted` (not ignored first) with OKS >= `thr`.
#[allow(clippy::too_many_arguments)]
fn greedy(
    oks: &[f64],
    n_gt: usize,
    gt_sorted: &[usize],
    gt_ignored: &[bool],
    crowd: &[bool],
    thr: f64,
    dets: impl Iterator<Item = usize>,
    gt_matched: &mut [bool],
    matched: &mut [bool],
    ignored: &mut [bool],
) {
    for d in dets {
        let mut best = thr.min(1.0 - 1e-10);
        let mut m: Option<usize> = None;
        for (gi, &g) in gt_sorted.iter().enumerate() {
            if gt_matched[gi] && !crowd[gi] {
                continue;
            }
            if let Some(mi) = m {
                if !gt_ignored[mi] && gt_ignored[gi] {
                    break;
                }
            }
            let value = oks[d * n_gt + g];
            if value < best {
                continue;
            }
            best = value;
            m = Some(gi);
        }
        if let Some(mi) = m {
            ignored[d] = gt_ignored[mi];
            matched[d] = true;
            gt_matched[mi] = true;
        }
    }
}

/// Step 2 for one unit and area range; `None` when the unit has neither GTs nor detections.
#[allow(clippy::too_many_arguments)]
fn evaluate_image(
    units: &Units,
    p: &Params,
    unit: usize,
    order: &[usize],
    oks: &[f64],
    lo: f64,
    hi: f64,
) -> CoreResult<Option<ImageEval>> {
    let (g0, g1) = (units.gt_offsets[unit], units.gt_offsets[unit + 1]);
    let n_gt = g1 - g0;
    let n_dt = order.len();
    if n_gt == 0 && n_dt == 0 {
        return Ok(None);
    }
    let ig: Vec<bool> = (g0..g1)
        .map(|g| units.gt_ignore[g] || units.gt_areas[g] < lo || units.gt_areas[g] > hi)
        .collect();
    let mut gt_sorted: Vec<usize> = (0..n_gt).collect();
    gt_sorted.sort_by_key(|&g| ig[g]);
    let gt_ignored: Vec<bool> = gt_sorted.iter().map(|&g| ig[g]).collect();
    let crowd: Vec<bool> = gt_sorted
        .iter()
        .map(|&g| units.gt_iscrowd[g0 + g])
        .collect();
    let n_positive = gt_ignored.iter().filter(|&&x| !x).count();
    let t_count = p.iou_thrs.len();
    let mut matched = vec![false; t_count * n_dt];
    let mut ignored = vec![false; t_count * n_dt];
    if n_gt > 0 && n_dt > 0 {
        // Optimal matching's second pass: crowd GTs among the ignored ones (same for every threshold).
        let crowd_ignored: Vec<bool> = match p.matching {
            Matching::Optimal => crowd
                .iter()
                .enumerate()
                .map(|(gi, &c)| c && gi >= n_positive)
                .collect(),
            Matching::Greedy => Vec::new(),
        };
        for (t, &thr) in p.iou_thrs.iter().enumerate() {
            let mt = &mut matched[t * n_dt..(t + 1) * n_dt];
            let it = &mut ignored[t * n_dt..(t + 1) * n_dt];
            let mut gt_matched = vec![false; n_gt];
            match p.matching {
                Matching::Greedy => greedy(
                    oks,
                    n_gt,
                    &gt_sorted,
                    &gt_ignored,
                    &crowd,
                    thr,
                    0..n_dt,
                    &mut gt_matched,
                    mt,
                    it,
                ),
                Matching::Optimal => {
                    let gate = thr.min(1.0 - 1e-10);
                    let cost: Vec<f64> = (0..n_dt)
                        .flat_map(|d| {
                            gt_sorted[..n_positive].iter().map(move |&g| {
                                let value = oks[d * n_gt + g];
                                if value >= gate {
                                    1.0 - value
                                } else {
                                    f64::INFINITY
                                }
                            })
                        })
                        .collect();
                    let a = solve(&cost, n_dt, n_positive, None)?;
                    for (&d, &gi) in a.rows.iter().zip(&a.cols) {
                        mt[d] = true;
                        gt_matched[gi] = true;
                    }
                    let rest: Vec<usize> = (0..n_dt).filter(|&d| !mt[d]).collect();
                    // Only ignored GTs are left for the rest: mark the others taken.
                    let mut taken = gt_matched.clone();
                    taken[..n_positive].fill(true);
                    greedy(
                        oks,
                        n_gt,
                        &gt_sorted,
                        &gt_ignored,
                        &crowd_ignored,
                        thr,
                        rest.into_iter(),
                        &mut taken,
                        mt,
                        it,
                    );
                }
            }
        }
    }
    let scores: Vec<f64> = order.iter().map(|&d| units.dt_scores[d]).collect();
    for (d, &di) in order.iter().enumerate() {
        let outside = units.dt_areas[di] < lo || units.dt_areas[di] > hi;
        for t in 0..t_count {
            let k = t * n_dt + d;
            ignored[k] = ignored[k] || (!matched[k] && outside);
        }
    }
    Ok(Some(ImageEval {
        scores,
        matched,
        ignored,
        n_positive,
    }))
}

/// Step 3 for one category and area range: writes `precision[t, r]` and `recall[t]`.
fn accumulate(evals: &[&ImageEval], p: &Params, precision: &mut [f64], recall: &mut [f64]) {
    let n_positive: usize = evals.iter().map(|e| e.n_positive).sum();
    if evals.is_empty() || n_positive == 0 {
        return;
    }
    let mut pooled: Vec<(f64, usize, usize)> = Vec::new();
    for (e, ev) in evals.iter().enumerate() {
        pooled.extend(ev.scores.iter().enumerate().map(|(d, &s)| (s, e, d)));
    }
    pooled.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    let n_rec = p.rec_thrs.len();
    let npig = n_positive as f64;
    for t in 0..p.iou_thrs.len() {
        let mut rc = Vec::with_capacity(pooled.len());
        let mut pr = Vec::with_capacity(pooled.len());
        let (mut tp, mut fp) = (0.0f64, 0.0f64);
        for &(_, e, d) in &pooled {
            let ev = evals[e];
            let k = t * ev.scores.len() + d;
            if ev.ignored[k] {
                // Neither a true nor a false positive, yet still a point of the curve.
            } else if ev.matched[k] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            rc.push(tp / npig);
            pr.push(tp / (fp + tp + f64::EPSILON));
        }
        recall[t] = rc.last().copied().unwrap_or(0.0);
        for i in (1..pr.len()).rev() {
            if pr[i] > pr[i - 1] {
                pr[i - 1] = pr[i];
            }
        }
        let row = &mut precision[t * n_rec..(t + 1) * n_rec];
        let mut i = 0;
        for (r, &thr) in p.rec_thrs.iter().enumerate() {
            while i < rc.len() && rc[i] < thr {
                i += 1;
            }
            row[r] = if i < rc.len() { pr[i] } else { 0.0 };
        }
    }
}

/// Checks that the flat arrays agree with `offsets`, `sigmas` and `dims`
/// (the binding checks shapes first; this keeps the kernel from indexing out of bounds).
fn check_layout(gt: &GroundTruth, dt: &Detections, p: &Params) -> CoreResult<()> {
    let j = p.sigmas.len();
    let n_units = p.n_categories * p.n_images;
    let n_gt = gt.offsets.last().copied().unwrap_or(0);
    let n_dt = dt.offsets.last().copied().unwrap_or(0);
    let checks: [(&str, usize, usize); 10] = [
        ("gt_offsets", gt.offsets.len(), n_units + 1),
        ("dt_offsets", dt.offsets.len(), n_units + 1),
        ("gt_keypoints", gt.keypoints.len(), n_gt * j * p.dims),
        ("gt_visible", gt.visible.len(), n_gt * j),
        ("gt_areas", gt.areas.len(), n_gt),
        ("gt_bboxes", gt.bboxes.len(), n_gt * 4),
        ("gt_ignore", gt.ignore.len(), n_gt),
        ("gt_iscrowd", gt.iscrowd.len(), n_gt),
        ("dt_keypoints", dt.keypoints.len(), n_dt * j * p.dims),
        ("dt_scores", dt.scores.len(), n_dt),
    ];
    check_lengths(&checks, p)?;
    check_offsets("gt_offsets", gt.offsets)?;
    check_offsets("dt_offsets", dt.offsets)
}

/// Checks each `(argument, length, expected length)` and that `area_rngs` holds pairs.
fn check_lengths(checks: &[(&str, usize, usize)], p: &Params) -> CoreResult<()> {
    for &(arg, got, expected) in checks {
        if got != expected {
            return Err(CoreError::shape(
                arg,
                format!("{expected} values"),
                format!("{got} values"),
            ));
        }
    }
    if p.area_rngs.len() % 2 != 0 {
        return Err(CoreError::shape(
            "area_rngs",
            "(A, 2)",
            format!("{} values", p.area_rngs.len()),
        ));
    }
    Ok(())
}

/// Checks that `offsets` are non-decreasing from 0.
fn check_offsets(arg: &str, offsets: &[usize]) -> CoreResult<()> {
    if offsets.first().is_some_and(|&o| o != 0) || offsets.windows(2).any(|w| w[0] > w[1]) {
        return Err(CoreError::argument(
            arg,
            "expected non-decreasing offsets from 0",
        ));
    }
    Ok(())
}

/// Runs the whole protocol. Units are ordered category-major:
/// `unit = k * n_images + i`.
pub fn evaluate(gt: &GroundTruth, dt: &Detections, p: &Params) -> CoreResult<Accumulated> {
    if !matches!(p.dims, 2 | 3) {
        return Err(CoreError::argument(
            "dims",
            format!(
                "expected 2 (x, y) or 3 (x, y, z) coordinates, got {}",
                p.dims
            ),
        ));
    }
    check_layout(gt, dt, p)?;
    let vars: Vec<f64> = p.sigmas.iter().map(|s| (s * 2.0) * (s * 2.0)).collect();
    let dt_areas = detection_areas(dt.keypoints, p.sigmas.len(), p.dims);
    let units = Units {
        gt_areas: gt.areas,
        gt_ignore: gt.ignore,
        gt_iscrowd: gt.iscrowd,
        gt_offsets: gt.offsets,
        dt_scores: dt.scores,
        dt_areas: &dt_areas,
        dt_offsets: dt.offsets,
    };
    run(&units, p, |unit| unit_oks(gt, dt, p, &vars, unit))
}

/// Steps 2 and 3 on a similarity the caller computed in place of OKS.
///
/// `similarity` holds, unit after unit, each unit's `[D_u, G_u]` block
/// (detections in the order of `units`, GTs in theirs); a pair matches at a
/// threshold when its similarity is at least the threshold, as with OKS.
/// `p.dims` and `p.sigmas` are not read.
pub fn evaluate_similarity(
    units: &Units,
    similarity: &[f64],
    p: &Params,
) -> CoreResult<Accumulated> {
    let n_units = p.n_categories * p.n_images;
    for (arg, offsets) in [
        ("gt_offsets", units.gt_offsets),
        ("dt_offsets", units.dt_offsets),
    ] {
        if offsets.len() != n_units + 1 {
            return Err(CoreError::shape(
                arg,
                format!("{} values", n_units + 1),
                format!("{} values", offsets.len()),
            ));
        }
        check_offsets(arg, offsets)?;
    }
    let (n_gt, n_dt) = (units.gt_offsets[n_units], units.dt_offsets[n_units]);
    let blocks: Vec<usize> = std::iter::once(0)
        .chain((0..n_units).scan(0, |at, u| {
            let d = units.dt_offsets[u + 1] - units.dt_offsets[u];
            let g = units.gt_offsets[u + 1] - units.gt_offsets[u];
            *at += d * g;
            Some(*at)
        }))
        .collect();
    let checks: [(&str, usize, usize); 6] = [
        ("gt_areas", units.gt_areas.len(), n_gt),
        ("gt_ignore", units.gt_ignore.len(), n_gt),
        ("gt_iscrowd", units.gt_iscrowd.len(), n_gt),
        ("dt_scores", units.dt_scores.len(), n_dt),
        ("dt_areas", units.dt_areas.len(), n_dt),
        ("similarity", similarity.len(), blocks[n_units]),
    ];
    check_lengths(&checks, p)?;
    if similarity.iter().any(|v| v.is_nan()) {
        return Err(CoreError::non_finite(
            "similarity",
            "expected no NaN (a pair that may never match has similarity 0)",
        ));
    }
    run(units, p, |unit| {
        let (d0, d1) = (units.dt_offsets[unit], units.dt_offsets[unit + 1]);
        let n_gt = units.gt_offsets[unit + 1] - units.gt_offsets[unit];
        let order = score_order(units.dt_scores, d0, d1, p.max_det);
        let block = &similarity[blocks[unit]..blocks[unit + 1]];
        let sorted = order
            .iter()
            .flat_map(|&d| block[(d - d0) * n_gt..(d - d0 + 1) * n_gt].iter().copied())
            .collect();
        (order, sorted)
    })
}

/// Steps 2 and 3, given step 1 of each unit: its detection order and their
/// `[D, G]` similarity to its GTs.
fn run(
    units: &Units,
    p: &Params,
    step1: impl Fn(usize) -> (Vec<usize>, Vec<f64>) + Sync,
) -> CoreResult<Accumulated> {
    let n_units = p.n_categories * p.n_images;
    let (t_count, r_count, k_count) = (p.iou_thrs.len(), p.rec_thrs.len(), p.n_categories);
    let a_count = p.area_rngs.len() / 2;
    let per_unit: Vec<Vec<Option<ImageEval>>> = (0..n_units)
        .into_par_iter()
        .with_min_len(16)
        .map(|unit| {
            if crate::parallel::interrupted() {
                return Ok((0..a_count).map(|_| None).collect()); // dropped by the caller
            }
            let (order, similarity) = step1(unit);
            (0..a_count)
                .map(|a| {
                    let (lo, hi) = (p.area_rngs[2 * a], p.area_rngs[2 * a + 1]);
                    evaluate_image(units, p, unit, &order, &similarity, lo, hi)
                })
                .collect::<CoreResult<Vec<_>>>()
        })
        .collect::<CoreResult<_>>()?;
    // One (category, area) block at a time: [T, R] precision and [T] recall.
    let blocks: Vec<(Vec<f64>, Vec<f64>)> = (0..k_count * a_count)
        .into_par_iter()
        .map(|ka| {
            let (k, a) = (ka / a_count, ka % a_count);
            let evals: Vec<&ImageEval> = (0..p.n_images)
                .filter_map(|i| per_unit[k * p.n_images + i][a].as_ref())
                .collect();
            let mut precision = vec![-1.0; t_count * r_count];
            let mut recall = vec![-1.0; t_count];
            accumulate(&evals, p, &mut precision, &mut recall);
            (precision, recall)
        })
        .collect();
    let mut precision = vec![-1.0; t_count * r_count * k_count * a_count];
    let mut recall = vec![-1.0; t_count * k_count * a_count];
    for (ka, (pb, rb)) in blocks.iter().enumerate() {
        let (k, a) = (ka / a_count, ka % a_count);
        for t in 0..t_count {
            recall[(t * k_count + k) * a_count + a] = rb[t];
            for r in 0..r_count {
                precision[((t * r_count + r) * k_count + k) * a_count + a] = pb[t * r_count + r];
            }
        }
    }
    Ok(Accumulated { precision, recall })
}

#[cfg(test)]
mod tests {
    use super::*;

    const THRS: [f64; 2] = [0.5, 0.9];
    const RECS: [f64; 3] = [0.0, 0.5, 1.0];
    const ALL: [f64; 2] = [0.0, 1e10];

    /// One image, two labelled GT people (2 joints) of area 100.
    fn run(dets: &[f64], scores: &[f64], matching: Matching) -> Accumulated {
        let gt_kpts = [0.0, 0.0, 10.0, 0.0, 50.0, 50.0, 60.0, 50.0];
        run_dims(&gt_kpts, dets, scores, matching, 2).unwrap()
    }

    fn run_dims(
        gt_kpts: &[f64],
        dets: &[f64],
        scores: &[f64],
        matching: Matching,
        dims: usize,
    ) -> CoreResult<Accumulated> {
        let gt = GroundTruth {
            keypoints: gt_kpts,
            visible: &[true; 4],
            areas: &[100.0, 100.0],
            bboxes: &[0.0; 8],
            ignore: &[false, false],
            iscrowd: &[false, false],
            offsets: &[0, 2],
        };
        let dt = Detections {
            keypoints: dets,
            scores,
            offsets: &[0, scores.len()],
        };
        let p = Params {
            dims,
            sigmas: &[0.1, 0.1],
            iou_thrs: &THRS,
            rec_thrs: &RECS,
            area_rngs: &ALL,
            max_det: 20,
            n_categories: 1,
            n_images: 1,
            matching,
        };
        evaluate(&gt, &dt, &p)
    }

    #[test]
    fn false_positive_first_then_one_hit() {
        // Far-away detection scored first, then an exact hit on the first person.
        let dets = [500.0, 500.0, 510.0, 500.0, 0.0, 0.0, 10.0, 0.0];
        for matching in [Matching::Greedy, Matching::Optimal] {
            let acc = run(&dets, &[0.9, 0.8], matching);
            // Recall 1/2 at both thresholds; precision 1/2 up to recall 0.5, then 0.
            assert_eq!(acc.recall, vec![0.5, 0.5]);
            let half = 1.0 / (2.0 + f64::EPSILON);
            assert_eq!(acc.precision, vec![half, half, 0.0, half, half, 0.0]);
        }
    }

    #[test]
    fn a_given_similarity_runs_the_same_protocol() {
        // The scene of `false_positive_first_then_one_hit`, its OKS matrix given:
        // the first detection matches no one, the second is exact on the first person.
        let units = Units {
            gt_areas: &[100.0, 100.0],
            gt_ignore: &[false, false],
            gt_iscrowd: &[false, false],
            gt_offsets: &[0, 2],
            dt_scores: &[0.9, 0.8],
            dt_areas: &[100.0, 100.0],
            dt_offsets: &[0, 2],
        };
        let p = Params {
            dims: 2,
            sigmas: &[],
            iou_thrs: &THRS,
            rec_thrs: &RECS,
            area_rngs: &ALL,
            max_det: 20,
            n_categories: 1,
            n_images: 1,
            matching: Matching::Greedy,
        };
        let acc = evaluate_similarity(&units, &[0.0, 0.0, 1.0, 0.0], &p).unwrap();
        let dets = [500.0, 500.0, 510.0, 500.0, 0.0, 0.0, 10.0, 0.0];
        let oks = run(&dets, &[0.9, 0.8], Matching::Greedy);
        assert_eq!(acc.recall, oks.recall);
        assert_eq!(acc.precision, oks.precision);
        assert!(evaluate_similarity(&units, &[0.0, f64::NAN, 1.0, 0.0], &p).is_err());
        assert!(evaluate_similarity(&units, &[0.0, 0.0, 1.0], &p).is_err());
    }

    #[test]
    fn no_detections_score_zero() {
        let acc = run(&[], &[], Matching::Greedy);
        assert_eq!(acc.recall, vec![0.0, 0.0]);
        assert!(acc.precision.iter().all(|&p| p == 0.0));
        assert!(Matching::parse("hungarian").is_err());
        assert_eq!(numpy_sum(&[1.0; 9]), 9.0);
    }

    #[test]
    fn three_d_distance_sets_the_oks() {
        // Same people as `run`, lifted to z = 0 and z = 100.
        let gt_kpts = [
            0.0, 0.0, 0.0, 10.0, 0.0, 0.0, 50.0, 50.0, 100.0, 60.0, 50.0, 100.0,
        ];
        // Exact hits on both: recall 1 at both thresholds.
        let acc = run_dims(&gt_kpts, &gt_kpts, &[0.9, 0.8], Matching::Greedy, 3).unwrap();
        assert_eq!(acc.recall, vec![1.0, 1.0]);
        // One detection of the first person, off by z = 1 on both joints:
        // OKS = exp(-1 / (0.2^2 * 100 * 2)) = exp(-1 / 8) = 0.882, a hit at 0.5, not at 0.9.
        let mut off = gt_kpts;
        off[2] += 1.0;
        off[5] += 1.0;
        let acc = run_dims(&gt_kpts, &off[..6], &[0.9], Matching::Greedy, 3).unwrap();
        assert_eq!(acc.recall, vec![0.5, 0.0]);
        assert!(run_dims(&gt_kpts, &off[..6], &[0.9], Matching::Greedy, 4).is_err());
        assert!(run_dims(&gt_kpts, &off[..5], &[0.9], Matching::Greedy, 3).is_err());
    }
}
