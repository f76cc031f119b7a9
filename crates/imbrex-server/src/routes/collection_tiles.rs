//! Vector tiles of collections: `/collections/{collectionId}/tiles/{tileMatrixSetId}/{z}/{x}/{y}`
//! (one collection, or several as `a,b`: one layer each), their TileJSON, MapLibre style,
//! map page and OGC API - Tiles tileset documents.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use imbrex_tms::{Bounds, Tile, TileMatrixSet};
use imbrex_vector::{Collection, TileQuery};
use serde_json::{Value, json};

use super::collections::{CRS84, MVT, database, find, json_response, link, list, seg, selection, sortby};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{BaseUrl, QueryMap, path_param};
use crate::routes::tms::tms_id;

/// The collections a tile path names, each with its layer's name: one collection (layer
/// `default`, as tipg), or several joined by commas (`a,b`: one layer each, named after it).
async fn layers_of(state: &AppState, id: &str) -> ApiResult<Vec<(String, Arc<Collection>)>> {
    let catalog = database(state)?.catalog().await?;
    if let Some(c) = catalog.get(id) {
        return Ok(vec![(imbrex_vector::tiles::LAYER.to_string(), c)]);
    }
    let parts: Vec<&str> = id.split(',').collect();
    if parts.len() < 2 {
        return Err(ApiError::NotFound(format!("collection '{id}' not found")));
    }
    let mut out: Vec<(String, Arc<Collection>)> = Vec::new();
    for part in parts {
        let c = catalog.get(part).ok_or_else(|| ApiError::NotFound(format!("collection '{part}' not found")))?;
        if out.iter().any(|(name, _)| name == part) {
            return Err(ApiError::path("collectionId", format!("'{part}' is named twice")));
        }
        out.push((part.to_string(), c));
    }
    Ok(out)
}

/// The TileMatrixSet and the collection a tileset path names.
async fn tileset_of(state: &AppState, id: &str, tms_path: &str) -> ApiResult<(Arc<TileMatrixSet>, Arc<Collection>)> {
    let tms = state.tms.get(&tms_id(tms_path)?)?;
    let (_, c) = find(state, id).await?;
    Ok((tms, c))
}

fn tile_query(state: &AppState, c: &Collection, q: &QueryMap) -> ApiResult<TileQuery> {
    let d = TileQuery::default();
    let max = state.config.limits.max_features_per_tile;
    let limit = q.get::<usize>("limit")?.unwrap_or(d.limit.min(max));
    if limit == 0 || limit > max {
        return Err(ApiError::query("limit", format!("between 1 and {max}")));
    }
    Ok(TileQuery {
        selection: selection(c, q)?,
        properties: list(q, "properties"),
        geom_column: q.raw("geom-column").map(str::to_string),
        limit,
        extent: q.get::<u32>("extent")?.unwrap_or(d.extent),
        buffer: q.get::<u32>("buffer")?.unwrap_or(d.buffer),
        clip: q.get_bool("clip")?.unwrap_or(d.clip),
        sortby: sortby(q),
        simplify: q.get::<f64>("simplify")?,
        layer: d.layer,
    })
}

/// A Mapbox Vector Tile (layer `default`, as tipg).
#[utoipa::path(get, path = "/collections/{collectionId}/tiles/{tileMatrixSetId}/{z}/{x}/{y}", tag = "OGC Features and Vector Tiles",
    params(("collectionId" = String, Path, description = "Collection id (schema.table or schema.function)"), ("tileMatrixSetId" = String, Path, description = "TileMatrixSet identifier"),
        ("z" = i32, Path, description = "Zoom (tile matrix)"), ("x" = u64, Path, description = "Column"), ("y" = u64, Path, description = "Row"),
        ("bbox" = Option<String>, Query, description = "minx,miny,maxx,maxy in longitude/latitude"),
        ("datetime" = Option<String>, Query, description = "Instant or interval (RFC 3339, open ends ..)"),
        ("ids" = Option<String>, Query, description = "Comma-separated ids"),
        ("properties" = Option<String>, Query, description = "Comma-separated properties to return"),
        ("filter" = Option<String>, Query, description = "CQL2 filter"),
        ("filter-lang" = Option<String>, Query, description = "cql2-text (default) or cql2-json"),
        ("datetime-column" = Option<String>, Query, description = "The date/time column datetime= filters on (default: the first)"),
        ("sortby" = Option<String>, Query, description = "Properties the feature cap keeps first (-name: descending)"),
        ("simplify" = Option<f64>, Query, description = "Simplification tolerance in the units of the TileMatrixSet CRS"),
        ("geom-column" = Option<String>, Query, description = "Geometry column (default: the first)"),
        ("limit" = Option<usize>, Query, description = "Most features in the tile (default 10000)"),
        ("extent" = Option<u32>, Query, description = "Tile extent (default 4096)"),
        ("buffer" = Option<u32>, Query, description = "Buffer in tile units (default 256)"),
        ("clip" = Option<bool>, Query, description = "Clip geometries to the buffered tile (default true)")),
    responses((status = 200, description = "A Mapbox Vector Tile (layer default)", content_type = "application/vnd.mapbox-vector-tile")))]
