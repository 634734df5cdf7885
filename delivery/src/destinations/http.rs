//! HTTP destinations: the request's body and headers to the destination's URL.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::{Adapter, Delivery, DeliveryResult};
use crate::egress::{self, redact, EgressError, EgressPolicy};
use crate::model::{ApiKeyLocation, AuthMethod, Destination, RequestRecord};

/// Headers that describe one hop, not the message, plus those the client sets
/// itself; they are not forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "expect",
];

pub struct HttpAdapter {
    client: reqwest::Client,
    body_limit: usize,
    /// Checks IP-literal URLs; the client's resolver checks names.
    egress: Arc<EgressPolicy>,
}

impl HttpAdapter {
    pub fn new(
        timeout: Duration,
        body_limit: usize,
        egress: Arc<EgressPolicy>,
    ) -> Result<Self, reqwest::Error> {
        // No redirects (set by the egress builder): a destination's answer is
        // recorded as it is, and a `Location` cannot send the event elsewhere.
        let client = egress::resolve::client_builder(egress.clone())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("Hookyard/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(HttpAdapter {
            client,
            body_limit,
            egress,
        })
    }
}

/// The URL an event goes to: the destination's URL, plus the path the provider
/// used after `/e/{source}` (unless path forwarding is off) and its query string.
pub fn target_url(dest: &Destination, req: &RequestRecord) -> Result<url::Url, String> {
    let base = dest
        .url
        .as_deref()
        .ok_or_else(|| "the destination has no url".to_owned())?;
    let mut url = url::Url::parse(base).map_err(|e| format!("invalid destination url: {e}"))?;
    if !dest.path_forwarding_disabled && req.path != "/" && !req.path.is_empty() {
        let joined = format!("{}{}", url.path().trim_end_matches('/'), req.path);
        url.set_path(&joined);
    }
    if !req.query.is_empty() {
        let q = match url.query() {
            Some(existing) if !existing.is_empty() => format!("{existing}&{}", req.query),
            _ => req.query.clone(),
        };
        url.set_query(Some(&q));
    }
    Ok(url)
}

fn forwarded_headers(d: &Delivery<'_>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (k, v) in &d.request.headers {
        if HOP_BY_HOP.contains(&k.as_str()) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v))
        {
            headers.append(name, value);
        }
    }
    let ids = [
        ("idempotency-key", d.event_id.to_owned()),
        ("x-hookyard-event-id", d.event_id.to_owned()),
        ("x-hookyard-request-id", d.request.id.clone()),
        ("x-hookyard-attempt", d.attempt_number.to_string()),
    ];
    for (k, v) in ids {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(HeaderName::from_static(k), v);
        }
    }
    headers
}

/// Adds the destination's credentials, replacing any header of the same name the
/// provider sent (its own `Authorization` must not reach the destination beside
/// ours, nor leak to it).
fn apply_auth(req: &mut reqwest::Request, auth: Option<&AuthMethod>) -> Result<(), String> {
    let value =
        |v: String| HeaderValue::from_str(&v).map_err(|e| format!("invalid credential: {e}"));
    match auth {
        Some(AuthMethod::BearerToken(c)) => {
            let v = value(format!("Bearer {}", c.token))?;
            req.headers_mut().insert(reqwest::header::AUTHORIZATION, v);
        }
        Some(AuthMethod::BasicAuth(c)) => {
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", c.username, c.password));
            let v = value(format!("Basic {token}"))?;
            req.headers_mut().insert(reqwest::header::AUTHORIZATION, v);
        }
        Some(AuthMethod::ApiKey(c)) => match c.to {
            ApiKeyLocation::Header => {
                let name = HeaderName::try_from(c.key.as_str())
                    .map_err(|e| format!("invalid API key header name: {e}"))?;
                let v = value(c.api_key.clone())?;
                req.headers_mut().insert(name, v);
            }
            ApiKeyLocation::Query => {
                req.url_mut()
                    .query_pairs_mut()
                    .append_pair(&c.key, &c.api_key);
            }
        },
        Some(AuthMethod::HookdeckSignature(_)) | None => {}
    }
    Ok(())
}

