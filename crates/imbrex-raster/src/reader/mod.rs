//! Reader: one dataset placed on the Earth (or in pixel space), answering `info`,
//! `tile`, `part`, `preview`, `point` and `statistics` as rio-tiler's readers do.

mod average;
mod base;
pub mod decimate;
mod gcp_vrt;
pub mod geometry;
mod info;
mod options;
mod read;
mod resample;
mod validity;
mod warped;
mod window;

use std::sync::Arc;

use imbrex_tms::{
    Bounds, Crs, GeoTransform, SourceGeoref, TileMatrixSet, Transformer, max_overview_level, suggested_warp_output,
};

pub use base::{BaseReader, FeatureReader, FeatureRequest, PartRequest, PointRequest, TileRequest};
pub use gcp_vrt::GcpVrt;
pub use geometry::OutputSize;
pub use info::{BandDescription, Info, Palette};
pub use options::{OUTPUT_BYTES, OUTPUT_PIXELS, ReadOptions};
pub use read::local_tile_bounds;

use crate::dataset::{Dataset, OpenOptions};
use crate::error::Result;
use crate::gcp::GcpTransform;
use crate::source::RangeSource;

/// Where a reader's pixels are.
#[derive(Clone, Debug)]
pub enum Placement {
    /// A georeferenced grid (the dataset's own, or the grid GDAL warps GCP data onto).
    Geo { crs: Crs, transform: GeoTransform, width: usize, height: usize },
    /// No CRS: pixel space (rio-tiler's `ImageReader`).
    Pixel { width: usize, height: usize },
}

/// A dataset ready to be read: rio-tiler's `Reader` (or `ImageReader` for pixel space).
#[derive(Debug)]
pub struct Reader {
    input: String,
    dataset: Arc<Dataset>,
    placement: Placement,
    /// The dataset's grid in other CRSs (`calculate_default_transform`), per CRS.
    native: std::sync::Mutex<Vec<(Crs, GeoTransform)>>,
    /// See [`Reader::version`].
    version: crate::reader_cache::Version,
}

impl Reader {
    /// Open a source: read its header, work out where it is.
    pub async fn open(source: Arc<dyn RangeSource>, opts: &OpenOptions) -> Result<Reader> {
        let input = source.id().to_string();
        let dataset = Arc::new(Dataset::open(source, opts).await?);
        Reader::from_dataset(input, dataset)
    }

    /// The version of the source's content this reader was opened at (see
    /// [`RangeSource::observed_version`]).
    pub fn version(&self) -> crate::reader_cache::Version {
        self.version.clone()
    }

    /// Wrap an opened dataset. A GCP-only file is read through the warped VRT GDAL puts it
    /// on (see [`GcpVrt`]), as rio-tiler reads it.
    pub fn from_dataset(input: String, dataset: Arc<Dataset>) -> Result<Reader> {
        let georef = dataset.georef();
        let (width, height) = (dataset.width(), dataset.height());
        let (dataset, placement) = match (&georef.crs, georef.transform, georef.gcps.is_empty()) {
            (Some(crs), Some(gt), _) => (dataset, Placement::Geo { crs: crs.clone(), transform: gt, width, height }),
            (Some(crs), None, false) => {
                let t = Arc::new(GcpTransform::fit(&georef.gcps, crs.is_geographic())?);
                let out = suggested_warp_output(&SourceGeoref::Custom(t.clone()), crs, crs, width, height)?;
                if out.width == 0 || out.height == 0 {
                    return Err(crate::Error::unsupported("the GCPs place the image on an empty grid"));
                }
                let vrt = GcpVrt::new(dataset, t, crs.clone(), out.gt, out.width, out.height)?;
                let placement =
                    Placement::Geo { crs: crs.clone(), transform: out.gt, width: out.width, height: out.height };
                (Arc::new(Dataset::Warped(Box::new(vrt))), placement)
            }
            _ => (dataset, Placement::Pixel { width, height }),
        };
        let version = dataset.source().observed_version().map(Arc::from);
        Ok(Reader { input, dataset, placement, native: Default::default(), version })
    }

