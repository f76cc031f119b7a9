//! Tile math and CRS transform throughput.
//!
//! `cargo bench -p imbrex-tms` — figures go in the issue notes.

use criterion::{Criterion, criterion_group, criterion_main};
use imbrex_tms::{Crs, Tile, TileMatrixSets, Transformer};
use std::hint::black_box;

fn tile_math(c: &mut Criterion) {
    let sets = TileMatrixSets::default();
    let wm = sets.get("WebMercatorQuad").unwrap();
    let nz = sets.get("NZTM2000Quad").unwrap();
    c.bench_function("WebMercatorQuad tile(lon, lat, 14)", |b| {
        b.iter(|| wm.tile(black_box(-105.2), black_box(40.01), 14).unwrap())
    });
    c.bench_function("WebMercatorQuad xy_bounds", |b| {
        b.iter(|| wm.xy_bounds(black_box(Tile::new(3413, 6202, 14))).unwrap())
    });
    c.bench_function("WebMercatorQuad bounds (geographic)", |b| {
        b.iter(|| wm.bounds(black_box(Tile::new(3413, 6202, 14))).unwrap())
    });
    c.bench_function("NZTM2000Quad tile(lon, lat, 10) (proj4rs tmerc)", |b| {
        b.iter(|| nz.tile(black_box(174.7), black_box(-41.3), 10).unwrap())
    });
}

fn transform_65536(c: &mut Criterion) {
    let n = 256;
    let (mut xs0, mut ys0) = (Vec::with_capacity(n * n), Vec::with_capacity(n * n));
    for j in 0..n {
        for i in 0..n {
            xs0.push(-10.0 + 20.0 * i as f64 / n as f64);
            ys0.push(35.0 + 20.0 * j as f64 / n as f64);
        }
    }
    let wgs84 = Crs::wgs84();
    for (name, dst) in [
        ("EPSG:4326 -> EPSG:3857 (closed form)", Crs::web_mercator()),
        ("EPSG:4326 -> EPSG:32631 (UTM, proj4rs)", Crs::from_epsg(32631).unwrap()),
        ("EPSG:4326 -> EPSG:3035 (LAEA, proj4rs)", Crs::from_epsg(3035).unwrap()),
        ("EPSG:4326 -> EPSG:2056 (somerc + Helmert, proj4rs)", Crs::from_epsg(2056).unwrap()),
    ] {
        let t = Transformer::new(&wgs84, &dst).unwrap();
        c.bench_function(&format!("transform 65,536 points {name}"), |b| {
            b.iter_batched(
                || (xs0.clone(), ys0.clone()),
                |(mut xs, mut ys)| {
                    t.transform_in_place(&mut xs, &mut ys);
                    (xs, ys)
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
}

criterion_group!(benches, tile_math, transform_65536);
criterion_main!(benches);
