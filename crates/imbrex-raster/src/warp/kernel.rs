//! The warp kernel: for each destination pixel, which source pixels and with what weights.
//!
//! Nearest neighbour follows GDAL's `GWKNearestThread` to the letter (destination pixel
//! centres, `int(x + 1e-10)`, the exact retry near the window edge), so results are
//! identical to GDAL's. Bilinear, cubic, cubic spline and Lanczos are in `interpolate.rs`
//! (their filters in `weights.rs`); average, mode and the other statistics use GDAL's
//! corner-based footprints (`footprint.rs`). This file holds the dispatch, the nearest
//! kernel and what every kernel shares (source offsets, edge handling, how a value and its
//! density are written).

use super::Resampling;
use super::approx::ApproxTransformer;
use super::interpolate::interpolate;
use super::window::SourceWindow;
use crate::array::{DataType, Sample};

/// Source pixels and their validity, for one source window.
#[derive(Clone, Copy, Debug)]
pub struct KernelSource<'a, T> {
    /// `bands` x `win.ysize` x `win.xsize` samples.
    pub data: &'a [T],
    pub bands: usize,
    pub win: SourceWindow,
    /// Unified validity (nodata, mask band): `win.ysize` x `win.xsize`.
    pub valid: Option<&'a [bool]>,
    /// Alpha density in [0, 1]: `win.ysize` x `win.xsize`.
    pub density: Option<&'a [f32]>,
}

impl<T: Sample> KernelSource<'_, T> {
    #[inline]
    pub(super) fn pixel_density(&self, off: usize) -> f64 {
        if let Some(v) = self.valid
            && !v[off]
        {
            return 0.0;
        }
        self.density.map_or(1.0, |d| d[off] as f64)
    }
}

/// Threshold below which a source pixel counts as transparent (GDAL's, a `float`).
pub(super) const SRC_DENSITY_THRESHOLD: f64 = 1e-9f32 as f64;

/// Destination samples (`bands` x `dst_h` x `dst_w`, pre-filled by the caller with the
/// init value) and density (0 = nothing written).
pub struct KernelOutput<'a, T> {
    pub data: &'a mut [T],
    pub density: &'a mut [f32],
    /// The destination nodata value: interpolated integer values equal to it are nudged
    /// off it, and its presence rules out GDAL's mask-free kernels.
    pub nodata: Option<f64>,
}

/// Warp `src` onto a `dst_w` x `dst_h` window of the destination grid whose top-left
/// pixel is `off` (GDAL's `nDstXOff`, `nDstYOff`: they enter the transformed coordinates).
pub fn warp<T: Sample>(
    t: &ApproxTransformer,
    off: (usize, usize),
    dst_w: usize,
    dst_h: usize,
    src: &KernelSource<T>,
    resampling: Resampling,
    out: &mut KernelOutput<T>,
) {
    let off = (off.0 as f64, off.1 as f64);
    if src.win.is_empty() {
        return;
    }
    let (x_scale, y_scale) = scales(dst_w, dst_h, &src.win);
    // GDAL drops a source alpha that is fully opaque over the window (`bOutAllOpaque`),
    // which can switch to a mask-free kernel.
    let opaque = src.density.is_some_and(|d| d.iter().all(|&v| v >= 1.0));
    let stripped;
    let src = if opaque {
        stripped = KernelSource { density: None, ..*src };
        &stripped
    } else {
        src
    };
    match resampling {
        Resampling::Nearest => nearest(t, off, dst_w, dst_h, src, out),
        r if r.is_footprint() => super::footprint::footprint(t, off, dst_w, dst_h, src, r, x_scale, y_scale, out),
        r => interpolate(t, off, dst_w, dst_h, src, r, x_scale, y_scale, out),
    }
}

