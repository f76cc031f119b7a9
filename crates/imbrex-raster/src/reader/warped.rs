//! The warped path: rasterio's WarpedVRT of a dataset onto another CRS's grid, as GDAL
//! warps it (implicit overviews, chunked regions, the unified source validity, the
//! destination density and alpha).

use std::sync::Arc;

use imbrex_tms::{Crs, GenImgProj, GeoTransform, SourceGeoref};

use super::Reader;
use super::decimate;
use super::options::ReadOptions;
use super::read::{Pixels, Prepared};
use super::resample;
use super::validity::{Validity, gdal_is_nodata, nodata_mask, select_planes};
use crate::array::{Buffer, DataType, Sample};
use crate::error::{Error, Result};
use crate::warp::{
    ApproxTransformer, DEFAULT_MAX_ERROR, KernelOutput, KernelSource, Resampling, compute_source_window,
};
use crate::with_buffer;

/// GDAL's default warp memory (`GDALWarpOptions::dfWarpMemoryLimit`).
const WARP_MEMORY_LIMIT: f64 = 64.0 * 1024.0 * 1024.0;

/// A VRT level read block by block, then taken onto the buffer.
struct VrtBlockRead {
    /// The VRT level (0, or implicit overview `level - 1`), which warps source level `level`.
    level: usize,
    size: (usize, usize),
    pick: VrtPick,
}

enum VrtPick {
    /// `GDALRasterBand::IRasterIO`'s nearest decimation.
    Nearest(decimate::Sampling),
    /// `GDALRasterBand::RasterIOResampled` of each band, masked by its nodata value.
    Resampled { plan: resample::Plan, nodata: f64 },
}

impl VrtBlockRead {
    /// Whether the block at (x0, y0) of `rw` x `rh` holds a pixel the buffer needs.
    fn needs(&self, x0: usize, y0: usize, rw: usize, rh: usize) -> bool {
        match &self.pick {
            VrtPick::Nearest(s) => {
                s.cols.iter().any(|&c| (x0..x0 + rw).contains(&c)) && s.rows.iter().any(|&r| (y0..y0 + rh).contains(&r))
            }
            VrtPick::Resampled { plan, .. } => {
                plan.chunks.iter().any(|c| c.x < x0 + rw && x0 < c.x + c.w && c.y < y0 + rh && y0 < c.y + c.h)
            }
        }
    }
}

/// The most a VRT level warped whole for a resampled read may hold (samples and density).
const VRT_GRID_LIMIT: f64 = 64.0 * 1024.0 * 1024.0;

/// The most VRT pixels a decimated read warps (GDAL warps every block the decimation
/// touches; about a second of work here).
const VRT_WARP_LIMIT: f64 = 32.0 * 1024.0 * 1024.0;

