//! Endpoints that answer with an image: tiles, previews, boxes, features, OGC maps.
//! Each is parse → read → render → respond.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use imbrex_raster::reader::{FeatureRequest, PartRequest, TileRequest};
use imbrex_raster::{BaseReader, FeatureReader, OutputSize, Shape};
use imbrex_tms::{Bounds, Crs, Tile};
use serde_json::Value;

use super::{DatasetFactory, DatasetQuery, respond, size_spec, split_ext, too_large};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ValidationIssue};
use crate::extract::{QueryMap, path_param};
use crate::params::{
    CoordCrsParams, DstCrsParams, FormatParams, Params, Processing, QueryGroup, SizeParams, TileParams, crs,
};
use crate::routes::tms::tms_id;

/// A tile. The path is checked first, then the query, then the dataset is opened.
pub async fn tile<F: DatasetFactory>(
    State(state): State<AppState>,
    Path((tms_path, z, x, y_seg)): Path<(String, String, String, String)>,
    query: QueryMap,
) -> ApiResult<Response> {
    let tms = state.tms.get(&tms_id(&tms_path)?)?;
    let (y, ext) = split_ext(&y_seg);
    let format = FormatParams::parse(&state, &query)?.or_ext(ext)?;
    let tile = Tile::new(path_param("x", &x)?, path_param("y", y)?, path_param("z", &z)?);
    let t = TileParams::parse(&state, &query)?;
    let mut recipe = Processing::parse(&state, &query)?.recipe();
    let src = DatasetQuery::<F>::parse(&state, &query)?;
    // Hillshade and slope crop `buffer()` pixels per side. TiTiler asks users to add
    // `buffer=3` themselves (else its tiles shrink to 250 px); imbrex reads at least that
    // much, so both kinds of URLs give full tiles.
    recipe.read.buffer = recipe.read.buffer.max(recipe.algorithm_buffer() as f64);
    let ds = src.open(&state).await?;
    let req = TileRequest { tms: &tms, tile, tilesize: t.tilesize };
    let img = ds.reader.tile(req, &recipe.read).await?;
    respond(&state, &ds, &recipe, img, format).await
}

/// What the preview, bbox and feature endpoints read from the query (bbox and feature
/// take `coord_crs` too).
pub struct ImageQuery {
    pub format: FormatParams,
    pub size: SizeParams,
    pub dst: DstCrsParams,
    pub processing: Processing,
}

impl QueryGroup for ImageQuery {
    fn parse(state: &AppState, q: &QueryMap) -> ApiResult<ImageQuery> {
        Ok(ImageQuery {
            format: FormatParams::parse(state, q)?,
            size: SizeParams::parse(state, q)?,
            dst: DstCrsParams::parse(state, q)?,
            processing: Processing::parse(state, q)?,
        })
    }
}

/// `/preview`, `/preview.{format}` (through [`dotted_get`]) and `/preview/{w}x{h}.{format}`.
pub async fn preview<F: DatasetFactory>(
    state: State<AppState>,
    q: Params<ImageQuery>,
    src: DatasetQuery<F>,
) -> ApiResult<Response> {
    preview_with(state, None, None, q, src).await
}

pub async fn preview_sized<F: DatasetFactory>(
    state: State<AppState>,
    Path(spec): Path<String>,
    q: Params<ImageQuery>,
    src: DatasetQuery<F>,
) -> ApiResult<Response> {
    let (stem, ext) = split_ext(&spec);
    let wh = size_spec("size", stem)?;
    preview_with(state, Some(wh), ext, q, src).await
}

async fn preview_with<F: DatasetFactory>(
    State(state): State<AppState>,
    path_size: Option<(usize, usize)>,
    ext: Option<&str>,
    Params(q): Params<ImageQuery>,
    src: DatasetQuery<F>,
) -> ApiResult<Response> {
    let format = q.format.or_ext(ext)?;
    let size = q.size.size_or_path(Some(OutputSize::PREVIEW_MAX), path_size);
    let recipe = q.processing.recipe();
    let ds = src.open(&state).await?;
    let r = ds.reader.as_ref();
    let img = match q.dst.dst_crs {
        Some(crs) if r.crs().is_some_and(|c| !c.same_as(&crs)) => {
            let req = PartRequest { bbox: r.bounds(), bounds_crs: r.crs(), dst_crs: Some(&crs), size };
            r.part(req, &recipe.read).await?
        }
        _ => r.preview(size, &recipe.read).await?,
    };
    respond(&state, &ds, &recipe, img, format).await
}

