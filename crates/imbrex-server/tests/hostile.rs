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
        cases.push(post(String::new(), format!("[{}]", "0,".repeat(1_500_000)), 413, ""));
    }

    assert!(cases.len() >= 150, "{} cases", cases.len());
    let mut by_class = std::collections::BTreeMap::new();
    let mut wrong = Vec::new();
    for case in &cases {
        let mut req = Request::builder().method(case.method).uri(&case.uri).header(header::HOST, "test.local");
        if case.body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let body = case.body.clone().map_or_else(Body::empty, Body::from);
        let r = request(&app, req.body(body).unwrap()).await;
        let short: String = case.uri.chars().take(160).collect();
        let text = r.text().to_lowercase();
        let status_ok = r.status.is_client_error() && (case.status == 0 || r.status.as_u16() == case.status);
        // Errors name what the user gave, never where it resolved to.
        let leak = (text.contains("/etc/passwd") && !case.uri.contains("passwd"))
            || (text.contains("outside-link") && !case.uri.contains("outside-link"));
        if !status_ok || !text.contains(case.says) || leak {
            wrong.push(format!(
                "{} {short}: {} (want {} saying '{}'): {text}",
                case.method, r.status, case.status, case.says
            ));
        }
        *by_class.entry(r.status.as_u16()).or_insert(0) += 1;
    }
    assert!(wrong.is_empty(), "{} of {} answered wrongly:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
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
