//! Same-CRS reads: GDAL's nearest decimation of a floating-point window, its resampled
//! `RasterIO` for convolution kernels, and rasterio's "boundless" VRT read when the window
//! pokes outside the dataset (see `docs/reading.md`). `read.rs` chooses the path.

use super::Reader;
use super::decimate::{self, DstRect, Path, Request};
use super::geometry::Window;
use super::read::{Pixels, Prepared};
use super::resample::{self, ChunkMask};
use super::validity::{Validity, alpha_mask, alpha_mask_byte, gdal_is_nodata, nodata_mask, select_planes, take_bands};
use crate::array::{Buffer, DataType};
use crate::dataset::GdalMask;
use crate::error::{Error, Result};
use crate::warp::Resampling;
use crate::with_buffer;

impl Reader {
    /// A same-CRS read with a floating-point window: GDAL's nearest decimation, or its
    /// resampled `RasterIO` when a convolution `resampling` is asked for.
    pub(super) async fn read_window(
        &self,
        win: &Window,
        w: usize,
        h: usize,
        p: &Prepared,
        resampling: Resampling,
    ) -> Result<Pixels> {
        let ds = self.dataset();
        let (dw, dh) = (ds.width(), ds.height());
        let levels = ds.level_sizes();
        // GDAL does not interpolate palette indices: a paletted band read with a
        // convolution kernel is read with nearest (measured on GDAL 3.10.3).
        let resampling = if resample::is_convolution(resampling) && ds.colormap().is_some() {
            Resampling::Nearest
        } else {
            resampling
        };
        let mut read_bands = p.bands.clone();
        if let Validity::Alpha(a) = p.validity {
            read_bands.push(a);
        }
        let path = if read_bands.len() > 1 && ds.pixel_interleaved() { Path::PixelInterleaved } else { Path::Band };
        let n = w * h;
        let nb = p.bands.len();
        if !win.is_boundless(dw, dh) {
            let req = Request::from_window(win.col_off, win.row_off, win.width, win.height, w, h);
            if resample::is_resampled(resampling)
                && let Some(read) = self.read_resampled(&req, p, &read_bands, resampling).await?
            {
                return Ok(read);
            }
            let nearest = resampling == Resampling::Nearest;
            let s = decimate::plan(&levels, &req, path, nearest);
            let all = ds.sample(s.level, &s.cols, &s.rows, &read_bands).await?;
            let mask = match p.validity {
                Validity::Nodata(nd) => nodata_mask(&all, nb, n, nd),
                Validity::Alpha(_) => alpha_mask(&all, nb, n, ds.dtype()),
                Validity::Mask => {
                    let m = self.sample_mask(&req, nearest).await?;
                    (0..nb).flat_map(|_| m.iter().copied()).collect()
                }
                Validity::None => vec![255; nb * n],
            };
            let alpha = alpha_plane(&all, p, nb, n);
            return Ok((take_bands(all, nb * n), mask, alpha));
        }
        self.read_boundless(win, w, h, p, &read_bands, resampling).await
    }

    /// The mask band read like the data (its levels are the levels that have a mask).
    async fn sample_mask(&self, req: &Request, nearest: bool) -> Result<Vec<u8>> {
        let ds = self.dataset();
        let with_mask: Vec<usize> = (0..ds.level_count()).filter(|&l| ds.level_has_mask(l)).collect();
        let sizes: Vec<(usize, usize)> = with_mask.iter().map(|&l| ds.level_size(l)).collect();
        if sizes.is_empty() {
            return Ok(vec![255; req.buf_w * req.buf_h]);
        }
        let s = decimate::plan(&sizes, req, Path::Band, nearest);
        Ok(ds
            .sample_mask(with_mask[s.level], &s.cols, &s.rows)
            .await?
            .unwrap_or_else(|| vec![255; req.buf_w * req.buf_h]))
    }

