//! What the database publishes: tables and views with geometry or geography columns, their
//! attributes, ids and extents, read from `pg_catalog` in a few queries.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crate::db::Conn;
use serde::Serialize;

use crate::db::{DbOptions, TileOptions};
use crate::error::{Error, Result};
use crate::sql::{Params, ident};

/// Refuse an argument its parameter's type cannot hold, naming the parameter (the database
/// would refuse it too, but without saying which one).
fn check_argument(param: &FunctionParam, v: &str) -> Result<()> {
    let ok = match param.pg_type.as_str() {
        "int2" | "int4" | "int8" => v.trim().parse::<i64>().is_ok(),
        "float4" | "float8" | "numeric" => v.trim().parse::<f64>().is_ok_and(f64::is_finite),
        "bool" => matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "false" | "t" | "f" | "1" | "0"),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(param.name.clone(), format!("'{v}' is not a valid {}", param.sql_type)))
    }
}

/// A geometry or geography column.
#[derive(Clone, Debug, Serialize)]
pub struct GeometryColumn {
    pub name: String,
    /// The column's SRID (from its type modifier, else from its first row, else 4326).
    pub srid: i32,
    /// `Point`, `MultiPolygon`, ... or `Geometry` when unconstrained.
    pub geometry_type: String,
    pub geography: bool,
    /// Extent in longitude/latitude; `None` for an empty table.
    pub bounds: Option<[f64; 4]>,
    /// The extent holds every row for certain (read off the spatial index or from all
    /// rows), not an estimate from statistics or a sample: how far queries may trust it.
    pub bounds_complete: bool,
}

/// A non-geometry column.
#[derive(Clone, Debug, Serialize)]
pub struct Property {
    pub name: String,
    /// PostgreSQL type name (`int4`, `text`, `timestamptz`, ...).
    pub pg_type: String,
}

impl Property {
    /// The JSON Schema type of the column (for queryables).
    pub fn json_type(&self) -> &'static str {
        match self.pg_type.as_str() {
            "int2" | "int4" | "int8" => "integer",
            "float4" | "float8" | "numeric" => "number",
            "bool" => "boolean",
            "json" | "jsonb" => "object",
            t if t.starts_with('_') => "array",
            _ => "string",
        }
    }

    pub fn is_datetime(&self) -> bool {
        matches!(self.pg_type.as_str(), "date" | "timestamp" | "timestamptz")
    }
}

/// An input parameter of a function collection, passed by name from the query string.
#[derive(Clone, Debug, Serialize)]
pub struct FunctionParam {
    pub name: String,
    /// PostgreSQL type name (`int4`, `float8`, `text`, ...), as [`Property::pg_type`].
    pub pg_type: String,
    /// The type as SQL spells it in a cast (`double precision`, `geometry`).
    pub sql_type: String,
    /// No default: a request must give it.
    pub required: bool,
}

/// Where a collection's rows come from.
#[derive(Clone, Debug, Serialize)]
pub enum Source {
    /// A table, view, materialized view or foreign table.
    Relation,
    /// A set-returning function (tipg's function collections), called with the request's
    /// values of its parameters.
    Function { params: Vec<FunctionParam> },
}

/// A table, view or set-returning function served as a collection (`schema.name`, as
/// tipg names them).
#[derive(Clone, Debug, Serialize)]
pub struct Collection {
    pub id: String,
    pub schema: String,
    pub table: String,
    /// `Table`, `View`, `MaterializedView`, `ForeignTable`, `Function`.
    pub kind: &'static str,
    pub source: Source,
    pub description: Option<String>,
    pub geometry_columns: Vec<GeometryColumn>,
    pub properties: Vec<Property>,
    /// The single-column primary key, or the column the settings name for it.
    pub id_column: Option<String>,
    /// How its tiles are made (the settings' defaults, or its own).
    pub tiles: TileOptions,
    /// First and last instant of its first date/time column (RFC 3339, UTC), when known.
    pub temporal: Option<[String; 2]>,
}

