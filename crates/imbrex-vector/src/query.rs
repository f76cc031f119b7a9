//! The parts of a request that select rows, shared by items and tiles: ids, property
//! equality, `datetime`, `bbox`. Every name is checked against the catalog (an unknown one
//! is an error naming the parameter); every value is a bound parameter.

use std::collections::BTreeMap;

use crate::catalog::{Collection, GeometryColumn};
use crate::error::{Error, Result};
use crate::sql::{Params, ident};

/// Row selection.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// `ids=`: values of the id column.
    pub ids: Vec<String>,
    /// `property=value` pairs (equality on the text form, as tipg's property filters).
    pub equal: Vec<(String, String)>,
    /// `datetime=`: an instant or an interval with open ends (`..`).
    pub datetime: Option<(Option<String>, Option<String>)>,
    /// `datetime-column=`: the date/time column `datetime=` filters on (default: the first).
    pub datetime_column: Option<String>,
    /// `bbox=` in longitude/latitude; west > east crosses the antimeridian.
    pub bbox: Option<[f64; 4]>,
    /// `filter=` (CQL2).
    pub filter: Option<crate::cql2::Expr>,
    /// Arguments of a function collection, by parameter name.
    pub args: BTreeMap<String, String>,
}

/// Parse `datetime=` (RFC 3339 instants, `a/b`, open ends `..` or empty).
pub fn parse_datetime(s: &str) -> Result<(Option<String>, Option<String>)> {
    let one = |v: &str| -> Result<Option<String>> {
        let v = v.trim();
        if v.is_empty() || v == ".." {
            return Ok(None);
        }
        let b = v.as_bytes();
        let shaped = b.len() >= 10
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[4] == b'-'
            && b[7] == b'-'
            && v.chars().all(|c| c.is_ascii_digit() || "-:.TZtz+ ".contains(c));
        if shaped {
            Ok(Some(v.to_string()))
        } else {
            Err(Error::invalid("datetime", format!("'{v}' is not an RFC 3339 date-time")))
        }
    };
    match s.split_once('/') {
        Some((a, b)) => {
            let r = (one(a)?, one(b)?);
            if r.0.is_none() && r.1.is_none() {
                return Err(Error::invalid("datetime", "an interval needs at least one end"));
            }
            Ok(r)
        }
        None => {
            let v = one(s)?.ok_or_else(|| Error::invalid("datetime", "empty"))?;
            Ok((Some(v.clone()), Some(v)))
        }
    }
}

/// Parse `bbox=minx,miny,maxx,maxy` (4 numbers; a 6-number 3D box keeps its 2D part).
pub fn parse_bbox(s: &str) -> Result<[f64; 4]> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| Error::invalid("bbox", format!("'{s}' is not a list of numbers")))?;
    let b = match v[..] {
        [a, b, c, d] => [a, b, c, d],
        [a, b, _, d, e, _] => [a, b, d, e],
        _ => return Err(Error::invalid("bbox", "4 (or 6) numbers: minx,miny,maxx,maxy")),
    };
    if b.iter().any(|x| !x.is_finite()) || b[1] > b[3] || b[1] < -90.0 || b[3] > 90.0 {
        return Err(Error::invalid("bbox", format!("'{s}' is not a longitude/latitude box")));
    }
    Ok(b)
}

impl Selection {
    /// The parameter a value the database refuses came from: the request's values go into
    /// the query only through these (bbox is numbers checked here).
    pub fn value_param(&self) -> Option<&str> {
        if self.filter.is_some() {
            Some("filter")
        } else if !self.ids.is_empty() {
            Some("ids")
        } else if let Some((name, _)) = self.equal.first() {
            Some(name)
        } else if self.datetime.is_some() {
            Some("datetime")
        } else {
            self.args.keys().next().map(String::as_str)
        }
    }

