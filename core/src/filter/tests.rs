//! Validation errors and edge cases the conformance file does not cover.

use serde_json::{json, Value};

use super::{matches, Filter, FilterError};

fn check(pattern: Value, input: Value) -> bool {
    matches(&pattern, &input).unwrap_or_else(|e| panic!("{pattern} should parse: {e}"))
}

fn error(pattern: Value) -> FilterError {
    match Filter::parse(&pattern) {
        Ok(filter) => panic!("{pattern} should be rejected, got {filter:?}"),
        Err(e) => e,
    }
}

#[test]
fn each_invalid_form_names_its_path() {
    let cases = [
        (
            json!({"a": {"$foo": 1}}),
            "a.$foo",
            "unknown operator `$foo`",
        ),
        (json!({"$regex": "x"}), "$regex", "unknown operator"),
        (
            json!({"a": {"$in": {"x": 1}}}),
            "a.$in",
            "expected a string or a list of values",
        ),
        (
            json!({"a": {"$nin": {"x": 1}}}),
            "a.$nin",
            "expected a string or a list of values",
        ),
        (
            json!({"$or": {"a": 1}}),
            "$or",
            "expected a list of patterns",
        ),
        (
            json!({"a": {"$and": "x"}}),
            "a.$and",
            "expected a list of patterns",
        ),
        (
            json!({"items": {"$gt": {"a": 1}}}),
            "items.$gt",
            "expected a number or a string",
        ),
        (
            json!({"n": {"$lte": true}}),
            "n.$lte",
            "expected a number or a string",
        ),
        (
            json!({"n": {"$gte": null}}),
            "n.$gte",
            "expected a number or a string",
        ),
        (
            json!({"a": {"$exist": "yes"}}),
            "a.$exist",
            "expected true or false",
        ),
        (
            json!({"a": {"$ref": 3}}),
            "a.$ref",
            "expected a path string",
        ),
        (
            json!({"a": {"$ref": ["b"]}}),
            "a.$ref",
            "expected a path string",
        ),
        (
            json!({"a": {"$ref": "b[x]"}}),
            "a.$ref",
            "not a usable $ref path",
        ),
        (json!({"a": {"$ref": ""}}), "a.$ref", "the path is empty"),
        (
            json!({"a": {"$eq": {"$ref": 1}}}),
            "a.$eq.$ref",
            "expected a path string",
        ),
        (
            json!({"a": {"$gt": {"$ref": "b", "c": 1}}}),
            "a.$gt.$ref",
            "no other keys",
        ),
        (
            json!({"a": {"$startsWith": 1}}),
            "a.$startsWith",
            "a string or a list of strings",
        ),
        (
            json!({"a": {"$endsWith": ["x", 2]}}),
            "a.$endsWith[1]",
            "expected a string",
        ),
        (
            json!({"$or": [{"a": 1}, {"b": {"$not": {"c": {"$in": {}}}}}]}),
            "$or[1].b.$not.c.$in",
            "expected a string",
        ),
        (json!([1, {"$lt": false}]), "[1].$lt", "expected a number"),
    ];
    for (pattern, path, message) in cases {
        let e = error(pattern.clone());
        assert_eq!(e.path(), path, "{pattern}");
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("invalid filter at {path}: ")),
            "{pattern}: {text}"
        );
        assert!(text.contains(message), "{pattern}: {text}");
    }
}

#[test]
fn error_paths_can_be_placed_under_a_request_part() {
    let e = error(json!({"items": {"$gt": {}}})).within("body");
    assert_eq!(
        e.to_string(),
        "invalid filter at body.items.$gt: expected a number or a string"
    );
    assert_eq!(
        error(json!([{"$x": 1}])).within("body").path(),
        "body[0].$x"
    );
}

#[test]
fn overly_deep_patterns_are_refused_not_overflowed() {
    let mut pattern = json!(1);
    for _ in 0..100_000 {
        // Not `json!`, which serialises its arguments recursively.
        let mut map = serde_json::Map::new();
        map.insert("a".to_owned(), pattern);
        pattern = Value::Object(map);
    }
    assert!(matches!(
        Filter::parse(&pattern),
        Err(FilterError::TooDeep { .. })
    ));
    // serde_json drops deep values recursively; keep the test about the filter.
    std::mem::forget(pattern);
}

#[test]
fn deep_input_arrays_do_not_overflow() {
    let mut input = json!("x");
    for _ in 0..100_000 {
        input = Value::Array(vec![input]);
    }
    let filter = Filter::parse(&json!("x")).unwrap();
    assert!(!filter.matches(&input));
    std::mem::forget(input);
}

#[test]
fn hookdeck_tolerated_operands_parse_and_never_hold() {
    for pattern in [
        json!({"a": {"$ref": {"bad": "ref"}}}),
        json!({"a": {"$gt": [1, 2]}}),
        json!({"a": {"$eq": {"$ref": {"bad": "ref"}}}}),
        json!({"a": {"$neq": {"$ref": {"bad": "ref"}}}}),
    ] {
        assert!(!check(pattern.clone(), json!({"a": 1})), "{pattern}");
        assert!(check(json!({"$not": pattern}), json!({"a": 1})));
    }
}

