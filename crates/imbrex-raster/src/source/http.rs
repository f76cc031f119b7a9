//! HTTP(S) range requests.

use std::ops::Range;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, RANGE};

use super::{Fetched, RangeSource, SourceStats};
use crate::error::{Error, Result};

/// A file served over HTTP(S) by a server that honours `Range` (or not: a full `200`
/// response is accepted and sliced, so plain servers still work, just slower).
#[derive(Debug)]
pub struct HttpSource {
    url: String,
    client: reqwest::Client,
    stats: SourceStats,
    /// The validator of the first answer (see [`validator`]).
    observed: std::sync::OnceLock<String>,
    cache_id: std::sync::OnceLock<String>,
}

/// What identifies an answer's content: its `ETag`, else its `Last-Modified`. Weak
/// validators are fine here: ranges of one ETag come from one content.
fn validator(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let get = |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    get(reqwest::header::ETAG).or_else(|| get(reqwest::header::LAST_MODIFIED))
}

/// The bytes of `range` from a body that starts at offset 0, read chunk by chunk and no
/// further than the range's end: the range, the bytes read, and whether the body ended.
async fn read_range(mut response: reqwest::Response, range: &Range<u64>) -> reqwest::Result<(bytes::Bytes, u64, bool)> {
    let mut out = bytes::BytesMut::new();
    let mut pos = 0u64;
    while pos < range.end {
        let Some(chunk) = response.chunk().await? else { return Ok((out.freeze(), pos, true)) };
        let end = pos + chunk.len() as u64;
        let (a, b) = (range.start.max(pos), range.end.min(end));
        if a < b {
            out.extend_from_slice(&chunk[(a - pos) as usize..(b - pos) as usize]);
        }
        pos = end;
    }
    Ok((out.freeze(), pos, false))
}

/// Attempts per range request. Refused or reset connections, bodies that end early and
/// 5xx/429 answers are tried again after a short backoff; a timeout is not (a silent server
/// tends to stay silent, and the request's own deadline is the budget).
const ATTEMPTS: u32 = 3;

/// The pause before attempt `n` (1-based retries): 100 ms, 200 ms.
fn backoff(n: u32) -> Duration {
    Duration::from_millis(50 << n)
}

/// Why one attempt failed: worth another, or final.
enum Failure {
    Transient(Error),
    Final(Error),
}

/// `Content-Range: bytes a-b/total` as `(a, b, total)`; `total` is `None` for `*`.
fn content_range(headers: &reqwest::header::HeaderMap) -> Option<(u64, u64, Option<u64>)> {
    let v = headers.get(CONTENT_RANGE)?.to_str().ok()?.strip_prefix("bytes ")?;
    let (span, total) = v.split_once('/')?;
    let (a, b) = span.split_once('-')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?, total.trim().parse().ok()))
}

impl HttpSource {
    pub fn new(url: impl Into<String>, client: reqwest::Client) -> HttpSource {
        HttpSource {
            url: url.into(),
            client,
            stats: SourceStats::default(),
            observed: Default::default(),
            cache_id: Default::default(),
        }
    }

    fn upstream(&self, reason: impl Into<String>) -> Error {
        Error::Upstream { source_id: self.url.clone(), reason: reason.into() }
    }

    /// A failed request as an error: a redirect the access policy refused is the user's
    /// URL leading somewhere not allowed, a timeout the upstream's silence (neither worth
    /// another attempt), the rest the upstream's failure.
    fn failed(&self, e: &reqwest::Error) -> Failure {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
        while let Some(c) = cause {
            if let Some(r) = c.downcast_ref::<super::open::RedirectRefused>() {
                if r.0 == super::open::TOO_MANY_REDIRECTS {
                    return Failure::Final(self.upstream(r.to_string()));
                }
                return Failure::Final(Error::Forbidden { reason: format!("url '{}': {r}", self.url) });
            }
            cause = c.source();
        }
        if e.is_timeout() {
            return Failure::Final(Error::UpstreamTimeout { source_id: self.url.clone() });
        }
        Failure::Transient(self.upstream(e.to_string()))
    }

