//! The `/algebra` endpoint group (django-raster's algebra and RGB endpoints): a dataset
//! made of named layers, each its own file or URL read into the requested grid on its
//! own, stacked as bands named after the layers. `layers=ndvi_a=URL1,b=URL2|indexes=2`
//! and `expression=(a-b)/(a+b)` or `expression=r;g;b`: every endpoint of the dataset
//! router exists.
//!
//! Layer names in `expression=` are rewritten into the stack's `b1..bN` before the
//! request reaches the router, so the band math, its errors and its caching are those of
//! every other dataset.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::future::try_join_all;
use imbrex_raster::multi::{Layer, MAX_LAYERS, Stack};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryMap;
use crate::params::QueryGroup;
use crate::routes::dataset::{self, DatasetFactory};

/// Layers named in `layers=`.
pub struct Algebra;

/// One layer: a name, a dataset URL and optional bands.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSpec {
    pub name: String,
    pub url: String,
    pub indexes: Option<Vec<usize>>,
}

/// The dataset of an `/algebra` request.
#[derive(Clone, Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlgebraParams {
    /// Named layers, `name=URL` (with `|indexes=2` to pick bands), comma-separated or
    /// repeated: `layers=r=red.tif,g=green.tif,b=blue.tif`.
    #[param(value_type = Vec<String>, required = true)]
    pub layers: Vec<LayerSpec>,
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::query("layers", msg)
}

/// `name=URL|indexes=1,2` entries, separated by commas (a comma inside a URL stays when the
/// text after it is not `name=`).
pub fn parse_layers(values: &[&str]) -> ApiResult<Vec<LayerSpec>> {
    let is_name = |s: &str| {
        let mut c = s.chars();
        c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
            && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let mut entries: Vec<String> = Vec::new();
    for v in values {
        for chunk in v.split(',') {
            let starts_entry = chunk.split_once('=').is_some_and(|(n, _)| is_name(n.trim()));
            match entries.last_mut() {
                Some(last) if !starts_entry => {
                    last.push(',');
                    last.push_str(chunk);
                }
                _ => entries.push(chunk.to_string()),
            }
        }
    }
    let mut out: Vec<LayerSpec> = Vec::new();
    for e in entries {
        let (name, rest) = e.split_once('=').ok_or_else(|| invalid(format!("'{e}' is not name=URL")))?;
        let name = name.trim().to_ascii_lowercase();
        if !is_name(&name) {
            return Err(invalid(format!("'{name}' is not a layer name (letters, digits, _)")));
        }
        // `b1`, `b2`... are the stack's own band names.
        if name.len() > 1 && name.starts_with('b') && name[1..].bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!("'{name}' is a band name (b1, b2...): choose another layer name")));
        }
        if out.iter().any(|l| l.name == name) {
            return Err(invalid(format!("'{name}' is named twice")));
        }
        let (url, opts) = match rest.split_once('|') {
            Some((u, o)) => (u, Some(o)),
            None => (rest, None),
        };
        let indexes = match opts {
            None => None,
            Some(o) => {
                let v = o
                    .strip_prefix("indexes=")
                    .or_else(|| o.strip_prefix("bidx="))
                    .ok_or_else(|| invalid(format!("'{o}': the layer option is indexes=1,2")))?;
                let ix: Result<Vec<usize>, _> = v.split(',').map(|i| i.trim().parse::<usize>()).collect();
                match ix {
                    Ok(ix) if !ix.is_empty() && !ix.contains(&0) => Some(ix),
                    _ => return Err(invalid(format!("'{v}' is not a list of band indexes (1, 2, ...)"))),
                }
            }
        };
        if url.trim().is_empty() {
            return Err(invalid(format!("layer '{name}' has no URL")));
        }
        out.push(LayerSpec { name, url: url.trim().to_string(), indexes });
    }
    if out.is_empty() {
        return Err(ApiError::Validation(vec![crate::ValidationIssue::missing("layers")]));
    }
    if out.len() > MAX_LAYERS {
        return Err(invalid(format!("{} layers, at most {MAX_LAYERS}", out.len())));
    }
    Ok(out)
}

impl QueryGroup for AlgebraParams {
    fn parse(state: &AppState, q: &QueryMap) -> ApiResult<AlgebraParams> {
        let mut layers = parse_layers(&q.all("layers"))?;
        // A layer's URL is a `url=` like any other: published names, raw URLs if allowed.
        for layer in &mut layers {
            layer.url = state.dataset_url(&layer.url)?;
        }
        Ok(AlgebraParams { layers })
    }
}

async fn open_layers(state: &AppState, specs: &[LayerSpec]) -> ApiResult<Vec<Layer>> {
    let readers = try_join_all(specs.iter().map(|s| state.readers.get(&s.url))).await?;
    Ok(specs
        .iter()
        .zip(readers)
        .map(|(s, reader)| Layer {
            name: s.name.clone(),
            reader,
            indexes: s.indexes.clone(),
            expression: None,
            nodata: None,
            scales: None,
        })
        .collect())
}

impl DatasetFactory for Algebra {
    type Reader = Stack;
    type Params = AlgebraParams;
    const PREFIX: &'static str = "/algebra";
    const TAG: &'static str = "Algebra";

    async fn open(state: &AppState, params: &AlgebraParams) -> ApiResult<Arc<Stack>> {
        let layers = open_layers(state, &params.layers).await?;
        Ok(Arc::new(Stack::new(layers, false, "algebra")?))
    }

