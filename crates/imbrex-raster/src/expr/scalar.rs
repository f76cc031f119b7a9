//! The scalar arithmetic numexpr's compiler leaves to its hosts when it folds constants:
//! Python's on plain numbers (unbounded ints, float divmod and pow, exact comparisons) and
//! numpy's on the numpy scalars numpy functions return (`build.rs` calls these).

use super::build::{Const, INT_OVERFLOW, OpName, op_symbol, to_f64};
use super::eval;
use super::parse::{BinOp, CmpOp, Func, Num, UnOp};

type R<T> = Result<T, String>;

// ---------------------------------------------------------------------------------------
// Python scalar semantics

fn py_int(v: Num) -> Option<i128> {
    match v {
        Num::Bool(b) => Some(b as i128),
        Num::Int(i) => Some(i),
        Num::Float(_) => None,
    }
}

pub(super) fn py_unary(op: UnOp, v: Num) -> R<Num> {
    Ok(match (op, v) {
        (UnOp::Pos, Num::Float(f)) => Num::Float(f),
        (UnOp::Neg, Num::Float(f)) => Num::Float(-f),
        (UnOp::Invert, Num::Float(_)) => return Err("bad operand type for unary ~: 'float'".into()),
        (UnOp::Pos, v) => Num::Int(py_int(v).unwrap()),
        (UnOp::Neg, v) => Num::Int(py_int(v).unwrap().checked_neg().ok_or(INT_OVERFLOW)?),
        (UnOp::Invert, v) => Num::Int(!py_int(v).unwrap()),
    })
}

/// Python's `float_divmod`.
fn py_float_divmod(vx: f64, wx: f64) -> (f64, f64) {
    let mut m = vx % wx;
    let mut div = (vx - m) / wx;
    if m != 0.0 {
        if (wx < 0.0) != (m < 0.0) {
            m += wx;
            div -= 1.0;
        }
    } else {
        m = 0f64.copysign(wx);
    }
    let floordiv = if div != 0.0 {
        let mut f = div.floor();
        if div - f > 0.5 {
            f += 1.0;
        }
        f
    } else {
        0f64.copysign(vx / wx)
    };
    (floordiv, m)
}

fn py_float_pow(x: f64, y: f64) -> R<Num> {
    if y == 0.0 {
        return Ok(Num::Float(1.0));
    }
    if x == 0.0 && y < 0.0 {
        return Err("0.0 cannot be raised to a negative power".into());
    }
    if x < 0.0 && x.is_finite() && y.is_finite() && y.fract() != 0.0 {
        return Err("complex results are not supported".into());
    }
    let r = x.powf(y);
    if r.is_infinite() && x.is_finite() && y.is_finite() {
        return Err("(34, 'Numerical result out of range')".into());
    }
    Ok(Num::Float(r))
}

pub(super) fn py_binop(op: BinOp, x: Num, y: Num) -> R<Num> {
    if let (Some(a), Some(b)) = (py_int(x), py_int(y)) {
        let both_bool = matches!((x, y), (Num::Bool(_), Num::Bool(_)));
        return Ok(match op {
            BinOp::Add => Num::Int(a.checked_add(b).ok_or(INT_OVERFLOW)?),
            BinOp::Sub => Num::Int(a.checked_sub(b).ok_or(INT_OVERFLOW)?),
            BinOp::Mul => Num::Int(a.checked_mul(b).ok_or(INT_OVERFLOW)?),
            BinOp::Div => {
                if b == 0 {
                    return Err("division by zero".into());
                }
                Num::Float(a as f64 / b as f64)
            }
            BinOp::FloorDiv | BinOp::Mod => {
                if b == 0 {
                    return Err("integer division or modulo by zero".into());
                }
                let (q, r) = (a.div_euclid(b), a.rem_euclid(b));
                // floor semantics: remainder has the divisor's sign
                let (q, r) = if r != 0 && b < 0 { (q - 1, r + b) } else { (q, r) };
                if op == BinOp::FloorDiv { Num::Int(q) } else { Num::Int(r) }
            }
            BinOp::Pow => {
                if b < 0 {
                    return py_float_pow(a as f64, b as f64);
                }
                let e = u32::try_from(b).map_err(|_| INT_OVERFLOW)?;
                Num::Int(a.checked_pow(e).ok_or(INT_OVERFLOW)?)
            }
            BinOp::And if both_bool => Num::Bool(a & b != 0),
            BinOp::Or if both_bool => Num::Bool((a | b) != 0),
            BinOp::Xor if both_bool => Num::Bool((a ^ b) != 0),
            BinOp::And => Num::Int(a & b),
            BinOp::Or => Num::Int(a | b),
            BinOp::Xor => Num::Int(a ^ b),
        });
    }
    let (a, b) = (to_f64(x), to_f64(y));
    Ok(match op {
        BinOp::Add => Num::Float(a + b),
        BinOp::Sub => Num::Float(a - b),
        BinOp::Mul => Num::Float(a * b),
        BinOp::Div => {
            if b == 0.0 {
                return Err("float division by zero".into());
            }
            Num::Float(a / b)
        }
        BinOp::FloorDiv | BinOp::Mod => {
            if b == 0.0 {
                return Err("float modulo".into());
            }
            let (q, r) = py_float_divmod(a, b);
            Num::Float(if op == BinOp::FloorDiv { q } else { r })
        }
        BinOp::Pow => py_float_pow(a, b)?,
        BinOp::And | BinOp::Or | BinOp::Xor => {
            return Err(format!("unsupported operand type(s) for {}: 'float'", op_symbol(op)));
        }
    })
}

