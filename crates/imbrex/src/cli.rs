//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use imbrex_server::LogFormat;
use imbrex_tms::TileMatrixSets;

/// imbrex: map tiles on demand from Cloud Optimized GeoTIFFs, STAC, MosaicJSON and PostGIS.
///
/// Run `imbrex serve` and open http://127.0.0.1:8000/ to see the embedded demo.
#[derive(Debug, Parser)]
#[command(name = "imbrex", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve tiles over HTTP (TiTiler- and tipg-compatible API).
    Serve(Box<ServeArgs>),
    /// Describe a raster: size, bands, CRS, bounds, overviews, zoom range.
    Info(InfoArgs),
    /// List the tile matrix sets, or print one as OGC JSON.
    Tms(TmsArgs),
    /// Set up a PostGIS database for imbrex.
    Db(DbArgs),
    /// Write or describe MosaicJSON documents.
    #[command(subcommand)]
    Mosaic(MosaicAction),
    /// Render a pyramid of tiles into a PMTiles or MBTiles archive (resumable, shardable).
    Seed(Box<SeedArgs>),
    /// Work with PMTiles archives.
    #[command(subcommand)]
    Pmtiles(PmtilesAction),
}

#[derive(Debug, Subcommand)]
pub enum PmtilesAction {
    /// Join the archives of `imbrex seed --shard i/n` into the one a single run writes
    /// (PMTiles, or MBTiles when OUT ends in .mbtiles).
    Merge(MergeArgs),
}

/// Options of `imbrex pmtiles merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' archives.
    pub inputs: Vec<PathBuf>,
    /// The merged archive.
    #[arg(short, long, value_name = "OUT.pmtiles|OUT.mbtiles")]
    pub output: PathBuf,
}

/// What `imbrex seed` renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SeedKind {
    /// A COG or GeoTIFF (`/cog`).
    Cog,
    /// A STAC item (`/stac`; name assets with -p assets=...).
    Stac,
    /// A MosaicJSON document (`/mosaicjson`).
    Mosaicjson,
    /// A PostGIS collection (SOURCE is its id, or collection:ID).
    Collection,
}

/// Options of `imbrex seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// A raster (local path, http(s):// or s3:// URL, or `demo`), a STAC item or MosaicJSON
    /// (with --kind), or `collection:schema.table`.
    pub source: String,
    /// What SOURCE is [default: collection for collection:ID, else cog].
    #[arg(long, value_enum)]
    pub kind: Option<SeedKind>,
    #[arg(long)]
    pub minzoom: u8,
    #[arg(long)]
    pub maxzoom: u8,
    /// west,south,east,north in degrees [default: the dataset's bounds].
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub bbox: Option<Vec<f64>>,
    /// The tile matrix set (PMTiles stores quadtrees whose zoom z is 2^z x 2^z tiles).
    #[arg(long, default_value = "WebMercatorQuad")]
    pub tms: String,
    /// A rendering parameter, as in a tile URL: -p rescale=0,3000 -p colormap_name=viridis.
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Tile format: png, jpg, webp, pngraw, tif, npy for rasters [default: png]; mvt for
    /// collections.
    #[arg(long)]
    pub format: Option<String>,
    /// The archive to write (`.pmtiles` or `.mbtiles`). `OUT.journal` beside it keeps a
    /// run's progress.
    #[arg(short, long, value_name = "OUT.pmtiles|OUT.mbtiles")]
    pub output: PathBuf,
    /// Render the i-th of n disjoint parts (0-based) into a `.pmtiles`, for batch engines;
    /// join the parts with `imbrex pmtiles merge` (into `.pmtiles` or `.mbtiles`).
    #[arg(long, value_name = "i/n")]
    pub shard: Option<String>,
    /// Render at most this many tiles in this run, then stop (run again to go on).
    #[arg(long)]
    pub max_tiles: Option<usize>,
    /// Tiles rendered at once [default: twice the CPUs].
    #[arg(long, default_value_t = 0)]
    pub concurrency: usize,
    /// The archive's name in its metadata [default: SOURCE].
    #[arg(long)]
    pub name: Option<String>,
    /// TOML configuration (legends, grids, limits, database options) as `imbrex serve`'s.
    #[arg(long, env = "IMBREX_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// PostgreSQL/PostGIS for collections.
    #[arg(long, env = "DATABASE_URL", value_name = "postgresql://...")]
    pub database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum MosaicAction {
    /// Write a MosaicJSON (0.0.3) of rasters, reading their headers concurrently.
    Create(MosaicCreateArgs),
    /// Describe a MosaicJSON: zooms, bounds, quadkeys, assets.
    Info(MosaicInfoArgs),
}

