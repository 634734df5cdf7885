//! `GET /edge/config`, as the edge Worker fetches it: only with a signed request,
//! answered with a signed, versioned configuration that follows every source
//! change, and `304` while nothing changed.

use crate::common;

use common::gateway::Gateway;
use hookyard_core::edge::{
    sign_config_request, verify_config_answer, VersionedConfig, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use serde_json::json;

const SECRET: &str = "edge-secret";

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct Answer {
    status: u16,
    etag: Option<String>,
    timestamp: Option<String>,
    signature: Option<String>,
    body: Vec<u8>,
}

async fn fetch(gw: &Gateway, signed_with: Option<&str>, if_none_match: Option<&str>) -> Answer {
    let ts = now_secs();
    let mut rb = gw.client.get(format!("{}/edge/config", gw.base));
    if let Some(secret) = signed_with {
        rb = rb
            .header(TIMESTAMP_HEADER, ts.to_string())
            .header(SIGNATURE_HEADER, sign_config_request(secret, ts));
    }
    if let Some(tag) = if_none_match {
        rb = rb.header("if-none-match", tag);
    }
    let resp = rb.send().await.expect("get /edge/config");
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    Answer {
        status: resp.status().as_u16(),
        etag: header("etag"),
        timestamp: header(TIMESTAMP_HEADER),
        signature: header(SIGNATURE_HEADER),
        body: resp.bytes().await.unwrap().to_vec(),
    }
}

/// The configuration in a 200, after checking the answer's signature as the Worker does.
fn verified(a: &Answer) -> VersionedConfig {
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    verify_config_answer(
        SECRET,
        a.timestamp.as_deref(),
        a.signature.as_deref(),
        &a.body,
        now_secs(),
    )
    .expect("the answer is signed with the edge secret");
    let v: VersionedConfig = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(
        a.etag.as_deref(),
        Some(format!("\"{}\"", v.version).as_str())
    );
    v
}

async fn the_configuration_follows_the_sources(gw: Gateway) {
    // Unsigned, wrongly signed: 401, and no configuration in the answer.
    for secret in [None, Some("wrong")] {
        let a = fetch(&gw, secret, None).await;
        assert_eq!(a.status, 401, "{secret:?}");
        let text = String::from_utf8_lossy(&a.body);
        assert!(text.contains("configuration request refused"), "{text}");
    }

    for i in 0..200 {
        gw.post(
            "/sources",
            json!({"name": format!("src-{i:03}"), "verification":
                {"type": "github", "configs": {"webhook_secret_key": format!("secret-{i}")}}}),
        )
        .await;
    }
    let first = verified(&fetch(&gw, Some(SECRET), None).await);
    assert_eq!(first.config.sources.len(), 200);
    let text = serde_json::to_string(&first.config.sources["src-199"]).unwrap();
    assert!(text.contains("secret-199"), "{text}");

    // Nothing changed: 304, signed over the ETag it confirms.
    let tag = format!("\"{}\"", first.version);
    let same = fetch(&gw, Some(SECRET), Some(&tag)).await;
    assert_eq!(same.status, 304);
    assert!(same.body.is_empty());
    verify_config_answer(
        SECRET,
        same.timestamp.as_deref(),
        same.signature.as_deref(),
        tag.as_bytes(),
        now_secs(),
    )
    .expect("a 304 is signed over its ETag");

    // A rotated secret and a new source give a new version with both.
    let id = gw.get("/sources?name=src-007").await["models"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    gw.put(
        &format!("/sources/{id}"),
        json!({"verification": {"type": "github", "configs": {"webhook_secret_key": "rotated"}}}),
    )
    .await;
    gw.post("/sources", json!({"name": "late"})).await;
    // Served from a one-second memo: the change shows within that.
    let started = std::time::Instant::now();
    let changed = loop {
        let a = fetch(&gw, Some(SECRET), Some(&tag)).await;
        if a.status != 304 || started.elapsed() > std::time::Duration::from_secs(3) {
            break a;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        started.elapsed()
            <= hookyard::ingest::edge_sources::MEMO_TTL + std::time::Duration::from_millis(500),
        "the change took {:?} to be served",
        started.elapsed()
    );
    let next = verified(&changed);
    assert_ne!(next.version, first.version);
    assert!(next.config.sources.contains_key("late"));
    let text = serde_json::to_string(&next.config.sources["src-007"]).unwrap();
    assert!(
        text.contains("rotated") && !text.contains("secret-7\""),
        "{text}"
    );
    gw.stop().await;
}

fn with_secret(cfg: &mut hookyard::config::Config) {
    cfg.edge.batch_secret = SECRET.into();
}

#[tokio::test]
async fn sqlite_the_configuration_follows_the_sources() {
    the_configuration_follows_the_sources(Gateway::start_with(with_secret).await).await;
}

#[tokio::test]
async fn postgres_the_configuration_follows_the_sources() {
    let Some(gw) = Gateway::start_postgres_with(with_secret).await else {
        return;
    };
    the_configuration_follows_the_sources(gw).await;
}

#[tokio::test]
async fn without_a_secret_no_configuration_is_served() {
    let gw = Gateway::start().await;
    let a = fetch(&gw, Some(""), None).await;
    assert_eq!(a.status, 401);
    assert!(String::from_utf8_lossy(&a.body).contains("edge.batch_secret"));
    gw.stop().await;
}
