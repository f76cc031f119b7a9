//! `Reader::point` and `Reader::statistics` against the rio-tiler oracle for every raster.
//!
//! Points: values, validity and pixel location exactly (lossy codecs: values within the
//! decoder difference measured in `decode.rs`); points outside fail with
//! `PointOutsideBounds` as rio-tiler's do.
//!
//! Statistics (preview at 1024 px, then numpy's statistics): counts, min/max, median,
//! percentiles, majority/minority, unique values and histograms exactly; mean, sum and std
//! to 1e-12 relative (numpy's pairwise summation order is emulated, not guaranteed). For
//! lossy codecs the pixel counts are exact and the moments within 5 % (JPEG files read
//! through overviews: GDAL decodes them with libjpeg's scaled IDCT, imbrex box-averages
//! the full decode).
//!
//! One oracle value is wrong: rio-tiler 9.4.12 names every band's statistics after the
//! *last* band's description (`reader.read` indexes `dataset.descriptions` with a stale
//! loop variable). `descriptions_follow_the_bands` shows it on `all-nodata.tif`; imbrex
//! reports each band's own description, as `info()` (and the oracle's own `info`) do.

use std::sync::Arc;

use imbrex_raster::source::{LocalSource, RangeSource};
use imbrex_raster::{Error, OpenOptions, ReadOptions, Reader, StatisticsOptions};
use imbrex_testkit::{close, num};
use serde_json::Value;

async fn open(source: &str) -> Reader {
    let path = imbrex_testkit::raster(source);
    let src: Arc<dyn RangeSource> = Arc::new(LocalSource::open(&path).unwrap());
    Reader::open(src, &OpenOptions::default()).await.unwrap_or_else(|e| panic!("{source}: {e}"))
}

fn lossy(o: &Value) -> bool {
    let c = o["dataset"]["compression"].as_str().unwrap_or("").to_ascii_lowercase();
    c.contains("jpeg") || c.contains("webp") || o["dataset"]["driver"] == "JPEG"
}

#[tokio::test]
async fn points_match_the_oracle() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, o) in imbrex_testkit::oracles() {
        if o.get("open_error").is_some() {
            continue;
        }
        let reader = open(o["source"].as_str().unwrap()).await;
        let tolerance = if lossy(&o) { 80.0 } else { 0.0 };
        for p in o["points"].as_array().unwrap() {
            let (x, y) = match (p.get("lon"), p.get("x")) {
                (Some(lon), _) => (num(lon), num(&p["lat"])),
                (None, Some(x)) => (num(x), num(&p["y"])),
                // The oracle could not place a point on this body (Mars): nothing to ask.
                _ if p["error"]["type"] == "NoLocation" => continue,
                _ => panic!("{name}: point without coordinates"),
            };
            let got = reader.point(x, y, None, &ReadOptions::default()).await;
            let id = format!("{name} {} ({x}, {y})", p["kind"]);
            checked += 1;
            if let Some(err) = p.get("error") {
                let outside = err["type"] == "PointOutsideBounds";
                match got {
                    Err(Error::PointOutsideBounds(_)) if outside => {}
                    // Where GDAL fails (a corrupt file; a point the projection cannot
                    // reach), imbrex fails too: with a read error, or "outside" for the
                    // unreachable point, which is what it is.
                    Err(_) if !outside => {}
                    _ => failures.push(format!("{id}: expected {}, got {got:?}", err["type"])),
                }
                continue;
            }
            let got = match got {
                Ok(g) => g,
                Err(e) => {
                    failures.push(format!("{id}: {e}"));
                    continue;
                }
            };
            let values: Vec<f64> = p["values"].as_array().unwrap().iter().map(num).collect();
            let valid: Vec<bool> = p["valid"].as_array().unwrap().iter().map(|v| v.as_bool().unwrap()).collect();
            let loc: Vec<f64> = p["pixel_location"].as_array().unwrap().iter().map(num).collect();
            let mut got = got;
            if loc != [got.pixel_location.0, got.pixel_location.1] && on_pixel_edge(&reader, &got) {
                // The oracle puts its "center" points on pixel corners, where the last bit
                // of PROJ's and imbrex's projection decides the pixel: read the oracle's.
                let gt = reader.transform();
                let (cx, cy) = gt.apply(loc[0] + 0.5, loc[1] + 0.5);
                got = reader.point(cx, cy, reader.crs(), &ReadOptions::default()).await.unwrap();
            }
            let values_ok = values.len() == got.values.len()
                && values.iter().zip(&got.values).zip(&valid).all(|((a, b), v)| !v || close(*b, *a, 0.0, tolerance));
            if !values_ok || valid != got.valid || loc != [got.pixel_location.0, got.pixel_location.1] {
                failures.push(format!(
                    "{id}: got {:?} {:?} at {:?}, expected {values:?} {valid:?} at {loc:?}",
                    got.values, got.valid, got.pixel_location
                ));
            }
        }
    }
    assert!(checked >= 150, "only {checked} points checked");
    assert!(failures.is_empty(), "{} points differ:\n{}", failures.len(), failures.join("\n"));
}

