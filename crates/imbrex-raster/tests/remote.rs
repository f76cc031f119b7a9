//! The same rasters read from disk, from a real HTTP server on 127.0.0.1 (Range requests)
//! and from a real S3-compatible server on 127.0.0.1 (moto) give identical info, and the
//! number of requests is what a COG reader should spend: one for a cold header, none for a
//! warm one, one for a window of neighbouring blocks.
//!
//! Sidecars (`.ovr`, `.msk`) next to remote files are only looked for with
//! `remote_sidecars` (each look costs a request); with it, info is identical for all files.

use std::sync::Arc;

use imbrex_raster::source::{AccessPolicy, LocalSource, RangeSource, S3Config, SourceFactory};
use imbrex_raster::{OpenOptions, Reader, ReaderCache, ReaderCacheOptions};
use imbrex_testkit::http::RangeServer;
use imbrex_testkit::s3::MotoServer;

/// Shared rasters written in COG layout (all IFDs and tag arrays at the start of the file).
fn cog_layout_rasters() -> Vec<String> {
    imbrex_testkit::oracles()
        .into_iter()
        .filter(|(_, o)| o["dataset"]["image_structure"]["LAYOUT"] == "COG")
        .map(|(_, o)| o["source"].as_str().unwrap().to_string())
        .collect()
}

fn all_rasters() -> Vec<String> {
    imbrex_testkit::oracles().into_iter().map(|(_, o)| o["source"].as_str().unwrap().to_string()).collect()
}

async fn local_info(name: &str) -> serde_json::Value {
    let src: Arc<dyn RangeSource> = Arc::new(LocalSource::open(&imbrex_testkit::raster(name)).unwrap());
    serde_json::to_value(Reader::open(src, &OpenOptions::default()).await.unwrap().info()).unwrap()
}

#[tokio::test]
async fn http_info_equals_local_and_costs_one_request() {
    let server = RangeServer::start(imbrex_testkit::testdata("raster")).await;
    let factory = SourceFactory::new(AccessPolicy::allow_all());
    let with_sidecars = OpenOptions { remote_sidecars: true, ..Default::default() };
    for name in all_rasters() {
        let src = factory.open(&server.url(&name)).unwrap();
        let reader = Reader::open(src, &with_sidecars).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(serde_json::to_value(reader.info()).unwrap(), local_info(&name).await, "{name}: info over HTTP");
    }
    let cogs = cog_layout_rasters();
    assert!(cogs.len() >= 20, "{cogs:?}");
    for name in &cogs {
        server.reset();
        let src = factory.open(&server.url(name)).unwrap();
        Reader::open(src, &OpenOptions::default()).await.unwrap();
        let reqs = server.requests(name);
        assert_eq!(reqs.len(), 1, "{name}: a cold COG header is one request, got {reqs:?}");
        assert_eq!(reqs[0].range.as_deref(), Some("bytes=0-65535"));
    }
}

#[tokio::test]
async fn warm_headers_cost_nothing_and_neighbouring_blocks_merge() {
    let server = RangeServer::start(imbrex_testkit::testdata("raster")).await;
    let readers = ReaderCache::new(
        SourceFactory::new(AccessPolicy::allow_all()),
        OpenOptions::default(),
        ReaderCacheOptions::default(),
    );
    let url = server.url("cog_int16.tif");
    let first = readers.get(&url).await.unwrap();
    assert_eq!(server.requests("cog_int16.tif").len(), 1, "cold");
    let second = readers.get(&url).await.unwrap();
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(server.requests("cog_int16.tif").len(), 1, "warm: no new request");

    // A window spanning 2x2 blocks of 512 px: four blocks, contiguous in a COG, one request.
    server.reset();
    let ds = first.dataset();
    let buf = ds.read_window(0, 400, 400, 300, 300, &[0]).await.unwrap();
    assert_eq!(buf.len(), 300 * 300);
    let reqs = server.requests("cog_int16.tif");
    assert_eq!(reqs.len(), 1, "neighbouring blocks merged into one request: {reqs:?}");
    // Read again: decoded blocks are cached.
    ds.read_window(0, 400, 400, 300, 300, &[0]).await.unwrap();
    assert_eq!(server.requests("cog_int16.tif").len(), 1);

    // Missing files are NotFound, not a 5xx-ish failure.
    let missing = readers.get(&server.url("no-such.tif")).await.unwrap_err();
    assert!(matches!(missing, imbrex_raster::Error::NotFound { .. }), "{missing}");
}

#[tokio::test]
async fn s3_info_equals_local_and_costs_one_request() {
    let moto = MotoServer::start();
    moto.create_bucket("imbrex");
    let names = all_rasters();
    // Everything, sidecars included.
    for entry in std::fs::read_dir(imbrex_testkit::testdata("raster")).unwrap() {
        let path = entry.unwrap().path();
        let key = path.file_name().unwrap().to_string_lossy().into_owned();
        moto.put("imbrex", &key, &std::fs::read(&path).unwrap());
    }
    let s3 = S3Config {
        endpoint: Some(moto.endpoint()),
        region: Some("us-east-1".into()),
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
        session_token: None,
    };
    let factory = SourceFactory::new(AccessPolicy::new(&[], &["s3://imbrex/".into()]).unwrap()).with_s3(s3.clone());
    let with_sidecars = OpenOptions { remote_sidecars: true, ..Default::default() };
    for name in &names {
        let src = factory.open(&format!("s3://imbrex/{name}")).unwrap();
        let reader = Reader::open(src, &with_sidecars).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(serde_json::to_value(reader.info()).unwrap(), local_info(name).await, "{name}: info over S3");
    }
    for name in cog_layout_rasters() {
        let src = factory.open(&format!("s3://imbrex/{name}")).unwrap();
        let reader = Reader::open(src, &OpenOptions::default()).await.unwrap();
        assert_eq!(reader.dataset().source().stats().requests(), 1, "{name}: one request for a cold COG header");
    }
    // Warm: the reader cache serves the header.
    let readers = ReaderCache::new(
        SourceFactory::new(AccessPolicy::allow_all()).with_s3(s3),
        OpenOptions::default(),
        ReaderCacheOptions::default(),
    );
    let a = readers.get("s3://imbrex/cog_int16.tif").await.unwrap();
    let b = readers.get("s3://imbrex/cog_int16.tif").await.unwrap();
    assert_eq!(b.dataset().source().stats().requests(), 1);
    assert!(Arc::ptr_eq(&a, &b));
    // Policy: other buckets are refused; missing keys are NotFound.
    assert!(matches!(factory.open("s3://other/x.tif"), Err(imbrex_raster::Error::Forbidden { .. })));
    let missing =
        Reader::open(factory.open("s3://imbrex/missing.tif").unwrap(), &OpenOptions::default()).await.unwrap_err();
    assert!(matches!(missing, imbrex_raster::Error::NotFound { .. }), "{missing}");
}
