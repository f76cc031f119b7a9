//! The `/cog` endpoint group: TiTiler's URLs and parameters over imbrex's readers.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use imbrex_raster::reader::OUTPUT_PIXELS;
use imbrex_raster::{OutputSize, Reader, Shape};
use imbrex_tms::{Bounds, Crs, Tile, Transformer};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult, ValidationIssue};
use crate::extract::{BaseUrl, QueryMap, path_param};
use crate::params;
use crate::routes::render::{self, Processing};
use crate::routes::tms::tms_id;
use crate::routes::{cog_meta, viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/info", get(info))
        .route("/info.geojson", get(info_geojson))
        .route("/{tileMatrixSetId}/tilejson.json", get(tilejson))
        .route("/tiles/{tileMatrixSetId}/{z}/{x}/{y}", get(tile))
        .route("/point/{lonlat}", get(point))
        .route("/statistics", get(statistics).post(geojson_statistics))
        .route("/preview", get(preview))
        .route("/preview/{spec}", get(preview_sized))
        .route("/bbox/{bbox}", get(bbox))
        .route("/bbox/{bbox}/{size}", get(bbox_sized))
        .route("/feature", post(feature))
        .route("/feature/{spec}", post(feature_sized))
        .route("/map", get(map))
        .route("/tiles", get(cog_meta::tilesets))
        .route("/tiles/{tileMatrixSetId}", get(cog_meta::tileset_metadata))
        .route("/WMTSCapabilities.xml", get(cog_meta::wmts))
        .route("/validate", get(cog_meta::validate))
        .route("/stac", get(cog_meta::stac))
        .route("/viewer", get(viewer::viewer))
        .route("/{tileMatrixSetId}/map.html", get(viewer::map_html))
        // `/preview.{format}` and `/feature.{format}`: one dotted segment.
        .route("/{dotted}", get(dotted_get).post(dotted_post))
}

async fn dotted_get(state: State<AppState>, Path(seg): Path<String>, query: QueryMap) -> ApiResult<Response> {
    match seg.strip_prefix("preview.") {
        Some(_) => preview_ext(state, &seg, query).await,
        None => Err(ApiError::NotFound(format!("no route for /cog/{seg}"))),
    }
}

async fn dotted_post(
    state: State<AppState>,
    Path(seg): Path<String>,
    query: QueryMap,
    body: Bytes,
) -> ApiResult<Response> {
    match seg.strip_prefix("feature") {
        Some(rest) if rest.starts_with('.') => feature_with(state, Some(rest.to_string()), query, body).await,
        _ => Err(ApiError::NotFound(format!("no route for POST /cog/{seg}"))),
    }
}

async fn preview_ext(state: State<AppState>, seg: &str, query: QueryMap) -> ApiResult<Response> {
    let (_, ext) = split_ext(seg);
    preview_with(state, None, ext.map(str::to_string), query).await
}

/// The reader for the required `url=` parameter (opened once per TTL).
pub async fn reader(state: &AppState, query: &QueryMap) -> ApiResult<std::sync::Arc<Reader>> {
    let url: String = query.require("url")?;
    Ok(state.readers.get(&url).await?)
}

/// Dataset metadata, as rio-tiler's `Info`.
#[utoipa::path(get, path = "/cog/info", tag = "Cloud Optimized GeoTIFF",
    params(("url" = String, Query, description = "Dataset URL: a path under an allowed folder, http(s)://, s3://, or `demo`")),
    responses((status = 200, description = "Dataset metadata", content_type = "application/json"),
        (status = 404, description = "Dataset not found", body = crate::error::Detail),
        (status = 422, description = "Invalid parameter", body = crate::error::ValidationDetail)))]
pub async fn info(State(state): State<AppState>, query: QueryMap) -> ApiResult<Response> {
    let r = reader(&state, &query).await?;
    Ok(axum::Json(r.info()).into_response())
}

/// Dataset metadata as a GeoJSON Feature whose geometry is the dataset footprint.
#[utoipa::path(get, path = "/cog/info.geojson", tag = "Cloud Optimized GeoTIFF",
    params(("url" = String, Query, description = "Dataset URL"),
        ("crs" = Option<String>, Query, description = "CRS of the output geometry (default EPSG:4326)")),
    responses((status = 200, description = "GeoJSON Feature", content_type = "application/geo+json")))]
