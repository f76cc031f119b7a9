//! PMTiles archives served as they are (`/pmtiles/{name}/...`): named in the configuration
//! (`archives`), read through imbrex's sources (a local file, http(s), s3), opened on first
//! use and again when the file changes (its version, as for rasters, asked at most every
//! `source_recheck_s`). A pyramid `imbrex seed` wrote and the dynamic tiles sit behind one
//! server.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use imbrex_raster::SourceVersions;
use imbrex_raster::reader_cache::Version;
use imbrex_raster::source::{AccessPolicy, RangeSource, SourceFactory};
use pmtiles::{AsyncBackend, AsyncPmTilesReader, MokaCache, PmtError, PmtResult};

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
    /// The archive opened and the version it was read at; a failure is not kept (the next
    /// request tries again).
    current: std::sync::RwLock<Option<(Arc<Archive>, Version)>>,
    /// One opening at a time.
    opening: tokio::sync::Mutex<()>,
}

/// The served archives, by name.
pub struct ArchiveSet {
    entries: BTreeMap<String, Entry>,
    /// The operator names archives: no `url=` policy applies to them.
    factory: Arc<SourceFactory>,
    versions: SourceVersions,
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
    /// `archives`: name → local path, http(s):// or s3:// URL; `recheck`: how long a
    /// version is trusted.
    pub fn new(archives: &BTreeMap<String, String>, recheck: std::time::Duration) -> ArchiveSet {
        let entries = archives
            .iter()
            .map(|(name, url)| {
                let entry = Entry { url: url.clone(), current: Default::default(), opening: Default::default() };
                (name.clone(), entry)
            })
            .collect();
        let factory = Arc::new(SourceFactory::new(AccessPolicy::allow_all()));
        let versions = SourceVersions::new(factory.clone(), recheck, 1024);
        ArchiveSet { entries, factory, versions }
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The archive `name`, opened (its header and root directory read) on first use and
    /// again once its file changed.
    pub async fn get(&self, name: &str) -> Result<Arc<Archive>, ArchiveError> {
        let entry = self.entries.get(name).ok_or_else(|| ArchiveError::Unknown(name.to_string()))?;
        let unreadable = |reason: String| ArchiveError::Unreadable { name: name.to_string(), reason };
        let opened = || entry.current.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some((archive, version)) = opened()
            && self.versions.still(&entry.url, &version).await.map_err(|e| unreadable(e.to_string()))?
        {
            return Ok(archive);
        }
        let _one = entry.opening.lock().await;
        // Opened by the request this one waited for?
        if let Some((archive, version)) = opened()
            && self.versions.still(&entry.url, &version).await.map_err(|e| unreadable(e.to_string()))?
        {
            return Ok(archive);
        }
        let source = self.factory.open(&entry.url).map_err(|e| unreadable(e.to_string()))?;
        let leaves = moka::future::Cache::builder()
            .max_capacity(LEAF_CACHE_BYTES)
            .weigher(|_, d: &pmtiles::Directory| u32::try_from(d.get_approx_byte_size()).unwrap_or(u32::MAX))
            .build();
        let reader =
            AsyncPmTilesReader::try_from_cached_source(SourceBackend(source.clone()), MokaCache { cache: leaves })
                .await
                .map_err(|e| unreadable(e.to_string()))?;
        let version: Version = source.observed_version().map(Arc::from);
        self.versions.seed(&entry.url, version.clone()).await;
        let archive = Arc::new(reader);
        *entry.current.write().unwrap_or_else(|e| e.into_inner()) = Some((archive.clone(), version));
        Ok(archive)
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
