//! Image encoders: PNG (8/16 bit, fast deflate), JPEG, WebP (lossless), GeoTIFF, NPY.
//!
//! Inputs are band-sequential planes; the optional `alpha` plane is the mask as an alpha
//! band (rio-tiler's `render`: PNG/WebP/GeoTIFF carry it, JPEG does not).

use crate::array::{Buffer, DataType};
use crate::error::{Error, Result};

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidParameter { name: "format", reason: reason.into() }
}

/// Pixel-interleave `bands` planes of `n` samples (plus an optional alpha plane).
/// Plane by plane, so each pass reads one plane sequentially and writes at a fixed stride.
fn interleave<T: Copy + Default>(planes: &[T], bands: usize, n: usize, alpha: Option<&[T]>) -> Vec<T> {
    let total = bands + usize::from(alpha.is_some());
    if n == 0 {
        return Vec::new();
    }
    let planes: Vec<&[T]> =
        planes[..bands * n].chunks_exact(n.max(1)).take(bands).chain(alpha.map(|a| &a[..n])).collect();
    // One pass over the output with the pixel size known at compile time (1 to 4 samples, the
    // encoders' cases): each pixel is written whole.
    fn fill<T: Copy + Default, const K: usize>(planes: &[&[T]], n: usize) -> Vec<T> {
        let mut out = vec![T::default(); n * K];
        let planes: [&[T]; K] = std::array::from_fn(|b| &planes[b][..n]);
        for (i, px) in out.chunks_exact_mut(K).enumerate() {
            for b in 0..K {
                px[b] = planes[b][i];
            }
        }
        out
    }
    match total {
        1 => planes[0].to_vec(),
        2 => fill::<T, 2>(&planes, n),
        3 => fill::<T, 3>(&planes, n),
        4 => fill::<T, 4>(&planes, n),
        _ => {
            let mut out = vec![T::default(); n * total];
            for (b, plane) in planes.iter().enumerate() {
                for (px, &v) in out.chunks_exact_mut(total).zip(plane.iter()) {
                    px[b] = v;
                }
            }
            out
        }
    }
}

/// PNG with GDAL's band rules (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA), 8 or 16 bits.
/// `fast` picks the fastest deflate (tiles); otherwise a balanced level (`pngraw` asks
/// for GDAL's zlevel 1, `png` for 6: both map to fast settings here, see `docs/rendering.md`).
pub fn png(data: &Buffer, bands: usize, width: usize, height: usize, alpha: Option<&Buffer>) -> Result<Vec<u8>> {
    let n = width * height;
    let total = bands + usize::from(alpha.is_some());
    let color = match total {
        1 => png::ColorType::Grayscale,
        2 => png::ColorType::GrayscaleAlpha,
        3 => png::ColorType::Rgb,
        4 => png::ColorType::Rgba,
        _ => return Err(invalid(format!("PNG takes 1 to 4 bands, not {total}"))),
    };
    let (depth, bytes): (png::BitDepth, Vec<u8>) = match data {
        Buffer::Uint8(v) => {
            let a = alpha.map(|a| a.cast(DataType::Uint8));
            let a = a.as_ref().and_then(|a| a.as_slice::<u8>());
            (png::BitDepth::Eight, interleave(v, bands, n, a))
        }
        Buffer::Uint16(v) => {
            let a = alpha.map(|a| a.cast(DataType::Uint16));
            let a = a.as_ref().and_then(|a| a.as_slice::<u16>());
            let px = interleave(v, bands, n, a);
            (png::BitDepth::Sixteen, px.iter().flat_map(|s| s.to_be_bytes()).collect())
        }
        other => return Err(invalid(format!("PNG cannot hold {} data", other.dtype().name()))),
    };
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width as u32, height as u32);
        enc.set_color(color);
        enc.set_depth(depth);
        enc.set_compression(png::Compression::Fast);
        let mut w = enc.write_header().map_err(|e| Error::Io { what: "PNG encoder".into(), reason: e.to_string() })?;
        w.write_image_data(&bytes).map_err(|e| Error::Io { what: "PNG encoder".into(), reason: e.to_string() })?;
    }
    Ok(out)
}

/// Baseline JPEG (quality 85, GDAL's default in rio-tiler's profile): 1 or 3 uint8 bands.
pub fn jpeg(data: &Buffer, bands: usize, width: usize, height: usize, quality: u8) -> Result<Vec<u8>> {
    let v = data.as_slice::<u8>().ok_or_else(|| invalid("JPEG holds 8-bit data only"))?;
    let color = match bands {
        1 => jpeg_encoder::ColorType::Luma,
        3 => jpeg_encoder::ColorType::Rgb,
        n => return Err(invalid(format!("JPEG takes 1 or 3 bands, not {n}"))),
    };
    if width > u16::MAX as usize || height > u16::MAX as usize {
        return Err(invalid("JPEG images are at most 65535 pixels wide"));
    }
    let px = interleave(v, bands, width * height, None);
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, quality)
        .encode(&px, width as u16, height as u16, color)
        .map_err(|e| Error::Io { what: "JPEG encoder".into(), reason: e.to_string() })?;
    Ok(out)
}

/// WebP's largest side.
const WEBP_MAX_SIDE: usize = 16383;

