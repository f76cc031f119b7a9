//! `/cog/tiles/...npy`, `/cog/point` and `/cog/statistics` (GET and POST) against the
//! rio-tiler oracle and TiTiler's response shapes, plus their parameter errors.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{app_with, get, request};
use imbrex_server::Config;
use imbrex_testkit::npy::Npy;
use imbrex_testkit::{close, num};
use serde_json::{Value, json};

fn raster(name: &str) -> String {
    let p = imbrex_testkit::raster(name);
    form_urlencoded::byte_serialize(p.to_str().unwrap().as_bytes()).collect()
}

fn app() -> axum::Router {
    app_with(Config { allow_path: vec![imbrex_testkit::testdata("raster")], ..Default::default() })
}

fn oracle(name: &str) -> Value {
    imbrex_testkit::read_json(&imbrex_testkit::testdata(&format!("oracle/{name}/oracle.json")))
}

async fn post(app: &axum::Router, uri: &str, body: &Value) -> common::Reply {
    let req = Request::post(uri)
        .header(header::HOST, "test.local")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    request(app, req).await
}

#[tokio::test]
async fn npy_tiles_are_the_oracle_tiles_plus_their_mask() {
    let app = app();
    let o = oracle("cog_int16");
    let t = o["tiles"].as_array().unwrap().iter().find(|t| t["mask_summary"] == "partial").unwrap().clone();
    let uri =
        format!("/cog/tiles/WebMercatorQuad/{}/{}/{}.npy?url={}", t["z"], t["x"], t["y"], raster("cog_int16.tif"));
    let r = get(&app, &uri).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.content_type(), "application/x-binary");
    let a = Npy::parse(&r.body).unwrap();
    assert_eq!(a.shape, vec![2, 256, 256]);
    assert_eq!(a.descr, "<i2");
    let dir = imbrex_testkit::testdata("oracle/cog_int16");
    let data = Npy::read(&dir.join(t["data"].as_str().unwrap()));
    let mask = Npy::read(&dir.join(t["mask"].as_str().unwrap()));
    let n = 256 * 256;
    assert_eq!(a.mask_0_255(), mask.values, "the last band is the mask");
    for i in (0..n).filter(|&i| mask.values[i] != 0.0) {
        assert_eq!(a.values[i], data.values[i]);
    }
    // The same tile through the `format` query parameter, and with 512 px tiles.
    let r = get(
        &app,
        &format!(
            "/cog/tiles/WebMercatorQuad/{}/{}/{}?format=npy&tilesize=512&url={}",
            t["z"],
            t["x"],
            t["y"],
            raster("cog_int16.tif")
        ),
    )
    .await;
    assert_eq!(Npy::parse(&r.body).unwrap().shape, vec![2, 512, 512]);
    // Band selection: one band of an RGB file, uint8 kept.
    let tci = oracle("TCI");
    let t = &tci["tiles"][0];
    let r =
        get(&app, &format!("/cog/tiles/WebMercatorQuad/{}/{}/{}.npy?url=demo&bidx=2", t["z"], t["x"], t["y"])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let a = Npy::parse(&r.body).unwrap();
    assert_eq!((a.shape[0], a.descr.as_str()), (2, "|u1"));
}

