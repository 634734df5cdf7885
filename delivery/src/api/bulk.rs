//! `/bulk/events/retry`: retry every event a query matches (Hookdeck's bulk
//! retry): plan, create, progress, cancel.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use hookyard_core::id::IdKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{parse_field, JsonBody, PageParams, Paginated, QueryParams};
use crate::bulk_retry::CompiledQuery;
use crate::clock::{new_id, now_ms, rfc3339};
use crate::error::ApiError;
use crate::model::{BulkRetry, EventQuery};
use crate::state::AppState;
use crate::store::Store;

/// Events looked at per step of an operation.
const STEP: i64 = 500;

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkRetryOut {
    pub id: String,
    pub team_id: &'static str,
    #[schema(value_type = Object)]
    pub query: EventQuery,
    pub created_at: String,
    pub updated_at: String,
    pub cancelled_at: Option<String>,
    pub completed_at: Option<String>,
    pub estimated_batch: i64,
    pub estimated_count: i64,
    pub processed_batch: i64,
    /// Events queued for a new attempt so far.
    pub completed_count: i64,
    pub in_progress: bool,
    pub progress: f64,
    pub failed_count: i64,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

fn view(b: &BulkRetry) -> BulkRetryOut {
    let done = b.completed_at.is_some() || b.cancelled_at.is_some();
    BulkRetryOut {
        id: b.id.clone(),
        team_id: super::views::TEAM_ID,
        query: b.query.clone(),
        created_at: rfc3339(b.created_at),
        updated_at: rfc3339(b.updated_at),
        cancelled_at: b.cancelled_at.map(rfc3339),
        completed_at: b.completed_at.map(rfc3339),
        estimated_batch: (b.estimated_count + STEP - 1) / STEP,
        estimated_count: b.estimated_count,
        processed_batch: (b.processed_count + STEP - 1) / STEP,
        completed_count: b.retried_count,
        in_progress: !done,
        progress: if b.completed_at.is_some() {
            1.0
        } else if b.estimated_count == 0 {
            0.0
        } else {
            (b.processed_count as f64 / b.estimated_count as f64).min(1.0)
        },
        failed_count: 0,
        kind: "retry_event",
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRetryIn {
    /// Which events: `status`, `webhook_id`, `source_id`, `destination_id`,
    /// `issue_id`, `response_status` (a status, a list or `{gte, lte}`),
    /// `error_code`, `created_at: {gte, lte}`, and filter-language patterns on
    /// `body`, `headers`, `path`, `parsed_query`.
    #[schema(value_type = Object)]
    pub query: Value,
}

fn compile(v: Value) -> Result<(EventQuery, CompiledQuery), ApiError> {
    let q: EventQuery = parse_field("query", v)?;
    let compiled = q
        .compile()
        .map_err(|e| ApiError::Unprocessable(format!("query.{e}")))?;
    Ok((q, compiled))
}

/// How many events the query matches now (scanning bodies if it filters on them).
async fn estimate(store: &Store, q: &CompiledQuery) -> Result<i64, ApiError> {
    if !q.needs_requests() {
        return Ok(store.count_events(&q.sql).await?);
    }
    let mut n = 0;
    let mut after: Option<String> = None;
    loop {
        let page = store.events_after(&q.sql, after.as_deref(), STEP).await?;
        for e in &page {
            if let Some(req) = store.get_request(&e.request_id, true).await? {
                n += i64::from(q.matches_request(&req));
            }
        }
        if (page.len() as i64) < STEP {
            return Ok(n);
        }
        after = page.last().map(|e| e.id.clone());
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Plan {
    pub estimated_batch: i64,
    pub estimated_count: i64,
    pub progress: f64,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanParams {
    /// The query as JSON (`?query={"status":"FAILED"}`).
    pub query: Option<String>,
}

#[utoipa::path(get, path = "/bulk/events/retry/plan", tag = "bulk",
    params(PlanParams),
    responses((status = 200, body = Plan), (status = 422, description = "invalid query")))]
/// How many events a bulk retry with this query would retry, without retrying.
pub async fn plan(
    State(st): State<Arc<AppState>>,
    QueryParams(p): QueryParams<PlanParams>,
) -> Result<Json<Plan>, ApiError> {
    let v: Value = match p.query.as_deref() {
        None | Some("") => Value::Object(Default::default()),
        Some(s) => serde_json::from_str(s)
            .map_err(|e| ApiError::Unprocessable(format!("query is not JSON: {e}")))?,
    };
    let (_, compiled) = compile(v)?;
    let n = estimate(st.store.as_ref(), &compiled).await?;
    Ok(Json(Plan {
        estimated_batch: (n + STEP - 1) / STEP,
        estimated_count: n,
        progress: 0.0,
    }))
}

#[utoipa::path(post, path = "/bulk/events/retry", tag = "bulk", request_body = BulkRetryIn,
    responses((status = 200, body = BulkRetryOut), (status = 422, description = "invalid query")))]
pub async fn create(
    State(st): State<Arc<AppState>>,
    JsonBody(input): JsonBody<BulkRetryIn>,
) -> Result<Json<BulkRetryOut>, ApiError> {
    let (query, compiled) = compile(input.query)?;
    let estimated_count = estimate(st.store.as_ref(), &compiled).await?;
    let now = now_ms();
    let b = BulkRetry {
        id: new_id(IdKind::Bulk),
        query,
        estimated_count,
        processed_count: 0,
        retried_count: 0,
        cursor: None,
        cancelled_at: None,
        completed_at: None,
        created_at: now,
        updated_at: now,
    };
    st.store.insert_bulk_retry(&b).await?;
    st.signals.notify(crate::signals::Signal::BulkRetry);
    Ok(Json(view(&b)))
}

#[utoipa::path(get, path = "/bulk/events/retry", tag = "bulk", params(PageParams),
    responses((status = 200, description = "A page of bulk retries")))]
pub async fn list(
    State(st): State<Arc<AppState>>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Paginated<BulkRetryOut>>, ApiError> {
    let q = page.to_query()?;
    let page = st.store.list_bulk_retries(&q).await?;
    Ok(Json(Paginated::from_page(page, &q, |b| view(&b))))
}

#[utoipa::path(get, path = "/bulk/events/retry/{id}", tag = "bulk",
    responses((status = 200, body = BulkRetryOut), (status = 404, description = "no such bulk retry")))]
pub async fn retrieve(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<BulkRetryOut>, ApiError> {
    let b = st
        .store
        .get_bulk_retry(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("bulk retry", &id))?;
    Ok(Json(view(&b)))
}

#[utoipa::path(post, path = "/bulk/events/retry/{id}/cancel", tag = "bulk",
    responses((status = 200, body = BulkRetryOut), (status = 404, description = "no such bulk retry")))]
/// Stops an unfinished bulk retry; events already queued stay queued.
pub async fn cancel(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<BulkRetryOut>, ApiError> {
    let b = st
        .store
        .cancel_bulk_retry(&id, now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("bulk retry", &id))?;
    Ok(Json(view(&b)))
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/bulk/events/retry", get(list).post(create))
        .route("/bulk/events/retry/plan", get(plan))
        .route("/bulk/events/retry/{id}", get(retrieve))
        .route("/bulk/events/retry/{id}/cancel", post(cancel))
}
