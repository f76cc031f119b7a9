//! GDAL's non-warped reads: overview choice, nearest-neighbour decimation with a
//! floating-point window, and the VRT source windows of rasterio's boundless reads.
//!
//! These decide which source pixel lands in each output pixel of a same-CRS tile, a
//! preview or a pixel-space tile; they follow `GDALBandGetBestOverviewLevel2`,
//! `GDALRasterBand::IRasterIO`, `GDALDataset::BlockBasedRasterIO`,
//! `VRTDataset::BuildVirtualOverviews` and `VRTSimpleSource::GetSrcDstWindow` (GDAL 3.10).

/// A read request in GDAL terms: the integer window rasterio passes, the floating-point
/// window in its extra argument, and the buffer size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Request {
    pub x_off: i64,
    pub y_off: i64,
    pub x_size: i64,
    pub y_size: i64,
    pub fx_off: f64,
    pub fy_off: f64,
    pub fx_size: f64,
    pub fy_size: f64,
    pub buf_w: usize,
    pub buf_h: usize,
}

impl Request {
    /// rasterio's request for a float window: `int()` truncation of offsets, sizes at least 1.
    pub fn from_window(x: f64, y: f64, w: f64, h: f64, buf_w: usize, buf_h: usize) -> Request {
        Request {
            x_off: x as i64,
            y_off: y as i64,
            x_size: w.max(1.0) as i64,
            y_size: h.max(1.0) as i64,
            fx_off: x,
            fy_off: y,
            fx_size: w,
            fy_size: h,
            buf_w,
            buf_h,
        }
    }

    /// Whether the floating-point window is the integer one (GDAL's
    /// `bUseIntegerRequestCoords`): then a same-size read is a plain copy.
    pub(crate) fn integer_coords(&self) -> bool {
        self.x_off as f64 == self.fx_off
            && self.y_off as f64 == self.fy_off
            && self.x_size as f64 == self.fx_size
            && self.y_size as f64 == self.fy_size
    }
}

/// `GDALBandGetBestOverviewLevel2`: the index into `overviews` (sizes, fine to coarse) GDAL
/// reads from, or `None` for full resolution.
pub fn best_overview(
    band: (usize, usize),
    x_size: i64,
    y_size: i64,
    buf: (usize, usize),
    overviews: &[(usize, usize)],
    nearest: bool,
) -> Option<usize> {
    let dx = x_size as f64 / buf.0 as f64;
    let dy = y_size as f64 / buf.1 as f64;
    let desired = if dx < dy || buf.1 == 1 { dx } else { dy };
    let threshold = if nearest { 1.2 } else { 1.0 };
    let mut best = None;
    let mut best_factor = 0.0;
    for (i, &(ow, oh)) in overviews.iter().enumerate() {
        if ow > band.0 || oh > band.1 || ow == 0 || oh == 0 {
            continue;
        }
        let f = (band.0 as f64 / ow as f64).min(band.1 as f64 / oh as f64);
        if f >= desired * threshold + 0.1 || f <= best_factor {
            continue;
        }
        best = Some(i);
        best_factor = f;
        if (desired - f).abs() < 0.1 {
            break;
        }
    }
    best
}

/// Rescale a request onto overview `ovr` of a `band`-sized raster (the tail of
/// `GDALBandGetBestOverviewLevel2`).
pub fn to_overview(r: &Request, band: (usize, usize), ovr: (usize, usize)) -> Request {
    let xf = band.0 as f64 / ovr.0 as f64;
    let yf = band.1 as f64 / ovr.1 as f64;
    let x_off = ((ovr.0 as i64) - 1).min((r.x_off as f64 / xf + 0.5) as i64);
    let y_off = ((ovr.1 as i64) - 1).min((r.y_off as f64 / yf + 0.5) as i64);
    let mut x_size = ((r.x_size as f64 / xf + 0.5) as i64).max(1);
    let mut y_size = ((r.y_size as f64 / yf + 0.5) as i64).max(1);
    if x_off + x_size > ovr.0 as i64 {
        x_size = ovr.0 as i64 - x_off;
    }
    if y_off + y_size > ovr.1 as i64 {
        y_size = ovr.1 as i64 - y_off;
    }
    Request {
        x_off,
        y_off,
        x_size,
        y_size,
        fx_off: r.fx_off / xf,
        fx_size: r.fx_size / xf,
        fy_off: r.fy_off / yf,
        fy_size: r.fy_size / yf,
        ..*r
    }
}

/// Which source pixels a decimated (or 1:1) nearest read takes, on one level.
#[derive(Clone, Debug, PartialEq)]
pub struct Sampling {
    /// 0 = full resolution, `i + 1` = overview `i`.
    pub level: usize,
    pub cols: Vec<usize>,
    pub rows: Vec<usize>,
}