/// GDAL's `PerformWarp` scale estimation (destination pixels per source pixel): the
/// source window less its kernel margin (`dfSrcXExtraSize`), snapped to 1/n when close.
/// Callers zero the margin where GDAL's caller does not pass it (see `read_warped`).
pub(super) fn scales(dst_w: usize, dst_h: usize, win: &SourceWindow) -> (f64, f64) {
    let one = |dst: usize, src: usize, extra: f64| {
        let (d, s) = (dst as f64, src as f64);
        let mut scale = d / (s - extra);
        if s >= d && s <= d + extra {
            scale = 1.0;
        }
        if scale < 1.0 {
            let r = 1.0 / scale;
            let n = (r + 0.5) as i64;
            if (r - n as f64).abs() < 0.05 && n > 0 {
                scale = 1.0 / n as f64;
            }
        }
        scale
    };
    (one(dst_w, win.xsize, win.extra_x), one(dst_h, win.ysize, win.extra_y))
}

/// Transform a row of destination pixel centres to source pixel coordinates.
pub(super) fn row_coords(
    t: &ApproxTransformer,
    off: (f64, f64),
    y: usize,
    xs: &mut [f64],
    ys: &mut [f64],
    ok: &mut [bool],
) {
    for (i, (x, yy)) in xs.iter_mut().zip(ys.iter_mut()).enumerate() {
        *x = i as f64 + 0.5 + off.0;
        *yy = y as f64 + 0.5 + off.1;
    }
    t.transform(xs, ys, ok);
}

/// `GWKCheckAndComputeSrcOffsets`: the source pixel (window-relative) of destination pixel
/// `i`, retrying with an exact transform when the approximation lands just outside.
/// Called once per destination pixel: inlined so the window bounds stay in registers.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn src_offset(
    t: &ApproxTransformer,
    off: (f64, f64),
    win: &SourceWindow,
    i: usize,
    y: usize,
    xs: &mut [f64],
    ys: &mut [f64],
    ok: &mut [bool],
) -> Option<(usize, usize)> {
    let (xoff, yoff) = (win.xoff as f64, win.yoff as f64);
    let (xend, yend) = ((win.xoff + win.xsize) as f64, (win.yoff + win.ysize) as f64);
    for attempt in 0..2 {
        if attempt == 1 {
            let mut px = [i as f64 + 0.5 + off.0];
            let mut py = [y as f64 + 0.5 + off.1];
            let mut pok = [false];
            t.exact_points(&mut px, &mut py, &mut pok);
            xs[i] = px[0];
            ys[i] = py[0];
            ok[i] = pok[0];
        }
        if !ok[i] || xs[i].is_nan() || ys[i].is_nan() {
            return None;
        }
        let (x, yy) = (xs[i], ys[i]);
        if x < xoff {
            if attempt == 0 && x > xoff - 1.0 {
                continue;
            }
            return None;
        }
        if yy < yoff {
            if attempt == 0 && yy > yoff - 1.0 {
                continue;
            }
            return None;
        }
        if x + 1e-10 > xend {
            if attempt == 0 && x < xend + 1.0 {
                continue;
            }
            return None;
        }
        if yy + 1e-10 > yend {
            if attempt == 0 && yy < yend + 1.0 {
                continue;
            }
            return None;
        }
        break;
    }
    let mut sx = (xs[i] + 1e-10) as i64 - win.xoff as i64;
    let mut sy = (ys[i] + 1e-10) as i64 - win.yoff as i64;
    if sx == win.xsize as i64 {
        sx -= 1;
    }
    if sy == win.ysize as i64 {
        sy -= 1;
    }
    (sx >= 0 && sy >= 0).then_some((sx as usize, sy as usize))
}

