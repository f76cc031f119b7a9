//! imbrex's vector layer: PostGIS tables and views served as Mapbox Vector Tiles and as
//! OGC API - Features (the tipg / martin role). No HTTP here; `imbrex-server` adapts it.
//!
//! Every statement is built from catalog names (quoted) and bound parameters, never from
//! request text.

pub mod catalog;
pub mod cql2;
pub mod db;
pub mod error;
pub mod features;
pub mod query;
mod sql;
pub mod tiles;

pub use catalog::{Catalog, Collection, GeometryColumn, Property};
pub use db::{Database, DbOptions, Identity, as_identity};
pub use error::{Error, Result};
pub use features::{Feature, Items, ItemsQuery};
pub use query::Selection;
pub use tiles::TileQuery;
