//! `/legends`: the configured legends, as JSON and as images.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{BaseUrl, QueryMap};

pub fn router() -> Router<AppState> {
    Router::new().route("/legends", get(list)).route("/legends/{legend}", get(legend))
}

/// The configured legends.
#[utoipa::path(get, path = "/legends", tag = "Legends",
    responses((status = 200, description = "Legend list", content_type = "application/json")))]
pub async fn list(State(state): State<AppState>, base: BaseUrl) -> ApiResult<Response> {
    let legends: Vec<Value> = state
        .legends
        .iter()
        .map(|(name, l)| {
            let link = |ext: &str, media: &str, rel: &str| {
                json!({"href": base.join(&format!("/legends/{name}{ext}")), "rel": rel, "type": media})
            };
            json!({
                "name": name,
                "type": if matches!(l.as_ref(), imbrex_raster::render::Legend::Ramp(_)) { "ramp" } else { "classes" },
                "links": [link("", "application/json", "item"), link(".png", "image/png", "preview"),
                    link(".svg", "image/svg+xml", "preview")],
            })
        })
        .collect();
    Ok(axum::Json(json!({ "legends": legends })).into_response())
}

/// A legend: `{name}` (JSON: classes with names, colours and expressions; a ramp with its
/// colours and value stops), `{name}.png` or `{name}.svg` (swatches with labels).
#[utoipa::path(get, path = "/legends/{legend}", tag = "Legends",
    params(("legend" = String, Path, description = "Legend name, optionally with .json, .png or .svg")),
    responses((status = 200, description = "The legend", content_type = "application/json"),
        (status = 404, description = "Unknown legend", body = crate::error::Detail)))]
pub async fn legend(State(state): State<AppState>, Path(seg): Path<String>, _q: QueryMap) -> ApiResult<Response> {
    let (name, ext) = match seg.rsplit_once('.') {
        Some((n, e @ ("json" | "png" | "svg"))) if !state.legends.contains_key(&seg) => (n, Some(e)),
        _ => (seg.as_str(), None),
    };
    let l = state.legends.get(name).ok_or_else(|| ApiError::NotFound(format!("legend '{name}' not found")))?;
    Ok(match ext {
        None | Some("json") => axum::Json(l.document(name)).into_response(),
        Some("png") => ([(header::CONTENT_TYPE, "image/png")], l.png(None)?).into_response(),
        _ => ([(header::CONTENT_TYPE, "image/svg+xml")], l.svg(None)).into_response(),
    })
}
