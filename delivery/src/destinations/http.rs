//! HTTP destinations: the request's body and headers to the destination's URL,
//! with the destination's credentials or signature ([`oauth2`] keeps its tokens).

pub mod oauth2;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use hookyard_core::signing;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::message::{self, HOP_BY_HOP};
use super::{Adapter, Delivery, DeliveryResult};
use crate::egress::{self, redact, EgressError, EgressPolicy};
use crate::model::{
    ApiKeyLocation, AuthMethod, Destination, OAuth2ClientCredentialsConfig, RequestRecord,
};

pub struct HttpAdapter {
    client: reqwest::Client,
    body_limit: usize,
    /// Checks IP-literal URLs; the client's resolver checks names.
    egress: Arc<EgressPolicy>,
    /// OAuth2 destinations' tokens.
    tokens: oauth2::TokenCache,
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
            tokens: oauth2::TokenCache::default(),
        })
    }
}

/// Why no URL could be built for an event.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("the destination has no url")]
    NoUrl,
    #[error("invalid destination url: {0}")]
    Invalid(#[from] url::ParseError),
    #[error(transparent)]
    Escape(#[from] super::confined::Escape),
}

impl TargetError {
    /// Hookdeck's attempt error code for it.
    pub fn code(&self) -> &'static str {
        match self {
            TargetError::NoUrl | TargetError::Invalid(_) => "MISSING_URL",
            TargetError::Escape(_) => "UNKNOWN",
        }
    }
}

/// The URL an event goes to: the destination's URL, plus the path the provider
/// used after `/e/{source}` (unless path forwarding is off) and its query string.
pub fn target_url(dest: &Destination, req: &RequestRecord) -> Result<url::Url, TargetError> {
    let base = dest.url.as_deref().ok_or(TargetError::NoUrl)?;
    let forwarded = (!dest.path_forwarding_disabled).then_some(req.path.as_str());
    join(base, forwarded, &req.query)
}

/// `base` plus `path` (kept under it, [`super::confined`]) plus `query`.
pub fn join(base: &str, path: Option<&str>, query: &str) -> Result<url::Url, TargetError> {
    let base = url::Url::parse(base)?;
    let mut url = base.clone();
    if let Some(path) = path.filter(|p| !p.is_empty() && *p != "/") {
        let joined = format!("{}{path}", url.path().trim_end_matches('/'));
        url.set_path(&joined);
        super::confined::check(&base, &url, path)?;
    }
    if !query.is_empty() {
        let q = match url.query() {
            Some(existing) if !existing.is_empty() => format!("{existing}&{query}"),
            _ => query.to_owned(),
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
    let ids =
        std::iter::once(("idempotency-key", d.event_id.to_owned())).chain(message::id_headers(d));
    for (k, v) in ids {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(HeaderName::from_static(k), v);
        }
    }
    headers
}

/// Adds the destination's credentials or signature, replacing any header of the
/// same name the provider sent (its own `Authorization` must not reach the
/// destination beside ours, nor leak to it, and a signature header it sent would
/// be taken for ours). Signatures cover the body exactly as it is sent (after any
/// transformation) and are made on each attempt, with that attempt's time.
/// OAuth2's token is added when sending ([`HttpAdapter::send_with_token`]).
pub(crate) fn apply_auth(
    req: &mut reqwest::Request,
    auth: Option<&AuthMethod>,
    event_id: &str,
    now_secs: i64,
) -> Result<(), String> {
    let value =
        |v: String| HeaderValue::from_str(&v).map_err(|e| format!("invalid credential: {e}"));
    let body = req
        .body()
        .and_then(reqwest::Body::as_bytes)
        .unwrap_or_default();
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
        Some(AuthMethod::HookdeckSignature(c)) => {
            // Rows stored before signing existed have no secret: nothing to sign with.
            if let Some(secret) = c.as_ref().and_then(|c| c.signing_secret.as_deref()) {
                let v = value(signing::hookdeck(secret, body))?;
                req.headers_mut()
                    .insert(HeaderName::from_static(signing::HOOKDECK_HEADER), v);
            }
        }
        Some(AuthMethod::StandardWebhooks(c)) => {
            let mut keys = Vec::with_capacity(2);
            for s in [&c.secret, &c.previous_secret].into_iter().flatten() {
                keys.push(
                    signing::whsec_key(s).map_err(|e| format!("invalid signing secret: {e}"))?,
                );
            }
            if keys.is_empty() {
                return Err("the STANDARD_WEBHOOKS auth method has no secret".to_owned());
            }
            let sig = signing::standard_webhooks_signature(
                keys.iter().map(Vec::as_slice),
                event_id,
                now_secs,
                body,
            );
            let h = req.headers_mut();
            h.insert(
                HeaderName::from_static(signing::WEBHOOK_ID),
                value(event_id.to_owned())?,
            );
            h.insert(
                HeaderName::from_static(signing::WEBHOOK_TIMESTAMP),
                value(now_secs.to_string())?,
            );
            h.insert(
                HeaderName::from_static(signing::WEBHOOK_SIGNATURE),
                value(sig)?,
            );
        }
        Some(AuthMethod::CustomSignature(c)) => {
            let Some(secret) = c.signing_secret.as_deref() else {
                return Err("the CUSTOM_SIGNATURE auth method has no signing_secret".to_owned());
            };
            let sig = signing::custom(
                c.algorithm,
                c.encoding,
                c.prefix.as_deref().unwrap_or_default(),
                secret,
                body,
            );
            let name = HeaderName::try_from(c.key.as_str())
                .map_err(|e| format!("invalid signature header name: {e}"))?;
            let v = value(sig)?;
            req.headers_mut().insert(name, v);
        }
        Some(AuthMethod::OAuth2ClientCredentials(_)) | None => {}
    }
    Ok(())
}

