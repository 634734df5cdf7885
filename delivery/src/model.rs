//! The records Hookyard keeps: sources, destinations, connections, requests, events,
//! attempts. Times are Unix milliseconds; the API layer renders them as RFC 3339.

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "config", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthMethod {
    /// No credentials added (Hookdeck's default signature method, which we do not add).
    HookdeckSignature(#[serde(default)] Option<serde_json::Value>),
    BearerToken(BearerTokenConfig),
    BasicAuth(BasicAuthConfig),
    ApiKey(ApiKeyConfig),
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
    pub disabled_at: Option<i64>,
    pub paused_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Why a request produced no events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RejectionCause {
    SourceDisabled,
    NoConnection,
    VerificationFailed,
    UnsupportedHttpMethod,
    PayloadTooLarge,
}

impl RejectionCause {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionCause::SourceDisabled => "SOURCE_DISABLED",
            RejectionCause::NoConnection => "NO_CONNECTION",
            RejectionCause::VerificationFailed => "VERIFICATION_FAILED",
            RejectionCause::UnsupportedHttpMethod => "UNSUPPORTED_HTTP_METHOD",
            RejectionCause::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            RejectionCause::SourceDisabled,
            RejectionCause::NoConnection,
            RejectionCause::VerificationFailed,
            RejectionCause::UnsupportedHttpMethod,
            RejectionCause::PayloadTooLarge,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// A stored request: the envelope plus what routing made of it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    pub id: String,
    pub source_id: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    /// Present when loaded with its body.
    pub body: Option<Vec<u8>>,
    pub body_size: i64,
    pub verified: Option<bool>,
    pub rejection_cause: Option<RejectionCause>,
    pub events_count: i64,
    pub ignored_count: i64,
    pub routed: bool,
    pub received_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A request to store, from the local ingest or from the edge's batches.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub envelope: hookyard_core::envelope::Envelope,
    pub source_id: String,
    pub verified: Option<bool>,
    /// Set when the request is stored only to be shown (rejected), never routed.
    pub rejection_cause: Option<RejectionCause>,
    /// Routing decided before storing (local ingest does this so a request and its
    /// events commit together); `None`: the router routes it after it is stored.
    pub route: Option<crate::store::RouteResult>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventStatus {
    Scheduled,
    Queued,
    Hold,
    Successful,
    Failed,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Scheduled => "SCHEDULED",
            EventStatus::Queued => "QUEUED",
            EventStatus::Hold => "HOLD",
            EventStatus::Successful => "SUCCESSFUL",
            EventStatus::Failed => "FAILED",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            EventStatus::Scheduled,
            EventStatus::Queued,
            EventStatus::Hold,
            EventStatus::Successful,
            EventStatus::Failed,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// What started an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AttemptTrigger {
    Initial,
    Manual,
    BulkRetry,
    Unpause,
    Automatic,
}

impl AttemptTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptTrigger::Initial => "INITIAL",
            AttemptTrigger::Manual => "MANUAL",
            AttemptTrigger::BulkRetry => "BULK_RETRY",
            AttemptTrigger::Unpause => "UNPAUSE",
            AttemptTrigger::Automatic => "AUTOMATIC",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            AttemptTrigger::Initial,
            AttemptTrigger::Manual,
            AttemptTrigger::BulkRetry,
            AttemptTrigger::Unpause,
            AttemptTrigger::Automatic,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub request_id: String,
    pub connection_id: String,
    pub source_id: String,
    pub destination_id: String,
    pub status: EventStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub next_trigger: AttemptTrigger,
    pub last_attempt_at: Option<i64>,
    pub response_status: Option<i64>,
    pub error_code: Option<String>,
    pub successful_at: Option<i64>,
    /// The issue its last failure was grouped into.
    pub issue_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An event created by routing, before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub id: String,
    pub connection_id: String,
    pub destination_id: String,
    /// `Queued`/`Scheduled` to deliver, `Hold` while the connection is paused.
    pub status: EventStatus,
    /// When the first attempt is due (now, or later with a delay rule).
    pub next_attempt_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IgnoredEvent {
    pub id: String,
    pub request_id: String,
    pub connection_id: String,
    pub cause: String,
    /// For `FILTERED`: which parts of the request did not match.
    pub meta: Option<serde_json::Value>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptStatus {
    Successful,
    Failed,
}

impl AttemptStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptStatus::Successful => "SUCCESSFUL",
            AttemptStatus::Failed => "FAILED",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub id: String,
    pub event_id: String,
    pub destination_id: String,
    pub attempt_number: i64,
    pub trigger: AttemptTrigger,
    pub status: AttemptStatus,
    pub response_status: Option<i64>,
    pub response_headers: Option<Vec<(String, String)>>,
    pub response_body: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub requested_url: Option<String>,
    pub http_method: Option<String>,
    pub duration_ms: i64,
    pub created_at: i64,
}
