//! `imbrex seed` and `imbrex pmtiles merge`: a pyramid of tiles rendered into a PMTiles v3
//! or MBTiles archive, by the same router `imbrex serve` answers with (in process, no network), so a
//! seeded tile is byte for byte the dynamic one.
//!
//! Tiles are rendered concurrently and written in tile-id order to a journal next to the
//! output (`OUT.journal`): a run that stops (killed, `--max-tiles`) goes on from where the
//! journal ends. The archive is built from the journal at the end. `--shard i/n` renders the
//! i-th of n contiguous runs of the tile ids; `imbrex pmtiles merge` joins the shards'
//! archives into the archive one run would have written (the same bytes).

use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures::stream::{self, StreamExt, TryStreamExt};
use imbrex_server::{AppState, Config};
use imbrex_tms::Bounds;
use indicatif::{ProgressBar, ProgressStyle};
use pmtiles::{Compression, PmTilesWriter, TileCoord, TileId, TileType};
use serde_json::json;
use tower::ServiceExt;

use crate::cli::{MergeArgs, SeedArgs, SeedKind};

/// Most tiles one run lists (their ids are sorted in memory): shard bigger pyramids.
const MAX_TILES: usize = 50_000_000;

/// What is seeded: the router prefix, the query every request carries, the tile format.
struct Job {
    tile_prefix: String,
    tilejson: String,
    query: String,
    extension: String,
    tile_type: TileType,
}

impl Job {
    fn new(args: &SeedArgs) -> anyhow::Result<Job> {
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let kind = match args.kind {
            Some(k) => k,
            None if args.source.starts_with("collection:") => SeedKind::Collection,
            None if args.source.to_ascii_lowercase().ends_with(".json") => {
                anyhow::bail!("{} is a JSON document: say --kind stac or --kind mosaicjson", args.source)
            }
            None => SeedKind::Cog,
        };
        let mut params: Vec<String> = Vec::new();
        for p in &args.params {
            let (k, v) = p.split_once('=').ok_or_else(|| anyhow::anyhow!("--param {p:?} is not NAME=VALUE"))?;
            params.push(format!("{}={}", enc(k), enc(v)));
        }
        let tms = &args.tms;
        let (tile_prefix, tilejson, default_format) = match kind {
            SeedKind::Collection => {
                let id = args.source.strip_prefix("collection:").unwrap_or(&args.source);
                let id = percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string();
                let base = format!("/collections/{id}/tiles/{tms}");
                (base.clone(), format!("{base}/tilejson.json"), "mvt")
            }
            raster => {
                let prefix = match raster {
                    SeedKind::Stac => "/stac",
                    SeedKind::Mosaicjson => "/mosaicjson",
                    _ => "/cog",
                };
                params.insert(0, format!("url={}", enc(&args.source)));
                (format!("{prefix}/tiles/{tms}"), format!("{prefix}/{tms}/tilejson.json"), "png")
            }
        };
        let format = args.format.clone().unwrap_or_else(|| default_format.to_string());
        let (extension, tile_type) = match (kind, format.as_str()) {
            (SeedKind::Collection, "mvt" | "pbf") => (String::new(), TileType::Mvt),
            (SeedKind::Collection, f) => anyhow::bail!("vector tiles are mvt, not {f}"),
            (_, "png" | "pngraw") => (format!(".{format}"), TileType::Png),
            (_, "jpg" | "jpeg") => (format!(".{format}"), TileType::Jpeg),
            (_, "webp") => (".webp".into(), TileType::Webp),
            (_, "tif" | "npy") => (format!(".{format}"), TileType::Unknown),
            (_, f) => anyhow::bail!("unknown --format {f}"),
        };
        Ok(Job { tile_prefix, tilejson, query: params.join("&"), extension, tile_type })
    }

    fn tile_path(&self, c: TileCoord) -> String {
        let q = if self.query.is_empty() { String::new() } else { format!("?{}", self.query) };
        format!("{}/{}/{}/{}{}{q}", self.tile_prefix, c.z(), c.x(), c.y(), self.extension)
    }
}

