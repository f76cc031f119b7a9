//! The OpenAPI operations of a mounted dataset router, built from the same parameter
//! groups the handlers parse (so the document lists every parameter an endpoint accepts).

use utoipa::IntoParams;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Paths, Required, ResponseBuilder};

use imbrex_raster::FeatureReader;

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

/// A path parameter of a type.
fn path(name: &str, ty: Type, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(ObjectBuilder::new().schema_type(ty)))
        .description(Some(description))
        .build()
}

fn tms() -> Parameter {
    path("tileMatrixSetId", Type::String, "TileMatrixSet identifier (see /tileMatrixSets)")
}

fn format() -> Parameter {
    ParameterBuilder::new()
        .name("format")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(FORMATS))))
        .description(Some("Image format"))
        .build()
}

const FORMATS: [&str; 7] = ["png", "pngraw", "jpeg", "jpg", "webp", "tif", "npy"];

fn size() -> Vec<Parameter> {
    vec![path("width", Type::Integer, "Output width"), path("height", Type::Integer, "Output height")]
}

fn zxy() -> Vec<Parameter> {
    vec![
        tms(),
        path("z", Type::Integer, "Zoom level"),
        path("x", Type::Integer, "Column"),
        path("y", Type::Integer, "Row"),
    ]
}

fn corners() -> Vec<Parameter> {
    ["minx", "miny", "maxx", "maxy"].iter().map(|c| path(c, Type::Number, "Corner of the box, in coord_crs")).collect()
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

/// The endpoints of [`super::router`] for a factory.
pub fn paths<F: DatasetFactory>() -> Paths {
    // The feature endpoints are the POST ones.
    document::<F>(endpoints::<F>().into_iter().filter(|e| e.method != HttpMethod::Post))
}

/// The endpoints of [`super::feature_router`] for a factory.
pub fn feature_paths<F: DatasetFactory>() -> Paths
where
    F::Reader: FeatureReader,
{
    document::<F>(endpoints::<F>().into_iter().filter(|e| e.method == HttpMethod::Post))
}

fn endpoints<F: DatasetFactory>() -> Vec<Endpoint> {
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
            params: with(vec![dataset(), query::<WmtsParams>(), Processing::openapi()]),
            media: "application/xml",
            body: None,
        },
        Endpoint {
            method: HttpMethod::Get,
            path: format!("{p}/tiles/{{tileMatrixSetId}}/{{z}}/{{x}}/{{y}}.{{format}}"),
            summary: "A tile in a format",
            params: with(vec![zxy(), vec![format()], dataset(), query::<TileParams>(), Processing::openapi()]),
            media: image,
            body: None,
        },
        Endpoint {
            method: HttpMethod::Get,
            path: format!("{p}/tiles/{{tileMatrixSetId}}/{{z}}/{{x}}/{{y}}"),
            summary: "A tile (format from `format`, else JPEG when every pixel is valid, else PNG)",
            params: with(vec![zxy(), dataset(), query::<FormatParams>(), query::<TileParams>(), Processing::openapi()]),
            media: image,
            body: None,
        },
        Endpoint {
            method: HttpMethod::Get,
            path: format!("{p}/preview"),
            summary: "The whole dataset, at most 1024 pixels on its longer side by default",
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
            summary: "A box of the dataset, at native resolution unless a size is given",
            params: with(vec![
                corners(),
                vec![format()],
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
            summary: "The pixels under a GeoJSON Feature, masked outside it",
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
            path: format!("{p}/preview.{{format}}"),
            summary: "The whole dataset in a format",
            params: with(vec![
                vec![format()],
                dataset(),
                query::<SizeParams>(),
                query::<DstCrsParams>(),
                Processing::openapi(),
            ]),
            media: image,
            body: None,
        },
        Endpoint {
            method: HttpMethod::Get,
            path: format!("{p}/preview/{{width}}x{{height}}.{{format}}"),
            summary: "The whole dataset at a size",
            params: with(vec![size(), vec![format()], dataset(), query::<DstCrsParams>(), Processing::openapi()]),
            media: image,
            body: None,
        },
        Endpoint {
            method: HttpMethod::Get,
            path: format!("{p}/bbox/{{minx}},{{miny}},{{maxx}},{{maxy}}/{{width}}x{{height}}.{{format}}"),
            summary: "A box of the dataset at a size",
            params: with(vec![
                corners(),
                size(),
                vec![format()],
                dataset(),
                query::<CoordCrsParams>(),
                query::<DstCrsParams>(),
                Processing::openapi(),
            ]),
            media: image,
            body: None,
        },
        Endpoint {
            method: HttpMethod::Post,
            path: format!("{p}/feature.{{format}}"),
            summary: "The pixels under a GeoJSON Feature, in a format",
            params: with(vec![
                vec![format()],
                dataset(),
                query::<SizeParams>(),
                query::<CoordCrsParams>(),
                query::<DstCrsParams>(),
                Processing::openapi(),
            ]),
            media: image,
            body: Some("A GeoJSON Feature"),
        },
        Endpoint {
            method: HttpMethod::Post,
            path: format!("{p}/feature/{{width}}x{{height}}.{{format}}"),
            summary: "The pixels under a GeoJSON Feature, at a size",
            params: with(vec![
                size(),
                vec![format()],
                dataset(),
                query::<CoordCrsParams>(),
                query::<DstCrsParams>(),
                Processing::openapi(),
            ]),
            media: image,
            body: Some("A GeoJSON Feature"),
        },
        Endpoint {
            method: HttpMethod::Get,
            path: format!("{p}/point/{{lon}},{{lat}}"),
            summary: "The values at a point (null where masked)",
            params: with(vec![
                vec![
                    path("lon", Type::Number, "Longitude (or x in coord_crs)"),
                    path("lat", Type::Number, "Latitude (or y)"),
                ],
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
    endpoints
}

fn document<F: DatasetFactory>(endpoints: impl Iterator<Item = Endpoint>) -> Paths {
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