pub async fn tile(
    State(state): State<AppState>,
    Path((id, tms_path, z, x, y)): Path<(String, String, String, String, String)>,
    q: QueryMap,
) -> ApiResult<Response> {
    let tms = state.tms.get(&tms_id(&tms_path)?)?;
    let tile = Tile::new(
        path_param("x", &x)?,
        path_param("y", y.trim_end_matches(".pbf").trim_end_matches(".mvt"))?,
        path_param("z", &z)?,
    );
    let db = database(&state)?.clone();
    let catalog = db.catalog().await?;
    // A collection of that id first (as the other routes find it), then a tile function.
    let function = catalog.get(&id).is_none().then(|| catalog.functions.get(&id)).flatten();
    // Whether the tile cache hears of every change to this tile (see `tile_cache::Volatile`).
    let mut notified = false;
    let bytes = if let Some(f) = function {
        // A tile function gets every query parameter, as one JSON object of strings.
        let params: serde_json::Map<String, Value> =
            q.every_pair().iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        imbrex_vector::tiles::function_tile(&db, f, &tms, tile, &Value::Object(params)).await?
    } else {
        // Several collections: their layers are queried at once (a connection each) and
        // joined; an MVT is its layers one after another.
        let layers = layers_of(&state, &id).await?;
        notified = matches!(layers.as_slice(), [(_, c)] if db.notifies(c));
        let queries = layers
            .iter()
            .map(|(name, c)| Ok((c, TileQuery { layer: name.clone(), ..tile_query(&state, c, &q)? })))
            .collect::<ApiResult<Vec<_>>>()?;
        let tiles = futures::future::try_join_all(
            queries.iter().map(|(c, tq)| imbrex_vector::tiles::tile(&db, c, &tms, tile, tq)),
        )
        .await?;
        tiles.concat()
    };
    let mut r = bytes.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(MVT));
    if !notified {
        r.extensions_mut().insert(crate::tile_cache::Volatile);
    }
    Ok(r)
}

/// TileJSON for a collection's vector tiles; other query parameters go to the tile URLs.
#[utoipa::path(get, path = "/collections/{collectionId}/tiles/{tileMatrixSetId}/tilejson.json", tag = "OGC Features and Vector Tiles",
    params(("collectionId" = String, Path, description = "Collection id (schema.table or schema.function)"), ("tileMatrixSetId" = String, Path, description = "TileMatrixSet identifier"), ("minzoom" = Option<i32>, Query, description = "Overwrite the minzoom"),
        ("maxzoom" = Option<i32>, Query, description = "Overwrite the maxzoom")),
    responses((status = 200, description = "TileJSON 3.0", content_type = "application/json")))]
pub async fn tilejson(
    State(state): State<AppState>,
    Path((id, tms_path)): Path<(String, String)>,
    base: BaseUrl,
    q: QueryMap,
) -> ApiResult<Response> {
    let TileSource { layers, minzoom, maxzoom, url } = tile_source(&state, &id, &tms_path, &base, &q).await?;
    let vector_layers: Vec<Value> = layers
        .iter()
        .map(|(name, c)| {
            let fields: serde_json::Map<String, Value> =
                c.properties.iter().map(|p| (p.name.clone(), json!(p.json_type()))).collect();
            json!({"id": name, "fields": fields, "minzoom": minzoom, "maxzoom": maxzoom})
        })
        .collect();
    let b = union_bounds(&layers);
    Ok(json_response(
        json!({
            "tilejson": "3.0.0",
            "name": id,
            "version": "1.0.0",
            "scheme": "xyz",
            "tiles": [url],
            "vector_layers": vector_layers,
            "minzoom": minzoom,
            "maxzoom": maxzoom,
            "bounds": b,
            "center": [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0, minzoom],
        }),
        "application/json",
    ))
}

/// The union of the layers' extents (the world when none is known).
fn union_bounds(layers: &[(String, Arc<Collection>)]) -> [f64; 4] {
    layers
        .iter()
        .filter_map(|(_, c)| c.bounds())
        .reduce(|a, b| [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])])
        .unwrap_or([-180.0, -90.0, 180.0, 90.0])
}

/// The query string to pass on to tile URLs (all but the document's own parameters).
fn tile_query_string(q: &QueryMap) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in q.pairs().iter().filter(|(k, _)| !matches!(k.as_str(), "minzoom" | "maxzoom" | "f")) {
        s.append_pair(k, v);
    }
    let qs = s.finish();
    if qs.is_empty() { qs } else { format!("?{qs}") }
}

