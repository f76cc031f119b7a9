//! From `ImageData` to image bytes, following TiTiler's `render_image`: rescale, colour
//! formula, colormap, the format's dtype rules, then the encoder with the mask as alpha.
//! Where TiTiler renders non-8-bit data flat grey (stretching over the whole dtype range),
//! imbrex stretches over a range the caller provides (the dataset's statistics).

pub mod colormap;
pub mod encode;
pub mod formula;
pub mod geotiff;
pub mod legend;
pub mod recipe;

use std::str::FromStr;

pub use colormap::ColorMap;
pub use legend::Legend;
pub use recipe::{Recipe, RenderContext, Rendered, StretchCache};

use crate::array::{Buffer, DataType};
use crate::error::{Error, Result};
use crate::image::ImageData;
use crate::with_buffer;

/// Output formats, with TiTiler's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Png,
    PngRaw,
    Jpeg,
    Jpg,
    Webp,
    Tif,
    Tiff,
    Npy,
    Jp2,
}

impl FromStr for ImageFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<ImageFormat> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "png" => ImageFormat::Png,
            "pngraw" => ImageFormat::PngRaw,
            "jpeg" => ImageFormat::Jpeg,
            "jpg" => ImageFormat::Jpg,
            "webp" => ImageFormat::Webp,
            "tif" => ImageFormat::Tif,
            "tiff" => ImageFormat::Tiff,
            "npy" => ImageFormat::Npy,
            "jp2" => ImageFormat::Jp2,
            other => {
                return Err(Error::InvalidParameter {
                    name: "format",
                    reason: format!("'{other}' is not an image format"),
                });
            }
        })
    }
}

impl ImageFormat {
    /// TiTiler's media types.
    pub fn media_type(self) -> &'static str {
        match self {
            ImageFormat::Png | ImageFormat::PngRaw => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Jpg => "image/jpg",
            ImageFormat::Webp => "image/webp",
            ImageFormat::Tif | ImageFormat::Tiff => "image/tiff; application=geotiff",
            ImageFormat::Npy => "application/x-binary",
            ImageFormat::Jp2 => "image/jp2",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::PngRaw => "pngraw",
            ImageFormat::Jpeg => "jpeg",
            ImageFormat::Jpg => "jpg",
            ImageFormat::Webp => "webp",
            ImageFormat::Tif => "tif",
            ImageFormat::Tiff => "tiff",
            ImageFormat::Npy => "npy",
            ImageFormat::Jp2 => "jp2",
        }
    }

    /// Data types the format holds without stretching (TiTiler's `format_dtypes`).
    pub fn holds(self, dtype: DataType, auto: bool) -> bool {
        match self {
            ImageFormat::Png if auto => dtype == DataType::Uint8,
            ImageFormat::Png => matches!(dtype, DataType::Uint8 | DataType::Uint16),
            ImageFormat::Jpeg | ImageFormat::Jpg | ImageFormat::Webp => dtype == DataType::Uint8,
            _ => true,
        }
    }
}

/// How to render (TiTiler's `rescale`, `colormap`, `format`, `return_mask`).
#[derive(Clone, Debug, Default)]
pub struct Render {
    /// Per band `(min, max)` stretched to 0-255 (one range applies to every band).
    pub rescale: Vec<(f64, f64)>,
    pub colormap: Option<ColorMap>,
    /// `None`: JPEG when every pixel is valid, PNG otherwise.
    pub format: Option<ImageFormat>,
    /// Add the mask as an alpha band (TiTiler's `return_mask`, default true).
    pub return_mask: bool,
    /// The range non-8-bit data is stretched over when the format needs 8 bits and no
    /// `rescale` was given (the dataset's statistics); `None` uses the dtype's range, as
    /// TiTiler does.
    pub stretch: Option<Vec<(f64, f64)>>,
    /// Georeference written into GeoTIFF output.
    pub geotiff: bool,
    /// Lossless WebP (TiTiler's profile is lossy, quality 75).
    pub lossless: bool,
}

/// rio-tiler's WEBP profile: `{"quality": 75, "lossless": False}`.
pub const WEBP_QUALITY: f32 = 75.0;

/// Per band ranges: one range applies to every band.
fn per_band(ranges: &[(f64, f64)], bands: usize) -> Vec<(f64, f64)> {
    if ranges.len() == bands { ranges.to_vec() } else { vec![ranges[0]; bands] }
}

/// Stretch to uint8: valid pixels rescaled (truncated, as numpy's `astype`), masked 0.
pub fn rescale(img: &ImageData, ranges: &[(f64, f64)]) -> ImageData {
    ImageData {
        width: img.width,
        height: img.height,
        count: img.count,
        data: Buffer::Uint8(rescale_planes(&img.data, &img.band_mask, img.width * img.height, ranges)),
        band_mask: img.band_mask.clone(),
        bounds: img.bounds,
        crs: img.crs.clone(),
        band_names: img.band_names.clone(),
        band_descriptions: img.band_descriptions.clone(),
        nodata: img.nodata,
        scales: vec![1.0; img.count],
        offsets: vec![0.0; img.count],
        // rio-tiler rescales the alpha band from its type's range to 8 bits too.
        alpha_mask: img.alpha_mask.as_ref().map(|_| Buffer::Uint8(img.mask())),
    }
}

