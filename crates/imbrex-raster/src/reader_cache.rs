//! Opened readers cached by URL and version, so a header is read once per TTL and again
//! when the file changes, not once per tile; and what every computation read, for the tile
//! caches above to check that a tile's sources are unchanged.

use std::cell::RefCell;
use std::future::Future;
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
    /// Readers kept, by what they hold ([`crate::Dataset::held_bytes`]: a parsed header,
    /// a few KiB for a typical COG, megabytes for a huge one, the pixels of a plain image).
    /// Bytes, not a count: one spelling after another of a file with a big header (`./`,
    /// `//`) must not multiply its header without bound.
    pub max_bytes: u64,
    /// Versions of sources kept (a URL and a short string each).
    pub capacity: u64,
    /// How long a header is trusted before it is read again.
    pub ttl: Duration,
    /// How long a source's version (mtime, ETag) is trusted before it is asked again; 0
    /// asks on every use.
    pub recheck: Duration,
}

impl Default for ReaderCacheOptions {
    fn default() -> Self {
        ReaderCacheOptions {
            max_bytes: 256 << 20,
            capacity: 4096,
            ttl: Duration::from_secs(300),
            recheck: Duration::from_secs(10),
        }
    }
}

/// A version of a source's content (see [`crate::source::RangeSource::probe_version`]).
pub type Version = Option<Arc<str>>;

/// One source a computation read, at the version it read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SourceRead {
    pub url: String,
    pub version: Version,
}

/// Most sources one computation records; past it, [`Reads::complete`] is false.
const MAX_READS: usize = 4096;

/// The sources a computation read (see [`record_reads`]).
#[derive(Clone, Debug, Default)]
pub struct Reads {
    pub sources: Vec<SourceRead>,
    /// False when more sources were read than were recorded.
    pub complete: bool,
}

tokio::task_local! {
    static READS: RefCell<Reads>;
}

/// Run `f`, recording every source it opens through a [`ReaderCache`] or asks the version
/// of through [`SourceVersions::current`], in this task (work spawned elsewhere is not
/// seen; the readers and documents of a request are opened in its task).
pub async fn record_reads<F: Future>(f: F) -> (F::Output, Reads) {
    let start = Reads { sources: Vec::new(), complete: true };
    READS
        .scope(RefCell::new(start), async {
            let out = f.await;
            (out, READS.with(|r| std::mem::take(&mut *r.borrow_mut())))
        })
        .await
}

/// Record that the running computation read `url` at `version`. A URL read at two versions
/// (it changed during the computation) makes the record incomplete: what was made is not
/// one version's.
pub fn record(url: &str, version: &Version) {
    let _ = READS.try_with(|r| {
        let mut r = r.borrow_mut();
        if let Some(s) = r.sources.iter().find(|s| s.url == url) {
            if s.version != *version {
                r.complete = false;
            }
            return;
        }
        if r.sources.len() >= MAX_READS {
            r.complete = false;
            return;
        }
        r.sources.push(SourceRead { url: url.to_string(), version: version.clone() });
    });
}

/// The current version of each URL, asked of its store at most once per `recheck`
/// (concurrent askers share one probe).
#[derive(Debug)]
pub struct SourceVersions {
    factory: Arc<SourceFactory>,
    known: Cache<String, Version>,
}

impl SourceVersions {
    pub fn new(factory: Arc<SourceFactory>, recheck: Duration, capacity: u64) -> SourceVersions {
        let known = Cache::builder().max_capacity(capacity).time_to_live(recheck).build();
        SourceVersions { factory, known }
    }

    /// The version of `url` now (within `recheck`), recorded as read by the running
    /// computation (see [`record_reads`]).
    pub async fn current(&self, url: &str) -> Result<Version> {
        let url = url.trim();
        if let Some(version) = self.known.get(url).await {
            record(url, &version);
            return Ok(version);
        }
        let version = self
            .known
            .try_get_with(url.to_string(), async {
                let source = self.factory.open(url)?;
                Ok::<_, Error>(source.probe_version().await?.map(Arc::from))
            })
            .await
            .map_err(|e: Arc<Error>| (*e).clone())?;
        record(url, &version);
        Ok(version)
    }

    /// Whether something opened at `opened` is still current (asking the store when the
    /// version is not known or older than `recheck`).
    pub async fn still(&self, url: &str, opened: &Version) -> Result<bool> {
        Ok(self.current(url).await? == *opened)
    }

    /// What was just read of `url` says its version (an open, no extra request).
    pub async fn seed(&self, url: &str, version: Version) {
        self.known.insert(url.trim().to_string(), version).await;
    }

    /// Whether every source in `reads` is still at the version read.
    pub async fn unchanged(&self, reads: &[SourceRead]) -> bool {
        for read in reads {
            match self.current(&read.url).await {
                Ok(v) if v == read.version => {}
                _ => return false,
            }
        }
        true
    }

    /// Ask `url`'s version again on its next use (a purge).
    pub async fn forget(&self, url: &str) {
        self.known.invalidate(url.trim()).await;
    }

    /// Ask every version again on next use.
    pub fn forget_all(&self) {
        self.known.invalidate_all();
    }
}

/// Opens `url=` values into readers through the access policy, once per TTL.
#[derive(Debug)]
pub struct ReaderCache {
    factory: Arc<SourceFactory>,
    open: OpenOptions,
    cache: Cache<String, Arc<Reader>>,
    versions: SourceVersions,
}

impl ReaderCache {
    pub fn new(factory: SourceFactory, open: OpenOptions, cache: ReaderCacheOptions) -> ReaderCache {
        let factory = Arc::new(factory);
        let versions = SourceVersions::new(factory.clone(), cache.recheck, cache.capacity);
        let cache = Cache::builder()
            .max_capacity(cache.max_bytes)
            .weigher(|_: &String, r: &Arc<Reader>| u32::try_from(r.dataset().held_bytes()).unwrap_or(u32::MAX))
            .time_to_live(cache.ttl)
            .build();
        ReaderCache { factory, open, cache, versions }
    }

    /// The versions of sources, as this cache sees them.
    pub fn versions(&self) -> &SourceVersions {
        &self.versions
    }

    /// Bytes of decoded blocks held by the datasets opened here.
    pub fn block_bytes(&self) -> u64 {
        self.open.blocks.weighted_size()
    }

    /// The reader for `url`, opening it on a miss. Concurrent misses for the same URL open
    /// it once; failures are not cached. A reader is used while its source's version is
    /// unchanged (asked at most once per `recheck`); a changed file is opened again. A cold
    /// open learns the version from the header's own answer: no extra request.
    pub async fn get(&self, url: &str) -> Result<Arc<Reader>> {
        let key = url.trim().to_string();
        if let Some(reader) = self.cache.get(&key).await {
            if self.versions.still(&key, &reader.version()).await? {
                record(&key, &reader.version());
                return Ok(reader);
            }
            self.cache.invalidate(&key).await;
        }
        let reader = self
            .cache
            .try_get_with(key.clone(), async {
                let reader = Reader::open(self.factory.open(&key)?, &self.open).await?;
                self.versions.seed(&key, reader.version()).await;
                Ok::<_, Error>(Arc::new(reader))
            })
            .await
            .map_err(|e: Arc<Error>| (*e).clone())?;
        record(&key, &reader.version());
        Ok(reader)
    }

    pub fn factory(&self) -> &SourceFactory {
        &self.factory
    }

    /// Forget every cached reader and version.
    pub fn clear(&self) {
        self.cache.invalidate_all();
        self.versions.forget_all();
    }
}
