//! Block decoding: decompression, predictors and sample conversion.
//!
//! Each codec is a well-kept crate (flate2 on zlib-rs, weezl, zstd, zune-jpeg, image-webp,
//! lerc); PackBits is twenty lines. Decoding is synchronous: callers run it on the blocking
//! pool. Every decoder is told the exact output size up front, so a hostile stream cannot
//! make it allocate more than the block.

use std::io::Read;

use super::layout::TiffImage;
use super::tags::{compression as c, photometric};
use crate::array::{Buffer, Sample};
use crate::error::{Error, Result};
use crate::tiff::ifd::ByteOrder;
use crate::with_dtype;

/// A decoded block: `rows` x `width` pixels of `spp` interleaved samples.
#[derive(Clone, Debug)]
pub struct DecodedBlock {
    pub width: u32,
    pub rows: u32,
    pub spp: usize,
    pub data: Buffer,
}

/// Decode one compressed block (`by` is its block row; the last strip may be short).
pub fn decode_block(img: &TiffImage, compressed: &[u8], by: u32, id: &str) -> Result<DecodedBlock> {
    let block = decode_block_unchecked(img, compressed, by, id)?;
    // Whatever the codec said, the block must hold exactly the pixels its image promises.
    let want = block.width as usize * block.rows as usize * block.spp;
    if block.data.len() != want || block.spp != img.samples_per_block_pixel() {
        return Err(Error::corrupt(id, format!("block decodes to {} samples, {want} expected", block.data.len())));
    }
    Ok(block)
}

fn decode_block_unchecked(img: &TiffImage, compressed: &[u8], by: u32, id: &str) -> Result<DecodedBlock> {
    let rows = img.block_rows(by);
    let cols = img.block_width;
    let spp = img.samples_per_block_pixel();
    let corrupt = |reason: String| Error::corrupt(id, reason);
    match img.compression {
        c::JPEG => {
            let data = decode_jpeg(img, compressed, cols, rows, spp).map_err(corrupt)?;
            return Ok(DecodedBlock { width: cols, rows, spp, data: Buffer::Uint8(data) });
        }
        c::WEBP => {
            let data = decode_webp(compressed, cols, rows, spp).map_err(corrupt)?;
            return Ok(DecodedBlock { width: cols, rows, spp, data: Buffer::Uint8(data) });
        }
        c::LERC => {
            let data = decode_lerc(img, compressed, cols, rows, spp).map_err(corrupt)?;
            return Ok(DecodedBlock { width: cols, rows, spp, data });
        }
        _ => {}
    }
    let bits = img.bits as usize;
    let row_bytes = (cols as usize * spp * bits).div_ceil(8);
    let expected = row_bytes * rows as usize;
    let mut bytes = decompress(img.compression, compressed, expected).map_err(corrupt)?;
    if bytes.len() < expected {
        return Err(corrupt(format!("block decodes to {} bytes, {expected} expected", bytes.len())));
    }
    bytes.truncate(expected);

    if bits == 1 {
        let invert = img.photometric == photometric::MIN_IS_WHITE;
        let lsb_first = img.fill_order == 2;
        let mut out = vec![0u8; cols as usize * spp * rows as usize];
        for r in 0..rows as usize {
            let row = &bytes[r * row_bytes..(r + 1) * row_bytes];
            for i in 0..cols as usize * spp {
                let byte = row[i / 8];
                let bit = if lsb_first { (byte >> (i % 8)) & 1 } else { (byte >> (7 - i % 8)) & 1 };
                out[r * cols as usize * spp + i] = bit ^ u8::from(invert);
            }
        }
        return Ok(DecodedBlock { width: cols, rows, spp, data: Buffer::Uint8(out) });
    }

    if img.predictor == 3 {
        if !img.dtype.is_float() {
            return Err(corrupt("floating-point predictor on integer samples".into()));
        }
        undo_float_predictor(&mut bytes, cols as usize, rows as usize, spp, bits / 8);
        // The predictor leaves samples in native order.
        let data = with_dtype!(img.dtype, T => T::wrap(bytes.chunks_exact(bits / 8).map(T::read_ne).collect()));
        return Ok(DecodedBlock { width: cols, rows, spp, data });
    }

    if img.predictor != 1 && img.predictor != 2 {
        return Err(Error::unsupported(format!("{id}: predictor {}", img.predictor)));
    }
    // Predictor 2 works on the samples' bit patterns as unsigned words (for floats too, as
    // libtiff does), so undo it before interpreting the words.
    let size = bits / 8;
    let width = cols as usize;
    let swap = matches!(img.order, ByteOrder::Big) == cfg!(target_endian = "little");
    if swap && size > 1 {
        for w in bytes.chunks_exact_mut(size) {
            w.reverse();
        }
    }
    if img.predictor == 2 {
        match size {
            1 => undo_horizontal_predictor(&mut bytes, width, spp),
            2 => with_words::<u16>(&mut bytes, |v| undo_horizontal_predictor(v, width, spp)),
            4 => with_words::<u32>(&mut bytes, |v| undo_horizontal_predictor(v, width, spp)),
            8 => with_words::<u64>(&mut bytes, |v| undo_horizontal_predictor(v, width, spp)),
            _ => return Err(corrupt(format!("predictor 2 on {bits}-bit samples"))),
        }
    }
    let data = if img.half_float {
        Buffer::Float32(bytes.chunks_exact(2).map(|b| half_to_f32(u16::from_ne_bytes([b[0], b[1]]))).collect())
    } else {
        with_dtype!(img.dtype, T => T::wrap(bytes.chunks_exact(size).map(T::read_ne).collect()))
    };
    Ok(DecodedBlock { width: cols, rows, spp, data })
}

