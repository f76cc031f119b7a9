//! Resampled (non-nearest) same-CRS reads, as GDAL's `RasterIO` does them when it is given
//! a resampling method (rio-tiler's `resampling_method`).
//!
//! GDAL's route (`GDALRasterBand::RasterIOResampled` and `GDALDataset::RasterIOResampled`):
//! the output buffer is seen as a window of a "virtual" downsampled raster, the source is
//! read in chunks (plus a kernel margin) and each chunk goes through the overview
//! kernels of `gcore/overview.cpp` — for bilinear, cubic, cubic spline and Lanczos the
//! separable convolution `GDALResampleChunk_ConvolutionT`: a horizontal pass into double
//! rows, then a vertical pass into single precision, with the mask band's values (0-255)
//! as sample weights. The floating-point order of GDAL's x86-64 build (its SSE2 lane
//! pairing for 8 and 16 bit data) is kept, so results match bit for bit.

use crate::array::{DataType, Sample};
use crate::warp::Resampling;
use crate::warp::weights::{weight, weight4};

use super::decimate::Request;

/// Whether GDAL resamples `method` with its convolution kernels (the methods handled here).
pub(crate) fn is_convolution(method: Resampling) -> bool {
    matches!(method, Resampling::Bilinear | Resampling::Cubic | Resampling::CubicSpline | Resampling::Lanczos)
}

/// Whether GDAL's `RasterIO` resamples a window with this method (not nearest copying):
/// the convolutions and the average.
pub(crate) fn is_resampled(method: Resampling) -> bool {
    is_convolution(method) || method == Resampling::Average
}

/// Resample one chunk with the plan's method (see [`convolve`] and
/// [`super::average::average`]).
pub(crate) fn resample_chunk<T: Sample>(
    plan: &Plan,
    chunk: &Chunk,
    src: &[T],
    mask: &ChunkMask,
    nodata: Option<f64>,
    buf_w: usize,
    out: &mut [T],
) {
    if plan.method == Resampling::Average {
        super::average::average(plan, chunk, src, mask, nodata, buf_w, out);
    } else {
        convolve(plan, chunk, src, mask, nodata, buf_w, out);
    }
}

/// One source chunk of a resampled read and the part of the buffer it produces.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Chunk {
    /// Source window on the level read (`nChunkXOffQueried`, ...): kernel margins included,
    /// clipped to the raster.
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
    /// Buffer pixels produced.
    pub dst_x: usize,
    pub dst_y: usize,
    pub dst_w: usize,
    pub dst_h: usize,
}

/// The geometry of one resampled read: `RasterIOResampled`'s preamble and chunking.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) method: Resampling,
    pub(crate) x_ratio: f64,
    pub(crate) y_ratio: f64,
    /// Offset of the buffer in the "virtual" output raster when the window starts on one
    /// of its pixels (GDAL then resamples in whole-raster coordinates, so a sub-window
    /// gives exactly what reading everything would).
    pub(crate) virt_x: i64,
    pub(crate) virt_y: i64,
    /// Source coordinates are relative to these (0 in the virtual case, else the integer
    /// window offset), shifted by the fractional part of the window (`dfSrcXDelta`).
    pub(crate) origin_x: i64,
    pub(crate) origin_y: i64,
    pub(crate) delta_x: f64,
    pub(crate) delta_y: f64,
    pub chunks: Vec<Chunk>,
}

