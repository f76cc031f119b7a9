//! The dataset router is written once against `BaseReader`: a source that is not a file
//! at all (a gradient whose values are its own Web Mercator coordinates) mounted at a
//! prefix answers the router's endpoints with its pixels where the TileMatrixSet puts
//! them, gets the render recipe (expressions, rescale, colormaps) for free, says what it
//! cannot do with a 4xx, and is documented in OpenAPI with every parameter it accepts.

mod common;

use std::future::Future;
use std::sync::Arc;

use axum::http::StatusCode;
use imbrex_raster::reader::{BandDescription, FeatureRequest, PartRequest, PointRequest, TileRequest};
use imbrex_raster::render::ColorMap;
use imbrex_raster::tiff::NodataType;
use imbrex_raster::{
    BaseReader, Buffer, CpuPool, DataType, Error, FeatureReader, ImageData, Info, OutputSize, PointData, ReadOptions,
};
use imbrex_server::dataset::{self, DatasetFactory};
use imbrex_server::params::QueryGroup;
use imbrex_server::{ApiResult, AppState, Config};
use imbrex_testkit::npy::Npy;
use imbrex_tms::{Bounds, Crs, TileMatrixSet, Transformer};

use common::get;

/// Half the side of the Web Mercator square.
const HALF: f64 = 20037508.342789244;

/// Band 1 = x / 1000, band 2 = y / 1000 (km) at each pixel centre, in EPSG:3857.
struct Gradient {
    crs: Crs,
}

impl Gradient {
    fn world() -> Bounds {
        Bounds::new(-HALF, -HALF, HALF, HALF)
    }

    /// The gradient over a box of EPSG:3857, `w` x `h` pixels.
    fn image(&self, b: Bounds, w: usize, h: usize, opts: &ReadOptions) -> Result<ImageData, Error> {
        let bands = opts.indexes.clone().unwrap_or(vec![1, 2]);
        if bands.iter().any(|&i| i == 0 || i > 2) {
            return Err(Error::InvalidParameter { name: "bidx", reason: "the gradient has 2 bands".into() });
        }
        let (dx, dy) = ((b.right - b.left) / w as f64, (b.top - b.bottom) / h as f64);
        let mut data = Vec::with_capacity(bands.len() * w * h);
        for &band in &bands {
            for row in 0..h {
                for col in 0..w {
                    let (x, y) = (b.left + (col as f64 + 0.5) * dx, b.top - (row as f64 + 0.5) * dy);
                    data.push(if band == 1 { x / 1000.0 } else { y / 1000.0 } as f32);
                }
            }
        }
        let n = bands.len();
        Ok(ImageData {
            width: w,
            height: h,
            count: n,
            data: Buffer::Float32(data),
            band_mask: vec![255; n * w * h],
            bounds: b,
            crs: Some(self.crs.clone()),
            band_names: bands.iter().map(|b| format!("b{b}")).collect(),
            band_descriptions: bands.iter().map(|b| format!("b{b}")).collect(),
            nodata: None,
            scales: vec![1.0; n],
            offsets: vec![0.0; n],
            alpha_mask: None,
        })
    }
}

impl BaseReader for Gradient {
    fn info(&self) -> Info {
        Info {
            bounds: Gradient::world().to_array(),
            crs: Some("http://www.opengis.net/def/crs/EPSG/0/3857".into()),
            band_metadata: vec![("b1".into(), Default::default()), ("b2".into(), Default::default())],
            band_descriptions: vec![BandDescription("b1".into(), "x".into()), BandDescription("b2".into(), "y".into())],
            dtype: DataType::Float32,
            nodata_type: NodataType::None,
            colorinterp: vec!["gray".into(), "undefined".into()],
            scales: vec![1.0, 1.0],
            offsets: vec![0.0, 0.0],
            colormap: None,
            driver: "gradient".into(),
            count: 2,
            width: 4096,
            height: 4096,
            overviews: vec![],
            nodata_value: None,
            minmax: None,
        }
    }

    fn crs(&self) -> Option<&Crs> {
        Some(&self.crs)
    }

    fn bounds(&self) -> Bounds {
        Gradient::world()
    }

    fn geographic_bounds(&self) -> Bounds {
        Bounds::new(-180.0, -85.0511287798066, 180.0, 85.0511287798066)
    }

    fn zoom_range(&self, _: &TileMatrixSet) -> (i32, i32) {
        (0, 4)
    }

    fn palette(&self) -> Option<ColorMap> {
        None
    }