/// GET `path` from the router: the status and body.
async fn fetch(app: &axum::Router, path: &str) -> anyhow::Result<(StatusCode, bytes::Bytes)> {
    let req = Request::get(path).header("host", "localhost").body(Body::empty())?;
    let res = app.clone().oneshot(req).await?;
    let status = res.status();
    Ok((status, axum::body::to_bytes(res.into_body(), usize::MAX).await?))
}

/// The configuration tiles are rendered with: `--config`'s, with the source the user named
/// allowed (it is on their machine), no caches and no Redis.
fn config(args: &SeedArgs) -> anyhow::Result<Config> {
    let serve = crate::cli::ServeArgs { config: args.config.clone(), ..Default::default() };
    let mut c = crate::config::load(&serve)?;
    c.allow_path.push(PathBuf::from("/"));
    c.allow_url.push("*".into());
    c.allow_private_urls = true;
    c.tile_memory_cache_mb = 0;
    c.tile_cache_url = None;
    if args.database_url.is_some() {
        c.database_url = args.database_url.clone();
    }
    Ok(c)
}

/// `i/n` of `--shard`.
fn shard(text: Option<&str>) -> anyhow::Result<(usize, usize)> {
    let Some(t) = text else { return Ok((0, 1)) };
    let parse = || -> Option<(usize, usize)> {
        let (i, n) = t.split_once('/')?;
        let (i, n) = (i.trim().parse().ok()?, n.trim().parse().ok()?);
        (n > 0 && i < n).then_some((i, n))
    };
    parse().ok_or_else(|| anyhow::anyhow!("--shard {t:?}: want i/n with 0 <= i < n"))
}

/// The identity of a seed, shard aside: what is rendered (source, parameters, format, grid,
/// every tile id), with what (imbrex's version, the configuration file's content, the
/// database). A journal of another job is refused, not continued; shards of other jobs are
/// not merged.
fn job_hash(args: &SeedArgs, job: &Job, ids: &[u64]) -> anyhow::Result<u64> {
    let config = match &args.config {
        Some(p) => std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
        None => Vec::new(),
    };
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for part in [
        env!("CARGO_PKG_VERSION").as_bytes(),
        job.tile_prefix.as_bytes(),
        job.query.as_bytes(),
        job.extension.as_bytes(),
        args.tms.as_bytes(),
        args.database_url.as_deref().unwrap_or("").as_bytes(),
        &config,
    ] {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part);
    }
    for id in ids {
        h.update(&id.to_le_bytes());
    }
    Ok(h.digest())
}

const JOURNAL_MAGIC: &[u8; 8] = b"IMBRXJ01";

/// The journal: its header (magic, job fingerprint), then records `(tile id u64, length
/// u32, bytes)`; a length of `u32::MAX` marks a tile without data (skipped, not rendered
/// again). Returns the ids done, in order, and the file positioned at its end; a torn last
/// record (the run was killed mid-write) is cut off.
fn open_journal(path: &Path, fp: u64) -> anyhow::Result<(std::fs::File, Vec<u64>)> {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut done = Vec::new();
    let size = f.metadata()?.len();
    if size == 0 {
        f.write_all(JOURNAL_MAGIC)?;
        f.write_all(&fp.to_le_bytes())?;
        return Ok((f, done));
    }
    let mut r = std::io::BufReader::new(&f);
    let mut head = [0u8; 16];
    r.read_exact(&mut head).context("journal header")?;
    anyhow::ensure!(&head[..8] == JOURNAL_MAGIC, "{} is not an imbrex seed journal", path.display());
    anyhow::ensure!(
        head[8..] == fp.to_le_bytes(),
        "{} belongs to another seed (other source, parameters, zooms or shard): remove it to start over",
        path.display()
    );
    let mut good = 16u64;
    loop {
        let mut rec = [0u8; 12];
        if r.read_exact(&mut rec).is_err() {
            break;
        }
        let id = u64::from_le_bytes(rec[..8].try_into()?);
        let len = u32::from_le_bytes(rec[8..].try_into()?);
        let data = if len == u32::MAX { 0 } else { u64::from(len) };
        // A length past the end is a torn (or corrupt) record: nothing is allocated for it.
        if good + 12 + data > size {
            break;
        }
        r.seek_relative(data as i64)?;
        good += 12 + data;
        done.push(id);
    }
    drop(r);
    f.set_len(good)?;
    f.seek(SeekFrom::End(0))?;
    Ok((f, done))
}

