//! `Reader::info()`, zoom ranges and geographic bounds against the rio-tiler oracle, for every
//! raster of `shared/testdata/raster` (the `info`, `zoom_range` and `dataset` records).
//!
//! Tolerances: bounds 1e-6 relative; geographic bounds 1e-7 degrees (they go through a
//! projection: proj4rs vs PROJ). Deliberate differences, each asserted below:
//! - non-georeferenced files: rio-tiler's `info()` raises; imbrex answers with pixel-space
//!   bounds and no CRS, checked against the oracle's `dataset` record;
//! - user-defined CRSs: rio-tiler prints GDAL's WKT; imbrex builds its own WKT from the same
//!   GeoKeys, so the test compares the CRSs by what they do (transforming points), not text.

use std::sync::Arc;

use imbrex_raster::source::{LocalSource, RangeSource};
use imbrex_raster::{OpenOptions, Reader};
use imbrex_testkit::{close, num};
use imbrex_tms::{Crs, TileMatrixSets, Transformer};
use serde_json::Value;

async fn open(source: &str) -> Reader {
    let path = imbrex_testkit::raster(source);
    let src: Arc<dyn RangeSource> = Arc::new(LocalSource::open(&path).unwrap());
    Reader::open(src, &OpenOptions::default()).await.unwrap_or_else(|e| panic!("{source}: {e}"))
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(num).collect()
}

#[track_caller]
fn assert_vec_close(a: &[f64], b: &[f64], rel: f64, abs: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: {a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!(close(*x, *y, rel, abs), "{what}: {a:?} vs {b:?}");
    }
}

/// Same CRS by behaviour: a few points inside the bounds transform identically to WGS 84.
fn same_crs(ours: &Crs, theirs: &Crs, bounds: &[f64]) -> bool {
    let (Ok(a), Ok(b)) = (Transformer::new(ours, &Crs::wgs84()), Transformer::new(theirs, &Crs::wgs84())) else {
        return ours.same_as(theirs);
    };
    [(0.25, 0.25), (0.5, 0.5), (0.75, 0.1)].iter().all(|(fx, fy)| {
        let x = bounds[0] + fx * (bounds[2] - bounds[0]);
        let y = bounds[1] + fy * (bounds[3] - bounds[1]);
        match (a.transform(x, y), b.transform(x, y)) {
            (Ok(p), Ok(q)) => (p.0 - q.0).abs() < 1e-7 && (p.1 - q.1).abs() < 1e-7,
            (Err(_), Err(_)) => true,
            _ => false,
        }
    })
}

#[tokio::test]
async fn info_matches_the_oracle_for_every_raster() {
    let wm = TileMatrixSets::default().get("WebMercatorQuad").unwrap();
    let mut checked = 0;
    for (name, o) in imbrex_testkit::oracles() {
        let source = o["source"].as_str().unwrap();
        let reader = open(source).await;
        let info = serde_json::to_value(reader.info()).unwrap();
        let ds = &o["dataset"];
        // rio-tiler's own facts where it has them: a GCP-only file is read through GDAL's
        // warped VRT (another size, driver, band count), which rasterio's plain facts of
        // the file do not show.
        let fact = |k: &str, plain: &serde_json::Value| o["info"].get(k).cloned().unwrap_or_else(|| plain.clone());
        for k in ["width", "height", "count", "overviews", "colorinterp", "driver"] {
            assert_eq!(info[k], fact(k, &ds[k]), "{name}: {k}");
        }
        assert_eq!(info["dtype"], fact("dtype", &ds["dtypes"][0]), "{name}: dtype");
        let scales = fact("scales", &ds["scales"]);
        let offsets = fact("offsets", &ds["offsets"]);
        assert_vec_close(&f64s(&info["scales"]), &f64s(&scales), 1e-12, 0.0, &format!("{name}: scales"));
        assert_vec_close(&f64s(&info["offsets"]), &f64s(&offsets), 1e-12, 0.0, &format!("{name}: offsets"));
        let zr = reader.zoom_range(&wm);
        assert_eq!(
            [zr.0 as i64, zr.1 as i64],
            [o["zoom_range"][0].as_i64().unwrap(), o["zoom_range"][1].as_i64().unwrap()],
            "{name}: zoom range"
        );

        let expected = &o["info"];
        if expected.get("error").is_some() {
            // rio-tiler cannot describe pixel-space images; we can.
            assert!(info["crs"].is_null(), "{name}: a pixel-space image has no CRS");
            let (w, h) = (ds["width"].as_f64().unwrap(), ds["height"].as_f64().unwrap());
            assert_eq!(f64s(&info["bounds"]), vec![0.0, h, w, 0.0], "{name}: pixel bounds");
            checked += 1;
            continue;
        }
        assert_vec_close(&f64s(&info["bounds"]), &f64s(&expected["bounds"]), 1e-6, 1e-9, &format!("{name}: bounds"));
        let theirs = Crs::from_user_input(expected["crs"].as_str().unwrap()).unwrap();
        let ours_text = info["crs"].as_str().unwrap();
        let ours = Crs::from_user_input(ours_text).unwrap();
        if theirs.epsg().is_some() {
            assert_eq!(info["crs"], expected["crs"], "{name}: crs");
        } else {
            assert!(
                same_crs(&ours, &theirs, &f64s(&expected["bounds"])),
                "{name}: crs {ours_text} vs {}",
                expected["crs"]
            );
        }
        for key in ["nodata_type", "band_descriptions", "band_metadata", "minmax"] {
            assert_eq!(info.get(key), expected.get(key), "{name}: {key}");
        }
        match (info.get("nodata_value"), expected.get("nodata_value")) {
            (None, None) => {}
            (Some(a), Some(b)) => assert!(close(num(a), num(b), 1e-9, 0.0), "{name}: nodata {a} vs {b}"),
            (a, b) => panic!("{name}: nodata_value {a:?} vs {b:?}"),
        }
        assert_eq!(info.get("colormap"), expected.get("colormap"), "{name}: colormap");
        let gb = reader.geographic_bounds().to_array();
        assert_vec_close(&gb, &f64s(&expected["geographic_bounds"]), 0.0, 1e-7, &format!("{name}: geographic bounds"));
        checked += 1;
    }
    assert!(checked >= 48, "{checked} rasters checked");
}

/// rio-cogeo's rules on files of each kind: a COG, a large stripped file without overviews,
/// a file whose overviews are in an external `.ovr`.
#[tokio::test]
async fn cog_validation_follows_rio_cogeo() {
    let validate = |name: &'static str| async move {
        let path = imbrex_testkit::raster(name);
        let src: Arc<dyn RangeSource> = Arc::new(LocalSource::open(&path).unwrap());
        let tif = imbrex_raster::tiff::GeoTiff::open(src, &OpenOptions::default()).await.unwrap();
        tif.validate_cog()
    };
    let cog = validate("cog_int16.tif").await;
    assert!(cog.is_cog(true), "{cog:?}");

    let stripped = validate("RGB2.byte.tif").await;
    assert_eq!(stripped.errors, ["The file is greater than 512xH or 512xW, but is not tiled"]);
    assert_eq!(
        stripped.warnings,
        ["The file is greater than 512xH or 512xW, it is recommended to include internal overviews"]
    );
    assert!(!stripped.is_cog(false));

    let external = validate("image_external.tif").await;
    assert_eq!(external.errors, ["Overviews found in external .ovr file. They should be internal"]);
}
