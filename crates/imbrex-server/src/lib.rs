//! imbrex's HTTP layer: thin axum handlers over the library crates.
//!
//! A handler reads like the request path in `docs/architecture.md`: typed parameters →
//! library call → response. Status codes are chosen only in [`error::ApiError::status`].

pub mod archives;
pub mod auth;
mod cache;
pub mod config;
pub mod documents;
pub mod error;
pub mod extract;
mod html;
pub mod images;
pub mod listen;
pub mod mbtiles;
pub mod metrics;
mod model;
mod openapi;
pub mod params;
mod routes;
pub mod tile_cache;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method, header};
use imbrex_raster::cache::BlockCache;
use imbrex_raster::source::{AccessPolicy, SourceFactory};
use imbrex_raster::{OpenOptions, ReaderCache, ReaderCacheOptions};
use imbrex_tms::TileMatrixSets;
use tower_http::cors::{Any, CorsLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

pub use config::{Config, Limits, LogFormat};
pub use error::{ApiError, ApiResult, ValidationIssue};
/// The dataset router, for sources mounted beside `/cog` (and for tests of the router).
pub use routes::dataset;

/// Shared, read-only state of a running server. Cloned for every request by each layer and
/// handler that holds it (axum clones a route's whole service per call), so it is one `Arc`:
/// a clone is one atomic increment, not one per field (the moka caches inside are costly
/// to clone).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
#[derive(Clone)]
pub struct Shared {
    pub config: Arc<Config>,
    pub tms: Arc<TileMatrixSets>,
    pub readers: Arc<ReaderCache>,
    /// STAC items and mosaics, and how their asset hrefs are rewritten.
    pub documents: Arc<documents::Documents>,
    /// The CPU pool and the stretch ranges images are rendered with.
    pub render: imbrex_raster::render::RenderContext,
    /// The PostGIS database, when `database_url` is set.
    pub db: Option<Arc<imbrex_vector::Database>>,
    /// The tile caches: memory, and Redis when `tile_cache_url` is set and Redis answered
    /// at start.
    pub tile_cache: Option<Arc<tile_cache::TileCache>>,
    /// Images served in pixel space (`/image`).
    pub images: Arc<images::ImageSet>,
    /// Named legends (`legend=name`).
    pub legends: Arc<BTreeMap<String, Arc<imbrex_raster::render::Legend>>>,
    /// The process's Prometheus series (`/metrics`).
    pub metrics: Arc<metrics::Metrics>,
    /// PMTiles and MBTiles archives served under `/pmtiles`.
    pub archives: Arc<archives::ArchiveSet>,
    /// Token verification, when `[auth]` configures it.
    pub auth: Option<Arc<auth::Auth>>,
}

/// The embedded demo dataset (`url=demo`): a Sentinel-2 true-colour COG (see `demo/README.md`).
pub const DEMO_URL: &str = "demo";
static DEMO_COG: &[u8] = include_bytes!("../demo/TCI.tif");

impl Shared {
    /// What a `url=` value names: a published dataset's URL (`[datasets]`), or the value
    /// itself, which the access policy then judges, unless raw URLs are off
    /// (`raw_urls = false`): then only published names, the demo and files of the folders
    /// `imbrex serve` was given are served.
    pub fn dataset_url(&self, given: &str) -> ApiResult<String> {
        if let Some(url) = self.config.datasets.get(given.trim()) {
            return Ok(imbrex_raster::source::canonical_url(url));
        }
        let own = || given.trim() == DEMO_URL || self.images.resolve(given).is_some();
        if !self.config.raw_urls && !own() {
            return Err(ApiError::Forbidden(format!(
                "url '{given}': this server serves only the datasets it publishes by name"
            )));
        }
        // One spelling per source, so spellings share a reader and its versions.
        Ok(imbrex_raster::source::canonical_url(given))
    }
}

/// Why a configuration cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Tms(#[from] imbrex_tms::Error),
    #[error(transparent)]
    Raster(#[from] imbrex_raster::Error),
    #[error(transparent)]
    Vector(#[from] imbrex_vector::Error),
    #[error("cache_control {0:?} is not a valid header value")]
    CacheControl(String),
    #[error("public_url {0:?} is not an http(s) URL without a query")]
    PublicUrl(String),
    #[error("{0}")]
    Auth(String),
    #[error("images: {0}")]
    Images(std::io::Error),
    #[error("legend '{name}': {reason}")]
    Legend { name: String, reason: String },
}

impl AppState {
    /// Build the state from a configuration: custom TileMatrixSets, the access policy and
    /// the reader cache.
    pub fn new(config: Config) -> Result<AppState, StartError> {
        Self::with_factory(config, |f| f)
    }

    /// Like [`AppState::new`], adjusting the source factory (tests point S3 at moto).
    pub fn with_factory(
        config: Config,
        adjust: impl FnOnce(SourceFactory) -> SourceFactory,
    ) -> Result<AppState, StartError> {
        if HeaderValue::from_str(&config.cache_control).is_err() {
            return Err(StartError::CacheControl(config.cache_control));
        }
        if let Some(url) = &config.public_url {
            let ok = (url.starts_with("http://") || url.starts_with("https://"))
                && !url.contains(['?', '#', '"', '<', ' '])
                && HeaderValue::from_str(url).is_ok();
            if !ok {
                return Err(StartError::PublicUrl(url.clone()));
            }
        }
        let mut tms = TileMatrixSets::default();
        for path in &config.tms {
            tms.register_file(path)?;
        }
        let cpu = imbrex_raster::CpuPool::default();
        let blocks = BlockCache::new(config.block_cache_mb.saturating_mul(1024 * 1024));
        let open = OpenOptions {
            max_header_bytes: config.limits.max_header_bytes,
            max_image_bytes: config.limits.max_fetch_bytes,
            remote_sidecars: config.remote_sidecars,
            blocks,
            cpu: cpu.clone(),
        };
        let pixel = imbrex_raster::pixel::PixelOptions {
            cache: imbrex_raster::pixel::PyramidCache::new(config.image_cache_mb.saturating_mul(1024 * 1024)),
            cpu: cpu.clone(),
            open: open.clone(),
            spill_dir: config.image_spill_dir.clone().unwrap_or_else(std::env::temp_dir),
        };
        let images = images::ImageSet::scan(&config.images, pixel).map_err(StartError::Images)?;
        let (config_archives, source_recheck_s) = (config.archives.clone(), config.source_recheck_s);
        let legends = load_legends(&config.legends)?;
        // The georeferenced files of a served folder are `/cog` datasets.
        let allow_path: Vec<_> = config.allow_path.iter().chain(images.folders()).cloned().collect();
        let policy =
            AccessPolicy::new(&allow_path, &config.allow_url)?.with_private_addresses(config.allow_private_urls);
        let mut factory = SourceFactory::new(policy)
            .with_upstream_timeout(Duration::from_secs(config.limits.upstream_timeout_s.max(1)));
        if config.demo {
            factory = factory.with_memory(DEMO_URL, bytes::Bytes::from_static(DEMO_COG));
        }
        let reader_options = ReaderCacheOptions {
            recheck: Duration::from_secs(config.source_recheck_s),
            max_bytes: config.reader_cache_mb.saturating_mul(1024 * 1024),
            ..Default::default()
        };
        let readers = Arc::new(ReaderCache::new(adjust(factory), open, reader_options));
        let documents = documents::Documents::new(&config.href_rewrite)?;
        let auth = auth::Auth::new(&config.auth).map_err(StartError::Auth)?.map(Arc::new);
        let tiles =
            tile_cache::TileCache::new(readers.clone(), config.tile_memory_cache_mb, config.tile_cache_ttl_s, None);
        Ok(AppState(Arc::new(Shared {
            config: Arc::new(config),
            tms: Arc::new(tms),
            readers,
            documents: Arc::new(documents),
            render: imbrex_raster::render::RenderContext { cpu, stretches: Default::default() },
            db: None,
            tile_cache: Some(tiles),
            images: Arc::new(images),
            legends: Arc::new(legends),
            metrics: Arc::new(metrics::Metrics::default()),
            archives: Arc::new(archives::ArchiveSet::new(&config_archives, Duration::from_secs(source_recheck_s))),
            auth,
        })))
    }

    /// This state with `change` made to it (an embedder or a test adjusting a built state).
    pub fn with(self, change: impl FnOnce(&mut Shared)) -> AppState {
        let mut state = Arc::unwrap_or_clone(self.0);
        change(&mut state);
        AppState(Arc::new(state))
    }

    /// Connect to the configured database (if any) and read its catalog, and to the tile
    /// cache (if any; an unreachable cache is logged and left out, never fatal).
    pub async fn connect_database(self) -> Result<AppState, StartError> {
        let mut state = Arc::unwrap_or_clone(self.0);
        state.connect().await?;
        Ok(AppState(Arc::new(state)))
    }
}

impl Shared {
    async fn connect(&mut self) -> Result<(), StartError> {
        if let Some(url) = &self.config.database_url {
            let db = Arc::new(imbrex_vector::Database::connect(url, self.config.db.clone()).await?);
            db.watch();
            self.db = Some(db);
        }
        let c = &self.config;
        if let Some(url) = &c.tile_cache_url {
            let redis = tile_cache::connect_redis(url, &c.tile_cache_prefix, &tile_cache::config_fingerprint(c)).await;
            let tiles =
                tile_cache::TileCache::new(self.readers.clone(), c.tile_memory_cache_mb, c.tile_cache_ttl_s, redis);
            self.tile_cache = Some(tiles);
        }
        if let (Some(db), Some(tiles)) = (&self.db, &self.tile_cache) {
            let hears = Arc::downgrade(db);
            tiles.set_notified(Box::new(move |id| hears.upgrade().is_some_and(|db| db.notifies_id(id))));
            tokio::spawn(purge_on_change(db.clone(), Arc::downgrade(tiles)));
        }
        Ok(())
    }
}

/// Purge the tiles of the collections the database says changed, for as long as the cache
/// lives.
async fn purge_on_change(db: Arc<imbrex_vector::Database>, tiles: std::sync::Weak<tile_cache::TileCache>) {
    use tokio::sync::broadcast::error::RecvError;
    let mut changes = db.subscribe();
    loop {
        let ids = match changes.recv().await {
            Ok(ids) => ids,
            // Missed some: every collection may have changed.
            Err(RecvError::Lagged(_)) => match db.catalog().await {
                Ok(c) => c.collections.keys().cloned().collect(),
                Err(_) => continue,
            },
            Err(RecvError::Closed) => return,
        };
        let Some(tiles) = tiles.upgrade() else { return };
        tiles.purge_collections(&ids).await;
    }
}

/// Parse the configured legends (a string is the path of a JSON file).
fn load_legends(
    config: &BTreeMap<String, serde_json::Value>,
) -> Result<BTreeMap<String, Arc<imbrex_raster::render::Legend>>, StartError> {
    let mut out = BTreeMap::new();
    for (name, value) in config {
        let bad = |reason: String| StartError::Legend { name: name.clone(), reason };
        let legend = match value {
            serde_json::Value::String(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| bad(format!("{path}: {e}")))?;
                imbrex_raster::render::Legend::from_json(&text)
            }
            v => imbrex_raster::render::Legend::from_value(v),
        }
        .map_err(|e| bad(e.to_string()))?;
        out.insert(name.clone(), Arc::new(legend));
    }
    Ok(out)
}

/// What one request may spend: time and bytes fetched from its sources.
#[derive(Clone, Copy)]
struct RequestBounds {
    deadline: Duration,
    fetch_bytes: u64,
    body_bytes: usize,
}

/// Run the handler within the request's fetch budget, and answer 503 (with `Retry-After`)
/// when it does not finish before the deadline: its future is dropped, which cancels its
/// I/O and its CPU jobs.
async fn within_bounds(
    axum::extract::State(bounds): axum::extract::State<RequestBounds>,
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let identity = req.extensions().get::<imbrex_vector::Identity>().cloned();
    let work = imbrex_raster::source::with_fetch_budget(
        bounds.fetch_bytes,
        imbrex_vector::as_identity(identity, next.run(req)),
    );
    let answered = |res: axum::response::Response| {
        // axum's body limit answers in plain text; every error here is a JSON `detail`.
        let json = res.headers().get(axum::http::header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().ends_with(b"json"));
        if res.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE && !json {
            return ApiError::TooLarge(format!(
                "the request body is larger than {} bytes (limits.max_body_bytes)",
                bounds.body_bytes
            ))
            .into_response();
        }
        res
    };
    if bounds.deadline.is_zero() {
        return answered(work.await);
    }
    match tokio::time::timeout(bounds.deadline, work).await {
        Ok(res) => answered(res),
        Err(_) => ApiError::Unavailable(format!(
            "the request took longer than {} s (limits.request_timeout_s): retry later or ask for less",
            bounds.deadline.as_secs()
        ))
        .into_response(),
    }
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    ApiError::Internal("a request handler panicked".into()).into_response()
}

/// The whole application router with its middleware (logging, CORS, caching headers,
/// compression).
pub fn app(state: AppState) -> Router {
    let cors = state.config.cors;
    let policy = cache::Policy {
        cache_control: state.config.cache_control.clone(),
        forwarded: state.config.forwarded_headers && state.config.public_url.is_none(),
        host: state.config.public_url.is_none(),
    };
    let tiles = state.tile_cache.clone();
    let auth = state.auth.clone();
    let measured = state.clone();
    let bounds = RequestBounds {
        deadline: Duration::from_secs(state.config.limits.request_timeout_s),
        fetch_bytes: state.config.limits.max_fetch_bytes,
        body_bytes: state.config.limits.max_body_bytes,
    };
    let max_body = state.config.limits.max_body_bytes;
    let mut router = Router::new()
        .route("/metrics", axum::routing::get(metrics::metrics))
        .merge(routes::landing::router())
        .merge(routes::tms::router())
        .merge(routes::resources::router())
        .merge(routes::legends::router())
        .merge(routes::image::router())
        .merge(routes::archives::router())
        .merge(routes::viewer::static_router())
        .nest(<routes::cog::Cog as dataset::DatasetFactory>::PREFIX, routes::cog::router())
        .nest(<routes::stac::Stac as dataset::DatasetFactory>::PREFIX, routes::stac::router())
        .nest(<routes::mosaic::Mosaic as dataset::DatasetFactory>::PREFIX, routes::mosaic::router())
        .nest(<routes::algebra::Algebra as dataset::DatasetFactory>::PREFIX, routes::algebra::router(state.clone()))
        .merge(routes::collections::router())
        .merge(routes::admin::router())
        .fallback(routes::not_found)
        .with_state(state)
        // Innermost: a request past its deadline is dropped (its CPU jobs are skipped or
        // stop early) and answered 503, which no cache above keeps.
        .layer(axum::middleware::from_fn_with_state(bounds, within_bounds))
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        // Inside the ETag layer, so a tile from the shared cache gets the same headers.
        .layer(axum::middleware::from_fn_with_state(tiles, tile_cache::layer))
        // Outside the tile cache, whose keys of vector tiles hold the request's role.
        .layer(axum::middleware::from_fn_with_state(auth, auth::layer))
        // Outside the tile cache, so its hits are counted (and timed) too.
        .layer(axum::middleware::from_fn_with_state(measured, metrics::layer))
        .layer(axum::middleware::from_fn_with_state(policy, cache::layer))
        // Outside the ETag layer, so one validator serves both encodings. Images (already
        // compressed) and tiny bodies are sent as they are.
        .layer(tower_http::compression::CompressionLayer::new().gzip(true));
    if cors {
        router = router.layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
                .allow_headers(Any)
                // What a web page may read of an image answer.
                .expose_headers([
                    header::HeaderName::from_static("content-bbox"),
                    header::HeaderName::from_static("content-crs"),
                    header::HeaderName::from_static("x-legend-counts"),
                ])
                .max_age(Duration::from_secs(3600)),
        );
    }
    router
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    // Logs are off (or at warn) under load: no span, and no route copied.
                    if !tracing::enabled!(tracing::Level::INFO) {
                        return Span::none();
                    }
                    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        route = route.as_deref().unwrap_or("-"),
                    )
                })
                .on_response(|res: &axum::response::Response, latency: Duration, _span: &Span| {
                    tracing::info!(
                        status = res.status().as_u16(),
                        latency_ms = (latency.as_secs_f64() * 1e5).round() / 1e2,
                        "response"
                    );
                }),
        )
        // A bug must not drop the connection: a panic in a handler becomes a JSON 500.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
            header::HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
}

#[cfg(test)]
mod tests {
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_is_a_json_500_not_a_dropped_connection() {
        let boom = || async {
            if std::hint::black_box(true) {
                panic!("boom");
            }
            "never"
        };
        let app = axum::Router::new()
            .route("/boom", axum::routing::get(boom))
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(super::panic_response));
        let req = axum::http::Request::get("/boom").body(axum::body::Body::empty()).unwrap();
        let res = app.oneshot(req).await.unwrap();
        assert_eq!(res.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let body = http_body_util::BodyExt::collect(res.into_body()).await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["detail"], "internal server error");
    }
}
