//! Bulk retries (Hookdeck's): `/bulk/events/retry` retries every event a query
//! matches, `/bulk/requests/retry` routes every matching request again through
//! its source's connections as they are now, `/bulk/ignored-events/retry`
//! routes the request of every matching ignored event again through the
//! connection that ignored it. Each: plan, create, list, retrieve, cancel.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use hookyard_core::id::IdKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::query::time_bounds;
use super::{parse_field, JsonBody, PageParams, Paginated, QueryParams, SearchQuery};
use crate::clock::{new_id, now_ms, rfc3339};
use crate::error::ApiError;
use crate::model::{
    values, BulkKind, BulkQuery, BulkRetry, EventQuery, Flag, IgnoredEventQuery, OneOrMany,
    RequestQuery, TimeMatch,
};
use crate::state::AppState;
use crate::store::{BulkRetryFilter, Store};

/// Records looked at per step of an operation (the worker's step).
const STEP: i64 = 500;

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkRetryOut {
    pub id: String,
    pub team_id: &'static str,
    #[schema(value_type = Object)]
    pub query: Value,
    pub created_at: String,
    pub updated_at: String,
    pub cancelled_at: Option<String>,
    pub completed_at: Option<String>,
    pub estimated_batch: i64,
    pub estimated_count: i64,
    pub processed_batch: i64,
    /// Retried so far: events queued for a new attempt, requests routed again,
    /// ignored events that made an event this time.
    pub completed_count: i64,
    pub in_progress: bool,
    pub progress: f64,
    pub failed_count: i64,
    /// `retry_event`, `retry_request` or `retry_ignored_event`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

fn type_name(kind: BulkKind) -> &'static str {
    match kind {
        BulkKind::Events => "retry_event",
        BulkKind::Requests => "retry_request",
        BulkKind::IgnoredEvents => "retry_ignored_event",
    }
}

