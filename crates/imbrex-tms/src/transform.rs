//! Coordinate transformations between two [`Crs`], point-wise and for bounding boxes.
//!
//! Coordinates are in GIS order (x/longitude first) and in the CRS's units (degrees for
//! geographic CRSs). Points that a projection cannot represent come back as non-finite
//! values rather than failing a whole batch, so callers can keep the points that worked
//! (as GDAL's transformers do with their success flags).

use std::sync::Arc;

use proj4rs::Proj;
use proj4rs::errors::Result as ProjResult;
use proj4rs::transform::{Transform, TransformClosure, transform};

use crate::bounds::Bounds;
use crate::crs::Crs;
use crate::error::{Error, Result};

const WEB_MERCATOR_R: f64 = 6_378_137.0;

/// A transformation from one CRS to another.
#[derive(Clone, Debug)]
pub struct Transformer {
    src: Crs,
    dst: Crs,
    kind: Kind,
    /// A datum operation PROJ prefers to the one the two PROJ strings imply.
    datum_op: Option<DatumOperation>,
}

/// NAD83 to WGS 84 as PROJ picks it between a NAD83 CRS it cannot identify and OGC:CRS84.
///
/// PROJ looks up operations by the authorities of the two CRSs. A CRS without an authority
/// is first identified by its name; one PROJ cannot identify (a custom WKT, a PROJ string)
/// has operations searched in every authority, and into OGC:CRS84 that finds ESRI's
/// "WGS_1984_(ITRF00)_To_NAD_1983" (a 7-parameter Helmert, accuracy 0.1 m), which PROJ
/// prefers to EPSG's null "NAD83 to WGS 84 (1)" (4 m) wherever a point lies in the ESRI
/// operation's area of use, tested on the source's own coordinates: about 0.8 m apart.
/// Identified and EPSG CRSs get the null shift, as imbrex's PROJ strings do, except a
/// geographic one named like a registered CRS, which PROJ identifies only as the source
/// (measured with pyproj 3.7 / PROJ 9.5 and rasterio; `tests/crs.rs`). GDAL, and so
/// rio-tiler, transform with PROJ's choice point by point; so does this.
#[derive(Clone)]
struct DatumOperation {
    /// The NAD83 CRS's projection with the operation as its `+towgs84`.
    shifted: Arc<Proj>,
    /// True when OGC:CRS84 is the source.
    crs84_is_src: bool,
    /// The operation's area of use in the source's coordinates: the longitude/latitude
    /// boxes, or their bounds in the NAD83 CRS (PROJ's `proj_trans_bounds`, 21 points a side).
    area: Arc<Vec<Bounds>>,
    /// True when `area` is in degrees (longitudes wrap).
    area_in_degrees: bool,
}

/// The inverse of ESRI's WGS 84 -> NAD83 operation (coordinate frame) as a position-vector
/// `+towgs84`: the first-order inverse, within 1e-6 m of PROJ's exact one (measured).
const NAD83_TO_ITRF00_TOWGS84: &str = "-0.9956,1.9013,0.5215,0.025915,0.009426,0.011599,-0.00062";

/// The operation's area of use, (167.65, 14.92, -63.88, 74.71), split at the antimeridian
/// as PROJ splits it.
const ITRF00_AREA: [(f64, f64, f64, f64); 2] = [(167.65, 14.92, 180.0, 74.71), (-180.0, 14.92, -63.88, 74.71)];

