//! The warped VRT that GDAL (through rasterio and rio-tiler) puts a GCP-only GeoTIFF on.
//!
//! rio-tiler opens a file that has ground control points but no geotransform as a
//! `WarpedVRT`: the source warped with nearest neighbour onto the grid GDAL's suggested warp
//! output picks in the GCPs' CRS, with an added alpha band unless the file has a nodata
//! value or an alpha band of its own. Every read then reads *that* dataset: a tile in
//! another CRS is a second warp, from the VRT's pixels. Reading the source once through
//! the GCP polynomial gives other pixels at every edge of the VRT's nearest-neighbour grid,
//! so imbrex builds the same virtual dataset: [`GcpVrt`] is a [`Dataset`] whose pixels are
//! computed block by block as `VRTWarpedDataset::IReadBlock` computes them (512 x 128
//! blocks, each warped on its own source window), with one implicit overview per source
//! overview (`VRTWarpedDataset::CreateImplicitOverviews`).

use std::sync::Arc;

use imbrex_tms::{Crs, GeoTransform, SourceGeoref};

use crate::array::{Buffer, DataType};
use crate::cache::BlockCache;
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::gcp::GcpTransform;
use crate::tiff::{BandMetadata, check_decoded_bytes};

/// GDAL's block size of a warped VRT (`GDALAutoCreateWarpedVRT` sets 512 x 128).
const BLOCK: (usize, usize) = (512, 128);

/// A GCP-only dataset as GDAL's auto-created warped VRT presents it.
#[derive(Debug)]
pub struct GcpVrt {
    source: Arc<Dataset>,
    /// The GCP polynomial of each level (the GCPs scaled to the level's source overview).
    gcps: Vec<Arc<GcpTransform>>,
    crs: Crs,
    gt: GeoTransform,
    /// Level sizes of the VRT: its own size, then one implicit overview per source overview.
    levels: Vec<(usize, usize)>,
    /// Samples are stored in this type (GDAL's VRT holds Int8 data as Int16).
    dtype: DataType,
    /// The alpha band rio-tiler asks for (`add_alpha`): band `source.count()`.
    added_alpha: bool,
    block: (usize, usize),
    /// Key prefix of this dataset's blocks in the cache.
    id: Arc<str>,
    fingerprint: (u64, u64),
    /// Warped blocks kept (neighbouring tiles share the blocks at their edges, and warping
    /// a block costs a source read and a warp): the source file's cache.
    blocks: BlockCache,
}

impl GcpVrt {
    /// The VRT of `source` (GCP-only) on the grid `gt` (`width` x `height`) in `crs`.
    pub fn new(
        source: Arc<Dataset>,
        gcp: Arc<GcpTransform>,
        crs: Crs,
        gt: GeoTransform,
        width: usize,
        height: usize,
    ) -> Result<GcpVrt> {
        let src_levels = source.level_sizes();
        let mut levels = super::warped::implicit_overviews(&src_levels, width, height);
        // The overview's warper: the source overview of the same rank, the GCPs scaled to it
        // (`GDALCreateSimilarGCPTransformer`).
        let mut gcps = vec![gcp.clone()];
        for &(sw, sh) in &src_levels[1..levels.len()] {
            let (rx, ry) = (src_levels[0].0 as f64 / sw as f64, src_levels[0].1 as f64 / sh as f64);
            match gcp.scaled(rx, ry) {
                Ok(t) => gcps.push(Arc::new(t)),
                Err(_) => break,
            }
        }
        levels.truncate(gcps.len());
        let dtype = match source.dtype() {
            DataType::Int8 => DataType::Int16,
            t => t,
        };
        // rio-tiler: `add_alpha` unless the file has a nodata value or an alpha band.
        let added_alpha = source.nodata().is_none() && source.alpha_band().is_none();
        let block = (BLOCK.0.min(width), BLOCK.1.min(height));
        let id = Arc::from(source.source().cache_id());
        let fingerprint = source
            .tiff()
            .map(|t| (t.main().ifd_offset, t.main().offsets.first().copied().unwrap_or(0)))
            .unwrap_or_default();
        let blocks = source.tiff().map_or_else(|| BlockCache::new(0), |t| t.blocks.clone());
        Ok(GcpVrt { source, gcps, crs, gt, levels, dtype, added_alpha, block, id, fingerprint, blocks })
    }

