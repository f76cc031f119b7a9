//! PostGIS collections against the real database that scripts/test starts and loads with
//! testdata/vector: the catalog, items and vector tiles are checked against what
//! the database itself says about the same rows.

mod common;

use std::collections::{BTreeSet, HashMap};

use axum::http::StatusCode;
use common::{Reply, get};
use imbrex_server::{AppState, Config};
use serde_json::{Value, json};

fn database_url() -> String {
    std::env::var("IMBREX_TEST_DATABASE_URL").expect(
        "IMBREX_TEST_DATABASE_URL is not set: run scripts/test, which installs and starts PostGIS \
         and loads testdata/vector into a throwaway database",
    )
}

async fn app_for(url: String) -> axum::Router {
    let mut config = Config { database_url: Some(url), ..Config::default() };
    config.db.schemas = vec!["public".into(), "MixedCase".into()];
    let state = AppState::new(config).unwrap().connect_database().await.unwrap();
    imbrex_server::app(state)
}

/// An app over one schema of the test database (the tests that build their own tables).
async fn app_for_schema(schema: &str) -> axum::Router {
    app_with(schema, |_| {}).await
}

/// An app over one schema, with settings of the test's own.
async fn app_with(schema: &str, settings: impl FnOnce(&mut Config)) -> axum::Router {
    let mut config = Config { database_url: Some(database_url()), ..Config::default() };
    config.db.schemas = vec![schema.into()];
    settings(&mut config);
    imbrex_server::app(AppState::new(config).unwrap().connect_database().await.unwrap())
}

async fn app() -> axum::Router {
    app_for(database_url()).await
}

async fn pg() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls).await.expect("PostGIS");
    tokio::spawn(conn);
    client
}

fn ok(r: &Reply, what: &str) -> Value {
    assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.text());
    r.json()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[tokio::test]