/// Whether a point lies within 1e-6 pixel of a pixel edge.
fn on_pixel_edge(reader: &Reader, p: &imbrex_raster::PointData) -> bool {
    let Some(inv) = reader.transform().invert() else { return false };
    let (col, row) = inv.apply(p.coordinates.0, p.coordinates.1);
    let near = |v: f64| (v - v.round()).abs() < 1e-6;
    near(col) || near(row)
}

#[tokio::test]
async fn statistics_match_the_oracle() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, o) in imbrex_testkit::oracles() {
        if o.get("open_error").is_some() {
            continue;
        }
        let reader = open(o["source"].as_str().unwrap()).await;
        let got = reader
            .statistics(imbrex_raster::OutputSize::default(), &StatisticsOptions::default(), &ReadOptions::default())
            .await;
        let expected = &o["statistics"];
        if expected.get("error").is_some() {
            if got.is_ok() {
                failures.push(format!("{name}: rio-tiler fails ({}), imbrex answered", expected["error"]["message"]));
            }
            continue;
        }
        let got = match got {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let exp = expected.as_object().unwrap();
        if exp.len() != got.len() {
            failures.push(format!("{name}: {} bands, expected {}", got.len(), exp.len()));
            continue;
        }
        let approx = lossy(&o);
        let descriptions = o["info"]["band_descriptions"].as_array().cloned().unwrap_or_default();
        for (i, ((band, e), (gband, g))) in exp.iter().zip(&got).enumerate() {
            checked += 1;
            let g = serde_json::to_value(g).unwrap();
            let id = format!("{name} {band}");
            if band != gband {
                failures.push(format!("{id}: band named {gband}"));
            }
            let exact = ["count", "valid_pixels", "masked_pixels", "valid_percent"];
            let moments = ["mean", "sum", "std"];
            let values = ["min", "max", "median", "majority", "minority", "unique", "percentile_2", "percentile_98"];
            for k in exact.iter().chain(&moments).chain(&values) {
                let (a, b) = (num(&g[*k]), num(&e[*k]));
                let ok = if exact.contains(k) {
                    close(a, b, 0.0, 0.0)
                } else if approx {
                    !moments.contains(k) || close(a, b, 0.05, 0.5)
                } else if moments.contains(k) {
                    close(a, b, 1e-12, 1e-9)
                } else {
                    close(a, b, 0.0, 0.0)
                };
                if !ok {
                    failures.push(format!("{id}.{k}: {a} vs {b}"));
                }
            }
            // Each band's own description (see the module comment for the oracle's bug).
            let own = descriptions.get(i).map(|d| d[1].clone()).unwrap_or_else(|| Value::String(band.clone()));
            if g["description"] != own {
                failures.push(format!("{id}.description: {} vs info {:?}", g["description"], descriptions.get(i)));
            }
            if !approx {
                let (gh, eh) = (&g["histogram"], &e["histogram"]);
                if gh[0] != eh[0] {
                    failures.push(format!("{id}.histogram counts: {} vs {}", gh[0], eh[0]));
                }
                let edges_ok = gh[1]
                    .as_array()
                    .unwrap()
                    .iter()
                    .zip(eh[1].as_array().unwrap())
                    .all(|(a, b)| close(num(a), num(b), 1e-12, 0.0));
                if !edges_ok {
                    failures.push(format!("{id}.histogram edges: {} vs {}", gh[1], eh[1]));
                }
            }
        }
    }
    assert!(checked >= 60, "only {checked} bands checked");
    assert!(failures.is_empty(), "{} statistics differ:\n{}", failures.len(), failures.join("\n"));
}

/// rio-tiler 9.4.12's statistics carry the last band's description for every band; the
/// oracle shows it and imbrex deliberately does not copy it.
#[tokio::test]
async fn descriptions_follow_the_bands() {
    let o = imbrex_testkit::read_json(&imbrex_testkit::testdata("oracle/all-nodata/oracle.json"));
    let info: Vec<String> =
        o["info"]["band_descriptions"].as_array().unwrap().iter().map(|d| d[1].as_str().unwrap().to_string()).collect();
    assert_eq!(info, ["blue", "green", "red", "nir"]);
    let oracle: Vec<&str> =
        o["statistics"].as_object().unwrap().values().map(|s| s["description"].as_str().unwrap()).collect();
    assert_eq!(oracle, ["nir"; 4], "the oracle's statistics repeat the last band's description");
    let reader = open("all-nodata.tif").await;
    let ours: Vec<String> = reader
        .statistics(imbrex_raster::OutputSize::default(), &StatisticsOptions::default(), &ReadOptions::default())
        .await
        .unwrap()
        .into_iter()
        .map(|(_, s)| s.description)
        .collect();
    assert_eq!(ours, info);
}
