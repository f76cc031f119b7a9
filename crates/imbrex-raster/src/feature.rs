//! GeoJSON features: reading the pixels under a polygon (rio-tiler's `feature`) and the
//! coverage weights of zonal statistics (`get_coverage_array`).

use imbrex_tms::{Bounds, Crs, GeoTransform, Transformer};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::image::ImageData;
use crate::rasterize::{Span, polygon_all_touched, spans_to_mask, union_rows};
use crate::reader::{ReadOptions, Reader};

/// A polygonal GeoJSON geometry: polygons of rings of `(x, y)`, outer ring first.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    pub polygons: Vec<Vec<Vec<(f64, f64)>>>,
}

fn bad(reason: impl Into<String>) -> Error {
    Error::InvalidParameter { name: "geometry", reason: reason.into() }
}

impl Shape {
    /// Positions in every ring: what rasterizing it costs per row.
    pub fn vertex_count(&self) -> usize {
        self.polygons.iter().flatten().map(Vec::len).sum()
    }

    /// From a GeoJSON Feature or geometry (Polygon or MultiPolygon).
    pub fn from_geojson(v: &Value) -> Result<Shape> {
        let geom = match v.get("type").and_then(Value::as_str) {
            Some("Feature") => v.get("geometry").ok_or_else(|| bad("the feature has no geometry"))?,
            Some(_) => v,
            None => return Err(bad("not a GeoJSON object (no \"type\")")),
        };
        let coords = geom.get("coordinates").ok_or_else(|| bad("the geometry has no coordinates"))?;
        let polygons = match geom.get("type").and_then(Value::as_str) {
            Some("Polygon") => vec![polygon(coords)?],
            Some("MultiPolygon") => coords
                .as_array()
                .ok_or_else(|| bad("MultiPolygon coordinates must be an array"))?
                .iter()
                .map(polygon)
                .collect::<Result<_>>()?,
            Some(other) => return Err(bad(format!("{other} is not supported: use a Polygon or MultiPolygon"))),
            None => return Err(bad("the geometry has no type")),
        };
        if polygons.is_empty() {
            return Err(bad("the geometry is empty"));
        }
        Ok(Shape { polygons })
    }

