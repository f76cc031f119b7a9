//! The render recipe: everything a request asks of its pixels between the read and the
//! bytes, in TiTiler's order (expression, algorithm, rescale, colour formula, colormap,
//! then the format's rules), plus imbrex's policy for data that is not 8-bit.

use std::sync::Arc;
use std::time::Duration;

use imbrex_tms::{Bounds, Crs};

use super::formula::ColorFormula;
use super::{ColorMap, ImageFormat, Legend, Render};
use crate::algorithm::Algorithm;
use crate::array::DataType;
use crate::cpu::CpuPool;
use crate::error::Result;
use crate::expr::Expression;
use crate::image::ImageData;
use crate::reader::{BaseReader, OutputSize, ReadOptions};
use crate::stats::StatisticsOptions;

/// How a request reads, computes and draws its pixels.
#[derive(Clone, Debug, Default)]
pub struct Recipe {
    pub read: ReadOptions,
    /// Band math; the bands it names are [`ReadOptions::indexes`].
    pub expression: Option<Expression>,
    pub algorithm: Option<Algorithm>,
    /// `(min, max)` per band (the last one repeats).
    pub rescale: Vec<(f64, f64)>,
    pub color_formula: Option<ColorFormula>,
    pub colormap: Option<ColorMap>,
    /// Classes or a ramp colouring band 1 (in the colormap's place, over the values
    /// themselves: no rescale or colour formula goes with it).
    pub legend: Option<Arc<Legend>>,
    /// Count the pixels of each legend class ([`Rendered::legend_counts`]).
    pub legend_counts: bool,
    /// Draw the mask as alpha.
    pub return_mask: bool,
    /// Lossless WebP (imbrex's addition: TiTiler's WebP is always lossy, quality 75).
    pub lossless: bool,
}

/// An image encoded, with what TiTiler's headers say about it.
#[derive(Debug)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub format: ImageFormat,
    pub bounds: Bounds,
    pub crs: Option<Crs>,
    /// Pixels per legend class, when the recipe asked for them.
    pub legend_counts: Option<Vec<(String, u64)>>,
}

/// What rendering shares between requests: the pool it computes on, and the stretch
/// ranges of datasets drawn without `rescale` (see [`Recipe::stretch`]).
#[derive(Clone, Debug, Default)]
pub struct RenderContext {
    pub cpu: CpuPool,
    pub stretches: StretchCache,
}

/// Stretch ranges per dataset and processing.
#[derive(Clone, Debug)]
pub struct StretchCache(moka::future::Cache<String, Arc<Vec<(f64, f64)>>>);

impl Default for StretchCache {
    fn default() -> Self {
        StretchCache(moka::future::Cache::builder().max_capacity(4096).time_to_live(Duration::from_secs(3600)).build())
    }
}

impl Recipe {
    /// rio-tiler evaluates an expression a second time as float64 when every band has
    /// statistics metadata and fails if that fails (`~b1` on such files): do the same.
    pub fn check(&self, reader: &impl BaseReader) -> Result<()> {
        if let Some(e) = self.own_expression(reader)
            && reader.info().minmax.is_some()
        {
            e.check_float64()?;
        }
        Ok(())
    }

    /// Extra pixels an algorithm needs around a tile.
    pub fn algorithm_buffer(&self) -> usize {
        self.algorithm.as_ref().map_or(0, Algorithm::buffer)
    }

    /// The band math this recipe applies after the read: none when the reader applies it
    /// itself (see [`BaseReader::applies_expression`]).
    fn own_expression(&self, reader: &impl BaseReader) -> Option<&Expression> {
        self.expression.as_ref().filter(|_| !reader.applies_expression())
    }

    /// Expression then algorithm (TiTiler's order: the reader applies the expression, the
    /// endpoint then post-processes).
    pub fn post_process(&self, img: ImageData) -> Result<ImageData> {
        let img = match &self.expression {
            Some(e) => e.apply_within(&img, &self.read)?,
            None => img,
        };
        match &self.algorithm {
            Some(a) => a.apply(&img),
            None => Ok(img),
        }
    }

    /// [`Recipe::post_process`] of an image `reader` read, on a CPU pool (a no-op stays on
    /// the caller's thread).
    pub async fn post_process_on(&self, reader: &impl BaseReader, cpu: &CpuPool, img: ImageData) -> Result<ImageData> {
        let expression = self.own_expression(reader).cloned();
        if expression.is_none() && self.algorithm.is_none() {
            return Ok(img);
        }
        let algorithm = self.algorithm.clone();
        let recipe = Recipe { read: self.read.clone(), expression, algorithm, ..Recipe::default() };
        cpu.try_run(move || recipe.post_process(img)).await
    }

