//! CQL2-JSON: `{"op": ..., "args": [...]}` trees.

use serde_json::Value;

use super::{
    ARITHMETIC, ARRAYS, COMPARISONS, Expr, MAX_DEPTH, Operand, SPATIAL, TEMPORAL, bad, number_text, text_function,
};
use crate::error::Result;

/// Check a GeoJSON geometry literal: positions of 2 to 4 numbers, lines of 2 positions or
/// more, rings of 4 or more that close. PostGIS's GeoJSON reader takes short and open
/// rings, and GEOS then fails on the first row compared with one: the caller's mistake would
/// surface as the data's (WKT literals are checked by PostGIS's own reader).
fn geometry(v: &Value, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(bad("nested too deeply"));
    }
    let kind = v.get("type").and_then(Value::as_str).unwrap_or_default();
    if kind == "GeometryCollection" {
        let parts = v
            .get("geometries")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("a GeometryCollection needs \"geometries\""))?;
        return parts.iter().try_for_each(|g| geometry(g, depth + 1));
    }
    let coords = v.get("coordinates").ok_or_else(|| bad(format!("a {kind} needs \"coordinates\"")))?;
    fn list<'a>(v: &'a Value, kind: &str) -> Result<&'a Vec<Value>> {
        v.as_array().ok_or_else(|| bad(format!("{kind} coordinates must be arrays")))
    }
    let position = |p: &Value| match p.as_array() {
        Some(xs) if (2..=4).contains(&xs.len()) && xs.iter().all(|x| x.as_f64().is_some_and(f64::is_finite)) => Ok(()),
        _ => Err(bad(format!("{kind}: a position is 2 to 4 numbers, not {p}"))),
    };
    let line = |l: &Value, min: usize| -> Result<()> {
        let ps = list(l, kind)?;
        ps.iter().try_for_each(position)?;
        if ps.len() < min {
            return Err(bad(format!("{kind}: a line needs at least {min} positions, not {}", ps.len())));
        }
        Ok(())
    };
    let ring = |r: &Value| -> Result<()> {
        line(r, 4)?;
        let ps = list(r, kind)?;
        // Compared as numbers: `[0, 0]` and `[0.0, 0]` are one position.
        let xy = |p: Option<&Value>| {
            p.and_then(Value::as_array).map(|c| c.iter().filter_map(Value::as_f64).collect::<Vec<_>>())
        };
        if xy(ps.first()) != xy(ps.last()) {
            return Err(bad(format!("{kind}: a ring must end where it starts")));
        }
        Ok(())
    };
    let polygon = |p: &Value| list(p, kind)?.iter().try_for_each(ring);
    match kind {
        "Point" => position(coords),
        "MultiPoint" => list(coords, kind)?.iter().try_for_each(position),
        "LineString" => line(coords, 2),
        "MultiLineString" => list(coords, kind)?.iter().try_for_each(|l| line(l, 2)),
        "Polygon" => polygon(coords),
        "MultiPolygon" => list(coords, kind)?.iter().try_for_each(polygon),
        other => Err(bad(format!("'{other}' is not a GeoJSON geometry type"))),
    }
}

pub(super) fn expr(v: &Value, depth: usize) -> Result<Expr> {
    if depth > MAX_DEPTH {
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
    let two = |depth: usize| -> Result<(Operand, Operand)> {
        n(2)?;
        Ok((operand(&args[0], depth + 1)?, operand(&args[1], depth + 1)?))
    };
    Ok(match op.as_str() {
        "and" | "or" => {
            let parts = args.iter().map(|a| expr(a, depth + 1)).collect::<Result<Vec<_>>>()?;
            if parts.len() < 2 {
                return Err(bad(format!("'{op}' needs at least two arguments")));
            }
            if op == "and" { Expr::And(parts) } else { Expr::Or(parts) }
        }
        "not" => {
            n(1)?;
            Expr::Not(Box::new(expr(&args[0], depth + 1)?))
        }
        "like" => {
            let (a, b) = two(depth)?;
            Expr::Like(a, b)
        }
        "between" => {
            n(3)?;
            Expr::Between(operand(&args[0], depth + 1)?, operand(&args[1], depth + 1)?, operand(&args[2], depth + 1)?)
        }
        "in" => {
            n(2)?;
            let list = args[1].as_array().ok_or_else(|| bad("'in' needs a list"))?;
            let list = list.iter().map(|v| operand(v, depth + 1)).collect::<Result<_>>()?;
            Expr::In(operand(&args[0], depth + 1)?, list)
        }
        "isnull" => {
            n(1)?;
            Expr::IsNull(operand(&args[0], depth + 1)?)
        }
        o => {
            let (a, b) = two(depth)?;
            if let Some(c) = COMPARISONS.iter().find(|c| **c == o) {
                Expr::Compare(c, a, b)
            } else if let Some((name, _)) = SPATIAL.iter().find(|(s, _)| *s == o) {
                Expr::Spatial(name, a, b)
            } else if let Some(name) = TEMPORAL.iter().find(|s| **s == o) {
                Expr::Temporal(name, a, b)
            } else if let Some((name, _)) = ARRAYS.iter().find(|(s, _)| *s == o) {
                Expr::Array(name, a, b)
            } else {
                return Err(bad(format!("unknown operator '{o}'")));
            }
        }
    })
}

pub(super) fn operand(v: &Value, depth: usize) -> Result<Operand> {
    if depth > MAX_DEPTH {
        return Err(bad("nested too deeply"));
    }
    Ok(match v {
        Value::String(s) => Operand::Str(s.clone()),
        Value::Number(n) => Operand::Num(number_text(&n.to_string())?),
        Value::Bool(b) => Operand::Bool(*b),
        Value::Array(items) => Operand::Array(items.iter().map(|i| operand(i, depth + 1)).collect::<Result<_>>()?),
        Value::Object(o) => {
            if let Some(p) = o.get("property").and_then(Value::as_str) {
                Operand::Property(p.to_string())
            } else if let Some(t) = o.get("timestamp").or(o.get("date")).and_then(Value::as_str) {
                Operand::Timestamp(t.to_string())
            } else if let Some(ends) = o.get("interval").and_then(Value::as_array) {
                let [a, b] = &ends[..] else { return Err(bad("an interval has two ends")) };
                Operand::Interval(Box::new(operand(a, depth + 1)?), Box::new(operand(b, depth + 1)?))
            } else if let (Some(op), Some(args)) = (o.get("op").and_then(Value::as_str), o.get("args")) {
                let args = args.as_array().ok_or_else(|| bad(format!("'{op}' needs \"args\"")))?;
                let lower = op.to_ascii_lowercase();
                match (text_function(op), ARITHMETIC.iter().find(|a| **a == lower), &args[..]) {
                    (Some(f), _, [x]) => Operand::Func(f, Box::new(operand(x, depth + 1)?)),
                    (_, Some(a), [x, y]) => {
                        Operand::Arith(a, Box::new(operand(x, depth + 1)?), Box::new(operand(y, depth + 1)?))
                    }
                    _ => return Err(bad(format!("not a value: {v}"))),
                }
            } else if o.contains_key("type") && (o.contains_key("coordinates") || o.contains_key("geometries")) {
                geometry(v, depth + 1)?;
                Operand::GeoJson(v.clone())
            } else {
                return Err(bad(format!("not an operand: {v}")));
            }
        }
        other => return Err(bad(format!("not an operand: {other}"))),
    })
}
