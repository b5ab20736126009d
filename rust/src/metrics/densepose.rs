//! DensePose scores of IUV images: per-pixel geodesic point similarity (GPS),
//! per-frame GPS, body-mask IoU and GPSm, pooled part IoU, and dpAP.
//!
//! An IUV image is `[3, H, W]`: channel 0 the part index (0 background, 1-24,
//! stored as a float), channels 1 and 2 the chart coordinates `U`, `V` in
//! `[0, 1]`. Geodesics are measured on a [`Surface`] of 24 primitives (the
//! canonical body of `csipose.densepose.surface`, passed in by the caller):
//!
//! - half-cylinder of radius `r` and length `L`: `g = hypot(pi r dU, L dV)`;
//! - sphere: longitude `2 pi U`, colatitude `pi V`, great-circle distance;
//! - hemisphere: longitude `pi U`, colatitude `pi V`, great-circle distance.
//!
//! Across different parts the geodesic is infinite. Per ground-truth body
//! pixel (true part > 0), `GPS = exp(-g^2 / (2 kappa^2))` with DensePose's
//! `kappa = 0.255`; 0 where the predicted part differs or is background.
//!
//! Values: a part index that is not an integer in 0-24 (NaN included) is an
//! error in either image; a true `U`, `V` on a body pixel must be finite and in
//! `[0, 1]` (within [`UV_SLACK`], then clamped); a predicted `U`, `V` is clamped
//! to `[0, 1]` and a non-finite one scores 0 on its pixel.
//!
//! Frames are independent and every pooled figure is a sum of integer counts,
//! so results are identical for any thread count.

use rayon::prelude::*;

use super::cocoeval::{self, Accumulated, Matching, Params, Units};
use crate::element::Real;
use crate::error::{CoreError, CoreResult};

/// DensePose's GPS constant, in metres.
pub const KAPPA: f64 = 0.255;
/// Body parts (indices 1..=PARTS; 0 is background).
pub const PARTS: usize = 24;
/// How far outside `[0, 1]` a true chart coordinate may lie (float rounding) before it is an error.
pub const UV_SLACK: f64 = 1e-6;

/// One part's surface primitive, with its canonical size in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Primitive {
    HalfCylinder { radius: f64, length: f64 },
    Sphere { radius: f64 },
    Hemisphere { radius: f64 },
}

/// Great-circle distance on a sphere of radius `r` between two points given
/// as (longitude, colatitude) in radians, by the haversine formula (accurate for
/// near points, where GPS is most sensitive; five sines instead of eight
/// sines and cosines and an arctangent).
fn great_circle(r: f64, lon1: f64, colat1: f64, lon2: f64, colat2: f64) -> f64 {
    let half_colat = (0.5 * (colat1 - colat2)).sin();
    let half_lon = (0.5 * (lon1 - lon2)).sin();
    let h = half_colat * half_colat + colat1.sin() * colat2.sin() * half_lon * half_lon;
    2.0 * r * h.clamp(0.0, 1.0).sqrt().asin()
}

impl Primitive {
    /// Geodesic distance between chart points `(u1, v1)` and `(u2, v2)` of this part.
    pub fn geodesic(&self, u1: f64, v1: f64, u2: f64, v2: f64) -> f64 {
        use std::f64::consts::PI;
        match *self {
            Primitive::HalfCylinder { radius, length } => {
                // no overflow is possible at body sizes: plain sqrt, far quicker than hypot
                let (across, along) = (PI * radius * (u1 - u2), length * (v1 - v2));
                (across * across + along * along).sqrt()
            }
            Primitive::Sphere { radius } => {
                great_circle(radius, 2.0 * PI * u1, PI * v1, 2.0 * PI * u2, PI * v2)
            }
            Primitive::Hemisphere { radius } => {
                great_circle(radius, PI * u1, PI * v1, PI * u2, PI * v2)
            }
        }
    }
}

/// The body surface: a primitive per part index 1-24.
#[derive(Debug, Clone)]
pub struct Surface {
    parts: [Primitive; PARTS],
}

