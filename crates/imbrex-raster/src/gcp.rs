//! Polynomial georeferencing from ground control points, as GDAL's GCP transformer does it.
//!
//! Order 1 below 6 GCPs, order 2 from 6 on (GDAL avoids order 3 as unstable). The forward
//! (pixel → CRS) and inverse (CRS → pixel) polynomials are two independent least-squares
//! fits on centred coordinates, solved by Gauss-Jordan elimination with partial pivoting;
//! the same operation order keeps results bit-compatible with GDAL's.

use imbrex_tms::PixelGeoref;

use crate::error::{Error, Result};
use crate::tiff::Gcp;

/// A fitted GCP polynomial transformer.
#[derive(Clone, Debug)]
pub struct GcpTransform {
    order: usize,
    pixel_mean: (f64, f64),
    geo_mean: (f64, f64),
    to_geo: ([f64; 10], [f64; 10]),
    from_geo: ([f64; 10], [f64; 10]),
    gcps: Vec<Gcp>,
}

impl GcpTransform {
    /// Fit with GDAL's automatic order selection.
    pub fn fit(gcps: &[Gcp], geographic: bool) -> Result<GcpTransform> {
        let order = if gcps.len() >= 6 { 2 } else { 1 };
        GcpTransform::fit_order(gcps, order, geographic)
    }

    /// Fit a polynomial of `order` (1 to 3).
    pub fn fit_order(gcps: &[Gcp], order: usize, geographic: bool) -> Result<GcpTransform> {
        let mut gcps = gcps.to_vec();
        // A dataset straddling the antimeridian: keep longitudes continuous (GDAL's unwrap).
        if geographic && !gcps.is_empty() && gcps.iter().all(|g| (170.0..=180.0).contains(&g.x.abs())) {
            for g in &mut gcps {
                if g.x < 0.0 {
                    g.x += 360.0;
                }
            }
        }
        if gcps.len() == 2 && order == 1 && gcps[0].x != gcps[1].x && gcps[0].y != gcps[1].y {
            // Two opposite corners of a rectangle: add the third.
            gcps.push(Gcp { pixel: gcps[1].pixel, line: gcps[0].line, x: gcps[1].x, y: gcps[0].y, z: 0.0 });
        }
        let n = gcps.len() as f64;
        if gcps.is_empty() {
            return Err(Error::InvalidParameter { name: "gcps", reason: "no ground control points".into() });
        }
        let pixel_mean = (gcps.iter().map(|g| g.pixel).sum::<f64>() / n, gcps.iter().map(|g| g.line).sum::<f64>() / n);
        let geo_mean = (gcps.iter().map(|g| g.x).sum::<f64>() / n, gcps.iter().map(|g| g.y).sum::<f64>() / n);
        let src: Vec<(f64, f64)> = gcps.iter().map(|g| (g.pixel, g.line)).collect();
        let dst: Vec<(f64, f64)> = gcps.iter().map(|g| (g.x, g.y)).collect();
        let to_geo = solve(&src, &dst, pixel_mean, order)?;
        let from_geo = solve(&dst, &src, geo_mean, order)?;
        Ok(GcpTransform { order, pixel_mean, geo_mean, to_geo, from_geo, gcps })
    }

    pub fn order(&self) -> usize {
        self.order
    }

    /// The same model for an overview `rx` x `ry` times smaller: GCP pixel/line divided and
    /// the polynomials refitted (GDAL's `GDALCreateSimilarGCPTransformer`).
    pub fn scaled(&self, rx: f64, ry: f64) -> Result<GcpTransform> {
        let gcps: Vec<Gcp> = self.gcps.iter().map(|g| Gcp { pixel: g.pixel / rx, line: g.line / ry, ..*g }).collect();
        GcpTransform::fit_order(&gcps, self.order, false)
    }

    /// Pixel/line to CRS.
    pub fn to_geo(&self, px: f64, py: f64) -> (f64, f64) {
        eval(&self.to_geo, px - self.pixel_mean.0, py - self.pixel_mean.1, self.order)
    }

    /// CRS to pixel/line.
    pub fn to_pixel(&self, x: f64, y: f64) -> (f64, f64) {
        eval(&self.from_geo, x - self.geo_mean.0, y - self.geo_mean.1, self.order)
    }
}

impl PixelGeoref for GcpTransform {
    fn transform(&self, to_pixel: bool, xs: &mut [f64], ys: &mut [f64]) {
        for (x, y) in xs.iter_mut().zip(ys.iter_mut()) {
            if !(x.is_finite() && y.is_finite()) {
                continue;
            }
            let (a, b) = if to_pixel { self.to_pixel(*x, *y) } else { self.to_geo(*x, *y) };
            *x = a;
            *y = b;
        }
    }
}

/// The polynomial terms of order `order` for centred `e`, `n`.
fn term(i: usize, e: f64, n: f64) -> f64 {
    match i {
        0 => 1.0,
        1 => e,
        2 => n,
        3 => e * e,
        4 => e * n,
        5 => n * n,
        6 => e * e * e,
        7 => e * e * n,
        8 => e * n * n,
        _ => n * n * n,
    }
}

