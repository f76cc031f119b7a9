//! Window and grid arithmetic, done exactly as rasterio and rio-tiler do it.
//!
//! Which pixels a tile gets depends on the last bits of these numbers (a window offset of
//! -3.6e-12 makes a read "boundless"; a VRT 1 pixel wider changes the overview), so the
//! operation order follows rasterio's `windows.from_bounds` (affine 3 inversion) and
//! rio-tiler's `get_vrt_transform` / `output_size` line by line.

use imbrex_tms::{Bounds, GeoTransform};

/// A floating-point window (rasterio's `Window`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub col_off: f64,
    pub row_off: f64,
    pub width: f64,
    pub height: f64,
}

impl Window {
    pub fn new(col_off: f64, row_off: f64, width: f64, height: f64) -> Window {
        Window { col_off, row_off, width, height }
    }

    /// rasterio's `windows.from_bounds`: the four corners through the inverse affine, min/max.
    pub fn from_bounds(b: &Bounds, gt: &GeoTransform) -> Option<Window> {
        let [a, _, _, _, e, _] = gt.to_affine();
        if (b.right - b.left) / a < 0.0 || (b.bottom - b.top) / e < 0.0 {
            return None;
        }
        let inv = affine_inverse(gt)?;
        let xs = [b.left, b.right, b.right, b.left];
        let ys = [b.top, b.top, b.bottom, b.bottom];
        let (mut c0, mut c1, mut r0, mut r1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for (x, y) in xs.iter().zip(&ys) {
            let col = inv[0] * x + inv[1] * y + inv[2];
            let row = inv[3] * x + inv[4] * y + inv[5];
            c0 = c0.min(col);
            c1 = c1.max(col);
            r0 = r0.min(row);
            r1 = r1.max(row);
        }
        Some(Window { col_off: c0, row_off: r0, width: (c1 - c0).max(0.0), height: (r1 - r0).max(0.0) })
    }

    /// rasterio's `window.toranges()` boundless test against a `w` x `h` dataset.
    pub fn is_boundless(&self, w: usize, h: usize) -> bool {
        self.col_off.min(self.row_off) < 0.0
            || self.col_off + self.width > w as f64
            || self.row_off + self.height > h as f64
    }

    /// Bounds of the window on a grid (rasterio's `windows.bounds`): `(left, bottom, right,
    /// top)` from the lower-left and upper-right window corners, not reordered.
    pub fn bounds(&self, gt: &GeoTransform) -> Bounds {
        let [a, b, c, d, e, f] = gt.to_affine();
        let (row_min, col_min) = (self.row_off, self.col_off);
        let (row_max, col_max) = (row_min + self.height, col_min + self.width);
        let (left, bottom) = (col_min * a + row_max * b + c, col_min * d + row_max * e + f);
        let (right, top) = (col_max * a + row_min * b + c, col_max * d + row_min * e + f);
        Bounds::new(left, bottom, right, top)
    }

    /// rio-tiler's `_round_window`: offsets floored, ends ceiled.
    pub fn rounded(&self) -> Window {
        let (r0, r1) = (self.row_off.floor(), (self.row_off + self.height).ceil());
        let (c0, c1) = (self.col_off.floor(), (self.col_off + self.width).ceil());
        Window { col_off: c0, row_off: r0, width: (c1 - c0).max(0.0), height: (r1 - r0).max(0.0) }
    }
}

/// affine 3's `~Affine`, in rasterio order `(a, b, c, d, e, f)`.
pub fn affine_inverse(gt: &GeoTransform) -> Option<[f64; 6]> {
    let [a, b, c, d, e, f] = gt.to_affine();
    let det = a * e - b * d;
    if det == 0.0 || !det.is_finite() {
        return None;
    }
    let idet = 1.0 / det;
    let ra = e * idet;
    let rb = -b * idet;
    let rd = -d * idet;
    let re = a * idet;
    Some([ra, rb, -c * ra - f * rb, rd, re, -c * rd - f * re])
}

/// rasterio's `transform.from_bounds(w, s, e, n, width, height)`.
pub fn transform_from_bounds(b: &Bounds, width: usize, height: usize) -> GeoTransform {
    GeoTransform([b.left, (b.right - b.left) / width as f64, 0.0, b.top, 0.0, (b.bottom - b.top) / height as f64])
}

/// rasterio's `array_bounds(height, width, transform)` for north-up grids.
pub fn array_bounds(height: usize, width: usize, gt: &GeoTransform) -> Bounds {
    let g = gt.0;
    if g[2] == 0.0 && g[4] == 0.0 {
        Bounds::new(g[0], g[3] + g[5] * height as f64, g[0] + g[1] * width as f64, g[3])
    } else {
        gt.bounds(width, height)
    }
}

/// Python's `round()` to an integer (half to even).
pub fn py_round(v: f64) -> f64 {
    let r = v.round();
    if (v - v.trunc()).abs() == 0.5 { 2.0 * (v / 2.0).round() } else { r }
}

/// The size of an image read: `width` and/or `height` (a missing one keeps the aspect),
/// else at most `max_size` pixels on the longer side, else the source's own size
/// (rio-tiler's `width`/`height`/`max_size`: an explicit size cancels `max_size`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputSize {
    pub width: Option<usize>,
    pub height: Option<usize>,
    pub max_size: Option<usize>,
}

