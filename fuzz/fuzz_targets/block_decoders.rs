//! Fuzz every block decoder through a real TIFF: the first bytes choose the compression,
//! sample type and predictor of a one-tile 16 x 16 image, the rest is its tile. Any input
//! must decode or fail, never panic or allocate without bound.
//!
//! Run: `scripts/fuzz block_decoders`.
#![no_main]

use std::sync::Arc;

use imbrex_raster::source::{MemorySource, RangeSource};
use imbrex_raster::{Dataset, OpenOptions};
use libfuzzer_sys::fuzz_target;

mod shared;

/// TIFF compressions imbrex decodes: none, LZW, JPEG, Deflate, PackBits, LERC, ZSTD, WebP
/// and Adobe Deflate.
const COMPRESSIONS: [u16; 9] = [1, 5, 7, 8, 32773, 34887, 50000, 50001, 32946];
/// (bits, sample format): uint8, uint16, int16, uint32, float32, float64.
const TYPES: [(u16, u16); 6] = [(8, 1), (16, 1), (16, 2), (32, 1), (32, 3), (64, 3)];
const SIDE: u32 = 16;

/// A little-endian TIFF of one tile holding `tile`.
fn tiff(compression: u16, (bits, format): (u16, u16), predictor: u16, samples: u16, tile: &[u8]) -> Vec<u8> {
    let entries: Vec<(u16, u16, u32)> = vec![
        (256, 4, SIDE),
        (257, 4, SIDE),
        (258, 3, bits as u32),
        (259, 3, compression as u32),
        (262, 3, if samples == 3 { 2 } else { 1 }),
        (277, 3, samples as u32),
        (284, 3, 1),
        (317, 3, predictor as u32),
        (322, 4, SIDE),
        (323, 4, SIDE),
        (324, 4, 0), // offset, filled below
        (325, 4, tile.len() as u32),
        (339, 3, format as u32),
    ];
    let ifd_len = 2 + entries.len() * 12 + 4;
    let data_at = (8 + ifd_len) as u32;
    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, kind, value) in entries {
        let value = if tag == 324 { data_at } else { value };
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        match kind {
            3 => {
                out.extend_from_slice(&(value as u16).to_le_bytes());
                out.extend_from_slice(&[0, 0]);
            }
            _ => out.extend_from_slice(&value.to_le_bytes()),
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(tile);
    out
}

fuzz_target!(|data: &[u8]| {
    let [choice, kind, ref tile @ ..] = *data else { return };
    let compression = COMPRESSIONS[choice as usize % COMPRESSIONS.len()];
    let ty = TYPES[(kind & 0x0f) as usize % TYPES.len()];
    let predictor = 1 + ((kind >> 4) & 0x03) as u16 % 3;
    let samples = if kind & 0x40 != 0 { 3 } else { 1 };
    let file = tiff(compression, ty, predictor, samples, tile);
    let (rt, opts) = shared::runtime(OpenOptions::default);
    rt.block_on(async {
        let src: Arc<dyn RangeSource> = Arc::new(MemorySource::new(shared::name(), bytes::Bytes::from(file)));
        let Ok(ds) = Dataset::open(src, opts).await else { return };
        let bands: Vec<usize> = (0..ds.count()).collect();
        let _ = ds.read_window(0, 0, 0, SIDE as usize, SIDE as usize, &bands).await;
    });
});
