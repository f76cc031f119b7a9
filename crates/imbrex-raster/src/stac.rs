//! STAC items: which assets a tiler can read, where they are, and what the `raster`, `eo`
//! and `proj` extensions say about them (rio-tiler's `STACReader`, without pystac).
//!
//! Hrefs are resolved against the item's own location, as the STAC specification says
//! (rio-tiler resolves a relative href against the process's working directory).

use imbrex_tms::Bounds;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::expr::Expression;

/// Media types of assets a raster reader opens (rio-tiler's `DEFAULT_VALID_TYPE`, less the
/// HDF and JPEG 2000 formats imbrex does not read). An asset without a type is tried too.
const RASTER_TYPES: &[&str] = &[
    "image/tiff; application=geotiff",
    "image/tiff; application=geotiff; profile=cloud-optimized",
    "image/tiff; profile=cloud-optimized; application=geotiff",
    "image/vnd.stac.geotiff; cloud-optimized=true",
    "image/tiff",
    "image/x.geotiff",
];

/// The largest STAC item or MosaicJSON document read (bytes).
pub const MAX_DOCUMENT: u64 = 32 * 1024 * 1024;

/// A parsed STAC item.
#[derive(Clone, Debug)]
pub struct StacItem {
    /// Where the item was read from (its `url=`).
    pub location: String,
    pub id: String,
    /// `bbox`, or the bounds of `geometry` (WGS 84).
    pub bbox: Option<Bounds>,
    /// Readable assets, in the item's order.
    pub assets: Vec<StacAsset>,
    /// The `renders` extension's render definitions (an object), when there are some.
    pub renders: Option<Value>,
}

/// One asset of an item.
#[derive(Clone, Debug)]
pub struct StacAsset {
    pub name: String,
    /// The href, made absolute against the item's location.
    pub href: String,
    pub media_type: Option<String>,
    /// `raster:bands` (STAC 1.0) or `bands` (1.1).
    pub bands: Vec<Value>,
    /// `eo:bands` (1.0) or `bands` (1.1): band names and common names.
    pub eo_bands: Vec<Value>,
}

/// An asset as a request names it: `name`, or `name|indexes=1,2&expression=b1*2` (TiTiler's
/// `assets=` values; `|` also separates options, and `bidx` means `indexes`).
#[derive(Clone, Debug, PartialEq)]
pub struct AssetSpec {
    pub name: String,
    pub indexes: Option<Vec<usize>>,
    pub expression: Option<String>,
    pub bands: Option<Vec<String>>,
}

impl AssetSpec {
    pub fn parse(s: &str) -> Result<AssetSpec> {
        let invalid = |reason: String| Error::InvalidParameter { name: "assets", reason };
        // Options are separated by `|`, or by `&` before a known option (an expression may
        // hold `&` itself: `(b1>0)&(b2>0)`).
        let mut parts: Vec<String> = Vec::new();
        for (i, piece) in s.split('|').enumerate() {
            for (j, chunk) in piece.split('&').enumerate() {
                let known = ["indexes=", "bidx=", "expression=", "bands="].iter().any(|k| chunk.starts_with(k));
                match parts.last_mut() {
                    Some(last) if i > 0 && j > 0 && !known => {
                        last.push('&');
                        last.push_str(chunk);
                    }
                    _ => parts.push(chunk.to_string()),
                }
            }
        }
        let mut parts = parts.into_iter();
        let name = parts.next().unwrap_or_default().trim().to_string();
        if name.is_empty() {
            return Err(invalid(format!("'{s}' has no asset name")));
        }
        let mut spec = AssetSpec { name, indexes: None, expression: None, bands: None };
        for opt in parts.filter(|p| !p.is_empty()) {
            let opt = opt.as_str();
            let (k, v) = opt.split_once('=').ok_or_else(|| invalid(format!("'{opt}' is not option=value")))?;
            match k.trim() {
                "indexes" | "bidx" => {
                    let ix: std::result::Result<Vec<usize>, _> = v.split(',').map(|i| i.trim().parse()).collect();
                    match ix {
                        Ok(ix) if !ix.is_empty() && !ix.contains(&0) => spec.indexes = Some(ix),
                        _ => return Err(invalid(format!("'{v}' is not a list of band indexes (1, 2, ...)"))),
                    }
                }
                "expression" => spec.expression = Some(v.to_string()),
                "bands" => spec.bands = Some(v.split(',').map(|b| b.trim().to_string()).collect()),
                other => return Err(invalid(format!("unknown asset option '{other}' (indexes, expression, bands)"))),
            }
        }
        Ok(spec)
    }
}