pub async fn info_geojson(State(state): State<AppState>, query: QueryMap) -> ApiResult<Response> {
    let r = reader(&state, &query).await?;
    let out_crs = match query.raw("crs") {
        Some(c) => Crs::from_user_input(c).map_err(|e| ApiError::query("crs", e.to_string()))?,
        None => Crs::wgs84(),
    };
    let bounds = footprint(&r, &out_crs)?;
    let mut feature = json!({
        "bbox": bounds.to_array(),
        "type": "Feature",
        "geometry": bounds_to_geometry(bounds),
        "properties": r.info(),
    });
    if !out_crs.same_as(&Crs::wgs84()) {
        feature["crs"] = json!({"type": "name", "properties": {"name": out_crs.to_uri_or_definition()}});
    }
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], axum::Json(feature)).into_response())
}

/// The dataset's bounds in `crs`.
fn footprint(r: &Reader, crs: &Crs) -> ApiResult<Bounds> {
    if crs.same_as(&Crs::wgs84()) {
        return Ok(r.geographic_bounds());
    }
    let src = r.crs().ok_or_else(|| ApiError::BadRequest("the dataset has no CRS".into()))?;
    Ok(Transformer::new(src, crs)?.transform_bounds(r.normalized_bounds(), 21)?)
}

/// A polygon for a box; two when it crosses the antimeridian (west > east).
pub fn bounds_to_geometry(b: Bounds) -> Value {
    let ring = |w: f64, s: f64, e: f64, n: f64| json!([[[w, s], [e, s], [e, n], [w, n], [w, s]]]);
    if b.left > b.right {
        json!({"type": "MultiPolygon", "coordinates": [
            ring(b.left, b.bottom, 180.0, b.top),
            ring(-180.0, b.bottom, b.right, b.top),
        ]})
    } else {
        json!({"type": "Polygon", "coordinates": ring(b.left, b.bottom, b.right, b.top)})
    }
}

/// Query parameters that belong to the TileJSON request itself, not to the tiles.
const TILEJSON_OWN: &[&str] = &["tile_format", "tilesize", "minzoom", "maxzoom", "tile_scale"];

/// TileJSON 3.0 for a dataset in a TileMatrixSet.
#[utoipa::path(get, path = "/cog/{tileMatrixSetId}/tilejson.json", tag = "Cloud Optimized GeoTIFF",
    params(("tileMatrixSetId" = String, Path, description = "TileMatrixSet identifier"),
        ("url" = String, Query, description = "Dataset URL"),
        ("tile_format" = Option<String>, Query, description = "Tile format in the URL template (default: automatic)"),
        ("tilesize" = Option<u32>, Query, description = "Tile size in pixels"),
        ("minzoom" = Option<i32>, Query, description = "Overwrite the dataset's minzoom"),
        ("maxzoom" = Option<i32>, Query, description = "Overwrite the dataset's maxzoom")),
    responses((status = 200, description = "TileJSON", content_type = "application/json")))]
pub async fn tilejson(
    State(state): State<AppState>,
    Path(tms_path): Path<String>,
    base: BaseUrl,
    query: QueryMap,
) -> ApiResult<Response> {
    let tms = state.tms.get(&tms_id(&tms_path)?)?;
    let r = reader(&state, &query).await?;
    let (dmin, dmax) = r.zoom_range(&tms);
    let minzoom = query.get::<i32>("minzoom")?.unwrap_or(dmin);
    let maxzoom = query.get::<i32>("maxzoom")?.unwrap_or(dmax);
    let format = match query.raw("tile_format") {
        Some(f) => format!(
            ".{}",
            crate::routes::tile_format_name(f)
                .ok_or_else(|| ApiError::query("tile_format", format!("'{f}' is not a tile format")))?
        ),
        None => String::new(),
    };
    let mut tile_query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query.pairs() {
        if !TILEJSON_OWN.contains(&k.as_str()) {
            tile_query.append_pair(k, v);
        }
    }
    if let Some(ts) = query.get::<u32>("tilesize")? {
        tile_query.append_pair("tilesize", &ts.to_string());
    }
    let tiles = base.join(&format!("/cog/tiles/{}/{{z}}/{{x}}/{{y}}{format}?{}", tms.id(), tile_query.finish()));
    let b = r.geographic_bounds();
    let center_lon = if b.left > b.right {
        ((b.left + b.right + 360.0) / 2.0 + 180.0).rem_euclid(360.0) - 180.0
    } else {
        (b.left + b.right) / 2.0
    };
    let info = r.info();
    Ok(axum::Json(json!({
        "tilejson": "3.0.0",
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [tiles],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": b.to_array(),
        "center": [center_lon, (b.bottom + b.top) / 2.0, minzoom],
        "raster_layers": {},
        "band_descriptions": info.band_descriptions,
        "data_type": info.dtype,
    }))
    .into_response())
}

