//! Coordinate reference systems.
//!
//! A [`Crs`] is parsed from what users and files hand us (EPSG codes, OGC URIs and URNs,
//! PROJ strings, WKT 1/2) and carries a ready `proj4rs` projection. Coordinates are always
//! handled in "GIS order" (x = longitude/easting, y = latitude/northing) inside imbrex;
//! the authority axis order is recorded in [`Crs::axis_inverted`] for the few places
//! (TileMatrixSet documents, OGC URIs in query parameters) where it matters.
//!
//! ```
//! use imbrex_tms::Crs;
//! let utm = Crs::from_user_input("EPSG:32631").unwrap();
//! assert_eq!(utm.epsg(), Some(32631));
//! assert!(!utm.is_geographic());
//! let wgs84 = Crs::from_user_input("urn:ogc:def:crs:EPSG::4326").unwrap();
//! assert!(wgs84.axis_inverted());
//! ```

mod axis_table;
mod nad83_names;
pub(crate) mod wkt;

use std::fmt;
use std::sync::{Arc, OnceLock};

use proj4rs::Proj;

use crate::error::{Error, Result};

/// A coordinate reference system with its projection ready for transforms.
#[derive(Clone)]
pub struct Crs(Arc<Inner>);

struct Inner {
    id: Identity,
    proj_string: String,
    proj: Proj,
    geographic: bool,
    axis_inverted: bool,
    name: String,
}

/// How a CRS is identified, which decides how it is written back out.
#[derive(Clone, Debug, PartialEq)]
enum Identity {
    Epsg(u32),
    /// OGC's CRS84: WGS 84 with longitude first.
    Crs84,
    /// No authority: keep the definition we were given.
    Wkt(String),
    Proj,
}

const CRS84_PROJ: &str = "+proj=longlat +datum=WGS84 +no_defs";

impl Crs {
    /// Parse anything a user, a TileMatrixSet document or a GeoTIFF may give:
    /// `EPSG:4326`, `http://www.opengis.net/def/crs/EPSG/0/3857`, `urn:ogc:def:crs:EPSG::2193`,
    /// `OGC:CRS84` and its URI forms, a PROJ string (`+proj=...`), or WKT 1/2.
    pub fn from_user_input(input: &str) -> Result<Crs> {
        let s = input.trim();
        let invalid = |reason: &str| Error::InvalidCrs { input: truncate(input), reason: reason.to_string() };
        if s.is_empty() {
            return Err(invalid("empty string"));
        }
        if s.starts_with('+') || s.starts_with("proj=") {
            return Crs::from_proj_string(s);
        }
        if wkt::keyword(s).is_some() {
            return Crs::from_wkt(s);
        }
        if s.starts_with('{') {
            return Crs::from_projjson(s);
        }
        let upper = s.to_ascii_uppercase();
        if is_crs84(&upper) {
            return Ok(Crs::crs84());
        }
        if let Some(code) = epsg_code_of(&upper) {
            return Crs::from_epsg(code);
        }
        Err(invalid("expected EPSG:<code>, an OGC CRS URI/URN, a PROJ string or WKT"))
    }

    /// The CRS registered under an EPSG code.
    pub fn from_epsg(code: u32) -> Result<Crs> {
        let def = u16::try_from(code)
            .ok()
            .and_then(crs_definitions::from_code)
            .ok_or_else(|| Error::InvalidCrs { input: format!("EPSG:{code}"), reason: "unknown EPSG code".into() })?;
        let proj_string = normalize_epsg_proj(code, def.proj4);
        let proj = Proj::from_proj_string(&proj_string).map_err(|e| unsupported(&format!("EPSG:{code}"), e))?;
        let geographic = proj.is_latlong();
        let axis_inverted = if geographic {
            axis_table::LON_FIRST_GEOGRAPHIC.binary_search(&code).is_err()
        } else {
            axis_table::NORTHING_FIRST_PROJECTED.binary_search(&code).is_ok()
        };
        let name =
            wkt::parse(def.wkt).and_then(|n| n.text(0).map(str::to_string)).unwrap_or_else(|| format!("EPSG:{code}"));
        Ok(Crs(Arc::new(Inner { id: Identity::Epsg(code), proj_string, proj, geographic, axis_inverted, name })))
    }

