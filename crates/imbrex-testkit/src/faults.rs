//! An HTTP/1.1 server on 127.0.0.1 that serves one object (at any path, so it also answers
//! as a path-style S3 endpoint) and misbehaves on request: it stalls, resets connections
//! mid-body, lies in `Content-Length` or `Content-Range`, answers errors or S3's `SlowDown`.
//!
//! Written on raw TCP because a well-behaved HTTP library will not send a body shorter than
//! its `Content-Length` or reset a connection halfway through an answer.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One way to answer a request badly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Read the request and never answer.
    Stall,
    /// Send the headers and half the body, then go silent.
    StallBody,
    /// Send the headers and half the body, then reset the connection.
    Reset,
    /// Declare the whole body's `Content-Length`, send half of it and close.
    ShortBody,
    /// A 206 whose `Content-Range` names the range asked for, with half of it as the body
    /// (and a `Content-Length` that agrees with the body).
    ShortRange,
    /// Answer this status, with a short text body.
    Status(u16),
    /// S3's throttling answer: 503 with an XML error whose code is `SlowDown`.
    SlowDown,
}

#[derive(Default)]
struct Plan {
    /// Faults for the next requests, in order.
    next: VecDeque<Fault>,
    /// The fault of every request once `next` is empty.
    always: Option<Fault>,
    requests: u64,
}

/// A running fault server; it stops with its runtime.
pub struct FaultServer {
    pub addr: SocketAddr,
    plan: Arc<Mutex<Plan>>,
}

impl FaultServer {
    /// Serve `data` on an ephemeral port of 127.0.0.1, well-behaved until told otherwise.
    pub async fn start(data: Vec<u8>) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let plan = Arc::new(Mutex::new(Plan::default()));
        let data: Arc<[u8]> = data.into();
        let p = plan.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(connection(sock, data.clone(), p.clone()));
            }
        });
        FaultServer { addr, plan }
    }

    /// `http://127.0.0.1:port`, the endpoint of an S3 client.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:port/<path>`: every path serves the object.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.endpoint(), path.trim_start_matches('/'))
    }

    /// The next requests meet these faults, one each, in order.
    pub fn next(&self, faults: impl IntoIterator<Item = Fault>) {
        self.plan.lock().expect("plan lock").next.extend(faults);
    }

    /// Every request meets `fault` (once the faults of [`FaultServer::next`] are used).
    pub fn always(&self, fault: Fault) {
        self.plan.lock().expect("plan lock").always = Some(fault);
    }

    /// Behave again.
    pub fn heal(&self) {
        let mut plan = self.plan.lock().expect("plan lock");
        plan.next.clear();
        plan.always = None;
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.plan.lock().expect("plan lock").requests
    }
}

/// The head of one request: its method and `Range` header (`bytes=a-b`), or `None` when
/// the peer closed or sent something that is not HTTP.
async fn read_head(sock: &mut TcpStream) -> Option<(String, Option<(u64, Option<u64>)>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut chunk).await.ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 64 * 1024 {
            return None;
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let method = head.split_whitespace().next()?.to_string();
    let range = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        let spec = v.trim().strip_prefix("bytes=").filter(|_| k.eq_ignore_ascii_case("range"))?;
        let (a, b) = spec.split_once('-')?;
        Some((a.parse().ok()?, b.parse().ok()))
    });
    Some((method, range))
}

const VALIDATORS: &str = "ETag: \"fault-server\"\r\nLast-Modified: Mon, 07 Dec 2026 00:00:00 GMT\r\n";

