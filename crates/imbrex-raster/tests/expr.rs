//! Band math (`imbrex_raster::expr`) against rio-tiler 9.4.12 + numexpr 2.14, from the
//! fixtures `tools/gen_expr_fixtures.py` writes:
//!
//! * `synthetic.json`: rio-tiler's `ImageData.apply_expression` on 1-row images of edge
//!   values (0, -1, the type's extremes, NaN, ±inf, -0.0, subnormals) of every data type
//!   imbrex reads, for every operator, function and type rule, and the expressions rio-tiler
//!   rejects;
//! * `rasters.json`: `Reader(path).preview(expression=..., max_size=...)` on shared rasters
//!   (uint8 RGB with dataset statistics, uint16 and uint8 with nodata, int16 with nodata,
//!   float32 with NaN, 5 bands).
//!
//! Everything is compared exactly: the numpy dtype, the mask, and every value bit for bit
//! (including the values under masked pixels), with no tolerance even for the
//! transcendental functions: this numexpr is built without VML, so its math functions are
//! glibc's, as Rust's `f64::sin` & co. are on this platform (`arcsinh`, `arccosh` and
//! `arctanh` are ports of glibc's). On a platform whose libm differs from the one numexpr
//! uses, those functions may differ by an ulp. The one inexact comparison is the end-to-end
//! one on JPEG sources (values depend on the decoder; see `previews_match_rio_tiler`).

use std::io::Read;
use std::sync::Arc;

use base64::Engine;
use imbrex_raster::expr::{ExprType, Expression};
use imbrex_raster::source::{LocalSource, RangeSource};
use imbrex_raster::{Buffer, DataType, ImageData, OpenOptions, ReadOptions, Reader};
use imbrex_tms::Bounds;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = imbrex_testkit::manifest_dir().join("tests/fixtures/expr").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) => s.parse().unwrap(),
        Value::Bool(b) => *b as u8 as f64,
        _ => panic!("not a number: {v}"),
    }
}

fn buffer(dtype: DataType, values: &[f64]) -> Buffer {
    match dtype {
        DataType::Uint8 => Buffer::Uint8(values.iter().map(|&v| v as u8).collect()),
        DataType::Int8 => Buffer::Int8(values.iter().map(|&v| v as i8).collect()),
        DataType::Uint16 => Buffer::Uint16(values.iter().map(|&v| v as u16).collect()),
        DataType::Int16 => Buffer::Int16(values.iter().map(|&v| v as i16).collect()),
        DataType::Uint32 => Buffer::Uint32(values.iter().map(|&v| v as u32).collect()),
        DataType::Int32 => Buffer::Int32(values.iter().map(|&v| v as i32).collect()),
        DataType::Float32 => Buffer::Float32(values.iter().map(|&v| v as f32).collect()),
        DataType::Float64 => Buffer::Float64(values.to_vec()),
    }
}

fn image(dtype: DataType, bands: &[Vec<f64>], masked: &[(usize, usize)]) -> ImageData {
    let n = bands[0].len();
    let flat: Vec<f64> = bands.iter().flatten().copied().collect();
    let mut band_mask = vec![255u8; flat.len()];
    for &(b, i) in masked {
        band_mask[b * n + i] = 0;
    }
    let count = bands.len();
    ImageData {
        width: n,
        height: 1,
        count,
        data: buffer(dtype, &flat),
        band_mask,
        bounds: Bounds::new(0.0, 0.0, 1.0, 1.0),
        crs: None,
        band_names: (1..=count).map(|i| format!("b{i}")).collect(),
        band_descriptions: (1..=count).map(|i| format!("b{i}")).collect(),
        nodata: None,
        scales: vec![1.0; count],
        offsets: vec![0.0; count],
        alpha_mask: None,
    }
}

