//! GDAL's `ComputeSourceWindow`: which source pixels a destination window needs.

use imbrex_tms::{Crs, GenImgProj, Transformer};

use super::Resampling;

/// A source window in pixels, plus the kernel margin GDAL accounts for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SourceWindow {
    pub xoff: usize,
    pub yoff: usize,
    pub xsize: usize,
    pub ysize: usize,
    /// Pixels read beyond the raw transformed extent (kernel margins): GDAL's
    /// `dfSrcXExtraSize`, used to compute the kernel scale.
    pub extra_x: f64,
    pub extra_y: f64,
}

impl SourceWindow {
    pub fn is_empty(&self) -> bool {
        self.xsize == 0 || self.ysize == 0
    }
}

const STEPS: usize = 21;

/// The source window of the `dst_w` x `dst_h` destination window at `off`.
#[allow(clippy::too_many_arguments)]
pub fn compute_source_window(
    t: &GenImgProj,
    off: (usize, usize),
    dst_w: usize,
    dst_h: usize,
    src_w: usize,
    src_h: usize,
    resampling: Resampling,
    dst_crs: Option<&Crs>,
) -> Option<SourceWindow> {
    let (dw, dh) = (dst_w as f64, dst_h as f64);
    let off = (off.0 as f64, off.1 as f64);
    // All four corners must map back; if not, sample every edge pixel.
    let mut cx = [off.0, off.0 + dw, off.0, off.0 + dw];
    let mut cy = [off.1, off.1, off.1 + dh, off.1 + dh];
    let all = t.transform(true, &mut cx, &mut cy) > 0;
    let mut grid = false;
    let mut s = sample(t, off, dst_w, dst_h, grid, all);
    // A pole inside the destination grid: sample a grid instead of the edges.
    if let Some(crs) = dst_crs
        && pole_inside(t, crs, off, dw, dh)
    {
        grid = true;
        s = sample(t, off, dst_w, dst_h, true, false);
    }
    if !grid && s.failed > 0 {
        grid = true;
        s = sample(t, off, dst_w, dst_h, true, false);
    }
    if s.failed + 5 > s.points {
        return None;
    }
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (s.min_x, s.min_y, s.max_x, s.max_y);
    if grid {
        from_source(t, off, dst_w, dst_h, src_w, src_h, &mut min_x, &mut min_y, &mut max_x, &mut max_y);
    }
    let (sw, sh) = (src_w as f64, src_h as f64);
    if min_x > sw || max_x < 0.0 || min_y > sh || max_y < 0.0 {
        return Some(SourceWindow { xoff: 0, yoff: 0, xsize: 0, ysize: 0, extra_x: 0.0, extra_y: 0.0 });
    }
    let snap = |v: f64| {
        let r = v.round();
        if (r - v).abs() < 1e-6 { r } else { v }
    };
    let (min_x, min_y, max_x, max_y) = (snap(min_x), snap(min_y), snap(max_x), snap(max_y));
    let radius = resampling.radius() as f64;
    let x_scale = (dw / (max_x - min_x)).max(1e-3);
    let y_scale = (dh / (max_y - min_y)).max(1e-3);
    let mut x_radius = if x_scale < 0.95 { (radius / x_scale).ceil() as i64 } else { radius as i64 };
    let mut y_radius = if y_scale < 0.95 { (radius / y_scale).ceil() as i64 } else { radius as i64 };
    if s.failed > 0 {
        x_radius += 10;
        y_radius += 10;
    }
    let (rw, rh) = (src_w as i64, src_h as i64);
    let min_xc = min_x.max(0.0) as i64;
    let min_yc = min_y.max(0.0) as i64;
    let max_xc = max_x.ceil().min(sw) as i64;
    let max_yc = max_y.ceil().min(sh) as i64;
    let raw_w = ((rw - min_xc) as f64).min(max_x - min_x).max(0.0);
    let raw_h = ((rh - min_yc) as f64).min(max_y - min_y).max(0.0);
    // Covering more than 90 % of the width: take it all (helps across the antimeridian).
    let (xoff, xsize) = if (max_xc - min_xc) as f64 > 0.9 * sw {
        (0, rw)
    } else {
        let off = (min_xc - x_radius).clamp(0, rw);
        (off, (rw - off).min(max_xc - off + x_radius).max(0))
    };
    let (yoff, ysize) = if (max_yc - min_yc) as f64 > 0.9 * sh {
        (0, rh)
    } else {
        let off = (min_yc - y_radius).clamp(0, rh);
        (off, (rh - off).min(max_yc - off + y_radius).max(0))
    };
    Some(SourceWindow {
        xoff: xoff as usize,
        yoff: yoff as usize,
        xsize: xsize as usize,
        ysize: ysize as usize,
        extra_x: xsize as f64 - raw_w,
        extra_y: ysize as f64 - raw_h,
    })
}

