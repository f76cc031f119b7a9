//! The interpolating warp kernels: bilinear, cubic, cubic spline and Lanczos, as GDAL's
//! `GWKRealCase` and its mask-free `GWK*NoMasksOrDstDensityOnly*` kernels compute them,
//! with their floating-point order of operations.

use std::f64::consts::PI;

use super::Resampling;
use super::approx::ApproxTransformer;
use super::kernel::{
    KernelOutput, KernelSource, SRC_DENSITY_THRESHOLD, adjust_on_edge, avoid_nodata, clamp_value, corner_fails,
    overlay_density, round_value, row_coords, src_offset,
};
use super::weights::{convol4, cubic_weights, weight, weight4};
use crate::array::{DataType, Sample};

/// GDAL's `BAND_DENSITY_THRESHOLD`: a band value with less density is not written.
const BAND_DENSITY_THRESHOLD: f64 = 1e-10;

/// `GWKSetPixelValueReal`: blend a partially transparent value over what is there, clamp,
/// round, and keep integer results off the destination nodata value (so an interpolated
/// value never reads as a hole).
fn set_real<T: Sample>(slot: &mut T, density: f64, value: f64, dst_density: f64, nodata: Option<f64>) {
    let mut v = value;
    if density < 0.9999 {
        if density < 0.0001 {
            return;
        }
        let influence = (1.0 - density) * dst_density;
        v = (v * density + slot.to_f64() * influence) / (density + influence);
    }
    *slot = clamp_value(v);
    avoid_nodata(slot, nodata);
}

/// Kernel geometry shared by every destination pixel (`PerformWarp`'s precomputation).
#[derive(Clone, Copy, Debug)]
struct Filter {
    r: Resampling,
    x_scale: f64,
    y_scale: f64,
    x_radius: i64,
    y_radius: i64,
    /// First tap (`nFiltInitX`): odd radii centre the kernel on the left tap.
    init_x: i64,
    init_y: i64,
}

impl Filter {
    fn new(r: Resampling, x_scale: f64, y_scale: f64) -> Self {
        let radius = r.radius() as i64;
        let stretched = |scale: f64| if scale < 1.0 { (radius as f64 / scale).ceil() as i64 } else { radius };
        let (x_radius, y_radius) = (stretched(x_scale), stretched(y_scale));
        let parity = (radius + 1) % 2;
        Filter { r, x_scale, y_scale, x_radius, y_radius, init_x: parity - x_radius, init_y: parity - y_radius }
    }

    fn wx(&self, i: i64, dx: f64) -> f64 {
        let x = i as f64 - dx;
        weight(self.r, if self.x_scale < 1.0 { x * self.x_scale } else { x })
    }

    fn wy(&self, j: i64, dy: f64) -> f64 {
        let y = j as f64 - dy;
        weight(self.r, if self.y_scale < 1.0 { y * self.y_scale } else { y })
    }
}

/// Taps clipped to the window: `[lo, hi]` around `centre` in a dimension of `size`.
fn clip_taps(centre: i64, lo: i64, hi: i64, size: i64) -> (i64, i64) {
    let lo = if centre + lo < 0 { -centre } else { lo };
    let hi = if centre + hi >= size { size - centre - 1 } else { hi };
    (lo, hi)
}

/// One band of the source as the kernels read it: window-relative, with the density
/// GDAL's `GWKGetPixelRow` gives each sample (0 where invalid, the alpha density or 1).
struct Plane<'a, T> {
    src: &'a KernelSource<'a, T>,
    data: &'a [T],
    sw: i64,
    sh: i64,
    /// Whether validity or density is tracked at all (else every sample has density 1).
    tracked: bool,
}

impl<'a, T: Sample> Plane<'a, T> {
    fn new(src: &'a KernelSource<'a, T>, band: usize) -> Self {
        let plane = src.win.xsize * src.win.ysize;
        Plane {
            src,
            data: &src.data[band * plane..(band + 1) * plane],
            sw: src.win.xsize as i64,
            sh: src.win.ysize as i64,
            tracked: src.valid.is_some() || src.density.is_some(),
        }
    }

    #[inline]
    fn v(&self, x: i64, y: i64) -> f64 {
        self.data[(y * self.sw + x) as usize].to_f64()
    }