impl Surface {
    /// From `surface.canonical_arrays()`: `kind`, `radius`, `length` of 25 rows
    /// (row 0 = background, kind -1), kind 0 half-cylinder, 1 sphere, 2 hemisphere;
    /// radii finite and positive, lengths finite and non-negative.
    pub fn new(kind: &[i32], radius: &[f64], length: &[f64]) -> CoreResult<Self> {
        for (arg, len) in [
            ("kind", kind.len()),
            ("radius", radius.len()),
            ("length", length.len()),
        ] {
            if len != PARTS + 1 {
                return Err(CoreError::shape(
                    arg,
                    format!("({},) (background and {PARTS} parts)", PARTS + 1),
                    format!("({len},)"),
                ));
            }
        }
        let mut parts = [Primitive::Sphere { radius: 1.0 }; PARTS];
        for (k, part) in parts.iter_mut().enumerate() {
            let i = k + 1;
            let (r, l) = (radius[i], length[i]);
            if !(r.is_finite() && r > 0.0) {
                return Err(CoreError::argument(
                    "radius",
                    format!("expected a finite positive radius for part {i}, got {r}"),
                ));
            }
            if !(l.is_finite() && l >= 0.0) {
                return Err(CoreError::argument(
                    "length",
                    format!("expected a finite non-negative length for part {i}, got {l}"),
                ));
            }
            *part = match kind[i] {
                0 => Primitive::HalfCylinder {
                    radius: r,
                    length: l,
                },
                1 => Primitive::Sphere { radius: r },
                2 => Primitive::Hemisphere { radius: r },
                other => {
                    return Err(CoreError::argument(
                        "kind",
                        format!(
                            "expected 0 (half_cylinder), 1 (sphere) or 2 (hemisphere) for part {i}, got {other}"
                        ),
                    ))
                }
            };
        }
        Ok(Surface { parts })
    }

    /// The primitive of part `index` (1-24).
    pub fn part(&self, index: u8) -> &Primitive {
        &self.parts[usize::from(index) - 1]
    }
}

/// A batch of IUV images, C-contiguous `[N, 3, H, W]`.
#[derive(Debug, Clone, Copy)]
pub struct Iuv<'a, T> {
    pub data: &'a [T],
    pub frames: usize,
    pub height: usize,
    pub width: usize,
    /// The argument name used in error messages.
    pub arg: &'static str,
}

impl<'a, T> Iuv<'a, T> {
    pub fn new(
        data: &'a [T],
        frames: usize,
        height: usize,
        width: usize,
        arg: &'static str,
    ) -> CoreResult<Self> {
        let expected = frames * 3 * height * width;
        if data.len() != expected {
            return Err(CoreError::shape(
                arg,
                format!("{expected} values ({frames}, 3, {height}, {width})"),
                format!("{} values", data.len()),
            ));
        }
        Ok(Iuv {
            data,
            frames,
            height,
            width,
            arg,
        })
    }

    fn pixels(&self) -> usize {
        self.height * self.width
    }

    fn frame(&self, n: usize) -> &'a [T] {
        let size = 3 * self.pixels();
        &self.data[n * size..(n + 1) * size]
    }
}

/// Both images of a pair must have one shape.
fn check_pair<T>(pred: &Iuv<T>, truth: &Iuv<T>) -> CoreResult<()> {
    if (pred.frames, pred.height, pred.width) != (truth.frames, truth.height, truth.width) {
        return Err(CoreError::shape(
            truth.arg,
            format!(
                "({}, 3, {}, {}) to match {}",
                pred.frames, pred.height, pred.width, pred.arg
            ),
            format!("({}, 3, {}, {})", truth.frames, truth.height, truth.width),
        ));
    }
    Ok(())
}

/// Where a pixel is, for error messages.
fn at(frame: usize, pixel: usize, width: usize) -> String {
    format!(
        "frame {frame}, pixel ({}, {})",
        pixel / width,
        pixel % width
    )
}

/// The part index stored in a float: an integer 0-24, else an error.
fn part_index(v: f64, arg: &str, frame: usize, pixel: usize, width: usize) -> CoreResult<u8> {
    // `as` saturates (NaN to 0), so the round trip holds exactly for integers 0-24
    let index = v as u8;
    if f64::from(index) == v && usize::from(index) <= PARTS {
        Ok(index)
    } else {
        Err(CoreError::argument(
            arg,
            format!(
                "expected part indices (channel 0) that are integers 0-{PARTS}, got {v} at {}",
                at(frame, pixel, width)
            ),
        ))
    }
}