impl Sampling {
    /// The integer window (x, y, w, h) the sampled pixels span.
    pub fn span(&self) -> (usize, usize, usize, usize) {
        let (x0, x1) = (self.cols.iter().min().copied().unwrap_or(0), self.cols.iter().max().copied().unwrap_or(0));
        let (y0, y1) = (self.rows.iter().min().copied().unwrap_or(0), self.rows.iter().max().copied().unwrap_or(0));
        (x0, y0, x1 - x0 + 1, y1 - y0 + 1)
    }
}

/// How a level is read: which GDAL loop runs decides how X positions accumulate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// One band (or band-interleaved data): `GDALRasterBand::IRasterIO`, X accumulated.
    Band,
    /// Several bands of pixel-interleaved data: `GDALDataset::BlockBasedRasterIO` when not
    /// decimating, X multiplied.
    PixelInterleaved,
}

/// The level (0 = full resolution) a read of `req` is served from, and the request
/// rescaled onto it. An overview is considered as soon as one axis is reduced (GDAL's
/// band-level rule, which is where a GTiff read ends up when its dataset-level rule
/// declines); `nearest` selects GDAL's oversampling allowance (1.2 for nearest reads,
/// 1.0 when a resampling kernel is asked for).
pub fn level_for(levels: &[(usize, usize)], req: &Request, nearest: bool) -> (usize, Request) {
    let full = levels[0];
    if ((req.buf_w as i64) < req.x_size || (req.buf_h as i64) < req.y_size)
        && let Some(i) = best_overview(full, req.x_size, req.y_size, (req.buf_w, req.buf_h), &levels[1..], nearest)
    {
        return (i + 1, to_overview(req, full, levels[i + 1]));
    }
    (0, *req)
}

/// Plan a nearest read of `levels` (level 0 = full resolution, then overviews) for `req`;
/// `nearest` is false when GDAL was asked for another resampling (it changes which
/// overview is acceptable, see [`level_for`]).
pub fn plan(levels: &[(usize, usize)], req: &Request, path: Path, nearest: bool) -> Sampling {
    let (level, r) = level_for(levels, req, nearest);
    let (lw, lh) = levels[level];
    let same_size = r.x_size == r.buf_w as i64 && r.y_size == r.buf_h as i64;
    if same_size && r.integer_coords() {
        let cols = (0..r.buf_w).map(|k| (r.x_off as usize + k).min(lw - 1)).collect();
        let rows = (0..r.buf_h).map(|k| (r.y_off as usize + k).min(lh - 1)).collect();
        return Sampling { level, cols, rows };
    }
    const EPS: f64 = 1e-10;
    let inc_x = r.fx_size / r.buf_w as f64;
    let inc_y = r.fy_size / r.buf_h as f64;
    let clamp = |v: f64, n: usize| v.max(0.0).min((n - 1) as f64) as usize;
    let rows = (0..r.buf_h).map(|j| clamp((j as f64 + 0.5) * inc_y + r.fy_off + EPS, lh)).collect();
    let cols = if same_size && path == Path::PixelInterleaved {
        (0..r.buf_w).map(|i| clamp((i as f64 + 0.5) * inc_x + r.fx_off + EPS, lw)).collect()
    } else {
        let mut x = 0.5 * inc_x + r.fx_off + EPS;
        let mut cols = Vec::with_capacity(r.buf_w);
        for _ in 0..r.buf_w {
            cols.push(clamp(x, lw));
            x += inc_x;
        }
        cols
    };
    Sampling { level, cols, rows }
}

/// A `ComplexSource` of rasterio's boundless VRT: where the whole source lands in VRT pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DstRect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// What `GetSrcDstWindow` returns: the source request and the part of the buffer it fills.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SrcDst {
    pub req: Request,
    pub out_x: usize,
    pub out_y: usize,
    pub out_w: usize,
    pub out_h: usize,
}

fn round_if_close_to_int(v: f64) -> f64 {
    let c = (v + 0.5).floor();
    if (v - c).abs() < 1e-3 { c } else { v }
}

