//! Two `imbrex serve` replicas sharing Redis behind nginx, configured by deploy/nginx.conf
//! (its addresses swapped for free ports): they share cached tiles, and a replica that dies
//! loses no request (nginx sends it to the other).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Server, header, http_get, require_program};

struct Nginx {
    child: Child,
    dir: std::path::PathBuf,
    addr: String,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // TERM, not KILL: the master stops its workers (a killed master leaves them running).
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// nginx with deploy/nginx.conf, its upstream replaced by `replicas`.
fn nginx(replicas: [&str; 2]) -> Nginx {
    let bin = if std::path::Path::new("/usr/sbin/nginx").is_file() {
        "/usr/sbin/nginx".to_string()
    } else {
        require_program("nginx")
    };
    let conf = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/nginx.conf")).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    for needle in ["127.0.0.1:8001", "127.0.0.1:8002", "listen 127.0.0.1:8080;"] {
        assert!(conf.contains(needle), "deploy/nginx.conf no longer has {needle}");
    }
    let conf = conf
        .replace("127.0.0.1:8001", replicas[0])
        .replace("127.0.0.1:8002", replicas[1])
        .replace("listen 127.0.0.1:8080;", &format!("listen {addr};"))
        .replace("worker_processes auto;", "worker_processes 1;");
    let dir = std::env::temp_dir().join(format!("imbrex-nginx-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new(bin)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx");
    let n = Nginx { child, dir, addr };
    for _ in 0..100 {
        if http_get(&n.addr, "/healthz").is_ok_and(|(s, _, _)| s == 200) {
            return n;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nginx did not answer on {}", n.addr);
}

#[test]
fn two_replicas_behind_nginx_share_tiles_and_survive_one_dying() {
    let redis = std::env::var("IMBREX_TEST_REDIS_URL")
        .expect("IMBREX_TEST_REDIS_URL is not set: run scripts/test, which starts Redis on 127.0.0.1:6379");
    let dir = std::env::temp_dir().join(format!("imbrex-replicas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let toml = dir.join("imbrex.toml");
    let prefix = format!("imbrex-replicas-{}", std::process::id());
    std::fs::write(&toml, format!("tile_cache_url = \"{redis}\"\ntile_cache_prefix = \"{prefix}\"\n")).unwrap();
    let args = ["--config", toml.to_str().unwrap(), "--forwarded-headers"];
    let a = Server::start(&args);
    let mut b = Server::start(&args);
    let proxy = nginx([&a.addr, &b.addr]);

    // Tiles of the demo: its TileJSON through nginx names nginx's host.
    let (status, _, body) = http_get(&proxy.addr, "/cog/WebMercatorQuad/tilejson.json?url=demo").unwrap();
    assert_eq!(status, 200);
    let tj: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(tj["tiles"][0].as_str().unwrap().starts_with(&format!("http://{}/", proxy.addr)), "{}", tj["tiles"]);
    let z = tj["minzoom"].as_i64().unwrap() as i32 + 2;
    let tms = imbrex_tms::TileMatrixSets::default().get("WebMercatorQuad").unwrap();
    let bounds: Vec<f64> = serde_json::from_value(tj["bounds"].clone()).unwrap();
    let paths: Vec<String> = tms
        .tiles(imbrex_tms::Bounds::new(bounds[0], bounds[1], bounds[2], bounds[3]), &[z])
        .unwrap()
        .into_iter()
        .map(|t| format!("/cog/tiles/WebMercatorQuad/{z}/{}/{}.png?url=demo", t.x, t.y))
        // Corner tiles of the bounds may hold no data (a 404): keep the tiles.
        .filter(|p| http_get(&a.addr, &format!("{p}&rescale=0,1")).unwrap().0 == 200)
        .take(12)
        .collect();
    assert!(paths.len() >= 6, "{paths:?}");

    // Made once, by whichever replica nginx chose: once its copy is in Redis, that replica
    // answers from memory and the other from Redis.
    let stored = || {
        let out =
            Command::new("redis-cli").args(["-u", &redis, "--scan", "--pattern", &format!("{prefix}:*")]).output();
        String::from_utf8_lossy(&out.expect("redis-cli (installed with Redis)").stdout).lines().count()
    };
    for (i, p) in paths.iter().enumerate() {
        let (status, head, first) = http_get(&proxy.addr, p).unwrap();
        assert_eq!(status, 200, "{p}");
        assert_eq!(header(&head, "x-imbrex-cache"), Some("miss"), "{p}");
        // The write to Redis follows the answer: wait for it (a bound on polls).
        let mut polls = 0;
        while stored() < i + 1 {
            polls += 1;
            assert!(polls < 200, "{p} never reached Redis");
            std::thread::sleep(Duration::from_millis(10));
        }
        let (sa, ha, ba) = http_get(&a.addr, p).unwrap();
        let (sb, hb, bb) = http_get(&b.addr, p).unwrap();
        assert_eq!((sa, sb), (200, 200));
        assert!(ba == first && bb == first, "{p}: a replica answers another tile");
        let mut from = [header(&ha, "x-imbrex-cache").unwrap(), header(&hb, "x-imbrex-cache").unwrap()];
        from.sort();
        assert_eq!(from, ["memory", "redis"], "{p}: the tile is computed once, then shared");
    }

    // A replica dies (SIGKILL: no goodbye): every request through nginx still succeeds.
    let mut answered = 0;
    for round in 0..4 {
        if round == 1 {
            b.child.kill().unwrap();
            b.child.wait().unwrap();
        }
        for p in &paths {
            let (status, _, body) = http_get(&proxy.addr, p).expect("nginx answers");
            assert_eq!(status, 200, "round {round}, {p}");
            assert!(!body.is_empty());
            answered += 1;
        }
    }
    assert_eq!(answered, 4 * paths.len());
    // The survivor served them: it is still up.
    assert_eq!(http_get(&a.addr, "/healthz").unwrap().0, 200);
    drop(proxy);
    // The tiles stored in Redis expire with their TTL.
    let _ = std::fs::remove_dir_all(&dir);
}
