//! Plain PNG and JPEG files (no georeference): decoded whole into memory, bounded by size.
//!
//! JPEGs get the implicit overviews GDAL gives them (1/2, 1/4, 1/8, from libjpeg's DCT
//! scaling); we build them by averaging 2^k x 2^k blocks, which is what DCT scaling
//! approximates (exact for 1/8, the block DC term).

use std::sync::Arc;

use bytes::Bytes;

use crate::array::{Buffer, DataType};
use crate::error::{Error, Result};
use crate::source::{RangeSource, read_exact};

/// Largest image decoded into memory (pixels).
pub const MAX_IMAGE_PIXELS: u64 = 200_000_000;

/// One resolution of an in-memory image: band-sequential samples.
#[derive(Clone, Debug)]
pub struct ImageLevel {
    pub width: usize,
    pub height: usize,
    pub data: Arc<Buffer>,
}

/// A decoded PNG or JPEG.
#[derive(Clone, Debug)]
pub struct MemoryImage {
    pub driver: &'static str,
    pub count: usize,
    pub dtype: DataType,
    pub colorinterp: Vec<String>,
    pub levels: Vec<ImageLevel>,
}

/// True when the bytes look like PNG or JPEG.
pub fn is_image(head: &[u8]) -> bool {
    head.starts_with(b"\x89PNG\r\n\x1a\n") || head.starts_with(&[0xFF, 0xD8, 0xFF])
}

impl MemoryImage {
    /// Read and decode the whole object.
    pub async fn open(source: &dyn RangeSource, head: Bytes, size: Option<u64>, max_bytes: u64) -> Result<MemoryImage> {
        let size = size.unwrap_or(head.len() as u64);
        if size > max_bytes {
            return Err(Error::LimitExceeded { limit: "image file size", value: size, max: max_bytes });
        }
        let data = if (head.len() as u64) >= size { head } else { read_exact(source, 0..size).await? };
        let id = source.id().to_string();
        tokio::task::spawn_blocking(move || MemoryImage::decode(&data, &id))
            .await
            .map_err(|e| Error::Io { what: "decoder task".into(), reason: e.to_string() })?
    }

    /// Decode PNG or JPEG bytes.
    pub fn decode(data: &[u8], id: &str) -> Result<MemoryImage> {
        if data.starts_with(b"\x89PNG") { decode_png(data, id) } else { decode_jpeg(data, id) }
    }

    pub fn width(&self) -> usize {
        self.levels[0].width
    }

    pub fn height(&self) -> usize {
        self.levels[0].height
    }

    /// Read a window of a level (band-sequential), for 0-based `bands`.
    pub fn read_window(
        &self,
        level: usize,
        x0: usize,
        y0: usize,
        w: usize,
        h: usize,
        bands: &[usize],
    ) -> Result<Buffer> {
        let lvl = &self.levels[level];
        if x0 + w > lvl.width || y0 + h > lvl.height {
            return Err(Error::InvalidParameter { name: "window", reason: "outside the image".into() });
        }
        let plane = lvl.width * lvl.height;
        Ok(crate::with_buffer!(lvl.data.as_ref(), v, T => {
            let mut out: Vec<T> = Vec::with_capacity(bands.len() * w * h);
            for &b in bands {
                for y in y0..y0 + h {
                    let row = b * plane + y * lvl.width;
                    out.extend_from_slice(&v[row + x0..row + x0 + w]);
                }
            }
            <T as crate::array::Sample>::wrap(out)
        }))
    }
}

impl MemoryImage {
    /// Sample a level at the given columns and rows (band-sequential output).
    pub fn sample(&self, level: usize, cols: &[usize], rows: &[usize], bands: &[usize]) -> Result<Buffer> {
        let lvl = &self.levels[level];
        if cols.iter().any(|&c| c >= lvl.width) || rows.iter().any(|&r| r >= lvl.height) {
            return Err(Error::InvalidParameter { name: "window", reason: "sampling outside the image".into() });
        }
        let plane = lvl.width * lvl.height;
        Ok(crate::with_buffer!(lvl.data.as_ref(), v, T => {
            let mut out: Vec<T> = Vec::with_capacity(bands.len() * cols.len() * rows.len());
            for &b in bands {
                for &r in rows {
                    let row = b * plane + r * lvl.width;
                    out.extend(cols.iter().map(|&c| v[row + c]));
                }
            }
            <T as crate::array::Sample>::wrap(out)
        }))
    }
}

fn check_size(w: usize, h: usize, id: &str) -> Result<()> {
    let px = w as u64 * h as u64;
    if px == 0 {
        return Err(Error::corrupt(id, "empty image"));
    }
    if px > MAX_IMAGE_PIXELS {
        return Err(Error::LimitExceeded { limit: "image pixels", value: px, max: MAX_IMAGE_PIXELS });
    }
    Ok(())
}