    /// A CRS from a PROJ string (axis order is always x/y).
    pub fn from_proj_string(s: &str) -> Result<Crs> {
        let s = s.trim();
        let s = if s.starts_with('+') { s.to_string() } else { format!("+{s}") };
        let proj =
            Proj::from_proj_string(&s).map_err(|e| Error::InvalidCrs { input: truncate(&s), reason: e.to_string() })?;
        Ok(Crs(Arc::new(Inner {
            id: Identity::Proj,
            geographic: proj.is_latlong(),
            name: "unnamed".to_string(),
            proj_string: s,
            proj,
            axis_inverted: false,
        })))
    }

    /// A CRS from WKT 1 or 2. A WKT carrying a top-level EPSG authority is resolved by its
    /// code: rebuilding a projection from WKT alone loses conventions (WKT1 of EPSG:3857
    /// describes an ellipsoidal Mercator, 21 km off the real Pseudo-Mercator).
    pub fn from_wkt(s: &str) -> Result<Crs> {
        let node =
            wkt::parse(s).ok_or_else(|| Error::InvalidCrs { input: truncate(s), reason: "malformed WKT".into() })?;
        if let Some(code) = node.epsg()
            && let Ok(crs) = Crs::from_epsg(code)
        {
            return Ok(crs);
        }
        // A PROJ4 extension (GDAL writes one for CRSs WKT1 cannot express, e.g. the
        // geostationary sweep axis) is authoritative, as it is for PROJ.
        let extension = node
            .child("EXTENSION")
            .filter(|e| e.text(0).is_some_and(|t| t.eq_ignore_ascii_case("PROJ4")))
            .and_then(|e| e.text(1))
            .map(str::to_string);
        let proj_string = match extension {
            Some(p) => p,
            None => proj4wkt::wkt_to_projstring(s)
                .map_err(|e| Error::InvalidCrs { input: truncate(s), reason: e.to_string() })?,
        };
        let proj = Proj::from_proj_string(&proj_string).map_err(|e| unsupported(s, e))?;
        let axis_inverted = matches!(node.first_axis_direction().as_deref(), Some("NORTH" | "SOUTH"));
        Ok(Crs(Arc::new(Inner {
            id: Identity::Wkt(s.trim().to_string()),
            geographic: proj.is_latlong(),
            name: node.text(0).unwrap_or("unnamed").to_string(),
            proj_string,
            proj,
            axis_inverted,
        })))
    }

    /// A CRS without an authority, from its PROJ string and the WKT to report for it
    /// (GeoTIFFs with user-defined GeoKeys).
    pub fn user_defined(proj_string: &str, wkt: &str) -> Result<Crs> {
        let proj = Proj::from_proj_string(proj_string).map_err(|e| unsupported(proj_string, e))?;
        let name = wkt::parse(wkt).and_then(|n| n.text(0).map(str::to_string)).unwrap_or_else(|| "unnamed".into());
        Ok(Crs(Arc::new(Inner {
            id: Identity::Wkt(wkt.to_string()),
            geographic: proj.is_latlong(),
            name,
            proj_string: proj_string.to_string(),
            proj,
            axis_inverted: false,
        })))
    }

    /// PROJJSON is accepted when it names its EPSG identifier (all we need from TileMatrixSet documents).
    fn from_projjson(s: &str) -> Result<Crs> {
        let value: serde_json::Value =
            serde_json::from_str(s).map_err(|e| Error::InvalidCrs { input: truncate(s), reason: e.to_string() })?;
        Crs::from_projjson_value(&value)
    }

    pub(crate) fn from_projjson_value(value: &serde_json::Value) -> Result<Crs> {
        let id = value.get("id");
        let code = id
            .filter(|id| id.get("authority").and_then(|a| a.as_str()) == Some("EPSG"))
            .and_then(|id| id.get("code"))
            .and_then(|c| c.as_u64().or_else(|| c.as_str().and_then(|s| s.parse().ok())));
        match code {
            Some(code) => Crs::from_epsg(code as u32),
            None => Err(Error::UnsupportedCrs {
                input: truncate(&value.to_string()),
                reason: "PROJJSON without an EPSG identifier".into(),
            }),
        }
    }

