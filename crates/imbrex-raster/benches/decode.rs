//! Decoding one 512x512 block in each compression imbrex reads.
//!
//! `cargo bench -p imbrex-raster --bench decode`. Blocks are made in-process (a smooth
//! float32 "DEM" with noise, and an RGB "photo" with texture) with the matching Rust
//! encoders, then decoded through the same `decode_block` the readers use.

use std::hint::black_box;
use std::io::Write;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use imbrex_raster::DataType;
use imbrex_raster::tiff::decode::decode_block;
use imbrex_raster::tiff::{ByteOrder, TiffImage};

const N: usize = 512;

fn dem() -> Vec<f32> {
    let mut seed = 7u32;
    (0..N * N)
        .map(|i| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let (x, y) = ((i % N) as f32, (i / N) as f32);
            1000.0 + 300.0 * (x / 70.0).sin() * (y / 90.0).cos() + (seed >> 24) as f32 / 64.0
        })
        .collect()
}

fn photo() -> Vec<u8> {
    let mut seed = 3u32;
    (0..N * N * 3)
        .map(|i| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let p = i / 3;
            let (x, y) = ((p % N) as f32, (p / N) as f32);
            (128.0 + 80.0 * ((x + 40.0 * (i % 3) as f32) / 37.0).sin() * (y / 53.0).cos() + ((seed >> 28) as f32)) as u8
        })
        .collect()
}

fn image(dtype: DataType, samples: u16, compression: u16, predictor: u16, photometric: u16) -> TiffImage {
    TiffImage {
        ifd_offset: 0,
        order: ByteOrder::Little,
        width: N as u32,
        height: N as u32,
        samples,
        bits: (dtype.size() * 8) as u16,
        dtype,
        compression,
        predictor,
        photometric,
        planar: false,
        tiled: true,
        block_width: N as u32,
        block_height: N as u32,
        offsets: vec![8],
        byte_counts: vec![1],
        jpeg_tables: None,
        subfile_type: 0,
        extra_samples: vec![],
        colormap: None,
        lerc_params: None,
        fill_order: 1,
        half_float: false,
    }
}

/// Horizontal differencing on 4-byte words (TIFF predictor 2).
fn predict2_f32(v: &[f32]) -> Vec<u8> {
    let words: Vec<u32> = v.iter().map(|f| f.to_bits()).collect();
    let mut out = Vec::with_capacity(words.len() * 4);
    for row in words.chunks(N) {
        let mut prev = 0u32;
        for &w in row {
            out.extend_from_slice(&w.wrapping_sub(prev).to_le_bytes());
            prev = w;
        }
    }
    out
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn lzw(data: &[u8]) -> Vec<u8> {
    weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8).encode(data).unwrap()
}

fn packbits(data: &[u8]) -> Vec<u8> {
    // Literal runs of up to 128 bytes: valid PackBits, if not the smallest.
    let mut out = Vec::new();
    for chunk in data.chunks(128) {
        out.push((chunk.len() - 1) as u8);
        out.extend_from_slice(chunk);
    }
    out
}

fn benches(c: &mut Criterion) {
    let dem = dem();
    let dem_bytes: Vec<u8> = dem.iter().flat_map(|f| f.to_le_bytes()).collect();
    let photo = photo();
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 85).encode(&photo, N as u16, N as u16, jpeg_encoder::ColorType::Rgb).unwrap();
    let mut webp = Vec::new();
    image_webp::WebPEncoder::new(&mut webp).encode(&photo, N as u32, N as u32, image_webp::ColorType::Rgb8).unwrap();
    let lerc_blob = lerc::encode_slice(N as u32, N as u32, &dem, lerc::Precision::Tolerance(0.01f32)).unwrap();

    let cases: Vec<(&str, TiffImage, Vec<u8>)> = vec![
        ("none float32", image(DataType::Float32, 1, 1, 1, 1), dem_bytes.clone()),
        ("deflate+pred2 float32", image(DataType::Float32, 1, 8, 2, 1), zlib(&predict2_f32(&dem))),
        ("deflate float32", image(DataType::Float32, 1, 8, 1, 1), zlib(&dem_bytes)),
        ("lzw+pred2 float32", image(DataType::Float32, 1, 5, 2, 1), lzw(&predict2_f32(&dem))),
        (
            "zstd+pred2 float32",
            image(DataType::Float32, 1, 50000, 2, 1),
            zstd::bulk::compress(&predict2_f32(&dem), 9).unwrap(),
        ),
        ("lerc float32 (0.01)", image(DataType::Float32, 1, 34887, 1, 1), lerc_blob),
        ("packbits uint8 rgb", image(DataType::Uint8, 3, 32773, 1, 2), packbits(&photo)),
        ("jpeg q85 uint8 rgb", image(DataType::Uint8, 3, 7, 1, 2), jpeg),
        ("webp lossless uint8 rgb", image(DataType::Uint8, 3, 50001, 1, 2), webp),
    ];
    let mut group = c.benchmark_group("decode 512x512 block");
    for (name, img, data) in &cases {
        // Sanity: it decodes to the full block.
        let block = decode_block(img, data, 0, "bench").unwrap();
        assert_eq!(block.data.len(), N * N * img.samples as usize);
        let data = Bytes::from(data.clone());
        group.bench_function(*name, |b| b.iter(|| decode_block(black_box(img), black_box(&data), 0, "bench").unwrap()));
    }
    group.finish();
}

criterion_group!(decode, benches);
criterion_main!(decode);
