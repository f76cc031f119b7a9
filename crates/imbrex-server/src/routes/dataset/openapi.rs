//! The OpenAPI operations of a mounted dataset router, built from the same parameter
//! groups the handlers parse (so the document lists every parameter an endpoint accepts).

use utoipa::IntoParams;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::{ContentBuilder, Paths, Required, ResponseBuilder};

use super::DatasetFactory;
use super::images::MapParams;
use super::meta::{GeometryCrsParams, TileJsonParams, WmtsParams, ZoomParams};
use super::values::CoverParams;
use crate::params::{
    CoordCrsParams, DstCrsParams, FormatParams, PostProcessParams, Processing, ReadParams, SizeParams,
    StatisticsParams, TileParams,
};

/// The parameters of a group, in the query.
fn query<T: IntoParams>() -> Vec<Parameter> {
    T::into_params(|| Some(ParameterIn::Query))
}

/// A path parameter.
fn path(name: &str, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .build()
}

fn tms() -> Parameter {
    path("tileMatrixSetId", "TileMatrixSet identifier (see /tileMatrixSets)")
}

fn format() -> Parameter {
    path("format", "png, pngraw, jpeg, jpg, webp, tif, npy")
}

/// One endpoint: how it is reached, what it says it does, what it takes and answers.
struct Endpoint {
    method: HttpMethod,
    path: String,
    summary: &'static str,
    params: Vec<Parameter>,
    media: &'static str,
    body: Option<&'static str>,
}