/// What a TileJSON and a style say of a collection's (or composite's) tiles: the layers,
/// the zooms and the tile URL template (with the request's other parameters).
struct TileSource {
    layers: Vec<(String, Arc<Collection>)>,
    minzoom: i32,
    maxzoom: i32,
    url: String,
}

async fn tile_source(
    state: &AppState,
    id: &str,
    tms_path: &str,
    base: &BaseUrl,
    q: &QueryMap,
) -> ApiResult<TileSource> {
    let tms = state.tms.get(&tms_id(tms_path)?)?;
    let layers = layers_of(state, id).await?;
    let (minzoom, maxzoom) = zooms(&tms, q)?;
    let url =
        base.join(&format!("/collections/{}/tiles/{}/{{z}}/{{x}}/{{y}}{}", seg(id), tms.id(), tile_query_string(q)));
    Ok(TileSource { layers, minzoom, maxzoom, url })
}

fn zooms(tms: &TileMatrixSet, q: &QueryMap) -> ApiResult<(i32, i32)> {
    Ok((q.get::<i32>("minzoom")?.unwrap_or(tms.minzoom()), q.get::<i32>("maxzoom")?.unwrap_or(tms.maxzoom().min(22))))
}

/// OGC API - Tiles tileset metadata of a collection in one TileMatrixSet.
fn tileset_doc(
    base: &BaseUrl,
    c: &Collection,
    tms: &TileMatrixSet,
    q: &QueryMap,
    with_limits: bool,
) -> ApiResult<Value> {
    let id = tms.id();
    let qs = tile_query_string(q);
    let href = base.join(&format!("/collections/{}/tiles/{id}", seg(&c.id)));
    let mut doc = json!({
        "title": format!("'{}' tileset tiled using {id} TileMatrixSet", c.id),
        "dataType": "vector",
        "crs": tms.crs().to_uri().unwrap_or_else(|| tms.crs().to_uri_or_definition()),
        "links": [
            link(href.clone(), "self", "application/json", None),
            link(format!("{href}/{{z}}/{{x}}/{{y}}{qs}"), "item", MVT, Some("Templated link for retrieving vector tiles")),
            link(base.join(&format!("/tileMatrixSets/{id}")), "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "application/json", None),
        ],
        "layers": [{"id": imbrex_vector::tiles::LAYER, "dataType": "vector"}],
    });
    doc["links"][1]["templated"] = json!(true);
    if let Some(b) = c.bounds() {
        doc["boundingBox"] = json!({"lowerLeft": [b[0], b[1]], "upperRight": [b[2], b[3]], "crs": CRS84});
        if with_limits {
            let (minz, maxz) = zooms(tms, q)?;
            let bounds = Bounds::new(b[0], b[1], b[2], b[3]);
            doc["tileMatrixSetLimits"] = crate::routes::dataset::limits(tms, &bounds, minz, maxz)
                .into_iter()
                .map(|(m, r0, r1, c0, c1)| json!({"tileMatrix": m, "minTileRow": r0, "maxTileRow": r1, "minTileCol": c0, "maxTileCol": c1}))
                .collect();
        }
    }
    Ok(doc)
}

/// The tilesets of a collection, one per TileMatrixSet.
#[utoipa::path(get, path = "/collections/{collectionId}/tiles", tag = "OGC Features and Vector Tiles",
    params(("collectionId" = String, Path, description = "Collection id (schema.table or schema.function)")),
    responses((status = 200, description = "OGC API - Tiles tileset list", content_type = "application/json")))]
pub async fn tilesets(
    State(state): State<AppState>,
    Path(id): Path<String>,
    base: BaseUrl,
    q: QueryMap,
) -> ApiResult<Response> {
    let (_, c) = find(&state, &id).await?;
    let sets = state.tms.iter().map(|t| tileset_doc(&base, &c, t, &q, false)).collect::<ApiResult<Vec<_>>>()?;
    Ok(json_response(json!({"tilesets": sets}), "application/json"))
}

/// One tileset, with the tile limits of every zoom.
#[utoipa::path(get, path = "/collections/{collectionId}/tiles/{tileMatrixSetId}", tag = "OGC Features and Vector Tiles",
    params(("collectionId" = String, Path, description = "Collection id (schema.table or schema.function)"), ("tileMatrixSetId" = String, Path, description = "TileMatrixSet identifier")),
    responses((status = 200, description = "OGC API - Tiles tileset", content_type = "application/json")))]
pub async fn tileset(
    State(state): State<AppState>,
    Path((id, tms_path)): Path<(String, String)>,
    base: BaseUrl,
    q: QueryMap,
) -> ApiResult<Response> {
    let (tms, c) = tileset_of(&state, &id, &tms_path).await?;
    Ok(json_response(tileset_doc(&base, &c, &tms, &q, true)?, "application/json"))
}