    /// A resampled same-CRS read (GDAL's `RasterIOResampled`), or `None` when GDAL would
    /// copy pixels instead (a same-size integer window on the chosen level).
    async fn read_resampled(
        &self,
        req: &Request,
        p: &Prepared,
        read_bands: &[usize],
        method: Resampling,
    ) -> Result<Option<Pixels>> {
        let ds = self.dataset();
        let levels = ds.level_sizes();
        let (w, h) = (req.buf_w, req.buf_h);
        let (level, r) = decimate::level_for(&levels, req, false);
        if r.x_size == w as i64 && r.y_size == h as i64 && r.integer_coords() {
            return Ok(None);
        }
        let nb = p.bands.len();
        let n = w * h;
        // GDAL weights each band's samples with that band's own mask band (whatever
        // rio-tiler masks afterwards). Several bands read at once go through
        // `GDALDataset::RasterIOResampled` (its margins use the larger reduction factor) as
        // far as they share the first band's mask and it is not a nodata mask, unless the
        // bands have overviews that were declined or the integer window is the buffer's
        // size (a sub-pixel shift only: `GDALDataset::IRasterIO`); the others are
        // resampled band by band.
        let decimating = (w as i64) < req.x_size || (h as i64) < req.y_size;
        let both = (w as i64) < req.x_size && (h as i64) < req.y_size;
        let masks: Vec<GdalMask> = read_bands.iter().map(|&b| ds.gdal_mask(level, b)).collect();
        let shared = masks.iter().take_while(|&&m| m == masks[0]).count();
        let dataset_level = read_bands.len() > 1
            && resample::is_convolution(method)
            && (req.x_size, req.y_size) != (w as i64, h as i64)
            && !matches!(masks[0], GdalMask::Nodata(_))
            && if level > 0 { both } else { !(decimating && levels.len() > 1) };
        let mut out = Buffer::filled(ds.dtype(), read_bands.len() * n, 0.0);
        let mut first = 0;
        while first < read_bands.len() {
            let len = if first == 0 && dataset_level {
                shared
            } else {
                masks[first..].iter().take_while(|&&m| m == masks[first]).count()
            };
            let group = &read_bands[first..first + len];
            let at_dataset_level = first == 0 && dataset_level;
            self.resample_bands(level, &r, group, first, at_dataset_level, masks[first], method, &mut out).await?;
            first += len;
        }
        let mask = match p.validity {
            Validity::Nodata(nd) => nodata_mask(&out, nb, n, nd),
            Validity::Alpha(_) => alpha_mask(&out, nb, n, ds.dtype()),
            Validity::Mask => {
                let m = self.resampled_mask(req, method).await?;
                (0..nb).flat_map(|_| m.iter().copied()).collect()
            }
            Validity::None => vec![255; nb * n],
        };
        let alpha = alpha_plane(&out, p, nb, n);
        Ok(Some((take_bands(out, nb * n), mask, alpha)))
    }

    /// One band resampled for `req` as the band's own `RasterIO` does it, or `None` when
    /// GDAL would copy pixels (a same-size integer window on the chosen level).
    async fn resample_one(&self, req: &Request, band: usize, method: Resampling) -> Result<Option<Buffer>> {
        let ds = self.dataset();
        let (level, r) = decimate::level_for(&ds.level_sizes(), req, false);
        if r.x_size == req.buf_w as i64 && r.y_size == req.buf_h as i64 && r.integer_coords() {
            return Ok(None);
        }
        let mut out = Buffer::filled(ds.dtype(), req.buf_w * req.buf_h, 0.0);
        self.resample_bands(level, &r, &[band], 0, false, ds.gdal_mask(level, band), method, &mut out).await?;
        Ok(Some(out))
    }

    /// Resample `bands` of `level` for `req` into planes `first..` of `out`.
    #[allow(clippy::too_many_arguments)]
    async fn resample_bands(
        &self,
        level: usize,
        req: &Request,
        bands: &[usize],
        first: usize,
        dataset_level: bool,
        band_mask: GdalMask,
        method: Resampling,
        out: &mut Buffer,
    ) -> Result<()> {
        let ds = self.dataset();
        let (w, n) = (req.buf_w, req.buf_w * req.buf_h);
        let plan = resample::plan(method, req, ds.level_size(level), usize::MAX, dataset_level);
        // The band's nodata value fills what no valid sample reaches, whichever mask applies;
        // `GDALDataset::RasterIOResampled` fills 0 there (measured on GDAL 3.10.3).
        let fill = if dataset_level { None } else { ds.nodata() };
        let own_nodata = match band_mask {
            GdalMask::Nodata(nd) => Some(nd),
            _ => None,
        };
        for chunk in &plan.chunks {
            let src = ds.read_window(level, chunk.x, chunk.y, chunk.w, chunk.h, bands).await?;
            let cn = chunk.w * chunk.h;
            // The mask band the bands share: the per-dataset mask, or the alpha band.
            let shared: Option<Vec<u8>> = match band_mask {
                GdalMask::PerDataset => ds.read_mask_window(level, chunk.x, chunk.y, chunk.w, chunk.h).await?,
                GdalMask::Alpha(a) => {
                    let alpha = ds.read_window(level, chunk.x, chunk.y, chunk.w, chunk.h, &[a]).await?;
                    let rescaled = alpha.dtype() == DataType::Uint16;
                    Some((0..cn).map(|i| alpha_mask_byte(alpha.get_f64(i), rescaled)).collect())
                }
                _ => None,
            };
            let dtype = src.dtype();
            with_buffer!(&src, sv, T => {
                let Some(dst) = out.as_mut_slice::<T>() else { return Err(Error::unsupported("resampling buffer type")) };
                for b in 0..bands.len() {
                    let band_src = &sv[b * cn..(b + 1) * cn];
                    // A nodata band's mask is its own (GDAL's nodata mask band).
                    let own: Option<Vec<u8>> = own_nodata.map(|nd| {
                        band_src.iter().map(|&v| if gdal_is_nodata(v, nd, dtype) { 0 } else { 255 }).collect()
                    });
                    let m = ChunkMask::classify(own.as_deref().or(shared.as_deref()));
                    let plane = &mut dst[(first + b) * n..(first + b + 1) * n];
                    resample::resample_chunk(&plan, chunk, band_src, &m, fill, w, plane);
                }
                Ok::<(), Error>(())
            })?;
        }
        Ok(())
    }

