//! The JSON documents datasets are made of (STAC items, MosaicJSON mosaics), read through
//! the same access policy as rasters and cached like readers; and the assets they name,
//! rewritten by `href_rewrite` and opened through the shared reader cache.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use imbrex_raster::mosaic::{MosaicJson, Opener};
use imbrex_raster::reader_cache::Version;
use imbrex_raster::stac::{MAX_DOCUMENT, StacItem};
use imbrex_raster::{Error, Reader, Result};
use moka::future::Cache;

use crate::AppState;

/// Parsed documents by `url=` and version.
#[derive(Debug)]
pub struct Documents {
    stac: Cache<String, Weighed<StacItem>>,
    mosaics: Cache<String, Weighed<MosaicJson>>,
    /// `(from, to)` href prefixes.
    rewrites: Vec<(String, String)>,
}

impl Documents {
    /// `rewrites` are `FROM=TO` strings (the configuration's `href_rewrite`).
    pub fn new(rewrites: &[String]) -> Result<Documents> {
        let rewrites = rewrites
            .iter()
            .map(|r| {
                r.split_once('=').map(|(a, b)| (a.to_string(), b.to_string())).ok_or_else(|| Error::InvalidParameter {
                    name: "href_rewrite",
                    reason: format!("'{r}' is not FROM=TO"),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Documents { stac: cache(), mosaics: cache(), rewrites })
    }

    /// An href with the first matching rewrite applied.
    pub fn rewrite(&self, href: &str) -> String {
        for (from, to) in &self.rewrites {
            if let Some(rest) = href.strip_prefix(from.as_str()) {
                return format!("{to}{rest}");
            }
        }
        href.to_string()
    }

    pub fn clear(&self) {
        self.stac.invalidate_all();
        self.mosaics.invalidate_all();
    }
}

/// A parsed document, the size of its text and the version read.
type Weighed<T> = (Arc<T>, u32, Version);

/// Bytes of document text the caches keep (a document may be up to [`MAX_DOCUMENT`]).
const CACHE_BYTES: u64 = 256 * 1024 * 1024;

/// Documents kept by URL for as long as readers are (see `ReaderCacheOptions`), within
/// [`CACHE_BYTES`] of text (parsed, a document takes a small multiple of it).
fn cache<T: Send + Sync + 'static>() -> Cache<String, Weighed<T>> {
    Cache::builder()
        .weigher(|_, v: &Weighed<T>| v.1)
        .max_capacity(CACHE_BYTES)
        .time_to_live(Duration::from_secs(300))
        .build()
}

impl AppState {
    /// Read a small JSON document whole (at most [`MAX_DOCUMENT`] bytes), where it is and
    /// its version.
    async fn document(&self, url: &str) -> Result<(String, bytes::Bytes, Version)> {
        let source = self.readers.factory().open(url)?;
        let fetched = source.fetch(0..MAX_DOCUMENT + 1).await?;
        if fetched.bytes.len() as u64 > MAX_DOCUMENT {
            return Err(Error::LimitExceeded { limit: "document bytes", value: MAX_DOCUMENT + 1, max: MAX_DOCUMENT });
        }
        Ok((source.id().to_string(), fetched.bytes, source.observed_version().map(Arc::from)))
    }

    /// The STAC item at `url`.
    pub async fn stac_item(&self, url: &str) -> Result<Arc<StacItem>> {
        self.cached(&self.documents.stac, url, StacItem::parse).await
    }

    /// The MosaicJSON document at `url`.
    pub async fn mosaic(&self, url: &str) -> Result<Arc<MosaicJson>> {
        self.cached(&self.documents.mosaics, url, MosaicJson::parse).await
    }

    /// A document from its cache, or read and parsed (`parse(location, bytes)`) once.
    async fn cached<T: Send + Sync + 'static>(
        &self,
        cache: &Cache<String, Weighed<T>>,
        url: &str,
        parse: fn(&str, &[u8]) -> Result<T>,
    ) -> Result<Arc<T>> {
        let key = url.trim().to_string();
        let versions = self.readers.versions();
        // A document rewritten is read again once the change is seen.
        if let Some((doc, _, version)) = cache.get(&key).await {
            if versions.still(&key, &version).await? {
                return Ok(doc);
            }
            cache.invalidate(&key).await;
        }
        let (doc, _, version) = cache
            .try_get_with(key.clone(), async {
                let (location, bytes, version) = self.document(&key).await?;
                versions.seed(&key, version.clone()).await;
                Ok::<_, Error>((Arc::new(parse(&location, &bytes)?), bytes.len() as u32, version))
            })
            .await
            .map_err(|e: Arc<Error>| (*e).clone())?;
        imbrex_raster::reader_cache::record(&key, &version);
        Ok(doc)
    }

    /// An asset named by a document: rewritten, then opened as any `url=`.
    pub async fn open_asset(&self, href: &str) -> Result<Arc<Reader>> {
        self.readers.get(&self.documents.rewrite(href)).await
    }
}

/// Opens a mosaic's assets for the library.
pub struct AssetOpener(pub AppState);

impl Opener for AssetOpener {
    fn open<'a>(&'a self, href: &'a str) -> BoxFuture<'a, Result<Arc<Reader>>> {
        Box::pin(self.0.open_asset(href))
    }
}
