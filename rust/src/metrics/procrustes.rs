//! Similarity Procrustes alignment of one predicted pose onto its ground
//! truth: the rotation (reflections excluded), uniform scale and translation
//! minimising the squared joint error.
//!
//! The steps are those of the classic `compute_similarity_transform` (the
//! one MM-Fi's and many Human3.6M evaluation scripts use): centre both
//! point sets, scale each to unit Frobenius norm, take the SVD of
//! `A = X0^T Y0`, `T = V U^T`; when `det T < 0` flip the last right singular
//! vector and singular value; then `b = trace * |X| / |Y|`,
//! `c = mu_X - b mu_Y T` and the aligned prediction is `b Y T + c`.

// Negated comparisons are deliberate: NaN must fail every test ("not within"),
// and small fixed-size matrix code reads best with explicit indices.
#![allow(clippy::neg_cmp_op_on_partial_ord, clippy::needless_range_loop)]

use super::svd::{det, svd, Mat3};

/// Aligns `pred` (rows of `dims` coordinates) onto `gt` in place.
///
/// Non-finite input aligns to NaN. Degenerate sets, where either has all its points in one place, align to
/// the ground-truth centroid (the best any similarity can do when the
/// prediction collapses, and an exact fit when the ground truth does).
pub fn align_similarity(pred: &mut [[f64; 3]], gt: &[[f64; 3]], dims: usize) {
    let n = pred.len();
    if n == 0 {
        return;
    }
    let mut mu_x = [0.0; 3];
    let mut mu_y = [0.0; 3];
    for (p, g) in pred.iter().zip(gt) {
        for c in 0..dims {
            mu_x[c] += g[c];
            mu_y[c] += p[c];
        }
    }
    for c in 0..dims {
        mu_x[c] /= n as f64;
        mu_y[c] /= n as f64;
    }
    let (mut ss_x, mut ss_y) = (0.0, 0.0);
    for (p, g) in pred.iter().zip(gt) {
        for c in 0..dims {
            ss_x += (g[c] - mu_x[c]) * (g[c] - mu_x[c]);
            ss_y += (p[c] - mu_y[c]) * (p[c] - mu_y[c]);
        }
    }
    let (norm_x, norm_y) = (ss_x.sqrt(), ss_y.sqrt());
    if !(norm_x.is_finite() && norm_y.is_finite()) {
        // a NaN or infinite coordinate: no fit exists, and the error must say so
        for p in pred.iter_mut() {
            *p = [f64::NAN; 3];
        }
        return;
    }
    if !(norm_x > 0.0 && norm_y > 0.0) {
        for p in pred.iter_mut() {
            *p = mu_x;
        }
        return;
    }
    let mut a: Mat3 = [[0.0; 3]; 3];
    for (p, g) in pred.iter().zip(gt) {
        for r in 0..dims {
            let x = (g[r] - mu_x[r]) / norm_x;
            for c in 0..dims {
                a[r][c] += x * ((p[c] - mu_y[c]) / norm_y);
            }
        }
    }
    let mut d = svd(&a, dims);
    let rotation = |d: &super::svd::Svd| {
        let mut t: Mat3 = [[0.0; 3]; 3];
        for r in 0..dims {
            for c in 0..dims {
                t[r][c] = (0..dims).map(|k| d.v[r][k] * d.u[c][k]).sum();
            }
        }
        t
    };
    let mut t = rotation(&d);
    if det(&t, dims) < 0.0 {
        let last = dims - 1;
        for r in 0..dims {
            d.v[r][last] = -d.v[r][last];
        }
        d.s[last] = -d.s[last];
        t = rotation(&d);
    }
    let trace: f64 = d.s[..dims].iter().sum();
    let b = trace * norm_x / norm_y;
    let mut shift = mu_x;
    for c in 0..dims {
        let rotated: f64 = (0..dims).map(|k| mu_y[k] * t[k][c]).sum();
        shift[c] -= b * rotated;
    }
    for p in pred.iter_mut() {
        let mut out = [0.0; 3];
        for c in 0..dims {
            let rotated: f64 = (0..dims).map(|k| p[k] * t[k][c]).sum();
            out[c] = b * rotated + shift[c];
        }
        *p = out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_similarity_transform_exactly() {
        let gt = [
            [0.0, 0.0, 0.0],
            [1.0, 0.2, -0.3],
            [0.1, 1.5, 0.4],
            [-0.7, 0.3, 1.1],
        ];
        // pred = 2 * R_z(30 deg) * gt + (1, -2, 3)
        let (s, c) = (0.5f64, 3f64.sqrt() / 2.0);
        let mut pred: Vec<[f64; 3]> = gt
            .iter()
            .map(|g| {
                [
                    2.0 * (c * g[0] - s * g[1]) + 1.0,
                    2.0 * (s * g[0] + c * g[1]) - 2.0,
                    2.0 * g[2] + 3.0,
                ]
            })
            .collect();
        align_similarity(&mut pred, &gt, 3);
        for (p, g) in pred.iter().zip(&gt) {
            for k in 0..3 {
                assert!((p[k] - g[k]).abs() < 1e-12, "{p:?} vs {g:?}");
            }
        }
    }

    #[test]
    fn a_mirror_image_is_not_undone() {
        let gt = [[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]].map(|r| [r[0], r[1], 0.0]);
        let mut pred: Vec<[f64; 3]> = gt.iter().map(|g| [-g[0], g[1], 0.0]).collect();
        align_similarity(&mut pred, &gt, 2);
        let err: f64 = pred
            .iter()
            .zip(&gt)
            .map(|(p, g)| (p[0] - g[0]).abs() + (p[1] - g[1]).abs())
            .sum();
        assert!(err > 0.1);
    }
}