/// Options of `imbrex mosaic create`.
#[derive(Debug, Args)]
pub struct MosaicCreateArgs {
    /// Rasters: local paths, http(s):// or s3:// URLs (listed in this order under each quadkey,
    /// so `first` takes the earliest).
    pub files: Vec<String>,
    /// A text file listing more rasters, one per line (`#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Where to write the document.
    #[arg(short, long, value_name = "mosaic.json")]
    pub output: PathBuf,
    /// Lowest zoom [default: the highest of the files' min zooms, as cogeo-mosaic].
    #[arg(long)]
    pub minzoom: Option<u8>,
    /// Highest zoom [default: the highest of the files' max zooms].
    #[arg(long)]
    pub maxzoom: Option<u8>,
    /// Zoom of the quadkeys [default: minzoom].
    #[arg(long)]
    pub quadkey_zoom: Option<u8>,
    /// Headers read at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

/// Options of `imbrex mosaic info`.
#[derive(Debug, Args)]
pub struct MosaicInfoArgs {
    /// A MosaicJSON: local path, http(s):// or s3:// URL.
    pub input: String,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `imbrex db`.
#[derive(Debug, Args)]
pub struct DbArgs {
    #[command(subcommand)]
    pub action: DbAction,
    /// PostgreSQL connection URL (`postgresql://user@host/db`).
    #[arg(long, env = "DATABASE_URL", value_name = "postgresql://...", global = true)]
    pub database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DbAction {
    /// Install event triggers that NOTIFY imbrex of DDL (new, changed and dropped tables),
    /// so running servers re-read their catalog within a second, and a statement trigger on
    /// every table with a geometry column that NOTIFYs of row changes, so they purge its
    /// cached tiles. Needs a superuser; run again for tables created later.
    InstallTriggers,
    /// Remove what install-triggers installed.
    UninstallTriggers,
    /// Print the SQL install-triggers runs (to review it, or run it with psql).
    TriggersSql,
}

/// Options of `imbrex info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// A local path, an http(s):// URL or an s3:// URL (credentials from the AWS_* variables).
    pub input: String,
    /// Print rio-tiler's Info document as JSON.
    #[arg(long)]
    pub json: bool,
    /// TileMatrixSet for the zoom range.
    #[arg(long, default_value = "WebMercatorQuad")]
    pub tms: String,
    /// Also look for .ovr/.msk sidecars next to remote files.
    #[arg(long)]
    pub remote_sidecars: bool,
}

/// Options of `imbrex serve`. Each flag can also come from an `IMBREX_*` environment
/// variable or from the TOML file given with `--config` (flags win, then environment,
/// then the file, then defaults).
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// TOML configuration file (keys as in `docs/configuration.md`).
    #[arg(long, env = "IMBREX_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address and port to listen on [default: 127.0.0.1:8000].
    #[arg(long, env = "IMBREX_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,

    /// Serve local files under this folder (repeatable).
    #[arg(long = "allow-path", env = "IMBREX_ALLOW_PATH", value_name = "DIR", value_delimiter = ',')]
    pub allow_path: Vec<PathBuf>,

    /// Allow remote sources starting with this URL prefix, e.g. `https://data.example.com/` or
    /// `s3://bucket/`; `*` allows any http(s)/s3 URL (repeatable).
    #[arg(long = "allow-url", env = "IMBREX_ALLOW_URL", value_name = "PREFIX", value_delimiter = ',')]
    pub allow_url: Vec<String>,

    /// Let allowed URLs reach private, loopback and link-local addresses (by default only
    /// hosts an --allow-url prefix names may be there; `*` reaches the public internet).
    #[arg(long)]
    pub allow_private_urls: bool,

    /// Rewrite STAC and mosaic asset hrefs starting with FROM to start with TO, before the
    /// allow-lists are checked (repeatable), e.g. `https://bucket.s3.amazonaws.com/=s3://bucket/`.
    #[arg(long = "href-rewrite", env = "IMBREX_HREF_REWRITE", value_name = "FROM=TO", value_delimiter = ',')]
    pub href_rewrite: Vec<String>,

    /// Register a custom TileMatrixSet from an OGC TMS v2 JSON file (repeatable).
    #[arg(long, env = "IMBREX_TMS", value_name = "FILE", value_delimiter = ',')]
    pub tms: Vec<PathBuf>,

    /// PostgreSQL/PostGIS URL whose tables are served as vector tiles and OGC API Features.
    #[arg(long, env = "DATABASE_URL", value_name = "postgresql://...")]
    pub database_url: Option<String>,

    /// Database schema to publish (repeatable) [default: public].
    #[arg(long = "db-schema", env = "IMBREX_DB_SCHEMAS", value_name = "SCHEMA", value_delimiter = ',')]
    pub db_schemas: Vec<String>,

    /// Verify `Authorization: Bearer` JWTs signed with this HS256 secret (32+ characters);
    /// their role claim becomes the PostgreSQL role of the request's queries.
    #[arg(long, env = "IMBREX_AUTH_JWT_SECRET", value_name = "SECRET", hide_env_values = true)]
    pub auth_jwt_secret: Option<String>,

