//! Images and arrays without georeference, tiled in their own pixel grid (projectile's
//! role): `.npy` arrays, PNG, JPEG and TIFF files.
//!
//! The grid: zoom 0 holds the whole image in one tile, each zoom doubles the resolution,
//! and the last zoom is 1:1 (tile 0/0 there is the top-left `tilesize` block of the
//! source). Below 1:1, pixels come from a pyramid of 256 x 256 blocks built lazily:
//! a block of level k is made from the 2 x 2 pixels under it in level k-1 ([`Downsample`]:
//! their mean, or the top-left one), so a zoomed-out tile touches its blocks and, the
//! first time, the blocks under them. Blocks live in one cache bounded by bytes
//! ([`PyramidCache`], the server's `--image-cache-mb`), shared by every image.
//!
//! Level 0 is never held whole: an `.npy` is read by ranges, a PNG or JPEG is decoded
//! once into an unlinked `.npy` spill file (a PNG row by row; a JPEG in one piece, since
//! no pure-Rust decoder streams JPEG rows), a TIFF is read through its own blocks.

pub mod array_file;

use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use imbrex_tms::{Bounds, Crs, TileMatrixSet};

use crate::array::{Buffer, DataType, Sample};
use crate::cpu::CpuPool;
use crate::dataset::{Dataset, OpenOptions};
use crate::error::{Error, Result};
use crate::image::{ImageData, PointData};
use crate::reader::{
    BandDescription, BaseReader, Info, OutputSize, PartRequest, PointRequest, ReadOptions, TileRequest,
};
use crate::render::ColorMap;
use crate::source::LocalSource;
use crate::tiff::NodataType;
pub use array_file::ArrayFile;

/// Side of a pyramid block.
pub const BLOCK: usize = 256;
/// Largest image served (samples of level 0, all bands).
pub const MAX_SAMPLES: u64 = 1 << 36;
/// Largest picture decoded whole (a JPEG, an interlaced PNG), in bytes.
pub const MAX_DECODE_BYTES: u64 = 1 << 32;
/// Largest spill file a picture is decoded into.
pub const MAX_SPILL_BYTES: u64 = 32 << 30;
/// Most bands of an image (blocks and windows hold every band).
pub const MAX_BANDS: usize = 16;

/// How a pyramid level is made from the one under it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Downsample {
    /// The mean of the 2 x 2 pixels (NaN and nodata skipped, colour weighted by alpha,
    /// integers rounded half away from zero): pictures, continuous data.
    #[default]
    Mean,
    /// The top-left pixel of the 2 x 2: class codes, which a mean would mix.
    Nearest,
}

/// (image, level, block column, block row, downsampling, nodata bits); level 0 is shared
/// by every pyramid of an image.
type Key = (u64, u8, u32, u32, Downsample, Option<u64>);

/// Pyramid blocks of every image, bounded by bytes. Concurrent requests for one block
/// wait for one computation. Blocks of levels 0 and 1 (cheap to make again, and most of
/// the bytes) get a quarter of the budget, so that building a zoomed-out block, which
/// streams through them, does not evict the levels above that tiles come back to.
#[derive(Clone, Debug)]
pub struct PyramidCache {
    low: moka::future::Cache<Key, Arc<Buffer>>,
    high: moka::future::Cache<Key, Arc<Buffer>>,
}

impl PyramidCache {
    pub fn new(max_bytes: u64) -> PyramidCache {
        let cache = |bytes: u64| {
            moka::future::Cache::builder()
                .max_capacity(bytes)
                .weigher(|_: &Key, v: &Arc<Buffer>| u32::try_from(v.len() * v.dtype().size()).unwrap_or(u32::MAX))
                // Least recently used: a block built once by a tile is what the next tiles
                // ask for (TinyLFU would refuse entries seen once).
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .build()
        };
        PyramidCache { low: cache(max_bytes / 4), high: cache(max_bytes - max_bytes / 4) }
    }

    fn of(&self, level: u8) -> &moka::future::Cache<Key, Arc<Buffer>> {
        if level < 2 { &self.low } else { &self.high }
    }

    /// Bytes held.
    pub async fn weighted_size(&self) -> u64 {
        self.low.run_pending_tasks().await;
        self.high.run_pending_tasks().await;
        self.low.weighted_size() + self.high.weighted_size()
    }
}

