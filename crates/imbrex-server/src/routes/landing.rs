//! `GET /`, `/conformance`, `/healthz`, `/api` and `/api.html`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{BaseUrl, Negotiated, QueryMap};
use crate::html::{escape, page};
use crate::model::{Conformance, Landing, Link};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(landing))
        .route("/conformance", get(conformance))
        .route("/healthz", get(healthz))
        .route("/api", get(openapi_json))
        .route("/api.html", get(openapi_html))
}

/// The conformance classes imbrex implements today.
pub const CONFORMS_TO: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/landing-page",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
];

fn links(base: &BaseUrl, database: bool) -> Vec<Link> {
    let mut links = vec![
        Link::new(base.join("/"), "self", "application/json", "Landing page"),
        Link::new(base.join("/?f=html"), "alternate", "text/html", "Landing page as HTML"),
        Link::new(
            base.join("/api"),
            "service-desc",
            "application/vnd.oai.openapi+json;version=3.1",
            "The API definition (JSON)",
        ),
        Link::new(base.join("/api.html"), "service-doc", "text/html", "The API documentation"),
        Link::new(
            base.join("/conformance"),
            "http://www.opengis.net/def/rel/ogc/1.0/conformance",
            "application/json",
            "Conformance Declaration",
        ),
        Link::new(
            base.join("/tileMatrixSets"),
            "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
            "application/json",
            "List of Available TileMatrixSets",
        ),
        Link::new(base.join("/healthz"), "data", "application/json", "Health check"),
    ];
    if database {
        links.push(Link::new(base.join("/collections"), "data", "application/json", "PostGIS collections"));
    }
    links
}

/// Landing page: JSON for programs, HTML for browsers (`Accept` or `?f=html`).
#[utoipa::path(get, path = "/", tag = "OGC Common",
    params(("f" = Option<String>, Query, description = "Response format: json or html")),
    responses((status = 200, description = "Landing page", body = Landing)))]
pub async fn landing(
    State(state): State<AppState>,
    base: BaseUrl,
    query: QueryMap,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let doc = Landing {
        title: "imbrex".to_string(),
        description: "A dynamic map tile server: Cloud Optimized GeoTIFFs and PostGIS tables as map tiles, \
                      with TiTiler's and tipg's APIs."
            .to_string(),
        links: links(&base, state.db.is_some()),
    };
    match Negotiated::from_request(&query, &headers)? {
        Negotiated::Json => Ok(axum::Json(doc).into_response()),
        Negotiated::Html => Ok(Html(landing_html(&state, &base, &doc)).into_response()),
    }
}

fn landing_html(state: &AppState, base: &BaseUrl, doc: &Landing) -> String {
    let link = |path: &str, label: &str| format!("<a href=\"{}\">{}</a>", escape(&base.join(path)), escape(label));
    let mut body = format!("<h1>imbrex</h1>\n<p>{}</p>\n", escape(&doc.description));
    // A newcomer sees imagery first: the embedded demo, tiled by this server as they look.
    if state.config.demo {
        body.push_str(&format!(
            "<iframe src=\"{}\" title=\"The demo dataset\" style=\"width:100%;height:420px;border:0\"></iframe>\n\
             <p>The embedded demo dataset (a Sentinel-2 true-colour scene), tiled as you look: {} \
             (or paste the <code>url=</code> of your own COG there).</p>\n",
            escape(&base.join(&format!("/cog/WebMercatorQuad/map.html?url={}", crate::DEMO_URL))),
            link(&format!("/cog/viewer?url={}", crate::DEMO_URL), "open it in the viewer"),
        ));
    }
    body.push_str("<h2>Sources</h2>\n<ul>\n");
    body.push_str(&format!(
        "<li>{}: Cloud Optimized GeoTIFFs and other rasters, TiTiler's <code>/cog</code> API \
         (files under <code>--allow-path</code>, URLs under <code>--allow-url</code>)</li>\n",
        link("/cog/viewer", "/cog viewer")
    ));
    if state.db.is_some() {
        body.push_str(&format!(
            "<li>{}: PostGIS tables, views and functions as vector tiles and OGC API Features, tipg's API</li>\n",
            link("/collections?f=html", "/collections")
        ));
    }
    body.push_str("</ul>\n<h2>Reference</h2>\n<ul>\n");
    for (label, path) in [
        ("Tile matrix sets", "/tileMatrixSets"),
        ("Web Mercator tile matrix set", "/tileMatrixSets/WebMercatorQuad"),
        ("API documentation", "/api.html"),
    ] {
        body.push_str(&format!("<li>{}</li>\n", link(path, label)));
    }
    body.push_str("</ul>\n<h2>Links</h2>\n<table>\n<tr><th>rel</th><th>title</th></tr>\n");
    for l in &doc.links {
        body.push_str(&format!(
            "<tr><td><code>{}</code></td><td><a href=\"{}\">{}</a></td></tr>\n",
            escape(&l.rel),
            escape(&l.href),
            escape(l.title.as_deref().unwrap_or(&l.href)),
        ));
    }
    body.push_str("</table>\n");
    body.push_str(&format!("<p>{} tile matrix sets are available.</p>\n", state.tms.len()));
    page("imbrex", &body)
}

/// OGC conformance classes implemented.
#[utoipa::path(get, path = "/conformance", tag = "OGC Common",
    responses((status = 200, description = "Conformance classes", body = Conformance)))]
pub async fn conformance() -> axum::Json<Conformance> {
    axum::Json(Conformance { conforms_to: CONFORMS_TO.iter().map(|s| s.to_string()).collect() })
}

/// Liveness check with version information.
#[utoipa::path(get, path = "/healthz", tag = "Health",
    responses((status = 200, description = "The server is up")))]
pub async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "status": "ok",
        "versions": { "imbrex": env!("CARGO_PKG_VERSION") },
    }))
}

/// The OpenAPI document, generated from the handlers' annotations.
pub async fn openapi_json(base: BaseUrl) -> Response {
    let mut doc = crate::openapi::document();
    doc.servers = Some(vec![utoipa::openapi::Server::new(base.0.clone())]);
    (
        [(header::CONTENT_TYPE, "application/vnd.oai.openapi+json;version=3.1")],
        doc.to_json().unwrap_or_else(|_| "{}".to_string()),
    )
        .into_response()
}

/// Swagger UI over `/api` (its scripts come from a CDN, so this page needs network access).
pub async fn openapi_html(base: BaseUrl) -> Html<String> {
    Html(format!(
        r##"<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>imbrex API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<noscript>The interactive documentation needs JavaScript; the raw document is at <a href="{api}">{api}</a>.</noscript>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({{ url: "{api}", dom_id: "#swagger-ui" }});</script>
</body></html>
"##,
        api = escape(&base.join("/api"))
    ))
}
