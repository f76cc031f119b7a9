//! `/cog/info`, `/cog/info.geojson` and `/cog/{tms}/tilejson.json` over local files, the
//! embedded demo, a real HTTP server and a real S3 server, with the access policy applied.

mod common;

use axum::http::StatusCode;
use common::{app_with, enc, get};
use imbrex_raster::source::S3Config;
use imbrex_server::{AppState, Config};
use imbrex_testkit::http::RangeServer;
use imbrex_testkit::s3::MotoServer;

fn raster_dir() -> std::path::PathBuf {
    imbrex_testkit::testdata("raster")
}

fn config() -> Config {
    Config { allow_path: vec![raster_dir()], ..Default::default() }
}

fn oracle(name: &str) -> serde_json::Value {
    imbrex_testkit::read_json(&imbrex_testkit::testdata(&format!("oracle/{name}/oracle.json")))
}

#[tokio::test]
async fn info_of_the_embedded_demo_and_of_allowed_files() {
    let app = app_with(config());
    let r = get(&app, "/cog/info?url=demo").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let tci = oracle("TCI");
    let info = r.json();
    for key in ["bounds", "crs", "dtype", "nodata_type", "colorinterp", "overviews", "count", "width", "height"] {
        assert_eq!(info[key], tci["info"][key], "demo {key}");
    }
    // Field order is rio-tiler's.
    let keys: Vec<&str> = info.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(&keys[..4], &["bounds", "crs", "band_metadata", "band_descriptions"]);

    let path = raster_dir().join("cog_int16.tif");
    let r = get(&app, &format!("/cog/info?url={}", enc(path.to_str().unwrap()))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["nodata_value"], -32768.0);
}

