//! The element types kernels accept: real and complex floats of both widths.

use std::ops::{Add, Mul, Sub};

use num_complex::Complex;
use num_traits::{Float, FromPrimitive, ToPrimitive};

/// The real scalar beneath an element (`f32` or `f64`).
pub trait Real:
    Float + FromPrimitive + ToPrimitive + Send + Sync + std::fmt::Debug + 'static
{
}
impl Real for f32 {}
impl Real for f64 {}

/// A CSI sample: `f32`, `f64`, `Complex<f32>` or `Complex<f64>`.
///
/// Linear operators act on real and imaginary parts separately, which is
/// exactly multiplication by a real weight.
pub trait Element:
    Copy
    + Send
    + Sync
    + PartialEq
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<<Self as Element>::Real, Output = Self>
    + std::fmt::Debug
    + 'static
{
    type Real: Real;
    fn zero() -> Self;
    fn nan() -> Self;
    /// True when every component is finite.
    fn is_finite(self) -> bool;
    /// Squared magnitude, the term of a (complex) variance.
    fn norm_sqr(self) -> f64;
    fn to_c64(self) -> Complex<f64>;
    fn from_c64(z: Complex<f64>) -> Self;
}

impl Element for f32 {
    type Real = f32;
    fn zero() -> Self {
        0.0
    }
    fn nan() -> Self {
        f32::NAN
    }
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
    fn norm_sqr(self) -> f64 {
        let v = self as f64;
        v * v
    }
    fn to_c64(self) -> Complex<f64> {
        Complex::new(self as f64, 0.0)
    }
    fn from_c64(z: Complex<f64>) -> Self {
        z.re as f32
    }
}

impl Element for f64 {
    type Real = f64;
    fn zero() -> Self {
        0.0
    }
    fn nan() -> Self {
        f64::NAN
    }
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
    fn norm_sqr(self) -> f64 {
        self * self
    }
    fn to_c64(self) -> Complex<f64> {
        Complex::new(self, 0.0)
    }
    fn from_c64(z: Complex<f64>) -> Self {
        z.re
    }
}

impl Element for Complex<f32> {
    type Real = f32;
    fn zero() -> Self {
        Complex::new(0.0, 0.0)
    }
    fn nan() -> Self {
        Complex::new(f32::NAN, f32::NAN)
    }
    fn is_finite(self) -> bool {
        self.re.is_finite() && self.im.is_finite()
    }
    fn norm_sqr(self) -> f64 {
        let (re, im) = (self.re as f64, self.im as f64);
        re * re + im * im
    }
    fn to_c64(self) -> Complex<f64> {
        Complex::new(self.re as f64, self.im as f64)
    }
    fn from_c64(z: Complex<f64>) -> Self {
        Complex::new(z.re as f32, z.im as f32)
    }
}

impl Element for Complex<f64> {
    type Real = f64;
    fn zero() -> Self {
        Complex::new(0.0, 0.0)
    }
    fn nan() -> Self {
        Complex::new(f64::NAN, f64::NAN)
    }
    fn is_finite(self) -> bool {
        self.re.is_finite() && self.im.is_finite()
    }
    fn norm_sqr(self) -> f64 {
        self.re * self.re + self.im * self.im
    }
    fn to_c64(self) -> Complex<f64> {
        self
    }
    fn from_c64(z: Complex<f64>) -> Self {
        z
    }
}