impl Reader {
    /// A warped read: rasterio's WarpedVRT of the dataset on `vrt_gt` (`vrt_w` x `vrt_h`),
    /// read into a `w` x `h` buffer. GDAL first picks one of the VRT's implicit overviews
    /// (one per source overview), then warps that source level straight onto the buffer, or,
    /// when rasterio reads fewer bands than the VRT has, warps the level's own blocks and
    /// decimates or resamples them onto the buffer ([`Reader::vrt_block_read`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn read_warped(
        &self,
        dst_crs: &Crs,
        vrt_gt: &GeoTransform,
        vrt_w: usize,
        vrt_h: usize,
        w: usize,
        h: usize,
        p: &Prepared,
        opts: &ReadOptions,
    ) -> Result<Pixels> {
        let ds = self.dataset();
        let src_crs = self.crs().ok_or_else(|| Error::unsupported("the dataset has no CRS"))?.clone();
        let file_levels = ds.level_sizes();
        let src_levels = &file_levels;
        let mut level = 0;
        let mut gt = vrt_gt.0;
        // rio-tiler reads a nodata VRT without its alpha band (or a band subset): fewer bands
        // than the VRT has, so `VRTWarpedDataset::IRasterIO` declines its direct path and
        // GDAL decimates the VRT's own blocks (at the VRT's resolution, or an implicit
        // overview's) onto the buffer. Nearest reads do the same here, within a memory bound.
        let block_read = self.vrt_block_read(p, (vrt_w, vrt_h), (w, h), opts);
        let (gw, gh) = block_read.as_ref().map_or((w, h), |b| b.size);
        if let Some(b) = &block_read {
            level = b.level;
            rescale(&mut gt, vrt_w, gw, vrt_h, gh);
        } else if w < vrt_w || h < vrt_h {
            let implicit = &implicit_overviews(src_levels, vrt_w, vrt_h)[1..];
            if let Some(i) = decimate::best_overview(
                (vrt_w, vrt_h),
                vrt_w as i64,
                vrt_h as i64,
                (w, h),
                implicit,
                opts.resampling == Resampling::Nearest,
            ) {
                level = i + 1;
                rescale(&mut gt, vrt_w, implicit[i].0, vrt_h, implicit[i].1);
                rescale(&mut gt, implicit[i].0, w, implicit[i].1, h);
            } else {
                rescale(&mut gt, vrt_w, w, vrt_h, h);
            }
        } else {
            rescale(&mut gt, vrt_w, w, vrt_h, h);
        }
        let (lw, lh) = file_levels[level];
        let (rx, ry) = (file_levels[0].0 as f64 / lw as f64, file_levels[0].1 as f64 / lh as f64);
        let georef = {
            let mut s = self.transform().0;
            if s[2] == 0.0 && s[4] == 0.0 {
                s[1] *= rx;
                s[5] *= ry;
            } else {
                s[1] *= rx;
                s[2] *= rx;
                s[4] *= rx;
                s[5] *= rx;
            }
            SourceGeoref::affine(GeoTransform(s))?
        };
        let t = Arc::new(GenImgProj::new(georef, &src_crs, dst_crs, GeoTransform(gt))?);
        // Bands the warper carries: all of them when nodata is unified across bands.
        let mut warp_bands = match p.validity {
            Validity::Nodata(_) if ds.count() > 1 => (0..ds.count()).collect(),
            _ => p.bands.clone(),
        };
        // rasterio makes the dataset's alpha band the warper's source alpha whenever there is
        // one, nodata or not (rio-tiler then masks by the nodata value).
        let alpha = match p.validity {
            Validity::Alpha(a) => Some(a),
            Validity::Nodata(_) => ds.alpha_band(),
            _ => None,
        };
        if let Some(a) = alpha
            && !warp_bands.contains(&a)
        {
            warp_bands.push(a);
        }
        let dtype = ds.dtype();
        let init = p.validity.warp_init(dtype);
        // Nearest picks go straight into the buffer; other reads hold the grid.
        let sampling = match block_read.as_ref().map(|b| &b.pick) {
            Some(VrtPick::Nearest(s)) => Some(s),
            _ => None,
        };
        let (ow, oh) = if sampling.is_some() { (w, h) } else { (gw, gh) };
        let mut data = Buffer::filled(dtype, warp_bands.len() * ow * oh, init);
        let mut density = vec![0f32; ow * oh];
        // With an added alpha band (rio-tiler's `add_alpha` for masks and unmasked data)
        // rasterio's read asks for a band the warper does not produce, so
        // `VRTWarpedDataset::IRasterIO` falls back to its block path: each 512x128 block is
        // warped on its own, with its own source window (and so its own kernel scale). A
        // source alpha band is itself one of the warped bands: direct path.
        let regions = if block_read.is_none() && matches!(p.validity, Validity::Nodata(_) | Validity::Alpha(_)) {
            // The direct path: measured on GDAL 3.10.3, its kernel scale is `dst / window`
            // with no margin subtracted (forcing XSCALE/YSCALE to the margin-corrected value
            // changes the output, forcing `dst / window` does not), unlike the block path.
            let mut regions = self.warp_regions(&t, (0, 0, gw, gh), (lw, lh), level, p, opts.reproject, dst_crs);
            for r in &mut regions {
                (r.3.extra_x, r.3.extra_y) = (0.0, 0.0);
            }
            regions
        } else {
            let (bw, bh) = (gw.min(512), gh.min(128));
            // Only the blocks the buffer needs, when it is taken from a VRT level.
            let needed = |x0, y0, rw, rh| block_read.as_ref().is_none_or(|b| b.needs(x0, y0, rw, rh));
            let mut blocks = Vec::new();
            for y0 in (0..gh).step_by(bh) {
                for x0 in (0..gw).step_by(bw) {
                    let (rw, rh) = (bw.min(gw - x0), bh.min(gh - y0));
                    if !needed(x0, y0, rw, rh) {
                        continue;
                    }
                    let win = compute_source_window(&t, (x0, y0), rw, rh, lw, lh, opts.reproject, Some(dst_crs));
                    if let Some(win) = win {
                        blocks.push(((x0, y0), rw, rh, win));
                    }
                }
            }
            blocks
        };
        for (off, rw, rh, win) in regions {
            if win.is_empty() {
                continue;
            }
            let (sub, sub_density) =
                warp_window(ds, level, &t, (off, rw, rh), win, &warp_bands, p, alpha, opts.reproject, (dtype, init))
                    .await?;
            match sampling {
                Some(s) => {
                    gather_region(&mut data, &mut density, &sub, &sub_density, warp_bands.len(), s, off, (rw, rh))
                }
                None => {
                    paste_region(&mut data, &mut density, sub, sub_density, warp_bands.len(), (gw, gh), off, (rw, rh))
                }
            }
        }
        match block_read.as_ref().map(|b| &b.pick) {
            Some(VrtPick::Nearest(_)) | None => {}
            Some(VrtPick::Resampled { plan, nodata }) => {
                // The bands read: the others (the alpha band) stay at nodata.
                let read: Vec<usize> = p.bands.iter().filter_map(|b| warp_bands.iter().position(|x| x == b)).collect();
                data = resample_grid(&data, (warp_bands.len(), &read), (gw, gh), plan, (w, h), *nodata)?;
                density = vec![1.0; w * h];
            }
        }
        let n = w * h;
        // rio-tiler's masks: nodata → per-band comparison; a source alpha band → that band
        // as warped (the kernel's values overwrite the density GDAL writes into it);
        // otherwise the alpha band rio-tiler adds, which GDAL fills from the density.
        let nb = p.bands.len();
        let picked: Vec<usize> = p.bands.iter().map(|b| warp_bands.iter().position(|x| x == b).unwrap_or(0)).collect();
        let alpha = match p.validity {
            Validity::Alpha(a) => {
                let i = warp_bands.iter().position(|&b| b == a).unwrap_or(0);
                Some(select_planes(&data, &[i], n))
            }
            _ => None,
        };
        // Every plane in order (the bands read and nothing else warped): no copy.
        let data = if picked.iter().copied().eq(0..warp_bands.len()) { data } else { select_planes(&data, &picked, n) };
        let mask = match (&p.validity, &alpha) {
            (Validity::Nodata(nd), _) => nodata_mask(&data, nb, n, *nd),
            (_, Some(a)) => {
                let opaque = dtype.max_value();
                let m: Vec<u8> = (0..n).map(|i| if a.get_f64(i) == opaque { 255 } else { 0 }).collect();
                (0..nb).flat_map(|_| m.iter().copied()).collect()
            }
            _ => {
                let added: Vec<f64> = density.iter().map(|&d| alpha_value(d, dtype)).collect();
                let max = added.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                // rio-tiler: opaque is the type's maximum, or 255 when the added alpha
                // (whose maximum GDAL leaves at 255 for most types) reaches 255.
                let opaque = if max == 255.0 { 255.0 } else { alpha_write_max(dtype) };
                let m: Vec<u8> = added.iter().map(|&v| if v == opaque { 255 } else { 0 }).collect();
                (0..nb).flat_map(|_| m.iter().copied()).collect()
            }
        };
        Ok((data, mask, alpha))
    }

    /// How GDAL reads a VRT's blocks onto the buffer when rio-tiler reads fewer bands
    /// than the VRT has (see `read_warped`): the VRT level read and the decimation or
    /// resampling from it. `None` for the direct path, or when that level would cost more
    /// than [`VRT_WARP_LIMIT`] pixels of work or [`VRT_GRID_LIMIT`] bytes (then the buffer is
    /// warped directly, an approximation).
    fn vrt_block_read(
        &self,
        p: &Prepared,
        (vrt_w, vrt_h): (usize, usize),
        (w, h): (usize, usize),
        opts: &ReadOptions,
    ) -> Option<VrtBlockRead> {
        let ds = self.dataset();
        let fewer_bands = match p.validity {
            Validity::Nodata(_) => p.bands.len() < ds.count(),
            Validity::Alpha(_) => p.bands.len() + 1 < ds.count(),
            _ => false,
        };
        if !fewer_bands || (w, h) == (vrt_w, vrt_h) {
            return None;
        }
        let levels = implicit_overviews(&ds.level_sizes(), vrt_w, vrt_h);
        let req = decimate::Request::from_window(0.0, 0.0, vrt_w as f64, vrt_h as f64, w, h);
        let read = if opts.resampling == Resampling::Nearest {
            let s = decimate::plan(&levels, &req, decimate::Path::Band, true);
            let size = levels[s.level];
            VrtBlockRead { level: s.level, size, pick: VrtPick::Nearest(s) }
        } else if let (true, Validity::Nodata(nodata)) = (resample::is_resampled(opts.resampling), p.validity) {
            let (level, r) = decimate::level_for(&levels, &req, false);
            let size = levels[level];
            let plan = resample::plan(opts.resampling, &r, size, size.0.min(512), false);
            VrtBlockRead { level, size, pick: VrtPick::Resampled { plan, nodata } }
        } else {
            return None;
        };
        // Nearest picks are gathered block by block (a block's memory); a resampled read
        // holds the whole level.
        let pixels = (read.size.0 * read.size.1) as f64;
        let bytes = pixels * (ds.count() as f64 * ds.dtype().size() as f64 + 4.0);
        let within = match read.pick {
            VrtPick::Nearest(_) => pixels <= VRT_WARP_LIMIT,
            VrtPick::Resampled { .. } => bytes <= VRT_GRID_LIMIT,
        };
        within.then_some(read)
    }

    /// The destination regions GDAL warps separately (its 64 MiB working-memory split,
    /// longest side first) with their source windows.
    #[allow(clippy::too_many_arguments)]
    fn warp_regions(
        &self,
        t: &GenImgProj,
        region: (usize, usize, usize, usize),
        src: (usize, usize),
        level: usize,
        p: &Prepared,
        resampling: Resampling,
        dst_crs: &Crs,
    ) -> Vec<((usize, usize), usize, usize, crate::warp::SourceWindow)> {
        let (x0, y0, rw, rh) = region;
        let Some(win) = compute_source_window(t, (x0, y0), rw, rh, src.0, src.1, resampling, Some(dst_crs)) else {
            return Vec::new();
        };
        // `GetWorkingMemoryForWindow`: rasterio's VRT warps every band of the dataset; a source
        // alpha costs a float density, else a per-dataset mask a bit; nodata a bit per band;
        // the destination alpha (the dataset's, or the one rio-tiler adds) a float density.
        let ds = self.dataset();
        let count = ds.count() as f64;
        let bits = ds.dtype().size() as f64 * 8.0 * count;
        let nodata = matches!(p.validity, Validity::Nodata(_));
        let src_alpha = match p.validity {
            Validity::Alpha(_) => true,
            Validity::Nodata(_) => ds.alpha_band().is_some(),
            _ => false,
        };
        let per_dataset = ds.level_mask_is_per_dataset(level)
            || ds.gdal_mask(level, 0) == crate::dataset::GdalMask::Alpha(ds.count().saturating_sub(1));
        let src_bits =
            bits + if src_alpha {
                32.0
            } else if per_dataset {
                1.0
            } else {
                0.0
            } + if nodata { count } else { 0.0 };
        let dst_alpha = src_alpha || !nodata;
        let dst_bits = bits + if nodata { count } else { 0.0 } + if dst_alpha { 32.0 } else { 0.0 };
        let memory = (src_bits * win.xsize as f64 * win.ysize as f64 + dst_bits * rw as f64 * rh as f64) / 8.0;
        if memory > WARP_MEMORY_LIMIT && rw >= 2 && rh >= 2 {
            let mut out = Vec::new();
            if rw >= rh {
                let half = rw / 2;
                out.extend(self.warp_regions(t, (x0, y0, half, rh), src, level, p, resampling, dst_crs));
                out.extend(self.warp_regions(t, (x0 + half, y0, rw - half, rh), src, level, p, resampling, dst_crs));
            } else {
                let half = rh / 2;
                out.extend(self.warp_regions(t, (x0, y0, rw, half), src, level, p, resampling, dst_crs));
                out.extend(self.warp_regions(t, (x0, y0 + half, rw, rh - half), src, level, p, resampling, dst_crs));
            }
            return out;
        }
        vec![((x0, y0), rw, rh, win)]
    }

    pub(super) fn cached_native(&self, crs: &Crs) -> Option<GeoTransform> {
        self.native.lock().ok()?.iter().find(|(c, _)| c.rasterio_eq(crs)).map(|(_, g)| *g)
    }

    pub(super) fn store_native(&self, crs: &Crs, gt: GeoTransform) {
        if let Ok(mut v) = self.native.lock() {
            if v.len() > 16 {
                v.clear();
            }
            v.push((crs.clone(), gt));
        }
    }
}