impl Collection {
    /// `"schema"."table"`, quoted.
    pub fn qualified(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.table))
    }

    /// What a query's `FROM` names: the relation, or a call of the function with the
    /// request's arguments bound as parameters. A function's geometries come out in
    /// EPSG:4326 (its result has no type modifier saying their CRS, and rows may differ).
    pub fn from_sql(&self, args: &BTreeMap<String, String>, p: &mut Params) -> Result<String> {
        let Source::Function { params } = &self.source else { return Ok(self.qualified()) };
        let mut call = Vec::new();
        for param in params {
            match args.get(&param.name) {
                Some(v) => {
                    check_argument(param, v)?;
                    call.push(format!("{} => {}::text::{}", ident(&param.name), p.push(v.clone()), param.sql_type));
                }
                None if param.required => {
                    return Err(Error::invalid(param.name.clone(), format!("required by function {}", self.id)));
                }
                None => {}
            }
        }
        let mut cols: Vec<String> = self.properties.iter().map(|c| format!("_f.{}", ident(&c.name))).collect();
        for g in &self.geometry_columns {
            let col = format!("_f.{}::geometry", ident(&g.name));
            cols.push(format!(
                "CASE WHEN ST_SRID({col}) IN (0, 4326) THEN ST_SetSRID({col}, 4326) ELSE ST_Transform({col}, 4326) END AS {}",
                ident(&g.name)
            ));
        }
        Ok(format!("(SELECT {} FROM {}({}) AS _f)", cols.join(", "), self.qualified(), call.join(", ")))
    }

    /// The function's parameters (none for a relation).
    pub fn params(&self) -> &[FunctionParam] {
        match &self.source {
            Source::Function { params } => params,
            Source::Relation => &[],
        }
    }

    /// The named geometry column, or the first one.
    pub fn geometry(&self, name: Option<&str>) -> Option<&GeometryColumn> {
        match name {
            Some(n) => self.geometry_columns.iter().find(|g| g.name == n),
            None => self.geometry_columns.first(),
        }
    }

    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// A non-geometry column's type name, `text` for a name that is no property.
    pub fn column_type(&self, name: &str) -> &str {
        self.property(name).map_or("text", |p| p.pg_type.as_str())
    }

    /// The first date/time column: what `datetime=` filters on.
    pub fn datetime_column(&self) -> Option<&Property> {
        self.properties.iter().find(|p| p.is_datetime())
    }

    /// Whether its temporal extent meets an interval (open ends `None`); a collection
    /// without one never does.
    pub fn meets_interval(&self, start: Option<&str>, end: Option<&str>) -> bool {
        let Some([first, last]) = &self.temporal else { return false };
        let (Some(first), Some(last)) = (instant(first), instant(last)) else { return false };
        start.and_then(instant).is_none_or(|s| s <= last) && end.and_then(instant).is_none_or(|e| e >= first)
    }

    /// Union of the geometry columns' extents.
    pub fn bounds(&self) -> Option<[f64; 4]> {
        self.geometry_columns
            .iter()
            .filter_map(|g| g.bounds)
            .reduce(|a, b| [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])])
    }
}

/// An RFC 3339 instant, a date and time without an offset (UTC), or a date (its midnight,
/// UTC).
pub fn instant(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc());
        }
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc())
}

/// A function serving whole tiles, with martin's and timvt's signature
/// `(z integer, x integer, y integer[, query_params json|jsonb]) RETURNS bytea`.
#[derive(Clone, Debug, Serialize)]
pub struct TileFunction {
    /// `schema.function`.
    pub id: String,
    pub schema: String,
    pub name: String,
    /// `json` or `jsonb` when it takes the request's query parameters.
    pub params: Option<String>,
}

