//! The traffic: requests as received, the events routing made of them, attempts.

use serde::{Deserialize, Serialize};

/// Why a request produced no events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RejectionCause {
    SourceDisabled,
    NoConnection,
    VerificationFailed,
    UnsupportedHttpMethod,
    PayloadTooLarge,
    /// A broker message that cannot become a request (bad headers, no body…);
    /// stored to be seen and acknowledged, never redelivered forever.
    InvalidMessage,
}

impl RejectionCause {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionCause::SourceDisabled => "SOURCE_DISABLED",
            RejectionCause::NoConnection => "NO_CONNECTION",
            RejectionCause::VerificationFailed => "VERIFICATION_FAILED",
            RejectionCause::UnsupportedHttpMethod => "UNSUPPORTED_HTTP_METHOD",
            RejectionCause::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            RejectionCause::InvalidMessage => "INVALID_MESSAGE",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            RejectionCause::SourceDisabled,
            RejectionCause::NoConnection,
            RejectionCause::VerificationFailed,
            RejectionCause::UnsupportedHttpMethod,
            RejectionCause::PayloadTooLarge,
            RejectionCause::InvalidMessage,
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
    /// What the request is about (`invoice.created`), when it says.
    pub topic: Option<String>,
    pub events_count: i64,
    pub ignored_count: i64,
    pub routed: bool,
    pub received_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl RequestRecord {
    /// Makes this the request an event delivers after its transformation.
    pub fn deliver_as(&mut self, t: super::HttpRequest) {
        self.method = t.method;
        self.path = t.path;
        self.query = t.query;
        self.headers = t.headers;
        self.body_size = t.body.len() as i64;
        self.body = Some(t.body);
    }
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
    pub route: Option<super::RouteResult>,
    /// The topic; `None`: the committer asks the source's `topic_from`.
    pub topic: Option<String>,
    /// De-duplicates within the source (a broker's message id, a publish
    /// idempotency key): a second request with the same key is not stored, and
    /// its sender is answered with the first one's id.
    pub dedup_key: Option<String>,
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
    /// When it was muted (`PUT /events/{id}/mute`): no more automatic attempts.
    pub muted_at: Option<i64>,
    /// The bulk retry that queued it last (or created it); its next attempt
    /// carries the id when that attempt is the bulk retry's.
    pub bulk_retry_id: Option<String>,
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
    /// A lease ingest asks for at insert, for its own dispatcher to deliver the
    /// event without leasing it back; granted only where the lease query would
    /// take the event now (see `Store::insert_requests_leasing`).
    pub lease_until: Option<i64>,
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
    /// The bulk retry that caused this attempt.
    pub bulk_retry_id: Option<String>,
}
