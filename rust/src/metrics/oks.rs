//! COCO object keypoint similarity of paired poses, as pycocotools'
//! `COCOeval.computeOks` computes it for one detection and one ground truth:
//! `e_i = d_i^2 / (2 sigma_i)^2 / (area + eps) / 2`, OKS = mean of `exp(-e_i)`
//! over the joints visible in the ground truth (`eps` = `np.spacing(1)`).

use rayon::prelude::*;

use super::poses::{PosePair, FRAMES_PER_TASK};
use crate::element::Real;
use crate::error::{CoreError, CoreResult};

/// OKS of each frame's pair; NaN for a frame without visible ground-truth
/// joints (COCO then falls back to a box distance this API does not take).
pub fn oks<T: Real>(poses: &PosePair<'_, T>, area: &[f64], sigmas: &[f64]) -> CoreResult<Vec<f64>> {
    if area.len() != poses.frames {
        return Err(CoreError::shape(
            "area",
            format!("{} values (one per frame)", poses.frames),
            area.len().to_string(),
        ));
    }
    if sigmas.len() != poses.joints {
        return Err(CoreError::shape(
            "sigmas",
            format!("{} values (one per joint)", poses.joints),
            sigmas.len().to_string(),
        ));
    }
    if let Some(s) = sigmas.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(CoreError::argument(
            "sigmas",
            format!("expected finite values > 0, got {s}"),
        ));
    }
    let vars: Vec<f64> = sigmas.iter().map(|s| (s * 2.0) * (s * 2.0)).collect();
    let mut out = vec![0.0; poses.frames];
    out.par_chunks_mut(FRAMES_PER_TASK)
        .enumerate()
        .for_each(|(t, o)| {
            if crate::parallel::interrupted() {
                return;
            }
            let task = poses.task(t);
            let areas = &area[t * FRAMES_PER_TASK..];
            for (i, value) in o.iter_mut().enumerate() {
                let f = task.frame(i);
                let scale = areas[i] + f64::EPSILON;
                let (mut total, mut count) = (0.0, 0u32);
                for (k, var) in vars.iter().enumerate().filter(|&(k, _)| f.is_visible(k)) {
                    let (p, g) = (f.pred_at(k), f.gt_at(k));
                    let mut d2 = 0.0;
                    for c in 0..f.dims {
                        let e = p[c] - g[c];
                        d2 += e * e;
                    }
                    total += (-(d2 / var / scale / 2.0)).exp();
                    count += 1;
                }
                *value = if count > 0 {
                    total / f64::from(count)
                } else {
                    f64::NAN
                };
            }
        });
    Ok(out)
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
    }
}
