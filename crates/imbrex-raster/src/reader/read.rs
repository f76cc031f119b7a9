//! Reading pixels: `tile`, `part`, `preview` and `point`, as rio-tiler's `reader.part` and
//! `reader.read` do them (see `docs/reading.md`).
//!
//! There are three ways a pixel reaches a tile, the same three GDAL takes under rasterio:
//! a warp from the dataset (or one of its overviews) onto the output grid when the CRSs
//! differ; a nearest-neighbour decimated read with a floating-point window when they agree;
//! and, when that window pokes outside the dataset, rasterio's "boundless" VRT read.
//! The warp itself is in `warped.rs`, the same-CRS window and boundless reads in `window.rs`.

use imbrex_tms::{
    Bounds, Crs, GeoTransform, SourceGeoref, Tile, TileMatrixSet, Transformer, max_overview_level,
    suggested_warp_output,
};

use super::geometry::{self, OutputSize, Window, apply_buffer, array_bounds, py_round, transform_from_bounds};
use super::options::ReadOptions;
use super::validity::Validity;
use super::{Placement, Reader};
use crate::array::{Buffer, DataType};
use crate::error::{Error, Result};
use crate::image::{ImageData, PointData};

/// What one read needs to know about the dataset.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    /// 0-based data bands, in output order.
    pub bands: Vec<usize>,
    pub validity: Validity,
    pub nodata: Option<f64>,
}

/// What a read path returns: the data planes, their validity (band-sequential, 255 valid)
/// and the dataset's alpha band as read with them, when it has one.
pub(super) type Pixels = (Buffer, Vec<u8>, Option<Buffer>);

/// A tile, part or preview grid: pixels in the dataset CRS read with a window, or warped.
enum Grid {
    Window(Window),
    Warp { crs: Crs, gt: GeoTransform, width: usize, height: usize },
}

impl Reader {
    /// Bands, nodata and validity of a read.
    pub(crate) fn prepare(&self, opts: &ReadOptions) -> Result<Prepared> {
        opts.validate()?;
        let ds = self.dataset();
        let count = ds.count();
        let alpha = ds.alpha_band();
        let bands: Vec<usize> = match &opts.indexes {
            Some(ix) => {
                if let Some(&bad) = ix.iter().find(|&&i| i == 0 || i > count) {
                    return Err(Error::InvalidParameter {
                        name: "bidx",
                        reason: format!("band {bad} does not exist (the dataset has {count})"),
                    });
                }
                ix.iter().map(|i| i - 1).collect()
            }
            None => (0..count).filter(|&b| Some(b) != alpha).collect(),
        };
        if bands.is_empty() {
            return Err(Error::InvalidParameter { name: "bidx", reason: "no band to read".into() });
        }
        opts.check_bands(bands.len())?;
        let nodata = opts.nodata.or(ds.nodata());
        Ok(Prepared { bands, validity: Validity::of(ds, nodata), nodata })
    }

    /// How many bands a read with these indexes gives (every band but alpha by default),
    /// or why the indexes are wrong.
    pub fn band_count(&self, indexes: Option<&[usize]>) -> Result<usize> {
        let opts = ReadOptions { indexes: indexes.map(<[usize]>::to_vec), ..ReadOptions::default() };
        Ok(self.prepare(&opts)?.bands.len())
    }

    /// Whether a tile of `tms` intersects the dataset (rio-tiler's `tile_exists`).
    pub fn tile_exists(&self, tms: &TileMatrixSet, tile: Tile) -> Result<bool> {
        let bbox = tms.xy_bounds(tile)?;
        let Some(crs) = self.crs() else {
            return Ok(strictly_overlap(&bbox, &self.normalized_bounds()));
        };
        let tb = if tms.crs().rasterio_eq(crs) {
            bbox
        } else {
            match Transformer::new(tms.crs(), crs).and_then(|t| t.transform_bounds_checked(bbox, 21)) {
                Ok((b, true)) if b.is_finite() => b,
                // rio-tiler counts a tile whose bounds do not transform (GDAL gives them an
                // infinite side) as existing.
                _ => return Ok(true),
            }
        };
        Ok(strictly_overlap(&tb, &self.normalized_bounds()))
    }

