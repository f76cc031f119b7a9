//! The vector layer's errors; `imbrex-server` maps them to status codes.

/// What can go wrong serving PostGIS data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such collection or item.
    #[error("{what} not found")]
    NotFound { what: String },
    /// A query parameter the caller can fix.
    #[error("invalid {name}: {reason}")]
    InvalidParameter { name: std::borrow::Cow<'static, str>, reason: String },
    /// The database is down, unreachable or the pool is exhausted: retry later (503).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A query ran past `statement_timeout` (an overloaded database or a very large
    /// request): retry later or ask for less (503).
    #[error("the database query timed out (statement_timeout)")]
    Timeout,
    /// The database refused a value (class 22, data exception): the request's fault or the
    /// data's, which `Conn::blame` tells apart; a `Value` that reaches a response is a 500.
    #[error("the database refused a value: {0}")]
    Value(String),
    /// PostGIS failed (class XX: a WKT it cannot read, a ring of two points, GEOS on a
    /// geometry): on the request's literal or on the data, which only `Conn::blame` tells
    /// apart; one that reaches a response is a 500.
    #[error("PostGIS failed: {0}")]
    Refused(String),
    /// The request's PostgreSQL role may not read this (a table it has no privilege on, a
    /// role it may not become): 403.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A query failed for a reason that is not the caller's (a bug or a broken table): 500.
    #[error("database error: {0}")]
    Database(String),
    /// A tile outside its matrix, or a grid PostGIS cannot project to.
    #[error(transparent)]
    Tms(#[from] imbrex_tms::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(name: impl Into<std::borrow::Cow<'static, str>>, reason: impl Into<String>) -> Error {
        Error::InvalidParameter { name: name.into(), reason: reason.into() }
    }
}

impl Error {}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Error {
        // The database going away: a closed connection, a socket error, or the server saying
        // so (08 connection exception, 53 insufficient resources, 57 operator intervention
        // such as a statement timeout or a shutdown). These clear up by themselves: 503.
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        let class = e.code().map(|c| &c.code()[..2]);
        let transient = e.is_closed() || io || matches!(class, Some("08" | "53" | "57"));
        // A value the database cannot take (class 22, data exception: a filter literal that
        // does not convert to its column's type) or one PostGIS refuses (class XX, its errors:
        // a WKT it cannot parse, a ring of two points) may be the caller's to fix:
        // `Conn::blame` judges both by planning the statement again without reading a row
        // (only the request's constants are evaluated then). Messages are not matched: the
        // class of PostGIS's errors is all there is to go by.
        let message = db_message(&e);
        let lower = message.to_ascii_lowercase();
        if e.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED) {
            Error::Timeout
        } else if e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) {
            Error::Forbidden(message)
        } else if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) {
            // A table dropped since the catalog was read: gone, as far as the caller can tell.
            Error::NotFound { what: format!("the relation ({message})") }
        } else if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_FUNCTION) && lower.contains("unaccent") {
            // Only a filter's ACCENTI calls unaccent; the database lacks the extension.
            Error::invalid("filter", "ACCENTI needs PostgreSQL's unaccent extension in the database")
        } else if transient {
            Error::Unavailable(e.to_string())
        } else if matches!(class, Some("22")) {
            Error::Value(message)
        } else if matches!(class, Some("XX")) {
            Error::Refused(message)
        } else {
            Error::Database(message)
        }
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Error {
        Error::Unavailable(e.to_string())
    }
}

fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}