    /// The per-dataset mask as rasterio's `read_masks` gives it for a resampled read: the
    /// mask band (its own levels) resampled like data, then "valid" wherever non-zero.
    async fn resampled_mask(&self, req: &Request, method: Resampling) -> Result<Vec<u8>> {
        let ds = self.dataset();
        let with_mask: Vec<usize> = (0..ds.level_count()).filter(|&l| ds.level_has_mask(l)).collect();
        let sizes: Vec<(usize, usize)> = with_mask.iter().map(|&l| ds.level_size(l)).collect();
        let n = req.buf_w * req.buf_h;
        if sizes.is_empty() {
            return Ok(vec![255; n]);
        }
        let (i, r) = decimate::level_for(&sizes, req, false);
        if r.x_size == req.buf_w as i64 && r.y_size == req.buf_h as i64 && r.integer_coords() {
            return self.sample_mask(req, false).await;
        }
        let level = with_mask[i];
        let plan = resample::plan(method, &r, sizes[i], usize::MAX, false);
        let mut out = vec![0u8; n];
        for chunk in &plan.chunks {
            let Some(m) = ds.read_mask_window(level, chunk.x, chunk.y, chunk.w, chunk.h).await? else {
                return Ok(vec![255; n]);
            };
            resample::resample_chunk(&plan, chunk, &m, &ChunkMask::Opaque, None, r.buf_w, &mut out);
        }
        Ok(out.into_iter().map(|v| if v != 0 { 255 } else { 0 }).collect())
    }