    /// One tile of a TileMatrixSet (`tilesize` defaults to the matrix's tile size), or of
    /// the local pixel grid (256 px tiles) for images without a CRS.
    pub async fn tile(
        &self,
        tms: &TileMatrixSet,
        tile: Tile,
        tilesize: Option<usize>,
        opts: &ReadOptions,
    ) -> Result<ImageData> {
        let size = tilesize.unwrap_or(256);
        if let Placement::Pixel { width, height } = *self.placement() {
            let bbox = local_tile_bounds(width, height, tile);
            let image = Bounds::new(0.0, 0.0, width as f64, height as f64);
            if !strictly_overlap(&norm(&bbox), &image) {
                return Err(Error::TileOutsideBounds(format!(
                    "Tile {}/{}/{} is outside {} bounds",
                    tile.z,
                    tile.x,
                    tile.y,
                    self.input()
                )));
            }
            return self.part_pixels(bbox, OutputSize::exact(size, size), opts).await;
        }
        let matrix = tms.check_tile(tile)?;
        let (height, width) =
            (tilesize.unwrap_or(matrix.tile_height as usize), tilesize.unwrap_or(matrix.tile_width as usize));
        if !self.tile_exists(tms, tile)? {
            return Err(Error::TileOutsideBounds(format!(
                "Tile(x={}, y={}, z={}) is outside bounds",
                tile.x, tile.y, tile.z
            )));
        }
        let bbox = tms.xy_bounds(tile)?;
        self.part(bbox, Some(tms.crs()), Some(tms.crs()), OutputSize::exact(width, height), opts).await
    }

    /// The pixels inside `bbox` (in `bounds_crs`, default: the dataset's), in `dst_crs`
    /// (default: `bounds_crs`), sized by `size` (rio-tiler's `part`).
    pub async fn part(
        &self,
        bbox: Bounds,
        bounds_crs: Option<&Crs>,
        dst_crs: Option<&Crs>,
        size: OutputSize,
        opts: &ReadOptions,
    ) -> Result<ImageData> {
        self.part_with(bbox, bounds_crs, dst_crs, size, false, opts).await
    }