fn nearest<T: Sample>(
    t: &ApproxTransformer,
    off: (f64, f64),
    dst_w: usize,
    dst_h: usize,
    src: &KernelSource<T>,
    out: &mut KernelOutput<T>,
) {
    let (sw, sh) = (src.win.xsize, src.win.ysize);
    let plane = sw * sh;
    let dplane = dst_w * dst_h;
    let edge = corner_fails(t, &src.win);
    // GDAL has nearest kernels for Byte, Int16, UInt16 and Float32 only, which copy a value
    // as it is; other types go through `GWKRealCase`, whose `GWKSetPixelValue` keeps
    // integer values off the destination nodata value.
    let real_case = !matches!(T::DTYPE, DataType::Uint8 | DataType::Int16 | DataType::Uint16 | DataType::Float32);
    let mut xs = vec![0.0; dst_w];
    let mut ys = vec![0.0; dst_w];
    let mut ok = vec![false; dst_w];
    let (xoff, yoff) = (src.win.xoff as f64, src.win.yoff as f64);
    let (xend, yend) = ((src.win.xoff + src.win.xsize) as f64, (src.win.yoff + src.win.ysize) as f64);
    for y in 0..dst_h {
        if crate::cpu::abandoned() {
            // The request is gone (past its deadline): what is left of the image is unseen.
            return;
        }
        row_coords(t, off, y, &mut xs, &mut ys, &mut ok);
        // The common row: every pixel transformed and well inside the window, every sample
        // opaque. `src_offset`'s retries and edge cases cannot apply, so the row is a
        // plain gather (the same picks: the same truncation of the same coordinates).
        let inside = |i: usize| ok[i] && xs[i] >= xoff && ys[i] >= yoff && xs[i] + 1e-10 < xend && ys[i] + 1e-10 < yend;
        if src.density.is_none() && (0..dst_w).all(inside) {
            for i in 0..dst_w {
                let sx = (xs[i] + 1e-10) as usize - src.win.xoff;
                let sy = (ys[i] + 1e-10) as usize - src.win.yoff;
                let Some(off) = valid_offset(t, src, edge, sy * sw + sx) else { continue };
                let doff = y * dst_w + i;
                for b in 0..src.bands {
                    let slot = &mut out.data[b * dplane + doff];
                    *slot = src.data[b * plane + off];
                    if real_case {
                        avoid_nodata(slot, out.nodata);
                    }
                }
                // `overlay_density` of a full density.
                out.density[doff] = 1.0;
            }
            continue;
        }
        for i in 0..dst_w {
            let Some((sx, sy)) = src_offset(t, off, &src.win, i, y, &mut xs, &mut ys, &mut ok) else { continue };
            let Some(off) = valid_offset(t, src, edge, sy * sw + sx) else { continue };
            let density = src.density.map_or(1.0, |d| d[off] as f64);
            if density < SRC_DENSITY_THRESHOLD {
                continue;
            }
            let doff = y * dst_w + i;
            for b in 0..src.bands {
                let value = src.data[b * plane + off];
                let slot = &mut out.data[b * dplane + doff];
                if density < 1.0 {
                    set_blended(slot, value.to_f64(), density, out.density[doff] as f64, out.nodata);
                } else {
                    *slot = value;
                    if real_case {
                        avoid_nodata(slot, out.nodata);
                    }
                }
            }
            overlay_density(&mut out.density[doff], density);
        }
    }
}

/// The source sample a nearest pick takes: `off` when it is valid, else (at the edge of the
/// projection's domain) a valid neighbour, else none.
fn valid_offset<T: Sample>(t: &ApproxTransformer, src: &KernelSource<T>, edge: bool, off: usize) -> Option<usize> {
    match src.valid {
        Some(v) if !v[off] => edge.then(|| adjust_on_edge(t, &src.win, off, |o| v[o])).flatten(),
        _ => Some(off),
    }
}

/// `GWKOneSourceCornerFailsToReproject`: whether a corner of the source window has no
/// place in the destination CRS (data reaching the edge of a projection's domain, like a
/// geostationary disk).
pub(super) fn corner_fails(t: &ApproxTransformer, win: &SourceWindow) -> bool {
    [(0, 0), (1, 0), (0, 1), (1, 1)].iter().any(|&(ix, iy)| {
        let mut x = [(win.xoff + ix * win.xsize) as f64];
        let mut y = [(win.yoff + iy * win.ysize) as f64];
        t.exact().transform(false, &mut x, &mut y) > 0
    })
}