#[test]
fn types_are_not_coerced() {
    assert!(!check(json!({"a": 1}), json!({"a": "1"})));
    assert!(!check(json!({"a": "1"}), json!({"a": 1})));
    assert!(!check(json!({"a": true}), json!({"a": 1})));
    assert!(!check(json!({"a": null}), json!({"a": false})));
    assert!(!check(json!({"a": {"$eq": "1"}}), json!({"a": 1})));
    assert!(!check(json!({"a": {"$gt": "5"}}), json!({"a": 10})));
    assert!(!check(json!({"a": {"$lt": 5}}), json!({"a": "1"})));
    assert!(!check(json!({"a": {"$in": [1, 2]}}), json!({"a": "1"})));
    // Numbers compare by value, whatever their representation.
    assert!(check(json!({"a": 1}), json!({"a": 1.0})));
    assert!(check(json!({"a": {"$gte": 1.5}}), json!({"a": 2})));
    // Large integers compare exactly, not through f64.
    assert!(check(
        json!({"a": {"$gt": 9_007_199_254_740_992_u64}}),
        json!({"a": 9_007_199_254_740_993_u64})
    ));
}

#[test]
fn exist_false_accepts_a_missing_key_only() {
    assert!(check(json!({"a": {"$exist": false}}), json!({})));
    assert!(check(json!({"a": {"$exist": false}}), json!({"b": 1})));
    assert!(!check(json!({"a": {"$exist": false}}), json!({"a": null})));
    assert!(check(json!({"a": {"$exist": true}}), json!({"a": null})));
    assert!(check(
        json!({"a": {"$exist": true}}),
        json!({"a": {"b": [1]}})
    ));
    assert!(!check(json!({"a": {"$exist": true}}), json!({})));
    // A branch of `$or` may accept the absence too.
    assert!(check(
        json!({"a": {"$or": [{"$exist": false}, 1]}}),
        json!({})
    ));
    assert!(check(
        json!({"a": {"$or": [{"$exist": false}, 1]}}),
        json!({"a": 1})
    ));
    assert!(!check(
        json!({"a": {"$or": [{"$exist": false}, 1]}}),
        json!({"a": 2})
    ));
    // A missing key has no value to negate or compare.
    assert!(!check(json!({"a": {"$not": 1}}), json!({})));
    assert!(!check(json!({"a": {"$neq": 1}}), json!({})));
    assert!(check(json!({"$not": {"a": 1}}), json!({})));
}

