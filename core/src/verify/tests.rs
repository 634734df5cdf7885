//! Each scheme: a correctly signed request passes; a changed body, a wrong secret,
//! a stale timestamp and a missing signature fail; a rotated secret list accepts
//! either secret. Signatures are built here by following each provider's
//! documentation; tests/edge/ checks the same code against the providers' own
//! libraries.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::json;

use super::mac::{sign, Algorithm, Encoding};
use super::{SignedRequest, Verification, VerifyError};

const NOW: i64 = 1_700_000_000;
const URL: &str = "https://edge.example/e/src";

/// Signs `body` at time `ts` with `secret`, returning the headers to send.
type Signer = fn(secret: &str, ts: i64, body: &[u8]) -> Vec<(String, String)>;

struct Case {
    name: &'static str,
    verification: serde_json::Value,
    sign: Signer,
    secret: &'static str,
    other_secret: &'static str,
    timestamped: bool,
}

fn h(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn hmac256_hex(key: &[u8], parts: &[&[u8]]) -> String {
    hex::encode(sign(Algorithm::Sha256, key, parts))
}

fn svix_key(secret: &str) -> Vec<u8> {
    STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap()
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "stripe",
            verification: json!({"type": "stripe", "configs": {"webhook_secret_key": "whsec_a"}}),
            sign: |s, ts, body| {
                let sig = hmac256_hex(s.as_bytes(), &[ts.to_string().as_bytes(), b".", body]);
                h(&[("Stripe-Signature", format!("t={ts},v1={sig},v0=ignored"))])
            },
            secret: "whsec_a",
            other_secret: "whsec_b",
            timestamped: true,
        },
        Case {
            name: "github",
            verification: json!({"type": "github", "configs": {"webhook_secret_key": "gh"}}),
            sign: |s, _, body| {
                h(&[(
                    "x-hub-signature-256",
                    format!("sha256={}", hmac256_hex(s.as_bytes(), &[body])),
                )])
            },
            secret: "gh",
            other_secret: "gh2",
            timestamped: false,
        },
        Case {
            name: "shopify",
            verification: json!({"type": "shopify", "configs": {"webhook_secret_key": "shp"}}),
            sign: |s, _, body| {
                let sig = STANDARD.encode(sign(Algorithm::Sha256, s.as_bytes(), &[body]));
                h(&[("X-Shopify-Hmac-Sha256", sig)])
            },
            secret: "shp",
            other_secret: "shp2",
            timestamped: false,
        },
        Case {
            name: "standard_webhooks",
            verification: json!({"type": "standard_webhooks", "configs": {"webhook_secret_key": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}),
            sign: |s, ts, body| {
                let t = ts.to_string();
                let sig = STANDARD.encode(sign(
                    Algorithm::Sha256,
                    &svix_key(s),
                    &[b"msg_1.", t.as_bytes(), b".", body],
                ));
                h(&[
                    ("webhook-id", "msg_1".into()),
                    ("webhook-timestamp", t),
                    ("webhook-signature", format!("v1a,xx v1,{sig}")),
                ])
            },
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            other_secret: "whsec_c2Vjb25kLXNlY3JldA==",
            timestamped: true,
        },
        Case {
            name: "svix",
            verification: json!({"type": "svix", "configs": {"webhook_secret_key": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}),
            sign: |s, ts, body| {
                let t = ts.to_string();
                let sig = STANDARD.encode(sign(
                    Algorithm::Sha256,
                    &svix_key(s),
                    &[b"msg_1.", t.as_bytes(), b".", body],
                ));
                h(&[
                    ("svix-id", "msg_1".into()),
                    ("svix-timestamp", t),
                    ("svix-signature", format!("v1,{sig}")),
                ])
            },
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            other_secret: "whsec_c2Vjb25kLXNlY3JldA==",
            timestamped: true,
        },
        Case {
            name: "twilio",
            verification: json!({"type": "twilio", "configs": {"webhook_secret_key": "tok"}}),
            sign: |s, _, body| {
                // Form body: URL + params sorted by name, each name then value.
                let mut params: Vec<(String, String)> = form_urlencoded::parse(body)
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect();
                params.sort();
                let mut text = URL.to_owned();
                for (k, v) in params {
                    text.push_str(&k);
                    text.push_str(&v);
                }
                let sig = STANDARD.encode(sign(Algorithm::Sha1, s.as_bytes(), &[text.as_bytes()]));
                h(&[
                    ("X-Twilio-Signature", sig),
                    ("content-type", "application/x-www-form-urlencoded".into()),
                ])
            },
            secret: "tok",
            other_secret: "tok2",
            timestamped: false,
        },
        Case {
            name: "slack",
            verification: json!({"type": "slack", "configs": {"webhook_secret_key": "slk"}}),
            sign: |s, ts, body| {
                let t = ts.to_string();
                let sig = hmac256_hex(s.as_bytes(), &[b"v0:", t.as_bytes(), b":", body]);
                h(&[
                    ("X-Slack-Request-Timestamp", t),
                    ("X-Slack-Signature", format!("v0={sig}")),
                ])
            },
            secret: "slk",
            other_secret: "slk2",
            timestamped: true,
        },
        Case {
            name: "paddle",
            verification: json!({"type": "paddle", "configs": {"webhook_secret_key": "pdl_ntfset_x"}}),
            sign: |s, ts, body| {
                let t = ts.to_string();
                let sig = hmac256_hex(s.as_bytes(), &[t.as_bytes(), b":", body]);
                h(&[("Paddle-Signature", format!("ts={t};h1={sig}"))])
            },
            secret: "pdl_ntfset_x",
            other_secret: "pdl_ntfset_y",
            timestamped: true,
        },
        Case {
            name: "hmac sha512 base64url",
            verification: json!({"type": "hmac", "configs": {"webhook_secret_key": "k1", "algorithm": "sha512", "header_key": "X-Sig", "encoding": "base64url"}}),
            sign: |s, _, body| {
                h(&[(
                    "x-sig",
                    Encoding::Base64url.encode(&sign(Algorithm::Sha512, s.as_bytes(), &[body])),
                )])
            },
            secret: "k1",
            other_secret: "k2",
            timestamped: false,
        },
        Case {
            name: "hmac sha1 hex",
            verification: json!({"type": "hmac", "configs": {"webhook_secret_key": "k1", "algorithm": "sha1", "header_key": "X-Sig", "encoding": "hex"}}),
            sign: |s, _, body| {
                h(&[(
                    "x-sig",
                    Encoding::Hex.encode(&sign(Algorithm::Sha1, s.as_bytes(), &[body])),
                )])
            },
            secret: "k1",
            other_secret: "k2",
            timestamped: false,
        },
        Case {
            name: "hmac sha256 base64",
            verification: json!({"type": "hmac", "configs": {"webhook_secret_key": "k1", "algorithm": "sha256", "header_key": "X-Sig", "encoding": "base64"}}),
            sign: |s, _, body| {
                h(&[(
                    "x-sig",
                    Encoding::Base64.encode(&sign(Algorithm::Sha256, s.as_bytes(), &[body])),
                )])
            },
            secret: "k1",
            other_secret: "k2",
            timestamped: false,
        },
    ]
}

/// The same case with the secret list `[other, secret]` (a rotation in progress).
fn rotated(v: &serde_json::Value, other: &str, secret: &str) -> Verification {
    let mut v = v.clone();
    v["configs"]["webhook_secret_key"] = json!([other, secret]);
    Verification::from_json(&v).unwrap()
}

fn check(v: &Verification, headers: &[(String, String)], body: &[u8]) -> Result<(), VerifyError> {
    v.verify(&SignedRequest {
        url: URL,
        headers,
        body,
        now_secs: NOW,
    })
}

#[test]
fn every_scheme_accepts_its_signature_and_refuses_tampering() {
    let body: &[u8] = b"a=1&b=two+words&Body=%E2%9C%93";
    for c in cases() {
        let v = Verification::from_json(&c.verification).unwrap();
        let good = (c.sign)(c.secret, NOW - 10, body);
        assert_eq!(
            check(&v, &good, body),
            Ok(()),
            "{}: valid signature",
            c.name
        );
        assert_eq!(
            check(&v, &good, b"a=1&b=two+words&Body=x"),
            Err(VerifyError::Mismatch),
            "{}: tampered body",
            c.name
        );
        let wrong = (c.sign)(c.other_secret, NOW - 10, body);
        assert_eq!(
            check(&v, &wrong, body),
            Err(VerifyError::Mismatch),
            "{}: wrong secret",
            c.name
        );
        assert!(
            matches!(
                check(&v, &[], body),
                Err(VerifyError::MissingHeader(_) | VerifyError::Malformed(_))
            ),
            "{}: unsigned",
            c.name
        );
        let both = rotated(&c.verification, c.other_secret, c.secret);
        assert_eq!(
            check(&both, &good, body),
            Ok(()),
            "{}: rotation, new secret",
            c.name
        );
        assert_eq!(
            check(&both, &wrong, body),
            Ok(()),
            "{}: rotation, old secret",
            c.name
        );
        if c.timestamped {
            let old = (c.sign)(c.secret, NOW - 301, body);
            assert_eq!(
                check(&v, &old, body),
                Err(VerifyError::Stale(300)),
                "{}: stale",
                c.name
            );
            let future = (c.sign)(c.secret, NOW + 301, body);
            assert_eq!(
                check(&v, &future, body),
                Err(VerifyError::Stale(300)),
                "{}: future",
                c.name
            );
        }
    }
}

#[test]
fn linear_checks_the_signed_webhook_timestamp() {
    let v = Verification::from_json(
        &json!({"type": "linear", "configs": {"webhook_secret_key": "lin"}}),
    )
    .unwrap();
    let signed = |ms: i64, secret: &str| {
        let body = format!(r#"{{"action":"create","webhookTimestamp":{ms}}}"#).into_bytes();
        let sig = hmac256_hex(secret.as_bytes(), &[&body]);
        (body, h(&[("Linear-Signature", sig)]))
    };
    let (body, headers) = signed(NOW * 1000 - 5_000, "lin");
    assert_eq!(check(&v, &headers, &body), Ok(()));
    assert_eq!(check(&v, &headers, b"{}"), Err(VerifyError::Mismatch));
    let (old_body, old_headers) = signed((NOW - 600) * 1000, "lin");
    assert_eq!(
        check(&v, &old_headers, &old_body),
        Err(VerifyError::Stale(300))
    );
    let (body2, wrong) = signed(NOW * 1000, "nope");
    assert_eq!(check(&v, &wrong, &body2), Err(VerifyError::Mismatch));
}

#[test]
fn twilio_json_bodies_are_checked_through_body_sha256() {
    let v = Verification::from_json(
        &json!({"type": "twilio", "configs": {"webhook_secret_key": "tok"}}),
    )
    .unwrap();
    let body = br#"{"event":"x"}"#;
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body));
    let url = format!("{URL}?bodySHA256={digest}");
    let sig = STANDARD.encode(sign(Algorithm::Sha1, b"tok", &[url.as_bytes()]));
    let headers = h(&[
        ("x-twilio-signature", sig),
        ("content-type", "application/json".into()),
    ]);
    let verify = |body: &[u8]| {
        v.verify(&SignedRequest {
            url: &url,
            headers: &headers,
            body,
            now_secs: NOW,
        })
    };
    assert_eq!(verify(body), Ok(()));
    assert_eq!(verify(br#"{"event":"y"}"#), Err(VerifyError::Mismatch));
}

#[test]
fn basic_auth_and_api_keys() {
    let basic = Verification::from_json(
        &json!({"type": "basic_auth", "configs": {"username": "u", "password": ["old", "new"]}}),
    )
    .unwrap();
    let auth = |user_pass: &str| {
        h(&[(
            "authorization",
            format!("Basic {}", STANDARD.encode(user_pass)),
        )])
    };
    assert_eq!(check(&basic, &auth("u:new"), b""), Ok(()));
    assert_eq!(check(&basic, &auth("u:old"), b""), Ok(()));
    assert_eq!(
        check(&basic, &auth("u:bad"), b""),
        Err(VerifyError::BadCredentials)
    );
    assert_eq!(
        check(&basic, &auth("v:new"), b""),
        Err(VerifyError::BadCredentials)
    );
    assert_eq!(
        check(&basic, &[], b""),
        Err(VerifyError::MissingHeader("authorization"))
    );

    let key = Verification::from_json(
        &json!({"type": "api_key", "configs": {"header_key": "X-Api-Key", "api_key": "k"}}),
    )
    .unwrap();
    assert_eq!(check(&key, &h(&[("x-api-key", "k".into())]), b""), Ok(()));
    assert_eq!(
        check(&key, &h(&[("x-api-key", "kk".into())]), b""),
        Err(VerifyError::BadCredentials)
    );
    assert_eq!(check(&key, &[], b""), Err(VerifyError::BadCredentials));
    let bearer = Verification::from_json(
        &json!({"type": "api_key", "configs": {"header_key": "authorization", "api_key": "k"}}),
    )
    .unwrap();
    assert_eq!(
        check(&bearer, &h(&[("Authorization", "Bearer k".into())]), b""),
        Ok(())
    );
}
