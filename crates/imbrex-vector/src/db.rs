//! The connection pool and the catalog it discovered.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime, StatementCache};
use serde::{Deserialize, Serialize};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row, Statement, ToStatement};

use crate::catalog::{Catalog, Collection};
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
    /// Refresh the catalog this often, in seconds (0: never on a timer).
    pub refresh_interval_s: u64,
    /// Listen for `NOTIFY imbrex_catalog` (sent on DDL by the event triggers `imbrex db
    /// install-triggers` installs) and refresh the catalog within a moment of one.
    pub listen: bool,
    /// Most prepared statements kept on one connection; the least recently used one is
    /// closed to make room (each holds memory in its PostgreSQL backend).
    pub statement_cache_size: usize,
    /// How every collection's tiles are made, unless `collections` says otherwise.
    pub tiles: TileOptions,
    /// Settings of one collection (`schema.table`): its id column, its tiles.
    pub collections: BTreeMap<String, CollectionOptions>,
}

/// How a collection's vector tiles are made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TileOptions {
    /// Geometries are snapped to the tile's grid and simplified (Douglas-Peucker) with this
    /// tolerance, in tile units (1/4096 of a tile by default), before `ST_AsMVTGeom` clips
    /// and validates them: a low-zoom tile of detailed polygons costs what it shows, not
    /// every vertex of the table. 0 turns it off.
    pub simplify: f64,
    /// Point layers show every point from this zoom on; below it each zoom keeps
    /// 1/`thin_rate` of the points of the zoom above (tippecanoe's drop rate), picked by a
    /// hash of the id (of the row address in a table without one), so a point shown at one zoom is
    /// shown at every deeper one. None: off.
    pub thin_points_below_zoom: Option<u8>,
    /// The ratio of points kept from one zoom to the next below `thin_points_below_zoom`.
    pub thin_rate: f64,
}

impl TileOptions {
    /// Settings that make sense, or why not.
    pub fn check(&self) -> std::result::Result<(), String> {
        if !(self.simplify.is_finite() && self.simplify >= 0.0) {
            return Err(format!("simplify is a tolerance >= 0, not {}", self.simplify));
        }
        if self.thin_points_below_zoom.is_some() && !(self.thin_rate.is_finite() && self.thin_rate > 1.0) {
            return Err(format!("thin_rate is a ratio > 1, not {}", self.thin_rate));
        }
        Ok(())
    }
}

impl Default for TileOptions {
    fn default() -> Self {
        TileOptions { simplify: 1.0, thin_points_below_zoom: None, thin_rate: 2.5 }
    }
}

/// Settings of one collection; what is not given comes from the database-wide settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollectionOptions {
    /// The column that identifies a row (ids, `ids=`, paging order, MVT feature ids) for a
    /// view or a table without a single-column primary key.
    pub id_column: Option<String>,
    /// Tile settings of this collection.
    pub tiles: Option<TileOptions>,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            schemas: vec!["public".into()],
            tables: Vec::new(),
            exclude_tables: Vec::new(),
            pool_size: 16,
            statement_timeout_ms: 10_000,
            refresh_interval_s: 60,
            listen: true,
            statement_cache_size: 256,
            tiles: TileOptions::default(),
            collections: BTreeMap::new(),
        }
    }
}

