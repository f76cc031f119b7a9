//! Byte-range sources: local files, HTTP(S), object stores (S3, GCS, Azure) and memory.
//!
//! Everything above this module asks for byte ranges; a source fetches them, counting
//! requests and bytes. [`read_ranges`] merges neighbouring ranges wanted by one read into
//! a single request, which is what keeps a COG tile to one or two requests.

mod http;
mod local;
mod memory;
mod object;
mod open;

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::{Error, Result};

pub use http::HttpSource;
pub use local::LocalSource;
pub use memory::MemorySource;
pub use object::ObjectSource;
pub use open::{AccessPolicy, DEFAULT_UPSTREAM_TIMEOUT, Fetches, S3Config, SourceFactory, canonical_url};

/// Bytes returned by a fetch, and the total size of the object when the server said it.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub bytes: Bytes,
    pub total_size: Option<u64>,
}

/// Requests and bytes a source has fetched (for tests, logs and limits).
#[derive(Debug, Default)]
pub struct SourceStats {
    requests: AtomicU64,
    bytes: AtomicU64,
}

impl SourceStats {
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn record(&self, bytes: usize) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// Something that serves byte ranges of one object.
#[async_trait]
pub trait RangeSource: Send + Sync + fmt::Debug {
    /// A stable identifier (canonical path or URL), used as a cache key and in messages.
    fn id(&self) -> &str;

    /// Fetch `range`. When the object ends before `range.end` the bytes that exist are
    /// returned (possibly fewer); a range starting at or past the end is an error.
    async fn fetch(&self, range: Range<u64>) -> Result<Fetched>;

    /// Counters of what this source fetched.
    fn stats(&self) -> &SourceStats;

    /// A sibling object named `<id><suffix>` (`.ovr`, `.msk` sidecars), when it exists.
    async fn sibling(&self, _suffix: &str) -> Option<Arc<dyn RangeSource>> {
        None
    }

    /// True when asking for a sibling costs no request (local files). Remote sidecars are
    /// only looked for when [`crate::OpenOptions::remote_sidecars`] is set, as TiTiler's
    /// `GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR` advice does for GDAL.
    fn siblings_are_cheap(&self) -> bool {
        false
    }

    /// What identifies the object's current content, asked of the store now: size and
    /// modification time of a file, the `ETag` (else `Last-Modified`) of a remote object.
    /// `None` when the store tells nothing (memory, a server without validators): such a
    /// source is taken as never changing.
    async fn probe_version(&self) -> Result<Option<String>> {
        Ok(None)
    }

    /// The version the object had when it was read (from the first fetch's answer, or the
    /// file's metadata when it was opened); `None` when the store tells nothing.
    fn observed_version(&self) -> Option<String> {
        None
    }

    /// The key of this object's content in caches: [`RangeSource::id`] and, once known,
    /// [`RangeSource::observed_version`], so a file rewritten in place (same name, same
    /// layout) and opened again is never served from blocks of its old content. Call it
    /// after the first fetch.
    fn cache_id(&self) -> &str {
        self.id()
    }

    /// The file this source reads, resolved (canonical), when it is a local file: for
    /// readers that need a file rather than ranges (SQLite).
    fn local_file(&self) -> Option<&std::path::Path> {
        None
    }
}

/// The name of the per-request fetch bound in [`Error::LimitExceeded`].
pub const FETCH_BYTES: &str = "bytes fetched by one request";

tokio::task_local! {
    /// Bytes fetched so far and the most allowed, for the request running in this task.
    static FETCH_BUDGET: std::cell::Cell<(u64, u64)>;
}

/// Run `f` allowed to fetch at most `max` bytes through counted sources (every source a
/// [`SourceFactory`] opens), in this task: a fetch that would pass it fails with
/// [`Error::LimitExceeded`] before it is sent. Bytes served from caches are not counted.
pub async fn with_fetch_budget<F: std::future::Future>(max: u64, f: F) -> F::Output {
    FETCH_BUDGET.scope(std::cell::Cell::new((0, max)), f).await
}

/// Whether the running request may fetch more: refused once its budget is spent. One
/// fetch may overshoot it, by at most its own size (bounded: merged ranges, documents).
fn may_fetch() -> Result<()> {
    FETCH_BUDGET
        .try_with(|budget| {
            let (spent, max) = budget.get();
            if spent >= max {
                return Err(Error::LimitExceeded { limit: FETCH_BYTES, value: spent, max });
            }
            Ok(())
        })
        .unwrap_or(Ok(()))
}

/// Count `bytes` fetched against the running request's budget, if it has one.
fn charge(bytes: u64) {
    let _ = FETCH_BUDGET.try_with(|budget| {
        let (spent, max) = budget.get();
        budget.set((spent.saturating_add(bytes), max));
    });
}

/// A source whose fetches are also counted in a shared tally (its kind's, for metrics).
#[derive(Debug)]
pub struct Counted {
    inner: Arc<dyn RangeSource>,
    tally: Arc<SourceStats>,
}

impl Counted {
    pub fn wrap(inner: Arc<dyn RangeSource>, tally: &Arc<SourceStats>) -> Arc<dyn RangeSource> {
        Arc::new(Counted { inner, tally: tally.clone() })
    }
}

#[async_trait]
impl RangeSource for Counted {
    fn id(&self) -> &str {
        self.inner.id()
    }