/// Integer counts and the GPS sum of one frame.
#[derive(Debug, Clone, PartialEq)]
struct FrameCounts {
    /// Sum of GPS over the true body pixels, in pixel order.
    gps_sum: f64,
    /// True body pixels.
    body: u64,
    /// Predicted foreground pixels.
    foreground: u64,
    /// Pixels in both masks.
    overlap: u64,
    /// Per part 0-24: pixels with that part in both images, in the prediction, in the truth.
    part_both: [u64; PARTS + 1],
    part_pred: [u64; PARTS + 1],
    part_true: [u64; PARTS + 1],
}

/// One frame's pass over its pixels; writes per-pixel GPS (NaN off the body) into `gps` if given.
fn frame_pass<T: Real>(
    images: (&Iuv<T>, &Iuv<T>),
    frame: usize,
    surface: &Surface,
    mut gps: Option<&mut [T]>,
) -> CoreResult<FrameCounts> {
    let (pixels, width) = (images.0.pixels(), images.0.width);
    let args = (images.0.arg, images.1.arg);
    let (pred, truth) = (images.0.frame(frame), images.1.frame(frame));
    let f = |x: T| x.to_f64().unwrap_or(f64::NAN);
    let mut c = FrameCounts {
        gps_sum: 0.0,
        body: 0,
        foreground: 0,
        overlap: 0,
        part_both: [0; PARTS + 1],
        part_pred: [0; PARTS + 1],
        part_true: [0; PARTS + 1],
    };
    let two_kappa2 = 2.0 * KAPPA * KAPPA;
    for px in 0..pixels {
        let ip = part_index(f(pred[px]), args.0, frame, px, width)?;
        let it = part_index(f(truth[px]), args.1, frame, px, width)?;
        c.part_pred[usize::from(ip)] += 1;
        c.part_true[usize::from(it)] += 1;
        if ip == it {
            c.part_both[usize::from(ip)] += 1;
        }
        c.foreground += u64::from(ip > 0);
        if it == 0 {
            if let Some(out) = gps.as_deref_mut() {
                out[px] = T::nan();
            }
            continue;
        }
        c.body += 1;
        c.overlap += u64::from(ip > 0);
        let (ut, vt) = (f(truth[pixels + px]), f(truth[2 * pixels + px]));
        let inside = |x: f64| (-UV_SLACK..=1.0 + UV_SLACK).contains(&x);
        if !(inside(ut) && inside(vt)) {
            return Err(CoreError::argument(
                args.1,
                format!(
                    "expected U, V (channels 1, 2) in [0, 1] on body pixels, got U = {ut}, V = {vt} at {}",
                    at(frame, px, width)
                ),
            ));
        }
        let (up, vp) = (f(pred[pixels + px]), f(pred[2 * pixels + px]));
        let value = if ip == it && up.is_finite() && vp.is_finite() {
            let g = surface.part(it).geodesic(
                up.clamp(0.0, 1.0),
                vp.clamp(0.0, 1.0),
                ut.clamp(0.0, 1.0),
                vt.clamp(0.0, 1.0),
            );
            (-g * g / two_kappa2).exp()
        } else {
            0.0
        };
        c.gps_sum += value;
        if let Some(out) = gps.as_deref_mut() {
            out[px] = T::from_f64(value).unwrap_or_else(T::nan);
        }
    }
    Ok(c)
}

/// Frames per rayon piece (whole frames: results never depend on the split).
const FRAMES_PER_PIECE: usize = 16;

/// The first error in frame order, so messages do not depend on the thread count.
fn first_error<R>(results: Vec<CoreResult<R>>) -> CoreResult<Vec<R>> {
    results.into_iter().collect()
}

/// Per-pixel GPS `[N, H, W]`: NaN off the true body, 0 where the predicted part
/// differs (background included), `exp(-g^2 / (2 kappa^2))` elsewhere.
pub fn pixel_gps<T: Real>(pred: &Iuv<T>, truth: &Iuv<T>, surface: &Surface) -> CoreResult<Vec<T>> {
    check_pair(pred, truth)?;
    let pixels = pred.pixels();
    // every pixel is written below: zeroed pages cost no pass of their own
    let mut out = vec![T::zero(); pred.frames * pixels];
    if pixels == 0 {
        return Ok(out);
    }
    let results: Vec<CoreResult<()>> = out
        .par_chunks_mut(pixels)
        .with_min_len(FRAMES_PER_PIECE)
        .enumerate()
        .map(|(n, gps)| {
            if crate::parallel::interrupted() {
                return Ok(()); // dropped by the caller
            }
            frame_pass((pred, truth), n, surface, Some(gps)).map(|_| ())
        })
        .collect();
    first_error(results)?;
    Ok(out)
}

