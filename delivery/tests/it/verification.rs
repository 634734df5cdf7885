//! A source's `verification`: checked when the source is written (422 naming the
//! field) and by the local ingest of `hookyard serve` (401, nothing stored), with
//! the same `hookyard_core::verify` code the edge Worker runs.

use crate::common;

use axum::http::{Method, StatusCode};
use common::gateway::Gateway;
use hookyard_core::verify::mac::{sign, Algorithm, Encoding};
use serde_json::json;

#[tokio::test]
async fn invalid_configurations_are_refused_naming_the_field() {
    let gw = Gateway::start().await;
    for (verification, field) in [
        (json!({"type": "nope"}), "verification.type"),
        (
            json!({"type": "hmac", "configs": {"webhook_secret_key": "k", "algorithm": "md5",
                   "header_key": "x-sig", "encoding": "hex"}}),
            "verification.configs.algorithm",
        ),
        (
            json!({"type": "svix", "configs": {"webhook_secret_key": "whsec_%%"}}),
            "verification.configs.webhook_secret_key",
        ),
        (json!({"type": "stripe"}), "verification.configs"),
    ] {
        let (status, body) = gw
            .call(
                Method::POST,
                "/sources",
                Some(json!({"name": "s", "verification": verification})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains(&format!("`{field}`")),
            "{field}: {body}"
        );
    }
    gw.stop().await;
}

#[tokio::test]
async fn local_ingest_verifies_and_stores_only_what_passes() {
    let gw = Gateway::start().await;
    let src = gw
        .post(
            "/sources",
            json!({"name": "gh", "verification": {"type": "github",
                   "configs": {"webhook_secret_key": ["old", "new"]}}}),
        )
        .await;
    let id = src["id"].as_str().unwrap();
    let body = br#"{"action":"opened"}"#;
    let sig = |key: &[u8]| {
        format!(
            "sha256={}",
            Encoding::Hex.encode(&sign(Algorithm::Sha256, key, &[body]))
        )
    };
    let send = |header: Option<String>, body: &'static [u8]| {
        let mut rb = gw.client.post(format!("{}/e/gh", gw.base)).body(body);
        if let Some(h) = header {
            rb = rb.header("x-hub-signature-256", h);
        }
        async move {
            let r = rb.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(send(Some(sig(b"new")), body).await.0, 200);
    assert_eq!(send(Some(sig(b"old")), body).await.0, 200, "rotation");
    let (status, text) = send(Some(sig(b"wrong")), body).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("signature does not match"), "{text}");
    let (status, text) = send(None, body).await;
    assert_eq!(status, 401);
    assert!(
        text.contains("missing x-hub-signature-256 header"),
        "{text}"
    );
    assert_eq!(send(Some(sig(b"new")), b"{}").await.0, 401, "tampered");

    let stored = gw.get(&format!("/requests?source_id={id}")).await;
    assert_eq!(stored["models"].as_array().unwrap().len(), 2, "{stored}");
    gw.stop().await;
}
