//! `/events`: one request on its way through one connection.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};

use super::views::{self, raw_body, EventOut, RawBody};
use super::{IncludeParams, PageParams, Paginated, SearchQuery};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::model::{Event, EventQuery};
use crate::state::AppState;
use crate::store::{RetryOutcome, SortColumn};

/// The sort orders of event lists besides `created_at`.
const EVENT_SORTS: [SortColumn; 1] = [SortColumn::LastAttemptAt];

#[utoipa::path(get, path = "/events", tag = "events",
    params(EventQuery, PageParams, IncludeParams),
    responses((status = 200, description = "A page of events"),
              (status = 422, description = "a parameter is unknown or its value invalid")))]
/// Events, newest first; filters as Hookdeck's (lists, operators on numbers and
/// times, JSON patterns on content, `search_term`), `order_by=last_attempt_at`,
/// `include=data`.
pub async fn list(
    State(st): State<Arc<AppState>>,
    search: SearchQuery<EventQuery>,
) -> Result<Json<Paginated<EventOut>>, ApiError> {
    page(&st, search).await.map(Json)
}

/// A page of the events a search query matches, as the API shows them.
pub async fn page(
    st: &AppState,
    search: SearchQuery<EventQuery>,
) -> Result<Paginated<EventOut>, ApiError> {
    let q = search.page.to_query_sorted(&EVENT_SORTS)?;
    let compiled = search
        .filters
        .compile()
        .map_err(|e| ApiError::Unprocessable(format!("query parameter {e}")))?;
    let page = crate::query::search::events(&st.store, &compiled, &q).await?;
    if !search.include_data {
        return Ok(Paginated::from_page(page, &q, |e| views::event(&e, None)));
    }
    // The data an event delivers: its transformed request, else its request.
    let request_ids: Vec<String> = page.models.iter().map(|e| e.request_id.clone()).collect();
    let event_ids: Vec<String> = page.models.iter().map(|e| e.id.clone()).collect();
    let requests = st.store.requests_by_ids(&request_ids).await?;
    let mut transformed = st.store.transformed_requests(&event_ids).await?;
    Ok(Paginated::from_page(page, &q, |e| {
        let data = requests.get(&e.request_id).and_then(|r| {
            let mut r = r.clone();
            if let Some(t) = transformed.remove(&e.id) {
                r.deliver_as(t);
            }
            views::request_data(&r)
        });
        views::event(&e, data)
    }))
}

async fn load(st: &AppState, id: &str) -> Result<Event, ApiError> {
    st.store
        .get_event(id)
        .await?
        .ok_or_else(|| ApiError::not_found("event", id))
}

#[utoipa::path(get, path = "/events/{id}", tag = "events",
    responses((status = 200, body = EventOut), (status = 404, description = "no such event")))]
pub async fn retrieve(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<EventOut>, ApiError> {
    let e = load(&st, &id).await?;
    let req = st.store.delivered_request(&e).await?;
    let data = req.as_ref().and_then(views::request_data);
    Ok(Json(views::event(&e, data)))
}

#[utoipa::path(get, path = "/events/{id}/raw_body", tag = "events",
    responses((status = 200, body = RawBody)))]
pub async fn raw(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<RawBody>, ApiError> {
    let e = load(&st, &id).await?;
    let req = st
        .store
        .delivered_request(&e)
        .await?
        .ok_or_else(|| ApiError::not_found("request", &e.request_id))?;
    Ok(Json(raw_body(req.body.as_deref().unwrap_or_default())))
}

#[utoipa::path(post, path = "/events/{id}/retry", tag = "events",
    responses((status = 200, body = EventOut), (status = 404, description = "no such event")))]
/// Queues a manual attempt now, whatever the event's status, unless an attempt
/// is under way (422: retrying then would deliver it twice at once).
pub async fn retry(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<EventOut>, ApiError> {
    let event = load(&st, &id).await?;
    if event.error_code.as_deref() == Some("TRANSFORMATION_FAILED") {
        // The event has no transformed request to send: retrying it would deliver
        // what the transformation was there to rewrite.
        return Err(ApiError::Unprocessable(format!(
            "event {id:?} failed in its transformation; fix the transformation, then \
             retry its request (POST /requests/{}/retry) to transform it again",
            event.request_id
        )));
    }
    match st.store.retry_event(&id, now_ms()).await? {
        RetryOutcome::Queued(e) => {
            st.signals.notify(crate::signals::Signal::Dispatch);
            Ok(Json(views::event(&e, None)))
        }
        RetryOutcome::InFlight { lease_until } => Err(ApiError::Unprocessable(format!(
            "event {id:?} is being delivered right now; retry it once that attempt ends \
             (at the latest {})",
            crate::clock::rfc3339(lease_until)
        ))),
        RetryOutcome::NotFound => Err(ApiError::not_found("event", &id)),
    }
}

#[utoipa::path(put, path = "/events/{id}/mute", tag = "events",
    responses((status = 200, body = EventOut), (status = 404, description = "no such event")))]
/// Stops the event's automatic retries (an attempt under way still finishes but
/// no longer changes it); an undelivered event shows as FAILED with `muted_at`
/// set. A manual or bulk retry unmutes it.
pub async fn mute(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<EventOut>, ApiError> {
    let e = st
        .store
        .mute_event(&id, now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("event", &id))?;
    Ok(Json(views::event(&e, None)))
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/events", get(list))
        .route("/events/{id}", get(retrieve))
        .route("/events/{id}/raw_body", get(raw))
        .route("/events/{id}/retry", post(retry))
        .route("/events/{id}/mute", put(mute))
}