/// Every DensePose figure of a batch.
pub struct Evaluation {
    /// `[N]` mean GPS over each frame's true body pixels; NaN for a frame without one.
    pub gps: Vec<f64>,
    /// `[N]` IoU of the predicted and true foreground; NaN when both are empty.
    pub mask_iou: Vec<f64>,
    /// `[N]` `sqrt(gps * mask_iou)`; NaN for a frame without a true body pixel.
    pub gpsm: Vec<f64>,
    /// `[N]` the score of each frame's predicted person (the caller's, or its foreground fraction).
    pub scores: Vec<f64>,
    /// `[24]` pixels of part k+1 in both images, pooled over frames.
    pub part_intersection: Vec<u64>,
    /// `[24]` pixels of part k+1 in either image, pooled over frames.
    pub part_union: Vec<u64>,
    /// `[24]` `part_intersection / part_union`; NaN for a part absent from both.
    pub part_iou: Vec<f64>,
    /// Mean of the defined `part_iou` (background excluded); NaN if none.
    pub part_miou: f64,
    /// Pooled foreground IoU: summed overlaps over summed unions; NaN if both are empty everywhere.
    pub pooled_mask_iou: f64,
    /// dpAP accumulation on GPSm: precision `[T, R]`, recall `[T]`, -1 where undefined.
    pub ap: Accumulated,
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        f64::NAN
    } else {
        num as f64 / den as f64
    }
}

/// All figures of a batch. `scores` (`[N]`, finite) rank the predicted people
/// for dpAP; by default each frame's predicted-foreground fraction. dpAP is COCO's
/// protocol ([`cocoeval::evaluate_similarity`]) at `iou_thrs` on GPSm: each frame
/// is an image with one ground-truth person when it has a true body pixel and one
/// predicted person when it has a predicted foreground pixel.
pub fn evaluate<T: Real>(
    pred: &Iuv<T>,
    truth: &Iuv<T>,
    surface: &Surface,
    scores: Option<&[f64]>,
    iou_thrs: &[f64],
    rec_thrs: &[f64],
) -> CoreResult<Evaluation> {
    check_pair(pred, truth)?;
    let n = pred.frames;
    if let Some(s) = scores {
        if s.len() != n {
            return Err(CoreError::shape(
                "scores",
                format!("({n},)"),
                format!("({},)", s.len()),
            ));
        }
        if let Some(i) = s.iter().position(|v| !v.is_finite()) {
            return Err(CoreError::non_finite(
                "scores",
                format!("expected finite scores, got {} at frame {i}", s[i]),
            ));
        }
    }
    for (arg, thrs) in [("iou_thrs", iou_thrs), ("rec_thrs", rec_thrs)] {
        if thrs.iter().any(|t| !t.is_finite()) {
            return Err(CoreError::non_finite(arg, "expected finite thresholds"));
        }
    }
    let pixels = pred.pixels();
    let results: Vec<CoreResult<FrameCounts>> = (0..n)
        .into_par_iter()
        .with_min_len(FRAMES_PER_PIECE)
        .map(|i| {
            if crate::parallel::interrupted() {
                return Err(CoreError::argument("kernel", "interrupted")); // dropped by the caller
            }
            frame_pass((pred, truth), i, surface, None)
        })
        .collect();
    let frames = first_error(results)?;

    let mut gps = Vec::with_capacity(n);
    let mut mask_iou = Vec::with_capacity(n);
    let mut gpsm = Vec::with_capacity(n);
    let (mut overlap, mut union) = (0u64, 0u64);
    let mut part_intersection = vec![0u64; PARTS];
    let mut part_union = vec![0u64; PARTS];
    for c in &frames {
        let frame_union = c.body + c.foreground - c.overlap;
        let g = ratio_f(c.gps_sum, c.body);
        let iou = ratio(c.overlap, frame_union);
        gps.push(g);
        mask_iou.push(iou);
        gpsm.push(if c.body == 0 {
            f64::NAN
        } else {
            (g * iou).sqrt()
        });
        overlap += c.overlap;
        union += frame_union;
        for k in 1..=PARTS {
            part_intersection[k - 1] += c.part_both[k];
            part_union[k - 1] += c.part_pred[k] + c.part_true[k] - c.part_both[k];
        }
    }
    let part_iou: Vec<f64> = part_intersection
        .iter()
        .zip(&part_union)
        .map(|(&i, &u)| ratio(i, u))
        .collect();
    let defined: Vec<f64> = part_iou.iter().copied().filter(|v| !v.is_nan()).collect();
    let part_miou = if defined.is_empty() {
        f64::NAN
    } else {
        defined.iter().sum::<f64>() / defined.len() as f64
    };
    let scores: Vec<f64> = match scores {
        Some(s) => s.to_vec(),
        None => frames
            .iter()
            .map(|c| ratio(c.foreground, pixels as u64))
            .collect(),
    };
    let ap = dp_ap(&frames, &gpsm, &scores, iou_thrs, rec_thrs)?;
    Ok(Evaluation {
        gps,
        mask_iou,
        gpsm,
        scores,
        part_intersection,
        part_union,
        part_iou,
        part_miou,
        pooled_mask_iou: ratio(overlap, union),
        ap,
    })
}

