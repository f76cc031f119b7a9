//! numexpr's compiler, for the subset imbrex evaluates.
//!
//! Three stages, as in `numexpr.necompiler`:
//!
//! 1. `stringToExpression`: Python evaluates the block with numexpr's `ExpressionNode`
//!    objects for the variables. Sub-expressions made only of literals are folded by
//!    Python itself (`2**8`, `1/3`, `-1`; Python ints are unbounded, `1/0` raises), a
//!    literal meeting a node becomes a `ConstantNode` (kind `int` when it fits int32,
//!    `long` otherwise, `double` for floats, `bool`), and the node's operator overloads
//!    build `OpNode`s whose kind is the highest of the operands' (`bool < int < long <
//!    float < double`); true division of integers is `double`; functions of integers are
//!    `double` (except `copy`, `ones_like`, `round`, `sign`), functions have a minimum kind
//!    (`float` for most, `double` for `maximum`, `round`, ...). The "aggressive"
//!    optimisations rewrite `x ** c` (integral or half-integral `c` with `|c| <= 50`) as
//!    products, `sqrt` and `1/...`, and `x / c` as `x * (1/c)` when both are float or both
//!    double. numexpr runs this stage twice: once with every variable `double` (to find
//!    the names), once with the real kinds; an error in either is an error.
//! 2. `typeCompileAst`: each op takes the first signature (upcasting operands in the order
//!    b, i, l, f, d) the interpreter implements, inserting casts.
//! 3. Registers: here, a DAG of typed nodes linearised into an op list ([`Program`]).

use std::collections::HashMap;

use super::MAX_OPS;
use super::eval::{self, Op, Scalar};
use super::parse::{Ast, BinOp, CmpOp, Func, Num, UnOp};
use super::scalar::{const_binop, const_compare, np_func, np_unary, py_binop, py_compare, py_unary};
use crate::array::DataType;

/// numexpr's kinds, in its `kind_rank` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    Bool,
    Int,
    Long,
    Float,
    Double,
}

impl Kind {
    /// numexpr's `getType`: small integers are int32, uint32 is int64.
    pub(crate) fn of(dt: DataType) -> Kind {
        match dt {
            DataType::Uint8 | DataType::Int8 | DataType::Uint16 | DataType::Int16 | DataType::Int32 => Kind::Int,
            DataType::Uint32 => Kind::Long,
            DataType::Float32 => Kind::Float,
            DataType::Float64 => Kind::Double,
        }
    }

    pub(crate) fn expr_type(self) -> ExprType {
        match self {
            Kind::Bool => ExprType::Bool,
            Kind::Int => ExprType::Int32,
            Kind::Long => ExprType::Int64,
            Kind::Float => ExprType::Float32,
            Kind::Double => ExprType::Float64,
        }
    }

    const ALL: [Kind; 5] = [Kind::Bool, Kind::Int, Kind::Long, Kind::Float, Kind::Double];
}

/// The numpy dtype of an expression's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExprType {
    Bool,
    Int32,
    Int64,
    Float32,
    Float64,
}

impl ExprType {
    /// numpy's name.
    pub fn name(self) -> &'static str {
        match self {
            ExprType::Bool => "bool",
            ExprType::Int32 => "int32",
            ExprType::Int64 => "int64",
            ExprType::Float32 => "float32",
            ExprType::Float64 => "float64",
        }
    }

    /// `numpy.result_type` of two arrays (how `MaskedArray([block, block])` stacks).
    pub fn promote(self, other: ExprType) -> ExprType {
        use ExprType::*;
        let (a, b) = if (self as u8) <= (other as u8) { (self, other) } else { (other, self) };
        match (a, b) {
            (x, y) if x == y => x,
            (Bool, y) => y,
            (Int32, Int64) => Int64,
            (Int32 | Int64, Float32) => Float64,
            (_, Float64) => Float64,
            _ => unreachable!("ordered pair"),
        }
    }
}

/// A constant's Python type: a Python scalar, or a numpy scalar (`np.bool_`, `np.int64`,
/// `np.float64`) as numpy functions of constants return.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Const {
    pub(crate) v: Num,
    pub(crate) np: bool,
}

impl Const {
    pub(super) fn py(v: Num) -> Const {
        Const { v, np: false }
    }

