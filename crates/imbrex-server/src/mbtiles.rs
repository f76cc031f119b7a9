//! MBTiles 1.3 archives (SQLite): read for `/pmtiles/{name}` and written by `imbrex seed`.
//!
//! Rows are TMS-numbered (row 0 at the south): `tile_row = 2^z - 1 - y`. Vector tiles
//! (`format = pbf`) are stored gzip-compressed, as the specification asks. The writer uses
//! the deduplicated layout of mbutil and tippecanoe (`map` + `images` behind a `tiles`
//! view), which every reader that queries `tiles` understands.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

/// Why an MBTiles file cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MbTilesError(String);

impl From<rusqlite::Error> for MbTilesError {
    fn from(e: rusqlite::Error) -> MbTilesError {
        MbTilesError(e.to_string())
    }
}

impl From<std::io::Error> for MbTilesError {
    fn from(e: std::io::Error) -> MbTilesError {
        MbTilesError(e.to_string())
    }
}

/// `application_id` of MBTiles 1.3 ("MPBX").
const APPLICATION_ID: i32 = 0x4d50_4258;

/// Read connections per archive: more requests wait for one (SQLite point reads are short).
const CONNECTIONS: usize = 8;

/// The TMS row of XYZ tile row `y` at zoom `z`, and back (the flip is its own inverse).
pub fn flip_y(z: u8, y: u32) -> u32 {
    ((1u64 << z) - 1 - u64::from(y)) as u32
}

/// An MBTiles file opened for reading; SQLite's calls run on the blocking pool.
pub struct MbTiles {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// One permit per connection in use.
    permits: tokio::sync::Semaphore,
    metadata: BTreeMap<String, String>,
    /// Zooms from the metadata, else from the tiles.
    pub minzoom: u8,
    pub maxzoom: u8,
}

fn connect(path: &Path) -> Result<Connection, MbTilesError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    Ok(conn)
}

impl MbTiles {
    /// Open `path` and read its metadata table.
    pub async fn open(path: PathBuf) -> Result<MbTiles, MbTilesError> {
        tokio::task::spawn_blocking(move || {
            let conn = connect(&path)?;
            let mut metadata = BTreeMap::new();
            let mut stmt = conn.prepare("SELECT name, value FROM metadata")?;
            // Values as text whatever their SQLite type; rows without a name or value (NULL,
            // blobs) are left out rather than making the archive unreadable.
            let text = |v: ValueRef| match v {
                ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Integer(i) => Some(i.to_string()),
                ValueRef::Real(f) => Some(f.to_string()),
                ValueRef::Null | ValueRef::Blob(_) => None,
            };
            let rows = stmt.query_map([], |r| Ok((text(r.get_ref(0)?), text(r.get_ref(1)?))))?;
            for row in rows {
                if let (Some(name), Some(value)) = row? {
                    metadata.insert(name, value);
                }
            }
            drop(stmt);
            let zoom = |k: &str| metadata.get(k).and_then(|v| v.trim().parse::<u8>().ok());
            let (minzoom, maxzoom) = match (zoom("minzoom"), zoom("maxzoom")) {
                (Some(a), Some(b)) => (a, b),
                _ => {
                    let (a, b): (Option<i64>, Option<i64>) =
                        conn.query_row("SELECT min(zoom_level), max(zoom_level) FROM tiles", [], |r| {
                            Ok((r.get(0)?, r.get(1)?))
                        })?;
                    let clamp = |z: Option<i64>| z.unwrap_or(0).clamp(0, 30) as u8;
                    (clamp(a), clamp(b))
                }
            };
            let permits = tokio::sync::Semaphore::new(CONNECTIONS);
            Ok(MbTiles { path, idle: Mutex::new(vec![conn]), permits, metadata, minzoom, maxzoom })
        })
        .await
        .map_err(|e| MbTilesError(e.to_string()))?
    }

    /// A value of the metadata table.
    pub fn meta(&self, name: &str) -> Option<&str> {
        self.metadata.get(name).map(String::as_str)
    }

