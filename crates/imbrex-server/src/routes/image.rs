//! `/image`: images and arrays without georeference (`imbrex serve PATH...`), tiled in
//! their own pixel grid (see `imbrex_raster::pixel`), with the processing and rendering
//! parameters of `/cog`, and a pan/zoom viewer.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use imbrex_raster::pixel::{Downsample, PixelImage};
use imbrex_raster::{OutputSize, StatisticsOptions};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{BaseUrl, QueryMap, path_param};
use crate::params::{
    FormatParams, PostProcessParams, Processing, QueryGroup, ReadParams, SizeParams, StatisticsParams,
};
use crate::routes::dataset::{encode_query, point_document, respond_with, split_ext};

/// Tile sizes a pixel grid takes.
const TILESIZES: std::ops::RangeInclusive<usize> = 64..=1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/image", get(list))
        .route("/image/{name}/tiles/{z}/{x}/{y}", get(tile))
        .route("/image/{name}/tilejson.json", get(tilejson))
        .route("/image/{name}/info", get(info))
        .route("/image/{name}/statistics", get(statistics))
        .route("/image/{name}/point/{xy}", get(point))
        .route("/image/{name}/preview", get(preview))
        .route("/image/{name}/viewer", get(viewer))
        // `preview.{format}`.
        .route("/image/{name}/{dotted}", get(dotted))
}

/// A name as a path segment of a link (RFC 3986's unreserved characters kept).
fn seg(name: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(name, SEGMENT).to_string()
}

async fn open(state: &AppState, name: &str) -> ApiResult<Arc<PixelImage>> {
    Ok(state.images.get(name).await?)
}

/// `resampling=`: how the pyramid below 1:1 is made (the mean by default; `nearest` for
/// class codes).
fn downsample(q: &QueryMap) -> ApiResult<Downsample> {
    match q.raw("resampling") {
        None | Some("average") => Ok(Downsample::Mean),
        Some("nearest") => Ok(Downsample::Nearest),
        Some(other) => Err(ApiError::query("resampling", format!("'{other}': images take average or nearest"))),
    }
}

fn tilesize(q: &QueryMap) -> ApiResult<usize> {
    match q.get::<usize>("tilesize")?.unwrap_or(256) {
        t if TILESIZES.contains(&t) => Ok(t),
        _ => Err(ApiError::query("tilesize", "between 64 and 1024")),
    }
}

/// What is served.
#[utoipa::path(get, path = "/image", tag = "Images",
    responses((status = 200, description = "The images served in pixel space", content_type = "application/json")))]
pub async fn list(State(state): State<AppState>, base: BaseUrl) -> Response {
    let images: Vec<Value> = state
        .images
        .names()
        .map(|name| {
            let link = |path: &str, rel: &str, media: &str| {
                json!({"href": base.join(&format!("/image/{}/{path}", seg(name))), "rel": rel, "type": media})
            };
            json!({"name": name, "links": [
                link("tilejson.json", "tilejson", "application/json"),
                link("info", "describedby", "application/json"),
                link("viewer", "alternate", "text/html"),
            ]})
        })
        .collect();
    axum::Json(json!({ "images": images })).into_response()
}

/// A tile: zoom 0 holds the whole image, the last zoom is 1:1.
#[utoipa::path(get, path = "/image/{name}/tiles/{z}/{x}/{y}", tag = "Images",
    params(("name" = String, Path, description = "Image name (file stem)"),
        ("z" = u32, Path, description = "Zoom (0: the whole image in one tile)"),
        ("x" = u64, Path, description = "Column"), ("y" = String, Path, description = "Row, optionally with .{format}"),
        ("tilesize" = Option<usize>, Query, description = "Tile size, 64 to 1024 (default 256)"),
        ("resampling" = Option<String>, Query, description = "Below 1:1: average (default) or nearest (class codes)")),
    responses((status = 200, description = "An image tile", content_type = "image/png"),
        (status = 404, description = "Unknown image or a tile outside it", body = crate::error::Detail)))]
