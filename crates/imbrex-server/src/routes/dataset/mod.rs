//! One router for every raster source: TiTiler's endpoints (tiles, TileJSON, tilesets,
//! WMTS, map page, info, preview, bbox, map, point, statistics) written once against
//! [`BaseReader`] and mounted per source by naming its [`DatasetFactory`]; `/feature` and
//! zonal statistics ([`feature_router`]) for sources whose reader is a [`FeatureReader`].
//! Source-specific endpoints (`/cog/validate`) are added beside it by the source's module.

mod images;
mod meta;
pub mod openapi;
mod values;

pub(crate) use images::bbox_spec;
pub use meta::limits;
pub(crate) use values::{lon_lat, point_document, point_values};

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use imbrex_raster::reader::OUTPUT_PIXELS;
use imbrex_raster::render::{ImageFormat, Recipe};
use imbrex_raster::{BaseReader, FeatureReader, ImageData};
use imbrex_tms::Bounds;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{QueryMap, path_param};
use crate::params::QueryGroup;

/// A kind of raster source, as the router sees it: which query parameters name a dataset,
/// how to open it, and where it is mounted.
pub trait DatasetFactory: Send + Sync + 'static {
    type Reader: BaseReader;
    /// The query parameters that name a dataset (`url=` for `/cog`).
    type Params: QueryGroup + utoipa::IntoParams + Send + Sync;
    /// Where the router is mounted (`/cog`).
    const PREFIX: &'static str;
    /// The OpenAPI tag of its endpoints.
    const TAG: &'static str;

    fn open(state: &AppState, params: &Self::Params) -> impl Future<Output = ApiResult<Arc<Self::Reader>>> + Send;

    /// What names the dataset in caches (its stretch ranges).
    fn key(params: &Self::Params) -> String;

    /// `GET /point/{lon},{lat}`: rio-tiler's `PointData` by default; a mosaic answers
    /// with every asset's values, as TiTiler's does.
    fn point_route() -> MethodRouter<AppState>
    where
        Self: Sized,
    {
        get(values::point::<Self>)
    }
}

/// The dataset a request names (an extractor), opened by the handler once everything
/// else in the request is known to be valid.
pub struct DatasetQuery<F: DatasetFactory> {
    params: F::Params,
    _factory: PhantomData<F>,
}

impl<F: DatasetFactory> FromRequestParts<AppState> for DatasetQuery<F> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        DatasetQuery::parse(state, &QueryMap::of(parts))
    }
}

impl<F: DatasetFactory> DatasetQuery<F> {
    pub fn parse(state: &AppState, q: &QueryMap) -> ApiResult<DatasetQuery<F>> {
        Ok(DatasetQuery { params: F::Params::parse(state, q)?, _factory: PhantomData })
    }

    pub async fn open(&self, state: &AppState) -> ApiResult<OpenDataset<F>> {
        Ok(OpenDataset { reader: F::open(state, &self.params).await?, key: F::key(&self.params) })
    }

    pub fn params(&self) -> &F::Params {
        &self.params
    }
}

/// An opened dataset, and its name in caches.
pub struct OpenDataset<F: DatasetFactory> {
    pub reader: Arc<F::Reader>,
    pub key: String,
}

/// Every endpoint of a source but those of [`feature_router`].
pub fn router<F: DatasetFactory>() -> Router<AppState> {
    Router::new()
        .route("/info", get(meta::info::<F>))
        .route("/info.geojson", get(meta::info_geojson::<F>))
        .route("/{tileMatrixSetId}/tilejson.json", get(meta::tilejson::<F>))
        .route("/{tileMatrixSetId}/map.html", get(meta::map_html::<F>))
        .route("/tiles", get(meta::tilesets::<F>))
        .route("/tiles/{tileMatrixSetId}", get(meta::tileset::<F>))
        .route("/WMTSCapabilities.xml", get(meta::wmts::<F>))
        .route("/tiles/{tileMatrixSetId}/{z}/{x}/{y}", get(images::tile::<F>))
        .route("/preview", get(images::preview::<F>))
        .route("/preview/{spec}", get(images::preview_sized::<F>))
        .route("/bbox/{bbox}", get(images::bbox::<F>))
        .route("/bbox/{bbox}/{size}", get(images::bbox_sized::<F>))
        .route("/map", get(images::map::<F>))
        .route("/point/{lonlat}", F::point_route())
        .route("/statistics", get(values::statistics::<F>))
        // `/preview.{format}`: one dotted segment.
        .route("/{dotted}", get(images::dotted_get::<F>))
}

