//! The typed virtual machine: numexpr's interpreter (`interp_body.cpp`) over whole slices.
//!
//! Integer arithmetic wraps (C on x86-64), `x / 0`, `x % 0` and `x // 0` are 0 for
//! integers, `int(pow(...))` out of range is `INT_MIN` (`cvttsd2si`), float `%` is
//! `a - floor(a/b) * b`, `maximum`/`minimum` propagate NaN, `round` is `rint`. Math
//! functions are the platform libm's (Rust's `f64::sin` calls it), except `arcsinh`,
//! `arccosh` and `arctanh`, which Rust computes itself: those are ports of glibc's.

use super::build::{ExprType, Kind, OpName, Program, TNode};
use super::parse::{BinOp, Func};
use crate::array::Buffer;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Scalar {
    B(bool),
    I(i32),
    L(i64),
    F(f32),
    D(f64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmp {
    Gt,
    Ge,
    Eq,
    Ne,
}

/// A typed op; the kind is the operands' (after casts), the result's is the node's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Op {
    Bin(BinOp, Kind),
    Neg(Kind),
    Invert(Kind),
    Cmp(Cmp, Kind),
    Where(Kind),
    /// From this kind to the node's.
    Cast(Kind),
    Copy(Kind),
    OnesLike(Kind),
    Real(Kind),
    Imag,
    F1(Func, Kind),
    F2(Func, Kind),
    Pred(Func, Kind),
}

pub(crate) fn op_for(name: OpName, sig: &[Kind]) -> Op {
    match name {
        OpName::Bin(b) => Op::Bin(b, sig[0]),
        OpName::Neg => Op::Neg(sig[0]),
        OpName::Invert => Op::Invert(sig[0]),
        OpName::Gt => Op::Cmp(Cmp::Gt, sig[0]),
        OpName::Ge => Op::Cmp(Cmp::Ge, sig[0]),
        OpName::Eq => Op::Cmp(Cmp::Eq, sig[0]),
        OpName::Ne => Op::Cmp(Cmp::Ne, sig[0]),
        OpName::OnesLike | OpName::Func(Func::OnesLike) => Op::OnesLike(sig[0]),
        OpName::Sqrt => Op::F1(Func::Sqrt, sig[0]),
        OpName::Cast => Op::Cast(sig[0]),
        OpName::Func(f) => match f {
            Func::Where => Op::Where(sig[1]),
            Func::Copy => Op::Copy(sig[0]),
            Func::Real => Op::Real(sig[0]),
            Func::Imag => Op::Imag,
            Func::Isnan | Func::Isfinite | Func::Isinf | Func::Signbit => Op::Pred(f, sig[0]),
            f if f.arity() == 2 => Op::F2(f, sig[0]),
            f => Op::F1(f, sig[0]),
        },
    }
}

/// A column of values of one kind.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Col {
    B(Vec<bool>),
    I(Vec<i32>),
    L(Vec<i64>),
    F(Vec<f32>),
    D(Vec<f64>),
}

impl Col {
    /// `numpy.asarray(band)` as numexpr sees it: small integers int32, uint32 int64.
    pub(crate) fn from_band(buf: &Buffer, start: usize, n: usize) -> Col {
        let r = start..start + n;
        match buf {
            Buffer::Uint8(v) => Col::I(v[r].iter().map(|&x| x as i32).collect()),
            Buffer::Int8(v) => Col::I(v[r].iter().map(|&x| x as i32).collect()),
            Buffer::Uint16(v) => Col::I(v[r].iter().map(|&x| x as i32).collect()),
            Buffer::Int16(v) => Col::I(v[r].iter().map(|&x| x as i32).collect()),
            Buffer::Int32(v) => Col::I(v[r].to_vec()),
            Buffer::Uint32(v) => Col::L(v[r].iter().map(|&x| x as i64).collect()),
            Buffer::Float32(v) => Col::F(v[r].to_vec()),
            Buffer::Float64(v) => Col::D(v[r].to_vec()),
        }
    }

    pub(crate) fn expr_type(&self) -> ExprType {
        match self {
            Col::B(_) => ExprType::Bool,
            Col::I(_) => ExprType::Int32,
            Col::L(_) => ExprType::Int64,
            Col::F(_) => ExprType::Float32,
            Col::D(_) => ExprType::Float64,
        }
    }

