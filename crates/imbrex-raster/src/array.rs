//! Sample types and typed pixel buffers.
//!
//! Pixels keep their source type end to end (a uint16 COG yields uint16 tiles), so most code
//! is generic over [`Sample`] and [`Buffer`] dispatches to it with [`with_buffer!`].

use serde::{Deserialize, Serialize};

/// A sample type, named as numpy/rasterio name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    Uint8,
    Int8,
    Uint16,
    Int16,
    Uint32,
    Int32,
    Float32,
    Float64,
}

impl DataType {
    /// `uint8`, `float32`, ...
    pub fn name(self) -> &'static str {
        match self {
            DataType::Uint8 => "uint8",
            DataType::Int8 => "int8",
            DataType::Uint16 => "uint16",
            DataType::Int16 => "int16",
            DataType::Uint32 => "uint32",
            DataType::Int32 => "int32",
            DataType::Float32 => "float32",
            DataType::Float64 => "float64",
        }
    }

    /// Bytes per sample.
    pub fn size(self) -> usize {
        match self {
            DataType::Uint8 | DataType::Int8 => 1,
            DataType::Uint16 | DataType::Int16 => 2,
            DataType::Uint32 | DataType::Int32 | DataType::Float32 => 4,
            DataType::Float64 => 8,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, DataType::Float32 | DataType::Float64)
    }

    /// The largest value of the type (rasterio's `dtype_ranges[dtype][1]`).
    pub fn max_value(self) -> f64 {
        match self {
            DataType::Uint8 => u8::MAX as f64,
            DataType::Int8 => i8::MAX as f64,
            DataType::Uint16 => u16::MAX as f64,
            DataType::Int16 => i16::MAX as f64,
            DataType::Uint32 => u32::MAX as f64,
            DataType::Int32 => i32::MAX as f64,
            DataType::Float32 => f32::MAX as f64,
            DataType::Float64 => f64::MAX,
        }
    }

    /// The smallest value of the type.
    pub fn min_value(self) -> f64 {
        match self {
            DataType::Uint8 | DataType::Uint16 | DataType::Uint32 => 0.0,
            DataType::Int8 => i8::MIN as f64,
            DataType::Int16 => i16::MIN as f64,
            DataType::Int32 => i32::MIN as f64,
            DataType::Float32 => f32::MIN as f64,
            DataType::Float64 => f64::MIN,
        }
    }

    /// numpy's `promote_types` over the sample types imbrex has (int64 has no place here: a
    /// 32-bit integer mixed with the other signedness becomes float64).
    pub fn promote(self, other: DataType) -> DataType {
        use DataType::*;
        let (a, b) = (self, other);
        if a == b {
            return a;
        }
        if a == Float64 || b == Float64 {
            return Float64;
        }
        if a == Float32 || b == Float32 {
            let other = if a == Float32 { b } else { a };
            return if other.size() <= 2 { Float32 } else { Float64 };
        }
        let signed = |t: DataType| matches!(t, Int8 | Int16 | Int32);
        if signed(a) == signed(b) {
            return if a.size() >= b.size() { a } else { b };
        }
        let (s, u) = if signed(a) { (a, b) } else { (b, a) };
        match s.size().max(2 * u.size()) {
            2 => Int16,
            4 => Int32,
            _ => Float64,
        }
    }

    /// True when `v` can be stored exactly in this type (GDAL's `IsNoDataInRange`, roughly).
    pub fn holds(self, v: f64) -> bool {
        if self.is_float() {
            return v.is_nan() || v.is_infinite() || (v >= self.min_value() && v <= self.max_value());
        }
        v.is_finite() && v.fract() == 0.0 && v >= self.min_value() && v <= self.max_value()
    }
}

impl std::fmt::Display for DataType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DataType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "uint8" => DataType::Uint8,
            "int8" => DataType::Int8,
            "uint16" => DataType::Uint16,
            "int16" => DataType::Int16,
            "uint32" => DataType::Uint32,
            "int32" => DataType::Int32,
            "float32" => DataType::Float32,
            "float64" => DataType::Float64,
            _ => return Err(format!("'{s}' is not a data type")),
        })
    }
}

