//! `ANY /e/{source}[/{path}]`: where providers send webhooks.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hookyard_core::envelope::Envelope;
use hookyard_core::id::IdKind;
use serde::Deserialize;

use crate::clock::{new_id, now_ms};
use crate::error::ApiError;
use crate::ingest::committer::CommitError;
use crate::model::{NewRequest, RejectionCause, Source};
use crate::AppState;

#[derive(Debug, Deserialize)]
pub struct IngestPath {
    source: String,
    #[serde(default)]
    rest: Option<String>,
}

/// Header names and values as stored: lowercase names, values as text (a byte that
/// is not UTF-8 is replaced rather than refusing the webhook).
pub fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

pub async fn ingest(
    State(st): State<Arc<AppState>>,
    Path(p): Path<IngestPath>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let source = st
        .catalog
        .source_by_name(&p.source)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no source named {:?}", p.source)))?;

    let limit = source
        .max_body_bytes
        .map(|l| l.max(0) as usize)
        .unwrap_or(st.config.ingest.max_body_bytes);
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "body is larger than this source's limit of {limit} bytes"
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let body = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;

    let rejection = if source.disabled_at.is_some() {
        Some(RejectionCause::SourceDisabled)
    } else if !source.allows_method(method.as_str()) {
        Some(RejectionCause::UnsupportedHttpMethod)
    } else {
        None
    };

    let envelope = Envelope {
        id: new_id(IdKind::Request),
        source: source.name.clone(),
        received_at_ms: now_ms(),
        method: method.as_str().to_owned(),
        path: format!("/{}", p.rest.unwrap_or_default()),
        query: uri.query().unwrap_or("").to_owned(),
        headers: header_pairs(&headers),
        body: body.to_vec(),
    };
    let request_id = envelope.id.clone();
    st.committer
        .commit(NewRequest {
            envelope,
            source_id: source.id.clone(),
            verified: None,
            rejection_cause: rejection,
            route: None,
        })
        .await
        .map_err(|e| match e {
            CommitError::Store(e) => {
                ApiError::Unavailable(format!("the request could not be stored ({e}); retry"))
            }
            CommitError::Closed => {
                ApiError::Unavailable("the gateway is shutting down; retry".into())
            }
        })?;

    // Rejected requests are kept (the operator sees them) but the provider is told.
    match rejection {
        Some(RejectionCause::SourceDisabled) => Err(ApiError::Custom(
            StatusCode::from_u16(st.config.ingest.disabled_source_status)
                .unwrap_or(StatusCode::FORBIDDEN),
            format!("source {:?} is disabled", source.name),
        )),
        Some(_) => Err(ApiError::MethodNotAllowed(format!(
            "source {:?} does not accept {method} requests",
            source.name
        ))),
        None => Ok(accepted(&source, &request_id)),
    }
}

fn accepted(source: &Source, request_id: &str) -> Response {
    let id_header = HeaderValue::from_str(request_id).ok();
    let mut resp = match &source.custom_response {
        Some(custom) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, custom.content_type.mime())],
            custom.body.clone(),
        )
            .into_response(),
        None => (
            StatusCode::OK,
            axum::Json(serde_json::json!({
                "status": "SUCCESS",
                "message": "Request stored by Hookyard",
                "request_id": request_id,
            })),
        )
            .into_response(),
    };
    if let Some(v) = id_header {
        resp.headers_mut().insert("x-hookyard-request-id", v);
    }
    resp
}
