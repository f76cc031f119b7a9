//! The accept loop: connections bounded in number and in how long they may sit idle.
//!
//! `axum::serve` keeps every connection as long as the peer likes, so a thousand idle
//! sockets (or headers sent one byte a minute) hold the server's file descriptors. Here:
//! - a connection must send a request's headers within `header_read_timeout`, counted
//!   from when it starts waiting for a request, which is also how long an idle keep-alive
//!   connection lives (hyper's HTTP/1 timer);
//! - a response the peer stops reading (a zero TCP window) fails after [`WRITE_STALL`]
//!   without progress, rather than holding its slot and its body for ever;
//! - at most `max_connections` are open; one more is answered `503` with `Retry-After`
//!   and closed, rather than left in the kernel's backlog;
//! - shutdown stops accepting, lets requests in flight finish (at most `grace`), then
//!   closes what is left.
//!
//! HTTP/1.1 only: hyper-util's automatic HTTP/2 detection waits for a connection's first
//! bytes without any timeout, which is the very hole this closes; HTTP/2 without TLS (h2c)
//! is rare in front of a tile server, whose proxy or CDN speaks HTTP/1.1 upstream.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Bounds on connections (see the module docs).
#[derive(Clone, Copy, Debug)]
pub struct Connections {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    /// How long shutdown waits for requests in flight.
    pub grace: Duration,
}

/// How long a write may make no progress before the connection is dropped.
pub const WRITE_STALL: Duration = Duration::from_secs(60);

/// What a connection over the cap is told before it is closed.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-type: application/json\r\n\
content-length: 52\r\nconnection: close\r\n\r\n{\"detail\":\"too many connections, retry in a second\"}";

/// Serve `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Connections,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            app.clone().oneshot(req.map(axum::body::Body::new))
        });
        let io = TokioIo::new(Stalling { inner: stream, timer: None });
        let conn = graceful.watch(builder.serve_connection(io, service));
        tokio::spawn(async move {
            // Errors here are the peer's (a reset, a header timeout): nothing to answer.
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still running after the shutdown grace period were dropped");
    }
    Ok(())
}

/// A stream whose writes fail once one has waited [`WRITE_STALL`] without progress.
struct Stalling {
    inner: TcpStream,
    timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl Stalling {
    /// A write's outcome: progress resets the clock; a write that waits may wait until
    /// [`WRITE_STALL`], then fails.
    fn after<T>(
        &mut self,
        cx: &mut std::task::Context<'_>,
        polled: std::task::Poll<std::io::Result<T>>,
    ) -> std::task::Poll<std::io::Result<T>> {
        use std::future::Future;
        if polled.is_ready() {
            self.timer = None;
            return polled;
        }
        let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(WRITE_STALL)));
        match timer.as_mut().poll(cx) {
            std::task::Poll::Ready(()) => std::task::Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the peer stopped reading the response",
            ))),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }
}

impl tokio::io::AsyncRead for Stalling {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Stalling {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        self.after(cx, polled)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.after(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Tell a connection over the cap to come back, and close it.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(REFUSAL).await?;
        stream.shutdown().await?;
        // Read what the peer sent before closing: closing on unread bytes sends a reset,
        // which may reach the peer before the answer does.
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_whole_http_response() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize =
            head.lines().find_map(|l| l.strip_prefix("content-length: ")).and_then(|v| v.parse().ok()).unwrap();
        assert_eq!(body.len(), length);
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(v["detail"].as_str().unwrap().contains("too many connections"));
    }
}
