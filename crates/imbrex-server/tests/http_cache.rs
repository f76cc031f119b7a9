//! What a CDN or a browser in front of imbrex relies on: Cache-Control, ETag with 304
//! revalidation, and gzip for text and vector tiles (not for images).

mod common;

use std::io::Read;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{app, app_with, get, request};
use imbrex_server::{AppState, Config};

async fn get_headers(app: &axum::Router, uri: &str, headers: &[(&str, &str)]) -> common::Reply {
    let mut req = Request::get(uri).header(header::HOST, "test.local");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    request(app, req.body(Body::empty()).unwrap()).await
}

fn header(r: &common::Reply, name: header::HeaderName) -> Option<&str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn answers_carry_cache_control_and_an_etag_that_revalidates() {
    let app = app();
    let preview = "/cog/preview.png?url=demo&max_size=64";
    let r = get(&app, preview).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(header(&r, header::CACHE_CONTROL), Some("public, max-age=3600"));
    let tag = header(&r, header::ETAG).expect("an ETag").to_string();
    assert!(tag.starts_with("W/\""), "{tag}");
    // The same request again: the same validator; another image: another one.
    assert_eq!(header(&get(&app, preview).await, header::ETAG), Some(tag.as_str()));
    let other = get(&app, "/cog/preview.png?url=demo&max_size=65").await;
    assert_ne!(header(&other, header::ETAG), Some(tag.as_str()));

    // Revalidation: 304 without a body while unchanged, the image when the tag differs.
    let r = get_headers(&app, preview, &[("if-none-match", &tag)]).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.body.is_empty());
    assert_eq!(header(&r, header::ETAG), Some(tag.as_str()));
    assert_eq!(header(&r, header::CACHE_CONTROL), Some("public, max-age=3600"));
    let r = get_headers(&app, preview, &[("if-none-match", "W/\"0\"")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.starts_with(b"\x89PNG"));

    // Errors are not cached (a collection missing now may appear after /refresh), and
    // health never is.
    let r = get(&app, "/cog/tiles/WebMercatorQuad/0/0/0.png?url=demo&rescale=a").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(header(&r, header::CACHE_CONTROL).is_none() && header(&r, header::ETAG).is_none());
    let r = get(&app, "/collections/public.nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(header(&r, header::CACHE_CONTROL).is_none());
    let r = get(&app, "/healthz").await;
    assert!(header(&r, header::CACHE_CONTROL).is_none() && header(&r, header::ETAG).is_none());
}

#[tokio::test]
async fn negotiated_documents_vary_on_accept_and_tiles_do_not() {
    let app = app();
    let vary = |r: &common::Reply| {
        r.headers.get_all(header::VARY).iter().map(|v| v.to_str().unwrap().to_string()).collect::<Vec<_>>().join(",")
    };
    let json = get(&app, "/").await;
    let html = get_headers(&app, "/", &[("accept", "text/html")]).await;
    assert_ne!(json.content_type(), html.content_type());
    for r in [&json, &html] {
        assert!(vary(r).contains("Accept"), "{:?}", r.headers);
    }
    let png = get(&app, "/cog/preview.png?url=demo&max_size=64").await;
    assert!(!vary(&png).split(',').any(|v| v.trim() == "Accept"), "{:?}", png.headers);

    // Forwarded headers are ignored unless configured (a client cannot make a cached page
    // load scripts from its own host); when configured, documents vary on them.
    let forged = get_headers(&app, "/collections?f=html", &[("x-forwarded-host", "attacker.example")]).await;
    assert!(!forged.text().contains("attacker.example"));
    assert!(!vary(&forged).contains("X-Forwarded-Host"));
    let proxied = app_with(Config { forwarded_headers: true, ..Config::default() });
    let r = get_headers(&proxied, "/", &[("x-forwarded-host", "tiles.example.org")]).await;
    assert!(r.text().contains("http://tiles.example.org/"), "{}", r.text());
    assert!(vary(&r).contains("X-Forwarded-Host"));
}

#[tokio::test]
async fn cache_control_is_configurable_and_checked() {
    let none = app_with(Config { cache_control: String::new(), ..Config::default() });
    let r = get(&none, "/tileMatrixSets").await;
    assert!(header(&r, header::CACHE_CONTROL).is_none());
    assert!(header(&r, header::ETAG).is_some(), "validators do not depend on Cache-Control");
    let short = app_with(Config { cache_control: "max-age=60".into(), ..Config::default() });
    assert_eq!(header(&get(&short, "/tileMatrixSets").await, header::CACHE_CONTROL), Some("max-age=60"));
    let bad = AppState::new(Config { cache_control: "max-age=60\nX-Evil: 1".into(), ..Config::default() });
    assert!(bad.err().is_some_and(|e| e.to_string().contains("cache_control")));
}

#[tokio::test]
async fn text_is_gzipped_for_clients_that_ask_and_images_are_not() {
    let app = app();
    let plain = get(&app, "/tileMatrixSets/WebMercatorQuad").await;
    assert!(header(&plain, header::CONTENT_ENCODING).is_none());
    let r = get_headers(&app, "/tileMatrixSets/WebMercatorQuad", &[("accept-encoding", "gzip")]).await;
    assert_eq!(header(&r, header::CONTENT_ENCODING), Some("gzip"));
    assert!(r.body.len() < plain.body.len() / 2, "{} vs {} bytes", r.body.len(), plain.body.len());
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&r.body[..]).read_to_end(&mut unzipped).unwrap();
    assert_eq!(unzipped, plain.body);
    assert_eq!(header(&r, header::ETAG), header(&plain, header::ETAG), "one weak validator for both encodings");

    let r = get_headers(&app, "/cog/preview.png?url=demo&max_size=64", &[("accept-encoding", "gzip")]).await;
    assert!(header(&r, header::CONTENT_ENCODING).is_none(), "PNG is compressed already");
    assert!(r.body.starts_with(b"\x89PNG"));
}
