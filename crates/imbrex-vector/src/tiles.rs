//! Mapbox Vector Tiles from a table with `ST_AsMVT`/`ST_AsMVTGeom`, in any TileMatrixSet
//! whose CRS PostGIS knows.

use imbrex_tms::{Tile, TileMatrixSet};

use crate::catalog::{Catalog, Collection, GeometryColumn, TileFunction};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::features::{geometry_column, linearized, selected_properties, simplify_tolerance};
use crate::query::{Selection, as_geography, clip_to_domain, sort_key};
use crate::sql::{Params, ident};

/// The layer name in every tile, as tipg names it.
pub const LAYER: &str = "default";

/// What a tile request asks for.
#[derive(Clone, Debug)]
pub struct TileQuery {
    pub selection: Selection,
    pub properties: Option<Vec<String>>,
    pub geom_column: Option<String>,
    /// Most features in one tile.
    pub limit: usize,
    /// Tile extent in MVT units.
    pub extent: u32,
    /// Buffer around the tile in MVT units.
    pub buffer: u32,
    /// Clip geometries to the buffered tile.
    pub clip: bool,
    /// `(property, ascending)`: which features the cap keeps first (default: the largest
    /// polygons or longest lines, else the lowest ids).
    pub sortby: Vec<(String, bool)>,
    /// Simplification tolerance in the units of the tile's CRS (tipg's `simplify`), instead
    /// of the collection's tile-grid setting.
    pub simplify: Option<f64>,
    /// The layer's name in the tile.
    pub layer: String,
}

impl Default for TileQuery {
    fn default() -> Self {
        TileQuery {
            selection: Selection::default(),
            properties: None,
            geom_column: None,
            limit: 10_000,
            extent: 4096,
            buffer: 256,
            clip: true,
            sortby: Vec::new(),
            simplify: None,
            layer: LAYER.to_string(),
        }
    }
}

/// The SRID of a TileMatrixSet's CRS, when PostGIS has it.
pub fn tms_srid(catalog: &Catalog, tms: &TileMatrixSet) -> Result<i32> {
    // OGC's CRS84 is EPSG:4326 in longitude/latitude order, which is PostGIS's order anyway.
    let crs84 = tms.crs().to_uri().is_some_and(|u| u.ends_with("CRS84"));
    let srid = tms.crs().epsg().map(|c| c as i32).or(crs84.then_some(4326));
    match srid {
        Some(s) if catalog.srids.contains(&s) => Ok(s),
        _ => Err(Error::invalid("tileMatrixSetId", format!("{}'s CRS is not in PostGIS's spatial_ref_sys", tms.id()))),
    }
}