    #[inline]
    fn d(&self, x: i64, y: i64) -> f64 {
        self.src.pixel_density((y * self.sw + x) as usize)
    }
}

/// `GWKBilinearResample4Sample`: the 2x2 neighbourhood, invalid or outside samples left
/// out and the rest renormalised. Returns (density, value).
fn bilinear4<T: Sample>(p: &Plane<T>, x: f64, y: f64) -> (f64, f64) {
    let mut ix = (x - 0.5).floor() as i64;
    let mut iy = (y - 0.5).floor() as i64;
    let mut rx = 1.5 - (x - ix as f64);
    let mut ry = 1.5 - (y - iy as f64);
    // A centre in the first half pixel: all weight on the first column/row.
    if ix == -1 {
        ix = 0;
        rx = 1.0;
    }
    if iy == -1 {
        iy = 0;
        ry = 1.0;
    }
    let (mut div, mut real, mut dens) = (0.0, 0.0, 0.0);
    let taps = [(0, 0, rx * ry), (1, 0, (1.0 - rx) * ry), (0, 1, rx * (1.0 - ry)), (1, 1, (1.0 - rx) * (1.0 - ry))];
    for (tx, ty, m) in taps {
        let (sx, sy) = (ix + tx, iy + ty);
        if sx < 0 || sx >= p.sw || sy < 0 || sy >= p.sh {
            continue;
        }
        let d = p.d(sx, sy);
        if d <= SRC_DENSITY_THRESHOLD {
            continue;
        }
        div += m;
        real += p.v(sx, sy) * m;
        dens += d * m;
    }
    if div == 1.0 {
        (dens, real)
    } else if div < 0.00001 {
        (0.0, 0.0)
    } else {
        (dens / div, real / div)
    }
}

/// `GWKCubicResample4Sample`: Keys cubic on the 4x4 neighbourhood; bilinear at the
/// window border or when any of the 16 samples is invalid.
fn cubic4<T: Sample>(p: &Plane<T>, x: f64, y: f64) -> (f64, f64) {
    // Truncation, not floor: a centre in the first half pixel falls back to bilinear.
    let ix = (x - 0.5) as i64;
    let iy = (y - 0.5) as i64;
    if ix - 1 < 0 || ix + 2 >= p.sw || iy - 1 < 0 || iy + 2 >= p.sh {
        return bilinear4(p, x, y);
    }
    let cx = cubic_weights(x - 0.5 - ix as f64);
    let mut row_d = [0.0; 4];
    let mut row_v = [0.0; 4];
    for r in 0..4 {
        let sy = iy - 1 + r as i64;
        let mut d = [0.0; 4];
        let mut v = [0.0; 4];
        for k in 0..4 {
            d[k] = p.d(ix - 1 + k as i64, sy);
            if d[k] < SRC_DENSITY_THRESHOLD {
                return bilinear4(p, x, y);
            }
            v[k] = p.v(ix - 1 + k as i64, sy);
        }
        row_d[r] = convol4(&cx, &d);
        row_v[r] = convol4(&cx, &v);
    }
    let cy = cubic_weights(y - 0.5 - iy as f64);
    (convol4(&cy, &row_d), convol4(&cy, &row_v))
}

/// `GWKResample`: the separable kernel (stretched by 1/scale when downsampling), summed
/// row by row; invalid samples are skipped and the result renormalised.
fn resample<T: Sample>(p: &Plane<T>, f: &Filter, x: f64, y: f64, wx: &mut Vec<f64>) -> Option<(f64, f64)> {
    let ix = (x - 0.5).floor() as i64;
    let iy = (y - 0.5).floor() as i64;
    let (dx, dy) = (x - 0.5 - ix as f64, y - 0.5 - iy as f64);
    let (jmin, jmax) = clip_taps(iy, f.init_y, f.y_radius, p.sh);
    let (imin, imax) = clip_taps(ix, f.init_x, f.x_radius, p.sw);
    wx.clear();
    wx.extend((imin..=imax).map(|i| f.wx(i, dx)));
    let (mut real, mut dens, mut wsum) = (0.0, 0.0, 0.0);
    for j in jmin..=jmax {
        let sy = iy + j;
        let w1 = f.wy(j, dy);
        let (mut lr, mut ld, mut lw) = (0.0, 0.0, 0.0);
        for (i, &w2) in (imin..=imax).zip(wx.iter()) {
            let sx = ix + i;
            if p.tracked {
                let d = p.d(sx, sy);
                if d < SRC_DENSITY_THRESHOLD {
                    continue;
                }
                ld += d * w2;
            }
            lr += p.v(sx, sy) * w2;
            lw += w2;
        }
        real += lr * w1;
        dens += ld * w1;
        wsum += lw * w1;
    }
    if wsum < 0.000001 || (p.tracked && dens < 0.000001) {
        return None;
    }
    let near_one = (0.99999..=1.00001).contains(&wsum);
    let density = match (p.tracked, near_one) {
        (false, _) => 1.0,
        (true, true) => dens,
        (true, false) => dens / wsum,
    };
    Some((density, if near_one { real } else { real / wsum }))
}

