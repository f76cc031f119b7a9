//! Tile caches: one in memory per process (bounded by bytes) in front of one in Redis shared
//! by every replica, with concurrent identical requests coalesced into one computation.
//!
//! Only tile routes are cached (raster and vector), keyed by path and query. A tile is never
//! served once a source it was made from changed:
//! - a raster tile keeps the sources it read and their versions (mtime, ETag; see
//!   [`imbrex_raster::SourceVersions`]) and is served only while they are unchanged;
//! - a vector tile belongs to its collection; when the catalog sees the collection change or
//!   PostgreSQL says its rows changed (`imbrex db install-triggers`), every replica notes the
//!   time of the purge, and a tile whose computation started before it (in memory or in
//!   Redis, made by any replica) is made again.
//!
//! `POST /cache/purge` purges by collection or URL, tells the other replicas through Redis
//! and deletes the Redis copies. A Redis that fails (down, a timeout) is skipped for tiles,
//! never an error.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use imbrex_raster::{ReaderCache, SourceRead, record_reads};
use moka::future::Cache;
use redis::aio::ConnectionManager;

/// Routes whose answers are cached: the tiles of every mounted raster source
/// (`{prefix}/tiles/...`, see `routes::dataset`) and of the collections.
fn cached(route: &str) -> bool {
    route.ends_with("/tiles/{tileMatrixSetId}/{z}/{x}/{y}")
}

/// Tiles larger than this are not stored (Redis values are best kept small).
const MAX_BYTES: usize = 8 * 1024 * 1024;

/// How long one Redis command may take before the cache is skipped for the request.
const TIMEOUT: Duration = Duration::from_millis(250);

/// Where an answer came from: `memory` (this process), `redis` (another replica, or this one
/// earlier), `miss` (computed for this request). Requests that waited for an identical one
/// being computed say `memory`: the computation happened once.
pub const HEADER: &str = "x-imbrex-cache";

/// A response extension a handler adds to a tile that may change without the cache hearing
/// of it (a vector tile of a table without the row trigger, of a view or a function): memory
/// does not keep it, Redis keeps it for its time-to-live, as configured.
#[derive(Clone, Copy, Debug)]
pub struct Volatile;

/// A cached tile: the handler's headers and body, what it was made from, and when its
/// computation started (Unix milliseconds, the clock of the replica that made it).
#[derive(Debug)]
pub struct Tile {
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
    reads: Vec<SourceRead>,
    tag: Arc<str>,
    made_ms: u64,
    volatile: bool,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Tile {
    fn weight(&self) -> u32 {
        let headers: usize = self.headers.iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
        let reads: usize = self.reads.iter().map(|r| r.url.len() + r.version.as_ref().map_or(0, |v| v.len())).sum();
        u32::try_from(self.body.len() + headers + reads + 128).unwrap_or(u32::MAX)
    }

    fn response(&self, from: &'static str) -> Response {
        let mut res = Response::new(Body::from(self.body.clone()));
        for (k, v) in &self.headers {
            res.headers_mut().append(k.clone(), v.clone());
        }
        res.headers_mut().insert(HEADER, HeaderValue::from_static(from));
        res
    }
}

/// An answer that is not cached (an error, a tile too large, one whose data changed while
/// it was made): given whole to every request that waited for it.
#[derive(Debug)]
struct Uncached {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Uncached {
    fn of(tile: &Tile) -> Uncached {
        let mut headers = HeaderMap::new();
        for (k, v) in &tile.headers {
            headers.append(k.clone(), v.clone());
        }
        Uncached { status: StatusCode::OK, headers, body: tile.body.clone() }
    }