/// What a stack layer needs from an asset.
#[derive(Clone, Debug)]
pub struct AssetRead {
    pub href: String,
    pub indexes: Option<Vec<usize>>,
    pub expression: Option<Expression>,
    /// The asset's nodata from `raster:bands` (all bands alike).
    pub nodata: Option<f64>,
    /// `(scale, offset)` of each band from `raster:bands`, when any band has one.
    pub scales: Option<Vec<(f64, f64)>>,
}

impl StacItem {
    /// Parse an item read from `location`.
    pub fn parse(location: &str, bytes: &[u8]) -> Result<StacItem> {
        let corrupt = |reason: String| Error::corrupt(format!("STAC item {location}"), reason);
        let doc: Value = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        if doc.get("type").and_then(Value::as_str) != Some("Feature") {
            return Err(corrupt("not a STAC item (its type is not \"Feature\")".into()));
        }
        let id = doc.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        let bbox = doc
            .get("bbox")
            .and_then(Value::as_array)
            .and_then(|b| {
                let v: Vec<f64> = b.iter().filter_map(Value::as_f64).collect();
                match v.len() {
                    4 => Some(Bounds::new(v[0], v[1], v[2], v[3])),
                    6 => Some(Bounds::new(v[0], v[1], v[3], v[4])),
                    _ => None,
                }
            })
            .or_else(|| doc.get("geometry").and_then(geometry_bounds));
        let assets_doc = doc.get("assets").and_then(Value::as_object).ok_or_else(|| corrupt("no assets".into()))?;
        let mut assets = Vec::new();
        for (name, a) in assets_doc {
            let media_type = a.get("type").and_then(Value::as_str).map(str::to_string);
            if media_type.as_deref().is_some_and(|t| !RASTER_TYPES.contains(&t)) {
                continue;
            }
            let Some(href) = a.get("href").and_then(Value::as_str) else { continue };
            let list = |k: &str| a.get(k).and_then(Value::as_array).cloned();
            let bands = list("raster:bands").or_else(|| list("bands")).unwrap_or_default();
            let eo_bands = list("eo:bands").or_else(|| list("bands")).unwrap_or_default();
            assets.push(StacAsset {
                name: name.clone(),
                href: resolve_href(location, href),
                media_type,
                bands,
                eo_bands,
            });
        }
        let renders = doc.get("properties").and_then(|p| p.get("renders")).or_else(|| doc.get("renders")).cloned();
        Ok(StacItem { location: location.to_string(), id, bbox, assets, renders })
    }

    pub fn asset(&self, name: &str) -> Result<&StacAsset> {
        self.assets.iter().find(|a| a.name == name).ok_or_else(|| Error::InvalidParameter {
            name: "assets",
            reason: format!(
                "'{name}' is not valid, should be one of {:?}",
                self.assets.iter().map(|a| a.name.as_str()).collect::<Vec<_>>()
            ),
        })
    }

    /// How to read an asset a request names.
    pub fn read(&self, spec: &AssetSpec, max_expression: usize) -> Result<AssetRead> {
        let asset = self.asset(&spec.name)?;
        let mut indexes = spec.indexes.clone();
        if let Some(names) = &spec.bands {
            if asset.eo_bands.is_empty() {
                return Err(Error::InvalidParameter {
                    name: "assets",
                    reason: format!("'{}' has no band metadata: the 'bands' option cannot be used", asset.name),
                });
            }
            // rio-tiler: the common name first, then the name, then the index.
            let mut ix = Vec::new();
            for n in names {
                let pos = asset.eo_bands.iter().position(|b| {
                    let field = |k: &str| b.get(k).and_then(Value::as_str);
                    field("eo:common_name").or(field("common_name")).or(field("name")) == Some(n.as_str())
                });
                let pos = pos.ok_or_else(|| Error::InvalidParameter {
                    name: "assets",
                    reason: format!("band '{n}' is not in the metadata of '{}'", asset.name),
                })?;
                ix.push(pos + 1);
            }
            indexes = Some(ix);
        }
        let expression = spec.expression.as_deref().map(|e| Expression::parse(e, max_expression)).transpose()?;
        let nodata = asset.bands.iter().filter_map(|b| b.get("nodata")).find_map(nodata_value);
        let number = |b: &Value, k: &str, default: f64| b.get(k).and_then(Value::as_f64).unwrap_or(default);
        let scales = asset
            .bands
            .iter()
            .any(|b| b.get("scale").is_some() || b.get("offset").is_some())
            .then(|| asset.bands.iter().map(|b| (number(b, "scale", 1.0), number(b, "offset", 0.0))).collect());
        Ok(AssetRead { href: asset.href.clone(), indexes, expression, nodata, scales })
    }
}

