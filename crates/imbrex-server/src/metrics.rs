//! Prometheus metrics at `/metrics`: requests by route and status, their latency, the tile
//! caches' hits and misses per layer, and, read when scraped, what sources fetched per kind
//! of store, the CPU pool, the tile, block and image caches and the PostgreSQL pool. `prometheus-client` (the Prometheus
//! project's own crate) keeps the series and writes the text format.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The route's pattern (`/cog/tiles/{tileMatrixSetId}/{z}/{x}/{y}`), not the path: a
    /// path per tile would mint a series per tile.
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

/// A route pattern as `&'static str`. The router's patterns are a fixed, small set (paths
/// no route matched are all `unmatched`), each leaked once, so counting a request copies
/// no string.
fn intern(route: &str) -> &'static str {
    static ROUTES: std::sync::OnceLock<std::sync::RwLock<std::collections::HashSet<&'static str>>> =
        std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(Default::default);
    if let Some(r) = routes.read().unwrap_or_else(|e| e.into_inner()).get(route) {
        return r;
    }
    let mut routes = routes.write().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = routes.get(route) {
        return r;
    }
    let r: &'static str = Box::leak(route.into());
    routes.insert(r);
    r
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    layer: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

type Latency = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The series of one process.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Latency,
    cache: Family<CacheLabels, Counter>,
    source_requests: Family<KindLabels, Counter>,
    source_bytes: Family<KindLabels, Counter>,
    tile_memory_bytes: Gauge,
    /// One scrape at a time adds the sources' tallies (two would add the same bytes twice).
    scrape: std::sync::Mutex<()>,
    cpu_running: Gauge,
    cpu_waiting: Gauge,
    block_cache_bytes: Gauge,
    image_cache_bytes: Gauge,
    db_connections: Gauge,
    db_idle: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("imbrex");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by route and status", requests.clone());
        // 1 ms to 33 s.
        let latency: Latency = Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.001, 2.0, 16)));
        registry.register("http_request_duration_seconds", "Time to the response head, by route", latency.clone());
        let cache = Family::<CacheLabels, Counter>::default();
        registry.register("tile_cache_requests", "Tile cache lookups, by layer and result", cache.clone());
        let source_requests = Family::<KindLabels, Counter>::default();
        registry.register("source_requests", "Requests made to sources, by kind of store", source_requests.clone());
        let source_bytes = Family::<KindLabels, Counter>::default();
        registry.register("source_bytes", "Bytes fetched from sources, by kind of store", source_bytes.clone());
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let tile_memory_bytes = gauge(&mut registry, "tile_cache_memory_bytes", "Tiles held in memory");
        let cpu_running = gauge(&mut registry, "cpu_pool_running", "CPU jobs running");
        let cpu_waiting = gauge(&mut registry, "cpu_pool_waiting", "CPU jobs queued");
        let block_cache_bytes = gauge(&mut registry, "block_cache_bytes", "Decoded raster blocks held");
        let image_cache_bytes = gauge(&mut registry, "image_cache_bytes", "Pyramid blocks of /image held");
        let db_connections = gauge(&mut registry, "postgres_pool_connections", "PostgreSQL connections open");
        let db_idle = gauge(&mut registry, "postgres_pool_idle", "PostgreSQL connections idle");
        Metrics {
            registry,
            requests,
            latency,
            cache,
            source_requests,
            source_bytes,
            tile_memory_bytes,
            scrape: std::sync::Mutex::new(()),
            cpu_running,
            cpu_waiting,
            block_cache_bytes,
            image_cache_bytes,
            db_connections,
            db_idle,
        }
    }
}

impl Metrics {
    /// Bring the per-kind source counters up to the sources' tallies.
    fn add_fetches(&self, fetched: &imbrex_raster::source::Fetches) {
        let _one_scrape = self.scrape.lock().unwrap_or_else(|e| e.into_inner());
        for (kind, stats) in [("local", &fetched.local), ("http", &fetched.http), ("object", &fetched.object)] {
            // Counters only go up: add what was fetched since the last scrape.
            let requests = self.source_requests.get_or_create(&KindLabels { kind });
            requests.inc_by(stats.requests().saturating_sub(requests.get()));
            let bytes = self.source_bytes.get_or_create(&KindLabels { kind });
            bytes.inc_by(stats.bytes().saturating_sub(bytes.get()));
        }
    }
}

/// The middleware: one count and one latency sample per request, and the tile cache's
/// verdict (its `x-imbrex-cache` header).
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| intern(p.as_str()));
    let start = Instant::now();
    let res = next.run(req).await;
    let m = &state.metrics;
    m.latency.get_or_create(&RouteLabels { route }).observe(start.elapsed().as_secs_f64());
    if let Some(from) = res.headers().get(crate::tile_cache::HEADER).and_then(|v| v.to_str().ok()) {
        let redis = state.tile_cache.as_ref().is_some_and(|c| c.has_redis());
        let count = |layer: &'static str, result: &'static str| {
            m.cache.get_or_create(&CacheLabels { layer, result }).inc();
        };
        match from {
            "memory" => count("memory", "hit"),
            "redis" => {
                count("memory", "miss");
                count("redis", "hit");
            }
            _ => {
                count("memory", "miss");
                if redis {
                    count("redis", "miss");
                }
            }
        }
    }
    m.requests.get_or_create(&RequestLabels { route, status: res.status().as_u16() }).inc();
    res
}

/// `GET /metrics`: every series in Prometheus's text format.
#[utoipa::path(get, path = "/metrics", tag = "Landing",
    responses((status = 200, description = "Prometheus metrics", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let m = &state.metrics;
    m.cpu_running.set(state.render.cpu.running() as i64);
    m.cpu_waiting.set(state.render.cpu.waiting() as i64);
    m.block_cache_bytes.set(state.readers.block_bytes() as i64);
    if let Some(tiles) = &state.tile_cache {
        m.tile_memory_bytes.set(tiles.memory_bytes() as i64);
    }
    m.add_fetches(state.readers.factory().fetched());
    m.image_cache_bytes.set(state.images.cached_bytes().await as i64);
    if let Some(db) = &state.db {
        let (open, idle) = db.pool_status();
        m.db_connections.set(open as i64);
        m.db_idle.set(idle as i64);
    }
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &m.registry) {
        return crate::error::ApiError::Internal(format!("encoding metrics: {e}")).into_response();
    }
    let mut res = text.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    res
}
