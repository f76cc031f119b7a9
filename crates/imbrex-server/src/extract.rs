//! Request extractors whose failures are our own 422s naming the parameter.
//!
//! Query strings are parsed once into a [`QueryMap`]; parameter groups (TiTiler's
//! "dependencies") read what they need from it with typed getters, so a bad `rescale=`
//! says `{"loc": ["query", "rescale"], ...}` instead of a serde message.

use std::str::FromStr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use crate::error::{ApiError, ValidationIssue};

/// The decoded query string: ordered `(name, value)` pairs, repeats kept.
#[derive(Clone, Debug, Default)]
pub struct QueryMap {
    pairs: Vec<(String, String)>,
    /// Where the names a handler asks for are noted, when a layer wants to know (the tile
    /// cache: see [`QueryUse`]).
    used: Option<std::sync::Arc<QueryUse>>,
}

/// The query pairs (by position) a request's handler used. The tile cache keeps only
/// answers whose every pair was used: a parameter nothing reads (a cache buster, a typo, a
/// second `url=` behind the first) changes nothing in the answer, as TiTiler ignores it, but
/// never mints a key. (A rewrite of the query, as algebra's, keeps its pairs in place.)
#[derive(Debug, Default)]
pub struct QueryUse(std::sync::Mutex<Vec<usize>>);

impl QueryUse {
    fn note(&self, index: usize) {
        let mut used = self.0.lock().expect("query use lock is never poisoned");
        if !used.contains(&index) {
            used.push(index);
        }
    }

    /// The names of the pairs of `query` no one used (none: the answer may be kept).
    pub fn unused(&self, query: &str) -> Vec<String> {
        let used = self.0.lock().expect("query use lock is never poisoned");
        let mut out: Vec<String> = Vec::new();
        for (i, (k, _)) in form_urlencoded::parse(query.as_bytes()).enumerate() {
            if !used.contains(&i) && !out.iter().any(|o| *o == k) {
                out.push(k.into_owned());
            }
        }
        out
    }
}

impl QueryMap {
    /// Decode a raw query string (`a=1&b=2&b=3`).
    pub fn parse(query: &str) -> QueryMap {
        QueryMap { pairs: form_urlencoded::parse(query.as_bytes()).into_owned().collect(), used: None }
    }

    /// The query of a request, decoded once and kept with it: the parameter groups of one
    /// handler all read the same map (and note what they read in the request's
    /// [`QueryUse`], if it has one).
    pub fn of(parts: &mut Parts) -> std::sync::Arc<QueryMap> {
        if let Some(q) = parts.extensions.get::<std::sync::Arc<QueryMap>>() {
            return q.clone();
        }
        let mut q = QueryMap::parse(parts.uri.query().unwrap_or(""));
        q.used = parts.extensions.get::<std::sync::Arc<QueryUse>>().cloned();
        let q = std::sync::Arc::new(q);
        parts.extensions.insert(q.clone());
        q
    }

    fn note(&self, index: usize) {
        if let Some(used) = &self.used {
            used.note(index);
        }
    }

    /// The first value of a parameter (empty values count as absent, as FastAPI does for
    /// optional ones): that pair, and the empty ones of the name, are used.
    pub fn raw(&self, name: &str) -> Option<&str> {
        let mut first = None;
        for (i, (_, v)) in self.pairs.iter().enumerate().filter(|(_, (k, _))| k == name) {
            if v.is_empty() {
                self.note(i);
            } else if first.is_none() {
                self.note(i);
                first = Some(v.as_str());
            }
        }
        first
    }

    /// All values of a repeated parameter (`bidx=1&bidx=2`).
    pub fn all(&self, name: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for (i, (_, v)) in self.pairs.iter().enumerate().filter(|(_, (k, _))| k == name) {
            self.note(i);
            if !v.is_empty() {
                out.push(v.as_str());
            }
        }
        out
    }

    /// The pairs whose names `wanted` says it uses (property filters, function arguments),
    /// noted as used.
    pub fn pairs_where(&self, wanted: impl Fn(&str) -> bool) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, pair) in self.pairs.iter().enumerate().filter(|(_, (k, _))| wanted(k)) {
            self.note(i);
            out.push(pair.clone());
        }
        out
    }

    /// Every pair, each noted as used: for a consumer that takes them all (a tile function
    /// gets every parameter).
    pub fn every_pair(&self) -> &[(String, String)] {
        (0..self.pairs.len()).for_each(|i| self.note(i));
        &self.pairs
    }

    /// True when the parameter is present.
    pub fn contains(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    /// An optional parameter parsed with `FromStr`.
    pub fn get<T: FromStr>(&self, name: &str) -> Result<Option<T>, ApiError>
    where
        T::Err: std::fmt::Display,
    {
        self.raw(name)
            .map(|v| v.trim().parse::<T>().map_err(|e| ApiError::query(name, format!("invalid value '{v}': {e}"))))
            .transpose()
    }

    /// A required parameter.
    pub fn require<T: FromStr>(&self, name: &str) -> Result<T, ApiError>
    where
        T::Err: std::fmt::Display,
    {
        self.get(name)?.ok_or_else(|| ApiError::Validation(vec![ValidationIssue::missing(name)]))
    }

    /// An optional boolean accepting the spellings FastAPI accepts.
    pub fn get_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.raw(name)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" | "t" | "y" => Ok(true),
                "false" | "0" | "no" | "off" | "f" | "n" => Ok(false),
                _ => Err(ApiError::query(name, format!("invalid boolean '{v}'"))),
            })
            .transpose()
    }

    /// Every pair, in order, none of them noted as asked for (to pass them on to links).
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(QueryMap::of(parts).as_ref().clone())
    }
}

