//! What every raster source answers, whatever it is made of: rio-tiler's `BaseReader`.
//!
//! The COG [`Reader`] implements it; a STAC item, a mosaic or a pixel-space image will. The
//! HTTP routes are written once against these traits. What not every source can do is a
//! trait of its own ([`FeatureReader`]: cutting pixels by a GeoJSON shape): a server mounts
//! those endpoints only for sources whose type implements it, so a source that cannot do a
//! thing has no endpoint for it, rather than one that fails at run time.

use std::future::Future;

use imbrex_tms::{Bounds, Crs, Tile, TileMatrixSet};

use super::{Info, OutputSize, ReadOptions, Reader};
use crate::error::Result;
use crate::expr::Expression;
use crate::feature::Shape;
use crate::image::{ImageData, PointData};
use crate::render::ColorMap;

/// One tile of a TileMatrixSet.
#[derive(Clone, Copy, Debug)]
pub struct TileRequest<'a> {
    pub tms: &'a TileMatrixSet,
    pub tile: Tile,
    /// Output size in pixels (default: the matrix's tile size).
    pub tilesize: Option<usize>,
}

/// An area of the source (rio-tiler's `part`).
#[derive(Clone, Copy, Debug)]
pub struct PartRequest<'a> {
    pub bbox: Bounds,
    /// CRS of `bbox` (default: the source's).
    pub bounds_crs: Option<&'a Crs>,
    /// CRS of the output (default: `bounds_crs`).
    pub dst_crs: Option<&'a Crs>,
    pub size: OutputSize,
}

/// The pixels under a shape (rio-tiler's `feature`).
#[derive(Clone, Copy, Debug)]
pub struct FeatureRequest<'a> {
    pub shape: &'a Shape,
    pub shape_crs: &'a Crs,
    /// CRS of the output (default: `shape_crs`).
    pub dst_crs: Option<&'a Crs>,
    pub size: OutputSize,
    /// Snap the read window to the source's pixels (TiTiler's statistics endpoint).
    pub align: bool,
}

/// The values at one location (rio-tiler's `point`).
#[derive(Clone, Copy, Debug)]
pub struct PointRequest<'a> {
    pub x: f64,
    pub y: f64,
    /// CRS of `(x, y)` (default WGS 84; pixels for a source in pixel space).
    pub coord_crs: Option<&'a Crs>,
    /// Band math applied to the values, in the type of the read.
    pub expression: Option<&'a Expression>,
}

/// A raster source: what describes it (bounds, zooms, bands) and the reads every
/// endpoint is made of. Reads return futures that are `Send`, so a server can await them
/// on any thread.
pub trait BaseReader: Send + Sync + 'static {
    /// Metadata (rio-tiler's `info`).
    fn info(&self) -> Info;

    /// The `/info` document: rio-tiler's `Info` of one dataset; a source made of several
    /// (a STAC item, a mosaic) describes them its own way.
    fn info_document(&self) -> serde_json::Value {
        serde_json::to_value(self.info()).unwrap_or(serde_json::Value::Null)
    }

    /// The version of the content read (see [`crate::source::RangeSource::observed_version`]),
    /// for caches of what is computed from it; `None` when not known.
    fn content_version(&self) -> crate::reader_cache::Version {
        None
    }

    /// True when the reads apply the request's band math themselves (a mosaic evaluates it
    /// per asset, before choosing pixels, as rio-tiler does): the render recipe then does not
    /// apply it a second time.
    fn applies_expression(&self) -> bool {
        false
    }

    /// CRS of the source's grid; `None` for a source in pixel space.
    fn crs(&self) -> Option<&Crs>;

    /// Bounds in [`BaseReader::crs`], as a proper box (min/max).
    fn bounds(&self) -> Bounds;

    /// Bounds in WGS 84; the whole world when the CRS cannot be transformed.
    fn geographic_bounds(&self) -> Bounds;

    /// rio-tiler's minzoom/maxzoom in a TileMatrixSet.
    fn zoom_range(&self, tms: &TileMatrixSet) -> (i32, i32);

    /// The colours one-band output is drawn with when a request gives no colormap (a
    /// paletted file's palette).
    fn palette(&self) -> Option<ColorMap>;

    fn tile(&self, req: TileRequest<'_>, opts: &ReadOptions) -> impl Future<Output = Result<ImageData>> + Send;

    fn part(&self, req: PartRequest<'_>, opts: &ReadOptions) -> impl Future<Output = Result<ImageData>> + Send;

    /// The whole source, decimated (at most 1024 pixels on its longer side by default).
    fn preview(&self, size: OutputSize, opts: &ReadOptions) -> impl Future<Output = Result<ImageData>> + Send;

    fn point(&self, req: PointRequest<'_>, opts: &ReadOptions) -> impl Future<Output = Result<PointData>> + Send;
}

/// A source whose pixels can be cut by a shape: rio-tiler's `feature`, and so TiTiler's
/// `/feature` and zonal statistics (`POST /statistics`).
pub trait FeatureReader: BaseReader {
    fn feature(&self, req: FeatureRequest<'_>, opts: &ReadOptions) -> impl Future<Output = Result<ImageData>> + Send;
}

impl BaseReader for Reader {
    fn content_version(&self) -> crate::reader_cache::Version {
        self.version()
    }

    fn info(&self) -> Info {
        Reader::info(self)
    }

    fn crs(&self) -> Option<&Crs> {
        Reader::crs(self)
    }

    fn bounds(&self) -> Bounds {
        self.normalized_bounds()
    }

    fn geographic_bounds(&self) -> Bounds {
        Reader::geographic_bounds(self)
    }

    fn zoom_range(&self, tms: &TileMatrixSet) -> (i32, i32) {
        Reader::zoom_range(self, tms)
    }

    fn palette(&self) -> Option<ColorMap> {
        // Not through `info()`: that builds the whole description (CRS text, bounds), which
        // cost 15 % of a tile's time when it ran per tile.
        let palette = self.dataset().colormap().filter(|c| !c.is_empty())?;
        let entries: Vec<(u32, [u8; 4])> = palette.into_iter().enumerate().map(|(i, v)| (i as u32, v)).collect();
        Some(ColorMap::from_palette(&entries))
    }

    fn tile(&self, req: TileRequest<'_>, opts: &ReadOptions) -> impl Future<Output = Result<ImageData>> + Send {
        Reader::tile(self, req.tms, req.tile, req.tilesize, opts)
    }

    fn part(&self, req: PartRequest<'_>, opts: &ReadOptions) -> impl Future<Output = Result<ImageData>> + Send {
        Reader::part(self, req.bbox, req.bounds_crs, req.dst_crs, req.size, opts)
    }

    fn preview(&self, size: OutputSize, opts: &ReadOptions) -> impl Future<Output = Result<ImageData>> + Send {
        Reader::preview(self, size, opts)
    }

    fn point(&self, req: PointRequest<'_>, opts: &ReadOptions) -> impl Future<Output = Result<PointData>> + Send {
        Reader::point_with(self, req.x, req.y, req.coord_crs, req.expression, opts)
    }
}

impl FeatureReader for Reader {
    fn feature(&self, req: FeatureRequest<'_>, opts: &ReadOptions) -> impl Future<Output = Result<ImageData>> + Send {
        Reader::feature(self, req.shape, req.shape_crs, req.dst_crs, req.size, req.align, opts)
    }
}