struct Samples {
    points: usize,
    failed: usize,
    min_x: f64,
    min_y: f64,
    max_x: f64,
    max_y: f64,
}

fn sample(t: &GenImgProj, off: (f64, f64), dst_w: usize, dst_h: usize, grid: bool, all: bool) -> Samples {
    let (dw, dh) = (dst_w as f64, dst_h as f64);
    let step = 1.0 / (STEPS - 1) as f64;
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    if grid {
        let ratio = |i: usize, size: f64| {
            if i == 0 {
                0.5 / size
            } else if i <= STEPS {
                (i - 1) as f64 * step
            } else {
                1.0 - 0.5 / size
            }
        };
        for iy in 0..STEPS + 2 {
            // GDAL uses the X size for both ratios' half-pixel ends here.
            let ry = ratio(iy, dw);
            for ix in 0..STEPS + 2 {
                xs.push(ratio(ix, dw) * dw);
                ys.push(ry * dh);
            }
        }
    } else if all {
        for ix in 0..=dst_w {
            xs.push(ix as f64);
            ys.push(0.0);
            xs.push(ix as f64);
            ys.push(dh);
        }
        for iy in 1..dst_h {
            xs.push(0.0);
            ys.push(iy as f64);
            xs.push(dw);
            ys.push(iy as f64);
        }
    } else {
        let mut r = 0.0f64;
        while r <= 1.0 + step * 0.5 {
            xs.extend_from_slice(&[r * dw, r * dw, 0.0, dw]);
            ys.extend_from_slice(&[0.0, dh, r * dh, r * dh]);
            r += step;
        }
    }
    let points = xs.len();
    xs.iter_mut().for_each(|x| *x += off.0);
    ys.iter_mut().for_each(|y| *y += off.1);
    t.transform(true, &mut xs, &mut ys);
    let mut s = Samples {
        points,
        failed: 0,
        min_x: f64::INFINITY,
        min_y: f64::INFINITY,
        max_x: f64::NEG_INFINITY,
        max_y: f64::NEG_INFINITY,
    };
    for (&x, &y) in xs.iter().zip(&ys) {
        if !(x.is_finite() && y.is_finite()) {
            s.failed += 1;
            continue;
        }
        s.min_x = s.min_x.min(x);
        s.min_y = s.min_y.min(y);
        s.max_x = s.max_x.max(x);
        s.max_y = s.max_y.max(y);
    }
    s
}

/// `ComputeSourceWindowStartingFromSource`: source grid points that land in the destination.
#[allow(clippy::too_many_arguments)]
fn from_source(
    t: &GenImgProj,
    off: (f64, f64),
    dst_w: usize,
    dst_h: usize,
    src_w: usize,
    src_h: usize,
    min_x: &mut f64,
    min_y: &mut f64,
    max_x: &mut f64,
    max_y: &mut f64,
) {
    let step = 1.0 / (STEPS - 1) as f64;
    let (sw, sh) = (src_w as f64, src_h as f64);
    let ratio = |i: usize, size: f64| {
        if i == 0 {
            0.5 / size
        } else if i <= STEPS {
            (i - 1) as f64 * step
        } else {
            1.0 - 0.5 / size
        }
    };
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for iy in 0..STEPS + 2 {
        for ix in 0..STEPS + 2 {
            xs.push(ratio(ix, sw) * sw);
            ys.push(ratio(iy, sh) * sh);
        }
    }
    let (sx, sy) = (xs.clone(), ys.clone());
    t.transform(false, &mut xs, &mut ys);
    for i in 0..xs.len() {
        let (x, y) = (xs[i], ys[i]);
        if x.is_finite()
            && y.is_finite()
            && x >= off.0
            && x <= off.0 + dst_w as f64
            && y >= off.1
            && y <= off.1 + dst_h as f64
        {
            *min_x = min_x.min(sx[i]);
            *min_y = min_y.min(sy[i]);
            *max_x = max_x.max(sx[i]);
            *max_y = max_y.max(sy[i]);
        }
    }
}

/// Whether a pole (lat +-89.9999) falls inside the destination grid.
fn pole_inside(t: &GenImgProj, dst_crs: &Crs, off: (f64, f64), dw: f64, dh: f64) -> bool {
    let Ok(to_dst) = Transformer::new(&dst_crs.geodetic_crs(), dst_crs) else { return false };
    let Some(inv) = t.dst_gt().invert() else { return false };
    [-89.9999, 89.9999].iter().any(|&lat| {
        to_dst.transform(0.0, lat).is_ok_and(|(x, y)| {
            let (px, py) = inv.apply(x, y);
            (off.0..=off.0 + dw).contains(&px) && (off.1..=off.1 + dh).contains(&py)
        })
    })
}