/// `VRTSimpleSource::GetSrcDstWindow` for a source whose SrcRect is the whole `src` band.
pub fn src_dst_window(
    (x_off, y_off, x_size, y_size): (f64, f64, f64, f64),
    (buf_w, buf_h): (usize, usize),
    dst: &DstRect,
    src: (usize, usize),
) -> Option<SrcDst> {
    const EPS: f64 = 1e-3;
    if dst.w == 0.0 || dst.h == 0.0 {
        return None;
    }
    if x_off >= dst.x + dst.w || y_off >= dst.y + dst.h || x_off + x_size <= dst.x || y_off + y_size <= dst.y {
        return None;
    }
    let (sw, sh) = (src.0 as f64, src.1 as f64);
    let (mut mod_x, mut mod_y) = (false, false);
    let (mut rx, mut ry, mut rw, mut rh) = (x_off, y_off, x_size, y_size);
    if rx < dst.x {
        rw = rw + rx - dst.x;
        rx = dst.x;
        mod_x = true;
    }
    if ry < dst.y {
        rh = rh + ry - dst.y;
        ry = dst.y;
        mod_y = true;
    }
    if rx + rw > dst.x + dst.w {
        rw = dst.x + dst.w - rx;
        mod_x = true;
    }
    if ry + rh > dst.y + dst.h {
        rh = dst.y + dst.h - ry;
        mod_y = true;
    }
    let scale_x = sw / dst.w;
    let scale_y = sh / dst.h;
    let mut qx = (rx - dst.x) * scale_x;
    let mut qy = (ry - dst.y) * scale_y;
    let mut qw = rw * scale_x;
    let mut qh = rh * scale_y;
    if !(qx.is_finite() && qy.is_finite() && qw.is_finite() && qh.is_finite())
        || qw < 0.0
        || qh < 0.0
        || qx > i32::MAX as f64
    {
        return None;
    }
    if qx < 0.0 {
        qw += qx;
        qx = 0.0;
        mod_x = true;
    }
    if qy < 0.0 {
        qh += qy;
        qy = 0.0;
        mod_y = true;
    }
    let mut nqx = qx.floor() as i64;
    let mut nqy = qy.floor() as i64;
    if qx - nqx as f64 > 1.0 - EPS {
        nqx += 1;
        qx = nqx as f64;
    }
    if qy - nqy as f64 > 1.0 - EPS {
        nqy += 1;
        qy = nqy as f64;
    }
    let mut nqw = ((qw + 0.5).floor() as i64).max(1);
    let mut nqh = ((qh + 0.5).floor() as i64).max(1);
    if nqx + nqw > src.0 as i64 {
        nqw = src.0 as i64 - nqx;
        mod_x = true;
    }
    if qx + qw > sw {
        qw = sw - qx;
        mod_x = true;
    }
    if nqy + nqh > src.1 as i64 {
        nqh = src.1 as i64 - nqy;
        mod_y = true;
    }
    if qy + qh > sh {
        qh = sh - qy;
        mod_y = true;
    }
    if nqx >= src.0 as i64 || nqy >= src.1 as i64 || nqw <= 0 || nqh <= 0 {
        return None;
    }
    let (mut out_x, mut out_y, mut out_w, mut out_h) = (0i64, 0i64, buf_w as i64, buf_h as i64);
    if mod_x || mod_y {
        let src_to_dst_x = |v: f64| (v / sw) * dst.w + dst.x;
        let src_to_dst_y = |v: f64| (v / sh) * dst.h + dst.y;
        let (ulx, uly) = (src_to_dst_x(qx), src_to_dst_y(qy));
        let (lrx, lry) = (src_to_dst_x(qx + qw), src_to_dst_y(qy + qh));
        if mod_x {
            let s = buf_w as f64 / x_size;
            let o = (ulx - x_off) * s;
            out_x = if o <= 0.0 { 0 } else { (o + EPS) as i64 };
            let d = (o - out_x as f64) / s / dst.w * sw;
            qx -= d;
            qw += d;
            let right = (lrx - x_off) * s;
            if right < o {
                return None;
            }
            let n_right = (right - EPS).ceil() as i64;
            out_w = n_right - out_x;
            if out_x + out_w > buf_w as i64 {
                out_w = buf_w as i64 - out_x;
            }
            qw += (n_right as f64 - right) / s / dst.w * sw;
        }
        if mod_y {
            let s = buf_h as f64 / y_size;
            let o = (uly - y_off) * s;
            out_y = if o <= 0.0 { 0 } else { (o + EPS) as i64 };
            let d = (o - out_y as f64) / s / dst.h * sh;
            qy -= d;
            qh += d;
            let bottom = (lry - y_off) * s;
            if bottom < o {
                return None;
            }
            let n_bottom = (bottom - EPS).ceil() as i64;
            out_h = n_bottom - out_y;
            if out_y + out_h > buf_h as i64 {
                out_h = buf_h as i64 - out_y;
            }
            qh += (n_bottom as f64 - bottom) / s / dst.h * sh;
        }
        if out_w < 1 || out_h < 1 {
            return None;
        }
    }
    let req = Request {
        x_off: nqx,
        y_off: nqy,
        x_size: nqw,
        y_size: nqh,
        fx_off: round_if_close_to_int(qx),
        fy_off: round_if_close_to_int(qy),
        fx_size: round_if_close_to_int(qw),
        fy_size: round_if_close_to_int(qh),
        buf_w: out_w as usize,
        buf_h: out_h as usize,
    };
    Some(SrcDst { req, out_x: out_x as usize, out_y: out_y as usize, out_w: out_w as usize, out_h: out_h as usize })
}

