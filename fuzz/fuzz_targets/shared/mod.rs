//! What the raster targets share: one runtime and one set of open options (its CPU pool,
//! its block cache) for every input, since building them per input held a target to tens
//! of inputs a second; and a name per input, so that no input is served blocks another
//! left in the cache.

use imbrex_raster::OpenOptions;

/// The runtime and the options `options` makes, built on first use.
pub fn runtime(options: fn() -> OpenOptions) -> &'static (tokio::runtime::Runtime, OpenOptions) {
    static SHARED: std::sync::OnceLock<(tokio::runtime::Runtime, OpenOptions)> = std::sync::OnceLock::new();
    SHARED.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        (rt, options())
    })
}

/// A source name no earlier input had.
pub fn name() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!("fuzz-{}", N.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}
