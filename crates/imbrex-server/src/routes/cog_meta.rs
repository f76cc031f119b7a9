//! Dataset metadata documents of the `/cog` group: OGC tilesets, WMTS capabilities, COG
//! validation and a STAC item, in TiTiler's shapes.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use imbrex_raster::{ReadOptions, Reader, StatisticsOptions};
use imbrex_tms::{Bounds, TileMatrixSet};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{BaseUrl, QueryMap};
use crate::routes::cog::{bounds_to_geometry, reader};
use crate::routes::tms::tms_id;

fn encode_query(query: &QueryMap, skip: &[&str]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query.pairs() {
        if !skip.contains(&k.as_str()) {
            q.append_pair(k, v);
        }
    }
    q.finish()
}

/// TiTiler's `tileMatrixSetLimits`: for each zoom of the dataset's range, the tiles
/// covering its geographic bounds (clamped to the matrix).
pub(crate) fn limits(tms: &TileMatrixSet, b: &Bounds, minzoom: i32, maxzoom: i32) -> Vec<(String, u64, u64, u64, u64)> {
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

fn tileset(base: &BaseUrl, tms: &TileMatrixSet, r: &Reader, query: &QueryMap, with_limits: bool) -> Value {
    let q = encode_query(query, &["f", "minzoom", "maxzoom", "crs"]);
    let b = r.geographic_bounds();
    let id = tms.id();
    let crs = tms.crs().to_uri().unwrap_or_else(|| tms.crs().to_uri_or_definition());
    let mut links = vec![
        json!({"href": base.join(&format!("/cog/tiles/{id}?{q}")), "rel": "self", "type": "application/json",
            "title": format!("Tileset tiled using {id} TileMatrixSet")}),
        json!({"href": base.join(&format!("/cog/tiles/{id}/%7Bz%7D/%7Bx%7D/%7By%7D?{q}")), "rel": "tile", "templated": true,
            "title": "Templated link for retrieving Raster tiles"}),
        json!({"href": base.join(&format!("/tileMatrixSets/{id}")), "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
            "type": "application/json", "title": format!("Definition of '{id}' tileMatrixSet")}),
    ];
    if id == "WebMercatorQuad" {
        links.push(json!({"href": base.join(&format!("/cog/{id}/map.html?{q}")), "rel": "data", "type": "text/html",
            "title": format!("Map viewer for '{id}' tileMatrixSet")}));
    }
    let mut out = json!({
        "title": format!("tileset tiled using {id} TileMatrixSet"),
        "dataType": "map",
        "crs": crs,
        "links": links,
    });
    if with_limits {
        let (minz, maxz) = r.zoom_range(tms);
        let minzoom = query.get::<i32>("minzoom").ok().flatten().unwrap_or(minz);
        let maxzoom = query.get::<i32>("maxzoom").ok().flatten().unwrap_or(maxz);
        out["tileMatrixSetLimits"] = limits(tms, &b, minzoom, maxzoom)
            .into_iter()
            .map(|(m, r0, r1, c0, c1)| json!({"tileMatrix": m, "minTileRow": r0, "maxTileRow": r1, "minTileCol": c0, "maxTileCol": c1}))
            .collect();
    }
    out["boundingBox"] = json!({"lowerLeft": [b.left, b.bottom], "upperRight": [b.right, b.top], "crs": "http://www.opengis.net/def/crs/EPSG/0/4326"});
    out["accessConstraints"] = json!("unclassified");
    out
}

/// The tilesets of a dataset: one per TileMatrixSet.
#[utoipa::path(get, path = "/cog/tiles", tag = "Cloud Optimized GeoTIFF",
    params(("url" = String, Query, description = "Dataset URL")),
    responses((status = 200, description = "OGC API - Tiles tileset list", content_type = "application/json")))]
