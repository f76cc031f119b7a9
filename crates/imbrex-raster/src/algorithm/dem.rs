//! DEM algorithms (titiler.core `algorithm/dem.py`): hillshade, slope, contours, terrarium,
//! terrainrgb.

use std::f64::consts::{FRAC_PI_2, PI};

use imbrex_tms::Bounds;

use super::np::{self, Float, M, bin, div64, gradient, pymod, sqrt_ma};
use super::{Params, output};
use crate::array::DataType;
use crate::error::{Error, Result};
use crate::image::ImageData;
use crate::render::ColorMap;

/// Band 0 as masked samples in the float type numpy computes a gradient in.
fn band0<T: Float>(img: &ImageData) -> Vec<M<T>> {
    let n = img.width * img.height;
    (0..n).map(|i| M::new(T::from64(img.data.get_f64(i)), img.band_mask[i] == 0)).collect()
}

/// Both gradients, with `x *= z_exaggeration` (numpy.ma's in-place multiply: masked
/// samples untouched; float32 data multiplied in float64 and stored back).
/// The row and column gradients.
type Gradients<T> = (Vec<M<T>>, Vec<M<T>>);

fn gradients<T: Float>(img: &ImageData, z: f64) -> Result<Gradients<T>> {
    let (w, h) = (img.width, img.height);
    if w < 2 || h < 2 {
        return Err(Error::InvalidParameter {
            name: "algorithm",
            reason: "Shape of array too small to calculate a numerical gradient, at least (edge_order + 1) elements are required.".into(),
        });
    }
    let f = band0::<T>(img);
    let mut x = gradient(&f, w, h, 0);
    let mut y = gradient(&f, w, h, 1);
    for s in x.iter_mut().chain(y.iter_mut()) {
        if !s.m {
            s.v = T::from64(s.v.to64() * z);
        }
    }
    Ok((x, y))
}

/// Crop `buffer` pixels from each side (TiTiler crops only when `buffer > 0`) and the
/// matching bounds (rasterio's `windows.bounds` on the image transform).
fn crop(vals: Vec<M<f64>>, img: &ImageData, buffer: usize) -> Result<(Vec<M<f64>>, usize, usize, Bounds)> {
    let (w, h) = (img.width, img.height);
    if buffer == 0 {
        return Ok((vals, w, h, img.bounds));
    }
    if w <= 2 * buffer || h <= 2 * buffer {
        return Err(Error::InvalidParameter {
            name: "algorithm_params",
            reason: format!("buffer {buffer} leaves nothing of a {w}x{h} image"),
        });
    }
    let (cw, ch) = (w - 2 * buffer, h - 2 * buffer);
    let mut out = Vec::with_capacity(cw * ch);
    for r in buffer..buffer + ch {
        out.extend_from_slice(&vals[r * w + buffer..r * w + buffer + cw]);
    }
    let t = img.transform().0;
    // Affine * (col, row) = (col * a + row * b + c, col * d + row * e + f)
    let apply = |col: f64, row: f64| (col * t[1] + row * t[2] + t[0], col * t[4] + row * t[5] + t[3]);
    let (c0, r0) = (buffer as f64, buffer as f64);
    let (left, bottom) = apply(c0, r0 + ch as f64);
    let (right, top) = apply(c0 + cw as f64, r0);
    Ok((out, cw, ch, Bounds::new(left, bottom, right, top)))
}

fn hillshade_t<T: Float>(img: &ImageData, p: &Params) -> Result<Vec<M<f64>>> {
    let (x, y) = gradients::<T>(img, p.z_exaggeration)?;
    let azimuthrad = (360.0 - p.azimuth as f64) * (PI / 180.0);
    let altituderad = p.angle_altitude * (PI / 180.0);
    let (sin_alt, cos_alt) = (altituderad.sin(), altituderad.cos());
    let out = x
        .iter()
        .zip(&y)
        .map(|(&x, &y)| {
            let xx = bin(x, x, |a, b| a * b);
            let yy = bin(y, y, |a, b| a * b);
            let s = bin(xx, yy, |a, b| a + b);
            let q = sqrt_ma(s);
            // numpy.pi / 2.0 - numpy.arctan(...): a float64 0-d array minus the array.
            let at = q.v.atan();
            let slope = M::new(if q.m { FRAC_PI_2 } else { FRAC_PI_2 - at.to64() }, q.m);
            let aspect = M::new((-x.v).atan2(y.v).to64(), x.m || y.m);
            // numpy float64 scalars times masked arrays are plain ufuncs (computed under
            // the mask too); array * array and array + array are numpy.ma operators.
            let p1 = M::new(sin_alt * slope.v.sin(), slope.m);
            let p2 = M::new(cos_alt * slope.v.cos(), slope.m);
            let c = M::new((azimuthrad - aspect.v).cos(), aspect.m);
            let p3 = bin(p2, c, |a, b| a * b);
            let shaded = bin(p1, p3, |a, b| a + b);
            let t = bin(shaded, M::new(1.0, false), |a, b| a + b);
            let u = bin(M::new(255.0, false), t, |a, b| a * b);
            let mut d = div64(u, M::new(2.0, false));
            if d.v < 0.0 {
                d.v = 0.0;
            }
            d
        })
        .collect();
    Ok(out)
}

