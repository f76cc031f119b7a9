//! Test helpers shared by every imbrex crate: where the test data lives.
//!
//! Rasters, vector fixtures and reference documents are in the repository's `testdata/`.
//! The rio-tiler oracle is generated from the rasters by `scripts/oracle` into a cache
//! folder keyed by what it is made from, and found here the same way (or through
//! `IMBREX_ORACLE_DIR`). `IMBREX_SHARED_DIR` points everything at another copy laid out
//! as `testdata/{raster,vector,oracle}` and `reference/`. Missing data is a loud failure,
//! never a skipped test.

pub mod npy;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// The repository root.
/// The directory of the package under test, read at run time (cargo and nextest set
/// `CARGO_MANIFEST_DIR` when they run a test or bench). Not `env!`: a target directory shared
/// between clones (CI's) reuses a binary compiled in another clone when the sources are the
/// same, and its compile-time path points into that other clone.
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

fn repo_root() -> PathBuf {
    // crates/<crate>/ -> repository root.
    let manifest = manifest_dir();
    manifest.parent().and_then(Path::parent).expect("tests live in <root>/crates/<crate>").to_path_buf()
}

/// `IMBREX_SHARED_DIR`, when set.
fn shared_override() -> Option<PathBuf> {
    std::env::var_os("IMBREX_SHARED_DIR").map(PathBuf::from)
}

/// The folder holding `raster/`, `vector/` (and, for a shared copy, `oracle/`).
fn testdata_dir() -> PathBuf {
    match shared_override() {
        Some(dir) => dir.join("testdata"),
        None => repo_root().join("testdata"),
    }
}

/// The oracle folder: `IMBREX_ORACLE_DIR`, the shared copy's, or the cache folder
/// `scripts/oracle` makes for the current rasters.
pub fn oracle_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("IMBREX_ORACLE_DIR") {
            return PathBuf::from(dir);
        }
        if let Some(dir) = shared_override() {
            return dir.join("testdata/oracle");
        }
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .expect("HOME or XDG_CACHE_HOME is set");
        let dir = cache.join("imbrex-oracle").join(oracle_key());
        assert!(
            dir.join(".complete").exists(),
            "the rio-tiler oracle for these rasters is not in {}: run scripts/oracle (scripts/test does)",
            dir.display()
        );
        dir
    })
    .clone()
}

/// What `scripts/oracle` names the oracle folder after: the first 16 hex digits of the
/// SHA-256 of `sha256sum`'s listing of the pinned versions, the generator and every raster
/// (C-locale order).
pub fn oracle_key() -> String {
    let root = repo_root();
    let mut files: Vec<String> = vec!["scripts/lib/rio-venv.sh".into(), "tools/make_oracle.py".into()];
    let mut rasters: Vec<String> = std::fs::read_dir(root.join("testdata/raster"))
        .expect("testdata/raster")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| format!("testdata/raster/{}", e.file_name().to_string_lossy()))
        .collect();
    rasters.sort();
    files.extend(rasters);
    let mut listing = String::new();
    for f in &files {
        let bytes = std::fs::read(root.join(f)).unwrap_or_else(|e| panic!("reading {f}: {e}"));
        listing.push_str(&format!("{:x}  {f}\n", Sha256::digest(&bytes)));
    }
    format!("{:x}", Sha256::digest(listing.as_bytes()))[..16].to_string()
}

/// A path under the test data: `raster/...`, `vector/...`, or `oracle/...` (the oracle
/// folder, wherever it is).
pub fn testdata(rel: &str) -> PathBuf {
    match rel.strip_prefix("oracle") {
        Some("") => existing(oracle_dir()),
        Some(rest) if rest.starts_with('/') => existing(oracle_dir().join(&rest[1..])),
        _ => existing(testdata_dir().join(rel)),
    }
}

/// A reference document (`testdata/reference/`, or the shared copy's `reference/`).
pub fn reference(rel: &str) -> PathBuf {
    let dir = match shared_override() {
        Some(dir) => dir.join("reference"),
        None => repo_root().join("testdata/reference"),
    };
    existing(dir.join(rel))
}

/// A raster of `testdata/raster/`.
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

pub mod faults;
pub mod http;
pub mod s3;
