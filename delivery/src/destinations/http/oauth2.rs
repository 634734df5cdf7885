//! OAuth2 client-credentials tokens for HTTP destinations: fetched from the
//! destination's token endpoint through the delivery client (so the egress policy
//! applies), cached per destination and configuration until shortly before they
//! expire, and forgotten when the destination refuses one.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use sha2::{Digest, Sha256};

use crate::egress::{self, redact, EgressError, EgressPolicy};
use crate::model::{OAuth2AuthenticationType, OAuth2ClientCredentialsConfig};

/// The attempt error code when no token could be had (Hookdeck's code for it).
pub const HANDSHAKE_FAILED: &str = "OAUTH2_HANDSHAKE_FAILED";

/// A token is not used in its last seconds, so it does not expire on the way.
const MARGIN: Duration = Duration::from_secs(30);
/// How long a token is used when its endpoint does not say (`expires_in`).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// The longest a token is kept, whatever the endpoint says.
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// The most of a token endpoint's answer that is read.
const MAX_ANSWER: usize = 64 * 1024;

/// Why no token could be had. Each names the token URL, redacted.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("OAuth2 token URL {url} is not a valid URL")]
    InvalidUrl { url: String },
    #[error("OAuth2 token URL {url}: {source}")]
    Blocked { url: String, source: EgressError },
    #[error("OAuth2 token request to {url} failed: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("OAuth2 token URL {url} answered status {status}{detail}")]
    Refused {
        url: String,
        status: u16,
        /// The endpoint's `error` and `error_description`, when it gave them.
        detail: String,
    },
    #[error("OAuth2 token URL {url} answered status {status} without an access_token")]
    NoToken { url: String, status: u16 },
    #[error("OAuth2 token URL {url} answered an access_token that cannot be sent in a header")]
    Unsendable { url: String },
}

impl TokenError {
    /// The attempt's error code.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Blocked { .. } => egress::BLOCKED_CODE,
            _ => HANDSHAKE_FAILED,
        }
    }
}

/// A token as the endpoint gave it, ready to send.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// `Bearer <access_token>`.
    pub authorization: HeaderValue,
    pub lifetime: Duration,
}

/// The fields of a token answer (RFC 6749 §5.1, §5.2) that are used.
#[derive(Debug, serde::Deserialize)]
struct Answer {
    access_token: Option<String>,
    /// A number by the RFC; some servers send it as a string.
    expires_in: Option<serde_json::Value>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Asks the token endpoint of `c` for a token (`grant_type=client_credentials`).
pub async fn fetch(
    client: &reqwest::Client,
    egress: &EgressPolicy,
    c: &OAuth2ClientCredentialsConfig,
) -> Result<Fetched, TokenError> {
    let shown = redact::url_text(&c.auth_server);
    let url = url::Url::parse(&c.auth_server)
        .map_err(|_| TokenError::InvalidUrl { url: shown.clone() })?;
    // reqwest connects to an IP-literal host without asking the resolver.
    egress
        .check_url(&url)
        .map_err(|source| TokenError::Blocked {
            url: shown.clone(),
            source,
        })?;
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = c.scope.as_deref().filter(|s| !s.is_empty()) {
        form.push(("scope", scope));
    }
    let mut rb = client.post(url).header(ACCEPT, "application/json");
    match c.authentication_type {
        OAuth2AuthenticationType::Basic => {
            rb = rb.header(AUTHORIZATION, format!("Basic {}", credentials(c)));
        }
        OAuth2AuthenticationType::Bearer => {
            rb = rb.header(AUTHORIZATION, format!("Bearer {}", credentials(c)));
        }
        OAuth2AuthenticationType::Form => {
            form.push(("client_id", &c.client_id));
            form.push(("client_secret", &c.client_secret));
        }
    }
    // Encoded in one expression: the serializer is not `Send`, and the delivery
    // future that awaits below must be.
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let sent = rb
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await;
    let mut resp = match sent {
        Ok(r) => r,
        Err(e) => {
            return Err(match EgressError::find_in(&e) {
                Some(EgressError::Blocked { addr, rule }) => TokenError::Blocked {
                    url: shown,
                    // The error is borrowed from reqwest's; this copy is ours.
                    source: EgressError::Blocked { addr: *addr, rule },
                },
                _ => TokenError::Unreachable {
                    url: shown,
                    reason: redact::reqwest_error(e),
                },
            });
        }
    };
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = MAX_ANSWER.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_ANSWER {
            break;
        }
    }
    let answer: Option<Answer> = serde_json::from_slice(&body).ok();
    if !(200..300).contains(&status) {
        let detail = answer
            .map(|a| {
                [a.error, a.error_description]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(": ")
            })
            .filter(|d| !d.is_empty())
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        return Err(TokenError::Refused {
            url: shown,
            status,
            detail,
        });
    }
    let Some((access_token, expires_in)) = answer.and_then(|a| {
        a.access_token
            .filter(|t| !t.is_empty())
            .map(|t| (t, a.expires_in))
    }) else {
        return Err(TokenError::NoToken { url: shown, status });
    };
    let lifetime = expires_in
        .as_ref()
        .and_then(|v| match v {
            serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
            other => other.as_f64(),
        })
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(DEFAULT_LIFETIME, |s| {
            Duration::from_secs_f64(s.min(MAX_LIFETIME.as_secs_f64()))
        });
    let mut authorization = HeaderValue::from_str(&format!("Bearer {access_token}"))
        .map_err(|_| TokenError::Unsendable { url: shown })?;
    authorization.set_sensitive(true);
    Ok(Fetched {
        authorization,
        lifetime,
    })
}