/// WebP: uint8, 1 band repeated to RGB as rio-tiler does, alpha kept. Lossy at `quality`
/// (libwebp, as GDAL's WEBP driver; the alpha plane stays lossless), or lossless (`None`;
/// pure Rust).
pub fn webp(
    data: &Buffer,
    bands: usize,
    width: usize,
    height: usize,
    alpha: Option<&Buffer>,
    quality: Option<f32>,
) -> Result<Vec<u8>> {
    let v = data.as_slice::<u8>().ok_or_else(|| invalid("WebP holds 8-bit data only"))?;
    let n = width * height;
    let rgb: Vec<u8> = match bands {
        1 => v.iter().chain(v.iter()).chain(v.iter()).copied().collect(),
        3 => v.to_vec(),
        b => return Err(invalid(format!("WebP takes 1 or 3 bands, not {b}"))),
    };
    let a = alpha.map(|a| a.cast(DataType::Uint8));
    let a = a.as_ref().and_then(|a| a.as_slice::<u8>());
    if width > WEBP_MAX_SIDE || height > WEBP_MAX_SIDE {
        return Err(invalid(format!("WebP images are at most {WEBP_MAX_SIDE} pixels a side, not {width}x{height}")));
    }
    let px = interleave(&rgb, 3, n, a);
    if let Some(q) = quality {
        let (w, h) = (width as u32, height as u32);
        let enc = match a {
            Some(_) => webp::Encoder::from_rgba(&px, w, h),
            None => webp::Encoder::from_rgb(&px, w, h),
        };
        return enc
            .encode_simple(false, q)
            .map(|m| m.to_vec())
            .map_err(|e| Error::Io { what: "WebP encoder".into(), reason: format!("{e:?}") });
    }
    let color = if a.is_some() { image_webp::ColorType::Rgba8 } else { image_webp::ColorType::Rgb8 };
    let mut out = Vec::new();
    image_webp::WebPEncoder::new(&mut out)
        .encode(&px, width as u32, height as u32, color)
        .map_err(|e| Error::Io { what: "WebP encoder".into(), reason: e.to_string() })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trips_8_and_16_bits() {
        let data = Buffer::Uint8((0..12).collect());
        let alpha = Buffer::Uint8(vec![255, 0, 255, 0]);
        let bytes = png(&data, 3, 2, 2, Some(&alpha)).unwrap();
        let mut r = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgba);
        assert_eq!(&buf[..8], &[0, 4, 8, 255, 1, 5, 9, 0]);
        let data = Buffer::Uint16(vec![1000, 65535]);
        let bytes = png(&data, 1, 2, 1, None).unwrap();
        let mut r = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        r.next_frame(&mut buf).unwrap();
        assert_eq!(&buf[..4], &[0x03, 0xE8, 0xFF, 0xFF]);
        assert!(png(&Buffer::Float32(vec![0.0]), 1, 1, 1, None).is_err());
        assert!(png(&Buffer::Uint8(vec![0; 5]), 5, 1, 1, None).is_err());
    }

    #[test]
    fn jpeg_and_webp_refuse_what_they_cannot_hold() {
        assert!(jpeg(&Buffer::Uint8(vec![0; 2]), 2, 1, 1, 85).is_err());
        assert!(jpeg(&Buffer::Int16(vec![0]), 1, 1, 1, 85).is_err());
        assert!(jpeg(&Buffer::Uint8(vec![9; 3 * 64]), 3, 8, 8, 85).unwrap().starts_with(&[0xFF, 0xD8]));
        let w = webp(&Buffer::Uint8(vec![7; 4]), 1, 2, 2, Some(&Buffer::Uint8(vec![255; 4])), None).unwrap();
        assert_eq!(&w[..4], b"RIFF");
        let decoded = image_webp::WebPDecoder::new(std::io::Cursor::new(w)).unwrap();
        assert!(decoded.has_alpha());
        assert!(webp(&Buffer::Uint8(vec![0; 16384]), 1, 16384, 1, None, None).is_err());
        assert!(webp(&Buffer::Uint8(vec![0; 16384]), 1, 16384, 1, None, Some(75.0)).is_err());
    }

    #[test]
    fn webp_is_lossy_by_default_with_a_lossless_alpha() {
        // A noisy image: lossy coding changes values, lossless keeps them.
        let (w, h) = (64, 48);
        let v: Vec<u8> = (0..3 * w * h).map(|i| ((i * 7919) % 251) as u8).collect();
        let alpha: Vec<u8> = (0..w * h).map(|i| if i % 3 == 0 { 0 } else { 255 }).collect();
        let decode = |bytes: Vec<u8>| {
            let mut d = image_webp::WebPDecoder::new(std::io::Cursor::new(bytes)).unwrap();
            let mut out = vec![0; d.output_buffer_size().unwrap()];
            d.read_image(&mut out).unwrap();
            (d.is_lossy(), out)
        };
        let data = Buffer::Uint8(v.clone());
        let a = Buffer::Uint8(alpha.clone());
        let (lossy, px) = decode(webp(&data, 3, w, h, Some(&a), Some(75.0)).unwrap());
        assert!(lossy);
        let n = w * h;
        assert!((0..n).any(|i| px[i * 4] != v[i]), "lossy coding changes some values");
        assert!((0..n).all(|i| px[i * 4 + 3] == alpha[i]), "the alpha plane is kept exactly");
        let (lossy, px) = decode(webp(&data, 3, w, h, Some(&a), None).unwrap());
        assert!(!lossy);
        assert!((0..n).filter(|&i| alpha[i] != 0).all(|i| px[i * 4..i * 4 + 3] == [v[i], v[n + i], v[2 * n + i]]));
    }
}
