//! GeoTIFF / COG datasets: the TIFF structure read once, then blocks on demand.
//!
//! ```no_run
//! # async fn run() -> imbrex_raster::Result<()> {
//! use std::sync::Arc;
//! use imbrex_raster::source::LocalSource;
//! use imbrex_raster::tiff::GeoTiff;
//! let src = Arc::new(LocalSource::open("cog.tif".as_ref())?);
//! let tif = GeoTiff::open(src, &Default::default()).await?;
//! println!("{} x {} x {} {}", tif.width(), tif.height(), tif.count(), tif.dtype());
//! # Ok(()) }
//! ```

pub mod decode;
pub mod geo;
pub mod ifd;
pub mod layout;
pub mod metadata;
pub mod tags;
pub mod validate;

use std::sync::Arc;

use bytes::Bytes;

pub use decode::DecodedBlock;
pub use geo::{Gcp, Georef};
pub use ifd::{ByteOrder, TiffStructure};
pub use layout::TiffImage;
pub use metadata::{BandMetadata, GdalMetadata};
pub use validate::CogValidation;

use crate::array::{Buffer, DataType};
use crate::cache::BlockCache;
use crate::dataset::OpenOptions;
use crate::error::{Error, Result};
use crate::source::{RangeSource, read_ranges};
use crate::with_buffer;

/// One resolution of a dataset: the full image or an overview, with its mask if any.
#[derive(Clone, Debug)]
pub struct Level {
    pub image: Arc<TiffImage>,
    pub source: Arc<dyn RangeSource>,
    pub mask: Option<MaskLevel>,
}

/// A transparency mask image at some resolution (internal IFD or `.msk` sidecar).
#[derive(Clone, Debug)]
pub struct MaskLevel {
    pub image: Arc<TiffImage>,
    pub source: Arc<dyn RangeSource>,
    /// From `.msk.ovr`: GDAL gives a `.ovr` overview this mask band (a `.msk`'s own
    /// overview attached to a `.ovr` level is not its mask band).
    pub overview_sidecar: bool,
}

/// How invalid pixels are marked (rio-tiler's `nodata_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum NodataType {
    Nodata,
    Alpha,
    Mask,
    None,
}

/// A GeoTIFF opened: structure, georeferencing and band descriptions.
#[derive(Debug)]
pub struct GeoTiff {
    source: Arc<dyn RangeSource>,
    /// `levels[0]` is the full-resolution image, then overviews from largest to smallest.
    pub levels: Vec<Level>,
    pub georef: Georef,
    pub nodata: Option<f64>,
    pub metadata: GdalMetadata,
    pub colorinterp: Vec<String>,
    pub bigtiff: bool,
    pub order: ByteOrder,
    /// Overviews come from a `.ovr` sidecar.
    pub external_overviews: bool,
    /// The mask comes from a `.msk` sidecar.
    pub external_mask: bool,
    pub header_bytes: u64,
    /// GDAL's ghost header declares the COG layout (`LAYOUT=COG` in IMAGE_STRUCTURE).
    pub cog_layout: bool,
    /// The main image's textual TIFF tags, as GDAL names them (`TIFFTAG_SOFTWARE`, ...).
    pub text_tags: Vec<(&'static str, String)>,
    pub(crate) blocks: BlockCache,
    pub(crate) cpu: crate::cpu::CpuPool,
}

/// Textual TIFF tags GDAL reports as dataset metadata.
const TEXT_TAGS: [(u16, &str); 7] = [
    (269, "TIFFTAG_DOCUMENTNAME"),
    (270, "TIFFTAG_IMAGEDESCRIPTION"),
    (305, "TIFFTAG_SOFTWARE"),
    (306, "TIFFTAG_DATETIME"),
    (315, "TIFFTAG_ARTIST"),
    (316, "TIFFTAG_HOSTCOMPUTER"),
    (33432, "TIFFTAG_COPYRIGHT"),
];

/// GDAL's COG ghost header (right after the TIFF header) with the four layout promises
/// GDAL checks before it reports `LAYOUT=COG`.
fn has_cog_ghost_header(head: &[u8]) -> bool {
    let bigtiff = matches!(head.get(2..4), Some([43, 0] | [0, 43]));
    let Some(rest) = head.get(if bigtiff { 16 } else { 8 }..) else { return false };
    let Some(body) = rest.strip_prefix(b"GDAL_STRUCTURAL_METADATA_SIZE=") else { return false };
    let text = String::from_utf8_lossy(&body[..body.len().min(1024)]);
    let promises = [
        "LAYOUT=IFDS_BEFORE_DATA",
        "BLOCK_ORDER=ROW_MAJOR",
        "BLOCK_LEADER=SIZE_AS_UINT4",
        "BLOCK_TRAILER=LAST_4_BYTES_REPEATED",
    ];
    promises.iter().all(|k| text.contains(k)) && !text.contains("KNOWN_INCOMPATIBLE_EDITION=YES")
}

impl GeoTiff {
    /// Open a TIFF: one request for typical COGs (more when IFDs or tag arrays lie beyond
    /// the first 64 KiB), plus cheap existence checks for `.ovr`/`.msk` next to local files.
    pub async fn open(source: Arc<dyn RangeSource>, opts: &OpenOptions) -> Result<GeoTiff> {
        let (head, size) = ifd::read_head(source.as_ref()).await?;
        GeoTiff::open_with_head(source, head, size, opts).await
    }

