//! HTTP caching for the CDNs and browsers in front of imbrex: `Cache-Control` on what may be
//! cached (TiTiler's `cachecontrol` setting), and an `ETag` from the body so revalidating an
//! unchanged tile costs a bodiless 304 instead of the tile.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Paths whose answers must never come from a cache.
const NEVER: &[&str] = &["/healthz", "/metrics"];

/// A weak validator (`W/"..."`): the same for the identity and the gzip-encoded form of a
/// body, which compression (outside this layer) may produce from it.
pub fn etag(body: &[u8]) -> String {
    format!("W/\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(body))
}

/// Whether an `If-None-Match` value names `tag` (weak comparison, as RFC 9110 asks for it).
fn matches(if_none_match: &str, tag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    if_none_match.split(',').any(|t| t.trim() == "*" || bare(t) == bare(tag))
}

/// What the middleware adds.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The configured `Cache-Control` value ("" for none).
    pub cache_control: String,
    /// URLs in documents follow `X-Forwarded-*` (see `BaseUrl`), so documents vary on them.
    pub forwarded: bool,
    /// URLs in documents follow `Host` (no public URL is configured): they vary on it, or a
    /// shared cache would hand one client's `Host` to every other.
    pub host: bool,
}

/// The middleware.
pub async fn layer(State(policy): State<Policy>, req: Request, next: Next) -> Response {
    let cacheable = matches!(*req.method(), Method::GET | Method::HEAD) && !NEVER.contains(&req.uri().path());
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let res = next.run(req).await;
    // Errors are not cached: a collection missing now may be there after POST /refresh.
    if !cacheable || !res.status().is_success() {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    // Documents may be negotiated on Accept (HTML for browsers, JSON for programs) and hold
    // absolute URLs: a cache must keep the variants apart. Tiles and images are neither.
    let media = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if media.starts_with("text/html") || media.contains("json") || media.contains("xml") {
        parts.headers.append(header::VARY, HeaderValue::from_static("Accept"));
        if policy.host {
            parts.headers.append(header::VARY, HeaderValue::from_static("Host"));
        }
        if policy.forwarded {
            parts.headers.append(header::VARY, HeaderValue::from_static("X-Forwarded-Host, X-Forwarded-Proto"));
        }
    }
    // The value was checked when the state was built (AppState::new).
    if !policy.cache_control.is_empty()
        && !parts.headers.contains_key(header::CACHE_CONTROL)
        && let Ok(v) = HeaderValue::from_str(&policy.cache_control)
    {
        parts.headers.insert(header::CACHE_CONTROL, v);
    }
    if parts.status != StatusCode::OK {
        return Response::from_parts(parts, body);
    }
    // A validator the handler (or the tile cache, which keeps one per tile) set: used as
    // it is, without hashing the body again.
    if let Some(tag) = parts.headers.get(header::ETAG).and_then(|v| v.to_str().ok()) {
        if if_none_match.is_some_and(|inm| matches(&inm, tag)) {
            parts.status = StatusCode::NOT_MODIFIED;
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.remove(header::CONTENT_TYPE);
            return Response::from_parts(parts, Body::empty());
        }
        return Response::from_parts(parts, body);
    }
    // Answers are built in memory, so collecting the body costs no more than sending it.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return crate::error::ApiError::Internal(format!("response body: {e}")).into_response(),
    };
    let tag = etag(&bytes);
    if let Ok(v) = HeaderValue::from_str(&tag) {
        parts.headers.insert(header::ETAG, v);
    }
    if if_none_match.is_some_and(|inm| matches(&inm, &tag)) {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.remove(header::CONTENT_TYPE);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly() {
        let tag = etag(b"tile");
        assert!(tag.starts_with("W/\"") && tag.len() == 36, "{tag}");
        assert_ne!(tag, etag(b"tile2"));
        assert!(matches(&tag, &tag));
        assert!(matches(&tag.replace("W/", ""), &tag), "a strong form of the same tag matches weakly");
        assert!(matches(&format!("\"x\", {tag}"), &tag));
        assert!(matches("*", &tag));
        assert!(!matches("\"x\"", &tag));
    }
}
