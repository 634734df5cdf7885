//! `POST /edge/batch`, as the edge Worker's queue consumer calls it: signed and
//! fresh batches only, stored once per envelope id however often they arrive,
//! answered per message; on SQLite and PostgreSQL.

use crate::common;

use base64::Engine as _;
use common::gateway::{Gateway, Receiver};
use hookyard_core::edge::{
    sign_batch, Batch, BatchItem, BatchResponse, ItemStatus, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use hookyard_core::envelope::Envelope;
use hookyard_core::id::{make_id, IdKind};
use serde_json::json;

const SECRET: &str = "batch-secret";

fn with_secret(cfg: &mut hookyard::config::Config) {
    cfg.edge.batch_secret = SECRET.into();
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn envelope(source: &str, n: u128, body: &[u8]) -> Envelope {
    Envelope {
        id: make_id(IdKind::Request, now_secs() as u64 * 1000, n),
        source: source.into(),
        received_at_ms: now_secs() * 1000,
        method: "POST".into(),
        path: "/hook".into(),
        query: "a=1".into(),
        headers: vec![("content-type".into(), "application/octet-stream".into())],
        body: body.to_vec(),
    }
}

async fn post_batch(
    gw: &Gateway,
    body: &[u8],
    ts: Option<i64>,
    secret: Option<&str>,
) -> (u16, String) {
    let mut rb = gw
        .client
        .post(format!("{}/edge/batch", gw.base))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(ts) = ts {
        rb = rb.header(TIMESTAMP_HEADER, ts.to_string());
        if let Some(secret) = secret {
            rb = rb.header(SIGNATURE_HEADER, sign_batch(secret, ts, body));
        }
    }
    let resp = rb.send().await.expect("post batch");
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn requests_of(gw: &Gateway, source_id: &str) -> Vec<serde_json::Value> {
    gw.get(&format!("/requests?source_id={source_id}&limit=100"))
        .await["models"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn batches_are_signed_fresh_and_idempotent(gw: Gateway) {
    let rx = Receiver::start().await;
    let conn = gw
        .post(
            "/connections",
            json!({"name": "c", "source": {"name": "shop"},
                   "destination": {"name": "d", "url": rx.url}}),
        )
        .await;
    let source_id = conn["source"]["id"].as_str().unwrap().to_owned();

    let a = envelope("shop", 1, &[0, 159, 255, b'{']);
    let b = envelope("shop", 2, b"{\"n\":2}");
    let unknown = envelope("nope", 3, b"{}");
    let mut dead = envelope("shop", 4, b"late");
    dead.id = make_id(IdKind::Request, now_secs() as u64 * 1000, 4);
    let batch = Batch {
        messages: vec![
            BatchItem {
                envelope: a.clone(),
                dead_lettered: false,
            },
            BatchItem {
                envelope: b.clone(),
                dead_lettered: false,
            },
            BatchItem {
                envelope: unknown.clone(),
                dead_lettered: false,
            },
            BatchItem {
                envelope: dead.clone(),
                dead_lettered: true,
            },
        ],
    };
    let body = serde_json::to_vec(&batch).unwrap();
    let now = now_secs();

    // Unsigned, wrongly signed, stale, tampered: 401, nothing stored.
    for (what, ts, secret, sent) in [
        ("no headers", None, None, body.clone()),
        ("no signature", Some(now), None, body.clone()),
        ("wrong secret", Some(now), Some("other"), body.clone()),
        ("stale", Some(now - 3600), Some(SECRET), body.clone()),
    ] {
        let (status, text) = post_batch(&gw, &sent, ts, secret).await;
        assert_eq!(status, 401, "{what}: {text}");
    }
    let mut tampered = body.clone();
    let sig_ts = now;
    let sig = sign_batch(SECRET, sig_ts, &body);
    if let Some(p) = tampered.iter().position(|&c| c == b'2') {
        tampered[p] = b'3';
    }
    let resp = gw
        .client
        .post(format!("{}/edge/batch", gw.base))
        .header(TIMESTAMP_HEADER, sig_ts.to_string())
        .header(SIGNATURE_HEADER, sig)
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401, "tampered");
    assert!(requests_of(&gw, &source_id).await.is_empty());

    // Signed: stored per message; the unknown source is answered failed.
    let (status, text) = post_batch(&gw, &body, Some(now), Some(SECRET)).await;
    assert_eq!(status, 200, "{text}");
    let answer: BatchResponse = serde_json::from_str(&text).unwrap();
    let statuses: Vec<_> = answer
        .results
        .iter()
        .map(|r| (r.id.clone(), r.status))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (a.id.clone(), ItemStatus::Stored),
            (b.id.clone(), ItemStatus::Stored),
            (unknown.id.clone(), ItemStatus::Failed),
            (dead.id.clone(), ItemStatus::Stored),
        ]
    );
    assert!(answer.results[2]
        .message
        .as_deref()
        .unwrap()
        .contains("no source named"));

    // The same batch again (a queue redelivery): stored, and no duplicates.
    let (status, text) = post_batch(&gw, &body, Some(now_secs()), Some(SECRET)).await;
    assert_eq!(status, 200, "{text}");
    let again: BatchResponse = serde_json::from_str(&text).unwrap();
    assert_eq!(again.results[0].status, ItemStatus::Stored);

    let stored = requests_of(&gw, &source_id).await;
    let mut ids: Vec<_> = stored
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut want = vec![a.id.clone(), b.id.clone(), dead.id.clone()];
    want.sort();
    assert_eq!(ids, want, "one request per envelope id");

    // Events were created once per request: three deliveries, no more.
    rx.wait_for(3).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(rx.received().len(), 3);
    let events = gw.get(&format!("/events?source_id={source_id}")).await;
    assert_eq!(events["models"].as_array().unwrap().len(), 3);

    // Byte-exact body; the dead-lettered one is marked.
    let raw = gw.get(&format!("/requests/{}/raw_body", a.id)).await;
    assert_eq!(raw["encoding"], "base64", "{raw}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw["body"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes, a.body);
    let marked = gw.get(&format!("/requests/{}", dead.id)).await;
    assert_eq!(
        marked["data"]["headers"]["x-hookyard-dead-lettered"],
        "true"
    );
    gw.stop().await;
}

#[tokio::test]
async fn sqlite_batches_are_signed_fresh_and_idempotent() {
    batches_are_signed_fresh_and_idempotent(Gateway::start_with(with_secret).await).await;
}

#[tokio::test]
async fn postgres_batches_are_signed_fresh_and_idempotent() {
    let Some(gw) = Gateway::start_postgres_with(with_secret).await else {
        return;
    };
    batches_are_signed_fresh_and_idempotent(gw).await;
}

#[tokio::test]
async fn without_a_secret_every_batch_is_refused() {
    let gw = Gateway::start().await;
    let (status, text) = post_batch(&gw, b"{\"messages\":[]}", Some(now_secs()), Some("")).await;
    assert_eq!(status, 401);
    assert!(text.contains("edge.batch_secret"), "{text}");
    gw.stop().await;
}

/// Reads what the gateway answers on a raw connection: its status line, or
/// `None` when it does not answer within `wait`.
async fn status_within(
    stream: &mut tokio::net::TcpStream,
    wait: std::time::Duration,
) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(wait, stream.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            text.lines().next().map(str::to_owned)
        }
        _ => None,
    }
}

/// Nobody has to sign a batch to send one: what is read before the signature is
/// checked is capped by `edge.max_batch_bytes`, not by the in-flight budget
/// (512 MiB by default, which one unsigned batch could take).
#[tokio::test]
async fn an_unsigned_batch_larger_than_the_cap_is_refused_before_it_is_read() {
    use tokio::io::AsyncWriteExt;
    let gw = Gateway::start_with(|cfg| {
        with_secret(cfg);
        cfg.edge.max_batch_bytes = 1 << 20;
    })
    .await;
    let addr = gw.base.trim_start_matches("http://").to_owned();

    // Declared larger than the cap, and no body: refused at once.
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(
        b"POST /edge/batch HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
          content-length: 104857600\r\n\r\n",
    )
    .await
    .unwrap();
    let line = status_within(&mut s, std::time::Duration::from_secs(3)).await;
    assert_eq!(line.as_deref(), Some("HTTP/1.1 413 Payload Too Large"));

    // Undeclared (chunked): refused once the cap is passed, with the key to set.
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(
        b"POST /edge/batch HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
          transfer-encoding: chunked\r\n\r\n",
    )
    .await
    .unwrap();
    let chunk = [
        format!("{:x}\r\n", 64 * 1024).into_bytes(),
        vec![b' '; 64 * 1024],
        b"\r\n".to_vec(),
    ]
    .concat();
    for _ in 0..24 {
        if s.write_all(&chunk).await.is_err() {
            break; // the gateway may close its side once it has refused
        }
    }
    let line = status_within(&mut s, std::time::Duration::from_secs(3)).await;
    assert_eq!(line.as_deref(), Some("HTTP/1.1 413 Payload Too Large"));

    // A signed batch under the cap is still taken.
    let (status, _) = post_batch(&gw, br#"{"messages":[]}"#, Some(now_secs()), Some(SECRET)).await;
    assert_eq!(status, 200);
    gw.stop().await;
}
