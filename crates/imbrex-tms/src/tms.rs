//! The OGC Two Dimensional Tile Matrix Set (v2.0) model and every tile computation.
//!
//! Nothing else in imbrex computes a tile's bounds: ask the [`TileMatrixSet`].
//!
//! ```
//! use imbrex_tms::{TileMatrixSets, Tile};
//! let tms = TileMatrixSets::default().get("WebMercatorQuad").unwrap();
//! let tile = tms.tile(-9.0, 53.2, 10).unwrap();
//! assert_eq!(tile, Tile::new(486, 332, 10));
//! let b = tms.xy_bounds(tile).unwrap();
//! assert!((b.left - -1017529.7205322646).abs() < 1e-6);
//! ```

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::bounds::{Bounds, GeoTransform};
use crate::crs::Crs;
use crate::error::{Error, Result};
use crate::transform::Transformer;
use crate::warp_output::{SourceGeoref, suggested_warp_output};

/// A tile of a tile matrix: column `x`, row `y`, zoom (tile matrix identifier) `z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Tile {
    pub x: u64,
    pub y: u64,
    pub z: i32,
}

impl Tile {
    pub const fn new(x: u64, y: u64, z: i32) -> Tile {
        Tile { x, y, z }
    }
}

impl std::fmt::Display for Tile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tile(x={}, y={}, z={})", self.x, self.y, self.z)
    }
}

/// The corner of a tile matrix where rows and columns are counted from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CornerOfOrigin {
    #[default]
    #[serde(rename = "topLeft")]
    TopLeft,
    #[serde(rename = "bottomLeft")]
    BottomLeft,
}

/// Rows of a tile matrix whose tiles are `coalesce` times wider (polar rows of CDB1, GNOSIS).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VariableMatrixWidth {
    pub coalesce: u64,
    pub min_tile_row: u64,
    pub max_tile_row: u64,
}

/// One zoom level of a TileMatrixSet, as written in the OGC document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TileMatrix {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keywords: Option<Vec<String>>,
    pub id: String,
    pub scale_denominator: f64,
    pub cell_size: f64,
    #[serde(default)]
    pub corner_of_origin: CornerOfOrigin,
    pub point_of_origin: [f64; 2],
    pub tile_width: u32,
    pub tile_height: u32,
    pub matrix_width: u64,
    pub matrix_height: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable_matrix_widths: Option<Vec<VariableMatrixWidth>>,
}

impl TileMatrix {
    /// How many columns the tiles of `row` span (1 unless the matrix has variable widths).
    pub fn coalesce_factor(&self, row: u64) -> u64 {
        self.variable_matrix_widths
            .as_deref()
            .and_then(|v| v.iter().find(|w| w.min_tile_row <= row && row <= w.max_tile_row))
            .map_or(1, |w| w.coalesce)
    }

    /// Tile span in CRS units along x and y.
    fn span(&self) -> (f64, f64) {
        (self.cell_size * self.tile_width as f64, self.cell_size * self.tile_height as f64)
    }
}

/// How a TileMatrixSet names its CRS: a URI string, a `{"uri"}` object or PROJJSON `{"wkt"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CrsRef {
    Uri(String),
    UriObject { uri: String },
    Wkt { wkt: serde_json::Value },
}

/// The bounding box element of a TileMatrixSet document (CRS axis order).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TmsBoundingBox {
    pub lower_left: [f64; 2],
    pub upper_right: [f64; 2],
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crs: Option<CrsRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordered_axes: Option<[String; 2]>,
}

/// The OGC document, field for field (and in the order TiTiler/morecantile write it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keywords: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ordered_axes: Option<[String; 2]>,
    crs: CrsRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    well_known_scale_set: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bounding_box: Option<TmsBoundingBox>,
    tile_matrices: Vec<TileMatrix>,
}

/// A tile matrix set: the OGC document plus everything derived from it once, at load time.
#[derive(Clone, Debug)]
pub struct TileMatrixSet {
    doc: Document,
    /// Zoom of each matrix, parallel to `doc.tile_matrices` (sorted ascending).
    zooms: Vec<i32>,
    crs: Crs,
    geographic_crs: Crs,
    invert_axis: bool,
    to_geographic: Transformer,
    from_geographic: Transformer,
    xy_bbox: Bounds,
    bbox: Bounds,
    is_quadtree: bool,
    is_variable: bool,
}

