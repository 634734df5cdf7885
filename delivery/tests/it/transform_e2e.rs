//! Transformations through the whole gateway: uploaded through the API, attached
//! to connections, run while routing; hostile ones fail their own events while
//! every other event keeps being delivered; the test console and the CLI.

use crate::common;

use axum::http::{Method, StatusCode};
use common::gateway::{eventually, Gateway, Receiver};
use common::wasm::{b64, code, component};
use serde_json::{json, Value};

async fn upload(gw: &Gateway, name: &str, module: &str, extra: Value) -> String {
    let mut body = json!({"name": name, "code": code(module)});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let t = gw.post("/transformations", body).await;
    t["id"].as_str().expect("transformation id").to_owned()
}

async fn connect(gw: &Gateway, name: &str, source: &str, url: &str, rules: Value) -> Value {
    gw.post(
        "/connections",
        json!({
            "name": name,
            "source": {"name": source},
            "destination": {"name": format!("{name}-dest"), "url": url},
            "rules": rules,
        }),
    )
    .await
}

async fn executions(gw: &Gateway, transformation: &str, query: &str) -> Vec<Value> {
    gw.get(&format!(
        "/transformations/{transformation}/executions?{query}"
    ))
    .await["models"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn delivers_the_transformed_request(gw: Gateway) {
    let rx = Receiver::start().await;
    let t = upload(
        &gw,
        "strip",
        "strip_fields",
        json!({"env": {"FIELDS": "password"}}),
    )
    .await;
    let conn = connect(
        &gw,
        "shop",
        "shop",
        &rx.url,
        json!([{"type": "transform", "transformation_id": t}]),
    )
    .await;
    assert_eq!(conn["rules"][0]["transformation_id"], t.as_str());
    let (status, _) = gw
        .send("shop", r#"{"user":"ann","password":"hunter2"}"#)
        .await;
    assert_eq!(status, 200);
    let got = rx.wait_for(1).await;
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body, json!({"user": "ann"}));
    let event = gw.wait_event("", "SUCCESSFUL").await;
    // The stored request is unchanged; the event delivered the transformed one.
    let raw = gw
        .get(&format!(
            "/requests/{}",
            event["request_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(raw["data"]["body"]["password"], "hunter2", "{raw}");
    // The event's data is what it delivered.
    let shown = gw
        .get(&format!("/events/{}", event["id"].as_str().unwrap()))
        .await;
    assert_eq!(shown["data"]["body"], json!({"user": "ann"}), "{shown}");
    let ex = executions(&gw, &t, "").await;
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0]["event_id"], event["id"]);
    assert_eq!(ex[0]["log_level"], "info");
    assert_eq!(ex[0]["logs"][0]["message"], "stripped password");
    gw.stop().await;
}

#[tokio::test]
async fn a_transform_rule_delivers_the_transformed_request_sqlite() {
    delivers_the_transformed_request(Gateway::start().await).await;
}

#[tokio::test]
async fn a_transform_rule_delivers_the_transformed_request_postgres() {
    if let Some(gw) = Gateway::start_postgres().await {
        delivers_the_transformed_request(gw).await;
    }
}

#[tokio::test]
async fn a_filter_before_the_transform_sees_the_original_and_after_it_the_result() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    let t = upload(&gw, "route", "route_by_header", json!({})).await;
    let transform = json!({"type": "transform", "transformation_id": t});
    let on_path = json!({"type": "filter", "path": "/order/created"});
    let before = connect(
        &gw,
        "before",
        "types",
        &format!("{}/b", rx.url),
        json!([on_path, transform]),
    )
    .await;
    let after = connect(
        &gw,
        "after",
        "types",
        &format!("{}/a", rx.url),
        json!([transform, on_path]),
    )
    .await;
    let resp = gw
        .client
        .post(format!("{}/e/types", gw.base))
        .header("x-event-type", "order.created")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].uri, "/a/order/created");
    let ack: Value =
        serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or_default();
    let _ = ack;
    let ignored = eventually("the request's ignored event", || async {
        let reqs = gw.get("/requests").await;
        let id = reqs["models"][0]["id"].as_str()?.to_owned();
        let ign = gw.get(&format!("/requests/{id}/ignored_events")).await;
        ign["models"].as_array().filter(|m| !m.is_empty()).cloned()
    })
    .await;
    assert_eq!(ignored[0]["webhook_id"], before["id"]);
    assert_eq!(ignored[0]["cause"], "FILTERED");
    assert_eq!(after["rules"][0]["type"], "transform");
    gw.stop().await;
}

