//! Landing page, conformance, health, OpenAPI and TileMatrixSet endpoints.

mod common;

use axum::http::StatusCode;
use common::{app, get, get_with};

#[tokio::test]
async fn landing_page_negotiates_json_and_html() {
    let app = app();
    let r = get(&app, "/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type().starts_with("application/json"));
    let doc = r.json();
    let rels: Vec<&str> = doc["links"].as_array().unwrap().iter().map(|l| l["rel"].as_str().unwrap()).collect();
    for rel in [
        "self",
        "service-desc",
        "service-doc",
        "http://www.opengis.net/def/rel/ogc/1.0/conformance",
        "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
    ] {
        assert!(rels.contains(&rel), "missing link {rel}");
    }
    assert_eq!(doc["links"][0]["href"], "http://test.local/");

    let html = get_with(&app, "/", "accept", "text/html,application/xhtml+xml").await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.content_type().starts_with("text/html"));
    assert!(html.text().contains("http://test.local/tileMatrixSets"));
    // The demo on a map first, then one link per mounted source (no database here).
    let page = html.text();
    let map = page.find("http://test.local/cog/WebMercatorQuad/map.html?url=demo").expect("the demo map");
    assert!(map < page.find("<h2>").unwrap(), "the map comes first");
    assert!(page.contains("http://test.local/cog/viewer?url=demo"));
    assert!(!page.contains("/collections"), "no database, no collections");
    // The viewer opens a dataset given in its query, with the query's rendering parameters.
    let viewer = get(&app, "/cog/viewer?url=demo&bidx=1").await.text();
    assert!(viewer.contains("/cog/WebMercatorQuad/tilejson.json?url=demo&bidx=1"), "{viewer}");
    assert!(get(&app, "/?f=html").await.text().starts_with("<!DOCTYPE html>"));
    let bad = get(&app, "/?f=xml").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["detail"][0]["loc"], serde_json::json!(["query", "f"]));
}

#[tokio::test]
async fn conformance_health_and_openapi() {
    let app = app();
    let c = get(&app, "/conformance").await.json();
    assert!(
        c["conformsTo"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core")
    );
    let h = get(&app, "/healthz").await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(h.json()["status"], "ok");
    let api = get(&app, "/api").await;
    assert!(api.content_type().starts_with("application/vnd.oai.openapi+json"));
    let doc = api.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/", "/conformance", "/healthz", "/tileMatrixSets", "/tileMatrixSets/{tileMatrixSetId}"] {
        assert!(doc["paths"].get(path).is_some(), "OpenAPI lacks {path}");
    }
    // The /cog router's operations come from its parameter groups: the image endpoints list
    // the processing parameters they accept, the dataset's `url` first and required.
    for (path, method) in [("/cog/preview", "get"), ("/cog/map", "get"), ("/cog/feature", "post")] {
        let params = doc["paths"][path][method]["parameters"].as_array().expect(path);
        assert_eq!((params[0]["name"].as_str(), params[0]["required"].as_bool()), (Some("url"), Some(true)));
        for name in ["rescale", "colormap_name", "expression", "algorithm", "nodata", "return_mask"] {
            assert!(params.iter().any(|p| p["name"] == name), "{method} {path} does not document {name}");
        }
    }
    let html = get(&app, "/api.html").await;
    assert!(html.text().contains("http://test.local/api"));
}

#[tokio::test]
async fn tile_matrix_sets_match_titiler() {
    let app = app();
    let r = get(&app, "/tileMatrixSets").await;
    assert_eq!(r.status, StatusCode::OK);
    let ours = r.json();
    let theirs = imbrex_testkit::read_json(&imbrex_testkit::reference("titiler/samples/tileMatrixSets.json"));
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["tileMatrixSets"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids(&ours), ids(&theirs));
    let first = &ours["tileMatrixSets"][0]["links"][0];
    let reference = &theirs["tileMatrixSets"][0]["links"][0];
    assert_eq!(first["rel"], reference["rel"]);
    assert_eq!(first["type"], reference["type"]);
    assert_eq!(first["title"], reference["title"]);
    assert_eq!(first["href"], "http://test.local/tileMatrixSets/CDB1GlobalGrid");

    let wm = get(&app, "/tileMatrixSets/WebMercatorQuad").await.json();
    let expected = imbrex_testkit::read_json(&imbrex_testkit::reference("titiler/samples/tms_WebMercatorQuad.json"));
    assert_eq!(wm, expected);
}

#[tokio::test]
async fn errors_are_json_with_the_right_status() {
    let app = app();
    let r = get(&app, "/tileMatrixSets/NoSuchGrid").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.json()["detail"].as_str().unwrap().contains("NoSuchGrid"));
    let r = get(&app, "/tileMatrixSets/bad%20id%3B").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["detail"][0]["loc"], serde_json::json!(["path", "tileMatrixSetId"]));
    let r = get(&app, "/no/such/route").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.json()["detail"].is_string());
}