impl DatumOperation {
    fn between(src: &Crs, dst: &Crs) -> Option<DatumOperation> {
        let (user, crs84_is_src) = if src.is_crs84() {
            (dst, true)
        } else if dst.is_crs84() {
            (src, false)
        } else {
            return None;
        };
        // The datum first: it settles most CRSs (a WGS 84 one, say) before the name lookup.
        if !user.is_nad83_without_shift() {
            return None;
        }
        let identified = user.has_registered_nad83_name() && !(user.is_geographic() && crs84_is_src);
        if identified {
            return None;
        }
        let proj_string: Vec<&str> = user
            .proj_string()
            .split_whitespace()
            .filter(|t| !t.starts_with("+towgs84="))
            .map(|t| if t == "+datum=NAD83" { "+ellps=GRS80" } else { t })
            .collect();
        let proj_string = format!("{} +towgs84={NAD83_TO_ITRF00_TOWGS84}", proj_string.join(" "));
        let shifted = Proj::from_proj_string(&proj_string).ok()?;
        let boxes = ITRF00_AREA.iter().map(|&(w, s, e, n)| Bounds::new(w, s, e, n));
        let area_in_degrees = crs84_is_src || user.is_geographic();
        let area: Vec<Bounds> = if area_in_degrees {
            boxes.collect()
        } else {
            let to_user = Transformer::new(&user.geodetic_crs(), user).ok()?;
            boxes.filter_map(|b| to_user.transform_bounds(b, 21).ok()).filter(|b| b.is_finite()).collect()
        };
        Some(DatumOperation { shifted: Arc::new(shifted), crs84_is_src, area: Arc::new(area), area_in_degrees })
    }

    /// PROJ's spatial test of a source point (edges included; longitudes wrapped first).
    fn covers(&self, x: f64, y: f64) -> bool {
        let x = if self.area_in_degrees && x.is_finite() { (x + 180.0).rem_euclid(360.0) - 180.0 } else { x };
        self.area.iter().any(|b| (b.left..=b.right).contains(&x) && (b.bottom..=b.top).contains(&y))
    }
}

impl std::fmt::Debug for DatumOperation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NAD83 to WGS 84 (ESRI ITRF00)")
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Identity,
    /// WGS 84 degrees to/from spherical Web Mercator: closed form, the hottest path of a tile server.
    GeoToWebMercator,
    WebMercatorToGeo,
    /// A projected CRS on the WGS 84 datum (UTM, polar stereographic...) to Web Mercator:
    /// PROJ to CRS84 on the same datum, then the closed form. PROJ's pipeline is the same
    /// (Web Mercator takes WGS 84 latitudes as they are); proj4rs, given the two PROJ
    /// strings, converts through geocentric coordinates and back for nothing (a sixth of a
    /// warped tile's time).
    ProjToWebMercator,
    WebMercatorToProj,
    Proj,
}

impl Transformer {
    /// Build a transformer. CRSs of different celestial bodies (Mars data to an Earth grid)
    /// have no transformation, as in PROJ.
    pub fn new(src: &Crs, dst: &Crs) -> Result<Transformer> {
        if src.is_earth() != dst.is_earth() {
            return Err(Error::Transform {
                reason: format!("{src} and {dst} do not belong to the same celestial body"),
            });
        }
        let kind = if src.same_as(dst) {
            Kind::Identity
        } else if src.is_wgs84_geographic() && dst.epsg() == Some(3857) {
            Kind::GeoToWebMercator
        } else if src.epsg() == Some(3857) && dst.is_wgs84_geographic() {
            Kind::WebMercatorToGeo
        } else if dst.epsg() == Some(3857) && !src.is_geographic() && src.is_wgs84_datum() {
            Kind::ProjToWebMercator
        } else if src.epsg() == Some(3857) && !dst.is_geographic() && dst.is_wgs84_datum() {
            Kind::WebMercatorToProj
        } else {
            Kind::Proj
        };
        let datum_op = if kind == Kind::Proj { DatumOperation::between(src, dst) } else { None };
        Ok(Transformer { src: src.clone(), dst: dst.clone(), kind, datum_op })
    }

    /// Source CRS.
    pub fn src(&self) -> &Crs {
        &self.src
    }

    /// Destination CRS.
    pub fn dst(&self) -> &Crs {
        &self.dst
    }

    /// True when source and destination are the same CRS.
    pub fn is_identity(&self) -> bool {
        self.kind == Kind::Identity
    }