/// The warper's unified source validity, as `GDALWarpOperation::WarpRegionInternal`
/// builds it: from the nodata value (rasterio sets `UNIFIED_SRC_NODATA=YES`, so a pixel
/// is invalid only when every band is nodata) when some sample of the window is nodata;
/// otherwise from a per-dataset mask band, unless an alpha band gives a density instead.
async fn source_validity(
    ds: &crate::Dataset,
    src: &Buffer,
    bands: &[usize],
    level: usize,
    win: &crate::warp::SourceWindow,
    p: &Prepared,
) -> Result<Option<Vec<bool>>> {
    let n = win.xsize * win.ysize;
    if let Validity::Nodata(nd) = p.validity {
        let dtype = src.dtype();
        let mut valid = vec![false; n];
        let mut any_nodata = false;
        with_buffer!(src, v, T => {
            for b in 0..bands.len() {
                for (i, ok) in valid.iter_mut().enumerate() {
                    if warp_is_nodata(v[b * n + i], nd, dtype) {
                        any_nodata = true;
                    } else {
                        *ok = true;
                    }
                }
            }
        });
        if any_nodata {
            return Ok(Some(valid));
        }
    }
    if ds.alpha_band().is_none() && ds.level_mask_is_per_dataset(level) {
        let m = ds.read_mask_window(level, win.xoff, win.yoff, win.xsize, win.ysize).await?;
        return Ok(m.map(|m| m.iter().map(|&v| v != 0).collect()));
    }
    Ok(None)
}

