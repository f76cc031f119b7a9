//! OGC CQL2 filters (text and JSON encodings) parsed into one tree and translated to SQL.
//!
//! Supported: comparisons (`= <> < <= > >=`, a literal on either side), `AND`/`OR`/`NOT`,
//! `LIKE`, `BETWEEN`, `IN`, `IS NULL`, arithmetic (`+ - * / % div`), `CASEI`/`ACCENTI`
//! (case- and accent-insensitive text; ACCENTI needs PostgreSQL's `unaccent` extension),
//! `TIMESTAMP(...)`/`DATE(...)`/`INTERVAL(...)` literals, the temporal predicates `T_*`
//! (Allen's relations between instants and intervals), the array predicates `A_EQUALS`,
//! `A_CONTAINS`, `A_CONTAINEDBY`, `A_OVERLAPS`, and the spatial predicates `S_INTERSECTS`,
//! `S_DISJOINT`, `S_WITHIN`, `S_CONTAINS`, `S_EQUALS`, `S_TOUCHES`, `S_OVERLAPS`,
//! `S_CROSSES` on WKT (text) or GeoJSON (JSON) literals in longitude/latitude. Properties
//! are checked against the catalog; literals are bound parameters cast to the type of what
//! they meet, so a filter can neither inject SQL nor compare mismatched types.
//!
//! developmentseed's `cql2` crate was weighed for the parsing: it parses and validates well,
//! but brings some 37 MB of dependencies (JSON Schema validation, geo, geozero) to replace
//! this module's two small parsers, and its SQL output inlines literals rather than binding
//! them as parameters typed by the catalog, which is what this module exists for.

mod json;
mod text;

use serde_json::Value;

use crate::catalog::Collection;
use crate::error::{Error, Result};
use crate::query::{cast_text, castable, in_text_params, intersects_with};
use crate::sql::{Params, ident};

/// The longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 64 * 1024;

