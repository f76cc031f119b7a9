//! Requests an attacker would send, across the raster routes, as a table: each one is
//! refused with a 4xx whose body names what was wrong, none is a 5xx, nothing the server
//! holds grows past its bounds, and the server answers normally afterwards.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Scratch, app_with, enc, get, request};
use imbrex_raster::Buffer;
use imbrex_raster::render::geotiff::{GeoInfo, encode};
use imbrex_server::Config;
use imbrex_tms::{Crs, GeoTransform};
use serde_json::json;

/// A request and what its refusal must say.
struct Case {
    method: &'static str,
    uri: String,
    body: Option<String>,
    /// The status, or 0 for any 4xx.
    status: u16,
    /// Words the body must contain (lowercase), naming what was wrong.
    says: &'static str,
}

fn get_case(uri: String, status: u16, says: &'static str) -> Case {
    Case { method: "GET", uri, body: None, status, says }
}

/// A `bands`-band uint8 GeoTIFF of `side` x `side` pixels near (0, 0) in WGS 84.
fn many_bands(side: usize, bands: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..side * side * bands).map(|i| (i % 251) as u8).collect();
    let geo = GeoInfo {
        transform: Some(GeoTransform([0.0, 0.01, 0.0, 1.0, 0.0, -0.01])),
        crs: Some(Crs::wgs84()),
        nodata: None,
    };
    encode(&Buffer::Uint8(data), bands, side, side, None, &geo).unwrap()
}

/// A closed ring of `n` positions around (x, y).
fn ring(x: f64, y: f64, r: f64, n: usize) -> Vec<[f64; 2]> {
    let mut ring: Vec<[f64; 2]> = (0..n - 1)
        .map(|i| {
            let a = i as f64 / (n - 1) as f64 * std::f64::consts::TAU;
            // Three decimals: 100,000 positions stay under the body limit.
            [((x + r * a.cos()) * 1e3).round() / 1e3, ((y + r * a.sin()) * 1e3).round() / 1e3]
        })
        .collect();
    ring.push(ring[0]);
    ring
}