    /// The file itself when the reader reads a virtual dataset made of it (a GCP file's
    /// warped VRT), placed in pixel space: what tools that open the plain file report
    /// (rio-cogeo's validation).
    pub fn file_reader(&self) -> Option<Reader> {
        let Dataset::Warped(v) = self.dataset.as_ref() else { return None };
        let ds = v.source().clone();
        let placement = Placement::Pixel { width: ds.width(), height: ds.height() };
        let version = self.version.clone();
        Some(Reader { input: self.input.clone(), dataset: ds, placement, native: Default::default(), version })
    }

    /// The `url=` (or path) this reader was opened from.
    pub fn input(&self) -> &str {
        &self.input
    }

    pub fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }

    pub fn placement(&self) -> &Placement {
        &self.placement
    }

    /// The CRS, `None` for pixel-space images.
    pub fn crs(&self) -> Option<&Crs> {
        match &self.placement {
            Placement::Geo { crs, .. } => Some(crs),
            Placement::Pixel { .. } => None,
        }
    }

    /// Width and height of the reader's grid.
    pub fn size(&self) -> (usize, usize) {
        match &self.placement {
            Placement::Geo { width, height, .. } | Placement::Pixel { width, height } => (*width, *height),
        }
    }

    /// Geotransform of the grid (identity pixel grid for images without CRS).
    pub fn transform(&self) -> GeoTransform {
        match &self.placement {
            Placement::Geo { transform, .. } => *transform,
            Placement::Pixel { .. } => GeoTransform([0.0, 1.0, 0.0, 0.0, 0.0, 1.0]),
        }
    }

    /// Bounds in the dataset's CRS, as rasterio's `dataset.bounds`: `(left, bottom, right,
    /// top)` where a south-up grid yields bottom > top (rio-tiler reports it as is).
    pub fn bounds(&self) -> Bounds {
        let g = self.transform().0;
        let (w, h) = self.size();
        if g[2] == 0.0 && g[4] == 0.0 {
            Bounds::new(g[0], g[3] + g[5] * h as f64, g[0] + g[1] * w as f64, g[3])
        } else {
            self.transform().bounds(w, h)
        }
    }

    /// Bounds as a proper box (min/max).
    pub fn normalized_bounds(&self) -> Bounds {
        let b = self.bounds();
        Bounds::new(b.left.min(b.right), b.bottom.min(b.top), b.left.max(b.right), b.bottom.max(b.top))
    }

    /// Bounds in WGS 84 (rio-tiler's `geographic_bounds`): the whole world when the CRS
    /// cannot be transformed (another planet, or no CRS).
    pub fn geographic_bounds(&self) -> Bounds {
        let world = Bounds::new(-180.0, -90.0, 180.0, 90.0);
        let Some(crs) = self.crs() else { return world };
        let b = self.normalized_bounds();
        if crs.same_as(&Crs::wgs84()) {
            return b;
        }
        Transformer::new(crs, &Crs::wgs84())
            .and_then(|t| t.transform_bounds(b, 21))
            .ok()
            .filter(|g| g.is_finite())
            .unwrap_or(world)
    }

    /// rio-tiler's minzoom/maxzoom for a TileMatrixSet.
    pub fn zoom_range(&self, tms: &TileMatrixSet) -> (i32, i32) {
        match &self.placement {
            Placement::Geo { crs, transform, width, height } => tms.zoom_range_for(crs, transform, *width, *height),
            Placement::Pixel { width, height } => (0, max_overview_level(*width, *height, 256) as i32),
        }
    }

    /// Dataset metadata (rio-tiler's `Info`).
    pub fn info(&self) -> Info {
        info::build(self)
    }
}