    /// `part` with rio-tiler's `align_bounds_with_dataset`: the box grows to whole dataset
    /// pixels (in the output CRS) before reading.
    pub(crate) async fn part_with(
        &self,
        bbox: Bounds,
        bounds_crs: Option<&Crs>,
        dst_crs: Option<&Crs>,
        size: OutputSize,
        align: bool,
        opts: &ReadOptions,
    ) -> Result<ImageData> {
        let OutputSize { width, height, .. } = size;
        let Some(src_crs) = self.crs().cloned() else {
            return self.part_pixels(bbox, size, opts).await;
        };
        let dst_crs = dst_crs.or(bounds_crs).cloned().unwrap_or_else(|| src_crs.clone());
        let mut bbox = bbox;
        if let Some(bc) = bounds_crs
            && !bc.same_as(&dst_crs)
        {
            bbox = Transformer::new(bc, &dst_crs)?.transform_bounds(bbox, 21)?;
        }
        if !bbox.is_finite() || bbox.right <= bbox.left || bbox.top <= bbox.bottom {
            return Err(Error::InvalidParameter {
                name: "bbox",
                reason: format!("{:?} is not a valid box", bbox.to_array()),
            });
        }
        let warp = !dst_crs.rasterio_eq(&src_crs);
        if warp {
            // GDAL's suggested grid can fail or be absurd (the whole Earth into a polar
            // grid sends a pole to infinity); then the requested size alone sets the grid,
            // which is what the over-zoom rule makes of GDAL's absurd answer anyway.
            let native = match self.native_transform(&dst_crs) {
                Ok(gt) => gt,
                Err(e) if height.is_none() && width.is_none() => return Err(e),
                Err(_) => GeoTransform([0.0, f64::MAX, 0.0, 0.0, 0.0, -f64::MAX]),
            };
            if align && native.0[1] != f64::MAX {
                let win = Window::from_bounds(&bbox, &native).ok_or_else(|| Error::InvalidParameter {
                    name: "bbox",
                    reason: "bounds and transform are inconsistent".into(),
                })?;
                bbox = win.rounded().bounds(&native);
            }
            let (mut gt, mut vw, mut vh) = geometry::vrt_transform(&native, &bbox, height, width);
            let mut bounds = array_bounds(vh, vw, &gt);
            let (mut h, mut w) = size.resolve(vh as f64, vw as f64);
            if opts.buffer > 0.0 {
                let (b, hh, ww) = apply_buffer(opts.buffer, &bounds, h, w);
                (h, w) = (hh, ww);
                (gt, vw, vh) = geometry::vrt_transform(&native, &b, Some(h), Some(w));
                bounds = array_bounds(vh, vw, &gt);
            }
            opts.check_size(w, h)?;
            let p = self.prepare(opts)?;
            if opts.padding > 0 {
                // rio-tiler reads a padded window of the WarpedVRT; imbrex warps the grid
                // grown by `padding` output pixels and crops it: interpolating kernels then
                // see real neighbours at the tile edge, which is what padding is for.
                let pad = opts.padding;
                let (pb, ph, pw) = apply_buffer(pad as f64, &bounds, h, w);
                opts.check_size(pw, ph)?;
                let (pgt, pvw, pvh) = geometry::vrt_transform(&native, &pb, Some(ph), Some(pw));
                let grid = Grid::Warp { crs: dst_crs.clone(), gt: pgt, width: pvw, height: pvh };
                let img = self.read_grid(&grid, pw, ph, pb, Some(dst_crs), &p, opts).await?;
                return Ok(ImageData { bounds, ..img.crop(pad) });
            }
            let grid = Grid::Warp { crs: dst_crs.clone(), gt, width: vw, height: vh };
            return self.read_grid(&grid, w, h, bounds, Some(dst_crs), &p, opts).await;
        }
        let gt = self.transform();
        let win = Window::from_bounds(&bbox, &gt).ok_or_else(|| Error::InvalidParameter {
            name: "bbox",
            reason: "bounds and transform are inconsistent".into(),
        })?;
        let (mut h, mut w) = size.resolve(win.height, win.width);
        let (mut win, mut bounds) = (win, bbox);
        if opts.buffer > 0.0 {
            let (b, hh, ww) = apply_buffer(opts.buffer, &bbox, h, w);
            (h, w, bounds) = (hh, ww, b);
            win = Window::from_bounds(&b, &gt).ok_or_else(|| Error::InvalidParameter {
                name: "buffer",
                reason: "bounds and transform are inconsistent".into(),
            })?;
        }
        opts.check_size(w, h)?;
        let p = self.prepare(opts)?;
        if opts.padding > 0 && !self.aligned_with_blocks(&bounds) {
            // rio-tiler: read a window grown by `padding` output pixels, crop it off.
            let pad = opts.padding;
            let (pb, ph, pw) = apply_buffer(pad as f64, &bounds, h, w);
            opts.check_size(pw, ph)?;
            let pwin = Window::from_bounds(&pb, &gt).ok_or_else(|| Error::InvalidParameter {
                name: "padding",
                reason: "bounds and transform are inconsistent".into(),
            })?;
            let img = self.read_grid(&Grid::Window(pwin), pw, ph, pb, Some(src_crs), &p, opts).await?;
            return Ok(ImageData { bounds, ..img.crop(pad) });
        }
        self.read_grid(&Grid::Window(win), w, h, bounds, Some(src_crs), &p, opts).await
    }