    /// The reverse transformation.
    pub fn inverse(&self) -> Transformer {
        let kind = match self.kind {
            Kind::GeoToWebMercator => Kind::WebMercatorToGeo,
            Kind::WebMercatorToGeo => Kind::GeoToWebMercator,
            Kind::ProjToWebMercator => Kind::WebMercatorToProj,
            Kind::WebMercatorToProj => Kind::ProjToWebMercator,
            k => k,
        };
        // PROJ's choice depends on the direction (the area is tested on the source side).
        let datum_op = if kind == Kind::Proj { DatumOperation::between(&self.dst, &self.src) } else { None };
        Transformer { src: self.dst.clone(), dst: self.src.clone(), kind, datum_op }
    }

    /// Transform one point; fails when the point is outside the projection's domain.
    pub fn transform(&self, x: f64, y: f64) -> Result<(f64, f64)> {
        let mut xs = [x];
        let mut ys = [y];
        self.transform_in_place(&mut xs, &mut ys);
        if xs[0].is_finite() && ys[0].is_finite() {
            Ok((xs[0], ys[0]))
        } else {
            Err(Error::Transform { reason: format!("({x}, {y}) cannot be transformed to {}", self.dst) })
        }
    }

    /// Transform many points in place. Points that fail become `f64::INFINITY`;
    /// returns the number of points that failed.
    pub fn transform_in_place(&self, xs: &mut [f64], ys: &mut [f64]) -> usize {
        assert_eq!(xs.len(), ys.len(), "x and y slices must have the same length");
        match self.kind {
            Kind::Identity => 0,
            Kind::GeoToWebMercator => geo_to_web_mercator(xs, ys),
            Kind::WebMercatorToGeo => web_mercator_to_geo(xs, ys),
            Kind::ProjToWebMercator => {
                let geo = Crs::crs84();
                run_proj(self.src.proj(), false, geo.proj(), true, xs, ys);
                geo_to_web_mercator(xs, ys)
            }
            Kind::WebMercatorToProj => {
                web_mercator_to_geo(xs, ys);
                let geo = Crs::crs84();
                run_proj(geo.proj(), true, self.dst.proj(), false, xs, ys);
                xs.iter().zip(ys.iter()).filter(|(x, y)| !(x.is_finite() && y.is_finite())).count()
            }
            Kind::Proj => self.transform_proj(xs, ys),
        }
    }

    fn transform_proj(&self, xs: &mut [f64], ys: &mut [f64]) -> usize {
        let Some(op) = &self.datum_op else {
            return self.run_proj(self.src.proj(), self.dst.proj(), xs, ys);
        };
        let (src, dst) = if op.crs84_is_src {
            (self.src.proj(), op.shifted.as_ref())
        } else {
            (op.shifted.as_ref(), self.dst.proj())
        };
        let (x0, y0) = (xs.to_vec(), ys.to_vec());
        // PROJ tests each source point against the operation's area; outside it, PROJ's
        // other candidates are null shifts.
        let outside: Vec<usize> = (0..xs.len()).filter(|&i| !op.covers(x0[i], y0[i])).collect();
        self.run_proj(src, dst, xs, ys);
        if !outside.is_empty() {
            let mut ox: Vec<f64> = outside.iter().map(|&i| x0[i]).collect();
            let mut oy: Vec<f64> = outside.iter().map(|&i| y0[i]).collect();
            self.run_proj(self.src.proj(), self.dst.proj(), &mut ox, &mut oy);
            for (k, &i) in outside.iter().enumerate() {
                xs[i] = ox[k];
                ys[i] = oy[k];
            }
        }
        let ok = |x: f64, y: f64| x.is_finite() && y.is_finite();
        (0..xs.len()).filter(|&i| ok(x0[i], y0[i]) && !ok(xs[i], ys[i])).count()
    }

