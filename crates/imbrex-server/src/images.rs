//! The images `imbrex serve PATH...` serves in pixel space: named by file stem, listed at
//! start-up, opened on first use (a large PNG or JPEG is decoded then, not at start).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use imbrex_raster::pixel::{Opened, PixelImage, PixelOptions};

/// Extensions picked up in a served folder (a file named on the command line is served
/// whatever its name: it is opened by content).
const EXTENSIONS: &[&str] = &["npy", "png", "jpg", "jpeg", "tif", "tiff"];

type Opening = Shared<BoxFuture<'static, Result<Arc<PixelImage>, imbrex_raster::Error>>>;

struct Entry {
    path: PathBuf,
    /// The opening, started once in a task of its own (a client that goes away does not
    /// stop it, and the next request waits for the same one, rather than decoding again)
    /// and kept with its result; a failure that may pass (I/O, overload) is dropped.
    image: std::sync::Mutex<Option<Opening>>,
}

/// The served images, by name.
pub struct ImageSet {
    entries: BTreeMap<String, Entry>,
    folders: Vec<PathBuf>,
    opts: PixelOptions,
}

impl ImageSet {
    /// List the images of files and folders (not recursive; hidden files skipped). Two
    /// files with one stem: the later is named by its whole file name.
    pub fn scan(paths: &[PathBuf], opts: PixelOptions) -> std::io::Result<ImageSet> {
        let mut entries = BTreeMap::new();
        let mut folders = Vec::new();
        let mut add = |path: PathBuf| {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let name = if entries.contains_key(&stem) {
                path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
            } else {
                stem
            };
            entries.insert(name, Entry { path, image: std::sync::Mutex::new(None) });
        };
        for p in paths {
            let p = p.canonicalize().map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
            if p.is_dir() {
                let mut files: Vec<PathBuf> = std::fs::read_dir(&p)?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.is_file())
                    .filter(|f| !f.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
                    .filter(|f| {
                        f.extension().is_some_and(|e| EXTENSIONS.contains(&e.to_string_lossy().to_lowercase().as_str()))
                    })
                    .collect();
                files.sort();
                files.into_iter().for_each(&mut add);
                folders.push(p);
            } else {
                add(p);
            }
        }
        Ok(ImageSet { entries, folders, opts })
    }

    /// Names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The served folders (their georeferenced files are `/cog` datasets).
    pub fn folders(&self) -> &[PathBuf] {
        &self.folders
    }

    /// The image of a name, opened once. A georeferenced TIFF is not one: it is served by
    /// `/cog`, which the error says.
    pub async fn get(&self, name: &str) -> Result<Arc<PixelImage>, imbrex_raster::Error> {
        let entry =
            self.entries.get(name).ok_or_else(|| imbrex_raster::Error::NotFound { what: format!("image '{name}'") })?;
        let opening = {
            let mut slot = entry.image.lock().expect("the image lock is never poisoned");
            slot.get_or_insert_with(|| {
                let (path, opts, name) = (entry.path.clone(), self.opts.clone(), name.to_string());
                let task = tokio::spawn(async move {
                    match PixelImage::open(&path, &opts).await? {
                        Opened::Image(img) => Ok(Arc::from(img)),
                        Opened::Georeferenced => Err(imbrex_raster::Error::NotFound {
                            what: format!(
                                "image '{name}' (the file is georeferenced: /cog serves it, by its name when it is \
                                 in a served folder, else by its path under --allow-path)"
                            ),
                        }),
                    }
                });
                task.map(|r| {
                    r.unwrap_or_else(|e| Err(imbrex_raster::Error::Internal(format!("opening an image: {e}"))))
                })
                .boxed()
                .shared()
            })
            .clone()
        };
        let result = opening.clone().await;
        if let Err(
            imbrex_raster::Error::Io { .. } | imbrex_raster::Error::Internal(_) | imbrex_raster::Error::Overloaded,
        ) = &result
        {
            let mut slot = entry.image.lock().expect("the image lock is never poisoned");
            if slot.as_ref().is_some_and(|s| s.ptr_eq(&opening)) {
                *slot = None;
            }
        }
        result
    }

    /// A relative `url=` of `/cog` that names a file of a served folder (inside it: no
    /// `..`, and a symlink must not lead out of it).
    pub fn resolve(&self, url: &str) -> Option<String> {
        let rel = Path::new(url);
        let plain = rel.components().all(|c| matches!(c, std::path::Component::Normal(_)));
        if url.contains("://") || !plain || rel.exists() {
            return None;
        }
        self.folders.iter().find_map(|f| {
            let real = f.join(rel).canonicalize().ok()?;
            (real.is_file() && real.starts_with(f.canonicalize().ok()?)).then(|| real.to_string_lossy().into_owned())
        })
    }

    /// Bytes of pyramid blocks held.
    pub async fn cached_bytes(&self) -> u64 {
        self.opts.cache.weighted_size().await
    }
}