/// Where images are opened: the block cache, the pool that decodes and averages, the TIFF
/// open options, and where decoded PNG/JPEG files are spilled.
#[derive(Clone, Debug)]
pub struct PixelOptions {
    pub cache: PyramidCache,
    pub cpu: CpuPool,
    pub open: OpenOptions,
    pub spill_dir: std::path::PathBuf,
}

/// Level 0 of an image.
#[derive(Debug)]
enum Base {
    Array(Arc<ArrayFile>),
    Tiff(Arc<Dataset>),
}

/// What a file turned out to be.
pub enum Opened {
    Image(Box<PixelImage>),
    /// A georeferenced raster: for `/cog`, not the pixel grid.
    Georeferenced,
}

/// An image served in pixel space.
#[derive(Debug)]
pub struct PixelImage {
    id: u64,
    pub driver: &'static str,
    base: Base,
    pub width: usize,
    pub height: usize,
    /// Bands, the alpha band included.
    pub count: usize,
    pub dtype: DataType,
    pub colorinterp: Vec<String>,
    /// 0-based alpha band.
    alpha: Option<usize>,
    /// Sizes of every level, full resolution first, down to 1 x 1.
    levels: Vec<(usize, usize)>,
    cache: PyramidCache,
    cpu: CpuPool,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl PixelImage {
    /// Open a file by content: `.npy`, PNG, JPEG or TIFF.
    pub async fn open(path: &Path, opts: &PixelOptions) -> Result<Opened> {
        let id = path.display().to_string();
        let head = {
            let mut f = std::fs::File::open(path).map_err(|e| Error::NotFound { what: format!("{id} ({e})") })?;
            let mut head = [0u8; 8];
            let n = std::io::Read::read(&mut f, &mut head).map_err(|e| Error::corrupt(&id, e.to_string()))?;
            head[..n].to_vec()
        };
        let (driver, base) = if array_file::is_npy(&head) {
            ("NPY", Base::Array(Arc::new(ArrayFile::open(path, &id)?)))
        } else if head.starts_with(b"\x89PNG") || head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            let (path, spill_dir, png) = (path.to_path_buf(), opts.spill_dir.clone(), head.starts_with(b"\x89PNG"));
            let id2 = id.clone();
            // Seconds of work for a large picture, once: a blocking thread of its own rather
            // than one of the CPU pool's, which serve tiles meanwhile.
            let array = tokio::task::spawn_blocking(move || spill(&path, &spill_dir, png, &id2))
                .await
                .map_err(|e| Error::Internal(format!("decoding {id}: {e}")))??;
            (if png { "PNG" } else { "JPEG" }, Base::Array(Arc::new(array)))
        } else if crate::tiff::ifd::is_tiff(&head) {
            let source = Arc::new(LocalSource::open(path)?);
            let ds = Dataset::open(source, &opts.open).await?;
            let g = ds.georef();
            if g.crs.is_some() || g.transform.is_some() {
                return Ok(Opened::Georeferenced);
            }
            ("GTiff", Base::Tiff(Arc::new(ds)))
        } else {
            return Err(Error::unsupported(format!("{id} is not an .npy, PNG, JPEG or TIFF file")));
        };
        Ok(Opened::Image(Box::new(PixelImage::new(driver, base, opts)?)))
    }

    fn new(driver: &'static str, base: Base, opts: &PixelOptions) -> Result<PixelImage> {
        let (width, height, count, dtype, colorinterp) = match &base {
            Base::Array(a) => {
                let interp = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
                let image_like = matches!(a.dtype(), DataType::Uint8 | DataType::Uint16)
                    && (a.layout == array_file::Layout::BandsLast || driver != "NPY");
                let ci = match (a.count, image_like) {
                    (1, _) => interp(&["gray"]),
                    (2, true) => interp(&["gray", "alpha"]),
                    (3, true) => interp(&["red", "green", "blue"]),
                    (4, true) => interp(&["red", "green", "blue", "alpha"]),
                    (n, _) => vec!["undefined".to_string(); n],
                };
                (a.width, a.height, a.count, a.dtype(), ci)
            }
            Base::Tiff(d) => (d.width(), d.height(), d.count(), d.dtype(), d.colorinterp()),
        };
        if count > MAX_BANDS {
            return Err(Error::LimitExceeded { limit: "image bands", value: count as u64, max: MAX_BANDS as u64 });
        }
        let samples = width as u64 * height as u64 * count as u64;
        if samples > MAX_SAMPLES {
            return Err(Error::LimitExceeded { limit: "image samples", value: samples, max: MAX_SAMPLES });
        }
        let mut levels = vec![(width, height)];
        while let Some(&(w, h)) = levels.last().filter(|(w, h)| *w > 1 || *h > 1) {
            levels.push((w.div_ceil(2), h.div_ceil(2)));
        }
        let alpha = colorinterp.iter().position(|c| c == "alpha").filter(|&a| a > 0);
        Ok(PixelImage {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            driver,
            base,
            width,
            height,
            count,
            dtype,
            colorinterp,
            alpha,
            levels,
            cache: opts.cache.clone(),
            cpu: opts.cpu.clone(),
        })
    }

