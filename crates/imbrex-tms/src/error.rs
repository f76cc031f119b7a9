use thiserror::Error;

/// Everything that can go wrong with tile matrix sets and coordinate reference systems.
///
/// Variants are sorted by whose fault it is: the caller's input (`InvalidParameter`,
/// `TileOutOfRange`, `PointOutsideTms`, `InvalidZoom`), a definition we cannot use
/// (`InvalidCrs`, `InvalidTileMatrixSet`, `UnsupportedCrs`), a lookup miss (`NotFound`)
/// or a coordinate the projection cannot represent (`Transform`).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// A CRS string could not be parsed.
    #[error("invalid CRS '{input}': {reason}")]
    InvalidCrs { input: String, reason: String },

    /// A CRS was understood but cannot be used without data we do not ship (e.g. NAD27 grids).
    #[error("unsupported CRS '{input}': {reason}")]
    UnsupportedCrs { input: String, reason: String },

    /// A TileMatrixSet document is malformed.
    #[error("invalid TileMatrixSet: {reason}")]
    InvalidTileMatrixSet { reason: String },

    /// No TileMatrixSet with this identifier is registered.
    #[error("TileMatrixSet '{id}' not found")]
    NotFound { id: String },

    /// The zoom level is not one of the set's tile matrices.
    #[error("zoom level {zoom} is outside the TileMatrixSet range [{min}, {max}]")]
    InvalidZoom { zoom: i32, min: i32, max: i32 },

    /// The tile's column or row is outside its matrix.
    #[error("tile {x}/{y} is outside the matrix of zoom {z} ({width} x {height} tiles)")]
    TileOutOfRange { x: u64, y: u64, z: i32, width: u64, height: u64 },

    /// A geographic point lies outside the area the TileMatrixSet covers.
    #[error("point ({lon}, {lat}) is outside the TileMatrixSet bounds")]
    PointOutsideTms { lon: f64, lat: f64 },

    /// A caller-supplied value is out of its domain.
    #[error("invalid {name}: {reason}")]
    InvalidParameter { name: &'static str, reason: String },

    /// The set has no quadkeys (matrices are not a 2x2 quadtree).
    #[error("TileMatrixSet '{id}' does not support quadkeys")]
    NoQuadkeySupport { id: String },

    /// A coordinate could not be transformed (outside the projection's domain).
    #[error("coordinate transformation failed: {reason}")]
    Transform { reason: String },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