/// A PostGIS database: a bounded pool of connections and the current catalog.
pub struct Database {
    pool: Pool,
    /// How to open a connection of its own (the catalog listener's).
    pg: tokio_postgres::Config,
    pub options: DbOptions,
    catalog: RwLock<Option<Arc<Catalog>>>,
    /// One refresh at a time: the timer's, NOTIFY's and `POST /refresh`'s, so a catalog
    /// read before a DDL never replaces one read after it.
    refreshing: tokio::sync::Mutex<()>,
    statements: Arc<StatementLru>,
    /// How many rows recent plain tiles held (`tiles::tile` reads it to skip counting);
    /// forgotten after a minute, so a table that grew is counted again.
    pub(crate) tile_counts: moka::sync::Cache<crate::tiles::CountKey, crate::tiles::RowCount>,
    /// Tiles made without counting their rows first.
    pub(crate) uncounted_tiles: std::sync::atomic::AtomicU64,
    /// Ids of collections whose definition or rows changed (see [`Database::subscribe`]).
    changes: tokio::sync::broadcast::Sender<Vec<String>>,
    /// Whether the listener is connected and listening: row changes are heard.
    listening: AtomicBool,
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
        // bench table: 830 ms with JIT, 390 ms without). Options in the URL come after
        // these, so they win. Plans are made for each execution's values (plan_cache_mode):
        // a generic plan of a tile query picks one strategy for every tile, and the right one
        // for a tile holding half the table is the wrong one for a tile holding ten features.
        // No parallel workers: a tile server's cores are busy with other requests, and
        // gathering encoded rows from workers made concurrent tiles slower (84 against 145
        // tiles/s in scripts/bench vector). Times in UTC: dates and timestamps without a zone
        // (temporal extents, `datetime=`) mean the same on every server.
        let given = pg.get_options().map(|o| format!(" {o}")).unwrap_or_default();
        pg.options(format!(
            "-c statement_timeout={} -c jit=off -c plan_cache_mode=force_custom_plan \
             -c max_parallel_workers_per_gather=0 -c TimeZone=UTC{given}",
            options.statement_timeout_ms
        ));
        if pg.get_application_name().is_none() {
            pg.application_name("imbrex");
        }
        pg.connect_timeout(Duration::from_secs(5));
        let manager =
            Manager::from_config(pg.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| Error::invalid("database_url", e.to_string()))?;
        for (name, t) in std::iter::once(("db.tiles".to_string(), &options.tiles)).chain(
            options
                .collections
                .iter()
                .filter_map(|(id, o)| Some((format!("db.collections.\"{id}\".tiles"), o.tiles.as_ref()?))),
        ) {
            t.check().map_err(|reason| Error::invalid(name, reason))?;
        }
        let statements = Arc::new(StatementLru::new(options.statement_cache_size));
        let db = Database {
            pool,
            pg,
            options,
            catalog: RwLock::new(None),
            refreshing: tokio::sync::Mutex::new(()),
            statements,
            tile_counts: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            uncounted_tiles: Default::default(),
            changes: tokio::sync::broadcast::channel(256).0,
            listening: AtomicBool::new(false),
        };
        match db.refresh().await {
            Ok(c) => tracing::info!(collections = c.collections.len(), "PostGIS catalog loaded"),
            Err(Error::Unavailable(e)) => tracing::warn!(error = %e, "database unavailable; catalog loads later"),
            Err(Error::Timeout) => tracing::warn!("reading the catalog timed out; it loads later"),
            Err(e) => return Err(e),
        }
        Ok(db)
    }

    /// Connections open in the pool, and how many of them are idle.
    pub fn pool_status(&self) -> (usize, usize) {
        let s = self.pool.status();
        (s.size, s.available)
    }

    /// A pooled connection (a 503 when the database is away). Inside [`as_identity`], it is
    /// in a read-only transaction as the request's role with its claims (rolled back when
    /// the connection goes back to the pool).
    pub(crate) async fn client(&self) -> Result<Conn> {
        let mut conn = self.server_client().await?;
        if let Ok(identity) = IDENTITY.try_with(Identity::clone) {
            conn.become_(&identity).await?;
        }
        Ok(conn)
    }

    /// A pooled connection as the server's own role, whatever request it serves.
    async fn server_client(&self) -> Result<Conn> {
        let obj = self.pool.get().await?;
        Ok(Conn {
            obj: Some(obj),
            busy: AtomicBool::new(false),
            statements: self.statements.clone(),
            in_tx: false,
            identity: None,
        })
    }

    /// How many tiles were made without counting their rows first (under a tile known to
    /// be under the feature cap).
    pub fn uncounted_tiles(&self) -> u64 {
        self.uncounted_tiles.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Read the catalog again from the database.
    pub async fn refresh(&self) -> Result<Arc<Catalog>> {
        let _one_at_a_time = self.refreshing.lock().await;
        // As the server's own role whoever triggered it: the catalog (its collections,
        // extents) is everyone's, never what one user's role or policies let it see.
        let client = self.server_client().await?;
        let previous = self.catalog.read().unwrap_or_else(|e| e.into_inner()).clone();
        let catalog = Arc::new(Catalog::discover(&client, &self.options, previous.as_deref()).await?);
        *self.catalog.write().unwrap_or_else(|e| e.into_inner()) = Some(catalog.clone());
        if let Some(previous) = previous {
            let changed = changed_collections(&previous, &catalog);
            if !changed.is_empty() {
                tracing::info!(collections = ?changed, "collections changed");
                let _ = self.changes.send(changed);
            }
        }
        Ok(catalog)
    }

    /// Ids of collections that changed: a definition the catalog refresh found different
    /// (columns, extent, added, dropped), or rows a `NOTIFY` on [`ROWS_CHANNEL`] said
    /// changed. Tile caches purge them.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Vec<String>> {
        self.changes.subscribe()
    }

    /// Whether every change to `c`'s tiles is heard now: a plain table with the row trigger,
    /// and a listener connected. Only such tiles may be kept without a time limit.
    pub fn notifies(&self, c: &Collection) -> bool {
        let Some(catalog) = self.catalog.read().unwrap_or_else(|e| e.into_inner()).clone() else { return false };
        self.listening.load(Ordering::Acquire)
            && c.kind == "Table"
            && catalog.notifying.contains(&format!("{}.{}", c.schema, c.table))
    }

    /// [`Database::notifies`] of the collection `id` (false for unknown ids and for
    /// several collections joined by commas).
    pub fn notifies_id(&self, id: &str) -> bool {
        let Some(catalog) = self.catalog.read().unwrap_or_else(|e| e.into_inner()).clone() else { return false };
        catalog.collections.get(id).is_some_and(|c| self.notifies(c))
    }

    /// Every collection may have changed (the listener was away).
    fn all_changed(&self) {
        let Some(catalog) = self.catalog.read().unwrap_or_else(|e| e.into_inner()).clone() else { return };
        let _ = self.changes.send(catalog.collections.keys().cloned().collect());
    }

    /// Rows of `schema.table` changed: its collections changed, and so may have every view
    /// and function (what they read is not known here).
    fn rows_changed(&self, relation: &str) {
        let Some(catalog) = self.catalog.read().unwrap_or_else(|e| e.into_inner()).clone() else { return };
        let ids: Vec<String> = catalog
            .collections
            .values()
            .filter(|c| c.kind != "Table" || format!("{}.{}", c.schema, c.table) == relation)
            .map(|c| c.id.clone())
            .collect();
        self.tile_counts.invalidate_all();
        if !ids.is_empty() {
            tracing::debug!(relation, collections = ids.len(), "rows changed");
            let _ = self.changes.send(ids);
        }
    }

    /// Keep the catalog fresh without a restart: read again every `refresh_interval_s`, and
    /// within a moment of a `NOTIFY` on [`CATALOG_CHANNEL`]. The tasks end with the database.
    pub fn watch(self: &Arc<Self>) {
        let every = self.options.refresh_interval_s;
        if every > 0 {
            let db = Arc::downgrade(self);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(every));
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let Some(db) = db.upgrade() else { return };
                    if let Err(e) = db.refresh().await {
                        tracing::warn!(error = %e, "catalog refresh failed");
                    }
                }
            });
        }
        if self.options.listen {
            tokio::spawn(listen(Arc::downgrade(self), self.pg.clone()));
        }
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

