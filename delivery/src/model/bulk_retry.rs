//! A bulk retry (Hookdeck's `/bulk/events/retry`, `/bulk/requests/retry` and
//! `/bulk/ignored-events/retry`) and the query it runs.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{EventQuery, OneOrMany, RequestQuery};

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
    // Boxed: the queries are large and of unequal size.
    Events(Box<EventQuery>),
    Requests(Box<RequestQuery>),
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
