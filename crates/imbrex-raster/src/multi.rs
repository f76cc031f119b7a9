//! A dataset made of several readers, each read into the requested grid on its own and
//! stacked band after band: a STAC item's assets (rio-tiler's `MultiBaseReader`) and
//! django-raster's algebra layers. The layers need not share a CRS, a resolution or a
//! type: each one is warped by its own reader, and the stack takes numpy's promoted type.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::try_join_all;
use imbrex_tms::{Bounds, Crs, TileMatrixSet, Transformer};
use serde_json::Value;

use crate::array::DataType;
use crate::error::{Error, Result};
use crate::expr::Expression;
use crate::feature::Shape;
use crate::image::{ImageData, PointData};
use crate::reader::{
    BaseReader, FeatureReader, FeatureRequest, Info, OutputSize, PartRequest, PointRequest, ReadOptions, Reader,
    TileRequest,
};
use crate::render::ColorMap;
use crate::tiff::NodataType;

/// The most layers (assets) one stack may have: each is read concurrently, into an image
/// as large as the output.
pub const MAX_LAYERS: usize = 32;

/// One part of a stack: a reader and how to read it.
#[derive(Clone, Debug)]
pub struct Layer {
    /// The asset or layer name (band descriptions are `{name}_{band}`).
    pub name: String,
    pub reader: Arc<Reader>,
    /// Bands of this reader (1-based; default every band but alpha).
    pub indexes: Option<Vec<usize>>,
    /// Band math over this reader's bands, applied before stacking.
    pub expression: Option<Expression>,
    /// Nodata of this layer when the request gives none (a STAC asset's `raster:bands`).
    pub nodata: Option<f64>,
    /// `(scale, offset)` of each of the reader's bands that `unscale=true` applies instead of
    /// the file's (a STAC asset's `raster:bands`).
    pub scales: Option<Vec<(f64, f64)>>,
}

impl Layer {
    /// The request's read options with this layer's own bands and nodata.
    fn options(&self, base: &ReadOptions) -> ReadOptions {
        ReadOptions {
            indexes: self.expression.as_ref().map(Expression::bands).or_else(|| self.indexes.clone()),
            nodata: base.nodata.or(self.nodata),
            // The layer's own scales are applied after the read (see `unscale`).
            unscale: base.unscale && self.scales.is_none(),
            ..base.clone()
        }
    }

    /// `(scale, offset)` of each band of a read with `opts`, when the layer has its own and
    /// the request unscales.
    fn own_scales(&self, opts: &ReadOptions, count: usize) -> Option<Vec<(f64, f64)>> {
        let scales = self.scales.as_ref().filter(|_| opts.unscale)?;
        let bands = self.options(opts).indexes.unwrap_or_else(|| (1..=count).collect());
        Some(bands.iter().map(|&b| scales.get(b - 1).copied().unwrap_or((1.0, 0.0))).collect())
    }

    /// How many bands this layer gives.
    pub fn band_count(&self) -> Result<usize> {
        match &self.expression {
            Some(e) => Ok(e.names().len()),
            None => self.reader.band_count(self.indexes.as_deref()),
        }
    }

    /// The layer's own scales, its band math, then its bands named after it.
    fn finish(&self, mut img: ImageData, opts: &ReadOptions, asset_as_band: bool) -> Result<ImageData> {
        if let Some(so) = self.own_scales(opts, img.count) {
            img.scales = so.iter().map(|s| s.0).collect();
            img.offsets = so.iter().map(|s| s.1).collect();
            img = img.unscale();
        }
        let mut img = match &self.expression {
            Some(e) => e.apply_within(&img, opts)?,
            None => img,
        };
        img.band_descriptions = self.descriptions(&img.band_descriptions, asset_as_band)?;
        Ok(img)
    }

    fn descriptions(&self, own: &[String], asset_as_band: bool) -> Result<Vec<String>> {
        if asset_as_band {
            if own.len() > 1 {
                return Err(Error::InvalidParameter {
                    name: "asset_as_band",
                    reason: format!("'{}' has {} bands: asset_as_band needs one band per asset", self.name, own.len()),
                });
            }
            return Ok(vec![self.name.clone()]);
        }
        Ok(own.iter().map(|d| format!("{}_{d}", self.name)).collect())
    }
}

