//! Tile matrix sets and coordinate reference systems for imbrex (the morecantile role).
//!
//! - [`TileMatrixSet`]: the OGC Two Dimensional Tile Matrix Set v2.0 model; it owns every
//!   tile computation (`tile`, `xy_bounds`, `bounds`, `tiles`, `zoom_for_res`, quadkeys,
//!   parent/children) and [`TileMatrixSets`] holds the 13 defaults plus custom ones.
//! - [`Crs`] and [`Transformer`]: pure-Rust CRS parsing (EPSG, OGC URIs, PROJ strings, WKT)
//!   and transforms, including PROJ-style `transform_bounds`.
//!
//! ```
//! use imbrex_tms::{Tile, TileMatrixSets};
//! let sets = TileMatrixSets::default();
//! let wgs = sets.get("WorldCRS84Quad").unwrap();
//! assert_eq!(wgs.tile(2.0, 45.0, 3).unwrap(), Tile::new(8, 2, 3));
//! ```

mod bounds;
mod crs;
mod error;
mod registry;
mod tms;
mod transform;
mod warp_output;

pub use bounds::{Bounds, GeoTransform};
pub use crs::Crs;
pub use error::{Error, Result};
pub use registry::TileMatrixSets;
pub use tms::{
    CornerOfOrigin, CrsRef, CustomTms, Tile, TileMatrix, TileMatrixSet, VariableMatrixWidth, ZoomStrategy,
    max_overview_level,
};
pub use transform::Transformer;
pub use warp_output::{GenImgProj, PixelGeoref, SourceGeoref, WarpOutput, suggested_warp_output};