    /// Transform with two projections, in degrees for geographic CRSs.
    fn run_proj(&self, src: &Proj, dst: &Proj, xs: &mut [f64], ys: &mut [f64]) -> usize {
        run_proj(src, self.src.is_geographic(), dst, self.dst.is_geographic(), xs, ys)
    }

    /// Transform a bounding box, densifying each edge with `densify` extra points, the way
    /// PROJ's `proj_trans_bounds` (and so rasterio/pyproj `transform_bounds`) does:
    /// a geographic destination gets antimeridian handling (west > east when the box crosses
    /// it) and the full longitude range when the box contains a pole.
    pub fn transform_bounds(&self, b: Bounds, densify: usize) -> Result<Bounds> {
        self.transform_bounds_checked(b, densify).map(|(out, _)| out)
    }

    /// [`Transformer::transform_bounds`], also telling whether every point of the densified
    /// ring transformed. GDAL's bounds then carry an infinite side (PROJ's failures are
    /// `HUGE_VAL`), which rio-tiler reads as "overlaps".
    pub fn transform_bounds_checked(&self, b: Bounds, densify: usize) -> Result<(Bounds, bool)> {
        if self.is_identity() {
            return Ok((b, true));
        }
        let side = densify + 1;
        let (dx, dy) = if self.src.is_geographic() && b.right < b.left {
            ((b.right - b.left + 360.0) / side as f64, (b.top - b.bottom) / side as f64)
        } else {
            ((b.right - b.left) / side as f64, (b.top - b.bottom) / side as f64)
        };
        // A closed ring (left edge down, bottom edge right, right edge up, top edge left):
        // the antimeridian logic walks it in order.
        let mut xs = Vec::with_capacity(side * 4);
        let mut ys = Vec::with_capacity(side * 4);
        for i in 0..side {
            xs.push(b.left);
            ys.push(b.top - i as f64 * dy);
        }
        for i in 0..side {
            xs.push(b.left + i as f64 * dx);
            ys.push(b.bottom);
        }
        for i in 0..side {
            xs.push(b.right);
            ys.push(b.bottom + i as f64 * dy);
        }
        for i in 0..side {
            xs.push(b.right - i as f64 * dx);
            ys.push(b.top);
        }
        self.transform_in_place(&mut xs, &mut ys);
        let all_ok = xs.iter().chain(&ys).all(|v| v.is_finite());

        let finite = |v: &&f64| v.is_finite();
        let min = |v: &[f64]| v.iter().filter(finite).copied().fold(f64::INFINITY, f64::min);
        let max = |v: &[f64]| v.iter().filter(finite).copied().fold(f64::NEG_INFINITY, f64::max);

        // Only the densified ring is sampled, as PROJ 9.5 and GDAL 3.10 do (the oracle's
        // versions); PROJ 9.6 also samples the interior and can widen degenerate boxes.
        let out;
        if !self.dst.is_geographic() {
            let mut b2 = Bounds::new(min(&xs), min(&ys), max(&xs), max(&ys));
            self.include_poles_and_antimeridian(&b, &mut b2);
            out = b2;
        } else if self.contains_pole(&b, 90.0) {
            out = Bounds::new(-180.0, min(&ys), 180.0, 90.0);
        } else if self.contains_pole(&b, -90.0) {
            out = Bounds::new(-180.0, -90.0, 180.0, max(&ys));
        } else {
            out = Bounds::new(antimeridian_min(&xs), min(&ys), antimeridian_max(&xs), max(&ys));
        }

        if !(out.left.is_finite() && out.bottom.is_finite() && out.right.is_finite() && out.top.is_finite()) {
            return Err(Error::Transform {
                reason: format!("bounds {b:?} cannot be transformed from {} to {}", self.src, self.dst),
            });
        }
        Ok((out, all_ok))
    }

