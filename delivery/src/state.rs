//! What the HTTP handlers (the API and the ingest front doors) share.

use std::sync::Arc;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::ingest::committer::Committer;
use crate::route::RulesCache;
use crate::signals::Signals;
use crate::store::Store;
use crate::transform;

/// What request handlers share.
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<Store>,
    pub catalog: Arc<Catalog>,
    pub committer: Committer,
    pub rules: Arc<RulesCache>,
    /// Wakes the workers after the API made work for them.
    pub signals: Signals,
    pub api_key: String,
    /// Dashboard sessions (signed with a key derived from `api_key`).
    pub sessions: crate::sessions::Sessions,
    pub public_url: String,
    /// Bodies being received or waiting for their commit, in KiB, taken as bytes
    /// arrive (`ingest::body`): never more than `ingest.max_inflight_bytes`.
    pub ingest_budget: Arc<tokio::sync::Semaphore>,
    /// The budget's size, in KiB.
    pub ingest_budget_kib: usize,
    /// Renders `/metrics`; `None` if the process has another metrics recorder.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// The transformation host (engine built on first use).
    pub transforms: Arc<transform::Transforms>,
    /// The edge configuration last served (`ingest::edge_config`), for a second:
    /// every isolate of the Worker asks, and most ask for the same thing.
    pub edge_config: crate::ingest::edge_sources::Memo,
    /// The destination adapters (the dispatcher's), for `PUT /destinations/{id}/test`.
    pub adapters: Arc<crate::destinations::Adapters>,
}

impl AppState {
    /// Whether `given` is the gateway's API key (compared in constant time).
    pub fn is_api_key(&self, given: &str) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(given.as_bytes().ct_eq(self.api_key.as_bytes()))
    }
}

/// The key a request presents: `Authorization: Bearer <key>`, or HTTP basic auth
/// with the key as the user name (as Hookdeck takes it).
pub fn presented_key(headers: &axum::http::HeaderMap) -> Option<String> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    if let Some(token) = v.strip_prefix("Bearer ") {
        return Some(token.trim().to_owned());
    }
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.strip_prefix("Basic ")?.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    Some(text.split(':').next().unwrap_or("").to_owned())
}