    fn key(params: &AlgebraParams) -> String {
        params.layers.iter().map(|l| format!("{}={}|{:?}", l.name, l.url, l.indexes)).collect::<Vec<_>>().join("\u{0}")
    }
}

pub fn router(state: AppState) -> Router<AppState> {
    dataset::router::<Algebra>()
        .merge(dataset::feature_router::<Algebra>())
        .layer(axum::middleware::from_fn_with_state(state, layer_names))
}

/// Rewrite layer names in `expression=` into stack bands before routing.
async fn layer_names(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    match rewrite(&state, req.uri()).await {
        Ok(Some(uri)) => *req.uri_mut() = uri,
        Ok(None) => {}
        Err(e) => return e.into_response(),
    }
    next.run(req).await
}

async fn rewrite(state: &AppState, uri: &Uri) -> ApiResult<Option<Uri>> {
    let Some(query) = uri.query() else { return Ok(None) };
    let q = QueryMap::parse(query);
    let Some(expr) = q.raw("expression").filter(|e| !e.is_empty()) else { return Ok(None) };
    let specs = parse_layers(&q.all("layers"))?;
    let layers = open_layers(state, &specs).await?;
    // Each layer's first band in the stack, and how many it has.
    let mut names: Vec<(String, usize, usize)> = Vec::new();
    let mut next = 1;
    for l in &layers {
        let n = l.band_count()?;
        names.push((l.name.clone(), next, n));
        next += n;
    }
    let rewritten = rename_bands(expr, &names).map_err(|m| ApiError::query("expression", m))?;
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in q.pairs() {
        out.append_pair(k, if k == "expression" { &rewritten } else { v });
    }
    let pq = format!("{}?{}", uri.path(), out.finish());
    Ok(Some(pq.parse().map_err(|_| ApiError::query("expression", "the rewritten query is not a URI"))?))
}

/// Replace `name` (a one-band layer) and `name_bN` (band N of a layer) by the stack's band
/// names; numbers, functions and `bN` stay as they are.
pub fn rename_bands(expr: &str, layers: &[(String, usize, usize)]) -> Result<String, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = String::with_capacity(expr.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            // A number, exponent included (`1e5` is not a name `e5`).
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '_') {
                let exp = matches!(chars[i], 'e' | 'E');
                i += 1;
                if exp && i < chars.len() && matches!(chars[i], '+' | '-') {
                    i += 1;
                }
            }
            out.extend(&chars[start..i]);
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect::<String>().to_lowercase();
            // A word before `(` is a function (`sqrt(sqrt)` with a layer named sqrt).
            let call = chars[i..].iter().find(|c| !c.is_whitespace()) == Some(&'(');
            let renamed = if call { None } else { resolve(&word, layers)? };
            out.push_str(&renamed.unwrap_or(word));
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(out)
}

fn resolve(word: &str, layers: &[(String, usize, usize)]) -> Result<Option<String>, String> {
    // Whole names first: with layers `a` and `a_b`, `a_b` is the second layer.
    if let Some((name, first, count)) = layers.iter().find(|l| l.0 == word) {
        if *count != 1 {
            return Err(format!("layer '{name}' has {count} bands: name one as {name}_b1 .. {name}_b{count}"));
        }
        return Ok(Some(format!("b{first}")));
    }
    for (name, first, count) in layers {
        let band = word.strip_prefix(name.as_str()).and_then(|r| r.strip_prefix("_b"));
        if let Some(n) = band.and_then(|n| n.parse::<usize>().ok()) {
            if n == 0 || n > *count {
                return Err(format!("layer '{name}' has {count} band(s), not {n}"));
            }
            return Ok(Some(format!("b{}", first + n - 1)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_parse() {
        let l = parse_layers(&["a=/x/red.tif,b=http://h/g.tif|indexes=2"]).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[1], LayerSpec { name: "b".into(), url: "http://h/g.tif".into(), indexes: Some(vec![2]) });
        let l = parse_layers(&["a=http://h/x.tif?a,b", "c=y.tif"]).unwrap();
        assert_eq!(l[0].url, "http://h/x.tif?a,b");
        assert!(parse_layers(&["b1=x.tif"]).is_err());
        assert!(parse_layers(&["a=x.tif,a=y.tif"]).is_err());
        assert!(parse_layers(&["a=x.tif|indexes=0"]).is_err());
    }

    #[test]
    fn names_become_bands() {
        let layers = vec![("a".to_string(), 1, 1), ("nir".to_string(), 2, 1), ("rgb".to_string(), 3, 3)];
        assert_eq!(rename_bands("(nir-a)/(nir+a)", &layers).unwrap(), "(b2-b1)/(b2+b1)");
        assert_eq!(rename_bands("rgb_b3*1e5+a", &layers).unwrap(), "b5*1e5+b1");
        assert_eq!(rename_bands("where(A>1.5e-3, sqrt(a), b1)", &layers).unwrap(), "where(b1>1.5e-3, sqrt(b1), b1)");
        assert!(rename_bands("rgb+1", &layers).is_err());
        assert!(rename_bands("rgb_b4", &layers).is_err());
        let layers = vec![("a".to_string(), 1, 1), ("a_b".to_string(), 2, 1), ("sqrt".to_string(), 3, 1)];
        assert_eq!(rename_bands("a_b+a", &layers).unwrap(), "b2+b1");
        assert_eq!(rename_bands("a_b_b1+a_b1", &layers).unwrap(), "b2+b1");
        assert_eq!(rename_bands("sqrt (sqrt)", &layers).unwrap(), "sqrt (b3)");
    }
}
