//! Fuzz the TIFF/PNG/JPEG opening path and a read of every level: any input must give a
//! dataset or an error, never a panic or an unbounded allocation.
//!
//! Run: `scripts/fuzz tiff_header` (or every target: `scripts/fuzz`).
#![no_main]

use std::sync::Arc;

use imbrex_raster::source::{MemorySource, RangeSource};
use imbrex_raster::{Dataset, OpenOptions};
use libfuzzer_sys::fuzz_target;

mod shared;

fuzz_target!(|data: &[u8]| {
    let (rt, opts) = shared::runtime(|| OpenOptions {
        max_header_bytes: 1 << 20,
        max_image_bytes: 1 << 22,
        ..OpenOptions::default()
    });
    rt.block_on(async {
        let src: Arc<dyn RangeSource> =
            Arc::new(MemorySource::new(shared::name(), bytes::Bytes::copy_from_slice(data)));
        let Ok(ds) = Dataset::open(src, opts).await else { return };
        for level in 0..ds.level_count() {
            let (w, h) = ds.level_size(level);
            let bands: Vec<usize> = (0..ds.count().min(8)).collect();
            let _ = ds.read_window(level, 0, 0, w.min(32), h.min(32), &bands).await;
            let _ = ds.read_mask_window(level, 0, 0, w.min(32), h.min(32)).await;
        }
    });
});