/// Constants of the Lanczos weight recurrences for one axis (`GWKResampleCreateWrkStruct`):
/// cos/sin of pi*scale and pi*scale/3, the step between consecutive taps.
#[derive(Clone, Copy, Debug, Default)]
struct LanczosStep {
    cos: f64,
    sin: f64,
    cos_3: f64,
    sin_3: f64,
}

impl LanczosStep {
    fn new(scale: f64) -> Self {
        if scale >= 1.0 {
            return LanczosStep::default();
        }
        let cos_3 = (PI / 3.0 * scale).cos();
        let sin_3 = (1.0 - cos_3 * cos_3).sqrt();
        // cos(3a) = 4cos^3(a) - 3cos(a), a in [0, pi/3].
        let cos = (4.0 * cos_3 * cos_3 - 3.0) * cos_3;
        let sin = (1.0 - cos * cos).sqrt();
        LanczosStep { cos, sin, cos_3, sin_3 }
    }
}

/// Lanczos weights of taps `lo..=hi` (trimmed to |x| <= 3) at offset `delta`, computed as
/// `GWKResampleOptimizedLanczos` does: by angle-addition recurrences from the first tap
/// when downsampling, by three closed-form constants otherwise.
fn lanczos_weights(
    mut lo: i64,
    mut hi: i64,
    delta: f64,
    scale: f64,
    step: &LanczosStep,
    out: &mut Vec<f64>,
) -> (i64, i64) {
    out.clear();
    const THREE_PI_PI: f64 = 3.0 * PI * PI;
    if scale < 1.0 {
        while (lo as f64 - delta) * scale < -3.0 {
            lo += 1;
        }
        while (hi as f64 - delta) * scale > 3.0 {
            hi -= 1;
        }
        if lo > hi {
            return (lo, hi);
        }
        let mut x = (lo as f64 - delta) * scale;
        let a = PI / 3.0 * x;
        let (mut cos_3, mut sin_3) = (a.cos(), a.sin());
        let mut sin = (3.0 - 4.0 * sin_3 * sin_3) * sin_3;
        let mut cos = (4.0 * cos_3 * cos_3 - 3.0) * cos_3;
        out.push(if x == 0.0 { 1.0 } else { THREE_PI_PI * sin * sin_3 / (x * x) });
        for _ in lo + 1..=hi {
            x += scale;
            let new_sin = sin * step.cos + cos * step.sin;
            let new_sin_3 = sin_3 * step.cos_3 + cos_3 * step.sin_3;
            out.push(if x == 0.0 { 1.0 } else { THREE_PI_PI * new_sin * new_sin_3 / (x * x) });
            let new_cos = cos * step.cos - sin * step.sin;
            let new_cos_3 = cos_3 * step.cos_3 - sin_3 * step.sin_3;
            (sin, cos, sin_3, cos_3) = (new_sin, new_cos, new_sin_3, new_cos_3);
        }
    } else {
        while lo as f64 - delta < -3.0 {
            lo += 1;
        }
        while hi as f64 - delta > 3.0 {
            hi -= 1;
        }
        // sin(pi (d + k)) only changes sign with k, sin(pi (d + k) / 3) cycles through
        // three values: the weights are one of three constants over x^2.
        let s3 = ((-PI / 3.0) * delta).sin();
        let s3_sq = s3 * s3;
        let c3 = (1.0 - s3_sq).sqrt();
        let s = (3.0 - 4.0 * s3_sq) * s3;
        let inv = 3.0 / (PI * PI) * s;
        let half = -0.5 * inv * s3;
        let sin_pi_3 = 0.8660254037844386;
        let cross = sin_pi_3 * inv * c3;
        let cst = [inv * s3, half - cross, half + cross];
        for i in lo..=hi {
            let x = i as f64 - delta;
            out.push(if x == 0.0 { 1.0 } else { cst[(i + 3).rem_euclid(3) as usize] / (x * x) });
        }
    }
    (lo, hi)
}

