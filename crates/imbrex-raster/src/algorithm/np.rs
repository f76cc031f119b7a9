//! The numpy and `numpy.ma` semantics the algorithms depend on, element by element.
//!
//! TiTiler's algorithms run on masked arrays, and `numpy.ma` defines what lands *under* the
//! mask: a binary operator (`a - b`, `a * b`) keeps `a`'s value where either is masked; a
//! division also masks non-finite results and keeps the dividend; a ufunc called directly
//! (`numpy.sin(a)`) computes everywhere, and a domained one (`numpy.sqrt`) writes its fill
//! value (0) where masked. Reproducing that keeps masked pixels' values equal to TiTiler's
//! (they show in NPY/GeoTIFF output and under a PNG's alpha).

use crate::array::{Buffer, DataType};

/// `numpy.finfo(float).tiny`, `numpy.ma`'s safe-division tolerance.
pub const TINY: f64 = f64::MIN_POSITIVE;

/// A sample and whether it is masked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct M<T> {
    pub v: T,
    pub m: bool,
}

impl<T> M<T> {
    #[inline]
    pub fn new(v: T, m: bool) -> M<T> {
        M { v, m }
    }
}

/// `numpy.ma` binary operator (`a op b`): the result where neither is masked, else `a`.
#[inline]
pub fn bin<T: Copy>(a: M<T>, b: M<T>, f: impl Fn(T, T) -> T) -> M<T> {
    let m = a.m || b.m;
    M::new(if m { a.v } else { f(a.v, b.v) }, m)
}

/// `numpy.ma` division of float64 values (`a / b`): non-finite results and the unsafe
/// domain are masked too; masked results hold the dividend (`0 + a`).
#[inline]
pub fn div64(a: M<f64>, b: M<f64>) -> M<f64> {
    let r = a.v / b.v;
    let m = a.m || b.m || !r.is_finite() || a.v.abs() * TINY >= b.v.abs();
    // numpy: result[m] = 0; result += m * a.
    M::new(if m { 0.0 + a.v } else { r + 0.0 * a.v }, m)
}

/// `numpy.ma` division of float32 values by float32 values.
#[inline]
pub fn div32(a: M<f32>, b: M<f32>) -> M<f32> {
    let r = a.v / b.v;
    let m = a.m || b.m || !r.is_finite() || (a.v.abs() as f64) * TINY >= (b.v.abs() as f64);
    M::new(if m { 0.0 + a.v } else { r + 0.0 * a.v }, m)
}

/// `numpy.sqrt` of a masked array (a domained ufunc): 0 and masked where masked or < 0.
#[inline]
pub fn sqrt_ma<T: Float>(a: M<T>) -> M<T> {
    let bad = a.m || a.v.lt0();
    M::new(if bad { T::zero() } else { a.v.sqrt() }, bad)
}

/// Python's float modulo (numpy's `remainder`): the sign of the divisor.
#[inline]
pub fn pymod(a: f64, b: f64) -> f64 {
    let m = a % b;
    if b == 0.0 {
        return m;
    }
    if m != 0.0 { if (b < 0.0) != (m < 0.0) { m + b } else { m } } else { 0.0f64.copysign(b) }
}

/// The float types the algorithms compute in (numpy keeps float32 data in float32).
pub trait Float:
    Copy
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
{
    fn zero() -> Self;
    fn from64(v: f64) -> Self;
    fn to64(self) -> f64;
    fn sqrt(self) -> Self;
    fn atan(self) -> Self;
    fn atan2(self, o: Self) -> Self;
    fn is_finite(self) -> bool;
    fn lt0(self) -> bool;
}

impl Float for f32 {
    fn zero() -> f32 {
        0.0
    }
    fn from64(v: f64) -> f32 {
        v as f32
    }
    fn to64(self) -> f64 {
        self as f64
    }
    fn sqrt(self) -> f32 {
        f32::sqrt(self)
    }
    fn atan(self) -> f32 {
        f32::atan(self)
    }
    fn atan2(self, o: f32) -> f32 {
        f32::atan2(self, o)
    }
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
    fn lt0(self) -> bool {
        self < 0.0
    }
}

impl Float for f64 {
    fn zero() -> f64 {
        0.0
    }
    fn from64(v: f64) -> f64 {
        v
    }
    fn to64(self) -> f64 {
        self
    }
    fn sqrt(self) -> f64 {
        f64::sqrt(self)
    }
    fn atan(self) -> f64 {
        f64::atan(self)
    }
    fn atan2(self, o: f64) -> f64 {
        f64::atan2(self, o)
    }
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
    fn lt0(self) -> bool {
        self < 0.0
    }
}

