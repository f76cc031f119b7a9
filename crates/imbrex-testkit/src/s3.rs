//! A real S3-compatible server on 127.0.0.1: moto in server mode, one per test process.
//!
//! `scripts/test` installs moto (`pip install "moto[server]"`) into
//! `~/.cache/imbrex-venv`; `IMBREX_MOTO_SERVER` may point at another `moto_server`.
//! Without it the tests that need S3 fail, loudly.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server, killed on drop.
pub struct MotoServer {
    pub addr: SocketAddr,
    child: Child,
}

fn moto_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("IMBREX_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let venv = home.join(".cache/imbrex-venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    panic!(
        "moto_server not found (looked at $IMBREX_MOTO_SERVER and {}): run scripts/test, which installs it",
        venv.display()
    );
}

impl MotoServer {
    /// Start moto on a free port of 127.0.0.1 and wait until it answers.
    pub fn start() -> MotoServer {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let child = Command::new(moto_binary())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let start = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(start.elapsed() < Duration::from_secs(30), "moto_server did not start on {addr}");
            std::thread::sleep(Duration::from_millis(100));
        }
        MotoServer { addr, child }
    }

    /// `http://127.0.0.1:port`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Create a bucket (moto accepts unsigned requests).
    pub fn create_bucket(&self, bucket: &str) {
        let status = self.request("PUT", &format!("/{bucket}"), &[]);
        assert!(status == 200, "creating bucket {bucket}: HTTP {status}");
    }

    /// Upload an object.
    pub fn put(&self, bucket: &str, key: &str, data: &[u8]) {
        let status = self.request("PUT", &format!("/{bucket}/{key}"), data);
        assert!(status == 200, "uploading s3://{bucket}/{key}: HTTP {status}");
    }

    fn request(&self, method: &str, path: &str, body: &[u8]) -> u16 {
        let mut s = TcpStream::connect(self.addr).expect("connect to moto");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            body.len()
        )
        .expect("write request");
        s.write_all(body).expect("write body");
        let mut out = Vec::new();
        s.read_to_end(&mut out).expect("read response");
        let text = String::from_utf8_lossy(&out);
        text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