pub(super) fn hillshade(img: &ImageData, p: &Params) -> Result<ImageData> {
    let vals = if img.dtype() == DataType::Float32 { hillshade_t::<f32>(img, p)? } else { hillshade_t::<f64>(img, p)? };
    let (vals, w, h, bounds) = crop(vals, img, p.buffer)?;
    Ok(output(img, w, h, bounds, &[vals], p.output_dtype.unwrap_or(DataType::Uint8), true, &["hillshade"]))
}

fn slope_t<T: Float>(img: &ImageData, p: &Params) -> Result<Vec<M<f64>>> {
    let t = img.transform().0;
    let (px, py) = (t[1].abs(), t[5].abs());
    let (x, y) = gradients::<T>(img, p.z_exaggeration)?;
    let out = x
        .iter()
        .zip(&y)
        .map(|(&x, &y)| {
            let dx = div64(M::new(x.v.to64(), x.m), M::new(px, false));
            let dy = div64(M::new(y.v.to64(), y.m), M::new(py, false));
            let xx = bin(dx, dx, |a, b| a * b);
            let yy = bin(dy, dy, |a, b| a * b);
            let s = bin(xx, yy, |a, b| a + b);
            let q = sqrt_ma(s);
            M::new(q.v.atan() * (180.0 / PI), q.m)
        })
        .collect();
    Ok(out)
}

pub(super) fn slope(img: &ImageData, p: &Params) -> Result<ImageData> {
    let vals = if img.dtype() == DataType::Float32 { slope_t::<f32>(img, p)? } else { slope_t::<f64>(img, p)? };
    let (vals, w, h, bounds) = crop(vals, img, p.buffer)?;
    Ok(output(img, w, h, bounds, &[vals], p.output_dtype.unwrap_or(DataType::Float32), true, &["slope"]))
}

pub(super) fn contours(img: &ImageData, p: &Params) -> Result<ImageData> {
    if img.count != 1 {
        return Err(Error::InvalidParameter {
            name: "algorithm",
            reason: "contours: Source data must be 1 band".into(),
        });
    }
    let cmap = ColorMap::named("terrain").expect("rio-tiler's terrain colormap is embedded");
    let lut = cmap.lut().expect("named colormaps are lookup tables");
    let (minz, maxz) = (p.minz as f64, p.maxz as f64);
    let dtype = p.output_dtype.unwrap_or(DataType::Uint8);
    let n = img.width * img.height;
    let mut bands: Vec<Vec<M<f64>>> = (0..3).map(|_| Vec::with_capacity(n)).collect();
    for i in 0..n {
        let v = img.data.get_f64(i);
        let m = img.band_mask[i] == 0;
        // rio-tiler's linear_rescale to (1, 255), then astype(output_dtype), then the
        // colormap's uint8 conversion.
        let clipped = if v.is_nan() { v } else { v.max(minz).min(maxz) };
        let r = (clipped - minz) / (maxz - minz) * 254.0 + 1.0;
        let idx = np::cast(np::cast(r, dtype, true), DataType::Uint8, dtype.is_float()) as usize;
        let line = pymod(v, p.increment as f64) < p.thickness as f64;
        for (b, band) in bands.iter_mut().enumerate() {
            band.push(M::new(if line { 0.0 } else { lut[idx][b] as f64 }, m));
        }
    }
    Ok(output(
        img,
        img.width,
        img.height,
        img.bounds,
        &bands,
        DataType::Uint8,
        false,
        &["contours_r", "contours_g", "contours_b"],
    ))
}

