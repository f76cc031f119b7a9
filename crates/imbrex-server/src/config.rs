//! The one configuration struct, filled from defaults < TOML file < `IMBREX_*` < CLI flags
//! by the `imbrex` binary. Every field has a default and says what it does; unknown keys
//! in a TOML file are an error naming them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Server configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Path prefix when served behind a proxy under a sub-path (e.g. `/tiles`).
    pub root_path: String,
    /// Trust `X-Forwarded-Host`/`X-Forwarded-Proto` for the URLs imbrex writes (only behind a
    /// proxy that sets them; documents then vary on them for caches).
    pub forwarded_headers: bool,
    /// The server's public base URL (`https://tiles.example.org/prefix`): every absolute URL
    /// imbrex writes starts with it, whatever `Host` a request carries. Unset, URLs follow
    /// `Host` and documents say `Vary: Host` to caches.
    pub public_url: Option<String>,
    /// Extra TileMatrixSet documents (OGC TMS v2 JSON) to register.
    pub tms: Vec<PathBuf>,
    /// Folders whose files `url=` may name. The embedded demo is always allowed.
    pub allow_path: Vec<PathBuf>,
    /// URL prefixes (`https://bucket.s3.amazonaws.com/`, `s3://my-bucket/`) that `url=` may name.
    /// `*` allows every http(s) and s3 URL.
    pub allow_url: Vec<String>,
    /// Let allowed URLs reach private, loopback and link-local addresses (checked after DNS
    /// resolution and at every redirect). Off, only hosts `allow_url` names may be there.
    pub allow_private_urls: bool,
    /// `FROM=TO` prefix rewrites applied to every STAC asset and mosaic asset href before
    /// the allow-lists are checked (a public https prefix to a local mirror or a bucket).
    pub href_rewrite: Vec<String>,
    /// Serve the embedded demo dataset (`url=demo`).
    pub demo: bool,
    /// Look for `.ovr`/`.msk` sidecars next to remote files (one extra request each).
    pub remote_sidecars: bool,
    /// Send CORS headers allowing any origin on GET requests.
    pub cors: bool,
    /// `Cache-Control` of successful and client-error GET answers (TiTiler's `cachecontrol`);
    /// empty: none.
    pub cache_control: String,
    /// Log format: `text` or `json`.
    pub log_format: LogFormat,
    /// Size bounds protecting the server.
    pub limits: Limits,
    /// PostgreSQL/PostGIS connection URL (`postgresql://user@host/db`); no vector endpoints without it.
    pub database_url: Option<String>,
    /// What the database publishes and how imbrex talks to it.
    pub db: imbrex_vector::DbOptions,
    /// Admin endpoints (`POST /refresh`) need `Authorization: Bearer <token>`; without a
    /// token they are off.
    pub admin_token: Option<String>,
    /// Redis URL of a tile cache shared by replicas (`redis://host:6379/0`); none when unset.
    pub tile_cache_url: Option<String>,
    /// Seconds a cached tile lives.
    pub tile_cache_ttl_s: u64,
    /// Prefix of the cache's Redis keys (several deployments can share one Redis).
    pub tile_cache_prefix: String,
    /// Megabytes of tiles kept in this process's memory, in front of Redis; 0 keeps none
    /// (identical concurrent requests are still computed once).
    pub tile_memory_cache_mb: u64,
    /// Seconds a source's version (a file's mtime, an object's ETag) is trusted before it is
    /// asked again: how long a changed file may still be served from caches; 0 asks on every
    /// request.
    pub source_recheck_s: u64,
    /// Megabytes of decoded raster blocks kept in memory, shared by every dataset (warped
    /// blocks of GCP-only files take up to a quarter more); 0 keeps none.
    pub block_cache_mb: u64,
    /// Opened datasets kept (parsed headers; the pixels of plain images read whole), in MiB.
    pub reader_cache_mb: u64,
    /// Images and arrays served in pixel space under `/image/{name}` (files, or folders
    /// whose images are served by file stem); `imbrex serve PATH...`.
    pub images: Vec<PathBuf>,
    /// Megabytes of pyramid blocks of `/image` images kept in memory, shared by all.
    pub image_cache_mb: u64,
    /// Where decoded PNG/JPEG images are spilled (unlinked files); default: the system's
    /// temporary folder.
    pub image_spill_dir: Option<PathBuf>,
    /// PMTiles and MBTiles archives served under `/pmtiles/{name}`: name → local path, or
    /// for PMTiles an http(s):// or s3:// URL (`imbrex serve --archive NAME=URL`, or a
    /// `.pmtiles`/`.mbtiles` PATH).
    pub archives: BTreeMap<String, String>,
    /// Named legends (`legend=name`): a list of classes `{name, expression, color}`, a ramp
    /// `{from, over, to, range}`, or the path of a JSON file holding either.
    pub legends: BTreeMap<String, serde_json::Value>,
    /// Datasets published by name: `url=NAME` reads the URL (any `/cog`, `/stac` or
    /// `/mosaicjson` source; the access policy still applies to it).
    pub datasets: BTreeMap<String, String>,
    /// Accept any `url=` the access policy allows. Off, only `datasets` names (and the demo,
    /// and files of the folders `imbrex serve` was given) are served.
    pub raw_urls: bool,
    /// JWT authentication for PostgreSQL row-level security (`[auth]`, docs/security.md).
    pub auth: crate::auth::AuthConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            root_path: String::new(),
            forwarded_headers: false,
            public_url: None,
            tms: Vec::new(),
            allow_path: Vec::new(),
            allow_url: Vec::new(),
            allow_private_urls: false,
            href_rewrite: Vec::new(),
            demo: true,
            remote_sidecars: false,
            cors: true,
            cache_control: "public, max-age=3600".into(),
            log_format: LogFormat::Text,
            limits: Limits::default(),
            database_url: None,
            db: imbrex_vector::DbOptions::default(),
            admin_token: None,
            tile_cache_url: None,
            tile_cache_ttl_s: 3600,
            tile_cache_prefix: "imbrex".into(),
            tile_memory_cache_mb: 128,
            source_recheck_s: 10,
            block_cache_mb: 256,
            reader_cache_mb: 256,
            images: Vec::new(),
            image_cache_mb: 256,
            image_spill_dir: None,
            datasets: BTreeMap::new(),
            raw_urls: true,
            auth: crate::auth::AuthConfig::default(),
            legends: BTreeMap::new(),
            archives: BTreeMap::new(),
        }
    }
}

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("'{s}' is not one of text, json")),
        }
    }
}