/// Chunking and coordinates of a resampled read of `req` on a `raster`-sized level.
/// `dataset_level`: several bands read together (`GDALDataset::RasterIOResampled`), whose
/// kernel margin uses the larger of the two reduction factors. `block_w`: the level's block
/// width (a chunking preference for full-width reads of strip images).
pub(crate) fn plan(
    method: Resampling,
    req: &Request,
    raster: (usize, usize),
    block_w: usize,
    dataset_level: bool,
) -> Plan {
    let (rw, rh) = (raster.0 as i64, raster.1 as i64);
    let (bw, bh) = (req.buf_w as i64, req.buf_h as i64);
    let x_ratio = req.fx_size / bw as f64;
    let y_ratio = req.fy_size / bh as f64;
    // Integer offsets in the virtual raster: snap to them and drop the fractional shift.
    let virt = |off: f64, ratio: f64| {
        let d = off / ratio;
        ((d - (d + 0.5).trunc()).abs() < 1e-8).then_some((d + 0.5) as i64)
    };
    let vx = virt(req.fx_off, x_ratio);
    let vy = virt(req.fy_off, y_ratio);
    let (df_x, df_y) = (
        if vx.is_some() { req.x_off as f64 } else { req.fx_off },
        if vy.is_some() { req.y_off as f64 } else { req.fy_off },
    );
    // Split the buffer until a chunk's source is at most 1024x1024.
    let (mut block_x, mut block_y) = (bw, bh);
    loop {
        let fx = (3 + (block_x as f64 * x_ratio) as i64).min(rw);
        let fy = (3 + (block_y as f64 * y_ratio) as i64).min(rh);
        if (block_x == 1 && block_y == 1) || fx * fy <= 1024 * 1024 {
            break;
        }
        if fx >= req.x_size && req.x_size == block_w as i64 && block_y > 1 {
            block_y /= 2;
        } else if block_x > 1 && (fx > fy || block_y == 1) {
            block_x /= 2;
        } else {
            block_y /= 2;
        }
    }
    let radius = method.radius() as i64;
    let factor = |ratio: f64| ((0.5 + ratio) as i64).max(1);
    let (mut fac_x, mut fac_y) = (factor(x_ratio), factor(y_ratio));
    if dataset_level {
        let m = fac_x.max(fac_y);
        (fac_x, fac_y) = (m, m);
    }
    // The source span of buffer pixels [d, d + n) plus the kernel margin, clipped.
    let span = |off: i64, d: i64, n: i64, ratio: f64, fac: i64, size: i64| {
        let start = off + (d as f64 * ratio) as i64;
        let end = (off + 1 + ((d + n) as f64 * ratio).ceil() as i64).min(size);
        let mut q = start - radius * fac;
        let mut len = end - start + 2 * radius * fac;
        if q < 0 {
            len += q;
            q = 0;
        }
        if len + q > size {
            len = size - q;
        }
        (q.max(0) as usize, len.max(0) as usize)
    };
    let mut chunks = Vec::new();
    let mut dy = 0;
    while dy < bh {
        let ny = block_y.min(bh - dy);
        let (y, h) = span(req.y_off, dy, ny, y_ratio, fac_y, rh);
        let mut dx = 0;
        while dx < bw {
            let nx = block_x.min(bw - dx);
            let (x, w) = span(req.x_off, dx, nx, x_ratio, fac_x, rw);
            chunks.push(Chunk {
                x,
                y,
                w,
                h,
                dst_x: dx as usize,
                dst_y: dy as usize,
                dst_w: nx as usize,
                dst_h: ny as usize,
            });
            dx += block_x;
        }
        dy += block_y;
    }
    Plan {
        method,
        x_ratio,
        y_ratio,
        virt_x: vx.unwrap_or(0),
        virt_y: vy.unwrap_or(0),
        origin_x: if vx.is_some() { 0 } else { req.x_off },
        origin_y: if vy.is_some() { 0 } else { req.y_off },
        delta_x: df_x - req.x_off as f64,
        delta_y: df_y - req.y_off as f64,
        chunks,
    }
}

/// What the chunk's mask says (`RasterIOResampled` shortcuts uniform masks).
pub(crate) enum ChunkMask<'a> {
    /// No mask at all, or every pixel fully valid.
    Opaque,
    /// Every pixel invalid: the chunk's output is the nodata value (or 0).
    Transparent,
    /// Per-pixel weights (0-255).
    Weights(&'a [u8]),
}

impl<'a> ChunkMask<'a> {
    pub(crate) fn classify(mask: Option<&'a [u8]>) -> Self {
        match mask {
            None => ChunkMask::Opaque,
            Some(m) => match m.first() {
                Some(&first) if m.iter().all(|&v| v == first) => {
                    if first == 0 {
                        ChunkMask::Transparent
                    } else {
                        ChunkMask::Opaque
                    }
                }
                _ => ChunkMask::Weights(m),
            },
        }
    }
}