pub(super) fn terrarium(img: &ImageData, p: &Params) -> Result<ImageData> {
    let n = img.width * img.height;
    let clip = |v: f64| if v.is_nan() { v } else { v.clamp(0.0, 65535.0) };
    let mut bands: Vec<Vec<M<f64>>> = (0..3).map(|_| Vec::with_capacity(n)).collect();
    for i in 0..n {
        let a = M::new(img.data.get_f64(i), img.band_mask[i] == 0);
        // a + 32768.0 (numpy.ma: masked keeps a), then numpy.clip (data and mask as is).
        let t = bin(a, M::new(32768.0, false), |x, y| x + y);
        let mut d = M::new(clip(t.v), t.m);
        if let (Some(nh), true) = (p.nodata_height, a.m) {
            // Assigning through a boolean index unmasks.
            d = M::new(clip(nh + 32768.0), false);
        }
        let r = div64(d, M::new(256.0, false));
        let g = rem(d, 256.0);
        let b = rem(bin(d, M::new(256.0, false), |x, y| x * y), 256.0);
        bands[0].push(r);
        bands[1].push(g);
        bands[2].push(b);
    }
    Ok(output(
        img,
        img.width,
        img.height,
        img.bounds,
        &bands,
        p.output_dtype.unwrap_or(DataType::Uint8),
        true,
        &["terranium_r", "terranium_g", "terranium_b"],
    ))
}

/// numpy.ma's `a % b` (a domained operation, like division).
fn rem(a: M<f64>, b: f64) -> M<f64> {
    let r = pymod(a.v, b);
    let m = a.m || !r.is_finite() || a.v.abs() * np::TINY >= b.abs();
    M::new(if m { 0.0 + a.v } else { r + 0.0 * a.v }, m)
}

pub(super) fn terrainrgb(img: &ImageData, p: &Params) -> Result<ImageData> {
    let n = img.width * img.height;
    let mut data: Vec<M<f64>> = (0..n)
        .map(|i| {
            let mut s = M::new(img.data.get_f64(i), img.band_mask[i] == 0);
            // data -= baseval; data /= interval (numpy.ma in-place: masked untouched; a
            // zero interval is outside the safe-division domain and masks everything).
            if !s.m {
                s.v -= p.baseval;
            }
            if s.v.abs() * np::TINY >= p.interval.abs() {
                s.m = true;
            }
            if !s.m {
                s.v /= p.interval;
            }
            // numpy.around(data / 1) * 1
            let q = div64(s, M::new(1.0, false));
            let r = M::new(q.v.round_ties_even(), q.m);
            bin(r, M::new(1.0, false), |a, b| a * b)
        })
        .collect();
    let valid: Vec<f64> = data.iter().filter(|s| !s.m).map(|s| s.v).collect();
    if !valid.is_empty() && !valid.iter().any(|v| v.is_nan()) {
        let max = valid.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = valid.iter().copied().fold(f64::INFINITY, f64::min);
        let range = max - min;
        if range > 16_777_216.0 {
            return Err(Error::InvalidParameter {
                name: "algorithm",
                reason: format!("terrainrgb: Data of {range} larger than 256 ** 3"),
            });
        }
    }
    if let Some(nh) = p.nodata_height {
        if p.interval == 0.0 {
            return Err(Error::InvalidParameter {
                name: "algorithm_params",
                reason: "terrainrgb: nodata_height needs a non-zero interval".into(),
            });
        }
        let enc = (nh - p.baseval) / p.interval;
        for (i, s) in data.iter_mut().enumerate() {
            if img.band_mask[i] == 0 {
                *s = M::new(enc, false);
            }
        }
    }
    let mut bands: Vec<Vec<M<f64>>> = (0..3).map(|_| Vec::with_capacity(n)).collect();
    for s in &data {
        let d = np::f_to_i32(s.v);
        bands[0].push(M::new(((d >> 16) & 0xFF) as f64, s.m));
        bands[1].push(M::new(((d >> 8) & 0xFF) as f64, s.m));
        bands[2].push(M::new((d & 0xFF) as f64, s.m));
    }
    // `>>` and `&` on a masked array are plain ufuncs: computed under the mask too.
    Ok(output(
        img,
        img.width,
        img.height,
        img.bounds,
        &bands,
        p.output_dtype.unwrap_or(DataType::Uint8),
        false,
        &["terrain_r", "terrain_g", "terrain_b"],
    ))
}
