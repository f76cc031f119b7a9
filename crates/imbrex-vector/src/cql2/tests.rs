//! Parsing and translation of filters, without a database (tests/vector.rs runs them on one).

use super::*;

fn prop(s: &str) -> Operand {
    Operand::Property(s.into())
}

#[test]
fn text_and_json_parse_to_the_same_tree() {
    let t = parse("name = 'France' AND (pop_est > 1e6 OR NOT continent LIKE 'Eu%')", None).unwrap();
    let j = parse(
        r#"{"op": "and", "args": [{"op": "=", "args": [{"property": "name"}, "France"]},
           {"op": "or", "args": [{"op": ">", "args": [{"property": "pop_est"}, 1000000]},
           {"op": "not", "args": [{"op": "like", "args": [{"property": "continent"}, "Eu%"]}]}]}]}"#,
        Some("cql2-json"),
    )
    .unwrap();
    assert_eq!(t, j);
}

#[test]
fn predicates() {
    assert_eq!(
        parse("gid BETWEEN 1 AND 3", None).unwrap(),
        Expr::Between(prop("gid"), Operand::Num("1".into()), Operand::Num("3".into()))
    );
    assert_eq!(
        parse("gid IN (1, 2)", None).unwrap(),
        Expr::In(prop("gid"), vec![Operand::Num("1".into()), Operand::Num("2".into())])
    );
    assert_eq!(parse("x IS NOT NULL", None).unwrap(), Expr::Not(Box::new(Expr::IsNull(prop("x")))));
    assert_eq!(
        parse("\"Mixed Name\" <> 'it''s'", None).unwrap(),
        Expr::Compare("<>", prop("Mixed Name"), Operand::Str("it's".into()))
    );
    assert_eq!(
        parse("S_INTERSECTS(geom, POLYGON((0 0, 1 0, 1 1, 0 0)))", None).unwrap(),
        Expr::Spatial("s_intersects", prop("geom"), Operand::Wkt("POLYGON((0 0, 1 0, 1 1, 0 0))".into()))
    );
    assert_eq!(
        parse("t >= TIMESTAMP('2020-01-01T00:00:00Z')", None).unwrap(),
        Expr::Compare(">=", prop("t"), Operand::Timestamp("2020-01-01T00:00:00Z".into()))
    );
}

#[test]
fn malformed_filters_name_the_problem() {
    for f in [
        "name =",
        "name = 'open",
        "(a = 1",
        "a = 1 b = 2",
        "S_INTERSECTS(geom, POINT(1 2)",
        "a ! 1",
        "a BETWEEN 1 OR 2",
        "POINT(1 2; DROP TABLE x)",
    ] {
        let e = parse(f, None).unwrap_err();
        assert!(matches!(&e, Error::InvalidParameter { name, .. } if name == "filter"), "{f}: {e}");
    }
    assert!(parse("{\"op\": \"=\"}", Some("cql2-json")).is_err());
    assert!(parse("{\"op\": \"nope\", \"args\": []}", Some("cql2-json")).is_err());
    assert!(matches!(parse("a = 1", Some("sql")), Err(Error::InvalidParameter { name, .. }) if name == "filter-lang"));
    let deep = "(".repeat(200) + "a = 1" + &")".repeat(200);
    assert!(parse(&deep, None).is_err());
}

