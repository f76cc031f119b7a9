//! Tokenizer and Pratt parser for the Python expression subset rio-tiler accepts.
//!
//! rio-tiler parses each block with `ast.parse(block, mode="eval")` and allows only
//! `BinOp` (`+ - * / // % ** & | ^`), `UnaryOp` (`- + ~`), `Compare` (`== != < <= > >=`,
//! chained), constants, names and calls of numexpr's functions by name; numexpr then
//! rejects `[`, `:` and attribute access (its sanitizer also rejects `_` after the `.` of a
//! float literal). Python's precedence, lowest first: comparisons, `|`, `^`, `&`, `+ -`,
//! `* / // %`, unary `- + ~`, `**` (right-associative; its right operand may be unary, its
//! left operand may not: `-b1**2` is `-(b1**2)`).

use super::MAX_DEPTH;

/// A Python number (after constant folding too).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Num {
    Bool(bool),
    Int(i128),
    Float(f64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    And,
    Or,
    Xor,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnOp {
    Neg,
    Pos,
    Invert,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// numexpr's functions (`numexpr.expressions.functions`) that imbrex evaluates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Func {
    Copy,
    OnesLike,
    Sqrt,
    Sin,
    Cos,
    Tan,
    Arcsin,
    Arccos,
    Arctan,
    Sinh,
    Cosh,
    Tanh,
    Arcsinh,
    Arccosh,
    Arctanh,
    Fmod,
    Arctan2,
    Hypot,
    Nextafter,
    Copysign,
    Maximum,
    Minimum,
    Log,
    Log1p,
    Log10,
    Log2,
    Exp,
    Expm1,
    Abs,
    Ceil,
    Floor,
    Round,
    Trunc,
    Sign,
    Where,
    Real,
    Imag,
    Conj,
    Isnan,
    Isfinite,
    Isinf,
    Signbit,
}

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        use Func::*;
        Some(match name {
            "copy" => Copy,
            "ones_like" => OnesLike,
            "sqrt" => Sqrt,
            "sin" => Sin,
            "cos" => Cos,
            "tan" => Tan,
            "arcsin" => Arcsin,
            "arccos" => Arccos,
            "arctan" => Arctan,
            "sinh" => Sinh,
            "cosh" => Cosh,
            "tanh" => Tanh,
            "arcsinh" => Arcsinh,
            "arccosh" => Arccosh,
            "arctanh" => Arctanh,
            "fmod" => Fmod,
            "arctan2" => Arctan2,
            "hypot" => Hypot,
            "nextafter" => Nextafter,
            "copysign" => Copysign,
            "maximum" => Maximum,
            "minimum" => Minimum,
            "log" => Log,
            "log1p" => Log1p,
            "log10" => Log10,
            "log2" => Log2,
            "exp" => Exp,
            "expm1" => Expm1,
            "abs" => Abs,
            "ceil" => Ceil,
            "floor" => Floor,
            "round" => Round,
            "trunc" => Trunc,
            "sign" => Sign,
            "where" => Where,
            "real" => Real,
            "imag" => Imag,
            "conj" => Conj,
            "isnan" => Isnan,
            "isfinite" => Isfinite,
            "isinf" => Isinf,
            "signbit" => Signbit,
            _ => return None,
        })
    }

    pub(crate) fn arity(self) -> usize {
        use Func::*;
        match self {
            Fmod | Arctan2 | Hypot | Nextafter | Copysign | Maximum | Minimum => 2,
            Where => 3,
            _ => 1,
        }
    }
}

/// A parsed block.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Ast {
    Num(Num),
    /// `bK`, K 1-based.
    Band(usize),
    Unary(UnOp, Box<Ast>),
    Binary(BinOp, Box<Ast>, Box<Ast>),
    /// `a < b <= c ...`
    Compare(Box<Ast>, Vec<(CmpOp, Ast)>),
    Call(Func, Vec<Ast>),
}

