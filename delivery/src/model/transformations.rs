//! Transformations (user components) and their executions; the request a
//! transformation reads and returns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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

/// The request a transformation reads and returns (what is delivered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    /// Base64 in JSON.
    #[serde(with = "b64")]
    #[schema(value_type = String)]
    pub body: Vec<u8>,
}

/// Bodies as base64 in JSON (they are bytes, not always UTF-8).
mod b64 {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD
            .decode(s.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}