    /// `numpy.nan_to_num`: NaN → 0, ±inf → the type's extremes.
    pub(crate) fn nan_to_num(&mut self) {
        match self {
            Col::F(v) => v.iter_mut().for_each(|x| {
                if x.is_nan() {
                    *x = 0.0
                } else if x.is_infinite() {
                    *x = if *x > 0.0 { f32::MAX } else { f32::MIN }
                }
            }),
            Col::D(v) => v.iter_mut().for_each(|x| {
                if x.is_nan() {
                    *x = 0.0
                } else if x.is_infinite() {
                    *x = if *x > 0.0 { f64::MAX } else { f64::MIN }
                }
            }),
            _ => {}
        }
    }

    fn to_f64(&self) -> Vec<f64> {
        match self {
            Col::B(v) => v.iter().map(|&x| x as u8 as f64).collect(),
            Col::I(v) => v.iter().map(|&x| x as f64).collect(),
            Col::L(v) => v.iter().map(|&x| x as f64).collect(),
            Col::F(v) => v.iter().map(|&x| x as f64).collect(),
            Col::D(v) => v.clone(),
        }
    }
}

/// Stack the blocks' results as `numpy.ma.MaskedArray([...])` does (promoting to `t`) into
/// the buffer type `t` is stored in (bool → uint8, int64 → float64).
pub(crate) fn stack(cols: &[Col], t: ExprType) -> Buffer {
    let mut out_f32 = Vec::new();
    let mut out_f64 = Vec::new();
    let mut out_i32 = Vec::new();
    let mut out_u8 = Vec::new();
    for c in cols {
        match (t, c) {
            (ExprType::Bool, Col::B(v)) => out_u8.extend(v.iter().map(|&x| x as u8)),
            (ExprType::Int32, Col::B(v)) => out_i32.extend(v.iter().map(|&x| x as i32)),
            (ExprType::Int32, Col::I(v)) => out_i32.extend_from_slice(v),
            (ExprType::Float32, Col::B(v)) => out_f32.extend(v.iter().map(|&x| x as u8 as f32)),
            (ExprType::Float32, Col::F(v)) => out_f32.extend_from_slice(v),
            (ExprType::Int64 | ExprType::Float64, c) => out_f64.extend(c.to_f64()),
            (t, c) => unreachable!("{c:?} does not promote to {t:?}"),
        }
    }
    match t {
        ExprType::Bool => Buffer::Uint8(out_u8),
        ExprType::Int32 => Buffer::Int32(out_i32),
        ExprType::Float32 => Buffer::Float32(out_f32),
        ExprType::Int64 | ExprType::Float64 => Buffer::Float64(out_f64),
    }
}

#[derive(Clone, Copy)]
enum Arg<'a> {
    C(&'a Col),
    S(Scalar),
}

enum Src<'a, T> {
    A(&'a [T]),
    S(T),
}

trait El: Copy + 'static {
    fn src<'a>(a: Arg<'a>) -> Src<'a, Self>;
    fn wrap(v: Vec<Self>) -> Col;
}

macro_rules! el {
    ($t:ty, $v:ident) => {
        impl El for $t {
            fn src<'a>(a: Arg<'a>) -> Src<'a, Self> {
                match a {
                    Arg::C(Col::$v(v)) => Src::A(v),
                    Arg::S(Scalar::$v(x)) => Src::S(x),
                    _ => unreachable!(concat!("operand is not ", stringify!($t))),
                }
            }
            fn wrap(v: Vec<Self>) -> Col {
                Col::$v(v)
            }
        }
    };
}
el!(bool, B);
el!(i32, I);
el!(i64, L);
el!(f32, F);
el!(f64, D);

fn map1<A: El, R: El>(a: Arg, n: usize, f: impl Fn(A) -> R) -> Col {
    R::wrap(match A::src(a) {
        Src::A(x) => x.iter().map(|&x| f(x)).collect(),
        Src::S(x) => vec![f(x); n],
    })
}

fn map2<A: El, B: El, R: El>(a: Arg, b: Arg, n: usize, f: impl Fn(A, B) -> R) -> Col {
    R::wrap(match (A::src(a), B::src(b)) {
        (Src::A(x), Src::A(y)) => x.iter().zip(y).map(|(&x, &y)| f(x, y)).collect(),
        (Src::A(x), Src::S(y)) => x.iter().map(|&x| f(x, y)).collect(),
        (Src::S(x), Src::A(y)) => y.iter().map(|&y| f(x, y)).collect(),
        (Src::S(x), Src::S(y)) => vec![f(x, y); n],
    })
}

