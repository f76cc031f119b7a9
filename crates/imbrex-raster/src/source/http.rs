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

/// Attempts per range request; transient failures (connect errors, 5xx) are retried.
const ATTEMPTS: u32 = 3;

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
    /// URL leading somewhere not allowed (not retried), the rest the upstream's failure.
    fn failed(&self, e: &reqwest::Error) -> Error {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
        while let Some(c) = cause {
            if let Some(r) = c.downcast_ref::<super::open::RedirectRefused>() {
                return Error::Forbidden { reason: format!("url '{}': {r}", self.url) };
            }
            cause = c.source();
        }
        self.upstream(e.to_string())
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
        let mut last_error = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
            let response = match self.client.get(&self.url).header(RANGE, &header).send().await {
                Ok(r) => r,
                Err(e) => match self.failed(&e) {
                    forbidden @ Error::Forbidden { .. } => return Err(forbidden),
                    _ => {
                        last_error = e.to_string();
                        continue;
                    }
                },
            };
            let status = response.status();
            if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
                return Err(Error::NotFound { what: self.url.clone() });
            }
            if status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED {
                return Err(self.upstream(format!("access denied ({status})")));
            }
            if status == StatusCode::RANGE_NOT_SATISFIABLE {
                return Err(Error::corrupt(&self.url, format!("range {header} is past the end of the object")));
            }
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                last_error = format!("server answered {status}");
                continue;
            }
            if !status.is_success() {
                return Err(self.upstream(format!("server answered {status}")));
            }
            if let Some(v) = validator(response.headers()) {
                let _ = self.observed.set(v);
            }
            let partial = status == StatusCode::PARTIAL_CONTENT;
            let total = response
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit('/').next())
                .and_then(|v| v.parse::<u64>().ok());
            if partial {
                let body = match response.bytes().await {
                    Ok(b) => b,
                    Err(e) => {
                        last_error = e.to_string();
                        continue;
                    }
                };
                self.stats.record(body.len());
                return Ok(Fetched { bytes: body, total_size: total });
            }
            // A 200 carries the whole object: read up to the range's end, keeping only the
            // range, then drop the connection. An upstream that ignores Range must not make
            // imbrex hold the whole object.
            let length = response.content_length();
            let (body, read, ended) = match read_range(response, &range).await {
                Ok(r) => r,
                Err(e) => {
                    last_error = e.to_string();
                    continue;
                }
            };
            self.stats.record(read as usize);
            let len = if ended { Some(read) } else { length };
            if body.is_empty() {
                return Err(Error::corrupt(
                    &self.url,
                    format!("range starts at {} past the end ({read} bytes)", range.start),
                ));
            }
            return Ok(Fetched { bytes: body, total_size: len });
        }
        Err(self.upstream(last_error))
    }

    fn stats(&self) -> &SourceStats {
        &self.stats
    }

    async fn probe_version(&self) -> Result<Option<String>> {
        // A one-byte range rather than HEAD: whatever serves the ranges serves this too
        // (some signed URLs and servers refuse HEAD).
        let response =
            self.client.get(&self.url).header(RANGE, "bytes=0-0").send().await.map_err(|e| self.failed(&e))?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            return Err(Error::NotFound { what: self.url.clone() });
        }
        if !status.is_success() {
            return Err(self.upstream(format!("server answered {status}")));
        }
        Ok(validator(response.headers()))
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
