//! One TIFF image (IFD) interpreted: size, sample layout, blocks and compression.
//!
//! Strips are treated as tiles as wide as the image, so every reader above sees a grid of
//! blocks whatever the file layout.

use std::ops::Range;

use bytes::Bytes;

use super::ifd::{ByteOrder, RawIfd};
use super::tags::{self, compression, photometric};
use crate::array::DataType;
use crate::error::{Error, Result};

/// Largest decoded block we accept (a hostile tile size cannot make us allocate more).
const MAX_BLOCK_BYTES: u64 = 256 * 1024 * 1024;
/// Largest image side we accept (GDAL's own limit is 2^31 - 1).
const MAX_SIDE: u64 = 1 << 31;

/// An image file directory, interpreted.
#[derive(Clone, Debug)]
pub struct TiffImage {
    pub ifd_offset: u64,
    pub order: ByteOrder,
    pub width: u32,
    pub height: u32,
    /// Samples per pixel (bands stored in this IFD).
    pub samples: u16,
    /// Bits per sample as stored (1 for bilevel masks).
    pub bits: u16,
    /// The type samples decode to (1-bit data decodes to uint8).
    pub dtype: DataType,
    pub compression: u16,
    pub predictor: u16,
    pub photometric: u16,
    /// Planar configuration 2: one plane per sample.
    pub planar: bool,
    pub tiled: bool,
    pub block_width: u32,
    pub block_height: u32,
    pub offsets: Vec<u64>,
    pub byte_counts: Vec<u64>,
    pub jpeg_tables: Option<Bytes>,
    pub subfile_type: u64,
    pub extra_samples: Vec<u16>,
    /// Palette as RGBA (16-bit TIFF entries scaled to 8-bit as GDAL does).
    pub colormap: Option<Vec<[u8; 4]>>,
    pub lerc_params: Option<Vec<u64>>,
    pub fill_order: u16,
    /// Half-float samples decoded to float32.
    pub half_float: bool,
}

