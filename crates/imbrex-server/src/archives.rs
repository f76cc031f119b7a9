//! PMTiles and MBTiles archives served as they are (`/pmtiles/{name}/...`): named in the
//! configuration (`archives`), opened on first use and again when the file changes (its
//! version, as for rasters, asked at most every `source_recheck_s`). PMTiles are read through
//! imbrex's sources (a local file, http(s), s3); MBTiles, being SQLite databases, from local
//! files only. A pyramid `imbrex seed` wrote and the dynamic tiles sit behind one server.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use imbrex_raster::SourceVersions;
use imbrex_raster::reader_cache::Version;
use imbrex_raster::source::{AccessPolicy, RangeSource, SourceFactory};
use pmtiles::{AsyncBackend, AsyncPmTilesReader, MokaCache, PmtError, PmtResult};

use crate::mbtiles::MbTiles;

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

/// A PMTiles archive opened, with its leaf directories cached.
pub type PmArchive = AsyncPmTilesReader<SourceBackend, MokaCache>;

/// An opened archive, with what its header or metadata says.
pub struct Archive {
    kind: Kind,
    info: ArchiveInfo,
}

enum Kind {
    PmTiles(Box<PmArchive>),
    MbTiles(Arc<MbTiles>),
}

/// What TileJSON says of an archive, from its header (PMTiles) or metadata (MBTiles).
#[derive(Debug, Clone)]
pub struct ArchiveInfo {
    pub content_type: String,
    pub extension: String,
    pub minzoom: u8,
    pub maxzoom: u8,
    pub bounds: [f64; 4],
    /// Longitude, latitude and zoom (an integer, as TileJSON wants it).
    pub center: (f64, f64, u8),
}

/// A tile as stored, with the `Content-Encoding` it goes out with.
pub struct StoredTile {
    pub bytes: Bytes,
    pub encoding: Option<&'static str>,
}

impl Archive {
    fn new(kind: Kind) -> Archive {
        let info = match &kind {
            Kind::PmTiles(r) => {
                let h = r.get_header();
                let (content_type, extension) = tile_format(h.tile_type);
                ArchiveInfo {
                    content_type: content_type.into(),
                    extension: extension.into(),
                    minzoom: h.min_zoom,
                    maxzoom: h.max_zoom,
                    bounds: [h.min_longitude, h.min_latitude, h.max_longitude, h.max_latitude],
                    center: (h.center_longitude, h.center_latitude, h.center_zoom),
                }
            }
            Kind::MbTiles(m) => {
                let (content_type, extension) = mbtiles_format(m.meta("format").unwrap_or("png"));
                let numbers =
                    |k: &str| -> Option<Vec<f64>> { m.meta(k)?.split(',').map(|v| v.trim().parse().ok()).collect() };
                let bounds = match numbers("bounds").as_deref() {
                    Some(&[w, s, e, n]) => [w, s, e, n],
                    _ => [-180.0, -85.051_128_779_806_6, 180.0, 85.051_128_779_806_6],
                };
                let center = match numbers("center").as_deref() {
                    Some(&[x, y, z]) => (x, y, z.round().clamp(0.0, 30.0) as u8),
                    _ => ((bounds[0] + bounds[2]) / 2.0, (bounds[1] + bounds[3]) / 2.0, m.minzoom),
                };
                ArchiveInfo { content_type, extension, minzoom: m.minzoom, maxzoom: m.maxzoom, bounds, center }
            }
        };
        Archive { kind, info }
    }

    pub fn info(&self) -> &ArchiveInfo {
        &self.info
    }

