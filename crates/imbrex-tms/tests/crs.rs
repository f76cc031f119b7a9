//! CRS parsing and transforms against PROJ (fixture computed once with pyproj by
//! `tools/gen_crs_fixtures.py`, see `tests/fixtures/proj_points.json`).
//!
//! Two checks per point:
//! - projection maths: from the CRS's own geographic CRS to the CRS must match PROJ's pure
//!   projection result (`x_base`, `y_base`) within 1 mm;
//! - the full WGS 84 -> CRS transform must match PROJ within 1 cm, except where PROJ picked a
//!   transformation imbrex does not reproduce (listed in `DATUM_DIFFERS`, with the reason).

use imbrex_tms::{Crs, Transformer};
use serde_json::Value;

fn fixture() -> Value {
    let path = imbrex_testkit::manifest_dir().join("tests/fixtures/proj_points.json");
    imbrex_testkit::read_json(&path)
}

/// CRSs whose datum shift to WGS 84 PROJ chooses per area from its database (regional
/// Helmert sets, OSTN15 fallbacks), which a proj-string based library cannot reproduce.
/// imbrex applies the single TOWGS84 of the EPSG definition; the projection maths is still
/// checked against `x_base`/`y_base`.
const DATUM_DIFFERS: &[&str] = &["EPSG:21897", "EPSG:27700", "EPSG:21781"];

#[test]
fn every_fixture_crs_parses_with_the_right_properties() {
    let f = fixture();
    let entries = f["crs"].as_array().unwrap();
    assert!(entries.len() >= 30);
    for e in entries {
        let name = e["name"].as_str().unwrap();
        let crs = Crs::from_user_input(e["input"].as_str().unwrap()).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(crs.is_geographic(), e["is_geographic"].as_bool().unwrap(), "{name}: is_geographic");
        if e["input"].as_str().unwrap().starts_with("EPSG:") || name.starts_with("url:") || name.starts_with("urn:") {
            assert_eq!(crs.axis_inverted(), e["axis_northing_first"].as_bool().unwrap(), "{name}: axis order");
            if let Some(code) = e["epsg"].as_u64() {
                assert_eq!(crs.epsg(), Some(code as u32), "{name}: epsg");
            }
        }
    }
}

#[test]
fn projection_maths_matches_proj_within_a_millimetre() {
    let f = fixture();
    let mut checked = 0;
    for e in f["crs"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        let crs = Crs::from_user_input(e["input"].as_str().unwrap()).unwrap();
        let t = Transformer::new(&crs.geodetic_crs(), &crs).unwrap();
        for p in e["points"].as_array().unwrap() {
            let (lon, lat) = (p["lon"].as_f64().unwrap(), p["lat"].as_f64().unwrap());
            let (xb, yb) = (p["x_base"].as_f64().unwrap(), p["y_base"].as_f64().unwrap());
            let (x, y) = t.transform(lon, lat).unwrap_or_else(|err| panic!("{name} ({lon}, {lat}): {err}"));
            let tol = if crs.is_geographic() { 1e-9 } else { 1e-3 };
            assert!(
                (x - xb).abs() <= tol && (y - yb).abs() <= tol,
                "{name} ({lon}, {lat}): got ({x}, {y}), PROJ ({xb}, {yb})"
            );
            // And back.
            let (lon2, lat2) = t.inverse().transform(x, y).unwrap();
            // Longitude is undefined at a pole.
            let lon_ok = lat.abs() >= 90.0 - 1e-9 || (lon2 - lon).abs() < 1e-7;
            assert!(lon_ok && (lat2 - lat).abs() < 1e-7, "{name} inverse ({lon}, {lat}) gave ({lon2}, {lat2})");
            checked += 1;
        }
    }
    assert!(checked > 200, "{checked}");
}