/// Exact comparison of Python numbers (ints and floats compare exactly).
pub(super) fn py_compare(op: CmpOp, x: Num, y: Num) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (py_int(x), py_int(y)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        (Some(a), None) => int_float_cmp(a, to_f64(y)),
        (None, Some(b)) => int_float_cmp(b, to_f64(x)).map(Ordering::reverse),
        (None, None) => to_f64(x).partial_cmp(&to_f64(y)),
    };
    match op {
        CmpOp::Eq => ord == Some(Ordering::Equal),
        CmpOp::Ne => ord != Some(Ordering::Equal),
        CmpOp::Lt => ord == Some(Ordering::Less),
        CmpOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => ord == Some(Ordering::Greater),
        CmpOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
    }
}

fn int_float_cmp(i: i128, f: f64) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering;
    if f.is_nan() {
        return None;
    }
    if f >= 1.0e38 {
        return Some(Ordering::Less);
    }
    if f <= -1.0e38 {
        return Some(Ordering::Greater);
    }
    let fl = f.floor();
    match i.cmp(&(fl as i128)) {
        Ordering::Equal if f > fl => Some(Ordering::Less),
        o => Some(o),
    }
}

// ---------------------------------------------------------------------------------------
// numpy scalar semantics (constants that went through a numpy function)

pub(super) fn np_unary(op: UnOp, v: Num) -> R<Num> {
    Ok(match (op, v) {
        (UnOp::Pos, v) => v,
        (UnOp::Neg, Num::Bool(_)) => {
            return Err("the numpy boolean negative, the `-` operator, is not supported".into());
        }
        (UnOp::Neg, Num::Int(i)) => Num::Int((i as i64).wrapping_neg() as i128),
        (UnOp::Neg, Num::Float(f)) => Num::Float(-f),
        (UnOp::Invert, Num::Bool(b)) => Num::Bool(!b),
        (UnOp::Invert, Num::Int(i)) => Num::Int(!(i as i64) as i128),
        (UnOp::Invert, Num::Float(_)) => return Err("ufunc 'invert' not supported for the input types".into()),
    })
}

fn np_int(v: Num) -> R<Option<i64>> {
    match v {
        Num::Bool(b) => Ok(Some(b as i64)),
        Num::Int(i) => i64::try_from(i).map(Some).map_err(|_| format!("Python integer {i} out of bounds for int64")),
        Num::Float(_) => Ok(None),
    }
}

/// numpy's floor division / remainder on float64 (`npy_divmod`).
fn np_float_divmod(a: f64, b: f64) -> (f64, f64) {
    if b == 0.0 {
        return (a / b, a % b);
    }
    py_float_divmod(a, b)
}