/// Layers read into one grid and stacked.
#[derive(Debug)]
pub struct Stack {
    layers: Vec<Layer>,
    asset_as_band: bool,
    crs: Crs,
    bounds: Bounds,
    geographic: Bounds,
    driver: &'static str,
}

impl Stack {
    /// A stack placed where its layers are: the union of their geographic bounds.
    pub fn new(layers: Vec<Layer>, asset_as_band: bool, driver: &'static str) -> Result<Stack> {
        let union = layers.iter().map(|l| l.reader.geographic_bounds()).reduce(|a, b| {
            Bounds::new(a.left.min(b.left), a.bottom.min(b.bottom), a.right.max(b.right), a.top.max(b.top))
        });
        Stack::placed(layers, asset_as_band, driver, union.unwrap_or(Bounds::new(-180.0, -90.0, 180.0, 90.0)))
    }

    /// A stack whose footprint is known without its layers (a STAC item's `bbox`), in WGS 84.
    pub fn placed(layers: Vec<Layer>, asset_as_band: bool, driver: &'static str, bounds: Bounds) -> Result<Stack> {
        if layers.is_empty() {
            return Err(Error::InvalidParameter { name: "assets", reason: "at least one is needed".into() });
        }
        if layers.len() > MAX_LAYERS {
            return Err(Error::InvalidParameter {
                name: "assets",
                reason: format!("{} assets or layers, at most {MAX_LAYERS}", layers.len()),
            });
        }
        Ok(Stack { layers, asset_as_band, crs: Crs::wgs84(), bounds, geographic: bounds, driver })
    }

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Read every layer with `read`, concurrently, and stack the results; then keep the
    /// bands the request names (band math over the stack reads `b1..bN` of it).
    async fn stack<'a, F, Fut>(&'a self, opts: &ReadOptions, read: F) -> Result<ImageData>
    where
        F: Fn(&'a Layer, ReadOptions) -> Fut,
        Fut: Future<Output = Result<ImageData>> + 'a,
    {
        let opts = &self.per_layer(opts);
        let parts = try_join_all(self.layers.iter().map(|l| {
            let fut = read(l, l.options(opts));
            async move { l.finish(fut.await?, opts, self.asset_as_band) }
        }))
        .await?;
        select(ImageData::stack(parts)?, opts)
    }
}

impl Stack {
    /// The read options of one layer: the layers are read at once into one stack, so each
    /// gets its share of the memory bound.
    fn per_layer(&self, opts: &ReadOptions) -> ReadOptions {
        ReadOptions { max_bytes: opts.max_bytes / self.layers.len().max(1) as u64, ..opts.clone() }
    }

    /// Stack the first layer's image with the other layers read into its grid (its box, CRS
    /// and size), so layers of different resolutions give one image; `cut` masks the grid's
    /// pixels outside a shape.
    async fn anchored(&self, head: ImageData, opts: &ReadOptions, cut: Option<(&Shape, &Crs)>) -> Result<ImageData> {
        let crs = head.crs.clone().ok_or_else(|| Error::unsupported("stacking layers in pixel space"))?;
        let outside: Option<Vec<bool>> = match cut {
            Some((shape, shape_crs)) if self.layers.len() > 1 => {
                let local = if shape_crs.same_as(&crs) {
                    shape.clone()
                } else {
                    shape.transformed(&Transformer::new(shape_crs, &crs)?)?
                };
                Some(
                    local
                        .cutline(&head.transform(), head.width, head.height)?
                        .into_iter()
                        .map(|inside| !inside)
                        .collect(),
                )
            }
            _ => None,
        };
        let grid = PartRequest {
            bbox: head.bounds,
            bounds_crs: Some(&crs),
            dst_crs: Some(&crs),
            size: OutputSize::exact(head.width, head.height),
        };
        let (first, rest) = self.layers.split_first().expect("a stack has layers");
        let others = try_join_all(rest.iter().map(|l| {
            let outside = outside.as_deref();
            async move {
                let mut img = BaseReader::part(l.reader.as_ref(), grid, &l.options(opts)).await?;
                if let Some(outside) = outside {
                    let n = img.width * img.height;
                    for (i, m) in img.band_mask.iter_mut().enumerate() {
                        if outside[i % n] {
                            *m = 0;
                        }
                    }
                }
                l.finish(img, opts, self.asset_as_band)
            }
        }))
        .await?;
        let mut parts = vec![first.finish(head, opts, self.asset_as_band)?];
        parts.extend(others);
        select(ImageData::stack(parts)?, opts)
    }
}