    /// numexpr's `getKind`.
    fn kind(self) -> Kind {
        match self.v {
            Num::Bool(_) => Kind::Bool,
            Num::Int(_) if self.np => Kind::Long,
            Num::Int(i) if i >= i32::MIN as i128 && i <= i32::MAX as i128 => Kind::Int,
            Num::Int(_) => Kind::Long,
            Num::Float(_) => Kind::Double,
        }
    }

    /// numexpr's `convertConstantToKind`.
    fn convert(self, kind: Kind) -> Result<Scalar, String> {
        let as_int = |v: Num| match v {
            Num::Bool(b) => b as i128,
            Num::Int(i) => i,
            Num::Float(f) => f as i128,
        };
        Ok(match kind {
            Kind::Bool => Scalar::B(truthy(self.v)),
            Kind::Int => Scalar::I(
                i32::try_from(as_int(self.v)).map_err(|_| "Python int too large to convert to C int".to_string())?,
            ),
            Kind::Long => Scalar::L(
                i64::try_from(as_int(self.v)).map_err(|_| "Python int too large to convert to C long".to_string())?,
            ),
            Kind::Float => Scalar::F(match self.v {
                Num::Float(f) => f as f32,
                v => as_int(v) as f32,
            }),
            Kind::Double => Scalar::D(to_f64(self.v)),
        })
    }
}

fn truthy(v: Num) -> bool {
    match v {
        Num::Bool(b) => b,
        Num::Int(i) => i != 0,
        Num::Float(f) => f != 0.0,
    }
}

pub(super) fn to_f64(v: Num) -> f64 {
    match v {
        Num::Bool(b) => b as i64 as f64,
        Num::Int(i) => i as f64,
        Num::Float(f) => f,
    }
}

/// An op of numexpr's expression tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum OpName {
    Bin(BinOp),
    Neg,
    Invert,
    Gt,
    Ge,
    Eq,
    Ne,
    OnesLike,
    Sqrt,
    Func(Func),
    Cast,
}

#[derive(Clone, Debug)]
enum ENode {
    Var(usize, Kind),
    Const(Const),
    Op { name: OpName, kind: Kind, args: Vec<usize> },
}

/// A value while Python evaluates the block: a plain Python number, or a node.
#[derive(Clone, Copy, Debug)]
enum Val {
    Raw(Num),
    Node(usize),
}

struct Builder<'a> {
    /// numexpr's first pass (every variable float64, nothing type-compiled).
    first_pass: bool,
    nodes: Vec<ENode>,
    /// Band number → position in the image.
    bands: &'a [usize],
    var_kind: Kind,
}

type R<T> = Result<T, String>;

pub(super) const INT_OVERFLOW: &str = "integer constant too large";