#[test]
fn integers_stay_exact_beyond_two_to_the_53() {
    assert_eq!(number_text("9007199254740993").unwrap(), "9007199254740993");
    assert_eq!(number_text("-9223372036854775808").unwrap(), "-9223372036854775808");
    assert_eq!(number_text("+7").unwrap(), "7");
    assert_eq!(number_text("1e5").unwrap(), "100000");
    assert_eq!(number_text("1.5").unwrap(), "1.5");
    assert!(number_text("1e999").is_err() && number_text("1.2.3").is_err() && number_text("-").is_err());
    let e = parse(r#"{"op": "=", "args": [{"property": "gid"}, 9007199254740993]}"#, Some("cql2-json")).unwrap();
    assert_eq!(e, Expr::Compare("=", prop("gid"), Operand::Num("9007199254740993".into())));
}

#[test]
fn arithmetic_functions_intervals_and_arrays_parse_alike_in_text_and_json() {
    for (text, json) in [
        (
            "pop_est / 1000 + 1 > -5",
            r#"{"op": ">", "args": [{"op": "+", "args": [{"op": "/", "args": [{"property": "pop_est"}, 1000]}, 1]}, -5]}"#,
        ),
        (
            "gid - 1 = 2 * 3",
            r#"{"op": "=", "args": [{"op": "-", "args": [{"property": "gid"}, 1]}, {"op": "*", "args": [2, 3]}]}"#,
        ),
        (
            "(gid + 1) div 2 = 3",
            r#"{"op": "=", "args": [{"op": "div", "args": [{"op": "+", "args": [{"property": "gid"}, 1]}, 2]}, 3]}"#,
        ),
        (
            "CASEI(name) = casei('FRANCE')",
            r#"{"op": "=", "args": [{"op": "casei", "args": [{"property": "name"}]}, {"op": "casei", "args": ["FRANCE"]}]}"#,
        ),
        (
            "T_DURING(t, INTERVAL('2020-01-01T00:00:00Z', '..'))",
            r#"{"op": "t_during", "args": [{"property": "t"}, {"interval": ["2020-01-01T00:00:00Z", ".."]}]}"#,
        ),
        ("A_CONTAINS(tags, ('a', 'b'))", r#"{"op": "a_contains", "args": [{"property": "tags"}, ["a", "b"]]}"#),
        ("5 < gid", r#"{"op": "<", "args": [5, {"property": "gid"}]}"#),
    ] {
        let t = parse(text, None).unwrap_or_else(|e| panic!("{text}: {e}"));
        let j = parse(json, Some("cql2-json")).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(t, j, "{text}");
    }
    assert_eq!(
        parse("a - 1 = 0", None).unwrap(),
        Expr::Compare(
            "=",
            Operand::Arith("-", Box::new(prop("a")), Box::new(Operand::Num("1".into()))),
            Operand::Num("0".into())
        )
    );
    assert_eq!(parse("a = -1", None).unwrap(), Expr::Compare("=", prop("a"), Operand::Num("-1".into())));
    // Products bind before sums.
    let Expr::Compare(_, Operand::Arith(op, _, _), _) = parse("a + b * c = 1", None).unwrap() else { panic!() };
    assert_eq!(op, "+");
}

#[test]
fn nested_parentheses_cannot_make_parsing_explode() {
    // Each parenthesis is tried as a condition, then as a value; nesting must not multiply
    // the tries (without the step budget a bad case would not end). Within the depth bound
    // the value parses, beyond it the filter is refused.
    let shallow = parse("(a + 1) > 2", None).unwrap();
    let deep = |n: usize| parse(&("(".repeat(n) + "a + 1" + &")".repeat(n) + " > 2"), None);
    assert_eq!(deep(30).unwrap(), shallow);
    let e = deep(500).unwrap_err().to_string();
    assert!(e.contains("too complex") || e.contains("nested too deeply"), "{e}");
}

#[test]
fn geojson_literals_are_geometries_postgis_can_compare() {
    let spatial = |g: &str| {
        parse(&format!(r#"{{"op": "s_intersects", "args": [{{"property": "geom"}}, {g}]}}"#), Some("cql2-json"))
    };
    for good in [
        r#"{"type": "Point", "coordinates": [1, 2]}"#,
        r#"{"type": "MultiPoint", "coordinates": [[1, 2], [3, 4, 5]]}"#,
        r#"{"type": "LineString", "coordinates": [[0, 0], [1, 1]]}"#,
        r#"{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}"#,
        r#"{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0.0, 0e0]]]}"#,
        r#"{"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]]]}"#,
        r#"{"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1, 2]}]}"#,
    ] {
        assert!(spatial(good).is_ok(), "{good}");
    }
    for bad in [
        r#"{"type": "Point", "coordinates": [1]}"#,
        r#"{"type": "Point", "coordinates": [1, "a"]}"#,
        r#"{"type": "LineString", "coordinates": [[0, 0]]}"#,
        r#"{"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}"#,
        r#"{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}"#,
        r#"{"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 1], [0, 0]]]]}"#,
        r#"{"type": "Polygon", "coordinates": 5}"#,
        r#"{"type": "Circle", "coordinates": [0, 0]}"#,
        r#"{"type": "GeometryCollection", "geometries": [{"type": "LineString", "coordinates": [[0, 0]]}]}"#,
    ] {
        assert!(matches!(spatial(bad), Err(crate::Error::InvalidParameter { .. })), "{bad}");
    }
}