fn map3<A: El, B: El, C: El, R: El>(a: Arg, b: Arg, c: Arg, n: usize, f: impl Fn(A, B, C) -> R) -> Col {
    let get = |s: &Src<A>, i| match s {
        Src::A(v) => v[i],
        Src::S(x) => *x,
    };
    let (sa, sb, sc) = (A::src(a), B::src(b), C::src(c));
    let getb = |i| match &sb {
        Src::A(v) => v[i],
        Src::S(x) => *x,
    };
    let getc = |i| match &sc {
        Src::A(v) => v[i],
        Src::S(x) => *x,
    };
    R::wrap((0..n).map(|i| f(get(&sa, i), getb(i), getc(i))).collect())
}

/// `(int)d` on x86-64: out of range and NaN give `INT_MIN`.
fn cvt_i32(d: f64) -> i32 {
    if d.is_nan() || d >= 2147483648.0 || d <= -2147483649.0 { i32::MIN } else { d as i32 }
}

macro_rules! int_bin {
    ($t:ty, $op:expr, $a:expr, $b:expr, $n:expr) => {
        match $op {
            BinOp::Add => map2::<$t, $t, $t>($a, $b, $n, |x, y| x.wrapping_add(y)),
            BinOp::Sub => map2::<$t, $t, $t>($a, $b, $n, |x, y| x.wrapping_sub(y)),
            BinOp::Mul => map2::<$t, $t, $t>($a, $b, $n, |x, y| x.wrapping_mul(y)),
            BinOp::Div => map2::<$t, $t, $t>($a, $b, $n, |x, y| if y == 0 { 0 } else { x.wrapping_div(y) }),
            BinOp::Mod => map2::<$t, $t, $t>($a, $b, $n, |x, y| {
                if y == 0 { 0 } else { x.wrapping_rem(y).wrapping_add(y).wrapping_rem(y) }
            }),
            BinOp::FloorDiv => map2::<$t, $t, $t>($a, $b, $n, |x, y| {
                if y == 0 {
                    0
                } else {
                    x.wrapping_div(y).wrapping_sub((x.wrapping_rem(y) != 0 && ((x < 0) != (y < 0))) as $t)
                }
            }),
            BinOp::And => map2::<$t, $t, $t>($a, $b, $n, |x, y| x & y),
            BinOp::Or => map2::<$t, $t, $t>($a, $b, $n, |x, y| x | y),
            BinOp::Xor => map2::<$t, $t, $t>($a, $b, $n, |x, y| x ^ y),
            BinOp::Pow => map2::<$t, $t, $t>($a, $b, $n, |x, y| int_pow(x as i64, y as i64, <$t>::BITS) as $t),
        }
    };
}

/// `pow_iii`: `(i2 < 0) ? (1 / i1) : (int)pow((double)i1, i2)`; `pow_lll` rounds
/// `powl` (exact integer powers; `LLONG_MIN` out of range). numexpr divides by zero for
/// `0 ** -k` (a crash): 0 here.
fn int_pow(x: i64, y: i64, bits: u32) -> i64 {
    if y < 0 {
        return if x == 0 { 0 } else { 1i64.wrapping_div(x) };
    }
    if bits == 32 {
        return cvt_i32((x as f64).powf(y as f64)) as i64;
    }
    let mut acc: i128 = 1;
    let base = x as i128;
    let mut e = y;
    // exact power while it fits
    while e > 0 {
        acc = match acc.checked_mul(base) {
            Some(v) if v >= i64::MIN as i128 && v <= i64::MAX as i128 => v,
            _ => return i64::MIN,
        };
        e -= 1;
        if acc == 0 || acc == 1 {
            break;
        }
        if acc == -1 {
            return if e % 2 == 0 { -1 } else { 1 };
        }
    }
    acc as i64
}

