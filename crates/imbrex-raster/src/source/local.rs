//! Local files, read with positional reads on the blocking pool.

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use super::{Fetched, RangeSource, SourceStats};
use crate::error::{Error, Result};

/// A file on local disk. The handle stays open for the life of the source.
#[derive(Debug)]
pub struct LocalSource {
    id: String,
    path: PathBuf,
    file: Arc<File>,
    len: u64,
    stats: SourceStats,
    /// The version at open (see [`version_of`]).
    version: String,
    cache_id: String,
}

/// Inode, size and modification time: a file replaced (renamed over) or rewritten has
/// another. A same-size rewrite within the filesystem's timestamp granularity (a few
/// milliseconds) is not seen.
fn version_of(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!("{}-{}-{}.{:09}", meta.ino(), meta.len(), meta.mtime(), meta.mtime_nsec())
}

impl LocalSource {
    /// Open a file; a missing file is [`Error::NotFound`].
    pub fn open(path: &Path) -> Result<LocalSource> {
        let file = File::open(path).map_err(|e| io_error(path, e))?;
        let meta = file.metadata().map_err(|e| io_error(path, e))?;
        if !meta.is_file() {
            return Err(Error::NotFound { what: format!("file {}", path.display()) });
        }
        let (id, version) = (path.display().to_string(), version_of(&meta));
        Ok(LocalSource {
            cache_id: format!("{id}\u{0}{version}"),
            version,
            id,
            path: path.to_path_buf(),
            file: Arc::new(file),
            len: meta.len(),
            stats: SourceStats::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Named `id` in errors and logs (the `url=` the user gave) instead of the resolved
    /// path, which may show a symlink's target or folders the user never named. Caches
    /// still key on the resolved path.
    pub fn named(mut self, id: impl Into<String>) -> LocalSource {
        self.id = id.into();
        self
    }
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::NotFound { what: format!("file {}", path.display()) }
    } else {
        Error::Io { what: path.display().to_string(), reason: e.to_string() }
    }
}

#[async_trait]
impl RangeSource for LocalSource {
    fn id(&self) -> &str {
        &self.id
    }

    async fn fetch(&self, range: Range<u64>) -> Result<Fetched> {
        if range.start >= self.len {
            return Err(Error::corrupt(
                &self.id,
                format!("range starts at {} past the end ({} bytes)", range.start, self.len),
            ));
        }
        let end = range.end.min(self.len);
        let len = (end - range.start) as usize;
        let file = self.file.clone();
        // Errors name the source as the user named it (see `named`).
        let path = PathBuf::from(&self.id);
        let start = range.start;
        let bytes = tokio::task::spawn_blocking(move || -> Result<Vec<u8>> {
            use std::os::unix::fs::FileExt;
            let mut buf = vec![0u8; len];
            file.read_exact_at(&mut buf, start).map_err(|e| io_error(&path, e))?;
            Ok(buf)
        })
        .await
        .map_err(|e| Error::Io { what: self.id.clone(), reason: e.to_string() })??;
        self.stats.record(bytes.len());
        Ok(Fetched { bytes: Bytes::from(bytes), total_size: Some(self.len) })
    }

    fn stats(&self) -> &SourceStats {
        &self.stats
    }

    fn siblings_are_cheap(&self) -> bool {
        true
    }

    async fn probe_version(&self) -> Result<Option<String>> {
        // By path, not by the open handle: a file replaced by a rename is a new file.
        let meta = std::fs::metadata(&self.path).map_err(|e| io_error(Path::new(&self.id), e))?;
        Ok(Some(version_of(&meta)))
    }

    fn observed_version(&self) -> Option<String> {
        Some(self.version.clone())
    }

    fn cache_id(&self) -> &str {
        &self.cache_id
    }

    fn local_file(&self) -> Option<&Path> {
        Some(&self.path)
    }

    async fn sibling(&self, suffix: &str) -> Option<Arc<dyn RangeSource>> {
        let mut name = self.path.clone().into_os_string();
        name.push(suffix);
        // The sidecar must resolve into the file's own folder: the file passed the access
        // policy there, and a symlinked `.ovr` must not read what the policy refuses.
        let resolved = Path::new(&name).canonicalize().ok()?;
        if resolved.parent() != self.path.canonicalize().ok()?.parent() {
            tracing::debug!(sidecar = %Path::new(&name).display(), "a sidecar outside its file's folder is ignored");
            return None;
        }
        let source = LocalSource::open(&resolved).ok()?.named(format!("{}{suffix}", self.id));
        Some(Arc::new(source) as Arc<dyn RangeSource>)
    }
}
