use thiserror::Error;

/// Everything that can go wrong reading or rendering a raster, sorted by whose fault it is.
#[derive(Clone, Debug, Error)]
pub enum Error {
    /// The dataset (file, object, URL) does not exist.
    #[error("{what} not found")]
    NotFound { what: String },

    /// The access policy does not allow this source.
    #[error("{reason}")]
    Forbidden { reason: String },

    /// A caller-supplied value is out of its domain.
    #[error("invalid {name}: {reason}")]
    InvalidParameter { name: &'static str, reason: String },

    /// The file is malformed (truncated, inconsistent tags, undecodable data).
    #[error("corrupt {what}: {reason}")]
    Corrupt { what: String, reason: String },

    /// The file is valid but uses something imbrex does not read.
    #[error("unsupported: {reason}")]
    Unsupported { reason: String },

    /// A request would exceed a configured bound.
    #[error("{limit} exceeded: {value} > {max}")]
    LimitExceeded { limit: &'static str, value: u64, max: u64 },

    /// The tile does not intersect the dataset.
    #[error("{0}")]
    TileOutsideBounds(String),

    /// The point is outside the dataset.
    #[error("{0}")]
    PointOutsideBounds(String),

    /// A remote server or object store failed (5xx, refused or reset connections, bodies
    /// that end early), still after retries.
    #[error("upstream error reading {source_id}: {reason}")]
    Upstream { source_id: String, reason: String },

    /// A remote server or object store stayed silent longer than the upstream timeout.
    #[error("upstream timed out reading {source_id}")]
    UpstreamTimeout { source_id: String },

    /// A remote server or object store asks to slow down (429, 503, S3 `SlowDown`), still
    /// after retries with backoff: a condition of the moment.
    #[error("upstream busy reading {source_id}: {reason}")]
    UpstreamBusy { source_id: String, reason: String },

    /// Tile matrix set and CRS errors.
    #[error(transparent)]
    Tms(#[from] imbrex_tms::Error),

    /// The CPU pool's queue is full: try again shortly.
    #[error("the server is busy")]
    Overloaded,

    /// A bug: a computation panicked.
    #[error("internal error: {0}")]
    Internal(String),

    /// A local I/O error that is not "not found".
    #[error("I/O error reading {what}: {reason}")]
    Io { what: String, reason: String },
}

impl Error {
    pub(crate) fn corrupt(what: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Corrupt { what: what.into(), reason: reason.into() }
    }

    pub(crate) fn unsupported(reason: impl Into<String>) -> Error {
        Error::Unsupported { reason: reason.into() }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
