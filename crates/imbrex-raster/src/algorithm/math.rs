//! Reductions along the bands axis (`math.py`): numpy.ma's min, max, median, mean, std and
//! var (ddof=1) and sum, keeping numpy's accumulation types (float32 data sums in float32,
//! integers in float64 for the mean).

use super::np::{M, bin, div64};
use super::{band, output};
use crate::array::DataType;
use crate::error::Result;
use crate::image::ImageData;

/// Per pixel, the band samples.
fn pixels(img: &ImageData) -> Vec<Vec<M<f64>>> {
    let bands: Vec<Vec<M<f64>>> = (0..img.count).map(|b| band(img, b)).collect();
    (0..img.width * img.height).map(|i| bands.iter().map(|b| b[i]).collect()).collect()
}

fn one(img: &ImageData, vals: Vec<M<f64>>, dtype: DataType, desc: &str) -> Result<ImageData> {
    Ok(output(img, img.width, img.height, img.bounds, &[vals], dtype, dtype.is_float(), &[desc]))
}

/// numpy.ma's default fill value in the data type (what a fully masked result holds).
fn default_fill(dtype: DataType) -> f64 {
    if dtype.is_float() { 1e20 } else { super::np::cast(999_999.0, dtype, false) }
}

pub(super) fn min_max(img: &ImageData, min: bool) -> Result<ImageData> {
    let dtype = img.dtype();
    let fill = match (dtype.is_float(), min) {
        (true, true) => f64::INFINITY,
        (true, false) => f64::NEG_INFINITY,
        (false, true) => dtype.max_value(),
        (false, false) => dtype.min_value(),
    };
    let vals = pixels(img)
        .into_iter()
        .map(|px| {
            if px.iter().all(|s| s.m) {
                return M::new(default_fill(dtype), true);
            }
            let mut acc = if px[0].m { fill } else { px[0].v };
            for s in &px[1..] {
                let v = if s.m { fill } else { s.v };
                // numpy.minimum/maximum propagate NaN.
                acc = if acc.is_nan() || v.is_nan() {
                    f64::NAN
                } else if min {
                    acc.min(v)
                } else {
                    acc.max(v)
                };
            }
            M::new(acc, false)
        })
        .collect();
    one(img, vals, dtype, if min { "min" } else { "max" })
}

/// Sequential sum of the valid samples (masked as 0) in numpy's accumulator type.
fn filled_sum(px: &[M<f64>], f32_acc: bool) -> f64 {
    if f32_acc {
        let mut acc = if px[0].m { 0.0f32 } else { px[0].v as f32 };
        for s in &px[1..] {
            acc += if s.m { 0.0 } else { s.v as f32 };
        }
        acc as f64
    } else {
        let mut acc = if px[0].m { 0.0 } else { px[0].v };
        for s in &px[1..] {
            acc += if s.m { 0.0 } else { s.v };
        }
        acc
    }
}

pub(super) fn sum(img: &ImageData) -> Result<ImageData> {
    let dtype = img.dtype();
    let f32_acc = dtype == DataType::Float32;
    let vals = pixels(img).into_iter().map(|px| M::new(filled_sum(&px, f32_acc), px.iter().all(|s| s.m))).collect();
    // numpy sums integers in int64/uint64, which imbrex holds as float64.
    one(img, vals, if f32_acc { DataType::Float32 } else { DataType::Float64 }, "sum")
}

/// numpy.ma's mean: `sum * 1. / count`, masked where nothing is valid.
fn mean_of(px: &[M<f64>], f32_acc: bool) -> M<f64> {
    let cnt = px.iter().filter(|s| !s.m).count();
    let dsum = M::new(filled_sum(px, f32_acc), cnt == 0);
    let d1 = bin(dsum, M::new(1.0, false), |a, b| a * b);
    div64(d1, M::new(cnt as f64, false))
}

pub(super) fn mean(img: &ImageData) -> Result<ImageData> {
    let f32_acc = img.dtype() == DataType::Float32;
    let vals = pixels(img).into_iter().map(|px| mean_of(&px, f32_acc)).collect();
    one(img, vals, DataType::Float64, "mean")
}

pub(super) fn var(img: &ImageData, std: bool) -> Result<ImageData> {
    let f32_acc = img.dtype() == DataType::Float32;
    let vals = pixels(img)
        .into_iter()
        .map(|px| {
            let all = px.iter().all(|s| s.m);
            let cnt = px.iter().filter(|s| !s.m).count() as f64 - 1.0;
            let mean = mean_of(&px, f32_acc);
            let danom: Vec<M<f64>> = px
                .iter()
                .map(|&s| {
                    let mut d = bin(s, mean, |a, b| a - b);
                    if !d.m {
                        d.v *= d.v;
                    }
                    d
                })
                .collect();
            let s = M::new(filled_sum(&danom, false), danom.iter().all(|d| d.m));
            let q = div64(s, M::new(cnt, false));
            // The mask is then replaced by "all masked or count - ddof <= 0".
            let v = M::new(q.v, all || cnt <= 0.0);
            if std {
                let r = v.v.sqrt();
                let m = v.m || !r.is_finite() || v.v < 0.0;
                M::new(if m { v.v } else { r }, m)
            } else {
                v
            }
        })
        .collect();
    one(img, vals, DataType::Float64, if std { "std" } else { "var" })
}

pub(super) fn median(img: &ImageData) -> Result<ImageData> {
    let dtype = img.dtype();
    let vals = pixels(img)
        .into_iter()
        .map(|px| {
            let mut v: Vec<f64> = px.iter().filter(|s| !s.m).map(|s| s.v).collect();
            if v.is_empty() {
                return M::new(0.0, true);
            }
            if v.iter().any(|x| x.is_nan()) {
                return M::new(f64::NAN, false);
            }
            v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
            let h = v.len() / 2;
            let l = if v.len() % 2 == 1 { h } else { h - 1 };
            let (lo, hi) = (v[l], v[h]);
            let m = match dtype {
                DataType::Float32 => ((lo as f32 + hi as f32) / 2.0) as f64,
                DataType::Float64 => (lo + hi) / 2.0,
                _ => (lo + hi) * 1.0 / 2.0,
            };
            M::new(m, false)
        })
        .collect();
    let out = if dtype == DataType::Float32 { DataType::Float32 } else { DataType::Float64 };
    one(img, vals, out, "median")
}
