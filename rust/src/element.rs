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

/// `x` as `&[f32]` when `T` is `f32` (the type the AVX2 kernels handle), else `None`.
#[cfg(target_arch = "x86_64")]
pub(crate) fn as_f32<T: 'static>(x: &[T]) -> Option<&[f32]> {
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()).then(|| {
        // SAFETY: T is f32, so the slice already is a slice of f32.
        unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<f32>(), x.len()) }
    })
}

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

macro_rules! real_element {
    ($t:ty) => {
        impl Element for $t {
            type Real = $t;
            fn zero() -> Self {
                0.0
            }
            fn nan() -> Self {
                <$t>::NAN
            }
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            fn norm_sqr(self) -> f64 {
                let v = self as f64;
                v * v
            }
            fn to_c64(self) -> Complex<f64> {
                Complex::new(self as f64, 0.0)
            }
            fn from_c64(z: Complex<f64>) -> Self {
                z.re as $t
            }
        }
    };
}

macro_rules! complex_element {
    ($t:ty) => {
        impl Element for Complex<$t> {
            type Real = $t;
            fn zero() -> Self {
                Complex::new(0.0, 0.0)
            }
            fn nan() -> Self {
                Complex::new(<$t>::NAN, <$t>::NAN)
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
                Complex::new(z.re as $t, z.im as $t)
            }
        }
    };
}

real_element!(f32);
real_element!(f64);
complex_element!(f32);
complex_element!(f64);