/// A MapLibre style drawing the collection's tiles (fill, line and circle layers), as tipg.
#[utoipa::path(get, path = "/collections/{collectionId}/tiles/{tileMatrixSetId}/style.json", tag = "OGC Features and Vector Tiles",
    params(("collectionId" = String, Path, description = "Collection id (schema.table or schema.function)"), ("tileMatrixSetId" = String, Path, description = "TileMatrixSet identifier")),
    responses((status = 200, description = "A MapLibre style", content_type = "application/json")))]
pub async fn style(
    State(state): State<AppState>,
    Path((id, tms_path)): Path<(String, String)>,
    base: BaseUrl,
    q: QueryMap,
) -> ApiResult<Response> {
    let TileSource { layers, minzoom, maxzoom, url } = tile_source(&state, &id, &tms_path, &base, &q).await?;
    let b = union_bounds(&layers);
    // MapLibre 4 reports multi-part geometries as `Multi...` (tipg's filter on the single
    // type alone draws no MultiPolygon country), so each layer matches both.
    let layer = |c: &Collection, source_layer: &str, suffix: &str, kind: &str, geometry: &str, paint: Value| {
        json!({"id": format!("{}_{suffix}", c.id), "source": id, "source-layer": source_layer,
            "type": kind, "filter": ["match", ["geometry-type"], [geometry, format!("Multi{geometry}")], true, false],
            "paint": paint})
    };
    let mut style_layers = Vec::new();
    for (name, c) in &layers {
        style_layers.extend([
            layer(
                c,
                name,
                "fill",
                "fill",
                "Polygon",
                json!({"fill-color": "rgba(200, 100, 240, 0.4)", "fill-outline-color": "#000"}),
            ),
            layer(
                c,
                name,
                "stroke",
                "line",
                "LineString",
                json!({"line-color": "#000", "line-width": 1, "line-opacity": 0.75}),
            ),
            layer(
                c,
                name,
                "point",
                "circle",
                "Point",
                json!({"circle-color": "#000", "circle-radius": 2.5, "circle-opacity": 0.75}),
            ),
        ]);
    }
    Ok(json_response(
        json!({
            "version": 8,
            "name": "imbrex",
            "sources": {id.clone(): {"type": "vector", "scheme": "xyz", "tiles": [url], "bounds": b, "minzoom": minzoom, "maxzoom": maxzoom}},
            "layers": style_layers,
            "center": [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0],
            "zoom": minzoom,
        }),
        "application/json",
    ))
}

/// A MapLibre map of the collection's tiles, drawn with its style.json (MapLibre is served
/// from the binary, so the page works offline). WebMercatorQuad only, as MapLibre.
#[utoipa::path(get, path = "/collections/{collectionId}/tiles/{tileMatrixSetId}/map.html", tag = "OGC Features and Vector Tiles",
    params(("collectionId" = String, Path, description = "Collection id (schema.table or schema.function)"), ("tileMatrixSetId" = String, Path, description = "TileMatrixSet identifier")),
    responses((status = 200, description = "A MapLibre map of the tiles", content_type = "text/html")))]
pub async fn map_html(
    State(state): State<AppState>,
    Path((id, tms_path)): Path<(String, String)>,
    base: BaseUrl,
    q: QueryMap,
) -> ApiResult<Html<String>> {
    let tms = state.tms.get(&tms_id(&tms_path)?)?;
    if tms.id() != "WebMercatorQuad" {
        return Err(ApiError::path("tileMatrixSetId", "the map page draws WebMercatorQuad tiles (MapLibre)"));
    }
    layers_of(&state, &id).await?;
    let style =
        base.join(&format!("/collections/{}/tiles/WebMercatorQuad/style.json{}", seg(&id), tile_query_string(&q)));
    let style_js = crate::html::script_json(&style);
    let root = crate::html::escape(&base.0);
    let title = crate::html::escape(&id);
    Ok(Html(format!(
        r##"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{root}/static/maplibre-gl.css">
<script src="{root}/static/maplibre-gl.js"></script>
<style>body{{margin:0}}#map{{position:absolute;top:0;bottom:0;width:100%}}</style></head>
<body><div id="map"></div>
<script>
fetch({style_js}).then(r => r.json()).then(style => {{
  const map = new maplibregl.Map({{container: "map", style: style}});
  map.addControl(new maplibregl.NavigationControl());
  const b = style.sources[Object.keys(style.sources)[0]].bounds;
  map.fitBounds([[b[0], Math.max(b[1], -85)], [b[2], Math.min(b[3], 85)]], {{animate: false}});
  map.on("idle", () => {{ window.imbrexLoaded = true; }});
}});
</script></body></html>"##
    )))
}