/// One call of GDAL's `WarpRegionToBuffer` for a warped VRT that warps every band of `ds`
/// (level `level`, placed by `georef`) with nearest neighbour onto the `rw` x `rh` region at
/// `(x0, y0)` of the grid `gt` in the same CRS, with the source validity rasterio gives
/// such a VRT (the nodata value, else the alpha band, else the per-dataset mask). Returns
/// the samples, in `dtype`, and the destination density.
pub(super) async fn warp_region(
    ds: &crate::Dataset,
    level: usize,
    georef: SourceGeoref,
    crs: &Crs,
    gt: GeoTransform,
    (x0, y0, rw, rh): (usize, usize, usize, usize),
    dtype: DataType,
) -> Result<(Buffer, Vec<f32>)> {
    let (lw, lh) = ds.level_size(level);
    let t = Arc::new(GenImgProj::new(georef, crs, crs, gt)?);
    let bands: Vec<usize> = (0..ds.count()).collect();
    let nodata = ds.nodata();
    let p = Prepared { bands: bands.clone(), validity: Validity::of(ds, nodata), nodata };
    let init = p.validity.warp_init(dtype);
    match compute_source_window(&t, (x0, y0), rw, rh, lw, lh, Resampling::Nearest, Some(crs)) {
        Some(win) if !win.is_empty() => {
            let region = ((x0, y0), rw, rh);
            warp_window(ds, level, &t, region, win, &bands, &p, ds.alpha_band(), Resampling::Nearest, (dtype, init))
                .await
        }
        _ => Ok((Buffer::filled(dtype, bands.len() * rw * rh, init), vec![0f32; rw * rh])),
    }
}

