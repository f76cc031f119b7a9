//! Datasets made of several files, checked against the same files read one by one through
//! `/cog`: `/algebra` layers and STAC assets stack the files' own tiles band after band;
//! a MosaicJSON's pixel selection equals arrays combined here from the single-file tiles;
//! and a mosaic of 200 generated COGs on a real HTTP server opens only what a tile needs.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use axum::http::StatusCode;
use common::{Scratch, app_with, enc, get};
use imbrex_server::Config;
use imbrex_testkit::http::RangeServer;
use imbrex_testkit::npy::Npy;
use imbrex_tms::{Bounds, TileMatrixSets};
use serde_json::json;

fn raster(name: &str) -> String {
    imbrex_testkit::raster(name).to_str().unwrap().to_string()
}

fn app(extra: &[&Path]) -> axum::Router {
    let mut allow_path = vec![imbrex_testkit::testdata("raster")];
    allow_path.extend(extra.iter().map(|p| p.to_path_buf()));
    app_with(Config { allow_path, ..Default::default() })
}

/// A tile as bands and the merged mask (the last plane of TiTiler's NPY output: the type's
/// maximum where valid, its minimum elsewhere).
struct Tile {
    bands: Vec<Vec<f64>>,
    mask: Vec<bool>,
}

async fn npy(app: &axum::Router, uri: &str) -> Tile {
    let r = get(app, uri).await;
    assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text());
    let a = Npy::parse(&r.body).unwrap();
    let (count, n) = (a.shape[0], a.shape[1] * a.shape[2]);
    let plane = |i: usize| a.values[i * n..(i + 1) * n].to_vec();
    Tile { bands: (0..count - 1).map(plane).collect(), mask: plane(count - 1).iter().map(|&m| m > 0.0).collect() }
}

/// `/cog` tile of one file.
async fn cog_tile(app: &axum::Router, path: &str, z: u32, x: u32, y: u32) -> Tile {
    npy(app, &format!("/cog/tiles/WebMercatorQuad/{z}/{x}/{y}.npy?url={}", enc(path))).await
}

