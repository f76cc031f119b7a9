//! Fuzz the band-math parser and its type checking for every sample type.
//!
//! Run: `scripts/fuzz expression`.
#![no_main]

use imbrex_raster::{DataType, Expression};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(e) = Expression::parse(text, 4096) else { return };
    for t in [DataType::Uint8, DataType::Int16, DataType::Uint32, DataType::Float32, DataType::Float64] {
        let _ = e.output_type(t);
    }
    let _ = e.names();
});