    /// Open when the first bytes are already in hand.
    pub async fn open_with_head(
        source: Arc<dyn RangeSource>,
        head: Bytes,
        size: Option<u64>,
        opts: &OpenOptions,
    ) -> Result<GeoTiff> {
        let max_header_bytes = opts.max_header_bytes;
        let sidecars = source.siblings_are_cheap() || opts.remote_sidecars;
        let id = source.id().to_string();
        let cog_layout = has_cog_ghost_header(&head);
        let st = ifd::read_structure(source.as_ref(), head, size, max_header_bytes).await?;
        let images: Vec<Arc<TiffImage>> = st
            .ifds
            .iter()
            .map(|raw| TiffImage::from_raw(raw, st.order, &id, st.file_size).map(Arc::new))
            .collect::<Result<_>>()?;
        let main_idx = images.iter().position(|i| !i.is_reduced() && !i.is_mask()).unwrap_or(0);
        let main = images[main_idx].clone();
        let georef = geo::read_georef(&st.ifds[main_idx]);
        let metadata =
            st.ifds[main_idx].string(tags::GDAL_METADATA).map(|x| GdalMetadata::parse(&x)).unwrap_or_default();
        let text_tags =
            TEXT_TAGS.iter().filter_map(|&(tag, name)| st.ifds[main_idx].string(tag).map(|v| (name, v))).collect();
        let float32 = main.dtype == DataType::Float32;
        let nodata = st.ifds[main_idx].string(tags::GDAL_NODATA).and_then(|t| metadata::parse_nodata(&t, float32));

        let mut levels = vec![Level { image: main.clone(), source: source.clone(), mask: None }];
        // GDAL's rules: reduced images with the main image's band count are overviews (file
        // order); a full-size mask is the main mask; reduced masks go to the first overview
        // of the same size that has none yet.
        for img in images.iter().filter(|i| i.is_reduced() && !i.is_mask()) {
            if img.samples == main.samples && levels.len() <= 30 {
                levels.push(Level { image: img.clone(), source: source.clone(), mask: None });
            }
        }
        for img in images.iter().filter(|i| i.is_mask()) {
            let byte = img.dtype == DataType::Uint8;
            let bands_ok = img.samples == 1 || img.samples == main.samples;
            if !byte || !bands_ok {
                continue;
            }
            let target = if img.is_reduced() {
                levels[1..]
                    .iter_mut()
                    .find(|l| l.mask.is_none() && l.image.width == img.width && l.image.height == img.height)
            } else {
                levels
                    .first_mut()
                    .filter(|l| l.mask.is_none() && l.image.width == img.width && l.image.height == img.height)
            };
            if let Some(l) = target {
                l.mask = Some(MaskLevel { image: img.clone(), source: source.clone(), overview_sidecar: false });
            }
        }

        let mut external_overviews = false;
        if levels.len() == 1
            && sidecars
            && let Some(ovr) = source.sibling(".ovr").await
        {
            let (head, size) = ifd::read_head(ovr.as_ref()).await?;
            let ost = ifd::read_structure(ovr.as_ref(), head, size, max_header_bytes).await?;
            for raw in &ost.ifds {
                let img = Arc::new(TiffImage::from_raw(raw, ost.order, ovr.id(), ost.file_size)?);
                if !img.is_mask() && img.samples == main.samples {
                    levels.push(Level { image: img, source: ovr.clone(), mask: None });
                    external_overviews = true;
                }
            }
        }
        let mut external_mask = false;
        if levels[0].mask.is_none()
            && sidecars
            && let Some(msk) = source.sibling(".msk").await
        {
            let (head, size) = ifd::read_head(msk.as_ref()).await?;
            let mst = ifd::read_structure(msk.as_ref(), head, size, max_header_bytes).await?;
            for raw in &mst.ifds {
                let img = Arc::new(TiffImage::from_raw(raw, mst.order, msk.id(), mst.file_size)?);
                if let Some(l) = levels
                    .iter_mut()
                    .find(|l| l.mask.is_none() && l.image.width == img.width && l.image.height == img.height)
                {
                    l.mask = Some(MaskLevel { image: img, source: msk.clone(), overview_sidecar: false });
                    external_mask = true;
                }
            }
        }
        // The `.msk`'s own overviews in `.msk.ovr` (what GDAL builds next to a `.ovr`): GDAL
        // reads the mask band's overviews from there.
        if external_mask && let Some(movr) = source.sibling(".msk.ovr").await {
            let (head, size) = ifd::read_head(movr.as_ref()).await?;
            let mst = ifd::read_structure(movr.as_ref(), head, size, max_header_bytes).await?;
            for raw in &mst.ifds {
                let img = Arc::new(TiffImage::from_raw(raw, mst.order, movr.id(), mst.file_size)?);
                let byte = img.dtype == DataType::Uint8 && img.samples == 1;
                if let Some(l) = levels[1..]
                    .iter_mut()
                    .find(|l| byte && l.mask.is_none() && l.image.width == img.width && l.image.height == img.height)
                {
                    l.mask = Some(MaskLevel { image: img, source: movr.clone(), overview_sidecar: true });
                }
            }
        }

        let colorinterp = color_interpretation(&main, &metadata);
        Ok(GeoTiff {
            source,
            levels,
            georef,
            nodata,
            metadata,
            colorinterp,
            bigtiff: st.bigtiff,
            order: st.order,
            external_overviews,
            external_mask,
            header_bytes: st.header_bytes,
            cog_layout,
            text_tags,
            blocks: opts.blocks.clone(),
            cpu: opts.cpu.clone(),
        })
    }

