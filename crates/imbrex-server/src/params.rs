//! TiTiler's parameter groups ("dependencies") as typed structs. Each one parses itself
//! from the query once ([`QueryGroup`]), so a bad value is a 422 naming its parameter, and
//! documents itself in OpenAPI from its own fields (`utoipa::IntoParams`): no parameter is
//! listed by hand in a route's annotation.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use imbrex_raster::algorithm::Algorithm;
use imbrex_raster::expr::Expression;
use imbrex_raster::render::formula::ColorFormula;
use imbrex_raster::render::{ColorMap, ImageFormat, Recipe};
use imbrex_raster::{Bins, OutputSize, ReadOptions, Resampling, StatisticsOptions};
use imbrex_tms::Crs;
use utoipa::IntoParams;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryMap;

/// A group of query parameters that parses and validates itself.
pub trait QueryGroup: Sized {
    fn parse(state: &AppState, q: &QueryMap) -> ApiResult<Self>;
}

/// The extractor of a parameter group: `Params(read): Params<ReadParams>`.
pub struct Params<T>(pub T);

impl<T: QueryGroup> FromRequestParts<AppState> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        T::parse(state, &QueryMap::of(parts)).map(Params)
    }
}

/// Band selection and how pixels are read: TiTiler's `BidxExprParams` and `DatasetParams`.
#[derive(Clone, Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadParams {
    /// Band indexes (1-based), repeated (`bidx=1&bidx=2`) or comma-separated.
    #[param(value_type = Option<Vec<usize>>)]
    pub bidx: Option<Vec<usize>>,
    /// Band math over `b1`, `b2`…, blocks separated by `;` (exclusive with `bidx`).
    #[param(value_type = Option<String>)]
    pub expression: Option<Expression>,
    /// Nodata value to use instead of the dataset's (a number or `nan`).
    #[param(value_type = Option<String>)]
    pub nodata: Option<f64>,
    /// Apply the bands' scale and offset.
    #[param(value_type = Option<bool>)]
    pub unscale: bool,
    /// Resampling of decimated reads (GDAL RasterIO): nearest, bilinear, cubic,
    /// cubic_spline, lanczos, average, mode, gauss, rms.
    #[param(value_type = Option<String>)]
    pub resampling: Resampling,
    /// Resampling of reprojections (GDAL warp): RasterIO's methods but gauss, and max, min,
    /// med, q1, q3, sum.
    #[param(value_type = Option<String>)]
    pub reproject: Resampling,
    /// Extra pixels around each side of a tile (a multiple of 0.5).
    #[param(value_type = Option<f64>)]
    pub buffer: f64,
    /// Pixels read around the area and cropped off again.
    #[param(value_type = Option<usize>)]
    pub padding: usize,
    #[param(ignore)]
    max_pixels: u64,
    #[param(ignore)]
    max_bytes: u64,
    #[param(ignore)]
    max_bands: usize,
}

