//! TiTiler's parameter groups ("dependencies"), read from a [`QueryMap`] into library
//! types. Each bad value is a 422 naming its parameter.

use imbrex_raster::{Bins, OutputSize, ReadOptions, Resampling, StatisticsOptions};
use imbrex_tms::Crs;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryMap;

/// `bidx`, `nodata`, `unscale`, `resampling`, `reproject`, `buffer`, `padding`: the read
/// options of every dataset endpoint.
pub fn read_options_without_expression(state: &AppState, q: &QueryMap) -> ApiResult<ReadOptions> {
    let mut indexes = Vec::new();
    for v in q.all("bidx") {
        // TiTiler repeats `bidx`; a comma list is accepted too.
        for part in v.split(',').filter(|s| !s.trim().is_empty()) {
            let i: usize =
                part.trim().parse().map_err(|_| ApiError::query("bidx", format!("'{part}' is not a band index")))?;
            if i == 0 {
                return Err(ApiError::query("bidx", "band indexes start at 1"));
            }
            indexes.push(i);
        }
    }
    let nodata = match q.raw("nodata") {
        None => None,
        Some(v) if v.eq_ignore_ascii_case("nan") => Some(f64::NAN),
        Some(v) => Some(
            v.trim()
                .parse::<f64>()
                .map_err(|_| ApiError::query("nodata", format!("'{v}' is not a number or 'nan'")))?,
        ),
    };
    // TiTiler: `buffer` and `padding` are `gt=0` when given (a negative buffer would
    // shrink the tile below its size).
    let buffer = q.get::<f64>("buffer")?;
    if let Some(b) = buffer
        && !(b > 0.0 && b.is_finite())
    {
        return Err(ApiError::query("buffer", "Input should be greater than 0"));
    }
    let padding = q.get::<i64>("padding")?;
    if padding.is_some_and(|p| p <= 0) {
        return Err(ApiError::query("padding", "Input should be greater than 0"));
    }
    let io = resampling_param(q, "resampling", false)?;
    let reproject = resampling_param(q, "reproject", true)?;
    Ok(ReadOptions {
        indexes: (!indexes.is_empty()).then_some(indexes),
        nodata,
        unscale: q.get_bool("unscale")?.unwrap_or(false),
        resampling: io,
        reproject,
        buffer: buffer.unwrap_or(0.0),
        padding: padding.map_or(0, |p| usize::try_from(p).unwrap_or(usize::MAX)),
        max_pixels: state.config.limits.max_output_pixels,
    })
}

/// rasterio's names for RasterIO (`resampling`) or warp (`reproject`) methods.
fn resampling_param(q: &QueryMap, name: &str, warp: bool) -> ApiResult<Resampling> {
    let Some(v) = q.raw(name) else { return Ok(Resampling::Nearest) };
    let r: Resampling = v.parse().map_err(|_| ApiError::query(name, format!("'{v}' is not a resampling method")))?;
    // GDAL's RasterIO has no rank statistics; its warper has them.
    let io_only = matches!(
        r,
        Resampling::Nearest
            | Resampling::Bilinear
            | Resampling::Cubic
            | Resampling::CubicSpline
            | Resampling::Lanczos
            | Resampling::Average
            | Resampling::Mode
            | Resampling::Gauss
            | Resampling::Rms
    );
    if !warp && !io_only {
        return Err(ApiError::query(name, format!("'{v}' is not a RasterIO resampling method")));
    }
    if warp && r == Resampling::Gauss {
        return Err(ApiError::query(name, "'gauss' is not a warp resampling method"));
    }
    Ok(r)
}

/// `categorical`, `c`, `p`, `histogram_bins`, `histogram_range`.
pub fn statistics_options(q: &QueryMap) -> ApiResult<StatisticsOptions> {
    let floats = |name: &str| -> ApiResult<Option<Vec<f64>>> {
        let mut out = Vec::new();
        for v in q.all(name) {
            for part in v.split(',').filter(|s| !s.trim().is_empty()) {
                out.push(
                    part.trim()
                        .parse::<f64>()
                        .map_err(|_| ApiError::query(name, format!("'{part}' is not a number")))?,
                );
            }
        }
        Ok((!out.is_empty()).then_some(out))
    };
    let percentiles = floats("p")?;
    if let Some(p) = &percentiles
        && p.iter().any(|v| !(0.0..=100.0).contains(v))
    {
        return Err(ApiError::query("p", "percentiles are between 0 and 100"));
    }
    let bins = match q.raw("histogram_bins") {
        None => Bins::Default,
        Some(v) if !v.contains(',') => {
            let n: usize =
                v.trim().parse().map_err(|_| ApiError::query("histogram_bins", format!("'{v}' is not a bin count")))?;
            if n == 0 || n > 10_000 {
                return Err(ApiError::query("histogram_bins", "between 1 and 10000 bins"));
            }
            Bins::Count(n)
        }
        Some(v) => {
            let edges: Vec<f64> = v
                .split(',')
                .map(|s| {
                    s.trim()
                        .parse::<f64>()
                        .map_err(|_| ApiError::query("histogram_bins", format!("'{s}' is not a number")))
                })
                .collect::<ApiResult<_>>()?;
            if edges.len() < 2 || edges.len() > 10_001 || edges.windows(2).any(|w| w[1] <= w[0]) {
                return Err(ApiError::query("histogram_bins", "bin edges must increase monotonically"));
            }
            Bins::Edges(edges)
        }
    };
    let range = match q.raw("histogram_range") {
        None => None,
        Some(v) => {
            let r: Vec<f64> = v.split(',').filter_map(|s| s.trim().parse().ok()).collect();
            match r[..] {
                [a, b] if a < b && a.is_finite() && b.is_finite() => Some((a, b)),
                _ => return Err(ApiError::query("histogram_range", format!("'{v}' is not 'min,max'"))),
            }
        }
    };
    Ok(StatisticsOptions {
        categorical: q.get_bool("categorical")?.unwrap_or(false),
        categories: floats("c")?,
        percentiles,
        bins,
        range,
    })
}

/// A CRS parameter (`coord_crs`, `dst_crs`, `crs`).
pub fn crs(q: &QueryMap, name: &str) -> ApiResult<Option<Crs>> {
    q.raw(name).map(|v| Crs::from_user_input(v).map_err(|e| ApiError::query(name, e.to_string()))).transpose()
}

/// The output size of a request whose path may give one (`/preview/{w}x{h}`,
/// `/bbox/.../{w}x{h}`, `/feature/{w}x{h}`): the path's wins, but the query's sizes are
/// checked all the same.
pub fn output_size_or_path(
    q: &QueryMap,
    default_max: Option<usize>,
    path: Option<(usize, usize)>,
) -> ApiResult<OutputSize> {
    let queried = output_size(q, default_max)?;
    Ok(path.map_or(queried, |(w, h)| OutputSize::exact(w, h)))
}

/// `width`, `height` and `max_size` (TiTiler: explicit sizes cancel `max_size`, which
/// defaults to `default_max`).
pub fn output_size(q: &QueryMap, default_max: Option<usize>) -> ApiResult<OutputSize> {
    let positive = |name: &str| -> ApiResult<Option<usize>> {
        match q.get::<usize>(name)? {
            Some(0) => Err(ApiError::query(name, "must be greater than 0")),
            v => Ok(v),
        }
    };
    let (height, width) = (positive("height")?, positive("width")?);
    let max_size = if height.is_some() || width.is_some() { None } else { positive("max_size")?.or(default_max) };
    Ok(OutputSize { width, height, max_size })
}