#[tokio::test]
async fn tile_errors_name_their_cause() {
    let app = app();
    let url = raster("cog_int16.tif");
    let outside = get(&app, &format!("/cog/tiles/WebMercatorQuad/9/431/413.npy?url={url}")).await;
    assert_eq!(outside.status, StatusCode::NOT_FOUND, "{}", outside.text());
    assert!(outside.json()["detail"].as_str().unwrap().contains("outside bounds"));
    for (query, loc) in [
        ("bidx=0", "bidx"),
        ("bidx=9", "bidx"),
        ("nodata=abc", "nodata"),
        ("resampling=sharpest", "resampling"),
        ("reproject=gauss", "reproject"),
        ("buffer=0.3", "buffer"),
        // TiTiler: `gt=0`; a negative buffer would shrink the tile.
        ("buffer=-1", "buffer"),
        ("buffer=-0.5", "buffer"),
        ("buffer=0", "buffer"),
        ("padding=0", "padding"),
        ("padding=-2", "padding"),
        ("tilesize=0", "tilesize"),
        ("unscale=maybe", "unscale"),
    ] {
        let r = get(&app, &format!("/cog/tiles/WebMercatorQuad/5/10/6.npy?url={url}&{query}")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {}", r.text());
        assert_eq!(r.json()["detail"][0]["loc"][1], loc, "{query}");
    }
    let r = get(&app, &format!("/cog/tiles/WebMercatorQuad/abc/10/6.npy?url={url}")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["detail"][0]["loc"], json!(["path", "z"]));
    let r = get(&app, &format!("/cog/tiles/WebMercatorQuad/5/10/6.gif?url={url}")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = get(&app, &format!("/cog/tiles/NoSuchGrid/5/10/6.npy?url={url}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A tile beyond the matrix is not found, not a crash.
    let r = get(&app, &format!("/cog/tiles/WebMercatorQuad/5/99999/6.npy?url={url}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
}

#[tokio::test]
async fn points_match_the_oracle_in_titilers_shape() {
    let app = app();
    let o = oracle("cog_int16");
    let p = &o["points"][0];
    let r = get(&app, &format!("/cog/point/{},{}?url={}", p["lon"], p["lat"], raster("cog_int16.tif"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    // TiTiler writes values as floats (31.0), rio-tiler's oracle as the dtype's (31).
    let as_f64 = |a: &Value| a.as_array().unwrap().iter().map(num).collect::<Vec<f64>>();
    assert_eq!(as_f64(&v["values"]), as_f64(&p["values"]));
    assert_eq!(v["band_names"], json!(["b1"]));
    assert_eq!(v["band_descriptions"], json!(["b1"]));
    assert_eq!(v["coordinates"], json!([num(&p["lon"]), num(&p["lat"])]));
    // A masked value is null (nodata override equal to the value).
    let value = p["values"][0].as_f64().unwrap();
    let r = get(&app, &format!("/cog/point/{},{}?url={}&nodata={value}", p["lon"], p["lat"], raster("cog_int16.tif")))
        .await;
    assert_eq!(r.json()["values"], json!([null]));
    // An expression over the point's values; a masked value stays masked through it.
    let at = format!("/cog/point/{},{}?url={}", p["lon"], p["lat"], raster("cog_int16.tif"));
    let r = get(&app, &format!("{at}&expression=b1*2%2B1")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(as_f64(&r.json()["values"]), vec![value * 2.0 + 1.0]);
    let r = get(&app, &format!("{at}&expression=b1*2%2B1&nodata={value}")).await;
    assert_eq!(r.json()["values"], json!([null]));
    assert_eq!(get(&app, &format!("{at}&expression=b9")).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Outside, malformed.
    let r = get(&app, &format!("/cog/point/0,0?url={}", raster("cog_int16.tif"))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = get(&app, &format!("/cog/point/abc,1?url={}", raster("cog_int16.tif"))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = get(&app, &format!("/cog/point/12?url={}", raster("cog_int16.tif"))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // coord_crs: the same point given in the dataset's own CRS.
    let info = get(&app, &format!("/cog/info?url={}", raster("cog_int16.tif"))).await.json();
    let b: Vec<f64> = info["bounds"].as_array().unwrap().iter().map(num).collect();
    let (x, y) = ((b[0] + b[2]) / 2.0 + 1.0, (b[1] + b[3]) / 2.0 + 1.0);
    let crs: String = form_urlencoded::byte_serialize(info["crs"].as_str().unwrap().as_bytes()).collect();
    let r = get(&app, &format!("/cog/point/{x},{y}?url={}&coord_crs={crs}", raster("cog_int16.tif"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(as_f64(&r.json()["values"]), as_f64(&p["values"]));
}

#[tokio::test]
async fn statistics_match_the_oracle_and_take_titilers_parameters() {
    let app = app();
    let o = oracle("cog_int16");
    let r = get(&app, &format!("/cog/statistics?url={}", raster("cog_int16.tif"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let (got, want) = (r.json()["b1"].clone(), o["statistics"]["b1"].clone());
    let keys: Vec<&str> = want.as_object().unwrap().keys().map(String::as_str).collect();
    let got_keys: Vec<&str> = got.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(got_keys, keys, "TiTiler's key order");
    for k in keys {
        if k == "histogram" || k == "description" {
            assert_eq!(got[k], want[k], "{k}");
        } else {
            assert!(close(num(&got[k]), num(&want[k]), 1e-12, 0.0), "{k}: {} vs {}", got[k], want[k]);
        }
    }
    let r = get(
        &app,
        &format!("/cog/statistics?url={}&p=5&p=50&histogram_bins=4&histogram_range=50,250", raster("cog_int16.tif")),
    )
    .await;
    let b1 = &r.json()["b1"];
    assert!(b1.get("percentile_5").is_some() && b1.get("percentile_50").is_some() && b1.get("percentile_2").is_none());
    assert_eq!(b1["histogram"][0].as_array().unwrap().len(), 4);
    assert_eq!(b1["histogram"][1], json!([50.0, 100.0, 150.0, 200.0, 250.0]));
    let r = get(&app, &format!("/cog/statistics?url={}&categorical=true&c=95&c=1000", raster("cog_int16.tif"))).await;
    let h = &r.json()["b1"]["histogram"];
    assert_eq!(h[1], json!([95.0, 1000.0]));
    assert!(h[0][0].as_u64().unwrap() > 0 && h[0][1] == 0);
    // All nodata: NaN statistics come out as null, not as invalid JSON.
    let r = get(&app, &format!("/cog/statistics?url={}", raster("all-nodata.tif"))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["b1"]["min"], Value::Null);
    for (query, loc) in [
        ("p=101", "p"),
        ("histogram_bins=0", "histogram_bins"),
        ("histogram_range=5", "histogram_range"),
        ("max_size=0", "max_size"),
    ] {
        let r = get(&app, &format!("/cog/statistics?url={}&{query}", raster("cog_int16.tif"))).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(r.json()["detail"][0]["loc"][1], loc);
    }
}

#[tokio::test]
async fn geojson_statistics_are_rio_tilers_zonal_statistics() {
    let app = app();
    let fixture =
        imbrex_testkit::read_json(&imbrex_testkit::manifest_dir().join("../imbrex-raster/tests/fixtures/reads.json"));
    let case = fixture["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "feature" && c["raster"] == "dem.tif")
        .unwrap();
    let r = post(&app, &format!("/cog/statistics?url={}", raster("dem.tif")), &case["feature"]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.content_type(), "application/geo+json");
    let out = r.json();
    assert_eq!(out["type"], "Feature");
    assert_eq!(out["geometry"], case["feature"]["geometry"]);
    let (got, want) = (&out["properties"]["statistics"]["b1"], &case["statistics"]["b1"]);
    for k in ["min", "max", "mean", "count", "sum", "std", "median", "valid_pixels", "masked_pixels", "valid_percent"] {
        assert!(close(num(&got[k]), num(&want[k]), 1e-6, 0.0), "{k}: {} vs {}", got[k], want[k]);
    }
    // A FeatureCollection gets statistics on every feature.
    let fc = json!({"type": "FeatureCollection", "features": [case["feature"], case["feature"]]});
    let r = post(&app, &format!("/cog/statistics?url={}", raster("dem.tif")), &fc).await;
    assert_eq!(r.status, StatusCode::OK);
    let feats = r.json()["features"].as_array().unwrap().clone();
    assert_eq!(feats.len(), 2);
    assert_eq!(feats[1]["properties"]["statistics"]["b1"]["count"], got["count"]);
    // Bad bodies are 422s on the body.
    for body in [
        json!({"type": "Point"}),
        json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]}}),
        json!([1, 2]),
    ] {
        let r = post(&app, &format!("/cog/statistics?url={}", raster("dem.tif")), &body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", r.text());
        assert_eq!(r.json()["detail"][0]["loc"][0], "body");
    }
    let req = Request::post(format!("/cog/statistics?url={}", raster("dem.tif")))
        .header(header::HOST, "test.local")
        .body(Body::from("{not json"))
        .unwrap();
    assert_eq!(request(&app, req).await.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn huge_output_sizes_are_refused_not_overflowed() {
    let app = app();
    // Found by schemathesis: a height whose pixel count overflowed the size check.
    for path in [
        "/cog/map?url=demo&height=84930150005",
        "/cog/preview.png?url=demo&width=4294967296&height=4294967296",
        "/cog/preview.png?url=demo&width=18446744073709551615&height=18446744073709551615",
        "/cog/bbox/0,0,1,1/18446744073709551615x2.png?url=demo",
    ] {
        let r = get(&app, path).await;
        assert!(r.status.is_client_error(), "{path}: {} {}", r.status, r.text());
    }
    let r = get(&app, "/cog/preview.png?url=demo&width=4294967296&height=4294967296").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("output pixels"), "{}", r.text());
}