    /// Bands that carry data (all but alpha), 1-based.
    pub fn data_bands(&self) -> Vec<usize> {
        (1..=self.count).filter(|&b| Some(b - 1) != self.alpha).collect()
    }

    /// The zoom at which a tile of `tilesize` pixels is 1:1.
    pub fn maxzoom(&self, tilesize: usize) -> u32 {
        let mut z = 0;
        while self.width.max(self.height).div_ceil(1 << z) > tilesize {
            z += 1;
        }
        z
    }

    /// Size of the pyramid level a zoom reads at a tile size, or `None` above 1:1.
    pub fn level_of(&self, z: u32, tilesize: usize) -> Option<usize> {
        self.maxzoom(tilesize).checked_sub(z).map(|l| l as usize)
    }

    /// One tile of the pixel grid: `tilesize` x `tilesize` (plus `opts.buffer` pixels on
    /// each side), masked where it passes the image's edges. A tile with no pixel of the
    /// image is [`Error::TileOutsideBounds`].
    pub async fn tile(
        &self,
        z: u32,
        x: u64,
        y: u64,
        tilesize: usize,
        method: Downsample,
        opts: &ReadOptions,
    ) -> Result<ImageData> {
        opts.validate()?;
        if opts.buffer.fract() != 0.0 {
            return Err(Error::InvalidParameter {
                name: "buffer",
                reason: "a whole number of pixels for images".into(),
            });
        }
        let outside = || Error::TileOutsideBounds(format!("tile {z}/{x}/{y} is outside the image"));
        let level = self.level_of(z, tilesize).ok_or_else(outside)?;
        let (lw, lh) = self.levels[level];
        let (x0, y0) = (x.saturating_mul(tilesize as u64), y.saturating_mul(tilesize as u64));
        if x0 >= lw as u64 || y0 >= lh as u64 {
            return Err(outside());
        }
        let pad = opts.buffer as i64;
        let (x0, y0) = (x0 as i64 - pad, y0 as i64 - pad);
        let size = tilesize + 2 * pad as usize;
        let f = (1u64 << level) as f64;
        let bounds = Bounds {
            left: x0 as f64 * f,
            bottom: (y0 + size as i64) as f64 * f,
            right: (x0 + size as i64) as f64 * f,
            top: y0 as f64 * f,
        };
        self.window(level, x0, y0, size, size, bounds, method, opts).await
    }

    /// The whole image at the first level whose longer side fits `max_size` (or the larger
    /// of `width` and `height`): a level as it is, not resampled to that size.
    pub async fn preview(&self, size: OutputSize, method: Downsample, opts: &ReadOptions) -> Result<ImageData> {
        let longest = size.width.max(size.height).or(size.max_size).unwrap_or(OutputSize::PREVIEW_MAX);
        let level = self.levels.iter().position(|&(w, h)| w.max(h) <= longest.max(1)).unwrap_or(self.levels.len() - 1);
        let (w, h) = self.levels[level];
        let bounds = Bounds { left: 0.0, bottom: self.height as f64, right: self.width as f64, top: 0.0 };
        self.window(level, 0, 0, w, h, bounds, method, opts).await
    }

    /// The values of every data band at a pixel (column `x`, row `y`).
    pub async fn point(&self, x: f64, y: f64, opts: &ReadOptions) -> Result<PointData> {
        if !(x >= 0.0 && y >= 0.0 && x < self.width as f64 && y < self.height as f64) {
            return Err(Error::PointOutsideBounds(format!("pixel ({x}, {y}) is outside the image")));
        }
        let (col, row) = (x.floor() as usize, y.floor() as usize);
        let bounds = Bounds { left: col as f64, bottom: row as f64 + 1.0, right: col as f64 + 1.0, top: row as f64 };
        let img = self.window(0, col as i64, row as i64, 1, 1, bounds, Downsample::Mean, opts).await?;
        Ok(PointData {
            values: (0..img.count).map(|b| img.data.get_f64(b)).collect(),
            valid: (0..img.count).map(|b| img.band_mask[b] != 0).collect(),
            band_names: img.band_names,
            band_descriptions: img.band_descriptions,
            pixel_location: (col as f64, row as f64),
            coordinates: (x, y),
            crs: None,
        })
    }