    fn tile(
        &self,
        req: TileRequest<'_>,
        opts: &ReadOptions,
    ) -> impl Future<Output = imbrex_raster::Result<ImageData>> + Send {
        let size = req.tilesize.unwrap_or(256);
        let out = match req.tms.xy_bounds(req.tile) {
            Ok(b) if req.tms.crs().same_as(&self.crs) => self.image(b, size, size, opts),
            Ok(_) => Err(Error::Unsupported { reason: "the gradient is tiled in Web Mercator only".into() }),
            Err(e) => Err(e.into()),
        };
        std::future::ready(out)
    }

    fn part(
        &self,
        req: PartRequest<'_>,
        opts: &ReadOptions,
    ) -> impl Future<Output = imbrex_raster::Result<ImageData>> + Send {
        let (h, w) = req.size.resolve(256.0, 256.0);
        let same =
            req.bounds_crs.is_none_or(|c| c.same_as(&self.crs)) && req.dst_crs.is_none_or(|c| c.same_as(&self.crs));
        std::future::ready(if same {
            self.image(req.bbox, w, h, opts)
        } else {
            Err(Error::Unsupported { reason: "the gradient is read in Web Mercator only".into() })
        })
    }

    fn preview(
        &self,
        size: OutputSize,
        opts: &ReadOptions,
    ) -> impl Future<Output = imbrex_raster::Result<ImageData>> + Send {
        let size = if size.is_unset() { OutputSize::max(256) } else { size };
        let (h, w) = size.resolve(4096.0, 4096.0);
        std::future::ready(self.image(Gradient::world(), w, h, opts))
    }

    fn point(
        &self,
        req: PointRequest<'_>,
        _: &ReadOptions,
    ) -> impl Future<Output = imbrex_raster::Result<PointData>> + Send {
        let wgs84 = Crs::wgs84();
        let out = Transformer::new(req.coord_crs.unwrap_or(&wgs84), &self.crs)
            .and_then(|t| t.transform(req.x, req.y))
            .map_err(Error::from)
            .map(|(x, y)| PointData {
                values: vec![x / 1000.0, y / 1000.0],
                valid: vec![true, true],
                band_names: vec!["b1".into(), "b2".into()],
                band_descriptions: vec!["x".into(), "y".into()],
                pixel_location: (0.0, 0.0),
                coordinates: (x, y),
                crs: Some(self.crs.clone()),
            });
        std::future::ready(out)
    }
}

/// The gradient under a shape: its bounding box (no cutline), in Web Mercator only.
impl FeatureReader for Gradient {
    fn feature(
        &self,
        req: FeatureRequest<'_>,
        opts: &ReadOptions,
    ) -> impl Future<Output = imbrex_raster::Result<ImageData>> + Send {
        let part = PartRequest {
            bbox: req.shape.bounds(),
            bounds_crs: Some(req.shape_crs),
            dst_crs: req.dst_crs,
            size: req.size,
        };
        self.part(part, opts)
    }
}

/// The gradient, named by nothing (an optional `label` shows that a factory's own
/// parameters reach OpenAPI).
struct Synthetic;

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SyntheticParams {
    /// A label, for the test of the document.
    #[allow(dead_code)]
    label: Option<String>,
}

impl QueryGroup for SyntheticParams {
    fn parse(_: &AppState, q: &imbrex_server::extract::QueryMap) -> ApiResult<SyntheticParams> {
        Ok(SyntheticParams { label: q.raw("label").map(str::to_string) })
    }
}

impl DatasetFactory for Synthetic {
    type Reader = Gradient;
    type Params = SyntheticParams;
    const PREFIX: &'static str = "/synthetic";
    const TAG: &'static str = "Synthetic";

    async fn open(_: &AppState, _: &SyntheticParams) -> ApiResult<Arc<Gradient>> {
        Ok(Arc::new(Gradient { crs: Crs::web_mercator() }))
    }

    fn key(_: &SyntheticParams) -> String {
        "gradient".into()
    }
}

fn app_with(state: AppState) -> axum::Router {
    let routes = dataset::router::<Synthetic>().merge(dataset::feature_router::<Synthetic>());
    axum::Router::new().nest(Synthetic::PREFIX, routes).with_state(state)
}

fn app() -> axum::Router {
    app_with(AppState::new(Config::default()).unwrap())
}

