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

/// Every row of an MBTiles file's `tiles`, read with plain SQL (not imbrex's reader): XYZ
/// `(z, x, y)` → bytes.
fn mbtiles_rows(path: &Path) -> std::collections::BTreeMap<(u8, u32, u32), Vec<u8>> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let app_id: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0)).unwrap();
    assert_eq!(app_id, 0x4d50_4258, "MBTiles 1.3's application_id");
    let mut stmt = conn.prepare("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles").unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, u8>(0)?, r.get::<_, u32>(1)?, r.get::<_, u32>(2)?, r.get::<_, Vec<u8>>(3)?)))
        .unwrap();
    rows.map(|r| r.unwrap()).map(|(z, x, row, data)| ((z, x, (1u32 << z) - 1 - row), data)).collect()
}

fn mbtiles_meta(path: &Path, name: &str) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("SELECT value FROM metadata WHERE name = ?1", [name], |r| r.get(0)).unwrap()
}

#[tokio::test]
async fn mbtiles_hold_the_tiles_of_pmtiles_and_are_served_alike() {
    let dir = Dir::new("mbtiles");
    let dynamic = imbrex_server::app(AppState::new(Config::default()).unwrap());
    let (minzoom, maxzoom, bounds) = demo_zooms(&dynamic).await;
    let (z0, z1) = (minzoom.to_string(), maxzoom.to_string());
    let common = ["demo", "--minzoom", &z0, "--maxzoom", &z1, "-p", "expression=b1*0.5;b2;b3", "-p", "rescale=0,255"];
    let (pm, mb) = (dir.0.join("one.pmtiles"), dir.0.join("one.mbtiles"));
    seed(&common, &pm);
    seed(&common, &mb);
    assert!(!dir.0.join("one.mbtiles.journal").exists() && !dir.0.join("one.mbtiles.tmp").exists());
    assert_eq!(mbtiles_meta(&mb, "format"), "png");
    assert_eq!(mbtiles_meta(&mb, "minzoom"), z0);
    assert_eq!(mbtiles_meta(&mb, "maxzoom"), z1);
    let b: Vec<f64> = mbtiles_meta(&mb, "bounds").split(',').map(|v| v.parse().unwrap()).collect();
    assert!(b.iter().zip(&bounds).all(|(a, b)| (a - b).abs() < 1e-9), "{b:?} against {bounds:?}");

    // The same tiles, byte for byte, as the PMTiles archive and the dynamic API.
    let rows = mbtiles_rows(&mb);
    assert!(rows.len() >= 4, "{} tiles", rows.len());
    let mut archives = std::collections::BTreeMap::new();
    archives.insert("pm".to_string(), pm.display().to_string());
    archives.insert("mb".to_string(), mb.display().to_string());
    let served = imbrex_server::app(AppState::new(Config { archives, ..Config::default() }).unwrap());
    let tms = imbrex_tms::TileMatrixSets::default().get("WebMercatorQuad").unwrap();
    let extent = imbrex_tms::Bounds::new(bounds[0], bounds[1], bounds[2], bounds[3]);
    let query = "expression=b1*0.5%3Bb2%3Bb3&rescale=0%2C255";
    for t in tms.tiles(extent, &(minzoom as i32..=maxzoom as i32).collect::<Vec<_>>()).unwrap() {
        let key = (t.z as u8, t.x as u32, t.y as u32);
        let (ps, pbody, _) = get(&served, &format!("/pmtiles/pm/{}/{}/{}.png", t.z, t.x, t.y)).await;
        let (ms, mbody, _) = get(&served, &format!("/pmtiles/mb/{}/{}/{}.png", t.z, t.x, t.y)).await;
        let (ds, dbody, _) =
            get(&dynamic, &format!("/cog/tiles/WebMercatorQuad/{}/{}/{}.png?url=demo&{query}", t.z, t.x, t.y)).await;
        assert_eq!((ms, ps), (ds, ds), "{t:?}");
        match rows.get(&key) {
            Some(stored) => {
                assert_eq!(ds, StatusCode::OK, "{t:?}");
                assert!(stored == &dbody && mbody == dbody && pbody == dbody, "{t:?}: the tiles differ");
            }
            None => assert_eq!(ds, StatusCode::NOT_FOUND, "{t:?}: a tile with data is missing"),
        }
    }
    let (status, body, _) = get(&served, "/pmtiles/mb/tilejson.json").await;
    assert_eq!(status, StatusCode::OK);
    let tj: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(tj["tiles"][0], "http://test.local/pmtiles/mb/{z}/{x}/{y}.png");
    assert_eq!((tj["minzoom"].as_u64(), tj["maxzoom"].as_u64()), (Some(minzoom.into()), Some(maxzoom.into())));

    // PMTiles shards merge into MBTiles holding the same tiles; --shard into MBTiles is refused.
    let mut parts = Vec::new();
    for i in 0..2 {
        let part = dir.0.join(format!("part{i}.pmtiles"));
        seed(&[&common[..], &["--shard", &format!("{i}/2")]].concat(), &part);
        parts.push(part);
    }
    let merged = dir.0.join("merged.mbtiles");
    let run = imbrex().args(["pmtiles", "merge"]).args(&parts).arg("-o").arg(&merged).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(mbtiles_rows(&merged) == rows, "merged shards hold other tiles than one run");
    let run = imbrex().arg("seed").args(common).args(["--shard", "0/2", "-o"]).arg(dir.0.join("x.mbtiles")).output();
    let run = run.unwrap();
    assert!(!run.status.success() && String::from_utf8_lossy(&run.stderr).contains("--shard"));
    let run = imbrex().arg("seed").args(common).arg("-o").arg(dir.0.join("x.zip")).output().unwrap();
    assert!(!run.status.success() && String::from_utf8_lossy(&run.stderr).contains(".mbtiles"));

    // An archive replaced on disk is opened again: the next tile is the new file's.
    let archives = [("pm", &pm), ("mb", &mb)].map(|(n, p)| (n.to_string(), p.display().to_string())).into();
    let config = Config { archives, source_recheck_s: 0, ..Config::default() };
    let served = imbrex_server::app(AppState::new(config).unwrap());
    let (z, x, y) = *rows.keys().next_back().unwrap();
    for (name, path) in [("pm", &pm), ("mb", &mb)] {
        let (_, before, _) = get(&served, &format!("/pmtiles/{name}/{z}/{x}/{y}.png")).await;
        assert!(before == rows[&(z, x, y)]);
        let ext = path.extension().unwrap().to_str().unwrap();
        let other = dir.0.join(format!("other.{ext}"));
        seed(&["demo", "--minzoom", &z0, "--maxzoom", &z1, "-p", "rescale=0,128"], &other);
        std::fs::rename(&other, path).unwrap();
        let (_, after, _) = get(&served, &format!("/pmtiles/{name}/{z}/{x}/{y}.png")).await;
        let (_, want, _) =
            get(&dynamic, &format!("/cog/tiles/WebMercatorQuad/{z}/{x}/{y}.png?url=demo&rescale=0%2C128")).await;
        assert!(after == want && after != before, "{name}: the replaced archive's tile is not served");
    }
}