/// The tiles with data of a journal, one at a time (a pyramid need not fit in memory),
/// checked to be in ascending id order: tiles are written in order, and a run that goes on
/// renders the rest of the same sorted list.
fn journal_tiles(path: &Path) -> anyhow::Result<impl Iterator<Item = anyhow::Result<(u64, Vec<u8>, bool)>>> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let mut r = std::io::BufReader::new(file);
    let mut head = [0u8; 16];
    r.read_exact(&mut head)?;
    let mut last: Option<u64> = None;
    Ok(std::iter::from_fn(move || {
        loop {
            let mut rec = [0u8; 12];
            if r.read_exact(&mut rec).is_err() {
                return None;
            }
            let id = u64::from_le_bytes(rec[..8].try_into().expect("8 bytes"));
            let len = u32::from_le_bytes(rec[8..].try_into().expect("4 bytes"));
            if last.is_some_and(|l| l >= id) {
                return Some(Err(anyhow::anyhow!("{} is out of order at tile id {id}", path.display())));
            }
            last = Some(id);
            if len == u32::MAX {
                continue;
            }
            if u64::from(len) > size {
                return Some(Err(anyhow::anyhow!("{} is corrupt at tile id {id}", path.display())));
            }
            let mut data = vec![0u8; len as usize];
            return Some(r.read_exact(&mut data).map(|()| (id, data, false)).map_err(Into::into));
        }
    }))
}

/// Header fields an archive of the job carries (the whole job's, in every shard, so that
/// merged shards equal one run).
struct Layout {
    tile_type: TileType,
    minzoom: u8,
    maxzoom: u8,
    bounds: Bounds,
    metadata: String,
}

fn writer(layout: &Layout) -> PmTilesWriter {
    let b = &layout.bounds;
    PmTilesWriter::new(layout.tile_type)
        .tile_compression(writer_compression(layout.tile_type))
        .min_zoom(layout.minzoom)
        .max_zoom(layout.maxzoom)
        .bounds(b.left, b.bottom, b.right, b.top)
        .center((b.left + b.right) / 2.0, (b.bottom + b.top) / 2.0)
        .center_zoom(layout.minzoom)
        .metadata(&layout.metadata)
}

/// The archive format `path` names by its extension.
fn is_mbtiles(path: &Path) -> anyhow::Result<bool> {
    match path.extension().map(|e| e.to_string_lossy().to_lowercase()).as_deref() {
        Some("pmtiles") => Ok(false),
        Some("mbtiles") => Ok(true),
        _ => anyhow::bail!("-o must name a .pmtiles or .mbtiles file, not {}", path.display()),
    }
}

/// MBTiles' metadata rows for a job: its spec's names, then the rest of the job's metadata
/// (`vector_layers` in the `json` row).
fn mbtiles_metadata(layout: &Layout) -> anyhow::Result<Vec<(String, String)>> {
    let b = &layout.bounds;
    let mut rows = vec![
        ("bounds".to_string(), format!("{},{},{},{}", b.left, b.bottom, b.right, b.top)),
        ("center".into(), format!("{},{},{}", (b.left + b.right) / 2.0, (b.bottom + b.top) / 2.0, layout.minzoom)),
        ("minzoom".into(), layout.minzoom.to_string()),
        ("maxzoom".into(), layout.maxzoom.to_string()),
        ("type".into(), "overlay".into()),
    ];
    let meta: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&layout.metadata)?;
    for (k, v) in meta {
        match (k.as_str(), v) {
            ("vector_layers", v) => rows.push(("json".into(), json!({ "vector_layers": v }).to_string())),
            // MBTiles names pbf, jpg, png and webp; other formats go by media type.
            ("format", serde_json::Value::String(f)) => {
                let f = match f.as_str() {
                    "pngraw" => "png",
                    "jpeg" => "jpg",
                    "tif" => "image/tiff",
                    "npy" => "application/x-npy",
                    f => f,
                };
                rows.push((k, f.to_string()))
            }
            ("tileMatrixSet", serde_json::Value::String(t)) => {
                // MBTiles is spherical mercator: another grid's tiles would be misplaced.
                anyhow::ensure!(t == "WebMercatorQuad", "MBTiles holds WebMercatorQuad tiles, not {t}: write .pmtiles");
                rows.push((k, t))
            }
            (_, serde_json::Value::String(s)) => rows.push((k, s)),
            (_, v) => rows.push((k, v.to_string())),
        }
    }
    Ok(rows)
}