    /// `w` x `h` pixels of a level from `(x0, y0)`, masked past the level's edges, as an
    /// image of the bands `opts` asks for (alpha becomes the mask).
    #[allow(clippy::too_many_arguments)]
    async fn window(
        &self,
        level: usize,
        x0: i64,
        y0: i64,
        w: usize,
        h: usize,
        bounds: Bounds,
        method: Downsample,
        opts: &ReadOptions,
    ) -> Result<ImageData> {
        let bands: Vec<usize> = match &opts.indexes {
            Some(ix) => {
                if let Some(&bad) = ix.iter().find(|&&b| b == 0 || b > self.count) {
                    return Err(Error::InvalidParameter {
                        name: "bidx",
                        reason: format!("band {bad} does not exist (the image has {} bands)", self.count),
                    });
                }
                ix.clone()
            }
            None => self.data_bands(),
        };
        let pixels = (w as u64).saturating_mul(h as u64);
        if pixels > opts.max_pixels {
            return Err(Error::LimitExceeded {
                limit: crate::reader::OUTPUT_PIXELS,
                value: pixels,
                max: opts.max_pixels,
            });
        }
        opts.check_bands(bands.len())?;
        opts.check_bytes(w, h, bands.len(), self.dtype.size())?;
        let (lw, lh) = self.levels[level];
        // The part of the window inside the level: [ix0, ix1) x [iy0, iy1).
        let (ix0, iy0) = (x0.max(0) as usize, y0.max(0) as usize);
        let (ix1, iy1) = ((x0 + w as i64).clamp(0, lw as i64) as usize, (y0 + h as i64).clamp(0, lh as i64) as usize);
        let keys: Vec<(usize, usize)> = if ix0 < ix1 && iy0 < iy1 {
            let (bx0, by0, bx1, by1) = (ix0 / BLOCK, iy0 / BLOCK, (ix1 - 1) / BLOCK, (iy1 - 1) / BLOCK);
            (by0..=by1).flat_map(|by| (bx0..=bx1).map(move |bx| (bx, by))).collect()
        } else {
            Vec::new()
        };
        let nodata = opts.nodata;
        let blocks =
            futures::future::try_join_all(keys.iter().map(|&(bx, by)| self.block(level, bx, by, method, nodata)))
                .await?;
        let (count, dtype, alpha) = (self.count, self.dtype, self.alpha);
        let colorinterp = self.colorinterp.clone();
        self.cpu
            .run(move || {
                let all: Vec<usize> = (0..count).collect();
                let full = crate::with_dtype!(dtype, T => {
                    let mut out = vec![T::default(); count * w * h];
                    for (&(bx, by), block) in keys.iter().zip(&blocks) {
                        let src = block.as_slice::<T>().expect("blocks are in the image's type");
                        let (bw, bh) = (BLOCK.min(lw - bx * BLOCK), BLOCK.min(lh - by * BLOCK));
                        // The part of the block inside the window, in level pixels.
                        let (sx0, sy0) = ((bx * BLOCK).max(ix0), (by * BLOCK).max(iy0));
                        let (sx1, sy1) = ((bx * BLOCK + bw).min(ix1), (by * BLOCK + bh).min(iy1));
                        let dx = (sx0 as i64 - x0) as usize;
                        for &b in &all {
                            for y in sy0..sy1 {
                                let s = b * bw * bh + (y - by * BLOCK) * bw;
                                let d = b * w * h + (y as i64 - y0) as usize * w + dx;
                                out[d..d + sx1 - sx0].copy_from_slice(&src[s + sx0 - bx * BLOCK..s + sx1 - bx * BLOCK]);
                            }
                        }
                    }
                    T::wrap(out)
                });
                let n = w * h;
                let inside = |i: usize| {
                    let (x, y) = (x0 + (i % w) as i64, y0 + (i / w) as i64);
                    x >= ix0 as i64 && x < ix1 as i64 && y >= iy0 as i64 && y < iy1 as i64
                };
                let alpha_mask = alpha.filter(|a| !bands.contains(&(a + 1))).map(|a| {
                    crate::with_buffer!(&full, v, T => {
                        T::wrap((0..n).map(|i| if inside(i) { v[a * n + i] } else { T::default() }).collect())
                    })
                });
                let data = crate::with_buffer!(&full, v, T => {
                    T::wrap(bands.iter().flat_map(|&b| v[(b - 1) * n..b * n].iter().copied()).collect())
                });
                let mut band_mask = vec![0u8; bands.len() * n];
                for (k, m) in band_mask.chunks_exact_mut(n).enumerate() {
                    for (i, m) in m.iter_mut().enumerate() {
                        let v = data.get_f64(k * n + i);
                        let transparent = alpha_mask.as_ref().is_some_and(|a| a.get_f64(i) <= 0.0);
                        let valid = inside(i) && !v.is_nan() && nodata.is_none_or(|nd| v != nd) && !transparent;
                        *m = if valid { 255 } else { 0 };
                    }
                }
                ImageData {
                    width: w,
                    height: h,
                    count: bands.len(),
                    data,
                    band_mask,
                    bounds,
                    crs: None,
                    band_names: bands.iter().map(|b| format!("b{b}")).collect(),
                    band_descriptions: bands
                        .iter()
                        .map(|&b| colorinterp.get(b - 1).cloned().unwrap_or_else(|| format!("b{b}")))
                        .collect(),
                    nodata,
                    scales: vec![1.0; bands.len()],
                    offsets: vec![0.0; bands.len()],
                    alpha_mask,
                }
            })
            .await
    }