    fn response(&self) -> Response {
        let mut res = Response::new(Body::from(self.body.clone()));
        *res.status_mut() = self.status;
        *res.headers_mut() = self.headers.clone();
        res
    }
}

/// The Redis layer: a reconnecting connection, the key prefixes and the client (for the
/// purge channel's own connection).
#[derive(Clone)]
struct Redis {
    conn: ConnectionManager,
    client: redis::Client,
    /// `{tile_cache_prefix}`: shared by every configuration of a deployment.
    base: String,
    /// `{tile_cache_prefix}:{configuration fingerprint}`.
    prefix: String,
}

/// Whether a collection's tiles may be kept: every change to them is heard (see
/// [`TileCache::set_notified`]).
type Notified = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// The two layers, when each tag was last purged, and the source versions tiles are checked
/// against.
pub struct TileCache {
    /// Keyed by request and by the last purge of its tag: a request after a purge never
    /// joins a computation started before it.
    memory: Cache<(u128, u64), Arc<Tile>>,
    redis: Option<Redis>,
    ttl_s: u64,
    readers: Arc<ReaderCache>,
    /// Tag → Unix ms of its last purge. Entries outlive every tile they judge by living as
    /// long as tiles do.
    purged: moka::sync::Cache<Arc<str>, u64>,
    /// Whether anything was ever purged here: until then, hits skip the per-read checks.
    any_purge: std::sync::atomic::AtomicBool,
    notified: std::sync::OnceLock<Notified>,
}

/// A fingerprint of what a tile depends on besides its URL (allowed paths and hosts, limits,
/// database, grids): replicas configured differently never share tiles, so one cannot serve
/// what another would refuse. Addresses, logging and the caches' own settings are left out,
/// so replicas of one deployment do share.
pub fn config_fingerprint(config: &crate::Config) -> String {
    let mut c = config.clone();
    c.listen = crate::Config::default().listen;
    c.log_format = crate::Config::default().log_format;
    c.tile_cache_url = None;
    c.tile_cache_ttl_s = 0;
    c.tile_memory_cache_mb = 0;
    c.cache_control.clear();
    c.admin_token = None;
    // Secrets stay out of key prefixes; whether tokens are verified does count.
    c.auth.jwt_secret = c.auth.jwt_secret.map(|_| String::new());
    let text = serde_json::to_string(&c).unwrap_or_default();
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

/// What a purge names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Purge {
    Collection(String),
    Url(String),
}

impl Purge {
    fn tag(&self) -> String {
        match self {
            Purge::Collection(id) => format!("collection:{id}"),
            Purge::Url(url) => url_tag(url),
        }
    }

    fn from_tag(tag: &str) -> Option<Purge> {
        if let Some(id) = tag.strip_prefix("collection:") {
            Some(Purge::Collection(id.to_string()))
        } else {
            tag.strip_prefix("url:").map(|u| Purge::Url(u.to_string()))
        }
    }
}

fn url_tag(url: &str) -> String {
    format!("url:{}", url.trim())
}

fn tag_hash(tag: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(tag.as_bytes())
}

impl TileCache {
    /// The memory layer (`memory_mb`, 0 keeps nothing but still coalesces) and the Redis
    /// one (see [`connect_redis`]).
    pub fn new(readers: Arc<ReaderCache>, memory_mb: u64, ttl_s: u64, redis: Option<RedisLayer>) -> Arc<TileCache> {
        // `SET ... EX 0` is an error in Redis.
        let ttl_s = ttl_s.max(1);
        let memory = Cache::builder()
            .max_capacity(memory_mb.saturating_mul(1024 * 1024))
            .weigher(|_, t: &Arc<Tile>| t.weight())
            .time_to_live(Duration::from_secs(ttl_s))
            .support_invalidation_closures()
            .build();
        let redis = redis.map(|r| r.0);
        let purged =
            moka::sync::Cache::builder().max_capacity(1_000_000).time_to_live(Duration::from_secs(ttl_s)).build();
        let cache = Arc::new(TileCache {
            memory,
            redis,
            ttl_s,
            readers,
            purged,
            any_purge: Default::default(),
            notified: Default::default(),
        });
        if cache.redis.is_some() {
            tokio::spawn(subscribe(Arc::downgrade(&cache)));
        }
        cache
    }

    /// Whether tiles are shared through Redis.
    pub fn has_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// Bytes of tiles held in memory.
    pub fn memory_bytes(&self) -> u64 {
        self.memory.weighted_size()
    }

