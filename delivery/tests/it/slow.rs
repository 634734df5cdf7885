//! Slow and idle clients (issue 10, item 1): a client that connects, announces a
//! large body and goes quiet must not hold the ingest budget, a connection slot or
//! the server's attention past the configured timeouts.
//!
//! The bounds below are functional, not performance: each is several times the
//! expected wait, and what they catch is a request that hangs until a timeout.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::common::gateway::{eventually, Gateway, KEY};

/// Headers of a webhook announcing a 10 MiB body (the default source limit, so
/// admission lets it through).
const BIG_HEAD: &str = "POST /e/slow HTTP/1.1\r\nhost: hookyard\r\n\
    content-type: application/json\r\ncontent-length: 10485760\r\n\r\n";

/// Connects to the gateway and writes `bytes`, then leaves the connection open.
async fn stall(gw: &Gateway, bytes: &[u8]) -> TcpStream {
    let addr = gw.base.trim_start_matches("http://");
    let mut conn = TcpStream::connect(addr).await.unwrap();
    if !bytes.is_empty() {
        conn.write_all(bytes).await.unwrap();
    }
    conn
}

/// What the server sent before it closed the connection; panics if it is still
/// open after `within`. A reset counts as closed (nothing more to read).
async fn read_until_closed(conn: &mut TcpStream, within: Duration, what: &str) -> String {
    let mut got = Vec::new();
    match timeout(within, conn.read_to_end(&mut got)).await {
        Err(_) => panic!("{what}: the server kept the connection open past {within:?}"),
        Ok(Ok(_)) => {}
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Ok(Err(e)) => panic!("{what}: {e}"),
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// A client that keeps no connection for later: these tests set short server
/// timeouts, and a pooled connection the server has just closed for idleness
/// would fail the next call for a reason that is not the test's.
fn one_off() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// Sends `body` to `/e/{source}`; panics if it is not answered within `within`.
async fn send_within(gw: &Gateway, source: &str, body: String, within: Duration) -> (u16, String) {
    let send = async {
        let resp = one_off()
            .post(format!("{}/e/{source}", gw.base))
            .body(body)
            .send()
            .await
            .expect("send webhook");
        (resp.status().as_u16(), resp.text().await.unwrap())
    };
    match timeout(within, send).await {
        Ok(answer) => answer,
        Err(_) => panic!("a webhook to {source:?} was not answered within {within:?}"),
    }
}

/// How many requests the gateway has stored.
async fn stored(gw: &Gateway) -> u64 {
    let v: serde_json::Value = one_off()
        .get(format!("{}/requests", gw.api))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["count"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_senders_do_not_stop_ingest_of_another_source() {
    // A budget far smaller than what the slow senders announce, and short
    // timeouts so the test sees them fire.
    let gw = Gateway::start_with(|c| {
        c.ingest.max_inflight_bytes = 64 * 1024;
        c.server.header_read_timeout_ms = 1_000;
        c.server.body_read_timeout_ms = 1_000;
    })
    .await;
    gw.post("/sources", json!({"name": "slow"})).await;
    gw.post("/sources", json!({"name": "fast"})).await;

    // 40 announce 10 MiB and send 1 KiB of it; 15 send half a header line; 5
    // connect and send nothing.
    let mut body_stalled = Vec::new();
    for _ in 0..40 {
        let mut bytes = BIG_HEAD.as_bytes().to_vec();
        bytes.extend_from_slice(&[b' '; 1024]);
        body_stalled.push(stall(&gw, &bytes).await);
    }
    let mut head_stalled = Vec::new();
    for _ in 0..15 {
        head_stalled.push(
            stall(
                &gw,
                b"POST /e/slow HTTP/1.1\r\nhost: hookyard\r\ncontent-le",
            )
            .await,
        );
    }
    for _ in 0..5 {
        head_stalled.push(stall(&gw, b"").await);
    }
    // Let the server take them all in (ordering, not a timed assertion).
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (status, text) = send_within(&gw, "fast", "{}".into(), Duration::from_secs(2)).await;
    assert_eq!(status, 200, "{text}");

    for (i, conn) in body_stalled.iter_mut().enumerate() {
        let answer = read_until_closed(conn, Duration::from_secs(3), "a stalled body").await;
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "stalled body {i} was answered {answer:?}"
        );
        assert!(answer.contains("REQUEST_TIMEOUT"), "{answer}");
    }
    for conn in &mut head_stalled {
        read_until_closed(conn, Duration::from_secs(3), "a stalled header").await;
    }

    // Only the fast one was stored; the cut-off bodies gave their room back.
    assert_eq!(stored(&gw).await, 1);
    let (status, text) = send_within(&gw, "slow", "{}".into(), Duration::from_secs(2)).await;
    assert_eq!(status, 200, "{text}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_budget_answers_503_with_retry_after_instead_of_waiting() {
    // 4 KiB of budget; two slow senders hold 2 KiB each of what they announced.
    let gw = Gateway::start_with(|c| {
        c.ingest.max_inflight_bytes = 4 * 1024;
        c.ingest.budget_wait_ms = 200;
        c.server.body_read_timeout_ms = 1_000;
    })
    .await;
    gw.post("/sources", json!({"name": "slow"})).await;
    gw.post("/sources", json!({"name": "fast"})).await;
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut bytes = BIG_HEAD.as_bytes().to_vec();
        bytes.extend_from_slice(&[b' '; 2048]);
        stalled.push(stall(&gw, &bytes).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let resp = timeout(
        Duration::from_secs(2),
        one_off()
            .post(format!("{}/e/fast", gw.base))
            .body("x".repeat(3000))
            .send(),
    )
    .await
    .expect("a webhook that finds no room is answered, not left waiting")
    .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");

    // Once the slow senders are cut off, their room is free again.
    for conn in &mut stalled {
        read_until_closed(conn, Duration::from_secs(3), "a stalled body").await;
    }
    let (status, text) = send_within(&gw, "fast", "x".repeat(3000), Duration::from_secs(2)).await;
    assert_eq!(status, 200, "{text}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_not_queued() {
    let gw = Gateway::start_with(|c| {
        c.server.max_connections = 4;
        // Long enough that the four held connections stay for the whole test.
        c.server.header_read_timeout_ms = 30_000;
    })
    .await;
    // Only raw connections and one-off clients below (no `gw.client`, whose
    // pooled connection would hold a slot of its own).
    let partial = b"GET /healthz HTTP/1.1\r\nhost: hookyard\r\n";
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(stall(&gw, partial).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut over = stall(&gw, partial).await;
    let answer = read_until_closed(
        &mut over,
        Duration::from_secs(2),
        "a connection past the cap",
    )
    .await;
    assert!(answer.is_empty(), "{answer:?}");

    // A slot frees when one of the held connections goes.
    drop(held.pop());
    eventually("an answer once a slot is free", || async {
        // A client per try: dropped, it closes its connection and frees the slot.
        let resp = reqwest::Client::new()
            .get(format!("{}/healthz", gw.base))
            .send()
            .await
            .ok()?;
        (resp.status() == 200).then_some(())
    })
    .await;
    // Graceful shutdown waits for open connections; these would wait for their
    // header timeout.
    drop(held);
    gw.stop().await;
}

/// `server.max_read_buffer_bytes` bounds what a connection reads ahead of its
/// handler, and so the request head: one larger is refused (431) and not stored,
/// one within it is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_over_the_read_buffer_is_refused() {
    let gw = Gateway::start_with(|c| c.server.max_read_buffer_bytes = 16 * 1024).await;
    gw.post("/sources", json!({"name": "heads"})).await;
    let head = |header_bytes: usize| {
        format!(
            "POST /e/heads HTTP/1.1\r\nhost: hookyard\r\nx-padding: {}\r\n\
             content-length: 2\r\nconnection: close\r\n\r\n{{}}",
            "a".repeat(header_bytes)
        )
    };

    let mut over = stall(&gw, head(20 * 1024).as_bytes()).await;
    let answer = read_until_closed(&mut over, Duration::from_secs(5), "a 20 KiB head").await;
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "a 20 KiB head with a 16 KiB read buffer was answered {answer:?}"
    );

    let mut within = stall(&gw, head(8 * 1024).as_bytes()).await;
    let answer = read_until_closed(&mut within, Duration::from_secs(5), "an 8 KiB head").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert_eq!(
        stored(&gw).await,
        1,
        "only the head within the buffer is stored"
    );
    gw.stop().await;
}