    /// WGS 84 geographic, EPSG axis order (latitude first).
    pub fn wgs84() -> Crs {
        static C: OnceLock<Crs> = OnceLock::new();
        C.get_or_init(|| Crs::from_epsg(4326).expect("EPSG:4326 is built in")).clone()
    }

    /// OGC CRS84: WGS 84 geographic, longitude first.
    pub fn crs84() -> Crs {
        static C: OnceLock<Crs> = OnceLock::new();
        C.get_or_init(|| {
            let proj = Proj::from_proj_string(CRS84_PROJ).expect("CRS84 is valid");
            Crs(Arc::new(Inner {
                id: Identity::Crs84,
                proj_string: CRS84_PROJ.to_string(),
                proj,
                geographic: true,
                axis_inverted: false,
                name: "WGS 84 (CRS84)".to_string(),
            }))
        })
        .clone()
    }

    /// Web Mercator (EPSG:3857).
    pub fn web_mercator() -> Crs {
        static C: OnceLock<Crs> = OnceLock::new();
        C.get_or_init(|| Crs::from_epsg(3857).expect("EPSG:3857 is built in")).clone()
    }

    /// The EPSG code, when the CRS is an EPSG one (CRS84 reports none, as pyproj does).
    pub fn epsg(&self) -> Option<u32> {
        match self.0.id {
            Identity::Epsg(code) => Some(code),
            _ => None,
        }
    }

    /// True for latitude/longitude CRSs (coordinates in degrees).
    pub fn is_geographic(&self) -> bool {
        self.0.geographic
    }

    /// True when the authority's first axis is latitude or northing (EPSG:4326, EPSG:2193, ...).
    pub fn axis_inverted(&self) -> bool {
        self.0.axis_inverted
    }

    /// Human-readable name ("WGS 84 / UTM zone 31N").
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The PROJ string driving the transforms.
    pub fn proj_string(&self) -> &str {
        &self.0.proj_string
    }

    /// True when the ellipsoid is the Earth's (PROJ guesses a WKT's celestial body from its
    /// semi-major axis the same way).
    pub fn is_earth(&self) -> bool {
        let (a, _) = self.0.proj.ellipse_parameters();
        (6_200_000.0..6_600_000.0).contains(&a)
    }

    /// A `+key=value` parameter of the PROJ string.
    pub fn proj_param(&self, key: &str) -> Option<&str> {
        self.0.proj_string.split_whitespace().find_map(|t| {
            let t = t.trim_start_matches('+');
            let (k, v) = t.split_once('=')?;
            (k == key).then_some(v)
        })
    }

    /// The PROJ projection name (`merc`, `utm`, `longlat`, ...).
    pub fn projection_name(&self) -> &str {
        self.proj_param("proj").unwrap_or("")
    }

    /// Central meridian in degrees, as GDAL normalises it (`+lon_0`, or the UTM zone's).
    pub fn central_meridian(&self) -> f64 {
        if self.projection_name() == "utm"
            && let Some(zone) = self.proj_param("zone").and_then(|z| z.parse::<f64>().ok())
        {
            return (zone - 1.0) * 6.0 - 180.0 + 3.0;
        }
        self.proj_param("lon_0").and_then(|v| v.parse().ok()).unwrap_or(0.0)
    }

    /// Latitude of origin in degrees, as GDAL normalises it (polar stereographic reports its
    /// latitude of true scale).
    pub fn latitude_of_origin(&self) -> f64 {
        let key =
            if self.projection_name() == "stere" && self.proj_param("lat_ts").is_some() { "lat_ts" } else { "lat_0" };
        self.proj_param(key).and_then(|v| v.parse().ok()).unwrap_or(0.0)
    }

    pub(crate) fn proj(&self) -> &Proj {
        &self.0.proj
    }

    /// True for OGC:CRS84 itself (not EPSG:4326: PROJ picks operations differently).
    pub(crate) fn is_crs84(&self) -> bool {
        self.0.id == Identity::Crs84
    }