pub async fn tilesets(State(state): State<AppState>, base: BaseUrl, query: QueryMap) -> ApiResult<Response> {
    let r = reader(&state, &query).await?;
    let sets: Vec<Value> = state.tms.iter().map(|t| tileset(&base, t, &r, &query, false)).collect();
    Ok(axum::Json(json!({ "tilesets": sets })).into_response())
}

/// One tileset's metadata, with the tile limits of every zoom of the dataset.
#[utoipa::path(get, path = "/cog/tiles/{tileMatrixSetId}", tag = "Cloud Optimized GeoTIFF",
    params(("tileMatrixSetId" = String, Path, description = "TileMatrixSet identifier"),
        ("url" = String, Query, description = "Dataset URL"),
        ("minzoom" = Option<i32>, Query, description = "Overwrite the minzoom"), ("maxzoom" = Option<i32>, Query, description = "Overwrite the maxzoom")),
    responses((status = 200, description = "OGC API - Tiles tileset", content_type = "application/json")))]
pub async fn tileset_metadata(
    State(state): State<AppState>,
    Path(tms_path): Path<String>,
    base: BaseUrl,
    query: QueryMap,
) -> ApiResult<Response> {
    let tms = state.tms.get(&tms_id(&tms_path)?)?;
    query.get::<i32>("minzoom")?;
    query.get::<i32>("maxzoom")?;
    let r = reader(&state, &query).await?;
    Ok(axum::Json(tileset(&base, &tms, &r, &query, true)).into_response())
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Parameters of the capabilities document itself, not of its tiles.
const WMTS_OWN: &[&str] = &["tile_format", "use_epsg", "zooms", "tilesize"];

/// OGC WMTS 1.0 capabilities: one layer per TileMatrixSet (RESTful tile URLs).
#[utoipa::path(get, path = "/cog/WMTSCapabilities.xml", tag = "Cloud Optimized GeoTIFF",
    params(("url" = String, Query, description = "Dataset URL"),
        ("tile_format" = Option<String>, Query, description = "Tile format (default png)"),
        ("use_epsg" = Option<bool>, Query, description = "Name CRSs as urn:ogc:def:crs:EPSG::code")),
    responses((status = 200, description = "WMTS capabilities", content_type = "application/xml")))]