/// The channel DDL notifications arrive on (see [`INSTALL_TRIGGERS`]).
pub const CATALOG_CHANNEL: &str = "imbrex_catalog";

/// Event triggers that `NOTIFY` [`CATALOG_CHANNEL`] after every DDL command and drop, so
/// that servers listening re-read their catalog within a moment (`imbrex db
/// install-triggers`; creating event triggers takes a superuser).
pub const INSTALL_TRIGGERS: &str = "
CREATE OR REPLACE FUNCTION public.imbrex_catalog_notify() RETURNS event_trigger
LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('imbrex_catalog', tg_tag); END $$;
DROP EVENT TRIGGER IF EXISTS imbrex_catalog_ddl;
CREATE EVENT TRIGGER imbrex_catalog_ddl ON ddl_command_end EXECUTE FUNCTION public.imbrex_catalog_notify();
DROP EVENT TRIGGER IF EXISTS imbrex_catalog_drop;
CREATE EVENT TRIGGER imbrex_catalog_drop ON sql_drop EXECUTE FUNCTION public.imbrex_catalog_notify();
";

/// The channel row changes arrive on: the payload is `schema.table` (see
/// [`INSTALL_ROW_TRIGGERS`]).
pub const ROWS_CHANNEL: &str = "imbrex_rows";