/// The work precision GDAL rounds through (`GDALGetOvrWorkDataType`, then `Twork`):
/// single precision for 8/16-bit and Float32 data, double otherwise.
fn single_precision_work(dt: DataType) -> bool {
    matches!(dt, DataType::Uint8 | DataType::Int8 | DataType::Uint16 | DataType::Int16 | DataType::Float32)
}

/// GDAL's `GDALCopyWord` from the work type to the output type: `+0.5` (away from zero for
/// signed types) in the work precision, clamp, truncate.
pub(crate) fn copy_word<T: Sample>(v: f64, single: bool) -> T {
    let dt = T::DTYPE;
    if dt.is_float() || v.is_nan() {
        return T::from_f64(if v.is_nan() && !dt.is_float() { 0.0 } else { v });
    }
    let signed = matches!(dt, DataType::Int8 | DataType::Int16 | DataType::Int32);
    let rounded = if single {
        let f = v as f32;
        (if signed && f < 0.0 { f - 0.5 } else { f + 0.5 }) as f64
    } else if signed && v < 0.0 {
        v - 0.5
    } else {
        v + 0.5
    };
    let clamped = rounded.clamp(dt.min_value(), dt.max_value());
    T::from_f64(clamped.trunc())
}

/// GDAL's nodata-avoidance in the convolution output (`replaceValIfNodata`): clamp to the
/// output range, and if that reads as the nodata value, use the replacement value (nodata
/// + 1, or the next float).
fn avoid_nodata(v: f64, nodata: f64, dt: DataType, single: bool) -> f64 {
    let (lo, hi) = if dt.is_float() {
        if single { (-(f32::MAX as f64), f32::MAX as f64) } else { (-f64::MAX, f64::MAX) }
    } else {
        (dt.min_value(), dt.max_value())
    };
    let c = if v < lo {
        lo
    } else if v > hi {
        hi
    } else {
        v
    };
    let hit = if dt.is_float() { nodata == c } else { nodata as i64 == c.round() as i64 };
    if !hit {
        return c;
    }
    let r = replacement(nodata, dt);
    if single { r as f32 as f64 } else { r }
}

/// `GDALGetNoDataReplacementValue`.
pub(crate) fn replacement(nodata: f64, dt: DataType) -> f64 {
    match dt {
        DataType::Float32 => {
            let f = nodata as f32;
            let next = if f == f32::MAX { f.next_down() } else { f.next_up() };
            next as f64
        }
        DataType::Float64 => {
            if nodata == f64::MAX {
                nodata.next_down()
            } else {
                nodata.next_up()
            }
        }
        _ => {
            if nodata < dt.min_value() || nodata > dt.max_value() {
                0.0
            } else if nodata == dt.max_value() {
                nodata - 1.0
            } else {
                nodata + 1.0
            }
        }
    }
}

/// Horizontal-pass sums in the order GDAL's build forms them. `lanes` is true for 8 and
/// 16-bit data, whose kernels use (emulated) 4-lane SIMD accumulators summed as
/// (lane 0 + lane 2) + (lane 1 + lane 3).
#[derive(Clone, Copy)]
struct Order {
    lanes: bool,
    /// The kernel spans fewer than 8 pixels (`dfXScaledRadius < 4`).
    short: bool,
}

fn hsum(l: &[f64; 4]) -> f64 {
    (l[0] + l[2]) + (l[1] + l[3])
}