impl Builder<'_> {
    fn push(&mut self, n: ENode) -> R<usize> {
        if self.nodes.len() >= MAX_OPS {
            return Err("expression too complex".into());
        }
        self.nodes.push(n);
        Ok(self.nodes.len() - 1)
    }

    fn kind(&self, id: usize) -> Kind {
        match &self.nodes[id] {
            ENode::Var(_, k) => *k,
            ENode::Const(c) => c.kind(),
            ENode::Op { kind, .. } => *kind,
        }
    }

    fn constant(&self, id: usize) -> Option<Const> {
        match &self.nodes[id] {
            ENode::Const(c) => Some(*c),
            _ => None,
        }
    }

    /// ophelper: a Python number becomes a ConstantNode.
    fn node(&mut self, v: Val) -> R<usize> {
        match v {
            Val::Node(id) => Ok(id),
            Val::Raw(n) => self.push(ENode::Const(Const::py(n))),
        }
    }

    /// `OpNode(opcode, args, kind)`: kind defaults to the common kind; bool `mul`/`add` are
    /// `and`/`or`.
    fn op(&mut self, name: OpName, args: Vec<usize>, kind: Option<Kind>) -> R<usize> {
        let kind = kind.unwrap_or_else(|| self.common(&args));
        let name = match (name, kind) {
            (OpName::Bin(BinOp::Mul), Kind::Bool) => OpName::Bin(BinOp::And),
            (OpName::Bin(BinOp::Add), Kind::Bool) => OpName::Bin(BinOp::Or),
            _ => name,
        };
        self.push(ENode::Op { name, kind, args })
    }

    fn common(&self, args: &[usize]) -> Kind {
        args.iter().map(|&a| self.kind(a)).max().unwrap_or(Kind::Bool)
    }

    fn eval(&mut self, ast: &Ast) -> R<Val> {
        match ast {
            Ast::Num(n) => Ok(Val::Raw(*n)),
            Ast::Band(k) => {
                let pos = self.bands.iter().position(|b| b == k).ok_or_else(|| format!("band b{k} was not read"))?;
                let kind = self.var_kind;
                Ok(Val::Node(self.push(ENode::Var(pos, kind))?))
            }
            Ast::Unary(op, a) => {
                let a = self.eval(a)?;
                self.unary(*op, a)
            }
            Ast::Binary(op, a, b) => {
                let a = self.eval(a)?;
                let b = self.eval(b)?;
                self.binary(*op, a, b)
            }
            Ast::Compare(first, rest) => {
                // `a < b < c` is `(a < b) and (b < c)`: Python asks the truth of `a < b`,
                // which a numexpr node refuses.
                let mut left = self.eval(first)?;
                for (i, (op, rhs)) in rest.iter().enumerate() {
                    let right = self.eval(rhs)?;
                    let res = self.compare(*op, left, right)?;
                    if i + 1 == rest.len() {
                        return Ok(res);
                    }
                    match res {
                        Val::Raw(v) if !truthy(v) => return Ok(res),
                        Val::Raw(_) => {}
                        Val::Node(_) => {
                            return Err("chained comparisons are not supported by numexpr (use &)".into());
                        }
                    }
                    left = right;
                }
                unreachable!("a comparison has a right side")
            }
            Ast::Call(f, args) => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.eval(a)?);
                }
                self.call(*f, vals)
            }
        }
    }

    fn unary(&mut self, op: UnOp, a: Val) -> R<Val> {
        match a {
            Val::Raw(v) => Ok(Val::Raw(py_unary(op, v)?)),
            Val::Node(id) => {
                if let Some(c) = self.constant(id) {
                    // ConstantNode.__neg__/__invert__ fold; __pos__ returns self.
                    return match op {
                        UnOp::Pos => Ok(a),
                        _ => {
                            let v = if c.np { np_unary(op, c.v)? } else { py_unary(op, c.v)? };
                            Ok(Val::Node(self.push(ENode::Const(Const { v, np: c.np }))?))
                        }
                    };
                }
                match op {
                    UnOp::Pos => Ok(a),
                    UnOp::Neg => Ok(Val::Node(self.op(OpName::Neg, vec![id], None)?)),
                    UnOp::Invert => Ok(Val::Node(self.op(OpName::Invert, vec![id], None)?)),
                }
            }
        }
    }

    fn binary(&mut self, op: BinOp, a: Val, b: Val) -> R<Val> {
        match (a, b) {
            (Val::Raw(x), Val::Raw(y)) => Ok(Val::Raw(py_binop(op, x, y)?)),
            (Val::Node(_), _) => match op {
                BinOp::Div => self.truediv(a, b),
                BinOp::Pow => self.pow(a, b),
                // __radd__ = __add__: same binop (operands in this order)
                _ => self.binop(op, a, b),
            },
            (Val::Raw(_), Val::Node(_)) => match op {
                // __radd__/__rmul__ are __add__/__mul__: the node comes first.
                BinOp::Add | BinOp::Mul => self.binop(op, b, a),
                BinOp::Sub | BinOp::Mod | BinOp::Pow => self.binop(op, a, b),
                BinOp::Div => self.truediv(a, b),
                BinOp::FloorDiv | BinOp::And | BinOp::Or | BinOp::Xor => Err(format!(
                    "unsupported operand types for {}: a number and an array (numexpr has no reflected {})",
                    op_symbol(op),
                    op_symbol(op)
                )),
            },
        }
    }

    /// numexpr's `binop`: fold two ConstantNodes, else an OpNode.
    fn binop(&mut self, op: BinOp, a: Val, b: Val) -> R<Val> {
        let a = self.node(a)?;
        let b = self.node(b)?;
        if let (Some(x), Some(y)) = (self.constant(a), self.constant(b)) {
            let c = const_binop(op, x, y)?;
            return Ok(Val::Node(self.push(ENode::Const(c))?));
        }
        Ok(Val::Node(self.op(OpName::Bin(op), vec![a, b], None)?))
    }

    fn truediv(&mut self, a: Val, b: Val) -> R<Val> {
        let a = self.node(a)?;
        let b = self.node(b)?;
        Ok(Val::Node(self.truediv_nodes(a, b)?))
    }

    /// `truediv_op` (optimization "aggressive").
    fn truediv_nodes(&mut self, a: usize, b: usize) -> R<usize> {
        let (ka, kb) = (self.kind(a), self.kind(b));
        if let Some(c) = self.constant(b)
            && ka == kb
            && matches!(ka, Kind::Float | Kind::Double)
        {
            // `ConstantNode(1. / b.value)`: Python float division raises on zero,
            // numpy's float64 gives inf.
            let x = to_f64(c.v);
            if x == 0.0 && !c.np {
                return Err("float division by zero".into());
            }
            let inv = self.push(ENode::Const(Const { v: Num::Float(1.0 / x), np: c.np }))?;
            return self.op(OpName::Bin(BinOp::Mul), vec![a, inv], None);
        }
        let kind = match self.common(&[a, b]) {
            Kind::Bool | Kind::Int | Kind::Long => Kind::Double,
            k => k,
        };
        self.op(OpName::Bin(BinOp::Div), vec![a, b], Some(kind))
    }

    /// `pow_op` (optimization "aggressive") for `node ** x`; `number ** node` is a plain
    /// `pow` OpNode (`__rpow__`).
    fn pow(&mut self, a: Val, b: Val) -> R<Val> {
        let a = self.node(a)?;
        let b = self.node(b)?;
        let Some(c) = self.constant(b) else {
            return Ok(Val::Node(self.op(OpName::Bin(BinOp::Pow), vec![a, b], None)?));
        };
        let (ka, kb) = (self.kind(a), self.kind(b));
        let x = to_f64(c.v);
        let is_int = |k| matches!(k, Kind::Int | Kind::Long);
        if is_int(ka) && is_int(kb) && x < 0.0 {
            return Err("Integers to negative integer powers are not allowed.".into());
        }
        if !x.is_finite() {
            return Err(format!("cannot convert float {x} to integer"));
        }
        if (2.0 * x).trunc() == 2.0 * x && x.abs() <= 50.0 {
            let n = x.abs() as i64;
            let half = (2.0 * x).abs() as i64 % 2 == 1;
            let mut r: Option<usize> = None;
            let mut p = a;
            let mut mask = 1i64;
            loop {
                if n & mask != 0 {
                    r = Some(match r {
                        None => p,
                        Some(r) => self.op(OpName::Bin(BinOp::Mul), vec![r, p], None)?,
                    });
                }
                mask <<= 1;
                if mask > n {
                    break;
                }
                p = self.op(OpName::Bin(BinOp::Mul), vec![p, p], None)?;
            }
            if half {
                let kind = match self.common(&[a]) {
                    Kind::Int | Kind::Long => Kind::Double,
                    k => k,
                };
                let s = self.op(OpName::Sqrt, vec![a], Some(kind))?;
                r = Some(match r {
                    None => s,
                    Some(r) => self.op(OpName::Bin(BinOp::Mul), vec![r, s], None)?,
                });
            }
            let mut r = match r {
                Some(r) => r,
                None => self.op(OpName::OnesLike, vec![a], None)?,
            };
            if x < 0.0 {
                let one = self.push(ENode::Const(Const::py(Num::Int(1))))?;
                r = self.truediv_nodes(one, r)?;
            }
            return Ok(Val::Node(r));
        }
        Ok(Val::Node(self.op(OpName::Bin(BinOp::Pow), vec![a, b], None)?))
    }

    fn compare(&mut self, op: CmpOp, a: Val, b: Val) -> R<Val> {
        if let (Val::Raw(x), Val::Raw(y)) = (a, b) {
            return Ok(Val::Raw(Num::Bool(py_compare(op, x, y))));
        }
        // Python's reflection: `a < b` with `a` a number is `b.__gt__(a)`.
        let (name, l, r) = match (op, matches!(a, Val::Raw(_))) {
            (CmpOp::Lt, false) => (OpName::Gt, b, a),
            (CmpOp::Le, false) => (OpName::Ge, b, a),
            (CmpOp::Gt, false) => (OpName::Gt, a, b),
            (CmpOp::Ge, false) => (OpName::Ge, a, b),
            (CmpOp::Eq, false) => (OpName::Eq, a, b),
            (CmpOp::Ne, false) => (OpName::Ne, a, b),
            (CmpOp::Lt, true) => (OpName::Gt, b, a),
            (CmpOp::Le, true) => (OpName::Ge, b, a),
            (CmpOp::Gt, true) => (OpName::Gt, a, b),
            (CmpOp::Ge, true) => (OpName::Ge, a, b),
            (CmpOp::Eq, true) => (OpName::Eq, b, a),
            (CmpOp::Ne, true) => (OpName::Ne, b, a),
        };
        let l = self.node(l)?;
        let r = self.node(r)?;
        if let (Some(x), Some(y)) = (self.constant(l), self.constant(r)) {
            let res = const_compare(name, x, y);
            return Ok(Val::Node(self.push(ENode::Const(Const { v: Num::Bool(res), np: x.np || y.np }))?));
        }
        Ok(Val::Node(self.op(name, vec![l, r], Some(Kind::Bool))?))
    }

    fn call(&mut self, f: Func, vals: Vec<Val>) -> R<Val> {
        let mut args = Vec::with_capacity(vals.len());
        for v in vals {
            args.push(self.node(v)?);
        }
        if f == Func::Where {
            if let Some(c) = self.constant(args[0]) {
                return Ok(Val::Node(if truthy(c.v) { args[1] } else { args[2] }));
            }
            return Ok(Val::Node(self.op(OpName::Func(Func::Where), args, None)?));
        }
        let consts: Option<Vec<Const>> = args.iter().map(|&a| self.constant(a)).collect();
        if let Some(consts) = consts {
            let c = np_func(f, &consts)?;
            return Ok(Val::Node(self.push(ENode::Const(c))?));
        }
        use Func::*;
        let (min, max): (Option<Kind>, Option<Kind>) = match f {
            Copy | OnesLike => (None, None),
            Hypot | Nextafter | Copysign | Maximum | Minimum | Round | Trunc | Sign => (Some(Kind::Double), None),
            Ceil | Floor => (Some(Kind::Float), Some(Kind::Double)),
            Real | Imag => (Some(Kind::Double), Some(Kind::Double)),
            Isnan | Isfinite | Isinf | Signbit => (Some(Kind::Double), None),
            Conj => (None, None),
            _ => (Some(Kind::Float), None),
        };
        let mut kind = self.common(&args);
        if matches!(kind, Kind::Int | Kind::Long) {
            // numexpr keeps integers for these (by numpy function name: `abs` is
            // `absolute`, so it is not one of them)
            if !matches!(f, Copy | OnesLike | Round | Sign) {
                kind = Kind::Double;
            }
        } else {
            if f == Conj {
                if !self.first_pass {
                    return Err("complex results are not supported".into());
                }
                // a complex node the first pass never type-compiles
                kind = Kind::Double;
            }
            if let Some(m) = min {
                kind = kind.max(m);
            }
            if let Some(m) = max {
                kind = kind.min(m);
            }
        }
        if matches!(f, Isnan | Isfinite | Isinf | Signbit) {
            kind = Kind::Bool;
        }
        let name = if f == Sqrt { OpName::Sqrt } else { OpName::Func(f) };
        Ok(Val::Node(self.op(name, args, Some(kind))?))
    }
}

