//! PagerDuty and Opsgenie channels, end to end: local stubs of the two services
//! check each request the way the services do (required fields, event actions,
//! limits, the `GenieKey` header) and answer as they do (202 and their bodies,
//! or a 429 / 503 to see the alert sent again), while a real gateway opens,
//! resolves and dismisses issues.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use common::gateway::{eventually, Gateway, Receiver, Reply};
use serde_json::{json, Value};

const ROUTING_KEY: &str = "R0UT1NGKEY0123456789abcdef012345";
const GENIE_KEY: &str = "eb243592-faa2-4ba2-a551-1afdf565c889";

/// One request a stub accepted.
#[derive(Debug, Clone)]
struct Got {
    /// `trigger` / `resolve` (PagerDuty), `create` / `close` (Opsgenie).
    action: String,
    /// `dedup_key` or `alias`.
    key: String,
    body: Value,
}

#[derive(Default)]
struct StubState {
    got: Mutex<Vec<Got>>,
    /// What the stub refused, and why: a test asserts it stays empty.
    refused: Mutex<Vec<String>>,
    /// This many requests are answered with the failure status first.
    fail_first: AtomicUsize,
    /// Requests seen, failed or not.
    seen: AtomicUsize,
}

struct Stub {
    url: String,
    state: Arc<StubState>,
}

/// Serves `router` on a free port of 127.0.0.1; returns its base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

impl Stub {
    async fn pagerduty(fail_first: usize) -> Stub {
        let state = Arc::new(StubState::default());
        state.fail_first.store(fail_first, Ordering::SeqCst);
        let router = Router::new()
            .route("/v2/enqueue", post(pd_enqueue))
            .with_state(state.clone());
        Stub {
            url: serve(router).await,
            state,
        }
    }

    async fn opsgenie(fail_first: usize) -> Stub {
        let state = Arc::new(StubState::default());
        state.fail_first.store(fail_first, Ordering::SeqCst);
        let router = Router::new()
            .route("/v2/alerts", post(og_create))
            .route("/v2/alerts/{alias}/close", post(og_close))
            .with_state(state.clone());
        Stub {
            url: serve(router).await,
            state,
        }
    }

    fn got(&self) -> Vec<Got> {
        self.state.got.lock().unwrap().clone()
    }

    fn assert_nothing_refused(&self) {
        let refused = self.state.refused.lock().unwrap().clone();
        assert!(refused.is_empty(), "the stub refused: {refused:#?}");
    }

    /// Waits for `n` accepted requests.
    async fn wait_for(&self, n: usize) -> Vec<Got> {
        eventually(
            &format!("{n} accepted requests at {}", self.url),
            || async {
                self.assert_nothing_refused();
                let got = self.got();
                (got.len() >= n).then_some(got)
            },
        )
        .await
    }
}

/// Records a refusal and answers it as the service answers a bad request.
fn refuse(st: &StubState, why: Vec<String>, answer: Value) -> (StatusCode, Json<Value>) {
    st.refused.lock().unwrap().extend(why);
    (StatusCode::BAD_REQUEST, Json(answer))
}

fn nonempty_str(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.is_empty())
}

/// PagerDuty Events API v2, `POST /v2/enqueue`.
async fn pd_enqueue(
    State(st): State<Arc<StubState>>,
    body: axum::body::Bytes,
) -> (StatusCode, Json<Value>) {
    st.seen.fetch_add(1, Ordering::SeqCst);
    if st
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            Json(
                json!({"status": "throttle event", "message": "Requests for this service are arriving too quickly. Please retry later."}),
            ),
        );
    }
    let invalid = |errors: Vec<String>| json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors});
    let Ok(e) = serde_json::from_slice::<Value>(&body) else {
        return refuse(&st, vec!["not JSON".into()], invalid(vec![]));
    };
    let mut errors = Vec::new();
    if e["routing_key"] != ROUTING_KEY {
        errors.push(format!("routing_key {}", e["routing_key"]));
    }
    let action = e["event_action"].as_str().unwrap_or_default().to_owned();
    if !["trigger", "resolve"].contains(&action.as_str()) {
        errors.push(format!("event_action {}", e["event_action"]));
    }
    if !nonempty_str(&e["dedup_key"]) || e["dedup_key"].as_str().unwrap_or("").len() > 255 {
        errors.push(format!("dedup_key {}", e["dedup_key"]));
    }
    if action == "trigger" {
        let p = &e["payload"];
        let summary = p["summary"].as_str().unwrap_or_default();
        if summary.is_empty() || summary.chars().count() > 1024 {
            errors.push(format!("payload.summary {}", p["summary"]));
        }
        if !nonempty_str(&p["source"]) {
            errors.push("payload.source".into());
        }
        if !["critical", "error", "warning", "info"].contains(&p["severity"].as_str().unwrap_or(""))
        {
            errors.push(format!("payload.severity {}", p["severity"]));
        }
        if let Some(t) = p.get("timestamp") {
            if chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap_or("")).is_err() {
                errors.push(format!("payload.timestamp {t}"));
            }
        }
        if !p["custom_details"].is_object() {
            errors.push("payload.custom_details".into());
        }
        for l in e["links"].as_array().cloned().unwrap_or_default() {
            if !nonempty_str(&l["href"]) {
                errors.push(format!("links {l}"));
            }
        }
    }
    if !errors.is_empty() {
        return refuse(&st, errors.clone(), invalid(errors));
    }
    let key = e["dedup_key"].as_str().unwrap_or_default().to_owned();
    st.got.lock().unwrap().push(Got {
        action,
        key: key.clone(),
        body: e,
    });
    (
        StatusCode::ACCEPTED,
        Json(json!({"status": "success", "message": "Event processed", "dedup_key": key})),
    )
}

