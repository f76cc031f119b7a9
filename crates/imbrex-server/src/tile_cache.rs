//! A tile cache in Redis, shared by every replica: a tile rendered by one is served from
//! memory by all of them until its time-to-live ends.
//!
//! Only tile routes are cached (raster and vector), keyed by path and query. A cache that
//! fails (Redis down, a timeout) is skipped, never an error: tiles are rendered as if there
//! were no cache.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use redis::aio::ConnectionManager;

/// Routes whose answers are cached: the tiles of every mounted raster source
/// (`{prefix}/tiles/...`, see `routes::dataset`) and of the collections.
fn cached(route: &str) -> bool {
    route.ends_with("/tiles/{tileMatrixSetId}/{z}/{x}/{y}")
}

/// Tiles larger than this are not stored (Redis values are best kept small).
const MAX_BYTES: usize = 8 * 1024 * 1024;

/// How long one Redis command may take before the cache is skipped for the request.
const TIMEOUT: Duration = Duration::from_millis(250);

/// Says whether an answer came from the cache (`hit`) or was rendered and stored (`miss`).
pub const HEADER: &str = "x-imbrex-cache";

/// The shared cache: a reconnecting Redis connection, the key prefix (with a fingerprint of
/// the configuration) and the time-to-live.
#[derive(Clone)]
pub struct TileCache {
    redis: ConnectionManager,
    prefix: String,
    ttl_s: u64,
}

/// A fingerprint of what a tile depends on besides its URL (allowed paths and hosts, limits,
/// database, grids): replicas configured differently never share tiles, so one cannot serve
/// what another would refuse. Addresses, logging and the cache's own settings are left out,
/// so replicas of one deployment do share.
pub fn config_fingerprint(config: &crate::Config) -> String {
    let mut c = config.clone();
    c.listen = crate::Config::default().listen;
    c.log_format = crate::Config::default().log_format;
    c.tile_cache_url = None;
    c.tile_cache_ttl_s = 0;
    c.cache_control.clear();
    let text = serde_json::to_string(&c).unwrap_or_default();
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

impl TileCache {
    /// Connect; `None` (logged) when Redis cannot be reached at start. `prefix` should hold
    /// [`config_fingerprint`].
    pub async fn connect(url: &str, prefix: &str, ttl_s: u64) -> Option<TileCache> {
        // `SET ... EX 0` is an error in Redis.
        let ttl_s = ttl_s.max(1);
        let client = match redis::Client::open(url) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "tile cache URL is invalid; serving without a cache");
                return None;
            }
        };
        match tokio::time::timeout(Duration::from_secs(5), ConnectionManager::new(client)).await {
            Ok(Ok(redis)) => {
                tracing::info!(ttl_s, "tile cache connected");
                Some(TileCache { redis, prefix: prefix.to_string(), ttl_s })
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "tile cache unreachable; serving without a cache");
                None
            }
            Err(_) => {
                tracing::warn!("tile cache did not answer in 5 s; serving without a cache");
                None
            }
        }
    }

    /// The key of a request: the prefix, imbrex's version (an upgraded replica does not serve
    /// tiles an older one rendered) and a 128-bit hash of path and query (keys stay short
    /// whatever the URL).
    pub fn key(&self, path_and_query: &str) -> String {
        let hash = xxhash_rust::xxh3::xxh3_128(path_and_query.as_bytes());
        format!("{}:tile:{}:{hash:032x}", self.prefix, env!("CARGO_PKG_VERSION"))
    }

    async fn get(&self, key: &str) -> Option<(String, Vec<u8>)> {
        let mut redis = self.redis.clone();
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        match tokio::time::timeout(TIMEOUT, cmd.query_async::<Option<Vec<u8>>>(&mut redis)).await {
            Ok(Ok(Some(v))) => decode(&v),
            Ok(Ok(None)) => None,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "tile cache read failed");
                None
            }
            Err(_) => None,
        }
    }

    fn put(&self, key: String, content_type: &str, body: &[u8]) {
        let (this, value) = (self.clone(), encode(content_type, body));
        // Stored after the answer leaves: a client never waits for the cache.
        tokio::spawn(async move {
            let mut redis = this.redis.clone();
            let mut cmd = redis::cmd("SET");
            cmd.arg(&key).arg(value).arg("EX").arg(this.ttl_s);
            if let Ok(Err(e)) = tokio::time::timeout(TIMEOUT * 4, cmd.query_async::<()>(&mut redis)).await {
                tracing::warn!(error = %e, "tile cache write failed");
            }
        });
    }
}

/// A stored tile: the media type's length (u16, big-endian), the media type, the body.
fn encode(content_type: &str, body: &[u8]) -> Vec<u8> {
    let ct = &content_type.as_bytes()[..content_type.len().min(u16::MAX as usize)];
    let mut v = Vec::with_capacity(2 + ct.len() + body.len());
    v.extend_from_slice(&(ct.len() as u16).to_be_bytes());
    v.extend_from_slice(ct);
    v.extend_from_slice(body);
    v
}

fn decode(v: &[u8]) -> Option<(String, Vec<u8>)> {
    let n = u16::from_be_bytes([*v.first()?, *v.get(1)?]) as usize;
    let ct = std::str::from_utf8(v.get(2..2 + n)?).ok()?.to_string();
    Some((ct, v[2 + n..].to_vec()))
}

/// The middleware.
pub async fn layer(State(cache): State<Option<TileCache>>, req: Request, next: Next) -> Response {
    let Some(cache) = cache else { return next.run(req).await };
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    // Legend counts travel in a header, which the cache does not keep: counted tiles are
    // computed every time.
    let counted =
        req.uri().query().is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "legend_counts"));
    if req.method() != Method::GET || counted || !route.is_some_and(|r| cached(&r)) {
        return next.run(req).await;
    }
    let key = cache.key(req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    if let Some((content_type, body)) = cache.get(&key).await {
        let mut res = Response::new(Body::from(body));
        if let Ok(v) = HeaderValue::from_str(&content_type) {
            res.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        res.headers_mut().insert(HEADER, HeaderValue::from_static("hit"));
        return res;
    }
    let res = next.run(req).await;
    if res.status() != StatusCode::OK {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            use axum::response::IntoResponse;
            return crate::error::ApiError::Internal(format!("response body: {e}")).into_response();
        }
    };
    if bytes.len() <= MAX_BYTES {
        let ct = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        cache.put(key, ct, &bytes);
    }
    parts.headers.insert(HEADER, HeaderValue::from_static("miss"));
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_tiles_round_trip() {
        let v = encode("image/png", b"\x89PNG...");
        assert_eq!(decode(&v), Some(("image/png".to_string(), b"\x89PNG...".to_vec())));
        assert_eq!(decode(&encode("", b"")), Some((String::new(), Vec::new())));
        assert_eq!(decode(&[0, 9, b'x']), None, "a truncated value is a miss, not a panic");
        assert_eq!(decode(&[]), None);
    }
}