/// The values of a result as f64 (bool as 0/1), and whether they are exactly what numpy
/// stores for `dtype` (float32 results are float32 buffers, and so on).
fn check_storage(img: &ImageData, dtype: &str) -> Result<(), String> {
    let want = match dtype {
        "bool" => DataType::Uint8,
        "int32" => DataType::Int32,
        "int64" | "float64" => DataType::Float64,
        "float32" => DataType::Float32,
        d => return Err(format!("unexpected dtype {d}")),
    };
    if img.dtype() != want {
        return Err(format!("stored as {} for numpy {dtype}", img.dtype()));
    }
    Ok(())
}

/// Results compared bit for bit (-0.0 is not 0.0).
fn same(got: f64, want: f64) -> bool {
    got.to_bits() == want.to_bits()
}

#[test]
fn synthetic_matches_numexpr() {
    let fx = fixture("synthetic.json");
    let masked: Vec<(usize, usize)> = fx["masked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_u64().unwrap() as usize, p[1].as_u64().unwrap() as usize))
        .collect();
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in fx["cases"].as_array().unwrap() {
        let expr_text = case["expression"].as_str().unwrap();
        let dt: DataType = case["dtype_in"].as_str().unwrap().parse().unwrap();
        let inputs: Vec<Vec<f64>> = fx["inputs"][dt.name()]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_array().unwrap().iter().map(num).collect())
            .collect();
        let id = format!("{dt} '{expr_text}'");
        let full = image(dt, &inputs, &masked);
        let result = Expression::parse(expr_text, 1024).and_then(|e| {
            let idx: Vec<usize> = e.bands().iter().map(|b| b - 1).collect();
            if idx.iter().any(|&i| i >= full.count) {
                return Err(imbrex_raster::Error::InvalidParameter { name: "expression", reason: "band".into() });
            }
            let t = e.output_type(dt)?;
            Ok((e.apply(&full.select_bands(&idx))?, t, e))
        });
        checked += 1;
        if let Some(err) = case.get("error") {
            if let Ok((img, t, _)) = result {
                failures.push(format!("{id}: rio-tiler fails ({err}), imbrex gives {} {:?}", t.name(), &img.data));
            }
            continue;
        }
        let (img, t, e) = match result {
            Ok(r) => r,
            Err(err) => {
                failures.push(format!("{id}: imbrex fails: {err}"));
                continue;
            }
        };
        let dtype = case["dtype"].as_str().unwrap();
        if t.name() != dtype {
            failures.push(format!("{id}: dtype {} != {dtype}", t.name()));
            continue;
        }
        if let Err(m) = check_storage(&img, dtype) {
            failures.push(format!("{id}: {m}"));
            continue;
        }
        let count = case["count"].as_u64().unwrap() as usize;
        if img.count != count || e.names().len() != count {
            failures.push(format!("{id}: {} bands != {count}", img.count));
            continue;
        }
        // mask: the union of the masks of the bands read
        let n = img.width;
        let want_mask: Vec<u8> = (0..n)
            .map(|i| if masked.iter().any(|&(b, j)| j == i && e.bands().contains(&(b + 1))) { 0 } else { 255 })
            .collect();
        if (0..count).any(|b| img.band_mask[b * n..(b + 1) * n] != want_mask[..]) {
            failures.push(format!("{id}: mask {:?} != {want_mask:?}", img.band_mask));
        }
        let want = case["values"].as_array().unwrap();
        for (i, w) in want.iter().enumerate() {
            let (g, w) = (img.data.get_f64(i), num(w));
            if !same(g, w) {
                failures.push(format!(
                    "{id}: value {i} (inputs {:?}): {g:e} != {w:e}",
                    inputs.iter().map(|b| b[i % n]).collect::<Vec<_>>()
                ));
                break;
            }
        }
    }
    assert!(checked > 1000, "only {checked} cases");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

async fn open(source: &str) -> Reader {
    let path = imbrex_testkit::raster(source);
    let src: Arc<dyn RangeSource> = Arc::new(LocalSource::open(&path).unwrap());
    Reader::open(src, &OpenOptions::default()).await.unwrap_or_else(|e| panic!("{source}: {e}"))
}

fn unpack(b64: &str) -> Vec<u8> {
    let z = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(&z[..]).read_to_end(&mut out).unwrap();
    out
}

fn values(raw: &[u8], dtype: &str) -> Vec<f64> {
    match dtype {
        "bool" => raw.iter().map(|&b| b as f64).collect(),
        "int32" => raw.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
        "int64" => raw.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
        "float32" => raw.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
        "float64" => raw.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect(),
        d => panic!("dtype {d}"),
    }
}

fn rle(mask: &[u8]) -> Vec<u64> {
    let mut runs = Vec::new();
    let (mut cur, mut n) = (false, 0u64);
    for &m in mask {
        let masked = m == 0;
        if masked == cur {
            n += 1;
        } else {
            runs.push(n);
            cur = masked;
            n = 1;
        }
    }
    runs.push(n);
    runs
}

/// A reference result against an imbrex result.
fn compare(id: &str, case: &Value, img: &ImageData, t: ExprType, failures: &mut Vec<String>) {
    let dtype = case["dtype"].as_str().unwrap();
    if t.name() != dtype {
        failures.push(format!("{id}: dtype {} != {dtype}", t.name()));
        return;
    }
    if let Err(m) = check_storage(img, dtype) {
        failures.push(format!("{id}: {m}"));
        return;
    }
    let shape: Vec<usize> = case["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    if [img.count, img.height, img.width] != shape[..] {
        failures.push(format!("{id}: shape {:?} != {shape:?}", [img.count, img.height, img.width]));
        return;
    }
    let strings =
        |v: &Value| -> Vec<String> { v.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect() };
    if img.band_descriptions != strings(&case["band_descriptions"]) {
        failures.push(format!("{id}: descriptions {:?} != {}", img.band_descriptions, case["band_descriptions"]));
    }
    if img.band_names != strings(&case["band_names"]) {
        failures.push(format!("{id}: names {:?} != {}", img.band_names, case["band_names"]));
    }
    let n = img.width * img.height;
    let want_mask: Vec<u64> = case["mask"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    for b in 0..img.count {
        let got = rle(&img.band_mask[b * n..(b + 1) * n]);
        if got != want_mask {
            failures.push(format!("{id}: band {b} mask runs {got:?} != {want_mask:?}"));
        }
    }
    let want = values(&unpack(case["values"].as_str().unwrap()), dtype);
    let mut bad = 0;
    for (i, &w) in want.iter().enumerate() {
        let g = img.data.get_f64(i);
        if !same(g, w) {
            if bad == 0 {
                failures.push(format!("{id}: value {i} (band {}, pixel {}): {g:e} != {w:e}", i / n, i % n));
            }
            bad += 1;
        }
    }
    if bad > 1 {
        failures.push(format!("{id}: {bad} values differ"));
    }
}

/// rio-tiler's read of a source (every band), as an `ImageData`.
fn source_image(src: &Value) -> ImageData {
    let dtype = src["dtype"].as_str().unwrap();
    let shape: Vec<usize> = src["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    let raw = unpack(src["values"].as_str().unwrap());
    let dt: DataType = dtype.parse().unwrap();
    let size = dt.size();
    let flat: Vec<f64> = raw
        .chunks_exact(size)
        .map(|c| match dt {
            DataType::Uint8 => c[0] as f64,
            DataType::Uint16 => u16::from_le_bytes(c.try_into().unwrap()) as f64,
            DataType::Int16 => i16::from_le_bytes(c.try_into().unwrap()) as f64,
            DataType::Float32 => f32::from_le_bytes(c.try_into().unwrap()) as f64,
            d => panic!("no {d} source"),
        })
        .collect();
    let mut band_mask = Vec::with_capacity(flat.len());
    for runs in src["masks"].as_array().unwrap() {
        for (i, r) in runs.as_array().unwrap().iter().enumerate() {
            let v = if i % 2 == 0 { 255 } else { 0 };
            band_mask.extend(std::iter::repeat_n(v, r.as_u64().unwrap() as usize));
        }
    }
    let (count, height, width) = (shape[0], shape[1], shape[2]);
    assert_eq!(band_mask.len(), count * height * width);
    ImageData {
        width,
        height,
        count,
        data: buffer(dt, &flat),
        band_mask,
        bounds: Bounds::new(0.0, 0.0, 1.0, 1.0),
        crs: None,
        band_names: (1..=count).map(|i| format!("b{i}")).collect(),
        band_descriptions: src["band_descriptions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect(),
        nodata: None,
        scales: vec![1.0; count],
        offsets: vec![0.0; count],
        alpha_mask: None,
    }
}

/// The band math on rio-tiler's own read of each raster: exact.
#[test]
fn rasters_match_rio_tiler_on_its_input() {
    let fx = fixture("rasters.json");
    let mut failures = Vec::new();
    for case in fx["cases"].as_array().unwrap() {
        let source = case["source"].as_str().unwrap();
        let text = case["expression"].as_str().unwrap();
        let id = format!("{source} '{text}'");
        let full = source_image(&fx["sources"][source]);
        let result = (|| {
            let e = Expression::parse(text, 1024)?;
            if case["dataset_statistics"].as_bool().unwrap() {
                e.check_float64()?;
            }
            let img = full.select_bands(&e.bands().iter().map(|b| b - 1).collect::<Vec<_>>());
            let t = e.output_type(img.dtype())?;
            Ok::<_, imbrex_raster::Error>((e.apply(&img)?, t))
        })();
        match (case.get("error"), result) {
            (Some(err), Ok(_)) => failures.push(format!("{id}: rio-tiler fails ({err}), imbrex does not")),
            (Some(_), Err(_)) => {}
            (None, Err(e)) => failures.push(format!("{id}: imbrex fails: {e}")),
            (None, Ok((img, t))) => compare(&id, case, &img, t, &mut failures),
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// End to end: imbrex's preview of the bands the expression names, then the band math.
/// Exact for lossless sources; for lossy ones (the JPEG `cog_rgb.tif`: imbrex and GDAL
/// decode differently, see `decode.rs`) only the dtype, shape, names and mask.
#[tokio::test]
async fn previews_match_rio_tiler() {
    let fx = fixture("rasters.json");
    let mut failures = Vec::new();
    let mut exact = 0;
    for case in fx["cases"].as_array().unwrap() {
        let source = case["source"].as_str().unwrap();
        let text = case["expression"].as_str().unwrap();
        let id = format!("{source} '{text}'");
        let reader = open(source).await;
        let max_size = case["max_size"].as_u64().unwrap() as usize;
        let result = async {
            let e = Expression::parse(text, 1024)?;
            // rio-tiler also evaluates the expression over the bands' STATISTICS_MINIMUM/MAXIMUM
            // (float64) when the dataset has them for every band read.
            if case["dataset_statistics"].as_bool().unwrap() {
                e.check_float64()?;
            }
            let opts = ReadOptions { indexes: Some(e.bands()), ..Default::default() };
            let img = reader.preview(imbrex_raster::OutputSize::max(max_size), &opts).await?;
            let t = e.output_type(img.dtype())?;
            Ok::<_, imbrex_raster::Error>((e.apply(&img)?, t))
        }
        .await;
        let (img, t) = match (case.get("error"), result) {
            (Some(err), Ok(_)) => {
                failures.push(format!("{id}: rio-tiler fails ({err}), imbrex does not"));
                continue;
            }
            (Some(_), Err(_)) => continue,
            (None, Err(e)) => {
                failures.push(format!("{id}: imbrex fails: {e}"));
                continue;
            }
            (None, Ok(r)) => r,
        };
        if fx["sources"][source]["lossy"].as_bool().unwrap() {
            let mut f = Vec::new();
            compare(&id, case, &img, t, &mut f);
            failures.extend(f.into_iter().filter(|m| !m.contains("value")));
        } else {
            exact += 1;
            compare(&id, case, &img, t, &mut failures);
        }
    }
    assert!(exact > 20, "only {exact} exact cases");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