/// Dot product of a row with normalised weights (`GDALResampleConvolutionHorizontal*`).
/// `grouped`: the row is processed in a group of three (`*_3rows` variants).
fn dot(p: &[f64], w: &[f64], o: Order, grouped: bool) -> f64 {
    let n = w.len();
    if !o.lanes {
        // Two accumulators, pixels (0,1) and (2,3) of each group of four.
        let (mut a, mut b) = (0.0, 0.0);
        let mut i = 0;
        while i + 3 < n {
            a += p[i] * w[i];
            a += p[i + 1] * w[i + 1];
            b += p[i + 2] * w[i + 2];
            b += p[i + 3] * w[i + 3];
            i += 4;
        }
        while i < n {
            a += p[i] * w[i];
            i += 1;
        }
        return a + b;
    }
    let mut i = 0;
    let mut acc = [0.0; 4];
    if grouped && n == 4 {
        return hsum(&[p[0] * w[0], p[1] * w[1], p[2] * w[2], p[3] * w[3]]);
    }
    if grouped && o.short {
        while i + 3 < n {
            for l in 0..4 {
                acc[l] += p[i + l] * w[i + l];
            }
            i += 4;
        }
    } else if grouped {
        while i + 7 < n {
            for l in 0..4 {
                acc[l] += p[i + l] * w[i + l];
            }
            for l in 0..4 {
                acc[l] += p[i + 4 + l] * w[i + 4 + l];
            }
            i += 8;
        }
    } else {
        let mut acc2 = [0.0; 4];
        while i + 7 < n {
            for l in 0..4 {
                acc[l] += p[i + l] * w[i + l];
                acc2[l] += p[i + 4 + l] * w[i + 4 + l];
            }
            i += 8;
        }
        for l in 0..4 {
            acc[l] += acc2[l];
        }
    }
    let mut v = hsum(&acc);
    while i < n {
        v += p[i] * w[i];
        i += 1;
    }
    v
}

/// Weighted sum and weight total of a masked row (`GDALResampleConvolutionHorizontalWithMask`):
/// each weight is multiplied by the mask value (0-255).
fn dot_masked(p: &[f64], m: &[u8], w: &[f64], o: Order) -> (f64, f64) {
    let n = w.len();
    let (mut v, mut s) = (0.0, 0.0);
    let mut i = 0;
    if o.lanes {
        let (mut acc, mut accw) = ([0.0; 4], [0.0; 4]);
        while i + 3 < n {
            for l in 0..4 {
                let wl = w[i + l] * m[i + l] as f64;
                acc[l] += p[i + l] * wl;
                accw[l] += wl;
            }
            i += 4;
        }
        v = hsum(&acc);
        s = hsum(&accw);
    } else {
        while i + 3 < n {
            let ws = [0, 1, 2, 3].map(|l| w[i + l] * m[i + l] as f64);
            for l in 0..4 {
                v += p[i + l] * ws[l];
            }
            s += ws[0] + ws[1] + ws[2] + ws[3];
            i += 4;
        }
    }
    while i < n {
        let wl = w[i] * m[i] as f64;
        v += p[i] * wl;
        s += wl;
        i += 1;
    }
    (v, s)
}

/// Convolution weights of source pixels `[start, stop)` around `centre`
/// (`GDALResampleChunk_ConvolutionT`'s coefficient loops). `vertical` selects the
/// vertical pass's way of stepping through groups of four. Returns their sum.
fn coefficients(
    r: Resampling,
    start: i64,
    stop: i64,
    centre: f64,
    scale: f64,
    vertical: bool,
    w: &mut Vec<f64>,
) -> f64 {
    w.clear();
    let mut x = scale * (start as f64 - centre + 0.5);
    let mut sum = 0.0;
    let mut n = start;
    while n + 3 < stop {
        let xs = if vertical {
            [x, x + scale, x + 2.0 * scale, x + 3.0 * scale]
        } else {
            let x1 = x + scale;
            let x2 = x1 + scale;
            [x, x1, x2, x2 + scale]
        };
        if vertical {
            x += 4.0 * scale;
        } else {
            x = xs[3] + scale;
        }
        let (ws, s) = weight4(r, xs);
        w.extend_from_slice(&ws);
        sum += s;
        n += 4;
    }
    while n < stop {
        let wi = weight(r, x);
        w.push(wi);
        sum += wi;
        n += 1;
        x += scale;
    }
    sum
}

/// Whether the longest run of valid taps covers at least half the kernel (kernels with
/// negative lobes are not applied to mostly-missing data).
fn enough_consecutive(valid: impl Iterator<Item = bool>, count: usize) -> bool {
    let (mut run, mut best) = (0usize, 0usize);
    for v in valid {
        if v {
            run += 1;
        } else if run > 0 {
            best = best.max(run);
            run = 0;
        }
    }
    best.max(run) >= count / 2
}

