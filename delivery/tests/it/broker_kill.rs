//! `kill -9` of `hookyard serve` while it consumes a broker source: after a
//! restart every message published is delivered at least once (none lost),
//! because a message is acknowledged to its broker only after its commit.

use crate::broker_sources::{feeds, Feed, Msg};
use crate::cli::{free_port, spawn_serve, wait_healthy};
use crate::common;

use std::collections::HashSet;
use std::process::Child;

use common::brokers::unique;
use common::gateway::{eventually, Receiver, KEY};
use serde_json::{json, Value};

/// A `hookyard serve` process, killed (SIGKILL) when dropped.
struct Serve {
    child: Child,
    base: String,
    client: reqwest::Client,
}

impl Serve {
    async fn start(dir: &std::path::Path, port: u16) -> Serve {
        let s = Serve {
            child: spawn_serve(dir, port),
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        wait_healthy(&s.client, &s.base).await;
        s
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .client
            .post(format!("{}/2024-09-01{path}", self.base))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    fn kill(&mut self) {
        self.child.kill().unwrap(); // SIGKILL: no shutdown hook runs.
        self.child.wait().unwrap();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Messages whose `x-order` header the receiver got, at least once.
fn delivered(rx: &Receiver) -> HashSet<String> {
    rx.received()
        .iter()
        .filter_map(|r| r.header("x-order"))
        .collect()
}

async fn kill_9_while_consuming_loses_nothing(feed: Box<dyn Feed>, count: usize) {
    let dir = tempfile::TempDir::new().unwrap();
    let port = free_port();
    let rx = Receiver::start().await;
    let mut serve = Serve::start(dir.path(), port).await;
    let (kind, config) = feed.source(feed.port());
    let source = serve
        .post(
            "/sources",
            json!({ "name": unique("kill-"), "type": kind, "config": config }),
        )
        .await;
    serve
        .post(
            "/connections",
            json!({ "name": unique("c-"), "source_id": source["id"],
                    "destination": { "name": unique("d-"), "url": rx.url } }),
        )
        .await;
    let msgs: Vec<Msg> = (0..count)
        .map(|i| {
            Msg::new(
                format!("k{i}"),
                feed.topic("load"),
                format!(r#"{{"i":{i}}}"#),
            )
        })
        .collect();
    feed.publish(&msgs).await;
    eventually(
        "a tenth of the messages delivered before the kill",
        || async { (delivered(&rx).len() >= count / 10).then_some(()) },
    )
    .await;
    serve.kill();
    let before = delivered(&rx).len();
    assert!(
        before < count,
        "everything was delivered before the kill ({before}); the test proves nothing"
    );
    let _serve = Serve::start(dir.path(), port).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(240);
    loop {
        let got = delivered(&rx);
        if got.len() == count {
            break;
        }
        if std::time::Instant::now() > deadline {
            let missing: Vec<_> = (0..count)
                .map(|i| format!("k{i}"))
                .filter(|k| !got.contains(k))
                .take(10)
                .collect();
            panic!(
                "{} of {count} messages delivered after the restart ({before} before the kill); missing e.g. {missing:?}",
                got.len()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    eventually("the broker to hold nothing unacknowledged", || async {
        (feed.unacknowledged().await == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rabbitmq_kill_9_while_consuming_loses_nothing() {
    if let Some(f) = feeds::rabbitmq().await {
        kill_9_while_consuming_loses_nothing(f, 10_000).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_kill_9_while_consuming_loses_nothing() {
    if let Some(f) = feeds::redis().await {
        kill_9_while_consuming_loses_nothing(f, 10_000).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_kill_9_while_consuming_loses_nothing() {
    if let Some(f) = feeds::nats().await {
        kill_9_while_consuming_loses_nothing(f, 10_000).await;
    }
}

/// Fewer messages: moto slows down as its queue grows (tens of messages a
/// second with thousands queued), and the test is about what a kill loses, not
/// about moto's speed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqs_kill_9_while_consuming_loses_nothing() {
    if let Some(f) = feeds::sqs().await {
        kill_9_while_consuming_loses_nothing(f, 500).await;
    }
}