/// `GWKResampleOptimizedLanczos`: like [`resample`] but with the Lanczos recurrences, the
/// weight products formed per sample, and at least half of the taps required valid.
#[allow(clippy::too_many_arguments)]
fn lanczos<T: Sample>(
    p: &Plane<T>,
    f: &Filter,
    steps: &(LanczosStep, LanczosStep),
    x: f64,
    y: f64,
    wx: &mut Vec<f64>,
    wy: &mut Vec<f64>,
) -> Option<(f64, f64)> {
    let ix = (x - 0.5).floor() as i64;
    let iy = (y - 0.5).floor() as i64;
    let (dx, dy) = (x - 0.5 - ix as f64, y - 0.5 - iy as f64);
    let (jmin, jmax) = clip_taps(iy, f.init_y, f.y_radius, p.sh);
    let (imin, imax) = clip_taps(ix, f.init_x, f.x_radius, p.sw);
    let (imin, imax) = lanczos_weights(imin, imax, dx, f.x_scale, &steps.0, wx);
    let (jmin, jmax) = lanczos_weights(jmin, jmax, dy, f.y_scale, &steps.1, wy);
    let (mut real, mut dens, mut wsum) = (0.0, 0.0, 0.0);
    if !p.tracked {
        let rows: f64 = wx.iter().fold(0.0, |a, w| a + w);
        let cols: f64 = wy.iter().fold(0.0, |a, w| a + w);
        wsum = rows * cols;
        if T::DTYPE == DataType::Uint8 {
            return lanczos_byte(p, ix, iy, (imin, imax), (jmin, jmax), wx, wy, wsum);
        }
    }
    let mut valid = 0i64;
    for (j, &w1) in (jmin..=jmax).zip(wy.iter()) {
        let sy = iy + j;
        if p.tracked {
            for (i, &w) in (imin..=imax).zip(wx.iter()) {
                let d = p.d(ix + i, sy);
                if d < SRC_DENSITY_THRESHOLD {
                    continue;
                }
                valid += 1;
                let w2 = w1 * w;
                real += p.v(ix + i, sy) * w2;
                dens += d * w2;
                wsum += w2;
            }
        } else {
            let row = (imin..=imax).zip(wx.iter()).fold(0.0, |a, (i, &w)| a + p.v(ix + i, sy) * w);
            real += row * w1;
        }
    }
    let taps = (jmax - jmin + 1) * (imax - imin + 1);
    if wsum < 0.000001 || (p.tracked && (dens < 0.000001 || valid < taps / 2)) {
        return None;
    }
    if (0.99999..=1.00001).contains(&wsum) {
        Some((if p.tracked { dens } else { 1.0 }, real))
    } else {
        let inv = 1.0 / wsum;
        Some((if p.tracked { dens * inv } else { 1.0 }, real * inv))
    }
}

/// The Byte, mask-free branch of `GWKResampleOptimizedLanczos`: two partial sums per row
/// (or, for six columns, the SSE2 pairing of lanes 0+2 and 1+3 plus the last two).
#[allow(clippy::too_many_arguments)]
fn lanczos_byte<T: Sample>(
    p: &Plane<T>,
    ix: i64,
    iy: i64,
    (imin, imax): (i64, i64),
    (jmin, jmax): (i64, i64),
    wx: &[f64],
    wy: &[f64],
    wsum: f64,
) -> Option<(f64, f64)> {
    if wsum < 0.000001 {
        return None;
    }
    let mut real = 0.0;
    for (j, &w1) in (jmin..=jmax).zip(wy.iter()) {
        let v = |i: usize| p.v(ix + imin + i as i64, iy + j);
        let row = if imax - imin + 1 == 6 {
            let lanes: Vec<f64> = (0..4).map(|k| v(k) * wx[k]).collect();
            (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]) + (v(4) * wx[4] + v(5) * wx[5])
        } else {
            let (mut a1, mut a2) = (0.0, 0.0);
            let n = (imax - imin + 1) as usize;
            let mut k = 0;
            while k + 1 < n {
                a1 += v(k) * wx[k];
                a2 += v(k + 1) * wx[k + 1];
                k += 2;
            }
            if k + 1 == n {
                a1 += v(k) * wx[k];
            }
            a1 + a2
        };
        real += row * w1;
    }
    if (0.99999..=1.00001).contains(&wsum) { Some((1.0, real)) } else { Some((1.0, real * (1.0 / wsum))) }
}

