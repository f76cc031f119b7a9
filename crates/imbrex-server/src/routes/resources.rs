//! `/colorMaps` and `/algorithms`: what rendering offers, as TiTiler lists it.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use imbrex_raster::algorithm::Algorithm;
use imbrex_raster::render::{ColorMap, ImageFormat, Render, colormap};
use imbrex_raster::{Buffer, ImageData};
use imbrex_tms::Bounds;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{BaseUrl, Negotiated, QueryMap};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/colorMaps", get(colormaps))
        .route("/colorMaps/{colorMapId}", get(colormap_metadata))
        .route("/algorithms", get(algorithms))
        .route("/algorithms/{algorithmId}", get(algorithm))
}

/// The built-in colormaps.
#[utoipa::path(get, path = "/colorMaps", tag = "ColorMaps",
    responses((status = 200, description = "Colormap list", content_type = "application/json")))]
pub async fn colormaps(base: BaseUrl, query: QueryMap, headers: HeaderMap) -> ApiResult<Response> {
    let list: Vec<Value> = colormap::names()
        .into_iter()
        .map(|id| {
            json!({"id": id, "links": [{"href": base.join(&format!("/colorMaps/{id}")), "rel": "item",
                "type": "application/json", "title": format!("Definition of {id} ColorMap")}]})
        })
        .collect();
    match Negotiated::from_request(&query, &headers)? {
        Negotiated::Html => {
            let items: String = colormap::names()
                .iter()
                .map(|id| {
                    format!(
                        "<li><a href=\"{0}\">{1}</a><br><img src=\"{0}?f=png\" alt=\"{1}\"></li>",
                        base.join(&format!("/colorMaps/{id}")),
                        id
                    )
                })
                .collect();
            Ok(Html(format!("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>ColorMaps</title></head><body><h1>ColorMaps</h1><ul>{items}</ul></body></html>")).into_response())
        }
        Negotiated::Json => Ok(axum::Json(json!({ "colormaps": list })).into_response()),
    }
}

/// A legend bar image: the 256 values of the LUT, `width` x `height`.
fn legend(cm: &ColorMap, vertical: bool, width: Option<usize>, height: Option<usize>) -> ApiResult<ImageData> {
    let (w, h) = if vertical {
        (width.unwrap_or(20), height.unwrap_or(256))
    } else {
        (width.unwrap_or(256), height.unwrap_or(20))
    };
    if w == 0 || h == 0 || w > 4096 || h > 4096 {
        return Err(ApiError::query(if w == 0 || w > 4096 { "width" } else { "height" }, "between 1 and 4096"));
    }
    let _ = cm;
    // Nearest resampling of the 256 steps along the bar.
    let mut data = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let t = if vertical { y * 256 / h } else { x * 256 / w };
            data.push(t.min(255) as u8);
        }
    }
    Ok(ImageData::one_band(w, h, Buffer::Uint8(data), vec![255; w * h], Bounds::new(0.0, 0.0, w as f64, h as f64)))
}

/// A colormap: its LUT as JSON, or a legend image (`f=png`...).
#[utoipa::path(get, path = "/colorMaps/{colorMapId}", tag = "ColorMaps",
    params(("colorMapId" = String, Path, description = "Colormap name"),
        ("f" = Option<String>, Query, description = "json, html, or an image format for a legend bar"),
        ("orientation" = Option<String>, Query, description = "horizontal (default) or vertical"),
        ("width" = Option<usize>, Query, description = "Legend width"), ("height" = Option<usize>, Query, description = "Legend height")),
    responses((status = 200, description = "Colormap", content_type = "application/json"),
        (status = 404, description = "Unknown colormap", body = crate::error::Detail)))]
pub async fn colormap_metadata(Path(id): Path<String>, query: QueryMap, headers: HeaderMap) -> ApiResult<Response> {
    let cm = ColorMap::named(&id).ok_or_else(|| ApiError::NotFound(format!("colormap '{id}' not found")))?;
    let lut = cm.lut().copied().expect("named colormaps are lookup tables");
    let vertical = match query.raw("orientation") {
        None | Some("horizontal") => false,
        Some("vertical") => true,
        Some(o) => return Err(ApiError::query("orientation", format!("'{o}' is not vertical or horizontal"))),
    };
    let image_format = match query.raw("f") {
        Some("json") | Some("html") | None => None,
        Some(f) => Some(f.parse::<ImageFormat>().map_err(|_| ApiError::query("f", format!("'{f}' is not a format")))?),
    };
    if let Some(format) = image_format {
        let img = legend(&cm, vertical, query.get("width")?, query.get("height")?)?;
        let r = Render { colormap: Some(cm), format: Some(format), return_mask: true, ..Default::default() };
        let (bytes, fmt) = imbrex_raster::render::render(&img, &r)?;
        return Ok(([(header::CONTENT_TYPE, fmt.media_type())], bytes).into_response());
    }
    if query.raw("f") == Some("html")
        || (query.raw("f").is_none() && Negotiated::from_request(&query, &headers)? == Negotiated::Html)
    {
        return Ok(Html(format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{id}</title></head><body><h1>{id}</h1><img src=\"?f=png&orientation=vertical\" alt=\"{id}\"></body></html>"
        ))
        .into_response());
    }
    let map: serde_json::Map<String, Value> = lut.iter().enumerate().map(|(i, c)| (i.to_string(), json!(c))).collect();
    Ok(axum::Json(Value::Object(map)).into_response())
}

/// The post-processing algorithms.
#[utoipa::path(get, path = "/algorithms", tag = "Algorithms",
    responses((status = 200, description = "Algorithms and their parameters", content_type = "application/json")))]
pub async fn algorithms(State(_state): State<AppState>, base: BaseUrl) -> ApiResult<Response> {
    let list: Vec<Value> = Algorithm::names()
        .into_iter()
        .map(|id| {
            json!({"id": id, "title": null, "links": [{"href": base.join(&format!("/algorithms/{id}")), "rel": "item",
                "type": "application/json", "templated": null, "varBase": null, "hreflang": null,
                "title": format!("Definition of {id} Algorithm"), "length": null}]})
        })
        .collect();
    Ok(axum::Json(json!({ "algorithms": list })).into_response())
}

/// One algorithm's metadata.
#[utoipa::path(get, path = "/algorithms/{algorithmId}", tag = "Algorithms",
    params(("algorithmId" = String, Path, description = "Algorithm name")),
    responses((status = 200, description = "Algorithm metadata", content_type = "application/json"),
        (status = 404, description = "Unknown algorithm", body = crate::error::Detail)))]
pub async fn algorithm(Path(id): Path<String>) -> ApiResult<Response> {
    let m = Algorithm::metadata(&id).ok_or_else(|| ApiError::NotFound(format!("algorithm '{id}' not found")))?;
    Ok(axum::Json(m).into_response())
}