/// Decompress a non-image-codec block to raw sample bytes.
fn decompress(code: u16, data: &[u8], expected: usize) -> Result<Vec<u8>, String> {
    match code {
        c::NONE => Ok(data.to_vec()),
        c::DEFLATE | c::ADOBE_DEFLATE => inflate(data, expected),
        c::LZW => {
            let mut out = Vec::with_capacity(expected);
            let mut dec = weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8);
            let mut buf = vec![0u8; expected.clamp(1, 1 << 20)];
            let mut input = data;
            while out.len() < expected {
                let r = dec.decode_bytes(input, &mut buf);
                input = &input[r.consumed_in..];
                out.extend_from_slice(&buf[..r.consumed_out]);
                match r.status {
                    Ok(weezl::LzwStatus::Ok) if r.consumed_in == 0 && r.consumed_out == 0 => break,
                    Ok(weezl::LzwStatus::Ok) => {}
                    Ok(weezl::LzwStatus::Done) | Ok(weezl::LzwStatus::NoProgress) => break,
                    Err(e) => return Err(format!("LZW: {e}")),
                }
            }
            Ok(out)
        }
        c::PACKBITS => unpack_bits(data, expected),
        c::ZSTD => {
            let mut out = Vec::with_capacity(expected);
            let mut dec = zstd::stream::read::Decoder::new(data).map_err(|e| format!("ZSTD: {e}"))?;
            (&mut dec).take(expected as u64).read_to_end(&mut out).map_err(|e| format!("ZSTD: {e}"))?;
            Ok(out)
        }
        c::LZMA => {
            // libtiff wraps LZMA2 in an xz stream (no integrity check).
            let mut out = Vec::with_capacity(expected);
            lzma_rust2::XzReader::new(data, false)
                .take(expected as u64)
                .read_to_end(&mut out)
                .map_err(|e| format!("LZMA: {e}"))?;
            Ok(out)
        }
        c::OLD_JPEG => Err("old-style JPEG (compression 6) is not supported".into()),
        c::JPEG2000 => Err("JPEG 2000 compression is not supported".into()),
        c::JXL => Err("JPEG XL compression is not supported".into()),
        other => Err(format!("compression {other} is not supported")),
    }
}

/// zlib (TIFF deflate) into at most `expected` bytes.
fn inflate(data: &[u8], expected: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(expected);
    let dec = flate2::read::ZlibDecoder::new(data);
    dec.take(expected as u64).read_to_end(&mut out).map_err(|e| format!("deflate: {e}"))?;
    Ok(out)
}

/// PackBits run-length decoding, stopping at `expected` bytes.
pub(crate) fn unpack_bits(data: &[u8], expected: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(expected);
    let mut i = 0;
    while i < data.len() && out.len() < expected {
        let n = data[i] as i8;
        i += 1;
        if n >= 0 {
            let len = n as usize + 1;
            let end = (i + len).min(data.len());
            out.extend_from_slice(&data[i..end]);
            i = end;
        } else if n != -128 {
            let Some(&b) = data.get(i) else { break };
            i += 1;
            let count = (1 - n as isize) as usize;
            out.extend(std::iter::repeat_n(b, count));
        }
    }
    out.truncate(expected);
    Ok(out)
}

