//! A small GeoTIFF writer for tile and preview output: classic TIFF, DEFLATE strips,
//! pixel-interleaved, the geotransform as ModelPixelScale + ModelTiepoint, the CRS as an
//! EPSG code (or GDAL's "ESRI PE String" citation for CRSs without one), nodata as
//! GDAL_NODATA and the mask as an unassociated alpha band.

use std::io::Write;

use imbrex_tms::{Crs, GeoTransform};

use crate::array::{Buffer, DataType};
use crate::error::{Error, Result};
use crate::with_buffer;

const ROWS_PER_STRIP: usize = 64;

/// What is written besides the pixels.
#[derive(Clone, Debug, Default)]
pub struct GeoInfo {
    pub transform: Option<GeoTransform>,
    pub crs: Option<Crs>,
    pub nodata: Option<f64>,
}

enum Value {
    Short(Vec<u16>),
    Long(Vec<u32>),
    Double(Vec<f64>),
    Ascii(String),
}

/// Encode `bands` planes (plus an optional alpha plane of the same type) as a GeoTIFF.
pub fn encode(
    data: &Buffer,
    bands: usize,
    width: usize,
    height: usize,
    alpha: Option<&Buffer>,
    geo: &GeoInfo,
) -> Result<Vec<u8>> {
    let dtype = data.dtype();
    let n = width * height;
    let spp = bands + usize::from(alpha.is_some());
    let alpha = alpha.map(|a| a.cast(dtype));
    // Pixel-interleaved little-endian samples, row by row.
    let size = dtype.size();
    let mut raw = Vec::with_capacity(n * spp * size);
    with_buffer!(data, v, T => {
        let a = alpha.as_ref().and_then(|a| a.as_slice::<T>());
        for i in 0..n {
            for b in 0..bands {
                raw.extend_from_slice(&v[b * n + i].to_le_bytes());
            }
            if let Some(a) = a {
                raw.extend_from_slice(&a[i].to_le_bytes());
            }
        }
    });
    let row_bytes = width * spp * size;
    let mut strips = Vec::new();
    for chunk in raw.chunks(row_bytes * ROWS_PER_STRIP) {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(chunk)
            .and_then(|_| z.finish())
            .map(|s| strips.push(s))
            .map_err(|e| Error::Io { what: "GeoTIFF encoder".into(), reason: e.to_string() })?;
    }
    let sample_format = match dtype {
        DataType::Float32 | DataType::Float64 => 3u16,
        DataType::Int8 | DataType::Int16 | DataType::Int32 => 2,
        _ => 1,
    };
    let photometric = if dtype == DataType::Uint8 && bands >= 3 { 2u16 } else { 1 };
    let mut extra = vec![0u16; spp.saturating_sub(if photometric == 2 { 3 } else { 1 })];
    if alpha.is_some()
        && let Some(last) = extra.last_mut()
    {
        *last = 2;
    }
    let mut tags: Vec<(u16, Value)> = vec![
        (256, Value::Long(vec![width as u32])),
        (257, Value::Long(vec![height as u32])),
        (258, Value::Short(vec![(size * 8) as u16; spp])),
        (259, Value::Short(vec![8])),
        (262, Value::Short(vec![photometric])),
        (273, Value::Long(vec![0; strips.len()])),
        (277, Value::Short(vec![spp as u16])),
        (278, Value::Long(vec![ROWS_PER_STRIP.min(height) as u32])),
        (279, Value::Long(strips.iter().map(|s| s.len() as u32).collect())),
        (284, Value::Short(vec![1])),
        (339, Value::Short(vec![sample_format; spp])),
    ];
    if !extra.is_empty() {
        tags.push((338, Value::Short(extra)));
    }
    if let Some(gt) = geo.transform {
        let g = gt.0;
        if g[2] == 0.0 && g[4] == 0.0 {
            tags.push((33550, Value::Double(vec![g[1], -g[5], 0.0])));
            tags.push((33922, Value::Double(vec![0.0, 0.0, 0.0, g[0], g[3], 0.0])));
        } else {
            tags.push((
                34264,
                Value::Double(vec![
                    g[1], g[2], 0.0, g[0], g[4], g[5], 0.0, g[3], 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0,
                ]),
            ));
        }
    }
    if let Some(crs) = &geo.crs {
        let (keys, citation) = geokeys(crs);
        tags.push((34735, Value::Short(keys)));
        if let Some(c) = citation {
            tags.push((34737, Value::Ascii(c)));
        }
    }
    if let Some(nd) = geo.nodata {
        let text = if nd.is_nan() { "nan".to_string() } else { format!("{nd}") };
        tags.push((42113, Value::Ascii(text)));
    }
    tags.sort_by_key(|t| t.0);
    Ok(write(tags, strips))
}

