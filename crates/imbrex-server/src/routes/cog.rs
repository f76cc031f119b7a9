//! The `/cog` endpoint group: every endpoint of the dataset router over the COG
//! [`Reader`], plus what only a single file has: COG validation and a STAC item made
//! from it.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use imbrex_raster::{ReadOptions, Reader, StatisticsOptions};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryMap;
use crate::params::{Params, QueryGroup};
use crate::routes::dataset::{self, DatasetFactory, DatasetQuery, bounds_to_geometry};
use crate::routes::viewer;

/// Cloud Optimized GeoTIFFs (and any GeoTIFF, PNG or JPEG) named by `url=`.
pub struct Cog;

/// The dataset of a `/cog` request.
#[derive(Clone, Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CogParams {
    /// Dataset URL: a path under an allowed folder, http(s)://, s3://, or `demo`.
    pub url: String,
}

impl QueryGroup for CogParams {
    fn parse(state: &AppState, q: &QueryMap) -> ApiResult<CogParams> {
        Ok(CogParams { url: state.dataset_url(&q.require::<String>("url")?)? })
    }
}

impl DatasetFactory for Cog {
    type Reader = Reader;
    type Params = CogParams;
    const PREFIX: &'static str = "/cog";
    const TAG: &'static str = "Cloud Optimized GeoTIFF";

    async fn open(state: &AppState, params: &CogParams) -> ApiResult<Arc<Reader>> {
        // A bare file name may name a file of a folder `imbrex serve` was given.
        let url = state.images.resolve(&params.url).unwrap_or_else(|| params.url.clone());
        Ok(state.readers.get(&url).await?)
    }

    fn key(params: &CogParams) -> String {
        params.url.clone()
    }
}

pub fn router() -> Router<AppState> {
    dataset::router::<Cog>()
        .merge(dataset::feature_router::<Cog>())
        .route("/validate", get(validate))
        .route("/stac", get(stac))
        .route("/viewer", get(viewer::viewer))
        .route("/legend", get(legend))
}

/// A legend image for a dataset's tiles: the colormap's bar with value ticks over
/// `rescale`, or over 0-255 without it (tiles then index the colormap with the values cast
/// to 8 bits, as TiTiler's do); or a legend's swatches (a ramp without a range of its own
/// labelled with the dataset's, the range its tiles use).
#[utoipa::path(get, path = "/cog/legend", tag = "Cloud Optimized GeoTIFF",
    params(CogParams,
        ("colormap_name" = Option<String>, Query, description = "Colormap name (see /colorMaps)"),
        ("colormap" = Option<String>, Query, description = "Colormap JSON"),
        ("legend" = Option<String>, Query, description = "A configured legend's name or a legend's JSON"),
        ("rescale" = Option<String>, Query, description = "min,max of the bar (default 0,255)"),
        ("bidx" = Option<Vec<usize>>, Query, description = "The band whose range labels a ramp legend"),
        ("expression" = Option<String>, Query, description = "Band math whose range labels a ramp legend")),
    responses((status = 200, description = "A PNG legend", content_type = "image/png"),
        (status = 422, description = "No colormap or legend", body = crate::error::Detail)))]
pub async fn legend(State(state): State<AppState>, query: QueryMap, src: DatasetQuery<Cog>) -> ApiResult<Response> {
    let recipe = crate::params::Processing::parse(&state, &query)?.recipe();
    let png = match (&recipe.legend, &recipe.colormap) {
        (Some(legend), _) => {
            let range = match legend.needs_range() {
                true => {
                    let ds = src.open(&state).await?;
                    recipe.ranges(ds.reader.as_ref(), &ds.key, &state.render).await?.first().copied()
                }
                false => None,
            };
            legend.png(range)?
        }
        (None, Some(cm)) => {
            imbrex_raster::render::legend::colorbar_png(cm, recipe.rescale.first().copied().unwrap_or((0.0, 255.0)))?
        }
        (None, None) => {
            return Err(ApiError::query("colormap_name", "a legend needs colormap_name, colormap or legend"));
        }
    };
    Ok(([(axum::http::header::CONTENT_TYPE, "image/png")], png).into_response())
}

/// Treat warnings as errors.
#[derive(Clone, Copy, Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ValidateParams {
    /// Treat warnings as errors.
    #[param(value_type = Option<bool>)]
    pub strict: bool,
}

