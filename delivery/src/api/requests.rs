//! `/requests`: every webhook received, as it arrived.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::views::{self, EventOut, IgnoredEventOut, RawBody, RequestOut};
use super::{IncludeParams, JsonBody, NoParams, PageParams, Paginated, QueryParams, SearchQuery};
use crate::error::ApiError;
use crate::model::{EventQuery, OneOrMany, RequestQuery, RequestRecord};
use crate::signals::Signal;
use crate::state::AppState;
use crate::store::{PageQuery, SortColumn};

/// The sort orders of `GET /requests` besides `created_at`.
const REQUEST_SORTS: [SortColumn; 1] = [SortColumn::ReceivedAt];

#[utoipa::path(get, path = "/requests", tag = "requests",
    params(RequestQuery, PageParams, IncludeParams),
    responses((status = 200, description = "A page of requests"),
              (status = 422, description = "a parameter is unknown or its value invalid")))]
/// Requests, newest first; filters as Hookdeck's (lists, operators, JSON patterns
/// on content, `search_term`), `order_by=ingested_at`, `include=data`.
pub async fn list(
    State(st): State<Arc<AppState>>,
    search: SearchQuery<RequestQuery>,
) -> Result<Json<Paginated<RequestOut>>, ApiError> {
    let q = search.page.to_query_sorted(&REQUEST_SORTS)?;
    let compiled = search
        .filters
        .compile()
        .map_err(|e| ApiError::Unprocessable(format!("query parameter {e}")))?;
    let page =
        crate::query::search::requests(&st.store, &compiled, &q, search.include_data).await?;
    Ok(Json(Paginated::from_page(page, &q, |r| views::request(&r))))
}

async fn load(st: &AppState, id: &str, with_body: bool) -> Result<RequestRecord, ApiError> {
    st.store
        .get_request(id, with_body)
        .await?
        .ok_or_else(|| ApiError::not_found("request", id))
}

#[utoipa::path(get, path = "/requests/{id}", tag = "requests",
    responses((status = 200, body = RequestOut), (status = 404, description = "no such request")))]
pub async fn retrieve(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<RequestOut>, ApiError> {
    Ok(Json(views::request(&load(&st, &id, true).await?)))
}

#[utoipa::path(get, path = "/requests/{id}/raw_body", tag = "requests",
    responses((status = 200, body = RawBody)))]
pub async fn raw(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<RawBody>, ApiError> {
    let r = load(&st, &id, true).await?;
    Ok(Json(views::raw_body(r.body.as_deref().unwrap_or_default())))
}

#[utoipa::path(get, path = "/requests/{id}/events", tag = "requests",
    params(EventQuery, PageParams, IncludeParams),
    responses((status = 200, description = "The events this request created"),
              (status = 422, description = "a parameter is unknown or its value invalid")))]
/// The events this request created, filtered as `GET /events` is.
pub async fn events(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    mut search: SearchQuery<EventQuery>,
) -> Result<Json<Paginated<EventOut>>, ApiError> {
    load(&st, &id, false).await?;
    if search.filters.request_id.is_some() {
        return Err(ApiError::Unprocessable(
            "request_id: this list is of the request in the path already".into(),
        ));
    }
    search.filters.request_id = Some(OneOrMany::One(id));
    super::events::page(&st, search).await.map(Json)
}

#[utoipa::path(get, path = "/requests/{id}/ignored_events", tag = "requests",
    responses((status = 200, description = "Connections that did not take this request, and why")))]
pub async fn ignored(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    _: QueryParams<NoParams>,
) -> Result<Json<Paginated<IgnoredEventOut>>, ApiError> {
    load(&st, &id, false).await?;
    let list = st.store.ignored_events_of_request(&id).await?;
    let q = PageQuery {
        limit: list.len().max(1) as i64,
        ..Default::default()
    };
    let page = crate::store::Page {
        count: list.len() as i64,
        models: list,
        next: None,
        prev: None,
    };
    Ok(Json(Paginated::from_page(page, &q, |i| views::ignored(&i))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryRequestIn {
    /// Connections to run the request through again (e.g. ones that ignored it).
    pub webhook_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RetryRequestOut {
    pub request: RequestOut,
    pub events: Vec<EventOut>,
}

#[utoipa::path(post, path = "/requests/{id}/retry", tag = "requests", request_body = RetryRequestIn,
    responses((status = 200, body = RetryRequestOut), (status = 404, description = "no such request"),
              (status = 422, description = "a connection is not of this request's source")))]
/// Runs the request through the given connections again, with all their rules
/// (filter, transformation, delay): each that lets it through gets a new event.
pub async fn retry(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<RetryRequestIn>,
) -> Result<Json<RetryRequestOut>, ApiError> {
    let req = load(&st, &id, true).await?;
    if input.webhook_ids.is_empty() {
        return Err(ApiError::Unprocessable(
            "webhook_ids must name at least one connection".into(),
        ));
    }
    let all = st.store.connections_of_source(&req.source_id).await?;
    let mut chosen = Vec::new();
    for wid in &input.webhook_ids {
        match all.iter().find(|c| &c.id == wid) {
            Some(c) => chosen.push(c.clone()),
            None => {
                return Err(ApiError::Unprocessable(format!(
                    "webhook_ids: {wid:?} is not a connection of this request's source"
                )))
            }
        }
    }
    let events =
        crate::route::retry_request(&st.store, &st.rules, &st.transforms, req, chosen).await?;
    st.signals.notify(Signal::Dispatch);
    let req = load(&st, &id, true).await?;
    Ok(Json(RetryRequestOut {
        request: views::request(&req),
        events: events.iter().map(|e| views::event(e, None)).collect(),
    }))
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/requests", get(list))
        .route("/requests/{id}", get(retrieve))
        .route("/requests/{id}/raw_body", get(raw))
        .route("/requests/{id}/events", get(events))
        .route("/requests/{id}/ignored_events", get(ignored))
        .route("/requests/{id}/retry", post(retry))
}