    /// The bounding box of every vertex (rio-tiler's `featureBounds`).
    pub fn bounds(&self) -> Bounds {
        let mut b = Bounds::new(f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
        for &(x, y) in self.polygons.iter().flatten().flatten() {
            b.left = b.left.min(x);
            b.bottom = b.bottom.min(y);
            b.right = b.right.max(x);
            b.top = b.top.max(y);
        }
        b
    }

    /// The shape in another CRS (vertices transformed, as `transform_geom` does).
    pub fn transformed(&self, t: &Transformer) -> Result<Shape> {
        let polygons = self
            .polygons
            .iter()
            .map(|p| {
                p.iter()
                    .map(|ring| {
                        ring.iter()
                            .map(|&(x, y)| t.transform(x, y).map_err(|e| bad(format!("cannot be transformed: {e}"))))
                            .collect()
                    })
                    .collect()
            })
            .collect::<Result<_>>()?;
        Ok(Shape { polygons })
    }

    /// Burnt spans on a `w` x `h` grid placed by `gt` (GDAL all-touched rasterization).
    fn spans(&self, gt: &GeoTransform, w: usize, h: usize) -> Result<Vec<Span>> {
        let inv = gt.invert().ok_or_else(|| bad("the grid cannot be inverted"))?;
        let mut spans = Vec::new();
        for poly in &self.polygons {
            let rings: Vec<Vec<(f64, f64)>> =
                poly.iter().map(|r| r.iter().map(|&(x, y)| inv.apply(x, y)).collect()).collect();
            polygon_all_touched(&rings, w, h, &mut spans);
        }
        Ok(union_rows(spans))
    }

    /// Pixels of a `w` x `h` grid the shape touches (rio-tiler's cutline, `all_touched`).
    pub fn cutline(&self, gt: &GeoTransform, w: usize, h: usize) -> Result<Vec<bool>> {
        Ok(spans_to_mask(&self.spans(gt, w, h)?, w, h))
    }

    /// The fraction of each pixel covered, estimated by rasterizing at `scale` times the
    /// resolution (rio-tiler's `get_coverage_array`, float32).
    pub fn coverage(&self, gt: &GeoTransform, w: usize, h: usize, scale: usize) -> Result<Vec<f32>> {
        if scale == 0 || scale > 1000 {
            return Err(Error::InvalidParameter { name: "cover_scale", reason: "between 1 and 1000".into() });
        }
        let s = 1.0 / scale as f64;
        let g = gt.0;
        let fine = GeoTransform([g[0], g[1] * s, g[2] * s, g[3], g[4] * s, g[5] * s]);
        let spans = self.spans(&fine, w * scale, h * scale)?;
        let mut counts = vec![0u32; w * h];
        for (y, x0, x1) in spans {
            let row = (y as usize / scale) * w;
            let (mut x, end) = (x0 as usize, x1 as usize);
            while x <= end {
                let cell = x / scale;
                let cell_end = ((cell + 1) * scale - 1).min(end);
                counts[row + cell] += (cell_end - x + 1) as u32;
                x = cell_end + 1;
            }
        }
        let area = (scale * scale) as f32;
        Ok(counts.into_iter().map(|c| c as f32 / area).collect())
    }
}

fn polygon(v: &Value) -> Result<Vec<Vec<(f64, f64)>>> {
    let rings = v.as_array().ok_or_else(|| bad("Polygon coordinates must be an array of rings"))?;
    if rings.is_empty() {
        return Err(bad("a Polygon needs at least one ring"));
    }
    rings
        .iter()
        .map(|ring| {
            let pts = ring.as_array().ok_or_else(|| bad("a ring must be an array of positions"))?;
            if pts.len() < 3 {
                return Err(bad("a ring needs at least 3 positions"));
            }
            pts.iter()
                .map(|p| {
                    let xy = p.as_array().filter(|a| a.len() >= 2).ok_or_else(|| bad("a position is [x, y]"))?;
                    let (x, y) = (xy[0].as_f64(), xy[1].as_f64());
                    match (x, y) {
                        (Some(x), Some(y)) if x.is_finite() && y.is_finite() => Ok((x, y)),
                        _ => Err(bad("positions must be finite numbers")),
                    }
                })
                .collect()
        })
        .collect()
}

impl ImageData {
    /// rasterio's `from_bounds` transform of this image.
    pub fn transform(&self) -> GeoTransform {
        crate::reader::geometry::transform_from_bounds(&self.bounds, self.width, self.height)
    }
}

impl Reader {
    /// The pixels under a shape (in `shape_crs`), read in `dst_crs` (default: `shape_crs`),
    /// pixels outside it masked (rio-tiler's `feature`). `align` snaps the read window to
    /// the dataset's pixels, as TiTiler's statistics endpoint asks.
    pub async fn feature(
        &self,
        shape: &Shape,
        shape_crs: &Crs,
        dst_crs: Option<&Crs>,
        size: crate::OutputSize,
        align: bool,
        opts: &ReadOptions,
    ) -> Result<ImageData> {
        let dst = dst_crs.unwrap_or(shape_crs);
        let mut img = self.part_with(shape.bounds(), Some(shape_crs), Some(dst), size, align, opts).await?;
        let local = if dst.same_as(shape_crs) {
            shape.clone()
        } else {
            shape.transformed(&Transformer::new(shape_crs, dst)?)?
        };
        let inside = local.cutline(&img.transform(), img.width, img.height)?;
        let n = img.width * img.height;
        for b in 0..img.count {
            for (m, ok) in img.band_mask[b * n..(b + 1) * n].iter_mut().zip(&inside) {
                if !ok {
                    *m = 0;
                }
            }
        }
        Ok(img)
    }
}

/// The coverage array of a shape (in `shape_crs`) over an image.
pub fn coverage(img: &ImageData, shape: &Shape, shape_crs: &Crs, scale: usize) -> Result<Vec<f32>> {
    let crs = img.crs.clone().unwrap_or_else(|| shape_crs.clone());
    let local =
        if crs.same_as(shape_crs) { shape.clone() } else { shape.transformed(&Transformer::new(shape_crs, &crs)?)? };
    local.coverage(&img.transform(), img.width, img.height, scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square() -> Shape {
        Shape::from_geojson(&serde_json::json!({
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [[[1.0, 1.0], [3.0, 1.0], [3.0, 3.0], [1.0, 3.0], [1.0, 1.0]]]}
        }))
        .unwrap()
    }

    #[test]
    fn parses_and_bounds() {
        assert_eq!(square().bounds(), Bounds::new(1.0, 1.0, 3.0, 3.0));
        assert!(Shape::from_geojson(&serde_json::json!({"type": "Point", "coordinates": [0, 0]})).is_err());
        assert!(
            Shape::from_geojson(&serde_json::json!({"type": "Polygon", "coordinates": [[[0, 0], [1, "x"], [0, 1]]]}))
                .is_err()
        );
    }

    #[test]
    fn coverage_counts_fractions() {
        // A 4x4 grid of unit pixels (y up), the square covers pixels fully: 4 of them.
        let gt = GeoTransform([0.0, 1.0, 0.0, 4.0, 0.0, -1.0]);
        let c = square().coverage(&gt, 4, 4, 10).unwrap();
        assert_eq!(c.iter().filter(|&&v| v == 1.0).count(), 4);
        // A half-pixel shift: edge pixels half covered.
        let half = Shape { polygons: vec![vec![vec![(0.5, 0.0), (1.0, 0.0), (1.0, 4.0), (0.5, 4.0), (0.5, 0.0)]]] };
        let c = half.coverage(&gt, 4, 4, 10).unwrap();
        assert_eq!(c[0], 0.5);
    }
}
