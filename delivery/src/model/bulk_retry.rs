//! A bulk retry (Hookdeck's `/bulk/events/retry`) and the event query it runs.

use super::EventQuery;

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
