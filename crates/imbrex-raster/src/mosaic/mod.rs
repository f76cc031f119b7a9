//! MosaicJSON mosaics (cogeo-mosaic's format, 0.0.2 and 0.0.3): many files indexed by Web
//! Mercator quadkeys, read as one dataset. A tile opens only the assets its quadkeys list,
//! reads them a few at a time, and combines them with a [`PixelSelection`]; `first` stops
//! reading as soon as every pixel is filled.

mod select;

pub use select::{PixelSelection, Selector};

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::sync::Arc;

use futures::StreamExt;
use futures::future::{BoxFuture, join_all};
use imbrex_tms::{Bounds, Crs, TileMatrixSet, Transformer};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::expr::Expression;
use crate::image::{ImageData, PointData};
use crate::reader::{BaseReader, Info, OutputSize, PartRequest, PointRequest, ReadOptions, Reader, TileRequest};
use crate::render::ColorMap;

/// A MosaicJSON document.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MosaicJson {
    pub mosaicjson: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default = "default_version")]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<String>,
    pub minzoom: u8,
    pub maxzoom: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quadkey_zoom: Option<u8>,
    #[serde(default = "world")]
    pub bounds: [f64; 4],
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub center: Option<[f64; 3]>,
    pub tiles: BTreeMap<String, Vec<String>>,
    /// 0.0.3: the tile matrix set of the quadkeys (only WebMercatorQuad is read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tilematrixset: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_type: Option<String>,
    /// 0.0.3: a prefix joined to every asset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colormap: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<Value>,
}

fn default_version() -> String {
    "1.0.0".into()
}

fn world() -> [f64; 4] {
    [-180.0, -90.0, 180.0, 90.0]
}

/// The largest quadkey zoom a document may index (4^16 tiles is already far too many).
const MAX_QUADKEY_ZOOM: u8 = 24;

impl MosaicJson {
    /// Parse a document read from `location`; relative assets are made absolute against it.
    pub fn parse(location: &str, bytes: &[u8]) -> Result<MosaicJson> {
        let corrupt = |reason: String| Error::corrupt(format!("MosaicJSON {location}"), reason);
        let mut doc: MosaicJson = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        if !matches!(doc.mosaicjson.as_str(), "0.0.1" | "0.0.2" | "0.0.3") {
            return Err(corrupt(format!("version {} is not 0.0.2 or 0.0.3", doc.mosaicjson)));
        }
        if let Some(tms) = &doc.tilematrixset {
            let id = tms.get("id").and_then(Value::as_str).unwrap_or_default();
            if id != "WebMercatorQuad" {
                return Err(Error::unsupported(format!("a mosaic in the '{id}' tile matrix set")));
            }
        }
        if doc.quadkey_zoom() > MAX_QUADKEY_ZOOM || doc.minzoom > doc.maxzoom {
            return Err(corrupt(format!("zooms {}-{} (quadkeys at {})", doc.minzoom, doc.maxzoom, doc.quadkey_zoom())));
        }
        let qz = doc.quadkey_zoom() as usize;
        if let Some(bad) = doc.tiles.keys().find(|k| k.len() != qz || !k.bytes().all(|b| (b'0'..=b'3').contains(&b))) {
            return Err(corrupt(format!("'{bad}' is not a quadkey of zoom {qz}")));
        }
        let prefix = doc.asset_prefix.clone().unwrap_or_default();
        for assets in doc.tiles.values_mut() {
            for a in assets.iter_mut() {
                *a = crate::stac::resolve_href(location, &format!("{prefix}{a}"));
            }
        }
        Ok(doc)
    }

    /// The zoom of the quadkeys (`minzoom` when not given, as cogeo-mosaic reads it).
    pub fn quadkey_zoom(&self) -> u8 {
        self.quadkey_zoom.unwrap_or(self.minzoom)
    }

    /// Assets of the quadkeys a WGS 84 box touches, in cogeo-mosaic's order (tiles by
    /// column, then row), each once; more than `max` is an error.
    pub fn assets_for_bounds(&self, b: Bounds, max: usize) -> Result<Vec<String>> {
        let z = self.quadkey_zoom();
        let r = TileRange::covering(b, z);
        let keys: Vec<String> = if r.len() <= self.tiles.len() as u64 {
            r.tiles().map(|(x, y)| quadkey(x, y, z)).collect()
        } else {
            // A box over more quadkeys than the document has: walk the document instead.
            let mut hits: Vec<(u64, u64, &String)> = self
                .tiles
                .keys()
                .filter_map(|k| tile_of(k).filter(|t| r.contains(*t)).map(|(x, y)| (x, y, k)))
                .collect();
            hits.sort_unstable();
            hits.into_iter().map(|(_, _, k)| k.clone()).collect()
        };
        self.assets_of(&keys, max)
    }

