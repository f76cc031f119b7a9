//! `/image`: arrays and pictures in pixel space, and legends.
//!
//! Generated arrays (random sizes and values, every layout `.npy` has) are served and every
//! tile of every zoom is compared with the source: at the last zoom with slices of it,
//! below with a 2 x 2 mean pyramid computed here from the source. Legends are checked
//! pixel by pixel against classes and ramps evaluated here.

mod common;

use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use common::{Scratch, app_with, enc, get, request};
use imbrex_server::Config;
use imbrex_testkit::npy::Npy;
use serde_json::json;

/// xorshift64*: reproducible values without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// An array as the test knows it: `bands x rows x cols` values (band-sequential).
#[derive(Clone)]
struct Array {
    bands: usize,
    rows: usize,
    cols: usize,
    values: Vec<f64>,
}

impl Array {
    fn at(&self, b: usize, r: usize, c: usize) -> f64 {
        self.values[(b * self.rows + r) * self.cols + c]
    }
}

/// How a sample is stored: numpy's descr and its bytes.
#[derive(Clone, Copy)]
enum Dtype {
    U8,
    I16,
    U16,
    I32,
    F32,
    F64,
}

impl Dtype {
    fn descr(self) -> &'static str {
        match self {
            Dtype::U8 => "|u1",
            Dtype::I16 => "<i2",
            Dtype::U16 => ">u2",
            Dtype::I32 => "<i4",
            Dtype::F32 => "<f4",
            Dtype::F64 => "<f8",
        }
    }

    fn bytes(self, v: f64) -> Vec<u8> {
        match self {
            Dtype::U8 => vec![v as u8],
            Dtype::I16 => (v as i16).to_le_bytes().to_vec(),
            Dtype::U16 => (v as u16).to_be_bytes().to_vec(),
            Dtype::I32 => (v as i32).to_le_bytes().to_vec(),
            Dtype::F32 => (v as f32).to_le_bytes().to_vec(),
            Dtype::F64 => v.to_le_bytes().to_vec(),
        }
    }

    /// A stored mean, as the pyramid stores it: integers rounded half away from zero,
    /// float32 rounded to float32.
    fn round(self, v: f64) -> f64 {
        match self {
            Dtype::F32 => v as f32 as f64,
            Dtype::F64 => v,
            _ => v.round(),
        }
    }

    fn random(self, rng: &mut Rng) -> f64 {
        match self {
            Dtype::U8 => rng.below(256) as f64,
            Dtype::I16 => rng.below(60_000) as f64 - 30_000.0,
            Dtype::U16 => rng.below(65_536) as f64,
            Dtype::I32 => rng.below(2_000_000) as f64 - 1_000_000.0,
            // NaN here and there: the pyramid's means skip it.
            Dtype::F32 | Dtype::F64 if rng.below(50) == 0 => f64::NAN,
            Dtype::F32 => (rng.below(1 << 20) as f64 / 1024.0 - 512.0) as f32 as f64,
            Dtype::F64 => rng.below(1 << 40) as f64 / 7.0 - 1e10,
        }
    }
}

/// Axes of the stored array.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// `(rows, cols)`.
    Gray,
    /// `(bands, rows, cols)`.
    BandsFirst,
    /// `(rows, cols, bands)`.
    BandsLast,
}

/// Write `a` as `.npy` with numpy's header, in C or Fortran order.
fn write_npy(path: &Path, a: &Array, dtype: Dtype, shape: Shape, fortran: bool) {
    let dims: Vec<usize> = match shape {
        Shape::Gray => vec![a.rows, a.cols],
        Shape::BandsFirst => vec![a.bands, a.rows, a.cols],
        Shape::BandsLast => vec![a.rows, a.cols, a.bands],
    };
    // The value at an index of the stored axes.
    let value = |ix: &[usize]| match shape {
        Shape::Gray => a.at(0, ix[0], ix[1]),
        Shape::BandsFirst => a.at(ix[0], ix[1], ix[2]),
        Shape::BandsLast => a.at(ix[2], ix[0], ix[1]),
    };
    let shape_text = dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ");
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': {}, 'shape': ({shape_text}), }}",
        dtype.descr(),
        if fortran { "True" } else { "False" }
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    let total: usize = dims.iter().product();
    let mut ix = vec![0usize; dims.len()];
    for _ in 0..total {
        out.extend(dtype.bytes(value(&ix)));
        // Next index: the last axis fastest in C order, the first in Fortran order.
        let order: Vec<usize> = if fortran { (0..dims.len()).collect() } else { (0..dims.len()).rev().collect() };
        for &d in &order {
            ix[d] += 1;
            if ix[d] < dims[d] {
                break;
            }
            ix[d] = 0;
        }
    }
    std::fs::write(path, out).unwrap();
}

/// The pyramid: level 0 is the array, each level the 2 x 2 mean of the one before
/// (NaN skipped), stored in the array's type.
fn pyramid(a: &Array, dtype: Dtype) -> Vec<Array> {
    pyramid_by(a, dtype, None, false, None)
}

