//! Endpoints that describe a dataset: info, TileJSON, OGC tilesets, WMTS capabilities and
//! the map page.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use imbrex_raster::BaseReader;
use imbrex_tms::{Bounds, Crs, TileMatrixSet, Transformer};
use serde_json::{Value, json};

use super::{DatasetFactory, DatasetQuery, bounds_to_geometry, encode_query};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{BaseUrl, QueryMap};
use crate::params::{Params, QueryGroup, crs};
use crate::routes::tms::tms_id;

/// Dataset metadata, as rio-tiler's `Info`.
pub async fn info<F: DatasetFactory>(State(state): State<AppState>, src: DatasetQuery<F>) -> ApiResult<Response> {
    let ds = src.open(&state).await?;
    Ok(axum::Json(ds.reader.info_document()).into_response())
}

/// The CRS of an output geometry.
#[derive(Clone, Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GeometryCrsParams {
    /// CRS of the output geometry (default EPSG:4326).
    #[param(value_type = Option<String>)]
    pub crs: Option<Crs>,
}

impl QueryGroup for GeometryCrsParams {
    fn parse(_: &AppState, q: &QueryMap) -> ApiResult<GeometryCrsParams> {
        Ok(GeometryCrsParams { crs: crs(q, "crs")? })
    }
}

/// Dataset metadata as a GeoJSON Feature whose geometry is the dataset footprint.
pub async fn info_geojson<F: DatasetFactory>(
    State(state): State<AppState>,
    Params(c): Params<GeometryCrsParams>,
    src: DatasetQuery<F>,
) -> ApiResult<Response> {
    let out_crs = c.crs.unwrap_or_else(Crs::wgs84);
    let ds = src.open(&state).await?;
    let r = ds.reader.as_ref();
    let bounds = if out_crs.same_as(&Crs::wgs84()) {
        r.geographic_bounds()
    } else {
        let src = r.crs().ok_or_else(|| ApiError::BadRequest("the dataset has no CRS".into()))?;
        Transformer::new(src, &out_crs)?.transform_bounds(r.bounds(), 21)?
    };
    let mut feature = json!({
        "bbox": bounds.to_array(),
        "type": "Feature",
        "geometry": bounds_to_geometry(bounds),
        "properties": r.info_document(),
    });
    if !out_crs.same_as(&Crs::wgs84()) {
        feature["crs"] = json!({"type": "name", "properties": {"name": out_crs.to_uri_or_definition()}});
    }
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], axum::Json(feature)).into_response())
}

/// What a TileJSON (or tileset) request says about itself, not about its tiles.
#[derive(Clone, Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TileJsonParams {
    /// Tile format in the URL template (default: automatic).
    #[param(value_type = Option<String>)]
    pub tile_format: Option<&'static str>,
    /// Tile size in pixels.
    pub tilesize: Option<u32>,
    /// Overwrite the dataset's minzoom.
    pub minzoom: Option<i32>,
    /// Overwrite the dataset's maxzoom.
    pub maxzoom: Option<i32>,
}

impl QueryGroup for TileJsonParams {
    fn parse(_: &AppState, q: &QueryMap) -> ApiResult<TileJsonParams> {
        let tile_format = q
            .raw("tile_format")
            .map(|f| {
                crate::routes::tile_format_name(f)
                    .ok_or_else(|| ApiError::query("tile_format", format!("'{f}' is not a tile format")))
            })
            .transpose()?;
        Ok(TileJsonParams {
            tile_format,
            tilesize: q.get("tilesize")?,
            minzoom: q.get("minzoom")?,
            maxzoom: q.get("maxzoom")?,
        })
    }
}

/// Query parameters that belong to the TileJSON request itself, not to the tiles.
const TILEJSON_OWN: &[&str] = &["tile_format", "tilesize", "minzoom", "maxzoom", "tile_scale"];