    /// rasterio's boundless read: an in-memory VRT whose one source is the dataset.
    async fn read_boundless(
        &self,
        win: &Window,
        w: usize,
        h: usize,
        p: &Prepared,
        read_bands: &[usize],
        resampling: Resampling,
    ) -> Result<Pixels> {
        let ds = self.dataset();
        let (dw, dh) = (ds.width(), ds.height());
        let levels = ds.level_sizes();
        let [a, b, c, d, e, f] = self.transform().to_affine();
        // The VRT's geotransform is the window's (rasterio's `window_transform`).
        let x = win.col_off * a + win.row_off * b + c;
        let y = win.col_off * d + win.row_off * e + f;
        let (tc, tf) = (c + (x - c), f + (y - f));
        let dst = DstRect { x: (c - tc) / a, y: (f - tf) / e, w: dw as f64 * a / a, h: dh as f64 * e / e };
        let vrt = ((dw as f64).max(win.width) as usize + 1, (dh as f64).max(win.height) as usize + 1);
        let req = Request::from_window(0.0, 0.0, win.width, win.height, w, h);
        // The first band read builds the VRT's virtual overviews and reads through them;
        // the others (and the mask) go to the source directly. With a per-dataset mask the
        // VRT has a mask band too, and only as many virtual overviews as it has overviews.
        let overview_count = ds.per_dataset_mask_overviews().map_or(levels.len() - 1, |m| m.min(levels.len() - 1));
        // The source request, and whether it went through a virtual overview.
        let route = |first: bool| -> Option<(decimate::SrcDst, bool)> {
            let (mut r, mut rect, mut virtual_overview) = (req, dst, false);
            if first && ((w as i64) < req.x_size || (h as i64) < req.y_size) {
                let vos = decimate::virtual_overviews(vrt, (dw, dh), &levels[1..=overview_count], &dst);
                let sizes: Vec<(usize, usize)> = vos.iter().map(|v| (v.width, v.height)).collect();
                if let Some(j) = decimate::best_overview(vrt, req.x_size, req.y_size, (w, h), &sizes, true) {
                    virtual_overview = true;
                    r = decimate::to_overview(&req, vrt, sizes[j]);
                    rect = DstRect {
                        x: dst.x * vos[j].rx,
                        y: dst.y * vos[j].ry,
                        w: dst.w * vos[j].rx,
                        h: dst.h * vos[j].ry,
                    };
                }
            }
            decimate::src_dst_window((r.fx_off, r.fy_off, r.fx_size, r.fy_size), (w, h), &rect, (dw, dh))
                .map(|sd| (sd, virtual_overview))
        };
        let fill = p.nodata.unwrap_or(0.0);
        let n = w * h;
        let mut out = Buffer::filled(
            ds.dtype(),
            read_bands.len() * n,
            if fill.is_nan() && !ds.dtype().is_float() { 0.0 } else { fill },
        );
        let mut footprint = vec![255u8; n];
        // rasterio reads its VRT with nearest but gives the VRT's source the resampling
        // (`<ComplexSource resampling=...>`); GDAL 3.10 forwards the read to the source,
        // which resamples its part of the window with its own `RasterIO` (measured: every
        // tile of a generated corpus equal, downsampling included). The first band of a
        // downsampling read goes through one of the VRT's virtual overviews instead, whose
        // source is read at about that overview's resolution: imbrex reads it with nearest,
        // which is GDAL's answer when the request maps 1:1 onto the overview (web.tif's tiles
        // in the oracle); a request that does not is resampled by GDAL, not by imbrex.
        let resampled = resample::is_resampled(resampling);
        for (i, &band) in read_bands.iter().enumerate() {
            let Some((sd, virtual_overview)) = route(i == 0) else {
                footprint.iter_mut().for_each(|m| *m = 0);
                continue;
            };
            if resampled
                && !virtual_overview
                && let Some(part) = self.resample_one(&sd.req, band, resampling).await?
            {
                paste(&mut out, i * n, w, &part, &sd);
                clip_footprint(&mut footprint, w, h, &sd);
                continue;
            }
            let s = decimate::plan(&levels, &sd.req, Path::Band, true);
            let part = ds.sample(s.level, &s.cols, &s.rows, &[band]).await?;
            paste(&mut out, i * n, w, &part, &sd);
            clip_footprint(&mut footprint, w, h, &sd);
        }
        let nb = p.bands.len();
        let mask = match p.validity {
            Validity::Nodata(nd) => nodata_mask(&out, nb, n, nd),
            Validity::Alpha(_) => alpha_mask(&out, nb, n, ds.dtype()),
            Validity::Mask => {
                let mut m = vec![0u8; n];
                if let Some((sd, _)) = route(false) {
                    let inner = self.sample_mask(&sd.req, true).await?;
                    for y in 0..sd.out_h {
                        m[(sd.out_y + y) * w + sd.out_x..(sd.out_y + y) * w + sd.out_x + sd.out_w]
                            .copy_from_slice(&inner[y * sd.out_w..(y + 1) * sd.out_w]);
                    }
                }
                (0..nb).flat_map(|_| m.iter().copied()).collect()
            }
            Validity::None => (0..nb).flat_map(|_| footprint.iter().copied()).collect(),
        };
        let alpha = alpha_plane(&out, p, nb, n);
        Ok((take_bands(out, nb * n), mask, alpha))
    }
}

/// The alpha plane read after the `bands` data planes, when the validity is an alpha band.
fn alpha_plane(all: &Buffer, p: &Prepared, bands: usize, n: usize) -> Option<Buffer> {
    matches!(p.validity, Validity::Alpha(_)).then(|| select_planes(all, &[bands], n))
}

/// Copy a sampled source part into its place in a band plane of the output.
fn paste(out: &mut Buffer, plane_off: usize, w: usize, part: &Buffer, sd: &decimate::SrcDst) {
    with_buffer!(out, dst, T => {
        if let Some(src) = part.as_slice::<T>() {
            for y in 0..sd.out_h {
                let o = plane_off + (sd.out_y + y) * w + sd.out_x;
                dst[o..o + sd.out_w].copy_from_slice(&src[y * sd.out_w..(y + 1) * sd.out_w]);
            }
        }
    })
}

/// Keep only the part of the footprint a source covers.
fn clip_footprint(fp: &mut [u8], w: usize, h: usize, sd: &decimate::SrcDst) {
    for y in 0..h {
        for x in 0..w {
            let inside = y >= sd.out_y && y < sd.out_y + sd.out_h && x >= sd.out_x && x < sd.out_x + sd.out_w;
            if !inside {
                fp[y * w + x] = 0;
            }
        }
    }
}