/// Run `f` over native-endian bytes viewed as unsigned words, writing the result back.
fn with_words<W: Word>(bytes: &mut [u8], f: impl FnOnce(&mut [W])) {
    let mut words: Vec<W> = bytes.chunks_exact(W::SIZE).map(W::from_ne).collect();
    f(&mut words);
    for (chunk, w) in bytes.chunks_exact_mut(W::SIZE).zip(words) {
        w.write_ne(chunk);
    }
}

/// Unsigned words that predictor 2 adds with wraparound.
trait Word: Copy {
    const SIZE: usize;
    fn from_ne(b: &[u8]) -> Self;
    fn write_ne(self, out: &mut [u8]);
    fn wrapping_add(self, other: Self) -> Self;
}

macro_rules! word {
    ($t:ty) => {
        impl Word for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn from_ne(b: &[u8]) -> Self {
                <$t>::from_ne_bytes(b.try_into().expect("word width"))
            }
            fn write_ne(self, out: &mut [u8]) {
                out.copy_from_slice(&self.to_ne_bytes());
            }
            fn wrapping_add(self, other: Self) -> Self {
                <$t>::wrapping_add(self, other)
            }
        }
    };
}
word!(u8);
word!(u16);
word!(u32);
word!(u64);

/// Undo TIFF predictor 2 (horizontal differencing) per row, with wrapping adds.
fn undo_horizontal_predictor<T: Word>(v: &mut [T], width: usize, stride: usize) {
    let row_len = width * stride;
    for row in v.chunks_exact_mut(row_len) {
        for i in stride..row_len {
            row[i] = row[i].wrapping_add(row[i - stride]);
        }
    }
}

/// Undo TIFF predictor 3 (floating point): byte-wise differencing, then un-shuffle the byte
/// planes (most significant first) into native-order samples.
fn undo_float_predictor(bytes: &mut [u8], cols: usize, rows: usize, spp: usize, bps: usize) {
    let row_len = cols * spp * bps;
    let words = cols * spp;
    let mut tmp = vec![0u8; row_len];
    for row in bytes.chunks_exact_mut(row_len).take(rows) {
        for i in spp..row_len {
            row[i] = row[i].wrapping_add(row[i - spp]);
        }
        tmp.copy_from_slice(row);
        for w in 0..words {
            for b in 0..bps {
                // Plane 0 holds the most significant bytes.
                let src = if cfg!(target_endian = "little") { (bps - b - 1) * words + w } else { b * words + w };
                row[w * bps + b] = tmp[src];
            }
        }
    }
}

/// IEEE half precision to single precision.
fn half_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let mant = (h & 0x3ff) as u32;
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: normalise.
            let mut e = 127 - 15 + 1;
            let mut m = m;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | ((e as u32) << 23) | ((m & 0x3ff) << 13)
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// JPEG tile/strip: merge the shared tables, decode, keep YCbCr→RGB only for YCbCr images
/// (libtiff's JPEGCOLORMODE_RGB, as GDAL sets it); other images keep their raw components.
fn decode_jpeg(img: &TiffImage, data: &[u8], cols: u32, rows: u32, spp: usize) -> Result<Vec<u8>, String> {
    use zune_core::bytestream::ZCursor;
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    let stream: Vec<u8>;
    let input: &[u8] = match &img.jpeg_tables {
        Some(tables) if tables.len() > 4 && data.len() > 2 && data.starts_with(&[0xFF, 0xD8]) => {
            // Tables stream minus its EOI, then the tile stream minus its SOI.
            let t = if tables.ends_with(&[0xFF, 0xD9]) { &tables[..tables.len() - 2] } else { &tables[..] };
            let mut s = Vec::with_capacity(t.len() + data.len());
            s.extend_from_slice(t);
            s.extend_from_slice(&data[2..]);
            stream = s;
            &stream
        }
        _ => data,
    };
    let limits =
        DecoderOptions::default().set_max_width(cols as usize).set_max_height(rows as usize).set_use_unsafe(false);
    let mut probe = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(input), limits);
    probe.decode_headers().map_err(|e| format!("JPEG: {e:?}"))?;
    let in_cs = probe.input_colorspace().ok_or("JPEG: no colour space")?;
    let out_cs =
        if img.photometric == photometric::YCBCR && in_cs == ColorSpace::YCbCr { ColorSpace::RGB } else { in_cs };
    let mut dec = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(input), limits.jpeg_set_out_colorspace(out_cs));
    let pixels = dec.decode().map_err(|e| format!("JPEG: {e:?}"))?;
    let info = dec.info().ok_or("JPEG: no image info")?;
    let (w, h) = (info.width as usize, info.height as usize);
    let comps = out_cs.num_components();
    if comps != spp {
        return Err(format!("JPEG has {comps} components, the image {spp} samples"));
    }
    copy_into_block(&pixels, w, h, comps, cols as usize, rows as usize)
}