/// `GWKBilinearResampleNoMasks4SampleT`.
fn bilinear4_no_masks<T: Sample>(p: &Plane<T>, x: f64, y: f64) -> T {
    let ix = (x - 0.5).floor() as i64;
    let iy = (y - 0.5).floor() as i64;
    let rx = 1.5 - (x - ix as f64);
    let ry = 1.5 - (y - iy as f64);
    if ix >= 0 && ix + 1 < p.sw && iy >= 0 && iy + 1 < p.sh {
        let v = (p.v(ix, iy) * rx + p.v(ix + 1, iy) * (1.0 - rx)) * ry
            + (p.v(ix, iy + 1) * rx + p.v(ix + 1, iy + 1) * (1.0 - rx)) * (1.0 - ry);
        return round_value(v);
    }
    let (mut div, mut acc) = (0.0, 0.0);
    // GDAL's order here: upper left, upper right, lower right, lower left.
    let taps = [(0, 0, rx * ry), (1, 0, (1.0 - rx) * ry), (1, 1, (1.0 - rx) * (1.0 - ry)), (0, 1, rx * (1.0 - ry))];
    for (tx, ty, m) in taps {
        let (sx, sy) = (ix + tx, iy + ty);
        if sx >= 0 && sx < p.sw && sy >= 0 && sy < p.sh {
            div += m;
            acc += p.v(sx, sy) * m;
        }
    }
    if div < 0.00001 {
        // GDAL writes 0 then.
        return T::from_f64(0.0);
    }
    round_value(if div == 1.0 { acc } else { acc / div })
}

/// `GWKCubicResampleNoMasks4SampleT`: cubic convolution, row weights then the column
/// formula.
fn cubic4_no_masks<T: Sample>(p: &Plane<T>, x: f64, y: f64) -> T {
    let ix = (x - 0.5) as i64;
    let iy = (y - 0.5) as i64;
    if ix - 1 < 0 || ix + 2 >= p.sw || iy - 1 < 0 || iy + 2 >= p.sh {
        return bilinear4_no_masks(p, x, y);
    }
    let dy = y - 0.5 - iy as f64;
    let (dy2, dy3) = (dy * dy, dy * dy * dy);
    let cx = cubic_weights(x - 0.5 - ix as f64);
    let mut r = [0.0; 4];
    for (k, rv) in r.iter_mut().enumerate() {
        let sy = iy - 1 + k as i64;
        let v = [p.v(ix - 1, sy), p.v(ix, sy), p.v(ix + 1, sy), p.v(ix + 2, sy)];
        *rv = convol4(&cx, &v);
    }
    let [f0, f1, f2, f3] = r;
    let v =
        f1 + 0.5 * (dy * (f2 - f0) + dy2 * (2.0 * f0 - 5.0 * f1 + 4.0 * f2 - f3) + dy3 * (3.0 * (f1 - f2) + f3 - f0));
    clamp_value(v)
}

