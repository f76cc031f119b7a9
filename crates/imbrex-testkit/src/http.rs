//! A real HTTP file server on 127.0.0.1 that honours `Range` and counts requests;
//! `/redirect?to=URL` answers a 302 to URL; `/norange/PATH` serves PATH whole, ignoring
//! `Range`, as some servers do.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;

/// One request the server received: path and `Range` header.
#[derive(Clone, Debug, PartialEq)]
pub struct Logged {
    pub path: String,
    pub range: Option<String>,
}

/// A running range server; stops when dropped with its runtime.
pub struct RangeServer {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Logged>>>,
}

#[derive(Clone)]
struct Ctx {
    root: PathBuf,
    log: Arc<Mutex<Vec<Logged>>>,
}

impl RangeServer {
    /// Serve files under `root` on an ephemeral port of 127.0.0.1.
    pub async fn start(root: PathBuf) -> RangeServer {
        let log = Arc::new(Mutex::new(Vec::new()));
        let ctx = Ctx { root, log: log.clone() };
        let app = axum::Router::new().fallback(serve).with_state(ctx);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        RangeServer { addr, log }
    }

    /// `http://127.0.0.1:port/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// Requests received so far for `path`.
    pub fn requests(&self, path: &str) -> Vec<Logged> {
        let want = format!("/{}", path.trim_start_matches('/'));
        self.log.lock().expect("log lock").iter().filter(|l| l.path == want).cloned().collect()
    }

    /// Every request received so far.
    pub fn log(&self) -> Vec<Logged> {
        self.log.lock().expect("log lock").clone()
    }

    /// Forget the log.
    pub fn reset(&self) {
        self.log.lock().expect("log lock").clear();
    }
}

async fn serve(State(ctx): State<Ctx>, uri: Uri, headers: HeaderMap) -> Response {
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).map(str::to_string);
    ctx.log.lock().expect("log lock").push(Logged { path: uri.path().to_string(), range: range.clone() });
    if uri.path() == "/redirect" {
        let to = uri.query().and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "to"));
        return Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, to.map(|(_, v)| v.into_owned()).unwrap_or_default())
            .body(Body::empty())
            .expect("response");
    }
    let (path, range) = match uri.path().strip_prefix("/norange/") {
        Some(rest) => (rest, None),
        None => (uri.path(), range),
    };
    let rel = path.trim_start_matches('/');
    if rel.contains("..") {
        return status(StatusCode::FORBIDDEN);
    }
    let Ok(data) = tokio::fs::read(ctx.root.join(rel)).await else {
        return status(StatusCode::NOT_FOUND);
    };
    let len = data.len() as u64;
    // As nginx does: size and modification time, so a rewritten file has another validator.
    let etag = match tokio::fs::metadata(ctx.root.join(rel)).await.and_then(|m| m.modified()) {
        Ok(t) => {
            let ns = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
            format!("\"{ns:x}-{len:x}\"")
        }
        Err(_) => return status(StatusCode::NOT_FOUND),
    };
    let Some(spec) = range.as_deref().and_then(|r| r.strip_prefix("bytes=")) else {
        return Response::builder()
            .header(header::ETAG, &etag)
            .header(header::CONTENT_LENGTH, len)
            .header(header::ACCEPT_RANGES, "bytes")
            .body(Body::from(data))
            .expect("response");
    };
    let (a, b) = spec.split_once('-').unwrap_or((spec, ""));
    let start: u64 = a.parse().unwrap_or(0);
    let end: u64 = if b.is_empty() { len - 1 } else { b.parse::<u64>().unwrap_or(len - 1).min(len - 1) };
    if start >= len || start > end {
        return Response::builder()
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .header(header::CONTENT_RANGE, format!("bytes */{len}"))
            .body(Body::empty())
            .expect("response");
    }
    Response::builder()
        .status(StatusCode::PARTIAL_CONTENT)
        .header(header::ETAG, &etag)
        .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"))
        .header(header::CONTENT_LENGTH, end - start + 1)
        .body(Body::from(data[start as usize..=end as usize].to_vec()))
        .expect("response")
}

fn status(code: StatusCode) -> Response {
    Response::builder().status(code).body(Body::empty()).expect("response")
}
