//! The publish API, publish keys and topics: producers publish events with a
//! topic; connections subscribe to topic patterns; webhooks find their topic
//! where their source says.

use crate::common;

use axum::http::{Method, StatusCode};
use common::gateway::{eventually, Gateway, Receiver, KEY};
use serde_json::{json, Value};

/// POSTs `body` to `path` (under the API version) with `key`; status and JSON.
async fn call_with(
    gw: &Gateway,
    key: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut rb = gw.client.request(method, format!("{}{path}", gw.api));
    if let Some(k) = key {
        rb = rb.bearer_auth(k);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn publish(gw: &Gateway, key: &str, event: Value) -> (u16, Value) {
    call_with(gw, Some(key), Method::POST, "/publish", Some(event)).await
}

/// A source with a connection to `url`, subscribed to `topics`.
async fn subscribe(gw: &Gateway, source: &str, name: &str, url: &str, topics: Value) -> Value {
    gw.post(
        "/connections",
        json!({
            "name": name,
            "source": {"name": source},
            "destination": {"name": format!("{source}-{name}"), "url": url},
            "topics": topics,
        }),
    )
    .await
}

#[tokio::test]
async fn a_publish_key_publishes_and_does_nothing_else() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    subscribe(&gw, "orders", "all", &rx.url, Value::Null).await;
    let other = gw.post("/sources", json!({"name": "other"})).await;
    let orders = gw.get("/sources?name=orders").await["models"][0].clone();

    let created = gw
        .post(
            "/publish-keys",
            json!({"name": "billing-service", "source_ids": [orders["id"]]}),
        )
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("hkpub_"), "{created}");
    let listed = gw.get("/publish-keys").await;
    assert_eq!(listed["count"], 1);
    assert!(
        listed["models"][0].get("key").is_none(),
        "the key is shown once: {listed}"
    );
    assert_eq!(listed["models"][0]["key_prefix"], key[..12]);

    let (s, v) = publish(
        &gw,
        &key,
        json!({"source": "orders", "topic": "order.created", "data": {"id": 1}}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(v["request_id"].as_str().unwrap().starts_with("req_"));
    assert_eq!(v["duplicate"], false);
    let got = rx.wait_for(1).await;
    assert_eq!(&got[0].body[..], br#"{"id":1}"#);
    assert_eq!(
        got[0].header("x-hookyard-topic").as_deref(),
        Some("order.created")
    );
    assert_eq!(
        got[0].header("content-type").as_deref(),
        Some("application/json")
    );

    // Nothing else: not the configuration, not another source.
    for (method, path) in [
        (Method::GET, "/sources"),
        (Method::GET, "/requests"),
        (Method::POST, "/publish-keys"),
    ] {
        let (s, v) = call_with(
            &gw,
            Some(&key),
            method.clone(),
            path,
            Some(json!({"name": "x"})),
        )
        .await;
        assert_eq!(s, 403, "{method} {path} with a publish key: {v}");
        assert!(
            v["message"].as_str().unwrap().contains("publish key"),
            "{v}"
        );
    }
    let (s, v) = publish(
        &gw,
        &key,
        json!({"source": "other", "topic": "x", "data": 1}),
    )
    .await;
    assert_eq!(s, 403, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("may not publish to source \"other\""),
        "{v}"
    );
    let _ = other;

    // No key, a made-up key, a deleted key: 401. The API key publishes anywhere.
    let (s, _) = call_with(&gw, None, Method::POST, "/publish", Some(json!({}))).await;
    assert_eq!(s, 401);
    let (s, _) = publish(&gw, "hkpub_0000000000000000", json!({})).await;
    assert_eq!(s, 401);
    let (s, v) = publish(
        &gw,
        KEY,
        json!({"source": "other", "topic": "x", "data": 1}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let id = created["id"].as_str().unwrap();
    let (s, _) = call_with(
        &gw,
        Some(KEY),
        Method::DELETE,
        &format!("/publish-keys/{id}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = publish(
        &gw,
        &key,
        json!({"source": "orders", "topic": "a", "data": 1}),
    )
    .await;
    assert_eq!(s, 401, "a deleted key stops working");
    gw.stop().await;
}

#[tokio::test]
async fn a_batch_answers_each_event_on_its_own() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    subscribe(&gw, "orders", "all", &rx.url, Value::Null).await;
    let (s, v) = call_with(
        &gw,
        Some(KEY),
        Method::POST,
        "/publish/batch",
        Some(json!({"events": [
            {"source": "orders", "topic": "order.created", "data": {"n": 0}},
            {"source": "orders", "topic": "has space", "data": {"n": 1}},
            {"source": "nowhere", "topic": "order.created", "data": {"n": 2}},
            {"source": "orders", "topic": "order.paid", "data": {"n": 3}, "headers": {"X-Trace": "t3"}},
            {"source": "orders", "topic": "order.paid", "data": {"n": 4}, "headers": {"bad name": "v"}},
            {"source": "orders", "topic": "order.paid"},
        ]})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["failed_count"], 4, "{v}");
    let r = v["results"].as_array().unwrap();
    assert_eq!(r.len(), 6);
    assert!(r[0]["request_id"].is_string(), "{v}");
    assert_eq!(r[1]["error"]["status"], 422);
    assert!(
        r[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`events[1].topic`"),
        "{v}"
    );
    assert_eq!(r[2]["error"]["status"], 404);
    assert!(r[3]["request_id"].is_string(), "{v}");
    assert!(
        r[4]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`events[4].headers.bad name`"),
        "{v}"
    );
    assert!(
        r[5]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`events[5].data`"),
        "{v}"
    );

    let got = rx.wait_for(2).await;
    let mut bodies: Vec<String> = got
        .iter()
        .map(|g| String::from_utf8(g.body.to_vec()).unwrap())
        .collect();
    bodies.sort();
    assert_eq!(bodies, vec![r#"{"n":0}"#, r#"{"n":3}"#]);
    let traced = got.iter().find(|g| &g.body[..] == br#"{"n":3}"#).unwrap();
    assert_eq!(traced.header("x-trace").as_deref(), Some("t3"));
    let stored = gw
        .get(&format!(
            "/requests/{}",
            r[3]["request_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(stored["topic"], "order.paid");

    // The whole call's own errors.
    let (s, v) = call_with(
        &gw,
        Some(KEY),
        Method::POST,
        "/publish/batch",
        Some(json!({"events": []})),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = call_with(
        &gw,
        Some(KEY),
        Method::POST,
        "/publish/batch",
        Some(json!({"event": []})),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    gw.stop().await;
}

#[tokio::test]
async fn an_idempotency_key_is_stored_once_and_answered_with_the_first_request() {
    for postgres in [false, true] {
        let Some(gw) = Gateway::start_backend(postgres, |_| {}).await else {
            continue;
        };
        let rx = Receiver::start().await;
        subscribe(&gw, "orders", "all", &rx.url, Value::Null).await;
        let event = json!({"source": "orders", "topic": "order.created", "data": {"id": 7}, "idempotency_key": "order-7"});
        let (s, first) = publish(&gw, KEY, event.clone()).await;
        assert_eq!(s, 200, "{first}");
        assert_eq!(first["duplicate"], false);
        let (s, again) = publish(&gw, KEY, event.clone()).await;
        assert_eq!(s, 200, "{again}");
        assert_eq!(
            again["request_id"], first["request_id"],
            "postgres={postgres}"
        );
        assert_eq!(again["duplicate"], true);

        // The header works as the field; a batch repeating a key stores it once.
        let resp = gw
            .client
            .post(format!("{}/publish", gw.api))
            .bearer_auth(KEY)
            .header("idempotency-key", "order-7")
            .json(&json!({"source": "orders", "topic": "order.created", "data": {"id": 7}}))
            .send()
            .await
            .unwrap();
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["request_id"], first["request_id"]);
        let (_, batch) = call_with(
            &gw,
            Some(KEY),
            Method::POST,
            "/publish/batch",
            Some(json!({"events": [
                {"source": "orders", "topic": "t", "data": 8, "idempotency_key": "order-8"},
                {"source": "orders", "topic": "t", "data": 8, "idempotency_key": "order-8"},
                {"source": "orders", "topic": "t", "data": 7, "idempotency_key": "order-7"},
            ]})),
        )
        .await;
        let r = batch["results"].as_array().unwrap();
        assert_eq!(r[0]["duplicate"], false, "{batch}");
        assert_eq!(r[1]["request_id"], r[0]["request_id"], "{batch}");
        assert_eq!(r[1]["duplicate"], true, "{batch}");
        assert_eq!(r[2]["request_id"], first["request_id"], "{batch}");

        let requests = gw.get("/requests?limit=100").await;
        assert_eq!(
            requests["models"].as_array().unwrap().len(),
            2,
            "postgres={postgres}: {requests}"
        );
        rx.wait_for(2).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(rx.received().len(), 2, "each stored request delivered once");
        gw.stop().await;
    }
}

#[tokio::test]
async fn connections_take_the_topics_they_subscribe_to() {
    let gw = Gateway::start().await;
    let invoices = Receiver::start().await;
    let created = Receiver::start().await;
    let everything = Receiver::start().await;
    let orders_created = Receiver::start().await;
    subscribe(
        &gw,
        "billing",
        "invoices",
        &invoices.url,
        json!(["invoice.*"]),
    )
    .await;
    subscribe(
        &gw,
        "billing",
        "created",
        &created.url,
        json!(["*.created"]),
    )
    .await;
    subscribe(&gw, "billing", "everything", &everything.url, Value::Null).await;
    let exact = subscribe(
        &gw,
        "billing",
        "orders-created",
        &orders_created.url,
        json!(["orders.created"]),
    )
    .await;
    assert_eq!(exact["topics"], json!(["orders.created"]));

    let mut ids = std::collections::HashMap::new();
    for topic in ["invoice.created", "invoice.paid", "orders.created"] {
        let (s, v) = publish(
            &gw,
            KEY,
            json!({"source": "billing", "topic": topic, "data": {"topic": topic}}),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        ids.insert(topic, v["request_id"].as_str().unwrap().to_owned());
    }
    let topics_of = |rx: &Receiver| {
        let mut t: Vec<String> = rx
            .received()
            .iter()
            .map(|r| r.header("x-hookyard-topic").unwrap())
            .collect();
        t.sort();
        t
    };
    everything.wait_for(3).await;
    invoices.wait_for(2).await;
    created.wait_for(2).await;
    orders_created.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(topics_of(&invoices), ["invoice.created", "invoice.paid"]);
    assert_eq!(topics_of(&created), ["invoice.created", "orders.created"]);
    assert_eq!(topics_of(&everything).len(), 3);
    assert_eq!(topics_of(&orders_created), ["orders.created"]);

    // Why a connection did not take one; the lists filter on topic.
    let ignored = gw
        .get(&format!("/requests/{}/ignored_events", ids["invoice.paid"]))
        .await;
    let causes: Vec<&str> = ignored["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["cause"].as_str().unwrap())
        .collect();
    assert_eq!(
        causes,
        ["TOPIC_NOT_SUBSCRIBED", "TOPIC_NOT_SUBSCRIBED"],
        "{ignored}"
    );
    let paid = gw.get("/requests?topic=invoice.paid").await;
    assert_eq!(paid["models"].as_array().unwrap().len(), 1);
    assert_eq!(paid["models"][0]["id"], ids["invoice.paid"].as_str());
    let events = gw.get("/events?topic=orders.created").await;
    assert_eq!(events["models"].as_array().unwrap().len(), 3, "{events}");
    let topics = gw.get("/topics").await;
    let mut seen: Vec<(String, i64)> = topics["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["count"].as_i64().unwrap(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("invoice.created".into(), 1),
            ("invoice.paid".into(), 1),
            ("orders.created".into(), 1)
        ]
    );

    // A subscription changes with the connection; null takes everything again.
    let id = exact["id"].as_str().unwrap();
    let updated = gw
        .put(&format!("/connections/{id}"), json!({"topics": null}))
        .await;
    assert_eq!(updated["topics"], Value::Null);
    publish(
        &gw,
        KEY,
        json!({"source": "billing", "topic": "invoice.void", "data": 1}),
    )
    .await;
    orders_created.wait_for(2).await;
    // What it did not subscribe to before is there to retry, by cause.
    let op = gw
        .post(
            "/bulk/ignored-events/retry",
            json!({"query": {"cause": "TOPIC_NOT_SUBSCRIBED", "webhook_id": id}}),
        )
        .await;
    assert_eq!(op["type"], "retry_ignored_event", "{op}");
    let got = orders_created.wait_for(4).await;
    let mut late: Vec<String> = got[2..]
        .iter()
        .map(|r| r.header("x-hookyard-topic").unwrap())
        .collect();
    late.sort();
    assert_eq!(late, ["invoice.created", "invoice.paid"]);
    gw.stop().await;
}

#[tokio::test]
async fn webhooks_find_their_topic_where_the_source_says() {
    let gw = Gateway::start().await;
    let pushes = Receiver::start().await;
    let paid = Receiver::start().await;
    gw.post(
        "/sources",
        json!({"name": "github", "topic_from": {"header": "X-GitHub-Event"}}),
    )
    .await;
    gw.post(
        "/sources",
        json!({"name": "stripe", "topic_from": {"body": "type"}}),
    )
    .await;
    subscribe(&gw, "github", "pushes", &pushes.url, json!(["push"])).await;
    subscribe(&gw, "stripe", "paid", &paid.url, json!(["invoice.paid"])).await;

    let resp = gw
        .client
        .post(format!("{}/e/github", gw.base))
        .header("x-github-event", "push")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = gw
        .client
        .post(format!("{}/e/github", gw.base))
        .header("x-github-event", "issues")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    gw.send("stripe", r#"{"type":"invoice.paid","id":"evt_1"}"#)
        .await;
    gw.send("stripe", r#"{"type":"invoice.created","id":"evt_2"}"#)
        .await;
    gw.send("stripe", "not json").await;

    pushes.wait_for(1).await;
    let got = paid.wait_for(1).await;
    assert_eq!(&got[0].body[..], br#"{"type":"invoice.paid","id":"evt_1"}"#);
    eventually("the stripe requests routed", || async {
        let v = gw.get("/requests?limit=10").await;
        (v["models"].as_array().unwrap().len() == 5).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(pushes.received().len(), 1);
    assert_eq!(paid.received().len(), 1);
    let issues = gw.get("/requests?topic=issues").await;
    assert_eq!(issues["models"].as_array().unwrap().len(), 1);
    let untopical = gw.get("/requests?limit=10").await;
    let no_topic = untopical["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["topic"].is_null())
        .count();
    assert_eq!(
        no_topic, 1,
        "the body that is not JSON has no topic: {untopical}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn bad_topics_types_and_events_are_refused_naming_the_field() {
    let gw = Gateway::start().await;
    gw.post("/sources", json!({"name": "orders"})).await;
    let s = gw.get("/sources?name=orders").await["models"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let d = gw
        .post(
            "/destinations",
            json!({"name": "d", "url": "http://127.0.0.1:9/"}),
        )
        .await;
    let cases: Vec<(Method, &str, Value, &str)> = vec![
        (
            Method::POST,
            "/connections",
            json!({"source_id": s, "destination_id": d["id"], "topics": ["orders*"]}),
            "`topics[0]`",
        ),
        (
            Method::POST,
            "/connections",
            json!({"source_id": s, "destination_id": d["id"], "topics": []}),
            "`topics`",
        ),
        (
            Method::POST,
            "/sources",
            json!({"name": "a", "topic_from": {"header": "a b"}}),
            "`topic_from`",
        ),
        (
            Method::POST,
            "/sources",
            json!({"name": "a", "topic_from": {"query": "x"}}),
            "topic_from",
        ),
        (
            Method::POST,
            "/sources",
            json!({"name": "a", "type": "KAFKA"}),
            "`type`",
        ),
        (
            Method::POST,
            "/sources",
            json!({"name": "a", "type": "RABBITMQ"}),
            "`config`",
        ),
        (
            Method::POST,
            "/sources",
            json!({"name": "a", "type": "RABBITMQ", "config": {"url": "http://x", "queue": "q"}}),
            "`config.url`",
        ),
        (
            Method::POST,
            "/sources",
            json!({"name": "a", "type": "WEBHOOK", "config": {"queue": "q"}}),
            "`config`",
        ),
        (
            Method::POST,
            "/publish",
            json!({"source": "orders", "data": 1}),
            "`topic`",
        ),
        (
            Method::POST,
            "/publish",
            json!({"source": "orders", "topic": "t"}),
            "`data`",
        ),
        (
            Method::POST,
            "/publish",
            json!({"topic": "t", "data": 1}),
            "`source`",
        ),
        (
            Method::POST,
            "/publish",
            json!({"source": "orders", "topic": "t", "data": 1, "bogus": 1}),
            "bogus",
        ),
        (
            Method::POST,
            "/publish",
            json!({"source": "orders", "topic": "t", "data": 1, "headers": {"x": "a\nb"}}),
            "`headers.x`",
        ),
        (
            Method::POST,
            "/publish",
            json!({"source": "orders", "topic": "t", "data": 1, "idempotency_key": ""}),
            "`idempotency_key`",
        ),
    ];
    for (method, path, body, field) in cases {
        let (status, v) = call_with(&gw, Some(KEY), method.clone(), path, Some(body.clone())).await;
        assert_eq!(status, 422, "{method} {path} {body}: {v}");
        assert!(
            v["message"].as_str().unwrap_or_default().contains(field),
            "{body} should name {field}: {v}"
        );
    }

    // A broker source takes no HTTP and no publish; a disabled source no publish.
    gw.post(
        "/sources",
        json!({"name": "rabbit", "type": "RABBITMQ", "config": {"url": "amqp://127.0.0.1:1", "queue": "q"}}),
    )
    .await;
    let (status, v) = publish(
        &gw,
        KEY,
        json!({"source": "rabbit", "topic": "t", "data": 1}),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("consumed from RABBITMQ"),
        "{v}"
    );
    let (status, body) = gw.send("rabbit", "{}").await;
    assert_eq!(status, 422, "{body}");
    gw.put(&format!("/sources/{s}/disable"), json!({})).await;
    let (status, v) = publish(
        &gw,
        KEY,
        json!({"source": "orders", "topic": "t", "data": 1}),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert!(v["message"].as_str().unwrap().contains("disabled"), "{v}");
    gw.put(&format!("/sources/{s}/enable"), json!({})).await;

    // Larger than the source accepts: 413, and nothing stored.
    gw.put(&format!("/sources/{s}"), json!({"max_body_bytes": 100}))
        .await;
    let (status, v) = publish(
        &gw,
        KEY,
        json!({"source": "orders", "topic": "t", "data": "x".repeat(200)}),
    )
    .await;
    assert_eq!(status, 413, "{v}");
    let requests = gw.get("/requests").await;
    assert_eq!(
        requests["models"].as_array().unwrap().len(),
        0,
        "{requests}"
    );
    let (status, _) = call_with(&gw, Some(KEY), Method::POST, "/publish", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST.as_u16());
    gw.stop().await;
}