#[tokio::test]
async fn hostile_transformations_fail_their_own_events_and_everything_else_is_delivered() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    let cases = [
        ("loop_forever", json!({"timeout_ms": 200}), "deadline"),
        (
            "memory_bomb",
            json!({"memory_limit_bytes": 16 << 20}),
            "memory cap",
        ),
        ("deep_recursion", json!({}), "trapped"),
        ("panics", json!({}), "customer record is missing its id"),
        ("huge_output", json!({}), "more than the"),
    ];
    let mut hostile = Vec::new();
    for (module, extra, _) in &cases {
        let t = upload(&gw, module, module, extra.clone()).await;
        // Each hostile source also has a plain connection, delivered regardless.
        connect(
            &gw,
            &format!("{module}-t"),
            module,
            &format!("{}/t/{module}", rx.url),
            json!([{"type": "transform", "transformation_id": t}]),
        )
        .await;
        connect(
            &gw,
            &format!("{module}-plain"),
            module,
            &format!("{}/plain/{module}", rx.url),
            json!([]),
        )
        .await;
        hostile.push(t);
    }
    let good = upload(&gw, "good", "rewrite_json", json!({})).await;
    connect(
        &gw,
        "good",
        "good",
        &format!("{}/good", rx.url),
        json!([{"type": "transform", "transformation_id": good}]),
    )
    .await;
    for (module, _, _) in &cases {
        assert_eq!(gw.send(module, r#"{"email":"x@y"}"#).await.0, 200);
    }
    for _ in 0..3 {
        assert_eq!(gw.send("good", r#"{"email":"x@y"}"#).await.0, 200);
    }
    // 5 plain + 3 transformed deliveries, and nothing from the hostile ones.
    let got = rx.wait_for(8).await;
    let goods: Vec<_> = got.iter().filter(|r| r.uri == "/good").collect();
    assert_eq!(goods.len(), 3);
    let v: Value = serde_json::from_slice(&goods[0].body).unwrap();
    assert_eq!(v["contact"], "x@y");
    assert!(
        got.iter().all(|r| !r.uri.starts_with("/t/")),
        "a hostile event was delivered"
    );

    for ((module, _, wanted), t) in cases.iter().zip(&hostile) {
        let conn = gw.get(&format!("/connections?name={module}-t")).await;
        let conn_id = conn["models"][0]["id"].as_str().unwrap().to_owned();
        let event = gw
            .wait_event(&format!("webhook_id={conn_id}"), "FAILED")
            .await;
        assert_eq!(
            event["error_code"], "TRANSFORMATION_FAILED",
            "{module}: {event}"
        );
        let ex = executions(&gw, t, "log_level=error").await;
        assert_eq!(ex.len(), 1, "{module}");
        assert_eq!(ex[0]["event_id"], event["id"]);
        let error = ex[0]["error"].as_str().unwrap_or_default();
        assert!(error.contains(wanted), "{module}: {error}");
        // Grouped into a transformation issue of that connection.
        let issues = gw
            .get(&format!("/issues?type=transformation&webhook_id={conn_id}"))
            .await;
        assert_eq!(issues["count"], 1, "{module}: {issues}");
        assert_eq!(issues["models"][0]["reference"]["event_id"], event["id"]);
        // A manual retry would send the untransformed request: refused.
        let (s, v) = gw
            .call(
                axum::http::Method::POST,
                &format!("/events/{}/retry", event["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(s, axum::http::StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert!(v["message"].as_str().unwrap().contains("/requests/"), "{v}");
    }
    gw.stop().await;
}

/// Transformations that block inside a host call (a 30 s sleep) hold a routing
/// worker only until their deadline: with two workers and more sleepers than
/// workers, another connection's request is still delivered long before any
/// sleeper would wake, and each sleeper's event fails with the deadline.
#[tokio::test]
async fn transformations_blocked_in_the_host_fail_at_their_deadline_and_routing_goes_on() {
    let gw = Gateway::start_with(|c| {
        c.transformations.workers = 2;
        c.transformations.timeout_ms = 1_000;
    })
    .await;
    let rx = Receiver::start().await;
    let sleeper = upload(&gw, "sleeper", "sleeps", json!({})).await;
    let sleepy = connect(
        &gw,
        "sleepy",
        "sleepy",
        &format!("{}/sleepy", rx.url),
        json!([{"type": "transform", "transformation_id": sleeper}]),
    )
    .await;
    let good = upload(&gw, "good", "rewrite_json", json!({})).await;
    connect(
        &gw,
        "good",
        "good",
        &format!("{}/good", rx.url),
        json!([{"type": "transform", "transformation_id": good}]),
    )
    .await;
    const SLEEPERS: usize = 4;
    for _ in 0..SLEEPERS {
        assert_eq!(gw.send("sleepy", r#"{"email":"x@y"}"#).await.0, 200);
    }
    let sent = std::time::Instant::now();
    assert_eq!(gw.send("good", r#"{"email":"x@y"}"#).await.0, 200);
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].uri, "/good");
    // The sleepers would wake after 30 s; the good one must not wait for that.
    let waited = got[0].at.duration_since(sent);
    assert!(
        waited < std::time::Duration::from_secs(15),
        "delivered after {waited:?}"
    );

    let conn_id = sleepy["id"].as_str().unwrap().to_owned();
    let failed = eventually("every sleeper's event FAILED", || async {
        let v = gw.get(&format!("/events?webhook_id={conn_id}")).await;
        let events = v["models"].as_array().cloned().unwrap_or_default();
        (events.len() == SLEEPERS && events.iter().all(|e| e["status"] == "FAILED"))
            .then_some(events)
    })
    .await;
    for e in &failed {
        assert_eq!(e["error_code"], "TRANSFORMATION_FAILED", "{e}");
    }
    let ex = executions(&gw, &sleeper, "log_level=error").await;
    assert_eq!(ex.len(), SLEEPERS, "{ex:?}");
    for x in &ex {
        let error = x["error"].as_str().unwrap_or_default();
        assert!(error.contains("deadline of 1000 ms"), "{error}");
    }
    assert!(
        rx.received().iter().all(|r| r.uri != "/sleepy"),
        "a sleeper's event was delivered"
    );
    gw.stop().await;
}

#[tokio::test]
async fn unacceptable_modules_are_refused_at_upload_with_what_to_fix() {
    let gw = Gateway::start().await;
    let cases: Vec<(String, &str)> = vec![
        ("not base64!".into(), "base64"),
        (b64(b"plain text"), "not a WebAssembly binary"),
        (
            b64(&wat::parse_str("(module)").unwrap()),
            "core WebAssembly module, not a component",
        ),
        (
            b64(&wat::parse_str("(component)").unwrap()),
            "does not implement the hookyard:transform/transformation world",
        ),
        (code("opens_socket"), "wasi:sockets"),
        (code("reads_file"), "wasi:filesystem"),
    ];
    for (i, (code, wanted)) in cases.iter().enumerate() {
        let (status, body) = gw
            .call(
                Method::POST,
                "/transformations",
                Some(json!({"name": format!("t{i}"), "code": code})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{wanted}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("code"), "{message}");
        assert!(message.contains(wanted), "{wanted}: {message}");
    }
    let (status, body) = gw
        .call(Method::POST, "/connections", Some(json!({
            "name": "c", "source": {"name": "s"}, "destination": {"name": "d", "url": "http://127.0.0.1:9"},
            "rules": [{"type": "transform", "transformation_id": "trs_missing"}]})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["message"].as_str().unwrap().contains("trs_missing"));
    gw.stop().await;
}

#[tokio::test]
async fn transformations_are_created_listed_updated_and_inline_rules_are_stored() {
    let gw = Gateway::start().await;
    let created = gw
        .post(
            "/transformations",
            json!({"name": "strip", "code": code("strip_fields"), "env": {"FIELDS": "a"}}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("trs_"));
    assert!(created["module_hash"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(created["code"], code("strip_fields"));
    let listed = gw.get("/transformations?name=strip").await;
    assert_eq!(listed["count"], 1);
    // Hookdeck's Transformation always carries its code, listed or not.
    assert_eq!(listed["models"][0]["code"], code("strip_fields"));
    let updated = gw
        .put(
            &format!("/transformations/{id}"),
            json!({"code": code("identity"), "timeout_ms": 50}),
        )
        .await;
    assert_ne!(updated["module_hash"], created["module_hash"]);
    assert_eq!(updated["env"]["FIELDS"], "a");
    assert_eq!(updated["timeout_ms"], 50);
    let (status, _) = gw
        .call(Method::GET, "/transformations/trs_nope", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let conn = gw
        .post("/connections", json!({
            "name": "inline", "source": {"name": "in"}, "destination": {"name": "d", "url": "http://127.0.0.1:9"},
            "rules": [{"type": "transform", "transformation": {"name": "inline-t", "code": code("identity")}}]}))
        .await;
    let tid = conn["rules"][0]["transformation_id"]
        .as_str()
        .expect("rewritten to an id");
    let t = gw.get(&format!("/transformations/{tid}")).await;
    assert_eq!(t["name"], "inline-t");
    gw.stop().await;
}

#[tokio::test]
async fn the_test_console_runs_on_a_given_or_stored_request() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    connect(&gw, "plain", "plain", &rx.url, json!([])).await;
    assert_eq!(
        gw.send("plain", r#"{"password":"p","keep":1}"#).await.0,
        200
    );
    let request_id = eventually("the stored request", || async {
        gw.get("/requests").await["models"][0]["id"]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    let t = upload(&gw, "strip", "strip_fields", json!({})).await;

    let out = gw
        .put(
            "/transformations/run",
            json!({"transformation_id": t, "request_id": request_id}),
        )
        .await;
    assert_eq!(out["request"]["body"], json!({"keep": 1}));
    assert_eq!(out["input"]["body"]["password"], "p");
    assert_eq!(
        out["logs"][0]["message"],
        "stripped password,ssn,card_number"
    );
    assert!(out["duration_ms"].as_f64().unwrap() > 0.0);
    let execution_id = out["execution_id"].as_str().unwrap();
    let one = gw
        .get(&format!("/transformations/{t}/executions/{execution_id}"))
        .await;
    assert_eq!(one["request_id"], request_id.as_str());

    let inline = gw
        .put(
            "/transformations/run",
            json!({
            "code": code("panics"),
            "request": {"headers": {"x": "1"}, "body": {"a": 1}, "path": "/p"}}),
        )
        .await;
    assert!(inline["request"].is_null());
    assert_eq!(inline["log_level"], "error");
    assert!(inline["error"]
        .as_str()
        .unwrap()
        .contains("customer record is missing its id"));
    assert_eq!(inline["logs"][0]["message"], "about to fail on /p");
    gw.stop().await;
}

#[test]
fn the_cli_prints_output_diff_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("strip.wasm");
    std::fs::write(&module, component("strip_fields")).unwrap();
    let req = dir.path().join("req.json");
    std::fs::write(
        &req,
        r#"{"headers": {"x-a": "1"}, "body": {"user": "ann", "password": "p"}}"#,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hookyard"))
        .args(["transform", "test"])
        .arg(&module)
        .arg("--request")
        .arg(&req)
        .args(["--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("== output"), "{text}");
    assert!(text.contains("-  \"password\": \"p\","), "{text}");
    assert!(text.contains("+content-type: application/json"), "{text}");
    assert!(text.contains("stripped password,ssn,card_number"), "{text}");

    std::fs::write(&module, component("panics")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hookyard"))
        .args(["transform", "test"])
        .arg(&module)
        .arg("--request")
        .arg(&req)
        .args(["--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(text.contains("customer record is missing its id"), "{text}");
}

/// A manual request retry routes through the same rules walker as the first
/// routing: the retried event delivers the transformed request (here, with the
/// password stripped), and a connection whose transformation fails gets a FAILED
/// `TRANSFORMATION_FAILED` event with an execution, as the first time, instead of
/// delivering the request untransformed.
async fn a_request_retry_runs_the_transformations_again(gw: Gateway) {
    let rx = Receiver::start().await;
    let strip = upload(
        &gw,
        "strip",
        "strip_fields",
        json!({"env": {"FIELDS": "password"}}),
    )
    .await;
    let failing = upload(&gw, "panics", "panics", json!({})).await;
    let stripped = connect(
        &gw,
        "stripped",
        "shop",
        &format!("{}/stripped", rx.url),
        json!([{"type": "transform", "transformation_id": strip}]),
    )
    .await;
    let broken = connect(
        &gw,
        "broken",
        "shop",
        &format!("{}/broken", rx.url),
        json!([{"type": "transform", "transformation_id": failing}]),
    )
    .await;
    let (stripped_id, broken_id) = (
        stripped["id"].as_str().unwrap().to_owned(),
        broken["id"].as_str().unwrap().to_owned(),
    );
    let (status, _) = gw
        .send("shop", r#"{"user":"ann","password":"hunter2"}"#)
        .await;
    assert_eq!(status, 200);
    let first = gw
        .wait_event(&format!("webhook_id={stripped_id}"), "SUCCESSFUL")
        .await;
    gw.wait_event(&format!("webhook_id={broken_id}"), "FAILED")
        .await;
    let request_id = first["request_id"].as_str().unwrap().to_owned();

    let (s, out) = gw
        .call(
            Method::POST,
            &format!("/requests/{request_id}/retry"),
            Some(json!({"webhook_ids": [stripped_id, broken_id]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    let events = out["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(events.len(), 2, "{out}");
    let retried_broken = events
        .iter()
        .find(|e| e["webhook_id"] == broken_id.as_str())
        .expect("an event for the failing connection");
    assert_eq!(retried_broken["status"], "FAILED", "{retried_broken}");
    assert_eq!(retried_broken["error_code"], "TRANSFORMATION_FAILED");

    rx.wait_for(2).await;
    // Give a wrongly queued event of the failing connection time to arrive.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let got = rx.received();
    assert!(
        got.iter().all(|r| r.uri != "/broken"),
        "a failed transformation's request was delivered untransformed"
    );
    let deliveries: Vec<Value> = got
        .iter()
        .filter(|r| r.uri == "/stripped")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(
        deliveries,
        vec![json!({"user": "ann"}), json!({"user": "ann"})],
        "the retry delivered what the transformation makes, not the original"
    );
    // Each routing ran each transformation once, and recorded it.
    assert_eq!(executions(&gw, &strip, "").await.len(), 2);
    let failed = executions(&gw, &failing, "log_level=error").await;
    assert_eq!(failed.len(), 2);
    assert!(failed.iter().any(|e| e["event_id"] == retried_broken["id"]));
    gw.stop().await;
}

#[tokio::test]
async fn a_request_retry_runs_the_transformations_again_sqlite() {
    a_request_retry_runs_the_transformations_again(Gateway::start().await).await;
}

#[tokio::test]
async fn a_request_retry_runs_the_transformations_again_postgres() {
    if let Some(gw) = Gateway::start_postgres().await {
        a_request_retry_runs_the_transformations_again(gw).await;
    }
}