/// `client_id:client_secret` in base64, each form-encoded first as RFC 6749 §2.3.1
/// asks (identical for the usual letters and digits).
fn credentials(c: &OAuth2ClientCredentialsConfig) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    STANDARD.encode(format!("{}:{}", enc(&c.client_id), enc(&c.client_secret)))
}

/// What a cached token belongs to: a destination and one version of its
/// configuration (hashed, so an edited config gets a token of its own and no
/// secret is kept in the key).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    destination_id: String,
    config: [u8; 32],
}

impl Key {
    pub fn new(destination_id: &str, c: &OAuth2ClientCredentialsConfig) -> Self {
        // Serialising this struct cannot fail; an empty text would only share a key.
        let json = serde_json::to_vec(c).unwrap_or_default();
        Key {
            destination_id: destination_id.to_owned(),
            config: Sha256::digest(json).into(),
        }
    }
}

#[derive(Debug)]
struct Cached {
    authorization: HeaderValue,
    until: Instant,
}

/// One key's token. A tokio mutex: it is held across the fetch, so deliveries
/// that need the same token meanwhile wait for it instead of fetching their own.
type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

/// Tokens of this process, per [`Key`].
#[derive(Default)]
pub struct TokenCache {
    slots: Mutex<HashMap<Key, Slot>>,
}

