//! `/pmtiles`: tiles of PMTiles and MBTiles archives, as stored, with their TileJSON.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::AppState;
use crate::archives::ArchiveError;
use crate::error::{ApiError, ApiResult};
use crate::extract::{BaseUrl, path_param};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pmtiles", get(list))
        .route("/pmtiles/{name}/tilejson.json", get(tilejson))
        .route("/pmtiles/{name}/{z}/{x}/{y}", get(tile))
}

impl From<ArchiveError> for ApiError {
    fn from(e: ArchiveError) -> ApiError {
        match e {
            ArchiveError::Unknown(_) => ApiError::NotFound(e.to_string()),
            ArchiveError::Unreadable { .. } => ApiError::Upstream(e.to_string()),
        }
    }
}

fn seg(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The archives served, with their TileJSON.
#[utoipa::path(get, path = "/pmtiles", tag = "PMTiles",
    responses((status = 200, description = "The archives served", content_type = "application/json")))]
pub async fn list(State(state): State<AppState>, base: BaseUrl) -> Response {
    let archives: Vec<_> = state
        .archives
        .names()
        .map(|n| json!({"name": n, "tilejson": base.join(&format!("/pmtiles/{}/tilejson.json", seg(n)))}))
        .collect();
    axum::Json(json!({"archives": archives})).into_response()
}

/// TileJSON 3.0.0 of an archive, from its header or metadata table (and its
/// `vector_layers`, if its metadata has them).
#[utoipa::path(get, path = "/pmtiles/{name}/tilejson.json", tag = "PMTiles",
    params(("name" = String, Path, description = "Archive name")),
    responses((status = 200, description = "TileJSON 3.0", content_type = "application/json"),
        (status = 404, description = "No such archive", body = crate::error::Detail)))]
pub async fn tilejson(State(state): State<AppState>, base: BaseUrl, Path(name): Path<String>) -> ApiResult<Response> {
    let archive = state.archives.get(&name).await?;
    let info = archive.info();
    let mut doc = json!({
        "tilejson": "3.0.0",
        "name": name,
        "scheme": "xyz",
        "tiles": [base.join(&format!("/pmtiles/{}/{{z}}/{{x}}/{{y}}.{}", seg(&name), info.extension))],
        "minzoom": info.minzoom,
        "maxzoom": info.maxzoom,
        "bounds": info.bounds,
        "center": [info.center.0, info.center.1, info.center.2],
    });
    // The metadata is the writer's; keep what TileJSON has room for.
    let metadata = archive.metadata().await.map_err(|e| ApiError::Upstream(format!("archive '{name}': {e}")))?;
    for key in ["vector_layers", "attribution", "description", "version"] {
        if let Some(v) = metadata.get(key).filter(|v| !v.is_null()) {
            doc[key] = v.clone();
        }
    }
    Ok(axum::Json(doc).into_response())
}

/// A tile as stored (gzip-compressed vector tiles are sent with `Content-Encoding: gzip`).
#[utoipa::path(get, path = "/pmtiles/{name}/{z}/{x}/{y}", tag = "PMTiles",
    params(("name" = String, Path, description = "Archive name"), ("z" = u8, Path, description = "Zoom"),
        ("x" = u32, Path, description = "Column"), ("y" = String, Path, description = "Row, with an optional extension")),
    responses((status = 200, description = "The tile"),
        (status = 404, description = "No such archive, or no tile there", body = crate::error::Detail)))]
pub async fn tile(
    State(state): State<AppState>,
    Path((name, z, x, y)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    let y = y.split_once('.').map_or(y.as_str(), |(y, _)| y);
    let (z, x, y): (u8, u32, u32) = (path_param("z", &z)?, path_param("x", &x)?, path_param("y", y)?);
    // Past the zoom's last row or column: no such tile, as for the other tile routes.
    let coord = pmtiles::TileCoord::new(z, x, y)
        .map_err(|_| ApiError::NotFound(format!("archive '{name}' has no tile {z}/{x}/{y}")))?;
    let archive = state.archives.get(&name).await?;
    let (z, x, y) = (coord.z(), coord.x(), coord.y());
    let tile = archive.tile(z, x, y).await.map_err(|e| ApiError::Upstream(format!("archive '{name}': {e}")))?;
    let Some(tile) = tile else {
        return Err(ApiError::NotFound(format!("archive '{name}' has no tile {z}/{x}/{y}")));
    };
    let mut res = tile.bytes.into_response();
    let content_type = HeaderValue::from_str(&archive.info().content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    res.headers_mut().insert(header::CONTENT_TYPE, content_type);
    if let Some(e) = tile.encoding {
        res.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
    }
    Ok(res)
}
