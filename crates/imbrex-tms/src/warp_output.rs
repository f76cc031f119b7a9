//! Pixel-to-pixel transformers and GDAL's "suggested warp output".
//!
//! [`GenImgProj`] chains source pixel → source CRS → destination CRS → destination pixel,
//! as GDAL's `GenImgProjTransformer` does (no half-pixel shifts inside: callers pass pixel
//! corner coordinates). [`suggested_warp_output`] is `GDALSuggestedWarpOutput2`, which
//! rasterio's `calculate_default_transform` wraps and rio-tiler uses for a dataset's native
//! resolution in another CRS (zoom ranges, VRT grids). Reproducing its sampling and rounding
//! is what makes imbrex's zoom ranges and warp grids match the oracle.

use std::sync::Arc;

use crate::bounds::GeoTransform;
use crate::crs::Crs;
use crate::error::{Error, Result};
use crate::transform::Transformer;

/// A map from source pixel/line to source CRS coordinates that is not an affine transform
/// (e.g. a polynomial fitted to ground control points). `forward` maps pixel → CRS.
pub trait PixelGeoref: Send + Sync + std::fmt::Debug {
    /// Transform in place; failed points become non-finite.
    fn transform(&self, to_pixel: bool, xs: &mut [f64], ys: &mut [f64]);
}

/// How the source image is placed in its CRS.
#[derive(Clone, Debug)]
pub enum SourceGeoref {
    /// A geotransform (with its inverse, computed the way GDAL does).
    Affine { gt: GeoTransform, inv: GeoTransform },
    /// Anything else (GCP polynomials).
    Custom(Arc<dyn PixelGeoref>),
}

impl SourceGeoref {
    /// An affine georeference; fails on a degenerate geotransform.
    pub fn affine(gt: GeoTransform) -> Result<SourceGeoref> {
        let inv = gt.invert().ok_or_else(|| Error::InvalidParameter {
            name: "geotransform",
            reason: format!("{:?} is not invertible", gt.0),
        })?;
        Ok(SourceGeoref::Affine { gt, inv })
    }
}

/// Source pixel ↔ destination pixel through both CRSs (GDAL's GenImgProj transformer).
#[derive(Clone, Debug)]
pub struct GenImgProj {
    src: SourceGeoref,
    /// Source CRS → destination CRS; `None` when they are the same.
    reproject: Option<Transformer>,
    dst_gt: GeoTransform,
    dst_inv: GeoTransform,
}

impl GenImgProj {
    /// Build the chain. `dst_gt` maps destination pixels to destination CRS coordinates.
    pub fn new(src: SourceGeoref, src_crs: &Crs, dst_crs: &Crs, dst_gt: GeoTransform) -> Result<GenImgProj> {
        let reproject = Transformer::new(src_crs, dst_crs)?;
        let dst_inv = dst_gt.invert().ok_or_else(|| Error::InvalidParameter {
            name: "geotransform",
            reason: format!("destination {:?} is not invertible", dst_gt.0),
        })?;
        // GDAL reprojects unless the two CRSs are the same to OGR, axis mapping included
        // (OGC:CRS84 and EPSG:4326 differ there).
        Ok(GenImgProj { src, reproject: (!src_crs.rasterio_eq(dst_crs)).then_some(reproject), dst_gt, dst_inv })
    }

    /// The same chain with a different destination grid.
    pub fn with_dst_gt(&self, dst_gt: GeoTransform) -> Result<GenImgProj> {
        let dst_inv = dst_gt.invert().ok_or_else(|| Error::InvalidParameter {
            name: "geotransform",
            reason: format!("destination {:?} is not invertible", dst_gt.0),
        })?;
        Ok(GenImgProj { dst_gt, dst_inv, ..self.clone() })
    }

    /// The same chain with another source georeference (an overview's scaled geotransform).
    pub fn with_src(&self, src: SourceGeoref) -> GenImgProj {
        GenImgProj { src, ..self.clone() }
    }

    pub fn src(&self) -> &SourceGeoref {
        &self.src
    }

    pub fn dst_gt(&self) -> &GeoTransform {
        &self.dst_gt
    }

    /// True when no reprojection happens between the two CRSs.
    pub fn is_same_crs(&self) -> bool {
        self.reproject.is_none()
    }

    /// The CRS-to-CRS step, when there is one.
    pub fn reprojection(&self) -> Option<&Transformer> {
        self.reproject.as_ref()
    }

