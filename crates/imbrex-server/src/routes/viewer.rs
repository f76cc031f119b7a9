//! Map pages: `/cog/viewer` (paste a URL, see it) and the page of `{prefix}/{tms}/map.html`,
//! with MapLibre GL served from the binary (`/static/...`), so they work offline.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::extract::{BaseUrl, QueryMap};
use crate::routes::dataset::encode_query;

static MAPLIBRE_JS: &[u8] = include_bytes!("../../assets/maplibre/maplibre-gl.js");
static MAPLIBRE_CSS: &[u8] = include_bytes!("../../assets/maplibre/maplibre-gl.css");

pub fn static_router() -> Router<AppState> {
    Router::new()
        .route("/static/maplibre-gl.js", get(|| async { asset(MAPLIBRE_JS, "text/javascript") }))
        .route("/static/maplibre-gl.css", get(|| async { asset(MAPLIBRE_CSS, "text/css") }))
}

fn asset(body: &'static [u8], media: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    r
}

/// The page: a full-window MapLibre map showing the raster of a TileJSON URL.
/// With `url`, the viewer's box holds it and the map shows it (else the box alone shows,
/// or with a `tilejson` the map alone). A `legend` image URL is shown in a corner.
pub(crate) fn page(
    base: &BaseUrl,
    title: &str,
    tilejson: Option<&str>,
    url: Option<&str>,
    legend: Option<&str>,
) -> String {
    let legend = legend.map_or(String::new(), |l| {
        format!(
            "<img id=\"legend\" alt=\"legend\" src=\"{}\" style=\"position:absolute;z-index:2;bottom:24px;left:8px;\
             background:#fff;padding:4px;border-radius:4px;box-shadow:0 1px 4px #0004;max-width:45%\">",
            crate::html::escape(l)
        )
    });
    let js = |s: &str| crate::html::script_json(&s);
    let tj = js(tilejson.unwrap_or(""));
    let url_js = js(url.unwrap_or(""));
    let root_js = js(&base.0);
    format!(
        r##"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{root}/static/maplibre-gl.css">
<script src="{root}/static/maplibre-gl.js"></script>
<style>body{{margin:0;font:14px sans-serif}}#map{{position:absolute;top:0;bottom:0;width:100%}}
#bar{{position:absolute;z-index:2;top:8px;left:8px;background:#fff;padding:6px;border-radius:4px;box-shadow:0 1px 4px #0004}}
#bar input{{width:28em}}</style></head>
<body><div id="bar"><form id="f"><input id="url" placeholder="url= of a COG (a path under --allow-path, https://, s3://, or demo)">
<button>show</button></form><div id="msg"></div></div><div id="map"></div>{legend}
<script>
const root = {root_js};
const map = new maplibregl.Map({{container: "map", style: {{version: 8, sources: {{}}, layers: [
  {{id: "bg", type: "background", paint: {{"background-color": "#dde"}}}}]}}, center: [0, 0], zoom: 1}});
map.addControl(new maplibregl.NavigationControl());
function show(tilejsonUrl) {{
  fetch(tilejsonUrl).then(r => r.ok ? r.json() : r.json().then(e => Promise.reject(e.detail)))
  .then(tj => {{
    if (map.getLayer("raster")) {{ map.removeLayer("raster"); map.removeSource("raster"); }}
    map.addSource("raster", {{type: "raster", tiles: tj.tiles, tileSize: 256, minzoom: tj.minzoom, maxzoom: tj.maxzoom, bounds: tj.bounds}});
    map.addLayer({{id: "raster", type: "raster", source: "raster"}});
    map.fitBounds([[tj.bounds[0], tj.bounds[1]], [tj.bounds[2], tj.bounds[3]]], {{animate: false}});
    document.getElementById("msg").textContent = "";
    window.imbrexLoaded = true;
  }}).catch(e => {{ document.getElementById("msg").textContent = JSON.stringify(e); }});
}}
document.getElementById("f").onsubmit = ev => {{
  ev.preventDefault();
  show(root + "/cog/WebMercatorQuad/tilejson.json?url=" + encodeURIComponent(document.getElementById("url").value));
}};
const initial = {tj};
const url = {url_js};
map.on("load", () => {{
  if (url) {{ document.getElementById("url").value = url; show(initial); }}
  else if (initial) {{ document.getElementById("bar").style.display = "none"; show(initial); }}
}});
</script></body></html>"##,
        root = crate::html::escape(&base.0),
    )
}

/// A viewer for any dataset: paste a `url=`, or open one with `?url=` (the rest of the
/// query goes to its tiles).
#[utoipa::path(get, path = "/cog/viewer", tag = "Cloud Optimized GeoTIFF",
    params(("url" = Option<String>, Query, description = "Dataset URL to show at once")),
    responses((status = 200, description = "A map page", content_type = "text/html")))]
pub async fn viewer(base: BaseUrl, query: QueryMap) -> Html<String> {
    let url = query.raw("url");
    let tilejson = url.map(|_| tilejson_url(&base, &query));
    // A colormap or legend has a legend image: the dataset's bar, or the legend's swatches.
    let colored = ["colormap_name", "colormap", "legend"].iter().any(|p| query.contains(p));
    let legend = (url.is_some() && colored).then(|| base.join(&format!("/cog/legend?{}", encode_query(&query, &[]))));
    Html(page(&base, "imbrex viewer", tilejson.as_deref(), url, legend.as_deref()))
}

/// The TileJSON of the dataset a query names, with the query's rendering parameters.
fn tilejson_url(base: &BaseUrl, query: &QueryMap) -> String {
    base.join(&format!("/cog/WebMercatorQuad/tilejson.json?{}", encode_query(query, &[])))
}