impl Ast {
    /// Bands referenced, in order of appearance (with repeats).
    pub(crate) fn bands(&self) -> Vec<usize> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect(&self, out: &mut Vec<usize>) {
        match self {
            Ast::Num(_) => {}
            Ast::Band(k) => out.push(*k),
            Ast::Unary(_, a) => a.collect(out),
            Ast::Binary(_, a, b) => {
                a.collect(out);
                b.collect(out);
            }
            Ast::Compare(a, rest) => {
                a.collect(out);
                for (_, b) in rest {
                    b.collect(out);
                }
            }
            Ast::Call(_, args) => args.iter().for_each(|a| a.collect(out)),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(Num),
    Name(String),
    /// An operator or punctuation, as written.
    Op(&'static str),
    Newline,
    End,
}

struct Token {
    tok: Tok,
    /// Character offset in the block.
    pos: usize,
}

const OPERATORS: &[&str] = &[
    "**", "//", "==", "!=", "<=", ">=", "<<", ">>", "+", "-", "*", "/", "%", "&", "|", "^", "~", "<", ">", "(", ")",
    ",", "@", "=", "[", "]", "{", "}", ":", ".", "!",
];

const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "is", "if", "else", "lambda", "for", "async", "await", "yield", "def", "class", "return",
    "import", "from", "as", "with", "while", "try", "except", "finally", "raise", "del", "pass", "break", "continue",
    "global", "nonlocal", "assert", "elif",
];

fn tokenize(src: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let mut depth = 0usize;
    // Python: blank lines are ignored, the first logical line must not be indented.
    let mut line_start = true;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' || c == '\r' {
            if depth == 0 && !line_start {
                toks.push(Token { tok: Tok::Newline, pos: i });
            }
            if depth == 0 {
                line_start = true;
            }
            i += 1;
            continue;
        }
        if c == ' ' || c == '\t' || c == '\x0c' {
            if line_start && depth == 0 && c != '\x0c' {
                // Indentation matters only if something follows on this line.
                let mut j = i;
                while j < chars.len() && matches!(chars[j], ' ' | '\t' | '\x0c') {
                    j += 1;
                }
                if j < chars.len() && chars[j] != '\n' && chars[j] != '\r' {
                    return Err(format!("unexpected indent at position {i}"));
                }
            }
            i += 1;
            continue;
        }
        line_start = false;
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let (num, end) = number(&chars, i)?;
            toks.push(Token { tok: Tok::Num(num), pos: i });
            i = end;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            if j < chars.len() && !chars[j].is_ascii() && chars[j].is_alphanumeric() {
                return Err(format!("non-ASCII name at position {i}"));
            }
            let name: String = chars[i..j].iter().collect();
            if KEYWORDS.contains(&name.as_str()) {
                return Err(match name.as_str() {
                    "and" | "or" => format!("disallowed boolean operator '{name}' at position {i} (use & and |)"),
                    "not" => format!("disallowed operator 'not' at position {i} (use ~)"),
                    _ => format!("disallowed keyword '{name}' at position {i}"),
                });
            }
            toks.push(Token { tok: Tok::Name(name), pos: i });
            i = j;
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
        let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) else {
            return Err(match c {
                '\'' | '"' => format!("strings are not supported (position {i})"),
                '#' => format!("comments are not supported (position {i})"),
                '\\' => format!("line continuations are not supported (position {i})"),
                ';' => unreachable!("blocks are split on ';'"),
                _ => format!("unexpected character '{c}' at position {i}"),
            });
        };
        match *op {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            "<<" | ">>" => return Err(format!("disallowed shift operator '{op}' at position {i}")),
            "@" => return Err(format!("disallowed matrix multiplication '@' at position {i}")),
            "[" | "]" => return Err(format!("subscripts are not allowed (position {i})")),
            "." => return Err(format!("attribute access is not allowed (position {i})")),
            ":" | "{" | "}" => return Err(format!("unexpected '{op}' at position {i}")),
            "=" => return Err(format!("assignments and keyword arguments are not allowed (position {i})")),
            "!" => return Err(format!("unexpected '!' at position {i}")),
            _ => {}
        }
        toks.push(Token { tok: Tok::Op(op), pos: i });
        i += op.len();
    }
    toks.push(Token { tok: Tok::End, pos: chars.len() });
    Ok(toks)
}