/// TileJSON 3.0 for a dataset in a TileMatrixSet.
pub async fn tilejson<F: DatasetFactory>(
    State(state): State<AppState>,
    Path(tms_path): Path<String>,
    base: BaseUrl,
    query: QueryMap,
) -> ApiResult<Response> {
    let tms = state.tms.get(&tms_id(&tms_path)?)?;
    let t = TileJsonParams::parse(&state, &query)?;
    let src = DatasetQuery::<F>::parse(&state, &query)?;
    let ds = src.open(&state).await?;
    let r = ds.reader.as_ref();
    let (dmin, dmax) = r.zoom_range(&tms);
    let (minzoom, maxzoom) = (t.minzoom.unwrap_or(dmin), t.maxzoom.unwrap_or(dmax));
    let format = t.tile_format.map(|f| format!(".{f}")).unwrap_or_default();
    let mut tile_query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query.pairs() {
        if !TILEJSON_OWN.contains(&k.as_str()) {
            tile_query.append_pair(k, v);
        }
    }
    if let Some(ts) = t.tilesize {
        tile_query.append_pair("tilesize", &ts.to_string());
    }
    let tiles =
        base.join(&format!("{}/tiles/{}/{{z}}/{{x}}/{{y}}{format}?{}", F::PREFIX, tms.id(), tile_query.finish()));
    let b = r.geographic_bounds();
    let center_lon = if b.left > b.right {
        ((b.left + b.right + 360.0) / 2.0 + 180.0).rem_euclid(360.0) - 180.0
    } else {
        (b.left + b.right) / 2.0
    };
    let info = r.info();
    Ok(axum::Json(json!({
        "tilejson": "3.0.0",
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [tiles],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": b.to_array(),
        "center": [center_lon, (b.bottom + b.top) / 2.0, minzoom],
        "raster_layers": {},
        "band_descriptions": info.band_descriptions,
        "data_type": info.dtype,
    }))
    .into_response())
}

/// A map of one dataset; the query (url=, rescale=, colormap_name=...) goes to its tiles.
pub async fn map_html<F: DatasetFactory>(
    State(state): State<AppState>,
    Path(tms_path): Path<String>,
    base: BaseUrl,
    query: QueryMap,
) -> ApiResult<Html<String>> {
    let id = tms_id(&tms_path)?;
    state.tms.get(&id)?;
    if id != "WebMercatorQuad" {
        return Err(ApiError::path("tileMatrixSetId", "the map page draws WebMercatorQuad tiles (MapLibre)"));
    }
    DatasetQuery::<F>::parse(&state, &query)?;
    let tilejson = base.join(&format!("{}/WebMercatorQuad/tilejson.json?{}", F::PREFIX, encode_query(&query, &[])));
    Ok(Html(crate::routes::viewer::page(&base, "imbrex map", Some(&tilejson), None, None)))
}

/// TiTiler's `tileMatrixSetLimits`: for each zoom of the dataset's range, the tiles
/// covering its geographic bounds (clamped to the matrix).
pub fn limits(tms: &TileMatrixSet, b: &Bounds, minzoom: i32, maxzoom: i32) -> Vec<(String, u64, u64, u64, u64)> {
    let mut out = Vec::new();
    // Only the TMS's own zooms have matrices: a request for zooms -2^31..2^31 must not loop
    // four billion times.
    for z in minzoom.max(tms.minzoom())..=maxzoom.min(tms.maxzoom()) {
        let Ok(m) = tms.matrix(z) else { continue };
        let (Ok(ul), Ok(lr)) = (tms.tile_clamped(b.left, b.top, z), tms.tile_clamped(b.right, b.bottom, z)) else {
            continue;
        };
        let (minx, maxx) = (ul.x.min(lr.x), ul.x.max(lr.x));
        let (miny, maxy) = (ul.y.min(lr.y), ul.y.max(lr.y));
        out.push((m.id.clone(), miny, maxy.min(m.matrix_height), minx, maxx.min(m.matrix_width)));
    }
    out
}

fn tileset_doc<F: DatasetFactory>(
    base: &BaseUrl,
    tms: &TileMatrixSet,
    r: &F::Reader,
    query: &QueryMap,
    zooms: Option<(Option<i32>, Option<i32>)>,
) -> Value {
    let q = encode_query(query, &["f", "minzoom", "maxzoom", "crs"]);
    let prefix = F::PREFIX;
    let b = r.geographic_bounds();
    let id = tms.id();
    let crs = tms.crs().to_uri().unwrap_or_else(|| tms.crs().to_uri_or_definition());
    let mut links = vec![
        json!({"href": base.join(&format!("{prefix}/tiles/{id}?{q}")), "rel": "self", "type": "application/json",
            "title": format!("Tileset tiled using {id} TileMatrixSet")}),
        json!({"href": base.join(&format!("{prefix}/tiles/{id}/%7Bz%7D/%7Bx%7D/%7By%7D?{q}")), "rel": "tile", "templated": true,
            "title": "Templated link for retrieving Raster tiles"}),
        json!({"href": base.join(&format!("/tileMatrixSets/{id}")), "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
            "type": "application/json", "title": format!("Definition of '{id}' tileMatrixSet")}),
    ];
    if id == "WebMercatorQuad" {
        links.push(
            json!({"href": base.join(&format!("{prefix}/{id}/map.html?{q}")), "rel": "data", "type": "text/html",
            "title": format!("Map viewer for '{id}' tileMatrixSet")}),
        );
    }
    let mut out = json!({
        "title": format!("tileset tiled using {id} TileMatrixSet"),
        "dataType": "map",
        "crs": crs,
        "links": links,
    });
    if let Some((minzoom, maxzoom)) = zooms {
        let (minz, maxz) = r.zoom_range(tms);
        out["tileMatrixSetLimits"] = limits(tms, &b, minzoom.unwrap_or(minz), maxzoom.unwrap_or(maxz))
            .into_iter()
            .map(|(m, r0, r1, c0, c1)| json!({"tileMatrix": m, "minTileRow": r0, "maxTileRow": r1, "minTileCol": c0, "maxTileCol": c1}))
            .collect();
    }
    out["boundingBox"] = json!({"lowerLeft": [b.left, b.bottom], "upperRight": [b.right, b.top], "crs": "http://www.opengis.net/def/crs/EPSG/0/4326"});
    out["accessConstraints"] = json!("unclassified");
    out
}

