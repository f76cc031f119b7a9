//! Test helpers shared by every imbrex crate: where the shared test data lives.
//!
//! The data sits beside the repository in `../shared` (rasters, oracle outputs, reference
//! documents). `IMBREX_SHARED_DIR` overrides the location. A missing folder is a loud
//! failure, never a skipped test.

pub mod npy;

use std::path::{Path, PathBuf};

/// The `shared` folder holding `testdata/` and `reference/`.
pub fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("IMBREX_SHARED_DIR") {
        return PathBuf::from(dir);
    }
    // crates/<crate>/ -> repository root -> its sibling `shared`.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().and_then(Path::parent).expect("testkit lives in <root>/crates/imbrex-testkit");
    for candidate in [root.join("../shared"), root.join("shared")] {
        if candidate.join("testdata").is_dir() {
            return candidate.canonicalize().unwrap_or(candidate);
        }
    }
    panic!(
        "shared test data not found next to {} (expected ../shared/testdata); set IMBREX_SHARED_DIR",
        root.display()
    );
}

/// A path under `shared/testdata/`.
pub fn testdata(rel: &str) -> PathBuf {
    existing(shared_dir().join("testdata").join(rel))
}

/// A path under `shared/reference/`.
pub fn reference(rel: &str) -> PathBuf {
    existing(shared_dir().join("reference").join(rel))
}

/// A raster of `shared/testdata/raster/`.
pub fn raster(name: &str) -> PathBuf {
    testdata(&format!("raster/{name}"))
}

/// Read and parse a JSON file, panicking with the path on failure.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn existing(path: PathBuf) -> PathBuf {
    assert!(path.exists(), "test data missing: {}", path.display());
    path
}

/// Every oracle record: `(name, oracle.json)`, sorted by name.
pub fn oracles() -> Vec<(String, serde_json::Value)> {
    let dir = testdata("oracle");
    let mut out: Vec<(String, serde_json::Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| {
            let dir = e.ok()?.path();
            let path = dir.join("oracle.json");
            let name = dir.file_name()?.to_string_lossy().into_owned();
            path.exists().then(|| (name, read_json(&path)))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 40, "expected the shared oracle records, found {}", out.len());
    out
}

/// A number from oracle JSON, where non-finite values are written as strings.
pub fn num(v: &serde_json::Value) -> f64 {
    match v {
        serde_json::Value::Number(n) => n.as_f64().expect("number"),
        serde_json::Value::String(s) if s == "nan" => f64::NAN,
        serde_json::Value::String(s) if s == "inf" => f64::INFINITY,
        serde_json::Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        serde_json::Value::Null => f64::NAN,
        other => panic!("not a number: {other}"),
    }
}

/// `a` equals `b` within `rel` relative tolerance (or `abs` absolute), NaN equal to NaN.
pub fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    a == b || (a - b).abs() <= abs.max(rel * b.abs())
}

pub mod http;
pub mod s3;