/// Encode one tile (possibly empty: a tile with no features is zero bytes, as PostGIS makes it).
pub async fn tile(db: &Database, c: &Collection, tms: &TileMatrixSet, tile: Tile, q: &TileQuery) -> Result<Vec<u8>> {
    if q.extent == 0 || q.extent > 65_536 {
        return Err(Error::invalid("extent", "between 1 and 65536"));
    }
    if q.buffer > q.extent {
        return Err(Error::invalid("buffer", "at most the extent"));
    }
    let catalog = db.catalog().await?;
    let srid = tms_srid(&catalog, tms)?;
    let b = tms.xy_bounds(tile)?;
    let g = geometry_column(c, q.geom_column.as_deref())?;
    let mut p = Params::default();
    let env = format!(
        "ST_MakeEnvelope({}, {}, {}, {}, {srid})",
        p.push(b.left),
        p.push(b.bottom),
        p.push(b.right),
        p.push(b.top)
    );
    // Rows are looked for in the tile plus its buffer (within the grid), so that what
    // ST_AsMVTGeom keeps in the buffer (symbols, labels at the edge) is there to keep.
    let (mx, my) = (
        (b.right - b.left) * q.buffer as f64 / q.extent as f64,
        (b.top - b.bottom) * q.buffer as f64 / q.extent as f64,
    );
    let grid = tms.xy_bbox();
    let fenv = format!(
        "ST_MakeEnvelope({}, {}, {}, {}, {srid})",
        p.push((b.left - mx).max(grid.left)),
        p.push((b.bottom - my).max(grid.bottom)),
        p.push((b.right + mx).min(grid.right)),
        p.push((b.top + my).min(grid.top))
    );
    // The filter runs in the table's CRS so its spatial index serves; the tile's edges are
    // densified first so a curved image of the tile (polar grids) is not cut by its corners.
    let col = format!("t.{}", ident(&g.name));
    let native = if g.geography { 4326 } else { g.srid };
    let filter_env = if native == srid {
        fenv.clone()
    } else {
        let seg = p.push((b.right - b.left) / 16.0);
        let dense = format!("ST_Segmentize({fenv}, {seg})");
        let lonlat = if srid == 4326 { dense } else { format!("ST_Transform({dense}, 4326)") };
        if native == 4326 { lonlat } else { format!("ST_Transform({}, {native})", clip_to_domain(&lonlat, g)) }
    };
    let filter =
        if g.geography { format!("{col} && {}", as_geography(&filter_env)) } else { format!("{col} && {filter_env}") };
    let cond = q.selection.conditions(c, g, &mut p)?;
    // A function collection with z, x and y parameters is told which tile is wanted; the
    // path says so, whatever the query string claims.
    let mut args = q.selection.args.clone();
    for (name, v) in [("z", tile.z as i64), ("x", tile.x as i64), ("y", tile.y as i64)] {
        if c.params().iter().any(|a| a.name == name) {
            args.insert(name.to_string(), v.to_string());
        }
    }
    let table = c.from_sql(&args, &mut p)?;
    // The column as a linear geometry: what is encoded, and what sizes order the cap.
    let linear = linearized(g, &format!("{col}::geometry"));
    let mut geom = linear.clone();
    if native != srid {
        geom = format!("ST_Transform({geom}, {srid})");
    }
    let kind = Shape::of(g);
    let opts = &c.tiles;
    if let Some(tol) = q.simplify {
        geom = format!("ST_Simplify({geom}, {}, true)", p.push(simplify_tolerance(tol)?));
    } else if opts.simplify > 0.0 && kind != Shape::Points {
        // Snapped to the grid ST_AsMVTGeom rounds to (origin at the tile's top-left corner,
        // one cell per tile unit), so the rounding it does next changes nothing, and
        // simplified within `simplify` cells; collapsed parts are kept for it to judge.
        let (cx, cy) = ((b.right - b.left) / q.extent as f64, (b.top - b.bottom) / q.extent as f64);
        let snapped =
            format!("ST_SnapToGrid({geom}, {}, {}, {}, {})", p.push(b.left), p.push(b.top), p.push(cx), p.push(cy));
        let simplified = format!("ST_Simplify({snapped}, {}, true)", p.push(opts.simplify * cx.max(cy)));
        // The two passes cost 5 % of an ordinary tile, and on a geometry of a few dozen
        // vertices a tolerance of a tile unit saves a few dozen at most: those are left to
        // ST_AsMVTGeom's rounding. Sized by ST_MemSize (uncompressed, without reading the
        // value); curves are always simplified (their lines have many more vertices).
        let curved = linear != format!("{col}::geometry");
        geom = if opts.simplify <= 1.0 && !curved {
            let bytes = SIMPLIFY_ABOVE_VERTICES * 8 * dimensions(g);
            format!("CASE WHEN ST_MemSize({col}::geometry) > {bytes} THEN {simplified} ELSE {geom} END")
        } else {
            simplified
        };
    }
    // What tells rows apart for thinning and the cap's order: the id column, else a table's
    // physical row address (stable while the table is not rewritten); a view without an
    // id_column has neither.
    let row_key = match &c.id_column {
        Some(id) => Some(format!("t.{}", ident(id))),
        None if matches!(c.kind, "Table" | "MaterializedView") => Some("t.ctid".to_string()),
        None => None,
    };
    let mut cond = cond;
    if let (Some(below), Some(key)) = (opts.thin_points_below_zoom, &row_key)
        && kind == Shape::Points
        && (tile.z as i64) < below as i64
    {
        // A hash of the id picks the points a zoom keeps: the same ones on every request,
        // and each zoom's a subset of the next one's.
        let keep = (THIN_SCALE as f64 * opts.thin_rate.powi(tile.z - below as i32)).ceil() as i64;
        cond = format!("{cond} AND (hashtextextended({key}::text, 0) & {}) < {}", THIN_SCALE - 1, p.push(keep));
    }
    let props: Vec<String> = selected_properties(c, q.properties.as_deref())?.iter().map(|n| mvt_value(c, n)).collect();
    let props = if props.is_empty() { String::new() } else { format!(", {}", props.join(", ")) };
    // MVT feature ids are integers: an integer id column gives them.
    let feature_id = c.id_column.as_deref().filter(|id| c.property(id).is_some_and(|p| p.json_type() == "integer"));
    let (id_select, id_name) = match feature_id {
        Some(id) => (format!(", t.{} AS __id", ident(id)), ", '__id'"),
        None => (String::new(), ""),
    };
    // The cap keeps the same features on every request, and the ones worth keeping: the
    // largest polygons or longest lines first, else the first ids. Only features that
    // survive clipping count (the filter is on ST_AsMVTGeom's result, computed once per
    // row in the lateral subquery).
    let mut order: Vec<String> = Vec::new();
    for (name, asc) in &q.sortby {
        order.push(sort_key(c, name, *asc)?);
    }
    order.extend(match kind {
        Shape::Polygons => Some(format!("ST_Area({linear}) DESC")),
        Shape::Lines => Some(format!("ST_Length({linear}) DESC")),
        Shape::Points | Shape::Mixed => None,
    });
    if let Some(key) = &row_key {
        order.push(key.clone());
    }
    let order = if order.is_empty() { String::new() } else { format!("ORDER BY {}", order.join(", ")) };
    // Asked-for orders hold under the cap too (they set the drawing order); the default
    // one only chooses what the cap keeps.
    let under_cap_order = if q.sortby.is_empty() { "" } else { order.as_str() };
    let extent = p.push(q.extent as i32);
    let buffer = p.push(q.buffer as i32);
    let clip = p.push(q.clip);
    let limit = format!("{}::int8", p.push(q.limit as i64));
    let layer = p.push(q.layer.clone());
    // Most tiles hold fewer rows than the cap, which counting the first `limit + 1`
    // candidates tells: then every row is the tile, encoded as it comes (ST_AsMVT skips
    // the rows ST_AsMVTGeom clipped away; a filter on them here would have PostgreSQL
    // encode each geometry twice, as the subquery is flattened). Past the cap the
    // candidates are sorted first (by size or id, not yet encoded) and encoded in that
    // order until `limit` of them survive ST_AsMVTGeom (once per row, in a lateral
    // subquery): the features kept are the first that show, and a heavy tile encodes no
    // more than it keeps.
    let mvt_geom = format!("ST_AsMVTGeom({geom}, {env}, {extent}, {buffer}, {clip})");
    let rows = format!("{table} t WHERE {filter} AND {cond}");
    let encode = format!("ST_AsMVT(q, {layer}, {extent}, '__geom'{id_name})");
    let candidates = format!("SELECT {mvt_geom} AS __geom{id_select}{props} FROM {rows} {under_cap_order}");
    let counted = format!(
        "SELECT CASE WHEN k.n <= {limit} THEN (SELECT {encode} FROM ({candidates}) q) \
           ELSE (SELECT {encode} FROM ( \
             SELECT m.__geom{id_select}{props} FROM (SELECT t.* FROM {rows} {order}) t \
             CROSS JOIN LATERAL (SELECT {mvt_geom} AS __geom OFFSET 0) m \
             WHERE m.__geom IS NOT NULL LIMIT {limit}) q) END, k.n \
         FROM (SELECT count(*) AS n FROM (SELECT 1 FROM {rows} LIMIT {limit} + 1) k) k"
    );
    // Counting costs 5 % of an ordinary tile, and a tile holds no more rows than the tile
    // it is part of: under a tile of the same query known to be under the cap, the rows
    // are encoded without it, and counted on the way (the same candidates, so the same
    // bytes; a table grown past the cap since is told by that count, and the tile is
    // made again the counted way). Only plain tiles are remembered: no filter, no
    // function arguments, no thinning, and a grid whose tiles split in four.
    // Row counts are shared by every request: only one that sees every row may use them
    // (row-level security shows each role its own rows).
    let plain = cond == "TRUE" && args.is_empty() && tms.is_quadtree() && !crate::db::has_identity();
    let key = |t: Tile| CountKey {
        collection: c.id.clone(),
        geom: g.name.clone(),
        tms: tms.id().to_string(),
        extent: q.extent,
        buffer: q.buffer,
        tile: (t.z, t.x, t.y),
    };
    let allowed_by = if plain { known_under(db, tms, tile, &key, q.limit) } else { None };
    let client = db.client().await?;
    let params = p.refs();
    let run = async |sql: &str| -> Result<(Vec<u8>, u64)> {
        let stmt = client.prepare(sql).await?;
        let row = match client.query_one(&stmt, &params).await {
            Ok(row) => row,
            Err(e) => return Err(client.blame(e, sql, &params, q.selection.value_param()).await),
        };
        Ok((row.get::<_, Option<Vec<u8>>>(0).unwrap_or_default(), row.get::<_, i64>(1).max(0) as u64))
    };
    let cap = q.limit as u64;
    if let Some(allowed_by) = allowed_by {
        let uncounted =
            format!("SELECT CASE WHEN count(*) <= {limit} THEN {encode} END, count(*) FROM ({candidates}) q");
        match run(&uncounted).await {
            Ok((mvt, n)) if n <= cap => {
                db.tile_counts.insert(key(tile), RowCount::Exact(n));
                db.uncounted_tiles.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Ok(mvt);
            }
            // The tile it is part of has grown past the cap since (so has this one, or it
            // took too long for a tile under the cap): count from now on.
            Ok(_) | Err(Error::Timeout) => db.tile_counts.insert(allowed_by, RowCount::OverCap),
            Err(e) => return Err(e),
        }
    }
    let (mvt, n) = run(&counted).await?;
    if plain {
        db.tile_counts.insert(key(tile), if n <= cap { RowCount::Exact(n) } else { RowCount::OverCap });
    }
    Ok(mvt)
}