/// How [`TileMatrixSet::zoom_for_res`] rounds a resolution between two zoom levels
/// (GDAL's COG driver `ZOOM_LEVEL_STRATEGY`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ZoomStrategy {
    /// The closest level.
    #[default]
    Auto,
    /// The coarser level.
    Lower,
    /// The finer level.
    Upper,
}

impl std::str::FromStr for ZoomStrategy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(ZoomStrategy::Auto),
            "lower" => Ok(ZoomStrategy::Lower),
            "upper" => Ok(ZoomStrategy::Upper),
            _ => Err(Error::InvalidParameter {
                name: "zoom_level_strategy",
                reason: format!("'{s}' is not one of auto, lower, upper"),
            }),
        }
    }
}

/// Parameters of [`TileMatrixSet::custom`] (morecantile's `TileMatrixSet.custom`).
#[derive(Clone, Debug)]
pub struct CustomTms {
    /// Extent `[left, bottom, right, top]` in the TMS CRS.
    pub extent: Bounds,
    pub crs: Crs,
    pub tile_width: u32,
    pub tile_height: u32,
    /// Matrix size at zoom 0 (`[2, 1]` for a two-tile world in EPSG:4326).
    pub matrix_scale: [u64; 2],
    pub minzoom: i32,
    pub maxzoom: i32,
    pub id: Option<String>,
    pub title: Option<String>,
    pub ordered_axes: Option<[String; 2]>,
    pub corner_of_origin: CornerOfOrigin,
}

impl CustomTms {
    pub fn new(extent: Bounds, crs: Crs) -> CustomTms {
        CustomTms {
            extent,
            crs,
            tile_width: 256,
            tile_height: 256,
            matrix_scale: [1, 1],
            minzoom: 0,
            maxzoom: 24,
            id: None,
            title: None,
            ordered_axes: None,
            corner_of_origin: CornerOfOrigin::TopLeft,
        }
    }
}

/// OGC's standardised rendering pixel size (0.28 mm) used for scale denominators.
const SCREEN_PIXEL_SIZE: f64 = 0.28e-3;
/// morecantile nudges tile-covering queries inward by this much (in degrees).
const LL_EPSILON: f64 = 1e-11;

