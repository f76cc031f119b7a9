//! TiTiler's algorithms and rio-tiler's colour formulas against references made by
//! `tools/gen_algorithm_fixtures.py` (titiler.core 2.4.0, rio-tiler 9.4.12, numpy 2.4) on
//! the same tiles: DEM float32 (`dem.tif`) and int16 (`cog_int16.tif`) read with a 3 px
//! buffer, RGB uint16 (`rgb.tif`) and uint8 (`TCI.tif`).
//!
//! Compared exactly: the input tile (so a failure is the algorithm's, not the reader's),
//! then every output's dtype, shape, bounds, band descriptions, per-band mask, the bytes of
//! the valid values and the bytes of *all* values (what numpy.ma leaves under the mask).
//! No tolerance: the references were computed on numpy's libm path, which imbrex's libm
//! calls reproduce; the generator also records how far numpy's AVX-512 (SVML) path drifts
//! from it on these tiles (`native_spread`), and that is zero for every case here.
//!
//! Errors: where TiTiler raises while applying, imbrex returns an error too.

use std::sync::Arc;

use imbrex_raster::algorithm::Algorithm;
use imbrex_raster::render::formula::ColorFormula;
use imbrex_raster::source::{LocalSource, RangeSource};
use imbrex_raster::{Buffer, ImageData, OpenOptions, ReadOptions, Reader};
use imbrex_tms::{Tile, TileMatrixSets};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn fixture(name: &str) -> Value {
    let path = imbrex_testkit::manifest_dir().join("tests/fixtures/algorithms").join(name);
    imbrex_testkit::read_json(&path)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Little-endian bytes of samples `i` for which `keep(i)`.
fn bytes(data: &Buffer, keep: impl Fn(usize) -> bool) -> Vec<u8> {
    let mut out = Vec::new();
    for i in (0..data.len()).filter(|&i| keep(i)) {
        match data {
            Buffer::Uint8(v) => out.extend(v[i].to_le_bytes()),
            Buffer::Int8(v) => out.extend(v[i].to_le_bytes()),
            Buffer::Uint16(v) => out.extend(v[i].to_le_bytes()),
            Buffer::Int16(v) => out.extend(v[i].to_le_bytes()),
            Buffer::Uint32(v) => out.extend(v[i].to_le_bytes()),
            Buffer::Int32(v) => out.extend(v[i].to_le_bytes()),
            Buffer::Float32(v) => out.extend(v[i].to_le_bytes()),
            Buffer::Float64(v) => out.extend(v[i].to_le_bytes()),
        }
    }
    out
}

/// The same image's bytes when numpy's dtype is a 64-bit integer imbrex holds as float64.
fn bytes_as(data: &Buffer, dtype: &str, keep: impl Fn(usize) -> bool) -> Vec<u8> {
    match dtype {
        "int64" => (0..data.len()).filter(|&i| keep(i)).flat_map(|i| (data.get_f64(i) as i64).to_le_bytes()).collect(),
        "uint64" => (0..data.len()).filter(|&i| keep(i)).flat_map(|i| (data.get_f64(i) as u64).to_le_bytes()).collect(),
        _ => bytes(data, keep),
    }
}

fn runs(mask: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    let (mut cur, mut n) = (true, 0u64);
    for &m in mask {
        let v = m != 0;
        if v == cur {
            n += 1;
        } else {
            out.push(n);
            cur = v;
            n = 1;
        }
    }
    out.push(n);
    out
}

async fn inputs(spec: &Value) -> Vec<(String, ImageData)> {
    let wm = TileMatrixSets::default().get("WebMercatorQuad").unwrap();
    let mut out = Vec::new();
    for (name, s) in spec.as_object().unwrap() {
        let path = imbrex_testkit::raster(s["file"].as_str().unwrap());
        let src: Arc<dyn RangeSource> = Arc::new(LocalSource::open(&path).unwrap());
        let reader = Reader::open(src, &OpenOptions::default()).await.unwrap();
        let t: Vec<u64> = s["tile"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        let opts = ReadOptions { buffer: s["buffer"].as_f64().unwrap(), ..Default::default() };
        let img = reader.tile(&wm, Tile::new(t[0], t[1], t[2] as i32), None, &opts).await.unwrap();
        out.push((name.clone(), img));
    }
    out
}

/// Differences between an image and its reference record (empty when identical).
fn compare(img: &ImageData, r: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    let shape: Vec<usize> = r["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    if shape != [img.count, img.height, img.width] {
        diffs.push(format!("shape {:?} != {shape:?}", [img.count, img.height, img.width]));
        return diffs;
    }
    let dtype = r["dtype"].as_str().unwrap();
    let expected_dtype = match dtype {
        "int64" | "uint64" => "float64",
        d => d,
    };
    if img.dtype().name() != expected_dtype {
        diffs.push(format!("dtype {} != {dtype}", img.dtype()));
    }
    let descriptions: Vec<&str> =
        r["band_descriptions"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    if img.band_descriptions != descriptions {
        diffs.push(format!("band descriptions {:?} != {descriptions:?}", img.band_descriptions));
    }
    let b = img.bounds;
    let bounds: Vec<f64> = r["bounds"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    if [b.left, b.bottom, b.right, b.top] != bounds[..] {
        diffs.push(format!("bounds {b:?} != {bounds:?}"));
    }
    let n = img.width * img.height;
    for (band, want) in r["mask_runs"].as_array().unwrap().iter().enumerate() {
        let want: Vec<u64> = want.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        if runs(&img.band_mask[band * n..(band + 1) * n]) != want {
            diffs.push(format!("band {band} mask differs"));
        }
    }
    let valid = hex(&Sha256::digest(bytes_as(&img.data, dtype, |i| img.band_mask[i] != 0)));
    if valid != r["sha256_valid"].as_str().unwrap() {
        diffs.push("valid values differ".into());
    }
    let all = hex(&Sha256::digest(bytes_as(&img.data, dtype, |_| true)));
    if all != r["sha256_all"].as_str().unwrap() {
        diffs.push("values under the mask differ".into());
    }
    if !diffs.is_empty() {
        for s in r["samples"].as_array().unwrap() {
            let (b, y, x) =
                (s[0].as_u64().unwrap() as usize, s[1].as_u64().unwrap() as usize, s[2].as_u64().unwrap() as usize);
            let got = img.data.get_f64(b * n + y * img.width + x);
            diffs.push(format!(
                "  sample b{b} ({y}, {x}): {got} vs {} (valid {} vs {})",
                s[3],
                img.band_mask[b * n + y * img.width + x] != 0,
                s[4]
            ));
        }
    }
    diffs
}

fn check_inputs(imgs: &[(String, ImageData)], spec: &Value) {
    for (name, img) in imgs {
        let d = compare(img, &spec[name]);
        assert!(d.is_empty(), "input {name} differs from rio-tiler's: {d:?}");
    }
}

#[tokio::test]
async fn algorithms_match_titiler() {
    let fx = fixture("algorithms.json");
    let imgs = inputs(&fx["inputs"]).await;
    check_inputs(&imgs, &fx["inputs"]);
    let mut failures = Vec::new();
    let cases = fx["cases"].as_array().unwrap();
    for c in cases {
        let input = c["input"].as_str().unwrap();
        let img = &imgs.iter().find(|(n, _)| n == input).unwrap().1;
        let name = c["algorithm"].as_str().unwrap();
        let params = c["params"].as_str();
        let id = format!("{input} {name} {}", params.unwrap_or(""));
        let algo = Algorithm::new(name, params).unwrap_or_else(|e| panic!("{id}: {e}"));
        let got = algo.apply(img);
        match (got, c.get("error")) {
            (Err(_), Some(_)) => {}
            (Ok(_), Some(e)) => failures.push(format!("{id}: TiTiler fails ({e}), imbrex does not")),
            (Err(e), None) => failures.push(format!("{id}: {e}")),
            (Ok(out), None) => {
                let d = compare(&out, c);
                if !d.is_empty() {
                    failures.push(format!("{id}:\n    {}", d.join("\n    ")));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[tokio::test]
async fn color_formulas_match_rio_tiler() {
    let fx = fixture("color_formula.json");
    let imgs = inputs(&fx["inputs"]).await;
    check_inputs(&imgs, &fx["inputs"]);
    let mut failures = Vec::new();
    let cases = fx["cases"].as_array().unwrap();
    for c in cases {
        let input = c["input"].as_str().unwrap();
        let img = &imgs.iter().find(|(n, _)| n == input).unwrap().1;
        let formula = c["formula"].as_str().unwrap();
        let id = format!("{input} {formula:?}");
        let got = ColorFormula::parse(formula).and_then(|f| f.apply(img));
        match (got, c.get("error")) {
            (Err(_), Some(_)) => {}
            (Ok(_), Some(e)) => failures.push(format!("{id}: rio-tiler fails ({e}), imbrex does not")),
            (Err(e), None) => failures.push(format!("{id}: {e}")),
            (Ok(out), None) => {
                let d = compare(&out, c);
                if !d.is_empty() {
                    failures.push(format!("{id}:\n    {}", d.join("\n    ")));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

/// TiTiler's validator rejects what imbrex rejects; what it accepts, imbrex accepts, except
/// formulas that fail on every image when applied (imbrex refuses those up front).
#[test]
fn color_formula_validation_matches_titiler() {
    let fx = fixture("color_formula.json");
    let fails_when_applied = ["gamma RGB", "gamma RGB 0", "gamma RGB nan", "sigmoidal RGB 10", "sigmoidal RGB 10 2"];
    for s in fx["strings"].as_array().unwrap() {
        let text = s["formula"].as_str().unwrap();
        let valid = s["valid"].as_bool().unwrap() && !fails_when_applied.contains(&text);
        let got = ColorFormula::parse(text);
        assert_eq!(got.is_ok(), valid, "{text:?}: {got:?}");
    }
}

#[test]
fn algorithm_params_validation_matches_titiler() {
    for c in fixture("params.json").as_array().unwrap() {
        let (name, params) = (c["algorithm"].as_str().unwrap(), c["params"].as_str().unwrap());
        let got = Algorithm::new(name, Some(params));
        assert_eq!(got.is_ok(), c["valid"].as_bool().unwrap(), "{name} {params}: {got:?}");
    }
}

#[test]
fn metadata_matches_titiler() {
    let fx = fixture("metadata.json");
    let names: Vec<&str> = fx["names"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(Algorithm::names(), names);
    for name in names {
        assert_eq!(Algorithm::metadata(name).unwrap(), fx["metadata"][name], "{name}");
        // Same key order as TiTiler serves.
        assert_eq!(
            serde_json::to_string(&Algorithm::metadata(name).unwrap()).unwrap(),
            serde_json::to_string(&fx["metadata"][name]).unwrap(),
            "{name}"
        );
    }
    // The sample TiTiler served.
    let served = imbrex_testkit::read_json(&imbrex_testkit::reference("titiler/samples/algorithm_hillshade.json"));
    assert_eq!(Algorithm::metadata("hillshade").unwrap(), served);
    let list = imbrex_testkit::read_json(&imbrex_testkit::reference("titiler/samples/algorithms.json"));
    let ids: Vec<&str> = list["algorithms"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(Algorithm::names(), ids);
    assert!(Algorithm::metadata("nope").is_none());
}