/// `name.ext` → (`name`, `Some(ext)`); a bare name has no extension.
fn split_ext(seg: &str) -> (&str, Option<&str>) {
    match seg.rsplit_once('.') {
        Some((a, b)) if !b.is_empty() && b.chars().all(|c| c.is_ascii_alphanumeric()) => (a, Some(b)),
        _ => (seg, None),
    }
}

/// `{width}x{height}`.
fn size_spec(name: &str, s: &str) -> ApiResult<(usize, usize)> {
    let (w, h) = s.split_once('x').ok_or_else(|| ApiError::path(name, format!("'{s}' is not WIDTHxHEIGHT")))?;
    let (w, h): (usize, usize) = (path_param("width", w)?, path_param("height", h)?);
    if w == 0 || h == 0 {
        return Err(ApiError::path(name, "sizes must be greater than 0"));
    }
    Ok((w, h))
}

/// A tile in any format (`.npy`, `.png`, `.jpg`..., or automatic JPEG/PNG without one).
#[utoipa::path(get, path = "/cog/tiles/{tileMatrixSetId}/{z}/{x}/{y}.{format}", tag = "Cloud Optimized GeoTIFF",
    params(("tileMatrixSetId" = String, Path, description = "TileMatrixSet identifier"),
        ("z" = i32, Path, description = "Zoom level"), ("x" = u64, Path, description = "Column"), ("y" = u64, Path, description = "Row"),
        ("format" = String, Path, description = "png, pngraw, jpeg, jpg, webp, tif, npy (or none: JPEG when fully valid, else PNG)"),
        ("url" = String, Query, description = "Dataset URL"),
        ("tilesize" = Option<usize>, Query, description = "Tile size in pixels (default: the matrix's)"),
        ("bidx" = Option<Vec<usize>>, Query, description = "Band indexes (1-based)"),
        ("expression" = Option<String>, Query, description = "Band math, e.g. (b2-b1)/(b2+b1)"),
        ("nodata" = Option<String>, Query, description = "Nodata value override (number or nan)"),
        ("unscale" = Option<bool>, Query, description = "Apply scale and offset"),
        ("resampling" = Option<String>, Query, description = "RasterIO resampling"),
        ("reproject" = Option<String>, Query, description = "Warp resampling"),
        ("buffer" = Option<f64>, Query, description = "Extra pixels around the tile (multiple of 0.5)"),
        ("padding" = Option<usize>, Query, description = "Pixels read around the tile and cropped"),
        ("algorithm" = Option<String>, Query, description = "Post-processing algorithm (see /algorithms)"),
        ("algorithm_params" = Option<String>, Query, description = "Algorithm parameters (JSON)"),
        ("rescale" = Option<Vec<String>>, Query, description = "min,max per band"),
        ("color_formula" = Option<String>, Query, description = "rio-color formula"),
        ("colormap_name" = Option<String>, Query, description = "Colormap name (see /colorMaps)"),
        ("colormap" = Option<String>, Query, description = "JSON colormap"),
        ("return_mask" = Option<bool>, Query, description = "Add the mask as alpha (default true)")),
    responses((status = 200, description = "The tile", content_type = "image/png"),
        (status = 404, description = "Tile outside the dataset", body = crate::error::Detail),
        (status = 422, description = "Invalid parameter", body = crate::error::ValidationDetail)))]
