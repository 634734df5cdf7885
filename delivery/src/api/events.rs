//! `/events`: one request on its way through one connection.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::requests::{raw_body, RawBody};
use super::views::{self, EventOut};
use super::{ListQuery, PageParams, Paginated};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::model::{Event, EventStatus};
use crate::state::AppState;
use crate::store::{EventFilter, RetryOutcome};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventListParams {
    pub id: Option<String>,
    /// SCHEDULED, QUEUED, HOLD, SUCCESSFUL or FAILED.
    pub status: Option<String>,
    /// The connection's id.
    pub webhook_id: Option<String>,
    pub source_id: Option<String>,
    pub destination_id: Option<String>,
    /// Hookyard's addition: events of one request.
    pub request_id: Option<String>,
}

#[utoipa::path(get, path = "/events", tag = "events", params(EventListParams, PageParams),
    responses((status = 200, description = "A page of events")))]
pub async fn list(
    State(st): State<Arc<AppState>>,
    ListQuery(p, page): ListQuery<EventListParams>,
) -> Result<Json<Paginated<EventOut>>, ApiError> {
    let q = page.to_query()?;
    let status = p
        .status
        .as_deref()
        .map(|s| {
            EventStatus::parse(s).ok_or_else(|| {
                ApiError::Unprocessable(format!(
                    "status must be SCHEDULED, QUEUED, HOLD, SUCCESSFUL or FAILED, not {s:?}"
                ))
            })
        })
        .transpose()?;
    let f = EventFilter {
        id: p.id,
        status,
        connection_id: p.webhook_id,
        source_id: p.source_id,
        destination_id: p.destination_id,
        request_id: p.request_id,
        ..Default::default()
    };
    let page = st.store.list_events(&f, &q).await?;
    Ok(Json(Paginated::from_page(page, &q, |e| {
        views::event(&e, None)
    })))
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

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/events", get(list))
        .route("/events/{id}", get(retrieve))
        .route("/events/{id}/raw_body", get(raw))
        .route("/events/{id}/retry", post(retry))
}