async fn catalog_publishes_geometry_tables_and_views() {
    let app = app().await;
    let db = pg().await;
    let doc = ok(&get(&app, "/collections").await, "collections");
    let ids: BTreeSet<String> = doc["collections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["itemType"] == "feature")
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    // What PostGIS's own views say is spatial, in the published schemas.
    let expected: BTreeSet<String> = db
        .query(
            "SELECT f_table_schema || '.' || f_table_name FROM geometry_columns WHERE f_table_schema IN ('public', 'MixedCase')
             UNION SELECT f_table_schema || '.' || f_table_name FROM geography_columns WHERE f_table_schema IN ('public', 'MixedCase')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // Plus the set-returning functions of tests/fixtures/functions.sql (not PostGIS's own).
    let expected: BTreeSet<String> = expected
        .into_iter()
        .chain(
            [
                "public.points_near",
                "public.points3857_upto",
                "public.tile_frame",
                "public.slow_points",
                "public.countries_named",
            ]
            .map(String::from),
        )
        .collect();
    assert_eq!(ids, expected);
    for id in [
        "public.countries",
        "public.points1_vw",
        "public.table_source_geog",
        "MixedCase.MixPoints",
        "public.empty_bounds",
    ] {
        assert!(ids.contains(id), "{id} missing from {ids:?}");
    }
    assert!(!ids.contains("public.nongeo_data"), "a table without geometry is not a collection");
    // Tile functions are collections with tiles and no items.
    let functions: BTreeSet<String> = doc["collections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("itemType").is_none())
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(functions, BTreeSet::from(["public.points_fn".to_string(), "public.points_fn_xyz".to_string()]));
    assert_eq!(doc["numberMatched"], ids.len() + functions.len());

    // Extents are the database's, in longitude/latitude (read off the spatial index, whose
    // boxes are the rows' rounded outwards to single precision).
    for (id, extent, table) in [
        ("public.countries", "ST_Extent(geom)", "countries"),
        ("public.points3857", "ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, 3857), 4326)", "points3857"),
    ] {
        let c = ok(&get(&app, &format!("/collections/{id}")).await, id);
        let sql =
            format!("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT {extent} AS e FROM {table}) q");
        let row = db.query_one(&sql, &[]).await.unwrap();
        let bbox = &c["extent"]["spatial"]["bbox"][0];
        for i in 0..4 {
            let (got, exact) = (bbox[i].as_f64().unwrap(), row.get::<_, f64>(i));
            let outwards = if i < 2 { got <= exact } else { got >= exact };
            assert!(outwards && (got - exact).abs() < 1e-4, "{id}: {bbox} vs {exact} at {i}");
        }
    }
    let empty = ok(&get(&app, "/collections/public.empty_bounds").await, "empty");
    assert!(empty.get("extent").is_none(), "an empty table has no extent: {empty}");

    // Queryables: both geometry columns of my_data and typed properties.
    let q = ok(&get(&app, "/collections/public.my_data/queryables").await, "queryables");
    assert_eq!(q["properties"]["geom"]["$ref"], "https://geojson.org/schema/Geometry.json");
    assert_eq!(q["properties"]["othergeom"]["$ref"], "https://geojson.org/schema/Geometry.json");
    assert_eq!(q["properties"]["ogc_fid"]["type"], "integer");
    assert_eq!(q["properties"]["numeric"]["type"], "number");
    assert_eq!(q["properties"]["id"]["type"], "string");

    let r = get(&app, "/collections/public.nongeo_data").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let conf = ok(&get(&app, "/conformance").await, "conformance");
    assert!(conf["conformsTo"].to_string().contains("ogcapi-features-1/1.0/conf/core"));
}

/// The GeoJSON geometry the database makes for one row.
async fn db_geometry(db: &tokio_postgres::Client, sql: &str, id: i32) -> Value {
    let text: String = db.query_one(sql, &[&id]).await.unwrap().get(0);
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn items_are_the_rows_of_the_database() {
    let app = app().await;
    let db = pg().await;
    let total: i64 = db.query_one("SELECT count(*) FROM countries", &[]).await.unwrap().get(0);

    // A page: ids in order, geometry and properties as the database has them, paging links.
    let page = ok(&get(&app, "/collections/public.countries/items?limit=5&offset=10").await, "page");
    assert_eq!(page["type"], "FeatureCollection");
    assert_eq!(page["numberMatched"], total);
    assert_eq!(page["numberReturned"], 5);
    let want: Vec<i32> = db
        .query("SELECT gid FROM countries ORDER BY gid LIMIT 5 OFFSET 10", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let features = page["features"].as_array().unwrap();
    let got: Vec<i64> = features.iter().map(|f| f["id"].as_i64().unwrap()).collect();
    assert_eq!(got, want.iter().map(|&g| g as i64).collect::<Vec<_>>());
    for f in features {
        let gid = f["id"].as_i64().unwrap() as i32;
        let geom = db_geometry(&db, "SELECT ST_AsGeoJSON(geom, 9) FROM countries WHERE gid = $1", gid).await;
        assert_eq!(f["geometry"], geom, "geometry of {gid}");
        let name: String = db.query_one("SELECT name FROM countries WHERE gid = $1", &[&gid]).await.unwrap().get(0);
        assert_eq!(f["properties"]["name"], name.as_str());
    }
    let rels: Vec<&str> = page["links"].as_array().unwrap().iter().map(|l| l["rel"].as_str().unwrap()).collect();
    assert!(rels.contains(&"next") && rels.contains(&"prev"), "{rels:?}");
    let next = page["links"].as_array().unwrap().iter().find(|l| l["rel"] == "next").unwrap()["href"].as_str().unwrap();
    assert!(next.contains("offset=15"), "{next}");

    // properties, sortby, ids, property filters, bbox, datetime, geojsonseq.
    let r = ok(&get(&app, "/collections/public.countries/items?properties=name&limit=1").await, "properties");
    assert_eq!(r["features"][0]["properties"].as_object().unwrap().keys().collect::<Vec<_>>(), vec!["name"]);
    let r = ok(&get(&app, "/collections/public.countries/items?sortby=-name&limit=3&properties=name").await, "sortby");
    let names: Vec<String> = db
        .query("SELECT name FROM countries ORDER BY name DESC, gid LIMIT 3", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let got: Vec<&str> =
        r["features"].as_array().unwrap().iter().map(|f| f["properties"]["name"].as_str().unwrap()).collect();
    assert_eq!(got, names);
    let r = ok(&get(&app, "/collections/public.countries/items?ids=3,1,2").await, "ids");
    assert_eq!(r["numberMatched"], 3);
    let r = ok(&get(&app, "/collections/public.countries/items?name=France").await, "property filter");
    assert_eq!(r["numberMatched"], 1);
    assert_eq!(r["features"][0]["properties"]["name"], "France");
    let bbox = (-10.0f64, 35.0f64, 30.0f64, 60.0f64);
    let n: i64 = db
        .query_one(
            "SELECT count(*) FROM countries WHERE ST_Intersects(geom, ST_MakeEnvelope($1, $2, $3, $4, 4326))",
            &[&bbox.0, &bbox.1, &bbox.2, &bbox.3],
        )
        .await
        .unwrap()
        .get(0);
    let r = ok(&get(&app, "/collections/public.countries/items?bbox=-10,35,30,60&limit=1").await, "bbox");
    assert_eq!(r["numberMatched"], n);
    assert!(n > 10 && n < total);
    let n: i64 = db
        .query_one("SELECT count(*) FROM my_data WHERE datetime <= '2004-10-21T00:00:00Z'::timestamptz", &[])
        .await
        .unwrap()
        .get(0);
    let r = ok(&get(&app, "/collections/public.my_data/items?datetime=../2004-10-21T00:00:00Z").await, "datetime");
    assert_eq!(r["numberMatched"], n);
    assert!(n > 0 && n < 6);
    let r = get(&app, "/collections/public.countries/items?f=geojsonseq&limit=4").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type(), "application/geo+json-seq");
    let lines: Vec<Value> = r.text().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    assert!(lines.iter().all(|f| f["type"] == "Feature"));

    // CSV: a header, one line per feature, geometry as WKT.
    let r = get(&app, "/collections/public.countries/items?f=csv&limit=3&properties=name,pop_est&sortby=gid").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.content_type().starts_with("text/csv"));
    let text = r.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "id,name,pop_est,geometry");
    assert_eq!(lines.len(), 4);
    let first: String = db
        .query_one("SELECT gid || ',' || name || ',' || pop_est || ',\"' || ST_AsText(geom, 9) || '\"' FROM countries ORDER BY gid LIMIT 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(lines[1], first);

    // Across the antimeridian: a box from 170°E to 170°W.
    let n: i64 = db
        .query_one(
            "SELECT count(*) FROM antimeridian WHERE ST_Intersects(geom, ST_MakeEnvelope(170, 40, 180, 60, 4326))
             OR ST_Intersects(geom, ST_MakeEnvelope(-180, 40, -170, 60, 4326))",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let r = ok(&get(&app, "/collections/public.antimeridian/items?bbox=170,40,-170,60").await, "antimeridian");
    assert_eq!(r["numberMatched"], n);
    assert!(n >= 2);

    // Geography, Web Mercator and mixed-case tables come out in longitude/latitude.
    let r = ok(&get(&app, "/collections/public.table_source_geog/items?limit=1").await, "geography");
    let gid = r["features"][0]["id"].as_i64().unwrap() as i32;
    let want =
        db_geometry(&db, "SELECT ST_AsGeoJSON(geog::geometry, 9) FROM table_source_geog WHERE gid = $1", gid).await;
    assert_eq!(r["features"][0]["geometry"], want);
    let r = ok(&get(&app, "/collections/public.points3857/items/1").await, "3857 item");
    let want =
        db_geometry(&db, "SELECT ST_AsGeoJSON(ST_Transform(geom, 4326), 9) FROM points3857 WHERE gid = $1", 1).await;
    assert_eq!(r["geometry"], want);
    let r = ok(&get(&app, "/collections/MixedCase.MixPoints/items/1").await, "mixed case");
    let table: String =
        db.query_one(r#"SELECT "TABLE" FROM "MixedCase"."MixPoints" WHERE "Gid" = 1"#, &[]).await.unwrap().get(0);
    assert_eq!(r["properties"]["TABLE"], table.as_str());
    let r = get(&app, "/collections/public.countries/items/999999").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = ok(&get(&app, "/collections/public.empty_bounds/items").await, "empty");
    assert_eq!(r["numberMatched"], 0);
}

/// Decode an MVT: the `default` layer's features as (geometry, properties).
fn decode(bytes: &[u8]) -> Vec<mvt_reader::feature::Feature<f64>> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let reader = mvt_reader::Reader::new(bytes.to_vec()).expect("a valid MVT");
    let names = reader.get_layer_names().unwrap();
    assert_eq!(names, vec!["default".to_string()]);
    reader.get_features_as::<f64>(0).unwrap()
}

fn prop_i64(f: &mvt_reader::feature::Feature<f64>, name: &str) -> i64 {
    use mvt_reader::feature::Value as V;
    match f.properties.as_ref().and_then(|p| p.get(name)) {
        Some(V::Int(v) | V::SInt(v)) => *v,
        Some(V::UInt(v)) => *v as i64,
        other => panic!("{name}: {other:?}"),
    }
}

fn point(f: &mvt_reader::feature::Feature<f64>) -> (f64, f64) {
    match &f.geometry {
        geo_types::Geometry::Point(p) => (p.x(), p.y()),
        geo_types::Geometry::MultiPoint(m) if m.0.len() == 1 => (m.0[0].x(), m.0[0].y()),
        other => panic!("not a point: {other:?}"),
    }
}

#[tokio::test]
async fn vector_tiles_hold_the_rows_where_they_belong() {
    let app = app().await;
    let db = pg().await;
    const HALF: f64 = 20037508.342789244;

    // Points in WebMercatorQuad z0: every point, at the pixel its Web Mercator position gives.
    let r = get(&app, "/collections/public.points1/tiles/WebMercatorQuad/0/0/0").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.content_type(), "application/vnd.mapbox-vector-tile");
    let features = decode(&r.body);
    let rows = db
        .query("SELECT gid, ST_X(ST_Transform(geom, 3857)), ST_Y(ST_Transform(geom, 3857)) FROM points1", &[])
        .await
        .unwrap();
    assert_eq!(features.len(), rows.len());
    let want: HashMap<i64, (f64, f64)> = rows
        .iter()
        .map(|r| {
            let (x, y): (f64, f64) = (r.get(1), r.get(2));
            (r.get::<_, i32>(0) as i64, ((x + HALF) / (2.0 * HALF) * 4096.0, (HALF - y) / (2.0 * HALF) * 4096.0))
        })
        .collect();
    for f in &features {
        let (x, y) = point(f);
        let (wx, wy) = want[&prop_i64(f, "gid")];
        assert!((x - wx).abs() <= 1.0 && (y - wy).abs() <= 1.0, "({x}, {y}) vs ({wx}, {wy})");
    }

    // Polygons at z2: the countries touching the tile are in it, with their attributes.
    let r = get(&app, "/collections/public.countries/tiles/WebMercatorQuad/2/2/1?properties=gid,name").await;
    let features = decode(&r.body);
    let in_tile: BTreeSet<i64> = features.iter().map(|f| prop_i64(f, "gid")).collect();
    let touching: BTreeSet<i64> = db
        .query(
            // Countries smaller than a few pixels of the tile (the Vatican) vanish in it.
            "SELECT gid FROM countries WHERE ST_Intersects(ST_Transform(geom, 3857), ST_Buffer(ST_TileEnvelope(2, 2, 1), -1000))
             AND ST_Area(ST_Transform(geom, 3857)) > 1e8",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, i32>(0) as i64)
        .collect();
    let near: BTreeSet<i64> = db
        .query("SELECT gid FROM countries WHERE ST_Intersects(ST_Transform(geom, 3857), ST_Expand(ST_TileEnvelope(2, 2, 1), 700000))", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, i32>(0) as i64)
        .collect();
    assert!(touching.is_subset(&in_tile), "missing: {:?}", touching.difference(&in_tile).collect::<Vec<_>>());
    assert!(in_tile.is_subset(&near), "extra: {:?}", in_tile.difference(&near).collect::<Vec<_>>());
    let france = features.iter().find(|f| {
        matches!(f.properties.as_ref().and_then(|p| p.get("name")), Some(mvt_reader::feature::Value::String(s)) if s == "France")
    });
    assert!(france.is_some(), "France is in tile 2/2/1");
    assert!(features.iter().all(|f| f.properties.as_ref().unwrap().len() == 2));

    // A geographic grid over a Web Mercator table: WorldCRS84Quad z0 is two tiles (without
    // buffers, so that each row is in one).
    let mut total = 0;
    for x in 0..2 {
        let r = get(&app, &format!("/collections/public.points3857/tiles/WorldCRS84Quad/0/{x}/0?buffer=0")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        for f in decode(&r.body) {
            let (px, py) = point(&f);
            let gid = prop_i64(&f, "gid") as i32;
            let row = db
                .query_one(
                    "SELECT ST_X(g), ST_Y(g) FROM (SELECT ST_Transform(geom, 4326) g FROM points3857 WHERE gid = $1) q",
                    &[&gid],
                )
                .await
                .unwrap();
            let (lon, lat): (f64, f64) = (row.get(0), row.get(1));
            let (wx, wy) = ((lon + 180.0 - 180.0 * x as f64) / 180.0 * 4096.0, (90.0 - lat) / 180.0 * 4096.0);
            assert!((px - wx).abs() <= 1.0 && (py - wy).abs() <= 1.0, "gid {gid}: ({px}, {py}) vs ({wx}, {wy})");
            total += 1;
        }
    }
    let n: i64 = db.query_one("SELECT count(*) FROM points3857", &[]).await.unwrap().get(0);
    assert_eq!(total, n);

    // Geography, mixed case, views, empty tables; extent and buffer parameters.
    let n: i64 = db.query_one("SELECT count(*) FROM table_source_geog", &[]).await.unwrap().get(0);
    let r = get(&app, "/collections/public.table_source_geog/tiles/WebMercatorQuad/0/0/0").await;
    assert_eq!(decode(&r.body).len() as i64, n);
    let r = get(&app, "/collections/MixedCase.MixPoints/tiles/WebMercatorQuad/0/0/0").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let n: i64 = db.query_one(r#"SELECT count(*) FROM "MixedCase"."MixPoints""#, &[]).await.unwrap().get(0);
    assert_eq!(decode(&r.body).len() as i64, n);
    let r = get(&app, "/collections/public.points1_vw/tiles/WebMercatorQuad/0/0/0?extent=512").await;
    let f = decode(&r.body);
    assert_eq!(f.len(), 30);
    assert!(f.iter().all(|f| {
        let (x, y) = point(f);
        (0.0..=512.0).contains(&x) && (0.0..=512.0).contains(&y)
    }));
    let r = get(&app, "/collections/public.empty_bounds/tiles/WebMercatorQuad/3/1/1").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(decode(&r.body).is_empty());
    let r = get(&app, "/collections/public.points1/tiles/WebMercatorQuad/0/1/0").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "outside the matrix");

    // TileJSON points at the tiles, with the layer and its fields.
    let tj = ok(
        &get(&app, "/collections/public.countries/tiles/WebMercatorQuad/tilejson.json?properties=name").await,
        "tilejson",
    );
    assert_eq!(tj["vector_layers"][0]["id"], "default");
    assert_eq!(tj["vector_layers"][0]["fields"]["name"], "string");
    assert!(
        tj["tiles"][0]
            .as_str()
            .unwrap()
            .ends_with("/collections/public.countries/tiles/WebMercatorQuad/{z}/{x}/{y}?properties=name")
    );

    // OGC tileset metadata, a MapLibre style whose source is those tiles, and its map page.
    let sets = ok(&get(&app, "/collections/public.countries/tiles").await, "tilesets");
    let n_tms = ok(&get(&app, "/tileMatrixSets").await, "tms")["tileMatrixSets"].as_array().unwrap().len();
    assert_eq!(sets["tilesets"].as_array().unwrap().len(), n_tms);
    let ts = ok(&get(&app, "/collections/public.points1/tiles/WebMercatorQuad?maxzoom=3").await, "tileset");
    assert_eq!(ts["dataType"], "vector");
    let limits = ts["tileMatrixSetLimits"].as_array().unwrap();
    assert_eq!(limits.len(), 4);
    // Every point of points1 lies in the tile range the limits give at z3.
    let z3 = &limits[3];
    let within = |v: i64, lo: &str, hi: &str| z3[lo].as_i64().unwrap() <= v && v <= z3[hi].as_i64().unwrap();
    for row in db.query("SELECT ST_X(geom), ST_Y(geom) FROM points1", &[]).await.unwrap() {
        let (lon, lat): (f64, f64) = (row.get(0), row.get(1));
        let x = ((lon + 180.0) / 360.0 * 8.0).floor() as i64;
        let y = ((1.0 - (lat.to_radians().tan() + 1.0 / lat.to_radians().cos()).ln() / std::f64::consts::PI) / 2.0
            * 8.0)
            .floor() as i64;
        assert!(within(x, "minTileCol", "maxTileCol") && within(y, "minTileRow", "maxTileRow"), "{z3}: {x} {y}");
    }
    let style = ok(
        &get(&app, "/collections/public.countries/tiles/WebMercatorQuad/style.json?filter=continent%3D'Africa'").await,
        "style",
    );
    assert_eq!(style["version"], 8);
    let src = style["sources"]["public.countries"]["tiles"][0].as_str().unwrap();
    assert!(src.contains("/collections/public.countries/tiles/WebMercatorQuad/{z}/{x}/{y}?filter="), "{src}");
    assert!(style["layers"].as_array().unwrap().iter().all(|l| l["source-layer"] == "default"));
    let page =
        get(&app, "/collections/public.countries/tiles/WebMercatorQuad/map.html?filter=continent%3D'Africa'").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("/static/maplibre-gl.js"), "{html}");
    assert!(html.contains("/collections/public.countries/tiles/WebMercatorQuad/style.json?filter="), "{html}");
    let r = get(&app, "/collections/public.countries/tiles/WorldCRS84Quad/map.html").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn bad_and_hostile_input_is_a_clear_error_and_harmless() {
    let app = app().await;
    let db = pg().await;
    let before: i64 = db.query_one("SELECT count(*) FROM countries", &[]).await.unwrap().get(0);
    let items = "/collections/public.countries/items";
    for (q, status, names) in [
        ("properties=nope", 400, "properties"),
        ("sortby=nope", 400, "sortby"),
        ("geom-column=nope", 400, "geom-column"),
        ("bbox=1,2", 400, "bbox"),
        ("bbox=0,10,1,5", 400, "bbox"),
        ("datetime=yesterday", 400, "datetime"),
        ("limit=-1", 422, "limit"),
        ("limit=abc", 422, "limit"),
        ("f=xml", 422, "f"),
        ("filter=name%20%3D", 400, "filter"),
        ("filter=nope%20%3D%201", 400, "nope"),
        ("filter=gid%20%3D%20'abc'", 400, "invalid"),
        ("filter=S_INTERSECTS(geom%2C%20POINT(1))", 400, "invalid"),
        ("filter=gid%3D1&filter-lang=sql", 400, "filter-lang"),
        ("filter=%7B%22op%22%3A%22%3D%22%7D&filter-lang=cql2-json", 400, "filter"),
        ("simplify=-1", 400, "simplify"),
    ] {
        let r = get(&app, &format!("{items}?{q}")).await;
        assert_eq!(r.status.as_u16(), status, "{q}: {}", r.text());
        assert!(r.text().contains(names), "{q}: {}", r.text());
    }
    let r = get(&app, "/collections/public.my_data/items?datetime=2004-10-19").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = get(&app, "/collections/public.countries/tiles/WebMercatorQuad/0/0/0?extent=0").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = get(&app, "/collections/public.countries/tiles/NoSuchGrid/0/0/0").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A tile holds at most limits.max_features_per_tile features (100,000 by default).
    let r = get(&app, "/collections/public.countries/tiles/WebMercatorQuad/0/0/0?limit=100001").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("100000"), "{}", r.text());
    let r = get(&app, "/collections/public.countries/tiles/WebMercatorQuad/0/0/0?limit=3").await;
    assert_eq!(decode(&r.body).len(), 3);

    // SQL in every parameter: rejected, or treated as a plain value that matches nothing.
    let evil = "1'); DROP TABLE countries; --";
    let enc: String = form_urlencoded::byte_serialize(evil.as_bytes()).collect();
    let quoted: String = form_urlencoded::byte_serialize(b"name\"; DROP TABLE countries; --").collect();
    for url in [
        format!("/collections/{enc}/items"),
        "/collections/public.countries%22%3B%20DROP%20TABLE%20countries%3B%20--/items".to_string(),
        format!("{items}?ids={enc}"),
        format!("{items}?name={enc}"),
        format!("{items}?properties={quoted}"),
        format!("{items}?sortby={quoted}"),
        format!("{items}?geom-column={quoted}"),
        format!("{items}?datetime={enc}"),
        format!("{items}?bbox={enc}"),
        format!(
            "{items}?filter={}",
            form_urlencoded::byte_serialize(b"name = '1''); DROP TABLE countries; --'").collect::<String>()
        ),
        format!("{items}/{enc}"),
        format!("/collections/public.countries/tiles/WebMercatorQuad/0/0/0?ids={enc}"),
        format!("/collections/public.countries/tiles/WebMercatorQuad/0/0/0?properties={quoted}"),
    ] {
        let r = get(&app, &url).await;
        assert!(matches!(r.status.as_u16(), 200 | 400 | 404 | 422), "{url}: {} {}", r.status, r.text());
        if r.status == StatusCode::OK && r.content_type() == "application/geo+json" {
            assert_eq!(r.json()["numberMatched"], 0, "{url}");
        }
    }
    let after: i64 = db.query_one("SELECT count(*) FROM countries", &[]).await.unwrap().get(0);
    assert_eq!(before, after);
}

#[tokio::test]
async fn an_unreachable_database_is_503_and_imbrex_recovers() {
    // Nothing listens on port 1: every request that needs the database is a 503.
    let down = app_for("postgresql://postgres@127.0.0.1:1/imbrex_test".into()).await;
    for path in [
        "/collections",
        "/collections/public.countries/items",
        "/collections/public.countries/tiles/WebMercatorQuad/0/0/0",
    ] {
        let r = get(&down, path).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {}", r.text());
    }
    let r = get(&down, "/healthz").await;
    assert_eq!(r.status, StatusCode::OK, "rasters and health do not depend on the database");

    // The database drops imbrex's connections mid-run: requests fail with 503 at worst,
    // never 500, and the pool reconnects.
    let name = format!("imbrex_outage_{}", std::process::id());
    let app = app_for(format!("{}?application_name={name}", database_url())).await;
    let db = pg().await;
    let path = "/collections/public.points1/items?limit=2";
    assert_eq!(get(&app, path).await.status, StatusCode::OK);
    let killed: i64 = db
        .query_one("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) q", &[&name])
        .await
        .unwrap()
        .get(0);
    assert!(killed >= 1, "imbrex held a connection");
    let mut last = StatusCode::INTERNAL_SERVER_ERROR;
    for _ in 0..5 {
        let r = get(&app, path).await;
        assert!(matches!(r.status, StatusCode::OK | StatusCode::SERVICE_UNAVAILABLE), "{}: {}", r.status, r.text());
        last = r.status;
        if last == StatusCode::OK {
            break;
        }
    }
    assert_eq!(last, StatusCode::OK, "imbrex reconnects");
    let r = ok(&get(&app, path).await, "after the outage");
    assert_eq!(r["numberReturned"], 2);
}

#[tokio::test]
async fn cql2_filters_select_what_the_database_selects() {
    let app = app().await;
    let db = pg().await;
    let count = |sql: &'static str| {
        let db = &db;
        async move { db.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    let items = "/collections/public.countries/items?limit=1";
    let enc = |f: &str| form_urlencoded::byte_serialize(f.as_bytes()).collect::<String>();
    for (text, json, sql) in [
        (
            "name = 'France'",
            r#"{"op": "=", "args": [{"property": "name"}, "France"]}"#,
            "SELECT count(*) FROM countries WHERE name = 'France'",
        ),
        (
            "pop_est > 100000000 OR continent = 'Africa'",
            r#"{"op": "or", "args": [{"op": ">", "args": [{"property": "pop_est"}, 100000000]},
                {"op": "=", "args": [{"property": "continent"}, "Africa"]}]}"#,
            "SELECT count(*) FROM countries WHERE pop_est > 100000000 OR continent = 'Africa'",
        ),
        (
            "gid IN (1, 2, 3, 4, 5) AND NOT name LIKE 'A%'",
            r#"{"op": "and", "args": [{"op": "in", "args": [{"property": "gid"}, [1, 2, 3, 4, 5]]},
                {"op": "not", "args": [{"op": "like", "args": [{"property": "name"}, "A%"]}]}]}"#,
            "SELECT count(*) FROM countries WHERE gid IN (1, 2, 3, 4, 5) AND NOT name LIKE 'A%'",
        ),
        (
            "gid BETWEEN 10 AND 20 AND iso_a3 IS NOT NULL",
            r#"{"op": "and", "args": [{"op": "between", "args": [{"property": "gid"}, 10, 20]},
                {"op": "not", "args": [{"op": "isNull", "args": [{"property": "iso_a3"}]}]}]}"#,
            "SELECT count(*) FROM countries WHERE gid BETWEEN 10 AND 20 AND iso_a3 IS NOT NULL",
        ),
        (
            "S_INTERSECTS(geom, POLYGON((0 40, 10 40, 10 50, 0 50, 0 40)))",
            r#"{"op": "s_intersects", "args": [{"property": "geom"},
                {"type": "Polygon", "coordinates": [[[0, 40], [10, 40], [10, 50], [0, 50], [0, 40]]]}]}"#,
            "SELECT count(*) FROM countries WHERE ST_Intersects(geom, ST_GeomFromText('POLYGON((0 40, 10 40, 10 50, 0 50, 0 40))', 4326))",
        ),
    ] {
        let want = count(sql).await;
        assert!(want > 0, "{sql}");
        let r = ok(&get(&app, &format!("{items}&filter={}", enc(text))).await, text);
        assert_eq!(r["numberMatched"], want, "{text}");
        let r = ok(&get(&app, &format!("{items}&filter-lang=cql2-json&filter={}", enc(json))).await, json);
        assert_eq!(r["numberMatched"], want, "{json}");
    }
    // Spatial predicates keep their argument order: S_CONTAINS(A, B) is "A contains B",
    // whichever side the property is on (some of these match nothing, as in PostGIS).
    let boxed = "POLYGON((-10 35, 30 35, 30 60, -10 60, -10 35))";
    for (text, sql) in [
        ("S_CONTAINS(geom, POINT(2 47))".to_string(), "ST_Contains(geom, 'SRID=4326;POINT(2 47)')".to_string()),
        ("S_CONTAINS(POINT(2 47), geom)".into(), "ST_Contains('SRID=4326;POINT(2 47)', geom)".into()),
        ("S_WITHIN(POINT(2 47), geom)".into(), "ST_Within('SRID=4326;POINT(2 47)', geom)".into()),
        (format!("S_WITHIN(geom, {boxed})"), format!("ST_Within(geom, 'SRID=4326;{boxed}')")),
        (format!("S_CONTAINS({boxed}, geom)"), format!("ST_Contains('SRID=4326;{boxed}', geom)")),
        (format!("S_CONTAINS(geom, {boxed})"), format!("ST_Contains(geom, 'SRID=4326;{boxed}')")),
    ] {
        let want: i64 = db.query_one(&format!("SELECT count(*) FROM countries WHERE {sql}"), &[]).await.unwrap().get(0);
        let r = ok(&get(&app, &format!("{items}&filter={}", enc(&text))).await, &text);
        assert_eq!(r["numberMatched"], want, "{text} vs {sql}");
    }
    // Filters apply to tiles too.
    let r = get(
        &app,
        &format!("/collections/public.countries/tiles/WebMercatorQuad/0/0/0?filter={}", enc("name = 'France'")),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(decode(&r.body).len(), 1);
    // Mixed-case properties need double quotes in CQL2 text.
    let r = ok(
        &get(&app, &format!("/collections/MixedCase.MixPoints/items?filter={}", enc("\"Gid\" <= 3"))).await,
        "mixed",
    );
    assert_eq!(r["numberMatched"], 3);
}