/// A statement-level trigger on every table with a geometry column (outside PostgreSQL's
/// own schemas) that `NOTIFY`s [`ROWS_CHANNEL`] with `schema.table` after each INSERT,
/// UPDATE, DELETE and TRUNCATE, so that servers purge that collection's cached tiles. One
/// notification per statement (PostgreSQL folds identical ones of a transaction into one,
/// sent at commit). Tables created later get it when the command runs again; tables that
/// have it are left alone (creating a trigger locks its table). Partitioned tables are not
/// covered (a row written into a partition names the partition).
pub const INSTALL_ROW_TRIGGERS: &str = "
CREATE OR REPLACE FUNCTION public.imbrex_rows_notify() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('imbrex_rows', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME); RETURN NULL; END $$;
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT DISTINCT n.nspname, c.relname
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE a.atttypid IN (SELECT oid FROM pg_type WHERE typname IN ('geometry', 'geography'))
             AND c.relkind = 'r' AND NOT a.attisdropped AND a.attnum > 0
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
             AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'imbrex_rows')
  LOOP
    EXECUTE format('CREATE TRIGGER imbrex_rows AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I.%I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION public.imbrex_rows_notify()', r.nspname, r.relname);
  END LOOP;
END $$;
";

/// Removes what [`INSTALL_TRIGGERS`] and [`INSTALL_ROW_TRIGGERS`] install.
pub const UNINSTALL_TRIGGERS: &str = "
DROP EVENT TRIGGER IF EXISTS imbrex_catalog_ddl;
DROP EVENT TRIGGER IF EXISTS imbrex_catalog_drop;
DROP FUNCTION IF EXISTS public.imbrex_catalog_notify();
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT n.nspname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE t.tgname = 'imbrex_rows'
  LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS imbrex_rows ON %I.%I', r.nspname, r.relname);
  END LOOP;
END $$;
DROP FUNCTION IF EXISTS public.imbrex_rows_notify();
";

/// Ids of the collections added, dropped or redefined between two catalogs.
fn changed_collections(before: &Catalog, after: &Catalog) -> Vec<String> {
    let text = |c: &Collection| serde_json::to_string(c).unwrap_or_default();
    let mut ids: Vec<String> = after
        .collections
        .iter()
        .filter(|(id, c)| before.collections.get(*id).is_none_or(|b| text(b) != text(c)))
        .map(|(id, _)| id.clone())
        .collect();
    ids.extend(before.collections.keys().filter(|id| !after.collections.contains_key(*id)).cloned());
    ids
}