#[tokio::test]
async fn a_seeded_collection_serves_the_dynamic_vector_tiles() {
    let db = std::env::var("IMBREX_TEST_DATABASE_URL").expect("IMBREX_TEST_DATABASE_URL: run scripts/test");
    let dir = Dir::new("mvt");
    let mut archives = std::collections::BTreeMap::new();
    for ext in ["pmtiles", "mbtiles"] {
        let out = dir.0.join(format!("countries.{ext}"));
        let run = imbrex()
            .args(["seed", "collection:public.countries", "--minzoom", "0", "--maxzoom", "2", "--database-url", &db])
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        archives.insert(ext.to_string(), out.display().to_string());
    }
    let mb_rows = mbtiles_rows(&dir.0.join("countries.mbtiles"));
    assert_eq!(mbtiles_meta(&dir.0.join("countries.mbtiles"), "format"), "pbf");
    let config = Config { database_url: Some(db), archives, ..Config::default() };
    let app = imbrex_server::app(AppState::new(config).unwrap().connect_database().await.unwrap());
    for name in ["pmtiles", "mbtiles"] {
        let (_, body, _) = get(&app, &format!("/pmtiles/{name}/tilejson.json")).await;
        let tj: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(tj["vector_layers"][0]["id"], "default", "{name}: {tj}");
        let mut stored = 0;
        for z in 0..=2u32 {
            for x in 0..1 << z {
                for y in 0..1 << z {
                    let (ds, dbody, _) =
                        get(&app, &format!("/collections/public.countries/tiles/WebMercatorQuad/{z}/{x}/{y}")).await;
                    let (ss, sbody, enc) = get(&app, &format!("/pmtiles/{name}/{z}/{x}/{y}.mvt")).await;
                    let row = mb_rows.get(&(z as u8, x, y));
                    if ds == StatusCode::OK && !dbody.is_empty() {
                        assert_eq!(ss, StatusCode::OK, "{name} {z}/{x}/{y}");
                        assert_eq!(enc.as_deref(), Some("gzip"));
                        assert!(gunzip(&sbody) == dbody, "{name} {z}/{x}/{y}: the seeded tile differs");
                        // MBTiles stores vector tiles gzipped, as its specification says.
                        assert!(row.is_some_and(|r| gunzip(r) == dbody), "{z}/{x}/{y}: the MBTiles row differs");
                        stored += 1;
                    } else {
                        assert_eq!(ss, StatusCode::NOT_FOUND, "{name} {z}/{x}/{y}: an empty tile is not stored");
                        assert!(row.is_none());
                    }
                }
            }
        }
        assert!(stored >= 10, "{name}: {stored}");
        assert_eq!(stored, mb_rows.len());
    }
}

