//! The tile caches in front of the renderers: identical concurrent requests computed once,
//! the memory budget, and freshness (a file rewritten on disk or behind HTTP, rows updated in
//! PostGIS through the row trigger, an admin purge): the next tile is the new one, equal to
//! what a server without caches renders.

mod common;

use std::time::Duration;

use axum::http::{Request, StatusCode};
use common::{Scratch, app_with, enc, get, request};
use imbrex_server::{AppState, Config};
use imbrex_testkit::http::RangeServer;

fn cache_header(r: &common::Reply) -> Option<&str> {
    r.headers.get(imbrex_server::tile_cache::HEADER).and_then(|v| v.to_str().ok())
}

fn uncached(config: &Config) -> axum::Router {
    app_with(Config { tile_memory_cache_mb: 0, ..config.clone() })
}

/// A metric's value in a /metrics text (0 when absent).
fn metric(text: &str, series: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(series)?.trim().parse().ok()).unwrap_or(0.0)
}

/// The 20x20 byte.tif (UTM, uncompressed, one strip at bytes 8..408) with every pixel
/// replaced by `f(pixel)`: a rewrite in place that keeps the file's layout and size.
fn byte_tif_with(f: impl Fn(u8) -> u8) -> Vec<u8> {
    let mut data = std::fs::read(imbrex_testkit::raster("byte.tif")).unwrap();
    assert_eq!(data.len(), 736, "byte.tif changed: this test knows its layout");
    for v in &mut data[8..408] {
        *v = f(*v);
    }
    data
}

/// The WebMercatorQuad tile under the centre of a dataset, at its maxzoom, as NPY (values,
/// not colours).
async fn centre_tile(app: &axum::Router, url: &str) -> String {
    common::centre_tile(app, url, true, "npy").await
}