    /// A request for `header` (a `Range` value), sent, and its answer when its status is
    /// a success.
    async fn send(&self, header: &str) -> Result<reqwest::Response, Failure> {
        let response = self.client.get(&self.url).header(RANGE, header).send().await.map_err(|e| self.failed(&e))?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            return Err(Failure::Final(Error::NotFound { what: self.url.clone() }));
        }
        if status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED {
            return Err(Failure::Final(self.upstream(format!("access denied ({status})"))));
        }
        if status == StatusCode::RANGE_NOT_SATISFIABLE {
            return Err(Failure::Final(Error::corrupt(
                &self.url,
                format!("range {header} is past the end of the object"),
            )));
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            let reason = format!("server answered {status}");
            return Err(Failure::Transient(Error::UpstreamBusy { source_id: self.url.clone(), reason }));
        }
        if status.is_server_error() {
            return Err(Failure::Transient(self.upstream(format!("server answered {status}"))));
        }
        if !status.is_success() {
            return Err(Failure::Final(self.upstream(format!("server answered {status}"))));
        }
        Ok(response)
    }

    /// `attempt` until it succeeds, fails for good, or has failed [`ATTEMPTS`] times.
    async fn retrying<T, F: std::future::Future<Output = Result<T, Failure>>>(
        &self,
        attempt: impl Fn() -> F,
    ) -> Result<T> {
        let mut n = 0;
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Transient(e)) => {
                    n += 1;
                    if n >= ATTEMPTS {
                        return Err(e);
                    }
                    tracing::debug!(url = %self.url, error = %e, attempt = n, "retrying a range request");
                    tokio::time::sleep(backoff(n)).await;
                }
            }
        }
    }

    /// One request for `range` (`header` is its `Range` value).
    async fn attempt(&self, range: &Range<u64>, header: &str) -> Result<Fetched, Failure> {
        let response = self.send(header).await?;
        let status = response.status();
        if let Some(v) = validator(response.headers()) {
            let _ = self.observed.set(v);
        }
        let want = range.end - range.start;
        if status == StatusCode::PARTIAL_CONTENT {
            // What the server says it sends must be what was asked (an object may end
            // before the range does), and the body must hold all of it: a body cut short
            // (a reset, a lying Content-Length) is the upstream's failure, never data.
            // Not the range asked for (none, or a multipart answer): the same again next time.
            let Some((a, b, total)) = content_range(response.headers()).filter(|&(a, b, _)| a == range.start && b >= a)
            else {
                return Err(Failure::Final(self.upstream(format!("a 206 answer to {header} without that range"))));
            };
            let declared = (b - a).saturating_add(1).min(want);
            // Fewer bytes than asked while the object goes on: the server cut the answer.
            if declared < want && total.is_some_and(|t| b.saturating_add(1) < t) {
                let reason = format!("the answer to {header} is bytes {a}-{b} of {}", total.unwrap_or_default());
                return Err(Failure::Transient(self.upstream(reason)));
            }
            let (body, read, _) = read_range(response, &(0..declared)).await.map_err(|e| self.failed(&e))?;
            self.stats.record(read as usize);
            if (body.len() as u64) < declared {
                let reason = format!("the answer to {header} ended after {} of {declared} bytes", body.len());
                return Err(Failure::Transient(self.upstream(reason)));
            }
            return Ok(Fetched { bytes: body, total_size: total });
        }
        // A 200 carries the whole object: read up to the range's end, keeping only the
        // range, then drop the connection. An upstream that ignores Range must not make
        // imbrex hold the whole object.
        let length = response.content_length();
        let (body, read, ended) = read_range(response, range).await.map_err(|e| self.failed(&e))?;
        self.stats.record(read as usize);
        let len = if ended { Some(read) } else { length };
        if body.is_empty() {
            return Err(Failure::Final(Error::corrupt(
                &self.url,
                format!("range starts at {} past the end ({read} bytes)", range.start),
            )));
        }
        Ok(Fetched { bytes: body, total_size: len })
    }
}

#[async_trait]
impl RangeSource for HttpSource {
    fn id(&self) -> &str {
        &self.url
    }

    async fn fetch(&self, range: Range<u64>) -> Result<Fetched> {
        if range.is_empty() {
            return Err(Error::InvalidParameter { name: "range", reason: "empty range".into() });
        }
        let header = format!("bytes={}-{}", range.start, range.end - 1);
        self.retrying(|| self.attempt(&range, &header)).await
    }

    fn stats(&self) -> &SourceStats {
        &self.stats
    }

    async fn probe_version(&self) -> Result<Option<String>> {
        // A one-byte range rather than HEAD: whatever serves the ranges serves this too
        // (some signed URLs and servers refuse HEAD). Retried as ranges are.
        self.retrying(|| async { Ok(validator(self.send("bytes=0-0").await?.headers())) }).await
    }

    fn observed_version(&self) -> Option<String> {
        self.observed.get().cloned()
    }

    fn cache_id(&self) -> &str {
        self.cache_id.get_or_init(|| match self.observed.get() {
            Some(v) => format!("{}\u{0}{v}", self.url),
            None => self.url.clone(),
        })
    }

    async fn sibling(&self, suffix: &str) -> Option<std::sync::Arc<dyn RangeSource>> {
        // The suffix goes on the path, before any query string (signed URLs).
        let mut url = reqwest::Url::parse(&self.url).ok()?;
        let path = format!("{}{suffix}", url.path());
        url.set_path(&path);
        let sibling = HttpSource::new(url.to_string(), self.client.clone());
        sibling.fetch(0..1).await.ok()?;
        Some(std::sync::Arc::new(sibling))
    }
}