    /// The key of a request: imbrex's version (an upgraded replica does not serve tiles an
    /// older one rendered), path and query, and who it reads as in PostgreSQL (role and
    /// claims: row-level security policies read both, so one user's tile is not another's),
    /// hashed to 128 bits.
    fn key(path_and_query: &str, identity: Option<&imbrex_vector::Identity>) -> u128 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(b"\n");
        h.update(path_and_query.as_bytes());
        if let Some(identity) = identity {
            h.update(b"\n\0role\0");
            h.update(identity.role.as_bytes());
            h.update(b"\0claims\0");
            h.update(identity.claims.as_bytes());
        }
        h.digest128()
    }

    fn redis_key(redis: &Redis, tag: &str, key: u128) -> String {
        format!("{}:tile:{}:{:016x}:{key:032x}", redis.prefix, env!("CARGO_PKG_VERSION"), tag_hash(tag))
    }

    /// When `tag` was last purged here (0: never, within the tiles' time-to-live).
    fn purged_at(&self, tag: &str) -> u64 {
        if !self.any_purge.load(Ordering::Acquire) {
            return 0;
        }
        self.purged.get(tag).unwrap_or(0)
    }

    /// Says which collections' tiles may be kept (their changes are heard); without it,
    /// none are.
    pub fn set_notified(&self, f: Notified) {
        let _ = self.notified.set(f);
    }

    /// Whether a tile of `tag` may be kept: raster tiles always (their sources' versions
    /// are checked), a collection's only while this replica hears of its changes.
    fn keepable(&self, tag: &str) -> bool {
        match tag.strip_prefix("collection:") {
            Some(id) => self.notified.get().is_some_and(|f| f(id)),
            None => true,
        }
    }

    /// Whether no purge since the tile's computation started concerns it (its tag, or a
    /// URL it read).
    fn unpurged(&self, tile: &Tile) -> bool {
        if !self.any_purge.load(Ordering::Acquire) {
            return true;
        }
        tile.made_ms > self.purged_at(&tile.tag)
            && tile.reads.iter().all(|r| tile.made_ms > self.purged_at(&url_tag(&r.url)))
    }

    /// Whether a stored tile may still be served.
    async fn fresh(&self, tile: &Tile) -> bool {
        !tile.volatile
            && self.keepable(&tile.tag)
            && self.unpurged(tile)
            && self.readers.versions().unchanged(&tile.reads).await
    }

    /// Forget the tiles of `what` in this process: what is cached in memory, and the
    /// versions of a URL (asked again on next use). Tiles whose computation started before
    /// now, here or in another replica, are not served or stored from now on.
    pub async fn purge_local(&self, what: &Purge) {
        let tag: Arc<str> = Arc::from(what.tag());
        self.purged.insert(tag.clone(), now_ms());
        self.any_purge.store(true, Ordering::Release);
        let url = match what {
            Purge::Url(u) => Some(u.trim().to_string()),
            Purge::Collection(_) => None,
        };
        if let Some(u) = &url {
            self.readers.versions().forget(u).await;
        }
        let _ = self.memory.invalidate_entries_if(move |_, t| {
            t.tag == tag || url.as_ref().is_some_and(|u| t.reads.iter().any(|r| &r.url == u))
        });
    }

    /// Purge `what` here, tell every other replica through Redis, and delete the Redis
    /// copies (under every configuration's prefix; tiles that read a purged URL under another
    /// tag stay in Redis, and are refused by every replica told). Returns the Redis keys
    /// deleted; an error when Redis is configured but could not be told.
    pub async fn purge(&self, what: &Purge) -> Result<u64, String> {
        self.purge_local(what).await;
        let Some(redis) = &self.redis else { return Ok(0) };
        let tag = what.tag();
        let mut conn = redis.conn.clone();
        let published = tokio::time::timeout(
            TIMEOUT * 4,
            redis::cmd("PUBLISH").arg(purge_channel(&redis.base)).arg(&tag).query_async::<i64>(&mut conn),
        )
        .await;
        match published {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(format!("Redis refused the purge: {e}")),
            Err(_) => return Err("Redis did not answer".into()),
        }
        let pattern = format!("{}:*:tile:*:{:016x}:*", glob_escape(&redis.base), tag_hash(&tag));
        Ok(delete_matching(&mut conn, &pattern).await)
    }