/// `VRTWarpedDataset::GetOverviewSize`: the implicit overview sizes of a `w` x `h` warped
/// VRT of a source with `levels` (full size first). The result starts with `(w, h)`.
pub(super) fn implicit_overviews(levels: &[(usize, usize)], w: usize, h: usize) -> Vec<(usize, usize)> {
    let mut out = vec![(w, h)];
    for &(ow, _) in &levels[1..] {
        let ratio = levels[0].0 as f64 / ow as f64;
        let (x, y) = ((w as f64 / ratio + 0.5) as usize, (h as f64 / ratio + 0.5) as usize);
        if x < 1 || y < 1 {
            break;
        }
        out.push((x, y));
    }
    out
}

/// GDAL's `RescaleDstGeoTransform`.
pub(super) fn rescale(gt: &mut [f64; 6], from_w: usize, to_w: usize, from_h: usize, to_h: usize) {
    let rx = from_w as f64 / to_w as f64;
    let ry = from_h as f64 / to_h as f64;
    gt[1] *= rx;
    gt[2] *= rx;
    gt[4] *= ry;
    gt[5] *= ry;
}

/// GDAL's nodata test in the warper (`GDALWarpNoDataMasker`): 8- and 16-bit integers
/// compare with `floor(nodata + 1e-6)`; the other types NaN-aware with GDAL's
/// `ARE_REAL_EQUAL` (2 float epsilons relative to the sum), Float32 in single precision and
/// the rest, 32-bit integers included, in double. So -9999.003 is nodata -9999, in Float32
/// anything below about -1e32 is nodata -FLT_MAX (the sum overflows), and in UInt32 the
/// 2047 values below 2^32-1 are nodata 2^32-1 (measured on GDAL 3.10.3).
fn warp_is_nodata<T: Sample>(v: T, nd: f64, dtype: DataType) -> bool {
    let exact_integer = matches!(dtype, DataType::Uint8 | DataType::Int8 | DataType::Uint16 | DataType::Int16);
    if exact_integer {
        return dtype.holds(nd) && v.to_f64() == (nd + 1e-6).floor();
    }
    let x = v.to_f64();
    if nd.is_nan() {
        return x.is_nan();
    }
    if dtype == DataType::Float32 {
        let (a, b) = (x as f32, nd as f32);
        return a == b || (a - b).abs() < f32::EPSILON * (a + b).abs() * 2.0;
    }
    x == nd || (x - nd).abs() < f32::EPSILON as f64 * (x + nd).abs() * 2.0
}