/// `GWKResampleNoMasks_SSE2_T` (GDAL's x86-64 build): the separable kernel on taps
/// `1-radius..=radius` with unit-capped scales. The SIMD accumulation order is kept: four
/// lanes per row summed as (0+2)+(1+3), rows taken four at a time.
fn resample_no_masks<T: Sample>(p: &Plane<T>, f: &Filter, x: f64, y: f64, w: &mut Vec<f64>) -> T {
    let ix = (x - 0.5).floor() as i64;
    let iy = (y - 0.5).floor() as i64;
    if ix >= p.sw || iy >= p.sh || f.x_radius > p.sw || f.y_radius > p.sh {
        return bilinear4_no_masks(p, x, y);
    }
    let (dx, dy) = (x - 0.5 - ix as f64, y - 0.5 - iy as f64);
    let (xs, ys) = (f.x_scale.min(1.0), f.y_scale.min(1.0));
    let imin = if ix + 1 - f.x_radius < 0 { -ix } else { 1 - f.x_radius };
    let imax = if ix + f.x_radius >= p.sw - 1 { p.sw - 1 - ix } else { f.x_radius };
    w.clear();
    let mut hsum = 0.0;
    let mut i = imin;
    while i + 2 < imax {
        let x0 = (i as f64 - dx) * xs;
        let (x1, x2) = (x0 + xs, x0 + xs + xs);
        let (ws, s) = weight4(f.r, [x0, x1, x2, x2 + xs]);
        w.extend_from_slice(&ws);
        hsum += s;
        i += 4;
    }
    while i <= imax {
        let wi = weight(f.r, (i as f64 - dx) * xs);
        w.push(wi);
        hsum += wi;
        i += 1;
    }
    let v = |i: i64, j: i64| p.v(ix + i, iy + j);
    // One row's sum, as the SIMD code forms it.
    let row = |j: i64, four_rows: bool| -> f64 {
        let mut lanes = [0.0; 4];
        let (mut i, mut c) = (imin, 0);
        while i + 2 < imax {
            for (l, lane) in lanes.iter_mut().enumerate() {
                *lane += v(i + l as i64, j) * w[c + l];
            }
            i += 4;
            c += 4;
        }
        let mut local;
        if i < imax {
            if four_rows {
                // Added into the low lanes before the horizontal sum.
                lanes[0] += v(i, j) * w[c];
                lanes[1] += v(i + 1, j) * w[c + 1];
                local = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]);
            } else {
                local = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]);
                local += v(i, j) * w[c];
                local += v(i + 1, j) * w[c + 1];
            }
            i += 2;
            c += 2;
        } else {
            local = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]);
        }
        if i == imax {
            local += v(i, j) * w[c];
        }
        local
    };
    let mut j = if iy + 1 - f.y_radius < 0 { -iy } else { 1 - f.y_radius };
    let jmax = if iy + f.y_radius >= p.sh - 1 { p.sh - 1 - iy } else { f.y_radius };
    let (mut acc, mut vsum) = (0.0, 0.0);
    while j + 2 < jmax {
        let locals = [row(j, true), row(j + 1, true), row(j + 2, true), row(j + 3, true)];
        let y0 = (j as f64 - dy) * ys;
        let (y1, y2) = (y0 + ys, y0 + ys + ys);
        let (wy, s) = weight4(f.r, [y0, y1, y2, y2 + ys]);
        vsum += s;
        for k in 0..4 {
            acc += wy[k] * locals[k];
        }
        j += 4;
    }
    while j <= jmax {
        let local = row(j, false);
        let wj = weight(f.r, (j as f64 - dy) * ys);
        acc += wj * local;
        vsum += wj;
        j += 1;
    }
    clamp_value(acc / (hsum * vsum))
}

