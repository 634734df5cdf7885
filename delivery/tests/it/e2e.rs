//! End to end on one machine: a webhook sent to `/e/…` is stored, routed and
//! delivered to a test receiver, with retries and every attempt recorded.

use crate::common;

use axum::http::Method;
use common::gateway::{Gateway, Receiver, Reply};
use serde_json::{json, Value};

async fn connect(gw: &Gateway, source: &str, url: &str, rules: Value) -> Value {
    gw.post(
        "/connections",
        json!({
            "name": format!("{source}-conn"),
            "source": {"name": source},
            "destination": {"name": format!("{source}-dest"), "url": url},
            "rules": rules,
        }),
    )
    .await
}

#[tokio::test]
async fn a_webhook_is_delivered_byte_exact_with_path_query_and_headers() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    connect(&gw, "shop", &format!("{}/hooks", rx.url), json!([])).await;

    let body = r#"{"type":"order.created", "id": 7,  "note":"spaces kept"}"#;
    let resp = gw
        .client
        .post(format!("{}/e/shop/orders/new?x=1&y=2", gw.base))
        .header("content-type", "application/json")
        .header("x-shop-topic", "orders/create")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ack: Value = resp.json().await.unwrap();
    let request_id = ack["request_id"].as_str().unwrap().to_owned();

    let got = rx.wait_for(1).await;
    let r = &got[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.uri, "/hooks/orders/new?x=1&y=2");
    assert_eq!(&r.body[..], body.as_bytes());
    assert_eq!(r.header("x-shop-topic").as_deref(), Some("orders/create"));
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(r.header("x-hookyard-request-id"), Some(request_id.clone()));

    let event = gw
        .wait_event(&format!("request_id={request_id}"), "SUCCESSFUL")
        .await;
    assert_eq!(r.header("idempotency-key").as_deref(), event["id"].as_str());
    assert_eq!(event["attempts"], 1);
    assert_eq!(event["response_status"], 200);

    let attempts = gw
        .get(&format!(
            "/attempts?event_id={}",
            event["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(attempts["count"], 1);
    let a = &attempts["models"][0];
    assert_eq!(a["status"], "SUCCESSFUL");
    assert_eq!(a["trigger"], "INITIAL");
    assert_eq!(a["response_status"], 200);
    assert_eq!(a["body"], "status 200");
    assert_eq!(
        a["requested_url"],
        format!("{}/hooks/orders/new?x=1&y=2", rx.url)
    );

    let request = gw.get(&format!("/requests/{request_id}")).await;
    assert_eq!(request["events_count"], 1);
    assert_eq!(request["data"]["body"]["id"], 7);
    let raw = gw.get(&format!("/requests/{request_id}/raw_body")).await;
    assert_eq!(raw["body"], body);
    gw.stop().await;
}

#[tokio::test]
async fn failures_are_retried_by_the_rule_and_every_attempt_is_recorded() {
    let gw = Gateway::start().await;
    let rx = Receiver::scripted(vec![Reply::status(500), Reply::status(503)]).await;
    connect(
        &gw,
        "retry",
        &rx.url,
        json!([{"type": "retry", "strategy": "linear", "interval": 200, "count": 3}]),
    )
    .await;
    let (status, _) = gw.send("retry", r#"{"n":1}"#).await;
    assert_eq!(status, 200);

    let event = gw.wait_event("", "SUCCESSFUL").await;
    assert_eq!(event["attempts"], 3);
    let got = rx.received();
    assert_eq!(got.len(), 3);
    let keys: Vec<_> = got.iter().map(|r| r.header("idempotency-key")).collect();
    assert!(
        keys.iter().all(|k| k == &keys[0]),
        "same event id each time"
    );
    assert_eq!(
        got.iter()
            .map(|r| r.header("x-hookyard-attempt").unwrap())
            .collect::<Vec<_>>(),
        ["1", "2", "3"]
    );

    let attempts = gw
        .get(&format!(
            "/attempts?event_id={}&dir=asc",
            event["id"].as_str().unwrap()
        ))
        .await;
    let rows = attempts["models"].as_array().unwrap();
    let summary: Vec<(Value, Value, Value)> = rows
        .iter()
        .map(|a| {
            (
                a["response_status"].clone(),
                a["trigger"].clone(),
                a["status"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (json!(500), json!("INITIAL"), json!("FAILED")),
            (json!(503), json!("AUTOMATIC"), json!("FAILED")),
            (json!(200), json!("AUTOMATIC"), json!("SUCCESSFUL")),
        ]
    );
    gw.stop().await;
}

#[tokio::test]
async fn exhausted_retries_fail_the_event_and_a_manual_retry_delivers_it() {
    let gw = Gateway::start().await;
    let rx = Receiver::scripted(vec![Reply::status(500), Reply::status(500)]).await;
    connect(
        &gw,
        "exhaust",
        &rx.url,
        json!([{"type": "retry", "strategy": "exponential", "interval": 100, "count": 1}]),
    )
    .await;
    gw.send("exhaust", "{}").await;
    let failed = gw.wait_event("", "FAILED").await;
    assert_eq!(failed["attempts"], 2);
    assert_eq!(failed["response_status"], 500);
    assert_eq!(failed["next_attempt_at"], Value::Null);

    let id = failed["id"].as_str().unwrap();
    let retried = gw.post(&format!("/events/{id}/retry"), json!({})).await;
    assert_eq!(retried["status"], "QUEUED");
    let ok = gw.wait_event(&format!("id={id}"), "SUCCESSFUL").await;
    assert_eq!(ok["attempts"], 3);
    let attempts = gw.get(&format!("/attempts?event_id={id}")).await;
    assert_eq!(attempts["models"][0]["trigger"], "MANUAL");
    gw.stop().await;
}

#[tokio::test]
async fn retry_after_is_honoured_over_the_schedule() {
    let gw = Gateway::start().await;
    let rx = Receiver::scripted(vec![Reply {
        status: 429,
        retry_after: Some("1".into()),
        body: "slow down".into(),
    }])
    .await;
    // The schedule alone would wait an hour before the second attempt.
    connect(
        &gw,
        "ra",
        &rx.url,
        json!([{"type": "retry", "strategy": "linear", "interval": 3_600_000, "count": 2}]),
    )
    .await;
    gw.send("ra", "{}").await;
    let event = gw.wait_event("", "SUCCESSFUL").await;
    assert_eq!(event["attempts"], 2);
    let got = rx.received();
    gw.stop().await;
    assert_eq!(got.len(), 2);
}

#[tokio::test]
async fn statuses_outside_the_retry_rule_fail_at_once() {
    let gw = Gateway::start().await;
    let rx = Receiver::scripted(vec![Reply::status(404)]).await;
    connect(
        &gw,
        "codes",
        &rx.url,
        json!([{"type": "retry", "strategy": "linear", "interval": 100, "count": 5,
                "response_status_codes": ["500-599"]}]),
    )
    .await;
    gw.send("codes", "{}").await;
    let failed = gw.wait_event("", "FAILED").await;
    assert_eq!(failed["attempts"], 1);
    assert_eq!(failed["response_status"], 404);
    gw.stop().await;
}

#[tokio::test]
async fn an_unreachable_destination_records_the_error() {
    let gw = Gateway::start().await;
    // A port nothing listens on: bind, note it, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    connect(
        &gw,
        "down",
        &format!("http://127.0.0.1:{port}/x"),
        json!([{"type": "retry", "strategy": "linear", "interval": 100, "count": 0}]),
    )
    .await;
    gw.send("down", "{}").await;
    let failed = gw.wait_event("", "FAILED").await;
    assert_eq!(failed["error_code"], "CONNECTION_REFUSED");
    let attempts = gw
        .get(&format!(
            "/attempts?event_id={}",
            failed["id"].as_str().unwrap()
        ))
        .await;
    let a = &attempts["models"][0];
    assert_eq!(a["error_code"], "CONNECTION_REFUSED");
    assert_eq!(a["response_status"], Value::Null);
    assert!(a["error_message"].as_str().unwrap().len() > 5);
    gw.stop().await;
}

#[tokio::test]
async fn filters_route_some_requests_and_record_the_others_as_ignored() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    let conn = connect(
        &gw,
        "filtered",
        &rx.url,
        json!([{"type": "filter", "body": {"type": {"$startsWith": "order."}},
                "headers": {"x-env": "prod"}}]),
    )
    .await;
    let send = |body: &'static str, env: &'static str| {
        gw.client
            .post(format!("{}/e/filtered", gw.base))
            .header("x-env", env)
            .body(body)
            .send()
    };
    assert_eq!(
        send(r#"{"type":"order.paid"}"#, "prod")
            .await
            .unwrap()
            .status(),
        200
    );
    let ignored: Value = send(r#"{"type":"customer.new"}"#, "prod")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ignored_id = ignored["request_id"].as_str().unwrap();
    assert_eq!(
        send(r#"{"type":"order.paid"}"#, "dev")
            .await
            .unwrap()
            .status(),
        200
    );

    let got = rx.wait_for(1).await;
    assert_eq!(&got[0].body[..], br#"{"type":"order.paid"}"#);

    let ign = common::gateway::eventually("ignored event", || async {
        let v = gw
            .get(&format!("/requests/{ignored_id}/ignored_events"))
            .await;
        (v["count"] == 1).then_some(v)
    })
    .await;
    assert_eq!(ign["models"][0]["cause"], "FILTERED");
    assert_eq!(ign["models"][0]["meta"], json!(["body"]));
    let req = gw.get(&format!("/requests/{ignored_id}")).await;
    assert_eq!(req["events_count"], 0);
    assert_eq!(req["ignored_count"], 1);

    // Widen the filter, then re-run the ignored request through the connection.
    let conn_id = conn["id"].as_str().unwrap();
    gw.put(
        &format!("/connections/{conn_id}"),
        json!({"rules": [{"type": "filter", "headers": {"x-env": "prod"}}]}),
    )
    .await;
    let retried = gw
        .post(
            &format!("/requests/{ignored_id}/retry"),
            json!({"webhook_ids": [conn_id]}),
        )
        .await;
    assert_eq!(retried["events"].as_array().unwrap().len(), 1);
    assert_eq!(retried["request"]["events_count"], 1);
    let got = rx.wait_for(2).await;
    assert_eq!(&got[1].body[..], br#"{"type":"customer.new"}"#);
    assert_eq!(rx.received().len(), 2, "the dev request stays filtered");
    gw.stop().await;
}

#[tokio::test]
async fn a_delay_rule_holds_the_first_attempt() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    connect(
        &gw,
        "delayed",
        &rx.url,
        json!([{"type": "delay", "delay": 1500}]),
    )
    .await;
    gw.send("delayed", "{}").await;
    let scheduled = gw.wait_event("", "SCHEDULED").await;
    assert!(scheduled["next_attempt_at"].is_string());
    assert!(rx.received().is_empty());
    gw.wait_event("", "SUCCESSFUL").await;
    gw.stop().await;
}

#[tokio::test]
async fn destination_auth_methods_are_applied() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    let cases = [
        (
            "bearer",
            json!({"type": "BEARER_TOKEN", "config": {"token": "t0k"}}),
        ),
        (
            "basic",
            json!({"type": "BASIC_AUTH", "config": {"username": "u", "password": "p"}}),
        ),
        (
            "apikey",
            json!({"type": "API_KEY", "config": {"key": "x-api-key", "api_key": "k1"}}),
        ),
        (
            "apiquery",
            json!({"type": "API_KEY", "config": {"key": "token", "api_key": "q1", "to": "query"}}),
        ),
    ];
    for (name, auth) in &cases {
        gw.post(
            "/connections",
            json!({"name": name, "source": {"name": name},
                   "destination": {"name": name, "url": format!("{}/{name}", rx.url), "auth_method": auth}}),
        )
        .await;
        gw.send(name, "{}").await;
    }
    let got = rx.wait_for(4).await;
    let by_path = |p: &str| got.iter().find(|r| r.uri.starts_with(p)).unwrap().clone();
    assert_eq!(
        by_path("/bearer").header("authorization").as_deref(),
        Some("Bearer t0k")
    );
    assert_eq!(
        by_path("/basic").header("authorization").as_deref(),
        Some("Basic dTpw")
    );
    assert_eq!(
        by_path("/apikey").header("x-api-key").as_deref(),
        Some("k1")
    );
    assert_eq!(by_path("/apiquery").uri, "/apiquery?token=q1");
    // The key put in the query is not shown in the attempt's URL.
    let apiquery_dest = gw.get("/destinations?name=apiquery").await;
    let did = apiquery_dest["models"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let attempts = common::gateway::eventually("attempt", || async {
        let v = gw.get(&format!("/attempts?destination_id={did}")).await;
        (v["count"] == 1).then_some(v)
    })
    .await;
    assert!(!attempts["models"][0]["requested_url"]
        .as_str()
        .unwrap()
        .contains("q1"));
    gw.stop().await;
}

#[tokio::test]
async fn concurrent_requests_are_all_stored_and_delivered_once() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    connect(&gw, "burst", &rx.url, json!([])).await;
    let n = 300;
    let sends = (0..n).map(|i| {
        let gw = &gw;
        async move { gw.send("burst", format!(r#"{{"i":{i}}}"#)).await.0 }
    });
    let statuses = futures::future::join_all(sends).await;
    assert!(statuses.iter().all(|s| *s == 200));
    let got = rx.wait_for(n).await;
    let mut seen: Vec<i64> = got
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["i"]
                .as_i64()
                .unwrap()
        })
        .collect();
    seen.sort();
    assert_eq!(seen, (0..n as i64).collect::<Vec<_>>());
    // The sink has every request before the last attempts are written (outcomes
    // are stored in batches after the destination answers): wait for them.
    common::gateway::eventually("every event marked SUCCESSFUL", || async {
        let events = gw.get("/events?status=SUCCESSFUL&limit=1").await;
        (events["count"] == n).then_some(())
    })
    .await;
    gw.stop().await;
}

#[tokio::test]
async fn the_same_flow_runs_on_postgresql() {
    let Some(gw) = Gateway::start_postgres().await else {
        return;
    };
    let rx = Receiver::scripted(vec![Reply::status(502)]).await;
    connect(
        &gw,
        "pg",
        &rx.url,
        json!([{"type": "retry", "strategy": "linear", "interval": 100, "count": 2},
               {"type": "filter", "body": {"ok": true}}]),
    )
    .await;
    gw.send("pg", r#"{"ok":true}"#).await;
    gw.send("pg", r#"{"ok":false}"#).await;
    let event = gw.wait_event("", "SUCCESSFUL").await;
    assert_eq!(event["attempts"], 2);
    let requests = gw.get("/requests").await;
    assert_eq!(requests["count"], 2);
    assert_eq!(rx.received().len(), 2);
    let (s, _) = gw.call(Method::GET, "/events?status=BOGUS", None).await;
    assert_eq!(s, 422);
    gw.stop().await;
}

#[tokio::test]
async fn deleting_a_connection_cancels_its_pending_events() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    let conn = connect(
        &gw,
        "gone",
        &rx.url,
        json!([{"type": "delay", "delay": 60_000}]),
    )
    .await;
    gw.send("gone", "{}").await;
    let scheduled = gw.wait_event("", "SCHEDULED").await;
    let (s, _) = gw
        .call(
            Method::DELETE,
            &format!("/connections/{}", conn["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let event = gw
        .get(&format!("/events/{}", scheduled["id"].as_str().unwrap()))
        .await;
    assert_eq!(event["status"], "FAILED");
    assert_eq!(event["error_code"], "CANCELLED");
    assert!(rx.received().is_empty());
    gw.stop().await;
}

#[tokio::test]
async fn the_path_is_forwarded_as_sent_and_cannot_climb_out_of_the_destination() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    connect(&gw, "paths", &format!("{}/base/hooks", rx.url), json!([])).await;
    let post = |path: &'static str| {
        gw.client
            .post(format!("{}/e/paths{path}", gw.base))
            .body("{}")
            .send()
    };
    assert_eq!(post("/a%2Fb%25/%FF?q=1").await.unwrap().status(), 200);
    assert_eq!(
        post("/").await.unwrap().status(),
        200,
        "a trailing slash is the source"
    );
    // Sent over a raw socket: an HTTP client would resolve the dots itself.
    let raw = "POST /e/paths/%2E%2E/%2E%2E/admin HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
    let mut sock = tokio::net::TcpStream::connect(gw.base.trim_start_matches("http://"))
        .await
        .unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    sock.write_all(raw.as_bytes()).await.unwrap();
    let mut answer = String::new();
    sock.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("`..`"), "{answer}");
    let got = rx.wait_for(2).await;
    let mut uris: Vec<&str> = got.iter().map(|r| r.uri.as_str()).collect();
    uris.sort();
    assert_eq!(uris, ["/base/hooks", "/base/hooks/a%2Fb%25/%FF?q=1"]);
    gw.stop().await;
}

/// Sends `request_line` over a raw socket (an HTTP client would resolve dots and
/// backslashes itself) and returns the whole answer.
async fn send_raw(gw: &Gateway, request_line: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let raw =
        format!("{request_line}\r\nhost: x\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}");
    let mut sock = tokio::net::TcpStream::connect(gw.base.trim_start_matches("http://"))
        .await
        .unwrap();
    sock.write_all(raw.as_bytes()).await.unwrap();
    let mut answer = String::new();
    sock.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn paths_that_decode_to_dots_or_backslashes_are_refused_and_not_stored() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    connect(&gw, "src", &format!("{}/base/hooks", rx.url), json!([])).await;
    for path in [
        "/e/src/x\\..\\..\\admin",
        "/e/src/%2e%2e/admin",
        "/e/src/%5c..%5cadmin",
        "/e/src/%252e%252e/admin",
        "/e/src/..%2fadmin",
    ] {
        let answer = send_raw(&gw, &format!("POST {path} HTTP/1.1")).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{path}: {answer}");
    }
    // The encoded ones reach admission, which says what to fix.
    let answer = send_raw(&gw, "POST /e/src/%5c..%5cadmin HTTP/1.1").await;
    assert!(answer.contains("backslash"), "{answer}");
    assert!(answer.contains("\"BAD_REQUEST\""), "{answer}");
    assert_eq!(
        gw.get("/requests").await["count"],
        0,
        "nothing refused is stored"
    );
    assert!(rx.received().is_empty());
    gw.stop().await;
}

#[tokio::test]
async fn the_destinations_credentials_replace_the_providers() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    gw.post(
        "/connections",
        json!({"source": {"name": "creds"},
               "destination": {"name": "creds", "url": rx.url,
                               "auth_method": {"type": "BEARER_TOKEN", "config": {"token": "ours"}}}}),
    )
    .await;
    let r = gw
        .client
        .post(format!("{}/e/creds", gw.base))
        .header("authorization", "Bearer providers-secret")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got = rx.wait_for(1).await;
    let values: Vec<&str> = got[0]
        .headers
        .get_all("authorization")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(values, ["Bearer ours"]);
    gw.stop().await;
}

/// With one delivery slot, ingest handing fresh events over and the dispatcher
/// leasing the ones that found no slot race for that slot on every event. The
/// dispatcher once waited for a slot after leasing while a handed event held it
/// (waiting for the dispatcher to start it): delivery stopped for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn handed_and_leased_events_share_the_delivery_slots_without_stalling() {
    let gw = Gateway::start_with(|c| c.delivery.concurrency = 1).await;
    let rx = Receiver::start().await;
    connect(&gw, "slots", &rx.url, json!([])).await;
    let n = 300;
    let sends = (0..8).map(|s| {
        let gw = &gw;
        async move {
            for i in (s..n).step_by(8) {
                let (status, _) = gw.send("slots", format!(r#"{{"i":{i}}}"#)).await;
                assert_eq!(status, 200);
            }
        }
    });
    futures::future::join_all(sends).await;
    common::gateway::eventually("every event delivered", || async {
        (rx.received().len() >= n).then_some(())
    })
    .await;
}