/// A plain tile of a collection, for the row counts remembered.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CountKey {
    collection: String,
    geom: String,
    tms: String,
    extent: u32,
    buffer: u32,
    tile: (i32, u64, u64),
}

/// How many rows a tile held: all of them counted, or more than the cap then (the cap's
/// count stops there).
#[derive(Clone, Copy, Debug)]
pub(crate) enum RowCount {
    Exact(u64),
    OverCap,
}

/// The tile, or the nearest tile it is part of, that held at most `limit` rows when last
/// made (a remembered tile over the cap stops the search).
fn known_under(
    db: &Database,
    tms: &TileMatrixSet,
    tile: Tile,
    key: &impl Fn(Tile) -> CountKey,
    limit: usize,
) -> Option<CountKey> {
    let mut t = tile;
    loop {
        let k = key(t);
        match db.tile_counts.get(&k) {
            Some(RowCount::Exact(n)) if n <= limit as u64 => return Some(k),
            Some(_) => return None,
            None => {}
        }
        match tms.parent(t, None).ok().and_then(|p| p.into_iter().next()) {
            Some(parent) if parent.z < t.z => t = parent,
            _ => return None,
        }
    }
}

/// The vertex count from which a tolerance of one tile unit or less is worth two more
/// passes over a geometry.
const SIMPLIFY_ABOVE_VERTICES: usize = 64;

