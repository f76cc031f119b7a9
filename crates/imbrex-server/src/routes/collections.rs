//! OGC API - Features from PostGIS, with tipg's URL layout and shapes: `/collections`,
//! `/collections/{collectionId}[/queryables|/items[/{itemId}]]` and `POST /refresh`; the
//! router also mounts the vector tiles of `collection_tiles`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use imbrex_vector::{Collection, Database, ItemsQuery, Selection, query};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{BaseUrl, Negotiated, QueryMap};
use crate::routes::collections_html;

pub(super) const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
pub(super) const MVT: &str = "application/vnd.mapbox-vector-tile";

/// Query parameters with a meaning of their own; any other one naming a column is a
/// property filter (as tipg).
const RESERVED: &[&str] = &[
    "f",
    "limit",
    "offset",
    "bbox",
    "datetime",
    "ids",
    "properties",
    "sortby",
    "geom-column",
    "bbox-only",
    "simplify",
    "filter",
    "filter-lang",
    "datetime-column",
    "minzoom",
    "maxzoom",
    "extent",
    "buffer",
    "clip",
];

pub fn router() -> Router<AppState> {
    use super::collection_tiles::{map_html, style, tile, tilejson, tileset, tilesets};
    Router::new()
        .route("/collections", get(collections))
        .route("/collections/{collectionId}", get(collection))
        .route("/collections/{collectionId}/queryables", get(queryables))
        .route("/collections/{collectionId}/items", get(items))
        .route("/collections/{collectionId}/items/{itemId}", get(item))
        .route("/collections/{collectionId}/tiles/{tileMatrixSetId}/{z}/{x}/{y}", get(tile))
        .route("/collections/{collectionId}/tiles/{tileMatrixSetId}/tilejson.json", get(tilejson))
        .route("/collections/{collectionId}/tiles/{tileMatrixSetId}/style.json", get(style))
        .route("/collections/{collectionId}/tiles/{tileMatrixSetId}/map.html", get(map_html))
        .route("/collections/{collectionId}/tiles", get(tilesets))
        .route("/collections/{collectionId}/tiles/{tileMatrixSetId}", get(tileset))
}

pub(super) fn database(state: &AppState) -> ApiResult<&Arc<Database>> {
    state.db.as_ref().ok_or_else(|| ApiError::NotFound("no database is configured (--database-url)".into()))
}

pub(super) async fn find(state: &AppState, id: &str) -> ApiResult<(Arc<Database>, Arc<Collection>)> {
    let db = database(state)?;
    let c = db.catalog().await?.get(id).ok_or_else(|| ApiError::NotFound(format!("collection '{id}' not found")))?;
    Ok((db.clone(), c))
}

/// A collection id as a URL path segment (table names may hold spaces, `#`, `?`, `/`...).
pub(crate) fn seg(id: &str) -> std::borrow::Cow<'_, str> {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'/')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'\\')
        .add(b'^')
        .add(b'`')
        .add(b'{')
        .add(b'|')
        .add(b'}');
    percent_encoding::utf8_percent_encode(id, SEGMENT).into()
}

pub(super) fn link(href: String, rel: &str, media: &str, title: Option<&str>) -> Value {
    let mut l = json!({"href": href, "rel": rel, "type": media});
    if let Some(t) = title {
        l["title"] = json!(t);
    }
    l
}