pub async fn tile(
    State(state): State<AppState>,
    Path((tms_path, z, x, y_seg)): Path<(String, String, String, String)>,
    query: QueryMap,
) -> ApiResult<Response> {
    let tms = state.tms.get(&tms_id(&tms_path)?)?;
    let (y, ext) = split_ext(&y_seg);
    let format = render::format(ext, &query)?;
    let tile = Tile::new(path_param("x", &x)?, path_param("y", y)?, path_param("z", &z)?);
    let size = match query.get::<usize>("tilesize")? {
        Some(0) => return Err(ApiError::query("tilesize", "must be greater than 0")),
        Some(t) if t > 4096 => return Err(ApiError::query("tilesize", "at most 4096")),
        t => t,
    };
    let mut p = Processing::from_query(&state, &query)?;
    // Hillshade and slope crop `buffer()` pixels per side. TiTiler asks users to add
    // `buffer=3` themselves (else its tiles shrink to 250 px); imbrex reads at least that
    // much, so both kinds of URLs give full tiles.
    p.read.buffer = p.read.buffer.max(p.algorithm_buffer() as f64);
    let url: String = query.require("url")?;
    let r = reader(&state, &query).await?;
    let img = r.tile(&tms, tile, size, &p.read).await?;
    render::respond(&state, &url, &r, &p, img, format).await
}

/// The whole dataset, at most `max_size` pixels on its longer side (default 1024).
#[utoipa::path(get, path = "/cog/preview", tag = "Cloud Optimized GeoTIFF",
    params(("format" = Option<String>, Query, description = "Image format (also as /preview.{format} and /preview/{width}x{height}.{format})"),
        ("url" = String, Query, description = "Dataset URL"),
        ("max_size" = Option<usize>, Query, description = "Longest side (default 1024)"),
        ("height" = Option<usize>, Query, description = "Output height"), ("width" = Option<usize>, Query, description = "Output width"),
        ("dst_crs" = Option<String>, Query, description = "Output CRS")),
    responses((status = 200, description = "The preview", content_type = "image/png")))]
pub async fn preview(state: State<AppState>, query: QueryMap) -> ApiResult<Response> {
    preview_with(state, None, None, query).await
}

/// `/preview/{width}x{height}.{format}`.
pub async fn preview_sized(state: State<AppState>, Path(spec): Path<String>, query: QueryMap) -> ApiResult<Response> {
    preview_with(state, Some(spec), None, query).await
}

/// `/preview`, `/preview.{format}` and `/preview/{w}x{h}.{format}`.
async fn preview_with(
    State(state): State<AppState>,
    spec: Option<String>,
    ext: Option<String>,
    query: QueryMap,
) -> ApiResult<Response> {
    let (mut path_size, mut ext) = (None, ext);
    if let Some(spec) = &spec {
        let (stem, e) = split_ext(spec);
        ext = e.map(str::to_string);
        path_size = Some(size_spec("size", stem)?);
    }
    let format = render::format(ext.as_deref(), &query)?;
    let size = params::output_size_or_path(&query, Some(OutputSize::PREVIEW_MAX), path_size)?;
    let p = Processing::from_query(&state, &query)?;
    let dst_crs = params::crs(&query, "dst_crs")?;
    let url: String = query.require("url")?;
    let r = reader(&state, &query).await?;
    let img = match dst_crs {
        Some(crs) if r.crs().is_some_and(|c| !c.same_as(&crs)) => {
            let b = r.normalized_bounds();
            r.part(b, r.crs(), Some(&crs), size, &p.read).await?
        }
        _ => r.preview(size, &p.read).await?,
    };
    render::respond(&state, &url, &r, &p, img, format).await
}

/// Parse `minx,miny,maxx,maxy[.ext]`.
fn bbox_spec(seg: &str) -> ApiResult<(Bounds, Option<&str>)> {
    let (stem, ext) = split_ext(seg);
    // A trailing `.ext` might also be the decimals of maxy: only known formats count.
    let (stem, ext) = match ext {
        Some(e) if e.parse::<imbrex_raster::render::ImageFormat>().is_ok() => (stem, Some(e)),
        _ => (seg, None),
    };
    let v: Vec<f64> = stem
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| ApiError::path("bbox", format!("'{stem}' is not minx,miny,maxx,maxy")))?;
    match v[..] {
        [a, b, c, d] if a < c && b < d && v.iter().all(|x| x.is_finite()) => Ok((Bounds::new(a, b, c, d), ext)),
        _ => Err(ApiError::path("bbox", format!("'{stem}' is not a valid minx,miny,maxx,maxy box"))),
    }
}

