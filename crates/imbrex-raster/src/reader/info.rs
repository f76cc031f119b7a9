//! rio-tiler's `Info` document.

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::Reader;
use crate::array::DataType;
use crate::tiff::NodataType;

/// `(band name, description)`, serialised as a two-element array.
#[derive(Clone, Debug, PartialEq)]
pub struct BandDescription(pub String, pub String);

impl Serialize for BandDescription {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(2))?;
        seq.serialize_element(&self.0)?;
        seq.serialize_element(&self.1)?;
        seq.end()
    }
}

/// A palette `{index: [r, g, b, a]}`, serialised with keys in numeric order.
#[derive(Clone, Debug, PartialEq)]
pub struct Palette(pub Vec<(u32, [u8; 4])>);

impl Serialize for Palette {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(&k.to_string(), v)?;
        }
        map.end()
    }
}

/// Dataset metadata, with rio-tiler's field names and order.
#[derive(Clone, Debug, Serialize)]
pub struct Info {
    pub bounds: [f64; 4],
    /// OGC URI when the CRS has an EPSG code, else its WKT; `null` for pixel-space images.
    pub crs: Option<String>,
    pub band_metadata: Vec<(String, BTreeMap<String, String>)>,
    pub band_descriptions: Vec<BandDescription>,
    pub dtype: DataType,
    pub nodata_type: NodataType,
    pub colorinterp: Vec<String>,
    pub scales: Vec<f64>,
    pub offsets: Vec<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colormap: Option<Palette>,
    pub driver: String,
    pub count: usize,
    pub width: usize,
    pub height: usize,
    pub overviews: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "finite_or_null")]
    pub nodata_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minmax: Option<Vec<[f64; 2]>>,
}

/// JSON has no NaN: a NaN nodata is written as `null` (what TiTiler's orjson responses do).
fn finite_or_null<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) if x.is_finite() => s.serialize_f64(*x),
        _ => s.serialize_none(),
    }
}

pub(super) fn build(r: &Reader) -> Info {
    let ds = r.dataset();
    let count = ds.count();
    let band_meta: Vec<_> = (0..count).map(|b| ds.band_metadata(b)).collect();
    let (scales, offsets) = (ds.scales(), ds.offsets());
    let colormap = ds.colormap().map(|c| Palette(c.into_iter().enumerate().map(|(i, v)| (i as u32, v)).collect()));
    let band_metadata = band_meta
        .iter()
        .enumerate()
        .map(|(i, m)| (format!("b{}", i + 1), m.items.iter().cloned().collect::<BTreeMap<_, _>>()))
        .collect();
    let band_descriptions = band_meta
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let name = format!("b{}", i + 1);
            BandDescription(name.clone(), m.description.clone().filter(|d| !d.is_empty()).unwrap_or(name))
        })
        .collect();
    let stat = |m: &crate::tiff::BandMetadata, k: &str| m.get(k).and_then(|v| v.trim().parse::<f64>().ok());
    let minmax: Option<Vec<[f64; 2]>> =
        band_meta.iter().map(|m| Some([stat(m, "STATISTICS_MINIMUM")?, stat(m, "STATISTICS_MAXIMUM")?])).collect();
    let nodata_type = ds.nodata_type();
    let (w, h) = r.size();
    Info {
        bounds: r.bounds().to_array(),
        crs: r.crs().map(|c| c.to_uri_or_definition()),
        band_metadata,
        band_descriptions,
        dtype: ds.dtype(),
        nodata_type,
        colorinterp: ds.colorinterp(),
        scales,
        offsets,
        colormap,
        driver: ds.driver().to_string(),
        count,
        width: w,
        height: h,
        overviews: ds.overview_factors(),
        nodata_value: if nodata_type == NodataType::Nodata { ds.nodata() } else { None },
        minmax,
    }
}