    /// Assets of a WebMercatorQuad tile (cogeo-mosaic's `find_quadkeys`): its parent at the
    /// quadkey zoom, or its children in mercantile's order (quadkey digits 0, 1, 3, 2 at each
    /// level), found among the document's keys.
    pub fn assets_for_mercator_tile(&self, x: u64, y: u64, z: u8, max: usize) -> Result<Vec<String>> {
        let qz = self.quadkey_zoom();
        let key = quadkey(x, y, z);
        if z >= qz {
            return self.assets_of(&[key[..qz as usize].to_string()], max);
        }
        let order = |k: &String| k.bytes().map(|d| [0u8, 1, 3, 2][(d - b'0') as usize]).collect::<Vec<u8>>();
        // The keys under the tile are one run of the sorted map, from its own quadkey on.
        let under = self.tiles.range::<str, _>((Bound::Included(key.as_str()), Bound::Unbounded));
        let mut keys: Vec<&String> = under.map(|(k, _)| k).take_while(|k| k.starts_with(&key)).collect();
        keys.sort_by_key(|k| order(k));
        let keys: Vec<String> = keys.into_iter().cloned().collect();
        self.assets_of(&keys, max)
    }

    /// The assets of some quadkeys, in order, each once.
    fn assets_of(&self, keys: &[String], max: usize) -> Result<Vec<String>> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for a in keys.iter().flat_map(|k| self.tiles.get(k).into_iter().flatten()) {
            if seen.insert(a.as_str()) {
                if out.len() == max {
                    return Err(Error::LimitExceeded {
                        limit: "mosaic assets",
                        value: max as u64 + 1,
                        max: max as u64,
                    });
                }
                out.push(a.clone());
            }
        }
        Ok(out)
    }

    /// Assets over one location.
    pub fn assets_for_point(&self, lon: f64, lat: f64, max: usize) -> Result<Vec<String>> {
        self.assets_for_bounds(Bounds::new(lon, lat, lon, lat), max)
    }
}

/// Web Mercator tiles at one zoom: columns `x0..=x1`, rows `y0..=y1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileRange {
    pub z: u8,
    pub x0: u64,
    pub x1: u64,
    pub y0: u64,
    pub y1: u64,
}

impl TileRange {
    /// The tiles at `z` a WGS 84 box touches inside (an edge shared with a tile does not
    /// count; a point on a boundary belongs to the tile after it, as mercantile places it).
    pub fn covering(b: Bounds, z: u8) -> TileRange {
        let n = 1u64 << z;
        let tx = |lon: f64| ((lon + 180.0) / 360.0 * n as f64).clamp(0.0, n as f64);
        let ty = |lat: f64| {
            let lat = lat.clamp(-85.051_128_779_806_6, 85.051_128_779_806_6).to_radians();
            ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n as f64).clamp(0.0, n as f64)
        };
        // Within a millionth of a tile of a boundary is on it: a tile's bounds brought back
        // from another CRS land a rounding error away from its neighbours' edges.
        const SNAP: f64 = 1e-6;
        let lo = |v: f64| ((v + SNAP).floor() as u64).min(n - 1);
        let hi = |v: f64, lo: u64| (((v - SNAP).ceil() as u64).saturating_sub(1)).max(lo).min(n - 1);
        let (x0, y0) = (lo(tx(b.left)), lo(ty(b.top)));
        TileRange { z, x0, y0, x1: hi(tx(b.right), x0), y1: hi(ty(b.bottom), y0) }
    }

    pub fn len(&self) -> u64 {
        (self.x1 - self.x0 + 1) * (self.y1 - self.y0 + 1)
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn contains(&self, (x, y): (u64, u64)) -> bool {
        (self.x0..=self.x1).contains(&x) && (self.y0..=self.y1).contains(&y)
    }

    /// Column by column, then row by row (morecantile's `tiles`).
    pub fn tiles(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        (self.x0..=self.x1).flat_map(move |x| (self.y0..=self.y1).map(move |y| (x, y)))
    }
}

/// Quadkeys at `z` of the tiles a WGS 84 box touches (see [`TileRange::covering`]).
pub fn quadkeys(b: Bounds, z: u8) -> Vec<String> {
    TileRange::covering(b, z).tiles().map(|(x, y)| quadkey(x, y, z)).collect()
}