/// Interleaved samples to band-sequential.
fn deinterleave<T: Copy + Default>(v: &[T], count: usize, pixels: usize) -> Vec<T> {
    let mut out = vec![T::default(); count * pixels];
    for p in 0..pixels {
        for b in 0..count {
            out[b * pixels + p] = v[p * count + b];
        }
    }
    out
}

fn decode_png(data: &[u8], id: &str) -> Result<MemoryImage> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(data));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(|e| Error::corrupt(id, format!("PNG: {e}")))?;
    let (w, h) = (reader.info().width as usize, reader.info().height as usize);
    check_size(w, h, id)?;
    let size = reader.output_buffer_size().ok_or_else(|| Error::corrupt(id, "PNG too large"))?;
    let mut buf = vec![0u8; size];
    let frame = reader.next_frame(&mut buf).map_err(|e| Error::corrupt(id, format!("PNG: {e}")))?;
    let count = frame.color_type.samples();
    let pixels = w * h;
    let colorinterp: Vec<String> = match count {
        1 => vec!["gray".into()],
        2 => vec!["gray".into(), "alpha".into()],
        3 => vec!["red".into(), "green".into(), "blue".into()],
        _ => vec!["red".into(), "green".into(), "blue".into(), "alpha".into()],
    };
    let (dtype, data) = if frame.bit_depth == png::BitDepth::Sixteen {
        let v: Vec<u16> =
            buf[..frame.buffer_size()].chunks_exact(2).map(|b| u16::from_be_bytes([b[0], b[1]])).collect();
        (DataType::Uint16, Buffer::Uint16(deinterleave(&v, count, pixels)))
    } else {
        (DataType::Uint8, Buffer::Uint8(deinterleave(&buf[..frame.buffer_size()], count, pixels)))
    };
    Ok(MemoryImage {
        driver: "PNG",
        count,
        dtype,
        colorinterp,
        levels: vec![ImageLevel { width: w, height: h, data: Arc::new(data) }],
    })
}

fn decode_jpeg(data: &[u8], id: &str) -> Result<MemoryImage> {
    use zune_core::bytestream::ZCursor;
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    let mut probe = zune_jpeg::JpegDecoder::new(ZCursor::new(data));
    probe.decode_headers().map_err(|e| Error::corrupt(id, format!("JPEG: {e:?}")))?;
    let info = probe.info().ok_or_else(|| Error::corrupt(id, "JPEG without a frame"))?;
    check_size(info.width as usize, info.height as usize, id)?;
    let gray = probe.input_colorspace() == Some(ColorSpace::Luma);
    let out_cs = if gray { ColorSpace::Luma } else { ColorSpace::RGB };
    // Strict: a truncated or corrupt file is an error, not a grey-filled image.
    let opts = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(info.width as usize)
        .set_max_height(info.height as usize)
        .jpeg_set_out_colorspace(out_cs);
    let mut dec = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(data), opts);
    let pixels = dec.decode().map_err(|e| Error::corrupt(id, format!("JPEG: {e:?}")))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let count = out_cs.num_components();
    let full = deinterleave(&pixels, count, w * h);
    let mut levels = vec![ImageLevel { width: w, height: h, data: Arc::new(Buffer::Uint8(full.clone())) }];
    // GDAL: as many implicit overviews (up to 3) as the image is large.
    let n = (0..3).rev().find(|&i| w >= 256 << i || h >= 256 << i).map_or(0, |i| i + 1);
    for k in 1..=n {
        let f = 1usize << k;
        let (ow, oh) = (w.div_ceil(f), h.div_ceil(f));
        let mut out = vec![0u8; count * ow * oh];
        for b in 0..count {
            for oy in 0..oh {
                for ox in 0..ow {
                    let (mut sum, mut n) = (0u32, 0u32);
                    for y in oy * f..((oy + 1) * f).min(h) {
                        for x in ox * f..((ox + 1) * f).min(w) {
                            sum += full[b * w * h + y * w + x] as u32;
                            n += 1;
                        }
                    }
                    out[b * ow * oh + oy * ow + ox] = ((sum + n / 2) / n) as u8;
                }
            }
        }
        levels.push(ImageLevel { width: ow, height: oh, data: Arc::new(Buffer::Uint8(out)) });
    }
    let colorinterp = if gray { vec!["gray".into()] } else { vec!["red".into(), "green".into(), "blue".into()] };
    Ok(MemoryImage { driver: "JPEG", count, dtype: DataType::Uint8, colorinterp, levels })
}