    pub fn source(&self) -> &Arc<dyn RangeSource> {
        &self.source
    }

    pub fn id(&self) -> &str {
        self.source.id()
    }

    pub fn main(&self) -> &TiffImage {
        &self.levels[0].image
    }

    pub fn width(&self) -> usize {
        self.main().width as usize
    }

    pub fn height(&self) -> usize {
        self.main().height as usize
    }

    /// Number of bands.
    pub fn count(&self) -> usize {
        self.main().samples as usize
    }

    pub fn dtype(&self) -> DataType {
        self.main().dtype
    }

    /// Index (0-based) of the alpha band, if any.
    pub fn alpha_band(&self) -> Option<usize> {
        self.colorinterp.iter().position(|c| c == "alpha")
    }

    /// True when the full-resolution image has a per-dataset mask (internal or `.msk`).
    pub fn has_mask(&self) -> bool {
        self.levels[0].mask.is_some()
    }

    /// rio-tiler's `nodata_type`.
    pub fn nodata_type(&self) -> NodataType {
        if self.nodata.is_some() {
            NodataType::Nodata
        } else if self.alpha_band().is_some() {
            NodataType::Alpha
        } else if self.has_mask() {
            NodataType::Mask
        } else {
            NodataType::None
        }
    }

    /// Overview decimation factors as rasterio reports them (`round(width / ovr_width)`).
    pub fn overview_factors(&self) -> Vec<u32> {
        let w = self.width() as f64;
        self.levels[1..].iter().map(|l| round_half_even(w / l.image.width as f64) as u32).collect()
    }