    /// Purge every collection in `ids` (the database said they changed). Every replica hears
    /// PostgreSQL itself; Redis copies made before are refused by their time and expire.
    pub async fn purge_collections(&self, ids: &[String]) {
        for id in ids {
            self.purge_local(&Purge::Collection(id.clone())).await;
        }
    }

    async fn redis_get(&self, key: &str) -> Option<Tile> {
        let redis = self.redis.as_ref()?;
        let mut conn = redis.conn.clone();
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        match tokio::time::timeout(TIMEOUT, cmd.query_async::<Option<Vec<u8>>>(&mut conn)).await {
            Ok(Ok(Some(v))) => decode(&v),
            Ok(Ok(None)) => None,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "tile cache read failed");
                None
            }
            Err(_) => None,
        }
    }

    fn redis_put(&self, key: String, tile: &Tile) {
        let Some(redis) = &self.redis else { return };
        let (mut conn, value, ttl_s) = (redis.conn.clone(), encode(tile), self.ttl_s);
        // Stored after the answer leaves: a client never waits for the cache.
        tokio::spawn(async move {
            let mut cmd = redis::cmd("SET");
            cmd.arg(&key).arg(value).arg("EX").arg(ttl_s);
            if let Ok(Err(e)) = tokio::time::timeout(TIMEOUT * 4, cmd.query_async::<()>(&mut conn)).await {
                tracing::warn!(error = %e, "tile cache write failed");
            }
        });
    }
}

/// `s` matched literally in a Redis glob pattern.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn purge_channel(base: &str) -> String {
    format!("{base}:purge")
}

/// A connection to the Redis layer (see [`connect_redis`]).
pub struct RedisLayer(Redis);

/// Connect to the Redis layer; `None` (logged) when Redis cannot be reached at start.
/// `prefix` is the configured key prefix, `fingerprint` [`config_fingerprint`].
pub async fn connect_redis(url: &str, prefix: &str, fingerprint: &str) -> Option<RedisLayer> {
    connect(url, prefix, fingerprint).await.map(RedisLayer)
}

async fn connect(url: &str, prefix: &str, fingerprint: &str) -> Option<Redis> {
    let client = match redis::Client::open(url) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "tile cache URL is invalid; serving without Redis");
            return None;
        }
    };
    match tokio::time::timeout(Duration::from_secs(5), ConnectionManager::new(client.clone())).await {
        Ok(Ok(conn)) => {
            tracing::info!("tile cache connected to Redis");
            Some(Redis { conn, client, base: prefix.to_string(), prefix: format!("{prefix}:{fingerprint}") })
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "tile cache unreachable; serving without Redis");
            None
        }
        Err(_) => {
            tracing::warn!("tile cache did not answer in 5 s; serving without Redis");
            None
        }
    }
}

/// Delete the keys matching `pattern` (`SCAN`, so Redis is never blocked on a large cache).
async fn delete_matching(conn: &mut ConnectionManager, pattern: &str) -> u64 {
    let mut cursor: u64 = 0;
    let mut deleted = 0;
    loop {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(1000);
        let Ok(Ok((next, keys))) = tokio::time::timeout(TIMEOUT * 4, cmd.query_async::<(u64, Vec<String>)>(conn)).await
        else {
            tracing::warn!(pattern, "tile cache purge: SCAN failed");
            return deleted;
        };
        if !keys.is_empty() {
            let mut del = redis::cmd("UNLINK");
            del.arg(&keys);
            if let Ok(Ok(n)) = tokio::time::timeout(TIMEOUT * 4, del.query_async::<u64>(conn)).await {
                deleted += n;
            }
        }
        if next == 0 {
            return deleted;
        }
        cursor = next;
    }
}