/// WebP tile/strip to RGB or RGBA as the image wants.
fn decode_webp(data: &[u8], cols: u32, rows: u32, spp: usize) -> Result<Vec<u8>, String> {
    let mut dec = image_webp::WebPDecoder::new(std::io::Cursor::new(data)).map_err(|e| format!("WebP: {e}"))?;
    let (w, h) = dec.dimensions();
    if w > cols || h > rows {
        return Err(format!("WebP image {w}x{h} is larger than its {cols}x{rows} block"));
    }
    let has_alpha = dec.has_alpha();
    let size = dec.output_buffer_size().ok_or("WebP: image too large")?;
    let mut buf = vec![0u8; size];
    dec.read_image(&mut buf).map_err(|e| format!("WebP: {e}"))?;
    let src_comps = if has_alpha { 4 } else { 3 };
    let pixels: Vec<u8> = match (src_comps, spp) {
        (a, b) if a == b => buf,
        (3, 4) => buf.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
        (4, 3) => buf.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect(),
        _ => return Err(format!("WebP in a {spp}-sample image")),
    };
    copy_into_block(&pixels, w as usize, h as usize, spp, cols as usize, rows as usize)
}

/// Place a decoded `w` x `h` image into a `cols` x `rows` block (codec images of edge
/// tiles may be smaller than the block).
fn copy_into_block(
    pixels: &[u8],
    w: usize,
    h: usize,
    comps: usize,
    cols: usize,
    rows: usize,
) -> Result<Vec<u8>, String> {
    if w == cols && h >= rows {
        let mut p = pixels.to_vec();
        p.truncate(cols * rows * comps);
        return Ok(p);
    }
    if w > cols || pixels.len() < w * h * comps {
        return Err(format!("decoded image {w}x{h} does not fit its {cols}x{rows} block"));
    }
    let mut out = vec![0u8; cols * rows * comps];
    for r in 0..h.min(rows) {
        out[r * cols * comps..r * cols * comps + w * comps]
            .copy_from_slice(&pixels[r * w * comps..(r + 1) * w * comps]);
    }
    Ok(out)
}