macro_rules! float_bin {
    ($t:ty, $op:expr, $a:expr, $b:expr, $n:expr) => {
        match $op {
            BinOp::Add => map2::<$t, $t, $t>($a, $b, $n, |x, y| x + y),
            BinOp::Sub => map2::<$t, $t, $t>($a, $b, $n, |x, y| x - y),
            BinOp::Mul => map2::<$t, $t, $t>($a, $b, $n, |x, y| x * y),
            BinOp::Div => map2::<$t, $t, $t>($a, $b, $n, |x, y| x / y),
            BinOp::Pow => map2::<$t, $t, $t>($a, $b, $n, |x, y| x.powf(y)),
            BinOp::Mod => map2::<$t, $t, $t>($a, $b, $n, |x, y| x - (x / y).floor() * y),
            BinOp::FloorDiv => map2::<$t, $t, $t>($a, $b, $n, |x, y| (x / y).floor()),
            BinOp::And | BinOp::Or | BinOp::Xor => unreachable!("no bitwise float op"),
        }
    };
}

macro_rules! cmp {
    ($t:ty, $c:expr, $a:expr, $b:expr, $n:expr) => {
        match $c {
            Cmp::Gt => map2::<$t, $t, bool>($a, $b, $n, |x, y| x > y),
            Cmp::Ge => map2::<$t, $t, bool>($a, $b, $n, |x, y| x >= y),
            Cmp::Eq => map2::<$t, $t, bool>($a, $b, $n, |x, y| x == y),
            Cmp::Ne => map2::<$t, $t, bool>($a, $b, $n, |x, y| x != y),
        }
    };
}

macro_rules! float_funcs {
    ($t:ident, $unary:ident, $binary:ident, $pred:ident, $asinh:ident, $acosh:ident, $atanh:ident) => {
        pub(crate) fn $unary(f: Func, x: $t) -> $t {
            match f {
                Func::Sqrt => x.sqrt(),
                Func::Sin => x.sin(),
                Func::Cos => x.cos(),
                Func::Tan => x.tan(),
                Func::Arcsin => x.asin(),
                Func::Arccos => x.acos(),
                Func::Arctan => x.atan(),
                Func::Sinh => x.sinh(),
                Func::Cosh => x.cosh(),
                Func::Tanh => x.tanh(),
                Func::Arcsinh => $asinh(x),
                Func::Arccosh => $acosh(x),
                Func::Arctanh => $atanh(x),
                Func::Log => x.ln(),
                Func::Log1p => x.ln_1p(),
                Func::Log10 => x.log10(),
                Func::Log2 => x.log2(),
                Func::Exp => x.exp(),
                Func::Expm1 => x.exp_m1(),
                Func::Abs => x.abs(),
                Func::Conj => x,
                Func::Ceil => x.ceil(),
                Func::Floor => x.floor(),
                Func::Trunc => x.trunc(),
                Func::Round => x.round_ties_even(),
                Func::Sign => {
                    if x.is_nan() {
                        <$t>::NAN
                    } else if x > 0.0 {
                        1.0
                    } else if x < 0.0 {
                        -1.0
                    } else {
                        0.0
                    }
                }
                _ => unreachable!("{f:?} is not a unary float function"),
            }
        }

        pub(crate) fn $binary(f: Func, x: $t, y: $t) -> $t {
            match f {
                Func::Fmod => x % y,
                Func::Arctan2 => x.atan2(y),
                Func::Hypot => x.hypot(y),
                Func::Copysign => x.copysign(y),
                Func::Nextafter => {
                    if x.is_nan() || y.is_nan() {
                        x + y
                    } else if x == y {
                        y
                    } else if x == 0.0 {
                        <$t>::from_bits(1).copysign(y)
                    } else {
                        let b = x.to_bits();
                        <$t>::from_bits(if (y > x) == (x > 0.0) { b + 1 } else { b - 1 })
                    }
                }
                // fmax/fmin (maxsd/minsd return the second operand on ties) behind
                // numexpr's NaN check
                Func::Maximum => {
                    if x.is_nan() || y.is_nan() {
                        <$t>::NAN
                    } else if x > y {
                        x
                    } else {
                        y
                    }
                }
                Func::Minimum => {
                    if x.is_nan() || y.is_nan() {
                        <$t>::NAN
                    } else if x < y {
                        x
                    } else {
                        y
                    }
                }
                _ => unreachable!("{f:?} is not a binary float function"),
            }
        }

        pub(crate) fn $pred(f: Func, x: $t) -> bool {
            match f {
                Func::Isnan => x.is_nan(),
                Func::Isfinite => x.is_finite(),
                Func::Isinf => x.is_infinite(),
                Func::Signbit => x.is_sign_negative(),
                _ => unreachable!("{f:?} is not a predicate"),
            }
        }
    };
}

