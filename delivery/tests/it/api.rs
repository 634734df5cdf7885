//! The management API and the ingest edge answer bad input with a status and a
//! message that says what to fix.

use crate::common;

use axum::http::Method;
use common::gateway::{Gateway, Receiver};
use serde_json::{json, Value};

async fn status_of(gw: &Gateway, method: Method, path: &str, body: Option<Value>) -> (u16, String) {
    let (s, v) = gw.call(method, path, body).await;
    (
        s.as_u16(),
        v["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn the_api_needs_the_key() {
    let gw = Gateway::start().await;
    let r = gw
        .client
        .get(format!("{}/sources", gw.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = gw
        .client
        .get(format!("{}/sources", gw.api))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Hookdeck's basic-auth form: the key as user name.
    let r = gw
        .client
        .get(format!("{}/sources", gw.api))
        .basic_auth(common::gateway::KEY, Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    gw.stop().await;
}

#[tokio::test]
async fn invalid_input_is_refused_with_the_field_named() {
    let gw = Gateway::start().await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"name": "has space"}), 422, "name must be"),
        (
            json!({"name": "ok", "colour": 1}),
            422,
            "unknown field `colour`",
        ),
        (
            json!({"name": "ok", "allowed_http_methods": ["FETCH"]}),
            422,
            "allowed_http_methods must be one of",
        ),
        (
            json!({"name": "ok", "custom_response": {"content_type": "yaml", "body": "x"}}),
            422,
            "custom_response.content_type",
        ),
        (json!({"description": "no name"}), 422, "name is required"),
    ];
    for (body, status, msg) in cases {
        let (s, m) = status_of(&gw, Method::POST, "/sources", Some(body.clone())).await;
        assert_eq!(s, status, "{body}: {m}");
        assert!(m.contains(msg), "{body}: expected {msg:?} in {m:?}");
    }
    let r = gw
        .client
        .post(format!("{}/sources", gw.api))
        .bearer_auth(common::gateway::KEY)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    gw.post("/sources", json!({"name": "taken"})).await;
    let (s, m) = status_of(
        &gw,
        Method::POST,
        "/sources",
        Some(json!({"name": "taken"})),
    )
    .await;
    assert_eq!(
        (s, m.as_str()),
        (422, "a source with this name already exists")
    );

    let (s, m) = status_of(
        &gw,
        Method::POST,
        "/destinations",
        Some(json!({"name": "d", "url": "ftp://x"})),
    )
    .await;
    assert_eq!(s, 422);
    assert!(m.starts_with("url must be an http"), "{m}");
    let (s, m) = status_of(
        &gw,
        Method::POST,
        "/destinations",
        Some(json!({"name": "d"})),
    )
    .await;
    assert_eq!(s, 422);
    assert!(m.starts_with("url is required"), "{m}");
    let (s, m) = status_of(
        &gw,
        Method::POST,
        "/destinations",
        Some(json!({"name": "d", "url": "http://x", "auth_method": {"type": "BEARER_TOKEN", "config": {}}})),
    )
    .await;
    assert_eq!(s, 422);
    assert!(m.contains("auth_method") && m.contains("token"), "{m}");
    gw.stop().await;
}

#[tokio::test]
async fn a_connection_with_an_invalid_filter_or_rule_is_refused() {
    let gw = Gateway::start().await;
    let base = |rules: Value| json!({"source": {"name": "s"}, "destination": {"name": "d", "url": "http://127.0.0.1:9"}, "rules": rules});
    let cases = [
        (
            json!([{"type": "filter", "body": {"amount": {"$gt": {"x": 1}}}}]),
            "rules[0]: filter on body",
        ),
        (
            json!([{"type": "retry", "strategy": "linear"}, {"type": "filter", "headers": {"$or": 3}}]),
            "rules[1]: filter on headers",
        ),
        (
            json!([{"type": "retry", "strategy": "sometimes"}]),
            "rules[0]",
        ),
        (
            json!([{"type": "retry", "strategy": "linear", "response_status_codes": ["abc"]}]),
            "invalid status code expression",
        ),
        (
            json!([{"type": "delay", "delay": -1}]),
            "delay must be between",
        ),
        (json!([{"type": "explode"}]), "rules[0]"),
    ];
    for (rules, msg) in cases {
        let (s, m) = status_of(&gw, Method::POST, "/connections", Some(base(rules.clone()))).await;
        assert_eq!(s, 422, "{rules}: {m}");
        assert!(m.contains(msg), "{rules}: expected {msg:?} in {m:?}");
    }
    // Nothing was half-created by the refused connections.
    assert_eq!(gw.get("/sources").await["count"], 0);
    let (s, m) = status_of(
        &gw,
        Method::POST,
        "/connections",
        Some(json!({"source_id": "src_nope", "destination": {"name": "d", "url": "http://x"}})),
    )
    .await;
    assert_eq!(s, 422);
    assert!(m.contains("source_id \"src_nope\" does not exist"), "{m}");
    gw.stop().await;
}

#[tokio::test]
async fn lists_paginate_with_cursors() {
    let gw = Gateway::start().await;
    for i in 0..5 {
        gw.post("/sources", json!({"name": format!("s{i}")})).await;
    }
    let p1 = gw.get("/sources?limit=2").await;
    assert_eq!(p1["count"], 5);
    let names = |p: &Value| -> Vec<String> {
        p["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&p1), ["s4", "s3"]);
    let p2 = gw
        .get(&format!(
            "/sources?limit=2&next={}",
            p1["pagination"]["next"].as_str().unwrap()
        ))
        .await;
    assert_eq!(names(&p2), ["s2", "s1"]);
    let p3 = gw
        .get(&format!(
            "/sources?limit=2&next={}",
            p2["pagination"]["next"].as_str().unwrap()
        ))
        .await;
    assert_eq!(names(&p3), ["s0"]);
    assert!(p3["pagination"]["next"].is_null());
    let back = gw
        .get(&format!(
            "/sources?limit=2&prev={}",
            p3["pagination"]["prev"].as_str().unwrap()
        ))
        .await;
    assert_eq!(names(&back), ["s2", "s1"]);
    let (s, m) = status_of(&gw, Method::GET, "/sources?limit=1000", None).await;
    assert_eq!((s, m.as_str()), (422, "limit must be between 1 and 250"));
    let (s, m) = status_of(&gw, Method::GET, "/sources?limit=abc", None).await;
    assert_eq!(s, 422);
    assert!(
        m.starts_with("invalid query string") && m.contains("limit"),
        "{m}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn ingest_refuses_what_it_cannot_take_and_stores_none_of_it() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    gw.post(
        "/connections",
        json!({"source": {"name": "small", "max_body_bytes": 16, "allowed_http_methods": ["POST"]},
               "destination": {"name": "d", "url": rx.url}}),
    )
    .await;

    let (s, body) = gw.send("unknown-source", "{}").await;
    assert_eq!(s, 404);
    assert!(body.contains("no source named"), "{body}");

    let (s, body) = gw.send("small", "x".repeat(17)).await;
    assert_eq!(s, 413);
    assert!(body.contains("16 bytes"), "{body}");
    assert_eq!(
        gw.get("/requests").await["count"],
        0,
        "an oversize body is not stored"
    );

    let r = gw
        .client
        .put(format!("{}/e/small", gw.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);

    let src = gw.get("/sources?name=small").await["models"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    gw.put(&format!("/sources/{src}/disable"), json!({})).await;
    let (s, body) = gw.send("small", "{}").await;
    assert_eq!(s, 403, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "REJECTED");
    assert_eq!(body["message"], "source \"small\" is disabled");

    // As at the edge Worker: what is refused is not stored, the sender keeps it.
    assert_eq!(
        gw.get("/requests").await["count"],
        0,
        "nothing refused is stored"
    );
    assert_eq!(gw.get("/requests?status=rejected").await["count"], 0);
    gw.put(&format!("/sources/{src}/enable"), json!({})).await;
    let (s, _) = gw.send("small", "{}").await;
    assert_eq!(s, 200);
    rx.wait_for(1).await;
    assert_eq!(
        rx.received().len(),
        1,
        "refused requests are never delivered"
    );
    assert_eq!(gw.get("/requests").await["count"], 1);
    gw.stop().await;
}

#[tokio::test]
async fn the_disabled_source_status_is_configurable_and_custom_responses_are_sent() {
    let gw = Gateway::start_with(|c| c.ingest.disabled_source_status = 200).await;
    gw.post("/sources", json!({"name": "off"})).await;
    gw.post(
        "/sources",
        json!({"name": "custom", "custom_response": {"content_type": "xml", "body": "<ok/>"}}),
    )
    .await;
    let id = gw.get("/sources?name=off").await["models"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    gw.put(&format!("/sources/{id}/disable"), json!({})).await;
    assert_eq!(gw.send("off", "{}").await.0, 200);
    let r = gw
        .client
        .post(format!("{}/e/custom", gw.base))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/xml");
    assert!(r.headers().contains_key("x-hookyard-request-id"));
    assert_eq!(r.text().await.unwrap(), "<ok/>");
    gw.stop().await;
}

#[tokio::test]
async fn binary_bodies_are_kept_and_delivered_byte_exact() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    gw.post(
        "/connections",
        json!({"source": {"name": "bin"}, "destination": {"name": "d", "url": rx.url}}),
    )
    .await;
    let body: Vec<u8> = vec![0x1f, 0x8b, 0x00, 0xff, 0xfe, b'\n', 0x80];
    let (s, ack) = gw.send("bin", body.clone()).await;
    assert_eq!(s, 200);
    let id = serde_json::from_str::<Value>(&ack).unwrap()["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let raw = gw.get(&format!("/requests/{id}/raw_body")).await;
    assert_eq!(raw["encoding"], "base64");
    use base64::Engine as _;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(raw["body"].as_str().unwrap())
            .unwrap(),
        body
    );
    let got = rx.wait_for(1).await;
    assert_eq!(&got[0].body[..], &body[..]);
    let event = gw.wait_event("", "SUCCESSFUL").await;
    let raw = gw
        .get(&format!(
            "/events/{}/raw_body",
            event["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(raw["encoding"], "base64");
    gw.stop().await;
}

#[tokio::test]
async fn unknown_ids_are_404_and_the_openapi_document_is_served() {
    let gw = Gateway::start().await;
    for path in [
        "/sources/src_x",
        "/destinations/des_x",
        "/connections/web_x",
        "/requests/req_x",
        "/events/evt_x",
        "/attempts/atm_x",
    ] {
        let (s, m) = status_of(&gw, Method::GET, path, None).await;
        assert_eq!(s, 404, "{path}");
        assert!(m.ends_with("not found"), "{path}: {m}");
    }
    let (s, _) = status_of(&gw, Method::POST, "/events/evt_x/retry", None).await;
    assert_eq!(s, 404);
    let doc: Value = gw
        .client
        .get(format!("{}/openapi.json", gw.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/connections"]["post"].is_object());
    assert!(doc["paths"]["/events/{id}/retry"]["post"].is_object());
    assert!(doc["components"]["schemas"]["ConnectionOut"].is_object());
    // Every operation served is documented, Hookdeck's aliases and issue 12's included.
    for (method, path) in [
        ("put", "/sources/{id}/archive"),
        ("put", "/connections/{id}/unarchive"),
        ("put", "/destinations/{id}/archive"),
        ("put", "/events/{id}/mute"),
        ("delete", "/transformations/{id}"),
        ("get", "/bookmarks"),
        ("post", "/bookmarks/{id}/trigger"),
        ("get", "/bookmarks/{id}/raw_body"),
        ("post", "/bulk/requests/retry"),
        ("get", "/bulk/ignored-events/retry/plan"),
        ("get", "/connections/count"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} undocumented"
        );
    }
    // …with every list parameter, so a client generated from it can filter.
    let params = |path: &str| -> Vec<String> {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let events = params("/events");
    for name in [
        "id",
        "status",
        "webhook_id",
        "source_id",
        "destination_id",
        "attempts",
        "response_status",
        "successful_at",
        "created_at",
        "error_code",
        "last_attempt_at",
        "search_term",
        "headers",
        "body",
        "parsed_query",
        "path",
        "issue_id",
        "include",
        "order_by",
        "dir",
        "limit",
        "next",
        "prev",
    ] {
        assert!(
            events.contains(&name.to_owned()),
            "GET /events documents no {name}: {events:?}"
        );
    }
    let requests = params("/requests");
    for name in [
        "ingested_at",
        "events_count",
        "ignored_count",
        "verified",
        "rejection_cause",
        "search_term",
    ] {
        assert!(
            requests.contains(&name.to_owned()),
            "GET /requests documents no {name}"
        );
    }
    let issues = params("/issues");
    for name in [
        "created_at",
        "first_seen_at",
        "last_seen_at",
        "dismissed_at",
        "type",
        "status",
    ] {
        assert!(
            issues.contains(&name.to_owned()),
            "GET /issues documents no {name}"
        );
    }
    gw.stop().await;
}

#[tokio::test]
async fn upserts_create_then_update_by_name() {
    let gw = Gateway::start().await;
    let a = gw
        .put("/sources", json!({"name": "up", "description": "one"}))
        .await;
    let b = gw
        .put("/sources", json!({"name": "up", "description": "two"}))
        .await;
    assert_eq!(a["id"], b["id"]);
    assert_eq!(b["description"], "two");
    let c1 = gw.put("/connections", json!({"name": "c", "source": {"name": "up"}, "destination": {"name": "d", "url": "http://127.0.0.1:9"}})).await;
    let c2 = gw.put("/connections", json!({"name": "c", "source": {"name": "up"}, "destination": {"name": "d", "url": "http://127.0.0.1:9"}, "rules": [{"type": "delay", "delay": 10}]})).await;
    assert_eq!(c1["id"], c2["id"]);
    assert_eq!(c2["rules"][0]["delay"], 10);
    assert_eq!(gw.get("/connections").await["count"], 1);
    let del = gw
        .call(
            Method::DELETE,
            &format!("/sources/{}", a["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(del.0, 200);
    assert_eq!(
        gw.get("/connections").await["count"],
        0,
        "deleting a source deletes its connections"
    );
    gw.stop().await;
}

#[tokio::test]
async fn ingest_waits_for_room_rather_than_holding_unbounded_bodies() {
    // Room for one 1.5 KB body at a time: concurrent requests take turns, and
    // every one is stored.
    let gw = Gateway::start_with(|c| c.ingest.max_inflight_bytes = 2048).await;
    gw.post("/sources", json!({"name": "tight"})).await;
    let body = "x".repeat(1500);
    let sends = (0..20).map(|_| gw.send("tight", body.clone()));
    let statuses: Vec<u16> = futures::future::join_all(sends)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(gw.get("/requests").await["count"], 20);
    gw.stop().await;
}

#[tokio::test]
async fn a_list_parameter_hookyard_does_not_know_is_refused_not_ignored() {
    let gw = Gateway::start().await;
    let conn = gw
        .post(
            "/connections",
            json!({"name": "c", "source": {"name": "s"}, "destination": {"name": "d", "url": "http://127.0.0.1:9/"}}),
        )
        .await;
    let req = gw.send("s", "{}").await;
    assert_eq!(req.0, 200, "{}", req.1);
    let request_id = gw.get("/requests").await["models"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = [
        "/attempts?response_status=500",
        "/events?cli_id=x",
        "/requests?cli_id=x",
        "/issues?merged_with=iss_x",
        "/issues/count?foo=1",
        "/sources?search_term=x",
        "/destinations?search_term=x",
        "/connections?full_name=x",
        "/transformations?search_term=x",
        "/bulk/events/retry?query_partial_match=true",
        "/bulk/events/retry/plan?query=%7B%7D&extra=1",
        // Not among Hookdeck's parameters of this list.
        "/issue-triggers?channels=email",
        "/issue-triggers?disabled_at%5Bgte%5D=2026-01-01",
        &format!("/requests/{request_id}/ignored_events?limit=1"),
        &format!("/transformations/{}/executions?created_at=1", "trs_x"),
    ];
    for path in refused {
        let (status, body) = status_of(&gw, Method::GET, path, None).await;
        assert_eq!(status, 422, "{path}: {body}");
        assert!(body.contains("unknown query parameter"), "{path}: {body}");
        let name = path
            .split(['?', '&'])
            .nth(1)
            .unwrap()
            .split('=')
            .next()
            .unwrap();
        let decoded = name.replace("%5B", "[").replace("%5D", "]");
        assert!(
            body.contains(&format!("`{decoded}`")) || path.contains('&'),
            "{path}: {body}"
        );
    }
    // What each list documents still works, paging included.
    for path in [
        "/events?status=SCHEDULED&limit=5&dir=asc&order_by=created_at",
        &format!("/events?webhook_id={}", conn["id"].as_str().unwrap()),
        "/requests?status=accepted&limit=5",
        "/issues?type=delivery&status=OPENED",
        "/sources?name=s",
        "/bulk/events/retry/plan?query=%7B%7D",
        "/issue-triggers",
        "/issue-triggers?type=delivery&disabled_at%5Bany%5D=false&limit=10&dir=asc",
    ] {
        let (status, body) = status_of(&gw, Method::GET, path, None).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    gw.stop().await;
}

async fn connections_are_counted_with_the_list_filters(gw: Gateway) {
    for (name, source, paused) in [("a", "s1", false), ("b", "s1", true), ("c", "s2", false)] {
        let c = gw
            .post(
                "/connections",
                json!({"name": name, "source": {"name": source},
                       "destination": {"name": format!("d-{name}"), "url": "http://127.0.0.1:9/"}}),
            )
            .await;
        if paused {
            gw.put(
                &format!("/connections/{}/pause", c["id"].as_str().unwrap()),
                json!({}),
            )
            .await;
        }
    }
    let s1 = gw.get("/sources?name=s1").await["models"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (query, n) in [
        (String::new(), 3),
        (format!("?source_id={s1}"), 2),
        (format!("?source_id={s1}&paused=true"), 1),
        ("?paused=false".to_owned(), 2),
        ("?name=c".to_owned(), 1),
    ] {
        let got = gw.get(&format!("/connections/count{query}")).await;
        assert_eq!(got["count"], n, "/connections/count{query}: {got}");
    }
    let (status, body) = status_of(&gw, Method::GET, "/connections/count?limit=1", None).await;
    assert_eq!(status, 422, "{body}");
    gw.stop().await;
}

#[tokio::test]
async fn sqlite_connections_are_counted_with_the_list_filters() {
    connections_are_counted_with_the_list_filters(Gateway::start().await).await;
}

#[tokio::test]
async fn postgres_connections_are_counted_with_the_list_filters() {
    let Some(gw) = Gateway::start_postgres().await else {
        return;
    };
    connections_are_counted_with_the_list_filters(gw).await;
}