/// LERC (optionally wrapped in deflate or zstd, per the LercParameters tag), decoded by
/// the pure-Rust `lerc-rs`. Pixels LERC marks invalid become NaN (floats) or 0.
fn decode_lerc(img: &TiffImage, data: &[u8], cols: u32, rows: u32, spp: usize) -> Result<Buffer, String> {
    let pixel_bytes = cols as usize * rows as usize * spp * img.dtype.size();
    // A LERC blob is never much larger than the raw block.
    let bound = pixel_bytes * 2 + 4096;
    let additional = img.lerc_params.as_deref().and_then(|p| p.get(1).copied()).unwrap_or(0);
    let blob = match additional {
        0 => data.to_vec(),
        1 => inflate(data, bound)?,
        2 => {
            let mut out = Vec::new();
            let mut dec = zstd::stream::read::Decoder::new(data).map_err(|e| format!("ZSTD: {e}"))?;
            (&mut dec).take(bound as u64).read_to_end(&mut out).map_err(|e| format!("ZSTD: {e}"))?;
            out
        }
        other => return Err(format!("LERC additional compression {other} is not supported")),
    };
    let info = lerc::decode_info(&blob).map_err(|e| format!("LERC: {e}"))?;
    let (depth, bands) = (info.depth as usize, info.bands as usize);
    // libtiff's layouts for a pixel-interleaved block: one blob of `spp` values per pixel;
    // or, for floats where only some samples of a pixel are NaN, `spp` single-value bands
    // one after the other, each with its own mask; or, for bytes whose last sample is an
    // alpha of only 0 and 255, the other samples with the alpha as the blob's mask.
    let alpha_as_mask =
        img.dtype == crate::DataType::Uint8 && bands == 1 && depth + 1 == spp && img.extra_samples.last() == Some(&2);
    if info.width != cols || info.height != rows || (depth * bands != spp && !alpha_as_mask) {
        return Err(format!(
            "LERC blob is {}x{}x{depth}x{bands}, the block {cols}x{rows}x{spp}",
            info.width, info.height
        ));
    }
    let image = lerc::decode(&blob).map_err(|e| format!("LERC: {e}"))?;
    let mut buffer = match image.data {
        lerc::SampleData::I8(v) => Buffer::Int8(v),
        lerc::SampleData::U8(v) => Buffer::Uint8(v),
        lerc::SampleData::I16(v) => Buffer::Int16(v),
        lerc::SampleData::U16(v) => Buffer::Uint16(v),
        lerc::SampleData::I32(v) => Buffer::Int32(v),
        lerc::SampleData::U32(v) => Buffer::Uint32(v),
        lerc::SampleData::F32(v) => Buffer::Float32(v),
        lerc::SampleData::F64(v) => Buffer::Float64(v),
    };
    if buffer.dtype() != img.dtype {
        buffer = buffer.cast(img.dtype);
    }
    let n = cols as usize * rows as usize;
    let fill = if img.dtype.is_float() { f64::NAN } else { 0.0 };
    if alpha_as_mask {
        let mask = image.valid_masks.first();
        let mut out = Vec::with_capacity(n * spp);
        if let Buffer::Uint8(v) = &buffer {
            for px in 0..n {
                out.extend_from_slice(&v[px * depth..(px + 1) * depth]);
                out.push(if mask.is_none_or(|m| m.is_valid(px)) { 255 } else { 0 });
            }
        }
        return Ok(Buffer::Uint8(out));
    }
    if bands > 1 && depth == 1 {
        // Band-sequential blobs to pixel-interleaved samples, each band with its mask.
        crate::with_buffer!(&mut buffer, v, T => {
            let mut out = vec![T::default(); n * bands];
            for b in 0..bands {
                let mask = image.valid_masks.get(b).filter(|m| !m.is_all_valid());
                for px in 0..n {
                    out[px * bands + b] = match mask {
                        Some(m) if !m.is_valid(px) => T::from_f64(fill),
                        _ => v[b * n + px],
                    };
                }
            }
            *v = out;
        });
        return Ok(buffer);
    }
    if let Some(mask) = image.valid_masks.first().filter(|m| !m.is_all_valid()) {
        let depth = spp.max(1);
        crate::with_buffer!(&mut buffer, v, T => {
            for px in 0..n {
                if !mask.is_valid(px) {
                    v[px * depth..(px + 1) * depth].iter_mut().for_each(|s| *s = T::from_f64(fill));
                }
            }
        });
    }
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits_runs_and_literals() {
        // From the TIFF 6.0 specification.
        let packed = [0xFE, 0xAA, 0x02, 0x80, 0x00, 0x2A, 0xFD, 0xAA, 0x03, 0x80, 0x00, 0x2A, 0x22, 0xF7, 0xAA];
        let expected = [
            0xAA, 0xAA, 0xAA, 0x80, 0x00, 0x2A, 0xAA, 0xAA, 0xAA, 0xAA, 0x80, 0x00, 0x2A, 0x22, 0xAA, 0xAA, 0xAA, 0xAA,
            0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA,
        ];
        assert_eq!(unpack_bits(&packed, expected.len()).unwrap(), expected);
        // Hostile input never grows past the expected size.
        assert_eq!(unpack_bits(&[0x81, 0xFF, 0x81, 0xFF], 10).unwrap().len(), 10);
    }

    #[test]
    fn predictors() {
        let mut v = vec![1u16, 1, 1, 65535, 2, 2];
        undo_horizontal_predictor(&mut v, 3, 2);
        assert_eq!(v, vec![1, 1, 2, 0, 4, 2]);
        assert_eq!(half_to_f32(0x3c00), 1.0);
        assert_eq!(half_to_f32(0xc000), -2.0);
        assert!(half_to_f32(0x7e00).is_nan());
    }
}
