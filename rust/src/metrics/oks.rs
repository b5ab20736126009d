//! COCO object keypoint similarity: the one OKS kernel of the crate, used by
//! paired OKS, the `1 - OKS` cost matrix of person matching and OKS-AP.
//!
//! As pycocotools' `COCOeval.computeOks` for one detection and one ground
//! truth: `e_i = d_i^2 / (2 sigma_i)^2 / (area + eps) / 2` with `eps` =
//! `np.spacing(1)`; OKS is the mean of `exp(-e_i)` over the joints visible in
//! the ground truth, summed as `numpy.sum` sums so values equal COCO's bit for
//! bit. `d_i` is the distance over all `D` coordinates (2D image keypoints or
//! 3D joints); the coordinates never hold a visibility flag.
//!
//! Non-finite values (the crate's policy, see `csipose.metrics`): a ground
//! truth with a non-finite coordinate in a visible joint cannot be scored
//! (`None`, like one without visible joints); a non-finite predicted
//! coordinate makes that joint a miss (similarity 0).

use rayon::prelude::*;

use super::poses::{cross_matrix, wide, Frame, PosePair, FRAMES_PER_TASK};
use crate::element::Real;
use crate::error::{CoreError, CoreResult};

/// `numpy.spacing(1.0)`, the guard COCO adds to every area.
pub const AREA_EPS: f64 = f64::EPSILON;

/// COCO-17's OKS constants, built exactly as pycocotools builds them
/// (`np.array([.26, .25, ...]) / 10.0`); `csipose.skeletons.COCO17.sigmas`
/// reads this table.
pub const COCO17_SIGMAS: [f64; 17] = [
    0.26 / 10.0,
    0.25 / 10.0,
    0.25 / 10.0,
    0.35 / 10.0,
    0.35 / 10.0,
    0.79 / 10.0,
    0.79 / 10.0,
    0.72 / 10.0,
    0.72 / 10.0,
    0.62 / 10.0,
    0.62 / 10.0,
    1.07 / 10.0,
    1.07 / 10.0,
    0.87 / 10.0,
    0.87 / 10.0,
    0.89 / 10.0,
    0.89 / 10.0,
];

/// Per-joint `(2 sigma)^2` after checking `sigmas` (one finite value > 0 per joint).
pub fn variances(sigmas: &[f64], joints: usize) -> CoreResult<Vec<f64>> {
    if sigmas.len() != joints {
        return Err(CoreError::shape(
            "sigmas",
            format!("{joints} values (one per joint)"),
            sigmas.len().to_string(),
        ));
    }
    if let Some(s) = sigmas.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(CoreError::argument(
            "sigmas",
            format!("expected finite values > 0, got {s}"),
        ));
    }
    Ok(sigmas.iter().map(|s| (s * 2.0) * (s * 2.0)).collect())
}

/// Checks `areas`: `expected` finite values >= 0.
pub fn check_areas(areas: &[f64], expected: usize) -> CoreResult<()> {
    if areas.len() != expected {
        return Err(CoreError::shape(
            "areas",
            format!("{expected} values (one per ground-truth pose)"),
            areas.len().to_string(),
        ));
    }
    if let Some(g) = areas.iter().position(|a| !(a.is_finite() && *a >= 0.0)) {
        return Err(CoreError::argument(
            "areas",
            format!("expected finite values >= 0, got {} at index {g}", areas[g]),
        ));
    }
    Ok(())
}

/// Similarity of one joint at squared distance `d2`: `exp(-e)` (0 for a NaN
/// distance, the miss of a non-finite prediction).
#[inline]
pub fn joint_similarity(d2: f64, var: f64, area: f64) -> f64 {
    let s = (-(d2 / var / (area + AREA_EPS) / 2.0)).exp();
    if s.is_nan() {
        0.0
    } else {
        s
    }
}

/// OKS of one pose pair; `None` when the ground truth has no visible joint
/// or a non-finite visible coordinate. `terms` is scratch.
pub fn frame_oks<T: Real>(
    f: &Frame<'_, T>,
    vars: &[f64],
    area: f64,
    terms: &mut Vec<f64>,
) -> Option<f64> {
    terms.clear();
    let d = f.dims;
    for (k, var) in vars.iter().enumerate() {
        if !f.is_visible(k) {
            continue;
        }
        let (p, g) = (&f.pred[k * d..(k + 1) * d], &f.gt[k * d..(k + 1) * d]);
        let mut d2 = 0.0;
        for c in 0..d {
            let gc = wide(g[c]);
            if !gc.is_finite() {
                return None;
            }
            let e = wide(p[c]) - gc;
            d2 += e * e;
        }
        terms.push(joint_similarity(d2, *var, area));
    }
    if terms.is_empty() {
        None
    } else {
        Some(numpy_sum(terms) / terms.len() as f64)
    }
}