/// The 0-based stack bands of a request's `indexes` (1-based over the whole stack of
/// `count` bands), or why they are wrong; `None` for every band.
fn stack_bands(opts: &ReadOptions, count: usize) -> Result<Option<Vec<usize>>> {
    let Some(ix) = &opts.indexes else { return Ok(None) };
    if let Some(&bad) = ix.iter().find(|&&i| i == 0 || i > count) {
        return Err(Error::InvalidParameter {
            name: "bidx",
            reason: format!("band {bad} does not exist (the assets give {count})"),
        });
    }
    Ok(Some(ix.iter().map(|i| i - 1).collect()))
}

/// The stack's bands a request asks for (`indexes` are 1-based over the whole stack).
fn select(img: ImageData, opts: &ReadOptions) -> Result<ImageData> {
    let Some(bands) = stack_bands(opts, img.count)? else { return Ok(img) };
    let mut out = img.select_bands(&bands);
    out.band_names = (1..=out.count).map(|i| format!("b{i}")).collect();
    Ok(out)
}

impl BaseReader for Stack {
    fn info(&self) -> Info {
        let infos: Vec<Info> = self.layers.iter().map(|l| l.reader.info()).collect();
        let mut descriptions = Vec::new();
        let mut dtype: Option<DataType> = None;
        for (l, info) in self.layers.iter().zip(&infos) {
            let own: Vec<String> = match (&l.expression, &l.indexes) {
                (Some(e), _) => e.names(),
                (None, Some(ix)) => ix.iter().map(|i| format!("b{i}")).collect(),
                (None, None) => info.band_descriptions.iter().map(|d| d.1.clone()).collect(),
            };
            descriptions.extend(l.descriptions(&own, self.asset_as_band).unwrap_or(own));
            dtype = Some(dtype.map_or(info.dtype, |d| d.promote(info.dtype)));
        }
        let count = descriptions.len();
        let first = infos.first();
        Info {
            bounds: self.bounds.to_array(),
            crs: Some(self.crs.to_uri_or_definition()),
            band_metadata: (1..=count).map(|i| (format!("b{i}"), BTreeMap::new())).collect(),
            band_descriptions: descriptions
                .into_iter()
                .enumerate()
                .map(|(i, d)| crate::reader::BandDescription(format!("b{}", i + 1), d))
                .collect(),
            dtype: dtype.unwrap_or(DataType::Uint8),
            nodata_type: NodataType::None,
            colorinterp: vec!["gray".into(); count],
            scales: vec![1.0; count],
            offsets: vec![0.0; count],
            colormap: None,
            driver: self.driver.to_string(),
            count,
            width: first.map_or(0, |i| i.width),
            height: first.map_or(0, |i| i.height),
            overviews: Vec::new(),
            nodata_value: None,
            minmax: None,
        }
    }

    /// One `Info` per layer, by name (rio-tiler's `MultiBaseReader.info`).
    fn info_document(&self) -> Value {
        let map: serde_json::Map<String, Value> = self
            .layers
            .iter()
            .map(|l| (l.name.clone(), serde_json::to_value(l.reader.info()).unwrap_or(Value::Null)))
            .collect();
        Value::Object(map)
    }

    fn crs(&self) -> Option<&Crs> {
        Some(&self.crs)
    }

    fn bounds(&self) -> Bounds {
        self.bounds
    }

    fn geographic_bounds(&self) -> Bounds {
        self.geographic
    }

    fn zoom_range(&self, tms: &TileMatrixSet) -> (i32, i32) {
        let zooms = self.layers.iter().map(|l| l.reader.zoom_range(tms));
        zooms.reduce(|a, b| (a.0.min(b.0), a.1.max(b.1))).unwrap_or((0, 24))
    }

    fn palette(&self) -> Option<ColorMap> {
        None
    }

    async fn tile(&self, req: TileRequest<'_>, opts: &ReadOptions) -> Result<ImageData> {
        self.stack(opts, |l, o| async move { BaseReader::tile(l.reader.as_ref(), req, &o).await }).await
    }