/// Write `tiles` (sorted by id) into `out` (PMTiles or MBTiles, by its extension) through a
/// temporary file renamed into place.
fn write_archive(
    out: &Path,
    layout: &Layout,
    tiles: impl Iterator<Item = anyhow::Result<(u64, Vec<u8>, bool)>>,
) -> anyhow::Result<u64> {
    if is_mbtiles(out)? {
        let mut w = imbrex_server::mbtiles::MbTilesWriter::create(out, &mbtiles_metadata(layout)?)?;
        let mut n = 0;
        for t in tiles {
            let (id, data, raw) = t?;
            let c: TileCoord = TileId::new(id)?.into();
            w.add(c.z(), c.x(), c.y(), &data, raw)?;
            n += 1;
        }
        w.finish()?;
        return Ok(n);
    }
    let tmp = out.with_extension("pmtiles.tmp");
    let file = std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    let mut w = writer(layout).create(file)?;
    let mut n = 0;
    for t in tiles {
        let (id, data, raw) = t?;
        let coord: TileCoord = TileId::new(id)?.into();
        if raw {
            w.add_raw_tile(coord, &data)?;
        } else {
            w.add_tile(coord, &data)?;
        }
        n += 1;
    }
    w.finalize()?;
    std::fs::rename(&tmp, out)?;
    Ok(n)
}

