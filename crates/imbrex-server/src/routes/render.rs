//! What every image endpoint shares: TiTiler's processing parameters (`expression`,
//! `algorithm`, `rescale`, `color_formula`, `colormap_name`/`colormap`, `return_mask`,
//! format) and the path from an `ImageData` to a response.

use std::sync::Arc;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use imbrex_raster::algorithm::Algorithm;
use imbrex_raster::expr::Expression;
use imbrex_raster::render::formula::ColorFormula;
use imbrex_raster::render::{ColorMap, ImageFormat, Render};
use imbrex_raster::{DataType, ImageData, ReadOptions, Reader, StatisticsOptions};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryMap;
use crate::params;

/// Everything between the read and the bytes.
pub struct Processing {
    pub read: ReadOptions,
    pub expression: Option<Expression>,
    pub algorithm: Option<Algorithm>,
    pub rescale: Vec<(f64, f64)>,
    pub color_formula: Option<ColorFormula>,
    pub colormap: Option<ColorMap>,
    pub return_mask: bool,
    /// Lossless WebP (imbrex's addition: TiTiler's WebP is always lossy, quality 75).
    pub lossless: bool,
}

impl Processing {
    /// Parse the query; `expression` replaces `bidx` with the bands it reads.
    pub fn from_query(state: &AppState, q: &QueryMap) -> ApiResult<Processing> {
        let mut read = params::read_options_without_expression(state, q)?;
        let expression = match q.raw("expression") {
            Some(text) => {
                let e = Expression::parse(text, state.config.limits.max_expression_len)?;
                if read.indexes.is_some() {
                    return Err(ApiError::query("bidx", "bidx and expression are exclusive"));
                }
                read.indexes = Some(e.bands());
                Some(e)
            }
            None => None,
        };
        let algorithm = match q.raw("algorithm") {
            Some(name) => Some(Algorithm::new(name, q.raw("algorithm_params"))?),
            None if q.contains("algorithm_params") => {
                return Err(ApiError::query("algorithm_params", "algorithm_params needs algorithm"));
            }
            None => None,
        };
        let mut rescale = Vec::new();
        for v in q.all("rescale") {
            let parts: Vec<&str> = v.split(',').collect();
            let range = match parts[..] {
                [a, b] => a.trim().parse::<f64>().ok().zip(b.trim().parse::<f64>().ok()),
                _ => None,
            };
            match range {
                Some((a, b)) if a.is_finite() && b.is_finite() && a != b => rescale.push((a, b)),
                _ => return Err(ApiError::query("rescale", format!("'{v}' is not 'min,max'"))),
            }
        }
        let color_formula = q.raw("color_formula").map(ColorFormula::parse).transpose()?;
        let colormap = match (q.raw("colormap_name"), q.raw("colormap")) {
            (Some(_), Some(_)) => return Err(ApiError::query("colormap", "colormap and colormap_name are exclusive")),
            (Some(name), None) => Some(
                ColorMap::named(name)
                    .ok_or_else(|| ApiError::query("colormap_name", format!("'{name}' is not a colormap")))?,
            ),
            (None, Some(json)) => Some(ColorMap::from_json(json)?),
            (None, None) => None,
        };
        Ok(Processing {
            read,
            expression,
            algorithm,
            rescale,
            color_formula,
            colormap,
            return_mask: q.get_bool("return_mask")?.unwrap_or(true),
            lossless: q.get_bool("lossless")?.unwrap_or(false),
        })
    }

    /// rio-tiler evaluates an expression a second time as float64 when every band has
    /// statistics metadata and fails if that fails (`~b1` on such files): do the same.
    pub fn check(&self, reader: &Reader) -> ApiResult<()> {
        if let Some(e) = &self.expression
            && reader.info().minmax.is_some()
        {
            e.check_float64()?;
        }
        Ok(())
    }

    /// Extra pixels to read around a tile for the algorithm.
    pub fn algorithm_buffer(&self) -> usize {
        self.algorithm.as_ref().map_or(0, Algorithm::buffer)
    }