#[tokio::test]
async fn tile_functions_get_their_query_parameters() {
    let app = app().await;
    let db = pg().await;
    let n: i64 = db
        .query_one("SELECT count(*) FROM points1 WHERE ST_Transform(geom, 3857) && ST_TileEnvelope(0, 0, 0)", &[])
        .await
        .unwrap()
        .get(0);
    let layer = |bytes: &[u8]| {
        let reader = mvt_reader::Reader::new(bytes.to_vec()).expect("a valid MVT");
        assert_eq!(reader.get_layer_names().unwrap(), vec!["points_fn".to_string()]);
        reader.get_features(0).unwrap().len() as i64
    };
    let r = get(&app, "/collections/public.points_fn/tiles/WebMercatorQuad/0/0/0").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(layer(&r.body), n);
    let r = get(&app, "/collections/public.points_fn/tiles/WebMercatorQuad/0/0/0?max_gid=5").await;
    assert_eq!(layer(&r.body), 5, "the query parameters reach the function as JSON");
    let r = get(&app, "/collections/public.points_fn_xyz/tiles/WebMercatorQuad/0/0/0?max_gid=5").await;
    assert_eq!(layer(&r.body), n, "a function without query_params ignores them");
    let r = get(&app, "/collections/public.points_fn/tiles/WorldCRS84Quad/0/0/0").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = get(&app, "/collections/public.points_fn/tiles/WebMercatorQuad/1/5/0").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get(
        &app,
        "/collections/public.points_fn/tiles/WebMercatorQuad/0/0/0?max_gid=x'%3B%20DROP%20TABLE%20points1%3B--",
    )
    .await;
    assert!(matches!(r.status.as_u16(), 400 | 200), "{}: {}", r.status, r.text());
    let left: i64 = db.query_one("SELECT count(*) FROM points1", &[]).await.unwrap().get(0);
    assert_eq!(left, 30);
}

#[tokio::test]
async fn feature_functions_are_collections_called_with_the_query_parameters() {
    let app = app().await;
    let db = pg().await;
    let doc = ok(&get(&app, "/collections/public.points_near").await, "function collection");
    assert_eq!(doc["description"], "points of points1 within radius degrees of (lon, lat)");
    assert!(doc.get("extent").is_none(), "a function has no extent until it is called: {doc}");
    let q = ok(&get(&app, "/collections/public.points_near/queryables").await, "queryables");
    assert_eq!(q["properties"]["distance"]["type"], "number");

    // Items: the rows the function gives the database for the same arguments, in order.
    let expect = |lon: f64, lat: f64, radius: f64| {
        let db = &db;
        async move {
            db.query(
                "SELECT gid, distance, ST_AsGeoJSON(geom, 9) FROM public.points_near($1, $2, $3) ORDER BY gid",
                &[&lon, &lat, &radius],
            )
            .await
            .unwrap()
        }
    };
    let rows = expect(0.0, 0.0, 40.0).await;
    assert!(!rows.is_empty() && rows.len() < 30, "the fixture should select some points: {}", rows.len());
    let page = ok(
        &get(&app, "/collections/public.points_near/items?lon=0&lat=0&radius=40&limit=100&sortby=gid").await,
        "items",
    );
    assert_eq!(page["numberMatched"], rows.len());
    let features = page["features"].as_array().unwrap();
    assert_eq!(features.len(), rows.len());
    for (f, r) in features.iter().zip(&rows) {
        assert_eq!(f["properties"]["gid"], r.get::<_, i32>(0));
        assert!(close(f["properties"]["distance"].as_f64().unwrap(), r.get(1)));
        assert_eq!(f["geometry"], serde_json::from_str::<Value>(r.get(2)).unwrap());
    }
    // The default radius (10) applies when the parameter is left out; filters still work.
    let page = ok(&get(&app, "/collections/public.points_near/items?lon=0&lat=0&limit=100").await, "default");
    assert_eq!(page["numberMatched"], expect(0.0, 0.0, 10.0).await.len());
    let page = ok(
        &get(&app, "/collections/public.points_near/items?lon=0&lat=0&radius=40&filter=gid%3C10&limit=100").await,
        "filtered",
    );
    let below_10 = rows.iter().filter(|r| r.get::<_, i32>(0) < 10).count();
    assert_eq!(page["numberMatched"], below_10);

    // A required parameter left out, or a value its type cannot hold, is a 400 naming it.
    for (url, name) in [
        ("/collections/public.points_near/items?lon=0", "lat"),
        ("/collections/public.points_near/items?lon=0&lat=x'%3B%20DROP%20TABLE%20points1%3B--", "lat"),
        ("/collections/public.points_near/tiles/WebMercatorQuad/0/0/0?lat=1", "lon"),
    ] {
        let r = get(&app, url).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}: {}", r.text());
        assert!(r.text().contains(name), "{url}: {}", r.text());
    }
    let left: i64 = db.query_one("SELECT count(*) FROM points1", &[]).await.unwrap().get(0);
    assert_eq!(left, 30);

    // A text argument holding SQL is a value: no country starts with it, nothing is dropped.
    let evil: String = form_urlencoded::byte_serialize(b"x'); DROP TABLE countries; --").collect();
    let page = ok(&get(&app, &format!("/collections/public.countries_named/items?prefix={evil}")).await, "evil");
    assert_eq!(page["numberMatched"], 0);
    let page = ok(&get(&app, "/collections/public.countries_named/items?prefix=Fr&limit=50").await, "prefix");
    let fr: i64 = db.query_one("SELECT count(*) FROM countries WHERE name LIKE 'Fr%'", &[]).await.unwrap().get(0);
    assert!(fr > 0);
    assert_eq!(page["numberMatched"], fr);
    let countries: i64 = db.query_one("SELECT count(*) FROM countries", &[]).await.unwrap().get(0);
    assert!(countries > 100);

    // Functions that could write or act with another role's rights, and overloaded names
    // (a call by names could match several), are not published.
    for id in ["public.points_volatile", "public.points_definer", "public.points_overloaded"] {
        assert_eq!(get(&app, &format!("/collections/{id}")).await.status, StatusCode::NOT_FOUND, "{id}");
    }

    // SETOF a 3857 table: geometries come out in longitude/latitude, as from the table.
    let page = ok(&get(&app, "/collections/public.points3857_upto/items?max_gid=3&limit=10&sortby=gid").await, "3857");
    assert_eq!(page["numberMatched"], 3);
    let table = ok(&get(&app, "/collections/public.points3857/items?ids=1,2,3&limit=10").await, "table");
    assert_eq!(page["features"].as_array().unwrap().len(), 3);
    assert_eq!(table["features"].as_array().unwrap().len(), 3);
    for (a, b) in page["features"].as_array().unwrap().iter().zip(table["features"].as_array().unwrap()) {
        let (pa, pb) = (&a["geometry"]["coordinates"], &b["geometry"]["coordinates"]);
        assert!(close(pa[0].as_f64().unwrap(), pb[0].as_f64().unwrap()), "{pa} vs {pb}");
        assert!(close(pa[1].as_f64().unwrap(), pb[1].as_f64().unwrap()), "{pa} vs {pb}");
    }

    // SETOF a table: the table's primary key is the feature id, and items/{id} finds it.
    let f = ok(&get(&app, "/collections/public.points3857_upto/items/2?max_gid=5").await, "item");
    assert_eq!(f["id"], 2);
    assert_eq!(f["geometry"], table["features"][1]["geometry"]);
    let r = get(&app, "/collections/public.points3857_upto/items/2?max_gid=1").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "the function's arguments apply: {}", r.text());

    // Tiles: the function's rows, and z/x/y filled in for a function that takes them.
    let r = get(&app, "/collections/public.points3857_upto/tiles/WebMercatorQuad/0/0/0?max_gid=7").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let mut gids: Vec<i64> = decode(&r.body).iter().map(|f| prop_i64(f, "gid")).collect();
    gids.sort();
    assert_eq!(gids, (1..=7).collect::<Vec<i64>>());
    // The path names the tile: z/x/y in the query string do not override it.
    for (z, x, y) in [(3, 2, 5), (5, 17, 9)] {
        let r =
            get(&app, &format!("/collections/public.tile_frame/tiles/WebMercatorQuad/{z}/{x}/{y}?z=0&x=0&y=0")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let features = decode(&r.body);
        assert_eq!(features.len(), 1);
        let label = features[0].properties.as_ref().and_then(|p| p.get("label")).cloned();
        assert_eq!(label, Some(mvt_reader::feature::Value::String(format!("{z}/{x}/{y}"))));
        let (px, py) = point(&features[0]);
        assert!((px - 2048.0).abs() <= 1.0 && (py - 2048.0).abs() <= 1.0, "the centre of the tile: {px},{py}");
    }
}

#[tokio::test]
async fn a_query_past_statement_timeout_is_503_and_the_pool_goes_on() {
    let mut config = Config { database_url: Some(database_url()), ..Config::default() };
    config.db.statement_timeout_ms = 200;
    let app = imbrex_server::app(AppState::new(config).unwrap().connect_database().await.unwrap());
    let r = get(&app, "/collections/public.slow_points/items?seconds=2").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert!(r.text().contains("timed out"), "{}", r.text());
    let r = get(&app, "/collections/public.slow_points/items?seconds=0&limit=100").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["numberMatched"], 30);
}