/// The pyramid with nodata skipped (all-nodata means give nodata), or the top-left pixel of
/// each 2 x 2 (`nearest`), or colour means weighted by an alpha band.
fn pyramid_by(a: &Array, dtype: Dtype, nodata: Option<f64>, nearest: bool, alpha: Option<usize>) -> Vec<Array> {
    let mut levels = vec![a.clone()];
    while levels.last().is_some_and(|l| l.rows > 1 || l.cols > 1) {
        let p = levels.last().unwrap();
        let (rows, cols) = (p.rows.div_ceil(2), p.cols.div_ceil(2));
        let mut values = Vec::with_capacity(p.bands * rows * cols);
        for b in 0..p.bands {
            for r in 0..rows {
                for c in 0..cols {
                    if nearest {
                        values.push(p.at(b, 2 * r, 2 * c));
                        continue;
                    }
                    let (mut sum, mut weight) = (0.0, 0.0);
                    for (rr, cc) in [(2 * r, 2 * c), (2 * r, 2 * c + 1), (2 * r + 1, 2 * c), (2 * r + 1, 2 * c + 1)] {
                        if rr < p.rows && cc < p.cols {
                            let v = p.at(b, rr, cc);
                            let skip_nodata = alpha != Some(b) && Some(v) == nodata;
                            if !v.is_nan() && !skip_nodata {
                                let w = alpha.filter(|&a| a != b).map_or(1.0, |a| p.at(a, rr, cc));
                                sum += v * w;
                                weight += w;
                            }
                        }
                    }
                    let float = matches!(dtype, Dtype::F32 | Dtype::F64);
                    let value = match (weight > 0.0, alpha.filter(|&a| a != b)) {
                        // A valid mean never reads as nodata: the next integer past it.
                        (true, _) => match (dtype.round(sum / weight), nodata) {
                            (v, Some(nd)) if v == nd && alpha != Some(b) => {
                                if sum / weight >= nd {
                                    nd + 1.0
                                } else {
                                    nd - 1.0
                                }
                            }
                            (v, _) => v,
                        },
                        (false, Some(_)) => 0.0,
                        (false, None) if float => f64::NAN,
                        (false, None) => nodata.unwrap_or(0.0),
                    };
                    values.push(value);
                }
            }
        }
        levels.push(Array { bands: p.bands, rows, cols, values });
    }
    levels
}

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Every tile of every zoom of `/image/{name}` equals the pyramid, and the tiles just past
/// the image are 404s.
async fn check_every_tile(app: &axum::Router, name: &str, a: &Array, dtype: Dtype, ts: usize) {
    check_pyramid(app, name, a, &pyramid(a, dtype), ts, "", None).await;
}

/// [`check_every_tile`] against a given pyramid, with extra query parameters; `nodata` is
/// masked as NaN is.
async fn check_pyramid(
    app: &axum::Router,
    name: &str,
    a: &Array,
    levels: &[Array],
    ts: usize,
    query: &str,
    nodata: Option<f64>,
) {
    let info = get(app, &format!("/image/{name}/info?tilesize={ts}")).await.json();
    let maxzoom = info["maxzoom"].as_u64().unwrap() as usize;
    assert_eq!((info["width"].as_u64(), info["height"].as_u64()), (Some(a.cols as u64), Some(a.rows as u64)));
    assert!(a.cols.max(a.rows).div_ceil(1 << maxzoom) <= ts, "{name}: the last zoom is 1:1");
    assert!(maxzoom == 0 || a.cols.max(a.rows).div_ceil(1 << (maxzoom - 1)) > ts, "{name}: and no finer");
    for z in 0..=maxzoom {
        let l = &levels[maxzoom - z];
        let (nx, ny) = (l.cols.div_ceil(ts), l.rows.div_ceil(ts));
        if z == 0 {
            assert_eq!((nx, ny), (1, 1), "{name}: zoom 0 is one tile");
        }
        for y in 0..ny {
            for x in 0..nx {
                let uri = format!("/image/{name}/tiles/{z}/{x}/{y}.npy?tilesize={ts}{query}");
                let r = get(app, &uri).await;
                assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text());
                let t = Npy::parse(&r.body).unwrap();
                assert_eq!(t.shape, vec![a.bands + 1, ts, ts], "{uri}");
                let n = ts * ts;
                for row in 0..ts {
                    for col in 0..ts {
                        let (lr, lc) = (y * ts + row, x * ts + col);
                        let inside = lr < l.rows && lc < l.cols;
                        for b in 0..a.bands {
                            let got = t.values[b * n + row * ts + col];
                            if inside {
                                let want = l.at(b, lr, lc);
                                assert!(same(got, want), "{uri} band {b} ({col}, {row}): {got} != {want}");
                            }
                        }
                        // The mask plane: the type's maximum where valid, its minimum elsewhere.
                        let valid = t.values[a.bands * n + row * ts + col] > 0.0;
                        let nan = (0..a.bands).all(|b| {
                            let v = if inside { l.at(b, lr, lc) } else { 0.0 };
                            inside && (v.is_nan() || Some(v) == nodata)
                        });
                        assert_eq!(valid, inside && !nan, "{uri} mask at ({col}, {row})");
                    }
                }
            }
        }
        for (x, y) in [(nx, 0), (0, ny)] {
            let r = get(app, &format!("/image/{name}/tiles/{z}/{x}/{y}.png?tilesize={ts}")).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{name} {z}/{x}/{y} is outside the image");
        }
    }
    let r = get(app, &format!("/image/{name}/tiles/{}/0/0.png?tilesize={ts}", maxzoom + 1)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{name}: past 1:1");
}

