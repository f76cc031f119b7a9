//! One opened raster file, whatever its format: a GeoTIFF/COG or a plain PNG/JPEG image.

use std::sync::Arc;

use crate::array::{Buffer, DataType};
use crate::error::{Error, Result};
use crate::plain_image::{self, MemoryImage};
use crate::reader::GcpVrt;
use crate::source::RangeSource;
use crate::tiff::{self, BandMetadata, GeoTiff, Georef, NodataType};

/// Size bounds applied while opening, and the block cache the datasets share.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// Largest TIFF header (IFDs and tag arrays) read.
    pub max_header_bytes: u64,
    /// Largest PNG/JPEG file decoded into memory.
    pub max_image_bytes: u64,
    /// Look for `.ovr`/`.msk` sidecars next to remote files too (costs a request each;
    /// local sidecars are always found).
    pub remote_sidecars: bool,
    /// Decoded blocks of every dataset opened with these options.
    pub blocks: crate::cache::BlockCache,
    /// Where the datasets decode blocks and warp.
    pub cpu: crate::cpu::CpuPool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            max_header_bytes: 16 * 1024 * 1024,
            max_image_bytes: 256 * 1024 * 1024,
            remote_sidecars: false,
            blocks: crate::cache::BlockCache::new(crate::cache::DEFAULT_BLOCK_CACHE_BYTES),
            cpu: crate::cpu::CpuPool::default(),
        }
    }
}

/// A raster file opened.
#[derive(Debug)]
pub enum Dataset {
    Tiff(Box<GeoTiff>),
    Image(MemoryImage, Arc<dyn RangeSource>),
    /// A GCP-only GeoTIFF on the warped VRT GDAL puts it on.
    Warped(Box<GcpVrt>),
}

impl Dataset {
    /// Roughly what the opened dataset holds in memory: its parsed header (block offsets
    /// and counts, tags), or the decoded pixels of an image read whole. What the reader
    /// cache is bounded by.
    pub fn held_bytes(&self) -> u64 {
        const FIXED: u64 = 4096;
        match self {
            Dataset::Tiff(t) => FIXED + t.header_bytes,
            Dataset::Image(i, _) => {
                FIXED + i.levels.iter().map(|l| (l.data.len() * l.data.dtype().size()) as u64).sum::<u64>()
            }
            Dataset::Warped(v) => FIXED + v.source().held_bytes(),
        }
    }

    /// Open by content, not by name (a PNG called `.jpg` is a PNG).
    pub async fn open(source: Arc<dyn RangeSource>, opts: &OpenOptions) -> Result<Dataset> {
        let (head, size) = tiff::ifd::read_head(source.as_ref()).await?;
        if tiff::ifd::is_tiff(&head) {
            return Ok(Dataset::Tiff(Box::new(GeoTiff::open_with_head(source, head, size, opts).await?)));
        }
        if plain_image::is_image(&head) {
            let img = MemoryImage::open(source.as_ref(), head, size, opts).await?;
            return Ok(Dataset::Image(img, source));
        }
        Err(Error::unsupported(format!("{} is not a TIFF, PNG or JPEG file", source.id())))
    }

    /// The pool the dataset computes on (plain images are decoded when opened: none).
    pub fn cpu(&self) -> Option<&crate::cpu::CpuPool> {
        match self {
            Dataset::Tiff(t) => Some(&t.cpu),
            Dataset::Image(..) => None,
            Dataset::Warped(v) => v.source().cpu(),
        }
    }

    pub fn source(&self) -> &Arc<dyn RangeSource> {
        match self {
            Dataset::Tiff(t) => t.source(),
            Dataset::Image(_, s) => s,
            Dataset::Warped(v) => v.source().source(),
        }
    }