impl TileMatrixSet {
    /// Load a TileMatrixSet from its OGC 2DTMS v2.0 JSON document.
    pub fn from_json(json: &str) -> Result<TileMatrixSet> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| Error::InvalidTileMatrixSet { reason: e.to_string() })?;
        if value.get("supportedCRS").is_some() || value.get("topLeftCorner").is_some() {
            return Err(Error::InvalidTileMatrixSet {
                reason: "TileMatrixSet v1.0 documents are not supported; convert to v2.0".into(),
            });
        }
        let doc: Document =
            serde_json::from_value(value).map_err(|e| Error::InvalidTileMatrixSet { reason: e.to_string() })?;
        TileMatrixSet::from_document(doc)
    }

    fn from_document(mut doc: Document) -> Result<TileMatrixSet> {
        let invalid = |reason: String| Error::InvalidTileMatrixSet { reason };
        if let Some(id) = &doc.id
            && (id.is_empty() || !id.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-'))
        {
            return Err(invalid(format!("id '{id}' must match ^[\\w\\d_\\-]+$")));
        }
        if doc.tile_matrices.is_empty() {
            return Err(invalid("tileMatrices is empty".into()));
        }
        let mut keyed = Vec::with_capacity(doc.tile_matrices.len());
        for m in doc.tile_matrices.drain(..) {
            let z: i32 = m.id.parse().map_err(|_| invalid(format!("tile matrix id '{}' is not an integer", m.id)))?;
            if !(m.cell_size.is_finite() && m.cell_size > 0.0) {
                return Err(invalid(format!("tile matrix {z}: cellSize must be positive")));
            }
            if m.tile_width == 0 || m.tile_height == 0 || m.matrix_width == 0 || m.matrix_height == 0 {
                return Err(invalid(format!("tile matrix {z}: sizes must be at least 1")));
            }
            if !m.point_of_origin.iter().all(|v| v.is_finite()) {
                return Err(invalid(format!("tile matrix {z}: pointOfOrigin must be finite")));
            }
            keyed.push((z, m));
        }
        keyed.sort_by_key(|(z, _)| *z);
        if keyed.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(invalid("duplicate tile matrix ids".into()));
        }
        let zooms = keyed.iter().map(|(z, _)| *z).collect();
        doc.tile_matrices = keyed.into_iter().map(|(_, m)| m).collect();

        let crs = match &doc.crs {
            CrsRef::Uri(uri) | CrsRef::UriObject { uri } => Crs::from_user_input(uri)?,
            CrsRef::Wkt { wkt } => Crs::from_projjson_value(wkt)?,
        };
        let invert_axis = match &doc.ordered_axes {
            Some(axes) => axis_name_inverted(&axes[0]),
            None => crs.axis_inverted(),
        };
        let geographic_crs = crs.geodetic_crs();
        let to_geographic = Transformer::new(&crs, &geographic_crs)?;
        let from_geographic = to_geographic.inverse();

        let is_variable = doc.tile_matrices.iter().any(|m| m.variable_matrix_widths.is_some());
        let is_quadtree = doc.tile_matrices.windows(2).all(|w| {
            let (a, b) = (&w[0], &w[1]);
            a.matrix_width == a.matrix_height
                && a.matrix_width.is_power_of_two()
                && a.matrix_width * 2 == b.matrix_width
        });

        let mut tms = TileMatrixSet {
            doc,
            zooms,
            crs,
            geographic_crs,
            invert_axis,
            to_geographic,
            from_geographic,
            xy_bbox: Bounds::new(0.0, 0.0, 0.0, 0.0),
            bbox: Bounds::new(0.0, 0.0, 0.0, 0.0),
            is_quadtree,
            is_variable,
        };
        // The extent is that of the coarsest matrix, as morecantile defines it.
        let z = tms.minzoom();
        let m = tms.matrix(z)?;
        let (left, top) = tms.ul_xy(&m, 0, 0);
        let (right, bottom) = tms.lr_xy(&m, m.matrix_width - 1, m.matrix_height - 1);
        tms.xy_bbox = Bounds::new(left, bottom, right, top);
        tms.bbox = tms.to_geographic.transform_bounds(tms.xy_bbox, 21)?;
        Ok(tms)
    }

    /// Build a regular quadtree-like set over an extent (morecantile's `TileMatrixSet.custom`).
    pub fn custom(opts: CustomTms) -> Result<TileMatrixSet> {
        let is_inverted = match &opts.ordered_axes {
            Some(axes) => axis_name_inverted(&axes[0]),
            None => opts.crs.axis_inverted(),
        };
        let b = opts.extent;
        if !(b.is_finite() && b.right > b.left && b.top > b.bottom) {
            return Err(Error::InvalidParameter { name: "extent", reason: format!("{b:?} is empty") });
        }
        if opts.minzoom > opts.maxzoom || opts.maxzoom - opts.minzoom > 64 || opts.maxzoom > 62 {
            return Err(Error::InvalidParameter {
                name: "maxzoom",
                reason: format!("zoom range [{}, {}] is not usable", opts.minzoom, opts.maxzoom),
            });
        }
        let origin = match (opts.corner_of_origin, is_inverted) {
            (CornerOfOrigin::TopLeft, false) => [b.left, b.top],
            (CornerOfOrigin::TopLeft, true) => [b.top, b.left],
            (CornerOfOrigin::BottomLeft, false) => [b.left, b.bottom],
            (CornerOfOrigin::BottomLeft, true) => [b.bottom, b.left],
        };
        let width = (b.right - b.left).abs();
        let height = (b.top - b.bottom).abs();
        let mpu = opts.crs.meters_per_unit();
        let mut matrices = Vec::new();
        for zoom in opts.minzoom..=opts.maxzoom {
            let factor = 2f64.powi(zoom);
            let res = f64::max(
                width / (opts.tile_width as f64 * opts.matrix_scale[0] as f64) / factor,
                height / (opts.tile_height as f64 * opts.matrix_scale[1] as f64) / factor,
            );
            let tiles = if zoom >= 0 { 1u64 << zoom } else { 1 };
            matrices.push(TileMatrix {
                title: None,
                description: None,
                keywords: None,
                id: zoom.to_string(),
                scale_denominator: res * mpu / SCREEN_PIXEL_SIZE,
                cell_size: res,
                corner_of_origin: opts.corner_of_origin,
                point_of_origin: origin,
                tile_width: opts.tile_width,
                tile_height: opts.tile_height,
                matrix_width: opts.matrix_scale[0] * tiles,
                matrix_height: opts.matrix_scale[1] * tiles,
                variable_matrix_widths: None,
            });
        }
        let crs_ref = match opts.crs.to_uri() {
            Some(uri) => CrsRef::Uri(uri),
            None => {
                return Err(Error::UnsupportedCrs {
                    input: opts.crs.to_user_string(),
                    reason: "a custom TileMatrixSet needs a CRS with an authority code".into(),
                });
            }
        };
        TileMatrixSet::from_document(Document {
            title: opts.title,
            description: None,
            keywords: None,
            id: opts.id,
            uri: None,
            ordered_axes: opts.ordered_axes,
            crs: crs_ref,
            well_known_scale_set: None,
            bounding_box: None,
            tile_matrices: matrices,
        })
    }

    /// The set's identifier (`WebMercatorQuad`).
    pub fn id(&self) -> &str {
        self.doc.id.as_deref().unwrap_or("")
    }

    pub fn title(&self) -> Option<&str> {
        self.doc.title.as_deref()
    }

    pub fn uri(&self) -> Option<&str> {
        self.doc.uri.as_deref()
    }

    /// The CRS as the document names it (a URI, usually).
    pub fn crs_ref(&self) -> &CrsRef {
        &self.doc.crs
    }

    pub fn crs(&self) -> &Crs {
        &self.crs
    }

    /// Geographic CRS used by [`Self::bounds`] and [`Self::tile`]: the CRS's own datum.
    pub fn geographic_crs(&self) -> &Crs {
        &self.geographic_crs
    }

    pub fn ordered_axes(&self) -> Option<&[String; 2]> {
        self.doc.ordered_axes.as_ref()
    }

    pub fn well_known_scale_set(&self) -> Option<&str> {
        self.doc.well_known_scale_set.as_deref()
    }

    /// True when the document's points are written northing/latitude first.
    pub fn is_axis_inverted(&self) -> bool {
        self.invert_axis
    }

    pub fn tile_matrices(&self) -> &[TileMatrix] {
        &self.doc.tile_matrices
    }

    pub fn minzoom(&self) -> i32 {
        self.zooms[0]
    }

    pub fn maxzoom(&self) -> i32 {
        *self.zooms.last().expect("at least one matrix")
    }

    /// Every matrix is a 2x2 subdivision of the previous one (quadkeys work).
    pub fn is_quadtree(&self) -> bool {
        self.is_quadtree
    }

    /// Some matrices coalesce tiles in polar rows.
    pub fn is_variable(&self) -> bool {
        self.is_variable
    }

    /// Extent in the TMS CRS (GIS order).
    pub fn xy_bbox(&self) -> Bounds {
        self.xy_bbox
    }

    /// Extent in the geographic CRS (west > east when it crosses the antimeridian).
    pub fn bbox(&self) -> Bounds {
        self.bbox
    }

    /// The tile matrix of a zoom level; zooms outside the set are an error.
    pub fn matrix(&self, zoom: i32) -> Result<Cow<'_, TileMatrix>> {
        let idx = self.zoom_index(zoom).ok_or(Error::InvalidZoom { zoom, min: self.minzoom(), max: self.maxzoom() })?;
        Ok(Cow::Borrowed(&self.doc.tile_matrices[idx]))
    }

    fn zoom_index(&self, zoom: i32) -> Option<usize> {
        // Ids are nearly always contiguous: index directly, fall back to a search.
        let guess = zoom.checked_sub(self.zooms[0])?;
        let guess = usize::try_from(guess).ok()?;
        if self.zooms.get(guess) == Some(&zoom) {
            return Some(guess);
        }
        self.zooms.binary_search(&zoom).ok()
    }

    /// The matrix origin in GIS order.
    fn origin(&self, m: &TileMatrix) -> (f64, f64) {
        if self.invert_axis {
            (m.point_of_origin[1], m.point_of_origin[0])
        } else {
            (m.point_of_origin[0], m.point_of_origin[1])
        }
    }

    fn ul_xy(&self, m: &TileMatrix, x: u64, y: u64) -> (f64, f64) {
        let (ox, oy) = self.origin(m);
        let cf = m.coalesce_factor(y);
        // Same operation order as morecantile so results agree to the last bit.
        let col = (x / cf) as f64;
        let left = ox + col * m.cell_size * cf as f64 * m.tile_width as f64;
        let top = match m.corner_of_origin {
            CornerOfOrigin::TopLeft => oy - y as f64 * m.cell_size * m.tile_height as f64,
            CornerOfOrigin::BottomLeft => oy + (y + 1) as f64 * m.cell_size * m.tile_height as f64,
        };
        (left, top)
    }

    fn lr_xy(&self, m: &TileMatrix, x: u64, y: u64) -> (f64, f64) {
        let (ox, oy) = self.origin(m);
        let cf = m.coalesce_factor(y);
        let col = (x / cf + 1) as f64;
        let right = ox + col * m.cell_size * cf as f64 * m.tile_width as f64;
        let bottom = match m.corner_of_origin {
            CornerOfOrigin::TopLeft => oy - (y + 1) as f64 * m.cell_size * m.tile_height as f64,
            CornerOfOrigin::BottomLeft => oy + y as f64 * m.cell_size * m.tile_height as f64,
        };
        (right, bottom)
    }

    /// Check that a tile exists in the set.
    pub fn check_tile(&self, tile: Tile) -> Result<Cow<'_, TileMatrix>> {
        let m = self.matrix(tile.z)?;
        if tile.x >= m.matrix_width || tile.y >= m.matrix_height {
            return Err(Error::TileOutOfRange {
                x: tile.x,
                y: tile.y,
                z: tile.z,
                width: m.matrix_width,
                height: m.matrix_height,
            });
        }
        Ok(m)
    }

    /// True when the tile exists in the set.
    pub fn is_valid(&self, tile: Tile) -> bool {
        self.check_tile(tile).is_ok()
    }

    /// Bounds of a tile in the TMS CRS.
    pub fn xy_bounds(&self, tile: Tile) -> Result<Bounds> {
        let m = self.check_tile(tile)?;
        let (left, top) = self.ul_xy(&m, tile.x, tile.y);
        let (right, bottom) = self.lr_xy(&m, tile.x, tile.y);
        Ok(Bounds::new(left, bottom, right, top))
    }

    /// Bounds of a tile in the geographic CRS: its upper-left and lower-right corners transformed.
    pub fn bounds(&self, tile: Tile) -> Result<Bounds> {
        let b = self.xy_bounds(tile)?;
        let (left, top) = self.lnglat(b.left, b.top)?;
        let (right, bottom) = self.lnglat(b.right, b.bottom)?;
        Ok(Bounds::new(left, bottom, right, top))
    }

    /// TMS CRS coordinates to geographic longitude/latitude.
    pub fn lnglat(&self, x: f64, y: f64) -> Result<(f64, f64)> {
        self.to_geographic.transform(x, y)
    }

    /// Geographic longitude/latitude to TMS CRS coordinates.
    pub fn xy(&self, lon: f64, lat: f64) -> Result<(f64, f64)> {
        self.from_geographic.transform(lon, lat)
    }

    /// Transformer from the TMS CRS to its geographic CRS.
    pub fn to_geographic(&self) -> &Transformer {
        &self.to_geographic
    }

    /// The tile containing a geographic point. A point outside the set's extent is an
    /// error ([`Error::PointOutsideTms`]); use [`Self::tile_clamped`] to snap it to the edge.
    pub fn tile(&self, lon: f64, lat: f64, zoom: i32) -> Result<Tile> {
        let outside = || Error::PointOutsideTms { lon, lat };
        if !(lon.is_finite() && lat.is_finite()) {
            return Err(outside());
        }
        let (x, y) = self.xy(lon, lat).map_err(|_| outside())?;
        if !point_in_bbox(x, y, &self.xy_bbox) {
            return Err(outside());
        }
        self.tile_at_xy(x, y, zoom, false)
    }

    /// The tile containing a geographic point, snapped into the matrix when the point is
    /// outside it (morecantile's behaviour).
    pub fn tile_clamped(&self, lon: f64, lat: f64, zoom: i32) -> Result<Tile> {
        let (x, y) = self.xy(lon, lat)?;
        self.tile_at_xy(x, y, zoom, false)
    }

    /// The tile containing a point given in the TMS CRS; coordinates beyond the matrix are
    /// clamped to its edge tiles. With `ignore_coalescence` false, the column snaps to the
    /// first column of a coalesced tile.
    pub fn tile_at_xy(&self, x: f64, y: f64, zoom: i32, ignore_coalescence: bool) -> Result<Tile> {
        let m = self.matrix(zoom)?;
        let (ox, oy) = self.origin(&m);
        let (span_x, span_y) = m.span();
        let col = if x.is_infinite() { 0.0 } else { ((x - ox) / span_x).floor() };
        let offset = match m.corner_of_origin {
            CornerOfOrigin::TopLeft => oy - y,
            CornerOfOrigin::BottomLeft => y - oy,
        };
        let row = if y.is_infinite() { 0.0 } else { (offset / span_y).floor() };
        if col.is_nan() || row.is_nan() {
            return Err(Error::InvalidParameter { name: "coordinates", reason: "NaN".into() });
        }
        let clamp = |v: f64, n: u64| -> u64 { v.max(0.0).min((n - 1) as f64) as u64 };
        let ty = clamp(row, m.matrix_height);
        let mut tx = clamp(col, m.matrix_width);
        if !ignore_coalescence {
            let cf = m.coalesce_factor(ty);
            tx -= tx % cf;
        }
        Ok(Tile::new(tx, ty, zoom))
    }

    /// Tiles covering a geographic bounding box at the given zooms. West > east means the
    /// box crosses the antimeridian. The box is clipped to the set's extent.
    pub fn tiles(&self, bbox: Bounds, zooms: &[i32]) -> Result<Vec<Tile>> {
        if !bbox.left.is_finite() || !bbox.bottom.is_finite() || !bbox.right.is_finite() || !bbox.top.is_finite() {
            return Err(Error::InvalidParameter { name: "bbox", reason: "all coordinates must be finite".into() });
        }
        for &z in zooms {
            self.matrix(z)?;
        }
        let b = self.bbox;
        let boxes = if bbox.left > bbox.right {
            vec![
                Bounds::new(b.left, bbox.bottom, bbox.right, bbox.top),
                Bounds::new(bbox.left, bbox.bottom, b.right, bbox.top),
            ]
        } else {
            vec![bbox]
        };
        let mut out = Vec::new();
        for q in boxes {
            let crosses = lons_contain_antimeridian(q.right, b.right);
            let w = q.left.max(b.left);
            let s = q.bottom.max(b.bottom);
            let e = if crosses { q.right.max(b.right) } else { q.right.min(b.right) };
            let n = q.top.min(b.top);
            let (wx, ny) = self.xy(w + LL_EPSILON, n - LL_EPSILON)?;
            let (ex, sy) = self.xy(e - LL_EPSILON, s + LL_EPSILON)?;
            for &z in zooms {
                let nw = self.tile_at_xy(wx, ny, z, true)?;
                let se = self.tile_at_xy(ex, sy, z, true)?;
                let m = self.matrix(z)?;
                for j in nw.y.min(se.y)..=nw.y.max(se.y) {
                    let cf = m.coalesce_factor(j);
                    for i in nw.x.min(se.x)..=nw.x.max(se.x) {
                        if i % cf == 0 {
                            out.push(Tile::new(i, j, z));
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// The zoom whose cell size best matches a resolution in TMS units (GDAL's COG driver
    /// logic, as morecantile implements it). `max_z`/`min_z` default to the set's range.
    pub fn zoom_for_res(&self, res: f64, max_z: Option<i32>, strategy: ZoomStrategy, min_z: Option<i32>) -> i32 {
        let max_z = max_z.unwrap_or(self.maxzoom());
        let min_z = min_z.unwrap_or(self.minzoom());
        let cell = |z: i32| self.matrix(z).map(|m| m.cell_size).unwrap_or(f64::NAN);
        let mut zoom = min_z;
        let mut matrix_res = cell(zoom);
        for z in min_z..=max_z {
            zoom = z;
            matrix_res = cell(z);
            if res > matrix_res || (res - matrix_res).abs() / matrix_res <= 1e-8 {
                break;
            }
        }
        if zoom > 0 && (res - matrix_res).abs() / matrix_res > 1e-8 {
            match strategy {
                ZoomStrategy::Lower => zoom = (zoom - 1).max(min_z),
                ZoomStrategy::Upper => zoom = zoom.min(max_z),
                ZoomStrategy::Auto => {
                    if cell((zoom - 1).max(min_z)) / res < res / matrix_res {
                        zoom = (zoom - 1).max(min_z);
                    }
                }
            }
        }
        zoom
    }

    /// The zoom range rio-tiler gives a dataset of `width` x `height` pixels on `gt` in `crs`:
    /// `maxzoom` matches the dataset's resolution once warped into this set's CRS (GDAL's
    /// suggested warp output), `minzoom` that of its coarsest possible overview (halving until
    /// the image fits one tile). Datasets whose footprint cannot be warped get the set's range.
    pub fn zoom_range_for(&self, crs: &Crs, gt: &GeoTransform, width: usize, height: usize) -> (i32, i32) {
        let warped = if crs.rasterio_eq(&self.crs) {
            Some((gt.0[1].abs().max(gt.0[5].abs()), width, height))
        } else {
            // rasterio's `calculate_default_transform(crs, tms_crs, w, h, *bounds)`: the
            // source grid rebuilt from the bounds (a rotated grid becomes its envelope).
            let g = gt.0;
            let b = if g[2] == 0.0 && g[4] == 0.0 {
                // rasterio keeps a south-up grid's bottom below its top here.
                Bounds::new(g[0], g[3] + g[5] * height as f64, g[0] + g[1] * width as f64, g[3])
            } else {
                gt.bounds(width, height)
            };
            let from_bounds = GeoTransform([
                b.left,
                (b.right - b.left) / width as f64,
                0.0,
                b.top,
                0.0,
                (b.bottom - b.top) / height as f64,
            ]);
            SourceGeoref::affine(from_bounds)
                .and_then(|src| suggested_warp_output(&src, crs, &self.crs, width, height))
                .ok()
                .map(|o| (o.gt.0[1].abs().max(o.gt.0[5].abs()), o.width, o.height))
        };
        let Some((resolution, w, h)) = warped.filter(|(r, _, _)| r.is_finite() && *r > 0.0) else {
            return (self.minzoom(), self.maxzoom());
        };
        let tile_size = self.doc.tile_matrices[0].tile_width as usize;
        let maxzoom = self.zoom_for_res(resolution, None, ZoomStrategy::Auto, None);
        let level = max_overview_level(w, h, tile_size);
        let minzoom = self.zoom_for_res(resolution * 2f64.powi(level as i32), None, ZoomStrategy::Auto, None);
        (minzoom, maxzoom)
    }

    /// Quadkey of a tile (quadtree sets only).
    pub fn quadkey(&self, tile: Tile) -> Result<String> {
        if !self.is_quadtree {
            return Err(Error::NoQuadkeySupport { id: self.id().to_string() });
        }
        self.check_tile(tile)?;
        let mut qk = String::new();
        let mut z = tile.z;
        while z > self.minzoom() {
            let mask = 1u64 << (z - 1);
            let digit = u8::from(tile.x & mask != 0) + 2 * u8::from(tile.y & mask != 0);
            qk.push((b'0' + digit) as char);
            z -= 1;
        }
        Ok(qk)
    }

    /// The tile a quadkey names (quadtree sets only).
    pub fn quadkey_to_tile(&self, qk: &str) -> Result<Tile> {
        if !self.is_quadtree {
            return Err(Error::NoQuadkeySupport { id: self.id().to_string() });
        }
        if qk.len() > 62 {
            return Err(Error::InvalidParameter { name: "quadkey", reason: "too long".into() });
        }
        let (mut x, mut y) = (0u64, 0u64);
        for (i, digit) in qk.bytes().rev().enumerate() {
            let mask = 1u64 << i;
            match digit {
                b'0' => {}
                b'1' => x |= mask,
                b'2' => y |= mask,
                b'3' => {
                    x |= mask;
                    y |= mask;
                }
                _ => {
                    return Err(Error::InvalidParameter {
                        name: "quadkey",
                        reason: format!("unexpected digit '{}'", digit as char),
                    });
                }
            }
        }
        let tile = Tile::new(x, y, qk.len() as i32);
        self.check_tile(tile)?;
        Ok(tile)
    }

    /// Tiles of `zoom` (default: the next coarser level) that contain `tile`.
    pub fn parent(&self, tile: Tile, zoom: Option<i32>) -> Result<Vec<Tile>> {
        self.check_tile(tile)?;
        if tile.z == self.minzoom() {
            return Ok(Vec::new());
        }
        let target = zoom.unwrap_or(tile.z - 1);
        if target >= tile.z {
            return Err(Error::InvalidParameter {
                name: "zoom",
                reason: "must be less than that of the input tile".into(),
            });
        }
        self.covering(tile, target)
    }

    /// Tiles of `zoom` (default: the next finer level) inside `tile`.
    pub fn children(&self, tile: Tile, zoom: Option<i32>) -> Result<Vec<Tile>> {
        self.check_tile(tile)?;
        let target = zoom.unwrap_or(tile.z + 1);
        if target < tile.z {
            return Err(Error::InvalidParameter {
                name: "zoom",
                reason: "must be greater than that of the input tile".into(),
            });
        }
        self.covering(tile, target)
    }

    /// Tiles of `target` zoom overlapping `tile`, probing a tenth of a cell inside its edges.
    fn covering(&self, tile: Tile, target: i32) -> Result<Vec<Tile>> {
        let res = self.matrix(tile.z)?.cell_size / 10.0;
        let b = self.xy_bounds(tile)?;
        let ul = self.tile_at_xy(b.left + res, b.top - res, target, false)?;
        let lr = self.tile_at_xy(b.right - res, b.bottom + res, target, false)?;
        let m = self.matrix(target)?;
        let mut out = Vec::new();
        for j in ul.y..=lr.y {
            let cf = m.coalesce_factor(j);
            for i in ul.x..=lr.x {
                if i % cf == 0 {
                    out.push(Tile::new(i, j, target));
                }
            }
        }
        Ok(out)
    }

    /// The up-to-eight tiles around `tile`, sorted.
    pub fn neighbors(&self, tile: Tile) -> Result<Vec<Tile>> {
        let m = self.check_tile(tile)?;
        let (x, y) = (tile.x, tile.y);
        let miny = y.saturating_sub(1);
        let maxy = (y + 1).min(m.matrix_height - 1);
        let cf = m.coalesce_factor(y);
        let (x, minx, maxx) = if cf != 1 {
            let x = x - x % cf;
            (x, x.saturating_sub(1), (x + cf).min(m.matrix_width - 1))
        } else {
            (x, x.saturating_sub(1), (x + 1).min(m.matrix_width - 1))
        };
        let mut tiles = std::collections::BTreeSet::new();
        for ty in miny..=maxy {
            let cf = m.coalesce_factor(ty);
            for tx in minx..=maxx {
                let nx = tx - tx % cf;
                if nx == x && ty == y {
                    continue;
                }
                tiles.insert(Tile::new(nx, ty, tile.z));
            }
        }
        Ok(tiles.into_iter().collect())
    }

    /// `[[minx, maxx], [miny, maxy]]` tile indices of a zoom level.
    pub fn minmax(&self, zoom: i32) -> Result<([u64; 2], [u64; 2])> {
        let m = self.matrix(zoom)?;
        Ok(([0, m.matrix_width - 1], [0, m.matrix_height - 1]))
    }

    /// The OGC JSON document (as served by `/tileMatrixSets/{id}`).
    pub fn to_json_value(&self) -> serde_json::Value {
        serde_json::to_value(&self.doc).expect("a TileMatrixSet document always serialises")
    }
}

impl Serialize for TileMatrixSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.doc.serialize(s)
    }
}

/// rasterio's `get_maximum_overview_level`: how many halvings until the smaller side fits `min_size`.
pub fn max_overview_level(width: usize, height: usize, min_size: usize) -> u32 {
    let mut level = 0;
    let mut factor = 1usize;
    while (width / factor).min(height / factor) > min_size && level < 62 {
        factor *= 2;
        level += 1;
    }
    level
}

fn axis_name_inverted(axis: &str) -> bool {
    matches!(axis.to_ascii_uppercase().as_str(), "Y" | "LAT" | "N")
}

/// morecantile's `point_in_bbox`: inclusive, compared at 5 decimals.
fn point_in_bbox(x: f64, y: f64, b: &Bounds) -> bool {
    let r = |v: f64| (v * 1e5).round() / 1e5;
    r(x) >= r(b.left) && r(x) <= r(b.right) && r(y) >= r(b.bottom) && r(y) <= r(b.top)
}

/// morecantile's `lons_contain_antimeridian`, including its quirk of comparing the values in
/// the order given (it never sorted them), so that tile listings agree with it.
fn lons_contain_antimeridian(lon1: f64, lon2: f64) -> bool {
    let conv = |v: f64| (v.clamp(-180.0, 180.0) + 360.0).rem_euclid(360.0);
    let (a, b) = (conv(lon1), conv(lon2));
    a < 180.0 && 180.0 < b
}