pub(super) fn op_symbol(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::FloorDiv => "//",
        BinOp::Mod => "%",
        BinOp::Pow => "**",
        BinOp::And => "&",
        BinOp::Or => "|",
        BinOp::Xor => "^",
    }
}

// ---------------------------------------------------------------------------------------
// typeCompileAst and linearisation

/// The op signatures numexpr's interpreter implements (complex and string ones left out).
fn implemented(name: OpName, ret: Kind, args: &[Kind]) -> bool {
    use Kind::*;
    let all_ret = |k: Kind| args.iter().all(|&a| a == k);
    match name {
        OpName::Bin(BinOp::And | BinOp::Or | BinOp::Xor) => matches!(ret, Bool | Int | Long) && all_ret(ret),
        OpName::Bin(_) => matches!(ret, Int | Long | Float | Double) && all_ret(ret),
        OpName::Invert => matches!(ret, Bool | Int | Long) && all_ret(ret),
        OpName::Neg | OpName::OnesLike => matches!(ret, Int | Long | Float | Double) && all_ret(ret),
        OpName::Eq | OpName::Ne => ret == Bool && args[0] == args[1],
        OpName::Gt | OpName::Ge => ret == Bool && args[0] == args[1] && args[0] != Bool,
        OpName::Sqrt => matches!(ret, Float | Double) && all_ret(ret),
        OpName::Cast => matches!(
            (ret, args[0]),
            (Int, Bool) | (Long, Int) | (Float, Int) | (Float, Long) | (Double, Int) | (Double, Long) | (Double, Float)
        ),
        OpName::Func(f) => {
            use Func::*;
            match f {
                Copy => all_ret(ret),
                OnesLike => matches!(ret, Int | Long | Float | Double) && all_ret(ret),
                Where => args[0] == Bool && args[1] == ret && args[2] == ret,
                // `real_dc`/`imag_dc`: any operand is cast to complex first.
                Real | Imag => ret == Double,
                Isnan | Isfinite | Isinf | Signbit => ret == Bool && matches!(args[0], Float | Double),
                Round | Sign | Abs => matches!(ret, Int | Long | Float | Double) && all_ret(ret),
                _ => matches!(ret, Float | Double) && all_ret(ret),
            }
        }
    }
}