pub async fn seed(args: SeedArgs) -> anyhow::Result<()> {
    let mbtiles = is_mbtiles(&args.output)?;
    anyhow::ensure!(
        !mbtiles || args.tms == "WebMercatorQuad",
        "MBTiles holds WebMercatorQuad tiles, not {}: write .pmtiles",
        args.tms
    );
    // Shards are joined by merge, which reads PMTiles (and can write MBTiles).
    anyhow::ensure!(
        !(mbtiles && args.shard.is_some()),
        "--shard writes .pmtiles parts: `imbrex pmtiles merge parts... -o OUT.mbtiles` joins them into MBTiles"
    );
    anyhow::ensure!(args.minzoom <= args.maxzoom, "--minzoom is above --maxzoom");
    let job = Job::new(&args)?;
    let (shard_i, shard_n) = shard(args.shard.as_deref())?;
    let state = AppState::new(config(&args)?)?.connect_database().await?;
    let tms = state.tms.get(&args.tms)?;
    let app = imbrex_server::app(state);

    // The dataset's TileJSON, always: a dataset that is not there (a wrong path, a missing
    // collection) is an error here, not an archive of 404s. The extent is --bbox, else its.
    let path = if job.query.is_empty() { job.tilejson.clone() } else { format!("{}?{}", job.tilejson, job.query) };
    let (status, body) = fetch(&app, &path).await?;
    anyhow::ensure!(status == StatusCode::OK, "{}: {status}: {}", args.source, String::from_utf8_lossy(&body));
    let bounds = match &args.bbox {
        Some(b) => {
            anyhow::ensure!(b.len() == 4 && b[0] < b[2] && b[1] < b[3], "--bbox wants west,south,east,north");
            Bounds::new(b[0], b[1], b[2], b[3])
        }
        None => {
            let tj: serde_json::Value = serde_json::from_slice(&body)?;
            let b: Vec<f64> = serde_json::from_value(tj["bounds"].clone()).context("the TileJSON has no bounds")?;
            Bounds::new(b[0], b[1], b[2], b[3])
        }
    };
    let zooms: Vec<i32> = (args.minzoom..=args.maxzoom).map(i32::from).collect();
    let mut ids = Vec::new();
    for t in tms.tiles(bounds, &zooms)? {
        let id =
            TileId::from(TileCoord::new(t.z as u8, t.x as u32, t.y as u32).with_context(|| {
                format!("tile {}/{}/{} of {} does not fit PMTiles' quadtree", t.z, t.x, t.y, args.tms)
            })?);
        ids.push(id.value());
        anyhow::ensure!(ids.len() <= MAX_TILES, "more than {MAX_TILES} tiles: split the seed with --shard");
    }
    ids.sort_unstable();
    ids.dedup();
    let total = ids.len();
    let job_id = job_hash(&args, &job, &ids)?;
    let part: Vec<u64> = ids[total * shard_i / shard_n..total * (shard_i + 1) / shard_n].to_vec();
    drop(ids);

    let mut metadata = json!({
        "name": args.name.clone().unwrap_or_else(|| args.source.clone()),
        "format": job.extension.trim_start_matches('.').to_string() + if job.extension.is_empty() { "pbf" } else { "" },
        "tileMatrixSet": args.tms,
        "generator": concat!("imbrex ", env!("CARGO_PKG_VERSION")),
        // The same in every shard of one seed (and in its single run): merge checks it.
        "imbrex_seed": format!("{job_id:016x}"),
    });
    if job.tile_type == TileType::Mvt {
        metadata["vector_layers"] = json!([{"id": "default", "fields": {}}]);
    }
    let layout = Layout {
        tile_type: job.tile_type,
        minzoom: args.minzoom,
        maxzoom: args.maxzoom,
        bounds,
        metadata: serde_json::to_string(&metadata)?,
    };

    let journal_path = PathBuf::from(format!("{}.journal", args.output.display()));
    let shard_hash = job_id ^ xxhash_rust::xxh3::xxh3_64(format!("{shard_i}/{shard_n}").as_bytes());
    let (journal, done) = open_journal(&journal_path, shard_hash)?;
    // Tiles are journaled in order: what is done is a prefix of the list.
    anyhow::ensure!(
        done.len() <= part.len() && done[..] == part[..done.len()],
        "{} does not follow this seed's tile order: remove it to start over",
        journal_path.display()
    );
    let todo = &part[done.len()..];
    let budget = args.max_tiles.unwrap_or(usize::MAX);
    let this_run = &todo[..todo.len().min(budget)];

    let bar = ProgressBar::new(part.len() as u64);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} tiles, {per_sec}, {eta} left {msg}")?);
    bar.set_position((part.len() - todo.len()) as u64);
    let concurrency = if args.concurrency == 0 {
        2 * std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
    } else {
        args.concurrency
    };
    let started = Instant::now();
    let mut journal = BufWriter::new(journal);
    let (mut rendered, mut empty) = (0u64, 0u64);
    let app = Arc::new(app);
    // Rendered concurrently, written in order: the journal stays sorted by tile id.
    let mut tiles = stream::iter(this_run.iter().copied())
        .map(|id| {
            let (app, job) = (app.clone(), &job);
            async move {
                let coord: TileCoord = TileId::new(id)?.into();
                let path = job.tile_path(coord);
                let (status, body) = fetch(&app, &path).await?;
                match status {
                    StatusCode::OK if !body.is_empty() => Ok::<_, anyhow::Error>((id, Some(body))),
                    // Outside the data, or an empty vector tile: nothing to store.
                    StatusCode::OK | StatusCode::NOT_FOUND | StatusCode::NO_CONTENT => Ok((id, None)),
                    s => anyhow::bail!("{path}: {s}: {}", String::from_utf8_lossy(&body)),
                }
            }
        })
        .buffered(concurrency);
    while let Some((id, body)) = tiles.try_next().await? {
        journal.write_all(&id.to_le_bytes())?;
        match body {
            Some(b) => {
                let len = u32::try_from(b.len()).context("a tile over 4 GiB")?;
                journal.write_all(&len.to_le_bytes())?;
                journal.write_all(&b)?;
                rendered += 1;
            }
            None => {
                journal.write_all(&u32::MAX.to_le_bytes())?;
                empty += 1;
            }
        }
        bar.inc(1);
    }
    journal.flush()?;
    drop(journal);
    let secs = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    eprintln!(
        "{} tiles rendered ({empty} without data, skipped) in {secs:.1} s: {:.0} tiles/s",
        rendered + empty,
        (rendered + empty) as f64 / secs.max(1e-9)
    );
    if this_run.len() < todo.len() {
        eprintln!(
            "stopped after --max-tiles {budget}: {} tiles left; run the same command again to go on",
            todo.len() - this_run.len()
        );
        return Ok(());
    }

    let stored = write_archive(&args.output, &layout, journal_tiles(&journal_path)?)?;
    std::fs::remove_file(&journal_path)?;
    eprintln!("{}: {stored} tiles of {} (shard {shard_i}/{shard_n})", args.output.display(), part.len());
    Ok(())
}