fn view(b: &BulkRetry) -> BulkRetryOut {
    let done = b.completed_at.is_some() || b.cancelled_at.is_some();
    BulkRetryOut {
        id: b.id.clone(),
        team_id: super::views::TEAM_ID,
        query: b.query.to_json().unwrap_or(Value::Null),
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
        kind: type_name(b.query.kind()),
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestBulkRetryIn {
    /// Which requests: `id`, `status` (`accepted`/`rejected`), `rejection_cause`,
    /// `source_id`, `verified`, `ingested_at: {gte, lte}`, and filter-language
    /// patterns on `body`, `headers`, `path`, `parsed_query`.
    #[schema(value_type = Object)]
    pub query: Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IgnoredEventBulkRetryIn {
    /// Which ignored events: `cause`, `webhook_id`, `transformation_id`.
    #[schema(value_type = Object)]
    pub query: Value,
}

/// Parses and checks a query of `kind`; a 422 names the failing field.
fn compile(kind: BulkKind, v: Value) -> Result<BulkQuery, ApiError> {
    let bad = |e: crate::bulk_retry::QueryError| ApiError::Unprocessable(format!("query.{e}"));
    Ok(match kind {
        BulkKind::Events => {
            let q: EventQuery = parse_field("query", v)?;
            q.compile().map_err(bad)?;
            BulkQuery::Events(Box::new(q))
        }
        BulkKind::Requests => {
            let q: RequestQuery = parse_field("query", v)?;
            q.compile().map_err(bad)?;
            BulkQuery::Requests(Box::new(q))
        }
        BulkKind::IgnoredEvents => {
            let q: IgnoredEventQuery = parse_field("query", v)?;
            q.check().map_err(bad)?;
            BulkQuery::IgnoredEvents(q)
        }
    })
}

/// How many records the query matches now (scanning bodies if it filters on them).
async fn estimate(store: &Store, query: &BulkQuery) -> Result<i64, ApiError> {
    let bad = |e: crate::bulk_retry::QueryError| ApiError::Unprocessable(format!("query.{e}"));
    match query {
        BulkQuery::Events(q) => estimate_events(store, &q.compile().map_err(bad)?).await,
        BulkQuery::Requests(q) => {
            let c = q.compile().map_err(bad)?;
            estimate_requests(store, &c).await
        }
        BulkQuery::IgnoredEvents(q) => {
            let sel = q.selection(store).await?;
            Ok(store.count_ignored_matching(&sel).await?)
        }
    }
}

/// How many of these requests (an id once per record that has it) pass the
/// query's content terms: their bodies read in one go, not one query each.
async fn matching<F>(
    store: &Store,
    q: &crate::bulk_retry::Compiled<F>,
    request_ids: Vec<String>,
) -> Result<i64, ApiError> {
    let requests = store.requests_by_ids(&request_ids).await?;
    Ok(request_ids
        .iter()
        .filter(|id| requests.get(*id).is_some_and(|r| q.matches_request(r)))
        .count() as i64)
}

async fn estimate_events(
    store: &Store,
    q: &crate::bulk_retry::CompiledQuery,
) -> Result<i64, ApiError> {
    if !q.needs_requests() {
        return Ok(store.count_events(&q.sql).await?);
    }
    let mut n = 0;
    let mut after: Option<String> = None;
    loop {
        let page = store.events_after(&q.sql, after.as_deref(), STEP).await?;
        n += matching(
            store,
            q,
            page.iter().map(|e| e.request_id.clone()).collect(),
        )
        .await?;
        if (page.len() as i64) < STEP {
            return Ok(n);
        }
        after = page.last().map(|e| e.id.clone());
    }
}

async fn estimate_requests(
    store: &Store,
    q: &crate::bulk_retry::CompiledRequestQuery,
) -> Result<i64, ApiError> {
    let sql = &q.sql;
    if !q.needs_requests() {
        return Ok(store.count_requests_matching(sql).await?);
    }
    let mut n = 0;
    let mut after: Option<String> = None;
    loop {
        let page = store.requests_after(sql, after.as_deref(), STEP).await?;
        n += matching(store, q, page.iter().map(|r| r.id.clone()).collect()).await?;
        if (page.len() as i64) < STEP {
            return Ok(n);
        }
        after = page.last().map(|r| r.id.clone());
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

async fn plan_of(st: &AppState, kind: BulkKind, p: PlanParams) -> Result<Json<Plan>, ApiError> {
    let v: Value = match p.query.as_deref() {
        None | Some("") => Value::Object(Default::default()),
        Some(s) => serde_json::from_str(s)
            .map_err(|e| ApiError::Unprocessable(format!("query is not JSON: {e}")))?,
    };
    let q = compile(kind, v)?;
    let n = estimate(st.store.as_ref(), &q).await?;
    Ok(Json(Plan {
        estimated_batch: (n + STEP - 1) / STEP,
        estimated_count: n,
        progress: 0.0,
    }))
}

async fn create_of(
    st: &AppState,
    kind: BulkKind,
    v: Value,
) -> Result<Json<BulkRetryOut>, ApiError> {
    let query = compile(kind, v)?;
    let estimated_count = estimate(st.store.as_ref(), &query).await?;
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BulkListParams {
    /// Bulk retry ids.
    #[param(value_type = Option<Vec<String>>)]
    pub id: Option<OneOrMany<String>>,
    /// `true`: only unfinished ones; `false`: only finished or cancelled ones.
    #[param(value_type = Option<bool>)]
    pub in_progress: Option<Flag>,
    /// RFC 3339 time or operators (`created_at[gte]=…`; `[any]` on the others).
    #[param(value_type = Option<Object>, style = DeepObject, explode)]
    pub created_at: Option<TimeMatch>,
    #[param(value_type = Option<Object>, style = DeepObject, explode)]
    pub cancelled_at: Option<TimeMatch>,
    #[param(value_type = Option<Object>, style = DeepObject, explode)]
    pub completed_at: Option<TimeMatch>,
}

async fn list_of(
    st: &AppState,
    kind: BulkKind,
    search: SearchQuery<BulkListParams>,
) -> Result<Json<Paginated<BulkRetryOut>>, ApiError> {
    if search.include_data {
        return Err(ApiError::Unprocessable(
            "include: bulk retries have no request data to include".into(),
        ));
    }
    let (p, q) = (search.filters, search.page.to_query()?);
    let f = BulkRetryFilter {
        kind,
        ids: values(&p.id),
        in_progress: p.in_progress.map(|f| f.0),
        created_at: time_bounds("created_at", &p.created_at)?,
        cancelled_at: time_bounds("cancelled_at", &p.cancelled_at)?,
        completed_at: time_bounds("completed_at", &p.completed_at)?,
    };
    let page = st.store.list_bulk_retries(&f, &q).await?;
    Ok(Json(Paginated::from_page(page, &q, |b| view(&b))))
}

/// The operation, if it is one of `kind` (another kind's id is not found here).
async fn retrieve_of(
    st: &AppState,
    kind: BulkKind,
    id: &str,
) -> Result<Json<BulkRetryOut>, ApiError> {
    match st.store.get_bulk_retry(id).await? {
        Some(b) if b.query.kind() == kind => Ok(Json(view(&b))),
        _ => Err(ApiError::not_found("bulk retry", id)),
    }
}

async fn cancel_of(
    st: &AppState,
    kind: BulkKind,
    id: &str,
) -> Result<Json<BulkRetryOut>, ApiError> {
    // 404 for a bulk retry of another kind, as retrieve answers.
    let _of_this_kind = retrieve_of(st, kind, id).await?;
    let b = st
        .store
        .cancel_bulk_retry(id, now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("bulk retry", id))?;
    Ok(Json(view(&b)))
}

/// One kind's five handlers, documented with their paths.
macro_rules! bulk_handlers {
    // The paths come as single tokens (`tt`), as utoipa reads them.
    ($kind:expr, $input:ident, $what:tt, [$base:tt, $plan_path:tt, $one_path:tt, $cancel_path:tt],
     $plan:ident, $create:ident, $list:ident, $retrieve:ident, $cancel:ident) => {
        #[utoipa::path(get, path = $plan_path, tag = "bulk", params(PlanParams),
            responses((status = 200, body = Plan), (status = 422, description = "invalid query")))]
        #[doc = concat!("How many ", $what, " a bulk retry with this query would retry, without retrying.")]
        pub async fn $plan(
            State(st): State<Arc<AppState>>,
            QueryParams(p): QueryParams<PlanParams>,
        ) -> Result<Json<Plan>, ApiError> {
            plan_of(&st, $kind, p).await
        }

        #[utoipa::path(post, path = $base, tag = "bulk", request_body = $input,
            responses((status = 200, body = BulkRetryOut), (status = 422, description = "invalid query")))]
        #[doc = concat!("Starts retrying the ", $what, " the query matches.")]
        pub async fn $create(
            State(st): State<Arc<AppState>>,
            JsonBody(input): JsonBody<$input>,
        ) -> Result<Json<BulkRetryOut>, ApiError> {
            create_of(&st, $kind, input.query).await
        }

        #[utoipa::path(get, path = $base, tag = "bulk", params(BulkListParams, PageParams),
            responses((status = 200, description = "A page of bulk retries")))]
        pub async fn $list(
            State(st): State<Arc<AppState>>,
            search: SearchQuery<BulkListParams>,
        ) -> Result<Json<Paginated<BulkRetryOut>>, ApiError> {
            list_of(&st, $kind, search).await
        }

        #[utoipa::path(get, path = $one_path, tag = "bulk",
            params(("id" = String, Path, description = "Bulk retry id")),
            responses((status = 200, body = BulkRetryOut), (status = 404, description = "no such bulk retry")))]
        pub async fn $retrieve(
            State(st): State<Arc<AppState>>,
            Path(id): Path<String>,
        ) -> Result<Json<BulkRetryOut>, ApiError> {
            retrieve_of(&st, $kind, &id).await
        }

        #[utoipa::path(post, path = $cancel_path, tag = "bulk",
            params(("id" = String, Path, description = "Bulk retry id")),
            responses((status = 200, body = BulkRetryOut), (status = 404, description = "no such bulk retry")))]
        #[doc = concat!("Stops an unfinished bulk retry; ", $what, " already retried stay retried.")]
        pub async fn $cancel(
            State(st): State<Arc<AppState>>,
            Path(id): Path<String>,
        ) -> Result<Json<BulkRetryOut>, ApiError> {
            cancel_of(&st, $kind, &id).await
        }
    };
}