pub async fn tile(
    State(state): State<AppState>,
    Path((name, z, x, y_seg)): Path<(String, String, String, String)>,
    query: QueryMap,
) -> ApiResult<Response> {
    let (y, ext) = split_ext(&y_seg);
    let format = FormatParams::parse(&state, &query)?.or_ext(ext)?;
    let (z, x, y): (u32, u64, u64) = (path_param("z", &z)?, path_param("x", &x)?, path_param("y", y)?);
    let (ts, method) = (tilesize(&query)?, downsample(&query)?);
    let mut recipe = Processing::parse(&state, &query)?.recipe();
    recipe.read.buffer = recipe.read.buffer.max(recipe.algorithm_buffer() as f64);
    let img = open(&state, &name).await?;
    let data = img.tile(z, x, y, ts, method, &recipe.read).await?;
    respond_with(&state, img.as_ref(), &format!("image:{name}"), &recipe, data, format).await
}

/// TileJSON of the pixel grid (no geographic bounds: `width`, `height` and `tileSize`
/// say where the image is).
#[utoipa::path(get, path = "/image/{name}/tilejson.json", tag = "Images",
    params(("name" = String, Path, description = "Image name"),
        ("tile_format" = Option<String>, Query, description = "Tile format (default png)"),
        ("tilesize" = Option<usize>, Query, description = "Tile size, 64 to 1024 (default 256)")),
    responses((status = 200, description = "TileJSON", content_type = "application/json")))]
pub async fn tilejson(
    State(state): State<AppState>,
    base: BaseUrl,
    Path(name): Path<String>,
    query: QueryMap,
) -> ApiResult<Response> {
    let ts = tilesize(&query)?;
    let fmt = query.raw("tile_format").unwrap_or("png");
    if crate::routes::tile_format_name(fmt).is_none() {
        return Err(ApiError::query("tile_format", format!("'{fmt}' is not a tile format")));
    }
    Processing::parse(&state, &query)?;
    let img = open(&state, &name).await?;
    let rest = encode_query(&query, &["tile_format"]);
    let q = if rest.is_empty() { String::new() } else { format!("?{rest}") };
    Ok(axum::Json(json!({
        "tilejson": "3.0.0",
        "name": name,
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [base.join(&format!("/image/{}/tiles/{{z}}/{{x}}/{{y}}.{fmt}{q}", seg(&name)))],
        "minzoom": 0,
        "maxzoom": img.maxzoom(ts),
        "tileSize": ts,
        "width": img.width,
        "height": img.height,
    }))
    .into_response())
}

/// rio-tiler's `Info` of the image (bounds in pixels, no CRS) and its zooms.
#[utoipa::path(get, path = "/image/{name}/info", tag = "Images",
    params(("name" = String, Path, description = "Image name"),
        ("tilesize" = Option<usize>, Query, description = "Tile size the zooms are given for (default 256)")),
    responses((status = 200, description = "Image metadata", content_type = "application/json")))]
pub async fn info(State(state): State<AppState>, Path(name): Path<String>, query: QueryMap) -> ApiResult<Response> {
    let ts = tilesize(&query)?;
    let img = open(&state, &name).await?;
    let mut doc = serde_json::to_value(img.describe()).map_err(|e| ApiError::Internal(e.to_string()))?;
    doc["minzoom"] = json!(0);
    doc["maxzoom"] = json!(img.maxzoom(ts));
    doc["tilesize"] = json!(ts);
    Ok(axum::Json(doc).into_response())
}

/// Statistics of the image (computed on the pyramid level of at most `max_size` pixels,
/// 1024 by default).
#[utoipa::path(get, path = "/image/{name}/statistics", tag = "Images",
    params(("name" = String, Path, description = "Image name"), StatisticsParams, SizeParams),
    responses((status = 200, description = "Band statistics", content_type = "application/json")))]
pub async fn statistics(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: QueryMap,
) -> ApiResult<Response> {
    let read = ReadParams::parse(&state, &query)?;
    let post = PostProcessParams::parse(&state, &query)?;
    let stats = StatisticsParams::parse(&state, &query)?;
    let size = SizeParams::parse(&state, &query)?;
    let method = downsample(&query)?;
    let recipe = imbrex_raster::render::Recipe {
        read: read.options(),
        expression: read.expression.clone(),
        algorithm: post.algorithm,
        ..Default::default()
    };
    let img = open(&state, &name).await?;
    let data = img.preview(size.size(Some(OutputSize::PREVIEW_MAX)), method, &recipe.read).await?;
    let data = recipe.post_process_on(img.as_ref(), &state.render.cpu, data).await?;
    let opts: StatisticsOptions = stats.options();
    let stats = state.render.cpu.run(move || data.statistics(&opts)).await?;
    let doc: serde_json::Map<String, Value> =
        stats.into_iter().map(|(k, v)| (k, serde_json::to_value(v).unwrap_or(Value::Null))).collect();
    Ok(axum::Json(Value::Object(doc)).into_response())
}

