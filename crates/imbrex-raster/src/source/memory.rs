//! In-memory objects (the embedded demo dataset, tests).

use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;

use super::{Fetched, RangeSource, SourceStats};
use crate::error::{Error, Result};

/// An object held in memory.
#[derive(Debug)]
pub struct MemorySource {
    id: String,
    data: Bytes,
    stats: SourceStats,
}

impl MemorySource {
    pub fn new(id: impl Into<String>, data: Bytes) -> MemorySource {
        MemorySource { id: id.into(), data, stats: SourceStats::default() }
    }
}

#[async_trait]
impl RangeSource for MemorySource {
    fn id(&self) -> &str {
        &self.id
    }

    async fn fetch(&self, range: Range<u64>) -> Result<Fetched> {
        let len = self.data.len() as u64;
        if range.start >= len {
            return Err(Error::corrupt(
                &self.id,
                format!("range starts at {} past the end ({len} bytes)", range.start),
            ));
        }
        let end = range.end.min(len);
        let bytes = self.data.slice(range.start as usize..end as usize);
        self.stats.record(bytes.len());
        Ok(Fetched { bytes, total_size: Some(len) })
    }

    fn stats(&self) -> &SourceStats {
        &self.stats
    }
}