    /// Expression then algorithm (TiTiler's order: the reader applies the expression, the
    /// endpoint then post-processes).
    pub fn apply(&self, img: ImageData) -> ApiResult<ImageData> {
        let img = match &self.expression {
            Some(e) => e.apply(&img)?,
            None => img,
        };
        Ok(match &self.algorithm {
            Some(a) => a.apply(&img)?,
            None => img,
        })
    }
}

/// The output format of a request: a path extension, or `format`/`f`, or automatic.
pub fn format(ext: Option<&str>, q: &QueryMap) -> ApiResult<Option<ImageFormat>> {
    let (name, raw) = match ext {
        Some(e) => ("format", Some(e)),
        None => match (q.raw("format"), q.raw("f")) {
            (Some(f), _) => ("format", Some(f)),
            (None, Some(f)) => ("f", Some(f)),
            (None, None) => ("format", None),
        },
    };
    raw.map(|f| f.parse::<ImageFormat>().map_err(|_| ApiError::query(name, format!("'{f}' is not an image format"))))
        .transpose()
}

impl Processing {
    /// What decides the pixels that are drawn, for the stretch cache: every read option
    /// that changes values or masks, the expression and the algorithm with its parameters.
    fn pixels_key(&self, url: &str) -> String {
        let r = &self.read;
        format!(
            "{url}\u{0}{:?}\u{0}{:?}\u{0}{}\u{0}{:?}\u{0}{:?}\u{0}{}\u{0}{:?}",
            r.indexes,
            r.nodata.map(f64::to_bits),
            r.unscale,
            r.resampling,
            r.reproject,
            self.expression.as_ref().map(Expression::text).unwrap_or_default(),
            self.algorithm,
        )
    }
}

/// The range non-8-bit output is stretched over when no `rescale` is given and the format
/// needs 8 bits: the file's STATISTICS_MINIMUM/MAXIMUM of the bands drawn (unscaled as
/// rio-tiler unscales them; what TiTiler uses too), else the 2nd-98th percentiles of a
/// preview processed exactly as the tile is (bands, nodata, unscale, expression,
/// algorithm), computed once per dataset and processing.
async fn stretch(
    state: &AppState,
    url: &str,
    reader: &Reader,
    p: &Processing,
    img: &ImageData,
    format: Option<ImageFormat>,
) -> ApiResult<Option<Vec<(f64, f64)>>> {
    let held = format.is_some_and(|f| f.holds(img.dtype(), false));
    if img.dtype() == DataType::Uint8 || held || !p.rescale.is_empty() {
        return Ok(None);
    }
    let info = reader.info();
    if p.expression.is_none()
        && p.algorithm.is_none()
        && let Some(minmax) = &info.minmax
    {
        let bands: Vec<usize> = p.read.indexes.clone().unwrap_or_else(|| (1..=minmax.len()).collect());
        if bands.iter().all(|&b| b >= 1 && b <= minmax.len()) {
            let unscale = |b: usize, v: f64| {
                if p.read.unscale { v * info.scales[b - 1] + info.offsets[b - 1] } else { v }
            };
            return Ok(Some(
                bands.iter().map(|&b| (unscale(b, minmax[b - 1][0]), unscale(b, minmax[b - 1][1]))).collect(),
            ));
        }
    }
    let key = p.pixels_key(url);
    if let Some(hit) = state.stretch.get(&key).await {
        return Ok(Some(hit.as_ref().clone()));
    }
    let preview = reader.preview(imbrex_raster::OutputSize::max(512), &p.read).await?;
    let preview = p.apply(preview)?;
    let stats = preview.statistics(&StatisticsOptions::default());
    let ranges: Vec<(f64, f64)> = stats
        .iter()
        .map(|(_, s)| {
            let lo = s.percentiles.first().map_or(s.min, |p| p.1);
            let hi = s.percentiles.get(1).map_or(s.max, |p| p.1);
            if lo.is_finite() && hi.is_finite() && hi > lo { (lo, hi) } else { (0.0, 255.0) }
        })
        .collect();
    state.stretch.insert(key, Arc::new(ranges.clone())).await;
    Ok(Some(ranges))
}