async fn connection(mut sock: TcpStream, data: Arc<[u8]>, plan: Arc<Mutex<Plan>>) {
    let len = data.len() as u64;
    while let Some((method, range)) = read_head(&mut sock).await {
        let fault = {
            let mut p = plan.lock().expect("plan lock");
            p.requests += 1;
            let always = p.always;
            p.next.pop_front().or(always)
        };
        let (status, start, end) = match range {
            Some((a, _)) if a >= len => {
                let head = format!(
                    "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\nContent-Length: 0\r\n\r\n"
                );
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                continue;
            }
            Some((a, b)) => ("206 Partial Content", a, b.map_or(len, |b| (b + 1).min(len))),
            None => ("200 OK", 0, len),
        };
        let body = if method == "HEAD" { &[][..] } else { &data[start as usize..end as usize] };
        let content_range = if status.starts_with("206") {
            format!("Content-Range: bytes {start}-{}/{len}\r\n", end - 1)
        } else {
            String::new()
        };
        let head = |length: usize, range: &str| {
            format!(
                "HTTP/1.1 {status}\r\nContent-Length: {length}\r\n{range}{VALIDATORS}Accept-Ranges: bytes\r\n\
                 Content-Type: image/tiff\r\n\r\n"
            )
        };
        let half = &body[..body.len() / 2];
        match fault {
            None => {
                let length = if method == "HEAD" { (end - start) as usize } else { body.len() };
                if sock.write_all(head(length, &content_range).as_bytes()).await.is_err()
                    || sock.write_all(body).await.is_err()
                {
                    return;
                }
            }
            Some(Fault::Stall) => return wait_for_close(sock).await,
            Some(Fault::StallBody) => {
                let _ = sock.write_all(head(body.len(), &content_range).as_bytes()).await;
                let _ = sock.write_all(half).await;
                return wait_for_close(sock).await;
            }
            Some(Fault::Reset) => {
                let _ = sock.write_all(head(body.len(), &content_range).as_bytes()).await;
                let _ = sock.write_all(half).await;
                let _ = sock.flush().await;
                // SO_LINGER 0: closing sends RST rather than FIN.
                let _ = sock.set_zero_linger();
                return;
            }
            Some(Fault::ShortBody) => {
                let _ = sock.write_all(head(body.len(), &content_range).as_bytes()).await;
                let _ = sock.write_all(half).await;
                return;
            }
            Some(Fault::ShortRange) => {
                if sock.write_all(head(half.len(), &content_range).as_bytes()).await.is_err()
                    || sock.write_all(half).await.is_err()
                {
                    return;
                }
            }
            Some(Fault::Status(code)) => {
                let text = format!("fault {code}");
                let answer = format!(
                    "HTTP/1.1 {code} Fault\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{text}",
                    text.len()
                );
                if sock.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
            }
            Some(Fault::SlowDown) => {
                let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>\
                           <Message>Please reduce your request rate.</Message><RequestId>1</RequestId></Error>";
                let answer = format!(
                    "HTTP/1.1 503 Slow Down\r\nContent-Length: {}\r\nContent-Type: application/xml\r\n\r\n{xml}",
                    xml.len()
                );
                if sock.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Hold a connection without answering until the peer gives up (or an hour passes).
async fn wait_for_close(mut sock: TcpStream) {
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(3600), async {
        while matches!(sock.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// A TCP proxy on 127.0.0.1 in front of a real server (PostgreSQL, Redis) that can be
/// taken down, as the server restarting looks to its clients: every open connection is
/// cut, and new ones are refused until [`TcpProxy::up`].
pub struct TcpProxy {
    pub addr: SocketAddr,
    target: SocketAddr,
    running: Mutex<Option<tokio::task::JoinHandle<()>>>,
    connections: Arc<Mutex<tokio::task::JoinSet<()>>>,
}

impl TcpProxy {
    /// Forward an ephemeral port of 127.0.0.1 to `target`.
    pub async fn start(target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let proxy =
            TcpProxy { addr, target, running: Mutex::new(None), connections: Arc::new(Mutex::new(Default::default())) };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (target, connections) = (self.target, self.connections.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                connections.lock().expect("connections lock").spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        *self.running.lock().expect("listener lock") = Some(task);
    }

    /// Cut every connection and refuse new ones.
    pub fn down(&self) {
        if let Some(task) = self.running.lock().expect("listener lock").take() {
            task.abort();
        }
        self.connections.lock().expect("connections lock").abort_all();
    }

    /// Accept connections again, on the same port.
    pub async fn up(&self) {
        // The aborted accept loop drops its listener when the runtime next polls it.
        for _ in 0..100 {
            if let Ok(listener) = TcpListener::bind(self.addr).await {
                return self.serve(listener);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("could not listen on {} again", self.addr);
    }
}
