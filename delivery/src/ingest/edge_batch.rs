//! `POST /edge/batch`: the edge Worker's queue consumer hands over envelopes here.
//!
//! The batch is authenticated by an HMAC over its timestamp and body with
//! `edge.batch_secret` (401 when unsigned, stale or wrong). Each envelope is stored
//! through the ingest committer under its own id, which makes a redelivered batch
//! harmless: the store keeps the first copy and creates its events once. The answer
//! says per envelope whether it is stored, so the Worker acks exactly those.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use hookyard_core::edge::{
    verify_batch, Batch, BatchItem, BatchResponse, ItemResult, ItemStatus, SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
};
use hookyard_core::ingest::Refusal;

use crate::clock::now_ms;
use crate::error::ApiError;
use crate::ingest::body::{receive_up_to, BodyError, Budget};
use crate::model::{NewRequest, RejectionCause};
use crate::state::AppState;

/// Header added to envelopes that came through the dead-letter queue, so the
/// operator (and the destination) can tell they arrived late.
pub const DEAD_LETTERED_HEADER: &str = "x-hookyard-dead-lettered";

pub async fn receive(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BatchResponse>, ApiError> {
    let secret = &st.config.edge.batch_secret;
    if secret.is_empty() {
        return Err(ApiError::Custom(
            StatusCode::UNAUTHORIZED,
            "this gateway takes no edge batches: set edge.batch_secret".into(),
        ));
    }
    // Nothing unauthenticated is read past the cap: a declared length over it is
    // refused before a byte is read, an undeclared one once the cap is reached.
    let cap = st.config.edge.max_batch_bytes;
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "the batch is larger than edge.max_batch_bytes ({cap} bytes): split it \
             (`hookyard edge config` tells the Worker the limit)"
        ))
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    // Charged to the in-flight budget as it arrives, like a webhook's body.
    let budget = Budget {
        room: &st.ingest_budget,
        total_kib: st.ingest_budget_kib,
        wait: Duration::from_millis(st.config.ingest.budget_wait_ms),
        idle_ms: st.config.server.body_read_timeout_ms,
    };
    let received = receive_up_to(
        body,
        cap as u64,
        || BodyError::TooLarge(Refusal::TooLarge { limit: cap as u64 }),
        &budget,
    )
    .await
    .map_err(|e| match e {
        BodyError::TooLarge(_) => too_large(),
        other => other.into(),
    })?;
    let body = &received.bytes;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    verify_batch(
        [secret.as_str()],
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        body,
        now_ms() / 1000,
    )
    .map_err(|e| ApiError::Custom(StatusCode::UNAUTHORIZED, format!("batch refused: {e}")))?;
    let batch: Batch = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the batch is not valid: {e}")))?;

    let results = futures::future::join_all(batch.messages.into_iter().map(|item| {
        let st = st.clone();
        async move { store_one(&st, item).await }
    }))
    .await;
    Ok(Json(BatchResponse { results }))
}

async fn store_one(st: &AppState, item: BatchItem) -> ItemResult {
    let id = item.envelope.id.clone();
    let failed = |message: String| ItemResult {
        id: id.clone(),
        status: ItemStatus::Failed,
        message: Some(message),
    };
    let source = match st.catalog.source_by_name(&item.envelope.source).await {
        Ok(Some(s)) => s,
        Ok(None) => return failed(format!("no source named {:?}", item.envelope.source)),
        Err(e) => return failed(format!("sources unavailable: {e}")),
    };
    let mut envelope = item.envelope;
    if item.dead_lettered {
        tracing::warn!(request = %envelope.id, "storing a dead-lettered webhook from the edge");
        crate::telemetry::edge_dead_lettered();
        if envelope.header(DEAD_LETTERED_HEADER).is_none() {
            envelope
                .headers
                .push((DEAD_LETTERED_HEADER.to_owned(), "true".to_owned()));
        }
    }
    let rejection_cause = source
        .disabled_at
        .is_some()
        .then_some(RejectionCause::SourceDisabled);
    let req = NewRequest {
        envelope,
        source_id: source.id.clone(),
        // The edge refuses what fails verification; a source without one is unverified.
        verified: source.verification.as_ref().map(|_| true),
        rejection_cause,
        route: None,
        topic: None,
        dedup_key: None,
    };
    match st.committer.commit(req).await {
        Ok(_) => ItemResult {
            id,
            status: ItemStatus::Stored,
            message: None,
        },
        Err(e) => failed(e.to_string()),
    }
}
