//! The `/mosaicjson` endpoint group: the dataset router over a MosaicJSON document (its
//! assets chosen per tile by quadkey and combined by `pixel_selection=`), plus what only a
//! mosaic has: the document itself, its validation and the assets behind a tile, a point or
//! a box.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use imbrex_raster::Expression;
use imbrex_raster::mosaic::{self, MosaicJson, PixelSelection};
use imbrex_raster::reader::PointRequest;
use imbrex_tms::{Bounds, Tile};
use serde_json::{Value, json};

use crate::AppState;
use crate::documents::AssetOpener;
use crate::error::{ApiError, ApiResult};
use crate::extract::{QueryMap, path_param};
use crate::params::{CoordCrsParams, Params, QueryGroup, ReadParams};
use crate::routes::dataset::{self, DatasetFactory, DatasetQuery, bbox_spec, lon_lat, point_values};
use crate::routes::tms::tms_id;

/// MosaicJSON documents named by `url=`.
pub struct Mosaic;

/// The dataset of a `/mosaicjson` request.
#[derive(Clone, Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MosaicParams {
    /// MosaicJSON URL: a path under an allowed folder, http(s):// or s3://.
    pub url: String,
    /// How the assets' pixels become one: first (default), highest, lowest, mean, median,
    /// stdev, lastbandlow, lastbandhigh, count.
    #[param(value_type = Option<String>)]
    pub pixel_selection: PixelSelection,
    /// Band math is applied to each asset before the pixels are chosen (as rio-tiler).
    #[param(ignore)]
    pub expression: Option<Expression>,
}

impl QueryGroup for MosaicParams {
    fn parse(state: &AppState, q: &QueryMap) -> ApiResult<MosaicParams> {
        let url = state.dataset_url(&q.require::<String>("url")?)?;
        let pixel_selection = match q.raw("pixel_selection").filter(|s| !s.is_empty()) {
            Some(s) => {
                s.parse().map_err(|e: imbrex_raster::Error| ApiError::query("pixel_selection", e.to_string()))?
            }
            None => PixelSelection::First,
        };
        let expression = ReadParams::parse(state, q)?.expression;
        Ok(MosaicParams { url, pixel_selection, expression })
    }
}

impl Mosaic {
    async fn reader(state: &AppState, params: &MosaicParams) -> ApiResult<mosaic::Mosaic> {
        let doc = state.mosaic(&params.url).await?;
        let opener = Arc::new(AssetOpener(state.clone()));
        Ok(mosaic::Mosaic::new(doc, params.url.clone(), opener, params.pixel_selection, params.expression.clone()))
    }
}

impl DatasetFactory for Mosaic {
    type Reader = mosaic::Mosaic;
    type Params = MosaicParams;
    const PREFIX: &'static str = "/mosaicjson";
    const TAG: &'static str = "MosaicJSON";

    async fn open(state: &AppState, params: &MosaicParams) -> ApiResult<Arc<mosaic::Mosaic>> {
        Ok(Arc::new(Mosaic::reader(state, params).await?))
    }

    fn key(params: &MosaicParams) -> String {
        let e = params.expression.as_ref().map(Expression::text).unwrap_or_default();
        format!("{}\u{0}{:?}\u{0}{e}", params.url, params.pixel_selection)
    }

    fn point_route() -> MethodRouter<AppState> {
        get(point)
    }
}

pub fn router() -> Router<AppState> {
    dataset::router::<Mosaic>()
        .route("/", get(read))
        .route("/validate", post(validate))
        .route("/tiles/{tileMatrixSetId}/{z}/{x}/{y}/assets", get(tile_assets))
        .route("/point/{lonlat}/assets", get(point_assets))
        .route("/bbox/{bbox}/assets", get(bbox_assets))
}

/// The MosaicJSON document (assets as the server resolved them).
#[utoipa::path(get, path = "/mosaicjson/", tag = "MosaicJSON", params(MosaicParams),
    responses((status = 200, description = "MosaicJSON document", content_type = "application/json")))]
pub async fn read(State(state): State<AppState>, src: DatasetQuery<Mosaic>) -> ApiResult<Response> {
    let doc = state.mosaic(&src.params().url).await?;
    Ok(axum::Json(doc.as_ref()).into_response())
}