#[tokio::test]
async fn collections_have_html_pages_and_openapi_entries() {
    let app = app().await;
    let db = pg().await;
    // f=html, or a browser's Accept header, gives a page; the items page holds the same
    // features as the GeoJSON (embedded for its map) and a table row per feature.
    let r = get(&app, "/collections/public.countries/items?limit=3&f=html").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.content_type().starts_with("text/html"));
    let html = r.text();
    let names: Vec<String> = db
        .query("SELECT name FROM countries ORDER BY gid LIMIT 3", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for n in &names {
        assert!(html.contains(&format!("<td>{}</td>", n.replace('&', "&amp;"))), "{n} missing from the table");
    }
    assert_eq!(html.matches("<tr><td>").count(), 3);
    assert!(html.contains("maplibre-gl.js") && html.contains("\"type\":\"FeatureCollection\""));
    let r = common::request(
        &app,
        axum::http::Request::get("/collections/public.countries/items/1")
            .header("accept", "text/html,*/*")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert!(r.content_type().starts_with("text/html") && r.text().contains("<tr><td>1</td>"), "{}", r.text());
    for url in ["/collections?f=html", "/collections/public.countries?f=html"] {
        let r = get(&app, url).await;
        assert_eq!(r.status, StatusCode::OK, "{url}");
        assert!(r.content_type().starts_with("text/html"), "{url}");
        assert!(r.text().contains("public.countries"), "{url}");
    }
    let r = get(&app, "/collections/public.countries/items?f=xml").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["detail"][0]["loc"], serde_json::json!(["query", "f"]));

    // Vector tiles are gzipped for clients that ask (as martin sends them).
    let path = "/collections/public.countries/tiles/WebMercatorQuad/0/0/0";
    let plain = get(&app, path).await;
    let zipped = common::get_with(&app, path, "accept-encoding", "gzip").await;
    assert_eq!(zipped.headers.get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"));
    assert!(zipped.body.len() < plain.body.len(), "{} vs {}", zipped.body.len(), plain.body.len());

    // The OpenAPI document describes the collection endpoints.
    let api = get(&app, "/api").await.json();
    for path in [
        "/collections",
        "/collections/{collectionId}",
        "/collections/{collectionId}/queryables",
        "/collections/{collectionId}/items",
        "/collections/{collectionId}/items/{itemId}",
        "/collections/{collectionId}/tiles/{tileMatrixSetId}/{z}/{x}/{y}",
        "/collections/{collectionId}/tiles/{tileMatrixSetId}/tilejson.json",
        "/collections/{collectionId}/tiles/{tileMatrixSetId}/style.json",
        "/refresh",
    ] {
        assert!(api["paths"].get(path).is_some(), "{path} is not in /api");
    }
    let params = api["paths"]["/collections/{collectionId}/items"]["get"]["parameters"].to_string();
    for p in ["bbox", "filter", "filter-lang", "sortby", "geom-column"] {
        assert!(params.contains(&format!("\"{p}\"")), "{p} is not documented");
    }
}

#[tokio::test]
async fn refresh_rereads_the_catalog_for_the_admin_token_only() {
    use axum::body::Body;
    use axum::http::Request;
    let post = |auth: Option<&str>| {
        let mut b = Request::post("/refresh");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(Body::empty()).unwrap()
    };
    // Without a configured token, refresh is off for everyone.
    let open = app().await;
    for auth in [None, Some("Bearer anything")] {
        let r = common::request(&open, post(auth)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{auth:?}: {}", r.text());
        assert!(r.text().contains("admin token"), "{}", r.text());
    }

    let mut config =
        Config { database_url: Some(database_url()), admin_token: Some("s3cret".into()), ..Config::default() };
    config.db.schemas = vec!["public".into()];
    let guarded = imbrex_server::app(AppState::new(config).unwrap().connect_database().await.unwrap());
    for auth in [None, Some("Bearer nope"), Some("s3cret"), Some("Bearer s3cret2")] {
        let r = common::request(&guarded, post(auth)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth:?}");
    }
    let r = common::request(&guarded, post(Some("Bearer s3cret"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.json()["collections"].as_u64().unwrap() > 10);
}

/// Tables in local projections (UTM, a state plane in feet, LAEA, polar stereographic),
/// EPSG:4326 and geography, with random points (a fixed seed) where each CRS is meant to be
/// used: every tile of zooms 0-3 of WebMercatorQuad and 0-2 of WorldCRS84Quad answers, the
/// tiles of a zoom hold exactly the rows PostGIS places in that grid, UPSArcticWGS84Quad's
/// answer, a deep tile holds its row, and a whole-world bbox matches every row.
#[tokio::test]
async fn every_srid_answers_at_every_zoom() {
    let db = pg().await;
    // (table, SRID or 0 for geography, lon range, lat range)
    type Range = (f64, f64);
    let tables: [(&str, i32, Range, Range); 6] = [
        ("utm", 26915, (-96.0, -90.0), (30.0, 48.0)),
        ("stateplane_ft", 2227, (-123.0, -121.0), (37.0, 38.0)),
        ("laea", 3035, (-10.0, 30.0), (35.0, 70.0)),
        ("polar", 3413, (-180.0, 180.0), (65.0, 88.0)),
        ("wgs84", 4326, (-170.0, 170.0), (-80.0, 80.0)),
        ("geog", 0, (-170.0, 170.0), (-80.0, 80.0)),
    ];
    let mut sql =
        String::from("DROP SCHEMA IF EXISTS srid_matrix CASCADE; CREATE SCHEMA srid_matrix; SELECT setseed(0.42);");
    for (name, srid, (w, e), (s, n)) in tables {
        let (ty, value) = if srid == 0 {
            ("geography(Point, 4326)".to_string(), "ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography".to_string())
        } else {
            (
                format!("geometry(Point, {srid})"),
                format!("ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), {srid})"),
            )
        };
        sql += &format!(
            "CREATE TABLE srid_matrix.{name} (gid integer PRIMARY KEY, geom {ty});
             INSERT INTO srid_matrix.{name}
               SELECT i, {value} FROM (SELECT i, {w} + random() * ({e} - {w}) AS lon,
                 {s} + random() * ({n} - {s}) AS lat FROM generate_series(1, 40) i) p;"
        );
    }
    db.batch_execute(&sql).await.unwrap();
    let app = app_for_schema("srid_matrix").await;

    for (name, _, _, _) in tables {
        let c = format!("srid_matrix.{name}");
        let lonlat = "ST_Transform(geom::geometry, 4326)";
        let rows =
            db.query(&format!("SELECT gid, ST_X({lonlat}), ST_Y({lonlat}) FROM {c} ORDER BY gid"), &[]).await.unwrap();
        let all: BTreeSet<i64> = rows.iter().map(|r| r.get::<_, i32>(0) as i64).collect();
        // Web Mercator holds what lies within its latitude limit.
        let in_mercator: BTreeSet<i64> =
            rows.iter().filter(|r| r.get::<_, f64>(2).abs() < 85.0511).map(|r| r.get::<_, i32>(0) as i64).collect();
        for (tms, zooms, cols, want) in
            [("WebMercatorQuad", 0..=3u32, 1u32, &in_mercator), ("WorldCRS84Quad", 0..=2u32, 2u32, &all)]
        {
            for z in zooms {
                let mut seen = BTreeSet::new();
                for x in 0..cols << z {
                    for y in 0..1u32 << z {
                        let r = get(&app, &format!("/collections/{c}/tiles/{tms}/{z}/{x}/{y}?buffer=0")).await;
                        assert_eq!(r.status, StatusCode::OK, "{c} {tms} {z}/{x}/{y}: {}", r.text());
                        seen.extend(decode(&r.body).iter().map(|f| prop_i64(f, "gid")));
                    }
                }
                assert_eq!(&seen, want, "{c} {tms} zoom {z}");
            }
        }
        // A polar grid answers too (its tiles reach the equator from the pole).
        for (z, x, y) in [(0, 0, 0), (1, 0, 0), (1, 1, 0), (1, 0, 1), (1, 1, 1)] {
            let r = get(&app, &format!("/collections/{c}/tiles/UPSArcticWGS84Quad/{z}/{x}/{y}")).await;
            assert_eq!(r.status, StatusCode::OK, "{c} UPSArcticWGS84Quad {z}/{x}/{y}: {}", r.text());
        }
        // A deep tile holds the row it was cut around.
        let (gid, lon, lat): (i32, f64, f64) = (rows[0].get(0), rows[0].get(1), rows[0].get(2));
        if lat.abs() < 85.0 {
            let z = 14;
            let n = (1u32 << z) as f64;
            let x = ((lon + 180.0) / 360.0 * n) as u32;
            let y = ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n) as u32;
            let r = get(&app, &format!("/collections/{c}/tiles/WebMercatorQuad/{z}/{x}/{y}")).await;
            assert_eq!(r.status, StatusCode::OK, "{c} deep tile: {}", r.text());
            assert!(decode(&r.body).iter().any(|f| prop_i64(f, "gid") == gid as i64), "{c}: row {gid} in its z14 tile");
        }
        // A whole-world bbox matches every row.
        let r = get(&app, &format!("/collections/{c}/items?bbox=-180,-90,180,90&limit=1000")).await;
        let page = ok(&r, &format!("{c} world bbox"));
        assert_eq!(page["numberMatched"], all.len(), "{c} world bbox");
    }
}

/// Curved geometries come out as lines and polygons (ST_CurveToLine) in items and tiles,
/// and a tile holds the rows that lie in its buffer, not only in the tile.
#[tokio::test]
async fn curves_are_linearized_and_buffers_hold_their_rows() {
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_edges CASCADE; CREATE SCHEMA vector_edges;
         CREATE TABLE vector_edges.curves (gid integer PRIMARY KEY, geom geometry(Geometry, 4326));
         INSERT INTO vector_edges.curves VALUES
           (1, 'SRID=4326;CIRCULARSTRING(0 0, 1 1, 2 0)'),
           (2, 'SRID=4326;COMPOUNDCURVE(CIRCULARSTRING(0 0, 1 1, 2 0), (2 0, 3 0))'),
           (3, 'SRID=4326;CURVEPOLYGON(CIRCULARSTRING(10 10, 12 10, 10 10))'),
           (4, 'SRID=4326;MULTISURFACE(CURVEPOLYGON(CIRCULARSTRING(20 20, 22 20, 20 20)))'),
           (5, 'SRID=4326;POINT(5 5)');
         CREATE TABLE vector_edges.edge (gid integer PRIMARY KEY, geom geometry(Point, 3857));
         INSERT INTO vector_edges.edge VALUES (1, 'SRID=3857;POINT(1000 10000000)');",
    )
    .await
    .unwrap();
    let app = app_for_schema("vector_edges").await;

    let page = ok(&get(&app, "/collections/vector_edges.curves/items?sortby=gid").await, "curves");
    let got: Vec<String> = page["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["geometry"]["type"].as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = db
        .query("SELECT ST_AsGeoJSON(ST_CurveToLine(geom))::json->>'type' FROM vector_edges.curves ORDER BY gid", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(got, want);
    assert_eq!(want, ["LineString", "LineString", "Polygon", "MultiPolygon", "Point"]);
    let r = get(&app, "/collections/vector_edges.curves/tiles/WebMercatorQuad/0/0/0").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(decode(&r.body).len(), 5);

    // The point lies 1 km east of tile 1/0/0, inside its 256-unit buffer (1252 km).
    let r = get(&app, "/collections/vector_edges.edge/tiles/WebMercatorQuad/1/0/0").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let features = decode(&r.body);
    assert_eq!(features.len(), 1, "the buffered row is in the tile");
    assert!(point(&features[0]).0 >= 4096.0);
    let r = get(&app, "/collections/vector_edges.edge/tiles/WebMercatorQuad/1/0/0?buffer=0").await;
    assert!(decode(&r.body).is_empty(), "no buffer, no row");
}

/// Id lookups and property filters compare in the column's own type, so that PostgreSQL
/// uses the column's index (a `col::text = $1` comparison scans the whole table); an id that
/// is no value of the column's type names no item (404), an `ids` value of the wrong type
/// is the caller's to fix (400).
#[tokio::test]
async fn ids_and_property_filters_use_the_index() {
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_ids CASCADE; CREATE SCHEMA vector_ids;
         CREATE TABLE vector_ids.big (gid integer PRIMARY KEY, code bigint, geom geometry(Point, 4326));
         INSERT INTO vector_ids.big
           SELECT i, i * 7, ST_SetSRID(ST_MakePoint(i % 360 - 180, (i % 170) - 85), 4326) FROM generate_series(1, 20000) i;
         CREATE INDEX ON vector_ids.big (code);
         ANALYZE vector_ids.big;",
    )
    .await
    .unwrap();
    let app = app_for_schema("vector_ids").await;

    let item = ok(&get(&app, "/collections/vector_ids.big/items/12345").await, "item");
    assert_eq!(item["properties"]["code"], 12345 * 7);
    let page = ok(&get(&app, "/collections/vector_ids.big/items?ids=5,70,19999&sortby=gid").await, "ids");
    let gids: Vec<i64> =
        page["features"].as_array().unwrap().iter().map(|f| f["properties"]["gid"].as_i64().unwrap()).collect();
    assert_eq!(gids, [5, 70, 19999]);
    let page = ok(&get(&app, "/collections/vector_ids.big/items?code=700").await, "property filter");
    assert_eq!(page["features"][0]["properties"]["gid"], 100);
    assert_eq!(get(&app, "/collections/vector_ids.big/items/abc").await.status, StatusCode::NOT_FOUND);
    let r = get(&app, "/collections/vector_ids.big/tiles/WebMercatorQuad/0/0/0?ids=abc").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());

    // The conditions imbrex builds are served by the indexes; the text comparison is not.
    let plan = |cond: String, value: &'static str| {
        let db = &db;
        async move {
            let sql = format!("EXPLAIN (FORMAT JSON) SELECT * FROM vector_ids.big t WHERE {cond}");
            let stmt = db.prepare(&sql).await.unwrap();
            let rows = if cond.contains("ANY") {
                db.query(&stmt, &[&vec![value.to_string()]]).await.unwrap()
            } else {
                db.query(&stmt, &[&value.to_string()]).await.unwrap()
            };
            rows[0].get::<_, Value>(0).to_string()
        }
    };
    use imbrex_vector::query::{equals_text_param, in_text_params};
    for (cond, value) in [
        (equals_text_param("gid", "int4", "$1"), "12345"),
        (in_text_params("gid", "int4", "$1"), "12345"),
        (equals_text_param("code", "int8", "$1"), "700"),
    ] {
        let p = plan(cond.clone(), value).await;
        assert!(p.contains("Index") && !p.contains("Seq Scan"), "{cond}: {p}");
    }
    let p = plan("t.gid::text = $1".to_string(), "12345").await;
    assert!(p.contains("Seq Scan"), "the text comparison scans: {p}");
}

/// A relation that fails to describe (a view whose rows raise an error) is skipped, with
/// its reason listed on request; the rest of the catalog is served.
#[tokio::test]
async fn a_broken_relation_is_skipped_not_fatal() {
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_skip CASCADE; CREATE SCHEMA vector_skip;
         CREATE TABLE vector_skip.good (gid integer PRIMARY KEY, geom geometry(Point, 4326));
         INSERT INTO vector_skip.good VALUES (1, 'SRID=4326;POINT(1 2)');
         CREATE VIEW vector_skip.broken AS SELECT gid, geom FROM vector_skip.good WHERE 1 / (gid - gid) = 1;",
    )
    .await
    .unwrap();
    let app = app_for_schema("vector_skip").await;

    let ids = |doc: &Value| -> Vec<String> {
        doc["collections"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
    };
    let doc = ok(&get(&app, "/collections").await, "collections");
    assert_eq!(ids(&doc), ["vector_skip.good"]);
    assert!(doc.get("skipped").is_none());
    let doc = ok(&get(&app, "/collections?include_skipped=true").await, "with skipped");
    let skipped = doc["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{doc}");
    assert_eq!(skipped[0]["id"], "vector_skip.broken");
    assert!(skipped[0]["reason"].as_str().unwrap().contains("division by zero"), "{doc}");
    assert_eq!(get(&app, "/collections/vector_skip.broken").await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, "/collections?include_skipped=maybe").await.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// A table dropped after the catalog was read is a 404 for its items and tiles, not a 500.
#[tokio::test]
async fn a_table_dropped_since_the_catalog_is_not_found() {
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_drop CASCADE; CREATE SCHEMA vector_drop;
         CREATE TABLE vector_drop.gone (gid integer PRIMARY KEY, geom geometry(Point, 4326));
         INSERT INTO vector_drop.gone VALUES (1, 'SRID=4326;POINT(1 2)');",
    )
    .await
    .unwrap();
    let app = app_for_schema("vector_drop").await;
    assert_eq!(get(&app, "/collections/vector_drop.gone/items").await.status, StatusCode::OK);
    db.batch_execute("DROP TABLE vector_drop.gone").await.unwrap();
    for path in [
        "/collections/vector_drop.gone/items",
        "/collections/vector_drop.gone/items/1",
        "/collections/vector_drop.gone/tiles/WebMercatorQuad/0/0/0",
    ] {
        let r = get(&app, path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.text());
    }
}

/// numberMatched is exact up to 10,000 matching rows and left out beyond (no full count of a
/// large table on every page); next links follow full pages then; deep offsets are refused.
#[tokio::test]
async fn large_tables_page_without_counting_everything() {
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_pages CASCADE; CREATE SCHEMA vector_pages;
         CREATE TABLE vector_pages.many (gid integer PRIMARY KEY, geom geometry(Point, 4326));
         INSERT INTO vector_pages.many SELECT i, ST_SetSRID(ST_MakePoint(i % 360 - 180, 0), 4326)
           FROM generate_series(1, 12000) i;",
    )
    .await
    .unwrap();
    let app = app_for_schema("vector_pages").await;
    let rel = |doc: &Value, rel: &str| doc["links"].as_array().unwrap().iter().any(|l| l["rel"] == rel);

    let doc = ok(&get(&app, "/collections/vector_pages.many/items?limit=10").await, "first page");
    assert!(doc.get("numberMatched").is_none(), "{}", doc["numberMatched"]);
    assert_eq!(doc["numberReturned"], 10);
    assert!(rel(&doc, "next"));
    let doc = ok(&get(&app, "/collections/vector_pages.many/items?limit=10&offset=11990").await, "last page");
    assert_eq!(doc["numberReturned"], 10);
    let doc = ok(&get(&app, "/collections/vector_pages.many/items?limit=10&offset=12000").await, "past the end");
    assert_eq!(doc["numberReturned"], 0);
    assert!(!rel(&doc, "next"));

    let filtered = "/collections/vector_pages.many/items?limit=10&filter=gid%20%3C%3D%2010000";
    let doc = ok(&get(&app, filtered).await, "10,000 matching");
    assert_eq!(doc["numberMatched"], 10000);
    let doc = ok(&get(&app, &format!("{filtered}&offset=9990")).await, "last full page");
    assert!(!rel(&doc, "next"), "a counted last page has no next");

    let r = get(&app, "/collections/vector_pages.many/items?offset=100001").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("offset"));
}