#[tokio::test]
async fn policy_and_errors() {
    let app = app_with(config());
    let r = get(&app, "/cog/info?url=%2Fetc%2Fpasswd").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let missing = raster_dir().join("no-such.tif");
    let r = get(&app, &format!("/cog/info?url={}", enc(missing.to_str().unwrap()))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.json()["detail"].as_str().unwrap().contains("not found"));
    let r = get(&app, "/cog/info").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["detail"][0]["loc"], serde_json::json!(["query", "url"]));
    assert_eq!(r.json()["detail"][0]["type"], "missing");
    let r = get(&app, "/cog/info?url=https%3A%2F%2Fexample.com%2Fx.tif").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "remote URLs need --allow-url");
    let r = get(&app, "/cog/info?url=ftp%3A%2F%2Fexample.com%2Fx.tif").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Not a raster: a clear 400, not a 500.
    let readme = raster_dir().join("README.md");
    let r = get(&app, &format!("/cog/info?url={}", enc(readme.to_str().unwrap()))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    // The demo can be switched off.
    let off = app_with(Config { demo: false, ..config() });
    assert_eq!(get(&off, "/cog/info?url=demo").await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn info_geojson_and_tilejson() {
    let app = app_with(config());
    let r = get(&app, "/cog/info.geojson?url=demo").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type().starts_with("application/geo+json"));
    let f = r.json();
    let tci = oracle("TCI");
    assert_eq!(f["type"], "Feature");
    assert_eq!(f["geometry"]["type"], "Polygon");
    for (a, b) in f["bbox"].as_array().unwrap().iter().zip(tci["info"]["geographic_bounds"].as_array().unwrap()) {
        assert!((a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-7);
    }
    assert_eq!(f["properties"]["width"], 1098);
    let r = get(&app, "/cog/info.geojson?url=demo&crs=EPSG%3A3857").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json()["bbox"][0].as_f64().unwrap() > 1e6, "projected bbox");
    assert_eq!(get(&app, "/cog/info.geojson?url=demo&crs=nope").await.status, StatusCode::UNPROCESSABLE_ENTITY);

    // An antimeridian dataset has a two-part footprint.
    let dl = raster_dir().join("cog_dateline.tif");
    let r = get(&app, &format!("/cog/info.geojson?url={}", enc(dl.to_str().unwrap()))).await;
    assert_eq!(r.json()["geometry"]["type"], "MultiPolygon");

    let r = get(&app, "/cog/WebMercatorQuad/tilejson.json?url=demo&rescale=0,255&tile_format=png").await;
    assert_eq!(r.status, StatusCode::OK);
    let tj = r.json();
    assert_eq!([tj["minzoom"].as_i64().unwrap(), tj["maxzoom"].as_i64().unwrap()], [7, 10], "TCI's oracle zoom range");
    let tile = tj["tiles"][0].as_str().unwrap();
    assert!(tile.starts_with("http://test.local/cog/tiles/WebMercatorQuad/{z}/{x}/{y}.png?"), "{tile}");
    assert!(tile.contains("url=demo") && tile.contains("rescale=0%2C255") && !tile.contains("tile_format"), "{tile}");
    let r = get(&app, "/cog/WebMercatorQuad/tilejson.json?url=demo&minzoom=3&maxzoom=12").await;
    assert_eq!([r.json()["minzoom"].as_i64().unwrap(), r.json()["maxzoom"].as_i64().unwrap()], [3, 12]);
    let r = get(&app, "/cog/WorldCRS84Quad/tilejson.json?url=demo").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(get(&app, "/cog/Nope/tilejson.json?url=demo").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&app, "/cog/WebMercatorQuad/tilejson.json?url=demo&minzoom=x").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        get(&app, "/cog/WebMercatorQuad/tilejson.json?url=demo&tile_format=gif").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Zooms far outside the TMS (found by schemathesis: this once looped 2^32 times) list
    // the TMS's own matrices only.
    let r = get(&app, "/cog/tiles/WebMercatorQuad?url=demo&minzoom=-2147483648&maxzoom=2147483646").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let limits = r.json()["tileMatrixSetLimits"].as_array().unwrap().len();
    assert_eq!(limits, 25, "WebMercatorQuad's zooms 0-24");
}

#[tokio::test]
async fn remote_sources_through_the_server() {
    let http = RangeServer::start(raster_dir()).await;
    let moto = MotoServer::start();
    moto.create_bucket("cogs");
    moto.put("cogs", "web.tif", &std::fs::read(raster_dir().join("web.tif")).unwrap());
    let cfg = Config { allow_url: vec![http.url(""), "s3://cogs/".into()], ..config() };
    let s3 = S3Config {
        endpoint: Some(moto.endpoint()),
        region: None,
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
        session_token: None,
    };
    let app = imbrex_server::app(AppState::with_factory(cfg, |f| f.with_s3(s3)).unwrap());
    let web = oracle("web");
    for url in [http.url("web.tif"), "s3://cogs/web.tif".to_string()] {
        let r = get(&app, &format!("/cog/info?url={}", enc(&url))).await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.text());
        assert_eq!(r.json()["bounds"], web["info"]["bounds"], "{url}");
    }
    // Warm: a second request does not touch the HTTP server.
    let before = http.requests("web.tif").len();
    get(&app, &format!("/cog/info?url={}", enc(&http.url("web.tif")))).await;
    assert_eq!(http.requests("web.tif").len(), before);
    // Missing remote objects are 404s.
    let r = get(&app, &format!("/cog/info?url={}", enc(&http.url("missing.tif")))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get(&app, "/cog/info?url=s3%3A%2F%2Fcogs%2Fmissing.tif").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // `*` reaches public addresses only: loopback, private and link-local ones (a cloud's
    // metadata service) are refused, as literals and as names resolving there.
    let any = app_with(Config { allow_url: vec!["*".into()], ..config() });
    for url in [
        "http://127.0.0.1:9/x.tif",
        "http://localhost:9/x.tif",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/x.tif",
        "http://[::ffff:10.0.0.1]/x.tif",
        "http://10.1.2.3/x.tif",
        "http://192.168.0.1/x.tif",
        "http://100.64.0.1/x.tif",
    ] {
        let r = get(&any, &format!("/cog/info?url={}", enc(url))).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{url}: {}", r.text());
        assert!(r.text().contains("private, loopback or link-local"), "{url}: {}", r.text());
    }
    // Redirected there from a host named in the allow-list (which may be local): refused
    // too, as a literal (by the redirect policy) and as a name (once resolved).
    let named = app_with(Config { allow_url: vec!["*".into(), http.url("")], ..config() });
    for (to, says) in [("http://10.1.2.3/x.tif", "does not allow"), ("http://localhost:9/x.tif", "private")] {
        let url = http.url(&format!("redirect?to={}", enc(to)));
        let r = get(&named, &format!("/cog/info?url={}", enc(&url))).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{to}: {}", r.text());
        assert!(r.text().contains(says), "{to}: {}", r.text());
    }
    let r = get(&named, &format!("/cog/info?url={}", enc(&http.url("web.tif")))).await;
    assert_eq!(r.status, StatusCode::OK, "a named local host is reached: {}", r.text());
    // An unreachable host that may be reached is an upstream failure.
    let dead = Config { allow_url: vec!["*".into()], allow_private_urls: true, ..config() };
    let app = app_with(dead);
    let r = get(&app, "/cog/info?url=http%3A%2F%2F127.0.0.1%3A9%2Fx.tif").await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text());
}