fn kind_code(k: Kind) -> char {
    match k {
        Kind::Bool => 'b',
        Kind::Int => 'i',
        Kind::Long => 'l',
        Kind::Float => 'f',
        Kind::Double => 'd',
    }
}

fn op_label(name: OpName) -> String {
    match name {
        OpName::Bin(b) => format!("{b:?}").to_lowercase(),
        OpName::Func(Func::Abs) => "absolute".into(),
        OpName::Func(f) => format!("{f:?}").to_lowercase(),
        n => format!("{n:?}").to_lowercase(),
    }
}

/// `sigPerms`: every upcast of the operand kinds, first operand slowest.
fn find_signature(name: OpName, ret: Kind, have: &[Kind]) -> Option<Vec<Kind>> {
    let mut sig = have.to_vec();
    fn rec(name: OpName, ret: Kind, have: &[Kind], sig: &mut Vec<Kind>, i: usize) -> bool {
        if i == have.len() {
            return implemented(name, ret, sig);
        }
        for k in Kind::ALL.into_iter().filter(|&k| k >= have[i]) {
            sig[i] = k;
            if rec(name, ret, have, sig, i + 1) {
                return true;
            }
        }
        false
    }
    rec(name, ret, have, &mut sig, 0).then_some(sig)
}

/// A typed node.
#[derive(Clone, Debug)]
pub(crate) enum TNode {
    Var(usize),
    Const(Scalar),
    Op { op: Op, kind: Kind, args: Vec<usize> },
}