pub async fn wmts(State(state): State<AppState>, base: BaseUrl, query: QueryMap) -> ApiResult<Response> {
    let format = query.raw("tile_format").unwrap_or("png");
    let media = format
        .parse::<imbrex_raster::render::ImageFormat>()
        .map_err(|_| ApiError::query("tile_format", format!("'{format}' is not a tile format")))?
        .media_type();
    let use_epsg = query.get_bool("use_epsg")?.unwrap_or(false);
    let r = reader(&state, &query).await?;
    let url = query.raw("url").unwrap_or_default().to_string();
    let tile_q = encode_query(&query, WMTS_OWN);
    let self_url = xml(&base.join(&format!("/cog/WMTSCapabilities.xml?{}", encode_query(&query, &[]))));
    let b = r.geographic_bounds();
    let mut layers = String::new();
    let mut sets = String::new();
    for tms in state.tms.iter() {
        let id = tms.id();
        let (minz, maxz) = r.zoom_range(tms);
        let name = xml(&format!("{url}_{id}_default"));
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
            xml(&base.join(&format!("/cog/tiles/{id}/{{TileMatrix}}/{{TileCol}}/{{TileRow}}.{format}?{tile_q}")));
        let _ = write!(
            layers,
            "</TileMatrixSetLimits></TileMatrixSetLink><ResourceURL format=\"{media}\" resourceType=\"tile\" template=\"{template}\"/></Layer>"
        );
        let crs = match (use_epsg, tms.crs().epsg()) {
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

/// COG validation, in rio-cogeo's `Info` shape (what TiTiler's `/validate` returns).
#[utoipa::path(get, path = "/cog/validate", tag = "Cloud Optimized GeoTIFF",
    params(("url" = String, Query, description = "Dataset URL"), ("strict" = Option<bool>, Query, description = "Treat warnings as errors")),
    responses((status = 200, description = "Validation report", content_type = "application/json")))]
pub async fn validate(State(state): State<AppState>, query: QueryMap) -> ApiResult<Response> {
    let strict = query.get_bool("strict")?.unwrap_or(false);
    let r = reader(&state, &query).await?;
    // rio-cogeo describes the file as rasterio opens it, not rio-tiler's warped VRT of a
    // GCP file.
    let file = r.file_reader();
    let info = file.as_ref().unwrap_or(&r).info();
    let Some(tif) = r.dataset().tiff() else {
        return Err(ApiError::BadRequest(format!("{} is not a GeoTIFF", r.input())));
    };
    let main = tif.main();
    let validation = tif.validate_cog();
    let is_cog = validation.is_cog(strict);
    let (errors, warnings) = (validation.errors, validation.warnings);
    let levels: Vec<Value> = tif
        .levels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let decimation = if i == 0 { 0 } else { (main.width as f64 / l.image.width as f64).round() as u64 };
            json!({"Level": i, "Width": l.image.width, "Height": l.image.height,
                "Blocksize": [l.image.block_height, l.image.block_width], "Decimation": decimation})
        })
        .collect();
    // rio-cogeo: the dataset's default domain and IMAGE_STRUCTURE, and per band its
    // description, colour, scale, offset and metadata.
    let pairs = |items: Vec<(String, String)>| items.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let tags = json!({
        "Image Metadata": Value::Object(pairs(tif.image_metadata())),
        "Image Structure": Value::Object(pairs(tif.image_structure())),
    });
    let band_metadata: serde_json::Map<String, Value> = (0..info.count)
        .map(|i| {
            let meta = tif.band_metadata(i);
            let items: serde_json::Map<String, Value> =
                meta.items.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            let band = json!({
                "Description": meta.description.filter(|d| !d.is_empty()),
                "ColorInterp": info.colorinterp[i],
                "Offset": info.offsets[i],
                "Scale": info.scales[i],
                "Metadata": items,
            });
            (format!("Band {}", i + 1), band)
        })
        .collect();
    let gt = r.transform().0;
    let b = r.bounds();
    let wm = state.tms.get("WebMercatorQuad")?;
    let (minz, maxz) = r.zoom_range(&wm);
    Ok(axum::Json(json!({
        "Path": r.input(),
        "Driver": info.driver,
        "COG": is_cog,
        "Compression": main.compression_name().map(str::to_uppercase),
        "ColorSpace": if main.photometric == 6 { json!("YCbCr") } else { Value::Null },
        "COG_errors": if errors.is_empty() { Value::Null } else { json!(errors) },
        "COG_warnings": if warnings.is_empty() { Value::Null } else { json!(warnings) },
        "Profile": {
            "Bands": info.count, "Width": info.width, "Height": info.height, "Tiled": main.tiled, "Dtype": info.dtype.name(),
            "Interleave": if main.planar { "BAND" } else if info.count > 1 { "PIXEL" } else { "BAND" },
            "AlphaBand": info.colorinterp.iter().any(|c| c == "alpha"),
            "InternalMask": tif.levels[0].mask.is_some() && !tif.external_mask,
            "Nodata": info.nodata_value,
            "ColorInterp": info.colorinterp, "ColorMap": info.colormap.is_some(),
            "Scales": info.scales, "Offsets": info.offsets,
        },
        "GEO": {
            "CRS": r.crs().map(|c| c.epsg().map_or_else(|| c.to_user_string(), |e| format!("EPSG:{e}"))),
            "BoundingBox": [b.left, b.bottom, b.right, b.top],
            "Origin": [gt[0], gt[3]],
            "Resolution": [gt[1], gt[5]],
            "MinZoom": minz, "MaxZoom": maxz,
        },
        "Tags": tags,
        "Band Metadata": band_metadata,
        "IFD": levels,
    }))
    .into_response())
}