float_funcs!(f32, f32_unary, f32_binary, f32_predicate, asinh_f32, acosh_f32, atanh_f32);
float_funcs!(f64, f64_unary, f64_binary, f64_predicate, asinh_f64, acosh_f64, atanh_f64);

/// glibc's `ln2` constants are the nearest floats to ln 2.
const LN2_F64: f64 = std::f64::consts::LN_2;
const LN2_F32: f32 = std::f32::consts::LN_2;

/// glibc's `__asinh` (fdlibm).
fn asinh_f64(x: f64) -> f64 {
    let ix = ((x.to_bits() >> 32) as u32) & 0x7fff_ffff;
    if ix >= 0x7ff0_0000 {
        return x + x;
    }
    if ix < 0x3e30_0000 {
        return x;
    }
    let xa = x.abs();
    let w = if ix > 0x41b0_0000 {
        xa.ln() + LN2_F64
    } else if ix > 0x4000_0000 {
        (2.0 * xa + 1.0 / ((xa * xa + 1.0).sqrt() + xa)).ln()
    } else {
        let t = xa * xa;
        (xa + t / (1.0 + (1.0 + t).sqrt())).ln_1p()
    };
    w.copysign(x)
}

/// glibc's `__ieee754_acosh` (wordsize-64).
#[allow(clippy::eq_op)] // `(x - x) / (x - x)`: glibc's NaN (x86's default NaN, negative)
fn acosh_f64(x: f64) -> f64 {
    let hx = x.to_bits() as i64;
    if hx > 0x4000_0000_0000_0000 {
        if hx >= 0x41b0_0000_0000_0000 {
            if hx >= 0x7ff0_0000_0000_0000 {
                return x + x;
            }
            return x.ln() + LN2_F64;
        }
        let t = x * x;
        (2.0 * x - 1.0 / (x + (t - 1.0).sqrt())).ln()
    } else if hx > 0x3ff0_0000_0000_0000 {
        let t = x - 1.0;
        (t + (2.0 * t + t * t).sqrt()).ln_1p()
    } else if hx == 0x3ff0_0000_0000_0000 {
        0.0
    } else {
        (x - x) / (x - x)
    }
}

/// glibc's `__ieee754_atanh`.
#[allow(clippy::eq_op)] // `(x - x) / (x - x)`: glibc's NaN (x86's default NaN, negative)
fn atanh_f64(x: f64) -> f64 {
    let xa = x.abs();
    let t = if xa < 0.5 {
        if xa < f64::from_bits(0x3e30_0000_0000_0000) {
            return x;
        }
        let t = xa + xa;
        0.5 * (t + t * xa / (1.0 - xa)).ln_1p()
    } else if xa < 1.0 {
        0.5 * ((xa + xa) / (1.0 - xa)).ln_1p()
    } else if xa > 1.0 {
        return (x - x) / (x - x);
    } else if xa == 1.0 {
        return x / 0.0;
    } else {
        return x + x; // NaN
    };
    t.copysign(x)
}

/// glibc's `__asinhf`.
fn asinh_f32(x: f32) -> f32 {
    let ix = x.to_bits() & 0x7fff_ffff;
    if ix >= 0x7f80_0000 {
        return x + x;
    }
    if ix < 0x3800_0000 {
        return x;
    }
    let xa = x.abs();
    let w = if ix > 0x4700_0000 {
        xa.ln() + LN2_F32
    } else if ix > 0x4000_0000 {
        (2.0 * xa + 1.0 / ((xa * xa + 1.0).sqrt() + xa)).ln()
    } else {
        let t = xa * xa;
        (xa + t / (1.0 + (1.0 + t).sqrt())).ln_1p()
    };
    w.copysign(x)
}

/// glibc's `__ieee754_acoshf`.
#[allow(clippy::eq_op)] // `(x - x) / (x - x)`: glibc's NaN (x86's default NaN, negative)
fn acosh_f32(x: f32) -> f32 {
    let hx = x.to_bits() as i32;
    if hx < 0x3f80_0000 {
        (x - x) / (x - x)
    } else if hx >= 0x4d80_0000 {
        if hx >= 0x7f80_0000 {
            return x + x;
        }
        x.ln() + LN2_F32
    } else if hx == 0x3f80_0000 {
        0.0
    } else if hx > 0x4000_0000 {
        let t = x * x;
        (2.0 * x - 1.0 / (x + (t - 1.0).sqrt())).ln()
    } else {
        let t = x - 1.0;
        (t + (2.0 * t + t * t).sqrt()).ln_1p()
    }
}

