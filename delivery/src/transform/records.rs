//! Stored transformations and executions, and what routing with
//! transformations hands the store to write.

use std::collections::BTreeMap;

use super::invoke::HttpRequest;
use crate::store::RouteResult;

/// A transformation: a component (`module`, identified by `module_hash`) with its
/// env map and optional limits of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Transformation {
    pub id: String,
    pub name: String,
    /// The component's bytes; `None` when loaded for a listing.
    pub module: Option<Vec<u8>>,
    /// `sha256:<hex>` of the module.
    pub module_hash: String,
    pub module_size: i64,
    pub env: BTreeMap<String, String>,
    /// Memory cap of a call; `None`: the configured default.
    pub memory_limit_bytes: Option<i64>,
    /// Deadline of a call; `None`: the configured default.
    pub timeout_ms: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Transformation {
    pub fn env_pairs(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// One run of a transformation: during routing (with its request, connection
/// and event) or from the test console (`PUT /transformations/run`).
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub id: String,
    pub transformation_id: String,
    pub module_hash: String,
    pub request_id: Option<String>,
    pub event_id: Option<String>,
    pub connection_id: Option<String>,
    pub ok: bool,
    /// Why it failed (the event's failure reason).
    pub error: Option<String>,
    pub logs: Vec<String>,
    pub duration_us: i64,
    pub created_at: i64,
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

#[derive(Debug, Clone, Default)]
pub struct TransformationFilter {
    pub id: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    pub transformation_id: Option<String>,
    pub request_id: Option<String>,
    pub event_id: Option<String>,
    pub connection_id: Option<String>,
    /// `Some(false)`: only failed executions.
    pub ok: Option<bool>,
}