/// Every route of the router, as a client calls it.
const EVERY_GET: [&str; 17] = [
    "/synthetic/info",
    "/synthetic/info.geojson",
    "/synthetic/WebMercatorQuad/tilejson.json",
    "/synthetic/WebMercatorQuad/map.html",
    "/synthetic/tiles",
    "/synthetic/tiles/WebMercatorQuad",
    "/synthetic/WMTSCapabilities.xml",
    "/synthetic/tiles/WebMercatorQuad/2/1/1?bidx=1",
    "/synthetic/tiles/WebMercatorQuad/2/1/1.webp?bidx=2",
    "/synthetic/preview?bidx=1",
    "/synthetic/preview.tif",
    "/synthetic/preview/64x32.jpg?bidx=1",
    "/synthetic/bbox/0,0,1000,1000.png?coord_crs=EPSG:3857",
    "/synthetic/bbox/0,0,1000,1000/20x10.png?coord_crs=EPSG:3857",
    "/synthetic/map?bbox=0,0,1000,1000&bbox-crs=EPSG:3857&crs=EPSG:3857&width=32",
    "/synthetic/point/10,20",
    "/synthetic/statistics",
];
const EVERY_POST: [&str; 4] = [
    "/synthetic/feature?coord_crs=EPSG:3857&max_size=64&bidx=1",
    "/synthetic/feature.png?coord_crs=EPSG:3857&max_size=64",
    "/synthetic/feature/30x20.npy?coord_crs=EPSG:3857",
    "/synthetic/statistics?coord_crs=EPSG:3857&max_size=64",
];

/// The centre of pixel (col, row) of a 256 px WebMercatorQuad tile, in km.
fn centre(z: u32, x: u64, y: u64, col: usize, row: usize) -> (f64, f64) {
    let side = 2.0 * HALF / 2f64.powi(z as i32);
    let (left, top) = (-HALF + x as f64 * side, HALF - y as f64 * side);
    let px = side / 256.0;
    ((left + (col as f64 + 0.5) * px) / 1000.0, (top - (row as f64 + 0.5) * px) / 1000.0)
}