/// `imbrex pmtiles merge`: shards of one seed joined into the archive one run would write.
pub async fn merge(args: MergeArgs) -> anyhow::Result<()> {
    anyhow::ensure!(!args.inputs.is_empty(), "no archives to merge");
    is_mbtiles(&args.output)?;
    let factory = imbrex_raster::source::SourceFactory::new(imbrex_raster::source::AccessPolicy::allow_all());
    let mut readers = Vec::new();
    for input in &args.inputs {
        let source = factory.open(&input.display().to_string())?;
        let r = pmtiles::AsyncPmTilesReader::try_from_source(imbrex_server::archives::SourceBackend(source))
            .await
            .with_context(|| format!("cannot read {}", input.display()))?;
        readers.push(Arc::new(r));
    }
    let first = readers[0].get_header();
    let metadata = readers[0].get_metadata().await?;
    for (r, input) in readers.iter().zip(&args.inputs) {
        let h = r.get_header();
        let same_bounds = [h.min_longitude, h.min_latitude, h.max_longitude, h.max_latitude]
            == [first.min_longitude, first.min_latitude, first.max_longitude, first.max_latitude];
        anyhow::ensure!(
            h.tile_type == first.tile_type
                && h.tile_compression == first.tile_compression
                && h.min_zoom == first.min_zoom
                && h.max_zoom == first.max_zoom
                && same_bounds
                && r.get_metadata().await? == metadata,
            "{} is not a shard of the same seed as {}",
            input.display(),
            args.inputs[0].display()
        );
    }
    // Every tile id of every shard, with where to read it; shards must not overlap.
    let mut entries: Vec<(u64, usize, u64)> = Vec::new();
    for (i, r) in readers.iter().enumerate() {
        let mut list = r.clone().entries();
        while let Some(e) = list.try_next().await? {
            let ids: Vec<TileId> = e.iter_coords().collect();
            let Some(head) = ids.first().copied() else { continue };
            for id in ids {
                entries.push((id.value(), i, head.value()));
            }
        }
    }
    entries.sort_unstable();
    if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
        let c: TileCoord = TileId::new(w[0].0)?.into();
        anyhow::bail!("tile {}/{}/{} is in two archives: they are not disjoint shards", c.z(), c.x(), c.y());
    }
    let layout = Layout {
        tile_type: first.tile_type,
        minzoom: first.min_zoom,
        maxzoom: first.max_zoom,
        bounds: Bounds::new(first.min_longitude, first.min_latitude, first.max_longitude, first.max_latitude),
        metadata,
    };
    anyhow::ensure!(
        first.tile_compression == writer_compression(first.tile_type),
        "only archives written by imbrex seed can be merged"
    );
    anyhow::ensure!(
        serde_json::from_str::<serde_json::Value>(&layout.metadata).is_ok_and(|m| m["imbrex_seed"].is_string()),
        "{} was not written by imbrex seed",
        args.inputs[0].display()
    );
    // Tiles are read as stored (compressed) and written as they are, one at a time (the
    // writer is synchronous: this thread may block while it reads).
    let runtime = tokio::runtime::Handle::current();
    let mut last: Option<(usize, u64, bytes::Bytes)> = None;
    let tiles = entries.into_iter().map(|(id, i, head)| {
        let data = match &last {
            Some((li, lh, d)) if *li == i && *lh == head => d.clone(),
            _ => {
                let d = runtime
                    .block_on(readers[i].get_tile(TileId::new(head)?))?
                    .context("a directory entry without its tile")?;
                last = Some((i, head, d.clone()));
                d
            }
        };
        Ok((id, data.to_vec(), true))
    });
    let n = tokio::task::block_in_place(|| write_archive(&args.output, &layout, tiles))?;
    eprintln!("{}: {n} tiles from {} archives", args.output.display(), args.inputs.len());
    Ok(())
}

/// Vector tiles are stored gzip-compressed, as every PMTiles reader expects them.
fn writer_compression(t: TileType) -> Compression {
    if t == TileType::Mvt { Compression::Gzip } else { Compression::None }
}