#[tokio::test]
async fn cors_is_on_for_get_by_default_and_can_be_disabled() {
    let r = get_with(&app(), "/tileMatrixSets", "origin", "https://example.org").await;
    assert_eq!(r.headers.get("access-control-allow-origin").unwrap(), "*");
    let off = common::app_with(imbrex_server::Config { cors: false, ..Default::default() });
    let r = get_with(&off, "/tileMatrixSets", "origin", "https://example.org").await;
    assert!(r.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn custom_tms_files_are_registered() {
    let dir = std::env::temp_dir().join(format!("imbrex-tms-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("custom.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(imbrex_testkit::reference("tms/WebMercatorQuad.json")).unwrap())
            .unwrap();
    doc["id"] = "MyQuad".into();
    std::fs::write(&path, doc.to_string()).unwrap();
    let app = common::app_with(imbrex_server::Config { tms: vec![path.clone()], ..Default::default() });
    let r = get(&app, "/tileMatrixSets/MyQuad").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["id"], "MyQuad");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every route README.md lists exists: requested with sample values, none is the router's
/// "no route" answer or a 405 (a doc naming a route that does not exist is a bug).
#[tokio::test]
async fn the_routes_in_the_readme_exist() {
    let app = app();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let samples = [
        ("[.{format}]", ".png"),
        ("[/{w}x{h}]", "/64x64"),
        ("{z}/{x}/{y}", "0/0/0"),
        ("{tms}", "WebMercatorQuad"),
        ("{format}", "png"),
        ("{w}x{h}", "64x64"),
        ("{minx},{miny},{maxx},{maxy}", "0,0,1,1"),
        ("{lon},{lat}", "0,0"),
        ("/tileMatrixSets/{id}", "/tileMatrixSets/WebMercatorQuad"),
        ("/colorMaps/{id}", "/colorMaps/viridis"),
        ("/algorithms/{id}", "/algorithms/hillshade"),
        ("{a},{b}", "public.a,public.b"),
        ("{schema.function}", "public.f"),
        ("{itemId}", "1"),
        ("{name}", "sample"),
        ("[.png\\|.svg]", ".png"),
        ("{id}", "public.t"),
    ];
    let mut checked = 0;
    for line in readme.lines().filter(|l| l.starts_with("| `/")) {
        let cell = line.trim_start_matches("| ").split(" |").next().unwrap();
        let post = cell.contains("(POST)");
        for route in cell.split('`').skip(1).step_by(2).filter(|r| r.starts_with('/')) {
            let mut path = route.split('?').next().unwrap().to_string();
            for (from, to) in samples {
                path = path.replace(from, to);
            }
            assert!(!path.contains('{') && !path.contains('['), "no sample for {route}");
            let req = axum::http::Request::builder()
                .method(if post { "POST" } else { "GET" })
                .uri(&path)
                .header("host", "test.local")
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{}"))
                .unwrap();
            let r = common::request(&app, req).await;
            assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{route} ({path})");
            assert!(!r.text().contains("no route for"), "{route} ({path}): {}", r.text());
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} routes found in README.md");
}

/// `/metrics` speaks Prometheus's text format: requests by route pattern (not path) and
/// status, latency histograms, and the pools and caches read when scraped.
#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = app();
    for _ in 0..2 {
        assert_eq!(get(&app, "/cog/info?url=demo").await.status, StatusCode::OK);
    }
    assert_eq!(get(&app, "/cog/info?url=nope.tif").await.status.as_u16() / 100, 4);
    assert_eq!(get(&app, "/no/such/route").await.status, StatusCode::NOT_FOUND);
    let r = get(&app, "/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type().starts_with("application/openmetrics-text"), "{}", r.content_type());
    assert!(r.headers.get("cache-control").is_none(), "metrics are never cached");
    let text = r.text();
    let has = |line: &str| text.lines().any(|l| l == line);
    for line in [
        r#"imbrex_http_requests_total{route="/cog/info",status="200"} 2"#,
        r#"imbrex_http_requests_total{route="unmatched",status="404"} 1"#,
        r#"imbrex_http_request_duration_seconds_count{route="/cog/info"} 3"#,
        "imbrex_cpu_pool_waiting 0",
        "imbrex_image_cache_bytes 0",
        "# EOF",
    ] {
        assert!(has(line), "{line} in\n{text}");
    }
    for name in
        ["imbrex_cpu_pool_running ", "imbrex_block_cache_bytes ", "imbrex_http_request_duration_seconds_bucket{"]
    {
        assert!(text.lines().any(|l| l.starts_with(name)), "{name} in\n{text}");
    }
    assert!(!text.contains("nope.tif") && !text.contains("/no/such/route"), "paths never become labels");
}