/// Run SQL on the database of `url` (the `imbrex db` commands).
pub async fn execute(url: &str, sql: &str) -> Result<()> {
    let pg: tokio_postgres::Config =
        url.parse().map_err(|e: tokio_postgres::Error| Error::invalid("database_url", e.to_string()))?;
    let (client, conn) = pg.connect(NoTls).await?;
    let driver = tokio::spawn(conn);
    let r = client.batch_execute(sql).await;
    drop(client);
    let _ = driver.await;
    Ok(r?)
}

/// LISTEN on [`CATALOG_CHANNEL`] on a connection of its own, refreshing the catalog after
/// each burst of notifications (one DDL script sends many); reconnects when the database
/// goes away.
async fn listen(db: Weak<Database>, pg: tokio_postgres::Config) {
    let mut heard_before = false;
    loop {
        let (client, mut conn) = match pg.connect(NoTls).await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "catalog listener cannot connect; retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
                if db.strong_count() == 0 {
                    return;
                }
                continue;
            }
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        // The connection is driven here; DDL notifications go to the loop below, row
        // changes straight to the subscribers.
        let rows_db = db.clone();
        let driver = tokio::spawn(async move {
            while let Some(m) = std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                match m {
                    Ok(tokio_postgres::AsyncMessage::Notification(n)) if n.channel() == ROWS_CHANNEL => {
                        let Some(db) = rows_db.upgrade() else { return };
                        db.rows_changed(n.payload());
                    }
                    Ok(tokio_postgres::AsyncMessage::Notification(_)) => {
                        if tx.send(()).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        if let Err(e) = client.batch_execute(&format!("LISTEN {CATALOG_CHANNEL}; LISTEN {ROWS_CHANNEL}")).await {
            tracing::warn!(error = %e, "LISTEN failed; the catalog refreshes on its timer only");
            driver.abort();
            return;
        }
        // What changed before LISTEN took effect (or while the connection was away).
        match db.upgrade() {
            Some(db) => {
                if let Err(e) = db.refresh().await {
                    tracing::warn!(error = %e, "catalog refresh failed");
                }
                // Rows may have changed unheard while the listener was away (not before the
                // first connection: tiles made then were not kept, and a new replica must
                // not refuse the tiles the others share).
                if heard_before {
                    db.all_changed();
                }
                heard_before = true;
                db.listening.store(true, Ordering::Release);
            }
            None => return,
        }
        loop {
            // Wake now and then to notice that the database was dropped.
            let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
            let Some(db) = db.upgrade() else {
                driver.abort();
                return;
            };
            match got {
                Ok(Some(())) => {
                    // The rest of the burst, then one refresh.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    while rx.try_recv().is_ok() {}
                    match db.refresh().await {
                        Ok(c) => tracing::info!(collections = c.collections.len(), "catalog refreshed on NOTIFY"),
                        Err(e) => tracing::warn!(error = %e, "catalog refresh failed"),
                    }
                }
                Ok(None) => break,
                Err(_) => {}
            }
        }
        if let Some(db) = db.upgrade() {
            db.listening.store(false, Ordering::Release);
        }
        tracing::debug!("catalog listener lost its connection; reconnecting");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Who a request is in PostgreSQL: a role, and the claims of the token that named it, as
/// PostgREST sets them (`request.jwt.claims`), for row-level security policies to read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    pub role: String,
    /// The verified token's claims, as JSON.
    pub claims: String,
}

tokio::task_local! {
    static IDENTITY: Identity;
}

/// `SET LOCAL ROLE` and the claims, with both as bound values rather than SQL text.
const SET_IDENTITY: &str = "SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true)";

/// Whether this task's queries run as a request's identity.
pub(crate) fn has_identity() -> bool {
    IDENTITY.try_with(|_| ()).is_ok()
}

/// Run `f` with every query of this task as `identity` (none: as the server's own role).
pub async fn as_identity<F: Future>(identity: Option<Identity>, f: F) -> F::Output {
    match identity {
        Some(identity) => IDENTITY.scope(identity, f).await,
        None => f.await,
    }
}

/// A pooled connection that knows whether a query of its is running. Should the future
/// waiting on a query be dropped (the HTTP client went away), the query is cancelled in
/// PostgreSQL and the connection leaves the pool: it is never handed to the next request
/// while a statement still runs on it.
pub struct Conn {
    obj: Option<Object>,
    busy: AtomicBool,
    statements: Arc<StatementLru>,
    /// In a transaction of a request's identity, rolled back before the pool reuses it.
    in_tx: bool,
    /// The identity the transaction runs as, once it does.
    identity: Option<Identity>,
}

impl Conn {
    /// Start a read-only transaction as `identity`: `set_config('role', ..)` is `SET LOCAL
    /// ROLE`, with the role as a bound value rather than SQL text.
    async fn become_(&mut self, identity: &Identity) -> Result<()> {
        self.batch_execute("BEGIN READ ONLY").await?;
        self.in_tx = true;
        // PostgreSQL reads `none` as RESET ROLE: back to the login role, past every policy.
        if identity.role.eq_ignore_ascii_case("none") {
            return Err(Error::Forbidden("role 'none' cannot be used".into()));
        }
        match self.query(SET_IDENTITY, &[&identity.role, &identity.claims]).await {
            Ok(_) => {
                self.identity = Some(identity.clone());
                Ok(())
            }
            // No such role, or the server's login role may not become it.
            Err(Error::Value(m) | Error::Refused(m) | Error::Forbidden(m) | Error::Database(m)) => {
                Err(Error::Forbidden(format!("role '{}' cannot be used: {m}", identity.role)))
            }
            Err(e) => Err(e),
        }
    }

    fn client(&self) -> &Object {
        self.obj.as_ref().expect("a connection is only taken in drop")
    }

    async fn run<T>(&self, f: impl Future<Output = Result<T, tokio_postgres::Error>>) -> Result<T> {
        self.busy.store(true, Ordering::Release);
        let r = f.await;
        if r.is_err()
            && let Some(identity) = &self.identity
        {
            // A failed statement aborts the transaction, and every later one would fail
            // with it (a probe in `blame`, a retry): begin it again, as the same identity.
            let client = self.client();
            let again = async {
                client.batch_execute("ROLLBACK; BEGIN READ ONLY").await?;
                client.query(SET_IDENTITY, &[&identity.role, &identity.claims]).await
            };
            if let Err(e) = again.await {
                tracing::warn!(error = %e, "could not begin a request's transaction again");
            }
        }
        self.busy.store(false, Ordering::Release);
        Ok(r?)
    }

    /// A prepared statement from this connection's bounded cache.
    pub async fn prepare(&self, sql: &str) -> Result<Statement> {
        let client = self.client();
        for old in self.statements.touch(&client.statement_cache, sql) {
            // Dropping the statement closes it in the backend.
            client.statement_cache.remove(&old, &[]);
        }
        self.run(client.prepare_cached(sql)).await
    }

    pub async fn query<T>(&self, statement: &T, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>>
    where
        T: ?Sized + ToStatement,
    {
        self.run(self.client().query(statement, params)).await
    }

    pub async fn query_one<T>(&self, statement: &T, params: &[&(dyn ToSql + Sync)]) -> Result<Row>
    where
        T: ?Sized + ToStatement,
    {
        self.run(self.client().query_one(statement, params)).await
    }

    pub async fn query_opt<T>(&self, statement: &T, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>>
    where
        T: ?Sized + ToStatement,
    {
        self.run(self.client().query_opt(statement, params)).await
    }

    /// Whose fault a refused value (`Error::Value`) from `sql` is: the request's, named by
    /// `param`, when the statement fails on it before reading a row (the request's values
    /// are constants PostgreSQL folds while planning: a probe that plans the statement and
    /// reads nothing fails too), else the data's (a 500).
    pub async fn blame(&self, e: Error, sql: &str, params: &[&(dyn ToSql + Sync)], param: Option<&str>) -> Error {
        let (Error::Value(message) | Error::Refused(message)) = e else { return e };
        let Some(param) = param else { return Error::Database(message) };
        // Every output is selected, so that PostgreSQL plans them all (it drops unused ones).
        match self.query(&format!("SELECT * FROM ({sql}) AS probe LIMIT 0"), params).await {
            Err(Error::Value(m) | Error::Refused(m)) => Error::invalid(param.to_string(), m),
            _ => Error::Database(message),
        }
    }

    pub async fn batch_execute(&self, sql: &str) -> Result<()> {
        self.run(self.client().batch_execute(sql)).await
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if !self.busy.load(Ordering::Acquire) {
            if self.in_tx
                && let (Some(obj), Ok(rt)) = (self.obj.take(), tokio::runtime::Handle::try_current())
            {
                // Back to the pool as the server's own role, once rolled back; a connection
                // that cannot roll back is closed rather than reused.
                rt.spawn(async move {
                    if obj.batch_execute("ROLLBACK").await.is_err() {
                        drop(Object::take(obj));
                    }
                });
            }
            return;
        }
        let (Some(obj), Ok(rt)) = (self.obj.take(), tokio::runtime::Handle::try_current()) else { return };
        let client = Object::take(obj);
        let token = client.cancel_token();
        tracing::debug!("request dropped while its query ran: cancelling it");
        rt.spawn(async move {
            if let Err(e) = token.cancel_query(NoTls).await {
                tracing::warn!(error = %e, "cancelling an abandoned query failed");
            }
            drop(client);
        });
    }
}

/// Which statements each connection holds, least recently used first; connections are
/// known by their statement cache (one per connection, dropped with it).
struct StatementLru<C = StatementCache> {
    max: usize,
    conns: Mutex<HashMap<usize, ConnStatements<C>>>,
}

/// One connection's statement cache (weakly: it goes with the connection) and the SQL of
/// its statements, least recently used first.
type ConnStatements<C> = (Weak<C>, VecDeque<String>);

impl<C> StatementLru<C> {
    fn new(max: usize) -> StatementLru<C> {
        StatementLru { max: max.max(1), conns: Mutex::new(HashMap::new()) }
    }

    /// Note `sql` as used on the connection of `cache`; returns the statements to close.
    fn touch(&self, cache: &Arc<C>, sql: &str) -> Vec<String> {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        let key = Arc::as_ptr(cache) as usize;
        if !conns.contains_key(&key) {
            // A new connection: forget the ones closed since.
            conns.retain(|_, (weak, _)| weak.strong_count() > 0);
        }
        let (weak, order) = conns.entry(key).or_insert_with(|| (Arc::downgrade(cache), VecDeque::new()));
        if weak.strong_count() == 0 {
            // The address of a closed connection's cache, reused by a new one.
            *weak = Arc::downgrade(cache);
            order.clear();
        }
        if let Some(i) = order.iter().position(|s| s == sql) {
            let s = order.remove(i).expect("position is in range");
            order.push_back(s);
            return Vec::new();
        }
        order.push_back(sql.to_string());
        let mut evicted = Vec::new();
        while order.len() > self.max {
            evicted.extend(order.pop_front());
        }
        evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_lru_evicts_the_least_recently_used() {
        let lru = StatementLru::<u8>::new(2);
        let cache = Arc::new(0u8);
        assert!(lru.touch(&cache, "a").is_empty());
        assert!(lru.touch(&cache, "b").is_empty());
        assert!(lru.touch(&cache, "a").is_empty());
        assert_eq!(lru.touch(&cache, "c"), vec!["b".to_string()]);
        assert_eq!(lru.touch(&cache, "b"), vec!["a".to_string()]);
        // Another connection has its own list.
        let other = Arc::new(1u8);
        assert!(lru.touch(&other, "a").is_empty());
    }
}
