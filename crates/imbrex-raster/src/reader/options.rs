//! Read options, as rio-tiler names them.

use crate::error::{Error, Result};
use crate::warp::Resampling;

/// The name of the output-size bound in [`Error::LimitExceeded`].
pub const OUTPUT_PIXELS: &str = "output pixels";

/// Options of every read (`tile`, `part`, `preview`, `point`, `statistics`).
#[derive(Clone, Debug, PartialEq)]
pub struct ReadOptions {
    /// 1-based band indexes (default: every band that is not alpha).
    pub indexes: Option<Vec<usize>>,
    /// Override the dataset's nodata value.
    pub nodata: Option<f64>,
    /// Apply scales and offsets (output becomes float32).
    pub unscale: bool,
    /// Resampling of decimated reads (GDAL RasterIO).
    pub resampling: Resampling,
    /// Resampling of the reprojection (GDAL warp kernel).
    pub reproject: Resampling,
    /// Extra pixels around a tile (a multiple of 0.5): output is `tilesize + 2 * buffer`.
    pub buffer: f64,
    /// Pixels read around the area and cropped off again (reduces edge artefacts of
    /// interpolating resamplings).
    pub padding: usize,
    /// Largest output (pixels): a request above it is refused.
    pub max_pixels: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            indexes: None,
            nodata: None,
            unscale: false,
            resampling: Resampling::Nearest,
            reproject: Resampling::Nearest,
            buffer: 0.0,
            padding: 0,
            max_pixels: 6000 * 6000,
        }
    }
}

impl ReadOptions {
    /// Check values a caller might have got wrong.
    pub fn validate(&self) -> Result<()> {
        if self.buffer < 0.0 || (self.buffer * 2.0).fract() != 0.0 || !self.buffer.is_finite() {
            return Err(Error::InvalidParameter {
                name: "buffer",
                reason: format!("{} is not a positive multiple of 0.5", self.buffer),
            });
        }
        if self.buffer > 1024.0 {
            return Err(Error::InvalidParameter { name: "buffer", reason: "at most 1024".into() });
        }
        if self.padding > 1024 {
            return Err(Error::InvalidParameter { name: "padding", reason: "at most 1024".into() });
        }
        if let Some(ix) = &self.indexes
            && (ix.is_empty() || ix.contains(&0))
        {
            return Err(Error::InvalidParameter { name: "bidx", reason: "band indexes start at 1".into() });
        }
        Ok(())
    }

    /// Refuse outputs above the size bound.
    pub(crate) fn check_size(&self, width: usize, height: usize) -> Result<()> {
        // Saturating: sizes come from requests, and a wrapped product would pass the bound.
        let px = (width as u64).saturating_mul(height as u64);
        if px > self.max_pixels {
            return Err(Error::LimitExceeded { limit: OUTPUT_PIXELS, value: px, max: self.max_pixels });
        }
        if width == 0 || height == 0 {
            return Err(Error::InvalidParameter { name: "size", reason: "the output has no pixels".into() });
        }
        Ok(())
    }
}
