//! The accept loop on a real socket: idle and half-sent connections are closed, one over
//! the cap is told 503 and closed, and a request past its deadline is answered 503.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{app_with, get};
use imbrex_server::listen::{Connections, serve};
use imbrex_server::{AppState, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for what must happen before it fails (not a measured time).
const PATIENCE: Duration = Duration::from_secs(30);

async fn start(limits: Connections) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = imbrex_server::app(AppState::new(Config::default()).unwrap());
    tokio::spawn(serve(listener, app, limits, std::future::pending()));
    addr
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n";

/// Read one response's head and body (`content-length` framed).
async fn response(conn: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(PATIENCE, conn.read(&mut chunk)).await.expect("an answer").unwrap();
        assert!(n > 0, "closed before a whole response: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
    }
}

/// Whether the server closes `conn` (reads reach the end, or a reset) within the patience.
async fn closed_by_server(conn: &mut TcpStream) -> bool {
    let mut chunk = [0u8; 1024];
    let ended = async {
        loop {
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(PATIENCE, ended).await.is_ok()
}

#[tokio::test]
async fn idle_and_half_sent_connections_are_closed() {
    let addr = start(Connections {
        max_connections: 64,
        header_read_timeout: Duration::from_secs(1),
        grace: Duration::from_secs(1),
    })
    .await;
    // Silent from the start.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // Headers begun, never finished.
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nhost: te").await.unwrap();
    // Kept alive after one answer, then idle.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(HEALTHZ).await.unwrap();
    assert!(response(&mut idle).await.starts_with("HTTP/1.1 200"));

    assert!(closed_by_server(&mut silent).await, "a silent connection stays open");
    assert!(closed_by_server(&mut half).await, "half-sent headers hold the connection");
    assert!(closed_by_server(&mut idle).await, "an idle keep-alive connection stays open");
    // The server itself serves on.
    let mut fresh = TcpStream::connect(addr).await.unwrap();
    fresh.write_all(HEALTHZ).await.unwrap();
    assert!(response(&mut fresh).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn a_connection_over_the_cap_is_told_to_come_back() {
    let addr = start(Connections {
        max_connections: 3,
        header_read_timeout: Duration::from_secs(60),
        grace: Duration::from_secs(1),
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(HEALTHZ).await.unwrap();
        assert!(response(&mut conn).await.starts_with("HTTP/1.1 200"));
        held.push(conn);
    }
    let mut over = TcpStream::connect(addr).await.unwrap();
    let answer = response(&mut over).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"), "{answer}");
    assert!(answer.contains("too many connections"), "{answer}");
    assert!(closed_by_server(&mut over).await);

    // A slot freed is a slot taken again (once the server has seen the close).
    drop(held.pop());
    let served = async {
        loop {
            let mut conn = TcpStream::connect(addr).await.unwrap();
            conn.write_all(HEALTHZ).await.unwrap();
            if response(&mut conn).await.starts_with("HTTP/1.1 200") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(PATIENCE, served).await.expect("a freed slot serves again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_deadline_is_a_503_and_the_server_serves_on() {
    let mut config = Config::default();
    config.limits.request_timeout_s = 1;
    let app = app_with(config);
    let b = get(&app, "/cog/info.geojson?url=demo").await.json()["bbox"].clone();
    // 36 million pixels inside the dataset, each from a 6 x 6 Lanczos window: many seconds.
    let heavy = format!(
        "/cog/bbox/{},{},{},{}/6000x6000.npy?url=demo&dst_crs=EPSG:4326&reproject=lanczos",
        b[0], b[1], b[2], b[3]
    );
    let r = get(&app, &heavy).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert_eq!(r.headers["retry-after"], "1");
    assert!(r.text().contains("request_timeout_s"), "{}", r.text());
    // Its warp saw the caller leave and stopped: the pool's threads come free.
    let drained = async {
        while !get(&app, "/metrics").await.text().lines().any(|l| l == "imbrex_cpu_pool_running 0") {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(PATIENCE, drained).await.expect("the abandoned warp stops");
    let r = get(&app, "/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
    let r = get(&app, "/cog/tiles/WebMercatorQuad/0/0/0.png?url=demo").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}