/// Python's numeric literal grammar (3.11), from `start`.
fn number(c: &[char], start: usize) -> Result<(Num, usize), String> {
    let bad = |msg: &str| format!("{msg} at position {start}");
    // digits with single underscores between them
    let digits = |mut i: usize, ok: &dyn Fn(char) -> bool| -> Result<usize, String> {
        let s = i;
        while i < c.len() && (ok(c[i]) || (c[i] == '_' && i > s && i + 1 < c.len() && ok(c[i + 1]))) {
            i += 1;
        }
        if i < c.len() && c[i] == '_' {
            return Err(bad("invalid number literal"));
        }
        Ok(i)
    };
    let tail_check = |end: usize| -> Result<(), String> {
        match c.get(end) {
            Some('j') => Err(bad("complex numbers are not supported")),
            Some(ch) if ch.is_ascii_alphanumeric() || *ch == '_' || *ch == '.' => Err(bad("invalid number literal")),
            _ => Ok(()),
        }
    };
    let text = |a: usize, b: usize| -> String { c[a..b].iter().filter(|&&x| x != '_').collect() };
    if c[start] == '0' && matches!(c.get(start + 1), Some('x' | 'o' | 'b')) {
        let (radix, ok): (u32, fn(char) -> bool) = match c[start + 1] {
            'x' => (16, |x: char| x.is_ascii_hexdigit()),
            'o' => (8, |x: char| ('0'..='7').contains(&x)),
            _ => (2, |x: char| x == '0' || x == '1'),
        };
        // an underscore may follow the prefix
        let mut s = start + 2;
        if c.get(s) == Some(&'_') {
            s += 1;
        }
        if !c.get(s).is_some_and(|&x| ok(x)) {
            return Err(bad("invalid number literal"));
        }
        let end = digits(s, &ok)?;
        tail_check(end)?;
        let v = i128::from_str_radix(&text(s, end), radix).map_err(|_| bad("integer literal too large"))?;
        return Ok((Num::Int(v), end));
    }
    let dec = |x: char| x.is_ascii_digit();
    let mut i = start;
    let mut is_float = false;
    if c[i] != '.' {
        i = digits(i, &dec)?;
    }
    let int_end = i;
    let mut frac_underscore = false;
    if c.get(i) == Some(&'.') {
        is_float = true;
        i += 1;
        if c.get(i).is_some_and(|x| x.is_ascii_digit()) {
            let e = digits(i, &dec)?;
            frac_underscore |= c[i..e].contains(&'_');
            i = e;
        }
    }
    if c.get(i) == Some(&'e') {
        let mut j = i + 1;
        if matches!(c.get(j), Some('+' | '-')) {
            j += 1;
        }
        if c.get(j).is_some_and(|x| x.is_ascii_digit()) {
            let e = digits(j, &dec)?;
            frac_underscore |= is_float && c[j..e].contains(&'_');
            is_float = true;
            i = e;
        } else {
            return Err(bad("invalid number literal"));
        }
    }
    tail_check(i)?;
    if is_float {
        if frac_underscore {
            // numexpr's sanitizer: `\.\b(?!(\d*[eE]?[+-]?\d+)\b)` on the block.
            return Err(bad("forbidden '_' after the '.' of a number"));
        }
        let v: f64 = text(start, i).parse().map_err(|_| bad("invalid number literal"))?;
        return Ok((Num::Float(v), i));
    }
    let t = text(start, int_end);
    if t.len() > 1 && t.starts_with('0') && t.chars().any(|x| x != '0') {
        return Err(bad("leading zeros in decimal integer literals are not permitted"));
    }
    let v: i128 = t.parse().map_err(|_| bad("integer literal too large"))?;
    Ok((Num::Int(v), i))
}

struct Parser {
    toks: Vec<Token>,
    at: usize,
    depth: usize,
}

// Binding powers (Python's precedence).
const BP_CMP: u8 = 1;
const BP_UNARY: u8 = 8;