    async fn fetch(&self, range: Range<u64>) -> Result<Fetched> {
        may_fetch()?;
        let fetched = self.inner.fetch(range).await?;
        charge(fetched.bytes.len() as u64);
        self.tally.record(fetched.bytes.len());
        Ok(fetched)
    }

    fn stats(&self) -> &SourceStats {
        self.inner.stats()
    }

    async fn sibling(&self, suffix: &str) -> Option<Arc<dyn RangeSource>> {
        Some(Counted::wrap(self.inner.sibling(suffix).await?, &self.tally))
    }

    fn siblings_are_cheap(&self) -> bool {
        self.inner.siblings_are_cheap()
    }

    async fn probe_version(&self) -> Result<Option<String>> {
        self.inner.probe_version().await
    }

    fn observed_version(&self) -> Option<String> {
        self.inner.observed_version()
    }

    fn cache_id(&self) -> &str {
        self.inner.cache_id()
    }

    fn local_file(&self) -> Option<&std::path::Path> {
        self.inner.local_file()
    }
}

/// Ranges closer than this are fetched as one request (the gap is read and dropped).
pub const MERGE_GAP: u64 = 64 * 1024;
/// A merged request never grows beyond this.
pub const MAX_MERGED: u64 = 32 * 1024 * 1024;

/// Fetch exactly `range`, failing when the object is shorter.
pub async fn read_exact(source: &dyn RangeSource, range: Range<u64>) -> Result<Bytes> {
    if range.is_empty() {
        return Ok(Bytes::new());
    }
    let want = range.end - range.start;
    let got = source.fetch(range.clone()).await?;
    if (got.bytes.len() as u64) < want {
        return Err(Error::corrupt(
            source.id(),
            format!(
                "truncated: wanted bytes {}..{}, the object ends at {}",
                range.start,
                range.end,
                range.start + got.bytes.len() as u64
            ),
        ));
    }
    Ok(got.bytes.slice(..want as usize))
}

/// Fetch many ranges, merging neighbours into single requests, concurrently.
/// The result is in the order of `ranges`.
pub async fn read_ranges(source: &dyn RangeSource, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
    let merged = merge_ranges(ranges);
    let fetches = merged.iter().map(|m| read_exact(source, m.clone()));
    let buffers = futures::future::try_join_all(fetches).await?;
    Ok(ranges
        .iter()
        .map(|r| {
            if r.is_empty() {
                return Bytes::new();
            }
            let i = merged.iter().position(|m| m.start <= r.start && r.end <= m.end).expect("every range is covered");
            let off = (r.start - merged[i].start) as usize;
            buffers[i].slice(off..off + (r.end - r.start) as usize)
        })
        .collect())
}

/// Sort and coalesce ranges whose gaps are at most [`MERGE_GAP`].
pub fn merge_ranges(ranges: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut sorted: Vec<Range<u64>> = ranges.iter().filter(|r| !r.is_empty()).cloned().collect();
    sorted.sort_by_key(|r| (r.start, r.end));
    let mut out: Vec<Range<u64>> = Vec::new();
    for r in sorted {
        match out.last_mut() {
            Some(last)
                if r.start <= last.end.saturating_add(MERGE_GAP) && r.end.max(last.end) - last.start <= MAX_MERGED =>
            {
                last.end = last.end.max(r.end);
            }
            _ => out.push(r),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_neighbours_only() {
        let r = merge_ranges(&[100..200, 0..50, 210..300, 1_000_000..1_000_010, 40..60]);
        assert_eq!(r, vec![0..300, 1_000_000..1_000_010]);
        assert!(merge_ranges(&[5..5, 9..9]).is_empty());
    }

    #[tokio::test]
    async fn read_ranges_slices_merged_fetches() {
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let src = MemorySource::new("mem://x", Bytes::from(data.clone()));
        let out = read_ranges(&src, &[10..20, 5000..5004, 15..30]).await.unwrap();
        assert_eq!(&out[0][..], &data[10..20]);
        assert_eq!(&out[1][..], &data[5000..5004]);
        assert_eq!(&out[2][..], &data[15..30]);
        assert_eq!(src.stats().requests(), 1, "one merged request");
        assert!(read_exact(&src, 9_990..10_010).await.is_err(), "short reads are errors");
    }
}