fn collection_doc(base: &BaseUrl, c: &Collection, rel_self: &str) -> Value {
    let href = base.join(&format!("/collections/{}", seg(&c.id)));
    let mut doc = json!({
        "id": c.id,
        "title": c.id,
        "links": [
            link(href.clone(), rel_self, "application/json", None),
            link(format!("{href}/items"), "items", "application/geo+json", Some("Items")),
            link(format!("{href}/queryables"), "queryables", "application/schema+json", Some("Queryables")),
            link(format!("{href}/tiles/WebMercatorQuad/tilejson.json"), "data", "application/json", Some("TileJSON (WebMercatorQuad)")),
        ],
        "itemType": "feature",
        "crs": [CRS84],
    });
    if let Some(d) = &c.description {
        doc["description"] = json!(d);
    }
    if let Some(b) = c.bounds() {
        doc["extent"] = json!({"spatial": {"bbox": [b], "crs": CRS84}});
    }
    if let Some(t) = &c.temporal {
        doc["extent"]["temporal"] =
            json!({"interval": [t], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"});
    }
    doc
}

/// A tile function: tiles only (WebMercatorQuad), no items.
fn function_doc(base: &BaseUrl, f: &imbrex_vector::catalog::TileFunction) -> Value {
    let tiles = base.join(&format!("/collections/{}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}", seg(&f.id)));
    json!({
        "id": f.id,
        "title": f.id,
        "description": "tile function",
        "links": [{"href": tiles, "rel": "item", "type": MVT, "templated": true, "title": "Vector tiles"}],
        "dataType": "vector",
    })
}

/// `self`, `next` and `prev` links of a page; without a count, a full page has a next one.
fn page_links(
    base: &BaseUrl,
    path: &str,
    q: &QueryMap,
    (offset, limit): (usize, usize),
    (returned, matched): (usize, Option<usize>),
) -> Vec<Value> {
    let with_offset = |o: usize| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in q.pairs().iter().filter(|(k, _)| k != "offset") {
            s.append_pair(k, v);
        }
        s.append_pair("offset", &o.to_string());
        base.join(&format!("{path}?{}", s.finish()))
    };
    // `self` is this very page: the path with its query string, percent-encoded.
    let mut s = form_urlencoded::Serializer::new(String::new());
    s.extend_pairs(q.pairs().iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let qs = s.finish();
    let this = if qs.is_empty() { base.join(path) } else { base.join(&format!("{path}?{qs}")) };
    let mut links = vec![link(this, "self", "application/json", None)];
    if limit > 0 && matched.map_or(returned == limit, |m| offset + limit < m) {
        links.push(link(with_offset(offset + limit), "next", "application/json", Some("Next page")));
    }
    if offset > 0 && limit > 0 {
        links.push(link(with_offset(offset.saturating_sub(limit)), "prev", "application/json", Some("Previous page")));
    }
    links
}

/// The deepest `offset` an items page may start at.
const MAX_OFFSET: usize = 100_000;

/// A page's links as tipg writes them: its paging links, the collection, and the same page
/// in the other formats.
fn items_links(base: &BaseUrl, c: &Collection, path: &str, q: &QueryMap, mut links: Vec<Value>) -> Vec<Value> {
    links.push(link(
        base.join(&format!("/collections/{}", seg(&c.id))),
        "collection",
        "application/json",
        Some("Collection"),
    ));
    for (f, media) in [("geojsonseq", "application/geo+json-seq"), ("csv", "text/csv"), ("html", "text/html")] {
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.extend_pairs(q.pairs().iter().filter(|(k, _)| k != "f").map(|(k, v)| (k.as_str(), v.as_str())));
        s.append_pair("f", f);
        links.push(link(base.join(&format!("{path}?{}", s.finish())), "alternate", media, None));
    }
    links
}

pub(super) fn json_response(v: Value, media: &'static str) -> Response {
    let mut r = axum::Json(v).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    r
}

/// The published collections.
#[utoipa::path(get, path = "/collections", tag = "OGC Features and Vector Tiles",
    params(("limit" = Option<usize>, Query, description = "Page size"), ("offset" = Option<usize>, Query, description = "Page start"),
        ("f" = Option<String>, Query, description = "json or html"),
        ("include_skipped" = Option<bool>, Query, description = "Also list the relations left out of the catalog, with the reason"),
        ("type" = Option<String>, Query, description = "Table or Function"),
        ("bbox" = Option<String>, Query, description = "Collections whose extent meets this longitude/latitude box"),
        ("datetime" = Option<String>, Query, description = "Collections whose temporal extent meets this instant or interval")),
    responses((status = 200, description = "The published collections", content_type = "application/json")))]