    /// Transform points in place: `dst_to_src` true maps destination pixels to source
    /// pixels. Failed points become non-finite. Returns the number of failures.
    pub fn transform(&self, dst_to_src: bool, xs: &mut [f64], ys: &mut [f64]) -> usize {
        if dst_to_src {
            apply_gt(&self.dst_gt, xs, ys);
            if let Some(t) = &self.reproject {
                t.inverse().transform_in_place(xs, ys);
            }
            match &self.src {
                SourceGeoref::Affine { inv, .. } => apply_gt(inv, xs, ys),
                SourceGeoref::Custom(c) => c.transform(true, xs, ys),
            }
        } else {
            match &self.src {
                SourceGeoref::Affine { gt, .. } => apply_gt(gt, xs, ys),
                SourceGeoref::Custom(c) => c.transform(false, xs, ys),
            }
            if let Some(t) = &self.reproject {
                t.transform_in_place(xs, ys);
            }
            apply_gt(&self.dst_inv, xs, ys);
        }
        xs.iter().zip(ys.iter()).filter(|(x, y)| !(x.is_finite() && y.is_finite())).count()
    }
}

/// Apply a geotransform in GDAL's evaluation order (`(g0 + x*g1) + y*g2`), keeping failures.
fn apply_gt(g: &GeoTransform, xs: &mut [f64], ys: &mut [f64]) {
    let g = &g.0;
    for (x, y) in xs.iter_mut().zip(ys.iter_mut()) {
        if !(x.is_finite() && y.is_finite()) {
            *x = f64::INFINITY;
            *y = f64::INFINITY;
            continue;
        }
        let (px, py) = (*x, *y);
        *x = g[0] + px * g[1] + py * g[2];
        *y = g[3] + px * g[4] + py * g[5];
    }
}

/// The grid GDAL would warp a source into: geotransform and size in the destination CRS.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WarpOutput {
    pub gt: GeoTransform,
    pub width: usize,
    pub height: usize,
}

