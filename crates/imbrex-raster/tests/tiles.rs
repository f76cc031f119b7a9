//! Tiles against the rio-tiler oracle: every WebMercatorQuad tile of every raster of
//! `shared/testdata/raster` (`oracle/<name>/tiles/*.npy`), with rio-tiler's defaults
//! (256 px, nearest, no rescaling).
//!
//! Pixels compared: the merged mask everywhere, values where both masks say valid.
//! What must match exactly and what may differ, and why:
//! - lossless data: the mask and every valid value, bit for bit;
//! - JPEG/WebP data: same mask, values within the decoder difference measured in
//!   `decode.rs` (the oracle's GDAL decodes JPEG with libjpeg 9's DCT upsampling).
//!
//! GCP-only rasters are read through GDAL's warped VRT, as rio-tiler does, and match
//! exactly like the rest.

use std::sync::Arc;

use imbrex_raster::source::{LocalSource, RangeSource};
use imbrex_raster::{Error, OpenOptions, ReadOptions, Reader};
use imbrex_testkit::npy::Npy;
use imbrex_tms::{Tile, TileMatrixSets};

/// Lossy codecs: values may differ by the decoder difference.
fn lossy(o: &serde_json::Value) -> bool {
    let c = o["dataset"]["compression"].as_str().unwrap_or("").to_ascii_lowercase();
    c.contains("jpeg") || c.contains("webp") || o["dataset"]["driver"] == "JPEG"
}

async fn open(source: &str) -> Reader {
    let path = imbrex_testkit::raster(source);
    let src: Arc<dyn RangeSource> = Arc::new(LocalSource::open(&path).unwrap());
    Reader::open(src, &OpenOptions::default()).await.unwrap_or_else(|e| panic!("{source}: {e}"))
}

struct Stats {
    pixels: usize,
    mask_diff: usize,
    value_diff: usize,
    max_abs: f64,
    both_valid: usize,
}

#[tokio::test]
async fn tiles_match_the_oracle() {
    let wm = TileMatrixSets::default().get("WebMercatorQuad").unwrap();
    let mut report = Vec::new();
    let mut failures = Vec::new();
    let mut compared = 0;
    // Per raster: tiles, pixels, mask disagreements, valid values compared, values differing.
    let mut table: Vec<(String, usize, usize, usize, usize, usize)> = Vec::new();
    for (name, o) in imbrex_testkit::oracles() {
        if o.get("open_error").is_some() {
            continue;
        }
        let source = o["source"].as_str().unwrap();
        let reader = open(source).await;
        let dir = imbrex_testkit::testdata(&format!("oracle/{name}"));
        for t in o["tiles"].as_array().unwrap() {
            let tile = Tile::new(t["x"].as_u64().unwrap(), t["y"].as_u64().unwrap(), t["z"].as_i64().unwrap() as i32);
            let got = reader.tile(&wm, tile, None, &ReadOptions::default()).await;
            let id = format!("{name} {}/{}/{}", tile.z, tile.x, tile.y);
            if t.get("error").is_some() {
                match got {
                    Err(Error::TileOutsideBounds(_)) => report.push(format!("{id}: outside, as expected")),
                    other => failures
                        .push(format!("{id}: expected TileOutsideBounds, got {:?}", other.map(|i| i.valid_pixels()))),
                }
                continue;
            }
            let img = match got {
                Ok(img) => img,
                Err(e) => {
                    failures.push(format!("{id}: {e}"));
                    continue;
                }
            };
            compared += 1;
            let n = 256 * 256;
            let ref_mask: Vec<u8> = match t["mask_summary"].as_str().unwrap() {
                "all_valid" => vec![255; n],
                "all_masked" => vec![0; n],
                _ => Npy::read(&dir.join(t["mask"].as_str().unwrap())).values.iter().map(|&v| v as u8).collect(),
            };
            let ref_data = t["data"].as_str().map(|p| Npy::read(&dir.join(p)));
            let mask = img.valid_all();
            let mut s = Stats { pixels: n, mask_diff: 0, value_diff: 0, max_abs: 0.0, both_valid: 0 };
            for i in 0..n {
                if (mask[i] != 0) != (ref_mask[i] != 0) {
                    s.mask_diff += 1;
                }
            }
            if let Some(rd) = &ref_data {
                assert_eq!(rd.shape[0], img.count, "{id}: band count");
                for b in 0..img.count {
                    for i in 0..n {
                        if mask[i] == 0 || ref_mask[i] == 0 {
                            continue;
                        }
                        s.both_valid += 1;
                        let (a, r) = (img.data.get_f64(b * n + i), rd.values[b * n + i]);
                        if !(a == r || (a.is_nan() && r.is_nan())) {
                            s.value_diff += 1;
                            s.max_abs = s.max_abs.max((a - r).abs());
                        }
                    }
                }
            }
            let line = format!(
                "{id} ({}): mask diff {} px, values diff {}/{} (max {})",
                t["kind"].as_str().unwrap_or(""),
                s.mask_diff,
                s.value_diff,
                s.both_valid,
                s.max_abs
            );
            match table.last_mut() {
                Some(row) if row.0 == name => {
                    row.1 += 1;
                    row.2 += s.pixels;
                    row.3 += s.mask_diff;
                    row.4 += s.both_valid;
                    row.5 += s.value_diff;
                }
                _ => table.push((name.clone(), 1, s.pixels, s.mask_diff, s.both_valid, s.value_diff)),
            }
            let ok =
                if lossy(&o) { s.mask_diff == 0 && s.max_abs <= 80.0 } else { s.mask_diff == 0 && s.value_diff == 0 };
            if !ok {
                failures.push(line.clone());
            }
            report.push(line);
        }
    }
    println!("{}", report.join("\n"));
    println!("\n| raster | tiles | mask agreement | valid values equal |\n|---|---|---|---|");
    for (name, tiles, px, md, vv, vd) in &table {
        let values = if *vv == 0 { "-".to_string() } else { format!("{:.3} %", 100.0 * (vv - vd) as f64 / *vv as f64) };
        println!("| {name} | {tiles} | {:.3} % | {values} |", 100.0 * (px - md) as f64 / *px as f64);
    }
    assert!(compared >= 150, "only {compared} tiles compared");
    assert!(failures.is_empty(), "{} tiles differ from the oracle:\n{}", failures.len(), failures.join("\n"));
}
