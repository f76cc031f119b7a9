//! GeoTIFF georeferencing: GeoKeys to a [`Crs`], model tie points, pixel scale or
//! transformation to a geotransform, and ground control points.

use std::collections::BTreeMap;

use imbrex_tms::{Crs, GeoTransform};

use super::ifd::RawIfd;
use super::tags::{self, geokey as k};

/// A ground control point: pixel/line to georeferenced x/y.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gcp {
    pub pixel: f64,
    pub line: f64,
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

/// What the GeoTIFF tags say about where the image is.
#[derive(Clone, Debug, Default)]
pub struct Georef {
    pub crs: Option<Crs>,
    pub transform: Option<GeoTransform>,
    pub gcps: Vec<Gcp>,
    pub pixel_is_point: bool,
    /// Why the CRS could not be built, when there are keys we could not use.
    pub crs_error: Option<String>,
}

/// A GeoKey value.
#[derive(Clone, Debug)]
enum KeyValue {
    Short(u16),
    Doubles(Vec<f64>),
    Ascii(String),
}

struct GeoKeys(BTreeMap<u16, KeyValue>);

impl GeoKeys {
    fn read(raw: &RawIfd) -> Option<GeoKeys> {
        let dir = raw.u64s(tags::GEO_KEY_DIRECTORY)?;
        if dir.len() < 4 {
            return None;
        }
        let doubles = raw.f64s(tags::GEO_DOUBLE_PARAMS).unwrap_or_default();
        let ascii = raw.string(tags::GEO_ASCII_PARAMS).unwrap_or_default();
        let n = dir[3] as usize;
        let mut keys = BTreeMap::new();
        for i in 0..n {
            let Some(e) = dir.get(4 + i * 4..8 + i * 4) else { break };
            let (id, loc, count, value) = (e[0] as u16, e[1] as u16, e[2] as usize, e[3] as usize);
            let v = match loc {
                0 => KeyValue::Short(value as u16),
                tags::GEO_DOUBLE_PARAMS => match doubles.get(value..value + count) {
                    Some(d) => KeyValue::Doubles(d.to_vec()),
                    None => continue,
                },
                tags::GEO_ASCII_PARAMS => match ascii.get(value..(value + count).min(ascii.len())) {
                    Some(s) => KeyValue::Ascii(s.trim_end_matches(['|', '\0']).to_string()),
                    None => continue,
                },
                _ => continue,
            };
            keys.insert(id, v);
        }
        Some(GeoKeys(keys))
    }

    fn short(&self, key: u16) -> Option<u16> {
        match self.0.get(&key)? {
            KeyValue::Short(v) => Some(*v),
            _ => None,
        }
    }

    fn double(&self, key: u16) -> Option<f64> {
        match self.0.get(&key)? {
            KeyValue::Doubles(v) => v.first().copied(),
            KeyValue::Short(v) => Some(*v as f64),
            _ => None,
        }
    }

    fn ascii(&self, key: u16) -> Option<&str> {
        match self.0.get(&key)? {
            KeyValue::Ascii(s) => Some(s),
            _ => None,
        }
    }

    /// The first of several equivalent parameter keys that is present (GDAL accepts the
    /// variants writers use interchangeably).
    fn param(&self, keys: &[u16]) -> Option<f64> {
        keys.iter().find_map(|&key| self.double(key))
    }
}