pub async fn collections(
    State(state): State<AppState>,
    base: BaseUrl,
    q: QueryMap,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let limit = q.get::<usize>("limit")?;
    let offset = q.get::<usize>("offset")?.unwrap_or(0);
    let include_skipped = q.get::<bool>("include_skipped")?.unwrap_or(false);
    // tipg's filters: `type` (Table: relations; Function: functions), `bbox` and `datetime`
    // against each collection's extents (one without an extent matches no such filter).
    let kind = match q.raw("type") {
        None => None,
        Some(t @ ("Table" | "Function")) => Some(t == "Function"),
        Some(_) => return Err(ApiError::query("type", "one of Table, Function")),
    };
    let bbox = q.raw("bbox").map(query::parse_bbox).transpose()?;
    let datetime = q.raw("datetime").map(query::parse_datetime).transpose()?;
    if let Some((start, end)) = &datetime
        && [start, end].into_iter().flatten().any(|t| imbrex_vector::catalog::instant(t).is_none())
    {
        return Err(ApiError::query("datetime", "an RFC 3339 date-time or date"));
    }
    let wanted = |c: &Collection| {
        kind.is_none_or(|f| f == (c.kind == "Function"))
            && bbox.is_none_or(|b| c.bounds().is_some_and(|e| boxes_meet(b, e)))
            && datetime.as_ref().is_none_or(|(s, e)| c.meets_interval(s.as_deref(), e.as_deref()))
    };
    let mut skipped = Vec::new();
    let all: Vec<Value> = match &state.db {
        Some(db) => {
            let catalog = db.catalog().await?;
            if include_skipped {
                skipped = catalog.skipped.iter().map(|(id, reason)| json!({"id": id, "reason": reason})).collect();
            }
            let tables =
                catalog.collections.values().filter(|c| wanted(c)).map(|c| collection_doc(&base, c, "collection"));
            // Tile functions have no extents: only a type filter can keep them.
            let functions = catalog
                .functions
                .values()
                .filter(|_| kind != Some(false) && bbox.is_none() && datetime.is_none())
                .map(|f| function_doc(&base, f));
            tables.chain(functions).collect()
        }
        None => Vec::new(),
    };
    let limit = limit.unwrap_or(all.len().max(1));
    let page: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
    let mut doc = json!({
        "links": page_links(&base, "/collections", &q, (offset, limit), (page.len(), Some(all.len()))),
        "numberMatched": all.len(),
        "numberReturned": page.len(),
        "collections": page,
    });
    if include_skipped {
        // Relations left out of the catalog, and why (not part of OGC API Features).
        doc["skipped"] = Value::Array(skipped);
    }
    Ok(match Negotiated::from_request(&q, &headers)? {
        Negotiated::Html => Html(collections_html::collections(&base, &doc)).into_response(),
        Negotiated::Json => json_response(doc, "application/json"),
    })
}

/// Whether two longitude/latitude boxes meet (the first may cross the antimeridian).
fn boxes_meet(b: [f64; 4], e: [f64; 4]) -> bool {
    let lat = b[1] <= e[3] && b[3] >= e[1];
    let lon = |w: f64, east: f64| w <= e[2] && east >= e[0];
    lat && if b[0] > b[2] { lon(b[0], 180.0) || lon(-180.0, b[2]) } else { lon(b[0], b[2]) }
}

/// One collection's metadata.
#[utoipa::path(get, path = "/collections/{collectionId}", tag = "OGC Features and Vector Tiles",
    params(("collectionId" = String, Path, description = "Collection id (schema.table or schema.function)"), ("f" = Option<String>, Query, description = "json or html")),
    responses((status = 200, description = "Collection metadata", content_type = "application/json"),
        (status = 404, description = "No such collection", body = crate::error::Detail)))]