    /// Verify JWTs signed by a key of this JSON Web Key Set file (RS*, PS*, ES*, EdDSA).
    #[arg(long, env = "IMBREX_AUTH_JWT_JWKS", value_name = "FILE")]
    pub auth_jwt_jwks: Option<PathBuf>,

    /// PostgreSQL role of requests without a token (default: the server's own role).
    #[arg(long, env = "IMBREX_AUTH_ANONYMOUS_ROLE", value_name = "ROLE")]
    pub auth_anonymous_role: Option<String>,

    /// Refuse requests without a token (401).
    #[arg(long)]
    pub auth_required: bool,

    /// Token that admin endpoints (POST /refresh) require as `Authorization: Bearer <token>`.
    #[arg(long, env = "IMBREX_ADMIN_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Path prefix when served behind a proxy under a sub-path (e.g. `/tiles`).
    #[arg(long, env = "IMBREX_ROOT_PATH", value_name = "PATH")]
    pub root_path: Option<String>,

    /// Behind a proxy that sets X-Forwarded-Host/-Proto: use them in the URLs imbrex writes.
    #[arg(long)]
    pub forwarded_headers: bool,

    /// The public base URL (`https://tiles.example.org`) of every absolute URL imbrex writes,
    /// instead of the request's Host.
    #[arg(long, env = "IMBREX_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Do not serve the embedded demo dataset.
    #[arg(long)]
    pub no_demo: bool,

    /// Do not send CORS headers.
    #[arg(long)]
    pub no_cors: bool,

    /// Redis URL of a tile cache shared by replicas, e.g. redis://127.0.0.1:6379/0.
    #[arg(long, env = "IMBREX_TILE_CACHE_URL", value_name = "redis://...")]
    pub tile_cache_url: Option<String>,

    /// Seconds a cached tile lives [default: 3600].
    #[arg(long, env = "IMBREX_TILE_CACHE_TTL", value_name = "SECONDS")]
    pub tile_cache_ttl: Option<u64>,

    /// PMTiles (local, http(s), s3) or MBTiles (local) archives served under /pmtiles/NAME:
    /// NAME=PATH or NAME=URL (repeatable; a .pmtiles or .mbtiles PATH given as an image is
    /// served by file stem too).
    #[arg(long = "archive", value_name = "NAME=URL")]
    pub archives: Vec<String>,

    /// Megabytes of tiles kept in this process's memory, in front of Redis (0: none)
    /// [default: 128].
    #[arg(long, env = "IMBREX_TILE_MEMORY_CACHE_MB", value_name = "MB")]
    pub tile_memory_cache_mb: Option<u64>,

    /// Seconds a source's version (mtime, ETag) is trusted before it is asked again: how
    /// long a changed file may still be served from caches [default: 10].
    #[arg(long, env = "IMBREX_SOURCE_RECHECK", value_name = "SECONDS")]
    pub source_recheck: Option<u64>,

    /// Megabytes of decoded raster blocks kept in memory (0: none) [default: 256].
    #[arg(long, env = "IMBREX_BLOCK_CACHE_MB", value_name = "MB")]
    pub block_cache_mb: Option<u64>,

    /// Images and arrays (PNG, JPEG, TIFF without georeference, .npy) or folders of them,
    /// served in pixel space under /image/{file stem}; a folder's georeferenced files are
    /// /cog datasets by name (url=name.tif).
    #[arg(value_name = "PATH")]
    pub images: Vec<PathBuf>,

    /// Megabytes of /image pyramid blocks kept in memory [default: 256].
    #[arg(long, env = "IMBREX_IMAGE_CACHE_MB", value_name = "MB")]
    pub image_cache_mb: Option<u64>,

    /// Cache-Control header of GET answers, for CDNs and browsers ("" for none)
    /// [default: "public, max-age=3600"].
    #[arg(long, env = "IMBREX_CACHE_CONTROL", value_name = "VALUE")]
    pub cache_control: Option<String>,

    /// Log format.
    #[arg(long, env = "IMBREX_LOG_FORMAT", value_name = "text|json")]
    pub log_format: Option<LogFormat>,
}

/// Options of `imbrex tms`.
#[derive(Debug, Args)]
pub struct TmsArgs {
    /// Identifier of a TileMatrixSet to print (omit to list them all).
    pub id: Option<String>,
}

/// `imbrex tms [ID]`.
pub fn tms(args: TmsArgs) -> anyhow::Result<()> {
    let sets = TileMatrixSets::default();
    match args.id {
        Some(id) => {
            let tms = sets.get(&id)?;
            println!("{}", serde_json::to_string_pretty(&tms.to_json_value())?);
        }
        None => {
            for tms in sets.iter() {
                println!(
                    "{:<26} {:<44} z{}-{}  {}",
                    tms.id(),
                    tms.crs().to_uri().unwrap_or_default(),
                    tms.minzoom(),
                    tms.maxzoom(),
                    tms.title().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}
