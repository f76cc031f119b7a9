//! Rendering endpoints: every format decoded and checked against the raw (`.npy`) tile —
//! values, masks, georeference — colormaps against the reference LUTs, expressions and
//! algorithms end to end, the automatic stretch, and the metadata documents (tilesets,
//! WMTS, colormaps, algorithms, validate, STAC).

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use bytes::Bytes;
use common::{app_with, get};
use imbrex_raster::source::{MemorySource, RangeSource};
use imbrex_raster::{Dataset, OpenOptions, Reader};
use imbrex_server::Config;
use imbrex_testkit::npy::Npy;
use imbrex_tms::{Tile, TileMatrixSets};
use serde_json::Value;

fn app() -> axum::Router {
    app_with(Config { allow_path: vec![imbrex_testkit::testdata("raster")], ..Default::default() })
}

fn url(name: &str) -> String {
    let p = imbrex_testkit::raster(name);
    form_urlencoded::byte_serialize(p.to_str().unwrap().as_bytes()).collect()
}

/// Decode an image body with imbrex's own readers (PNG/JPEG/TIFF are checked against
/// GDAL in imbrex-raster's tests): (dataset, band-sequential f64 samples).
async fn decode(body: &[u8]) -> (Arc<Dataset>, Vec<f64>) {
    let src: Arc<dyn RangeSource> = Arc::new(MemorySource::new("out", Bytes::copy_from_slice(body)));
    let ds = Arc::new(Dataset::open(src, &OpenOptions::default()).await.expect("a readable image"));
    let bands: Vec<usize> = (0..ds.count()).collect();
    let v = ds.read_window(0, 0, 0, ds.width(), ds.height(), &bands).await.unwrap().to_f64_vec();
    (ds, v)
}

/// The raw tile: (data planes, mask), from `.npy`.
async fn raw(app: &axum::Router, path: &str) -> (Vec<f64>, Vec<f64>, usize) {
    let r = get(app, path).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
    let a = Npy::parse(&r.body).unwrap();
    let n = a.shape[1] * a.shape[2];
    let bands = a.shape[0] - 1;
    (a.values[..bands * n].to_vec(), a.mask_0_255(), bands)
}

fn lut(name: &str) -> Vec<[f64; 4]> {
    let a = Npy::read(&imbrex_testkit::reference(&format!("colormaps/{name}.npy")));
    a.values.chunks(4).map(|c| [c[0], c[1], c[2], c[3]]).collect()
}

#[tokio::test]
async fn png_with_rescale_and_colormap_is_the_lut_of_the_rescaled_data() {
    let app = app();
    let q = format!("url={}", url("cog_int16.tif"));
    let (data, mask, _) = raw(&app, &format!("/cog/tiles/WebMercatorQuad/5/10/6.npy?{q}")).await;
    let r = get(&app, &format!("/cog/tiles/WebMercatorQuad/5/10/6.png?{q}&rescale=50,250&colormap_name=viridis")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.content_type(), "image/png");
    let (ds, px) = decode(&r.body).await;
    assert_eq!((ds.count(), ds.width(), ds.height()), (4, 256, 256));
    let n = 256 * 256;
    let lut = lut("viridis");
    let mut checked = 0;
    for i in 0..n {
        if mask[i] == 0.0 {
            assert_eq!(px[3 * n + i], 0.0, "masked pixels are transparent");
            continue;
        }
        // rio-tiler: clip, scale to 0-255, truncate, then the LUT.
        let v = ((data[i].clamp(50.0, 250.0) - 50.0) / 200.0 * 255.0) as usize;
        let c = lut[v];
        assert_eq!([px[i], px[n + i], px[2 * n + i], px[3 * n + i]], c, "pixel {i}");
        checked += 1;
    }
    assert!(checked > 5000, "{checked} valid pixels");
}

