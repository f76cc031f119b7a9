//! Helpers for router tests: build the app in-process and call it without a socket.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use imbrex_server::{AppState, Config};
use tower::ServiceExt;

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn content_type(&self) -> &str {
        self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// A fresh folder under the system temp dir, removed on drop.
pub struct Scratch(pub std::path::PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("imbrex-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A query value, URL-encoded.
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn app_with(config: Config) -> axum::Router {
    imbrex_server::app(AppState::new(config).expect("valid test config"))
}

pub fn app() -> axum::Router {
    app_with(Config::default())
}

pub async fn request(app: &axum::Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.expect("router never fails");
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.expect("body").to_bytes().to_vec();
    Reply { status, headers, body }
}

pub async fn get(app: &axum::Router, uri: &str) -> Reply {
    request(app, Request::get(uri).header(header::HOST, "test.local").body(Body::empty()).unwrap()).await
}

pub async fn get_with(app: &axum::Router, uri: &str, name: &str, value: &str) -> Reply {
    request(app, Request::get(uri).header(header::HOST, "test.local").header(name, value).body(Body::empty()).unwrap())
        .await
}

/// The WebMercatorQuad tile under the centre of a dataset's TileJSON, at its minzoom or its
/// maxzoom, as a `/cog` tile path with extension `ext` (`png`, `npy`...).
pub async fn centre_tile(app: &axum::Router, url: &str, at_maxzoom: bool, ext: &str) -> String {
    let tj = get(app, &format!("/cog/WebMercatorQuad/tilejson.json?url={}", enc(url))).await;
    assert_eq!(tj.status, StatusCode::OK, "{}", tj.text());
    let tj = tj.json();
    let c = &tj["center"];
    let tms = imbrex_tms::TileMatrixSets::default().get("WebMercatorQuad").unwrap();
    let z = tj[if at_maxzoom { "maxzoom" } else { "minzoom" }].as_i64().unwrap() as i32;
    let t = tms.tile(c[0].as_f64().unwrap(), c[1].as_f64().unwrap(), z).unwrap();
    format!("/cog/tiles/WebMercatorQuad/{}/{}/{}.{ext}?url={}", t.z, t.x, t.y, enc(url))
}