/// The quadkey of a tile.
pub fn quadkey(x: u64, y: u64, z: u8) -> String {
    (1..=z)
        .rev()
        .map(|i| {
            let mask = 1u64 << (i - 1);
            let d = (x & mask != 0) as u8 + 2 * (y & mask != 0) as u8;
            (b'0' + d) as char
        })
        .collect()
}

/// The column and row of a quadkey.
fn tile_of(key: &str) -> Option<(u64, u64)> {
    let (mut x, mut y) = (0u64, 0u64);
    for d in key.bytes() {
        let d = d.checked_sub(b'0').filter(|d| *d < 4)? as u64;
        x = (x << 1) | (d & 1);
        y = (y << 1) | (d >> 1);
    }
    Some((x, y))
}

/// Opens a mosaic's assets (the server's reader cache, behind its allow-lists).
pub trait Opener: Send + Sync {
    fn open<'a>(&'a self, href: &'a str) -> BoxFuture<'a, Result<Arc<Reader>>>;
}

/// A mosaic as one request reads it.
pub struct Mosaic {
    pub doc: Arc<MosaicJson>,
    pub location: String,
    opener: Arc<dyn Opener>,
    method: PixelSelection,
    expression: Option<Expression>,
    /// Assets read at once.
    concurrency: usize,
    /// The most assets one request may read.
    max_assets: usize,
    wgs84: Crs,
}

impl fmt::Debug for Mosaic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mosaic").field("location", &self.location).field("method", &self.method).finish()
    }
}

impl Mosaic {
    pub fn new(
        doc: Arc<MosaicJson>,
        location: String,
        opener: Arc<dyn Opener>,
        method: PixelSelection,
        expression: Option<Expression>,
    ) -> Mosaic {
        Mosaic { doc, location, opener, method, expression, concurrency: 4, max_assets: 256, wgs84: Crs::wgs84() }
    }

    /// What one asset's read may hold: reads run `concurrency` at a time while the
    /// selector's running arrays hold the other half of the request's bound.
    fn share(&self, opts: &ReadOptions) -> ReadOptions {
        ReadOptions { max_bytes: opts.max_bytes / (2 * self.concurrency.max(1) as u64), ..opts.clone() }
    }