/// Everything published, by collection id.
#[derive(Debug, Default)]
pub struct Catalog {
    pub collections: BTreeMap<String, Arc<Collection>>,
    pub functions: BTreeMap<String, Arc<TileFunction>>,
    /// SRIDs PostGIS can transform to (`spatial_ref_sys`).
    pub srids: HashSet<i32>,
    /// Relations left out because describing them failed (a view that errors, a table the
    /// role cannot read), with the reason: one broken relation never stops the catalog.
    pub skipped: BTreeMap<String, String>,
    /// Tables (`schema.table`) whose row changes are notified (the `imbrex_rows` trigger of
    /// `imbrex db install-triggers`).
    pub notifying: HashSet<String>,
}

const NOTIFYING: &str = "
SELECT n.nspname::text || '.' || c.relname::text
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE t.tgname = 'imbrex_rows' AND t.tgenabled <> 'D' AND n.nspname = ANY($1)";

const COLUMNS: &str = "
SELECT n.nspname::text, c.relname::text, c.relkind::text, obj_description(c.oid, 'pg_class'),
       a.attname::text, t.typname::text,
       CASE WHEN t.typname IN ('geometry', 'geography') THEN postgis_typmod_srid(a.atttypmod) END,
       CASE WHEN t.typname IN ('geometry', 'geography') THEN postgis_typmod_type(a.atttypmod) END
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
  AND has_table_privilege(c.oid, 'SELECT')
ORDER BY n.nspname, c.relname, a.attnum";

const PRIMARY_KEYS: &str = "
SELECT n.nspname::text, c.relname::text, a.attname::text
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
WHERE i.indisprimary AND i.indnatts = 1 AND n.nspname = ANY($1)";

const TILE_FUNCTIONS: &str = "
SELECT n.nspname::text, p.proname::text,
       CASE WHEN p.pronargs = 4 THEN format_type(p.proargtypes[3], NULL) END
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = ANY($1) AND p.prokind = 'f' AND p.prorettype = 'bytea'::regtype
  AND p.pronargs IN (3, 4)
  AND p.proargtypes[0] = 'int4'::regtype AND p.proargtypes[1] = 'int4'::regtype
  AND p.proargtypes[2] = 'int4'::regtype
  AND (p.pronargs = 3 OR p.proargtypes[3] IN ('json'::regtype, 'jsonb'::regtype))
  AND has_function_privilege(p.oid, 'EXECUTE')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY p.pronargs";

/// Set-returning functions and their arguments, one row per argument or result column
/// (`mode` 'i' in, 'o'/'t' out, 'b' both, 'v' variadic), in order; a function returning
/// `SETOF` a table type has that type's columns as its results, and the table's primary key
/// as its id. Functions of extensions (PostGIS's own `ST_SquareGrid`, ...) are not published,
/// nor, unless `tables` names them, VOLATILE or SECURITY DEFINER ones: a GET must not write
/// data or act with another role's rights because a function happens to be in the schema.
const FEATURE_FUNCTIONS: &str = "
WITH f AS (
  SELECT p.oid, n.nspname::text AS schema, p.proname::text AS name, obj_description(p.oid, 'pg_proc') AS description,
         p.pronargdefaults::int4 AS ndefaults, p.prorettype, p.proargnames AS names,
         coalesce(p.proallargtypes, p.proargtypes::oid[]) AS types,
         coalesce(p.proargmodes::text[], array_fill('i'::text, ARRAY[p.pronargs::int4])) AS modes
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = ANY($1) AND p.prokind = 'f' AND p.proretset
    AND has_function_privilege(p.oid, 'EXECUTE')
    AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
    AND ((p.provolatile <> 'v' AND NOT p.prosecdef) OR n.nspname || '.' || p.proname = ANY($2))
)
SELECT f.oid::int8, f.schema, f.name, f.description, f.ndefaults, a.i::int4, coalesce(f.names[a.i], ''),
       a.mode, t.typname::text, format_type(a.typ, NULL), false