/// Hear the purges other replicas publish, until the cache is dropped; reconnect when Redis
/// goes away.
async fn subscribe(cache: std::sync::Weak<TileCache>) {
    use futures::StreamExt;
    loop {
        let Some((client, channel)) =
            cache.upgrade().and_then(|c| c.redis.as_ref().map(|r| (r.client.clone(), purge_channel(&r.base))))
        else {
            return;
        };
        let mut pubsub = match client.get_async_pubsub().await {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(error = %e, "purge channel cannot connect; retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        if pubsub.subscribe(&channel).await.is_err() {
            tokio::time::sleep(Duration::from_secs(5)).await;
            continue;
        }
        let mut messages = pubsub.into_on_message();
        loop {
            // Wake now and then to notice that the cache was dropped.
            match tokio::time::timeout(Duration::from_secs(5), messages.next()).await {
                Ok(Some(m)) => {
                    let Some(cache) = cache.upgrade() else { return };
                    if let Some(what) = m.get_payload::<String>().ok().as_deref().and_then(Purge::from_tag) {
                        cache.purge_local(&what).await;
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    if cache.strong_count() == 0 {
                        return;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The tag a request's tile is purged by: its collection (for a collection's route), else
/// its `url=`.
fn tag_of(collection: bool, req: &Request) -> String {
    if collection {
        let id = req.uri().path().split('/').nth(2).unwrap_or_default();
        let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy();
        return Purge::Collection(id.into_owned()).tag();
    }
    let url = req
        .uri()
        .query()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "url").map(|(_, v)| v.into_owned()));
    url.map(|u| url_tag(&u)).unwrap_or_default()
}

/// A stored tile: a format byte, then headers, reads and body, each length-prefixed.
fn encode(tile: &Tile) -> Vec<u8> {
    fn put(v: &mut Vec<u8>, bytes: &[u8]) {
        v.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        v.extend_from_slice(bytes);
    }
    let mut v = Vec::with_capacity(tile.body.len() + 256);
    v.push(FORMAT);
    v.push(u8::from(tile.volatile));
    v.extend_from_slice(&tile.made_ms.to_be_bytes());
    v.extend_from_slice(&(tile.headers.len() as u32).to_be_bytes());
    for (k, val) in &tile.headers {
        put(&mut v, k.as_str().as_bytes());
        put(&mut v, val.as_bytes());
    }
    v.extend_from_slice(&(tile.reads.len() as u32).to_be_bytes());
    for r in &tile.reads {
        put(&mut v, r.url.as_bytes());
        match &r.version {
            Some(ver) => {
                v.push(1);
                put(&mut v, ver.as_bytes());
            }
            None => v.push(0),
        }
    }
    put(&mut v, tile.tag.as_bytes());
    v.extend_from_slice(&tile.body);
    v
}

const FORMAT: u8 = 4;

/// The tile in a stored value; `None` for anything malformed (a miss, never a panic).
fn decode(v: &[u8]) -> Option<Tile> {
    struct R<'a>(&'a [u8]);
    impl<'a> R<'a> {
        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            let (a, b) = (self.0.get(..n)?, self.0.get(n..)?);
            self.0 = b;
            Some(a)
        }
        fn u32(&mut self) -> Option<usize> {
            Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?) as usize)
        }
        fn bytes(&mut self) -> Option<&'a [u8]> {
            let n = self.u32()?;
            self.take(n)
        }
        fn str(&mut self) -> Option<&'a str> {
            std::str::from_utf8(self.bytes()?).ok()
        }
    }
    let mut r = R(v);
    if r.take(1)? != [FORMAT] {
        return None;
    }
    let volatile = match r.take(1)? {
        [0] => false,
        [1] => true,
        _ => return None,
    };
    let made_ms = u64::from_be_bytes(r.take(8)?.try_into().ok()?);
    let n = r.u32()?;
    let mut headers = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let k = HeaderName::from_bytes(r.bytes()?).ok()?;
        let val = HeaderValue::from_bytes(r.bytes()?).ok()?;
        headers.push((k, val));
    }
    let n = r.u32()?;
    let mut reads = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let url = r.str()?.to_string();
        let version = match r.take(1)? {
            [1] => Some(Arc::from(r.str()?)),
            [0] => None,
            _ => return None,
        };
        reads.push(SourceRead { url, version });
    }
    let tag = Arc::from(r.str()?);
    Some(Tile { headers, body: Bytes::copy_from_slice(r.0), reads, tag, made_ms, volatile })
}

/// How the leader of a computation got its tile.
const FROM_REDIS: u8 = 1;
const COMPUTED: u8 = 2;

