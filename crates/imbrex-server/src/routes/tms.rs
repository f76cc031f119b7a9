//! `GET /tileMatrixSets` and `GET /tileMatrixSets/{tileMatrixSetId}` (OGC API - Tiles).

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::BaseUrl;
use crate::model::{Link, TileMatrixSetList, TileMatrixSetRef};

pub fn router() -> Router<AppState> {
    Router::new().route("/tileMatrixSets", get(list)).route("/tileMatrixSets/{tileMatrixSetId}", get(one))
}

/// The registered TileMatrixSets.
#[utoipa::path(get, path = "/tileMatrixSets", tag = "Tiling Schemes",
    responses((status = 200, description = "List of TileMatrixSets", body = TileMatrixSetList)))]
pub async fn list(State(state): State<AppState>, base: BaseUrl) -> axum::Json<TileMatrixSetList> {
    let tile_matrix_sets = state
        .tms
        .list()
        .map(|id| TileMatrixSetRef {
            id: id.to_string(),
            title: None,
            links: vec![Link::new(
                base.join(&format!("/tileMatrixSets/{id}")),
                "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                "application/json",
                &format!("Definition of {id} tileMatrixSet"),
            )],
        })
        .collect();
    axum::Json(TileMatrixSetList { tile_matrix_sets })
}

/// One TileMatrixSet, as its OGC 2DTMS v2.0 JSON document.
#[utoipa::path(get, path = "/tileMatrixSets/{tileMatrixSetId}", tag = "Tiling Schemes",
    params(("tileMatrixSetId" = String, Path, description = "Identifier of a TileMatrixSet, e.g. WebMercatorQuad")),
    responses(
        (status = 200, description = "The TileMatrixSet document", content_type = "application/json"),
        (status = 404, description = "Unknown TileMatrixSet", body = crate::error::Detail)))]
pub async fn one(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let tms = state.tms.get(&tms_id(&id)?)?;
    Ok(axum::Json(tms.to_json_value()).into_response())
}

/// Validate a `tileMatrixSetId` path segment: malformed is a 422, unknown (checked later) a 404.
pub fn tms_id(id: &str) -> ApiResult<String> {
    if id.is_empty() || id.len() > 128 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(ApiError::path("tileMatrixSetId", format!("'{id}' is not a TileMatrixSet identifier")));
    }
    Ok(id.to_string())
}