/// A `nodata` field: a number, or "nan"/"inf"/"-inf" as the raster extension writes them.
fn nodata_value(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "nan" => Some(f64::NAN),
            "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// The bounds of a GeoJSON geometry's coordinates.
fn geometry_bounds(g: &Value) -> Option<Bounds> {
    fn walk(v: &Value, b: &mut Option<Bounds>) {
        match v.as_array() {
            Some(a) if a.len() >= 2 && a[0].is_number() => {
                let (x, y) = (a[0].as_f64().unwrap_or(f64::NAN), a[1].as_f64().unwrap_or(f64::NAN));
                *b = Some(match *b {
                    None => Bounds::new(x, y, x, y),
                    Some(o) => Bounds::new(o.left.min(x), o.bottom.min(y), o.right.max(x), o.top.max(y)),
                });
            }
            Some(a) => a.iter().for_each(|c| walk(c, b)),
            None => {}
        }
    }
    let mut b = None;
    walk(g.get("coordinates")?, &mut b);
    b
}

/// An href made absolute: URLs and absolute paths as they are, relative ones joined to the
/// directory of the document that names them (a URL's or a path's).
pub fn resolve_href(location: &str, href: &str) -> String {
    if href.contains("://") || href.starts_with('/') {
        return href.to_string();
    }
    let base = match location.rfind('/') {
        Some(i) => &location[..=i],
        None => "",
    };
    let mut out: Vec<&str> = Vec::new();
    let (prefix, path) = match base.find("://") {
        // Keep `scheme://host/` out of the `..` handling.
        Some(i) => {
            let host_end = base[i + 3..].find('/').map_or(base.len(), |j| i + 3 + j + 1);
            (&base[..host_end], &base[host_end..])
        }
        None => ("", base),
    };
    let joined = format!("{path}{href}");
    for seg in joined.split('/') {
        match seg {
            "." => {}
            ".." if out.last().is_some_and(|s| !s.is_empty() && *s != "..") => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("{prefix}{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_resolve_against_the_item() {
        assert_eq!(resolve_href("/data/items/a.json", "red.tif"), "/data/items/red.tif");
        assert_eq!(resolve_href("/data/items/a.json", "./b/red.tif"), "/data/items/b/red.tif");
        assert_eq!(resolve_href("/data/items/a.json", "../red.tif"), "/data/red.tif");
        assert_eq!(resolve_href("items/a.json", "red.tif"), "items/red.tif");
        assert_eq!(resolve_href("a.json", "red.tif"), "red.tif");
        assert_eq!(resolve_href("http://h:1/x/y/a.json", "../red.tif"), "http://h:1/x/red.tif");
        assert_eq!(resolve_href("s3://bucket/x/a.json", "red.tif"), "s3://bucket/x/red.tif");
        assert_eq!(resolve_href("/data/a.json", "https://e.com/red.tif"), "https://e.com/red.tif");
        assert_eq!(resolve_href("/data/a.json", "/abs/red.tif"), "/abs/red.tif");
    }

    #[test]
    fn asset_specs() {
        let s = AssetSpec::parse("red|indexes=1,2&expression=b1*2").unwrap();
        assert_eq!(s.name, "red");
        assert_eq!(s.indexes, Some(vec![1, 2]));
        assert_eq!(s.expression.as_deref(), Some("b1*2"));
        assert_eq!(AssetSpec::parse("data|bidx=1").unwrap().indexes, Some(vec![1]));
        assert_eq!(AssetSpec::parse("a|indexes=2|expression=b2").unwrap().indexes, Some(vec![2]));
        assert!(AssetSpec::parse("|indexes=1").is_err());
        assert!(AssetSpec::parse("a|indexes=0").is_err());
        assert!(AssetSpec::parse("a|colour=1").is_err());
        let s = AssetSpec::parse("a|expression=(b1>0)&(b2>0)&indexes=1").unwrap();
        assert_eq!(s.expression.as_deref(), Some("(b1>0)&(b2>0)"));
        assert_eq!(s.indexes, Some(vec![1]));
    }
}
