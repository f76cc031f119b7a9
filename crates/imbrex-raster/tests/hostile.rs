//! Corrupt, truncated, fuzzed and deliberately hostile files: always a clear error, never a
//! panic, never an allocation sized by an untrusted header.
//!
//! Panics inside the decoder tasks would surface as a "panicked" task error, so every
//! error message is checked for that too.

use std::sync::Arc;

use bytes::Bytes;
use imbrex_raster::source::{LocalSource, MemorySource, RangeSource};
use imbrex_raster::{Dataset, Error, OpenOptions, ReadOptions, Reader, StatisticsOptions};
use imbrex_tms::TileMatrixSets;

async fn open_bytes(name: &str, data: Vec<u8>) -> Result<Dataset, Error> {
    let src: Arc<dyn RangeSource> = Arc::new(MemorySource::new(name, Bytes::from(data)));
    Dataset::open(src, &OpenOptions::default()).await
}

/// Open and read a little of every level, then a preview, statistics, a tile and a point
/// through the reader; return the first error.
async fn exercise(name: &str, data: Vec<u8>) -> Result<(), Error> {
    let ds = Arc::new(open_bytes(name, data).await?);
    for level in 0..ds.level_count() {
        let (w, h) = ds.level_size(level);
        let (rw, rh) = (w.min(64), h.min(64));
        let bands: Vec<usize> = (0..ds.count()).collect();
        ds.read_window(level, 0, 0, rw, rh, &bands).await?;
        ds.read_window(level, w - rw, h - rh, rw, rh, &bands).await?;
        ds.read_mask_window(level, 0, 0, rw, rh).await?;
    }
    let reader = Reader::from_dataset(name.to_string(), ds)?;
    let opts = ReadOptions::default();
    reader.preview(imbrex_raster::OutputSize::max(128), &opts).await?;
    reader.statistics(imbrex_raster::OutputSize::max(64), &StatisticsOptions::default(), &opts).await?;
    let wm = TileMatrixSets::default().get("WebMercatorQuad").expect("a default TMS");
    let b = reader.geographic_bounds();
    let (lon, lat) = ((b.left + b.right) / 2.0, (b.bottom + b.top) / 2.0);
    let (minzoom, _) = reader.zoom_range(&wm);
    if let Ok(tile) = wm.tile(lon, lat, minzoom.clamp(0, 24)) {
        match reader.tile(&wm, tile, None, &opts).await {
            Ok(_) | Err(Error::TileOutsideBounds(_)) => {}
            Err(e) => return Err(e),
        }
    }
    match reader.point(lon, lat, None, &opts).await {
        Ok(_) | Err(Error::PointOutsideBounds(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

fn assert_no_panic(what: &str, r: &Result<(), Error>) {
    if let Err(e) = r {
        let text = e.to_string();
        assert!(!text.contains("panicked"), "{what}: a decoder panicked: {text}");
    }
}

#[tokio::test]
async fn corrupt_tif_opens_and_fails_only_on_the_broken_tile() {
    let src: Arc<dyn RangeSource> = Arc::new(LocalSource::open(&imbrex_testkit::raster("corrupt.tif")).unwrap());
    let reader = Reader::open(src, &OpenOptions::default()).await.unwrap();
    let ds = reader.dataset();
    // Tile 3 of the full-resolution image runs past the end of the file.
    let err = ds.read_window(0, 512, 512, 100, 100, &[0, 1, 2]).await.unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    // The overviews are intact.
    ds.read_window(1, 0, 0, 256, 256, &[0, 1, 2]).await.unwrap();
}

#[tokio::test]
async fn a_png_named_jpg_is_read_as_png_and_junk_is_refused() {
    let data = std::fs::read(imbrex_testkit::raster("nontiff.jpg")).unwrap();
    let ds = open_bytes("nontiff.jpg", data).await.unwrap();
    assert_eq!(ds.driver(), "PNG");
    for junk in [&b""[..], b"hello world", b"II*\0", b"MM\0*\0\0\0\x08", b"\x89PNG\r\n\x1a\n", b"\xFF\xD8\xFF"] {
        let err = open_bytes("junk", junk.to_vec()).await.unwrap_err();
        assert!(!err.to_string().contains("panicked"), "{err}");
    }
}

#[tokio::test]
async fn truncated_files_are_errors() {
    for name in ["cog_int16.tif", "TCI.tif", "usda_naip_512_jpeg_z5.tif", "nocog.tif", "no_geo.jpg"] {
        let data = std::fs::read(imbrex_testkit::raster(name)).unwrap();
        for keep in [7, 16, 100, 1000, 20_000, 70_000, data.len() / 2, data.len() - 1000] {
            if keep >= data.len() {
                continue;
            }
            let r = exercise(name, data[..keep].to_vec()).await;
            assert!(r.is_err(), "{name} truncated to {keep} bytes read without error");
            assert_no_panic(&format!("{name} truncated to {keep}"), &r);
        }
    }
}

/// A minimal little-endian classic TIFF with the given IFD entries `(tag, type, count, value)`
/// (values inline), followed by `tail` bytes.
fn tiff(entries: &[(u16, u16, u32, u32)], tail: &[u8]) -> Vec<u8> {
    let mut v = b"II*\0".to_vec();
    v.extend_from_slice(&8u32.to_le_bytes());
    v.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for &(tag, typ, count, value) in entries {
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&typ.to_le_bytes());
        v.extend_from_slice(&count.to_le_bytes());
        v.extend_from_slice(&value.to_le_bytes());
    }
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(tail);
    v
}

#[tokio::test]
async fn hostile_headers_are_refused_without_big_allocations() {
    let base = |w: u32, h: u32, tw: u32, th: u32, bits: u32, extra: &[(u16, u16, u32, u32)]| {
        let mut e =
            vec![(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, bits), (259, 3, 1, 1), (322, 4, 1, tw), (323, 4, 1, th)];
        e.extend_from_slice(extra);
        e.push((324, 4, 1, 200));
        e.push((325, 4, 1, 16));
        e.sort_by_key(|x| x.0);
        tiff(&e, &[0u8; 256])
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("4 billion pixels in one tile", base(65535, 65535, 65535, 65535, 8, &[])),
        ("2^31 wide image with a million tiles", base(0x7FFF_FFFF, 1, 16, 16, 8, &[])),
        ("zero width", base(0, 10, 16, 16, 8, &[])),
        ("128-bit samples", base(16, 16, 16, 16, 128, &[])),
        ("a billion samples per pixel", base(16, 16, 16, 16, 8, &[(277, 4, 1, 1_000_000_000)])),
        ("tag array of 2^32 longs", tiff(&[(256, 4, 1, 16), (257, 4, 1, 16), (273, 4, u32::MAX, 8)], &[])),
        ("IFD pointing at itself", {
            let mut v = tiff(&[(256, 4, 1, 16), (257, 4, 1, 16)], &[]);
            let n = v.len();
            v[n - 4..].copy_from_slice(&8u32.to_le_bytes());
            v
        }),
        ("IFD past the end", {
            let mut v = b"II*\0".to_vec();
            v.extend_from_slice(&0xFFFF_FF00u32.to_le_bytes());
            v
        }),
        ("65535 IFD entries", {
            let mut v = b"II*\0\x08\0\0\0".to_vec();
            v.extend_from_slice(&65535u16.to_le_bytes());
            v.extend_from_slice(&[0u8; 64]);
            v
        }),
        ("BigTIFF with a 2^63 IFD offset", {
            let mut v = b"II+\0\x08\0\0\0".to_vec();
            v.extend_from_slice(&(1u64 << 63).to_le_bytes());
            v
        }),
        ("unknown compression", base(16, 16, 16, 16, 8, &[(259, 3, 1, 9999)])),
        ("JPEG with garbage data", base(16, 16, 16, 16, 8, &[(259, 3, 1, 7)])),
        ("LERC with garbage data", base(16, 16, 16, 16, 8, &[(259, 3, 1, 34887)])),
        ("predictor 7", base(16, 16, 16, 16, 8, &[(317, 3, 1, 7)])),
    ];
    for (what, data) in cases {
        let r = exercise(what, data).await;
        assert!(r.is_err(), "{what}: accepted");
        assert_no_panic(what, &r);
    }
}

/// A small deterministic PRNG (xorshift), so the fuzz corpus is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test]
async fn mutated_headers_never_panic() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut errors = 0;
    let mut cases = 0;
    for name in [
        "cog_int16.tif",
        "rgba8_cog.tiff",
        "geo-5b.tif",
        "int16_zstd.tif",
        "usda_naip_256_lzw_z3.tif",
        "austrian_capitals_model_tie_point_and_pixel_scale_pixel_is_area.tif",
        "rotated.tif",
        "image_webp.tif",
    ] {
        let original = std::fs::read(imbrex_testkit::raster(name)).unwrap();
        for i in 0..150 {
            let mut data = original.clone();
            let header = data.len().min(if i % 3 == 0 { 64 } else { 2048 });
            for _ in 0..(1 + rng.next() % 4) {
                let pos = (rng.next() as usize) % header;
                data[pos] = match rng.next() % 4 {
                    0 => 0xFF,
                    1 => 0,
                    2 => data[pos].wrapping_add(1),
                    _ => rng.next() as u8,
                };
            }
            let r = exercise(name, data).await;
            assert_no_panic(&format!("{name} mutation {i}"), &r);
            errors += usize::from(r.is_err());
            cases += 1;
        }
    }
    // Mutations must actually hit something: a good share of them break the file.
    assert!(errors > cases / 10, "{errors} errors in {cases} mutated files");
}