pub async fn collection(
    State(state): State<AppState>,
    Path(id): Path<String>,
    base: BaseUrl,
    q: QueryMap,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (_, c) = find(&state, &id).await?;
    let doc = collection_doc(&base, &c, "self");
    Ok(match Negotiated::from_request(&q, &headers)? {
        Negotiated::Html => Html(collections_html::collection(&base, &doc)).into_response(),
        Negotiated::Json => json_response(doc, "application/json"),
    })
}

/// The properties a filter may name, as JSON Schema.
#[utoipa::path(get, path = "/collections/{collectionId}/queryables", tag = "OGC Features and Vector Tiles",
    params(("collectionId" = String, Path, description = "Collection id (schema.table or schema.function)")),
    responses((status = 200, description = "Queryable properties (JSON Schema)", content_type = "application/schema+json")))]
pub async fn queryables(State(state): State<AppState>, Path(id): Path<String>, base: BaseUrl) -> ApiResult<Response> {
    let (_, c) = find(&state, &id).await?;
    let mut props = serde_json::Map::new();
    for g in &c.geometry_columns {
        props.insert(g.name.clone(), json!({"$ref": geojson_schema(&g.geometry_type)}));
    }
    for p in &c.properties {
        props.insert(p.name.clone(), json!({"name": p.name, "type": p.json_type()}));
    }
    Ok(json_response(
        json!({
            "title": c.id,
            "properties": props,
            "type": "object",
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "$id": base.join(&format!("/collections/{}/queryables", seg(&c.id))),
        }),
        "application/schema+json",
    ))
}

/// The GeoJSON schema of a column's geometry type (`PointZ` is a Point; curves, which come
/// out as lines and polygons, and unconstrained columns are any Geometry).
fn geojson_schema(geometry_type: &str) -> String {
    let t = geometry_type.trim_end_matches("ZM").trim_end_matches(['Z', 'M']);
    let known =
        ["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"];
    let name = known.iter().find(|k| k.eq_ignore_ascii_case(t)).copied().unwrap_or("Geometry");
    format!("https://geojson.org/schema/{name}.json")
}

pub(super) fn list(q: &QueryMap, name: &str) -> Option<Vec<String>> {
    q.raw(name).map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
}

/// `ids`, `datetime`, `bbox`, property filters and a function collection's arguments.
pub(super) fn selection(c: &Collection, q: &QueryMap) -> ApiResult<Selection> {
    let is_arg = |k: &str| c.params().iter().any(|p| p.name == k);
    let filter = q.raw("filter").map(|f| imbrex_vector::cql2::parse(f, q.raw("filter-lang"))).transpose()?;
    Ok(Selection {
        filter,
        ids: list(q, "ids").unwrap_or_default(),
        equal: q.pairs_where(|k| !RESERVED.contains(&k) && !is_arg(k) && c.property(k).is_some()),
        args: q.pairs_where(is_arg).into_iter().collect(),
        datetime: q.raw("datetime").map(query::parse_datetime).transpose()?,
        datetime_column: q.raw("datetime-column").map(str::to_string),
        bbox: q.raw("bbox").map(query::parse_bbox).transpose()?,
    })
}

/// `sortby=a,-b`: properties, ascending unless prefixed with `-`.
pub(super) fn sortby(q: &QueryMap) -> Vec<(String, bool)> {
    list(q, "sortby")
        .unwrap_or_default()
        .into_iter()
        .map(|s| match s.strip_prefix('-') {
            Some(name) => (name.to_string(), false),
            None => (s.trim_start_matches('+').to_string(), true),
        })
        .collect()
}

