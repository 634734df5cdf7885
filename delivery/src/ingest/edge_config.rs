//! `GET /edge/config`: the edge Worker fetches its source configuration here, so
//! a source created, disabled or given a new secret through the API reaches the
//! edge without anyone running `hookyard edge config`.
//!
//! The request is signed with `edge.batch_secret` (401 otherwise: the answer holds
//! verification secrets), and so is the answer, which the Worker checks before
//! using it. The `ETag` is the configuration's version; a Worker that already has
//! it gets `304`, signed over that `ETag`. The encoded configuration is kept for
//! a second ([`crate::ingest::edge_sources::MEMO_TTL`]), so many isolates asking at
//! once read the sources once.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hookyard_core::edge::{
    sign_config_answer, verify_config_request, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};

use crate::clock::now_ms;
use crate::error::ApiError;
use crate::ingest::edge_sources::{encoded, EdgeConfigError};
use crate::state::AppState;

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

    let served = encoded(&st.store, &st.config, &st.edge_config)
        .await
        .map_err(|e| match e {
            EdgeConfigError::Store(e) => ApiError::Unavailable(format!("sources unavailable: {e}")),
            other => ApiError::Internal(other.to_string()),
        })?;
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