/// `GWKAdjustSrcOffsetOnEdge`: an invalid source pixel at the edge of the projection's
/// domain (one of its corners does not reproject) is replaced by a valid neighbour (right,
/// below, left, above), so edges are not eaten away.
pub(super) fn adjust_on_edge(
    t: &ApproxTransformer,
    win: &SourceWindow,
    off: usize,
    valid: impl Fn(usize) -> bool,
) -> Option<usize> {
    let (sw, sh) = (win.xsize, win.ysize);
    let (cx, cy) = (off % sw, off / sw);
    let fails = [(0, 0), (0, 1), (1, 0)].iter().any(|&(dx, dy)| {
        let mut x = [(win.xoff + cx + dx) as f64];
        let mut y = [(win.yoff + cy + dy) as f64];
        t.exact().transform(false, &mut x, &mut y) > 0
    });
    if !fails {
        return None;
    }
    if cx + 1 < sw && valid(off + 1) {
        Some(off + 1)
    } else if cy + 1 < sh && valid(off + sw) {
        Some(off + sw)
    } else if cx > 0 && valid(off - 1) {
        Some(off - 1)
    } else if cy > 0 && valid(off - sw) {
        Some(off - sw)
    } else {
        None
    }
}

/// `GWKSetPixelValueRealT` for a partially transparent source pixel (`GWKClampValueT`
/// rounding), kept off the destination nodata value like every value it writes (a Byte
/// band 0 of a valid RGBA pixel with nodata 0 becomes 1: measured on GDAL 3.10.3).
fn set_blended<T: Sample>(slot: &mut T, value: f64, density: f64, dst_density: f64, nodata: Option<f64>) {
    if density < 0.0001 {
        return;
    }
    if density >= 0.9999 {
        *slot = T::from_f64(value);
    } else {
        let influence = (1.0 - density) * dst_density;
        let v = (value * density + slot.to_f64() * influence) / (density + influence);
        *slot = clamp_value(v);
    }
    avoid_nodata(slot, nodata);
}

/// `GWKOverlayDensity`.
pub(super) fn overlay_density(dst: &mut f32, density: f64) {
    if density < 0.0001 {
        return;
    }
    *dst = (1.0 - (1.0 - density) * (1.0 - *dst as f64)) as f32;
}

/// `GWKRoundValueT`: `floor(v + 0.5)` for signed integers, truncated `v + 0.5` for
/// unsigned ones, a plain cast for floats (no clamping).
pub(super) fn round_value<T: Sample>(v: f64) -> T {
    match T::DTYPE {
        DataType::Float32 | DataType::Float64 => T::from_f64(v),
        DataType::Uint8 | DataType::Uint16 | DataType::Uint32 => T::from_f64((v + 0.5).trunc()),
        DataType::Int8 | DataType::Int16 | DataType::Int32 => T::from_f64((v + 0.5).floor()),
    }
}

/// `GWKClampValueT`: saturate to the type's range, then round.
pub(super) fn clamp_value<T: Sample>(v: f64) -> T {
    if !T::DTYPE.is_float() {
        if v < T::DTYPE.min_value() {
            return T::from_f64(T::DTYPE.min_value());
        }
        if v > T::DTYPE.max_value() {
            return T::from_f64(T::DTYPE.max_value());
        }
    }
    round_value(v)
}

/// `GWKSetPixelValue`'s last step: an integer value equal to the destination nodata value
/// moves one step off it (up from the type's minimum, down otherwise), so a valid pixel
/// never reads as a hole. Floats are written as they are.
pub(super) fn avoid_nodata<T: Sample>(slot: &mut T, nodata: Option<f64>) {
    if !T::DTYPE.is_float()
        && let Some(nd) = nodata
        && nd == slot.to_f64()
    {
        let min = T::DTYPE.min_value();
        *slot = T::from_f64(if nd == min { min + 1.0 } else { nd - 1.0 });
    }
}
