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
    /// A paletted PNG's palette (GDAL reads it as one band with a colour table).
    pub colormap: Option<Vec<[u8; 4]>>,
    /// The nodata value GDAL derives from a PNG's `tRNS` chunk.
    pub nodata: Option<f64>,
}

/// True when the bytes look like PNG or JPEG.
pub fn is_image(head: &[u8]) -> bool {
    head.starts_with(b"\x89PNG\r\n\x1a\n") || head.starts_with(&[0xFF, 0xD8, 0xFF])
}

impl MemoryImage {
    /// Read and decode the whole object.
    pub async fn open(
        source: &dyn RangeSource,
        head: Bytes,
        size: Option<u64>,
        opts: &crate::OpenOptions,
    ) -> Result<MemoryImage> {
        let (size, max_bytes) = (size.unwrap_or(head.len() as u64), opts.max_image_bytes);
        if size > max_bytes {
            return Err(Error::LimitExceeded { limit: "image file size", value: size, max: max_bytes });
        }
        let data = if (head.len() as u64) >= size { head } else { read_exact(source, 0..size).await? };
        let id = source.id().to_string();
        opts.cpu.try_run(move || MemoryImage::decode(&data, &id)).await
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

/// Decode a PNG as GDAL's PNG driver reads it: the stored samples (low bit depths
/// unpacked, not scaled), a palette as one band with its colour table, and `tRNS` as
/// nodata (the one fully transparent palette entry, the grey value, or the red value of
/// an RGB colour, which rio-tiler applies to every band).
fn decode_png(data: &[u8], id: &str) -> Result<MemoryImage> {
    use png::ColorType;
    let bad = |e: png::DecodingError| Error::corrupt(id, format!("PNG: {e}"));
    let mut decoder = png::Decoder::new(std::io::Cursor::new(data));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder.read_info().map_err(bad)?;
    let (w, h) = (reader.info().width as usize, reader.info().height as usize);
    check_size(w, h, id)?;
    let palette = reader.info().palette.as_ref().map(|p| p.to_vec());
    let trns = reader.info().trns.as_ref().map(|t| t.to_vec());
    let size = reader.output_buffer_size().ok_or_else(|| Error::corrupt(id, "PNG too large"))?;
    let mut buf = vec![0u8; size];
    let frame = reader.next_frame(&mut buf).map_err(bad)?;
    let count = frame.color_type.samples();
    let bits = frame.bit_depth as usize;
    let pixels = w * h;
    // Interleaved samples, unpacked to one value each.
    let mut values: Vec<u16> = Vec::with_capacity(count * pixels);
    for y in 0..h {
        let row = &buf[y * frame.line_size..(y + 1) * frame.line_size];
        match bits {
            16 => values.extend(row[..2 * count * w].chunks_exact(2).map(|b| u16::from_be_bytes([b[0], b[1]]))),
            8 => values.extend(row[..count * w].iter().map(|&b| b as u16)),
            _ => {
                let mask = (1u16 << bits) - 1;
                values.extend((0..count * w).map(|i| {
                    let bit = i * bits;
                    (row[bit / 8] as u16 >> (8 - bits - bit % 8)) & mask
                }));
            }
        }
    }
    let (dtype, data) = if bits == 16 {
        (DataType::Uint16, Buffer::Uint16(deinterleave(&values, count, pixels)))
    } else {
        let v: Vec<u8> = values.iter().map(|&v| v as u8).collect();
        (DataType::Uint8, Buffer::Uint8(deinterleave(&v, count, pixels)))
    };
    let (mut colormap, mut nodata) = (None, None);
    let colorinterp: Vec<String> = match frame.color_type {
        ColorType::Indexed => {
            let rgb = palette.unwrap_or_default();
            let alpha = trns.unwrap_or_default();
            let entries: Vec<[u8; 4]> = rgb
                .chunks_exact(3)
                .enumerate()
                .map(|(i, c)| [c[0], c[1], c[2], alpha.get(i).copied().unwrap_or(255)])
                .collect();
            let transparent: Vec<usize> = (0..entries.len()).filter(|&i| entries[i][3] == 0).collect();
            if let [only] = transparent[..] {
                nodata = Some(only as f64);
            }
            colormap = Some(entries);
            vec!["palette".into()]
        }
        ColorType::Grayscale => {
            nodata = trns.and_then(|t| trns_first(&t, bits));
            vec!["gray".into()]
        }
        ColorType::GrayscaleAlpha => vec!["gray".into(), "alpha".into()],
        ColorType::Rgb => {
            nodata = trns.and_then(|t| trns_first(&t, bits));
            vec!["red".into(), "green".into(), "blue".into()]
        }
        ColorType::Rgba => vec!["red".into(), "green".into(), "blue".into(), "alpha".into()],
    };
    Ok(MemoryImage {
        driver: "PNG",
        count,
        dtype,
        colorinterp,
        levels: vec![ImageLevel { width: w, height: h, data: Arc::new(data) }],
        colormap,
        nodata,
    })
}

/// The first value of a grey or RGB `tRNS` (the png crate keeps one byte per channel
/// below 16 bits, two big-endian bytes at 16).
fn trns_first(t: &[u8], bits: usize) -> Option<f64> {
    match (bits, t) {
        (16, [a, b, ..]) => Some(u16::from_be_bytes([*a, *b]) as f64),
        (_, [a, ..]) if bits < 16 => Some(*a as f64),
        _ => None,
    }
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
    Ok(MemoryImage { driver: "JPEG", count, dtype: DataType::Uint8, colorinterp, levels, colormap: None, nodata: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(
        (w, h): (u32, u32),
        color: png::ColorType,
        depth: png::BitDepth,
        palette: Option<Vec<u8>>,
        trns: Option<Vec<u8>>,
        rows: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = png::Encoder::new(&mut out, w, h);
        e.set_color(color);
        e.set_depth(depth);
        if let Some(p) = palette {
            e.set_palette(p);
        }
        if let Some(t) = trns {
            e.set_trns(t);
        }
        e.write_header().unwrap().write_image_data(rows).unwrap();
        out
    }

    #[test]
    fn a_paletted_png_is_one_band_with_its_palette_as_gdal_reads_it() {
        // 4-bit indexes, 3 x 2 pixels: 0 1 2 / 2 1 0 (rows padded to whole bytes).
        let rows = [0x01, 0x20, 0x21, 0x00];
        let palette = vec![255, 0, 0, 0, 255, 0, 0, 0, 255];
        let bytes =
            encode((3, 2), png::ColorType::Indexed, png::BitDepth::Four, Some(palette), Some(vec![255, 0]), &rows);
        let img = MemoryImage::decode(&bytes, "p.png").unwrap();
        assert_eq!((img.count, img.dtype, img.colorinterp.clone()), (1, DataType::Uint8, vec!["palette".to_string()]));
        assert_eq!(img.levels[0].data.as_slice::<u8>().unwrap(), &[0, 1, 2, 2, 1, 0]);
        // tRNS gives the first entries' alpha; the only fully transparent one is nodata.
        assert_eq!(img.colormap, Some(vec![[255, 0, 0, 255], [0, 255, 0, 0], [0, 0, 255, 255]]));
        assert_eq!(img.nodata, Some(1.0));
    }

    #[test]
    fn low_bit_depths_are_not_scaled_and_trns_is_nodata() {
        // 1-bit grey: GDAL reads 0 and 1 (NBITS=1), not 0 and 255.
        let bytes =
            encode((4, 1), png::ColorType::Grayscale, png::BitDepth::One, None, Some(vec![0, 1]), &[0b1010_0000]);
        let img = MemoryImage::decode(&bytes, "g.png").unwrap();
        assert_eq!(img.levels[0].data.as_slice::<u8>().unwrap(), &[1, 0, 1, 0]);
        assert_eq!((img.count, img.nodata), (1, Some(1.0)));
        // RGB with a transparent colour: three bands, nodata the red value.
        let bytes =
            encode((1, 1), png::ColorType::Rgb, png::BitDepth::Eight, None, Some(vec![0, 7, 0, 8, 0, 9]), &[1, 2, 3]);
        let img = MemoryImage::decode(&bytes, "rgb.png").unwrap();
        assert_eq!((img.count, img.nodata), (3, Some(7.0)));
        // 16-bit grey stays 16-bit.
        let bytes =
            encode((2, 1), png::ColorType::Grayscale, png::BitDepth::Sixteen, None, None, &[0x12, 0x34, 0xff, 0xfe]);
        let img = MemoryImage::decode(&bytes, "g16.png").unwrap();
        assert_eq!(img.levels[0].data.as_slice::<u16>().unwrap(), &[0x1234, 0xfffe]);
        assert_eq!((img.colormap.clone(), img.nodata), (None, None));
    }
}