/// The planes of `data` (band-sequential, `n` pixels each) stretched to uint8 under
/// `mask` (same layout; masked samples become 0).
fn rescale_planes(data: &Buffer, mask: &[u8], n: usize, ranges: &[(f64, f64)]) -> Vec<u8> {
    let bands = data.len().checked_div(n).unwrap_or(0);
    let ranges = per_band(ranges, bands);
    let mut out = vec![0u8; bands * n];
    with_buffer!(data, v, T => {
        for (b, range) in ranges.iter().enumerate() {
            let span = b * n..(b + 1) * n;
            // Computed for every sample and selected by the mask: a loop without branches,
            // which the compiler vectorises.
            // rio-tiler's `linear_rescale` in float64 (clip, shift, divide, scale onto
            // 0..255), the bounds hoisted out of the loop (`f64::clamp` asserts them on every
            // call, which kept it scalar). The clip leaves NaN (a NaN sample) or a value
            // within 0..=255, where Rust's saturating `as u8` is numpy's truncating cast and
            // NaN becomes 0, as `cast_u8` has it.
            let (imin, imax) = *range;
            let (lo, hi, width) = (imin.min(imax), imin.max(imax), imax - imin);
            for ((o, &s), &m) in out[span.clone()].iter_mut().zip(&v[span.clone()]).zip(&mask[span]) {
                let x = crate::array::Sample::to_f64(s);
                let clamped = if x < lo { lo } else if x > hi { hi } else { x };
                let value = ((clamped - imin) / width * 255.0 + 0.0) as u8;
                *o = if m != 0 { value } else { 0 };
            }
        }
    });
    out
}

/// The full dtype range (TiTiler's `dtype_ranges`).
fn dtype_range(dtype: DataType) -> (f64, f64) {
    (dtype.min_value(), dtype.max_value())
}

/// RGB planes from a per-pixel colour; the colormap's alpha applies where the data is
/// valid and masked pixels stay masked (TiTiler loses the mask of non-8-bit data here).
fn apply_colors(mask: &mut [u8], n: usize, color: impl Fn(usize) -> colormap::Rgba) -> Vec<u8> {
    let mut rgb = vec![0u8; 3 * n];
    let (r, rest) = rgb.split_at_mut(n);
    let (g, b) = rest.split_at_mut(n);
    for (i, m) in mask[..n].iter_mut().enumerate() {
        let c = color(i);
        r[i] = c[0];
        g[i] = c[1];
        b[i] = c[2];
        *m = if *m != 0 { c[3] } else { 0 };
    }
    rgb
}

/// Render an image.
pub fn render(img: &ImageData, r: &Render) -> Result<(Vec<u8>, ImageFormat)> {
    let n = img.width * img.height;
    let rescaled;
    let img = if r.rescale.is_empty() {
        img
    } else {
        rescaled = rescale(img, &r.rescale);
        &rescaled
    };
    let mut mask = img.mask();
    // The image's own samples until a step replaces them: no copy of a tile on the way.
    let (mut data, mut bands) = (std::borrow::Cow::Borrowed(&img.data), img.count);
    let mut stretch = r.stretch.clone();
    // TiTiler's NPY holds rio-tiler's mask in the data's own type (made only for NPY).
    let mut colored_mask: Option<Buffer> = None;
    if let Some(cm) = &r.colormap {
        if img.count != 1 {
            return Err(Error::InvalidParameter {
                name: "colormap",
                reason: format!("a colormap applies to one band, not {}", img.count),
            });
        }
        // A LUT over 8-bit data (the usual rescale + colormap_name) indexes directly; other
        // cases convert the band to f64 once, not per pixel.
        let rgb = match (cm, data.as_ref()) {
            (ColorMap::Lut(lut), Buffer::Uint8(v)) => apply_colors(&mut mask, n, |i| lut[v[i] as usize]),
            _ => {
                let values = data.to_f64_vec();
                apply_colors(&mut mask, n, |i| cm.color(values[i]))
            }
        };
        data = std::borrow::Cow::Owned(Buffer::Uint8(rgb));
        bands = 3;
        stretch = None;
        colored_mask = Some(Buffer::Uint8(mask.clone()));
    }
    let auto = r.format.is_none();
    let format = r.format.unwrap_or(if mask.contains(&0) { ImageFormat::Png } else { ImageFormat::Jpeg });
    if !format.holds(data.dtype(), auto) {
        let ranges = stretch.unwrap_or_else(|| vec![dtype_range(data.dtype())]);
        let band_mask: Vec<u8> = (0..bands).flat_map(|_| mask.iter().copied()).collect();
        data = std::borrow::Cow::Owned(Buffer::Uint8(rescale_planes(&data, &band_mask, n, &ranges)));
    }
    let data = data.as_ref();
    let alpha = (r.return_mask).then(|| Buffer::Uint8(mask.clone()));
    let (w, h) = (img.width, img.height);
    let bytes = match format {
        ImageFormat::Png | ImageFormat::PngRaw => {
            // A 16-bit PNG's alpha spans 0-65535.
            let alpha = alpha.map(|a| {
                if data.dtype() == DataType::Uint16 {
                    Buffer::Uint16(mask.iter().map(|&m| m as u16 * 257).collect())
                } else {
                    a
                }
            });
            encode::png(data, bands, w, h, alpha.as_ref())?
        }
        ImageFormat::Jpeg | ImageFormat::Jpg => encode::jpeg(data, bands, w, h, 85)?,
        ImageFormat::Webp => encode::webp(data, bands, w, h, alpha.as_ref(), (!r.lossless).then_some(WEBP_QUALITY))?,
        ImageFormat::Tif | ImageFormat::Tiff => {
            let geo = geotiff::GeoInfo { transform: Some(img.transform()), crs: img.crs.clone(), nodata: None };
            geotiff::encode(data, bands, w, h, alpha.as_ref(), &geo)?
        }
        ImageFormat::Npy if r.return_mask => {
            let npy_mask = colored_mask.unwrap_or_else(|| img.typed_mask());
            crate::npy::with_mask(data, bands, h, w, &npy_mask)
        }
        ImageFormat::Npy => crate::npy::encode(data, &[bands, h, w]),
        ImageFormat::Jp2 => {
            return Err(Error::Unsupported {
                reason: "JPEG 2000 output is not supported; use png, jpeg, webp or tif".into(),
            });
        }
    };
    Ok((bytes, format))
}