fn items_query(state: &AppState, c: &Collection, q: &QueryMap) -> ApiResult<ItemsQuery> {
    let max = state.config.limits.max_items_per_page;
    let limit = q.get::<usize>("limit")?.unwrap_or(10);
    if limit > max {
        return Err(ApiError::query("limit", format!("between 0 and {max}")));
    }
    Ok(ItemsQuery {
        selection: selection(c, q)?,
        limit,
        offset: match q.get::<usize>("offset")?.unwrap_or(0) {
            // A deep offset makes PostgreSQL produce and drop every row before it.
            o if o > MAX_OFFSET => {
                return Err(ApiError::query(
                    "offset",
                    format!("at most {MAX_OFFSET}: narrow the query with bbox or filter"),
                ));
            }
            o => o,
        },
        properties: list(q, "properties"),
        sortby: sortby(q),
        geom_column: q.raw("geom-column").map(str::to_string),
        bbox_only: q.get_bool("bbox-only")?.unwrap_or(false),
        simplify: q.get::<f64>("simplify")?,
        wkt: false,
    })
}

/// Output formats of `/items`.
#[derive(Clone, Copy, PartialEq)]
enum ItemsFormat {
    GeoJson,
    GeoJsonSeq,
    Csv,
    Html,
}

/// `f=`, or without it HTML for a browser (`Accept: text/html`) and GeoJSON for the rest.
fn items_format(q: &QueryMap, headers: &HeaderMap) -> ApiResult<ItemsFormat> {
    match q.raw("f") {
        None if accepts_html(headers) => Ok(ItemsFormat::Html),
        None | Some("geojson") | Some("json") => Ok(ItemsFormat::GeoJson),
        Some("geojsonseq") | Some("ndjson") => Ok(ItemsFormat::GeoJsonSeq),
        Some("csv") => Ok(ItemsFormat::Csv),
        Some("html") => Ok(ItemsFormat::Html),
        Some(other) => {
            Err(ApiError::query("f", format!("'{other}' is not one of geojson, json, geojsonseq, ndjson, csv, html")))
        }
    }
}

fn accepts_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

/// One CSV field (RFC 4180): quoted when it holds a separator, a quote or a line break.
fn csv_field(v: &Value) -> String {
    let text = collections_html::plain_text(v);
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// Features as CSV: the id, the properties, then the geometry as WKT.
fn csv(features: &[imbrex_vector::Feature], columns: &[String]) -> String {
    let mut out = String::from("id");
    for c in columns {
        out.push(',');
        out.push_str(&csv_field(&Value::String(c.clone())));
    }
    out.push_str(",geometry\r\n");
    for f in features {
        out.push_str(&csv_field(f.id.as_ref().unwrap_or(&Value::Null)));
        for c in columns {
            out.push(',');
            out.push_str(&csv_field(f.properties.get(c).unwrap_or(&Value::Null)));
        }
        out.push(',');
        out.push_str(&csv_field(&f.geometry));
        out.push_str("\r\n");
    }
    out
}

/// A page of features.
#[utoipa::path(get, path = "/collections/{collectionId}/items", tag = "OGC Features and Vector Tiles",
    params(("collectionId" = String, Path, description = "Collection id (schema.table or schema.function)"), ("bbox" = Option<String>, Query, description = "minx,miny,maxx,maxy in longitude/latitude"),
        ("datetime" = Option<String>, Query, description = "Instant or interval (RFC 3339, open ends ..)"),
        ("ids" = Option<String>, Query, description = "Comma-separated ids"),
        ("properties" = Option<String>, Query, description = "Comma-separated properties to return"),
        ("filter" = Option<String>, Query, description = "CQL2 filter"),
        ("filter-lang" = Option<String>, Query, description = "cql2-text (default) or cql2-json"),
        ("datetime-column" = Option<String>, Query, description = "The date/time column datetime= filters on (default: the first)"),
        ("geom-column" = Option<String>, Query, description = "Geometry column (default: the first)"),
        ("limit" = Option<usize>, Query, description = "Page size (default 10)"), ("offset" = Option<usize>, Query, description = "Page start"),
        ("sortby" = Option<String>, Query, description = "Comma-separated properties, - for descending"),
        ("bbox-only" = Option<bool>, Query, description = "Return each geometry's bounding box"),
        ("simplify" = Option<f64>, Query, description = "Simplification tolerance"),
        ("f" = Option<String>, Query, description = "geojson, json, geojsonseq, csv or html")),
    responses((status = 200, description = "A page of features", content_type = "application/geo+json"),
        (status = 400, description = "A bad parameter, named", body = crate::error::Detail)))]
