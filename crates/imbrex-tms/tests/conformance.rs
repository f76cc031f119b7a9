//! Every case of `shared/reference/tms/conformance.json` (morecantile 7.1.0 answers for the
//! 13 default TileMatrixSets, a fixed WebMercator set and a custom EPSG:3031 grid).
//!
//! Tolerances:
//! - values computed by arithmetic on the document (xy bounds, cell sizes, origins):
//!   1e-9 relative (they agree to the last few bits);
//! - values that go through a projection (geographic bounds): 1e-7 degrees absolute
//!   (about 1 cm), or 1e-6 relative for the larger magnitudes; proj4rs and PROJ differ
//!   by ~1e-9 degrees on these CRSs.
//!
//! morecantile snaps a point outside the matrix to the edge tile; imbrex's `tile()` refuses
//! such points with `PointOutsideTms` (an out-of-range request is an error, not a silent
//! snap), so for those samples the test checks the error *and* that the explicit
//! `tile_clamped()` gives morecantile's answer.

use imbrex_tms::{Bounds, Crs, CustomTms, Error, Tile, TileMatrixSets, ZoomStrategy};
use serde_json::Value;

fn conformance() -> Value {
    imbrex_testkit::read_json(&imbrex_testkit::reference("tms/conformance.json"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn bounds(v: &Value) -> Bounds {
    let a = v.as_array().unwrap();
    Bounds::new(f(&a[0]), f(&a[1]), f(&a[2]), f(&a[3]))
}

fn tile(v: &Value) -> Tile {
    let a = v.as_array().unwrap();
    Tile::new(a[0].as_u64().unwrap(), a[1].as_u64().unwrap(), a[2].as_i64().unwrap() as i32)
}

#[track_caller]
fn assert_close_rel(actual: f64, expected: f64, rel: f64, what: &str) {
    let tol = rel * expected.abs().max(1.0);
    assert!((actual - expected).abs() <= tol, "{what}: got {actual}, expected {expected} (tol {tol})");
}

#[track_caller]
fn assert_xy_bounds(actual: Bounds, expected: Bounds, what: &str) {
    for (a, e) in actual.to_array().into_iter().zip(expected.to_array()) {
        assert_close_rel(a, e, 1e-9, what);
    }
}

#[track_caller]
fn assert_geo(actual: f64, expected: f64, what: &str) {
    // Longitudes of +-180 are the same meridian.
    let d = (actual - expected).abs();
    let d = if (d - 360.0).abs() < 1e-6 { (d - 360.0).abs() } else { d };
    let tol = 1e-7;
    assert!(d <= tol, "{what}: got {actual}, expected {expected} (diff {d:e})");
}

#[track_caller]
fn assert_geo_bounds(actual: Bounds, expected: Bounds, what: &str) {
    for (a, e) in actual.to_array().into_iter().zip(expected.to_array()) {
        assert_geo(a, e, what);
    }
}

#[test]
fn default_sets_match_morecantile() {
    let c = conformance();
    let sets = TileMatrixSets::default();
    let cases = c["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 13, "one case per default TileMatrixSet");
    let mut samples_checked = 0;
    let mut outside_checked = 0;
    for case in cases {
        let id = case["tms"].as_str().unwrap();
        let tms = sets.get(id).unwrap();
        let crs_expected = Crs::from_user_input(case["crs"].as_str().unwrap()).unwrap();
        assert!(tms.crs().same_as(&crs_expected), "{id}: crs");
        assert_eq!(tms.minzoom() as i64, case["minzoom"].as_i64().unwrap(), "{id}: minzoom");
        assert_eq!(tms.maxzoom() as i64, case["maxzoom"].as_i64().unwrap(), "{id}: maxzoom");
        assert_eq!(tms.is_quadtree(), case["is_quadtree"].as_bool().unwrap(), "{id}: is_quadtree");
        assert_eq!(tms.is_variable(), case["is_variable"].as_bool().unwrap(), "{id}: is_variable");
        assert_xy_bounds(tms.xy_bbox(), bounds(&case["xy_bbox"]), &format!("{id}: xy_bbox"));
        assert_geo_bounds(tms.bbox(), bounds(&case["bbox"]), &format!("{id}: bbox"));

        for m in case["matrices"].as_array().unwrap() {
            let z = m["z"].as_i64().unwrap() as i32;
            let mat = tms.matrix(z).unwrap();
            let what = format!("{id} z{z}");
            assert_close_rel(mat.cell_size, f(&m["cellSize"]), 1e-12, &what);
            assert_close_rel(mat.scale_denominator, f(&m["scaleDenominator"]), 1e-12, &what);
            assert_eq!(mat.matrix_width, m["matrixWidth"].as_u64().unwrap(), "{what}");
            assert_eq!(mat.matrix_height, m["matrixHeight"].as_u64().unwrap(), "{what}");
            assert_eq!(mat.tile_width as u64, m["tileWidth"].as_u64().unwrap(), "{what}");
            let origin = m["pointOfOrigin"].as_array().unwrap();
            assert_eq!(mat.point_of_origin, [f(&origin[0]), f(&origin[1])], "{what}");
        }

        for (res, zoom) in case["zoom_for_res"].as_object().unwrap() {
            let res: f64 = res.parse().unwrap();
            assert_eq!(
                tms.zoom_for_res(res, None, ZoomStrategy::Auto, None) as i64,
                zoom.as_i64().unwrap(),
                "{id}: zoom_for_res({res})"
            );
        }

        for s in case["samples"].as_array().unwrap() {
            let (lon, lat) = (f(&s["lon"]), f(&s["lat"]));
            let z = s["z"].as_i64().unwrap() as i32;
            let expected = tile(&s["tile"]);
            let what = format!("{id}: tile({lon}, {lat}, {z})");
            match tms.tile(lon, lat, z) {
                Ok(t) => assert_eq!(t, expected, "{what}"),
                Err(Error::PointOutsideTms { .. }) => {
                    // Only legitimate when the point really is outside the TMS extent.
                    let inside = tms
                        .xy(lon, lat)
                        .map(|(x, y)| {
                            let b = tms.xy_bbox();
                            x > b.left + 1.0 && x < b.right - 1.0 && y > b.bottom + 1.0 && y < b.top - 1.0
                        })
                        .unwrap_or(false);
                    assert!(!inside, "{what}: refused a point inside the set");
                    assert_eq!(tms.tile_clamped(lon, lat, z).unwrap(), expected, "{what} (clamped)");
                    outside_checked += 1;
                }
                Err(e) => panic!("{what}: {e}"),
            }
            assert_xy_bounds(tms.xy_bounds(expected).unwrap(), bounds(&s["xy_bounds"]), &format!("{what} xy_bounds"));
            assert_geo_bounds(tms.bounds(expected).unwrap(), bounds(&s["bounds"]), &format!("{what} bounds"));
            if let Some(qk) = s.get("quadkey") {
                let qk = qk.as_str().unwrap();
                assert_eq!(tms.quadkey(expected).unwrap(), qk, "{what} quadkey");
                assert_eq!(tms.quadkey_to_tile(qk).unwrap().x, expected.x, "{what} quadkey_to_tile");
            }
            samples_checked += 1;
        }
    }
    assert_eq!(samples_checked, 13 * 15);
    assert!(outside_checked > 0, "the reference contains points outside some sets");
}

#[test]
fn web_mercator_fixed_cases() {
    let c = conformance();
    let w = &c["webmercator_fixed"];
    let tms = TileMatrixSets::default().get("WebMercatorQuad").unwrap();
    let t = Tile::new(486, 332, 10);
    assert_geo_bounds(tms.bounds(t).unwrap(), bounds(&w["bounds_486_332_10"]), "bounds");
    assert_xy_bounds(tms.xy_bounds(t).unwrap(), bounds(&w["xy_bounds_486_332_10"]), "xy_bounds");

    let tiles = |v: &Value| v.as_array().unwrap().iter().map(tile).collect::<Vec<_>>();
    let got = tms.tiles(Bounds::new(-105.0, 39.99, -104.99, 40.0), &[14]).unwrap();
    assert_eq!(got, tiles(&w["tiles_-105_39.99_-104.99_40_z14"]));
    let mut got = tms.tiles(Bounds::new(175.0, 5.0, -175.0, 10.0), &[2]).unwrap();
    got.sort();
    let mut expected = tiles(&w["tiles_antimeridian_175_5_-175_10_z2"]);
    expected.sort();
    assert_eq!(got, expected);

    assert_eq!(tms.zoom_for_res(612.0, None, ZoomStrategy::Auto, None) as i64, w["zoom_for_res_612"].as_i64().unwrap());
    assert_eq!(
        tms.zoom_for_res(612.0, None, ZoomStrategy::Lower, None) as i64,
        w["zoom_for_res_612_lower"].as_i64().unwrap()
    );
    assert_eq!(tms.zoom_for_res(610.0, None, ZoomStrategy::Auto, None) as i64, w["zoom_for_res_610"].as_i64().unwrap());
    assert_eq!(tms.quadkey(t).unwrap(), w["quadkey_486_332_10"].as_str().unwrap());
    assert_eq!(tms.parent(t, None).unwrap(), tiles(&w["parent_486_332_10"]));
    assert_eq!(tms.children(t, None).unwrap(), tiles(&w["children_486_332_10"]));
    let mut n = tms.neighbors(t).unwrap();
    n.sort();
    assert_eq!(n, tiles(&w["neighbors_486_332_10"]));
}

#[test]
fn custom_3031_grid() {
    let c = conformance();
    let e = &c["custom_3031"];
    let tms = imbrex_tms::TileMatrixSet::custom(CustomTms::new(
        Bounds::new(-4194304.0, -4194304.0, 4194304.0, 4194304.0),
        Crs::from_epsg(3031).unwrap(),
    ))
    .unwrap();
    assert_eq!(tms.minzoom() as i64, e["minzoom"].as_i64().unwrap());
    assert_eq!(tms.maxzoom() as i64, e["maxzoom"].as_i64().unwrap());
    assert_eq!(tms.matrix(0).unwrap().cell_size, f(&e["z0_cellSize"]));
    assert_xy_bounds(tms.xy_bounds(Tile::new(1, 1, 2)).unwrap(), bounds(&e["xy_bounds_1_1_2"]), "xy_bounds");
    assert_geo_bounds(tms.bounds(Tile::new(1, 1, 2)).unwrap(), bounds(&e["bounds_1_1_2"]), "bounds");
    assert_eq!(tms.tile(0.0, -90.0, 3).unwrap(), tile(&e["tile_0_-90_3"]));
}

#[test]
fn out_of_range_input_is_an_error() {
    let tms = TileMatrixSets::default().get("WebMercatorQuad").unwrap();
    assert!(matches!(tms.xy_bounds(Tile::new(4, 0, 2)), Err(Error::TileOutOfRange { .. })));
    assert!(matches!(tms.xy_bounds(Tile::new(0, 0, 25)), Err(Error::InvalidZoom { .. })));
    assert!(matches!(tms.tile(0.0, 89.0, 3), Err(Error::PointOutsideTms { .. })));
    assert!(matches!(tms.tile(f64::NAN, 0.0, 3), Err(Error::PointOutsideTms { .. })));
    assert!(tms.tiles(Bounds::new(f64::NAN, 0.0, 1.0, 1.0), &[1]).is_err());
    assert!(tms.quadkey_to_tile("0129").is_err());
    let wgs = TileMatrixSets::default().get("WGS1984Quad").unwrap();
    assert!(wgs.tile(181.0, 0.0, 1).is_err());
    let cdb = TileMatrixSets::default().get("CDB1GlobalGrid").unwrap();
    assert!(matches!(cdb.quadkey(Tile::new(0, 0, 0)), Err(Error::NoQuadkeySupport { .. })));
}

#[test]
fn documents_round_trip() {
    // What we serve is what the reference TiTiler serves for WebMercatorQuad.
    let expected = imbrex_testkit::read_json(&imbrex_testkit::reference("titiler/samples/tms_WebMercatorQuad.json"));
    let tms = TileMatrixSets::default().get("WebMercatorQuad").unwrap();
    assert_eq!(first_difference(&tms.to_json_value(), &expected, "$"), None);
    for tms in TileMatrixSets::default().iter() {
        let again = imbrex_tms::TileMatrixSet::from_json(&tms.to_json_value().to_string()).unwrap();
        assert_eq!(first_difference(&again.to_json_value(), &tms.to_json_value(), "$"), None, "{}", tms.id());
    }
}

/// The JSON path of the first difference between two documents (short failure messages).
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<_> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(u), Some(v)) => first_difference(u, v, &format!("{path}.{k}")),
                _ => Some(format!("{path}.{k} missing on one side")),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (u, v))| first_difference(u, v, &format!("{path}[{i}]")))
        }
        _ if a == b => None,
        _ => Some(format!("{path}: {} != {}", short(a), short(b))),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 120 { format!("{}...", &s[..120]) } else { s }
}