    /// Per-band metadata from `GDAL_METADATA`.
    pub fn band_metadata(&self, band: usize) -> BandMetadata {
        self.metadata.bands.get(&band).cloned().unwrap_or_default()
    }

    /// Scale of each band (1 when unset).
    pub fn scales(&self) -> Vec<f64> {
        (0..self.count()).map(|b| self.metadata.bands.get(&b).and_then(|m| m.scale).unwrap_or(1.0)).collect()
    }

    /// Offset of each band (0 when unset).
    pub fn offsets(&self) -> Vec<f64> {
        (0..self.count()).map(|b| self.metadata.bands.get(&b).and_then(|m| m.offset).unwrap_or(0.0)).collect()
    }

    /// The palette of band 1 (photometric palette, or GDAL's inverted gray ramp for
    /// 8-bit MinIsWhite), with the nodata entry transparent as GDAL makes it.
    /// The dataset's default-domain metadata as GDAL reports it (rasterio's `tags()`):
    /// textual TIFF tags, GDAL_METADATA dataset items, then `AREA_OR_POINT` when
    /// georeferenced.
    pub fn image_metadata(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self.text_tags.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        for (domain, name, value) in &self.metadata.dataset {
            if domain.is_empty() {
                out.push((name.clone(), value.clone()));
            }
        }
        if self.georef.crs.is_some() || self.georef.transform.is_some() {
            let aop = if self.georef.pixel_is_point { "Point" } else { "Area" };
            out.push(("AREA_OR_POINT".into(), aop.into()));
        }
        out
    }

    /// GDAL's IMAGE_STRUCTURE domain: layout, compression (with GDAL's names), interleave
    /// and predictor.
    pub fn image_structure(&self) -> Vec<(String, String)> {
        use tags::{compression as c, photometric};
        let main = self.main();
        let mut out = Vec::new();
        if self.cog_layout {
            out.push(("LAYOUT".into(), "COG".into()));
        }
        let lerc_add = main.lerc_params.as_ref().and_then(|p| p.get(1).copied());
        let name = match main.compression {
            c::NONE => None,
            c::JPEG if main.photometric == photometric::YCBCR => Some("YCbCr JPEG".to_string()),
            c::LERC if lerc_add == Some(1) => Some("LERC_DEFLATE".into()),
            c::LERC if lerc_add == Some(2) => Some("LERC_ZSTD".into()),
            code => c::name(code).map(str::to_uppercase),
        };
        if let Some(n) = name {
            out.push(("COMPRESSION".into(), n));
        }
        if main.compression == c::LERC {
            out.push(("LERC_VERSION".into(), "2.4".into()));
        }
        let interleave = if !main.planar && self.count() != 1 { "PIXEL" } else { "BAND" };
        out.push(("INTERLEAVE".into(), interleave.into()));
        if main.photometric == photometric::MIN_IS_WHITE {
            out.push(("MINISWHITE".into(), "YES".into()));
        }
        // GDAL reports a predictor for the codecs that take one.
        let takes_predictor = matches!(main.compression, c::LZW | c::ADOBE_DEFLATE | c::DEFLATE | c::ZSTD | c::LZMA);
        if takes_predictor && main.predictor > 1 {
            out.push(("PREDICTOR".into(), main.predictor.to_string()));
        }
        out
    }

    pub fn colormap(&self) -> Option<Vec<[u8; 4]>> {
        let main = self.main();
        let mut cm = main.colormap.clone().or_else(|| {
            (main.photometric == tags::photometric::MIN_IS_WHITE && main.bits <= 16 && main.bits > 1).then(|| {
                let n = 1usize << main.bits;
                (0..n)
                    .map(|i| {
                        let v = (255 * (n - 1 - i) / (n - 1)) as u8;
                        [v, v, v, 255]
                    })
                    .collect()
            })
        })?;
        if let Some(nd) = self.nodata
            && nd >= 0.0
            && (nd as usize) < cm.len()
            && main.colormap.is_some()
        {
            cm[nd as usize][3] = 0;
        }
        Some(cm)
    }

