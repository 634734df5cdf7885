//! `/requests`: every webhook received, as it arrived.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::views::{self, EventOut, IgnoredEventOut, RequestOut};
use super::{JsonBody, ListQuery, NoParams, PageParams, Paginated, QueryParams};
use crate::error::ApiError;
use crate::model::RequestRecord;
use crate::signals::Signal;
use crate::state::AppState;
use crate::store::{EventFilter, PageQuery, RequestFilter};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestListParams {
    pub id: Option<String>,
    pub source_id: Option<String>,
    /// `accepted` or `rejected`.
    pub status: Option<String>,
}

#[utoipa::path(get, path = "/requests", tag = "requests", params(RequestListParams, PageParams),
    responses((status = 200, description = "A page of requests")))]
pub async fn list(
    State(st): State<Arc<AppState>>,
    ListQuery(p, page): ListQuery<RequestListParams>,
) -> Result<Json<Paginated<RequestOut>>, ApiError> {
    let q = page.to_query()?;
    let rejected = match p.status.as_deref() {
        None => None,
        Some("accepted") => Some(false),
        Some("rejected") => Some(true),
        Some(other) => {
            return Err(ApiError::Unprocessable(format!(
                "status must be `accepted` or `rejected`, not {other:?}"
            )))
        }
    };
    let f = RequestFilter {
        id: p.id,
        source_id: p.source_id,
        rejected,
    };
    let page = st.store.list_requests(&f, &q).await?;
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

/// A body as JSON text: as it is when it is UTF-8, else base64 (`encoding` says so).
#[derive(Debug, Serialize, ToSchema)]
pub struct RawBody {
    pub body: String,
    /// `utf8` or `base64`.
    pub encoding: &'static str,
}

pub fn raw_body(bytes: &[u8]) -> RawBody {
    match std::str::from_utf8(bytes) {
        Ok(s) => RawBody {
            body: s.to_owned(),
            encoding: "utf8",
        },
        Err(_) => RawBody {
            body: base64::engine::general_purpose::STANDARD.encode(bytes),
            encoding: "base64",
        },
    }
}

#[utoipa::path(get, path = "/requests/{id}/raw_body", tag = "requests",
    responses((status = 200, body = RawBody)))]
pub async fn raw(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<RawBody>, ApiError> {
    let r = load(&st, &id, true).await?;
    Ok(Json(raw_body(r.body.as_deref().unwrap_or_default())))
}

#[utoipa::path(get, path = "/requests/{id}/events", tag = "requests", params(PageParams),
    responses((status = 200, description = "The events this request created")))]
pub async fn events(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    QueryParams(p): QueryParams<PageParams>,
) -> Result<Json<Paginated<EventOut>>, ApiError> {
    load(&st, &id, false).await?;
    let q = p.to_query()?;
    let f = EventFilter {
        request_id: Some(id),
        ..Default::default()
    };
    let page = st.store.list_events(&f, &q).await?;
    Ok(Json(Paginated::from_page(page, &q, |e| {
        views::event(&e, None)
    })))
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
