//! Read options, as rio-tiler names them.

use crate::error::{Error, Result};
use crate::warp::Resampling;

/// The name of the output-size bound in [`Error::LimitExceeded`].
pub const OUTPUT_PIXELS: &str = "output pixels";
/// The name of the output-memory bound in [`Error::LimitExceeded`].
pub const OUTPUT_BYTES: &str = "output bytes";

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
    /// Largest array one read or computation of a request may hold (pixels × bands × bytes
    /// per sample, masks included): bands multiply what `max_pixels` allows.
    pub max_bytes: u64,
    /// Most bands one read may ask for.
    pub max_bands: usize,
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
            max_bytes: 256 << 20,
            max_bands: 256,
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
        if let Some(ix) = &self.indexes {
            self.check_bands(ix.len())?;
        }
        Ok(())
    }

    /// Refuse reads of more bands than the bound.
    pub fn check_bands(&self, bands: usize) -> Result<()> {
        if bands > self.max_bands {
            return Err(Error::InvalidParameter {
                name: "bidx",
                reason: format!("{bands} bands asked for, at most {} (limits.max_bands): choose some", self.max_bands),
            });
        }
        Ok(())
    }

    /// Refuse an array of `width` x `height` x `planes` samples of `sample_bytes` each, with
    /// a byte of mask per sample and one per pixel (what reads and band math hold), above
    /// the memory bound.
    pub fn check_bytes(&self, width: usize, height: usize, planes: usize, sample_bytes: usize) -> Result<()> {
        let per_pixel = (planes as u64).saturating_mul(sample_bytes as u64 + 1).saturating_add(1);
        let bytes = (width as u64).saturating_mul(height as u64).saturating_mul(per_pixel);
        if bytes > self.max_bytes {
            return Err(Error::LimitExceeded { limit: OUTPUT_BYTES, value: bytes, max: self.max_bytes });
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