    /// SQL conditions (joined with AND; `TRUE` when empty) over the row alias `t`.
    pub fn conditions(&self, c: &Collection, g: &GeometryColumn, p: &mut Params) -> Result<String> {
        let mut out: Vec<String> = Vec::new();
        if !self.ids.is_empty() {
            let col =
                c.id_column.as_deref().ok_or_else(|| Error::invalid("ids", format!("{} has no id column", c.id)))?;
            out.push(in_text_params(col, c.column_type(col), &p.push(self.ids.clone())));
        }
        for (name, value) in &self.equal {
            let prop =
                c.property(name).ok_or_else(|| Error::invalid("properties", format!("unknown property '{name}'")))?;
            out.push(equals_text_param(&prop.name, &prop.pg_type, &p.push(value.clone())));
        }
        if let Some((start, end)) = &self.datetime {
            let col = match &self.datetime_column {
                Some(name) => c.property(name).filter(|p| p.is_datetime()).ok_or_else(|| {
                    Error::invalid("datetime-column", format!("'{name}' is no date/time column of {}", c.id))
                })?,
                None => c
                    .datetime_column()
                    .ok_or_else(|| Error::invalid("datetime", format!("{} has no date/time column", c.id)))?,
            };
            let col = ident(&col.name);
            if let Some(s) = start {
                out.push(format!("t.{col} >= {}::text::timestamptz", p.push(s.clone())));
            }
            if let Some(e) = end {
                out.push(format!("t.{col} <= {}::text::timestamptz", p.push(e.clone())));
            }
        }
        if let Some(b) = self.bbox {
            let mut boxes =
                if b[0] > b[2] { vec![[b[0], b[1], 180.0, b[3]], [-180.0, b[1], b[2], b[3]]] } else { vec![b] };
            if g.geography {
                // On the sphere a box as wide as a hemisphere is no longer the box (a world box
                // has no inside): pieces at most 90 degrees wide.
                boxes = boxes.into_iter().flat_map(split_lon_90).collect();
            }
            let parts: Vec<String> = boxes
                .into_iter()
                .map(|b| {
                    let env = format!(
                        "ST_MakeEnvelope({}, {}, {}, {}, 4326)",
                        p.push(b[0]),
                        p.push(b[1]),
                        p.push(b[2]),
                        p.push(b[3])
                    );
                    intersects(g, &env)
                })
                .collect();
            out.push(format!("({})", parts.join(" OR ")));
        }
        if let Some(f) = &self.filter {
            out.push(crate::cql2::to_sql(f, c, p)?);
        }
        Ok(if out.is_empty() { "TRUE".into() } else { out.join(" AND ") })
    }
}

/// `t.col ASC|DESC` for `sortby=`: a property whose type PostgreSQL can order (json, xml
/// and the geometric types cannot be).
pub fn sort_key(c: &Collection, name: &str, ascending: bool) -> Result<String> {
    let prop = c.property(name).ok_or_else(|| Error::invalid("sortby", format!("unknown property '{name}'")))?;
    if matches!(
        prop.pg_type.as_str(),
        "json" | "xml" | "point" | "line" | "lseg" | "box" | "path" | "polygon" | "circle"
    ) {
        return Err(Error::invalid("sortby", format!("'{name}' ({}) has no order", prop.pg_type)));
    }
    Ok(format!("t.{} {}", ident(&prop.name), if ascending { "ASC" } else { "DESC" }))
}

/// The built-in scalar types a text parameter is cast to before it meets a column of that
/// type (others compare as text: their names may need a schema).
pub(crate) fn castable(pg_type: &str) -> bool {
    matches!(
        pg_type,
        "int2"
            | "int4"
            | "int8"
            | "float4"
            | "float8"
            | "numeric"
            | "bool"
            | "text"
            | "varchar"
            | "bpchar"
            | "name"
            | "uuid"
            | "date"
            | "timestamp"
            | "timestamptz"
    )
}

/// A text parameter cast to a column type (its catalog name, quoted), so that PostgreSQL
/// compares like with like and a column's index serves; a value that does not convert is a
/// data exception, the caller's to fix.
pub(crate) fn cast_text(param: &str, pg_type: &str) -> String {
    format!("CAST({param}::text AS {})", ident(pg_type))
}

/// `t.col` equal to a text parameter, in the column's own type when it is a built-in one
/// (`col::text = $1` scans the table).
pub fn equals_text_param(col: &str, pg_type: &str, param: &str) -> String {
    if castable(pg_type) {
        format!("t.{} = {}", ident(col), cast_text(param, pg_type))
    } else {
        format!("t.{}::text = {param}", ident(col))
    }
}

/// `t.col` equal to one of a text-array parameter's values, typed as [`equals_text_param`].
pub fn in_text_params(col: &str, pg_type: &str, param: &str) -> String {
    if castable(pg_type) {
        format!("t.{} = ANY(CAST({param}::text[] AS {}[]))", ident(col), ident(pg_type))
    } else {
        format!("t.{}::text = ANY({param})", ident(col))
    }
}

/// A longitude/latitude box cut into pieces at most 90 degrees of longitude wide.
fn split_lon_90(b: [f64; 4]) -> Vec<[f64; 4]> {
    let n = ((b[2] - b[0]) / 90.0).ceil().max(1.0) as usize;
    let step = (b[2] - b[0]) / n as f64;
    (0..n)
        .map(|i| {
            let w = b[0] + step * i as f64;
            let e = if i + 1 == n { b[2] } else { w + step };
            [w, b[1], e, b[3]]
        })
        .collect()
}

/// `ST_Intersects` of column `g` of row `t` with a longitude/latitude shape expression.
pub fn intersects(g: &GeometryColumn, lonlat: &str) -> String {
    intersects_with("ST_Intersects", g, lonlat)
}