    /// The writer's metadata, as a JSON object (PMTiles' JSON metadata; MBTiles' metadata
    /// table, with its `json` row's keys lifted up).
    pub async fn metadata(&self) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        match &self.kind {
            Kind::PmTiles(r) => {
                let text = r.get_metadata().await.map_err(|e| e.to_string())?;
                match serde_json::from_str(&text) {
                    Ok(serde_json::Value::Object(m)) => Ok(m),
                    _ => Ok(Default::default()),
                }
            }
            Kind::MbTiles(m) => {
                let mut out = serde_json::Map::new();
                for key in ["name", "attribution", "description", "version"] {
                    if let Some(v) = m.meta(key) {
                        out.insert(key.into(), v.into());
                    }
                }
                if let Some(Ok(serde_json::Value::Object(json))) = m.meta("json").map(serde_json::from_str) {
                    out.extend(json);
                }
                Ok(out)
            }
        }
    }

    /// The tile at `z/x/y` (XYZ), if the archive has it.
    pub async fn tile(&self, z: u8, x: u32, y: u32) -> Result<Option<StoredTile>, String> {
        match &self.kind {
            Kind::PmTiles(r) => {
                let coord = pmtiles::TileCoord::new(z, x, y).map_err(|e| e.to_string())?;
                let Some(bytes) = r.get_tile(coord).await.map_err(|e| e.to_string())? else { return Ok(None) };
                let encoding = match r.get_header().tile_compression {
                    pmtiles::Compression::Gzip => Some("gzip"),
                    pmtiles::Compression::Brotli => Some("br"),
                    pmtiles::Compression::Zstd => Some("zstd"),
                    _ => None,
                };
                Ok(Some(StoredTile { bytes, encoding }))
            }
            Kind::MbTiles(m) => {
                let Some(bytes) = m.tile(z, x, y).await.map_err(|e| e.to_string())? else { return Ok(None) };
                // MBTiles says pbf tiles are gzipped; files in the wild disagree, so each
                // tile says what it is.
                let encoding = match bytes.get(..4) {
                    Some([0x1f, 0x8b, _, _]) => Some("gzip"),
                    Some([0x28, 0xb5, 0x2f, 0xfd]) => Some("zstd"),
                    _ => None,
                };
                Ok(Some(StoredTile { bytes, encoding }))
            }
        }
    }
}

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
        if entry.url.to_ascii_lowercase().ends_with(".mbtiles") {
            // SQLite is given the resolved absolute path, never the configured string (which
            // it could read as a `file:` URI with options).
            let path = source
                .local_file()
                .ok_or_else(|| unreadable("MBTiles are read from local files only (SQLite needs a file)".into()))?
                .to_path_buf();
            let version: Version = source.probe_version().await.map_err(|e| unreadable(e.to_string()))?.map(Arc::from);
            let opened = MbTiles::open(path).await.map_err(|e| unreadable(e.to_string()))?;
            return Ok(self.opened(entry, Archive::new(Kind::MbTiles(Arc::new(opened))), version).await);
        }
        let leaves = moka::future::Cache::builder()
            .max_capacity(LEAF_CACHE_BYTES)
            .weigher(|_, d: &pmtiles::Directory| u32::try_from(d.get_approx_byte_size()).unwrap_or(u32::MAX))
            .build();
        let reader =
            AsyncPmTilesReader::try_from_cached_source(SourceBackend(source.clone()), MokaCache { cache: leaves })
                .await
                .map_err(|e| unreadable(e.to_string()))?;
        let version: Version = source.observed_version().map(Arc::from);
        Ok(self.opened(entry, Archive::new(Kind::PmTiles(Box::new(reader))), version).await)
    }

    async fn opened(&self, entry: &Entry, archive: Archive, version: Version) -> Arc<Archive> {
        self.versions.seed(&entry.url, version.clone()).await;
        let archive = Arc::new(archive);
        *entry.current.write().unwrap_or_else(|e| e.into_inner()) = Some((archive.clone(), version));
        archive
    }
}

/// The media type and file extension of an MBTiles `format`: `pbf`, an image format of
/// the tile routes (`png`, `jpg`, `webp`, `tif`, `npy`, ...), or a media type.
pub fn mbtiles_format(format: &str) -> (String, String) {
    let format = format.trim().to_ascii_lowercase();
    match format.as_str() {
        "pbf" | "mvt" => ("application/vnd.mapbox-vector-tile".into(), "mvt".into()),
        "avif" => ("image/avif".into(), "avif".into()),
        "jpg" | "jpeg" => ("image/jpeg".into(), format.clone()),
        // What seed writes for the formats MBTiles has no name for.
        "image/tiff" => ("image/tiff; application=geotiff".into(), "tif".into()),
        "application/x-npy" => ("application/x-binary".into(), "npy".into()),
        other if other.contains('/') => (other.to_string(), "bin".into()),
        other => match other.parse::<imbrex_raster::render::ImageFormat>() {
            Ok(f) => (f.media_type().into(), f.name().into()),
            Err(_) => ("application/octet-stream".into(), "bin".into()),
        },
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
