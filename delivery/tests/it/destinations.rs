//! Destinations beyond HTTP, against the real brokers: RabbitMQ, NATS JetStream and
//! Redis Streams on this machine, SQS and EventBridge on moto. Each message is read
//! back with the broker's own client; the broker is taken away mid-run (a proxy in
//! front of it closes) and brought back; misconfigured targets fail with the
//! broker's own message; bad configs are refused with the field named.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::brokers::{self, unique, Moto, Proxy};
use crate::common::gateway::{eventually, Gateway};
use crate::common::smtp::SmtpServer;

/// One message as a broker's consumer sees it.
#[derive(Debug, Clone)]
struct Msg {
    body: Vec<u8>,
    headers: HashMap<String, String>,
    /// The broker's message id, where it has one.
    message_id: Option<String>,
}

#[async_trait]
trait Broker: Send + Sync {
    /// The destination's `type`.
    fn kind(&self) -> &'static str;
    /// The broker's port on this machine (the proxy forwards to it).
    fn port(&self) -> u16;
    /// The destination config, reaching the broker through `port`.
    fn config(&self, port: u16) -> Value;
    /// A config whose target does not exist, and the error code expected.
    fn missing(&self, port: u16) -> (Value, &'static str);
    /// Whatever arrived since the last take, without waiting.
    async fn take_now(&self) -> Vec<Msg>;
    /// Headers this broker acts on, which a provider must not get through.
    fn steering_headers(&self) -> &'static [&'static str] {
        &[]
    }
    /// Waits for `n` more messages (at most 20 s) and returns them.
    async fn take(&self, n: usize) -> Vec<Msg> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let mut out = Vec::new();
        loop {
            out.extend(self.take_now().await);
            if out.len() >= n {
                return out;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {n} {} messages (got {})",
                self.kind(),
                out.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn connection(gw: &Gateway, source: &str, dest: &str, kind: &str, config: Value) -> String {
    let c = gw
        .post(
            "/connections",
            json!({
                "name": format!("{dest}-conn"),
                "source": {"name": source},
                "destination": {"name": dest, "type": kind, "config": config},
                "rules": [{"type": "retry", "strategy": "linear", "interval": 300, "count": 40}],
            }),
        )
        .await;
    c["id"].as_str().unwrap().to_owned()
}

async fn send_with(gw: &Gateway, source: &str, body: Vec<u8>, custom: &str) {
    let resp = gw
        .client
        .post(format!("{}/e/{source}/orders?x=1", gw.base))
        .header("content-type", "application/octet-stream")
        .header("x-custom", custom)
        .header("x-shopify-topic", "orders/create")
        // Headers brokers act on, from the internet: they must not steer the
        // broker (RabbitMQ's CC copies the message to another routing key;
        // JetStream's Nats-* headers dedupe, expect or purge).
        .header("cc", "stolen")
        .header("nats-msg-id", "spoofed")
        .header("nats-expected-stream", "NOT_THIS_ONE")
        .header("x-hookyard-event-id", "spoofed")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

async fn events_of(gw: &Gateway, conn: &str) -> Vec<Value> {
    let v = gw
        .get(&format!("/events?webhook_id={conn}&limit=100"))
        .await;
    v["models"].as_array().cloned().unwrap_or_default()
}

async fn all_successful(gw: &Gateway, conn: &str, n: usize) -> Vec<Value> {
    eventually(&format!("{n} events SUCCESSFUL"), || async {
        let evs = events_of(gw, conn).await;
        (evs.len() == n && evs.iter().all(|e| e["status"] == "SUCCESSFUL")).then_some(evs)
    })
    .await
}

async fn issue_of(gw: &Gateway, conn: &str, status: &str) -> Value {
    eventually(&format!("the issue {status}"), || async {
        let v = gw.get(&format!("/issues?webhook_id={conn}")).await;
        v["models"]
            .as_array()
            .and_then(|m| m.iter().find(|i| i["status"] == status).cloned())
    })
    .await
}

/// The whole life of one broker destination: delivered byte-exact with headers
/// and ids, exactly once; the broker away → failures, an issue, an alert; back →
/// everything delivered, the issue resolved; a missing target → failed at once
/// with the broker's message.
async fn scenario(broker: &dyn Broker) {
    let smtp = SmtpServer::start().await;
    let smtp_port = smtp.as_ref().map(|s| s.port);
    let gw = Gateway::start_with(|c| {
        if let Some(port) = smtp_port {
            c.alerts.check_interval_ms = 100;
            c.alerts.email.smtp_host = "127.0.0.1".into();
            c.alerts.email.smtp_port = port;
            c.alerts.email.tls = hookyard::config::SmtpTls::None;
            c.alerts.email.from = "Hookyard <alerts@hookyard.test>".into();
            c.alerts.email.to = vec!["oncall@example.com".into()];
        }
    })
    .await;
    let proxy = Proxy::to(broker.port()).await;
    let source = unique("src-");
    let dest = unique(&format!(
        "{}-",
        broker.kind().to_ascii_lowercase().replace('_', "-")
    ));
    let conn = connection(
        &gw,
        &source,
        &dest,
        broker.kind(),
        broker.config(proxy.port),
    )
    .await;

    // Byte-exact bodies, one of them not UTF-8 at all.
    let bodies: Vec<Vec<u8>> = vec![
        br#"{"order":1,"note":"caf\u00e9"}"#.to_vec(),
        "plain text ✓\r\n".as_bytes().to_vec(),
        vec![0, 159, 146, 150, 255, 10, 13],
    ];
    for (i, b) in bodies.iter().enumerate() {
        send_with(&gw, &source, b.clone(), &format!("c{i}")).await;
    }
    let got = broker.take(3).await;
    let events = all_successful(&gw, &conn, 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let extra = broker.take_now().await;
    assert!(
        extra.is_empty(),
        "one message per event, got more: {extra:?}"
    );
    let sent: BTreeSet<Vec<u8>> = bodies.iter().cloned().collect();
    let received: BTreeSet<Vec<u8>> = got.iter().map(|m| m.body.clone()).collect();
    assert_eq!(received, sent, "bodies arrive byte-exact");
    let event_ids: BTreeSet<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    for m in &got {
        let id = m
            .headers
            .get("x-hookyard-event-id")
            .expect("event id header");
        assert!(event_ids.contains(id), "{id} is one of the events");
        if let Some(mid) = &m.message_id {
            assert_eq!(mid, id, "the broker's message id is the event id");
        }
        assert!(m.headers.contains_key("x-hookyard-request-id"), "{m:?}");
        assert_eq!(
            m.headers.get("x-hookyard-attempt").map(String::as_str),
            Some("1")
        );
        for steering in broker.steering_headers() {
            assert!(
                !m.headers.contains_key(*steering),
                "{steering} was forwarded: {m:?}"
            );
        }
        let custom = m
            .headers
            .get("x-custom")
            .expect("the request's own headers");
        assert!(custom.starts_with('c'), "{custom}");
    }
    let attempt = gw
        .get(&format!(
            "/attempts?event_id={}",
            events[0]["id"].as_str().unwrap()
        ))
        .await;
    let a = &attempt["models"][0];
    assert_eq!(a["status"], "SUCCESSFUL", "{a}");
    assert!(!a["body"].is_null(), "the broker's answer is recorded: {a}");

    // The broker goes away: attempts fail, an issue opens, an alert goes out.
    proxy.stop().await;
    for i in 0..2 {
        send_with(&gw, &source, format!("during outage {i}").into_bytes(), "o").await;
    }
    let issue = issue_of(&gw, &conn, "OPENED").await;
    assert_eq!(issue["type"], "delivery", "{issue}");
    if let Some(smtp) = &smtp {
        let mails = eventually("the alert email", || async {
            let m = smtp.messages();
            (!m.is_empty()).then_some(m)
        })
        .await;
        assert!(mails[0].subject.contains(&dest), "{}", mails[0].subject);
    }
    let failed_attempts = gw
        .get(&format!(
            "/attempts?destination_id={}",
            events[0]["destination_id"].as_str().unwrap()
        ))
        .await;
    let failure = failed_attempts["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["status"] == "FAILED")
        .cloned()
        .expect("a failed attempt while the broker is away");
    assert!(failure["error_code"].is_string(), "{failure}");

    // Back: everything is delivered (at least once), the issue resolves.
    proxy.start().await;
    all_successful(&gw, &conn, 5).await;
    let after: BTreeSet<Vec<u8>> = broker.take(2).await.into_iter().map(|m| m.body).collect();
    for i in 0..2 {
        assert!(
            after.contains(format!("during outage {i}").as_bytes()),
            "{after:?}"
        );
    }
    issue_of(&gw, &conn, "RESOLVED").await;

    // A target that does not exist: failed at once, not retried, the broker's words kept.
    let (config, code) = broker.missing(proxy.port);
    let missing_source = unique("src-");
    let missing = connection(
        &gw,
        &missing_source,
        &unique("missing-"),
        broker.kind(),
        config,
    )
    .await;
    send_with(&gw, &missing_source, b"{}".to_vec(), "m").await;
    let ev = gw
        .wait_event(&format!("webhook_id={missing}"), "FAILED")
        .await;
    assert_eq!(ev["attempts"], 1, "a missing target is not retried: {ev}");
    assert_eq!(ev["error_code"], code, "{ev}");
    let att = gw
        .get(&format!(
            "/attempts?event_id={}",
            ev["id"].as_str().unwrap()
        ))
        .await;
    let msg = att["models"][0]["error_message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!msg.is_empty(), "the broker's message is kept");
    issue_of(&gw, &missing, "OPENED").await;
    gw.stop().await;
}

// ------------------------------------------------------------------- RabbitMQ

struct Rabbit {
    exchange: String,
    queue: String,
    stolen: String,
    channel: lapin::Channel,
    _conn: lapin::Connection,
}

impl Rabbit {
    async fn new() -> Option<Rabbit> {
        if !brokers::require("RabbitMQ", 5672).await {
            return None;
        }
        use lapin::options::*;
        let conn = lapin::Connection::connect(
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            lapin::ConnectionProperties::default(),
        )
        .await
        .expect("connect to RabbitMQ");
        let channel = conn.create_channel().await.unwrap();
        let exchange = unique("hy-ex-");
        let queue = unique("hy-q-");
        channel
            .exchange_declare(
                exchange.as_str().into(),
                lapin::ExchangeKind::Direct,
                ExchangeDeclareOptions {
                    auto_delete: true,
                    ..Default::default()
                },
                Default::default(),
            )
            .await
            .unwrap();
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    auto_delete: false,
                    ..Default::default()
                },
                Default::default(),
            )
            .await
            .unwrap();
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange.as_str().into(),
                "orders".into(),
                QueueBindOptions::default(),
                Default::default(),
            )
            .await
            .unwrap();
        // Bound to the routing key a provider's `CC` header names: it must stay empty.
        let stolen = unique("hy-stolen-");
        channel
            .queue_declare(
                stolen.as_str().into(),
                QueueDeclareOptions::default(),
                Default::default(),
            )
            .await
            .unwrap();
        channel
            .queue_bind(
                stolen.as_str().into(),
                exchange.as_str().into(),
                "stolen".into(),
                QueueBindOptions::default(),
                Default::default(),
            )
            .await
            .unwrap();
        Some(Rabbit {
            exchange,
            queue,
            stolen,
            channel,
            _conn: conn,
        })
    }

    async fn get(&self) -> Option<Msg> {
        use lapin::options::{BasicAckOptions, BasicGetOptions};
        let m = self
            .channel
            .basic_get(self.queue.as_str().into(), BasicGetOptions::default())
            .await
            .unwrap()?;
        m.delivery.ack(BasicAckOptions::default()).await.unwrap();
        let props = &m.delivery.properties;
        assert_eq!(*props.delivery_mode(), Some(2), "persistent");
        let mut headers = HashMap::new();
        if let Some(t) = props.headers() {
            for (k, v) in t.inner() {
                if let lapin::types::AMQPValue::LongString(s) = v {
                    headers.insert(
                        k.to_string(),
                        String::from_utf8_lossy(s.as_bytes()).into_owned(),
                    );
                }
            }
        }
        Some(Msg {
            body: m.delivery.data.clone(),
            headers,
            message_id: props.message_id().as_ref().map(|s| s.to_string()),
        })
    }
}

#[async_trait]
impl Broker for Rabbit {
    fn kind(&self) -> &'static str {
        "RABBITMQ"
    }
    fn steering_headers(&self) -> &'static [&'static str] {
        &["cc"]
    }
    fn port(&self) -> u16 {
        5672
    }
    fn config(&self, port: u16) -> Value {
        json!({
            "url": format!("amqp://guest:guest@127.0.0.1:{port}/%2f"),
            "exchange": self.exchange,
            "routing_key": "orders",
        })
    }
    fn missing(&self, port: u16) -> (Value, &'static str) {
        (
            json!({
                "url": format!("amqp://guest:guest@127.0.0.1:{port}/%2f"),
                "exchange": unique("no-such-exchange-"),
                "routing_key": "orders",
            }),
            "NOT_FOUND",
        )
    }
    async fn take_now(&self) -> Vec<Msg> {
        let mut out = Vec::new();
        while let Some(m) = self.get().await {
            out.push(m);
        }
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rabbitmq_messages_are_confirmed_survive_an_outage_and_missing_exchanges_fail() {
    let Some(r) = Rabbit::new().await else { return };
    scenario(&r).await;
    let copied = r
        .channel
        .basic_get(
            r.stolen.as_str().into(),
            lapin::options::BasicGetOptions::default(),
        )
        .await
        .unwrap();
    assert!(
        copied.is_none(),
        "a provider's CC header routed a copy: {copied:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rabbitmq_unroutable_messages_and_bad_credentials_are_failed_attempts() {
    let Some(r) = Rabbit::new().await else { return };
    let gw = Gateway::start().await;
    // An exchange with no queue bound for the routing key: mandatory makes it
    // come back, so the attempt fails instead of the message vanishing.
    let source = unique("src-");
    let conn = connection(
        &gw,
        &source,
        &unique("unroutable-"),
        "RABBITMQ",
        json!({"url": "amqp://guest:guest@127.0.0.1:5672/%2f", "exchange": r.exchange, "routing_key": "nobody-listens"}),
    )
    .await;
    send_with(&gw, &source, b"{}".to_vec(), "u").await;
    let att = eventually("an UNROUTABLE attempt", || async {
        let evs = events_of(&gw, &conn).await;
        let id = evs.first()?["id"].as_str()?.to_owned();
        let a = gw.get(&format!("/attempts?event_id={id}")).await;
        a["models"]
            .as_array()?
            .first()
            .cloned()
            .filter(|a| a["status"] == "FAILED")
    })
    .await;
    assert_eq!(att["error_code"], "UNROUTABLE", "{att}");
    assert!(
        att["error_message"].as_str().unwrap().contains("NO_ROUTE"),
        "{att}"
    );

    // Wrong password: refused by the broker, not retried; the test endpoint says so.
    let d = gw
        .post(
            "/destinations",
            json!({"name": unique("badpass-"), "type": "RABBITMQ", "config": {
                "url": "amqp://guest:wrong@127.0.0.1:5672/%2f", "exchange": r.exchange, "routing_key": "orders"}}),
        )
        .await;
    let t = gw
        .put(
            &format!("/destinations/{}/test", d["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(t["success"], false, "{t}");
    assert_eq!(t["error_code"], "PERMISSION_DENIED", "{t}");
    assert!(
        t["requested_url"]
            .as_str()
            .unwrap()
            .contains("@127.0.0.1:5672/"),
        "where it went: {t}"
    );
    assert!(
        !t.to_string().contains("wrong"),
        "the password is not echoed: {t}"
    );
    let good = gw
        .post(
            "/destinations",
            json!({"name": unique("good-"), "type": "RABBITMQ", "config": {
                "url": "amqp://guest:guest@127.0.0.1:5672/%2f", "exchange": r.exchange, "routing_key": "orders"}}),
        )
        .await;
    let t = gw
        .put(
            &format!("/destinations/{}/test", good["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(t["success"], true, "{t}");
    let m = r.take(1).await;
    assert_eq!(m[0].message_id.as_deref(), t["message_id"].as_str());
    assert_eq!(
        m[0].headers.get("x-test-message").map(String::as_str),
        Some("true")
    );
    gw.stop().await;
}

// ----------------------------------------------------------------------- NATS

struct Nats {
    subject: String,
    stream: async_nats::jetstream::stream::Stream,
    next: tokio::sync::Mutex<u64>,
}

impl Nats {
    async fn new() -> Option<Nats> {
        if !brokers::require("NATS", 4222).await {
            return None;
        }
        let client = async_nats::connect("nats://127.0.0.1:4222")
            .await
            .expect("NATS");
        let js = async_nats::jetstream::new(client);
        let name = unique("HY_");
        let subject = format!("{}.orders", name.to_ascii_lowercase());
        let stream = js
            .create_stream(async_nats::jetstream::stream::Config {
                name: name.to_ascii_uppercase(),
                subjects: vec![subject.clone()],
                max_age: Duration::from_secs(600),
                ..Default::default()
            })
            .await
            .expect("create stream");
        Some(Nats {
            subject,
            stream,
            next: tokio::sync::Mutex::new(1),
        })
    }

    async fn get(&self) -> Option<Msg> {
        let mut next = self.next.lock().await;
        let m = self.stream.get_raw_message(*next).await.ok()?;
        *next += 1;
        let mut headers = HashMap::new();
        for (k, vs) in m.headers.iter() {
            if let Some(v) = vs.first() {
                headers.insert(k.to_string().to_ascii_lowercase(), v.to_string());
            }
        }
        Some(Msg {
            body: m.payload.to_vec(),
            message_id: headers.get("nats-msg-id").cloned(),
            headers,
        })
    }
}

#[async_trait]
impl Broker for Nats {
    fn kind(&self) -> &'static str {
        "NATS"
    }
    fn steering_headers(&self) -> &'static [&'static str] {
        &["nats-expected-stream"]
    }
    fn port(&self) -> u16 {
        4222
    }
    fn config(&self, port: u16) -> Value {
        json!({"url": format!("nats://127.0.0.1:{port}"), "subject": self.subject})
    }
    fn missing(&self, port: u16) -> (Value, &'static str) {
        (
            json!({"url": format!("nats://127.0.0.1:{port}"), "subject": unique("nostream.")}),
            "NOT_FOUND",
        )
    }
    async fn take_now(&self) -> Vec<Msg> {
        let mut out = Vec::new();
        while let Some(m) = self.get().await {
            out.push(m);
        }
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_messages_are_acked_by_jetstream_survive_an_outage_and_missing_streams_fail() {
    let Some(n) = Nats::new().await else { return };
    scenario(&n).await;
}

// --------------------------------------------------------------- Redis Streams

/// An XRANGE entry: its id and its fields.
type StreamEntry = (String, Vec<(String, Vec<u8>)>);

struct Redis {
    stream: String,
    conn: tokio::sync::Mutex<redis::aio::MultiplexedConnection>,
    last: tokio::sync::Mutex<String>,
}

impl Redis {
    async fn new() -> Option<Redis> {
        if !brokers::require("Redis", 6379).await {
            return None;
        }
        let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("Redis");
        Some(Redis {
            stream: unique("hy-stream-"),
            conn: tokio::sync::Mutex::new(conn),
            last: tokio::sync::Mutex::new("0".into()),
        })
    }

    async fn read(&self) -> Vec<Msg> {
        let mut conn = self.conn.lock().await;
        let mut last = self.last.lock().await;
        let start = format!("({}", *last);
        let entries: Vec<StreamEntry> = redis::cmd("XRANGE")
            .arg(&self.stream)
            .arg(if *last == "0" { "-".to_owned() } else { start })
            .arg("+")
            .query_async(&mut *conn)
            .await
            .unwrap_or_default();
        let mut out = Vec::new();
        for (id, fields) in entries {
            *last = id;
            let field: HashMap<String, Vec<u8>> = fields.into_iter().collect();
            let headers: HashMap<String, String> =
                serde_json::from_slice(field.get("headers").map(Vec::as_slice).unwrap_or(b"{}"))
                    .unwrap();
            assert_eq!(
                field
                    .get("event_id")
                    .map(|v| String::from_utf8_lossy(v).into_owned()),
                headers.get("x-hookyard-event-id").cloned()
            );
            out.push(Msg {
                body: field.get("body").cloned().unwrap_or_default(),
                message_id: field
                    .get("event_id")
                    .map(|v| String::from_utf8_lossy(v).into_owned()),
                headers,
            });
        }
        out
    }
}

#[async_trait]
impl Broker for Redis {
    fn kind(&self) -> &'static str {
        "REDIS_STREAM"
    }
    fn port(&self) -> u16 {
        6379
    }
    fn config(&self, port: u16) -> Value {
        json!({"url": format!("redis://127.0.0.1:{port}"), "stream": self.stream, "maxlen": 1000})
    }
    fn missing(&self, port: u16) -> (Value, &'static str) {
        // Redis creates streams on XADD; what cannot be written is a key that
        // holds another type.
        (
            json!({"url": format!("redis://127.0.0.1:{port}"), "stream": "hy-not-a-stream"}),
            "BROKER_REFUSED",
        )
    }
    async fn take_now(&self) -> Vec<Msg> {
        self.read().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_stream_entries_survive_an_outage_and_a_key_of_another_type_fails() {
    let Some(r) = Redis::new().await else { return };
    {
        let mut conn = r.conn.lock().await;
        let _: () = redis::cmd("SET")
            .arg("hy-not-a-stream")
            .arg("a string")
            .query_async(&mut *conn)
            .await
            .unwrap();
    }
    scenario(&r).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_permission_denied_is_an_issue_with_the_servers_words() {
    let Some(r) = Redis::new().await else { return };
    let user = unique("hyuser");
    {
        let mut conn = r.conn.lock().await;
        // A user that may only write keys it does not have: NOPERM on XADD.
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg(&user)
            .arg("on")
            .arg(">secretpw")
            .arg("~only-these:*")
            .arg("+@all")
            .query_async(&mut *conn)
            .await
            .unwrap();
    }
    let gw = Gateway::start().await;
    let source = unique("src-");
    let conn = connection(
        &gw,
        &source,
        &unique("noperm-"),
        "REDIS_STREAM",
        json!({"url": format!("redis://{user}:secretpw@127.0.0.1:6379"), "stream": r.stream}),
    )
    .await;
    send_with(&gw, &source, b"{}".to_vec(), "p").await;
    let ev = gw.wait_event(&format!("webhook_id={conn}"), "FAILED").await;
    assert_eq!(ev["error_code"], "PERMISSION_DENIED", "{ev}");
    assert_eq!(ev["attempts"], 1);
    let att = gw
        .get(&format!(
            "/attempts?event_id={}",
            ev["id"].as_str().unwrap()
        ))
        .await;
    let msg = att["models"][0]["error_message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        msg.to_ascii_uppercase().contains("NOPERM"),
        "the server's own words: {msg}"
    );
    assert!(!msg.contains("secretpw"), "{msg}");
    issue_of(&gw, &conn, "OPENED").await;
    let mut c = r.conn.lock().await;
    let _: () = redis::cmd("ACL")
        .arg("DELUSER")
        .arg(&user)
        .query_async(&mut *c)
        .await
        .unwrap();
    drop(c);
    gw.stop().await;
}

// ------------------------------------------------------------------------ SQS

struct Sqs {
    moto: Moto,
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl Sqs {
    async fn new(moto: Moto, fifo: bool) -> Sqs {
        let client = aws_sdk_sqs::Client::new(&brokers::aws_config(&moto.url).await);
        let mut create = client.create_queue().queue_name(if fifo {
            unique("hy-q-") + ".fifo"
        } else {
            unique("hy-q-")
        });
        if fifo {
            create = create.attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true");
        }
        let queue_url = create
            .send()
            .await
            .expect("create queue")
            .queue_url
            .unwrap();
        Sqs {
            moto,
            client,
            queue_url,
        }
    }

    /// The queue URL as the gateway reaches it (through `port`).
    fn url_via(&self, port: u16) -> String {
        self.queue_url
            .replace(&format!(":{}/", self.moto.port), &format!(":{port}/"))
    }

    async fn receive(&self, wait: i32) -> Vec<Msg> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait)
            .message_attribute_names("All")
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive");
        let mut msgs = Vec::new();
        for m in out.messages() {
            let attr = |k: &str| {
                m.message_attributes()
                    .and_then(|a| a.get(k))
                    .and_then(|v| v.string_value())
                    .map(str::to_owned)
            };
            let mut headers: HashMap<String, String> =
                serde_json::from_str(&attr("headers").unwrap_or_default()).unwrap_or_default();
            if let Some(id) = attr("x-hookyard-event-id") {
                headers.insert("x-hookyard-event-id".into(), id);
            }
            let text = m.body().unwrap_or_default();
            let body = if attr("body-encoding").as_deref() == Some("base64") {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .unwrap()
            } else {
                text.as_bytes().to_vec()
            };
            let dedup = m
                .attributes()
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageDeduplicationId)
                })
                .cloned();
            self.client
                .delete_message()
                .queue_url(&self.queue_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
            msgs.push(Msg {
                body,
                headers,
                message_id: dedup,
            });
        }
        msgs
    }
}

/// A destination config for `sqs`'s queue, reached through `port`.
fn sqs_config(sqs: &Sqs, port: u16) -> Value {
    json!({
        "queue_url": sqs.url_via(port),
        "region": "us-east-1",
        "endpoint_url": format!("http://127.0.0.1:{port}"),
        "access_key_id": brokers::AWS_KEY_ID,
        "secret_access_key": brokers::AWS_SECRET,
    })
}

struct SqsBroker(Sqs);

#[async_trait]
impl Broker for SqsBroker {
    fn kind(&self) -> &'static str {
        "AWS_SQS"
    }
    fn port(&self) -> u16 {
        self.0.moto.port
    }
    fn config(&self, port: u16) -> Value {
        sqs_config(&self.0, port)
    }
    fn missing(&self, port: u16) -> (Value, &'static str) {
        let mut c = self.config(port);
        c["queue_url"] = json!(format!(
            "http://127.0.0.1:{port}/123456789012/{}",
            unique("nope-")
        ));
        (c, "NOT_FOUND")
    }
    async fn take_now(&self) -> Vec<Msg> {
        self.0.receive(0).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqs_messages_carry_the_body_and_headers_survive_an_outage_and_missing_queues_fail() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let sqs = SqsBroker(Sqs::new(moto, false).await);
    scenario(&sqs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqs_fifo_queues_get_the_event_id_as_deduplication_id() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let sqs = Sqs::new(moto, true).await;
    let gw = Gateway::start().await;
    let source = unique("src-");
    let mut config = sqs_config(&sqs, sqs.moto.port);
    config["message_group_id"] = json!("orders");
    let conn = connection(&gw, &source, &unique("fifo-"), "AWS_SQS", config).await;
    send_with(&gw, &source, b"{\"n\":1}".to_vec(), "f").await;
    let ev = gw
        .wait_event(&format!("webhook_id={conn}"), "SUCCESSFUL")
        .await;
    let msgs = eventually("the FIFO message", || async {
        let m = sqs.receive(1).await;
        (!m.is_empty()).then_some(m)
    })
    .await;
    assert_eq!(
        msgs[0].message_id.as_deref(),
        ev["id"].as_str(),
        "dedup id = event id"
    );
    assert_eq!(msgs[0].body, b"{\"n\":1}");
    gw.stop().await;
}

// ---------------------------------------------------------------- EventBridge

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eventbridge_entries_reach_the_bus_with_source_type_and_detail() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let config = brokers::aws_config(&moto.url).await;
    let events = aws_sdk_eventbridge::Client::new(&config);
    let sqs = Sqs::new(moto, false).await;
    let bus = unique("hy-bus-");
    events
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("create bus");
    let queue_arn = sqs
        .client
        .get_queue_attributes()
        .queue_url(&sqs.queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .unwrap();
    events
        .put_rule()
        .name("all-from-hookyard")
        .event_bus_name(&bus)
        .event_pattern(r#"{"source":[{"prefix":"hookyard"}]}"#)
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("all-from-hookyard")
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let gw = Gateway::start().await;
    let source = unique("src-");
    let proxy = Proxy::to(sqs.moto.port).await;
    let access = json!({
        "event_bus_name": bus,
        "region": "us-east-1",
        "endpoint_url": format!("http://127.0.0.1:{}", proxy.port),
        "access_key_id": brokers::AWS_KEY_ID,
        "secret_access_key": brokers::AWS_SECRET,
    });
    let conn = connection(
        &gw,
        &source,
        &unique("bus-"),
        "AWS_EVENTBRIDGE",
        access.clone(),
    )
    .await;
    send_with(&gw, &source, br#"{"id":7,"total":"9.99"}"#.to_vec(), "e").await;
    let ev = gw
        .wait_event(&format!("webhook_id={conn}"), "SUCCESSFUL")
        .await;
    let att = gw
        .get(&format!(
            "/attempts?event_id={}",
            ev["id"].as_str().unwrap()
        ))
        .await;
    let answer = match &att["models"][0]["body"] {
        Value::String(s) => serde_json::from_str(s).unwrap(),
        v => v.clone(),
    };
    assert!(
        answer["event_id"].is_string(),
        "EventBridge's entry id: {answer}"
    );
    let got = eventually("the bus's event in the queue", || async {
        let m = sqs.receive(1).await;
        (!m.is_empty()).then_some(m)
    })
    .await;
    let entry: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(
        entry["detail"],
        json!({"id": 7, "total": "9.99"}),
        "{entry}"
    );
    assert_eq!(
        entry["detail-type"], "orders/create",
        "from x-shopify-topic: {entry}"
    );
    assert_eq!(
        entry["source"],
        format!("hookyard.{}", ev["source_id"].as_str().unwrap())
    );

    // EventBridge away: the attempt fails and is retried; back: delivered.
    proxy.stop().await;
    send_with(&gw, &source, br#"{"id":8}"#.to_vec(), "e").await;
    let failed = eventually("a failed attempt while EventBridge is away", || async {
        let a = gw
            .get(&format!(
                "/attempts?destination_id={}",
                ev["destination_id"].as_str()?
            ))
            .await;
        a["models"]
            .as_array()?
            .iter()
            .find(|a| a["status"] == "FAILED")
            .cloned()
    })
    .await;
    assert_eq!(failed["error_code"], "CONNECTION_REFUSED", "{failed}");
    proxy.start().await;
    all_successful(&gw, &conn, 2).await;
    let got = eventually("the event sent during the outage", || async {
        let m = sqs.receive(1).await;
        (!m.is_empty()).then_some(m)
    })
    .await;
    let entry: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(entry["detail"], json!({"id": 8}), "{entry}");

    // The envelope carries the headers and ids.
    let mut enveloped = access.clone();
    enveloped["detail"] = json!("envelope");
    enveloped["source"] = json!("hookyard.shop");
    enveloped["detail_type"] = json!("order");
    let source2 = unique("src-");
    let conn2 = connection(
        &gw,
        &source2,
        &unique("bus-env-"),
        "AWS_EVENTBRIDGE",
        enveloped,
    )
    .await;
    send_with(&gw, &source2, b"not json".to_vec(), "env").await;
    let ev2 = gw
        .wait_event(&format!("webhook_id={conn2}"), "SUCCESSFUL")
        .await;
    let got = eventually("the enveloped event", || async {
        let m = sqs.receive(1).await;
        (!m.is_empty()).then_some(m)
    })
    .await;
    let entry: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(entry["detail"]["body"], "not json", "{entry}");
    assert_eq!(entry["detail"]["headers"]["x-custom"], "env", "{entry}");
    assert_eq!(
        entry["detail"]["hookyard"]["event_id"], ev2["id"],
        "{entry}"
    );
    assert_eq!(entry["detail-type"], "order");

    // A bus that does not exist: failed, not retried.
    let mut missing = access;
    missing["event_bus_name"] = json!(unique("no-bus-"));
    let source3 = unique("src-");
    let conn3 = connection(
        &gw,
        &source3,
        &unique("bus-missing-"),
        "AWS_EVENTBRIDGE",
        missing,
    )
    .await;
    send_with(&gw, &source3, b"{}".to_vec(), "m").await;
    let ev3 = gw
        .wait_event(&format!("webhook_id={conn3}"), "FAILED")
        .await;
    assert_eq!(ev3["error_code"], "NOT_FOUND", "{ev3}");
    assert_eq!(ev3["attempts"], 1);
    gw.stop().await;
}

// ------------------------------------------------------- configs and MOCK_API

#[tokio::test]
async fn bad_configs_are_refused_with_the_field_named() {
    let gw = Gateway::start().await;
    let cases = [
        (
            json!({"type": "RABBITMQ", "config": {"url": "amqp://h"}}),
            "config is invalid: missing field `exchange`",
        ),
        (
            json!({"type": "RABBITMQ", "config": {"url": "amqp://h", "exchange": "x", "vhost": "/"}}),
            "unknown field `vhost`",
        ),
        (
            json!({"type": "RABBITMQ", "config": {"url": "http://h", "exchange": "x"}}),
            "config.url must be a amqp:// or amqps:// URL",
        ),
        (
            json!({"type": "RABBITMQ"}),
            "config is required for RABBITMQ destinations",
        ),
        (
            json!({"type": "NATS", "config": {"url": "nats://h:4222", "subject": "orders.>"}}),
            "config.subject",
        ),
        (
            json!({"type": "NATS", "config": {"url": "nats://h:4222", "subject": "a", "username": "u"}}),
            "config.password",
        ),
        (
            json!({"type": "AWS_SQS", "config": {"queue_url": "https://sqs.us-east-1.amazonaws.com/1/q", "region": "moon-1"}}),
            "config.region must be an AWS region",
        ),
        (
            json!({"type": "AWS_SQS", "config": {"queue_url": "https://sqs.us-east-1.amazonaws.com/1/q", "access_key_id": "AKIAIOSFODNN7EXAMPLE"}}),
            "config.secret_access_key is required",
        ),
        (
            json!({"type": "AWS_SQS", "config": {"queue_url": "https://sqs.us-east-1.amazonaws.com/1/q", "access_key_id": ["x"], "secret_access_key": "s"}}),
            "config.access_key_id is invalid",
        ),
        (
            json!({"type": "AWS_SQS", "config": {"queue_url": "https://sqs.us-east-1.amazonaws.com/1/q", "message_group_id": "g"}}),
            "config.message_group_id is only for FIFO",
        ),
        (
            json!({"type": "AWS_EVENTBRIDGE", "config": {"event_bus_name": "b", "source": "aws.s3"}}),
            "config.source",
        ),
        (
            json!({"type": "AWS_EVENTBRIDGE", "config": {"event_bus_name": "b", "detail": "xml"}}),
            "config.detail is invalid",
        ),
        (
            json!({"type": "REDIS_STREAM", "config": {"url": "redis://h", "stream": "s", "maxlen": 0}}),
            "config.maxlen",
        ),
        (
            json!({"type": "KAFKA", "config": {}}),
            "type must be one of HTTP, CLI, MOCK_API",
        ),
        (
            json!({"type": "MOCK_API", "config": {"x": 1}}),
            "config must be empty",
        ),
        (
            json!({"type": "REDIS_STREAM", "url": "http://h", "config": {"url": "redis://h", "stream": "s"}}),
            "url is only for HTTP destinations",
        ),
    ];
    for (i, (body, expected)) in cases.into_iter().enumerate() {
        let mut body = body;
        body["name"] = json!(format!("bad-{i}"));
        let (status, v) = gw
            .call(Method::POST, "/destinations", Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert!(
            v.to_string().contains(expected),
            "{body}: expected {expected:?} in {v}"
        );
    }
    // Inside a connection the field is named with its path.
    let (status, v) = gw
        .call(
            Method::POST,
            "/connections",
            Some(json!({"name": "c", "source": {"name": "s"}, "destination": {"name": "d", "type": "NATS", "config": {"url": "nats://h:4222"}}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v.to_string().contains("destination.config"), "{v}");

    // A good config round-trips; changing type drops the HTTP fields.
    let d = gw
        .post(
            "/destinations",
            json!({"name": "was-http", "url": "http://127.0.0.1:1/x"}),
        )
        .await;
    assert_eq!(d["type"], "HTTP");
    assert_eq!(d["config"], Value::Null);
    let d = gw
        .put(
            &format!("/destinations/{}", d["id"].as_str().unwrap()),
            json!({"type": "REDIS_STREAM", "config": {"url": "redis://127.0.0.1:6379", "stream": "s"}}),
        )
        .await;
    assert_eq!(d["type"], "REDIS_STREAM");
    assert_eq!(d["url"], Value::Null);
    assert_eq!(
        d["config"],
        json!({"url": "redis://127.0.0.1:6379", "stream": "s"})
    );
    let again = gw
        .get(&format!("/destinations/{}", d["id"].as_str().unwrap()))
        .await;
    assert_eq!(again["config"], d["config"]);
    let openapi = gw
        .client
        .get(format!("{}/openapi.json", gw.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for schema in [
        "RabbitMqConfig",
        "NatsConfig",
        "SqsConfig",
        "EventBridgeConfig",
        "RedisStreamConfig",
        "/destinations/{id}/test",
    ] {
        assert!(
            openapi.contains(schema),
            "the OpenAPI document describes {schema}"
        );
    }
    gw.stop().await;
}

#[tokio::test]
async fn a_mock_api_destination_accepts_and_discards() {
    let gw = Gateway::start().await;
    let conn = connection(&gw, "try-out", "mock", "MOCK_API", Value::Null).await;
    send_with(&gw, "try-out", b"{\"a\":1}".to_vec(), "x").await;
    let ev = gw
        .wait_event(&format!("webhook_id={conn}"), "SUCCESSFUL")
        .await;
    assert_eq!(ev["response_status"], 200);
    gw.stop().await;
}
