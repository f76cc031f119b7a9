//! From a `url=` string to a source, through the access policy.
//!
//! Local files are served only from allowed folders; remote URLs only from allowed
//! prefixes. A path outside the allowed folders is refused before we look at the disk, so
//! the answer never tells whether a file exists there.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use object_store::ObjectStore;

use super::{Counted, HttpSource, LocalSource, MemorySource, ObjectSource, RangeSource, SourceStats};
use crate::error::{Error, Result};

/// What `url=` may name.
#[derive(Clone, Debug, Default)]
pub struct AccessPolicy {
    /// Canonical folders whose files may be read.
    allow_paths: Vec<PathBuf>,
    /// URL prefixes (`https://host/`, `s3://bucket/`) that may be read.
    allow_urls: Vec<String>,
    /// Any http(s)/s3/gs/az URL.
    any_url: bool,
    /// Any local file (the CLI, where the user names the file themselves).
    any_path: bool,
    /// Hosts named in `allow_urls` (lowercase): they may be on private addresses.
    named_hosts: Vec<String>,
    /// Every host may be on a private, loopback or link-local address.
    any_address: bool,
}

impl AccessPolicy {
    /// Allow local files under these folders and URLs starting with these prefixes
    /// (`*` allows every remote URL). Folders that do not exist are an error.
    pub fn new(allow_paths: &[PathBuf], allow_urls: &[String]) -> Result<AccessPolicy> {
        let mut paths = Vec::new();
        for p in allow_paths {
            let c = p
                .canonicalize()
                .map_err(|e| Error::InvalidParameter { name: "allow_path", reason: format!("{}: {e}", p.display()) })?;
            paths.push(c);
        }
        let any_url = allow_urls.iter().any(|u| u.trim() == "*");
        let allow_urls: Vec<String> =
            allow_urls.iter().filter(|u| u.trim() != "*").map(|u| normalize_prefix(u.trim())).collect();
        let named_hosts = allow_urls.iter().filter_map(|u| host_of(u)).collect();
        Ok(AccessPolicy { allow_paths: paths, allow_urls, any_url, any_path: false, named_hosts, any_address: false })
    }

    /// Everything is allowed (command-line use on one's own files).
    pub fn allow_all() -> AccessPolicy {
        AccessPolicy { any_url: true, any_path: true, any_address: true, ..Default::default() }
    }

    /// Let every allowed URL reach private, loopback and link-local addresses too, not only
    /// the hosts `allow_urls` names (a server inside a private network, the CLI).
    pub fn with_private_addresses(mut self, allow: bool) -> AccessPolicy {
        self.any_address = allow;
        self
    }

    fn check_url(&self, url: &str) -> Result<()> {
        if !(self.any_url || self.allow_urls.iter().any(|p| url.starts_with(p.as_str()))) {
            return Err(Error::Forbidden {
                reason: format!("url '{url}' is not allowed by this server (see --allow-url)"),
            });
        }
        // A literal address is never resolved: check it here (names are checked by
        // `GuardedResolver` once resolved).
        if let Some(host) = host_of(url)
            && let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>()
            && !self.may_reach(&host, ip)
        {
            return Err(Error::Forbidden { reason: format!("url '{url}': {PRIVATE}") });
        }
        Ok(())
    }

    /// Whether `host` may be reached at `ip`: a public address, or a host named in
    /// `allow_urls`, or any host when private addresses are allowed.
    fn may_reach(&self, host: &str, ip: IpAddr) -> bool {
        self.any_address || is_public(ip) || self.named_hosts.iter().any(|h| h == host)
    }

    /// Whether `path` may be read; errors name `shown` (what the user gave), never the
    /// resolved path.
    fn check_path(&self, path: &Path, shown: &str) -> Result<()> {
        if self.any_path || self.allow_paths.iter().any(|dir| path.starts_with(dir)) {
            Ok(())
        } else {
            Err(Error::Forbidden { reason: format!("path '{shown}' is not allowed by this server (see --allow-path)") })
        }
    }
}

/// Why a host was not reached.
const PRIVATE: &str = "a private, loopback or link-local address this server does not reach (see --allow-url)";

/// The host (lowercase, IPv6 in brackets) of a URL or URL prefix.
fn host_of(url: &str) -> Option<String> {
    // `host_str` keeps an IPv6 address's brackets, and writes IPv4 in dotted form.
    reqwest::Url::parse(url).ok()?.host_str().map(str::to_ascii_lowercase)
}

