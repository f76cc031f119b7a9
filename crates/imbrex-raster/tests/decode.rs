//! Decoding against GDAL: every resolution level of every shared raster and of the codec
//! matrix in `tests/fixtures/codecs` (written by GDAL with `tools/gen_decode_fixtures.py`),
//! compared on a centred window of up to 128x128 pixels.
//!
//! Lossless codecs must match bit for bit (SHA-256 of the samples). JPEG and WebP are
//! compared sample by sample with a tolerance: the mean absolute difference must stay under
//! 1.5 and the largest under 80. The oracle's GDAL wheel bundles IJG libjpeg 9, which
//! upsamples subsampled chroma by 16x16 DCT scaling; zune-jpeg (like libjpeg-turbo, PIL and
//! jpeg-decoder, which agree with each other within 3) interpolates it, so YCbCr tiles
//! differ by up to ~60 along chroma block edges while the mean stays near 1. JPEG *files'*
//! implicit overviews are DCT-scaled by libjpeg and box-averaged by imbrex: mean bound 4.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use imbrex_raster::source::{LocalSource, RangeSource};
use imbrex_raster::{Dataset, OpenOptions};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn fixture_path(name: &str) -> PathBuf {
    if name.starts_with("codecs/") {
        imbrex_testkit::manifest_dir().join("tests/fixtures").join(name)
    } else {
        imbrex_testkit::raster(name)
    }
}

async fn open(name: &str) -> Dataset {
    let src: Arc<dyn RangeSource> = Arc::new(LocalSource::open(&fixture_path(name)).unwrap());
    Dataset::open(src, &OpenOptions::default()).await.unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn le_bytes(buf: &imbrex_raster::Buffer) -> Vec<u8> {
    imbrex_raster::with_buffer!(buf, v, T => v.iter().flat_map(|s| s.to_le_bytes()).collect())
}

#[tokio::test]
async fn every_level_decodes_like_gdal() {
    let path = imbrex_testkit::manifest_dir().join("tests/fixtures/decode.json");
    let fixture = imbrex_testkit::read_json(&path);
    let files = fixture["files"].as_object().unwrap();
    assert!(files.len() >= 90, "{} files", files.len());
    let (mut exact, mut lossy, mut masks, mut errors) = (0, 0, 0, 0);
    let mut report = Vec::new();
    for (name, levels) in files {
        let ds = open(name).await;
        let levels = levels.as_array().unwrap();
        assert_eq!(ds.level_count(), levels.len(), "{name}: level count");
        for rec in levels {
            let level = rec["level"].as_u64().unwrap() as usize;
            let win: Vec<usize> =
                rec["window"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
            let bands: Vec<usize> = (0..rec["count"].as_u64().unwrap() as usize).collect();
            let what = format!("{name} level {level} window {win:?}");
            let result = ds.read_window(level, win[0], win[1], win[2], win[3], &bands).await;
            if rec.get("error").is_some() {
                assert!(result.is_err(), "{what}: GDAL fails to read this window, we must too");
                errors += 1;
                continue;
            }
            let buf = result.unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(buf.dtype().name(), rec["dtype"].as_str().unwrap(), "{what}: dtype");
            let bytes = le_bytes(&buf);
            if let Some(sha) = rec.get("sha256") {
                assert_eq!(hex(&Sha256::digest(&bytes)), sha.as_str().unwrap(), "{what}: samples differ from GDAL's");
                exact += 1;
            } else {
                let packed = base64::engine::general_purpose::STANDARD
                    .decode(rec["samples_zlib_b64"].as_str().unwrap())
                    .unwrap();
                let mut expected = Vec::new();
                flate2::read::ZlibDecoder::new(&packed[..]).read_to_end(&mut expected).unwrap();
                assert_eq!(bytes.len(), expected.len(), "{what}: size");
                let diffs: Vec<u32> = bytes.iter().zip(&expected).map(|(a, b)| a.abs_diff(*b) as u32).collect();
                let mean = diffs.iter().sum::<u32>() as f64 / diffs.len() as f64;
                let max = *diffs.iter().max().unwrap();
                let jpeg_overview = ds.driver() == "JPEG" && level > 0;
                let mean_bound = if jpeg_overview { 4.0 } else { 1.5 };
                report.push(format!("{what}: mean {mean:.3} max {max}"));
                if std::env::var("DEBUG_DIFF").is_ok() && max > 20 {
                    let (w, h) = (win[2], win[3]);
                    let big: Vec<String> = diffs
                        .iter()
                        .enumerate()
                        .filter(|(_, d)| **d > 20)
                        .take(40)
                        .map(|(i, d)| {
                            let b = i / (w * h);
                            let r = (i % (w * h)) / w;
                            let c = i % w;
                            format!("b{b} r{} c{} d{d} ours {} gdal {}", r + win[1], c + win[0], bytes[i], expected[i])
                        })
                        .collect();
                    eprintln!("{what}: {}", big.join("; "));
                }
                assert!(mean <= mean_bound && max <= 80, "{what}: mean |diff| {mean:.3}, max {max}");
                lossy += 1;
            }
            if let Some(sha) = rec.get("mask_sha256") {
                let mask = ds.read_mask_window(level, win[0], win[1], win[2], win[3]).await.unwrap();
                let mask = mask.unwrap_or_else(|| panic!("{what}: GDAL has a mask here"));
                assert_eq!(hex(&Sha256::digest(&mask)), sha.as_str().unwrap(), "{what}: mask differs");
                masks += 1;
            }
        }
    }
    eprintln!("lossy comparisons:\n{}", report.join("\n"));
    eprintln!("{exact} exact windows, {lossy} lossy windows, {masks} masks, {errors} expected errors");
    assert!(exact >= 100 && lossy >= 10 && masks >= 5 && errors >= 1);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[allow(dead_code)]
fn unused(_: Value) {}