fn infix(op: &str) -> Option<(u8, BinOp)> {
    Some(match op {
        "|" => (2, BinOp::Or),
        "^" => (3, BinOp::Xor),
        "&" => (4, BinOp::And),
        "+" => (6, BinOp::Add),
        "-" => (6, BinOp::Sub),
        "*" => (7, BinOp::Mul),
        "/" => (7, BinOp::Div),
        "//" => (7, BinOp::FloorDiv),
        "%" => (7, BinOp::Mod),
        "**" => (9, BinOp::Pow),
        _ => return None,
    })
}

fn comparison(op: &str) -> Option<CmpOp> {
    Some(match op {
        "==" => CmpOp::Eq,
        "!=" => CmpOp::Ne,
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Le,
        ">" => CmpOp::Gt,
        ">=" => CmpOp::Ge,
        _ => return None,
    })
}

/// Parse one block (already lowercased).
pub(crate) fn parse_block(src: &str) -> Result<Ast, String> {
    let toks = tokenize(src)?;
    let mut p = Parser { toks, at: 0, depth: 0 };
    let ast = p.expr(0)?;
    while p.peek() == &Tok::Newline {
        p.at += 1;
    }
    match p.peek() {
        Tok::End => {}
        Tok::Newline => return Err(format!("invalid syntax: new line at position {}", p.pos())),
        t => return Err(format!("invalid syntax: unexpected {} at position {}", describe(t), p.pos())),
    }
    if height(&ast) > MAX_DEPTH {
        return Err(format!("expression is nested deeper than {MAX_DEPTH} levels"));
    }
    Ok(ast)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(_) => "number".into(),
        Tok::Name(n) => format!("name '{n}'"),
        Tok::Op(o) => format!("'{o}'"),
        Tok::Newline => "new line".into(),
        Tok::End => "end of expression".into(),
    }
}