    /// Post-process, colour and encode an image read from `reader` (`key` names the dataset
    /// among the stretch ranges).
    pub async fn render(
        &self,
        reader: &impl BaseReader,
        key: &str,
        img: ImageData,
        format: Option<ImageFormat>,
        ctx: &RenderContext,
    ) -> Result<Rendered> {
        self.check(reader)?;
        let img = self.post_process_on(reader, &ctx.cpu, img).await?;
        let (img, legend_counts) = match &self.legend {
            Some(legend) => self.apply_legend(legend, reader, key, img, ctx).await?,
            None => (img, None),
        };
        let img = match &self.color_formula {
            // TiTiler: rescale, then the colour formula, then the colormap.
            Some(f) => {
                let scaled = if self.rescale.is_empty() { img } else { super::rescale(&img, &self.rescale) };
                f.apply(&scaled)?
            }
            None => img,
        };
        // TiTiler: `colormap or dst_colormap`. rio-tiler's `apply_cmap` takes one band only,
        // so the dataset's palette colours one-band output and leaves any other as it is.
        let colormap = match &self.colormap {
            Some(c) => Some(c.clone()),
            None if img.count == 1 => reader.palette(),
            None => None,
        };
        let stretch = match colormap {
            Some(_) => None,
            None => self.stretch(reader, key, &img, format, ctx).await?,
        };
        let render = Render {
            rescale: if self.color_formula.is_some() { Vec::new() } else { self.rescale.clone() },
            colormap,
            format,
            return_mask: self.return_mask,
            stretch,
            geotiff: true,
            lossless: self.lossless,
        };
        let (bounds, crs) = (img.bounds, img.crs.clone());
        let (bytes, format) = ctx.cpu.try_run(move || super::render(&img, &render)).await?;
        Ok(Rendered { bytes, format, bounds, crs, legend_counts })
    }

    /// Colour band 1 with a legend (and count its classes when asked). A ramp without a
    /// range of its own takes the dataset's: the range a stretch would use.
    async fn apply_legend(
        &self,
        legend: &Arc<Legend>,
        reader: &impl BaseReader,
        key: &str,
        img: ImageData,
        ctx: &RenderContext,
    ) -> Result<(ImageData, Option<Vec<(String, u64)>>)> {
        if img.count != 1 {
            return Err(crate::Error::InvalidParameter {
                name: "legend",
                reason: format!(
                    "a legend colours one band and this read has {}: choose one with bidx or expression",
                    img.count
                ),
            });
        }
        let range = match legend.needs_range() {
            true => self.ranges(reader, key, ctx).await?.first().copied(),
            false => None,
        };
        let (legend, count) = (legend.clone(), self.legend_counts);
        ctx.cpu
            .try_run(move || {
                let (painted, counts) = legend.paint(&img, range)?;
                Ok((painted, count.then_some(counts)))
            })
            .await
    }

    /// The range non-8-bit output is stretched over when no `rescale` is given and the
    /// format needs 8 bits: the file's STATISTICS_MINIMUM/MAXIMUM of the bands drawn
    /// (unscaled as rio-tiler unscales them; what TiTiler uses too), else the 2nd-98th
    /// percentiles of a preview processed exactly as the tile is (bands, nodata, unscale,
    /// expression, algorithm), computed once per dataset and processing.
    async fn stretch(
        &self,
        reader: &impl BaseReader,
        key: &str,
        img: &ImageData,
        format: Option<ImageFormat>,
        ctx: &RenderContext,
    ) -> Result<Option<Vec<(f64, f64)>>> {
        let held = format.is_some_and(|f| f.holds(img.dtype(), false));
        if img.dtype() == DataType::Uint8 || held || !self.rescale.is_empty() || self.legend.is_some() {
            return Ok(None);
        }
        self.ranges(reader, key, ctx).await.map(Some)
    }

    /// The dataset's value range per band drawn: its STATISTICS_MINIMUM/MAXIMUM, else the
    /// 2nd-98th percentiles of a processed preview (see [`Recipe::stretch`]).
    pub async fn ranges(&self, reader: &impl BaseReader, key: &str, ctx: &RenderContext) -> Result<Vec<(f64, f64)>> {
        let info = reader.info();
        if self.expression.is_none()
            && self.algorithm.is_none()
            && let Some(minmax) = &info.minmax
        {
            let bands: Vec<usize> = self.read.indexes.clone().unwrap_or_else(|| (1..=minmax.len()).collect());
            if bands.iter().all(|&b| b >= 1 && b <= minmax.len()) {
                let unscale = |b: usize, v: f64| {
                    if self.read.unscale { v * info.scales[b - 1] + info.offsets[b - 1] } else { v }
                };
                return Ok(bands
                    .iter()
                    .map(|&b| (unscale(b, minmax[b - 1][0]), unscale(b, minmax[b - 1][1])))
                    .collect());
            }
        }
        // A rewritten file is stretched to its new values.
        let key = format!("{}\u{0}{}", self.pixels_key(key), reader.content_version().as_deref().unwrap_or(""));
        if let Some(hit) = ctx.stretches.0.get(&key).await {
            return Ok(hit.as_ref().clone());
        }
        let preview = reader.preview(OutputSize::max(512), &self.read).await?;
        let preview = self.post_process_on(reader, &ctx.cpu, preview).await?;
        let stats = ctx.cpu.run(move || preview.statistics(&StatisticsOptions::default())).await?;
        let ranges: Vec<(f64, f64)> = stats
            .iter()
            .map(|(_, s)| {
                let lo = s.percentiles.first().map_or(s.min, |p| p.1);
                let hi = s.percentiles.get(1).map_or(s.max, |p| p.1);
                if lo.is_finite() && hi.is_finite() && hi > lo { (lo, hi) } else { (0.0, 255.0) }
            })
            .collect();
        ctx.stretches.0.insert(key, Arc::new(ranges.clone())).await;
        Ok(ranges)
    }

    /// What decides the pixels that are drawn, for the stretch cache: every read option
    /// that changes values or masks, the expression and the algorithm with its parameters.
    fn pixels_key(&self, dataset: &str) -> String {
        let r = &self.read;
        format!(
            "{dataset}\u{0}{:?}\u{0}{:?}\u{0}{}\u{0}{:?}\u{0}{:?}\u{0}{}\u{0}{:?}",
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