fn random_array(rng: &mut Rng, bands: usize, rows: usize, cols: usize, dtype: Dtype) -> Array {
    Array { bands, rows, cols, values: (0..bands * rows * cols).map(|_| dtype.random(rng)).collect() }
}

fn app_serving(paths: Vec<PathBuf>) -> axum::Router {
    app_with(Config { images: paths, ..Default::default() })
}

#[tokio::test]
async fn generated_arrays_serve_every_zoom_with_the_right_pixels() {
    let scratch = Scratch::new("images-arrays");
    let mut rng = Rng(0x1b2c_3d4e_5f60_7182);
    // Every layout .npy has, odd sizes, integer and float types, both orders and byte orders.
    let cases = [
        ("gray_f32_c", 1, Shape::Gray, Dtype::F32, false),
        ("gray_i16_f", 1, Shape::Gray, Dtype::I16, true),
        ("bands_f64_f", 3, Shape::BandsFirst, Dtype::F64, true),
        ("bands_i32_c", 2, Shape::BandsFirst, Dtype::I32, false),
        ("rgb_u8_c", 3, Shape::BandsLast, Dtype::U8, false),
        ("rgb_u16be_f", 3, Shape::BandsLast, Dtype::U16, true),
    ];
    let mut arrays = Vec::new();
    for (name, bands, shape, dtype, fortran) in cases {
        let (rows, cols) = (5 + rng.below(600) as usize, 5 + rng.below(600) as usize);
        let a = random_array(&mut rng, bands, rows, cols, dtype);
        write_npy(&scratch.0.join(format!("{name}.npy")), &a, dtype, shape, fortran);
        arrays.push((name, a, dtype));
    }
    // The folder is served: every file by its stem.
    let app = app_serving(vec![scratch.0.clone()]);
    let list = get(&app, "/image").await.json();
    let names: Vec<&str> = list["images"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), cases.len(), "{list}");
    for (i, (name, a, dtype)) in arrays.iter().enumerate() {
        let ts = [64, 256, 100][i % 3];
        check_every_tile(&app, name, a, *dtype, ts).await;
    }
}