/// OKS of each paired frame; NaN for a frame that cannot be scored (no
/// visible ground-truth joint, or a non-finite one).
pub fn oks<T: Real>(
    poses: &PosePair<'_, T>,
    areas: &[f64],
    sigmas: &[f64],
) -> CoreResult<Vec<f64>> {
    check_areas(areas, poses.frames)?;
    let vars = variances(sigmas, poses.joints)?;
    let mut out = vec![0.0; poses.frames];
    out.par_chunks_mut(FRAMES_PER_TASK)
        .enumerate()
        .for_each(|(t, o)| {
            if crate::parallel::interrupted() {
                return;
            }
            let task = poses.task(t);
            let areas = &areas[t * FRAMES_PER_TASK..];
            let mut terms = Vec::with_capacity(poses.joints);
            for (i, value) in o.iter_mut().enumerate() {
                *value = frame_oks(&task.frame(i), &vars, areas[i], &mut terms).unwrap_or(f64::NAN);
            }
        });
    Ok(out)
}

/// `1 - OKS` of every (prediction, ground truth) pair of crossed poses:
/// row-major `[P, N]`, `+inf` (a forbidden pair) where the ground truth
/// cannot be scored.
pub fn oks_cost<T: Real>(
    poses: &PosePair<'_, T>,
    areas: &[f64],
    sigmas: &[f64],
) -> CoreResult<Vec<f64>> {
    check_areas(areas, poses.frames)?;
    let vars = variances(sigmas, poses.joints)?;
    Ok(cross_matrix(poses, |f, g, terms| {
        match frame_oks(f, &vars, areas[g], terms) {
            Some(v) => 1.0 - v,
            None => f64::INFINITY,
        }
    }))
}

/// Sums like `numpy.sum` does (blocks of up to 128 values, each with 8
/// interleaved partial sums combined pairwise), so OKS values equal COCO's bit for bit.
pub fn numpy_sum(x: &[f64]) -> f64 {
    if x.len() < 8 {
        return x.iter().fold(0.0, |a, b| a + b);
    }
    if x.len() > 128 {
        let half = x.len() / 2;
        let half = half - half % 8;
        return numpy_sum(&x[..half]) + numpy_sum(&x[half..]);
    }
    let mut r = [0.0f64; 8];
    r.copy_from_slice(&x[..8]);
    let full = x.len() - x.len() % 8;
    for chunk in x[8..full].chunks_exact(8) {
        for (acc, v) in r.iter_mut().zip(chunk) {
            *acc += v;
        }
    }
    let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for v in &x[full..] {
        res += v;
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_prediction_scores_one() {
        let gt = [1.0, 2.0, 3.0, 4.0];
        let poses = PosePair::new(&gt[..], &gt[..], None, 1, 2, 2).unwrap();
        let v = oks(&poses, &[100.0], &[0.05, 0.07]).unwrap();
        assert!((v[0] - 1.0).abs() < 1e-15);
        assert!(oks(&poses, &[100.0], &[0.05]).is_err());
        assert!(oks(&poses, &[f64::NAN], &[0.05, 0.07]).is_err());
    }

    #[test]
    fn non_finite_prediction_is_a_miss_and_gt_unscoreable() {
        let gt = [0.0, 0.0, 1.0, 1.0];
        let pred = [f64::NAN, 0.0, 1.0, 1.0];
        let poses = PosePair::new(&pred[..], &gt[..], None, 1, 2, 2).unwrap();
        assert_eq!(oks(&poses, &[1.0], &[0.1, 0.1]).unwrap(), vec![0.5]);
        let bad_gt = [f64::INFINITY, 0.0, 1.0, 1.0];
        let poses = PosePair::new(&gt[..], &bad_gt[..], None, 1, 2, 2).unwrap();
        assert!(oks(&poses, &[1.0], &[0.1, 0.1]).unwrap()[0].is_nan());
        // the same ground truth with the bad joint hidden scores again
        let vis = [false, true];
        let poses = PosePair::new(&gt[..], &bad_gt[..], Some(&vis), 1, 2, 2).unwrap();
        assert_eq!(oks(&poses, &[1.0], &[0.1, 0.1]).unwrap(), vec![1.0]);
    }

    #[test]
    fn cost_matrix_crosses_every_pair() {
        let pred = [0.0f32, 0.0, 5.0, 5.0];
        let gt = [5.0f32, 5.0];
        let poses = PosePair::cross(&pred[..], 2, &gt[..], None, 1, 1, 2).unwrap();
        let c = oks_cost(&poses, &[1.0], &[0.1]).unwrap();
        assert_eq!(c.len(), 2);
        assert!(c[0] > 0.99 && c[1] == 0.0);
        assert_eq!(numpy_sum(&[1.0; 9]), 9.0);
    }
}