/// Hookdeck's error code for a failed request, from the error's causes.
fn classify(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        return "TIMEOUT";
    }
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "CONNECTION_REFUSED",
                std::io::ErrorKind::ConnectionReset => "CONNECTION_RESET",
                std::io::ErrorKind::TimedOut => "TIMEOUT",
                _ => "SOCKET_CLOSED",
            };
        }
        let text = err.to_string().to_ascii_lowercase();
        if text.contains("dns") || text.contains("failed to lookup") {
            return "DNS_LOOKUP_FAILED";
        }
        if text.contains("certificate") {
            return "SSL_ERROR_CA_UNKNOWN";
        }
        source = err.source();
    }
    if e.is_connect() {
        "HOST_UNREACHABLE"
    } else {
        "UNKNOWN"
    }
}

/// Reads at most `limit` bytes of the body, so a huge response cannot fill memory.
async fn capped_body(mut resp: reqwest::Response, limit: usize) -> String {
    let mut buf = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = limit.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if buf.len() >= limit {
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[async_trait]
impl Adapter for HttpAdapter {
    async fn deliver(&self, d: &Delivery<'_>) -> DeliveryResult {
        let url = match target_url(d.destination, d.request) {
            Ok(u) => u,
            Err(e) => return DeliveryResult::error("MISSING_URL", e),
        };
        let method_name = d
            .destination
            .http_method
            .clone()
            .unwrap_or_else(|| d.request.method.clone());
        let method = match reqwest::Method::from_bytes(method_name.as_bytes()) {
            Ok(m) => m,
            Err(_) => {
                return DeliveryResult::error("UNKNOWN", format!("invalid method {method_name}"))
            }
        };
        let mut req = match self
            .client
            .request(method, url.clone())
            .headers(forwarded_headers(d))
            .body(d.request.body.clone().unwrap_or_default())
            .build()
        {
            Ok(req) => req,
            Err(e) => return DeliveryResult::error("UNKNOWN", redact::reqwest_error(e)),
        };
        if let Err(e) = apply_auth(&mut req, d.destination.auth_method.as_ref()) {
            return DeliveryResult::error("UNKNOWN", e);
        }
        // The attempt shows the URL without an API key put in its query.
        let shown = url;
        let mut result = DeliveryResult {
            requested_url: Some(shown.to_string()),
            http_method: Some(method_name),
            ..Default::default()
        };
        // reqwest connects to an IP-literal host without asking the resolver.
        if let Err(e) = self.egress.check_url(req.url()) {
            result.error_code = Some(egress::BLOCKED_CODE);
            result.error_message = Some(e.to_string());
            return result;
        }
        match self.client.execute(req).await {
            Ok(resp) => {
                let status = resp.status();
                result.success = status.is_success();
                result.response_status = Some(status.as_u16());
                result.retry_after_ms = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| {
                        let now = u64::try_from(crate::clock::now_ms()).unwrap_or(0);
                        hookyard_core::backoff::parse_retry_after(v, now)
                    });
                result.response_headers = Some(
                    resp.headers()
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.as_str().to_owned(),
                                String::from_utf8_lossy(v.as_bytes()).into_owned(),
                            )
                        })
                        .collect(),
                );
                result.response_body = Some(capped_body(resp, self.body_limit).await);
            }
            Err(e) => match EgressError::find_in(&e) {
                Some(blocked) => {
                    result.error_code = Some(egress::BLOCKED_CODE);
                    result.error_message = Some(blocked.to_string());
                }
                None => {
                    result.error_code = Some(classify(&e));
                    result.error_message = Some(redact::reqwest_error(e));
                }
            },
        }
        result
    }
}