    /// rio-tiler's `_requested_tile_aligned_with_internal_tile`: a window on 64-pixel
    /// boundaries of a tiled dataset needs no padding.
    fn aligned_with_blocks(&self, bounds: &Bounds) -> bool {
        let ds = self.dataset();
        let block_w = match ds.as_ref() {
            crate::Dataset::Tiff(t) => t.main().block_width as usize,
            crate::Dataset::Image(..) => ds.width(),
            crate::Dataset::Warped(v) => v.block_size().0,
        };
        if block_w == ds.width() {
            return false;
        }
        let Some(win) = Window::from_bounds(bounds, &self.transform()) else { return false };
        let r = |v: f64| py_round(v) as i64;
        if r(win.width) % 64 != 0 && r(win.height) % 64 != 0 {
            return false;
        }
        (ds.width() as i64 - r(win.col_off)) % 64 == 0 && (ds.height() as i64 - r(win.row_off)) % 64 == 0
    }

    /// `part` for images without a CRS: `bbox` is in pixels, `(left, bottom, right, top)`
    /// with bottom > top as rio-tiler's `ImageReader` has it.
    async fn part_pixels(&self, bbox: Bounds, size: OutputSize, opts: &ReadOptions) -> Result<ImageData> {
        let gt = self.transform();
        let win = Window::new(bbox.left, bbox.top, bbox.right - bbox.left, bbox.bottom - bbox.top);
        if !(win.width > 0.0 && win.height > 0.0 && win.col_off.is_finite() && win.row_off.is_finite()) {
            return Err(Error::InvalidParameter {
                name: "bbox",
                reason: format!("{:?} is not a valid pixel window", bbox.to_array()),
            });
        }
        let (h, w) = size.resolve(win.height, win.width);
        opts.check_size(w, h)?;
        let p = self.prepare(opts)?;
        let bounds = win.bounds(&gt);
        self.read_grid(&Grid::Window(win), w, h, bounds, None, &p, opts).await
    }

    /// The whole dataset, decimated to `size` (rio-tiler's `preview`: at most 1024 pixels on
    /// its longer side unless told otherwise).
    pub async fn preview(&self, size: OutputSize, opts: &ReadOptions) -> Result<ImageData> {
        let (dw, dh) = self.size();
        let size = if size.is_unset() { OutputSize::max(OutputSize::PREVIEW_MAX) } else { size };
        let (h, w) = size.resolve(dh as f64, dw as f64);
        opts.check_size(w, h)?;
        let p = self.prepare(opts)?;
        let bounds = self.normalized_bounds();
        let win = Window::new(0.0, 0.0, dw as f64, dh as f64);
        self.read_grid(&Grid::Window(win), w, h, bounds, self.crs().cloned(), &p, opts).await
    }

    /// Statistics of the preview (rio-tiler's `statistics`: `max_size` 1024 by default).
    pub async fn statistics(
        &self,
        size: OutputSize,
        stats: &crate::stats::StatisticsOptions,
        opts: &ReadOptions,
    ) -> Result<Vec<(String, crate::stats::Statistics)>> {
        let img = self.preview(size, opts).await?;
        Ok(img.statistics(stats))
    }

    /// `point`, then `expression` over its values in the type of the read (rio-tiler's
    /// `point(expression=...)`).
    pub async fn point_with(
        &self,
        x: f64,
        y: f64,
        coord_crs: Option<&Crs>,
        expression: Option<&crate::expr::Expression>,
        opts: &ReadOptions,
    ) -> Result<PointData> {
        let pt = self.point(x, y, coord_crs, opts).await?;
        match expression {
            Some(e) => pt.apply(e, if opts.unscale { DataType::Float32 } else { self.dataset().dtype() }),
            None => Ok(pt),
        }
    }

