//! Endpoints that answer with numbers: point values and statistics.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use imbrex_raster::reader::{FeatureRequest, OUTPUT_PIXELS, PointRequest};
use imbrex_raster::{BaseReader, FeatureReader, OutputSize};
use serde_json::{Value, json};

use super::images::{geojson_body, shape};
use super::{DatasetFactory, DatasetQuery};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ValidationIssue};
use crate::extract::{QueryMap, path_param};
use crate::params::{
    CoordCrsParams, DstCrsParams, Params, PostProcessParams, QueryGroup, ReadParams, SizeParams, StatisticsParams,
};

/// A `{lon},{lat}` path segment.
pub(crate) fn lon_lat(seg: &str) -> ApiResult<(f64, f64)> {
    let (lon, lat) =
        seg.split_once(',').ok_or_else(|| ApiError::path("lon,lat", format!("'{seg}' is not 'lon,lat'")))?;
    Ok((path_param("lon", lon.trim())?, path_param("lat", lat.trim())?))
}

/// A point's values as TiTiler writes them: `null` where a band is masked.
pub(crate) fn point_values(pt: &imbrex_raster::PointData) -> Vec<Value> {
    pt.values.iter().zip(&pt.valid).map(|(v, ok)| if *ok { json!(v) } else { Value::Null }).collect()
}

/// TiTiler's point document: the coordinates asked for, the values, the band names.
pub(crate) fn point_document(x: f64, y: f64, pt: &imbrex_raster::PointData) -> Response {
    axum::Json(json!({
        "coordinates": [x, y],
        "values": point_values(pt),
        "band_names": pt.band_names,
        "band_descriptions": pt.band_descriptions,
    }))
    .into_response()
}

/// The values at a point (lon,lat in `coord_crs`, WGS 84 by default).
pub async fn point<F: DatasetFactory>(
    State(state): State<AppState>,
    Path(lonlat): Path<String>,
    query: QueryMap,
) -> ApiResult<Response> {
    let (lon, lat) = lon_lat(&lonlat)?;
    let coord = CoordCrsParams::parse(&state, &query)?;
    let read = ReadParams::parse(&state, &query)?;
    let src = DatasetQuery::<F>::parse(&state, &query)?;
    let req =
        PointRequest { x: lon, y: lat, coord_crs: coord.coord_crs.as_ref(), expression: read.expression.as_ref() };
    let ds = src.open(&state).await?;
    let pt = ds.reader.point(req, &read.options()).await?;
    // rio-tiler evaluates the expression as float64 too when every band has statistics.
    if let Some(e) = &read.expression
        && ds.reader.info().minmax.is_some()
    {
        e.check_float64()?;
    }
    Ok(point_document(lon, lat, &pt))
}

/// What statistics endpoints read and compute.
pub struct StatisticsRequest {
    read: ReadParams,
    post: PostProcessParams,
    stats: StatisticsParams,
    size: SizeParams,
    /// Zonal statistics also give the area of each legend class.
    legend: Option<std::sync::Arc<imbrex_raster::render::Legend>>,
}

impl QueryGroup for StatisticsRequest {
    fn parse(state: &AppState, q: &QueryMap) -> ApiResult<StatisticsRequest> {
        Ok(StatisticsRequest {
            read: ReadParams::parse(state, q)?,
            post: PostProcessParams::parse(state, q)?,
            stats: StatisticsParams::parse(state, q)?,
            size: SizeParams::parse(state, q)?,
            legend: crate::params::legend(state, q)?,
        })
    }
}

impl StatisticsRequest {
    fn recipe(&self) -> imbrex_raster::render::Recipe {
        imbrex_raster::render::Recipe {
            read: self.read.options(),
            expression: self.read.expression.clone(),
            algorithm: self.post.algorithm.clone(),
            ..Default::default()
        }
    }
}

/// Statistics of the dataset (computed on a preview of at most `max_size` pixels).
pub async fn statistics<F: DatasetFactory>(
    State(state): State<AppState>,
    Params(s): Params<StatisticsRequest>,
    src: DatasetQuery<F>,
) -> ApiResult<Response> {
    if s.legend.is_some() {
        return Err(ApiError::query("legend", "areas per legend class are given for features: POST /statistics"));
    }
    let recipe = s.recipe();
    let ds = src.open(&state).await?;
    recipe.check(ds.reader.as_ref())?;
    let img = ds.reader.preview(s.size.size(Some(OutputSize::PREVIEW_MAX)), &recipe.read).await?;
    let img = recipe.post_process_on(ds.reader.as_ref(), &state.render.cpu, img).await?;
    let opts = s.stats.options();
    let stats = state.render.cpu.run(move || img.statistics(&opts)).await?;
    Ok(axum::Json(stats_object(stats)).into_response())
}