/// A compiled block: typed nodes in evaluation order, the last one the result.
#[derive(Clone, Debug)]
pub(crate) struct Program {
    pub(crate) nodes: Vec<TNode>,
    pub(crate) kinds: Vec<Kind>,
}

impl Program {
    pub(crate) fn output_type(&self) -> ExprType {
        self.kinds.last().expect("a program has a result").expr_type()
    }
}

struct Typer<'a> {
    b: &'a Builder<'a>,
    out: Program,
    memo: HashMap<(usize, Kind), usize>,
    cast_memo: HashMap<(usize, Kind), usize>,
}

impl Typer<'_> {
    fn emit(&mut self, n: TNode, kind: Kind) -> R<usize> {
        if self.out.nodes.len() >= MAX_OPS {
            return Err("expression too complex".into());
        }
        self.out.nodes.push(n);
        self.out.kinds.push(kind);
        Ok(self.out.nodes.len() - 1)
    }

    /// The typed node of enode `id`, as kind `want` (constants convert, other nodes cast).
    fn typed(&mut self, id: usize, want: Kind) -> R<usize> {
        if let Some(&t) = self.memo.get(&(id, want)) {
            return Ok(t);
        }
        let have = self.b.kind(id);
        let t = match &self.b.nodes[id] {
            ENode::Const(c) => {
                let s = c.convert(want)?;
                self.emit(TNode::Const(s), want)?
            }
            _ if have != want => {
                let inner = self.typed(id, have)?;
                self.cast(inner, have, want)?
            }
            ENode::Var(pos, _) => self.emit(TNode::Var(*pos), have)?,
            ENode::Op { name, kind, args } => {
                let (name, kind, args) = (*name, *kind, args.clone());
                let have: Vec<Kind> = args.iter().map(|&a| self.b.kind(a)).collect();
                let sig = find_signature(name, kind, &have).ok_or_else(|| {
                    format!(
                        "couldn't find matching opcode for '{}_{}{}'",
                        op_label(name),
                        kind_code(kind),
                        have.iter().map(|&k| kind_code(k)).collect::<String>()
                    )
                })?;
                let mut targs = Vec::with_capacity(args.len());
                for (&a, &k) in args.iter().zip(&sig) {
                    targs.push(self.typed(a, k)?);
                }
                let op = eval::op_for(name, &sig);
                self.fold_or_emit(op, kind, targs)?
            }
        };
        self.memo.insert((id, want), t);
        Ok(t)
    }

    /// A cast chain (`cast_fb` does not exist: bool → int → float).
    fn cast(&mut self, t: usize, have: Kind, want: Kind) -> R<usize> {
        if let Some(&c) = self.cast_memo.get(&(t, want)) {
            return Ok(c);
        }
        let sig = find_signature(OpName::Cast, want, &[have]).ok_or_else(|| {
            format!("couldn't find matching opcode for 'cast_{}{}'", kind_code(want), kind_code(have))
        })?;
        let inner = if sig[0] != have { self.cast(t, have, sig[0])? } else { t };
        let c = self.fold_or_emit(Op::Cast(sig[0]), want, vec![inner])?;
        self.cast_memo.insert((t, want), c);
        Ok(c)
    }

    /// Ops of constants only are evaluated now (numexpr evaluates them per element).
    fn fold_or_emit(&mut self, op: Op, kind: Kind, args: Vec<usize>) -> R<usize> {
        let consts: Option<Vec<Scalar>> = args
            .iter()
            .map(|&a| match self.out.nodes[a] {
                TNode::Const(s) => Some(s),
                _ => None,
            })
            .collect();
        if let Some(consts) = consts {
            let s = eval::eval_scalar(op, kind, &consts)?;
            return self.emit(TNode::Const(s), kind);
        }
        self.emit(TNode::Op { op, kind, args }, kind)
    }
}