    /// True for WGS 84 longitude/latitude in either axis order (the fast-path geographic CRS).
    pub(crate) fn is_wgs84_geographic(&self) -> bool {
        matches!(self.0.id, Identity::Crs84 | Identity::Epsg(4326))
    }

    /// The OGC URI (`http://www.opengis.net/def/crs/EPSG/0/3857`), when the CRS has an authority.
    pub fn to_uri(&self) -> Option<String> {
        match &self.0.id {
            Identity::Epsg(code) => Some(format!("http://www.opengis.net/def/crs/EPSG/0/{code}")),
            Identity::Crs84 => Some("http://www.opengis.net/def/crs/OGC/1.3/CRS84".to_string()),
            _ => None,
        }
    }

    /// The shortest faithful text: `EPSG:xxxx`, `OGC:CRS84`, else the WKT or PROJ string.
    pub fn to_user_string(&self) -> String {
        match &self.0.id {
            Identity::Epsg(code) => format!("EPSG:{code}"),
            Identity::Crs84 => "OGC:CRS84".to_string(),
            Identity::Wkt(wkt) => wkt.clone(),
            Identity::Proj => self.0.proj_string.clone(),
        }
    }

    /// The URI when there is one, otherwise the WKT or PROJ definition: what rio-tiler reports.
    pub fn to_uri_or_definition(&self) -> String {
        self.to_uri().unwrap_or_else(|| self.to_user_string())
    }

    /// WKT 1 of the CRS: the EPSG definition, or the WKT we were given.
    pub fn to_wkt(&self) -> Option<String> {
        match &self.0.id {
            Identity::Epsg(code) => {
                u16::try_from(*code).ok().and_then(crs_definitions::from_code).map(|d| d.wkt.to_string())
            }
            Identity::Crs84 => crs_definitions::from_code(4326).map(|d| d.wkt.to_string()),
            Identity::Wkt(wkt) => Some(wkt.clone()),
            Identity::Proj => None,
        }
    }

    /// Metres per CRS unit (degrees count along the equator of the ellipsoid, as morecantile does).
    pub fn meters_per_unit(&self) -> f64 {
        if self.0.geographic {
            let (a, _) = self.0.proj.ellipse_parameters();
            2.0 * std::f64::consts::PI * a / 360.0
        } else {
            self.0.proj.to_meter()
        }
    }

    /// The geographic (longitude/latitude) CRS on this CRS's datum: what morecantile calls
    /// `geodetic_crs` and uses to report a tile's geographic bounds.
    pub fn geodetic_crs(&self) -> Crs {
        if self.0.geographic {
            return self.clone();
        }
        if self.is_wgs84_datum() {
            return Crs::crs84();
        }
        let datum: Vec<&str> = self
            .0
            .proj_string
            .split_whitespace()
            .filter(|t| {
                let key = t.trim_start_matches('+').split('=').next().unwrap_or("");
                matches!(key, "ellps" | "a" | "b" | "rf" | "f" | "R" | "datum" | "towgs84" | "nadgrids" | "pm")
            })
            .collect();
        let proj_string = format!("+proj=longlat {} +no_defs", datum.join(" "));
        Crs::from_proj_string(&proj_string).unwrap_or_else(|_| Crs::crs84())
    }

    /// True when the datum is WGS 84 (or equivalent with a null shift), so the geodetic CRS is CRS84.
    pub(crate) fn is_wgs84_datum(&self) -> bool {
        let p = &self.0.proj_string;
        p.contains("+datum=WGS84")
            || (p.contains("+nadgrids=@null") && p.contains("+a=6378137") && p.contains("+b=6378137"))
    }