/// A part whose native resolution is over the output bound: a 422 naming the parameters
/// that ask for less.
fn too_large(e: imbrex_raster::Error) -> ApiError {
    match e {
        imbrex_raster::Error::LimitExceeded { limit: OUTPUT_PIXELS, value, max } => ApiError::query(
            "max_size",
            format!(
                "the output would be {value} pixels, above the limit of {max} (limits.max_output_pixels): \
                 ask for less with max_size, width or height"
            ),
        ),
        other => other.into(),
    }
}

async fn bbox_image(
    state: AppState,
    query: QueryMap,
    b: Bounds,
    ext: Option<&str>,
    size: Option<(usize, usize)>,
) -> ApiResult<Response> {
    let format = render::format(ext, &query)?;
    // TiTiler: native resolution unless a size is asked for.
    let size = params::output_size_or_path(&query, None, size)?;
    let p = Processing::from_query(&state, &query)?;
    let coord_crs = params::crs(&query, "coord_crs")?.unwrap_or_else(Crs::wgs84);
    let dst_crs = params::crs(&query, "dst_crs")?;
    let url: String = query.require("url")?;
    let r = reader(&state, &query).await?;
    let img =
        r.part(b, Some(&coord_crs), dst_crs.as_ref().or(Some(&coord_crs)), size, &p.read).await.map_err(too_large)?;
    render::respond(&state, &url, &r, &p, img, format).await
}

/// A box of the dataset (`coord_crs`, default WGS 84), in `dst_crs`.
#[utoipa::path(get, path = "/cog/bbox/{minx},{miny},{maxx},{maxy}.{format}", tag = "Cloud Optimized GeoTIFF",
    params(("minx" = f64, Path, description = "West"), ("miny" = f64, Path, description = "South"),
        ("maxx" = f64, Path, description = "East"), ("maxy" = f64, Path, description = "North"),
        ("format" = String, Path, description = "Image format"),
        ("url" = String, Query, description = "Dataset URL"),
        ("coord_crs" = Option<String>, Query, description = "CRS of the box (default EPSG:4326)"),
        ("dst_crs" = Option<String>, Query, description = "Output CRS (default coord_crs)"),
        ("max_size" = Option<usize>, Query, description = "Longest side"),
        ("height" = Option<usize>, Query, description = "Output height"), ("width" = Option<usize>, Query, description = "Output width")),
    responses((status = 200, description = "The image", content_type = "image/png")))]
pub async fn bbox(State(state): State<AppState>, Path(spec): Path<String>, query: QueryMap) -> ApiResult<Response> {
    let (b, ext) = bbox_spec(&spec)?;
    bbox_image(state.clone(), query.clone(), b, ext, None).await
}

/// A box of the dataset at an explicit size: `/bbox/{minx},{miny},{maxx},{maxy}/{w}x{h}.{format}`.
pub async fn bbox_sized(
    State(state): State<AppState>,
    Path((spec, size)): Path<(String, String)>,
    query: QueryMap,
) -> ApiResult<Response> {
    let (b, _) = bbox_spec(&spec)?;
    let (stem, ext) = split_ext(&size);
    let wh = size_spec("size", stem)?;
    bbox_image(state.clone(), query.clone(), b, ext, Some(wh)).await
}

/// The pixels under a GeoJSON Feature (masked outside it).
#[utoipa::path(post, path = "/cog/feature", tag = "Cloud Optimized GeoTIFF",
    params(("format" = Option<String>, Query, description = "Image format (also as /feature.{format} and /feature/{width}x{height}.{format})"),
        ("url" = String, Query, description = "Dataset URL"),
        ("coord_crs" = Option<String>, Query, description = "CRS of the GeoJSON (default EPSG:4326)"),
        ("dst_crs" = Option<String>, Query, description = "Output CRS (default coord_crs)"),
        ("max_size" = Option<usize>, Query, description = "Longest side")),
    request_body(content = Value, description = "GeoJSON Feature", content_type = "application/json"),
    responses((status = 200, description = "The image", content_type = "image/png")))]
pub async fn feature(state: State<AppState>, query: QueryMap, body: Bytes) -> ApiResult<Response> {
    feature_with(state, None, query, body).await
}