fn ratio_f(sum: f64, count: u64) -> f64 {
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}

/// COCO AP over frames with GPSm as the similarity (one image per frame, one category).
fn dp_ap(
    frames: &[FrameCounts],
    gpsm: &[f64],
    scores: &[f64],
    iou_thrs: &[f64],
    rec_thrs: &[f64],
) -> CoreResult<Accumulated> {
    let mut gt_offsets = vec![0usize];
    let mut dt_offsets = vec![0usize];
    let (mut gt_areas, mut dt_areas, mut dt_scores, mut similarity) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, c) in frames.iter().enumerate() {
        let has_gt = c.body > 0;
        let has_dt = c.foreground > 0;
        if has_gt {
            gt_areas.push(c.body as f64);
        }
        if has_dt {
            dt_areas.push(c.foreground as f64);
            dt_scores.push(scores[i]);
        }
        if has_gt && has_dt {
            similarity.push(gpsm[i]);
        }
        gt_offsets.push(gt_areas.len());
        dt_offsets.push(dt_areas.len());
    }
    let n_gt = gt_areas.len();
    let units = Units {
        gt_areas: &gt_areas,
        gt_ignore: &vec![false; n_gt],
        gt_iscrowd: &vec![false; n_gt],
        gt_offsets: &gt_offsets,
        dt_scores: &dt_scores,
        dt_areas: &dt_areas,
        dt_offsets: &dt_offsets,
    };
    let params = Params {
        dims: 2,
        sigmas: &[],
        iou_thrs,
        rec_thrs,
        area_rngs: &[0.0, f64::INFINITY],
        max_det: 1,
        n_categories: 1,
        n_images: frames.len(),
        matching: Matching::Greedy,
    };
    cocoeval::evaluate_similarity(&units, &similarity, &params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    /// Every part a sphere of radius 0.1, except part 1 a half-cylinder (0.1, 1.0)
    /// and part 2 a hemisphere of radius 0.1.
    fn surface() -> Surface {
        let mut kind = vec![1i32; PARTS + 1];
        kind[0] = -1;
        kind[1] = 0;
        kind[2] = 2;
        let radius = vec![0.1; PARTS + 1];
        let mut length = vec![0.0; PARTS + 1];
        length[1] = 1.0;
        Surface::new(&kind, &radius, &length).unwrap()
    }

    const THRS: [f64; 10] = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95];

    fn recs() -> Vec<f64> {
        (0..=100).map(|i| i as f64 / 100.0).collect()
    }

    /// One 1 x 2 frame per (parts, u, v) triple of pixels.
    fn frames(px: &[[(f64, f64, f64); 2]]) -> Vec<f64> {
        px.iter()
            .flat_map(|f| [f[0].0, f[1].0, f[0].1, f[1].1, f[0].2, f[1].2].into_iter())
            .collect()
    }

    #[test]
    fn closed_forms_per_primitive() {
        let s = surface();
        // Across a half-cylinder at equal V: half the circumference.
        assert!((s.part(1).geodesic(0.0, 0.3, 1.0, 0.3) - PI * 0.1).abs() < 1e-15);
        // Along it: the length.
        assert!((s.part(1).geodesic(0.5, 0.0, 0.5, 1.0) - 1.0).abs() < 1e-15);
        // Sphere: pole to pole, and antipodes on the equator.
        assert!((s.part(3).geodesic(0.2, 0.0, 0.7, 1.0) - PI * 0.1).abs() < 1e-15);
        assert!((s.part(3).geodesic(0.0, 0.5, 0.5, 0.5) - PI * 0.1).abs() < 1e-15);
        // Hemisphere: its two edges at the equator are antipodes.
        assert!((s.part(2).geodesic(0.0, 0.5, 1.0, 0.5) - PI * 0.1).abs() < 1e-15);
        assert_eq!(s.part(3).geodesic(0.3, 0.4, 0.3, 0.4), 0.0);
    }

    #[test]
    fn gps_of_hand_built_frames() {
        let s = surface();
        // Frame 0: perfect. Frame 1: pixel 0 right part but U off by 1 on the
        // cylinder (g = 0.1 pi), pixel 1 wrong part. Frame 2: no body, predicted background.
        let truth = frames(&[
            [(1.0, 0.2, 0.5), (3.0, 0.1, 0.1)],
            [(1.0, 0.0, 0.5), (3.0, 0.1, 0.1)],
            [(0.0, 0.0, 0.0), (0.0, 0.0, 0.0)],
        ]);
        let pred = frames(&[
            [(1.0, 0.2, 0.5), (3.0, 0.1, 0.1)],
            [(1.0, 1.0, 0.5), (4.0, 0.1, 0.1)],
            [(0.0, 0.0, 0.0), (0.0, 0.0, 0.0)],
        ]);
        let p = Iuv::new(&pred, 3, 1, 2, "pred").unwrap();
        let t = Iuv::new(&truth, 3, 1, 2, "true").unwrap();
        let g = pixel_gps(&p, &t, &s).unwrap();
        let half = (-(0.1 * PI).powi(2) / (2.0 * KAPPA * KAPPA)).exp();
        assert_eq!(g[..4], [1.0, 1.0, half, 0.0]);
        assert!(g[4].is_nan() && g[5].is_nan());
        let e = evaluate(&p, &t, &s, None, &THRS, &recs()).unwrap();
        assert_eq!(e.gps[..2], [1.0, half / 2.0]);
        assert!(e.gps[2].is_nan() && e.gpsm[2].is_nan() && e.mask_iou[2].is_nan());
        assert_eq!(e.mask_iou[..2], [1.0, 1.0]);
        // Part 1: 2 of 2; part 3: 1 of 2 (frame 1 predicts 4); part 4: 0 of 1.
        assert_eq!(e.part_iou[0], 1.0);
        assert_eq!(e.part_iou[2], 0.5);
        assert_eq!(e.part_iou[3], 0.0);
        assert!(e.part_iou[4].is_nan());
        assert_eq!(e.part_miou, 0.5);
        assert_eq!(e.pooled_mask_iou, 1.0);
        // GPSm of frame 1 = sqrt(half / 2) = 0.49 < 0.5: only frame 0 is a hit; its
        // score ties frame 1's (foreground fraction 1) and comes first: AP 1/2 recall at precision 1.
        assert!(e.gpsm[1] < 0.5);
        assert_eq!(e.ap.recall, vec![0.5; 10]);
    }

    #[test]
    fn bad_values_are_errors() {
        let s = surface();
        let truth = frames(&[[(1.0, 0.2, 0.5), (25.0, 0.1, 0.1)]]);
        let pred = frames(&[[(1.0, 0.2, 0.5), (1.5, 0.1, 0.1)]]);
        let p = Iuv::new(&pred, 1, 1, 2, "pred").unwrap();
        let t = Iuv::new(&truth, 1, 1, 2, "true").unwrap();
        let err = pixel_gps(&p, &t, &s).unwrap_err().to_string();
        assert!(err.starts_with("pred:") && err.contains("1.5"), "{err}");
        let ok_pred = frames(&[[(1.0, 0.2, 0.5), (1.0, 0.1, 0.1)]]);
        let p = Iuv::new(&ok_pred, 1, 1, 2, "pred").unwrap();
        let err = pixel_gps(&p, &t, &s).unwrap_err().to_string();
        assert!(err.starts_with("true:") && err.contains("25"), "{err}");
        let uv = frames(&[[(1.0, 2.0, 0.5), (1.0, 0.1, 0.1)]]);
        let t = Iuv::new(&uv, 1, 1, 2, "true").unwrap();
        assert!(pixel_gps(&p, &t, &s).is_err());
        assert!(Iuv::new(&uv, 2, 1, 2, "true").is_err());
        assert!(Surface::new(&[0; 24], &[0.1; 24], &[0.0; 24]).is_err());
        let mut kind = [1i32; 25];
        kind[5] = 7;
        assert!(Surface::new(&kind, &[0.1; 25], &[0.0; 25]).is_err());
    }
}
