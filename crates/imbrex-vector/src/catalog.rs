//! What the database publishes: tables and views with geometry or geography columns, their
//! attributes, ids and extents, read from `pg_catalog` in a few queries.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use deadpool_postgres::Object;
use serde::Serialize;

use crate::db::DbOptions;
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
    /// The single-column primary key, if any.
    pub id_column: Option<String>,
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

    /// Union of the geometry columns' extents.
    pub fn bounds(&self) -> Option<[f64; 4]> {
        self.geometry_columns
            .iter()
            .filter_map(|g| g.bounds)
            .reduce(|a, b| [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])])
    }
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
}

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
    pub async fn discover(client: &Object, options: &DbOptions) -> Result<Catalog> {
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
            });
            let (name, typ): (String, String) = (r.get(4), r.get(5));
            match typ.as_str() {
                "geometry" | "geography" => c.geometry_columns.push(GeometryColumn {
                    name,
                    srid: r.get::<_, Option<i32>>(6).unwrap_or(0),
                    geometry_type: r.get::<_, Option<String>>(7).unwrap_or_else(|| "Geometry".into()),
                    geography: typ == "geography",
                    bounds: None,
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
        for c in feature_functions(client, options).await? {
            collections.entry(c.id.clone()).or_insert_with(|| Arc::new(c));
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
        Ok(Catalog { collections, functions, srids, skipped })
    }

    pub fn get(&self, id: &str) -> Option<Arc<Collection>> {
        self.collections.get(id).cloned()
    }
}

/// Each geometry column's SRID (from a row when the type does not say) and extent.
async fn describe_geometries(client: &Object, c: &mut Collection) -> Result<()> {
    let qualified = c.qualified();
    for g in &mut c.geometry_columns {
        if g.srid == 0 {
            let sql =
                format!("SELECT ST_SRID({}::geometry) FROM {qualified} WHERE {0} IS NOT NULL LIMIT 1", ident(&g.name));
            g.srid = client.query_opt(&sql, &[]).await?.map(|r| r.get::<_, i32>(0)).filter(|&s| s != 0).unwrap_or(4326);
        }
        g.bounds = extent(client, &qualified, g).await?;
    }
    Ok(())
}

fn allowed(options: &DbOptions, id: &str) -> bool {
    (options.tables.is_empty() || options.tables.iter().any(|t| t == id))
        && !options.exclude_tables.iter().any(|t| t == id)
}

/// Set-returning functions with a geometry among their results, as collections (their id
/// column: the primary key of the table type they return, else a result named `id`).
/// Overloaded names, and functions with an unnamed or variadic input or an unnamed result,
/// are left out: requests pass arguments by name and results are read by name.
async fn feature_functions(client: &Object, options: &DbOptions) -> Result<Vec<Collection>> {
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
        });
    }
    Ok(out)
}

/// A column's extent in longitude/latitude (`None` when it holds no geometry). A projected
/// column's rows are taken to longitude/latitude one by one: the image of its projected
/// box is no box (a polar table's box holds the pole, which none of its corners shows).
/// Should a row not transform, the box's corners are used, as before.
async fn extent(client: &Object, qualified: &str, g: &GeometryColumn) -> Result<Option<[f64; 4]>> {
    let col = format!("{}::geometry", ident(&g.name));
    let boxed = format!("ST_SetSRID(ST_Extent({col})::geometry, {})", g.srid);
    let queries = if g.geography || g.srid == 4326 {
        vec![boxed]
    } else {
        vec![
            format!("ST_SetSRID(ST_Extent(ST_Transform(ST_SetSRID({col}, {}), 4326))::geometry, 4326)", g.srid),
            format!("ST_Transform({boxed}, 4326)"),
        ]
    };
    for (i, geographic) in queries.iter().enumerate() {
        let sql = format!(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT {geographic} AS e FROM {qualified}) q"
        );
        let row = match client.query_one(&sql, &[]).await {
            Ok(row) => row,
            Err(e) if i + 1 < queries.len() && e.as_db_error().is_some() => continue,
            Err(e) => return Err(e.into()),
        };
        let v: [Option<f64>; 4] = [row.get(0), row.get(1), row.get(2), row.get(3)];
        return Ok(match v {
            [Some(a), Some(b), Some(c), Some(d)] => Some([a, b, c, d]),
            _ => None,
        });
    }
    Ok(None)
}