/// The externally visible base URL of this server (`http://host:port` plus any root path),
/// honouring `X-Forwarded-Proto`/`X-Forwarded-Host` only when the configuration says a
/// proxy sets them (`forwarded_headers`): otherwise any client could name the host that
/// links and script URLs point to, and a CDN, which does not key on those headers, would
/// keep that page for everyone.
#[derive(Clone, Debug)]
pub struct BaseUrl(pub String);

impl BaseUrl {
    pub fn from_headers(headers: &HeaderMap, root_path: &str, forwarded: bool) -> BaseUrl {
        let get = |name: &str| {
            headers
                .get(name)
                .filter(|_| forwarded)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.split(',').next().unwrap_or("").trim())
        };
        let scheme = get("x-forwarded-proto").filter(|s| *s == "https" || *s == "http").unwrap_or("http");
        let host = get("x-forwarded-host")
            .or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()))
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic() && b != b'/' && b != b'"' && b != b'<'))
            .unwrap_or("localhost");
        BaseUrl(format!("{scheme}://{host}{}", root_path.trim_end_matches('/')))
    }

    /// An absolute URL for a path starting with `/`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for BaseUrl
where
    crate::AppState: axum::extract::FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app: crate::AppState = axum::extract::FromRef::from_ref(state);
        if let Some(public) = &app.config.public_url {
            return Ok(BaseUrl(public.trim_end_matches('/').to_string()));
        }
        Ok(BaseUrl::from_headers(&parts.headers, &app.config.root_path, app.config.forwarded_headers))
    }
}

/// Output format negotiated from `?f=` or the `Accept` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Negotiated {
    Json,
    Html,
}

impl Negotiated {
    /// `f=html|json` wins; otherwise a browser's `Accept: text/html` asks for HTML.
    pub fn from_request(query: &QueryMap, headers: &HeaderMap) -> Result<Negotiated, ApiError> {
        match query.raw("f") {
            Some("html") => Ok(Negotiated::Html),
            Some("json") => Ok(Negotiated::Json),
            Some(other) => Err(ApiError::query("f", format!("'{other}' is not one of html, json"))),
            None => {
                let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
                Ok(if accept.contains("text/html") { Negotiated::Html } else { Negotiated::Json })
            }
        }
    }
}

/// Parse one path segment, failing with a 422 naming it.
pub fn path_param<T: FromStr>(name: &str, value: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    value.parse::<T>().map_err(|e| ApiError::path(name, format!("invalid value '{value}': {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_getters_name_the_parameter() {
        let q = QueryMap::parse("a=1&b=x&b=y&c=&flag=TRUE");
        assert_eq!(q.get::<u32>("a").unwrap(), Some(1));
        assert_eq!(q.all("b"), vec!["x", "y"]);
        assert_eq!(q.get::<u32>("c").unwrap(), None);
        assert_eq!(q.get_bool("flag").unwrap(), Some(true));
        match q.get::<u32>("b") {
            Err(ApiError::Validation(v)) => assert_eq!(v[0].loc, vec!["query", "b"]),
            other => panic!("{other:?}"),
        }
        match q.require::<u32>("zz") {
            Err(ApiError::Validation(v)) => assert_eq!(v[0].kind, "missing"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn base_url_ignores_hostile_hosts() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "example.org:8000".parse().unwrap());
        assert_eq!(BaseUrl::from_headers(&h, "", true).0, "http://example.org:8000");
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(BaseUrl::from_headers(&h, "/tiles/", true).join("/api"), "https://example.org:8000/tiles/api");
        h.insert(header::HOST, "evil\"<script>".parse().unwrap());
        h.remove("x-forwarded-proto");
        assert_eq!(BaseUrl::from_headers(&h, "", true).0, "http://localhost");
    }

    #[test]
    fn forwarded_headers_count_only_when_configured() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "tiles.example.org".parse().unwrap());
        h.insert("x-forwarded-host", "attacker.example".parse().unwrap());
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(BaseUrl::from_headers(&h, "", false).0, "http://tiles.example.org");
        assert_eq!(BaseUrl::from_headers(&h, "", true).0, "https://attacker.example");
    }
}