#[test]
fn malformed_documents_are_errors() {
    for bad in [
        "",
        "{}",
        r#"{"crs": "EPSG:3857", "tileMatrices": []}"#,
        r#"{"crs": "EPSG:3857", "supportedCRS": "x", "tileMatrices": []}"#,
        r#"{"crs": "EPSG:nope", "tileMatrices": [{"id":"0","scaleDenominator":1,"cellSize":1,"pointOfOrigin":[0,0],"tileWidth":256,"tileHeight":256,"matrixWidth":1,"matrixHeight":1}]}"#,
        r#"{"crs": "EPSG:3857", "tileMatrices": [{"id":"zero","scaleDenominator":1,"cellSize":1,"pointOfOrigin":[0,0],"tileWidth":256,"tileHeight":256,"matrixWidth":1,"matrixHeight":1}]}"#,
        r#"{"crs": "EPSG:3857", "tileMatrices": [{"id":"0","scaleDenominator":1,"cellSize":-1,"pointOfOrigin":[0,0],"tileWidth":256,"tileHeight":256,"matrixWidth":1,"matrixHeight":1}]}"#,
        r#"{"id": "bad id!", "crs": "EPSG:3857", "tileMatrices": [{"id":"0","scaleDenominator":1,"cellSize":1,"pointOfOrigin":[0,0],"tileWidth":256,"tileHeight":256,"matrixWidth":1,"matrixHeight":1}]}"#,
    ] {
        assert!(imbrex_tms::TileMatrixSet::from_json(bad).is_err(), "{bad}");
    }
}