/// Coordinates per vertex of a column's type (2 when unconstrained: then more geometries
/// are simplified, not fewer).
fn dimensions(g: &GeometryColumn) -> usize {
    let t = g.geometry_type.to_ascii_lowercase();
    if t.ends_with("zm") {
        4
    } else if t.ends_with('z') || t.ends_with('m') {
        3
    } else {
        2
    }
}

/// The hash range point thinning draws from (2^20 buckets).
const THIN_SCALE: i64 = 1 << 20;

/// What a geometry column holds, for the order the feature cap keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Points,
    Lines,
    Polygons,
    Mixed,
}

impl Shape {
    fn of(g: &GeometryColumn) -> Shape {
        let t = g.geometry_type.to_ascii_lowercase();
        if t.contains("polygon") || t.contains("surface") {
            Shape::Polygons
        } else if t.contains("line") || t.contains("curve") || t.contains("circularstring") {
            Shape::Lines
        } else if t.contains("point") {
            Shape::Points
        } else {
            Shape::Mixed
        }
    }
}

/// A property as an MVT value: numbers, booleans and text as they are, anything else as text.
fn mvt_value(c: &Collection, name: &str) -> String {
    let col = ident(name);
    let native = c.property(name).is_some_and(|p| {
        matches!(
            p.pg_type.as_str(),
            "int2" | "int4" | "int8" | "float4" | "float8" | "bool" | "text" | "varchar" | "bpchar" | "name"
        )
    });
    if native { format!("t.{col}") } else { format!("t.{col}::text AS {col}") }
}

