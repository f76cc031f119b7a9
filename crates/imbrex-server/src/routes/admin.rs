//! Admin endpoints: off unless an admin token is configured, and then only for requests
//! that carry it.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use crate::AppState;
use crate::error::ValidationIssue;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryMap;
use crate::routes::collections::database;
use crate::tile_cache::Purge;

pub fn router() -> Router<AppState> {
    Router::new().route("/refresh", post(refresh)).route("/cache/purge", post(purge))
}

/// Whether `headers` carry the configured admin token (`what` names the endpoint in errors).
fn authorize(state: &AppState, headers: &HeaderMap, what: &str) -> ApiResult<()> {
    let Some(token) = &state.config.admin_token else {
        return Err(ApiError::Forbidden(format!(
            "{what} is off: configure an admin token (--admin-token, IMBREX_ADMIN_TOKEN)"
        )));
    };
    let given =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    // Compare without an early exit so the time taken says nothing about the token.
    let matches = given.is_some_and(|g| {
        g.len() == token.len() && g.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    });
    if matches {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(format!("{what} needs Authorization: Bearer <admin token>")))
    }
}

/// Read the catalog again: admin-only, and off when no admin token is configured (an open
/// refresh lets anyone make the server rescan the database).
#[utoipa::path(post, path = "/refresh", tag = "OGC Features and Vector Tiles",
    responses((status = 200, description = "The catalog was read again", content_type = "application/json"),
        (status = 401, description = "The admin token was not given", body = crate::error::Detail),
        (status = 403, description = "No admin token is configured: refresh is off", body = crate::error::Detail)))]
pub async fn refresh(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    authorize(&state, &headers, "POST /refresh")?;
    let db = database(&state)?;
    let catalog = db.refresh().await?;
    Ok(axum::Json(json!({"collections": catalog.collections.len()})).into_response())
}

/// What `POST /cache/purge` purges.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the query for OpenAPI; read through `QueryMap`
pub struct PurgeParams {
    /// A collection id: its vector tiles.
    collection: Option<String>,
    /// A dataset URL, as given in `url=`: the tiles made from it (its version is asked again).
    url: Option<String>,
}

/// Purge cached tiles of a collection or a URL: in this process, in Redis, and (through
/// Redis) in every other replica's memory. Admin-only.
#[utoipa::path(post, path = "/cache/purge", tag = "Landing", params(PurgeParams),
    responses((status = 200, description = "Purged", content_type = "application/json"),
        (status = 401, description = "The admin token was not given", body = crate::error::Detail),
        (status = 403, description = "No admin token is configured: purging is off", body = crate::error::Detail),
        (status = 422, description = "Neither collection nor url was given", body = crate::error::Detail)))]
pub async fn purge(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> ApiResult<Response> {
    authorize(&state, &headers, "POST /cache/purge")?;
    let q = QueryMap::parse(query.as_deref().unwrap_or(""));
    let mut what = Vec::new();
    what.extend(q.raw("collection").map(|c| Purge::Collection(c.to_string())));
    // The url= as requests spelled it (tiles are tagged so), and the source tiles read: a
    // published name's URL, in its one spelling.
    if let Some(u) = q.raw("url") {
        let source = state.config.datasets.get(u.trim()).map_or(u, String::as_str);
        let canonical = imbrex_raster::source::canonical_url(source);
        if canonical != u.trim() {
            what.push(Purge::Url(u.trim().to_string()));
        }
        what.push(Purge::Url(canonical));
    }
    if what.is_empty() {
        return Err(ApiError::Validation(vec![ValidationIssue::query(
            "collection",
            "give collection=ID or url=URL (or both)",
        )]));
    }
    let mut redis_keys = 0;
    if let Some(tiles) = &state.tile_cache {
        for w in &what {
            // Purged here; the other replicas could not be told: say so.
            redis_keys +=
                tiles.purge(w).await.map_err(|e| ApiError::Unavailable(format!("purged in this replica only: {e}")))?;
        }
    }
    Ok(axum::Json(json!({"purged": what.len(), "redis_keys": redis_keys})).into_response())
}