    /// GDAL's extra probes for a projected destination: the poles (capped at Web Mercator's
    /// latitude limit for a Greenwich-centred Mercator) and the meridian opposite the
    /// projection's central meridian, when they fall inside the source box. Without them a
    /// polar source warped to Web Mercator loses the part of its extent beyond the ring.
    fn include_poles_and_antimeridian(&self, src: &Bounds, out: &mut Bounds) {
        let base = self.dst.geodetic_crs();
        let Ok(base_to_src) = Transformer::new(&base, &self.src) else { return };
        let Ok(base_to_dst) = Transformer::new(&base, &self.dst) else { return };
        let lon0 = self.dst.central_meridian();
        let lat0 = self.dst.latitude_of_origin();
        let abs_pole = if self.dst.projection_name() == "merc" && lon0 == 0.0 { 85.0511287798066 } else { 90.0 };
        let mut include = |lon: f64, lat: f64| -> bool {
            let Ok((sx, sy)) = base_to_src.transform(lon, lat) else { return false };
            if !(sx >= src.left && sy >= src.bottom && sx <= src.right && sy <= src.top) {
                return false;
            }
            let Ok((x, y)) = base_to_dst.transform(lon, lat) else { return false };
            out.left = out.left.min(x);
            out.bottom = out.bottom.min(y);
            out.right = out.right.max(x);
            out.top = out.top.max(y);
            true
        };
        let mut signed_pole = 0.0;
        let mut includes_pole = false;
        for sign in [-1.0, 1.0] {
            if include(lon0, sign * (abs_pole - 1e-8)) {
                signed_pole = sign * abs_pole;
                includes_pole = true;
            }
        }
        let mut at_antimeridian = |lat: f64| {
            for sign in [-1.0, 1.0] {
                // C's fmod keeps the dividend's sign, unlike rem_euclid.
                let lon = (lon0 + sign * (180.0 - 1e-8) + 180.0) % 360.0 - 180.0;
                include(lon, lat);
            }
        };
        if lon0 != 0.0 {
            at_antimeridian(lat0);
        }
        if includes_pole && lat0 != signed_pole {
            at_antimeridian(signed_pole);
        }
    }

    /// Whether the source box contains the pole at latitude `lat` (destination is geographic).
    fn contains_pole(&self, b: &Bounds, lat: f64) -> bool {
        match self.inverse().transform(0.0, lat) {
            Ok((px, py)) => b.left < px && px < b.right && b.bottom < py && py < b.top,
            Err(_) => false,
        }
    }
}

/// Index of the previous finite value in a ring, wrapping around.
fn previous_finite(i: usize, data: &[f64]) -> usize {
    let n = data.len();
    let mut j = i;
    for _ in 0..n {
        j = if j == 0 { n - 1 } else { j - 1 };
        if data[j].is_finite() {
            return j;
        }
    }
    i
}

// A jump of 200 degrees or more between consecutive ring longitudes means the ring crossed
// the antimeridian (evenly spaced edges never step more than 120 degrees); two crossings mean
// the box straddles it, four mean it wraps the whole globe.
const CROSSING: f64 = 200.0;

/// Western bound of a ring of longitudes that may cross the antimeridian.
fn antimeridian_min(data: &[f64]) -> f64 {
    let mut positive_min = f64::INFINITY;
    let mut min_value = f64::INFINITY;
    let mut crossings = 0;
    let mut on_positive_side = false;
    for (i, &v) in data.iter().enumerate() {
        if !v.is_finite() {
            continue;
        }
        let delta = data[previous_finite(i, data)] - v;
        if delta >= CROSSING {
            if crossings == 0 {
                positive_min = min_value;
            }
            crossings += 1;
            on_positive_side = false;
        } else if delta <= -CROSSING {
            if crossings == 0 {
                positive_min = v;
            }
            crossings += 1;
            on_positive_side = true;
        }
        if on_positive_side && v < positive_min {
            positive_min = v;
        }
        min_value = min_value.min(v);
    }
    match crossings {
        2 => positive_min,
        4 => -180.0,
        _ => min_value,
    }
}