/// Check a MosaicJSON document sent in the body.
#[utoipa::path(post, path = "/mosaicjson/validate", tag = "MosaicJSON",
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, description = "The document is valid", content_type = "application/json")))]
pub async fn validate(body: axum::body::Bytes) -> ApiResult<Response> {
    let doc = MosaicJson::parse("", &body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(axum::Json(json!({"valid": true, "mosaicjson": doc.mosaicjson, "quadkeys": doc.tiles.len()})).into_response())
}

/// The assets a tile reads.
#[utoipa::path(get, path = "/mosaicjson/tiles/{tileMatrixSetId}/{z}/{x}/{y}/assets", tag = "MosaicJSON",
    params(("tileMatrixSetId" = String, Path, description = "TileMatrixSet identifier"),
        ("z" = u32, Path, description = "Zoom level"), ("x" = u32, Path, description = "Column"),
        ("y" = u32, Path, description = "Row"), MosaicParams),
    responses((status = 200, description = "Asset list", content_type = "application/json")))]
pub async fn tile_assets(
    State(state): State<AppState>,
    Path((tms, z, x, y)): Path<(String, String, String, String)>,
    src: DatasetQuery<Mosaic>,
) -> ApiResult<Response> {
    let tms = state.tms.get(&tms_id(&tms)?)?;
    let tile = Tile { x: path_param("x", &x)?, y: path_param("y", &y)?, z: path_param("z", &z)? };
    let m = Mosaic::reader(&state, src.params()).await?;
    let assets = m.assets_for_tile(&tms, tile)?;
    Ok(axum::Json(assets).into_response())
}

/// The assets over a point.
#[utoipa::path(get, path = "/mosaicjson/point/{lon},{lat}/assets", tag = "MosaicJSON",
    params(("lon" = f64, Path, description = "Longitude"), ("lat" = f64, Path, description = "Latitude"),
        MosaicParams, CoordCrsParams),
    responses((status = 200, description = "Asset list", content_type = "application/json")))]
pub async fn point_assets(
    State(state): State<AppState>,
    Path(ll): Path<String>,
    Params(c): Params<CoordCrsParams>,
    src: DatasetQuery<Mosaic>,
) -> ApiResult<Response> {
    let (x, y) = lon_lat(&ll)?;
    let m = Mosaic::reader(&state, src.params()).await?;
    let assets = m.assets_for_bbox(Bounds::new(x, y, x, y), c.coord_crs.as_ref())?;
    Ok(axum::Json(assets).into_response())
}

/// The assets over a box.
#[utoipa::path(get, path = "/mosaicjson/bbox/{minx},{miny},{maxx},{maxy}/assets", tag = "MosaicJSON",
    params(("minx" = f64, Path, description = "West"), ("miny" = f64, Path, description = "South"),
        ("maxx" = f64, Path, description = "East"), ("maxy" = f64, Path, description = "North"),
        MosaicParams, CoordCrsParams),
    responses((status = 200, description = "Asset list", content_type = "application/json")))]
pub async fn bbox_assets(
    State(state): State<AppState>,
    Path(bbox): Path<String>,
    Params(c): Params<CoordCrsParams>,
    src: DatasetQuery<Mosaic>,
) -> ApiResult<Response> {
    let (b, _) = bbox_spec(&bbox)?;
    let m = Mosaic::reader(&state, src.params()).await?;
    let assets = m.assets_for_bbox(b, c.coord_crs.as_ref())?;
    Ok(axum::Json(assets).into_response())
}

/// Every asset's values at a point (TiTiler's mosaic point document).
pub async fn point(State(state): State<AppState>, Path(ll): Path<String>, query: QueryMap) -> ApiResult<Response> {
    let (lon, lat) = lon_lat(&ll)?;
    let coord = CoordCrsParams::parse(&state, &query)?;
    let read = ReadParams::parse(&state, &query)?;
    let src = DatasetQuery::<Mosaic>::parse(&state, &query)?;
    let m = Mosaic::reader(&state, src.params()).await?;
    let req =
        PointRequest { x: lon, y: lat, coord_crs: coord.coord_crs.as_ref(), expression: read.expression.as_ref() };
    let points = m.points(req, &read.options()).await?;
    let assets: Vec<Value> = points
        .into_iter()
        .map(|(name, pt)| {
            json!({"name": name, "values": point_values(&pt), "band_names": pt.band_names, "band_descriptions": pt.band_descriptions})
        })
        .collect();
    Ok(axum::Json(json!({"coordinates": [lon, lat], "assets": assets})).into_response())
}
