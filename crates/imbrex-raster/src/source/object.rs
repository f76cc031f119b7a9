//! Object stores (S3 and S3-compatible, GCS, Azure) through the `object_store` crate.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};

use super::{Fetched, RangeSource, SourceStats};
use crate::error::{Error, Result};

/// One object of an object store.
#[derive(Debug)]
pub struct ObjectSource {
    id: String,
    store: Arc<dyn ObjectStore>,
    path: Path,
    stats: SourceStats,
    observed: std::sync::OnceLock<String>,
    cache_id: std::sync::OnceLock<String>,
}

/// The object's ETag, else its size and modification time.
fn version_of(meta: &object_store::ObjectMeta) -> String {
    match &meta.e_tag {
        Some(tag) => tag.clone(),
        None => format!("{}-{}", meta.size, meta.last_modified.timestamp_nanos_opt().unwrap_or_default()),
    }
}

impl ObjectSource {
    pub fn new(id: impl Into<String>, store: Arc<dyn ObjectStore>, path: Path) -> ObjectSource {
        ObjectSource {
            id: id.into(),
            store,
            path,
            stats: SourceStats::default(),
            observed: Default::default(),
            cache_id: Default::default(),
        }
    }
}

#[async_trait]
impl RangeSource for ObjectSource {
    fn id(&self) -> &str {
        &self.id
    }

    async fn fetch(&self, range: Range<u64>) -> Result<Fetched> {
        let options = GetOptions { range: Some(GetRange::Bounded(range.clone())), ..Default::default() };
        let result = self.store.get_opts(&self.path, options).await.map_err(|e| map_error(&self.id, e))?;
        let total = result.meta.size;
        let _ = self.observed.set(version_of(&result.meta));
        let bytes = result.bytes().await.map_err(|e| map_error(&self.id, e))?;
        self.stats.record(bytes.len());
        Ok(Fetched { bytes, total_size: Some(total) })
    }

    fn stats(&self) -> &SourceStats {
        &self.stats
    }

    async fn probe_version(&self) -> Result<Option<String>> {
        let meta = self.store.head(&self.path).await.map_err(|e| map_error(&self.id, e))?;
        Ok(Some(version_of(&meta)))
    }

    fn observed_version(&self) -> Option<String> {
        self.observed.get().cloned()
    }

    fn cache_id(&self) -> &str {
        self.cache_id.get_or_init(|| match self.observed.get() {
            Some(v) => format!("{}\u{0}{v}", self.id),
            None => self.id.clone(),
        })
    }

    async fn sibling(&self, suffix: &str) -> Option<Arc<dyn RangeSource>> {
        let path = Path::from(format!("{}{suffix}", self.path));
        let sibling = ObjectSource::new(format!("{}{suffix}", self.id), self.store.clone(), path);
        sibling.fetch(0..1).await.ok()?;
        Some(Arc::new(sibling))
    }
}

/// An object store's error, sorted by whose it is. object_store retried what was worth
/// retrying before this; its retry error is not a public type, so a timeout is found by
/// its HTTP error's kind and throttling by the status or S3 code it reports.
fn map_error(id: &str, e: object_store::Error) -> Error {
    let source_id = id.to_string();
    if let object_store::Error::NotFound { .. } = e {
        return Error::NotFound { what: source_id };
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if let Some(h) = c.downcast_ref::<object_store::client::HttpError>()
            && h.kind() == object_store::client::HttpErrorKind::Timeout
        {
            return Error::UpstreamTimeout { source_id };
        }
        cause = c.source();
    }
    let text = e.to_string();
    if text.contains("start") && text.contains("was only") {
        Error::corrupt(id, text)
    } else if ["SlowDown", "503 Service Unavailable", "429 Too Many Requests"].iter().any(|s| text.contains(s)) {
        Error::UpstreamBusy { source_id, reason: text }
    } else {
        Error::Upstream { source_id, reason: text }
    }
}
