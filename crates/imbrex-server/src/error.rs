//! The one place where failures become HTTP status codes.
//!
//! Library crates return typed errors sorted by fault; [`ApiError::status`] maps each
//! variant once. Client errors name what was wrong; server errors are logged in full and
//! answered with a generic message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One item of a 422 body, in FastAPI's shape (TiTiler's and tipg's OpenAPI documents):
/// `{"loc": ["query", "rescale"], "msg": "...", "type": "value_error"}`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ValidationIssue {
    pub loc: Vec<String>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
}

impl ValidationIssue {
    /// A malformed value of a query parameter.
    pub fn query(name: &str, msg: impl Into<String>) -> ValidationIssue {
        ValidationIssue { loc: vec!["query".into(), name.into()], msg: msg.into(), kind: "value_error".into() }
    }

    /// A malformed path segment.
    pub fn path(name: &str, msg: impl Into<String>) -> ValidationIssue {
        ValidationIssue { loc: vec!["path".into(), name.into()], msg: msg.into(), kind: "value_error".into() }
    }

    /// A required query parameter that is absent.
    pub fn missing(name: &str) -> ValidationIssue {
        ValidationIssue { loc: vec!["query".into(), name.into()], msg: "Field required".into(), kind: "missing".into() }
    }

    /// A malformed request body.
    pub fn body(msg: impl Into<String>) -> ValidationIssue {
        ValidationIssue { loc: vec!["body".into()], msg: msg.into(), kind: "value_error".into() }
    }
}

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Parameters that do not parse or validate: 422 with FastAPI's detail list.
    #[error("validation failed: {0:?}")]
    Validation(Vec<ValidationIssue>),
    /// A request that is well-formed but cannot be served as asked: 400.
    #[error("{0}")]
    BadRequest(String),
    /// Missing or wrong credentials for an admin endpoint: 401.
    #[error("{0}")]
    Unauthorized(String),
    /// Not allowed by the server's access policy: 403.
    #[error("{0}")]
    Forbidden(String),
    /// Unknown resource: 404.
    #[error("{0}")]
    NotFound(String),
    /// A request over a configured bound (output size, page size): 400 naming the limit.
    #[error("{0}")]
    LimitExceeded(String),
    /// A request body over `limits.max_body_bytes`: 413.
    #[error("{0}")]
    TooLarge(String),
    /// A remote source or database failed or is unreachable.
    #[error("{0}")]
    Upstream(String),
    /// A dependency is temporarily unavailable (e.g. the database is down): 503.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: a bug on our side.
    #[error("{0}")]
    Internal(String),
    /// PostGIS errors.
    #[error(transparent)]
    Vector(#[from] imbrex_vector::Error),
    /// Tile matrix set and CRS errors.
    #[error(transparent)]
    Tms(#[from] imbrex_tms::Error),
    /// Raster reading and rendering errors.
    #[error(transparent)]
    Raster(#[from] imbrex_raster::Error),
}

/// The JSON body of every non-422 error.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Detail {
    pub detail: String,
}

/// The JSON body of a 422.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ValidationDetail {
    pub detail: Vec<ValidationIssue>,
}

impl ApiError {
    /// A single query-parameter validation error.
    pub fn query(name: &str, msg: impl Into<String>) -> ApiError {
        ApiError::Validation(vec![ValidationIssue::query(name, msg)])
    }

    /// A single path-parameter validation error.
    pub fn path(name: &str, msg: impl Into<String>) -> ApiError {
        ApiError::Validation(vec![ValidationIssue::path(name, msg)])
    }