/// The tilesets of a dataset: one per TileMatrixSet.
pub async fn tilesets<F: DatasetFactory>(
    State(state): State<AppState>,
    base: BaseUrl,
    query: QueryMap,
    src: DatasetQuery<F>,
) -> ApiResult<Response> {
    let ds = src.open(&state).await?;
    let sets: Vec<Value> = state.tms.iter().map(|t| tileset_doc::<F>(&base, t, &ds.reader, &query, None)).collect();
    Ok(axum::Json(json!({ "tilesets": sets })).into_response())
}

/// The zooms a tileset document is limited to.
#[derive(Clone, Copy, Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ZoomParams {
    /// Overwrite the dataset's minzoom.
    pub minzoom: Option<i32>,
    /// Overwrite the dataset's maxzoom.
    pub maxzoom: Option<i32>,
}

impl QueryGroup for ZoomParams {
    fn parse(_: &AppState, q: &QueryMap) -> ApiResult<ZoomParams> {
        Ok(ZoomParams { minzoom: q.get("minzoom")?, maxzoom: q.get("maxzoom")? })
    }
}

/// One tileset's metadata, with the tile limits of every zoom of the dataset.
pub async fn tileset<F: DatasetFactory>(
    State(state): State<AppState>,
    Path(tms_path): Path<String>,
    base: BaseUrl,
    query: QueryMap,
) -> ApiResult<Response> {
    let tms = state.tms.get(&tms_id(&tms_path)?)?;
    let z = ZoomParams::parse(&state, &query)?;
    let src = DatasetQuery::<F>::parse(&state, &query)?;
    let ds = src.open(&state).await?;
    Ok(axum::Json(tileset_doc::<F>(&base, &tms, &ds.reader, &query, Some((z.minzoom, z.maxzoom)))).into_response())
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Parameters of the capabilities document itself, not of its tiles.
const WMTS_OWN: &[&str] = &["tile_format", "use_epsg", "zooms", "tilesize"];

/// What a WMTS capabilities request says about itself.
#[derive(Clone, Copy, Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WmtsParams {
    /// Tile format (default png).
    #[param(value_type = Option<String>)]
    pub tile_format: imbrex_raster::render::ImageFormat,
    /// Name CRSs as urn:ogc:def:crs:EPSG::code.
    #[param(value_type = Option<bool>)]
    pub use_epsg: bool,
}

impl QueryGroup for WmtsParams {
    fn parse(_: &AppState, q: &QueryMap) -> ApiResult<WmtsParams> {
        let format = q.raw("tile_format").unwrap_or("png");
        let tile_format =
            format.parse().map_err(|_| ApiError::query("tile_format", format!("'{format}' is not a tile format")))?;
        Ok(WmtsParams { tile_format, use_epsg: q.get_bool("use_epsg")?.unwrap_or(false) })
    }
}