impl TokenCache {
    fn slot(&self, key: &Key) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = slots.get(key) {
            return s.clone();
        }
        // A new key: drop the slots nobody is using whose token is gone (a
        // deleted destination, an edited config), so the map does not grow.
        let now = Instant::now();
        slots.retain(|_, s| {
            Arc::strong_count(s) > 1
                || s.try_lock()
                    .map_or(true, |c| c.as_ref().is_some_and(|c| c.until > now))
        });
        slots.entry(key.clone()).or_default().clone()
    }

    /// The token cached for `key`, or a new one from `fetch`, cached until
    /// [`MARGIN`] before it expires (so a token living less than that is used
    /// once only).
    pub async fn get<F, Fut>(&self, key: &Key, fetch: F) -> Result<HeaderValue, TokenError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Fetched, TokenError>>,
    {
        let slot = self.slot(key);
        let mut cached = slot.lock().await;
        let now = Instant::now();
        if let Some(c) = cached.as_ref().filter(|c| c.until > now) {
            return Ok(c.authorization.clone());
        }
        let fetched = fetch().await?;
        let keep = fetched.lifetime.saturating_sub(MARGIN);
        *cached = Some(Cached {
            authorization: fetched.authorization.clone(),
            until: now.checked_add(keep).unwrap_or(now),
        });
        Ok(fetched.authorization)
    }

    /// Forgets the token sent as `authorization` (the destination refused it),
    /// unless another delivery has already replaced it with a newer one.
    pub async fn invalidate(&self, key: &Key, authorization: &HeaderValue) {
        let slot = self.slot(key);
        let mut cached = slot.lock().await;
        if cached
            .as_ref()
            .is_some_and(|c| c.authorization == authorization)
        {
            *cached = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn config(secret: &str) -> OAuth2ClientCredentialsConfig {
        OAuth2ClientCredentialsConfig {
            client_id: "id".into(),
            client_secret: secret.into(),
            scope: None,
            auth_server: "http://127.0.0.1:9/token".into(),
            authentication_type: OAuth2AuthenticationType::Basic,
        }
    }

    async fn token(
        cache: &TokenCache,
        key: &Key,
        fetches: &AtomicUsize,
        lifetime: Duration,
    ) -> String {
        let v = cache
            .get(key, || async {
                let n = fetches.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(Fetched {
                    authorization: HeaderValue::from_str(&format!("t{n}")).unwrap(),
                    lifetime,
                })
            })
            .await
            .unwrap();
        v.to_str().unwrap().to_owned()
    }

    fn value(s: &'static str) -> HeaderValue {
        HeaderValue::from_static(s)
    }

    #[tokio::test]
    async fn tokens_are_reused_until_near_expiry_and_per_config() {
        let cache = TokenCache::default();
        let fetches = AtomicUsize::new(0);
        let key = Key::new("des_1", &config("s"));
        let hour = Duration::from_secs(3600);
        assert_eq!(token(&cache, &key, &fetches, hour).await, "t1");
        assert_eq!(token(&cache, &key, &fetches, hour).await, "t1");
        // An edited config is another key.
        let edited = Key::new("des_1", &config("s2"));
        assert_ne!(edited, key);
        assert_eq!(token(&cache, &edited, &fetches, hour).await, "t2");
        // A token that lives less than the margin serves one request only.
        let short = Key::new("des_2", &config("s"));
        let second = Duration::from_secs(1);
        assert_eq!(token(&cache, &short, &fetches, second).await, "t3");
        assert_eq!(token(&cache, &short, &fetches, second).await, "t4");
    }

    #[tokio::test]
    async fn a_refused_token_is_dropped_but_not_a_newer_one() {
        let cache = TokenCache::default();
        let fetches = AtomicUsize::new(0);
        let key = Key::new("des_1", &config("s"));
        let hour = Duration::from_secs(3600);
        assert_eq!(token(&cache, &key, &fetches, hour).await, "t1");
        cache.invalidate(&key, &value("t1")).await;
        assert_eq!(token(&cache, &key, &fetches, hour).await, "t2");
        // A late 401 for t1 leaves t2 alone.
        cache.invalidate(&key, &value("t1")).await;
        assert_eq!(token(&cache, &key, &fetches, hour).await, "t2");
    }

    #[tokio::test]
    async fn concurrent_deliveries_share_one_fetch() {
        let cache = Arc::new(TokenCache::default());
        let fetches = Arc::new(AtomicUsize::new(0));
        let key = Key::new("des_1", &config("s"));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (cache, fetches, key) = (cache.clone(), fetches.clone(), key.clone());
                tokio::spawn(async move {
                    cache
                        .get(&key, || async {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            fetches.fetch_add(1, Ordering::SeqCst);
                            Ok(Fetched {
                                authorization: value("t"),
                                lifetime: Duration::from_secs(3600),
                            })
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), "t");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn credentials_are_form_encoded_then_base64() {
        let mut c = config("p w");
        c.client_id = "a:b".into();
        assert_eq!(
            STANDARD.decode(credentials(&c)).unwrap(),
            b"a%3Ab:p+w".to_vec()
        );
    }
}