/// Web-Mercator tile of a longitude/latitude at zoom z.
fn tile_of(lon: f64, lat: f64, z: u32) -> (u32, u32) {
    let n = (1u32 << z) as f64;
    let x = ((lon + 180.0) / 360.0 * n) as u32;
    let y = ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n) as u32;
    (x, y)
}

/// The tile cap keeps the largest polygons (by PostGIS's own ST_Area), the same ones on
/// every request, with their primary keys as MVT feature ids; features that vanish at the
/// tile's scale are not counted against the cap.
#[tokio::test]
async fn tile_caps_keep_the_largest_and_count_what_survives() {
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_cap CASCADE; CREATE SCHEMA vector_cap;
         SELECT setseed(0.3);
         CREATE TABLE vector_cap.polys (gid integer PRIMARY KEY, geom geometry(Polygon, 4326));
         INSERT INTO vector_cap.polys SELECT i,
           ST_Buffer(ST_SetSRID(ST_MakePoint((i % 20) * 8 - 80, (i / 20) * 8 - 40), 4326), 0.2 + random() * 3, 'quad_segs=2')
           FROM generate_series(0, 199) i;
         CREATE TABLE vector_cap.mixed (gid integer PRIMARY KEY, geom geometry(Geometry, 4326));
         INSERT INTO vector_cap.mixed SELECT i, ST_Buffer(ST_SetSRID(ST_MakePoint(i, 0), 4326), 0.00001)
           FROM generate_series(1, 50) i;
         INSERT INTO vector_cap.mixed SELECT 100 + i, ST_SetSRID(ST_MakePoint(i, 10), 4326) FROM generate_series(1, 20) i;",
    )
    .await
    .unwrap();
    let app = app_for_schema("vector_cap").await;

    let path = "/collections/vector_cap.polys/tiles/WebMercatorQuad/0/0/0?limit=25";
    let r = get(&app, path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let features = decode(&r.body);
    let got: BTreeSet<i64> = features.iter().map(|f| prop_i64(f, "gid")).collect();
    let want: BTreeSet<i64> = db
        .query("SELECT gid::int8 FROM vector_cap.polys ORDER BY ST_Area(geom) DESC, gid LIMIT 25", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(got, want, "the 25 largest polygons");
    for f in &features {
        assert_eq!(f.id, Some(prop_i64(f, "gid") as u64), "the MVT id is the primary key");
    }
    assert_eq!(get(&app, path).await.body, r.body, "the same subset every time");
    // Under a tile known to be under the cap, tiles are made without counting first: the
    // same bytes as when counted (by a new server), in the asked-for order too.
    let mut config = Config { database_url: Some(database_url()), ..Config::default() };
    config.db.schemas = vec!["vector_cap".into()];
    let state = AppState::new(config).unwrap().connect_database().await.unwrap();
    let vdb = state.db.clone().unwrap();
    let app = imbrex_server::app(state);
    let z0 = "/collections/vector_cap.polys/tiles/WebMercatorQuad/0/0/0?limit=1000";
    assert_eq!(decode(&get(&app, z0).await.body).len(), 200, "every polygon under the cap");
    assert_eq!(vdb.uncounted_tiles(), 0, "nothing known yet: counted");
    let tiles = ["1/0/0", "1/1/1", "2/1/1", "2/2/1", "1/1/0?sortby=-gid"];
    for t in tiles {
        let path = format!("/collections/vector_cap.polys/tiles/WebMercatorQuad/{t}");
        let path = format!("{path}{}limit=1000", if t.contains('?') { '&' } else { '?' });
        let uncounted = get(&app, &path).await;
        let counted = get(&app_for_schema("vector_cap").await, &path).await;
        assert_eq!(uncounted.status, StatusCode::OK, "{}", uncounted.text());
        assert!(!decode(&counted.body).is_empty(), "{t} holds polygons");
        assert_eq!(uncounted.body, counted.body, "{t}: the same tile counted or not");
    }
    assert_eq!(vdb.uncounted_tiles(), tiles.len() as u64, "the tiles under z0 were not counted");
    // The table grows past the cap under z0: the tile tried uncounted is capped all the
    // same, and the tiles under it are counted from then on.
    db.batch_execute(
        "INSERT INTO vector_cap.polys SELECT 1000 + i,
           ST_Buffer(ST_SetSRID(ST_MakePoint(-60 + i * 0.01, -30), 4326), 0.5, 'quad_segs=2')
           FROM generate_series(0, 1999) i",
    )
    .await
    .unwrap();
    let grown = get(&app, "/collections/vector_cap.polys/tiles/WebMercatorQuad/1/0/1?limit=1000").await;
    assert_eq!(decode(&grown.body).len(), 1000, "capped after the table grew");
    let below = get(&app, "/collections/vector_cap.polys/tiles/WebMercatorQuad/2/1/2?limit=1000").await;
    assert_eq!(below.status, StatusCode::OK);
    assert_eq!(vdb.uncounted_tiles(), tiles.len() as u64, "counted once the table grew");

    // 50 polygons far below a tile unit come first by id and vanish at zoom 0: the cap
    // fills with the points that remain.
    let r = get(&app, "/collections/vector_cap.mixed/tiles/WebMercatorQuad/0/0/0?limit=5").await;
    let gids: Vec<i64> = decode(&r.body).iter().map(|f| prop_i64(f, "gid")).collect();
    assert_eq!(gids.len(), 5, "{gids:?}");
    assert!(gids.iter().all(|g| (101..=105).contains(g)), "{gids:?}");
}

/// With thinning, a point layer keeps 1/rate of the points of the zoom above below the
/// set zoom: each zoom's points are a subset of the next one's, all of them from there on.
/// Polygons of many vertices are simplified on the tile grid unless told not to be.
#[tokio::test]
async fn points_thin_out_and_polygons_simplify_at_low_zooms() {
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_thin CASCADE; CREATE SCHEMA vector_thin;
         SELECT setseed(0.7);
         CREATE TABLE vector_thin.pts (gid bigint PRIMARY KEY, geom geometry(Point, 4326));
         INSERT INTO vector_thin.pts SELECT i, ST_SetSRID(ST_MakePoint(0.1 + random() * 0.8, 0.1 + random() * 0.8), 4326)
           FROM generate_series(1, 5000) i;
         CREATE TABLE vector_thin.nopk AS SELECT gid, geom FROM vector_thin.pts;
         CREATE TABLE vector_thin.round (gid integer PRIMARY KEY, geom geometry(Polygon, 4326));
         INSERT INTO vector_thin.round VALUES (1, ST_Buffer(ST_SetSRID(ST_MakePoint(20, 20), 4326), 10, 'quad_segs=2000'));",
    )
    .await
    .unwrap();
    let app = app_with("vector_thin", |c| {
        let thinned =
            imbrex_vector::db::TileOptions { thin_points_below_zoom: Some(6), thin_rate: 2.0, ..Default::default() };
        for id in ["vector_thin.pts", "vector_thin.nopk"] {
            let options = imbrex_vector::db::CollectionOptions { tiles: Some(thinned.clone()), ..Default::default() };
            c.db.collections.insert(id.into(), options);
        }
        c.db.collections.insert(
            "vector_thin.round".into(),
            imbrex_vector::db::CollectionOptions {
                tiles: Some(imbrex_vector::db::TileOptions { simplify: 0.0, ..Default::default() }),
                ..Default::default()
            },
        );
    })
    .await;
    // With a primary key, and without one (the table's row addresses tell rows apart).
    for table in ["pts", "nopk"] {
        let mut above: Option<BTreeSet<i64>> = None;
        for z in (0..=7u32).rev() {
            let (x, y) = tile_of(0.5, 0.5, z);
            let r = get(&app, &format!("/collections/vector_thin.{table}/tiles/WebMercatorQuad/{z}/{x}/{y}")).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            let ids: BTreeSet<i64> = decode(&r.body).iter().map(|f| prop_i64(f, "gid")).collect();
            let want = 5000.0 / 2f64.powi(6 - z.min(6) as i32);
            assert!(
                (ids.len() as f64 - want).abs() <= want * 0.35 + 5.0,
                "{table} z{z}: {} points, ~{want}",
                ids.len()
            );
            if let Some(above) = &above {
                assert!(ids.is_subset(above), "{table}: z{z}'s points are shown at z{}", z + 1);
            }
            above = Some(ids);
        }
    }

    // 8,000 vertices of a circle: simplified to what a tile can show by default, all of
    // them (as ST_AsMVTGeom rounds them) with simplify = 0.
    let vertices = |f: &mvt_reader::feature::Feature<f64>| match &f.geometry {
        geo_types::Geometry::Polygon(p) => p.exterior().0.len(),
        geo_types::Geometry::MultiPolygon(m) => m.0.iter().map(|p| p.exterior().0.len()).sum(),
        other => panic!("not a polygon: {other:?}"),
    };
    let bounds = |f: &mvt_reader::feature::Feature<f64>| {
        let rings: Vec<&geo_types::LineString<f64>> = match &f.geometry {
            geo_types::Geometry::Polygon(p) => vec![p.exterior()],
            geo_types::Geometry::MultiPolygon(m) => m.0.iter().map(|p| p.exterior()).collect(),
            other => panic!("not a polygon: {other:?}"),
        };
        rings.iter().flat_map(|r| r.0.iter()).fold([f64::MAX, f64::MAX, f64::MIN, f64::MIN], |b, c| {
            [b[0].min(c.x), b[1].min(c.y), b[2].max(c.x), b[3].max(c.y)]
        })
    };
    let full = decode(&get(&app, "/collections/vector_thin.round/tiles/WebMercatorQuad/2/2/1").await.body);
    let app = app_for_schema("vector_thin").await;
    let simple = decode(&get(&app, "/collections/vector_thin.round/tiles/WebMercatorQuad/2/2/1").await.body);
    assert_eq!((full.len(), simple.len()), (1, 1));
    let (n_full, n_simple) = (vertices(&full[0]), vertices(&simple[0]));
    assert!(n_full > 1000 && n_simple < 200, "{n_full} vertices unsimplified, {n_simple} simplified");
    let (a, b) = (bounds(&full[0]), bounds(&simple[0]));
    assert!(a.iter().zip(b).all(|(a, b)| (a - b).abs() <= 2.0), "{a:?} vs {b:?}");
}