impl OutputSize {
    /// rio-tiler's `max_size` of previews and statistics when no size is asked for.
    pub const PREVIEW_MAX: usize = 1024;

    /// At most `max_size` pixels on the longer side.
    pub fn max(max_size: usize) -> OutputSize {
        OutputSize { max_size: Some(max_size), ..Default::default() }
    }

    /// Exactly `width` x `height`.
    pub fn exact(width: usize, height: usize) -> OutputSize {
        OutputSize { width: Some(width), height: Some(height), max_size: None }
    }

    /// Nothing asked for: the caller's default applies.
    pub fn is_unset(&self) -> bool {
        *self == OutputSize::default()
    }

    /// `(height, width)` of a read of a `dataset_height` x `dataset_width` window.
    pub fn resolve(&self, dataset_height: f64, dataset_width: f64) -> (usize, usize) {
        output_size(dataset_height, dataset_width, self.height, self.width, self.max_size)
    }
}

/// rio-tiler's `_get_width_height`.
fn fit_max_size(max_size: usize, h: usize, w: usize) -> (usize, usize) {
    if h.max(w) < max_size {
        return (h, w);
    }
    let ratio = h as f64 / w.max(1) as f64;
    if ratio > 1.0 {
        (max_size, (max_size as f64 / ratio).ceil() as usize)
    } else {
        ((max_size as f64 * ratio).ceil() as usize, max_size)
    }
}

/// rio-tiler's `output_size`: `(height, width)` of a read.
pub fn output_size(
    dataset_height: f64,
    dataset_width: f64,
    height: Option<usize>,
    width: Option<usize>,
    max_size: Option<usize>,
) -> (usize, usize) {
    let (mut h, mut w) = (height, width);
    if let Some(m) = max_size
        && h.is_none()
        && w.is_none()
    {
        let (hh, ww) = fit_max_size(m, py_round(dataset_height) as usize, py_round(dataset_width) as usize);
        h = Some(hh);
        w = Some(ww);
    }
    let ratio = dataset_height / dataset_width;
    match (h, w) {
        (None, Some(ww)) => h = Some((ww as f64 * ratio).ceil() as usize),
        (Some(hh), None) => w = Some((hh as f64 / ratio).ceil() as usize),
        _ => {}
    }
    let h = h.unwrap_or(py_round(dataset_height) as usize).max(1);
    let w = w.unwrap_or(py_round(dataset_width) as usize).max(1);
    (h, w)
}

/// rio-tiler's `_apply_buffer`: grow bounds by `buffer` output pixels on each side.
pub fn apply_buffer(buffer: f64, b: &Bounds, height: usize, width: usize) -> (Bounds, usize, usize) {
    let xres = (b.right - b.left) / width as f64;
    let yres = (b.top - b.bottom) / height as f64;
    let nb =
        Bounds::new(b.left - xres * buffer, b.bottom - yres * buffer, b.right + xres * buffer, b.top + yres * buffer);
    let grow = (buffer * 2.0) as usize;
    (nb, height + grow, width + grow)
}

