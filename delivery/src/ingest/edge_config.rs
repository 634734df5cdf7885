//! `GET /edge/config`: the edge Worker fetches its source configuration here, so
//! a source created, disabled or given a new secret through the API reaches the
//! edge without anyone running `hookyard edge config`.
//!
//! The request is signed with `edge.batch_secret` (401 otherwise: the answer holds
//! verification secrets), and so is the answer, which the Worker checks before
//! using it. The `ETag` is the configuration's version; a Worker that already has
//! it gets `304`, signed over that `ETag`. The encoded configuration is kept for
//! [`MEMO_TTL`], so many isolates asking at once read the sources once.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hookyard_core::edge::{
    sign_config_answer, verify_config_request, VersionedConfig, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};

use crate::clock::now_ms;
use crate::error::ApiError;
use crate::ingest::edge_sources::{edge_config, EdgeConfigError};
use crate::state::AppState;

/// How long an encoded configuration is served again before the sources are
/// read anew; part of the time a change takes to reach the edge.
pub const MEMO_TTL: Duration = Duration::from_secs(1);

/// The configuration as served: its version and its JSON.
pub struct Encoded {
    version: String,
    body: Vec<u8>,
}

pub type Memo = moka::sync::Cache<(), Arc<Encoded>>;

pub fn memo() -> Memo {
    moka::sync::Cache::builder()
        .max_capacity(1)
        .time_to_live(MEMO_TTL)
        .build()
}

async fn encoded(st: &AppState) -> Result<Arc<Encoded>, ApiError> {
    if let Some(e) = st.edge_config.get(&()) {
        return Ok(e);
    }
    let config = edge_config(&st.store, &st.config)
        .await
        .map_err(|e| match e {
            EdgeConfigError::Store(e) => ApiError::Unavailable(format!("sources unavailable: {e}")),
            invalid @ EdgeConfigError::Verification { .. } => {
                ApiError::Internal(invalid.to_string())
            }
        })?;
    let encoding =
        |e: serde_json::Error| ApiError::Internal(format!("encoding the configuration: {e}"));
    let versioned = VersionedConfig::new(config).map_err(encoding)?;
    let body = serde_json::to_vec(&versioned).map_err(encoding)?;
    let e = Arc::new(Encoded {
        version: versioned.version,
        body,
    });
    st.edge_config.insert((), e.clone());
    Ok(e)
}

pub async fn serve(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let secret = st.config.edge.batch_secret.as_str();
    if secret.is_empty() {
        return Err(ApiError::Custom(
            StatusCode::UNAUTHORIZED,
            "this gateway serves no edge configuration: set edge.batch_secret".into(),
        ));
    }
    let header_text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now_secs = now_ms() / 1000;
    verify_config_request(
        [secret],
        header_text(TIMESTAMP_HEADER),
        header_text(SIGNATURE_HEADER),
        now_secs,
    )
    .map_err(|e| {
        ApiError::Custom(
            StatusCode::UNAUTHORIZED,
            format!("configuration request refused: {e}"),
        )
    })?;

    let served = encoded(&st).await?;
    let etag = format!("\"{}\"", served.version);
    let unchanged = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == etag);
    let (status, body) = if unchanged {
        (StatusCode::NOT_MODIFIED, Vec::new())
    } else {
        (StatusCode::OK, served.body.clone())
    };
    // A 304 is signed over the ETag it confirms, a 200 over its body.
    let signed: &[u8] = if unchanged { etag.as_bytes() } else { &body };
    let signature = sign_config_answer(secret, now_secs, signed);

    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    let value = |s: &str| {
        HeaderValue::from_str(s).map_err(|e| ApiError::Internal(format!("header value: {e}")))
    };
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::ETAG, value(&etag)?);
    h.insert(TIMESTAMP_HEADER, value(&now_secs.to_string())?);
    h.insert(SIGNATURE_HEADER, value(&signature)?);
    Ok(response)
}