/// Rewrite `path` so that its modification time surely moves: file timestamps advance by
/// the kernel's clock tick (a few ms), and a same-size rewrite within one tick is not seen.
fn rewrite(path: &std::path::Path, data: &[u8]) {
    std::thread::sleep(Duration::from_millis(30));
    std::fs::write(path, data).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_requests_are_computed_once() {
    let dir = Scratch::new("coalesce");
    std::fs::copy(imbrex_testkit::raster("cog1.tif"), dir.0.join("a.tif")).unwrap();
    let http = RangeServer::start(dir.0.clone()).await;
    let config = Config { allow_url: vec![http.url("")], ..Config::default() };
    let url = http.url("a.tif");

    // What one request costs, on a cold server of its own.
    let path = centre_tile(&app_with(config.clone()), &url).await;
    let alone = app_with(config.clone());
    http.reset();
    let one = get(&alone, &path).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text());
    let one_tile = http.log().len();
    assert!(one_tile > 0);

    // 24 identical requests at once on a cold server: one computation, one set of fetches.
    let app = app_with(config.clone());
    let tj = format!("/cog/WebMercatorQuad/tilejson.json?url={}", enc(&url));
    http.reset();
    let replies = futures::future::join_all((0..24).map(|_| get(&app, &path))).await;
    let header_reads = http.log().len();
    for r in &replies {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.body, one.body, "every waiter gets the one tile");
    }
    let misses = replies.iter().filter(|r| cache_header(r) == Some("miss")).count();
    assert_eq!(misses, 1, "one computation: {:?}", replies.iter().map(cache_header).collect::<Vec<_>>());
    assert!(replies.iter().all(|r| matches!(cache_header(r), Some("miss" | "memory"))));
    assert_eq!(header_reads, one_tile, "the source was read as for one request");
    let m = get(&app, "/metrics").await.text();
    assert_eq!(metric(&m, r#"imbrex_tile_cache_requests_total{layer="memory",result="miss"}"#), 1.0, "{m}");
    assert_eq!(metric(&m, r#"imbrex_tile_cache_requests_total{layer="memory",result="hit"}"#), 23.0, "{m}");
    assert_eq!(metric(&m, r#"imbrex_source_requests_total{kind="http"}"#), one_tile as f64, "{m}");
    assert!(metric(&m, r#"imbrex_source_bytes_total{kind="http"}"#) > 0.0, "{m}");

    // Different tiles of a cold dataset at once: its header is read once. The header's
    // range is the first request of a lone info call.
    http.reset();
    let _ = get(&app_with(config.clone()), &format!("/cog/info?url={}", enc(&url))).await;
    let header_range = http.log()[0].range.clone();
    assert!(header_range.is_some());
    let tj = get(&app, &tj).await.json();
    let z = tj["maxzoom"].as_i64().unwrap() as i32;
    let tms = imbrex_tms::TileMatrixSets::default().get("WebMercatorQuad").unwrap();
    let centre = tms.tile(tj["center"][0].as_f64().unwrap(), tj["center"][1].as_f64().unwrap(), z).unwrap();
    let paths: Vec<String> = (0..8)
        .map(|i| {
            format!("/cog/tiles/WebMercatorQuad/{z}/{}/{}.png?url={}", centre.x + i % 4, centre.y + i / 4, enc(&url))
        })
        .collect();
    let app = app_with(config);
    http.reset();
    let replies = futures::future::join_all(paths.iter().map(|p| get(&app, p))).await;
    for r in &replies {
        assert!(r.status == StatusCode::OK || r.status == StatusCode::NOT_FOUND, "{}", r.text());
    }
    let header_reads = http.log().into_iter().filter(|l| l.range == header_range).count();
    assert_eq!(header_reads, 1, "the header of a cold dataset is read once: {:?}", http.log());
}

#[tokio::test]
async fn memory_holds_at_most_its_budget() {
    let config = Config { tile_memory_cache_mb: 1, ..Config::default() };
    let app = app_with(config);
    let tj = get(&app, "/cog/WebMercatorQuad/tilejson.json?url=demo").await.json();
    let z = tj["maxzoom"].as_i64().unwrap() as i32;
    let tms = imbrex_tms::TileMatrixSets::default().get("WebMercatorQuad").unwrap();
    let c = tms.tile(tj["center"][0].as_f64().unwrap(), tj["center"][1].as_f64().unwrap(), z).unwrap();
    let mut bytes = 0;
    for i in 0..36 {
        let r =
            get(&app, &format!("/cog/tiles/WebMercatorQuad/{z}/{}/{}.npy?url=demo", c.x + i % 6, c.y + i / 6)).await;
        if r.status == StatusCode::OK {
            bytes += r.body.len();
        }
    }
    assert!(bytes > 2 << 20, "the tiles asked for ({bytes} bytes) are more than the budget");
    let held = metric(&get(&app, "/metrics").await.text(), "imbrex_tile_cache_memory_bytes");
    assert!(held > 0.0 && held <= (1 << 20) as f64, "{held} bytes held for a 1 MiB budget");
}

#[tokio::test]
async fn a_file_rewritten_on_disk_gives_new_tiles() {
    let dir = Scratch::new("fresh-local");
    let file = dir.0.join("data.tif");
    std::fs::write(&file, byte_tif_with(|v| v)).unwrap();
    let config = Config { allow_path: vec![dir.0.clone()], source_recheck_s: 0, ..Config::default() };
    let app = app_with(config.clone());
    let url = file.to_str().unwrap().to_string();
    let path = centre_tile(&app, &url).await;

    let first = get(&app, &path).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(cache_header(&first), Some("miss"));
    assert_eq!(cache_header(&get(&app, &path).await), Some("memory"));

    // Same size, same layout, other values: the header, blocks and tile are all read anew.
    rewrite(&file, &byte_tif_with(|v| 255 - v));
    let second = get(&app, &path).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text());
    assert_eq!(cache_header(&second), Some("miss"), "a changed source is a miss");
    assert_ne!(second.body, first.body);
    assert_eq!(
        second.body,
        get(&uncached(&config), &path).await.body,
        "the new tile is the one a fresh server renders"
    );
    assert_eq!(cache_header(&get(&app, &path).await), Some("memory"));

    // Replaced by a rename (another inode), then removed.
    let tmp = dir.0.join("next.tif");
    std::fs::write(&tmp, byte_tif_with(|v| v / 2)).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    let third = get(&app, &path).await;
    assert_eq!(cache_header(&third), Some("miss"));
    assert_eq!(third.body, get(&uncached(&config), &path).await.body);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(get(&app, &path).await.status, StatusCode::NOT_FOUND, "a removed file is not served from cache");
}

#[tokio::test]
async fn a_file_rewritten_behind_http_gives_new_tiles_after_the_recheck() {
    let dir = Scratch::new("fresh-http");
    let file = dir.0.join("data.tif");
    std::fs::write(&file, byte_tif_with(|v| v)).unwrap();
    let http = RangeServer::start(dir.0.clone()).await;
    let url = http.url("data.tif");
    let config = Config { allow_url: vec![http.url("")], source_recheck_s: 0, ..Config::default() };
    let app = app_with(config.clone());
    let path = centre_tile(&app, &url).await;
    let first = get(&app, &path).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(cache_header(&get(&app, &path).await), Some("memory"));
    rewrite(&file, &byte_tif_with(|v| v.wrapping_add(77)));
    let second = get(&app, &path).await;
    assert_eq!(cache_header(&second), Some("miss"), "the ETag changed");
    assert_ne!(second.body, first.body);
    assert_eq!(second.body, get(&uncached(&config), &path).await.body);

    // With the default recheck (10 s), a change is not asked about on every request: a
    // cached tile is served without a request to the server.
    let app = app_with(Config { source_recheck_s: 10, ..config });
    let _ = get(&app, &path).await;
    http.reset();
    assert_eq!(cache_header(&get(&app, &path).await), Some("memory"));
    assert!(http.log().is_empty(), "{:?}", http.log());
}

async fn post(app: &axum::Router, uri: String, token: Option<&str>) -> common::Reply {
    let mut req = Request::post(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    request(app, req.body(axum::body::Body::empty()).unwrap()).await
}

#[tokio::test]
async fn purge_needs_the_admin_token_and_forgets_a_url() {
    let dir = Scratch::new("purge");
    let file = dir.0.join("data.tif");
    std::fs::write(&file, byte_tif_with(|v| v)).unwrap();
    let url = file.to_str().unwrap().to_string();
    let open = app_with(Config { allow_path: vec![dir.0.clone()], ..Config::default() });
    assert_eq!(post(&open, format!("/cache/purge?url={}", enc(&url)), None).await.status, StatusCode::FORBIDDEN);

    // A long recheck: only the purge makes the change seen.
    let config = Config {
        allow_path: vec![dir.0.clone()],
        admin_token: Some("s3cret".into()),
        source_recheck_s: 3600,
        ..Config::default()
    };
    let app = app_with(config.clone());
    let path = centre_tile(&app, &url).await;
    let first = get(&app, &path).await;
    assert_eq!(first.status, StatusCode::OK);
    rewrite(&file, &byte_tif_with(|v| 255 - v));
    assert_eq!(cache_header(&get(&app, &path).await), Some("memory"), "within the recheck, the old tile");
    assert_eq!(post(&app, format!("/cache/purge?url={}", enc(&url)), None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        post(&app, format!("/cache/purge?url={}", enc(&url)), Some("wrong")).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = post(&app, "/cache/purge".into(), Some("s3cret")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["detail"][0]["loc"], serde_json::json!(["query", "collection"]));
    let r = post(&app, format!("/cache/purge?url={}", enc(&url)), Some("s3cret")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let after = get(&app, &path).await;
    assert_eq!(cache_header(&after), Some("miss"));
    assert_eq!(after.body, get(&uncached(&config), &path).await.body);
}

fn database_url() -> String {
    std::env::var("IMBREX_TEST_DATABASE_URL").expect(
        "IMBREX_TEST_DATABASE_URL is not set: run scripts/test, which installs and starts PostGIS \
         and loads testdata/vector into a throwaway database",
    )
}

/// A database of its own (row triggers are installed on every table of a database), with
/// one table of points and the triggers `imbrex db install-triggers` installs.
async fn triggered_database(name: &str) -> (String, tokio_postgres::Client) {
    let (admin, conn) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls).await.expect("PostGIS");
    tokio::spawn(conn);
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    let url = database_url();
    let (base, query) = url.split_once('?').map_or((url.as_str(), ""), |(b, q)| (b, q));
    let url = format!("{}/{name}{}{query}", base.rsplit_once('/').unwrap().0, if query.is_empty() { "" } else { "?" });
    let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    db.batch_execute(
        "CREATE EXTENSION postgis; CREATE SCHEMA fresh;
         CREATE TABLE fresh.pts (gid integer PRIMARY KEY, v integer, geom geometry(Point, 4326));
         INSERT INTO fresh.pts SELECT i, i, ST_SetSRID(ST_MakePoint(i * 3 - 150, i - 40), 4326)
           FROM generate_series(1, 80) i;
         CREATE VIEW fresh.pts_view AS SELECT * FROM fresh.pts;",
    )
    .await
    .unwrap();
    let install = format!("{}{}", imbrex_vector::db::INSTALL_TRIGGERS, imbrex_vector::db::INSTALL_ROW_TRIGGERS);
    imbrex_vector::db::execute(&url, &install).await.unwrap();
    (url, db)
}

/// Poll `path` until its answer is not from memory (the purge arrived) or give up: a bound
/// on polls, not a timing.
async fn until_recomputed(app: &axum::Router, path: &str) -> common::Reply {
    for _ in 0..200 {
        let r = get(app, path).await;
        if cache_header(&r) != Some("memory") {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} is still served from memory");
}

/// Poll `path` until it is served from memory (a tile made while a purge arrived is answered
/// but not kept; the next one is): a bound on polls, not a timing.
async fn until_kept(app: &axum::Router, path: &str) -> common::Reply {
    for _ in 0..200 {
        let r = get(app, path).await;
        if cache_header(&r) == Some("memory") {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} is never kept in memory");
}

#[tokio::test]
async fn rows_updated_through_the_trigger_give_new_vector_tiles() {
    let (url, db) = triggered_database("imbrex_test_fresh_rows").await;
    let mut config = Config { database_url: Some(url), admin_token: Some("s3cret".into()), ..Config::default() };
    config.db.schemas = vec!["fresh".into()];
    config.db.refresh_interval_s = 0;
    let app = imbrex_server::app(AppState::new(config.clone()).unwrap().connect_database().await.unwrap());
    let fresh_server = || async {
        let c = Config { tile_memory_cache_mb: 0, ..config.clone() };
        imbrex_server::app(AppState::new(c).unwrap().connect_database().await.unwrap())
    };
    // The listener connects a moment after start; until then tiles are not kept.
    let path = "/collections/fresh.pts/tiles/WebMercatorQuad/0/0/0";
    let mut polls = 0;
    let first = loop {
        let r = get(&app, path).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        if cache_header(&get(&app, path).await) == Some("memory") {
            break r;
        }
        polls += 1;
        assert!(polls < 200, "the table's tiles are never kept in memory");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    db.batch_execute("UPDATE fresh.pts SET v = v + 1000 WHERE gid % 2 = 0").await.unwrap();
    let second = until_recomputed(&app, path).await;
    assert_eq!(cache_header(&second), Some("miss"));
    assert_ne!(second.body, first.body);
    assert_eq!(second.body, get(&fresh_server().await, path).await.body, "the tile a server without caches makes");

    // A view's tiles are not kept: what it reads is not known.
    let view = "/collections/fresh.pts_view/tiles/WebMercatorQuad/0/0/0";
    assert_eq!(cache_header(&get(&app, view).await), Some("miss"));
    assert_eq!(cache_header(&get(&app, view).await), Some("miss"));

    // DDL: the catalog refresh sees the table changed and purges it too.
    assert_eq!(until_kept(&app, path).await.body, second.body);
    db.batch_execute("ALTER TABLE fresh.pts ADD COLUMN label text DEFAULT 'x'").await.unwrap();
    let third = until_recomputed(&app, path).await;
    assert_eq!(third.body, get(&fresh_server().await, path).await.body);

    // A purge by collection, through the admin route.
    assert_eq!(until_kept(&app, path).await.body, third.body);
    let r = post(&app, "/cache/purge?collection=fresh.pts".into(), Some("s3cret")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(cache_header(&get(&app, path).await), Some("miss"));
}