/// Whether an address is on the public internet: not loopback, private (RFC 1918, unique
/// local), link-local (cloud metadata services), shared (CGNAT), unspecified, multicast or
/// reserved. IPv4-mapped IPv6 addresses are judged as IPv4.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (18..20).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| IpAddr::V4(std::net::Ipv4Addr::from(((hi as u32) << 16) | lo as u32));
            // Addresses that carry an IPv4 one reach it: judge that. IPv4-mapped and
            // -compatible (::ffff:a.b.c.d, ::a.b.c.d), NAT64 (64:ff9b::/96 and
            // 64:ff9b:1::/48), 6to4 (2002::/16).
            if s[..5] == [0; 5] && (s[5] == 0xffff || (s[5] == 0 && !v6.is_loopback() && !v6.is_unspecified())) {
                return is_public(embedded(s[6], s[7]));
            }
            if (s[0] == 0x64 && s[1] == 0xff9b) || s[0] == 0x2002 {
                let (hi, lo) = if s[0] == 0x2002 { (s[1], s[2]) } else { (s[6], s[7]) };
                return is_public(embedded(hi, lo));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0) // Teredo
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0100 && s[1..4] == [0; 3])) // discard
        }
    }
}

/// The HTTP client's resolver: a name resolves only to the addresses the policy lets it
/// reach (checked after resolution, so a public name pointing at 169.254.169.254 or
/// 127.0.0.1, or re-pointed there later, reaches nothing).
struct GuardedResolver {
    policy: AccessPolicy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_ascii_lowercase();
        Box::pin(async move {
            let found: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let reachable: Vec<_> = found.iter().copied().filter(|a| policy.may_reach(&host, a.ip())).collect();
            if reachable.is_empty() && !found.is_empty() {
                return Err(Box::new(RedirectRefused(PRIVATE)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(reachable.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A bare `scheme://host` prefix gets a trailing slash so `https://a.com` cannot match `https://a.com.evil.org`.
fn normalize_prefix(p: &str) -> String {
    match p.split_once("://") {
        Some((_, rest)) if !rest.contains('/') => format!("{p}/"),
        _ => p.to_string(),
    }
}

/// Redirects followed per request.
const MAX_REDIRECTS: usize = 5;

/// Why a redirect was not followed (the target is not named: it may be an internal address).
#[derive(Debug)]
pub(crate) struct RedirectRefused(pub(crate) &'static str);

/// Why a redirect chain was cut: the upstream's loop, not the user's URL.
pub(crate) const TOO_MANY_REDIRECTS: &str = "too many redirects";

impl std::fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for RedirectRefused {}

/// Opens sources for `url=` values: policy, HTTP client and object-store clients in one place.
#[derive(Debug)]
pub struct SourceFactory {
    policy: AccessPolicy,
    http: reqwest::Client,
    /// Longest an upstream may stay silent (connecting, or between two reads).
    timeout: Duration,
    stores: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
    memory: HashMap<String, Bytes>,
    s3: S3Config,
    fetched: Arc<Fetches>,
}

/// Requests and bytes fetched by every source a factory opened, per kind of store.
#[derive(Debug, Default)]
pub struct Fetches {
    pub local: Arc<SourceStats>,
    pub http: Arc<SourceStats>,
    pub object: Arc<SourceStats>,
}

/// How long an upstream may stay silent unless configured (`limits.upstream_timeout_s`).
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client of remote sources: redirects and addresses checked by `policy`, no
/// proxies, `timeout` to connect and between two reads.
fn http_client(policy: &AccessPolicy, timeout: Duration) -> reqwest::Client {
    // A redirect is a new URL: followed only where `url=` itself could have pointed,
    // checked at every hop (an allowed host must not be a way to reach another).
    let allowed = policy.clone();
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error(RedirectRefused(TOO_MANY_REDIRECTS))
        } else if allowed.check_url(attempt.url().as_str()).is_err() {
            attempt.error(RedirectRefused("a redirect to a URL this server does not allow"))
        } else {
            attempt.follow()
        }
    });
    let resolver = Arc::new(GuardedResolver { policy: policy.clone() });
    reqwest::Client::builder()
        .redirect(redirects)
        .dns_resolver(resolver)
        // A proxy would be resolved instead of the target, past the address check.
        .no_proxy()
        .connect_timeout(timeout)
        .read_timeout(timeout)
        // A whole answer (at most a merged range, 32 MiB) is also bounded.
        .timeout(timeout * 6)
        .pool_idle_timeout(Duration::from_secs(90))
        .user_agent(concat!("imbrex/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("static HTTP client configuration is valid")
}

impl SourceFactory {
    pub fn new(policy: AccessPolicy) -> SourceFactory {
        let timeout = DEFAULT_UPSTREAM_TIMEOUT;
        SourceFactory {
            http: http_client(&policy, timeout),
            policy,
            timeout,
            stores: Mutex::new(HashMap::new()),
            memory: HashMap::new(),
            s3: S3Config::from_env(),
            fetched: Arc::default(),
        }
    }

    /// Give up on an upstream (HTTP server, object store) that stays silent this long,
    /// connecting or between two reads of a body: such a read fails with
    /// [`Error::UpstreamTimeout`] instead of holding its request until the request's own
    /// deadline.
    pub fn with_upstream_timeout(mut self, timeout: Duration) -> SourceFactory {
        let timeout = timeout.max(Duration::from_millis(100));
        self.http = http_client(&self.policy, timeout);
        self.timeout = timeout;
        self.stores.lock().expect("store cache lock is never poisoned").clear();
        self
    }

    /// Use this S3 configuration instead of the environment's.
    pub fn with_s3(mut self, s3: S3Config) -> SourceFactory {
        self.s3 = s3;
        self
    }

    /// Serve an in-memory object under a name (the embedded demo).
    pub fn with_memory(mut self, name: impl Into<String>, data: Bytes) -> SourceFactory {
        self.memory.insert(name.into(), data);
        self
    }

    pub fn policy(&self) -> &AccessPolicy {
        &self.policy
    }

    /// What the sources opened here fetched, per kind of store.
    pub fn fetched(&self) -> &Fetches {
        &self.fetched
    }

    /// Resolve a `url=` value into a source, or say why not.
    pub fn open(&self, url: &str) -> Result<Arc<dyn RangeSource>> {
        let url = url.trim();
        if url.is_empty() {
            return Err(Error::InvalidParameter { name: "url", reason: "empty".into() });
        }
        if url.len() > 4096 {
            return Err(Error::InvalidParameter { name: "url", reason: "longer than 4096 characters".into() });
        }
        if let Some(data) = self.memory.get(url) {
            return Ok(Arc::new(MemorySource::new(url, data.clone()))); // not counted: no fetch leaves the process
        }
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let parsed = reqwest::Url::parse(url)
                .map_err(|e| Error::InvalidParameter { name: "url", reason: format!("'{url}': {e}") })?;
            let canonical = parsed.to_string();
            self.policy.check_url(&canonical)?;
            return Ok(Counted::wrap(Arc::new(HttpSource::new(canonical, self.http.clone())), &self.fetched.http));
        }
        for scheme in ["s3://", "gs://", "az://"] {
            if let Some(rest) = lower.starts_with(scheme).then(|| &url[scheme.len()..]) {
                self.policy.check_url(url)?;
                let (bucket, key) =
                    rest.split_once('/').filter(|(b, k)| !b.is_empty() && !k.is_empty()).ok_or_else(|| {
                        Error::InvalidParameter {
                            name: "url",
                            reason: format!("'{url}' must look like {scheme}bucket/key"),
                        }
                    })?;
                let store = self.store(scheme, bucket)?;
                let path = object_store::path::Path::from_url_path(key)
                    .map_err(|e| Error::InvalidParameter { name: "url", reason: format!("'{url}': {e}") })?;
                return Ok(Counted::wrap(Arc::new(ObjectSource::new(url, store, path)), &self.fetched.object));
            }
        }
        let path = if let Some(p) = lower.starts_with("file://").then(|| &url[7..]) {
            PathBuf::from(p)
        } else if url.contains("://") {
            return Err(Error::InvalidParameter { name: "url", reason: format!("unsupported scheme in '{url}'") });
        } else {
            PathBuf::from(url)
        };
        let absolute = if path.is_absolute() {
            path
        } else {
            std::env::current_dir()
                .map_err(|e| Error::Io { what: "current directory".into(), reason: e.to_string() })?
                .join(path)
        };
        // Check the lexical path first (no disk access for refused paths), then the real one.
        self.policy.check_path(&lexical_normalize(&absolute), url)?;
        let real = absolute.canonicalize().map_err(|_| Error::NotFound { what: format!("file '{url}'") })?;
        self.policy.check_path(&real, url)?;
        let source = LocalSource::open(&real).map_err(|e| match e {
            Error::NotFound { .. } => Error::NotFound { what: format!("file '{url}'") },
            Error::Io { reason, .. } => Error::Io { what: url.to_string(), reason },
            other => other,
        })?;
        Ok(Counted::wrap(Arc::new(source.named(url)), &self.fetched.local))
    }

    fn store(&self, scheme: &str, bucket: &str) -> Result<Arc<dyn ObjectStore>> {
        let key = format!("{scheme}{bucket}");
        let mut stores = self.stores.lock().expect("store cache lock is never poisoned");
        if let Some(s) = stores.get(&key) {
            return Ok(s.clone());
        }
        // GCS and Azure read their settings from the environment: only the timeouts are
        // set over them (client options would replace them all).
        use object_store::ClientConfigKey;
        use object_store::azure::AzureConfigKey;
        use object_store::gcp::GoogleConfigKey;
        let timeouts = (format!("{}ms", (self.timeout * 6).as_millis()), format!("{}ms", self.timeout.as_millis()));
        let store: Arc<dyn ObjectStore> = match scheme {
            "s3://" => Arc::new(s3_store(bucket, &self.s3, self.timeout)?),
            "gs://" => Arc::new(
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(bucket)
                    .with_retry(store_retry(self.timeout))
                    .with_config(GoogleConfigKey::Client(ClientConfigKey::Timeout), timeouts.0.clone())
                    .with_config(GoogleConfigKey::Client(ClientConfigKey::ConnectTimeout), timeouts.1.clone())
                    .build()
                    .map_err(|e| Error::Upstream { source_id: key.clone(), reason: e.to_string() })?,
            ),
            _ => Arc::new(
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_container_name(bucket)
                    .with_retry(store_retry(self.timeout))
                    .with_config(AzureConfigKey::Client(ClientConfigKey::Timeout), timeouts.0)
                    .with_config(AzureConfigKey::Client(ClientConfigKey::ConnectTimeout), timeouts.1)
                    .build()
                    .map_err(|e| Error::Upstream { source_id: key.clone(), reason: e.to_string() })?,
            ),
        };
        stores.insert(key, store.clone());
        Ok(store)
    }
}

/// How to reach S3 or an S3-compatible store (MinIO, moto, Ceph, R2...).
#[derive(Clone, Debug, Default)]
pub struct S3Config {
    /// Endpoint URL for S3-compatible servers; AWS when unset.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
}

impl S3Config {
    /// From the usual AWS variables: `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`),
    /// `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`.
    pub fn from_env() -> S3Config {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        S3Config {
            endpoint: env("AWS_ENDPOINT_URL_S3").or_else(|| env("AWS_ENDPOINT_URL")),
            region: env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")),
            access_key_id: env("AWS_ACCESS_KEY_ID"),
            secret_access_key: env("AWS_SECRET_ACCESS_KEY"),
            session_token: env("AWS_SESSION_TOKEN"),
        }
    }
}

/// How object stores retry: twice, after 100 and 200 ms (throttling and 5xx, resets,
/// timeouts of idempotent reads), and never once `timeout` has passed since the first
/// attempt, so a slow or throttling store answers within a few timeouts, well inside the
/// request's deadline (object_store's own default keeps trying for 3 minutes).
fn store_retry(timeout: Duration) -> object_store::RetryConfig {
    object_store::RetryConfig {
        backoff: object_store::BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            base: 2.0,
        },
        max_retries: 2,
        retry_timeout: timeout,
    }
}

fn store_client(timeout: Duration) -> object_store::ClientOptions {
    object_store::ClientOptions::new()
        .with_connect_timeout(timeout)
        .with_read_timeout(timeout)
        .with_timeout(timeout * 6)
}

fn s3_store(bucket: &str, cfg: &S3Config, timeout: Duration) -> Result<object_store::aws::AmazonS3> {
    use object_store::aws::AmazonS3Builder;
    let mut b = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(cfg.region.as_deref().unwrap_or("us-east-1"))
        .with_retry(store_retry(timeout))
        .with_client_options(store_client(timeout));
    if let Some(endpoint) = &cfg.endpoint {
        b = b.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
    }
    match (&cfg.access_key_id, &cfg.secret_access_key) {
        (Some(k), Some(s)) => {
            b = b.with_access_key_id(k).with_secret_access_key(s);
            if let Some(t) = &cfg.session_token {
                b = b.with_token(t);
            }
        }
        // Without credentials, read public buckets anonymously instead of probing for
        // instance credentials on every request.
        _ => b = b.with_skip_signature(true),
    }
    b.build().map_err(|e| Error::Upstream { source_id: format!("s3://{bucket}"), reason: e.to_string() })
}

/// The one spelling of a `url=` value that caches key on, so that spellings of one source
/// share one reader and one version: an http(s) URL as its parser writes it (lower-case
/// scheme and host, no default port, `.` and `..` segments resolved); a local path (or
/// `file://` URL) without `.` segments and repeated slashes. `..` stays: through a
/// symlink, `a/../b` need not be `b`. Anything else (object stores, whose keys may hold
/// `//`; names) as given, trimmed.
pub fn canonical_url(url: &str) -> String {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return reqwest::Url::parse(url).map_or_else(|_| url.to_string(), |u| u.to_string());
    }
    let (scheme, path) = match lower.starts_with("file://") {
        true => ("file://", &url[7..]),
        false if url.contains("://") => return url.to_string(),
        false => ("", url),
    };
    if !path.contains('/') {
        return url.to_string();
    }
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    if path.starts_with('/') {
        out.push('/');
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    if segments.is_empty() {
        return url.to_string();
    }
    // A relative path of one segment keeps its `./`: a bare name means a file of a served
    // folder (see `imbrex serve FOLDER`), `./name` one of the working directory.
    if !path.starts_with('/') && segments.len() == 1 {
        out.push_str("./");
    }
    out.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// Resolve `.` and `..` without touching the disk.
fn lexical_normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_source_have_one_canonical_form() {
        for (given, want) in [
            ("data/x.tif", "data/x.tif"),
            ("./data/x.tif", "data/x.tif"),
            ("./x.tif", "./x.tif"),
            (".//./x.tif", "./x.tif"),
            ("./", "./"),
            ("x.tif", "x.tif"),
            ("data//./x.tif", "data/x.tif"),
            (" /srv//data/./x.tif ", "/srv/data/x.tif"),
            ("data/../x.tif", "data/../x.tif"),
            ("file:///srv//x.tif", "file:///srv/x.tif"),
            ("HTTP://Example.ORG:80/a/./b/../x.tif?sig=1", "http://example.org/a/x.tif?sig=1"),
            ("s3://bucket//key.tif", "s3://bucket//key.tif"),
            ("demo", "demo"),
        ] {
            assert_eq!(canonical_url(given), want, "{given}");
        }
    }

    #[test]
    fn public_addresses_and_the_rest() {
        let public = ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"];
        for a in public {
            assert!(is_public(a.parse().unwrap()), "{a} is public");
        }
        let private = [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "198.18.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "fec0::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b::7f00:1",
            "2002:a00:1::1",
            "2002:7f00:1::",
            "2001::1",
            "2001:db8::1",
            "100::1",
        ];
        for a in private {
            assert!(!is_public(a.parse().unwrap()), "{a} is not public");
        }
    }

    #[test]
    fn policy_refuses_what_is_not_allowed() {
        let dir = std::env::temp_dir();
        let f = SourceFactory::new(
            AccessPolicy::new(std::slice::from_ref(&dir), &["https://data.example.com".into()]).unwrap(),
        );
        assert!(matches!(f.open("/etc/passwd"), Err(Error::Forbidden { .. })));
        let sneaky = format!("{}/../etc/passwd", dir.display());
        assert!(matches!(f.open(&sneaky), Err(Error::Forbidden { .. })));
        assert!(matches!(f.open(&format!("{}/no-such-file.tif", dir.display())), Err(Error::NotFound { .. })));
        assert!(f.open("https://data.example.com/a.tif").is_ok());
        assert!(matches!(f.open("https://data.example.com.evil.org/a.tif"), Err(Error::Forbidden { .. })));
        assert!(matches!(f.open("https://other.org/a.tif"), Err(Error::Forbidden { .. })));
        assert!(matches!(f.open("s3://bucket/key.tif"), Err(Error::Forbidden { .. })));
        assert!(matches!(f.open("ftp://x/y"), Err(Error::InvalidParameter { .. })));
        assert!(matches!(f.open(""), Err(Error::InvalidParameter { .. })));
    }

    #[test]
    fn memory_objects_by_name() {
        let f = SourceFactory::new(AccessPolicy::default()).with_memory("demo", Bytes::from_static(b"II*\0"));
        assert_eq!(f.open("demo").unwrap().id(), "demo");
    }
}
