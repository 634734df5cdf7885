//! Broker sources against the real brokers on this machine (moto for SQS):
//! messages published with each broker's own client become requests delivered
//! byte-exact with their topic; a redelivered message is stored once; one too
//! large is stored as rejected and acknowledged; a disabled source stops
//! consuming, and one without a connection leaves its messages in the broker;
//! a broker that goes away is a `source` issue, opened and resolved,
//! and consumption resumes by itself.
//!
//! Each scenario is written once against [`Feed`] and run for every broker by
//! [`broker_tests!`]. The `kill -9` scenario is in `broker_kill.rs`.

use crate::common;

use std::time::Duration;

use async_trait::async_trait;
use common::brokers::{require, unique, Moto, Proxy};
use common::gateway::{eventually, Gateway, Receiver};
use serde_json::{json, Value};

/// One message to publish: an id the broker carries as its message id (where
/// it has one), a topic, one header and a body.
#[derive(Clone, Debug)]
pub struct Msg {
    pub id: String,
    pub topic: String,
    pub header: (String, String),
    pub body: Vec<u8>,
}

impl Msg {
    pub fn new(id: impl Into<String>, topic: impl Into<String>, body: impl Into<Vec<u8>>) -> Msg {
        let id = id.into();
        Msg {
            header: ("x-order".into(), id.clone()),
            id,
            topic: topic.into(),
            body: body.into(),
        }
    }
}