/// One virtual overview of a boundless VRT (`VRTDataset::BuildVirtualOverviews`): its size
/// and the ratios its source's DstRect is scaled by.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VirtualOverview {
    pub width: usize,
    pub height: usize,
    pub rx: f64,
    pub ry: f64,
}

/// Virtual overviews of a `vrt`-sized VRT whose one source is a `src`-sized band with
/// `overviews`, placed at `dst`. Source overviews GDAL skips are absent from the result.
pub fn virtual_overviews(
    vrt: (usize, usize),
    src: (usize, usize),
    overviews: &[(usize, usize)],
    dst: &DstRect,
) -> Vec<VirtualOverview> {
    let ratio_x = dst.w / src.0 as f64;
    let ratio_y = dst.h / src.1 as f64;
    let mut sizes: Vec<(usize, usize)> = overviews.to_vec();
    sizes.sort();
    sizes.dedup();
    let mut out = Vec::new();
    for &(ow, oh) in overviews {
        let rx = ow as f64 / src.0 as f64;
        let ry = oh as f64 / src.1 as f64;
        if rx >= ratio_x || ry >= ratio_y {
            continue;
        }
        let mut w = (0.5 + vrt.0 as f64 * rx) as i64;
        let mut h = (0.5 + vrt.1 as f64 * ry) as i64;
        if w < 128 || h < 128 {
            break;
        }
        if let Some(&(sw, sh)) =
            sizes.iter().find(|&&(sw, sh)| (sw as i64 - w).abs() <= 1 && (sh as i64 - h).abs() <= 1)
        {
            w = sw as i64;
            h = sh as i64;
        }
        out.push(VirtualOverview { width: w as usize, height: h as usize, rx, ry });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overview_choice_accepts_slightly_coarser() {
        // bremen z1/1/1 (documented): desired 7.27, an overview of factor 7.99 is taken.
        let band = (8000, 8000);
        let ovrs = [(4000, 4000), (2000, 2000), (1001, 1001)];
        let desired_x = (7.27 * 256.0) as i64;
        assert_eq!(best_overview(band, desired_x, desired_x, (256, 256), &ovrs, true), Some(2));
        // Without the 1.2 oversampling allowance (non-nearest), it is refused.
        assert_eq!(best_overview(band, desired_x, desired_x, (256, 256), &ovrs, false), Some(1));
        // Not decimating: nothing.
        assert_eq!(best_overview(band, 256, 256, (256, 256), &ovrs, true), None);
    }

    #[test]
    fn cog_int16_level_choice() {
        // Documented example: VRT 3572x3572, implicit overviews 1786, 894, 448 -> level 2.
        let ovrs = [(1786, 1786), (894, 894), (448, 448)];
        assert_eq!(best_overview((3572, 3572), 3572, 3572, (256, 256), &ovrs, true), Some(2));
    }

    #[test]
    fn decimation_takes_pixel_centres() {
        let req = Request::from_window(0.0, 0.0, 512.0, 512.0, 256, 256);
        let s = plan(&[(512, 512)], &req, Path::Band, true);
        assert_eq!(s.level, 0);
        assert_eq!(&s.cols[..3], &[1, 3, 5]);
        assert_eq!(s.rows[255], 511);
        // An integer 1:1 window is a copy.
        let req = Request::from_window(10.0, 20.0, 256.0, 256.0, 256, 256);
        let s = plan(&[(512, 512)], &req, Path::Band, true);
        assert_eq!((s.cols[0], s.rows[0], s.cols[255]), (10, 20, 265));
        assert_eq!(s.span(), (10, 20, 256, 256));
    }

    #[test]
    fn decimation_uses_overviews() {
        let req = Request::from_window(0.0, 0.0, 1024.0, 1024.0, 256, 256);
        let s = plan(&[(1024, 1024), (512, 512), (256, 256)], &req, Path::Band, true);
        assert_eq!(s.level, 2);
        assert_eq!(s.cols[7], 7);
    }

    #[test]
    fn src_dst_window_clips_to_the_source() {
        // A 256 px request starting 100 px left of a 1000 px source, at 1:1.
        let dst = DstRect { x: 100.0, y: 0.0, w: 1000.0, h: 1000.0 };
        let r = src_dst_window((0.0, 0.0, 256.0, 256.0), (256, 256), &dst, (1000, 1000)).unwrap();
        assert_eq!((r.out_x, r.out_w), (100, 156));
        assert_eq!((r.req.x_off, r.req.x_size), (0, 156));
        assert_eq!((r.out_y, r.out_h), (0, 256));
        // Entirely outside: nothing.
        assert!(src_dst_window((2000.0, 0.0, 256.0, 256.0), (256, 256), &dst, (1000, 1000)).is_none());
    }
}
