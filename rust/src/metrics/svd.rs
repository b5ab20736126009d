//! Singular value decomposition of a 2x2 or 3x3 matrix by one-sided Jacobi
//! rotations (Hestenes): small, dependency-free and accurate to working
//! precision — each singular value to a small multiple of machine epsilon
//! relative to itself, which is what Procrustes alignment needs.

// Negated comparisons are deliberate: NaN must fail every test ("not within"),
// and small fixed-size matrix code reads best with explicit indices.
#![allow(clippy::neg_cmp_op_on_partial_ord, clippy::needless_range_loop)]

/// A square matrix of size `n` (2 or 3), row-major, padded to 3x3.
pub type Mat3 = [[f64; 3]; 3];

/// `a = u * diag(s) * v^T` with `s` descending and `u`, `v` orthogonal.
#[derive(Clone, Copy, Debug)]
pub struct Svd {
    pub u: Mat3,
    pub s: [f64; 3],
    pub v: Mat3,
}

const MAX_SWEEPS: usize = 60;

/// SVD of the leading `n x n` block of `a` (`n` = 2 or 3).
pub fn svd(a: &Mat3, n: usize) -> Svd {
    debug_assert!((2..=3).contains(&n));
    // the sweeps work on a / (its largest magnitude), so that no square below
    // underflows or overflows however small or large the matrix is
    let mut scale = 0.0f64;
    for row in a.iter().take(n) {
        for x in row.iter().take(n) {
            scale = scale.max(x.abs());
        }
    }
    if !(scale > 0.0 && scale.is_finite()) {
        scale = 1.0;
    }
    // columns of w = a * v, orthogonalised pairwise until they are orthogonal
    let mut w = [[0.0; 3]; 3];
    for r in 0..n {
        for c in 0..n {
            w[r][c] = a[r][c] / scale;
        }
    }
    let mut v = identity();
    for _ in 0..MAX_SWEEPS {
        let mut rotated = false;
        for p in 0..n {
            for q in p + 1..n {
                let (mut alpha, mut beta, mut gamma) = (0.0, 0.0, 0.0);
                for row in w.iter().take(n) {
                    alpha += row[p] * row[p];
                    beta += row[q] * row[q];
                    gamma += row[p] * row[q];
                }
                if gamma == 0.0 || gamma.abs() <= f64::EPSILON * (alpha * beta).sqrt() {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + zeta.hypot(1.0)); // hypot: zeta * zeta would overflow past 1e154
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                for m in [&mut w, &mut v] {
                    for row in m.iter_mut().take(n) {
                        let (x, y) = (row[p], row[q]);
                        row[p] = c * x - s * y;
                        row[q] = s * x + c * y;
                    }
                }
            }
        }
        if !rotated {
            break;
        }
    }
    let mut norms = [0.0; 3];
    for (c, norm) in norms.iter_mut().enumerate().take(n) {
        *norm = (0..n).map(|r| w[r][c] * w[r][c]).sum::<f64>().sqrt();
    }
    let mut order = [0usize, 1, 2];
    order[..n].sort_by(|&x, &y| norms[y].total_cmp(&norms[x]));

    let mut out = Svd {
        u: [[0.0; 3]; 3],
        s: [0.0; 3],
        v: [[0.0; 3]; 3],
    };
    for (k, &c) in order.iter().enumerate().take(n) {
        out.s[k] = norms[c] * scale;
        for r in 0..n {
            out.v[r][k] = v[r][c];
            if norms[c] > 0.0 {
                out.u[r][k] = w[r][c] / norms[c];
            }
        }
    }
    // A zero singular value leaves its left vector undefined: complete u to an
    // orthonormal basis instead. A column of w that is tiny but not zero keeps
    // its direction: the sweeps leave every pair of columns orthogonal to
    // within machine epsilon of their own norms, however small (an eps-relative
    // cut would replace the direction of a real singular value of 1e-17 by an
    // arbitrary one, and rotate the pose's finest detail the wrong way). Below
    // sqrt(MIN_POSITIVE) the column's squared norms underflow, and so does that
    // guarantee (relative to the matrix's largest magnitude, as the sweeps ran).
    let tiny = f64::MIN_POSITIVE.sqrt() * scale;
    if n == 2 && !(out.s[1] > tiny) {
        out.u[0][1] = -out.u[1][0];
        out.u[1][1] = out.u[0][0];
    }
    if n == 3 && !(out.s[2] > tiny) {
        if !(out.s[1] > tiny) {
            let e = unit_orthogonal(&col(&out.u, 0));
            set_col(&mut out.u, 1, &e);
        }
        let c = cross(&col(&out.u, 0), &col(&out.u, 1));
        set_col(&mut out.u, 2, &c);
    }
    if !(out.s[0] > 0.0) {
        out.u = identity();
    }
    out
}

pub fn identity() -> Mat3 {
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
}

fn col(m: &Mat3, c: usize) -> [f64; 3] {
    [m[0][c], m[1][c], m[2][c]]
}

fn set_col(m: &mut Mat3, c: usize, x: &[f64; 3]) {
    for r in 0..3 {
        m[r][c] = x[r];
    }
}