/// The values at a pixel: `{x},{y}` are the column and row (fractions allowed).
#[utoipa::path(get, path = "/image/{name}/point/{xy}", tag = "Images",
    params(("name" = String, Path, description = "Image name"),
        ("xy" = String, Path, description = "column,row"), ReadParams),
    responses((status = 200, description = "Values", content_type = "application/json"),
        (status = 404, description = "Outside the image", body = crate::error::Detail)))]
pub async fn point(
    State(state): State<AppState>,
    Path((name, xy)): Path<(String, String)>,
    query: QueryMap,
) -> ApiResult<Response> {
    let (x, y) = xy.split_once(',').ok_or_else(|| ApiError::path("x,y", format!("'{xy}' is not 'x,y'")))?;
    let (x, y): (f64, f64) = (path_param("x", x.trim())?, path_param("y", y.trim())?);
    let read = ReadParams::parse(&state, &query)?;
    let img = open(&state, &name).await?;
    let mut pt = img.point(x, y, &read.options()).await?;
    if let Some(e) = &read.expression {
        pt = pt.apply(e, img.dtype)?;
    }
    Ok(point_document(x, y, &pt))
}

/// The whole image at the pyramid level that fits `max_size` (1024 by default).
#[utoipa::path(get, path = "/image/{name}/preview", tag = "Images",
    params(("name" = String, Path, description = "Image name"), SizeParams, FormatParams),
    responses((status = 200, description = "A preview", content_type = "image/png")))]
pub async fn preview(State(state): State<AppState>, Path(name): Path<String>, query: QueryMap) -> ApiResult<Response> {
    preview_with(state, name, None, query).await
}

async fn dotted(
    State(state): State<AppState>,
    Path((name, seg)): Path<(String, String)>,
    query: QueryMap,
) -> ApiResult<Response> {
    match seg.strip_prefix("preview.") {
        Some(ext) => preview_with(state, name, Some(ext), query).await,
        None => Err(ApiError::NotFound(format!("no route for /image/{name}/{seg}"))),
    }
}

async fn preview_with(state: AppState, name: String, ext: Option<&str>, query: QueryMap) -> ApiResult<Response> {
    let format = FormatParams::parse(&state, &query)?.or_ext(ext)?;
    let size = SizeParams::parse(&state, &query)?;
    let method = downsample(&query)?;
    let recipe = Processing::parse(&state, &query)?.recipe();
    let img = open(&state, &name).await?;
    let data = img.preview(size.size(Some(OutputSize::PREVIEW_MAX)), method, &recipe.read).await?;
    respond_with(&state, img.as_ref(), &format!("image:{name}"), &recipe, data, format).await
}

/// A pan/zoom page over the image's tiles, in pixel space (no map projection); it asks
/// only for tiles inside the image. The query goes to the tiles.
#[utoipa::path(get, path = "/image/{name}/viewer", tag = "Images",
    params(("name" = String, Path, description = "Image name")),
    responses((status = 200, description = "A viewer page", content_type = "text/html")))]
pub async fn viewer(
    State(state): State<AppState>,
    base: BaseUrl,
    Path(name): Path<String>,
    query: QueryMap,
) -> ApiResult<Html<String>> {
    open(&state, &name).await?;
    let rest = encode_query(&query, &[]);
    let tilejson = base.join(&format!("/image/{}/tilejson.json{}", seg(&name), if rest.is_empty() { "" } else { "?" }));
    let tilejson = format!("{tilejson}{rest}");
    Ok(Html(viewer_page(&name, &tilejson)))
}

