//! Routers, one module per endpoint group.

pub mod admin;
pub mod algebra;
pub mod archives;
pub mod cog;
pub mod collection_tiles;
pub mod collections;
pub mod collections_html;
pub mod dataset;
pub mod image;
pub mod landing;
pub mod legends;
pub mod mosaic;
pub mod resources;
pub mod stac;
pub mod tms;
pub mod viewer;

use crate::error::ApiError;
use axum::http::Uri;

/// Unknown paths get a JSON 404 like every other error.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}

/// A tile format name as TiTiler accepts it in paths and `tile_format=`.
pub fn tile_format_name(f: &str) -> Option<&'static str> {
    Some(match f {
        "png" => "png",
        "pngraw" => "pngraw",
        "jpeg" => "jpeg",
        "jpg" => "jpg",
        "webp" => "webp",
        "tif" => "tif",
        "tiff" => "tiff",
        "npy" => "npy",
        "jp2" => "jp2",
        _ => return None,
    })
}
