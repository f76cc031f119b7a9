//! CQL2-text: a tokenizer and a recursive-descent parser.

use super::{ARRAYS, COMPARISONS, Expr, MAX_DEPTH, Operand, SPATIAL, TEMPORAL, bad, number_text, text_function};
use crate::error::Result;

const WKT_TYPES: &[&str] =
    &["point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection"];

pub(super) fn parse(filter: &str) -> Result<Expr> {
    Text::new(filter)?.parse()
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Str(String),
    Num(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    /// A WKT literal, kept as text for PostGIS.
    Wkt(String),
}

struct Text {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    /// Parsing steps left: a parenthesis may be parsed twice (as a condition, then as a
    /// value), which nested parentheses would make exponential without a bound.
    budget: usize,
}

impl Text {
    fn new(s: &str) -> Result<Text> {
        let b = s.as_bytes();
        let mut toks = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            let start = i;
            match c {
                b' ' | b'\t' | b'\n' | b'\r' => {
                    i += 1;
                    continue;
                }
                b'(' => toks.push((Tok::LParen, start)),
                b')' => toks.push((Tok::RParen, start)),
                b',' => toks.push((Tok::Comma, start)),
                b'=' => toks.push((Tok::Op("="), start)),
                b'<' | b'>' => {
                    let two = b.get(i + 1).copied();
                    let op = match (c, two) {
                        (b'<', Some(b'>')) => "<>",
                        (b'<', Some(b'=')) => "<=",
                        (b'>', Some(b'=')) => ">=",
                        (b'<', _) => "<",
                        _ => ">",
                    };
                    i += op.len() - 1;
                    toks.push((Tok::Op(op), start));
                }
                b'\'' | b'"' => {
                    let mut out = String::new();
                    i += 1;
                    loop {
                        let Some(&ch) = b.get(i) else { return Err(bad(format!("unclosed quote at {start}"))) };
                        if ch == c {
                            if b.get(i + 1) == Some(&c) {
                                out.push(c as char);
                                i += 2;
                                continue;
                            }
                            break;
                        }
                        let len = utf8_len(ch);
                        out.push_str(&s[i..i + len]);
                        i += len;
                    }
                    toks.push((if c == b'\'' { Tok::Str(out) } else { Tok::Quoted(out) }, start));
                }
                b'*' => toks.push((Tok::Op("*"), start)),
                b'/' => toks.push((Tok::Op("/"), start)),
                b'%' => toks.push((Tok::Op("%"), start)),
                // A sign after a value is an operator (`a - 1`); elsewhere it starts a number.
                b'-' | b'+'
                    if matches!(
                        toks.last(),
                        Some((
                            Tok::Word(_) | Tok::Quoted(_) | Tok::Str(_) | Tok::Num(_) | Tok::RParen | Tok::Wkt(_),
                            _
                        ))
                    ) || !matches!(b.get(i + 1), Some(b'0'..=b'9' | b'.')) =>
                {
                    toks.push((Tok::Op(if c == b'-' { "-" } else { "+" }), start))
                }
                b'0'..=b'9' | b'-' | b'+' | b'.' => {
                    let mut j = i + 1;
                    while j < b.len() && (b[j].is_ascii_digit() || matches!(b[j], b'.' | b'e' | b'E' | b'-' | b'+')) {
                        if matches!(b[j], b'-' | b'+') && !matches!(b[j - 1], b'e' | b'E') {
                            break;
                        }
                        j += 1;
                    }
                    let v = number_text(&s[i..j]).map_err(|_| bad(format!("bad number '{}' at {start}", &s[i..j])))?;
                    toks.push((Tok::Num(v), start));
                    i = j - 1;
                }
                c if c.is_ascii_alphabetic() || c == b'_' => {
                    let mut j = i + 1;
                    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'.' || b[j] == b':')
                    {
                        j += 1;
                    }
                    let word = &s[i..j];
                    if WKT_TYPES.contains(&word.to_ascii_lowercase().as_str()) {
                        // The literal runs to its balanced closing parenthesis.
                        let mut k = j;
                        while k < b.len() && b[k] != b'(' {
                            k += 1;
                        }
                        let mut depth = 0usize;
                        while k < b.len() {
                            match b[k] {
                                b'(' => depth += 1,
                                b')' => {
                                    depth -= 1;
                                    if depth == 0 {
                                        break;
                                    }
                                }
                                b'0'..=b'9' | b'.' | b'-' | b'+' | b'e' | b'E' | b' ' | b',' => {}
                                _ if b[k].is_ascii_alphabetic() => {}
                                other => {
                                    return Err(bad(format!("unexpected '{}' in a geometry at {k}", other as char)));
                                }
                            }
                            k += 1;
                        }
                        if depth != 0 || k >= b.len() {
                            return Err(bad(format!("unclosed geometry literal at {start}")));
                        }
                        toks.push((Tok::Wkt(s[i..=k].to_string()), start));
                        i = k;
                    } else {
                        toks.push((Tok::Word(word.to_string()), start));
                        i = j - 1;
                    }
                }
                other => return Err(bad(format!("unexpected '{}' at {start}", other as char))),
            }
            i += 1;
        }
        let budget = 16 * toks.len() + 1024;
        Ok(Text { toks, pos: 0, budget })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(usize::MAX, |t| t.1)
    }

    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k))
    }

    fn eat_keyword(&mut self, k: &str) -> bool {
        let yes = self.keyword(k);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn expect(&mut self, t: Tok) -> Result<()> {
        if self.peek() == Some(&t) {
            self.pos += 1;
            Ok(())
        } else {
            Err(bad(format!("expected {t:?} at {}", self.at())))
        }
    }

    fn parse(mut self) -> Result<Expr> {
        let e = self.or(0)?;
        if self.pos != self.toks.len() {
            return Err(bad(format!("unexpected {:?} at {}", self.peek(), self.at())));
        }
        Ok(e)
    }

    fn or(&mut self, depth: usize) -> Result<Expr> {
        if depth > 64 {
            return Err(bad("nested too deeply"));
        }
        let mut parts = vec![self.and(depth)?];
        while self.eat_keyword("or") {
            parts.push(self.and(depth)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Expr::Or(parts) })
    }

    fn and(&mut self, depth: usize) -> Result<Expr> {
        let mut parts = vec![self.not(depth)?];
        while self.eat_keyword("and") {
            parts.push(self.not(depth)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Expr::And(parts) })
    }

    fn not(&mut self, depth: usize) -> Result<Expr> {
        if depth > 64 {
            return Err(bad("nested too deeply"));
        }
        if self.eat_keyword("not") {
            return Ok(Expr::Not(Box::new(self.not(depth + 1)?)));
        }
        self.predicate(depth)
    }

    fn step(&mut self) -> Result<()> {
        self.budget = self.budget.checked_sub(1).ok_or_else(|| bad("too complex"))?;
        Ok(())
    }

    fn predicate(&mut self, depth: usize) -> Result<Expr> {
        self.step()?;
        if self.peek() == Some(&Tok::LParen) {
            // A parenthesized condition, or an arithmetic operand (`(a + 1) > 2`): the
            // condition is tried first.
            let start = self.pos;
            self.pos += 1;
            if let Ok(e) = self.or(depth + 1)
                && self.peek() == Some(&Tok::RParen)
            {
                self.pos += 1;
                return Ok(e);
            }
            self.pos = start;
        }
        if self.eat_keyword("true") {
            return Ok(Expr::Literal(true));
        }
        if self.eat_keyword("false") {
            return Ok(Expr::Literal(false));
        }
        if let Some(Tok::Word(w)) = self.peek() {
            let w = w.to_ascii_lowercase();
            let spatial = SPATIAL.iter().find(|(s, _)| *s == w).map(|(s, _)| *s);
            let temporal = TEMPORAL.iter().find(|s| **s == w).copied();
            let array = ARRAYS.iter().find(|(s, _)| *s == w).map(|(s, _)| *s);
            if spatial.is_some() || temporal.is_some() || array.is_some() {
                self.pos += 1;
                self.expect(Tok::LParen)?;
                let a = self.operand(depth + 1)?;
                self.expect(Tok::Comma)?;
                let b = self.operand(depth + 1)?;
                self.expect(Tok::RParen)?;
                return Ok(match (spatial, temporal, array) {
                    (Some(name), _, _) => Expr::Spatial(name, a, b),
                    (_, Some(name), _) => Expr::Temporal(name, a, b),
                    (_, _, Some(name)) => Expr::Array(name, a, b),
                    _ => unreachable!("one of them matched"),
                });
            }
        }
        let left = self.operand(depth + 1)?;
        if let Some(Tok::Op(op)) = self.peek() {
            let op = *op;
            if !COMPARISONS.contains(&op) {
                return Err(bad(format!("unexpected '{op}' at {}", self.at())));
            }
            self.pos += 1;
            return Ok(Expr::Compare(op, left, self.operand(depth + 1)?));
        }
        let negated = self.eat_keyword("not");
        let e = if self.eat_keyword("like") {
            Expr::Like(left, self.operand(depth + 1)?)
        } else if self.eat_keyword("between") {
            let lo = self.operand(depth + 1)?;
            if !self.eat_keyword("and") {
                return Err(bad(format!("BETWEEN needs AND at {}", self.at())));
            }
            Expr::Between(left, lo, self.operand(depth + 1)?)
        } else if self.eat_keyword("in") {
            self.expect(Tok::LParen)?;
            let mut list = vec![self.operand(depth + 1)?];
            while self.peek() == Some(&Tok::Comma) {
                self.pos += 1;
                list.push(self.operand(depth + 1)?);
            }
            self.expect(Tok::RParen)?;
            Expr::In(left, list)
        } else if !negated && self.eat_keyword("is") {
            let not_null = self.eat_keyword("not");
            if !self.eat_keyword("null") {
                return Err(bad(format!("expected NULL at {}", self.at())));
            }
            let e = Expr::IsNull(left);
            return Ok(if not_null { Expr::Not(Box::new(e)) } else { e });
        } else {
            return Err(bad(format!("expected a comparison at {}", self.at())));
        };
        Ok(if negated { Expr::Not(Box::new(e)) } else { e })
    }

    /// A value: sums of products of primaries (arithmetic binds as usual).
    fn operand(&mut self, depth: usize) -> Result<Operand> {
        if depth > MAX_DEPTH {
            return Err(bad("nested too deeply"));
        }
        let mut a = self.product(depth)?;
        while let Some(Tok::Op(op @ ("+" | "-"))) = self.peek() {
            let op = *op;
            self.pos += 1;
            a = Operand::Arith(op, Box::new(a), Box::new(self.product(depth)?));
        }
        Ok(a)
    }

    fn product(&mut self, depth: usize) -> Result<Operand> {
        let mut a = self.primary(depth)?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op(op @ ("*" | "/" | "%"))) => *op,
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("div") => "div",
                _ => return Ok(a),
            };
            self.pos += 1;
            a = Operand::Arith(op, Box::new(a), Box::new(self.primary(depth)?));
        }
    }

    fn primary(&mut self, depth: usize) -> Result<Operand> {
        self.step()?;
        let at = self.at();
        let Some((tok, _)) = self.toks.get(self.pos).cloned() else { return Err(bad("unexpected end")) };
        self.pos += 1;
        Ok(match tok {
            Tok::Str(s) => Operand::Str(s),
            Tok::Num(n) => Operand::Num(n),
            Tok::Quoted(p) => Operand::Property(p),
            Tok::Wkt(w) => Operand::Wkt(w),
            // `(a + 1)` groups; `('a', 'b')` is an array.
            Tok::LParen => {
                let first = self.operand(depth + 1)?;
                if self.peek() == Some(&Tok::RParen) {
                    self.pos += 1;
                    return Ok(first);
                }
                let mut items = vec![first];
                while self.peek() == Some(&Tok::Comma) {
                    self.pos += 1;
                    items.push(self.operand(depth + 1)?);
                }
                self.expect(Tok::RParen)?;
                Operand::Array(items)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Operand::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Operand::Bool(false),
            Tok::Word(w) if w.eq_ignore_ascii_case("timestamp") || w.eq_ignore_ascii_case("date") => {
                self.expect(Tok::LParen)?;
                let Some((Tok::Str(t), _)) = self.toks.get(self.pos).cloned() else {
                    return Err(bad(format!("{w} needs a quoted value at {at}")));
                };
                self.pos += 1;
                self.expect(Tok::RParen)?;
                Operand::Timestamp(t)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("interval") && self.peek() == Some(&Tok::LParen) => {
                self.pos += 1;
                let a = self.operand(depth + 1)?;
                self.expect(Tok::Comma)?;
                let b = self.operand(depth + 1)?;
                self.expect(Tok::RParen)?;
                Operand::Interval(Box::new(a), Box::new(b))
            }
            Tok::Word(w) if text_function(&w).is_some() && self.peek() == Some(&Tok::LParen) => {
                self.pos += 1;
                let x = self.operand(depth + 1)?;
                self.expect(Tok::RParen)?;
                Operand::Func(text_function(&w).expect("checked"), Box::new(x))
            }
            Tok::Word(w) => Operand::Property(w),
            other => return Err(bad(format!("expected a value at {at}, got {other:?}"))),
        })
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}