/// The endpoints of a source whose pixels can be cut by a GeoJSON shape: `/feature` and
/// zonal statistics. Merged beside [`router`] by sources whose reader is a [`FeatureReader`].
pub fn feature_router<F: DatasetFactory>() -> Router<AppState>
where
    F::Reader: FeatureReader,
{
    Router::new()
        .route("/feature", post(images::feature::<F>))
        .route("/feature/{spec}", post(images::feature_sized::<F>))
        .route("/statistics", post(values::feature_statistics::<F>))
        // `/feature.{format}`: one dotted segment.
        .route("/{dotted}", post(images::dotted_post::<F>))
}

/// Render an image with a recipe and answer with TiTiler's headers: the image's bounds
/// (Python's `str` of each float) and its CRS URI.
async fn respond<F: DatasetFactory>(
    state: &AppState,
    ds: &OpenDataset<F>,
    recipe: &Recipe,
    img: ImageData,
    format: Option<ImageFormat>,
) -> ApiResult<Response> {
    respond_with(state, ds.reader.as_ref(), &ds.key, recipe, img, format).await
}

/// [`respond`] for any reader (`key` names it among the stretch ranges); with
/// `legend_counts`, the pixels per class go in `X-Legend-Counts` (a JSON object).
pub(crate) async fn respond_with(
    state: &AppState,
    reader: &impl BaseReader,
    key: &str,
    recipe: &Recipe,
    img: ImageData,
    format: Option<ImageFormat>,
) -> ApiResult<Response> {
    let out = recipe.render(reader, key, img, format, &state.render).await?;
    let b = out.bounds;
    let bbox = [b.left, b.bottom, b.right, b.top].map(py_float_repr).join(",");
    let crs = out.crs.as_ref().and_then(|c| c.to_uri()).map(|uri| format!("<{uri}>"));
    let mut res = out.bytes.into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(out.format.media_type()));
    if let Ok(v) = HeaderValue::from_str(&bbox) {
        headers.insert("content-bbox", v);
    }
    if let Some(v) = crs.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert("content-crs", v);
    }
    if let Some(counts) = &out.legend_counts {
        let doc: serde_json::Map<String, Value> = counts.iter().map(|(k, n)| (k.clone(), json!(n))).collect();
        // Header values are ASCII: other characters of class names as JSON escapes.
        let mut text = String::new();
        for c in Value::Object(doc).to_string().chars() {
            match c.is_ascii() {
                true => text.push(c),
                false => c.encode_utf16(&mut [0; 2]).iter().for_each(|u| text.push_str(&format!("\\u{u:04x}"))),
            }
        }
        if let Ok(v) = HeaderValue::from_str(&text) {
            headers.insert("x-legend-counts", v);
        }
    }
    Ok(res)
}

/// `name.ext` → (`name`, `Some(ext)`); a bare name has no extension.
pub(crate) fn split_ext(seg: &str) -> (&str, Option<&str>) {
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

/// A query without some of its parameters, encoded again.
pub(crate) fn encode_query(query: &QueryMap, skip: &[&str]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query.pairs() {
        if !skip.contains(&k.as_str()) {
            q.append_pair(k, v);
        }
    }
    q.finish()
}

/// Python's `repr` (and `str`) of a float: the shortest digits that round-trip, in
/// positional notation for exponents -4..16 (`1.0`, `0.0001`, `-60.5`), scientific
/// otherwise (`1e-05`, `1.5e+16`).
pub fn py_float_repr(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // Rust's `{:e}` gives the same shortest round-trip digits: `d[.ddd]e<exp>`.
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("an integer exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if v.is_sign_negative() { "-" } else { "" };
    if !(-4..16).contains(&exp) {
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{mantissa}e{exp_sign}{:02}", exp.abs());
    }
    let n = digits.len() as i32;
    let body = if exp < 0 {
        format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
    } else if exp + 1 >= n {
        format!("{digits}{}.0", "0".repeat((exp + 1 - n) as usize))
    } else {
        let (int, frac) = digits.split_at((exp + 1) as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::py_float_repr;

    #[test]
    fn floats_print_as_python_prints_them() {
        for (v, s) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (-60.0, "-60.0"),
            (0.1, "0.1"),
            (1e-4, "0.0001"),
            (1.5e-5, "1.5e-05"),
            (1e16, "1e+16"),
            (1.2345e15, "1234500000000000.0"),
            (-20037508.342789244, "-20037508.342789244"),
            (123.456, "123.456"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(py_float_repr(v), s, "{v:e}");
        }
    }
}
