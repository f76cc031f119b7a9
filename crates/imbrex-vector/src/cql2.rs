//! OGC CQL2 filters (text and JSON encodings) parsed into one tree and translated to SQL.
//!
//! Supported: comparisons (`= <> < <= > >=`), `AND`/`OR`/`NOT`, `LIKE`, `BETWEEN`, `IN`,
//! `IS NULL`, `TIMESTAMP(...)`/`DATE(...)` literals, and the spatial predicates
//! `S_INTERSECTS`, `S_DISJOINT`, `S_WITHIN`, `S_CONTAINS`, `S_EQUALS`, `S_TOUCHES`,
//! `S_OVERLAPS`, `S_CROSSES` on WKT (text) or GeoJSON (JSON) literals in longitude/latitude.
//! Properties are checked against the catalog; literals are bound parameters cast to the
//! column's type, so a filter can neither inject SQL nor compare mismatched types.

use serde_json::Value;

use crate::catalog::Collection;
use crate::error::{Error, Result};
use crate::query::{cast_text, in_text_params, intersects_with};
use crate::sql::{Params, ident};

/// The longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 64 * 1024;

#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Property(String),
    Str(String),
    /// A number as the text bound for it: integers exactly as written (beyond 2^53 too),
    /// other numbers as their nearest double.
    Num(String),
    Bool(bool),
    Timestamp(String),
    /// A geometry literal: WKT text or a GeoJSON geometry, in longitude/latitude.
    Wkt(String),
    GeoJson(Value),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Compare(&'static str, Operand, Operand),
    Like(Operand, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    IsNull(Operand),
    Spatial(&'static str, Operand, Operand),
    Literal(bool),
}

fn bad(reason: impl Into<String>) -> Error {
    Error::invalid("filter", reason)
}

const COMPARISONS: &[&str] = &["=", "<>", "<", "<=", ">", ">="];
const SPATIAL: &[(&str, &str)] = &[
    ("s_intersects", "ST_Intersects"),
    ("s_disjoint", "ST_Disjoint"),
    ("s_within", "ST_Within"),
    ("s_contains", "ST_Contains"),
    ("s_equals", "ST_Equals"),
    ("s_touches", "ST_Touches"),
    ("s_overlaps", "ST_Overlaps"),
    ("s_crosses", "ST_Crosses"),
];
/// The predicate with its arguments swapped (the others are symmetric).
fn converse(f: &'static str) -> &'static str {
    match f {
        "ST_Within" => "ST_Contains",
        "ST_Contains" => "ST_Within",
        other => other,
    }
}

const WKT_TYPES: &[&str] =
    &["point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection"];

/// Parse a filter in `lang` (`cql2-text`, the default, or `cql2-json`).
pub fn parse(filter: &str, lang: Option<&str>) -> Result<Expr> {
    if filter.len() > MAX_FILTER_LEN {
        return Err(bad(format!("longer than {MAX_FILTER_LEN} bytes")));
    }
    match lang.unwrap_or("cql2-text") {
        "cql2-text" => Text::new(filter)?.parse(),
        "cql2-json" => {
            let v: Value = serde_json::from_str(filter).map_err(|e| bad(format!("not JSON: {e}")))?;
            json_expr(&v, 0)
        }
        other => Err(Error::invalid("filter-lang", format!("'{other}' is not cql2-text or cql2-json"))),
    }
}

// ---- CQL2-JSON -------------------------------------------------------------------------

fn json_expr(v: &Value, depth: usize) -> Result<Expr> {
    if depth > 64 {
        return Err(bad("nested too deeply"));
    }
    if let Value::Bool(b) = v {
        return Ok(Expr::Literal(*b));
    }
    let op =
        v.get("op").and_then(Value::as_str).ok_or_else(|| bad(format!("expected {{\"op\", \"args\"}}, got {v}")))?;
    let args = v.get("args").and_then(Value::as_array).ok_or_else(|| bad(format!("'{op}' needs \"args\"")))?;
    let op = op.to_ascii_lowercase();
    let n = |want: usize| {
        if args.len() == want { Ok(()) } else { Err(bad(format!("'{op}' takes {want} arguments, not {}", args.len()))) }
    };
    Ok(match op.as_str() {
        "and" | "or" => {
            let parts = args.iter().map(|a| json_expr(a, depth + 1)).collect::<Result<Vec<_>>>()?;
            if parts.len() < 2 {
                return Err(bad(format!("'{op}' needs at least two arguments")));
            }
            if op == "and" { Expr::And(parts) } else { Expr::Or(parts) }
        }
        "not" => {
            n(1)?;
            Expr::Not(Box::new(json_expr(&args[0], depth + 1)?))
        }
        "like" => {
            n(2)?;
            Expr::Like(json_operand(&args[0])?, json_operand(&args[1])?)
        }
        "between" => {
            n(3)?;
            Expr::Between(json_operand(&args[0])?, json_operand(&args[1])?, json_operand(&args[2])?)
        }
        "in" => {
            n(2)?;
            let list = args[1].as_array().ok_or_else(|| bad("'in' needs a list"))?;
            Expr::In(json_operand(&args[0])?, list.iter().map(json_operand).collect::<Result<_>>()?)
        }
        "isnull" => {
            n(1)?;
            Expr::IsNull(json_operand(&args[0])?)
        }
        o => {
            if let Some(c) = COMPARISONS.iter().find(|c| **c == o) {
                n(2)?;
                Expr::Compare(c, json_operand(&args[0])?, json_operand(&args[1])?)
            } else if let Some((name, _)) = SPATIAL.iter().find(|(s, _)| *s == o) {
                n(2)?;
                Expr::Spatial(name, json_operand(&args[0])?, json_operand(&args[1])?)
            } else {
                return Err(bad(format!("unknown operator '{o}'")));
            }
        }
    })
}

/// A numeric literal's text for SQL: an integer as written (a double would round ids beyond
/// 2^53), anything else through a finite double (`1e5` is `100000`, which an integer column
/// takes).
fn number_text(raw: &str) -> Result<String> {
    let digits = raw.strip_prefix(['-', '+']).unwrap_or(raw);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(raw.trim_start_matches('+').to_string());
    }
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(format!("{v}")),
        _ => Err(bad(format!("bad number '{raw}'"))),
    }
}

fn json_operand(v: &Value) -> Result<Operand> {
    Ok(match v {
        Value::String(s) => Operand::Str(s.clone()),
        Value::Number(n) => Operand::Num(number_text(&n.to_string())?),
        Value::Bool(b) => Operand::Bool(*b),
        Value::Object(o) => {
            if let Some(p) = o.get("property").and_then(Value::as_str) {
                Operand::Property(p.to_string())
            } else if let Some(t) = o.get("timestamp").or(o.get("date")).and_then(Value::as_str) {
                Operand::Timestamp(t.to_string())
            } else if o.contains_key("type") && (o.contains_key("coordinates") || o.contains_key("geometries")) {
                Operand::GeoJson(v.clone())
            } else {
                return Err(bad(format!("not an operand: {v}")));
            }
        }
        other => return Err(bad(format!("not an operand: {other}"))),
    })
}

// ---- CQL2-text -------------------------------------------------------------------------

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
        Ok(Text { toks, pos: 0 })
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

    fn predicate(&mut self, depth: usize) -> Result<Expr> {
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let e = self.or(depth + 1)?;
            self.expect(Tok::RParen)?;
            return Ok(e);
        }
        if self.eat_keyword("true") {
            return Ok(Expr::Literal(true));
        }
        if self.eat_keyword("false") {
            return Ok(Expr::Literal(false));
        }
        if let Some(Tok::Word(w)) = self.peek()
            && let Some((name, _)) = SPATIAL.iter().find(|(s, _)| w.eq_ignore_ascii_case(s))
        {
            self.pos += 1;
            self.expect(Tok::LParen)?;
            let a = self.operand()?;
            self.expect(Tok::Comma)?;
            let b = self.operand()?;
            self.expect(Tok::RParen)?;
            return Ok(Expr::Spatial(name, a, b));
        }
        let left = self.operand()?;
        if let Some(Tok::Op(op)) = self.peek() {
            let op = *op;
            self.pos += 1;
            return Ok(Expr::Compare(op, left, self.operand()?));
        }
        let negated = self.eat_keyword("not");
        let e = if self.eat_keyword("like") {
            Expr::Like(left, self.operand()?)
        } else if self.eat_keyword("between") {
            let lo = self.operand()?;
            if !self.eat_keyword("and") {
                return Err(bad(format!("BETWEEN needs AND at {}", self.at())));
            }
            Expr::Between(left, lo, self.operand()?)
        } else if self.eat_keyword("in") {
            self.expect(Tok::LParen)?;
            let mut list = vec![self.operand()?];
            while self.peek() == Some(&Tok::Comma) {
                self.pos += 1;
                list.push(self.operand()?);
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

    fn operand(&mut self) -> Result<Operand> {
        let at = self.at();
        let Some((tok, _)) = self.toks.get(self.pos).cloned() else { return Err(bad("unexpected end")) };
        self.pos += 1;
        Ok(match tok {
            Tok::Str(s) => Operand::Str(s),
            Tok::Num(n) => Operand::Num(n),
            Tok::Quoted(p) => Operand::Property(p),
            Tok::Wkt(w) => Operand::Wkt(w),
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

// ---- SQL -------------------------------------------------------------------------------

/// Translate a filter to a SQL condition over the row alias `t`.
pub fn to_sql(e: &Expr, c: &Collection, p: &mut Params) -> Result<String> {
    Ok(match e {
        Expr::Literal(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Expr::And(parts) | Expr::Or(parts) => {
            let sep = if matches!(e, Expr::And(_)) { " AND " } else { " OR " };
            let sql = parts.iter().map(|x| to_sql(x, c, p)).collect::<Result<Vec<_>>>()?;
            format!("({})", sql.join(sep))
        }
        Expr::Not(x) => format!("(NOT {})", to_sql(x, c, p)?),
        Expr::IsNull(a) => format!("({} IS NULL)", column(a, c)?.0),
        Expr::Compare(op, a, b) => {
            let (l, r) = pair(a, b, c, p)?;
            format!("({l} {op} {r})")
        }
        Expr::Like(a, b) => {
            let l = column(a, c)?.0;
            let Operand::Str(pattern) = b else { return Err(bad("LIKE needs a quoted pattern")) };
            format!("({l}::text LIKE {}::text)", p.push(pattern.clone()))
        }
        Expr::Between(a, lo, hi) => {
            let (l, lo) = pair(a, lo, c, p)?;
            let (_, hi) = pair(a, hi, c, p)?;
            format!("({l} BETWEEN {lo} AND {hi})")
        }
        Expr::In(a, list) => {
            let (l, typ) = column(a, c)?;
            match (a, list.iter().map(literal_text).collect::<Option<Vec<String>>>()) {
                // Values only: one array parameter, so lists of any length share a statement.
                (Operand::Property(name), Some(values)) => format!("({})", in_text_params(name, typ, &p.push(values))),
                _ => {
                    let items = list.iter().map(|v| pair(a, v, c, p).map(|x| x.1)).collect::<Result<Vec<_>>>()?;
                    format!("({l} IN ({}))", items.join(", "))
                }
            }
        }
        Expr::Spatial(name, a, b) => {
            let f = SPATIAL.iter().find(|(s, _)| s == name).map_or("ST_Intersects", |(_, f)| f);
            // `S_CONTAINS(A, B)` means A contains B: with the literal first, the property is
            // the second argument, so the predicate turns into its converse.
            let (prop, lit, f) = match (a, b) {
                (Operand::Property(_), lit) => (a, lit, f),
                (lit, Operand::Property(_)) => (b, lit, converse(f)),
                _ => return Err(bad("a spatial predicate compares a geometry property with a geometry")),
            };
            let Operand::Property(name) = prop else {
                return Err(bad("a spatial predicate needs a geometry property"));
            };
            let g = c
                .geometry_columns
                .iter()
                .find(|g| &g.name == name)
                .ok_or_else(|| bad(format!("'{name}' is not a geometry property of {}", c.id)))?;
            let geom = match lit {
                Operand::Wkt(w) => format!("ST_GeomFromText({}::text, 4326)", p.push(w.clone())),
                Operand::GeoJson(v) => format!("ST_SetSRID(ST_GeomFromGeoJSON({}::text), 4326)", p.push(v.to_string())),
                _ => return Err(bad("a spatial predicate needs a geometry literal")),
            };
            intersects_with(f, g, &geom)
        }
    })
}

/// A property as a column expression, with its PostgreSQL type.
fn column<'a>(o: &Operand, c: &'a Collection) -> Result<(String, &'a str)> {
    match o {
        Operand::Property(name) => match c.property(name) {
            Some(prop) => Ok((format!("t.{}", ident(&prop.name)), prop.pg_type.as_str())),
            None if c.geometry_columns.iter().any(|g| &g.name == name) => {
                Err(bad(format!("'{name}' is a geometry: use a spatial predicate")))
            }
            None => Err(bad(format!("unknown property '{name}'"))),
        },
        _ => Err(bad("the left side of a comparison must be a property")),
    }
}

/// A property and a value for a comparison: the value is bound as text and cast to the
/// property's type, so PostgreSQL compares like with like (a value that does not convert
/// is a data error, answered as a bad filter).
fn pair(a: &Operand, b: &Operand, c: &Collection, p: &mut Params) -> Result<(String, String)> {
    let (col, typ) = column(a, c)?;
    if let Some(text) = literal_text(b) {
        return Ok((col, cast_text(&p.push(text), typ)));
    }
    match b {
        Operand::Property(_) => {
            let (other, other_typ) = column(b, c)?;
            if other_typ != typ {
                return Err(bad(format!("cannot compare a {typ} with a {other_typ}")));
            }
            Ok((col, other))
        }
        _ => Err(bad("a geometry needs a spatial predicate")),
    }
}

/// A scalar literal as the text bound for it (cast to its column's type in SQL).
fn literal_text(o: &Operand) -> Option<String> {
    match o {
        Operand::Str(s) | Operand::Timestamp(s) => Some(s.clone()),
        Operand::Num(n) => Some(n.clone()),
        Operand::Bool(b) => Some(b.to_string()),
        Operand::Property(_) | Operand::Wkt(_) | Operand::GeoJson(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(s: &str) -> Operand {
        Operand::Property(s.into())
    }

    #[test]
    fn text_and_json_parse_to_the_same_tree() {
        let t = parse("name = 'France' AND (pop_est > 1e6 OR NOT continent LIKE 'Eu%')", None).unwrap();
        let j = parse(
            r#"{"op": "and", "args": [{"op": "=", "args": [{"property": "name"}, "France"]},
               {"op": "or", "args": [{"op": ">", "args": [{"property": "pop_est"}, 1000000]},
               {"op": "not", "args": [{"op": "like", "args": [{"property": "continent"}, "Eu%"]}]}]}]}"#,
            Some("cql2-json"),
        )
        .unwrap();
        assert_eq!(t, j);
    }

    #[test]
    fn predicates() {
        assert_eq!(
            parse("gid BETWEEN 1 AND 3", None).unwrap(),
            Expr::Between(prop("gid"), Operand::Num("1".into()), Operand::Num("3".into()))
        );
        assert_eq!(
            parse("gid IN (1, 2)", None).unwrap(),
            Expr::In(prop("gid"), vec![Operand::Num("1".into()), Operand::Num("2".into())])
        );
        assert_eq!(parse("x IS NOT NULL", None).unwrap(), Expr::Not(Box::new(Expr::IsNull(prop("x")))));
        assert_eq!(
            parse("\"Mixed Name\" <> 'it''s'", None).unwrap(),
            Expr::Compare("<>", prop("Mixed Name"), Operand::Str("it's".into()))
        );
        assert_eq!(
            parse("S_INTERSECTS(geom, POLYGON((0 0, 1 0, 1 1, 0 0)))", None).unwrap(),
            Expr::Spatial("s_intersects", prop("geom"), Operand::Wkt("POLYGON((0 0, 1 0, 1 1, 0 0))".into()))
        );
        assert_eq!(
            parse("t >= TIMESTAMP('2020-01-01T00:00:00Z')", None).unwrap(),
            Expr::Compare(">=", prop("t"), Operand::Timestamp("2020-01-01T00:00:00Z".into()))
        );
    }

    #[test]
    fn malformed_filters_name_the_problem() {
        for f in [
            "name =",
            "name = 'open",
            "(a = 1",
            "a = 1 b = 2",
            "S_INTERSECTS(geom, POINT(1 2)",
            "a ! 1",
            "a BETWEEN 1 OR 2",
            "POINT(1 2; DROP TABLE x)",
        ] {
            let e = parse(f, None).unwrap_err();
            assert!(matches!(&e, Error::InvalidParameter { name, .. } if name == "filter"), "{f}: {e}");
        }
        assert!(parse("{\"op\": \"=\"}", Some("cql2-json")).is_err());
        assert!(parse("{\"op\": \"nope\", \"args\": []}", Some("cql2-json")).is_err());
        assert!(
            matches!(parse("a = 1", Some("sql")), Err(Error::InvalidParameter { name, .. }) if name == "filter-lang")
        );
        let deep = "(".repeat(200) + "a = 1" + &")".repeat(200);
        assert!(parse(&deep, None).is_err());
    }

    #[test]
    fn integers_stay_exact_beyond_two_to_the_53() {
        assert_eq!(number_text("9007199254740993").unwrap(), "9007199254740993");
        assert_eq!(number_text("-9223372036854775808").unwrap(), "-9223372036854775808");
        assert_eq!(number_text("+7").unwrap(), "7");
        assert_eq!(number_text("1e5").unwrap(), "100000");
        assert_eq!(number_text("1.5").unwrap(), "1.5");
        assert!(number_text("1e999").is_err() && number_text("1.2.3").is_err() && number_text("-").is_err());
        let e = parse(r#"{"op": "=", "args": [{"property": "gid"}, 9007199254740993]}"#, Some("cql2-json")).unwrap();
        assert_eq!(e, Expr::Compare("=", prop("gid"), Operand::Num("9007199254740993".into())));
    }
}