    /// GDAL's driver name.
    pub fn driver(&self) -> &'static str {
        match self {
            Dataset::Tiff(_) => "GTiff",
            Dataset::Image(i, _) => i.driver,
            Dataset::Warped(_) => "VRT",
        }
    }

    pub fn width(&self) -> usize {
        match self {
            Dataset::Tiff(t) => t.width(),
            Dataset::Image(i, _) => i.width(),
            Dataset::Warped(v) => v.width(),
        }
    }

    pub fn height(&self) -> usize {
        match self {
            Dataset::Tiff(t) => t.height(),
            Dataset::Image(i, _) => i.height(),
            Dataset::Warped(v) => v.height(),
        }
    }

    pub fn count(&self) -> usize {
        match self {
            Dataset::Tiff(t) => t.count(),
            Dataset::Image(i, _) => i.count,
            Dataset::Warped(v) => v.count(),
        }
    }

    pub fn dtype(&self) -> DataType {
        match self {
            Dataset::Tiff(t) => t.dtype(),
            Dataset::Image(i, _) => i.dtype,
            Dataset::Warped(v) => v.dtype(),
        }
    }

    pub fn nodata(&self) -> Option<f64> {
        match self {
            Dataset::Tiff(t) => t.nodata,
            Dataset::Image(i, _) => i.nodata,
            Dataset::Warped(v) => v.source().nodata(),
        }
    }

    /// The palette of band 1, when it has one.
    pub fn colormap(&self) -> Option<Vec<[u8; 4]>> {
        match self {
            Dataset::Tiff(t) => t.colormap(),
            Dataset::Image(i, _) => i.colormap.clone(),
            Dataset::Warped(v) => v.source().colormap(),
        }
    }

    pub fn colorinterp(&self) -> Vec<String> {
        match self {
            Dataset::Tiff(t) => t.colorinterp.clone(),
            Dataset::Image(i, _) => i.colorinterp.clone(),
            Dataset::Warped(v) => v.colorinterp(),
        }
    }

    pub fn georef(&self) -> Georef {
        match self {
            Dataset::Tiff(t) => t.georef.clone(),
            Dataset::Image(..) => Georef::default(),
            Dataset::Warped(v) => {
                Georef { crs: Some(v.crs().clone()), transform: Some(v.transform()), ..Georef::default() }
            }
        }
    }

    pub fn nodata_type(&self) -> NodataType {
        match self {
            Dataset::Tiff(t) => t.nodata_type(),
            Dataset::Image(i, _) if i.colorinterp.iter().any(|c| c == "alpha") => NodataType::Alpha,
            Dataset::Image(i, _) if i.nodata.is_some() => NodataType::Nodata,
            Dataset::Image(..) => NodataType::None,
            // The VRT's bands have no mask: nodata, else the alpha band (added or not).
            Dataset::Warped(v) if v.source().nodata().is_some() => NodataType::Nodata,
            Dataset::Warped(_) => NodataType::Alpha,
        }
    }

    /// Number of resolution levels (full resolution plus overviews).
    pub fn level_count(&self) -> usize {
        match self {
            Dataset::Tiff(t) => t.levels.len(),
            Dataset::Image(i, _) => i.levels.len(),
            Dataset::Warped(v) => v.levels().len(),
        }
    }

    /// Size of a level.
    pub fn level_size(&self, level: usize) -> (usize, usize) {
        match self {
            Dataset::Tiff(t) => (t.levels[level].image.width as usize, t.levels[level].image.height as usize),
            Dataset::Image(i, _) => (i.levels[level].width, i.levels[level].height),
            Dataset::Warped(v) => v.levels()[level],
        }
    }

    /// Overview factors as rasterio reports them.
    pub fn overview_factors(&self) -> Vec<u32> {
        let w = self.width() as f64;
        (1..self.level_count()).map(|l| tiff::round_half_even(w / self.level_size(l).0 as f64) as u32).collect()
    }

    /// Read a window of a level at native resolution (band-sequential).
    pub async fn read_window(
        &self,
        level: usize,
        x0: usize,
        y0: usize,
        w: usize,
        h: usize,
        bands: &[usize],
    ) -> Result<Buffer> {
        match self {
            Dataset::Tiff(t) => t.read_window(level, x0, y0, w, h, bands).await,
            Dataset::Image(i, _) => i.read_window(level, x0, y0, w, h, bands),
            // Boxed: the VRT reads its source through `Dataset` again.
            Dataset::Warped(v) => Box::pin(v.read_window(level, x0, y0, w, h, bands)).await,
        }
    }

    /// Read a window of a level's mask, when it has one.
    pub async fn read_mask_window(
        &self,
        level: usize,
        x0: usize,
        y0: usize,
        w: usize,
        h: usize,
    ) -> Result<Option<Vec<u8>>> {
        match self {
            Dataset::Tiff(t) => t.read_mask_window(level, x0, y0, w, h).await,
            Dataset::Image(..) | Dataset::Warped(_) => Ok(None),
        }
    }

    /// Sample a level at the given columns and rows (band-sequential output).
    pub async fn sample(&self, level: usize, cols: &[usize], rows: &[usize], bands: &[usize]) -> Result<Buffer> {
        match self {
            Dataset::Tiff(t) => t.sample(level, cols, rows, bands).await,
            Dataset::Image(i, _) => i.sample(level, cols, rows, bands),
            Dataset::Warped(v) => Box::pin(v.sample(level, cols, rows, bands)).await,
        }
    }

    /// Sample a level's mask, when it has one.
    pub async fn sample_mask(&self, level: usize, cols: &[usize], rows: &[usize]) -> Result<Option<Vec<u8>>> {
        match self {
            Dataset::Tiff(t) => t.sample_mask(level, cols, rows).await,
            Dataset::Image(..) | Dataset::Warped(_) => Ok(None),
        }
    }

    /// Whether a level has a mask of its own.
    pub fn level_has_mask(&self, level: usize) -> bool {
        match self {
            Dataset::Tiff(t) => t.levels[level].mask.is_some(),
            Dataset::Image(..) | Dataset::Warped(_) => false,
        }
    }

    /// Whether GDAL's mask band of a level's bands is a per-dataset mask: the dataset's mask
    /// at full resolution; for an overview inside the file, the mask's overview of the same
    /// size if there is one. An overview from a `.ovr` sidecar is a dataset of its own,
    /// whose mask band is the `.msk.ovr` overview of its size when there is one (measured on
    /// GDAL 3.10.3), else none.
    pub fn level_mask_is_per_dataset(&self, level: usize) -> bool {
        match self {
            Dataset::Tiff(t) => {
                let l = &t.levels[level];
                l.mask.as_ref().is_some_and(|m| level == 0 || Arc::ptr_eq(&l.source, t.source()) || m.overview_sidecar)
            }
            Dataset::Image(..) | Dataset::Warped(_) => false,
        }
    }

    /// Samples of all bands stored together per pixel (GDAL's `INTERLEAVE=PIXEL`).
    pub fn pixel_interleaved(&self) -> bool {
        match self {
            Dataset::Tiff(t) => !t.main().planar && t.count() > 1,
            Dataset::Image(i, _) => i.count > 1,
            Dataset::Warped(_) => false,
        }
    }

    /// The GeoTIFF behind the dataset (for a GCP file, the file itself, not its VRT).
    pub fn tiff(&self) -> Option<&GeoTiff> {
        match self {
            Dataset::Tiff(t) => Some(t),
            Dataset::Image(..) => None,
            Dataset::Warped(v) => v.source().tiff(),
        }
    }

    /// A band's metadata (0-based band): description, scale/offset, default-domain items.
    pub fn band_metadata(&self, band: usize) -> BandMetadata {
        match self {
            Dataset::Tiff(t) => t.band_metadata(band),
            Dataset::Image(..) => BandMetadata::default(),
            Dataset::Warped(v) => v.band_metadata(band),
        }
    }

    /// Scale of each band (1 when unset).
    pub fn scales(&self) -> Vec<f64> {
        (0..self.count()).map(|b| self.band_metadata(b).scale.unwrap_or(1.0)).collect()
    }

    /// Offset of each band (0 when unset).
    pub fn offsets(&self) -> Vec<f64> {
        (0..self.count()).map(|b| self.band_metadata(b).offset.unwrap_or(0.0)).collect()
    }

    /// Sizes of every level (full resolution first).
    pub fn level_sizes(&self) -> Vec<(usize, usize)> {
        (0..self.level_count()).map(|l| self.level_size(l)).collect()
    }

    /// 0-based index of the first alpha band.
    pub fn alpha_band(&self) -> Option<usize> {
        self.colorinterp().iter().position(|c| c == "alpha")
    }

    /// GDAL's mask band of a band (0-based), in `GDALRasterBand::GetMaskBand`'s order of
    /// precedence: a mask (internal or `.msk`), the band's nodata value when its type can
    /// hold it, an alpha band (only the last of 2 or 4 Byte/UInt16 bands, for the others),
    /// else all valid. GDAL's resampled reads weight samples with it, whatever rio-tiler
    /// masks afterwards.
    /// An overview's bands have the overview's own mask band: the dataset mask's overview
    /// of that size if there is one, else the same rules on the overview.
    pub fn gdal_mask(&self, level: usize, band: usize) -> GdalMask {
        if self.level_mask_is_per_dataset(level) {
            return GdalMask::PerDataset;
        }
        if let Some(nd) = self.nodata()
            && nodata_in_range(nd, self.dtype())
        {
            return GdalMask::Nodata(nd);
        }
        let n = self.count();
        if (n == 2 || n == 4)
            && band + 1 < n
            && (n == 4 || band == 0)
            && self.alpha_band() == Some(n - 1)
            && matches!(self.dtype(), DataType::Uint8 | DataType::Uint16)
        {
            return GdalMask::Alpha(n - 1);
        }
        GdalMask::AllValid
    }

    /// Whether GDAL's mask band of every band is per-dataset (`GMF_PER_DATASET`), and if so
    /// how many overviews that mask band has. GDAL's precedence: a mask (internal or `.msk`)
    /// wins over everything, then a nodata value the type can hold, then an alpha band
    /// (only the last of 2 or 4 Byte/UInt16 bands). rasterio gives its boundless-read VRT a
    /// mask band then, and GDAL's virtual overviews of that VRT need the mask band to have
    /// overviews too.
    pub fn per_dataset_mask_overviews(&self) -> Option<usize> {
        if self.level_has_mask(0) {
            return Some((1..self.level_count()).take_while(|&l| self.level_has_mask(l)).count());
        }
        if let Some(nd) = self.nodata()
            && nodata_in_range(nd, self.dtype())
        {
            return None;
        }
        let (n, alpha) = (self.count(), self.alpha_band());
        let byte_or_u16 = matches!(self.dtype(), DataType::Uint8 | DataType::Uint16);
        ((n == 2 || n == 4) && alpha == Some(n - 1) && byte_or_u16).then(|| self.level_count() - 1)
    }
}

