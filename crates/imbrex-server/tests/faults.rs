//! Faults of what imbrex depends on, injected for real on 127.0.0.1: an HTTP server and an
//! S3 endpoint that stall, reset connections mid-body, lie about lengths, answer 5xx, 403
//! or S3's `SlowDown` (imbrex_testkit::faults); PostgreSQL going away behind a proxy and
//! coming back; a Redis of the test's own stopped, restarted and full.
//!
//! imbrex must answer 502 (a broken upstream), 503 with `Retry-After` (one asking to slow
//! down, or a database away) or 504 (a silent upstream), retry what a retry can fix, and
//! recover without a restart. No assertion is about time: a silent upstream's 504 (rather
//! than the request deadline's 503) is what shows its timeout fired.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{Reply, app_with, enc, get};
use imbrex_raster::source::S3Config;
use imbrex_server::{AppState, Config};
use imbrex_testkit::faults::{Fault, FaultServer, TcpProxy};

fn web() -> Vec<u8> {
    std::fs::read(imbrex_testkit::raster("web.tif")).unwrap()
}

/// Upstreams silent for a second fail; the request deadline is far past that.
fn config() -> Config {
    let mut c = Config::default();
    c.limits.upstream_timeout_s = 1;
    c.limits.request_timeout_s = 120;
    c
}

async fn info(app: &axum::Router, url: &str) -> Reply {
    get(app, &format!("/cog/info?url={}", enc(url))).await
}

fn detail(r: &Reply) -> String {
    r.json()["detail"].as_str().unwrap_or_default().to_string()
}

/// A tile of `url` with data: the one under the centre of its TileJSON at its minzoom.
async fn tile_of(app: &axum::Router, url: &str) -> String {
    common::centre_tile(app, url, false, "png").await
}

#[tokio::test]
async fn http_upstream_faults_are_retried_named_and_recovered_from() {
    let server = FaultServer::start(web()).await;
    let app = app_with(Config { allow_url: vec![server.url("")], ..config() });
    let r = info(&app, &server.url("ok/web.tif")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    // One fault, then a good answer: the read is tried again and succeeds. (Each case
    // has its own path, so no reader opened before is reused.)
    let transient = [
        ("t-500", Fault::Status(500)),
        ("t-502", Fault::Status(502)),
        ("t-503", Fault::Status(503)),
        ("t-429", Fault::Status(429)),
        ("t-slowdown", Fault::SlowDown),
        ("t-reset", Fault::Reset),
        ("t-short-body", Fault::ShortBody),
        ("t-short-range", Fault::ShortRange),
    ];
    for (case, fault) in transient {
        server.next([fault]);
        let before = server.requests();
        let r = info(&app, &server.url(&format!("{case}/web.tif"))).await;
        assert_eq!(r.status, StatusCode::OK, "{case}: {}", r.text());
        assert!(server.requests() - before >= 2, "{case}: the failed request was tried again");
    }
    // A fault in a tile's block reads, once the header is cached, is retried too.
    let url = server.url("blocks/web.tif");
    let tile = tile_of(&app, &url).await;
    let before = server.requests();
    server.next([Fault::Reset, Fault::ShortRange]);
    let r = get(&app, &tile).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(server.requests() - before >= 3, "the tile's reads met both faults and were tried again");

    // Faults that last: the upstream's failure, naming the URL, after three attempts (a
    // 403 is not tried again); throttling is a 503 to come back to later.
    let lasting = [
        ("p-500", Fault::Status(500), StatusCode::BAD_GATEWAY, 3),
        ("p-reset", Fault::Reset, StatusCode::BAD_GATEWAY, 3),
        ("p-short-body", Fault::ShortBody, StatusCode::BAD_GATEWAY, 3),
        ("p-short-range", Fault::ShortRange, StatusCode::BAD_GATEWAY, 3),
        ("p-403", Fault::Status(403), StatusCode::BAD_GATEWAY, 1),
        ("p-503", Fault::Status(503), StatusCode::SERVICE_UNAVAILABLE, 3),
        ("p-429", Fault::Status(429), StatusCode::SERVICE_UNAVAILABLE, 3),
    ];
    for (case, fault, status, attempts) in lasting {
        server.always(fault);
        let before = server.requests();
        let url = server.url(&format!("{case}/web.tif"));
        let r = info(&app, &url).await;
        server.heal();
        assert_eq!(r.status, status, "{case}: {}", r.text());
        assert!(detail(&r).contains(&url), "{case}: the detail names the URL: {}", r.text());
        assert_eq!(server.requests() - before, attempts, "{case}: requests sent");
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(r.headers.contains_key("retry-after"), "{case}: Retry-After");
        }
    }

    // A silent upstream, before its headers or halfway through its body: a 504 once it
    // has been silent for upstream_timeout_s, not tried again.
    for (case, fault) in [("stall", Fault::Stall), ("stall-body", Fault::StallBody)] {
        server.always(fault);
        let before = server.requests();
        let r = info(&app, &server.url(&format!("{case}/web.tif"))).await;
        server.heal();
        assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT, "{case}: {}", r.text());
        assert!(detail(&r).contains("timed out"), "{case}: {}", r.text());
        assert_eq!(server.requests() - before, 1, "{case}: a timeout is not tried again");
    }

    // Healed, every URL that failed is read: nothing was remembered of the failures.
    for case in ["p-500", "p-reset", "p-short-range", "p-403", "p-503", "stall", "stall-body"] {
        let r = info(&app, &server.url(&format!("{case}/web.tif"))).await;
        assert_eq!(r.status, StatusCode::OK, "{case} after healing: {}", r.text());
    }
}

