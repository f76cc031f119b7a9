//! Real clients read imbrex: GDAL's WMTS driver and MapLibre GL in headless Chromium.
//!
//! The programs come from Debian (`gdal-bin`, `chromium`, `chromium-driver`); scripts/test
//! installs them when it runs as root. Without them these tests fail, they are not skipped.

mod common;

use std::process::Command;

use common::{Server, require_program};

fn run(program: &str, args: &[&str]) -> String {
    // GDAL's WMS/WMTS driver would otherwise keep a tile cache in the working directory.
    let out = Command::new(program)
        .args(args)
        .env("GDAL_ENABLE_WMS_CACHE", "NO")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn num(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn gdal_wmts_driver_reads_the_capabilities() {
    let gdalinfo = require_program("gdalinfo");
    let gdal_translate = require_program("gdal_translate");
    let server = Server::start(&[]);
    let caps = format!("WMTS:{}", server.url("/cog/WMTSCapabilities.xml?url=demo"));

    // One layer per TileMatrixSet: GDAL lists each as a subdataset.
    let (status, body) = server.get("/tileMatrixSets");
    assert_eq!(status, 200);
    let n_tms = json(&String::from_utf8_lossy(&body))["tileMatrixSets"].as_array().unwrap().len();
    let listing = run(&gdalinfo, &[&caps]);
    let subdatasets = listing.lines().filter(|l| l.contains("SUBDATASET_") && l.contains("_NAME=")).count();
    assert_eq!(subdatasets, n_tms, "{listing}");

    // The WebMercatorQuad layer: a 3857 raster covering the dataset's bounds.
    let layer = format!("{caps},layer=demo_WebMercatorQuad_default");
    let info = json(&run(&gdalinfo, &["-json", &layer]));
    assert!(info["coordinateSystem"]["wkt"].as_str().unwrap().contains("3857"), "{info}");
    let (status, geo) = server.get("/cog/info.geojson?url=demo");
    assert_eq!(status, 200);
    let bbox: Vec<f64> = json(&String::from_utf8_lossy(&geo))["bbox"].as_array().unwrap().iter().map(num).collect();
    let ring = &info["wgs84Extent"]["coordinates"][0];
    let lons: Vec<f64> = ring.as_array().unwrap().iter().map(|p| num(&p[0])).collect();
    let lats: Vec<f64> = ring.as_array().unwrap().iter().map(|p| num(&p[1])).collect();
    let (w, e) = (lons.iter().cloned().fold(f64::MAX, f64::min), lons.iter().cloned().fold(f64::MIN, f64::max));
    let (s, n) = (lats.iter().cloned().fold(f64::MAX, f64::min), lats.iter().cloned().fold(f64::MIN, f64::max));
    let slack = (bbox[2] - bbox[0]) * 0.01;
    assert!(w <= bbox[0] + slack && e >= bbox[2] - slack && s <= bbox[1] + slack && n >= bbox[3] - slack, "{info}");
    assert!(e - w < 2.0 * (bbox[2] - bbox[0]), "GDAL's extent is far larger than the data: {info}");

    // GDAL fetches and decodes tiles: a small copy has imagery in its colour bands.
    let dir = std::env::temp_dir().join(format!("imbrex-wmts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("wmts.tif");
    run(&gdal_translate, &["-q", "-outsize", "256", "0", &layer, out.to_str().unwrap()]);
    let stats = json(&run(&gdalinfo, &["-json", "-stats", out.to_str().unwrap()]));
    let bands = stats["bands"].as_array().unwrap();
    assert_eq!(bands.len(), 4, "RGB + alpha");
    for b in &bands[..3] {
        assert!(num(&b["maximum"]) > 0.0 && num(&b["stdDev"]) > 1.0, "empty band: {b}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Screenshots of `page` in headless Chromium (`window` = "W,H") until `done` accepts what
/// `measure` makes of one: its virtual time can run out before the tiles arrive when the
/// machine is busy (parallel tests), so a screenshot without them is retried, twice at
/// most. The last measure.
fn screenshot<M>(page: &str, window: &str, measure: impl Fn(&std::path::Path) -> M, done: impl Fn(&M) -> bool) -> M {
    let chromium = require_program("chromium");
    let dir = std::env::temp_dir().join(format!("imbrex-chromium-{}-{window}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("shot.png");
    let mut last = None;
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(dir.join("profile"));
        run(
            &chromium,
            &[
                "--headless",
                "--no-sandbox",
                // Keep Chromium's own background calls (updates, sync) off the network.
                "--disable-component-update",
                "--disable-background-networking",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader",
                &format!("--user-data-dir={}", dir.join("profile").display()),
                &format!("--window-size={window}"),
                "--virtual-time-budget=30000",
                &format!("--screenshot={}", shot.display()),
                page,
            ],
        );
        let m = measure(&shot);
        let ok = done(&m);
        last = Some(m);
        if ok {
            break;
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    last.expect("three screenshots")
}

#[test]
fn maplibre_in_headless_chromium_draws_tiles() {
    let server = Server::start(&[]);
    let page = server.url("/cog/WebMercatorQuad/map.html?url=demo");
    let (imagery, total, colours) = screenshot(&page, "640,480", imagery, |m| m.0 * 5 > m.1 && m.2 > 500);
    // The page's background is #dde and the map fits the dataset's geographic bounds; the
    // demo (a UTM scene) fills about a third of the view, a blank map none of it.
    assert!(imagery * 5 > total, "only {imagery} of {total} pixels show tiles");
    assert!(colours > 500, "a flat screenshot ({colours} colours) is not imagery");
}

/// A newcomer's first page: `/` in a browser shows the demo as imagery, not only links.
#[test]
fn the_landing_page_shows_the_demo_on_a_map() {
    let server = Server::start(&[]);
    let (colourful, total, colours) =
        screenshot(&server.url("/"), "800,600", colourful, |m| m.0 * 40 > m.1 && m.2 > 5000);
    // Text, links and the map's grey background are neither colourful nor many colours (the
    // page without the demo: 1.3 % colourful, 473 colours); the scene is (8 %, 20,000).
    assert!(colourful * 40 > total, "only {colourful} of {total} pixels are colourful");
    assert!(colours > 5000, "{colours} colours: text, not imagery");
}

/// Pixels whose channels differ by more than 24 (neither grey, white nor #dde), all
/// pixels, and distinct colours of a screenshot.
fn colourful(shot: &std::path::Path) -> (usize, usize, usize) {
    let pixels = screenshot_pixels(shot);
    let n = pixels.iter().filter(|p| p.iter().max().unwrap() - p.iter().min().unwrap() > 24).count();
    (n, pixels.len(), distinct_colours(&pixels))
}

fn distinct_colours(pixels: &[[u8; 3]]) -> usize {
    let mut distinct = pixels.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    distinct.len()
}

fn screenshot_pixels(shot: &std::path::Path) -> Vec<[u8; 3]> {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buf).unwrap();
    let channels = frame.color_type.samples();
    buf[..frame.buffer_size()].chunks(channels).map(|p| [p[0], p[1], p[2]]).collect()
}

/// Pixels that are not the page's #dde background, all pixels, and distinct colours of a
/// screenshot.
fn imagery(shot: &std::path::Path) -> (usize, usize, usize) {
    let pixels = screenshot_pixels(shot);
    let imagery = pixels.iter().filter(|p| **p != [0xdd, 0xdd, 0xee]).count();
    (imagery, pixels.len(), distinct_colours(&pixels))
}

/// A minimal WebDriver client: HTTP/1.1 with JSON bodies, one connection per command.
struct WebDriver {
    addr: String,
    child: std::process::Child,
}

impl WebDriver {
    fn start() -> WebDriver {
        let driver = require_program("chromedriver");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(driver)
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        let wd = WebDriver { addr: format!("127.0.0.1:{port}"), child };
        for _ in 0..100 {
            if std::net::TcpStream::connect(&wd.addr).is_ok() && wd.call("GET", "/status", None)["ready"] == true {
                return wd;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("chromedriver did not start on {}", wd.addr);
    }

    /// One command; its `value`. The reply is read by its length (chromedriver keeps the
    /// connection open whatever the request says).
    fn call(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> serde_json::Value {
        use std::io::{BufRead, Read, Write};
        let mut s = std::net::TcpStream::connect(&self.addr).unwrap();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut r = std::io::BufReader::new(s);
        let (mut length, mut chunked) = (0, false);
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let line = line.trim_end().to_ascii_lowercase();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            chunked |= line == "transfer-encoding: chunked";
        }
        let mut reply = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                r.read_line(&mut size).unwrap();
                let size = usize::from_str_radix(size.trim(), 16).expect("chunk size");
                let mut chunk = vec![0; size + 2];
                r.read_exact(&mut chunk).unwrap();
                if size == 0 {
                    break;
                }
                reply.extend_from_slice(&chunk[..size]);
            }
        } else {
            reply.resize(length, 0);
            r.read_exact(&mut reply).unwrap();
        }
        json(&String::from_utf8_lossy(&reply))["value"].take()
    }
}

impl WebDriver {
    /// A headless Chromium session in real time (MapLibre decodes tiles in web workers,
    /// which Chromium's virtual time never lets finish); its id.
    fn session(&self, window: &str) -> String {
        let chromium = require_program("chromium");
        let session = self.call(
            "POST",
            "/session",
            Some(serde_json::json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                         format!("--window-size={window}"), "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]}}}})),
        );
        session["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {session}")).to_string()
    }

    /// Run `script` in the page until it returns true (at most 60 s); whether it did.
    fn wait_for(&self, id: &str, script: &str) -> bool {
        for _ in 0..600 {
            let v = self.call(
                "POST",
                &format!("/session/{id}/execute/sync"),
                Some(serde_json::json!({"script": script, "args": []})),
            );
            if v == true {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        false
    }

    /// The page's pixels now.
    fn screenshot(&self, id: &str) -> Vec<[u8; 3]> {
        use base64::Engine;
        let shot = self.call("GET", &format!("/session/{id}/screenshot"), None);
        let png = base64::engine::general_purpose::STANDARD.decode(shot.as_str().unwrap()).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut buf).unwrap();
        let channels = frame.color_type.samples();
        buf[..frame.buffer_size()].chunks(channels).map(|p| [p[0], p[1], p[2]]).collect()
    }
}

impl Drop for WebDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn maplibre_draws_postgis_vector_tiles() {
    let url = std::env::var("IMBREX_TEST_DATABASE_URL")
        .expect("IMBREX_TEST_DATABASE_URL is not set: run scripts/test, which starts PostGIS");
    let server = Server::start(&["--database-url", &url]);
    let wd = WebDriver::start();
    let id = wd.session("640,480");
    let page = server.url("/collections/public.countries/tiles/WebMercatorQuad/map.html");
    wd.call("POST", &format!("/session/{id}/url"), Some(serde_json::json!({"url": page})));
    // The page sets imbrexLoaded when MapLibre is idle: every tile in view drawn.
    let loaded = wd.wait_for(&id, "return window.imbrexLoaded === true");
    let pixels = wd.screenshot(&id);
    wd.call("DELETE", &format!("/session/{id}"), None);
    assert!(loaded, "MapLibre never became idle on {page}");
    let near = |c: [u8; 3]| pixels.iter().filter(|p| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) <= 8)).count();
    // The style fills countries with rgba(200, 100, 240, 0.4) on a white page, outlined in
    // black: the whole world in view shows land, sea and borders.
    let (land, sea, total) = (near([233, 193, 249]), near([255, 255, 255]), pixels.len());
    let border = pixels.iter().filter(|p| p.iter().all(|&v| v < 100)).count();
    assert!(land * 10 > total, "only {land} of {total} pixels are land fill");
    assert!(sea * 10 > total, "only {sea} of {total} pixels are sea");
    assert!(border > 500, "only {border} pixels of borders");
}

/// A picture for the viewer: colour bands that change along both axes.
fn write_picture(path: &std::path::Path, w: u32, h: u32) {
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            data.extend_from_slice(&[(x * 255 / w) as u8, (y * 255 / h) as u8, ((x / 64 + y / 64) % 2 * 200) as u8]);
        }
    }
    let mut out = Vec::new();
    let mut e = png::Encoder::new(&mut out, w, h);
    e.set_color(png::ColorType::Rgb);
    e.set_depth(png::BitDepth::Eight);
    e.write_header().unwrap().write_image_data(&data).unwrap();
    std::fs::write(path, out).unwrap();
}

#[test]
fn the_image_viewer_pans_in_headless_chromium() {
    let dir = std::env::temp_dir().join(format!("imbrex-viewer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let picture = dir.join("picture.png");
    write_picture(&picture, 3000, 2000);
    let server = Server::start(&[picture.to_str().unwrap()]);
    let wd = WebDriver::start();
    let id = wd.session("800,600");
    let page = server.url("/image/picture/viewer");
    wd.call("POST", &format!("/session/{id}/url"), Some(serde_json::json!({"url": page})));
    let first = "const v = window.imbrexViewer; return v && v.ready === true && v.tilesLoaded >= v.tilesRequested && v.tilesLoaded > 0";
    assert!(wd.wait_for(&id, first), "the viewer drew no tiles on {page}");
    let before = wd.screenshot(&id);
    // Zoom in twice with the + button, then drag the image 300 px left and 200 px up with a
    // real pointer.
    for _ in 0..2 {
        let button = wd.call(
            "POST",
            &format!("/session/{id}/element"),
            Some(serde_json::json!({"using": "css selector", "value": "#in"})),
        );
        let el = button.as_object().and_then(|o| o.values().next()).and_then(|v| v.as_str()).unwrap().to_string();
        wd.call("POST", &format!("/session/{id}/element/{el}/click"), Some(serde_json::json!({})));
    }
    wd.call(
        "POST",
        &format!("/session/{id}/actions"),
        Some(serde_json::json!({"actions": [{
        "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [
            {"type": "pointerMove", "x": 500, "y": 400, "duration": 0},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerMove", "x": 200, "y": 200, "duration": 200},
            {"type": "pointerUp", "button": 0}]}]})),
    );
    let moved = "const v = window.imbrexViewer; return v.view.cx > 1600 && v.tilesLoaded >= v.tilesRequested";
    assert!(wd.wait_for(&id, moved), "the drag did not pan the view");
    let stats = wd.call(
        "POST",
        &format!("/session/{id}/execute/sync"),
        Some(serde_json::json!({
        "script": "const v = window.imbrexViewer; return [v.tilesRequested, v.outside, v.view.s]", "args": []})),
    );
    let after = wd.screenshot(&id);
    wd.call("DELETE", &format!("/session/{id}"), None);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(stats[1], 0, "tiles asked outside the image: {stats}");
    for shot in [&before, &after] {
        let picture = shot.iter().filter(|p| **p != [0x33, 0x33, 0x33]).count();
        assert!(picture * 2 > shot.len(), "only {picture} of {} pixels show the picture", shot.len());
        assert!(distinct_colours(shot) > 1000, "a flat screenshot");
    }
    assert_ne!(before, after, "panning and zooming changed nothing");
}

#[test]
fn a_cog_map_shows_a_legend_beside_it() {
    let raster = imbrex_testkit::testdata("raster");
    let server = Server::start(&["--allow-path", raster.to_str().unwrap()]);
    let wd = WebDriver::start();
    let id = wd.session("800,600");
    let url: String = form_urlencoded::byte_serialize(raster.join("dem.tif").to_str().unwrap().as_bytes()).collect();
    let page = server.url(&format!("/cog/viewer?url={url}&colormap_name=viridis&rescale=0,3000"));
    wd.call("POST", &format!("/session/{id}/url"), Some(serde_json::json!({"url": page})));
    let ready = "const l = document.getElementById('legend'); \
                 return window.imbrexLoaded === true && l !== null && l.complete && l.naturalWidth > 500";
    let loaded = wd.wait_for(&id, ready);
    let pixels = wd.screenshot(&id);
    wd.call("DELETE", &format!("/session/{id}"), None);
    assert!(loaded, "the map or its legend did not load on {page}");
    // viridis's ends (#440154 and #fde725) on the legend bar.
    let near = |c: [u8; 3]| pixels.iter().filter(|p| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) <= 6)).count();
    assert!(near([0x44, 0x01, 0x54]) > 20 && near([0xfd, 0xe7, 0x25]) > 20, "no viridis bar on the page");
}