FROM f, unnest(f.types, f.modes) WITH ORDINALITY AS a(typ, mode, i), pg_type t
WHERE t.oid = a.typ
UNION ALL
SELECT f.oid::int8, f.schema, f.name, f.description, f.ndefaults, 1000 + att.attnum::int4, att.attname::text,
       't', t.typname::text, format_type(att.atttypid, NULL),
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = rt.typrelid AND i.indisprimary AND i.indnatts = 1
               AND i.indkey[0] = att.attnum)
FROM f JOIN pg_type rt ON rt.oid = f.prorettype
JOIN pg_attribute att ON att.attrelid = rt.typrelid AND att.attnum > 0 AND NOT att.attisdropped
JOIN pg_type t ON t.oid = att.atttypid
WHERE rt.typrelid <> 0 AND NOT ('t' = ANY(f.modes) OR 'o' = ANY(f.modes) OR 'b' = ANY(f.modes))
ORDER BY 1, 6";

impl Catalog {
    /// Read the catalog of the schemas `options` allows.
    /// `previous` is the catalog being replaced: extents that cost a read of rows (views,
    /// tables without a spatial index) are taken from it for relations whose columns are
    /// unchanged, so a periodic refresh stays a few catalog queries.
    pub async fn discover(client: &Conn, options: &DbOptions, previous: Option<&Catalog>) -> Result<Catalog> {
        let rows = client.query(COLUMNS, &[&options.schemas]).await?;
        let keys = client.query(PRIMARY_KEYS, &[&options.schemas]).await?;
        let pks: BTreeMap<(String, String), String> =
            keys.iter().map(|r| ((r.get(0), r.get(1)), r.get::<_, String>(2))).collect();
        let srids: HashSet<i32> =
            client.query("SELECT srid FROM spatial_ref_sys", &[]).await?.iter().map(|r| r.get(0)).collect();

        let mut tables: BTreeMap<(String, String), Collection> = BTreeMap::new();
        for r in &rows {
            let (schema, table): (String, String) = (r.get(0), r.get(1));
            let id = format!("{schema}.{table}");
            if !allowed(options, &id) {
                continue;
            }
            let kind = match r.get::<_, String>(2).as_str() {
                "v" => "View",
                "m" => "MaterializedView",
                "f" => "ForeignTable",
                "p" => "PartitionedTable",
                _ => "Table",
            };
            let c = tables.entry((schema.clone(), table.clone())).or_insert_with(|| Collection {
                id,
                schema: schema.clone(),
                table: table.clone(),
                kind,
                source: Source::Relation,
                description: r.get(3),
                geometry_columns: Vec::new(),
                properties: Vec::new(),
                id_column: pks.get(&(schema.clone(), table.clone())).cloned(),
                tiles: TileOptions::default(),
                temporal: None,
            });
            let (name, typ): (String, String) = (r.get(4), r.get(5));
            match typ.as_str() {
                "geometry" | "geography" => c.geometry_columns.push(GeometryColumn {
                    name,
                    srid: r.get::<_, Option<i32>>(6).unwrap_or(0),
                    geometry_type: r.get::<_, Option<String>>(7).unwrap_or_else(|| "Geometry".into()),
                    geography: typ == "geography",
                    bounds: None,
                    bounds_complete: false,
                }),
                _ => c.properties.push(Property { name, pg_type: typ }),
            }
        }

        let mut collections = BTreeMap::new();
        let mut skipped = BTreeMap::new();
        for (_, mut c) in tables {
            // Tables without geometry are not published (tipg and martin skip them too).
            if c.geometry_columns.is_empty() {
                continue;
            }
            if let Err(e) = configure(&mut c, options) {
                tracing::warn!(collection = %c.id, reason = %e, "collection skipped");
                skipped.insert(c.id.clone(), e.to_string());
                continue;
            }
            if let Some(old) = previous.and_then(|p| p.collections.get(&c.id)).filter(|old| reusable(old, &c)) {
                c.geometry_columns.clone_from(&old.geometry_columns);
                c.temporal.clone_from(&old.temporal);
                collections.insert(c.id.clone(), Arc::new(c));
                continue;
            }
            match describe_geometries(client, &mut c).await {
                Ok(()) => {
                    collections.insert(c.id.clone(), Arc::new(c));
                }
                // The database itself going away is no one relation's fault.
                Err(e @ Error::Unavailable(_)) => return Err(e),
                Err(e) => {
                    tracing::warn!(collection = %c.id, reason = %e, "collection skipped");
                    skipped.insert(c.id.clone(), e.to_string());
                }
            }
        }
        for mut c in feature_functions(client, options).await? {
            if let Err(e) = configure(&mut c, options) {
                skipped.insert(c.id.clone(), e.to_string());
                continue;
            }
            collections.entry(c.id.clone()).or_insert_with(|| Arc::new(c));
        }
        for id in options.collections.keys() {
            if !collections.contains_key(id) && !skipped.contains_key(id) {
                tracing::warn!(collection = %id, "settings name a collection the database does not publish");
            }
        }
        let mut functions = BTreeMap::new();
        for r in client.query(TILE_FUNCTIONS, &[&options.schemas]).await? {
            let (schema, name): (String, String) = (r.get(0), r.get(1));
            let id = format!("{schema}.{name}");
            if collections.contains_key(&id) || !allowed(options, &id) {
                continue;
            }
            // Ordered by arity: an overload taking query parameters replaces the plain one.
            functions.insert(id.clone(), Arc::new(TileFunction { id, schema, name, params: r.get(2) }));
        }
        let notifying = client.query(NOTIFYING, &[&options.schemas]).await?.iter().map(|r| r.get(0)).collect();
        Ok(Catalog { collections, functions, srids, skipped, notifying })
    }