/// A STAC item describing the file (projection, raster and eo extensions).
#[utoipa::path(get, path = "/cog/stac", tag = "Cloud Optimized GeoTIFF",
    params(("url" = String, Query, description = "Dataset URL"),
        ("id" = Option<String>, Query, description = "Item id (default: the file name)"),
        ("datetime" = Option<String>, Query, description = "Item datetime (RFC 3339)"),
        ("collection" = Option<String>, Query, description = "Collection id"),
        ("asset_name" = Option<String>, Query, description = "Asset key (default data)"),
        ("max_size" = Option<usize>, Query, description = "Preview size for the band statistics (default 1024)")),
    responses((status = 200, description = "STAC Item", content_type = "application/json")))]
pub async fn stac(State(state): State<AppState>, query: QueryMap) -> ApiResult<Response> {
    let r = reader(&state, &query).await?;
    let input = r.input().to_string();
    let id =
        query.raw("id").map(str::to_string).unwrap_or_else(|| input.rsplit('/').next().unwrap_or(&input).to_string());
    let datetime = query.raw("datetime").unwrap_or("1970-01-01T00:00:00Z").to_string();
    let asset_name = query.raw("asset_name").unwrap_or("data").to_string();
    let href =
        query.raw("asset_href").map(str::to_string).unwrap_or_else(|| query.raw("url").unwrap_or_default().to_string());
    let max_size = query.get::<usize>("max_size")?.unwrap_or(imbrex_raster::OutputSize::PREVIEW_MAX);
    let info = r.info();
    let g = r.geographic_bounds();
    let native = r.normalized_bounds();
    let gt = r.transform().0;
    let stats = r
        .statistics(imbrex_raster::OutputSize::max(max_size), &StatisticsOptions::default(), &ReadOptions::default())
        .await?;
    let bands: Vec<Value> = stats
        .iter()
        .enumerate()
        .map(|(i, (_, s))| {
            json!({
                "data_type": info.dtype.name(),
                "scale": info.scales.get(i).copied().unwrap_or(1.0),
                "offset": info.offsets.get(i).copied().unwrap_or(0.0),
                "sampling": "area",
                "nodata": info.nodata_value,
                "statistics": {"mean": s.mean, "minimum": s.min, "maximum": s.max, "stddev": s.std, "valid_percent": s.valid_percent},
                "histogram": {"count": s.histogram.1.len(), "min": s.min, "max": s.max, "buckets": s.histogram.0},
            })
        })
        .collect();
    let eo: Vec<Value> = info
        .band_descriptions
        .iter()
        .zip(&info.colorinterp)
        .map(|(d, c)| json!({"name": d.0, "description": c}))
        .collect();
    let mut properties = json!({
        "proj:shape": [info.height, info.width],
        "proj:bbox": [native.left, native.bottom, native.right, native.top],
        "proj:geometry": bounds_to_geometry(native),
        "proj:transform": [gt[1], gt[2], gt[0], gt[4], gt[5], gt[3], 0.0, 0.0, 1.0],
        "datetime": datetime,
    });
    if let Some(code) = r.crs().and_then(|c| c.epsg()) {
        properties["proj:epsg"] = json!(code);
    } else if let Some(wkt) = r.crs().and_then(|c| c.to_wkt()) {
        properties["proj:wkt2"] = json!(wkt);
    }
    let mut item = json!({
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
            "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
        ],
        "id": id,
        "geometry": bounds_to_geometry(g),
        "bbox": g.to_array(),
        "properties": properties,
        "links": [],
        "assets": {asset_name: {"href": href, "type": "image/tiff; application=geotiff", "raster:bands": bands, "eo:bands": eo, "roles": []}},
    });
    if let Some(c) = query.raw("collection") {
        item["collection"] = json!(c);
    }
    Ok(axum::Json(item).into_response())
}