#[tokio::test]
async fn a_foreign_mbtiles_is_served_as_it_is() {
    // Another writer's layout: one flat `tiles` table, vector tiles not compressed, zooms
    // missing from the metadata, a NULL value and an integer one.
    let dir = Dir::new("foreign");
    let path = dir.0.join("foreign.mbtiles");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE metadata (name, value);
         INSERT INTO metadata VALUES ('format', 'pbf'), ('attribution', NULL), ('version', 2),
             ('center', '10,20,3.4'), ('json', '{\"vector_layers\": [{\"id\": \"roads\", \"fields\": {}}]}');
         CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);
         INSERT INTO tiles VALUES (2, 1, 0, x'1a02'), (5, 3, 31, x'1f8b0800');",
    )
    .unwrap();
    drop(conn);
    let other = dir.0.join("other.mbtiles");
    std::fs::copy(&path, &other).unwrap();
    let archives = [("foreign", &path)].map(|(n, p)| (n.to_string(), p.display().to_string())).into();
    let served = imbrex_server::app(AppState::new(Config { archives, ..Config::default() }).unwrap());

    let (status, body, _) = get(&served, "/pmtiles/foreign/tilejson.json").await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let tj: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((tj["minzoom"].as_u64(), tj["maxzoom"].as_u64()), (Some(2), Some(5)), "zooms from the tiles: {tj}");
    assert_eq!(tj["center"], serde_json::json!([10.0, 20.0, 3]), "the center zoom is an integer");
    assert_eq!(tj["version"], "2");
    assert_eq!(tj["vector_layers"][0]["id"], "roads");
    assert!(tj.get("attribution").is_none(), "{tj}");
    assert_eq!(tj["tiles"][0], "http://test.local/pmtiles/foreign/{z}/{x}/{y}.mvt");
    // Row 0 of zoom 2 is XYZ row 3; an uncompressed tile goes out without an encoding, a
    // gzipped one with it.
    let (status, body, encoding) = get(&served, "/pmtiles/foreign/2/1/3.mvt").await;
    assert_eq!((status, body, encoding), (StatusCode::OK, vec![0x1a, 0x02], None));
    let (status, _, encoding) = get(&served, "/pmtiles/foreign/5/3/0.mvt").await;
    assert_eq!((status, encoding.as_deref()), (StatusCode::OK, Some("gzip")));
    let (status, _, _) = get(&served, "/pmtiles/foreign/2/1/0.mvt").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A file that is not SQLite, and an MBTiles over HTTP: the archive is unreadable (502),
    // not a server error.
    std::fs::write(&other, b"not a database").unwrap();
    let archives = [("bad", other.display().to_string()), ("remote", "http://127.0.0.1:9/x.mbtiles".to_string())];
    let archives = archives.map(|(n, p)| (n.to_string(), p)).into();
    let served = imbrex_server::app(AppState::new(Config { archives, ..Config::default() }).unwrap());
    for name in ["bad", "remote"] {
        let (status, body, _) = get(&served, &format!("/pmtiles/{name}/0/0/0.mvt")).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{name}: {}", String::from_utf8_lossy(&body));
    }
    // Seeding another grid into MBTiles is refused before anything is rendered.
    let mut run = imbrex();
    run.args(["seed", "demo", "--minzoom", "0", "--maxzoom", "0", "--tms", "WorldCRS84Quad", "-o"]);
    let run = run.arg(dir.0.join("x.mbtiles")).output().unwrap();
    assert!(!run.status.success() && String::from_utf8_lossy(&run.stderr).contains("WebMercatorQuad"));
}
