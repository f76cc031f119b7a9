//! Colormaps: rio-tiler's 211 named lookup tables (embedded) and TiTiler's JSON colormaps
//! (discrete `{"value": color}` and intervals `[[[min, max], color], ...]`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::error::{Error, Result};

/// 211 x (name, 256 RGBA entries), made by `tools/gen_colormaps.py` from rio-tiler's data.
static PACKED: &[u8] = include_bytes!("colormaps.bin");

/// An RGBA colour.
pub type Rgba = [u8; 4];

/// A colormap as rio-tiler applies it.
#[derive(Clone, Debug, PartialEq)]
pub enum ColorMap {
    /// 256 entries indexed by a uint8 value (named colormaps, and JSON maps of exactly the
    /// keys 0..=255).
    Lut(Box<[Rgba; 256]>),
    /// Exact values to colours; anything else is transparent black. Sorted by value, one
    /// entry per value (the last given wins), so that a lookup is a binary search: a
    /// 16-bit palette has 65536 entries.
    Discrete(Vec<(f64, Rgba)>),
    /// `[min, max)` ranges to colours, later ranges winning.
    Intervals(Vec<((f64, f64), Rgba)>),
}

fn named() -> &'static BTreeMap<&'static str, &'static [u8]> {
    static MAPS: OnceLock<BTreeMap<&'static str, &'static [u8]>> = OnceLock::new();
    MAPS.get_or_init(|| {
        let mut out = BTreeMap::new();
        let mut i = 0;
        while i < PACKED.len() {
            let n = PACKED[i] as usize;
            let name = std::str::from_utf8(&PACKED[i + 1..i + 1 + n]).expect("ASCII colormap names");
            out.insert(name, &PACKED[i + 1 + n..i + 1 + n + 1024]);
            i += 1 + n + 1024;
        }
        out
    })
}

/// Names of the built-in colormaps, sorted.
pub fn names() -> Vec<&'static str> {
    named().keys().copied().collect()
}

impl ColorMap {
    /// A built-in colormap by name (`viridis`, `terrain_r`, ...).
    pub fn named(name: &str) -> Option<ColorMap> {
        let raw = named().get(name.to_ascii_lowercase().as_str())?;
        let mut lut = Box::new([[0u8; 4]; 256]);
        for (i, e) in lut.iter_mut().enumerate() {
            e.copy_from_slice(&raw[i * 4..i * 4 + 4]);
        }
        Some(ColorMap::Lut(lut))
    }

    /// TiTiler's `colormap=` JSON: `{"0": "#ff0000", "1": [0, 255, 0, 255]}` or
    /// `[[[0, 10], "#ff0000"], [[10, 20], [0, 0, 255]]]`.
    pub fn from_json(text: &str) -> Result<ColorMap> {
        let bad = |reason: String| Error::InvalidParameter { name: "colormap", reason };
        let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        match v {
            Value::Object(map) => {
                if map.is_empty() || map.len() > 65_536 {
                    return Err(bad("a colormap has between 1 and 65536 entries".into()));
                }
                let mut entries = Vec::with_capacity(map.len());
                for (k, c) in &map {
                    let key: f64 = k.trim().parse().map_err(|_| bad(format!("key '{k}' is not a number")))?;
                    entries.push((key, parse_color(c).map_err(bad)?));
                }
                // rio-tiler builds a 256-entry table only for exactly the integer keys 0..=255.
                let lut_keys = entries.len() == 256
                    && entries.iter().all(|(k, _)| k.fract() == 0.0 && (0.0..256.0).contains(k))
                    && map.keys().all(|k| !k.contains('.'));
                if lut_keys {
                    let mut lut = Box::new([[0u8; 4]; 256]);
                    for (k, c) in entries {
                        lut[k as usize] = c;
                    }
                    return Ok(ColorMap::Lut(lut));
                }
                Ok(ColorMap::discrete(entries))
            }
            Value::Array(items) => {
                if items.is_empty() || items.len() > 65_536 {
                    return Err(bad("an interval colormap has between 1 and 65536 entries".into()));
                }
                let mut out = Vec::with_capacity(items.len());
                for item in &items {
                    let pair = item
                        .as_array()
                        .filter(|a| a.len() == 2)
                        .ok_or_else(|| bad("each interval is [[min, max], color]".into()))?;
                    let range = pair[0]
                        .as_array()
                        .filter(|a| a.len() == 2)
                        .ok_or_else(|| bad("an interval is [min, max]".into()))?;
                    let (a, b) = (range[0].as_f64(), range[1].as_f64());
                    let (Some(a), Some(b)) = (a, b) else { return Err(bad("interval bounds must be numbers".into())) };
                    out.push(((a, b), parse_color(&pair[1]).map_err(bad)?));
                }
                Ok(ColorMap::Intervals(out))
            }
            _ => Err(bad("a colormap is a JSON object or an array of intervals".into())),
        }
    }