fn viewer_page(name: &str, tilejson: &str) -> String {
    let title = crate::html::escape(name);
    let tj = crate::html::script_json(&tilejson);
    format!(
        r##"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>html,body{{margin:0;height:100%;overflow:hidden;background:#333;font:13px sans-serif}}
canvas{{display:block;width:100%;height:100%;cursor:grab;touch-action:none}}
#bar{{position:absolute;top:8px;left:8px;background:#fffd;padding:4px 8px;border-radius:4px}}
#bar button{{width:2em}}</style></head>
<body><canvas id="c"></canvas>
<div id="bar"><b>{title}</b> <button id="in">+</button><button id="out">&minus;</button>
<button id="fit">fit</button> <span id="pos"></span></div>
<script>
// Pixel space: `cx, cy` is the image pixel at the canvas centre, `s` screen pixels per
// image pixel. Tiles come from the zoom whose resolution is just above the screen's.
const canvas = document.getElementById("c"), ctx = canvas.getContext("2d");
const view = {{cx: 0, cy: 0, s: 1}}, tiles = new Map();
let tj = null;
window.imbrexViewer = {{view, tilesLoaded: 0, tilesRequested: 0, outside: 0}};
function resize() {{ canvas.width = canvas.clientWidth; canvas.height = canvas.clientHeight; draw(); }}
function fit() {{
  view.cx = tj.width / 2; view.cy = tj.height / 2;
  view.s = Math.min(canvas.width / tj.width, canvas.height / tj.height) * 0.95; draw();
}}
function tileUrl(z, x, y) {{ return tj.tiles[0].replace("{{z}}", z).replace("{{x}}", x).replace("{{y}}", y); }}
function draw() {{
  if (!tj) return;
  ctx.fillStyle = "#333"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  const M = tj.maxzoom, ts = tj.tileSize;
  const z = Math.max(0, Math.min(M, Math.ceil(M + Math.log2(view.s))));
  const span = ts * Math.pow(2, M - z);  // image pixels per tile
  const left = view.cx - canvas.width / 2 / view.s, top = view.cy - canvas.height / 2 / view.s;
  const right = view.cx + canvas.width / 2 / view.s, bottom = view.cy + canvas.height / 2 / view.s;
  // Only tiles that hold image pixels.
  const x0 = Math.max(0, Math.floor(left / span)), y0 = Math.max(0, Math.floor(top / span));
  const x1 = Math.min(Math.ceil(tj.width / span) - 1, Math.floor(right / span));
  const y1 = Math.min(Math.ceil(tj.height / span) - 1, Math.floor(bottom / span));
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) {{
    const key = z + "/" + x + "/" + y;
    let t = tiles.get(key);
    if (!t) {{
      t = new Image(); t.onload = () => {{ window.imbrexViewer.tilesLoaded++; draw(); }};
      t.src = tileUrl(z, x, y); tiles.set(key, t); window.imbrexViewer.tilesRequested++;
      if (x * span >= tj.width || y * span >= tj.height) window.imbrexViewer.outside++;
    }}
    if (t.complete && t.naturalWidth) {{
      const sx = (x * span - left) * view.s, sy = (y * span - top) * view.s;
      ctx.imageSmoothingEnabled = view.s * Math.pow(2, M - z) < 1;
      ctx.drawImage(t, sx, sy, span * view.s + 0.5, span * view.s + 0.5);
    }}
  }}
  document.getElementById("pos").textContent = "zoom " + z + "/" + M;
}}
function zoomAt(f, px, py) {{
  const ix = view.cx + (px - canvas.width / 2) / view.s, iy = view.cy + (py - canvas.height / 2) / view.s;
  view.s = Math.max(1e-4, Math.min(64, view.s * f));
  view.cx = ix - (px - canvas.width / 2) / view.s; view.cy = iy - (py - canvas.height / 2) / view.s; draw();
}}
window.imbrexViewer.pan = (dx, dy) => {{ view.cx -= dx / view.s; view.cy -= dy / view.s; draw(); }};
let drag = null;
canvas.addEventListener("pointerdown", e => {{ drag = [e.clientX, e.clientY]; canvas.setPointerCapture(e.pointerId); }});
canvas.addEventListener("pointermove", e => {{
  if (!drag) return;
  window.imbrexViewer.pan(e.clientX - drag[0], e.clientY - drag[1]); drag = [e.clientX, e.clientY];
}});
canvas.addEventListener("pointerup", () => {{ drag = null; }});
canvas.addEventListener("wheel", e => {{ e.preventDefault(); zoomAt(e.deltaY < 0 ? 1.25 : 0.8, e.offsetX, e.offsetY); }}, {{passive: false}});
document.getElementById("in").onclick = () => zoomAt(2, canvas.width / 2, canvas.height / 2);
document.getElementById("out").onclick = () => zoomAt(0.5, canvas.width / 2, canvas.height / 2);
document.getElementById("fit").onclick = fit;
window.addEventListener("resize", resize);
fetch({tj}).then(r => r.json()).then(j => {{ tj = j; resize(); fit(); window.imbrexViewer.ready = true; }});
</script></body></html>"##
    )
}