/// `numpy.gradient` of a masked 2-D array along rows (`axis == 0`) or columns, with unit
/// spacing and first-order edges, in the data's float type (float32 stays float32).
///
/// Interior: `(f[i+1] - f[i-1]) / 2.`, edges `(f[1] - f[0]) / 1.` and
/// `(f[-1] - f[-2]) / 1.`; the division is numpy.ma's against a float64 scalar (computed
/// in float64, stored back in `T`).
pub fn gradient<T: Float>(f: &[M<T>], w: usize, h: usize, axis: usize) -> Vec<M<T>> {
    let n = if axis == 0 { h } else { w };
    let idx = |line: usize, k: usize| if axis == 0 { k * w + line } else { line * w + k };
    let lines = if axis == 0 { w } else { h };
    let mut out = vec![M::new(T::zero(), false); w * h];
    let step = |a: M<T>, b: M<T>, d: f64| -> M<T> {
        let diff = bin(a, b, |x, y| x - y);
        let q = diff.v.to64() / d;
        let m = diff.m || !q.is_finite() || diff.v.to64().abs() * TINY >= d;
        M::new(T::from64(if m { 0.0 + diff.v.to64() } else { q + 0.0 * diff.v.to64() }), m)
    };
    for line in 0..lines {
        for k in 1..n - 1 {
            out[idx(line, k)] = step(f[idx(line, k + 1)], f[idx(line, k - 1)], 2.0);
        }
        out[idx(line, 0)] = step(f[idx(line, 1)], f[idx(line, 0)], 1.0);
        out[idx(line, n - 1)] = step(f[idx(line, n - 1)], f[idx(line, n - 2)], 1.0);
    }
    out
}

/// numpy's C cast of a float to a 32-bit integer as x86-64 performs it (`cvttsd2si`):
/// truncation, and `i32::MIN` for NaN and out-of-range values.
#[inline]
pub fn f_to_i32(v: f64) -> i32 {
    if v.is_nan() || v >= 2_147_483_648.0 || v <= -2_147_483_649.0 { i32::MIN } else { v as i32 }
}

/// `astype(dtype)` of a value held as f64: `from_float` says whether the source array is
/// floating point (float to integer casts truncate through a 32-bit integer, as numpy
/// does on x86-64; integer to integer casts wrap).
#[inline]
pub fn cast(v: f64, dtype: DataType, from_float: bool) -> f64 {
    let int = |v: f64| -> i64 {
        if from_float {
            match dtype {
                DataType::Uint32 => {
                    if (0.0..4_294_967_296.0).contains(&v) {
                        v as i64
                    } else if v > -2_147_483_649.0 && v < 0.0 {
                        (v as i64) & 0xFFFF_FFFF
                    } else {
                        0
                    }
                }
                _ => f_to_i32(v) as i64,
            }
        } else {
            v as i64
        }
    };
    match dtype {
        DataType::Uint8 => int(v) as u8 as f64,
        DataType::Int8 => int(v) as i8 as f64,
        DataType::Uint16 => int(v) as u16 as f64,
        DataType::Int16 => int(v) as i16 as f64,
        DataType::Uint32 => int(v) as u32 as f64,
        DataType::Int32 => int(v) as i32 as f64,
        DataType::Float32 => v as f32 as f64,
        DataType::Float64 => v,
    }
}

/// A buffer of `dtype` from f64 values, cast as numpy's `astype` does.
pub fn to_buffer(vals: &[f64], dtype: DataType, from_float: bool) -> Buffer {
    crate::with_dtype!(dtype, T => <T as crate::array::Sample>::wrap(vals.iter().map(|&v| {
        let c = cast(v, dtype, from_float);
        <T as crate::array::Sample>::from_f64(c)
    }).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_follow_numpy_on_x86_64() {
        // Values measured with numpy 2.4: float to small integers goes through int32.
        let u8s: Vec<f64> =
            [-1.0, -0.5, 255.9, 256.0, 300.0, -300.0, f64::NAN, f64::INFINITY, 1e10 + 5.0, 70000.7, -70000.7]
                .iter()
                .map(|&v| cast(v, DataType::Uint8, true))
                .collect();
        assert_eq!(u8s, vec![255.0, 0.0, 255.0, 0.0, 44.0, 212.0, 0.0, 0.0, 0.0, 112.0, 144.0]);
        assert_eq!(cast(-70000.7, DataType::Int16, true), -4464.0);
        assert_eq!(cast(f64::NAN, DataType::Int32, true), i32::MIN as f64);
        assert_eq!(cast(1000.0, DataType::Uint8, false), 232.0);
        assert_eq!(cast(-9999.0, DataType::Uint8, false), 241.0);
    }

    #[test]
    fn python_modulo() {
        assert_eq!(pymod(-1.5, 256.0), 254.5);
        assert_eq!(pymod(5.5, 5.0), 0.5);
        assert!(pymod(1.0, 0.0).is_nan());
        assert_eq!(pymod(-10.0, 5.0).to_bits(), 0.0f64.to_bits());
    }

    #[test]
    fn masked_operators_keep_the_first_operand() {
        let a = M::new(3.0, true);
        let b = M::new(1.0, false);
        assert_eq!(bin(a, b, |x, y| x - y), M::new(3.0, true));
        assert_eq!(div64(M::new(1.0, false), M::new(0.0, false)), M::new(1.0, true));
        assert_eq!(sqrt_ma(M::new(9.0f64, true)), M::new(0.0, true));
    }
}