/// Tree height, without recursion.
fn height(ast: &Ast) -> usize {
    let mut max = 0;
    let mut stack = vec![(ast, 1usize)];
    while let Some((a, d)) = stack.pop() {
        max = max.max(d);
        match a {
            Ast::Num(_) | Ast::Band(_) => {}
            Ast::Unary(_, x) => stack.push((x, d + 1)),
            Ast::Binary(_, x, y) => {
                stack.push((x, d + 1));
                stack.push((y, d + 1));
            }
            Ast::Compare(x, rest) => {
                stack.push((x, d + 1));
                rest.iter().for_each(|(_, y)| stack.push((y, d + 1)));
            }
            Ast::Call(_, args) => args.iter().for_each(|y| stack.push((y, d + 1))),
        }
    }
    max
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.at].tok
    }

    fn pos(&self) -> usize {
        self.toks[self.at].pos
    }

    fn next(&mut self) -> &Token {
        let t = &self.toks[self.at];
        if t.tok != Tok::End {
            self.at += 1;
        }
        t
    }

    fn unexpected(&self) -> String {
        match self.peek() {
            Tok::End => "invalid syntax: unexpected end of expression".into(),
            t => format!("invalid syntax: unexpected {} at position {}", describe(t), self.pos()),
        }
    }

    fn expr(&mut self, min_bp: u8) -> Result<Ast, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("expression is nested deeper than {MAX_DEPTH} levels"));
        }
        let r = self.expr_inner(min_bp);
        self.depth -= 1;
        r
    }

    fn expr_inner(&mut self, min_bp: u8) -> Result<Ast, String> {
        let mut lhs = self.prefix()?;
        while let Tok::Op(op) = self.peek() {
            let op = *op;
            if let Some(cmp) = comparison(op) {
                if BP_CMP < min_bp {
                    break;
                }
                let mut rest = Vec::new();
                let mut next = Some(cmp);
                while let Some(c) = next {
                    self.next();
                    rest.push((c, self.expr(BP_CMP + 1)?));
                    next = match self.peek() {
                        Tok::Op(o) => comparison(o),
                        _ => None,
                    };
                }
                lhs = Ast::Compare(Box::new(lhs), rest);
                continue;
            }
            let Some((bp, bin)) = infix(op) else { break };
            if bp < min_bp {
                break;
            }
            self.next();
            // `**` is right-associative and its right operand is a unary expression.
            let rhs = if bin == BinOp::Pow { self.expr(BP_UNARY)? } else { self.expr(bp + 1)? };
            lhs = Ast::Binary(bin, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn prefix(&mut self) -> Result<Ast, String> {
        let tok = self.next();
        let pos = tok.pos;
        match tok.tok.clone() {
            Tok::Num(n) => self.postfix_call_check(Ast::Num(n)),
            Tok::Op("-") | Tok::Op("+") | Tok::Op("~") => {
                let op = match tok.tok {
                    Tok::Op("-") => UnOp::Neg,
                    Tok::Op("+") => UnOp::Pos,
                    _ => UnOp::Invert,
                };
                let operand = self.expr(BP_UNARY)?;
                Ok(Ast::Unary(op, Box::new(operand)))
            }
            Tok::Op("(") => {
                if self.peek() == &Tok::Op(")") {
                    return Err(format!("empty parentheses (a tuple) at position {pos}"));
                }
                let inner = self.expr(0)?;
                match self.peek() {
                    Tok::Op(")") => {
                        self.next();
                    }
                    Tok::Op(",") => return Err(format!("tuples are not allowed (position {})", self.pos())),
                    Tok::End => return Err(format!("unbalanced parentheses: '(' at position {pos} is never closed")),
                    _ => return Err(self.unexpected()),
                }
                self.postfix_call_check(inner)
            }
            Tok::Op(")") => Err(format!("unbalanced parentheses: unexpected ')' at position {pos}")),
            Tok::Name(name) => {
                if self.peek() == &Tok::Op("(") {
                    return self.call(&name, pos);
                }
                if let Some(k) = band(&name) {
                    return Ok(Ast::Band(k?));
                }
                if Func::from_name(&name).is_some() || is_reduction(&name) {
                    return Err(format!("function '{name}' used without arguments at position {pos}"));
                }
                Err(format!("unknown name '{name}' at position {pos} (bands are b1, b2, ...)"))
            }
            Tok::End => Err("invalid syntax: unexpected end of expression".into()),
            t => Err(format!("invalid syntax: unexpected {} at position {pos}", describe(&t))),
        }
    }

    /// `(expr)(...)` or `2(...)`: Python calls a non-name, which rio-tiler rejects.
    fn postfix_call_check(&mut self, a: Ast) -> Result<Ast, String> {
        if self.peek() == &Tok::Op("(") {
            return Err(format!("indirect calls are not allowed (position {})", self.pos()));
        }
        Ok(a)
    }

    fn call(&mut self, name: &str, pos: usize) -> Result<Ast, String> {
        let func = match Func::from_name(name) {
            Some(f) => f,
            None if is_reduction(name) => {
                return Err(format!("reduction '{name}' is not supported (position {pos})"));
            }
            None if name == "complex" || name == "contains" => {
                return Err(format!("function '{name}' is not supported (position {pos})"));
            }
            None => return Err(format!("unknown function '{name}' at position {pos}")),
        };
        self.next(); // (
        let mut args = Vec::new();
        loop {
            if self.peek() == &Tok::Op(")") {
                self.next();
                break;
            }
            args.push(self.expr(0)?);
            match self.peek() {
                Tok::Op(",") => {
                    self.next();
                }
                Tok::Op(")") => {
                    self.next();
                    break;
                }
                Tok::End => return Err(format!("unbalanced parentheses: '{name}(' at position {pos} is never closed")),
                _ => return Err(self.unexpected()),
            }
        }
        if args.len() != func.arity() {
            return Err(format!("{name}() takes {} argument(s), {} given (position {pos})", func.arity(), args.len()));
        }
        self.postfix_call_check(Ast::Call(func, args))
    }
}

fn is_reduction(name: &str) -> bool {
    matches!(name, "sum" | "prod" | "min" | "max")
}

/// `bK` → Some(Ok(K)); `b0`, `b01` → Some(Err); other names → None.
fn band(name: &str) -> Option<Result<usize, String>> {
    let digits = name.strip_prefix('b')?;
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if digits.starts_with('0') {
        return Some(Err(format!("invalid band name '{name}' (bands are b1, b2, ...)")));
    }
    Some(digits.parse::<usize>().map_err(|_| format!("invalid band name '{name}'")))
}
