//! imbrex rasters, with no HTTP in sight: byte-range sources, GeoTIFF/COG and image
//! decoding, readers (rio-tiler's role), warping and rendering.

pub mod algorithm;
pub mod array;
pub mod cache;
pub mod cpu;
pub mod dataset;
pub mod error;
pub mod expr;
pub mod feature;
pub mod gcp;
pub mod image;
pub mod mosaic;
pub mod multi;
pub mod npy;
pub mod pixel;
pub mod plain_image;
pub mod rasterize;
pub mod reader;
pub mod reader_cache;
pub mod render;
pub mod source;
pub mod stac;
pub mod stats;
pub mod tiff;
pub mod warp;

pub use array::{Buffer, DataType, Sample};
pub use cpu::CpuPool;
pub use dataset::{Dataset, OpenOptions};
pub use error::{Error, Result};
pub use expr::{ExprType, Expression};
pub use feature::Shape;
pub use image::{ImageData, PointData};
pub use reader::{BaseReader, FeatureReader, Info, OutputSize, ReadOptions, Reader};
pub use reader_cache::{ReaderCache, ReaderCacheOptions, Reads, SourceRead, SourceVersions, record_reads};
pub use stats::{Bins, Statistics, StatisticsOptions};
pub use warp::Resampling;
