//! Opened readers cached by URL, so a header is read once per TTL, not once per tile.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::dataset::OpenOptions;
use crate::error::{Error, Result};
use crate::reader::Reader;
use crate::source::SourceFactory;

/// Bounds of the reader cache.
#[derive(Clone, Copy, Debug)]
pub struct ReaderCacheOptions {
    /// Readers kept (each holds a parsed header, typically a few KiB).
    pub capacity: u64,
    /// How long a header is trusted before it is read again.
    pub ttl: Duration,
}

impl Default for ReaderCacheOptions {
    fn default() -> Self {
        ReaderCacheOptions { capacity: 1024, ttl: Duration::from_secs(300) }
    }
}

/// Opens `url=` values into readers through the access policy, once per TTL.
#[derive(Debug)]
pub struct ReaderCache {
    factory: SourceFactory,
    open: OpenOptions,
    cache: Cache<String, Arc<Reader>>,
}

impl ReaderCache {
    pub fn new(factory: SourceFactory, open: OpenOptions, cache: ReaderCacheOptions) -> ReaderCache {
        let cache = Cache::builder().max_capacity(cache.capacity).time_to_live(cache.ttl).build();
        ReaderCache { factory, open, cache }
    }

    /// Bytes of decoded blocks held by the datasets opened here.
    pub fn block_bytes(&self) -> u64 {
        self.open.blocks.weighted_size()
    }

    /// The reader for `url`, opening it on a miss. Concurrent misses for the same URL open
    /// it once; failures are not cached.
    pub async fn get(&self, url: &str) -> Result<Arc<Reader>> {
        let key = url.trim().to_string();
        self.cache
            .try_get_with(key.clone(), async {
                let source = self.factory.open(&key)?;
                Ok::<_, Error>(Arc::new(Reader::open(source, &self.open).await?))
            })
            .await
            .map_err(|e: Arc<Error>| (*e).clone())
    }

    pub fn factory(&self) -> &SourceFactory {
        &self.factory
    }

    /// Forget every cached reader.
    pub fn clear(&self) {
        self.cache.invalidate_all();
    }
}