/// A broker set up for one test: its own queue, stream or subject space.
#[async_trait]
pub trait Feed: Send + Sync {
    /// The broker's port on this machine (a [`Proxy`] may stand in front).
    fn port(&self) -> u16;
    /// The source's `type` and `config`, reaching the broker on `port`.
    fn source(&self, port: u16) -> (&'static str, Value);
    /// A topic in this test's own space (`<prefix>.<name>`).
    fn topic(&self, name: &str) -> String;
    /// Publishes with the broker's own client, in order.
    async fn publish(&self, msgs: &[Msg]);
    /// Messages published and not yet acknowledged by any consumer.
    async fn unacknowledged(&self) -> u64;
    /// Whether the broker carries binary bodies as they are.
    fn binary(&self) -> bool {
        true
    }
}

/// Creates the source and a connection from it to `url`; returns the source.
pub async fn consume(gw: &Gateway, feed: &dyn Feed, port: u16, extra: Value, url: &str) -> Value {
    let (kind, config) = feed.source(port);
    let mut body = json!({ "name": unique("brk-"), "type": kind, "config": config });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (status, source) = gw
        .call(axum::http::Method::POST, "/sources", Some(body))
        .await;
    assert_eq!(status, 200, "{source}");
    let (status, conn) = gw
        .call(
            axum::http::Method::POST,
            "/connections",
            Some(json!({
                "name": unique("c-"),
                "source_id": source["id"],
                "destination": { "name": unique("d-"), "url": url },
            })),
        )
        .await;
    assert_eq!(status, 200, "{conn}");
    source
}

async fn requests_of(gw: &Gateway, source: &Value) -> Vec<Value> {
    let v = gw
        .get(&format!(
            "/requests?source_id={}&limit=250&include=data",
            source["id"].as_str().unwrap()
        ))
        .await;
    v["models"].as_array().cloned().unwrap_or_default()
}

async fn delivers_byte_exact_with_topic(feed: Box<dyn Feed>) {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    consume(&gw, feed.as_ref(), feed.port(), json!({}), &rx.url).await;
    let mut msgs = vec![
        Msg::new(unique("m"), feed.topic("orders.created"), r#"{"order":1}"#),
        Msg::new(
            unique("m"),
            feed.topic("orders.paid"),
            "caf\u{e9} \u{1F600} line\r\nbreak".as_bytes(),
        ),
    ];
    if feed.binary() {
        msgs.push(Msg::new(
            unique("m"),
            feed.topic("blobs"),
            vec![0u8, 159, 146, 150, 255, 10],
        ));
    }
    feed.publish(&msgs).await;
    let got = rx.wait_for(msgs.len()).await;
    for m in &msgs {
        let r = got
            .iter()
            .find(|r| r.header("x-order").as_deref() == Some(m.id.as_str()))
            .unwrap_or_else(|| panic!("message {} not delivered with its header", m.id));
        assert_eq!(r.body.as_ref(), m.body.as_slice(), "body of {}", m.id);
        assert_eq!(
            r.header("x-hookyard-topic").as_deref(),
            Some(m.topic.as_str())
        );
    }
    eventually("the broker to hold nothing unacknowledged", || async {
        (feed.unacknowledged().await == 0).then_some(())
    })
    .await;
    gw.stop().await;
}

async fn a_redelivered_message_is_stored_once(feed: Box<dyn Feed>) {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    let source = consume(&gw, feed.as_ref(), feed.port(), json!({}), &rx.url).await;
    let m = Msg::new(unique("m"), feed.topic("dup"), r#"{"n":1}"#);
    let after = Msg::new(unique("m"), feed.topic("dup"), r#"{"n":2}"#);
    // The same message id twice, as a broker redelivers it.
    feed.publish(&[m.clone(), m.clone(), after.clone()]).await;
    rx.wait_for(2).await;
    eventually("the broker to hold nothing unacknowledged", || async {
        (feed.unacknowledged().await == 0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reqs = requests_of(&gw, &source).await;
    assert_eq!(reqs.len(), 2, "{reqs:#?}");
    let with_id = rx
        .received()
        .iter()
        .filter(|r| r.header("x-order").as_deref() == Some(m.id.as_str()))
        .count();
    assert_eq!(with_id, 1);
    gw.stop().await;
}

async fn a_message_too_large_is_rejected_and_acknowledged(feed: Box<dyn Feed>) {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    let source = consume(
        &gw,
        feed.as_ref(),
        feed.port(),
        json!({ "max_body_bytes": 100 }),
        &rx.url,
    )
    .await;
    let big = Msg::new(unique("m"), feed.topic("big"), vec![b'x'; 5000]);
    let small = Msg::new(unique("m"), feed.topic("small"), r#"{"ok":true}"#);
    feed.publish(&[big, small.clone()]).await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].header("x-order").as_deref(), Some(small.id.as_str()));
    let reqs = eventually("two requests stored", || async {
        let r = requests_of(&gw, &source).await;
        (r.len() == 2).then_some(r)
    })
    .await;
    let rejected: Vec<_> = reqs
        .iter()
        .filter(|r| r["rejection_cause"] == "PAYLOAD_TOO_LARGE")
        .collect();
    assert_eq!(rejected.len(), 1, "{reqs:#?}");
    assert_eq!(
        rejected[0]["data"]["headers"]["x-hookyard-dropped-body-bytes"],
        "5000"
    );
    eventually("the rejected message to be acknowledged", || async {
        (feed.unacknowledged().await == 0).then_some(())
    })
    .await;
    assert_eq!(rx.received().len(), 1);
    gw.stop().await;
}

async fn a_disabled_source_stops_consuming_until_enabled(feed: Box<dyn Feed>) {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    let source = consume(&gw, feed.as_ref(), feed.port(), json!({}), &rx.url).await;
    let id = source["id"].as_str().unwrap();
    feed.publish(&[Msg::new(unique("m"), feed.topic("a"), "1")])
        .await;
    rx.wait_for(1).await;
    let (status, _) = gw
        .call(
            axum::http::Method::PUT,
            &format!("/sources/{id}/disable"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    // A consumer finishes its poll before it stops.
    tokio::time::sleep(Duration::from_secs(6)).await;
    feed.publish(&[Msg::new(unique("m"), feed.topic("a"), "2")])
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(rx.received().len(), 1, "a disabled source consumed");
    assert_eq!(feed.unacknowledged().await, 1);
    let (status, _) = gw
        .call(
            axum::http::Method::PUT,
            &format!("/sources/{id}/enable"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    rx.wait_for(2).await;
    gw.stop().await;
}

async fn messages_wait_in_the_broker_until_a_connection_exists(feed: Box<dyn Feed>) {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    let (kind, config) = feed.source(feed.port());
    let (status, source) = gw
        .call(
            axum::http::Method::POST,
            "/sources",
            Some(json!({ "name": unique("brk-"), "type": kind, "config": config })),
        )
        .await;
    assert_eq!(status, 200, "{source}");
    feed.publish(&[Msg::new(unique("m"), feed.topic("early"), "1")])
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(requests_of(&gw, &source).await.is_empty());
    assert_eq!(feed.unacknowledged().await, 1);
    let (status, conn) = gw
        .call(
            axum::http::Method::POST,
            "/connections",
            Some(json!({
                "name": unique("c-"),
                "source_id": source["id"],
                "destination": { "name": unique("d-"), "url": rx.url },
            })),
        )
        .await;
    assert_eq!(status, 200, "{conn}");
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].body.as_ref(), b"1");
    gw.stop().await;
}

async fn open_source_issues(gw: &Gateway, source: &Value, status: &str) -> Vec<Value> {
    let v = gw
        .get(&format!(
            "/issues?type=source&status={status}&source_id={}",
            source["id"].as_str().unwrap()
        ))
        .await;
    v["models"].as_array().cloned().unwrap_or_default()
}

async fn a_broker_away_is_an_issue_and_consumption_resumes(feed: Box<dyn Feed>) {
    let proxy = Proxy::to(feed.port()).await;
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    let source = consume(&gw, feed.as_ref(), proxy.port, json!({}), &rx.url).await;
    feed.publish(&[Msg::new(unique("m"), feed.topic("before"), "1")])
        .await;
    rx.wait_for(1).await;
    proxy.stop().await;
    let opened = eventually("a source issue to open", || async {
        open_source_issues(&gw, &source, "OPENED")
            .await
            .into_iter()
            .next()
    })
    .await;
    assert_eq!(opened["reference"]["source_id"], source["id"]);
    // Published while the gateway cannot reach the broker.
    feed.publish(&[Msg::new(unique("m"), feed.topic("during"), "2")])
        .await;
    proxy.start().await;
    // Longer than `eventually`: the consumer's backoff grows to 15 s during the
    // outage, and an SQS receive cut off in flight hides what it took for the
    // queue's visibility timeout (30 s) before it is received again.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let got = loop {
        let r = rx.received();
        if r.len() >= 2 {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the message sent during the outage was not delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(got[1].body.as_ref(), b"2");
    eventually("the source issue to resolve", || async {
        open_source_issues(&gw, &source, "RESOLVED")
            .await
            .into_iter()
            .next()
    })
    .await;
    assert!(open_source_issues(&gw, &source, "OPENED").await.is_empty());
    gw.stop().await;
}

/// Entries a producer got wrong, or wrote to attack: unreadable `headers` are
/// a rejected request (acknowledged); header names and values that cannot be
/// HTTP headers never reach the destination as headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_redis_entries_are_rejected_or_delivered_safely() {
    if !require("Redis", 6379).await {
        return;
    }
    let feed = feeds::RedisFeed::new().await;
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    let source = consume(&gw, &feed, feed.port(), json!({}), &rx.url).await;
    feed.add(&[("headers", "not json"), ("body", "a")]).await;
    feed.add(&[
        (
            "headers",
            r#"{"bad name": "x", "x-evil": "a\r\ninjected: 1", "x-fine": "yes"}"#,
        ),
        ("body", "b"),
    ])
    .await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].body.as_ref(), b"b");
    assert_eq!(got[0].header("x-fine").as_deref(), Some("yes"));
    assert!(got[0].header("injected").is_none());
    assert!(got[0].header("bad name").is_none());
    let reqs = eventually("two requests stored", || async {
        let r = requests_of(&gw, &source).await;
        (r.len() == 2).then_some(r)
    })
    .await;
    let rejected: Vec<_> = reqs
        .iter()
        .filter(|r| r["rejection_cause"] == "INVALID_MESSAGE")
        .collect();
    assert_eq!(rejected.len(), 1, "{reqs:#?}");
    eventually("both entries acknowledged", || async {
        (feed.unacknowledged().await == 0).then_some(())
    })
    .await;
    assert_eq!(rx.received().len(), 1);
    gw.stop().await;
}

/// Two replicas on one PostgreSQL database consume the same source: every
/// message is stored once and delivered, whichever replica took it.
async fn two_replicas_share_a_source(feed: Box<dyn Feed>) {
    let Some(a) = Gateway::start_postgres().await else {
        return;
    };
    let url = a.database_url.clone();
    let b = Gateway::start_with(move |c| c.database_url = url).await;
    let rx = Receiver::start().await;
    let source = consume(&a, feed.as_ref(), feed.port(), json!({}), &rx.url).await;
    let count = 2000;
    let msgs: Vec<Msg> = (0..count)
        .map(|i| Msg::new(format!("r{i}"), feed.topic("shared"), format!("{i}")))
        .collect();
    feed.publish(&msgs).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let got: std::collections::HashSet<String> = rx
            .received()
            .iter()
            .filter_map(|r| r.header("x-order"))
            .collect();
        if got.len() == count {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {count} delivered",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&b.database_url).await.unwrap();
    let stored: i64 = sqlx::query("SELECT COUNT(*) AS n FROM requests WHERE source_id = $1")
        .bind(source["id"].as_str().unwrap().to_owned())
        .fetch_one(&mut db)
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
    assert_eq!(stored, count as i64, "requests stored for {count} messages");
    assert_eq!(rx.received().len(), count, "a message was delivered twice");
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_postgres_share_a_rabbitmq_source() {
    if let Some(f) = feeds::rabbitmq().await {
        two_replicas_share_a_source(f).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_postgres_share_a_redis_source() {
    if let Some(f) = feeds::redis().await {
        two_replicas_share_a_source(f).await
    }
}

/// Writes each scenario once per broker; a broker that is not running skips
/// (fails, with `CI=true`).
macro_rules! broker_tests {
    ($broker:ident, $feed:expr) => {
        mod $broker {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn delivers_byte_exact_with_topic() {
                if let Some(f) = $feed.await {
                    super::delivers_byte_exact_with_topic(f).await
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_redelivered_message_is_stored_once() {
                if let Some(f) = $feed.await {
                    super::a_redelivered_message_is_stored_once(f).await
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_message_too_large_is_rejected_and_acknowledged() {
                if let Some(f) = $feed.await {
                    super::a_message_too_large_is_rejected_and_acknowledged(f).await
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_disabled_source_stops_consuming_until_enabled() {
                if let Some(f) = $feed.await {
                    super::a_disabled_source_stops_consuming_until_enabled(f).await
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn messages_wait_in_the_broker_until_a_connection_exists() {
                if let Some(f) = $feed.await {
                    super::messages_wait_in_the_broker_until_a_connection_exists(f).await
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_broker_away_is_an_issue_and_consumption_resumes() {
                if let Some(f) = $feed.await {
                    super::a_broker_away_is_an_issue_and_consumption_resumes(f).await
                }
            }
        }
    };
}

broker_tests!(rabbitmq, feeds::rabbitmq());
broker_tests!(redis, feeds::redis());
broker_tests!(nats, feeds::nats());
broker_tests!(sqs, feeds::sqs());

pub mod feeds {
    //! Each broker's [`Feed`], publishing with the broker's own client.

    use super::*;

    pub async fn rabbitmq() -> Option<Box<dyn Feed>> {
        require("RabbitMQ", 5672).await.then_some(())?;
        Some(Box::new(RabbitFeed::new().await))
    }

    pub async fn redis() -> Option<Box<dyn Feed>> {
        require("Redis", 6379).await.then_some(())?;
        Some(Box::new(RedisFeed::new().await))
    }

    pub async fn nats() -> Option<Box<dyn Feed>> {
        require("NATS", 4222).await.then_some(())?;
        Some(Box::new(NatsFeed::new().await))
    }

    pub async fn sqs() -> Option<Box<dyn Feed>> {
        let moto = Moto::start().await?;
        Some(Box::new(SqsFeed::new(moto).await))
    }

    /// A queue bound to `amq.topic` with `<prefix>.#`; messages are published
    /// there with their topic as routing key.
    pub struct RabbitFeed {
        prefix: String,
        queue: String,
        channel: lapin::Channel,
        _conn: lapin::Connection,
    }

    impl RabbitFeed {
        pub async fn new() -> Self {
            let conn = lapin::Connection::connect(
                "amqp://guest:guest@127.0.0.1:5672/%2f",
                lapin::ConnectionProperties::default(),
            )
            .await
            .unwrap();
            let channel = conn.create_channel().await.unwrap();
            channel.confirm_select(Default::default()).await.unwrap();
            let prefix = unique("t");
            let queue = unique("hookyard-src-");
            // Declared here (as the source would), so what is published before
            // the consumer starts waits in it.
            channel
                .queue_declare(
                    queue.as_str().into(),
                    lapin::options::QueueDeclareOptions {
                        durable: true,
                        ..Default::default()
                    },
                    Default::default(),
                )
                .await
                .unwrap();
            channel
                .queue_bind(
                    queue.as_str().into(),
                    "amq.topic".into(),
                    format!("{prefix}.#").as_str().into(),
                    Default::default(),
                    Default::default(),
                )
                .await
                .unwrap();
            RabbitFeed {
                prefix,
                queue,
                channel,
                _conn: conn,
            }
        }
    }

    #[async_trait]
    impl Feed for RabbitFeed {
        fn port(&self) -> u16 {
            5672
        }
        fn source(&self, port: u16) -> (&'static str, Value) {
            (
                "RABBITMQ",
                json!({
                    "url": format!("amqp://guest:guest@127.0.0.1:{port}/%2f"),
                    "queue": self.queue,
                    "exchange": "amq.topic",
                    "routing_key": format!("{}.#", self.prefix),
                }),
            )
        }
        fn topic(&self, name: &str) -> String {
            format!("{}.{name}", self.prefix)
        }
        async fn publish(&self, msgs: &[Msg]) {
            use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
            let mut confirms = Vec::with_capacity(msgs.len());
            for m in msgs {
                let mut headers = FieldTable::default();
                headers.insert(
                    ShortString::from(m.header.0.clone()),
                    AMQPValue::LongString(LongString::from(m.header.1.clone())),
                );
                let props = lapin::BasicProperties::default()
                    .with_message_id(m.id.as_str().into())
                    .with_delivery_mode(2)
                    .with_headers(headers);
                confirms.push(
                    self.channel
                        .basic_publish(
                            "amq.topic".into(),
                            m.topic.as_str().into(),
                            Default::default(),
                            &m.body,
                            props,
                        )
                        .await
                        .unwrap(),
                );
            }
            for c in confirms {
                c.await.unwrap();
            }
        }
        async fn unacknowledged(&self) -> u64 {
            // Ready plus unacknowledged, from the management view the broker
            // gives every client: a passive declare counts ready ones only, so
            // the consumer count tells whether unacked ones can exist.
            let q = self
                .channel
                .queue_declare(
                    self.queue.as_str().into(),
                    lapin::options::QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    Default::default(),
                )
                .await
                .unwrap();
            let ready = u64::from(q.message_count());
            ready + rabbit_unacked(&self.queue).await
        }
    }

    /// Unacknowledged messages of `queue`, from `rabbitmqctl` (the management
    /// plugin may not be enabled).
    async fn rabbit_unacked(queue: &str) -> u64 {
        let out = tokio::process::Command::new("rabbitmqctl")
            .args([
                "list_queues",
                "-q",
                "--no-table-headers",
                "name",
                "messages_unacknowledged",
            ])
            .output()
            .await
            .expect("rabbitmqctl");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| {
                let mut f = l.split_whitespace();
                (f.next() == Some(queue)).then(|| f.next().and_then(|n| n.parse().ok()))?
            })
            .unwrap_or(0)
    }

    /// A stream the source's group reads; entries carry `body`, `headers`
    /// (JSON) and `topic` fields.
    pub struct RedisFeed {
        prefix: String,
        stream: String,
        conn: tokio::sync::Mutex<::redis::aio::MultiplexedConnection>,
    }

    impl RedisFeed {
        pub async fn new() -> Self {
            let client = ::redis::Client::open("redis://127.0.0.1:6379").unwrap();
            let conn = client.get_multiplexed_async_connection().await.unwrap();
            RedisFeed {
                prefix: unique("t"),
                stream: unique("hookyard-src-"),
                conn: tokio::sync::Mutex::new(conn),
            }
        }
    }

    impl RedisFeed {
        /// Adds one entry with exactly these fields.
        pub async fn add(&self, fields: &[(&str, &str)]) {
            let mut conn = self.conn.lock().await;
            let mut cmd = ::redis::cmd("XADD");
            cmd.arg(&self.stream).arg("*");
            for (k, v) in fields {
                cmd.arg(*k).arg(*v);
            }
            let _: String = cmd.query_async(&mut *conn).await.unwrap();
        }
    }

    #[async_trait]
    impl Feed for RedisFeed {
        fn port(&self) -> u16 {
            6379
        }
        fn source(&self, port: u16) -> (&'static str, Value) {
            (
                "REDIS_STREAM",
                json!({ "url": format!("redis://127.0.0.1:{port}"), "stream": self.stream }),
            )
        }
        fn topic(&self, name: &str) -> String {
            format!("{}.{name}", self.prefix)
        }
        async fn publish(&self, msgs: &[Msg]) {
            let mut conn = self.conn.lock().await;
            let mut pipe = ::redis::pipe();
            for m in msgs {
                let headers = json!({ &m.header.0: &m.header.1 }).to_string();
                pipe.cmd("XADD")
                    .arg(&self.stream)
                    .arg("*")
                    .arg("topic")
                    .arg(&m.topic)
                    .arg("headers")
                    .arg(headers)
                    .arg("body")
                    .arg(&m.body)
                    .arg("message_id")
                    .arg(&m.id);
            }
            let _: Vec<String> = pipe.query_async(&mut *conn).await.unwrap();
        }
        async fn unacknowledged(&self) -> u64 {
            let mut conn = self.conn.lock().await;
            // Entries not yet read by the group, plus those read and pending.
            let groups: Vec<::redis::Value> = ::redis::cmd("XINFO")
                .arg("GROUPS")
                .arg(&self.stream)
                .query_async(&mut *conn)
                .await
                .unwrap_or_default();
            if groups.is_empty() {
                // No consumer group yet: every entry waits.
                return ::redis::cmd("XLEN")
                    .arg(&self.stream)
                    .query_async(&mut *conn)
                    .await
                    .unwrap();
            }
            let mut total = 0;
            for g in groups {
                let map: std::collections::HashMap<String, ::redis::Value> =
                    ::redis::FromRedisValue::from_redis_value(g).unwrap_or_default();
                for k in ["pending", "lag"] {
                    if let Some(::redis::Value::Int(n)) = map.get(k) {
                        total += *n as u64;
                    }
                }
            }
            total
        }
    }

    /// A stream on subjects `<prefix>.>`; messages carry `Nats-Msg-Id`.
    pub struct NatsFeed {
        prefix: String,
        stream: String,
        js: async_nats::jetstream::Context,
    }

    impl NatsFeed {
        pub async fn new() -> Self {
            let client = async_nats::connect("nats://127.0.0.1:4222").await.unwrap();
            let js = async_nats::jetstream::new(client);
            let prefix = unique("t");
            let stream = unique("HOOKYARD_SRC_");
            js.create_stream(async_nats::jetstream::stream::Config {
                name: stream.clone(),
                subjects: vec![format!("{prefix}.>")],
                // Publishes with an id already stored are dropped by JetStream:
                // a short window, so the test's own duplicate reaches the consumer.
                duplicate_window: Duration::from_millis(100),
                max_age: Duration::from_secs(600),
                ..Default::default()
            })
            .await
            .unwrap();
            NatsFeed { prefix, stream, js }
        }
    }

    #[async_trait]
    impl Feed for NatsFeed {
        fn port(&self) -> u16 {
            4222
        }
        fn source(&self, port: u16) -> (&'static str, Value) {
            (
                "NATS",
                json!({ "url": format!("nats://127.0.0.1:{port}"), "stream": self.stream }),
            )
        }
        fn topic(&self, name: &str) -> String {
            format!("{}.{name}", self.prefix)
        }
        async fn publish(&self, msgs: &[Msg]) {
            let mut last: Option<&str> = None;
            let mut acks = Vec::with_capacity(msgs.len());
            for m in msgs {
                if last == Some(m.id.as_str()) {
                    // Past the stream's own duplicate window, as a redelivery.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                let mut h = async_nats::HeaderMap::new();
                h.insert("Nats-Msg-Id", m.id.as_str());
                h.insert(m.header.0.as_str(), m.header.1.as_str());
                acks.push(
                    self.js
                        .publish_with_headers(m.topic.clone(), h, m.body.clone().into())
                        .await
                        .unwrap(),
                );
                last = Some(m.id.as_str());
                // The client allows a few thousand acks in flight.
                if acks.len() == 1000 {
                    for a in acks.drain(..) {
                        a.await.unwrap();
                    }
                }
            }
            for a in acks {
                a.await.unwrap();
            }
        }
        async fn unacknowledged(&self) -> u64 {
            let stream = self.js.get_stream(&self.stream).await.unwrap();
            let mut names = stream.consumer_names();
            let mut total = 0;
            use futures::StreamExt;
            let mut any = false;
            while let Some(Ok(name)) = names.next().await {
                any = true;
                let mut c: async_nats::jetstream::consumer::PullConsumer =
                    stream.get_consumer(&name).await.unwrap();
                let info = c.info().await.unwrap();
                total += info.num_pending + info.num_ack_pending as u64;
            }
            if !any {
                let mut s = stream;
                total = s.info().await.unwrap().state.messages;
            }
            total
        }
    }

    /// A queue on moto; messages carry the `topic` and the header as
    /// attributes.
    pub struct SqsFeed {
        prefix: String,
        queue_url: String,
        client: aws_sdk_sqs::Client,
        moto: Moto,
    }

    impl SqsFeed {
        pub async fn new(moto: Moto) -> Self {
            let client = aws_sdk_sqs::Client::new(&common::brokers::aws_config(&moto.url).await);
            let out = client
                .create_queue()
                .queue_name(unique("hookyard-src-"))
                .send()
                .await
                .unwrap();
            SqsFeed {
                prefix: unique("t"),
                queue_url: out.queue_url().unwrap().to_owned(),
                client,
                moto,
            }
        }
    }

    #[async_trait]
    impl Feed for SqsFeed {
        fn port(&self) -> u16 {
            self.moto.port
        }
        fn source(&self, port: u16) -> (&'static str, Value) {
            (
                "AWS_SQS",
                json!({
                    "queue_url": self.queue_url,
                    "endpoint_url": format!("http://127.0.0.1:{port}"),
                    "region": "us-east-1",
                    "access_key_id": common::brokers::AWS_KEY_ID,
                    "secret_access_key": common::brokers::AWS_SECRET,
                }),
            )
        }
        fn topic(&self, name: &str) -> String {
            format!("{}.{name}", self.prefix)
        }
        fn binary(&self) -> bool {
            false
        }
        async fn publish(&self, msgs: &[Msg]) {
            use aws_sdk_sqs::types::MessageAttributeValue;
            let attr = |v: &str| {
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(v)
                    .build()
                    .unwrap()
            };
            use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
            // Ten per call (SQS's most), eight calls at once.
            for group in msgs.chunks(80) {
                let mut calls = Vec::new();
                for chunk in group.chunks(10) {
                    let entries = chunk
                        .iter()
                        .enumerate()
                        .map(|(i, m)| {
                            SendMessageBatchRequestEntry::builder()
                                .id(i.to_string())
                                .message_body(String::from_utf8(m.body.clone()).unwrap())
                                .message_attributes("topic", attr(&m.topic))
                                .message_attributes("message_id", attr(&m.id))
                                .message_attributes(m.header.0.clone(), attr(&m.header.1))
                                .build()
                                .unwrap()
                        })
                        .collect();
                    calls.push(
                        self.client
                            .send_message_batch()
                            .queue_url(&self.queue_url)
                            .set_entries(Some(entries))
                            .send(),
                    );
                }
                for out in futures::future::join_all(calls).await {
                    assert!(out.unwrap().failed().is_empty());
                }
            }
        }
        async fn unacknowledged(&self) -> u64 {
            let out = self
                .client
                .get_queue_attributes()
                .queue_url(&self.queue_url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
                .send()
                .await
                .unwrap();
            let attrs = out.attributes().cloned().unwrap_or_default();
            [
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            ]
            .iter()
            .filter_map(|k| attrs.get(k).and_then(|v| v.parse::<u64>().ok()))
            .sum()
        }
    }
}
