//! The `/stac` endpoint group: every endpoint of the dataset router over a STAC item's
//! assets (named by `assets=`, read concurrently and stacked), plus what only an item has:
//! its asset list, per-asset statistics and the `renders` extension.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::try_join_all;
use imbrex_raster::multi::{Layer, Stack};
use imbrex_raster::stac::{AssetSpec, StacItem};
use imbrex_raster::{BaseReader, OutputSize, Reader};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{BaseUrl, QueryMap};
use crate::params::{Params, QueryGroup, ReadParams, SizeParams, StatisticsParams};
use crate::routes::dataset::{self, DatasetFactory};

/// A STAC item named by `url=`, its assets by `assets=`.
pub struct Stac;

/// The dataset of a `/stac` request.
#[derive(Clone, Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StacParams {
    /// STAC item URL: a path under an allowed folder, http(s):// or s3://.
    pub url: String,
    /// Asset names, repeated (`assets=red&assets=green`), each with optional options
    /// (`assets=visual|indexes=1,2,3`, `assets=b04|expression=b1*2`).
    #[param(required = true)]
    pub assets: Vec<String>,
    /// Treat each asset as one band named after it.
    #[param(value_type = Option<bool>)]
    pub asset_as_band: bool,
}

impl QueryGroup for StacParams {
    fn parse(state: &AppState, q: &QueryMap) -> ApiResult<StacParams> {
        let url = state.dataset_url(&q.require::<String>("url")?)?;
        // Repeated, or comma-separated when no asset has options (whose values hold commas).
        let mut assets: Vec<String> = Vec::new();
        for v in q.all("assets") {
            if v.contains('|') {
                assets.push(v.to_string());
            } else {
                assets.extend(v.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_string));
            }
        }
        if assets.is_empty() {
            return Err(ApiError::Validation(vec![crate::ValidationIssue::missing("assets")]));
        }
        // Checked before any asset is opened.
        if assets.len() > imbrex_raster::multi::MAX_LAYERS {
            let max = imbrex_raster::multi::MAX_LAYERS;
            return Err(ApiError::query("assets", format!("{} assets, at most {max}", assets.len())));
        }
        let asset_as_band = q.get_bool("asset_as_band")?.unwrap_or(false);
        Ok(StacParams { url, assets, asset_as_band })
    }
}

/// The layers of the assets a request names, opened concurrently.
async fn layers(state: &AppState, item: &StacItem, assets: &[String]) -> ApiResult<Vec<Layer>> {
    let max = state.config.limits.max_expression_len;
    let specs = assets.iter().map(|a| AssetSpec::parse(a)).collect::<Result<Vec<_>, _>>()?;
    let reads = specs.iter().map(|s| item.read(s, max)).collect::<Result<Vec<_>, _>>()?;
    let readers: Vec<Arc<Reader>> = try_join_all(reads.iter().map(|r| state.open_asset(&r.href))).await?;
    Ok(specs
        .into_iter()
        .zip(reads)
        .zip(readers)
        .map(|((spec, read), reader)| Layer {
            name: spec.name,
            reader,
            indexes: read.indexes,
            expression: read.expression,
            nodata: read.nodata,
            scales: read.scales,
        })
        .collect())
}

impl DatasetFactory for Stac {
    type Reader = Stack;
    type Params = StacParams;
    const PREFIX: &'static str = "/stac";
    const TAG: &'static str = "SpatioTemporal Asset Catalog";

    async fn open(state: &AppState, params: &StacParams) -> ApiResult<Arc<Stack>> {
        let item = state.stac_item(&params.url).await?;
        let layers = layers(state, &item, &params.assets).await?;
        let stack = match item.bbox {
            Some(b) => Stack::placed(layers, params.asset_as_band, "STAC", b)?,
            None => Stack::new(layers, params.asset_as_band, "STAC")?,
        };
        Ok(Arc::new(stack))
    }

    fn key(params: &StacParams) -> String {
        format!("{}\u{0}{}\u{0}{}", params.url, params.assets.join("\u{1}"), params.asset_as_band)
    }
}

pub fn router() -> Router<AppState> {
    dataset::router::<Stac>()
        .merge(dataset::feature_router::<Stac>())
        .route("/assets", get(assets))
        .route("/asset_statistics", get(asset_statistics))
        .route("/renders", get(renders))
        .route("/renders/{render_id}", get(render))
}

/// The item alone (`url=`), for endpoints that do not read assets.
#[derive(Clone, Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemParams {
    /// STAC item URL.
    pub url: String,
}

impl QueryGroup for ItemParams {
    fn parse(state: &AppState, q: &QueryMap) -> ApiResult<ItemParams> {
        Ok(ItemParams { url: state.dataset_url(&q.require::<String>("url")?)? })
    }
}

/// The assets a tiler can read, in the item's order.
#[utoipa::path(get, path = "/stac/assets", tag = "SpatioTemporal Asset Catalog", params(ItemParams),
    responses((status = 200, description = "Asset names", content_type = "application/json")))]
pub async fn assets(State(state): State<AppState>, Params(p): Params<ItemParams>) -> ApiResult<Response> {
    let item = state.stac_item(&p.url).await?;
    let names: Vec<&str> = item.assets.iter().map(|a| a.name.as_str()).collect();
    Ok(axum::Json(names).into_response())
}