/// OGC WMTS 1.0 capabilities: one layer per TileMatrixSet (RESTful tile URLs).
pub async fn wmts<F: DatasetFactory>(
    State(state): State<AppState>,
    base: BaseUrl,
    query: QueryMap,
    Params(w): Params<WmtsParams>,
    src: DatasetQuery<F>,
) -> ApiResult<Response> {
    let (format, media) = (w.tile_format.name(), w.tile_format.media_type());
    let ds = src.open(&state).await?;
    let r = ds.reader.as_ref();
    let prefix = F::PREFIX;
    let tile_q = encode_query(&query, WMTS_OWN);
    let self_url = xml(&base.join(&format!("{prefix}/WMTSCapabilities.xml?{}", encode_query(&query, &[]))));
    let b = r.geographic_bounds();
    let mut layers = String::new();
    let mut sets = String::new();
    for tms in state.tms.iter() {
        let id = tms.id();
        let (minz, maxz) = r.zoom_range(tms);
        let name = xml(&format!("{}_{id}_default", ds.key));
        let _ = write!(
            layers,
            "<Layer><ows:Title>{name}</ows:Title><ows:Identifier>{name}</ows:Identifier>\
             <ows:WGS84BoundingBox crs=\"urn:ogc:def:crs:OGC:2:84\"><ows:LowerCorner>{} {}</ows:LowerCorner><ows:UpperCorner>{} {}</ows:UpperCorner></ows:WGS84BoundingBox>\
             <Style isDefault=\"true\"><ows:Title>{name}</ows:Title><ows:Identifier>{name}</ows:Identifier></Style>\
             <Format>{media}</Format><TileMatrixSetLink><TileMatrixSet>{id}</TileMatrixSet><TileMatrixSetLimits>",
            b.left, b.bottom, b.right, b.top
        );
        for (m, r0, r1, c0, c1) in limits(tms, &b, minz, maxz) {
            let _ = write!(
                layers,
                "<TileMatrixLimits><TileMatrix>{m}</TileMatrix><MinTileRow>{r0}</MinTileRow><MaxTileRow>{r1}</MaxTileRow><MinTileCol>{c0}</MinTileCol><MaxTileCol>{c1}</MaxTileCol></TileMatrixLimits>"
            );
        }
        let template =
            xml(&base.join(&format!("{prefix}/tiles/{id}/{{TileMatrix}}/{{TileCol}}/{{TileRow}}.{format}?{tile_q}")));
        let _ = write!(
            layers,
            "</TileMatrixSetLimits></TileMatrixSetLink><ResourceURL format=\"{media}\" resourceType=\"tile\" template=\"{template}\"/></Layer>"
        );
        let crs = match (w.use_epsg, tms.crs().epsg()) {
            (true, Some(code)) => format!("urn:ogc:def:crs:EPSG::{code}"),
            _ => tms.crs().to_uri().unwrap_or_else(|| tms.crs().to_uri_or_definition()),
        };
        let _ = write!(
            sets,
            "<TileMatrixSet><ows:Identifier>{id}</ows:Identifier><ows:SupportedCRS>{}</ows:SupportedCRS>",
            xml(&crs)
        );
        for m in tms.tile_matrices() {
            // WMTS wants the corner in the CRS's axis order, as the TMS document has it.
            let _ = write!(
                sets,
                "<TileMatrix><ows:Identifier>{}</ows:Identifier><ScaleDenominator>{}</ScaleDenominator><TopLeftCorner>{} {}</TopLeftCorner>\
                 <TileWidth>{}</TileWidth><TileHeight>{}</TileHeight><MatrixWidth>{}</MatrixWidth><MatrixHeight>{}</MatrixHeight></TileMatrix>",
                xml(&m.id),
                m.scale_denominator,
                m.point_of_origin[0],
                m.point_of_origin[1],
                m.tile_width,
                m.tile_height,
                m.matrix_width,
                m.matrix_height
            );
        }
        sets.push_str("</TileMatrixSet>");
    }
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Capabilities xmlns="http://www.opengis.net/wmts/1.0" xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:gml="http://www.opengis.net/gml" xsi:schemaLocation="http://www.opengis.net/wmts/1.0 http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd" version="1.0.0">
<ows:ServiceIdentification><ows:Title>Web Map Tile Service by imbrex</ows:Title><ows:ServiceType>OGC WMTS</ows:ServiceType><ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion></ows:ServiceIdentification>
<ows:OperationsMetadata>
<ows:Operation name="GetCapabilities"><ows:DCP><ows:HTTP><ows:Get xlink:href="{self_url}"><ows:Constraint name="GetEncoding"><ows:AllowedValues><ows:Value>RESTful</ows:Value></ows:AllowedValues></ows:Constraint></ows:Get></ows:HTTP></ows:DCP></ows:Operation>
<ows:Operation name="GetTile"><ows:DCP><ows:HTTP><ows:Get xlink:href="{self_url}"><ows:Constraint name="GetEncoding"><ows:AllowedValues><ows:Value>RESTful</ows:Value></ows:AllowedValues></ows:Constraint></ows:Get></ows:HTTP></ows:DCP></ows:Operation>
</ows:OperationsMetadata>
<Contents>{layers}{sets}</Contents>
<ServiceMetadataURL xlink:href="{self_url}"/>
</Capabilities>
"#
    );
    Ok(([(header::CONTENT_TYPE, "application/xml")], body).into_response())
}
