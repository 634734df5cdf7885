//! The egress policy (`[egress]`) on real deliveries and alert webhooks: refused
//! attempts are failed attempts with the policy's error, nothing reaches a
//! refused address, names are judged by what they resolve to, and credentials in
//! destination URLs stay out of error texts and alerts.

use crate::common;

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use common::gateway::{eventually, Gateway, Receiver, Reply};
use serde_json::{json, Value};

/// A connection `{name}` from source `{name}` to a destination at `url`, never
/// retried (one attempt tells).
async fn connect(gw: &Gateway, name: &str, destination: Value) -> Value {
    gw.post(
        "/connections",
        json!({
            "name": name,
            "source": {"name": name},
            "destination": destination,
            "rules": [{"type": "retry", "strategy": "linear", "interval": 100, "count": 0}],
        }),
    )
    .await
}

/// Sends one webhook to source `name` and returns the attempt of its event once
/// the event is final (FAILED or SUCCESSFUL).
async fn one_attempt(gw: &Gateway, name: &str) -> Value {
    let conn = gw.get(&format!("/connections?name={name}")).await;
    let conn_id = conn["models"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(gw.send(name, r#"{"n":1}"#).await.0, 200);
    let event = eventually(&format!("the event of {name} final"), || async {
        let v = gw.get(&format!("/events?webhook_id={conn_id}")).await;
        v["models"].as_array().and_then(|m| {
            m.iter()
                .find(|e| e["status"] == "FAILED" || e["status"] == "SUCCESSFUL")
                .cloned()
        })
    })
    .await;
    let attempts = gw
        .get(&format!(
            "/attempts?event_id={}",
            event["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(attempts["count"], 1, "{attempts}");
    attempts["models"][0].clone()
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn assert_blocked(a: &Value, addr: &str, rule: &str) {
    assert_eq!(a["status"], "FAILED", "{a}");
    assert_eq!(a["error_code"], "EGRESS_BLOCKED", "{a}");
    let want = format!(
        "destination address {addr} is blocked by egress policy ({rule}); see README security"
    );
    assert_eq!(a["error_message"], want.as_str(), "{a}");
    assert_eq!(a["response_status"], Value::Null, "{a}");
}

#[tokio::test]
async fn cloud_metadata_is_refused_as_a_failed_attempt() {
    let gw = Gateway::start().await;
    connect(
        &gw,
        "meta",
        json!({"name": "meta", "url": "http://169.254.169.254/latest/meta-data"}),
    )
    .await;
    let started = std::time::Instant::now();
    let a = one_attempt(&gw, "meta").await;
    assert_blocked(&a, "169.254.169.254", "egress.deny");
    // Refused before connecting: not a connect timeout.
    assert!(started.elapsed() < Duration::from_secs(4), "{a}");
    gw.stop().await;
}

#[tokio::test]
async fn loopback_is_delivered_under_the_defaults() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    connect(&gw, "local", json!({"name": "local", "url": rx.url})).await;
    let by_name = Receiver::start().await;
    let port = by_name.url.rsplit(':').next().unwrap().to_owned();
    connect(
        &gw,
        "byname",
        json!({"name": "byname", "url": format!("http://localhost:{port}/")}),
    )
    .await;
    assert_eq!(one_attempt(&gw, "local").await["status"], "SUCCESSFUL");
    assert_eq!(one_attempt(&gw, "byname").await["status"], "SUCCESSFUL");
    assert_eq!(rx.received().len(), 1);
    assert_eq!(by_name.received().len(), 1);
    gw.stop().await;
}

#[tokio::test]
async fn block_private_refuses_loopback_unless_allowed() {
    let rx = Receiver::start().await;
    let gw = Gateway::start_with(|c| c.egress.block_private = true).await;
    connect(&gw, "private", json!({"name": "private", "url": rx.url})).await;
    let a = one_attempt(&gw, "private").await;
    assert_blocked(&a, "127.0.0.1", "egress.block_private");
    gw.stop().await;
    assert!(rx.received().is_empty(), "nothing was sent");

    let gw = Gateway::start_with(|c| {
        c.egress.block_private = true;
        c.egress.allow = vec!["127.0.0.1/32".into()];
    })
    .await;
    connect(&gw, "allowed", json!({"name": "allowed", "url": rx.url})).await;
    assert_eq!(one_attempt(&gw, "allowed").await["status"], "SUCCESSFUL");
    assert_eq!(rx.received().len(), 1);
    gw.stop().await;
}

#[tokio::test]
async fn a_name_that_resolves_to_a_blocked_address_is_refused() {
    let rx = Receiver::start().await;
    let port = rx.url.rsplit(':').next().unwrap().to_owned();
    let gw = Gateway::start_with(|c| {
        c.egress.deny.push("127.0.0.0/8".into());
        c.egress.deny.push("::1/128".into());
    })
    .await;
    connect(
        &gw,
        "rebind",
        json!({"name": "rebind", "url": format!("http://localhost:{port}/hook")}),
    )
    .await;
    let a = one_attempt(&gw, "rebind").await;
    assert_blocked(&a, "127.0.0.1", "egress.deny");
    assert!(rx.received().is_empty(), "nothing was sent");
    gw.stop().await;
}

#[tokio::test]
async fn every_spelling_of_a_blocked_ip_literal_is_refused() {
    let rx = Receiver::start().await;
    let port = rx.url.rsplit(':').next().unwrap().to_owned();
    let gw = Gateway::start_with(|c| c.egress.block_private = true).await;
    let spellings = [
        "2130706433",
        "0x7f.0.0.1",
        "0177.0.0.1",
        "127.1",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
    ];
    for (i, host) in spellings.iter().enumerate() {
        let name = format!("spelling-{i}");
        connect(
            &gw,
            &name,
            json!({"name": name, "url": format!("http://{host}:{port}/")}),
        )
        .await;
        let a = one_attempt(&gw, &name).await;
        assert_eq!(a["error_code"], "EGRESS_BLOCKED", "{host}: {a}");
        assert!(
            a["error_message"]
                .as_str()
                .unwrap()
                .starts_with("destination address 127.0.0.1 is blocked"),
            "{host}: {a}"
        );
    }
    assert!(rx.received().is_empty(), "nothing was sent");
    // 0.0.0.0 (the local host on Linux) and IPv6 link-local, under the defaults.
    let gw2 = Gateway::start().await;
    for (i, host) in ["0.0.0.0", "[fe80::1]", "[::ffff:169.254.169.254]"]
        .iter()
        .enumerate()
    {
        let name = format!("default-{i}");
        connect(
            &gw2,
            &name,
            json!({"name": name, "url": format!("http://{host}:{port}/")}),
        )
        .await;
        let a = one_attempt(&gw2, &name).await;
        assert_eq!(a["error_code"], "EGRESS_BLOCKED", "{host}: {a}");
    }
    assert!(rx.received().is_empty(), "nothing was sent");
    gw.stop().await;
    gw2.stop().await;
}

#[tokio::test]
async fn credentials_in_urls_are_redacted_from_attempt_errors() {
    let gw = Gateway::start().await;
    let port = closed_port();
    connect(
        &gw,
        "query",
        json!({"name": "query", "url": format!("http://127.0.0.1:{port}/hook?api_key=SECRET123")}),
    )
    .await;
    connect(
        &gw,
        "userinfo",
        json!({"name": "userinfo", "url": format!("http://bob:hunter2@127.0.0.1:{port}/hook")}),
    )
    .await;
    connect(
        &gw,
        "authquery",
        json!({"name": "authquery", "url": format!("http://127.0.0.1:{port}/hook"),
               "auth_method": {"type": "API_KEY",
                               "config": {"key": "token", "api_key": "SECRET456", "to": "query"}}}),
    )
    .await;
    for (name, secret) in [
        ("query", "SECRET123"),
        ("userinfo", "hunter2"),
        ("authquery", "SECRET456"),
    ] {
        let a = one_attempt(&gw, name).await;
        assert_eq!(a["error_code"], "CONNECTION_REFUSED", "{a}");
        let message = a["error_message"].as_str().unwrap();
        assert!(!message.contains(secret), "{name}: {message}");
        // Still says what failed, and where.
        assert!(
            message.contains(&format!("127.0.0.1:{port}/hook")),
            "{message}"
        );
        assert!(
            message.to_lowercase().contains("connection refused"),
            "{message}"
        );
    }
    gw.stop().await;
}

#[tokio::test]
async fn alerts_do_not_carry_credentials_from_destination_urls() {
    let chat = Receiver::start().await;
    let chat_url = chat.url.clone();
    let gw = Gateway::start_with(|c| {
        c.alerts.check_interval_ms = 100;
        c.alerts.webhook_url = chat_url;
    })
    .await;
    let port = closed_port();
    connect(
        &gw,
        "leaky",
        json!({"name": "leaky",
               "url": format!("http://alice:pa55word@127.0.0.1:{port}/hook?api_key=SECRET123")}),
    )
    .await;
    assert_eq!(gw.send("leaky", "{}").await.0, 200);
    let got = chat.wait_for(1).await;
    let text = String::from_utf8_lossy(&got[0].body).into_owned();
    assert!(text.contains("leaky"), "{text}");
    assert!(
        !text.contains("SECRET123") && !text.contains("pa55word"),
        "{text}"
    );
    gw.stop().await;
}

/// A chat webhook that answers every POST with a redirect to `to`.
async fn redirector(to: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let (h, to) = (h.clone(), to.clone());
        async move {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            (StatusCode::TEMPORARY_REDIRECT, [("location", to)]).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

#[tokio::test]
async fn alert_webhooks_do_not_follow_redirects() {
    let target = Receiver::start().await;
    let (url, hits) = redirector(format!("{}/stolen", target.url)).await;
    let gw = Gateway::start_with(|c| {
        c.alerts.check_interval_ms = 100;
        c.alerts.webhook_url = url;
    })
    .await;
    let rx = Receiver::scripted(vec![Reply::status(500)]).await;
    connect(&gw, "redir", json!({"name": "redir", "url": rx.url})).await;
    assert_eq!(gw.send("redir", "{}").await.0, 200);
    eventually("the alert webhook called", || async {
        (hits.load(std::sync::atomic::Ordering::SeqCst) >= 1).then_some(())
    })
    .await;
    // The redirect is a failed send: the alert is retried each round, never
    // followed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(target.received().is_empty(), "the redirect was followed");
    gw.stop().await;
}

#[tokio::test]
async fn alert_webhooks_go_through_the_egress_policy() {
    // Deliveries and the allowed channel on 127.0.0.1; the refused channel on
    // 127.0.0.2, outside `allow`.
    let gw = Gateway::start_with(|c| {
        c.alerts.check_interval_ms = 100;
        c.egress.block_private = true;
        c.egress.allow = vec!["127.0.0.1/32".into()];
    })
    .await;
    let refused = Receiver::on("127.0.0.2").await;
    let allowed = Receiver::start().await;
    // One round sends to `webhook` then `slack`: once `slack` has the alert,
    // `webhook` was tried first.
    gw.post(
        "/issue-triggers",
        json!({
            "type": "delivery",
            "configs": {"connections": "*"},
            "channels": {"webhook": {"url": refused.url}, "slack": {"url": allowed.url}},
        }),
    )
    .await;
    let rx = Receiver::scripted(vec![Reply::status(500)]).await;
    connect(&gw, "guarded", json!({"name": "guarded", "url": rx.url})).await;
    assert_eq!(gw.send("guarded", "{}").await.0, 200);
    allowed.wait_for(1).await;
    assert!(
        refused.received().is_empty(),
        "an alert reached 127.0.0.2 despite egress.block_private"
    );
    gw.stop().await;
}