/// GDAL's mask band of a band (see [`Dataset::gdal_mask`]). Equal when it is the same mask
/// band (a NaN nodata value equals itself).
#[derive(Clone, Copy, Debug)]
pub enum GdalMask {
    AllValid,
    /// Samples equal to this value are masked.
    Nodata(f64),
    /// The dataset's mask (internal or `.msk`).
    PerDataset,
    /// This band (0-based) is the mask: Byte as is, UInt16 brought to 8 bits.
    Alpha(usize),
}

impl PartialEq for GdalMask {
    fn eq(&self, other: &GdalMask) -> bool {
        match (self, other) {
            (GdalMask::Nodata(a), GdalMask::Nodata(b)) => a.to_bits() == b.to_bits(),
            (GdalMask::Alpha(a), GdalMask::Alpha(b)) => a == b,
            (GdalMask::AllValid, GdalMask::AllValid) | (GdalMask::PerDataset, GdalMask::PerDataset) => true,
            _ => false,
        }
    }
}

/// `GDALNoDataMaskBand::IsNoDataInRange`: whether a nodata value can mask samples of a
/// type (the range only; floats take anything).
pub(crate) fn nodata_in_range(nd: f64, dtype: DataType) -> bool {
    match dtype {
        DataType::Float64 => true,
        DataType::Float32 => nd.is_nan() || nd.is_infinite() || nd.abs() <= f32::MAX as f64,
        // GDAL works on Int8 as Int16.
        DataType::Int8 => !nd.is_nan() && (i16::MIN as f64..=i16::MAX as f64).contains(&nd),
        t => !nd.is_nan() && (t.min_value()..=t.max_value()).contains(&nd),
    }
}
