//! Dataset zoom ranges (rio-tiler's `minzoom`/`maxzoom`) against the oracle, computed from
//! each raster's CRS, geotransform and size as GDAL reports them (`oracle.json` `dataset`).
//! GCP-only and non-georeferenced rasters are covered by the raster crate's tests.

use imbrex_tms::{Crs, GeoTransform, SourceGeoref, TileMatrixSets, suggested_warp_output};

#[test]
fn zoom_ranges_match_rio_tiler() {
    let tms = TileMatrixSets::default().get("WebMercatorQuad").unwrap();
    let dir = imbrex_testkit::testdata("oracle");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path().join("oracle.json");
        if !path.exists() {
            continue;
        }
        let o = imbrex_testkit::read_json(&path);
        let ds = &o["dataset"];
        let Some(crs) = ds["crs"].as_str().filter(|c| !c.is_empty()) else { continue };
        if o["reader"] != "Reader" || ds["gcps"].as_u64().unwrap_or(0) > 0 {
            continue;
        }
        let name = o["source"].as_str().unwrap().to_string();
        let crs = Crs::from_user_input(crs).unwrap_or_else(|e| panic!("{name}: {e}"));
        let a: Vec<f64> = ds["transform"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let gt = GeoTransform::from_affine([a[0], a[1], a[2], a[3], a[4], a[5]]);
        let (w, h) = (ds["width"].as_u64().unwrap() as usize, ds["height"].as_u64().unwrap() as usize);
        let expected = (o["zoom_range"][0].as_i64().unwrap() as i32, o["zoom_range"][1].as_i64().unwrap() as i32);
        assert_eq!(tms.zoom_range_for(&crs, &gt, w, h), expected, "{name}");
        checked.push(name);
    }
    assert!(checked.len() >= 38, "only {} rasters checked: {checked:?}", checked.len());
}

/// One `calculate_default_transform` case: name, EPSG code, source affine and size, GDAL's
/// output affine and size.
type SwoCase = (&'static str, u32, [f64; 6], usize, usize, [f64; 6], usize, usize);

/// rasterio 1.4.4 / GDAL 3.10.3 `calculate_default_transform(src.crs, "EPSG:3857", ...)`.
const GDAL_SWO: &[SwoCase] = &[
    (
        "cog_int16",
        32621,
        [100.01126757344893, 0.0, 373185.0, 0.0, -100.01126757344893, 8286015.0],
        2658,
        2667,
        [350.62199729744475, 0.0, -6822507.143155729, 0.0, -350.62199729744475, 12788892.601519765],
        2853,
        2716,
    ),
    (
        "bremen",
        3031,
        [6250.0, 0.0, -3950000.0, 0.0, -6250.0, 4350000.0],
        1264,
        1327,
        [10761.847940153642, 0.0, -20037508.34167605, 0.0, -10764.739355505644, -4773853.500441693],
        3723,
        1418,
    ),
    (
        "cog_dateline",
        32660,
        [100.01290322580645, 0.0, 570585.0, 0.0, -100.01273885350318, 5847615.0],
        2325,
        2355,
        [12001.457727434337, 0.0, -20037508.28164335, 0.0, -12001.457727434337, 6941255.6693020025],
        3339,
        33,
    ),
    (
        "dem",
        2056,
        [2.5, 0.0, 2573000.0, 0.0, -2.5, 1086000.0],
        400,
        400,
        [3.5927186308809893, 0.0, 789324.7564508821, 0.0, -3.5927186308809893, 5768353.435890727],
        401,
        402,
    ),
];

#[test]
fn suggested_warp_output_matches_gdal() {
    for (name, epsg, src, w, h, dst, dw, dh) in GDAL_SWO {
        let crs = Crs::from_epsg(*epsg).unwrap();
        let gt = GeoTransform::from_affine(*src);
        let out = suggested_warp_output(&SourceGeoref::affine(gt).unwrap(), &crs, &Crs::web_mercator(), *w, *h)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = out.gt.to_affine();
        assert_eq!((out.width, out.height), (*dw, *dh), "{name}: size (gt {got:?})");
        for (a, b) in got.iter().zip(dst) {
            assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{name}: {got:?} vs {dst:?}");
        }
    }
}

/// A known difference (docs/reading.md): a square north-up raster in EPSG:3413 has its
/// diagonal turned exactly vertical in UPS North (the grids are 45 degrees apart).
/// GDALSuggestedWarpOutput2 then takes the pixel size from the output extent when the
/// diagonal's x is exactly 0, and from the diagonal otherwise; PROJ leaves a 1e-10 residue
/// here (GDAL: 41.467 m, 1827 px, rio-tiler zooms 9-12), proj4rs none (imbrex: the extent,
/// 58.643 m, 1292 px, zooms 8-11). Either is GDAL's rule; the last bit decides.
#[test]
fn polar_grids_45_degrees_apart_take_the_extent_when_the_diagonal_is_vertical() {
    let ups = TileMatrixSets::default().get("UPSArcticWGS84Quad").unwrap();
    let crs = Crs::from_epsg(3413).unwrap();
    let (l, b, r, t) = (89530.95436645864, -183846.42396859286, 141805.18122738742, -131572.19710766408);
    let gt = GeoTransform([l, (r - l) / 1292.0, 0.0, t, 0.0, (b - t) / 1292.0]);
    let out = suggested_warp_output(&SourceGeoref::affine(gt).unwrap(), &crs, ups.crs(), 1292, 1292).unwrap();
    assert!((out.gt.0[1] - 58.643279480311236).abs() < 1e-6, "{}", out.gt.0[1]);
    assert_eq!((out.width, out.height), (1292, 1292));
    assert_eq!(ups.zoom_range_for(&crs, &gt, 1292, 1292), (8, 11));
}