/// Read georeferencing from the first image's tags.
pub fn read_georef(raw: &RawIfd) -> Georef {
    let keys = GeoKeys::read(raw);
    let pixel_is_point = keys.as_ref().and_then(|k| k.short(k::GT_RASTER_TYPE)) == Some(k::RASTER_PIXEL_IS_POINT);
    let (crs, crs_error) = match &keys {
        Some(keys) => match crs_from_keys(keys) {
            Ok(c) => (c, None),
            Err(e) => (None, Some(e)),
        },
        None => (None, None),
    };

    let mut transform = None;
    let mut gcps = Vec::new();
    let tie = raw.f64s(tags::MODEL_TIEPOINT).unwrap_or_default();
    let scale = raw.f64s(tags::MODEL_PIXEL_SCALE);
    if let Some(m) = raw.f64s(tags::MODEL_TRANSFORMATION).filter(|m| m.len() >= 16) {
        transform = Some(GeoTransform([m[3], m[0], m[1], m[7], m[4], m[5]]));
    } else if let Some(s) = scale.filter(|s| s.len() >= 2 && s[0] != 0.0 && s[1] != 0.0)
        && tie.len() >= 6
    {
        // A negative ScaleY is taken as north-up anyway, as GDAL does by default.
        let gt1 = s[0];
        let gt5 = if s[1] < 0.0 { s[1] } else { -s[1] };
        transform = Some(GeoTransform([tie[3] - tie[0] * gt1, gt1, 0.0, tie[4] - tie[1] * gt5, 0.0, gt5]));
    } else if tie.len() >= 6 {
        gcps = tie.chunks_exact(6).map(|t| Gcp { pixel: t[0], line: t[1], x: t[3], y: t[4], z: t[5] }).collect();
        if pixel_is_point {
            for g in &mut gcps {
                g.pixel += 0.5;
                g.line += 0.5;
            }
        }
    }
    if pixel_is_point && let Some(GeoTransform(g)) = &mut transform {
        // The tie point names a pixel centre: move the origin half a pixel up-left.
        g[0] -= g[1] * 0.5 + g[2] * 0.5;
        g[3] -= g[4] * 0.5 + g[5] * 0.5;
    }
    Georef { crs, transform, gcps, pixel_is_point, crs_error }
}

/// The CRS the keys describe: an EPSG code when there is one, else a user-defined definition.
fn crs_from_keys(keys: &GeoKeys) -> Result<Option<Crs>, String> {
    let model = keys.short(k::GT_MODEL_TYPE);
    if let Some(code) = keys.short(k::PROJECTED_CS_TYPE).filter(|&c| c != 0 && c != k::USER_DEFINED) {
        return Crs::from_epsg(code as u32).map(Some).map_err(|e| e.to_string());
    }
    if model == Some(2)
        && let Some(code) = keys.short(k::GEOGRAPHIC_TYPE).filter(|&c| c != 0 && c != k::USER_DEFINED)
    {
        return Crs::from_epsg(code as u32).map(Some).map_err(|e| e.to_string());
    }
    // GDAL stores CRSs GeoKeys cannot describe as an "ESRI PE String" WKT in a citation.
    for key in [k::PCS_CITATION, k::GT_CITATION, k::GEOG_CITATION] {
        if let Some(text) = keys.ascii(key)
            && let Some(pos) = text.find("ESRI PE String = ")
        {
            let wkt = text[pos + "ESRI PE String = ".len()..].trim_end_matches('|');
            return Crs::from_wkt(wkt).map(Some).map_err(|e| e.to_string());
        }
    }
    if model.is_none() && keys.short(k::GEOGRAPHIC_TYPE).is_none() && keys.short(k::PROJ_COORD_TRANS).is_none() {
        return Ok(None);
    }
    user_defined(keys).map(Some)
}