pub(super) fn const_binop(op: BinOp, x: Const, y: Const) -> R<Const> {
    if !x.np && !y.np {
        return Ok(Const::py(py_binop(op, x.v, y.v)?));
    }
    let np = |v| Ok(Const { v, np: true });
    if let (Some(a), Some(b)) = (np_int(x.v)?, np_int(y.v)?) {
        if let (Num::Bool(p), Num::Bool(q)) = (x.v, y.v) {
            match op {
                BinOp::And | BinOp::Mul => return np(Num::Bool(p & q)),
                BinOp::Or | BinOp::Add => return np(Num::Bool(p | q)),
                BinOp::Xor => return np(Num::Bool(p ^ q)),
                _ => {}
            }
        }
        return np(match op {
            BinOp::Add => Num::Int(a.wrapping_add(b) as i128),
            BinOp::Sub => Num::Int(a.wrapping_sub(b) as i128),
            BinOp::Mul => Num::Int(a.wrapping_mul(b) as i128),
            BinOp::Div => Num::Float(a as f64 / b as f64),
            BinOp::FloorDiv | BinOp::Mod => {
                if b == 0 {
                    Num::Int(0)
                } else {
                    let q = a.wrapping_div(b);
                    let r = a.wrapping_rem(b);
                    let (q, r) = if r != 0 && ((r < 0) != (b < 0)) { (q - 1, r + b) } else { (q, r) };
                    Num::Int(if op == BinOp::FloorDiv { q } else { r } as i128)
                }
            }
            BinOp::Pow => {
                if b < 0 {
                    return Err("Integers to negative integer powers are not allowed.".into());
                }
                Num::Int(a.wrapping_pow(b.min(u32::MAX as i64) as u32) as i128)
            }
            BinOp::And => Num::Int((a & b) as i128),
            BinOp::Or => Num::Int((a | b) as i128),
            BinOp::Xor => Num::Int((a ^ b) as i128),
        });
    }
    let (a, b) = (to_f64(x.v), to_f64(y.v));
    np(match op {
        BinOp::Add => Num::Float(a + b),
        BinOp::Sub => Num::Float(a - b),
        BinOp::Mul => Num::Float(a * b),
        BinOp::Div => Num::Float(a / b),
        BinOp::FloorDiv => Num::Float(np_float_divmod(a, b).0),
        BinOp::Mod => Num::Float(np_float_divmod(a, b).1),
        BinOp::Pow => Num::Float(a.powf(b)),
        BinOp::And | BinOp::Or | BinOp::Xor => {
            return Err(format!("ufunc for {} not supported for float64", op_symbol(op)));
        }
    })
}

pub(super) fn const_compare(name: OpName, x: Const, y: Const) -> bool {
    let op = match name {
        OpName::Gt => CmpOp::Gt,
        OpName::Ge => CmpOp::Ge,
        OpName::Eq => CmpOp::Eq,
        _ => CmpOp::Ne,
    };
    py_compare(op, x.v, y.v)
}

/// A numpy function of constants (numexpr folds these with numpy): integers are int64,
/// results are numpy scalars.
pub(super) fn np_func(f: Func, args: &[Const]) -> R<Const> {
    use Func::*;
    let np = |v| Ok(Const { v, np: true });
    let unsupported = || Err(format!("{f:?} of constants is not supported").to_lowercase());
    if args.iter().any(|c| matches!(c.v, Num::Bool(_))) && !matches!(f, Real | Imag | Abs | Isnan | Isinf | Isfinite) {
        return unsupported();
    }
    let ints: Option<Vec<i64>> = args.iter().map(|c| np_int(c.v)).collect::<R<Vec<_>>>()?.into_iter().collect();
    let x = to_f64(args[0].v);
    let y = args.get(1).map(|c| to_f64(c.v)).unwrap_or(0.0);
    let int_result = |v: i64| np(Num::Int(v as i128));
    match f {
        Copy | OnesLike | Where | Conj => unsupported(),
        Real => Ok(args[0]),
        Imag => {
            Ok(Const { v: if matches!(args[0].v, Num::Float(_)) { Num::Float(0.0) } else { Num::Int(0) }, ..args[0] })
        }
        Abs => match (args[0].v, &ints) {
            (Num::Bool(b), _) => np(Num::Bool(b)),
            (_, Some(i)) => int_result(i[0].wrapping_abs()),
            _ => np(Num::Float(x.abs())),
        },
        Ceil | Floor | Round | Trunc | Sign => match &ints {
            Some(i) => int_result(if f == Sign { i[0].signum() } else { i[0] }),
            None => np(Num::Float(eval::f64_unary(f, x))),
        },
        Maximum | Minimum | Fmod => match &ints {
            Some(i) => int_result(match f {
                Maximum => i[0].max(i[1]),
                Minimum => i[0].min(i[1]),
                _ if i[1] == 0 => 0,
                _ => i[0].wrapping_rem(i[1]),
            }),
            None => np(Num::Float(eval::f64_binary(f, x, y))),
        },
        Isnan | Isinf | Isfinite | Signbit => np(Num::Bool(eval::f64_predicate(f, x))),
        Arctan2 | Hypot | Nextafter | Copysign => np(Num::Float(eval::f64_binary(f, x, y))),
        _ => np(Num::Float(eval::f64_unary(f, x))),
    }
}