    /// The GCP file itself.
    pub fn source(&self) -> &Arc<Dataset> {
        &self.source
    }

    pub fn crs(&self) -> &Crs {
        &self.crs
    }

    pub fn transform(&self) -> GeoTransform {
        self.gt
    }

    pub fn width(&self) -> usize {
        self.levels[0].0
    }

    pub fn height(&self) -> usize {
        self.levels[0].1
    }

    pub fn count(&self) -> usize {
        self.source.count() + usize::from(self.added_alpha)
    }

    pub fn dtype(&self) -> DataType {
        self.dtype
    }

    /// GDAL's block size of the VRT (width, height).
    pub fn block_size(&self) -> (usize, usize) {
        self.block
    }

    pub fn levels(&self) -> &[(usize, usize)] {
        &self.levels
    }

    pub fn colorinterp(&self) -> Vec<String> {
        let mut ci = self.source.colorinterp();
        if self.added_alpha {
            ci.push("alpha".into());
        }
        ci
    }

    /// Band metadata as the VRT copies it; the added alpha band has none.
    pub fn band_metadata(&self, band: usize) -> BandMetadata {
        if band < self.source.count() { self.source.band_metadata(band) } else { BandMetadata::default() }
    }

    /// Read a window of a level (band-sequential), warping the blocks it covers.
    pub async fn read_window(
        &self,
        level: usize,
        x0: usize,
        y0: usize,
        w: usize,
        h: usize,
        bands: &[usize],
    ) -> Result<Buffer> {
        let (lw, lh) = self.levels[level];
        if x0 + w > lw || y0 + h > lh {
            return Err(Error::unsupported("a window outside the warped VRT"));
        }
        self.check_bytes((bands.len() * w * h) as u64)?;
        let mut out = Buffer::filled(self.dtype, bands.len() * w * h, 0.0);
        if w == 0 || h == 0 {
            return Ok(out);
        }
        let (bw, bh) = self.block;
        for by in y0 / bh..=(y0 + h - 1) / bh {
            for bx in x0 / bw..=(x0 + w - 1) / bw {
                let block = self.block(level, bx, by).await?;
                let (bx0, by0) = (bx * bw, by * bh);
                let (rw, rh) = (bw.min(lw - bx0), bh.min(lh - by0));
                // The part of the block inside the window.
                let (ix0, iy0) = (x0.max(bx0), y0.max(by0));
                let (ix1, iy1) = ((x0 + w).min(bx0 + rw), (y0 + h).min(by0 + rh));
                copy_rect(
                    &block,
                    &mut out,
                    bands,
                    (rw, rh),
                    (w, h),
                    (ix0 - bx0, iy0 - by0),
                    (ix0 - x0, iy0 - y0),
                    (ix1 - ix0, iy1 - iy0),
                );
            }
        }
        Ok(out)
    }