/// The warper's source alpha density: `alpha / max` in [0, 1], computed in single
/// precision as `GDALWarpSrcAlphaMasker` does (alpha times the float reciprocal).
fn alpha_density(src: &Buffer, plane: usize, n: usize, dtype: DataType) -> Vec<f32> {
    let inv = (1.0 / alpha_max(dtype)) as f32;
    (0..n).map(|i| (src.get_f64(plane * n + i) as f32 * inv).min(1.0)).collect()
}

/// GDAL's `SRC_ALPHA_MAX` / `DST_ALPHA_MAX` for an alpha band of this type.
fn alpha_max(dtype: DataType) -> f64 {
    match dtype {
        DataType::Uint16 => 65535.0,
        DataType::Int16 => 32767.0,
        _ => 255.0,
    }
}

/// The destination alpha `GDALWarpDstAlphaMasker` writes for `density`: the density times
/// `DST_ALPHA_MAX` (plus 0.1 for most integer types) in single precision, truncated, then
/// stored in the band's type.
pub(super) fn alpha_value(density: f32, dtype: DataType) -> f64 {
    let bump =
        matches!(dtype, DataType::Uint8 | DataType::Int16 | DataType::Uint16 | DataType::Int32 | DataType::Uint32);
    let cst = alpha_max(dtype) as f32 + if bump { 0.1 } else { 0.0 };
    let v = (density * cst) as i32 as f64;
    if dtype.is_float() { v } else { v.clamp(dtype.min_value(), dtype.max_value()) }
}

/// The largest alpha the warper writes into an alpha band of this type.
fn alpha_write_max(dtype: DataType) -> f64 {
    alpha_max(dtype).min(dtype.max_value())
}