/// Bounds on what one request may cost. Defaults are safe for a public server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest output image, in pixels (width x height).
    pub max_output_pixels: u64,
    /// Largest array one request reads or computes, in bytes (pixels x bands x bytes per
    /// sample, masks included): what bounds its memory, since bands multiply pixels.
    pub max_output_bytes: u64,
    /// Most bands one read asks for (`bidx`, or every band of the dataset by default).
    pub max_bands: usize,
    /// Most cells zonal statistics rasterize a feature into (pixels x `cover_scale`²).
    pub max_cover_cells: u64,
    /// Most positions in one request's geometry (a feature read, a statistics feature).
    pub max_vertices: usize,
    /// Seconds a request may take before it is dropped and answered 503 (0: no deadline).
    pub request_timeout_s: u64,
    /// Largest request body (GeoJSON features, purge requests), in bytes.
    pub max_body_bytes: usize,
    /// Open connections; one more is answered 503 and closed.
    pub max_connections: usize,
    /// Seconds a connection has to send a request's headers, counted from when it starts
    /// waiting for one: also how long an idle keep-alive connection stays open.
    pub header_read_timeout_s: u64,
    /// Largest number of bytes fetched from a source for one request.
    pub max_fetch_bytes: u64,
    /// Seconds an upstream (HTTP server, object store) may stay silent, connecting or
    /// between two reads, before the read fails with a 504.
    pub upstream_timeout_s: u64,
    /// Largest TIFF header (all IFDs and their arrays) read from a file.
    pub max_header_bytes: u64,
    /// Longest band-math expression, in characters.
    pub max_expression_len: usize,
    /// Largest page of features (`limit=`).
    pub max_items_per_page: usize,
    /// Most features in one vector tile (`limit=` of a tile; the default is 10,000, as tipg).
    pub max_features_per_tile: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_output_pixels: 6000 * 6000,
            max_output_bytes: 256 << 20,
            max_bands: 256,
            max_cover_cells: 1 << 26,
            max_vertices: 100_000,
            request_timeout_s: 30,
            max_body_bytes: 2 << 20,
            max_connections: 1024,
            header_read_timeout_s: 10,
            max_fetch_bytes: 256 * 1024 * 1024,
            upstream_timeout_s: 10,
            max_header_bytes: 16 * 1024 * 1024,
            max_expression_len: 2048,
            max_items_per_page: 10_000,
            max_features_per_tile: 100_000,
        }
    }
}
