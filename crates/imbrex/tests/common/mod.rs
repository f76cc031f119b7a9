//! The real `imbrex` binary on 127.0.0.1 for tests that talk to it over TCP.

#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub fn imbrex() -> Command {
    Command::new(env!("CARGO_BIN_EXE_imbrex"))
}

/// A running `imbrex serve` on a free port; killed when dropped. Its log lines are drained
/// by a thread (a full pipe would stall the server) and kept for the test to read.
pub struct Server {
    pub child: Child,
    pub addr: String,
    logs: Arc<Mutex<Vec<String>>>,
    drain: Option<JoinHandle<()>>,
}

impl Server {
    /// Start `imbrex serve` with JSON logs and wait for the line that names its address.
    pub fn start(extra: &[&str]) -> Server {
        let mut child = imbrex()
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(extra)
            .env_remove("IMBREX_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn imbrex");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let start = Instant::now();
        let addr = loop {
            let line = lines.next().expect("server printed its address").unwrap();
            let v: serde_json::Value = serde_json::from_str(&line).expect("JSON log lines");
            if let Some(a) = v.get("address").and_then(|a| a.as_str()) {
                break a.to_string();
            }
            assert!(start.elapsed() < Duration::from_secs(60), "server did not start");
        };
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let drain = std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Server { child, addr, logs, drain: Some(drain) }
    }

    /// Wait for the process to exit (after a signal) and return its exit status and every log line.
    pub fn wait(&mut self) -> (std::process::ExitStatus, Vec<String>) {
        let status = self.child.wait().unwrap();
        if let Some(d) = self.drain.take() {
            d.join().unwrap();
        }
        (status, self.logs.lock().unwrap().clone())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A minimal HTTP/1.1 GET: status and body.
    pub fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let (status, head, body) = http_get(&self.addr, path).expect("an answer");
        assert!(!head.to_ascii_lowercase().contains("transfer-encoding: chunked"), "chunked reply: {head}");
        (status, body)
    }
}

/// A minimal HTTP/1.1 GET of `path` at `addr`: status, head and body; an error when the
/// connection fails or the answer is cut short.
#[allow(dead_code)] // not every test binary uses every helper
pub fn http_get(addr: &str, path: &str) -> std::io::Result<(u16, String, Vec<u8>)> {
    let mut s = TcpStream::connect(addr)?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| bad("no HTTP head"))?;
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("no status"))?;
    let body = out[split + 4..].to_vec();
    // A body shorter than its Content-Length is a lost answer, not a short tile.
    let length = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse::<usize>().ok()).flatten()
    });
    if length.is_some_and(|n| n != body.len()) {
        return Err(bad("body cut short"));
    }
    Ok((status, head, body))
}

/// A header of a head returned by [`http_get`].
#[allow(dead_code)]
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An external program the test needs; its absence fails the test loudly (scripts/test installs it).
pub fn require_program(name: &str) -> String {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    match found {
        Some(p) => p.to_string_lossy().into_owned(),
        None => panic!("`{name}` is not installed; scripts/test installs it (apt-get) when run as root"),
    }
}
