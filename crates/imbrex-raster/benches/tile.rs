//! One WebMercatorQuad tile from a local COG, at an overview and at full resolution, for
//! uint8 RGB JPEG (`usda_naip_512_jpeg_z5.tif`, 8192 x 16384) and float32 DEFLATE
//! (`benches/data/dem_f32_deflate.tif`, made by `tools/gen_bench_data.py`), broken down:
//!
//! - `fetch`: reading the byte ranges the tile needs from the file (page cache warm);
//! - `decode`: decompressing the blocks those ranges hold;
//! - `warm`: the whole tile with its blocks already decoded in the block cache: the warp
//!   (or decimation), masks and assembly, i.e. what remains of a tile once bytes are in;
//! - `cold`: the whole tile from an empty block cache (fetch + decode + warp).
//!
//! `cargo bench -p imbrex-raster --bench tile`

use std::hint::black_box;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use imbrex_raster::source::{Fetched, LocalSource, RangeSource, SourceStats};
use imbrex_raster::tiff::decode::decode_block;
use imbrex_raster::{Dataset, OpenOptions, ReadOptions, Reader};
use imbrex_tms::{Tile, TileMatrixSet, TileMatrixSets};

/// A local source that remembers the ranges it served.
#[derive(Debug)]
struct Recording {
    inner: LocalSource,
    ranges: Mutex<Vec<Range<u64>>>,
}

#[async_trait]
impl RangeSource for Recording {
    fn id(&self) -> &str {
        self.inner.id()
    }
    async fn fetch(&self, range: Range<u64>) -> imbrex_raster::Result<Fetched> {
        self.ranges.lock().unwrap().push(range.clone());
        self.inner.fetch(range).await
    }
    fn stats(&self) -> &SourceStats {
        self.inner.stats()
    }
}

struct Case {
    name: String,
    path: PathBuf,
    tms: Arc<TileMatrixSet>,
    tile: Tile,
}

fn cases() -> Vec<Case> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tms = TileMatrixSets::default().get("WebMercatorQuad").unwrap();
    let files = [
        ("rgb_jpeg", imbrex_testkit::raster("usda_naip_512_jpeg_z5.tif")),
        ("dem_f32_deflate", imbrex_testkit::manifest_dir().join("benches/data/dem_f32_deflate.tif")),
    ];
    let mut out = Vec::new();
    for (name, path) in files {
        let reader = rt.block_on(open(&path, &OpenOptions::default()));
        let (minz, maxz) = reader.zoom_range(&tms);
        let b = reader.geographic_bounds();
        let (lon, lat) = ((b.left + b.right) / 2.0, (b.bottom + b.top) / 2.0);
        for (kind, z) in [("overview", minz), ("full", maxz)] {
            let tile = tms.tile(lon, lat, z).unwrap();
            out.push(Case { name: format!("{name}/{kind}_z{z}"), path: path.clone(), tms: tms.clone(), tile });
        }
    }
    out
}

async fn open(path: &Path, open: &OpenOptions) -> Reader {
    let src: Arc<dyn RangeSource> = Arc::new(LocalSource::open(path).unwrap());
    Reader::open(src, open).await.unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let opts = ReadOptions::default();
    let open_opts = OpenOptions::default();
    for case in cases() {
        let mut g = c.benchmark_group(&case.name);
        // Which byte ranges (and so which blocks) the tile needs.
        let recording =
            Arc::new(Recording { inner: LocalSource::open(&case.path).unwrap(), ranges: Mutex::new(Vec::new()) });
        // Its own (empty) block cache: every block is fetched.
        let reader = rt.block_on(Reader::open(recording.clone(), &OpenOptions::default())).unwrap();
        recording.ranges.lock().unwrap().clear();
        rt.block_on(reader.tile(&case.tms, case.tile, None, &opts)).unwrap();
        let ranges = recording.ranges.lock().unwrap().clone();

        let local = LocalSource::open(&case.path).unwrap();
        g.bench_function("fetch", |b| {
            b.iter(|| {
                for r in &ranges {
                    black_box(rt.block_on(local.fetch(r.clone())).unwrap());
                }
            })
        });

        // Blocks held by the fetched ranges, with their bytes.
        let Dataset::Tiff(tif) = reader.dataset().as_ref() else { panic!("a GeoTIFF") };
        let mut blocks = Vec::new();
        for level in &tif.levels {
            let img = &level.image;
            for index in 0..img.offsets.len() {
                let Some(br) = img.block_range(index) else { continue };
                if ranges.iter().any(|r| r.start <= br.start && br.end <= r.end) {
                    let bytes = rt.block_on(local.fetch(br)).unwrap().bytes;
                    let per_plane = (img.blocks_across() * img.blocks_down()) as usize;
                    let by = ((index % per_plane) / img.blocks_across() as usize) as u32;
                    blocks.push((img.clone(), bytes, by));
                }
            }
        }
        g.bench_function(format!("decode_{}_blocks", blocks.len()), |b| {
            b.iter(|| {
                for (img, bytes, by) in &blocks {
                    black_box(decode_block(img, bytes, *by, "bench").unwrap());
                }
            })
        });

        let reader = rt.block_on(open(&case.path, &open_opts));
        rt.block_on(reader.tile(&case.tms, case.tile, None, &opts)).unwrap();
        g.bench_function("warm", |b| {
            b.iter(|| black_box(rt.block_on(reader.tile(&case.tms, case.tile, None, &opts)).unwrap()))
        });
        g.bench_function("cold", |b| {
            b.iter(|| {
                open_opts.blocks.clear();
                black_box(rt.block_on(reader.tile(&case.tms, case.tile, None, &opts)).unwrap())
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