/// A client that goes away cancels its query in PostgreSQL, and the connection it ran on
/// is not handed to the next request while the query runs.
#[tokio::test]
async fn a_client_that_goes_away_cancels_its_query() {
    use tokio::io::AsyncWriteExt;
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_cancel CASCADE; CREATE SCHEMA vector_cancel;
         CREATE FUNCTION vector_cancel.slow(seconds float8 DEFAULT 0)
           RETURNS TABLE (id integer, geom geometry) LANGUAGE sql STABLE AS
           $$ SELECT 1, ST_SetSRID(ST_MakePoint(0, 0), 4326) FROM (SELECT pg_sleep(seconds)) s $$;",
    )
    .await
    .unwrap();
    let mut config = Config { database_url: Some(database_url()), ..Config::default() };
    config.db.schemas = vec!["vector_cancel".into()];
    config.db.pool_size = 1;
    let state = AppState::new(config).unwrap().connect_database().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, imbrex_server::app(state)).await });

    let running = || async {
        db.query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%vector_cancel%slow%' AND state = 'active' \
             AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0)
    };
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(b"GET /collections/vector_cancel.slow/items?seconds=60 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut seen = false;
    for _ in 0..50 {
        if running().await == 1 {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen, "the slow query runs");
    drop(socket);
    // Gone long before the 60 s it sleeps: cancelled, not finished (a bound on polls, not
    // a timing: on this machine it goes within the first few).
    let mut polls = 0;
    while running().await > 0 {
        polls += 1;
        assert!(polls < 200, "the query still runs after the client went away");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // The pool's one connection went with the cancelled query: the next request gets a new
    // one, where the busy one would have left it waiting past the pool's 10 s timeout (a
    // 503) while the old query slept on.
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(b"GET /collections/vector_cancel.slow/items HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut socket, &mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}

/// Each connection keeps at most `statement_cache_size` prepared statements however many
/// distinct queries it runs, and lists of values bind as one array (one statement).
#[tokio::test]
async fn prepared_statements_per_connection_are_bounded() {
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_stmts CASCADE; CREATE SCHEMA vector_stmts;
         CREATE TABLE vector_stmts.pts (gid integer PRIMARY KEY, geom geometry(Point, 4326));
         INSERT INTO vector_stmts.pts SELECT i, ST_SetSRID(ST_MakePoint(i, 0), 4326) FROM generate_series(1, 50) i;
         CREATE FUNCTION vector_stmts.prepared() RETURNS TABLE (id integer, n integer, geom geometry)
           LANGUAGE sql STABLE AS
           $$ SELECT 1, (SELECT count(*)::integer FROM pg_prepared_statements), ST_SetSRID(ST_MakePoint(0, 0), 4326) $$;",
    )
    .await
    .unwrap();
    let prepared = |app: axum::Router| async move {
        let doc = ok(&get(&app, "/collections/vector_stmts.prepared/items").await, "prepared");
        doc["features"][0]["properties"]["n"].as_i64().unwrap()
    };
    let app = app_with("vector_stmts", |c| {
        c.db.pool_size = 1;
        c.db.statement_cache_size = 8;
    })
    .await;
    for k in 1..=30 {
        // 30 filters of distinct shapes: 30 distinct statements.
        let filter = (1..=k).map(|i| format!("gid%20%3E%3D%20{i}")).collect::<Vec<_>>().join("%20AND%20");
        let r = get(&app, &format!("/collections/vector_stmts.pts/items?filter={filter}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let n = prepared(app.clone()).await;
    assert!(n <= 8, "{n} prepared statements on the connection");

    // Lists of any length: one statement each for ids and for CQL2 IN.
    let app = app_with("vector_stmts", |c| c.db.pool_size = 1).await;
    // The probe's own two statements (items, count) are there from its second call on.
    prepared(app.clone()).await;
    let before = prepared(app.clone()).await;
    for k in 1..=20 {
        let list = (1..=k).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        let doc = ok(&get(&app, &format!("/collections/vector_stmts.pts/items?ids={list}&limit=50")).await, "ids");
        assert_eq!(doc["numberReturned"], k);
        let doc = ok(
            &get(&app, &format!("/collections/vector_stmts.pts/items?filter=gid%20IN%20({list})&limit=50")).await,
            "in",
        );
        assert_eq!(doc["numberReturned"], k);
    }
    let after = prepared(app).await;
    assert!(after - before <= 4, "{before} then {after} prepared statements");
}

/// With the event triggers installed, a table created, changed or dropped shows in the
/// catalog within a moment, without a refresh call or a timer.
#[tokio::test]
async fn ddl_refreshes_the_catalog_through_event_triggers() {
    // Event triggers see every DDL of their database: a database of its own, so that the
    // other tests' catalogs stay as they read them.
    let admin = pg().await;
    admin.batch_execute("DROP DATABASE IF EXISTS imbrex_test_ddl WITH (FORCE)").await.unwrap();
    admin.batch_execute("CREATE DATABASE imbrex_test_ddl").await.unwrap();
    let url = database_url();
    let (base, query) = url.split_once('?').map_or((url.as_str(), ""), |(b, q)| (b, q));
    let url = format!(
        "{}/imbrex_test_ddl{}{query}",
        base.rsplit_once('/').unwrap().0,
        if query.is_empty() { "" } else { "?" }
    );
    let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    db.batch_execute(
        "CREATE EXTENSION postgis; CREATE SCHEMA vector_ddl;
         CREATE TABLE vector_ddl.first (gid integer PRIMARY KEY, geom geometry(Point, 4326));",
    )
    .await
    .unwrap();
    imbrex_vector::db::execute(&url, imbrex_vector::db::INSTALL_TRIGGERS).await.unwrap();
    let mut config = Config { database_url: Some(url.clone()), ..Config::default() };
    config.db.schemas = vec!["vector_ddl".into()];
    config.db.refresh_interval_s = 0;
    let app = imbrex_server::app(AppState::new(config).unwrap().connect_database().await.unwrap());
    let ids = |app: axum::Router| async move {
        let doc = ok(&get(&app, "/collections").await, "collections");
        doc["collections"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(ids(app.clone()).await, ["vector_ddl.first"]);
    let within = |want: Vec<&'static str>| {
        let app = app.clone();
        async move {
            // No timer refreshes this catalog (refresh_interval_s = 0): only NOTIFY can. A
            // bound on polls, not a timing.
            for _ in 0..200 {
                if ids(app.clone()).await == want {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("{:?}, want {want:?}", ids(app.clone()).await);
        }
    };
    db.batch_execute("CREATE TABLE vector_ddl.second (gid integer PRIMARY KEY, geom geometry(Point, 4326))")
        .await
        .unwrap();
    within(vec!["vector_ddl.first", "vector_ddl.second"]).await;
    db.batch_execute("DROP TABLE vector_ddl.first").await.unwrap();
    within(vec!["vector_ddl.second"]).await;
    db.batch_execute("ALTER TABLE vector_ddl.second ADD COLUMN label text").await.unwrap();
    let mut polls = 0;
    loop {
        let q = ok(&get(&app, "/collections/vector_ddl.second/queryables").await, "queryables");
        if q["properties"].get("label").is_some() {
            break;
        }
        polls += 1;
        assert!(polls < 200, "{q}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A value the database refuses is the request's fault only when the request carried it:
/// a view that fails on its own rows is a 500, a filter literal of the wrong type a 400.
#[tokio::test]
async fn database_errors_are_blamed_on_their_cause() {
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_blame CASCADE; CREATE SCHEMA vector_blame;
         CREATE TABLE vector_blame.t (gid integer PRIMARY KEY, geom geometry(Point, 4326));
         INSERT INTO vector_blame.t VALUES (1, 'SRID=4326;POINT(1 2)');
         CREATE VIEW vector_blame.v AS SELECT gid, geom, 1 / (gid - gid) AS broken FROM vector_blame.t;",
    )
    .await
    .unwrap();
    let app = app_for_schema("vector_blame").await;
    for path in ["/collections/vector_blame.v/items", "/collections/vector_blame.v/tiles/WebMercatorQuad/0/0/0"] {
        let r = get(&app, path).await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}: {}", r.text());
    }
    // The request carries values, but the rows fail: still the data's fault.
    for path in ["/collections/vector_blame.v/items?filter=gid%20%3D%201", "/collections/vector_blame.v/items?gid=1"] {
        let r = get(&app, path).await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}: {}", r.text());
    }
    let r = get(&app, "/collections/vector_blame.t/items?filter=gid%20%3D%20%27one%27").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.text().contains("filter"), "{}", r.text());
}

/// Views get an id column from the settings: ids, items/{id}, stable paging, MVT ids. A
/// table's extent comes from its spatial index, not from reading its rows.
#[tokio::test]
async fn views_take_a_configured_id_column_and_extents_come_from_the_index() {
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_view CASCADE; CREATE SCHEMA vector_view;
         CREATE TABLE vector_view.t (code integer NOT NULL, geom geometry(Point, 4326));
         INSERT INTO vector_view.t SELECT 1000 - i, ST_SetSRID(ST_MakePoint(i % 90, i % 45), 4326) FROM generate_series(1, 200) i;
         CREATE INDEX ON vector_view.t USING gist (geom);
         CREATE VIEW vector_view.v AS SELECT code, geom FROM vector_view.t;",
    )
    .await
    .unwrap();
    let with_id_column = |column: &'static str| {
        app_with("vector_view", move |c| {
            c.db.collections.insert(
                "vector_view.v".into(),
                imbrex_vector::db::CollectionOptions { id_column: Some(column.into()), ..Default::default() },
            );
        })
    };
    let app = with_id_column("code").await;
    let doc = ok(&get(&app, "/collections/vector_view.v/items?limit=3").await, "items");
    let codes: Vec<i64> = doc["features"].as_array().unwrap().iter().map(|f| f["id"].as_i64().unwrap()).collect();
    assert_eq!(codes, [800, 801, 802], "paged in id order");
    let doc = ok(&get(&app, "/collections/vector_view.v/items/900").await, "item");
    assert_eq!(doc["properties"]["code"], 900);
    let r = get(&app, "/collections/vector_view.v/tiles/WebMercatorQuad/0/0/0").await;
    assert!(decode(&r.body).iter().all(|f| f.id == Some(prop_i64(f, "code") as u64)));

    // A configured id column the view lacks: the view is skipped, with the reason.
    let app = with_id_column("nope").await;
    let doc = ok(&get(&app, "/collections?include_skipped=true").await, "skipped");
    assert!(doc["skipped"][0]["reason"].as_str().unwrap().contains("nope"), "{doc}");

    // The table's extent without reading it: PostGIS answers from the index.
    let doc = ok(&get(&app, "/collections/vector_view.t").await, "collection");
    let bbox: Vec<f64> =
        doc["extent"]["spatial"]["bbox"][0].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let exact = db.query_one("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM vector_view.t) q", &[]).await.unwrap();
    for (i, got) in bbox.iter().enumerate() {
        let want: f64 = exact.get(i);
        assert!((got - want).abs() < 1e-4, "extent {bbox:?} vs {want} at {i}");
    }
}

/// `a,b` in a tile path: one MVT with a layer per collection, each named after it, and the
/// TileJSON and style that describe them.
#[tokio::test]
async fn composite_tiles_hold_a_layer_per_collection() {
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_multi CASCADE; CREATE SCHEMA vector_multi;
         CREATE TABLE vector_multi.a (gid integer PRIMARY KEY, geom geometry(Point, 4326));
         INSERT INTO vector_multi.a SELECT i, ST_SetSRID(ST_MakePoint(i, i), 4326) FROM generate_series(1, 7) i;
         CREATE TABLE vector_multi.b (gid integer PRIMARY KEY, kind text, geom geometry(Polygon, 3857));
         INSERT INTO vector_multi.b SELECT i, 'k' || i, ST_Buffer(ST_Transform(ST_SetSRID(ST_MakePoint(-i * 10, 0), 4326), 3857), 1e5)
           FROM generate_series(1, 3) i;",
    )
    .await
    .unwrap();
    let app = app_for_schema("vector_multi").await;
    let r = get(&app, "/collections/vector_multi.a,vector_multi.b/tiles/WebMercatorQuad/0/0/0").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let reader = mvt_reader::Reader::new(r.body.clone()).expect("a valid MVT");
    assert_eq!(reader.get_layer_names().unwrap(), ["vector_multi.a", "vector_multi.b"]);
    assert_eq!(reader.get_features_as::<f64>(0).unwrap().len(), 7);
    let polys = reader.get_features_as::<f64>(1).unwrap();
    assert_eq!(polys.len(), 3);
    assert!(polys.iter().all(|f| f.properties.as_ref().unwrap().contains_key("kind")));

    let tj = ok(
        &get(&app, "/collections/vector_multi.a,vector_multi.b/tiles/WebMercatorQuad/tilejson.json").await,
        "tilejson",
    );
    let names: Vec<&str> = tj["vector_layers"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(names, ["vector_multi.a", "vector_multi.b"]);
    assert!(
        tj["tiles"][0]
            .as_str()
            .unwrap()
            .contains("/collections/vector_multi.a,vector_multi.b/tiles/WebMercatorQuad/{z}/{x}/{y}")
    );
    let style =
        ok(&get(&app, "/collections/vector_multi.a,vector_multi.b/tiles/WebMercatorQuad/style.json").await, "style");
    let source_layers: BTreeSet<&str> =
        style["layers"].as_array().unwrap().iter().map(|l| l["source-layer"].as_str().unwrap()).collect();
    assert_eq!(source_layers, BTreeSet::from(["vector_multi.a", "vector_multi.b"]));

    for (path, status) in [
        ("/collections/vector_multi.a,vector_multi.nope/tiles/WebMercatorQuad/0/0/0", StatusCode::NOT_FOUND),
        ("/collections/vector_multi.a,vector_multi.a/tiles/WebMercatorQuad/0/0/0", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let r = get(&app, path).await;
        assert_eq!(r.status, status, "{path}: {}", r.text());
    }
}

/// CQL2 integers beyond 2^53 compare exactly (a double would round them onto a neighbour).
#[tokio::test]
async fn cql2_integers_beyond_two_to_the_53_stay_exact() {
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_bigint CASCADE; CREATE SCHEMA vector_bigint;
         CREATE TABLE vector_bigint.t (gid bigint PRIMARY KEY, geom geometry(Point, 4326));
         INSERT INTO vector_bigint.t VALUES (9007199254740992, 'SRID=4326;POINT(1 2)'), (9007199254740993, 'SRID=4326;POINT(1 2)');",
    )
    .await
    .unwrap();
    let app = app_for_schema("vector_bigint").await;
    for filter in [
        "gid%20%3D%209007199254740993",
        "gid%20IN%20(9007199254740993)",
        "%7B%22op%22%3A%22%3D%22%2C%22args%22%3A%5B%7B%22property%22%3A%22gid%22%7D%2C9007199254740993%5D%7D&filter-lang=cql2-json",
    ] {
        let doc = ok(&get(&app, &format!("/collections/vector_bigint.t/items?filter={filter}")).await, filter);
        let ids: Vec<String> = doc["features"].as_array().unwrap().iter().map(|f| f["id"].to_string()).collect();
        assert_eq!(ids, ["9007199254740993"], "{filter}");
    }
}

/// tipg's parameters and documents: `sortby`, `simplify` and `datetime-column` on tiles,
/// `datetime-column` on items, `limit=0`, a `self` link with its query, queryables with the
/// geometry's own type, temporal extents, and `/collections` filtered by type, bbox and
/// datetime.
#[tokio::test]
async fn tipg_parameters_and_documents() {
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_tipg CASCADE; CREATE SCHEMA vector_tipg;
         CREATE TABLE vector_tipg.events (gid integer PRIMARY KEY, rank integer, created date, seen timestamptz,
                                          doc json, geom geometry(Point, 4326));
         INSERT INTO vector_tipg.events SELECT i, (i * 7) % 20, DATE '2020-01-01' + i, TIMESTAMPTZ '2021-06-01 00:00Z' + i * INTERVAL '1 day',
           '{}', ST_SetSRID(ST_MakePoint(i, i), 4326) FROM generate_series(1, 20) i;
         ANALYZE vector_tipg.events;
         CREATE TABLE vector_tipg.far (gid integer PRIMARY KEY, geom geometry(Polygon, 4326));
         INSERT INTO vector_tipg.far VALUES (1, 'SRID=4326;POLYGON((100 -40, 110 -40, 110 -30, 100 -30, 100 -40))');
         CREATE FUNCTION vector_tipg.near(n integer DEFAULT 1) RETURNS TABLE (id integer, geom geometry)
           LANGUAGE sql STABLE AS $$ SELECT i, ST_SetSRID(ST_MakePoint(i, 0), 4326) FROM generate_series(1, n) i $$;",
    )
    .await
    .unwrap();
    let app = app_for_schema("vector_tipg").await;
    let tile = "/collections/vector_tipg.events/tiles/WebMercatorQuad/0/0/0";

    // The cap keeps the highest ranks first with sortby=-rank.
    let r = get(&app, &format!("{tile}?limit=3&sortby=-rank")).await;
    let ranks: BTreeSet<i64> = decode(&r.body).iter().map(|f| prop_i64(f, "rank")).collect();
    assert_eq!(ranks, BTreeSet::from([17, 18, 19]));
    assert_eq!(get(&app, &format!("{tile}?sortby=nope")).await.status, StatusCode::BAD_REQUEST);
    // A json column has no order: the caller's mistake, named.
    for path in [format!("{tile}?sortby=doc"), "/collections/vector_tipg.events/items?sortby=-doc".to_string()] {
        let r = get(&app, &path).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.text());
        assert!(r.text().contains("sortby"), "{}", r.text());
    }
    // datetime= on the second date/time column.
    let r = get(&app, &format!("{tile}?datetime=2021-06-02T00:00:00Z/2021-06-04T00:00:00Z&datetime-column=seen")).await;
    let gids: BTreeSet<i64> = decode(&r.body).iter().map(|f| prop_i64(f, "gid")).collect();
    assert_eq!(gids, BTreeSet::from([1, 2, 3]));
    let r = get(&app, "/collections/vector_tipg.events/items?datetime=2020-01-02/2020-01-03").await;
    assert_eq!(ok(&r, "first column")["numberReturned"], 2);
    let r = get(&app, "/collections/vector_tipg.events/items?datetime=2020-01-02/..&datetime-column=rank").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.text().contains("datetime-column"));
    // simplify in the tile CRS's units: a polygon simplified away to its bare bones.
    let r = get(&app, "/collections/vector_tipg.far/tiles/WebMercatorQuad/0/0/0?simplify=1e7").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        get(&app, "/collections/vector_tipg.far/tiles/WebMercatorQuad/0/0/0?simplify=-1").await.status,
        StatusCode::BAD_REQUEST
    );

    // limit=0: the count and no features, and no next link that would loop.
    let doc = ok(&get(&app, "/collections/vector_tipg.events/items?limit=0&rank=3").await, "limit 0");
    assert_eq!((doc["numberReturned"].as_i64(), doc["numberMatched"].as_i64()), (Some(0), Some(1)));
    let links = doc["links"].as_array().unwrap();
    assert!(!links.iter().any(|l| l["rel"] == "next"));
    let this = links.iter().find(|l| l["rel"] == "self").unwrap()["href"].as_str().unwrap();
    assert!(this.ends_with("/collections/vector_tipg.events/items?limit=0&rank=3"), "{this}");

    let q = ok(&get(&app, "/collections/vector_tipg.far/queryables").await, "queryables");
    assert_eq!(q["properties"]["geom"]["$ref"], "https://geojson.org/schema/Polygon.json");
    let doc = ok(&get(&app, "/collections/vector_tipg.events").await, "collection");
    assert_eq!(doc["extent"]["temporal"]["interval"][0], json!(["2020-01-02T00:00:00Z", "2020-01-21T00:00:00Z"]));

    let ids = |doc: Value| -> Vec<String> {
        doc["collections"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
    };
    for (query, want) in [
        ("type=Function", vec!["vector_tipg.near"]),
        ("type=Table", vec!["vector_tipg.events", "vector_tipg.far"]),
        ("bbox=90,-50,120,-20", vec!["vector_tipg.far"]),
        ("bbox=170,-50,105,-35", vec!["vector_tipg.far"]),
        ("datetime=2020-01-10T00:00:00Z", vec!["vector_tipg.events"]),
        ("datetime=2019-01-01/2019-12-31", vec![]),
    ] {
        let got = ids(ok(&get(&app, &format!("/collections?{query}")).await, query));
        assert_eq!(got, want, "{query}");
    }
    assert_eq!(get(&app, "/collections?type=View").await.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// CQL2's arithmetic, CASEI/ACCENTI, temporal and array predicates and literals on the left
/// select what PostgreSQL's own SQL for the same conditions selects, on random rows.
#[tokio::test]
async fn cql2_classes_select_what_postgresql_selects() {
    let db = pg().await;
    db.batch_execute(
        "CREATE EXTENSION IF NOT EXISTS unaccent;
         DROP SCHEMA IF EXISTS vector_cql2 CASCADE; CREATE SCHEMA vector_cql2;
         SELECT setseed(0.11);
         CREATE TABLE vector_cql2.t (gid integer PRIMARY KEY, value float8, name text, day date, seen timestamptz,
                                      tags text[], nums integer[], geom geometry(Point, 4326));
         INSERT INTO vector_cql2.t SELECT i, random() * 1000,
             (ARRAY['École', 'ecole', 'ÉCOLE', 'Café', 'cafe', 'Straße'])[1 + (random() * 5)::int] || i % 3,
             DATE '2020-01-01' + (random() * 400)::int,
             TIMESTAMPTZ '2021-01-01 00:00Z' + random() * INTERVAL '60 days',
             (SELECT array_agg(c) FROM unnest(ARRAY['red', 'blue', 'green', 'grey']) c WHERE random() < 0.5 + 0 * i),
             ARRAY[(random() * 5)::int, (random() * 5)::int],
             ST_SetSRID(ST_MakePoint(random() * 10, random() * 10), 4326)
           FROM generate_series(1, 300) i;",
    )
    .await
    .unwrap();
    let app = app_for_schema("vector_cql2").await;
    let enc = |f: &str| form_urlencoded::byte_serialize(f.as_bytes()).collect::<String>();
    for (filter, sql) in [
        ("5 < gid AND 250 >= gid", "5 < gid AND 250 >= gid"),
        ("gid * 2 - 1 >= 41 AND gid % 3 = 0", "gid * 2 - 1 >= 41 AND gid % 3 = 0"),
        ("gid div 4 = 3", "div(gid, 4) = 3"),
        ("value / 3 > 100 + 50", "value / 3 > 150"),
        ("(value + gid) * 2 BETWEEN 300 AND 900", "(value + gid) * 2 BETWEEN 300 AND 900"),
        ("CASEI(name) = CASEI('ÉCOLE1')", "lower(name) = lower('ÉCOLE1')"),
        ("CASEI(name) LIKE casei('É%')", "lower(name) LIKE lower('É%')"),
        ("ACCENTI(CASEI(name)) = ACCENTI(CASEI('ECOLE2'))", "unaccent(lower(name)) = unaccent(lower('ECOLE2'))"),
        ("T_AFTER(day, DATE('2020-06-01'))", "day > '2020-06-01'"),
        ("T_BEFORE(seen, TIMESTAMP('2021-01-15T00:00:00Z'))", "seen < '2021-01-15T00:00:00Z'"),
        (
            "T_DURING(seen, INTERVAL('2021-01-10T00:00:00Z', '2021-02-01T00:00:00Z'))",
            "seen > '2021-01-10T00:00:00Z' AND seen < '2021-02-01T00:00:00Z'",
        ),
        ("T_DISJOINT(day, INTERVAL('..', '2020-02-01'))", "day > '2020-02-01'"),
        ("T_INTERSECTS(day, INTERVAL('2020-03-01', '2020-04-01'))", "day BETWEEN '2020-03-01' AND '2020-04-01'"),
        (
            "T_OVERLAPS(INTERVAL(day, seen), INTERVAL('2020-12-01', '2021-01-20T00:00:00Z'))",
            "day < '2020-12-01' AND seen > '2020-12-01' AND seen < '2021-01-20T00:00:00Z'",
        ),
        ("A_CONTAINS(tags, ('red', 'blue'))", "tags @> ARRAY['red', 'blue']"),
        ("A_CONTAINEDBY(tags, ('red', 'blue', 'green'))", "tags <@ ARRAY['red', 'blue', 'green']"),
        ("A_OVERLAPS(nums, (1, 2))", "nums && ARRAY[1, 2]"),
        ("A_EQUALS(('red', 'grey'), tags)", "tags = ARRAY['red', 'grey']"),
    ] {
        let want: i64 =
            db.query_one(&format!("SELECT count(*) FROM vector_cql2.t WHERE {sql}"), &[]).await.unwrap().get(0);
        assert!(want > 0, "{sql} selects nothing: a weak case");
        let r = get(&app, &format!("/collections/vector_cql2.t/items?limit=1&filter={}", enc(filter))).await;
        assert_eq!(ok(&r, filter)["numberMatched"], want, "{filter} vs {sql}");
    }
    for (filter, name) in [
        ("name + 1 > 2", "arithmetic"),
        ("T_AFTER(gid, DATE('2020-01-01'))", "date/time"),
        ("A_CONTAINS(name, ('a'))", "array"),
        ("gid > 1 / 0", "division by zero"),
    ] {
        let r = get(&app, &format!("/collections/vector_cql2.t/items?filter={}", enc(filter))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{filter}: {}", r.text());
        assert!(r.text().contains(name), "{filter}: {}", r.text());
    }
}

/// A projected table whose extent is an estimate (statistics leave out outliers, and there
/// is no spatial index to read a complete box from) still shows its outliers in low-zoom
/// tiles and world bboxes.
#[tokio::test]
async fn outliers_beyond_an_estimated_extent_are_not_lost() {
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_outliers CASCADE; CREATE SCHEMA vector_outliers;
         SELECT setseed(0.5);
         CREATE TABLE vector_outliers.t (gid integer PRIMARY KEY, geom geometry(Point, 26915));
         INSERT INTO vector_outliers.t SELECT i, ST_Transform(ST_SetSRID(ST_MakePoint(-93 + random() * 0.01, 45 + random() * 0.01), 4326), 26915)
           FROM generate_series(1, 50000) i;
         INSERT INTO vector_outliers.t SELECT 100000 + i, ST_Transform(ST_SetSRID(ST_MakePoint(-93 + i * 0.001, 36), 4326), 26915)
           FROM generate_series(1, 50) i;
         ANALYZE vector_outliers.t;",
    )
    .await
    .unwrap();
    let row = db
        .query_one("SELECT ST_YMin(ST_Transform(ST_SetSRID(ST_EstimatedExtent('vector_outliers', 't', 'geom')::geometry, 26915), 4326))", &[])
        .await
        .unwrap();
    assert!(row.get::<_, f64>(0) > 40.0, "the statistics' extent leaves the outliers out (the case under test)");
    let app = app_for_schema("vector_outliers").await;
    let (x, y) = tile_of(-92.97, 36.0, 5);
    let r = get(&app, &format!("/collections/vector_outliers.t/tiles/WebMercatorQuad/5/{x}/{y}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let outliers = decode(&r.body).iter().filter(|f| prop_i64(f, "gid") > 100000).count();
    assert_eq!(outliers, 50);
    let doc = ok(&get(&app, "/collections/vector_outliers.t/items?bbox=-180,-90,180,90&limit=1").await, "world");
    assert_eq!(doc["numberMatched"], json!(null), "more than 10,000 match: not counted");
    let doc = ok(&get(&app, "/collections/vector_outliers.t/items?bbox=-94,35,-92,37&limit=1").await, "outliers");
    assert_eq!(doc["numberMatched"], 50);
}

/// A role with partial grants: tables it may read are served, a table it may not read is
/// left out, and a table in a schema it cannot use is skipped with the reason.
#[tokio::test]
async fn a_role_with_partial_grants_sees_what_it_may_read() {
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_grants CASCADE; DROP SCHEMA IF EXISTS vector_grants_hidden CASCADE;
         DO $$ BEGIN
           IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imbrex_test_reader') THEN
             DROP OWNED BY imbrex_test_reader; DROP ROLE imbrex_test_reader;
           END IF;
         END $$;
         CREATE ROLE imbrex_test_reader LOGIN;
         CREATE SCHEMA vector_grants; CREATE SCHEMA vector_grants_hidden;
         CREATE TABLE vector_grants.open (gid integer PRIMARY KEY, geom geometry(Point, 4326));
         CREATE TABLE vector_grants.closed (gid integer PRIMARY KEY, geom geometry(Point, 4326));
         CREATE TABLE vector_grants_hidden.t (gid integer PRIMARY KEY, geom geometry(Point, 4326));
         INSERT INTO vector_grants.open VALUES (1, 'SRID=4326;POINT(1 2)');
         GRANT USAGE ON SCHEMA vector_grants TO imbrex_test_reader;
         GRANT SELECT ON vector_grants.open TO imbrex_test_reader;
         GRANT SELECT ON vector_grants_hidden.t TO imbrex_test_reader;",
    )
    .await
    .unwrap();
    let url = database_url();
    let url = match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split_once('@').map_or(rest, |(_, h)| h);
            format!("{scheme}://imbrex_test_reader@{host}")
        }
        None => panic!("{url}"),
    };
    let mut config = Config { database_url: Some(url), ..Config::default() };
    config.db.schemas = vec!["vector_grants".into(), "vector_grants_hidden".into()];
    let app = imbrex_server::app(AppState::new(config).unwrap().connect_database().await.unwrap());
    let doc = ok(&get(&app, "/collections?include_skipped=true").await, "collections");
    let ids: Vec<&str> = doc["collections"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["vector_grants.open"]);
    let skipped = doc["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{doc}");
    assert_eq!(skipped[0]["id"], "vector_grants_hidden.t");
    assert!(skipped[0]["reason"].as_str().unwrap().contains("permission denied"), "{doc}");
    assert_eq!(ok(&get(&app, "/collections/vector_grants.open/items").await, "items")["numberReturned"], 1);
    assert_eq!(get(&app, "/collections/vector_grants.closed/items").await.status, StatusCode::NOT_FOUND);
}

/// A refresh keeps the extents it had to read rows for (a view's) while the view's columns
/// are unchanged, and reads them again when they change.
#[tokio::test]
async fn a_refresh_reuses_extents_that_cost_a_read_of_rows() {
    use axum::body::Body;
    use axum::http::Request;
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_reuse CASCADE; CREATE SCHEMA vector_reuse;
         CREATE SEQUENCE vector_reuse.reads;
         CREATE FUNCTION vector_reuse.read() RETURNS boolean LANGUAGE sql VOLATILE AS $$ SELECT nextval('vector_reuse.reads') > 0 $$;
         CREATE TABLE vector_reuse.t (gid integer PRIMARY KEY, geom geometry(Point, 4326));
         INSERT INTO vector_reuse.t SELECT i, ST_SetSRID(ST_MakePoint(i, i), 4326) FROM generate_series(1, 10) i;
         CREATE VIEW vector_reuse.v AS SELECT gid, geom FROM vector_reuse.t WHERE vector_reuse.read();",
    )
    .await
    .unwrap();
    let reads =
        || async { db.query_one("SELECT last_value FROM vector_reuse.reads", &[]).await.unwrap().get::<_, i64>(0) };
    let mut config =
        Config { database_url: Some(database_url()), admin_token: Some("s3cret".into()), ..Config::default() };
    config.db.schemas = vec!["vector_reuse".into()];
    let app = imbrex_server::app(AppState::new(config).unwrap().connect_database().await.unwrap());
    let refresh = || async {
        let r = common::request(
            &app,
            Request::post("/refresh").header("authorization", "Bearer s3cret").body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    };
    refresh().await;
    let before = reads().await;
    refresh().await;
    assert_eq!(reads().await, before, "the view's rows were read again for an unchanged view");
    let doc = ok(&get(&app, "/collections/vector_reuse.v").await, "view");
    assert_eq!(doc["extent"]["spatial"]["bbox"][0], json!([1.0, 1.0, 10.0, 10.0]));
    db.batch_execute(
        "CREATE OR REPLACE VIEW vector_reuse.v AS SELECT gid, geom, gid * 2 AS twice FROM vector_reuse.t WHERE vector_reuse.read()",
    )
    .await
    .unwrap();
    refresh().await;
    assert!(reads().await > before, "a changed view is read again");
}

/// Links as tipg writes them: percent-encoded collection ids, the collection and the other
/// formats of a page.
#[tokio::test]
async fn links_are_percent_encoded_and_name_the_collection_and_alternates() {
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_links CASCADE; CREATE SCHEMA vector_links;
         CREATE TABLE vector_links.\"odd name#1\" (gid integer PRIMARY KEY, geom geometry(Point, 4326));
         INSERT INTO vector_links.\"odd name#1\" VALUES (1, 'SRID=4326;POINT(1 2)');",
    )
    .await
    .unwrap();
    let app = app_for_schema("vector_links").await;
    let doc = ok(&get(&app, "/collections/vector_links.odd%20name%231/items").await, "items");
    let links = doc["links"].as_array().unwrap();
    let href = |rel: &str, media: &str| {
        links.iter().find(|l| l["rel"] == rel && l["type"] == media).map(|l| l["href"].as_str().unwrap().to_string())
    };
    assert_eq!(
        href("collection", "application/json").as_deref(),
        Some("http://test.local/collections/vector_links.odd%20name%231")
    );
    let csv = href("alternate", "text/csv").unwrap();
    assert!(csv.ends_with("/collections/vector_links.odd%20name%231/items?f=csv"), "{csv}");
    let r = get(&app, csv.trim_start_matches("http://test.local")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let tj = ok(&get(&app, "/collections/vector_links.odd%20name%231/tiles/WebMercatorQuad/tilejson.json").await, "tj");
    let tiles = tj["tiles"][0].as_str().unwrap();
    assert!(tiles.contains("/collections/vector_links.odd%20name%231/tiles/"), "{tiles}");
}

/// Enum and domain columns whose types live in a schema off the search path filter like
/// any other column (their values compared as text).
#[tokio::test]
async fn enums_and_domains_in_other_schemas_filter() {
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_types CASCADE; DROP SCHEMA IF EXISTS vector_types_defs CASCADE;
         CREATE SCHEMA vector_types_defs; CREATE SCHEMA vector_types;
         CREATE TYPE vector_types_defs.mood AS ENUM ('sad', 'ok', 'happy');
         CREATE DOMAIN vector_types_defs.code AS text CHECK (VALUE ~ '^[A-Z]+$');
         CREATE TABLE vector_types.t (gid integer PRIMARY KEY, mood vector_types_defs.mood, code vector_types_defs.code,
                                      geom geometry(Point, 4326));
         INSERT INTO vector_types.t SELECT i, (ARRAY['sad', 'ok', 'happy'])[1 + i % 3]::vector_types_defs.mood,
           (ARRAY['AB', 'CD'])[1 + i % 2], ST_SetSRID(ST_MakePoint(i, 0), 4326) FROM generate_series(1, 30) i;",
    )
    .await
    .unwrap();
    let app = app_for_schema("vector_types").await;
    let enc = |f: &str| form_urlencoded::byte_serialize(f.as_bytes()).collect::<String>();
    for (query, want) in [
        (format!("filter={}", enc("mood = 'happy'")), 10),
        (format!("filter={}", enc("mood IN ('happy', 'sad')")), 20),
        (format!("filter={}", enc("code = 'AB' AND mood <> 'ok'")), 10),
        (format!("filter={}", enc("CASEI(code) LIKE 'c%'")), 15),
        ("mood=ok".to_string(), 10),
    ] {
        let doc = ok(&get(&app, &format!("/collections/vector_types.t/items?limit=1&{query}")).await, &query);
        assert_eq!(doc["numberMatched"], want, "{query}");
    }
}

/// A signed HS256 token with these claims.
fn token(secret: &str, claims: Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap();
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap()
}

/// JWT roles and claims reach PostgreSQL: row-level security decides what each token sees
/// in items and tiles, a role without privileges is refused, a bad token is a 401.
#[tokio::test]
async fn row_level_security_sees_each_token_through() {
    let db = pg().await;
    db.batch_execute(
        "DROP SCHEMA IF EXISTS vector_rls CASCADE; CREATE SCHEMA vector_rls;
         DO $$ BEGIN
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'imbrex_reader') THEN CREATE ROLE imbrex_reader NOLOGIN; END IF;
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'imbrex_anon') THEN CREATE ROLE imbrex_anon NOLOGIN; END IF;
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'imbrex_nobody') THEN CREATE ROLE imbrex_nobody NOLOGIN; END IF;
         END $$;
         CREATE TABLE vector_rls.notes (gid integer PRIMARY KEY, owner text, geom geometry(Point, 4326));
         INSERT INTO vector_rls.notes SELECT g, (ARRAY['alice', 'bob', 'public'])[g % 3 + 1],
           ST_SetSRID(ST_MakePoint(g % 10, g / 10), 4326) FROM generate_series(1, 60) g;
         ALTER TABLE vector_rls.notes ENABLE ROW LEVEL SECURITY;
         GRANT USAGE ON SCHEMA vector_rls TO imbrex_reader, imbrex_anon;
         GRANT SELECT ON vector_rls.notes TO imbrex_reader, imbrex_anon;
         CREATE POLICY own_or_public ON vector_rls.notes FOR SELECT
           USING (owner = 'public' OR owner = current_setting('request.jwt.claims', true)::json->>'sub');
         CREATE TABLE vector_rls.secret (gid integer PRIMARY KEY, geom geometry(Point, 4326));
         INSERT INTO vector_rls.secret VALUES (1, 'SRID=4326;POINT(1 1)');",
    )
    .await
    .unwrap();
    let secret = "a test secret of at least thirty-two characters";
    let app = app_with("vector_rls", |c| {
        c.auth.jwt_secret = Some(secret.into());
        c.auth.anonymous_role = Some("imbrex_anon".into());
    })
    .await;
    let as_ = |t: Option<String>, path: &str| {
        let (app, path) = (app.clone(), path.to_string());
        async move {
            match t {
                Some(t) => common::get_with(&app, &path, "authorization", &format!("Bearer {t}")).await,
                None => get(&app, &path).await,
            }
        }
    };
    // What the database itself gives each owner.
    let owners = |who: &str| {
        let who = who.to_string();
        let db = &db;
        async move {
            db.query("SELECT gid FROM vector_rls.notes WHERE owner IN ('public', $1) ORDER BY gid", &[&who])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<_, i32>(0) as i64)
                .collect::<BTreeSet<i64>>()
        }
    };
    let alice = token(secret, json!({"role": "imbrex_reader", "sub": "alice"}));
    let bob = token(secret, json!({"role": "imbrex_reader", "sub": "bob"}));
    for (who, t) in [("alice", Some(alice.clone())), ("bob", Some(bob.clone())), ("nobody", None)] {
        let expected = owners(who).await;
        let r = as_(t.clone(), "/collections/vector_rls.notes/items?limit=100").await;
        let items = ok(&r, who);
        let ids: BTreeSet<i64> =
            items["features"].as_array().unwrap().iter().map(|f| f["id"].as_i64().unwrap()).collect();
        assert_eq!(ids, expected, "{who}'s items");
        if t.is_some() {
            assert_eq!(r.headers["cache-control"], "private, no-store", "{who}");
        }
        // The same tile, twice (the second may come from a cache): each time the rows of
        // this token, never another's.
        for _ in 0..2 {
            let r = as_(t.clone(), "/collections/vector_rls.notes/tiles/WebMercatorQuad/0/0/0").await;
            assert_eq!(r.status, StatusCode::OK, "{who}: {}", r.text());
            let gids: BTreeSet<i64> = decode(&r.body).iter().map(|f| prop_i64(f, "gid")).collect();
            assert_eq!(gids, expected, "{who}'s tile");
        }
    }
    // A role without privileges on a table, a role the server may not become, a bad token.
    let r = as_(Some(alice.clone()), "/collections/vector_rls.secret/items").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = as_(None, "/collections/vector_rls.secret/tiles/WebMercatorQuad/0/0/0").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let ghost = token(secret, json!({"role": "imbrex_no_such_role"}));
    let r = as_(Some(ghost), "/collections/vector_rls.notes/items").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(r.text().contains("imbrex_no_such_role"), "{}", r.text());
    let forged = token("another secret, also thirty-two characters long", json!({"role": "imbrex_reader"}));
    let expired = token(secret, json!({"role": "imbrex_reader", "exp": 1_000_000_000}));
    for (what, t) in [("forged", forged), ("expired", expired), ("garbage", "a.b.c".to_string())] {
        let r = as_(Some(t), "/collections/vector_rls.notes/items").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.text());
        assert_eq!(r.headers["www-authenticate"], "Bearer", "{what}");
    }
    // The pool is not left as anyone: a request without a token sees the public rows only
    // after every token's request (transactions rolled back, roles reset).
    let items = ok(&as_(None, "/collections/vector_rls.notes/items?limit=100").await, "anonymous after");
    assert_eq!(items["numberMatched"], 20);

    // Required: no token, no answer.
    let strict = app_with("vector_rls", |c| {
        c.auth.jwt_secret = Some(secret.into());
        c.auth.required = true;
    })
    .await;
    let r = get(&strict, "/collections/vector_rls.notes/items").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    let r = common::get_with(&strict, "/collections/vector_rls.notes/items", "authorization", &format!("Bearer {bob}"))
        .await;
    assert_eq!(ok(&r, "bob, strict")["numberMatched"], 40);
}