    pub fn get(&self, id: &str) -> Option<Arc<Collection>> {
        self.collections.get(id).cloned()
    }
}

/// Whether a previous description of a relation still holds and is worth keeping: the same
/// kind and columns, and extents that were read from rows (a view's, a table's without a
/// whole spatial index) rather than off an index, which costs nothing to read again and
/// follows the data. A view's extent is read again when its columns change.
fn reusable(old: &Collection, new: &Collection) -> bool {
    let same_columns = old.kind == new.kind
        && old.geometry_columns.len() == new.geometry_columns.len()
        && old.geometry_columns.iter().zip(&new.geometry_columns).all(|(a, b)| {
            a.name == b.name
                && a.geometry_type == b.geometry_type
                && a.geography == b.geography
                && (b.srid == 0 || a.srid == b.srid)
        })
        && old.properties.len() == new.properties.len()
        && old.properties.iter().zip(&new.properties).all(|(a, b)| a.name == b.name && a.pg_type == b.pg_type);
    let from_rows =
        !matches!(new.kind, "Table" | "MaterializedView") || old.geometry_columns.iter().any(|g| !g.bounds_complete);
    same_columns && from_rows
}

/// Each geometry column's SRID (from a row when the type does not say) and extent.
async fn describe_geometries(client: &Conn, c: &mut Collection) -> Result<()> {
    let qualified = c.qualified();
    for i in 0..c.geometry_columns.len() {
        let g = &mut c.geometry_columns[i];
        if g.srid == 0 {
            let sql =
                format!("SELECT ST_SRID({}::geometry) FROM {qualified} WHERE {0} IS NOT NULL LIMIT 1", ident(&g.name));
            g.srid = client.query_opt(&sql, &[]).await?.map(|r| r.get::<_, i32>(0)).filter(|&s| s != 0).unwrap_or(4326);
        }
        let (bounds, complete) = extent(client, c, &c.geometry_columns[i]).await?;
        // Single-precision index boxes are rounded outwards, past the world's edges too.
        c.geometry_columns[i].bounds =
            bounds.map(|[w, s, e, n]| [w.max(-180.0), s.max(-90.0), e.min(180.0), n.min(90.0)]);
        c.geometry_columns[i].bounds_complete = complete;
    }
    c.temporal = temporal_extent(client, c).await?;
    Ok(())
}