/// A spatial predicate (`ST_Intersects`, `ST_Within`, ...) of column `g` of row `t` with a
/// longitude/latitude shape, in the column's CRS so its index serves.
pub fn intersects_with(func: &str, g: &GeometryColumn, lonlat: &str) -> String {
    let col = format!("t.{}", ident(&g.name));
    if g.geography && func == "ST_Intersects" {
        format!("{func}({col}, {})", as_geography(lonlat))
    } else if g.geography || g.srid == 4326 {
        // PostGIS has only ST_Intersects for geography; the others run on its geometry.
        format!("{func}({col}::geometry, {lonlat})")
    } else {
        // Clipping the shape to where the rows are keeps these predicates' answers (the
        // rows lie inside the clip box); the others (contains, equals, touches...) need the
        // whole shape.
        let clip = matches!(func, "ST_Intersects" | "ST_Within" | "ST_Disjoint" | "ST_DWithin");
        let shape = if clip { clip_to_domain(lonlat, g) } else { clip_to_mercator(lonlat, g.srid) };
        format!("{func}({col}, ST_Transform({shape}, {}))", g.srid)
    }
}

/// A longitude/latitude shape as geography, its edges first cut to at most 10 degrees: a
/// geography edge is a great circle, and one 180 degrees long (a world box) is an error.
pub fn as_geography(lonlat: &str) -> String {
    format!("(ST_Segmentize({lonlat}, 10.0))::geography")
}

/// A longitude/latitude shape clipped to where column `g`'s rows can be before it is
/// transformed into the column's projected CRS: the column's extent grown by a quarter of
/// its size (at least a degree) when the extent surely holds every row, by twice its size
/// (at least ten degrees) when it is an estimate (statistics trim outliers, a sample may
/// miss some), and Web Mercator's latitude limit. Without it a whole-world shape (a zoom-0
/// tile, a world bbox) leaves a local projection's domain: PostGIS fails ("Point outside of
/// projection domain") or folds it into an invalid ring.
pub fn clip_to_domain(lonlat: &str, g: &GeometryColumn) -> String {
    let Some([w, s, e, n]) = g.bounds else { return clip_to_mercator(lonlat, g.srid) };
    let (grow, least) = if g.bounds_complete { (0.25, 1.0) } else { (2.0, 10.0) };
    let (dx, dy) = (((e - w) * grow).max(least), ((n - s) * grow).max(least));
    let (w, e) = ((w - dx).max(-180.0), (e + dx).min(180.0));
    let (mut s, mut n) = ((s - dy).max(-90.0), (n + dy).min(90.0));
    if is_web_mercator(g.srid) {
        (s, n) = (s.max(-85.06), n.min(85.06));
    }
    // The clip's new edges are straight in degrees: densified, so that their image in the
    // projection (curved, LAEA's parallels say) is followed, not cut across.
    format!("ST_Segmentize(ST_ClipByBox2D({lonlat}, ST_MakeEnvelope({w:?}, {s:?}, {e:?}, {n:?}, 4326)), 1.0)")
}

/// Web Mercator cannot hold the poles: clip a geographic shape before projecting to it.
pub fn clip_to_mercator(lonlat: &str, srid: i32) -> String {
    if is_web_mercator(srid) {
        format!("ST_ClipByBox2D({lonlat}, ST_MakeEnvelope(-180, -85.06, 180, 85.06, 4326))")
    } else {
        lonlat.to_string()
    }
}

fn is_web_mercator(srid: i32) -> bool {
    srid == 3857 || srid == 900913
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime("2020-01-01T00:00:00Z").unwrap().0.as_deref(), Some("2020-01-01T00:00:00Z"));
        assert_eq!(parse_datetime("../2020-01-01").unwrap(), (None, Some("2020-01-01".into())));
        assert!(parse_datetime("yesterday").is_err());
        assert!(parse_datetime("2020-01-01'; DROP TABLE x").is_err());
        assert!(parse_datetime("../..").is_err());
    }

    #[test]
    fn bboxes() {
        assert_eq!(parse_bbox("-10,-5,10,5").unwrap(), [-10.0, -5.0, 10.0, 5.0]);
        assert_eq!(parse_bbox("-10,-5,0,10,5,100").unwrap(), [-10.0, -5.0, 10.0, 5.0]);
        assert!(parse_bbox("1,2,3").is_err());
        assert!(parse_bbox("0,10,1,5").is_err());
        assert!(parse_bbox("a,b,c,d").is_err());
    }

    #[test]
    fn geography_boxes_split_into_quarters_of_the_sphere() {
        assert_eq!(split_lon_90([-180.0, -90.0, 180.0, 90.0]).len(), 4);
        assert_eq!(split_lon_90([10.0, 0.0, 20.0, 5.0]), vec![[10.0, 0.0, 20.0, 5.0]]);
        let parts = split_lon_90([-100.0, 0.0, 90.0, 5.0]);
        assert_eq!(parts.len(), 3);
        assert_eq!((parts[0][0], parts[2][2]), (-100.0, 90.0));
        assert!(parts.windows(2).all(|w| w[0][2] == w[1][0] && w[0][2] - w[0][0] <= 90.0));
    }
}