/// Opsgenie's answer to a request it took.
fn og_accepted() -> (StatusCode, Json<Value>) {
    (
        StatusCode::ACCEPTED,
        Json(json!({
            "result": "Request will be processed",
            "took": 0.107,
            "requestId": "43a29c5c-3dbf-4fa4-9c26-f4f71023e120",
        })),
    )
}

/// Checks the `GenieKey` header and the scripted failures; `Some` answer ends
/// the request there.
fn og_gate(st: &StubState, headers: &HeaderMap) -> Option<(StatusCode, Json<Value>)> {
    st.seen.fetch_add(1, Ordering::SeqCst);
    if st
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return Some((
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"message": "Service Unavailable", "took": 0.0})),
        ));
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != format!("GenieKey {GENIE_KEY}") {
        st.refused
            .lock()
            .unwrap()
            .push(format!("Authorization {auth:?}"));
        return Some((
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Could not authenticate", "took": 0.0})),
        ));
    }
    None
}

/// Opsgenie `POST /v2/alerts`.
async fn og_create(
    State(st): State<Arc<StubState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, Json<Value>) {
    if let Some(answer) = og_gate(&st, &headers) {
        return answer;
    }
    let Ok(a) = serde_json::from_slice::<Value>(&body) else {
        return refuse(&st, vec!["not JSON".into()], json!({"message": "bad"}));
    };
    let mut errors = Vec::new();
    let message = a["message"].as_str().unwrap_or_default();
    if message.is_empty() || message.chars().count() > 130 {
        errors.push(format!("message of {} characters", message.chars().count()));
    }
    let alias = a["alias"].as_str().unwrap_or_default();
    if alias.is_empty() || alias.chars().count() > 512 {
        errors.push(format!("alias {}", a["alias"]));
    }
    if a["description"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .count()
        > 15_000
    {
        errors.push("description over 15000 characters".into());
    }
    match a["details"].as_object() {
        Some(d) if d.values().all(Value::is_string) => {}
        _ => errors.push(format!("details must map to strings: {}", a["details"])),
    }
    if !["P1", "P2", "P3", "P4", "P5"].contains(&a["priority"].as_str().unwrap_or("")) {
        errors.push(format!("priority {}", a["priority"]));
    }
    if !nonempty_str(&a["source"]) {
        errors.push("source".into());
    }
    if !errors.is_empty() {
        return refuse(
            &st,
            errors,
            json!({"message": "Request body is not processable"}),
        );
    }
    st.got.lock().unwrap().push(Got {
        action: "create".into(),
        key: alias.to_owned(),
        body: a,
    });
    og_accepted()
}

/// Opsgenie `POST /v2/alerts/{alias}/close?identifierType=alias`.
async fn og_close(
    State(st): State<Arc<StubState>>,
    Path(alias): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, Json<Value>) {
    if let Some(answer) = og_gate(&st, &headers) {
        return answer;
    }
    if query.as_deref() != Some("identifierType=alias") {
        return refuse(
            &st,
            vec![format!("close query {query:?}")],
            json!({"message": "identifierType"}),
        );
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    st.got.lock().unwrap().push(Got {
        action: "close".into(),
        key: alias,
        body,
    });
    og_accepted()
}

async fn gateway(postgres: bool, pd: &Stub, og: &Stub) -> Option<Gateway> {
    let (pd_url, og_url) = (pd.url.clone(), og.url.clone());
    Gateway::start_backend(postgres, move |c| {
        c.alerts.check_interval_ms = 100;
        c.alerts.digest_interval_secs = 3600;
        c.alerts.pagerduty_url = pd_url;
        // The US instance is not used: a request there would not be answered.
        c.alerts.opsgenie_url = "http://127.0.0.1:9".into();
        c.alerts.opsgenie_eu_url = og_url;
    })
    .await
}

/// A connection whose events are retried `retries` times, 400 ms apart.
async fn connect(gw: &Gateway, name: &str, url: &str, retries: u32) -> String {
    let c = gw
        .post(
            "/connections",
            json!({
                "name": format!("{name}-conn"),
                "source": {"name": name},
                "destination": {"name": format!("{name}-api"), "url": url},
                "rules": [{"type": "retry", "strategy": "linear", "interval": 400, "count": retries}],
            }),
        )
        .await;
    c["id"].as_str().unwrap().to_owned()
}

async fn incident_trigger(gw: &Gateway, chat: &Receiver) -> Value {
    gw.post(
        "/issue-triggers",
        json!({
            "type": "delivery",
            "name": "paging",
            "configs": {"connections": "*"},
            "channels": {
                "pagerduty": {"routing_key": ROUTING_KEY},
                "opsgenie": {"api_key": GENIE_KEY, "region": "eu"},
                "webhook": {"url": chat.url},
            },
        }),
    )
    .await
}

async fn the_issue(gw: &Gateway, conn: &str, status: &str) -> Value {
    eventually(&format!("the issue {status}"), || async {
        let v = gw.get(&format!("/issues?webhook_id={conn}")).await;
        v["models"]
            .as_array()
            .and_then(|m| m.first().cloned())
            .filter(|i| i["status"] == status)
    })
    .await
}

fn chat_texts(chat: &Receiver) -> Vec<String> {
    chat.received()
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            v["text"].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}

async fn incident_opens_and_resolves(postgres: bool) {
    let (pd, og) = (Stub::pagerduty(0).await, Stub::opsgenie(0).await);
    let Some(gw) = gateway(postgres, &pd, &og).await else {
        return;
    };
    let chat = Receiver::start().await;
    let trigger = incident_trigger(&gw, &chat).await;
    // Keys are shown back as given, as destination credentials are.
    assert_eq!(trigger["channels"]["pagerduty"]["routing_key"], ROUTING_KEY);
    assert_eq!(trigger["channels"]["opsgenie"]["region"], "eu");

    let rx = Receiver::scripted(vec![Reply::status(500), Reply::status(500)]).await;
    let conn = connect(&gw, "orders", &rx.url, 20).await;
    gw.send("orders", r#"{"order":1}"#).await;
    let issue = the_issue(&gw, &conn, "RESOLVED").await;
    let key = format!("hookyard-{}", issue["id"].as_str().unwrap());

    let pd_got = pd.wait_for(2).await;
    let og_got = og.wait_for(2).await;
    // Nothing more comes: one incident per opening, one resolution.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(pd.got().len(), 2, "{:#?}", pd.got());
    assert_eq!(og.got().len(), 2, "{:#?}", og.got());

    let (open, resolve) = (&pd_got[0], &pd_got[1]);
    assert_eq!(
        (open.action.as_str(), resolve.action.as_str()),
        ("trigger", "resolve")
    );
    assert_eq!(open.key, key);
    assert_eq!(
        resolve.key, open.key,
        "the resolve names the incident opened"
    );
    let p = &open.body["payload"];
    assert!(
        p["summary"]
            .as_str()
            .unwrap()
            .starts_with("[Hookyard] Failing: orders-api"),
        "{p}"
    );
    assert_eq!(p["source"], "orders-api");
    assert_eq!(p["severity"], "error");
    assert_eq!(p["custom_details"]["issue_id"], issue["id"]);
    assert_eq!(p["custom_details"]["response_status"], "500");
    assert_eq!(p["custom_details"]["connection_id"], conn.as_str());
    let link = open.body["links"][0]["href"].as_str().unwrap();
    assert!(link.ends_with(&format!("/issues/{}", issue["id"].as_str().unwrap())));

    let (create, close) = (&og_got[0], &og_got[1]);
    assert_eq!(
        (create.action.as_str(), close.action.as_str()),
        ("create", "close")
    );
    assert_eq!(create.key, key);
    assert_eq!(close.key, create.key, "the close names the alert created");
    assert_eq!(create.body["priority"], "P2");
    assert_eq!(create.body["entity"], "orders-api");
    assert_eq!(create.body["details"]["issue_id"], issue["id"]);

    // The chat channel of the same trigger got the same two, as before.
    let texts = chat_texts(&chat);
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[1].contains("Recovered: orders-api"), "{texts:?}");
    gw.stop().await;
}

#[tokio::test]
async fn an_incident_opens_with_the_issue_and_resolves_with_it_sqlite() {
    incident_opens_and_resolves(false).await;
}

#[tokio::test]
async fn an_incident_opens_with_the_issue_and_resolves_with_it_postgres() {
    incident_opens_and_resolves(true).await;
}

#[tokio::test]
async fn dismissing_an_issue_resolves_its_incident_and_reopening_opens_it_again() {
    let (pd, og) = (Stub::pagerduty(0).await, Stub::opsgenie(0).await);
    let gw = gateway(false, &pd, &og).await.unwrap();
    let chat = Receiver::start().await;
    incident_trigger(&gw, &chat).await;
    // Two attempts, both failing, then no more: nothing opens the issue again
    // behind the test's back.
    let rx = Receiver::scripted(vec![Reply::status(503); 100]).await;
    let conn = connect(&gw, "billing", &rx.url, 1).await;
    gw.send("billing", "{}").await;
    gw.wait_event(&format!("webhook_id={conn}"), "FAILED").await;
    let issue = the_issue(&gw, &conn, "OPENED").await;
    let id = issue["id"].as_str().unwrap().to_owned();
    pd.wait_for(1).await;
    og.wait_for(1).await;

    let (s, v) = gw
        .call(Method::DELETE, &format!("/issues/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let got = pd.wait_for(2).await;
    assert_eq!(got[1].action, "resolve");
    assert_eq!(got[1].key, got[0].key);
    let got = og.wait_for(2).await;
    assert_eq!(
        (got[1].action.as_str(), &got[1].key),
        ("close", &got[0].key)
    );
    // Dismissed is not recovered: the chat channel hears nothing of it.
    assert!(
        chat_texts(&chat).iter().all(|t| !t.contains("Recovered")),
        "{:?}",
        chat_texts(&chat)
    );

    // Opened again by hand: paged again, under the same key.
    gw.put(&format!("/issues/{id}"), json!({"status": "OPENED"}))
        .await;
    let got = pd.wait_for(3).await;
    assert_eq!(
        (got[2].action.as_str(), &got[2].key),
        ("trigger", &got[0].key)
    );
    og.wait_for(3).await;
    // Ignored: closed again.
    gw.put(&format!("/issues/{id}"), json!({"status": "IGNORED"}))
        .await;
    let got = pd.wait_for(4).await;
    assert_eq!(got[3].action, "resolve");
    let got = og.wait_for(4).await;
    assert_eq!(got[3].action, "close");
    gw.stop().await;
}

#[tokio::test]
async fn a_throttled_or_failing_incident_service_gets_the_alert_in_a_later_round() {
    // PagerDuty answers 429 and Opsgenie 503 to the first request: the claim is
    // given back, as for a failed email or webhook, and the next round sends
    // again.
    let (pd, og) = (Stub::pagerduty(1).await, Stub::opsgenie(1).await);
    let gw = gateway(false, &pd, &og).await.unwrap();
    let chat = Receiver::start().await;
    incident_trigger(&gw, &chat).await;
    let rx = Receiver::scripted(vec![Reply::status(500); 100]).await;
    let conn = connect(&gw, "ledger", &rx.url, 20).await;
    gw.send("ledger", "{}").await;
    the_issue(&gw, &conn, "OPENED").await;
    let got = pd.wait_for(1).await;
    assert_eq!(got[0].action, "trigger");
    let got = og.wait_for(1).await;
    assert_eq!(got[0].action, "create");
    assert!(pd.state.seen.load(Ordering::SeqCst) >= 2);
    assert!(og.state.seen.load(Ordering::SeqCst) >= 2);
    // Once through, no more: the opening alert went out once (the chat
    // channel, sent again with the failed round, has it at least once).
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(pd.got().len(), 1, "{:#?}", pd.got());
    assert_eq!(og.got().len(), 1, "{:#?}", og.got());
    assert!(chat_texts(&chat)
        .iter()
        .any(|t| t.contains("Failing: ledger-api")));
    gw.stop().await;
}

#[tokio::test]
async fn incident_channels_refuse_missing_or_bad_keys_with_the_field_named() {
    let gw = Gateway::start().await;
    for (channels, needle) in [
        (json!({"pagerduty": {}}), "missing field `routing_key`"),
        (
            json!({"pagerduty": {"routing_key": ""}}),
            "channels.pagerduty.routing_key must not be empty",
        ),
        (
            json!({"pagerduty": {"routing_key": "has space"}}),
            "channels.pagerduty.routing_key must be 1 to 256 printable ASCII",
        ),
        (
            json!({"pagerduty": {"routing_key": "k", "severity": "x"}}),
            "channels.pagerduty",
        ),
        (json!({"opsgenie": {}}), "missing field `api_key`"),
        (
            json!({"opsgenie": {"api_key": "k", "region": "asia"}}),
            "channels.opsgenie.region",
        ),
        (
            json!({"opsgenie": {"api_key": "k\n"}}),
            "channels.opsgenie.api_key",
        ),
    ] {
        let body = json!({"type": "delivery", "channels": channels});
        let (s, v) = gw.call(Method::POST, "/issue-triggers", Some(body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{channels}: {v}");
        let message = v["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{needle}: {v}");
    }
    gw.stop().await;
}