fn feature(ring: Vec<[f64; 2]>) -> String {
    json!({"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}).to_string()
}

/// Peak resident memory of this process (each test runs in a process of its own).
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_are_refused_with_a_reason_and_bounded_work() {
    let dir = Scratch::new("hostile");
    let wide = dir.0.join("bands1024.tif");
    std::fs::write(&wide, many_bands(32, 1024)).unwrap();
    let app =
        app_with(Config { allow_path: vec![dir.0.clone(), imbrex_testkit::testdata("raster")], ..Default::default() });

    let rgb = imbrex_testkit::raster("cog_rgb.tif");
    let datasets = [("demo".to_string(), "demo"), (enc(rgb.to_str().unwrap()), "rgb")];
    let geojson = get(&app, "/cog/info.geojson?url=demo").await.json();
    let bbox: Vec<f64> = geojson["bbox"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let (cx, cy) = ((bbox[0] + bbox[2]) / 2.0, (bbox[1] + bbox[3]) / 2.0);

    let mut cases = Vec::new();
    // Read parameters gone wrong, on every read route of two datasets.
    let many_bidx = "&bidx=1".repeat(300);
    let outputs = enc(&"b1;".repeat(64));
    let long = enc(&"b1+".repeat(1000));
    let params: Vec<(String, u16, &'static str)> = vec![
        (many_bidx, 422, "bidx"),
        ("&bidx=0".into(), 422, "bidx"),
        ("&bidx=99".into(), 422, "bidx"),
        ("&bidx=x".into(), 422, "bidx"),
        (format!("&expression={}", enc(&"b1;".repeat(65))), 422, "expression"),
        (format!("&expression={long}b1"), 422, "expression"),
        ("&expression=b1%2F".into(), 422, "expression"),
        ("&expression=b99".into(), 422, "bidx"),
        ("&expression=__import__".into(), 422, "expression"),
        ("&rescale=abc".into(), 422, "rescale"),
        ("&rescale=1,2,3".into(), 422, "rescale"),
        ("&colormap=%7Bbad".into(), 422, "colormap"),
        ("&colormap_name=nope".into(), 422, "colormap_name"),
        ("&resampling=foo".into(), 422, "resampling"),
        ("&reproject=foo".into(), 422, "reproject"),
        ("&nodata=abc".into(), 422, "nodata"),
        ("&buffer=-1".into(), 422, "buffer"),
        ("&padding=0".into(), 422, "padding"),
        ("&padding=100000".into(), 422, "padding"),
        ("&algorithm=nope".into(), 422, "algorithm"),
        ("&algorithm=hillshade&algorithm_params=%7B".into(), 422, "algorithm_params"),
        ("&unscale=maybe".into(), 422, "unscale"),
        ("&return_mask=maybe".into(), 422, "return_mask"),
        ("&color_formula=gamma%20X%20nope".into(), 422, "color_formula"),
    ];
    let routes = [
        "/cog/statistics?url=",
        "/cog/preview.png?url=",
        "/cog/tiles/WebMercatorQuad/0/0/0.png?url=",
        "/cog/bbox/-180,-85,180,85/256x256.png?url=",
    ];
    for (url, _) in &datasets {
        for route in routes {
            for (p, status, says) in &params {
                // Statistics has no colour stage and points read no rescale: those routes
                // ignore what they do not use, as TiTiler's do.
                let unused = route.starts_with("/cog/statistics")
                    && ["&rescale", "&colormap", "&color_formula", "&return_mask"].iter().any(|n| p.starts_with(n));
                if !unused {
                    cases.push(get_case(format!("{route}{url}{p}"), *status, says));
                }
            }
        }
        cases.push(get_case(format!("/cog/point/{cx},{cy}?url={url}&bidx=1{}", "&bidx=1".repeat(300)), 422, "bidx"));
        // Memory: many outputs over a big output, a huge output, sizes past every bound.
        cases.push(get_case(format!("/cog/preview/2000x2000.png?url={url}&expression={outputs}"), 400, "bytes"));
        cases.push(get_case(format!("/cog/preview/100000x100000.png?url={url}"), 0, "pixels"));
        cases.push(get_case(format!("/cog/preview.png?url={url}&width=100000&height=100000"), 0, "pixels"));
        cases.push(get_case(format!("/cog/bbox/-180,-85,180,85/60000x60000.png?url={url}"), 0, "pixels"));
        cases.push(get_case(
            format!("/cog/tiles/WebMercatorQuad/0/0/0.png?url={url}&tilesize=100000"),
            422,
            "tilesize",
        ));
        cases.push(get_case(format!("/cog/tiles/WebMercatorQuad/0/0/0.xyz?url={url}"), 0, "format"));
        cases.push(get_case(format!("/cog/tiles/WebMercatorQuad/99/0/0.png?url={url}"), 0, "zoom"));
        cases.push(get_case(format!("/cog/tiles/WebMercatorQuad/1/5/0.png?url={url}"), 0, "tile"));
        cases.push(get_case(format!("/cog/tiles/Nope/0/0/0.png?url={url}"), 404, "nope"));
        cases.push(get_case(format!("/cog/bbox/1,2,3.png?url={url}"), 422, "bbox"));
        cases.push(get_case(format!("/cog/bbox/-180,-85,180,85.png?url={url}&dst_crs=EPSG:99999"), 0, "99999"));
        cases.push(get_case(format!("/cog/point/abc,0?url={url}"), 0, "lon"));
        cases.push(get_case(format!("/cog/point/{cx},{cy}?url={url}&coord_crs=nope"), 0, "coord_crs"));
    }
    // Where data may come from.
    let outside = dir.0.join("outside-link.tif");
    std::os::unix::fs::symlink("/etc/passwd", &outside).unwrap();
    let urls: Vec<(String, u16, &'static str)> = vec![
        (enc("/etc/passwd"), 403, "not allowed"),
        (enc("../../../../../../etc/passwd"), 403, "not allowed"),
        (enc(&format!("{}/../../../../../etc/passwd", dir.0.display())), 403, "not allowed"),
        (enc("file:///etc/passwd"), 403, "not allowed"),
        (enc(outside.to_str().unwrap()), 403, "not allowed"),
        (enc("http://169.254.169.254/latest/meta-data/"), 403, "not allowed"),
        (enc("http://127.0.0.1:6379/"), 403, "not allowed"),
        (enc("s3://bucket/key.tif"), 403, "not allowed"),
        (enc("gopher://example.org/x"), 422, "url"),
        (enc(&"a".repeat(5000)), 422, "url"),
        ("".into(), 422, "url"),
        (enc(&dir.0.join("missing.tif").display().to_string()), 404, "not found"),
        ("%00".into(), 403, "not allowed"),
    ];
    for (url, status, says) in &urls {
        for route in
            ["/cog/info?url=", "/cog/tiles/WebMercatorQuad/0/0/0.png?url=", "/cog/WebMercatorQuad/tilejson.json?url="]
        {
            cases.push(get_case(format!("{route}{url}"), *status, says));
        }
    }
    // A dataset of more bands than a request may read at once.
    let wide = enc(wide.to_str().unwrap());
    for route in ["/cog/statistics", "/cog/preview.png", "/cog/tiles/WebMercatorQuad/7/64/63.npy", "/cog/point/0.1,0.9"]
    {
        cases.push(get_case(format!("{route}?url={wide}"), 422, "max_bands"));
    }
    // Zonal statistics: rasterizing work and geometry size.
    let dense = feature(ring(cx, cy, (bbox[2] - bbox[0]) / 3.0, 800));
    let huge = feature(ring(cx, cy, 0.01, 100_001));
    for (url, _) in &datasets {
        let post = |q: String, body: String, status, says| Case {
            method: "POST",
            uri: format!("/cog/statistics?url={url}{q}"),
            body: Some(body),
            status,
            says,
        };
        cases.push(post("&cover_scale=100&max_size=1024".into(), dense.clone(), 422, "cover_scale"));
        cases.push(post("&cover_scale=0".into(), dense.clone(), 422, "cover_scale"));
        cases.push(post(String::new(), huge.clone(), 422, "max_vertices"));
        cases.push(post(String::new(), "{not json".into(), 422, "json"));
        cases.push(post(String::new(), r#"{"type": "Point", "coordinates": [0, 0]}"#.into(), 422, "feature"));
        cases.push(post(String::new(), format!("[{}]", "0,".repeat(1_500_000)), 413, "max_body_bytes"));
    }

    assert!(cases.len() >= 150, "{} cases", cases.len());
    // Errors name what the user gave, never where it resolved to.
    let by_class = refused(&app, &cases, &["/etc/passwd", "outside-link"]).await;
    println!("{} hostile requests: {by_class:?}; peak RSS {} MiB", cases.len(), peak_rss_bytes() >> 20);

    // Still serving, and nothing above grew past the bounds: one request may hold at most
    // limits.max_output_bytes (256 MiB) at once.
    let r = get(&app, "/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
    let r = get(&app, "/cog/tiles/WebMercatorQuad/0/0/0.png?url=demo").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(peak_rss_bytes() < 1536 << 20, "peak RSS {} MiB", peak_rss_bytes() >> 20);
    // The wide file itself is fine to describe.
    let r = get(&app, &format!("/cog/info?url={wide}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["count"], 1024);
}

/// Send every case to `app` and fail listing those answered wrongly: not the 4xx wanted,
/// no word naming what was wrong, or a path the user never gave. Returns the answers per
/// status.
async fn refused(app: &axum::Router, cases: &[Case], private: &[&str]) -> std::collections::BTreeMap<u16, usize> {
    let mut by_class = std::collections::BTreeMap::new();
    let mut wrong = Vec::new();
    for case in cases {
        let mut req = Request::builder().method(case.method).uri(&case.uri).header(header::HOST, "test.local");
        if case.body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let body = case.body.clone().map_or_else(Body::empty, Body::from);
        let r = request(app, req.body(body).unwrap()).await;
        let short: String = case.uri.chars().take(160).collect();
        let text = r.text().to_lowercase();
        let status_ok = r.status.is_client_error() && (case.status == 0 || r.status.as_u16() == case.status);
        let given = percent_encoding::percent_decode_str(&case.uri).decode_utf8_lossy().replace('+', " ");
        let leak = private.iter().any(|p| text.contains(&p.to_lowercase()) && !given.contains(p));
        if !status_ok || !text.contains(case.says) || leak {
            wrong.push(format!(
                "{} {short}: {} (want {} saying '{}'): {text}",
                case.method, r.status, case.status, case.says
            ));
        }
        *by_class.entry(r.status.as_u16()).or_insert(0) += 1;
    }
    assert!(wrong.is_empty(), "{} of {} answered wrongly:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
    by_class
}

/// The routes past `/cog`: STAC items, mosaics, algebra stacks, plain images and archives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_beyond_cog_are_refused_with_a_reason() {
    let dir = Scratch::new("hostile-more");
    let rgb = imbrex_testkit::raster("cog_rgb.tif");
    let rgb_path = rgb.to_str().unwrap().to_string();
    let item = |assets: serde_json::Value| {
        json!({"type": "Feature", "stac_version": "1.0.0", "id": "x", "bbox": [-180, -85, 180, 85],
            "geometry": null, "properties": {"datetime": "2026-01-01T00:00:00Z"}, "links": [], "assets": assets})
        .to_string()
    };
    let write = |name: &str, text: String| {
        let p = dir.0.join(name);
        std::fs::write(&p, text).unwrap();
        enc(p.to_str().unwrap())
    };
    let good = write("item.json", item(json!({"a": {"href": rgb_path, "type": "image/tiff"}})));
    let escaping = write("escape.json", item(json!({"a": {"href": "/etc/passwd", "type": "image/tiff"}})));
    // A symlink inside the allowed folder to a file outside it: refused, never named.
    let secret = std::env::temp_dir().join(format!("imbrex-secret-{}.tif", std::process::id()));
    std::fs::copy(&rgb, &secret).unwrap();
    let link = dir.0.join("link.tif");
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    let linked = write("linked.json", item(json!({"a": {"href": link.to_str().unwrap(), "type": "image/tiff"}})));
    let remote =
        write("remote.json", item(json!({"a": {"href": "http://169.254.169.254/x.tif", "type": "image/tiff"}})));
    let not_json = write("broken.json", "{\"type\": \"Feature\", ".into());
    let huge_assets: serde_json::Map<String, serde_json::Value> =
        (0..300).map(|i| (format!("a{i}"), json!({"href": rgb_path, "type": "image/tiff"}))).collect();
    let wide = write("wide.json", item(serde_json::Value::Object(huge_assets)));
    let all_300 = (0..300).map(|i| format!("&assets=a{i}")).collect::<String>();
    let mosaic = |tiles: serde_json::Value| {
        json!({"mosaicjson": "0.0.3", "version": "1.0.0", "minzoom": 1, "maxzoom": 3, "quadkey_zoom": 1,
            "bounds": [-180, -85, 180, 85], "center": [0, 0, 0], "tiles": tiles})
        .to_string()
    };
    let every = |href: &str| json!({"0": [href], "1": [href], "2": [href], "3": [href]});
    let m_good = write("mosaic.json", mosaic(every(&rgb_path)));
    let m_escape = write("mosaic-escape.json", mosaic(every("/etc/passwd")));
    let m_linked = write("mosaic-linked.json", mosaic(every(link.to_str().unwrap())));
    let images = dir.0.join("images");
    std::fs::create_dir_all(&images).unwrap();
    let mut photo = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut photo, 300, 200);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let data: Vec<u8> = (0..300 * 200).map(|i| (i % 253) as u8).collect();
        enc.write_header().unwrap().write_image_data(&data).unwrap();
    }
    std::fs::write(images.join("photo.png"), photo).unwrap();
    let m_bad = write("mosaic-bad.json", "[1, 2, 3]".into());
    let app = app_with(Config {
        allow_path: vec![dir.0.clone(), imbrex_testkit::testdata("raster")],
        images: vec![images],
        ..Default::default()
    });

    let mut cases = Vec::new();
    for route in ["/stac/info", "/stac/tiles/WebMercatorQuad/0/0/0.png", "/stac/preview.png", "/stac/statistics"] {
        cases.push(get_case(format!("{route}?url={good}&assets=nope"), 0, "nope"));
        if route != "/stac/info" {
            cases.push(get_case(format!("{route}?url={good}&assets=a&expression=nope_b1"), 0, "expression"));
        }
        cases.push(get_case(format!("{route}?url={escaping}&assets=a"), 403, "not allowed"));
        cases.push(get_case(format!("{route}?url={linked}&assets=a"), 403, "not allowed"));
        cases.push(get_case(format!("{route}?url={remote}&assets=a"), 403, "not allowed"));
        cases.push(get_case(format!("{route}?url={not_json}&assets=a"), 0, "broken.json"));
        cases.push(get_case(format!("{route}?url=%2Fetc%2Fpasswd&assets=a"), 403, "not allowed"));
        cases.push(get_case(format!("{route}?url={}&assets=a", enc("http://127.0.0.1:6379/")), 403, "not allowed"));
        cases.push(get_case(format!("{route}?url={wide}{all_300}"), 422, "assets"));
    }
    for route in [
        "/mosaicjson/info",
        "/mosaicjson/tiles/WebMercatorQuad/0/0/0.png",
        "/mosaicjson/tiles/WebMercatorQuad/0/0/0/assets",
        "/mosaicjson/point/0,0",
    ] {
        cases.push(get_case(format!("{route}?url={m_bad}"), 0, "mosaic"));
        cases.push(get_case(format!("{route}?url={not_json}"), 0, "broken.json"));
        cases.push(get_case(format!("{route}?url=%2Fetc%2Fpasswd"), 403, "not allowed"));
        cases.push(get_case(format!("{route}?url={}", enc("http://169.254.169.254/m.json")), 403, "not allowed"));
    }
    for m in [&m_escape, &m_linked] {
        cases.push(get_case(format!("/mosaicjson/tiles/WebMercatorQuad/1/0/0.png?url={m}"), 403, "not allowed"));
    }
    for (q, says) in [
        ("&pixel_selection=nope", "pixel_selection"),
        ("&bidx=0", "bidx"),
        ("&rescale=x", "rescale"),
        ("&bidx=1".repeat(300).leak() as &str, "bidx"),
    ] {
        cases.push(get_case(format!("/mosaicjson/tiles/WebMercatorQuad/1/0/0.png?url={m_good}{q}"), 0, says));
    }
    let layer = |name: &str, path: &str| enc(&format!("{name}={path}"));
    let two = format!("layers={}&layers={}", layer("a", &rgb_path), layer("b", &rgb_path));
    for route in ["/algebra/info", "/algebra/tiles/WebMercatorQuad/0/0/0.png", "/algebra/preview.png"] {
        if route != "/algebra/info" {
            cases.push(get_case(format!("{route}?{two}&expression=c_b1"), 0, "expression"));
        }
        cases.push(get_case(format!("{route}?layers=noequals"), 0, "layers"));
        cases.push(get_case(format!("{route}?layers={}", layer("a", "/etc/passwd")), 403, "not allowed"));
        cases.push(get_case(format!("{route}?layers={}", layer("a", "http://10.0.0.1/x.tif")), 403, "not allowed"));
        let many: String = (0..300).map(|i| format!("layers={}&", layer(&format!("l{i}"), &rgb_path))).collect();
        cases.push(get_case(format!("{route}?{many}"), 0, "layers"));
    }
    for (uri, says) in [
        ("/image/photo/tiles/99/0/0.png", "outside the image"),
        ("/image/photo/tiles/0/5/5.png", "outside the image"),
        ("/image/photo/tiles/0/0/0.png?tilesize=100000", "tilesize"),
        ("/image/photo/tiles/0/0/0.png?tilesize=0", "tilesize"),
        ("/image/photo/tiles/0/0/0.xyz", "format"),
        ("/image/photo/point/-1,0", "outside the image"),
        ("/image/photo/point/100000,0", "outside the image"),
        ("/image/..%2F..%2Fetc%2Fpasswd/info", "not found"),
        ("/image/nope/info", "nope"),
        ("/pmtiles/nope/0/0/0", "nope"),
        ("/pmtiles/..%2Fetc%2Fpasswd/tilejson.json", "no archive"),
    ] {
        cases.push(get_case(uri.to_string(), 0, says));
    }
    assert!(cases.len() >= 80, "{} cases", cases.len());
    let by_class = refused(&app, &cases, &[secret.to_str().unwrap()]).await;
    let _ = std::fs::remove_file(&secret);
    println!("{} hostile requests beyond /cog: {by_class:?}; peak RSS {} MiB", cases.len(), peak_rss_bytes() >> 20);
    let r = get(&app, &format!("/stac/info?url={good}&assets=a")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(peak_rss_bytes() < 1536 << 20, "peak RSS {} MiB", peak_rss_bytes() >> 20);
}

/// Collections: filters, CQL2, limits and names an attacker would send, against the test
/// database (PostGIS answers what imbrex lets through).
#[tokio::test]
async fn hostile_collection_requests_are_refused_with_a_reason() {
    let url = std::env::var("IMBREX_TEST_DATABASE_URL").expect(
        "IMBREX_TEST_DATABASE_URL is not set: run scripts/test, which installs and starts PostGIS \
         and loads testdata/vector into a throwaway database",
    );
    let mut config = Config { database_url: Some(url), ..Config::default() };
    config.db.schemas = vec!["public".into()];
    let app = imbrex_server::app(imbrex_server::AppState::new(config).unwrap().connect_database().await.unwrap());
    let items = "/collections/public.countries/items";
    let tile = "/collections/public.countries/tiles/WebMercatorQuad/0/0/0";
    let mut cases = Vec::new();
    let filters = [
        ("name = 'x'; DROP TABLE public.countries; --", "filter"),
        ("name = 'x' OR 1=1) --", "filter"),
        ("nope_column = 1", "nope_column"),
        // Geometry literals PostGIS refuses (a ring too short, not closed; a line of one
        // point; nonsense): the caller's to fix.
        ("S_INTERSECTS(geom, POLYGON((0 0, 1 1)))", "filter"),
        ("S_INTERSECTS(geom, POLYGON((0 0, 1 0, 1 1, 0 1)))", "filter"),
        ("S_INTERSECTS(geom, LINESTRING(0 0))", "filter"),
        ("S_WITHIN(geom, POINT(1))", "filter"),
        ("S_INTERSECTS(geom, MULTIPOLYGON(((0 0, 1 1))))", "filter"),
        ("pg_sleep(10) = 1", "filter"),
        ("name LIKE", "filter"),
        (&*"(".repeat(2000), "filter"),
    ];
    for route in [items, tile] {
        for (f, says) in &filters {
            cases.push(get_case(format!("{route}?filter={}", enc(f)), 0, says));
        }
        cases.push(get_case(
            format!(
                "{route}?filter-lang=cql2-json&filter={}",
                enc(r#"{"op": "s_intersects", "args": [{"property": "geom"}, {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}]}"#)
            ),
            0,
            "filter",
        ));
        cases.push(get_case(format!("{route}?filter-lang=cql2-json&filter=%7B"), 0, "filter"));
        cases.push(get_case(
            format!("{route}?filter-lang=cql2-json&filter={}", enc(r#"{"op": "pg_sleep", "args": [10]}"#)),
            0,
            "filter",
        ));
        cases.push(get_case(format!("{route}?filter-lang=sql&filter=1"), 0, "filter-lang"));
        cases.push(get_case(format!("{route}?bbox=1,2,3"), 0, "bbox"));
        cases.push(get_case(format!("{route}?bbox=a,b,c,d"), 0, "bbox"));
        cases.push(get_case(format!("{route}?datetime=yesterday"), 0, "datetime"));
        cases.push(get_case(format!("{route}?limit=-1"), 0, "limit"));
        cases.push(get_case(format!("{route}?limit=100000000"), 0, "limit"));
        cases.push(get_case(format!("{route}?geom-column=nope"), 0, "nope"));
        cases.push(get_case(format!("{route}?datetime=2020-01-01T00:00:00Z&datetime-column=nope"), 0, "nope"));
        cases.push(get_case(format!("{route}?sortby=nope"), 0, "nope"));
        cases.push(get_case(format!("{route}?properties=nope%22%3B"), 0, "properties"));
    }
    cases.push(get_case(format!("{items}?offset=-1"), 0, "offset"));
    cases.push(get_case(format!("{items}?f=exe"), 0, "f"));
    cases.push(get_case(format!("{tile}?extent=0"), 0, "extent"));
    cases.push(get_case(format!("{tile}?simplify=abc"), 0, "simplify"));
    cases.push(get_case("/collections/public.countries%22%3B%20DROP/items".into(), 404, "not found"));
    cases.push(get_case("/collections/pg_catalog.pg_authid/items".into(), 404, "not found"));
    cases.push(get_case("/collections/public.countries/tiles/WebMercatorQuad/40/0/0".into(), 0, "zoom"));
    cases.push(get_case("/collections/public.countries/items/1%27%20OR%20%271%27=%271".into(), 404, "not found"));
    // PostgreSQL's own files and settings never reach an answer.
    let by_class = refused(&app, &cases, &["/var/lib/postgresql", "/usr/share/postgresql", "pg_hba"]).await;
    println!("{} hostile collection requests: {by_class:?}", cases.len());
    let r = get(&app, &format!("{items}?limit=1")).await;
    assert_eq!(r.status, StatusCode::OK, "the table is still there: {}", r.text());
}