impl QueryGroup for ReadParams {
    fn parse(state: &AppState, q: &QueryMap) -> ApiResult<ReadParams> {
        let mut bidx = Vec::new();
        for v in q.all("bidx") {
            for part in v.split(',').filter(|s| !s.trim().is_empty()) {
                let i: usize = part
                    .trim()
                    .parse()
                    .map_err(|_| ApiError::query("bidx", format!("'{part}' is not a band index")))?;
                if i == 0 {
                    return Err(ApiError::query("bidx", "band indexes start at 1"));
                }
                bidx.push(i);
            }
        }
        let expression =
            q.raw("expression").map(|e| Expression::parse(e, state.config.limits.max_expression_len)).transpose()?;
        if expression.is_some() && !bidx.is_empty() {
            return Err(ApiError::query("bidx", "bidx and expression are exclusive"));
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
        Ok(ReadParams {
            bidx: (!bidx.is_empty()).then_some(bidx),
            expression,
            nodata,
            unscale: q.get_bool("unscale")?.unwrap_or(false),
            resampling: resampling(q, "resampling", false)?,
            reproject: resampling(q, "reproject", true)?,
            buffer: buffer.unwrap_or(0.0),
            padding: padding.map_or(0, |p| usize::try_from(p).unwrap_or(usize::MAX)),
            max_pixels: state.config.limits.max_output_pixels,
            max_bytes: state.config.limits.max_output_bytes,
            max_bands: state.config.limits.max_bands,
        })
    }
}

impl ReadParams {
    /// The library's read options; an expression reads the bands it names.
    pub fn options(&self) -> ReadOptions {
        ReadOptions {
            indexes: self.expression.as_ref().map(Expression::bands).or_else(|| self.bidx.clone()),
            nodata: self.nodata,
            unscale: self.unscale,
            resampling: self.resampling,
            reproject: self.reproject,
            buffer: self.buffer,
            padding: self.padding,
            max_pixels: self.max_pixels,
            max_bytes: self.max_bytes,
            max_bands: self.max_bands,
        }
    }
}

/// rasterio's names for RasterIO (`resampling`) or warp (`reproject`) methods.
fn resampling(q: &QueryMap, name: &str, warp: bool) -> ApiResult<Resampling> {
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

/// Post-processing: TiTiler's `PostProcessParams`.
#[derive(Clone, Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PostProcessParams {
    /// Algorithm applied after the read (see `/algorithms`).
    #[param(value_type = Option<String>)]
    pub algorithm: Option<Algorithm>,
    /// The algorithm's parameters, as a JSON object.
    #[param(value_type = Option<String>)]
    #[allow(dead_code)] // Parsed into `algorithm`; here for the document.
    algorithm_params: Option<String>,
}

impl QueryGroup for PostProcessParams {
    fn parse(_: &AppState, q: &QueryMap) -> ApiResult<PostProcessParams> {
        let algorithm = match q.raw("algorithm") {
            Some(name) => Some(Algorithm::new(name, q.raw("algorithm_params"))?),
            None if q.contains("algorithm_params") => {
                return Err(ApiError::query("algorithm_params", "algorithm_params needs algorithm"));
            }
            None => None,
        };
        Ok(PostProcessParams { algorithm, algorithm_params: q.raw("algorithm_params").map(str::to_string) })
    }
}

/// How values become colours: TiTiler's `ImageRenderingParams` and `ColorMapParams`.
#[derive(Clone, Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RenderParams {
    /// `min,max` to stretch each band over, repeated per band.
    #[param(value_type = Option<Vec<String>>)]
    pub rescale: Vec<(f64, f64)>,
    /// rio-color formula (`gamma`, `sigmoidal`, `saturation`).
    #[param(value_type = Option<String>)]
    pub color_formula: Option<ColorFormula>,
    /// Colormap name (see `/colorMaps`).
    #[param(value_type = Option<String>)]
    pub colormap_name: Option<ColorMap>,
    /// A colormap as JSON: `{"value": [r, g, b, a]}` or a list of `[[min, max], [r, g, b, a]]`.
    #[param(value_type = Option<String>)]
    pub colormap: Option<ColorMap>,
    /// A legend colouring band 1: the name of a configured legend (see `/legends`) or its
    /// JSON, `[{"name", "expression", "color"}, ...]` or `{"from", "over", "to", "range"}`.
    #[param(value_type = Option<String>)]
    pub legend: Option<std::sync::Arc<imbrex_raster::render::Legend>>,
    /// Report the pixels of each legend class in the `X-Legend-Counts` header (JSON).
    #[param(value_type = Option<bool>)]
    pub legend_counts: bool,
    /// Draw the mask as alpha (default true).
    #[param(value_type = Option<bool>)]
    pub return_mask: bool,
    /// Lossless WebP.
    #[param(value_type = Option<bool>)]
    pub lossless: bool,
}

/// `legend=`: a configured legend's name, or a legend's JSON.
pub fn legend(state: &AppState, q: &QueryMap) -> ApiResult<Option<std::sync::Arc<imbrex_raster::render::Legend>>> {
    let Some(v) = q.raw("legend") else { return Ok(None) };
    let t = v.trim_start();
    if t.starts_with('[') || t.starts_with('{') {
        return Ok(Some(std::sync::Arc::new(imbrex_raster::render::Legend::from_json(t)?)));
    }
    match state.legends.get(v) {
        Some(l) => Ok(Some(l.clone())),
        None => Err(ApiError::query("legend", format!("'{v}' is neither a configured legend (see /legends) nor JSON"))),
    }
}

impl QueryGroup for RenderParams {
    fn parse(state: &AppState, q: &QueryMap) -> ApiResult<RenderParams> {
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
        let colormap_name = q
            .raw("colormap_name")
            .map(|name| {
                ColorMap::named(name)
                    .ok_or_else(|| ApiError::query("colormap_name", format!("'{name}' is not a colormap")))
            })
            .transpose()?;
        let colormap = q.raw("colormap").map(ColorMap::from_json).transpose()?;
        if colormap_name.is_some() && colormap.is_some() {
            return Err(ApiError::query("colormap", "colormap and colormap_name are exclusive"));
        }
        let legend = legend(state, q)?;
        if legend.is_some() {
            // A legend colours the values themselves, in the colormap's place.
            if let Some(other) =
                ["colormap_name", "colormap", "rescale", "color_formula"].into_iter().find(|p| q.contains(p))
            {
                return Err(ApiError::query("legend", format!("legend and {other} are exclusive")));
            }
        }
        let legend_counts = q.get_bool("legend_counts")?.unwrap_or(false);
        if legend_counts && legend.is_none() {
            return Err(ApiError::query("legend_counts", "legend_counts needs legend"));
        }
        Ok(RenderParams {
            rescale,
            color_formula: q.raw("color_formula").map(ColorFormula::parse).transpose()?,
            colormap_name,
            colormap,
            legend,
            legend_counts,
            return_mask: q.get_bool("return_mask")?.unwrap_or(true),
            lossless: q.get_bool("lossless")?.unwrap_or(false),
        })
    }
}