    /// The colormap of a dataset's palette, as rio-tiler applies a `{index: colour}` dict:
    /// a lookup table when the indexes are exactly 0..=255, exact values otherwise.
    pub fn from_palette(entries: &[(u32, Rgba)]) -> ColorMap {
        if entries.len() == 256 && entries.iter().all(|&(k, _)| k < 256) {
            let mut lut = Box::new([[0u8; 4]; 256]);
            for &(k, c) in entries {
                lut[k as usize] = c;
            }
            return ColorMap::Lut(lut);
        }
        ColorMap::discrete(entries.iter().map(|&(k, c)| (k as f64, c)).collect())
    }

    /// Exact values to colours, the later of equal values winning (as a Python dict built
    /// from them). NaN keys never match (`v == nan` is false) and are dropped; `-0.0` is
    /// `0.0`.
    fn discrete(entries: Vec<(f64, Rgba)>) -> ColorMap {
        let mut d: Vec<(f64, Rgba)> =
            entries.into_iter().filter(|(k, _)| !k.is_nan()).map(|(k, c)| (k + 0.0, c)).collect();
        // Stable: among equal keys the order given is kept, and the last one is kept below.
        d.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut out: Vec<(f64, Rgba)> = Vec::with_capacity(d.len());
        for e in d {
            match out.last_mut() {
                Some(last) if last.0 == e.0 => *last = e,
                _ => out.push(e),
            }
        }
        ColorMap::Discrete(out)
    }

    /// The 256 entries of a lookup-table colormap.
    pub fn lut(&self) -> Option<&[Rgba; 256]> {
        match self {
            ColorMap::Lut(l) => Some(l),
            _ => None,
        }
    }

    /// Colour of one value, as rio-tiler's `apply_cmap` computes it.
    #[inline]
    pub fn color(&self, v: f64) -> Rgba {
        match self {
            // rio-tiler casts to uint8 first (C truncation, wrapping).
            ColorMap::Lut(l) => l[cast_u8(v) as usize],
            ColorMap::Discrete(d) => {
                let v = v + 0.0;
                d.binary_search_by(|(k, _)| k.total_cmp(&v)).map_or([0; 4], |i| d[i].1)
            }
            ColorMap::Intervals(iv) => {
                let mut out = [0; 4];
                for ((a, b), c) in iv {
                    if v >= *a && v < *b {
                        out = *c;
                    }
                }
                out
            }
        }
    }
}

/// numpy's `astype(uint8)` of a float: truncation, then the low 8 bits.
#[inline]
pub fn cast_u8(v: f64) -> u8 {
    if !v.is_finite() {
        return 0;
    }
    // `as i64` truncates toward zero, as `trunc` would, without a libm call per pixel.
    (v as i64) as u8
}