/// The picks of `s` that fall in a warped region (at `(x0, y0)`, `rw` x `rh`, `bands`
/// planes) copied into the buffer (`s.cols.len()` x `s.rows.len()`) and its density.
#[allow(clippy::too_many_arguments)]
fn gather_region(
    data: &mut Buffer,
    density: &mut [f32],
    sub: &Buffer,
    sub_density: &[f32],
    bands: usize,
    s: &decimate::Sampling,
    (x0, y0): (usize, usize),
    (rw, rh): (usize, usize),
) {
    let (w, h) = (s.cols.len(), s.rows.len());
    let cols: Vec<(usize, usize)> =
        s.cols.iter().enumerate().filter(|(_, c)| (x0..x0 + rw).contains(c)).map(|(i, &c)| (i, c - x0)).collect();
    let rows: Vec<(usize, usize)> =
        s.rows.iter().enumerate().filter(|(_, r)| (y0..y0 + rh).contains(r)).map(|(j, &r)| (j, r - y0)).collect();
    with_buffer!(data, dst, T => {
        if let Some(src) = sub.as_slice::<T>() {
            for b in 0..bands {
                for &(j, r) in &rows {
                    for &(i, c) in &cols {
                        dst[b * w * h + j * w + i] = src[b * rw * rh + r * rw + c];
                    }
                }
            }
        }
    });
    for &(j, r) in &rows {
        for &(i, c) in &cols {
            density[j * w + i] = sub_density[r * rw + c];
        }
    }
}

/// The `read` planes of a `gw` x `gh` grid of `bands` planes resampled onto `w` x `h` by
/// `plan` (the other planes are left at nodata), each band masked by its own nodata value (a
/// nodata VRT band's mask band) and kept off it.
fn resample_grid(
    data: &Buffer,
    (bands, read): (usize, &[usize]),
    (gw, gh): (usize, usize),
    plan: &resample::Plan,
    (w, h): (usize, usize),
    nd: f64,
) -> Result<Buffer> {
    let dtype = data.dtype();
    let mut out = Buffer::filled(dtype, bands * w * h, nd);
    with_buffer!(data, src, T => {
        let Some(dst) = out.as_mut_slice::<T>() else { return Err(Error::unsupported("resampling buffer type")) };
        for &b in read {
            let plane = &src[b * gw * gh..(b + 1) * gw * gh];
            for chunk in &plan.chunks {
                let window: Vec<T> = (chunk.y..chunk.y + chunk.h)
                    .flat_map(|y| plane[y * gw + chunk.x..y * gw + chunk.x + chunk.w].iter().copied())
                    .collect();
                let own: Vec<u8> = window.iter().map(|&v| if gdal_is_nodata(v, nd, dtype) { 0 } else { 255 }).collect();
                let m = resample::ChunkMask::classify(Some(&own));
                resample::resample_chunk(plan, chunk, &window, &m, Some(nd), w, &mut dst[b * w * h..(b + 1) * w * h]);
            }
        }
        Ok::<(), Error>(())
    })?;
    Ok(out)
}

/// Copy a warped region into the whole destination.
#[allow(clippy::too_many_arguments)]
fn paste_region(
    data: &mut Buffer,
    density: &mut Vec<f32>,
    sub: Buffer,
    sub_density: Vec<f32>,
    bands: usize,
    (w, h): (usize, usize),
    (x0, y0): (usize, usize),
    (rw, rh): (usize, usize),
) {
    if (x0, y0, rw, rh) == (0, 0, w, h) {
        // The usual tile: one region, taken as it is.
        *data = sub;
        *density = sub_density;
        return;
    }
    with_buffer!(data, dst, T => {
        if let Some(src) = sub.as_slice::<T>() {
            for b in 0..bands {
                for y in 0..rh {
                    let o = b * w * h + (y0 + y) * w + x0;
                    let s = b * rw * rh + y * rw;
                    dst[o..o + rw].copy_from_slice(&src[s..s + rw]);
                }
            }
        }
    });
    for y in 0..rh {
        density[(y0 + y) * w + x0..(y0 + y) * w + x0 + rw].copy_from_slice(&sub_density[y * rw..(y + 1) * rw]);
    }
}