/// `/feature/{width}x{height}.{format}`.
pub async fn feature_sized(
    state: State<AppState>,
    Path(spec): Path<String>,
    query: QueryMap,
    body: Bytes,
) -> ApiResult<Response> {
    feature_with(state, Some(spec), query, body).await
}

async fn feature_with(
    State(state): State<AppState>,
    spec: Option<String>,
    query: QueryMap,
    body: Bytes,
) -> ApiResult<Response> {
    let (mut size, mut ext) = (None, None);
    if let Some(spec) = &spec {
        // `.png` (from `/feature.png`) or `{w}x{h}.png`.
        let (stem, e) = match spec.strip_prefix('.') {
            Some(ext) => ("", Some(ext)),
            None => split_ext(spec),
        };
        ext = e;
        if !stem.is_empty() {
            size = Some(size_spec("size", stem)?);
        }
    }
    let format = render::format(ext, &query)?;
    let geojson: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::Validation(vec![ValidationIssue::body(format!("invalid JSON: {e}"))]))?;
    let shape =
        Shape::from_geojson(&geojson).map_err(|e| ApiError::Validation(vec![ValidationIssue::body(e.to_string())]))?;
    let size = params::output_size_or_path(&query, None, size)?;
    let p = Processing::from_query(&state, &query)?;
    let coord_crs = params::crs(&query, "coord_crs")?.unwrap_or_else(Crs::wgs84);
    let dst_crs = params::crs(&query, "dst_crs")?;
    let url: String = query.require("url")?;
    let r = reader(&state, &query).await?;
    let img = r.feature(&shape, &coord_crs, dst_crs.as_ref(), size, false, &p.read).await.map_err(too_large)?;
    render::respond(&state, &url, &r, &p, img, format).await
}

/// OGC API - Maps: a map of `bbox` (in `bbox-crs`) in `crs`, `width` x `height`.
#[utoipa::path(get, path = "/cog/map", tag = "Cloud Optimized GeoTIFF",
    params(("url" = String, Query, description = "Dataset URL"),
        ("bbox" = Option<String>, Query, description = "minx,miny,maxx,maxy (default: the dataset's bounds)"),
        ("bbox-crs" = Option<String>, Query, description = "CRS of bbox (default: crs, else WGS 84)"),
        ("crs" = Option<String>, Query, description = "Output CRS (default: the dataset's)"),
        ("width" = Option<usize>, Query, description = "Width"), ("height" = Option<usize>, Query, description = "Height"),
        ("f" = Option<String>, Query, description = "Image format")),
    responses((status = 200, description = "The map", content_type = "image/png")))]
pub async fn map(State(state): State<AppState>, query: QueryMap) -> ApiResult<Response> {
    let format = Some(render::format(None, &query)?.unwrap_or(imbrex_raster::render::ImageFormat::Png));
    let p = Processing::from_query(&state, &query)?;
    let url: String = query.require("url")?;
    let r = reader(&state, &query).await?;
    let crs = params::crs(&query, "crs")?;
    let bbox_crs = params::crs(&query, "bbox-crs")?;
    let (width, height) = (query.get::<usize>("width")?, query.get::<usize>("height")?);
    if width == Some(0) || height == Some(0) {
        return Err(ApiError::query(if width == Some(0) { "width" } else { "height" }, "must be greater than 0"));
    }
    // OGC Maps: one side given, the other keeps a 1:1 aspect of the box; none: 1024 max.
    let size = OutputSize {
        width,
        height,
        max_size: (width.is_none() && height.is_none()).then_some(OutputSize::PREVIEW_MAX),
    };
    let img = match query.raw("bbox") {
        Some(b) => {
            let v: Vec<f64> = b.split(',').filter_map(|s| s.trim().parse().ok()).collect();
            let b = match v[..] {
                [a, b, c, d] | [a, b, _, c, d, _] if a < c && b < d => Bounds::new(a, b, c, d),
                _ => return Err(ApiError::query("bbox", format!("'{b}' is not minx,miny,maxx,maxy"))),
            };
            let bc = bbox_crs.clone().or_else(|| crs.clone()).unwrap_or_else(Crs::crs84);
            r.part(b, Some(&bc), crs.as_ref().or(Some(&bc)), size, &p.read).await?
        }
        None => match crs {
            Some(c) if r.crs().is_some_and(|rc| !rc.same_as(&c)) => {
                r.part(r.normalized_bounds(), r.crs(), Some(&c), size, &p.read).await?
            }
            _ => r.preview(size, &p.read).await?,
        },
    };
    render::respond(&state, &url, &r, &p, img, format).await
}