/// Everything an image endpoint asks of its pixels: read, post-process, render.
pub struct Processing {
    pub read: ReadParams,
    pub post: PostProcessParams,
    pub render: RenderParams,
}

impl QueryGroup for Processing {
    fn parse(state: &AppState, q: &QueryMap) -> ApiResult<Processing> {
        Ok(Processing {
            read: ReadParams::parse(state, q)?,
            post: PostProcessParams::parse(state, q)?,
            render: RenderParams::parse(state, q)?,
        })
    }
}

impl Processing {
    /// The library's recipe.
    pub fn recipe(self) -> Recipe {
        let read = self.read.options();
        Recipe {
            read,
            expression: self.read.expression,
            algorithm: self.post.algorithm,
            rescale: self.render.rescale,
            color_formula: self.render.color_formula,
            colormap: self.render.colormap_name.or(self.render.colormap),
            legend: self.render.legend,
            legend_counts: self.render.legend_counts,
            return_mask: self.render.return_mask,
            lossless: self.render.lossless,
        }
    }

    /// Every parameter of the group, for OpenAPI.
    pub fn openapi() -> Vec<utoipa::openapi::path::Parameter> {
        let mut p = ReadParams::into_params(|| None);
        p.extend(PostProcessParams::into_params(|| None));
        p.extend(RenderParams::into_params(|| None));
        p
    }
}

/// The output size: TiTiler's `max_size`, `height`, `width` (explicit sizes cancel
/// `max_size`).
#[derive(Clone, Copy, Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SizeParams {
    /// Longest side of the output (previews default to 1024).
    pub max_size: Option<usize>,
    /// Output height.
    pub height: Option<usize>,
    /// Output width.
    pub width: Option<usize>,
}

impl QueryGroup for SizeParams {
    fn parse(_: &AppState, q: &QueryMap) -> ApiResult<SizeParams> {
        let positive = |name: &str| -> ApiResult<Option<usize>> {
            match q.get::<usize>(name)? {
                Some(0) => Err(ApiError::query(name, "must be greater than 0")),
                v => Ok(v),
            }
        };
        let (height, width) = (positive("height")?, positive("width")?);
        // TiTiler: an explicit size cancels `max_size`, which is then not even read.
        let max_size = if height.is_some() || width.is_some() { None } else { positive("max_size")? };
        Ok(SizeParams { max_size, height, width })
    }
}

impl SizeParams {
    /// The size, `max_size` defaulting to `default_max` when no side is given.
    pub fn size(&self, default_max: Option<usize>) -> OutputSize {
        let explicit = self.height.is_some() || self.width.is_some();
        let max_size = if explicit { None } else { self.max_size.or(default_max) };
        OutputSize { width: self.width, height: self.height, max_size }
    }

    /// The size of a request whose path may give one (`/preview/{w}x{h}`): the path's wins.
    pub fn size_or_path(&self, default_max: Option<usize>, path: Option<(usize, usize)>) -> OutputSize {
        path.map_or_else(|| self.size(default_max), |(w, h)| OutputSize::exact(w, h))
    }
}

/// TiTiler's `StatisticsParams` and `HistogramParams`.
#[derive(Clone, Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatisticsParams {
    /// Count values instead of making a histogram.
    #[param(value_type = Option<bool>)]
    categorical: bool,
    /// Categories to count (repeated or comma-separated).
    #[param(value_type = Option<Vec<f64>>)]
    c: Option<Vec<f64>>,
    /// Percentiles (default 2 and 98).
    #[param(value_type = Option<Vec<f64>>)]
    p: Option<Vec<f64>>,
    /// A bin count, or comma-separated bin edges.
    #[param(value_type = Option<String>)]
    histogram_bins: Bins,
    /// `min,max` of the histogram.
    #[param(value_type = Option<String>)]
    histogram_range: Option<(f64, f64)>,
}