/// Resample one chunk into `out` (the whole `buf_w`-wide buffer of one band).
/// `src` holds the chunk's `w` x `h` samples, `mask` its mask values; `nodata` is the
/// band's nodata value (band-level reads only).
#[allow(clippy::too_many_arguments)]
pub(crate) fn convolve<T: Sample>(
    plan: &Plan,
    chunk: &Chunk,
    src: &[T],
    mask: &ChunkMask,
    nodata: Option<f64>,
    buf_w: usize,
    out: &mut [T],
) {
    let dt = T::DTYPE;
    let single = single_precision_work(dt);
    let fill = nodata.unwrap_or(0.0);
    if let ChunkMask::Transparent = mask {
        for y in 0..chunk.dst_h {
            for x in 0..chunk.dst_w {
                out[(chunk.dst_y + y) * buf_w + chunk.dst_x + x] = copy_word(fill, single);
            }
        }
        return;
    }
    let weights_mask = match mask {
        ChunkMask::Weights(m) => Some(*m),
        _ => None,
    };
    let r = plan.method;
    let negative_lobes = matches!(r, Resampling::Cubic | Resampling::Lanczos);
    let radius = r.radius() as f64;
    let x_scale = 1.0 / plan.x_ratio;
    let x_weight = if x_scale >= 1.0 { 1.0 } else { x_scale };
    let x_radius = radius / x_weight;
    let y_scale = 1.0 / plan.y_ratio;
    let y_weight = if y_scale >= 1.0 { 1.0 } else { y_scale };
    let y_radius = radius / y_weight;
    let order = Order { lanes: matches!(dt, DataType::Uint8 | DataType::Uint16), short: x_radius < 4.0 };
    // Chunk offsets in the coordinates the kernel works in.
    let cx0 = chunk.x as i64 - plan.origin_x;
    let cy0 = chunk.y as i64 - plan.origin_y;
    let (cw, ch) = (chunk.w, chunk.h);
    let dst_x0 = chunk.dst_x as i64 + plan.virt_x;
    let dst_y0 = chunk.dst_y as i64 + plan.virt_y;
    let dw = chunk.dst_w;
    let values: Vec<f64> = src.iter().map(|v| v.to_f64()).collect();

    // First pass: every chunk row filtered horizontally onto the output columns.
    let mut hf = vec![0.0f64; ch * dw];
    let mut hm = vec![0u8; if weights_mask.is_some() { ch * dw } else { 0 }];
    let mut w = Vec::new();
    for k in 0..dw {
        let centre = ((dst_x0 + k as i64) as f64 + 0.5) * plan.x_ratio + plan.delta_x;
        let start = ((centre - x_radius + 0.5).floor() as i64).max(cx0);
        let stop = ((centre + x_radius + 0.5) as i64).min(cx0 + cw as i64);
        let sum = coefficients(r, start, stop, centre, x_weight, false, &mut w);
        let count = (stop - start).max(0) as usize;
        let first = ((start - cx0).max(0) as usize).min(cw);
        match weights_mask {
            None => {
                if sum != 0.0 {
                    let inv = 1.0 / sum;
                    w.iter_mut().for_each(|v| *v *= inv);
                }
                // Rows go through the three-row kernels, the last (h % 3) one by one.
                let grouped_rows = ch - ch % 3;
                for row in 0..ch {
                    let p = &values[row * cw + first..row * cw + first + count];
                    hf[row * dw + k] = dot(p, &w[..count], order, row < grouped_rows);
                }
            }
            Some(m) => {
                for row in 0..ch {
                    let p = &values[row * cw + first..row * cw + first + count];
                    let pm = &m[row * cw + first..row * cw + first + count];
                    if negative_lobes && !enough_consecutive(pm.iter().map(|&v| v != 0), count) {
                        continue;
                    }
                    let (v, s) = dot_masked(p, pm, &w[..count], order);
                    if s > 0.0 {
                        hf[row * dw + k] = v / s;
                        hm[row * dw + k] = 1;
                    }
                }
            }
        }
    }

    // Second pass: columns filtered vertically, rounded through the work precision.
    let to_work = |v: f64| if single { v as f32 as f64 } else { v };
    let finish = |v: f64| match nodata {
        Some(nd) => avoid_nodata(v, nd, dt, single),
        None => v,
    };
    for l in 0..chunk.dst_h {
        let centre = ((dst_y0 + l as i64) as f64 + 0.5) * plan.y_ratio + plan.delta_y;
        let start = ((centre - y_radius + 0.5).floor() as i64).max(cy0);
        let stop = ((centre + y_radius + 0.5) as i64).min(cy0 + ch as i64);
        let sum = coefficients(r, start, stop, centre, y_weight, true, &mut w);
        let count = (stop - start).max(0) as usize;
        let first = ((start - cy0).max(0) as usize).min(ch);
        let row_out = (chunk.dst_y + l) * buf_w + chunk.dst_x;
        match weights_mask {
            None => {
                if sum != 0.0 {
                    let inv = 1.0 / sum;
                    w.iter_mut().for_each(|v| *v *= inv);
                }
                // Single precision work: eight columns at a time with one running sum
                // per column (SIMD), the rest with two partial sums.
                let simd_cols = if single { dw - dw % 8 } else { 0 };
                for k in 0..dw {
                    let col = |i: usize| hf[(first + i) * dw + k];
                    let v = if k < simd_cols {
                        (0..count).fold(0.0, |a, i| a + col(i) * w[i])
                    } else {
                        let (mut a, mut b) = (0.0, 0.0);
                        let mut i = 0;
                        while i + 3 < count {
                            a += col(i) * w[i];
                            a += col(i + 1) * w[i + 1];
                            b += col(i + 2) * w[i + 2];
                            b += col(i + 3) * w[i + 3];
                            i += 4;
                        }
                        while i < count {
                            a += col(i) * w[i];
                            i += 1;
                        }
                        a + b
                    };
                    out[row_out + k] = copy_word(finish(to_work(v)), single);
                }
            }
            Some(_) => {
                for k in 0..dw {
                    let (mut v, mut s) = (0.0, 0.0);
                    for (i, &wt) in w.iter().enumerate().take(count) {
                        let j = (first + i) * dw + k;
                        let wi = wt * hm[j] as f64;
                        v += hf[j] * wi;
                        s += wi;
                    }
                    let valid = (0..count).map(|i| hm[(first + i) * dw + k] != 0);
                    let value = if negative_lobes && !enough_consecutive(valid, count) {
                        to_work(fill)
                    } else if s > 0.0 {
                        finish(to_work(v / s))
                    } else {
                        to_work(fill)
                    };
                    out[row_out + k] = copy_word(value, single);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_snaps_to_the_virtual_raster() {
        // A 256 px window starting (almost) on pixel 512 at 1:1: the buffer is read as
        // pixels 512.. of a virtual raster, with no fractional shift.
        let req = Request::from_window(511.9999999999982, 511.9999999999982, 255.99999999999818, 256.0, 256, 256);
        let p = plan(Resampling::Bilinear, &req, (1024, 1024), 256, false);
        assert_eq!((p.virt_x, p.virt_y, p.origin_x, p.delta_x), (512, 512, 0, 0.0));
        assert_eq!(p.chunks.len(), 1);
        let c = p.chunks[0];
        assert_eq!((c.x, c.w, c.y, c.h), (510, 259, 510, 259));
    }

    #[test]
    fn nodata_is_avoided() {
        assert_eq!(avoid_nodata(0.2, 0.0, DataType::Uint16, true), 1.0);
        assert_eq!(avoid_nodata(-3.0, 0.0, DataType::Uint16, true), 1.0);
        assert_eq!(avoid_nodata(7.4f32 as f64, 0.0, DataType::Uint16, true), 7.4f32 as f64);
        assert_eq!(copy_word::<u16>(7.5, true), 8);
        assert_eq!(copy_word::<i16>(-7.5, true), -8);
    }
}
