//! PMTiles archives served as they are (`/pmtiles/{name}/...`): named in the configuration
//! (`archives`), read through imbrex's sources (a local file, http(s), s3), opened on first
//! use. A pyramid `imbrex seed` wrote and the dynamic tiles sit behind one server.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use imbrex_raster::source::{AccessPolicy, RangeSource, SourceFactory};
use pmtiles::{AsyncBackend, AsyncPmTilesReader, MokaCache, PmtError, PmtResult};
use tokio::sync::OnceCell;

/// An archive's bytes, through an imbrex source.
pub struct SourceBackend(pub Arc<dyn RangeSource>);

impl AsyncBackend for SourceBackend {
    async fn read(&self, offset: usize, length: usize) -> PmtResult<Bytes> {
        if length == 0 {
            return Ok(Bytes::new());
        }
        let range = offset as u64..(offset + length) as u64;
        match self.0.fetch(range).await {
            Ok(f) => Ok(f.bytes),
            Err(e) => Err(PmtError::Reading(std::io::Error::other(e.to_string()))),
        }
    }
}

/// An opened archive, with its leaf directories cached.
pub type Archive = AsyncPmTilesReader<SourceBackend, MokaCache>;

/// Bytes of decoded leaf directories kept per archive (a leaf holds a few thousand entries).
const LEAF_CACHE_BYTES: u64 = 16 * 1024 * 1024;

struct Entry {
    url: String,
    /// Opened once; a failure is not kept (the next request tries again).
    reader: OnceCell<Arc<Archive>>,
}

/// The served archives, by name.
pub struct ArchiveSet {
    entries: BTreeMap<String, Entry>,
    /// The operator names archives: no `url=` policy applies to them.
    factory: SourceFactory,
}

/// Why an archive cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("no archive named '{0}'")]
    Unknown(String),
    #[error("archive '{name}': {reason}")]
    Unreadable { name: String, reason: String },
}

impl ArchiveSet {
    /// `archives`: name → local path, http(s):// or s3:// URL.
    pub fn new(archives: &BTreeMap<String, String>) -> ArchiveSet {
        let entries = archives
            .iter()
            .map(|(name, url)| (name.clone(), Entry { url: url.clone(), reader: OnceCell::new() }))
            .collect();
        ArchiveSet { entries, factory: SourceFactory::new(AccessPolicy::allow_all()) }
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The archive `name`, opened (its header and root directory read) on first use.
    pub async fn get(&self, name: &str) -> Result<Arc<Archive>, ArchiveError> {
        let entry = self.entries.get(name).ok_or_else(|| ArchiveError::Unknown(name.to_string()))?;
        let unreadable = |reason: String| ArchiveError::Unreadable { name: name.to_string(), reason };
        entry
            .reader
            .get_or_try_init(|| async {
                let source = self.factory.open(&entry.url).map_err(|e| unreadable(e.to_string()))?;
                let leaves = moka::future::Cache::builder()
                    .max_capacity(LEAF_CACHE_BYTES)
                    .weigher(|_, d: &pmtiles::Directory| u32::try_from(d.get_approx_byte_size()).unwrap_or(u32::MAX))
                    .build();
                let reader =
                    AsyncPmTilesReader::try_from_cached_source(SourceBackend(source), MokaCache { cache: leaves })
                        .await
                        .map_err(|e| unreadable(e.to_string()))?;
                Ok(Arc::new(reader))
            })
            .await
            .cloned()
    }
}

/// The media type and file extension of an archive's tiles.
pub fn tile_format(t: pmtiles::TileType) -> (&'static str, &'static str) {
    match t {
        pmtiles::TileType::Mvt => ("application/vnd.mapbox-vector-tile", "mvt"),
        pmtiles::TileType::Png => ("image/png", "png"),
        pmtiles::TileType::Jpeg => ("image/jpeg", "jpg"),
        pmtiles::TileType::Webp => ("image/webp", "webp"),
        pmtiles::TileType::Avif => ("image/avif", "avif"),
        _ => ("application/octet-stream", "bin"),
    }
}