    /// Sample a level at the given columns and rows (band-sequential output), warping only
    /// the blocks the samples fall in.
    pub async fn sample(&self, level: usize, cols: &[usize], rows: &[usize], bands: &[usize]) -> Result<Buffer> {
        let (lw, lh) = self.levels[level];
        if cols.iter().any(|&c| c >= lw) || rows.iter().any(|&r| r >= lh) {
            return Err(Error::unsupported("a sample outside the warped VRT"));
        }
        let (bw, bh) = self.block;
        let mut bxs: Vec<usize> = cols.iter().map(|c| c / bw).collect();
        let mut bys: Vec<usize> = rows.iter().map(|r| r / bh).collect();
        bxs.sort_unstable();
        bxs.dedup();
        bys.sort_unstable();
        bys.dedup();
        self.check_bytes((bxs.len() * bys.len() * self.count() * bw * bh) as u64)?;
        let (nc, n) = (cols.len(), cols.len() * rows.len());
        let mut out = Buffer::filled(self.dtype, bands.len() * n, 0.0);
        for &by in &bys {
            for &bx in &bxs {
                let block = self.block(level, bx, by).await?;
                let (bx0, by0) = (bx * bw, by * bh);
                let (rw, rh) = (bw.min(lw - bx0), bh.min(lh - by0));
                for (j, &r) in rows.iter().enumerate().filter(|(_, r)| **r / bh == by) {
                    for (i, &c) in cols.iter().enumerate().filter(|(_, c)| **c / bw == bx) {
                        let at = (r - by0) * rw + (c - bx0);
                        for (k, &b) in bands.iter().enumerate() {
                            out.set_f64(k * n + j * nc + i, block.get_f64(b * rw * rh + at));
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// The per-read bound on decoded samples the TIFF reader applies too.
    fn check_bytes(&self, samples: u64) -> Result<()> {
        check_decoded_bytes(samples * self.dtype.size() as u64)
    }

    /// One block of a level, all bands (the added alpha last), warped or from the cache.
    async fn block(&self, level: usize, bx: usize, by: usize) -> Result<Arc<Buffer>> {
        let key = (self.id.clone(), self.fingerprint, self.levels[0], level, bx, by);
        if let Some(b) = self.blocks.warped.get(&key) {
            return Ok(b);
        }
        let (lw, lh) = self.levels[level];
        let (bw, bh) = self.block;
        let (x0, y0) = (bx * bw, by * bh);
        let (rw, rh) = (bw.min(lw - x0), bh.min(lh - y0));
        // The overview's warper: the source overview of the same rank with its own GCP
        // polynomial, the VRT's geotransform scaled to the overview.
        let mut gt = self.gt.0;
        super::warped::rescale(&mut gt, self.levels[0].0, lw, self.levels[0].1, lh);
        let georef = SourceGeoref::Custom(self.gcps[level].clone());
        let (data, density) = super::warped::warp_region(
            &self.source,
            level,
            georef,
            &self.crs,
            GeoTransform(gt),
            (x0, y0, rw, rh),
            self.dtype,
        )
        .await?;
        let block = if self.added_alpha {
            let mut all = Buffer::filled(self.dtype, (self.source.count() + 1) * rw * rh, 0.0);
            let n = rw * rh * self.source.count();
            for i in 0..n {
                all.set_f64(i, data.get_f64(i));
            }
            for (i, &d) in density.iter().enumerate() {
                all.set_f64(n + i, super::warped::alpha_value(d, self.dtype));
            }
            all
        } else {
            data
        };
        let block = Arc::new(block);
        self.blocks.warped.insert(key, block.clone());
        Ok(block)
    }
}

/// Copy a `size` rectangle of `bands` from a band-sequential block (`bsize`, all bands) at
/// `from` into a band-sequential window (`wsize`, the picked bands) at `to`.
#[allow(clippy::too_many_arguments)]
fn copy_rect(
    block: &Buffer,
    out: &mut Buffer,
    bands: &[usize],
    (bw, bh): (usize, usize),
    (ww, wh): (usize, usize),
    (fx, fy): (usize, usize),
    (tx, ty): (usize, usize),
    (cw, ch): (usize, usize),
) {
    crate::with_buffer!(out, dst, T => {
        if let Some(src) = block.as_slice::<T>() {
            for (i, &b) in bands.iter().enumerate() {
                for y in 0..ch {
                    let s = b * bw * bh + (fy + y) * bw + fx;
                    let d = i * ww * wh + (ty + y) * ww + tx;
                    dst[d..d + cw].copy_from_slice(&src[s..s + cw]);
                }
            }
        }
    });
}