#[tokio::test]
async fn a_source_that_is_not_a_file_gets_every_endpoint() {
    let app = app();
    // Tiles: every pixel is its own coordinate, for tiles all over the matrix.
    for (z, x, y) in [(0, 0, 0), (1, 1, 0), (3, 2, 5), (4, 15, 15)] {
        let r = get(&app, &format!("/synthetic/tiles/WebMercatorQuad/{z}/{x}/{y}.npy")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let a = Npy::parse(&r.body).unwrap();
        assert_eq!(a.shape, vec![3, 256, 256], "two bands and the mask");
        for (col, row) in [(0, 0), (255, 0), (17, 200), (255, 255)] {
            let (ex, ey) = centre(z, x, y, col, row);
            let (gx, gy) = (a.values[row * 256 + col], a.values[256 * 256 + row * 256 + col]);
            assert!((gx - ex).abs() < 1e-3 * ex.abs().max(1.0), "x of {z}/{x}/{y} ({col},{row}): {gx} vs {ex}");
            assert!((gy - ey).abs() < 1e-3 * ey.abs().max(1.0), "y of {z}/{x}/{y} ({col},{row}): {gy} vs {ey}");
        }
    }
    // The recipe applies to any source: band math, then rescale and a colormap.
    let r = get(&app, "/synthetic/tiles/WebMercatorQuad/2/1/1.npy?expression=b1%2Bb2&tilesize=64").await;
    let a = Npy::parse(&r.body).unwrap();
    assert_eq!(a.shape, vec![2, 64, 64]);
    let side = 2.0 * HALF / 4.0 / 64.0;
    let expected = ((-HALF + 2.0 * HALF / 4.0 + 0.5 * side) + (HALF - 2.0 * HALF / 4.0 - 0.5 * side)) / 1000.0;
    assert!((a.values[0] - expected).abs() < 1e-2, "{} vs {expected}", a.values[0]);
    let r =
        get(&app, "/synthetic/tiles/WebMercatorQuad/1/0/0.png?bidx=1&rescale=-20000,20000&colormap_name=viridis").await;
    assert_eq!((r.status, r.content_type()), (StatusCode::OK, "image/png"));
    // Metadata documents point at the prefix.
    let tj = get(&app, "/synthetic/WebMercatorQuad/tilejson.json?label=a").await.json();
    assert_eq!(tj["tiles"][0], "http://test.local/synthetic/tiles/WebMercatorQuad/{z}/{x}/{y}?label=a");
    assert_eq!((tj["minzoom"].as_i64(), tj["maxzoom"].as_i64()), (Some(0), Some(4)));
    assert_eq!(get(&app, "/synthetic/info").await.json()["driver"], "gradient");
    let wmts = get(&app, "/synthetic/WMTSCapabilities.xml").await.text();
    assert!(wmts.contains("http://test.local/synthetic/tiles/WebMercatorQuad/{TileMatrix}/{TileCol}/{TileRow}.png"));
    // Values: a point, and statistics of the preview.
    let pt = get(&app, "/synthetic/point/90,0").await.json();
    let x = pt["values"][0].as_f64().unwrap();
    assert!((x - HALF / 2000.0).abs() < 1e-6, "{x}");
    let stats = get(&app, "/synthetic/statistics?max_size=128").await.json();
    let max = stats["b1"]["max"].as_f64().unwrap();
    let px = 2.0 * HALF / 128.0 / 1000.0;
    assert!((max - (HALF / 1000.0 - px / 2.0)).abs() < 1e-2, "{max}");
    let bbox = get(&app, "/synthetic/bbox/0,0,1000000,500000/100x50.npy?coord_crs=EPSG:3857").await;
    let a = Npy::parse(&bbox.body).unwrap();
    assert_eq!(a.shape, vec![3, 50, 100]);
    assert!((a.values[0] - 5.0).abs() < 1e-4, "the first pixel's centre is 5 km east: {}", a.values[0]);
    // What the source cannot do is the client's 4xx, never a 500.
    let r = get(&app, "/synthetic/tiles/WorldCRS84Quad/1/0/0.png").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(
        get(&app, "/synthetic/tiles/WebMercatorQuad/1/0/0.png?bidx=3").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(get(&app, "/synthetic/nothing").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_route_answers() {
    let app = app();
    for path in EVERY_GET {
        let r = get(&app, path).await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.text());
    }
    let feature = r#"{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon",
        "coordinates": [[[0, 0], [1000, 0], [1000, 1000], [0, 1000], [0, 0]]]}}"#;
    for path in EVERY_POST {
        let req = axum::http::Request::post(path)
            .header(axum::http::header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from(feature))
            .unwrap();
        let r = common::request(&app, req).await;
        assert_eq!(r.status, StatusCode::OK, "POST {path}: {}", r.text());
    }
}

#[tokio::test]
async fn an_overloaded_pool_is_a_503_with_retry_after() {
    // One CPU thread and one waiting job: hold the thread, fill the queue, and a tile
    // (which renders on the pool) is refused.
    let state = AppState::new(Config::default()).unwrap().with(|s| s.render.cpu = CpuPool::new(1, 1));
    let pool = state.render.cpu.clone();
    let app = app_with(state);
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let running = tokio::spawn({
        let pool = pool.clone();
        async move { pool.run(move || hold.recv().is_ok()).await }
    });
    while pool.running() < 1 {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let waiting = tokio::spawn({
        let pool = pool.clone();
        async move { pool.run(|| ()).await }
    });
    while pool.waiting() < 1 {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let r = get(&app, "/synthetic/tiles/WebMercatorQuad/1/0/0.png").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert_eq!(r.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    release.send(()).unwrap();
    running.await.unwrap().unwrap();
    waiting.await.unwrap().unwrap();
    assert_eq!(get(&app, "/synthetic/tiles/WebMercatorQuad/1/0/0.png").await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_document_of_a_mounted_source_lists_every_parameter() {
    let mut paths = dataset::openapi::paths::<Synthetic>();
    paths.merge(dataset::openapi::feature_paths::<Synthetic>());
    let doc = serde_json::to_value(&paths).unwrap();
    // One operation per route form a client calls (the sized and dotted forms included),
    // and every path parameter typed.
    let operations: usize = doc.as_object().unwrap().values().map(|item| item.as_object().unwrap().len()).sum();
    assert_eq!(operations, EVERY_GET.len() + EVERY_POST.len());
    for (path, item) in doc.as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().unwrap() {
                assert!(p["schema"].is_object(), "{method} {path}: {} has no schema", p["name"]);
            }
        }
    }
    let names = |path: &str, method: &str| -> Vec<String> {
        doc[path][method]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path} is not documented"))
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    for (path, method) in [
        ("/synthetic/tiles/{tileMatrixSetId}/{z}/{x}/{y}.{format}", "get"),
        ("/synthetic/preview", "get"),
        ("/synthetic/bbox/{minx},{miny},{maxx},{maxy}.{format}", "get"),
        ("/synthetic/feature", "post"),
        ("/synthetic/map", "get"),
    ] {
        let p = names(path, method);
        for want in [
            "label",
            "bidx",
            "expression",
            "nodata",
            "unscale",
            "resampling",
            "reproject",
            "algorithm",
            "algorithm_params",
            "rescale",
            "color_formula",
            "colormap_name",
            "colormap",
            "return_mask",
        ] {
            assert!(p.iter().any(|n| n == want), "{method} {path} does not document {want}: {p:?}");
        }
        let mut unique = p.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), p.len(), "{method} {path} lists a parameter twice: {p:?}");
    }
    for want in ["histogram_bins", "p", "categorical", "max_size", "expression"] {
        assert!(names("/synthetic/statistics", "get").iter().any(|n| n == want), "statistics lacks {want}");
    }
    assert!(names("/synthetic/statistics", "post").iter().any(|n| n == "cover_scale"));
    assert_eq!(doc["/synthetic/info"]["get"]["tags"][0], "Synthetic");
}