/// Why a request got no response.
enum Failure {
    Token(oauth2::TokenError),
    Request(reqwest::Error),
}

/// Hookdeck's error code for a failed request, from the error's causes.
pub fn classify(e: &reqwest::Error) -> &'static str {
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
pub async fn capped_body(mut resp: reqwest::Response, limit: usize) -> String {
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
            Err(e) => return DeliveryResult::error(e.code(), e.to_string()),
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
        let auth = d.destination.auth_method.as_ref();
        let now_secs = crate::clock::now_ms() / 1000;
        if let Err(e) = apply_auth(&mut req, auth, d.event_id, now_secs) {
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
        let sent = match auth {
            Some(AuthMethod::OAuth2ClientCredentials(c)) => {
                self.send_with_token(req, &d.destination.id, c).await
            }
            _ => self.client.execute(req).await.map_err(Failure::Request),
        };
        match sent {
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
            Err(Failure::Token(e)) => {
                result.error_code = Some(e.code());
                result.error_message = Some(e.to_string());
            }
            Err(Failure::Request(e)) => match EgressError::find_in(&e) {
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

impl HttpAdapter {
    /// Sends `req` with the destination's OAuth2 token (cached per destination and
    /// config). A 401 drops that token and the request goes once more with a new
    /// one: the server may have revoked it or let it expire before `expires_in`.
    async fn send_with_token(
        &self,
        mut req: reqwest::Request,
        destination_id: &str,
        c: &OAuth2ClientCredentialsConfig,
    ) -> Result<reqwest::Response, Failure> {
        let key = oauth2::Key::new(destination_id, c);
        let fetch = || oauth2::fetch(&self.client, &self.egress, c);
        let token = self.tokens.get(&key, fetch).await.map_err(Failure::Token)?;
        // The body is in memory, so the request can be cloned for the resend.
        let again = req.try_clone();
        req.headers_mut()
            .insert(reqwest::header::AUTHORIZATION, token.clone());
        let resp = self.client.execute(req).await.map_err(Failure::Request)?;
        let Some(mut again) = again.filter(|_| resp.status() == reqwest::StatusCode::UNAUTHORIZED)
        else {
            return Ok(resp);
        };
        drop(resp);
        self.tokens.invalidate(&key, &token).await;
        let token = self.tokens.get(&key, fetch).await.map_err(Failure::Token)?;
        again
            .headers_mut()
            .insert(reqwest::header::AUTHORIZATION, token);
        self.client.execute(again).await.map_err(Failure::Request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(base: &str, path: &str) -> Result<String, String> {
        join(base, Some(path), "")
            .map(|u| u.to_string())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn forwarded_paths_stay_under_the_destinations_path() {
        assert_eq!(
            built("http://h/hooks", "/orders/1").as_deref(),
            Ok("http://h/hooks/orders/1")
        );
        assert_eq!(
            built("http://h/hooks/", "/a").as_deref(),
            Ok("http://h/hooks/a")
        );
        assert_eq!(built("http://h", "/a/b/").as_deref(), Ok("http://h/a/b/"));
        assert_eq!(
            built("http://h/hooks", "/a%20b/%E2%9C%93").as_deref(),
            Ok("http://h/hooks/a%20b/%E2%9C%93")
        );
        // `//x` is a path, not a host: the host stays h.
        assert_eq!(
            built("http://h/hooks", "//evil/x").as_deref(),
            Ok("http://h/hooks//evil/x")
        );
    }

    /// Every way to spell a separator or a dot segment that a provider (or a
    /// transformation) might send; none leaves `/hooks` or reaches the wire.
    #[test]
    fn no_encoding_of_dots_or_separators_leaves_the_destinations_path() {
        let attempts = [
            "/..",
            "/../admin",
            "/x/../../admin",
            "/./../admin",
            "/%2e%2e/admin",
            "/%2E%2E/admin",
            "/%2e./admin",
            "/.%2E/admin",
            "/x\\..\\..\\admin",
            "/x%5c..%5c..%5cadmin",
            "/x%5C..%5C..%5Cadmin",
            "/..%2fadmin",
            "/..%2Fadmin",
            "/%2f..%2f..%2fadmin",
            "/%252e%252e/admin",
            "/%25252e%25252e/admin",
            "/x/..;/admin",
            "/x/%2e%2e;/admin",
            "/..\\admin",
            "/\t../admin",
        ];
        for path in attempts {
            match built("http://h/hooks", path) {
                Err(e) => assert!(
                    e.contains("not delivered") || e.contains("refused"),
                    "{path}: {e}"
                ),
                Ok(url) => panic!("{path} was delivered to {url}"),
            }
        }
    }

    #[test]
    fn a_query_is_appended_and_the_host_never_changes() {
        let u = join("https://h:8443/p?k=1", Some("/a"), "x=2").unwrap();
        assert_eq!(u.as_str(), "https://h:8443/p/a?k=1&x=2");
        let e = join("http://h/hooks", Some("/../../admin"), "").unwrap_err();
        assert_eq!(e.code(), "UNKNOWN");
        assert!(matches!(
            join("nope", Some("/a"), ""),
            Err(TargetError::Invalid(_))
        ));
    }
}