/// Parse `minx,miny,maxx,maxy[.ext]`.
pub(crate) fn bbox_spec(seg: &str) -> ApiResult<(Bounds, Option<&str>)> {
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

/// A box of the dataset (`coord_crs`, default WGS 84), in `dst_crs`, at native resolution
/// unless a size is asked for.
pub async fn bbox<F: DatasetFactory>(
    state: State<AppState>,
    Path(spec): Path<String>,
    q: Params<ImageQuery>,
    coord: Params<CoordCrsParams>,
    src: DatasetQuery<F>,
) -> ApiResult<Response> {
    let (b, ext) = bbox_spec(&spec)?;
    bbox_with(state, b, ext, None, q, coord, src).await
}

/// `/bbox/{minx},{miny},{maxx},{maxy}/{w}x{h}.{format}`.
pub async fn bbox_sized<F: DatasetFactory>(
    state: State<AppState>,
    Path((spec, size_seg)): Path<(String, String)>,
    q: Params<ImageQuery>,
    coord: Params<CoordCrsParams>,
    src: DatasetQuery<F>,
) -> ApiResult<Response> {
    let (b, _) = bbox_spec(&spec)?;
    let (stem, ext) = split_ext(&size_seg);
    let wh = size_spec("size", stem)?;
    bbox_with(state, b, ext, Some(wh), q, coord, src).await
}

async fn bbox_with<F: DatasetFactory>(
    State(state): State<AppState>,
    b: Bounds,
    ext: Option<&str>,
    path_size: Option<(usize, usize)>,
    Params(q): Params<ImageQuery>,
    Params(coord): Params<CoordCrsParams>,
    src: DatasetQuery<F>,
) -> ApiResult<Response> {
    let format = q.format.or_ext(ext)?;
    let size = q.size.size_or_path(None, path_size);
    let recipe = q.processing.recipe();
    let coord_crs = coord.or_wgs84();
    let dst_crs = q.dst.dst_crs.unwrap_or_else(|| coord_crs.clone());
    let req = PartRequest { bbox: b, bounds_crs: Some(&coord_crs), dst_crs: Some(&dst_crs), size };
    let ds = src.open(&state).await?;
    let img = ds.reader.part(req, &recipe.read).await.map_err(too_large)?;
    respond(&state, &ds, &recipe, img, format).await
}

/// The pixels under a GeoJSON Feature (masked outside it).
pub async fn feature<F: DatasetFactory>(
    state: State<AppState>,
    q: Params<ImageQuery>,
    coord: Params<CoordCrsParams>,
    src: DatasetQuery<F>,
    body: Bytes,
) -> ApiResult<Response>
where
    F::Reader: FeatureReader,
{
    feature_with(state, None, None, q, coord, src, body).await
}

/// `/feature/{width}x{height}.{format}`.
pub async fn feature_sized<F: DatasetFactory>(
    state: State<AppState>,
    Path(spec): Path<String>,
    q: Params<ImageQuery>,
    coord: Params<CoordCrsParams>,
    src: DatasetQuery<F>,
    body: Bytes,
) -> ApiResult<Response>
where
    F::Reader: FeatureReader,
{
    let (stem, ext) = split_ext(&spec);
    let wh = size_spec("size", stem)?;
    feature_with(state, Some(wh), ext, q, coord, src, body).await
}

/// A GeoJSON request body.
pub(super) fn geojson_body(body: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::Validation(vec![ValidationIssue::body(format!("invalid JSON: {e}"))]))
}

/// A GeoJSON geometry, Feature or FeatureCollection as a shape.
/// A GeoJSON geometry, Feature or FeatureCollection as a shape, of at most
/// `limits.max_vertices` positions (rasterizing costs rows x edges).
pub(super) fn shape(geojson: &Value, limits: &crate::Limits) -> ApiResult<Shape> {
    let shape =
        Shape::from_geojson(geojson).map_err(|e| ApiError::Validation(vec![ValidationIssue::body(e.to_string())]))?;
    let n = shape.vertex_count();
    if n > limits.max_vertices {
        return Err(ApiError::Validation(vec![ValidationIssue::body(format!(
            "the geometry has {n} positions, at most {} (limits.max_vertices): simplify it",
            limits.max_vertices
        ))]));
    }
    Ok(shape)
}

async fn feature_with<F: DatasetFactory>(
    State(state): State<AppState>,
    path_size: Option<(usize, usize)>,
    ext: Option<&str>,
    Params(q): Params<ImageQuery>,
    Params(coord): Params<CoordCrsParams>,
    src: DatasetQuery<F>,
    body: Bytes,
) -> ApiResult<Response>
where
    F::Reader: FeatureReader,
{
    let format = q.format.or_ext(ext)?;
    let shape = shape(&geojson_body(&body)?, &state.config.limits)?;
    let size = q.size.size_or_path(None, path_size);
    let recipe = q.processing.recipe();
    let coord_crs = coord.or_wgs84();
    let req =
        FeatureRequest { shape: &shape, shape_crs: &coord_crs, dst_crs: q.dst.dst_crs.as_ref(), size, align: false };
    let ds = src.open(&state).await?;
    let img = ds.reader.feature(req, &recipe.read).await.map_err(too_large)?;
    respond(&state, &ds, &recipe, img, format).await
}