impl TiffImage {
    /// Interpret a raw IFD, validating everything a reader relies on.
    pub fn from_raw(raw: &RawIfd, order: ByteOrder, id: &str, file_size: Option<u64>) -> Result<TiffImage> {
        let corrupt = |reason: String| Error::corrupt(id, format!("IFD at {}: {reason}", raw.offset));
        let width = raw.u64(tags::IMAGE_WIDTH).ok_or_else(|| corrupt("no ImageWidth".into()))?;
        let height = raw.u64(tags::IMAGE_LENGTH).ok_or_else(|| corrupt("no ImageLength".into()))?;
        if width == 0 || height == 0 || width >= MAX_SIDE || height >= MAX_SIDE {
            return Err(corrupt(format!("image size {width} x {height}")));
        }
        let samples = raw.u64(tags::SAMPLES_PER_PIXEL).unwrap_or(1);
        if samples == 0 || samples > 1024 {
            return Err(corrupt(format!("{samples} samples per pixel")));
        }
        let bits_all = raw.u64s(tags::BITS_PER_SAMPLE).filter(|b| !b.is_empty()).unwrap_or_else(|| vec![1]);
        let bits = bits_all[0];
        if bits_all.iter().any(|&b| b != bits) {
            return Err(Error::unsupported(format!("{id}: samples of different bit depths {bits_all:?}")));
        }
        let format = raw.u64(tags::SAMPLE_FORMAT).unwrap_or(1);
        let mut half_float = false;
        let dtype = match (format, bits) {
            (1, 1) | (1, 8) => DataType::Uint8,
            (1, 16) => DataType::Uint16,
            (1, 32) => DataType::Uint32,
            (2, 8) => DataType::Int8,
            (2, 16) => DataType::Int16,
            (2, 32) => DataType::Int32,
            (3, 16) => {
                half_float = true;
                DataType::Float32
            }
            (3, 32) => DataType::Float32,
            (3, 64) => DataType::Float64,
            // Undefined sample format: GDAL reads it as unsigned.
            (4, 8) => DataType::Uint8,
            (4, 16) => DataType::Uint16,
            (4, 32) => DataType::Uint32,
            _ => return Err(Error::unsupported(format!("{id}: {bits}-bit samples of format {format}"))),
        };
        let compression = raw.u64(tags::COMPRESSION).unwrap_or(1) as u16;
        let planar = raw.u64(tags::PLANAR_CONFIG).unwrap_or(1) == 2 && samples > 1;
        let (tiled, block_width, block_height, offsets, counts) = if let Some(tw) = raw.u64(tags::TILE_WIDTH) {
            let th = raw.u64(tags::TILE_LENGTH).ok_or_else(|| corrupt("TileWidth without TileLength".into()))?;
            let offsets = raw.u64s(tags::TILE_OFFSETS).ok_or_else(|| corrupt("no TileOffsets".into()))?;
            let counts = raw.u64s(tags::TILE_BYTE_COUNTS).ok_or_else(|| corrupt("no TileByteCounts".into()))?;
            (true, tw, th, offsets, counts)
        } else {
            let rows = raw.u64(tags::ROWS_PER_STRIP).unwrap_or(height).min(height);
            let offsets =
                raw.u64s(tags::STRIP_OFFSETS).ok_or_else(|| corrupt("no StripOffsets or TileOffsets".into()))?;
            let counts = raw.u64s(tags::STRIP_BYTE_COUNTS).ok_or_else(|| corrupt("no StripByteCounts".into()))?;
            (false, width, rows, offsets, counts)
        };
        if block_width == 0 || block_height == 0 || block_width >= MAX_SIDE || block_height >= MAX_SIDE {
            return Err(corrupt(format!("block size {block_width} x {block_height}")));
        }
        let per_block_samples = if planar { 1 } else { samples };
        // Saturating: every factor comes from the file, and 2^27 x 2^27 x 1024 samples wrap.
        let block_bytes = block_width
            .saturating_mul(block_height)
            .saturating_mul(per_block_samples)
            .saturating_mul(dtype.size() as u64);
        if block_bytes > MAX_BLOCK_BYTES {
            return Err(Error::LimitExceeded { limit: "decoded block size", value: block_bytes, max: MAX_BLOCK_BYTES });
        }
        let across = width.div_ceil(block_width);
        let down = height.div_ceil(block_height);
        let planes = if planar { samples } else { 1 };
        let expected = across * down * planes;
        if (offsets.len() as u64) < expected || (counts.len() as u64) < expected {
            return Err(corrupt(format!(
                "{} block offsets and {} byte counts for {expected} blocks",
                offsets.len(),
                counts.len()
            )));
        }
        let colormap = raw.u64s(tags::COLOR_MAP).map(|cm| {
            let n = cm.len() / 3;
            // GDAL maps 16-bit palette entries to 8 bits by dividing by 257.
            (0..n).map(|i| [(cm[i] / 257) as u8, (cm[n + i] / 257) as u8, (cm[2 * n + i] / 257) as u8, 255]).collect()
        });
        let tiff = TiffImage {
            ifd_offset: raw.offset,
            order,
            width: width as u32,
            height: height as u32,
            samples: samples as u16,
            bits: bits as u16,
            dtype,
            compression,
            predictor: raw.u64(tags::PREDICTOR).unwrap_or(1) as u16,
            photometric: raw.u64(tags::PHOTOMETRIC).unwrap_or(photometric::MIN_IS_BLACK as u64) as u16,
            planar,
            tiled,
            block_width: block_width as u32,
            block_height: block_height as u32,
            offsets,
            byte_counts: counts,
            jpeg_tables: raw.get(tags::JPEG_TABLES).map(|t| t.data.clone()),
            subfile_type: raw.u64(tags::NEW_SUBFILE_TYPE).unwrap_or(0),
            extra_samples: raw.u64s(tags::EXTRA_SAMPLES).unwrap_or_default().into_iter().map(|v| v as u16).collect(),
            colormap,
            lerc_params: raw.u64s(tags::LERC_PARAMETERS),
            fill_order: raw.u64(tags::FILL_ORDER).unwrap_or(1) as u16,
            half_float,
        };
        if let Some(size) = file_size {
            for (i, (&o, &c)) in tiff.offsets.iter().zip(&tiff.byte_counts).enumerate().take(expected as usize) {
                // Blocks running past the end are reported when read (GDAL opens such files too).
                if c > 0 && o > size {
                    return Err(corrupt(format!("block {i} starts at {o}, past the end of the file ({size} bytes)")));
                }
            }
        }
        Ok(tiff)
    }

    /// Blocks per row.
    pub fn blocks_across(&self) -> u32 {
        self.width.div_ceil(self.block_width)
    }

    /// Blocks per column.
    pub fn blocks_down(&self) -> u32 {
        self.height.div_ceil(self.block_height)
    }

    /// Index of block (`bx`, `by`) of `plane` (0 for chunky images) in the offset arrays.
    pub fn block_index(&self, bx: u32, by: u32, plane: u16) -> usize {
        let per_plane = self.blocks_across() as usize * self.blocks_down() as usize;
        plane as usize * per_plane + by as usize * self.blocks_across() as usize + bx as usize
    }

    /// Byte range of a block, or `None` for a sparse block (offset or byte count 0), which
    /// GDAL reads as nodata (or 0).
    pub fn block_range(&self, index: usize) -> Option<Range<u64>> {
        let (o, c) = (self.offsets[index], self.byte_counts[index]);
        (o != 0 && c != 0).then(|| o..o.saturating_add(c))
    }

    /// Rows actually stored in block row `by` (the last strip of a stripped image is short).
    pub fn block_rows(&self, by: u32) -> u32 {
        if self.tiled { self.block_height } else { self.block_height.min(self.height - by * self.block_height) }
    }

    /// Samples of one block as stored: all bands interleaved, or one plane.
    pub fn samples_per_block_pixel(&self) -> usize {
        if self.planar { 1 } else { self.samples as usize }
    }

    /// True for the reduced-resolution images (overviews) of a file.
    pub fn is_reduced(&self) -> bool {
        self.subfile_type & 1 != 0
    }

    /// True for transparency masks.
    pub fn is_mask(&self) -> bool {
        self.subfile_type & 4 != 0
    }

    /// GDAL's compression name for this image (`deflate`, `jpeg`, ...).
    pub fn compression_name(&self) -> Option<&'static str> {
        compression::name(self.compression)
    }
}
