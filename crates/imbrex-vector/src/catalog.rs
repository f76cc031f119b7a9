//! What the database publishes: tables and views with geometry or geography columns, their
//! attributes, ids and extents, read from `pg_catalog` in a few queries.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use deadpool_postgres::Object;
use serde::Serialize;

use crate::db::DbOptions;
use crate::error::Result;
use crate::sql::ident;

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

/// A table or view served as a collection (`schema.table`, as tipg names them).
#[derive(Clone, Debug, Serialize)]
pub struct Collection {
    pub id: String,
    pub schema: String,
    pub table: String,
    /// `Table`, `View`, `MaterializedView`, `ForeignTable`.
    pub kind: &'static str,
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
ORDER BY p.pronargs";

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
            if (!options.tables.is_empty() && !options.tables.contains(&id)) || options.exclude_tables.contains(&id) {
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
        for (_, mut c) in tables {
            // Tables without geometry are not published (tipg and martin skip them too).
            if c.geometry_columns.is_empty() {
                continue;
            }
            let qualified = c.qualified();
            for g in &mut c.geometry_columns {
                if g.srid == 0 {
                    let sql = format!(
                        "SELECT ST_SRID({}::geometry) FROM {qualified} WHERE {0} IS NOT NULL LIMIT 1",
                        ident(&g.name)
                    );
                    g.srid = client
                        .query_opt(&sql, &[])
                        .await?
                        .map(|r| r.get::<_, i32>(0))
                        .filter(|&s| s != 0)
                        .unwrap_or(4326);
                }
                g.bounds = extent(client, &qualified, g).await?;
            }
            collections.insert(c.id.clone(), Arc::new(c));
        }
        let mut functions = BTreeMap::new();
        for r in client.query(TILE_FUNCTIONS, &[&options.schemas]).await? {
            let (schema, name): (String, String) = (r.get(0), r.get(1));
            let id = format!("{schema}.{name}");
            if collections.contains_key(&id)
                || (!options.tables.is_empty() && !options.tables.contains(&id))
                || options.exclude_tables.contains(&id)
            {
                continue;
            }
            // Ordered by arity: an overload taking query parameters replaces the plain one.
            functions.insert(id.clone(), Arc::new(TileFunction { id, schema, name, params: r.get(2) }));
        }
        Ok(Catalog { collections, functions, srids })
    }

    pub fn get(&self, id: &str) -> Option<Arc<Collection>> {
        self.collections.get(id).cloned()
    }
}

/// A column's extent in longitude/latitude (`None` when it holds no geometry).
async fn extent(client: &Object, qualified: &str, g: &GeometryColumn) -> Result<Option<[f64; 4]>> {
    let col = format!("{}::geometry", ident(&g.name));
    let boxed = format!("ST_SetSRID(ST_Extent({col})::geometry, {})", g.srid);
    let geographic = if g.geography || g.srid == 4326 { boxed } else { format!("ST_Transform({boxed}, 4326)") };
    let sql = format!(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT {geographic} AS e FROM {qualified}) q"
    );
    let row = client.query_one(&sql, &[]).await?;
    let v: [Option<f64>; 4] = [row.get(0), row.get(1), row.get(2), row.get(3)];
    Ok(match v {
        [Some(a), Some(b), Some(c), Some(d)] => Some([a, b, c, d]),
        _ => None,
    })
}