/// Deepest nesting of expressions accepted (a bound on recursion).
const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Property(String),
    Str(String),
    /// A number as the text bound for it: integers exactly as written (beyond 2^53 too),
    /// other numbers as their nearest double.
    Num(String),
    Bool(bool),
    Timestamp(String),
    /// `INTERVAL(start, end)`: instants, date/time properties, or `'..'` for an open end.
    Interval(Box<Operand>, Box<Operand>),
    /// An array literal: `('a', 'b')` in text, a JSON array in JSON.
    Array(Vec<Operand>),
    /// `CASEI(x)` or `ACCENTI(x)`: the SQL function applied (`lower`, `unaccent`).
    Func(&'static str, Box<Operand>),
    /// Arithmetic: `+`, `-`, `*`, `/`, `%` or `div`.
    Arith(&'static str, Box<Operand>, Box<Operand>),
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
    Temporal(&'static str, Operand, Operand),
    Array(&'static str, Operand, Operand),
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
const TEMPORAL: &[&str] = &[
    "t_after",
    "t_before",
    "t_contains",
    "t_disjoint",
    "t_during",
    "t_equals",
    "t_finishedby",
    "t_finishes",
    "t_intersects",
    "t_meets",
    "t_metby",
    "t_overlappedby",
    "t_overlaps",
    "t_startedby",
    "t_starts",
];
const ARRAYS: &[(&str, &str)] =
    &[("a_equals", "="), ("a_contains", "@>"), ("a_containedby", "<@"), ("a_overlaps", "&&")];
const ARITHMETIC: &[&str] = &["+", "-", "*", "/", "%", "div"];

/// The predicate with its arguments swapped (the others are symmetric).
fn converse(f: &'static str) -> &'static str {
    match f {
        "ST_Within" => "ST_Contains",
        "ST_Contains" => "ST_Within",
        "@>" => "<@",
        "<@" => "@>",
        "<" => ">",
        ">" => "<",
        "<=" => ">=",
        ">=" => "<=",
        other => other,
    }
}

/// `CASEI`/`ACCENTI` and the SQL function each applies.
fn text_function(name: &str) -> Option<&'static str> {
    if name.eq_ignore_ascii_case("casei") {
        Some("lower")
    } else if name.eq_ignore_ascii_case("accenti") {
        Some("unaccent")
    } else {
        None
    }
}

/// Parse a filter in `lang` (`cql2-text`, the default, or `cql2-json`).
pub fn parse(filter: &str, lang: Option<&str>) -> Result<Expr> {
    if filter.len() > MAX_FILTER_LEN {
        return Err(bad(format!("longer than {MAX_FILTER_LEN} bytes")));
    }
    match lang.unwrap_or("cql2-text") {
        "cql2-text" => text::parse(filter),
        "cql2-json" => {
            let v: Value = serde_json::from_str(filter).map_err(|e| bad(format!("not JSON: {e}")))?;
            json::expr(&v, 0)
        }
        other => Err(Error::invalid("filter-lang", format!("'{other}' is not cql2-text or cql2-json"))),
    }
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
        Expr::IsNull(a) => format!("({} IS NULL)", scalar(a, c, p, None, 0)?.0),
        Expr::Compare(op, a, b) => {
            // A literal on the left: the comparison turned around.
            let (op, a, b) = if is_literal(a) && !is_literal(b) { (converse(op), b, a) } else { (*op, a, b) };
            let (l, r) = pair(a, b, c, p)?;
            format!("({l} {op} {r})")
        }
        Expr::Like(a, b) => {
            let l = scalar(a, c, p, Some("text"), 0)?.0;
            if !matches!(b, Operand::Str(_) | Operand::Func(..)) {
                return Err(bad("LIKE needs a quoted pattern"));
            }
            let r = scalar(b, c, p, Some("text"), 0)?.0;
            format!("(({l})::text LIKE ({r})::text)")
        }
        Expr::Between(a, lo, hi) => {
            let (l, typ) = scalar(a, c, p, None, 0)?;
            let lo = against(a, &typ, lo, c, p)?;
            let hi = against(a, &typ, hi, c, p)?;
            format!("({l} BETWEEN {lo} AND {hi})")
        }
        Expr::In(a, list) => {
            let (l, typ) = scalar(a, c, p, None, 0)?;
            match (a, list.iter().map(literal_text).collect::<Option<Vec<String>>>()) {
                // Values only: one array parameter, so lists of any length share a statement.
                (Operand::Property(name), Some(values)) => {
                    format!("({})", in_text_params(name, c.column_type(name), &p.push(values)))
                }
                _ => {
                    let items = list.iter().map(|v| against(a, &typ, v, c, p)).collect::<Result<Vec<_>>>()?;
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
        Expr::Temporal(name, a, b) => temporal(name, &time_span(a, c, p)?, &time_span(b, c, p)?),
        Expr::Array(name, a, b) => {
            let op = ARRAYS.iter().find(|(s, _)| s == name).map_or("=", |(_, o)| o);
            let (op, a, b) = if matches!(a, Operand::Array(_)) { (converse(op), b, a) } else { (op, a, b) };
            let (l, elem) = array(a, c, p, None)?;
            let (r, _) = array(b, c, p, elem.as_deref())?;
            format!("({l} {op} {r})")
        }
    })
}

fn is_literal(o: &Operand) -> bool {
    matches!(o, Operand::Str(_) | Operand::Num(_) | Operand::Bool(_) | Operand::Timestamp(_))
}

/// A scalar literal as the text bound for it (cast to the type of what it meets in SQL).
fn literal_text(o: &Operand) -> Option<String> {
    match o {
        Operand::Str(s) | Operand::Timestamp(s) => Some(s.clone()),
        Operand::Num(n) => Some(n.clone()),
        Operand::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Two sides of a comparison: the left as SQL, the right cast to the left's type.
fn pair(a: &Operand, b: &Operand, c: &Collection, p: &mut Params) -> Result<(String, String)> {
    let (l, typ) = scalar(a, c, p, None, 0)?;
    Ok((l, against(a, &typ, b, c, p)?))
}

/// What `a` (of type `typ`) is compared with, as SQL: a literal cast to `typ`; a property
/// of the same type when `a` is a property too.
fn against(a: &Operand, typ: &str, b: &Operand, c: &Collection, p: &mut Params) -> Result<String> {
    let (r, other) = scalar(b, c, p, Some(typ), 0)?;
    if matches!((a, b), (Operand::Property(_), Operand::Property(_))) && other != typ {
        return Err(bad(format!("cannot compare a {typ} with a {other}")));
    }
    Ok(r)
}

/// A scalar operand as SQL, with its PostgreSQL type name. A literal takes the type it
/// meets (`want`), else its own (text, numeric, bool, timestamptz).
fn scalar(o: &Operand, c: &Collection, p: &mut Params, want: Option<&str>, depth: usize) -> Result<(String, String)> {
    if depth > MAX_DEPTH {
        return Err(bad("nested too deeply"));
    }
    Ok(match o {
        Operand::Property(name) => match c.property(name) {
            Some(prop) if castable(&prop.pg_type) => (format!("t.{}", ident(&prop.name)), prop.pg_type.clone()),
            // Enums, domains and other types whose names may need a schema: compared as
            // text (an enum then orders by its labels' spelling, not its declared order).
            Some(prop) => (format!("t.{}::text", ident(&prop.name)), "text".into()),
            None if c.geometry_columns.iter().any(|g| &g.name == name) => {
                return Err(bad(format!("'{name}' is a geometry: use a spatial predicate")));
            }
            None => return Err(bad(format!("unknown property '{name}'"))),
        },
        Operand::Str(_) | Operand::Num(_) | Operand::Bool(_) | Operand::Timestamp(_) => {
            let own = match o {
                Operand::Str(_) => "text",
                Operand::Num(_) => "numeric",
                Operand::Bool(_) => "bool",
                _ => "timestamptz",
            };
            let typ = want.unwrap_or(own).to_string();
            let text = literal_text(o).expect("a literal");
            (cast_text(&p.push(text), &typ), typ)
        }
        Operand::Func(f, x) => {
            let (inner, _) = scalar(x, c, p, Some("text"), depth + 1)?;
            (format!("{f}(({inner})::text)"), "text".into())
        }
        Operand::Arith(op, a, b) => {
            // In numeric: exact for integers of any size, and `/` divides as CQL2 means.
            let (l, lt) = scalar(a, c, p, Some("numeric"), depth + 1)?;
            let (r, rt) = scalar(b, c, p, Some("numeric"), depth + 1)?;
            for t in [&lt, &rt] {
                if !matches!(t.as_str(), "int2" | "int4" | "int8" | "float4" | "float8" | "numeric") {
                    return Err(bad(format!("arithmetic needs numbers, not {t}")));
                }
            }
            let sql = match *op {
                "div" => format!("div(({l})::numeric, ({r})::numeric)"),
                "%" => format!("mod(({l})::numeric, ({r})::numeric)"),
                op => format!("(({l})::numeric {op} ({r})::numeric)"),
            };
            (sql, "numeric".into())
        }
        Operand::Interval(..) => return Err(bad("an interval belongs in a temporal predicate (T_...)")),
        Operand::Array(_) => return Err(bad("an array belongs in an array predicate (A_...) or IN")),
        Operand::Wkt(_) | Operand::GeoJson(_) => return Err(bad("a geometry needs a spatial predicate")),
    })
}

/// The first and last instant of a temporal operand, as timestamptz SQL: a date/time
/// property or an instant is both; an interval's `'..'` ends are infinite.
fn time_span(o: &Operand, c: &Collection, p: &mut Params) -> Result<(String, String)> {
    let end = |o: &Operand, open: &str, p: &mut Params| -> Result<String> {
        match o {
            Operand::Str(s) if s == ".." || s.is_empty() => Ok(format!("'{open}'::timestamptz")),
            Operand::Str(s) | Operand::Timestamp(s) => Ok(cast_text(&p.push(s.clone()), "timestamptz")),
            Operand::Property(name) => match c.property(name) {
                Some(prop) if prop.is_datetime() => Ok(format!("t.{}::timestamptz", ident(&prop.name))),
                _ => Err(bad(format!("'{name}' is no date/time property"))),
            },
            _ => Err(bad("a temporal predicate compares instants and intervals")),
        }
    };
    match o {
        Operand::Interval(a, b) => Ok((end(a, "-infinity", p)?, end(b, "infinity", p)?)),
        Operand::Str(s) if s == ".." => Err(bad("'..' is an open end of an INTERVAL")),
        instant => {
            let x = end(instant, "", p)?;
            Ok((x.clone(), x))
        }
    }
}

/// Allen's relation `name` between spans `[a1, a2]` and `[b1, b2]`, as CQL2 defines the
/// temporal predicates (an instant is a span of one instant).
fn temporal(name: &str, (a1, a2): &(String, String), (b1, b2): &(String, String)) -> String {
    let cond = match name {
        "t_after" => format!("{a1} > {b2}"),
        "t_before" => format!("{a2} < {b1}"),
        "t_contains" => format!("{a1} < {b1} AND {a2} > {b2}"),
        "t_disjoint" => format!("({a2} < {b1} OR {a1} > {b2})"),
        "t_during" => format!("{a1} > {b1} AND {a2} < {b2}"),
        "t_equals" => format!("{a1} = {b1} AND {a2} = {b2}"),
        "t_finishedby" => format!("{a1} < {b1} AND {a2} = {b2}"),
        "t_finishes" => format!("{a1} > {b1} AND {a2} = {b2}"),
        "t_meets" => format!("{a2} = {b1}"),
        "t_metby" => format!("{a1} = {b2}"),
        "t_overlappedby" => format!("{a1} > {b1} AND {a1} < {b2} AND {a2} > {b2}"),
        "t_overlaps" => format!("{a1} < {b1} AND {a2} > {b1} AND {a2} < {b2}"),
        "t_startedby" => format!("{a1} = {b1} AND {a2} > {b2}"),
        "t_starts" => format!("{a1} = {b1} AND {a2} < {b2}"),
        // t_intersects
        _ => format!("{a1} <= {b2} AND {a2} >= {b1}"),
    };
    format!("({cond})")
}

/// An array operand as SQL and its element type: an array property, or a literal list
/// bound as one text array cast to the element type it meets.
fn array(o: &Operand, c: &Collection, p: &mut Params, elem: Option<&str>) -> Result<(String, Option<String>)> {
    match o {
        Operand::Property(name) => match c.property(name) {
            Some(prop) if prop.pg_type.starts_with('_') => {
                Ok((format!("t.{}", ident(&prop.name)), Some(prop.pg_type[1..].to_string())))
            }
            _ => Err(bad(format!("'{name}' is no array property"))),
        },
        Operand::Array(items) => {
            let values = items
                .iter()
                .map(literal_text)
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| bad("an array literal holds plain values"))?;
            let param = p.push(values);
            Ok(match elem {
                Some(e) => (format!("CAST({param}::text[] AS {}[])", ident(e)), Some(e.to_string())),
                None => (format!("{param}::text[]"), Some("text".into())),
            })
        }
        _ => Err(bad("an array predicate compares arrays")),
    }
}

#[cfg(test)]
mod tests;