#[tokio::test]
async fn every_format_decodes_to_the_tile() {
    let app = app();
    let o = imbrex_testkit::read_json(&imbrex_testkit::testdata("oracle/TCI/oracle.json"));
    let full = o["tiles"].as_array().unwrap().iter().find(|t| t["mask_summary"] == "all_valid").unwrap().clone();
    let tile = format!("/cog/tiles/WebMercatorQuad/{}/{}/{}", full["z"], full["x"], full["y"]);
    let (data, _, bands) = raw(&app, &format!("{tile}.npy?url=demo")).await;
    assert_eq!(bands, 3);
    // Without an extension a fully valid tile is a JPEG.
    let r = get(&app, &format!("{tile}?url=demo")).await;
    assert_eq!(r.content_type(), "image/jpeg");
    let (_, px) = decode(&r.body).await;
    let err: f64 = px.iter().zip(&data).map(|(a, b)| (a - b).abs()).sum::<f64>() / px.len() as f64;
    assert!(err < 4.0, "JPEG q85 mean error {err}");
    // Lossless formats are exact: PNG (RGB + alpha), WebP (RGBA), GeoTIFF.
    for (ext, media) in [("png", "image/png"), ("tif", "image/tiff; application=geotiff")] {
        let r = get(&app, &format!("{tile}.{ext}?url=demo")).await;
        assert_eq!(r.content_type(), media);
        let (ds, px) = decode(&r.body).await;
        assert_eq!(ds.count(), 4, "{ext}: RGB + alpha");
        assert_eq!(&px[..3 * 256 * 256], &data[..], "{ext}");
        assert!(px[3 * 256 * 256..].iter().all(|&a| a == 255.0), "{ext}: opaque");
    }
    // WebP as TiTiler encodes it: lossy, quality 75 (an opaque tile has no alpha plane).
    let webp = |body: Vec<u8>| {
        let mut dec = image_webp::WebPDecoder::new(std::io::Cursor::new(body)).unwrap();
        let (lossy, alpha) = (dec.is_lossy(), dec.has_alpha());
        let mut buf = vec![0u8; dec.output_buffer_size().unwrap()];
        dec.read_image(&mut buf).unwrap();
        (lossy, alpha, buf)
    };
    let n = 256 * 256;
    let r = get(&app, &format!("{tile}.webp?url=demo")).await;
    assert_eq!(r.content_type(), "image/webp");
    let (lossy, _, buf) = webp(r.body);
    assert!(lossy);
    let err: f64 =
        (0..n).map(|i| (0..3).map(|b| (buf[3 * i + b] as f64 - data[b * n + i]).abs()).sum::<f64>()).sum::<f64>()
            / (3 * n) as f64;
    assert!(err < 4.0, "WebP q75 mean error {err}");
    // `lossless=true`: exact, with the mask as alpha.
    let r = get(&app, &format!("{tile}.webp?url=demo&lossless=true")).await;
    let (lossy, alpha, buf) = webp(r.body);
    assert!(!lossy && alpha);
    for i in 0..n {
        assert_eq!(
            [buf[4 * i] as f64, buf[4 * i + 1] as f64, buf[4 * i + 2] as f64],
            [data[i], data[n + i], data[2 * n + i]]
        );
    }
    // return_mask=false: no alpha band.
    let r = get(&app, &format!("{tile}.png?url=demo&return_mask=false")).await;
    assert_eq!(decode(&r.body).await.0.count(), 3);
    // JPEG 2000 is refused clearly.
    let r = get(&app, &format!("{tile}.jp2?url=demo")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("JPEG 2000"));
}