/// Eastern bound of a ring of longitudes that may cross the antimeridian.
fn antimeridian_max(data: &[f64]) -> f64 {
    let mut negative_max = f64::NEG_INFINITY;
    let mut max_value = f64::NEG_INFINITY;
    let mut crossings = 0;
    let mut on_negative_side = false;
    for (i, &v) in data.iter().enumerate() {
        if !v.is_finite() {
            continue;
        }
        let delta = data[previous_finite(i, data)] - v;
        if delta >= CROSSING {
            if crossings == 0 {
                negative_max = v;
            }
            crossings += 1;
            on_negative_side = true;
        } else if delta <= -CROSSING {
            if crossings == 0 {
                negative_max = max_value;
            }
            crossings += 1;
            on_negative_side = false;
        }
        if on_negative_side && v > negative_max {
            negative_max = v;
        }
        max_value = max_value.max(v);
    }
    match crossings {
        2 => negative_max,
        4 => 180.0,
        _ => max_value,
    }
}

/// Transform with two projections, in degrees on the geographic sides.
fn run_proj(
    src: &Proj,
    src_geographic: bool,
    dst: &Proj,
    dst_geographic: bool,
    xs: &mut [f64],
    ys: &mut [f64],
) -> usize {
    if src_geographic {
        for (x, y) in xs.iter_mut().zip(ys.iter_mut()) {
            *x = x.to_radians();
            *y = y.to_radians();
        }
    }
    let mut batch = Batch { xs, ys, failed: 0 };
    // Batch never returns an error: failures are recorded per point.
    let _ = transform(src, dst, &mut batch);
    let failed = batch.failed;
    if dst_geographic {
        for (x, y) in batch.xs.iter_mut().zip(batch.ys.iter_mut()) {
            if x.is_finite() {
                *x = x.to_degrees();
                *y = y.to_degrees();
            }
        }
    }
    failed
}

/// WGS 84 degrees to Web Mercator metres; returns the points that failed (now infinite).
fn geo_to_web_mercator(xs: &mut [f64], ys: &mut [f64]) -> usize {
    let mut failed = 0;
    for (x, y) in xs.iter_mut().zip(ys.iter_mut()) {
        // Same formulas as PROJ 9's spherical Mercator, which accepts the poles themselves
        // (tan(pi/2) is finite in floating point) and GDAL relies on it.
        if !(x.is_finite() && y.is_finite()) || y.abs() > 90.0 {
            *x = f64::INFINITY;
            *y = f64::INFINITY;
            failed += 1;
            continue;
        }
        *x = WEB_MERCATOR_R * x.to_radians();
        *y = WEB_MERCATOR_R * y.to_radians().tan().asinh();
    }
    failed
}

/// Web Mercator metres to WGS 84 degrees; returns the points that failed (now infinite).
fn web_mercator_to_geo(xs: &mut [f64], ys: &mut [f64]) -> usize {
    let mut failed = 0;
    for (x, y) in xs.iter_mut().zip(ys.iter_mut()) {
        if !(x.is_finite() && y.is_finite()) {
            *x = f64::INFINITY;
            *y = f64::INFINITY;
            failed += 1;
            continue;
        }
        *x = (*x / WEB_MERCATOR_R).to_degrees();
        *y = (*y / WEB_MERCATOR_R).sinh().atan().to_degrees();
    }
    failed
}

/// Adapter that lets proj4rs walk two coordinate slices and records failures per point.
struct Batch<'a> {
    xs: &'a mut [f64],
    ys: &'a mut [f64],
    failed: usize,
}