    /// A block of a level: read from the base at level 0, else made from the (up to four)
    /// blocks under it, each computed once however many requests ask.
    fn block(
        &self,
        level: usize,
        bx: usize,
        by: usize,
        method: Downsample,
        nodata: Option<f64>,
    ) -> futures::future::BoxFuture<'_, Result<Arc<Buffer>>> {
        Box::pin(async move {
            // One pyramid per way of making it: level 0 is shared; a nodata value that can
            // match no sample (NaN, a fraction or out-of-range value on integers) or that
            // nearest ignores is no nodata, so it cannot force a pyramid of its own.
            let dtype = self.dtype;
            let nodata =
                nodata.filter(|nd| !nd.is_nan() && (dtype.is_float() || (nd.fract() == 0.0 && dtype.holds(*nd))));
            let (method, nodata) = match (level, method) {
                (0, _) => (Downsample::Mean, None),
                (_, Downsample::Nearest) => (Downsample::Nearest, None),
                _ => (method, nodata),
            };
            let key = (self.id, level as u8, bx as u32, by as u32, method, nodata.map(f64::to_bits));
            let build = self.build(level, bx, by, method, nodata);
            self.cache.of(level as u8).try_get_with(key, build).await.map_err(|e| (*e).clone())
        })
    }

    async fn build(
        &self,
        level: usize,
        bx: usize,
        by: usize,
        method: Downsample,
        nodata: Option<f64>,
    ) -> Result<Arc<Buffer>> {
        let (lw, lh) = self.levels[level];
        let (x0, y0) = (bx * BLOCK, by * BLOCK);
        let (bw, bh) = (BLOCK.min(lw - x0), BLOCK.min(lh - y0));
        if level == 0 {
            let bands: Vec<usize> = (0..self.count).collect();
            let data = match &self.base {
                Base::Array(a) => {
                    let a = a.clone();
                    self.cpu.try_run(move || a.read_window(x0, y0, bw, bh)).await?
                }
                Base::Tiff(d) => d.read_window(0, x0, y0, bw, bh, &bands).await?,
            };
            return Ok(Arc::new(data));
        }
        // The children: level-1 blocks (2bx + i, 2by + j) that exist.
        let (pw, ph) = self.levels[level - 1];
        let (cx1, cy1) = ((2 * bx + 1).min((pw - 1) / BLOCK), (2 * by + 1).min((ph - 1) / BLOCK));
        let coords: Vec<(usize, usize)> =
            (2 * by..=cy1).flat_map(|cy| (2 * bx..=cx1).map(move |cx| (cx, cy))).collect();
        // Level-0 reads run side by side; above, children are built one after the other, so
        // a zoomed-out block holds at most four blocks per level while it is built, instead
        // of its whole subtree (a 20k x 20k image's zoom 0 would hold all of level 0).
        let children = if level == 1 {
            futures::future::try_join_all(coords.iter().map(|&(cx, cy)| self.block(0, cx, cy, method, nodata))).await?
        } else {
            let mut children = Vec::with_capacity(coords.len());
            for &(cx, cy) in &coords {
                children.push(self.block(level - 1, cx, cy, method, nodata).await?);
            }
            children
        };
        let down = Down { method, nodata, alpha: self.alpha, count: self.count };
        let dtype = self.dtype;
        let out = self
            .cpu
            .run(move || {
                crate::with_dtype!(dtype, T => T::wrap(down.apply::<T>(&coords, &children, (pw, ph), (bx, by), (bw, bh))))
            })
            .await?;
        Ok(Arc::new(out))
    }

    /// rio-tiler-like description (`crs` null, bounds in pixels).
    pub fn describe(&self) -> Info {
        let bands = self.count;
        Info {
            bounds: [0.0, self.height as f64, self.width as f64, 0.0],
            crs: None,
            band_metadata: (1..=bands).map(|b| (format!("b{b}"), Default::default())).collect(),
            band_descriptions: (1..=bands).map(|b| BandDescription(format!("b{b}"), String::new())).collect(),
            dtype: self.dtype,
            nodata_type: if self.alpha.is_some() { NodataType::Alpha } else { NodataType::None },
            colorinterp: self.colorinterp.clone(),
            scales: vec![1.0; bands],
            offsets: vec![0.0; bands],
            colormap: None,
            driver: self.driver.to_string(),
            count: bands,
            width: self.width,
            height: self.height,
            overviews: (1..self.levels.len()).map(|l| 1 << l).collect(),
            nodata_value: None,
            minmax: None,
        }
    }
}