/// rio-tiler's `parse_color`: `#RGB`, `#RRGGBB`, `#RRGGBBAA` or `[r, g, b(, a)]`.
pub(crate) fn parse_color(v: &Value) -> std::result::Result<Rgba, String> {
    match v {
        Value::String(s) => {
            let h = s.trim().trim_start_matches('#');
            let hex =
                |i: usize, n: usize| u8::from_str_radix(&h[i..i + n], 16).map(|x| if n == 1 { x * 17 } else { x });
            let parsed = match h.len() {
                3 | 4 => (0..h.len()).map(|i| hex(i, 1)).collect::<std::result::Result<Vec<u8>, _>>(),
                6 | 8 => (0..h.len() / 2).map(|i| hex(i * 2, 2)).collect::<std::result::Result<Vec<u8>, _>>(),
                _ => return Err(format!("'{s}' is not a hex colour")),
            }
            .map_err(|_| format!("'{s}' is not a hex colour"))?;
            Ok([parsed[0], parsed[1], parsed[2], parsed.get(3).copied().unwrap_or(255)])
        }
        Value::Array(a) if a.len() == 3 || a.len() == 4 => {
            let mut out = [0, 0, 0, 255];
            for (o, x) in out.iter_mut().zip(a) {
                *o = x.as_u64().filter(|&x| x <= 255).ok_or_else(|| format!("{x} is not a colour component (0-255)"))?
                    as u8;
            }
            Ok(out)
        }
        other => Err(format!("{other} is not a colour")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_colormap_is_embedded() {
        let names = names();
        assert_eq!(names.len(), 211);
        assert!(names.contains(&"viridis") && names.contains(&"cfastie") && names.contains(&"terrain_r"));
        // viridis: first and last entries (from the reference LUT).
        let v = ColorMap::named("viridis").unwrap();
        assert_eq!(v.lut().unwrap()[0], [68, 1, 84, 255]);
        assert_eq!(v.lut().unwrap()[255], [253, 231, 36, 255]);
        assert!(ColorMap::named("nope").is_none());
    }

    #[test]
    fn palettes_are_luts_or_exact_values() {
        let lut: Vec<(u32, Rgba)> = (0..256).map(|i| (i, [i as u8, 0, 0, 255])).collect();
        let cm = ColorMap::from_palette(&lut);
        assert_eq!(cm.lut().unwrap()[200], [200, 0, 0, 255]);
        // A 16-bit palette: exact values, found by binary search; anything else transparent.
        let big: Vec<(u32, Rgba)> = (0..65536).map(|i| (i, [(i % 256) as u8, (i / 256) as u8, 0, 255])).collect();
        let cm = ColorMap::from_palette(&big);
        assert!(cm.lut().is_none());
        assert_eq!(cm.color(513.0), [1, 2, 0, 255]);
        assert_eq!(cm.color(513.5), [0, 0, 0, 0]);
        assert_eq!(cm.color(-0.0), [0, 0, 0, 255]);
        assert_eq!(cm.color(f64::NAN), [0, 0, 0, 0]);
        // Equal keys: the last one given wins, as in the dict rio-tiler builds.
        let d = ColorMap::from_json(r##"{"1": "#ff0000", "1.0": "#00ff00", "nan": "#0000ff"}"##).unwrap();
        assert_eq!(d.color(1.0), [0, 255, 0, 255]);
        assert_eq!(d.color(f64::NAN), [0, 0, 0, 0]);
    }

    #[test]
    fn json_colormaps() {
        let d = ColorMap::from_json(r##"{"1": "#ff0000", "2": [0, 255, 0], "3.5": "#0000ff80"}"##).unwrap();
        assert_eq!(d.color(1.0), [255, 0, 0, 255]);
        assert_eq!(d.color(2.0), [0, 255, 0, 255]);
        assert_eq!(d.color(3.5), [0, 0, 255, 128]);
        assert_eq!(d.color(4.0), [0, 0, 0, 0]);
        let i = ColorMap::from_json(r##"[[[0, 10], "#f00"], [[10, 20], [0, 0, 255, 255]]]"##).unwrap();
        assert_eq!(i.color(9.99), [255, 0, 0, 255]);
        assert_eq!(i.color(10.0), [0, 0, 255, 255]);
        assert_eq!(i.color(20.0), [0, 0, 0, 0]);
        for bad in ["", "[1]", r##"{"a": "#fff"}"##, r##"{"1": "#ggg"}"##, r#"{"1": [300, 0, 0]}"#, "42"] {
            assert!(ColorMap::from_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lut_indexing_truncates_like_numpy() {
        assert_eq!(cast_u8(254.9), 254);
        assert_eq!(cast_u8(256.0), 0);
        assert_eq!(cast_u8(-1.0), 255);
        assert_eq!(cast_u8(f64::NAN), 0);
    }
}