    /// The values at one location: `(x, y)` in `coord_crs` (default WGS 84) for
    /// georeferenced data, in pixels for images without a CRS (rio-tiler's `point`).
    pub async fn point(&self, x: f64, y: f64, coord_crs: Option<&Crs>, opts: &ReadOptions) -> Result<PointData> {
        if !(x.is_finite() && y.is_finite()) {
            return Err(Error::InvalidParameter {
                name: "coordinates",
                reason: "coordinates must be finite numbers".into(),
            });
        }
        let p = self.prepare(opts)?;
        let (w, h) = self.size();
        let (win, pixel, coords) = match self.crs() {
            None => {
                if !(0.0 <= x && x < w as f64 && 0.0 <= y && y < h as f64) {
                    return Err(Error::PointOutsideBounds("Point is outside the image bounds".into()));
                }
                (Window::new(x, y, 1.0, 1.0), (x, y), self.transform().apply(x, y))
            }
            Some(crs) => {
                let wgs84 = Crs::wgs84();
                let from = coord_crs.unwrap_or(&wgs84);
                let (px, py) = if from.same_as(crs) {
                    (x, y)
                } else {
                    Transformer::new(from, crs)?
                        .transform(x, y)
                        .map_err(|_| Error::PointOutsideBounds("Point is outside dataset bounds".into()))?
                };
                let b = self.normalized_bounds();
                if !(b.left < px && px < b.right && b.bottom < py && py < b.top) {
                    return Err(Error::PointOutsideBounds("Point is outside dataset bounds".into()));
                }
                let inv = geometry::affine_inverse(&self.transform())
                    .ok_or_else(|| Error::corrupt(self.input(), "the geotransform cannot be inverted"))?;
                let col = (inv[0] * px + inv[1] * py + inv[2]).floor();
                let row = (inv[3] * px + inv[4] * py + inv[5]).floor();
                (Window::new(col, row, 1.0, 1.0), (col, row), (px, py))
            }
        };
        let gt = self.transform();
        let img = self.read_grid(&Grid::Window(win), 1, 1, win.bounds(&gt), self.crs().cloned(), &p, opts).await?;
        let mask = img.band_mask.clone();
        Ok(PointData {
            values: (0..img.count).map(|b| img.data.get_f64(b)).collect(),
            valid: mask.iter().map(|&m| m != 0).collect(),
            band_names: img.band_names,
            band_descriptions: img.band_descriptions,
            pixel_location: pixel,
            coordinates: coords,
            crs: self.crs().cloned(),
        })
    }

    /// The dataset's transform in another CRS, as rasterio's `calculate_default_transform`
    /// gives it (rio-tiler's `get_vrt_transform`, step 1). Cached per CRS.
    fn native_transform(&self, dst_crs: &Crs) -> Result<GeoTransform> {
        let src_crs = self.crs().ok_or_else(|| Error::unsupported("the dataset has no CRS"))?;
        if src_crs.rasterio_eq(dst_crs) {
            return Ok(self.transform());
        }
        if let Some(gt) = self.cached_native(dst_crs) {
            return Ok(gt);
        }
        let (w, h) = self.size();
        let mut b = self.bounds();
        let (mut sw, mut sh) = (w, h);
        // rio-tiler crops WGS 84 data to +-85.06 before asking for a Web Mercator grid.
        if src_crs.same_as(&Crs::wgs84()) && dst_crs.epsg() == Some(3857) {
            let clamp = if b.bottom < -85.06 || b.top > 85.06 {
                b.bottom = b.bottom.max(-85.06);
                b.top = b.top.min(85.06);
                true
            } else if b.bottom > 85.06 || b.top < -85.06 {
                b.bottom = b.bottom.min(85.06);
                b.top = b.top.max(-85.06);
                true
            } else {
                false
            };
            if clamp {
                let win = Window::from_bounds(&b, &self.transform())
                    .ok_or_else(|| Error::corrupt(self.input(), "bounds and transform are inconsistent"))?;
                sw = py_round(win.width) as usize;
                sh = py_round(win.height) as usize;
            }
        }
        let src_gt = transform_from_bounds(&b, sw.max(1), sh.max(1));
        let out = suggested_warp_output(&SourceGeoref::affine(src_gt)?, src_crs, dst_crs, sw.max(1), sh.max(1))?;
        self.store_native(dst_crs, out.gt);
        Ok(out.gt)
    }