bulk_handlers!(
    BulkKind::Events,
    BulkRetryIn,
    "events",
    [
        "/bulk/events/retry",
        "/bulk/events/retry/plan",
        "/bulk/events/retry/{id}",
        "/bulk/events/retry/{id}/cancel"
    ],
    plan,
    create,
    list,
    retrieve,
    cancel
);
bulk_handlers!(
    BulkKind::Requests,
    RequestBulkRetryIn,
    "requests",
    [
        "/bulk/requests/retry",
        "/bulk/requests/retry/plan",
        "/bulk/requests/retry/{id}",
        "/bulk/requests/retry/{id}/cancel"
    ],
    plan_requests,
    create_requests,
    list_requests,
    retrieve_requests,
    cancel_requests
);
bulk_handlers!(
    BulkKind::IgnoredEvents,
    IgnoredEventBulkRetryIn,
    "ignored events",
    [
        "/bulk/ignored-events/retry",
        "/bulk/ignored-events/retry/plan",
        "/bulk/ignored-events/retry/{id}",
        "/bulk/ignored-events/retry/{id}/cancel"
    ],
    plan_ignored,
    create_ignored,
    list_ignored,
    retrieve_ignored,
    cancel_ignored
);

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/bulk/events/retry", get(list).post(create))
        .route("/bulk/events/retry/plan", get(plan))
        .route("/bulk/events/retry/{id}", get(retrieve))
        .route("/bulk/events/retry/{id}/cancel", post(cancel))
        .route(
            "/bulk/requests/retry",
            get(list_requests).post(create_requests),
        )
        .route("/bulk/requests/retry/plan", get(plan_requests))
        .route("/bulk/requests/retry/{id}", get(retrieve_requests))
        .route("/bulk/requests/retry/{id}/cancel", post(cancel_requests))
        .route(
            "/bulk/ignored-events/retry",
            get(list_ignored).post(create_ignored),
        )
        .route("/bulk/ignored-events/retry/plan", get(plan_ignored))
        .route("/bulk/ignored-events/retry/{id}", get(retrieve_ignored))
        .route(
            "/bulk/ignored-events/retry/{id}/cancel",
            post(cancel_ignored),
        )
}