/// How a block of a level is made from its children.
struct Down {
    method: Downsample,
    nodata: Option<f64>,
    /// 0-based alpha band: colour means are weighted by it.
    alpha: Option<usize>,
    count: usize,
}

impl Down {
    /// Block `(bx, by)` from its children: the top-left pixel of each 2 x 2, or their mean
    /// (NaN and nodata skipped, all skipped giving nodata or NaN; colour weighted by alpha;
    /// integers rounded half away from zero by [`Sample::from_f64`]).
    fn apply<T: Sample>(
        &self,
        coords: &[(usize, usize)],
        children: &[Arc<Buffer>],
        (pw, ph): (usize, usize),
        (bx, by): (usize, usize),
        (bw, bh): (usize, usize),
    ) -> Vec<T> {
        let count = self.count;
        // The children side by side: a region of up to 2 BLOCK x 2 BLOCK parent pixels.
        let (rx0, ry0) = (2 * bx * BLOCK, 2 * by * BLOCK);
        let (rw, rh) = ((2 * BLOCK).min(pw - rx0), (2 * BLOCK).min(ph - ry0));
        let mut region = vec![T::default(); count * rw * rh];
        for (&(cx, cy), child) in coords.iter().zip(children) {
            let src = child.as_slice::<T>().expect("blocks are in the image's type");
            let (cw, ch) = (BLOCK.min(pw - cx * BLOCK), BLOCK.min(ph - cy * BLOCK));
            let (ox, oy) = (cx * BLOCK - rx0, cy * BLOCK - ry0);
            for b in 0..count {
                for y in 0..ch {
                    let d = b * rw * rh + (oy + y) * rw + ox;
                    region[d..d + cw].copy_from_slice(&src[b * cw * ch + y * cw..b * cw * ch + (y + 1) * cw]);
                }
            }
        }
        let mut out = Vec::with_capacity(count * bw * bh);
        // Four skipped pixels give NaN (floats) or nodata (integers, which have no NaN).
        let empty = T::from_f64(if T::DTYPE.is_float() { f64::NAN } else { self.nodata.unwrap_or(0.0) });
        for b in 0..count {
            let plane = &region[b * rw * rh..(b + 1) * rw * rh];
            // nodata is a value of the data bands; the alpha band is averaged as it is.
            let nodata = self.nodata.filter(|_| Some(b) != self.alpha);
            let skipped = |v: T| v.is_nan() || nodata.is_some_and(|nd| v.to_f64() == nd);
            // Colour is weighted by alpha (a transparent pixel's colour does not bleed in).
            let weights = self.alpha.filter(|&a| a != b).map(|a| &region[a * rw * rh..(a + 1) * rw * rh]);
            for y in 0..bh {
                for x in 0..bw {
                    if self.method == Downsample::Nearest {
                        out.push(plane[2 * y * rw + 2 * x]);
                        continue;
                    }
                    let (mut sum, mut n) = (0.0, 0.0);
                    for (sx, sy) in [(2 * x, 2 * y), (2 * x + 1, 2 * y), (2 * x, 2 * y + 1), (2 * x + 1, 2 * y + 1)] {
                        if sx < rw && sy < rh {
                            let v = plane[sy * rw + sx];
                            if !skipped(v) {
                                let w = weights.map_or(1.0, |a| a[sy * rw + sx].to_f64());
                                sum += v.to_f64() * w;
                                n += w;
                            }
                        }
                    }
                    out.push(if n > 0.0 {
                        let mean = sum / n;
                        let v = T::from_f64(mean);
                        match nodata {
                            // A valid mean that rounds to nodata would read as a hole: the
                            // next integer on the mean's side of nodata instead.
                            Some(nd) if v.to_f64() == nd => T::from_f64(if mean >= nd { nd + 1.0 } else { nd - 1.0 }),
                            _ => v,
                        }
                    } else if weights.is_some() {
                        T::default()
                    } else {
                        empty
                    });
                }
            }
        }
        out
    }
}

