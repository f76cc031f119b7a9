//! Fuzz CQL2 text and CQL2 JSON parsing (the first byte chooses the language).
//!
//! Run: `scripts/fuzz cql2`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [lang, ref rest @ ..] = *data else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let lang = if lang & 1 == 0 { "cql2-text" } else { "cql2-json" };
    let _ = imbrex_vector::cql2::parse(text, Some(lang));
});