/// The first and last instant of the first date/time column: from ANALYZE's statistics
/// (histogram bounds and most common values), else from at most [`EXTENT_ROWS`] rows.
async fn temporal_extent(client: &Conn, c: &Collection) -> Result<Option<[String; 2]>> {
    let Some(col) = c.datetime_column() else { return Ok(None) };
    let typ = ident(&col.pg_type);
    let utc = |v: &str| format!("to_char({v}::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')");
    let stats = format!(
        "SELECT {}, {} FROM pg_stats s, \
         unnest(coalesce(s.histogram_bounds::text::{typ}[], '{{}}') || coalesce(s.most_common_vals::text::{typ}[], '{{}}')) v \
         WHERE s.schemaname = $1 AND s.tablename = $2 AND s.attname = $3",
        utc("min(v)"),
        utc("max(v)")
    );
    let rows = format!(
        "SELECT {}, {} FROM (SELECT {col} AS v FROM {} LIMIT {EXTENT_ROWS}) s",
        utc("min(v)"),
        utc("max(v)"),
        c.qualified(),
        col = ident(&col.name)
    );
    for (sql, params) in [(stats.as_str(), true), (rows.as_str(), false)] {
        let args: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&c.schema, &c.table, &col.name];
        let r = client.query_one(sql, if params { &args[..] } else { &[] }).await;
        match r {
            Ok(row) => {
                if let (Some(a), Some(b)) = (row.get::<_, Option<String>>(0), row.get::<_, Option<String>>(1)) {
                    return Ok(Some([a, b]));
                }
            }
            Err(e @ Error::Unavailable(_)) => return Err(e),
            // A slow view keeps its place in the catalog, without a temporal extent.
            Err(_) => {}
        }
    }
    Ok(None)
}

/// Apply a collection's settings: its tile options, and the id column a view or a table
/// without a primary key is given (a column it must have).
fn configure(c: &mut Collection, options: &DbOptions) -> Result<()> {
    c.tiles = options.tiles.clone();
    if let Some(o) = options.collections.get(&c.id) {
        if let Some(t) = &o.tiles {
            c.tiles = t.clone();
        }
        if let Some(col) = &o.id_column {
            if c.property(col).is_none() {
                return Err(Error::Database(format!("the settings' id_column '{col}' is no column of {}", c.id)));
            }
            c.id_column = Some(col.clone());
        }
    }
    c.tiles.check().map_err(|reason| Error::Database(format!("tile settings of {}: {reason}", c.id)))
}

fn allowed(options: &DbOptions, id: &str) -> bool {
    (options.tables.is_empty() || options.tables.iter().any(|t| t == id))
        && !options.exclude_tables.iter().any(|t| t == id)
}

