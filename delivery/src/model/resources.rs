//! The configured resources: sources, destinations and connections (with their rules).

use serde::{Deserialize, Serialize};

/// HTTP methods a source accepts or a destination uses.
pub const HTTP_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Methods a source accepts when it does not say (Hookdeck's default).
pub const DEFAULT_ALLOWED_METHODS: [&str; 4] = ["POST", "PUT", "PATCH", "DELETE"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomResponse {
    pub content_type: CustomContentType,
    pub body: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CustomContentType {
    Json,
    Text,
    Xml,
}

impl CustomContentType {
    pub fn mime(self) -> &'static str {
        match self {
            CustomContentType::Json => "application/json",
            CustomContentType::Text => "text/plain",
            CustomContentType::Xml => "application/xml",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// `None`: [`DEFAULT_ALLOWED_METHODS`].
    pub allowed_http_methods: Option<Vec<String>>,
    pub custom_response: Option<CustomResponse>,
    /// Provider signature verification, kept as given (the edge issue interprets it).
    pub verification: Option<serde_json::Value>,
    /// Largest accepted body; `None`: the gateway's `ingest.max_body_bytes`.
    pub max_body_bytes: Option<i64>,
    /// `WEBHOOK`, or a broker the gateway consumes, with its config.
    pub kind: super::SourceKind,
    /// Where a webhook's topic is found; `None`: webhooks have none (published
    /// requests and broker messages bring their own).
    pub topic_from: Option<super::TopicFrom>,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Source {
    /// A source with only a name, created at `now`.
    pub fn new(id: String, name: String, now: i64) -> Self {
        Source {
            id,
            name,
            description: None,
            allowed_http_methods: None,
            custom_response: None,
            verification: None,
            max_body_bytes: None,
            kind: super::SourceKind::Webhook,
            topic_from: None,
            disabled_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn allows_method(&self, method: &str) -> bool {
        match &self.allowed_http_methods {
            Some(list) => list.iter().any(|m| m.eq_ignore_ascii_case(method)),
            None => DEFAULT_ALLOWED_METHODS
                .iter()
                .any(|m| m.eq_ignore_ascii_case(method)),
        }
    }
}

/// How delivery authenticates to a destination (Hookdeck's `auth_method`).
///
/// This is the stored shape; the API reads its input field by field
/// (`api::auth_method`), with errors naming the field, and fills in secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "config", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthMethod {
    /// `x-hookdeck-signature`. `None` (or no secret): a row stored before signing
    /// existed, which signs nothing; the API gives every new one a secret.
    HookdeckSignature(
        #[serde(deserialize_with = "stored_hookdeck_config")] Option<HookdeckSignatureConfig>,
    ),
    BearerToken(BearerTokenConfig),
    BasicAuth(BasicAuthConfig),
    ApiKey(ApiKeyConfig),
    /// Hookyard's addition: the `webhook-id/-timestamp/-signature` headers.
    StandardWebhooks(StandardWebhooksConfig),
    CustomSignature(CustomSignatureConfig),
    #[serde(rename = "OAUTH2_CLIENT_CREDENTIALS")]
    OAuth2ClientCredentials(OAuth2ClientCredentialsConfig),
}

/// Rows written before signing existed kept whatever config the API was given
/// (it took any JSON); they must still load, so only `signing_secret` is read
/// here. The API's own parsing refuses unknown fields.
fn stored_hookdeck_config<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<HookdeckSignatureConfig>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(v.map(|v| HookdeckSignatureConfig {
        signing_secret: v
            .get("signing_secret")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
    }))
}

/// Hookdeck's config is empty (it signs with the project's secret); Hookyard keeps
/// a secret per destination.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookdeckSignatureConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandardWebhooksConfig {
    /// `whsec_<base64 key>`; generated when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// During a rotation, also signed with this one (both signatures sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomSignatureConfig {
    /// The header the signature is sent in.
    pub key: String,
    /// Generated when left out (as Hookdeck does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
    /// Hookyard's addition; default `sha256`.
    #[serde(default = "default_algorithm")]
    pub algorithm: hookyard_core::verify::mac::Algorithm,
    /// Hookyard's addition; default `hex`.
    #[serde(default = "default_encoding")]
    pub encoding: hookyard_core::verify::mac::Encoding,
    /// Hookyard's addition: written before the signature (e.g. `sha256=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

fn default_algorithm() -> hookyard_core::verify::mac::Algorithm {
    hookyard_core::verify::mac::Algorithm::Sha256
}

fn default_encoding() -> hookyard_core::verify::mac::Encoding {
    hookyard_core::verify::mac::Encoding::Hex
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2ClientCredentialsConfig {
    pub client_id: String,
    pub client_secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The token endpoint.
    pub auth_server: String,
    #[serde(default)]
    pub authentication_type: OAuth2AuthenticationType,
}

/// How the client credentials are sent to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum OAuth2AuthenticationType {
    /// `Authorization: Basic base64(client_id:client_secret)` (RFC 6749's
    /// `client_secret_basic`).
    #[default]
    #[serde(rename = "basic")]
    Basic,
    /// The same credentials as `Authorization: Bearer base64(client_id:client_secret)`.
    #[serde(rename = "bearer")]
    Bearer,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    #[serde(rename = "x-www-form-urlencoded")]
    Form,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BearerTokenConfig {
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthConfig {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// Header or query parameter name.
    pub key: String,
    pub api_key: String,
    #[serde(default)]
    pub to: ApiKeyLocation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiKeyLocation {
    #[default]
    Header,
    Query,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitPeriod {
    Second,
    Minute,
    Hour,
    Concurrent,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// `type` and `config`: HTTP (the fields below) or a broker, bus or mock.
    pub kind: super::DestinationKind,
    pub url: Option<String>,
    pub cli_path: Option<String>,
    /// `None`: the method of the original request.
    pub http_method: Option<String>,
    pub auth_method: Option<AuthMethod>,
    pub rate_limit: Option<i64>,
    pub rate_limit_period: Option<RateLimitPeriod>,
    pub path_forwarding_disabled: bool,
    /// Most attempts in flight at once (besides a `concurrent` rate limit).
    pub max_concurrency: Option<i64>,
    /// Consecutive failed attempts after which the destination disables itself;
    /// `None`: `delivery.auto_disable_after`; 0: never.
    pub auto_disable_after: Option<i64>,
    pub disabled_at: Option<i64>,
    /// Why the gateway disabled it (`None` when disabled by hand or enabled).
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Destination {
    /// A destination with only a name and a url, created at `now`.
    pub fn new(id: String, name: String, url: Option<String>, now: i64) -> Self {
        Destination {
            id,
            name,
            description: None,
            kind: super::DestinationKind::Http,
            url,
            cli_path: None,
            http_method: None,
            auth_method: None,
            rate_limit: None,
            rate_limit_period: None,
            path_forwarding_disabled: false,
            max_concurrency: None,
            auto_disable_after: None,
            disabled_at: None,
            disabled_reason: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// One connection rule, as in Hookdeck's `rules` array.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Rule {
    Retry {
        strategy: hookyard_core::backoff::RetryStrategy,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interval: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        count: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        response_status_codes: Option<Vec<String>>,
    },
    Filter {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        headers: Option<serde_json::Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<serde_json::Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query: Option<serde_json::Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<serde_json::Value>,
    },
    Transform {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transformation_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transformation: Option<serde_json::Value>,
    },
    Delay {
        delay: i64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub source_id: String,
    pub destination_id: String,
    pub rules: Vec<Rule>,
    /// Topic patterns it subscribes to (`orders.*`, `*`); `None`: every request.
    pub topics: Option<Vec<String>>,
    pub disabled_at: Option<i64>,
    pub paused_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Connection {
    /// The transformation this connection's rules name, if any.
    pub fn transformation_id(&self) -> Option<&str> {
        self.rules.iter().find_map(|r| match r {
            Rule::Transform {
                transformation_id, ..
            } => transformation_id.as_deref(),
            _ => None,
        })
    }
}