fn cross(a: &[f64; 3], b: &[f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// A unit vector orthogonal to the unit vector `a`.
fn unit_orthogonal(a: &[f64; 3]) -> [f64; 3] {
    // cross with the axis least aligned with a
    let k = (0..3)
        .min_by(|&x, &y| a[x].abs().total_cmp(&a[y].abs()))
        .unwrap_or(0);
    let mut e = [0.0; 3];
    e[k] = 1.0;
    let c = cross(a, &e);
    let norm = (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]).sqrt();
    [c[0] / norm, c[1] / norm, c[2] / norm]
}

/// Determinant of the leading `n x n` block.
pub fn det(m: &Mat3, n: usize) -> f64 {
    if n == 2 {
        m[0][0] * m[1][1] - m[0][1] * m[1][0]
    } else {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reconstruct(d: &Svd, n: usize) -> Mat3 {
        let mut m = [[0.0; 3]; 3];
        for r in 0..n {
            for c in 0..n {
                m[r][c] = (0..n).map(|k| d.u[r][k] * d.s[k] * d.v[c][k]).sum();
            }
        }
        m
    }

    #[test]
    fn reconstructs_and_sorts() {
        let a = [[2.0, -1.0, 0.5], [0.3, 4.0, 1.0], [-1.0, 0.2, 0.7]];
        let d = svd(&a, 3);
        assert!(d.s[0] >= d.s[1] && d.s[1] >= d.s[2] && d.s[2] > 0.0);
        let m = reconstruct(&d, 3);
        for r in 0..3 {
            for c in 0..3 {
                assert!((m[r][c] - a[r][c]).abs() < 1e-13);
            }
        }
    }

    #[test]
    fn a_tiny_singular_value_keeps_its_directions() {
        // A = diag(1, 4e-17, 0): the second direction is real, only far below epsilon
        let a = [[4e-17, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]];
        let d = svd(&a, 3);
        assert!((d.s[0] - 1.0).abs() < 1e-15 && (d.s[1] - 4e-17).abs() < 1e-30 && d.s[2] == 0.0);
        let m = reconstruct(&d, 3);
        assert!((m[0][0] - 4e-17).abs() < 1e-31, "{m:?}");
        // u and v agree on that direction, so a symmetric A gives the identity rotation
        let along: f64 = (0..3).map(|r| d.u[r][1] * d.v[r][1]).sum();
        assert!((along - 1.0).abs() < 1e-12, "{d:?}");
    }

    fn orthonormality_error(m: &Mat3, n: usize) -> f64 {
        let mut worst: f64 = 0.0;
        for i in 0..n {
            for j in 0..n {
                let dot: f64 = (0..n).map(|r| m[r][i] * m[r][j]).sum();
                worst = worst.max((dot - if i == j { 1.0 } else { 0.0 }).abs());
            }
        }
        worst
    }

    #[test]
    fn far_apart_columns_and_extreme_scales_stay_orthonormal() {
        // a column 1e-152 times the others (the rotation's zeta * zeta would overflow), and the
        // whole matrix scaled far down or up (its squares would underflow or overflow)
        let base = [[2.0, -1.0, 0.5], [0.3, 4.0, 1.0], [-1.0, 0.2, 0.7]];
        for (column, whole) in [
            (1e-152, 1.0),
            (1e-150, 1e-160),
            (1.0, 1e-200),
            (1.0, 1e200),
            (1e-140, 1e150),
        ] {
            let mut a = base;
            for row in a.iter_mut() {
                row[2] *= column;
                for x in row.iter_mut() {
                    *x *= whole;
                }
            }
            for n in [2, 3] {
                let d = svd(&a, n);
                assert!(
                    orthonormality_error(&d.u, n) < 1e-12,
                    "{column:e} {whole:e} n {n}: {d:?}"
                );
                assert!(
                    orthonormality_error(&d.v, n) < 1e-12,
                    "{column:e} {whole:e} n {n}: {d:?}"
                );
                let m = reconstruct(&d, n);
                for r in 0..n {
                    for c in 0..n {
                        assert!(
                            (m[r][c] - a[r][c]).abs() <= 1e-13 * d.s[0],
                            "{column:e} {whole:e} n {n}"
                        );
                    }
                }
            }
        }
        // a first column 1e-153 of the others, not orthogonal to them: zeta * zeta overflows
        let a = [
            [
                4.693888382436309e-154,
                1.3403796653479378,
                1.1202039934601609,
            ],
            [
                -2.4268742012088218e-154,
                1.2035293685707942,
                -0.46099640403915615,
            ],
            [
                4.88744790386414e-153,
                1.0045536106796693,
                -0.9896012249579094,
            ],
        ];
        let d = svd(&a, 3);
        assert!(orthonormality_error(&d.u, 3) < 1e-12, "{d:?}");
    }

    #[test]
    fn rank_deficient_gets_an_orthonormal_u() {
        // rank 1
        let a = [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 0.0, 0.0]];
        let d = svd(&a, 3);
        assert!(d.s[1] < 1e-12);
        assert!((det(&d.u, 3).abs() - 1.0).abs() < 1e-12);
        let z = [[0.0; 3]; 3];
        let d = svd(&z, 2);
        assert_eq!(d.s, [0.0; 3]);
        assert!((det(&d.u, 2) - 1.0).abs() < 1e-15);
    }
}
