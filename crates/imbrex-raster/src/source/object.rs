//! Object stores (S3 and S3-compatible, GCS, Azure) through the `object_store` crate.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore};

use super::{Fetched, RangeSource, SourceStats};
use crate::error::{Error, Result};

/// One object of an object store.
#[derive(Debug)]
pub struct ObjectSource {
    id: String,
    store: Arc<dyn ObjectStore>,
    path: Path,
    stats: SourceStats,
}

impl ObjectSource {
    pub fn new(id: impl Into<String>, store: Arc<dyn ObjectStore>, path: Path) -> ObjectSource {
        ObjectSource { id: id.into(), store, path, stats: SourceStats::default() }
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
        let bytes = result.bytes().await.map_err(|e| map_error(&self.id, e))?;
        self.stats.record(bytes.len());
        Ok(Fetched { bytes, total_size: Some(total) })
    }

    fn stats(&self) -> &SourceStats {
        &self.stats
    }

    async fn sibling(&self, suffix: &str) -> Option<Arc<dyn RangeSource>> {
        let path = Path::from(format!("{}{suffix}", self.path));
        let sibling = ObjectSource::new(format!("{}{suffix}", self.id), self.store.clone(), path);
        sibling.fetch(0..1).await.ok()?;
        Some(Arc::new(sibling))
    }
}

fn map_error(id: &str, e: object_store::Error) -> Error {
    match e {
        object_store::Error::NotFound { .. } => Error::NotFound { what: id.to_string() },
        other => {
            let text = other.to_string();
            if text.contains("start") && text.contains("was only") {
                Error::corrupt(id, text)
            } else {
                Error::Upstream { source_id: id.to_string(), reason: text }
            }
        }
    }
}
