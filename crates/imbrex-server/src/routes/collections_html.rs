//! The HTML face of the collections endpoints (`f=html`, or a browser's `Accept`), as tipg
//! has one: lists with links, and items on a MapLibre map (served from the binary, so the
//! pages work offline) above a table of their properties.

use serde_json::Value;

use crate::extract::BaseUrl;
use crate::html::{escape, page, script_json};

/// A JSON value as a table cell shows it: strings without quotes, null as nothing.
pub fn plain_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Links of a document as a list (`rel`: title).
fn links(doc: &Value) -> String {
    let mut out = String::from("<ul>\n");
    for l in doc["links"].as_array().into_iter().flatten() {
        let href = l["href"].as_str().unwrap_or_default();
        let title = l["title"].as_str().unwrap_or(href);
        out.push_str(&format!(
            "<li><code>{}</code> <a href=\"{}\">{}</a></li>\n",
            escape(l["rel"].as_str().unwrap_or_default()),
            escape(href),
            escape(title)
        ));
    }
    out.push_str("</ul>\n");
    out
}

/// `/collections`.
pub fn collections(base: &BaseUrl, doc: &Value) -> String {
    let mut body = String::from("<h1>Collections</h1>\n<table>\n<tr><th>id</th><th>description</th></tr>\n");
    for c in doc["collections"].as_array().into_iter().flatten() {
        let id = c["id"].as_str().unwrap_or_default();
        body.push_str(&format!(
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td></tr>\n",
            escape(&base.join(&format!("/collections/{}?f=html", super::collections::seg(id)))),
            escape(id),
            escape(c["description"].as_str().unwrap_or_default())
        ));
    }
    body.push_str("</table>\n<h2>Links</h2>\n");
    body.push_str(&links(doc));
    page("Collections", &body)
}

/// `/collections/{collectionId}`.
pub fn collection(base: &BaseUrl, doc: &Value) -> String {
    let id = doc["id"].as_str().unwrap_or_default();
    let mut body = format!("<h1>{}</h1>\n", escape(id));
    if let Some(d) = doc["description"].as_str() {
        body.push_str(&format!("<p>{}</p>\n", escape(d)));
    }
    if let Some(b) = doc["extent"]["spatial"]["bbox"][0].as_array() {
        let b: Vec<String> = b.iter().map(Value::to_string).collect();
        body.push_str(&format!("<p>Extent (longitude/latitude): <code>{}</code></p>\n", escape(&b.join(", "))));
    }
    body.push_str(&format!(
        "<p><a href=\"{}\">Items</a> · <a href=\"{}\">Map of the vector tiles</a></p>\n<h2>Links</h2>\n",
        escape(&base.join(&format!("/collections/{}/items?f=html", super::collections::seg(id)))),
        escape(&base.join(&format!("/collections/{}/tiles/WebMercatorQuad/map.html", super::collections::seg(id)))),
    ));
    body.push_str(&links(doc));
    page(id, &body)
}

/// Features (a FeatureCollection page or one Feature) on a map and in a table.
pub fn features(base: &BaseUrl, title: &str, doc: &Value) -> String {
    let features: Vec<&Value> = match doc["features"].as_array() {
        Some(list) => list.iter().collect(),
        None => vec![doc],
    };
    // Columns in the order the first feature has them, then any others.
    let mut columns: Vec<String> = Vec::new();
    for f in &features {
        for k in f["properties"].as_object().into_iter().flat_map(|m| m.keys()) {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    let mut body = format!("<h1>{}</h1>\n", escape(title));
    if let (Some(matched), Some(returned)) = (doc["numberMatched"].as_i64(), doc["numberReturned"].as_i64()) {
        body.push_str(&format!("<p>{returned} of {matched} features.</p>\n"));
    }
    let root = escape(&base.0);
    body.push_str(&format!(
        r##"<link rel="stylesheet" href="{root}/static/maplibre-gl.css">
<script src="{root}/static/maplibre-gl.js"></script>
<div id="map" style="height: 24rem; border: 1px solid #ccc"></div>
<script>
const data = {data};
const kinds = (t, paint, type) => ({{id: t, source: "items", type: type, paint: paint,
  filter: ["match", ["geometry-type"], [t, "Multi" + t], true, false]}});
const map = new maplibregl.Map({{container: "map", style: {{version: 8,
  sources: {{items: {{type: "geojson", data: data}}}},
  layers: [{{id: "background", type: "background", paint: {{"background-color": "#f4f4f4"}}}},
    kinds("Polygon", {{"fill-color": "rgba(200, 100, 240, 0.4)", "fill-outline-color": "#000"}}, "fill"),
    kinds("LineString", {{"line-color": "#000", "line-width": 1}}, "line"),
    kinds("Point", {{"circle-color": "#000", "circle-radius": 3}}, "circle")]}}}});
// Fit the map to the features: walk every coordinate pair.
const b = [180, 90, -180, -90];
const walk = c => {{ if (typeof c[0] === "number") {{ b[0] = Math.min(b[0], c[0]); b[1] = Math.min(b[1], c[1]);
  b[2] = Math.max(b[2], c[0]); b[3] = Math.max(b[3], c[1]); }} else c.forEach(walk); }};
const geoms = g => g ? (g.type === "GeometryCollection" ? g.geometries.flatMap(geoms) : [g]) : [];
(data.features || [data]).flatMap(f => geoms(f.geometry)).forEach(g => walk(g.coordinates));
if (b[0] <= b[2]) map.fitBounds([[b[0], Math.max(b[1], -85)], [b[2], Math.min(b[3], 85)]], {{padding: 20, animate: false, maxZoom: 16}});
map.on("idle", () => {{ window.imbrexLoaded = true; }});
</script>
"##,
        data = script_json(doc)
    ));
    body.push_str("<table>\n<tr><th>id</th>");
    for c in &columns {
        body.push_str(&format!("<th>{}</th>", escape(c)));
    }
    body.push_str("</tr>\n");
    for f in &features {
        body.push_str(&format!("<tr><td>{}</td>", escape(&plain_text(&f["id"]))));
        for c in &columns {
            body.push_str(&format!("<td>{}</td>", escape(&plain_text(&f["properties"][c.as_str()]))));
        }
        body.push_str("</tr>\n");
    }
    body.push_str("</table>\n<h2>Links</h2>\n");
    body.push_str(&links(doc));
    page(title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_values_cannot_inject_markup() {
        let evil = "</script><script>alert(1)</script>";
        let doc = serde_json::json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": evil, "geometry": null, "properties": {evil: evil}}],
            "links": [{"href": evil, "rel": evil}]});
        let html = features(&BaseUrl("http://x".into()), evil, &doc);
        assert!(!html.contains("<script>alert"), "{html}");
        assert_eq!(html.matches("</script>").count(), 2, "only the page's own two script blocks close");
        assert!(html.contains("<td>&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;</td>"));
    }
}
