//! What routing decides for a request, handed to the store to write.

use super::{Execution, HttpRequest, IgnoredEvent, NewEvent, RejectionCause};

/// What routing decided for one request.
#[derive(Debug, Clone, Default)]
pub struct RouteResult {
    pub events: Vec<NewEvent>,
    pub ignored: Vec<IgnoredEvent>,
    /// Set when no event came out because of the source itself (no connection).
    pub rejection: Option<RejectionCause>,
}

/// Routing of one request whose connections transform it, computed before the
/// write transaction.
#[derive(Debug, Clone, Default)]
pub struct PreparedRoute {
    pub request_id: String,
    pub source_id: String,
    pub route: RouteResult,
    /// Events whose transformation failed: stored FAILED, `TRANSFORMATION_FAILED`.
    pub failed_events: Vec<String>,
    /// The transformed request each event delivers.
    pub event_data: Vec<(String, HttpRequest)>,
    pub executions: Vec<Execution>,
}