/// rio-tiler's `get_vrt_transform` once the dataset's native transform in the output CRS
/// is known: the grid (transform, width, height) a WarpedVRT of `bounds` gets. It uses the
/// finer of the native and the requested resolution.
pub fn vrt_transform(
    native: &GeoTransform,
    bounds: &Bounds,
    height: Option<usize>,
    width: Option<usize>,
) -> (GeoTransform, usize, usize) {
    let (w, s, e, n) = (bounds.left, bounds.bottom, bounds.right, bounds.top);
    let mut w_res = native.0[1];
    let mut h_res = native.0[5];
    if height.is_some() || width.is_some() {
        let (mut height, mut width) = (height, width);
        if height.is_none() || width.is_none() {
            let ww = py_round((e - w) / w_res).max(1.0);
            let hh = py_round((s - n) / h_res).max(1.0);
            let ratio = hh / ww;
            match width {
                Some(wd) => height = Some((wd as f64 * ratio).ceil() as usize),
                None => width = Some((height.unwrap_or(1) as f64 / ratio).ceil() as usize),
            }
        }
        let out = transform_from_bounds(bounds, width.unwrap_or(1), height.unwrap_or(1));
        if native.0[1].abs() > out.0[1].abs() {
            w_res = out.0[1];
        }
        if native.0[5].abs() > out.0[5].abs() {
            h_res = out.0[5];
        }
    }
    let vw = py_round((e - w) / w_res).max(1.0) as usize;
    let vh = py_round((s - n) / h_res).max(1.0) as usize;
    (transform_from_bounds(bounds, vw, vh), vw, vh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_rounding() {
        assert_eq!(py_round(0.5), 0.0);
        assert_eq!(py_round(1.5), 2.0);
        assert_eq!(py_round(2.5), 2.0);
        assert_eq!(py_round(-0.5), 0.0);
        assert_eq!(py_round(2.4999), 2.0);
    }

    #[test]
    fn output_size_follows_rio_tiler() {
        // Documented examples (max_size 1024).
        assert_eq!(output_size(2658.0, 2667.0, None, None, Some(1024)), (1021, 1024));
        assert_eq!(output_size(18000.0, 36000.0, None, None, Some(1024)), (512, 1024));
        assert_eq!(output_size(16384.0, 8192.0, None, None, Some(1024)), (1024, 512));
        assert_eq!(output_size(500.0, 300.0, None, None, Some(1024)), (500, 300));
        assert_eq!(output_size(500.0, 300.0, None, Some(150), None), (250, 150));
        assert_eq!(output_size(10.4, 3.6, Some(256), Some(256), None), (256, 256));
    }

    #[test]
    fn window_from_bounds_and_back() {
        let gt = GeoTransform([100.0, 10.0, 0.0, 500.0, 0.0, -10.0]);
        let w = Window::from_bounds(&Bounds::new(150.0, 300.0, 250.0, 450.0), &gt).unwrap();
        assert_eq!(w, Window::new(5.0, 5.0, 10.0, 15.0));
        assert!(!w.is_boundless(20, 20));
        assert!(w.is_boundless(14, 20));
        assert_eq!(w.bounds(&gt), Bounds::new(150.0, 300.0, 250.0, 450.0));
        let r = Window::new(0.5, 1.2, 2.0, 2.0).rounded();
        assert_eq!(r, Window::new(0.0, 1.0, 3.0, 3.0));
        // Inconsistent bounds (east < west) are refused like rasterio does.
        assert!(Window::from_bounds(&Bounds::new(250.0, 300.0, 150.0, 450.0), &gt).is_none());
    }

    #[test]
    fn vrt_uses_the_finer_resolution() {
        let native = GeoTransform([0.0, 10.0, 0.0, 0.0, 0.0, -10.0]);
        // Tile coarser than native: VRT at native resolution.
        let (_, w, h) = vrt_transform(&native, &Bounds::new(0.0, -5120.0, 5120.0, 0.0), Some(256), Some(256));
        assert_eq!((w, h), (512, 512));
        // Tile finer than native: VRT at tile resolution.
        let (gt, w, h) = vrt_transform(&native, &Bounds::new(0.0, -1280.0, 1280.0, 0.0), Some(256), Some(256));
        assert_eq!((w, h), (256, 256));
        assert_eq!(gt.0[1], 5.0);
    }

    #[test]
    fn buffer_grows_bounds_and_size() {
        let (b, h, w) = apply_buffer(0.5, &Bounds::new(0.0, 0.0, 256.0, 256.0), 256, 256);
        assert_eq!((h, w), (257, 257));
        assert_eq!(b, Bounds::new(-0.5, -0.5, 256.5, 256.5));
    }
}