    /// Read assets a few at a time (`first`: the first alone, then a few at a time),
    /// feeding the selector in the mosaic's order and stopping once it is done. Assets the
    /// area misses are skipped.
    /// `share` is what each read may hold (see [`Mosaic::share`]).
    async fn select<'a, F>(&'a self, assets: Vec<String>, share: &ReadOptions, read: F) -> Result<ImageData>
    where
        F: Fn(Arc<Reader>) -> BoxFuture<'a, Result<ImageData>> + Sync,
    {
        if assets.is_empty() {
            return Err(Error::TileOutsideBounds("no asset of the mosaic covers this area".into()));
        }
        let mut selector = Selector::new(self.method, share.max_bytes.saturating_mul(self.concurrency as u64));
        // `first` reads the first asset alone: it usually fills the tile by itself.
        let head = if self.method == PixelSelection::First { 1 } else { self.concurrency };
        let (one, rest) = assets.split_at(head.min(assets.len()));
        for chunk in std::iter::once(one).chain(rest.chunks(self.concurrency)) {
            let reads = join_all(chunk.iter().map(|href| async {
                let reader = self.opener.open(href).await?;
                let img = read(reader).await?;
                match &self.expression {
                    Some(e) => e.apply_within(&img, share),
                    None => Ok(img),
                }
            }))
            .await;
            for r in reads {
                match r {
                    Ok(img) => selector.feed(img)?,
                    Err(Error::TileOutsideBounds(_)) => {}
                    Err(e) => return Err(e),
                }
                if selector.is_done() {
                    break;
                }
            }
            if selector.is_done() {
                break;
            }
        }
        selector.finish().ok_or_else(|| Error::TileOutsideBounds("no asset of the mosaic covers this area".into()))
    }

    /// The values of every asset at a point (TiTiler's mosaic `point`), in the mosaic's order.
    pub async fn points(&self, req: PointRequest<'_>, opts: &ReadOptions) -> Result<Vec<(String, PointData)>> {
        let (lon, lat) = self.to_wgs84(req.x, req.y, req.coord_crs)?;
        let assets = self.doc.assets_for_point(lon, lat, self.max_assets)?;
        // Owned hrefs: a stream of futures borrowing its items is not `Send` to rustc.
        let reads: Vec<Result<(String, PointData)>> = futures::stream::iter(assets)
            .map(|href: String| async move {
                let reader = self.opener.open(&href).await?;
                let pt = BaseReader::point(reader.as_ref(), req, opts).await?;
                Ok::<_, Error>((href, pt))
            })
            .buffered(self.concurrency)
            .collect()
            .await;
        let mut out = Vec::new();
        for r in reads {
            match r {
                Ok(p) => out.push(p),
                Err(Error::PointOutsideBounds(_) | Error::TileOutsideBounds(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if out.is_empty() {
            return Err(Error::PointOutsideBounds("no asset of the mosaic covers this point".into()));
        }
        Ok(out)
    }

    fn to_wgs84(&self, x: f64, y: f64, crs: Option<&Crs>) -> Result<(f64, f64)> {
        match crs {
            Some(c) if !c.same_as(&Crs::wgs84()) => {
                let b = Transformer::new(c, &Crs::wgs84())?.transform_bounds(Bounds::new(x, y, x, y), 0)?;
                Ok((b.left, b.bottom))
            }
            _ => Ok((x, y)),
        }
    }

    /// The assets a tile of `tms` reads.
    pub fn assets_for_tile(&self, tms: &TileMatrixSet, tile: imbrex_tms::Tile) -> Result<Vec<String>> {
        tms.check_tile(tile)?;
        if tms.id() == "WebMercatorQuad"
            && let Ok(z) = u8::try_from(tile.z)
            && z <= 30
        {
            return self.doc.assets_for_mercator_tile(tile.x, tile.y, z, self.max_assets);
        }
        let xy = tms.xy_bounds(tile)?;
        let geo = if tms.crs().same_as(&Crs::wgs84()) {
            xy
        } else {
            Transformer::new(tms.crs(), &Crs::wgs84())?.transform_bounds(xy, 21)?
        };
        self.doc.assets_for_bounds(geo, self.max_assets)
    }

    /// The assets a box (in `crs`, WGS 84 by default) reads.
    pub fn assets_for_bbox(&self, b: Bounds, crs: Option<&Crs>) -> Result<Vec<String>> {
        let geo = match crs {
            Some(c) if !c.same_as(&Crs::wgs84()) => Transformer::new(c, &Crs::wgs84())?.transform_bounds(b, 21)?,
            _ => b,
        };
        self.doc.assets_for_bounds(geo, self.max_assets)
    }
}

impl BaseReader for Mosaic {
    /// What a mosaic knows without opening an asset: where it is.
    fn info(&self) -> Info {
        Info {
            bounds: self.doc.bounds,
            crs: Some(Crs::wgs84().to_uri_or_definition()),
            band_metadata: Vec::new(),
            band_descriptions: Vec::new(),
            dtype: crate::array::DataType::Uint8,
            nodata_type: crate::tiff::NodataType::None,
            colorinterp: Vec::new(),
            scales: Vec::new(),
            offsets: Vec::new(),
            colormap: None,
            driver: "MosaicJSON".into(),
            count: 0,
            width: 0,
            height: 0,
            overviews: Vec::new(),
            nodata_value: None,
            minmax: None,
        }
    }

    /// TiTiler's `/mosaicjson/info`.
    fn info_document(&self) -> Value {
        json!({
            "bounds": self.doc.bounds,
            "crs": Crs::wgs84().to_uri_or_definition(),
            "name": self.doc.name.clone().unwrap_or_else(|| "mosaic".into()),
            "quadkeys": [],
            "mosaic_tilematrixset": "<TileMatrixSet title='Google Maps Compatible for the World' id='WebMercatorQuad' crs='http://www.opengis.net/def/crs/EPSG/0/3857>",
            "mosaic_minzoom": self.doc.minzoom,
            "mosaic_maxzoom": self.doc.maxzoom,
        })
    }

    fn applies_expression(&self) -> bool {
        true
    }

    fn crs(&self) -> Option<&Crs> {
        Some(&self.wgs84)
    }

    fn bounds(&self) -> Bounds {
        let b = self.doc.bounds;
        Bounds::new(b[0], b[1], b[2], b[3])
    }

    fn geographic_bounds(&self) -> Bounds {
        self.bounds()
    }

    fn zoom_range(&self, _tms: &TileMatrixSet) -> (i32, i32) {
        (self.doc.minzoom as i32, self.doc.maxzoom as i32)
    }

    fn palette(&self) -> Option<ColorMap> {
        None
    }

    async fn tile(&self, req: TileRequest<'_>, opts: &ReadOptions) -> Result<ImageData> {
        let assets = self.assets_for_tile(req.tms, req.tile)?;
        let share = &self.share(opts);
        self.select(assets, share, |r| Box::pin(async move { BaseReader::tile(r.as_ref(), req, share).await })).await
    }

    async fn part(&self, req: PartRequest<'_>, opts: &ReadOptions) -> Result<ImageData> {
        let assets = self.assets_for_bbox(req.bbox, req.bounds_crs)?;
        // Every asset into the same grid: the box in its CRS (or the output CRS).
        let crs = req.dst_crs.or(req.bounds_crs).cloned().unwrap_or_else(Crs::wgs84);
        // The assets' resolutions differ: the box's shape, 1024 pixels on its longer side
        // unless the request says otherwise, is the one grid they all fill.
        let b = req.bbox;
        let (bw, bh) = ((b.right - b.left).abs(), (b.top - b.bottom).abs());
        let scale = bw.max(bh) / OutputSize::PREVIEW_MAX as f64;
        if !(scale > 0.0 && scale.is_finite()) {
            return Err(Error::InvalidParameter { name: "bbox", reason: "the box has no area".into() });
        }
        let (h, w) = req.size.resolve(bh / scale, bw / scale);
        let size = OutputSize::exact(w.max(1), h.max(1));
        let grid = PartRequest { size, dst_crs: Some(&crs), ..req };
        let share = &self.share(opts);
        self.select(assets, share, move |r| Box::pin(async move { BaseReader::part(r.as_ref(), grid, share).await }))
            .await
    }

    /// The whole mosaic's bounds, as a part.
    async fn preview(&self, size: OutputSize, opts: &ReadOptions) -> Result<ImageData> {
        let size = if size.is_unset() { OutputSize::max(OutputSize::PREVIEW_MAX) } else { size };
        let req = PartRequest { bbox: self.bounds(), bounds_crs: Some(&self.wgs84), dst_crs: None, size };
        BaseReader::part(self, req, opts).await
    }

    /// The assets' values combined as their pixels are (each value a one-pixel image).
    async fn point(&self, req: PointRequest<'_>, opts: &ReadOptions) -> Result<PointData> {
        let points = self.points(req, opts).await?;
        let head = points[0].1.clone();
        let mut selector = Selector::new(self.method, opts.max_bytes);
        for (_, p) in points {
            selector.feed(p.to_image(crate::array::DataType::Float64))?;
        }
        Ok(head.with_values_of(selector.finish().expect("at least one point was fed")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(qz: u8, keys: &[(&str, &str)]) -> MosaicJson {
        let tiles: BTreeMap<String, Vec<String>> =
            keys.iter().map(|(k, a)| (k.to_string(), vec![a.to_string()])).collect();
        let text = json!({"mosaicjson": "0.0.3", "minzoom": 0, "maxzoom": 30, "quadkey_zoom": qz, "tiles": tiles});
        MosaicJson::parse("/m/mosaic.json", text.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn a_coarser_tile_lists_its_children_in_mercantile_order() {
        let d = doc(2, &[("00", "a.tif"), ("01", "b.tif"), ("02", "c.tif"), ("03", "d.tif"), ("10", "e.tif")]);
        let got = d.assets_for_mercator_tile(0, 0, 1, 10).unwrap();
        assert_eq!(got, ["/m/a.tif", "/m/b.tif", "/m/d.tif", "/m/c.tif"]);
        // A finer tile reads its parent's list.
        assert_eq!(d.assets_for_mercator_tile(1, 0, 3, 10).unwrap(), ["/m/a.tif"]);
        assert!(d.assets_for_mercator_tile(0, 0, 0, 4).is_err(), "five assets, at most four");
    }

    #[test]
    fn deep_quadkeys_are_found_without_enumerating_them() {
        let key = quadkey(123_456, 654_321, 24);
        let d = doc(24, &[(&key, "x.tif")]);
        let world = Bounds::new(-180.0, -85.0, 180.0, 85.0);
        assert_eq!(d.assets_for_bounds(world, 10).unwrap(), ["/m/x.tif"]);
        assert_eq!(d.assets_for_mercator_tile(0, 0, 0, 10).unwrap(), ["/m/x.tif"]);
        assert_eq!(tile_of(&key), Some((123_456, 654_321)));
    }

    #[test]
    fn boxes_list_tiles_by_column_then_row() {
        let r = TileRange::covering(Bounds::new(-180.0, -85.0, 180.0, 85.0), 1);
        assert_eq!(r.tiles().collect::<Vec<_>>(), [(0, 0), (0, 1), (1, 0), (1, 1)]);
        // A box ending on a tile edge does not reach the next tile.
        assert_eq!(TileRange::covering(Bounds::new(-90.0, 0.0, 0.0, 40.0), 2).len(), 1);
    }
}