/// Statistics of each asset on its own (`{asset: {band: statistics}}`).
#[utoipa::path(get, path = "/stac/asset_statistics", tag = "SpatioTemporal Asset Catalog",
    params(StacParams, ReadParams, SizeParams, StatisticsParams),
    responses((status = 200, description = "Statistics per asset", content_type = "application/json")))]
pub async fn asset_statistics(
    State(state): State<AppState>,
    Params(p): Params<StacParams>,
    Params(read): Params<ReadParams>,
    Params(size): Params<SizeParams>,
    Params(stats): Params<StatisticsParams>,
) -> ApiResult<Response> {
    let item = state.stac_item(&p.url).await?;
    let layers = layers(&state, &item, &p.assets).await?;
    let size = size.size(Some(OutputSize::PREVIEW_MAX));
    let base = imbrex_raster::ReadOptions { indexes: None, ..read.options() };
    let opts = stats.options();
    let results = try_join_all(layers.iter().map(|l| {
        let (state, opts, base) = (&state, opts.clone(), &base);
        let one = Stack::new(vec![l.clone()], false, "STAC");
        async move {
            let one = one?;
            let img = one.preview(size, base).await?;
            let stats = state.render.cpu.run(move || img.statistics(&opts)).await?;
            let bands: Map<String, Value> =
                stats.into_iter().map(|(name, s)| (name, serde_json::to_value(s).unwrap_or(Value::Null))).collect();
            Ok::<_, ApiError>((l.name.clone(), Value::Object(bands)))
        }
    }))
    .await?;
    Ok(axum::Json(Value::Object(results.into_iter().collect())).into_response())
}

/// The item's render definitions (STAC `renders` extension), each with links to its
/// TileJSON and map.
#[utoipa::path(get, path = "/stac/renders", tag = "SpatioTemporal Asset Catalog", params(ItemParams),
    responses((status = 200, description = "Render definitions", content_type = "application/json")))]
pub async fn renders(
    State(state): State<AppState>,
    base: BaseUrl,
    Params(p): Params<ItemParams>,
) -> ApiResult<Response> {
    let item = state.stac_item(&p.url).await?;
    let all = item.renders.as_ref().and_then(Value::as_object).cloned().unwrap_or_default();
    let out: Map<String, Value> = all.iter().map(|(id, r)| (id.clone(), render_doc(&base, &p.url, id, r))).collect();
    let self_link = base.join(&format!("/stac/renders?{}", query(&[("url", p.url.clone())])));
    Ok(axum::Json(json!({"renders": out, "links": [{"href": self_link, "rel": "self", "type": "application/json"}]}))
        .into_response())
}

/// One render definition.
#[utoipa::path(get, path = "/stac/renders/{render_id}", tag = "SpatioTemporal Asset Catalog",
    params(("render_id" = String, Path, description = "Render identifier"), ItemParams),
    responses((status = 200, description = "Render definition", content_type = "application/json")))]
pub async fn render(
    State(state): State<AppState>,
    Path(id): Path<String>,
    base: BaseUrl,
    Params(p): Params<ItemParams>,
) -> ApiResult<Response> {
    let item = state.stac_item(&p.url).await?;
    let r = item
        .renders
        .as_ref()
        .and_then(|r| r.get(&id))
        .ok_or_else(|| ApiError::NotFound(format!("render '{id}' not found in the item")))?;
    Ok(axum::Json(render_doc(&base, &p.url, &id, r)).into_response())
}

/// A render's parameters, and links to its TileJSON and map made of them.
fn render_doc(base: &BaseUrl, url: &str, id: &str, render: &Value) -> Value {
    let mut pairs = vec![("url", url.to_string())];
    if let Some(obj) = render.as_object() {
        for (k, v) in obj {
            let key: &'static str = match k.as_str() {
                "assets" => "assets",
                "rescale" => "rescale",
                "nodata" => "nodata",
                "colormap_name" => "colormap_name",
                "colormap" => "colormap",
                "color_formula" => "color_formula",
                "expression" => "expression",
                "resampling" => "resampling",
                "asset_as_band" => "asset_as_band",
                "bidx" => "bidx",
                _ => continue,
            };
            match v {
                Value::Array(items) => {
                    for i in items {
                        let s = match i {
                            Value::Array(pair) => pair.iter().map(value_text).collect::<Vec<_>>().join(","),
                            other => value_text(other),
                        };
                        pairs.push((key, s));
                    }
                }
                Value::Object(_) => pairs.push((key, v.to_string())),
                other => pairs.push((key, value_text(other))),
            }
        }
    }
    let q = query(&pairs);
    json!({
        "params": render,
        "links": [
            {"href": base.join(&format!("/stac/renders/{id}?{}", query(&[("url", url.to_string())]))), "rel": "self", "type": "application/json"},
            {"href": base.join(&format!("/stac/WebMercatorQuad/tilejson.json?{q}")), "rel": "tilesets-map", "type": "application/json", "title": "TileJSON"},
            {"href": base.join(&format!("/stac/WebMercatorQuad/map.html?{q}")), "rel": "map", "type": "text/html", "title": "Map viewer"},
        ],
    })
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn query(pairs: &[(&str, String)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    q.finish()
}