    /// Read a grid into a `w` x `h` buffer: the core of every read.
    #[allow(clippy::too_many_arguments)]
    async fn read_grid(
        &self,
        grid: &Grid,
        w: usize,
        h: usize,
        bounds: Bounds,
        crs: Option<Crs>,
        p: &Prepared,
        opts: &ReadOptions,
    ) -> Result<ImageData> {
        // Every read path comes through here: the one place its memory is bounded.
        let dtype = self.dataset().dtype();
        let sample = if opts.unscale { dtype.size().max(4) } else { dtype.size() };
        opts.check_bytes(w, h, p.bands.len(), sample)?;
        let (data, band_mask, alpha_mask) = match grid {
            Grid::Window(win) => self.read_window(win, w, h, p, opts.resampling).await?,
            Grid::Warp { crs, gt, width, height } => self.read_warped(crs, gt, *width, *height, w, h, p, opts).await?,
        };
        let ds = self.dataset();
        let (scales, offsets) = (ds.scales(), ds.offsets());
        let img = ImageData {
            width: w,
            height: h,
            count: p.bands.len(),
            data,
            band_mask,
            bounds,
            crs,
            band_names: p.bands.iter().map(|b| format!("b{}", b + 1)).collect(),
            band_descriptions: p
                .bands
                .iter()
                .map(|&b| {
                    ds.band_metadata(b).description.filter(|d| !d.is_empty()).unwrap_or_else(|| format!("b{}", b + 1))
                })
                .collect(),
            nodata: p.nodata,
            scales: p.bands.iter().map(|&b| scales.get(b).copied().unwrap_or(1.0)).collect(),
            offsets: p.bands.iter().map(|&b| offsets.get(b).copied().unwrap_or(0.0)).collect(),
            alpha_mask,
        };
        Ok(if opts.unscale { img.unscale() } else { img })
    }
}

/// `LocalTileMatrixSet.xy_bounds`: a tile of the pixel-space grid, `(left, bottom, right,
/// top)` with y growing downward (bottom is the larger row).
pub fn local_tile_bounds(width: usize, height: usize, tile: Tile) -> Bounds {
    let maxzoom = max_overview_level(width, height, 256) as i32;
    let res = 2f64.powi(maxzoom - tile.z);
    let ul = |x: u64, y: u64| (256.0 * x as f64 * res, 256.0 * y as f64 * res);
    let (l, t) = ul(tile.x, tile.y);
    let (r, b) = ul(tile.x + 1, tile.y + 1);
    Bounds::new(l, b, r, t)
}

/// rio-tiler's strict box overlap (touching edges do not count).
fn strictly_overlap(a: &Bounds, b: &Bounds) -> bool {
    let a = norm(a);
    let b = norm(b);
    a.left < b.right && a.right > b.left && a.top > b.bottom && a.bottom < b.top
}

fn norm(b: &Bounds) -> Bounds {
    Bounds::new(b.left.min(b.right), b.bottom.min(b.top), b.left.max(b.right), b.bottom.max(b.top))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_grid_matches_rio_tiler() {
        // Documented: no_geo.jpg (2000x2000) -> maxzoom 3, tile (1,1,1) = (1024, 2048, 2048, 1024).
        assert_eq!(local_tile_bounds(2000, 2000, Tile::new(1, 1, 1)), Bounds::new(1024.0, 2048.0, 2048.0, 1024.0));
        // int16_zstd.tif (64x64) -> maxzoom 0, tile (0,0,0) = (0, 256, 256, 0).
        assert_eq!(local_tile_bounds(64, 64, Tile::new(0, 0, 0)), Bounds::new(0.0, 256.0, 256.0, 0.0));
    }
}
