//! Cost of verifying one 2 KB JSON webhook per scheme (`cargo bench -p hookyard-core
//! --bench verify`). The signatures are made once, outside the measured loop.
// A benchmark panics on a broken set-up, as a test does.
#![allow(clippy::unwrap_used)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use hookyard_core::verify::mac::{sign, Algorithm, Encoding};
use hookyard_core::verify::{SignedRequest, Verification};
use serde_json::json;

const NOW: i64 = 1_700_000_000;
const URL: &str = "https://edge.example/e/src";

fn body() -> Vec<u8> {
    let mut s = String::from(r#"{"webhookTimestamp":1700000000000,"items":["#);
    while s.len() < 2000 {
        s.push_str(r#"{"id":"item_0123456789","amount":1250},"#);
    }
    s.push_str(r#"{"id":"last"}]}"#);
    s.into_bytes()
}

fn hex256(key: &[u8], parts: &[&[u8]]) -> String {
    Encoding::Hex.encode(&sign(Algorithm::Sha256, key, parts))
}

/// A scheme's name, its configuration and the headers of a valid request.
type Case = (&'static str, serde_json::Value, Vec<(String, String)>);

fn cases(body: &[u8]) -> Vec<Case> {
    let t = NOW.to_string();
    let svix_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let svix_key = STANDARD.decode(&svix_secret[6..]).unwrap();
    let svix_sig = STANDARD.encode(sign(
        Algorithm::Sha256,
        &svix_key,
        &[b"msg_1.", t.as_bytes(), b".", body],
    ));
    let h = |pairs: &[(&str, String)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<Vec<_>>()
    };
    vec![
        (
            "stripe",
            json!({"type": "stripe", "configs": {"webhook_secret_key": "whsec_x"}}),
            h(&[(
                "stripe-signature",
                format!(
                    "t={t},v1={}",
                    hex256(b"whsec_x", &[t.as_bytes(), b".", body])
                ),
            )]),
        ),
        (
            "github",
            json!({"type": "github", "configs": {"webhook_secret_key": "g"}}),
            h(&[(
                "x-hub-signature-256",
                format!("sha256={}", hex256(b"g", &[body])),
            )]),
        ),
        (
            "shopify",
            json!({"type": "shopify", "configs": {"webhook_secret_key": "s"}}),
            h(&[(
                "x-shopify-hmac-sha256",
                STANDARD.encode(sign(Algorithm::Sha256, b"s", &[body])),
            )]),
        ),
        (
            "standard_webhooks",
            json!({"type": "standard_webhooks", "configs": {"webhook_secret_key": svix_secret}}),
            h(&[
                ("webhook-id", "msg_1".into()),
                ("webhook-timestamp", t.clone()),
                ("webhook-signature", format!("v1,{svix_sig}")),
            ]),
        ),
        (
            "twilio",
            json!({"type": "twilio", "configs": {"webhook_secret_key": "tw"}}),
            h(&[(
                "x-twilio-signature",
                STANDARD.encode(sign(Algorithm::Sha1, b"tw", &[URL.as_bytes()])),
            )]),
        ),
        (
            "slack",
            json!({"type": "slack", "configs": {"webhook_secret_key": "sl"}}),
            h(&[
                ("x-slack-request-timestamp", t.clone()),
                (
                    "x-slack-signature",
                    format!("v0={}", hex256(b"sl", &[b"v0:", t.as_bytes(), b":", body])),
                ),
            ]),
        ),
        (
            "paddle",
            json!({"type": "paddle", "configs": {"webhook_secret_key": "pd"}}),
            h(&[(
                "paddle-signature",
                format!("ts={t};h1={}", hex256(b"pd", &[t.as_bytes(), b":", body])),
            )]),
        ),
        (
            "linear",
            json!({"type": "linear", "configs": {"webhook_secret_key": "ln"}}),
            h(&[("linear-signature", hex256(b"ln", &[body]))]),
        ),
        (
            "hmac_sha512_base64",
            json!({"type": "hmac", "configs": {"webhook_secret_key": "k", "algorithm": "sha512", "header_key": "x-sig", "encoding": "base64"}}),
            h(&[(
                "x-sig",
                STANDARD.encode(sign(Algorithm::Sha512, b"k", &[body])),
            )]),
        ),
        (
            "basic_auth",
            json!({"type": "basic_auth", "configs": {"username": "u", "password": "p"}}),
            h(&[("authorization", format!("Basic {}", STANDARD.encode("u:p")))]),
        ),
        (
            "api_key",
            json!({"type": "api_key", "configs": {"header_key": "x-api-key", "api_key": "k"}}),
            h(&[("x-api-key", "k".into())]),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let body = body();
    let mut group = c.benchmark_group("verify_2kb");
    for (name, config, headers) in cases(&body) {
        let v = Verification::from_json(&config).unwrap();
        let req = SignedRequest {
            url: URL,
            headers: &headers,
            body: &body,
            now_secs: NOW,
        };
        assert_eq!(v.verify(&req), Ok(()), "{name}");
        group.bench_function(name, |b| b.iter(|| v.verify(std::hint::black_box(&req))));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