/// `GDALSuggestedWarpOutput2` for a `width` x `height` source georeferenced by `src` in
/// `src_crs`, warped to `dst_crs` (exact transforms, as rasterio's
/// `calculate_default_transform` uses).
pub fn suggested_warp_output(
    src: &SourceGeoref,
    src_crs: &Crs,
    dst_crs: &Crs,
    width: usize,
    height: usize,
) -> Result<WarpOutput> {
    if width == 0 || height == 0 {
        return Err(Error::InvalidParameter { name: "size", reason: "source has no pixels".into() });
    }
    let t = GenImgProj::new(src.clone(), src_crs, dst_crs, GeoTransform([0.0, 1.0, 0.0, 0.0, 0.0, 1.0]))?;
    let (w, h) = (width as f64, height as f64);

    // Same CRS and a rectilinear geotransform: the source grid itself, made north-up.
    if let SourceGeoref::Affine { gt, .. } = src
        && t.is_same_crs()
        && gt.is_rectilinear()
    {
        let mut g = gt.0;
        if g[5] > 0.0 {
            g[3] += h * g[5];
            g[5] = -g[5];
        }
        return Ok(WarpOutput { gt: GeoTransform(g), width, height });
    }

    let steps = ((width.min(height) as f64 / 50.0 + 0.5) as usize).clamp(20, 100);
    let step = 1.0 / steps as f64;
    let ratio = |i: usize| if i == steps { 1.0 } else { i as f64 * step };
    let n1 = steps + 1;

    // Edge samples: top, bottom, left, right blocks of `steps + 1` pixel-corner points.
    let mut xs = Vec::with_capacity(4 * n1);
    let mut ys = Vec::with_capacity(4 * n1);
    for block in 0..4 {
        for i in 0..n1 {
            let r = ratio(i);
            let (x, y) = match block {
                0 => (r * w, 0.0),
                1 => (r * w, h),
                2 => (0.0, r * h),
                _ => (w, r * h),
            };
            xs.push(x);
            ys.push(y);
        }
    }
    let mut failed = t.transform(false, &mut xs, &mut ys);
    let ok = |x: f64, y: f64| x.is_finite() && y.is_finite();

    // A polar source reported at -180 where every other point is east of the antimeridian
    // (or the reverse) really sits at +180: flip it when both map to the same source point.
    let mut sign: Option<f64> = None;
    let mut consistent = true;
    for (&x, &y) in xs.iter().zip(&ys) {
        if !ok(x, y) {
            continue;
        }
        let fits = |s: f64| (s * x > 0.0 && s * x <= 180.0) || (x - s * -180.0).abs() < 1e-8;
        match sign {
            None => match [-1.0, 1.0].into_iter().find(|&s| fits(s)) {
                Some(s) => sign = Some(s),
                None => consistent = false,
            },
            Some(s) if !fits(s) => consistent = false,
            _ => {}
        }
        if !consistent {
            break;
        }
    }
    if let (Some(s), true) = (sign, consistent) {
        for i in 0..xs.len() {
            if ok(xs[i], ys[i]) && (xs[i] - s * -180.0).abs() < 1e-8 {
                let mut bx = [s * -180.0, s * 180.0];
                let mut by = [ys[i], ys[i]];
                if t.transform(true, &mut bx, &mut by) == 0
                    && (bx[0] - bx[1]).abs() < 1e-8
                    && (by[0] - by[1]).abs() < 1e-8
                {
                    xs[i] = s * 180.0;
                }
            }
        }
    }

    // Points that do not come back where they started mean the edges are unreliable.
    if failed == 0 {
        let mut rx = xs.clone();
        let mut ry = ys.clone();
        t.transform(true, &mut rx, &mut ry);
        for i in 0..rx.len() {
            if !ok(rx[i], ry[i]) {
                failed = 1;
                break;
            }
            let mut r = (i % n1) as f64 * step;
            if r > 0.99 {
                r = 1.0;
            }
            let (ex, ey) = match i / n1 {
                0 => (r * w, 0.0),
                1 => (r * w, h),
                2 => (0.0, r * h),
                _ => (w, r * h),
            };
            if (rx[i] - ex).abs() > w / steps as f64 || (ry[i] - ey).abs() > h / steps as f64 {
                failed = 1;
                break;
            }
        }
    }

    // Otherwise sample a full grid to find the transformable area.
    let full_grid = failed > 0;
    if full_grid {
        xs.clear();
        ys.clear();
        for j in 0..n1 {
            for i in 0..n1 {
                xs.push(ratio(i) * w);
                ys.push(ratio(j) * h);
            }
        }
        t.transform(false, &mut xs, &mut ys);
    }

    // Extent of the successful points, refining where a row crosses a failure or a sign change.
    let mut ext: Option<[f64; 4]> = None;
    let grow = |x: f64, y: f64, ext: &mut Option<[f64; 4]>| match ext {
        Some(e) => {
            e[0] = e[0].min(x);
            e[1] = e[1].min(y);
            e[2] = e[2].max(x);
            e[3] = e[3].max(y);
        }
        None => *ext = Some([x, y, x, y]),
    };
    let n = xs.len();
    let mut failures = 0;
    for i in 0..n {
        let (xi, yi) = if full_grid {
            (i % n1, i / n1)
        } else if i < 2 * n1 {
            (i % n1, if i < n1 { 0 } else { steps })
        } else {
            (0, 0)
        };
        if xi > 0 && (ok(xs[i - 1], ys[i - 1]) || ok(xs[i], ys[i])) {
            let mut out_before = xs[i - 1];
            let mut out_after = xs[i];
            let mut in_before = (xi - 1) as f64 * w / steps as f64;
            let mut in_after = xi as f64 * w / steps as f64;
            let mut invalid_before = !ok(xs[i - 1], ys[i - 1]);
            let mut invalid_after = !ok(xs[i], ys[i]);
            let mut iter = 0;
            while (invalid_before || invalid_after || out_before * out_after < 0.0) && iter < 16 {
                let mut px = [(in_before + in_after) / 2.0];
                let mut py = [yi as f64 * h / steps as f64];
                if t.transform(false, &mut px, &mut py) == 0 {
                    grow(px[0], py[0], &mut ext);
                    if invalid_before || out_before * px[0] < 0.0 {
                        invalid_after = false;
                        in_after = (in_before + in_after) / 2.0;
                        out_after = px[0];
                    } else {
                        invalid_before = false;
                        out_before = px[0];
                        in_before = (in_before + in_after) / 2.0;
                    }
                } else if invalid_before {
                    in_before = (in_before + in_after) / 2.0;
                } else if invalid_after {
                    in_after = (in_before + in_after) / 2.0;
                } else {
                    break;
                }
                iter += 1;
            }
        }
        if !ok(xs[i], ys[i]) {
            failures += 1;
            continue;
        }
        grow(xs[i], ys[i], &mut ext);
    }
    let Some(mut e) = ext.filter(|_| failures + 10 <= n) else {
        return Err(Error::Transform {
            reason: format!("too many points ({failures} of {n}) failed to transform to {dst_crs}"),
        });
    };

    // Poles inside the source and the exact bounds of a plain reprojection.
    let mut geographic_out = false;
    if let (SourceGeoref::Affine { gt, inv }, Some(reproject)) = (src, t.reprojection()) {
        if dst_crs.is_geographic() && !src_crs.is_geographic() {
            geographic_out = true;
            for sign in [-1.0, 1.0] {
                let pole = 90.0 * sign;
                if let Ok((px, py)) = reproject.inverse().transform(0.0, pole) {
                    let (x, y) = inv.apply(px, py);
                    let eps = 1e-5;
                    if x >= -eps
                        && x <= w + eps
                        && y >= -eps
                        && y <= h + eps
                        && reproject.transform(px, py).is_ok_and(|(_, lat)| (lat - pole).abs() <= 1e-6)
                    {
                        e[0] = -180.0;
                        e[2] = 180.0;
                        if sign < 0.0 {
                            e[1] = pole;
                        } else {
                            e[3] = pole;
                        }
                    }
                }
            }
        }
        if gt.is_rectilinear() && gt.0[1] != 0.0 && gt.0[5] != 0.0 {
            let b = gt.bounds(width, height);
            if let Ok(tb) = reproject.transform_bounds(b, 2) {
                e[0] = e[0].min(tb.left);
                e[1] = e[1].min(tb.bottom);
                e[2] = e[2].max(tb.right);
                e[3] = e[3].max(tb.top);
            }
        }
    }

    // Pixel size from the diagonal of the transformed source.
    let last = xs.len() - 1;
    let (mut dx, mut dy) = (0.0, 0.0);
    if ok(xs[0], ys[0]) && ok(xs[last], ys[last]) {
        dx = xs[last] - xs[0];
        dy = ys[last] - ys[0];
    }
    if dx == 0.0 || dy == 0.0 {
        dx = e[2] - e[0];
        dy = e[3] - e[1];
    }
    let pixel = (dx * dx + dy * dy).sqrt() / (w * w + h * h).sqrt();
    let (fpx, fln) = ((e[2] - e[0]) / pixel, (e[3] - e[1]) / pixel);
    if !(fpx.is_finite() && fln.is_finite()) || fpx > (i32::MAX - 1) as f64 || fln > (i32::MAX - 1) as f64 {
        return Err(Error::Transform { reason: format!("computed output size {fpx:.0} x {fln:.0} is too big") });
    }
    // An empty size is GDAL's answer too (a source thinner than a pixel of the output):
    // rasterio returns it, and rio-tiler's zoom range comes from its pixel size.
    let (npx, nln) = ((fpx + 0.5) as usize, (fln + 0.5) as usize);
    let (mut px, mut py) = (pixel, pixel);

    // Nudge the pixel size when the right or bottom border falls entirely outside the source.
    for r in [0.0, 0.001, 0.01, 0.1, 1.0] {
        let try_px = px - px * r / npx as f64;
        if !border_all_bad(
            &t,
            true,
            [e[0], e[3] - nln as f64 * py, e[0] + npx as f64 * try_px, e[3]],
            npx,
            nln,
            try_px,
            py,
        ) {
            px = try_px;
            break;
        }
    }
    for r in [0.0, 0.001, 0.01, 0.1, 1.0] {
        let try_py = py - py * r / nln as f64;
        if !border_all_bad(
            &t,
            false,
            [e[0], e[3] - nln as f64 * try_py, e[0] + npx as f64 * px, e[3]],
            npx,
            nln,
            px,
            try_py,
        ) {
            py = try_py;
            break;
        }
    }

    let max_x = e[0] + npx as f64 * px;
    if geographic_out && ((e[2] <= 180.0 && max_x > 180.0) || e[2] == 180.0) {
        px = (180.0 - e[0]) / npx as f64;
    }
    let min_y = e[3] - nln as f64 * py;
    if geographic_out && e[1] >= -90.0 && min_y < -90.0 {
        py = (e[3] - -90.0) / nln as f64;
    }
    Ok(WarpOutput { gt: GeoTransform([e[0], px, 0.0, e[3], 0.0, -py]), width: npx, height: nln })
}