/// Whether GDAL runs one of its mask-free specialised kernels
/// (`GWK{Bilinear,Cubic,CubicSpline}NoMasksOrDstDensityOnly{Byte,Short,UShort,Float}`):
/// no source validity or density, no destination nodata, and a type/method it has one for.
fn has_no_masks_kernel<T: Sample>(r: Resampling) -> bool {
    match T::DTYPE {
        DataType::Uint8 | DataType::Int16 | DataType::Uint16 => {
            matches!(r, Resampling::Bilinear | Resampling::Cubic | Resampling::CubicSpline)
        }
        DataType::Float32 => matches!(r, Resampling::Bilinear | Resampling::Cubic),
        _ => false,
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn interpolate<T: Sample>(
    t: &ApproxTransformer,
    off: (f64, f64),
    dst_w: usize,
    dst_h: usize,
    src: &KernelSource<T>,
    r: Resampling,
    x_scale: f64,
    y_scale: f64,
    out: &mut KernelOutput<T>,
) {
    let f = Filter::new(r, x_scale, y_scale);
    let four_samples = x_scale >= 0.95 && y_scale >= 0.95;
    let planes: Vec<Plane<T>> = (0..src.bands).map(|b| Plane::new(src, b)).collect();
    let dplane = dst_w * dst_h;
    let mut xs = vec![0.0; dst_w];
    let mut ys = vec![0.0; dst_w];
    let mut ok = vec![false; dst_w];
    let (mut wx, mut wy) = (Vec::new(), Vec::new());
    let xoff = src.win.xoff as f64;
    let yoff = src.win.yoff as f64;

    if src.valid.is_none() && src.density.is_none() && out.nodata.is_none() && has_no_masks_kernel::<T>(r) {
        // GWKResampleNoMasksOrDstDensityOnlyThreadInternal
        let cubic_spline = r == Resampling::CubicSpline;
        for y in 0..dst_h {
            if crate::cpu::abandoned() {
                return; // the request is gone: the rest of the image is unseen
            }
            row_coords(t, off, y, &mut xs, &mut ys, &mut ok);
            for i in 0..dst_w {
                if src_offset(t, off, &src.win, i, y, &mut xs, &mut ys, &mut ok).is_none() {
                    continue;
                }
                let (fx, fy) = (xs[i] - xoff, ys[i] - yoff);
                let doff = y * dst_w + i;
                for (b, p) in planes.iter().enumerate() {
                    out.data[b * dplane + doff] = match r {
                        _ if cubic_spline || !four_samples => resample_no_masks(p, &f, fx, fy, &mut wx),
                        Resampling::Bilinear => bilinear4_no_masks(p, fx, fy),
                        _ => cubic4_no_masks(p, fx, fy),
                    };
                }
                out.density[doff] = 1.0;
            }
        }
        return;
    }

    // GWKRealCaseThread
    let edge = corner_fails(t, &src.win);
    let steps = (LanczosStep::new(x_scale), LanczosStep::new(y_scale));
    let single = src.win.xsize == 1 || src.win.ysize == 1;
    for y in 0..dst_h {
        if crate::cpu::abandoned() {
            return; // the request is gone: the rest of the image is unseen
        }
        row_coords(t, off, y, &mut xs, &mut ys, &mut ok);
        for i in 0..dst_w {
            let Some((cx, cy)) = src_offset(t, off, &src.win, i, y, &mut xs, &mut ys, &mut ok) else { continue };
            // The centre pixel (nearest rule) must itself be valid or transparent pixels
            // would be interpolated into existence.
            let mut centre = cy * src.win.xsize + cx;
            let mut density = 1.0;
            if let Some(d) = src.density {
                density = d[centre] as f64;
                if density < SRC_DENSITY_THRESHOLD {
                    match edge
                        .then(|| adjust_on_edge(t, &src.win, centre, |o| d[o] as f64 >= SRC_DENSITY_THRESHOLD))
                        .flatten()
                    {
                        Some(o) => {
                            centre = o;
                            density = d[o] as f64;
                        }
                        None => continue,
                    }
                }
            }
            if let Some(v) = src.valid
                && !v[centre]
            {
                match edge.then(|| adjust_on_edge(t, &src.win, centre, |o| v[o])).flatten() {
                    Some(o) => centre = o,
                    None => continue,
                }
            }
            let (fx, fy) = (xs[i] - xoff, ys[i] - yoff);
            let doff = y * dst_w + i;
            let mut found = false;
            for (b, p) in planes.iter().enumerate() {
                let (band_density, value) = if single {
                    (src.pixel_density(centre), p.data[centre].to_f64())
                } else if r == Resampling::Bilinear && four_samples {
                    bilinear4(p, fx, fy)
                } else if r == Resampling::Cubic && four_samples {
                    cubic4(p, fx, fy)
                } else if r == Resampling::Lanczos {
                    lanczos(p, &f, &steps, fx, fy, &mut wx, &mut wy).unwrap_or((0.0, 0.0))
                } else {
                    resample(p, &f, fx, fy, &mut wx).unwrap_or((0.0, 0.0))
                };
                if band_density < BAND_DENSITY_THRESHOLD {
                    continue;
                }
                found = true;
                let dst_density = out.density[doff] as f64;
                set_real(&mut out.data[b * dplane + doff], band_density, value, dst_density, out.nodata);
            }
            if found {
                overlay_density(&mut out.density[doff], density);
            }
        }
    }
}