    /// The tile at XYZ `z/x/y` as stored, if there is one.
    pub async fn tile(self: &std::sync::Arc<Self>, z: u8, x: u32, y: u32) -> Result<Option<Bytes>, MbTilesError> {
        let this = self.clone();
        let _permit = self.permits.acquire().await.map_err(|e| MbTilesError(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let conn = match this.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
                Some(c) => c,
                None => connect(&this.path)?,
            };
            let found = conn
                .prepare_cached(
                    "SELECT tile_data FROM tiles WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3",
                )?
                .query_row(params![z, x, flip_y(z, y)], |r| r.get::<_, Vec<u8>>(0))
                .optional()?;
            let mut idle = this.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < CONNECTIONS {
                idle.push(conn);
            }
            Ok(found.map(Bytes::from))
        })
        .await
        .map_err(|e| MbTilesError(e.to_string()))?
    }
}

/// An MBTiles file being written: one transaction, renamed into place by [`finish`].
///
/// [`finish`]: MbTilesWriter::finish
pub struct MbTilesWriter {
    conn: Connection,
    tmp: PathBuf,
    out: PathBuf,
    gzip: bool,
}

impl MbTilesWriter {
    /// Start `out` (written as `out.tmp`) with its metadata; `metadata["format"]` of `pbf`
    /// gzips the tiles given uncompressed.
    pub fn create(out: &Path, metadata: &[(String, String)]) -> Result<MbTilesWriter, MbTilesError> {
        let tmp = PathBuf::from(format!("{}.tmp", out.display()));
        let _ = std::fs::remove_file(&tmp);
        let conn = Connection::open(&tmp)?;
        // A temporary file renamed at the end: a crash leaves only the .tmp, so SQLite's
        // rollback journal and fsyncs buy nothing here.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA application_id = {APPLICATION_ID};
             CREATE TABLE metadata (name TEXT, value TEXT);
             CREATE UNIQUE INDEX name ON metadata (name);
             CREATE TABLE map (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_id TEXT);
             CREATE UNIQUE INDEX map_index ON map (zoom_level, tile_column, tile_row);
             CREATE TABLE images (tile_data BLOB, tile_id TEXT);
             CREATE UNIQUE INDEX images_id ON images (tile_id);
             CREATE VIEW tiles AS SELECT map.zoom_level AS zoom_level, map.tile_column AS tile_column,
                 map.tile_row AS tile_row, images.tile_data AS tile_data
                 FROM map JOIN images ON images.tile_id = map.tile_id;
             BEGIN;"
        ))?;
        for (name, value) in metadata {
            conn.execute("INSERT INTO metadata (name, value) VALUES (?1, ?2)", params![name, value])?;
        }
        let gzip = metadata.iter().any(|(k, v)| k == "format" && v == "pbf");
        Ok(MbTilesWriter { conn, tmp, out: out.to_path_buf(), gzip })
    }

    /// Add the tile at XYZ `z/x/y`; `stored` says the bytes are already in their stored
    /// form (compressed, for vector tiles). Identical tiles are stored once.
    pub fn add(&mut self, z: u8, x: u32, y: u32, data: &[u8], stored: bool) -> Result<(), MbTilesError> {
        let compressed;
        let data = if self.gzip && !stored {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(data)?;
            compressed = gz.finish()?;
            &compressed[..]
        } else {
            data
        };
        let id = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(data));
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO images (tile_data, tile_id) VALUES (?1, ?2)")?
            .execute(params![data, id])?;
        self.conn
            .prepare_cached("INSERT INTO map (zoom_level, tile_column, tile_row, tile_id) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![z, x, flip_y(z, y), id])?;
        Ok(())
    }

    /// Commit and move the file into place.
    pub fn finish(self) -> Result<(), MbTilesError> {
        self.conn.execute_batch("COMMIT;")?;
        self.conn.close().map_err(|(_, e)| MbTilesError::from(e))?;
        std::fs::rename(&self.tmp, &self.out)?;
        Ok(())
    }
}
