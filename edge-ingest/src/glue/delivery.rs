//! The Worker's calls to delivery, both signed with `BATCH_SECRET`: pushing a
//! batch to `/edge/batch`, and asking `/edge/config` for the configuration.

use std::time::Duration;

use futures_util::future::{select, Either};
use hookyard_core::edge::{
    sign_batch, sign_config_request, verify_config_answer, BatchResponse, VersionedConfig,
    CONFIG_PATH, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use worker::{Date, Delay, Env, Fetch, Headers, Method, Request, RequestInit, Response};

/// How long a configuration request may take before the Worker answers the
/// webhook with the copy it holds (delivery slow or unreachable).
const CONFIG_TIMEOUT: Duration = Duration::from_secs(3);

fn delivery_url(env: &Env) -> Result<String, String> {
    env.var("DELIVERY_URL")
        .map(|v| v.to_string().trim_end_matches('/').to_owned())
        .map_err(|_| "DELIVERY_URL is not set".to_owned())
}

pub fn secret(env: &Env) -> Result<String, String> {
    env.secret("BATCH_SECRET")
        .map(|s| s.to_string())
        .or_else(|_| env.var("BATCH_SECRET").map(|v| v.to_string()))
        .map_err(|_| "BATCH_SECRET is not set".to_owned())
}

fn now_secs() -> i64 {
    (Date::now().as_millis() / 1000) as i64
}

fn signed_headers(ts: i64, signature: &str) -> Result<Headers, String> {
    let headers = Headers::new();
    headers
        .set(TIMESTAMP_HEADER, &ts.to_string())
        .and_then(|_| headers.set(SIGNATURE_HEADER, signature))
        .map_err(|e| e.to_string())?;
    Ok(headers)
}

async fn send(url: &str, init: &RequestInit) -> Result<Response, String> {
    let req = Request::new_with_init(url, init).map_err(|e| e.to_string())?;
    Fetch::Request(req).send().await.map_err(|e| e.to_string())
}

/// POSTs one encoded batch; delivery's per-message answer.
pub async fn post_batch(env: &Env, body: String) -> Result<BatchResponse, String> {
    let url = delivery_url(env)?;
    let secret = secret(env)?;
    let ts = now_secs();
    let headers = signed_headers(ts, &sign_batch(&secret, ts, body.as_bytes()))?;
    headers
        .set("content-type", "application/json")
        .map_err(|e| e.to_string())?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()));
    let mut resp = send(&format!("{url}/edge/batch"), &init).await?;
    let status = resp.status_code();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("delivery answered {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("unreadable answer from delivery: {e}"))
}

/// What delivery said about the configuration.
pub enum ConfigAnswer {
    /// A configuration, checked against delivery's signature; `text` is its JSON
    /// as received (what the Worker keeps in R2).
    New {
        config: VersionedConfig,
        text: String,
    },
    /// The version the Worker holds is current.
    Unchanged,
}

/// Asks delivery for its configuration, sending the version held (`have`).
pub async fn fetch_config(env: &Env, have: Option<&str>) -> Result<ConfigAnswer, String> {
    let url = delivery_url(env)?;
    if !crate::config_cache::secrets_may_travel_to(&url) {
        return Err(format!(
            "DELIVERY_URL {url} is not https: the configuration carries verification \
             secrets and is fetched only over TLS (or from 127.0.0.1)"
        ));
    }
    let secret = secret(env)?;
    let ts = now_secs();
    let headers = signed_headers(ts, &sign_config_request(&secret, ts))?;
    if let Some(v) = have {
        headers
            .set("if-none-match", &format!("\"{v}\""))
            .map_err(|e| e.to_string())?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let endpoint = format!("{url}{CONFIG_PATH}");
    let call = async {
        let mut resp = send(&endpoint, &init).await?;
        let status = resp.status_code();
        let header = |name: &str| resp.headers().get(name).ok().flatten();
        let (ts, sig, etag) = (
            header(TIMESTAMP_HEADER),
            header(SIGNATURE_HEADER),
            header("etag"),
        );
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        Ok::<_, String>((status, ts, sig, etag, body))
    };
    let (status, ts, sig, etag, body) =
        match select(Box::pin(call), Box::pin(Delay::from(CONFIG_TIMEOUT))).await {
            Either::Left((answer, _)) => answer?,
            Either::Right(_) => {
                return Err(format!(
                    "{endpoint} did not answer within {} s",
                    CONFIG_TIMEOUT.as_secs()
                ))
            }
        };
    let check = |signed: &[u8]| {
        verify_config_answer(&secret, ts.as_deref(), sig.as_deref(), signed, now_secs())
            .map_err(|e| format!("the configuration from {endpoint} is not trusted: {e}"))
    };
    match status {
        304 => {
            let etag = etag.unwrap_or_default();
            check(etag.as_bytes())?;
            if have.map(|v| format!("\"{v}\"")) == Some(etag) {
                Ok(ConfigAnswer::Unchanged)
            } else {
                Err(format!("{endpoint} answered 304 for another version"))
            }
        }
        200 => {
            check(&body)?;
            let text = String::from_utf8(body).map_err(|e| e.to_string())?;
            let config = serde_json::from_str(&text)
                .map_err(|e| format!("the configuration from {endpoint} is not valid: {e}"))?;
            Ok(ConfigAnswer::New { config, text })
        }
        other => Err(format!(
            "{endpoint} answered {other}: {}",
            String::from_utf8_lossy(&body)
        )),
    }
}