/// GDAL's `_MustAdjustForRightBorder` / `_MustAdjustForBottomBorder`: true when all 21 points
/// of the right (or bottom) border fail a destination → source → destination round trip.
#[allow(clippy::too_many_arguments)]
fn border_all_bad(t: &GenImgProj, right: bool, extent: [f64; 4], npx: usize, nln: usize, px: f64, py: f64) -> bool {
    let ratios: Vec<f64> = {
        // GDAL steps a float by 0.05 and snaps the last one to 1.0.
        let mut v = Vec::new();
        let mut r = 0.0f64;
        while r <= 1.01 {
            v.push(if r > 0.99 { 1.0 } else { r });
            r = if r > 0.99 { 1.0 } else { r } + 0.05;
        }
        v
    };
    let expected: Vec<(f64, f64)> = ratios
        .iter()
        .map(|r| {
            if right {
                (extent[2], extent[3] - py * r * nln as f64)
            } else {
                (extent[0] + px * r * npx as f64, extent[1])
            }
        })
        .collect();
    let mut xs: Vec<f64> = expected.iter().map(|p| p.0).collect();
    let mut ys: Vec<f64> = expected.iter().map(|p| p.1).collect();
    t.transform(true, &mut xs, &mut ys);
    t.transform(false, &mut xs, &mut ys);
    let bad = xs
        .iter()
        .zip(&ys)
        .zip(&expected)
        .filter(|((x, y), (ex, ey))| !((*x - ex).abs() <= px && (*y - ey).abs() <= py))
        .count();
    bad == expected.len()
}
