//! The source configuration the edge Worker admits with (served at `/edge/config`,
//! or pinned in its `HOOKYARD_SOURCES` secret): every source's methods, size limit,
//! custom response and verification, from the store.

use std::sync::Arc;
use std::time::Duration;

use hookyard_core::edge::{EdgeConfig, EdgeCustomResponse, EdgeSource, VersionedConfig};
use hookyard_core::verify::Verification;

use crate::config::Config;
use crate::model::{Source, DEFAULT_ALLOWED_METHODS};
use crate::store::{Direction, PageQuery, SourceFilter, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum EdgeConfigError {
    #[error("reading sources: {0}")]
    Store(#[from] StoreError),
    #[error("encoding the configuration: {0}")]
    Encoding(#[from] serde_json::Error),
    #[error("source {name:?} has an invalid verification: {error}")]
    Verification {
        name: String,
        error: hookyard_core::verify::ConfigError,
    },
}

/// One source as the Worker sees it.
pub fn edge_source(s: &Source) -> Result<EdgeSource, EdgeConfigError> {
    let verification = s
        .verification
        .as_ref()
        .map(Verification::from_json)
        .transpose()
        .map_err(|error| EdgeConfigError::Verification {
            name: s.name.clone(),
            error,
        })?;
    Ok(EdgeSource {
        allowed_http_methods: match &s.allowed_http_methods {
            Some(m) => m.clone(),
            None => DEFAULT_ALLOWED_METHODS
                .iter()
                .map(|m| m.to_string())
                .collect(),
        },
        max_body_bytes: s.max_body_bytes.map(|n| n.max(0) as u64),
        custom_response: s.custom_response.as_ref().map(|c| EdgeCustomResponse {
            content_type: c.content_type.mime().to_owned(),
            body: c.body.clone(),
        }),
        verification,
        disabled: s.disabled_at.is_some(),
    })
}

/// Every source in the store, as the Worker's configuration.
pub async fn edge_config(store: &Store, cfg: &Config) -> Result<EdgeConfig, EdgeConfigError> {
    let mut out = EdgeConfig {
        max_body_bytes: cfg.ingest.max_body_bytes as u64,
        disabled_source_status: cfg.ingest.disabled_source_status,
        max_batch_bytes: cfg.edge.max_batch_bytes as u64,
        sources: Default::default(),
    };
    let mut next = None;
    loop {
        let q = PageQuery {
            limit: 250,
            dir: Direction::Asc,
            next: next.take(),
            ..Default::default()
        };
        let page = store.list_sources(&SourceFilter::default(), &q).await?;
        // A broker source takes no HTTP: unknown to the edge, refused there.
        for s in page.models.iter().filter(|s| !s.kind.is_broker()) {
            out.sources.insert(s.name.clone(), edge_source(s)?);
        }
        match page.next {
            Some(n) if !page.models.is_empty() => next = Some(n),
            _ => break,
        }
    }
    Ok(out)
}

/// How long an encoded configuration is served again before the sources are
/// read anew; part of the time a change takes to reach the edge.
pub const MEMO_TTL: Duration = Duration::from_secs(1);

/// The configuration as `/edge/config` serves it: its version and its JSON.
pub struct Encoded {
    pub version: String,
    pub body: Vec<u8>,
}

/// The last [`Encoded`] configuration, for [`MEMO_TTL`]: every isolate of the
/// Worker asks, and most ask for the same thing.
pub type Memo = moka::sync::Cache<(), Arc<Encoded>>;

pub fn memo() -> Memo {
    moka::sync::Cache::builder()
        .max_capacity(1)
        .time_to_live(MEMO_TTL)
        .build()
}

/// The encoded configuration, from `memo` when it is there.
pub async fn encoded(
    store: &Store,
    cfg: &Config,
    memo: &Memo,
) -> Result<Arc<Encoded>, EdgeConfigError> {
    if let Some(e) = memo.get(&()) {
        return Ok(e);
    }
    let versioned = VersionedConfig::new(edge_config(store, cfg).await?)?;
    let e = Arc::new(Encoded {
        body: serde_json::to_vec(&versioned)?,
        version: versioned.version,
    });
    memo.insert((), e.clone());
    Ok(e)
}