#[tokio::test]
async fn object_store_faults_are_retried_named_and_recovered_from() {
    let server = FaultServer::start(web()).await;
    let s3 = S3Config {
        endpoint: Some(server.endpoint()),
        region: None,
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
        session_token: None,
    };
    let cfg = Config { allow_url: vec!["s3://faults/".into()], ..config() };
    let app = imbrex_server::app(AppState::with_factory(cfg, |f| f.with_s3(s3)).unwrap());
    let r = info(&app, "s3://faults/ok/web.tif").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    for (case, fault) in [("t-slowdown", Fault::SlowDown), ("t-500", Fault::Status(500)), ("t-reset", Fault::Reset)] {
        server.next([fault]);
        let before = server.requests();
        let r = info(&app, &format!("s3://faults/{case}/web.tif")).await;
        assert_eq!(r.status, StatusCode::OK, "{case}: {}", r.text());
        assert!(server.requests() - before >= 2, "{case}: retried");
    }
    for (case, fault, status) in [
        ("p-slowdown", Fault::SlowDown, StatusCode::SERVICE_UNAVAILABLE),
        ("p-500", Fault::Status(500), StatusCode::BAD_GATEWAY),
        ("p-stall", Fault::Stall, StatusCode::GATEWAY_TIMEOUT),
    ] {
        server.always(fault);
        let url = format!("s3://faults/{case}/web.tif");
        let r = info(&app, &url).await;
        server.heal();
        assert_eq!(r.status, status, "{case}: {}", r.text());
        assert!(detail(&r).contains(&url), "{case}: the detail names the URL: {}", r.text());
        let r = info(&app, &url).await;
        assert_eq!(r.status, StatusCode::OK, "{case} after healing: {}", r.text());
    }
}