fn eval(c: &([f64; 10], [f64; 10]), e1: f64, n1: f64, order: usize) -> (f64, f64) {
    let (e, n) = (&c.0, &c.1);
    match order {
        1 => (e[0] + e[1] * e1 + e[2] * n1, n[0] + n[1] * e1 + n[2] * n1),
        2 => {
            let (e2, n2, en) = (e1 * e1, n1 * n1, e1 * n1);
            (
                e[0] + e[1] * e1 + e[2] * n1 + e[3] * e2 + e[4] * en + e[5] * n2,
                n[0] + n[1] * e1 + n[2] * n1 + n[3] * e2 + n[4] * en + n[5] * n2,
            )
        }
        _ => {
            let (e2, en, n2) = (e1 * e1, e1 * n1, n1 * n1);
            let (e3, e2n, en2, n3) = (e1 * e2, e2 * n1, e1 * n2, n1 * n2);
            (
                e[0] + e[1] * e1
                    + e[2] * n1
                    + e[3] * e2
                    + e[4] * en
                    + e[5] * n2
                    + e[6] * e3
                    + e[7] * e2n
                    + e[8] * en2
                    + e[9] * n3,
                n[0] + n[1] * e1
                    + n[2] * n1
                    + n[3] * e2
                    + n[4] * en
                    + n[5] * n2
                    + n[6] * e3
                    + n[7] * e2n
                    + n[8] * en2
                    + n[9] * n3,
            )
        }
    }
}

/// Fit `dst = poly(src - mean)`: exact system with the minimum number of points, normal
/// equations otherwise.
fn solve(src: &[(f64, f64)], dst: &[(f64, f64)], mean: (f64, f64), order: usize) -> Result<([f64; 10], [f64; 10])> {
    let m = (order + 1) * (order + 2) / 2;
    if src.len() < m {
        return Err(Error::InvalidParameter {
            name: "gcps",
            reason: format!("{} ground control points are too few for an order {order} polynomial", src.len()),
        });
    }
    let mut mat = vec![0.0; m * m];
    let mut a = vec![0.0; m];
    let mut b = vec![0.0; m];
    if src.len() == m {
        for (row, (s, d)) in src.iter().zip(dst).enumerate() {
            for j in 0..m {
                mat[row * m + j] = term(j, s.0 - mean.0, s.1 - mean.1);
            }
            a[row] = d.0;
            b[row] = d.1;
        }
    } else {
        for (s, d) in src.iter().zip(dst) {
            for i in 0..m {
                for j in i..m {
                    mat[i * m + j] += term(i, s.0 - mean.0, s.1 - mean.1) * term(j, s.0 - mean.0, s.1 - mean.1);
                }
                a[i] += d.0 * term(i, s.0 - mean.0, s.1 - mean.1);
                b[i] += d.1 * term(i, s.0 - mean.0, s.1 - mean.1);
            }
        }
        for i in 1..m {
            for j in 0..i {
                mat[i * m + j] = mat[j * m + i];
            }
        }
    }
    // Gauss-Jordan elimination with partial pivoting.
    for i in 0..m {
        let mut pivot = mat[i * m + i];
        let mut imark = i;
        for i2 in i + 1..m {
            if mat[i2 * m + i].abs() > pivot.abs() {
                pivot = mat[i2 * m + i];
                imark = i2;
            }
        }
        if pivot == 0.0 {
            return Err(Error::InvalidParameter { name: "gcps", reason: "ground control points are colinear".into() });
        }
        if imark != i {
            for j2 in 0..m {
                mat.swap(imark * m + j2, i * m + j2);
            }
            a.swap(imark, i);
            b.swap(imark, i);
        }
        for i2 in 0..m {
            if i2 != i {
                let factor = mat[i2 * m + i] / pivot;
                for j2 in i..m {
                    mat[i2 * m + j2] -= factor * mat[i * m + j2];
                }
                a[i2] -= factor * a[i];
                b[i2] -= factor * b[i];
            }
        }
    }
    let mut e = [0.0; 10];
    let mut n = [0.0; 10];
    for i in 0..m {
        e[i] = a[i] / mat[i * m + i];
        n[i] = b[i] / mat[i * m + i];
    }
    Ok((e, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_affine_grid() {
        let gcps: Vec<Gcp> = [(0.0, 0.0), (100.0, 0.0), (0.0, 50.0), (100.0, 50.0)]
            .iter()
            .map(|&(p, l)| Gcp { pixel: p, line: l, x: 1000.0 + 2.0 * p, y: 5000.0 - 3.0 * l, z: 0.0 })
            .collect();
        let t = GcpTransform::fit(&gcps, false).unwrap();
        assert_eq!(t.order(), 1);
        let (x, y) = t.to_geo(10.0, 20.0);
        assert!((x - 1020.0).abs() < 1e-9 && (y - 4940.0).abs() < 1e-9);
        let (p, l) = t.to_pixel(1020.0, 4940.0);
        assert!((p - 10.0).abs() < 1e-9 && (l - 20.0).abs() < 1e-9);
    }

    #[test]
    fn colinear_points_are_an_error() {
        let gcps: Vec<Gcp> =
            (0..3).map(|i| Gcp { pixel: i as f64, line: i as f64, x: i as f64, y: i as f64, z: 0.0 }).collect();
        assert!(GcpTransform::fit(&gcps, false).is_err());
    }
}