    /// The first layer's part sets the grid (its resolution when the request gives no size);
    /// the others are read into it.
    async fn part(&self, req: PartRequest<'_>, opts: &ReadOptions) -> Result<ImageData> {
        let opts = &self.per_layer(opts);
        let first = &self.layers[0];
        let head = BaseReader::part(first.reader.as_ref(), req, &first.options(opts)).await?;
        self.anchored(head, opts, None).await
    }

    /// The first layer's preview sets the grid; the others are read into it (rio-tiler
    /// previews each asset on its own, which gives the same grid when the assets share one
    /// and a stacking error when they do not).
    async fn preview(&self, size: OutputSize, opts: &ReadOptions) -> Result<ImageData> {
        let opts = &self.per_layer(opts);
        let first = &self.layers[0];
        let head = BaseReader::preview(first.reader.as_ref(), size, &first.options(opts)).await?;
        if head.crs.is_none() {
            // Pixel space: no common grid to read into; previews of one size stack.
            let rest = try_join_all(self.layers[1..].iter().map(|l| async move {
                let img = BaseReader::preview(l.reader.as_ref(), size, &l.options(opts)).await?;
                l.finish(img, opts, self.asset_as_band)
            }))
            .await?;
            let mut parts = vec![first.finish(head, opts, self.asset_as_band)?];
            parts.extend(rest);
            return select(ImageData::stack(parts)?, opts);
        }
        self.anchored(head, opts, None).await
    }
    async fn point(&self, req: PointRequest<'_>, opts: &ReadOptions) -> Result<PointData> {
        let points = try_join_all(self.layers.iter().map(|l| async move {
            // The layer's own scales come before its band math, as for images.
            let scaled = l.scales.is_some() && opts.unscale;
            let expression = l.expression.as_ref().filter(|_| !scaled);
            let lreq = PointRequest { expression, ..req };
            let o = l.options(opts);
            let mut pt = BaseReader::point(l.reader.as_ref(), lreq, &o).await?;
            if let Some(so) = l.own_scales(opts, pt.values.len()) {
                // As `ImageData::unscale`: float32 arithmetic.
                for (v, (s, o)) in pt.values.iter_mut().zip(so) {
                    *v = ((*v as f32) * s as f32 + o as f32) as f64;
                }
                if let Some(e) = &l.expression {
                    pt = pt.apply(e, DataType::Float32)?;
                }
            }
            let dtype = if l.expression.is_some() || opts.unscale { DataType::Float64 } else { l.reader.info().dtype };
            let descriptions = l.descriptions(&pt.band_descriptions, self.asset_as_band)?;
            Ok::<_, Error>((PointData { band_descriptions: descriptions, ..pt }, dtype))
        }))
        .await?;
        let dtype = points.iter().map(|p| p.1).reduce(DataType::promote).unwrap_or(DataType::Float64);
        let mut out = points[0].0.clone();
        out.values.clear();
        out.valid.clear();
        out.band_descriptions.clear();
        for (p, _) in points {
            out.values.extend(p.values);
            out.valid.extend(p.valid);
            out.band_descriptions.extend(p.band_descriptions);
        }
        out.band_names = (1..=out.values.len()).map(|i| format!("b{i}")).collect();
        if let Some(bands) = stack_bands(opts, out.values.len())? {
            out.values = bands.iter().map(|&b| out.values[b]).collect();
            out.valid = bands.iter().map(|&b| out.valid[b]).collect();
            out.band_descriptions = bands.iter().map(|&b| out.band_descriptions[b].clone()).collect();
            out.band_names = (1..=bands.len()).map(|i| format!("b{i}")).collect();
        }
        match req.expression {
            Some(e) => out.apply(e, dtype),
            None => Ok(out),
        }
    }
}

impl FeatureReader for Stack {
    /// The first layer's read sets the grid; the others are read into it and cut by the
    /// shape there.
    async fn feature(&self, req: FeatureRequest<'_>, opts: &ReadOptions) -> Result<ImageData> {
        let opts = &self.per_layer(opts);
        let first = &self.layers[0];
        let head = FeatureReader::feature(first.reader.as_ref(), req, &first.options(opts)).await?;
        self.anchored(head, opts, Some((req.shape, req.shape_crs))).await
    }
}