/// Every endpoint of [`super::router`] for a factory.
pub fn paths<F: DatasetFactory>() -> Paths {
    let p = F::PREFIX;
    let dataset = || query::<F::Params>();
    let with = |groups: Vec<Vec<Parameter>>| -> Vec<Parameter> { groups.into_iter().flatten().collect() };
    let image = "image/png";
    let endpoints = vec![
        Endpoint {
            method: HttpMethod::Get,
            path: format!("{p}/info"),
            summary: "Dataset metadata (rio-tiler's Info)",
            params: dataset(),
            media: "application/json",
            body: None,
        },
        Endpoint {
            method: HttpMethod::Get,
            path: format!("{p}/info.geojson"),
            summary: "Dataset metadata as a GeoJSON Feature of its footprint",
            params: with(vec![dataset(), query::<GeometryCrsParams>()]),
            media: "application/geo+json",
            body: None,
        },
        Endpoint {
            method: HttpMethod::Get,
            path: format!("{p}/{{tileMatrixSetId}}/tilejson.json"),
            summary: "TileJSON 3.0 of the dataset in a TileMatrixSet (other parameters go to the tiles)",
            params: with(vec![vec![tms()], dataset(), query::<TileJsonParams>(), Processing::openapi()]),
            media: "application/json",
            body: None,
        },
        Endpoint {
            method: HttpMethod::Get,
            path: format!("{p}/{{tileMatrixSetId}}/map.html"),
            summary: "A map page of the dataset (WebMercatorQuad)",
            params: with(vec![vec![tms()], dataset(), Processing::openapi()]),
            media: "text/html",
            body: None,
        },
        Endpoint {
            method: HttpMethod::Get,
            path: format!("{p}/tiles"),
            summary: "OGC API - Tiles: the dataset's tilesets, one per TileMatrixSet",
            params: dataset(),
            media: "application/json",
            body: None,
        },
        Endpoint {
            method: HttpMethod::Get,
            path: format!("{p}/tiles/{{tileMatrixSetId}}"),
            summary: "OGC API - Tiles: one tileset, with the tile limits of each zoom",
            params: with(vec![vec![tms()], dataset(), query::<ZoomParams>()]),
            media: "application/json",
            body: None,
        },
        Endpoint {
            method: HttpMethod::Get,
            path: format!("{p}/WMTSCapabilities.xml"),
            summary: "OGC WMTS 1.0 capabilities (RESTful tile URLs)",
            params: with(vec![dataset(), query::<WmtsParams>(), query::<TileParams>(), Processing::openapi()]),
            media: "application/xml",
            body: None,
        },
        Endpoint {
            method: HttpMethod::Get,
            path: format!("{p}/tiles/{{tileMatrixSetId}}/{{z}}/{{x}}/{{y}}.{{format}}"),
            summary: "A tile (without an extension: JPEG when every pixel is valid, else PNG)",
            params: with(vec![
                vec![tms(), path("z", "Zoom level"), path("x", "Column"), path("y", "Row"), format()],
                dataset(),
                query::<TileParams>(),
                Processing::openapi(),
            ]),
            media: image,
            body: None,
        },
        Endpoint {
            method: HttpMethod::Get,
            path: format!("{p}/preview"),
            summary: "The whole dataset, at most 1024 pixels on its longer side by default \
                      (also /preview.{format} and /preview/{width}x{height}.{format})",
            params: with(vec![
                dataset(),
                query::<FormatParams>(),
                query::<SizeParams>(),
                query::<DstCrsParams>(),
                Processing::openapi(),
            ]),
            media: image,
            body: None,
        },
        Endpoint {
            method: HttpMethod::Get,
            path: format!("{p}/bbox/{{minx}},{{miny}},{{maxx}},{{maxy}}.{{format}}"),
            summary: "A box of the dataset, at native resolution unless a size is given \
                      (also /bbox/{minx},{miny},{maxx},{maxy}/{width}x{height}.{format})",
            params: with(vec![
                vec![
                    path("minx", "West"),
                    path("miny", "South"),
                    path("maxx", "East"),
                    path("maxy", "North"),
                    format(),
                ],
                dataset(),
                query::<SizeParams>(),
                query::<CoordCrsParams>(),
                query::<DstCrsParams>(),
                Processing::openapi(),
            ]),
            media: image,
            body: None,
        },
        Endpoint {
            method: HttpMethod::Post,
            path: format!("{p}/feature"),
            summary: "The pixels under a GeoJSON Feature, masked outside it \
                      (also /feature.{format} and /feature/{width}x{height}.{format})",
            params: with(vec![
                dataset(),
                query::<FormatParams>(),
                query::<SizeParams>(),
                query::<CoordCrsParams>(),
                query::<DstCrsParams>(),
                Processing::openapi(),
            ]),
            media: image,
            body: Some("A GeoJSON Feature"),
        },
        Endpoint {
            method: HttpMethod::Get,
            path: format!("{p}/map"),
            summary: "OGC API - Maps: a map of a box in a CRS",
            params: with(vec![dataset(), query::<MapParams>(), Processing::openapi()]),
            media: image,
            body: None,
        },
        Endpoint {
            method: HttpMethod::Get,
            path: format!("{p}/point/{{lon}},{{lat}}"),
            summary: "The values at a point (null where masked)",
            params: with(vec![
                vec![path("lon", "Longitude (or x in coord_crs)"), path("lat", "Latitude (or y)")],
                dataset(),
                query::<CoordCrsParams>(),
                query::<ReadParams>(),
            ]),
            media: "application/json",
            body: None,
        },
        Endpoint {
            method: HttpMethod::Get,
            path: format!("{p}/statistics"),
            summary: "Per-band statistics of a preview of the dataset",
            params: with(vec![
                dataset(),
                query::<SizeParams>(),
                query::<StatisticsParams>(),
                query::<ReadParams>(),
                query::<PostProcessParams>(),
            ]),
            media: "application/json",
            body: None,
        },
        Endpoint {
            method: HttpMethod::Post,
            path: format!("{p}/statistics"),
            summary: "Zonal statistics of a GeoJSON Feature or FeatureCollection, \
                      weighted by how much of each pixel it covers",
            params: with(vec![
                dataset(),
                query::<CoordCrsParams>(),
                query::<DstCrsParams>(),
                query::<CoverParams>(),
                query::<SizeParams>(),
                query::<StatisticsParams>(),
                query::<ReadParams>(),
                query::<PostProcessParams>(),
            ]),
            media: "application/geo+json",
            body: Some("A GeoJSON Feature or FeatureCollection"),
        },
    ];
    let mut paths = Paths::new();
    for e in endpoints {
        let mut op = OperationBuilder::new()
            .tag(F::TAG)
            .summary(Some(e.summary))
            .parameters(Some(e.params))
            .response("200", ResponseBuilder::new().description("OK").content(e.media, ContentBuilder::new().build()))
            .response("404", ResponseBuilder::new().description("Dataset or tile not found"))
            .response("422", ResponseBuilder::new().description("Invalid parameter"));
        if let Some(body) = e.body {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .description(Some(body))
                    .content("application/json", ContentBuilder::new().build())
                    .required(Some(Required::True))
                    .build(),
            ));
        }
        paths.add_path_operation(e.path, vec![e.method], op.build());
    }
    paths
}
