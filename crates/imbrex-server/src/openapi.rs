//! The OpenAPI document, assembled from the handlers' `#[utoipa::path]` annotations and,
//! for each mounted dataset router, from its parameter groups.

use utoipa::OpenApi;

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "imbrex", description = "A dynamic map tile server with TiTiler's and tipg's APIs."),
    paths(
        routes::landing::landing,
        routes::landing::conformance,
        routes::landing::healthz,
        crate::metrics::metrics,
        routes::tms::list,
        routes::tms::one,
        routes::cog::validate,
        routes::cog::stac,
        routes::cog::legend,
        routes::legends::list,
        routes::legends::legend,
        routes::image::list,
        routes::image::tile,
        routes::image::tilejson,
        routes::image::info,
        routes::image::statistics,
        routes::image::point,
        routes::image::preview,
        routes::image::viewer,
        routes::viewer::viewer,
        routes::stac::assets,
        routes::stac::asset_statistics,
        routes::stac::renders,
        routes::stac::render,
        routes::mosaic::read,
        routes::mosaic::validate,
        routes::mosaic::tile_assets,
        routes::mosaic::point_assets,
        routes::mosaic::bbox_assets,
        routes::resources::colormaps,
        routes::resources::colormap_metadata,
        routes::resources::algorithms,
        routes::resources::algorithm,
        routes::collections::collections,
        routes::collections::collection,
        routes::collections::queryables,
        routes::collections::items,
        routes::collections::item,
        routes::collection_tiles::tile,
        routes::collection_tiles::tilejson,
        routes::collection_tiles::tilesets,
        routes::collection_tiles::tileset,
        routes::collection_tiles::style,
        routes::collection_tiles::map_html,
        routes::admin::refresh,
        routes::admin::purge,
        routes::archives::list,
        routes::archives::tilejson,
        routes::archives::tile,
    ),
    components(schemas(crate::error::Detail, crate::error::ValidationDetail, crate::error::ValidationIssue))
)]
struct ApiDoc;

/// The document served at `/api`.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.paths.merge(routes::dataset::openapi::paths::<routes::cog::Cog>());
    doc.paths.merge(routes::dataset::openapi::feature_paths::<routes::cog::Cog>());
    doc.paths.merge(routes::dataset::openapi::paths::<routes::stac::Stac>());
    doc.paths.merge(routes::dataset::openapi::feature_paths::<routes::stac::Stac>());
    doc.paths.merge(routes::dataset::openapi::paths::<routes::mosaic::Mosaic>());
    doc.paths.merge(routes::dataset::openapi::paths::<routes::algebra::Algebra>());
    doc.paths.merge(routes::dataset::openapi::feature_paths::<routes::algebra::Algebra>());
    doc
}