    /// Read a window of a level at its native resolution, for the given bands (0-based).
    /// The result is band-sequential: `bands.len()` x `h` x `w`. Pixels of sparse blocks are
    /// the nodata value (or 0).
    pub async fn read_window(
        &self,
        level: usize,
        x0: usize,
        y0: usize,
        w: usize,
        h: usize,
        bands: &[usize],
    ) -> Result<Buffer> {
        let lvl = &self.levels[level];
        let img = lvl.image.clone();
        if x0 + w > img.width as usize || y0 + h > img.height as usize || w == 0 || h == 0 {
            return Err(Error::InvalidParameter {
                name: "window",
                reason: format!("{w}x{h}+{x0}+{y0} is outside the {}x{} image", img.width, img.height),
            });
        }
        let fill = self.nodata.unwrap_or(0.0);
        let planes: Vec<u16> = if img.planar { bands.iter().map(|&b| b as u16).collect() } else { vec![0] };
        let bytes = (w * h * bands.len() * img.dtype.size()) as u64;
        check_decoded_bytes(bytes)?;
        let blocks = block_list(&img, x0, y0, w, h, &planes);
        let decoded = self.blocks.get_or_decode(&self.cpu, &lvl.source, &img, &blocks).await?;
        let bw = img.block_width as usize;
        let bh = img.block_height as usize;
        let nb = bands.len();
        let mut out = Buffer::filled(img.dtype, nb * w * h, fill);
        with_buffer!(&mut out, dst, T => {
            for (key, block) in blocks.iter().zip(&decoded) {
                let Some(block) = block else { continue };
                let Some(src) = block.data.as_slice::<T>() else {
                    return Err(Error::corrupt(self.id(), "decoded block type does not match the image"));
                };
                let (bx, by, plane) = (key.0 as usize, key.1 as usize, key.2 as usize);
                if block.width != img.block_width || block.rows != img.block_rows(key.1) || src.len() < block.width as usize * block.rows as usize * block.spp {
                    return Err(Error::corrupt(self.id(), "decoded block does not fit its image"));
                }
                // Intersection of the block with the window, in image coordinates.
                let ix0 = (bx * bw).max(x0);
                let ix1 = ((bx + 1) * bw).min(x0 + w).min(img.width as usize);
                let iy0 = (by * bh).max(y0);
                let iy1 = (by * bh + block.rows as usize).min(y0 + h);
                for (oi, &band) in bands.iter().enumerate() {
                    if img.planar && band != plane {
                        continue;
                    }
                    let sample = if img.planar { 0 } else { band };
                    for y in iy0..iy1 {
                        let brow = (y - by * bh) * block.width as usize;
                        let orow = oi * w * h + (y - y0) * w;
                        for x in ix0..ix1 {
                            dst[orow + x - x0] = src[(brow + x - bx * bw) * block.spp + sample];
                        }
                    }
                }
            }
            Ok::<(), Error>(())
        })?;
        Ok(out)
    }