/// A user-defined CRS from the individual GeoKeys.
fn user_defined(keys: &GeoKeys) -> Result<Crs, String> {
    let model = keys.short(k::GT_MODEL_TYPE).unwrap_or(1);
    let gcs_name = keys
        .ascii(k::GEOG_CITATION)
        .and_then(|c| c.split('|').find_map(|p| p.trim().strip_prefix("GCS Name = ")).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    let datum = datum_params(keys, &gcs_name)?;
    if model == 2 {
        let proj = format!("+proj=longlat {} +no_defs", datum.proj);
        return Crs::user_defined(&proj, &datum.wkt).map_err(|e| e.to_string());
    }
    let name = keys
        .ascii(k::PCS_CITATION)
        .or_else(|| keys.ascii(k::GT_CITATION))
        .map(|s| s.split('|').next().unwrap_or("unnamed").trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unnamed".into());
    let (proj, wkt_projection) = projection_params(keys)?;
    let units = match keys.short(k::PROJ_LINEAR_UNITS) {
        None | Some(9001) => "+units=m".to_string(),
        Some(9002) => "+units=ft".to_string(),
        Some(9003) => "+units=us-ft".to_string(),
        Some(other) => return Err(format!("linear unit {other} is not supported")),
    };
    let proj_string = format!("{proj} {} {units} +no_defs", datum.proj);
    let wkt = format!(
        "PROJCS[\"{name}\",{},{wkt_projection},UNIT[\"metre\",1,AUTHORITY[\"EPSG\",\"9001\"]],AXIS[\"Easting\",EAST],AXIS[\"Northing\",NORTH]]",
        datum.wkt
    );
    Crs::user_defined(&proj_string, &wkt).map_err(|e| e.to_string())
}

/// The geographic part of a user-defined CRS: PROJ datum parameters and a WKT GEOGCS.
struct Datum {
    proj: String,
    wkt: String,
}

/// Ellipsoid and datum of a user-defined geographic CRS.
fn datum_params(keys: &GeoKeys, gcs_name: &str) -> Result<Datum, String> {
    // A known geographic CRS code carries everything.
    if let Some(code) = keys.short(k::GEOGRAPHIC_TYPE).filter(|&c| c != 0 && c != k::USER_DEFINED) {
        let crs = Crs::from_epsg(code as u32).map_err(|e| e.to_string())?;
        let proj: Vec<&str> =
            crs.proj_string().split_whitespace().filter(|t| !t.starts_with("+proj=") && *t != "+no_defs").collect();
        let wkt = crs.to_wkt().unwrap_or_default();
        return Ok(Datum { proj: proj.join(" "), wkt });
    }
    let (mut a, mut rf) = match keys.short(k::GEOG_ELLIPSOID) {
        Some(7030) => (6378137.0, 298.257223563),
        Some(7019) => (6378137.0, 298.257222101),
        Some(7008) => (6378206.4, 294.978698213898),
        Some(7004) => (6377397.155, 299.1528128),
        Some(7022) => (6378388.0, 297.0),
        Some(7043) => (6378135.0, 298.26),
        Some(7024) => (6378245.0, 298.3),
        _ => (f64::NAN, f64::NAN),
    };
    if let Some(v) = keys.double(k::GEOG_SEMI_MAJOR_AXIS) {
        a = v;
    }
    if let Some(v) = keys.double(k::GEOG_INV_FLATTENING) {
        rf = v;
    } else if let Some(b) = keys.double(k::GEOG_SEMI_MINOR_AXIS) {
        rf = if (a - b).abs() < 1e-9 { 0.0 } else { a / (a - b) };
    }
    if !a.is_finite() {
        return Err("user-defined ellipsoid without a semi-major axis".into());
    }
    let sphere = !rf.is_finite() || rf == 0.0;
    let ellps = if sphere { format!("+a={a} +b={a}") } else { format!("+a={a} +rf={rf}") };
    // WGS 84's and NAD83's datum codes need no shift to WGS 84 (PROJ's "NAD83 to WGS 84
    // (1)" is null), whatever ellipsoid the keys give: latitude and longitude pass through,
    // as PROJ does for a registered datum with an overridden ellipsoid.
    let (towgs84, datum_name) = match keys.short(k::GEOG_GEODETIC_DATUM) {
        Some(6326) => ("", "WGS_1984"),
        Some(6269) => ("", "North_American_Datum_1983"),
        Some(6267) => (" +towgs84=-8,159,175,0,0,0,0", "North_American_Datum_1927"),
        // No datum: transformations to WGS 84 keep latitude/longitude as they are (PROJ's
        // "ballpark" operation).
        _ if keys.short(k::GEOG_ELLIPSOID) == Some(7030) => ("", "Not_specified_based_on_WGS_84_spheroid"),
        _ => ("", "unnamed"),
    };
    let pm =
        keys.double(k::GEOG_PRIME_MERIDIAN_LONG).filter(|&v| v != 0.0).map(|v| format!(" +pm={v}")).unwrap_or_default();
    let wkt = format!(
        "GEOGCS[\"{gcs_name}\",DATUM[\"{datum_name}\",SPHEROID[\"Spheroid\",{a},{}]],PRIMEM[\"Greenwich\",0],UNIT[\"degree\",0.0174532925199433,AUTHORITY[\"EPSG\",\"9122\"]]]",
        if sphere { 0.0 } else { rf }
    );
    Ok(Datum { proj: format!("{ellps}{towgs84}{pm}"), wkt })
}

/// PROJ parameters and WKT PROJECTION/PARAMETER elements for the projection keys.
fn projection_params(keys: &GeoKeys) -> Result<(String, String), String> {
    // EPSG "conversion" codes GDAL writes for UTM zones (16001-16060 north, 16101-16160 south).
    if let Some(code) = keys.short(k::PROJECTION).filter(|&c| c != k::USER_DEFINED) {
        let (zone, south) = match code {
            16001..=16060 => (code - 16000, false),
            16101..=16160 => (code - 16100, true),
            _ => return Err(format!("projection code {code} is not supported")),
        };
        let lon0 = zone as f64 * 6.0 - 183.0;
        let fn_ = if south { 10_000_000.0 } else { 0.0 };
        return Ok((
            format!("+proj=utm +zone={zone}{}", if south { " +south" } else { "" }),
            tm_wkt(0.0, lon0, 0.9996, 500_000.0, fn_),
        ));
    }
    let ct = keys.short(k::PROJ_COORD_TRANS).ok_or("projected CRS without a projection")?;
    let lat0 = keys.param(&[k::PROJ_NAT_ORIGIN_LAT, k::PROJ_FALSE_ORIGIN_LAT, k::PROJ_CENTER_LAT]).unwrap_or(0.0);
    let lon0 = keys.param(&[k::PROJ_NAT_ORIGIN_LONG, k::PROJ_FALSE_ORIGIN_LONG, k::PROJ_CENTER_LONG]).unwrap_or(0.0);
    let fe = keys.param(&[k::PROJ_FALSE_EASTING, k::PROJ_FALSE_ORIGIN_EASTING, k::PROJ_CENTER_EASTING]).unwrap_or(0.0);
    let fn_ =
        keys.param(&[k::PROJ_FALSE_NORTHING, k::PROJ_FALSE_ORIGIN_NORTHING, k::PROJ_CENTER_NORTHING]).unwrap_or(0.0);
    let k0 = keys.param(&[k::PROJ_SCALE_AT_NAT_ORIGIN, k::PROJ_SCALE_AT_CENTER]).unwrap_or(1.0);
    let sp1 = keys.double(k::PROJ_STD_PARALLEL1).unwrap_or(lat0);
    let sp2 = keys.double(k::PROJ_STD_PARALLEL2).unwrap_or(sp1);
    let param = |name: &str, v: f64| format!("PARAMETER[\"{name}\",{v}]");
    let out = match ct {
        1 => (
            format!("+proj=tmerc +lat_0={lat0} +lon_0={lon0} +k={k0} +x_0={fe} +y_0={fn_}"),
            tm_wkt(lat0, lon0, k0, fe, fn_),
        ),
        7 => (
            format!("+proj=merc +lon_0={lon0} +k={k0} +x_0={fe} +y_0={fn_}"),
            format!(
                "PROJECTION[\"Mercator_1SP\"],{},{},{},{},{}",
                param("latitude_of_origin", 0.0),
                param("central_meridian", lon0),
                param("scale_factor", k0),
                param("false_easting", fe),
                param("false_northing", fn_)
            ),
        ),
        8 => (
            format!("+proj=lcc +lat_1={sp1} +lat_2={sp2} +lat_0={lat0} +lon_0={lon0} +x_0={fe} +y_0={fn_}"),
            format!(
                "PROJECTION[\"Lambert_Conformal_Conic_2SP\"],{},{},{},{},{},{}",
                param("standard_parallel_1", sp1),
                param("standard_parallel_2", sp2),
                param("latitude_of_origin", lat0),
                param("central_meridian", lon0),
                param("false_easting", fe),
                param("false_northing", fn_)
            ),
        ),
        9 => (
            format!("+proj=lcc +lat_1={lat0} +lat_0={lat0} +lon_0={lon0} +k_0={k0} +x_0={fe} +y_0={fn_}"),
            format!(
                "PROJECTION[\"Lambert_Conformal_Conic_1SP\"],{},{},{},{},{}",
                param("latitude_of_origin", lat0),
                param("central_meridian", lon0),
                param("scale_factor", k0),
                param("false_easting", fe),
                param("false_northing", fn_)
            ),
        ),
        10 => (
            format!("+proj=laea +lat_0={lat0} +lon_0={lon0} +x_0={fe} +y_0={fn_}"),
            format!(
                "PROJECTION[\"Lambert_Azimuthal_Equal_Area\"],{},{},{},{}",
                param("latitude_of_center", lat0),
                param("longitude_of_center", lon0),
                param("false_easting", fe),
                param("false_northing", fn_)
            ),
        ),
        11 => (
            format!("+proj=aea +lat_1={sp1} +lat_2={sp2} +lat_0={lat0} +lon_0={lon0} +x_0={fe} +y_0={fn_}"),
            format!(
                "PROJECTION[\"Albers_Conic_Equal_Area\"],{},{},{},{},{},{}",
                param("standard_parallel_1", sp1),
                param("standard_parallel_2", sp2),
                param("latitude_of_center", lat0),
                param("longitude_of_center", lon0),
                param("false_easting", fe),
                param("false_northing", fn_)
            ),
        ),
        15 => {
            let lon = keys.param(&[k::PROJ_STRAIGHT_VERT_POLE_LONG]).unwrap_or(lon0);
            let pole = if lat0 < 0.0 { -90.0 } else { 90.0 };
            (
                format!("+proj=stere +lat_0={pole} +lat_ts={lat0} +lon_0={lon} +k={k0} +x_0={fe} +y_0={fn_}"),
                format!(
                    "PROJECTION[\"Polar_Stereographic\"],{},{},{},{},{}",
                    param("latitude_of_origin", lat0),
                    param("central_meridian", lon),
                    param("scale_factor", k0),
                    param("false_easting", fe),
                    param("false_northing", fn_)
                ),
            )
        }
        16 => (
            format!("+proj=sterea +lat_0={lat0} +lon_0={lon0} +k={k0} +x_0={fe} +y_0={fn_}"),
            format!(
                "PROJECTION[\"Oblique_Stereographic\"],{},{},{},{},{}",
                param("latitude_of_origin", lat0),
                param("central_meridian", lon0),
                param("scale_factor", k0),
                param("false_easting", fe),
                param("false_northing", fn_)
            ),
        ),
        17 => {
            let lat_ts = keys.double(k::PROJ_STD_PARALLEL1).unwrap_or(0.0);
            (
                format!("+proj=eqc +lat_ts={lat_ts} +lat_0={lat0} +lon_0={lon0} +x_0={fe} +y_0={fn_}"),
                format!(
                    "PROJECTION[\"Equirectangular\"],{},{},{},{}",
                    param("standard_parallel_1", lat_ts),
                    param("central_meridian", lon0),
                    param("false_easting", fe),
                    param("false_northing", fn_)
                ),
            )
        }
        // Projections with one origin and no other parameter, as GDAL names them in WKT 1.
        12 | 13 | 14 | 18 | 19 | 20 | 21 | 22 | 23 | 24 => {
            let (proj, name, lat_name, lon_name) = match ct {
                12 => ("aeqd", "Azimuthal_Equidistant", "latitude_of_center", "longitude_of_center"),
                13 => ("eqdc", "Equidistant_Conic", "latitude_of_center", "longitude_of_center"),
                14 => ("stere", "Stereographic", "latitude_of_origin", "central_meridian"),
                18 => ("cass", "Cassini_Soldner", "latitude_of_origin", "central_meridian"),
                19 => ("gnom", "Gnomonic", "latitude_of_origin", "central_meridian"),
                20 => ("mill", "Miller_Cylindrical", "latitude_of_center", "longitude_of_center"),
                21 => ("ortho", "Orthographic", "latitude_of_origin", "central_meridian"),
                22 => ("poly", "Polyconic", "latitude_of_origin", "central_meridian"),
                23 => ("robin", "Robinson", "", "longitude_of_center"),
                _ => ("sinu", "Sinusoidal", "", "longitude_of_center"),
            };
            let mut p = format!("+proj={proj}");
            let mut w = format!("PROJECTION[\"{name}\"]");
            if ct == 13 {
                p += &format!(" +lat_1={sp1} +lat_2={sp2}");
                w += &format!(",{},{}", param("standard_parallel_1", sp1), param("standard_parallel_2", sp2));
            }
            if !lat_name.is_empty() {
                p += &format!(" +lat_0={lat0}");
                w += &format!(",{}", param(lat_name, lat0));
            }
            p += &format!(" +lon_0={lon0}");
            w += &format!(",{}", param(lon_name, lon0));
            if ct == 14 {
                p += &format!(" +k={k0}");
                w += &format!(",{}", param("scale_factor", k0));
            }
            p += &format!(" +x_0={fe} +y_0={fn_}");
            w += &format!(",{},{}", param("false_easting", fe), param("false_northing", fn_));
            (p, w)
        }
        other => return Err(format!("coordinate transformation {other} is not supported")),
    };
    Ok(out)
}

fn tm_wkt(lat0: f64, lon0: f64, k0: f64, fe: f64, fn_: f64) -> String {
    format!(
        "PROJECTION[\"Transverse_Mercator\"],PARAMETER[\"latitude_of_origin\",{lat0}],PARAMETER[\"central_meridian\",{lon0}],PARAMETER[\"scale_factor\",{k0}],PARAMETER[\"false_easting\",{fe}],PARAMETER[\"false_northing\",{fn_}]"
    )
}
