//! GDAL's footprint kernels (`GWKAverageOrMode`): average, mode, min, max, median,
//! quartiles, sum and RMS over every source pixel under a destination pixel's footprint
//! (its corners transformed), with GDAL's per-pixel weights.

use super::kernel::{KernelOutput, KernelSource, SRC_DENSITY_THRESHOLD, avoid_nodata, clamp_value};
use super::{ApproxTransformer, Resampling};
use crate::array::Sample;

/// Average, mode and the other footprint statistics: every source pixel under the
/// destination pixel's footprint (its corners transformed) counts.
#[allow(clippy::too_many_arguments)]
pub(super) fn footprint<T: Sample>(
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
    let (sw, sh) = (src.win.xsize, src.win.ysize);
    let plane = sw * sh;
    let dplane = dst_w * dst_h;
    // GDAL's sanity margins, one per axis.
    let margin_x = 2.0 * (1.0f64).max((1.0 / x_scale).ceil());
    let margin_y = 2.0 * (1.0f64).max((1.0 / y_scale).ceil());
    let (xoff, yoff) = (src.win.xoff as f64, src.win.yoff as f64);
    let mut x0 = vec![0.0; dst_w];
    let mut y0 = vec![0.0; dst_w];
    let mut ok0 = vec![false; dst_w];
    let mut x1 = vec![0.0; dst_w];
    let mut y1 = vec![0.0; dst_w];
    let mut ok1 = vec![false; dst_w];
    let mut samples: Vec<(f64, f64)> = Vec::new();
    for y in 0..dst_h {
        if crate::cpu::abandoned() {
            break; // the request is gone: the rest of the image is unseen
        }
        for i in 0..dst_w {
            x0[i] = i as f64 + off.0;
            y0[i] = y as f64 + off.1;
            x1[i] = i as f64 + 1.0 + off.0;
            y1[i] = y as f64 + 1.0 + off.1;
        }
        t.transform(&mut x0, &mut y0, &mut ok0);
        t.transform(&mut x1, &mut y1, &mut ok1);
        for i in 0..dst_w {
            if !ok0[i] || !ok1[i] {
                continue;
            }
            let (mut ax, mut bx) = (x0[i] - xoff, x1[i] - xoff);
            let (mut ay, mut by) = (y0[i] - yoff, y1[i] - yoff);
            if ax < -margin_x || bx < -margin_x || ay < -margin_y || by < -margin_y {
                continue;
            }
            if ax - sw as f64 > margin_x
                || bx - sw as f64 > margin_x
                || ay - sh as f64 > margin_y
                || by - sh as f64 > margin_y
            {
                continue;
            }
            if ax > bx {
                std::mem::swap(&mut ax, &mut bx);
            }
            if ay > by {
                std::mem::swap(&mut ay, &mut by);
            }
            const EPS: f64 = 1e-10;
            if !(bx > -EPS && ax < sw as f64 + EPS && by > -EPS && ay < sh as f64 + EPS) {
                continue;
            }
            let ixmin = (ax + EPS).floor().max(0.0) as usize;
            let mut ixmax = ((bx - EPS).ceil() as usize).min(sw);
            if ixmin == ixmax && ixmax < sw {
                ixmax += 1;
            }
            let iymin = (ay + EPS).floor().max(0.0) as usize;
            let mut iymax = ((by - EPS).ceil() as usize).min(sh);
            if iymin == iymax && iymax < sh {
                iymax += 1;
            }
            let doff = y * dst_w + i;
            let mut any = false;
            for b in 0..src.bands {
                samples.clear();
                for sy in iymin..iymax {
                    let wy = edge_weight(sy, iymin, iymax, ay, by);
                    for sx in ixmin..ixmax {
                        let wx = edge_weight(sx, ixmin, ixmax, ax, bx);
                        let off = sy * sw + sx;
                        if src.pixel_density(off) <= SRC_DENSITY_THRESHOLD {
                            continue;
                        }
                        let w = wx * wy;
                        if w > 0.0 {
                            samples.push((src.data[b * plane + off].to_f64(), w));
                        }
                    }
                }
                if let Some(v) = reduce(r, &mut samples) {
                    // GWKSetPixelValue: clamp, round, keep off the nodata value.
                    let slot = &mut out.data[b * dplane + doff];
                    *slot = clamp_value(v);
                    avoid_nodata(slot, out.nodata);
                    any = true;
                }
            }
            if any {
                out.density[doff] = 1.0;
            }
        }
    }
}

/// Combine the samples under a footprint.
fn reduce(r: Resampling, s: &mut [(f64, f64)]) -> Option<f64> {
    if s.is_empty() {
        return None;
    }
    Some(match r {
        Resampling::Average => {
            let (mut m, mut wsum) = (0.0, 0.0);
            for &(v, w) in s.iter() {
                wsum += w;
                m += (w / wsum) * (v - m);
            }
            m
        }
        Resampling::Rms => {
            let (num, den) = s.iter().fold((0.0, 0.0), |(n, d), &(v, w)| (n + w * v * v, d + w));
            (num / den).sqrt()
        }
        Resampling::Sum => s.iter().map(|&(v, w)| v * w).sum(),
        Resampling::Mode => {
            // The first value to reach the strictly greatest count, scanning in order.
            let mut best = s[0].0;
            let mut best_count = 0usize;
            let mut counts: Vec<(f64, usize)> = Vec::new();
            for &(v, _) in s.iter() {
                let c = match counts.iter_mut().find(|(k, _)| *k == v) {
                    Some((_, c)) => {
                        *c += 1;
                        *c
                    }
                    None => {
                        counts.push((v, 1));
                        1
                    }
                };
                if c > best_count {
                    best_count = c;
                    best = v;
                }
            }
            best
        }
        Resampling::Min => s.iter().map(|p| p.0).fold(f64::INFINITY, f64::min),
        Resampling::Max => s.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max),
        Resampling::Med | Resampling::Q1 | Resampling::Q3 => {
            let mut v: Vec<f64> = s.iter().map(|p| p.0).collect();
            v.sort_by(|a, b| a.total_cmp(b));
            let q = match r {
                Resampling::Q1 => 0.25,
                Resampling::Q3 => 0.75,
                _ => 0.5,
            };
            v[((v.len() - 1) as f64 * q).round() as usize]
        }
        _ => return None,
    })
}

/// GDAL's weight of source row or column `i` of the footprint `lo..hi` whose real edges
/// are `a` and `b`: the part of the edge pixels inside them, 1 elsewhere (and for a
/// footprint one pixel wide).
fn edge_weight(i: usize, lo: usize, hi: usize, a: f64, b: f64) -> f64 {
    if hi - lo == 1 {
        1.0
    } else if i == lo {
        1.0 - (a - lo as f64)
    } else if i + 1 == hi {
        1.0 - (hi as f64 - b)
    } else {
        1.0
    }
}
