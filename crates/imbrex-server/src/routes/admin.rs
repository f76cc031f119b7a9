//! Admin endpoints: off unless an admin token is configured, and then only for requests
//! that carry it.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::routes::collections::database;

pub fn router() -> Router<AppState> {
    Router::new().route("/refresh", post(refresh))
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