    /// True for a CRS on NAD83 (EPSG datum 6269) that is not an EPSG one and gives no shift
    /// of its own to WGS 84 (`TOWGS84`, grids): PROJ chooses its transformation into
    /// OGC:CRS84 by whether it can identify it (see `transform.rs`).
    pub(crate) fn is_nad83_without_shift(&self) -> bool {
        if self.proj_param("nadgrids").is_some() {
            return false;
        }
        // `+datum=NAD83` without `+towgs84`: a PROJ string, or GeoKeys naming NAD83's code.
        let datum_nad83 = self.proj_param("datum") == Some("NAD83") && self.proj_param("towgs84").is_none();
        match &self.0.id {
            Identity::Proj => datum_nad83,
            // proj4wkt writes a null +towgs84 for every WKT datum: the WKT itself tells
            // whether it gave one.
            Identity::Wkt(wkt) => {
                datum_nad83
                    || wkt::parse(wkt)
                        .and_then(|n| n.descendant("DATUM").cloned())
                        .is_some_and(|d| d.text(0).is_some_and(is_nad83_datum_name) && d.child("TOWGS84").is_none())
            }
            Identity::Epsg(_) | Identity::Crs84 => false,
        }
    }

    /// True when PROJ would identify this CRS as a registered one: its WKT carries an
    /// authority of its own, or its name is the name (or an alias) of a CRS on NAD83 in
    /// PROJ's database, compared as PROJ does, ignoring ASCII case only.
    pub(crate) fn has_registered_nad83_name(&self) -> bool {
        match &self.0.id {
            Identity::Epsg(_) | Identity::Crs84 => true,
            Identity::Proj => false,
            Identity::Wkt(wkt) => {
                let Some(node) = wkt::parse(wkt) else { return false };
                if node.child("AUTHORITY").is_some() || node.child("ID").is_some() {
                    return true;
                }
                let name = node.text(0).unwrap_or("").to_ascii_lowercase();
                nad83_names::REGISTERED_NAD83_NAMES.binary_search(&name.as_str()).is_ok()
            }
        }
    }

    /// Two CRSs are the same when their codes match or, lacking codes, their definitions do.
    pub fn same_as(&self, other: &Crs) -> bool {
        if Arc::ptr_eq(&self.0, &other.0) {
            return true;
        }
        match (&self.0.id, &other.0.id) {
            (Identity::Epsg(a), Identity::Epsg(b)) => a == b,
            (Identity::Crs84, Identity::Crs84) => true,
            // 4326 and CRS84 differ only in axis order, which imbrex normalises away.
            (Identity::Crs84, Identity::Epsg(4326)) | (Identity::Epsg(4326), Identity::Crs84) => true,
            _ => normalized(&self.0.proj_string) == normalized(&other.0.proj_string),
        }
    }
}

impl Crs {
    /// Equality as rasterio's `CRS.__eq__` decides it (GDAL's `EQUIVALENT` criterion): like
    /// [`Crs::same_as`], except that OGC:CRS84 and EPSG:4326 differ (by axis order). It
    /// decides whether rio-tiler reads a window or warps, so a WGS 84 dataset in
    /// WorldCRS84Quad is warped, as there.
    pub fn rasterio_eq(&self, other: &Crs) -> bool {
        match (&self.0.id, &other.0.id) {
            (Identity::Crs84, Identity::Epsg(4326)) | (Identity::Epsg(4326), Identity::Crs84) => false,
            _ => self.same_as(other),
        }
    }
}

impl PartialEq for Crs {
    fn eq(&self, other: &Self) -> bool {
        self.same_as(other)
    }
}

impl fmt::Debug for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Crs({})", truncate(&self.to_user_string()))
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_user_string())
    }
}

impl std::str::FromStr for Crs {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Crs::from_user_input(s)
    }
}

fn unsupported(input: &str, e: proj4rs::errors::Error) -> Error {
    Error::UnsupportedCrs { input: truncate(input), reason: e.to_string() }
}

fn truncate(s: &str) -> String {
    const MAX: usize = 200;
    if s.len() <= MAX {
        s.to_string()
    } else {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    }
}

fn normalized(proj: &str) -> Vec<&str> {
    let mut tokens: Vec<&str> = proj.split_whitespace().filter(|t| *t != "+no_defs" && *t != "+wktext").collect();
    tokens.sort_unstable();
    tokens
}

/// NAD83 itself (EPSG datum 6269) by the names WKT writers give it; not its realisations
/// (HARN, CSRS, NSRS2011), which are other datums.
fn is_nad83_datum_name(name: &str) -> bool {
    let key: String = name.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase();
    matches!(key.as_str(), "northamericandatum1983" | "nad83" | "dnorthamerican1983")
}