    /// The status code of each failure, chosen here and nowhere else.
    pub fn status(&self) -> StatusCode {
        use imbrex_tms::Error as T;
        match self {
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) | ApiError::LimitExceeded(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Raster(e) => {
                use imbrex_raster::Error as R;
                match e {
                    R::NotFound { .. } | R::TileOutsideBounds(_) => StatusCode::NOT_FOUND,
                    R::Forbidden { .. } => StatusCode::FORBIDDEN,
                    R::InvalidParameter { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                    R::Corrupt { .. } | R::Unsupported { .. } | R::LimitExceeded { .. } | R::PointOutsideBounds(_) => {
                        StatusCode::BAD_REQUEST
                    }
                    R::Upstream { .. } => StatusCode::BAD_GATEWAY,
                    R::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
                    R::Overloaded | R::UpstreamBusy { .. } => StatusCode::SERVICE_UNAVAILABLE,
                    R::Io { .. } | R::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                    R::Tms(t) => ApiError::Tms(t.clone()).status(),
                }
            }
            ApiError::Vector(e) => {
                use imbrex_vector::Error as V;
                match e {
                    V::NotFound { .. } => StatusCode::NOT_FOUND,
                    V::Forbidden(_) => StatusCode::FORBIDDEN,
                    V::InvalidParameter { .. } => StatusCode::BAD_REQUEST,
                    V::Unavailable(_) | V::Timeout => StatusCode::SERVICE_UNAVAILABLE,
                    V::Database(_) | V::Value(_) | V::Refused(_) => StatusCode::INTERNAL_SERVER_ERROR,
                    V::Tms(t) => ApiError::Tms(t.clone()).status(),
                }
            }
            ApiError::Tms(e) => match e {
                T::NotFound { .. } | T::TileOutOfRange { .. } | T::InvalidZoom { .. } | T::PointOutsideTms { .. } => {
                    StatusCode::NOT_FOUND
                }
                T::InvalidCrs { .. }
                | T::UnsupportedCrs { .. }
                | T::InvalidParameter { .. }
                | T::NoQuadkeySupport { .. }
                | T::Transform { .. } => StatusCode::BAD_REQUEST,
                T::InvalidTileMatrixSet { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// What the client is told: the error itself for 4xx, a generic line for 5xx.
    fn public_message(&self) -> String {
        let status = self.status();
        match self {
            ApiError::Upstream(m) | ApiError::Unavailable(m) => m.clone(),
            ApiError::Vector(imbrex_vector::Error::Unavailable(_)) => "database unavailable, retry later".to_string(),
            ApiError::Vector(e @ imbrex_vector::Error::Timeout) => format!("{e}; retry later or ask for less"),
            ApiError::Raster(e @ imbrex_raster::Error::Overloaded) => format!("{e}; retry later"),
            ApiError::Raster(imbrex_raster::Error::LimitExceeded {
                limit: imbrex_raster::reader::OUTPUT_BYTES,
                value,
                max,
            }) => format!(
                "the request would hold {value} bytes of pixels (pixels x bands x bytes per sample), above the \
                 limit of {max} (limits.max_output_bytes): ask for fewer bands or fewer pixels"
            ),
            ApiError::Raster(imbrex_raster::Error::LimitExceeded {
                limit: imbrex_raster::source::FETCH_BYTES,
                max,
                ..
            }) => format!(
                "the request would read more than {max} bytes from its sources (limits.max_fetch_bytes): \
                 ask for fewer pixels, or a higher zoom of a file without overviews"
            ),
            ApiError::Raster(imbrex_raster::Error::Upstream { source_id, .. }) => {
                format!("upstream error reading {}", public_url(source_id))
            }
            ApiError::Raster(imbrex_raster::Error::UpstreamTimeout { source_id }) => {
                format!("upstream timed out reading {}", public_url(source_id))
            }
            ApiError::Raster(imbrex_raster::Error::UpstreamBusy { source_id, .. }) => {
                format!("upstream busy reading {}; retry later", public_url(source_id))
            }
            _ if status.is_server_error() => "internal server error".to_string(),
            other => other.to_string(),
        }
    }
}

/// A source's URL as an answer may show it: without its query string, which may carry a
/// signature or a token (a signed URL, a published dataset's).
fn public_url(url: &str) -> &str {
    url.split_once('?').map_or(url, |(base, _)| base)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // A raster parameter error names its parameter: answer it as FastAPI would.
        let this = match self {
            ApiError::Raster(imbrex_raster::Error::InvalidParameter { name, reason }) => ApiError::query(name, reason),
            other => other,
        };
        let status = this.status();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Overload and an unreachable database are conditions of the moment, not bugs.
            tracing::warn!(error = %this, status = status.as_u16(), "request refused");
        } else if status.is_server_error() {
            tracing::error!(error = %this, status = status.as_u16(), "request failed");
        } else {
            tracing::debug!(error = %this, status = status.as_u16(), "request rejected");
        }
        let mut res = match this {
            ApiError::Validation(detail) => (status, Json(ValidationDetail { detail })).into_response(),
            other => (status, Json(Detail { detail: other.public_message() })).into_response(),
        };
        // Every 503 is temporary (a busy CPU pool, an unreachable database): say when to
        // come back, so clients and proxies back off instead of hammering.
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        res
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;