/// `/preview.{format}` and `/feature.{format}`: one dotted segment, split here (so its
/// query is parsed only once the path is known to be one of them).
pub async fn dotted_get<F: DatasetFactory>(
    state: State<AppState>,
    Path(seg): Path<String>,
    query: QueryMap,
) -> ApiResult<Response> {
    if !seg.starts_with("preview.") {
        return Err(ApiError::NotFound(format!("no route for {}/{seg}", F::PREFIX)));
    }
    // `preview.png`, and as before `preview.` (automatic) and `preview.x.png` (PNG).
    let (_, ext) = split_ext(&seg);
    let (q, src) = (ImageQuery::parse(&state, &query)?, DatasetQuery::<F>::parse(&state, &query)?);
    preview_with(state, None, ext, Params(q), src).await
}

pub async fn dotted_post<F: DatasetFactory>(
    state: State<AppState>,
    Path(seg): Path<String>,
    query: QueryMap,
    body: Bytes,
) -> ApiResult<Response>
where
    F::Reader: FeatureReader,
{
    let Some(ext) = seg.strip_prefix("feature.") else {
        return Err(ApiError::NotFound(format!("no route for POST {}/{seg}", F::PREFIX)));
    };
    let q = ImageQuery::parse(&state, &query)?;
    let (coord, src) = (CoordCrsParams::parse(&state, &query)?, DatasetQuery::<F>::parse(&state, &query)?);
    feature_with(state, None, Some(ext), Params(q), Params(coord), src, body).await
}

/// OGC API - Maps' parameters: the box, its CRS, the output CRS and size, the format.
#[derive(Clone, Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MapParams {
    /// `minx,miny,maxx,maxy` (default: the dataset's bounds).
    #[param(value_type = Option<String>)]
    pub bbox: Option<Bounds>,
    /// CRS of `bbox` (default: `crs`, else CRS84).
    #[param(rename = "bbox-crs", value_type = Option<String>)]
    pub bbox_crs: Option<Crs>,
    /// CRS of the map (default: the dataset's).
    #[param(value_type = Option<String>)]
    pub crs: Option<Crs>,
    /// Map width.
    pub width: Option<usize>,
    /// Map height.
    pub height: Option<usize>,
    /// Image format (default png).
    #[param(value_type = Option<String>)]
    pub f: Option<imbrex_raster::render::ImageFormat>,
}

impl QueryGroup for MapParams {
    fn parse(_: &AppState, q: &QueryMap) -> ApiResult<MapParams> {
        let bbox = match q.raw("bbox") {
            None => None,
            Some(b) => {
                let v: Vec<f64> = b.split(',').filter_map(|s| s.trim().parse().ok()).collect();
                match v[..] {
                    [a, b, c, d] | [a, b, _, c, d, _] if a < c && b < d => Some(Bounds::new(a, b, c, d)),
                    _ => return Err(ApiError::query("bbox", format!("'{b}' is not minx,miny,maxx,maxy"))),
                }
            }
        };
        let (width, height) = (q.get::<usize>("width")?, q.get::<usize>("height")?);
        if width == Some(0) || height == Some(0) {
            return Err(ApiError::query(if width == Some(0) { "width" } else { "height" }, "must be greater than 0"));
        }
        let f = crate::params::format(q)?;
        Ok(MapParams { bbox, bbox_crs: crs(q, "bbox-crs")?, crs: crs(q, "crs")?, width, height, f })
    }
}

/// OGC API - Maps: a map of `bbox` (in `bbox-crs`) in `crs`, `width` x `height`.
pub async fn map<F: DatasetFactory>(
    State(state): State<AppState>,
    Params(m): Params<MapParams>,
    Params(p): Params<Processing>,
    src: DatasetQuery<F>,
) -> ApiResult<Response> {
    let format = Some(m.f.unwrap_or(imbrex_raster::render::ImageFormat::Png));
    let recipe = p.recipe();
    // OGC Maps: one side given, the other keeps a 1:1 aspect of the box; none: 1024 max.
    let size = OutputSize {
        width: m.width,
        height: m.height,
        max_size: (m.width.is_none() && m.height.is_none()).then_some(OutputSize::PREVIEW_MAX),
    };
    let ds = src.open(&state).await?;
    let r = ds.reader.as_ref();
    let img = match m.bbox {
        Some(b) => {
            let bc = m.bbox_crs.clone().or_else(|| m.crs.clone()).unwrap_or_else(Crs::crs84);
            let req =
                PartRequest { bbox: b, bounds_crs: Some(&bc), dst_crs: Some(m.crs.as_ref().unwrap_or(&bc)), size };
            r.part(req, &recipe.read).await?
        }
        None => match &m.crs {
            Some(c) if r.crs().is_some_and(|rc| !rc.same_as(c)) => {
                r.part(PartRequest { bbox: r.bounds(), bounds_crs: r.crs(), dst_crs: Some(c), size }, &recipe.read)
                    .await?
            }
            _ => r.preview(size, &recipe.read).await?,
        },
    };
    respond(&state, &ds, &recipe, img, format).await
}