impl QueryGroup for StatisticsParams {
    fn parse(_: &AppState, q: &QueryMap) -> ApiResult<StatisticsParams> {
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
        let p = floats("p")?;
        if let Some(p) = &p
            && p.iter().any(|v| !(0.0..=100.0).contains(v))
        {
            return Err(ApiError::query("p", "percentiles are between 0 and 100"));
        }
        let histogram_bins = match q.raw("histogram_bins") {
            None => Bins::Default,
            Some(v) if !v.contains(',') => {
                let n: usize = v
                    .trim()
                    .parse()
                    .map_err(|_| ApiError::query("histogram_bins", format!("'{v}' is not a bin count")))?;
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
        let histogram_range = match q.raw("histogram_range") {
            None => None,
            Some(v) => {
                let r: Vec<f64> = v.split(',').filter_map(|s| s.trim().parse().ok()).collect();
                match r[..] {
                    [a, b] if a < b && a.is_finite() && b.is_finite() => Some((a, b)),
                    _ => return Err(ApiError::query("histogram_range", format!("'{v}' is not 'min,max'"))),
                }
            }
        };
        Ok(StatisticsParams {
            categorical: q.get_bool("categorical")?.unwrap_or(false),
            c: floats("c")?,
            p,
            histogram_bins,
            histogram_range,
        })
    }
}

impl StatisticsParams {
    pub fn options(&self) -> StatisticsOptions {
        StatisticsOptions {
            categorical: self.categorical,
            categories: self.c.clone(),
            percentiles: self.p.clone(),
            bins: self.histogram_bins.clone(),
            range: self.histogram_range,
        }
    }
}

/// The CRS of coordinates in the request (a feature, a box, a point): WGS 84 by default.
#[derive(Clone, Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CoordCrsParams {
    /// CRS of the request's coordinates (default EPSG:4326).
    #[param(value_type = Option<String>)]
    pub coord_crs: Option<Crs>,
}

impl QueryGroup for CoordCrsParams {
    fn parse(_: &AppState, q: &QueryMap) -> ApiResult<CoordCrsParams> {
        Ok(CoordCrsParams { coord_crs: crs(q, "coord_crs")? })
    }
}

impl CoordCrsParams {
    pub fn or_wgs84(&self) -> Crs {
        self.coord_crs.clone().unwrap_or_else(Crs::wgs84)
    }
}

/// The CRS of the output.
#[derive(Clone, Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DstCrsParams {
    /// CRS of the output (default: `coord_crs`, or the dataset's for a preview).
    #[param(value_type = Option<String>)]
    pub dst_crs: Option<Crs>,
}

impl QueryGroup for DstCrsParams {
    fn parse(_: &AppState, q: &QueryMap) -> ApiResult<DstCrsParams> {
        Ok(DstCrsParams { dst_crs: crs(q, "dst_crs")? })
    }
}

/// A tile's size.
#[derive(Clone, Copy, Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TileParams {
    /// Tile size in pixels, 1 to 4096 (default: the TileMatrixSet's).
    pub tilesize: Option<usize>,
}

impl QueryGroup for TileParams {
    fn parse(_: &AppState, q: &QueryMap) -> ApiResult<TileParams> {
        let tilesize = match q.get::<usize>("tilesize")? {
            Some(0) => return Err(ApiError::query("tilesize", "must be greater than 0")),
            Some(t) if t > 4096 => return Err(ApiError::query("tilesize", "at most 4096")),
            t => t,
        };
        Ok(TileParams { tilesize })
    }
}

/// The image format of an endpoint, when its path has no extension.
#[derive(Clone, Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatParams {
    /// png, pngraw, jpeg, jpg, webp, tif, npy (default: JPEG when every pixel is valid,
    /// else PNG). `f` is accepted too.
    #[param(value_type = Option<String>)]
    format: QueryMap,
}

impl QueryGroup for FormatParams {
    fn parse(_: &AppState, q: &QueryMap) -> ApiResult<FormatParams> {
        Ok(FormatParams::from_query(q))
    }
}

impl FormatParams {
    /// The query, whose `format=` (else `f=`) is read only when needed (see
    /// [`FormatParams::or_ext`]): a parameter a tile ignores is not noted as read.
    fn from_query(q: &QueryMap) -> FormatParams {
        FormatParams { format: q.clone() }
    }

    /// The format a path's extension names, else the query's: the query is only read
    /// (and checked) when the path has no extension, as TiTiler does.
    pub fn or_ext(&self, ext: Option<&str>) -> ApiResult<Option<ImageFormat>> {
        let q = &self.format;
        let (name, raw) = match ext {
            Some(e) => ("format", e),
            None => match q.raw("format") {
                Some(f) => ("format", f),
                None => match q.raw("f") {
                    Some(f) => ("f", f),
                    None => return Ok(None),
                },
            },
        };
        raw.parse().map(Some).map_err(|_| ApiError::query(name, format!("'{raw}' is not an image format")))
    }
}

/// The format of `format=` or `f=`, checked.
pub fn format(q: &QueryMap) -> ApiResult<Option<ImageFormat>> {
    FormatParams::from_query(q).or_ext(None)
}

/// A CRS parameter.
pub fn crs(q: &QueryMap, name: &str) -> ApiResult<Option<Crs>> {
    q.raw(name).map(|v| Crs::from_user_input(v).map_err(|e| ApiError::query(name, e.to_string()))).transpose()
}
