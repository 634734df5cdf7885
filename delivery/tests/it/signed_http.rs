//! Signed and OAuth2 deliveries: what a receiver gets verifies with the verifier it
//! would use (the Standard Webhooks reference library, Hookdeck's documented
//! algorithm recomputed here, a plain HMAC), and OAuth2 tokens are fetched, cached,
//! refetched on expiry and on a 401, and their failures reported.

use crate::common;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::gateway::{eventually, Gateway, Received, Receiver, Reply};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

/// Creates a connection `name` from source `name` to `url` with `auth`; returns
/// the destination as the API shows it.
async fn connect(gw: &Gateway, name: &str, url: &str, auth: Value) -> Value {
    let c = gw
        .post(
            "/connections",
            json!({"name": name, "source": {"name": name},
                   "destination": {"name": name, "url": url, "auth_method": auth}}),
        )
        .await;
    c["destination"].clone()
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn hmac_sha512(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<sha2::Sha512>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Whether the Standard Webhooks Python library is there; without it the test is
/// skipped with a message, except with `CI=true`, where that fails it.
fn standardwebhooks_installed() -> bool {
    let installed = Command::new("python3")
        .args(["-c", "import standardwebhooks"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        let msg = "the standardwebhooks Python package is not installed \
                   (pip install standardwebhooks==1.1.0)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}; with CI=true the Standard Webhooks test must run");
        }
        eprintln!("skipping the reference-library check: {msg}");
    }
    installed
}

/// `Webhook(secret).verify(body, headers)` of the reference library, on what the
/// receiver got (written to files, so bytes pass untouched): `Ok` when it
/// verifies, `Err` with the library's reason when it does not.
fn reference_verify(secret: &str, body: &[u8], r: &Received) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let headers: serde_json::Map<String, Value> = r
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap())))
        .collect();
    std::fs::write(dir.path().join("body"), body).unwrap();
    std::fs::write(
        dir.path().join("headers.json"),
        serde_json::to_vec(&headers).unwrap(),
    )
    .unwrap();
    let script = "\
import json, sys
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
secret, body, headers = sys.argv[1:4]
try:
    Webhook(secret).verify(open(body, 'rb').read(), json.load(open(headers)), json_parse=False)
except WebhookVerificationError as e:
    print(e)
    sys.exit(3)