#[tokio::test]
async fn redirects_are_followed_only_to_allowed_urls() {
    let allowed = RangeServer::start(raster_dir()).await;
    let other = RangeServer::start(raster_dir()).await;
    let cfg = Config { allow_url: vec![allowed.url("")], ..config() };
    let app = app_with(cfg);
    let via = |server: &RangeServer, to: &str| server.url(&format!("redirect?to={}", enc(to)));
    let info = |url: String| {
        let app = app.clone();
        async move { get(&app, &format!("/cog/info?url={}", enc(&url))).await }
    };
    // Within the allowed prefix, hop after hop: followed.
    let r = info(via(&allowed, &via(&allowed, &allowed.url("web.tif")))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // To a server that is not allowed, directly or after an allowed hop: refused before it
    // is asked, and the answer does not name where the redirect pointed.
    for url in [via(&allowed, &other.url("web.tif")), via(&allowed, &via(&allowed, &other.url("web.tif")))] {
        let r = info(url.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{url}: {}", r.text());
        // The user's URL, and nothing of where it led.
        let detail = format!("url '{url}': a redirect to a URL this server does not allow");
        assert_eq!(r.json()["detail"], detail.as_str());
    }
    assert!(other.log().is_empty(), "the server not allowed was asked: {:?}", other.log());
    // A long chain (as a loop would be) ends: the upstream's fault, not a refusal.
    let chain = (0..7).fold(allowed.url("web.tif"), |to, _| via(&allowed, &to));
    let r = info(chain.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text());
    assert!(r.text().contains("upstream error reading"), "{}", r.text());
}

#[tokio::test]
async fn a_server_that_ignores_range_is_read_only_as_far_as_needed() {
    let http = RangeServer::start(raster_dir()).await;
    let app = app_with(Config { allow_url: vec![http.url("")], ..config() });
    let size = std::fs::metadata(raster_dir().join("cog1.tif")).unwrap().len();
    let (ranged, whole) = (enc(&http.url("cog1.tif")), enc(&http.url("norange/cog1.tif")));
    let r = get(&app, &format!("/cog/info?url={whole}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // The header is at the start: the rest of the 200's body was never read.
    let metrics = get(&app, "/metrics").await.text();
    let line = metrics.lines().find(|l| l.starts_with("imbrex_source_bytes_total{kind=\"http\"}")).unwrap();
    let read: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(read < size as f64 / 2.0, "{read} bytes read of a {size}-byte file: {line}");
    assert!(http.requests("norange/cog1.tif").iter().all(|l| l.range.is_some()), "imbrex asked for ranges");
    assert_eq!(r.json(), get(&app, &format!("/cog/info?url={ranged}")).await.json());
    // And the tiles are the same.
    for tile in ["tiles/WebMercatorQuad/7/64/43.png", "preview.png?max_size=64"] {
        let sep = if tile.contains('?') { '&' } else { '?' };
        let a = get(&app, &format!("/cog/{tile}{sep}url={whole}")).await;
        let b = get(&app, &format!("/cog/{tile}{sep}url={ranged}")).await;
        assert_eq!((a.status, &a.body), (b.status, &b.body), "{tile}");
    }
}

#[tokio::test]
async fn named_datasets_and_raw_urls_turned_off() {
    let path = raster_dir().join("cog_int16.tif");
    let raw = enc(path.to_str().unwrap());
    let mut cfg = config();
    cfg.datasets.insert("dem".into(), path.display().to_string());
    let open = app_with(cfg.clone());
    let closed = app_with(Config { raw_urls: false, ..cfg });
    for app in [&open, &closed] {
        let r = get(app, "/cog/info?url=dem").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.json()["nodata_value"], -32768.0);
        let tj = get(app, "/cog/WebMercatorQuad/tilejson.json?url=dem").await.json();
        // Tile URLs carry the name, not where it points.
        let tiles = tj["tiles"][0].as_str().unwrap();
        assert!(tiles.contains("url=dem") && !tiles.contains("cog_int16"), "{tiles}");
        assert_eq!(get(app, "/cog/info?url=demo").await.status, StatusCode::OK, "the demo stays");
    }
    // The same file by its path: open serves it, closed refuses it, and so any other path.
    assert_eq!(get(&open, &format!("/cog/info?url={raw}")).await.status, StatusCode::OK);
    for url in [raw.clone(), enc("/etc/passwd"), enc("https://example.org/x.tif")] {
        let r = get(&closed, &format!("/cog/info?url={url}")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{url}: {}", r.text());
        assert!(r.text().contains("publishes by name"), "{}", r.text());
    }
}