/// GeoKeyDirectory for a CRS: EPSG codes when known, else a user-defined CRS described by
/// its WKT in GDAL's "ESRI PE String" citation.
fn geokeys(crs: &Crs) -> (Vec<u16>, Option<String>) {
    let mut keys: Vec<[u16; 4]> = Vec::new();
    let geographic = crs.is_geographic();
    keys.push([1024, 0, 1, if geographic { 2 } else { 1 }]);
    keys.push([1025, 0, 1, 1]);
    let mut citation = None;
    match crs.epsg().filter(|&c| c <= u16::MAX as u32) {
        Some(code) if geographic => keys.push([2048, 0, 1, code as u16]),
        Some(code) => keys.push([3072, 0, 1, code as u16]),
        None => {
            let text = format!("ESRI PE String = {}|", crs.to_wkt().unwrap_or_else(|| crs.proj_string().to_string()));
            let key = if geographic { 2049 } else { 3073 };
            keys.push([if geographic { 2048 } else { 3072 }, 0, 1, 32767]);
            keys.push([key, 34737, text.len() as u16, 0]);
            citation = Some(text);
        }
    }
    keys.sort_by_key(|k| k[0]);
    let mut out = vec![1, 1, 0, keys.len() as u16];
    for k in keys {
        out.extend_from_slice(&k);
    }
    (out, citation)
}

/// Lay out header, IFD, out-of-line values and strips.
fn write(mut tags: Vec<(u16, Value)>, strips: Vec<Vec<u8>>) -> Vec<u8> {
    let ifd_size = 2 + tags.len() * 12 + 4;
    let mut extra: Vec<u8> = Vec::new();
    let extra_start = 8 + ifd_size;
    // Strip offsets come after the out-of-line values; compute those first.
    let payload = |v: &Value| -> Vec<u8> {
        match v {
            Value::Short(s) => s.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Value::Long(l) => l.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Value::Double(d) => d.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Value::Ascii(a) => {
                let mut b = a.as_bytes().to_vec();
                b.push(0);
                b
            }
        }
    };
    let out_of_line: usize = tags.iter().map(|(_, v)| payload(v).len()).filter(|&l| l > 4).map(|l| l + (l & 1)).sum();
    let mut offset = (extra_start + out_of_line) as u32;
    for (tag, v) in tags.iter_mut() {
        if *tag == 273 {
            *v = Value::Long(
                strips
                    .iter()
                    .map(|s| {
                        let o = offset;
                        offset += s.len() as u32;
                        o
                    })
                    .collect(),
            );
        }
    }
    let mut out = Vec::with_capacity(offset as usize);
    out.extend_from_slice(b"II*\0");
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&(tags.len() as u16).to_le_bytes());
    for (tag, v) in &tags {
        let (kind, count) = match v {
            Value::Short(s) => (3u16, s.len()),
            Value::Long(l) => (4, l.len()),
            Value::Double(d) => (12, d.len()),
            Value::Ascii(a) => (2, a.len() + 1),
        };
        let bytes = payload(v);
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&(count as u32).to_le_bytes());
        if bytes.len() <= 4 {
            let mut inline = bytes.clone();
            inline.resize(4, 0);
            out.extend_from_slice(&inline);
        } else {
            out.extend_from_slice(&((extra_start + extra.len()) as u32).to_le_bytes());
            extra.extend_from_slice(&bytes);
            if bytes.len() & 1 == 1 {
                extra.push(0);
            }
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&extra);
    for s in strips {
        out.extend_from_slice(&s);
    }
    out
}
