//! Per-pixel algorithms: normalizedIndex (`index.py`), cast/ceil/floor (`ops.py`),
//! grayscale and bitonal (`image.py`).

use super::np::{M, bin, div32, div64};
use super::{Params, band, output};
use crate::array::DataType;
use crate::error::{Error, Result};
use crate::image::ImageData;

fn bands_error(algo: &str, count: usize) -> Error {
    Error::InvalidParameter {
        name: "algorithm",
        reason: format!("Cannot apply `{algo}` algorithm on image with {count} bands."),
    }
}

pub(super) fn normalized_index(img: &ImageData, p: &Params) -> Result<ImageData> {
    if img.count < 2 {
        return Err(bands_error("normalizedIndex", img.count));
    }
    let as32 = |s: M<f64>| M::new(s.v as f32, s.m);
    let (b1, b2) = (band(img, 0), band(img, 1));
    let vals: Vec<M<f64>> = b1
        .iter()
        .zip(&b2)
        .map(|(&b1, &b2)| {
            let (b1, b2) = (as32(b1), as32(b2));
            let num = bin(b2, b1, |a, b| a - b);
            let den = bin(b2, b1, |a, b| a + b);
            let r = div32(num, den);
            M::new(r.v as f64, r.m)
        })
        .collect();
    let d = &img.band_descriptions;
    let desc = format!("({} - {}) / ({} + {})", d[1], d[0], d[1], d[0]);
    Ok(output(
        img,
        img.width,
        img.height,
        img.bounds,
        &[vals],
        p.output_dtype.unwrap_or(DataType::Float32),
        true,
        &[desc.as_str()],
    ))
}

/// cast, ceil and floor: `f` (numpy's ceil/floor; the identity on integers), then
/// `astype("uint8")`.
pub(super) fn to_uint8(img: &ImageData, f: fn(f64) -> f64) -> Result<ImageData> {
    let float = img.dtype().is_float();
    let bands: Vec<Vec<M<f64>>> = (0..img.count)
        .map(|b| band(img, b).into_iter().map(|s| M::new(if float { f(s.v) } else { s.v }, s.m)).collect())
        .collect();
    let desc: Vec<&str> = img.band_descriptions.iter().map(String::as_str).collect();
    Ok(output(img, img.width, img.height, img.bounds, &bands, DataType::Uint8, float, &desc))
}

/// `r * 299 / 1000 + g * 587 / 1000 + b * 114 / 1000` in float64, numpy.ma style.
fn luma(img: &ImageData) -> Vec<M<f64>> {
    let (r, g, b) = (band(img, 0), band(img, 1), band(img, 2));
    let term = |s: M<f64>, k: f64| div64(bin(s, M::new(k, false), |a, b| a * b), M::new(1000.0, false));
    (0..r.len())
        .map(|i| {
            let s = bin(term(r[i], 299.0), term(g[i], 587.0), |a, b| a + b);
            bin(s, term(b[i], 114.0), |a, b| a + b)
        })
        .collect()
}

pub(super) fn grayscale(img: &ImageData) -> Result<ImageData> {
    if img.count < 3 {
        return Err(bands_error("grayscale", img.count));
    }
    Ok(output(img, img.width, img.height, img.bounds, &[luma(img)], img.dtype(), true, &["grayscale"]))
}

pub(super) fn bitonal(img: &ImageData) -> Result<ImageData> {
    let vals = match img.count {
        3 => luma(img),
        1 => band(img, 0),
        n => return Err(bands_error("bitonal", n)),
    };
    // numpy.ma.where(arr > 127, 255, 0): masked pixels take 0 and stay masked.
    let vals: Vec<M<f64>> =
        vals.into_iter().map(|s| M::new(if !s.m && s.v > 127.0 { 255.0 } else { 0.0 }, s.m)).collect();
    Ok(output(img, img.width, img.height, img.bounds, &[vals], DataType::Uint8, false, &["bitonal"]))
}
