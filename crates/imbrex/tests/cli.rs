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

#[test]
fn mosaic_create_writes_what_cogeo_mosaic_wrote() {
    // The shared mosaic.json of cog1/cog2 was written by cogeo-mosaic (TiTiler's fixture).
    let raster = |n: &str| imbrex_testkit::raster(n).to_str().unwrap().to_string();
    let out = std::env::temp_dir().join(format!("imbrex-cli-mosaic-{}.json", std::process::id()));
    let run =
        imbrex().args(["mosaic", "create", &raster("cog1.tif"), &raster("cog2.tif"), "-o"]).arg(&out).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let ours: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let theirs = imbrex_testkit::read_json(&imbrex_testkit::raster("mosaic.json"));
    for k in ["minzoom", "maxzoom", "quadkey_zoom"] {
        assert_eq!(ours[k], theirs[k], "{k}");
    }
    let names = |v: &serde_json::Value| -> std::collections::BTreeMap<String, Vec<String>> {
        v["tiles"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, a)| {
                let files =
                    a.as_array().unwrap().iter().map(|f| f.as_str().unwrap().rsplit('/').next().unwrap().to_string());
                (k.clone(), files.collect())
            })
            .collect()
    };
    assert_eq!(names(&ours), names(&theirs));
    for (a, b) in ours["bounds"].as_array().unwrap().iter().zip(theirs["bounds"].as_array().unwrap()) {
        assert!((a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-6);
    }
    let info = imbrex().args(["mosaic", "info", "--json"]).arg(&out).output().unwrap();
    assert!(info.status.success());
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!((info["quadkeys"].as_u64(), info["assets"].as_u64()), (Some(9), Some(2)));
    let bad = imbrex().args(["mosaic", "create", "/nonexistent.tif", "-o"]).arg(&out).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/nonexistent.tif"));
    let _ = std::fs::remove_file(&out);
}