/// A tile from a tile function. Such functions take WebMercatorQuad's z/x/y (as martin and
/// timvt call them), so other grids are refused; `params` are the request's other query
/// parameters, passed as one JSON object.
pub async fn function_tile(
    db: &Database,
    f: &TileFunction,
    tms: &TileMatrixSet,
    tile: Tile,
    params: &serde_json::Value,
) -> Result<Vec<u8>> {
    if tms.id() != "WebMercatorQuad" {
        return Err(Error::invalid("tileMatrixSetId", format!("{} serves WebMercatorQuad tiles only", f.id)));
    }
    tms.xy_bounds(tile)?;
    let z = tile.z;
    let (x, y) = (i32::try_from(tile.x), i32::try_from(tile.y));
    let (Ok(x), Ok(y)) = (x, y) else { return Err(Error::invalid("x", "out of range")) };
    let call = format!("{}.{}", ident(&f.schema), ident(&f.name));
    let client = db.client().await?;
    let row = match f.params.as_deref() {
        Some(t) => {
            let cast = if t == "jsonb" { "jsonb" } else { "json" };
            let sql = format!("SELECT {call}($1::int4, $2::int4, $3::int4, $4::text::{cast})");
            let stmt = client.prepare(&sql).await?;
            // The function reads the request's values: a value it refuses (class 22), the
            // request gave; PostGIS failing inside it (class XX) is the function's or its data's.
            client.query_one(&stmt, &[&z, &x, &y, &params.to_string()]).await.map_err(|e| match e {
                Error::Value(m) => Error::invalid("query", m),
                e => e,
            })?
        }
        None => {
            let stmt = client.prepare(&format!("SELECT {call}($1::int4, $2::int4, $3::int4)")).await?;
            client.query_one(&stmt, &[&z, &x, &y]).await?
        }
    };
    Ok(row.get::<_, Option<Vec<u8>>>(0).unwrap_or_default())
}
