//! Bounding boxes and affine geotransforms.

use serde::{Deserialize, Serialize};

/// An axis-aligned box in some CRS: `left, bottom, right, top` (GIS order).
///
/// In a geographic CRS a box crossing the antimeridian has `left > right`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "[f64; 4]", into = "[f64; 4]")]
pub struct Bounds {
    pub left: f64,
    pub bottom: f64,
    pub right: f64,
    pub top: f64,
}

impl Bounds {
    pub const fn new(left: f64, bottom: f64, right: f64, top: f64) -> Bounds {
        Bounds { left, bottom, right, top }
    }

    pub fn width(&self) -> f64 {
        self.right - self.left
    }

    pub fn height(&self) -> f64 {
        self.top - self.bottom
    }

    /// True when the boxes overlap with a positive area (touching edges do not count).
    pub fn intersects(&self, other: &Bounds) -> bool {
        self.left < other.right && self.right > other.left && self.bottom < other.top && self.top > other.bottom
    }

    /// The overlapping part, if any.
    pub fn intersection(&self, other: &Bounds) -> Option<Bounds> {
        self.intersects(other).then(|| {
            Bounds::new(
                self.left.max(other.left),
                self.bottom.max(other.bottom),
                self.right.min(other.right),
                self.top.min(other.top),
            )
        })
    }

    /// True when the point lies inside or on the edge.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        self.left <= x && x <= self.right && self.bottom <= y && y <= self.top
    }

    /// All four values are finite.
    pub fn is_finite(&self) -> bool {
        self.left.is_finite() && self.bottom.is_finite() && self.right.is_finite() && self.top.is_finite()
    }

    pub fn to_array(self) -> [f64; 4] {
        [self.left, self.bottom, self.right, self.top]
    }
}

impl From<[f64; 4]> for Bounds {
    fn from(a: [f64; 4]) -> Self {
        Bounds::new(a[0], a[1], a[2], a[3])
    }
}

impl From<Bounds> for [f64; 4] {
    fn from(b: Bounds) -> Self {
        b.to_array()
    }
}

/// An affine transform from pixel (column, row) to CRS coordinates, in GDAL's order:
/// `x = c0 + col * c1 + row * c2`, `y = c3 + col * c4 + row * c5`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeoTransform(pub [f64; 6]);

impl GeoTransform {
    /// North-up transform from an origin (top-left corner) and pixel sizes (`res_y` positive).
    pub fn from_origin(left: f64, top: f64, res_x: f64, res_y: f64) -> GeoTransform {
        GeoTransform([left, res_x, 0.0, top, 0.0, -res_y])
    }

    /// The transform mapping a `width` x `height` grid onto `bounds`.
    pub fn from_bounds(bounds: &Bounds, width: usize, height: usize) -> GeoTransform {
        GeoTransform::from_origin(
            bounds.left,
            bounds.top,
            bounds.width() / width as f64,
            bounds.height() / height as f64,
        )
    }

    /// Pixel (col, row) to CRS (x, y).
    #[inline]
    pub fn apply(&self, col: f64, row: f64) -> (f64, f64) {
        let g = &self.0;
        (g[0] + col * g[1] + row * g[2], g[3] + col * g[4] + row * g[5])
    }

    /// The inverse transform, or `None` when it is degenerate.
    pub fn invert(&self) -> Option<GeoTransform> {
        let g = &self.0;
        // Fast and exact for the common north-up case.
        if g[2] == 0.0 && g[4] == 0.0 {
            if g[1] == 0.0 || g[5] == 0.0 {
                return None;
            }
            return Some(GeoTransform([-g[0] / g[1], 1.0 / g[1], 0.0, -g[3] / g[5], 0.0, 1.0 / g[5]]));
        }
        let det = g[1] * g[5] - g[2] * g[4];
        if det.abs() < 1e-15 * (g[1].abs() + g[2].abs()) * (g[4].abs() + g[5].abs()) || det == 0.0 {
            return None;
        }
        let inv_det = 1.0 / det;
        let c1 = g[5] * inv_det;
        let c2 = -g[2] * inv_det;
        let c4 = -g[4] * inv_det;
        let c5 = g[1] * inv_det;
        Some(GeoTransform([-(g[0] * c1 + g[3] * c2), c1, c2, -(g[0] * c4 + g[3] * c5), c4, c5]))
    }

    /// True when rows and columns align with the CRS axes.
    pub fn is_rectilinear(&self) -> bool {
        self.0[2] == 0.0 && self.0[4] == 0.0
    }

    /// Pixel width and height in CRS units (absolute values; exact for rectilinear transforms).
    pub fn resolution(&self) -> (f64, f64) {
        let g = &self.0;
        ((g[1] * g[1] + g[4] * g[4]).sqrt(), (g[2] * g[2] + g[5] * g[5]).sqrt())
    }

    /// Bounds covered by a `width` x `height` grid (all four corners considered).
    pub fn bounds(&self, width: usize, height: usize) -> Bounds {
        let corners = [
            self.apply(0.0, 0.0),
            self.apply(width as f64, 0.0),
            self.apply(0.0, height as f64),
            self.apply(width as f64, height as f64),
        ];
        let mut b = Bounds::new(f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
        for (x, y) in corners {
            b.left = b.left.min(x);
            b.right = b.right.max(x);
            b.bottom = b.bottom.min(y);
            b.top = b.top.max(y);
        }
        b
    }

    /// rasterio / affine order `(a, b, c, d, e, f)` = `(c1, c2, c0, c4, c5, c3)`.
    pub fn to_affine(&self) -> [f64; 6] {
        let g = &self.0;
        [g[1], g[2], g[0], g[4], g[5], g[3]]
    }

    /// From rasterio / affine order.
    pub fn from_affine(a: [f64; 6]) -> GeoTransform {
        GeoTransform([a[2], a[0], a[1], a[5], a[3], a[4]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invert_round_trips() {
        for gt in [GeoTransform([100.0, 2.0, 0.0, 500.0, 0.0, -2.0]), GeoTransform([100.0, 2.0, 0.5, 500.0, 0.3, -2.0])]
        {
            let inv = gt.invert().unwrap();
            let (x, y) = gt.apply(10.5, 3.25);
            let (c, r) = inv.apply(x, y);
            assert!((c - 10.5).abs() < 1e-9 && (r - 3.25).abs() < 1e-9);
        }
        assert!(GeoTransform([0.0, 0.0, 0.0, 0.0, 0.0, 0.0]).invert().is_none());
    }

    #[test]
    fn bounds_and_affine_order() {
        let gt = GeoTransform::from_origin(10.0, 20.0, 0.5, 0.25);
        assert_eq!(gt.bounds(4, 8), Bounds::new(10.0, 18.0, 12.0, 20.0));
        assert_eq!(GeoTransform::from_affine(gt.to_affine()), gt);
        let b = Bounds::new(0.0, 0.0, 2.0, 2.0);
        assert!(b.intersects(&Bounds::new(1.0, 1.0, 3.0, 3.0)));
        assert!(!b.intersects(&Bounds::new(2.0, 0.0, 3.0, 3.0)));
    }
}