#[cfg(test)]
mod tests {
    use super::*;
    use imbrex_tms::Bounds;

    fn image(data: Buffer, count: usize, w: usize, h: usize, mask: Vec<u8>) -> ImageData {
        ImageData {
            width: w,
            height: h,
            count,
            data,
            band_mask: mask,
            bounds: Bounds::new(0.0, 0.0, w as f64, h as f64),
            crs: None,
            band_names: (1..=count).map(|b| format!("b{b}")).collect(),
            band_descriptions: (1..=count).map(|b| format!("b{b}")).collect(),
            nodata: None,
            scales: vec![1.0; count],
            offsets: vec![0.0; count],
            alpha_mask: None,
        }
    }

    #[test]
    fn rescale_truncates_and_zeroes_masked_pixels() {
        let img = image(Buffer::Float32(vec![0.0, 50.0, 99.9, 100.0]), 1, 4, 1, vec![255, 255, 255, 0]);
        let r = rescale(&img, &[(0.0, 100.0)]);
        assert_eq!(r.data, Buffer::Uint8(vec![0, 127, 254, 0]));
    }

    #[test]
    fn automatic_format_and_alpha() {
        let full = image(Buffer::Uint8(vec![10; 4]), 1, 2, 2, vec![255; 4]);
        let (bytes, f) = render(&full, &Render { return_mask: true, ..Default::default() }).unwrap();
        assert_eq!(f, ImageFormat::Jpeg);
        assert_eq!(&bytes[..2], &[0xFF, 0xD8]);
        let partial = image(Buffer::Uint8(vec![10; 4]), 1, 2, 2, vec![255, 0, 255, 255]);
        let (_, f) = render(&partial, &Render { return_mask: true, ..Default::default() }).unwrap();
        assert_eq!(f, ImageFormat::Png);
    }

    #[test]
    fn colormap_keeps_the_mask() {
        let img = image(Buffer::Int16(vec![1, 2, 3, 4]), 1, 2, 2, vec![255, 255, 0, 255]);
        let cm = ColorMap::from_json(r##"{"1": "#ff0000", "2": "#00ff0080", "3": "#0000ff"}"##).unwrap();
        let r = Render { colormap: Some(cm), format: Some(ImageFormat::Npy), return_mask: true, ..Default::default() };
        let (bytes, _) = render(&img, &r).unwrap();
        let a = crate::npy::encode(&Buffer::Uint8(vec![]), &[0]);
        assert!(bytes.len() > a.len());
        // Decode the NPY: 3 colour bands then the alpha.
        let body = &bytes[bytes.len() - 16..];
        assert_eq!(&body[..4], &[255, 0, 0, 0], "red band");
        assert_eq!(&body[12..], &[255, 128, 0, 0], "alpha: colormap alpha, masked pixel 0, unmapped value 0");
    }

    #[test]
    fn non_8_bit_data_is_stretched_for_jpeg() {
        let img = image(Buffer::Uint16(vec![1000, 2000, 3000, 4000]), 1, 2, 2, vec![255; 4]);
        let r = Render { format: Some(ImageFormat::Npy), stretch: Some(vec![(1000.0, 4000.0)]), ..Default::default() };
        // NPY keeps the data as is.
        let (bytes, _) = render(&img, &r).unwrap();
        assert_eq!(bytes.len(), 128 + 8);
        let r = Render { format: Some(ImageFormat::Jpeg), stretch: Some(vec![(1000.0, 4000.0)]), ..Default::default() };
        assert!(render(&img, &r).is_ok());
        assert!(render(&img, &Render { format: Some(ImageFormat::Jp2), ..Default::default() }).is_err());
    }
}