/// A Redis server of this test's own (stopping the shared one would disturb other tests).
struct OwnRedis {
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    async fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut redis = OwnRedis { port, child: None };
        redis.run().await;
        redis
    }

    async fn run(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is on PATH (scripts/test installs it)");
        self.child = Some(child);
        for _ in 0..100 {
            if self.connection().await.is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    async fn connection(&self) -> Option<redis::aio::MultiplexedConnection> {
        let mut c = redis::Client::open(self.url()).ok()?.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("PING").query_async::<String>(&mut c).await.ok()?;
        Some(c)
    }

    async fn config(&self, key: &str, value: &str) {
        let mut c = self.connection().await.expect("Redis is up");
        redis::cmd("CONFIG").arg("SET").arg(key).arg(value).query_async::<()>(&mut c).await.unwrap();
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn cache_header(r: &Reply) -> String {
    r.headers.get(imbrex_server::tile_cache::HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

/// Ask for `path` until Redis serves it (the store after a miss is not awaited by the
/// miss): whether it ever did.
async fn served_from_redis(app: &axum::Router, path: &str) -> bool {
    for _ in 0..100 {
        let r = get(app, path).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        if cache_header(&r) == "redis" {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn redis_down_or_full_costs_the_cache_only() {
    let mut redis = OwnRedis::start().await;
    // No memory layer: every answer goes through Redis.
    let config = Config { tile_cache_url: Some(redis.url()), tile_memory_cache_mb: 0, ..config() };
    let app = imbrex_server::app(AppState::new(config).unwrap().connect_database().await.unwrap());
    let base = tile_of(&app, "demo").await;
    // Four tiles: one of the demo, rescaled four ways.
    let tiles = |n: u32| format!("{base}&rescale=0,{}", 100 + n);
    assert!(served_from_redis(&app, &tiles(1)).await, "Redis keeps tiles when it is up");

    // Down: tiles are made and answered; nothing fails.
    redis.stop();
    for n in 0..3 {
        let r = get(&app, &tiles(n)).await;
        assert_eq!(r.status, StatusCode::OK, "Redis down: {}", r.text());
    }
    // Back on the same port: the same replica uses it again, without a restart.
    redis.run().await;
    assert!(served_from_redis(&app, &tiles(2)).await, "Redis is used again once it is back");

    // Full (no memory left, and no eviction): tiles are answered, never stored.
    redis.config("maxmemory-policy", "noeviction").await;
    redis.config("maxmemory", "1").await;
    for _ in 0..5 {
        let r = get(&app, &tiles(3)).await;
        assert_eq!(r.status, StatusCode::OK, "Redis full: {}", r.text());
        assert_eq!(cache_header(&r), "miss", "a full Redis stores nothing");
    }
    redis.config("maxmemory", "0").await;
    assert!(served_from_redis(&app, &tiles(3)).await, "stored again once Redis has room");
}

fn database_url() -> String {
    std::env::var("IMBREX_TEST_DATABASE_URL").expect(
        "IMBREX_TEST_DATABASE_URL is not set: run scripts/test, which installs and starts PostGIS \
         and loads testdata/vector into a throwaway database",
    )
}

#[tokio::test]
async fn a_database_restart_is_a_503_then_recovered_from() {
    let url = database_url();
    let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("PostGIS");
    tokio::spawn(conn);
    db.batch_execute(
        "DROP SCHEMA IF EXISTS faults_restart CASCADE; CREATE SCHEMA faults_restart;
         CREATE TABLE faults_restart.points (id integer PRIMARY KEY, geom geometry(Point, 4326));
         INSERT INTO faults_restart.points SELECT i, ST_SetSRID(ST_MakePoint(i, i), 4326) FROM generate_series(1, 20) i;",
    )
    .await
    .unwrap();
    // The database, behind a proxy that can be taken down as a restart looks to clients.
    let pg: tokio_postgres::Config = url.parse().unwrap();
    let port = pg.get_ports().first().copied().unwrap_or(5432);
    let target = tokio::net::lookup_host(("127.0.0.1", port)).await.unwrap().next().unwrap();
    let proxy = TcpProxy::start(target).await;
    let user = pg.get_user().unwrap_or("postgres");
    let name = pg.get_dbname().unwrap_or("postgres");
    let mut config = Config { database_url: Some(format!("postgresql://{user}@{}/{name}", proxy.addr)), ..config() };
    config.db.schemas = vec!["faults_restart".into()];
    config.db.pool_size = 2;
    let app = imbrex_server::app(AppState::new(config).unwrap().connect_database().await.unwrap());
    let items = "/collections/faults_restart.points/items?limit=100";
    let tile = "/collections/faults_restart.points/tiles/WebMercatorQuad/0/0/0";
    for path in [items, tile] {
        let r = get(&app, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
    }
    assert_eq!(get(&app, items).await.json()["numberReturned"], 20);

    proxy.down();
    for path in [items, tile] {
        let r = get(&app, path).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "database away, {path}: {}", r.text());
        assert!(r.headers.contains_key("retry-after"), "{path}: Retry-After");
    }

    proxy.up().await;
    for path in [items, tile] {
        let r = get(&app, path).await;
        assert_eq!(r.status, StatusCode::OK, "database back, {path}: {}", r.text());
    }
    assert_eq!(get(&app, items).await.json()["numberReturned"], 20);
    db.batch_execute("DROP SCHEMA faults_restart CASCADE").await.unwrap();
}