/// A tile of WebMercatorQuad at `z` over the middle of a file.
async fn middle_tile(app: &axum::Router, path: &str, z: i32) -> (u32, u32, u32) {
    let r = get(app, &format!("/cog/info.geojson?url={}", enc(path))).await;
    let b = r.json()["bbox"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect::<Vec<_>>();
    let tms = TileMatrixSets::default().get("WebMercatorQuad").unwrap();
    let t = tms.tile((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0, z).unwrap();
    (z as u32, t.x as u32, t.y as u32)
}

/// `got` has the mask `want_mask` and, where it is valid, the values `want`.
fn assert_same(got: &Tile, want_bands: &[Vec<f64>], want_mask: &[bool], what: &str) {
    assert_same_where(got, want_bands, want_mask, want_mask, what)
}

/// As [`assert_same`], values compared only where `compare` is true.
fn assert_same_where(got: &Tile, want_bands: &[Vec<f64>], want_mask: &[bool], compare: &[bool], what: &str) {
    assert_eq!(got.bands.len(), want_bands.len(), "{what}: band count");
    let wrong = got.mask.iter().zip(want_mask).filter(|(a, b)| a != b).count();
    assert_eq!(wrong, 0, "{what}: {wrong} pixels with the wrong mask");
    let mut checked = 0;
    for (b, (g, w)) in got.bands.iter().zip(want_bands).enumerate() {
        for i in 0..g.len() {
            if want_mask[i] && compare[i] {
                assert!(
                    (g[i] - w[i]).abs() <= 1e-9 * w[i].abs().max(1.0),
                    "{what}: band {b} pixel {i}: {} vs {}",
                    g[i],
                    w[i]
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "{what}: no valid pixel compared");
}

fn and(masks: &[&[bool]]) -> Vec<bool> {
    (0..masks[0].len()).map(|i| masks.iter().all(|m| m[i])).collect()
}

#[tokio::test]
async fn algebra_layers_are_each_files_own_tiles_stacked() {
    let scratch = Scratch::new("multi-algebra");
    let app = app(&[&scratch.0]);
    let (red, green, blue) = (raster("red.tif"), raster("green.tif"), raster("blue.tif"));
    let (z, x, y) = middle_tile(&app, &red, 7).await;
    let files = [
        cog_tile(&app, &red, z, x, y).await,
        cog_tile(&app, &green, z, x, y).await,
        cog_tile(&app, &blue, z, x, y).await,
    ];
    let layers = enc(&format!("r={red},g={green},b={blue}"));
    let got =
        npy(&app, &format!("/algebra/tiles/WebMercatorQuad/{z}/{x}/{y}.npy?layers={layers}&expression=r;g;b")).await;
    let want: Vec<Vec<f64>> = files.iter().map(|f| f.bands[0].clone()).collect();
    let mask = and(&[&files[0].mask, &files[1].mask, &files[2].mask]);
    assert_same(&got, &want, &mask, "r;g;b");

    // Band math over layer names is band math over the files' values.
    let got = npy(
        &app,
        &format!("/algebra/tiles/WebMercatorQuad/{z}/{x}/{y}.npy?layers={layers}&expression={}", enc("(r-g)/(r+g)")),
    )
    .await;
    let (r, g) = (&files[0].bands[0], &files[1].bands[0]);
    let mask = and(&[&files[0].mask, &files[1].mask]);
    let want: Vec<f64> = (0..r.len()).map(|i| (r[i] - g[i]) / (r[i] + g[i])).collect();
    // numexpr's 0/0 is NaN, which rio-tiler turns into 0: compare finite ratios.
    let finite: Vec<bool> = want.iter().map(|w| w.is_finite()).collect();
    assert_same_where(&got, &[want], &mask, &finite, "(r-g)/(r+g)");

    // A layer in another CRS is reprojected on its own: write red.tif in EPSG:4326 and
    // stack it with the UTM original; each band is its own file's tile.
    let r = get(&app, &format!("/cog/preview.tif?url={}&dst_crs=EPSG:4326&max_size=512&return_mask=false", enc(&red)))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let geo = scratch.0.join("red_4326.tif");
    std::fs::write(&geo, &r.body).unwrap();
    let geo = geo.to_str().unwrap().to_string();
    let info = get(&app, &format!("/cog/info?url={}", enc(&geo))).await.json();
    assert_eq!(info["crs"], "http://www.opengis.net/def/crs/EPSG/0/4326");
    let other = cog_tile(&app, &geo, z, x, y).await;
    let layers = enc(&format!("a={red},b={geo}"));
    let got =
        npy(&app, &format!("/algebra/tiles/WebMercatorQuad/{z}/{x}/{y}.npy?layers={layers}&expression=a;b")).await;
    let mask = and(&[&files[0].mask, &other.mask]);
    assert_same(&got, &[files[0].bands[0].clone(), other.bands[0].clone()], &mask, "UTM + EPSG:4326 layers");

    // A box without a size: the layers' resolutions differ, the first one's grid is used.
    let b = get(&app, &format!("/cog/info?url={}", enc(&geo))).await.json()["bounds"].clone();
    let bbox = format!("{},{},{},{}", b[0], b[1], b[2], b[3]);
    let got = npy(&app, &format!("/algebra/bbox/{bbox}.npy?layers={layers}&expression=a;b&coord_crs=EPSG:4326")).await;
    let alone = npy(&app, &format!("/cog/bbox/{bbox}.npy?url={}&coord_crs=EPSG:4326", enc(&red))).await;
    assert_eq!(got.bands.len(), 2);
    assert_eq!(got.bands[0].len(), alone.bands[0].len(), "the first layer's grid");
    let both: Vec<bool> = got.mask.clone();
    assert_same_where(
        &Tile { bands: vec![got.bands[0].clone()], mask: got.mask.clone() },
        &[alone.bands[0].clone()],
        &got.mask,
        &both,
        "bbox: first layer",
    );

    // Every endpoint of the router exists.
    for path in
        ["/algebra/info", "/algebra/WebMercatorQuad/tilejson.json", "/algebra/statistics", "/algebra/preview.png"]
    {
        let r = get(&app, &format!("{path}?layers={layers}")).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
    }
    // Bad layers are 422s naming the parameter.
    for bad in ["", "b1%3Dx.tif", &format!("r={}&expression=nope", enc(&red))] {
        let r = get(&app, &format!("/algebra/tiles/WebMercatorQuad/{z}/{x}/{y}.png?layers={bad}")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "layers={bad}: {}", r.text());
    }
}

/// A STAC item over `red/green/blue.tif` written at `dir/items/item.json` with hrefs made by `href`.
fn write_item(dir: &Path, href: impl Fn(&str) -> String) -> String {
    let items = dir.join("items");
    std::fs::create_dir_all(&items).unwrap();
    let assets: serde_json::Map<String, serde_json::Value> = ["red", "green", "blue"]
        .iter()
        .map(|n| {
            (
                n.to_string(),
                json!({"href": href(n), "type": "image/tiff; application=geotiff; profile=cloud-optimized"}),
            )
        })
        .collect();
    let item = json!({
        "type": "Feature", "stac_version": "1.0.0", "id": "rgb", "bbox": [-81.31, 32.11, -78.82, 34.23],
        "geometry": null, "properties": {"datetime": "2026-01-01T00:00:00Z",
            "renders": {"rgb": {"title": "RGB", "assets": ["red", "green", "blue"], "rescale": [[0, 1000]]}}},
        "links": [], "assets": assets,
    });
    let path = items.join("item.json");
    std::fs::write(&path, item.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test]
async fn stac_assets_are_the_files_tiles_stacked() {
    let scratch = Scratch::new("multi-stac");
    let data = scratch.0.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for n in ["red", "green", "blue"] {
        std::fs::copy(imbrex_testkit::raster(&format!("{n}.tif")), data.join(format!("{n}.tif"))).unwrap();
    }
    let app = app(&[&scratch.0]);
    let red = raster("red.tif");
    let (z, x, y) = middle_tile(&app, &red, 7).await;
    let mut files = Vec::new();
    for n in ["red", "green", "blue"] {
        files.push(cog_tile(&app, &raster(&format!("{n}.tif")), z, x, y).await);
    }
    let want: Vec<Vec<f64>> = files.iter().map(|f| f.bands[0].clone()).collect();
    let any: Vec<bool> = (0..files[0].mask.len()).map(|i| files.iter().any(|f| f.mask[i])).collect();

    // The shared item (hrefs relative to it), one relative through `..`, one absolute.
    let relative = write_item(&scratch.0, |n| format!("../data/{n}.tif"));
    let relative_item = std::fs::read_to_string(&relative).unwrap();
    std::fs::rename(&relative, scratch.0.join("items/relative.json")).unwrap();
    std::fs::write(scratch.0.join("items/relative.json"), relative_item).unwrap();
    let absolute = write_item(&scratch.0, |n| data.join(format!("{n}.tif")).to_str().unwrap().to_string());
    let items =
        [raster("stac_no_ext.json"), scratch.0.join("items/relative.json").to_str().unwrap().to_string(), absolute];
    for item in &items {
        let uri = format!(
            "/stac/tiles/WebMercatorQuad/{z}/{x}/{y}.npy?url={}&assets=red&assets=green&assets=blue",
            enc(item)
        );
        let got = npy(&app, &uri).await;
        assert_same(&got, &want, &any, item);
    }

    // An expression over assets is the same expression over the files read one by one.
    let uri = format!(
        "/stac/tiles/WebMercatorQuad/{z}/{x}/{y}.npy?url={}&assets=red,green&expression={}",
        enc(&items[0]),
        enc("(b1-b2)/(b1+b2)")
    );
    let got = npy(&app, &uri).await;
    let (r, g) = (&want[0], &want[1]);
    let mask = and(&[&files[0].mask, &files[1].mask]);
    let ratio: Vec<f64> = (0..r.len()).map(|i| (r[i] - g[i]) / (r[i] + g[i])).collect();
    let finite: Vec<bool> = ratio.iter().map(|w| w.is_finite()).collect();
    assert_same_where(&got, &[ratio], &mask, &finite, "(b1-b2)/(b1+b2)");

    // Per-asset band math and asset_as_band names.
    let r = get(
        &app,
        &format!(
            "/stac/point/-80.0,33.0?url={}&assets={}&assets=green&asset_as_band=true",
            enc(&items[0]),
            enc("red|expression=b1*2")
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let p = r.json();
    assert_eq!(p["band_descriptions"], json!(["red", "green"]));
    let single = get(&app, &format!("/cog/point/-80.0,33.0?url={}", enc(&red))).await.json();
    assert_eq!(p["values"][0].as_f64().unwrap(), 2.0 * single["values"][0].as_f64().unwrap());

    // The raster extension's scale and offset, applied by unscale=true instead of the file's.
    let mut item: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&items[2]).unwrap()).unwrap();
    item["assets"]["red"]["raster:bands"] = json!([{"scale": 2.0, "offset": 10.0, "nodata": 0}]);
    let scaled = scratch.0.join("items/scaled.json");
    std::fs::write(&scaled, item.to_string()).unwrap();
    let r = get(&app, &format!("/stac/point/-80.0,33.0?url={}&assets=red&unscale=true", enc(scaled.to_str().unwrap())))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let raw = single["values"][0].as_f64().unwrap();
    assert_eq!(r.json()["values"][0].as_f64().unwrap(), 2.0 * raw + 10.0);
    // The asset's band math sees the scaled values, at a point as in a tile.
    let with_math = enc("red|expression=b1*2");
    let uri = format!("/stac/point/-80.0,33.0?url={}&assets={with_math}&unscale=true", enc(scaled.to_str().unwrap()));
    let r = get(&app, &uri).await;
    assert_eq!(r.json()["values"][0].as_f64().unwrap(), 2.0 * (2.0 * raw + 10.0), "{}", r.text());
    let uri = format!(
        "/stac/tiles/WebMercatorQuad/{z}/{x}/{y}.npy?url={}&assets=red&unscale=true",
        enc(scaled.to_str().unwrap())
    );
    let got = npy(&app, &uri).await;
    let want: Vec<f64> = files[0].bands[0].iter().map(|v| 2.0 * v + 10.0).collect();
    assert_same(&got, &[want], &files[0].mask, "raster:bands scale/offset");

    // Item-only endpoints.
    let r = get(&app, &format!("/stac/assets?url={}", enc(&items[1]))).await;
    assert_eq!(r.json(), json!(["red", "green", "blue"]));
    let r = get(&app, &format!("/stac/info?url={}&assets=red", enc(&items[1]))).await;
    assert_eq!(r.json()["red"]["crs"], "http://www.opengis.net/def/crs/EPSG/0/32617");
    let r = get(&app, &format!("/stac/renders/rgb?url={}", enc(&items[1]))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let tilejson = r.json()["links"][1]["href"].as_str().unwrap().replace("http://test.local", "");
    assert_eq!(get(&app, &tilejson).await.status, StatusCode::OK, "{tilejson}");
    let r = get(&app, &format!("/stac/asset_statistics?url={}&assets=red&assets=blue", enc(&items[1]))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.json()["blue"]["b1"]["mean"].as_f64().unwrap() > 0.0);

    // What is wrong is named.
    let r = get(&app, &format!("/stac/tiles/WebMercatorQuad/{z}/{x}/{y}.png?url={}", enc(&items[0]))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = get(&app, &format!("/stac/tiles/WebMercatorQuad/{z}/{x}/{y}.png?url={}&assets=nir", enc(&items[0]))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("nir"));
}

/// rio-tiler's pixel selection, computed here from per-asset bands whose nodata is 0.
fn expected(method: &str, assets: &[&Tile]) -> (Vec<Vec<f64>>, Vec<bool>) {
    let count = assets[0].bands.len();
    let n = assets[0].mask.len();
    let valid = |a: &Tile, b: usize, i: usize| a.mask[i] && a.bands[b][i] != 0.0;
    let mut bands = vec![vec![0.0; n]; count];
    let mut any = vec![false; n];
    for i in 0..n {
        for (b, band) in bands.iter_mut().enumerate() {
            let vals: Vec<f64> = assets.iter().filter(|a| valid(a, b, i)).map(|a| a.bands[b][i]).collect();
            if vals.is_empty() {
                continue;
            }
            any[i] = true;
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            band[i] = match method {
                "first" => vals[0],
                "highest" => vals.iter().cloned().fold(f64::MIN, f64::max),
                "lowest" => vals.iter().cloned().fold(f64::MAX, f64::min),
                "mean" => mean.trunc(),
                "median" => {
                    let mut s = vals.clone();
                    s.sort_by(f64::total_cmp);
                    let k = s.len();
                    (if k % 2 == 1 { s[k / 2] } else { (s[k / 2 - 1] + s[k / 2]) / 2.0 }).trunc()
                }
                "stdev" => (vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / vals.len() as f64).sqrt(),
                _ => unreachable!(),
            };
        }
    }
    (bands, any)
}

#[tokio::test]
async fn mosaic_pixel_selection_equals_arrays_from_the_single_files() {
    let app = app(&[]);
    let mosaic = enc(&raster("mosaic.json"));
    // A tile in the middle of the files' overlap.
    let bbox = |name: &str| {
        let app = app.clone();
        let url = enc(&raster(name));
        async move {
            let r = get(&app, &format!("/cog/info.geojson?url={url}")).await.json();
            r["bbox"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect::<Vec<_>>()
        }
    };
    let (a, b) = (bbox("cog1.tif").await, bbox("cog2.tif").await);
    let (lon, lat) = ((a[0].max(b[0]) + a[2].min(b[2])) / 2.0, (a[1].max(b[1]) + a[3].min(b[3])) / 2.0);
    let t = TileMatrixSets::default().get("WebMercatorQuad").unwrap().tile(lon, lat, 9).unwrap();
    let (z, x, y) = (9u32, t.x as u32, t.y as u32);
    let assets = get(&app, &format!("/mosaicjson/tiles/WebMercatorQuad/{z}/{x}/{y}/assets?url={mosaic}")).await.json();
    assert_eq!(assets.as_array().unwrap().len(), 2, "{assets}");
    let one = cog_tile(&app, &raster("cog1.tif"), z, x, y).await;
    let two = cog_tile(&app, &raster("cog2.tif"), z, x, y).await;
    let both = |a: &Tile, b: &Tile| a.mask.iter().zip(&b.mask).filter(|(x, y)| **x && **y).count();
    assert!(both(&one, &two) > 1000, "the files overlap in this tile");
    for method in ["first", "highest", "lowest", "mean", "median", "stdev"] {
        let got = npy(
            &app,
            &format!("/mosaicjson/tiles/WebMercatorQuad/{z}/{x}/{y}.npy?url={mosaic}&pixel_selection={method}"),
        )
        .await;
        let (want, mask) = expected(method, &[&one, &two]);
        assert_same(&got, &want, &mask, method);
    }
    // count: one band, how many files have a valid first band.
    let got =
        npy(&app, &format!("/mosaicjson/tiles/WebMercatorQuad/{z}/{x}/{y}.npy?url={mosaic}&pixel_selection=count"))
            .await;
    let counts: Vec<f64> = (0..one.mask.len())
        .map(|i| [&one, &two].iter().filter(|t| t.mask[i] && t.bands[0][i] != 0.0).count() as f64)
        .collect();
    assert_eq!(got.bands, vec![counts]);
    // lastbandhigh: the bands but the last of the file whose last band is highest.
    let got = npy(
        &app,
        &format!("/mosaicjson/tiles/WebMercatorQuad/{z}/{x}/{y}.npy?url={mosaic}&pixel_selection=lastbandhigh"),
    )
    .await;
    assert_eq!(got.bands.len(), 2);
    for i in 0..one.mask.len() {
        let v1 = one.mask[i] && one.bands[2][i] != 0.0;
        let v2 = two.mask[i] && two.bands[2][i] != 0.0;
        if v1 && v2 && one.bands[0][i] != 0.0 && two.bands[0][i] != 0.0 {
            let pick = if two.bands[2][i] > one.bands[2][i] { &two } else { &one };
            assert_eq!(got.bands[0][i], pick.bands[0][i], "lastbandhigh pixel {i}");
        }
    }
    // rio-tiler's own mosaic_reader over the two files, every method: the same pixels.
    let python = std::env::var("RIO_PYTHON")
        .expect("RIO_PYTHON is not set: run scripts/test, which makes the rio-tiler virtualenv and sets it");
    let scratch = Scratch::new("multi-mosaic-oracle");
    let script = imbrex_testkit::manifest_dir().join("../../tools/mosaic_oracle.py");
    let files = [raster("cog1.tif"), raster("cog2.tif")];
    let out = std::process::Command::new(&python)
        .arg(&script)
        .arg(&scratch.0)
        .args([z.to_string(), x.to_string(), y.to_string()])
        .args(&files)
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e}"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for method in ["first", "highest", "lowest", "mean", "median", "stdev", "lastbandlow", "lastbandhigh", "count"] {
        let load = |name: String| Npy::parse(&std::fs::read(scratch.0.join(name)).unwrap()).unwrap();
        let (want, valid) = (load(format!("{method}.npy")), load(format!("{method}_valid.npy")));
        let (count, n) = (want.shape[0], want.shape[1] * want.shape[2]);
        let got = npy(
            &app,
            &format!("/mosaicjson/tiles/WebMercatorQuad/{z}/{x}/{y}.npy?url={mosaic}&pixel_selection={method}"),
        )
        .await;
        let bands: Vec<Vec<f64>> = (0..count).map(|b| want.values[b * n..(b + 1) * n].to_vec()).collect();
        let any: Vec<bool> = (0..n).map(|i| (0..count).any(|b| valid.values[b * n + i] != 0.0)).collect();
        // Values where rio-tiler's band is valid; rio-tiler's mask of the tile where any is.
        let per_band: Vec<bool> = valid.values.iter().map(|&v| v != 0.0).collect();
        for (b, (g, w)) in got.bands.iter().zip(&bands).enumerate() {
            let wrong =
                (0..n).filter(|&i| per_band[b * n + i] && (g[i] - w[i]).abs() > 1e-9 * w[i].abs().max(1.0)).count();
            assert_eq!(wrong, 0, "{method}: band {b}: {wrong} pixels differ from rio-tiler's mosaic_reader");
        }
        assert_eq!(got.bands.len(), count, "{method}: bands");
        assert_eq!(got.mask, any, "{method}: mask");
    }

    // The TiTiler documents.
    let info = get(&app, &format!("/mosaicjson/info?url={mosaic}")).await.json();
    assert_eq!(info["mosaic_minzoom"], 7);
    let pt = get(&app, &format!("/mosaicjson/point/-73.5,45.9?url={mosaic}")).await;
    assert_eq!(pt.status, StatusCode::OK, "{}", pt.text());
    assert!(!pt.json()["assets"].as_array().unwrap().is_empty());
    let r = get(&app, &format!("/mosaicjson/tiles/WebMercatorQuad/{z}/{x}/{y}.png?url={mosaic}&pixel_selection=best"))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_mosaic_of_200_cogs_opens_only_what_a_tile_needs() {
    let scratch = Scratch::new("multi-many");
    let app = app(&[&scratch.0]);
    let world = enc(&raster("cog_world.tif"));
    // 20 x 10 files of 18° x 18°, cut from a world raster by the server itself.
    let mut boxes = Vec::new();
    for row in 0..10 {
        for col in 0..20 {
            let (w, s) = (-180.0 + 18.0 * col as f64, -90.0 + 18.0 * row as f64);
            let b = Bounds::new(w, s, w + 18.0, s + 18.0);
            let r =
                get(&app, &format!("/cog/bbox/{},{},{},{}/32x32.tif?url={world}", b.left, b.bottom, b.right, b.top))
                    .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            let name = format!("c{row}_{col}.tif");
            std::fs::write(scratch.0.join(&name), &r.body).unwrap();
            boxes.push((name, b));
        }
    }
    let server = RangeServer::start(scratch.0.clone()).await;
    // Each quadkey at zoom 3 lists a full cover first, then the small files over it.
    let qz = 3;
    let cover = {
        // Valid everywhere: a constant over the world (nodata moved to a value it lacks).
        let uri = format!("/cog/preview.tif?url={world}&max_size=256&expression=b1*0%2B1&nodata=254&return_mask=false");
        let r = get(&app, &uri).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        std::fs::write(scratch.0.join("cover.tif"), &r.body).unwrap();
        server.url("cover.tif")
    };
    let mut tiles: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (name, b) in &boxes {
        let inner = Bounds::new(b.left + 1e-6, b.bottom + 1e-6, b.right - 1e-6, b.top - 1e-6);
        for qk in imbrex_raster::mosaic::quadkeys(inner, qz) {
            tiles.entry(qk).or_insert_with(|| vec![cover.clone()]).push(server.url(name));
        }
    }
    let doc = json!({"mosaicjson": "0.0.3", "minzoom": 1, "maxzoom": 6, "quadkey_zoom": qz,
        "bounds": [-180.0, -85.0, 180.0, 85.0], "tiles": tiles});
    std::fs::write(scratch.0.join("mosaic.json"), doc.to_string()).unwrap();
    let url = enc(scratch.0.join("mosaic.json").to_str().unwrap());
    // A fresh server per count: headers and blocks are cached once read.
    let fresh = || {
        app_with(Config {
            allow_path: vec![scratch.0.clone()],
            allow_url: vec![format!("http://{}/", server.addr)],
            ..Default::default()
        })
    };
    let app = fresh();

    let opened = || server_paths(&server);
    // Zoom 2 tile (1, 1): the four quadkeys of zoom 3 under it.
    let (z, x, y) = (2, 1, 1);
    let listed = get(&app, &format!("/mosaicjson/tiles/WebMercatorQuad/{z}/{x}/{y}/assets?url={url}")).await.json();
    let listed: BTreeSet<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().rsplit('/').next().unwrap().to_string())
        .collect();
    let tms = TileMatrixSets::default().get("WebMercatorQuad").unwrap();
    let tb = tms.xy_bounds(imbrex_tms::Tile { x, y, z }).unwrap();
    let tb = Bounds::new(tb.left + 1.0, tb.bottom + 1.0, tb.right - 1.0, tb.top - 1.0);
    let geo =
        imbrex_tms::Transformer::new(tms.crs(), &imbrex_tms::Crs::wgs84()).unwrap().transform_bounds(tb, 21).unwrap();
    let intersecting: BTreeSet<String> = boxes
        .iter()
        .filter(|(_, b)| b.left < geo.right && b.right > geo.left && b.bottom < geo.top && b.top > geo.bottom)
        .map(|(n, _)| n.clone())
        .chain(["cover.tif".to_string()])
        .collect();
    assert!(listed.is_subset(&intersecting) || listed == intersecting, "{listed:?} vs {intersecting:?}");
    assert!(listed.len() > 8 && listed.len() < 60, "{} assets", listed.len());

    server.reset();
    let r = get(&app, &format!("/mosaicjson/tiles/WebMercatorQuad/{z}/{x}/{y}.npy?url={url}&pixel_selection=highest"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let all = opened();
    assert!(all.is_subset(&listed), "opened {:?} outside {listed:?}", all.difference(&listed).collect::<Vec<_>>());
    assert_eq!(all.len(), listed.len(), "highest reads every listed asset");

    // `first`: the cover fills the tile in the first batch of reads; the rest are never opened.
    let app = fresh();
    server.reset();
    let r = get(&app, &format!("/mosaicjson/tiles/WebMercatorQuad/{z}/{x}/{y}.npy?url={url}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let first = opened();
    assert!(first.contains("cover.tif"));
    assert!(first.len() <= 4 && first.len() < listed.len(), "first opened {first:?}");
    // A file opened once is not opened again (headers are cached with the COG reader's).
    let requests = server_requests(&server);
    server.reset();
    let _ = get(&app, &format!("/mosaicjson/tiles/WebMercatorQuad/{z}/{x}/{y}.npy?url={url}&rescale=0,1")).await;
    assert!(server_requests(&server) <= requests, "a second tile reads no more than the first");
}

fn server_paths(server: &RangeServer) -> BTreeSet<String> {
    server.log().iter().map(|l| l.path.trim_start_matches('/').to_string()).collect()
}

fn server_requests(server: &RangeServer) -> usize {
    server.log().len()
}