impl QueryGroup for ValidateParams {
    fn parse(_: &AppState, q: &QueryMap) -> ApiResult<ValidateParams> {
        Ok(ValidateParams { strict: q.get_bool("strict")?.unwrap_or(false) })
    }
}

/// COG validation, in rio-cogeo's `Info` shape (what TiTiler's `/validate` returns).
#[utoipa::path(get, path = "/cog/validate", tag = "Cloud Optimized GeoTIFF",
    params(CogParams, ValidateParams),
    responses((status = 200, description = "Validation report", content_type = "application/json")))]
pub async fn validate(
    State(state): State<AppState>,
    Params(v): Params<ValidateParams>,
    src: DatasetQuery<Cog>,
) -> ApiResult<Response> {
    let strict = v.strict;
    let ds = src.open(&state).await?;
    let r = ds.reader;
    // rio-cogeo describes the file as rasterio opens it, not rio-tiler's warped VRT of a
    // GCP file.
    let file = r.file_reader();
    let info = file.as_ref().unwrap_or(&r).info();
    let Some(tif) = r.dataset().tiff() else {
        return Err(ApiError::BadRequest(format!("{} is not a GeoTIFF", r.input())));
    };
    let main = tif.main();
    let validation = tif.validate_cog();
    let is_cog = validation.is_cog(strict);
    let (errors, warnings) = (validation.errors, validation.warnings);
    let levels: Vec<Value> = tif
        .levels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let decimation = if i == 0 { 0 } else { (main.width as f64 / l.image.width as f64).round() as u64 };
            json!({"Level": i, "Width": l.image.width, "Height": l.image.height,
                "Blocksize": [l.image.block_height, l.image.block_width], "Decimation": decimation})
        })
        .collect();
    // rio-cogeo: the dataset's default domain and IMAGE_STRUCTURE, and per band its
    // description, colour, scale, offset and metadata.
    let pairs = |items: Vec<(String, String)>| items.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let tags = json!({
        "Image Metadata": Value::Object(pairs(tif.image_metadata())),
        "Image Structure": Value::Object(pairs(tif.image_structure())),
    });
    let band_metadata: serde_json::Map<String, Value> = (0..info.count)
        .map(|i| {
            let meta = tif.band_metadata(i);
            let items: serde_json::Map<String, Value> =
                meta.items.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            let band = json!({
                "Description": meta.description.filter(|d| !d.is_empty()),
                "ColorInterp": info.colorinterp[i],
                "Offset": info.offsets[i],
                "Scale": info.scales[i],
                "Metadata": items,
            });
            (format!("Band {}", i + 1), band)
        })
        .collect();
    let gt = r.transform().0;
    let b = r.bounds();
    let wm = state.tms.get("WebMercatorQuad")?;
    let (minz, maxz) = r.zoom_range(&wm);
    Ok(axum::Json(json!({
        "Path": r.input(),
        "Driver": info.driver,
        "COG": is_cog,
        "Compression": main.compression_name().map(str::to_uppercase),
        "ColorSpace": if main.photometric == 6 { json!("YCbCr") } else { Value::Null },
        "COG_errors": if errors.is_empty() { Value::Null } else { json!(errors) },
        "COG_warnings": if warnings.is_empty() { Value::Null } else { json!(warnings) },
        "Profile": {
            "Bands": info.count, "Width": info.width, "Height": info.height, "Tiled": main.tiled, "Dtype": info.dtype.name(),
            "Interleave": if main.planar { "BAND" } else if info.count > 1 { "PIXEL" } else { "BAND" },
            "AlphaBand": info.colorinterp.iter().any(|c| c == "alpha"),
            "InternalMask": tif.levels[0].mask.is_some() && !tif.external_mask,
            "Nodata": info.nodata_value,
            "ColorInterp": info.colorinterp, "ColorMap": info.colormap.is_some(),
            "Scales": info.scales, "Offsets": info.offsets,
        },
        "GEO": {
            "CRS": r.crs().map(|c| c.epsg().map_or_else(|| c.to_user_string(), |e| format!("EPSG:{e}"))),
            "BoundingBox": [b.left, b.bottom, b.right, b.top],
            "Origin": [gt[0], gt[3]],
            "Resolution": [gt[1], gt[5]],
            "MinZoom": minz, "MaxZoom": maxz,
        },
        "Tags": tags,
        "Band Metadata": band_metadata,
        "IFD": levels,
    }))
    .into_response())
}