/// A pixel sample of one of the supported types.
pub trait Sample: Copy + PartialOrd + Default + Send + Sync + std::fmt::Debug + 'static {
    const DTYPE: DataType;
    fn to_f64(self) -> f64;
    /// Convert with rounding and saturation, as GDAL's `GDALCopyWords` does for integer
    /// targets (NaN becomes 0); plain cast for floats.
    fn from_f64(v: f64) -> Self;
    fn is_nan(self) -> bool {
        false
    }
    /// Read from native-endian bytes (exactly `DTYPE.size()` of them).
    fn read_ne(b: &[u8]) -> Self;
    fn read_le(b: &[u8]) -> Self;
    fn read_be(b: &[u8]) -> Self;
    fn wrapping_add(self, other: Self) -> Self;
    fn wrap(v: Vec<Self>) -> Buffer;
}

macro_rules! int_sample {
    ($t:ty, $dt:ident, $variant:ident) => {
        impl Sample for $t {
            const DTYPE: DataType = DataType::$dt;
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn from_f64(v: f64) -> Self {
                // `as` saturates and maps NaN to 0; round half away from zero like GDAL.
                v.round() as $t
            }
            #[inline]
            fn read_ne(b: &[u8]) -> Self {
                <$t>::from_ne_bytes(b.try_into().expect("sample width"))
            }
            #[inline]
            fn read_le(b: &[u8]) -> Self {
                <$t>::from_le_bytes(b.try_into().expect("sample width"))
            }
            #[inline]
            fn read_be(b: &[u8]) -> Self {
                <$t>::from_be_bytes(b.try_into().expect("sample width"))
            }
            #[inline]
            fn wrapping_add(self, other: Self) -> Self {
                <$t>::wrapping_add(self, other)
            }
            fn wrap(v: Vec<Self>) -> Buffer {
                Buffer::$variant(v)
            }
        }
    };
}

int_sample!(u8, Uint8, Uint8);
int_sample!(i8, Int8, Int8);
int_sample!(u16, Uint16, Uint16);
int_sample!(i16, Int16, Int16);
int_sample!(u32, Uint32, Uint32);
int_sample!(i32, Int32, Int32);

macro_rules! float_sample {
    ($t:ty, $dt:ident, $variant:ident) => {
        impl Sample for $t {
            const DTYPE: DataType = DataType::$dt;
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            #[inline]
            fn read_ne(b: &[u8]) -> Self {
                <$t>::from_ne_bytes(b.try_into().expect("sample width"))
            }
            #[inline]
            fn read_le(b: &[u8]) -> Self {
                <$t>::from_le_bytes(b.try_into().expect("sample width"))
            }
            #[inline]
            fn read_be(b: &[u8]) -> Self {
                <$t>::from_be_bytes(b.try_into().expect("sample width"))
            }
            #[inline]
            fn wrapping_add(self, other: Self) -> Self {
                self + other
            }
            fn wrap(v: Vec<Self>) -> Buffer {
                Buffer::$variant(v)
            }
        }
    };
}

float_sample!(f32, Float32, Float32);
float_sample!(f64, Float64, Float64);

/// A flat vector of samples of one type.
#[derive(Clone, Debug, PartialEq)]
pub enum Buffer {
    Uint8(Vec<u8>),
    Int8(Vec<i8>),
    Uint16(Vec<u16>),
    Int16(Vec<i16>),
    Uint32(Vec<u32>),
    Int32(Vec<i32>),
    Float32(Vec<f32>),
    Float64(Vec<f64>),
}

