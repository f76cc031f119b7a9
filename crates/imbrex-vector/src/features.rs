//! OGC API - Features queries: a page of items, one item, the number matched.

use serde_json::{Map, Value};

use crate::catalog::{Collection, GeometryColumn};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::query::{Selection, equals_text_param, sort_key};
use crate::sql::{Params, ident};

/// What `/items` asks for (tipg's parameters).
#[derive(Clone, Debug, Default)]
pub struct ItemsQuery {
    pub selection: Selection,
    pub limit: usize,
    pub offset: usize,
    /// Only these properties (all when `None`).
    pub properties: Option<Vec<String>>,
    /// `(property, ascending)`.
    pub sortby: Vec<(String, bool)>,
    pub geom_column: Option<String>,
    /// Return each geometry's bounding box instead of the geometry.
    pub bbox_only: bool,
    /// `ST_Simplify` tolerance, in the units of the geometry's CRS.
    pub simplify: Option<f64>,
    /// Geometries as WKT strings instead of GeoJSON objects (CSV output).
    pub wkt: bool,
}

/// A GeoJSON feature.
#[derive(Clone, Debug, PartialEq)]
pub struct Feature {
    pub id: Option<Value>,
    pub geometry: Value,
    pub properties: Map<String, Value>,
}

impl Feature {
    pub fn to_geojson(&self) -> Value {
        let mut f = Map::new();
        f.insert("type".into(), "Feature".into());
        if let Some(id) = &self.id {
            f.insert("id".into(), id.clone());
        }
        f.insert("geometry".into(), self.geometry.clone());
        f.insert("properties".into(), Value::Object(self.properties.clone()));
        Value::Object(f)
    }
}

/// A page of features and how many match in all: counted exactly up to
/// [`EXACT_COUNT_LIMIT`], `None` beyond (OGC API Features lets `numberMatched` out).
#[derive(Clone, Debug)]
pub struct Items {
    pub features: Vec<Feature>,
    pub matched: Option<i64>,
}

/// The most matching rows a page counts: every page of a large table would otherwise
/// cost a full `count(*)`.
pub const EXACT_COUNT_LIMIT: i64 = 10_000;

/// The geometry column a request names (`geom-column`), or the collection's first.
pub fn geometry_column<'a>(c: &'a Collection, name: Option<&str>) -> Result<&'a GeometryColumn> {
    c.geometry(name).ok_or_else(|| match name {
        Some(n) => Error::invalid("geom-column", format!("{} has no geometry column '{n}'", c.id)),
        None => Error::Database(format!("{} has no geometry column", c.id)),
    })
}

/// A `simplify=` tolerance: a finite number >= 0.
pub fn simplify_tolerance(tol: f64) -> Result<f64> {
    if tol.is_finite() && tol >= 0.0 { Ok(tol) } else { Err(Error::invalid("simplify", "a tolerance >= 0")) }
}

/// The properties a request selects, checked against the catalog.
pub fn selected_properties(c: &Collection, wanted: Option<&[String]>) -> Result<Vec<String>> {
    match wanted {
        None => Ok(c.properties.iter().map(|p| p.name.clone()).collect()),
        Some(names) => names
            .iter()
            .map(|n| match c.property(n) {
                Some(p) => Ok(p.name.clone()),
                None => Err(Error::invalid("properties", format!("unknown property '{n}'"))),
            })
            .collect(),
    }
}

fn select_list(c: &Collection, q: &ItemsQuery) -> Result<String> {
    let g = geometry_column(c, q.geom_column.as_deref())?;
    let mut geom = linearized(g, &format!("t.{}::geometry", ident(&g.name)));
    if !g.geography && g.srid != 4326 {
        geom = format!("ST_Transform({geom}, 4326)");
    }
    if let Some(tol) = q.simplify {
        // The tolerance is a plain number; formatting it cannot inject anything.
        geom = format!("ST_Simplify({geom}, {:?})", simplify_tolerance(tol)?);
    }
    if q.bbox_only {
        geom = format!("ST_Envelope({geom})");
    }
    let props = selected_properties(c, q.properties.as_deref())?;
    let props = if props.is_empty() {
        "'{}'::json".to_string()
    } else {
        let cols: Vec<String> = props.iter().map(|p| format!("t.{}", ident(p))).collect();
        format!("(SELECT row_to_json(_p) FROM (SELECT {}) AS _p)", cols.join(", "))
    };
    let id = match &c.id_column {
        Some(col) => format!("to_jsonb(t.{})", ident(col)),
        None => "NULL::jsonb".into(),
    };
    let geom = if q.wkt { format!("to_json(ST_AsText({geom}, 9))") } else { format!("ST_AsGeoJSON({geom}, 9)::json") };
    Ok(format!("{id} AS __id, {geom} AS __geom, {props} AS __props"))
}