/// glibc's `__ieee754_atanhf`.
#[allow(clippy::eq_op)] // `(x - x) / (x - x)`: glibc's NaN (x86's default NaN, negative)
fn atanh_f32(x: f32) -> f32 {
    let xa = x.abs();
    let t = if xa < 0.5 {
        if xa < f32::from_bits(0x3180_0000) {
            return x;
        }
        let t = xa + xa;
        0.5 * (t + t * xa / (1.0 - xa)).ln_1p()
    } else if xa < 1.0 {
        0.5 * ((xa + xa) / (1.0 - xa)).ln_1p()
    } else if xa > 1.0 {
        return (x - x) / (x - x);
    } else if xa == 1.0 {
        return x / 0.0;
    } else {
        return x + x;
    };
    t.copysign(x)
}

fn apply(op: Op, kind: Kind, args: &[Arg], n: usize) -> Col {
    use Kind::*;
    let a = args[0];
    match op {
        Op::Bin(b, k) => {
            let y = args[1];
            match k {
                Bool => match b {
                    BinOp::And => map2::<bool, bool, bool>(a, y, n, |x, y| x && y),
                    BinOp::Or => map2::<bool, bool, bool>(a, y, n, |x, y| x || y),
                    BinOp::Xor => map2::<bool, bool, bool>(a, y, n, |x, y| x != y),
                    _ => unreachable!("no bool {b:?}"),
                },
                Int => int_bin!(i32, b, a, y, n),
                Long => int_bin!(i64, b, a, y, n),
                Float => float_bin!(f32, b, a, y, n),
                Double => float_bin!(f64, b, a, y, n),
            }
        }
        Op::Neg(k) => match k {
            Int => map1::<i32, i32>(a, n, |x| x.wrapping_neg()),
            Long => map1::<i64, i64>(a, n, |x| x.wrapping_neg()),
            Float => map1::<f32, f32>(a, n, |x| -x),
            Double => map1::<f64, f64>(a, n, |x| -x),
            Bool => unreachable!("no bool neg"),
        },
        Op::Invert(k) => match k {
            Bool => map1::<bool, bool>(a, n, |x| !x),
            Int => map1::<i32, i32>(a, n, |x| !x),
            Long => map1::<i64, i64>(a, n, |x| !x),
            _ => unreachable!("no float invert"),
        },
        Op::Cmp(c, k) => {
            let y = args[1];
            match k {
                Bool => cmp!(bool, c, a, y, n),
                Int => cmp!(i32, c, a, y, n),
                Long => cmp!(i64, c, a, y, n),
                Float => cmp!(f32, c, a, y, n),
                Double => cmp!(f64, c, a, y, n),
            }
        }
        Op::Where(k) => {
            let (y, z) = (args[1], args[2]);
            match k {
                Bool => map3::<bool, bool, bool, bool>(a, y, z, n, |c, x, y| if c { x } else { y }),
                Int => map3::<bool, i32, i32, i32>(a, y, z, n, |c, x, y| if c { x } else { y }),
                Long => map3::<bool, i64, i64, i64>(a, y, z, n, |c, x, y| if c { x } else { y }),
                Float => map3::<bool, f32, f32, f32>(a, y, z, n, |c, x, y| if c { x } else { y }),
                Double => map3::<bool, f64, f64, f64>(a, y, z, n, |c, x, y| if c { x } else { y }),
            }
        }
        Op::Cast(from) => match (kind, from) {
            (Int, Bool) => map1::<bool, i32>(a, n, |x| x as i32),
            (Long, Int) => map1::<i32, i64>(a, n, |x| x as i64),
            (Float, Int) => map1::<i32, f32>(a, n, |x| x as f32),
            (Float, Long) => map1::<i64, f32>(a, n, |x| x as f32),
            (Double, Int) => map1::<i32, f64>(a, n, |x| x as f64),
            (Double, Long) => map1::<i64, f64>(a, n, |x| x as f64),
            (Double, Float) => map1::<f32, f64>(a, n, |x| x as f64),
            _ => unreachable!("no cast from {from:?} to {kind:?}"),
        },
        Op::Copy(k) => match k {
            Bool => map1::<bool, bool>(a, n, |x| x),
            Int => map1::<i32, i32>(a, n, |x| x),
            Long => map1::<i64, i64>(a, n, |x| x),
            Float => map1::<f32, f32>(a, n, |x| x),
            Double => map1::<f64, f64>(a, n, |x| x),
        },
        Op::OnesLike(k) => match k {
            Int => Col::I(vec![1; n]),
            Long => Col::L(vec![1; n]),
            Float => Col::F(vec![1.0; n]),
            Double => Col::D(vec![1.0; n]),
            Bool => unreachable!("no bool ones_like"),
        },
        Op::Real(k) => match k {
            Bool => map1::<bool, f64>(a, n, |x| x as u8 as f64),
            Int => map1::<i32, f64>(a, n, |x| x as f64),
            Long => map1::<i64, f64>(a, n, |x| x as f64),
            Float => map1::<f32, f64>(a, n, |x| x as f64),
            Double => map1::<f64, f64>(a, n, |x| x),
        },
        Op::Imag => Col::D(vec![0.0; n]),
        Op::F1(f, k) => match k {
            Float => map1::<f32, f32>(a, n, |x| f32_unary(f, x)),
            Double => map1::<f64, f64>(a, n, |x| f64_unary(f, x)),
            Int => match f {
                Func::Round => map1::<i32, i32>(a, n, |x| x),
                Func::Sign => map1::<i32, i32>(a, n, |x| x.signum()),
                Func::Abs => map1::<i32, i32>(a, n, |x| x.wrapping_abs()),
                _ => unreachable!("no int {f:?}"),
            },
            Long => match f {
                Func::Round => map1::<i64, i64>(a, n, |x| x),
                Func::Sign => map1::<i64, i64>(a, n, |x| x.signum()),
                Func::Abs => map1::<i64, i64>(a, n, |x| x.wrapping_abs()),
                _ => unreachable!("no long {f:?}"),
            },
            Bool => unreachable!("no bool {f:?}"),
        },
        Op::F2(f, k) => {
            let y = args[1];
            match k {
                Float => map2::<f32, f32, f32>(a, y, n, |x, y| f32_binary(f, x, y)),
                Double => map2::<f64, f64, f64>(a, y, n, |x, y| f64_binary(f, x, y)),
                _ => unreachable!("no integer {f:?}"),
            }
        }
        Op::Pred(f, k) => match k {
            Float => map1::<f32, bool>(a, n, |x| f32_predicate(f, x)),
            Double => map1::<f64, bool>(a, n, |x| f64_predicate(f, x)),
            _ => unreachable!("no integer {f:?}"),
        },
    }
}