/// Run `$body` with `$v` bound to the typed vector inside a [`Buffer`] (by reference or
/// value, following how `$buf` is passed) and `$T` to its sample type.
#[macro_export]
macro_rules! with_buffer {
    ($buf:expr, $v:ident, $T:ident => $body:expr) => {
        match $buf {
            $crate::array::Buffer::Uint8($v) => {
                #[allow(unused)]
                type $T = u8;
                $body
            }
            $crate::array::Buffer::Int8($v) => {
                #[allow(unused)]
                type $T = i8;
                $body
            }
            $crate::array::Buffer::Uint16($v) => {
                #[allow(unused)]
                type $T = u16;
                $body
            }
            $crate::array::Buffer::Int16($v) => {
                #[allow(unused)]
                type $T = i16;
                $body
            }
            $crate::array::Buffer::Uint32($v) => {
                #[allow(unused)]
                type $T = u32;
                $body
            }
            $crate::array::Buffer::Int32($v) => {
                #[allow(unused)]
                type $T = i32;
                $body
            }
            $crate::array::Buffer::Float32($v) => {
                #[allow(unused)]
                type $T = f32;
                $body
            }
            $crate::array::Buffer::Float64($v) => {
                #[allow(unused)]
                type $T = f64;
                $body
            }
        }
    };
}

/// Run `$body` with `$T` bound to the Rust type of a [`DataType`].
#[macro_export]
macro_rules! with_dtype {
    ($dt:expr, $T:ident => $body:expr) => {
        match $dt {
            $crate::array::DataType::Uint8 => {
                type $T = u8;
                $body
            }
            $crate::array::DataType::Int8 => {
                type $T = i8;
                $body
            }
            $crate::array::DataType::Uint16 => {
                type $T = u16;
                $body
            }
            $crate::array::DataType::Int16 => {
                type $T = i16;
                $body
            }
            $crate::array::DataType::Uint32 => {
                type $T = u32;
                $body
            }
            $crate::array::DataType::Int32 => {
                type $T = i32;
                $body
            }
            $crate::array::DataType::Float32 => {
                type $T = f32;
                $body
            }
            $crate::array::DataType::Float64 => {
                type $T = f64;
                $body
            }
        }
    };
}

impl Buffer {
    /// A buffer of `len` samples of `dtype`, all equal to `fill` (converted to the type).
    pub fn filled(dtype: DataType, len: usize, fill: f64) -> Buffer {
        with_dtype!(dtype, T => T::wrap(vec![T::from_f64(fill); len]))
    }

    pub fn dtype(&self) -> DataType {
        with_buffer!(self, _v, T => T::DTYPE)
    }

    pub fn len(&self) -> usize {
        with_buffer!(self, v, T => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `i` as f64.
    pub fn get_f64(&self, i: usize) -> f64 {
        with_buffer!(self, v, T => v[i].to_f64())
    }

    /// Set sample `i` from an f64 (converted as [`Sample::from_f64`] does).
    pub fn set_f64(&mut self, i: usize, value: f64) {
        with_buffer!(self, v, T => v[i] = T::from_f64(value))
    }

    /// All samples as f64 (for statistics and band math).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        with_buffer!(self, v, T => v.iter().map(|s| s.to_f64()).collect())
    }

    /// Mutably borrow the typed vector; `None` when the type differs.
    pub fn as_mut_slice<T: Sample>(&mut self) -> Option<&mut [T]> {
        with_buffer!(self, v, S => (v as &mut dyn std::any::Any).downcast_mut::<Vec<T>>().map(Vec::as_mut_slice))
    }

    /// Borrow the typed vector; `None` when the type differs.
    pub fn as_slice<T: Sample>(&self) -> Option<&[T]> {
        // `Any` downcasting checks the type without unsafe code.
        with_buffer!(self, v, S => (v as &dyn std::any::Any).downcast_ref::<Vec<T>>().map(Vec::as_slice))
    }

    /// Convert every sample to another type (GDAL rounding/saturation for integers).
    pub fn cast(&self, dtype: DataType) -> Buffer {
        if dtype == self.dtype() {
            return self.clone();
        }
        with_buffer!(self, v, S => with_dtype!(dtype, T => T::wrap(v.iter().map(|s| T::from_f64(s.to_f64())).collect())))
    }

    /// Native-endian bytes of all samples.
    pub fn to_ne_bytes(&self) -> Vec<u8> {
        with_buffer!(self, v, T => v.iter().flat_map(|s| s.to_ne_bytes()).collect())
    }
}
