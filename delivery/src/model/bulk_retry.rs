//! A bulk retry (Hookdeck's `/bulk/events/retry`, `/bulk/requests/retry` and
//! `/bulk/ignored-events/retry`) and the query it runs.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One bulk retry and how far it got.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkRetry {
    pub id: String,
    /// What it retries, and which.
    pub query: BulkQuery,
    /// Matching records (events, requests or ignored events) when it was created.
    pub estimated_count: i64,
    /// Records looked at so far.
    pub processed_count: i64,
    /// Of those, retried: events queued for a new attempt (the others were
    /// mid-attempt or no longer matched), requests routed again, ignored
    /// events whose connection took the request this time.
    pub retried_count: i64,
    /// Last record id looked at (ids sort by creation).
    pub cursor: Option<String>,
    pub cancelled_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a bulk retry retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkKind {
    Events,
    Requests,
    IgnoredEvents,
}

impl BulkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BulkKind::Events => "events",
            BulkKind::Requests => "requests",
            BulkKind::IgnoredEvents => "ignored_events",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            BulkKind::Events,
            BulkKind::Requests,
            BulkKind::IgnoredEvents,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A bulk retry's query, of its kind.
#[derive(Debug, Clone, PartialEq)]
pub enum BulkQuery {
    Events(EventQuery),
    Requests(RequestQuery),
    IgnoredEvents(IgnoredEventQuery),
}

impl BulkQuery {
    pub fn kind(&self) -> BulkKind {
        match self {
            BulkQuery::Events(_) => BulkKind::Events,
            BulkQuery::Requests(_) => BulkKind::Requests,
            BulkQuery::IgnoredEvents(_) => BulkKind::IgnoredEvents,
        }
    }

    /// The query as JSON, as stored and shown.
    pub fn to_json(&self) -> serde_json::Result<Value> {
        match self {
            BulkQuery::Events(q) => serde_json::to_value(q),
            BulkQuery::Requests(q) => serde_json::to_value(q),
            BulkQuery::IgnoredEvents(q) => serde_json::to_value(q),
        }
    }

    /// Reads a stored query of `kind`.
    pub fn from_json(kind: BulkKind, v: Value) -> serde_json::Result<Self> {
        Ok(match kind {
            BulkKind::Events => BulkQuery::Events(serde_json::from_value(v)?),
            BulkKind::Requests => BulkQuery::Requests(serde_json::from_value(v)?),
            BulkKind::IgnoredEvents => BulkQuery::IgnoredEvents(serde_json::from_value(v)?),
        })
    }
}

/// Which requests a bulk retry routes again: Hookdeck's request query (the
/// fields Hookyard can answer; any other is refused by name), with `body` /
/// `headers` / `path` / `parsed_query` matched with the filter language.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<OneOrMany<String>>,
    /// `accepted` or `rejected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection_cause: Option<OneOrMany<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<OneOrMany<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// `{ "gte": …, "lte": … }` (RFC 3339) on when the request was received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingested_at: Option<TimeRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parsed_query: Option<Value>,
}

/// Which ignored events a bulk retry takes (Hookdeck's ignored-event query).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoredEventQuery {
    /// `FILTERED`, `DISABLED`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<OneOrMany<String>>,
    /// Connection ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<OneOrMany<String>>,
    /// Only ignored events of connections whose rules run this transformation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transformation_id: Option<String>,
}

/// Which events a bulk retry takes: Hookdeck's event query, plus `issue_id`, and
/// `body` / `headers` / `path` / `parsed_query` matched with the filter language.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<OneOrMany<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<OneOrMany<String>>,
    /// Connection ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_id: Option<String>,
    /// An exact status, a list, or `{ "gte": 500, "lte": 599 }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<StatusMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<OneOrMany<String>>,
    /// `{ "gte": "2026-01-01T00:00:00Z", "lte": … }` (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<TimeRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parsed_query: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StatusMatch {
    One(i64),
    Many(Vec<i64>),
    Range(Range<i64>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range<T> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gte: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lte: Option<T>,
}

pub type TimeRange = Range<String>;
