//! How records look in API responses (Hookdeck's field names and shapes).

use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::clock::rfc3339;
use crate::model::{Attempt, Connection, Destination, Event, IgnoredEvent, RequestRecord, Source};
use crate::route::{header_object, parse_query};

/// Hookdeck scopes everything to a project; Hookyard has one.
pub const TEAM_ID: &str = "tm_hookyard";

pub(crate) fn time(ms: Option<i64>) -> Option<String> {
    ms.map(rfc3339)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceOut {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub team_id: &'static str,
    /// Where providers send webhooks for this source.
    pub url: String,
    #[schema(value_type = Option<Object>)]
    pub verification: Option<Value>,
    pub allowed_http_methods: Vec<String>,
    #[schema(value_type = Option<Object>)]
    pub custom_response: Option<Value>,
    /// Hookyard's addition: the source's own body limit (`null`: the gateway's).
    pub max_body_bytes: Option<i64>,
    /// Hookyard's addition: `WEBHOOK`, `RABBITMQ`, `NATS`, `AWS_SQS` or `REDIS_STREAM`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Hookyard's addition: a broker type's settings (`null` for WEBHOOK).
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// Hookyard's addition: where a webhook's topic is found.
    #[schema(value_type = Option<Object>)]
    pub topic_from: Option<Value>,
    pub disabled_at: Option<String>,
    pub updated_at: String,
    pub created_at: String,
}

pub fn source(s: &Source, public_url: &str) -> SourceOut {
    SourceOut {
        id: s.id.clone(),
        name: s.name.clone(),
        description: s.description.clone(),
        team_id: TEAM_ID,
        url: format!("{}/e/{}", public_url.trim_end_matches('/'), s.name),
        verification: s.verification.clone(),
        allowed_http_methods: s.allowed_http_methods.clone().unwrap_or_else(|| {
            crate::model::DEFAULT_ALLOWED_METHODS
                .iter()
                .map(|m| m.to_string())
                .collect()
        }),
        custom_response: s
            .custom_response
            .as_ref()
            .and_then(|c| serde_json::to_value(c).ok()),
        max_body_bytes: s.max_body_bytes,
        kind: s.kind.type_name(),
        config: s.kind.config_json(),
        topic_from: s
            .topic_from
            .as_ref()
            .and_then(|t| serde_json::to_value(t).ok()),
        disabled_at: time(s.disabled_at),
        updated_at: rfc3339(s.updated_at),
        created_at: rfc3339(s.created_at),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DestinationOut {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub team_id: &'static str,
    /// Hookyard's addition: `HTTP`, `CLI`, `MOCK_API`, `RABBITMQ`, `NATS`, `AWS_SQS`,
    /// `AWS_EVENTBRIDGE` or `REDIS_STREAM`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Hookyard's addition: the type's settings (`null` for HTTP, whose settings
    /// are the fields below, and MOCK_API).
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    pub path_forwarding_disabled: bool,
    pub url: Option<String>,
    pub cli_path: Option<String>,
    pub rate_limit: Option<i64>,
    pub rate_limit_period: Option<String>,
    pub http_method: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub auth_method: Option<Value>,
    pub disabled_at: Option<String>,
    /// Hookyard's addition: why the gateway disabled it (auto-disable).
    pub disabled_reason: Option<String>,
    /// Hookyard's addition: most attempts in flight at once.
    pub max_concurrency: Option<i64>,
    /// Hookyard's addition: the failure streak that disables it (`null`: the
    /// gateway's default; 0: never).
    pub auto_disable_after: Option<i64>,
    pub updated_at: String,
    pub created_at: String,
}

pub fn destination(d: &Destination) -> DestinationOut {
    DestinationOut {
        id: d.id.clone(),
        name: d.name.clone(),
        description: d.description.clone(),
        team_id: TEAM_ID,
        kind: d.kind.type_name(),
        config: d.kind.config_json(),
        path_forwarding_disabled: d.path_forwarding_disabled,
        url: d.url.clone(),
        cli_path: d.cli_path.clone(),
        rate_limit: d.rate_limit,
        rate_limit_period: d
            .rate_limit_period
            .and_then(|p| serde_json::to_value(p).ok())
            .and_then(|v| v.as_str().map(str::to_owned)),
        http_method: d.http_method.clone(),
        auth_method: d
            .auth_method
            .as_ref()
            .and_then(|a| serde_json::to_value(a).ok()),
        disabled_at: time(d.disabled_at),
        disabled_reason: d.disabled_reason.clone(),
        max_concurrency: d.max_concurrency,
        auto_disable_after: d.auto_disable_after,
        updated_at: rfc3339(d.updated_at),
        created_at: rfc3339(d.created_at),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionOut {
    pub id: String,
    pub name: Option<String>,
    pub full_name: Option<String>,
    pub description: Option<String>,
    pub team_id: &'static str,
    pub destination: DestinationOut,
    pub source: SourceOut,
    #[schema(value_type = Vec<Object>)]
    pub rules: Value,
    /// Hookyard's addition: the topic patterns it subscribes to (`null`: every request).
    pub topics: Option<Vec<String>>,
    pub disabled_at: Option<String>,
    pub paused_at: Option<String>,
    pub updated_at: String,
    pub created_at: String,
}

pub fn connection(c: &Connection, s: &Source, d: &Destination, public_url: &str) -> ConnectionOut {
    ConnectionOut {
        id: c.id.clone(),
        name: c.name.clone(),
        full_name: Some(match &c.name {
            Some(n) => format!("{} -> {}", s.name, n),
            None => format!("{} -> {}", s.name, d.name),
        }),
        description: c.description.clone(),
        team_id: TEAM_ID,
        destination: destination(d),
        source: source(s, public_url),
        rules: serde_json::to_value(&c.rules).unwrap_or(Value::Array(vec![])),
        topics: c.topics.clone(),
        disabled_at: time(c.disabled_at),
        paused_at: time(c.paused_at),
        updated_at: rfc3339(c.updated_at),
        created_at: rfc3339(c.created_at),
    }
}

/// The request data embedded in requests and events (`include=data`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestData {
    pub path: String,
    pub query: Option<String>,
    #[schema(value_type = Object)]
    pub parsed_query: Value,
    #[schema(value_type = Object)]
    pub headers: Value,
    /// JSON bodies as JSON, others as text; a body that is not UTF-8 is shown in
    /// base64 (`body_encoding` says which).
    #[schema(value_type = Object)]
    pub body: Value,
    /// Hookyard's addition: `base64` when `body` is the base64 of a body that is
    /// not UTF-8, else `utf8`.
    pub body_encoding: &'static str,
    pub is_large_payload: bool,
}

pub fn request_data(r: &RequestRecord) -> Option<RequestData> {
    let body = r.body.as_ref()?;
    let (body_value, body_encoding) = match serde_json::from_slice::<Value>(body) {
        Ok(v) => (v, "utf8"),
        Err(_) => match std::str::from_utf8(body) {
            Ok(text) => (Value::String(text.to_owned()), "utf8"),
            Err(_) => (
                Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
                "base64",
            ),
        },
    };
    let headers = header_object(&r.headers);
    Some(RequestData {
        path: r.path.clone(),
        query: (!r.query.is_empty()).then(|| r.query.clone()),
        parsed_query: parse_query(&r.query),
        headers: Value::Object(headers),
        body: body_value,
        body_encoding,
        is_large_payload: false,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestOut {
    pub id: String,
    pub team_id: &'static str,
    pub verified: Option<bool>,
    pub original_event_data_id: Option<String>,
    pub rejection_cause: Option<String>,
    pub ingest_priority: Option<String>,
    pub ingested_at: Option<String>,
    pub source_id: String,
    pub events_count: Option<i64>,
    pub cli_events_count: Option<i64>,
    pub ignored_count: Option<i64>,
    pub method: String,
    /// Hookyard's addition: the path after `/e/<source>` (without the body that
    /// `data` carries).
    pub path: String,
    /// Hookyard's addition: what the request is about (`invoice.created`), when known.
    pub topic: Option<String>,
    pub body_size: i64,
    pub updated_at: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<RequestData>,
}

pub fn request(r: &RequestRecord) -> RequestOut {
    RequestOut {
        id: r.id.clone(),
        team_id: TEAM_ID,
        verified: r.verified,
        original_event_data_id: Some(r.id.clone()),
        rejection_cause: r.rejection_cause.map(|c| c.as_str().to_owned()),
        ingest_priority: Some("NORMAL".into()),
        ingested_at: Some(rfc3339(r.received_at)),
        source_id: r.source_id.clone(),
        events_count: Some(r.events_count),
        cli_events_count: Some(0),
        ignored_count: Some(r.ignored_count),
        method: r.method.clone(),
        path: r.path.clone(),
        topic: r.topic.clone(),
        body_size: r.body_size,
        updated_at: rfc3339(r.updated_at),
        created_at: rfc3339(r.created_at),
        data: request_data(r),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    pub id: String,
    pub team_id: &'static str,
    /// The connection's id (Hookdeck's historical name for connections).
    pub webhook_id: String,
    pub source_id: String,
    pub destination_id: String,
    pub event_data_id: String,
    pub request_id: String,
    pub attempts: i64,
    pub last_attempt_at: Option<String>,
    pub next_attempt_at: Option<String>,
    pub response_status: Option<i64>,
    pub error_code: Option<String>,
    pub status: String,
    pub successful_at: Option<String>,
    pub cli_id: Option<String>,
    /// Hookyard's addition: when it was muted (no more automatic attempts).
    pub muted_at: Option<String>,
    pub updated_at: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<RequestData>,
}

pub fn event(e: &Event, data: Option<RequestData>) -> EventOut {
    let pending = matches!(
        e.status,
        crate::model::EventStatus::Queued | crate::model::EventStatus::Scheduled
    );
    EventOut {
        id: e.id.clone(),
        team_id: TEAM_ID,
        webhook_id: e.connection_id.clone(),
        source_id: e.source_id.clone(),
        destination_id: e.destination_id.clone(),
        event_data_id: e.request_id.clone(),
        request_id: e.request_id.clone(),
        attempts: e.attempts,
        last_attempt_at: time(e.last_attempt_at),
        next_attempt_at: if pending {
            time(e.next_attempt_at)
        } else {
            None
        },
        response_status: e.response_status,
        error_code: e.error_code.clone(),
        status: e.status.as_str().to_owned(),
        successful_at: time(e.successful_at),
        cli_id: None,
        muted_at: time(e.muted_at),
        updated_at: rfc3339(e.updated_at),
        created_at: rfc3339(e.created_at),
        data,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptOut {
    pub id: String,
    pub team_id: &'static str,
    pub event_id: String,
    pub destination_id: String,
    pub response_status: Option<i64>,
    pub attempt_number: Option<i64>,
    pub trigger: Option<String>,
    pub error_code: Option<String>,
    /// Our addition: the error in words (connection refused, timed out…).
    pub error_message: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub body: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub response_headers: Option<Value>,
    pub requested_url: Option<String>,
    pub http_method: Option<String>,
    pub bulk_retry_id: Option<String>,
    pub status: String,
    pub successful_at: Option<String>,
    pub delivered_at: Option<String>,
    pub responded_at: Option<String>,
    pub delivery_latency: Option<i64>,
    pub response_latency: Option<i64>,
    pub updated_at: String,
    pub created_at: String,
}

pub fn attempt(a: &Attempt) -> AttemptOut {
    let successful = a.status == crate::model::AttemptStatus::Successful;
    let finished = a.created_at + a.duration_ms;
    AttemptOut {
        id: a.id.clone(),
        team_id: TEAM_ID,
        event_id: a.event_id.clone(),
        destination_id: a.destination_id.clone(),
        response_status: a.response_status,
        attempt_number: Some(a.attempt_number),
        trigger: Some(a.trigger.as_str().to_owned()),
        error_code: a.error_code.clone(),
        error_message: a.error_message.clone(),
        body: a.response_body.as_ref().map(|b| {
            serde_json::from_str::<Value>(b)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| Value::String(b.clone()))
        }),
        response_headers: a.response_headers.as_ref().map(|h| {
            Value::Object(
                h.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )
        }),
        requested_url: a.requested_url.clone(),
        http_method: a.http_method.clone(),
        bulk_retry_id: a.bulk_retry_id.clone(),
        status: a.status.as_str().to_owned(),
        successful_at: successful.then(|| rfc3339(finished)),
        delivered_at: Some(rfc3339(a.created_at)),
        responded_at: a.response_status.map(|_| rfc3339(finished)),
        delivery_latency: Some(a.duration_ms),
        response_latency: a.response_status.map(|_| a.duration_ms),
        updated_at: rfc3339(finished),
        created_at: rfc3339(a.created_at),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IgnoredEventOut {
    pub id: String,
    pub team_id: &'static str,
    pub webhook_id: String,
    pub cause: String,
    pub request_id: String,
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
    pub created_at: String,
}

pub fn ignored(i: &IgnoredEvent) -> IgnoredEventOut {
    IgnoredEventOut {
        id: i.id.clone(),
        team_id: TEAM_ID,
        webhook_id: i.connection_id.clone(),
        cause: i.cause.clone(),
        request_id: i.request_id.clone(),
        meta: i.meta.clone(),
        created_at: rfc3339(i.created_at),
    }
}

/// A body as JSON text: as it is when it is UTF-8, else base64 (`encoding` says so).
#[derive(Debug, Serialize, ToSchema)]
pub struct RawBody {
    pub body: String,
    /// `utf8` or `base64`.
    pub encoding: &'static str,
}

pub fn raw_body(bytes: &[u8]) -> RawBody {
    match std::str::from_utf8(bytes) {
        Ok(s) => RawBody {
            body: s.to_owned(),
            encoding: "utf8",
        },
        Err(_) => RawBody {
            body: base64::engine::general_purpose::STANDARD.encode(bytes),
            encoding: "base64",
        },
    }
}