#[tokio::test]
async fn a_large_array_is_read_by_ranges_and_its_pyramid_is_exact() {
    // 3 x 1500 x 1300: many blocks per level, a pyramid of 11 levels.
    let scratch = Scratch::new("images-large");
    let mut rng = Rng(42);
    let a = random_array(&mut rng, 1, 1500, 1300, Dtype::U16);
    let path = scratch.0.join("big.npy");
    write_npy(&path, &a, Dtype::U16, Shape::Gray, false);
    let app = app_serving(vec![path]);
    check_every_tile(&app, "big", &a, Dtype::U16, 512).await;
    // Points read level 0.
    for (x, y) in [(0.0, 0.0), (1299.9, 1499.2), (640.5, 10.0)] {
        let v = get(&app, &format!("/image/big/point/{x},{y}")).await.json();
        assert_eq!(v["values"][0].as_f64().unwrap(), a.at(0, y as usize, x as usize), "{v}");
    }
    // As TiTiler answers a point outside a dataset.
    assert_eq!(get(&app, "/image/big/point/1300,0").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(get(&app, "/image/big/point/-1,0").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(get(&app, "/image/big/point/a,0").await.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// PNG bytes of an RGB(A) image.
fn png_bytes(a: &Array) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = png::Encoder::new(&mut out, a.cols as u32, a.rows as u32);
    e.set_color(if a.bands == 4 { png::ColorType::Rgba } else { png::ColorType::Rgb });
    e.set_depth(png::BitDepth::Eight);
    let mut data = Vec::new();
    for r in 0..a.rows {
        for c in 0..a.cols {
            for b in 0..a.bands {
                data.push(a.at(b, r, c) as u8);
            }
        }
    }
    e.write_header().unwrap().write_image_data(&data).unwrap();
    out
}

#[tokio::test]
async fn pngs_and_jpegs_are_decoded_once_and_tiled() {
    let scratch = Scratch::new("images-pictures");
    let mut rng = Rng(7);
    let rgb = random_array(&mut rng, 3, 333, 517, Dtype::U8);
    std::fs::write(scratch.0.join("photo.png"), png_bytes(&rgb)).unwrap();
    // A JPEG: the reference is its decoded pixels (the decoder is zune-jpeg's; what is
    // checked here is the tiling and the pyramid over them).
    let smooth: Vec<u8> = (0..300 * 400)
        .flat_map(|i| {
            let (r, c) = (i / 400, i % 400);
            [(r % 256) as u8, (c % 256) as u8, ((r + c) % 256) as u8]
        })
        .collect();
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 90).encode(&smooth, 400, 300, jpeg_encoder::ColorType::Rgb).unwrap();
    std::fs::write(scratch.0.join("scan.jpg"), &jpeg).unwrap();
    let decoded = zune_jpeg::JpegDecoder::new(zune_core::bytestream::ZCursor::new(&jpeg)).decode().unwrap();
    let n = 300 * 400;
    let scan = Array {
        bands: 3,
        rows: 300,
        cols: 400,
        values: (0..3).flat_map(|b| (0..n).map(move |i| (b, i))).map(|(b, i)| decoded[i * 3 + b] as f64).collect(),
    };
    let app = app_serving(vec![scratch.0.clone()]);
    check_every_tile(&app, "photo", &rgb, Dtype::U8, 128).await;
    check_every_tile(&app, "scan", &scan, Dtype::U8, 256).await;
    let info = get(&app, "/image/scan/info").await.json();
    assert_eq!((info["driver"].as_str(), info["count"].as_u64()), (Some("JPEG"), Some(3)));
    // RGB renders as is: a PNG tile of the last zoom shows the source pixels.
    let r = get(&app, "/image/photo/tiles/3/0/0.png?tilesize=128").await;
    assert_eq!((r.status, r.content_type()), (StatusCode::OK, "image/png"));
    let (px, w, _) = decode_png(&r.body);
    assert_eq!(w, 128);
    assert_eq!(&px[0][..3], &[rgb.at(0, 0, 0) as u8, rgb.at(1, 0, 0) as u8, rgb.at(2, 0, 0) as u8]);
    // Preview and statistics.
    let r = get(&app, "/image/photo/preview.npy?max_size=200").await;
    assert_eq!(Npy::parse(&r.body).unwrap().shape, vec![4, 84, 130], "the first level within 200 pixels");
    let stats = get(&app, "/image/photo/statistics").await.json();
    assert_eq!(stats["b1"]["count"].as_f64(), Some(333.0 * 517.0), "{stats}");
    let viewer = get(&app, "/image/photo/viewer").await;
    assert!(viewer.text().contains("/image/photo/tilejson.json"), "{}", viewer.text());
    let tj = get(&app, "/image/photo/tilejson.json?tilesize=128").await.json();
    assert_eq!((tj["maxzoom"].as_u64(), tj["tileSize"].as_u64()), (Some(3), Some(128)), "{tj}");
}

#[tokio::test]
async fn bad_image_requests_are_clear_errors() {
    let scratch = Scratch::new("images-bad");
    std::fs::write(scratch.0.join("broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    std::fs::write(scratch.0.join("complex.npy"), {
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        let h = "{'descr': '<c8', 'fortran_order': False, 'shape': (2, 2), }          \n";
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(&[0; 32]);
        b
    })
    .unwrap();
    let a = Array { bands: 1, rows: 10, cols: 10, values: (0..100).map(f64::from).collect() };
    write_npy(&scratch.0.join("ok.npy"), &a, Dtype::U8, Shape::Gray, false);
    std::fs::copy(imbrex_testkit::raster("byte.tif"), scratch.0.join("geo.tif")).unwrap();
    let app = app_serving(vec![scratch.0.clone()]);
    for (uri, status) in [
        ("/image/missing/info", StatusCode::NOT_FOUND),
        ("/image/broken/info", StatusCode::BAD_REQUEST),
        ("/image/complex/info", StatusCode::BAD_REQUEST),
        ("/image/geo/info", StatusCode::NOT_FOUND),
        ("/image/ok/tiles/0/0/0.png?tilesize=32", StatusCode::UNPROCESSABLE_ENTITY),
        ("/image/ok/tiles/0/0/0.png?tilesize=2000", StatusCode::UNPROCESSABLE_ENTITY),
        ("/image/ok/tiles/0/1/0.png", StatusCode::NOT_FOUND),
        ("/image/ok/tiles/a/0/0.png", StatusCode::UNPROCESSABLE_ENTITY),
        ("/image/ok/tiles/0/0/0.gif", StatusCode::UNPROCESSABLE_ENTITY),
        ("/image/ok/tiles/0/0/0.png?bidx=2", StatusCode::UNPROCESSABLE_ENTITY),
        ("/image/ok/tiles/0/0/0.png?legend=nope", StatusCode::UNPROCESSABLE_ENTITY),
        ("/image/ok/preview.png?legend=%5B%5D", StatusCode::UNPROCESSABLE_ENTITY),
        ("/image/ok/nothing", StatusCode::NOT_FOUND),
    ] {
        let r = get(&app, uri).await;
        assert_eq!(r.status, status, "{uri}: {}", r.text());
        assert!(r.json()["detail"].is_string() || r.json()["detail"].is_array(), "{uri}: {}", r.text());
    }
    // A georeferenced file of a served folder is a /cog dataset by name.
    let r = get(&app, "/cog/info?url=geo.tif").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(get(&app, "/image/geo/info").await.text().contains("georeferenced"));
}

/// RGBA pixels of a PNG, its width and height.
fn decode_png(bytes: &[u8]) -> (Vec<[u8; 4]>, usize, usize) {
    let mut d = png::Decoder::new(std::io::Cursor::new(bytes));
    d.set_transformations(png::Transformations::EXPAND);
    let mut reader = d.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let f = reader.next_frame(&mut buf).unwrap();
    let ch = f.color_type.samples();
    let px = buf[..f.buffer_size()]
        .chunks(ch)
        .map(|p| match ch {
            4 => [p[0], p[1], p[2], p[3]],
            3 => [p[0], p[1], p[2], 255],
            2 => [p[0], p[0], p[0], p[1]],
            _ => [p[0], p[0], p[0], 255],
        })
        .collect();
    (px, f.width as usize, f.height as usize)
}

/// Classes evaluated here: the first whose test holds.
fn classify(v: f64) -> Option<usize> {
    if v == 3.0 {
        Some(0)
    } else if -300.0 < v && v <= 100.0 {
        Some(1)
    } else if v >= 1000.0 {
        Some(2)
    } else {
        None
    }
}

const CLASSES: &str = r##"[{"name": "three", "expression": "3", "color": "#ff0000"},
    {"name": "low", "expression": "(-300.0 < x) & (x <= 100)", "color": "#00ff0080"},
    {"name": "high", "expression": "x >= 1000", "color": [0, 0, 255]}]"##;
const COLORS: [[u8; 4]; 3] = [[255, 0, 0, 255], [0, 255, 0, 128], [0, 0, 255, 255]];

#[tokio::test]
async fn legend_classes_and_ramps_colour_the_right_pixels() {
    let scratch = Scratch::new("images-legend");
    let mut rng = Rng(99);
    // Values around the class edges, and exact 3s.
    let mut a = random_array(&mut rng, 1, 200, 300, Dtype::I16);
    for v in a.values.iter_mut() {
        *v = match rng.below(4) {
            0 => 3.0,
            1 => (rng.below(800) as f64) - 400.0,
            _ => (rng.below(2000) as f64) - 200.0,
        };
    }
    write_npy(&scratch.0.join("values.npy"), &a, Dtype::I16, Shape::Gray, false);
    let mut legends = std::collections::BTreeMap::new();
    legends.insert("demo".to_string(), serde_json::from_str(CLASSES).unwrap());
    legends.insert(
        "heat".to_string(),
        json!({"from": "#000000", "over": "#ff0000", "to": "#ffff00", "range": [-400, 1800]}),
    );
    let app = app_with(Config { images: vec![scratch.0.clone()], legends, ..Default::default() });
    // Classes, by name and as JSON, at the last zoom (tile = slice) and counted.
    for legend in ["demo".to_string(), enc(CLASSES)] {
        let r =
            get(&app, &format!("/image/values/tiles/0/0/0.png?tilesize=512&legend={legend}&legend_counts=true")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let (px, w, _) = decode_png(&r.body);
        let mut counts = [0u64; 3];
        for row in 0..a.rows {
            for col in 0..a.cols {
                let got = px[row * w + col];
                match classify(a.at(0, row, col)) {
                    Some(k) => {
                        counts[k] += 1;
                        assert_eq!(got, COLORS[k], "pixel ({col}, {row}) = {}", a.at(0, row, col));
                    }
                    None => assert_eq!(got[3], 0, "pixel ({col}, {row}) = {} matches no class", a.at(0, row, col)),
                }
            }
        }
        assert_eq!(px[400][3], 0, "outside the image: transparent");
        let header: serde_json::Value =
            serde_json::from_str(r.headers.get("x-legend-counts").unwrap().to_str().unwrap()).unwrap();
        assert_eq!(header, json!({"three": counts[0], "low": counts[1], "high": counts[2]}));
    }
    // A ramp: from black through red to yellow over its range.
    let r = get(&app, "/image/values/tiles/0/0/0.png?tilesize=512&legend=heat").await;
    let (px, w, _) = decode_png(&r.body);
    let mix = |a: [u8; 3], b: [u8; 3], t: f64| -> [u8; 3] {
        std::array::from_fn(|i| (a[i] as f64 + (b[i] as f64 - a[i] as f64) * t).round() as u8)
    };
    for row in (0..a.rows).step_by(7) {
        for col in (0..a.cols).step_by(3) {
            let t = ((a.at(0, row, col) + 400.0) / 2200.0).clamp(0.0, 1.0);
            let want = if t < 0.5 {
                mix([0, 0, 0], [255, 0, 0], t * 2.0)
            } else {
                mix([255, 0, 0], [255, 255, 0], t * 2.0 - 1.0)
            };
            assert_eq!(&px[row * w + col][..3], &want, "({col}, {row}) = {}", a.at(0, row, col));
        }
    }
    // A legend takes the colormap's place: the two together are refused.
    let r = get(&app, "/image/values/tiles/0/0/0.png?legend=heat&colormap_name=viridis").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn legends_are_listed_and_drawn() {
    let mut legends = std::collections::BTreeMap::new();
    legends.insert("landcover".to_string(), serde_json::from_str(CLASSES).unwrap());
    legends
        .insert("ndvi".to_string(), json!({"from": "#8b4513", "over": "#ffff00", "to": "#006400", "range": [-1, 1]}));
    let app = app_with(Config { legends, ..Default::default() });
    let list = get(&app, "/legends").await.json();
    assert_eq!(list["legends"].as_array().unwrap().len(), 2, "{list}");
    let doc = get(&app, "/legends/landcover").await.json();
    assert_eq!(
        doc["classes"][1],
        json!({"name": "low", "expression": "(-300.0 < x) & (x <= 100)", "color": "#00ff0080"})
    );
    let ramp = get(&app, "/legends/ndvi.json").await.json();
    assert_eq!(
        ramp["stops"],
        json!([{"value": -1.0, "color": "#8b4513"}, {"value": 0.0, "color": "#ffff00"},
        {"value": 1.0, "color": "#006400"}])
    );
    let r = get(&app, "/legends/landcover.png").await;
    assert_eq!(r.content_type(), "image/png");
    let (px, _, _) = decode_png(&r.body);
    // Translucent swatches are drawn over white.
    for c in [[255, 0, 0, 255], [127, 255, 127, 255], [0, 0, 255, 255]] {
        assert!(px.iter().any(|p| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) <= 1)), "{c:?} drawn");
    }
    let svg = get(&app, "/legends/ndvi.svg").await;
    assert_eq!(svg.content_type(), "image/svg+xml");
    assert!(svg.text().contains("#8b4513") && svg.text().contains(">-1</text>"), "{}", svg.text());
    assert_eq!(get(&app, "/legends/nope.png").await.status, StatusCode::NOT_FOUND);
    // A colormap bar for a dataset, ticks from rescale.
    let url = imbrex_testkit::raster("byte.tif");
    let app = app_with(Config { allow_path: vec![imbrex_testkit::testdata("raster")], ..Default::default() });
    let r =
        get(&app, &format!("/cog/legend?url={}&colormap_name=viridis&rescale=0,200", enc(url.to_str().unwrap()))).await;
    assert_eq!((r.status, r.content_type()), (StatusCode::OK, "image/png"), "{}", r.text());
    let (px, w, _) = decode_png(&r.body);
    let viridis = get(&app, "/colorMaps/viridis").await.json();
    for i in ["0", "255"] {
        let c: Vec<u8> = viridis[i].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
        assert!(px.iter().any(|p| p[..3] == c[..3]), "viridis[{i}] on the bar");
    }
    assert!(w > 512);
    // Without rescale the bar spans 0-255, what tiles index the colormap with.
    let r = get(&app, &format!("/cog/legend?url={}&colormap_name=viridis", enc(url.to_str().unwrap()))).await;
    assert_eq!((r.status, r.content_type()), (StatusCode::OK, "image/png"), "{}", r.text());
    let r = get(&app, &format!("/cog/legend?url={}", enc(url.to_str().unwrap()))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn feature_statistics_give_the_area_of_each_class() {
    let path = imbrex_testkit::raster("byte.tif");
    let url = enc(path.to_str().unwrap());
    let app = app_with(Config { allow_path: vec![imbrex_testkit::testdata("raster")], ..Default::default() });
    let info = get(&app, &format!("/cog/info?url={url}")).await.json();
    let b: Vec<f64> = info["bounds"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let (w, h) = (info["width"].as_u64().unwrap() as usize, info["height"].as_u64().unwrap() as usize);
    let (rx, ry) = ((b[2] - b[0]) / w as f64, (b[3] - b[1]) / h as f64);
    let full = Npy::parse(&get(&app, &format!("/cog/preview.npy?url={url}&max_size={}", w.max(h))).await.body).unwrap();
    assert_eq!(full.shape, vec![2, h, w]);
    // A rectangle on pixel edges: columns 2..12, rows 3..15.
    let (c0, c1, r0, r1) = (2, 12, 3, 15);
    let (x0, x1) = (b[0] + c0 as f64 * rx, b[0] + c1 as f64 * rx);
    let (y1, y0) = (b[3] - r0 as f64 * ry, b[3] - r1 as f64 * ry);
    let feature = json!({"type": "Feature", "properties": {}, "geometry": {"type": "Polygon",
        "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}});
    let legend = r##"[{"name": "dark", "expression": "x < 110", "color": "#000000"},
        {"name": "mid", "expression": "(110 <= x) & (x < 140)", "color": "#777777"},
        {"name": "light", "expression": "x >= 140", "color": "#ffffff"}]"##;
    let uri =
        format!("/cog/statistics?url={url}&coord_crs={}&legend={}", enc(info["crs"].as_str().unwrap()), enc(legend));
    let req = axum::http::Request::post(&uri)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(feature.to_string()))
        .unwrap();
    let r = request(&app, req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let areas = &r.json()["properties"]["legend"];
    // GET statistics have no feature to measure: a 422 rather than a silently ignored legend.
    let r = get(&app, &format!("/cog/statistics?url={url}&legend={}", enc(legend))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(areas["units"], "m²");
    let mut counts = [0u64; 3];
    for row in r0..r1 {
        for col in c0..c1 {
            let v = full.values[row * w + col];
            counts[if v < 110.0 {
                0
            } else if v < 140.0 {
                1
            } else {
                2
            }] += 1;
        }
    }
    assert_eq!(counts.iter().sum::<u64>(), 120);
    for (k, class) in areas["classes"].as_array().unwrap().iter().enumerate() {
        assert_eq!(class["pixels"].as_u64(), Some(counts[k]), "{class}");
        let want = counts[k] as f64 * rx * ry;
        assert!((class["area"].as_f64().unwrap() - want).abs() < 1e-6 * want.max(1.0), "{class}: {want}");
    }
}

/// Arrays numpy itself wrote (its headers, Fortran order, float16, int64, bool, big-endian)
/// serve the values numpy holds.
#[tokio::test]
async fn arrays_numpy_wrote_serve_numpys_values() {
    let python = std::env::var("RIO_PYTHON")
        .expect("RIO_PYTHON is not set: run scripts/test, which makes the rio-tiler virtualenv and sets it");
    let scratch = Scratch::new("images-numpy");
    let script = r#"
import sys
import numpy as np
d = sys.argv[1]
b, r, c = np.meshgrid(np.arange(3), np.arange(301), np.arange(277), indexing="ij")
np.save(f"{d}/f32_fortran.npy", np.asfortranarray((b * 1000 + r * 3 - c * 2).astype(np.float32)))
np.save(f"{d}/i64.npy", ((r[0] * 7 - c[0] * 11) * 100000).astype(np.int64))
np.save(f"{d}/flags.npy", (r[0] + c[0]) % 3 == 0)
np.save(f"{d}/f16_rgb.npy", np.moveaxis((r % 50) - (c % 30) + b, 0, -1).astype(np.float16))
np.save(f"{d}/u16_be.npy", (r[0] * 100 + c[0]).astype(">u2"))
"#;
    let out = std::process::Command::new(&python).arg("-c").arg(script).arg(&scratch.0).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let array = |bands: usize, f: &dyn Fn(usize, usize, usize) -> f64| Array {
        bands,
        rows: 301,
        cols: 277,
        values: (0..bands)
            .flat_map(|b| (0..301).flat_map(move |r| (0..277).map(move |c| (b, r, c))))
            .map(|(b, r, c)| f(b, r, c))
            .collect(),
    };
    let app = app_serving(vec![scratch.0.clone()]);
    let cases: [(&str, Array, Dtype); 5] = [
        ("f32_fortran", array(3, &|b, r, c| (b * 1000 + r * 3) as f64 - (c * 2) as f64), Dtype::F32),
        ("i64", array(1, &|_, r, c| ((r * 7) as f64 - (c * 11) as f64) * 100000.0), Dtype::F64),
        ("flags", array(1, &|_, r, c| ((r + c) % 3 == 0) as u8 as f64), Dtype::U8),
        ("f16_rgb", array(3, &|b, r, c| (r % 50) as f64 - (c % 30) as f64 + b as f64), Dtype::F32),
        ("u16_be", array(1, &|_, r, c| (r * 100 + c) as f64), Dtype::U16),
    ];
    for (name, a, dtype) in &cases {
        check_every_tile(&app, name, a, *dtype, 64).await;
    }
}

#[tokio::test]
async fn nodata_and_nearest_make_pyramids_of_their_own() {
    let scratch = Scratch::new("images-nodata");
    let mut rng = Rng(5);
    // Class codes 1-5 with holes of nodata.
    let mut a = random_array(&mut rng, 1, 301, 203, Dtype::I16);
    for v in a.values.iter_mut() {
        *v = if rng.below(10) < 3 { -9999.0 } else { 1.0 + rng.below(5) as f64 };
    }
    write_npy(&scratch.0.join("classes.npy"), &a, Dtype::I16, Shape::Gray, false);
    let app = app_serving(vec![scratch.0.clone()]);
    // nodata= is skipped by the means (a hole does not drag its neighbours down) and masked.
    let means = pyramid_by(&a, Dtype::I16, Some(-9999.0), false, None);
    check_pyramid(&app, "classes", &a, &means, 64, "&nodata=-9999", Some(-9999.0)).await;
    // resampling=nearest keeps class codes: every level holds only values of the source.
    let nearest = pyramid_by(&a, Dtype::I16, None, true, None);
    check_pyramid(&app, "classes", &a, &nearest, 64, "&resampling=nearest&nodata=-9999", Some(-9999.0)).await;
    // The plain mean is still the default, and cached apart.
    check_every_tile(&app, "classes", &a, Dtype::I16, 64).await;
    // Means that round to nodata (-1 and 1 around nodata 0) step past it; float holes
    // stay NaN whatever nodata says.
    let mut signs = random_array(&mut rng, 1, 150, 170, Dtype::I16);
    signs.values.iter_mut().for_each(|v| *v = rng.below(3) as f64 - 1.0);
    write_npy(&scratch.0.join("signs.npy"), &signs, Dtype::I16, Shape::Gray, false);
    let mut holes = random_array(&mut rng, 1, 150, 170, Dtype::F32);
    holes.values.iter_mut().for_each(|v| *v = if rng.below(2) == 0 { f64::NAN } else { 0.25 });
    write_npy(&scratch.0.join("holes.npy"), &holes, Dtype::F32, Shape::Gray, false);
    let app = app_serving(vec![scratch.0.clone()]);
    let levels = pyramid_by(&signs, Dtype::I16, Some(0.0), false, None);
    check_pyramid(&app, "signs", &signs, &levels, 64, "&nodata=0", Some(0.0)).await;
    let levels = pyramid_by(&holes, Dtype::F32, Some(0.25), false, None);
    check_pyramid(&app, "holes", &holes, &levels, 64, "&nodata=0.25", Some(0.25)).await;
    for bad in ["resampling=cubic", "buffer=0.5", "buffer=5000", "buffer=-1"] {
        let r = get(&app, &format!("/image/classes/tiles/0/0/0.png?{bad}")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", r.text());
    }
    // A buffer reads the neighbours: 64 + 2 x 3 pixels, the source's at 1:1.
    let r = get(&app, "/image/classes/tiles/3/1/1.npy?tilesize=64&buffer=3").await;
    let t = Npy::parse(&r.body).unwrap();
    assert_eq!(t.shape, vec![2, 70, 70]);
    assert_eq!(t.values[0], a.at(0, 61, 61));
}

#[tokio::test]
async fn colour_means_are_weighted_by_alpha_and_tiny_pictures_keep_their_bands() {
    let scratch = Scratch::new("images-alpha");
    let mut rng = Rng(11);
    let mut a = random_array(&mut rng, 4, 90, 130, Dtype::U8);
    // A quarter of the pixels fully transparent, with bright colours that must not bleed.
    for i in 0..90 * 130 {
        if rng.below(4) == 0 {
            a.values[3 * 90 * 130 + i] = 0.0;
        }
    }
    std::fs::write(scratch.0.join("rgba.png"), png_bytes(&a)).unwrap();
    let tiny = random_array(&mut rng, 3, 3, 7, Dtype::U8);
    std::fs::write(scratch.0.join("tiny.png"), png_bytes(&tiny)).unwrap();
    let app = app_serving(vec![scratch.0.clone()]);
    let levels = pyramid_by(&a, Dtype::U8, None, false, Some(3));
    let l = &levels[1];
    // Zoom 1 of 2 at 64 px: level 1. NPY: the three colour bands, then the alpha as mask.
    let t = Npy::parse(&get(&app, "/image/rgba/tiles/1/0/0.npy?tilesize=64").await.body).unwrap();
    assert_eq!(t.shape, vec![4, 64, 64]);
    for row in 0..45 {
        for col in 0..64 {
            for b in 0..4 {
                let got = t.values[b * 64 * 64 + row * 64 + col];
                assert_eq!(got, l.at(b, row, col), "band {b} ({col}, {row})");
            }
        }
    }
    // 7 x 3 pixels: three colour bands, not seven bands of three rows.
    let info = get(&app, "/image/tiny/info").await.json();
    assert_eq!((info["count"].as_u64(), info["width"].as_u64(), info["height"].as_u64()), (Some(3), Some(7), Some(3)));
    let t = Npy::parse(&get(&app, "/image/tiny/tiles/0/0/0.npy?tilesize=64").await.body).unwrap();
    assert_eq!((t.values[0], t.values[64 * 64 + 6]), (tiny.at(0, 0, 0), tiny.at(1, 0, 6)));
}

/// A legend on `/cog` colours a tile's pixels as its values say.
#[tokio::test]
async fn a_legend_colours_cog_tiles_pixel_by_pixel() {
    let url = enc(imbrex_testkit::raster("byte.tif").to_str().unwrap());
    let app = app_with(Config { allow_path: vec![imbrex_testkit::testdata("raster")], ..Default::default() });
    let legend = r##"[{"name": "dark", "expression": "x < 110", "color": "#102030"},
        {"name": "light", "expression": "x >= 140", "color": "#f0e0d0"}]"##;
    let tj = get(&app, &format!("/cog/WebMercatorQuad/tilejson.json?url={url}")).await.json();
    let z = tj["maxzoom"].as_u64().unwrap();
    let tms = imbrex_tms::TileMatrixSets::default().get("WebMercatorQuad").unwrap();
    let c = &tj["center"];
    let t = tms.tile(c[0].as_f64().unwrap(), c[1].as_f64().unwrap(), z as i32).unwrap();
    let tile = format!("/cog/tiles/WebMercatorQuad/{z}/{}/{}", t.x, t.y);
    let values = Npy::parse(&get(&app, &format!("{tile}.npy?url={url}")).await.body).unwrap();
    let r = get(&app, &format!("{tile}.png?url={url}&legend={}&legend_counts=true", enc(legend))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let (px, _, _) = decode_png(&r.body);
    let n = 256 * 256;
    let mut counts = [0u64; 2];
    for (i, p) in px.iter().enumerate() {
        let (v, valid) = (values.values[i], values.values[n + i] > 0.0);
        let want = match (valid, v) {
            (true, v) if v < 110.0 => Some(0),
            (true, v) if v >= 140.0 => Some(1),
            _ => None,
        };
        match want {
            Some(k) => {
                counts[k] += 1;
                assert_eq!(*p, [[0x10, 0x20, 0x30, 255], [0xf0, 0xe0, 0xd0, 255]][k], "pixel {i} = {v}");
            }
            None => assert_eq!(p[3], 0, "pixel {i} = {v} (valid {valid}) is transparent"),
        }
    }
    assert!(counts[0] > 0 && counts[1] > 0, "both classes appear: {counts:?}");
    let header: serde_json::Value =
        serde_json::from_str(r.headers.get("x-legend-counts").unwrap().to_str().unwrap()).unwrap();
    assert_eq!(header, json!({"dark": counts[0], "light": counts[1]}));
}