fn is_crs84(upper: &str) -> bool {
    matches!(
        upper,
        "CRS84" | "OGC:CRS84" | "OGC:1.3:CRS84" | "URN:OGC:DEF:CRS:OGC:1.3:CRS84" | "URN:OGC:DEF:CRS:OGC::CRS84"
    ) || (upper.contains("OPENGIS.NET/DEF/CRS/OGC/") && upper.ends_with("/CRS84"))
}

/// The EPSG code in `EPSG:n`, `http(s)://www.opengis.net/def/crs/EPSG/<version>/n` or
/// `urn:ogc:def:crs:EPSG:<version?>:n` (input already upper-cased).
fn epsg_code_of(upper: &str) -> Option<u32> {
    let tail = if let Some(rest) = upper.strip_prefix("EPSG:") {
        rest
    } else if let Some(rest) = upper.strip_prefix("URN:OGC:DEF:CRS:EPSG:") {
        rest.rsplit(':').next()?
    } else if let Some(pos) = upper.find("OPENGIS.NET/DEF/CRS/EPSG/") {
        upper[pos..].rsplit('/').next()?
    } else {
        return None;
    };
    tail.trim().parse().ok()
}

/// Adjust EPSG proj strings whose datum needs grids we do not ship.
///
/// `+datum=NAD27` asks for the NADCON/NTv2 grids. PROJ without those grids (GDAL's usual
/// install, and the oracle's) uses the 3-parameter Helmert "NAD27 to WGS 84 (6)"
/// (-8, 159, 175; 7 m) for the conterminous US, so we do the same, explicitly.
fn normalize_epsg_proj(_code: u32, proj4: &str) -> String {
    proj4.replace("+datum=NAD27", "+ellps=clrk66 +towgs84=-8,159,175,0,0,0,0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_identifier_form() {
        for s in [
            "EPSG:3857",
            "epsg:3857",
            "http://www.opengis.net/def/crs/EPSG/0/3857",
            "https://www.opengis.net/def/crs/EPSG/0/3857",
            "urn:ogc:def:crs:EPSG::3857",
            "urn:ogc:def:crs:EPSG:6.18.3:3857",
        ] {
            assert_eq!(Crs::from_user_input(s).unwrap().epsg(), Some(3857), "{s}");
        }
        for s in ["OGC:CRS84", "http://www.opengis.net/def/crs/OGC/1.3/CRS84", "urn:ogc:def:crs:OGC:1.3:CRS84"] {
            let c = Crs::from_user_input(s).unwrap();
            assert!(c.is_geographic() && !c.axis_inverted(), "{s}");
        }
    }

    #[test]
    fn axis_order_follows_the_authority() {
        assert!(Crs::from_epsg(4326).unwrap().axis_inverted());
        assert!(!Crs::from_epsg(3857).unwrap().axis_inverted());
        assert!(!Crs::from_epsg(32631).unwrap().axis_inverted());
        assert!(Crs::from_epsg(2193).unwrap().axis_inverted());
        assert!(Crs::from_epsg(3035).unwrap().axis_inverted());
        assert!(!Crs::crs84().axis_inverted());
    }

    #[test]
    fn wkt_with_code_resolves_by_code() {
        let wkt = crs_definitions::from_code(3857).unwrap().wkt;
        let c = Crs::from_user_input(wkt).unwrap();
        assert_eq!(c.epsg(), Some(3857));
        assert!(c.same_as(&Crs::web_mercator()));
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        for s in ["", "EPSG:", "EPSG:abc", "EPSG:99999999", "foo", "+proj=nonsense", "PROJCS[", "{\"a\":1}"] {
            assert!(Crs::from_user_input(s).is_err(), "{s:?} should fail");
        }
    }

    #[test]
    fn meters_per_unit() {
        let deg = Crs::wgs84().meters_per_unit();
        assert!((deg - 111_319.490_793_273_57).abs() < 1e-6, "{deg}");
        assert_eq!(Crs::web_mercator().meters_per_unit(), 1.0);
    }
}