/// One `WarpRegionToBuffer` call: read `bands` of `level` in the source window `win`, work
/// out their validity (see [`source_validity`]) and the density of `alpha`, and warp them
/// onto the `rw` x `rh` region at `off` of `t`'s destination grid. The samples come out in
/// `dtype`, starting from `init` where nothing lands, with the destination density.
#[allow(clippy::too_many_arguments)]
async fn warp_window(
    ds: &crate::Dataset,
    level: usize,
    t: &Arc<GenImgProj>,
    (off, rw, rh): ((usize, usize), usize, usize),
    win: crate::warp::SourceWindow,
    bands: &[usize],
    p: &Prepared,
    alpha: Option<usize>,
    resampling: Resampling,
    (dtype, init): (DataType, f64),
) -> Result<(Buffer, Vec<f32>)> {
    let src = ds.read_window(level, win.xoff, win.yoff, win.xsize, win.ysize, bands).await?;
    let src = if src.dtype() == dtype { src } else { src.cast(dtype) };
    let valid = source_validity(ds, &src, bands, level, &win, p).await?;
    // The alpha's scale is the source band's (`SRC_ALPHA_MAX`), whatever type the output holds.
    let dens = alpha.map(|a| {
        let i = bands.iter().position(|&b| b == a).unwrap_or(0);
        alpha_density(&src, i, win.xsize * win.ysize, ds.dtype())
    });
    let nodata = match p.validity {
        Validity::Nodata(nd) => Some(nd),
        _ => None,
    };
    let (t, nb) = (t.clone(), bands.len());
    // The kernel is the CPU-heavy part of a warped read: on the dataset's pool.
    let kernel = move || {
        let mut data = Buffer::filled(dtype, nb * rw * rh, init);
        let mut density = vec![0f32; rw * rh];
        let approx = ApproxTransformer::new(&t, DEFAULT_MAX_ERROR);
        with_buffer!(&src, sv, T => {
            let Some(dst) = data.as_mut_slice::<T>() else { return Err(Error::unsupported("warp buffer type")) };
            let ks = KernelSource { data: sv.as_slice(), bands: nb, win, valid: valid.as_deref(), density: dens.as_deref() };
            let mut ko = KernelOutput { data: dst, density: &mut density, nodata };
            crate::warp::warp(&approx, off, rw, rh, &ks, resampling, &mut ko);
            Ok::<(), Error>(())
        })?;
        Ok((data, density))
    };
    match ds.cpu() {
        Some(cpu) => cpu.try_run(kernel).await,
        None => kernel(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implicit_overview_sizes() {
        // cog_int16 (2658 wide, overviews 1329, 665, 333) in a 3572 VRT: 1786, 894, 448.
        let levels = [(2658, 2667), (1329, 1334), (665, 667), (333, 334)];
        let o = implicit_overviews(&levels, 3572, 3572);
        assert_eq!(o, vec![(3572, 3572), (1786, 1786), (894, 894), (448, 448)]);
    }

    #[test]
    fn warper_nodata_rules() {
        // Integer nodata compares with floor(nd + 1e-6); out-of-range nodata never matches.
        assert!(warp_is_nodata(0u8, 0.0, DataType::Uint8));
        assert!(!warp_is_nodata(0u8, -1.0, DataType::Uint8));
        assert!(warp_is_nodata(f32::NAN, f64::NAN, DataType::Float32));
        assert!(warp_is_nodata(-9999f32, -9999.0, DataType::Float32));
        // 32-bit integers compare in double with the float epsilon rule.
        assert!(warp_is_nodata(u32::MAX - 2047, u32::MAX as f64, DataType::Uint32));
        assert!(!warp_is_nodata(u32::MAX - 2048, u32::MAX as f64, DataType::Uint32));
        assert!(warp_is_nodata(i32::MIN + 1023, i32::MIN as f64, DataType::Int32));
        assert!(!warp_is_nodata(-9998i32, -9999.0, DataType::Int32));
        assert!(!warp_is_nodata(65534u16, 65535.0, DataType::Uint16));
    }

    #[test]
    fn destination_alpha_like_gdal() {
        assert_eq!(alpha_value(1.0, DataType::Uint8), 255.0);
        assert_eq!(alpha_value(0.99, DataType::Uint8), 252.0);
        assert_eq!(alpha_value(1.0, DataType::Float32), 255.0);
        assert_eq!(alpha_value(1.0, DataType::Uint16), 65535.0);
        // Int8 alpha saturates.
        assert_eq!(alpha_value(1.0, DataType::Int8), 127.0);
    }
}
