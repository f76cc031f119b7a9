//! Fuzz what a request may carry as JSON or text for rendering: `colormap=` JSON, legend
//! JSON and `color_formula=` (the first byte chooses which).
//!
//! Run: `scripts/fuzz render_json`.
#![no_main]

use imbrex_raster::render::formula::ColorFormula;
use imbrex_raster::render::{ColorMap, Legend};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [which, ref rest @ ..] = *data else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    match which % 3 {
        0 => drop(ColorMap::from_json(text)),
        1 => drop(Legend::from_json(text)),
        _ => drop(ColorFormula::parse(text)),
    }
});