/// The middleware.
pub async fn layer(State(cache): State<Option<Arc<TileCache>>>, req: Request, next: Next) -> Response {
    let Some(cache) = cache else { return next.run(req).await };
    // Whether the route is a tile route, and a collection's. (The body is not Sync: nothing
    // borrowed of the request may live across an await.)
    let Some(collection) = req
        .extensions()
        .get::<MatchedPath>()
        .filter(|r| cached(r.as_str()))
        .map(|r| r.as_str().starts_with("/collections/{collectionId}/"))
    else {
        return next.run(req).await;
    };
    // Legend counts travel in a header no cached tile has: counted tiles are computed
    // every time.
    if req.method() != Method::GET
        || req.uri().query().is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "legend_counts"))
    {
        return next.run(req).await;
    }
    // Which query parameters the handler asks for: an answer to a query with one it never
    // asked for is not kept (see `QueryUse`).
    let used = Arc::new(crate::extract::QueryUse::default());
    let mut req = req;
    req.extensions_mut().insert(used.clone());
    let query = req.uri().query().unwrap_or("").to_string();
    let identity = req.extensions().get::<imbrex_vector::Identity>().filter(|_| collection);
    // The query as decoded and encoded again: spellings of one pair (`%62idx=1`, `bidx=1`)
    // share a key.
    let canonical: String =
        form_urlencoded::Serializer::new(String::new()).extend_pairs(form_urlencoded::parse(query.as_bytes())).finish();
    let request = TileCache::key(&format!("{}?{canonical}", req.uri().path()), identity);
    // The tag matters to a hit only once something was purged.
    let purged = cache.any_purge.load(Ordering::Acquire);
    let tag: Option<Arc<str>> = purged.then(|| Arc::from(tag_of(collection, &req)));
    let key = (request, tag.as_ref().map_or(0, |t| cache.purged_at(t)));
    if let Some(tile) = cache.memory.get(&key).await {
        if cache.fresh(&tile).await {
            return tile.response("memory");
        }
        cache.memory.invalidate(&key).await;
    }
    let tag = tag.unwrap_or_else(|| Arc::from(tag_of(collection, &req)));
    let how = AtomicU8::new(0);
    let made = cache
        .memory
        .try_get_with(key, async {
            // Before anything is read: what a purge from now on concerns.
            let made_ms = now_ms();
            let redis_key = cache.redis.as_ref().map(|r| TileCache::redis_key(r, &tag, request));
            if let Some(k) = &redis_key
                && let Some(tile) = cache.redis_get(k).await
                && tile.tag == tag
                && cache.unpurged(&tile)
                && cache.readers.versions().unchanged(&tile.reads).await
            {
                how.store(FROM_REDIS, Ordering::Relaxed);
                // Served, but kept in memory only if this replica hears of its changes.
                if tile.volatile || !cache.keepable(&tag) {
                    return Err(Uncached::of(&tile));
                }
                return Ok(Arc::new(tile));
            }
            how.store(COMPUTED, Ordering::Relaxed);
            let (res, reads) = record_reads(next.run(req)).await;
            let (parts, body) = res.into_parts();
            let body = match axum::body::to_bytes(body, usize::MAX).await {
                Ok(b) => b,
                Err(e) => {
                    use axum::response::IntoResponse;
                    let res = crate::error::ApiError::Internal(format!("response body: {e}")).into_response();
                    return Err(Uncached { status: res.status(), headers: res.headers().clone(), body: Bytes::new() });
                }
            };
            // Not kept: errors, tiles too large, tiles whose sources were not all recorded
            // (or read at two versions).
            if parts.status != StatusCode::OK || body.len() > MAX_BYTES || !reads.complete {
                return Err(Uncached { status: parts.status, headers: parts.headers, body });
            }
            let unused = used.unused(&query);
            if !unused.is_empty() {
                tracing::debug!(?unused, "a tile query with parameters nothing reads: not cached");
                return Err(Uncached { status: parts.status, headers: parts.headers, body });
            }
            let volatile = parts.extensions.get::<Volatile>().is_some();
            let mut headers: Vec<(HeaderName, HeaderValue)> =
                parts.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            // The validator the ETag layer would compute, once per tile rather than once
            // per answer.
            if !parts.headers.contains_key(axum::http::header::ETAG)
                && let Ok(v) = HeaderValue::from_str(&crate::cache::etag(&body))
            {
                headers.push((axum::http::header::ETAG, v));
            }
            let tile = Tile { headers, body, reads: reads.sources, tag: tag.clone(), made_ms, volatile };
            // Purged while it was made: answered, not kept anywhere.
            if !cache.unpurged(&tile) {
                return Err(Uncached::of(&tile));
            }
            if let Some(k) = redis_key {
                cache.redis_put(k, &tile);
            }
            if volatile || !cache.keepable(&tag) {
                return Err(Uncached::of(&tile));
            }
            Ok(Arc::new(tile))
        })
        .await;
    let from = match how.load(Ordering::Relaxed) {
        FROM_REDIS => "redis",
        COMPUTED => "miss",
        _ => "memory",
    };
    match made {
        Ok(tile) => tile.response(from),
        Err(uncached) => {
            let mut res = uncached.response();
            if uncached.status == StatusCode::OK {
                res.headers_mut().insert(HEADER, HeaderValue::from_static(from));
            }
            res
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_one_url_differ_by_who_asks() {
        let who = |role: &str, claims: &str| imbrex_vector::Identity { role: role.into(), claims: claims.into() };
        let url = "/collections/a.b/tiles/WebMercatorQuad/1/0/0";
        let (alice, bob) = (who("reader", r#"{"sub":"alice"}"#), who("reader", r#"{"sub":"bob"}"#));
        let keys = [
            TileCache::key(url, None),
            TileCache::key(url, Some(&alice)),
            TileCache::key(url, Some(&bob)),
            TileCache::key(url, Some(&who("writer", r#"{"sub":"alice"}"#))),
        ];
        for i in 0..keys.len() {
            for j in i + 1..keys.len() {
                assert_ne!(keys[i], keys[j], "{i} and {j}");
            }
        }
        assert_eq!(TileCache::key(url, Some(&alice)), keys[1]);
    }

    fn tile(body: &'static [u8], reads: Vec<SourceRead>) -> Tile {
        Tile {
            headers: vec![
                (HeaderName::from_static("content-type"), HeaderValue::from_static("image/png")),
                (HeaderName::from_static("content-crs"), HeaderValue::from_static("<http://x/3857>")),
            ],
            body: Bytes::from_static(body),
            reads,
            tag: Arc::from("url:a.tif"),
            made_ms: 1_700_000_000_123,
            volatile: true,
        }
    }

    #[test]
    fn stored_tiles_round_trip() {
        let reads = vec![
            SourceRead { url: "a.tif".into(), version: Some(Arc::from("1-2-3")) },
            SourceRead { url: "https://x/b.tif".into(), version: None },
        ];
        let t = tile(b"\x89PNG...", reads.clone());
        let back = decode(&encode(&t)).unwrap();
        assert_eq!(back.headers, t.headers);
        assert_eq!(back.body, t.body);
        assert_eq!(back.reads, reads);
        assert_eq!(&*back.tag, "url:a.tif");
        assert_eq!(back.made_ms, 1_700_000_000_123);
        assert!(back.volatile);
        let empty = decode(&encode(&tile(b"", vec![]))).unwrap();
        assert!(empty.body.is_empty() && empty.reads.is_empty());
    }

    #[test]
    fn malformed_values_are_misses_not_panics() {
        let v = encode(&tile(b"body", vec![SourceRead { url: "a".into(), version: Some(Arc::from("v")) }]));
        // Every truncation that cuts into the header part fails; none panics.
        for n in 0..v.len() {
            let _ = decode(&v[..n]);
        }
        assert!(decode(&[]).is_none());
        assert!(decode(&[1, 0, 0]).is_none(), "the format of an older imbrex is a miss");
        let mut bad = v.clone();
        bad[10] = 0xff;
        assert!(decode(&bad).is_none(), "an absurd header count runs out of bytes");
    }

    #[test]
    fn purge_tags_round_trip() {
        for p in [Purge::Collection("public.roads".into()), Purge::Url("s3://b/k.tif".into())] {
            assert_eq!(Purge::from_tag(&p.tag()), Some(p));
        }
        assert_eq!(Purge::from_tag("other"), None);
    }
}