#[test]
fn nested_or_inside_arrays() {
    let input = json!({"items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 5}]});
    assert!(check(
        json!({"items": {"$or": [{"sku": "z"}, {"qty": {"$gt": 4}}]}}),
        input.clone()
    ));
    assert!(!check(
        json!({"items": {"$or": [{"sku": "z"}, {"qty": {"$gt": 9}}]}}),
        input.clone()
    ));
    // Fields of one object pattern must hold on the same element.
    assert!(check(
        json!({"items": {"sku": "b", "qty": 5}}),
        input.clone()
    ));
    assert!(!check(
        json!({"items": {"sku": "a", "qty": 5}}),
        input.clone()
    ));
    // `$or` as an element of an array pattern.
    assert!(check(
        json!({"items": [{"$or": [{"sku": "a"}, {"sku": "c"}]}, {"sku": "b"}]}),
        input.clone()
    ));
    assert!(!check(
        json!({"items": [{"$or": [{"sku": "c"}, {"sku": "d"}]}]}),
        input
    ));
}

#[test]
fn ref_with_index() {
    let input = json!({
        "variants": [
            {"updated_at": "2020-05-20", "created_at": "2020-04-20"},
            {"updated_at": "2020-04-20", "created_at": "2020-04-20"}
        ]
    });
    let same = json!({"variants": {"updated_at": {"$ref": "variants[$index].created_at"}}});
    assert!(check(same, input.clone()));
    let newer =
        json!({"variants": {"updated_at": {"$gt": {"$ref": "variants[$index].created_at"}}}});
    assert!(check(newer, input.clone()));
    let older =
        json!({"variants": {"updated_at": {"$lt": {"$ref": "variants[$index].created_at"}}}});
    assert!(!check(older, input));

    // `$index` of the array being matched when the `$ref` sits on the array itself.
    let pairs = json!({"a": [1, 2, 3], "b": [9, 2, 8]});
    assert!(check(json!({"a": {"$ref": "b[$index]"}}), pairs.clone()));
    assert!(!check(
        json!({"a": {"$ref": "b[$index]"}}),
        json!({"a": [1, 2], "b": [2, 1]})
    ));
    // Without an enclosing array, `$index` cannot be resolved and nothing matches.
    assert!(!check(
        json!({"x": {"$eq": {"$ref": "b[$index]"}}}),
        json!({"x": 9, "b": [9]})
    ));
    // A path that finds nothing compares as null, as in Hookdeck.
    assert!(check(json!({"x": {"$ref": "nope"}}), json!({"x": null})));
    assert!(check(
        json!({"x": {"$neq": {"$ref": "nope"}}}),
        json!({"x": 1})
    ));
}

#[test]
fn referenced_values_are_data_not_operators() {
    let input = json!({"limit": {"$gt": 0}, "value": 5, "tags": ["a", "b"], "want": ["b"]});
    assert!(!check(json!({"value": {"$ref": "limit"}}), input.clone()));
    assert!(check(json!({"limit": {"$ref": "limit"}}), input.clone()));
    // A referenced array is matched as "contains all".
    assert!(check(json!({"tags": {"$ref": "want"}}), input));
}

#[test]
fn operators_on_arrays() {
    let input = json!({"tags": ["x", "y"], "n": [1, 5]});
    assert!(check(json!({"tags": {"$eq": ["x", "y"]}}), input.clone()));
    assert!(!check(json!({"tags": {"$eq": ["y", "x"]}}), input.clone()));
    assert!(check(json!({"tags": {"$in": "x"}}), input.clone()));
    assert!(!check(json!({"tags": {"$in": "z"}}), input.clone()));
    assert!(check(json!({"tags": {"$nin": "z"}}), input.clone()));
    // Ordering and affixes are about one number or string, not a list.
    assert!(!check(json!({"n": {"$gt": 2}}), input.clone()));
    assert!(!check(json!({"tags": {"$startsWith": "x"}}), input.clone()));
    // `$and` applies to the whole array: it holds both values, not one holding both.
    assert!(check(json!({"tags": {"$and": ["x", "y"]}}), input.clone()));
    assert!(check(json!({"tags": {"$not": "z"}}), input.clone()));
    assert!(!check(json!({"tags": {"$not": "x"}}), input));
}

#[test]
fn deep_equality_ignores_key_order_and_number_form() {
    let input = json!({"a": {"x": 1, "y": [1.0, {"z": null}]}});
    assert!(check(
        json!({"a": {"$eq": {"y": [1, {"z": null}], "x": 1.0}}}),
        input.clone()
    ));
    assert!(!check(json!({"a": {"$eq": {"x": 1}}}), input.clone()));
    assert!(check(json!({"a": {"$neq": {"x": 1}}}), input));
}

#[test]
fn membership_and_affixes() {
    assert!(check(json!({"$in": ["a", "b"]}), json!("b")));
    assert!(!check(json!({"$nin": ["a", "b"]}), json!("b")));
    // Wrong types satisfy neither `$in` nor `$nin`.
    assert!(!check(json!({"$in": "1"}), json!(123)));
    assert!(!check(json!({"$nin": "1"}), json!(123)));
    assert!(!check(json!({"$nin": ["a"]}), json!({"a": 1})));
    assert!(check(
        json!({"$startsWith": ["/orders", "/refunds"]}),
        json!("/refunds/1")
    ));
    assert!(!check(
        json!({"$endsWith": {"$ref": "[1]"}}),
        json!(["report.csv", ".csv"])
    ));
    assert!(check(
        json!({"file": {"$endsWith": {"$ref": "ext"}}}),
        json!({"file": "report.csv", "ext": ".csv"})
    ));
    assert!(!check(json!({"$startsWith": []}), json!("x")));
}

#[test]
fn strings_order_like_javascript() {
    // U+FF61 sorts after U+1F600 in UTF-16 (a surrogate pair starts with 0xD83D).
    assert!(check(json!({"$gt": "\u{1F600}"}), json!("\u{FF61}")));
    assert!(check(json!({"$lt": "b"}), json!("a")));
}

#[test]
fn top_level_shapes() {
    assert!(check(json!("/orders"), json!("/orders")));
    assert!(!check(json!("/orders"), json!("/orders/1")));
    assert!(check(json!({"$startsWith": "/orders"}), json!("/orders/1")));
    assert!(check(json!(null), json!(null)));
    assert!(check(json!({}), json!({"a": 1})));
    assert!(!check(json!({}), json!("a")));
    assert!(check(json!([]), json!([])));
    assert!(!check(json!([]), json!({})));
    assert!(check(json!({"$exist": true}), json!({"a": 1})));
    assert!(!check(json!({"$or": []}), json!(1)));
    assert!(check(json!({"$and": []}), json!(1)));
}

#[test]
fn filter_keeps_and_round_trips_its_pattern() {
    let pattern = json!({"type": {"$in": ["a", "b"]}, "$not": {"test": true}});
    let filter = Filter::parse(&pattern).unwrap();
    assert_eq!(filter.pattern(), &pattern);
    assert_eq!(serde_json::to_value(&filter).unwrap(), pattern);
    let back: Filter = serde_json::from_value(pattern.clone()).unwrap();
    assert_eq!(back.pattern(), &pattern);
    assert!(serde_json::from_value::<Filter>(json!({"$or": 1})).is_err());
    let clone = filter.clone();
    assert!(clone.matches(&json!({"type": "a"})));
    assert!(format!("{filter:?}").contains("pattern"));
}