    /// Read a window of a level's mask (255 valid, 0 masked) at native resolution, or
    /// `None` when the level has no mask.
    pub async fn read_mask_window(
        &self,
        level: usize,
        x0: usize,
        y0: usize,
        w: usize,
        h: usize,
    ) -> Result<Option<Vec<u8>>> {
        let Some(mask) = &self.levels[level].mask else { return Ok(None) };
        let img = mask.image.clone();
        if x0 + w > img.width as usize || y0 + h > img.height as usize {
            return Err(Error::InvalidParameter { name: "window", reason: "outside the mask".into() });
        }
        let blocks = block_list(&img, x0, y0, w, h, &[0]);
        let decoded = self.blocks.get_or_decode(&self.cpu, &mask.source, &img, &blocks).await?;
        let (bw, bh) = (img.block_width as usize, img.block_height as usize);
        let mut out = vec![0u8; w * h];
        for (key, block) in blocks.iter().zip(&decoded) {
            let Some(block) = block else { continue };
            let src =
                block.data.as_slice::<u8>().ok_or_else(|| Error::corrupt(mask.source.id(), "mask is not 8-bit"))?;
            let (bx, by) = (key.0 as usize, key.1 as usize);
            let ix0 = (bx * bw).max(x0);
            let ix1 = ((bx + 1) * bw).min(x0 + w).min(img.width as usize);
            let iy0 = (by * bh).max(y0);
            let iy1 = (by * bh + block.rows as usize).min(y0 + h);
            for y in iy0..iy1 {
                let brow = (y - by * bh) * block.width as usize;
                for x in ix0..ix1 {
                    // 1-bit masks decode to 0/1; GDAL exposes them as 0/255.
                    let v = src[(brow + x - bx * bw) * block.spp];
                    out[(y - y0) * w + x - x0] = if v != 0 { 255 } else { 0 };
                }
            }
        }
        Ok(Some(out))
    }
}

impl GeoTiff {
    /// Sample a level at the given columns and rows (a nearest-neighbour decimation plan):
    /// band-sequential `bands.len()` x `rows.len()` x `cols.len()`. Only the blocks holding a
    /// sampled pixel are fetched.
    pub async fn sample(&self, level: usize, cols: &[usize], rows: &[usize], bands: &[usize]) -> Result<Buffer> {
        let lvl = &self.levels[level];
        let img = lvl.image.clone();
        check_sampling(&img, cols, rows)?;
        let planes: Vec<u16> = if img.planar { bands.iter().map(|&b| b as u16).collect() } else { vec![0] };
        let grid = sampling(&img, cols, rows, &planes)?;
        let decoded = self.blocks.get_or_decode(&self.cpu, &lvl.source, &img, &grid.blocks).await?;
        let (w, h) = (cols.len(), rows.len());
        let fill = self.nodata.unwrap_or(0.0);
        let mut out = Buffer::filled(img.dtype, bands.len() * w * h, fill);
        let cells = grid.nbx * grid.nby;
        with_buffer!(&mut out, dst, T => {
            for (oi, &band) in bands.iter().enumerate() {
                let (plane, sample) = if img.planar { (oi, 0) } else { (0, band) };
                // This plane's blocks as typed slices, looked up by grid position per pixel.
                let mut typed: Vec<Option<(&[T], usize, usize)>> = Vec::with_capacity(cells);
                for d in &decoded[plane * cells..(plane + 1) * cells] {
                    typed.push(match d {
                        Some(b) => Some((
                            b.data.as_slice::<T>().ok_or_else(|| {
                                Error::corrupt(self.id(), "decoded block type does not match the image")
                            })?,
                            b.width as usize,
                            b.spp,
                        )),
                        None => None,
                    });
                }
                let dst = &mut dst[oi * w * h..(oi + 1) * w * h];
                for ((out_row, &byi), &yin) in dst.chunks_exact_mut(w.max(1)).zip(&grid.row_block).zip(&grid.row_in) {
                    let blocks = &typed[byi * grid.nbx..(byi + 1) * grid.nbx];
                    for ((o, &bxi), &xin) in out_row.iter_mut().zip(&grid.col_block).zip(&grid.col_in) {
                        if let Some((src, bw, spp)) = blocks[bxi]
                            && let Some(v) = src.get((yin * bw + xin) * spp + sample)
                        {
                            *o = *v;
                        }
                    }
                }
            }
            Ok::<(), Error>(())
        })?;
        Ok(out)
    }