/// What a STAC item made from a file says about itself.
#[derive(Clone, Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StacItemParams {
    /// Item id (default: the file name).
    pub id: Option<String>,
    /// Item datetime (RFC 3339; default 1970-01-01T00:00:00Z).
    pub datetime: Option<String>,
    /// Collection id.
    pub collection: Option<String>,
    /// Asset key (default `data`).
    pub asset_name: Option<String>,
    /// Asset href (default: `url`).
    pub asset_href: Option<String>,
    /// Preview size for the band statistics (default 1024).
    pub max_size: Option<usize>,
}

impl QueryGroup for StacItemParams {
    fn parse(_: &AppState, q: &QueryMap) -> ApiResult<StacItemParams> {
        let text = |name: &str| q.raw(name).map(str::to_string);
        Ok(StacItemParams {
            id: text("id"),
            datetime: text("datetime"),
            collection: text("collection"),
            asset_name: text("asset_name"),
            asset_href: text("asset_href"),
            max_size: q.get("max_size")?,
        })
    }
}

/// A STAC item describing the file (projection, raster and eo extensions).
#[utoipa::path(get, path = "/cog/stac", tag = "Cloud Optimized GeoTIFF", params(CogParams, StacItemParams),
    responses((status = 200, description = "STAC Item", content_type = "application/json")))]
pub async fn stac(
    State(state): State<AppState>,
    Params(p): Params<StacItemParams>,
    src: DatasetQuery<Cog>,
) -> ApiResult<Response> {
    let r = src.open(&state).await?.reader;
    let input = r.input().to_string();
    let id = p.id.unwrap_or_else(|| input.rsplit('/').next().unwrap_or(&input).to_string());
    let datetime = p.datetime.unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string());
    let asset_name = p.asset_name.unwrap_or_else(|| "data".to_string());
    let href = p.asset_href.unwrap_or_else(|| src.params().url.clone());
    let max_size = p.max_size.unwrap_or(imbrex_raster::OutputSize::PREVIEW_MAX);
    let info = r.info();
    let g = r.geographic_bounds();
    let native = r.normalized_bounds();
    let gt = r.transform().0;
    let stats = r
        .statistics(imbrex_raster::OutputSize::max(max_size), &StatisticsOptions::default(), &ReadOptions::default())
        .await?;
    let bands: Vec<Value> = stats
        .iter()
        .enumerate()
        .map(|(i, (_, s))| {
            json!({
                "data_type": info.dtype.name(),
                "scale": info.scales.get(i).copied().unwrap_or(1.0),
                "offset": info.offsets.get(i).copied().unwrap_or(0.0),
                "sampling": "area",
                "nodata": info.nodata_value,
                "statistics": {"mean": s.mean, "minimum": s.min, "maximum": s.max, "stddev": s.std, "valid_percent": s.valid_percent},
                "histogram": {"count": s.histogram.1.len(), "min": s.min, "max": s.max, "buckets": s.histogram.0},
            })
        })
        .collect();
    let eo: Vec<Value> = info
        .band_descriptions
        .iter()
        .zip(&info.colorinterp)
        .map(|(d, c)| json!({"name": d.0, "description": c}))
        .collect();
    let mut properties = json!({
        "proj:shape": [info.height, info.width],
        "proj:bbox": [native.left, native.bottom, native.right, native.top],
        "proj:geometry": bounds_to_geometry(native),
        "proj:transform": [gt[1], gt[2], gt[0], gt[4], gt[5], gt[3], 0.0, 0.0, 1.0],
        "datetime": datetime,
    });
    if let Some(code) = r.crs().and_then(|c| c.epsg()) {
        properties["proj:epsg"] = json!(code);
    } else if let Some(wkt) = r.crs().and_then(|c| c.to_wkt()) {
        properties["proj:wkt2"] = json!(wkt);
    }
    let mut item = json!({
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
            "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
        ],
        "id": id,
        "geometry": bounds_to_geometry(g),
        "bbox": g.to_array(),
        "properties": properties,
        "links": [],
        "assets": {asset_name: {"href": href, "type": "image/tiff; application=geotiff", "raster:bands": bands, "eo:bands": eo, "roles": []}},
    });
    if let Some(c) = p.collection {
        item["collection"] = json!(c);
    }
    Ok(axum::Json(item).into_response())
}
