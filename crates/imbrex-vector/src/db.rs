//! The connection pool and the catalog it discovered.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use serde::{Deserialize, Serialize};
use tokio_postgres::NoTls;

use crate::catalog::Catalog;
use crate::error::{Error, Result};

/// What to publish and how to talk to the database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DbOptions {
    /// Schemas whose tables and views are published.
    pub schemas: Vec<String>,
    /// Only these collections (`schema.table`) when not empty.
    pub tables: Vec<String>,
    /// Never these collections (`schema.table`).
    pub exclude_tables: Vec<String>,
    /// Most connections in the pool.
    pub pool_size: usize,
    /// Longest a statement may run, in milliseconds (PostgreSQL's `statement_timeout`).
    pub statement_timeout_ms: u64,
    /// Refresh the catalog this often, in seconds (0: only on `POST /refresh`).
    pub refresh_interval_s: u64,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            schemas: vec!["public".into()],
            tables: Vec::new(),
            exclude_tables: Vec::new(),
            pool_size: 16,
            statement_timeout_ms: 10_000,
            refresh_interval_s: 0,
        }
    }
}

/// A PostGIS database: a bounded pool of connections and the current catalog.
pub struct Database {
    pool: Pool,
    pub options: DbOptions,
    catalog: RwLock<Option<Arc<Catalog>>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("options", &self.options).finish_non_exhaustive()
    }
}

impl Database {
    /// Build the pool and read the catalog. A database that is down at start is not fatal:
    /// the catalog is read again when a request needs it.
    pub async fn connect(url: &str, options: DbOptions) -> Result<Database> {
        let mut pg: tokio_postgres::Config =
            url.parse().map_err(|e: tokio_postgres::Error| Error::invalid("database_url", e.to_string()))?;
        // JIT off: PostGIS functions' high cost estimates push every tile query past
        // jit_above_cost, and compiling then takes longer than the query (a z6 tile of the
        // bench table: 830 ms with JIT, 390 ms without). Options in the URL come first and
        // are kept.
        let given = pg.get_options().map(|o| format!("{o} ")).unwrap_or_default();
        pg.options(format!("{given}-c statement_timeout={} -c jit=off", options.statement_timeout_ms));
        if pg.get_application_name().is_none() {
            pg.application_name("imbrex");
        }
        pg.connect_timeout(Duration::from_secs(5));
        let manager = Manager::from_config(pg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| Error::invalid("database_url", e.to_string()))?;
        let db = Database { pool, options, catalog: RwLock::new(None) };
        match db.refresh().await {
            Ok(c) => tracing::info!(collections = c.collections.len(), "PostGIS catalog loaded"),
            Err(Error::Unavailable(e)) => tracing::warn!(error = %e, "database unavailable; catalog loads later"),
            Err(Error::Timeout) => tracing::warn!("reading the catalog timed out; it loads later"),
            Err(e) => return Err(e),
        }
        Ok(db)
    }

    /// A pooled connection (a 503 when the database is away).
    pub(crate) async fn client(&self) -> Result<Object> {
        Ok(self.pool.get().await?)
    }

    /// Read the catalog again from the database.
    pub async fn refresh(&self) -> Result<Arc<Catalog>> {
        let client = self.client().await?;
        let catalog = Arc::new(Catalog::discover(&client, &self.options).await?);
        *self.catalog.write().unwrap_or_else(|e| e.into_inner()) = Some(catalog.clone());
        Ok(catalog)
    }

    /// The current catalog, read first if it never could be.
    pub async fn catalog(&self) -> Result<Arc<Catalog>> {
        let current = self.catalog.read().unwrap_or_else(|e| e.into_inner()).clone();
        match current {
            Some(c) => Ok(c),
            None => self.refresh().await,
        }
    }
}