/// Set-returning functions with a geometry among their results, as collections (their id
/// column: the primary key of the table type they return, else a result named `id`).
/// Overloaded names, and functions with an unnamed or variadic input or an unnamed result,
/// are left out: requests pass arguments by name and results are read by name.
async fn feature_functions(client: &Conn, options: &DbOptions) -> Result<Vec<Collection>> {
    let rows = client.query(FEATURE_FUNCTIONS, &[&options.schemas, &options.tables]).await?;
    let mut by_oid: BTreeMap<i64, Vec<&tokio_postgres::Row>> = BTreeMap::new();
    for r in &rows {
        by_oid.entry(r.get(0)).or_default().push(r);
    }
    // Overloaded names are left out: a call by parameter names could match several.
    let mut overloads: BTreeMap<(String, String), usize> = BTreeMap::new();
    for args in by_oid.values() {
        *overloads.entry((args[0].get(1), args[0].get(2))).or_default() += 1;
    }
    let mut out: Vec<Collection> = Vec::new();
    for args in by_oid.values() {
        let first = args[0];
        let (schema, name): (String, String) = (first.get(1), first.get(2));
        let id = format!("{schema}.{name}");
        if !allowed(options, &id) || overloads[&(schema.clone(), name.clone())] > 1 {
            continue;
        }
        let inputs = args.iter().filter(|r| matches!(r.get::<_, String>(7).as_str(), "i" | "b" | "v")).count();
        let defaults = first.get::<_, i32>(4).max(0) as usize;
        let (mut params, mut properties, mut geometry_columns) = (Vec::new(), Vec::new(), Vec::new());
        let mut key = None;
        let mut named = true;
        for r in args {
            let (arg, mode, typ, sql_type): (String, String, String, String) = (r.get(6), r.get(7), r.get(8), r.get(9));
            if matches!(mode.as_str(), "i" | "b" | "v") {
                // VARIADIC arguments cannot be passed by name without the keyword.
                named &= !arg.is_empty() && mode != "v";
                let required = params.len() < inputs.saturating_sub(defaults);
                params.push(FunctionParam { name: arg.clone(), pg_type: typ.clone(), sql_type, required });
            }
            if matches!(mode.as_str(), "o" | "b" | "t") {
                named &= !arg.is_empty();
                match typ.as_str() {
                    "geometry" | "geography" => geometry_columns.push(GeometryColumn {
                        name: arg,
                        srid: 4326,
                        geometry_type: "Geometry".into(),
                        geography: false,
                        bounds: None,
                        bounds_complete: false,
                    }),
                    _ => {
                        if r.get::<_, bool>(10) {
                            key = Some(arg.clone());
                        }
                        properties.push(Property { name: arg, pg_type: typ })
                    }
                }
            }
        }
        if !named || geometry_columns.is_empty() {
            continue;
        }
        let id_column = key.or_else(|| properties.iter().find(|p| p.name == "id").map(|p| p.name.clone()));
        out.push(Collection {
            id,
            schema,
            table: name,
            kind: "Function",
            source: Source::Function { params },
            description: first.get(3),
            geometry_columns,
            properties,
            id_column,
            tiles: TileOptions::default(),
            temporal: None,
        });
    }
    Ok(out)
}

/// Rows read for the extent of a relation PostgreSQL knows nothing about (a view, a table
/// with neither a spatial index nor statistics): start-up never scans a large table.
const EXTENT_ROWS: i64 = 100_000;