/// Process, render and answer.
pub async fn respond(
    state: &AppState,
    url: &str,
    reader: &Reader,
    p: &Processing,
    img: ImageData,
    format: Option<ImageFormat>,
) -> ApiResult<Response> {
    p.check(reader)?;
    let img = p.apply(img)?;
    let img = match &p.color_formula {
        // TiTiler: rescale, then the colour formula, then the colormap.
        Some(f) => {
            let scaled = if p.rescale.is_empty() { img } else { imbrex_raster::render::rescale(&img, &p.rescale) };
            f.apply(&scaled)?
        }
        None => img,
    };
    // TiTiler: `colormap or dst_colormap`. rio-tiler's `apply_cmap` takes one band only, so
    // the dataset's palette colours one-band output and leaves any other as it is.
    // Not through `reader.info()`: that builds the whole description (CRS text, bounds) on
    // every tile, which cost 15 % of a tile's time.
    let colormap = match &p.colormap {
        Some(c) => Some(c.clone()),
        None if img.count == 1 => reader.dataset().colormap().filter(|c| !c.is_empty()).map(|c| {
            let entries: Vec<(u32, [u8; 4])> = c.into_iter().enumerate().map(|(i, v)| (i as u32, v)).collect();
            ColorMap::from_palette(&entries)
        }),
        None => None,
    };
    let stretch = match colormap {
        Some(_) => None,
        None => stretch(state, url, reader, p, &img, format).await?,
    };
    let render = Render {
        rescale: if p.color_formula.is_some() { Vec::new() } else { p.rescale.clone() },
        colormap,
        format,
        return_mask: p.return_mask,
        stretch,
        geotiff: true,
        lossless: p.lossless,
    };
    // TiTiler's headers: the image's bounds (Python's `str` of each float) and its CRS URI.
    let b = img.bounds;
    let bbox = [b.left, b.bottom, b.right, b.top].map(py_float_repr).join(",");
    let crs = img.crs.as_ref().and_then(|c| c.to_uri()).map(|uri| format!("<{uri}>"));
    let (bytes, fmt) = tokio::task::spawn_blocking(move || imbrex_raster::render::render(&img, &render))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let mut res = bytes.into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(fmt.media_type()));
    if let Ok(v) = HeaderValue::from_str(&bbox) {
        headers.insert("content-bbox", v);
    }
    if let Some(v) = crs.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert("content-crs", v);
    }
    Ok(res)
}

/// Python's `repr` (and `str`) of a float: the shortest digits that round-trip, in
/// positional notation for exponents -4..16 (`1.0`, `0.0001`, `-60.5`), scientific
/// otherwise (`1e-05`, `1.5e+16`).
pub fn py_float_repr(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // Rust's `{:e}` gives the same shortest round-trip digits: `d[.ddd]e<exp>`.
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("an integer exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if v.is_sign_negative() { "-" } else { "" };
    if !(-4..16).contains(&exp) {
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{mantissa}e{exp_sign}{:02}", exp.abs());
    }
    let n = digits.len() as i32;
    let body = if exp < 0 {
        format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
    } else if exp + 1 >= n {
        format!("{digits}{}.0", "0".repeat((exp + 1 - n) as usize))
    } else {
        let (int, frac) = digits.split_at((exp + 1) as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::py_float_repr;

    #[test]
    fn floats_print_as_python_prints_them() {
        for (v, s) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (-60.0, "-60.0"),
            (0.1, "0.1"),
            (1e-4, "0.0001"),
            (1.5e-5, "1.5e-05"),
            (1e16, "1e+16"),
            (1.2345e15, "1234500000000000.0"),
            (-20037508.342789244, "-20037508.342789244"),
            (123.456, "123.456"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(py_float_repr(v), s, "{v:e}");
        }
    }
}