pub async fn items(
    State(state): State<AppState>,
    Path(id): Path<String>,
    base: BaseUrl,
    q: QueryMap,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (db, c) = find(&state, &id).await?;
    let format = items_format(&q, &headers)?;
    let mut iq = items_query(&state, &c, &q)?;
    iq.wkt = format == ItemsFormat::Csv;
    let page = imbrex_vector::features::items(&db, &c, &iq).await?;
    if format == ItemsFormat::Csv {
        let columns = imbrex_vector::features::selected_properties(&c, iq.properties.as_deref())?;
        let mut r = csv(&page.features, &columns).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
        return Ok(r);
    }
    if format == ItemsFormat::GeoJsonSeq {
        let mut body = String::new();
        for f in &page.features {
            body.push_str(&f.to_geojson().to_string());
            body.push('\n');
        }
        let mut r = body.into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/geo+json-seq"));
        return Ok(r);
    }
    let path = format!("/collections/{}/items", seg(&c.id));
    let features: Vec<Value> = page.features.iter().map(|f| f.to_geojson()).collect();
    let matched = page.matched.map(|m| m.max(0) as usize);
    let mut doc = json!({
        "type": "FeatureCollection",
        "id": c.id,
        "title": c.id,
        "numberReturned": features.len(),
        "links": items_links(&base, &c, &path, &q, page_links(&base, &path, &q, (iq.offset, iq.limit), (features.len(), matched))),
        "features": features,
    });
    // Left out beyond imbrex_vector::features::EXACT_COUNT_LIMIT matching rows.
    if let Some(m) = matched {
        doc["numberMatched"] = json!(m);
    }
    if let Some(d) = &c.description {
        doc["description"] = json!(d);
    }
    if format == ItemsFormat::Html {
        return Ok(Html(collections_html::features(&base, &c.id, &doc)).into_response());
    }
    Ok(json_response(doc, "application/geo+json"))
}

/// One feature by id.
#[utoipa::path(get, path = "/collections/{collectionId}/items/{itemId}", tag = "OGC Features and Vector Tiles",
    params(("collectionId" = String, Path, description = "Collection id (schema.table or schema.function)"), ("itemId" = String, Path, description = "Feature id"),
        ("f" = Option<String>, Query, description = "geojson or html")),
    responses((status = 200, description = "One feature", content_type = "application/geo+json"),
        (status = 404, description = "No such feature", body = crate::error::Detail)))]
pub async fn item(
    State(state): State<AppState>,
    Path((id, item_id)): Path<(String, String)>,
    base: BaseUrl,
    q: QueryMap,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (db, c) = find(&state, &id).await?;
    let format = items_format(&q, &headers)?;
    let iq = ItemsQuery {
        selection: Selection { args: selection(&c, &q)?.args, ..Default::default() },
        properties: list(&q, "properties"),
        geom_column: q.raw("geom-column").map(str::to_string),
        bbox_only: q.get_bool("bbox-only")?.unwrap_or(false),
        simplify: q.get::<f64>("simplify")?,
        ..Default::default()
    };
    let f = imbrex_vector::features::item(&db, &c, &item_id, &iq).await?;
    let mut doc = f.to_geojson();
    let href = base.join(&format!("/collections/{}", seg(&c.id)));
    doc["links"] = json!([
        link(href.clone(), "collection", "application/json", None),
        link(format!("{href}/items/{item_id}"), "self", "application/geo+json", None),
    ]);
    if format == ItemsFormat::Html {
        return Ok(Html(collections_html::features(&base, &format!("{} {item_id}", c.id), &doc)).into_response());
    }
    Ok(json_response(doc, "application/geo+json"))
}
