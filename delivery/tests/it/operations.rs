//! Operating deliveries, end to end on SQLite and PostgreSQL: rate and
//! concurrency limits, issues opened and resolved with one alert email and one
//! recovery note (real SMTP server), bulk retry by query, auto-disable with held
//! events, pause/unpause, and the metrics that show all of it.

use crate::common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::gateway::{eventually, Gateway, Receiver, Reply};
use common::smtp::SmtpServer;
use serde_json::{json, Value};

async fn connect(gw: &Gateway, name: &str, destination: Value, rules: Value) -> Value {
    gw.post(
        "/connections",
        json!({
            "name": format!("{name}-conn"),
            "source": {"name": name},
            "destination": destination,
            "rules": rules,
        }),
    )
    .await
}

fn count(v: &Value) -> usize {
    v["models"].as_array().map_or(0, Vec::len)
}

/// Events of a connection in `status`.
async fn events_in(gw: &Gateway, conn: &str, status: &str) -> Vec<Value> {
    let v = gw
        .get(&format!(
            "/events?webhook_id={conn}&status={status}&limit=250"
        ))
        .await;
    v["models"].as_array().cloned().unwrap_or_default()
}

// ---------------------------------------------------------------- rate limits

async fn rate_limit_holds(postgres: bool) {
    let Some(gw) = Gateway::start_backend(postgres, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    const RATE: usize = 20;
    const N: usize = 60;
    let conn = connect(
        &gw,
        "limited",
        json!({"name": "slow-api", "url": rx.url, "rate_limit": RATE, "rate_limit_period": "second"}),
        json!([]),
    )
    .await;
    let dest = conn["destination"]["id"].as_str().unwrap().to_owned();
    for i in 0..N {
        let (s, _) = gw.send("limited", format!(r#"{{"n":{i}}}"#)).await;
        assert_eq!(s, 200);
    }
    // Sent in far less than N / RATE seconds: most of them wait, and say so.
    let backlog = gw.get(&format!("/destinations/{dest}/backlog")).await;
    assert!(
        backlog["pending"].as_i64().unwrap() > (N / 2) as i64,
        "the backlog shows what waits: {backlog}"
    );
    assert!(backlog["oldest_pending_at"].is_i64(), "{backlog}");

    let got = rx.wait_for(N).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.received().len(), N, "each event delivered once");
    let times: Vec<_> = got.iter().map(|r| r.at).collect();
    // No window of one second holds more than the rate (+5%), anywhere in the run.
    let allowed = (RATE as f64 * 1.05).floor() as usize;
    for (i, start) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .take_while(|t| t.duration_since(*start) < Duration::from_secs(1))
            .count();
        assert!(
            in_window <= allowed,
            "{in_window} deliveries within one second from delivery {i} (limit {RATE}/s)"
        );
    }
    let span = times[N - 1].duration_since(times[0]).as_secs_f64();
    let rate = (N - 1) as f64 / span;
    assert!(rate <= RATE as f64 * 1.05, "{rate:.1}/s over the run");

    let metrics = gw
        .client
        .get(format!("{}/metrics", gw.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let delivered = metrics
        .lines()
        .find(|l| l.starts_with("hookyard_events_delivered_total") && l.contains(&dest))
        .unwrap_or_else(|| panic!("no delivered counter for {dest} in:\n{metrics}"));
    assert!(delivered.ends_with(&format!(" {N}")), "{delivered}");
    assert!(
        metrics.contains("hookyard_delivery_duration_seconds_bucket"),
        "latency histogram"
    );
    assert!(
        metrics.contains("hookyard_queue_depth"),
        "queue depth gauge"
    );
    assert!(metrics.contains("hookyard_requests_received_total"));
    gw.stop().await;
}

#[tokio::test]
async fn a_rate_limit_is_never_exceeded_sqlite() {
    rate_limit_holds(false).await;
}

#[tokio::test]
async fn a_rate_limit_is_never_exceeded_postgres() {
    rate_limit_holds(true).await;
}

#[tokio::test]
async fn a_concurrency_limit_caps_attempts_in_flight() {
    let gw = Gateway::start().await;
    let rx = Receiver::scripted_slow(vec![], Duration::from_millis(300)).await;
    connect(
        &gw,
        "conc",
        json!({"name": "one-at-a-time", "url": rx.url, "rate_limit": 2, "rate_limit_period": "concurrent"}),
        json!([]),
    )
    .await;
    for i in 0..8 {
        assert_eq!(gw.send("conc", format!("{i}")).await.0, 200);
    }
    let got = rx.wait_for(8).await;
    // Each reply takes 300 ms, so with two in flight no three arrive within 300 ms.
    let times: Vec<_> = got.iter().map(|r| r.at).collect();
    for w in times.windows(3) {
        assert!(
            w[2].duration_since(w[0]) >= Duration::from_millis(280),
            "three attempts in flight at once: {:?}",
            w[2].duration_since(w[0])
        );
    }
    gw.stop().await;
}

/// Three replicas on one PostgreSQL database: the first and two more started on
/// its database.
async fn three_replicas() -> Option<[Gateway; 3]> {
    let a = Gateway::start_postgres().await?;
    let url = a.database_url.clone();
    let b = Gateway::start_with({
        let url = url.clone();
        move |c| c.database_url = url
    })
    .await;
    let c = Gateway::start_with(move |c| c.database_url = url).await;
    Some([a, b, c])
}

/// The largest number of `times` (sorted) within any window of `width`.
fn most_within<T, D>(times: &[T], width: D) -> usize
where
    T: Copy + std::ops::Sub<Output = D>,
    D: PartialOrd,
{
    (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| **t - times[i] < width)
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// A destination limited to 20/s gets attempts started at most 21 in any second
/// from three replicas together (each enforcing the limit alone would start
/// 60/s), and receives them at no more than 21/s over the run.
///
/// Any second's count is taken on the attempts' start times as the gateways
/// recorded them, which is what the limit paces. Arrival times at the receiver
/// add each request's own latency: a replica's first attempt also loads the
/// destination and opens a connection, and under a loaded CI machine arrived up
/// to 50 ms after its slot, next to the one that followed (22 arrivals within
/// 998 ms, with attempts started 50 ms apart). They are printed, and their rate
/// over the run is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_share_a_rate_limit() {
    let Some(gws) = three_replicas().await else {
        return;
    };
    let rx = Receiver::start().await;
    const RATE: usize = 20;
    const N: usize = 90;
    let conn = connect(
        &gws[0],
        "shared-rate",
        json!({"name": "rate-api", "url": rx.url, "rate_limit": RATE, "rate_limit_period": "second"}),
        json!([]),
    )
    .await;
    for i in 0..N {
        let (s, _) = gws[i % 3]
            .send("shared-rate", format!(r#"{{"n":{i}}}"#))
            .await;
        assert_eq!(s, 200);
    }
    let got = rx.wait_for(N).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.received().len(), N, "each event delivered once");
    let arrivals: Vec<_> = got.iter().map(|r| r.at).collect();
    let arrived_most = most_within(&arrivals, Duration::from_secs(1));
    let span = arrivals[N - 1].duration_since(arrivals[0]).as_secs_f64();
    let rate = (N - 1) as f64 / span;

    let attempts = gws[0]
        .get(&format!(
            "/attempts?destination_id={}&limit=250",
            conn["destination"]["id"].as_str().unwrap()
        ))
        .await;
    let mut started: Vec<i64> = attempts["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            chrono::DateTime::parse_from_rfc3339(a["created_at"].as_str().unwrap())
                .unwrap()
                .timestamp_millis()
        })
        .collect();
    started.sort_unstable();
    assert_eq!(started.len(), N, "one attempt per event");
    let started_most = most_within(&started, 1000);
    eprintln!(
        "three replicas, limit {RATE}/s: at most {started_most} attempts started in a second \
         ({arrived_most} arrived), {rate:.2}/s over the run"
    );
    assert!(
        started_most <= RATE + 1,
        "{started_most} attempts started within one second (limit {RATE}/s)"
    );
    assert!(rate <= RATE as f64 * 1.05, "{rate:.1}/s over the run");
    for gw in gws {
        gw.stop().await;
    }
}

/// A destination taking two attempts at a time gets no more than two at once
/// from three replicas together.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_share_a_concurrency_cap() {
    let Some(gws) = three_replicas().await else {
        return;
    };
    let rx = Receiver::scripted_slow(vec![], Duration::from_millis(300)).await;
    connect(
        &gws[0],
        "shared-conc",
        json!({"name": "two-at-a-time", "url": rx.url, "max_concurrency": 2}),
        json!([]),
    )
    .await;
    const N: usize = 12;
    for i in 0..N {
        assert_eq!(gws[i % 3].send("shared-conc", format!("{i}")).await.0, 200);
    }
    let got = rx.wait_for(N).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.received().len(), N, "each event delivered once");
    let times: Vec<_> = got.iter().map(|r| r.at).collect();
    // Each reply takes 300 ms, so with two in flight no three arrive within 300 ms.
    let most = most_within(&times, Duration::from_millis(280));
    eprintln!("three replicas, two at a time: at most {most} arrivals within 280 ms");
    assert!(most <= 2, "{most} attempts in flight at once (cap 2)");
    for gw in gws {
        gw.stop().await;
    }
}

#[tokio::test]
async fn bad_limits_are_refused_with_the_field_named() {
    let gw = Gateway::start().await;
    for (body, field) in [
        (
            json!({"name": "a", "url": "http://127.0.0.1:1", "rate_limit": 0}),
            "rate_limit",
        ),
        (
            json!({"name": "b", "url": "http://127.0.0.1:1", "max_concurrency": -1}),
            "max_concurrency",
        ),
        (
            json!({"name": "c", "url": "http://127.0.0.1:1", "auto_disable_after": -5}),
            "auto_disable_after",
        ),
        (
            json!({"name": "d", "url": "http://127.0.0.1:1", "rate_limit": 5, "rate_limit_period": "fortnight"}),
            "rate_limit_period",
        ),
    ] {
        let (s, v) = gw.call(Method::POST, "/destinations", Some(body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert!(v["message"].as_str().unwrap().contains(field), "{v}");
    }
    // null removes a limit.
    let d = gw
        .post(
            "/destinations",
            json!({"name": "e", "url": "http://127.0.0.1:1", "rate_limit": 5}),
        )
        .await;
    assert_eq!(d["rate_limit"], 5);
    let id = d["id"].as_str().unwrap();
    let d = gw
        .put(&format!("/destinations/{id}"), json!({"rate_limit": null}))
        .await;
    assert_eq!(d["rate_limit"], Value::Null);
    assert_eq!(d["rate_limit_period"], Value::Null);
    gw.stop().await;
}

// ------------------------------------------------- issues and alert emails

async fn issue_opens_alerts_once_and_recovers(postgres: bool) {
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    let port = smtp.port;
    let Some(gw) = Gateway::start_backend(postgres, |c| {
        c.alerts.check_interval_ms = 100;
        c.alerts.digest_interval_secs = 3600;
        c.alerts.email.smtp_host = "127.0.0.1".into();
        c.alerts.email.smtp_port = port;
        c.alerts.email.tls = hookyard::config::SmtpTls::None;
        c.alerts.email.from = "Hookyard <alerts@hookyard.test>".into();
    })
    .await
    else {
        return;
    };
    let chat = Receiver::start().await;
    let trigger = gw
        .post(
            "/issue-triggers",
            json!({
                "type": "delivery",
                "name": "orders-oncall",
                "configs": {"strategy": "first_attempt", "connections": "orders-*"},
                "channels": {"email": {"to": ["oncall@example.com"]}, "webhook": {"url": chat.url}},
            }),
        )
        .await;
    assert_eq!(trigger["type"], "delivery");

    let rx = Receiver::scripted(vec![
        Reply {
            status: 500,
            retry_after: None,
            body: r#"{"error":"database is down"}"#.into(),
        },
        Reply::status(500),
        Reply::status(500),
    ])
    .await;
    let conn = connect(
        &gw,
        "orders",
        json!({"name": "orders-api", "url": rx.url}),
        json!([{"type": "retry", "strategy": "linear", "interval": 400, "count": 5}]),
    )
    .await;
    let conn_id = conn["id"].as_str().unwrap().to_owned();
    assert_eq!(gw.send("orders", r#"{"order":1}"#).await.0, 200);

    // Three failures, then the fourth attempt succeeds.
    let event = gw
        .wait_event(&format!("webhook_id={conn_id}"), "SUCCESSFUL")
        .await;
    assert_eq!(event["attempts"], 4);
    let issue = eventually("the issue resolved", || async {
        let v = gw.get(&format!("/issues?webhook_id={conn_id}")).await;
        v["models"]
            .as_array()
            .and_then(|m| m.first().cloned())
            .filter(|i| i["status"] == "RESOLVED")
    })
    .await;
    assert_eq!(issue["type"], "delivery");
    assert_eq!(
        issue["event_count"], 3,
        "three failures, one issue: {issue}"
    );
    assert_eq!(issue["aggregation_keys"]["response_status"], json!([500]));
    assert_eq!(issue["aggregation_keys"]["webhook_id"], json!([conn_id]));
    assert!(issue["auto_resolved_at"].is_string());
    assert_eq!(issue["reference"]["event_id"], event["id"]);
    let c = gw.get("/issues/count?status=RESOLVED").await;
    assert_eq!(c["count"], 1);

    let mails = eventually("an alert and a recovery email", || async {
        let m = smtp.messages();
        (m.len() >= 2).then_some(m)
    })
    .await;
    // Nothing more comes: one alert per opening, one recovery.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mails_after = smtp.messages();
    assert_eq!(mails_after.len(), 2, "{mails_after:#?}");
    let (alert, recovery) = (&mails[0], &mails[1]);
    assert!(
        alert.subject.starts_with("[Hookyard] Failing: orders-api"),
        "{}",
        alert.subject
    );
    assert!(alert.subject.contains("HTTP 500"), "{}", alert.subject);
    assert_eq!(alert.to, "oncall@example.com");
    assert!(
        alert.from.contains("alerts@hookyard.test"),
        "{}",
        alert.from
    );
    for needle in [
        "Destination: orders-api",
        "Connection: orders-conn",
        "Response status: 500",
        "database is down",
        &format!("Sample event: {}", event["id"].as_str().unwrap()),
        &format!(
            "{}/2024-09-01/events/{}",
            gw.base,
            event["id"].as_str().unwrap()
        ),
    ] {
        assert!(
            alert.body.contains(needle),
            "alert lacks {needle:?}:\n{}",
            alert.body
        );
    }
    assert!(
        recovery
            .subject
            .starts_with("[Hookyard] Recovered: orders-api"),
        "{}",
        recovery.subject
    );

    // The chat webhook got the same two, as Slack-compatible JSON.
    let chats = chat.wait_for(2).await;
    let texts: Vec<String> = chats
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            v["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert!(texts[0].contains("Failing: orders-api"), "{texts:?}");
    assert!(texts[1].contains("Recovered: orders-api"), "{texts:?}");

    // Acknowledge, ignore and dismiss by hand.
    let id = issue["id"].as_str().unwrap();
    let v = gw
        .put(&format!("/issues/{id}"), json!({"status": "ACKNOWLEDGED"}))
        .await;
    assert_eq!(v["status"], "ACKNOWLEDGED");
    let (s, v) = gw
        .call(
            Method::PUT,
            &format!("/issues/{id}"),
            Some(json!({"status": "FIXED"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = gw
        .call(Method::DELETE, &format!("/issues/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["dismissed_at"].is_string());
    gw.stop().await;
}

/// A broker source that cannot be consumed opens a `source` issue; the
/// triggers whose `sources` match it alert in words, and its recovery is told.
/// (The failures are recorded as the broker consumers record them.)
#[tokio::test]
async fn a_source_issue_alerts_the_triggers_of_its_source_and_recovers() {
    use hookyard::model::{Failure, IssueType};
    use hookyard::store::{SqliteSync, Store};

    let gw = Gateway::start_with(|c| c.alerts.check_interval_ms = 100).await;
    let chat = Receiver::start().await;
    let trigger = gw
        .post(
            "/issue-triggers",
            json!({"type": "source", "configs": {"sources": "orders-*"},
                   "channels": {"webhook": {"url": chat.url}}}),
        )
        .await;
    assert_eq!(trigger["type"], "source");
    assert_eq!(trigger["configs"]["sources"], "orders-*");
    let orders = gw.post("/sources", json!({"name": "orders-queue"})).await;
    let orders_id = orders["id"].as_str().unwrap().to_owned();
    let billing = gw.post("/sources", json!({"name": "billing-queue"})).await;
    let billing_id = billing["id"].as_str().unwrap().to_owned();

    let store = Store::connect(&gw.database_url, SqliteSync::Normal)
        .await
        .unwrap();
    let down = |id: &str| Failure {
        issue_type: IssueType::Source,
        source_id: Some(id.to_owned()),
        error_code: Some("CONNECTION_REFUSED".into()),
        connection_id: None,
        destination_id: None,
        response_status: None,
        event_id: None,
        attempt_id: None,
        is_final: false,
    };
    let now = hookyard::clock::now_ms();
    store
        .record_failures(&[down(&orders_id), down(&billing_id)], now)
        .await
        .unwrap();

    let v = gw
        .get(&format!("/issues?type=source&source_id={orders_id}"))
        .await;
    assert_eq!(count(&v), 1, "{v}");
    let issue = &v["models"][0];
    assert_eq!(issue["type"], "source");
    assert_eq!(issue["source_id"], orders_id.as_str());
    assert_eq!(
        issue["aggregation_keys"],
        json!({"source_id": [orders_id], "error_code": ["CONNECTION_REFUSED"]})
    );
    assert_eq!(issue["reference"], json!({"source_id": orders_id}));

    let first = chat.wait_for(1).await;
    let text = |r: &common::gateway::Received| -> String {
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        v["text"].as_str().unwrap().to_owned()
    };
    assert!(
        text(&first[0])
            .contains("Source `orders-queue` (WEBHOOK) cannot be consumed: CONNECTION_REFUSED"),
        "{}",
        text(&first[0])
    );

    let resolved = store
        .resolve_source_issues(&orders_id, now + 1)
        .await
        .unwrap();
    assert_eq!(resolved.len(), 1);
    let all = chat.wait_for(2).await;
    assert!(
        text(&all[1]).contains("Recovered: Source `orders-queue` is consumed again"),
        "{}",
        text(&all[1])
    );
    // billing-queue is no trigger's: its issue is open, and nobody was told.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(chat.received().len(), 2, "{:?}", chat.received());
    let v = gw
        .get(&format!("/issues?type=source&source_id={billing_id}"))
        .await;
    assert_eq!(v["models"][0]["status"], "OPENED");
    drop(store);
    gw.stop().await;
}

#[tokio::test]
async fn an_issue_opens_alerts_once_and_recovers_sqlite() {
    issue_opens_alerts_once_and_recovers(false).await;
}

#[tokio::test]
async fn an_issue_opens_alerts_once_and_recovers_postgres() {
    issue_opens_alerts_once_and_recovers(true).await;
}

#[tokio::test]
async fn a_threshold_holds_the_alert_until_it_is_reached_and_a_digest_follows() {
    let gw = Gateway::start_with(|c| {
        c.alerts.check_interval_ms = 100;
        c.alerts.digest_interval_secs = 1;
    })
    .await;
    let chat = Receiver::start().await;
    gw.post(
        "/issue-triggers",
        json!({
            "type": "delivery",
            "configs": {"connections": "*", "threshold": {"consecutive_failures": 3}},
            "channels": {"webhook": {"url": chat.url}},
        }),
    )
    .await;
    let rx = Receiver::scripted(vec![Reply::status(502); 50]).await;
    connect(
        &gw,
        "flaky",
        json!({"name": "flaky-api", "url": rx.url}),
        json!([{"type": "retry", "strategy": "linear", "interval": 300, "count": 20}]),
    )
    .await;
    gw.send("flaky", "{}").await;
    rx.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(
        chat.received().is_empty(),
        "two failures are under the threshold of three"
    );
    let got = chat.wait_for(2).await;
    let text = |i: usize| -> String {
        let v: Value = serde_json::from_slice(&got[i].body).unwrap();
        v["text"].as_str().unwrap().to_owned()
    };
    assert!(text(0).contains("Failing: flaky-api"), "{}", text(0));
    assert!(
        text(1).contains("Digest: 1 issue(s) still failing"),
        "{}",
        text(1)
    );
    gw.stop().await;
}

#[tokio::test]
async fn triggers_refuse_bad_configs_with_the_field_named() {
    let gw = Gateway::start().await;
    for (body, needle) in [
        (json!({"type": "outage", "channels": {}}), "type"),
        (
            json!({"type": "delivery", "channels": {"email": {"to": ["not an address"]}}}),
            "channels.email.to",
        ),
        (
            json!({"type": "delivery", "channels": {"webhook": {"url": "ftp://x"}}}),
            "channels.webhook.url",
        ),
        (
            json!({"type": "delivery", "configs": {"threshold": {"consecutive_failures": 0}}, "channels": {}}),
            "consecutive_failures",
        ),
        (
            json!({"type": "delivery", "configs": {"strategy": "sometimes"}, "channels": {}}),
            "configs.strategy",
        ),
        // Seconds, as Hookyard used to read it: refused, with the unit and range.
        (
            json!({"type": "backpressure", "configs": {"delay": 300}, "channels": {}}),
            "configs.delay is in milliseconds, from 60000 (1 minute) to 86400000 (1 day)",
        ),
        (
            json!({"type": "backpressure", "configs": {"delay": 86_400_001}, "channels": {}}),
            "configs.delay is in milliseconds",
        ),
        (
            json!({"type": "backpressure", "configs": {"delay": -1}, "channels": {}}),
            "configs.delay",
        ),
    ] {
        let (s, v) = gw.call(Method::POST, "/issue-triggers", Some(body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{needle}: {v}"
        );
    }
    gw.stop().await;
}

#[tokio::test]
async fn triggers_list_in_pages_with_hookdecks_filters() {
    let gw = Gateway::start().await;
    let mut ids = Vec::new();
    for (name, ty, configs) in [
        ("a-delivery", "delivery", json!({})),
        ("b-backpressure", "backpressure", json!({"delay": 60_000})),
        ("c-transformation", "transformation", json!({})),
    ] {
        let t = gw
            .post(
                "/issue-triggers",
                json!({"name": name, "type": ty, "configs": configs, "channels": {}}),
            )
            .await;
        ids.push(t["id"].as_str().unwrap().to_owned());
    }
    gw.put(&format!("/issue-triggers/{}/disable", ids[2]), json!({}))
        .await;
    let names = |v: &Value| -> Vec<String> {
        v["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };

    // Newest first, as the other lists; `dir=asc` turns it around.
    let all = gw.get("/issue-triggers").await;
    assert_eq!(all["count"], 3);
    assert_eq!(
        names(&all),
        ["c-transformation", "b-backpressure", "a-delivery"]
    );
    let asc = gw.get("/issue-triggers?dir=asc&order_by=created_at").await;
    assert_eq!(
        names(&asc),
        ["a-delivery", "b-backpressure", "c-transformation"]
    );

    // Pages: two, then one, and back.
    let p1 = gw.get("/issue-triggers?limit=2").await;
    assert_eq!(names(&p1), ["c-transformation", "b-backpressure"]);
    assert_eq!(p1["pagination"]["limit"], 2);
    let next = p1["pagination"]["next"].as_str().unwrap();
    let p2 = gw
        .get(&format!("/issue-triggers?limit=2&next={next}"))
        .await;
    assert_eq!(names(&p2), ["a-delivery"]);
    assert!(p2["pagination"]["next"].is_null());
    let prev = p2["pagination"]["prev"].as_str().unwrap();
    let back = gw
        .get(&format!("/issue-triggers?limit=2&prev={prev}"))
        .await;
    assert_eq!(names(&back), names(&p1));

    // Filters.
    let v = gw.get("/issue-triggers?type=backpressure").await;
    assert_eq!(names(&v), ["b-backpressure"]);
    assert_eq!(v["count"], 1);
    let v = gw.get("/issue-triggers?name=a-delivery").await;
    assert_eq!(names(&v), ["a-delivery"]);
    let v = gw.get("/issue-triggers?disabled_at%5Bany%5D=true").await;
    assert_eq!(names(&v), ["c-transformation"]);
    let v = gw
        .get("/issue-triggers?disabled_at[any]=false&dir=asc")
        .await;
    assert_eq!(names(&v), ["a-delivery", "b-backpressure"]);
    let v = gw
        .get("/issue-triggers?disabled_at[any]=false&type=transformation")
        .await;
    assert_eq!(v["count"], 0);

    // What Hookyard does not take is refused, named; never an unfiltered list.
    for (query, needle) in [
        ("disabled_at=2024-01-01T00:00:00Z", "`disabled_at`"),
        (
            "disabled_at%5Bgte%5D=2024-01-01T00:00:00Z",
            "`disabled_at[gte]`",
        ),
        ("channels=email", "`channels`"),
        (
            "type=outage",
            "type must be delivery, transformation, backpressure or source",
        ),
        ("type=delivery&type=backpressure", "type"),
        (
            "disabled_at[any]=yes",
            "disabled_at[any] must be true or false",
        ),
        ("order_by=name", "order_by must be `created_at` or `type`"),
        ("limit=0", "limit must be between 1 and 250"),
    ] {
        let (s, v) = gw
            .call(Method::GET, &format!("/issue-triggers?{query}"), None)
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{query}: {v}"
        );
    }
    gw.stop().await;
}

// ----------------------------------------------------------------- bulk retry

async fn bulk_retry_plan_matches(postgres: bool) {
    let Some(gw) = Gateway::start_backend(postgres, |_| {}).await else {
        return;
    };
    let rx = Receiver::scripted(vec![Reply::status(404); 8]).await;
    let conn = connect(
        &gw,
        "bulk",
        json!({"name": "bulk-api", "url": rx.url}),
        json!([{"type": "retry", "strategy": "linear", "interval": 1000, "count": 0}]),
    )
    .await;
    let conn_id = conn["id"].as_str().unwrap().to_owned();
    for i in 0..8 {
        let kind = if i < 5 { "a" } else { "b" };
        gw.send("bulk", format!(r#"{{"kind":"{kind}","i":{i}}}"#))
            .await;
    }
    eventually("8 failed events", || async {
        (events_in(&gw, &conn_id, "FAILED").await.len() == 8).then_some(())
    })
    .await;

    let query = json!({"status": "FAILED", "webhook_id": conn_id, "body": {"kind": "a"}});
    let plan = gw
        .get(&format!(
            "/bulk/events/retry/plan?query={}",
            urlencode(&query.to_string())
        ))
        .await;
    assert_eq!(plan["estimated_count"], 5, "{plan}");
    let (s, v) = gw
        .call(
            Method::GET,
            "/bulk/events/retry/plan?query={\"status\":\"LOST\"}",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    // The issue those failures were grouped into selects all eight.
    let issues = gw.get(&format!("/issues?webhook_id={conn_id}")).await;
    let issue_id = issues["models"][0]["id"].as_str().unwrap();
    let all = gw
        .get(&format!(
            "/bulk/events/retry/plan?query={}",
            urlencode(&json!({"issue_id": issue_id}).to_string())
        ))
        .await;
    assert_eq!(all["estimated_count"], 8, "{all}");

    let op = gw.post("/bulk/events/retry", json!({"query": query})).await;
    assert_eq!(op["estimated_count"], plan["estimated_count"]);
    let id = op["id"].as_str().unwrap().to_owned();
    let done = eventually("the bulk retry to complete", || async {
        let v = gw.get(&format!("/bulk/events/retry/{id}")).await;
        (v["in_progress"] == false).then_some(v)
    })
    .await;
    assert_eq!(done["completed_count"], 5, "{done}");
    assert_eq!(done["progress"], 1.0);
    eventually("5 events delivered", || async {
        (events_in(&gw, &conn_id, "SUCCESSFUL").await.len() == 5).then_some(())
    })
    .await;
    let failed = events_in(&gw, &conn_id, "FAILED").await;
    assert_eq!(failed.len(), 3, "the other kind stays failed");
    let list = gw.get("/bulk/events/retry").await;
    assert_eq!(count(&list), 1);
    gw.stop().await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn bulk_retry_retries_what_its_plan_counted_sqlite() {
    bulk_retry_plan_matches(false).await;
}

#[tokio::test]
async fn bulk_retry_retries_what_its_plan_counted_postgres() {
    bulk_retry_plan_matches(true).await;
}

// ------------------------------------------------ auto-disable, hold, pause

async fn auto_disable_holds_then_enable_delivers(postgres: bool) {
    let chat = Receiver::start().await;
    let chat_url = chat.url.clone();
    let Some(gw) = Gateway::start_backend(postgres, |c| {
        c.alerts.check_interval_ms = 100;
        c.alerts.webhook_url = chat_url;
    })
    .await
    else {
        return;
    };
    let rx = Receiver::scripted(vec![Reply::status(503); 3]).await;
    let conn = connect(
        &gw,
        "fragile",
        json!({"name": "fragile-api", "url": rx.url, "auto_disable_after": 3}),
        json!([{"type": "retry", "strategy": "linear", "interval": 200, "count": 10}]),
    )
    .await;
    let conn_id = conn["id"].as_str().unwrap().to_owned();
    let dest = conn["destination"]["id"].as_str().unwrap().to_owned();
    assert_eq!(gw.send("fragile", "first").await.0, 200);
    let d = eventually("the destination disabled", || async {
        let d = gw.get(&format!("/destinations/{dest}")).await;
        d["disabled_at"].is_string().then_some(d)
    })
    .await;
    assert!(
        d["disabled_reason"].as_str().unwrap().contains("HTTP 503"),
        "{d}"
    );
    for i in 0..5 {
        assert_eq!(gw.send("fragile", format!("held-{i}")).await.0, 200);
    }
    // All six wait as HOLD: not failed, not dropped, not attempted.
    eventually("six held events", || async {
        (events_in(&gw, &conn_id, "HOLD").await.len() == 6).then_some(())
    })
    .await;
    assert_eq!(rx.received().len(), 3);
    let backlog = gw.get(&format!("/destinations/{dest}/backlog")).await;
    assert_eq!(backlog["held"], 6, "{backlog}");
    // The default webhook hears of the issue, then of the destination disabled.
    let text = eventually("a disabled-destination alert", || async {
        chat.received()
            .iter()
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .find(|t| t.contains("Disabled: fragile-api"))
    })
    .await;
    assert!(text.contains("held"), "{text}");

    let d = gw
        .put(&format!("/destinations/{dest}/enable"), json!({}))
        .await;
    assert_eq!(d["disabled_reason"], Value::Null);
    let got = rx.wait_for(9).await;
    eventually("all six delivered", || async {
        (events_in(&gw, &conn_id, "SUCCESSFUL").await.len() == 6).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_after = rx.received();
    assert_eq!(got_after.len(), 9, "none delivered twice");
    let mut bodies: Vec<String> = got[3..]
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    bodies.sort();
    assert_eq!(
        bodies,
        ["first", "held-0", "held-1", "held-2", "held-3", "held-4"]
    );
    let first = events_in(&gw, &conn_id, "SUCCESSFUL")
        .await
        .into_iter()
        .find(|e| e["attempts"] == 4)
        .expect("the first event, with its three failures and the delivery");
    assert_eq!(first["status"], "SUCCESSFUL");
    gw.stop().await;
}

#[tokio::test]
async fn auto_disable_holds_events_and_enable_delivers_them_once_sqlite() {
    auto_disable_holds_then_enable_delivers(false).await;
}

#[tokio::test]
async fn auto_disable_holds_events_and_enable_delivers_them_once_postgres() {
    auto_disable_holds_then_enable_delivers(true).await;
}

async fn pause_holds_and_unpause_releases(postgres: bool) {
    let Some(gw) = Gateway::start_backend(postgres, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    let conn = connect(
        &gw,
        "pausable",
        json!({"name": "p-api", "url": rx.url}),
        json!([]),
    )
    .await;
    let id = conn["id"].as_str().unwrap().to_owned();
    let c = gw.put(&format!("/connections/{id}/pause"), json!({})).await;
    assert!(c["paused_at"].is_string());
    for i in 0..4 {
        gw.send("pausable", format!("{i}")).await;
    }
    eventually("four held", || async {
        (events_in(&gw, &id, "HOLD").await.len() == 4).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.received().is_empty());
    gw.put(&format!("/connections/{id}/unpause"), json!({}))
        .await;
    rx.wait_for(4).await;
    let delivered = eventually("four delivered", || async {
        let e = events_in(&gw, &id, "SUCCESSFUL").await;
        (e.len() == 4).then_some(e)
    })
    .await;
    for e in delivered {
        let attempts = gw
            .get(&format!("/attempts?event_id={}", e["id"].as_str().unwrap()))
            .await;
        assert_eq!(attempts["models"][0]["trigger"], "UNPAUSE");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.received().len(), 4);
    gw.stop().await;
}

#[tokio::test]
async fn pause_holds_and_unpause_releases_sqlite() {
    pause_holds_and_unpause_releases(false).await;
}

#[tokio::test]
async fn pause_holds_and_unpause_releases_postgres() {
    pause_holds_and_unpause_releases(true).await;
}

/// Moves the creation time of `destination`'s events `ms` into the past. The
/// monitor measures a backlog's age from `created_at` alone, so this is how a
/// test gets a backlog older than the one-minute minimum `delay` without
/// waiting a minute.
async fn age_backlog(database_url: &str, destination: &str, ms: i64) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(database_url)
        .await
        .expect("open the gateway's database");
    let n = sqlx::query("UPDATE events SET created_at = created_at - $1 WHERE destination_id = $2")
        .bind(ms)
        .bind(destination.to_owned())
        .execute(&mut db)
        .await
        .expect("age the backlog")
        .rows_affected();
    assert!(n > 0, "no events of {destination} to age");
}

async fn backpressure_opens_and_resolves(postgres: bool) {
    let Some(gw) = Gateway::start_backend(postgres, |c| c.alerts.check_interval_ms = 100).await
    else {
        return;
    };
    let chat = Receiver::start().await;
    let trigger = gw
        .post(
            "/issue-triggers",
            json!({
                "type": "backpressure",
                "configs": {"destinations": "trickle-*", "delay": 60_000},
                "channels": {"webhook": {"url": chat.url}},
            }),
        )
        .await;
    assert_eq!(
        trigger["configs"]["delay"], 60_000,
        "milliseconds, as given"
    );
    let rx = Receiver::start().await;
    let conn = connect(
        &gw,
        "trickle",
        json!({"name": "trickle-api", "url": rx.url}),
        json!([]),
    )
    .await;
    let conn_id = conn["id"].as_str().unwrap().to_owned();
    let dest = conn["destination"]["id"].as_str().unwrap().to_owned();
    // A paused connection keeps its events waiting: a backlog that does not drain.
    gw.put(&format!("/connections/{conn_id}/pause"), json!({}))
        .await;
    for i in 0..3 {
        gw.send("trickle", format!("{i}")).await;
    }
    eventually("three held", || async {
        (events_in(&gw, &conn_id, "HOLD").await.len() == 3).then_some(())
    })
    .await;
    // Seconds old is well under a minute: no issue.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(count(&gw.get("/issues?type=backpressure").await), 0);

    // Two minutes old is over it.
    age_backlog(&gw.database_url, &dest, 120_000).await;
    let issue = eventually("a backpressure issue", || async {
        let v = gw.get("/issues?type=backpressure").await;
        v["models"].as_array().and_then(|m| m.first().cloned())
    })
    .await;
    assert_eq!(issue["aggregation_keys"]["destination_id"], json!([dest]));
    let text = eventually("a backpressure alert", || async {
        chat.received()
            .iter()
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .find(|t| t.contains("trickle-api"))
    })
    .await;
    assert!(text.contains("BACKPRESSURE"), "{text}");
    // Once the backlog drains, the issue resolves.
    gw.put(&format!("/connections/{conn_id}/unpause"), json!({}))
        .await;
    rx.wait_for(3).await;
    eventually("the backpressure issue resolved", || async {
        let v = gw.get("/issues?type=backpressure&status=RESOLVED").await;
        (count(&v) == 1).then_some(())
    })
    .await;
    gw.stop().await;
}

#[tokio::test]
async fn a_backlog_older_than_its_trigger_allows_opens_a_backpressure_issue_sqlite() {
    backpressure_opens_and_resolves(false).await;
}

#[tokio::test]
async fn a_backlog_older_than_its_trigger_allows_opens_a_backpressure_issue_postgres() {
    backpressure_opens_and_resolves(true).await;
}