fn feature(row: &tokio_postgres::Row) -> Feature {
    let props = match row.get::<_, Option<Value>>(2) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    Feature { id: row.get(0), geometry: row.get::<_, Option<Value>>(1).unwrap_or(Value::Null), properties: props }
}

/// One page of `/items`.
pub async fn items(db: &Database, c: &Collection, q: &ItemsQuery) -> Result<Items> {
    let g = geometry_column(c, q.geom_column.as_deref())?;
    let mut p = Params::default();
    let select = select_list(c, q)?;
    let cond = q.selection.conditions(c, g, &mut p)?;
    let mut order: Vec<String> = Vec::new();
    for (name, asc) in &q.sortby {
        order.push(sort_key(c, name, *asc)?);
    }
    if let Some(id) = &c.id_column {
        order.push(format!("t.{} ASC", ident(id)));
    }
    let order = if order.is_empty() { String::new() } else { format!("ORDER BY {}", order.join(", ")) };
    let table = c.from_sql(&q.selection.args, &mut p)?;
    let count_sql =
        format!("SELECT count(*) FROM (SELECT 1 FROM {table} t WHERE {cond} LIMIT {}) q", EXACT_COUNT_LIMIT + 1);
    let limit = p.push(q.limit as i64);
    let offset = p.push(q.offset as i64);
    let sql = format!("SELECT {select} FROM {table} t WHERE {cond} {order} LIMIT {limit} OFFSET {offset}");
    let client = db.client().await?;
    let params = p.refs();
    let param = q.selection.value_param();
    let stmt = client.prepare(&sql).await?;
    let rows = match client.query(&stmt, &params).await {
        Ok(rows) => rows,
        Err(e) => return Err(client.blame(e, &sql, &params, param).await),
    };
    let count_stmt = client.prepare(&count_sql).await?;
    let count_params = &params[..params.len() - 2];
    let counted: i64 = match client.query_one(&count_stmt, count_params).await {
        Ok(row) => row.get(0),
        Err(e) => return Err(client.blame(e, &count_sql, count_params, param).await),
    };
    let matched = (counted <= EXACT_COUNT_LIMIT).then_some(counted);
    Ok(Items { features: rows.iter().map(feature).collect(), matched })
}

/// `/items/{itemId}`.
pub async fn item(db: &Database, c: &Collection, id: &str, q: &ItemsQuery) -> Result<Feature> {
    let col = c
        .id_column
        .as_deref()
        .ok_or_else(|| Error::NotFound { what: format!("item '{id}' ({} has no id column)", c.id) })?;
    let mut p = Params::default();
    let table = c.from_sql(&q.selection.args, &mut p)?;
    let cond = equals_text_param(col, c.column_type(col), &p.push(id.to_string()));
    let sql = format!("SELECT {} FROM {table} t WHERE {cond}", select_list(c, q)?);
    let client = db.client().await?;
    let stmt = client.prepare(&sql).await?;
    let not_found = || Error::NotFound { what: format!("item '{id}' in {}", c.id) };
    let params = p.refs();
    match client.query_opt(&stmt, &params).await {
        Ok(Some(row)) => Ok(feature(&row)),
        Ok(None) => Err(not_found()),
        // An id that is no value of the id column's type names no item.
        Err(e) => match client.blame(e, &sql, &params, Some("itemId")).await {
            Error::InvalidParameter { .. } => Err(not_found()),
            e => Err(e),
        },
    }
}

/// Curved geometries (CIRCULARSTRING, CURVEPOLYGON, MULTISURFACE...) as lines and polygons,
/// which GeoJSON and MVT can hold (`ST_CurveToLine`), for columns whose type allows curves.
pub fn linearized(g: &GeometryColumn, expr: &str) -> String {
    let ty = g.geometry_type.to_ascii_lowercase();
    let ty = ty.trim_end_matches("zm").trim_end_matches(['z', 'm']);
    let linear = g.geography
        || matches!(
            ty,
            "point"
                | "multipoint"
                | "linestring"
                | "multilinestring"
                | "polygon"
                | "multipolygon"
                | "triangle"
                | "tin"
                | "polyhedralsurface"
        );
    if linear { expr.to_string() } else { format!("ST_CurveToLine({expr})") }
}