/// The area of each legend class inside a feature: the pixels of the class weighted by
/// how much of each the feature covers, times a pixel's area, in square metres for
/// projected data (square degrees for geographic, square pixels without a CRS).
fn legend_areas(
    legend: &imbrex_raster::render::Legend,
    img: &imbrex_raster::ImageData,
    coverage: &[f32],
) -> imbrex_raster::Result<Value> {
    let imbrex_raster::render::Legend::Classes(classes) = legend else {
        return Err(imbrex_raster::Error::InvalidParameter {
            name: "legend",
            reason: "areas are given per class: a ramp has none".into(),
        });
    };
    if img.count != 1 {
        return Err(imbrex_raster::Error::InvalidParameter {
            name: "legend",
            reason: format!("a legend classifies one band and this read has {}: choose one with bidx", img.count),
        });
    }
    let mut pixels = vec![0u64; classes.len()];
    let mut covered = vec![0f64; classes.len()];
    for (i, c) in legend.classify(img)?.into_iter().enumerate() {
        if let Some(c) = c
            && coverage[i] > 0.0
        {
            pixels[c as usize] += 1;
            covered[c as usize] += coverage[i] as f64;
        }
    }
    let b = img.bounds;
    let pixel = ((b.right - b.left) / img.width as f64 * (b.top - b.bottom) / img.height as f64).abs();
    let (units, pixel) = match &img.crs {
        Some(c) if c.is_geographic() => ("degree²", pixel),
        Some(c) => ("m²", pixel * c.meters_per_unit().powi(2)),
        None => ("pixel²", pixel),
    };
    let list: Vec<Value> = classes
        .iter()
        .enumerate()
        .map(|(k, c)| {
            json!({"name": c.name, "color": imbrex_raster::render::legend::hex(c.color),
                "pixels": pixels[k], "area": covered[k] * pixel})
        })
        .collect();
    Ok(json!({"units": units, "classes": list}))
}

fn stats_object(stats: Vec<(String, imbrex_raster::Statistics)>) -> Value {
    Value::Object(stats.into_iter().map(|(k, v)| (k, serde_json::to_value(v).unwrap_or(Value::Null))).collect())
}

/// How finely feature statistics estimate pixel coverage.
#[derive(Clone, Copy, Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CoverParams {
    /// Oversampling of the coverage estimate, 1 to 100 (default 10).
    #[param(value_type = Option<usize>)]
    pub cover_scale: usize,
}

impl QueryGroup for CoverParams {
    fn parse(_: &AppState, q: &QueryMap) -> ApiResult<CoverParams> {
        match q.get::<usize>("cover_scale")?.unwrap_or(10) {
            s @ 1..=100 => Ok(CoverParams { cover_scale: s }),
            _ => Err(ApiError::query("cover_scale", "between 1 and 100")),
        }
    }
}

/// Zonal statistics of a GeoJSON Feature or FeatureCollection, weighted by how much of
/// each pixel the feature covers.
pub async fn feature_statistics<F: DatasetFactory>(
    State(state): State<AppState>,
    Params(coord): Params<CoordCrsParams>,
    Params(dst): Params<DstCrsParams>,
    Params(cover): Params<CoverParams>,
    Params(s): Params<StatisticsRequest>,
    src: DatasetQuery<F>,
    body: Bytes,
) -> ApiResult<Response>
where
    F::Reader: FeatureReader,
{
    let mut geojson = geojson_body(&body)?;
    let single = match geojson.get("type").and_then(Value::as_str) {
        Some("Feature") => true,
        Some("FeatureCollection") => false,
        _ => {
            return Err(ApiError::Validation(vec![ValidationIssue::body(
                "expected a GeoJSON Feature or FeatureCollection",
            )]));
        }
    };
    let coord_crs = coord.or_wgs84();
    let size = s.size.size(None);
    let recipe = s.recipe();
    let ds = src.open(&state).await?;
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
    let mut positions = 0usize;
    for feature in features {
        let shape = shape(feature, &state.config.limits)?;
        // The bound is the request's, over all its features.
        positions += shape.vertex_count();
        if positions > state.config.limits.max_vertices {
            return Err(ApiError::Validation(vec![ValidationIssue::body(format!(
                "the features have more than {} positions in all (limits.max_vertices)",
                state.config.limits.max_vertices
            ))]));
        }
        let read = |size| {
            let req = FeatureRequest {
                shape: &shape,
                shape_crs: &coord_crs,
                dst_crs: dst.dst_crs.as_ref(),
                size,
                align: true,
            };
            ds.reader.feature(req, &recipe.read)
        };
        let img = match read(size).await {
            // A feature too large to read at native resolution is read from the overview
            // whose output fits the bound (a square of the bound's side always does).
            Err(imbrex_raster::Error::LimitExceeded { limit: OUTPUT_PIXELS, max, .. }) if size.is_unset() => {
                read(OutputSize::max(max.isqrt() as usize)).await?
            }
            other => other?,
        };
        let img = recipe.post_process_on(ds.reader.as_ref(), &state.render.cpu, img).await?;
        let (opts, crs, scale) = (s.stats.options(), coord_crs.clone(), cover.cover_scale);
        // Coverage rasterizes the shape at `scale` times the resolution: cells and rows x
        // edges grow with its square.
        let cells = (img.width as u64 * img.height as u64).saturating_mul((scale * scale) as u64);
        let max_cells = state.config.limits.max_cover_cells;
        if cells > max_cells {
            return Err(ApiError::query(
                "cover_scale",
                format!(
                    "cover_scale={scale} over {}x{} pixels is {cells} cells, above {max_cells} \
                     (limits.max_cover_cells): ask a smaller cover_scale or max_size",
                    img.width, img.height
                ),
            ));
        }
        let legend = s.legend.clone();
        let (stats, areas) = state
            .render
            .cpu
            .try_run(move || {
                let coverage = imbrex_raster::feature::coverage(&img, &shape, &crs, scale)?;
                let areas = legend.map(|l| legend_areas(&l, &img, &coverage)).transpose()?;
                Ok((img.statistics_with_coverage(&opts, Some(&coverage)), areas))
            })
            .await?;
        if !feature.get("properties").is_some_and(Value::is_object) {
            feature["properties"] = json!({});
        }
        feature["properties"]["statistics"] = stats_object(stats);
        if let Some(areas) = areas {
            feature["properties"]["legend"] = areas;
        }
    }
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], axum::Json(geojson)).into_response())
}
