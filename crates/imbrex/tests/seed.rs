//! `imbrex seed` and `imbrex pmtiles merge`, the real binary: a seeded archive served under
//! /pmtiles gives the dynamic tiles byte for byte; shards merge into the archive one run
//! writes; a run stopped part way goes on from its journal.

mod common;

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::imbrex;
use imbrex_server::{AppState, Config};
use tower::ServiceExt;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("imbrex-seed-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run `imbrex seed ARGS -o out`, which must succeed; its stderr.
fn seed(args: &[&str], out: &Path) -> String {
    let run = imbrex().arg("seed").args(args).arg("-o").arg(out).output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "imbrex seed {args:?}: {stderr}");
    stderr
}

async fn get(app: &axum::Router, path: &str) -> (StatusCode, Vec<u8>, Option<String>) {
    let req = Request::get(path).header("host", "test.local").body(Body::empty()).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let encoding = res.headers().get("content-encoding").map(|v| v.to_str().unwrap().to_string());
    (status, axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap().to_vec(), encoding)
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out).unwrap();
    out
}

/// The demo's zooms: its minzoom and the two below it.
async fn demo_zooms(app: &axum::Router) -> (u8, u8, Vec<f64>) {
    let (_, body, _) = get(app, "/cog/WebMercatorQuad/tilejson.json?url=demo").await;
    let tj: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let min = tj["minzoom"].as_u64().unwrap() as u8;
    (min, min + 2, serde_json::from_value(tj["bounds"].clone()).unwrap())
}

#[tokio::test]
async fn a_seeded_archive_serves_the_dynamic_tiles() {
    let dir = Dir::new("demo");
    let out = dir.0.join("demo.pmtiles");
    let dynamic = imbrex_server::app(AppState::new(Config::default()).unwrap());
    let (minzoom, maxzoom, bounds) = demo_zooms(&dynamic).await;
    let stderr = seed(&["demo", "--minzoom", &minzoom.to_string(), "--maxzoom", &maxzoom.to_string()], &out);
    assert!(stderr.contains("tiles rendered"), "{stderr}");
    assert!(!dir.0.join("demo.pmtiles.journal").exists(), "the journal goes once the archive is written");

    let mut archives = std::collections::BTreeMap::new();
    archives.insert("demo".to_string(), out.display().to_string());
    let served = imbrex_server::app(AppState::new(Config { archives, ..Config::default() }).unwrap());
    let (status, body, _) = get(&served, "/pmtiles/demo/tilejson.json").await;
    assert_eq!(status, StatusCode::OK);
    let tj: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(tj["minzoom"], minzoom);
    assert_eq!(tj["maxzoom"], maxzoom);
    assert_eq!(tj["tiles"][0], "http://test.local/pmtiles/demo/{z}/{x}/{y}.png");
    assert!(tj.get("vector_layers").is_none(), "a raster archive has no vector layers: {tj}");
    for (a, b) in tj["bounds"].as_array().unwrap().iter().zip(&bounds) {
        assert!((a.as_f64().unwrap() - b).abs() < 1e-6, "{} against {bounds:?}", tj["bounds"]);
    }

    // Every tile of the extent: the archive has exactly the tiles the dynamic API answers.
    let tms = imbrex_tms::TileMatrixSets::default().get("WebMercatorQuad").unwrap();
    let extent = imbrex_tms::Bounds::new(bounds[0], bounds[1], bounds[2], bounds[3]);
    let tiles = tms.tiles(extent, &(minzoom as i32..=maxzoom as i32).collect::<Vec<_>>()).unwrap();
    let mut stored = 0;
    for t in &tiles {
        let (ds, dbody, _) =
            get(&dynamic, &format!("/cog/tiles/WebMercatorQuad/{}/{}/{}.png?url=demo", t.z, t.x, t.y)).await;
        let (ss, sbody, _) = get(&served, &format!("/pmtiles/demo/{}/{}/{}.png", t.z, t.x, t.y)).await;
        assert_eq!(ss, ds, "{t:?}");
        if ds == StatusCode::OK {
            assert!(sbody == dbody, "{t:?}: the seeded tile differs from the dynamic one");
            stored += 1;
        }
    }
    assert!(stored >= 4, "{stored} tiles");
    let (status, _, _) = get(&served, "/pmtiles/nope/0/0/0").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(&served, "/pmtiles/demo/2/9/0.png").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "x past the zoom's width");
    let (status, body, _) = get(&served, "/pmtiles").await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("/pmtiles/demo/tilejson.json"));
}

