//! Decoded-block cache shared by the datasets opened with one [`crate::OpenOptions`].
//!
//! Neighbouring tiles read the same source blocks, above all at overview levels; keeping
//! the decoded blocks saves the fetch and the decompression. Bounded by bytes, and made by
//! whoever opens datasets (the server, from its configuration): no process-wide state.

use std::sync::Arc;

use moka::sync::Cache;

use crate::array::Buffer;
use crate::error::Result;
use crate::source::RangeSource;
use crate::tiff::{DecodedBlock, TiffImage, fetch_and_decode};

/// (source id, IFD offset, block index, block byte range, block geometry): the byte range
/// and geometry make a replaced file (same URL, new content) miss instead of returning
/// blocks of another shape.
type Key = (Arc<str>, u64, usize, (u64, u64), (u32, u32, u16, u8));

/// (source id, file fingerprint, VRT size, level, block column, block row) of a block of a
/// GCP-warped dataset (see [`crate::reader::GcpVrt`]).
pub(crate) type WarpedKey = (Arc<str>, (u64, u64), (usize, usize), usize, usize, usize);

/// A bounded cache of decoded blocks, and of the warped blocks of GCP-only files.
#[derive(Clone, Debug)]
pub struct BlockCache {
    inner: Cache<Key, Arc<DecodedBlock>>,
    pub(crate) warped: Cache<WarpedKey, Arc<Buffer>>,
}

/// Default budget of decoded blocks (`block_cache_mb` of the server's configuration).
pub const DEFAULT_BLOCK_CACHE_BYTES: u64 = 256 * 1024 * 1024;

impl BlockCache {
    /// Decoded blocks up to `max_bytes`, warped blocks of GCP-only files up to a quarter of
    /// that again; 0 keeps nothing.
    pub fn new(max_bytes: u64) -> BlockCache {
        let inner = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_k: &Key, v: &Arc<DecodedBlock>| {
                let bytes = v.data.len() * v.data.dtype().size();
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .build();
        let warped = Cache::builder()
            .max_capacity(max_bytes / 4)
            .weigher(|_k: &WarpedKey, v: &Arc<Buffer>| u32::try_from(v.len() * v.dtype().size()).unwrap_or(u32::MAX))
            .build();
        BlockCache { inner, warped }
    }

    /// Bytes of decoded blocks held.
    pub fn weighted_size(&self) -> u64 {
        self.inner.run_pending_tasks();
        self.inner.weighted_size()
    }

    /// Decoded blocks for `keys`, fetching and decoding the ones not cached (in one merged
    /// batch). Sparse blocks come back as `None`.
    pub async fn get_or_decode(
        &self,
        cpu: &crate::cpu::CpuPool,
        source: &Arc<dyn RangeSource>,
        img: &Arc<TiffImage>,
        keys: &[(u32, u32, u16)],
    ) -> Result<Vec<Option<Arc<DecodedBlock>>>> {
        let id: Arc<str> = Arc::from(source.cache_id());
        let geometry = (img.block_width, img.block_height, img.samples, img.dtype.size() as u8);
        let full = |k: &(u32, u32, u16)| {
            let index = img.block_index(k.0, k.1, k.2);
            (id.clone(), img.ifd_offset, index, (img.offsets[index], img.byte_counts[index]), geometry)
        };
        let mut out: Vec<Option<Arc<DecodedBlock>>> = keys.iter().map(|k| self.inner.get(&full(k))).collect();
        let missing: Vec<usize> = (0..keys.len()).filter(|&i| out[i].is_none()).collect();
        if missing.is_empty() {
            return Ok(out);
        }
        let miss_keys: Vec<_> = missing.iter().map(|&i| keys[i]).collect();
        let decoded = fetch_and_decode(cpu, source, img, &miss_keys).await?;
        for (i, block) in missing.into_iter().zip(decoded) {
            if let Some(b) = &block {
                self.inner.insert(full(&keys[i]), b.clone());
            }
            out[i] = block;
        }
        Ok(out)
    }

    /// Drop everything (benches).
    pub fn clear(&self) {
        self.inner.invalidate_all();
        self.warped.invalidate_all();
    }
}