/// Evaluate an op of constants.
pub(crate) fn eval_scalar(op: Op, kind: Kind, args: &[Scalar]) -> Result<Scalar, String> {
    let args: Vec<Arg> = args.iter().map(|&s| Arg::S(s)).collect();
    Ok(match apply(op, kind, &args, 1) {
        Col::B(v) => Scalar::B(v[0]),
        Col::I(v) => Scalar::I(v[0]),
        Col::L(v) => Scalar::L(v[0]),
        Col::F(v) => Scalar::F(v[0]),
        Col::D(v) => Scalar::D(v[0]),
    })
}

/// Run a compiled block over `n` pixels; `inputs[i]` is the image's band `i`.
pub(crate) fn run(p: &Program, inputs: &[Col], n: usize) -> Result<Col, String> {
    let len = p.nodes.len();
    let mut last_use = vec![0usize; len];
    for (i, node) in p.nodes.iter().enumerate() {
        if let TNode::Op { args, .. } = node {
            for &a in args {
                last_use[a] = i;
            }
        }
    }
    let mut regs: Vec<Option<Col>> = (0..len).map(|_| None).collect();
    for (i, node) in p.nodes.iter().enumerate() {
        let TNode::Op { op, kind, args } = node else { continue };
        let col = {
            let argv: Vec<Arg> = args
                .iter()
                .map(|&a| match &p.nodes[a] {
                    TNode::Var(pos) => Arg::C(&inputs[*pos]),
                    TNode::Const(s) => Arg::S(*s),
                    TNode::Op { .. } => Arg::C(regs[a].as_ref().expect("operand computed")),
                })
                .collect();
            apply(*op, *kind, &argv, n)
        };
        for &a in args {
            if last_use[a] == i {
                regs[a] = None;
            }
        }
        regs[i] = Some(col);
    }
    regs.pop().flatten().ok_or_else(|| "empty program".to_string())
}
