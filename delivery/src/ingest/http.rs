//! `ANY /e/{source}[/{path}]`: where providers send webhooks.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hookyard_core::envelope::Envelope;
use hookyard_core::id::IdKind;
use hookyard_core::ingest::{split_ingest_path, AdmissionRules, IngestPath, Refusal};
use hookyard_core::verify::{SignedRequest, Verification};

use crate::clock::{new_id, now_ms};
use crate::error::ApiError;
use crate::ingest::body::{receive, BodyError, Budget, Received};
use crate::ingest::committer::CommitError;
use crate::model::{NewRequest, Source, DEFAULT_ALLOWED_METHODS};
use crate::state::AppState;
use crate::telemetry;

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

/// Admits the webhook (`hookyard_core::ingest`, the rules the edge Worker applies),
/// commits it, and only then answers. A refused webhook is answered with the
/// refusal and not stored.
pub async fn ingest(
    State(st): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // The raw URI, not axum's `Path`: that would percent-decode (and refuse bytes
    // that are not UTF-8), and the path must reach the destination as sent.
    let IngestPath {
        source: source_name,
        forwarded: path,
    } = split_ingest_path(uri.path())?;
    let source = st
        .catalog
        .source_by_name(source_name)
        .await?
        .ok_or_else(|| Refusal::UnknownSource(source_name.to_owned()))?;
    if source.kind.is_broker() {
        return Err(ApiError::Conflict(format!(
            "source {:?} is consumed from {} and takes no HTTP requests",
            source.name,
            source.kind.type_name()
        )));
    }
    let verification = stored_verification(&source)?;
    let rules = admission_rules(&st, &source, verification.as_ref());

    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    rules.admit_before_body(method.as_str(), declared)?;

    // Room for this body until it is committed (held to the end of the handler),
    // taken as its bytes arrive: what a Content-Length announces costs nothing.
    let budget = Budget {
        room: &st.ingest_budget,
        total_kib: st.ingest_budget_kib,
        wait: Duration::from_millis(st.config.ingest.budget_wait_ms),
        idle_ms: st.config.server.body_read_timeout_ms,
    };
    let received = receive(body, &rules, &budget)
        .await
        .inspect_err(|e| match e {
            BodyError::TimedOut { .. } => telemetry::ingest_body_refused("timeout"),
            BodyError::Busy => telemetry::ingest_body_refused("busy"),
            _ => {}
        })?;
    // The room stays held until the commit has answered (end of the handler).
    let Received {
        bytes: body,
        room: _room,
    } = received;

    let headers = header_pairs(&headers);
    // Twilio signs the URL it called: this gateway's public URL plus the path.
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("{}{path_and_query}", st.public_url.trim_end_matches('/'));
    rules.admit_body(&SignedRequest {
        url: &url,
        headers: &headers,
        body: &body,
        now_secs: now_ms() / 1000,
    })?;

    let envelope = Envelope {
        id: new_id(IdKind::Request),
        source: source.name.clone(),
        received_at_ms: now_ms(),
        method: method.as_str().to_owned(),
        path: path.to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        headers,
        body,
    };
    let request_id = envelope.id.clone();
    st.committer
        .commit(NewRequest {
            envelope,
            source_id: source.id.clone(),
            verified: None,
            rejection_cause: None,
            route: None,
            topic: None,
            dedup_key: None,
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
    Ok(accepted(&source, &request_id))
}

/// The source's verification, parsed. It was validated when the source was
/// written, so one that does not parse is our fault, not the provider's.
fn stored_verification(source: &Source) -> Result<Option<Verification>, ApiError> {
    source
        .verification
        .as_ref()
        .map(Verification::from_json)
        .transpose()
        .map_err(|e| {
            ApiError::Internal(format!(
                "source {:?} has an invalid verification: {e}",
                source.name
            ))
        })
}

/// [`DEFAULT_ALLOWED_METHODS`] in the form a source's own list has.
static DEFAULT_METHODS: LazyLock<Vec<String>> =
    LazyLock::new(|| DEFAULT_ALLOWED_METHODS.map(String::from).to_vec());

/// The stored source as admission sees it; the gateway's settings fill in what
/// the source leaves unset.
fn admission_rules<'a>(
    st: &AppState,
    source: &'a Source,
    verification: Option<&'a Verification>,
) -> AdmissionRules<'a> {
    AdmissionRules {
        source: &source.name,
        allowed_methods: match &source.allowed_http_methods {
            Some(list) => list.as_slice(),
            None => &DEFAULT_METHODS,
        },
        max_body_bytes: source
            .max_body_bytes
            .map(|l| l.max(0) as u64)
            .unwrap_or(st.config.ingest.max_body_bytes as u64),
        verification,
        disabled: source.disabled_at.is_some(),
        disabled_status: st.config.ingest.disabled_source_status,
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