fn build<'a>(ast: &Ast, bands: &'a [usize], var_kind: Option<Kind>) -> R<(Builder<'a>, usize)> {
    let mut b = Builder {
        first_pass: var_kind.is_none(),
        nodes: Vec::new(),
        bands,
        var_kind: var_kind.unwrap_or(Kind::Double),
    };
    let root = match b.eval(ast)? {
        Val::Raw(_) => return Err("the block does not depend on any band".into()),
        Val::Node(id) => id,
    };
    // A tree of constants only evaluates to a scalar, which rio-tiler cannot stack.
    let mut stack = vec![root];
    let mut seen = vec![false; b.nodes.len()];
    let mut has_var = false;
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut seen[id], true) {
            continue;
        }
        match &b.nodes[id] {
            ENode::Var(..) => {
                has_var = true;
                break;
            }
            ENode::Const(_) => {}
            ENode::Op { args, .. } => stack.extend(args),
        }
    }
    if !has_var {
        return Err("the block does not depend on any band".into());
    }
    Ok((b, root))
}

/// numexpr's first pass (every variable float64): errors that do not depend on the data.
pub(crate) fn check_untyped(ast: &Ast) -> R<()> {
    let bands = ast.bands();
    build(ast, &bands, None).map(|_| ())
}

/// Compile a block for input bands of `kind` (image band `i` is band number `bands[i]`).
pub(crate) fn compile(ast: &Ast, bands: &[usize], kind: Kind) -> R<Program> {
    build(ast, bands, None)?;
    let (b, root) = build(ast, bands, Some(kind))?;
    let mut t = Typer {
        b: &b,
        out: Program { nodes: Vec::new(), kinds: Vec::new() },
        memo: HashMap::new(),
        cast_memo: HashMap::new(),
    };
    let root_kind = b.kind(root);
    let r = t.typed(root, root_kind)?;
    // numexpr wraps a bare variable in `copy`; a program's result is its last node.
    if r + 1 != t.out.nodes.len() || matches!(t.out.nodes[r], TNode::Var(_)) {
        let sig = find_signature(OpName::Func(Func::Copy), root_kind, &[root_kind]).expect("copy exists");
        let op = eval::op_for(OpName::Func(Func::Copy), &sig);
        t.emit(TNode::Op { op, kind: root_kind, args: vec![r] }, root_kind)?;
    }
    Ok(t.out)
}
