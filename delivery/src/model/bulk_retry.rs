//! A bulk retry (Hookdeck's `/bulk/events/retry`) and the event query it runs.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One bulk retry and how far it got.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkRetry {
    pub id: String,
    pub query: EventQuery,
    /// Matching events when it was created.
    pub estimated_count: i64,
    /// Events looked at so far.
    pub processed_count: i64,
    /// Of those, queued for a new attempt (the others were mid-attempt or no
    /// longer matched).
    pub retried_count: i64,
    /// Last event id looked at.
    pub cursor: Option<String>,
    pub cancelled_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
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
