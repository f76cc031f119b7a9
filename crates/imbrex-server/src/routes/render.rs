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

/// The range non-8-bit output is stretched over when no `rescale` is given: the file's
/// STATISTICS_MINIMUM/MAXIMUM (what TiTiler uses too), else the 2nd-98th percentiles of a
/// preview, computed once per dataset and band selection.
async fn stretch(
    state: &AppState,
    url: &str,
    reader: &Reader,
    p: &Processing,
    img: &ImageData,
) -> ApiResult<Option<Vec<(f64, f64)>>> {
    if img.dtype() == DataType::Uint8 || !p.rescale.is_empty() || p.colormap.is_some() {
        return Ok(None);
    }
    if p.expression.is_none()
        && p.algorithm.is_none()
        && let Some(minmax) = reader.info().minmax
    {
        let bands: Vec<usize> = p.read.indexes.clone().unwrap_or_else(|| (1..=minmax.len()).collect());
        if bands.iter().all(|&b| b >= 1 && b <= minmax.len()) {
            return Ok(Some(bands.iter().map(|&b| (minmax[b - 1][0], minmax[b - 1][1])).collect()));
        }
    }
    let key = format!(
        "{url}\u{0}{:?}\u{0}{}\u{0}{}",
        p.read.indexes,
        p.expression.as_ref().map(|e| e.names().join(";")).unwrap_or_default(),
        p.read.nodata.map(|n| n.to_string()).unwrap_or_default()
    );
    if let Some(hit) = state.stretch.get(&key).await {
        return Ok(Some(hit.as_ref().clone()));
    }
    let preview = reader.preview(Some(512), None, None, &p.read).await?;
    let preview = match &p.expression {
        Some(e) => e.apply(&preview)?,
        None => preview,
    };
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
    let stretch = stretch(state, url, reader, p, &img).await?;
    let render = Render {
        rescale: if p.color_formula.is_some() { Vec::new() } else { p.rescale.clone() },
        colormap: p.colormap.clone(),
        format,
        return_mask: p.return_mask,
        stretch,
        geotiff: true,
    };
    let (bytes, fmt) = tokio::task::spawn_blocking(move || imbrex_raster::render::render(&img, &render))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let mut res = bytes.into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(fmt.media_type()));
    Ok(res)
}
