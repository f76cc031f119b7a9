//! The real binary on 127.0.0.1: start, answer, stop gracefully on SIGTERM.

mod common;

use std::process::Command;

use common::{Server, imbrex};

#[test]
fn serve_answers_and_stops_on_sigterm() {
    let mut server = Server::start(&[]);
    let (status, body) = server.get("/healthz");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("\"ok\""));
    let (status, body) = server.get("/tileMatrixSets/WebMercatorQuad");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("GoogleMapsCompatible"));

    let killed = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let (status, rest) = server.wait();
    assert!(status.success(), "graceful shutdown exits 0, got {status:?}");
    assert!(rest.iter().any(|l| l.contains("imbrex stopped")), "{rest:?}");
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let out = imbrex().args(["serve", "--config", "/nonexistent/imbrex.toml"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/imbrex.toml"));
    let out = imbrex().args(["serve", "--listen", "not-an-address"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen"));
}

#[test]
fn tms_subcommand_lists_and_prints() {
    let out = imbrex().arg("tms").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 13);
    let out = imbrex().args(["tms", "WorldCRS84Quad"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["id"], "WorldCRS84Quad");
    let out = imbrex().args(["tms", "Nope"]).output().unwrap();
    assert!(!out.status.success());
}