/// The values at a point (lon,lat in `coord_crs`, WGS 84 by default).
#[utoipa::path(get, path = "/cog/point/{lon},{lat}", tag = "Cloud Optimized GeoTIFF",
    params(("lon" = f64, Path, description = "Longitude (or x in coord_crs)"), ("lat" = f64, Path, description = "Latitude (or y)"),
        ("url" = String, Query, description = "Dataset URL"),
        ("coord_crs" = Option<String>, Query, description = "CRS of the coordinates (default EPSG:4326)"),
        ("bidx" = Option<Vec<usize>>, Query, description = "Band indexes (1-based)"),
        ("expression" = Option<String>, Query, description = "Band math"),
        ("nodata" = Option<String>, Query, description = "Nodata value override"),
        ("unscale" = Option<bool>, Query, description = "Apply scale and offset")),
    responses((status = 200, description = "Values (null where masked)", content_type = "application/json"),
        (status = 400, description = "Point outside the dataset", body = crate::error::Detail)))]
pub async fn point(State(state): State<AppState>, Path(lonlat): Path<String>, query: QueryMap) -> ApiResult<Response> {
    let (lon, lat) =
        lonlat.split_once(',').ok_or_else(|| ApiError::path("lon,lat", format!("'{lonlat}' is not 'lon,lat'")))?;
    let (lon, lat): (f64, f64) = (path_param("lon", lon.trim())?, path_param("lat", lat.trim())?);
    let coord_crs = params::crs(&query, "coord_crs")?;
    let p = Processing::from_query(&state, &query)?;
    let r = reader(&state, &query).await?;
    let pt = r.point_with(lon, lat, coord_crs.as_ref(), p.expression.as_ref(), &p.read).await?;
    // rio-tiler evaluates the expression as float64 too when every band has statistics.
    p.check(&r)?;
    let values: Vec<Value> =
        pt.values.iter().zip(&pt.valid).map(|(v, ok)| if *ok { json!(v) } else { Value::Null }).collect();
    Ok(axum::Json(json!({
        "coordinates": [lon, lat],
        "values": values,
        "band_names": pt.band_names,
        "band_descriptions": pt.band_descriptions,
    }))
    .into_response())
}

/// Statistics of the dataset (computed on a preview of at most `max_size` pixels).
#[utoipa::path(get, path = "/cog/statistics", tag = "Cloud Optimized GeoTIFF",
    params(("url" = String, Query, description = "Dataset URL"),
        ("max_size" = Option<usize>, Query, description = "Longest side of the preview the statistics use (default 1024)"),
        ("height" = Option<usize>, Query, description = "Preview height"), ("width" = Option<usize>, Query, description = "Preview width"),
        ("categorical" = Option<bool>, Query, description = "Count values instead of a histogram"),
        ("c" = Option<Vec<f64>>, Query, description = "Categories to count"),
        ("p" = Option<Vec<f64>>, Query, description = "Percentiles (default 2, 98)"),
        ("histogram_bins" = Option<String>, Query, description = "Bin count or comma-separated edges"),
        ("histogram_range" = Option<String>, Query, description = "min,max of the histogram"),
        ("bidx" = Option<Vec<usize>>, Query, description = "Band indexes (1-based)"),
        ("expression" = Option<String>, Query, description = "Band math"),
        ("algorithm" = Option<String>, Query, description = "Post-processing algorithm"),
        ("nodata" = Option<String>, Query, description = "Nodata value override"),
        ("unscale" = Option<bool>, Query, description = "Apply scale and offset")),
    responses((status = 200, description = "Per-band statistics", content_type = "application/json")))]
pub async fn statistics(State(state): State<AppState>, query: QueryMap) -> ApiResult<Response> {
    let p = Processing::from_query(&state, &query)?;
    let stats_opts = params::statistics_options(&query)?;
    let size = params::output_size(&query, Some(OutputSize::PREVIEW_MAX))?;
    let r = reader(&state, &query).await?;
    p.check(&r)?;
    let img = p.apply(r.preview(size, &p.read).await?)?;
    let stats = tokio::task::spawn_blocking(move || img.statistics(&stats_opts))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(axum::Json(stats_object(stats)).into_response())
}

