//! Real clients read imbrex: GDAL's WMTS driver and MapLibre GL in headless Chromium.
//!
//! Both programs come from Debian (`gdal-bin`, `chromium`); scripts/test installs them when
//! it runs as root. Without them these tests fail, they are not skipped.

mod common;

use std::process::Command;

use common::{Server, require_program};

fn run(program: &str, args: &[&str]) -> String {
    // GDAL's WMS/WMTS driver would otherwise keep a tile cache in the working directory.
    let out = Command::new(program)
        .args(args)
        .env("GDAL_ENABLE_WMS_CACHE", "NO")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn num(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn gdal_wmts_driver_reads_the_capabilities() {
    let gdalinfo = require_program("gdalinfo");
    let gdal_translate = require_program("gdal_translate");
    let server = Server::start(&[]);
    let caps = format!("WMTS:{}", server.url("/cog/WMTSCapabilities.xml?url=demo"));

    // One layer per TileMatrixSet: GDAL lists each as a subdataset.
    let (status, body) = server.get("/tileMatrixSets");
    assert_eq!(status, 200);
    let n_tms = json(&String::from_utf8_lossy(&body))["tileMatrixSets"].as_array().unwrap().len();
    let listing = run(&gdalinfo, &[&caps]);
    let subdatasets = listing.lines().filter(|l| l.contains("SUBDATASET_") && l.contains("_NAME=")).count();
    assert_eq!(subdatasets, n_tms, "{listing}");

    // The WebMercatorQuad layer: a 3857 raster covering the dataset's bounds.
    let layer = format!("{caps},layer=demo_WebMercatorQuad_default");
    let info = json(&run(&gdalinfo, &["-json", &layer]));
    assert!(info["coordinateSystem"]["wkt"].as_str().unwrap().contains("3857"), "{info}");
    let (status, geo) = server.get("/cog/info.geojson?url=demo");
    assert_eq!(status, 200);
    let bbox: Vec<f64> = json(&String::from_utf8_lossy(&geo))["bbox"].as_array().unwrap().iter().map(num).collect();
    let ring = &info["wgs84Extent"]["coordinates"][0];
    let lons: Vec<f64> = ring.as_array().unwrap().iter().map(|p| num(&p[0])).collect();
    let lats: Vec<f64> = ring.as_array().unwrap().iter().map(|p| num(&p[1])).collect();
    let (w, e) = (lons.iter().cloned().fold(f64::MAX, f64::min), lons.iter().cloned().fold(f64::MIN, f64::max));
    let (s, n) = (lats.iter().cloned().fold(f64::MAX, f64::min), lats.iter().cloned().fold(f64::MIN, f64::max));
    let slack = (bbox[2] - bbox[0]) * 0.01;
    assert!(w <= bbox[0] + slack && e >= bbox[2] - slack && s <= bbox[1] + slack && n >= bbox[3] - slack, "{info}");
    assert!(e - w < 2.0 * (bbox[2] - bbox[0]), "GDAL's extent is far larger than the data: {info}");

    // GDAL fetches and decodes tiles: a small copy has imagery in its colour bands.
    let dir = std::env::temp_dir().join(format!("imbrex-wmts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("wmts.tif");
    run(&gdal_translate, &["-q", "-outsize", "256", "0", &layer, out.to_str().unwrap()]);
    let stats = json(&run(&gdalinfo, &["-json", "-stats", out.to_str().unwrap()]));
    let bands = stats["bands"].as_array().unwrap();
    assert_eq!(bands.len(), 4, "RGB + alpha");
    for b in &bands[..3] {
        assert!(num(&b["maximum"]) > 0.0 && num(&b["stdDev"]) > 1.0, "empty band: {b}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn maplibre_in_headless_chromium_draws_tiles() {
    let chromium = require_program("chromium");
    let server = Server::start(&[]);
    let dir = std::env::temp_dir().join(format!("imbrex-chromium-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("map.png");
    let page = server.url("/cog/WebMercatorQuad/map.html?url=demo");
    // Headless Chromium's virtual time can run out before the tiles arrive when the machine
    // is busy (parallel tests); a screenshot without tiles is retried, twice at most.
    let mut last = (0, 0, 0);
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(dir.join("profile"));
        run(
            &chromium,
            &[
                "--headless",
                "--no-sandbox",
                // Keep Chromium's own background calls (updates, sync) off the network.
                "--disable-component-update",
                "--disable-background-networking",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader",
                &format!("--user-data-dir={}", dir.join("profile").display()),
                "--window-size=640,480",
                "--virtual-time-budget=30000",
                &format!("--screenshot={}", shot.display()),
                &page,
            ],
        );
        last = imagery(&shot);
        if last.0 * 5 > last.1 && last.2 > 500 {
            break;
        }
    }
    let (imagery, total, colours) = last;
    // The page's background is #dde and the map fits the dataset's geographic bounds; the
    // demo (a UTM scene) fills about a third of the view, a blank map none of it.
    assert!(imagery * 5 > total, "only {imagery} of {total} pixels show tiles");
    assert!(colours > 500, "a flat screenshot ({colours} colours) is not imagery");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Pixels that are not the page's #dde background, all pixels, and distinct colours of a
/// screenshot.
fn imagery(shot: &std::path::Path) -> (usize, usize, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buf).unwrap();
    let channels = frame.color_type.samples();
    let pixels: Vec<[u8; 3]> = buf[..frame.buffer_size()].chunks(channels).map(|p| [p[0], p[1], p[2]]).collect();
    let imagery = pixels.iter().filter(|p| **p != [0xdd, 0xdd, 0xee]).count();
    let mut distinct = pixels.clone();
    distinct.sort_unstable();
    distinct.dedup();
    (imagery, pixels.len(), distinct.len())
}