/// Decode a PNG (row by row) or JPEG into an unlinked `.npy` file of `(rows, cols[,
/// bands])` in `dir`. PNG palettes and low bit depths are expanded (an image, not data).
fn spill(path: &Path, dir: &Path, png: bool, id: &str) -> Result<ArrayFile> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(dir).map_err(|e| Error::Internal(format!("spill directory {}: {e}", dir.display())))?;
    static SPILLS: AtomicU64 = AtomicU64::new(0);
    let n = SPILLS.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let spill_path = dir.join(format!("imbrex-{}-{n}-{nanos:09}.npy", std::process::id()));
    // A new file only (never one planted under that name, nor a symlink), readable by us
    // alone, and unlinked at once: the descriptor keeps it, nothing is left behind.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&spill_path)
        .map_err(|e| Error::Internal(format!("spill file {}: {e}", spill_path.display())))?;
    let _ = std::fs::remove_file(&spill_path);
    let (file, layout) = if png { spill_png(path, file, id)? } else { spill_jpeg(path, file, id)? };
    ArrayFile::from_file(file, id, Some(layout))
}

/// `(rows, cols)` or `(rows, cols, bands)`: a decoded picture's samples as they come.
fn spill_shape(h: usize, w: usize, count: usize) -> Vec<usize> {
    if count == 1 { vec![h, w] } else { vec![h, w, count] }
}

/// Refuse a picture whose decoded samples would pass the spill bound.
fn check_size(w: usize, h: usize, count: usize, bytes_per_sample: usize) -> Result<()> {
    let bytes = (w as u64).saturating_mul(h as u64).saturating_mul((count * bytes_per_sample) as u64);
    if bytes > MAX_SPILL_BYTES {
        return Err(Error::LimitExceeded { limit: "decoded image bytes", value: bytes, max: MAX_SPILL_BYTES });
    }
    Ok(())
}

fn spill_png(path: &Path, file: std::fs::File, id: &str) -> Result<(std::fs::File, array_file::Layout)> {
    let bad = |e: png::DecodingError| Error::corrupt(id, format!("PNG: {e}"));
    let io = |e: std::io::Error| Error::Internal(format!("writing the spill file of {id}: {e}"));
    let input = std::fs::File::open(path).map_err(|e| Error::NotFound { what: format!("{id} ({e})") })?;
    // Row by row, so the decoder's own limit on what it allocates does not apply; the
    // size is checked here instead.
    let mut decoder = png::Decoder::new_with_limits(std::io::BufReader::new(input), png::Limits { bytes: usize::MAX });
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(bad)?;
    let (w, h) = (reader.info().width as usize, reader.info().height as usize);
    let (color, depth) = reader.output_color_type();
    let count = color.samples();
    let dtype = if depth == png::BitDepth::Sixteen { DataType::Uint16 } else { DataType::Uint8 };
    check_size(w, h, count, dtype.size())?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(&crate::npy::header(dtype, &spill_shape(h, w, count))).map_err(io)?;
    let mut put = |row: &[u8]| -> Result<()> {
        if dtype == DataType::Uint16 {
            // PNG is big-endian, the spill file little-endian.
            let le: Vec<u8> = row.chunks_exact(2).flat_map(|s| [s[1], s[0]]).collect();
            out.write_all(&le).map_err(io)
        } else {
            out.write_all(row).map_err(io)
        }
    };
    if reader.info().interlaced {
        // Adam7 rows arrive pass by pass: decode the frame, then write it.
        let size = reader.output_buffer_size().ok_or_else(|| Error::corrupt(id, "PNG too large"))?;
        if size as u64 > MAX_DECODE_BYTES {
            return Err(Error::LimitExceeded {
                limit: "interlaced PNG bytes",
                value: size as u64,
                max: MAX_DECODE_BYTES,
            });
        }
        let mut buf = vec![0u8; size];
        let frame = reader.next_frame(&mut buf).map_err(bad)?;
        for y in 0..h {
            put(&buf[y * frame.line_size..y * frame.line_size + w * count * dtype.size()])?;
        }
    } else {
        while let Some(row) = reader.next_row().map_err(bad)? {
            put(row.data())?;
        }
    }
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    Ok((file, array_file::Layout::BandsLast))
}