    /// Sample a level's mask (255 valid, 0 masked) like [`GeoTiff::sample`]; `None` when the
    /// level has no mask.
    pub async fn sample_mask(&self, level: usize, cols: &[usize], rows: &[usize]) -> Result<Option<Vec<u8>>> {
        let Some(mask) = &self.levels[level].mask else { return Ok(None) };
        let img = mask.image.clone();
        check_sampling(&img, cols, rows)?;
        let grid = sampling(&img, cols, rows, &[0])?;
        let decoded = self.blocks.get_or_decode(&self.cpu, &mask.source, &img, &grid.blocks).await?;
        let mut typed: Vec<Option<(&[u8], usize, usize)>> = Vec::with_capacity(decoded.len());
        for d in &decoded {
            typed.push(match d {
                Some(b) => Some((
                    b.data.as_slice::<u8>().ok_or_else(|| Error::corrupt(mask.source.id(), "mask is not 8-bit"))?,
                    b.width as usize,
                    b.spp,
                )),
                None => None,
            });
        }
        let w = cols.len();
        let mut out = vec![0u8; w * rows.len()];
        for ((out_row, &byi), &yin) in out.chunks_exact_mut(w.max(1)).zip(&grid.row_block).zip(&grid.row_in) {
            let blocks = &typed[byi * grid.nbx..(byi + 1) * grid.nbx];
            for ((o, &bxi), &xin) in out_row.iter_mut().zip(&grid.col_block).zip(&grid.col_in) {
                if let Some((src, bw, spp)) = blocks[bxi]
                    && src.get((yin * bw + xin) * spp).is_some_and(|&v| v != 0)
                {
                    *o = 255;
                }
            }
        }
        Ok(Some(out))
    }
}

/// Refuse sampling positions outside the level.
fn check_sampling(img: &TiffImage, cols: &[usize], rows: &[usize]) -> Result<()> {
    if cols.iter().any(|&c| c >= img.width as usize) || rows.iter().any(|&r| r >= img.height as usize) {
        return Err(Error::InvalidParameter { name: "window", reason: "sampling outside the image".into() });
    }
    Ok(())
}

/// Most decoded bytes one read may need: a request above it (a huge image without
/// overviews read at low resolution) is refused rather than decoded.
pub const MAX_DECODED_BYTES: u64 = 1 << 30;

/// Refuse a read that would decode more than [`MAX_DECODED_BYTES`].
pub(crate) fn check_decoded_bytes(bytes: u64) -> Result<()> {
    if bytes > MAX_DECODED_BYTES {
        return Err(Error::LimitExceeded { limit: "decoded bytes per read", value: bytes, max: MAX_DECODED_BYTES });
    }
    Ok(())
}

/// The blocks a sampling touches, as a grid: the sorted block columns and rows, every
/// (plane, row, column) block in that order, and for each sampled column and row the
/// position of its block in the grid and its offset inside the block. Lookups per pixel
/// are then two array reads, not a hash.
struct SampleGrid {
    blocks: Vec<(u32, u32, u16)>,
    nbx: usize,
    nby: usize,
    col_block: Vec<usize>,
    col_in: Vec<usize>,
    row_block: Vec<usize>,
    row_in: Vec<usize>,
}

fn sampling(img: &TiffImage, cols: &[usize], rows: &[usize], planes: &[u16]) -> Result<SampleGrid> {
    let (bw, bh) = (img.block_width as usize, img.block_height as usize);
    let mut bxs: Vec<usize> = cols.iter().map(|&c| c / bw).collect();
    bxs.sort_unstable();
    bxs.dedup();
    let mut bys: Vec<usize> = rows.iter().map(|&r| r / bh).collect();
    bys.sort_unstable();
    bys.dedup();
    let n = (bxs.len() * bys.len() * planes.len()) as u64;
    let bytes = n * (bw * bh) as u64 * img.samples_per_block_pixel() as u64 * img.dtype.size() as u64;
    check_decoded_bytes(bytes)?;
    let mut blocks = Vec::with_capacity(n as usize);
    for &p in planes {
        for &by in &bys {
            for &bx in &bxs {
                blocks.push((bx as u32, by as u32, p));
            }
        }
    }
    let position = |sorted: &[usize], v: usize| sorted.binary_search(&v).unwrap_or(0);
    Ok(SampleGrid {
        nbx: bxs.len(),
        nby: bys.len(),
        col_block: cols.iter().map(|&c| position(&bxs, c / bw)).collect(),
        col_in: cols.iter().map(|&c| c % bw).collect(),
        row_block: rows.iter().map(|&r| position(&bys, r / bh)).collect(),
        row_in: rows.iter().map(|&r| r % bh).collect(),
        blocks,
    })
}

/// Blocks (x, y, plane) touched by a window.
fn block_list(img: &TiffImage, x0: usize, y0: usize, w: usize, h: usize, planes: &[u16]) -> Vec<(u32, u32, u16)> {
    let (bw, bh) = (img.block_width as usize, img.block_height as usize);
    let mut out = Vec::new();
    for &p in planes {
        for by in y0 / bh..=(y0 + h - 1) / bh {
            for bx in x0 / bw..=(x0 + w - 1) / bw {
                out.push((bx as u32, by as u32, p));
            }
        }
    }
    out
}

/// Colour interpretation of each band, as GDAL reports it.
fn color_interpretation(main: &TiffImage, md: &GdalMetadata) -> Vec<String> {
    use tags::photometric as p;
    let n = main.samples as usize;
    let has_palette =
        main.colormap.is_some() || (main.photometric == p::MIN_IS_WHITE && main.bits > 1 && main.bits <= 16);
    let mut ci: Vec<String> = (0..n).map(|_| "undefined".to_string()).collect();
    match main.photometric {
        p::RGB | p::YCBCR if n >= 3 => {
            ci[0] = "red".into();
            ci[1] = "green".into();
            ci[2] = "blue".into();
        }
        p::SEPARATED if n >= 4 => {
            for (i, c) in ["cyan", "magenta", "yellow", "black"].iter().enumerate() {
                ci[i] = c.to_string();
            }
        }
        _ if has_palette && n == 1 => ci[0] = "palette".into(),
        _ => ci[0] = "gray".into(),
    }
    // Extra samples of type 1/2 (associated/unassociated alpha) are alpha bands.
    let base = n - main.extra_samples.len().min(n);
    for (i, &e) in main.extra_samples.iter().enumerate() {
        if (e == 1 || e == 2) && base + i < n {
            ci[base + i] = "alpha".into();
        }
    }
    for (band, m) in &md.bands {
        if let Some(c) = &m.colorinterp
            && *band < n
        {
            ci[*band] = c.clone();
        }
    }
    ci
}

/// Python's `round` (half to even).
pub(crate) fn round_half_even(v: f64) -> f64 {
    let r = v.round();
    if (v - v.trunc()).abs() == 0.5 { 2.0 * (v / 2.0).round() } else { r }
}

/// Fetch and decode blocks (used by the block cache on a miss).
pub(crate) async fn fetch_and_decode(
    cpu: &crate::cpu::CpuPool,
    source: &Arc<dyn RangeSource>,
    img: &Arc<TiffImage>,
    keys: &[(u32, u32, u16)],
) -> Result<Vec<Option<Arc<DecodedBlock>>>> {
    let indices: Vec<usize> = keys.iter().map(|&(bx, by, p)| img.block_index(bx, by, p)).collect();
    let ranges: Vec<_> = indices.iter().map(|&i| img.block_range(i)).collect();
    let wanted: Vec<_> = ranges.iter().flatten().cloned().collect();
    let fetched = read_ranges(source.as_ref(), &wanted).await?;
    let id = source.id().to_string();
    let img = img.clone();
    let keys = keys.to_vec();
    cpu.try_run(move || {
        let mut it = fetched.into_iter();
        let mut out = Vec::with_capacity(keys.len());
        for (k, r) in keys.iter().zip(&ranges) {
            if r.is_none() {
                out.push(None);
                continue;
            }
            // No one waits for these blocks any more: stop (the result is thrown away).
            if crate::cpu::abandoned() {
                return Err(Error::Overloaded);
            }
            let data = it.next().expect("one buffer per range");
            out.push(Some(Arc::new(decode::decode_block(&img, &data, k.1, &id)?)));
        }
        Ok(out)
    })
    .await
}

/// A helper for tests and tools: a whole level as a buffer.
pub async fn read_level(tif: &GeoTiff, level: usize) -> Result<Buffer> {
    let img = &tif.levels[level].image;
    let bands: Vec<usize> = (0..img.samples as usize).collect();
    tif.read_window(level, 0, 0, img.width as usize, img.height as usize, &bands).await
}