#[tokio::test]
async fn geotiff_tiles_carry_their_georeference() {
    let app = app();
    let q = format!("url={}", url("cog_int16.tif"));
    let r = get(&app, &format!("/cog/tiles/WebMercatorQuad/6/21/13.tif?{q}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let src: Arc<dyn RangeSource> = Arc::new(MemorySource::new("t.tif", Bytes::from(r.body.clone())));
    let reader = Reader::open(src, &OpenOptions::default()).await.unwrap();
    let wm = TileMatrixSets::default().get("WebMercatorQuad").unwrap();
    let b = wm.xy_bounds(Tile::new(21, 13, 6)).unwrap();
    let got = reader.bounds();
    for (a, e) in got.to_array().iter().zip(b.to_array()) {
        assert!((a - e).abs() < 1e-6, "bounds {got:?} vs {b:?}");
    }
    assert_eq!(reader.crs().and_then(|c| c.epsg()), Some(3857));
    assert_eq!(reader.info().dtype.name(), "int16");
    let (data, mask, _) = raw(&app, &format!("/cog/tiles/WebMercatorQuad/6/21/13.npy?{q}")).await;
    let (_, px) = decode(&r.body).await;
    let n = 256 * 256;
    assert_eq!(&px[..n], &data[..]);
    assert_eq!(&px[n..], &mask[..], "alpha = mask");
}

#[tokio::test]
async fn non_8_bit_data_is_stretched_not_flat() {
    let app = app();
    // A float DEM rendered without rescale: imbrex stretches over the dataset's p2-p98.
    let r = get(&app, &format!("/cog/tiles/WebMercatorQuad/15/17029/11668.png?url={}", url("dem.tif"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let (_, px) = decode(&r.body).await;
    let n = 256 * 256;
    let (min, max) = px[..n].iter().fold((255.0f64, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
    assert!(max - min > 100.0, "a stretched tile spans the grey levels ({min}..{max})");
}

#[tokio::test]
async fn expressions_and_algorithms_end_to_end() {
    let app = app();
    let o = imbrex_testkit::read_json(&imbrex_testkit::testdata("oracle/TCI/oracle.json"));
    let t = &o["tiles"][0];
    let tile = format!("/cog/tiles/WebMercatorQuad/{}/{}/{}", t["z"], t["x"], t["y"]);
    let (data, mask, _) = raw(&app, &format!("{tile}.npy?url=demo")).await;
    let expr: String = form_urlencoded::byte_serialize(b"(b1-b2)/(b1+b2);b3*2").collect();
    let (out, omask, bands) = raw(&app, &format!("{tile}.npy?url=demo&expression={expr}")).await;
    assert_eq!(bands, 2);
    assert_eq!(omask, mask);
    let n = 256 * 256;
    for i in (0..n).filter(|&i| mask[i] != 0.0) {
        let (r, g, b) = (data[i], data[n + i], data[2 * n + i]);
        let nd = if r + g == 0.0 { 0.0 } else { (r - g) / (r + g) };
        assert_eq!(out[i], nd, "pixel {i}");
        assert_eq!(out[n + i], b * 2.0);
    }
    // Hillshade keeps the tile size (imbrex reads the buffer it needs).
    let q = format!("url={}", url("dem.tif"));
    let (h, _, _) = raw(&app, &format!("/cog/tiles/WebMercatorQuad/15/17029/11668.npy?{q}&algorithm=hillshade")).await;
    assert_eq!(h.len(), 256 * 256);
    // TiTiler's documented form (buffer=3) gives the same tile.
    let (h3, _, _) =
        raw(&app, &format!("/cog/tiles/WebMercatorQuad/15/17029/11668.npy?{q}&algorithm=hillshade&buffer=3")).await;
    assert_eq!(h, h3);
    // terrainrgb round trip: decoding the colours gives the heights back (0.1 m steps).
    let (dem, dmask, _) = raw(&app, &format!("/cog/tiles/WebMercatorQuad/15/17029/11668.npy?{q}")).await;
    let (rgb, _, _) =
        raw(&app, &format!("/cog/tiles/WebMercatorQuad/15/17029/11668.npy?{q}&algorithm=terrainrgb")).await;
    for i in (0..n).filter(|&i| dmask[i] != 0.0) {
        let height = -10000.0 + (rgb[i] * 65536.0 + rgb[n + i] * 256.0 + rgb[2 * n + i]) * 0.1;
        assert!((height - dem[i]).abs() <= 0.1 + 1e-6, "pixel {i}: {height} vs {}", dem[i]);
    }
}

#[tokio::test]
async fn processing_errors_name_their_parameter() {
    let app = app();
    let base = format!("/cog/tiles/WebMercatorQuad/5/10/6.png?url={}", url("cog_int16.tif"));
    for (q, loc) in [
        ("rescale=1", "rescale"),
        ("rescale=a,b", "rescale"),
        ("colormap_name=nope", "colormap_name"),
        ("colormap_name=viridis&colormap=%7B%7D", "colormap"),
        ("colormap=%7Bbad", "colormap"),
        ("expression=b1%2B", "expression"),
        ("expression=b9", "bidx"),
        ("algorithm=nope", "algorithm"),
        ("algorithm=hillshade&algorithm_params=%7Bnot", "algorithm_params"),
        ("color_formula=sparkle%20RGB%201", "color_formula"),
        ("return_mask=perhaps", "return_mask"),
        // Without an extension the format comes from the query.
        ("format=gif", "format"),
    ] {
        let base = if q.starts_with("format=") { base.replace(".png?", "?") } else { base.clone() };
        let r = get(&app, &format!("{base}&{q}")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {}", r.text());
        assert_eq!(r.json()["detail"][0]["loc"][1], loc, "{q}: {}", r.text());
    }
}

#[tokio::test]
async fn previews_parts_features_and_maps() {
    let app = app();
    let q = format!("url={}", url("cog_int16.tif"));
    let r = get(&app, &format!("/cog/preview.png?{q}&max_size=100")).await;
    let (ds, _) = decode(&r.body).await;
    assert_eq!(ds.width().max(ds.height()), 100);
    let r = get(&app, &format!("/cog/preview/120x60.npy?{q}")).await;
    assert_eq!(Npy::parse(&r.body).unwrap().shape, vec![2, 60, 120]);
    let r = get(&app, &format!("/cog/bbox/-60,72,-55,75/64x32.npy?{q}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(Npy::parse(&r.body).unwrap().shape, vec![2, 32, 64]);
    // A size in the path wins, but the query's sizes are checked all the same.
    for path in ["/cog/bbox/-60,72,-55,75/64x32.npy", "/cog/preview/120x60.npy"] {
        let r = get(&app, &format!("{path}?{q}&max_size=0")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        assert_eq!(r.json()["detail"][0]["loc"], serde_json::json!(["query", "max_size"]));
    }
    let r = get(&app, &format!("/cog/bbox/-60,75,-55,72.png?{q}")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "inverted box");
    let r = get(&app, &format!("/cog/map?{q}&width=300&f=jpeg")).await;
    assert_eq!(r.content_type(), "image/jpeg");
    let feature = serde_json::json!({"type": "Feature", "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [[[-60.0, 72.0], [-55.0, 72.0], [-55.0, 75.0], [-60.0, 72.0]]]}});
    let req = axum::http::Request::post(format!("/cog/feature/100x100.npy?{q}"))
        .header("host", "test.local")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(feature.to_string()))
        .unwrap();
    let r = common::request(&app, req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let a = Npy::parse(&r.body).unwrap();
    assert_eq!(a.shape, vec![2, 100, 100]);
    // Outside the triangle is masked: the upper-left corner of its bounding box.
    assert_eq!(a.mask_0_255()[0], 0.0);
}

#[tokio::test]
async fn metadata_documents() {
    let app = app();
    let q = format!("url={}", url("cog_int16.tif"));
    let sets = get(&app, &format!("/cog/tiles?{q}")).await.json();
    assert_eq!(sets["tilesets"].as_array().unwrap().len(), 13);
    let wm = get(&app, &format!("/cog/tiles/WebMercatorQuad?{q}")).await.json();
    let limits = wm["tileMatrixSetLimits"].as_array().unwrap();
    assert_eq!(limits.first().unwrap()["tileMatrix"], "5");
    assert_eq!(limits.last().unwrap()["tileMatrix"], "9");
    // Every tile named by the limits of the first zoom exists or is outside the data, never an error.
    let l = &limits[0];
    for y in l["minTileRow"].as_u64().unwrap()..=l["maxTileRow"].as_u64().unwrap() {
        for x in l["minTileCol"].as_u64().unwrap()..=l["maxTileCol"].as_u64().unwrap() {
            let s = get(&app, &format!("/cog/tiles/WebMercatorQuad/5/{x}/{y}.npy?{q}")).await.status;
            assert!(s == StatusCode::OK || s == StatusCode::NOT_FOUND, "{x}/{y}: {s}");
        }
    }
    // WMTS: well-formed XML, one layer and one TileMatrixSet per grid, RESTful templates.
    let r = get(&app, &format!("/cog/WMTSCapabilities.xml?{q}&rescale=50,250")).await;
    assert_eq!(r.content_type(), "application/xml");
    let text = r.text();
    let mut reader = quick_xml::Reader::from_str(&text);
    let (mut layers, mut sets_n, mut templates) = (0, 0, Vec::new());
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Start(e) if e.name().as_ref() == b"Layer" => layers += 1,
            quick_xml::events::Event::Start(e) if e.name().as_ref() == b"TileMatrixSet" => sets_n += 1,
            quick_xml::events::Event::Empty(e) if e.name().as_ref() == b"ResourceURL" => {
                let t = e.try_get_attribute("template").unwrap().unwrap().unescape_value().unwrap().to_string();
                templates.push(t);
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(layers, 13);
    assert!(sets_n >= 13);
    assert!(
        templates.iter().all(|t| t.contains("{TileMatrix}/{TileCol}/{TileRow}.png") && t.contains("rescale=50%2C250")),
        "{templates:?}"
    );
    // Validate and STAC.
    let v = get(&app, &format!("/cog/validate?{q}")).await.json();
    assert_eq!(v["COG"], true, "{v}");
    assert_eq!(v["IFD"].as_array().unwrap().len(), 4);
    let v = get(&app, &format!("/cog/validate?url={}", url("nocog.tif"))).await.json();
    assert_eq!(v["COG"], false, "{v}");
    let s = get(&app, &format!("/cog/stac?{q}")).await.json();
    assert_eq!(s["type"], "Feature");
    assert!(s["assets"]["data"]["raster:bands"][0]["statistics"]["mean"].as_f64().is_some());
}

#[tokio::test]
async fn colormaps_and_algorithms_are_listed() {
    let app = app();
    let list = get(&app, "/colorMaps").await.json();
    assert_eq!(list["colormaps"].as_array().unwrap().len(), 211);
    let v = get(&app, "/colorMaps/cfastie").await.json();
    let reference = lut("cfastie");
    for i in [0usize, 17, 128, 255] {
        let got: Vec<f64> = v[i.to_string()].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        assert_eq!(got, reference[i].to_vec());
    }
    let r = get(&app, "/colorMaps/viridis?f=png").await;
    assert_eq!(r.content_type(), "image/png");
    let (ds, px) = decode(&r.body).await;
    assert_eq!((ds.width(), ds.height()), (256, 20));
    let reference = lut("viridis");
    assert_eq!([px[0], px[256 * 20], px[2 * 256 * 20]], [reference[0][0], reference[0][1], reference[0][2]]);
    assert_eq!(get(&app, "/colorMaps/nope").await.status, StatusCode::NOT_FOUND);
    let algos = get(&app, "/algorithms").await.json();
    assert_eq!(algos["algorithms"].as_array().unwrap().len(), 18);
    let hs = get(&app, "/algorithms/hillshade").await.json();
    let expected = imbrex_testkit::read_json(&imbrex_testkit::reference("titiler/samples/algorithm_hillshade.json"));
    assert_eq!(hs, expected);
    assert_eq!(get(&app, "/algorithms/nope").await.status, StatusCode::NOT_FOUND);
    let _: Value = get(&app, "/api").await.json();
}

/// A server whose output bound is `max_pixels`.
fn app_limited(max_pixels: u64) -> axum::Router {
    let mut config = Config { allow_path: vec![imbrex_testkit::testdata("raster")], ..Default::default() };
    config.limits.max_output_pixels = max_pixels;
    app_with(config)
}

#[tokio::test]
async fn a_paletted_dataset_renders_with_its_own_colormap() {
    let app = app();
    let q = format!("url={}&max_size=64", url("cog_cmap.tif"));
    let info = get(&app, &format!("/cog/info?url={}", url("cog_cmap.tif"))).await.json();
    let palette = info["colormap"].as_object().expect("cog_cmap.tif has a palette");
    let color = |v: f64| -> Vec<f64> {
        palette[&(v as u32).to_string()].as_array().unwrap().iter().map(|c| c.as_f64().unwrap()).collect()
    };
    // The indexes: two bands are never coloured (rio-tiler's `apply_cmap` takes one).
    let r = get(&app, &format!("/cog/preview.npy?{q}&bidx=1&bidx=1")).await;
    let a = Npy::parse(&r.body).unwrap();
    let n = a.shape[1] * a.shape[2];
    let (index, valid) = (a.values[..n].to_vec(), a.mask_0_255());
    // TiTiler: `colormap or dst_colormap` — PNG and NPY alike.
    let r = get(&app, &format!("/cog/preview.png?{q}")).await;
    let (ds, px) = decode(&r.body).await;
    assert_eq!(ds.count(), 4, "RGB + alpha");
    let npy = Npy::parse(&get(&app, &format!("/cog/preview.npy?{q}")).await.body).unwrap();
    assert_eq!(npy.shape, vec![4, a.shape[1], a.shape[2]]);
    let mut coloured = 0;
    for i in 0..n {
        let c = color(index[i]);
        let alpha = if valid[i] == 0.0 { 0.0 } else { c[3] };
        assert_eq!([px[i], px[n + i], px[2 * n + i], px[3 * n + i]], [c[0], c[1], c[2], alpha], "pixel {i}");
        assert_eq!([npy.values[i], npy.values[n + i], npy.values[2 * n + i]], [c[0], c[1], c[2]], "pixel {i}");
        coloured += (alpha != 0.0) as usize;
    }
    assert!(coloured > n / 4, "the preview shows the data ({coloured} of {n})");
    // A colormap in the request wins over the palette.
    let r = get(&app, &format!("/cog/preview.png?{q}&colormap_name=viridis")).await;
    let (_, px) = decode(&r.body).await;
    let viridis = lut("viridis");
    let i = (0..n).find(|&i| valid[i] != 0.0).unwrap();
    assert_eq!(px[i], viridis[index[i] as usize][0]);
}

#[tokio::test]
async fn the_stretch_follows_what_is_drawn_not_the_order_of_requests() {
    // Unscaled and raw values of one band: each has its own stretch, whichever came first.
    let q = format!("/cog/preview.png?url={}&max_size=128&bidx=1", url("cog_scale.tif"));
    let (raw_q, unscaled_q) = (q.clone(), format!("{q}&unscale=true"));
    let (first, second) = (app(), app());
    let raw_1 = get(&first, &raw_q).await.body;
    let unscaled_1 = get(&first, &unscaled_q).await.body;
    let unscaled_2 = get(&second, &unscaled_q).await.body;
    let raw_2 = get(&second, &raw_q).await.body;
    assert_eq!(raw_1, raw_2, "the raw preview does not depend on what was asked before");
    assert_eq!(unscaled_1, unscaled_2, "nor does the unscaled one");
    for body in [&raw_1, &unscaled_1] {
        let (_, px) = decode(body).await;
        let n = px.len() / 4;
        let (min, max) = px[..n].iter().fold((255.0f64, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
        assert!(max - min > 100.0, "stretched over the drawn values ({min}..{max})");
    }
    // An algorithm's output is stretched over its own values: slope in degrees, not the
    // DEM's heights (which would draw it black), after a request without it.
    let app = app();
    let tile = format!("/cog/tiles/WebMercatorQuad/15/17029/11668.png?url={}", url("dem.tif"));
    assert_eq!(get(&app, &tile).await.status, StatusCode::OK);
    let r = get(&app, &format!("{tile}&algorithm=slope")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let (_, px) = decode(&r.body).await;
    let n = 256 * 256;
    let (min, max) = px[..n].iter().fold((255.0f64, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
    assert!(max - min > 100.0, "a slope tile spans the grey levels ({min}..{max})");
}

#[tokio::test]
async fn parts_are_native_resolution_by_default_and_bounded() {
    let app = app();
    let info = get(&app, &format!("/cog/info?url={}", url("cog_int16.tif"))).await.json();
    let b: Vec<f64> = info["bounds"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let (w, h) = (info["width"].as_f64().unwrap(), info["height"].as_f64().unwrap());
    let (rx, ry) = ((b[2] - b[0]) / w, (b[3] - b[1]) / h);
    // 1200 x 300 pixels of the file, in its own CRS: above the old 1024 default.
    let bbox = format!("{},{},{},{}", b[0], b[3] - 300.0 * ry, b[0] + 1200.0 * rx, b[3]);
    let q = format!("url={}&coord_crs=epsg:32621", url("cog_int16.tif"));
    let r = get(&app, &format!("/cog/bbox/{bbox}.npy?{q}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(Npy::parse(&r.body).unwrap().shape, vec![2, 300, 1200]);
    // Above the output bound: a 422 naming what asks for less.
    let small = app_limited(100_000);
    let r = get(&small, &format!("/cog/bbox/{bbox}.npy?{q}")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(r.json()["detail"][0]["loc"][1], "max_size");
    assert!(r.text().contains("max_output_pixels"), "{}", r.text());
    let r = get(&small, &format!("/cog/bbox/{bbox}.npy?{q}&max_size=200")).await;
    assert_eq!(Npy::parse(&r.body).unwrap().shape, vec![2, 50, 200]);
    // POST /cog/statistics of a feature too large for the bound reads an overview instead.
    let feature = serde_json::json!({"type": "Feature", "properties": {}, "geometry": {"type": "Polygon",
        "coordinates": [[[b[0], b[1]], [b[2], b[1]], [b[2], b[3]], [b[0], b[3]], [b[0], b[1]]]]}});
    let req = axum::http::Request::post(format!("/cog/statistics?{q}"))
        .header("host", "test.local")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(feature.to_string()))
        .unwrap();
    let r = common::request(&small, req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let stats = &r.json()["properties"]["statistics"]["b1"];
    assert!(stats["count"].as_f64().unwrap() > 0.0 && stats["count"].as_f64().unwrap() <= 100_000.0, "{stats}");
}

#[tokio::test]
async fn images_carry_their_bounds_and_crs_as_titiler_sends_them() {
    let app = app();
    let q = format!("url={}", url("cog_int16.tif"));
    let floats = |r: &common::Reply| -> Vec<f64> {
        let h = r.headers["content-bbox"].to_str().unwrap();
        h.split(',').map(|v| v.parse().unwrap()).collect()
    };
    let r = get(&app, &format!("/cog/tiles/WebMercatorQuad/5/10/6.png?{q}")).await;
    let wm = TileMatrixSets::default().get("WebMercatorQuad").unwrap();
    let tb = wm.xy_bounds(Tile::new(10, 6, 5)).unwrap();
    assert_eq!(floats(&r), vec![tb.left, tb.bottom, tb.right, tb.top]);
    assert_eq!(r.headers["content-crs"], "<http://www.opengis.net/def/crs/EPSG/0/3857>");
    let r = get(&app, &format!("/cog/bbox/-60,72,-55,75/64x32.png?{q}")).await;
    assert_eq!(r.headers["content-bbox"], "-60.0,72.0,-55.0,75.0");
    assert_eq!(r.headers["content-crs"], "<http://www.opengis.net/def/crs/EPSG/0/4326>");
    let r = get(&app, &format!("/cog/preview.png?{q}&max_size=64")).await;
    let info = get(&app, &format!("/cog/info?{q}")).await.json();
    let b: Vec<f64> = info["bounds"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(floats(&r), b);
    assert_eq!(r.headers["content-crs"], "<http://www.opengis.net/def/crs/EPSG/0/32621>");
}

#[tokio::test]
async fn validate_reports_tags_and_band_metadata_as_rio_cogeo() {
    let app = app();
    // What rasterio (GDAL 3.10) reports for these files.
    for (file, metadata, structure) in [
        (
            "cog_int16.tif",
            serde_json::json!({"OVR_RESAMPLING_ALG": "NEAREST", "AREA_OR_POINT": "Point"}),
            serde_json::json!({"LAYOUT": "COG", "COMPRESSION": "DEFLATE", "INTERLEAVE": "BAND"}),
        ),
        (
            "cog_cmap.tif",
            serde_json::json!({"DataType": "Generic", "OVR_RESAMPLING_ALG": "NEAREST", "AREA_OR_POINT": "Area"}),
            serde_json::json!({"LAYOUT": "COG", "COMPRESSION": "DEFLATE", "INTERLEAVE": "BAND"}),
        ),
        (
            "TCI.tif",
            serde_json::json!({"OVR_RESAMPLING_ALG": "NEAREST", "AREA_OR_POINT": "Area"}),
            serde_json::json!({"COMPRESSION": "DEFLATE", "INTERLEAVE": "PIXEL"}),
        ),
    ] {
        let v = get(&app, &format!("/cog/validate?url={}", url(file))).await.json();
        assert_eq!(v["Tags"]["Image Metadata"], metadata, "{file}");
        assert_eq!(v["Tags"]["Image Structure"], structure, "{file}");
        let bands = v["Band Metadata"].as_object().unwrap();
        assert_eq!(bands.len() as u64, v["Profile"]["Bands"].as_u64().unwrap(), "{file}");
        assert_eq!(
            bands["Band 1"],
            serde_json::json!({"Description": null, "ColorInterp": v["Profile"]["ColorInterp"][0],
                "Offset": 0.0, "Scale": 1.0, "Metadata": {}}),
            "{file}"
        );
    }
    // A GCP file is described as rasterio opens it (rio-cogeo), not as rio-tiler's warped
    // VRT of it: three Int8 bands of 70 x 50, no alpha band.
    let v = get(&app, &format!("/cog/validate?url={}", url("regress_gcp_int8_rgb.tif"))).await.json();
    let p = &v["Profile"];
    assert_eq!(v["Driver"], "GTiff", "{v}");
    assert_eq!(
        (&p["Bands"], &p["Dtype"], &p["Width"], &p["Height"], &p["AlphaBand"]),
        (
            &serde_json::json!(3),
            &serde_json::json!("int8"),
            &serde_json::json!(70),
            &serde_json::json!(50),
            &serde_json::json!(false)
        ),
        "{v}"
    );
    assert_eq!(v["Band Metadata"].as_object().unwrap().len(), 3);
}