fn spill_jpeg(path: &Path, file: std::fs::File, id: &str) -> Result<(std::fs::File, array_file::Layout)> {
    use zune_core::bytestream::ZCursor;
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    let io = |e: std::io::Error| Error::Internal(format!("writing the spill file of {id}: {e}"));
    let data = std::fs::read(path).map_err(|e| Error::NotFound { what: format!("{id} ({e})") })?;
    let mut probe = zune_jpeg::JpegDecoder::new(ZCursor::new(&data));
    probe.decode_headers().map_err(|e| Error::corrupt(id, format!("JPEG: {e:?}")))?;
    let info = probe.info().ok_or_else(|| Error::corrupt(id, "JPEG without a frame"))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let gray = probe.input_colorspace() == Some(ColorSpace::Luma);
    let cs = if gray { ColorSpace::Luma } else { ColorSpace::RGB };
    let count = cs.num_components();
    // Decoded whole (no pure-Rust decoder streams rows): bounded by its own limit.
    let bytes = (w * h * count) as u64;
    if bytes > MAX_DECODE_BYTES {
        return Err(Error::LimitExceeded { limit: "JPEG decoded bytes", value: bytes, max: MAX_DECODE_BYTES });
    }
    let opts =
        DecoderOptions::default().set_strict_mode(true).set_max_width(w).set_max_height(h).jpeg_set_out_colorspace(cs);
    let pixels = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(&data), opts)
        .decode()
        .map_err(|e| Error::corrupt(id, format!("JPEG: {e:?}")))?;
    drop(data);
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(&crate::npy::header(DataType::Uint8, &spill_shape(h, w, count))).map_err(io)?;
    out.write_all(&pixels).map_err(io)?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    Ok((file, array_file::Layout::BandsLast))
}

impl BaseReader for PixelImage {
    fn info(&self) -> Info {
        self.describe()
    }

    fn crs(&self) -> Option<&Crs> {
        None
    }

    fn bounds(&self) -> Bounds {
        Bounds { left: 0.0, bottom: 0.0, right: self.width as f64, top: self.height as f64 }
    }

    fn geographic_bounds(&self) -> Bounds {
        Bounds { left: -180.0, bottom: -90.0, right: 180.0, top: 90.0 }
    }

    fn zoom_range(&self, _tms: &TileMatrixSet) -> (i32, i32) {
        (0, self.maxzoom(BLOCK) as i32)
    }

    fn palette(&self) -> Option<ColorMap> {
        None
    }

    async fn tile(&self, _req: TileRequest<'_>, _opts: &ReadOptions) -> Result<ImageData> {
        Err(Error::unsupported(
            "an image in pixel space has no TileMatrixSet tiles: use /image/{name}/tiles/{z}/{x}/{y}",
        ))
    }

    async fn part(&self, _req: PartRequest<'_>, _opts: &ReadOptions) -> Result<ImageData> {
        Err(Error::unsupported("an image in pixel space has no georeferenced parts"))
    }

    async fn preview(&self, size: OutputSize, opts: &ReadOptions) -> Result<ImageData> {
        PixelImage::preview(self, size, Downsample::Mean, opts).await
    }

    async fn point(&self, req: PointRequest<'_>, opts: &ReadOptions) -> Result<PointData> {
        let p = PixelImage::point(self, req.x, req.y, opts).await?;
        match req.expression {
            Some(e) => p.apply(e, self.dtype),
            None => Ok(p),
        }
    }
}