fn stats_object(stats: Vec<(String, imbrex_raster::Statistics)>) -> Value {
    Value::Object(stats.into_iter().map(|(k, v)| (k, serde_json::to_value(v).unwrap_or(Value::Null))).collect())
}

/// Zonal statistics of a GeoJSON Feature or FeatureCollection, weighted by how much of
/// each pixel the feature covers.
#[utoipa::path(post, path = "/cog/statistics", tag = "Cloud Optimized GeoTIFF",
    params(("url" = String, Query, description = "Dataset URL"),
        ("coord_crs" = Option<String>, Query, description = "CRS of the GeoJSON (default EPSG:4326)"),
        ("dst_crs" = Option<String>, Query, description = "CRS the pixels are read in (default: coord_crs)"),
        ("max_size" = Option<usize>, Query, description = "Longest side of the read (default: native resolution)"),
        ("cover_scale" = Option<usize>, Query, description = "Oversampling of the coverage estimate (default 10)"),
        ("categorical" = Option<bool>, Query, description = "Count values instead of a histogram"),
        ("p" = Option<Vec<f64>>, Query, description = "Percentiles (default 2, 98)")),
    request_body(content = Value, description = "GeoJSON Feature or FeatureCollection", content_type = "application/json"),
    responses((status = 200, description = "The features with `properties.statistics`", content_type = "application/geo+json")))]
pub async fn geojson_statistics(State(state): State<AppState>, query: QueryMap, body: Bytes) -> ApiResult<Response> {
    let mut geojson: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::Validation(vec![ValidationIssue::body(format!("invalid JSON: {e}"))]))?;
    let coord_crs = params::crs(&query, "coord_crs")?.unwrap_or_else(Crs::wgs84);
    let dst_crs = params::crs(&query, "dst_crs")?;
    let p = Processing::from_query(&state, &query)?;
    let stats_opts = params::statistics_options(&query)?;
    let size = params::output_size(&query, None)?;
    let cover_scale = match query.get::<usize>("cover_scale")?.unwrap_or(10) {
        s @ 1..=100 => s,
        _ => return Err(ApiError::query("cover_scale", "between 1 and 100")),
    };
    let single = match geojson.get("type").and_then(Value::as_str) {
        Some("Feature") => true,
        Some("FeatureCollection") => false,
        _ => {
            return Err(ApiError::Validation(vec![ValidationIssue::body(
                "expected a GeoJSON Feature or FeatureCollection",
            )]));
        }
    };
    let r = reader(&state, &query).await?;
    let features: Vec<&mut Value> = if single {
        vec![&mut geojson]
    } else {
        geojson
            .get_mut("features")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| ApiError::Validation(vec![ValidationIssue::body("a FeatureCollection needs \"features\"")]))?
            .iter_mut()
            .collect()
    };
    for feature in features {
        let shape = Shape::from_geojson(feature)
            .map_err(|e| ApiError::Validation(vec![ValidationIssue::body(e.to_string())]))?;
        let read = |size| r.feature(&shape, &coord_crs, dst_crs.as_ref(), size, true, &p.read);
        let img = match read(size).await {
            // A feature too large to read at native resolution is read from the overview
            // whose output fits the bound (a square of the bound's side always does).
            Err(imbrex_raster::Error::LimitExceeded { limit: OUTPUT_PIXELS, max, .. }) if size.is_unset() => {
                read(OutputSize::max(max.isqrt() as usize)).await?
            }
            other => other?,
        };
        let img = p.apply(img)?;
        let (so, crs) = (stats_opts.clone(), coord_crs.clone());
        let stats = tokio::task::spawn_blocking(move || {
            let coverage = imbrex_raster::feature::coverage(&img, &shape, &crs, cover_scale)?;
            Ok::<_, imbrex_raster::Error>(img.statistics_with_coverage(&so, Some(&coverage)))
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
        if !feature.get("properties").is_some_and(Value::is_object) {
            feature["properties"] = json!({});
        }
        feature["properties"]["statistics"] = stats_object(stats);
    }
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], axum::Json(geojson)).into_response())
}