";
    let out = Command::new("python3")
        .args(["-c", script, secret])
        .arg(dir.path().join("body"))
        .arg(dir.path().join("headers.json"))
        .output()
        .unwrap();
    match out.status.code() {
        Some(0) => Ok(()),
        Some(3) => Err(String::from_utf8_lossy(&out.stdout).trim().to_owned()),
        _ => panic!(
            "the verifier script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[tokio::test]
async fn standard_webhooks_deliveries_verify_with_the_reference_library() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    let dest = connect(&gw, "sw", &rx.url, json!({"type": "STANDARD_WEBHOOKS"})).await;
    let did = dest["id"].as_str().unwrap().to_owned();
    // The generated secret is shown, in the spec's form.
    let first = gw.get(&format!("/destinations/{did}")).await["auth_method"]["config"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = STANDARD
        .decode(first.strip_prefix("whsec_").unwrap())
        .unwrap();
    assert_eq!(key.len(), 24, "{first}");

    let body = r#"{"type":"order.created","id":7}"#;
    gw.send("sw", body).await;
    let got = rx.wait_for(1).await;
    let r = &got[0];
    assert_eq!(&r.body[..], body.as_bytes());
    let event = gw.wait_event("", "SUCCESSFUL").await;
    assert_eq!(r.header("webhook-id").as_deref(), event["id"].as_str());
    let ts: i64 = r.header("webhook-timestamp").unwrap().parse().unwrap();
    assert!((ts - now_secs()).abs() < 60, "{ts}");
    let sig = r.header("webhook-signature").unwrap();
    assert!(sig.starts_with("v1,") && !sig.contains(' '), "{sig}");

    let reference = standardwebhooks_installed();
    if reference {
        assert_eq!(reference_verify(&first, &r.body, r), Ok(()));
        let tampered = reference_verify(&first, br#"{"type":"order.created","id":8}"#, r);
        assert!(tampered.is_err(), "a tampered body verified");
    }

    // Rotation: a new secret, the old one still signed with; a receiver holding
    // either verifies.
    let second = format!("whsec_{}", STANDARD.encode([42u8; 32]));
    gw.put(
        &format!("/destinations/{did}"),
        json!({"auth_method": {"type": "STANDARD_WEBHOOKS",
               "config": {"secret": second, "previous_secret": first}}}),
    )
    .await;
    gw.send("sw", "{\"n\":2}").await;
    let got = rx.wait_for(2).await;
    let r = &got[1];
    assert_eq!(r.header("webhook-signature").unwrap().split(' ').count(), 2);
    if reference {
        assert_eq!(reference_verify(&second, &r.body, r), Ok(()));
        assert_eq!(reference_verify(&first, &r.body, r), Ok(()));
        let other = format!("whsec_{}", STANDARD.encode([7u8; 24]));
        assert!(reference_verify(&other, &r.body, r).is_err());
        assert!(reference_verify(&second, b"{\"n\":3}", r).is_err());
    }
    gw.stop().await;
}

#[tokio::test]
async fn hookdeck_signatures_are_base64_hmac_sha256_of_the_body() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    let dest = connect(&gw, "hd", &rx.url, json!({"type": "HOOKDECK_SIGNATURE"})).await;
    let secret = dest["auth_method"]["config"]["signing_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(secret.len() >= 32, "{secret}");

    // A provider's own header of that name is replaced, not forwarded.
    let body = r#"{"hello": "world" }"#;
    let resp = gw
        .client
        .post(format!("{}/e/hd", gw.base))
        .header("content-type", "application/json")
        .header("x-hookdeck-signature", "forged")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let got = rx.wait_for(1).await;
    let r = &got[0];
    let sent: Vec<_> = r.headers.get_all("x-hookdeck-signature").iter().collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let expected = STANDARD.encode(hmac_sha256(secret.as_bytes(), body.as_bytes()));
    assert_eq!(r.header("x-hookdeck-signature"), Some(expected.clone()));
    let tampered = STANDARD.encode(hmac_sha256(secret.as_bytes(), br#"{"hello": "World" }"#));
    assert_ne!(tampered, expected);

    // Updated without a secret, the destination keeps the one the receiver has.
    let kept = gw
        .put(
            &format!("/destinations/{}", dest["id"].as_str().unwrap()),
            json!({"auth_method": {"type": "HOOKDECK_SIGNATURE", "config": {}}}),
        )
        .await;
    assert_eq!(kept["auth_method"]["config"]["signing_secret"], secret);
    gw.stop().await;
}

#[tokio::test]
async fn custom_signatures_follow_algorithm_encoding_and_prefix() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    let plain = connect(
        &gw,
        "plain",
        &format!("{}/plain", rx.url),
        json!({"type": "CUSTOM_SIGNATURE", "config": {"key": "X-Signature"}}),
    )
    .await;
    let generated = plain["auth_method"]["config"]["signing_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(plain["auth_method"]["config"]["algorithm"], "sha256");
    assert_eq!(plain["auth_method"]["config"]["encoding"], "hex");
    connect(
        &gw,
        "sha512",
        &format!("{}/sha512", rx.url),
        json!({"type": "CUSTOM_SIGNATURE", "config": {"key": "x-sig-512", "signing_secret": "s3cret",
               "algorithm": "sha512", "encoding": "base64", "prefix": "sha512="}}),
    )
    .await;
    let body = r#"{"amount":1250}"#;
    gw.send("plain", body).await;
    gw.send("sha512", body).await;
    let got = rx.wait_for(2).await;
    let by_path = |p: &str| got.iter().find(|r| r.uri.starts_with(p)).unwrap().clone();
    assert_eq!(
        by_path("/plain").header("x-signature"),
        Some(hex::encode(hmac_sha256(
            generated.as_bytes(),
            body.as_bytes()
        )))
    );
    assert_eq!(
        by_path("/sha512").header("x-sig-512"),
        Some(format!(
            "sha512={}",
            STANDARD.encode(hmac_sha512(b"s3cret", body.as_bytes()))
        ))
    );
    gw.stop().await;
}

/// A token request as the endpoint saw it: its `Authorization` header and form body.
type TokenRequest = (Option<String>, String);

/// A token endpoint that counts its requests and hands out `tok-<n>`.
#[derive(Clone)]
struct TokenServer {
    url: String,
    calls: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<TokenRequest>>>,
}

impl TokenServer {
    async fn start(expires_in: Option<u64>) -> Self {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (c, s) = (calls.clone(), seen.clone());
        let handler = move |headers: HeaderMap, body: String| {
            let (c, s) = (c.clone(), s.clone());
            async move {
                let n = c.fetch_add(1, Ordering::SeqCst) + 1;
                let auth = headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_owned());
                s.lock().unwrap().push((auth, body));
                let mut answer =
                    json!({"access_token": format!("tok-{n}"), "token_type": "Bearer"});
                if let Some(e) = expires_in {
                    answer["expires_in"] = json!(e);
                }
                axum::Json(answer)
            }
        };
        let app = axum::Router::new().route("/oauth/token", axum::routing::post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/oauth/token", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        TokenServer { url, calls, seen }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

fn oauth2(token_url: &str, extra: Value) -> Value {
    let mut config =
        json!({"client_id": "hookyard", "client_secret": "s3cret", "auth_server": token_url});
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    json!({"type": "OAUTH2_CLIENT_CREDENTIALS", "config": config})
}

async fn attempts_of(gw: &Gateway, did: &str, n: usize) -> Vec<Value> {
    eventually(&format!("{n} attempts"), || async {
        let v = gw.get(&format!("/attempts?destination_id={did}")).await;
        let models = v["models"].as_array().unwrap().clone();
        (models.len() >= n).then_some(models)
    })
    .await
}

#[tokio::test]
async fn oauth2_tokens_are_cached_and_sent_as_bearer() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    let tokens = TokenServer::start(Some(3600)).await;
    connect(
        &gw,
        "oa",
        &rx.url,
        oauth2(&tokens.url, json!({"scope": "hooks:write"})),
    )
    .await;
    gw.send("oa", "{\"n\":1}").await;
    rx.wait_for(1).await;
    gw.send("oa", "{\"n\":2}").await;
    let got = rx.wait_for(2).await;
    for r in &got {
        assert_eq!(r.header("authorization").as_deref(), Some("Bearer tok-1"));
    }
    assert_eq!(
        tokens.calls(),
        1,
        "the second delivery used the cached token"
    );
    let (auth, form) = tokens.seen.lock().unwrap()[0].clone();
    // authentication_type defaults to basic: base64("hookyard:s3cret").
    assert_eq!(auth.as_deref(), Some("Basic aG9va3lhcmQ6czNjcmV0"));
    assert_eq!(form, "grant_type=client_credentials&scope=hooks%3Awrite");

    // Credentials in the form body instead.
    let rx2 = Receiver::start().await;
    let tokens2 = TokenServer::start(None).await;
    connect(
        &gw,
        "oa-form",
        &rx2.url,
        oauth2(
            &tokens2.url,
            json!({"authentication_type": "x-www-form-urlencoded"}),
        ),
    )
    .await;
    gw.send("oa-form", "{}").await;
    let got = rx2.wait_for(1).await;
    assert_eq!(
        got[0].header("authorization").as_deref(),
        Some("Bearer tok-1")
    );
    let (auth, form) = tokens2.seen.lock().unwrap()[0].clone();
    assert_eq!(auth, None);
    assert_eq!(
        form,
        "grant_type=client_credentials&client_id=hookyard&client_secret=s3cret"
    );
    gw.stop().await;
}

#[tokio::test]
async fn oauth2_tokens_are_refetched_when_they_expire_and_after_a_401() {
    let gw = Gateway::start().await;
    // expires_in 1: shorter than the safety margin, so each delivery fetches.
    let rx = Receiver::start().await;
    let short = TokenServer::start(Some(1)).await;
    connect(&gw, "short", &rx.url, oauth2(&short.url, json!({}))).await;
    gw.send("short", "{}").await;
    rx.wait_for(1).await;
    gw.send("short", "{}").await;
    let got = rx.wait_for(2).await;
    assert_eq!(short.calls(), 2);
    assert_eq!(
        got[1].header("authorization").as_deref(),
        Some("Bearer tok-2")
    );

    // The destination refuses the first token once: one refetch, one resend, and
    // the attempt is a success.
    let refusing = Receiver::scripted(vec![Reply::status(401)]).await;
    let tokens = TokenServer::start(Some(3600)).await;
    let dest = connect(&gw, "refuse", &refusing.url, oauth2(&tokens.url, json!({}))).await;
    let did = dest["id"].as_str().unwrap();
    gw.send("refuse", "{\"n\":1}").await;
    let got = refusing.wait_for(2).await;
    assert_eq!(
        got[0].header("authorization").as_deref(),
        Some("Bearer tok-1")
    );
    assert_eq!(
        got[1].header("authorization").as_deref(),
        Some("Bearer tok-2")
    );
    assert_eq!(&got[1].body[..], b"{\"n\":1}");
    let attempts = attempts_of(&gw, did, 1).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["status"], "SUCCESSFUL", "{}", attempts[0]);
    assert_eq!(attempts[0]["response_status"], 200);
    assert_eq!(tokens.calls(), 2);
    // The new token is the cached one now.
    gw.send("refuse", "{\"n\":2}").await;
    let got = refusing.wait_for(3).await;
    assert_eq!(
        got[2].header("authorization").as_deref(),
        Some("Bearer tok-2")
    );
    assert_eq!(tokens.calls(), 2);
    gw.stop().await;
}

#[tokio::test]
async fn oauth2_token_failures_fail_the_attempt_with_a_clear_message() {
    let gw = Gateway::start().await;
    let rx = Receiver::start().await;
    // A port nothing listens on.
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/oauth/token?tenant=t1", l.local_addr().unwrap())
    };
    let dest = connect(&gw, "down", &rx.url, oauth2(&down, json!({}))).await;
    let did = dest["id"].as_str().unwrap();
    gw.send("down", "{}").await;
    let a = attempts_of(&gw, did, 1).await.remove(0);
    assert_eq!(a["status"], "FAILED");
    assert_eq!(a["error_code"], "OAUTH2_HANDSHAKE_FAILED");
    let m = a["error_message"].as_str().unwrap();
    let shown = down.replace("tenant=t1", "tenant=REDACTED");
    assert!(
        m.contains(&format!("OAuth2 token request to {shown} failed")),
        "{m}"
    );

    // An endpoint that answers with an error.
    let refusing = Receiver::scripted(vec![Reply {
        status: 401,
        retry_after: None,
        body: r#"{"error":"invalid_client","error_description":"unknown client"}"#.into(),
    }])
    .await;
    let token_url = format!("{}/oauth/token", refusing.url);
    let dest = connect(&gw, "refused", &rx.url, oauth2(&token_url, json!({}))).await;
    let did = dest["id"].as_str().unwrap();
    gw.send("refused", "{}").await;
    let a = attempts_of(&gw, did, 1).await.remove(0);
    assert_eq!(a["status"], "FAILED");
    assert_eq!(a["error_code"], "OAUTH2_HANDSHAKE_FAILED");
    assert_eq!(
        a["error_message"],
        format!(
            "OAuth2 token URL {token_url} answered status 401 (invalid_client: unknown client)"
        )
    );
    assert!(
        rx.received().is_empty(),
        "nothing was delivered without a token"
    );
    gw.stop().await;
}

#[tokio::test]
async fn signing_configs_are_checked_and_generated_secrets_shown() {
    let gw = Gateway::start().await;
    let refused = |auth: Value| {
        let gw = &gw;
        async move {
            let (s, v) = gw
                .call(
                    Method::POST,
                    "/destinations",
                    Some(json!({"name": "d", "url": "http://127.0.0.1:9/", "auth_method": auth})),
                )
                .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
            v["message"].as_str().unwrap().to_owned()
        }
    };
    let m = refused(json!({"type": "STANDARD_WEBHOOKS", "config": {"secret": "not-whsec"}})).await;
    assert!(
        m.starts_with("auth_method.config.secret must start with `whsec_`"),
        "{m}"
    );
    let m =
        refused(json!({"type": "STANDARD_WEBHOOKS", "config": {"secret": "whsec_c2hvcnQ="}})).await;
    assert!(
        m.starts_with("auth_method.config.secret must decode to 24 to 64 bytes"),
        "{m}"
    );
    let m =
        refused(json!({"type": "STANDARD_WEBHOOKS", "config": {"previous_secret": "whsec_!!"}}))
            .await;
    assert!(m.starts_with("auth_method.config.previous_secret"), "{m}");
    let m = refused(
        json!({"type": "CUSTOM_SIGNATURE", "config": {"key": "x-sig", "algorithm": "md5"}}),
    )
    .await;
    assert!(
        m.contains("`auth_method.config.algorithm`") && m.contains("md5"),
        "{m}"
    );
    let m = refused(
        json!({"type": "CUSTOM_SIGNATURE", "config": {"key": "x-sig", "encoding": "base32"}}),
    )
    .await;
    assert!(m.contains("`auth_method.config.encoding`"), "{m}");
    let m = refused(json!({"type": "CUSTOM_SIGNATURE", "config": {"key": "bad header"}})).await;
    assert!(
        m.starts_with("auth_method.config.key must be a valid HTTP header name"),
        "{m}"
    );
    let m = refused(json!({"type": "CUSTOM_SIGNATURE", "config": {}})).await;
    assert!(
        m.contains("`auth_method.config`") && m.contains("key"),
        "{m}"
    );
    let m = refused(json!({"type": "OAUTH2_CLIENT_CREDENTIALS", "config": {
        "client_id": "i", "client_secret": "s", "auth_server": "ftp://x"}}))
    .await;
    assert!(
        m.starts_with("auth_method.config.auth_server must be"),
        "{m}"
    );
    let m = refused(json!({"type": "OAUTH2_CLIENT_CREDENTIALS", "config": {
        "client_id": "i", "client_secret": "s", "auth_server": "http://x/t", "authentication_type": "digest"}}))
    .await;
    assert!(
        m.contains("`auth_method.config.authentication_type`"),
        "{m}"
    );
    // Inline in a connection, the path says so.
    let (s, v) = gw
        .call(
            Method::POST,
            "/connections",
            Some(
                json!({"name": "c", "source": {"name": "s"}, "destination": {"name": "d",
                "url": "http://127.0.0.1:9/", "auth_method": {"type": "STANDARD_WEBHOOKS",
                "config": {"secret": "whsec_"}}}}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("destination.auth_method.config.secret"),
        "{v}"
    );

    // Generated secrets appear in the answers and in GET.
    for (ty, field) in [
        ("HOOKDECK_SIGNATURE", "signing_secret"),
        ("STANDARD_WEBHOOKS", "secret"),
    ] {
        let d = gw
            .post(
                "/destinations",
                json!({"name": ty.to_lowercase(), "url": "http://127.0.0.1:9/",
                       "auth_method": {"type": ty}}),
            )
            .await;
        let got = gw
            .get(&format!("/destinations/{}", d["id"].as_str().unwrap()))
            .await;
        let secret = &got["auth_method"]["config"][field];
        assert!(secret.is_string(), "{ty}: {got}");
        assert_eq!(secret, &d["auth_method"]["config"][field]);
    }
    let d = gw
        .post(
            "/destinations",
            json!({"name": "custom", "url": "http://127.0.0.1:9/",
                   "auth_method": {"type": "CUSTOM_SIGNATURE", "config": {"key": "x-sig", "signing_secret": ""}}}),
        )
        .await;
    let got = gw
        .get(&format!("/destinations/{}", d["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        got["auth_method"]["config"]["signing_secret"]
            .as_str()
            .map(str::len),
        Some(64),
        "{got}"
    );
    gw.stop().await;
}