/// A column's extent in longitude/latitude (`None` when it holds no geometry, or when it
/// cannot be had in bounded time), and whether it surely holds every row.
///
/// A table's box comes from `ST_EstimatedExtent`: PostGIS reads it off the spatial index's
/// root page (every row's box, rounded outwards to single precision; a few pages whatever
/// the size) or, without an index, from the statistics ANALYZE gathered (which may leave
/// out outliers). Anything else is the extent of its first [`EXTENT_ROWS`] rows (complete
/// when there are no more). A projected box is then taken to longitude/latitude along its
/// densified edges, and holds a pole when the pole's image lies inside it (a polar table's
/// box holds the pole, which none of its edges shows).
async fn extent(client: &Conn, c: &Collection, g: &GeometryColumn) -> Result<(Option<[f64; 4]>, bool)> {
    let indexed = matches!(c.kind, "Table" | "MaterializedView") && !g.geography;
    let mut complete = false;
    let estimated = if indexed {
        let sql = "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), \
                   EXISTS (SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
                           JOIN pg_am am ON am.oid = ic.relam JOIN pg_attribute a ON a.attrelid = i.indrelid \
                           AND a.attnum = i.indkey[0] \
                           WHERE i.indrelid = format('%I.%I', $1::text, $2::text)::regclass \
                           AND am.amname = 'gist' AND a.attname = $3 AND i.indpred IS NULL) \
                   FROM ST_EstimatedExtent($1, $2, $3) e";
        match client.query_one(sql, &[&c.schema, &c.table, &g.name]).await {
            Ok(row) => {
                // From a whole (not partial) GiST index on the column: every row's box.
                complete = row.get::<_, Option<bool>>(4).unwrap_or(false);
                corners(&row)
            }
            Err(e @ (Error::Unavailable(_) | Error::Timeout)) => return Err(e),
            Err(_) => None,
        }
    } else {
        None
    };
    let native = match estimated {
        Some(b) => Some(b),
        None => {
            let sql = format!(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), n FROM \
                 (SELECT ST_Extent({col}::geometry) AS e, count(*) AS n \
                  FROM (SELECT {col} FROM {} LIMIT {}) s) q",
                c.qualified(),
                EXTENT_ROWS + 1,
                col = ident(&g.name)
            );
            match client.query_one(&sql, &[]).await {
                Ok(row) => {
                    complete = row.get::<_, i64>(4) <= EXTENT_ROWS;
                    corners(&row)
                }
                Err(Error::Timeout) => {
                    tracing::warn!(collection = %c.id, column = %g.name, "extent timed out; left unknown");
                    return Ok((None, false));
                }
                Err(e) => return Err(e),
            }
        }
    };
    let Some(b) = native else { return Ok((None, complete)) };
    if g.geography || g.srid == 4326 {
        return Ok((Some(b), complete));
    }
    let sql = "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM \
               (SELECT ST_Transform(ST_Segmentize(ST_MakeEnvelope($1, $2, $3, $4, $5), $6), 4326)::box2d AS e) q";
    let seg = ((b[2] - b[0]).max(b[3] - b[1]) / 64.0).max(1e-9);
    let mut lonlat = match client.query_one(sql, &[&b[0], &b[1], &b[2], &b[3], &g.srid, &seg]).await {
        Ok(row) => corners(&row),
        Err(e @ (Error::Unavailable(_) | Error::Timeout)) => return Err(e),
        // A box whose corners leave the projection's domain: its rows, one by one.
        Err(_) => {
            complete = false;
            rows_extent(client, c, g).await?
        }
    };
    if let Some(ll) = &mut lonlat {
        for (lat, side) in [(90.0f64, 3usize), (-90.0, 1)] {
            let sql = "SELECT ST_Intersects(ST_MakeEnvelope($1, $2, $3, $4, $5), \
                       ST_Transform(ST_SetSRID(ST_Point(0, $6), 4326), $5))";
            // A pole the projection cannot hold is an error here: not in the box.
            if let Ok(row) = client.query_one(sql, &[&b[0], &b[1], &b[2], &b[3], &g.srid, &lat]).await
                && row.get::<_, Option<bool>>(0) == Some(true)
            {
                ll[side] = lat;
                (ll[0], ll[2]) = (-180.0, 180.0);
            }
        }
    }
    Ok((lonlat, complete))
}

/// The extent of a projected column's first [`EXTENT_ROWS`] rows, each taken to
/// longitude/latitude.
async fn rows_extent(client: &Conn, c: &Collection, g: &GeometryColumn) -> Result<Option<[f64; 4]>> {
    let col = ident(&g.name);
    let sql = format!(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM \
         (SELECT ST_Extent(ST_Transform(ST_SetSRID({col}::geometry, {}), 4326)) AS e \
          FROM (SELECT {col} FROM {} LIMIT {EXTENT_ROWS}) s) q",
        g.srid,
        c.qualified()
    );
    match client.query_one(&sql, &[]).await {
        Ok(row) => Ok(corners(&row)),
        Err(e @ (Error::Unavailable(_) | Error::Timeout)) => Err(e),
        Err(_) => Ok(None),
    }
}

fn corners(row: &tokio_postgres::Row) -> Option<[f64; 4]> {
    match [row.get(0), row.get(1), row.get(2), row.get(3)] {
        [Some(a), Some(b), Some(c), Some(d)] => Some([a, b, c, d]),
        _ => None,
    }
}