impl Transform for Batch<'_> {
    fn transform_coordinates<F: TransformClosure>(&mut self, f: &mut F) -> ProjResult<()> {
        for (x, y) in self.xs.iter_mut().zip(self.ys.iter_mut()) {
            if !(x.is_finite() && y.is_finite()) {
                continue;
            }
            match f(*x, *y, 0.0) {
                Ok((nx, ny, _)) if nx.is_finite() && ny.is_finite() => {
                    *x = nx;
                    *y = ny;
                }
                _ => {
                    *x = f64::INFINITY;
                    *y = f64::INFINITY;
                    self.failed += 1;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projected_to_web_mercator_through_crs84_matches_proj4rs() {
        // UTM north and south, polar stereographic both ways, World Mercator: the two-step
        // path equals proj4rs's own (whose geocentric round trip only adds rounding).
        for code in [32631, 32755, 3031, 3413, 3395] {
            let src = Crs::from_epsg(code).unwrap();
            let fast = Transformer::new(&src, &Crs::web_mercator()).unwrap();
            assert_eq!(fast.kind, Kind::ProjToWebMercator, "EPSG:{code}");
            let slow = Transformer { kind: Kind::Proj, ..fast.clone() };
            let g = Transformer::new(&Crs::crs84(), &src).unwrap();
            for (lon, lat) in [(3.1, 45.2), (147.0, -33.9), (-120.0, -75.0), (-45.0, 72.0), (0.5, 0.5)] {
                let Ok((x, y)) = g.transform(lon, lat) else { continue };
                let (a, b) = (fast.transform(x, y).unwrap(), slow.transform(x, y).unwrap());
                assert!((a.0 - b.0).abs() < 1e-6 && (a.1 - b.1).abs() < 1e-6, "EPSG:{code} {lon},{lat}: {a:?} {b:?}");
                let back = fast.inverse();
                assert_eq!(back.kind, Kind::WebMercatorToProj);
                let r = back.transform(a.0, a.1).unwrap();
                assert!((r.0 - x).abs() < 1e-4 && (r.1 - y).abs() < 1e-4, "EPSG:{code} back: {r:?} vs {x},{y}");
            }
        }
        // Another datum keeps the general path.
        let nad27 = Crs::from_epsg(26717).unwrap();
        assert_eq!(Transformer::new(&nad27, &Crs::web_mercator()).unwrap().kind, Kind::Proj);
    }

    #[test]
    fn web_mercator_fast_path_matches_proj() {
        let fast = Transformer::new(&Crs::wgs84(), &Crs::web_mercator()).unwrap();
        let merc = Crs::from_proj_string(
            "+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null",
        )
        .unwrap();
        let slow = Transformer::new(&Crs::wgs84(), &merc).unwrap();
        assert_eq!(slow.kind, Kind::Proj);
        for (lon, lat) in [(2.0, 45.0), (-179.9, -85.0), (179.0, 85.05), (0.0, 0.0)] {
            let a = fast.transform(lon, lat).unwrap();
            let b = slow.transform(lon, lat).unwrap();
            assert!((a.0 - b.0).abs() < 1e-6 && (a.1 - b.1).abs() < 1e-6, "{a:?} vs {b:?}");
            let back = fast.inverse().transform(a.0, a.1).unwrap();
            assert!((back.0 - lon).abs() < 1e-12 && (back.1 - lat).abs() < 1e-12);
        }
        assert!(fast.transform(0.0, 90.5).is_err());
        assert!(fast.transform(0.0, 90.0).unwrap().1 > 2.4e8, "PROJ projects the pole itself");
    }

    #[test]
    fn failures_are_per_point() {
        let t = Transformer::new(&Crs::wgs84(), &Crs::web_mercator()).unwrap();
        let mut xs = [0.0, 0.0, 10.0];
        let mut ys = [0.0, 91.0, 10.0];
        assert_eq!(t.transform_in_place(&mut xs, &mut ys), 1);
        assert!(xs[0].is_finite() && !xs[1].is_finite() && xs[2].is_finite());
    }

    #[test]
    fn antimeridian_ring() {
        // A ring crossing the antimeridian twice: west > east.
        let ring = [170.0, 175.0, 180.0, -175.0, -170.0, -170.0, -175.0, 180.0, 175.0, 170.0];
        assert_eq!(antimeridian_min(&ring), 170.0);
        assert_eq!(antimeridian_max(&ring), -170.0);
    }
}