#[tokio::test]
async fn shards_merge_into_the_archive_of_one_run_and_a_stopped_run_goes_on() {
    let dir = Dir::new("shards");
    let dynamic = imbrex_server::app(AppState::new(Config::default()).unwrap());
    let (minzoom, maxzoom, _) = demo_zooms(&dynamic).await;
    let (z0, z1) = (minzoom.to_string(), maxzoom.to_string());
    let common = ["demo", "--minzoom", &z0, "--maxzoom", &z1, "-p", "expression=b1*0.5;b2;b3", "-p", "rescale=0,255"];
    let one = dir.0.join("one.pmtiles");
    seed(&common, &one);

    let mut parts = Vec::new();
    for i in 0..3 {
        let part = dir.0.join(format!("part{i}.pmtiles"));
        let shard = format!("{i}/3");
        seed(&[&common[..], &["--shard", &shard]].concat(), &part);
        parts.push(part);
    }
    let merged = dir.0.join("merged.pmtiles");
    let run = imbrex().args(["pmtiles", "merge"]).args(&parts).arg("-o").arg(&merged).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(std::fs::read(&one).unwrap() == std::fs::read(&merged).unwrap(), "merged shards differ from one run");

    // A shard twice is not a set of disjoint shards.
    let run = imbrex()
        .args(["pmtiles", "merge"])
        .arg(&parts[0])
        .arg(&parts[0])
        .arg("-o")
        .arg(dir.0.join("x.pmtiles"))
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("two archives"));

    // Stopped after 3 tiles (as a killed run would be): no archive yet, a journal; the next
    // run goes on and writes the archive of one run.
    let resumed = dir.0.join("resumed.pmtiles");
    let stderr = seed(&[&common[..], &["--max-tiles", "3"]].concat(), &resumed);
    assert!(stderr.contains("tiles left"), "{stderr}");
    assert!(!resumed.exists());
    let journal = dir.0.join("resumed.pmtiles.journal");
    assert!(journal.exists());
    // A torn last record (killed mid-write) is cut off, not read as a tile.
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes.extend_from_slice(&[1, 2, 3, 4, 5]);
    std::fs::write(&journal, &bytes).unwrap();
    // The journal of another job is refused.
    let run = imbrex().args(["seed", "demo", "--minzoom", &z0, "--maxzoom", &z1, "-o"]).arg(&resumed).output().unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("another seed"));
    let stderr = seed(&common, &resumed);
    assert!(stderr.contains("tiles rendered"), "{stderr}");
    assert!(std::fs::read(&one).unwrap() == std::fs::read(&resumed).unwrap(), "a resumed run differs from one run");
}

#[tokio::test]
async fn a_seeded_collection_serves_the_dynamic_vector_tiles() {
    let db = std::env::var("IMBREX_TEST_DATABASE_URL").expect("IMBREX_TEST_DATABASE_URL: run scripts/test");
    let dir = Dir::new("mvt");
    let out = dir.0.join("countries.pmtiles");
    let run = imbrex()
        .args(["seed", "collection:public.countries", "--minzoom", "0", "--maxzoom", "2", "--database-url", &db, "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let mut archives = std::collections::BTreeMap::new();
    archives.insert("countries".to_string(), out.display().to_string());
    let config = Config { database_url: Some(db), archives, ..Config::default() };
    let app = imbrex_server::app(AppState::new(config).unwrap().connect_database().await.unwrap());
    let (_, body, _) = get(&app, "/pmtiles/countries/tilejson.json").await;
    let tj: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(tj["vector_layers"][0]["id"], "default");
    let mut stored = 0;
    for z in 0..=2u32 {
        for x in 0..1 << z {
            for y in 0..1 << z {
                let (ds, dbody, _) =
                    get(&app, &format!("/collections/public.countries/tiles/WebMercatorQuad/{z}/{x}/{y}")).await;
                let (ss, sbody, enc) = get(&app, &format!("/pmtiles/countries/{z}/{x}/{y}.mvt")).await;
                if ds == StatusCode::OK && !dbody.is_empty() {
                    assert_eq!(ss, StatusCode::OK, "{z}/{x}/{y}");
                    assert_eq!(enc.as_deref(), Some("gzip"));
                    assert!(gunzip(&sbody) == dbody, "{z}/{x}/{y}: the seeded tile differs");
                    stored += 1;
                } else {
                    assert_eq!(ss, StatusCode::NOT_FOUND, "{z}/{x}/{y}: an empty tile is not stored");
                }
            }
        }
    }
    assert!(stored >= 10, "{stored}");
}
