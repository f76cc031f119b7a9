//! The shared tile cache against the real Redis that scripts/test makes sure is running: two
//! replicas (two apps with one Redis), the second serving what the first rendered.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::get;
use imbrex_server::{AppState, Config};

fn redis_url() -> String {
    std::env::var("IMBREX_TEST_REDIS_URL")
        .expect("IMBREX_TEST_REDIS_URL is not set: run scripts/test, which starts Redis on 127.0.0.1:6379")
}

async fn replica(config: Config) -> axum::Router {
    imbrex_server::app(AppState::new(config).unwrap().connect_database().await.unwrap())
}

async fn keys(redis: &mut redis::aio::MultiplexedConnection, prefix: &str) -> Vec<String> {
    redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(redis).await.unwrap()
}

/// A tile of the demo with data: the one under its centre at its minzoom.
async fn demo_tile(app: &axum::Router) -> String {
    common::centre_tile(app, "demo", false, "png").await
}

fn cache_header(r: &common::Reply) -> Option<&str> {
    r.headers.get(imbrex_server::tile_cache::HEADER).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn replicas_share_tiles_through_redis() {
    let url = redis_url();
    let mut redis = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("Redis at IMBREX_TEST_REDIS_URL");
    let prefix = format!("imbrex-test-{}", std::process::id());
    let config = Config {
        tile_cache_url: Some(url.clone()),
        tile_cache_prefix: prefix.clone(),
        tile_cache_ttl_s: 120,
        ..Config::default()
    };
    let (a, b) = (replica(config.clone()).await, replica(config.clone()).await);
    // A replica configured differently (here: fewer limits on output) keeps its own tiles.
    let mut other_config = config;
    other_config.limits.max_output_pixels /= 2;
    let c = replica(other_config).await;

    let path = demo_tile(&a).await;

    let first = get(&a, &path).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(cache_header(&first), Some("miss"));
    // The write happens after the answer: wait for it.
    let mut stored = Vec::new();
    for _ in 0..50 {
        stored = keys(&mut redis, &prefix).await;
        if !stored.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stored.len(), 1, "one tile stored: {stored:?}");
    let ttl: i64 = redis::cmd("TTL").arg(&stored[0]).query_async(&mut redis).await.unwrap();
    assert!(ttl > 0 && ttl <= 120, "ttl {ttl}");

    // The other replica serves it from Redis: same bytes, type and validator; then from its
    // memory.
    let second = get(&b, &path).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(cache_header(&second), Some("redis"));
    let third = get(&b, &path).await;
    assert_eq!(cache_header(&third), Some("memory"));
    assert_eq!(third.body, first.body);
    assert_eq!(third.headers.get("etag"), first.headers.get("etag"));
    assert_eq!(third.content_type(), "image/png");
    assert_eq!(second.body, first.body);
    assert_eq!(second.content_type(), "image/png");
    assert_eq!(second.headers.get("etag"), first.headers.get("etag"));

    let elsewhere = get(&c, &path).await;
    assert_eq!(cache_header(&elsewhere), Some("miss"), "another configuration, another cache");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Another query is another tile; errors and non-tile routes are not stored.
    let other = get(&b, &format!("{path}&rescale=0,100")).await;
    assert_eq!(cache_header(&other), Some("miss"));
    let outside = get(&a, "/cog/tiles/WebMercatorQuad/5/0/0.png?url=demo").await;
    assert_eq!(outside.status, StatusCode::NOT_FOUND);
    assert_eq!(cache_header(&outside), None);
    let info = get(&a, "/cog/info?url=demo").await;
    assert_eq!(cache_header(&info), None);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(keys(&mut redis, &prefix).await.len(), 3, "the two tiles of a and b, and c's own");
    // /metrics counts each replica's own lookups: b found one tile in Redis, one in memory,
    // and computed one.
    let metrics = get(&b, "/metrics").await.text();
    for line in [
        r#"imbrex_tile_cache_requests_total{layer="redis",result="hit"} 1"#,
        r#"imbrex_tile_cache_requests_total{layer="redis",result="miss"} 1"#,
        r#"imbrex_tile_cache_requests_total{layer="memory",result="hit"} 1"#,
        r#"imbrex_tile_cache_requests_total{layer="memory",result="miss"} 2"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }

    let stored = keys(&mut redis, &prefix).await;
    let _: i64 = redis::cmd("DEL").arg(&stored).query_async(&mut redis).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_cache_is_left_out_not_an_error() {
    let config = Config { tile_cache_url: Some("redis://127.0.0.1:1/0".into()), ..Config::default() };
    let app = replica(config).await;
    let path = demo_tile(&app).await;
    let r = get(&app, &path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(cache_header(&r), Some("miss"));
    assert_eq!(cache_header(&get(&app, &path).await), Some("memory"), "the memory layer still works");
}

#[tokio::test]
async fn vector_tiles_are_cached_too() {
    let db = std::env::var("IMBREX_TEST_DATABASE_URL").expect("IMBREX_TEST_DATABASE_URL: run scripts/test");
    let prefix = format!("imbrex-test-mvt-{}", std::process::id());
    let config = Config {
        database_url: Some(db),
        tile_cache_url: Some(redis_url()),
        tile_cache_prefix: prefix.clone(),
        tile_cache_ttl_s: 60,
        ..Config::default()
    };
    let app = replica(config).await;
    let path = "/collections/public.countries/tiles/WebMercatorQuad/1/1/0";
    let first = get(&app, path).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(cache_header(&first), Some("miss"));
    let mut redis =
        redis::Client::open(redis_url().as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    for _ in 0..50 {
        if !keys(&mut redis, &prefix).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The table has no row trigger: memory does not keep its tiles, Redis does (for its TTL).
    let second = get(&app, path).await;
    assert_eq!(cache_header(&second), Some("redis"));
    assert_eq!(second.body, first.body);
    assert_eq!(second.content_type(), "application/vnd.mapbox-vector-tile");
    assert_eq!(cache_header(&get(&app, path).await), Some("redis"));
    let stored = keys(&mut redis, &prefix).await;
    let _: i64 = redis::cmd("DEL").arg(&stored).query_async(&mut redis).await.unwrap();
}

/// A purge on one replica reaches the others: Redis's keys are deleted and every replica's
/// memory forgets the tiles (through Redis's purge channel).
#[tokio::test]
async fn a_purge_reaches_every_replica() {
    let url = redis_url();
    let prefix = format!("imbrex-test-purge-{}", std::process::id());
    let config = Config {
        tile_cache_url: Some(url.clone()),
        tile_cache_prefix: prefix.clone(),
        admin_token: Some("s3cret".into()),
        ..Config::default()
    };
    let (a, b) = (replica(config.clone()).await, replica(config).await);
    let path = demo_tile(&a).await;
    assert_eq!(cache_header(&get(&a, &path).await), Some("miss"));
    let mut redis = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    for _ in 0..50 {
        if !keys(&mut redis, &prefix).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(cache_header(&get(&b, &path).await), Some("redis"));
    assert_eq!(cache_header(&get(&b, &path).await), Some("memory"));

    let purge = axum::http::Request::post("/cache/purge?url=demo")
        .header("authorization", "Bearer s3cret")
        .body(axum::body::Body::empty())
        .unwrap();
    let r = common::request(&a, purge).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["redis_keys"], 1);
    assert!(keys(&mut redis, &prefix).await.is_empty(), "the Redis copy is gone");
    // b hears of it through Redis: a bound on polls, not a timing.
    let mut polls = 0;
    while cache_header(&get(&b, &path).await) == Some("memory") {
        polls += 1;
        assert!(polls < 100, "b still serves the purged tile from memory");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stored = keys(&mut redis, &prefix).await;
    if !stored.is_empty() {
        let _: i64 = redis::cmd("DEL").arg(&stored).query_async(&mut redis).await.unwrap();
    }
}

/// Parameters a route reads make tiles of their own; a parameter nothing reads changes
/// nothing in the tile (TiTiler ignores it too) and is never part of a key: such a tile is
/// made and answered, not kept, so unknown names cannot fill the cache.
#[tokio::test]
async fn only_parameters_a_route_reads_make_cache_keys() {
    let app = replica(Config::default()).await;
    let tile = demo_tile(&app).await;
    // What TiTiler clients send, all read by the tile route: cached.
    let known = format!(
        "{tile}&bidx=1&rescale=0,200&colormap_name=viridis&resampling=bilinear&reproject=bilinear&nodata=0\
         &unscale=false&return_mask=true&buffer=2&padding=1&tilesize=256&color_formula=gamma%20r%201.1"
    );
    for (path, second) in [(tile.clone(), "memory"), (known.clone(), "memory")] {
        let first = get(&app, &path).await;
        assert_eq!(first.status, StatusCode::OK, "{path}: {}", first.text());
        assert_eq!(cache_header(&first), Some("miss"), "{path}");
        assert_eq!(cache_header(&get(&app, &path).await), Some(second), "{path}: kept");
    }
    // The same tiles with names nothing reads: the same bytes, made every time.
    // (A second url= behind the first, and format= beside a path's extension, are not read
    // either.)
    for (path, same_as) in [
        (format!("{tile}&v=123"), &tile),
        (format!("{known}&_=1700000000&colour=red"), &known),
        (format!("{tile}&url=elsewhere.tif"), &tile),
        (format!("{tile}&format=jpeg"), &tile),
    ] {
        let want = get(&app, same_as).await;
        for _ in 0..2 {
            let r = get(&app, &path).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
            assert_eq!(r.body, want.body, "{path}: an unread parameter changes nothing");
            assert_eq!(cache_header(&r), Some("miss"), "{path}: never kept");
        }
    }
    // Spellings of one query share a key: %62idx is bidx.
    let spelled = known.replace("&bidx=1", "&%62idx=1");
    assert_ne!(spelled, known);
    assert_eq!(cache_header(&get(&app, &spelled).await), Some("memory"), "{spelled}");
}