#[test]
fn wgs84_to_crs_matches_proj_within_a_centimetre() {
    let f = fixture();
    let wgs84 = Crs::wgs84();
    let mut checked = 0;
    for e in f["crs"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        if DATUM_DIFFERS.contains(&name) {
            continue;
        }
        let ops = e["operations"].as_array().unwrap();
        let crs = Crs::from_user_input(e["input"].as_str().unwrap()).unwrap();
        let t = Transformer::new(&wgs84, &crs).unwrap();
        for p in e["points"].as_array().unwrap() {
            let op = &ops[p["op"].as_u64().unwrap() as usize];
            let desc = op["description"].as_str().unwrap();
            // PROJ's "ballpark" fallback (no shift) for points outside every operation's
            // area, and NAD27's second regional Helmert (Canada), are not reproduced.
            if desc.contains("Ballpark") || desc.contains("NAD27 to WGS 84 (13)") {
                continue;
            }
            let (lon, lat) = (p["lon"].as_f64().unwrap(), p["lat"].as_f64().unwrap());
            let (ex, ey) = (p["x"].as_f64().unwrap(), p["y"].as_f64().unwrap());
            let (x, y) = t.transform(lon, lat).unwrap_or_else(|err| panic!("{name} ({lon}, {lat}): {err}"));
            let tol = if crs.is_geographic() { 1e-9 } else { 1e-2 };
            assert!(
                (x - ex).abs() <= tol && (y - ey).abs() <= tol,
                "{name} ({lon}, {lat}) via '{desc}': got ({x}, {y}), PROJ ({ex}, {ey})"
            );
            checked += 1;
        }
    }
    assert!(checked > 150, "{checked}");
}

#[test]
fn geostationary_keeps_its_sweep_axis() {
    // rasterio's to_proj4() drops +sweep=x; the WKT's PROJ4 extension keeps it.
    let with =
        Crs::from_user_input("+proj=geos +lon_0=-75 +h=35786023 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +sweep=x").unwrap();
    let without =
        Crs::from_user_input("+proj=geos +lon_0=-75 +h=35786023 +x_0=0 +y_0=0 +ellps=GRS80 +units=m").unwrap();
    let a = Transformer::new(&Crs::wgs84(), &with).unwrap().transform(-60.0, 40.0).unwrap();
    let b = Transformer::new(&Crs::wgs84(), &without).unwrap().transform(-60.0, 40.0).unwrap();
    assert!((a.0 - b.0).abs() > 100.0 || (a.1 - b.1).abs() > 100.0);
}

/// OGC:CRS84 to and from CRSs on NAD83: PROJ picks the operation by whether it can identify
/// the CRS (an EPSG code, an authority, a registered name: the null shift; a custom one:
/// ESRI's ITRF00 Helmert) and, point by point, by the operation's area of use tested on the
/// source's coordinates. The fixture's random points cover both sides of that area.
#[test]
fn crs84_and_nad83_pick_proj_operation_point_by_point() {
    let f = fixture();
    let pairs = f["crs84"].as_array().unwrap();
    assert!(pairs.len() >= 10);
    let crs84 = Crs::from_user_input("OGC:CRS84").unwrap();
    let (mut shifted, mut shifted_back) = (0, 0);
    for e in pairs {
        let name = e["name"].as_str().unwrap();
        let crs = Crs::from_user_input(e["input"].as_str().unwrap()).unwrap_or_else(|err| panic!("{name}: {err}"));
        let to = Transformer::new(&crs84, &crs).unwrap();
        let back = to.inverse();
        let tol = if crs.is_geographic() { 1e-9 } else { 1e-2 };
        for p in e["points"].as_array().unwrap() {
            let (lon, lat) = (p["lon"].as_f64().unwrap(), p["lat"].as_f64().unwrap());
            let (ex, ey) = (p["x"].as_f64().unwrap(), p["y"].as_f64().unwrap());
            let (x, y) = to.transform(lon, lat).unwrap();
            let op = p["op"].as_str().unwrap();
            assert!(
                (x - ex).abs() < tol && (y - ey).abs() < tol,
                "{name} ({lon}, {lat}) via '{op}': got ({x}, {y}), PROJ ({ex}, {ey})"
            );
            let (elon, elat) = (p["lon_back"].as_f64().unwrap(), p["lat_back"].as_f64().unwrap());
            let (lon2, lat2) = back.transform(ex, ey).unwrap();
            let op_back = p["op_back"].as_str().unwrap();
            assert!(
                (lon2 - elon).abs() < 1e-9 && (lat2 - elat).abs() < 1e-9,
                "{name} back from ({ex}, {ey}) via '{op_back}': got ({lon2}, {lat2}), PROJ ({elon}, {elat})"
            );
            shifted += usize::from(op.contains("ITRF00"));
            shifted_back += usize::from(op_back.contains("ITRF00"));
        }
    }
    assert!(shifted > 100 && shifted_back > 100, "{shifted} and {shifted_back} points through ESRI's operation");
}
